//! probes: running an experiment's steady-state probes from the node.
//!
//! Owns one task per probe that runs its check every interval on joltd's
//! clock (missed ticks are skipped, never bunched; runs of one probe never
//! overlap) and sends each [`Run`] to the hypothesis' watcher. A check is
//! a [`Check`]: HTTP and TCP go out through the node's network namespace
//! (see [`Node::connect`]), `exec`
//! runs `jolt exec` in a container, `prometheus` asks a query endpoint.
//! Judging the results is jolt-chaos's `verdict`.

mod exec;
mod http;
mod prometheus;
mod tcp;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use futures::future::BoxFuture;
use jolt_chaos::experiment::Targets;
use jolt_chaos::probe::{self, Endpoint, Probe};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

use crate::daemon::Daemon;

/// One run of a check: whether it passed, how long it took, and why it
/// failed.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub ok: bool,
    pub latency: Duration,
    pub message: Option<String>,
}

impl Outcome {
    fn pass(latency: Duration) -> Outcome {
        Outcome {
            ok: true,
            latency,
            message: None,
        }
    }

    fn fail(latency: Duration, message: impl Into<String>) -> Outcome {
        Outcome {
            ok: false,
            latency,
            message: Some(message.into()),
        }
    }
}

/// What one probe checks, run once per call; it keeps to its own timeout.
pub trait Check: Send + Sync {
    fn run(&self) -> BoxFuture<'_, Outcome>;
}

/// One result of probe `probe` (its index in the hypothesis).
#[derive(Debug, Clone)]
pub struct Run {
    pub probe: usize,
    pub started: SystemTime,
    pub ended: SystemTime,
    pub outcome: Outcome,
}

/// Where an `exec` probe finds its containers.
#[derive(Clone)]
pub struct Node {
    pub daemon: Arc<Daemon>,
    /// The experiment's targets: an exec probe without a container runs
    /// in each of those running.
    pub targets: Targets,
}

impl Node {
    /// A TCP connection to `e` from the node's network namespace (the one
    /// joltd wires containers in), trying each address `e` resolves to.
    pub async fn connect(&self, e: &Endpoint) -> std::io::Result<TcpStream> {
        let mut last = None;
        for addr in tokio::net::lookup_host((e.host.as_str(), e.port)).await? {
            let network = self.daemon.network().clone();
            let socket = tokio::task::spawn_blocking(move || {
                network.run_in_node(|| {
                    let made = match addr {
                        SocketAddr::V4(_) => TcpSocket::new_v4(),
                        SocketAddr::V6(_) => TcpSocket::new_v6(),
                    };
                    made.map_err(|source| crate::network::Error::Io {
                        what: "a probe's socket".into(),
                        source,
                    })
                })
            })
            .await
            .expect("making a socket does not panic")
            .map_err(|e| std::io::Error::other(e.to_string()))?;
            match socket.connect(addr).await {
                Ok(stream) => return Ok(stream),
                Err(err) => last = Some(err),
            }
        }
        Err(last.unwrap_or_else(|| std::io::Error::new(std::io::ErrorKind::NotFound, "no address")))
    }
}

/// The check of `p`.
pub fn check(p: &Probe, node: &Node) -> Box<dyn Check> {
    match &p.check {
        probe::Check::Http(h) => Box::new(http::HttpCheck::new(h.clone(), p.timeout, node.clone())),
        probe::Check::Tcp(e) => Box::new(tcp::TcpCheck {
            endpoint: e.clone(),
            timeout: p.timeout,
            node: node.clone(),
        }),
        probe::Check::Exec(e) => Box::new(exec::ExecCheck {
            spec: e.clone(),
            timeout: p.timeout,
            node: node.clone(),
        }),
        probe::Check::Prometheus(q) => Box::new(prometheus::PrometheusCheck::new(
            q.clone(),
            p.timeout,
            node.clone(),
        )),
    }
}

/// Starts one task per check, each running at its interval until `stop`
/// is set, sending every run to `tx`.
pub fn start(
    checks: Vec<(Duration, Box<dyn Check>)>,
    tx: mpsc::Sender<Run>,
    stop: watch::Receiver<bool>,
) -> JoinSet<()> {
    let mut tasks = JoinSet::new();
    for (probe, (interval, check)) in checks.into_iter().enumerate() {
        tasks.spawn(every(probe, interval, check, tx.clone(), stop.clone()));
    }
    tasks
}

async fn every(
    probe: usize,
    interval: Duration,
    check: Box<dyn Check>,
    tx: mpsc::Sender<Run>,
    mut stop: watch::Receiver<bool>,
) {
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        let started = SystemTime::now();
        let outcome = tokio::select! {
            o = check.run() => o,
            _ = stop.wait_for(|s| *s) => return,
        };
        let run = Run {
            probe,
            started,
            ended: SystemTime::now(),
            outcome,
        };
        if tx.send(run).await.is_err() {
            return;
        }
    }
}

/// `fut` within `timeout`, or a failure that says it took too long.
async fn within(timeout: Duration, fut: impl std::future::Future<Output = Outcome>) -> Outcome {
    match tokio::time::timeout(timeout, fut).await {
        Ok(o) => o,
        Err(_) => Outcome::fail(
            timeout,
            format!(
                "no answer within {}",
                jolt_chaos::experiment::human(timeout)
            ),
        ),
    }
}
