//! copyup: the `tmpcopyup` mount option — a tmpfs mounted over a directory
//! of the image starts with a copy of what it covers (podman's `--tmpfs`
//! asks for it, as runc does it), owners, modes and times kept.
//!
//! It copies between two directory fds, the covered directory opened
//! before the mount and the new tmpfs after it, never following a
//! symlink, so nothing outside the rootfs is read or written.

use std::fs::File;
use std::io;
use std::os::fd::{AsFd, OwnedFd};

use nix::dir::Dir;
use nix::fcntl::{openat, readlinkat, AtFlags, OFlag};
use nix::sys::stat::{
    fchmodat, fstatat, mkdirat, mknodat, utimensat, FchmodatFlags, FileStat, Mode, SFlag,
    UtimensatFlags,
};
use nix::sys::time::TimeSpec;
use nix::unistd::{fchownat, symlinkat, Gid, Uid};

/// Copies the contents of directory `from` into directory `to`.
pub fn copy_dir(from: &OwnedFd, to: &OwnedFd) -> io::Result<()> {
    let mut dir = Dir::openat(
        from.as_fd(),
        ".",
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )?;
    let names: Vec<_> = dir
        .iter()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_owned())
        .filter(|n| n.to_bytes() != b"." && n.to_bytes() != b"..")
        .collect();
    for name in names {
        copy_entry(from, to, &name)
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", name.to_string_lossy())))?;
    }
    Ok(())
}

fn copy_entry(from: &OwnedFd, to: &OwnedFd, name: &std::ffi::CStr) -> io::Result<()> {
    let st = fstatat(from, name, AtFlags::AT_SYMLINK_NOFOLLOW)?;
    let kind = SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT;
    let perm = Mode::from_bits_truncate(st.st_mode & 0o7777);
    let nofollow = OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    match kind {
        SFlag::S_IFDIR => {
            mkdirat(to, name, perm)?;
            let dir = OFlag::O_RDONLY | OFlag::O_DIRECTORY | nofollow;
            let src = openat(from, name, dir, Mode::empty())?;
            let dst = openat(to, name, dir, Mode::empty())?;
            copy_dir(&src, &dst)?;
        }
        SFlag::S_IFREG => {
            let src = openat(from, name, OFlag::O_RDONLY | nofollow, Mode::empty())?;
            let flags = OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | nofollow;
            let dst = openat(to, name, flags, perm)?;
            io::copy(&mut File::from(src), &mut File::from(dst))?;
        }
        SFlag::S_IFLNK => {
            let target = readlinkat(from, name)?;
            symlinkat(target.as_os_str(), to, name)?;
        }
        _ => mknodat(to, name, kind, perm, st.st_rdev)?,
    }
    keep_metadata(to, name, &st, kind == SFlag::S_IFLNK)
}

/// Owner, then mode (a chown clears set-id bits), then times.
fn keep_metadata(
    dir: &OwnedFd,
    name: &std::ffi::CStr,
    st: &FileStat,
    link: bool,
) -> io::Result<()> {
    fchownat(
        dir,
        name,
        Some(Uid::from_raw(st.st_uid)),
        Some(Gid::from_raw(st.st_gid)),
        AtFlags::AT_SYMLINK_NOFOLLOW,
    )?;
    if !link {
        let perm = Mode::from_bits_truncate(st.st_mode & 0o7777);
        fchmodat(dir, name, perm, FchmodatFlags::FollowSymlink)?;
    }
    let atime = TimeSpec::new(st.st_atime, st.st_atime_nsec);
    let mtime = TimeSpec::new(st.st_mtime, st.st_mtime_nsec);
    utimensat(dir, name, &atime, &mtime, UtimensatFlags::NoFollowSymlink)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::{symlink, MetadataExt, PermissionsExt};
    use std::path::Path;

    fn open_dir(p: &Path) -> OwnedFd {
        nix::fcntl::open(p, OFlag::O_RDONLY | OFlag::O_DIRECTORY, Mode::empty()).unwrap()
    }

    #[test]
    fn copies_files_dirs_and_symlinks_without_following_them() {
        let tmp = tempfile::tempdir().unwrap();
        let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
        fs::create_dir_all(a.join("sub")).unwrap();
        fs::create_dir(&b).unwrap();
        fs::write(a.join("sub/file"), "hello").unwrap();
        fs::set_permissions(a.join("sub/file"), fs::Permissions::from_mode(0o640)).unwrap();
        symlink("/etc/passwd", a.join("link")).unwrap();

        copy_dir(&open_dir(&a), &open_dir(&b)).unwrap();

        assert_eq!(fs::read_to_string(b.join("sub/file")).unwrap(), "hello");
        let meta = fs::metadata(b.join("sub/file")).unwrap();
        assert_eq!(meta.mode() & 0o7777, 0o640);
        assert_eq!(
            meta.mtime(),
            fs::metadata(a.join("sub/file")).unwrap().mtime()
        );
        assert_eq!(
            fs::read_link(b.join("link")).unwrap(),
            Path::new("/etc/passwd")
        );
    }

    #[test]
    fn an_existing_name_in_the_target_is_an_error_naming_it() {
        let tmp = tempfile::tempdir().unwrap();
        let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
        fs::create_dir(&a).unwrap();
        fs::create_dir(&b).unwrap();
        fs::write(a.join("f"), "new").unwrap();
        fs::write(b.join("f"), "old").unwrap();
        let err = copy_dir(&open_dir(&a), &open_dir(&b)).unwrap_err();
        assert!(err.to_string().starts_with("f: "), "{err}");
        assert_eq!(fs::read_to_string(b.join("f")).unwrap(), "old");
    }
}
