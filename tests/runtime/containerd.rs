//! jolt under Debian's containerd: a containerd of the test's own (see
//! jolt_e2e::containerd: socket, root and state under the test's temp
//! dir, CRI off, the busybox OCI image imported), and the shim
//! (containerd-shim-runc-v2) running jolt through `ctr --runc-binary`:
//! `ctr run --rm` (also with containerd's default seccomp profile), then
//! a detached task that is exec'd into (also on a terminal), listed,
//! paused, resumed, measured, killed and deleted. The same test runs with
//! runc, so that a failure is jolt's and not the test's.
//!
//! In the VM too (scripts/test's VM_TESTS): jolt under containerd, whose
//! pause, resume and metrics take cgroup v2 paths there.

use std::path::Path;
use std::process::{Command, Stdio};

use jolt_e2e::containerd::Containerd;
use jolt_e2e::host::cgroup_dirs_of;
use jolt_e2e::image::{self, runc};
use jolt_e2e::require_root;
use jolt_e2e::runner::jolt_bin;

/// The whole session with `runtime` as the shim's runc binary.
fn session_with(runtime: &Path, name: &str) {
    if !require_root() {
        return;
    }
    let Some(ctrd) = Containerd::start(name) else {
        return;
    };
    let image = format!("{}:latest", image::NAME);
    let bin = runtime.to_str().unwrap();

    // ctr run --rm: the container's output, and nothing left after.
    let out = ctrd.ok(&[
        "run",
        "--rm",
        "--runc-binary",
        bin,
        &image,
        "rm1",
        "sh",
        "-c",
        "echo hello-as-pid-$$",
    ]);
    assert!(out.contains("hello-as-pid-1"), "{out}");

    // containerd's default seccomp profile, as Kubernetes asks for it.
    let out = ctrd.ok(&[
        "run",
        "--rm",
        "--seccomp",
        "--runc-binary",
        bin,
        &image,
        "seccomp1",
        "grep",
        "Seccomp:",
        "/proc/self/status",
    ]);
    assert!(out.contains("Seccomp:\t2"), "filtered: {out}");

    // A detached task.
    ctrd.ok(&[
        "run",
        "-d",
        "--runc-binary",
        bin,
        &image,
        "task1",
        "sleep",
        "1000",
    ]);
    let task = ctrd.task("task1").expect("task1 is listed");
    assert_eq!(task[2], "RUNNING", "{task:?}");
    let pid = task[1].clone();

    let out = ctrd.ok(&[
        "task",
        "exec",
        "--exec-id",
        "exec1",
        "task1",
        "sh",
        "-c",
        "echo in-exec-$(cat /proc/1/comm)",
    ]);
    assert!(out.contains("in-exec-sleep"), "{out}");

    // With a terminal: the shim hands the runtime a console socket. ctr
    // wants a terminal of its own, so it runs under script(1).
    let line = format!(
        "ctr --address {} --namespace {} task exec -t --exec-id tty1 task1 sh -c 'tty; echo on-a-tty'",
        ctrd.socket().display(),
        ctrd.namespace
    );
    let out = Command::new("timeout")
        .arg(jolt_e2e::timeout().as_secs().to_string())
        .args(["script", "-q", "-e", "-c", &line, "/dev/null"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    assert!(
        shown.contains("/dev/pts/") && shown.contains("on-a-tty"),
        "{shown}"
    );

    let ps = ctrd.ok(&["task", "ps", "task1"]);
    assert!(ps.lines().any(|l| l.starts_with(&pid)), "{ps}");

    ctrd.ok(&["task", "pause", "task1"]);
    assert_eq!(ctrd.task("task1").unwrap()[2], "PAUSED");
    ctrd.ok(&["task", "resume", "task1"]);
    assert_eq!(ctrd.task("task1").unwrap()[2], "RUNNING");

    let metrics = ctrd.ok(&["task", "metrics", "task1"]);
    assert!(metrics.contains("pids.current"), "{metrics}");
    assert!(metrics.contains("memory."), "{metrics}");

    ctrd.remove("task1");

    // Nothing of either container is left: runtime state, cgroups.
    let state = ctrd.runtime_state();
    assert!(state.is_empty(), "runtime state left: {state:?}");
    for id in ["rm1", "seccomp1", "task1"] {
        let cgroup = format!("/{}/{id}", ctrd.namespace);
        assert!(cgroup_dirs_of(&cgroup).is_empty(), "{cgroup} left");
    }
}

#[test]
fn containerd_runs_jolt() {
    session_with(&jolt_bin(), "jolt");
}

#[test]
fn containerd_runs_runc_the_same_way() {
    let Some(runc) = runc() else { return };
    session_with(&runc, "runc");
}
