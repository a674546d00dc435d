//! systemd: `jolt --systemd-cgroup`, the container's cgroup as a transient
//! scope that systemd makes — its limits in the unit's properties and in
//! the cgroup files, `update` changing both, pause on the scope's cgroup,
//! and nothing left after delete (no unit, no scope, no cgroup).
//!
//! Then the callers that use the flag: containerd's runc shim with jolt as
//! its binary and the systemd cgroup (`ctr run --runc-binary jolt
//! --runc-systemd-cgroup`, the options `BinaryName` and `SystemdCgroup =
//! true` give the shim), and podman with `--cgroup-manager systemd
//! --runtime jolt`.
//!
//! Needs systemd as PID 1 on cgroup v2: runs in the VM's systemd mode
//! (scripts/test's VM_SYSTEMD_TESTS, `scripts/vm-test --systemd`) and skips
//! elsewhere, naming what is missing.

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;

use jolt_e2e::containerd::Containerd;
use jolt_e2e::podman::Podman;
use jolt_e2e::runner::jolt_bin;
use jolt_e2e::{require, session, Feature, Jolt};
use serde_json::json;

const MIB: u64 = 1024 * 1024;

fn ready() -> Option<Jolt> {
    let jolt = session()?;
    (require(Feature::Systemd) && require(Feature::Cgroup2)).then_some(jolt)
}

/// `systemctl show UNIT -p NAME...` as a map.
fn show(unit: &str, names: &[&str]) -> HashMap<String, String> {
    let out = Command::new("systemctl")
        .args(["show", unit, "-p", &names.join(",")])
        .output()
        .expect("running systemctl");
    assert!(out.status.success(), "systemctl show {unit}: {out:?}");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn file(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name))
        .unwrap_or_else(|e| panic!("{}: {e}", dir.join(name).display()))
        .trim()
        .to_string()
}

/// Asserts systemd no longer knows `unit` and its cgroup is gone.
#[track_caller]
fn assert_no_scope(unit: &str, cgroup: &Path) {
    let state = show(unit, &["LoadState", "ActiveState"]);
    assert!(
        state["LoadState"] == "not-found" || state["ActiveState"] == "inactive",
        "{unit} is still known to systemd: {state:?}"
    );
    assert!(!cgroup.exists(), "{} is left", cgroup.display());
}

#[test]
fn systemd_scope_carries_the_limits_follows_update_and_goes_with_delete() {
    let Some(jolt) = ready() else { return };
    let id = jolt.id("scope");
    let bundle = jolt
        .bundle()
        .sleeper()
        .cgroups_path(&format!("system.slice:jolt-e2e:{id}"))
        .resources("memory", json!({ "limit": 64 * MIB }))
        .resources("pids", json!({ "limit": 32 }))
        .resources(
            "cpu",
            json!({ "shares": 512, "quota": 50000, "period": 100000 }),
        )
        .with(|c| {
            c["annotations"] = json!({
                "org.systemd.property.TimeoutStopUSec": "uint64 123000000",
                "org.systemd.property.CollectMode": "'inactive-or-failed'"
            })
        });
    jolt.ok([
        "--systemd-cgroup",
        "create",
        "--bundle",
        bundle.dir(),
        id.as_str(),
    ]);
    jolt.ok(["start", id.as_str()]);
    let unit = format!("jolt-e2e-{id}.scope");
    let cgroup = Path::new("/sys/fs/cgroup/system.slice").join(&unit);

    let props = show(
        &unit,
        &[
            "ActiveState",
            "Slice",
            "Delegate",
            "MemoryMax",
            "TasksMax",
            "CPUQuotaPerSecUSec",
            "CPUWeight",
            "TimeoutStopUSec",
            "CollectMode",
            "ControlGroup",
        ],
    );
    assert_eq!(props["ActiveState"], "active", "{props:?}");
    assert_eq!(props["Slice"], "system.slice");
    assert_eq!(props["Delegate"], "yes");
    assert_eq!(props["MemoryMax"], (64 * MIB).to_string());
    assert_eq!(props["TasksMax"], "32");
    assert_eq!(props["CPUQuotaPerSecUSec"], "500ms");
    assert_eq!(props["CPUWeight"], "20");
    assert_eq!(props["TimeoutStopUSec"], "2min 3s", "from the annotation");
    assert_eq!(props["CollectMode"], "inactive-or-failed");
    assert_eq!(props["ControlGroup"], format!("/system.slice/{unit}"));

    assert_eq!(file(&cgroup, "memory.max"), (64 * MIB).to_string());
    assert_eq!(file(&cgroup, "pids.max"), "32");
    assert_eq!(file(&cgroup, "cpu.max"), "50000 100000");
    let pid = jolt.pid(&id);
    assert_eq!(
        std::fs::read_to_string(format!("/proc/{pid}/cgroup"))
            .unwrap()
            .trim(),
        format!("0::/system.slice/{unit}"),
        "the init is in the scope"
    );

    // Without the flag: the container keeps the driver that made it.
    jolt.ok(["update", "--memory", "128m", "--pids-limit", "64", &id]);
    let props = show(&unit, &["MemoryMax", "TasksMax"]);
    assert_eq!(props["MemoryMax"], (128 * MIB).to_string(), "{props:?}");
    assert_eq!(props["TasksMax"], "64");
    assert_eq!(file(&cgroup, "memory.max"), (128 * MIB).to_string());
    assert_eq!(file(&cgroup, "pids.max"), "64");

    jolt.ok(["pause", &id]);
    assert_eq!(file(&cgroup, "cgroup.freeze"), "1");
    jolt.ok(["resume", &id]);
    assert_eq!(file(&cgroup, "cgroup.freeze"), "0");

    jolt.ok(["delete", "--force", &id]);
    assert_no_scope(&unit, &cgroup);
    assert!(!jolt.root().join(&id).exists(), "state dir left");
}

#[test]
fn systemd_run_without_a_cgroups_path_uses_jolt_id_scope() {
    let Some(jolt) = ready() else { return };
    let id = jolt.id("default");
    // Without a cgroup namespace, the host's path shows.
    let bundle = jolt
        .bundle()
        .without_namespace("cgroup")
        .sh("cat /proc/self/cgroup");
    let out = jolt.run([
        "--systemd-cgroup",
        "run",
        "--bundle",
        bundle.dir(),
        id.as_str(),
    ]);
    out.assert_success();
    let unit = format!("jolt-{id}.scope");
    assert_eq!(
        out.stdout.trim(),
        format!("0::/system.slice/{unit}"),
        "{out}"
    );
    assert_no_scope(&unit, &Path::new("/sys/fs/cgroup/system.slice").join(&unit));
}

#[test]
fn systemd_refuses_a_cgroupfs_path_and_makes_nothing() {
    let Some(jolt) = ready() else { return };
    let id = jolt.id("badpath");
    let bundle = jolt.bundle().sleeper().cgroups_path("/jolt/not-a-scope");
    let out = jolt.fails([
        "--systemd-cgroup",
        "create",
        "--bundle",
        bundle.dir(),
        id.as_str(),
    ]);
    out.assert_stderr_contains(
        "cgroupsPath \"/jolt/not-a-scope\": under --systemd-cgroup it must be of the form slice:prefix:name",
    );
    jolt.assert_root_empty();
    assert!(!Path::new("/sys/fs/cgroup/jolt/not-a-scope").exists());
}

/// The cgroup line of a process (cgroup v2: one line).
fn cgroup_of(pid: &str) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/cgroup"))
        .unwrap_or_else(|e| panic!("/proc/{pid}/cgroup: {e}"))
        .trim()
        .to_string()
}

#[test]
fn systemd_containerd_runs_jolt_in_a_scope() {
    let Some(_jolt) = ready() else { return };
    let Some(ctrd) = Containerd::start("systemd") else {
        return;
    };
    let name = format!("c{}", std::process::id());
    let path = format!("system.slice:jolt-e2e-ctr:{name}");
    let pid = ctrd.run_detached_with(
        &jolt_bin(),
        "task1",
        &[
            "--runc-systemd-cgroup",
            "--cgroup",
            &path,
            "--memory-limit",
            &(64 * MIB).to_string(),
        ],
        &["sleep", "1000"],
    );
    let unit = format!("jolt-e2e-ctr-{name}.scope");
    let cgroup = Path::new("/sys/fs/cgroup/system.slice").join(&unit);
    assert_eq!(
        cgroup_of(&pid.to_string()),
        format!("0::/system.slice/{unit}")
    );
    let props = show(&unit, &["ActiveState", "MemoryMax", "Delegate"]);
    assert_eq!(props["ActiveState"], "active", "{props:?}");
    assert_eq!(props["MemoryMax"], (64 * MIB).to_string());
    assert_eq!(props["Delegate"], "yes");
    assert_eq!(file(&cgroup, "memory.max"), (64 * MIB).to_string());

    ctrd.ok(&["task", "pause", "task1"]);
    assert_eq!(ctrd.task("task1").unwrap()[2], "PAUSED");
    assert_eq!(file(&cgroup, "cgroup.freeze"), "1");
    ctrd.ok(&["task", "resume", "task1"]);
    assert_eq!(ctrd.task("task1").unwrap()[2], "RUNNING");
    let metrics = ctrd.ok(&["task", "metrics", "task1"]);
    assert!(metrics.contains("memory."), "{metrics}");

    ctrd.remove("task1");
    assert_no_scope(&unit, &cgroup);
    let state = ctrd.runtime_state();
    assert!(state.is_empty(), "runtime state left: {state:?}");
}

#[test]
fn systemd_podman_runs_jolt_in_a_scope() {
    let Some(_jolt) = ready() else { return };
    let Some(podman) = Podman::start_with_systemd(&jolt_bin()) else {
        return;
    };
    let out = podman.ok(&podman.run_args(&[
        "--network",
        "none",
        "--rm",
        jolt_e2e::image::NAME,
        "sh",
        "-c",
        "echo hello-as-pid-$$",
    ]));
    assert!(out.contains("hello-as-pid-1"), "{out}");

    let id = podman
        .ok(&podman.run_args(&[
            "--network",
            "none",
            "-d",
            "--memory",
            "64m",
            "--name",
            "sleeper",
            jolt_e2e::image::NAME,
            "sleep",
            "1000",
        ]))
        .trim()
        .to_string();
    let unit = format!("libpod-{id}.scope");
    let cgroup = Path::new("/sys/fs/cgroup/machine.slice").join(&unit);
    let pid = podman.ok(&["inspect", "--format", "{{.State.Pid}}", "sleeper"]);
    assert_eq!(cgroup_of(pid.trim()), format!("0::/machine.slice/{unit}"));
    assert_eq!(
        show(&unit, &["MemoryMax"])["MemoryMax"],
        (64 * MIB).to_string()
    );
    assert_eq!(file(&cgroup, "memory.max"), (64 * MIB).to_string());

    let out = podman.ok(&[
        "exec",
        "sleeper",
        "sh",
        "-c",
        "echo in-exec-$(cat /proc/1/comm)",
    ]);
    assert!(out.contains("in-exec-sleep"), "{out}");
    podman.ok(&["stop", "--time", "1", "sleeper"]);
    podman.ok(&["rm", "sleeper"]);
    assert_no_scope(&unit, &cgroup);
}

/// On a host with v1 controllers (hybrid), as runc there: systemd makes
/// the scope in the hierarchies it manages, jolt makes the same path in
/// the others (freezer, cpuset, ...), the limits take their v1 names, and
/// delete removes the scope from every hierarchy. Runs in
/// `scripts/vm-test --systemd-hybrid` (scripts/test's VM_HYBRID_TESTS).
#[test]
fn systemd_v1_scope_spans_every_hierarchy_and_goes_with_delete() {
    let Some(jolt) = session() else { return };
    if !(require(Feature::Systemd) && require(Feature::Cgroup1)) {
        return;
    }
    let id = jolt.id("v1scope");
    let bundle = jolt
        .bundle()
        .sleeper()
        .cgroups_path(&format!("system.slice:jolt-e2e:{id}"))
        .resources("memory", json!({ "limit": 64 * MIB }))
        .resources("pids", json!({ "limit": 32 }))
        .resources(
            "cpu",
            json!({ "shares": 512, "quota": 50000, "period": 100000 }),
        );
    jolt.ok([
        "--systemd-cgroup",
        "create",
        "--bundle",
        bundle.dir(),
        id.as_str(),
    ]);
    jolt.ok(["start", id.as_str()]);
    let unit = format!("jolt-e2e-{id}.scope");
    let dir = |hierarchy: &str| {
        Path::new("/sys/fs/cgroup")
            .join(hierarchy)
            .join("system.slice")
            .join(&unit)
    };

    let props = show(
        &unit,
        &[
            "ActiveState",
            "MemoryLimit",
            "TasksMax",
            "CPUShares",
            "CPUQuotaPerSecUSec",
        ],
    );
    assert_eq!(props["ActiveState"], "active", "{props:?}");
    assert_eq!(props["MemoryLimit"], (64 * MIB).to_string());
    assert_eq!(props["TasksMax"], "32");
    assert_eq!(props["CPUShares"], "512");
    assert_eq!(props["CPUQuotaPerSecUSec"], "500ms");
    assert_eq!(
        file(&dir("memory"), "memory.limit_in_bytes"),
        (64 * MIB).to_string()
    );
    assert_eq!(file(&dir("pids"), "pids.max"), "32");
    assert_eq!(file(&dir("cpu"), "cpu.shares"), "512");
    assert_eq!(file(&dir("cpu"), "cpu.cfs_quota_us"), "50000");

    let pid = jolt.pid(&id);
    let membership = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    for controller in ["memory", "pids", "freezer", "cpuset"] {
        let line = membership
            .lines()
            .find(|l| {
                l.split(':')
                    .nth(1)
                    .is_some_and(|c| c.split(',').any(|c| c == controller))
            })
            .unwrap_or_else(|| panic!("no {controller} line in:\n{membership}"));
        assert!(line.ends_with(&format!("/system.slice/{unit}")), "{line}");
    }

    // systemd writes a unit's cgroup settings again at a reload, device
    // rules too (a unit without them would get `a *:* rwm`): the scope
    // carries the container's as DeviceAllow, and they hold.
    let device_allow = show(&unit, &["DevicePolicy", "DeviceAllow"]);
    assert_eq!(device_allow["DevicePolicy"], "strict", "{device_allow:?}");
    let reload = Command::new("systemctl")
        .arg("daemon-reload")
        .status()
        .unwrap();
    assert!(reload.success());
    let devices = file(&dir("devices"), "devices.list");
    assert!(!devices.contains("a *:* rwm"), "after a reload: {devices}");
    for allowed in ["c 1:3 rwm", "c 136:* rwm", "c *:* m"] {
        assert!(
            devices.contains(allowed),
            "after a reload, {allowed}: {devices}"
        );
    }
    assert_eq!(
        file(&dir("memory"), "memory.limit_in_bytes"),
        (64 * MIB).to_string()
    );

    jolt.ok(["pause", &id]);
    assert_eq!(file(&dir("freezer"), "freezer.state"), "FROZEN");
    jolt.ok(["resume", &id]);
    assert_eq!(file(&dir("freezer"), "freezer.state"), "THAWED");

    jolt.ok(["delete", "--force", &id]);
    let state = show(&unit, &["LoadState", "ActiveState"]);
    assert!(
        state["LoadState"] == "not-found" || state["ActiveState"] == "inactive",
        "{unit} is still known to systemd: {state:?}"
    );
    for hierarchy in jolt_e2e::host::cgroup_hierarchies() {
        let left = hierarchy.join("system.slice").join(&unit);
        assert!(!left.exists(), "{} is left", left.display());
    }
}
