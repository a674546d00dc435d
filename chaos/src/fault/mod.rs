//! fault: putting one [`Fault`] into the kernel for one [`Target`] and
//! taking it out again. Owns the three steps every injection goes through
//! and what undoes it ([`Undo`]); does not own when faults happen (the
//! agent), nor keeping the undo across restarts ([`crate::journal`]).
//!
//! 1. [`prepare`] only reads: it finds the cgroup file or the netns the
//!    fault touches, remembers what is there now, and refuses early with a
//!    reason (no netns, cgroup not found, already paused, a CPU limit
//!    already below the throttle, a root qdisc that is not jolt's). Its
//!    [`Undo`] is journaled before anything changes.
//! 2. [`apply`] makes the change the undo describes.
//! 3. [`revert`] puts back what the undo remembers. It is idempotent, and a
//!    target that has gone away meanwhile is [`Reverted::TargetGone`], not
//!    an error, so recovery after a crash can always finish.
//!
//! One file per kind: kill.rs, cpu.rs, freeze.rs, netem.rs. network-delay
//! runs iproute2's `tc` in a child that setns'd into the container's netns
//! and adds a netem root qdisc with jolt's own handle (major
//! [`JOLT_QDISC_MAJOR`], `4a4c:`), never touching a qdisc jolt did not
//! make; netem.rs says why tc and how netem's limit is chosen.

mod cpu;
mod freeze;
mod kill;
mod netem;

use std::io;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::experiment::Fault;
use crate::target::Target;

pub use netem::JOLT_QDISC_MAJOR;

/// What undoes one injected fault; written to the journal BEFORE the fault is applied.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Undo {
    /// kill: nothing to undo.
    Nothing,
    /// cgroup v2: the cpu.max file and its exact previous content.
    CpuMax { path: PathBuf, previous: String },
    /// cgroup v1: the cpu controller dir and previous cfs_quota_us / cfs_period_us.
    CfsQuota {
        dir: PathBuf,
        quota: i64,
        period: u64,
    },
    /// the netem qdisc jolt added: netns file, interface, jolt's own handle.
    Qdisc {
        netns: PathBuf,
        interface: String,
        handle: u32,
    },
    /// the freezer file to thaw (cgroup.freeze on v2, freezer.state on v1).
    Thaw { path: PathBuf },
}

/// How a [`revert`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reverted {
    /// The fault was in place and is now undone.
    Done,
    /// Nothing of the fault was left (reverted before, or never applied).
    AlreadyClean,
    /// The cgroup, netns, interface or process is gone, and the fault with it.
    TargetGone,
}

/// Why a fault could not be prepared, applied or reverted. Messages name
/// the container (or, for a revert, the object) and the cause, with the
/// kernel's own error text.
#[derive(Debug, thiserror::Error)]
pub enum FaultError {
    /// [`prepare`] found a reason not to touch the container.
    #[error("container {container}: {fault}: {reason}")]
    Refused {
        container: String,
        fault: &'static str,
        reason: String,
    },
    /// The kernel has no netem queueing discipline.
    #[error("container {container}: network-delay: sch_netem is not available in this kernel (modprobe sch_netem)")]
    NetemMissing { container: String },
    /// A kernel call failed; `context` names the container or object and
    /// what was being done.
    #[error("{context}: {source}")]
    Kernel {
        context: String,
        #[source]
        source: io::Error,
    },
    /// `tc` (iproute2) failed; `stderr` is its message, which carries the
    /// kernel's.
    #[error("{context}: {stderr}")]
    Tc { context: String, stderr: String },
    /// [`crate::Journal::recover`] reverted the fault, but could not
    /// remove its entry; the next recovery finds it clean and retries.
    #[error("fault journal: {id} reverted ({reverted:?}) but its entry stays: {source}")]
    EntryStays {
        id: String,
        reverted: Reverted,
        #[source]
        source: Box<crate::journal::JournalError>,
    },
    /// The kernel did not finish a freeze or thaw in time.
    #[error("{context}: still {state} after {waited_ms} ms")]
    Timeout {
        context: String,
        state: String,
        waited_ms: u128,
    },
}

/// Reads what `fault` will touch on `target` and returns what undoes it,
/// changing nothing.
pub fn prepare(fault: &Fault, target: &Target) -> Result<Undo, FaultError> {
    let refuse = |reason: String| FaultError::Refused {
        container: target.name.clone(),
        fault: fault.kind(),
        reason,
    };
    match fault {
        Fault::Kill { scope, .. } => kill::prepare(*scope, target).map_err(refuse),
        Fault::CpuThrottle { cpus, .. } => cpu::prepare(*cpus, target).map_err(refuse),
        Fault::Pause { .. } => freeze::prepare(target).map_err(refuse),
        Fault::NetworkDelay(_) => netem::prepare(target),
    }
}

/// Injects `fault` into `target` as `undo` (from [`prepare`], already
/// journaled) describes.
pub fn apply(fault: &Fault, target: &Target, undo: &Undo) -> Result<(), FaultError> {
    match (fault, undo) {
        (Fault::Kill { signal, scope }, Undo::Nothing) => kill::apply(*signal, *scope, target),
        (Fault::CpuThrottle { cpus, .. }, Undo::CpuMax { path, .. }) => {
            cpu::apply_v2(*cpus, target, path)
        }
        (Fault::CpuThrottle { cpus, .. }, Undo::CfsQuota { dir, .. }) => {
            cpu::apply_v1(*cpus, target, dir)
        }
        (Fault::Pause { .. }, Undo::Thaw { path }) => freeze::apply(target, path),
        (
            Fault::NetworkDelay(delay),
            Undo::Qdisc {
                netns,
                interface,
                handle,
            },
        ) => netem::apply(delay, target, netns, interface, *handle),
        _ => Err(FaultError::Refused {
            container: target.name.clone(),
            fault: fault.kind(),
            reason: format!("the undo record {undo:?} is not one this fault makes"),
        }),
    }
}

/// Undoes what `undo` describes. Idempotent; a target that is gone is
/// [`Reverted::TargetGone`].
pub fn revert(undo: &Undo) -> Result<Reverted, FaultError> {
    match undo {
        Undo::Nothing => Ok(Reverted::AlreadyClean),
        Undo::CpuMax { path, previous } => cpu::revert_v2(path, previous),
        Undo::CfsQuota { dir, quota, period } => cpu::revert_v1(dir, *quota, *period),
        Undo::Thaw { path } => freeze::revert(path),
        Undo::Qdisc {
            netns,
            interface,
            handle,
        } => netem::revert(netns, interface, *handle),
    }
}

/// Whether an error from a cgroup or /proc file means the object is gone:
/// ENOENT for a removed file, ENODEV for a removed cgroup's open file,
/// ESRCH for a dead process.
fn gone(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::NotFound
        || matches!(e.raw_os_error(), Some(libc::ENODEV) | Some(libc::ESRCH))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn undo_is_tagged_by_kind_in_json() {
        let undo = Undo::CfsQuota {
            dir: "/sys/fs/cgroup/cpu/jolt/web".into(),
            quota: -1,
            period: 100000,
        };
        let json = serde_json::to_string(&undo).unwrap();
        assert_eq!(
            json,
            r#"{"kind":"cfs-quota","dir":"/sys/fs/cgroup/cpu/jolt/web","quota":-1,"period":100000}"#
        );
        assert_eq!(serde_json::from_str::<Undo>(&json).unwrap(), undo);
        assert_eq!(
            serde_json::to_string(&Undo::Nothing).unwrap(),
            r#"{"kind":"nothing"}"#
        );
    }

    #[test]
    fn netem_missing_names_the_module() {
        let e = FaultError::NetemMissing {
            container: "web".into(),
        };
        assert_eq!(
            e.to_string(),
            "container web: network-delay: sch_netem is not available in this kernel (modprobe sch_netem)"
        );
    }
}
