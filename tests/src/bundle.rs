//! bundle: a throwaway OCI bundle, as a user would make one: `jolt spec`,
//! a busybox rootfs, then edits to config.json.
//!
//! Owns the rootfs layout (static busybox, its applet links, /etc/passwd
//! and /etc/group with root and `user` 1000) and the config.json edits the
//! tests need. Every edit is written to disk at once, so config.json is
//! always what the next `jolt create` reads. The directory itself belongs
//! to the [`Jolt`] that made it and goes away with it.

use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use serde_json::{json, Value};

use crate::runner::Jolt;
use crate::BUSYBOX;

pub const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\n\
                          user:x:1000:1000:user:/home/user:/bin/sh\n\
                          nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n";
pub const GROUP: &str = "root:x:0:\nuser:x:1000:\nextra:x:2000:\nnogroup:x:65534:\n";

/// A bundle directory with `config.json` and `rootfs/`.
pub struct Bundle {
    dir: PathBuf,
    dir_str: String,
    config: Value,
}

impl Bundle {
    /// `jolt spec --bundle DIR`, a busybox rootfs, and terminal false (the
    /// tests read the container's output from files).
    pub(crate) fn create(jolt: &Jolt, dir: PathBuf) -> Bundle {
        fs::create_dir(&dir).unwrap();
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
        let dir_str = dir.to_str().expect("temp paths are UTF-8").to_string();
        jolt.ok(["spec", "--bundle", &dir_str]);
        let text = fs::read(dir.join("config.json"))
            .unwrap_or_else(|e| panic!("jolt spec wrote no {dir_str}/config.json: {e}"));
        let config: Value = serde_json::from_slice(&text)
            .unwrap_or_else(|e| panic!("jolt spec wrote invalid JSON: {e}"));
        let mut bundle = Bundle {
            dir,
            dir_str,
            config,
        };
        build_rootfs(&bundle.rootfs());
        bundle.update(|c| c["process"]["terminal"] = json!(false));
        bundle
    }

    /// The bundle directory, as `--bundle` takes it.
    pub fn dir(&self) -> &str {
        &self.dir_str
    }

    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// `<bundle>/rootfs`.
    pub fn rootfs(&self) -> PathBuf {
        self.dir.join("rootfs")
    }

    /// config.json as last written.
    pub fn config(&self) -> &Value {
        &self.config
    }

    /// Edits config.json in place and writes it.
    pub fn update(&mut self, edit: impl FnOnce(&mut Value)) {
        edit(&mut self.config);
        let text = serde_json::to_vec_pretty(&self.config).unwrap();
        fs::write(self.dir.join("config.json"), text).unwrap();
    }

    /// Edits config.json and writes it (builder form).
    pub fn with(mut self, edit: impl FnOnce(&mut Value)) -> Self {
        self.update(edit);
        self
    }

    /// process.args.
    pub fn args(self, args: &[&str]) -> Self {
        self.with(|c| c["process"]["args"] = json!(args))
    }

    /// process.args = ["sh", "-c", script].
    pub fn sh(self, script: &str) -> Self {
        self.args(&["sh", "-c", script])
    }

    /// process.args = ["sleep", "1000"]: a container that stays up until
    /// it is killed.
    pub fn sleeper(self) -> Self {
        self.args(&["sleep", "1000"])
    }

    /// process.<key> = value.
    pub fn process(self, key: &str, value: Value) -> Self {
        self.with(|c| c["process"][key] = value)
    }

    /// process.terminal = true (see [`Jolt::console_socket`]).
    pub fn terminal(self) -> Self {
        self.process("terminal", json!(true))
    }

    /// process.env, replacing the spec's.
    pub fn env(self, env: &[&str]) -> Self {
        self.with(|c| c["process"]["env"] = json!(env))
    }

    pub fn hostname(self, name: &str) -> Self {
        self.with(|c| c["hostname"] = json!(name))
    }

    /// process.user.
    pub fn user(self, user: Value) -> Self {
        self.with(|c| c["process"]["user"] = user)
    }

    /// process.capabilities: bounding, effective and permitted set to
    /// `caps`, no inheritable or ambient.
    pub fn capabilities(self, caps: &[&str]) -> Self {
        self.with(|c| {
            c["process"]["capabilities"] =
                json!({ "bounding": caps, "effective": caps, "permitted": caps })
        })
    }

    /// Appends to mounts (see [`Bundle::mount_count`] for its index).
    pub fn mount(self, mount: Value) -> Self {
        self.with(|c| c["mounts"].as_array_mut().unwrap().push(mount))
    }

    /// Number of entries in mounts (the index the next mount gets).
    pub fn mount_count(&self) -> usize {
        self.config["mounts"].as_array().map_or(0, Vec::len)
    }

    /// A bind mount of host `source` at `destination` with `options`
    /// (e.g. ["rbind", "rw"]).
    pub fn bind(self, source: &Path, destination: &str, options: &[&str]) -> Self {
        self.mount(json!({
            "destination": destination,
            "type": "bind",
            "source": source,
            "options": options,
        }))
    }

    /// Drops the mount at `destination`.
    pub fn without_mount(self, destination: &str) -> Self {
        self.with(|c| {
            c["mounts"]
                .as_array_mut()
                .unwrap()
                .retain(|m| m["destination"] != destination)
        })
    }

    /// Drops the namespace of type `kind` (the container shares the host's).
    pub fn without_namespace(self, kind: &str) -> Self {
        self.with(|c| namespaces(c).retain(|n| n["type"] != kind))
    }

    /// Sets the namespace of type `kind`, new (path None) or joined.
    pub fn namespace(self, kind: &str, path: Option<&str>) -> Self {
        self.with(|c| {
            let list = namespaces(c);
            list.retain(|n| n["type"] != kind);
            let mut ns = json!({ "type": kind });
            if let Some(path) = path {
                ns["path"] = json!(path);
            }
            list.push(ns);
        })
    }

    /// Appends `hook` to hooks.<kind>.
    pub fn hook(self, kind: &str, hook: Value) -> Self {
        self.with(|c| {
            let hooks = c["hooks"][kind].as_array_mut();
            match hooks {
                Some(list) => list.push(hook),
                None => c["hooks"][kind] = json!([hook]),
            }
        })
    }

    /// linux.resources.<key> = value.
    pub fn resources(self, key: &str, value: Value) -> Self {
        self.with(|c| c["linux"]["resources"][key] = value)
    }

    /// linux.cgroupsPath.
    pub fn cgroups_path(self, path: &str) -> Self {
        self.with(|c| c["linux"]["cgroupsPath"] = json!(path))
    }

    /// chown -R the rootfs (for a user namespace whose root maps there).
    pub fn rootfs_owner(self, uid: u32, gid: u32) -> Self {
        chown_tree(&self.rootfs(), uid, gid);
        self
    }
}

/// A hook running `sh -c script` (on the host, or in the container for
/// createContainer and startContainer); add "env" or "timeout" to taste.
pub fn sh_hook(script: &str) -> Value {
    json!({ "path": "/bin/sh", "args": ["sh", "-c", script] })
}

fn namespaces(config: &mut Value) -> &mut Vec<Value> {
    config["linux"]["namespaces"]
        .as_array_mut()
        .expect("config.json has linux.namespaces")
}

fn chown_tree(path: &Path, uid: u32, gid: u32) {
    std::os::unix::fs::lchown(path, Some(uid), Some(gid)).unwrap();
    if path.is_symlink() || !path.is_dir() {
        return;
    }
    for entry in fs::read_dir(path).unwrap() {
        chown_tree(&entry.unwrap().path(), uid, gid);
    }
}

/// busybox's applets as paths relative to / (`busybox --list-full`).
fn applets() -> &'static [String] {
    static APPLETS: OnceLock<Vec<String>> = OnceLock::new();
    APPLETS.get_or_init(|| {
        let out = Command::new(BUSYBOX)
            .arg("--list-full")
            .output()
            .expect("running busybox --list-full");
        assert!(out.status.success(), "busybox --list-full failed");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_string)
            .filter(|a| !a.is_empty())
            .collect()
    })
}

/// Fills `rootfs` with the static busybox, a symlink per applet,
/// /etc/passwd and /etc/group, and the usual empty directories.
pub fn build_rootfs(rootfs: &Path) {
    for dir in [
        "bin",
        "sbin",
        "usr/bin",
        "usr/sbin",
        "proc",
        "sys",
        "dev",
        "etc",
        "root",
        "home/user",
        "tmp",
        "var",
    ] {
        fs::create_dir_all(rootfs.join(dir)).unwrap();
    }
    fs::set_permissions(rootfs.join("tmp"), fs::Permissions::from_mode(0o1777)).unwrap();
    // Copied by a child process: a write fd to an executable, inherited by
    // a concurrent test's fork, would make exec fail with ETXTBSY.
    let status = Command::new("cp")
        .arg(BUSYBOX)
        .arg(rootfs.join("bin/busybox"))
        .status()
        .expect("running cp");
    assert!(status.success(), "cp {BUSYBOX} into the rootfs failed");
    for applet in applets() {
        if applet == "bin/busybox" {
            continue;
        }
        let link = rootfs.join(applet);
        fs::create_dir_all(link.parent().unwrap()).unwrap();
        match symlink("/bin/busybox", &link) {
            Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => {
                panic!("symlink {}: {e}", link.display())
            }
            _ => {}
        }
    }
    fs::write(rootfs.join("etc/passwd"), PASSWD).unwrap();
    fs::write(rootfs.join("etc/group"), GROUP).unwrap();
    std::os::unix::fs::chown(rootfs.join("home/user"), Some(1000), Some(1000)).unwrap();
}
