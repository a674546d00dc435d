//! fs: the cgroupfs driver — jolt makes the container's cgroup directories
//! itself — as one [`Cgroupfs`] core over the two hierarchy versions
//! ([`V1`]: one directory per mounted hierarchy; [`V2`]: one unified
//! directory). The core holds what both share; a [`Hierarchy`] holds what
//! differs (where the directories are, device rules, v2's
//! memory fixes). The systemd driver reuses the core for the files systemd
//! does not write.
//!
//! cgroups-rs does the kernel work: its `fs::Cgroup` creates and deletes the
//! directories (enabling the controllers in the parents'
//! `cgroup.subtree_control` on v2) and moves processes, and its
//! `FsManager::set` applies `linux.resources`. This module owns what
//! cgroups-rs leaves to its caller: the path rules ([`resolve_path`]),
//! refusing a cgroup that is in use, removing what a failed create made,
//! killing everything before removal, and the device rules (where
//! cgroups-rs mistranslates wildcards). Each piece of code of our own says
//! why cgroups-rs does not do it.

mod cfs;
mod resources;
mod v1;
mod v2;
mod weights;

use std::fmt;
use std::io;
use std::marker::PhantomData;
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

use cgroups_rs::fs::error::{Error as FsError, ErrorKind as FsErrorKind};
use cgroups_rs::fs::hierarchies;
use cgroups_rs::manager::Error as ManagerError;
use cgroups_rs::{FsManager, Manager};
use oci_spec::runtime::{LinuxDeviceCgroup, LinuxResources};

pub use v1::V1;
pub use v2::V2;

use super::freezer::{self, SetError};
use super::members::{self, gone, MembersError};
use super::{CgroupError, CgroupManager, Settings};

/// Where a container's cgroup goes when config.json names none: `/jolt/<id>`.
const DEFAULT_PARENT: &str = "jolt";
/// How long [`CgroupManager::destroy`] keeps killing before it gives up.
const DESTROY_TIMEOUT: Duration = Duration::from_secs(5);
/// How long signalling waits for a freeze or thaw to take effect.
const FREEZE_TIMEOUT: Duration = Duration::from_secs(1);
const POLL_INTERVAL: Duration = Duration::from_millis(20);

/// What differs between cgroup v1 and v2 for a cgroup jolt manages.
pub trait Hierarchy: fmt::Debug + Sized + 'static {
    /// True for the unified hierarchy.
    const UNIFIED: bool;
    /// Whether device rules need a devices controller (v1), rather than
    /// an eBPF program any v2 cgroup takes.
    const DEVICES_CONTROLLER: bool;

    /// Device rules, as this version applies them.
    type Devices: fmt::Debug;

    /// See [`CgroupManager::host_dirs`].
    fn host_dirs(cg: &Cgroupfs<Self>) -> Vec<(String, PathBuf)>;

    /// The directory whose cgroup.procs (and nested ones) list the members.
    fn procs_dir(cg: &Cgroupfs<Self>) -> Option<PathBuf>;

    /// The cgroup's freezer file: cgroup.freeze (v2) or freezer.state in
    /// the freezer hierarchy (v1); None without a freezer.
    fn freezer_file(cg: &Cgroupfs<Self>) -> Option<PathBuf>;

    /// Adjusts checked resources before cgroups-rs applies them.
    fn adjust(resources: &mut LinuxResources);

    /// Checks the config's device rules (runc's defaults already appended)
    /// and turns them into what [`Hierarchy::attach_devices`] applies.
    fn devices(path: &str, rules: Vec<LinuxDeviceCgroup>) -> Result<Self::Devices, CgroupError>;

    /// Applies device rules to the existing cgroup.
    fn attach_devices(cg: &Cgroupfs<Self>, devices: &Self::Devices) -> Result<(), CgroupError>;

    /// Writes what cgroups-rs leaves out after it applied `resources`.
    fn after_apply(cg: &Cgroupfs<Self>, resources: &LinuxResources) -> Result<(), CgroupError>;

    /// Why `controller` is not available on this host.
    fn missing(controller: &str) -> String;

    /// Whether the existing cgroup is frozen or freezing, by itself or
    /// through a parent: a process moved in would stop where it stands.
    fn frozen(cg: &Cgroupfs<Self>) -> Result<bool, CgroupError>;
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
    let invalid = |reason: &str| {
        Err(CgroupError::InvalidPath {
            path: raw.to_string(),
            reason: reason.to_string(),
        })
    };
    let parts: Vec<&str> = raw.split(':').collect();
    if parts.len() == 3 && !parts[0].contains('/') {
        return invalid("a systemd cgroup path (slice:prefix:name) needs jolt --systemd-cgroup");
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

/// A cgroup jolt manages in cgroupfs: its path relative to each
/// hierarchy's root, and the cgroups-rs handle on it.
#[derive(Debug)]
pub struct Cgroupfs<H: Hierarchy> {
    path: String,
    cgroup: cgroups_rs::fs::Cgroup,
    version: PhantomData<H>,
}

impl<H: Hierarchy> Cgroupfs<H> {
    /// The cgroup at `path` (a path [`resolve_path`] or the systemd driver
    /// made). Does not create anything, and does not fail when the cgroup
    /// is gone: then `pids` is empty and `destroy` succeeds.
    pub fn open(path: &str) -> Result<Self, CgroupError> {
        let path = normalize(path)?;
        let cgroup = cgroups_rs::fs::Cgroup::load(hierarchies::auto(), &path);
        Ok(Cgroupfs {
            path,
            cgroup,
            version: PhantomData,
        })
    }

    /// Makes the directories (where missing) and applies `resources`.
    /// With `warn_in_use`, an existing cgroup holding processes is a
    /// warning, as with runc (the systemd driver's scope already holds its
    /// first process, and says nothing). If anything fails, the directories
    /// this call made are removed, and with them the empty parents under
    /// jolt's own `/jolt`.
    pub(crate) fn make(
        &self,
        resources: Option<&LinuxResources>,
        warn_in_use: bool,
    ) -> Result<(), CgroupError> {
        let (resources, devices) = match resources {
            Some(r) => {
                let (rest, devices) = self.prepare(r)?;
                (Some(rest), devices)
            }
            None => (None, None),
        };
        if let Some(resources) = &resources {
            self.check_controllers(resources, devices.is_some() && H::DEVICES_CONTROLLER)?;
        }

        let dirs: Vec<PathBuf> = self.host_dirs().into_iter().map(|(_, d)| d).collect();
        if warn_in_use && dirs.iter().any(|d| d.exists()) {
            let pids = self.pids()?;
            if !pids.is_empty() {
                tracing::warn!(
                    "cgroup /{}: already holds processes {pids:?}; the container shares it \
                     (is another container using this cgroupsPath?)",
                    self.path
                );
            }
        }
        let created: Vec<PathBuf> = dirs.into_iter().filter(|d| !d.exists()).collect();

        let result = self
            .make_dirs()
            .and_then(|()| self.refuse_frozen())
            .and_then(|()| self.apply(resources.as_ref(), devices.as_ref()));
        if let Err(err) = result {
            self.remove_created(&created);
            self.remove_own_parents();
            return Err(err);
        }
        Ok(())
    }

    /// A frozen cgroup (freezer.state FROZEN, cgroup.freeze 1, here or in
    /// a parent) would stop the container's init as soon as it joined, and
    /// create would wait for it forever.
    fn refuse_frozen(&self) -> Result<(), CgroupError> {
        match H::frozen(self)? {
            true => Err(CgroupError::Frozen {
                path: self.path.clone(),
            }),
            false => Ok(()),
        }
    }

    /// The checks create and update make, before anything is changed.
    pub(crate) fn check(&self, resources: &LinuxResources) -> Result<(), CgroupError> {
        let (rest, devices) = self.prepare(resources)?;
        self.check_controllers(&rest, devices.is_some() && H::DEVICES_CONTROLLER)
    }

    /// Checks `resources` and splits off the device rules.
    fn prepare(
        &self,
        resources: &LinuxResources,
    ) -> Result<(LinuxResources, Option<H::Devices>), CgroupError> {
        let (mut rest, rules) = resources::check(&self.path, resources)?;
        if !H::UNIFIED && rest.unified().as_ref().is_some_and(|u| !u.is_empty()) {
            return Err(CgroupError::InvalidResources {
                path: self.path.clone(),
                field: "unified",
                reason: "is for cgroup v2 only, and this host has cgroup v1 controllers".into(),
            });
        }
        H::adjust(&mut rest);
        let devices = match rules {
            Some(rules) => Some(H::devices(&self.path, rules)?),
            None => None,
        };
        Ok((rest, devices))
    }

    /// Removes the directories, nested cgroups included, once no process is
    /// left, and jolt's own empty parents.
    fn remove(&self) -> Result<(), CgroupError> {
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
        for (_, dir) in self.host_dirs() {
            remove_tree(&dir).map_err(|e| self.io_error(&dir, "rmdir", e))?;
        }
        self.remove_own_parents();
        Ok(())
    }

    /// A failed write of `linux.resources.<field>`, naming file and value.
    fn write_error(&self, field: &str, (file, value, err): WriteError) -> CgroupError {
        CgroupError::Io {
            path: self.path.clone(),
            what: format!("linux.resources.{field}: {file}: write {value:?}"),
            err,
        }
    }

    /// The directory of the hierarchy holding `controller` (v2: the one).
    fn controller_dir(&self, controller: &str) -> Option<PathBuf> {
        if H::UNIFIED {
            return self.host_dirs().into_iter().next().map(|(_, d)| d);
        }
        self.cgroup
            .subsystems()
            .iter()
            .find(|s| s.controller_name() == controller)
            .map(|s| s.to_controller().path().to_path_buf())
    }

    /// SIGKILLs what is in the cgroup until nothing is (bounded, polling).
    pub(crate) fn kill_until_empty(&self) -> Result<(), CgroupError> {
        let deadline = Instant::now() + DESTROY_TIMEOUT;
        loop {
            let pids = self.pids()?;
            if pids.is_empty() {
                return Ok(());
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
    }

    /// The cgroup's freezer file (see [`crate::cgroups::freezer`]).
    fn freezer(&self) -> Result<PathBuf, CgroupError> {
        H::freezer_file(self)
            .filter(|f| f.exists())
            .ok_or_else(|| CgroupError::Cgroups {
                path: self.path.clone(),
                what: "freezer".into(),
                detail: "the freezer controller is not available here".into(),
            })
    }

    /// Freezes or thaws through `file`, waiting (bounded) for the kernel:
    /// a process in uninterruptible sleep can hold a v1 freezer in
    /// FREEZING for long, which is logged and not an error, so that
    /// signalling every process goes on.
    fn set_frozen(&self, file: &Path, freeze: bool) -> Result<(), CgroupError> {
        match freezer::set(file, freeze, FREEZE_TIMEOUT) {
            Ok(()) => Ok(()),
            Err(SetError::Stuck(state)) => {
                tracing::warn!(
                    "cgroup /{}: {state} after {FREEZE_TIMEOUT:?}; going on",
                    self.path
                );
                Ok(())
            }
            Err(e @ SetError::Io { .. }) => Err(CgroupError::Cgroups {
                path: self.path.clone(),
                what: if freeze { "freeze" } else { "thaw" }.into(),
                detail: e.to_string(),
            }),
        }
    }

    /// Makes the cgroup's directories in every hierarchy. Another container
    /// leaving `/jolt` may remove an empty parent while we make it and the
    /// leaf in it; once the leaf exists the parent is busy, so a few retries
    /// get through.
    fn make_dirs(&self) -> Result<(), CgroupError> {
        const ATTEMPTS: usize = 10;
        let mut attempt = 1;
        loop {
            let made = self.cgroup.create().map_err(|e| self.fs_error("create", e));
            match made.and_then(|()| self.make_other_dirs()) {
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

    /// The host directories cgroups-rs does not make (a hybrid host's
    /// unified one), with their parents.
    fn make_other_dirs(&self) -> Result<(), CgroupError> {
        for (_, dir) in self.host_dirs() {
            std::fs::create_dir_all(&dir).map_err(|e| CgroupError::Io {
                path: self.path.clone(),
                what: format!("{}: mkdir", dir.display()),
                err: e,
            })?;
        }
        Ok(())
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

    /// Applies resources (devices already split off by `prepare`).
    pub(crate) fn apply(
        &self,
        resources: Option<&LinuxResources>,
        devices: Option<&H::Devices>,
    ) -> Result<(), CgroupError> {
        if let Some(resources) = resources {
            // Block I/O weights are written here, not by cgroups-rs, which
            // knows one file for each and fails without it (see weights).
            let mut rest = resources.clone();
            let weights = rest.block_io_mut().as_mut().map(weights::take);
            let bandwidth = match H::UNIFIED {
                true => None,
                false => rest.cpu_mut().as_mut().map(cfs::take),
            };
            let mut manager = FsManager::new(&self.path)
                .map_err(|e| self.manager_error("read /proc/self/cgroup", e))?;
            manager
                .set(&rest)
                .map_err(|e| self.manager_error("apply linux.resources", e))?;
            if let Some(bandwidth) = bandwidth.filter(|b| !b.is_empty()) {
                let dir = self
                    .controller_dir("cpu")
                    .ok_or_else(|| self.missing("cpu", "cpu"))?;
                cfs::write(&dir, bandwidth).map_err(|e| self.write_error("cpu", e))?;
            }
            if let Some(weights) = weights.filter(|w| !w.is_empty()) {
                let dir = self
                    .controller_dir("blkio")
                    .ok_or_else(|| self.missing("blockIO", "blkio"))?;
                weights::write::<H>(&dir, &weights).map_err(|e| self.write_error("blockIO", e))?;
            }
            H::after_apply(self, resources)?;
        }
        match devices {
            Some(devices) => H::attach_devices(self, devices),
            None => Ok(()),
        }
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
        let subsystems = self.cgroup.subsystems();
        for (field, controller) in resources::controllers_needed(resources, devices) {
            if !subsystems.iter().any(|s| s.controller_name() == controller) {
                return Err(self.missing(field, controller));
            }
        }
        Ok(())
    }

    pub(crate) fn missing(&self, field: &'static str, controller: &str) -> CgroupError {
        CgroupError::InvalidResources {
            path: self.path.clone(),
            field,
            reason: H::missing(controller),
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

    /// A failure from [`members`], under this cgroup's name.
    fn members_error(&self, e: MembersError) -> CgroupError {
        match e {
            MembersError::Io { what, source } => CgroupError::Io {
                path: self.path.clone(),
                what,
                err: source,
            },
            stuck @ MembersError::Stuck { .. } => CgroupError::Cgroups {
                path: self.path.clone(),
                what: "signalling every process".into(),
                detail: stuck.to_string(),
            },
        }
    }

    pub(crate) fn io_error(&self, file: &Path, action: &str, source: io::Error) -> CgroupError {
        CgroupError::Io {
            path: self.path.clone(),
            what: format!("{}: {action}", file.display()),
            err: source,
        }
    }

    /// Rewords a cgroups-rs error as "<file>: write <value>: <cause>" or
    /// "<what>: <cause>".
    pub(crate) fn fs_error(&self, what: &str, err: FsError) -> CgroupError {
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

impl<H: Hierarchy> CgroupManager for Cgroupfs<H> {
    fn path(&self) -> &str {
        &self.path
    }

    fn host_dirs(&self) -> Vec<(String, PathBuf)> {
        H::host_dirs(self)
    }

    /// Memory (limit, reservation, swap), cpu (shares, quota, period, cpus,
    /// mems; on v2 shares become a weight), pids and, through cgroups-rs,
    /// blkio, hugepages and network. Device rules are followed by the
    /// devices runc allows every container: devices.allow/deny on v1, an
    /// eBPF program (see `devices`) on v2. A cgroup that already exists is
    /// reused; one that holds processes with a warning.
    fn create(&self, settings: Settings, _holder: i32) -> Result<(), CgroupError> {
        self.make(settings.resources, true)
    }

    fn clone_target(&self) -> Option<PathBuf> {
        self.host_dirs()
            .into_iter()
            .find(|(name, _)| H::UNIFIED || name == crate::cgroups::HYBRID_UNIFIED)
            .map(|(_, dir)| dir)
    }

    fn update(&self, resources: &LinuxResources) -> Result<(), CgroupError> {
        let mut resources = resources.clone();
        resources.set_devices(None);
        let (rest, _) = self.prepare(&resources)?;
        self.check_controllers(&rest, false)?;
        self.apply(Some(&rest), None)
    }

    /// freezer.state on v1, cgroup.freeze on v2.
    fn freeze(&self) -> Result<(), CgroupError> {
        self.set_frozen(&self.freezer()?, true)
    }

    fn thaw(&self) -> Result<(), CgroupError> {
        self.set_frozen(&self.freezer()?, false)
    }

    /// On v1 read from one hierarchy: freezer, else pids, else memory.
    /// Processes in nested cgroups count too (cgroups-rs reads one
    /// directory, and takes a failed read for "no process").
    fn pids(&self) -> Result<Vec<i32>, CgroupError> {
        match H::procs_dir(self) {
            Some(dir) => members::pids(&dir).map_err(|e| self.members_error(e)),
            None => Ok(Vec::new()),
        }
    }

    /// See [`members::signal_all`]: frozen meanwhile, each pid pinned and
    /// checked, cgroup.kill for SIGKILL where the kernel has it.
    fn signal_all(&self, signal: libc::c_int) -> Result<(), CgroupError> {
        let Some(dir) = H::procs_dir(self) else {
            return Ok(());
        };
        let freezer = H::freezer_file(self).filter(|f| f.exists());
        members::signal_all(&dir, freezer.as_deref(), signal, FREEZE_TIMEOUT)
            .map_err(|e| self.members_error(e))
    }

    fn stats(&self) -> Result<cgroups_rs::stats::CgroupStats, CgroupError> {
        let manager = FsManager::new(&self.path)
            .map_err(|e| self.manager_error("read /proc/self/cgroup", e))?;
        Ok(manager.stats())
    }

    fn destroy(&self) -> Result<(), CgroupError> {
        if !self.host_dirs().iter().any(|(_, d)| d.exists()) {
            self.remove_own_parents();
            return Ok(());
        }
        self.kill_until_empty()?;
        self.remove()
    }
}

/// A write to a cgroup file that failed: the file, the value, the cause.
type WriteError = (String, String, io::Error);

/// Writes `value` to the cgroup file `dir/file` (cgroupfs files exist or
/// not: no create, no truncate).
fn write_file(dir: &Path, file: &str, value: String) -> Result<(), WriteError> {
    std::fs::OpenOptions::new()
        .write(true)
        .open(dir.join(file))
        .and_then(|mut f| io::Write::write_all(&mut f, value.as_bytes()))
        .map_err(|e| (file.to_string(), value, e))
}

/// Removes an empty cgroup directory and the cgroups nested in it, deepest
/// first; one already gone is Ok.
fn remove_tree(dir: &Path) -> io::Result<()> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if gone(&e) => return Ok(()),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            remove_tree(&entry.path())?;
        }
    }
    match std::fs::remove_dir(dir) {
        Err(e) if !gone(&e) => Err(e),
        _ => Ok(()),
    }
}

/// The last path component of a file cgroups-rs names (sometimes a full path).
fn file_name(file: &str) -> String {
    Path::new(file)
        .file_name()
        .map_or_else(|| file.to_string(), |n| n.to_string_lossy().into_owned())
}

#[cfg(test)]
mod tests;
