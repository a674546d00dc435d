//! network-delay: between two network namespaces made by the test and
//! joined by a veth pair, jolt's netem qdisc adds its latency to a ping
//! and revert removes it; a root qdisc jolt did not make is refused and
//! left in place; on a kernel without sch_netem the error names it.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use jolt_chaos::experiment::NetworkDelay;
use jolt_chaos::{fault, Fault, FaultError, Reverted, Target, Undo};
use jolt_e2e::host::NetNs;
use jolt_e2e::{require, Feature, BUSYBOX};

use crate::support::{root, unique};

/// Runs `args` in `ns`; panics with stderr when it fails.
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

/// Two namespaces, `a` (10.198.0.1) and `b` (10.198.0.2), each with an
/// `eth0` end of one veth pair; both go away on drop.
struct Pair {
    a: NetNs,
    /// Only held, so that b lives as long as the pair.
    _b: NetNs,
}

impl Pair {
    fn new() -> Pair {
        let (a, b) = (
            NetNs::add(&unique("jolt-chaos-a")),
            NetNs::add(&unique("jolt-chaos-b")),
        );
        let peer = unique("jcb");
        in_netns(
            &a,
            &[
                "ip", "link", "add", "eth0", "type", "veth", "peer", "name", &peer,
            ],
        );
        in_netns(&a, &["ip", "link", "set", &peer, "netns", b.name()]);
        in_netns(&b, &["ip", "link", "set", &peer, "name", "eth0"]);
        for (ns, addr) in [(&a, "10.198.0.1/30"), (&b, "10.198.0.2/30")] {
            in_netns(ns, &["ip", "addr", "add", addr, "dev", "eth0"]);
            in_netns(ns, &["ip", "link", "set", "eth0", "up"]);
            in_netns(ns, &["ip", "link", "set", "lo", "up"]);
        }
        Pair { a, _b: b }
    }

    /// A container whose netns is `a`, as joltd would describe it.
    fn target(&self) -> Target {
        Target {
            id: "c-a".into(),
            name: "web".into(),
            pid: std::process::id() as i32,
            netns: Some(PathBuf::from(self.a.path())),
            interface: "eth0".into(),
        }
    }

    fn qdiscs(&self) -> String {
        in_netns(&self.a, &["tc", "qdisc", "show", "dev", "eth0"])
    }

    /// The round-trip times of five pings from a to b, in ms.
    fn ping(&self) -> Vec<f64> {
        let out = in_netns(
            &self.a,
            &[BUSYBOX, "ping", "-c", "5", "-i", "0.2", "10.198.0.2"],
        );
        let rtts: Vec<f64> = out
            .lines()
            .filter_map(|l| l.split("time=").nth(1))
            .filter_map(|t| t.trim_end_matches(" ms").parse().ok())
            .collect();
        assert_eq!(rtts.len(), 5, "five replies:\n{out}");
        rtts
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
            netns: PathBuf::from(pair.a.path()),
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
    in_netns(
        &pair.a,
        &[
            "tc", "qdisc", "add", "dev", "eth0", "root", "handle", "1:", "pfifo",
        ],
    );
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
        netns: PathBuf::from(pair.a.path()),
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
    target.interface = "eth9".into();
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
    let path = PathBuf::from(pair.a.path());
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
