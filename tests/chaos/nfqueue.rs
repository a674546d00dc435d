//! The nfqueue backend of network-delay and network-loss, where the
//! kernel has no sch_netem (this host): between the test's own network
//! namespaces, a ping is delayed and a share of pings lost by jolt's queue
//! worker; `backend: auto` picks it when netem is missing; killing the
//! worker leaves the rules but not the traffic stranded (bypass); revert
//! removes the rules. Host and VM alike (the VM takes nft's queue rules,
//! this host iptables-legacy's), and where sch_netem exists both
//! backends add the same delay on the same path.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use jolt_chaos::experiment::NetworkDelay;
use jolt_chaos::fault::{Backend, Chance, NetworkLoss, Peers};
use jolt_chaos::{fault, Fault, Reverted, Undo};
use jolt_e2e::feature::Feature;
use jolt_e2e::host::ping_rtts;

use crate::net::{net, target};
use crate::support::root;

fn delay(ms: u64, backend: Backend) -> Fault {
    Fault::NetworkDelay(NetworkDelay {
        latency: Duration::from_millis(ms),
        jitter: None,
        correlation: None,
        loss: None,
        peers: Peers::default(),
        backend,
        duration: Duration::from_secs(60),
    })
}

/// How many of `count` pings (10 ms apart) from `netns` to `to` were
/// answered.
fn answered(netns: &str, to: &str, count: usize) -> usize {
    let out = Command::new("nsenter")
        .arg(format!("--net={netns}"))
        .args([jolt_e2e::BUSYBOX, "ping", "-q", "-c"])
        .arg(count.to_string())
        .args(["-i", "0.01", "-W", "2", to])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let at = text
        .find(" packets received")
        .unwrap_or_else(|| panic!("{text}"));
    text[..at]
        .rsplit(|c: char| !c.is_ascii_digit())
        .find(|s| !s.is_empty())
        .unwrap()
        .parse()
        .unwrap()
}

#[test]
fn the_nfqueue_backend_delays_a_ping_and_revert_removes_its_rules() {
    if !root() {
        return;
    }
    let net = net();
    let netns = PathBuf::from(net.pair.a.path());
    let fault = delay(100, Backend::Nfqueue);
    let target = target(&net);
    let undo = fault::prepare(&fault, &target).unwrap();
    assert!(
        matches!(undo, Undo::NfQueue { queue: 19020, .. }),
        "{undo:?}"
    );
    assert!(
        undo.mechanism().starts_with("nfqueue 19020 ("),
        "{}",
        undo.mechanism()
    );
    fault::apply(&fault, &target, &undo).unwrap();
    let rtts = ping_rtts(&netns, "10.196.0.2", 5);
    eprintln!(
        "nfqueue delay 100ms: ping RTT {rtts:?} ms ({})",
        undo.mechanism()
    );
    assert!(rtts.iter().all(|r| *r >= 100.0), "{rtts:?}");
    let to_c = ping_rtts(&netns, "10.196.1.2", 3);
    assert!(
        to_c.iter().all(|r| *r >= 100.0),
        "all of a's traffic: {to_c:?}"
    );

    assert_eq!(fault::revert(&undo).unwrap(), Reverted::Done);
    let after = ping_rtts(&netns, "10.196.0.2", 3);
    assert!(after.iter().all(|r| *r < 100.0), "{after:?}");
    assert_eq!(fault::revert(&undo).unwrap(), Reverted::AlreadyClean);
}

#[test]
fn the_nfqueue_backend_drops_the_share_asked() {
    if !root() {
        return;
    }
    let net = net();
    let fault = Fault::NetworkLoss(NetworkLoss::new(
        Chance {
            percent: 50.0,
            correlation: None,
        },
        Peers::default(),
        Backend::Nfqueue,
        Duration::from_secs(60),
    ));
    let target = target(&net);
    let undo = fault::prepare(&fault, &target).unwrap();
    fault::apply(&fault, &target, &undo).unwrap();
    let got = answered(&net.pair.a.path(), "10.196.0.2", 200);
    eprintln!("nfqueue loss 50%: {got} of 200 answered");
    // Each request is dropped with p = 0.5: 25-75 % is over 7 standard
    // deviations wide.
    assert!((50..=150).contains(&got), "{got} of 200");
    assert_eq!(fault::revert(&undo).unwrap(), Reverted::Done);
    assert_eq!(answered(&net.pair.a.path(), "10.196.0.2", 20), 20);
}

#[test]
fn a_dead_queue_worker_lets_traffic_pass_and_auto_takes_nfqueue_without_netem() {
    if !root() {
        return;
    }
    let net = net();
    let netns = PathBuf::from(net.pair.a.path());
    let target = target(&net);
    let auto = fault::prepare(&delay(200, Backend::Auto), &target).unwrap();
    match Feature::SchNetem.probe() {
        Ok(()) => assert!(matches!(auto, Undo::Qdisc { .. }), "netem here: {auto:?}"),
        Err(_) => assert!(matches!(auto, Undo::NfQueue { .. }), "no netem: {auto:?}"),
    }
    let fault = delay(200, Backend::Nfqueue);
    let undo = fault::prepare(&fault, &target).unwrap();
    fault::apply(&fault, &target, &undo).unwrap();
    assert!(ping_rtts(&netns, "10.196.0.2", 2)
        .iter()
        .all(|r| *r >= 200.0));
    // What joltd's death does: the worker goes, the rules stay.
    assert!(fault::kill_worker(&netns));
    let rtts = ping_rtts(&netns, "10.196.0.2", 5);
    eprintln!("after the worker died, rules still in place: RTT {rtts:?} ms");
    assert!(
        rtts.iter().all(|r| *r < 200.0),
        "bypassed, not stranded: {rtts:?}"
    );
    assert_eq!(
        fault::revert(&undo).unwrap(),
        Reverted::Done,
        "the rules were left"
    );
}

/// The median of `v`.
fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Both backends add the delay asked for, one way, on the same path. The
/// delay is a floor (nothing makes a packet earlier); the ceiling only
/// catches a delay applied twice (both ways, or two rules), since under
/// emulation (the VM) a loaded host adds several ms. How close the two
/// backends come is printed, not asserted: timing is for benchmarks.
#[test]
fn nfqueue_and_netem_add_the_same_delay_on_the_same_path() {
    if !root() || !jolt_e2e::require(Feature::SchNetem) {
        return;
    }
    let net = net();
    let netns = PathBuf::from(net.pair.a.path());
    let target = target(&net);
    let base = median(ping_rtts(&netns, "10.196.0.2", 5));
    let mut added = Vec::new();
    for backend in [Backend::Netem, Backend::Nfqueue] {
        let fault = delay(50, backend);
        let undo = fault::prepare(&fault, &target).unwrap();
        fault::apply(&fault, &target, &undo).unwrap();
        added.push(median(ping_rtts(&netns, "10.196.0.2", 9)) - base);
        assert_eq!(fault::revert(&undo).unwrap(), Reverted::Done, "{backend:?}");
    }
    eprintln!(
        "50 ms on the same path: netem adds {:.2} ms, nfqueue {:.2} ms (baseline RTT {base:.2} ms)",
        added[0], added[1]
    );
    for a in &added {
        assert!((49.0..=90.0).contains(a), "{added:?}");
    }
}

#[test]
fn a_worker_whose_rules_someone_removed_gives_way_to_the_next_delay() {
    if !root() {
        return;
    }
    let net = net();
    let netns = PathBuf::from(net.pair.a.path());
    let target = target(&net);
    let fault = delay(50, Backend::Nfqueue);
    let undo = fault::prepare(&fault, &target).unwrap();
    fault::apply(&fault, &target, &undo).unwrap();
    // Someone else removes jolt's rules; its worker still holds the queue.
    let ns = net.pair.a.name().to_string();
    for args in [
        &["nft", "delete", "table", "inet", "jolt_nfqueue"][..],
        &[
            "iptables-legacy",
            "-w",
            "-t",
            "mangle",
            "-D",
            "OUTPUT",
            "-j",
            "JOLT-NFQUEUE",
        ],
        &[
            "iptables-legacy",
            "-w",
            "-t",
            "mangle",
            "-F",
            "JOLT-NFQUEUE",
        ],
        &[
            "iptables-legacy",
            "-w",
            "-t",
            "mangle",
            "-X",
            "JOLT-NFQUEUE",
        ],
        &[
            "ip6tables-legacy",
            "-w",
            "-t",
            "mangle",
            "-D",
            "OUTPUT",
            "-j",
            "JOLT-NFQUEUE",
        ],
        &[
            "ip6tables-legacy",
            "-w",
            "-t",
            "mangle",
            "-F",
            "JOLT-NFQUEUE",
        ],
        &[
            "ip6tables-legacy",
            "-w",
            "-t",
            "mangle",
            "-X",
            "JOLT-NFQUEUE",
        ],
    ] {
        let _ = Command::new("ip")
            .args(["netns", "exec", &ns])
            .args(args)
            .output();
    }
    let again = fault::prepare(&fault, &target).unwrap();
    fault::apply(&fault, &target, &again).unwrap_or_else(|e| panic!("{e}"));
    assert!(ping_rtts(&netns, "10.196.0.2", 2)
        .iter()
        .all(|r| *r >= 50.0));
    assert_eq!(fault::revert(&again).unwrap(), Reverted::Done);
}
