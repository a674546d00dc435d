//! Pairing the timeline's events into a report's rows: an injection with
//! the revert of the same target and fault that follows it (a revert from
//! the journal at joltd's start names only the fault's kind), a failure
//! with the open injection it is about (or a row of its own: a failed
//! injection), a kill with its target's `recovered` or `survived`, an
//! ended fault with the `recovery` that names it; probe events to their
//! probe; the marks and counts.

use super::*;

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

/// The report as it is put together, event by event.
#[derive(Default)]
pub(super) struct Builder {
    pub(super) plan: Option<String>,
    pub(super) faults: Vec<FaultRun>,
    /// Indices of injected faults not reverted yet.
    pub(super) open: Vec<usize>,
    /// Indices of faults that ended (reverted, or a kill injected) whose
    /// recovery has not come yet.
    pub(super) ended: Vec<usize>,
    pub(super) probes: Vec<ProbeRun>,
    pub(super) marks: Vec<Mark>,
    pub(super) counts: Counts,
    pub(super) damaged: Vec<String>,
}

impl Builder {
    /// The probe named `name`, added when new.
    pub(super) fn probe(&mut self, name: &str) -> &mut ProbeRun {
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

    pub(super) fn event(&mut self, e: &Event) {
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
                let kill = f.kind == "kill";
                self.faults.push(f);
                match kill {
                    true => self.ended.push(self.faults.len() - 1),
                    false => self.open.push(self.faults.len() - 1),
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
                self.ended.push(i);
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
                let k = self.ended.iter().position(|&i| {
                    let f = &self.faults[i];
                    Some(f.target.as_str()) == target && same_fault(&f.fault, fault)
                });
                if let Some(k) = k {
                    let f = &mut self.faults[self.ended.remove(k)];
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
    /// revert; for a kill, the container seen running again, or its
    /// injection; `last` for a fault never reverted).
    pub(super) fn during(&self, last: Option<f64>) -> Option<(f64, f64)> {
        let mut window: Option<(f64, f64)> = None;
        for f in &self.faults {
            let Some(injected) = f.injected.as_deref().and_then(unix_ms) else {
                continue;
            };
            let end = match (&f.reverted, f.kind.as_str()) {
                (Some(r), _) => unix_ms(r).unwrap_or(injected),
                (None, "kill") => f
                    .after_kill
                    .as_ref()
                    .and_then(|k| unix_ms(&k.at))
                    .unwrap_or(injected),
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
pub(super) struct Span {
    pub(super) first: Option<f64>,
    pub(super) last: Option<f64>,
}

impl Span {
    pub(super) fn add(&mut self, t: Option<f64>) {
        let Some(t) = t else { return };
        self.first = Some(self.first.map_or(t, |f| f.min(t)));
        self.last = Some(self.last.map_or(t, |l| l.max(t)));
    }

    pub(super) fn window(&self) -> Option<Window> {
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
