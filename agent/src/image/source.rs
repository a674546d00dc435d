//! source: the files of an image as it was handed over, by name.
//!
//! An image arrives as a directory (an OCI image layout) or as one tar
//! file (`oci-archive`, `docker-archive`; gzip-compressed as a whole, as
//! `docker save | gzip` writes, is decompressed beside the import first).
//! A [`Source`] opens a member by its relative name, whichever it is: a
//! tar is indexed once (where each member's bytes start and how many), so
//! a member is read in place, in any order. Names that climb out (`..`)
//! or are absolute are refused.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::path::{Component, Path, PathBuf};

use super::ImageError;

/// Members of an archive, read by name.
pub trait Source {
    /// Whether the member `name` exists.
    fn has(&self, name: &str) -> bool;
    /// The member `name`, to read from its first byte.
    fn open(&self, name: &str) -> Result<Box<dyn Read + '_>, ImageError>;
}

/// The gzip magic: a whole archive compressed.
const GZIP: [u8; 2] = [0x1f, 0x8b];

/// Opens `path` as a source: a directory as a layout, a file as a tar
/// (decompressed into `scratch` first when gzip-compressed).
pub fn open(path: &Path, scratch: &Path) -> Result<Box<dyn Source>, ImageError> {
    let bad = |cause: io::Error| ImageError::Read {
        path: path.to_path_buf(),
        cause,
    };
    let meta = std::fs::metadata(path).map_err(bad)?;
    if meta.is_dir() {
        return Ok(Box::new(Layout(path.to_path_buf())));
    }
    let mut file = File::open(path).map_err(bad)?;
    let mut magic = [0u8; 2];
    let n = read_up_to(&mut file, &mut magic).map_err(bad)?;
    file.rewind().map_err(bad)?;
    if n == 2 && magic == GZIP {
        let plain = scratch.join("archive.tar");
        let mut out = File::create(&plain).map_err(|cause| ImageError::Read {
            path: plain.clone(),
            cause,
        })?;
        io::copy(
            &mut flate2::read::GzDecoder::new(BufReader::new(file)),
            &mut out,
        )
        .map_err(|e| ImageError::Malformed(format!("{}: gzip: {e}", path.display())))?;
        let file = File::open(&plain).map_err(|cause| ImageError::Read { path: plain, cause })?;
        return Ok(Box::new(Tar::index(file, path)?));
    }
    Ok(Box::new(Tar::index(file, path)?))
}

/// Reads until `buf` is full or the input ends; how many bytes came.
fn read_up_to(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// `name` as a relative path that stays inside its base: `.` parts
/// dropped, `..` and absolute names refused.
pub fn member_path(name: &str) -> Result<PathBuf, ImageError> {
    let mut out = PathBuf::new();
    for part in Path::new(name).components() {
        match part {
            Component::Normal(p) => out.push(p),
            Component::CurDir => {}
            _ => {
                return Err(ImageError::Malformed(format!(
                    "{name:?}: a member name must be relative and stay inside the archive"
                )))
            }
        }
    }
    Ok(out)
}

/// An OCI image layout directory.
struct Layout(PathBuf);

impl Source for Layout {
    fn has(&self, name: &str) -> bool {
        member_path(name).is_ok_and(|p| self.0.join(p).is_file())
    }

    fn open(&self, name: &str) -> Result<Box<dyn Read + '_>, ImageError> {
        let path = self.0.join(member_path(name)?);
        let file = File::open(&path).map_err(|cause| missing(name, cause))?;
        Ok(Box::new(BufReader::new(file)))
    }
}

fn missing(name: &str, cause: io::Error) -> ImageError {
    match cause.kind() {
        io::ErrorKind::NotFound => ImageError::Malformed(format!("{name}: not in the archive")),
        _ => ImageError::Malformed(format!("{name}: {cause}")),
    }
}

/// A tar file, its regular members indexed by name.
struct Tar {
    file: File,
    /// Member name (normalized) → where its bytes start, and how many.
    members: HashMap<PathBuf, (u64, u64)>,
}

impl Tar {
    fn index(file: File, path: &Path) -> Result<Tar, ImageError> {
        let malformed = |e: io::Error| {
            ImageError::Malformed(format!("{}: not a tar archive: {e}", path.display()))
        };
        let len = file.metadata().map_err(malformed)?.len();
        let mut members = HashMap::new();
        let mut archive = tar::Archive::new(&file);
        for entry in archive.entries().map_err(malformed)? {
            let entry = entry.map_err(malformed)?;
            if !entry.header().entry_type().is_file() {
                continue;
            }
            let name = entry
                .path()
                .map_err(malformed)?
                .to_string_lossy()
                .into_owned();
            let (start, size) = (entry.raw_file_position(), entry.size());
            if start.saturating_add(size) > len {
                return Err(ImageError::Malformed(format!(
                    "{}: truncated: {name} needs {size} bytes from offset {start}, the file has {len}",
                    path.display()
                )));
            }
            members.insert(member_path(&name)?, (start, size));
        }
        if members.is_empty() {
            return Err(ImageError::Malformed(format!(
                "{}: not an image archive: no files in it",
                path.display()
            )));
        }
        Ok(Tar { file, members })
    }
}

impl Source for Tar {
    fn has(&self, name: &str) -> bool {
        member_path(name).is_ok_and(|p| self.members.contains_key(&p))
    }

    fn open(&self, name: &str) -> Result<Box<dyn Read + '_>, ImageError> {
        let &(start, size) = self
            .members
            .get(&member_path(name)?)
            .ok_or_else(|| ImageError::Malformed(format!("{name}: not in the archive")))?;
        let mut file = &self.file;
        file.seek(SeekFrom::Start(start))
            .map_err(|cause| missing(name, cause))?;
        Ok(Box::new(BufReader::new(file.take(size))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn member_names_stay_inside() {
        assert_eq!(
            member_path("./blobs/sha256/ab").unwrap(),
            Path::new("blobs/sha256/ab")
        );
        for bad in ["../x", "/etc/passwd", "a/../../b"] {
            assert!(member_path(bad).is_err(), "{bad}");
        }
    }

    fn tar_of(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (name, data) in files {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            h.set_cksum();
            b.append_data(&mut h, name, *data).unwrap();
        }
        b.into_inner().unwrap()
    }

    #[test]
    fn a_tar_is_read_by_member_in_any_order_and_gzip_is_undone() {
        let dir = tempfile::tempdir().unwrap();
        let bytes = tar_of(&[("./index.json", b"{}"), ("blobs/sha256/aa", b"hello")]);
        let plain = dir.path().join("a.tar");
        std::fs::write(&plain, &bytes).unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        io::Write::write_all(&mut gz, &bytes).unwrap();
        let zipped = dir.path().join("a.tar.gz");
        std::fs::write(&zipped, gz.finish().unwrap()).unwrap();
        for path in [plain, zipped] {
            let scratch = tempfile::tempdir().unwrap();
            let src = open(&path, scratch.path()).unwrap();
            let mut s = String::new();
            src.open("blobs/sha256/aa")
                .unwrap()
                .read_to_string(&mut s)
                .unwrap();
            assert_eq!(s, "hello");
            s.clear();
            src.open("index.json")
                .unwrap()
                .read_to_string(&mut s)
                .unwrap();
            assert_eq!(s, "{}");
            assert!(src.has("index.json") && !src.has("manifest.json"));
            let e = src.open("manifest.json").err().unwrap().to_string();
            assert!(e.contains("manifest.json: not in the archive"), "{e}");
        }
    }

    #[test]
    fn a_truncated_or_foreign_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let bytes = tar_of(&[("index.json", &[b'x'; 4000])]);
        let cut = dir.path().join("cut.tar");
        std::fs::write(&cut, &bytes[..2048]).unwrap();
        let e = open(&cut, dir.path()).err().unwrap().to_string();
        assert!(e.contains("truncated") || e.contains("not a tar"), "{e}");
        let text = dir.path().join("notes.txt");
        std::fs::write(&text, "hello, this is not a tar archive at all").unwrap();
        let e = open(&text, dir.path()).err().unwrap().to_string();
        assert!(e.contains("notes.txt"), "{e}");
    }
}
