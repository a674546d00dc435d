//! cfs: the CFS bandwidth limit on cgroup v1 (`cpu.cfs_period_us` and
//! `cpu.cfs_quota_us`), written in an order that never exceeds a parent's
//! limit in between, as runc writes it. Two files mean an intermediate
//! state: a 500000/1000000 quota written before its period, under a parent
//! held to 50 %, is 500 % of the old 100000 period, and the kernel refuses
//! it. cgroups-rs writes quota first; v2's single cpu.max has no such step.

use std::path::Path;

use oci_spec::runtime::LinuxCpu;

use super::{write_file, WriteError};

/// A quota and period taken out of a cpu section (0: not given).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Bandwidth {
    quota: i64,
    period: u64,
}

impl Bandwidth {
    pub fn is_empty(&self) -> bool {
        self.quota == 0 && self.period == 0
    }
}

/// Takes quota and period out of `cpu`, leaving the rest to cgroups-rs.
pub fn take(cpu: &mut LinuxCpu) -> Bandwidth {
    let b = Bandwidth {
        quota: cpu.quota().unwrap_or(0),
        period: cpu.period().unwrap_or(0),
    };
    cpu.set_quota(None);
    cpu.set_period(None);
    b
}

/// Period first; when the kernel refuses it (EINVAL: the old quota over the
/// new period exceeds a parent) and a quota follows, the quota, then the
/// period again.
pub fn write(dir: &Path, b: Bandwidth) -> Result<(), WriteError> {
    let put = |file: &str, value: String| write_file(dir, file, value);
    let mut period_left = None;
    if b.period != 0 {
        match put("cpu.cfs_period_us", b.period.to_string()) {
            Err((_, _, e)) if e.raw_os_error() == Some(libc::EINVAL) && b.quota != 0 => {
                period_left = Some(b.period)
            }
            r => r?,
        }
    }
    if b.quota != 0 {
        put("cpu.cfs_quota_us", b.quota.to_string())?;
    }
    if let Some(period) = period_left {
        put("cpu.cfs_period_us", period.to_string())?;
    }
    Ok(())
}
