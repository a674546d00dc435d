//! jolt-agent: `joltd`, the node agent that runs, supervises and re-adopts
//! containers through the `jolt` runtime and wires their network
//! ([`network`]: bridge, veth pairs, IPAM, NAPT) and runs chaos
//! experiments against them ([`experiments`], on jolt-chaos), and
//! `chaosctl`, its command line.
//!
//! The library holds the daemon's parts (one module per noun of the
//! domain) and the client chaosctl talks through; the binaries only parse
//! their command lines and call it.

pub mod api;
pub mod bundle;
pub mod client;
pub mod container;
pub mod daemon;
pub mod experiments;
pub mod fleet;
pub mod hypothesis;
pub mod image;
pub mod layer;
pub mod logs;
pub mod metrics;
pub mod monitor;
pub mod network;
pub mod oci;
pub mod probes;
pub mod reconcile;
pub mod report;
pub mod stats;
pub mod store;
pub mod supervise;
pub mod targets;
pub mod timeline;
pub mod tls;
pub mod volume;
