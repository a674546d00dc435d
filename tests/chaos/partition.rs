//! network-partition: three network namespaces made by the test — the
//! target `a`, its peer `b` (joined by one veth pair) and a bystander `c`
//! (joined to `a` by another) — each of `b` and `c` answering TCP and UDP.
//! Under a partition from `a` to `b`, TCP and UDP between them fail while
//! `c` still answers; revert deletes jolt's table and they work again.
//! Narrowed to one port, only that traffic stops. Host only: nftables is
//! in both kernels.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use jolt_chaos::fault::{Cidr, Direction, NetworkPartition, Peer, Peers, Protocol};
use jolt_chaos::{fault, Fault, FaultError, Reverted, Target, Undo};
use jolt_e2e::host::{NetNs, NetNsPair};

use crate::support::root;

/// A TCP acceptor and a UDP echo on ports 8080 and 8081 of every address,
/// in `ns`, until killed.
fn serve(ns: &NetNs) -> Child {
    let code = "
import socket, threading
t = socket.socket(); t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
t.bind(('0.0.0.0', 8080)); t.listen(64)
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(('0.0.0.0', 8081))
def echo():
    while True:
        data, peer = u.recvfrom(100); u.sendto(data, peer)
threading.Thread(target=echo, daemon=True).start()
print('ready', flush=True)
while True:
    c, _ = t.accept(); c.close()
";
    let mut child = Command::new("ip")
        .args(["netns", "exec", ns.name(), "python3", "-c", code])
        .stdout(Stdio::piped())
        .spawn()
        .expect("starting python3 in the netns");
    let mut line = String::new();
    use std::io::BufRead;
    std::io::BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line.trim(), "ready");
    child
}

/// Whether TCP to `addr`:8080 connects and UDP to `addr`:8081 echoes, from
/// `ns`, each within half a second.
fn reach(ns: &NetNs, addr: &str) -> (bool, bool) {
    let code = format!(
        "
import socket
def tcp():
    try:
        socket.create_connection(('{addr}', 8080), timeout=0.5).close(); return 1
    except OSError: return 0
def udp():
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.settimeout(0.5)
    try:
        u.sendto(b'x', ('{addr}', 8081)); u.recvfrom(10); return 1
    except OSError: return 0
print(tcp(), udp())
"
    );
    let out = ns.exec(&["python3", "-c", &code]);
    let mut words = out.split_whitespace();
    let mut next = || words.next() == Some("1");
    (next(), next())
}

struct Net {
    pair: NetNsPair,
    c: NetNs,
    servers: Vec<Child>,
}

impl Drop for Net {
    fn drop(&mut self) {
        for s in &mut self.servers {
            let _ = s.kill();
            let _ = s.wait();
        }
    }
}

/// a (10.196.0.1) - b (10.196.0.2), and a (10.196.1.1) - c (10.196.1.2).
fn net() -> Net {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let pid = std::process::id();
    let pair = NetNsPair::new("jolt-part", "10.196.0");
    let c = NetNs::add(&format!("jolt-part-c-{pid}-{n}"));
    let a = &pair.a;
    // An interface name has at most 15 bytes.
    let peer = format!("jc{pid}-{n}");
    a.exec(&[
        "ip", "link", "add", "eth1", "type", "veth", "peer", "name", &peer,
    ]);
    a.exec(&["ip", "link", "set", &peer, "netns", c.name()]);
    c.exec(&["ip", "link", "set", &peer, "name", "eth0"]);
    a.exec(&["ip", "addr", "add", "10.196.1.1/30", "dev", "eth1"]);
    c.exec(&["ip", "addr", "add", "10.196.1.2/30", "dev", "eth0"]);
    a.exec(&["ip", "link", "set", "eth1", "up"]);
    c.exec(&["ip", "link", "set", "eth0", "up"]);
    c.exec(&["ip", "link", "set", "lo", "up"]);
    let servers = vec![serve(&pair.b), serve(&c)];
    Net { pair, c, servers }
}

fn target(net: &Net) -> Target {
    Target {
        id: "c-a".into(),
        name: "web".into(),
        pid: std::process::id() as i32,
        netns: Some(PathBuf::from(net.pair.a.path())),
        interface: Some("eth0".into()),
    }
}

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
