//! cgroups: a container's cgroup — made with `linux.resources` applied,
//! frozen and thawed, signalled, read for its counters, and removed — behind
//! one [`CgroupManager`] trait with an implementation per driver:
//!
//! - cgroupfs v1 and v2 ([`fs`]): jolt makes the directories itself under
//!   `linux.cgroupsPath` (default `/jolt/<id>`), through cgroups-rs;
//! - systemd ([`systemd`], `jolt --systemd-cgroup`): systemd makes a
//!   transient scope over D-Bus from a `slice:prefix:name` path, and the
//!   files systemd does not write are written as on cgroupfs.
//!
//! The container lifecycle picks the driver once, at create, records it in
//! state.json ([`Driver`]), and from then on asks [`open`] for the manager:
//! it never branches on the driver or the cgroup version itself.
//! [`placement`] finds where any process's cgroup is (the chaos faults use
//! it for containers of every driver). Mounting cgroupfs inside the
//! container is rootfs's job, from [`CgroupManager::host_dirs`].

mod error;
pub mod freezer;
pub mod fs;
pub mod members;
pub mod placement;
pub mod subgroup;
pub mod systemd;

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;

use cgroups_rs::fs::hierarchies;
use oci_spec::runtime::LinuxResources;
use serde::{Deserialize, Serialize};

pub use error::CgroupError;

/// Who makes a container's cgroup, as chosen by `jolt --systemd-cgroup`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Driver {
    /// jolt, in cgroupfs (the default).
    #[default]
    Cgroupfs,
    /// systemd, as a transient scope unit.
    Systemd,
}

impl Driver {
    /// The driver's cgroup path for `linux.cgroupsPath` (None: the
    /// driver's default for container `id`), relative to each hierarchy's
    /// root: "jolt/web" for cgroupfs, "system.slice/jolt-web.scope" for
    /// systemd. Pure; refuses what the driver cannot use.
    pub fn resolve_path(self, cgroups_path: Option<&str>, id: &str) -> Result<String, CgroupError> {
        match self {
            Driver::Cgroupfs => fs::resolve_path(cgroups_path, id),
            Driver::Systemd => systemd::Scope::parse(cgroups_path, id).map(|s| s.path()),
        }
    }
}

impl Driver {
    /// Fails, naming the cause, when this host cannot use the driver
    /// (systemd's: systemd is not the init).
    pub fn check_available(self) -> Result<(), CgroupError> {
        match self {
            Driver::Cgroupfs => Ok(()),
            Driver::Systemd => systemd::check_running(),
        }
    }
}

impl fmt::Display for Driver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Driver::Cgroupfs => "cgroupfs",
            Driver::Systemd => "systemd",
        })
    }
}

/// What a new cgroup is made with, from config.json.
#[derive(Debug, Default, Clone, Copy)]
pub struct Settings<'a> {
    /// `linux.resources`.
    pub resources: Option<&'a LinuxResources>,
    /// The annotations: systemd's driver makes `org.systemd.property.*`
    /// unit properties; cgroupfs ignores them.
    pub annotations: Option<&'a HashMap<String, String>>,
}

/// What jolt does with one container's cgroup. Every method names the
/// cgroup in its errors; none panics on a cgroup that is gone.
pub trait CgroupManager: fmt::Debug {
    /// The path relative to each hierarchy's root, e.g. "jolt/web".
    fn path(&self) -> &str;

    /// The host directories of the cgroup: on v1 one per mounted hierarchy,
    /// named after the hierarchy's mount directory (("memory",
    /// /sys/fs/cgroup/memory/jolt/x), ("cpu,cpuacct", ...), ("systemd", ...)
    /// for name=systemd), and on a hybrid host ("unified",
    /// /sys/fs/cgroup/unified/jolt/x) as runc makes it; on v2 one ("",
    /// /sys/fs/cgroup/jolt/x). They may not exist (yet, or any more).
    fn host_dirs(&self) -> Vec<(String, PathBuf)>;

    /// Makes the cgroup with `settings` applied, checked before anything
    /// is made. `holder` is a live process that will be in it: systemd puts
    /// it in the scope it makes (a scope cannot start empty); on cgroupfs
    /// processes join by themselves ([`join_self`]). If anything fails,
    /// what this call made is removed before the error is returned.
    fn create(&self, settings: Settings, holder: i32) -> Result<(), CgroupError>;

    /// The cgroup's directory in the unified hierarchy (v2, or a hybrid
    /// host's cgroup2) that a new process can be born in once `create`
    /// made it ([`fork_into`]): moving one in later through cgroup.procs
    /// waits for an RCU grace period (15 to 30 ms on an idle machine).
    /// None where the driver places the first process itself (systemd).
    fn clone_target(&self) -> Option<PathBuf> {
        None
    }

    /// Applies `resources` to the live cgroup (`jolt update`) with the
    /// checks create makes; device rules stay as they are (as with runc).
    fn update(&self, resources: &LinuxResources) -> Result<(), CgroupError>;

    /// Freezes every process (`jolt pause`), waiting (bounded) until the
    /// kernel reports it frozen.
    fn freeze(&self) -> Result<(), CgroupError>;

    /// Thaws the cgroup (`jolt resume`).
    fn thaw(&self) -> Result<(), CgroupError>;

    /// Pids of every process in the cgroup and the cgroups nested in it;
    /// empty if the cgroup is gone.
    fn pids(&self) -> Result<Vec<i32>, CgroupError>;

    /// Sends `signal` to every process in the cgroup (`kill --all`), with
    /// the cgroup frozen meanwhile so none escapes by forking; a paused
    /// cgroup stays paused, except that SIGKILL thaws it.
    fn signal_all(&self, signal: libc::c_int) -> Result<(), CgroupError>;

    /// The cgroup's counters (cpu, memory, pids, blkio, hugetlb); what a
    /// controller lacks is zero or None.
    fn stats(&self) -> Result<cgroups_rs::stats::CgroupStats, CgroupError>;

    /// Kills what is left (bounded wait) and removes the cgroup, its nested
    /// cgroups and what the driver made for it (jolt's own empty parents; a
    /// systemd unit). Idempotent: a cgroup already gone is Ok.
    fn destroy(&self) -> Result<(), CgroupError>;
}

/// The manager of the cgroup at `path` (as [`Driver::resolve_path`] made
/// it) under `driver`, for this host's cgroup version. Creates nothing.
pub fn open(driver: Driver, path: &str) -> Result<Box<dyn CgroupManager>, CgroupError> {
    let v2 = is_v2();
    Ok(match (driver, v2) {
        (Driver::Cgroupfs, true) => Box::new(fs::Cgroupfs::<fs::V2>::open(path)?),
        (Driver::Cgroupfs, false) => Box::new(fs::Cgroupfs::<fs::V1>::open(path)?),
        (Driver::Systemd, true) => Box::new(systemd::Systemd::<fs::V2>::open(path)?),
        (Driver::Systemd, false) => Box::new(systemd::Systemd::<fs::V1>::open(path)?),
    })
}

/// Moves the calling process, which must be single-threaded, into the
/// cgroup whose host directories `host_dirs` returned. On v1 it writes "0"
/// to each hierarchy's `tasks`: a thread moving itself is the one case the
/// kernel does without taking the global threadgroup rwsem, whose write side
/// waits for an RCU grace period on every write to `cgroup.procs` (measured
/// here: 12 ms for the 9 hierarchies of this host when its CPUs idle). On v2
/// there is one directory and `cgroup.procs`.
pub fn join_self(dirs: &[(String, PathBuf)]) -> Result<(), JoinError> {
    let v2 = is_v2();
    for (name, dir) in dirs {
        let unified = v2 || name == HYBRID_UNIFIED;
        let path = dir.join(if unified { "cgroup.procs" } else { "tasks" });
        std::fs::write(&path, "0").map_err(|err| JoinError { file: path, err })?;
    }
    Ok(())
}

/// The name [`CgroupManager::host_dirs`] gives the cgroup2 hierarchy of a
/// hybrid host (v1 controllers, cgroup2 at /sys/fs/cgroup/unified), which
/// takes a process through cgroup.procs, as v2 does.
pub const HYBRID_UNIFIED: &str = "unified";

/// fork(2), with the child born in the cgroup `cgroup` names when given
/// (clone3 with CLONE_INTO_CGROUP, Linux 5.7): no later move, and no wait
/// for the cgroup core's RCU grace period. On an older kernel (ENOSYS,
/// EINVAL) a plain fork. Returns whether the child was born in `cgroup`.
/// The caller must be single-threaded, as for fork.
pub fn fork_into(
    cgroup: Option<std::os::fd::BorrowedFd>,
) -> nix::Result<(nix::unistd::ForkResult, bool)> {
    use nix::errno::Errno;
    use std::os::fd::AsRawFd;
    if let Some(cgroup) = cgroup {
        const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;
        // SAFETY: clone_args is plain data; zero is "not used" for every field.
        let mut args: libc::clone_args = unsafe { std::mem::zeroed() };
        args.flags = CLONE_INTO_CGROUP;
        args.exit_signal = libc::SIGCHLD as u64;
        args.cgroup = cgroup.as_raw_fd() as u64;
        // SAFETY: without CLONE_VM or a stack the child gets a copy of this
        // process, as with fork; the caller is single-threaded, so no lock
        // is held by a thread the child would not have.
        let pid = unsafe {
            libc::syscall(
                libc::SYS_clone3,
                &args as *const libc::clone_args,
                std::mem::size_of::<libc::clone_args>(),
            )
        };
        match Errno::result(pid) {
            Ok(0) => return Ok((nix::unistd::ForkResult::Child, true)),
            Ok(pid) => {
                let child = nix::unistd::Pid::from_raw(pid as i32);
                return Ok((nix::unistd::ForkResult::Parent { child }, true));
            }
            Err(Errno::ENOSYS | Errno::EINVAL) => {}
            Err(e) => return Err(e),
        }
    }
    // SAFETY: the caller is single-threaded (see above).
    unsafe { nix::unistd::fork() }.map(|f| (f, false))
}

/// A cgroup the calling process could not move into.
#[derive(Debug, thiserror::Error)]
#[error("joining cgroup {}: {}", file.display(), crate::os_text(err))]
pub struct JoinError {
    pub file: PathBuf,
    pub err: std::io::Error,
}

/// True when the host is unified (pure cgroup v2).
pub fn is_v2() -> bool {
    hierarchies::is_cgroup2_unified_mode()
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::sys::wait::{waitpid, WaitStatus};
    use nix::unistd::ForkResult;

    /// A child born in a cgroup2 directory of the test's own (v2, or a
    /// hybrid host's /sys/fs/cgroup/unified) shows it on its 0:: line.
    #[test]
    fn root_a_child_is_born_in_the_cgroup_it_was_cloned_into() {
        let root = ["/sys/fs/cgroup/unified", "/sys/fs/cgroup"]
            .map(std::path::Path::new)
            .into_iter()
            .find(|r| r.join("cgroup.procs").exists() && r.join("cgroup.threads").exists());
        let (Some(root), true) = (root, nix::unistd::Uid::effective().is_root()) else {
            eprintln!("skipped: needs root and a cgroup2 hierarchy");
            return;
        };
        let name = format!("jolt-fork-into-{}", std::process::id());
        let dir = root.join(&name);
        std::fs::create_dir(&dir).unwrap();
        let fd = nix::fcntl::open(
            &dir,
            nix::fcntl::OFlag::O_PATH | nix::fcntl::OFlag::O_DIRECTORY,
            nix::sys::stat::Mode::empty(),
        )
        .unwrap();
        let (forked, born_in) = fork_into(Some(std::os::fd::AsFd::as_fd(&fd))).unwrap();
        match forked {
            ForkResult::Child => {
                let own = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
                let here = own
                    .lines()
                    .any(|l| l.starts_with("0::") && l.ends_with(&name));
                // SAFETY: exit the forked test process without unwinding.
                unsafe { libc::_exit(if here { 0 } else { 1 }) }
            }
            ForkResult::Parent { child } => {
                let status = waitpid(child, None).unwrap();
                std::fs::remove_dir(&dir).unwrap();
                assert!(born_in);
                assert_eq!(status, WaitStatus::Exited(child, 0), "the child's 0:: line");
            }
        }
    }
}
