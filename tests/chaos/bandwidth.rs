//! network-bandwidth, and peers for a qdisc fault: in the network
//! namespaces of `net` (target `a`, peer `b`), a TCP transfer from `a` to
//! `b` runs at the rate asked under the fault and fast again after revert;
//! narrowed to one address of `b`, a transfer to another address of `b`
//! over the same link is not shaped. Host and VM alike: tbf and htb are in both kernels (the host
//! has no sch_netem and no sch_prio, which is why peers use htb).

use std::time::Duration;

use jolt_chaos::fault::{Cidr, NetworkBandwidth, Peer, Peers};
use jolt_chaos::{fault, Fault, Reverted};

use crate::net::{net, target, throughput};
use crate::support::root;

const MBIT: f64 = 1e6;

fn bandwidth(rate: u64, peers: Peers) -> Fault {
    Fault::NetworkBandwidth(NetworkBandwidth {
        rate,
        burst: None,
        limit: None,
        peers,
        duration: Duration::from_secs(60),
    })
}

#[test]
fn network_bandwidth_holds_a_tcp_transfer_to_its_rate_until_reverted() {
    if !root() {
        return;
    }
    let net = net();
    let a = &net.pair.a;
    let before = throughput(a, "10.196.0.2", 4 << 20);
    let fault = bandwidth(8_000_000, Peers::default());
    let target = target(&net);
    let undo = fault::prepare(&fault, &target).unwrap();
    fault::apply(&fault, &target, &undo).unwrap();
    let qdiscs = a.exec(&["tc", "qdisc", "show", "dev", "eth0"]);
    assert!(
        qdiscs.contains("tbf 4a4c: root") && qdiscs.contains("rate 8Mbit"),
        "{qdiscs}"
    );
    let under = throughput(a, "10.196.0.2", 2 << 20);
    eprintln!(
        "TCP a->b: {:.1} Mbit/s before, {:.2} Mbit/s under an 8 Mbit/s bandwidth fault",
        before / MBIT,
        under / MBIT
    );
    assert!(
        (0.6 * 8.0 * MBIT..=1.1 * 8.0 * MBIT).contains(&under),
        "{under} bit/s under 8 Mbit/s"
    );
    assert_eq!(fault::revert(&undo).unwrap(), Reverted::Done);
    let after = throughput(a, "10.196.0.2", 4 << 20);
    assert!(after > 4.0 * under, "fast again: {after} bit/s");
    assert!(!a
        .exec(&["tc", "qdisc", "show", "dev", "eth0"])
        .contains("4a4c"));
}

#[test]
fn a_bandwidth_narrowed_to_a_peer_shapes_only_the_traffic_to_it() {
    if !root() {
        return;
    }
    let net = net();
    let a = &net.pair.a;
    // A second address on b, reached through the same eth0 of a: the
    // fault is on eth0, narrowed to 10.196.0.2 only.
    net.pair
        .b
        .exec(&["ip", "addr", "add", "10.196.0.6/30", "dev", "eth0"]);
    a.exec(&["ip", "route", "add", "10.196.0.4/30", "dev", "eth0"]);
    let peers = Peers {
        list: vec![Peer::Cidr(Cidr::parse("10.196.0.2").unwrap())],
        port: None,
        protocol: None,
    };
    let fault = bandwidth(8_000_000, peers);
    let target = target(&net);
    let undo = fault::prepare(&fault, &target).unwrap();
    fault::apply(&fault, &target, &undo).unwrap();
    let classes = a.exec(&["tc", "class", "show", "dev", "eth0"]);
    assert!(classes.contains("4a4c:2"), "{classes}");
    let to_peer = throughput(a, "10.196.0.2", 2 << 20);
    let to_other = throughput(a, "10.196.0.6", 4 << 20);
    eprintln!(
        "TCP a->b under 8 Mbit/s towards 10.196.0.2 only: {:.2} Mbit/s to it, {:.1} Mbit/s to 10.196.0.6 on the same link",
        to_peer / MBIT,
        to_other / MBIT
    );
    assert!(to_peer <= 1.1 * 8.0 * MBIT, "{to_peer}");
    assert!(
        to_other > 4.0 * to_peer,
        "the other address is not shaped: {to_other}"
    );
    assert_eq!(fault::revert(&undo).unwrap(), Reverted::Done);
    assert!(!a
        .exec(&["tc", "qdisc", "show", "dev", "eth0"])
        .contains("4a4c"));
}
