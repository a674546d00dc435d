//! nfqueue: delay and loss without sch_netem. Rules in the container's
//! network namespace send what it sends (all of it but loopback, or only
//! its traffic to the peers) to netfilter queue [`QUEUE`]; a worker thread
//! of the injecting process, its socket opened inside that namespace,
//! holds each packet for the delay (with jitter) or drops the lost share,
//! then lets it go.
//!
//! The rules are nftables' (`table inet jolt_nfqueue`, with `queue ...
//! bypass`) where the kernel has nft's queue expression, else the xtables
//! NFQUEUE target through iptables-legacy (chain `JOLT-NFQUEUE` in the
//! mangle table's OUTPUT, `--queue-bypass`): some kernels, this
//! development host's among them, have the xtables target but not
//! CONFIG_NFT_QUEUE. Which is in the undo.
//!
//! Never stranded: with bypass, packets pass untouched whenever no socket
//! is bound to the queue, so when the worker (or all of joltd) dies the
//! traffic flows on without the delay, and the queue is also fail-open
//! when full. Revert removes the rules first, then stops the worker, which
//! lets every packet it still holds go at once. A joltd that restarts
//! after a crash finds no worker, and revert removes the rules.

mod socket;

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rand::Rng;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use self::socket::{QueueSocket, Verdict};
use super::partition::{address_match, l4_matches};
use super::peers::{Cidr, Peers};
use super::{probe, run_in_with_input, stderr, tool_error, Place};
use crate::fault::{mismatched, FaultError, Reverted, Undo};
use crate::target::Target;

/// The queue number jolt uses in a container's network namespace: 0x4a4c.
pub const QUEUE: u16 = 0x4a4c;
const TABLE: &str = "jolt_nfqueue";
const CHAIN: &str = "JOLT-NFQUEUE";
/// How many packets the kernel may hold for the worker before it lets
/// more through untouched (fail-open).
const QUEUE_MAX_LEN: u32 = 100_000;
/// The longest the worker sleeps with nothing to do (a stop wakes it
/// through its pipe at once).
const IDLE: Duration = Duration::from_secs(1);

/// Which rules send packets to the queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Rules {
    /// `table inet jolt_nfqueue`.
    Nftables,
    /// iptables-legacy and ip6tables-legacy, chain JOLT-NFQUEUE of mangle.
    Xtables,
}

/// What the worker does to each packet.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Shaping {
    pub delay: Duration,
    /// Each packet's delay is drawn uniformly within delay ± jitter.
    pub jitter: Duration,
    /// Percent of packets dropped.
    pub loss: f64,
}

impl Shaping {
    /// How long one packet is held; None: dropped.
    fn hold(&self, rng: &mut impl Rng) -> Option<Duration> {
        if self.loss > 0.0 && rng.random_range(0.0..100.0) < self.loss {
            return None;
        }
        if self.jitter.is_zero() {
            return Some(self.delay);
        }
        let j = self.jitter.as_secs_f64();
        let d = self.delay.as_secs_f64() + rng.random_range(-j..=j);
        Some(Duration::from_secs_f64(d.max(0.0)))
    }
}

/// A running worker, by network namespace file: its stop flag, and a
/// pipe whose write end wakes it at once.
struct Worker {
    stop: Arc<AtomicBool>,
    wake: OwnedFd,
    thread: JoinHandle<()>,
}

static WORKERS: Mutex<Option<HashMap<PathBuf, Worker>>> = Mutex::new(None);

fn workers<T>(f: impl FnOnce(&mut HashMap<PathBuf, Worker>) -> T) -> T {
    let mut guard = WORKERS.lock().unwrap_or_else(|e| e.into_inner());
    f(guard.get_or_insert_with(HashMap::new))
}

/// Finds where the fault goes and which rules this kernel takes; refuses
/// a namespace that already has jolt's queue rules.
pub(super) fn prepare(target: &Target, fault: &'static str) -> Result<Undo, FaultError> {
    let place = Place::of(target, fault)?;
    let rules = match probe::nft_queue() {
        true => Rules::Nftables,
        false => Rules::Xtables,
    };
    let present = rules_present(&place.netns, rules)
        .map_err(|(what, result)| tool_error(&place.context, what, result))?;
    if present {
        return Err(FaultError::Refused {
            container: target.name.clone(),
            fault,
            reason: "its network namespace already has jolt's queue rules (a userspace delay or loss is active)".into(),
        });
    }
    Ok(Undo::NfQueue {
        netns: place.netns,
        queue: QUEUE,
        rules,
    })
}

/// Starts the worker, then adds the rules; on failure neither stays.
pub(super) fn apply(
    fault: &'static str,
    target: &Target,
    undo: &Undo,
    shaping: Shaping,
    peers: &Peers,
) -> Result<(), FaultError> {
    let Undo::NfQueue {
        netns,
        queue,
        rules,
    } = undo
    else {
        return Err(mismatched(target, fault, undo));
    };
    let context = format!("container {}: {fault}: in {}", target.name, netns.display());
    let cidrs = peers.cidrs().map_err(|reason| FaultError::Refused {
        container: target.name.clone(),
        fault,
        reason,
    })?;
    // A worker left for this netns (its rules removed by someone else)
    // still holds the queue: it goes first.
    stop_worker(netns);
    let worker = start(netns, *queue, shaping).map_err(|source| FaultError::Kernel {
        context: format!("{context}: the queue worker"),
        source,
    })?;
    workers(|w| w.insert(netns.clone(), worker));
    if let Err(e) = add_rules(netns, *queue, *rules, &cidrs, peers, &context) {
        let _ = revert(netns, *queue, *rules);
        return Err(e);
    }
    Ok(())
}

/// Opens the queue in `netns` on a thread of its own and runs the worker
/// there; returns once it is bound (or why it could not be).
fn start(netns: &Path, queue: u16, shaping: Shaping) -> io::Result<Worker> {
    let ns = File::open(netns)?;
    let mut pipe = [0i32; 2];
    // SAFETY: pipe2 fills two descriptors, which we own from here on.
    if unsafe { libc::pipe2(pipe.as_mut_ptr(), libc::O_CLOEXEC | libc::O_NONBLOCK) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: as above.
    let (woken, wake) = unsafe { (OwnedFd::from_raw_fd(pipe[0]), OwnedFd::from_raw_fd(pipe[1])) };
    let stop = Arc::new(AtomicBool::new(false));
    let (ready_tx, ready_rx) = mpsc::channel();
    let stopped = stop.clone();
    let thread = std::thread::Builder::new()
        .name("jolt-nfqueue".into())
        .spawn(move || {
            // SAFETY: setns on this thread only, with an open netns file.
            if unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
                let _ = ready_tx.send(Err(io::Error::last_os_error()));
                return;
            }
            drop(ns);
            match QueueSocket::bind(queue, QUEUE_MAX_LEN) {
                Ok(q) => {
                    let _ = ready_tx.send(Ok(()));
                    run(q, shaping, &stopped, woken.as_raw_fd());
                }
                Err(e) => {
                    let _ = ready_tx.send(Err(e));
                }
            }
        })?;
    match ready_rx.recv() {
        Ok(Ok(())) => Ok(Worker { stop, wake, thread }),
        Ok(Err(e)) => {
            let _ = thread.join();
            Err(e)
        }
        Err(_) => Err(io::Error::other(
            "the queue worker ended before it was bound",
        )),
    }
}

/// The worker: takes packets from the queue, drops or holds each, and
/// lets held ones go when due; on stop, lets every held one go. Held
/// packets are (due, arrival order, packet id) in a min-heap.
fn run(mut q: QueueSocket, shaping: Shaping, stop: &AtomicBool, woken: i32) {
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
        ^ u64::from(std::process::id());
    let mut rng = crate::rng(seed);
    let mut held: BinaryHeap<Reverse<(Instant, u64, u32)>> = BinaryHeap::new();
    let mut seq = 0u64;
    while !stop.load(Ordering::Relaxed) {
        let now = Instant::now();
        let wait = held
            .peek()
            .map_or(IDLE, |h| h.0 .0.saturating_duration_since(now).min(IDLE));
        if q.wait(wait, Some(woken)).is_err() {
            break;
        }
        let arrived = Instant::now();
        // ENOBUFS is handled inside; any other error ends the worker, and
        // bypass passes the traffic.
        let Ok(ids) = q.packets() else { break };
        for id in ids {
            match shaping.hold(&mut rng) {
                None => {
                    let _ = q.verdict(id, Verdict::Drop);
                }
                Some(d) if d.is_zero() => {
                    let _ = q.verdict(id, Verdict::Accept);
                }
                Some(d) => {
                    seq += 1;
                    held.push(Reverse((arrived + d, seq, id)));
                }
            }
        }
        let now = Instant::now();
        while held.peek().is_some_and(|h| h.0 .0 <= now) {
            let Reverse((_, _, id)) = held.pop().expect("peeked");
            let _ = q.verdict(id, Verdict::Accept);
        }
    }
    while let Some(Reverse((_, _, id))) = held.pop() {
        let _ = q.verdict(id, Verdict::Accept);
    }
}

/// The nft batch that queues the container's traffic (pure).
pub(super) fn nft_batch(queue: u16, cidrs: &[Cidr], peers: &Peers) -> Value {
    let mut cmds = vec![
        json!({"create": {"table": {"family": "inet", "name": TABLE}}}),
        json!({"add": {"chain": {"family": "inet", "table": TABLE, "name": "output",
            "type": "filter", "hook": "output", "prio": 0, "policy": "accept"}}}),
    ];
    let not_lo =
        json!({"match": {"op": "!=", "left": {"meta": {"key": "oifname"}}, "right": "lo"}});
    let targets: Vec<Option<&Cidr>> = match cidrs.is_empty() {
        true => vec![None],
        false => cidrs.iter().map(Some).collect(),
    };
    for cidr in targets {
        let mut expr = vec![not_lo.clone()];
        if let Some(c) = cidr {
            expr.push(address_match(c, "daddr"));
        }
        expr.extend(l4_matches(peers.protocol, peers.port, "dport"));
        expr.push(json!({"queue": {"num": queue, "flags": ["bypass"]}}));
        cmds.push(json!({"add": {"rule": {"family": "inet", "table": TABLE, "chain": "output", "expr": expr}}}));
    }
    json!({"nftables": cmds})
}

/// The iptables-legacy commands (each one program and its arguments)
/// that queue the container's traffic (pure).
pub(super) fn xtables_commands(queue: u16, cidrs: &[Cidr], peers: &Peers) -> Vec<Vec<String>> {
    let mut cmds = Vec::new();
    for (program, v4) in [("iptables-legacy", true), ("ip6tables-legacy", false)] {
        let mine: Vec<&Cidr> = cidrs.iter().filter(|c| c.addr.is_ipv4() == v4).collect();
        if !cidrs.is_empty() && mine.is_empty() {
            continue;
        }
        let base = |rest: &[&str]| -> Vec<String> {
            [program, "-w", "-t", "mangle"]
                .iter()
                .chain(rest)
                .map(|s| s.to_string())
                .collect()
        };
        cmds.push(base(&["-N", CHAIN]));
        let targets: Vec<Option<&Cidr>> = match mine.is_empty() {
            true => vec![None],
            false => mine.into_iter().map(Some).collect(),
        };
        for cidr in targets {
            let mut rule = base(&["-A", CHAIN, "!", "-o", "lo"]);
            if let Some(c) = cidr {
                rule.extend(["-d".to_string(), c.to_string()]);
            }
            if let Some(p) = peers.protocol {
                rule.extend(["-p".to_string(), p.name().to_string()]);
                if let Some(port) = peers.port {
                    rule.extend(["--dport".to_string(), port.to_string()]);
                }
            }
            rule.extend(
                [
                    "-j",
                    "NFQUEUE",
                    "--queue-num",
                    &queue.to_string(),
                    "--queue-bypass",
                ]
                .map(String::from),
            );
            cmds.push(rule);
        }
        cmds.push(base(&["-A", "OUTPUT", "-j", CHAIN]));
    }
    cmds
}

fn add_rules(
    netns: &Path,
    queue: u16,
    rules: Rules,
    cidrs: &[Cidr],
    peers: &Peers,
    context: &str,
) -> Result<(), FaultError> {
    match rules {
        Rules::Nftables => {
            let batch = nft_batch(queue, cidrs, peers).to_string();
            let args = ["-j", "-f", "-"].map(String::from);
            match run_in_with_input(netns, "nft", &args, Some(&batch)) {
                Ok(out) if out.status.success() => Ok(()),
                other => Err(tool_error(context, "nft -j -f -".into(), other)),
            }
        }
        Rules::Xtables => {
            for cmd in xtables_commands(queue, cidrs, peers) {
                match run_in_with_input(netns, &cmd[0], &cmd[1..], None) {
                    Ok(out) if out.status.success() => {}
                    other => return Err(tool_error(context, cmd.join(" "), other)),
                }
            }
            Ok(())
        }
    }
}

/// Whether jolt's queue rules (any of them: IPv4 or IPv6) are in `netns`.
fn rules_present(
    netns: &Path,
    rules: Rules,
) -> Result<bool, (String, io::Result<std::process::Output>)> {
    let xtables: Vec<String> = ["-w", "-t", "mangle", "-S", CHAIN].map(String::from).into();
    let queries: Vec<(&str, Vec<String>)> = match rules {
        Rules::Nftables => vec![(
            "nft",
            ["list", "table", "inet", TABLE].map(String::from).into(),
        )],
        Rules::Xtables => vec![
            ("iptables-legacy", xtables.clone()),
            ("ip6tables-legacy", xtables),
        ],
    };
    for (program, args) in queries {
        match run_in_with_input(netns, program, &args, None) {
            Ok(out) if out.status.success() => return Ok(true),
            Ok(out) if absent(&stderr(&out)) => {}
            other => return Err((format!("{program} {}", args.join(" ")), other)),
        }
    }
    Ok(false)
}

/// Whether a tool's error says the table or chain is not there.
fn absent(err: &str) -> bool {
    err.contains("No such file or directory") || err.contains("No chain/target/match by that name")
}

/// Removes the rules (so packets stop coming), then stops the worker.
pub(crate) fn revert(netns: &Path, queue: u16, rules: Rules) -> Result<Reverted, FaultError> {
    let _ = queue;
    let stopped = stop_worker(netns);
    if !netns.exists() {
        return Ok(Reverted::TargetGone);
    }
    let context = format!("revert: in {}", netns.display());
    let removed = match rules {
        Rules::Nftables => {
            let args = ["delete", "table", "inet", TABLE].map(String::from);
            match run_in_with_input(netns, "nft", &args, None) {
                Ok(out) if out.status.success() => true,
                Ok(out) if absent(&stderr(&out)) => false,
                Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
                    return Ok(Reverted::TargetGone)
                }
                other => {
                    return Err(tool_error(
                        &context,
                        format!("nft {}", args.join(" ")),
                        other,
                    ))
                }
            }
        }
        Rules::Xtables => {
            let mut any = false;
            for program in ["iptables-legacy", "ip6tables-legacy"] {
                let steps: [&[&str]; 3] = [
                    &["-D", "OUTPUT", "-j", CHAIN],
                    &["-F", CHAIN],
                    &["-X", CHAIN],
                ];
                for step in steps {
                    let args: Vec<String> = ["-w", "-t", "mangle"]
                        .iter()
                        .chain(step)
                        .map(|s| s.to_string())
                        .collect();
                    match run_in_with_input(netns, program, &args, None) {
                        Ok(out) if out.status.success() => any = true,
                        Ok(out)
                            if absent(&stderr(&out))
                                || stderr(&out).contains("does a matching rule exist") => {}
                        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
                            return Ok(Reverted::TargetGone)
                        }
                        other => {
                            return Err(tool_error(
                                &context,
                                format!("{program} {}", args.join(" ")),
                                other,
                            ))
                        }
                    }
                }
            }
            any
        }
    };
    Ok(match removed || stopped {
        true => Reverted::Done,
        false => Reverted::AlreadyClean,
    })
}

/// Stops this process's worker for `netns`, if it runs one; whether it
/// did.
fn stop_worker(netns: &Path) -> bool {
    match workers(|w| w.remove(netns)) {
        Some(worker) => {
            worker.stop.store(true, Ordering::Relaxed);
            // SAFETY: one byte from a live buffer to the pipe we own.
            unsafe { libc::write(worker.wake.as_raw_fd(), b"s".as_ptr().cast(), 1) };
            let _ = worker.thread.join();
            true
        }
        None => false,
    }
}

/// Stops the worker for `netns` without touching its rules: what joltd's
/// death does to it. For the fail-open test.
#[doc(hidden)]
pub fn kill_worker(netns: &Path) -> bool {
    stop_worker(netns)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fault::network::peers::{Peer, Protocol};

    #[test]
    fn loss_and_jitter_are_drawn_within_their_bounds() {
        let mut rng = crate::rng(7);
        let s = Shaping {
            delay: Duration::from_millis(100),
            jitter: Duration::from_millis(10),
            loss: 20.0,
        };
        let draws: Vec<Option<Duration>> = (0..10_000).map(|_| s.hold(&mut rng)).collect();
        let lost = draws.iter().filter(|d| d.is_none()).count();
        assert!((1_700..=2_300).contains(&lost), "{lost} of 10000 at 20%");
        assert!(draws
            .iter()
            .flatten()
            .all(|d| (Duration::from_millis(90)..=Duration::from_millis(110)).contains(d)));
        let none = Shaping {
            loss: 0.0,
            jitter: Duration::ZERO,
            ..s
        };
        assert_eq!(none.hold(&mut rng), Some(Duration::from_millis(100)));
    }

    #[test]
    fn rules_queue_all_but_loopback_or_only_the_peers() {
        let all = nft_batch(QUEUE, &[], &Peers::default());
        let rules: Vec<&Value> = all["nftables"].as_array().unwrap()[2..].iter().collect();
        assert_eq!(rules.len(), 1);
        let expr = &rules[0]["add"]["rule"]["expr"];
        assert_eq!(expr[0]["match"]["right"], "lo");
        assert_eq!(
            expr[1],
            json!({"queue": {"num": 19020, "flags": ["bypass"]}})
        );

        let peers = Peers {
            list: vec![Peer::Cidr(Cidr::parse("10.0.0.2").unwrap())],
            port: Some(53),
            protocol: Some(Protocol::Udp),
        };
        let cidrs = peers.cidrs().unwrap();
        let lines: Vec<String> = xtables_commands(QUEUE, &cidrs, &peers)
            .iter()
            .map(|c| c.join(" "))
            .collect();
        assert_eq!(
            lines,
            [
                "iptables-legacy -w -t mangle -N JOLT-NFQUEUE",
                "iptables-legacy -w -t mangle -A JOLT-NFQUEUE ! -o lo -d 10.0.0.2/32 -p udp --dport 53 -j NFQUEUE --queue-num 19020 --queue-bypass",
                "iptables-legacy -w -t mangle -A OUTPUT -j JOLT-NFQUEUE",
            ]
        );
        assert_eq!(
            xtables_commands(QUEUE, &[], &Peers::default()).len(),
            6,
            "v4 and v6"
        );
    }
}
