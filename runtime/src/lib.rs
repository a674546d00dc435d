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
pub mod hooks;
mod init;
pub mod namespaces;
pub mod process;
pub mod rootfs;
pub mod signal;
pub mod spec;
pub mod state;
pub mod syscall;
