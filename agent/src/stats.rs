//! stats: what a running container uses now, read from its cgroup and its
//! network namespace: CPU time so far (cpu.stat on v2, cpuacct.usage on
//! v1), memory in use and its limit, the number of tasks, and the bytes
//! its interfaces (all but loopback) received and sent, from
//! /proc/PID/net/dev of its init. A rate (CPU %, bytes/s) is the caller's:
//! two readings and the time between them.

use std::fs;
use std::io;
use std::path::Path;

use jolt_runtime::cgroups::placement::{Controller, Located, View};
use serde::{Deserialize, Serialize};

/// One reading of a container's use.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Stats {
    /// CPU time used so far, in nanoseconds.
    pub cpu_ns: u64,
    pub memory_bytes: u64,
    /// None: no limit.
    pub memory_limit: Option<u64>,
    pub pids: u64,
    pub net_rx_bytes: u64,
    pub net_tx_bytes: u64,
}

/// Why a container's use could not be read.
#[derive(Debug, thiserror::Error)]
#[error("stats of pid {pid}: {what}: {reason}")]
pub struct StatsError {
    pid: i32,
    what: String,
    reason: String,
}

fn number(path: &Path) -> io::Result<u64> {
    let text = fs::read_to_string(path)?;
    text.trim().parse().map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{} holds {:?}", path.display(), text.trim()),
        )
    })
}

/// A memory limit as a cgroup file holds it: "max" or v1's huge number
/// mean none.
fn limit(text: &str) -> Option<u64> {
    match text.trim() {
        "max" => None,
        n => n.parse::<u64>().ok().filter(|v| *v < 1 << 62),
    }
}

/// usage_usec of a v2 cpu.stat, in nanoseconds.
fn cpu_stat_ns(text: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix("usage_usec "))
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(|us| us * 1000)
}

/// Bytes received and sent on every interface but lo, from
/// /proc/net/dev text.
fn net_dev(text: &str) -> (u64, u64) {
    text.lines()
        .skip(2)
        .filter_map(|l| l.split_once(':'))
        .filter(|(name, _)| name.trim() != "lo")
        .fold((0, 0), |(rx, tx), (_, fields)| {
            let f: Vec<u64> = fields
                .split_whitespace()
                .filter_map(|v| v.parse().ok())
                .collect();
            (
                rx + f.first().copied().unwrap_or(0),
                tx + f.get(8).copied().unwrap_or(0),
            )
        })
}

/// Reads the use of the container whose init is `pid`.
pub fn read(pid: i32) -> Result<Stats, StatsError> {
    let fail = |what: &str, reason: String| StatsError {
        pid,
        what: what.to_string(),
        reason,
    };
    let view = View::of(pid).map_err(|e| fail("its cgroup", e.to_string()))?;
    let locate = |c: Controller| -> Result<Located, StatsError> {
        view.locate(c)
            .map_err(|e| fail("its cgroup", e.to_string()))
    };
    let io_err = |what: &str| {
        let what = what.to_string();
        move |e: io::Error| fail(&what, e.to_string())
    };
    let cpu_ns = match locate(Controller::Cpuacct)? {
        Located::V2(d) => {
            let text = fs::read_to_string(d.join("cpu.stat")).map_err(io_err("cpu.stat"))?;
            cpu_stat_ns(&text).ok_or_else(|| fail("cpu.stat", "no usage_usec".into()))?
        }
        Located::V1(d) => number(&d.join("cpuacct.usage")).map_err(io_err("cpuacct.usage"))?,
    };
    let (memory_bytes, memory_limit) = match locate(Controller::Memory)? {
        Located::V2(d) => (
            number(&d.join("memory.current")).map_err(io_err("memory.current"))?,
            limit(&fs::read_to_string(d.join("memory.max")).map_err(io_err("memory.max"))?),
        ),
        Located::V1(d) => (
            number(&d.join("memory.usage_in_bytes")).map_err(io_err("memory.usage_in_bytes"))?,
            limit(
                &fs::read_to_string(d.join("memory.limit_in_bytes"))
                    .map_err(io_err("memory.limit_in_bytes"))?,
            ),
        ),
    };
    let pids = match locate(Controller::Pids)? {
        Located::V1(d) | Located::V2(d) => {
            number(&d.join("pids.current")).map_err(io_err("pids.current"))?
        }
    };
    let dev = fs::read_to_string(format!("/proc/{pid}/net/dev")).map_err(io_err("net/dev"))?;
    let (net_rx_bytes, net_tx_bytes) = net_dev(&dev);
    Ok(Stats {
        cpu_ns,
        memory_bytes,
        memory_limit,
        pids,
        net_rx_bytes,
        net_tx_bytes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cgroup_and_net_dev_texts_are_read() {
        assert_eq!(
            cpu_stat_ns("usage_usec 1500\nuser_usec 1000\n"),
            Some(1_500_000)
        );
        assert_eq!(limit("max\n"), None);
        assert_eq!(limit("9223372036854771712\n"), None);
        assert_eq!(limit("67108864\n"), Some(64 << 20));
        let dev = "Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:     140       2    0    0    0     0          0         0      140       2    0    0    0     0       0          0
  eth0:    1000      10    0    0    0     0          0         0      500       5    0    0    0     0       0          0
";
        assert_eq!(net_dev(dev), (1000, 500));
    }
}
