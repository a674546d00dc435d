//! The experiment file as written and its validation: serde reads the
//! text into the `*File` structs here, which mirror the keys and refuse
//! unknown ones (with their path); [`ExperimentFile::validate`] then checks
//! every value and builds the typed [`Experiment`], collecting a
//! [`FieldError`] per problem instead of stopping at the first. Owns the
//! wording of validation errors and the checks that keep an experiment
//! within the bounds `schedule` sets (length, interval, fire count); the
//! typed schema lives in `experiment`, whose tests exercise this module
//! through the public parse (the tests of the bounds are here).

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use serde::Deserialize;

use self::steady_state::SteadyStateFile;
use crate::cron::Cron;
use crate::experiment::{
    human, longest as longest_of, Experiment, FieldError, Mode, OnFailure, Targets,
};
use crate::fault::{Fault, Keys, FAULT_KINDS};
use crate::schedule::{
    Days, Monkey, Schedule, Window, MAX_FIRES, MAX_LENGTH, MAX_MONKEY_FIRES, MIN_INTERVAL,
};

mod steady_state;

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct ExperimentFile {
    name: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    seed: Option<u64>,
    targets: TargetsFile,
    schedule: ScheduleFile,
    #[serde(default)]
    duration: Option<String>,
    #[serde(default)]
    max_active: Option<u32>,
    #[serde(default)]
    on_failure: OnFailure,
    #[serde(default)]
    fault: Option<FaultFile>,
    #[serde(default)]
    faults: Option<Vec<FaultFile>>,
    #[serde(default)]
    steady_state: Option<SteadyStateFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct TargetsFile {
    #[serde(default)]
    names: Option<Vec<String>>,
    #[serde(default)]
    labels: Option<BTreeMap<String, String>>,
    #[serde(default)]
    annotations: Option<BTreeMap<String, String>>,
    #[serde(default)]
    origin: Option<String>,
    #[serde(default)]
    mode: Option<Mode>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct ScheduleFile {
    #[serde(default)]
    at: Option<Vec<String>>,
    #[serde(default)]
    every: Option<String>,
    #[serde(default)]
    cron: Option<String>,
    #[serde(default)]
    monkey: Option<MonkeyFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct MonkeyFile {
    mean_time_between: String,
    #[serde(default)]
    window: Option<String>,
    #[serde(default)]
    days: Option<StringOrList>,
    #[serde(default)]
    min_gap: Option<String>,
}

/// One fault as written: `kind` and the keys that kind takes, which
/// [`crate::fault`] reads (each kind its own).
#[derive(Deserialize)]
struct FaultFile(BTreeMap<String, serde_json::Value>);

/// `days: weekdays` or `days: [mon, tue]`.
pub(crate) enum StringOrList {
    One(String),
    List(Vec<String>),
}

impl<'de> Deserialize<'de> for StringOrList {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = StringOrList;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a name like weekdays or a list like [mon, tue]")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<StringOrList, E> {
                Ok(StringOrList::One(v.to_string()))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<StringOrList, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element::<String>()? {
                    items.push(item);
                }
                Ok(StringOrList::List(items))
            }
        }
        d.deserialize_any(V)
    }
}

/// Collects problems while validation goes on, so all are reported.
#[derive(Default)]
pub(crate) struct Problems(pub(crate) Vec<FieldError>);

impl Problems {
    pub(crate) fn add(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.0.push(FieldError {
            path: path.into(),
            message: message.into(),
        });
    }

    /// Parses a humantime duration, recording an error if it is malformed,
    /// longer than [`MAX_LENGTH`] or (unless `zero_ok`) zero.
    pub(crate) fn duration(&mut self, path: &str, text: &str, zero_ok: bool) -> Option<Duration> {
        match humantime::parse_duration(text.trim()) {
            Ok(d) if d.is_zero() && !zero_ok => {
                self.add(path, format!("{text:?} is zero; give a positive duration"));
                None
            }
            Ok(d) if d > MAX_LENGTH => {
                self.add(
                    path,
                    format!(
                        "{} is longer than {}, the most jolt allows for an experiment and any duration or offset in it",
                        human(d),
                        human(MAX_LENGTH)
                    ),
                );
                None
            }
            Ok(d) => Some(d),
            Err(e) => {
                self.add(
                    path,
                    format!("{text:?} is not a duration ({e}); write e.g. 100ms, 30s, 1m30s, 2h"),
                );
                None
            }
        }
    }
}

/// The shortest gap that keeps fires over `length` to `max`: `length /
/// max` rounded up to a whole second (to a millisecond below one second).
fn shortest_gap(length: Duration, max: u64) -> Duration {
    let ns = length.as_nanos().div_ceil(u128::from(max.max(1)));
    let unit: u128 = if ns >= 1_000_000_000 {
        1_000_000_000
    } else {
        1_000_000
    };
    let ns = ns.div_ceil(unit) * unit;
    Duration::from_nanos(u64::try_from(ns).unwrap_or(u64::MAX))
}

pub(crate) fn valid_name(name: &str) -> bool {
    jolt_runtime::names::dns_label(name)
}

impl ExperimentFile {
    /// Checks every value and builds the typed experiment, or returns
    /// every problem found.
    pub(crate) fn validate(self) -> Result<Experiment, Vec<FieldError>> {
        let mut p = Problems::default();
        if !valid_name(&self.name) {
            p.add(
                "name",
                format!(
                    "{:?} is not a valid name (use 1-63 lowercase letters, digits and '-', starting and ending with a letter or digit)",
                    self.name
                ),
            );
        }
        let targets = self.targets.validate(&mut p);
        let duration = self
            .duration
            .as_deref()
            .and_then(|d| p.duration("duration", d, false));
        let schedule = self
            .schedule
            .validate(&mut p, duration, self.duration.is_some());
        if self.max_active == Some(0) {
            p.add("max-active", "0 would never inject; use 1 or more");
        }
        let faults = validate_faults(self.fault, self.faults, &mut p);
        let longest = faults.as_deref().and_then(longest_of);
        let length = match (&schedule, duration, &faults) {
            (_, Some(d), _) => Some(d),
            (Some(Schedule::At(offsets)), None, Some(f)) => Some(
                offsets
                    .last()
                    .copied()
                    .unwrap_or_default()
                    .saturating_add(longest_of(f).unwrap_or_default()),
            ),
            _ => None,
        };
        let steady_state = self.steady_state.map(|s| s.validate(&mut p, length));

        let (Some(targets), Some(schedule), Some(faults)) = (targets, schedule, faults) else {
            return Err(p.0);
        };
        let duration_path = match faults.len() {
            1 => "fault.duration".to_string(),
            _ => {
                let i = faults
                    .iter()
                    .position(|f| f.duration() == longest)
                    .unwrap_or(0);
                format!("faults[{i}].duration")
            }
        };
        if let (None, Schedule::At(offsets), Some(fd)) = (duration, &schedule, longest) {
            let last = offsets.last().copied().unwrap_or_default();
            if last.saturating_add(fd) > MAX_LENGTH {
                p.add(
                    duration_path.clone(),
                    format!(
                        "{} after the last offset ({}) ends the experiment after {}, the most jolt allows; shorten it or fire earlier",
                        human(fd),
                        human(last),
                        human(MAX_LENGTH)
                    ),
                );
            }
        }
        if let (Some(limit), Some(fd)) = (duration, longest) {
            if fd > limit {
                p.add(
                    duration_path,
                    format!(
                        "{} is longer than the experiment ({})",
                        human(fd),
                        human(limit)
                    ),
                );
            }
        }
        if !p.0.is_empty() {
            return Err(p.0);
        }
        Ok(Experiment {
            name: self.name,
            description: self.description,
            seed: self.seed,
            targets,
            schedule,
            duration,
            max_active: self.max_active.unwrap_or(1),
            on_failure: self.on_failure,
            faults,
            steady_state: steady_state.flatten(),
        })
    }
}

/// Checks a selector's origin: `joltd`, `podman`, `jolt`, `containerd` or
/// `containerd/NAMESPACE`.
fn check_origin(origin: &str) -> Result<(), String> {
    match origin.split_once('/') {
        None if ["joltd", "podman", "jolt", "containerd"].contains(&origin) => Ok(()),
        Some(("containerd", ns)) if !ns.is_empty() && !ns.contains('/') => Ok(()),
        _ => Err(format!(
            "{origin:?} is not an origin; use joltd, podman, jolt, containerd or containerd/NAMESPACE"
        )),
    }
}

impl TargetsFile {
    fn validate(self, p: &mut Problems) -> Option<Targets> {
        let before = p.0.len();
        match &self.names {
            Some(names) if names.is_empty() => p.add(
                "targets.names",
                "an empty list selects nothing; name a container or remove the key",
            ),
            Some(names) => {
                for (i, n) in names.iter().enumerate() {
                    if n.trim().is_empty() {
                        p.add(format!("targets.names[{i}]"), "empty container name");
                    }
                }
            }
            None => {}
        }
        match &self.labels {
            Some(labels) if labels.is_empty() => p.add(
                "targets.labels",
                "an empty map selects nothing; give a label like app: web or remove the key",
            ),
            Some(labels) if labels.keys().any(|k| k.trim().is_empty()) => {
                p.add("targets.labels", "a label key is empty")
            }
            _ => {}
        }
        match &self.annotations {
            Some(a) if a.is_empty() => p.add(
                "targets.annotations",
                "an empty map selects nothing; give an annotation like io.kubernetes.cri.sandbox-namespace: shop or remove the key",
            ),
            Some(a) if a.keys().any(|k| k.trim().is_empty()) => p.add(
                "targets.annotations",
                "an annotation key is empty; give the annotation's full name, like io.kubernetes.cri.container-name",
            ),
            _ => {}
        }
        if let Some(origin) = &self.origin {
            if let Err(why) = check_origin(origin) {
                p.add("targets.origin", why);
            }
        }
        if self.names.is_none()
            && self.labels.is_none()
            && self.annotations.is_none()
            && self.origin.is_none()
        {
            p.add(
                "targets",
                "selects nothing (no names, labels, annotations or origin); give at least one",
            );
        }
        let mode = self.mode.unwrap_or(Mode::One);
        match mode {
            Mode::Fixed(0) => p.add(
                "targets.mode.fixed",
                "0 selects nothing; use 1 or more (or mode: all)",
            ),
            Mode::Percent(0) => p.add(
                "targets.mode.percent",
                "0 selects nothing; use 1-100 (or mode: all)",
            ),
            Mode::Percent(n) if n > 100 => {
                p.add("targets.mode.percent", format!("{n} is outside 0-100"))
            }
            _ => {}
        }
        (p.0.len() == before).then(|| Targets {
            names: self.names.unwrap_or_default(),
            labels: self.labels.unwrap_or_default(),
            annotations: self.annotations.unwrap_or_default(),
            origin: self.origin,
            mode,
        })
    }
}

impl ScheduleFile {
    /// `duration` is the experiment's, when given and valid
    /// (`has_duration` says whether the key is there).
    fn validate(
        self,
        p: &mut Problems,
        duration: Option<Duration>,
        has_duration: bool,
    ) -> Option<Schedule> {
        let given: Vec<&str> = [
            ("at", self.at.is_some()),
            ("every", self.every.is_some()),
            ("cron", self.cron.is_some()),
            ("monkey", self.monkey.is_some()),
        ]
        .iter()
        .filter(|(_, set)| *set)
        .map(|(k, _)| *k)
        .collect();
        if given.len() != 1 {
            let found = if given.is_empty() {
                "none".to_string()
            } else {
                given.join(" and ")
            };
            p.add(
                "schedule",
                format!("give exactly one of at, every, cron, monkey (found {found})"),
            );
            return None;
        }
        let kind = given[0];
        if kind != "at" && !has_duration {
            p.add(
                "duration",
                format!("required with schedule.{kind}: how long the experiment runs, e.g. 1h"),
            );
        }
        let too_long = |d: Duration| duration.filter(|limit| d > *limit);
        let before = p.0.len();
        let schedule = if let Some(at) = self.at {
            if at.is_empty() {
                p.add(
                    "schedule.at",
                    "an empty list never fires; give offsets like [10s, 1m30s]",
                );
            }
            let mut offsets: Vec<(usize, Duration)> = Vec::new();
            for (i, text) in at.iter().enumerate() {
                let path = format!("schedule.at[{i}]");
                let Some(d) = p.duration(&path, text, true) else {
                    continue;
                };
                if let Some(limit) = duration.filter(|limit| d >= *limit) {
                    p.add(
                        &path,
                        format!(
                            "{} is not before the end of the experiment ({})",
                            human(d),
                            human(limit)
                        ),
                    );
                } else if let Some((j, _)) = offsets.iter().find(|(_, o)| *o == d) {
                    p.add(&path, format!("{} repeats schedule.at[{j}]", human(d)));
                } else {
                    offsets.push((i, d));
                }
            }
            if at.len() as u64 > MAX_FIRES {
                p.add(
                    "schedule.at",
                    format!(
                        "{} offsets, more than the maximum of {MAX_FIRES} fires per experiment",
                        at.len()
                    ),
                );
            }
            let mut offsets: Vec<Duration> = offsets.into_iter().map(|(_, d)| d).collect();
            offsets.sort();
            Schedule::At(offsets)
        } else if let Some(every) = self.every {
            let d = p.duration("schedule.every", &every, false);
            if let Some(d) = d.filter(|d| *d < MIN_INTERVAL) {
                p.add(
                    "schedule.every",
                    format!(
                        "{} is below the minimum interval of {}",
                        human(d),
                        human(MIN_INTERVAL)
                    ),
                );
            } else if let (Some(d), Some(limit)) = (d, duration) {
                let fires = Schedule::Every(d).max_fires(limit);
                if fires > MAX_FIRES {
                    p.add(
                        "schedule.every",
                        format!(
                            "{} over {} makes {fires} fires, more than the maximum of {MAX_FIRES} per experiment; fire every {} or less often, or shorten duration",
                            human(d),
                            human(limit),
                            human(shortest_gap(limit, MAX_FIRES))
                        ),
                    );
                } else if d >= limit {
                    p.add(
                        "schedule.every",
                        format!(
                            "{} is not shorter than the experiment ({}), so it fires only once; use at: [0s] for a single fire",
                            human(d),
                            human(limit)
                        ),
                    );
                }
            }
            Schedule::Every(d.unwrap_or_default())
        } else if let Some(text) = self.cron {
            match Cron::parse(&text) {
                Ok(c) => {
                    let c = Schedule::Cron(c);
                    if let Some(limit) = duration {
                        let fires = c.max_fires(limit);
                        if fires > MAX_FIRES {
                            p.add(
                                "schedule.cron",
                                format!(
                                    "{text:?} can fire {fires} times in {}, more than the maximum of {MAX_FIRES} per experiment; fire less often or shorten duration",
                                    human(limit)
                                ),
                            );
                        }
                    }
                    c
                }
                Err(e) => {
                    p.add("schedule.cron", format!("{text:?}: {e}"));
                    return None;
                }
            }
        } else {
            let m = self.monkey?;
            let mean = p.duration(
                "schedule.monkey.mean-time-between",
                &m.mean_time_between,
                false,
            );
            let min_gap = match &m.min_gap {
                Some(t) => p.duration("schedule.monkey.min-gap", t, true),
                None => Some(Duration::ZERO),
            };
            let window = match &m.window {
                Some(t) => Window::parse(t)
                    .map_err(|e| p.add("schedule.monkey.window", format!("{t:?}: {e}")))
                    .ok(),
                None => Some(Window::ALL_DAY),
            };
            let days = match m.days {
                None => Some(Days::EVERY_DAY),
                Some(StringOrList::One(t)) => Days::parse_name(&t)
                    .map_err(|e| p.add("schedule.monkey.days", e))
                    .ok(),
                Some(StringOrList::List(list)) => Days::parse_list(&list)
                    .map_err(|(i, e)| match i {
                        Some(i) => p.add(format!("schedule.monkey.days[{i}]"), e),
                        None => p.add("schedule.monkey.days", e),
                    })
                    .ok(),
            };
            if let Some(mean) = mean.filter(|m| *m < MIN_INTERVAL) {
                p.add(
                    "schedule.monkey.mean-time-between",
                    format!(
                        "{} is below the minimum of {}",
                        human(mean),
                        human(MIN_INTERVAL)
                    ),
                );
            }
            if let (Some(mean), Some(gap)) = (mean, min_gap) {
                if gap >= mean {
                    p.add(
                        "schedule.monkey.min-gap",
                        format!(
                            "{} must be shorter than mean-time-between ({})",
                            human(gap),
                            human(mean)
                        ),
                    );
                } else if let Some(limit) = too_long(gap) {
                    p.add(
                        "schedule.monkey.min-gap",
                        format!(
                            "{} is longer than the experiment ({})",
                            human(gap),
                            human(limit)
                        ),
                    );
                }
            }
            match (mean, min_gap, window, days) {
                (Some(mean_time_between), Some(min_gap), Some(window), Some(days)) => {
                    let monkey = Schedule::Monkey(Monkey {
                        mean_time_between,
                        window,
                        days,
                        min_gap,
                    });
                    let fires = duration
                        .filter(|_| mean_time_between >= MIN_INTERVAL)
                        .map_or(0, |limit| monkey.max_fires(limit));
                    if let Some(limit) = duration.filter(|_| fires > MAX_MONKEY_FIRES) {
                        let mean = mean_time_between;
                        p.add(
                            "schedule.monkey.mean-time-between",
                            format!(
                                "{} over {} expects up to {fires} fires, more than the {MAX_MONKEY_FIRES} a monkey may expect (half the maximum of {MAX_FIRES} fires per experiment, so that chance stays below it); use {} or longer, or shorten duration",
                                human(mean),
                                human(limit),
                                // The open time is about `fires` means.
                                human(shortest_gap(
                                    mean.saturating_mul(u32::try_from(fires).unwrap_or(u32::MAX)),
                                    MAX_MONKEY_FIRES
                                ))
                            ),
                        );
                    }
                    monkey
                }
                _ => return None,
            }
        };
        (p.0.len() == before).then_some(schedule)
    }
}

impl FaultFile {
    /// Checks one fault at `prefix` (`fault`, `faults[1]`) and builds it.
    fn validate(mut self, prefix: &str, p: &mut Problems) -> Option<Fault> {
        let kind = match self.0.remove("kind") {
            Some(serde_json::Value::String(kind)) => kind,
            Some(other) => {
                p.add(
                    format!("{prefix}.kind"),
                    format!("expected text, got {}", crate::fault::params::shown(&other)),
                );
                return None;
            }
            None => {
                p.add(
                    format!("{prefix}.kind"),
                    format!("required: one of {}", FAULT_KINDS.join(", ")),
                );
                return None;
            }
        };
        let Some(allowed) = Fault::keys_of(&kind) else {
            p.add(
                format!("{prefix}.kind"),
                format!(
                    "unknown fault kind {kind:?} (expected {})",
                    FAULT_KINDS.join(", ")
                ),
            );
            return None;
        };
        let before = p.0.len();
        for key in self.0.keys().filter(|k| !allowed.contains(&k.as_str())) {
            let why = if key == "duration" && !allowed.contains(&"duration") {
                format!("{kind} cannot be undone, so it takes no duration")
            } else {
                format!(
                    "{kind} does not take {key} (it takes {})",
                    allowed.join(", ")
                )
            };
            p.add(format!("{prefix}.{key}"), why);
        }
        if p.0.len() != before {
            return None;
        }
        let mut keys = Keys::new(prefix.to_string(), kind, self.0, p);
        let fault = Fault::parse(&mut keys);
        fault.filter(|_| p.0.len() == before)
    }
}

/// `fault: {...}` or `faults: [{...}, ...]`, exactly one of them: the
/// faults each fire injects, in order. Two faults that would hold the same
/// thing in the kernel (the interface's root qdisc, the cgroup's CPU
/// limit) are refused: the second could only fail at every fire.
fn validate_faults(
    fault: Option<FaultFile>,
    faults: Option<Vec<FaultFile>>,
    p: &mut Problems,
) -> Option<Vec<Fault>> {
    let listed: Vec<(String, FaultFile)> = match (fault, faults) {
        (Some(one), None) => vec![("fault".to_string(), one)],
        (None, Some(list)) if list.is_empty() => {
            p.add("faults", "empty; list at least one fault");
            return None;
        }
        (None, Some(list)) => list
            .into_iter()
            .enumerate()
            .map(|(i, f)| (format!("faults[{i}]"), f))
            .collect(),
        (Some(_), Some(_)) => {
            p.add("faults", "give fault (one) or faults (a list), not both");
            return None;
        }
        (None, None) => {
            p.add(
                "fault",
                format!(
                    "required: what each fire injects, e.g. {{kind: pause, duration: 30s}} (kinds: {})",
                    FAULT_KINDS.join(", ")
                ),
            );
            return None;
        }
    };
    let before = p.0.len();
    let mut out: Vec<Fault> = Vec::new();
    for (prefix, file) in listed {
        if let Some(fault) = file.validate(&prefix, p) {
            if let Some(earlier) = out.iter().find(|f| f.holds() == fault.holds()) {
                p.add(
                    format!("{prefix}.kind"),
                    format!(
                        "{} and {} both need {}; list one of them (network-delay takes loss too)",
                        earlier.kind(),
                        fault.kind(),
                        fault.holds().unwrap_or_default()
                    ),
                );
            }
            out.push(fault);
        }
    }
    (p.0.len() == before).then_some(out)
}

#[cfg(test)]
mod tests {
    use crate::fault::FAULT_KINDS;
    use crate::Experiment;

    /// The one-line message for an experiment with this schedule,
    /// duration and fault, or "ok".
    fn check(schedule: &str, duration: &str, fault: &str) -> String {
        let text = format!(
            "name: x\ntargets: {{labels: {{app: web}}}}\nschedule: {schedule}\n{duration}fault: {fault}\n"
        );
        match Experiment::from_yaml_or_json(&text, "x.yaml") {
            Ok(_) => "ok".into(),
            Err(e) => e.to_string().trim_start_matches("x.yaml: ").to_string(),
        }
    }

    const KILL: &str = "{kind: kill}";

    /// The message for an experiment whose faults are `faults` (the text
    /// after `faults:`, or a whole `fault:`/`faults:` section).
    fn faults(section: &str) -> String {
        let text = format!(
            "name: x\ntargets: {{labels: {{app: web}}}}\nschedule: {{every: 1m}}\nduration: 10m\n{section}\n"
        );
        match Experiment::from_yaml_or_json(&text, "x.yaml") {
            Ok(e) => format!("ok: {}", e.faults_line()),
            Err(e) => e.to_string().trim_start_matches("x.yaml: ").to_string(),
        }
    }

    #[test]
    fn several_faults_fire_together_each_checked_at_its_own_path() {
        assert_eq!(
            faults("faults: [{kind: network-delay, latency: 100ms, duration: 1m}, {kind: cpu-throttle, cpus: 0.5, duration: 2m}]"),
            "ok: network-delay latency=100ms for 1m + cpu-throttle cpus=0.5 for 2m"
        );
        assert_eq!(
            faults("faults: [{kind: pause, duration: 1m}, {kind: cpu-throttle, cpus: 2000, duration: 2m}]"),
            "faults[1].cpus: 2000 is outside (0, 1024]; 0.5 is half of one CPU"
        );
        assert_eq!(
            faults("faults: [{kind: pause, duration: 1m}, {kind: cpu-throttle, cpus: 0.5, duration: 20m}]"),
            "faults[1].duration: 20m is longer than the experiment (10m)"
        );
        assert_eq!(
            faults("faults: [{kind: pause, duration: 1m}, {kind: pause, duration: 2m}]"),
            "faults[1].kind: pause and pause both need the cgroup's freezer; list one of them (network-delay takes loss too)"
        );
        assert_eq!(
            faults("faults: []"),
            "faults: empty; list at least one fault"
        );
        assert_eq!(
            faults("fault: {kind: kill}\nfaults: [{kind: kill}]"),
            "faults: give fault (one) or faults (a list), not both"
        );
        assert!(faults("").starts_with("fault: required: what each fire injects"));
        assert_eq!(
            faults("faults: [{duration: 1m}, {kind: 7}]"),
            format!("2 problems:\n  faults[0].kind: required: one of {}\n  faults[1].kind: expected text, got 7", FAULT_KINDS.join(", "))
        );
    }

    #[test]
    fn the_schedules_that_took_joltd_down_are_refused_naming_the_field() {
        let cases = [
            (
                check("{at: [500000000000y]}", "", KILL),
                "schedule.at[0]: 500000000000years is longer than 10years, the most jolt allows for an experiment and any duration or offset in it",
            ),
            (
                check("{at: [0s]}", "", "{kind: pause, duration: 500000000000y}"),
                "fault.duration: 500000000000years is longer than 10years, the most jolt allows for an experiment and any duration or offset in it",
            ),
            (
                check("{every: 1ms}", "duration: 1h\n", KILL),
                "schedule.every: 1ms is below the minimum interval of 100ms",
            ),
            (
                check("{every: 1ns}", "duration: 1h\n", KILL),
                "schedule.every: 1ns is below the minimum interval of 100ms",
            ),
            (
                check("{every: 1s}", "duration: 30d\n", KILL),
                "schedule.every: 1s over 30days makes 2592000 fires, more than the maximum of 1000000 per experiment; fire every 3s or less often, or shorten duration",
            ),
            (
                check("{cron: '* * * * *'}", "duration: 100000d\n", KILL),
                "duration: 273years9months12days18h57m36s is longer than 10years, the most jolt allows for an experiment and any duration or offset in it",
            ),
            (
                check("{cron: '* * * * *'}", "duration: 1000d\n", KILL),
                "schedule.cron: \"* * * * *\" can fire 1440000 times in 2years8months25days23h31m12s, more than the maximum of 1000000 per experiment; fire less often or shorten duration",
            ),
            (
                check("{monkey: {mean-time-between: 1ms}}", "duration: 1h\n", KILL),
                "schedule.monkey.mean-time-between: 1ms is below the minimum of 100ms",
            ),
            (
                check("{monkey: {mean-time-between: 100ms}}", "duration: 1d\n", KILL),
                "schedule.monkey.mean-time-between: 100ms over 1day expects up to 864000 fires, more than the 500000 a monkey may expect (half the maximum of 1000000 fires per experiment, so that chance stays below it); use 173ms or longer, or shorten duration",
            ),
            (
                check("{at: [9y]}", "", "{kind: pause, duration: 2y}"),
                "fault.duration: 2years after the last offset (9years) ends the experiment after 10years, the most jolt allows; shorten it or fire earlier",
            ),
            (
                check("{at: [0s]}", "", "{kind: network-delay, latency: 11y, duration: 1m}"),
                "fault.latency: 11years is longer than 10years, the most jolt allows for an experiment and any duration or offset in it",
            ),
        ];
        for (got, want) in cases {
            assert_eq!(got, want);
        }
    }

    #[test]
    fn schedules_up_to_the_bounds_are_accepted() {
        for (schedule, duration) in [
            ("{every: 100ms}", "duration: 10000s\n"),
            ("{every: 7s}", "duration: 7d\n"),
            ("{every: 1h}", "duration: 10y\n"),
            ("{cron: '* * * * *'}", "duration: 69d\n"),
            ("{cron: '0 9 * * *'}", "duration: 10y\n"),
            (
                "{monkey: {mean-time-between: 100ms, window: '09:00-09:01', days: [mon]}}",
                "duration: 4w\n",
            ),
            ("{monkey: {mean-time-between: 2s}}", "duration: 1d\n"),
            ("{at: [0s, 10y]}", "duration: 10y\n"),
        ] {
            let got = check(schedule, duration, KILL);
            let got = got.replace("is not before the end of the experiment (10years)", "");
            assert!(
                got == "ok" || got.starts_with("schedule.at[1]: 10years "),
                "{schedule} {duration}: {got}"
            );
        }
        assert_eq!(
            check("{at: [0s]}", "", "{kind: pause, duration: 10y}"),
            "ok"
        );
        assert_eq!(
            check("{every: 100ms}", "duration: 100001s\n", KILL),
            "schedule.every: 100ms over 1day3h46m41s makes 1000010 fires, more than the maximum of 1000000 per experiment; fire every 101ms or less often, or shorten duration"
        );
    }
}
