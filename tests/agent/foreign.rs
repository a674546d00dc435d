//! Foreign targets: containers that containerd (its runc shim with jolt as
//! the runtime binary) and podman (`--runtime jolt`) run, found by joltd in
//! jolt's state roots and hit by experiments as joltd's own are: selected
//! by annotation, origin or name, killed, paused and throttled, reverted
//! on time and after a `kill -9` of joltd; never stopped or removed
//! through joltd. The cgroup files are found from the init's
//! /proc/PID/cgroup, as a person would.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use jolt_e2e::agent::{joltd_bin, Agent};
use jolt_e2e::containerd::{Containerd, SHIM_ROOT};
use jolt_e2e::host::{self, Cgroups};
use jolt_e2e::image;
use jolt_e2e::podman::Podman;
use jolt_e2e::runner::jolt_bin;
use jolt_e2e::{require_root, wait_until};
use serde_json::Value;

use crate::experiments::{apply, events, get, wait_event, wait_phase};

/// The directory of `pid`'s cgroup holding `controller`'s files.
fn cgroup_dir(pid: i32, controller: &str) -> PathBuf {
    let text = fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    let path = text
        .lines()
        .find_map(|l| {
            let mut f = l.splitn(3, ':');
            let (_, controllers, path) = (f.next()?, f.next()?, f.next()?);
            let ours = match host::cgroups() {
                Cgroups::V2 => controllers.is_empty(),
                Cgroups::V1 => controllers.split(',').any(|c| c == controller),
            };
            ours.then(|| path.to_string())
        })
        .unwrap_or_else(|| panic!("pid {pid}: no {controller} cgroup in:\n{text}"));
    host::cgroup_dir(controller, &path)
}

/// Whether `pid`'s cgroup is frozen, as the freezer says.
fn frozen(pid: i32) -> bool {
    let dir = cgroup_dir(pid, "freezer");
    match host::cgroups() {
        Cgroups::V2 => fs::read_to_string(dir.join("cgroup.events"))
            .unwrap()
            .lines()
            .any(|l| l == "frozen 1"),
        Cgroups::V1 => {
            fs::read_to_string(dir.join("freezer.state"))
                .unwrap()
                .trim()
                == "FROZEN"
        }
    }
}

/// `pid`'s CPU limit as the kernel holds it: cpu.max, or "QUOTA PERIOD".
fn cpu_limit(pid: i32) -> String {
    let dir = cgroup_dir(pid, "cpu");
    let read = |f: &str| fs::read_to_string(dir.join(f)).unwrap().trim().to_string();
    match host::cgroups() {
        Cgroups::V2 => read("cpu.max"),
        Cgroups::V1 => format!("{} {}", read("cpu.cfs_quota_us"), read("cpu.cfs_period_us")),
    }
}

/// The events of kind `kind` in experiment `name`'s timeline.
fn of_kind(a: &Agent, name: &str, kind: &str) -> Vec<Value> {
    events(a, name)
        .into_iter()
        .filter(|e| e["event"] == kind)
        .collect()
}

/// Waits for `n` events of kind `kind`; a failed fault fails the test.
fn wait_events(a: &Agent, name: &str, kind: &str, n: usize) -> Vec<Value> {
    wait_until(
        format!("{n} {kind} events of {name}"),
        jolt_e2e::timeout(),
        || {
            let all = events(a, name);
            let failed: Vec<&Value> = all.iter().filter(|e| e["event"] == "failed").collect();
            assert!(failed.is_empty(), "{name}: {failed:?}");
            let found: Vec<Value> = all.iter().filter(|e| e["event"] == kind).cloned().collect();
            (found.len() >= n).then_some(found)
        },
    )
}

/// The CRI annotations of container `container` in pod `pod` of
/// Kubernetes namespace `ns`, as `ctr run --annotation` arguments.
fn cri(ns: &str, pod: &str, container: &str) -> Vec<String> {
    vec![
        format!("io.kubernetes.cri.sandbox-namespace={ns}"),
        format!("io.kubernetes.cri.sandbox-name={pod}"),
        format!("io.kubernetes.cri.container-name={container}"),
    ]
}

/// Who makes the tasks' cgroups: jolt in cgroupfs, or systemd as scopes
/// (`SystemdCgroup = true`: `ctr run --runc-systemd-cgroup`).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Driver {
    Cgroupfs,
    Systemd,
}

/// containerd with two jolt tasks of pods web-1 and web-2 in a namespace
/// of the test's own, their cgroups made by `driver`; their pids, and the
/// namespace. None (after saying why) where that cannot run.
fn two_pods(name: &str, driver: Driver) -> Option<(Containerd, i32, i32, String)> {
    if !require_root() {
        return None;
    }
    if driver == Driver::Systemd
        && !(jolt_e2e::require(jolt_e2e::Feature::Systemd)
            && jolt_e2e::require(jolt_e2e::Feature::Cgroup2))
    {
        return None;
    }
    let ctrd = Containerd::start(name)?;
    let ns = format!("shop-{name}-{}", std::process::id());
    let run = |task: &str, pod: &str| {
        let mut flags: Vec<String> = cri(&ns, pod, "web")
            .into_iter()
            .flat_map(|a| ["--annotation".to_string(), a])
            .collect();
        if driver == Driver::Systemd {
            let scope = format!("system.slice:jolt-e2e:{ns}-{task}");
            flags.extend(["--runc-systemd-cgroup".into(), "--cgroup".into(), scope]);
        }
        let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
        let pid = ctrd.run_detached_with(&jolt_bin(), task, &flags, &["sleep", "1000"]);
        if driver == Driver::Systemd {
            let cgroup = fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
            let unit = format!("jolt-e2e-{ns}-{task}.scope");
            assert_eq!(cgroup.trim(), format!("0::/system.slice/{unit}"));
        }
        pid
    };
    let (web1, web2) = (run("web1", "web-1"), run("web2", "web-2"));
    Some((ctrd, web1, web2, ns))
}

#[test]
fn containerd_tasks_selected_by_annotation_are_paused_throttled_and_killed() {
    faults_on_containerd_tasks("faults", Driver::Cgroupfs);
}

/// The same with containerd's `SystemdCgroup = true`: each task's cgroup
/// is a systemd scope. Runs in the VM's systemd mode (VM_SYSTEMD_TESTS).
#[test]
fn systemd_scopes_of_containerd_tasks_are_paused_throttled_and_killed() {
    faults_on_containerd_tasks("sdfaults", Driver::Systemd);
}

fn faults_on_containerd_tasks(name: &str, driver: Driver) {
    let Some((ctrd, web1, web2, ns)) = two_pods(name, driver) else {
        return;
    };
    let a = Agent::start_with(&["--runtime-root", SHIM_ROOT]);
    let origin = format!("containerd/{}", ctrd.namespace);

    // Listed with their origin (other tests' tasks share the shim's root
    // and their names); joltd will not stop them.
    let ps = a.ok(["ps", "--all-runtimes"]);
    for task in ["web1", "web2"] {
        let line = ps
            .lines()
            .find(|l| l.split_whitespace().nth(1) == Some(task) && l.contains(&origin))
            .unwrap_or_else(|| panic!("{ps}"));
        assert!(line.contains("sleep 1000"), "{line}");
    }
    let web1_id = format!("{}:web1", ctrd.namespace);
    let out = a.ctl(["stop", &web1_id]);
    let stderr = &out.stderr;
    assert!(!out.status.success());
    assert!(
        stderr.contains(&format!("container {web1_id}: run by {origin}, not joltd")),
        "{stderr}"
    );
    assert_eq!(ctrd.task("web1").unwrap()[2], "RUNNING");

    // Pause: both pods of the namespace, by annotation with a glob.
    let selector = format!(
        "{{annotations: {{io.kubernetes.cri.sandbox-namespace: {ns}, io.kubernetes.cri.sandbox-name: 'web-*'}}, mode: all}}"
    );
    apply(
        &a,
        "freeze",
        &format!("name: freeze\ntargets: {selector}\nschedule: {{at: [0s]}}\nfault: {{kind: pause, duration: 2s}}\n"),
    );
    wait_events(&a, "freeze", "injected", 2);
    assert!(frozen(web1) && frozen(web2), "both pods frozen");
    wait_events(&a, "freeze", "reverted", 2);
    assert!(!frozen(web1) && !frozen(web2), "both thawed");

    // cpu-throttle: the limit changes and comes back exactly.
    let before = cpu_limit(web1);
    apply(
        &a,
        "slow",
        &format!(
            "name: slow\ntargets: {{annotations: {{io.kubernetes.cri.sandbox-namespace: {ns}, io.kubernetes.cri.sandbox-name: web-1}}, origin: containerd}}\n\
             schedule: {{at: [0s]}}\nfault: {{kind: cpu-throttle, cpus: 0.5, duration: 2s}}\n"
        ),
    );
    wait_event(&a, "slow", "injected");
    let during = cpu_limit(web1);
    wait_event(&a, "slow", "reverted");
    assert_ne!(during, before, "throttled");
    assert!(during.starts_with("50000"), "{during}");
    assert_eq!(cpu_limit(web1), before, "restored exactly");

    // kill: containerd sees its task exit.
    apply(
        &a,
        "end",
        &format!(
            "name: end\ntargets: {{annotations: {{io.kubernetes.cri.sandbox-namespace: {ns}, io.kubernetes.cri.sandbox-name: web-2}}}}\n\
             schedule: {{at: [0s]}}\nduration: 2s\nfault: {{kind: kill, signal: SIGKILL}}\n"
        ),
    );
    wait_event(&a, "end", "injected");
    wait_until("containerd to see web2 exit", jolt_e2e::timeout(), || {
        (ctrd.task("web2")?[2] == "STOPPED").then_some(())
    });
    let recovered = wait_event(&a, "end", "recovered");
    assert!(
        recovered["message"]
            .as_str()
            .unwrap()
            .contains("not running again by the experiment's end"),
        "{recovered}"
    );
    assert_eq!(
        ctrd.task("web1").unwrap()[2],
        "RUNNING",
        "only web-2 was hit"
    );
    for name in ["freeze", "slow", "end"] {
        assert_eq!(wait_phase(&a, name, "finished")["phase"], "finished");
        assert!(of_kind(&a, name, "failed").is_empty(), "{name}");
    }
}

/// As kubelet does after a kill: a new container (a new id) of the same
/// pod, namespace and container name runs, and that is the recovery.
#[test]
fn a_killed_cri_container_replaced_under_a_new_id_has_recovered() {
    let Some((ctrd, _, _, ns)) = two_pods("kubelet", Driver::Cgroupfs) else {
        return;
    };
    let a = Agent::start_with(&["--runtime-root", SHIM_ROOT]);
    apply(
        &a,
        "end",
        &format!(
            "name: end\ntargets: {{annotations: {{io.kubernetes.cri.sandbox-namespace: {ns}, io.kubernetes.cri.sandbox-name: web-2}}}}\n\
             schedule: {{at: [0s]}}\nduration: 30s\nfault: {{kind: kill, signal: SIGKILL}}\n"
        ),
    );
    wait_event(&a, "end", "injected");
    wait_until("containerd to see web2 exit", jolt_e2e::timeout(), || {
        (ctrd.task("web2")?[2] == "STOPPED").then_some(())
    });
    let annotations = cri(&ns, "web-2", "web");
    let flags: Vec<&str> = annotations
        .iter()
        .flat_map(|a| ["--annotation", a.as_str()])
        .collect();
    ctrd.run_detached_with(&jolt_bin(), "web2-restarted", &flags, &["sleep", "1000"]);
    let recovered = wait_event(&a, "end", "recovered");
    let msg = recovered["message"].as_str().unwrap();
    assert!(
        msg.starts_with(&format!(
            "replaced by container {}:web2-restarted of the same pod, namespace and container name",
            ctrd.namespace
        )),
        "{recovered}"
    );
}

#[test]
fn a_pause_and_a_throttle_on_containerd_tasks_are_reverted_after_joltd_is_killed() {
    replay_on_containerd_tasks("replay", Driver::Cgroupfs);
}

/// The same on systemd scopes (VM_SYSTEMD_TESTS).
#[test]
fn systemd_scopes_keep_no_pause_or_throttle_after_joltd_is_killed() {
    replay_on_containerd_tasks("sdreplay", Driver::Systemd);
}

fn replay_on_containerd_tasks(name: &str, driver: Driver) {
    let Some((_ctrd, web1, web2, ns)) = two_pods(name, driver) else {
        return;
    };
    let mut a = Agent::start_with(&["--runtime-root", SHIM_ROOT]);
    let before = cpu_limit(web2);
    let on = |pod: &str| {
        format!("{{annotations: {{io.kubernetes.cri.sandbox-namespace: {ns}, io.kubernetes.cri.sandbox-name: {pod}}}}}")
    };
    apply(
        &a,
        "freeze",
        &format!("name: freeze\ntargets: {}\nschedule: {{at: [0s]}}\nfault: {{kind: pause, duration: 10m}}\n", on("web-1")),
    );
    apply(
        &a,
        "slow",
        &format!("name: slow\ntargets: {}\nschedule: {{at: [0s]}}\nfault: {{kind: cpu-throttle, cpus: 0.5, duration: 10m}}\n", on("web-2")),
    );
    wait_events(&a, "freeze", "injected", 1);
    wait_events(&a, "slow", "injected", 1);
    a.kill9();
    assert!(frozen(web1), "the pause outlives joltd");
    assert_ne!(cpu_limit(web2), before, "the throttle outlives joltd");
    a.restart();
    assert!(!frozen(web1), "thawed at joltd's start:\n{}", a.joltd_log());
    assert_eq!(cpu_limit(web2), before, "restored at joltd's start");
    for name in ["freeze", "slow"] {
        assert_eq!(get(&a, name)["phase"], "interrupted", "{name}");
        let reverted = of_kind(&a, name, "reverted");
        assert!(
            reverted[0]["message"]
                .as_str()
                .unwrap()
                .contains("joltd's start"),
            "{name}: {reverted:?}"
        );
    }
    assert!(jolt_e2e::agent::empty_dir(&a.state_dir().join("journal")));
}

#[test]
fn a_containerd_task_without_a_default_route_is_refused_a_network_delay() {
    let Some((_ctrd, _, _, ns)) = two_pods("netem", Driver::Cgroupfs) else {
        return;
    };
    let a = Agent::start_with(&["--runtime-root", SHIM_ROOT]);
    apply(
        &a,
        "lag",
        &format!(
            "name: lag\ntargets: {{annotations: {{io.kubernetes.cri.sandbox-namespace: {ns}, io.kubernetes.cri.sandbox-name: web-1}}}}\n\
             schedule: {{at: [0s]}}\nfault: {{kind: network-delay, latency: 50ms, duration: 2s}}\n"
        ),
    );
    let failed = wait_event(&a, "lag", "failed");
    let msg = failed["message"].as_str().unwrap();
    assert!(
        msg.starts_with(
            "container web1: network-delay: no default route in its network namespace /proc/"
        ),
        "{msg}"
    );
}

/// A containerd task in a network namespace of the test's own whose
/// interface is not eth0 (`ens5`, holding the default route): the delay
/// goes there and goes away on revert. Needs sch_netem: in the VM too
/// (scripts/test's VM_TESTS).
#[test]
fn network_delay_on_a_containerd_task_goes_to_the_interface_of_its_default_route() {
    if !require_root() || !jolt_e2e::require(jolt_e2e::Feature::SchNetem) {
        return;
    }
    let Some(ctrd) = Containerd::start("fnetem") else {
        return;
    };
    let pair = host::NetNsPair::new("fnetem", "10.199.7");
    for step in [
        &["ip", "link", "set", "eth0", "down"][..],
        &["ip", "link", "set", "eth0", "name", "ens5"],
        &["ip", "link", "set", "ens5", "up"],
        &[
            "ip",
            "route",
            "add",
            "default",
            "via",
            "10.199.7.2",
            "dev",
            "ens5",
        ],
    ] {
        pair.a.exec(step);
    }
    let with_ns = format!("network:{}", pair.a.path());
    let tag = format!("net-{}", std::process::id());
    ctrd.run_detached_with(
        &jolt_bin(),
        "web1",
        &[
            "--with-ns",
            &with_ns,
            "--annotation",
            &format!("test={tag}"),
        ],
        &["sleep", "1000"],
    );
    let a = Agent::start_with(&["--runtime-root", SHIM_ROOT]);
    apply(
        &a,
        "lag",
        &format!(
            "name: lag\ntargets: {{annotations: {{test: {tag}}}}}\n\
             schedule: {{at: [0s]}}\nfault: {{kind: network-delay, latency: 100ms, duration: 3s}}\n"
        ),
    );
    wait_events(&a, "lag", "injected", 1);
    let qdiscs = pair.a.exec(&["tc", "qdisc", "show", "dev", "ens5"]);
    assert!(
        qdiscs.contains("netem") && qdiscs.contains("delay 100"),
        "{qdiscs}"
    );
    let rtts = host::ping_rtts(Path::new(&pair.b.path()), "10.199.7.1", 3);
    assert!(
        rtts.iter().all(|&ms| ms >= 95.0),
        "the replies wait: {rtts:?}"
    );
    wait_events(&a, "lag", "reverted", 1);
    let qdiscs = pair.a.exec(&["tc", "qdisc", "show", "dev", "ens5"]);
    assert!(!qdiscs.contains("netem"), "{qdiscs}");
    ctrd.remove("web1");
}

/// podman with jolt, and a detached container `name` (no network); its pid.
fn podman_with(name: &str) -> Option<(Podman, i32)> {
    if !require_root() {
        return None;
    }
    let podman = Podman::start(&jolt_bin(), "foreign", None)?;
    podman.ok(&podman.run_args(&[
        "--network",
        "none",
        "-d",
        "--name",
        name,
        image::NAME,
        "sleep",
        "1000",
    ]));
    let pid = podman.ok(&["inspect", "-f", "{{.State.Pid}}", name]);
    Some((podman, pid.trim().parse().unwrap()))
}

/// podman's root for a runtime it does not know: jolt's default.
const PODMAN_ROOT: &str = "/run/jolt";

#[test]
fn a_podman_container_selected_by_name_is_paused_throttled_and_killed() {
    let name = format!("web-{}", std::process::id());
    let Some((podman, pid)) = podman_with(&name) else {
        return;
    };
    let a = Agent::start_with(&["--runtime-root", PODMAN_ROOT]);
    let ps = a.ok(["ps", "--all-runtimes"]);
    assert!(
        ps.lines()
            .any(|l| l.contains(&name) && l.contains(" podman ")),
        "{ps}"
    );
    let out = a.ctl(["rm", "-f", &name]);
    assert!(!out.status.success());
    let stderr = &out.stderr;
    assert!(stderr.contains("run by podman, not joltd"), "{stderr}");
    let target = format!("{{names: [{name}], origin: podman}}");

    apply(
        &a,
        "freeze",
        &format!("name: freeze\ntargets: {target}\nschedule: {{at: [0s]}}\nfault: {{kind: pause, duration: 2s}}\n"),
    );
    wait_event(&a, "freeze", "injected");
    assert!(frozen(pid));
    wait_event(&a, "freeze", "reverted");
    assert!(!frozen(pid));

    let before = cpu_limit(pid);
    apply(
        &a,
        "slow",
        &format!("name: slow\ntargets: {target}\nschedule: {{at: [0s]}}\nfault: {{kind: cpu-throttle, cpus: 0.5, duration: 2s}}\n"),
    );
    wait_event(&a, "slow", "injected");
    assert!(cpu_limit(pid).starts_with("50000"), "{}", cpu_limit(pid));
    wait_event(&a, "slow", "reverted");
    assert_eq!(cpu_limit(pid), before);

    apply(
        &a,
        "end",
        &format!("name: end\ntargets: {target}\nschedule: {{at: [0s]}}\nfault: {{kind: kill, signal: SIGKILL}}\n"),
    );
    wait_event(&a, "end", "injected");
    wait_until("podman to see it exit", jolt_e2e::timeout(), || {
        let status = podman.ok(&[
            "ps",
            "-a",
            "--filter",
            &format!("name={name}"),
            "--format",
            "{{.Status}}",
        ]);
        status.starts_with("Exited").then_some(())
    });
    for name in ["freeze", "slow", "end"] {
        assert!(of_kind(&a, name, "failed").is_empty(), "{name}");
    }
}

#[test]
fn a_podman_container_removed_mid_fault_is_recorded_as_gone() {
    let name = format!("gone-{}", std::process::id());
    let Some((podman, pid)) = podman_with(&name) else {
        return;
    };
    let a = Agent::start_with(&["--runtime-root", PODMAN_ROOT]);
    apply(
        &a,
        "slow",
        &format!("name: slow\ntargets: {{names: [{name}]}}\nschedule: {{at: [0s]}}\nfault: {{kind: cpu-throttle, cpus: 0.5, duration: 3s}}\n"),
    );
    wait_event(&a, "slow", "injected");
    assert!(cpu_limit(pid).starts_with("50000"));
    podman.ok(&["rm", "--force", "--time", "0", &name]);
    let reverted = wait_event(&a, "slow", "reverted");
    assert_eq!(reverted["message"], "the container is gone", "{reverted}");
    wait_phase(&a, "slow", "finished");
    assert!(
        of_kind(&a, "slow", "failed").is_empty(),
        "{:?}",
        events(&a, "slow")
    );
}

/// joltd with `roots` as its runtime roots: its exit status and stderr.
fn joltd_with_roots(dir: &Path, roots: &[&Path]) -> (bool, String) {
    let mut cmd = Command::new(joltd_bin());
    cmd.arg("--socket")
        .arg(dir.join("joltd.sock"))
        .arg("--state-dir")
        .arg(dir.join("state"))
        .arg("--jolt-root")
        .arg(dir.join("run"));
    for root in roots {
        cmd.arg("--runtime-root").arg(root);
    }
    let out = cmd.stdin(Stdio::null()).output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn runtime_roots_that_do_not_exist_or_are_not_jolts_are_refused_at_start() {
    if !require_root() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nowhere");
    let (ok, stderr) = joltd_with_roots(dir.path(), &[&missing]);
    assert!(!ok);
    assert!(
        stderr.contains(&format!(
            "--runtime-root {}: no such directory",
            missing.display()
        )),
        "{stderr}"
    );
    let notes = dir.path().join("notes");
    fs::create_dir(&notes).unwrap();
    fs::write(notes.join("todo.txt"), "x").unwrap();
    let (ok, stderr) = joltd_with_roots(dir.path(), &[&notes]);
    assert!(!ok);
    assert!(
        stderr.contains(&format!(
            "--runtime-root {}: not a jolt state directory: ",
            notes.display()
        )),
        "{stderr}"
    );
    assert!(!dir.path().join("joltd.sock").exists(), "nothing served");
    assert!(!dir.path().join("state").exists(), "nothing made");
}

#[test]
fn an_annotation_selector_with_an_empty_key_is_refused_naming_the_field() {
    let Some(a) = crate::agent() else { return };
    let path = crate::experiments::file(
        &a,
        "bad",
        "name: bad\ntargets: {annotations: {'': web}}\nschedule: {at: [0s]}\nfault: {kind: kill}\n",
    );
    let out = a.ctl(["apply", "-f", &path]);
    assert!(!out.status.success());
    let stderr = &out.stderr;
    assert!(
        stderr.contains("targets.annotations: an annotation key is empty"),
        "{stderr}"
    );
    let listed: Value = serde_json::from_str(&a.ok(["-o", "json", "experiments"])).unwrap();
    assert_eq!(listed, serde_json::json!([]), "nothing applied");
}

#[test]
fn a_killed_podman_container_that_podman_restarts_has_recovered() {
    if !require_root() {
        return;
    }
    let name = format!("again-{}", std::process::id());
    let Some(podman) = Podman::start(&jolt_bin(), "recover", None) else {
        return;
    };
    podman.ok(&podman.run_args(&[
        "--network",
        "none",
        "-d",
        "--restart",
        "always",
        "--name",
        &name,
        image::NAME,
        "sleep",
        "1000",
    ]));
    let a = Agent::start_with(&["--runtime-root", PODMAN_ROOT]);
    apply(
        &a,
        "end",
        &format!("name: end\ntargets: {{names: [{name}]}}\nschedule: {{at: [0s]}}\nduration: 30s\nfault: {{kind: kill, signal: SIGKILL}}\n"),
    );
    let recovered = wait_events(&a, "end", "recovered", 1).remove(0);
    let msg = recovered["message"].as_str().unwrap();
    assert!(msg.starts_with("running again after "), "{msg}");
    let pid = podman.ok(&["inspect", "-f", "{{.State.Pid}}", &name]);
    assert!(
        host::alive(pid.trim().parse().unwrap()),
        "podman restarted it"
    );
}
