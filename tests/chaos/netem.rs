//! network-delay: between two network namespaces made by the test and
//! joined by a veth pair, jolt's netem qdisc adds its latency to a ping
//! and revert removes it; a root qdisc jolt did not make is refused and
//! left in place; on a kernel without sch_netem the error names it; a
//! target that names no interface gets the one holding its default route.
//!
//! In the VM too (scripts/test's VM_TESTS): the delay needs sch_netem.

use std::path::PathBuf;
use std::time::Duration;

use jolt_chaos::experiment::NetworkDelay;
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
            Err(e @ FaultError::NetemMissing { .. }) => assert_eq!(
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
        format!("container web: network-delay: no default route in its network namespace {netns}, so no interface to delay (give the container a network with a default route)")
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
