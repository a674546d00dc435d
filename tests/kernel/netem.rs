//! netem: a 100 ms netem delay on one end of a veth pair between two
//! network namespaces made by the test adds at least 100 ms to a ping.
//!
//! Made for the VM (scripts/test's VM_TESTS); on the host it skips.

use jolt_e2e::host::{ping_rtts, NetNsPair};
use jolt_e2e::{require, Feature};
use std::path::PathBuf;

#[test]
fn netem_delay_adds_100ms_to_a_ping() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipped: needs root for network namespaces");
        return;
    }
    if !require(Feature::SchNetem) {
        return;
    }
    let pair = NetNsPair::new("jolt-netem", "10.199.0");
    let a = &pair.a;
    let from = PathBuf::from(a.path());

    let before = ping_rtts(&from, "10.199.0.2", 5);
    a.exec(&[
        "tc", "qdisc", "add", "dev", "eth0", "root", "handle", "7a1:", "netem", "delay", "100ms",
    ]);
    let qdiscs = a.exec(&["tc", "qdisc", "show", "dev", "eth0"]);
    assert!(
        qdiscs.contains("netem 7a1:") && qdiscs.contains("delay 100ms"),
        "{qdiscs}"
    );
    let after = ping_rtts(&from, "10.199.0.2", 5);

    eprintln!("ping RTT without netem {before:?} ms, with a 100 ms delay {after:?} ms");
    // netem holds every packet leaving eth0 for 100 ms, so no round trip
    // can be shorter, whatever the emulated machine's own latency; and the
    // delay adds to the path's own time (1 ms allows for that time's
    // jitter between the two rounds).
    assert!(
        after.iter().all(|rtt| *rtt >= 100.0),
        "every reply is at least 100 ms late: before {before:?}, after {after:?}"
    );
    let min = |rtts: &[f64]| rtts.iter().cloned().fold(f64::MAX, f64::min);
    assert!(
        min(&after) - min(&before) >= 99.0,
        "the delay adds 100 ms: before {before:?}, after {after:?}"
    );
}
