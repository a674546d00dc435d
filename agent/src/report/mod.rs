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
//! during the faults (to the last revert, or a killed container running
//! again) and
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

mod build;
mod format;
pub mod html;
pub mod junit;
pub mod markdown;
#[cfg(test)]
mod render_tests;
mod stats;
mod svg;
#[cfg(test)]
mod tests;

use build::{Builder, Span};
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

impl FaultRun {
    /// Whether it went wrong: its injection or a revert failed, or the
    /// system did not recover within recover-within after it.
    pub fn failed(&self) -> bool {
        !self.failures.is_empty() || self.injected.is_none() || self.recovered == Some(false)
    }
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
    jolt_chaos::civil::rfc3339_millis(t)
}
