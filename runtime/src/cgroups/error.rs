//! error: what can go wrong with a container's cgroup, under any driver.

use std::io;
use std::time::Duration;

/// Errors name the cgroup path and the cause, e.g. "cgroup /jolt/web:
/// memory.limit_in_bytes: write 1000: Device or resource busy".
#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    /// A `jolt exec --cgroup` argument cannot be used.
    #[error("--cgroup {arg:?}: {reason}")]
    ExecCgroup { arg: String, reason: String },
    /// `linux.cgroupsPath` cannot be used.
    #[error("cgroupsPath {path:?}: {reason}")]
    InvalidPath { path: String, reason: String },
    /// A value in `linux.resources` is invalid or cannot be applied here.
    #[error("cgroup /{path}: linux.resources.{field}: {reason}")]
    InvalidResources {
        path: String,
        field: &'static str,
        reason: String,
    },
    /// Reading, writing, creating or removing something in cgroupfs failed.
    #[error("cgroup /{path}: {what}: {}", crate::os_text(err))]
    Io {
        path: String,
        what: String,
        err: io::Error,
    },
    /// cgroups-rs failed without an OS error to show.
    #[error("cgroup /{path}: {what}: {detail}")]
    Cgroups {
        path: String,
        what: String,
        detail: String,
    },
    /// `create` found the cgroup frozen.
    #[error("cgroup /{path}: is frozen (here or in a parent cgroup); a container's init would stop as soon as it joined it: thaw it (freezer.state THAWED on cgroup v1, cgroup.freeze 0 on v2) or use another cgroupsPath")]
    Frozen { path: String },
    #[error(transparent)]
    Devices(#[from] crate::devices::DeviceError),
    /// `destroy` killed, waited, and processes are still there.
    #[error("cgroup /{path}: processes {pids:?} are still in it {timeout:?} after SIGKILL; not removing it")]
    Busy {
        path: String,
        pids: Vec<i32>,
        timeout: Duration,
    },
    /// `--systemd-cgroup` where systemd is not the init.
    #[error("--systemd-cgroup: systemd is not running (no {marker})")]
    NoSystemd { marker: &'static str },
    /// systemd refused or failed a request about the container's unit.
    #[error("systemd unit {unit}: {what}: {detail}")]
    Systemd {
        unit: String,
        what: String,
        detail: String,
    },
}
