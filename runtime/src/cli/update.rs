//! `jolt update ID`: change a running container's cgroup limits, from a
//! LinuxResources JSON (`--resources FILE`, `-` for stdin) or, without it,
//! from runc's per-resource flags. Only what is given changes.

use std::io::Read;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use jolt_runtime::{container, state::Root};
use serde_json::{json, Value};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// LinuxResources JSON file, or - for stdin (the flags are then ignored)
    #[arg(short, long)]
    pub resources: Option<PathBuf>,
    /// Block IO weight (10-1000)
    #[arg(long)]
    pub blkio_weight: Option<u16>,
    /// CPU CFS period in microseconds
    #[arg(long)]
    pub cpu_period: Option<u64>,
    /// CPU CFS quota in microseconds (-1: none)
    #[arg(long, allow_hyphen_values = true)]
    pub cpu_quota: Option<i64>,
    /// CPU shares (relative weight)
    #[arg(long)]
    pub cpu_share: Option<u64>,
    /// CPU realtime period in microseconds
    #[arg(long)]
    pub cpu_rt_period: Option<u64>,
    /// CPU realtime runtime in microseconds
    #[arg(long, allow_hyphen_values = true)]
    pub cpu_rt_runtime: Option<i64>,
    /// CPUs to run on (0-3, 0,1)
    #[arg(long)]
    pub cpuset_cpus: Option<String>,
    /// Memory nodes to allocate from (0-3, 0,1)
    #[arg(long)]
    pub cpuset_mems: Option<String>,
    /// Memory limit (bytes, or with a k, m, g suffix; -1: none)
    #[arg(long, allow_hyphen_values = true)]
    pub memory: Option<String>,
    /// Memory reservation (soft limit)
    #[arg(long, allow_hyphen_values = true)]
    pub memory_reservation: Option<String>,
    /// Memory plus swap limit (-1: unlimited swap)
    #[arg(long, allow_hyphen_values = true)]
    pub memory_swap: Option<String>,
    /// Maximum number of pids (-1: none)
    #[arg(long, allow_hyphen_values = true)]
    pub pids_limit: Option<i64>,
    /// Container ID
    pub id: String,
}

pub fn exec(root: &Root, args: &Args) -> Result<()> {
    let patch = match &args.resources {
        Some(path) => read_resources(path)?,
        None => from_flags(args)?,
    };
    container::update(root, &args.id, &patch)?;
    Ok(())
}

fn read_resources(path: &PathBuf) -> Result<Value> {
    let mut text = Vec::new();
    if path.as_os_str() == "-" {
        std::io::stdin()
            .read_to_end(&mut text)
            .context("--resources -: reading stdin")?;
    } else {
        text = std::fs::read(path).with_context(|| format!("--resources {}", path.display()))?;
    }
    let v: Value = serde_json::from_slice(&text)
        .with_context(|| format!("--resources {}: not JSON", path.display()))?;
    if !v.is_object() {
        bail!("--resources {}: expected a JSON object", path.display());
    }
    Ok(v)
}

fn from_flags(a: &Args) -> Result<Value> {
    let mut p = json!({});
    let mut set = |section: &str, key: &str, v: Value| {
        if p.get(section).is_none() {
            p[section] = json!({});
        }
        p[section][key] = v;
    };
    if let Some(w) = a.blkio_weight {
        set("blockIO", "weight", w.into());
    }
    if let Some(v) = a.cpu_period {
        set("cpu", "period", v.into());
    }
    if let Some(v) = a.cpu_quota {
        set("cpu", "quota", v.into());
    }
    if let Some(v) = a.cpu_share {
        set("cpu", "shares", v.into());
    }
    if let Some(v) = a.cpu_rt_period {
        set("cpu", "realtimePeriod", v.into());
    }
    if let Some(v) = a.cpu_rt_runtime {
        set("cpu", "realtimeRuntime", v.into());
    }
    if let Some(v) = &a.cpuset_cpus {
        set("cpu", "cpus", v.clone().into());
    }
    if let Some(v) = &a.cpuset_mems {
        set("cpu", "mems", v.clone().into());
    }
    for (flag, key, value) in [
        ("--memory", "limit", &a.memory),
        ("--memory-reservation", "reservation", &a.memory_reservation),
        ("--memory-swap", "swap", &a.memory_swap),
    ] {
        if let Some(v) = value {
            let bytes = ram_in_bytes(v).with_context(|| format!("{flag} {v:?}"))?;
            set("memory", key, bytes.into());
        }
    }
    if let Some(v) = a.pids_limit {
        set("pids", "limit", v.into());
    }
    Ok(p)
}

/// A size as docker's units.RAMInBytes reads it (runc's flags): a number,
/// optionally with a k, m, g, t or p suffix in powers of 1024, an optional
/// i and b; -1 means no limit.
fn ram_in_bytes(s: &str) -> Result<i64> {
    if s == "-1" {
        return Ok(-1);
    }
    let lower = s.trim().to_ascii_lowercase();
    let body = lower.trim_end_matches('b').trim_end_matches('i');
    let (num, mult) = match body.chars().last() {
        Some(c @ ('k' | 'm' | 'g' | 't' | 'p')) => {
            let exp = "kmgtp".find(c).expect("listed") as u32 + 1;
            (&body[..body.len() - 1], 1024f64.powi(exp as i32))
        }
        _ => (body, 1.0),
    };
    let n: f64 = num
        .trim()
        .parse()
        .map_err(|_| anyhow::anyhow!("invalid size"))?;
    if n < 0.0 {
        bail!("invalid size");
    }
    Ok((n * mult) as i64)
}

#[cfg(test)]
mod tests {
    use super::ram_in_bytes;

    #[test]
    fn sizes_read_like_runcs() {
        assert_eq!(ram_in_bytes("1024").unwrap(), 1024);
        assert_eq!(ram_in_bytes("100m").unwrap(), 100 << 20);
        assert_eq!(ram_in_bytes("1G").unwrap(), 1 << 30);
        assert_eq!(ram_in_bytes("2kb").unwrap(), 2048);
        assert_eq!(ram_in_bytes("1.5MiB").unwrap(), 3 << 19);
        assert_eq!(ram_in_bytes("-1").unwrap(), -1);
        assert!(ram_in_bytes("lots").is_err());
    }
}
