//! What containerd and people do to a running container besides exec:
//! `ps` (table and JSON), `pause`/`resume` (the freezer really stops the
//! processes; `delete --force` kills a container frozen behind jolt's
//! back), `update` (limits that change in the cgroup files and then
//! bite), `events` (one `--stats` snapshot in runc's shape, a stream, and
//! an OOM event), `features`, and the `--log FILE --log-format json` line
//! containerd reads back after a failure.
//!
//! In the VM too (scripts/test's VM_TESTS): pause/resume, the frozen
//! force-delete (cgroup.kill), update, events and ps, whose cgroup v2
//! paths differ from v1's.

use std::fs;
use std::io::Write;
use std::process::Stdio;
use std::time::Duration;

use jolt_e2e::host::{cgroups, read_cgroup, Cgroups};
use jolt_e2e::{line_after, session, wait_until, Jolt};
use serde_json::{json, Value};

const MIB: u64 = 1024 * 1024;

/// create + start a container running `script`, and wait until it runs.
fn running(jolt: &Jolt, name: &str, script: &str) -> String {
    let bundle = jolt.bundle().sh(script);
    let id = jolt.id(name);
    jolt.create_and_start(&id, &bundle);
    jolt.wait_for_status(&id, "running");
    id
}

#[test]
fn ps_lists_the_containers_processes() {
    let Some(jolt) = session() else { return };
    let id = running(&jolt, "ps", "sleep 1000 & sleep 1000");
    let init = jolt.pid(&id);

    let json_out = wait_until("two processes", jolt_e2e::timeout(), || {
        let out = jolt.ok(["ps", "--format", "json", &id]);
        let pids: Vec<i32> = serde_json::from_str(&out.stdout).unwrap();
        (pids.len() == 2).then_some(pids)
    });
    assert!(json_out.contains(&init), "{json_out:?}");

    let table = jolt.ok(["ps", &id]);
    let mut lines = table.stdout.lines();
    let header = lines.next().unwrap();
    assert!(header.contains("PID") && header.contains("CMD"), "{table}");
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), 2, "only the container's processes:\n{table}");
    assert!(rows.iter().all(|r| r.contains("sleep 1000")), "{table}");

    // ps options after the ID go to ps.
    let custom = jolt.ok(["ps", &id, "-o", "pid,comm"]);
    assert!(custom.stdout.contains("COMMAND"), "{custom}");
    assert_eq!(custom.stdout.lines().count(), 3, "{custom}");

    jolt.force_delete(&id);
}

/// Whether the container's cgroup is frozen, from the kernel's own file.
fn frozen(jolt: &Jolt, id: &str) -> bool {
    let cgroup = jolt.cgroup_path(id);
    match cgroups() {
        Cgroups::V1 => read_cgroup("freezer", &cgroup, "freezer.state") == "FROZEN",
        Cgroups::V2 => line_after(&read_cgroup("", &cgroup, "cgroup.events"), "frozen ") == "1",
    }
}

#[test]
fn pause_freezes_and_resume_thaws() {
    let Some(jolt) = session() else { return };
    // A counter the test can watch: it stops moving while paused.
    let id = running(
        &jolt,
        "pause",
        "i=0; while true; do i=$((i+1)); echo $i; sleep 0.05; done",
    );
    let read = || jolt.container_stdout(&id);
    wait_until("the counter to start", jolt_e2e::timeout(), || {
        (!read().is_empty()).then_some(())
    });

    jolt.ok(["pause", &id]);
    assert_eq!(jolt.status(&id), "paused");
    assert!(frozen(&jolt, &id));
    let before = read();
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(read(), before, "nothing runs while paused");
    jolt.fails(["pause", &id])
        .assert_stderr_contains("container not running");
    jolt.fails(["delete", &id])
        .assert_stderr_contains("that is not stopped: paused");

    jolt.ok(["resume", &id]);
    assert_eq!(jolt.status(&id), "running");
    assert!(!frozen(&jolt, &id));
    wait_until("the counter to move again", jolt_e2e::timeout(), || {
        (read() != before).then_some(())
    });
    jolt.fails(["resume", &id])
        .assert_stderr_contains("container not paused");

    // A paused container can be force-deleted: the kill thaws it.
    jolt.ok(["pause", &id]);
    jolt.force_delete(&id);
}

/// A container frozen behind jolt's back (a chaos tool writing the
/// freezer, as joltd's pause fault does) is still `running` to jolt, and
/// `delete --force` kills it all the same, as runc's does: the kill goes
/// to the whole cgroup, which is thawed so that it acts.
#[test]
fn force_delete_kills_a_container_frozen_by_someone_else() {
    let Some(jolt) = session() else { return };
    let id = running(&jolt, "frozen-behind", "sleep 1000");
    let init = jolt.pid(&id);
    let cgroup = jolt.cgroup_path(&id);
    let (file, value) = match cgroups() {
        Cgroups::V1 => ("freezer.state", "FROZEN"),
        Cgroups::V2 => ("cgroup.freeze", "1"),
    };
    let controller = if cgroups() == Cgroups::V1 {
        "freezer"
    } else {
        ""
    };
    let path = jolt_e2e::host::cgroup_dir(controller, &cgroup).join(file);
    fs::write(&path, value).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    wait_until("the cgroup frozen", jolt_e2e::timeout(), || {
        frozen(&jolt, &id).then_some(())
    });
    assert_eq!(jolt.status(&id), "running", "jolt did not pause it");
    jolt.ok(["delete", "--force", &id]);
    wait_until("the init gone", jolt_e2e::timeout(), || {
        (!jolt_e2e::host::alive(init)).then_some(())
    });
    jolt.assert_clean(&id);
}

/// A container that made a threaded sub-cgroup (cgroup v2) and moved a
/// thread there: its cgroup.procs cannot be read ("Operation not
/// supported"); `delete --force` still kills everything and removes the
/// whole subtree. VM only (cgroup v2).
#[test]
fn force_delete_removes_threaded_sub_cgroups() {
    if !jolt_e2e::feature::require(jolt_e2e::feature::Feature::Cgroup2) {
        return;
    }
    let Some(jolt) = session() else { return };
    let id = running(&jolt, "threaded", "sleep 1000");
    let init = jolt.pid(&id);
    let dir = jolt_e2e::host::cgroup_dir("", &jolt.cgroup_path(&id));
    fs::create_dir(dir.join("threads")).unwrap();
    fs::write(dir.join("threads/cgroup.type"), "threaded").unwrap();
    fs::write(dir.join("threads/cgroup.threads"), init.to_string()).unwrap();

    jolt.ok(["delete", "--force", &id]);
    wait_until("the init gone", jolt_e2e::timeout(), || {
        (!jolt_e2e::host::alive(init)).then_some(())
    });
    assert!(!dir.exists(), "{} is left", dir.display());
    jolt.assert_clean(&id);
}

#[test]
fn update_changes_limits_that_then_bite() {
    let Some(jolt) = session() else { return };
    let id = running(&jolt, "update", "sleep 1000");
    let cgroup = jolt.cgroup_path(&id);

    jolt.ok([
        "update",
        "--memory",
        "64m",
        "--pids-limit",
        "5",
        "--cpu-quota",
        "20000",
        "--cpu-period",
        "100000",
        &id,
    ]);
    match cgroups() {
        Cgroups::V1 => {
            assert_eq!(
                read_cgroup("memory", &cgroup, "memory.limit_in_bytes"),
                (64 * MIB).to_string()
            );
            assert_eq!(read_cgroup("cpu", &cgroup, "cpu.cfs_quota_us"), "20000");
        }
        Cgroups::V2 => {
            assert_eq!(
                read_cgroup("", &cgroup, "memory.max"),
                (64 * MIB).to_string()
            );
            assert_eq!(read_cgroup("", &cgroup, "cpu.max"), "20000 100000");
        }
    }
    assert_eq!(read_cgroup("pids", &cgroup, "pids.max"), "5");

    // --resources from stdin: only what it names changes.
    let mut update = jolt
        .command()
        .args(["update", "--resources", "-", &id])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    update
        .stdin
        .take()
        .unwrap()
        .write_all(json!({ "pids": { "limit": 3 } }).to_string().as_bytes())
        .unwrap();
    let out = update.wait_with_output().unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(read_cgroup("pids", &cgroup, "pids.max"), "3");
    let memory_file = match cgroups() {
        Cgroups::V1 => "memory.limit_in_bytes",
        Cgroups::V2 => "memory.max",
    };
    assert_eq!(
        read_cgroup("memory", &cgroup, memory_file),
        (64 * MIB).to_string(),
        "the memory limit stays"
    );

    // The new pids limit bites: sh plus sleep is 2 of 3; five more fail.
    let out = jolt.run([
        "exec",
        &id,
        "sh",
        "-c",
        "for i in 1 2 3 4 5; do sleep 30 & done; wait",
    ]);
    assert!(
        out.stderr.contains("can't fork")
            || out.stderr.contains("Resource temporarily unavailable"),
        "fork fails at the updated limit: {out}"
    );

    jolt.fails(["update", "--memory", "lots", &id])
        .assert_stderr_contains("--memory");
    jolt.force_delete(&id);
}

/// `--memory -1` lifts the memory limit and, unless the same update sets
/// it, the memory plus swap limit too (as runc does): a kept swap limit
/// below "unlimited" would make the kernel refuse it.
#[test]
fn update_memory_minus_one_lifts_memory_and_swap() {
    let Some(jolt) = session() else { return };
    let (memory, swap) = match cgroups() {
        Cgroups::V1 => ("memory.limit_in_bytes", "memory.memsw.limit_in_bytes"),
        Cgroups::V2 => ("memory.max", "memory.swap.max"),
    };
    let id = running(&jolt, "update-unlimited", "sleep 1000");
    let cgroup = jolt.cgroup_path(&id);
    if !jolt_e2e::host::cgroup_dir("memory", &cgroup)
        .join(swap)
        .exists()
    {
        eprintln!("skipped: no {swap} (swap accounting is off)");
        jolt.force_delete(&id);
        return;
    }
    jolt.ok(["update", "--memory", "50M", &id]);
    jolt.ok(["update", "--memory-swap", "96468992", &id]);
    jolt.ok(["update", "--memory", "-1", &id]);
    let unlimited = |file| {
        let v = read_cgroup("memory", &cgroup, file);
        v == "max" || v.parse::<u64>().is_ok_and(|n| n > 1 << 60)
    };
    assert!(unlimited(memory), "{memory}");
    assert!(unlimited(swap), "{swap}");
    jolt.force_delete(&id);
}

#[test]
fn events_stats_has_runcs_shape() {
    let Some(jolt) = session() else { return };
    let bundle = jolt
        .bundle()
        .resources("memory", json!({ "limit": 64 * MIB }))
        .resources("pids", json!({ "limit": 20 }))
        .sleeper();
    let id = jolt.id("events-stats");
    jolt.create_and_start(&id, &bundle);
    jolt.wait_for_status(&id, "running");

    let out = jolt.ok(["events", "--stats", &id]);
    let e: Value = serde_json::from_str(out.stdout.trim()).unwrap();
    assert_eq!(e["type"], "stats", "{e}");
    assert_eq!(e["id"], json!(id));
    let d = &e["data"];
    assert_eq!(d["pids"]["current"], 1, "{d}");
    assert_eq!(d["pids"]["limit"], 20, "{d}");
    assert_eq!(d["memory"]["usage"]["limit"], 64 * MIB, "{d}");
    assert!(d["memory"]["usage"]["usage"].as_u64().unwrap() > 0, "{d}");
    assert!(d["cpu"]["usage"]["total"].as_u64().unwrap() > 0, "{d}");
    for key in [
        "cpu",
        "cpuset",
        "memory",
        "pids",
        "blkio",
        "hugetlb",
        "intel_rdt",
    ] {
        assert!(d[key].is_object(), "{key} in {d}");
    }

    jolt.kill_until_stopped(&id, "KILL");
    jolt.fails(["events", "--stats", &id])
        .assert_stderr_contains("is not running");
    jolt.delete(&id);
}

#[test]
fn events_streams_stats_and_ooms_until_the_container_stops() {
    let Some(jolt) = session() else { return };
    // Waits for /tmp/go, then runs a hog that the OOM killer takes.
    let bundle = jolt
        .bundle()
        .resources("memory", json!({ "limit": 32 * MIB, "swap": 32 * MIB }))
        .sh("while [ ! -e /tmp/go ]; do sleep 0.05; done; \
             (echo 1000 > /proc/self/oom_score_adj; \
              head -c 100000000 /dev/zero | tail > /dev/null); sleep 1");
    let id = jolt.id("events-oom");
    jolt.create_and_start(&id, &bundle);
    jolt.wait_for_status(&id, "running");

    let events = jolt.spawn(["events", "--interval", "100ms", &id]);
    wait_until("a stats event", jolt_e2e::timeout(), || {
        events.stdout().contains("\"type\":\"stats\"").then_some(())
    });
    fs::write(jolt.rootfs_of(&id).join("tmp/go"), "").unwrap();
    let out = events.wait();
    out.assert_success();
    let kinds: Vec<String> = out
        .stdout
        .lines()
        .map(|l| {
            let e: Value = serde_json::from_str(l).unwrap();
            assert_eq!(e["id"], json!(id));
            e["type"].as_str().unwrap().to_string()
        })
        .collect();
    assert!(kinds.iter().filter(|k| *k == "stats").count() >= 2, "{out}");
    assert!(kinds.iter().any(|k| k == "oom"), "an oom event: {out}");
    jolt.delete(&id);
}

#[test]
fn features_tells_the_truth() {
    let Some(jolt) = session() else { return };
    let out = jolt.ok(["features"]);
    let f: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(f["ociVersionMin"], "1.0.0");
    assert!(f["hooks"]
        .as_array()
        .unwrap()
        .contains(&json!("createRuntime")));
    assert!(f["mountOptions"]
        .as_array()
        .unwrap()
        .contains(&json!("rbind")));
    assert!(
        !f["mountOptions"]
            .as_array()
            .unwrap()
            .contains(&json!("idmap")),
        "jolt does not do idmapped mounts"
    );
    let caps = f["linux"]["capabilities"].as_array().unwrap();
    assert!(caps.contains(&json!("CAP_NET_ADMIN")));
    assert_eq!(
        f["linux"]["cgroup"]["systemd"], true,
        "--systemd-cgroup makes scopes"
    );
    assert_eq!(
        f["linux"]["cgroup"]["systemdUser"], false,
        "no rootless scopes on the user's bus"
    );
    assert!(f["linux"]["namespaces"]
        .as_array()
        .unwrap()
        .contains(&json!("user")));
}

#[test]
fn a_failure_leaves_an_error_line_in_the_json_log() {
    let Some(jolt) = session() else { return };
    let log = jolt.host_path("jolt.log");
    let missing = jolt.id("log-missing");
    let log_arg = log.to_str().unwrap();

    for args in [
        vec!["kill", missing.as_str(), "KILL"],
        vec!["exec", missing.as_str(), "true"],
        vec!["pause", missing.as_str()],
    ] {
        let mut full = vec!["--log", log_arg, "--log-format", "json"];
        full.extend(args);
        let out = jolt.run(full);
        assert!(!out.success(), "{out}");
        let text = fs::read_to_string(&log).unwrap();
        let last: Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
        assert_eq!(last["level"], "error", "{text}");
        assert!(
            last["msg"].as_str().unwrap().contains("does not exist"),
            "{text}"
        );
        assert!(last["time"].is_string(), "{text}");
    }
}
