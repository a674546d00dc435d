//! Bad input: each case exits 1, says which file, field or path is wrong,
//! and leaves nothing behind (no state dir, cgroup, mount or process), even
//! when it is found late (a pid file that cannot be written).
//!
//! In the VM too (scripts/test's VM_TESTS): the init that dies before it
//! is ready (its OOM is read from memory.events there).

use std::fs;
use std::os::unix::fs::{symlink, MetadataExt};

use jolt_e2e::session;
use serde_json::{json, Value};

#[test]
fn missing_bundle_is_named() {
    let Some(jolt) = session() else { return };
    let missing = jolt.host_path("no-such-bundle");
    let id = jolt.id("no-bundle");

    jolt.fails(["create", "--bundle", missing.to_str().unwrap(), &id])
        .assert_stderr_contains(missing.to_str().unwrap());
    jolt.assert_clean(&id);
    jolt.assert_root_empty();
}

#[test]
fn config_that_is_not_json_is_named() {
    let Some(jolt) = session() else { return };
    let bundle = jolt.bundle();
    fs::write(bundle.path().join("config.json"), "{ this is not json").unwrap();
    let id = jolt.id("not-json");

    jolt.create_fails(&id, &bundle)
        .assert_stderr_contains("config.json");
}

#[test]
fn missing_or_empty_process_args_are_named() {
    let Some(jolt) = session() else { return };
    type Edit = fn(&mut Value);
    let edits: [(&str, Edit); 2] = [
        ("missing", |c| {
            c["process"].as_object_mut().unwrap().remove("args");
        }),
        ("empty", |c| c["process"]["args"] = json!([])),
    ];
    for (case, edit) in edits {
        let bundle = jolt.bundle().with(edit);
        let id = jolt.id("bad-args");
        let out = jolt.create_fails(&id, &bundle);
        out.assert_stderr_contains("config.json")
            .assert_stderr_contains("process.args");
        eprintln!("{case} args: {}", out.stderr.trim());
    }
}

#[test]
fn mount_destination_escaping_through_dotdot_is_refused() {
    let Some(jolt) = session() else { return };
    let bundle = jolt.bundle();
    let index = bundle.mount_count();
    // <bundle>/rootfs/../../escaped is this test's temp dir, on the host.
    let bundle = bundle.mount(json!({
        "destination": "/../../escaped-dotdot", "type": "tmpfs", "source": "tmpfs"
    }));
    let id = jolt.id("dotdot");

    jolt.create_fails(&id, &bundle)
        .assert_stderr_contains("config.json")
        .assert_stderr_contains(&format!("mounts[{index}].destination"));
    assert!(!jolt.base().join("escaped-dotdot").exists());
    assert!(!bundle.path().join("escaped-dotdot").exists());
}

#[test]
fn mount_destination_escaping_through_a_symlink_is_refused() {
    let Some(jolt) = session() else { return };
    let outside = jolt.host_dir("outside");
    let bundle = jolt.bundle();
    // Followed on the host, rootfs/escape leads to `outside`.
    symlink(
        format!("../../../../../../../../../..{}", outside.display()),
        bundle.rootfs().join("escape"),
    )
    .unwrap();
    let index = bundle.mount_count();
    let bundle = bundle.mount(json!({
        "destination": "/escape/x", "type": "tmpfs", "source": "tmpfs"
    }));
    let id = jolt.id("symlink-escape");

    jolt.create_fails(&id, &bundle)
        .assert_stderr_contains(&format!("mounts[{index}]"));
    assert!(
        fs::read_dir(&outside).unwrap().next().is_none(),
        "nothing was created outside the rootfs"
    );
    assert!(jolt_e2e::host::mounts_mentioning(&outside).is_empty());
}

#[test]
fn unknown_namespace_type_is_named() {
    let Some(jolt) = session() else { return };
    let bundle = jolt
        .bundle()
        .with(|c| c["linux"]["namespaces"][2]["type"] = json!("foo"));
    let id = jolt.id("ns-foo");

    jolt.create_fails(&id, &bundle)
        .assert_stderr_contains("config.json")
        .assert_stderr_contains("linux.namespaces[2].type");
}

#[test]
fn duplicate_id_is_refused_and_the_first_container_is_untouched() {
    let Some(jolt) = session() else { return };
    let first = jolt.bundle().sleeper();
    let second = jolt.bundle().sleeper();
    let id = jolt.id("dup");
    jolt.create(&id, &first);
    let before = jolt.state(&id);

    jolt.fails(["create", "--bundle", second.dir(), &id])
        .assert_stderr_contains("already exists");

    let after = jolt.state(&id);
    assert_eq!(after["status"], json!("created"));
    assert_eq!(after["pid"], before["pid"]);
    assert_eq!(after["bundle"], before["bundle"]);
    assert!(jolt_e2e::host::mounts_mentioning(&second.rootfs()).is_empty());
    assert!(jolt_e2e::host::processes_rooted_in(&second.rootfs()).is_empty());
    jolt.force_delete(&id);
}

#[test]
fn invalid_ids_are_refused() {
    let Some(jolt) = session() else { return };
    let bundle = jolt.bundle().sleeper();
    for id in ["a/b", "..", ".", "", "../escape", "-x"] {
        let out = jolt.run(["create", "--bundle", bundle.dir(), id]);
        assert!(!out.success(), "id {id:?} was accepted:\n{out}");
    }
    jolt.assert_root_empty();
    assert!(!jolt.base().join("escape").exists());
    assert!(jolt_e2e::host::cgroup_dirs_of("/jolt/a").is_empty());
    assert!(jolt_e2e::host::mounts_mentioning(&bundle.rootfs()).is_empty());
    assert!(jolt_e2e::host::processes_rooted_in(&bundle.rootfs()).is_empty());
}

/// Without systemd as the init, `--systemd-cgroup` names what is missing
/// and makes nothing (where systemd runs, the driver's own tests apply).
#[test]
fn systemd_cgroup_without_systemd_names_it_and_makes_nothing() {
    let Some(jolt) = session() else { return };
    if std::path::Path::new("/run/systemd/system").is_dir() {
        eprintln!("skipped: systemd runs here (this test needs a host without it)");
        return;
    }
    let bundle = jolt.bundle().sleeper();
    let id = jolt.id("systemd");

    jolt.fails(["--systemd-cgroup", "create", "--bundle", bundle.dir(), &id])
        .assert_stderr_contains(
            "--systemd-cgroup: systemd is not running (no /run/systemd/system)",
        );
    jolt.assert_clean(&id);
}

/// containerd reads runc's errors from `--log` in `--log-format json`.
#[test]
fn errors_are_logged_as_json_lines() {
    let Some(jolt) = session() else { return };
    let log = jolt.host_path("jolt.log");
    let id = jolt.id("never-created");

    jolt.fails([
        "--log",
        log.to_str().unwrap(),
        "--log-format",
        "json",
        "state",
        &id,
    ])
    .assert_stderr_contains("does not exist");

    let text = fs::read_to_string(&log).expect("the log file was written");
    let entries: Vec<Value> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    assert!(
        entries.iter().any(|e| e["level"] == json!("error")
            && e["msg"]
                .as_str()
                .is_some_and(|m| m.contains("does not exist"))),
        "an error entry names the problem:\n{text}"
    );
}

/// A filter, personality or I/O class that jolt silently skipped would
/// leave the user believing it applied: each is refused by name.
#[test]
fn unsupported_features_are_refused_by_name() {
    let Some(jolt) = session() else { return };
    let cases = [
        ("linux.intelRdt", json!({ "closID": "jolt-e2e" })),
        ("linux.personality", json!({ "domain": "LINUX" })),
        (
            "process.ioPriority",
            json!({ "class": "IOPRIO_CLASS_IDLE", "priority": 0 }),
        ),
    ];
    for (field, value) in cases {
        let (section, key) = field.split_once('.').unwrap();
        let bundle = jolt.bundle().sleeper().with(|c| c[section][key] = value);
        let id = jolt.id("unsupported");

        jolt.create_fails(&id, &bundle)
            .assert_stderr_contains("config.json")
            .assert_stderr_contains(field)
            .assert_stderr_contains("not supported");
        jolt.fails(["run", "--bundle", bundle.dir(), &id])
            .assert_stderr_contains(field);
        jolt.assert_clean(&id);
    }
    jolt.assert_root_empty();
}

/// A pid file jolt cannot write fails create, and the container it had
/// already made is undone: containerd would never learn its pid.
#[test]
fn a_pid_file_that_cannot_be_written_fails_create_and_cleans_up() {
    let Some(jolt) = session() else { return };
    let bundle = jolt.bundle().sleeper();
    let pid_file = jolt.host_path("nonexistent").join("dir/pid");
    let id = jolt.id("pid-file");

    let out = jolt.fails([
        "create",
        "--pid-file",
        pid_file.to_str().unwrap(),
        "--bundle",
        bundle.dir(),
        &id,
    ]);
    jolt.assert_clean(&id);
    assert_eq!(jolt.ok(["list", "-q"]).stdout.trim(), "");
    jolt.assert_root_empty();
    assert!(!pid_file.exists());
    out.assert_stderr_contains(pid_file.to_str().unwrap());
}

/// Restores a host sysctl on drop if a broken runtime changed it.
struct SysctlGuard {
    path: &'static str,
    value: String,
}

impl Drop for SysctlGuard {
    fn drop(&mut self) {
        if fs::read_to_string(self.path).ok().as_deref() != Some(self.value.as_str()) {
            let _ = fs::write(self.path, &self.value);
        }
    }
}

/// A net.* sysctl is written in the container's network namespace; when
/// that is the host's, joined by path, it would change the host: create
/// refuses it by name, as runc does.
#[test]
fn a_net_sysctl_in_the_host_network_namespace_is_refused() {
    let Some(jolt) = session() else { return };
    const FORWARD: &str = "/proc/sys/net/ipv4/ip_forward";
    let before = fs::read_to_string(FORWARD).unwrap();
    let _restore = SysctlGuard {
        path: FORWARD,
        value: before.clone(),
    };
    // The other value, so a change would show.
    let value = if before.trim() == "0" { "1" } else { "0" };
    // /proc/1 is the host's init; a sandbox may hide its namespaces, and
    // this test process is in the host's network namespace as well.
    let ours = fs::metadata("/proc/self/ns/net").unwrap();
    let host_net = [
        "/proc/1/ns/net".to_string(),
        format!("/proc/{}/ns/net", std::process::id()),
    ]
    .into_iter()
    .find(|p| fs::metadata(p).is_ok_and(|m| m.dev() == ours.dev() && m.ino() == ours.ino()))
    .expect("a path to this host's network namespace");
    let bundle = jolt
        .bundle()
        .sleeper()
        .namespace("network", Some(&host_net))
        .with(|c| c["linux"]["sysctl"] = json!({ "net.ipv4.ip_forward": value }));
    let id = jolt.id("host-net-sysctl");

    jolt.create_fails(&id, &bundle)
        .assert_stderr_contains("linux.sysctl.net.ipv4.ip_forward")
        .assert_stderr_contains("host");
    assert_eq!(
        fs::read_to_string(FORWARD).unwrap(),
        before,
        "the host's ip_forward is unchanged (joined {host_net})"
    );
    jolt.assert_root_empty();
}

/// An init that dies before it is ready says why, as runc does, instead
/// of "exited before it was ready": the OOM killer under a memory limit
/// below what it needs (with the limit); and a hostname longer than the
/// kernel allows is refused with config.json's other errors, before
/// anything is made (the 8 MB name once made the init's error too long to
/// travel back).
#[test]
fn an_init_that_dies_before_it_is_ready_says_why() {
    let Some(jolt) = session() else { return };
    let bundle = jolt
        .bundle()
        .sh("echo hi")
        .with(|c| c["linux"]["resources"]["memory"] = json!({ "limit": 65536 }));
    let id = jolt.id("oom");
    jolt.create_fails(&id, &bundle)
        .assert_stderr_contains("OOM-killed before it was ready")
        .assert_stderr_contains("memory limit of 65536 bytes is too low");

    let bundle = jolt.bundle().hostname(&"h".repeat(8 << 20));
    let id = jolt.id("hostname");
    jolt.create_fails(&id, &bundle)
        .assert_stderr_contains("hostname: 8388608 bytes; the kernel allows at most 64");
}
