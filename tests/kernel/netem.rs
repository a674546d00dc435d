//! netem: a 100 ms netem delay on one end of a veth pair between two
//! network namespaces made by the test adds at least 100 ms to a ping.

use jolt_e2e::host::NetNs;
use jolt_e2e::{require, Feature, BUSYBOX};
use std::process::Command;

/// Runs `args` inside network namespace `ns`; panics with its stderr when
/// it fails.
fn in_netns(ns: &NetNs, args: &[&str]) -> String {
    let out = Command::new("ip")
        .args(["netns", "exec", ns.name()])
        .args(args)
        .output()
        .expect("running ip netns exec");
    assert!(
        out.status.success(),
        "in netns {}: {args:?}: {}",
        ns.name(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The round-trip times busybox ping printed, in ms.
fn ping_rtts(from: &NetNs, to: &str) -> Vec<f64> {
    let out = in_netns(from, &[BUSYBOX, "ping", "-c", "5", "-i", "0.2", to]);
    let rtts: Vec<f64> = out
        .lines()
        .filter_map(|l| l.split("time=").nth(1))
        .filter_map(|t| t.trim_end_matches(" ms").parse().ok())
        .collect();
    assert_eq!(rtts.len(), 5, "five replies:\n{out}");
    rtts
}

#[test]
fn netem_delay_adds_100ms_to_a_ping() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipped: needs root for network namespaces");
        return;
    }
    if !require(Feature::SchNetem) {
        return;
    }
    let pid = std::process::id();
    let (a, b) = (
        NetNs::add(&format!("jolt-netem-a-{pid}")),
        NetNs::add(&format!("jolt-netem-b-{pid}")),
    );
    let peer = format!("netem-b-{pid}");
    in_netns(
        &a,
        &[
            "ip", "link", "add", "eth0", "type", "veth", "peer", "name", &peer,
        ],
    );
    in_netns(&a, &["ip", "link", "set", &peer, "netns", b.name()]);
    in_netns(&b, &["ip", "link", "set", &peer, "name", "eth0"]);
    for (ns, addr) in [(&a, "10.199.0.1/30"), (&b, "10.199.0.2/30")] {
        in_netns(ns, &["ip", "addr", "add", addr, "dev", "eth0"]);
        in_netns(ns, &["ip", "link", "set", "eth0", "up"]);
        in_netns(ns, &["ip", "link", "set", "lo", "up"]);
    }

    let before = ping_rtts(&a, "10.199.0.2");
    in_netns(
        &a,
        &[
            "tc", "qdisc", "add", "dev", "eth0", "root", "handle", "7a1:", "netem", "delay",
            "100ms",
        ],
    );
    let qdiscs = in_netns(&a, &["tc", "qdisc", "show", "dev", "eth0"]);
    assert!(
        qdiscs.contains("netem 7a1:") && qdiscs.contains("delay 100ms"),
        "{qdiscs}"
    );
    let after = ping_rtts(&a, "10.199.0.2");

    eprintln!("ping RTT without netem {before:?} ms, with a 100 ms delay {after:?} ms");
    // netem holds every packet leaving eth0 for 100 ms, so no round trip
    // can be shorter, whatever the emulated machine's own latency.
    assert!(
        after.iter().all(|rtt| *rtt >= 100.0),
        "every reply is at least 100 ms late: before {before:?}, after {after:?}"
    );
}
