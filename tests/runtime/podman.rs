//! jolt under Debian's podman: `podman --runtime jolt` with its own
//! storage, run root and cgroup parent under the test's temp dir, a
//! busybox rootfs brought in with `podman import`: `podman run --rm`,
//! `podman exec` into a detached container, `podman stop`. The same test
//! runs with runc. podman's default seccomp profile is applied (the
//! process reports filter mode 2). podman's default rlimits exceed this
//! machine's hard limits (runc fails the same way), hence the `--ulimit`
//! flags.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use jolt_e2e::host::{cgroup_hierarchies, mount_points_under};
use jolt_e2e::image::{self, runc, which};
use jolt_e2e::require_root;
use jolt_e2e::runner::jolt_bin;

const RUN_FLAGS: &[&str] = &[
    "--network",
    "none",
    "--ulimit",
    "nofile=4096:4096",
    "--ulimit",
    "nproc=4096:4096",
];

/// podman with everything of its own under `dir`. Dropping it removes its
/// containers, unmounts what is left under `dir`, removes the (empty)
/// cgroup parent it was given, and `dir`.
struct Podman {
    dir: PathBuf,
    runtime: PathBuf,
    cgroup_parent: String,
}

struct Out {
    ok: bool,
    stdout: String,
    stderr: String,
}

impl Podman {
    fn new(dir: &Path, runtime: &Path, name: &str) -> Option<Podman> {
        for program in ["podman", "conmon"] {
            if which(program).is_none() {
                eprintln!("skipped: {program} not found (apt-get install podman)");
                return None;
            }
        }
        Some(Podman {
            dir: dir.to_path_buf(),
            runtime: runtime.to_path_buf(),
            cgroup_parent: format!("/jolt-e2e-podman-{name}-{}", std::process::id()),
        })
    }

    fn podman(&self, args: &[&str]) -> Out {
        let secs = jolt_e2e::timeout().as_secs().to_string();
        let d = &self.dir;
        let out = Command::new("timeout")
            .arg(&secs)
            .arg("podman")
            .arg("--root")
            .arg(d.join("storage"))
            .arg("--runroot")
            .arg(d.join("run"))
            .arg("--tmpdir")
            .arg(d.join("tmp"))
            .arg("--runtime")
            .arg(&self.runtime)
            .args([
                "--cgroup-manager",
                "cgroupfs",
                "--events-backend",
                "file",
                "--storage-driver",
                "vfs",
            ])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        Out {
            ok: out.status.success(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    #[track_caller]
    fn ok(&self, args: &[&str]) -> String {
        let out = self.podman(args);
        assert!(
            out.ok,
            "podman {args:?} failed:\n--- stdout\n{}\n--- stderr\n{}",
            out.stdout, out.stderr
        );
        out.stdout
    }

    /// `podman run` arguments: the test's flags, then `rest`.
    fn run_args<'a>(&'a self, rest: &[&'a str]) -> Vec<&'a str> {
        let mut args = vec!["run", "--cgroup-parent", self.cgroup_parent.as_str()];
        args.extend_from_slice(RUN_FLAGS);
        args.extend_from_slice(rest);
        args
    }
}

impl Drop for Podman {
    fn drop(&mut self) {
        let _ = self.podman(&["rm", "--all", "--force", "--time", "0"]);
        for point in mount_points_under(&self.dir) {
            let _ = nix::mount::umount2(&point, nix::mount::MntFlags::MNT_DETACH);
        }
        // rmdir only, deepest first: a cgroup that still holds a process
        // stays (and the test would have failed on it).
        let rel = self.cgroup_parent.trim_start_matches('/');
        for h in cgroup_hierarchies() {
            let parent = h.join(rel);
            if let Ok(children) = fs::read_dir(&parent) {
                for child in children.flatten().filter(|c| c.path().is_dir()) {
                    let _ = fs::remove_dir(child.path());
                }
            }
            let _ = fs::remove_dir(&parent);
        }
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// Held by each podman session: every podman on a host makes its shm
/// locks at the one path /dev/shm/libpod_lock, so two starting at once
/// collide ("failed to create 2048 locks ... file exists").
static ONE_PODMAN_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn session_with(runtime: &Path, name: &str) {
    if !require_root() {
        return;
    }
    let _one = ONE_PODMAN_AT_A_TIME
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let dir = tempfile::Builder::new()
        .prefix("jolt-e2e-podman-")
        .tempdir()
        .unwrap()
        .keep();
    let Some(podman) = Podman::new(&dir, runtime, name) else {
        let _ = fs::remove_dir_all(&dir);
        return;
    };
    let tar = image::rootfs_tar(&dir);
    podman.ok(&["import", tar.to_str().unwrap(), image::NAME]);

    let out =
        podman.ok(&podman.run_args(&["--rm", image::NAME, "sh", "-c", "echo hello-as-pid-$$"]));
    assert!(out.contains("hello-as-pid-1"), "{out}");

    let id = podman
        .ok(&podman.run_args(&["-d", "--name", "sleeper", image::NAME, "sleep", "1000"]))
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
