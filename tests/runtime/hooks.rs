//! OCI hooks: all six kinds, where each runs (host or container), what
//! state it gets on stdin, their order across create, start and delete;
//! and that a failing or hanging hook fails the operation and cleans up.

use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

use jolt_e2e::bundle::sh_hook;
use jolt_e2e::host::{alive, host_hostname, host_namespace};
use jolt_e2e::{session, wait_until, Bundle, Jolt};
use serde_json::{json, Value};

/// A hook appending `kind|hostname|mount ns|state JSON` to `log`.
fn logging_hook(kind: &str, log: &str) -> Value {
    sh_hook(&format!(
        "echo \"{kind}|$(cat /proc/sys/kernel/hostname)|$(readlink /proc/self/ns/mnt)|$(cat)\" >> {log}"
    ))
}

/// A sleeper bundle whose `kind` hook is /bin/false.
fn failing_hook_bundle(jolt: &Jolt, kind: &str) -> Bundle {
    let fail = json!({ "path": "/bin/false", "args": ["false"] });
    jolt.bundle().sleeper().hook(kind, fail)
}

struct HookRun {
    kind: String,
    hostname: String,
    mnt: String,
    state: Value,
}

fn read_log(path: &Path) -> Vec<HookRun> {
    fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|line| {
            let mut parts = line.splitn(4, '|');
            let mut next = || parts.next().unwrap_or_default().to_string();
            let (kind, hostname, mnt, state) = (next(), next(), next(), next());
            let state = serde_json::from_str(&state)
                .unwrap_or_else(|e| panic!("hook got no state JSON on stdin ({e}): {line}"));
            HookRun {
                kind,
                hostname,
                mnt,
                state,
            }
        })
        .collect()
}

fn kinds(runs: &[HookRun]) -> Vec<&str> {
    runs.iter().map(|r| r.kind.as_str()).collect()
}

#[test]
fn all_hooks_run_in_order_with_the_state() {
    let Some(jolt) = session() else { return };
    let logs = jolt.host_dir("hooklog");
    let log = logs.join("hooks.log");
    let host_log = log.to_str().unwrap();
    let bundle = jolt
        .bundle()
        .hostname("e2e-hooks")
        .bind(&logs, "/hooklog", &["rbind", "rw"])
        .sleeper()
        .hook("prestart", logging_hook("prestart", host_log))
        .hook("createRuntime", logging_hook("createRuntime", host_log))
        // before pivot_root: host paths are still visible
        .hook("createContainer", logging_hook("createContainer", host_log))
        // after pivot_root: only the container's paths exist
        .hook(
            "startContainer",
            logging_hook("startContainer", "/hooklog/hooks.log"),
        )
        .hook("poststart", logging_hook("poststart", host_log))
        .hook("poststop", logging_hook("poststop", host_log));
    let id = jolt.id("hooks");

    jolt.create(&id, &bundle);
    let pid = jolt.pid(&id) as i64;
    let runs = read_log(&log);
    assert_eq!(
        kinds(&runs),
        ["prestart", "createRuntime", "createContainer"]
    );

    jolt.ok(["start", &id]);
    let runs = read_log(&log);
    assert_eq!(
        kinds(&runs),
        [
            "prestart",
            "createRuntime",
            "createContainer",
            "startContainer",
            "poststart"
        ],
        "poststart runs after the process started, before start returns"
    );

    jolt.kill_until_stopped(&id, "KILL");
    assert_eq!(read_log(&log).len(), 5, "poststop waits for delete");
    jolt.ok(["delete", &id]);
    let runs = read_log(&log);
    assert_eq!(kinds(&runs).last(), Some(&"poststop"));
    assert_eq!(runs.len(), 6);

    let host_mnt = host_namespace("mnt");
    for run in &runs {
        let kind = run.kind.as_str();
        let state = &run.state;
        assert_eq!(state["id"], json!(id), "{kind}: {state}");
        if kind != "poststop" {
            // pid is optional once stopped
            assert!(
                state["pid"].as_i64().is_some_and(|p| p > 0),
                "{kind}: {state}"
            );
        }
        let (status, in_container) = match kind {
            "prestart" | "createRuntime" => ("creating", false),
            "createContainer" => ("creating", true),
            "startContainer" => ("created", true),
            "poststart" => ("running", false),
            "poststop" => ("stopped", false),
            other => panic!("unexpected hook {other}"),
        };
        assert_eq!(state["status"], json!(status), "{kind}: {state}");
        if in_container {
            assert_ne!(run.mnt, host_mnt, "{kind} runs in the container's mount ns");
        } else {
            assert_eq!(run.mnt, host_mnt, "{kind} runs in the host's mount ns");
            assert_eq!(
                run.hostname,
                host_hostname(),
                "{kind} runs in the host's uts ns"
            );
        }
        if matches!(kind, "prestart" | "createRuntime" | "poststart") {
            assert_eq!(
                state["pid"],
                json!(pid),
                "{kind} sees the host pid: {state}"
            );
        }
        if kind != "poststop" {
            assert_eq!(
                Path::new(state["bundle"].as_str().unwrap_or_default()),
                bundle.path(),
                "{kind}: {state}"
            );
        }
    }
    let start_container = &runs[3];
    assert_eq!(start_container.hostname, "e2e-hooks", "after sethostname");
    jolt.assert_clean(&id);
}

#[test]
fn a_failing_create_runtime_hook_fails_create_and_cleans_up() {
    let Some(jolt) = session() else { return };
    // The second hook fails: runc's words name it by its index.
    let bundle = jolt
        .bundle()
        .sleeper()
        .hook("createRuntime", json!({ "path": "/bin/true" }))
        .hook("createRuntime", json!({ "path": "/bin/false" }));
    let id = jolt.id("hook-fails");

    jolt.create_fails(&id, &bundle)
        .assert_stderr_contains("error running createRuntime hook #1: /bin/false: exit status 1");
    jolt.assert_unknown(&id);
}

#[test]
fn a_failing_start_container_hook_fails_start() {
    let Some(jolt) = session() else { return };
    let bundle = failing_hook_bundle(&jolt, "startContainer");
    let id = jolt.id("start-hook-fails");
    jolt.create(&id, &bundle);
    let pid = jolt.pid(&id);

    jolt.fails(["start", &id]);
    jolt.wait_for_status(&id, "stopped");
    assert!(!alive(pid), "the user process never ran");
    jolt.delete(&id);
}

#[test]
fn a_hook_gets_exactly_its_env() {
    let Some(jolt) = session() else { return };
    let out = jolt.host_path("hook-env");
    let mut hook = sh_hook(&format!("cat /proc/$$/environ > {}", out.display()));
    hook["env"] = json!(["HOOK_A=1", "HOOK_B=two words"]);
    let bundle = jolt.bundle().sleeper().hook("createRuntime", hook);
    let id = jolt.id("hook-env");
    jolt.create(&id, &bundle);

    let environ = fs::read(&out).expect("the hook ran");
    let mut env: Vec<String> = environ
        .split(|&b| b == 0)
        .filter(|v| !v.is_empty())
        .map(|v| String::from_utf8_lossy(v).into_owned())
        .collect();
    env.sort();
    assert_eq!(env, ["HOOK_A=1", "HOOK_B=two words"]);

    jolt.force_delete(&id);
}

#[test]
fn a_hook_past_its_timeout_fails_create() {
    let Some(jolt) = session() else { return };
    let pid_file = jolt.host_path("hook-pid");
    let mut hook = sh_hook(&format!("echo $$ > {}; exec sleep 60", pid_file.display()));
    hook["timeout"] = json!(1);
    let bundle = jolt.bundle().sleeper().hook("createRuntime", hook);
    let id = jolt.id("hook-timeout");

    let start = Instant::now();
    jolt.fails(["create", "--bundle", bundle.dir(), &id]);
    let took = start.elapsed();
    assert!(
        took < Duration::from_secs(20) * jolt_e2e::slowdown(),
        "create gave up on the hook after its 1 s timeout, took {took:?}"
    );
    jolt.assert_clean(&id);
    let hook_pid: i32 = fs::read_to_string(&pid_file)
        .expect("the hook ran")
        .trim()
        .parse()
        .unwrap();
    wait_until(
        "the timed-out hook to be killed",
        jolt_e2e::quick() * 3,
        || (!alive(hook_pid)).then_some(()),
    );
}
