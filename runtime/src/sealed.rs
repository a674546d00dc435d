//! sealed: jolt runs the commands that put processes into a container
//! (create, run, exec) from a copy of its own binary that cannot be
//! written.
//!
//! The container's init and an exec'd process run jolt's code inside the
//! container until they exec. A process in there that opens their
//! /proc/PID/exe could otherwise reopen the host's jolt binary for writing
//! once nobody executes it, and replace it (CVE-2019-5736). So jolt
//! re-executes itself, before anything else, from one of:
//!
//! - a read-only clone of the mount of its own file: open_tree(2) with
//!   OPEN_TREE_CLONE on /proc/self/exe makes a bind mount of just that file,
//!   detached (in no mount namespace, so no mount event reaches systemd or
//!   anyone), and mount_setattr(2) makes it read-only, nosuid, nodev. The
//!   exe of the re-executed jolt is the same inode through a mount that
//!   refuses every write (EROFS), and the container cannot make it
//!   writable: the mount is not in its namespace, and a clone it made of it
//!   would have its read-only flag locked. This costs two system calls
//!   (runc 1.2 mounts an overlayfs for the same reason; a bind clone needs
//!   neither a lower directory nor a superblock);
//! - where the kernel or the caller's privileges refuse that (before Linux
//!   5.12, or without CAP_SYS_ADMIN), a memfd copy of the binary with every
//!   seal set: it cannot be written, shrunk or grown. This copies the whole
//!   binary (2 to 3 ms for jolt's 7 MB).
//!
//! A jolt whose binary is already on a read-only mount (a read-only /usr)
//! does not re-execute at all: that file cannot be written either. This
//! module owns the choice and the re-execution; nothing else.

use std::ffi::{CString, OsString};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStringExt;

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::stat::Mode;

use crate::{sys, SysError};

/// Set in the environment of the re-executed copy, so that a copy that
/// somehow does not look sealed fails instead of re-executing forever.
const MARK: &str = "_JOLT_SEALED";
/// The seals every copy has; against writes it has one of [`NO_WRITES`].
const SEALS: libc::c_int = libc::F_SEAL_SEAL | libc::F_SEAL_SHRINK | libc::F_SEAL_GROW;
/// F_SEAL_WRITE, or F_SEAL_FUTURE_WRITE (Linux 5.1) when the kernel refuses
/// the first with EBUSY: it does while a page of the fresh copy is still
/// referenced from elsewhere (another CPU's LRU batch, just after the
/// copy). The second forbids every write from then on without waiting for
/// such references, which is as strong here: nothing maps the copy
/// writable.
const NO_WRITES: [libc::c_int; 2] = [libc::F_SEAL_WRITE, libc::F_SEAL_FUTURE_WRITE];

/// Whether this process runs from a file that cannot be written: one on a
/// read-only mount, or a sealed memfd copy.
pub fn is_sealed() -> bool {
    let Ok(exe) = nix::fcntl::open(
        "/proc/self/exe",
        OFlag::O_RDONLY | OFlag::O_CLOEXEC,
        Mode::empty(),
    ) else {
        return false;
    };
    if nix::sys::statvfs::fstatvfs(&exe)
        .is_ok_and(|st| st.flags().contains(nix::sys::statvfs::FsFlags::ST_RDONLY))
    {
        return true;
    }
    // SAFETY: F_GET_SEALS takes no argument and only reads the file's seals.
    let seals = unsafe { libc::fcntl(exe.as_raw_fd(), libc::F_GET_SEALS) };
    seals >= 0 && seals & SEALS == SEALS && NO_WRITES.iter().any(|w| seals & w != 0)
}

/// A detached, read-only bind mount of /proc/self/exe (the fd is its root:
/// the file), or the errno that refused it.
fn read_only_clone() -> Result<OwnedFd, Errno> {
    // SAFETY: open_tree with a NUL-terminated path; we own the result.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_open_tree,
            libc::AT_FDCWD,
            c"/proc/self/exe".as_ptr(),
            libc::OPEN_TREE_CLONE | libc::OPEN_TREE_CLOEXEC,
        )
    };
    let tree = unsafe { OwnedFd::from_raw_fd(Errno::result(fd)? as i32) };
    let attr = libc::mount_attr {
        attr_set: libc::MOUNT_ATTR_RDONLY | libc::MOUNT_ATTR_NOSUID | libc::MOUNT_ATTR_NODEV,
        attr_clr: 0,
        propagation: 0,
        userns_fd: 0,
    };
    // SAFETY: an empty NUL-terminated path and a live mount_attr of the
    // size passed, read by the kernel only.
    let res = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            tree.as_raw_fd(),
            c"".as_ptr(),
            libc::AT_EMPTY_PATH,
            &attr as *const libc::mount_attr,
            std::mem::size_of::<libc::mount_attr>(),
        )
    };
    Errno::result(res)?;
    Ok(tree)
}

/// Returns at once when already sealed; otherwise re-executes from a
/// read-only clone of jolt's mount or, failing that, a sealed memfd copy,
/// with the same arguments and environment (so it returns only with an
/// error).
pub fn reexec() -> Result<(), SysError> {
    if is_sealed() {
        std::env::remove_var(MARK);
        // The kernel named us after the descriptor ("3"): `ps` shows jolt.
        let _ = nix::sys::prctl::set_name(c"jolt");
        return Ok(());
    }
    if std::env::var_os(MARK).is_some() {
        return Err(sys("re-exec from a sealed copy of jolt")(Errno::EPERM));
    }
    let image = match read_only_clone() {
        Ok(tree) => tree,
        Err(errno) => {
            tracing::debug!("no read-only clone of jolt's mount ({errno}): a sealed memfd copy");
            sealed_copy()?
        }
    };
    exec(image)
}

/// A memfd copy of /proc/self/exe with every seal set.
fn sealed_copy() -> Result<OwnedFd, SysError> {
    let exe = nix::fcntl::open(
        "/proc/self/exe",
        OFlag::O_RDONLY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(sys("open /proc/self/exe"))?;
    // SAFETY: memfd_create with a NUL-terminated name; we own the result.
    let fd = unsafe {
        libc::memfd_create(
            c"jolt".as_ptr(),
            libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING,
        )
    };
    let memfd = unsafe { OwnedFd::from_raw_fd(Errno::result(fd).map_err(sys("memfd_create"))?) };
    // Read and write through a buffer, not std::io::copy: its
    // copy_file_range/sendfile into shmem from an overlay over 9p (the VM
    // harness) once spun in the kernel for 10 minutes (soft lockup).
    let mut from = std::fs::File::from(exe);
    let mut to = std::fs::File::from(memfd);
    let mut buf = vec![0u8; 1 << 20];
    let copied = (|| -> std::io::Result<()> {
        loop {
            match std::io::Read::read(&mut from, &mut buf) {
                Ok(0) => return Ok(()),
                Ok(n) => std::io::Write::write_all(&mut to, &buf[..n])?,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    })();
    copied.map_err(|e| {
        sys("copy /proc/self/exe into a memfd")(Errno::from_raw(
            e.raw_os_error().unwrap_or(libc::EIO),
        ))
    })?;
    let memfd = OwnedFd::from(to);
    let seal = |no_writes: libc::c_int| {
        // SAFETY: F_ADD_SEALS with a seal mask on our own memfd; on failure
        // it adds none of them.
        let r = unsafe { libc::fcntl(memfd.as_raw_fd(), libc::F_ADD_SEALS, SEALS | no_writes) };
        Errno::result(r).map(drop)
    };
    match seal(NO_WRITES[0]) {
        Err(Errno::EBUSY) => seal(NO_WRITES[1]),
        other => other,
    }
    .map_err(sys("seal the memfd copy of jolt"))?;
    Ok(memfd)
}

/// Executes `image` with this process's arguments and environment, marked
/// as re-executed; returns only with an error.
fn exec(image: OwnedFd) -> Result<(), SysError> {
    let cstrings = |items: Vec<OsString>| -> Vec<CString> {
        items
            .into_iter()
            .filter_map(|s| CString::new(s.into_vec()).ok())
            .collect()
    };
    let args = cstrings(std::env::args_os().collect());
    let mut env: Vec<OsString> = std::env::vars_os()
        .map(|(k, v)| {
            let mut kv = k;
            kv.push("=");
            kv.push(v);
            kv
        })
        .collect();
    env.push(format!("{MARK}=1").into());
    let env = cstrings(env);
    let mut argv: Vec<*const libc::c_char> = args.iter().map(|a| a.as_ptr()).collect();
    argv.push(std::ptr::null());
    let mut envp: Vec<*const libc::c_char> = env.iter().map(|e| e.as_ptr()).collect();
    envp.push(std::ptr::null());
    // SAFETY: NULL-terminated arrays of pointers into CStrings that live
    // until the call returns (it returns only on failure).
    unsafe {
        libc::execveat(
            image.as_raw_fd(),
            c"".as_ptr(),
            argv.as_ptr() as *const *mut libc::c_char,
            envp.as_ptr() as *const *mut libc::c_char,
            libc::AT_EMPTY_PATH,
        )
    };
    Err(sys("exec the sealed copy of jolt")(Errno::last()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn reopen_for_write(fd: &OwnedFd) -> std::io::Result<std::fs::File> {
        std::fs::OpenOptions::new()
            .write(true)
            .open(format!("/proc/self/fd/{}", fd.as_raw_fd()))
    }

    #[test]
    fn the_memfd_copy_is_the_whole_binary_and_refuses_writes() {
        let copy = sealed_copy().unwrap();
        let len = std::fs::metadata("/proc/self/exe").unwrap().len();
        assert_eq!(nix::sys::stat::fstat(&copy).unwrap().st_size as u64, len);
        // SAFETY: F_GET_SEALS only reads the seals.
        let seals = unsafe { libc::fcntl(copy.as_raw_fd(), libc::F_GET_SEALS) };
        assert_eq!(seals & SEALS, SEALS);
        let written = reopen_for_write(&copy).and_then(|mut f| f.write_all(b"x"));
        assert!(written.is_err());
    }

    /// open_tree(OPEN_TREE_CLONE) needs CAP_SYS_ADMIN: root only.
    #[test]
    fn root_the_read_only_clone_is_the_same_file_on_a_read_only_mount() {
        if !nix::unistd::Uid::effective().is_root() {
            eprintln!("skipped: open_tree needs root");
            return;
        }
        let clone = read_only_clone().unwrap();
        let (a, b) = (
            nix::sys::stat::fstat(&clone).unwrap(),
            nix::sys::stat::stat("/proc/self/exe").unwrap(),
        );
        assert_eq!((a.st_dev, a.st_ino), (b.st_dev, b.st_ino));
        // Writing it would fail with ETXTBSY first here (this test runs
        // it); the mount's read-only flag is what outlasts the execution.
        let flags = nix::sys::statvfs::fstatvfs(&clone).unwrap().flags();
        assert!(
            flags.contains(nix::sys::statvfs::FsFlags::ST_RDONLY),
            "{flags:?}"
        );
        assert!(
            flags.contains(nix::sys::statvfs::FsFlags::ST_NOSUID),
            "{flags:?}"
        );
        assert!(reopen_for_write(&clone).is_err());
    }
}
