//! agent: a `joltd` of the test's own (temporary socket, state directory
//! and jolt `--root`), driven with the real `chaosctl`.
//!
//! Owns starting, killing (-9) and stopping (SIGTERM) that joltd, running
//! chaosctl against it, reading its containers as `chaosctl -o json`
//! prints them, and the teardown that removes every container the test's
//! joltd knows (and kills the monitors it started if joltd cannot), even
//! after a panic. It reads joltd's state directory only to check that a
//! removed container left nothing there.

use std::ffi::OsStr;
use std::fs::{self, File};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use serde_json::Value;
use tempfile::TempDir;

use crate::runner::{default_cgroup_path, jolt_bin, Output};
use crate::{host, timeout, wait_until};

/// The joltd binary beside jolt.
pub fn joltd_bin() -> PathBuf {
    jolt_bin().with_file_name("joltd")
}

/// The chaosctl binary beside jolt.
pub fn chaosctl_bin() -> PathBuf {
    jolt_bin().with_file_name("chaosctl")
}

/// A joltd running for one test.
pub struct Agent {
    dir: TempDir,
    joltd: Option<Child>,
    /// Flags for joltd beyond the socket, state and root ones.
    flags: Vec<String>,
}

impl Agent {
    /// Starts joltd in a fresh temporary directory and waits until its
    /// socket answers.
    pub fn start() -> Agent {
        Agent::start_with(&["--debug"])
    }

    /// Starts joltd as [`Agent::start`] does, with `flags` added.
    pub fn start_with(flags: &[&str]) -> Agent {
        let dir = tempfile::Builder::new()
            .prefix("jolt-agent-e2e.")
            .tempdir()
            .unwrap();
        // Traversable, so a non-root test peer can reach the socket's mode.
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o711)).unwrap();
        let mut agent = Agent {
            dir,
            joltd: None,
            flags: flags.iter().map(|f| f.to_string()).collect(),
        };
        agent.restart();
        agent
    }

    pub fn socket(&self) -> PathBuf {
        self.dir.path().join("joltd.sock")
    }

    pub fn state_dir(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    pub fn runtime_root(&self) -> PathBuf {
        self.dir.path().join("run")
    }

    /// A file of the test's own, for bundles and such.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// What joltd wrote on stderr, every start.
    pub fn joltd_log(&self) -> String {
        fs::read_to_string(self.path("joltd.log")).unwrap_or_default()
    }

    /// Starts joltd (again, after a kill or a stop); waits for its socket.
    pub fn restart(&mut self) {
        assert!(self.joltd.is_none(), "joltd is running already");
        let log = File::options()
            .create(true)
            .append(true)
            .open(self.path("joltd.log"))
            .unwrap();
        let child = Command::new(joltd_bin())
            .arg("--socket")
            .arg(self.socket())
            .arg("--state-dir")
            .arg(self.state_dir())
            .arg("--runtime-root")
            .arg(self.runtime_root())
            .arg("--jolt")
            .arg(jolt_bin())
            .args(&self.flags)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", joltd_bin().display()));
        self.joltd = Some(child);
        let socket = self.socket();
        wait_until("joltd's socket", timeout(), || {
            std::os::unix::net::UnixStream::connect(&socket).ok()
        });
    }

    /// joltd's pid.
    pub fn pid(&self) -> i32 {
        self.joltd.as_ref().expect("joltd runs").id() as i32
    }

    /// `kill -9` joltd and reap it.
    pub fn kill9(&mut self) {
        let mut child = self.joltd.take().expect("joltd runs");
        child.kill().unwrap();
        child.wait().unwrap();
    }

    /// SIGTERM to joltd; its exit status.
    pub fn terminate(&mut self) -> ExitStatus {
        let mut child = self.joltd.take().expect("joltd runs");
        kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM).unwrap();
        let limit = timeout();
        wait_until("joltd to exit after SIGTERM", limit, || {
            child.try_wait().unwrap()
        })
    }

    /// Runs chaosctl with this joltd's socket.
    pub fn ctl<I, S>(&self, args: I) -> Output
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.ctl_as(None, args)
    }

    /// Runs chaosctl as user `uid` (root when None).
    pub fn ctl_as<I, S>(&self, uid: Option<u32>, args: I) -> Output
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let args: Vec<_> = args
            .into_iter()
            .map(|a| a.as_ref().to_os_string())
            .collect();
        let mut cmd = Command::new(chaosctl_bin());
        cmd.arg("--socket").arg(self.socket()).args(&args);
        if let Some(uid) = uid {
            cmd.uid(uid).gid(uid);
        }
        let out = cmd
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("running {}: {e}", chaosctl_bin().display()));
        Output {
            command: format!("chaosctl {}", args.join(OsStr::new(" ")).to_string_lossy()),
            status: out.status,
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// `chaosctl ... ARGS`, which must succeed; its stdout.
    #[track_caller]
    pub fn ok<I, S>(&self, args: I) -> String
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let out = self.ctl(args);
        out.assert_success();
        out.stdout
    }

    /// `chaosctl run -d ARGS`: the new container's ID.
    #[track_caller]
    pub fn run(&self, args: &[&str]) -> String {
        let mut all = vec!["run", "-d"];
        all.extend_from_slice(args);
        self.ok(all).trim().to_string()
    }

    /// `chaosctl -o json inspect NAME`.
    #[track_caller]
    pub fn inspect(&self, name: &str) -> Value {
        serde_json::from_str(&self.ok(["-o", "json", "inspect", name])).unwrap()
    }

    /// Waits until `check` holds for `inspect NAME`, and returns that.
    #[track_caller]
    pub fn wait_for(&self, name: &str, what: &str, check: impl Fn(&Value) -> bool) -> Value {
        wait_until(format!("container {name}: {what}"), timeout(), || {
            Some(self.inspect(name)).filter(&check)
        })
    }

    /// The text lines of `chaosctl logs NAME`.
    #[track_caller]
    pub fn logs(&self, name: &str) -> Vec<String> {
        self.ok(["logs", name])
            .lines()
            .map(str::to_string)
            .collect()
    }

    /// Checks that container `id` left nothing: no directory in joltd's
    /// state, no jolt state, no cgroup, no live init `pid`.
    #[track_caller]
    pub fn assert_gone(&self, id: &str, pid: Option<i32>) {
        let dir = self.state_dir().join("containers").join(id);
        assert!(!dir.exists(), "{} is left", dir.display());
        let jolt = self.runtime_root().join(id);
        assert!(!jolt.exists(), "{} is left", jolt.display());
        let cgroups = host::cgroup_dirs_of(&default_cgroup_path(id));
        assert!(cgroups.is_empty(), "cgroups left: {cgroups:?}");
        if let Some(pid) = pid {
            assert!(!host::alive(pid), "process {pid} is still alive");
        }
        let monitors = processes_mentioning(&dir);
        assert!(monitors.is_empty(), "monitors of {id} left: {monitors:?}");
    }

    /// The monitors this joltd started that still run (from their pid
    /// files, checked against /proc).
    fn live_monitors(&self) -> Vec<i32> {
        let mut pids = Vec::new();
        let containers = self.state_dir().join("containers");
        for entry in fs::read_dir(containers).into_iter().flatten().flatten() {
            let Ok(text) = fs::read(entry.path().join("monitor.json")) else {
                continue;
            };
            let Ok(info) = serde_json::from_slice::<Value>(&text) else {
                continue;
            };
            let pid = info["pid"].as_i64().unwrap_or(0) as i32;
            let cmdline = fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let ours = String::from_utf8_lossy(&cmdline).contains(&*entry.path().to_string_lossy());
            if pid > 0 && ours && host::alive(pid) {
                pids.push(pid);
            }
        }
        pids
    }

    fn teardown(&mut self) {
        if self.joltd.is_none() && self.state_dir().exists() {
            self.restart();
        }
        let listed = self.ctl(["-o", "json", "ps", "-a"]);
        if let Ok(Value::Array(all)) = serde_json::from_str::<Value>(&listed.stdout) {
            for c in all {
                let id = c["id"].as_str().unwrap_or_default().to_string();
                let _ = self.ctl(["rm", "-f", &id]);
            }
        }
        if self.joltd.is_some() {
            let _ = self.terminate();
        }
        // What joltd could not remove: its monitors (the containers die
        // with their pid namespace's init), then jolt's state.
        for pid in self.live_monitors() {
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
        }
        if let Ok(entries) = fs::read_dir(self.runtime_root()) {
            for e in entries.flatten() {
                let _ = Command::new(jolt_bin())
                    .arg("--root")
                    .arg(self.runtime_root())
                    .args(["delete", "--force"])
                    .arg(e.file_name())
                    .output();
            }
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        self.teardown();
    }
}

/// Live processes whose command line mentions `path` (a monitor names
/// its container's directory).
pub fn processes_mentioning(path: &Path) -> Vec<i32> {
    let needle = path.to_string_lossy().into_owned();
    let mut pids = Vec::new();
    for entry in fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse().ok()) else {
            continue;
        };
        let cmdline = fs::read(entry.path().join("cmdline")).unwrap_or_default();
        if String::from_utf8_lossy(&cmdline).contains(&needle) && host::alive(pid) {
            pids.push(pid);
        }
    }
    pids
}

/// Whether `path` is a directory holding nothing.
pub fn empty_dir(path: &Path) -> bool {
    fs::read_dir(path).is_ok_and(|mut d| d.next().is_none())
}
