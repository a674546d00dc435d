//! jolt-runtime: the OCI runtime behind the `jolt` binary.
//!
//! The library owns the container lifecycle (create, start, kill, delete,
//! run), the state directory, and everything the container's init process
//! does before it execs the user's program. The `cli` module of the binary
//! only parses arguments and calls `container`.

pub mod cgroups;
pub mod channel;
mod console;
pub mod container;
pub mod devices;
pub mod durable;
pub mod events;
pub mod exec;
pub mod features;
pub mod hooks;
mod init;
pub mod manpages;
pub mod mountinfo;
pub mod names;
pub mod namespaces;
pub mod pidfd;
pub mod process;
pub mod rootfs;
pub mod sealed;
pub mod seccomp;
pub mod signal;
pub mod spec;
pub mod state;
pub mod syscall;

/// An OS error as the C library words it ("No such file or directory"),
/// without Rust's " (os error 2)": messages are for people.
pub(crate) fn os_text(e: &std::io::Error) -> String {
    match e.raw_os_error() {
        Some(code) => nix::errno::Errno::from_raw(code).desc().to_string(),
        None => e.to_string(),
    }
}

/// A system call that failed, and what jolt was doing when it did.
#[derive(Debug, thiserror::Error)]
#[error("{what}: {}", errno.desc())]
pub struct SysError {
    pub what: String,
    pub errno: nix::errno::Errno,
}

/// For `map_err`: turns an errno into a `SysError` naming what failed;
/// `?` then makes it the module's own error.
pub(crate) fn sys(what: impl Into<String>) -> impl FnOnce(nix::errno::Errno) -> SysError {
    let what = what.into();
    move |errno| SysError { what, errno }
}
