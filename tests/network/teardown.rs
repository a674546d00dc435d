//! Teardown: nothing of a container is left in the network, its port
//! refuses, other containers keep theirs; setup and teardown can be
//! repeated; a half-made setup is repaired or cleaned; the bridge stays
//! until `network rm`.

use jolt_agent::network::{host_veth_name, Network, PortMapping, Request};

use crate::world::{World, NODE_IP};

#[test]
fn teardown_leaves_nothing_and_the_port_refuses() {
    let Some(world) = World::new("10.123.10.0/24") else {
        return;
    };
    let (web, _) = world.web(
        "web",
        &[PortMapping::tcp(8080, 80), PortMapping::udp(5353, 53)],
    );
    let (other, _) = world.web("other", &[PortMapping::tcp(8081, 80)]);
    let client = world.client.path();
    world.eventually("node:8080 before teardown", || {
        world.fetch_in(&client, NODE_IP, 8080, "/")
    });
    assert!(world.rule_comments().contains(&web));

    world.jolt.force_delete(&web);
    world.net.teardown(&web).unwrap();

    world.assert_unwired(&web);
    let refused = world.fetch_in(&client, NODE_IP, 8080, "/").unwrap_err();
    assert!(
        refused.contains("refused"),
        "port 8080 should refuse: {refused}"
    );
    // The other container keeps its rules, lease and port.
    assert!(world.rule_comments().contains(&other));
    assert!(world
        .net
        .leases()
        .unwrap()
        .iter()
        .any(|l| l.container == other));
    let page = world.fetch_in(&client, NODE_IP, 8081, "/").unwrap();
    assert_eq!(page, "hello from other\n");
}

#[test]
fn setup_and_teardown_can_be_repeated() {
    let Some(world) = World::new("10.123.11.0/24") else {
        return;
    };
    let id = world.jolt.id("twice");
    let req = Request::new(&id).port(PortMapping::tcp(8080, 80));
    let first = world.net.setup(&req).unwrap();
    let rules = world.rule_comments().len();
    let second = world.net.setup(&req).unwrap();
    assert_eq!(first, second);
    assert_eq!(world.rule_comments().len(), rules, "no rule twice");
    assert_eq!(world.net.leases().unwrap().len(), 1);

    // A restarted agent (a new Network on the same state) sees the lease.
    let again = Network::new(world.net.config().clone()).unwrap();
    assert_eq!(again.leases().unwrap()[0].address, first.address);
    let err = again
        .setup(&Request::new(&id).port(PortMapping::tcp(9090, 80)))
        .unwrap_err()
        .to_string();
    assert!(err.contains("already set up with address"), "{err}");

    world.net.teardown(&id).unwrap();
    world.net.teardown(&id).unwrap();
    world.net.teardown(&world.jolt.id("never-set-up")).unwrap();
    world.assert_unwired(&id);
}

#[test]
fn a_half_made_setup_is_repaired_or_cleaned() {
    let Some(world) = World::new("10.123.12.0/24") else {
        return;
    };
    let id = world.jolt.id("half");
    let req = Request::new(&id).port(PortMapping::tcp(8080, 80));
    let att = world.net.setup(&req).unwrap();

    // The veth pair is lost (say, a crash before it was made): setting up
    // again makes it.
    world
        .node_ip(&["link", "del", &host_veth_name(&id)])
        .unwrap();
    assert_eq!(world.net.setup(&req).unwrap(), att);
    assert!(world.has_link(&att.host_veth));
    let (_, web) = world.web("web", &[]);
    let page = world.eventually("the repaired namespace fetching from web", || {
        world.fetch_from(&att, web.address, 80, "/")
    });
    assert_eq!(page, "hello from web\n");

    // The namespace mount is lost: teardown still removes the rest.
    nix::mount::umount2(&att.netns, nix::mount::MntFlags::MNT_DETACH).unwrap();
    std::fs::remove_file(&att.netns).unwrap();
    world.net.teardown(&id).unwrap();
    world.assert_unwired(&id);
}

#[test]
fn the_bridge_stays_until_the_network_is_removed() {
    let Some(world) = World::new("10.123.13.0/24") else {
        return;
    };
    let bridge = world.net.config().bridge.clone();
    let id = world.jolt.id("only");
    world.net.setup(&Request::new(&id)).unwrap();
    assert!(world.has_link(&bridge));

    let err = world.net.remove().unwrap_err().to_string();
    assert!(
        err.contains(&format!("still used by container(s) {id}")),
        "{err}"
    );
    assert!(world.has_link(&bridge), "a refused rm changes nothing");

    world.net.teardown(&id).unwrap();
    assert!(
        world.has_link(&bridge),
        "the last container leaves the bridge"
    );
    assert!(world.has_table());

    world.net.remove().unwrap();
    assert!(!world.has_link(&bridge), "network rm removes the bridge");
    assert!(!world.has_table(), "and the table, now empty");
    world.net.remove().unwrap();
}

/// The table may vanish under jolt (`nft flush ruleset` by a firewall
/// service, say): the next setup makes it again, and a teardown of a
/// container whose rules went with the old table succeeds and leaves the
/// other container's rules alone.
#[test]
fn teardown_works_after_the_table_was_deleted() {
    let Some(world) = World::new("10.123.14.0/24") else {
        return;
    };
    let first = world.jolt.id("first");
    world
        .net
        .setup(&Request::new(&first).port(PortMapping::tcp(8080, 80)))
        .unwrap();
    world
        .node_nft(&["delete", "table", "inet", "jolt"])
        .unwrap();
    let second = world.jolt.id("second");
    world
        .net
        .setup(&Request::new(&second).port(PortMapping::tcp(8081, 80)))
        .unwrap();
    let before = world.rule_comments();
    assert!(before.iter().all(|c| *c == second), "{before:?}");

    world.net.teardown(&first).unwrap();
    assert_eq!(
        world.rule_comments(),
        before,
        "the second container's rules stay"
    );
    world.assert_unwired(&first);
    world.net.teardown(&second).unwrap();
    world.assert_unwired(&second);
}

/// Setups running at once (each with its own lock file handle, as
/// separate joltd requests or processes would have) get distinct
/// addresses and all work; a static address is honoured.
#[test]
fn concurrent_setups_get_distinct_addresses() {
    let Some(world) = World::new("10.123.15.0/24") else {
        return;
    };
    let fixed = world.jolt.id("fixed");
    let att = world
        .net
        .setup(&Request::new(&fixed).address("10.123.15.200".parse().unwrap()))
        .unwrap();
    assert_eq!(att.address.to_string(), "10.123.15.200");

    let ids: Vec<String> = (0..6).map(|i| world.jolt.id(&format!("many{i}"))).collect();
    let config = world.net.config().clone();
    let addresses: Vec<_> = std::thread::scope(|s| {
        let handles: Vec<_> = ids
            .iter()
            .enumerate()
            .map(|(i, id)| {
                let net = Network::new(config.clone()).unwrap();
                s.spawn(move || {
                    let req = Request::new(id).port(PortMapping::tcp(9000 + i as u16, 80));
                    net.setup(&req).unwrap().address
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut distinct = addresses.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(
        distinct.len(),
        ids.len(),
        "an address was handed out twice: {addresses:?}"
    );
    assert!(!addresses.contains(&att.address));
    assert_eq!(world.net.leases().unwrap().len(), ids.len() + 1);

    // Each is wired: a container in the fixed one reaches them all.
    let (_, web) = world.web("web", &[]);
    let page = world.eventually("fixed fetching from web", || {
        world.fetch_from(&att, web.address, 80, "/")
    });
    assert_eq!(page, "hello from web\n");
    for id in ids.iter().chain([&fixed]) {
        world.net.teardown(id).unwrap();
        world.assert_unwired(id);
    }
}
