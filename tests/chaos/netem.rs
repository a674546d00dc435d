//! network-delay: between two network namespaces made by the test and
//! joined by a veth pair, jolt's netem qdisc adds its latency to a ping
//! and revert removes it; a root qdisc jolt did not make is refused and
//! left in place; on a kernel without sch_netem the error names it; a
//! target that names no interface gets the one holding its default route.
//!
//! network-loss, -duplicate, -corrupt, -reorder and -rate each shape a
//! ping between the two as asked, and revert removes their qdisc.
//!
//! In the VM too (scripts/test's VM_TESTS): the netem kinds need sch_netem.

use std::path::PathBuf;
use std::time::Duration;

use jolt_chaos::experiment::NetworkDelay;
use jolt_chaos::fault::{
    Backend, Chance, NetworkCorrupt, NetworkDuplicate, NetworkLoss, NetworkRate, NetworkReorder,
    Peers,
};
use jolt_chaos::{fault, Fault, FaultError, Reverted, Target, Undo};
use jolt_e2e::host::{ping_rtts, NetNsPair};
use jolt_e2e::{require, Feature};

use crate::support::root;

/// Two namespaces, `a` (10.198.0.1) and `b` (10.198.0.2), joined by a
/// veth pair; both go away on drop.
struct Pair(NetNsPair);

impl Pair {
    fn new() -> Pair {
        Pair(NetNsPair::new("jolt-chaos", "10.198.0"))
    }

    /// A container whose netns is `a`, as joltd would describe it.
    fn target(&self) -> Target {
        Target {
            id: "c-a".into(),
            name: "web".into(),
            pid: std::process::id() as i32,
            netns: Some(PathBuf::from(self.0.a.path())),
            interface: Some("eth0".into()),
        }
    }

    fn qdiscs(&self) -> String {
        self.0.a.exec(&["tc", "qdisc", "show", "dev", "eth0"])
    }

    /// The round-trip times of five pings from a to b, in ms.
    fn ping(&self) -> Vec<f64> {
        ping_rtts(&PathBuf::from(self.0.a.path()), "10.198.0.2", 5)
    }
}

fn delay_100ms() -> Fault {
    Fault::NetworkDelay(NetworkDelay {
        latency: Duration::from_millis(100),
        jitter: None,
        correlation: None,
        loss: None,
        peers: Peers::default(),
        backend: Backend::Netem,
        duration: Duration::from_secs(60),
    })
}

#[test]
fn network_delay_slows_a_ping_and_revert_removes_only_its_qdisc() {
    if !root() {
        return;
    }
    let pair = Pair::new();
    let target = pair.target();
    let delay = delay_100ms();
    let undo = fault::prepare(&delay, &target).unwrap();
    assert_eq!(
        undo,
        Undo::Qdisc {
            netns: PathBuf::from(pair.0.a.path()),
            interface: "eth0".into(),
            handle: 0x4a4c_0000,
        }
    );

    if Feature::SchNetem.probe().is_err() {
        let before = pair.qdiscs();
        match fault::apply(&delay, &target, &undo) {
            Err(e @ FaultError::QdiscMissing { .. }) => assert_eq!(
                e.to_string(),
                "container web: network-delay: sch_netem is not available in this kernel (modprobe sch_netem)"
            ),
            other => panic!("without sch_netem apply fails naming it, got {other:?}"),
        }
        assert_eq!(pair.qdiscs(), before, "nothing changed");
        assert_eq!(fault::revert(&undo).unwrap(), Reverted::AlreadyClean);
    }
    if !require(Feature::SchNetem) {
        return;
    }

    let before = pair.ping();
    fault::apply(&delay, &target, &undo).unwrap();
    let shown = pair.qdiscs();
    assert!(shown.contains("netem 4a4c: root"), "{shown}");
    let after = pair.ping();
    eprintln!("ping RTT before {before:?} ms, under a 100 ms delay {after:?} ms");
    // netem holds every packet a sends for 100 ms, so no round trip can
    // be shorter, whatever the machine's own latency.
    assert!(
        after.iter().all(|rtt| *rtt >= 100.0),
        "every reply is at least 100 ms late: before {before:?}, after {after:?}"
    );
    match fault::prepare(&delay, &target) {
        Err(FaultError::Refused { reason, .. }) => assert!(reason.contains("already"), "{reason}"),
        other => panic!("a second delay is refused, got {other:?}"),
    }

    assert_eq!(fault::revert(&undo).unwrap(), Reverted::Done);
    assert!(!pair.qdiscs().contains("netem"), "{}", pair.qdiscs());
    assert!(pair.ping().iter().all(|rtt| *rtt < 100.0), "fast again");
    assert_eq!(fault::revert(&undo).unwrap(), Reverted::AlreadyClean);
}

#[test]
fn a_root_qdisc_jolt_did_not_make_is_refused_and_left_alone() {
    if !root() {
        return;
    }
    let pair = Pair::new();
    pair.0.a.exec(&[
        "tc", "qdisc", "add", "dev", "eth0", "root", "handle", "1:", "pfifo",
    ]);
    let target = pair.target();
    let err = fault::prepare(&delay_100ms(), &target)
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "container web: network-delay: eth0 has a root qdisc jolt did not create (pfifo 1:); jolt leaves it alone"
    );
    // A revert of jolt's qdisc (a stale journal entry) leaves it too.
    let ours = Undo::Qdisc {
        netns: PathBuf::from(pair.0.a.path()),
        interface: "eth0".into(),
        handle: 0x4a4c_0000,
    };
    assert_eq!(fault::revert(&ours).unwrap(), Reverted::AlreadyClean);
    assert!(pair.qdiscs().contains("pfifo 1: root"), "{}", pair.qdiscs());
}

#[test]
fn a_missing_netns_or_interface_is_refused_and_reverts_as_gone() {
    if !root() {
        return;
    }
    let pair = Pair::new();
    let mut target = pair.target();
    target.interface = Some("eth9".into());
    let err = fault::prepare(&delay_100ms(), &target)
        .unwrap_err()
        .to_string();
    assert!(err.contains("no interface eth9"), "{err}");
    target.netns = None;
    let err = fault::prepare(&delay_100ms(), &target)
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "container web: network-delay: it has no network namespace of its own"
    );

    let undo = |netns: PathBuf, interface: &str| Undo::Qdisc {
        netns,
        interface: interface.into(),
        handle: 0x4a4c_0000,
    };
    let path = PathBuf::from(pair.0.a.path());
    assert_eq!(
        fault::revert(&undo(path.clone(), "eth9")).unwrap(),
        Reverted::TargetGone
    );
    drop(pair);
    assert_eq!(
        fault::revert(&undo(path, "eth0")).unwrap(),
        Reverted::TargetGone
    );
}

#[test]
fn a_target_without_an_interface_takes_the_one_holding_its_default_route() {
    if !root() {
        return;
    }
    let pair = Pair::new();
    let mut target = pair.target();
    target.interface = None;
    let netns = pair.0.a.path();
    let err = fault::prepare(&delay_100ms(), &target)
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        format!("container web: network-delay: no default route in its network namespace {netns}, so no interface to act on (give the container a network with a default route)")
    );
    // The default route leaves through net1, not eth0.
    let a = &pair.0.a;
    a.exec(&[
        "ip", "link", "add", "net1", "type", "veth", "peer", "name", "net1p",
    ]);
    a.exec(&["ip", "addr", "add", "10.197.0.1/24", "dev", "net1"]);
    a.exec(&["ip", "link", "set", "net1p", "up"]);
    a.exec(&["ip", "link", "set", "net1", "up"]);
    a.exec(&[
        "ip",
        "route",
        "add",
        "default",
        "via",
        "10.197.0.254",
        "dev",
        "net1",
    ]);
    assert_eq!(
        fault::prepare(&delay_100ms(), &target).unwrap(),
        Undo::Qdisc {
            netns: PathBuf::from(netns),
            interface: "net1".into(),
            handle: 0x4a4c_0000,
        }
    );
}

/// What busybox ping said after `count` pings from a to b, `size` bytes
/// each, 10 ms apart: (sent, received, duplicates, round-trip times).
fn ping_stats(pair: &Pair, count: usize, size: usize) -> (usize, usize, usize, Vec<f64>) {
    let out = std::process::Command::new("nsenter")
        .arg(format!("--net={}", pair.0.a.path()))
        .args([jolt_e2e::BUSYBOX, "ping", "-q", "-c"])
        .arg(count.to_string())
        .args(["-i", "0.01", "-W", "2", "-s"])
        .arg(size.to_string())
        .arg("10.198.0.2")
        .output()
        .expect("running nsenter busybox ping");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let number_before = |what: &str| -> usize {
        let at = text
            .find(what)
            .unwrap_or_else(|| panic!("{what} in {text}"));
        text[..at]
            .split(|c: char| !c.is_ascii_digit())
            .rfind(|s| !s.is_empty())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("a number before {what} in {text}"))
    };
    let sent = number_before(" packets transmitted");
    let received = number_before(" packets received");
    let dups = if text.contains(" duplicates") {
        number_before(" duplicates")
    } else {
        0
    };
    let rtts = text
        .split("min/avg/max = ")
        .nth(1)
        .map(|t| {
            t.split_whitespace()
                .next()
                .unwrap_or_default()
                .split('/')
                .filter_map(|v| v.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    (sent, received, dups, rtts)
}

/// Applies `fault` to a, checks that tc shows `shown`, runs `check`, then
/// reverts and checks that the qdisc is gone.
fn under(pair: &Pair, fault: Fault, shown: &str, check: impl FnOnce(&Pair)) {
    let target = pair.target();
    let undo = fault::prepare(&fault, &target).unwrap();
    fault::apply(&fault, &target, &undo).unwrap_or_else(|e| panic!("{fault}: {e}"));
    let qdiscs = pair.qdiscs();
    assert!(
        qdiscs.contains(shown),
        "{fault}: tc shows {shown:?}: {qdiscs}"
    );
    check(pair);
    assert_eq!(fault::revert(&undo).unwrap(), Reverted::Done, "{fault}");
    assert!(!pair.qdiscs().contains("netem"), "{}", pair.qdiscs());
}

#[test]
fn netem_kinds_drop_duplicate_corrupt_reorder_and_rate_limit_a_ping() {
    if !root() || !require(Feature::SchNetem) {
        return;
    }
    let pair = Pair::new();
    let minute = Duration::from_secs(60);
    let chance = |percent| Chance {
        percent,
        correlation: None,
    };
    let (sent, received, _, _) = ping_stats(&pair, 100, 56);
    assert_eq!((sent, received), (100, 100), "no loss before");

    under(
        &pair,
        Fault::NetworkLoss(NetworkLoss::new(
            chance(50.0),
            Peers::default(),
            Backend::Netem,
            minute,
        )),
        "loss 50%",
        |pair| {
            let (sent, received, _, _) = ping_stats(pair, 200, 56);
            eprintln!("network-loss 50%: {received} of {sent} replies");
            // Each of the 200 requests is dropped with p = 0.5: 25-75 %
            // lost is over 7 standard deviations wide.
            assert!((50..=150).contains(&received), "{received} of {sent}");
        },
    );
    under(
        &pair,
        Fault::NetworkDuplicate(NetworkDuplicate::new(
            chance(100.0),
            Peers::default(),
            Backend::Netem,
            minute,
        )),
        "duplicate 100%",
        |pair| {
            let (sent, received, dups, _) = ping_stats(pair, 50, 56);
            eprintln!("network-duplicate 100%: {received} of {sent}, {dups} duplicates");
            assert!(
                dups >= 45,
                "every request sent twice, so answered twice: {dups}"
            );
        },
    );
    under(
        &pair,
        Fault::NetworkCorrupt(NetworkCorrupt::new(
            chance(100.0),
            Peers::default(),
            Backend::Netem,
            minute,
        )),
        "corrupt 100%",
        |pair| {
            let (sent, received, _, _) = ping_stats(pair, 50, 56);
            eprintln!("network-corrupt 100%: {received} of {sent} replies");
            // netem flips one random bit per packet; most land where a
            // checksum catches them, some (6 of 50 in one VM run) do not.
            assert!(
                received <= sent / 3,
                "most replies lost to flipped bits: {received} of {sent} came back"
            );
        },
    );
    under(
        &pair,
        Fault::NetworkReorder(NetworkReorder {
            chance: chance(25.0),
            latency: Duration::from_millis(10),
            gap: Some(5),
            peers: Peers::default(),
            duration: minute,
        }),
        "reorder 25%",
        |pair| {
            let shown = pair.qdiscs();
            assert!(
                shown.contains("gap 5") && shown.contains("delay 10"),
                "{shown}"
            );
        },
    );
    under(
        &pair,
        Fault::NetworkRate(NetworkRate {
            rate: 100_000,
            peers: Peers::default(),
            duration: minute,
        }),
        "rate 100Kbit",
        |pair| {
            let (_, received, _, rtts) = ping_stats(pair, 5, 1200);
            eprintln!("network-rate 100kbit: 1228-byte requests, RTT min/avg/max {rtts:?} ms");
            // 1228 bytes at 100 kbit/s take 98 ms to send.
            assert_eq!(received, 5);
            assert!(rtts[0] >= 90.0, "{rtts:?}");
        },
    );
}

#[test]
fn netem_kinds_narrowed_to_a_peer_delay_only_the_traffic_to_it() {
    if !root() || !require(Feature::SchNetem) {
        return;
    }
    let net = crate::net::net();
    let a = &net.pair.a;
    net.pair
        .b
        .exec(&["ip", "addr", "add", "10.196.0.6/30", "dev", "eth0"]);
    a.exec(&["ip", "route", "add", "10.196.0.4/30", "dev", "eth0"]);
    let fault = Fault::NetworkDelay(NetworkDelay {
        peers: Peers {
            list: vec![jolt_chaos::fault::Peer::Cidr(
                jolt_chaos::fault::Cidr::parse("10.196.0.2").unwrap(),
            )],
            port: None,
            protocol: None,
        },
        ..match delay_100ms() {
            Fault::NetworkDelay(d) => d,
            _ => unreachable!(),
        }
    });
    let target = crate::net::target(&net);
    let undo = fault::prepare(&fault, &target).unwrap();
    fault::apply(&fault, &target, &undo).unwrap();
    let netns = PathBuf::from(a.path());
    let to_peer = ping_rtts(&netns, "10.196.0.2", 3);
    let to_other = ping_rtts(&netns, "10.196.0.6", 3);
    eprintln!("delay towards 10.196.0.2 only: {to_peer:?} ms to it, {to_other:?} ms to 10.196.0.6");
    assert!(to_peer.iter().all(|r| *r >= 100.0), "{to_peer:?}");
    assert!(to_other.iter().all(|r| *r < 100.0), "{to_other:?}");
    assert_eq!(fault::revert(&undo).unwrap(), Reverted::Done);
}
