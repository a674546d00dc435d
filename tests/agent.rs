//! End-to-end tests of `joltd` and `chaosctl`: each test starts a joltd of
//! its own (temporary socket, state directory and jolt `--root`), drives
//! it with the real chaosctl as a user would, checks what the user would
//! see, and checks that a removed container left no process, cgroup or
//! file. Build the workspace first (`cargo test --workspace` does). Without
//! root or a static busybox the tests skip, saying why.

#[path = "agent/bad_requests.rs"]
mod bad_requests;
#[path = "agent/debris.rs"]
mod debris;
#[path = "agent/disk.rs"]
mod disk;
#[path = "agent/experiments.rs"]
mod experiments;
#[path = "agent/fleet.rs"]
mod fleet;
#[path = "agent/foreign.rs"]
mod foreign;
#[path = "agent/hypothesis.rs"]
mod hypothesis;
#[path = "agent/images.rs"]
mod images;
#[path = "agent/lifecycle.rs"]
mod lifecycle;
#[path = "agent/network.rs"]
mod network;
#[path = "agent/readopt.rs"]
mod readopt;
#[path = "agent/restart.rs"]
mod restart;
#[path = "agent/reverts.rs"]
mod reverts;

use jolt_e2e::agent::Agent;

/// A joltd for this test, or None (after saying why) where it cannot run.
pub fn agent() -> Option<Agent> {
    jolt_e2e::require_root().then(Agent::start)
}
