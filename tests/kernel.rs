//! End-to-end tests of what the kernel under test gives jolt: a container
//! whose memory limit is enforced by a cgroup v2 hierarchy, and a netem
//! delay that real packets between two network namespaces feel; and of
//! what systemd as PID 1 gives the systemd cgroup drivers: a transient
//! scope with its limits, made over D-Bus.
//!
//! The host has none of these (cgroup v1 controllers, no sch_netem, no
//! systemd as PID 1), so here these tests skip, naming the feature;
//! scripts/vm-test runs them where they are (the systemd one with
//! --systemd), and there JOLT_E2E_REQUIRE turns a skip into a failure.
//! They prove that the VM harness is what it claims to be.

#[path = "kernel/cgroup2.rs"]
mod cgroup2;
#[path = "kernel/netem.rs"]
mod netem;
#[path = "kernel/systemd.rs"]
mod systemd;
