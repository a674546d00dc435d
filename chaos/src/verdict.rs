//! verdict: judging an experiment against its hypothesis. The [`Judge`]
//! is fed probe results, fault ends and the experiment's stages on the
//! caller's clock, and says when the hypothesis is breached, when the
//! system recovered from a fault (and how long it took), and the
//! [`Verdict`] at the end. It holds no I/O and no clock of its own, so the
//! agent drives it from real probes and the tests from a script.

use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use crate::experiment::human;
use crate::probe::{Change, OnBreach, SteadyState, Tally};

/// How an experiment ended, as judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// The hypothesis held throughout, within tolerance, and recovered
    /// within `recover-within` after every fault.
    Passed,
    /// The hypothesis was breached (with `on-breach: continue`).
    Failed,
    /// Cut short: by a breach (`on-breach: abort`), by `chaosctl abort`,
    /// or by a failed injection with `on-failure: stop`.
    Aborted,
    /// The hypothesis did not hold before the first fault; none was
    /// injected.
    NotStarted,
    /// joltd died or stopped while it ran; its faults were reverted.
    Interrupted,
    /// No hypothesis to judge: the schedule ran to its end.
    Completed,
}

impl Verdict {
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Passed => "passed",
            Verdict::Failed => "failed",
            Verdict::Aborted => "aborted",
            Verdict::NotStarted => "not-started",
            Verdict::Interrupted => "interrupted",
            Verdict::Completed => "completed",
        }
    }

    /// `chaosctl apply --wait`'s exit status: 0 passed or completed, 1
    /// failed, 3 for an experiment that was not judged to the end.
    pub fn exit_code(self) -> u8 {
        match self {
            Verdict::Passed | Verdict::Completed => 0,
            Verdict::Failed => 1,
            Verdict::Aborted | Verdict::NotStarted | Verdict::Interrupted => 3,
        }
    }
}

/// The first breach of the hypothesis.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Breach {
    pub probe: String,
    /// RFC 3339, UTC.
    pub at: String,
    pub message: String,
    /// Whether every probe was steady again by the end.
    #[serde(default)]
    pub recovered: bool,
}

/// Where the experiment is, as the judge sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Probes run; faults wait for the hypothesis to hold.
    Before,
    /// Faults are scheduled.
    During,
    /// The schedule is over; waiting for the last recovery.
    Ending,
}

/// Something the judge decided that the caller acts on or records.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// A probe's tolerance was exceeded (or, `healthy: false`, it is back
    /// within it). Recorded; does not by itself judge the experiment.
    Probe {
        probe: usize,
        change: Change,
        /// What the tally says, for the timeline.
        message: String,
    },
    /// The hypothesis is breached: with `on-breach: abort`, stop now.
    Breach(Breach),
    /// Every probe was steady again `after` the end of the fault `key`.
    Recovered { key: String, after: Duration },
    /// Not steady again within `recover-within` after the end of `key`
    /// (a breach follows).
    Unrecovered { key: String, within: Duration },
}

/// A fault's end (or the schedule's) waiting for every probe to be
/// steady again.
#[derive(Debug, Clone)]
struct Recovery {
    key: String,
    since: SystemTime,
    /// Which probes have passed since, while steady.
    passed: Vec<bool>,
}

/// One experiment's judge.
#[derive(Debug, Clone)]
pub struct Judge {
    names: Vec<String>,
    tallies: Vec<Tally>,
    during: bool,
    recover_within: Option<Duration>,
    on_breach: OnBreach,
    stage: Stage,
    first: Option<Breach>,
    recoveries: Vec<Recovery>,
}

/// How the caller's part of the experiment ended, for [`Judge::verdict`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ending {
    /// The schedule ran to its end (and recovery was waited for).
    Ran,
    /// The hypothesis did not hold before the start.
    NotStarted,
    /// `chaosctl abort`, a failed injection with `on-failure: stop`, or a
    /// breach with `on-breach: abort`.
    Aborted,
    /// joltd went away while it ran.
    Interrupted,
}

impl Judge {
    /// A judge of `steady` (None: an experiment without a hypothesis,
    /// judged `completed` when it runs to its end).
    pub fn new(steady: Option<&SteadyState>) -> Judge {
        let probes = steady.map(|s| s.probes.as_slice()).unwrap_or_default();
        Judge {
            names: probes.iter().map(|p| p.name.clone()).collect(),
            tallies: probes.iter().map(|p| Tally::new(p.tolerance)).collect(),
            during: steady.is_none_or(|s| s.during),
            recover_within: steady.and_then(|s| s.recover_within),
            on_breach: steady.map(|s| s.on_breach).unwrap_or_default(),
            stage: Stage::Before,
            first: None,
            recoveries: Vec::new(),
        }
    }

    /// The first breach, once there is one.
    pub fn breach(&self) -> Option<&Breach> {
        self.first.as_ref()
    }

    /// Whether a breach stops the experiment.
    pub fn aborts(&self) -> bool {
        self.on_breach == OnBreach::Abort
    }

    /// Whether every probe has passed and is within its tolerance: what
    /// `before` needs at its end.
    pub fn steady(&self) -> bool {
        self.tallies.iter().all(Tally::healthy)
    }

    /// Whether probe `probe` is beyond its tolerance now.
    pub fn breached(&self, probe: usize) -> bool {
        self.tallies.get(probe).is_some_and(Tally::breached)
    }

    /// Why the hypothesis does not hold now, naming the probes.
    pub fn unsteady(&self) -> Option<String> {
        let bad: Vec<String> = self
            .names
            .iter()
            .zip(&self.tallies)
            .filter(|(_, t)| !t.healthy())
            .map(|(n, t)| match (t.results(), t.breached()) {
                (0, _) => format!("{n} has no result yet"),
                (_, true) => format!("{n} is breached"),
                (_, false) => format!("{n} failed its last run"),
            })
            .collect();
        (!bad.is_empty()).then(|| bad.join(", "))
    }

    /// The hypothesis held before the start: faults may fire.
    pub fn start(&mut self) {
        self.stage = Stage::During;
    }

    /// One result of probe `probe` (an index into the hypothesis' probes)
    /// that started at `started` and ended at `at`: passed, or failed and
    /// why (which a breach it makes repeats).
    pub fn result(
        &mut self,
        probe: usize,
        started: SystemTime,
        at: SystemTime,
        failed: Option<&str>,
    ) -> Vec<Decision> {
        let ok = failed.is_none();
        let mut out = Vec::new();
        let Some(tally) = self.tallies.get_mut(probe) else {
            return out;
        };
        if let Some(change) = tally.record(ok) {
            let name = &self.names[probe];
            let message = match change {
                Change::Breached => match failed {
                    Some(why) => format!("{name}: {}; last: {why}", tally.describe()),
                    None => format!("{name}: {}", tally.describe()),
                },
                Change::Steady => format!("{name} is steady again"),
            };
            out.push(Decision::Probe {
                probe,
                change,
                message: message.clone(),
            });
            if change == Change::Breached && self.stage == Stage::During && self.during {
                out.extend(self.first_breach(probe, at, message));
            }
        }
        let steady = self.steady();
        for r in &mut self.recoveries {
            if started >= r.since {
                r.passed[probe] = ok && !self.tallies[probe].breached();
            }
        }
        if steady {
            let (done, pending): (Vec<Recovery>, Vec<Recovery>) = self
                .recoveries
                .drain(..)
                .partition(|r| r.passed.iter().all(|p| *p));
            self.recoveries = pending;
            for r in done {
                out.push(Decision::Recovered {
                    after: at.duration_since(r.since).unwrap_or_default(),
                    key: r.key,
                });
            }
        }
        out
    }

    /// The first breach, recorded once; the decision to act on.
    fn first_breach(&mut self, probe: usize, at: SystemTime, message: String) -> Option<Decision> {
        if self.first.is_some() {
            return None;
        }
        let breach = Breach {
            probe: self.names[probe].clone(),
            at: rfc3339(at),
            message,
            recovered: false,
        };
        self.first = Some(breach.clone());
        Some(Decision::Breach(breach))
    }

    /// A fault ended at `at` (reverted, or a kill injected): every probe
    /// must pass again, within `recover-within` when it is set. `key`
    /// names the fault in the decisions.
    pub fn fault_ended(&mut self, key: String, at: SystemTime) {
        if self.names.is_empty() {
            return;
        }
        self.recoveries.push(Recovery {
            key,
            since: at,
            passed: vec![false; self.names.len()],
        });
    }

    /// The schedule is over at `at`: the system must be steady again
    /// within `recover-within` (when set) from here too.
    pub fn end(&mut self, at: SystemTime) {
        self.stage = Stage::Ending;
        if self.recover_within.is_some() {
            self.fault_ended("the end".into(), at);
        }
    }

    /// When the next recovery deadline passes, if one is pending.
    pub fn next_deadline(&self) -> Option<SystemTime> {
        let within = self.recover_within?;
        self.recoveries.iter().map(|r| r.since + within).min()
    }

    /// Whether the judge waits for a recovery (with a deadline) before the
    /// experiment may end.
    pub fn waiting(&self) -> bool {
        self.recover_within.is_some() && !self.recoveries.is_empty()
    }

    /// Deadlines passed by `now`: each a breach of the hypothesis (the
    /// first breach is the one the verdict names).
    pub fn tick(&mut self, now: SystemTime) -> Vec<Decision> {
        let mut out = Vec::new();
        let Some(within) = self.recover_within else {
            return out;
        };
        let (late, pending): (Vec<Recovery>, Vec<Recovery>) = self
            .recoveries
            .drain(..)
            .partition(|r| r.since + within <= now);
        self.recoveries = pending;
        for r in late {
            // The probes that did not pass, within tolerance, in a run
            // that started after the fault ended.
            let missing: Vec<usize> = (0..self.names.len()).filter(|&i| !r.passed[i]).collect();
            let why: Vec<String> = missing
                .iter()
                .map(|&i| match self.tallies[i].breached() {
                    true => format!("{} is breached", self.names[i]),
                    false => format!("{} has not passed since", self.names[i]),
                })
                .collect();
            let message = format!(
                "not steady within {} after {}: {}",
                human(within),
                r.key,
                why.join(", ")
            );
            let probe = missing.first().copied().unwrap_or_default();
            out.push(Decision::Unrecovered { key: r.key, within });
            out.extend(self.first_breach(probe, now, message));
        }
        out
    }

    /// The verdict of an experiment that ended as `ending`, with the first
    /// breach (its `recovered` set from the probes now).
    pub fn verdict(&self, ending: &Ending) -> (Verdict, Option<Breach>) {
        let breach = self.first.clone().map(|b| Breach {
            recovered: self.steady(),
            ..b
        });
        let verdict = match ending {
            Ending::NotStarted => Verdict::NotStarted,
            Ending::Interrupted => Verdict::Interrupted,
            Ending::Aborted => Verdict::Aborted,
            Ending::Ran if self.names.is_empty() => Verdict::Completed,
            Ending::Ran if breach.is_some() => Verdict::Failed,
            Ending::Ran => Verdict::Passed,
        };
        (verdict, breach)
    }
}

use crate::civil::rfc3339_millis as rfc3339;

#[cfg(test)]
mod tests {
    use std::time::UNIX_EPOCH;

    use super::*;
    use crate::probe::{Check, Endpoint, Probe, Tolerance};

    fn t(ms: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_800_000_000) + Duration::from_millis(ms)
    }

    fn hypothesis(
        probes: u32,
        during: bool,
        recover_ms: Option<u64>,
        tolerance: u32,
    ) -> SteadyState {
        SteadyState {
            probes: (0..probes)
                .map(|i| Probe {
                    name: format!("p{i}"),
                    check: Check::Tcp(Endpoint {
                        host: "127.0.0.1".into(),
                        port: 80,
                    }),
                    interval: Duration::from_millis(100),
                    timeout: Duration::from_millis(100),
                    tolerance: Tolerance::Consecutive(tolerance),
                })
                .collect(),
            before: None,
            during,
            recover_within: recover_ms.map(Duration::from_millis),
            on_breach: OnBreach::Abort,
        }
    }

    fn breaches(d: &[Decision]) -> Vec<&Breach> {
        d.iter()
            .filter_map(|d| match d {
                Decision::Breach(b) => Some(b),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn without_a_hypothesis_a_run_is_completed() {
        let mut j = Judge::new(None);
        j.start();
        j.fault_ended("f".into(), t(0));
        j.end(t(10));
        assert!(!j.waiting());
        assert_eq!(j.verdict(&Ending::Ran), (Verdict::Completed, None));
        assert_eq!(j.verdict(&Ending::Aborted).0, Verdict::Aborted);
    }

    #[test]
    fn a_breach_before_the_start_is_not_judged_but_unsteady() {
        let mut j = Judge::new(Some(&hypothesis(2, true, None, 0)));
        assert_eq!(
            j.unsteady().unwrap(),
            "p0 has no result yet, p1 has no result yet"
        );
        let d = j.result(0, t(0), t(1), Some("down"));
        assert!(breaches(&d).is_empty(), "before the start: {d:?}");
        j.result(1, t(0), t(1), None);
        assert_eq!(j.unsteady().unwrap(), "p0 is breached");
        assert!(!j.steady());
        j.result(0, t(100), t(101), None);
        assert!(j.steady());
        assert_eq!(j.verdict(&Ending::NotStarted).0, Verdict::NotStarted);
    }

    #[test]
    fn a_breach_during_the_run_is_the_first_and_only_one_named() {
        let mut j = Judge::new(Some(&hypothesis(2, true, None, 1)));
        j.start();
        assert!(
            breaches(&j.result(0, t(0), t(5), Some("down"))).is_empty(),
            "tolerated"
        );
        let d = j.result(0, t(100), t(105), Some("down"));
        let b = breaches(&d);
        assert_eq!(b.len(), 1);
        assert_eq!(b[0].probe, "p0");
        assert_eq!(b[0].at, "2027-01-15T08:00:00.105Z");
        // A second probe's breach is recorded, not a new first breach.
        j.result(1, t(100), t(105), Some("down"));
        assert!(breaches(&j.result(1, t(200), t(205), Some("down"))).is_empty());
        assert_eq!(j.breach().unwrap().probe, "p0");
        // Not steady at the end: failed, not recovered.
        let (v, b) = j.verdict(&Ending::Ran);
        assert_eq!(v, Verdict::Failed);
        assert!(!b.unwrap().recovered);
        for p in [0, 1] {
            j.result(p, t(300), t(305), None);
        }
        assert!(j.verdict(&Ending::Ran).1.unwrap().recovered);
    }

    #[test]
    fn recovery_is_timed_from_the_fault_end_to_every_probe_passing_again() {
        let mut j = Judge::new(Some(&hypothesis(2, false, Some(5000), 0)));
        j.start();
        j.result(0, t(0), t(10), Some("down"));
        j.fault_ended("kill on web".into(), t(1000));
        assert_eq!(j.next_deadline(), Some(t(6000)));
        // A run that started before the fault ended does not count.
        let d = j.result(0, t(900), t(1100), None);
        assert!(
            matches!(
                d[..],
                [Decision::Probe {
                    change: Change::Steady,
                    ..
                }]
            ),
            "{d:?}"
        );
        assert!(j.result(1, t(1200), t(1210), None).is_empty());
        let d = j.result(0, t(2500), t(2510), None);
        assert_eq!(
            d,
            vec![Decision::Recovered {
                key: "kill on web".into(),
                after: Duration::from_millis(1510)
            }]
        );
        assert!(!j.waiting());
        assert!(j.tick(t(7000)).is_empty());
        j.end(t(8000));
        assert!(j.waiting(), "the end waits for recovery too");
        j.result(0, t(8100), t(8110), None);
        j.result(1, t(8100), t(8120), None);
        assert!(!j.waiting());
        assert_eq!(j.verdict(&Ending::Ran), (Verdict::Passed, None));
    }

    #[test]
    fn a_missed_recovery_is_a_breach() {
        let mut j = Judge::new(Some(&hypothesis(1, false, Some(1000), 0)));
        j.start();
        j.fault_ended("pause on web".into(), t(0));
        j.result(0, t(100), t(200), Some("down"));
        assert!(j.tick(t(999)).is_empty());
        let d = j.tick(t(1000));
        assert_eq!(
            d[0],
            Decision::Unrecovered {
                key: "pause on web".into(),
                within: Duration::from_secs(1)
            }
        );
        let b = breaches(&d);
        assert_eq!(
            b[0].message,
            "not steady within 1s after pause on web: p0 is breached"
        );
        assert_eq!(j.verdict(&Ending::Ran).0, Verdict::Failed);
    }

    #[test]
    fn a_missed_recovery_names_the_probes_that_did_not_pass_since() {
        let mut j = Judge::new(Some(&hypothesis(2, false, Some(1000), 0)));
        j.start();
        j.result(0, t(0), t(5), None);
        j.result(1, t(0), t(5), None);
        j.fault_ended("kill on web".into(), t(100));
        // p0 passes again; p1 has not run since.
        j.result(0, t(200), t(205), None);
        let d = j.tick(t(1100));
        assert_eq!(
            breaches(&d)[0].message,
            "not steady within 1s after kill on web: p1 has not passed since"
        );
        assert_eq!(breaches(&d)[0].probe, "p1");
    }

    #[test]
    fn verdicts_map_to_exit_codes() {
        assert_eq!(Verdict::Passed.exit_code(), 0);
        assert_eq!(Verdict::Completed.exit_code(), 0);
        assert_eq!(Verdict::Failed.exit_code(), 1);
        for v in [Verdict::Aborted, Verdict::NotStarted, Verdict::Interrupted] {
            assert_eq!(v.exit_code(), 3);
        }
        assert_eq!(
            serde_json::to_string(&Verdict::NotStarted).unwrap(),
            "\"not-started\""
        );
    }
}
