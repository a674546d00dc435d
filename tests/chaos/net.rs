//! net: what the network fault tests build — three network namespaces,
//! the target `a`, its peer `b` (one veth pair) and a bystander `c` (a
//! second veth pair from `a`), with `b` and `c` serving TCP, UDP and a TCP
//! sink — and how they measure what a fault does to it. All removed on
//! drop.

use std::io::BufRead;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

use jolt_chaos::Target;
use jolt_e2e::host::{NetNs, NetNsPair};

/// A TCP acceptor on port 8080, a UDP echo on 8081 and a TCP sink on
/// 8082 (reads to the end, then answers one byte), in `ns`, until killed.
pub fn serve(ns: &NetNs) -> Child {
    let code = "
import socket, threading
t = socket.socket(); t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
t.bind(('0.0.0.0', 8080)); t.listen(64)
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(('0.0.0.0', 8081))
def echo():
    while True:
        data, peer = u.recvfrom(100); u.sendto(data, peer)
threading.Thread(target=echo, daemon=True).start()
k = socket.socket(); k.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
k.bind(('0.0.0.0', 8082)); k.listen(64)
def sink():
    while True:
        c, _ = k.accept()
        while c.recv(65536): pass
        c.sendall(b'k'); c.close()
threading.Thread(target=sink, daemon=True).start()
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
    std::io::BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line.trim(), "ready");
    child
}

/// Whether TCP to `addr`:8080 connects and UDP to `addr`:8081 echoes, from
/// `ns`, each within half a second.
pub fn reach(ns: &NetNs, addr: &str) -> (bool, bool) {
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

pub struct Net {
    pub pair: NetNsPair,
    pub c: NetNs,
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
pub fn net() -> Net {
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

pub fn target(net: &Net) -> Target {
    Target {
        id: "c-a".into(),
        name: "web".into(),
        pid: std::process::id() as i32,
        netns: Some(PathBuf::from(net.pair.a.path())),
        interface: Some("eth0".into()),
    }
}

/// The rate, in bits per second, at which `bytes` sent over TCP from `ns`
/// reach the sink at `addr`:8082 (until the sink has read them all).
pub fn throughput(ns: &NetNs, addr: &str, bytes: usize) -> f64 {
    let code = format!(
        "
import socket, time
data = b'x' * {bytes}
s = socket.create_connection(('{addr}', 8082), timeout=60)
t = time.monotonic(); s.sendall(data); s.shutdown(socket.SHUT_WR); s.recv(1)
print({bytes} * 8 / (time.monotonic() - t))
"
    );
    ns.exec(&["python3", "-c", &code]).trim().parse().unwrap()
}
