//! End-to-end tests of container networking (jolt-agent's `network`):
//! each test builds a small world of network namespaces of its own (a
//! node with the bridge and a client host, see `world`), wires real
//! `jolt` containers into it through the library, and checks with real
//! TCP and UDP traffic what a user would see, then that nothing is left.
//! No packet leaves the namespaces the test made. Without root, a static
//! busybox, nftables or conntrack (or, for the UDP test, a static C
//! compiler for its echo server), the tests skip, saying why.

#[path = "network/bad_input.rs"]
mod bad_input;
#[path = "network/teardown.rs"]
mod teardown;
#[path = "network/traffic.rs"]
mod traffic;
#[path = "network/world.rs"]
mod world;
