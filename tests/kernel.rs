//! End-to-end tests of what the kernel under test gives jolt: a container
//! whose memory limit is enforced by a cgroup v2 hierarchy, and a netem
//! delay that real packets between two network namespaces feel.
//!
//! The host's kernel has neither (cgroup v1 controllers, no sch_netem), so
//! here these tests skip, naming the feature; scripts/vm-test runs them on
//! a kernel that has both, where JOLT_E2E_REQUIRE turns a skip into a
//! failure. They prove that the VM harness is what it claims to be.

#[path = "kernel/cgroup2.rs"]
mod cgroup2;
#[path = "kernel/netem.rs"]
mod netem;
