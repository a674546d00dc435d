//! registry: a Distribution registry of the test's own (Debian's
//! `docker-registry`, 2.8) on a free port of 127.0.0.1, plain HTTP.
//!
//! Owns its configuration, storage and log in a temporary directory,
//! waiting until `/v2/` answers, where its blobs are stored (for a test
//! that alters them), and the teardown that kills it and removes its
//! directory, even after a panic. It never touches Debian's system
//! service (:5000).

use std::fs::{self, File};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::http::{http_get, start_on_free_port};
use crate::image::which;
use crate::timeout;

/// A registry running for one test.
pub struct Registry {
    child: Child,
    listen: SocketAddr,
    dir: TempDir,
}

/// Whether the registry is here. When it is not, says so on stderr and
/// returns false (the test then returns early, a skip).
pub fn require_registry() -> bool {
    if which("docker-registry").is_none() {
        eprintln!("skipped: docker-registry not found (apt-get install docker-registry)");
        return false;
    }
    true
}

impl Registry {
    /// Starts a registry that asks for `htpasswd` (`USER:BCRYPT-HASH`, as
    /// `htpasswd -B` writes it) when given (basic authentication, which
    /// Distribution allows over plain HTTP), and waits until it answers.
    pub fn start_with(htpasswd: Option<&str>) -> Result<Registry, String> {
        let bin = which("docker-registry")
            .ok_or("docker-registry not found (apt-get install docker-registry)")?;
        let dir = tempfile::Builder::new()
            .prefix("jolt-e2e-registry-")
            .tempdir()
            .map_err(|e| format!("registry: a temporary directory: {e}"))?;
        let auth = match htpasswd {
            Some(line) => {
                let file = dir.path().join("htpasswd");
                fs::write(&file, format!("{line}\n")).unwrap();
                format!(
                    "auth:\n  htpasswd:\n    realm: jolt-e2e\n    path: {}\n",
                    file.display()
                )
            }
            None => String::new(),
        };
        let spawn = |listen: SocketAddr| {
            let config = format!(
                "version: 0.1\nlog:\n  level: info\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: {listen}\n{auth}",
                dir.path().join("data").display()
            );
            let config_file = dir.path().join("config.yml");
            fs::write(&config_file, config).unwrap();
            let log = File::create(dir.path().join("registry.log")).unwrap();
            Command::new(&bin)
                .arg("serve")
                .arg(&config_file)
                .stdin(Stdio::null())
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .spawn()
                .map_err(|e| format!("starting {}: {e}", bin.display()))
        };
        let (child, listen) =
            start_on_free_port(spawn, |child, listen| wait_ready(child, listen, dir.path()))?;
        Ok(Registry { child, listen, dir })
    }

    /// `127.0.0.1:PORT`, the registry part of a reference.
    pub fn host(&self) -> String {
        self.listen.to_string()
    }

    /// Where the registry keeps its blobs (`sha256/XX/HEX/data`).
    pub fn blobs_dir(&self) -> PathBuf {
        self.dir.path().join("data/docker/registry/v2/blobs")
    }

    /// What it logged so far.
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default()
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits for `GET /v2/` to answer 200; Err with its log when it exits or
/// [`timeout`] passes first.
fn wait_ready(child: &mut Child, listen: SocketAddr, dir: &Path) -> Result<(), String> {
    let start = Instant::now();
    let log = || fs::read_to_string(dir.join("registry.log")).unwrap_or_default();
    while start.elapsed() < timeout() {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("docker-registry exited ({status}):\n{}", log()));
        }
        // 401 from a registry that asks for credentials: it is up.
        if matches!(http_get(None, listen, "/v2/"), Ok((200 | 401, _))) {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Err(format!(
        "docker-registry on {listen} not ready within {:?}:\n{}",
        timeout(),
        log()
    ))
}
