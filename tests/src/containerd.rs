//! containerd: Debian's containerd with everything of its own (socket,
//! root and state under a temporary directory, CRI off) and a ctr
//! namespace of the test's own, the busybox image imported, running jolt
//! through the runc shim (`ctr run --runc-binary`, which is containerd's
//! `BinaryName`).
//!
//! Owns starting it that way and the teardown that deletes the
//! namespace's tasks and containers, stops containerd, unmounts what it
//! left under its directory and removes the namespace's (empty) cgroup
//! parent and runtime state root, even after a panic.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::host::{cgroup_dirs_of, mount_points_under};
use crate::image::{self, which};

/// Where the runc shim keeps its runtime's state: `--root
/// /run/containerd/runc/<namespace>`, whatever containerd's own dirs.
pub const SHIM_ROOT: &str = "/run/containerd/runc";

/// A containerd the test started, and the ctr namespace it uses.
pub struct Containerd {
    dir: PathBuf,
    pub namespace: String,
    daemon: Child,
}

/// What `ctr` printed.
pub struct Ctr {
    pub ok: bool,
    pub stdout: String,
    pub stderr: String,
}

impl Containerd {
    /// A containerd in a new temporary directory with the busybox image
    /// imported as `NAME:latest`; None (after saying why) when containerd,
    /// ctr or the shim is missing.
    pub fn start(name: &str) -> Option<Containerd> {
        Containerd::launch(name, None)
    }

    /// A containerd as [`Containerd::start`] makes, but configured as a
    /// Kubernetes node's is (`containerd config default`, its CRI plugin
    /// on) with `appended` (TOML tables) at the end of its config.toml.
    pub fn start_with_cri(name: &str, appended: &str) -> Option<Containerd> {
        Containerd::launch(name, Some(appended))
    }

    fn launch(name: &str, cri_appended: Option<&str>) -> Option<Containerd> {
        for program in ["containerd", "ctr", "containerd-shim-runc-v2"] {
            if which(program).is_none() {
                eprintln!("skipped: {program} not found (apt-get install containerd)");
                return None;
            }
        }
        let dir = tempfile::Builder::new()
            .prefix("jolt-e2e-containerd-")
            .tempdir()
            .unwrap()
            .keep();
        let config = dir.join("config.toml");
        let d = dir.display();
        let text = match cri_appended {
            None => format!(
                "version = 2\nroot = \"{d}/root\"\nstate = \"{d}/state\"\n\
                 disabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n\
                 [grpc]\n  address = \"{d}/containerd.sock\"\n"
            ),
            // As on a Kubernetes node: `containerd config default` (its
            // runc handler among it), the handler appended.
            Some(appended) => {
                let out = Command::new("containerd")
                    .args(["config", "default"])
                    .output()
                    .expect("containerd config default");
                // Everything of its own under the test's directory: its
                // root, state and socket, and the directories the CRI and
                // opt plugins would otherwise make on the host.
                let mut text = String::from_utf8(out.stdout).unwrap();
                for (host, own) in [
                    (
                        "root = \"/var/lib/containerd\"",
                        format!("root = \"{d}/root\""),
                    ),
                    (
                        "state = \"/run/containerd\"",
                        format!("state = \"{d}/state\""),
                    ),
                    (
                        "address = \"/run/containerd/containerd.sock\"",
                        format!("address = \"{d}/containerd.sock\""),
                    ),
                    (
                        "conf_dir = \"/etc/cni/net.d\"",
                        format!("conf_dir = \"{d}/cni\""),
                    ),
                    ("path = \"/opt/containerd\"", format!("path = \"{d}/opt\"")),
                ] {
                    assert!(text.contains(host), "containerd config default: no {host}");
                    text = text.replacen(host, &own, 1);
                }
                text + "\n" + appended
            }
        };
        fs::write(&config, text).unwrap();
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
            dir,
            namespace: format!("jolt-e2e-{name}-{}", std::process::id()),
            daemon,
        };
        crate::wait_until("containerd's socket", crate::timeout(), || {
            c.ctr(&["version"]).ok.then_some(())
        });
        let tar = image::oci_archive(&c.dir);
        c.ok(&[
            "image",
            "import",
            "--base-name",
            image::NAME,
            tar.to_str().unwrap(),
        ]);
        Some(c)
    }

    pub fn ctr(&self, args: &[&str]) -> Ctr {
        let secs = crate::timeout().as_secs().to_string();
        let out = Command::new("timeout")
            .arg(&secs)
            .arg("ctr")
            .arg("--address")
            .arg(self.socket())
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
    pub fn ok(&self, args: &[&str]) -> String {
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

    /// Runs a detached task `id` of the busybox image with `runtime` as
    /// the shim's runc binary, the OCI `annotations` (key=value) and
    /// `cmd`; its init's pid.
    pub fn run_detached(
        &self,
        runtime: &Path,
        id: &str,
        annotations: &[&str],
        cmd: &[&str],
    ) -> i32 {
        let flags: Vec<&str> = annotations
            .iter()
            .flat_map(|a| ["--annotation", a])
            .collect();
        self.run_detached_with(runtime, id, &flags, cmd)
    }

    /// [`Containerd::run_detached`] with `ctr run` flags of the test's.
    pub fn run_detached_with(&self, runtime: &Path, id: &str, flags: &[&str], cmd: &[&str]) -> i32 {
        let image = format!("{}:latest", image::NAME);
        let mut args = vec!["run", "-d", "--runc-binary", runtime.to_str().unwrap()];
        args.extend(flags);
        args.extend([image.as_str(), id]);
        args.extend(cmd);
        self.ok(&args);
        let task = self.task(id).expect("the task is listed");
        task[1].parse().unwrap()
    }

    /// The task's line of `ctr task ls` (ID, PID, STATUS).
    pub fn task(&self, id: &str) -> Option<Vec<String>> {
        self.ok(&["task", "ls"])
            .lines()
            .map(|l| l.split_whitespace().map(String::from).collect::<Vec<_>>())
            .find(|f| f.first().map(String::as_str) == Some(id))
    }

    /// Kills task `id` (SIGKILL), waits until containerd sees it stopped,
    /// and deletes the task and its container.
    #[track_caller]
    pub fn remove(&self, id: &str) {
        self.ok(&["task", "kill", "-s", "SIGKILL", id]);
        crate::wait_until(format!("{id} to stop"), crate::timeout(), || {
            (self.task(id)?[2] == "STOPPED").then_some(())
        });
        self.ok(&["task", "delete", id]);
        self.ok(&["container", "delete", id]);
    }

    /// What is left in the runtime's state root (nothing, once every
    /// container is deleted).
    pub fn runtime_state(&self) -> Vec<std::ffi::OsString> {
        fs::read_dir(self.runtime_root())
            .map(|d| d.flatten().map(|e| e.file_name()).collect())
            .unwrap_or_default()
    }

    /// `containerd config dump` of this containerd's config: the config
    /// as containerd reads it, its imports merged.
    pub fn config_dump(&self) -> String {
        let out = Command::new("containerd")
            .arg("--config")
            .arg(self.dir.join("config.toml"))
            .args(["config", "dump"])
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(out.status.success(), "containerd config dump: {out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The end of containerd's log.
    pub fn log_tail(&self) -> String {
        tail(&self.dir.join("containerd.log"))
    }

    /// containerd's socket.
    pub fn socket(&self) -> PathBuf {
        self.dir.join("containerd.sock")
    }

    /// The runtime's state root the shim passes as --root.
    pub fn runtime_root(&self) -> PathBuf {
        Path::new(SHIM_ROOT).join(&self.namespace)
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
