//! durable: writing a file so that a crash leaves the old content or the
//! new, never a part, and the new one survives a power loss once written:
//! joltd's records, the network's leases and subnet, the fault journal.
//!
//! The bytes go to a temporary file beside the target (`.NAME.tmp`),
//! which is synced, renamed over the target, and the directory synced.
//! The temporary file is written over, not truncated first, so the space
//! [`reserve`] set aside for it is used: a write of up to that size then
//! succeeds on a disk that filled meanwhile. A symlink planted at the
//! temporary file's name is never followed. (jolt's own runtime state in
//! /run is written without the syncs: see `state::write_atomic`.)

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// The temporary file [`write`] writes beside `path`: `.NAME.tmp`.
pub fn temporary(path: &Path) -> PathBuf {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    dir.join(format!(".{name}.tmp"))
}

/// Opens the temporary file of `path` for writing (made with `mode`),
/// without following a symlink there.
fn open_temporary(path: &Path, mode: u32, truncate: bool) -> io::Result<File> {
    let tmp = temporary(path);
    let open = || {
        OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(truncate)
            .custom_flags(libc::O_NOFOLLOW)
            .mode(mode)
            .open(&tmp)
    };
    match open() {
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
            fs::remove_file(&tmp)?;
            open()
        }
        other => other,
    }
}

/// Writes `bytes` to `path` durably (see the module): the file is made
/// with `mode` when new.
pub fn write(path: &Path, bytes: &[u8], mode: u32) -> io::Result<()> {
    let mut f = open_temporary(path, mode, false)?;
    f.write_all(bytes)?;
    f.set_len(bytes.len() as u64)?;
    f.sync_all()?;
    drop(f);
    fs::rename(temporary(path), path)?;
    sync_dir(path)
}

/// fsync of the directory holding `path`, so that a rename or an unlink
/// in it is durable.
pub fn sync_dir(path: &Path) -> io::Result<()> {
    File::open(path.parent().unwrap_or(Path::new(".")))?.sync_all()
}

/// Sets aside `len` bytes for a later [`write`] of `path` (its temporary
/// file, made that long now).
pub fn reserve(path: &Path, len: usize, mode: u32) -> io::Result<()> {
    let mut f = open_temporary(path, mode, true)?;
    f.write_all(&vec![b' '; len])?;
    f.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn a_write_replaces_the_file_whole_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("record.json");
        write(&path, b"first, and longer", 0o600).unwrap();
        write(&path, b"second", 0o600).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"second");
        assert_eq!(fs::metadata(&path).unwrap().mode() & 0o777, 0o600);
        assert!(!temporary(&path).exists());
        assert_eq!(temporary(&path), dir.path().join(".record.json.tmp"));
    }

    #[test]
    fn reserved_space_is_written_over_and_a_planted_symlink_is_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("leases.json");
        reserve(&path, 64, 0o600).unwrap();
        assert_eq!(fs::metadata(temporary(&path)).unwrap().len(), 64);
        write(&path, b"{}", 0o600).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"{}");
        let victim = dir.path().join("victim");
        fs::write(&victim, "keep").unwrap();
        std::os::unix::fs::symlink(&victim, temporary(&path)).unwrap();
        write(&path, b"new", 0o600).unwrap();
        assert_eq!(fs::read_to_string(&victim).unwrap(), "keep");
        assert_eq!(fs::read(&path).unwrap(), b"new");
    }
}
