//! state: the per-container directory under `--root` and what it records.
//!
//! Each container owns `<root>/<id>/` holding `state.json` (written
//! atomically: temp file, rename) and, while the container is created
//! but not started, `exec.fifo`. Every operation on a container holds an
//! exclusive flock on that directory, so two `jolt` calls on one container
//! never interleave. This module does not start or signal processes; it only
//! reads /proc to tell whether the recorded init process is still the same
//! live process.
//!
//! A directory without a readable `state.json` is no container: it is what
//! a `jolt create` killed in its first instants (or a `delete` killed
//! midway) leaves. [`Root::clear_debris`] removes such a directory, and
//! `create` of its ID replaces it, as if it were absent. A `create` makes
//! its directory and locks it while holding a shared flock on the root
//! directory, and debris is judged only under an exclusive one, with the
//! directory's own lock free: so a directory that a live `create` has just
//! made, and not yet written, is never taken for debris.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

use nix::fcntl::{Flock, FlockArg};
use oci_spec::runtime::Spec;
use serde::{Deserialize, Serialize};

/// The container init's name (/proc/PID/comm) until it execs: a created
/// container whose init no longer has it is running.
pub const INIT_NAME: &std::ffi::CStr = c"jolt:[init]";

/// The OCI runtime-spec version jolt reports, as runc does.
pub const OCI_VERSION: &str = "1.0.2-dev";
const STATE_FILE: &str = "state.json";
pub const EXEC_FIFO: &str = "exec.fifo";

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("invalid container id {0:?}: {1}")]
    InvalidId(String, &'static str),
    #[error("container with given ID already exists: {0}")]
    Exists(String),
    #[error("container does not exist: {0}")]
    NotExist(String),
    #[error("{path}: {}", crate::os_text(err))]
    Io { path: PathBuf, err: io::Error },
    #[error("{path}: corrupt state: {source}")]
    Corrupt {
        path: PathBuf,
        source: serde_json::Error,
    },
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> StateError + '_ {
    move |err| StateError::Io {
        path: path.to_path_buf(),
        err,
    }
}

/// Checks a container ID (the runtime-ID rule of [`crate::names`]).
pub fn validate_id(id: &str) -> Result<(), StateError> {
    crate::names::runtime_id(id).map_err(|why| StateError::InvalidId(id.to_string(), why))
}

/// Where a container is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Creating,
    Created,
    Running,
    Paused,
    Stopped,
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Status::Creating => "creating",
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopped => "stopped",
        })
    }
}

/// What state.json holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Record {
    pub id: String,
    /// The container's init process, in the host's pid namespace.
    pub pid: i32,
    /// Its start time in clock ticks since boot (/proc/PID/stat field 22),
    /// so a reused pid is never mistaken for the container.
    pub pid_start: u64,
    pub status: Status,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    /// RFC 3339, UTC.
    pub created: String,
    pub owner: String,
    /// The cgroup path relative to each hierarchy's root.
    pub cgroup_path: String,
    /// Who made the cgroup (records from before the systemd driver lack
    /// it: cgroupfs).
    #[serde(default)]
    pub cgroup_driver: crate::cgroups::Driver,
    /// The spec the container was created from (hooks, resources).
    pub config: Spec,
}

/// The runtime-spec state document, as `jolt state` prints it.
#[derive(Debug, Clone, Serialize)]
pub struct OciState {
    #[serde(rename = "ociVersion")]
    pub oci_version: String,
    pub id: String,
    pub pid: i32,
    pub status: Status,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    pub created: String,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    pub owner: String,
}

impl Record {
    /// The manager of the container's cgroup, under the driver that made
    /// it (whatever flags this jolt was given).
    pub fn cgroup(
        &self,
    ) -> Result<Box<dyn crate::cgroups::CgroupManager>, crate::cgroups::CgroupError> {
        crate::cgroups::open(self.cgroup_driver, &self.cgroup_path)
    }

    /// The status as it is now: a created or running container whose init
    /// has exited (or is a zombie, or whose pid was reused) is stopped.
    pub fn live_status(&self) -> Status {
        match self.status {
            Status::Stopped => Status::Stopped,
            Status::Created if self.pid > 0 && self.alive() && !still_init(self.pid) => {
                Status::Running
            }
            s if self.pid > 0 && self.alive() => s,
            Status::Creating if self.pid == 0 => Status::Creating,
            _ => Status::Stopped,
        }
    }

    fn alive(&self) -> bool {
        crate::pidfd::start_time(self.pid) == Some(self.pid_start)
    }

    pub fn oci_state(&self) -> OciState {
        let status = self.live_status();
        OciState {
            oci_version: OCI_VERSION.to_string(),
            id: self.id.clone(),
            pid: if status == Status::Stopped {
                0
            } else {
                self.pid
            },
            status,
            bundle: self.bundle.clone(),
            rootfs: self.rootfs.clone(),
            created: self.created.clone(),
            owner: self.owner.clone(),
            annotations: self
                .config
                .annotations()
                .clone()
                .unwrap_or_default()
                .into_iter()
                .collect(),
        }
    }
}

/// Whether `pid` still carries the init's name, i.e. has not exec'd.
pub fn still_init(pid: i32) -> bool {
    let name = INIT_NAME.to_bytes();
    fs::read(format!("/proc/{pid}/comm"))
        .is_ok_and(|comm| comm.strip_suffix(b"\n").unwrap_or(&comm) == name)
}

/// The state root (`--root`), holding one directory per container.
#[derive(Debug, Clone)]
pub struct Root {
    dir: PathBuf,
}

/// A container's directory, locked for as long as this value lives.
#[derive(Debug)]
pub struct Locked {
    pub id: String,
    pub dir: PathBuf,
    lock: Flock<File>,
}

impl Root {
    pub fn new(dir: impl Into<PathBuf>) -> Root {
        Root { dir: dir.into() }
    }

    /// Makes a new container directory and locks it. Fails if the ID
    /// exists; a directory of that ID without a state.json (debris) is
    /// replaced.
    pub fn create(&self, id: &str) -> Result<Locked, StateError> {
        validate_id(id)?;
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.dir)
            .map_err(io_err(&self.dir))?;
        let dir = self.dir.join(id);
        // Debris is cleared once; a second collision is a container that
        // appeared meanwhile.
        let mut cleared = false;
        loop {
            let root = lock_path(&self.dir, FlockArg::LockShared)?;
            match fs::DirBuilder::new().mode(0o711).create(&dir) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    drop(root);
                    if !cleared && self.clear_debris(id)? {
                        cleared = true;
                        continue;
                    }
                    return Err(StateError::Exists(id.to_string()));
                }
                Err(e) => return Err(io_err(&dir)(e)),
            }
            // The umask may have narrowed the mode; the init process,
            // possibly under another uid, must be able to reach exec.fifo.
            let locked = fs::set_permissions(&dir, fs::Permissions::from_mode(0o711))
                .map_err(io_err(&dir))
                .and_then(|()| lock_dir(&dir));
            drop(root);
            return match locked {
                Ok(lock) => Ok(Locked {
                    id: id.to_string(),
                    dir,
                    lock,
                }),
                Err(e) => {
                    let _ = fs::remove_dir(&dir);
                    Err(e)
                }
            };
        }
    }

    /// Removes `<root>/<id>/` if it is debris: a directory without a
    /// state.json that no live `jolt` holds (a `create` or `delete` killed
    /// midway left it). Returns whether the ID is now free: true when
    /// there was debris or nothing, false when a container (or a `jolt`
    /// at work on it) is there.
    pub fn clear_debris(&self, id: &str) -> Result<bool, StateError> {
        validate_id(id)?;
        let root = match lock_path(&self.dir, FlockArg::LockExclusive) {
            Err(StateError::Io { err, .. }) if err.kind() == io::ErrorKind::NotFound => {
                return Ok(true)
            }
            other => other?,
        };
        let dir = self.dir.join(id);
        // No create is between its mkdir and its lock now: a lock held on
        // the directory is a live jolt's.
        let lock = match lock_path(&dir, FlockArg::LockExclusiveNonblock) {
            Ok(lock) => lock,
            Err(StateError::Io { err, .. }) if err.kind() == io::ErrorKind::NotFound => {
                return Ok(true)
            }
            Err(StateError::Io { err, .. }) if err.kind() == io::ErrorKind::WouldBlock => {
                return Ok(false)
            }
            Err(e) => return Err(e),
        };
        if nix::sys::stat::fstatat(&*lock, STATE_FILE, nix::fcntl::AtFlags::empty()).is_ok() {
            return Ok(false);
        }
        tracing::warn!(
            "{}: no {STATE_FILE} (left by a jolt that was killed): removing it",
            dir.display()
        );
        let removed = match fs::remove_dir_all(&dir) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(io_err(&dir)(e)),
            _ => Ok(true),
        };
        drop((lock, root));
        removed
    }

    /// Locks an existing container's directory.
    pub fn open(&self, id: &str) -> Result<Locked, StateError> {
        validate_id(id)?;
        let dir = self.dir.join(id);
        let lock = match lock_dir(&dir) {
            Err(StateError::Io { err, .. }) if err.kind() == io::ErrorKind::NotFound => {
                return Err(StateError::NotExist(id.to_string()))
            }
            other => other?,
        };
        // Whoever held the lock before us may have deleted the container
        // (and someone may have made a new one of the same name): look
        // through the directory we locked, not the path.
        let exists = nix::sys::stat::fstatat(&*lock, STATE_FILE, nix::fcntl::AtFlags::empty());
        if exists.is_err() {
            return Err(StateError::NotExist(id.to_string()));
        }
        Ok(Locked {
            id: id.to_string(),
            dir,
            lock,
        })
    }

    /// IDs of every container under the root, sorted.
    pub fn ids(&self) -> Result<Vec<String>, StateError> {
        let entries = match fs::read_dir(&self.dir) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io_err(&self.dir)(e)),
        };
        let mut ids: Vec<String> = entries
            .filter_map(|e| e.ok())
            .filter(|e| e.path().join(STATE_FILE).exists())
            .filter_map(|e| e.file_name().into_string().ok())
            .collect();
        ids.sort();
        Ok(ids)
    }

    /// Reads a container's record without taking its lock: state.json is
    /// replaced atomically, so `state`, `list` and `kill` never wait behind
    /// a long hook.
    pub fn peek(&self, id: &str) -> Result<Record, StateError> {
        validate_id(id)?;
        match read_record(&self.dir.join(id).join(STATE_FILE)) {
            Err(StateError::Io { err, .. }) if err.kind() == io::ErrorKind::NotFound => {
                Err(StateError::NotExist(id.to_string()))
            }
            other => other,
        }
    }
}

fn lock_dir(dir: &Path) -> Result<Flock<File>, StateError> {
    lock_path(dir, FlockArg::LockExclusive)
}

fn lock_path(path: &Path, how: FlockArg) -> Result<Flock<File>, StateError> {
    let file = File::open(path).map_err(io_err(path))?;
    Flock::lock(file, how).map_err(|(_, e)| StateError::Io {
        path: path.to_path_buf(),
        err: e.into(),
    })
}

fn read_record(path: &Path) -> Result<Record, StateError> {
    let text = fs::read(path).map_err(io_err(path))?;
    serde_json::from_slice(&text).map_err(|source| StateError::Corrupt {
        path: path.to_path_buf(),
        source,
    })
}

impl Locked {
    pub fn load(&self) -> Result<Record, StateError> {
        read_record(&self.dir.join(STATE_FILE))
    }

    /// Writes state.json atomically: a reader sees the old or the new
    /// record, never a torn one.
    pub fn save(&self, record: &Record) -> Result<(), StateError> {
        let path = self.dir.join(STATE_FILE);
        let data = serde_json::to_vec(record).expect("a record always serializes");
        write_atomic(&path, &data, 0o600)
    }

    pub fn fifo(&self) -> PathBuf {
        self.dir.join(EXEC_FIFO)
    }

    /// The raw fd of the locked directory, for openat from the init process.
    pub fn dir_fd(&self) -> i32 {
        self.lock.as_raw_fd()
    }

    /// Removes the container's directory. The lock goes with it.
    pub fn remove(self) -> Result<(), StateError> {
        match fs::remove_dir_all(&self.dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_err(&self.dir)(e)),
        }
    }
}

/// Writes `data` to `path` through a temp file in the same directory and a
/// rename, so a reader sees the old or the new content, never a torn one.
/// No fsync: runtime state lives on /run and means nothing after a reboot,
/// and an fsync per state change costs more than the rest of `jolt run` on a
/// disk-backed /run (as runc, which does not sync either).
pub fn write_atomic(path: &Path, data: &[u8], mode: u32) -> Result<(), StateError> {
    use std::os::unix::fs::OpenOptionsExt;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
    let tmp = path.with_file_name(format!(".{}.tmp", name.unwrap_or_default()));
    // A stale temp file (or a symlink planted there) is removed, never
    // followed: the temp file is always made new.
    let _ = fs::remove_file(&tmp);
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .custom_flags(libc::O_NOFOLLOW)
        .mode(mode)
        .open(&tmp)
        .map_err(io_err(path))?;
    let written = f.write_all(data).and_then(|()| fs::rename(&tmp, path));
    if written.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    written.map_err(io_err(path))
}

/// Now, as RFC 3339 in UTC with nanoseconds, as runc prints `created`.
pub fn now_rfc3339() -> String {
    humantime::format_rfc3339_nanos(std::time::SystemTime::now()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        for good in ["a", "web-1", "x_y.z", "A+B", "0"] {
            validate_id(good).unwrap();
        }
        for bad in ["", ".", "..", "a/b", "../x", "a b", "a\0b", "/abs"] {
            assert!(validate_id(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn create_twice_is_an_error_and_open_sees_it() {
        let tmp = tempfile::tempdir().unwrap();
        let root = Root::new(tmp.path().join("root"));
        let c = root.create("one").unwrap();
        let rec = Record {
            id: "one".into(),
            pid: 0,
            pid_start: 0,
            status: Status::Creating,
            bundle: "/b".into(),
            rootfs: "/b/rootfs".into(),
            created: now_rfc3339(),
            owner: String::new(),
            cgroup_path: "jolt/one".into(),
            cgroup_driver: Default::default(),
            config: Spec::default(),
        };
        c.save(&rec).unwrap();
        drop(c);
        assert!(matches!(root.create("one"), Err(StateError::Exists(_))));
        assert_eq!(root.ids().unwrap(), vec!["one".to_string()]);
        let c = root.open("one").unwrap();
        assert_eq!(c.load().unwrap().cgroup_path, "jolt/one");
        c.remove().unwrap();
        assert!(matches!(root.open("one"), Err(StateError::NotExist(_))));
    }

    #[test]
    fn a_directory_without_state_is_debris_unless_locked() {
        let tmp = tempfile::tempdir().unwrap();
        let root = Root::new(tmp.path().join("root"));
        fs::create_dir_all(tmp.path().join("root/one")).unwrap();
        fs::write(tmp.path().join("root/one/.state.json.tmp"), b"{").unwrap();
        assert!(matches!(root.open("one"), Err(StateError::NotExist(_))));
        assert!(root.ids().unwrap().is_empty());
        let held = root.create("one").unwrap();
        assert!(!held.dir.join(".state.json.tmp").exists());
        // Locked and still without state.json: a create at work.
        assert!(!root.clear_debris("one").unwrap());
        assert!(matches!(root.create("one"), Err(StateError::Exists(_))));
        assert!(held.dir.is_dir());
        drop(held);
        assert!(root.clear_debris("one").unwrap());
        assert!(!tmp.path().join("root/one").exists());
        assert!(root.clear_debris("one").unwrap(), "nothing there is free");
    }

    #[test]
    fn own_process_is_live_and_dead_pid_is_stopped() {
        let me = std::process::id() as i32;
        let start = crate::pidfd::start_time(me).unwrap();
        let mut rec = Record {
            id: "x".into(),
            pid: me,
            pid_start: start,
            status: Status::Running,
            bundle: "/b".into(),
            rootfs: "/b/rootfs".into(),
            created: now_rfc3339(),
            owner: String::new(),
            cgroup_path: String::new(),
            cgroup_driver: Default::default(),
            config: Spec::default(),
        };
        assert_eq!(rec.live_status(), Status::Running);
        rec.pid_start += 1;
        assert_eq!(rec.live_status(), Status::Stopped);
        assert_eq!(rec.oci_state().pid, 0);
    }
}
