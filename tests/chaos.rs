//! End-to-end tests of jolt-chaos's faults against the real kernel, as
//! root: each test makes its own cgroup with real processes in it (v1 cpu
//! and freezer hierarchies on a hybrid host, the unified hierarchy on a
//! cgroup v2 host) or its own pair of network namespaces joined by a veth
//! pair, injects a fault through `jolt_chaos::fault` the way joltd does,
//! checks what a user would see (CPU time, a frozen state, dead processes,
//! a slower ping, TCP and UDP cut off), reverts, and checks that what was there before is back
//! and nothing is left. Without root they skip; without sch_netem the
//! delay test checks the error that names it and skips the rest.

#[path = "chaos/bandwidth.rs"]
mod bandwidth;
#[path = "chaos/cpu.rs"]
mod cpu;
#[path = "chaos/kill.rs"]
mod kill;
#[path = "chaos/net.rs"]
mod net;
#[path = "chaos/netem.rs"]
mod netem;
#[path = "chaos/nfqueue.rs"]
mod nfqueue;
#[path = "chaos/partition.rs"]
mod partition;
#[path = "chaos/pause.rs"]
mod pause;
#[path = "chaos/recover.rs"]
mod recover;
#[path = "chaos/stress.rs"]
mod stress;
#[path = "chaos/support.rs"]
mod support;
