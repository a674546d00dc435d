//! cgroups: the container's cgroup — creating it with `linux.resources`
//! applied, putting processes in it, signalling them, and removing it.
//!
//! cgroups-rs does the kernel work: its `fs::Cgroup` creates and deletes the
//! directories (one per mounted hierarchy on v1, one on v2, enabling the
//! controllers in the parents' `cgroup.subtree_control` on v2) and moves
//! processes, and its `FsManager::set` applies `linux.resources`. This module
//! owns what cgroups-rs leaves to its caller: the path rules
//! ([`resolve_path`]), refusing a cgroup that is in use, removing what a
//! failed create made, killing everything before removal, and the v1 device
//! rules (where cgroups-rs mistranslates wildcards). Each piece of code of our
//! own says why cgroups-rs does not do it.
//!
//! It does not mount cgroupfs inside the container (rootfs does, from
//! [`Cgroup::host_dirs`]) and has no systemd driver.

use std::io;
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

use cgroups_rs::fs::devices::{DevicePermissions, DeviceType, DevicesController};
use cgroups_rs::fs::error::{Error as FsError, ErrorKind as FsErrorKind};
use cgroups_rs::fs::freezer::FreezerController;
use cgroups_rs::fs::hierarchies;
use cgroups_rs::fs::Controller;
use cgroups_rs::manager::Error as ManagerError;
use cgroups_rs::{FreezerState, FsManager, Manager};
use nix::errno::Errno;
use oci_spec::runtime::{LinuxDeviceCgroup, LinuxResources};

/// Where a container's cgroup goes when config.json names none: `/jolt/<id>`.
const DEFAULT_PARENT: &str = "jolt";
/// How long [`Cgroup::destroy`] keeps killing before it gives up.
const DESTROY_TIMEOUT: Duration = Duration::from_secs(5);
/// How long signalling waits for a v1 freezer to reach FROZEN.
const FREEZE_TIMEOUT: Duration = Duration::from_secs(1);
const POLL_INTERVAL: Duration = Duration::from_millis(20);

/// Errors name the cgroup path and the cause, e.g. "cgroup /jolt/web:
/// memory.limit_in_bytes: write 1000: Device or resource busy".
#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    /// `linux.cgroupsPath` cannot be used.
    #[error("cgroupsPath {path:?}: {reason}")]
    InvalidPath { path: String, reason: &'static str },
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
    /// `create` found the cgroup already holding processes.
    #[error("cgroup /{path}: already exists and holds processes {pids:?}; is another container using this cgroupsPath?")]
    InUse { path: String, pids: Vec<i32> },
    #[error(transparent)]
    Devices(#[from] crate::devices::DeviceError),
    /// `destroy` killed, waited, and processes are still there.
    #[error("cgroup /{path}: processes {pids:?} are still in it {timeout:?} after SIGKILL; not removing it")]
    Busy {
        path: String,
        pids: Vec<i32>,
        timeout: Duration,
    },
    /// A process in the cgroup could not be signalled.
    #[error("cgroup /{path}: send {} to pid {pid}: {}", crate::signal::name(*signal), errno.desc())]
    Signal {
        path: String,
        pid: i32,
        signal: libc::c_int,
        errno: Errno,
    },
}

/// Pure: turns `linux.cgroupsPath` (None → "/jolt/<id>") into the relative
/// path used under each hierarchy.
///
/// Rejects a path with ".." components, an empty path (or one naming the root
/// cgroup itself), and the systemd "slice:prefix:name" form. Both "/a/b" and
/// "a/b" map to "a/b" under the hierarchy root (runc treats an absolute path
/// that way; jolt treats a relative one the same).
pub fn resolve_path(cgroups_path: Option<&str>, id: &str) -> Result<String, CgroupError> {
    match cgroups_path {
        Some(path) => normalize(path),
        None => normalize(&format!("/{DEFAULT_PARENT}/{id}")),
    }
}

fn normalize(raw: &str) -> Result<String, CgroupError> {
    let invalid = |reason| {
        Err(CgroupError::InvalidPath {
            path: raw.to_string(),
            reason,
        })
    };
    let parts: Vec<&str> = raw.split(':').collect();
    if parts.len() == 3 && !parts[0].contains('/') {
        return invalid(
            "systemd cgroup paths need --systemd-cgroup, which jolt does not support yet",
        );
    }
    let mut components = Vec::new();
    for component in raw.split('/') {
        match component {
            "" | "." => {}
            ".." => return invalid("must not contain \"..\" components"),
            name => components.push(name),
        }
    }
    if components.is_empty() {
        return invalid(if raw.is_empty() {
            "is empty"
        } else {
            "names the root cgroup, which a container cannot own"
        });
    }
    Ok(components.join("/"))
}

/// Moves the calling process, which must be single-threaded, into the
/// cgroup whose host directories `host_dirs` returned. On v1 it writes "0"
/// to each hierarchy's `tasks`: a thread moving itself is the one case the
/// kernel does without taking the global threadgroup rwsem, whose write side
/// waits for an RCU grace period on every write to `cgroup.procs` (measured
/// here: 12 ms for the 9 hierarchies of this host when its CPUs idle). On v2
/// there is one directory and `cgroup.procs`.
pub fn join_self(dirs: &[(String, PathBuf)]) -> Result<(), String> {
    let file = if is_v2() { "cgroup.procs" } else { "tasks" };
    for (_, dir) in dirs {
        let path = dir.join(file);
        std::fs::write(&path, "0")
            .map_err(|e| format!("joining cgroup {}: {e}", path.display()))?;
    }
    Ok(())
}

/// True when the host is unified (pure cgroup v2).
pub fn is_v2() -> bool {
    hierarchies::is_cgroup2_unified_mode()
}

/// A container's cgroup: its path relative to each hierarchy's root, and the
/// cgroups-rs handle on it (one directory per mounted hierarchy on v1).
#[derive(Debug)]
pub struct Cgroup {
    path: String,
    cgroup: cgroups_rs::fs::Cgroup,
}

impl Cgroup {
    /// Creates the cgroup (all hierarchies on v1, one dir on v2) and applies
    /// `linux.resources`: memory (limit, reservation, swap), cpu (shares,
    /// quota, period, cpus, mems; on v2 shares become a weight), pids (limit)
    /// and, through cgroups-rs, blkio, hugepages and network. When the
    /// config has device rules, it applies them followed by the devices runc
    /// allows every container: as devices.allow/deny on v1, as an eBPF
    /// program (see `devices`) on v2.
    ///
    /// A cgroup that already exists is reused if it holds no process, and is
    /// an error otherwise. If anything fails, the directories this call made
    /// are removed before the error is returned, and with them the empty
    /// parents under jolt's own `/jolt` (as [`Cgroup::destroy`] does).
    pub fn create(path: &str, resources: Option<&LinuxResources>) -> Result<Cgroup, CgroupError> {
        let cg = Cgroup::open(path)?;
        let v2 = cg.cgroup.v2();
        let (resources, devices) = match resources {
            Some(r) => {
                let (rest, devices) = prepare(&cg.path, r, v2)?;
                (Some(rest), devices)
            }
            None => (None, Devices::None),
        };
        if let Some(resources) = &resources {
            cg.check_controllers(resources, matches!(devices, Devices::V1(_)))?;
        }

        let dirs: Vec<PathBuf> = cg.host_dirs().into_iter().map(|(_, d)| d).collect();
        if dirs.iter().any(|d| d.exists()) {
            let pids = cg.pids()?;
            if !pids.is_empty() {
                return Err(CgroupError::InUse {
                    path: cg.path.clone(),
                    pids,
                });
            }
        }
        let created: Vec<PathBuf> = dirs.into_iter().filter(|d| !d.exists()).collect();

        let result = cg
            .make_dirs()
            .and_then(|()| cg.apply(resources.as_ref(), &devices));
        if let Err(err) = result {
            cg.remove_created(&created);
            cg.remove_own_parents();
            return Err(err);
        }
        Ok(cg)
    }

    /// Opens an existing cgroup by path (for `kill --all`, `delete`). Does not
    /// create anything, and does not fail when the cgroup is gone: then
    /// [`Cgroup::pids`] is empty and [`Cgroup::destroy`] succeeds.
    pub fn open(path: &str) -> Result<Cgroup, CgroupError> {
        let path = normalize(path)?;
        let cgroup = cgroups_rs::fs::Cgroup::load(hierarchies::auto(), &path);
        Ok(Cgroup { path, cgroup })
    }

    /// The path relative to each hierarchy's root, e.g. "jolt/web".
    pub fn path(&self) -> &str {
        &self.path
    }

    /// Moves process `pid` (with all its threads) into the cgroup, in every
    /// hierarchy on v1. (Containers join with `join_self`; tests use this.)
    #[cfg(test)]
    pub fn add_process(&self, pid: i32) -> Result<(), CgroupError> {
        use cgroups_rs::CgroupPid;
        // The kernel reads pid 0 in cgroup.procs as "the writer": jolt itself.
        let tgid =
            u64::try_from(pid)
                .ok()
                .filter(|&p| p > 0)
                .ok_or_else(|| CgroupError::Cgroups {
                    path: self.path.clone(),
                    what: format!("add process {pid}"),
                    detail: "not a process id".into(),
                })?;
        self.cgroup
            .add_task_by_tgid(CgroupPid::from(tgid))
            .map_err(|e| self.fs_error(&format!("add process {pid}"), e))
    }

    /// Pids of every process in the cgroup and in any cgroup nested below it
    /// (on v1 read from one hierarchy: freezer, else pids, else memory).
    /// Empty if the cgroup is gone.
    pub fn pids(&self) -> Result<Vec<i32>, CgroupError> {
        let mut pids = Vec::new();
        if let Some(dir) = self.procs_dir() {
            // cgroups-rs reads cgroup.procs of one directory only and turns
            // read errors into an empty list; processes in nested cgroups
            // count too, and a failed read must not look like "no process".
            self.collect_procs(&dir, &mut pids)?;
        }
        pids.sort_unstable();
        pids.dedup();
        Ok(pids)
    }

    /// Sends `signal` to every process in the cgroup (for `kill --all`).
    ///
    /// The cgroup is frozen while its processes are listed and signalled, so
    /// none can fork an unsignalled child or exit and have its pid reused;
    /// it is then thawed unless it was frozen (paused) before — except for
    /// SIGKILL, which a frozen v1 process would never act on. On v2, SIGKILL
    /// goes through `cgroup.kill` when the kernel has it.
    pub fn signal_all(&self, signal: libc::c_int) -> Result<(), CgroupError> {
        if self.cgroup.v2()
            && signal == libc::SIGKILL
            && Path::new(hierarchies::UNIFIED_MOUNTPOINT)
                .join(&self.path)
                .join("cgroup.kill")
                .exists()
        {
            return self
                .cgroup
                .kill()
                .map_err(|e| self.fs_error("cgroup.kill", e));
        }

        let freezer = self
            .cgroup
            .controller_of::<FreezerController>()
            .filter(|f| f.exists());
        let mut thaw_after = false;
        if let Some(freezer) = freezer {
            let state = freezer
                .state()
                .map_err(|e| self.fs_error("freezer state", e))?;
            if matches!(state, FreezerState::Thawed) {
                freezer.freeze().map_err(|e| self.fs_error("freeze", e))?;
                self.wait_frozen(freezer);
                thaw_after = true;
            } else {
                thaw_after = signal == libc::SIGKILL;
            }
        }

        let result = self.pids().and_then(|pids| self.send(&pids, signal));
        if let (Some(freezer), true) = (freezer, thaw_after) {
            let thawed = freezer.thaw().map_err(|e| self.fs_error("thaw", e));
            return result.and(thawed);
        }
        result
    }

    /// SIGKILLs anything left, waits (bounded, 5 s, polling) until no process
    /// is left, then removes the directories in every hierarchy, nested
    /// cgroups included, and the parents under jolt's own `/jolt` that no
    /// other cgroup uses any more. Idempotent: a cgroup that is already gone
    /// is Ok.
    pub fn destroy(&self) -> Result<(), CgroupError> {
        if !self.host_dirs().iter().any(|(_, d)| d.exists()) {
            self.remove_own_parents();
            return Ok(());
        }
        let deadline = Instant::now() + DESTROY_TIMEOUT;
        loop {
            let pids = self.pids()?;
            if pids.is_empty() {
                break;
            }
            if Instant::now() >= deadline {
                return Err(CgroupError::Busy {
                    path: self.path.clone(),
                    pids,
                    timeout: DESTROY_TIMEOUT,
                });
            }
            self.signal_all(libc::SIGKILL)?;
            thread::sleep(POLL_INTERVAL);
        }
        // Not cgroups-rs's Cgroup::delete (nor FsManager::destroy, which
        // first moves leftover processes to the root cgroup): on v2 it is a
        // bare rmdir that fails on nested cgroups and on a cgroup already
        // gone. Each controller's delete removes nested cgroups, retries
        // while the kernel still reports the cgroup busy, and is Ok when the
        // directory is gone (on v2 all controllers share the one directory).
        for subsystem in self.cgroup.subsystems() {
            subsystem
                .to_controller()
                .delete()
                .map_err(|e| self.fs_error("remove", e))?;
        }
        self.remove_own_parents();
        Ok(())
    }

    /// Freezes every process in the cgroup (`jolt pause`): freezer.state on
    /// v1, cgroup.freeze on v2. Waits (bounded) until v1 reports FROZEN.
    pub fn freeze(&self) -> Result<(), CgroupError> {
        let freezer = self.freezer()?;
        freezer.freeze().map_err(|e| self.fs_error("freeze", e))?;
        self.wait_frozen(freezer);
        Ok(())
    }

    /// Thaws the cgroup (`jolt resume`).
    pub fn thaw(&self) -> Result<(), CgroupError> {
        self.freezer()?.thaw().map_err(|e| self.fs_error("thaw", e))
    }

    fn freezer(&self) -> Result<&FreezerController, CgroupError> {
        self.cgroup
            .controller_of::<FreezerController>()
            .filter(|f| f.exists())
            .ok_or_else(|| CgroupError::Cgroups {
                path: self.path.clone(),
                what: "freezer".into(),
                detail: "the freezer controller is not available here".into(),
            })
    }

    /// Applies `resources` to the live cgroup (`jolt update`) with the
    /// checks `create` makes. Device rules are left as they are, as runc
    /// leaves them.
    pub fn update(&self, resources: &LinuxResources) -> Result<(), CgroupError> {
        let mut resources = resources.clone();
        resources.set_devices(None);
        let (rest, _) = prepare(&self.path, &resources, self.cgroup.v2())?;
        self.check_controllers(&rest, false)?;
        self.apply(Some(&rest), &Devices::None)
    }

    /// The cgroup's counters (cpu, memory, pids, blkio, hugetlb), as
    /// cgroups-rs reads them; what a controller lacks is zero or None.
    pub fn stats(&self) -> Result<cgroups_rs::stats::CgroupStats, CgroupError> {
        let manager = FsManager::new(&self.path)
            .map_err(|e| self.manager_error("read /proc/self/cgroup", e))?;
        Ok(manager.stats())
    }

    /// Makes the cgroup's directories in every hierarchy. Another container
    /// leaving `/jolt` may remove an empty parent while we make it and the
    /// leaf in it; once the leaf exists the parent is busy, so a few retries
    /// get through.
    fn make_dirs(&self) -> Result<(), CgroupError> {
        const ATTEMPTS: usize = 10;
        let mut attempt = 1;
        loop {
            match self.cgroup.create().map_err(|e| self.fs_error("create", e)) {
                // ENOENT: the parent went between the mkdirs. EEXIST: it
                // went between mkdir and create_dir_all's is_dir check.
                Err(CgroupError::Io { err, .. })
                    if matches!(
                        err.kind(),
                        io::ErrorKind::NotFound | io::ErrorKind::AlreadyExists
                    ) && attempt < ATTEMPTS =>
                {
                    attempt += 1;
                }
                result => return result,
            }
        }
    }

    /// Removes the empty ancestors of this cgroup inside jolt's own
    /// `/jolt` subtree, deepest first, in every hierarchy: jolt made them,
    /// so the last container to leave takes them. rmdir of a cgroup that
    /// still has children fails (EBUSY), so a parent another container
    /// uses stays, with no check-then-act race; a concurrent create that
    /// loses its parent makes it again (create_dir_all retries). Parents of
    /// a cgroupsPath outside `/jolt` belong to whoever named them (and may
    /// carry their limits): they stay, as with runc.
    fn remove_own_parents(&self) {
        let components: Vec<&str> = self.path.split('/').collect();
        if components.len() < 2 || components[0] != DEFAULT_PARENT {
            return;
        }
        for (_, leaf) in self.host_dirs() {
            for parent in leaf.ancestors().skip(1).take(components.len() - 1) {
                match std::fs::remove_dir(parent) {
                    Ok(()) => {}
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    // Busy or not empty: another container is in it, and
                    // so in every ancestor above.
                    Err(_) => break,
                }
            }
        }
    }

    /// The host directories of this cgroup: on v1 one per mounted hierarchy,
    /// named after the hierarchy's mount directory (e.g. ("memory",
    /// /sys/fs/cgroup/memory/jolt/x), ("cpu,cpuacct", ...) where those are
    /// mounted together, ("systemd", ...) for name=systemd); on v2 one ("",
    /// /sys/fs/cgroup/jolt/x). They may not exist (yet, or any more).
    pub fn host_dirs(&self) -> Vec<(String, PathBuf)> {
        if self.cgroup.v2() {
            let dir = Path::new(hierarchies::UNIFIED_MOUNTPOINT).join(&self.path);
            return vec![(String::new(), dir)];
        }
        let depth = Path::new(&self.path).components().count();
        let mut dirs: Vec<(String, PathBuf)> = Vec::new();
        for subsystem in self.cgroup.subsystems() {
            let dir = subsystem.to_controller().path();
            if dirs.iter().any(|(_, d)| d == dir) {
                continue;
            }
            let name = dir
                .ancestors()
                .nth(depth)
                .and_then(Path::file_name)
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| subsystem.controller_name());
            dirs.push((name, dir.to_path_buf()));
        }
        dirs
    }

    /// Applies resources (devices already split off by [`prepare`]).
    fn apply(
        &self,
        resources: Option<&LinuxResources>,
        devices: &Devices,
    ) -> Result<(), CgroupError> {
        if let Some(resources) = resources {
            let mut manager = FsManager::new(&self.path)
                .map_err(|e| self.manager_error("read /proc/self/cgroup", e))?;
            manager
                .set(resources)
                .map_err(|e| self.manager_error("apply linux.resources", e))?;
            if self.cgroup.v2() {
                self.lift_v2_memory_limits(resources)?;
            }
        }
        let devices = match devices {
            Devices::None => return Ok(()),
            Devices::V2(rules) => {
                for (_, dir) in self.host_dirs() {
                    crate::devices::attach(&dir, rules)?;
                }
                return Ok(());
            }
            Devices::V1(devices) => devices,
        };
        let controller = self
            .cgroup
            .controller_of::<DevicesController>()
            .ok_or_else(|| self.missing("devices", "devices"))?;
        for rule in devices {
            let written = if rule.allow {
                controller.allow_device(rule.typ, rule.major, rule.minor, &rule.access)
            } else {
                controller.deny_device(rule.typ, rule.major, rule.minor, &rule.access)
            };
            written.map_err(|e| self.fs_error("devices", e))?;
        }
        Ok(())
    }

    /// Fails, naming the controller, when `resources` asks for something
    /// whose controller this host lacks. cgroups-rs would fail only halfway
    /// through, with "subsystems is empty". It needs both cpu and cpuset for
    /// any `cpu` section.
    fn check_controllers(
        &self,
        resources: &LinuxResources,
        devices: bool,
    ) -> Result<(), CgroupError> {
        let network = resources.network().as_ref();
        let needed = [
            ("memory", "memory", resources.memory().is_some()),
            ("cpu", "cpu", resources.cpu().is_some()),
            ("cpu", "cpuset", resources.cpu().is_some()),
            ("pids", "pids", resources.pids().is_some()),
            ("blockIO", "blkio", resources.block_io().is_some()),
            (
                "hugepageLimits",
                "hugetlb",
                resources
                    .hugepage_limits()
                    .as_ref()
                    .is_some_and(|l| !l.is_empty()),
            ),
            (
                "network.classID",
                "net_cls",
                network.is_some_and(|n| n.class_id().is_some()),
            ),
            (
                "network.priorities",
                "net_prio",
                network.is_some_and(|n| n.priorities().is_some()),
            ),
            ("devices", "devices", devices),
        ];
        let subsystems = self.cgroup.subsystems();
        for (field, controller, wanted) in needed {
            if wanted && !subsystems.iter().any(|s| s.controller_name() == controller) {
                return Err(self.missing(field, controller));
            }
        }
        Ok(())
    }

    /// A memory or swap limit of -1 ("no limit") on v2: cgroups-rs writes
    /// nothing when both are -1 or 0, so a lifted limit would stay; write
    /// "max", as runc does.
    fn lift_v2_memory_limits(&self, resources: &LinuxResources) -> Result<(), CgroupError> {
        let Some(memory) = resources.memory() else {
            return Ok(());
        };
        let dir = Path::new(hierarchies::UNIFIED_MOUNTPOINT).join(&self.path);
        for (value, file) in [
            (memory.limit(), "memory.max"),
            (memory.swap(), "memory.swap.max"),
        ] {
            let path = dir.join(file);
            if value == Some(-1) && path.exists() {
                std::fs::write(&path, "max").map_err(|err| CgroupError::Io {
                    path: self.path.clone(),
                    what: format!("{file}: write max"),
                    err,
                })?;
            }
        }
        Ok(())
    }

    fn missing(&self, field: &'static str, controller: &str) -> CgroupError {
        let reason = if self.cgroup.v2() {
            format!(
                "the {controller} controller is not available \
                 (not listed in {}/cgroup.controllers)",
                hierarchies::UNIFIED_MOUNTPOINT
            )
        } else {
            format!("the {controller} controller is not available (no {controller} hierarchy is mounted)")
        };
        CgroupError::InvalidResources {
            path: self.path.clone(),
            field,
            reason,
        }
    }

    /// Best effort, after a failed create: remove the directories it made.
    /// Plain rmdir, since cgroups-rs can only delete every hierarchy's
    /// directory, including ones that existed before.
    fn remove_created(&self, created: &[PathBuf]) {
        for dir in created {
            match std::fs::remove_dir(dir) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => tracing::warn!(
                    "cgroup /{}: cannot remove {} after a failed create: {}",
                    self.path,
                    dir.display(),
                    crate::os_text(&e)
                ),
            }
        }
    }

    /// The directory whose cgroup.procs lists the members.
    fn procs_dir(&self) -> Option<PathBuf> {
        if self.cgroup.v2() {
            return self.host_dirs().into_iter().next().map(|(_, d)| d);
        }
        let subsystems = self.cgroup.subsystems();
        ["freezer", "pids", "memory"]
            .iter()
            .find_map(|name| subsystems.iter().find(|s| s.controller_name() == *name))
            .or_else(|| subsystems.first())
            .map(|s| s.to_controller().path().to_path_buf())
    }

    fn collect_procs(&self, dir: &Path, pids: &mut Vec<i32>) -> Result<(), CgroupError> {
        let procs = dir.join("cgroup.procs");
        let text = match std::fs::read_to_string(&procs) {
            Ok(text) => text,
            // Gone, or removed while we walked the tree.
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(source) => return Err(self.io_error(&procs, "read", source)),
        };
        for line in text.lines() {
            let pid = line.trim().parse().map_err(|_| CgroupError::Cgroups {
                path: self.path.clone(),
                what: format!("{}: read", procs.display()),
                detail: format!("not a pid: {line:?}"),
            })?;
            pids.push(pid);
        }
        let entries = match std::fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(source) => return Err(self.io_error(dir, "list", source)),
        };
        for entry in entries {
            let entry = entry.map_err(|source| self.io_error(dir, "list", source))?;
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                self.collect_procs(&entry.path(), pids)?;
            }
        }
        Ok(())
    }

    /// Waits until a v1 freezer reports FROZEN, so that no process is left
    /// running between listing and signalling. Bounded: a process in
    /// uninterruptible sleep can hold FREEZING for long. (On v2 cgroups-rs
    /// reports the requested state, so this returns at once.)
    fn wait_frozen(&self, freezer: &FreezerController) {
        let deadline = Instant::now() + FREEZE_TIMEOUT;
        while Instant::now() < deadline {
            match freezer.state() {
                Ok(FreezerState::Freezing) => thread::sleep(POLL_INTERVAL),
                _ => return,
            }
        }
        tracing::warn!(
            "cgroup /{}: still freezing after {:?}; signalling anyway",
            self.path,
            FREEZE_TIMEOUT
        );
    }

    /// Signals each pid; a process that is already gone is not an error.
    /// Every pid is tried; the first failure is returned.
    fn send(&self, pids: &[i32], signal: libc::c_int) -> Result<(), CgroupError> {
        let mut first_error = None;
        for &pid in pids {
            match crate::signal::send(pid, signal) {
                Ok(()) | Err(Errno::ESRCH) => {}
                Err(errno) => {
                    first_error.get_or_insert(CgroupError::Signal {
                        path: self.path.clone(),
                        pid,
                        signal,
                        errno,
                    });
                }
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    fn io_error(&self, file: &Path, action: &str, source: io::Error) -> CgroupError {
        CgroupError::Io {
            path: self.path.clone(),
            what: format!("{}: {action}", file.display()),
            err: source,
        }
    }

    /// Rewords a cgroups-rs error as "<file>: write <value>: <cause>" or
    /// "<what>: <cause>".
    fn fs_error(&self, what: &str, err: FsError) -> CgroupError {
        let what = match err.kind() {
            FsErrorKind::WriteFailed(file, value) if value == "[CREATE FILE]" => {
                format!("{}: open", file_name(file))
            }
            FsErrorKind::WriteFailed(file, value) => format!("{}: write {value}", file_name(file)),
            FsErrorKind::ReadFailed(file) => format!("{}: read", file_name(file)),
            _ => what.to_string(),
        };
        let cause = std::error::Error::source(&err).and_then(|c| c.downcast_ref::<io::Error>());
        match cause {
            Some(cause) => CgroupError::Io {
                path: self.path.clone(),
                what,
                err: match cause.raw_os_error() {
                    Some(code) => io::Error::from_raw_os_error(code),
                    None => io::Error::new(cause.kind(), cause.to_string()),
                },
            },
            None => CgroupError::Cgroups {
                path: self.path.clone(),
                what,
                detail: err.kind().to_string(),
            },
        }
    }

    fn manager_error(&self, what: &str, err: ManagerError) -> CgroupError {
        match err {
            ManagerError::Cgroupfs(e) => self.fs_error(what, e),
            other => CgroupError::Cgroups {
                path: self.path.clone(),
                what: what.to_string(),
                detail: other.to_string(),
            },
        }
    }
}

/// The last path component of a file cgroups-rs names (sometimes a full path).
fn file_name(file: &str) -> String {
    Path::new(file)
        .file_name()
        .map_or_else(|| file.to_string(), |n| n.to_string_lossy().into_owned())
}

/// One rule for a v1 devices cgroup (devices.allow or devices.deny).
#[derive(Debug, Clone, PartialEq, Eq)]
struct DeviceRule {
    allow: bool,
    typ: DeviceType,
    /// -1 is the wildcard `*`, as cgroups-rs writes it.
    major: i64,
    minor: i64,
    access: Vec<DevicePermissions>,
}

/// The device rules jolt applies itself: v1 `devices.allow`/`deny` lines,
/// or the v2 rules compiled into an eBPF program.
#[derive(Debug)]
enum Devices {
    None,
    V1(Vec<DeviceRule>),
    V2(Vec<LinuxDeviceCgroup>),
}

/// Checks `linux.resources` before anything is created, and splits it into
/// what `FsManager::set` applies and the device rules jolt applies itself.
///
/// Checked here because cgroups-rs reports these only as "invalid linux
/// resource", or not at all.
fn prepare(
    path: &str,
    resources: &LinuxResources,
    v2: bool,
) -> Result<(LinuxResources, Devices), CgroupError> {
    let invalid = |field, reason: String| {
        Err(CgroupError::InvalidResources {
            path: path.to_string(),
            field,
            reason,
        })
    };
    let mut rest = resources.clone();

    if let Some(memory) = rest.memory_mut() {
        let limit = memory.limit().unwrap_or(0);
        let swap = memory.swap().unwrap_or(0);
        if swap > 0 && limit > 0 && swap < limit {
            return invalid(
                "memory.swap",
                format!(
                    "{swap} is below memory.limit {limit}: it limits memory plus swap, \
                     so it must be at least the limit (or -1 for no limit)"
                ),
            );
        }
        if swap > 0 && limit == 0 {
            return invalid(
                "memory.swap",
                "a memory plus swap limit needs memory.limit as well".into(),
            );
        }
        if let Some(swappiness) = memory.swappiness().filter(|&s| s > 100) {
            return invalid("memory.swappiness", format!("{swappiness} is above 100"));
        }
        // cgroups-rs writes memory.swap.max = 0 on v2 when only a limit is
        // given, which forbids swap; runc leaves it alone. "max" is what a
        // new cgroup has, and what v1 does with memory.memsw.
        if v2 && limit > 0 && memory.swap().is_none() {
            memory.set_swap(Some(-1));
        }
    }
    if rest.unified().as_ref().is_some_and(|u| !u.is_empty()) {
        return invalid("unified", "not supported by jolt yet".into());
    }
    if rest.rdma().as_ref().is_some_and(|r| !r.is_empty()) {
        return invalid("rdma", "not supported by jolt yet".into());
    }

    let rules = rest.devices_mut().take().unwrap_or_default();
    if rules.is_empty() {
        return Ok((rest, Devices::None));
    }
    // Both versions add the devices runc allows every container after the
    // config's own rules (see devices::with_defaults).
    let rules = crate::devices::with_defaults(&rules);
    if v2 {
        // Checked (compiled) now, attached once the directory exists.
        crate::devices::compile(&rules)?;
        return Ok((rest, Devices::V2(rules)));
    }
    let mut devices = Vec::with_capacity(rules.len());
    for (index, rule) in rules.iter().enumerate() {
        devices.push(
            device_rule(rule).map_err(|reason| CgroupError::InvalidResources {
                path: path.to_string(),
                field: "devices",
                reason: format!("rule {index}: {reason}"),
            })?,
        );
    }
    Ok((rest, Devices::V1(devices)))
}

/// Converts one config rule. cgroups-rs's own conversion writes a missing
/// major or minor as 0 instead of the wildcard `*`, so "c *:* m" would
/// become "c 0:0 m". A missing access means all of "rwm" (the kernel
/// rejects an empty one).
fn device_rule(rule: &LinuxDeviceCgroup) -> Result<DeviceRule, String> {
    let kind = rule.typ().unwrap_or_default();
    let typ = DeviceType::from_char(kind.as_str().chars().next())
        .ok_or_else(|| format!("type {:?} is not one of a, b, c", kind.as_str()))?;
    let access = rule.access().as_deref().unwrap_or("rwm");
    let access = if access.is_empty() { "rwm" } else { access };
    let access = access
        .chars()
        .map(|c| {
            DevicePermissions::from_char(c)
                .ok_or_else(|| format!("access {access:?} may hold only r, w and m"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let number = |n: Option<i64>, what| match n {
        None | Some(-1) => Ok(-1),
        Some(n) if n >= 0 => Ok(n),
        Some(n) => Err(format!("{what} {n} is negative")),
    };
    Ok(DeviceRule {
        allow: rule.allow(),
        typ,
        major: number(rule.major(), "major")?,
        minor: number(rule.minor(), "minor")?,
        access,
    })
}

/// The `root_*` tests also run in the VM (scripts/test's VM_TESTS), on its
/// pure cgroup v2.
#[cfg(test)]
mod tests {
    use super::*;

    use oci_spec::runtime::{
        LinuxCpuBuilder, LinuxDeviceCgroupBuilder, LinuxDeviceType, LinuxMemoryBuilder,
        LinuxPidsBuilder, LinuxResourcesBuilder,
    };
    use std::collections::HashMap;
    use std::io::Write;
    use std::os::unix::process::ExitStatusExt;
    use std::process::{Child, Command, Stdio};

    const MIB: i64 = 1024 * 1024;

    fn message(result: Result<String, CgroupError>) -> String {
        result.expect_err("should be rejected").to_string()
    }

    #[test]
    fn resolve_path_defaults_to_jolt_slash_id() {
        assert_eq!(resolve_path(None, "web").unwrap(), "jolt/web");
    }

    #[test]
    fn resolve_path_treats_absolute_and_relative_alike() {
        assert_eq!(resolve_path(Some("/a/b"), "web").unwrap(), "a/b");
        assert_eq!(resolve_path(Some("a/b"), "web").unwrap(), "a/b");
        assert_eq!(resolve_path(Some("//a/./b/"), "web").unwrap(), "a/b");
        assert_eq!(resolve_path(Some("/a:b"), "web").unwrap(), "a:b");
    }

    #[test]
    fn resolve_path_rejects_dot_dot() {
        assert_eq!(
            message(resolve_path(Some("/a/../../etc"), "web")),
            r#"cgroupsPath "/a/../../etc": must not contain ".." components"#
        );
        assert!(resolve_path(Some(".."), "web").is_err());
        assert!(resolve_path(None, "../escape").is_err());
    }

    #[test]
    fn resolve_path_rejects_empty_and_root() {
        assert_eq!(
            message(resolve_path(Some(""), "web")),
            r#"cgroupsPath "": is empty"#
        );
        assert!(message(resolve_path(Some("/"), "web")).contains("names the root cgroup"));
        assert!(resolve_path(Some("/./"), "web").is_err());
    }

    #[test]
    fn resolve_path_rejects_systemd_form() {
        assert_eq!(
            message(resolve_path(Some("x:y:z"), "web")),
            r#"cgroupsPath "x:y:z": systemd cgroup paths need --systemd-cgroup, which jolt does not support yet"#
        );
        assert!(resolve_path(Some("system.slice:cri-containerd:abc"), "web").is_err());
        assert!(resolve_path(Some(":libpod:abc"), "web").is_err());
    }

    fn memory(limit: Option<i64>, swap: Option<i64>) -> LinuxResources {
        let mut m = LinuxMemoryBuilder::default();
        if let Some(limit) = limit {
            m = m.limit(limit);
        }
        if let Some(swap) = swap {
            m = m.swap(swap);
        }
        LinuxResourcesBuilder::default()
            .memory(m.build().unwrap())
            .build()
            .unwrap()
    }

    fn deny_all() -> LinuxDeviceCgroup {
        LinuxDeviceCgroupBuilder::default()
            .allow(false)
            .access("rwm")
            .build()
            .unwrap()
    }

    #[test]
    fn prepare_rejects_swap_below_limit() {
        let err = prepare("jolt/web", &memory(Some(100 * MIB), Some(50 * MIB)), false)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("cgroup /jolt/web: linux.resources.memory.swap: 52428800 is below memory.limit 104857600"),
            "{err}"
        );
        assert!(prepare("jolt/web", &memory(Some(100 * MIB), Some(-1)), false).is_ok());
    }

    #[test]
    fn prepare_rejects_swap_without_limit() {
        assert!(prepare("jolt/web", &memory(None, Some(MIB)), true).is_err());
        assert!(prepare("jolt/web", &memory(None, Some(MIB)), false).is_err());
        assert!(prepare("jolt/web", &memory(Some(-1), Some(MIB)), true).is_ok());
    }

    #[test]
    fn prepare_keeps_swap_unlimited_on_v2_when_only_a_limit_is_set() {
        let (rest, _) = prepare("jolt/web", &memory(Some(MIB), None), true).unwrap();
        assert_eq!(rest.memory().unwrap().swap(), Some(-1));
        let (rest, _) = prepare("jolt/web", &memory(Some(MIB), None), false).unwrap();
        assert_eq!(rest.memory().unwrap().swap(), None);
    }

    #[test]
    fn prepare_rejects_what_jolt_does_not_apply() {
        let unified = LinuxResourcesBuilder::default()
            .unified(HashMap::from([(
                "memory.high".to_string(),
                "1M".to_string(),
            )]))
            .build()
            .unwrap();
        let err = prepare("jolt/web", &unified, true).unwrap_err().to_string();
        assert_eq!(
            err,
            "cgroup /jolt/web: linux.resources.unified: not supported by jolt yet"
        );
    }

    #[test]
    fn prepare_v1_appends_runc_default_devices_with_wildcards() {
        let mknod_any_char = LinuxDeviceCgroupBuilder::default()
            .allow(true)
            .typ(LinuxDeviceType::C)
            .access("m")
            .build()
            .unwrap();
        let resources = LinuxResourcesBuilder::default()
            .devices(vec![deny_all(), mknod_any_char])
            .build()
            .unwrap();
        let (rest, devices) = prepare("jolt/web", &resources, false).unwrap();
        assert!(rest.devices().is_none(), "devices are jolt's to write");
        let Devices::V1(devices) = devices else {
            panic!("v1 rules expected, got {devices:?}");
        };
        let defaults = crate::devices::with_defaults(&[]).len();
        assert_eq!(devices.len(), 2 + defaults);
        let all = [
            DevicePermissions::Read,
            DevicePermissions::Write,
            DevicePermissions::MkNod,
        ];
        assert_eq!(
            devices[0],
            DeviceRule {
                allow: false,
                typ: DeviceType::All,
                major: -1,
                minor: -1,
                access: all.to_vec(),
            }
        );
        assert_eq!((devices[1].major, devices[1].minor), (-1, -1));
        let null = &devices[4];
        assert_eq!(
            (null.allow, null.typ, null.major, null.minor),
            (true, DeviceType::Char, 1, 3)
        );
        assert_eq!(null.access, all.to_vec());
    }

    #[test]
    fn prepare_v2_keeps_device_rules_for_the_ebpf_filter() {
        let resources = LinuxResourcesBuilder::default()
            .devices(vec![deny_all()])
            .build()
            .unwrap();
        let (rest, devices) = prepare("jolt/web", &resources, true).unwrap();
        assert!(rest.devices().is_none());
        let Devices::V2(rules) = devices else {
            panic!("v2 rules expected, got {devices:?}");
        };
        assert_eq!(rules.len(), 1 + crate::devices::with_defaults(&[]).len());
    }

    #[test]
    fn device_rule_rejects_bad_type_and_access() {
        let fifo = LinuxDeviceCgroupBuilder::default()
            .allow(true)
            .typ(LinuxDeviceType::P)
            .build()
            .unwrap();
        assert_eq!(
            device_rule(&fifo).unwrap_err(),
            r#"type "p" is not one of a, b, c"#
        );
        let rwx = LinuxDeviceCgroupBuilder::default()
            .allow(true)
            .access("rwx")
            .build()
            .unwrap();
        assert!(device_rule(&rwx).unwrap_err().contains("only r, w and m"));
        let no_access = LinuxDeviceCgroupBuilder::default()
            .allow(true)
            .typ(LinuxDeviceType::C)
            .major(1)
            .minor(3)
            .build()
            .unwrap();
        assert_eq!(device_rule(&no_access).unwrap().access.len(), 3);
    }

    // The tests below need root and the real kernel. Each uses a cgroup of
    // its own under /jolt and removes it, also when it fails.

    /// Returns false, saying why, when this process cannot run a root test.
    fn kernel_ready(test: &str) -> bool {
        // scripts/vm-test runs these on a kernel that has every controller
        // and says so in JOLT_E2E_REQUIRE: there, a skip is a failure.
        let required = std::env::var("JOLT_E2E_REQUIRE")
            .is_ok_and(|r| r.split(',').any(|f| f.trim() == "cgroup2"));
        if required && (!nix::unistd::geteuid().is_root() || !is_v2()) {
            panic!(
                "{test}: cgroup2 is required (JOLT_E2E_REQUIRE) but this is not root on cgroup v2"
            );
        }
        if !nix::unistd::geteuid().is_root() {
            eprintln!("skipping {test}: needs root to create cgroups under /sys/fs/cgroup");
            return false;
        }
        // The v1 freezer and devices controllers are built into v2.
        let wanted = ["memory", "pids", "cpu", "cpuset"];
        let missing: Vec<&str> = if is_v2() {
            let controllers =
                std::fs::read_to_string("/sys/fs/cgroup/cgroup.controllers").unwrap_or_default();
            wanted
                .into_iter()
                .filter(|c| !controllers.split_whitespace().any(|x| x == *c))
                .collect()
        } else {
            let names: Vec<String> = Cgroup::open("probe")
                .unwrap()
                .host_dirs()
                .into_iter()
                .map(|(name, _)| name)
                .collect();
            wanted
                .into_iter()
                .chain(["freezer", "devices"])
                .filter(|c| !names.iter().any(|n| n.split(',').any(|x| x == *c)))
                .collect()
        };
        if !missing.is_empty() {
            assert!(
                !required,
                "{test}: cgroup2 is required (JOLT_E2E_REQUIRE) but controllers are missing: {missing:?}"
            );
            eprintln!("skipping {test}: cgroup controllers not available: {missing:?}");
            return false;
        }
        true
    }

    /// The root tests one at a time: they share jolt's parent cgroup, which
    /// the last cgroup to leave it removes, so one test's removal raced
    /// another's create (cpuset files missing under a parent made anew).
    fn serial() -> std::sync::MutexGuard<'static, ()> {
        static ROOT_TESTS: std::sync::Mutex<()> = std::sync::Mutex::new(());
        ROOT_TESTS.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Removes the test's cgroup even when an assertion fails first.
    struct Cleanup(String);

    impl Drop for Cleanup {
        fn drop(&mut self) {
            if let Ok(cg) = Cgroup::open(&self.0) {
                if let Err(e) = cg.destroy() {
                    eprintln!("cleanup: {e}");
                }
            }
        }
    }

    fn test_path(name: &str) -> (String, Cleanup) {
        let path = resolve_path(None, &format!("test-{}-{name}", std::process::id())).unwrap();
        (path.clone(), Cleanup(path))
    }

    fn read(cg: &Cgroup, hierarchy: &str, file: &str) -> String {
        let (_, dir) = cg
            .host_dirs()
            .into_iter()
            .find(|(name, _)| name.is_empty() || name.split(',').any(|n| n == hierarchy))
            .unwrap_or_else(|| panic!("no {hierarchy} hierarchy"));
        std::fs::read_to_string(dir.join(file))
            .unwrap_or_else(|e| panic!("{}: {e}", dir.join(file).display()))
            .trim()
            .to_string()
    }

    fn sleeper() -> Child {
        Command::new("sleep").arg("60").spawn().unwrap()
    }

    fn pid_of(child: &Child) -> i32 {
        i32::try_from(child.id()).unwrap()
    }

    /// A shell that runs `script` once a line arrives on its stdin, so that
    /// it can be put in the cgroup first.
    fn held_shell(script: &str) -> Child {
        Command::new("sh")
            .arg("-c")
            .arg(format!("read _ && {script}"))
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    }

    fn release(child: &mut Child) {
        child.stdin.take().unwrap().write_all(b"go\n").unwrap();
    }

    #[test]
    fn root_jolts_own_parents_go_with_the_last_cgroup_and_others_stay() {
        let _serial = serial();
        let test = "root_jolts_own_parents_go_with_the_last_cgroup_and_others_stay";
        if !kernel_ready(test) {
            return;
        }
        let pid = std::process::id();
        let parent = format!("{DEFAULT_PARENT}/test-{pid}-parent");
        let parent_dirs = |cg: &Cgroup| -> Vec<PathBuf> {
            cg.host_dirs()
                .into_iter()
                .map(|(_, d)| d.parent().unwrap().to_path_buf())
                .collect()
        };
        let (a, b) = (format!("{parent}/a"), format!("{parent}/b"));
        let _cleanup = (Cleanup(a.clone()), Cleanup(b.clone()));
        let first = Cgroup::create(&a, None).unwrap();
        let second = Cgroup::create(&b, None).unwrap();
        let dirs = parent_dirs(&first);
        first.destroy().unwrap();
        assert!(
            dirs.iter().all(|d| d.is_dir()),
            "the parent is still in use"
        );
        second.destroy().unwrap();
        for d in &dirs {
            assert!(!d.exists(), "{} outlived its last cgroup", d.display());
        }

        // A create that fails takes the parents it made with it.
        let failing = format!("{DEFAULT_PARENT}/test-{pid}-failed/c");
        let _cleanup_failing = Cleanup(failing.clone());
        let bad_cpus = LinuxResourcesBuilder::default()
            .cpu(LinuxCpuBuilder::default().cpus("4096").build().unwrap())
            .build()
            .unwrap();
        assert!(Cgroup::create(&failing, Some(&bad_cpus)).is_err());
        for d in parent_dirs(&Cgroup::open(&failing).unwrap()) {
            assert!(!d.exists(), "{} outlived a failed create", d.display());
        }

        // Outside /jolt, the parents belong to whoever named the path.
        let foreign = format!("test-{pid}-foreign/c");
        let cg = Cgroup::create(&foreign, None).unwrap();
        let dirs = parent_dirs(&cg);
        cg.destroy().unwrap();
        for d in &dirs {
            assert!(d.is_dir(), "{} is not jolt's to remove", d.display());
            std::fs::remove_dir(d).unwrap();
        }
    }

    #[test]
    fn root_siblings_come_and_go_while_their_parent_is_removed_and_remade() {
        let _serial = serial();
        let test = "root_siblings_come_and_go_while_their_parent_is_removed_and_remade";
        if !kernel_ready(test) {
            return;
        }
        let parent = format!("{DEFAULT_PARENT}/test-{}-race", std::process::id());
        let churn = |name: &'static str| {
            let path = format!("{parent}/{name}");
            thread::spawn(move || {
                let _cleanup = Cleanup(path.clone());
                for round in 0..150 {
                    let cg = Cgroup::create(&path, None)
                        .unwrap_or_else(|e| panic!("round {round}: {e}"));
                    cg.destroy().unwrap();
                }
            })
        };
        // Both finish (and clean up) before either verdict.
        let (a, b) = (churn("a"), churn("b"));
        let (a, b) = (a.join(), b.join());
        a.unwrap();
        b.unwrap();
        for (_, dir) in Cgroup::open(&format!("{parent}/a")).unwrap().host_dirs() {
            assert!(!dir.parent().unwrap().exists(), "{} is left", dir.display());
        }
    }

    #[test]
    fn root_create_limits_signal_destroy() {
        let _serial = serial();
        if !kernel_ready("root_create_limits_signal_destroy") {
            return;
        }
        let (path, _cleanup) = test_path("limits");
        let resources = LinuxResourcesBuilder::default()
            .memory(
                LinuxMemoryBuilder::default()
                    .limit(64 * MIB)
                    .build()
                    .unwrap(),
            )
            .pids(LinuxPidsBuilder::default().limit(32).build().unwrap())
            .cpu(LinuxCpuBuilder::default().shares(512u64).build().unwrap())
            .devices(vec![deny_all()])
            .build()
            .unwrap();
        let cg = Cgroup::create(&path, Some(&resources)).unwrap();
        assert_eq!(cg.path(), path);

        // Absolute from each hierarchy's root, not below jolt's own cgroup.
        let dirs = cg.host_dirs();
        for (name, dir) in &dirs {
            assert_eq!(dir, &Path::new("/sys/fs/cgroup").join(name).join(&path));
            assert!(dir.is_dir(), "{} was not created", dir.display());
        }
        if is_v2() {
            assert_eq!(dirs.len(), 1);
            assert_eq!(read(&cg, "", "memory.max"), (64 * MIB).to_string());
            assert_eq!(read(&cg, "", "memory.swap.max"), "max");
            assert_eq!(read(&cg, "", "pids.max"), "32");
            assert_eq!(read(&cg, "", "cpu.weight"), "20");
        } else {
            let names: Vec<&str> = dirs.iter().map(|(n, _)| n.as_str()).collect();
            if Path::new("/sys/fs/cgroup/systemd").is_dir() {
                assert!(names.contains(&"systemd"), "{names:?}");
            }
            assert_eq!(
                read(&cg, "memory", "memory.limit_in_bytes"),
                (64 * MIB).to_string()
            );
            assert_eq!(read(&cg, "pids", "pids.max"), "32");
            assert_eq!(read(&cg, "cpu", "cpu.shares"), "512");
            let devices = read(&cg, "devices", "devices.list");
            assert!(!devices.contains("a *:* rwm"), "{devices}");
            assert!(devices.contains("c 1:3 rwm"), "{devices}");
            assert!(devices.contains("c *:* m"), "{devices}");
            // A new cpuset (and its new parent) must have cpus and mems, or
            // no process can join it.
            assert!(!read(&cg, "cpuset", "cpuset.cpus").is_empty());
            assert!(!read(&cg, "cpuset", "cpuset.mems").is_empty());
            let parent = Path::new("/sys/fs/cgroup/cpuset").join(DEFAULT_PARENT);
            let parent_cpus = std::fs::read_to_string(parent.join("cpuset.cpus")).unwrap();
            assert!(!parent_cpus.trim().is_empty());
        }

        let mut child = sleeper();
        cg.add_process(pid_of(&child)).unwrap();
        assert_eq!(cg.pids().unwrap(), vec![pid_of(&child)]);
        let own = std::fs::read_to_string(format!("/proc/{}/cgroup", child.id())).unwrap();
        for line in own.lines().filter(|l| !l.contains("::") || is_v2()) {
            assert!(line.ends_with(&format!(":/{path}")), "{line}");
        }
        cg.signal_all(libc::SIGTERM).unwrap();
        assert_eq!(child.wait().unwrap().signal(), Some(libc::SIGTERM));
        if !is_v2() {
            assert_eq!(read(&cg, "freezer", "freezer.state"), "THAWED");
        }

        let mut child = sleeper();
        cg.add_process(pid_of(&child)).unwrap();
        cg.destroy().unwrap();
        assert_eq!(child.wait().unwrap().signal(), Some(libc::SIGKILL));
        for (_, dir) in &dirs {
            assert!(!dir.exists(), "{} is left behind", dir.display());
        }
        cg.destroy().unwrap();
        assert!(Cgroup::open(&path).unwrap().pids().unwrap().is_empty());
    }

    #[test]
    fn root_memory_limit_oom_kills_and_pids_limit_stops_forks() {
        let _serial = serial();
        if !kernel_ready("root_memory_limit_oom_kills_and_pids_limit_stops_forks") {
            return;
        }
        let (path, _cleanup) = test_path("enforce");
        let resources = LinuxResourcesBuilder::default()
            .memory(
                LinuxMemoryBuilder::default()
                    .limit(32 * MIB)
                    .swap(32 * MIB)
                    .build()
                    .unwrap(),
            )
            .pids(LinuxPidsBuilder::default().limit(8).build().unwrap())
            .build()
            .unwrap();
        let cg = Cgroup::create(&path, Some(&resources)).unwrap();

        let mut hog = held_shell("exec dd if=/dev/zero of=/dev/null bs=128M count=1");
        cg.add_process(pid_of(&hog)).unwrap();
        release(&mut hog);
        assert_eq!(hog.wait().unwrap().signal(), Some(libc::SIGKILL));
        let oom = if is_v2() {
            read(&cg, "", "memory.events")
        } else {
            read(&cg, "memory", "memory.oom_control")
        };
        assert!(!oom.contains("oom_kill 0"), "{oom}");

        let mut forker =
            held_shell("for i in 1 2 3 4 5 6 7 8 9 10 11 12; do sleep 60 & done; wait");
        cg.add_process(pid_of(&forker)).unwrap();
        release(&mut forker);
        let status = forker.wait().unwrap();
        assert!(!status.success(), "the shell must fail to fork: {status:?}");
        let left = cg.pids().unwrap();
        assert!(!left.is_empty() && left.len() < 8, "{left:?}");

        cg.destroy().unwrap();
        for (_, dir) in cg.host_dirs() {
            assert!(!dir.exists(), "{} is left behind", dir.display());
        }
    }

    #[test]
    fn root_create_refuses_a_cgroup_in_use_and_reuses_an_empty_one() {
        let _serial = serial();
        if !kernel_ready("root_create_refuses_a_cgroup_in_use_and_reuses_an_empty_one") {
            return;
        }
        let (path, _cleanup) = test_path("in-use");
        let cg = Cgroup::create(&path, None).unwrap();
        Cgroup::create(&path, None).expect("an empty cgroup is reused");

        let mut child = sleeper();
        cg.add_process(pid_of(&child)).unwrap();
        let err = Cgroup::create(&path, None).unwrap_err().to_string();
        assert_eq!(
            err,
            format!(
                "cgroup /{path}: already exists and holds processes [{}]; \
                 is another container using this cgroupsPath?",
                child.id()
            )
        );
        assert!(cg.host_dirs().iter().all(|(_, d)| d.is_dir()));
        cg.destroy().unwrap();
        child.wait().unwrap();
    }

    #[test]
    fn root_failed_create_leaves_nothing() {
        let _serial = serial();
        if !kernel_ready("root_failed_create_leaves_nothing") {
            return;
        }
        let (path, _cleanup) = test_path("fails");
        let resources = LinuxResourcesBuilder::default()
            .cpu(LinuxCpuBuilder::default().cpus("4096").build().unwrap())
            .build()
            .unwrap();
        let err = Cgroup::create(&path, Some(&resources))
            .unwrap_err()
            .to_string();
        // The kernel says EINVAL or ERANGE, depending on the CPU count.
        let prefix = format!("cgroup /{path}: cpuset.cpus: write 4096: ");
        assert!(
            err.starts_with(&prefix) && !err.contains("os error"),
            "{err}"
        );
        for (_, dir) in Cgroup::open(&path).unwrap().host_dirs() {
            assert!(!dir.exists(), "{} is left behind", dir.display());
        }
    }

    #[test]
    fn root_signal_all_keeps_a_paused_cgroup_paused_and_destroy_kills_it() {
        let _serial = serial();
        if !kernel_ready("root_signal_all_keeps_a_paused_cgroup_paused_and_destroy_kills_it") {
            return;
        }
        let (path, _cleanup) = test_path("paused");
        let cg = Cgroup::create(&path, None).unwrap();
        let mut child = sleeper();
        cg.add_process(pid_of(&child)).unwrap();
        cg.freeze().unwrap();
        let freezer = cg.cgroup.controller_of::<FreezerController>().unwrap();

        cg.signal_all(libc::SIGTERM).unwrap();
        // When the process dies is the kernel's business: a v2 freezer lets
        // a fatal signal through unless it raced with the freeze, in which
        // case, as on v1, the signal waits for the thaw. What jolt owns is
        // that the cgroup stays paused and that destroy ends the process.
        if !cg.cgroup.v2() {
            thread::sleep(Duration::from_millis(100));
            assert!(
                child.try_wait().unwrap().is_none(),
                "a paused v1 process acts on SIGTERM only when resumed"
            );
        }
        assert!(
            matches!(
                freezer.state().unwrap(),
                FreezerState::Frozen | FreezerState::Freezing
            ),
            "the cgroup stays paused"
        );

        cg.destroy().unwrap();
        assert!(child.wait().unwrap().signal().is_some());
        for (_, dir) in cg.host_dirs() {
            assert!(!dir.exists(), "{} is left behind", dir.display());
        }
    }

    #[test]
    fn root_destroy_kills_and_removes_nested_cgroups() {
        let _serial = serial();
        if !kernel_ready("root_destroy_kills_and_removes_nested_cgroups") {
            return;
        }
        let (path, _cleanup) = test_path("nested");
        let cg = Cgroup::create(&path, None).unwrap();
        let mut child = sleeper();
        cg.add_process(pid_of(&child)).unwrap();
        // As a container managing its own cgroups would: a child cgroup in
        // the hierarchy pids() reads, holding the process.
        let dir = cg.procs_dir().unwrap();
        std::fs::create_dir(dir.join("inner")).unwrap();
        std::fs::write(dir.join("inner/cgroup.procs"), child.id().to_string()).unwrap();
        assert_eq!(cg.pids().unwrap(), vec![pid_of(&child)]);

        cg.destroy().unwrap();
        assert_eq!(child.wait().unwrap().signal(), Some(libc::SIGKILL));
        for (_, dir) in cg.host_dirs() {
            assert!(!dir.exists(), "{} is left behind", dir.display());
        }
    }
}
