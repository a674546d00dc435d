//! The container lifecycle as runc users know it: create, state, start,
//! kill, delete, run (foreground and detached), list, and the errors for
//! doing these in the wrong order; state and kill that never wait behind
//! a slow create, state into a closed pipe, and big annotations.
//!
//! In the VM too (scripts/test's VM_TESTS): kill --all, run --keep and
//! the delete of a blocked init, which take cgroup v2 paths there.

use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};

use jolt_e2e::bundle::sh_hook;
use jolt_e2e::host::{alive, cgroup_dirs_of, cgroup_pids, processes_rooted_in};
use jolt_e2e::{session, wait_until, Jolt, Output};
use nix::sys::signal::Signal;
use serde_json::{json, Value};

/// create + start a container running `sleep 1000`.
fn running_sleeper(jolt: &Jolt, name: &str) -> String {
    let bundle = jolt.bundle().sleeper();
    let id = jolt.id(name);
    jolt.create_and_start(&id, &bundle);
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

/// `jolt delete --force ID`, then waits for its init `pid` to die and
/// asserts that nothing is left behind.
fn force_delete_reaping(jolt: &Jolt, id: &str, pid: i32) {
    jolt.ok(["delete", "--force", id]);
    wait_dead(pid);
    jolt.assert_clean(id);
}

#[test]
fn create_start_kill_delete() {
    let Some(jolt) = session() else { return };
    let bundle = jolt
        .bundle()
        .sleeper()
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

    jolt.kill_until_stopped(&id, "KILL");
    wait_dead(pid);
    jolt.fails(["kill", &id, "KILL"])
        .assert_stderr_contains("container not running");

    jolt.delete(&id);
    jolt.assert_unknown(&id);
}

#[test]
fn list_shows_containers_as_table_json_and_ids() {
    let Some(jolt) = session() else { return };
    let bundle = jolt.bundle().sleeper();
    let created = jolt.id("list-created");
    jolt.create(&created, &bundle);
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
        jolt.force_delete(id);
    }
    assert_eq!(jolt.ok(["list", "-q"]).stdout.trim(), "");
}

#[test]
fn run_exits_with_the_container_status() {
    let Some(jolt) = session() else { return };
    let bundle = jolt
        .bundle()
        .sh("echo hello from the container; echo and to stderr >&2; exit 3");
    let id = jolt.id("run-exit");

    let out = jolt.run_container(&id, &bundle);
    out.assert_code(3)
        .assert_stdout_contains("hello from the container")
        .assert_stderr_contains("and to stderr");

    jolt.assert_clean(&id);
    jolt.assert_unknown(&id);
}

/// `run --keep`, as with runc: the container stays, stopped, with its
/// cgroup, until `delete`; it does not go with `--detach`.
#[test]
fn run_keep_leaves_the_container_stopped_with_its_cgroup() {
    let Some(jolt) = session() else { return };
    let bundle = jolt.bundle().sh("exit 3");
    let id = jolt.id("run-keep");
    jolt.run(["run", "--keep", "--bundle", bundle.dir(), &id])
        .assert_code(3);
    assert_eq!(jolt.status(&id), "stopped");
    let dirs = jolt_e2e::host::cgroup_dirs_of(&jolt.cgroup_path(&id));
    assert!(
        !dirs.is_empty() && dirs.iter().all(|d| d.is_dir()),
        "its cgroup stays: {dirs:?}"
    );
    jolt.ok(["delete", &id]);
    jolt.assert_clean(&id);
    jolt.assert_unknown(&id);

    let out = jolt.run(["run", "--keep", "--detach", "--bundle", bundle.dir(), &id]);
    assert_ne!(out.code(), 0, "--keep with --detach: {out}");
    jolt.assert_unknown(&id);
}

#[test]
fn run_reports_death_by_signal_as_128_plus_n() {
    let Some(jolt) = session() else { return };
    // Without a pid namespace the shell is not an init, so SIGKILL from
    // itself is delivered.
    let bundle = jolt.bundle().without_namespace("pid").sh("kill -9 $$");
    let id = jolt.id("run-sigkill");

    jolt.run_container(&id, &bundle).assert_code(137);
    jolt.assert_clean(&id);
}

#[test]
fn run_forwards_signals_to_the_container() {
    let Some(jolt) = session() else { return };
    let bundle = jolt
        .bundle()
        .sh("trap 'echo got TERM; exit 42' TERM; echo ready; while true; do sleep 0.1; done");
    let id = jolt.id("run-forward");

    let run = jolt.spawn_until_ready(&id, &bundle);
    run.signal(Signal::SIGTERM);
    let out = run.wait();
    out.assert_code(42).assert_stdout_contains("got TERM");
    jolt.assert_clean(&id);
}

#[test]
fn run_killed_from_outside_exits_137() {
    let Some(jolt) = session() else { return };
    let bundle = jolt.bundle().sh("echo ready; sleep 1000");
    let id = jolt.id("run-killed");

    let run = jolt.spawn_until_ready(&id, &bundle);
    jolt.ok(["kill", &id, "KILL"]);
    run.wait().assert_code(137);
    jolt.assert_clean(&id);
}

#[test]
fn run_uses_the_current_directory_as_bundle() {
    let Some(jolt) = session() else { return };
    let bundle = jolt.bundle().sh("echo bundle from cwd");
    let id = jolt.id("run-cwd");

    jolt.run_in(bundle.path(), ["run", &id])
        .assert_success()
        .assert_stdout_contains("bundle from cwd");
    jolt.assert_clean(&id);
}

#[test]
fn run_detach_then_kill_and_delete() {
    let Some(jolt) = session() else { return };
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

    jolt.kill_until_stopped(&id, "KILL");
    jolt.delete(&id);
    assert!(!alive(pid));
}

#[test]
fn kill_accepts_signal_names_and_numbers() {
    let Some(jolt) = session() else { return };
    let bundle = jolt.bundle().sh(
        "trap 'echo got USR1' USR1; trap 'echo got TERM' TERM; echo ready; \
         while true; do sleep 0.1; done",
    );
    let id = jolt.id("kill-names");
    jolt.create_and_start(&id, &bundle);
    jolt.wait_for_stdout(&id, "ready");

    jolt.ok(["kill", &id, "SIGUSR1"]);
    jolt.wait_for_stdout(&id, "got USR1");
    jolt.ok(["kill", &id]);
    jolt.wait_for_stdout(&id, "got TERM");
    assert_eq!(jolt.status(&id), "running", "the trap kept it alive");
    jolt.force_delete(&id);

    for signal in ["KILL", "SIGKILL", "9"] {
        let id = running_sleeper(&jolt, "kill-kill");
        let pid = jolt.pid(&id);
        jolt.kill_until_stopped(&id, signal);
        wait_dead(pid);
        jolt.delete(&id);
    }
}

#[test]
fn kill_all_signals_every_process_in_the_container() {
    let Some(jolt) = session() else { return };
    // No pid namespace: the background sleeps would outlive the shell if
    // --all did not reach them.
    let bundle = jolt
        .bundle()
        .without_namespace("pid")
        .sh("sleep 1000 & sleep 1000 & echo ready; wait");
    let id = jolt.id("kill-all");
    jolt.create_and_start(&id, &bundle);
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
    jolt.delete(&id);
}

#[test]
fn delete_of_a_running_container_needs_force() {
    let Some(jolt) = session() else { return };
    let id = running_sleeper(&jolt, "delete-running");
    let pid = jolt.pid(&id);

    jolt.fails(["delete", &id])
        .assert_stderr_contains("not stopped");
    assert_eq!(jolt.status(&id), "running");
    assert!(alive(pid));

    force_delete_reaping(&jolt, &id, pid);
}

/// runc deletes a created (never started) container without --force, and
/// containerd relies on it when a task is deleted before it starts.
#[test]
fn delete_of_a_created_container_kills_its_init() {
    let Some(jolt) = session() else { return };
    let bundle = jolt.bundle().sleeper();
    let id = jolt.id("delete-created");
    jolt.create(&id, &bundle);
    let pid = jolt.pid(&id);

    jolt.ok(["delete", &id]);
    wait_dead(pid);
    jolt.assert_clean(&id);
}

#[test]
fn start_twice_fails() {
    let Some(jolt) = session() else { return };
    let id = running_sleeper(&jolt, "start-twice");

    jolt.fails(["start", &id]);
    assert_eq!(
        jolt.status(&id),
        "running",
        "a second start changes nothing"
    );

    jolt.kill_until_stopped(&id, "KILL");
    jolt.fails(["start", &id]);
    jolt.delete(&id);
}

#[test]
fn unknown_container_does_not_exist() {
    let Some(jolt) = session() else { return };
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
    let Some(jolt) = session() else { return };
    let id = jolt.id("never-created");
    jolt.ok(["delete", "--force", &id]);
    jolt.assert_root_empty();
}

/// `kill --all` takes a real-time signal number, as containerd passes
/// them, and it reaches a trap in the container.
#[test]
fn kill_all_delivers_a_real_time_signal() {
    let Some(jolt) = session() else { return };
    let out_dir = jolt.host_dir("out");
    let bundle = jolt
        .bundle()
        .bind(&out_dir, "/out", &["rbind", "rw"])
        .sh("trap 'echo got-rt > /out/x; exit 3' 40; echo ready; sleep 100 & wait");
    let id = jolt.id("kill-rt");

    let run = jolt.spawn_until_ready(&id, &bundle);
    jolt.ok(["kill", "--all", &id, "40"]);
    run.wait().assert_code(3);
    assert_eq!(
        fs::read_to_string(out_dir.join("x")).unwrap_or_default(),
        "got-rt\n",
        "the trap for signal 40 ran"
    );
    jolt.assert_clean(&id);
}

/// A hook that writes its host pid to `pid_file`, then sleeps 30 s in
/// that same process.
fn sleeping_hook(pid_file: &Path) -> Value {
    sh_hook(&format!(
        // /proc here is the host's: the shell's own stat, read by a builtin,
        // starts with its host pid.
        "read -r pid rest < /proc/self/stat; echo $pid > {}; exec sleep 30",
        pid_file.display()
    ))
}

/// Waits for the hook's pid in `pid_file`.
fn hook_pid(pid_file: &Path) -> i32 {
    wait_until("the hook to start", jolt_e2e::timeout(), || {
        fs::read_to_string(pid_file).ok()?.trim().parse().ok()
    })
}

/// The sleeping hook, killed on drop if it is still that sleep: a hook
/// whose create died has no one left to wait for it.
struct Hook(i32);

impl Drop for Hook {
    fn drop(&mut self) {
        let cmdline = fs::read(format!("/proc/{}/cmdline", self.0)).unwrap_or_default();
        if self.0 > 1 && cmdline == b"sleep\x0030\x00" {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.0), Signal::SIGKILL);
        }
    }
}

/// `jolt create` of a sleeper with [`sleeping_hook`] as its `kind` hook,
/// SIGKILLed once the hook runs: what a create that crashed leaves.
fn create_killed_in_hook(jolt: &Jolt, kind: &str, name: &str) -> (String, Hook) {
    let pid_file = jolt.host_path("hook-pid");
    let bundle = jolt.bundle().sleeper().hook(kind, sleeping_hook(&pid_file));
    let id = jolt.id(name);

    let create = jolt.spawn(["create", "--bundle", bundle.dir(), &id]);
    let hook = Hook(hook_pid(&pid_file));
    create.signal(Signal::SIGKILL);
    create.wait().assert_code(137);
    (id, hook)
}

/// containerd deletes what a create that crashed left behind, without
/// --force. Here create is SIGKILLed while it runs a createRuntime hook
/// (on the host, holding the container's state). The init, waiting for
/// create to say the hooks are done, sees it go and exits: the record
/// left behind is stopped, as runc reports it.
#[test]
fn delete_cleans_up_after_a_create_killed_during_create_runtime() {
    let Some(jolt) = session() else { return };
    let (id, _hook) = create_killed_in_hook(&jolt, "createRuntime", "create-died");

    jolt.wait_for_status(&id, "stopped");
    assert!(
        !cgroup_dirs_of(&jolt.cgroup_path(&id)).is_empty(),
        "the dead create left its cgroup"
    );
    jolt.fails(["start", &id]).assert_stderr_contains("stopped");
    jolt.delete(&id);
    jolt.assert_unknown(&id);
}

/// As above, but create dies while the init itself is blocked in a
/// createContainer hook: the init is alive, and delete must kill it.
#[test]
fn delete_kills_the_init_a_killed_create_left_blocked() {
    let Some(jolt) = session() else { return };
    let (id, hook) = create_killed_in_hook(&jolt, "createContainer", "create-died-init");

    let state = jolt.state(&id);
    assert_eq!(state["status"], json!("creating"), "{state}");
    let init = state["pid"].as_i64().expect("the init's pid") as i32;
    assert!(
        init > 0 && alive(init),
        "the init waits in the hook: {state}"
    );
    assert!(cgroup_pids(&jolt.cgroup_path(&id)).contains(&init));

    jolt.ok(["delete", &id]);
    wait_dead(init);
    wait_dead(hook.0);
    jolt.assert_clean(&id);
}

/// `jolt state ID | head -c 1`: when the reader has gone, jolt stops as a
/// C tool would (SIGPIPE, or an error), never with a Rust panic (101).
#[test]
fn state_into_a_closed_pipe_does_not_panic() {
    let Some(jolt) = session() else { return };
    let id = running_sleeper(&jolt, "state-pipe");
    let (reader, writer) = nix::unistd::pipe().expect("pipe");
    drop(reader);
    let err_path = jolt.host_path("state.err");
    let mut child = jolt
        .command()
        .args(["state", &id])
        .stdout(Stdio::from(writer))
        .stderr(fs::File::create(&err_path).unwrap())
        .spawn()
        .expect("running jolt state");
    let status = wait_until("jolt state to exit", jolt_e2e::timeout(), || {
        child.try_wait().expect("waiting for jolt state")
    });
    let out = Output {
        command: format!("jolt state {id} (stdout: a pipe nobody reads)"),
        status,
        stdout: String::new(),
        stderr: fs::read_to_string(&err_path).unwrap_or_default(),
    };
    assert_ne!(out.code(), 101, "jolt panicked:\n{out}");
    assert!(!out.stderr.contains("panicked"), "{out}");
    eprintln!("state into a closed pipe: exit {}", out.code());

    assert_eq!(jolt.status(&id), "running", "the container is unaffected");
    jolt.force_delete(&id);
}

/// `state` and `kill` read the record without waiting for the lock a
/// create holds while a slow createRuntime hook runs (containerd polls
/// state; a stuck create must still be killable).
#[test]
fn state_and_kill_answer_while_a_create_hook_runs() {
    let Some(jolt) = session() else { return };
    let started = jolt.host_path("hook-started");
    let bundle = jolt.bundle().sleeper().hook(
        "createRuntime",
        sh_hook(&format!("touch {}; exec sleep 5", started.display())),
    );
    let id = jolt.id("slow-hook");
    let quick = jolt_e2e::quick();

    let create = jolt.spawn(["create", "--bundle", bundle.dir(), &id]);
    wait_until(
        "the createRuntime hook to start",
        jolt_e2e::timeout(),
        || started.exists().then_some(()),
    );

    let out = jolt.spawn(["state", &id]).wait_within(quick);
    out.assert_success();
    let json: Value = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("state is not JSON ({e}):\n{out}"));
    assert_eq!(json["status"], json!("creating"), "{json}");

    let out = jolt.spawn(["kill", &id, "KILL"]).wait_within(quick);
    assert!(
        out.code() != 101 && !out.stderr.contains("panicked"),
        "{out}"
    );
    // The init is not released yet: "container not running" is runc's
    // answer too.
    eprintln!(
        "kill during the hook: exit {}: {}",
        out.code(),
        out.stderr.trim()
    );

    // Whether or not the kill reached the init, create ends and the
    // container goes away completely.
    let created = create.wait();
    eprintln!("create after the hook: exit {}", created.code());
    jolt.force_delete(&id);
}

/// A second `jolt start` of running container `id` says so at once.
fn already_running(jolt: &Jolt, id: &str) {
    jolt.spawn(["start", id])
        .wait_within(jolt_e2e::quick())
        .assert_failure()
        .assert_stderr_contains("cannot start an already running container");
}

/// A start that was killed after it released the init, before it recorded
/// "running": the init has exec'd, so the container is running, and a
/// second start says so at once instead of waiting on exec.fifo forever.
#[test]
fn a_released_container_is_running_even_if_start_did_not_record_it() {
    let Some(jolt) = session() else { return };

    // A normal start.
    let id = running_sleeper(&jolt, "started");
    assert_eq!(jolt.status(&id), "running");
    already_running(&jolt, &id);
    jolt.force_delete(&id);

    // The init released by hand, as a start that died right after would
    // have left it: exec.fifo read, state.json never told.
    let bundle = jolt.bundle().args(&["sleep", "100"]);
    let id = jolt.id("released");
    jolt.create(&id, &bundle);
    let pid = jolt.pid(&id);
    let mut release = Command::new("cat")
        .arg(jolt.root().join(&id).join("exec.fifo"))
        .stdout(Stdio::null())
        .spawn()
        .expect("running cat");
    wait_until("exec.fifo to be read", jolt_e2e::timeout(), || {
        release.try_wait().expect("waiting for cat")
    });
    wait_until("the init to exec sleep", jolt_e2e::timeout(), || {
        let comm = fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
        (comm.trim() == "sleep").then_some(())
    });

    assert_eq!(jolt.status(&id), "running");
    already_running(&jolt, &id);
    assert!(alive(pid));
    force_delete_reaping(&jolt, &id, pid);
}

/// Annotations are free-form: one of 300 KB goes through create (to the
/// init and the state file), state, start and delete.
#[test]
fn a_300_kb_annotation_goes_through_the_lifecycle() {
    let Some(jolt) = session() else { return };
    let big = "0123456789abcdef".repeat(300 * 1024 / 16);
    let bundle = jolt
        .bundle()
        .sh("echo started")
        .with(|c| c["annotations"] = json!({ "org.example.big": big }));
    let id = jolt.id("big-annotation");

    jolt.create(&id, &bundle);
    let state = jolt.state(&id);
    let shown = state["annotations"]["org.example.big"]
        .as_str()
        .unwrap_or_default();
    assert_eq!(shown.len(), big.len(), "the annotation's length in state");
    assert!(shown == big, "state shows the annotation as configured");

    jolt.ok(["start", &id]);
    jolt.wait_for_stdout(&id, "started");
    jolt.wait_for_status(&id, "stopped");
    jolt.delete(&id);
}
