//! events: a container's cgroup counters and OOM kills, as the JSON events
//! `runc events` prints (`{"type":"stats","id":...,"data":{...}}` and
//! `{"type":"oom","id":...}`), one object per line.
//!
//! It reads cgroupfs only (through cgroups-rs, and memory.stat, cpuset and
//! the OOM counters directly); it changes nothing. Intel RDT and network
//! interfaces, which runc also reports, are left empty: jolt manages
//! neither.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use cgroups_rs::stats::{BlkioStat, CgroupStats, MemoryStats};
use serde_json::{json, Value};

use crate::cgroups::{CgroupError, CgroupManager};

/// One event as runc prints it.
pub fn event(kind: &str, id: &str, data: Option<Value>) -> Value {
    let mut e = json!({ "type": kind, "id": id });
    if let Some(data) = data {
        e["data"] = data;
    }
    e
}

/// The `data` of a stats event: runc's `types.Stats`.
pub fn stats(cgroup: &dyn CgroupManager) -> Result<Value, CgroupError> {
    let s = cgroup.stats()?;
    let dirs = cgroup.host_dirs();
    let memory_dir = dir_of(&dirs, "memory");
    let raw = memory_dir
        .as_deref()
        .map(|d| key_values(&d.join("memory.stat")))
        .unwrap_or_default();
    let mut v = runc_stats(&s, raw, dir_of(&dirs, "cpuset").as_deref());
    let v2 = matches!(dirs.as_slice(), [(name, _)] if name.is_empty());
    if v2 {
        // runc reads no peak usage on v2 (memory.peak is newer than its v2
        // support), so its memory entries there have no "max".
        if let Some(memory) = v["memory"].as_object_mut() {
            for entry in memory.values_mut().filter_map(Value::as_object_mut) {
                entry.remove("max");
            }
        }
    }
    // On v2 there is no cpuacct: the CPU time is in cpu.stat, in µs, which
    // cgroups-rs does not read; runc reports it from there, in ns.
    if v2 {
        if let Some(dir) = dir_of(&dirs, "cpu") {
            let stat = key_values(&dir.join("cpu.stat"));
            for (key, field) in [
                ("total", "usage_usec"),
                ("kernel", "system_usec"),
                ("user", "user_usec"),
            ] {
                if let Some(usec) = stat.get(field) {
                    v["cpu"]["usage"][key] = (usec * 1000).into();
                }
            }
        }
    } else {
        // v1's cpuacct.stat counts clock ticks (USER_HZ); runc reports ns.
        // SAFETY: sysconf only reads a configuration value.
        let ticks_per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
        for key in ["kernel", "user"] {
            if let Some(ticks) = v["cpu"]["usage"][key].as_u64() {
                v["cpu"]["usage"][key] = (ticks * (1_000_000_000 / ticks_per_second)).into();
            }
        }
    }
    // cgroups-rs leaves the per-CPU split out; v1 has it in cpuacct.
    if let Some(dir) = dir_of(&dirs, "cpuacct") {
        for (key, file) in [
            ("percpu", "cpuacct.usage_percpu"),
            ("percpu_kernel", "cpuacct.usage_percpu_sys"),
            ("percpu_user", "cpuacct.usage_percpu_user"),
        ] {
            let list: Vec<u64> = std::fs::read_to_string(dir.join(file))
                .unwrap_or_default()
                .split_whitespace()
                .filter_map(|n| n.parse().ok())
                .collect();
            if !list.is_empty() {
                v["cpu"]["usage"][key] = list.into();
            }
        }
    }
    Ok(v)
}

/// How many processes the kernel's OOM killer has killed in the cgroup
/// (memory.oom_control on v1, memory.events on v2).
pub fn oom_kills(cgroup: &dyn CgroupManager) -> u64 {
    let dirs = cgroup.host_dirs();
    let Some(dir) = dir_of(&dirs, "memory") else {
        return 0;
    };
    ["memory.oom_control", "memory.events"]
        .iter()
        .find_map(|f| key_values(&dir.join(f)).get("oom_kill").copied())
        .unwrap_or(0)
}

/// Why a container's init died before it was ready, when the memory
/// cgroup says: its OOM killer fired (runc: "memory limit too low?"),
/// e.g. "the container's init was OOM-killed before it was ready: its
/// memory limit of 65536 bytes is too low (linux.resources.memory.limit)".
pub fn oom_before_ready(cgroup: &dyn CgroupManager) -> Option<String> {
    if oom_kills(cgroup) == 0 {
        return None;
    }
    let dirs = cgroup.host_dirs();
    let dir = dir_of(&dirs, "memory")?;
    let limit = ["memory.limit_in_bytes", "memory.max"]
        .iter()
        .find_map(|f| std::fs::read_to_string(dir.join(f)).ok())
        .and_then(|t| t.trim().parse::<u64>().ok())
        // v1 writes "unlimited" as a page-rounded i64::MAX; v2 as "max".
        .filter(|&l| l < 1 << 62);
    Some(match limit {
        Some(limit) => format!(
            "the container's init was OOM-killed before it was ready: its memory limit of {limit} bytes is too low (linux.resources.memory.limit)"
        ),
        None => "the container's init was OOM-killed before it was ready: it has no memory limit of its own, so one of a cgroup above it is too low".to_string(),
    })
}

/// The directory of the hierarchy holding `controller` (v1), or the one
/// directory (v2).
fn dir_of(dirs: &[(String, PathBuf)], controller: &str) -> Option<PathBuf> {
    if let [(name, dir)] = dirs {
        if name.is_empty() {
            return Some(dir.clone());
        }
    }
    dirs.iter()
        .find(|(name, _)| name.split(',').any(|c| c == controller))
        .map(|(_, d)| d.clone())
}

/// "key value" lines (memory.stat, memory.events, memory.oom_control).
fn key_values(path: &Path) -> BTreeMap<String, u64> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(' ')?;
            Some((k.to_string(), v.trim().parse().ok()?))
        })
        .collect()
}

/// A cpuset list ("0-2,4") as numbers.
fn cpu_list(text: &str) -> Vec<u16> {
    let mut out = Vec::new();
    for part in text.trim().split(',').filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                if let (Ok(a), Ok(b)) = (a.parse::<u16>(), b.parse::<u16>()) {
                    out.extend(a..=b);
                }
            }
            None => out.extend(part.parse::<u16>().ok()),
        }
    }
    out
}

fn memory_entry(m: Option<&MemoryStats>) -> Value {
    let m = m.map_or((0, 0, 0, 0), |m| {
        (m.limit.max(0) as u64, m.usage, m.max_usage, m.fail_cnt)
    });
    let mut e = json!({ "limit": m.0, "usage": m.1, "max": m.2, "failcnt": m.3 });
    omit_empty(&mut e, &["usage", "max"]);
    e
}

fn blkio_entries(list: &[BlkioStat]) -> Option<Value> {
    if list.is_empty() {
        return None;
    }
    Some(
        list.iter()
            .map(|b| {
                let mut e = serde_json::Map::new();
                for (k, v) in [("major", b.major), ("minor", b.minor)] {
                    if v != 0 {
                        e.insert(k.into(), v.into());
                    }
                }
                if !b.op.is_empty() {
                    e.insert("op".into(), b.op.clone().into());
                }
                if b.value != 0 {
                    e.insert("value".into(), b.value.into());
                }
                Value::Object(e)
            })
            .collect(),
    )
}

/// Removes the keys whose value is 0, an empty list or null (Go's
/// `omitempty`) among `keys`.
fn omit_empty(v: &mut Value, keys: &[&str]) {
    if let Value::Object(map) = v {
        map.retain(|k, val| {
            !keys.contains(&k.as_str())
                || !(val.is_null()
                    || val.as_u64() == Some(0)
                    || val.as_array().is_some_and(|a| a.is_empty()))
        });
    }
}

fn runc_stats(s: &CgroupStats, raw: BTreeMap<String, u64>, cpuset: Option<&Path>) -> Value {
    let acct = s.cpu.cpu_acct.as_ref();
    let mut usage = json!({
        "total": acct.map_or(0, |a| a.total_usage),
        "percpu": acct.map(|a| a.usage_percpu.clone()).unwrap_or_default(),
        "kernel": acct.map_or(0, |a| a.system_usage),
        "user": acct.map_or(0, |a| a.user_usage),
    });
    omit_empty(&mut usage, &["total", "percpu"]);
    let t = s.cpu.cpu_throttling.as_ref();
    let mut throttling = json!({
        "periods": t.map_or(0, |t| t.periods),
        "throttledPeriods": t.map_or(0, |t| t.throttled_periods),
        "throttledTime": t.map_or(0, |t| t.throttled_time),
    });
    omit_empty(
        &mut throttling,
        &["periods", "throttledPeriods", "throttledTime"],
    );

    let read = |f: &str| {
        cpuset
            .and_then(|d| std::fs::read_to_string(d.join(f)).ok())
            .unwrap_or_default()
    };
    let num = |f: &str| read(f).trim().parse::<i64>().unwrap_or(0);
    let mut cpuset_v = json!({
        "cpus": cpu_list(&read("cpuset.cpus")),
        "cpu_exclusive": num("cpuset.cpu_exclusive"),
        "mems": cpu_list(&read("cpuset.mems")),
        "mem_hardwall": num("cpuset.mem_hardwall"),
        "mem_exclusive": num("cpuset.mem_exclusive"),
        "memory_migrate": num("cpuset.memory_migrate"),
        "memory_spread_page": num("cpuset.memory_spread_page"),
        "memory_spread_slab": num("cpuset.memory_spread_slab"),
        "memory_pressure": num("cpuset.memory_pressure"),
        "sched_load_balance": num("cpuset.sched_load_balance"),
        "sched_relax_domain_level": num("cpuset.sched_relax_domain_level"),
    });
    omit_empty(&mut cpuset_v, &["cpus", "mems"]);

    let m = &s.memory;
    let cache = raw.get("cache").or_else(|| raw.get("file")).copied();
    let mut memory = json!({
        "cache": cache.unwrap_or(0),
        "usage": memory_entry(m.memory.as_ref()),
        "swap": memory_entry(m.memory_swap.as_ref()),
        "kernel": memory_entry(m.kernel_memory.as_ref()),
        "kernelTCP": memory_entry(None),
        "raw": raw,
    });
    omit_empty(&mut memory, &["cache"]);

    let mut pids = json!({ "current": s.pids.current, "limit": s.pids.limit.max(0) });
    omit_empty(&mut pids, &["current", "limit"]);

    let b = &s.blkio;
    let mut blkio = serde_json::Map::new();
    for (key, list) in [
        ("ioServiceBytesRecursive", &b.io_service_bytes_recursive),
        ("ioServicedRecursive", &b.io_serviced_recursive),
        ("ioQueueRecursive", &b.io_queued_recursive),
        ("ioServiceTimeRecursive", &b.io_service_time_recursive),
        ("ioWaitTimeRecursive", &b.io_wait_time_recursive),
        ("ioMergedRecursive", &b.io_merged_recursive),
        ("ioTimeRecursive", &b.io_time_recursive),
        ("sectorsRecursive", &b.sectors_recursive),
    ] {
        if let Some(entries) = blkio_entries(list) {
            blkio.insert(key.into(), entries);
        }
    }

    let hugetlb: serde_json::Map<String, Value> = s
        .hugetlb
        .iter()
        .map(|(size, h)| {
            let mut e = json!({ "usage": h.usage, "max": h.max_usage, "failcnt": h.fail_cnt });
            omit_empty(&mut e, &["usage", "max"]);
            (size.clone(), e)
        })
        .collect();

    json!({
        "cpu": { "usage": usage, "throttling": throttling },
        "cpuset": cpuset_v,
        "memory": memory,
        "pids": pids,
        "blkio": blkio,
        "hugetlb": hugetlb,
        "intel_rdt": {},
        "network_interfaces": null,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_lists_expand_ranges() {
        assert_eq!(cpu_list("0-2,4\n"), vec![0, 1, 2, 4]);
        assert_eq!(cpu_list(""), Vec::<u16>::new());
    }

    #[test]
    fn empty_stats_have_runcs_shape() {
        let v = runc_stats(&CgroupStats::default(), BTreeMap::new(), None);
        assert_eq!(v["cpu"]["usage"], json!({"kernel": 0, "user": 0}));
        assert_eq!(v["cpu"]["throttling"], json!({}));
        assert_eq!(v["memory"]["usage"], json!({"limit": 0, "failcnt": 0}));
        assert_eq!(v["pids"], json!({}));
        assert!(v["network_interfaces"].is_null());
    }

    #[test]
    fn events_omit_empty_data() {
        assert_eq!(
            event("oom", "web", None).to_string(),
            r#"{"type":"oom","id":"web"}"#
        );
    }
}
