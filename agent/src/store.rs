//! store: joltd's state directory (default /var/lib/jolt).
//!
//! Owns the layout (`containers/<id>/` per container, `images/` for the
//! embedded bundle's rootfs), durable writes (write a temporary file,
//! fsync, rename, fsync the directory) and loading every record at start,
//! where a corrupt or truncated file is reported and skipped rather than
//! fatal for the others. What goes in the files belongs to `container`
//! (the record) and `monitor` (its pid and exit files).
//!
//! Loading also clears what a joltd killed mid-write leaves: a container
//! directory holding nothing but temporary files (its record was never
//! renamed into place, so nothing else of it was made) is removed, and so
//! are temporary files beside a record, except those a live monitor may
//! still be writing (its own, while the container may run).

use std::fs::{self, File};
use std::io;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use nix::fcntl::{Flock, FlockArg};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::container::{Record, State};

/// The record of a container, in its directory.
pub const RECORD: &str = "container.json";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{}: {cause}", path.display())]
    Io { path: PathBuf, cause: io::Error },
    #[error("{}: corrupt: {cause}", path.display())]
    Corrupt {
        path: PathBuf,
        cause: serde_json::Error,
    },
    #[error("{}: another joltd uses this state directory", .0.display())]
    InUse(PathBuf),
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> StoreError + '_ {
    move |cause| StoreError::Io {
        path: path.to_path_buf(),
        cause,
    }
}

/// The state directory, locked for as long as this lives.
#[derive(Debug)]
pub struct Store {
    root: PathBuf,
    _lock: Flock<File>,
}

impl Store {
    /// Opens `root`, making it and its subdirectories (mode 0700) when
    /// missing, and takes its lock: one joltd per state directory.
    pub fn open(root: &Path) -> Result<Store, StoreError> {
        for dir in [
            root.to_path_buf(),
            root.join("containers"),
            root.join("images"),
        ] {
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(&dir)
                .map_err(io_err(&dir))?;
        }
        let path = root.join("lock");
        let file = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&path)
            .map_err(io_err(&path))?;
        let lock = Flock::lock(file, FlockArg::LockExclusiveNonblock)
            .map_err(|_| StoreError::InUse(root.to_path_buf()))?;
        Ok(Store {
            root: root.to_path_buf(),
            _lock: lock,
        })
    }

    /// Where the embedded bundles' root filesystems live.
    pub fn images(&self) -> PathBuf {
        self.root.join("images")
    }

    /// The directory of container `id`'s writable layer (see
    /// [`crate::layer`]): beside the records, not in them, so that a lost
    /// or removed record never takes a mounted layer's directory with it.
    pub fn layer(&self, id: &str) -> PathBuf {
        self.root.join("layers").join(id)
    }

    /// Where the containers' writable layers are.
    pub fn layers(&self) -> PathBuf {
        self.root.join("layers")
    }

    /// The directory of container `id`.
    pub fn dir(&self, id: &str) -> PathBuf {
        self.root.join("containers").join(id)
    }

    /// Makes the directory of a new container; fails if it exists.
    pub fn create_dir(&self, id: &str) -> Result<PathBuf, StoreError> {
        let dir = self.dir(id);
        fs::DirBuilder::new()
            .mode(0o700)
            .create(&dir)
            .map_err(io_err(&dir))?;
        Ok(dir)
    }

    /// Writes the record durably.
    pub fn save(&self, record: &Record) -> Result<(), StoreError> {
        write_json(&self.dir(&record.id).join(RECORD), record)
    }

    /// Every container's record, and what was cleared on the way (see the
    /// module's doc). A directory whose record is unreadable or corrupt is
    /// reported in `errors` and left in place for a person to look at.
    pub fn load_all(&self) -> Result<Loaded, StoreError> {
        let dir = self.root.join("containers");
        let mut loaded = Loaded::default();
        let mut entries: Vec<_> = fs::read_dir(&dir)
            .map_err(io_err(&dir))?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .collect();
        entries.sort();
        for path in entries {
            let temps = match temp_files(&path) {
                Ok(t) => t,
                Err(e) => {
                    loaded.errors.push(e);
                    continue;
                }
            };
            match read_json::<Record>(&path.join(RECORD)) {
                Ok(Some(r)) => {
                    // A monitor writes its files only while a run may be
                    // under way.
                    let monitor_idle = matches!(r.status.state, State::Exited | State::Restarting);
                    for tmp in temps {
                        let ours = tmp.file_name()
                            == jolt_runtime::durable::temporary(&path.join(RECORD)).file_name();
                        if ours || monitor_idle {
                            remove_file(&tmp, &mut loaded);
                        }
                    }
                    loaded.records.push(r);
                }
                Ok(None) if only_temp_files(&path, &temps) => match fs::remove_dir_all(&path) {
                    Ok(()) => loaded.removed.push(path),
                    Err(cause) => loaded.errors.push(StoreError::Io { path, cause }),
                },
                Ok(None) => loaded.errors.push(StoreError::Io {
                    path: path.join(RECORD),
                    cause: io::Error::from(io::ErrorKind::NotFound),
                }),
                Err(e) => loaded.errors.push(e),
            }
        }
        Ok(loaded)
    }

    /// Removes container `id`'s directory and everything in it; a missing
    /// one is not an error.
    pub fn remove(&self, id: &str) -> Result<(), StoreError> {
        let dir = self.dir(id);
        match fs::remove_dir_all(&dir) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(io_err(&dir)(e)),
            _ => Ok(()),
        }
    }
}

/// What [`Store::load_all`] found.
#[derive(Debug, Default)]
pub struct Loaded {
    pub records: Vec<Record>,
    /// Directories and files that were cleared (left by a joltd killed
    /// mid-write).
    pub removed: Vec<PathBuf>,
    /// Directories left in place, and why.
    pub errors: Vec<StoreError>,
}

/// Whether `name` is a temporary file of [`write_durable`]'s.
pub fn is_temp(name: &std::ffi::OsStr) -> bool {
    let name = name.to_string_lossy();
    name.starts_with('.') && name.ends_with(".tmp")
}

/// The temporary files directly in `dir`.
fn temp_files(dir: &Path) -> Result<Vec<PathBuf>, StoreError> {
    Ok(fs::read_dir(dir)
        .map_err(io_err(dir))?
        .filter_map(Result::ok)
        .filter(|e| is_temp(&e.file_name()))
        .map(|e| e.path())
        .collect())
}

/// Whether `dir` holds nothing but `temps`.
fn only_temp_files(dir: &Path, temps: &[PathBuf]) -> bool {
    fs::read_dir(dir).is_ok_and(|d| d.count() == temps.len())
}

fn remove_file(path: &Path, loaded: &mut Loaded) {
    match fs::remove_file(path) {
        Ok(()) => loaded.removed.push(path.to_path_buf()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(cause) => loaded.errors.push(StoreError::Io {
            path: path.to_path_buf(),
            cause,
        }),
    }
}

/// Writes `bytes` to `path` durably, mode 0600 (see
/// [`jolt_runtime::durable`]).
pub fn write_durable(path: &Path, bytes: &[u8]) -> io::Result<()> {
    jolt_runtime::durable::write(path, bytes, 0o600)
}

/// Sets aside `len` bytes for a later [`write_durable`] of `path`.
pub fn reserve_durable(path: &Path, len: usize) -> io::Result<()> {
    jolt_runtime::durable::reserve(path, len, 0o600)
}

/// Serializes `value` and writes it durably.
pub fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<(), StoreError> {
    let text = serde_json::to_vec_pretty(value).expect("records serialize");
    write_durable(path, &text).map_err(io_err(path))
}

/// Reads a JSON file; None when it does not exist.
pub fn read_json<T: DeserializeOwned>(path: &Path) -> Result<Option<T>, StoreError> {
    let text = match fs::read(path) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_err(path)(e)),
    };
    serde_json::from_slice(&text)
        .map(Some)
        .map_err(|cause| StoreError::Corrupt {
            path: path.to_path_buf(),
            cause,
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::container::{RunRequest, Status};

    fn record(id: &str) -> Record {
        Record {
            id: id.into(),
            spec: RunRequest::default().validate(id).unwrap(),
            created: "2026-12-01T00:00:00Z".into(),
            status: Status::new(),
            log_dir: None,
        }
    }

    #[test]
    fn records_survive_a_reload_and_corrupt_ones_are_reported() {
        let tmp = tempfile::tempdir().unwrap();
        let store = Store::open(&tmp.path().join("state")).unwrap();
        for id in ["aaaaaaaaaaaa", "bbbbbbbbbbbb", "cccccccccccc"] {
            store.create_dir(id).unwrap();
            store.save(&record(id)).unwrap();
        }
        let truncated = store.dir("bbbbbbbbbbbb").join(RECORD);
        let text = fs::read(&truncated).unwrap();
        fs::write(&truncated, &text[..text.len() / 2]).unwrap();
        // Its record lost, but not only temporary files: for a person.
        fs::remove_file(store.dir("cccccccccccc").join(RECORD)).unwrap();
        fs::write(store.dir("cccccccccccc").join("container.log"), "x\n").unwrap();

        let Loaded {
            records, errors, ..
        } = store.load_all().unwrap();
        assert_eq!(records, vec![record("aaaaaaaaaaaa")]);
        assert_eq!(errors.len(), 2);
        let msg = errors[0].to_string();
        assert!(
            msg.contains("bbbbbbbbbbbb/container.json: corrupt"),
            "{msg}"
        );
        assert!(
            errors[1].to_string().contains("cccccccccccc"),
            "{}",
            errors[1]
        );
    }

    #[test]
    fn what_a_killed_joltd_left_mid_write_is_cleared_at_load() {
        let tmp = tempfile::tempdir().unwrap();
        let store = Store::open(&tmp.path().join("state")).unwrap();
        // Killed before its first record was renamed into place.
        let half = store.create_dir("eeeeeeeeeeee").unwrap();
        fs::write(half.join(".container.json.tmp"), b"{").unwrap();
        let empty = store.create_dir("ffffffffffff").unwrap();
        // A container with a stale temp file of joltd's and one of a
        // monitor that may still run.
        store.create_dir("aaaaaaaaaaaa").unwrap();
        store.save(&record("aaaaaaaaaaaa")).unwrap();
        let dir = store.dir("aaaaaaaaaaaa");
        fs::write(dir.join(".container.json.tmp"), b"{").unwrap();
        fs::write(dir.join(".exit.json.tmp"), b"{").unwrap();

        let loaded = store.load_all().unwrap();
        assert_eq!(loaded.records, vec![record("aaaaaaaaaaaa")]);
        assert!(loaded.errors.is_empty(), "{:?}", loaded.errors);
        assert!(!half.exists() && !empty.exists());
        assert!(!dir.join(".container.json.tmp").exists());
        assert!(dir.join(".exit.json.tmp").exists(), "the monitor's");
        assert_eq!(loaded.removed.len(), 3, "{:?}", loaded.removed);
        store.create_dir("eeeeeeeeeeee").unwrap();
    }

    #[test]
    fn a_durable_write_replaces_the_file_and_leaves_no_temporary() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("x.json");
        write_durable(&path, b"one").unwrap();
        write_durable(&path, b"two").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"two");
        assert_eq!(fs::read_dir(tmp.path()).unwrap().count(), 1);
    }

    #[test]
    fn a_reserved_durable_write_leaves_no_padding() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("exit.json");
        reserve_durable(&path, 1024).unwrap();
        assert_eq!(fs::read_dir(tmp.path()).unwrap().count(), 1);
        write_durable(&path, b"{}").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"{}");
        assert_eq!(fs::read_dir(tmp.path()).unwrap().count(), 1);
    }

    #[test]
    fn one_store_per_directory_at_a_time() {
        let tmp = tempfile::tempdir().unwrap();
        let first = Store::open(tmp.path()).unwrap();
        let e = Store::open(tmp.path()).unwrap_err().to_string();
        assert!(e.contains("another joltd uses this state directory"), "{e}");
        drop(first);
        Store::open(tmp.path()).unwrap();
    }

    #[test]
    fn remove_is_idempotent_and_create_refuses_an_existing_dir() {
        let tmp = tempfile::tempdir().unwrap();
        let store = Store::open(tmp.path()).unwrap();
        store.create_dir("dddddddddddd").unwrap();
        assert!(store.create_dir("dddddddddddd").is_err());
        store.remove("dddddddddddd").unwrap();
        store.remove("dddddddddddd").unwrap();
        assert!(!store.dir("dddddddddddd").exists());
    }
}
