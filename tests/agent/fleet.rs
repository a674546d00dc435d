//! A fleet on one machine: three joltd, each with its own state, bridge,
//! subnet and node namespace, each serving `--listen` with mutual TLS on an
//! address inside its node namespace; chaosctl runs in a namespace of the
//! test's own, wired to each node by a veth pair (10.233.N.1 here,
//! 10.233.N.2 there), and drives all three with a fleet file. Nothing
//! leaves the machine. Host only.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

use jolt_e2e::agent::{chaosctl_bin, Agent};
use jolt_e2e::host::NetNs;
use jolt_e2e::runner::Output;

/// The port every node's joltd listens on.
const PORT: u16 = 7443;

/// Three agents, the client's namespace wired to each, and the files.
struct Fleet {
    agents: Vec<Agent>,
    client: NetNs,
    dir: tempfile::TempDir,
}

fn run(cmd: &mut Command) {
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{cmd:?}: {out:?}");
}

fn address(i: usize) -> String {
    format!("10.233.{i}.2:{PORT}")
}

impl Fleet {
    fn start(n: usize) -> Option<Fleet> {
        Fleet::start_with(n, &[])
    }

    /// [`Fleet::start`], each joltd given `extra` flags too.
    fn start_with(n: usize, extra: &[&str]) -> Option<Fleet> {
        if !jolt_e2e::require_root() {
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let certs = dir.path().join("certs");
        let mut args = vec![
            "certs".to_string(),
            "--dir".into(),
            certs.display().to_string(),
        ];
        for i in 0..n {
            args.extend(["--node".into(), format!("10.233.{i}.2")]);
        }
        args.extend(["--client".into(), "me".into()]);
        run(Command::new(chaosctl_bin()).args(&args));
        static FLEETS: AtomicUsize = AtomicUsize::new(0);
        let tag = FLEETS.fetch_add(1, Ordering::SeqCst);
        let client = NetNs::add(&format!("fleet-{}-{tag}", std::process::id()));
        run(Command::new("ip").args(["-n", client.name(), "link", "set", "lo", "up"]));
        let mut agents = Vec::new();
        for i in 0..n {
            let listen = [
                format!("--listen=0.0.0.0:{PORT}"),
                format!("--tls-ca={}", certs.join("ca.pem").display()),
                format!(
                    "--tls-cert={}",
                    certs.join(format!("10.233.{i}.2.pem")).display()
                ),
                format!(
                    "--tls-key={}",
                    certs.join(format!("10.233.{i}.2-key.pem")).display()
                ),
                // A subnet of its own, as separate machines may have.
                format!("--subnet=10.{}.0.0/24", 200 + i),
            ];
            let flags: Vec<&str> = listen
                .iter()
                .map(String::as_str)
                .chain(["--debug"])
                .chain(extra.iter().copied())
                .collect();
            agents.push(Agent::start_with(&flags));
            let node = agents[i].node_netns();
            let (here, there) = (format!("fl{i}"), "fleet0".to_string());
            run(Command::new("ip").args([
                "-n",
                client.name(),
                "link",
                "add",
                &here,
                "type",
                "veth",
                "peer",
                "name",
                &there,
                "netns",
                &node,
            ]));
            run(Command::new("ip").args([
                "-n",
                client.name(),
                "addr",
                "add",
                &format!("10.233.{i}.1/24"),
                "dev",
                &here,
            ]));
            run(Command::new("ip").args(["-n", client.name(), "link", "set", &here, "up"]));
            agents[i]
                .in_node(&[
                    "ip",
                    "addr",
                    "add",
                    &format!("10.233.{i}.2/24"),
                    "dev",
                    &there,
                ])
                .unwrap();
            agents[i]
                .in_node(&["ip", "link", "set", &there, "up"])
                .unwrap();
        }
        let fleet = Fleet {
            agents,
            client,
            dir,
        };
        fleet.write_file("fleet.yaml", &certs, "me", n, &[]);
        Some(fleet)
    }

    /// A fleet file at `name`: the first `n` nodes, then `extra`
    /// (name, address) ones, with client certificate `client`.
    fn write_file(
        &self,
        name: &str,
        certs: &Path,
        client: &str,
        n: usize,
        extra: &[(&str, String)],
    ) -> PathBuf {
        let mut text = format!(
            "ca: {0}/ca.pem\ncert: {0}/{client}.pem\nkey: {0}/{client}-key.pem\nnodes:\n",
            certs.display()
        );
        for i in 0..n {
            text.push_str(&format!(
                "  - {{name: node{i}, address: \"{}\"}}\n",
                address(i)
            ));
        }
        for (name, addr) in extra {
            text.push_str(&format!("  - {{name: {name}, address: \"{addr}\"}}\n"));
        }
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    /// A fleet file of node `i` alone, trusting the CA in `ca_dir` and
    /// presenting the client certificate `me` of `client_dir`.
    fn one_node_file(&self, name: &str, ca_dir: &Path, client_dir: &Path, i: usize) -> PathBuf {
        let text = format!(
            "ca: {0}/ca.pem\ncert: {1}/me.pem\nkey: {1}/me-key.pem\nnodes:\n  - {{name: node{i}, address: \"{2}\"}}\n",
            ca_dir.display(),
            client_dir.display(),
            address(i)
        );
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    /// chaosctl in the client's namespace.
    fn ctl(&self, args: &[&str]) -> Output {
        let out = Command::new("nsenter")
            .arg(format!("--net={}", self.client.path()))
            .arg(chaosctl_bin())
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        Output {
            command: format!("chaosctl {}", args.join(" ")),
            status: out.status,
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    #[track_caller]
    fn ok(&self, args: &[&str]) -> String {
        let out = self.ctl(args);
        assert!(out.status.success(), "{out:?}");
        out.stdout
    }

    fn fleet_file(&self) -> String {
        self.dir.path().join("fleet.yaml").display().to_string()
    }
}

/// Peers that connect to `--listen` and never shake hands hold none of
/// the API's connection slots: with `--max-connections 4`, ten of them
/// held open leave the Unix socket and a client with a certificate
/// answered. (Before, each took a slot for the header timeout, 30 s, and
/// the Unix socket waited behind them; 10 s is the margin here.)
#[test]
fn silent_tcp_peers_take_no_connection_slot_of_the_api() {
    let Some(f) = Fleet::start_with(1, &["--max-connections=4"]) else {
        return;
    };
    let node: std::net::SocketAddr = address(0).parse().unwrap();
    let client = std::path::PathBuf::from(f.client.path());
    let silent: Vec<_> = (0..10)
        .map(|_| jolt_e2e::http::connect(Some(&client), node).unwrap())
        .collect();
    let socket = f.agents[0].socket();
    let out = Command::new("timeout")
        .arg("10")
        .arg(chaosctl_bin())
        .arg("--socket")
        .arg(&socket)
        .arg("ps")
        .output()
        .unwrap();
    assert!(out.status.success(), "the Unix socket waited: {out:?}");
    let fleet = f.fleet_file();
    let over_tls = f.ctl(&["--fleet", &fleet, "ps"]);
    assert!(over_tls.status.success(), "{over_tls:?}");
    drop(silent);
}

#[test]
fn chaosctl_drives_three_nodes_over_mutual_tls() {
    let Some(f) = Fleet::start(3) else { return };
    let fleet = f.fleet_file();
    // A container on each node, each through that node alone.
    let certs = f.dir.path().join("certs");
    let tls = [
        format!("--tls-ca={}", certs.join("ca.pem").display()),
        format!("--tls-cert={}", certs.join("me.pem").display()),
        format!("--tls-key={}", certs.join("me-key.pem").display()),
    ];
    for i in 0..3 {
        let node = format!("--node={}", address(i));
        let name = format!("web{i}");
        let mut args: Vec<&str> = tls.iter().map(String::as_str).collect();
        args.extend([
            node.as_str(),
            "run",
            "-d",
            "--name",
            &name,
            "--",
            "sleep",
            "1000",
        ]);
        f.ok(&args);
    }
    let ps = f.ok(&["--fleet", &fleet, "ps"]);
    let lines: Vec<&str> = ps.lines().collect();
    assert!(lines[0].starts_with("NODE "), "{ps}");
    for i in 0..3 {
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with(&format!("node{i} ")) && l.contains(&format!("web{i}"))),
            "{ps}"
        );
    }
    let json: serde_json::Value =
        serde_json::from_str(&f.ok(&["--fleet", &fleet, "-o", "json", "ps"])).unwrap();
    let nodes: Vec<&str> = json
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["node"].as_str().unwrap())
        .collect();
    assert_eq!(nodes, ["node0", "node1", "node2"]);
    // Each container is on its own node only, on that node's subnet: the
    // local sockets agree.
    for (i, a) in f.agents.iter().enumerate() {
        let subnet = format!("10.{}.0.0/24", 200 + i);
        assert!(a.ok(["network", "ls"]).contains(&subnet));
        let local = a.ok(["ps"]);
        assert!(
            local.contains(&format!("web{i}")) && local.lines().count() == 2,
            "{local}"
        );
    }
    // A command for one node refuses a fleet.
    let out = f.ctl(&["--fleet", &fleet, "rm", "-f", "web0"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        out.stderr
            .contains("talks to one node at a time; 3 are given"),
        "{out:?}"
    );

    // An unreachable node is reported by name; the others still answer.
    let with_dead = f.write_file(
        "dead.yaml",
        &certs,
        "me",
        3,
        &[("ghost", "10.233.9.2:7443".into())],
    );
    let out = f.ctl(&["--fleet", with_dead.to_str().unwrap(), "ps"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        out.stderr
            .contains("node ghost: cannot reach joltd at 10.233.9.2:7443"),
        "{out:?}"
    );
    assert_eq!(
        out.stdout.lines().count(),
        4,
        "the three others answered: {out:?}"
    );

    // A client certificate from another CA, and an expired one, are
    // refused by every node, naming it.
    let other = f.dir.path().join("other");
    run(Command::new(chaosctl_bin()).args([
        "certs",
        "--dir",
        other.to_str().unwrap(),
        "--client",
        "me",
    ]));
    run(Command::new(chaosctl_bin()).args([
        "certs",
        "--dir",
        certs.to_str().unwrap(),
        "--client",
        "old",
        "--days",
        "0",
    ]));
    let foreign_file = f.one_node_file("foreign.yaml", &certs, &other, 0);
    let out = f.ctl(&["--fleet", foreign_file.to_str().unwrap(), "ps"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        out.stderr
            .contains("node node0: it refused our client certificate"),
        "{out:?}"
    );
    let expired = f.write_file("expired.yaml", &certs, "old", 1, &[]);
    let out = f.ctl(&["--fleet", expired.to_str().unwrap(), "ps"]);
    assert!(
        out.stderr
            .contains("node node0: it refused our client certificate (CertificateExpired)"),
        "{out:?}"
    );
    // And a node certificate the client's CA did not sign is refused by
    // chaosctl.
    let wrong_file = f.one_node_file("wrong-ca.yaml", &other, &certs, 1);
    let out = f.ctl(&["--fleet", wrong_file.to_str().unwrap(), "ps"]);
    assert!(
        out.stderr
            .contains("node node1: its certificate was refused: signed by another CA"),
        "{out:?}"
    );

    // A bad fleet file is named, field and all.
    let bad = f.dir.path().join("bad.yaml");
    std::fs::write(
        &bad,
        "ca: x\ncert: y\nkey: z\nnodes:\n  - {name: a, adress: \"1.2.3.4:1\"}\n",
    )
    .unwrap();
    let out = f.ctl(&["--fleet", bad.to_str().unwrap(), "ps"]);
    assert!(
        out.stderr.contains("fleet ") && out.stderr.contains("adress"),
        "{out:?}"
    );
    // A node name that is not a name (a '/' would blur which fires are
    // whose), and a node given twice.
    let certs = f.dir.path().join("certs");
    let slash = f.write_file("slash.yaml", &certs, "me", 1, &[("a/b", address(1))]);
    let out = f.ctl(&["--fleet", slash.to_str().unwrap(), "ps"]);
    assert!(out.stderr.contains("nodes[1]: name \"a/b\""), "{out:?}");
    let tls = |file: &str| certs.join(file).display().to_string();
    let (ca, cert, key) = (tls("ca.pem"), tls("me.pem"), tls("me-key.pem"));
    let twice = [
        "--tls-ca",
        &ca,
        "--tls-cert",
        &cert,
        "--tls-key",
        &key,
        "--node",
        &address(0),
        "--node",
        &address(0),
        "ps",
    ];
    let out = f.ctl(&twice);
    assert!(out.stderr.contains("given twice"), "{out:?}");
    for (i, a) in f.agents.iter().enumerate() {
        a.ok(["rm", "-f", &format!("web{i}")]);
    }
}

/// A fleet experiment's status per node, from `get -o json`.
fn parts(f: &Fleet, name: &str) -> Vec<serde_json::Value> {
    let out = f.ctl(&["--fleet", &f.fleet_file(), "-o", "json", "get", name]);
    serde_json::from_str::<serde_json::Value>(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {out:?}"))
        .as_array()
        .unwrap()
        .clone()
}

/// The targets of the active faults of a node's part.
fn active(part: &serde_json::Value) -> Vec<String> {
    part["active"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["target"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn a_fleet_experiment_picks_across_nodes_and_each_node_reverts_its_own() {
    let Some(mut f) = Fleet::start(3) else { return };
    let fleet = f.fleet_file();
    for (i, a) in f.agents.iter().enumerate() {
        a.run(&[
            "--name",
            &format!("web{i}"),
            "--label",
            "app=web",
            "--",
            "sleep",
            "1000",
        ]);
    }
    let write = |name: &str, mode: &str| {
        let path = f.dir.path().join(format!("{name}.yaml"));
        std::fs::write(
            &path,
            format!(
                "name: {name}\nseed: 42\ntargets: {{labels: {{app: web}}, mode: {mode}}}\nschedule: {{at: [0s]}}\nduration: 2m\nfault: {{kind: pause, duration: 90s}}\n"
            ),
        )
        .unwrap();
        path.display().to_string()
    };
    // mode one with a seed: the dry run names the node, and the run hits
    // that node's container and no other.
    let one = write("fleet-one", "one");
    let plan = f.ok(&["--fleet", &fleet, "apply", "-f", &one, "--dry-run"]);
    assert!(plan.contains("1 fires"), "{plan}");
    let planned = (0..3)
        .find(|i| plan.contains(&format!("on node{i}/web{i}")))
        .unwrap_or_else(|| panic!("no node/container in the plan: {plan}"));
    assert_eq!(
        plan,
        f.ok(&["--fleet", &fleet, "apply", "-f", &one, "--dry-run"]),
        "the seed fixes it"
    );
    let started = f.ok(&["--fleet", &fleet, "apply", "-f", &one]);
    assert!(
        started.contains(&format!("node: node{planned}")),
        "{started}"
    );
    let got = jolt_e2e::wait_until("the planned fault", jolt_e2e::timeout(), || {
        let parts = parts(&f, "fleet-one");
        (parts.len() == 1 && active(&parts[0]) == [format!("web{planned}")]).then_some(parts)
    });
    assert_eq!(got[0]["node"], format!("node{planned}"));
    f.ok(&["--fleet", &fleet, "abort", "fleet-one"]);
    // Its timeline and report, named by node.
    let events = f.ok(&["--fleet", &fleet, "events", "fleet-one"]);
    assert!(
        events
            .lines()
            .all(|l| l.starts_with(&format!("node{planned} ")))
            && events.contains("injected"),
        "{events}"
    );
    let report: serde_json::Value =
        serde_json::from_str(&f.ok(&["--fleet", &fleet, "-o", "json", "report", "fleet-one"]))
            .unwrap();
    assert_eq!(
        report["schema"], "jolt.report/v1",
        "one node has it: its report as it is"
    );

    // A node that cannot be reached: with on-failure: continue the others
    // start (and the node is named), with stop nothing starts.
    let certs = f.dir.path().join("certs");
    let ghost = f.write_file(
        "ghost.yaml",
        &certs,
        "me",
        3,
        &[("ghost", "10.233.9.2:7443".into())],
    );
    let ghost = ghost.to_str().unwrap();
    let goes_on = write("fleet-goes-on", "one");
    let out = f.ctl(&["--fleet", ghost, "apply", "-f", &goes_on]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        out.stderr.contains("node ghost: cannot reach joltd"),
        "{out:?}"
    );
    assert!(
        out.stdout.contains("node: node"),
        "another node started: {out:?}"
    );
    f.ok(&["--fleet", &fleet, "abort", "fleet-goes-on"]);
    let stops = f.dir.path().join("fleet-stops.yaml");
    std::fs::write(
        &stops,
        "name: fleet-stops\ntargets: {labels: {app: web}}\nschedule: {at: [0s]}\nduration: 1m\non-failure: stop\nfault: {kind: pause, duration: 30s}\n",
    )
    .unwrap();
    let out = f.ctl(&["--fleet", ghost, "apply", "-f", stops.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(out.stderr.contains("nothing was started"), "{out:?}");
    let out = f.ctl(&["--fleet", &fleet, "get", "fleet-stops"]);
    assert!(out.stderr.contains("no such experiment"), "{out:?}");

    // A percentage of the fleet's matching containers: two of three, on
    // two nodes, each node faulting its own.
    let half = write("fleet-half", "{percent: 50}");
    let plan = f.ok(&["--fleet", &fleet, "apply", "-f", &half, "--dry-run"]);
    let hit: Vec<usize> = (0..3)
        .filter(|i| plan.contains(&format!("node{i}/web{i}")))
        .collect();
    assert_eq!(hit.len(), 2, "{plan}");
    f.ok(&["--fleet", &fleet, "apply", "-f", &half]);
    let parts_now = jolt_e2e::wait_until("both faults", jolt_e2e::timeout(), || {
        let parts = parts(&f, "fleet-half");
        (parts.len() == 2 && parts.iter().all(|p| active(p).len() == 1)).then_some(parts)
    });
    let nodes: Vec<&str> = parts_now
        .iter()
        .map(|p| p["node"].as_str().unwrap())
        .collect();
    assert_eq!(
        nodes,
        hit.iter().map(|i| format!("node{i}")).collect::<Vec<_>>()
    );

    // kill -9 of one of those nodes' joltd: its restart reverts its fault
    // (the journal), the other node's fault stays until its time.
    let (dead, alive) = (hit[0], hit[1]);
    f.agents[dead].kill9();
    f.agents[dead].restart();
    let parts_after = jolt_e2e::wait_until(
        "the dead node's part interrupted",
        jolt_e2e::timeout(),
        || {
            let parts = parts(&f, "fleet-half");
            let dead_part = parts.iter().find(|p| p["node"] == format!("node{dead}"))?;
            (dead_part["phase"] == "interrupted" && active(dead_part).is_empty()).then_some(parts)
        },
    );
    let alive_part = parts_after
        .iter()
        .find(|p| p["node"] == format!("node{alive}"))
        .unwrap();
    assert_eq!(alive_part["phase"], "running", "{alive_part}");
    assert_eq!(active(alive_part), [format!("web{alive}")], "{alive_part}");
    let log = f.agents[dead].joltd_log();
    assert!(log.contains("revert") || log.contains("replay"), "{log}");
    // Abort reaches the part still running (the interrupted one is done).
    f.ctl(&["--fleet", &fleet, "abort", "fleet-half"]);
    let alive_part = parts(&f, "fleet-half")
        .into_iter()
        .find(|p| p["node"] == format!("node{alive}"))
        .unwrap();
    assert_eq!(alive_part["phase"], "aborted", "{alive_part}");
    assert!(active(&alive_part).is_empty());
    for (i, a) in f.agents.iter().enumerate() {
        a.ok(["rm", "-f", &format!("web{i}")]);
    }
}
