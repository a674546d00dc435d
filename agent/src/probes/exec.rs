//! The `exec` check: a command run with `jolt exec` inside a named
//! container, or inside each running container the experiment targets;
//! every run must exit with the expected code (and print the expected
//! text) within the timeout. A run cut by the timeout is killed: `jolt
//! exec` and the process it started in the container.

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use futures::FutureExt;
use jolt_chaos::probe::Exec;
use jolt_chaos::selector::Candidate;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use super::{within, Check, Node, Outcome};
use crate::container::State;

pub struct ExecCheck {
    pub spec: Exec,
    pub timeout: Duration,
    pub node: Node,
}

impl ExecCheck {
    /// The running containers to run in: (name, id).
    async fn containers(&self) -> Result<Vec<(String, String)>, String> {
        let daemon = &self.node.daemon;
        if let Some(name) = &self.spec.container {
            let r = daemon
                .inspect(name)
                .await
                .map_err(|_| format!("container {name}: no such container"))?;
            if r.status.state != State::Running {
                return Err(format!("container {name} is not running"));
            }
            return Ok(vec![(r.spec.name, r.id)]);
        }
        let running: Vec<(String, String)> = daemon
            .list(false)
            .await
            .into_iter()
            .filter(|r| r.status.state == State::Running)
            .filter(|r| {
                self.node.targets.matches(&Candidate {
                    id: r.id.clone(),
                    name: r.spec.name.clone(),
                    labels: r.spec.labels.clone(),
                    annotations: Default::default(),
                    origin: crate::targets::JOLTD.into(),
                    running: true,
                })
            })
            .map(|r| (r.spec.name, r.id))
            .collect();
        match running.is_empty() {
            true => Err("no target of the experiment is running".into()),
            false => Ok(running),
        }
    }

    /// One `jolt exec` in container `id`.
    async fn exec(&self, name: &str, id: &str) -> Result<(), String> {
        let started = Started::new();
        let jolt = self.node.daemon.jolt();
        let mut cmd =
            tokio::process::Command::from(jolt.exec(id, &self.spec.command, &started.pid_file));
        let child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("running jolt exec: {e}"))?;
        let out = child
            .wait_with_output()
            .await
            .map_err(|e| format!("jolt exec in {name}: {e}"))?;
        started.ended();
        let code = out.status.code().unwrap_or(-1);
        if code != self.spec.exit_code {
            let said = crate::oci::last_line(&out.stderr)
                .or_else(|| crate::oci::last_line(&out.stdout))
                .map(|l| format!(": {l}"))
                .unwrap_or_default();
            return Err(format!(
                "in {name}: exit status {code}, expected {}{said}",
                self.spec.exit_code
            ));
        }
        if let Some(needle) = &self.spec.output {
            if !String::from_utf8_lossy(&out.stdout).contains(needle.as_str()) {
                return Err(format!("in {name}: the output does not hold {needle:?}"));
            }
        }
        Ok(())
    }
}

/// The process one `jolt exec` starts in the container, known by its pid
/// file: killed when the run is dropped before it ended (its timeout
/// passed), since killing `jolt exec` alone would leave it running in the
/// container. The pid file goes either way.
struct Started {
    pid_file: PathBuf,
    ended: bool,
}

impl Started {
    fn new() -> Started {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let name = format!("joltd-probe-{}-{n}.pid", std::process::id());
        Started {
            pid_file: std::env::temp_dir().join(name),
            ended: false,
        }
    }

    fn ended(mut self) {
        self.ended = true;
    }
}

impl Drop for Started {
    fn drop(&mut self) {
        if !self.ended {
            let pid = std::fs::read_to_string(&self.pid_file)
                .ok()
                .and_then(|s| s.trim().parse::<i32>().ok())
                .filter(|p| *p > 0);
            if let Some(pid) = pid {
                let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
            }
        }
        let _ = std::fs::remove_file(&self.pid_file);
    }
}

impl Check for ExecCheck {
    fn run(&self) -> BoxFuture<'_, Outcome> {
        within(self.timeout, async {
            let t0 = Instant::now();
            let containers = match self.containers().await {
                Ok(c) => c,
                Err(e) => return Outcome::fail(t0.elapsed(), e),
            };
            let runs = containers.iter().map(|(name, id)| self.exec(name, id));
            let failures: Vec<String> = futures::future::join_all(runs)
                .await
                .into_iter()
                .filter_map(Result::err)
                .collect();
            match failures.is_empty() {
                true => Outcome::pass(t0.elapsed()),
                false => Outcome::fail(t0.elapsed(), failures.join("; ")),
            }
        })
        .boxed()
    }
}
