//! jolt under Debian's containerd: a containerd of the test's own (socket,
//! root and state under the test's temp dir, CRI off), a busybox OCI
//! image imported with `ctr image import`, and the shim
//! (containerd-shim-runc-v2) running jolt through `ctr --runc-binary`:
//! `ctr run --rm` (also with containerd's default seccomp profile), then
//! a detached task that is exec'd into (also on a terminal), listed,
//! paused, resumed, measured, killed and deleted. The same test runs with
//! runc, so that a failure is jolt's and not the test's.
//!
//! In the VM too (scripts/test's VM_TESTS): jolt under containerd, whose
//! pause, resume and metrics take cgroup v2 paths there.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use jolt_e2e::host::{cgroup_dirs_of, mount_points_under};
use jolt_e2e::image::{self, runc, which};
use jolt_e2e::runner::jolt_bin;
use jolt_e2e::{require_root, wait_until};

/// A containerd the test started, and the ctr namespace it uses. Dropping
/// it deletes the namespace's tasks and containers, stops containerd,
/// unmounts what it left under its directory and removes the namespace's
/// (empty) cgroup parent and runtime state root.
struct Containerd {
    dir: PathBuf,
    namespace: String,
    daemon: Child,
}

/// What `ctr` printed.
struct Ctr {
    ok: bool,
    stdout: String,
    stderr: String,
}

impl Containerd {
    /// None (after saying why) when containerd, ctr or the shim is missing.
    fn start(dir: &Path, name: &str) -> Option<Containerd> {
        for program in ["containerd", "ctr", "containerd-shim-runc-v2"] {
            if which(program).is_none() {
                eprintln!("skipped: {program} not found (apt-get install containerd)");
                return None;
            }
        }
        let config = dir.join("config.toml");
        fs::write(
            &config,
            format!(
                "version = 2\nroot = \"{d}/root\"\nstate = \"{d}/state\"\n\
                 disabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n\
                 [grpc]\n  address = \"{d}/containerd.sock\"\n",
                d = dir.display()
            ),
        )
        .unwrap();
        let log = fs::File::create(dir.join("containerd.log")).unwrap();
        let daemon = Command::new("containerd")
            .arg("--config")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("starting containerd");
        let c = Containerd {
            dir: dir.to_path_buf(),
            namespace: format!("jolt-e2e-{name}-{}", std::process::id()),
            daemon,
        };
        wait_until("containerd's socket", jolt_e2e::timeout(), || {
            c.ctr(&["version"]).ok.then_some(())
        });
        Some(c)
    }

    fn ctr(&self, args: &[&str]) -> Ctr {
        let secs = jolt_e2e::timeout().as_secs().to_string();
        let out = Command::new("timeout")
            .arg(&secs)
            .arg("ctr")
            .arg("--address")
            .arg(self.dir.join("containerd.sock"))
            .arg("--namespace")
            .arg(&self.namespace)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        Ctr {
            ok: out.status.success(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    #[track_caller]
    fn ok(&self, args: &[&str]) -> String {
        let out = self.ctr(args);
        assert!(
            out.ok,
            "ctr {args:?} failed:\n--- stdout\n{}\n--- stderr\n{}\n--- containerd.log (end)\n{}",
            out.stdout,
            out.stderr,
            tail(&self.dir.join("containerd.log"))
        );
        out.stdout
    }

    /// The task's line of `ctr task ls` (ID, PID, STATUS).
    fn task(&self, id: &str) -> Option<Vec<String>> {
        self.ok(&["task", "ls"])
            .lines()
            .map(|l| l.split_whitespace().map(String::from).collect::<Vec<_>>())
            .find(|f| f.first().map(String::as_str) == Some(id))
    }

    /// The runtime's state root the shim passes as --root.
    fn runtime_root(&self) -> PathBuf {
        Path::new("/run/containerd/runc").join(&self.namespace)
    }
}

impl Drop for Containerd {
    fn drop(&mut self) {
        for line in self.ctr(&["task", "ls", "-q"]).stdout.lines() {
            let _ = self.ctr(&["task", "kill", "-s", "SIGKILL", line]);
            std::thread::sleep(Duration::from_millis(200));
            let _ = self.ctr(&["task", "delete", "-f", line]);
        }
        for line in self.ctr(&["container", "ls", "-q"]).stdout.lines() {
            let _ = self.ctr(&["container", "delete", line]);
        }
        let _ = self.daemon.kill();
        let _ = self.daemon.wait();
        for point in mount_points_under(&self.dir) {
            let _ = nix::mount::umount2(&point, nix::mount::MntFlags::MNT_DETACH);
        }
        // Only empty directories of this test's own namespace go: rmdir.
        let parent = format!("/{}", self.namespace);
        for dir in cgroup_dirs_of(&parent) {
            let _ = fs::remove_dir(dir);
        }
        let _ = fs::remove_dir(self.runtime_root());
        let _ = fs::remove_dir_all(&self.dir);
    }
}

fn tail(path: &Path) -> String {
    let text = fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

/// The whole session with `runtime` as the shim's runc binary.
fn session_with(runtime: &Path, name: &str) {
    if !require_root() {
        return;
    }
    let dir = tempfile::Builder::new()
        .prefix("jolt-e2e-containerd-")
        .tempdir()
        .unwrap()
        .keep();
    let Some(ctrd) = Containerd::start(&dir, name) else {
        let _ = fs::remove_dir_all(&dir);
        return;
    };
    let tar = image::oci_archive(&dir);
    ctrd.ok(&[
        "image",
        "import",
        "--base-name",
        image::NAME,
        tar.to_str().unwrap(),
    ]);
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
        ctrd.dir.join("containerd.sock").display(),
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

    ctrd.ok(&["task", "kill", "-s", "SIGKILL", "task1"]);
    wait_until("task1 to stop", jolt_e2e::timeout(), || {
        (ctrd.task("task1")?[2] == "STOPPED").then_some(())
    });
    ctrd.ok(&["task", "delete", "task1"]);
    ctrd.ok(&["container", "delete", "task1"]);

    // Nothing of either container is left: runtime state, cgroups.
    let state: Vec<_> = fs::read_dir(ctrd.runtime_root())
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
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
