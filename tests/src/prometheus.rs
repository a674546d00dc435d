//! prometheus: a Prometheus server of the test's own (Debian's
//! `prometheus`) that scrapes one target on loopback, such as joltd's
//! `--metrics-listen`, and answers instant queries ([`Prometheus`]).
//!
//! Owns its configuration, storage and log in a temporary directory of
//! its own, its web listener on a free port of 127.0.0.1, waiting until it
//! is ready and has scraped the target, instant queries through its HTTP
//! API (an HTTP/1.0 client over a TcpStream: a 1.0 answer is never
//! chunked, and ends when the connection does), and the teardown that
//! kills it and removes its directory, even after a panic. It does not
//! serve the target's metrics, and it never touches a system Prometheus
//! (Debian's service on :9090).

use std::fs::{self, File};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use tempfile::TempDir;

use crate::http::{http_get, start_on_free_port};
use crate::image::which;
use crate::timeout;

/// The job name of the one target.
pub const JOB: &str = "joltd";

/// A Prometheus running for one test.
pub struct Prometheus {
    child: Child,
    /// The network namespace it runs in (None: the test's).
    netns: Option<PathBuf>,
    listen: SocketAddr,
    target: String,
    dir: TempDir,
}

/// The Prometheus binary: `prometheus` on PATH (Debian's is
/// /usr/bin/prometheus).
pub fn prometheus_bin() -> Option<PathBuf> {
    which("prometheus")
}

/// Whether Prometheus is here. When it is not, says so on stderr and
/// returns false (the test then returns early, a skip).
pub fn require_prometheus() -> bool {
    if prometheus_bin().is_none() {
        eprintln!("skipped: prometheus not found (apt-get install prometheus)");
        return false;
    }
    true
}

impl Prometheus {
    /// Starts Prometheus scraping `target` (`ADDR:PORT`, its `/metrics`)
    /// as job [`JOB`] every `scrape_interval` (also the scrape timeout),
    /// and waits until it is ready (not until it has scraped: see
    /// [`Prometheus::wait_scraped`]).
    pub fn start(target: &str, scrape_interval: Duration) -> Result<Prometheus, String> {
        Prometheus::start_in(None, target, scrape_interval)
    }

    /// [`Prometheus::start`] inside the network namespace file `netns`
    /// (e.g. a test joltd's node namespace, where its `--metrics-listen`
    /// and its probes are); the test reaches it there too.
    pub fn start_in(
        netns: Option<&Path>,
        target: &str,
        scrape_interval: Duration,
    ) -> Result<Prometheus, String> {
        let bin = prometheus_bin().ok_or("prometheus not found (apt-get install prometheus)")?;
        let dir = tempfile::Builder::new()
            .prefix("jolt-e2e-prometheus-")
            .tempdir()
            .map_err(|e| format!("prometheus: a temporary directory: {e}"))?;
        let interval = format!("{}ms", scrape_interval.as_millis().max(1));
        let config = format!(
            "global:\n  scrape_interval: {interval}\n  scrape_timeout: {interval}\n\
             scrape_configs:\n  - job_name: {JOB}\n    static_configs:\n      - targets: [\"{target}\"]\n"
        );
        fs::write(dir.path().join("prometheus.yml"), config).unwrap();
        let (child, listen) = start_on_free_port(
            |listen| spawn(&bin, dir.path(), listen, netns),
            |child, listen| wait_ready(child, netns, listen, dir.path()),
        )?;
        Ok(Prometheus {
            child,
            netns: netns.map(Path::to_path_buf),
            listen,
            target: target.to_string(),
            dir,
        })
    }

    /// Waits until Prometheus has scraped the target and found it up;
    /// Err, with the target's health and last error, after [`timeout`].
    pub fn wait_scraped(&self) -> Result<(), String> {
        let start = Instant::now();
        let mut last = format!("no target of job {JOB} yet");
        while start.elapsed() < timeout() {
            let targets = self.api("/api/v1/targets?state=active")?;
            let ours = targets["activeTargets"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|t| t["labels"]["job"] == JOB);
            if let Some(t) = ours {
                if t["health"] == "up" {
                    return Ok(());
                }
                last = format!("health {}, last error {}", t["health"], t["lastError"]);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err(format!(
            "prometheus: target {} not scraped within {:?}: {last}",
            self.target,
            timeout()
        ))
    }

    /// The instant query `promql` at this moment: the API's `data`
    /// (`resultType` and `result`), or the error Prometheus gave.
    pub fn query(&self, promql: &str) -> Result<Value, String> {
        self.api(&format!("/api/v1/query?query={}", query_escape(promql)))
            .map_err(|e| format!("query {promql}: {e}"))
    }

    /// The single number `promql` gives now (a vector of one sample, or a
    /// scalar); Err naming how many samples there were otherwise.
    pub fn value(&self, promql: &str) -> Result<f64, String> {
        let data = self.query(promql)?;
        let sample = match (data["resultType"].as_str(), &data["result"]) {
            (Some("vector"), Value::Array(v)) if v.len() == 1 => &v[0]["value"],
            (Some("scalar"), s) => s,
            (_, result) => return Err(format!("query {promql}: not one sample: {result}")),
        };
        sample[1]
            .as_str()
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| format!("query {promql}: not a number: {sample}"))
    }

    /// The instant query endpoint, `http://127.0.0.1:PORT/api/v1/query`.
    pub fn url(&self) -> String {
        format!("http://{}/api/v1/query", self.listen)
    }

    /// Where its web listener is (`127.0.0.1:PORT`).
    pub fn listen(&self) -> SocketAddr {
        self.listen
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Its configuration, storage and log.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// What it logged so far.
    pub fn log(&self) -> String {
        read_log(self.dir())
    }

    /// GET `path` of the API: its `data` when the status is "success".
    fn api(&self, path: &str) -> Result<Value, String> {
        let (status, body) = http_get(self.netns.as_deref(), self.listen, path)?;
        let answer: Value = serde_json::from_str(&body)
            .map_err(|e| format!("GET {path}: {status}, not JSON ({e}): {body}"))?;
        match answer["status"].as_str() {
            Some("success") => Ok(answer["data"].clone()),
            _ => Err(format!(
                "GET {path}: {status}: {}: {}",
                answer["errorType"], answer["error"]
            )),
        }
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        // Its data goes with its directory: no need to flush it first.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts Prometheus with everything of its own under `dir`.
fn spawn(
    bin: &Path,
    dir: &Path,
    listen: SocketAddr,
    netns: Option<&Path>,
) -> Result<Child, String> {
    let log = File::create(dir.join("prometheus.log")).unwrap();
    // nsenter execs Prometheus: the child's pid is Prometheus's.
    let mut command = match netns {
        Some(ns) => {
            let mut c = Command::new("nsenter");
            c.arg(format!("--net={}", ns.display())).arg(bin);
            c
        }
        None => Command::new(bin),
    };
    command
        .arg(format!(
            "--config.file={}",
            dir.join("prometheus.yml").display()
        ))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("data").display()
        ))
        .arg(format!("--web.listen-address={listen}"))
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .map_err(|e| format!("starting {}: {e}", bin.display()))
}

/// Waits for `/-/ready` of the Prometheus `child` to answer 200; Err with
/// the end of its log when it exits or [`timeout`] passes first.
fn wait_ready(
    child: &mut Child,
    netns: Option<&Path>,
    listen: SocketAddr,
    dir: &Path,
) -> Result<(), String> {
    let start = Instant::now();
    while start.elapsed() < timeout() {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!(
                "prometheus exited before it was ready ({status}):\n{}",
                log_tail(&read_log(dir))
            ));
        }
        if matches!(http_get(netns, listen, "/-/ready"), Ok((200, _))) {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Err(format!(
        "prometheus on {listen} not ready within {:?}:\n{}",
        timeout(),
        log_tail(&read_log(dir))
    ))
}

fn read_log(dir: &Path) -> String {
    fs::read_to_string(dir.join("prometheus.log")).unwrap_or_default()
}

/// `text` as a URL query component (everything but the unreserved
/// characters percent-encoded).
fn query_escape(text: &str) -> String {
    let mut out = String::new();
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(byte as char)
            }
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

/// The last lines of a log, for an error message.
fn log_tail(log: &str) -> String {
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(15)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_are_escaped() {
        assert_eq!(
            query_escape("up{job=\"joltd\"} == 1"),
            "up%7Bjob%3D%22joltd%22%7D%20%3D%3D%201"
        );
    }
}
