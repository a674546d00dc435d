//! network-partition: three network namespaces made by the test — the
//! target `a`, its peer `b` (joined by one veth pair) and a bystander `c`
//! (joined to `a` by another) — each of `b` and `c` answering TCP and UDP.
//! Under a partition from `a` to `b`, TCP and UDP between them fail while
//! `c` still answers; revert deletes jolt's table and they work again.
//! Narrowed to one port, only that traffic stops. Host only: nftables is
//! in both kernels.

use std::path::PathBuf;
use std::time::Duration;

use jolt_chaos::fault::{Cidr, Direction, NetworkPartition, Peer, Peers, Protocol};
use jolt_chaos::{fault, Fault, FaultError, Reverted, Undo};
use jolt_e2e::host::NetNs;

use crate::net::{net, reach, target};
use crate::support::root;

fn partition(peers: Peers, direction: Direction) -> Fault {
    Fault::NetworkPartition(NetworkPartition {
        direction,
        peers,
        duration: Duration::from_secs(60),
    })
}

fn b_only() -> Peers {
    Peers {
        list: vec![Peer::Cidr(Cidr::parse("10.196.0.2").unwrap())],
        port: None,
        protocol: None,
    }
}

fn tables(ns: &NetNs) -> String {
    ns.exec(&["nft", "list", "tables"])
}

#[test]
fn network_partition_cuts_tcp_and_udp_to_a_peer_and_no_one_else_until_reverted() {
    if !root() {
        return;
    }
    let net = net();
    let a = &net.pair.a;
    assert_eq!(reach(a, "10.196.0.2"), (true, true), "b answers before");
    assert_eq!(reach(a, "10.196.1.2"), (true, true), "c answers before");

    let fault = partition(b_only(), Direction::Both);
    let target = target(&net);
    let undo = fault::prepare(&fault, &target).unwrap();
    assert_eq!(
        undo,
        Undo::NftTable {
            netns: PathBuf::from(a.path()),
            table: "jolt_partition".into()
        }
    );
    fault::apply(&fault, &target, &undo).unwrap();
    assert!(
        tables(a).contains("table inet jolt_partition"),
        "{}",
        tables(a)
    );
    assert_eq!(reach(a, "10.196.0.2"), (false, false), "b is cut off");
    assert_eq!(reach(a, "10.196.1.2"), (true, true), "c still answers");
    assert_eq!(
        reach(&net.c, "10.196.1.1"),
        (false, false),
        "nothing listens on a"
    );
    match fault::prepare(&fault, &target) {
        Err(FaultError::Refused { reason, .. }) => {
            assert!(reason.contains("a partition is active"), "{reason}")
        }
        other => panic!("a second partition is refused, got {other:?}"),
    }

    assert_eq!(fault::revert(&undo).unwrap(), Reverted::Done);
    assert!(!tables(a).contains("jolt"), "{}", tables(a));
    assert_eq!(reach(a, "10.196.0.2"), (true, true), "b answers again");
    assert_eq!(fault::revert(&undo).unwrap(), Reverted::AlreadyClean);
}

#[test]
fn a_partition_narrowed_to_a_port_stops_only_that_traffic() {
    if !root() {
        return;
    }
    let net = net();
    let a = &net.pair.a;
    let peers = Peers {
        port: Some(8080),
        protocol: Some(Protocol::Tcp),
        ..b_only()
    };
    let fault = partition(peers, Direction::To);
    let target = target(&net);
    let undo = fault::prepare(&fault, &target).unwrap();
    fault::apply(&fault, &target, &undo).unwrap();
    assert_eq!(
        reach(a, "10.196.0.2"),
        (false, true),
        "TCP 8080 to b stops, UDP 8081 goes on"
    );
    assert_eq!(fault::revert(&undo).unwrap(), Reverted::Done);
    assert_eq!(reach(a, "10.196.0.2"), (true, true));
}

#[test]
fn a_partition_whose_netns_is_gone_reverts_as_gone() {
    if !root() {
        return;
    }
    let net = net();
    let undo = Undo::NftTable {
        netns: PathBuf::from("/run/netns/jolt-no-such-netns"),
        table: "jolt_partition".into(),
    };
    assert_eq!(fault::revert(&undo).unwrap(), Reverted::TargetGone);
    let mut gone = target(&net);
    gone.netns = Some("/run/netns/jolt-no-such-netns".into());
    let err = fault::prepare(&partition(b_only(), Direction::Both), &gone)
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "container web: network-partition: its network namespace /run/netns/jolt-no-such-netns is gone"
    );
}
