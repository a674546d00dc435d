//! layer: a container's own writable layer. An overlayfs whose lower
//! layer is the image's (or the user's bundle's) rootfs, left untouched
//! and shared, and whose upper and work directories are the container's,
//! in joltd's state: `layers/ID/upper`, `layers/ID/work`, mounted at
//! `layers/ID/rootfs`, the path its config.json names. Made before the
//! container is first created, kept across its restarts and joltd's,
//! unmounted and deleted with it (and by a prune, when its record is
//! gone and nothing runs in it). `--read-only` containers have none: they
//! run on the shared rootfs, read-only.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use nix::mount::{mount, umount2, MntFlags, MsFlags};

/// Why a layer could not be made or removed.
#[derive(Debug, thiserror::Error)]
#[error("writable layer {}: {what}: {source}", dir.display())]
pub struct LayerError {
    dir: PathBuf,
    what: String,
    #[source]
    source: io::Error,
}

/// The error of `what` going wrong with the layer in `dir`.
fn failed(dir: &Path, what: &str) -> impl FnOnce(io::Error) -> LayerError {
    let (dir, what) = (dir.to_path_buf(), what.to_string());
    move |source| LayerError { dir, what, source }
}

/// The merged rootfs of the layer in `dir`.
pub fn rootfs(dir: &Path) -> PathBuf {
    dir.join("rootfs")
}

/// Whether `path` is a mount point (in /proc/self/mountinfo).
fn mounted(path: &Path) -> io::Result<bool> {
    let info = fs::read_to_string("/proc/self/mountinfo")?;
    Ok(jolt_runtime::mountinfo::parse(&info)
        .iter()
        .any(|m| m.mount_point == path))
}

/// Mounts the layer in `dir` over `lower` (made when missing; a layer
/// already mounted, as after joltd's restart, is left as it is); its
/// merged rootfs. What this call made goes again if it fails.
pub fn mount_over(lower: &Path, dir: &Path) -> Result<PathBuf, LayerError> {
    let err = |what: &str| failed(dir, what);
    let merged = rootfs(dir);
    if mounted(&merged).map_err(err("reading /proc/self/mountinfo"))? {
        return Ok(merged);
    }
    let fresh = !dir.exists();
    let made = (|| {
        for sub in ["upper", "work", "rootfs"] {
            fs::create_dir_all(dir.join(sub)).map_err(err(&format!("mkdir {sub}")))?;
        }
        let data = format!(
            "lowerdir={},upperdir={},workdir={}",
            escape(lower),
            escape(&dir.join("upper")),
            escape(&dir.join("work"))
        );
        mount(
            Some("overlay"),
            &merged,
            Some("overlay"),
            MsFlags::MS_NODEV,
            Some(data.as_str()),
        )
        .map_err(|e| err("mount overlay")(io::Error::from(e)))
    })();
    if made.is_err() && fresh {
        let _ = fs::remove_dir_all(dir);
    }
    made.map(|()| merged)
}

/// An overlayfs option value: its `,` `:` and `\` escaped.
fn escape(p: &Path) -> String {
    let mut s = String::new();
    for c in p.to_string_lossy().chars() {
        if matches!(c, ',' | ':' | '\\') {
            s.push('\\');
        }
        s.push(c);
    }
    s
}

/// Unmounts the layer in `dir` (if mounted) and deletes it, the
/// container's writes with it. Nothing there is fine.
pub fn remove(dir: &Path) -> Result<(), LayerError> {
    let err = |what: &str| failed(dir, what);
    let merged = rootfs(dir);
    if mounted(&merged).map_err(err("reading /proc/self/mountinfo"))? {
        umount2(&merged, MntFlags::MNT_DETACH).map_err(|e| err("umount")(io::Error::from(e)))?;
    }
    match fs::remove_dir_all(dir) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(err("removing it")(e)),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlay_options_escape_their_separators() {
        assert_eq!(escape(Path::new("/a,b:c\\d")), "/a\\,b\\:c\\\\d");
        assert_eq!(escape(Path::new("/var/lib/jolt/x")), "/var/lib/jolt/x");
    }
}
