//! The container lifecycle as runc users know it: create, state, start,
//! kill, delete, run (foreground and detached), list, and the errors for
//! doing these in the wrong order.

use std::fs;
use std::path::Path;

use jolt_e2e::host::{alive, processes_rooted_in};
use jolt_e2e::{require_root, wait_until, Jolt};
use nix::sys::signal::Signal;
use serde_json::{json, Value};

/// create + start a container running `sleep 1000`.
fn running_sleeper(jolt: &Jolt, name: &str) -> String {
    let bundle = jolt.bundle().args(&["sleep", "1000"]);
    let id = jolt.id(name);
    jolt.ok(["create", "--bundle", bundle.dir(), &id]);
    jolt.ok(["start", &id]);
    jolt.wait_for_status(&id, "running");
    id
}

/// Waits until `pid` is gone (or a zombie).
fn wait_dead(pid: i32) {
    wait_until(
        format_args!("pid {pid} to die"),
        jolt_e2e::timeout(),
        || (!alive(pid)).then_some(()),
    );
}

#[test]
fn create_start_kill_delete() {
    if !require_root() {
        return;
    }
    let jolt = Jolt::new();
    let bundle = jolt
        .bundle()
        .args(&["sleep", "1000"])
        .with(|c| c["annotations"] = json!({ "org.example.e2e": "lifecycle" }));
    let id = jolt.id("lifecycle");
    let pid_file = jolt.host_path("pid");

    jolt.ok([
        "create",
        "--bundle",
        bundle.dir(),
        "--pid-file",
        pid_file.to_str().unwrap(),
        &id,
    ]);

    let state = jolt.state(&id);
    assert_eq!(state["id"], json!(id), "{state}");
    assert_eq!(state["status"], json!("created"), "{state}");
    assert!(state["ociVersion"].is_string(), "{state}");
    assert!(
        state["created"].as_str().is_some_and(|s| !s.is_empty()),
        "{state}"
    );
    assert_eq!(Path::new(state["bundle"].as_str().unwrap()), bundle.path());
    assert_eq!(
        Path::new(state["rootfs"].as_str().unwrap()),
        bundle.rootfs(),
        "{state}"
    );
    assert_eq!(
        state["annotations"]["org.example.e2e"],
        json!("lifecycle"),
        "{state}"
    );
    let pid = state["pid"].as_i64().expect("pid") as i32;
    assert!(pid > 0, "{state}");
    assert!(alive(pid), "init {pid} waits while created");
    assert_eq!(
        fs::read_to_string(&pid_file).unwrap().trim(),
        pid.to_string()
    );
    let state_dir = jolt.root().join(&id);
    assert!(state_dir.join("state.json").is_file());
    assert!(
        state_dir.join("exec.fifo").exists(),
        "exec.fifo while created"
    );

    jolt.ok(["start", &id]);
    jolt.wait_for_status(&id, "running");
    assert_eq!(jolt.pid(&id), pid, "start execs in the same process");
    assert!(alive(pid));
    assert!(
        !state_dir.join("exec.fifo").exists(),
        "exec.fifo gone once started"
    );

    jolt.ok(["kill", &id, "KILL"]);
    jolt.wait_for_status(&id, "stopped");
    wait_dead(pid);
    jolt.fails(["kill", &id, "KILL"])
        .assert_stderr_contains("container not running");

    jolt.ok(["delete", &id]);
    jolt.assert_clean(&id);
    jolt.fails(["state", &id])
        .assert_stderr_contains("does not exist");
}

#[test]
fn list_shows_containers_as_table_json_and_ids() {
    if !require_root() {
        return;
    }
    let jolt = Jolt::new();
    let bundle = jolt.bundle().args(&["sleep", "1000"]);
    let created = jolt.id("list-created");
    jolt.ok(["create", "--bundle", bundle.dir(), &created]);
    let running = running_sleeper(&jolt, "list-running");

    let table = jolt.ok(["list"]).stdout;
    let header = table.lines().next().unwrap_or_default();
    for column in ["ID", "PID", "STATUS", "BUNDLE", "CREATED"] {
        assert!(
            header.contains(column),
            "list header has {column}:\n{table}"
        );
    }
    for (id, status) in [(&created, "created"), (&running, "running")] {
        let row = table
            .lines()
            .find(|l| l.split_whitespace().next() == Some(id.as_str()))
            .unwrap_or_else(|| panic!("list has a row for {id}:\n{table}"));
        assert!(row.contains(status), "{id} is {status}: {row}");
        assert!(row.contains(&jolt.pid(id).to_string()), "{row}");
    }

    let json_out = jolt.ok(["list", "--format", "json"]).stdout;
    let list: Value = serde_json::from_str(&json_out).expect("list json is JSON");
    for (id, status) in [(&created, "created"), (&running, "running")] {
        let entry = list
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["id"] == json!(id))
            .unwrap_or_else(|| panic!("{id} in {json_out}"));
        assert_eq!(entry["status"], json!(status), "{entry}");
        assert_eq!(entry["pid"], json!(jolt.pid(id)), "{entry}");
        assert_eq!(entry["bundle"], jolt.state(id)["bundle"], "{entry}");
    }

    let quiet = jolt.ok(["list", "-q"]).stdout;
    let mut ids: Vec<&str> = quiet.lines().collect();
    ids.sort();
    let mut want = vec![created.as_str(), running.as_str()];
    want.sort();
    assert_eq!(ids, want, "list -q prints exactly the IDs");

    for id in [&created, &running] {
        jolt.ok(["delete", "--force", id]);
        jolt.assert_clean(id);
    }
    assert_eq!(jolt.ok(["list", "-q"]).stdout.trim(), "");
}

#[test]
fn run_exits_with_the_container_status() {
    if !require_root() {
        return;
    }
    let jolt = Jolt::new();
    let bundle = jolt
        .bundle()
        .sh("echo hello from the container; echo and to stderr >&2; exit 3");
    let id = jolt.id("run-exit");

    let out = jolt.run(["run", "--bundle", bundle.dir(), &id]);
    out.assert_code(3)
        .assert_stdout_contains("hello from the container")
        .assert_stderr_contains("and to stderr");

    jolt.assert_clean(&id);
    jolt.fails(["state", &id])
        .assert_stderr_contains("does not exist");
}

#[test]
fn run_reports_death_by_signal_as_128_plus_n() {
    if !require_root() {
        return;
    }
    let jolt = Jolt::new();
    // Without a pid namespace the shell is not an init, so SIGKILL from
    // itself is delivered.
    let bundle = jolt.bundle().without_namespace("pid").sh("kill -9 $$");
    let id = jolt.id("run-sigkill");

    jolt.run(["run", "--bundle", bundle.dir(), &id])
        .assert_code(137);
    jolt.assert_clean(&id);
}

#[test]
fn run_forwards_signals_to_the_container() {
    if !require_root() {
        return;
    }
    let jolt = Jolt::new();
    let bundle = jolt
        .bundle()
        .sh("trap 'echo got TERM; exit 42' TERM; echo ready; while true; do sleep 0.1; done");
    let id = jolt.id("run-forward");

    let run = jolt.spawn(["run", "--bundle", bundle.dir(), &id]);
    run.wait_for_stdout("ready");
    run.signal(Signal::SIGTERM);
    let out = run.wait();
    out.assert_code(42).assert_stdout_contains("got TERM");
    jolt.assert_clean(&id);
}

#[test]
fn run_killed_from_outside_exits_137() {
    if !require_root() {
        return;
    }
    let jolt = Jolt::new();
    let bundle = jolt.bundle().sh("echo ready; sleep 1000");
    let id = jolt.id("run-killed");

    let run = jolt.spawn(["run", "--bundle", bundle.dir(), &id]);
    run.wait_for_stdout("ready");
    jolt.ok(["kill", &id, "KILL"]);
    run.wait().assert_code(137);
    jolt.assert_clean(&id);
}

#[test]
fn run_uses_the_current_directory_as_bundle() {
    if !require_root() {
        return;
    }
    let jolt = Jolt::new();
    let bundle = jolt.bundle().sh("echo bundle from cwd");
    let id = jolt.id("run-cwd");

    jolt.run_in(bundle.path(), ["run", &id])
        .assert_success()
        .assert_stdout_contains("bundle from cwd");
    jolt.assert_clean(&id);
}

#[test]
fn run_detach_then_kill_and_delete() {
    if !require_root() {
        return;
    }
    let jolt = Jolt::new();
    let bundle = jolt.bundle().sh("echo detached; exec sleep 1000");
    let id = jolt.id("run-detach");
    let pid_file = jolt.host_path("pid");

    jolt.ok([
        "run",
        "--detach",
        "--pid-file",
        pid_file.to_str().unwrap(),
        "--bundle",
        bundle.dir(),
        &id,
    ]);
    assert_eq!(jolt.status(&id), "running");
    let pid = jolt.pid(&id);
    assert_eq!(
        fs::read_to_string(&pid_file).unwrap().trim(),
        pid.to_string()
    );
    jolt.wait_for_stdout(&id, "detached");

    jolt.ok(["kill", &id, "KILL"]);
    jolt.wait_for_status(&id, "stopped");
    jolt.ok(["delete", &id]);
    jolt.assert_clean(&id);
    assert!(!alive(pid));
}

#[test]
fn kill_accepts_signal_names_and_numbers() {
    if !require_root() {
        return;
    }
    let jolt = Jolt::new();
    let bundle = jolt.bundle().sh(
        "trap 'echo got USR1' USR1; trap 'echo got TERM' TERM; echo ready; \
         while true; do sleep 0.1; done",
    );
    let id = jolt.id("kill-names");
    jolt.ok(["create", "--bundle", bundle.dir(), &id]);
    jolt.ok(["start", &id]);
    jolt.wait_for_stdout(&id, "ready");

    jolt.ok(["kill", &id, "SIGUSR1"]);
    jolt.wait_for_stdout(&id, "got USR1");
    jolt.ok(["kill", &id]);
    jolt.wait_for_stdout(&id, "got TERM");
    assert_eq!(jolt.status(&id), "running", "the trap kept it alive");
    jolt.ok(["delete", "--force", &id]);
    jolt.assert_clean(&id);

    for signal in ["KILL", "SIGKILL", "9"] {
        let id = running_sleeper(&jolt, "kill-kill");
        let pid = jolt.pid(&id);
        jolt.ok(["kill", &id, signal]);
        jolt.wait_for_status(&id, "stopped");
        wait_dead(pid);
        jolt.ok(["delete", &id]);
        jolt.assert_clean(&id);
    }
}

#[test]
fn kill_all_signals_every_process_in_the_container() {
    if !require_root() {
        return;
    }
    let jolt = Jolt::new();
    // No pid namespace: the background sleeps would outlive the shell if
    // --all did not reach them.
    let bundle = jolt
        .bundle()
        .without_namespace("pid")
        .sh("sleep 1000 & sleep 1000 & echo ready; wait");
    let id = jolt.id("kill-all");
    jolt.ok(["create", "--bundle", bundle.dir(), &id]);
    jolt.ok(["start", &id]);
    jolt.wait_for_stdout(&id, "ready");
    let rootfs = jolt.rootfs_of(&id);
    let pids = wait_until("3 processes in the container", jolt_e2e::timeout(), || {
        let pids = processes_rooted_in(&rootfs);
        (pids.len() >= 3).then_some(pids)
    });

    jolt.ok(["kill", "--all", &id, "KILL"]);
    for pid in &pids {
        wait_dead(*pid);
    }
    jolt.wait_for_status(&id, "stopped");
    jolt.ok(["delete", &id]);
    jolt.assert_clean(&id);
}

#[test]
fn delete_of_a_running_container_needs_force() {
    if !require_root() {
        return;
    }
    let jolt = Jolt::new();
    let id = running_sleeper(&jolt, "delete-running");
    let pid = jolt.pid(&id);

    jolt.fails(["delete", &id])
        .assert_stderr_contains("not stopped");
    assert_eq!(jolt.status(&id), "running");
    assert!(alive(pid));

    jolt.ok(["delete", "--force", &id]);
    wait_dead(pid);
    jolt.assert_clean(&id);
}

/// runc deletes a created (never started) container without --force, and
/// containerd relies on it when a task is deleted before it starts.
#[test]
fn delete_of_a_created_container_kills_its_init() {
    if !require_root() {
        return;
    }
    let jolt = Jolt::new();
    let bundle = jolt.bundle().args(&["sleep", "1000"]);
    let id = jolt.id("delete-created");
    jolt.ok(["create", "--bundle", bundle.dir(), &id]);
    let pid = jolt.pid(&id);

    jolt.ok(["delete", &id]);
    wait_dead(pid);
    jolt.assert_clean(&id);
}

#[test]
fn start_twice_fails() {
    if !require_root() {
        return;
    }
    let jolt = Jolt::new();
    let id = running_sleeper(&jolt, "start-twice");

    jolt.fails(["start", &id]);
    assert_eq!(
        jolt.status(&id),
        "running",
        "a second start changes nothing"
    );

    jolt.ok(["kill", &id, "KILL"]);
    jolt.wait_for_status(&id, "stopped");
    jolt.fails(["start", &id]);
    jolt.ok(["delete", &id]);
    jolt.assert_clean(&id);
}

#[test]
fn unknown_container_does_not_exist() {
    if !require_root() {
        return;
    }
    let jolt = Jolt::new();
    let id = jolt.id("never-created");
    for args in [
        vec!["state", &id],
        vec!["start", &id],
        vec!["kill", &id, "KILL"],
        vec!["delete", &id],
    ] {
        jolt.fails(&args).assert_stderr_contains("does not exist");
    }
    jolt.assert_root_empty();
}

/// runc treats `delete --force` of a missing container as done, so
/// cleanup by containerd is idempotent.
#[test]
fn delete_force_of_unknown_container_succeeds() {
    if !require_root() {
        return;
    }
    let jolt = Jolt::new();
    let id = jolt.id("never-created");
    jolt.ok(["delete", "--force", &id]);
    jolt.assert_root_empty();
}
