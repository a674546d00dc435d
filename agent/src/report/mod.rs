//! report: one experiment's record, text and timeline gathered into a
//! [`Report`] — what happened, fault by fault and probe by probe — and its
//! renderings: JSON (the `Report` itself, schema `jolt.report/v1`,
//! described field by field in `docs/report.schema.json`), [`html`] (one
//! self-contained file with an inline SVG timeline), [`markdown`] (a short
//! summary for a pull-request comment) and [`junit`] (for CI).
//!
//! Owns how events become rows: an injection pairs with the revert of the
//! same target and fault that follows it, a kill with the `recovered` or
//! `survived` of its target, a fault's end with the `recovery` that names
//! it; and the statistics: probe results before the first injection,
//! during the faults (to the last revert, or a kill's injection) and
//! after. Does not own the events (`timeline`, `experiments`) or the
//! verdict (jolt-chaos's `Judge`): the report repeats them, never judges
//! again. Building never fails: an experiment text that no longer parses
//! is said so (`experiment.text_error`), a line of the timeline that does
//! not parse is counted and shown.

use std::time::{Duration, UNIX_EPOCH};

use jolt_chaos::probe::OnBreach;
use jolt_chaos::verdict::{Breach, Verdict};
use serde::{Deserialize, Serialize};

use crate::experiments::{Phase, Record};
use crate::timeline::Event;

mod stats;
#[cfg(test)]
mod tests;

pub use stats::{percentile, Stats};

/// The `schema` every report names.
pub const SCHEMA: &str = "jolt.report/v1";

/// One experiment, as the report tells it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// [`SCHEMA`].
    pub schema: String,
    pub experiment: About,
    /// None while it runs.
    pub verdict: Option<Verdict>,
    /// The first breach of the hypothesis.
    pub breach: Option<Breach>,
    /// None without a steady-state section (or a text that no longer
    /// parses).
    pub hypothesis: Option<Hypothesis>,
    /// One per injection (or failed attempt at one), in order.
    pub faults: Vec<FaultRun>,
    pub probes: Vec<ProbeRun>,
    /// The moments that shaped the run, in order.
    pub marks: Vec<Mark>,
    pub counts: Counts,
    /// What each line of the timeline that does not parse said.
    pub damaged: Vec<String>,
    /// The faults' window: first injection to last revert (or a kill's
    /// injection); None when nothing was injected.
    pub during: Option<Window>,
    /// The first and last time the record and timeline name.
    pub span: Option<Window>,
}

/// The experiment itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct About {
    pub name: String,
    pub description: Option<String>,
    pub origin: String,
    /// The fault line, e.g. `pause for 30s`.
    pub fault: String,
    pub seed: u64,
    pub start: String,
    pub ended: Option<String>,
    pub length: String,
    pub phase: Phase,
    pub reason: Option<String>,
    /// The `scheduled` event's message: `N fires over X, seed S`.
    pub plan: Option<String>,
    /// Why the experiment's text no longer parses (the report then has no
    /// hypothesis, and its probes only what the timeline says).
    pub text_error: Option<String>,
}

/// The steady-state section's settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hypothesis {
    pub before_ms: Option<f64>,
    pub during: bool,
    pub recover_within_ms: Option<f64>,
    pub on_breach: OnBreach,
}

/// One injection of the fault on one target, from its schedule to its
/// revert and the recovery after.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FaultRun {
    pub target: String,
    /// The fault line.
    pub fault: String,
    /// Its first word: kill, pause, cpu-throttle, network-delay.
    pub kind: String,
    /// `injected` minus `late_ms`.
    pub scheduled: Option<String>,
    /// None when the injection failed.
    pub injected: Option<String>,
    pub late_ms: Option<f64>,
    /// None for a kill, and for a fault never reverted (active when joltd
    /// died, or still).
    pub reverted: Option<String>,
    /// From when the revert was due to done; None when the container was
    /// gone or the revert came at joltd's start.
    pub revert_late_ms: Option<f64>,
    pub revert_message: Option<String>,
    /// Whether every probe passed again within recover-within after it
    /// ended; None when no recovery was judged for it.
    pub recovered: Option<bool>,
    pub recover_ms: Option<f64>,
    pub recovery_message: Option<String>,
    /// After a kill: what became of the container.
    pub after_kill: Option<AfterKill>,
    /// Injections and reverts of it that failed.
    pub failures: Vec<Note>,
}

/// What a killed container did: `recovered` (running again, exited or
/// removed; the message says which) or `survived` the signal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AfterKill {
    pub event: String,
    pub at: String,
    pub message: Option<String>,
}

/// A time and what happened then.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Note {
    pub at: String,
    pub message: Option<String>,
}

/// One probe of the hypothesis and its results.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProbeRun {
    pub name: String,
    /// http, tcp, exec, prometheus; None when the text no longer parses.
    pub kind: Option<String>,
    /// What it checks, one line.
    pub check: Option<String>,
    pub interval_ms: Option<f64>,
    pub timeout_ms: Option<f64>,
    pub tolerance: Option<String>,
    pub overall: Stats,
    pub before: Stats,
    pub during: Stats,
    pub after: Stats,
    /// Every result: `[unix ms, latency ms, 1 passed or 0 failed]`.
    pub series: Vec<[f64; 3]>,
    pub failures: Vec<ProbeFailure>,
    /// Where its tolerance was exceeded.
    pub breaches: Vec<Note>,
    /// Where it was back within it.
    pub steady: Vec<Note>,
}

/// One failed run of a probe.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProbeFailure {
    pub at: String,
    pub message: Option<String>,
    pub latency_ms: Option<f64>,
}

/// A moment worth a line on the timeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Mark {
    /// aborted, interrupted, not-started, hypothesis, breached, recovery,
    /// recovered, finished.
    pub kind: String,
    pub at: String,
    pub message: Option<String>,
    pub probe: Option<String>,
    pub target: Option<String>,
}

/// How many events of each kind the timeline holds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Counts {
    pub events: u64,
    pub injected: u64,
    pub reverted: u64,
    pub failed: u64,
    pub skipped: u64,
    pub recovered: u64,
    pub survived: u64,
    pub probe_failed: u64,
    pub breached: u64,
    pub damaged: u64,
}

/// From one time to another (RFC 3339).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Window {
    pub from: String,
    pub to: String,
}

/// The marks the report keeps, by event name.
const MARKS: [&str; 8] = [
    "aborted",
    "interrupted",
    "not-started",
    "hypothesis",
    "breached",
    "recovery",
    "recovered",
    "finished",
];

impl Report {
    /// The report of the experiment `record`, applied as `experiment_text`,
    /// whose timeline is `events`.
    pub fn build(record: &Record, experiment_text: &str, events: &[Event]) -> Report {
        let parsed = jolt_chaos::Experiment::from_yaml_or_json(experiment_text, &record.origin);
        let (description, steady, text_error) = match parsed {
            Ok(e) => (e.description, e.steady_state, None),
            Err(e) => (None, None, Some(e.to_string())),
        };
        let mut b = Builder::default();
        if let Some(s) = &steady {
            for p in &s.probes {
                let run = b.probe(&p.name);
                run.kind = Some(p.check.kind().to_string());
                run.check = Some(p.check.to_string());
                run.interval_ms = Some(ms(p.interval));
                run.timeout_ms = Some(ms(p.timeout));
                run.tolerance = Some(p.tolerance.to_string());
            }
        }
        for e in events {
            b.event(e);
        }
        let mut span = Span::default();
        span.add(unix_ms(&record.start));
        if let Some(ended) = &record.ended {
            span.add(unix_ms(ended));
        }
        for e in events {
            span.add(unix_ms(&e.at));
        }
        for p in &b.probes {
            for point in &p.series {
                span.add(Some(point[0]));
            }
        }
        let during = b.during(span.last);
        let mut probes = b.probes;
        for p in &mut probes {
            p.overall = Stats::of(p.series.iter());
            if let Some((from, to)) = during {
                p.before = Stats::of(p.series.iter().filter(|s| s[0] < from));
                p.during = Stats::of(p.series.iter().filter(|s| s[0] >= from && s[0] <= to));
                p.after = Stats::of(p.series.iter().filter(|s| s[0] > to));
            } else {
                p.before = p.overall.clone();
            }
        }
        Report {
            schema: SCHEMA.to_string(),
            experiment: About {
                name: record.name.clone(),
                description,
                origin: record.origin.clone(),
                fault: record.fault.clone(),
                seed: record.seed,
                start: record.start.clone(),
                ended: record.ended.clone(),
                length: record.length.clone(),
                phase: record.phase,
                reason: record.reason.clone(),
                plan: b.plan,
                text_error,
            },
            verdict: record.verdict,
            breach: record.breach.clone(),
            hypothesis: steady.map(|s| Hypothesis {
                before_ms: s.before.map(ms),
                during: s.during,
                recover_within_ms: s.recover_within.map(ms),
                on_breach: s.on_breach,
            }),
            faults: b.faults,
            probes,
            marks: b.marks,
            counts: b.counts,
            damaged: b.damaged,
            during: during.map(|(from, to)| Window {
                from: rfc3339(from),
                to: rfc3339(to),
            }),
            span: span.window(),
        }
    }
}

/// The report as it is put together, event by event.
#[derive(Default)]
struct Builder {
    plan: Option<String>,
    faults: Vec<FaultRun>,
    /// Indices of injected faults not reverted yet.
    open: Vec<usize>,
    probes: Vec<ProbeRun>,
    marks: Vec<Mark>,
    counts: Counts,
    damaged: Vec<String>,
}

impl Builder {
    /// The probe named `name`, added when new.
    fn probe(&mut self, name: &str) -> &mut ProbeRun {
        let i = match self.probes.iter().position(|p| p.name == name) {
            Some(i) => i,
            None => {
                self.probes.push(ProbeRun::new(name));
                self.probes.len() - 1
            }
        };
        &mut self.probes[i]
    }

    /// The open injection that `e` (a revert or its failure) is about.
    fn take_open(&mut self, e: &Event, remove: bool) -> Option<usize> {
        let target = e.target.as_deref()?;
        let fault = e.fault.as_deref().unwrap_or("");
        let k = self.open.iter().position(|&i| {
            let f = &self.faults[i];
            f.target == target && same_fault(&f.fault, fault)
        })?;
        Some(if remove {
            self.open.remove(k)
        } else {
            self.open[k]
        })
    }

    fn event(&mut self, e: &Event) {
        self.counts.events += 1;
        let note = || Note {
            at: e.at.clone(),
            message: e.message.clone(),
        };
        match e.event.as_str() {
            "scheduled" => self.plan = e.message.clone(),
            "skipped" => self.counts.skipped += 1,
            "injected" => {
                self.counts.injected += 1;
                let mut f = FaultRun::new(e);
                f.injected = Some(e.at.clone());
                f.late_ms = e.late_ms;
                f.scheduled = unix_ms(&e.at).map(|t| rfc3339(t - e.late_ms.unwrap_or(0.0)));
                self.faults.push(f);
                if self.faults.last().is_some_and(|f| f.kind != "kill") {
                    self.open.push(self.faults.len() - 1);
                }
            }
            "reverted" => {
                self.counts.reverted += 1;
                let i = self.take_open(e, true).unwrap_or_else(|| {
                    // A revert of an injection the timeline lost.
                    self.faults.push(FaultRun::new(e));
                    self.faults.len() - 1
                });
                let f = &mut self.faults[i];
                f.reverted = Some(e.at.clone());
                f.revert_late_ms = e.late_ms;
                f.revert_message = e.message.clone();
            }
            "failed" => {
                self.counts.failed += 1;
                let revert = e
                    .message
                    .as_deref()
                    .is_some_and(|m| m.starts_with("revert"));
                let i = match self.take_open(e, false) {
                    Some(i) => i,
                    None => {
                        let mut f = FaultRun::new(e);
                        if revert {
                            f.revert_message = e.message.clone();
                        }
                        self.faults.push(f);
                        self.faults.len() - 1
                    }
                };
                self.faults[i].failures.push(note());
            }
            "recovered" | "survived" => {
                if e.event == "recovered" {
                    self.counts.recovered += 1;
                } else {
                    self.counts.survived += 1;
                }
                let target = e.target.as_deref().unwrap_or("");
                let kill = self.faults.iter_mut().rev().find(|f| {
                    f.kind == "kill"
                        && f.target == target
                        && f.injected.is_some()
                        && f.after_kill.is_none()
                });
                if let Some(f) = kill {
                    f.after_kill = Some(AfterKill {
                        event: e.event.clone(),
                        at: e.at.clone(),
                        message: e.message.clone(),
                    });
                }
            }
            "recovery" => {
                let (target, fault) = (e.target.as_deref(), e.fault.as_deref().unwrap_or(""));
                let ended = self.faults.iter_mut().find(|f| {
                    Some(f.target.as_str()) == target
                        && same_fault(&f.fault, fault)
                        && f.recovered.is_none()
                        && (f.reverted.is_some() || (f.kind == "kill" && f.injected.is_some()))
                });
                if let Some(f) = ended {
                    f.recovered = Some(e.recover_ms.is_some());
                    f.recover_ms = e.recover_ms;
                    f.recovery_message = e.message.clone();
                }
            }
            "probe" => {
                let series = e.series.clone().unwrap_or_default();
                self.probe(e.probe.as_deref().unwrap_or(""))
                    .series
                    .extend(series);
            }
            "probe-failed" => {
                self.counts.probe_failed += 1;
                self.probe(e.probe.as_deref().unwrap_or(""))
                    .failures
                    .push(ProbeFailure {
                        at: e.at.clone(),
                        message: e.message.clone(),
                        latency_ms: e.latency_ms,
                    });
            }
            "breached" => {
                self.counts.breached += 1;
                self.probe(e.probe.as_deref().unwrap_or(""))
                    .breaches
                    .push(note());
            }
            "steady" => self
                .probe(e.probe.as_deref().unwrap_or(""))
                .steady
                .push(note()),
            "damaged" => {
                self.counts.damaged += 1;
                self.damaged.push(e.message.clone().unwrap_or_default());
            }
            _ => {}
        }
        if MARKS.contains(&e.event.as_str()) {
            self.marks.push(Mark {
                kind: e.event.clone(),
                at: e.at.clone(),
                message: e.message.clone(),
                probe: e.probe.clone(),
                target: e.target.clone(),
            });
        }
    }

    /// The faults' window in unix ms: first injection to the last end (a
    /// revert, a kill's injection, `last` for a fault never reverted).
    fn during(&self, last: Option<f64>) -> Option<(f64, f64)> {
        let mut window: Option<(f64, f64)> = None;
        for f in &self.faults {
            let Some(injected) = f.injected.as_deref().and_then(unix_ms) else {
                continue;
            };
            let end = match (&f.reverted, f.kind.as_str()) {
                (Some(r), _) => unix_ms(r).unwrap_or(injected),
                (None, "kill") => injected,
                (None, _) => last.unwrap_or(injected),
            };
            window = Some(match window {
                None => (injected, end),
                Some((a, b)) => (a.min(injected), b.max(end)),
            });
        }
        window
    }
}

impl FaultRun {
    /// A row for the fault and target `e` names, nothing yet known.
    fn new(e: &Event) -> FaultRun {
        let fault = e.fault.clone().unwrap_or_default();
        FaultRun {
            target: e.target.clone().unwrap_or_default(),
            kind: kind(&fault).to_string(),
            fault,
            scheduled: None,
            injected: None,
            late_ms: None,
            reverted: None,
            revert_late_ms: None,
            revert_message: None,
            recovered: None,
            recover_ms: None,
            recovery_message: None,
            after_kill: None,
            failures: Vec::new(),
        }
    }

    /// Whether it went wrong: its injection or a revert failed, or the
    /// system did not recover within recover-within after it.
    pub fn failed(&self) -> bool {
        !self.failures.is_empty() || self.injected.is_none() || self.recovered == Some(false)
    }
}

impl ProbeRun {
    fn new(name: &str) -> ProbeRun {
        ProbeRun {
            name: name.to_string(),
            kind: None,
            check: None,
            interval_ms: None,
            timeout_ms: None,
            tolerance: None,
            overall: Stats::default(),
            before: Stats::default(),
            during: Stats::default(),
            after: Stats::default(),
            series: Vec::new(),
            failures: Vec::new(),
            breaches: Vec::new(),
            steady: Vec::new(),
        }
    }
}

/// The earliest and latest of some times (unix ms).
#[derive(Default)]
struct Span {
    first: Option<f64>,
    last: Option<f64>,
}

impl Span {
    fn add(&mut self, t: Option<f64>) {
        let Some(t) = t else { return };
        self.first = Some(self.first.map_or(t, |f| f.min(t)));
        self.last = Some(self.last.map_or(t, |l| l.max(t)));
    }

    fn window(&self) -> Option<Window> {
        Some(Window {
            from: rfc3339(self.first?),
            to: rfc3339(self.last?),
        })
    }
}

/// The kind of a fault line (its first word).
fn kind(fault: &str) -> &str {
    fault.split_whitespace().next().unwrap_or("")
}

/// Whether an event's `fault` names the injected `line`: the same line, or
/// (a revert at joltd's start, from the journal) only its kind.
fn same_fault(line: &str, fault: &str) -> bool {
    line == fault || kind(line) == fault
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// An RFC 3339 time as unix milliseconds.
pub fn unix_ms(at: &str) -> Option<f64> {
    let t = humantime::parse_rfc3339_weak(at).ok()?;
    Some(ms(t.duration_since(UNIX_EPOCH).ok()?))
}

/// Unix milliseconds as RFC 3339 UTC, to the millisecond.
pub fn rfc3339(unix_ms: f64) -> String {
    let t = UNIX_EPOCH + Duration::from_millis(unix_ms.max(0.0).round() as u64);
    humantime::format_rfc3339_millis(t).to_string()
}
