//! jolt under Debian's podman: `podman --runtime jolt` with its own
//! storage, run root and cgroup parent under the test's temp dir, a
//! busybox rootfs brought in with `podman import`: `podman run --rm`,
//! `podman exec` into a detached container, `podman stop`. The same test
//! runs with runc. podman's default seccomp profile is applied (the
//! process reports filter mode 2). podman's default rlimits exceed this
//! machine's hard limits (runc fails the same way), hence the `--ulimit`
//! flags (see jolt_e2e::podman).

use std::path::Path;

use jolt_e2e::image::{self, runc};
use jolt_e2e::podman::Podman;
use jolt_e2e::require_root;
use jolt_e2e::runner::jolt_bin;

fn session_with(runtime: &Path, name: &str) {
    if !require_root() {
        return;
    }
    let Some(podman) = Podman::start(runtime, name, None) else {
        return;
    };

    let out = podman.ok(&podman.run_args(&[
        "--network",
        "none",
        "--rm",
        image::NAME,
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
            "--name",
            "sleeper",
            image::NAME,
            "sleep",
            "1000",
        ]))
        .trim()
        .to_string();
    assert_eq!(id.len(), 64, "a container id: {id}");
    let out = podman.ok(&[
        "exec",
        "sleeper",
        "sh",
        "-c",
        "echo in-exec-$(cat /proc/1/comm)",
    ]);
    assert!(out.contains("in-exec-sleep"), "{out}");
    // sleep as pid 1 ignores SIGTERM: stop ends with SIGKILL after 1 s.
    podman.ok(&["stop", "--time", "1", "sleeper"]);
    let status = podman.ok(&["inspect", "--format", "{{.State.Status}}", "sleeper"]);
    assert_eq!(status.trim(), "exited");
    podman.ok(&["rm", "sleeper"]);
    let left = podman.ok(&["ps", "--all", "--quiet"]);
    assert!(left.trim().is_empty(), "containers left: {left}");
}

#[test]
fn podman_runs_jolt() {
    session_with(&jolt_bin(), "jolt");
}

#[test]
fn podman_runs_runc_the_same_way() {
    let Some(runc) = runc() else { return };
    session_with(&runc, "runc");
}
