//! The dry run: what an experiment would do from a given start against a
//! given set of containers, and its text form for `chaosctl apply
//! --dry-run`. Owns the order in which the seeded RNG is consumed, which
//! the agent follows when it runs the experiment for real:
//!
//! 1. `rng(seed)`, with the seed from [`seed`];
//! 2. [`fire_times`](crate::schedule::fire_times) over the whole length;
//! 3. at each fire, in order, unless it is skipped, one
//!    [`select`](crate::selector::select) among the running matching
//!    containers that hold no active fault of this experiment.
//!
//! A fire is skipped when `max-active` injections are still active, or
//! when no container is eligible. An injection is active from its fire
//! until its fault's duration ends or the experiment ends, whichever is
//! first; a kill is never active. The plan assumes the candidates stay as
//! given; the live run selects from the containers of the moment.
//!
//! A plan lists its first fires only ([`PLAN_LIMIT`] unless asked for more,
//! up to [`MAX_PLAN_LIMIT`]) and counts the rest without holding them, so
//! its size does not depend on the experiment's length.

use std::fmt;
use std::time::{Duration, SystemTime};

use crate::civil;
use crate::experiment::{human, Experiment, Fault};
use crate::schedule::fire_times;
use crate::selector::{select, Candidate};

/// How many fires a plan lists unless asked for another number.
pub const PLAN_LIMIT: usize = 1000;

/// The most fires a plan lists: 10 000 lines of text, about a megabyte.
pub const MAX_PLAN_LIMIT: usize = 10_000;

/// The first planned fires of one experiment, and how many there are.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub experiment: String,
    /// The seed used: the experiment's, or one derived from the start.
    pub seed: u64,
    pub start: SystemTime,
    pub length: Duration,
    /// The first fires, in order.
    pub fires: Vec<PlannedFault>,
    /// Every fire of the experiment, the listed ones included.
    pub total: u64,
}

/// One fire: when, what, and on which containers (or why not).
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedFault {
    pub at: SystemTime,
    /// `at` minus the start.
    pub offset: Duration,
    /// What the fire injects into each target.
    pub faults: Vec<Fault>,
    /// The containers hit, sorted by id; empty when skipped.
    pub targets: Vec<Candidate>,
    /// Offset from the start at which the fault is reverted; `None` for a
    /// kill or a skipped fire.
    pub until: Option<Duration>,
    pub skipped: Option<Skip>,
}

/// Why a planned fire injects nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Skip {
    #[error("max-active {0} reached")]
    MaxActive(u32),
    #[error("no running container matches the targets ({busy} matching already hold a fault of this experiment)")]
    NoTargets { busy: usize },
}

/// The seed an experiment runs with from `start`: its own `seed`, else the
/// start time in nanoseconds since the epoch (truncated to 64 bits).
pub fn seed(experiment: &Experiment, start: SystemTime) -> u64 {
    experiment
        .seed
        .unwrap_or_else(|| civil::unix_ns(start) as u64)
}

/// Plans `experiment` from `start` against `candidates`, listing the first
/// [`PLAN_LIMIT`] fires. The same seed, start and candidates (in any order)
/// give the identical plan.
pub fn plan(experiment: &Experiment, start: SystemTime, candidates: &[Candidate]) -> Plan {
    plan_first(experiment, start, candidates, PLAN_LIMIT)
}

/// [`plan`], listing the first `limit` fires (at most [`MAX_PLAN_LIMIT`]).
/// The start must be one [`schedule::end`](crate::schedule::end) accepts
/// for the experiment's length; fires after a time the clock cannot hold
/// are left out.
pub fn plan_first(
    experiment: &Experiment,
    start: SystemTime,
    candidates: &[Candidate],
    limit: usize,
) -> Plan {
    let seed = seed(experiment, start);
    let mut rng = crate::rng(seed);
    let length = experiment.length();
    let fault_len = crate::experiment::longest(&experiment.faults);
    // (until offset, target ids) of injections that may still be active.
    let mut active: Vec<(Duration, Vec<String>)> = Vec::new();
    let mut fires = Vec::new();
    let times = fire_times(&experiment.schedule, start, length, &mut rng);
    // Counted, not planned: the walk holds nothing per fire.
    let total = times.clone().count() as u64;
    for offset in times.take(limit.min(MAX_PLAN_LIMIT)) {
        let Some(at) = start.checked_add(offset) else {
            break;
        };
        active.retain(|(until, _)| *until > offset);
        let mut fire = PlannedFault {
            at,
            offset,
            faults: experiment.faults.clone(),
            targets: Vec::new(),
            until: None,
            skipped: None,
        };
        if active.len() >= experiment.max_active as usize {
            fire.skipped = Some(Skip::MaxActive(experiment.max_active));
            fires.push(fire);
            continue;
        }
        let busy = |c: &Candidate| active.iter().any(|(_, ids)| ids.contains(&c.id));
        let free = candidates.iter().filter(|c| !busy(c));
        let picked = select(&experiment.targets, free, &mut rng);
        if picked.is_empty() {
            let busy = candidates
                .iter()
                .filter(|c| c.running && experiment.targets.matches(c) && busy(c))
                .count();
            fire.skipped = Some(Skip::NoTargets { busy });
            fires.push(fire);
            continue;
        }
        fire.targets = picked.into_iter().cloned().collect();
        if let Some(d) = fault_len {
            let until = offset.saturating_add(d).min(length);
            fire.until = Some(until);
            active.push((until, fire.targets.iter().map(|c| c.id.clone()).collect()));
        }
        fires.push(fire);
    }
    Plan {
        experiment: experiment.name.clone(),
        seed,
        start,
        length,
        fires,
        total,
    }
}

/// A header line, then one line per listed fire: RFC 3339 UTC time,
/// offset from the start, the fault with its parameters, and the target
/// names (or why the fire is skipped); then, when not every fire is
/// listed, a line with how many more there are.
impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let skipped = self.fires.iter().filter(|p| p.skipped.is_some()).count();
        let shown = self.fires.len() as u64;
        let skipped = if shown < self.total {
            format!("{skipped} skipped among the first {shown}")
        } else {
            format!("{skipped} skipped")
        };
        writeln!(
            f,
            "experiment {}: seed {}, start {}, length {}, {} fires ({skipped})",
            self.experiment,
            self.seed,
            civil::rfc3339_seconds(self.start),
            human(self.length),
            self.total,
        )?;
        let offsets: Vec<String> = self
            .fires
            .iter()
            .map(|p| format!("+{}", human(Duration::from_secs(p.offset.as_secs()))))
            .collect();
        let width = offsets.iter().map(String::len).max().unwrap_or(0);
        for (p, offset) in self.fires.iter().zip(&offsets) {
            write!(
                f,
                "{}  {offset:<width$}  {}",
                civil::rfc3339_seconds(p.at),
                crate::experiment::line(&p.faults)
            )?;
            match &p.skipped {
                Some(skip) => writeln!(f, "  skipped: {skip}")?,
                None => {
                    let names: Vec<&str> = p.targets.iter().map(|c| c.name.as_str()).collect();
                    writeln!(f, "  on {}", names.join(", "))?
                }
            }
        }
        if shown < self.total {
            writeln!(f, "... and {} more fires not shown", self.total - shown)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use std::time::UNIX_EPOCH;

    /// 2026-12-02T09:00:00Z, a Wednesday.
    fn start() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_796_169_600 + 9 * 3600)
    }

    fn web(n: usize) -> Vec<Candidate> {
        (1..=n)
            .map(|i| Candidate {
                id: format!("id{i}"),
                name: format!("web-{i}"),
                labels: BTreeMap::from([("app".to_string(), "web".to_string())]),
                annotations: BTreeMap::new(),
                origin: "joltd".into(),
                running: true,
            })
            .collect()
    }

    fn exp(yaml: &str) -> Experiment {
        Experiment::from_yaml_or_json(yaml, "test.yaml").unwrap()
    }

    const MONKEY: &str = "
name: web-monkey
seed: 11
targets: {labels: {app: web}, mode: {fixed: 2}}
schedule: {monkey: {mean-time-between: 10m, min-gap: 1m}}
duration: 2h
max-active: 3
fault: {kind: pause, duration: 30s}
";

    #[test]
    fn same_seed_gives_the_identical_plan_and_text() {
        let e = exp(MONKEY);
        let a = plan(&e, start(), &web(6));
        let mut shuffled = web(6);
        shuffled.rotate_left(4);
        let b = plan(&e, start(), &shuffled);
        assert_eq!(a, b);
        assert_eq!(a.to_string(), b.to_string());
        assert!(a.fires.len() > 3, "{a}");
    }

    #[test]
    fn another_seed_gives_another_plan() {
        let a = plan(&exp(MONKEY), start(), &web(6));
        let other = exp(&MONKEY.replace("seed: 11", "seed: 12"));
        let b = plan(&other, start(), &web(6));
        assert_ne!(a.to_string(), b.to_string());
    }

    #[test]
    fn without_a_seed_the_start_decides_and_the_plan_says_which() {
        let e = exp(&MONKEY.replace("seed: 11\n", ""));
        let a = plan(&e, start(), &web(6));
        assert_eq!(a, plan(&e, start(), &web(6)));
        assert_eq!(a.seed, seed(&e, start()));
        assert!(a.to_string().contains(&format!("seed {}", a.seed)));
    }

    #[test]
    fn renders_one_line_per_fire() {
        let e = exp("
name: web-latency
seed: 1
targets: {names: [web-1, web-2], mode: all}
schedule: {at: [0s, 1m30s]}
fault: {kind: network-delay, latency: 100ms, jitter: 10ms, duration: 1m}
");
        let text = plan(&e, start(), &web(3)).to_string();
        assert_eq!(
            text,
            "experiment web-latency: seed 1, start 2026-12-02T09:00:00Z, length 2m30s, 2 fires (0 skipped)\n\
             2026-12-02T09:00:00Z  +0s     network-delay latency=100ms jitter=10ms for 1m  on web-1, web-2\n\
             2026-12-02T09:01:30Z  +1m30s  network-delay latency=100ms jitter=10ms for 1m  on web-1, web-2\n"
        );
    }

    #[test]
    fn max_active_skips_fires_while_earlier_faults_hold() {
        let e = exp("
name: overlap
targets: {labels: {app: web}, mode: one}
schedule: {every: 1m}
duration: 5m
fault: {kind: cpu-throttle, cpus: 0.2, duration: 90s}
");
        let p = plan(&e, start(), &web(4));
        let skipped: Vec<bool> = p.fires.iter().map(|f| f.skipped.is_some()).collect();
        assert_eq!(skipped, [false, true, false, true, false]);
        assert_eq!(p.fires[1].skipped, Some(Skip::MaxActive(1)));
        assert_eq!(
            p.fires[4].until,
            Some(Duration::from_secs(300)),
            "cut at the end"
        );
    }

    #[test]
    fn a_container_never_holds_two_faults_of_one_experiment() {
        let e = exp("
name: overlap
targets: {names: [web-1], mode: one}
schedule: {every: 1m}
duration: 3m
max-active: 5
fault: {kind: pause, duration: 90s}
");
        let p = plan(&e, start(), &web(2));
        assert_eq!(p.fires[1].skipped, Some(Skip::NoTargets { busy: 1 }));
        assert!(p.fires[2].skipped.is_none());
        assert!(p.to_string().contains(
            "skipped: no running container matches the targets (1 matching already hold a fault of this experiment)"
        ));
    }

    #[test]
    fn a_long_plan_lists_its_first_fires_and_counts_the_rest() {
        let e = exp("
name: steady
seed: 3
targets: {labels: {app: web}, mode: one}
schedule: {every: 7s}
duration: 7d
fault: {kind: kill}
");
        let p = plan(&e, start(), &web(2));
        assert_eq!((p.fires.len(), p.total), (PLAN_LIMIT, 86_400));
        let text = p.to_string();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), PLAN_LIMIT + 2);
        assert_eq!(
            lines[0],
            "experiment steady: seed 3, start 2026-12-02T09:00:00Z, length 7days, 86400 fires (0 skipped among the first 1000)"
        );
        assert!(lines[1000].starts_with("2026-12-02T10:56:33Z  +1h56m33s  kill"));
        assert_eq!(lines[1001], "... and 85400 more fires not shown");
        let few = plan_first(&e, start(), &web(2), 3);
        assert_eq!(few.fires, p.fires[..3]);
        assert!(few
            .to_string()
            .ends_with("\n... and 86397 more fires not shown\n"));
        let capped = plan_first(&e, start(), &web(2), usize::MAX);
        assert_eq!(capped.fires.len(), MAX_PLAN_LIMIT);
    }

    #[test]
    fn a_plan_near_the_year_9999_shows_its_times() {
        let e = exp("
name: late
seed: 1
targets: {labels: {app: web}}
schedule: {every: 1h}
duration: 3h
fault: {kind: kill}
");
        let start = humantime::parse_rfc3339("9999-12-31T20:00:00Z").unwrap();
        assert!(crate::schedule::end(start, e.length()).is_ok());
        let text = plan(&e, start, &web(1)).to_string();
        assert!(
            text.ends_with("9999-12-31T22:00:00Z  +2h  kill signal=SIGKILL scope=init  on web-1\n"),
            "{text}"
        );
        // Past what humantime can write, the plan still shows every time.
        let later = start + Duration::from_secs(4 * 3600);
        let text = plan(&e, later, &web(1)).to_string();
        assert!(text.contains("10000-01-01T02:00:00Z  +2h  kill"), "{text}");
    }

    #[test]
    fn kills_are_never_active() {
        let e = exp("
name: killer
targets: {labels: {app: web}, mode: one}
schedule: {cron: '*/10 * * * *'}
duration: 1h
fault: {kind: kill, signal: TERM}
");
        let p = plan(&e, start(), &web(2));
        assert_eq!(p.fires.len(), 6);
        assert!(p
            .fires
            .iter()
            .all(|f| f.skipped.is_none() && f.until.is_none()));
        assert!(p
            .to_string()
            .contains("kill signal=SIGTERM scope=init  on web-"));
    }
}
