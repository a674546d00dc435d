//! world: a small network of namespaces the test makes itself, where every
//! packet of the test stays: a "node" namespace (the bridge, the host
//! ends, jolt's nftables table, the published ports) and a "client host"
//! namespace joined to it by a veth pair, like another machine on the
//! node's LAN. Containers are real `jolt` containers whose bundles join
//! the namespace the network library made for them.
//!
//! Owns building and tearing down that world, starting servers and
//! clients in it, and looking at what the node shows (links, rules,
//! namespace files). The library under test runs with `node_netns` set,
//! so nothing happens in the host's own network namespace.

use std::fs;
use std::net::Ipv4Addr;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use jolt_agent::network::{Attachment, Network, NetworkConfig, PortMapping, Request, Subnet};
use jolt_e2e::host::NetNs;
use jolt_e2e::{session, Bundle, Jolt};

static NEXT: AtomicU32 = AtomicU32::new(0);

/// The node's address on the link to the client host.
pub const NODE_IP: Ipv4Addr = Ipv4Addr::new(10, 124, 0, 1);
/// The client host's address.
pub const CLIENT_IP: Ipv4Addr = Ipv4Addr::new(10, 124, 0, 2);

/// A page a container's httpd serves, and a CGI that shows who connected.
/// httpd listens on IPv6 too and shows IPv4 peers as `[::ffff:a.b.c.d]`.
const REMOTE_CGI: &str = "#!/bin/sh\n\
    echo 'Content-Type: text/plain'\n\
    echo\n\
    a=${REMOTE_ADDR#'[::ffff:'}\n\
    echo \"remote ${a%']'}\"\n";

/// A UDP echo server for a container (busybox's nc has no UDP): binds
/// 0.0.0.0:PORT, says `ready`, and answers each datagram with itself,
/// printing `got PAYLOAD from ADDRESS`.
const UDP_ECHO: &str = r#"
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
int main(int argc, char **argv) {
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in me = { .sin_family = AF_INET, .sin_port = htons(atoi(argv[1])) };
    if (s < 0 || bind(s, (struct sockaddr *)&me, sizeof me) < 0) { perror("bind"); return 1; }
    printf("ready\n");
    fflush(stdout);
    for (;;) {
        char buf[512];
        struct sockaddr_in peer;
        socklen_t len = sizeof peer;
        ssize_t n = recvfrom(s, buf, sizeof buf - 1, 0, (struct sockaddr *)&peer, &len);
        if (n < 0) { perror("recvfrom"); return 1; }
        buf[n] = 0;
        printf("got %s from %s\n", buf, inet_ntoa(peer.sin_addr));
        fflush(stdout);
        sendto(s, buf, n, 0, (struct sockaddr *)&peer, len);
    }
}
"#;

/// Compiles [`UDP_ECHO`] statically at `binary`; false (a skip, with the
/// reason) without a static C compiler.
pub fn build_udp_echo(binary: &std::path::Path) -> bool {
    jolt_e2e::build_static_c(UDP_ECHO, binary, "the UDP echo server")
}

/// A UDP socket on an ephemeral port of the network namespace at `ns`
/// (made on a thread that entered it; the socket stays there).
pub fn udp_socket_in(ns: &str) -> std::net::UdpSocket {
    let ns = fs::File::open(ns).unwrap();
    std::thread::spawn(move || {
        nix::sched::setns(ns, nix::sched::CloneFlags::CLONE_NEWNET).expect("setns");
        let socket = std::net::UdpSocket::bind("0.0.0.0:0").expect("binding a UDP socket");
        socket
            .set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap();
        socket
    })
    .join()
    .unwrap()
}

pub struct World {
    pub jolt: Jolt,
    pub net: Network,
    pub node: NetNs,
    pub client: NetNs,
    node_name: String,
    servers: Vec<Child>,
}

/// Runs `cmd`; its stdout on success, else stderr (and stdout).
fn output(cmd: &mut Command) -> Result<String, String> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("running {cmd:?}: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    if out.status.success() {
        Ok(stdout)
    } else {
        Err(format!(
            "{cmd:?} exited with {}: {}{stdout}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

#[track_caller]
fn must(cmd: &mut Command) -> String {
    output(cmd).unwrap_or_else(|e| panic!("{e}"))
}

fn ip(args: &[&str]) -> Command {
    let mut cmd = Command::new("ip");
    cmd.args(args);
    cmd
}

/// Whether nft and nf_tables, and conntrack, work here; says why not.
fn firewall_available(ns: &NetNs) -> bool {
    if let Err(e) = output(
        Command::new("nsenter")
            .arg(format!("--net={}", ns.path()))
            .args(["nft", "list", "tables"]),
    ) {
        eprintln!("skipped: nftables (nft with the kernel's nf_tables) does not work here: {e} (apt-get install nftables; modprobe nf_tables)");
        return false;
    }
    if output(Command::new("conntrack").arg("--version")).is_err() {
        eprintln!("skipped: the conntrack tool is missing (apt-get install conntrack)");
        return false;
    }
    true
}

/// A shell command for an HTTP/1.0 GET with busybox nc (busybox wget
/// crashes on a refused connection), giving up after 3 s.
fn http_get(addr: Ipv4Addr, port: u16, path: &str) -> String {
    format!("printf 'GET {path} HTTP/1.0\\r\\n\\r\\n' | nc -w 3 {addr} {port}")
}

/// The body of a 200 response, or an error showing the response. A CGI's
/// own headers end with a bare `\n\n`.
fn body(response: &str) -> Result<String, String> {
    let end = ["\r\n\r\n", "\n\n"]
        .iter()
        .filter_map(|sep| response.find(sep).map(|at| at + sep.len()))
        .min();
    match end {
        Some(at) if response.starts_with("HTTP/1.1 200") => Ok(response[at..].to_string()),
        _ => Err(format!("no 200 response: {response:?}")),
    }
}

impl World {
    /// A node and a client host, linked; the network (`subnet`, a bridge
    /// named after this world) is configured but not made yet. None, after
    /// saying why, where the test cannot run.
    pub fn new(subnet: &str) -> Option<World> {
        let jolt = session()?;
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let node = NetNs::add(&jolt.id("node"));
        let client = NetNs::add(&jolt.id("client"));
        if !firewall_available(&node) {
            return None;
        }
        let node_name = node.path().trim_start_matches("/run/netns/").to_string();
        let client_name = client.path().trim_start_matches("/run/netns/").to_string();
        must(&mut ip(&[
            "-n",
            &node_name,
            "link",
            "add",
            "uplink",
            "type",
            "veth",
            "peer",
            "name",
            "eth0",
            "netns",
            &client_name,
        ]));
        for (ns, dev, addr) in [
            (&node_name, "uplink", NODE_IP),
            (&client_name, "eth0", CLIENT_IP),
        ] {
            must(&mut ip(&[
                "-n",
                ns,
                "addr",
                "add",
                &format!("{addr}/24"),
                "dev",
                dev,
            ]));
            must(&mut ip(&["-n", ns, "link", "set", dev, "up"]));
            must(&mut ip(&["-n", ns, "link", "set", "lo", "up"]));
        }
        let subnet: Subnet = subnet.parse().unwrap();
        // The client host routes the containers' subnet to the node, so
        // the tests can check that only published ports get through.
        must(&mut ip(&[
            "-n",
            &client_name,
            "route",
            "add",
            &subnet.to_string(),
            "via",
            &NODE_IP.to_string(),
        ]));
        let config = NetworkConfig {
            name: format!("e2e{n}"),
            bridge: format!("jtest{n}"),
            subnet,
            gateway: subnet.first_host(),
            state_dir: jolt.host_dir("state"),
            netns_dir: jolt.host_path("netns"),
            node_netns: Some(PathBuf::from(node.path())),
        };
        let net = Network::new(config).unwrap();
        Some(World {
            jolt,
            net,
            node,
            client,
            node_name,
            servers: Vec::new(),
        })
    }

    pub fn node_path(&self) -> String {
        self.node.path()
    }

    /// `ip -n <node> ARGS`: Ok(stdout) or Err(why).
    pub fn node_ip(&self, args: &[&str]) -> Result<String, String> {
        let mut full = vec!["-n", &self.node_name];
        full.extend_from_slice(args);
        output(&mut ip(&full))
    }

    /// Sets up the network of a new container `name` with `ports` and
    /// runs busybox httpd in it on port 80, serving "hello from NAME" at /
    /// and /cgi-bin/remote (the client's address as the server sees it).
    #[track_caller]
    pub fn web(&self, name: &str, ports: &[PortMapping]) -> (String, Attachment) {
        let id = self.jolt.id(name);
        let mut req = Request::new(&id);
        req.ports = ports.to_vec();
        let att = self
            .net
            .setup(&req)
            .unwrap_or_else(|e| panic!("setup {id}: {e}"));
        let bundle = self
            .bundle(&att)
            .sh("echo ready; exec httpd -f -p 80 -h /www");
        let www = bundle.rootfs().join("www");
        fs::create_dir_all(www.join("cgi-bin")).unwrap();
        fs::write(www.join("index.html"), format!("hello from {name}\n")).unwrap();
        let cgi = www.join("cgi-bin/remote");
        fs::write(&cgi, REMOTE_CGI).unwrap();
        fs::set_permissions(&cgi, fs::Permissions::from_mode(0o755)).unwrap();
        self.jolt.create_and_start(&id, &bundle);
        self.jolt.wait_for_stdout(&id, "ready");
        (id, att)
    }

    /// A bundle whose container joins `att`'s network namespace.
    pub fn bundle(&self, att: &Attachment) -> Bundle {
        self.jolt
            .bundle()
            .namespace("network", Some(att.netns.to_str().unwrap()))
    }

    /// A short-lived container in `att`'s network namespace fetching
    /// `http://addr:port/path`: Ok(body) or Err(what happened).
    pub fn fetch_from(
        &self,
        att: &Attachment,
        addr: Ipv4Addr,
        port: u16,
        path: &str,
    ) -> Result<String, String> {
        let id = self.jolt.id("client");
        let bundle = self.bundle(att).sh(&http_get(addr, port, path));
        let out = self.jolt.run_container(&id, &bundle);
        if out.success() {
            body(&out.stdout)
        } else {
            Err(out.to_string())
        }
    }

    /// [`World::fetch_from`] from the network namespace at `ns` (the node
    /// or the client host), with the host's busybox.
    pub fn fetch_in(
        &self,
        ns: &str,
        addr: Ipv4Addr,
        port: u16,
        path: &str,
    ) -> Result<String, String> {
        let out = output(Command::new("nsenter").arg(format!("--net={ns}")).args([
            jolt_e2e::BUSYBOX,
            "sh",
            "-c",
            &http_get(addr, port, path),
        ]))?;
        body(&out)
    }

    /// Runs busybox httpd in the client host on `port` serving
    /// /cgi-bin/remote; killed when the world goes.
    pub fn client_server(&mut self, port: u16) {
        let www = self.jolt.host_dir("client-www");
        fs::create_dir(www.join("cgi-bin")).unwrap();
        let cgi = www.join("cgi-bin/remote");
        fs::write(&cgi, REMOTE_CGI).unwrap();
        fs::set_permissions(&cgi, fs::Permissions::from_mode(0o755)).unwrap();
        let child = Command::new("nsenter")
            .arg(format!("--net={}", self.client.path()))
            .args([
                jolt_e2e::BUSYBOX,
                "httpd",
                "-f",
                "-p",
                &port.to_string(),
                "-h",
            ])
            .arg(&www)
            .stdin(Stdio::null())
            .spawn()
            .expect("running busybox httpd in the client host");
        self.servers.push(child);
    }

    /// The comments of the rules in the node's `inet jolt` table: the
    /// container IDs (the table's fixed rules have none); empty when there
    /// is no table.
    pub fn rule_comments(&self) -> Vec<String> {
        let Ok(json) = self.node_nft(&["-j", "list", "table", "inet", "jolt"]) else {
            return Vec::new();
        };
        jolt_e2e::host::nft_rule_comments(&json)
    }

    /// `nft ARGS` in the node: Ok(stdout) or Err(why).
    pub fn node_nft(&self, args: &[&str]) -> Result<String, String> {
        output(
            Command::new("nsenter")
                .arg(format!("--net={}", self.node.path()))
                .arg("nft")
                .args(args),
        )
    }

    /// `iptables ARGS` in the node: Ok(stdout) or Err(why); None, after
    /// saying why, where iptables is not installed.
    pub fn node_iptables(&self, args: &[&str]) -> Option<Result<String, String>> {
        if jolt_e2e::image::which("iptables").is_none() {
            eprintln!("skipped: iptables not found (apt-get install iptables)");
            return None;
        }
        Some(output(
            Command::new("nsenter")
                .arg(format!("--net={}", self.node.path()))
                .arg("iptables")
                .args(args),
        ))
    }

    /// The network's name, as its rules in iptables are tagged.
    pub fn name(&self) -> &str {
        &self.net.config().name
    }

    /// Whether the node has `inet jolt` at all.
    pub fn has_table(&self) -> bool {
        self.node_nft(&["list", "table", "inet", "jolt"]).is_ok()
    }

    /// Whether the node has a link named `name`.
    pub fn has_link(&self, name: &str) -> bool {
        self.node_ip(&["link", "show", name]).is_ok()
    }

    /// Asserts that container `id` left nothing in the network: no veth,
    /// no namespace file or mount, no lease, no rule.
    #[track_caller]
    pub fn assert_unwired(&self, id: &str) {
        let veth = jolt_agent::network::host_veth_name(id);
        assert!(!self.has_link(&veth), "veth {veth} is still there");
        let netns = self.net.netns_path(id);
        assert!(!netns.exists(), "{} is still there", netns.display());
        let mounts = fs::read_to_string("/proc/self/mountinfo").unwrap();
        assert!(
            !mounts.contains(netns.to_str().unwrap()),
            "{} is still mounted",
            netns.display()
        );
        let leases = self.net.leases().unwrap();
        assert!(
            leases.iter().all(|l| l.container != id),
            "{id} still has a lease: {leases:?}"
        );
        let comments = self.rule_comments();
        assert!(
            !comments.iter().any(|c| c == id),
            "rules of {id} are still in inet jolt: {comments:?}"
        );
        let table = self
            .node_nft(&["list", "table", "inet", "jolt"])
            .unwrap_or_default();
        assert!(
            !table.contains(&format!("{id}.")),
            "a chain or map element of {id} is still in inet jolt:\n{table}"
        );
    }

    /// Polls `probe` until it returns Ok, for servers that are starting.
    #[track_caller]
    pub fn eventually(
        &self,
        what: &str,
        mut probe: impl FnMut() -> Result<String, String>,
    ) -> String {
        let start = Instant::now();
        loop {
            match probe() {
                Ok(v) => return v,
                Err(e) if start.elapsed() > jolt_e2e::timeout() => panic!("{what}: {e}"),
                Err(_) => std::thread::sleep(Duration::from_millis(100)),
            }
        }
    }
}

impl Drop for World {
    fn drop(&mut self) {
        for child in &mut self.servers {
            let _ = child.kill();
            let _ = child.wait();
        }
        if let Ok(leases) = self.net.leases() {
            for lease in leases {
                let _ = self.jolt.run(["delete", "--force", &lease.container]);
                let _ = self.net.teardown(&lease.container);
            }
        }
        let _ = self.net.remove();
        // What is left then goes with the fields: namespace mounts below
        // the runner's temp dir (it unmounts them), the node and client
        // namespaces with their guards, and the bridge and table with
        // the node.
    }
}
