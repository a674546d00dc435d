//! hypothesis: one running experiment's steady-state hypothesis.
//!
//! Owns the probe tasks (see `probes`), the watcher that feeds their
//! results to jolt-chaos's [`Judge`], and what the experiment's runner
//! asks of it: has the hypothesis held for `before`, a fault ended (time
//! its recovery), wait for the last recovery, the verdict. The watcher
//! writes the timeline's probe events through a [`Sink`]: a sample of
//! each probe's results about once a second (every result in it), every
//! failure, every change between steady and breached, every recovery;
//! and on a breach with `on-breach: abort` it asks the sink to abort at
//! once. Probe numbers go to the metrics as they come.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use jolt_chaos::probe::{Change, SteadyState};
use jolt_chaos::verdict::{Breach, Decision, Ending, Judge, Verdict};
use serde::Serialize;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

use crate::metrics::Metrics;
use crate::monitor::now;
use crate::probes::{self, Node};
use crate::timeline::Event;

/// How often a probe's results are written as a sample event.
const SAMPLE_EVERY: Duration = Duration::from_secs(1);

/// Where the hypothesis' events and its one decision go: the experiment.
pub trait Sink: Send + Sync {
    /// Appends `event` to the experiment's timeline.
    fn event(&self, event: Event);
    /// The hypothesis is breached and a breach aborts: stop firing and
    /// revert every active fault now.
    fn abort(&self, breach: &Breach);
}

/// One probe as `chaosctl get` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct ProbeStatus {
    pub name: String,
    pub kind: &'static str,
    /// pending (no result yet), steady, failing (its last run failed,
    /// within tolerance) or breached.
    pub state: &'static str,
    pub results: u64,
    pub failures: u64,
    /// The last run's latency.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_ms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

/// Why the hypothesis did not let the experiment start.
#[derive(Debug, Clone, PartialEq)]
pub enum NotStarted {
    /// It did not hold: why.
    Unsteady(String),
    /// The experiment was cut short meanwhile.
    Cancelled,
}

struct Inner {
    judge: Judge,
    probes: Vec<ProbeStatus>,
    /// Faults whose recovery is timed, by key: (target, fault).
    faults: HashMap<String, (String, String)>,
    /// Faults may fire: the judge is past `before`.
    started: bool,
    /// A probe breached while the hypothesis was to hold before the start.
    unsteady_before: Option<String>,
}

/// A running hypothesis.
pub struct Hypothesis {
    steady: SteadyState,
    inner: Mutex<Inner>,
    /// Set to stop the probes.
    stop: watch::Sender<bool>,
    /// Bumped after every result the watcher handled.
    changed: watch::Sender<u64>,
    tasks: tokio::sync::Mutex<JoinSet<()>>,
}

impl Hypothesis {
    /// Starts the probes of `steady` and the watcher of their results.
    pub fn start(
        experiment: &str,
        steady: &SteadyState,
        node: Node,
        metrics: Arc<Metrics>,
        sink: Arc<dyn Sink>,
    ) -> Arc<Hypothesis> {
        let probes = steady
            .probes
            .iter()
            .map(|p| ProbeStatus {
                name: p.name.clone(),
                kind: p.check.kind(),
                state: "pending",
                results: 0,
                failures: 0,
                last_ms: None,
                last_error: None,
            })
            .collect();
        let h = Arc::new(Hypothesis {
            steady: steady.clone(),
            inner: Mutex::new(Inner {
                judge: Judge::new(Some(steady)),
                probes,
                faults: HashMap::new(),
                started: false,
                unsteady_before: None,
            }),
            stop: watch::Sender::new(false),
            changed: watch::Sender::new(0),
            tasks: tokio::sync::Mutex::new(JoinSet::new()),
        });
        let checks = steady
            .probes
            .iter()
            .map(|p| (p.interval, probes::check(p, &node)))
            .collect();
        let (tx, rx) = mpsc::channel(64);
        let mut tasks = probes::start(checks, tx, h.stop.subscribe());
        tasks.spawn(h.clone().watch(experiment.to_string(), rx, sink, metrics));
        *h.tasks.try_lock().expect("not shared yet") = tasks;
        h
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().expect("no panics while held")
    }

    /// The probes as they stand.
    pub fn status(&self) -> Vec<ProbeStatus> {
        self.lock().probes.clone()
    }

    /// Waits `before` for the hypothesis to hold: every probe passing
    /// within its tolerance throughout, and at the end. Then faults may
    /// fire; otherwise why not.
    pub async fn hold_before(
        &self,
        before: Duration,
        cancel: &mut watch::Receiver<bool>,
    ) -> Result<(), NotStarted> {
        let until = tokio::time::Instant::now() + before;
        let mut changed = self.changed.subscribe();
        loop {
            if let Some(why) = self.lock().unsteady_before.clone() {
                return Err(NotStarted::Unsteady(why));
            }
            tokio::select! {
                _ = tokio::time::sleep_until(until) => break,
                _ = cancel.wait_for(|c| *c) => return Err(NotStarted::Cancelled),
                r = changed.changed() => if r.is_err() { break },
            }
        }
        let mut inner = self.lock();
        if let Some(why) = inner
            .unsteady_before
            .clone()
            .or_else(|| inner.judge.unsteady())
        {
            return Err(NotStarted::Unsteady(why));
        }
        inner.judge.start();
        inner.started = true;
        Ok(())
    }

    /// Faults may fire now (no `before` to wait for).
    pub fn start_faults(&self) {
        let mut inner = self.lock();
        inner.judge.start();
        inner.started = true;
    }

    /// The fault `key` on `target` ended at `at` (reverted, or a kill
    /// injected): its recovery is timed from there.
    pub fn fault_ended(&self, key: &str, target: &str, fault: &str, at: SystemTime) {
        let mut inner = self.lock();
        inner
            .faults
            .insert(key.to_string(), (target.to_string(), fault.to_string()));
        inner.judge.fault_ended(key.to_string(), at);
    }

    /// The schedule is over: waits until the system recovered from the
    /// last fault (bounded by `recover-within`; at once without it).
    pub async fn settle(&self) {
        let mut changed = self.changed.subscribe();
        self.lock().judge.end(SystemTime::now());
        while self.lock().judge.waiting() {
            if changed.changed().await.is_err() {
                return;
            }
        }
    }

    /// Stops the probes and waits for the watcher to write what it holds.
    pub async fn stop(&self) {
        self.stop.send_replace(true);
        let mut tasks = self.tasks.lock().await;
        while tasks.join_next().await.is_some() {}
    }

    /// The verdict of an experiment that ended as `ending`.
    pub fn verdict(&self, ending: &Ending) -> (Verdict, Option<Breach>) {
        self.lock().judge.verdict(ending)
    }

    /// Whether a breach aborts.
    pub fn aborts(&self) -> bool {
        self.lock().judge.aborts()
    }

    async fn watch(
        self: Arc<Self>,
        experiment: String,
        mut rx: mpsc::Receiver<probes::Run>,
        sink: Arc<dyn Sink>,
        metrics: Arc<Metrics>,
    ) {
        let n = self.steady.probes.len();
        let mut samples: Vec<Vec<[f64; 3]>> = vec![Vec::new(); n];
        let mut sampled = vec![Instant::now(); n];
        let flush = |samples: &mut Vec<[f64; 3]>, probe: usize| {
            if samples.is_empty() {
                return;
            }
            sink.event(Event {
                at: now(),
                event: "probe".into(),
                probe: Some(self.steady.probes[probe].name.clone()),
                series: Some(std::mem::take(samples)),
                ..Event::default()
            });
        };
        loop {
            let deadline = self.lock().judge.next_deadline();
            let wait = deadline.map(|d| d.duration_since(SystemTime::now()).unwrap_or_default());
            let run = tokio::select! {
                r = rx.recv() => match r {
                    Some(r) => Some(r),
                    None => break,
                },
                _ = tokio::time::sleep(wait.unwrap_or_default()), if wait.is_some() => None,
            };
            let mut events = Vec::new();
            let (decisions, started) = {
                let mut inner = self.lock();
                let decisions = match &run {
                    Some(r) => {
                        let status = &mut inner.probes[r.probe];
                        status.results += 1;
                        status.failures += u64::from(!r.outcome.ok);
                        status.last_ms = Some(ms(r.outcome.latency));
                        status.last_error = r.outcome.message.clone();
                        let failed = match r.outcome.ok {
                            true => None,
                            false => Some(r.outcome.message.as_deref().unwrap_or("failed")),
                        };
                        let d = inner.judge.result(r.probe, r.started, r.ended, failed);
                        inner.probes[r.probe].state =
                            match (inner.judge.breached(r.probe), r.outcome.ok) {
                                (true, _) => "breached",
                                (false, true) => "steady",
                                (false, false) => "failing",
                            };
                        d
                    }
                    None => inner.judge.tick(SystemTime::now()),
                };
                (decisions, inner.started)
            };
            if let Some(r) = &run {
                let name = &self.steady.probes[r.probe].name;
                metrics.probe_run(&experiment, name, r.outcome.ok, r.outcome.latency);
                samples[r.probe].push([
                    unix_ms(r.started),
                    ms(r.outcome.latency),
                    if r.outcome.ok { 1.0 } else { 0.0 },
                ]);
                if !r.outcome.ok {
                    events.push(Event {
                        at: now(),
                        event: "probe-failed".into(),
                        probe: Some(name.clone()),
                        message: r.outcome.message.clone(),
                        latency_ms: Some(ms(r.outcome.latency)),
                        ..Event::default()
                    });
                }
            }
            for d in decisions {
                match d {
                    Decision::Probe {
                        probe,
                        change,
                        message,
                    } => {
                        flush(&mut samples[probe], probe);
                        sampled[probe] = Instant::now();
                        let event = match change {
                            Change::Breached => "breached",
                            Change::Steady => "steady",
                        };
                        if change == Change::Breached && !started {
                            self.lock().unsteady_before.get_or_insert(message.clone());
                        }
                        events.push(Event {
                            at: now(),
                            event: event.into(),
                            probe: Some(self.steady.probes[probe].name.clone()),
                            message: Some(message),
                            ..Event::default()
                        });
                    }
                    Decision::Breach(b) => {
                        for e in events.drain(..) {
                            sink.event(e);
                        }
                        if self.aborts() {
                            sink.abort(&b);
                        }
                    }
                    Decision::Recovered { key, after } => {
                        let msg = format!(
                            "every probe passed again {:.3} s after {key}",
                            after.as_secs_f64()
                        );
                        events.push(self.recovery(&key, Some(ms(after)), msg));
                    }
                    Decision::Unrecovered { key, within } => {
                        let msg = format!(
                            "not steady within {} after {key}",
                            jolt_chaos::experiment::human(within)
                        );
                        events.push(self.recovery(&key, None, msg));
                    }
                }
            }
            for e in events {
                sink.event(e);
            }
            for (p, s) in samples.iter_mut().enumerate() {
                if sampled[p].elapsed() >= SAMPLE_EVERY {
                    flush(s, p);
                    sampled[p] = Instant::now();
                }
            }
            self.changed.send_modify(|n| *n += 1);
        }
        for (p, s) in samples.iter_mut().enumerate() {
            flush(s, p);
        }
        self.changed.send_modify(|n| *n += 1);
    }

    /// The `recovery` event of the fault `key` (of its target and fault;
    /// "the end" has none).
    fn recovery(&self, key: &str, recover_ms: Option<f64>, message: String) -> Event {
        let (target, fault) = match self.lock().faults.get(key) {
            Some((t, f)) => (Some(t.clone()), Some(f.clone())),
            None => (None, None),
        };
        Event {
            at: now(),
            event: "recovery".into(),
            target,
            fault,
            recover_ms,
            message: Some(message),
            ..Event::default()
        }
    }
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e6).round() / 1e3
}

/// `t` in milliseconds since the epoch, to the microsecond.
fn unix_ms(t: SystemTime) -> f64 {
    let us = t.duration_since(UNIX_EPOCH).unwrap_or_default().as_micros();
    us as f64 / 1e3
}
