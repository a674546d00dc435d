//! podman: Debian's podman with everything of its own (storage, run root,
//! temp dir, cgroup parent) under a temporary directory, optionally inside
//! a network namespace the test made, with the busybox image imported.
//!
//! Owns starting podman that way and the teardown that removes its
//! containers, unmounts what is left under its directory and removes its
//! cgroup parent, even after a panic. podman's default rlimits exceed this
//! machine's hard limits (runc fails the same way), hence the `--ulimit`
//! flags of [`Podman::run_args`].

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Mutex, MutexGuard};

use crate::host::{cgroup_hierarchies, mount_points_under};
use crate::image::{self, which};

/// Flags every `podman run` of a test gets.
const RUN_FLAGS: &[&str] = &[
    "--ulimit",
    "nofile=4096:4096",
    "--ulimit",
    "nproc=4096:4096",
];

/// Held by each podman session: every podman on a host makes its shm
/// locks at the one path /dev/shm/libpod_lock, so two starting at once
/// collide ("failed to create 2048 locks ... file exists").
static ONE_PODMAN_AT_A_TIME: Mutex<()> = Mutex::new(());

/// A podman of the test's own.
pub struct Podman {
    dir: PathBuf,
    runtime: PathBuf,
    /// `--cgroup-parent` under cgroupfs; None: podman's systemd cgroup
    /// manager and its default, machine.slice (systemd removes its scopes).
    cgroup_parent: Option<String>,
    /// The network namespace podman runs in (its bridge, veths and
    /// iptables rules go there); None: the test's own.
    netns: Option<String>,
    _one: MutexGuard<'static, ()>,
}

/// What one podman command gave.
pub struct Out {
    pub ok: bool,
    pub stdout: String,
    pub stderr: String,
}

impl Podman {
    /// A podman with `runtime` as its OCI runtime, in a new temporary
    /// directory, the busybox image imported as [`image::NAME`]; podman
    /// runs in `netns` (a path) when given. None, after saying why, where
    /// podman is missing.
    pub fn start(runtime: &Path, name: &str, netns: Option<&str>) -> Option<Podman> {
        let parent = format!("/jolt-e2e-podman-{name}-{}", std::process::id());
        Podman::start_with(runtime, Some(parent), netns)
    }

    /// [`Podman::start`] with `cgroup_manager = "systemd"`: each container's
    /// cgroup is a scope in machine.slice (needs systemd as PID 1).
    pub fn start_with_systemd(runtime: &Path) -> Option<Podman> {
        Podman::start_with(runtime, None, None)
    }

    fn start_with(
        runtime: &Path,
        cgroup_parent: Option<String>,
        netns: Option<&str>,
    ) -> Option<Podman> {
        for program in ["podman", "conmon"] {
            if which(program).is_none() {
                eprintln!("skipped: {program} not found (apt-get install podman)");
                return None;
            }
        }
        let one = ONE_PODMAN_AT_A_TIME
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let dir = tempfile::Builder::new()
            .prefix("jolt-e2e-podman-")
            .tempdir()
            .unwrap()
            .keep();
        let podman = Podman {
            dir,
            runtime: runtime.to_path_buf(),
            cgroup_parent,
            netns: netns.map(str::to_string),
            _one: one,
        };
        let tar = image::rootfs_tar(&podman.dir);
        podman.ok(&["import", tar.to_str().unwrap(), image::NAME]);
        Some(podman)
    }

    pub fn podman(&self, args: &[&str]) -> Out {
        let secs = crate::timeout().as_secs().to_string();
        let d = &self.dir;
        let mut cmd = Command::new("timeout");
        cmd.arg(&secs);
        if let Some(netns) = &self.netns {
            cmd.arg("nsenter").arg(format!("--net={netns}"));
        }
        let out = cmd
            .arg("podman")
            .arg("--root")
            .arg(d.join("storage"))
            .arg("--runroot")
            .arg(d.join("run"))
            .arg("--tmpdir")
            .arg(d.join("tmp"))
            .arg("--runtime")
            .arg(&self.runtime)
            .arg("--cgroup-manager")
            .arg(match self.cgroup_parent {
                Some(_) => "cgroupfs",
                None => "systemd",
            })
            .args(["--events-backend", "file", "--storage-driver", "vfs"])
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
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.podman(args);
        assert!(
            out.ok,
            "podman {args:?} failed:\n--- stdout\n{}\n--- stderr\n{}",
            out.stdout, out.stderr
        );
        out.stdout
    }

    /// `podman run` arguments: the test's flags, then `rest`.
    pub fn run_args<'a>(&'a self, rest: &[&'a str]) -> Vec<&'a str> {
        let mut args = vec!["run"];
        if let Some(parent) = &self.cgroup_parent {
            args.extend(["--cgroup-parent", parent.as_str()]);
        }
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
        // stays (and the test would have failed on it). conmon leaves its
        // cgroup a moment after `podman rm` returns: retried for a while.
        let Some(parent) = &self.cgroup_parent else {
            let _ = fs::remove_dir_all(&self.dir);
            return;
        };
        let rel = parent.trim_start_matches('/');
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        for h in cgroup_hierarchies() {
            let parent = h.join(rel);
            while parent.exists() {
                if let Ok(children) = fs::read_dir(&parent) {
                    for child in children.flatten().filter(|c| c.path().is_dir()) {
                        let _ = fs::remove_dir(child.path());
                    }
                }
                if fs::remove_dir(&parent).is_ok() || std::time::Instant::now() > deadline {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
        }
        let _ = fs::remove_dir_all(&self.dir);
    }
}
