//! feature: kernel and system features a test needs, found out by asking
//! the kernel (or systemd), and the policy for a missing one: skip, saying
//! which feature, or fail when the run declared it required.
//!
//! `JOLT_E2E_REQUIRE` is a comma-separated list of [`Feature`] names
//! (`cgroup2`, `cgroup1`, `sch_netem`, `systemd`). scripts/vm-test sets it
//! to cgroup2 and sch_netem, `--systemd` adds systemd, and
//! `--systemd-hybrid` sets cgroup1, sch_netem and systemd, so that in the
//! VM that has them a test that would skip fails instead.

use std::fmt;
use std::path::Path;
use std::process::Command;

/// A feature some tests need and some kernels (or hosts) lack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Feature {
    /// A unified cgroup v2 hierarchy at /sys/fs/cgroup whose root hands the
    /// cpu, memory and pids controllers to its children.
    Cgroup2,
    /// cgroup v1 hierarchies for the cpu, memory, pids and freezer
    /// controllers under /sys/fs/cgroup (a v1 or hybrid host).
    Cgroup1,
    /// The netem queueing discipline (sch_netem), loaded or loadable.
    SchNetem,
    /// systemd as PID 1, answering on the system bus: what the systemd
    /// cgroup drivers (jolt's, runc's, podman's, containerd's) talk to.
    Systemd,
}

pub const REQUIRE_ENV: &str = "JOLT_E2E_REQUIRE";

impl Feature {
    pub fn name(self) -> &'static str {
        match self {
            Feature::Cgroup2 => "cgroup2",
            Feature::Cgroup1 => "cgroup1",
            Feature::SchNetem => "sch_netem",
            Feature::Systemd => "systemd",
        }
    }

    /// Ok when the running system has the feature, else what is missing.
    pub fn probe(self) -> Result<(), String> {
        match self {
            Feature::Cgroup2 => {
                let root = Path::new("/sys/fs/cgroup");
                let enabled = std::fs::read_to_string(root.join("cgroup.subtree_control"))
                    .ok()
                    .filter(|_| root.join("cgroup.controllers").exists())
                    .ok_or("/sys/fs/cgroup is not a cgroup v2 hierarchy (cgroup v1 controllers)")?;
                let missing: Vec<_> = ["cpu", "memory", "pids"]
                    .into_iter()
                    .filter(|c| !enabled.split_whitespace().any(|e| e == *c))
                    .collect();
                if missing.is_empty() {
                    Ok(())
                } else {
                    Err(format!(
                        "the cgroup v2 root does not enable {} for its children",
                        missing.join(", ")
                    ))
                }
            }
            Feature::Cgroup1 => {
                let missing: Vec<_> = ["cpu", "memory", "pids", "freezer"]
                    .into_iter()
                    .filter(|c| !Path::new("/sys/fs/cgroup").join(c).join("tasks").exists())
                    .collect();
                if missing.is_empty() {
                    Ok(())
                } else {
                    Err(format!(
                        "no cgroup v1 hierarchy for {} under /sys/fs/cgroup",
                        missing.join(", ")
                    ))
                }
            }
            // A netem qdisc on the loopback of a namespace made for the probe
            // and gone with it: the kernel's own answer, module or built in.
            Feature::SchNetem => {
                let out = Command::new("unshare")
                    .args(["--net", "tc", "qdisc", "add", "dev", "lo", "root"])
                    .args(["netem", "delay", "1ms"])
                    .output()
                    .map_err(|e| format!("running unshare --net tc: {e}"))?;
                if out.status.success() {
                    Ok(())
                } else {
                    Err(format!(
                        "tc qdisc add ... netem failed: {}",
                        String::from_utf8_lossy(&out.stderr).trim()
                    ))
                }
            }
            Feature::Systemd => probe_systemd(),
        }
    }

    /// Where a run that has the feature is made.
    fn where_to_run(self) -> &'static str {
        match self {
            Feature::Cgroup2 | Feature::SchNetem => {
                "scripts/vm-test runs it on a kernel that has it"
            }
            Feature::Systemd => "scripts/vm-test --systemd runs it with systemd as PID 1",
            Feature::Cgroup1 => "scripts/vm-test --systemd-hybrid runs it on cgroup v1 controllers",
        }
    }

    /// Whether `JOLT_E2E_REQUIRE` lists this feature.
    fn required(self) -> bool {
        std::env::var(REQUIRE_ENV)
            .unwrap_or_default()
            .split(',')
            .any(|f| f.trim() == self.name())
    }
}

/// systemd booted the system (/run/systemd/system, as sd_booted(3) checks)
/// and its manager answers a ping on the system bus, which the cgroup
/// drivers need (root's systemctl alone would use a private socket).
fn probe_systemd() -> Result<(), String> {
    if !Path::new("/run/systemd/system").is_dir() {
        return Err("systemd is not PID 1 (no /run/systemd/system)".into());
    }
    let ping = Command::new("busctl")
        .args(["--system", "call", "org.freedesktop.systemd1"])
        .args([
            "/org/freedesktop/systemd1",
            "org.freedesktop.DBus.Peer",
            "Ping",
        ])
        .output()
        .map_err(|e| format!("running busctl: {e}"))?;
    if ping.status.success() {
        return Ok(());
    }
    let state = Command::new("systemctl")
        .arg("is-system-running")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|e| format!("systemctl: {e}"));
    Err(format!(
        "systemd ({state}) does not answer on the system bus: busctl call \
         org.freedesktop.systemd1 ... Ping: {}",
        String::from_utf8_lossy(&ping.stderr).trim()
    ))
}

impl fmt::Display for Feature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Whether the system has `feature`. When it does not, says so on stderr
/// and returns false (the test then returns early, a skip), or panics when
/// `JOLT_E2E_REQUIRE` lists the feature.
#[track_caller]
pub fn require(feature: Feature) -> bool {
    match feature.probe() {
        Ok(()) => true,
        Err(why) if feature.required() => {
            panic!("{feature} is required ({REQUIRE_ENV}) but missing: {why}")
        }
        Err(why) => {
            eprintln!(
                "skipped: needs {feature}: {why} ({})",
                feature.where_to_run()
            );
            false
        }
    }
}
