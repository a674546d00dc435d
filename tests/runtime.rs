//! End-to-end tests of the `jolt` OCI runtime: each test is a user session
//! against the real binary (`cargo build -p jolt-runtime` first), run as
//! root with a busybox rootfs, that checks what the user would see and
//! that nothing is left behind. Without root or a static busybox the tests
//! skip, saying why.

#[path = "runtime/bad_input.rs"]
mod bad_input;
#[path = "runtime/cgroups.rs"]
mod cgroups;
#[path = "runtime/containerd.rs"]
mod containerd;
#[path = "runtime/debris.rs"]
mod debris;
#[path = "runtime/exec.rs"]
mod exec;
#[path = "runtime/hardening.rs"]
mod hardening;
#[path = "runtime/hooks.rs"]
mod hooks;
#[path = "runtime/install.rs"]
mod install;
#[path = "runtime/kubernetes.rs"]
mod kubernetes;
#[path = "runtime/lifecycle.rs"]
mod lifecycle;
#[path = "runtime/manage.rs"]
mod manage;
#[path = "runtime/mount_options.rs"]
mod mount_options;
#[path = "runtime/namespaces.rs"]
mod namespaces;
#[path = "runtime/podman.rs"]
mod podman;
#[path = "runtime/process.rs"]
mod process;
#[path = "runtime/rootfs.rs"]
mod rootfs;
#[path = "runtime/runc_compat.rs"]
mod runc_compat;
#[path = "runtime/runc_parity.rs"]
mod runc_parity;
#[path = "runtime/seccomp.rs"]
mod seccomp;
#[path = "runtime/spec.rs"]
mod spec;
#[path = "runtime/systemd.rs"]
mod systemd;
#[path = "runtime/terminal.rs"]
mod terminal;
#[path = "runtime/version.rs"]
mod version;
