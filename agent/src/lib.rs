//! jolt-agent: the library of the node agent `joltd`.
//!
//! For now it holds [`network`]: bridge networking with NAPT for
//! containers (veth pairs, IPAM, published ports, clean teardown). The
//! daemon, its HTTP API and `chaosctl` come later.

pub mod network;
