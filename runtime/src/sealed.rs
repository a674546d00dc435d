//! sealed: jolt runs the commands that put processes into a container
//! (create, run, exec) from a sealed in-memory copy of its own binary.
//!
//! The container's init and an exec'd process run jolt's code inside the
//! container until they exec. A process in there that opens their
//! /proc/PID/exe could otherwise reopen the host's jolt binary for writing
//! once nobody executes it, and replace it (CVE-2019-5736). Here that file
//! is a memfd with every seal set: it cannot be written, shrunk or grown,
//! and the host's binary is never reachable from the container. This
//! module owns making that copy and re-executing from it; nothing else.

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

/// Whether this process runs from a sealed memfd copy of jolt.
pub fn is_sealed() -> bool {
    let Ok(exe) = nix::fcntl::open(
        "/proc/self/exe",
        OFlag::O_RDONLY | OFlag::O_CLOEXEC,
        Mode::empty(),
    ) else {
        return false;
    };
    // SAFETY: F_GET_SEALS takes no argument and only reads the file's seals.
    let seals = unsafe { libc::fcntl(exe.as_raw_fd(), libc::F_GET_SEALS) };
    seals >= 0 && seals & SEALS == SEALS && NO_WRITES.iter().any(|w| seals & w != 0)
}

/// Returns at once when already sealed; otherwise copies /proc/self/exe
/// into a sealed memfd and execs it with the same arguments and
/// environment (so it returns only with an error).
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
    unsafe { libc::fexecve(memfd.as_raw_fd(), argv.as_ptr(), envp.as_ptr()) };
    Err(sys("exec the sealed copy of jolt")(Errno::last()))
}
