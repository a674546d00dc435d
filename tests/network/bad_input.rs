//! Bad input: a port another container published, a port out of range,
//! an unknown protocol, a subnet that overlaps a route, an exhausted
//! subnet, a failure midway through setup: each a clear error, and
//! nothing half-made.

use jolt_agent::network::{Network, NetworkConfig, PortMapping, Request};

use crate::world::World;

#[test]
fn a_port_published_by_another_container_is_refused() {
    let Some(world) = World::new("10.123.20.0/24") else {
        return;
    };
    let first = world.jolt.id("first");
    world
        .net
        .setup(&Request::new(&first).port(PortMapping::tcp(8080, 80)))
        .unwrap();
    let rules = world.rule_comments();

    let second = world.jolt.id("second");
    let err = world
        .net
        .setup(&Request::new(&second).port(PortMapping::tcp(8080, 8000)))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("container {second}: port 8080:8000/tcp is already published by container {first}")
    );
    world.assert_unwired(&second);
    assert_eq!(world.rule_comments(), rules, "the rule set is unchanged");
}

#[test]
fn bad_ports_and_protocols_are_refused() {
    let Some(world) = World::new("10.123.21.0/24") else {
        return;
    };
    let err = "8080:70000".parse::<PortMapping>().unwrap_err();
    assert_eq!(
        err,
        "port mapping \"8080:70000\": port \"70000\" is out of range (1-65535)"
    );
    let err = "8080:80/sctp".parse::<PortMapping>().unwrap_err();
    assert_eq!(
        err,
        "port mapping \"8080:80/sctp\": unknown protocol \"sctp\" (tcp or udp)"
    );

    let id = world.jolt.id("zero");
    let err = world
        .net
        .setup(&Request::new(&id).port(PortMapping::tcp(8080, 0)))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("container {id}: port mapping 8080:0/tcp: ports must be 1-65535")
    );
    world.assert_unwired(&id);
    assert!(!world.has_link(&world.net.config().bridge));
}

#[test]
fn a_subnet_that_overlaps_a_route_is_refused() {
    let Some(world) = World::new("10.125.0.0/16") else {
        return;
    };
    world
        .node_ip(&[
            "link", "add", "lan0", "type", "veth", "peer", "name", "lan1",
        ])
        .unwrap();
    world
        .node_ip(&["addr", "add", "10.125.7.1/24", "dev", "lan0"])
        .unwrap();
    world.node_ip(&["link", "set", "lan0", "up"]).unwrap();

    let id = world.jolt.id("overlap");
    let err = world.net.setup(&Request::new(&id)).unwrap_err();
    let name = &world.net.config().name;
    assert_eq!(
        err.to_string(),
        format!(
            "network {name}: subnet 10.125.0.0/16 overlaps route 10.125.7.0/24 on lan0; pick another subnet"
        )
    );
    world.assert_unwired(&id);
    assert!(
        !world.has_link(&world.net.config().bridge),
        "no bridge made"
    );
    assert!(!world.has_table(), "no table made");
}

#[test]
fn an_exhausted_subnet_is_refused() {
    let Some(world) = World::new("10.123.22.0/24") else {
        return;
    };
    // A /30 holds the gateway and one container.
    let net = Network::new(NetworkConfig {
        subnet: "10.126.0.0/30".parse().unwrap(),
        gateway: "10.126.0.1".parse().unwrap(),
        name: format!("{}-small", world.net.config().name),
        bridge: format!("{}s", world.net.config().bridge),
        ..world.net.config().clone()
    })
    .unwrap();
    let one = world.jolt.id("one");
    let att = net.setup(&Request::new(&one)).unwrap();
    assert_eq!(att.address.to_string(), "10.126.0.2");

    let two = world.jolt.id("two");
    let err = net.setup(&Request::new(&two)).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "network {}: no free address left in subnet 10.126.0.0/30 (1 leased); \
             tear down a container or use a larger subnet",
            net.config().name
        )
    );
    assert!(!net.netns_path(&two).exists());
    net.teardown(&one).unwrap();
    net.remove().unwrap();
}

/// A failure midway through setup (here: a link that holds the bridge's
/// name and is not a bridge, found after the lease and the netns were
/// made) undoes what setup made, and the lease goes with it.
#[test]
fn a_failure_midway_through_setup_leaves_nothing() {
    let Some(world) = World::new("10.123.23.0/24") else {
        return;
    };
    let bridge = world.net.config().bridge.clone();
    world
        .node_ip(&[
            "link",
            "add",
            &bridge,
            "type",
            "veth",
            "peer",
            "name",
            &format!("{bridge}p"),
        ])
        .unwrap();

    let id = world.jolt.id("midway");
    let err = world
        .net
        .setup(&Request::new(&id).port(PortMapping::tcp(8080, 80)))
        .unwrap_err();
    let name = &world.net.config().name;
    assert_eq!(
        err.to_string(),
        format!(
            "network {name}: link {bridge} exists and is not a bridge; pick another bridge name"
        )
    );
    world.assert_unwired(&id);
    assert!(world.net.leases().unwrap().is_empty(), "no lease kept");
    assert!(!world.has_table(), "no table made");
}
