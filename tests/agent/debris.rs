//! What a joltd killed mid-write leaves, and what a lost state leaves in
//! the kernel: the next joltd clears the first at start (saying what it
//! removed), and reconciles the second (reporting an orphan container,
//! never killing it) at start and on `chaosctl system prune`.
//!
//! In the VM too (scripts/test's VM_TESTS): the lost record, whose
//! reconcile reads the unified cgroup's pids.

use std::fs;
use std::path::Path;

use jolt_e2e::agent::Agent;

use crate::agent;

/// Writes `name` in `dir` (made if missing) with a torn JSON text.
fn torn(dir: &Path, name: &str) {
    fs::create_dir_all(dir).unwrap();
    fs::write(dir.join(name), b"{\"name\": \"hal").unwrap();
}

/// Asserts that joltd's log names `path` as removed.
#[track_caller]
fn logged_removal(a: &Agent, path: &Path) {
    let log = a.joltd_log();
    let line = log
        .lines()
        .find(|l| l.contains(&*path.to_string_lossy()) && l.contains("removed"));
    assert!(
        line.is_some(),
        "no removal of {} in:\n{log}",
        path.display()
    );
}

#[test]
fn what_a_joltd_killed_mid_write_left_is_cleared_at_the_next_start() {
    let Some(mut a) = agent() else { return };
    a.run(&["--name", "calm", "--", "sleep", "1000"]);
    a.kill9();
    // What a kill -9 in the first instants of `apply`, of `run`, and in a
    // journal write leaves: the temp file, never renamed into place.
    let state = a.state_dir();
    let experiment = state.join("experiments/nap");
    torn(&experiment, ".experiment.yaml.tmp");
    let yaml_only = state.join("experiments/half");
    torn(&yaml_only, "experiment.yaml");
    torn(&yaml_only, ".record.json.tmp");
    let container = state.join("containers/0123456789ab");
    torn(&container, ".container.json.tmp");
    let journal: Vec<_> = (0..3)
        .map(|n| state.join(format!("journal/.nap-{n}-x.json.tmp")))
        .collect();
    for path in &journal {
        torn(
            path.parent().unwrap(),
            &path.file_name().unwrap().to_string_lossy(),
        );
    }

    a.restart();
    for path in [&experiment, &yaml_only, &container]
        .into_iter()
        .chain(&journal)
    {
        assert!(!path.exists(), "{} is left", path.display());
        logged_removal(&a, path);
    }
    // The names are free again; the container that ran is still there.
    let yaml = a.path("nap.yaml");
    fs::write(
        &yaml,
        "name: nap\ntargets: {names: [calm]}\nschedule: {at: [0s]}\nfault: {kind: pause, duration: 1s}\n",
    )
    .unwrap();
    a.ok(["apply", "-f", &yaml.to_string_lossy()]);
    assert!(a.ok(["experiments"]).contains("nap"));
    assert!(!a.ok(["ps", "-a"]).contains("0123456789ab"));
    assert_eq!(a.inspect("calm")["status"]["state"], "running");
}

/// The host veths in the node namespace.
fn veths(a: &Agent) -> Vec<String> {
    let links = a.in_node(&["ip", "-o", "link", "show"]).unwrap();
    links
        .lines()
        .filter_map(|l| l.split(": ").nth(1))
        .map(|n| n.split('@').next().unwrap().to_string())
        .filter(|n| n.starts_with("jv"))
        .collect()
}

/// The names of the entries of `dir` (none when it is missing).
fn names(dir: &Path) -> Vec<String> {
    let mut out: Vec<String> = fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    out.sort();
    out
}

/// The container IDs that leases, namespace files, veths, rules,
/// joltd's directories and jolt's state name.
fn traces(a: &Agent) -> Vec<String> {
    let mut all: Vec<String> = a
        .network()
        .leases()
        .unwrap()
        .into_iter()
        .map(|l| format!("lease {} {}", l.container, l.address))
        .collect();
    all.extend(
        names(&a.netns_dir())
            .into_iter()
            .map(|n| format!("netns {n}")),
    );
    all.extend(veths(a).into_iter().map(|n| format!("veth {n}")));
    let mut comments = a.rule_comments();
    comments.sort();
    comments.dedup();
    all.extend(comments.into_iter().map(|c| format!("rules {c}")));
    let containers = a.state_dir().join("containers");
    all.extend(names(&containers).into_iter().map(|n| format!("dir {n}")));
    all.extend(
        names(&a.jolt_root())
            .into_iter()
            .map(|n| format!("jolt {n}")),
    );
    all
}

/// Forgets the lease of `id` behind joltd's back, as a lost leases file
/// does.
fn forget_lease(a: &Agent, id: &str) {
    let path = a.state_dir().join("networks/jtest0/leases.json");
    let mut leases: serde_json::Value = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
    leases["leases"]
        .as_array_mut()
        .unwrap()
        .retain(|l| l["container"] != id);
    fs::write(&path, serde_json::to_vec(&leases).unwrap()).unwrap();
}

#[test]
fn a_run_that_fails_on_a_port_the_firewall_still_holds_leaves_nothing() {
    let Some(a) = agent() else { return };
    let first = a.run(&["--name", "first", "-p", "8080:80", "--", "sleep", "1000"]);
    // Its lease lost: the next run may take its port (and, once the
    // allocation wraps, its address), which its firewall rules still hold.
    forget_lease(&a, &first);
    let before = traces(&a);
    let out = a.ctl([
        "run", "-d", "--name", "second", "-p", "8080:80", "--", "sleep", "1000",
    ]);
    out.assert_failure();
    assert!(out.stderr.contains("File exists"), "{out}");
    assert_eq!(traces(&a), before, "the failed run left something");
    // rm finds the first one's rules without its lease; then the port
    // and the address are free.
    a.ok(["rm", "-f", "first"]);
    a.assert_gone(&first, None);
    let second = a.run(&["--name", "second", "-p", "8080:80", "--", "sleep", "1000"]);
    assert_eq!(a.inspect("second")["status"]["state"], "running");
    a.ok(["rm", "-f", "second"]);
    a.assert_gone(&second, None);
}

#[test]
fn a_container_whose_record_was_lost_is_reported_never_killed_and_pruned_on_demand() {
    let Some(mut a) = agent() else { return };
    let lost = a.run(&["--name", "lost", "-p", "8080:80", "--", "sleep", "1000"]);
    let pid = a.inspect("lost")["status"]["pid"].as_i64().unwrap() as i32;
    let address = a.inspect("lost")["status"]["address"]
        .as_str()
        .unwrap()
        .to_string();
    let gone = a.run(&["--name", "gone", "--", "sleep", "1000"]);
    let gone_pid = a.inspect("gone")["status"]["pid"].as_i64().unwrap() as i32;
    // joltd's state is lost; the kernel's is not. One of the two ends
    // meanwhile.
    a.terminate();
    for id in [&lost, &gone] {
        fs::remove_dir_all(a.state_dir().join("containers").join(id)).unwrap();
    }
    fs::remove_file(a.state_dir().join("networks/jtest0/leases.json")).unwrap();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(gone_pid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    jolt_e2e::wait_until("gone's init to die", jolt_e2e::timeout(), || {
        (!jolt_e2e::host::alive(gone_pid)).then_some(())
    });
    a.restart();
    // What nothing runs in any more is removed at start, saying so.
    a.assert_gone(&gone, Some(gone_pid));
    let log = a.joltd_log();
    assert!(
        log.lines()
            .any(|l| l.contains(&gone) && l.contains("removed")),
        "the removal is not logged:\n{log}"
    );

    let log = a.joltd_log();
    assert!(
        log.lines()
            .any(|l| l.contains(&lost) && l.contains("runs without a record")),
        "the orphan is not reported:\n{log}"
    );
    assert!(jolt_e2e::host::alive(pid), "the orphan was killed at start");
    assert!(!a.ok(["ps", "-a"]).contains(&lost));
    // A new container gets another address, and the port stays the
    // orphan's.
    let refused = a.ctl([
        "run", "-d", "--name", "taker", "-p", "8080:80", "--", "sleep", "1000",
    ]);
    refused.assert_failure();
    assert!(
        refused.stderr.contains("already published by container"),
        "{refused}"
    );
    let fresh = a.run(&["--name", "fresh", "-p", "8081:80", "--", "sleep", "1000"]);
    let fresh_address = a.inspect("fresh")["status"]["address"].clone();
    assert_ne!(
        fresh_address,
        address.as_str(),
        "the orphan's address was reused"
    );

    let report: serde_json::Value =
        serde_json::from_str(&a.ok(["-o", "json", "system", "prune"])).unwrap();
    let of = |list: &str, what: &str| {
        report[list]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["container"] == lost.as_str() && f["what"] == what)
    };
    for what in ["lease", "netns", "veth", "firewall rules"] {
        assert!(of("removed", what), "{what} not removed: {report:#}");
    }
    assert!(
        of("reported", "process"),
        "the process is not reported: {report:#}"
    );
    assert!(jolt_e2e::host::alive(pid), "prune killed the orphan");
    a.assert_network_gone(&lost);
    // The container joltd knows is untouched.
    assert_eq!(a.inspect("fresh")["status"]["state"], "running");
    assert!(a
        .network()
        .leases()
        .unwrap()
        .iter()
        .any(|l| l.container == fresh));
    // Nothing more to remove; the process is still reported.
    let again: serde_json::Value =
        serde_json::from_str(&a.ok(["-o", "json", "system", "prune"])).unwrap();
    assert_eq!(again["removed"], serde_json::json!([]), "{again:#}");
    a.ok(["rm", "-f", "fresh"]);
    a.assert_gone(&fresh, None);
}
