//! Published ports through joltd: a busybox httpd run with `-p 8080:80`
//! serves its page on the node's localhost; a restart, a crash of joltd
//! and its re-adoption keep the container's address and namespace; `rm`
//! leaves no veth, namespace, lease or rule; a port another container
//! publishes is refused and leaves nothing. All of it inside the node
//! namespace the test's joltd was given. Without --subnet, joltd picks the
//! first block of its pool that no route of the node overlaps, shows it in
//! `chaosctl network ls`, and keeps it across restarts.

use std::net::Ipv4Addr;

use jolt_e2e::agent::{BRIDGE, SUBNET};
use jolt_e2e::host;

use crate::agent;

/// What the embedded busybox image serves at /.
const PAGE: &str = "<h1>jolt</h1>\n";

/// `chaosctl run` flags for a web server on port 80 publishing `port`.
fn web(name: &str, port: &str, extra: &[&'static str]) -> Vec<String> {
    let mut args: Vec<String> = vec!["--name".into(), name.into(), "-p".into(), port.into()];
    args.extend(extra.iter().map(|s| s.to_string()));
    args.extend(["--", "httpd", "-f", "-p", "80", "-h", "/www"].map(String::from));
    args
}

fn run(a: &jolt_e2e::agent::Agent, args: &[String]) -> String {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    a.run(&args)
}

/// The container's address as inspect shows it.
fn address(a: &jolt_e2e::agent::Agent, name: &str) -> Ipv4Addr {
    let r = a.inspect(name);
    r["status"]["address"]
        .as_str()
        .unwrap_or_else(|| panic!("no address: {r}"))
        .parse()
        .unwrap()
}

#[test]
fn a_published_port_serves_the_page_and_rm_leaves_nothing() {
    let Some(a) = agent() else { return };
    let id = run(&a, &web("web", "8080:80", &[]));
    assert_eq!(a.wait_for_page(8080), PAGE);

    let addr = address(&a, "web");
    let subnet: jolt_agent::network::Subnet = SUBNET.parse().unwrap();
    assert!(subnet.is_host(addr), "{addr} is not in {SUBNET}");
    // The container is reachable on its own address from the node too.
    assert_eq!(a.fetch(&addr.to_string(), 80, "/").unwrap(), PAGE);
    let ps = a.ok(["ps"]);
    assert!(
        ps.contains("ADDRESS") && ps.contains(&addr.to_string()),
        "{ps}"
    );
    assert!(ps.contains("8080->80/tcp"), "{ps}");
    let shown = a.ok(["inspect", "web"]);
    assert!(shown.contains("8080->80/tcp"), "{shown}");
    assert!(a.rule_comments().iter().any(|c| c.contains(&id)));
    assert!(a.netns_dir().join(&id).exists());

    let pid = a.inspect("web")["status"]["pid"].as_i64().map(|p| p as i32);
    a.ok(["rm", "-f", "web"]);
    a.assert_gone(&id, pid);
    a.fetch("127.0.0.1", 8080, "/")
        .expect_err("nothing serves 8080 after rm");

    // With no container left, the network itself goes.
    let (status, stderr) = a.joltd_command(&["network-rm"]);
    assert!(status.success(), "joltd network-rm: {stderr}");
    let bridge = jolt_e2e::agent::BRIDGE;
    assert!(a.in_node(&["ip", "link", "show", bridge]).is_err());
    assert!(a
        .in_node(&["nft", "list", "table", "inet", "jolt"])
        .is_err());
}

#[test]
fn a_port_published_by_another_container_is_refused_and_leaves_nothing() {
    let Some(a) = agent() else { return };
    let web_id = run(&a, &web("web", "8080:80", &[]));
    assert_eq!(a.wait_for_page(8080), PAGE);
    let containers = a.state_dir().join("containers");
    let before: Vec<_> = std::fs::read_dir(&containers).unwrap().collect();

    let args = [
        "run", "-d", "--name", "other", "-p", "8080:80", "--", "true",
    ];
    let out = a.ctl(args);
    out.assert_failure().assert_stderr_contains(
        "container other: port 8080:80/tcp is already published by container web",
    );
    assert_eq!(out.stderr.lines().count(), 1, "one line: {out}");

    assert_eq!(a.ok(["ps", "-a"]).lines().count(), 2, "web only");
    let after: Vec<_> = std::fs::read_dir(&containers).unwrap().collect();
    assert_eq!(after.len(), before.len(), "a container directory was left");
    let leases = a.network().leases().unwrap();
    assert_eq!(leases.len(), 1, "{leases:?}");
    assert_eq!(leases[0].container, web_id);
    let namespaces: Vec<_> = std::fs::read_dir(a.netns_dir()).unwrap().collect();
    assert_eq!(namespaces.len(), 1, "{namespaces:?}");
    assert!(a.rule_comments().iter().all(|c| c.contains(&web_id)));
    // The first one still serves, and holds the network.
    assert_eq!(a.fetch("127.0.0.1", 8080, "/").unwrap(), PAGE);
    let (status, stderr) = a.joltd_command(&["network-rm"]);
    assert!(!status.success());
    assert!(
        stderr.contains(&format!("still used by container(s) {web_id}")),
        "{stderr}"
    );
}

#[test]
fn restarts_and_kill_9_of_joltd_keep_the_address_and_the_page() {
    let Some(mut a) = agent() else { return };
    let id = run(&a, &web("web", "8080:80", &["--restart", "always"]));
    assert_eq!(a.wait_for_page(8080), PAGE);
    let addr = address(&a, "web");
    let netns = std::fs::metadata(a.netns_dir().join(&id)).unwrap();
    let inode = std::os::unix::fs::MetadataExt::ino(&netns);

    // The restart policy brings it back in the same namespace.
    let pid = a.inspect("web")["status"]["pid"].as_i64().unwrap() as i32;
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    a.wait_for("web", "restarted", |r| {
        r["status"]["restart_count"] == 1 && r["status"]["state"] == "running"
    });
    assert_eq!(a.wait_for_page(8080), PAGE);
    assert_eq!(address(&a, "web"), addr);

    // joltd dies; the page is still served, and the next joltd re-adopts
    // the container with the same address and namespace.
    a.kill9();
    assert_eq!(a.fetch("127.0.0.1", 8080, "/").unwrap(), PAGE);
    a.restart();
    let r = a.wait_for("web", "re-adopted", |r| r["status"]["state"] == "running");
    assert_eq!(r["status"]["restart_count"], 1, "{r}");
    assert_eq!(address(&a, "web"), addr);
    let netns = std::fs::metadata(a.netns_dir().join(&id)).unwrap();
    assert_eq!(std::os::unix::fs::MetadataExt::ino(&netns), inode);
    assert_eq!(a.fetch("127.0.0.1", 8080, "/").unwrap(), PAGE);
    assert_eq!(a.network().leases().unwrap().len(), 1);

    let pid = r["status"]["pid"].as_i64().map(|p| p as i32);
    a.ok(["rm", "-f", "web"]);
    a.assert_gone(&id, pid);
    assert!(pid.is_none_or(|p| !host::alive(p)));
}

/// iptables' rules other than jolt's, without counters, as
/// `iptables-save` prints them in the node.
fn others_iptables_rules(a: &jolt_e2e::agent::Agent) -> Vec<String> {
    let saved = a
        .in_node(&["iptables-save"])
        .expect("iptables-save reads every table while joltd's network is up");
    saved
        .lines()
        .filter(|l| l.starts_with('-') || l.starts_with(':'))
        .filter(|l| !l.contains("jolt network"))
        .map(|l| match l.rfind(" [") {
            // A chain's counters: ":FORWARD DROP [0:0]".
            Some(at) if l.starts_with(':') => l[..at].to_string(),
            _ => l.to_string(),
        })
        .collect()
}

/// podman with its default CNI network beside joltd's on one node, with
/// the FORWARD `policy`: iptables keeps reading its tables while joltd's
/// network is up, podman's container gets its address, its published port
/// answers on the node's localhost, and it reaches a port joltd's
/// container publishes; removing joltd's network leaves podman's rules as
/// they were. iptables, podman and its CNI plugins all run in the test's
/// node namespace, so nothing reaches the host's.
fn podman_beside_joltd(policy: &str) {
    let Some(a) = agent() else { return };
    if jolt_e2e::image::which("iptables").is_none() {
        eprintln!("skipped: iptables not found (apt-get install iptables)");
        return;
    }
    let node = a.node_netns();
    let Some(podman) = jolt_e2e::podman::Podman::start(
        &jolt_e2e::runner::jolt_bin(),
        &format!("cni-{}", policy.to_lowercase()),
        Some(&node),
    ) else {
        return;
    };
    a.in_node(&["iptables", "-P", "FORWARD", policy]).unwrap();
    run(&a, &web("web", "8080:80", &[]));
    assert_eq!(a.wait_for_page(8080), PAGE);
    a.in_node(&["iptables", "-S"])
        .expect("iptables reads its tables while joltd's network is up");

    podman.ok(&podman.run_args(&[
        "-d",
        "--name",
        "pweb",
        "-p",
        "18080:80",
        jolt_e2e::image::NAME,
        "sh",
        "-c",
        "mkdir -p /w && echo podman-page > /w/index.html && exec httpd -f -p 80 -h /w",
    ]));
    let address = podman.ok(&[
        "inspect",
        "--format",
        "{{.NetworkSettings.IPAddress}}",
        "pweb",
    ]);
    let address: Ipv4Addr = address
        .trim()
        .parse()
        .unwrap_or_else(|e| panic!("podman's container has no address ({address:?}): {e}"));
    let subnet: jolt_agent::network::Subnet = SUBNET.parse().unwrap();
    assert!(
        !subnet.is_host(address),
        "{address} is podman's, not in {SUBNET}"
    );
    assert_eq!(a.wait_for_page(18080), "podman-page\n");
    let gateway = subnet.first_host();
    // busybox nc: its static wget crashes after connecting here.
    let get = format!("printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 3 {gateway} 8080");
    let from_podman = podman.ok(&["exec", "pweb", "sh", "-c", &get]);
    assert!(
        from_podman.starts_with("HTTP/1.1 200") && from_podman.ends_with(PAGE),
        "podman's container reaches joltd's port: {from_podman:?}"
    );

    let before = others_iptables_rules(&a);
    assert!(
        before.iter().any(|l| l.contains("CNI")),
        "podman's CNI plugins made rules: {before:?}"
    );
    a.ok(["rm", "-f", "web"]);
    let (status, stderr) = a.joltd_command(&["network-rm"]);
    assert!(status.success(), "joltd network-rm: {stderr}");
    assert_eq!(others_iptables_rules(&a), before, "only jolt's rules went");
    assert!(
        !a.in_node(&["iptables-save"]).unwrap().contains("jolt"),
        "jolt's rules are gone"
    );
    assert_eq!(a.wait_for_page(18080), "podman-page\n");
}

#[test]
fn podman_beside_joltd_with_forward_accepting() {
    podman_beside_joltd("ACCEPT");
}

#[test]
fn podman_beside_joltd_with_forward_dropping() {
    podman_beside_joltd("DROP");
}

#[test]
fn without_subnet_joltd_picks_a_free_block_of_its_pool_and_keeps_it() {
    // The node already routes 10.90.0.0/16 (as podman's cni0 routes
    // 10.88.0.0/16 on a node where podman has run): the first block of
    // the pool is taken, so joltd picks the next.
    let mut a = jolt_e2e::agent::Agent::start_without_subnet(&["--debug"], |node| {
        for args in [
            &[
                "link", "add", "taken0", "type", "veth", "peer", "name", "taken1",
            ][..],
            &["addr", "add", "10.90.0.1/16", "dev", "taken0"],
            &["link", "set", "taken0", "up"],
        ] {
            let ok = std::process::Command::new("ip")
                .arg("-n")
                .arg(node.rsplit('/').next().unwrap())
                .args(args)
                .status()
                .unwrap()
                .success();
            assert!(ok, "ip {args:?}");
        }
    });
    let listed = a.ok(["-o", "json", "network", "ls"]);
    let nets: serde_json::Value = serde_json::from_str(&listed).unwrap();
    assert_eq!(nets[0]["subnet"], "10.91.0.0/16", "{listed}");
    assert_eq!(nets[0]["gateway"], "10.91.0.1");
    let table = a.ok(["network", "ls"]);
    assert!(
        table.starts_with("NAME") && table.contains("10.91.0.0/16"),
        "{table}"
    );
    a.run(&["--name", "w", "--", "sleep", "1000"]);
    assert!(address(&a, "w").to_string().starts_with("10.91."));
    let file = a.state_dir().join("networks").join(BRIDGE).join("subnet");
    let remembered = std::fs::read_to_string(&file).unwrap();
    assert_eq!(remembered.trim(), "10.91.0.0/16");

    // Kept across a restart, even once the first block is free again.
    let node = a.node_netns();
    let name = node.rsplit('/').next().unwrap().to_string();
    assert!(std::process::Command::new("ip")
        .args(["-n", &name, "link", "del", "taken0"])
        .status()
        .unwrap()
        .success());
    a.terminate();
    a.restart();
    let nets: serde_json::Value =
        serde_json::from_str(&a.ok(["-o", "json", "network", "ls"])).unwrap();
    assert_eq!(nets[0]["subnet"], "10.91.0.0/16");
    assert!(address(&a, "w").to_string().starts_with("10.91."));
    a.ok(["rm", "-f", "w"]);
}
