//! cpu-throttle: a CFS bandwidth limit on the container's cgroup — cpu.max
//! on cgroup v2, cpu.cfs_quota_us and cpu.cfs_period_us on v1 — and
//! restoring the exact values that were there before.

use std::fmt;
use std::fs;
use std::io::Write;
use std::path::Path;
use std::time::Duration;

use super::{gone, mismatch, refused, FaultError, Keys, Kind, Reverted, Undo};
use crate::experiment::human;
use crate::target::Target;
use jolt_runtime::cgroups::placement::{Controller, Located, View};

/// cpu-throttle: the container held to a share of CPUs.
#[derive(Debug, Clone, PartialEq)]
pub struct CpuThrottle {
    /// CPUs left to the container: 0.5 is half of one.
    pub cpus: f64,
    pub duration: Duration,
}

impl Kind for CpuThrottle {
    const NAME: &'static str = "cpu-throttle";
    const KEYS: &'static [&'static str] = &["cpus", "duration"];
    const HOLDS: Option<&'static str> = Some("the cgroup's CPU limit");

    fn parse(keys: &mut Keys) -> Option<Self> {
        let cpus = match keys.number("cpus") {
            Some(c) if c > 0.0 && c <= 1024.0 => Some(c),
            Some(c) => {
                keys.problem(
                    "cpus",
                    format!("{c} is outside (0, 1024]; 0.5 is half of one CPU"),
                );
                None
            }
            None if !keys.has("cpus") => {
                keys.missing(
                    "cpus",
                    "the CPU share left, e.g. 0.2 for a fifth of one CPU",
                );
                None
            }
            None => None,
        };
        let duration = keys.lasting("the limit holds");
        Some(CpuThrottle {
            cpus: cpus?,
            duration: duration?,
        })
    }

    fn duration(&self) -> Option<Duration> {
        Some(self.duration)
    }

    fn describe(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "cpu-throttle cpus={} for {}",
            self.cpus,
            human(self.duration)
        )
    }

    fn prepare(&self, target: &Target) -> Result<Undo, FaultError> {
        prepare(self.cpus, target).map_err(|reason| refused::<CpuThrottle>(target, reason))
    }

    fn apply(&self, target: &Target, undo: &Undo) -> Result<(), FaultError> {
        match undo {
            Undo::CpuMax { path, .. } => apply_v2(self.cpus, target, path),
            Undo::CfsQuota { dir, .. } => apply_v1(self.cpus, target, dir),
            other => Err(mismatch::<CpuThrottle>(target, other)),
        }
    }
}

/// The period jolt writes, in µs: the kernel's default.
pub(super) const PERIOD_US: u64 = 100_000;
/// The smallest quota the kernel accepts, in µs.
const MIN_QUOTA_US: u64 = 1_000;

/// The quota, in µs per [`PERIOD_US`], that lets the cgroup use `cpus`
/// CPUs.
pub(super) fn quota_us(cpus: f64) -> u64 {
    ((cpus * PERIOD_US as f64).round() as u64).max(MIN_QUOTA_US)
}

/// The CPUs a limit already allows: `Q P` in cpu.max, or a v1 quota and
/// period; None for no limit (`max`, quota -1).
fn allowed_cpus(quota: Option<f64>, period: f64) -> Option<f64> {
    quota.filter(|q| *q >= 0.0).map(|q| q / period)
}

/// The limit a cpu.max text holds, in CPUs.
fn cpu_max_cpus(text: &str) -> Option<f64> {
    let (quota, period) = text.trim().split_once(' ')?;
    allowed_cpus(quota.parse().ok(), period.parse().ok()?)
}

/// Refuses a throttle that would not throttle: the cgroup is already held
/// to `cpus` or less, and writing the fault's limit would raise it.
fn throttles(now: Option<f64>, cpus: f64) -> Result<(), String> {
    match now {
        Some(limit) if limit <= cpus => Err(format!(
            "its CPU limit ({limit} CPUs) is already at or below {cpus}; the throttle would raise it"
        )),
        _ => Ok(()),
    }
}

fn prepare(cpus: f64, target: &Target) -> Result<Undo, String> {
    let located = View::of(target.pid)
        .and_then(|view| view.locate(Controller::Cpu))
        .map_err(|e| e.to_string())?;
    match located {
        Located::V2(dir) => {
            let path = dir.join("cpu.max");
            let previous = fs::read_to_string(&path)
                .map_err(|e| format!("reading {}: {e}", path.display()))?;
            throttles(cpu_max_cpus(&previous), cpus)?;
            Ok(Undo::CpuMax { path, previous })
        }
        Located::V1(dir) => {
            let (quota, period) =
                read_v1(&dir).map_err(|e| format!("reading {}: {e}", dir.display()))?;
            throttles(allowed_cpus(Some(quota as f64), period as f64), cpus)?;
            Ok(Undo::CfsQuota { dir, quota, period })
        }
    }
}

fn read_v1(dir: &Path) -> std::io::Result<(i64, u64)> {
    let number = |file: &str| -> std::io::Result<String> {
        Ok(fs::read_to_string(dir.join(file))?.trim().to_string())
    };
    let invalid = |file: &str, text: String| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("{file} holds {text:?}, not a number"),
        )
    };
    let quota = number("cpu.cfs_quota_us")?;
    let period = number("cpu.cfs_period_us")?;
    Ok((
        quota
            .parse()
            .map_err(|_| invalid("cpu.cfs_quota_us", quota))?,
        period
            .parse()
            .map_err(|_| invalid("cpu.cfs_period_us", period))?,
    ))
}

/// Writes `content` to an existing file in one write (cgroup files take
/// one value per write); a missing file is ENOENT, never created.
pub(super) fn write_file(path: &Path, content: &str) -> std::io::Result<()> {
    fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(path)?
        .write_all(content.as_bytes())
}

fn kernel(context: String) -> impl FnOnce(std::io::Error) -> FaultError {
    move |source| FaultError::Kernel { context, source }
}

fn apply_v2(cpus: f64, target: &Target, path: &Path) -> Result<(), FaultError> {
    let value = format!("{} {PERIOD_US}", quota_us(cpus));
    write_file(path, &value).map_err(kernel(format!(
        "container {}: cpu-throttle: writing {value:?} to {}",
        target.name,
        path.display()
    )))
}

/// Sets quota and period so that no write is refused on the way: the quota
/// is lifted first (always allowed), then the period changes, then the new
/// quota goes in.
fn write_v1(dir: &Path, quota: i64, period: u64) -> Result<(), (String, std::io::Error)> {
    let steps = [
        ("cpu.cfs_quota_us", "-1".to_string()),
        ("cpu.cfs_period_us", period.to_string()),
        ("cpu.cfs_quota_us", quota.to_string()),
    ];
    for (file, value) in steps {
        let path = dir.join(file);
        write_file(&path, &value)
            .map_err(|e| (format!("writing {value} to {}", path.display()), e))?;
    }
    Ok(())
}

fn apply_v1(cpus: f64, target: &Target, dir: &Path) -> Result<(), FaultError> {
    write_v1(dir, quota_us(cpus) as i64, PERIOD_US).map_err(|(what, source)| FaultError::Kernel {
        context: format!("container {}: cpu-throttle: {what}", target.name),
        source,
    })
}

pub(super) fn revert_v2(path: &Path, previous: &str) -> Result<Reverted, FaultError> {
    match fs::read_to_string(path) {
        Err(e) if gone(&e) => return Ok(Reverted::TargetGone),
        Err(e) => return Err(kernel(format!("revert: reading {}", path.display()))(e)),
        Ok(now) if now == previous => return Ok(Reverted::AlreadyClean),
        Ok(_) => {}
    }
    match write_file(path, previous) {
        Ok(()) => Ok(Reverted::Done),
        Err(e) if gone(&e) => Ok(Reverted::TargetGone),
        Err(e) => Err(kernel(format!(
            "revert: writing {:?} to {}",
            previous.trim_end(),
            path.display()
        ))(e)),
    }
}

pub(super) fn revert_v1(dir: &Path, quota: i64, period: u64) -> Result<Reverted, FaultError> {
    match read_v1(dir) {
        Err(e) if gone(&e) => return Ok(Reverted::TargetGone),
        Err(e) => return Err(kernel(format!("revert: reading {}", dir.display()))(e)),
        Ok(now) if now == (quota, period) => return Ok(Reverted::AlreadyClean),
        Ok(_) => {}
    }
    match write_v1(dir, quota, period) {
        Ok(()) => Ok(Reverted::Done),
        Err((_, e)) if gone(&e) => Ok(Reverted::TargetGone),
        Err((what, source)) => Err(FaultError::Kernel {
            context: format!("revert: {what}"),
            source,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quota_is_a_fraction_of_the_period_with_a_floor() {
        assert_eq!(quota_us(0.2), 20_000);
        assert_eq!(quota_us(1.5), 150_000);
        assert_eq!(quota_us(0.001), 1_000, "the kernel's minimum");
        assert_eq!(quota_us(0.33333), 33_333);
    }

    #[test]
    fn a_throttle_that_would_raise_the_limit_is_refused() {
        assert_eq!(cpu_max_cpus("max 100000\n"), None);
        assert_eq!(cpu_max_cpus("50000 100000\n"), Some(0.5));
        assert_eq!(allowed_cpus(Some(-1.0), 100_000.0), None);
        assert!(throttles(None, 0.2).is_ok());
        assert!(throttles(Some(2.0), 0.2).is_ok());
        let why = throttles(Some(0.1), 0.2).unwrap_err();
        assert_eq!(
            why,
            "its CPU limit (0.1 CPUs) is already at or below 0.2; the throttle would raise it"
        );
    }

    #[test]
    fn v2_revert_restores_the_exact_bytes_and_is_idempotent() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cpu.max");
        fs::write(&path, "max 100000\n").unwrap();
        let target = Target {
            id: "c1".into(),
            name: "web".into(),
            pid: 1,
            netns: None,
            interface: Some("eth0".into()),
        };
        apply_v2(0.25, &target, &path).unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "25000 100000");
        assert_eq!(revert_v2(&path, "max 100000\n").unwrap(), Reverted::Done);
        assert_eq!(fs::read_to_string(&path).unwrap(), "max 100000\n");
        assert_eq!(
            revert_v2(&path, "max 100000\n").unwrap(),
            Reverted::AlreadyClean
        );
        drop(dir);
        assert_eq!(
            revert_v2(&path, "max 100000\n").unwrap(),
            Reverted::TargetGone
        );
    }

    #[test]
    fn v1_writes_lift_the_quota_first_and_revert_restores_the_pair() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("cpu.cfs_quota_us"), "50000\n").unwrap();
        fs::write(dir.path().join("cpu.cfs_period_us"), "200000\n").unwrap();
        let target = Target {
            id: "c1".into(),
            name: "web".into(),
            pid: 1,
            netns: None,
            interface: Some("eth0".into()),
        };
        apply_v1(0.5, &target, dir.path()).unwrap();
        assert_eq!(read_v1(dir.path()).unwrap(), (50_000, 100_000));
        assert_eq!(
            revert_v1(dir.path(), 50_000, 200_000).unwrap(),
            Reverted::Done
        );
        assert_eq!(read_v1(dir.path()).unwrap(), (50_000, 200_000));
        assert_eq!(
            revert_v1(dir.path(), 50_000, 200_000).unwrap(),
            Reverted::AlreadyClean
        );
        assert_eq!(
            revert_v1(&dir.path().join("gone"), 50_000, 200_000).unwrap(),
            Reverted::TargetGone
        );
    }
}
