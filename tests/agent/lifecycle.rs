//! A container's life through chaosctl: run, logs, ps, inspect, limits,
//! stop, rm, and nothing left afterwards.
//!
//! Also: writable layers, volumes and tmpfs, exec with a pty, stats.
//!
//! In the VM too (scripts/test's VM_TESTS): run, inspect, stop and rm,
//! whose limits and stop take cgroup v2 paths there, and stats (cpu.stat,
//! memory.current, pids.current).

use jolt_e2e::host::{self, Cgroups};
use jolt_e2e::runner::default_cgroup_path;
use jolt_e2e::{timeout, wait_until, Jolt};

use crate::agent;

#[test]
fn run_logs_inspect_stop_rm() {
    let Some(a) = agent() else { return };
    let id = a.run(&[
        "--name",
        "web",
        "--label",
        "app=web",
        "--label",
        "tier=front",
        "--env",
        "GREETING=hello",
        "--memory",
        "64m",
        "--cpus",
        "0.5",
        "--",
        "sh",
        "-c",
        "echo $GREETING from $(hostname); echo oops >&2; exec sleep 1000",
    ]);
    assert_eq!(id.len(), 12, "run prints the ID: {id:?}");
    let logs = wait_until("both log lines", timeout(), || {
        Some(a.logs("web")).filter(|l| l.len() >= 2)
    });
    assert!(logs.contains(&"hello from jolt".to_string()), "{logs:?}");
    assert!(logs.contains(&"oops".to_string()), "{logs:?}");
    let stamped = a.ok(["logs", "-t", "web"]);
    assert!(stamped.contains(" stderr oops"), "{stamped}");

    let ps = a.ok(["ps"]);
    assert!(ps.starts_with("ID "), "{ps}");
    assert!(
        ps.lines()
            .any(|l| l.contains("web") && l.contains("running")),
        "{ps}"
    );

    let c = a.inspect("web");
    assert_eq!(c["id"], id.as_str());
    assert_eq!(c["status"]["state"], "running");
    assert_eq!(c["spec"]["labels"]["app"], "web");
    assert_eq!(c["spec"]["labels"]["tier"], "front");
    assert_eq!(c["status"]["restart_count"], 0);
    assert!(c["status"]["started"].is_string());
    let pid = c["status"]["pid"].as_i64().unwrap() as i32;
    assert!(host::alive(pid));
    assert_eq!(a.inspect(&id)["spec"]["name"], "web", "inspect by ID too");
    let human = a.ok(["inspect", "web"]);
    assert!(human.contains("Restart count:  0"), "{human}");

    let cg = default_cgroup_path(&id);
    match host::cgroups() {
        Cgroups::V1 => {
            assert_eq!(
                host::read_cgroup("memory", &cg, "memory.limit_in_bytes"),
                "67108864"
            );
            assert_eq!(host::read_cgroup("cpu", &cg, "cpu.cfs_quota_us"), "50000");
        }
        Cgroups::V2 => {
            assert_eq!(host::read_cgroup("memory", &cg, "memory.max"), "67108864");
            assert_eq!(host::read_cgroup("cpu", &cg, "cpu.max"), "50000 100000");
        }
    }

    // sleep as pid 1 has no SIGTERM handler: SIGKILL after the timeout.
    a.ok(["stop", "-t", "1", "web"]);
    let c = a.inspect("web");
    assert_eq!(c["status"]["state"], "exited");
    assert_eq!(c["status"]["last_exit"]["code"], 137);
    assert_eq!(c["status"]["last_exit"]["signal"], 9);
    assert!(!a.ok(["ps"]).contains("web"));
    assert!(a.ok(["ps", "-a"]).contains("exited (137)"));

    assert_eq!(a.ok(["rm", "web"]).trim(), "web");
    assert!(!a.ok(["ps", "-a"]).contains("web"));
    a.assert_gone(&id, Some(pid));
}

#[test]
fn stop_sends_sigterm_first() {
    let Some(a) = agent() else { return };
    let id = a.run(&[
        "--name",
        "polite",
        "--restart",
        "always",
        "--",
        "sh",
        "-c",
        "trap 'echo bye; exit 0' TERM; echo up; while true; do sleep 0.1; done",
    ]);
    wait_until("up", timeout(), || {
        a.logs("polite").contains(&"up".into()).then_some(())
    });
    let json: serde_json::Value =
        serde_json::from_str(&a.ok(["-o", "json", "stop", "polite"])).unwrap();
    assert_eq!(json["status"]["last_exit"]["code"], 0);
    assert_eq!(
        json["status"]["state"], "exited",
        "a stopped container stays stopped"
    );
    assert!(a.logs("polite").contains(&"bye".to_string()));
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert_eq!(a.inspect("polite")["status"]["restart_count"], 0);
    a.ok(["rm", "polite"]);
    a.assert_gone(&id, None);
}

#[test]
fn a_bundle_of_the_users_runs() {
    let Some(a) = agent() else { return };
    let jolt = Jolt::new();
    let bundle = jolt.bundle().sh("echo from the bundle; echo $ONE");
    let id = a.run(&["--bundle", bundle.dir(), "--env", "ONE=1", "--name", "mine"]);
    let c = a.wait_for("mine", "exited", |c| c["status"]["state"] == "exited");
    assert_eq!(a.logs("mine"), ["from the bundle", "1"]);
    assert_eq!(c["status"]["last_exit"]["code"], 0);
    let config = std::fs::read_to_string(bundle.path().join("config.json")).unwrap();
    assert!(
        !config.contains("ONE=1"),
        "the user's bundle is not written"
    );
    a.ok(["rm", "mine"]);
    a.assert_gone(&id, None);
}

#[test]
fn logs_follow_until_the_container_is_done() {
    let Some(a) = agent() else { return };
    a.run(&[
        "--name",
        "counter",
        "--",
        "sh",
        "-c",
        "for i in 1 2 3; do echo $i; sleep 0.2; done",
    ]);
    let out = a.ok(["logs", "-f", "counter"]);
    assert_eq!(out, "1\n2\n3\n");
    a.ok(["rm", "counter"]);
}

#[test]
fn run_without_detach_prints_the_output_and_exits_with_the_status() {
    let Some(a) = agent() else { return };
    let out = a.ctl([
        "run",
        "--name",
        "fg",
        "--",
        "sh",
        "-c",
        "echo hi; echo there >&2; exit 3",
    ]);
    out.assert_code(3);
    assert!(
        out.stdout.contains("hi\n") && out.stdout.contains("there\n"),
        "{out}"
    );
    assert_eq!(a.inspect("fg")["status"]["last_exit"]["code"], 3);
}

#[test]
fn completions_and_help() {
    let Some(a) = agent() else { return };
    let bash = a.ok(["completion", "bash"]);
    assert!(
        bash.contains("chaosctl") && bash.contains("inspect"),
        "{bash}"
    );
    for sub in ["run", "ps", "inspect", "logs", "stop", "rm"] {
        let help = a.ok([sub, "--help"]);
        assert!(help.contains("Usage: chaosctl"), "{sub}: {help}");
    }
}

#[test]
fn stop_and_rm_take_several_names_and_go_on_past_one_that_fails() {
    let Some(a) = agent() else { return };
    for n in ["m1", "m2", "m3"] {
        a.run(&["--name", n, "--", "sleep", "1000"]);
    }
    let out = a.ok(["stop", "-t", "1", "m1", "m2"]);
    assert_eq!(out.lines().collect::<Vec<_>>(), ["m1", "m2"]);
    let listed = a.ok(["ps", "-a"]);
    assert!(listed.contains("m1") && listed.contains("m3"), "{listed}");

    // As docker rm: the missing one is reported, the others removed.
    let out = a.ctl(["rm", "-f", "m1", "nosuch", "m2", "m3"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert_eq!(out.stdout.lines().collect::<Vec<_>>(), ["m1", "m2", "m3"]);
    assert!(out.stderr.contains("nosuch"), "{}", out.stderr);
    assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
    let listed = a.ok(["ps", "-a"]);
    assert!(!listed.contains("m1") && !listed.contains("m3"), "{listed}");
    assert_eq!(a.ctl(["rm"]).status.code(), Some(2), "a name is required");
}

#[test]
fn each_container_writes_to_a_layer_of_its_own_and_a_read_only_one_cannot() {
    let Some(a) = agent() else { return };
    let out = a.ok([
        "run",
        "--name",
        "w1",
        "--",
        "sh",
        "-c",
        "echo one > /note && echo t > /tmp/t && mkdir -p /var/x && cat /note /tmp/t",
    ]);
    assert_eq!(out, "one\nt\n");
    let id = a.inspect("w1")["id"].as_str().unwrap().to_string();
    let layer = a.state_dir().join("layers").join(&id);
    assert_eq!(
        host::mounts_mentioning(&layer).len(),
        1,
        "its overlay stays mounted while it exists"
    );
    assert_eq!(
        std::fs::read_to_string(layer.join("upper/note")).unwrap(),
        "one\n",
        "the write is in its own upper layer"
    );
    // A second container from the same image does not see it, and the
    // image itself is untouched.
    let out = a.ok([
        "run",
        "--name",
        "w2",
        "--",
        "sh",
        "-c",
        "cat /note 2>/dev/null; echo rc=$?",
    ]);
    assert_eq!(out, "rc=1\n");
    assert!(!a.state_dir().join("images/busybox/note").exists());

    a.ok(["rm", "w1", "w2"]);
    assert!(
        host::mounts_mentioning(&a.state_dir()).is_empty(),
        "{:?}",
        host::mounts_mentioning(&a.state_dir())
    );
    assert!(!layer.exists(), "removed with the container");

    let ro = a.ctl([
        "run",
        "--read-only",
        "--name",
        "ro",
        "--",
        "sh",
        "-c",
        "echo x > /y",
    ]);
    assert_ne!(ro.status.code(), Some(0), "{ro:?}");
    assert!(
        format!("{}{}", ro.stdout, ro.stderr).contains("Read-only file system"),
        "{ro:?}"
    );
    let ro_id = a.inspect("ro")["id"].as_str().unwrap().to_string();
    assert!(!a
        .state_dir()
        .join("containers")
        .join(ro_id)
        .join("layer")
        .exists());
    a.ok(["rm", "ro"]);
}

#[test]
fn a_layer_whose_record_is_lost_goes_at_joltds_next_start() {
    let Some(mut a) = agent() else { return };
    let id = a.run(&["--name", "lostw", "--", "sh", "-c", "echo x > /x"]);
    wait_until("lostw to exit", timeout(), || {
        (a.inspect("lostw")["status"]["state"] == "exited").then_some(())
    });
    let layer = a.state_dir().join("layers").join(&id);
    assert!(layer.join("upper/x").exists());
    a.terminate();
    std::fs::remove_dir_all(a.state_dir().join("containers").join(&id)).unwrap();
    a.restart();
    assert!(!layer.exists(), "joltd said:\n{}", a.joltd_log());
    assert!(host::mounts_mentioning(&a.state_dir()).is_empty());
}

#[test]
fn volumes_and_tmpfs_mount_as_asked_and_a_missing_host_path_makes_nothing() {
    let Some(a) = agent() else { return };
    let vol = a.path("vol");
    std::fs::create_dir(&vol).unwrap();
    std::fs::write(vol.join("in.txt"), "from the node\n").unwrap();
    let v = vol.display().to_string();
    let out = a.ok([
        "run",
        "--name",
        "v",
        "-v",
        &format!("{v}:/data"),
        "-v",
        &format!("{v}:/ro:ro"),
        "--tmpfs",
        "/scratch:size=1m",
        "--",
        "sh",
        "-c",
        "cat /data/in.txt; echo out > /data/out.txt; \
         (echo x > /ro/y) 2>/dev/null || echo ro-refused; \
         dd if=/dev/zero of=/scratch/big bs=1k count=2048 2>/dev/null || echo scratch-full; \
         grep -c ' /scratch tmpfs ' /proc/mounts",
    ]);
    assert_eq!(out, "from the node\nro-refused\nscratch-full\n1\n");
    assert_eq!(
        std::fs::read_to_string(vol.join("out.txt")).unwrap(),
        "out\n"
    );
    assert!(!vol.join("y").exists());
    a.ok(["rm", "v"]);

    let containers = || {
        std::fs::read_dir(a.state_dir().join("containers"))
            .unwrap()
            .count()
    };
    let before = containers();
    let bad = a.ctl([
        "run",
        "--name",
        "bad",
        "-v",
        "/no/such/jolt/path:/x",
        "--",
        "true",
    ]);
    bad.assert_failure();
    assert!(
        bad.stderr.contains("jolt does not create it"),
        "{}",
        bad.stderr
    );
    assert!(!std::path::Path::new("/no/such/jolt/path").exists());
    a.ctl(["inspect", "bad"]).assert_failure();
    assert_eq!(containers(), before, "nothing made");
    // Read-only: only on paths the image has (the runtime would make
    // the others in the shared rootfs).
    let ro = a.ctl(["run", "--read-only", "--tmpfs", "/nothere", "--", "true"]);
    ro.assert_failure();
    assert!(
        ro.stderr.contains("/nothere: not in the read-only rootfs"),
        "{}",
        ro.stderr
    );
    assert!(!a.state_dir().join("images/busybox/nothere").exists());
    let out = a.ok([
        "run",
        "--name",
        "rot",
        "--read-only",
        "--tmpfs",
        "/tmp",
        "--",
        "sh",
        "-c",
        "echo ok > /tmp/f && cat /tmp/f",
    ]);
    assert_eq!(out, "ok\n");
    a.ok(["rm", "rot"]);
    let bad = a.ctl(["run", "--tmpfs", "/x:bogus", "--", "true"]);
    assert_eq!(bad.status.code(), Some(1), "{bad:?}");
    assert!(
        bad.stderr.contains("unknown tmpfs option \"bogus\""),
        "{}",
        bad.stderr
    );
}

#[test]
fn exec_runs_a_command_in_the_container_with_its_status_and_a_pty_when_asked() {
    let Some(a) = agent() else { return };
    a.run(&["--name", "ex", "--", "sleep", "1000"]);
    let out = a.ctl([
        "exec",
        "-e",
        "GREETING=hi",
        "ex",
        "--",
        "sh",
        "-c",
        "echo $GREETING from $(hostname); exit 3",
    ]);
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    // The default bundle's hostname: the command ran in the container's
    // UTS namespace, with the env given.
    assert_eq!(out.stdout.trim_end(), "hi from jolt");
    // -it: a pseudo-terminal in the container (util-linux's script gives
    // chaosctl one of its own, as a person's terminal would).
    let cmd = format!(
        "{} --socket {} exec -it ex -- sh -c 'tty; exit 4'",
        jolt_e2e::agent::chaosctl_bin().display(),
        a.socket().display()
    );
    let out = std::process::Command::new("script")
        .args(["-qec", &cmd, "/dev/null"])
        .stdin(std::process::Stdio::null())
        .output()
        .expect("running script (util-linux)");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("/dev/pts/"), "{text}");
    assert_eq!(out.status.code(), Some(4), "{text}");
    a.ok(["stop", "-t", "1", "ex"]);
    let stopped = a.ctl(["exec", "ex", "--", "true"]);
    stopped.assert_failure();
    assert!(
        stopped.stderr.contains("is exited, not running"),
        "{}",
        stopped.stderr
    );
    a.ok(["rm", "ex"]);
}

#[test]
fn stats_move_with_a_busy_loop_and_with_traffic() {
    let Some(a) = agent() else { return };
    a.run(&[
        "--name",
        "busy",
        "-m",
        "64m",
        "--",
        "sh",
        "-c",
        "while :; do :; done",
    ]);
    let idle = a.run(&["--name", "idle", "--", "sleep", "1000"]);
    let rows = |args: &[&str]| -> serde_json::Value {
        let mut all = vec!["-o", "json", "stats"];
        all.extend_from_slice(args);
        serde_json::from_str(&a.ok(all)).unwrap()
    };
    let got = rows(&["busy", "idle"]);
    let (busy, quiet) = (&got[0], &got[1]);
    assert!(busy["cpu_percent"].as_f64().unwrap() > 50.0, "{got}");
    assert!(quiet["cpu_percent"].as_f64().unwrap() < 10.0, "{got}");
    assert_eq!(busy["memory_limit"], 64 << 20, "{got}");
    assert!(busy["memory_bytes"].as_u64().unwrap() > 0 && busy["pids"].as_u64().unwrap() >= 1);
    assert!(quiet["memory_limit"].is_null());

    // Traffic into idle shows in its received bytes.
    let before = quiet["net_rx_bytes"].as_u64().unwrap();
    let address = a.inspect("idle")["status"]["address"]
        .as_str()
        .unwrap()
        .to_string();
    let ns = a
        .netns_dir()
        .join(a.inspect("busy")["id"].as_str().unwrap());
    jolt_e2e::host::ping_rtts(&ns, &address, 3);
    let after = rows(&["idle"])[0]["net_rx_bytes"].as_u64().unwrap();
    assert!(after >= before + 3 * 84, "{before} -> {after}");

    let table = a.ok(["stats"]);
    assert!(
        table.starts_with("NAME") && table.contains("busy") && table.contains("idle"),
        "{table}"
    );
    a.ok(["stop", "-t", "1", "busy"]);
    let stopped = a.ctl(["stats", "busy"]);
    stopped.assert_failure();
    assert!(stopped.stderr.contains("not running"), "{}", stopped.stderr);
    a.ok(["rm", "-f", "busy", &idle]);
}
