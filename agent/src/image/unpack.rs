//! unpack: one layer applied onto an image's rootfs, digests checked.
//!
//! Layers are applied in order onto one directory, so an image is a
//! single lower layer for every container's overlay. A layer's tar
//! (plain or gzip; detected by its first bytes, not its media type) is
//! checked against the manifest's digest before it is read, where the
//! format names one, and hashed as it streams against the config's
//! diff_id; either differing fails the import, whose directory is then
//! thrown away whole. Entries keep
//! their owners, modes, times, extended attributes and hard links;
//! device nodes and FIFOs are made with mknod. Whiteouts (`.wh.NAME`)
//! delete what lower layers left at NAME, opaque markers
//! (`.wh..wh..opq`) empty their directory of it; neither touches what the
//! same layer brings. A path with `..`, or one that would reach outside
//! the rootfs through a symlink, is refused.

use std::cell::RefCell;
use std::collections::HashSet;
use std::fs;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Component, Path, PathBuf};
use std::rc::Rc;

use sha2::{Digest as _, Sha256};
use tar::EntryType;

use super::manifest::{hex, Layer};
use super::source::Source;
use super::ImageError;

/// The prefix of a whiteout's name.
const WHITEOUT: &str = ".wh.";
/// The name of an opaque directory's marker.
const OPAQUE: &str = ".wh..wh..opq";
/// The prefix of PAX records that carry extended attributes.
const XATTR: &str = "SCHILY.xattr.";

/// A reader that hashes what passes through it.
struct Hashing<R> {
    inner: R,
    hash: Rc<RefCell<Sha256>>,
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hash.borrow_mut().update(&buf[..n]);
        Ok(n)
    }
}

fn hashing<R: Read>(inner: R) -> (Hashing<R>, Rc<RefCell<Sha256>>) {
    let hash = Rc::new(RefCell::new(Sha256::new()));
    (
        Hashing {
            inner,
            hash: hash.clone(),
        },
        hash,
    )
}

fn finish(hash: Rc<RefCell<Sha256>>) -> String {
    hex(&hash.borrow().clone().finalize())
}

/// Checks that member `name` of `src` hashes to `want` (hex SHA-256),
/// before anything reads what is in it.
fn verify(src: &dyn Source, name: &str, want: &str) -> Result<(), ImageError> {
    let (mut reader, hash) = hashing(src.open(name)?);
    io::copy(&mut reader, &mut io::sink()).map_err(|e| ImageError::Layer {
        layer: name.to_string(),
        what: format!("reading: {e}"),
    })?;
    let got = finish(hash);
    if got != want {
        return Err(ImageError::Digest {
            what: name.to_string(),
            want: format!("sha256:{want}"),
            got: format!("sha256:{got}"),
        });
    }
    Ok(())
}

/// Applies `layer` from `src` onto `root` (canonical); the bytes of the
/// regular files it wrote.
pub fn apply(src: &dyn Source, layer: &Layer, root: &Path) -> Result<u64, ImageError> {
    let name = &layer.member;
    let bad = |what: String| ImageError::Layer {
        layer: name.clone(),
        what,
    };
    if let Some(want) = &layer.blob {
        verify(src, name, want)?;
    }
    let mut stored = BufReader::new(src.open(name)?);
    let head = stored
        .fill_buf()
        .map_err(|e| bad(format!("reading: {e}")))?;
    let plain: Box<dyn Read> =
        match head {
            [0x1f, 0x8b, ..] => Box::new(flate2::read::MultiGzDecoder::new(stored)),
            [0x28, 0xb5, 0x2f, 0xfd, ..] => return Err(bad(
                "zstd-compressed: not supported; save the image with gzip or uncompressed layers"
                    .into(),
            )),
            _ => Box::new(stored),
        };
    let (plain, diff_hash) = hashing(plain);
    let mut archive = tar::Archive::new(plain);
    archive.set_preserve_permissions(true);
    archive.set_preserve_ownerships(true);
    archive.set_preserve_mtime(true);
    archive.set_overwrite(true);
    archive.set_unpack_xattrs(false);
    let mut applier = Applier {
        root,
        made: HashSet::new(),
        bytes: 0,
    };
    let applied = (|| {
        let entries = archive.entries().map_err(|e| format!("not a tar: {e}"))?;
        for entry in entries {
            let mut entry = entry.map_err(|e| format!("truncated or not a tar: {e}"))?;
            applier.entry(&mut entry)?;
        }
        Ok::<_, String>(())
    })();
    // Hash what is left (a tar's end blocks, or what a failure left
    // unread): a layer that is not what the config says is reported as
    // such, whatever else went wrong reading it.
    let drained = io::copy(&mut archive.into_inner(), &mut io::sink());
    let got = finish(diff_hash);
    if got != layer.diff_id {
        return Err(ImageError::Digest {
            what: format!("{name} (uncompressed, the config's diff_id)"),
            want: format!("sha256:{}", layer.diff_id),
            got: format!("sha256:{got}"),
        });
    }
    applied.map_err(bad)?;
    drained.map_err(|e| bad(format!("truncated: {e}")))?;
    Ok(applier.bytes)
}

/// Applies entries of one layer onto `root`.
struct Applier<'a> {
    root: &'a Path,
    /// What this layer brought (relative paths): its whiteouts spare them.
    made: HashSet<PathBuf>,
    bytes: u64,
}

impl Applier<'_> {
    fn entry<R: Read>(&mut self, entry: &mut tar::Entry<R>) -> Result<(), String> {
        let raw = entry.path_bytes().into_owned();
        let shown = String::from_utf8_lossy(&raw).into_owned();
        let rel = relative(&raw).map_err(|why| format!("{shown:?}: {why}"))?;
        let Some(file) = rel.file_name().map(|f| f.to_string_lossy().into_owned()) else {
            return Ok(()); // the root itself
        };
        let parent = rel.parent().unwrap_or(Path::new("")).to_path_buf();
        if file == OPAQUE {
            return self.opaque(&parent).map_err(|e| format!("{shown}: {e}"));
        }
        if let Some(hidden) = file.strip_prefix(WHITEOUT) {
            if hidden.starts_with(WHITEOUT) {
                return Ok(()); // other markers (aufs' .wh..wh.plnk): nothing to apply
            }
            return self
                .whiteout(&parent.join(hidden))
                .map_err(|e| format!("{shown}: {e}"));
        }
        let kind = entry.header().entry_type();
        let xattrs = xattrs(entry).map_err(|e| format!("{shown}: {e}"))?;
        let target = self.root.join(&rel);
        self.inside(&target).map_err(|e| format!("{shown}: {e}"))?;
        self.clear_for(&target, kind.is_dir())
            .map_err(|e| format!("{shown}: {e}"))?;
        match kind {
            EntryType::Char | EntryType::Block | EntryType::Fifo => {
                node(entry, &target).map_err(|e| format!("{shown}: {e}"))?
            }
            _ => {
                if kind.is_file() {
                    self.bytes += entry.size();
                }
                if !entry.unpack_in(self.root).map_err(|e| e.to_string())? {
                    return Err(format!("{shown}: refused by the tar reader"));
                }
            }
        }
        for (name, value) in xattrs {
            xattr::set(&target, &name, &value)
                .map_err(|e| format!("{shown}: extended attribute {name}: {e}"))?;
        }
        self.made.insert(rel);
        Ok(())
    }

    /// Fails unless `path`'s nearest existing ancestor resolves inside
    /// the root (a symlink a lower layer left must not lead out).
    fn inside(&self, path: &Path) -> Result<(), String> {
        let mut at = path.parent();
        while let Some(dir) = at {
            match fs::canonicalize(dir) {
                Ok(real) if real.starts_with(self.root) => return Ok(()),
                Ok(real) => {
                    return Err(format!(
                        "leads outside the image through a symlink (to {})",
                        real.display()
                    ))
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => at = dir.parent(),
                Err(e) => return Err(e.to_string()),
            }
        }
        Err("outside the image".into())
    }

    /// Removes what is at `target` unless the entry keeps it (a directory
    /// over a directory, whose contents stay).
    fn clear_for(&self, target: &Path, is_dir: bool) -> io::Result<()> {
        match fs::symlink_metadata(target) {
            Ok(m) if m.is_dir() && is_dir => Ok(()),
            Ok(m) if m.is_dir() => fs::remove_dir_all(target),
            Ok(_) => fs::remove_file(target),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e),
        }
    }

    fn whiteout(&self, rel: &Path) -> Result<(), String> {
        if self.made.contains(rel) {
            return Ok(());
        }
        let target = self.root.join(rel);
        self.inside(&target)?;
        self.clear_for(&target, false).map_err(|e| e.to_string())
    }

    fn opaque(&self, dir: &Path) -> Result<(), String> {
        let at = self.root.join(dir);
        self.inside(&at.join("x"))?;
        let children = match fs::read_dir(&at) {
            Ok(c) => c,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e.to_string()),
        };
        for child in children {
            let child = child.map_err(|e| e.to_string())?;
            if !self.made.contains(&dir.join(child.file_name())) {
                self.clear_for(&child.path(), false)
                    .map_err(|e| e.to_string())?;
            }
        }
        Ok(())
    }
}

/// An entry's path as a relative path inside the rootfs (leading `/` and
/// `.` dropped); `..` refused.
fn relative(raw: &[u8]) -> Result<PathBuf, &'static str> {
    use std::os::unix::ffi::OsStrExt;
    let mut out = PathBuf::new();
    for part in Path::new(std::ffi::OsStr::from_bytes(raw)).components() {
        match part {
            Component::Normal(p) => out.push(p),
            Component::RootDir | Component::CurDir => {}
            Component::ParentDir | Component::Prefix(_) => {
                return Err("a path with '..' would escape the image")
            }
        }
    }
    Ok(out)
}

/// The entry's extended attributes (PAX `SCHILY.xattr.NAME` records).
fn xattrs<R: Read>(entry: &mut tar::Entry<R>) -> io::Result<Vec<(String, Vec<u8>)>> {
    let mut out = Vec::new();
    if let Some(exts) = entry.pax_extensions()? {
        for ext in exts {
            let ext = ext?;
            if let Some(name) = ext.key().ok().and_then(|k| k.strip_prefix(XATTR)) {
                // overlayfs's own markers (opaque, redirect, metacopy, ...)
                // would steer the overlay that every container of the image
                // mounts over this rootfs: dropped, as containers/storage
                // drops them.
                if name.starts_with("trusted.overlay.") || name.starts_with("user.overlay.") {
                    continue;
                }
                out.push((name.to_string(), ext.value_bytes().to_vec()));
            }
        }
    }
    Ok(out)
}

/// Makes a device node or FIFO as the entry describes it, with its
/// owner and mode.
fn node<R: Read>(entry: &tar::Entry<R>, target: &Path) -> Result<(), String> {
    use nix::sys::stat::{makedev, mknod, Mode, SFlag};
    let h = entry.header();
    let kind = match h.entry_type() {
        EntryType::Char => SFlag::S_IFCHR,
        EntryType::Block => SFlag::S_IFBLK,
        _ => SFlag::S_IFIFO,
    };
    let num = |v: io::Result<Option<u32>>| v.map(Option::unwrap_or_default);
    // A FIFO has no device numbers (writers leave the fields empty).
    let dev = match kind {
        SFlag::S_IFIFO => 0,
        _ => makedev(
            num(h.device_major()).map_err(|e| e.to_string())?.into(),
            num(h.device_minor()).map_err(|e| e.to_string())?.into(),
        ),
    };
    let mode = h.mode().map_err(|e| e.to_string())?;
    if let Some(parent) = target.parent() {
        fs::create_dir_all(parent).map_err(|e| e.to_string())?;
    }
    mknod(target, kind, Mode::from_bits_truncate(mode & 0o7777), dev)
        .map_err(|e| format!("mknod: {e}"))?;
    let (uid, gid) = (
        h.uid().map_err(|e| e.to_string())?,
        h.gid().map_err(|e| e.to_string())?,
    );
    std::os::unix::fs::lchown(target, Some(uid as u32), Some(gid as u32))
        .map_err(|e| format!("chown: {e}"))?;
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(target, fs::Permissions::from_mode(mode & 0o7777))
        .map_err(|e| format!("chmod: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_made_relative_and_dotdot_is_refused() {
        assert_eq!(relative(b"./etc/passwd").unwrap(), Path::new("etc/passwd"));
        assert_eq!(relative(b"/bin/sh").unwrap(), Path::new("bin/sh"));
        assert!(relative(b"../etc/passwd").is_err());
        assert!(relative(b"a/../../b").is_err());
    }
}
