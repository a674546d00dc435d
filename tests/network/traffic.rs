//! Traffic: container to container on the bridge, container out through
//! masquerade, and a published port from the client host, from the node
//! itself (localhost) and from a container on the bridge (hairpin), over
//! TCP and UDP.

use std::net::Ipv4Addr;
use std::process::{Command, Stdio};

use jolt_agent::network::PortMapping;

use jolt_agent::network::Request;

use crate::world::{build_udp_echo, udp_socket_in, World, CLIENT_IP, NODE_IP};

#[test]
fn containers_on_the_bridge_reach_each_other() {
    let Some(world) = World::new("10.123.0.0/24") else {
        return;
    };
    let (_, a) = world.web("a", &[]);
    let (_, b) = world.web("b", &[]);
    assert_eq!(a.address.to_string(), "10.123.0.2");
    assert_eq!(b.address.to_string(), "10.123.0.3");

    let page = world.eventually("b fetching a's page", || {
        world.fetch_from(&b, a.address, 80, "/")
    });
    assert_eq!(page, "hello from a\n");
    let remote = world
        .fetch_from(&b, a.address, 80, "/cgi-bin/remote")
        .unwrap();
    assert_eq!(
        remote,
        format!("remote {}\n", b.address),
        "no NAT on the bridge"
    );
}

#[test]
fn a_container_reaches_the_client_host_with_the_nodes_address() {
    let Some(mut world) = World::new("10.123.1.0/24") else {
        return;
    };
    world.client_server(8000);
    let (_, a) = world.web("a", &[]);

    let remote = world.eventually("a fetching from the client host", || {
        world.fetch_from(&a, CLIENT_IP, 8000, "/cgi-bin/remote")
    });
    assert_eq!(
        remote,
        format!("remote {NODE_IP}\n"),
        "the client host sees the node's address, not the container's {}",
        a.address
    );
}

#[test]
fn a_published_port_reaches_the_container_from_everywhere() {
    let Some(world) = World::new("10.123.2.0/24") else {
        return;
    };
    let (_, web) = world.web("web", &[PortMapping::tcp(8080, 80)]);
    let (_, other) = world.web("other", &[]);
    let gateway = web.gateway;

    // From another host: the client host to the node's address.
    let client = world.client.path();
    let page = world.eventually("the client host fetching node:8080", || {
        world.fetch_in(&client, NODE_IP, 8080, "/")
    });
    assert_eq!(page, "hello from web\n");
    let remote = world
        .fetch_in(&client, NODE_IP, 8080, "/cgi-bin/remote")
        .unwrap();
    assert_eq!(
        remote,
        format!("remote {CLIENT_IP}\n"),
        "the client's own address"
    );

    // From the node itself, through localhost.
    let node = world.node_path();
    let localhost = Ipv4Addr::LOCALHOST;
    let page = world.fetch_in(&node, localhost, 8080, "/").unwrap();
    assert_eq!(page, "hello from web\n");
    let remote = world
        .fetch_in(&node, localhost, 8080, "/cgi-bin/remote")
        .unwrap();
    assert_eq!(
        remote,
        format!("remote {gateway}\n"),
        "masqueraded to the bridge"
    );

    // From a container on the same bridge to the node's published port
    // (hairpin), and from the published container to itself.
    for from in [&other, &web] {
        let page = world.fetch_from(from, NODE_IP, 8080, "/").unwrap();
        assert_eq!(page, "hello from web\n", "hairpin from {}", from.address);
        let remote = world
            .fetch_from(from, NODE_IP, 8080, "/cgi-bin/remote")
            .unwrap();
        assert_eq!(
            remote,
            format!("remote {gateway}\n"),
            "hairpin from {}",
            from.address
        );
    }

    // Only the published port: the container's address is not routed to
    // from the client host.
    assert!(world.fetch_in(&client, web.address, 80, "/").is_err());
}

/// Also checks the conntrack flush: a datagram sent to the port before
/// it was published leaves a conntrack entry without DNAT, which would
/// steer the same flow past the new rule if setup did not delete it.
#[test]
fn a_published_udp_port_reaches_the_container() {
    let Some(world) = World::new("10.123.3.0/24") else {
        return;
    };
    let flows = || {
        std::process::Command::new("nsenter")
            .arg(format!("--net={}", world.node_path()))
            .args(["conntrack", "-L", "-p", "udp", "--orig-port-dst", "5353"])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap()
    };
    // Another container's rules make the node track connections (a netns
    // tracks none until a rule needs it), as on a node already in use.
    let other = world.jolt.id("other");
    world.net.setup(&Request::new(&other)).unwrap();
    let client = world.client.path();
    let socket = udp_socket_in(&client);
    socket.send_to(b"too early", (NODE_IP, 5353)).unwrap();
    let stale = flows();
    assert!(
        stale.contains("dport=5353") && !stale.contains("src=10.123.3."),
        "the early datagram left a flow without DNAT: {stale}"
    );

    let id = world.jolt.id("echo");
    let att = world
        .net
        .setup(&Request::new(&id).port(PortMapping::udp(5353, 53)))
        .unwrap();
    let bundle = world.bundle(&att).args(&["/bin/udp-echo", "53"]);
    if !build_udp_echo(&bundle.rootfs().join("bin/udp-echo")) {
        return;
    }
    world.jolt.create_and_start(&id, &bundle);
    world.jolt.wait_for_stdout(&id, "ready");

    // "ping" to `to`:5353 from `socket`, and the echo: "ping from A:P".
    let echo = |socket: &std::net::UdpSocket, to: Ipv4Addr| {
        world.eventually(&format!("an echo from {to}:5353"), || {
            socket.send_to(b"ping", (to, 5353)).unwrap();
            let mut buf = [0u8; 64];
            match socket.recv_from(&mut buf) {
                Ok((n, from)) => Ok(format!(
                    "{} from {from}",
                    String::from_utf8_lossy(&buf[..n])
                )),
                Err(e) => Err(e.to_string()),
            }
        })
    };
    assert_eq!(echo(&socket, NODE_IP), format!("ping from {NODE_IP}:5353"));
    let seen = world.jolt.container_stdout(&id);
    assert!(
        seen.contains(&format!("got ping from {CLIENT_IP}")),
        "the container sees the client's address: {seen}"
    );

    // From the node itself through localhost, and from another container
    // to the node's published port (hairpin): both arrive masqueraded to
    // the bridge's address.
    let node = udp_socket_in(&world.node_path());
    assert_eq!(echo(&node, Ipv4Addr::LOCALHOST), "ping from 127.0.0.1:5353");
    let neighbour = udp_socket_in(world.net.netns_path(&other).to_str().unwrap());
    assert_eq!(
        echo(&neighbour, NODE_IP),
        format!("ping from {NODE_IP}:5353")
    );
    let seen = world.jolt.container_stdout(&id);
    let senders: std::collections::BTreeSet<&str> = seen
        .lines()
        .filter_map(|l| l.strip_prefix("got ping from "))
        .map(|from| from.split(':').next().unwrap())
        .collect();
    let (client_ip, gateway) = (CLIENT_IP.to_string(), att.gateway.to_string());
    assert_eq!(
        senders,
        [client_ip.as_str(), gateway.as_str()].into(),
        "localhost and hairpin datagrams come from the bridge: {seen}"
    );
    assert_eq!(
        seen.matches(&format!("got ping from {}", att.gateway))
            .count(),
        2,
        "localhost and hairpin datagrams come from the bridge: {seen}"
    );

    // Teardown forgets the flow too: it would keep steering the client's
    // datagrams to an address that is gone.
    assert!(
        flows().contains("dport=5353"),
        "the flow is tracked: {}",
        flows()
    );
    world.jolt.force_delete(&id);
    world.net.teardown(&id).unwrap();
    assert_eq!(flows(), "", "no UDP flow of port 5353 is left");
    world.net.teardown(&other).unwrap();
}

/// A drop policy in iptables' FORWARD chain, set with iptables as Docker
/// sets it: the network still works; iptables still reads its own table
/// while the network is up (every iptables user on the node, podman's CNI
/// plugins, Docker, kube-proxy, breaks otherwise); and `network rm` takes
/// out exactly the rules it put there.
#[test]
fn an_iptables_forward_drop_policy_does_not_block_the_network() {
    let Some(mut world) = World::new("10.123.5.0/24") else {
        return;
    };
    let Some(set) = world.node_iptables(&["-P", "FORWARD", "DROP"]) else {
        return;
    };
    set.unwrap();
    world
        .node_iptables(&[
            "-A",
            "FORWARD",
            "-i",
            "uplink",
            "-m",
            "comment",
            "--comment",
            "someone elses",
            "-j",
            "ACCEPT",
        ])
        .unwrap()
        .unwrap();
    world.client_server(8000);
    let (id, web) = world.web("web", &[PortMapping::tcp(8080, 80)]);

    let client = world.client.path();
    let page = world.eventually("the client host fetching node:8080", || {
        world.fetch_in(&client, NODE_IP, 8080, "/")
    });
    assert_eq!(page, "hello from web\n");
    let remote = world.eventually("web fetching from the client host", || {
        world.fetch_from(&web, CLIENT_IP, 8000, "/cgi-bin/remote")
    });
    assert_eq!(remote, format!("remote {NODE_IP}\n"));
    let tag = format!("--comment \"jolt network {}\"", world.name());
    let listed = world
        .node_iptables(&["-S", "FORWARD"])
        .unwrap()
        .expect("iptables reads its table while the network is up");
    assert_eq!(listed.matches(&tag).count(), 3, "{listed}");
    let first = listed.lines().nth(1).unwrap_or_default();
    assert!(first.contains(&tag), "jolt's rules come first:\n{listed}");
    assert!(Command::new("nsenter")
        .arg(format!("--net={}", world.node_path()))
        .arg("iptables-save")
        .stdout(Stdio::null())
        .status()
        .unwrap()
        .success());

    world.jolt.force_delete(&id);
    world.net.teardown(&id).unwrap();
    world.net.remove().unwrap();
    let chain = world.node_iptables(&["-S", "FORWARD"]).unwrap().unwrap();
    assert!(chain.contains("-P FORWARD DROP"), "{chain}");
    assert!(chain.contains("someone elses"), "{chain}");
    assert!(!chain.contains("jolt"), "jolt's rules are gone:\n{chain}");
}

/// On a node whose iptables has no tables yet, a network makes none:
/// they are iptables', not jolt's.
#[test]
fn a_network_makes_no_iptables_table() {
    let Some(world) = World::new("10.123.8.0/24") else {
        return;
    };
    if world.node_iptables(&["-V"]).is_none() {
        return;
    }
    let (id, _) = world.web("web", &[PortMapping::tcp(8080, 80)]);
    let tables = world.node_nft(&["list", "tables"]).unwrap();
    assert!(!tables.contains("ip filter"), "{tables}");
    world.jolt.force_delete(&id);
    world.net.teardown(&id).unwrap();
}

/// Rules an earlier joltd wrote natively into iptables-nft's table, which
/// iptables cannot read: the next setup replaces them with rules iptables
/// reads, and leaves everything else in the chain alone.
#[test]
fn native_rules_an_earlier_joltd_left_in_iptables_are_healed() {
    let Some(world) = World::new("10.123.7.0/24") else {
        return;
    };
    let Some(set) = world.node_iptables(&["-P", "FORWARD", "DROP"]) else {
        return;
    };
    set.unwrap();
    world
        .node_iptables(&["-A", "FORWARD", "-i", "uplink", "-j", "ACCEPT"])
        .unwrap()
        .unwrap();
    let bridge = &world.net.config().bridge;
    let tag = format!("\"jolt network {}\"", world.name());
    world
        .node_nft(&[&format!(
            "add rule ip filter FORWARD oifname \"{bridge}\" ct state {{ established, related }} accept comment {tag}"
        )])
        .unwrap();
    let broken = world
        .node_iptables(&["-S", "FORWARD"])
        .unwrap()
        .unwrap_err();
    assert!(broken.contains("incompatible"), "{broken}");

    world.web("web", &[]);
    let listed = world
        .node_iptables(&["-S", "FORWARD"])
        .unwrap()
        .expect("iptables reads its table again");
    assert_eq!(listed.matches("jolt network").count(), 3, "{listed}");
    assert!(
        listed.contains("-A FORWARD -i uplink -j ACCEPT"),
        "{listed}"
    );
}

/// A port published on one of the node's addresses answers there only.
#[test]
fn a_port_published_on_one_address_answers_only_there() {
    let Some(world) = World::new("10.123.6.0/24") else {
        return;
    };
    let local: PortMapping = "127.0.0.1:8080:80".parse().unwrap();
    world.web("web", &[local]);

    let node = world.node_path();
    let page = world.eventually("the node fetching 127.0.0.1:8080", || {
        world.fetch_in(&node, Ipv4Addr::LOCALHOST, 8080, "/")
    });
    assert_eq!(page, "hello from web\n");
    let refused = world
        .fetch_in(&world.client.path(), NODE_IP, 8080, "/")
        .unwrap_err();
    assert!(
        refused.contains("refused"),
        "not published on {NODE_IP}: {refused}"
    );
}
