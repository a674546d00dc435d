//! jolt-runtime: the OCI runtime behind the `jolt` binary.
//!
//! The library owns the container lifecycle (create, start, kill, delete),
//! the state directory, and everything the container's init process does
//! before it execs the user's program. The `cli` module only parses.

pub mod cgroups;
pub mod hooks;
pub mod signal;
