//! properties: the unit properties of a container's scope — what runc sets
//! (the slice, Delegate, no default dependencies, accounting), its
//! `linux.resources` as systemd's resource-control properties, and the
//! `org.systemd.property.*` annotations. Pure: D-Bus is [`super::dbus`]'s.
//!
//! Device rules go to systemd as well as to the files (see [`devices`]):
//! systemd writes a unit's device rules again at every daemon-reload, and a
//! unit without them gets `a *:* rwm` on cgroup v1.

use std::collections::HashMap;

use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType, LinuxResources};

/// A value of a unit property, in the D-Bus types systemd expects.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Bool(bool),
    U8(u8),
    I16(i16),
    U16(u16),
    I32(i32),
    U32(u32),
    I64(i64),
    U64(u64),
    F64(f64),
    Str(String),
    /// `ay`, e.g. AllowedCPUs as a bitmask.
    Bytes(Vec<u8>),
    /// `au`, the PIDs of a new scope.
    U32s(Vec<u32>),
    /// `a(ss)`, DeviceAllow: (device, access) pairs.
    Pairs(Vec<(String, String)>),
}

/// One unit property.
pub type Property = (String, Value);

/// systemd's "infinity" for limits given as uint64.
const INFINITY: u64 = u64::MAX;
/// The CFS period runc assumes when config.json gives a quota without one.
const DEFAULT_PERIOD_US: u64 = 100_000;
/// The prefix of the annotations that become unit properties.
const ANNOTATION_PREFIX: &str = "org.systemd.property.";

fn prop(name: &str, value: Value) -> Property {
    (name.to_string(), value)
}

/// The properties every container's scope starts with, as runc sets them.
pub fn scope(slice: &str, holder: u32, id: &str, unified: bool) -> Vec<Property> {
    let mut props = vec![
        prop("Description", Value::Str(format!("jolt container {id}"))),
        prop("Slice", Value::Str(slice.to_string())),
        prop("Delegate", Value::Bool(true)),
        prop("PIDs", Value::U32s(vec![holder])),
        prop("DefaultDependencies", Value::Bool(false)),
        prop("MemoryAccounting", Value::Bool(true)),
        prop("CPUAccounting", Value::Bool(true)),
        prop("TasksAccounting", Value::Bool(true)),
    ];
    props.push(if unified {
        prop("IOAccounting", Value::Bool(true))
    } else {
        prop("BlockIOAccounting", Value::Bool(true))
    });
    props
}

/// `linux.resources` as unit properties (already checked by the cgroupfs
/// core), for the unified hierarchy or v1, as runc translates them.
pub fn resources(r: &LinuxResources, unified: bool) -> Result<Vec<Property>, String> {
    let mut props = Vec::new();
    if let Some(memory) = r.memory() {
        let limit = memory.limit().unwrap_or(0);
        let name = if unified { "MemoryMax" } else { "MemoryLimit" };
        match limit {
            -1 => props.push(prop(name, Value::U64(INFINITY))),
            l if l > 0 => props.push(prop(name, Value::U64(l as u64))),
            _ => {}
        }
        if unified {
            match memory.reservation() {
                Some(-1) => props.push(prop("MemoryLow", Value::U64(INFINITY))),
                Some(l) if l > 0 => props.push(prop("MemoryLow", Value::U64(l as u64))),
                _ => {}
            }
            if let Some(swap) = swap_max(limit, memory.swap().unwrap_or(0)) {
                props.push(prop("MemorySwapMax", Value::U64(swap)));
            }
        }
    }
    if let Some(cpu) = r.cpu() {
        if let Some(shares) = cpu.shares().filter(|&s| s > 0) {
            props.push(if unified {
                prop("CPUWeight", Value::U64(cpu_weight(shares)))
            } else {
                prop("CPUShares", Value::U64(shares))
            });
        }
        let quota = cpu.quota().unwrap_or(0);
        let period = cpu.period().unwrap_or(0);
        if period > 0 {
            props.push(prop("CPUQuotaPeriodUSec", Value::U64(period)));
        }
        if quota != 0 || period != 0 {
            props.push(prop(
                "CPUQuotaPerSecUSec",
                Value::U64(quota_per_sec(quota, period)),
            ));
        }
        if unified {
            if let Some(cpus) = cpu.cpus().as_deref().filter(|c| !c.is_empty()) {
                let mask = cpu_mask(cpus).map_err(|e| format!("cpu.cpus {cpus:?}: {e}"))?;
                props.push(prop("AllowedCPUs", Value::Bytes(mask)));
            }
            if let Some(mems) = cpu.mems().as_deref().filter(|m| !m.is_empty()) {
                let mask = cpu_mask(mems).map_err(|e| format!("cpu.mems {mems:?}: {e}"))?;
                props.push(prop("AllowedMemoryNodes", Value::Bytes(mask)));
            }
        }
    }
    if let Some(pids) = r.pids() {
        match pids.limit() {
            -1 => props.push(prop("TasksMax", Value::U64(INFINITY))),
            l if l > 0 => props.push(prop("TasksMax", Value::U64(l as u64))),
            _ => {}
        }
    }
    Ok(props)
}

/// Device rules (runc's defaults appended) as systemd's DevicePolicy and
/// DeviceAllow, as runc translates them: when the rules deny every device
/// first (an allow list), `strict` with each allowed device after that —
/// `/dev/char/MAJ:MIN`, `char-NAME` for every minor of a major (its name
/// from /proc/devices, through `name_of`), `char-*` for every major; a
/// later deny drops the allowed entry it names exactly. Rules that start
/// from allowing everything (a deny list) cannot be said to systemd: no
/// property (the files hold them, as with runc). `name_of(type, major)`
/// gives /proc/devices' name for a major.
pub fn devices(
    rules: &[LinuxDeviceCgroup],
    name_of: &dyn Fn(char, i64) -> Option<String>,
) -> Vec<Property> {
    let wildcard = |n: Option<i64>| matches!(n, None | Some(-1));
    let everything = |r: &LinuxDeviceCgroup| {
        matches!(r.typ(), None | Some(LinuxDeviceType::A))
            && wildcard(r.major())
            && wildcard(r.minor())
    };
    let Some(start) = rules.iter().rposition(|r| !r.allow() && everything(r)) else {
        return Vec::new();
    };
    let mut allowed: Vec<(String, String)> = Vec::new();
    for rule in &rules[start + 1..] {
        let kind = match rule.typ() {
            Some(LinuxDeviceType::B) => 'b',
            Some(LinuxDeviceType::C) | Some(LinuxDeviceType::U) => 'c',
            // Every device of both kinds: nothing to restrict.
            _ if rule.allow() && everything(rule) => return Vec::new(),
            _ => continue,
        };
        let class = if kind == 'b' { "block" } else { "char" };
        let device = match (rule.major(), rule.minor()) {
            (major, _) if wildcard(major) => format!("{class}-*"),
            (Some(major), minor) if wildcard(minor) => match name_of(kind, major) {
                Some(name) => format!("{class}-{name}"),
                None => {
                    tracing::warn!("device major {major} ({class}) has no name in /proc/devices: not given to systemd");
                    continue;
                }
            },
            (Some(major), Some(minor)) => format!("/dev/{class}/{major}:{minor}"),
            _ => continue,
        };
        let access = rule
            .access()
            .clone()
            .filter(|a| !a.is_empty())
            .unwrap_or_else(|| "rwm".into());
        if rule.allow() {
            allowed.push((device, access));
        } else {
            allowed.retain(|(d, _)| *d != device);
        }
    }
    vec![
        prop("DevicePolicy", Value::Str("strict".into())),
        prop("DeviceAllow", Value::Pairs(allowed)),
    ]
}

/// The names /proc/devices gives majors: ('c', 136) → "pts".
pub fn parse_proc_devices(text: &str) -> HashMap<(char, i64), String> {
    let mut names = HashMap::new();
    let mut kind = None;
    for line in text.lines() {
        match line.trim() {
            "Character devices:" => kind = Some('c'),
            "Block devices:" => kind = Some('b'),
            entry => {
                if let (Some(kind), Some((major, name))) = (kind, entry.split_once(' ')) {
                    if let Ok(major) = major.trim().parse() {
                        names.insert((kind, major), name.trim().to_string());
                    }
                }
            }
        }
    }
    names
}

/// v2's memory.swap.max from the spec's memory-plus-swap limit (runc's
/// conversion): None leaves it alone.
fn swap_max(limit: i64, swap: i64) -> Option<u64> {
    match (limit, swap) {
        (_, 0) => None,
        (_, -1) | (-1, _) => Some(INFINITY),
        (limit, swap) if limit > 0 && swap >= limit => Some((swap - limit) as u64),
        _ => None,
    }
}

/// cgroup v1 cpu.shares [2, 262144] as a v2 weight [1, 10000], the
/// kernel's and runc's conversion.
fn cpu_weight(shares: u64) -> u64 {
    let shares = shares.clamp(2, 262_144);
    1 + ((shares - 2) * 9999) / 262_142
}

/// CPUQuotaPerSecUSec: the quota per second of wall time; no limit for a
/// quota of -1 or 0; rounded up to whole 10 ms, which systemd requires.
fn quota_per_sec(quota: i64, period: u64) -> u64 {
    if quota <= 0 {
        return INFINITY;
    }
    let period = if period == 0 {
        DEFAULT_PERIOD_US
    } else {
        period
    };
    let per_sec = (quota as u64).saturating_mul(1_000_000) / period;
    per_sec.div_ceil(10_000) * 10_000
}

/// A cpuset list ("0-3,8") as systemd's bitmask: byte i holds CPUs 8i to
/// 8i+7, lowest bit first.
fn cpu_mask(list: &str) -> Result<Vec<u8>, String> {
    const MAX_CPU: usize = 8192;
    let mut mask = Vec::new();
    for part in list.split(',').map(str::trim) {
        let (from, to) = match part.split_once('-') {
            Some((a, b)) => (a, b),
            None => (part, part),
        };
        let number = |s: &str| {
            s.trim()
                .parse::<usize>()
                .ok()
                .filter(|&n| n < MAX_CPU)
                .ok_or_else(|| format!("{part:?} is not a number or range below {MAX_CPU}"))
        };
        let (from, to) = (number(from)?, number(to)?);
        if from > to {
            return Err(format!("{part:?} is a range that runs backwards"));
        }
        for cpu in from..=to {
            if mask.len() <= cpu / 8 {
                mask.resize(cpu / 8 + 1, 0);
            }
            mask[cpu / 8] |= 1 << (cpu % 8);
        }
    }
    Ok(mask)
}

/// The `org.systemd.property.NAME` annotations as properties, as runc
/// reads them: the value in GVariant text ("uint64 123", "'text'", "true");
/// a time named `...Sec` (a lowercase letter before "Sec") is seconds and
/// becomes `...USec`. Sorted by name, so the order is stable.
pub fn from_annotations(annotations: &HashMap<String, String>) -> Result<Vec<Property>, String> {
    let mut props = Vec::new();
    for (key, text) in annotations {
        let Some(name) = key.strip_prefix(ANNOTATION_PREFIX) else {
            continue;
        };
        let bad = |reason: String| format!("annotation {key}={text}: {reason}");
        let mut chars = name.chars();
        if !chars.next().is_some_and(|c| c.is_ascii_uppercase())
            || !chars.all(|c| c.is_ascii_alphanumeric())
        {
            return Err(bad(format!(
                "{name:?} is not a systemd property name (a capital letter, then letters and digits)"
            )));
        }
        let value = parse_gvariant(text).map_err(bad)?;
        let seconds = name
            .strip_suffix("Sec")
            .filter(|rest| rest.ends_with(|c: char| c.is_ascii_lowercase()));
        let (name, value) = match seconds {
            Some(rest) => (
                format!("{rest}USec"),
                Value::U64(sec_to_usec(&value).map_err(bad)?),
            ),
            None => (name.to_string(), value),
        };
        props.push((name, value));
    }
    props.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(props)
}

fn sec_to_usec(value: &Value) -> Result<u64, String> {
    let seconds = match *value {
        Value::U8(n) => f64::from(n),
        Value::I16(n) => f64::from(n),
        Value::U16(n) => f64::from(n),
        Value::I32(n) => f64::from(n),
        Value::U32(n) => f64::from(n),
        Value::I64(n) => n as f64,
        Value::U64(n) => n as f64,
        Value::F64(n) => n,
        _ => return Err("a time in seconds must be a number".into()),
    };
    if !(seconds >= 0.0 && seconds.is_finite()) {
        return Err("a time in seconds must be a number of at least 0".into());
    }
    Ok((seconds * 1e6).round() as u64)
}

/// The scalar subset of GVariant's text format that unit properties use:
/// `true`/`false`, a number with an optional type word (`uint64 5`;
/// without one, an int32 or a double, as GVariant reads it), and a string
/// in single or double quotes.
pub fn parse_gvariant(text: &str) -> Result<Value, String> {
    let text = text.trim();
    match text {
        "true" => return Ok(Value::Bool(true)),
        "false" => return Ok(Value::Bool(false)),
        _ => {}
    }
    if let Some(inner) = text
        .strip_prefix('\'')
        .and_then(|t| t.strip_suffix('\''))
        .or_else(|| text.strip_prefix('"').and_then(|t| t.strip_suffix('"')))
    {
        return Ok(Value::Str(inner.to_string()));
    }
    let (word, number) = match text.split_once(char::is_whitespace) {
        Some((word, number)) => (word, number.trim()),
        None => ("", text),
    };
    let wrong = || {
        format!(
            "{text:?} is not a {} value",
            if word.is_empty() { "GVariant" } else { word }
        )
    };
    macro_rules! parsed {
        ($t:ty, $v:ident) => {
            number.parse::<$t>().map(Value::$v).map_err(|_| wrong())
        };
    }
    match word {
        "boolean" => match number {
            "true" => Ok(Value::Bool(true)),
            "false" => Ok(Value::Bool(false)),
            _ => Err(wrong()),
        },
        "byte" => parsed!(u8, U8),
        "int16" => parsed!(i16, I16),
        "uint16" => parsed!(u16, U16),
        "int32" => parsed!(i32, I32),
        "uint32" => parsed!(u32, U32),
        "int64" => parsed!(i64, I64),
        "uint64" => parsed!(u64, U64),
        "double" => parsed!(f64, F64),
        "" if number.contains(['.', 'e', 'E']) => parsed!(f64, F64),
        "" => parsed!(i32, I32),
        other => Err(format!(
            "{text:?}: jolt reads booleans, numbers (byte, int16, uint16, int32, uint32, int64, uint64, double) and quoted strings, not {other:?}"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::{
        LinuxCpuBuilder, LinuxMemoryBuilder, LinuxPidsBuilder, LinuxResourcesBuilder,
    };

    fn get<'a>(props: &'a [Property], name: &str) -> Option<&'a Value> {
        props.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    fn limits() -> LinuxResources {
        LinuxResourcesBuilder::default()
            .memory(
                LinuxMemoryBuilder::default()
                    .limit(64 << 20)
                    .swap(96 << 20)
                    .reservation(32 << 20)
                    .build()
                    .unwrap(),
            )
            .cpu(
                LinuxCpuBuilder::default()
                    .shares(512u64)
                    .quota(50_000i64)
                    .period(100_000u64)
                    .cpus("0-1,4")
                    .build()
                    .unwrap(),
            )
            .pids(LinuxPidsBuilder::default().limit(32).build().unwrap())
            .build()
            .unwrap()
    }

    #[test]
    fn v2_limits_become_resource_control_properties() {
        let props = resources(&limits(), true).unwrap();
        assert_eq!(get(&props, "MemoryMax"), Some(&Value::U64(64 << 20)));
        assert_eq!(get(&props, "MemoryLow"), Some(&Value::U64(32 << 20)));
        assert_eq!(get(&props, "MemorySwapMax"), Some(&Value::U64(32 << 20)));
        assert_eq!(get(&props, "CPUWeight"), Some(&Value::U64(20)));
        assert_eq!(
            get(&props, "CPUQuotaPerSecUSec"),
            Some(&Value::U64(500_000))
        );
        assert_eq!(
            get(&props, "CPUQuotaPeriodUSec"),
            Some(&Value::U64(100_000))
        );
        assert_eq!(
            get(&props, "AllowedCPUs"),
            Some(&Value::Bytes(vec![0b1_0011]))
        );
        assert_eq!(get(&props, "TasksMax"), Some(&Value::U64(32)));
        assert_eq!(get(&props, "MemoryLimit"), None);
    }

    #[test]
    fn v1_uses_the_legacy_names_and_leaves_cpusets_to_the_files() {
        let props = resources(&limits(), false).unwrap();
        assert_eq!(get(&props, "MemoryLimit"), Some(&Value::U64(64 << 20)));
        assert_eq!(get(&props, "CPUShares"), Some(&Value::U64(512)));
        assert_eq!(get(&props, "MemoryMax"), None);
        assert_eq!(get(&props, "AllowedCPUs"), None);
        assert_eq!(get(&props, "MemorySwapMax"), None);
    }

    #[test]
    fn minus_one_lifts_a_limit_and_zero_leaves_it() {
        let r = LinuxResourcesBuilder::default()
            .memory(
                LinuxMemoryBuilder::default()
                    .limit(-1)
                    .swap(-1)
                    .build()
                    .unwrap(),
            )
            .pids(LinuxPidsBuilder::default().limit(-1).build().unwrap())
            .cpu(LinuxCpuBuilder::default().quota(-1i64).build().unwrap())
            .build()
            .unwrap();
        let props = resources(&r, true).unwrap();
        for name in [
            "MemoryMax",
            "MemorySwapMax",
            "TasksMax",
            "CPUQuotaPerSecUSec",
        ] {
            assert_eq!(get(&props, name), Some(&Value::U64(u64::MAX)), "{name}");
        }
        let none = LinuxResourcesBuilder::default()
            .pids(LinuxPidsBuilder::default().limit(0).build().unwrap())
            .build()
            .unwrap();
        assert!(resources(&none, true).unwrap().is_empty());
    }

    #[test]
    fn quotas_round_up_to_ten_milliseconds_per_second() {
        assert_eq!(quota_per_sec(12_345, 100_000), 130_000);
        assert_eq!(quota_per_sec(20_000, 0), 200_000, "runc's default period");
        assert_eq!(quota_per_sec(200_000, 100_000), 2_000_000);
        assert_eq!(cpu_weight(2), 1);
        assert_eq!(cpu_weight(1024), 39);
        assert_eq!(cpu_weight(262_144), 10_000);
    }

    #[test]
    fn cpu_masks_are_little_endian_bytes() {
        assert_eq!(cpu_mask("0").unwrap(), vec![1]);
        assert_eq!(cpu_mask("8-9").unwrap(), vec![0, 3]);
        assert_eq!(cpu_mask("0,2-3, 7").unwrap(), vec![0b1000_1101]);
        assert!(cpu_mask("3-1").unwrap_err().contains("backwards"));
        assert!(cpu_mask("a").is_err());
        let bad = LinuxResourcesBuilder::default()
            .cpu(LinuxCpuBuilder::default().cpus("x").build().unwrap())
            .build()
            .unwrap();
        assert!(resources(&bad, true)
            .unwrap_err()
            .starts_with("cpu.cpus \"x\""));
    }

    #[test]
    fn scopes_are_delegated_without_default_dependencies() {
        let props = scope("system.slice", 42, "web", true);
        assert_eq!(
            get(&props, "Slice"),
            Some(&Value::Str("system.slice".into()))
        );
        assert_eq!(get(&props, "Delegate"), Some(&Value::Bool(true)));
        assert_eq!(
            get(&props, "DefaultDependencies"),
            Some(&Value::Bool(false))
        );
        assert_eq!(get(&props, "PIDs"), Some(&Value::U32s(vec![42])));
        assert_eq!(get(&props, "IOAccounting"), Some(&Value::Bool(true)));
        assert_eq!(
            get(&scope("s.slice", 1, "w", false), "BlockIOAccounting"),
            Some(&Value::Bool(true))
        );
    }

    fn rule(
        allow: bool,
        typ: Option<LinuxDeviceType>,
        major: Option<i64>,
        minor: Option<i64>,
        access: &str,
    ) -> LinuxDeviceCgroup {
        let mut r = LinuxDeviceCgroup::default();
        r.set_allow(allow)
            .set_typ(typ)
            .set_major(major)
            .set_minor(minor)
            .set_access(Some(access.to_string()));
        r
    }

    #[test]
    fn an_allow_list_becomes_strict_device_allow_entries() {
        let names =
            parse_proc_devices("Character devices:\n  1 mem\n136 pts\n\nBlock devices:\n  8 sd\n");
        let name_of = |k: char, m: i64| names.get(&(k, m)).cloned();
        let c = Some(LinuxDeviceType::C);
        let rules = crate::devices::with_defaults(&[
            rule(false, None, None, None, "rwm"),
            rule(true, Some(LinuxDeviceType::B), Some(8), None, "r"),
            rule(true, c, Some(1), Some(9), "rwm"),
            rule(false, c, Some(1), Some(9), "rwm"),
        ]);
        let props = devices(&rules, &name_of);
        assert_eq!(
            get(&props, "DevicePolicy"),
            Some(&Value::Str("strict".into()))
        );
        let Some(Value::Pairs(allowed)) = get(&props, "DeviceAllow") else {
            panic!("{props:?}");
        };
        let has = |d: &str, a: &str| allowed.contains(&(d.to_string(), a.to_string()));
        assert!(has("block-sd", "r"), "{allowed:?}");
        assert!(has("char-*", "m") && has("block-*", "m"), "{allowed:?}");
        assert!(has("/dev/char/1:3", "rwm"), "{allowed:?}");
        assert!(has("char-pts", "rwm"), "runc's c 136:* rwm: {allowed:?}");
        assert!(
            has("/dev/char/1:9", "rwm"),
            "the default allows urandom again: {allowed:?}"
        );
        assert_eq!(
            allowed.iter().filter(|(d, _)| d == "/dev/char/1:9").count(),
            1,
            "the config's own allow was dropped by its deny: {allowed:?}"
        );
    }

    #[test]
    fn a_deny_list_or_no_rules_give_systemd_nothing() {
        let none = |_: char, _: i64| None;
        assert!(devices(&[], &none).is_empty());
        let deny_list = [
            rule(true, None, None, None, "rwm"),
            rule(false, Some(LinuxDeviceType::C), Some(1), Some(3), "rwm"),
        ];
        assert!(devices(&deny_list, &none).is_empty());
        let open_again = [
            rule(false, None, None, None, "rwm"),
            rule(true, None, None, None, "rwm"),
        ];
        assert!(devices(&open_again, &none).is_empty());
    }

    #[test]
    fn annotations_become_properties_as_with_runc() {
        let annotations = HashMap::from([
            (
                "org.systemd.property.TimeoutStopUSec".to_string(),
                "uint64 123456789".to_string(),
            ),
            (
                "org.systemd.property.CollectMode".to_string(),
                "'inactive-or-failed'".to_string(),
            ),
            (
                "org.systemd.property.RuntimeMaxSec".to_string(),
                "2.5".to_string(),
            ),
            (
                "io.kubernetes.cri.container-name".to_string(),
                "web".to_string(),
            ),
        ]);
        let props = from_annotations(&annotations).unwrap();
        assert_eq!(
            props,
            vec![
                prop("CollectMode", Value::Str("inactive-or-failed".into())),
                prop("RuntimeMaxUSec", Value::U64(2_500_000)),
                prop("TimeoutStopUSec", Value::U64(123_456_789)),
            ]
        );
    }

    #[test]
    fn bad_annotations_name_the_key_and_the_problem() {
        let one = |k: &str, v: &str| {
            from_annotations(&HashMap::from([(
                format!("org.systemd.property.{k}"),
                v.to_string(),
            )]))
            .unwrap_err()
        };
        assert_eq!(
            one("cpuWeight", "5"),
            "annotation org.systemd.property.cpuWeight=5: \"cpuWeight\" is not a systemd property name (a capital letter, then letters and digits)"
        );
        assert!(one("CPUWeight", "uint64 x").ends_with("\"uint64 x\" is not a uint64 value"));
        assert!(one("CPUWeight", "[1, 2]").contains("jolt reads booleans, numbers"));
        assert!(one("CPUWeight", "lots").contains("\"lots\" is not a GVariant value"));
        assert!(one("TimeoutStopSec", "'x'").ends_with("a time in seconds must be a number"));
        assert!(one("TimeoutStopSec", "-1").contains("at least 0"));
        assert_eq!(parse_gvariant("boolean true"), Ok(Value::Bool(true)));
        assert_eq!(parse_gvariant("\"a b\""), Ok(Value::Str("a b".into())));
        assert_eq!(parse_gvariant("7"), Ok(Value::I32(7)));
        assert!(parse_gvariant("'").is_err());
    }
}
