//! experiments: joltd's chaos experiments, from `chaosctl apply` to the
//! last revert.
//!
//! Owns the table of experiments (unique names), one runner task each
//! (fire times walked lazily from jolt-chaos's schedule, so a runner holds
//! nothing per fire it has not reached; at each fire, targets picked
//! among the containers of the moment, consuming the seeded RNG in the
//! order the dry run does), the fault journal (an entry is durable before
//! its fault is applied and removed once it is reverted), each
//! experiment's timeline of events, and the chaos metrics. What a fault
//! does to the kernel is jolt-chaos's `fault` module; which containers
//! exist is the daemon's.
//!
//! A revert that fails is retried with back-off until the fault is gone
//! (or its target is), and the experiment does not end before; a record
//! that cannot be saved is retried too, and memory shows what the disk
//! holds until it is.
//!
//! On disk, under `<state>/experiments/<name>/`: `experiment.yaml` (the
//! text as applied), `record.json` (phase, seed, start; written durably)
//! and `events.jsonl` (the timeline: see `timeline`). At joltd's start the
//! journal is replayed (every fault still in it reverted) before any
//! container is adopted, and experiments that were running are marked
//! interrupted: nothing resumes by itself. What a joltd killed mid-write
//! left is removed then, and logged: the journal's temporary files, an
//! experiment directory without its record (apply writes it last), and
//! temporary files beside a record.

use std::collections::{BTreeMap, HashSet};
use std::fs;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jolt_chaos::experiment::human;
use jolt_chaos::experiment::OnFailure;
use jolt_chaos::fault::{self, Reverted, Undo};
use jolt_chaos::journal::{self, Journal};
use jolt_chaos::plan::{self, plan_first, MAX_PLAN_LIMIT, PLAN_LIMIT};
use jolt_chaos::schedule::{self, fire_times};
use jolt_chaos::selector::{select, Candidate};
use jolt_chaos::target::Target;
use jolt_chaos::verdict::{Breach, Ending, Judge, Verdict};
use jolt_chaos::{Experiment, Fault};
use nix::unistd::Pid;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::container::{Faulted, Listed, State};
use crate::daemon::Daemon;
use crate::hypothesis::{Hypothesis, NotStarted, ProbeStatus, Sink};
use crate::metrics::{Metrics, Outcome};
use crate::monitor::now;
use crate::store::{read_json, write_json, StoreError};
pub use crate::timeline::Event;
use crate::timeline::Timeline;

/// The interface every container has in its network namespace.
const INTERFACE: &str = "eth0";
/// How far ahead of its fire a fault is prepared and journaled: the
/// journal's fsync (p99 ~7 ms here, more when the disk's own journal
/// commits) is then not in the injection latency. At the fire the fault is
/// prepared again (a read), and journaled again only if that changed.
const LEAD: Duration = Duration::from_millis(20);
/// Back-off between attempts at a revert that failed: first and longest.
/// A fault is retried until it is reverted or its target is gone.
const REVERT_RETRY_FIRST: Duration = Duration::from_millis(100);
const REVERT_RETRY_MAX: Duration = Duration::from_secs(10);
/// Back-off between attempts at saving a record: first and longest.
const SAVE_RETRY_FIRST: Duration = Duration::from_millis(100);
const SAVE_RETRY_MAX: Duration = Duration::from_secs(10);
/// Attempts at saving an interrupted record at joltd's start, which must
/// not wait for the disk.
const OPEN_SAVE_ATTEMPTS: u32 = 3;
/// How long a kill's target is watched for coming back.
const RECOVERY_WATCH: Duration = Duration::from_secs(300);
/// How long a kill's target may run on with the same init before the
/// signal counts as survived.
const SURVIVAL: Duration = Duration::from_secs(1);

#[derive(Debug, thiserror::Error)]
pub enum ExperimentsError {
    #[error("experiment {0}: no such experiment")]
    NotFound(String),
    #[error("experiment {name}: {why}")]
    Conflict { name: String, why: String },
    #[error("{0}")]
    Invalid(String),
    #[error("state: {0}")]
    Store(#[from] StoreError),
    #[error("journal: {0}")]
    Journal(#[from] journal::JournalError),
}

/// Where an experiment is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    Running,
    Finished,
    Aborted,
    /// Stopped by a failed injection (`on-failure: stop`).
    Failed,
    /// joltd stopped or died while it ran; its faults were reverted at the
    /// next start.
    Interrupted,
}

impl Phase {
    pub fn name(self) -> &'static str {
        match self {
            Phase::Running => "running",
            Phase::Finished => "finished",
            Phase::Aborted => "aborted",
            Phase::Failed => "failed",
            Phase::Interrupted => "interrupted",
        }
    }
}

/// What is kept of an experiment, durably.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub name: String,
    /// The file it came from, as the client named it.
    pub origin: String,
    pub seed: u64,
    /// RFC 3339, UTC.
    pub start: String,
    /// How long it runs, e.g. `5m`.
    pub length: String,
    /// The fault and its parameters, one line.
    pub fault: String,
    pub phase: Phase,
    /// Why it failed or was interrupted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended: Option<String>,
    /// How it was judged, once it ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verdict: Option<Verdict>,
    /// The first breach of its hypothesis.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub breach: Option<Breach>,
}

/// An injected fault not yet reverted.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Active {
    /// The journal entry's id.
    pub id: String,
    pub target: String,
    pub target_id: String,
    pub kind: &'static str,
    pub fault: String,
    /// When it is reverted (RFC 3339).
    pub until: String,
    /// Milliseconds left until then.
    pub left_ms: u64,
    /// Why the last attempt at reverting it failed, while it is retried:
    /// the fault is still in the kernel.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revert_error: Option<String>,
    /// Attempts at reverting it so far.
    #[serde(skip_serializing_if = "is_zero")]
    pub revert_attempts: u32,
    #[serde(skip)]
    until_time: SystemTime,
    /// What undoes it, as journaled.
    #[serde(skip)]
    undo: Undo,
}

impl Active {
    /// A fault of `entry` whose revert failed with `error` (at joltd's
    /// start): due already, retried.
    fn stuck(entry: &journal::Entry, error: String) -> Active {
        let kind = jolt_chaos::experiment::FAULT_KINDS
            .into_iter()
            .find(|k| *k == entry.fault_kind)
            .unwrap_or("unknown");
        let now_t = SystemTime::now();
        Active {
            id: entry.id.clone(),
            target: entry.target.name.clone(),
            target_id: entry.target.id.clone(),
            kind,
            fault: entry.fault_line().to_string(),
            until: rfc3339(now_t),
            left_ms: 0,
            revert_error: Some(error),
            revert_attempts: 1,
            until_time: now_t,
            undo: entry.undo.clone(),
        }
    }
}

/// An experiment as `get` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    #[serde(flatten)]
    pub record: Record,
    pub next_fire: Option<String>,
    pub active: Vec<Active>,
    pub injected: u64,
    pub reverted: u64,
    pub failed: u64,
    /// Lines of the timeline's file that do not parse.
    #[serde(skip_serializing_if = "is_zero")]
    pub damaged_events: u64,
    /// Why the record or the timeline cannot be saved, while joltd
    /// retries: what disk says lags behind what is shown.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unsaved: Option<String>,
    /// Fires the schedule holds, once it is walked (after `before`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fires_planned: Option<u64>,
    /// Fires reached so far (injected, skipped or failed).
    pub fires_done: u64,
    /// The hypothesis' probes while it runs.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub probes: Vec<ProbeStatus>,
}

fn is_zero<T: Default + PartialEq>(n: &T) -> bool {
    *n == T::default()
}

/// `chaosctl apply`'s request.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApplyRequest {
    /// The experiment file's text, YAML or JSON.
    pub text: String,
    /// The file's name, for messages.
    #[serde(default)]
    pub origin: Option<String>,
    #[serde(default)]
    pub dry_run: bool,
    /// The start a dry run plans from (RFC 3339); now when absent.
    #[serde(default)]
    pub start: Option<String>,
    /// How many fires a dry run lists (default 1000, at most 10000); the
    /// rest are counted.
    #[serde(default)]
    pub limit: Option<usize>,
}

/// What `apply` did.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum Applied {
    Started(Box<Status>),
    Plan { plan: String },
}

struct RunState {
    record: Record,
    active: Vec<Active>,
    next_fire: Option<SystemTime>,
    /// Set when cut short: the phase it ends in (aborted, interrupted).
    stopping: Option<Phase>,
    /// Why the record could not be saved, while that is retried.
    unsaved: Option<String>,
    /// Why it was cut short, with `stopping`.
    stop_reason: Option<String>,
    planned: Option<u64>,
    fired: u64,
}

struct Run {
    experiment: Option<Experiment>,
    dir: PathBuf,
    state: Mutex<RunState>,
    timeline: Arc<Timeline>,
    /// Set to cut the experiment short: pending fires are dropped and
    /// active faults reverted at once.
    cancel: watch::Sender<bool>,
    /// Bumped on every new event and phase change.
    changed: watch::Sender<u64>,
    /// The hypothesis, once its probes run.
    hypothesis: OnceLock<Arc<Hypothesis>>,
}

impl Run {
    fn lock(&self) -> std::sync::MutexGuard<'_, RunState> {
        self.state.lock().expect("no panics while held")
    }

    fn name(&self) -> String {
        self.lock().record.name.clone()
    }

    /// A run of `record` kept in `dir`, its timeline opened.
    fn new(
        experiment: Option<Experiment>,
        dir: PathBuf,
        record: Record,
    ) -> Result<Run, ExperimentsError> {
        let changed = watch::Sender::new(0);
        let notify = changed.clone();
        let on_durable = move || notify.send_modify(|n| *n += 1);
        // A live experiment was just applied: its directory is made anew.
        let timeline = match experiment {
            Some(_) => Timeline::new(&dir, on_durable),
            None => Timeline::open(&dir, on_durable).map_err(|cause| StoreError::Io {
                path: dir.join(crate::timeline::FILE),
                cause,
            })?,
        };
        Ok(Run {
            experiment,
            dir,
            state: Mutex::new(RunState {
                record,
                active: Vec::new(),
                next_fire: None,
                stopping: None,
                unsaved: None,
                stop_reason: None,
                planned: None,
                fired: 0,
            }),
            timeline: Arc::new(timeline),
            cancel: watch::Sender::new(false),
            changed,
            hypothesis: OnceLock::new(),
        })
    }

    /// Appends `event` to the timeline (durable before anyone sees it).
    fn event(&self, event: &str, target: Option<&str>, fault: Option<String>, msg: Option<String>) {
        self.timed_event(event, target, fault, msg, None);
    }

    /// [`Run::event`] with how late it came.
    fn timed_event(
        &self,
        event: &str,
        target: Option<&str>,
        fault: Option<String>,
        msg: Option<String>,
        late: Option<Duration>,
    ) {
        let e = Event {
            at: now(),
            event: event.to_string(),
            target: target.map(str::to_string),
            fault,
            message: msg,
            late_ms: late.map(|d| d.as_secs_f64() * 1e3),
            ..Event::default()
        };
        tracing::info!(experiment = %self.name(), event, target = ?e.target, message = ?e.message, "chaos");
        self.timeline.append(e);
    }

    /// Moves to `phase` once the timeline is durable and the record saved
    /// with it; whether it did. A save that fails is retried with back-off
    /// (shown as `unsaved` meanwhile), and until it succeeds memory keeps
    /// the phase the disk has. Blocks: without `attempts`, until it is
    /// done; with, for at most that many tries (and a second for the
    /// timeline).
    fn finish(
        &self,
        phase: Phase,
        reason: Option<String>,
        judged: (Verdict, Option<Breach>),
        attempts: Option<u32>,
    ) -> bool {
        if !self
            .timeline
            .flush(attempts.map(|_| Duration::from_secs(1)))
        {
            self.lock().unsaved = Some("the timeline cannot be written (retrying)".into());
            return false;
        }
        let mut record = self.lock().record.clone();
        record.phase = phase;
        record.reason = reason;
        record.ended = Some(now());
        (record.verdict, record.breach) = (Some(judged.0), judged.1);
        let path = self.dir.join("record.json");
        let mut wait = SAVE_RETRY_FIRST;
        let mut tried = 0;
        loop {
            tried += 1;
            match write_json(&path, &record) {
                Ok(()) => break,
                Err(e) => {
                    tracing::error!(experiment = %record.name, "{e}; retrying in {wait:?}");
                    self.lock().unsaved = Some(format!("{e} (retrying)"));
                    self.changed.send_modify(|n| *n += 1);
                    if attempts.is_some_and(|n| tried >= n) {
                        return false;
                    }
                    std::thread::sleep(wait);
                    wait = (wait * 2).min(SAVE_RETRY_MAX);
                }
            }
        }
        let mut s = self.lock();
        s.record = record;
        s.unsaved = None;
        s.next_fire = None;
        drop(s);
        self.changed.send_modify(|n| *n += 1);
        true
    }

    fn status(&self) -> Status {
        let s = self.lock();
        let now_t = SystemTime::now();
        let active = s
            .active
            .iter()
            .map(|a| Active {
                left_ms: a
                    .until_time
                    .duration_since(now_t)
                    .unwrap_or_default()
                    .as_millis() as u64,
                ..a.clone()
            })
            .collect();
        let counts = self.timeline.counts();
        let unsaved = s.unsaved.clone().or_else(|| {
            self.timeline
                .failing()
                .map(|(why, n)| format!("timeline: {n} events wait: {why} (retrying)"))
        });
        Status {
            record: s.record.clone(),
            next_fire: s.next_fire.map(rfc3339),
            active,
            injected: counts.injected,
            reverted: counts.reverted,
            failed: counts.failed,
            damaged_events: counts.damaged,
            unsaved,
            fires_planned: s.planned,
            fires_done: s.fired,
            probes: self
                .hypothesis
                .get()
                .map(|h| h.status())
                .unwrap_or_default(),
        }
    }
}

/// The hypothesis' way into its experiment.
struct RunSink(Arc<Run>);

impl Sink for RunSink {
    fn event(&self, event: Event) {
        if event.event != "probe" {
            tracing::info!(experiment = %self.0.name(), event = %event.event, probe = ?event.probe, message = ?event.message, "chaos");
        }
        self.0.timeline.append(event);
    }

    fn abort(&self, breach: &Breach) {
        {
            let mut s = self.0.lock();
            if s.record.phase != Phase::Running || s.stopping.is_some() {
                return;
            }
            s.stopping = Some(Phase::Aborted);
            s.stop_reason = Some(format!(
                "probe {} breached the hypothesis: {}",
                breach.probe, breach.message
            ));
        }
        self.0.cancel.send_replace(true);
    }
}

/// joltd's experiments.
pub struct Experiments {
    dir: PathBuf,
    journal: Arc<Journal>,
    daemon: Arc<Daemon>,
    table: Mutex<BTreeMap<String, Arc<Run>>>,
    metrics: Arc<Metrics>,
}

/// Replays the fault journal in `state_dir`: reverts every fault still in
/// it. Run at joltd's start before anything else; the result goes to
/// [`Experiments::open`].
pub fn recover(state_dir: &Path) -> Result<(Journal, Vec<Recovered>), ExperimentsError> {
    let journal = Journal::open(&state_dir.join("journal"))?;
    for cleared in journal.remove_temp_files() {
        match cleared {
            Ok(path) => {
                tracing::warn!(path = %path.display(), "journal: removed a temporary file left by a joltd killed mid-write (its fault was never applied)")
            }
            Err(e) => tracing::error!("journal: {e}"),
        }
    }
    let (_, corrupt) = journal.entries();
    for e in corrupt {
        tracing::error!("journal: skipping an entry: {e}");
    }
    let recovered = journal
        .revert_all()
        .into_iter()
        .map(|(entry, result)| {
            match &result {
                Ok(how) => tracing::info!(experiment = %entry.experiment, target = %entry.target.name, fault = %entry.fault_line(), ?how, "reverted a fault left by the last run"),
                Err(e) => tracing::error!(experiment = %entry.experiment, "revert at start: {e} (retried)"),
            }
            Recovered {
                entry,
                result: result.map_err(|e| e.to_string()),
            }
        })
        .collect();
    Ok((journal, recovered))
}

/// One fault the journal replay reverted (or could not). Its journal
/// entry stays until [`Experiments::open`] has the outcome in the
/// experiment's timeline, durably; a failed one stays until a retry
/// reverts it.
pub struct Recovered {
    pub entry: journal::Entry,
    pub result: Result<Reverted, String>,
}

impl Experiments {
    /// Loads the experiments under `<state_dir>/experiments`; those that
    /// were running are marked interrupted, with the replay's outcome for
    /// their faults in their timelines (a journal entry goes once that is
    /// durable). A fault the replay could not revert stays active, shown
    /// with its error, and is retried with back-off; an experiment that
    /// was running is marked interrupted only once its faults are gone.
    /// Runs inside joltd's tokio runtime, after the daemon adopted its
    /// containers.
    pub fn open(
        state_dir: &Path,
        journal: Journal,
        recovered: Vec<Recovered>,
        daemon: Arc<Daemon>,
    ) -> Result<Arc<Experiments>, ExperimentsError> {
        let dir = state_dir.join("experiments");
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)
            .map_err(|e| StoreError::Io {
                path: dir.clone(),
                cause: e,
            })?;
        let mut table = BTreeMap::new();
        for entry in fs::read_dir(&dir)
            .map_err(|e| StoreError::Io {
                path: dir.clone(),
                cause: e,
            })?
            .flatten()
        {
            let path = entry.path();
            if !path.is_dir() {
                continue;
            }
            clear_temp_files(&path);
            let record: Record = match read_json(&path.join("record.json")) {
                Ok(Some(r)) => r,
                Ok(None) => {
                    // apply writes the record last: killed before it, it
                    // started nothing.
                    match fs::remove_dir_all(&path) {
                        Ok(()) => {
                            tracing::warn!(path = %path.display(), "removed an experiment directory without its record (left by a joltd killed in apply)")
                        }
                        Err(e) => {
                            tracing::error!(path = %path.display(), "an experiment directory without its record: removing it: {e}")
                        }
                    }
                    continue;
                }
                Err(e) => {
                    tracing::error!("skipping an experiment: {e}");
                    continue;
                }
            };
            let was_running = record.phase == Phase::Running;
            let run = match Run::new(None, path, record) {
                Ok(run) => Arc::new(run),
                Err(e) => {
                    tracing::error!("skipping an experiment: {e}");
                    continue;
                }
            };
            let damaged = run.timeline.counts().damaged;
            if damaged > 0 {
                tracing::error!(experiment = %run.name(), damaged, "timeline lines that do not parse are shown as damaged events");
            }
            let name = run.name();
            let mut reverted = Vec::new();
            for r in recovered.iter().filter(|r| r.entry.experiment == name) {
                let (target, fault) = (&r.entry.target.name, r.entry.fault_line().to_string());
                match &r.result {
                    Ok(how) => {
                        let msg = format!("at joltd's start ({how:?})");
                        run.event("reverted", Some(target), Some(fault), Some(msg));
                        reverted.push(r.entry.id.clone());
                    }
                    Err(e) => {
                        let msg = format!("revert at joltd's start: {e} (retrying)");
                        run.event("failed", Some(target), Some(fault), Some(msg));
                        run.lock().active.push(Active::stuck(&r.entry, e.clone()));
                    }
                }
            }
            if run.timeline.flush(Some(Duration::from_secs(1))) {
                for id in reverted {
                    if let Err(e) = journal.remove(&id) {
                        tracing::error!("journal: {e}");
                    }
                }
            }
            if was_running && !run.lock().active.is_empty() {
                // Marked interrupted once the retries revert its faults.
                run.lock().stopping = Some(Phase::Interrupted);
            } else if was_running {
                // Once: a record an earlier start could not save still
                // says running, and its timeline says interrupted already.
                if run.timeline.last().as_deref() != Some("interrupted") {
                    run.event(
                        "interrupted",
                        None,
                        None,
                        Some("joltd stopped while it ran".into()),
                    );
                }
                let reason = Some("joltd stopped while it ran".to_string());
                let judged = (Verdict::Interrupted, None);
                if !run.finish(
                    Phase::Interrupted,
                    reason.clone(),
                    judged.clone(),
                    Some(OPEN_SAVE_ATTEMPTS),
                ) {
                    // Start-up does not wait for the disk; this keeps at it.
                    let run = run.clone();
                    std::thread::spawn(move || {
                        run.finish(Phase::Interrupted, reason, judged, None)
                    });
                }
            }
            table.insert(name, run);
        }
        // Entries of an experiment that is gone (deleted, or its record
        // unreadable): one that reverted goes; one that did not stays for
        // the next start, with nowhere to show it meanwhile.
        for r in recovered
            .iter()
            .filter(|r| !table.contains_key(&r.entry.experiment))
        {
            match &r.result {
                Ok(_) => {
                    if let Err(e) = journal.remove(&r.entry.id) {
                        tracing::error!("journal: {e}");
                    }
                }
                Err(e) => tracing::error!(
                    experiment = %r.entry.experiment,
                    target = %r.entry.target.name,
                    "revert at start failed for an experiment joltd no longer has: {e}; kept in the journal for the next start"
                ),
            }
        }
        let experiments = Arc::new(Experiments {
            dir,
            journal: Arc::new(journal),
            daemon,
            table: Mutex::new(table),
            metrics: Arc::new(Metrics::default()),
        });
        let stuck: Vec<(Arc<Run>, Active)> = experiments
            .table()
            .values()
            .flat_map(|run| {
                let active = run.lock().active.clone();
                active.into_iter().map(|a| (run.clone(), a))
            })
            .collect();
        for (run, active) in stuck {
            let experiments = experiments.clone();
            tokio::spawn(async move {
                experiments.revert_until_done(&run, &active, None).await;
                // The last of its faults gone, an experiment that was
                // running ends as it was stopped (interrupted, unless
                // aborted meanwhile).
                let ending = {
                    // Taken, so that of several such tasks one ends it.
                    let mut s = run.lock();
                    match s.active.is_empty() && s.record.phase == Phase::Running {
                        true => s.stopping.take(),
                        false => None,
                    }
                };
                if let Some(phase) = ending {
                    let reason = (phase == Phase::Interrupted)
                        .then(|| "joltd stopped while it ran".to_string());
                    run.event(phase.name(), None, None, reason.clone());
                    let verdict = match phase {
                        Phase::Aborted => Verdict::Aborted,
                        _ => Verdict::Interrupted,
                    };
                    let _ = tokio::task::spawn_blocking(move || {
                        run.finish(phase, reason, (verdict, None), None)
                    })
                    .await;
                }
            });
        }
        Ok(experiments)
    }

    fn table(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Arc<Run>>> {
        self.table.lock().expect("no panics while held")
    }

    fn find(&self, name: &str) -> Result<Arc<Run>, ExperimentsError> {
        self.table()
            .get(name)
            .cloned()
            .ok_or_else(|| ExperimentsError::NotFound(name.to_string()))
    }

    /// The running containers as the selector and the faults see them.
    async fn targets(&self) -> Vec<(Candidate, Target)> {
        self.daemon
            .list(false)
            .await
            .into_iter()
            .filter_map(|r| {
                let pid = r.status.pid.filter(|_| r.status.state == State::Running)?;
                let candidate = Candidate {
                    id: r.id.clone(),
                    name: r.spec.name.clone(),
                    labels: r.spec.labels.clone(),
                    running: true,
                };
                let target = Target {
                    id: r.id.clone(),
                    name: r.spec.name.clone(),
                    pid,
                    netns: Some(self.daemon.netns_path(&r.id)),
                    interface: INTERFACE.to_string(),
                };
                Some((candidate, target))
            })
            .collect()
    }

    /// Validates an experiment and starts it, or (dry run) plans it and
    /// changes nothing.
    pub async fn apply(self: &Arc<Self>, req: ApplyRequest) -> Result<Applied, ExperimentsError> {
        let origin = req.origin.clone().unwrap_or_else(|| "request".into());
        let experiment = Experiment::from_yaml_or_json(&req.text, &origin)
            .map_err(|e| ExperimentsError::Invalid(e.to_string()))?;
        let targets = self.targets().await;
        let candidates: Vec<Candidate> = targets.into_iter().map(|(c, _)| c).collect();
        let probes = experiment.steady_state.iter().flat_map(|s| s.probes.iter());
        for (i, probe) in probes.enumerate() {
            let jolt_chaos::probe::Check::Exec(e) = &probe.check else {
                continue;
            };
            if let Some(name) = &e.container {
                if self.daemon.inspect(name).await.is_err() {
                    return Err(ExperimentsError::Invalid(format!(
                        "{origin}: steady-state.probes[{i}].exec.container: no container named {name:?} (see chaosctl ps)"
                    )));
                }
            }
        }
        if !candidates.iter().any(|c| experiment.targets.matches(c)) {
            return Err(ExperimentsError::Invalid(format!(
                "{origin}: targets: no running container matches (see chaosctl ps)"
            )));
        }
        // Every time from the start to the end must be one the clock and
        // RFC 3339 can hold; a real run starts now, checked all the same.
        let window = |start: SystemTime| {
            schedule::end(start, experiment.length())
                .map_err(|e| ExperimentsError::Invalid(format!("{origin}: start: {e}")))
        };
        if req.dry_run {
            let start = match &req.start {
                None => SystemTime::now(),
                Some(s) => humantime::parse_rfc3339_weak(s).map_err(|e| {
                    ExperimentsError::Invalid(format!("start: {s:?}: {e} (expected RFC 3339)"))
                })?,
            };
            window(start)?;
            let limit = req.limit.unwrap_or(PLAN_LIMIT);
            if limit > MAX_PLAN_LIMIT {
                return Err(ExperimentsError::Invalid(format!(
                    "limit: {limit} is more than the {MAX_PLAN_LIMIT} fires a dry run lists at most"
                )));
            }
            let plan = plan_first(&experiment, start, &candidates, limit);
            return Ok(Applied::Plan {
                plan: plan.to_string(),
            });
        }
        if req.limit.is_some() {
            return Err(ExperimentsError::Invalid(
                "limit: only a dry run lists fires (add dry_run)".into(),
            ));
        }
        window(SystemTime::now())?;
        let name = experiment.name.clone();
        let start = SystemTime::now(); // until the record is saved: see below
        let dir = self.dir.join(&name);
        let run = {
            let mut table = self.table();
            if table.contains_key(&name) {
                return Err(ExperimentsError::Conflict {
                    name,
                    why: "already exists (chaosctl delete it first)".into(),
                });
            }
            let record = Record {
                name: name.clone(),
                origin,
                seed: plan::seed(&experiment, start),
                start: rfc3339(start),
                length: humantime::format_duration(experiment.length()).to_string(),
                fault: experiment.fault.to_string(),
                phase: Phase::Running,
                reason: None,
                ended: None,
                verdict: None,
                breach: None,
            };
            let run = Arc::new(Run::new(Some(experiment), dir.clone(), record)?);
            table.insert(name.clone(), run.clone());
            run
        };
        // The start is taken once the text is on disk, just before the
        // record that holds it, so that the first fire is not late by the
        // fsyncs of its own bookkeeping.
        let (text, saving) = (req.text, run.clone());
        let saved = tokio::task::spawn_blocking(move || {
            make_run_dir(&saving.dir)?;
            let yaml = saving.dir.join("experiment.yaml");
            crate::store::write_durable(&yaml, text.as_bytes()).map_err(|e| StoreError::Io {
                path: yaml,
                cause: e,
            })?;
            let start = SystemTime::now();
            let record = {
                let mut s = saving.lock();
                let experiment = saving.experiment.as_ref().expect("a live experiment");
                s.record.seed = plan::seed(experiment, start);
                s.record.start = rfc3339(start);
                s.record.clone()
            };
            write_json(&saving.dir.join("record.json"), &record).map(|()| start)
        })
        .await
        .expect("saving does not panic");
        let start = match saved {
            Ok(start) => start,
            Err(e) => {
                self.table().remove(&name);
                let _ = fs::remove_dir_all(&dir);
                return Err(e.into());
            }
        };
        tokio::spawn(self.clone().run(run.clone(), start));
        Ok(Applied::Started(Box::new(run.status())))
    }

    /// The runner: holds the hypothesis for `before`, fires, injects,
    /// waits for the reverts and the last recovery, and judges.
    async fn run(self: Arc<Self>, run: Arc<Run>, start: SystemTime) {
        let experiment = run.experiment.clone().expect("a live experiment");
        let seed = run.lock().record.seed;
        let mut rng = jolt_chaos::rng(seed);
        let mut cancel = run.cancel.subscribe();
        let hypothesis = experiment.steady_state.as_ref().map(|steady| {
            let node = crate::probes::Node {
                daemon: self.daemon.clone(),
                targets: experiment.targets.clone(),
            };
            let sink: Arc<dyn Sink> = Arc::new(RunSink(run.clone()));
            let h = Hypothesis::start(&run.name(), steady, node, self.metrics.clone(), sink);
            let _ = run.hypothesis.set(h.clone());
            h
        });
        let mut not_started = None;
        let mut start = start;
        if let (Some(h), Some(before)) = (
            &hypothesis,
            experiment.steady_state.as_ref().and_then(|s| s.before),
        ) {
            match h.hold_before(before, &mut cancel).await {
                Ok(()) => {
                    let msg = format!("every probe held for {}", human(before));
                    run.event("hypothesis", None, None, Some(msg));
                    start = SystemTime::now();
                }
                Err(NotStarted::Unsteady(why)) => not_started = Some(why),
                Err(NotStarted::Cancelled) => {}
            }
        } else if let Some(h) = &hypothesis {
            h.start_faults();
        }
        let length = experiment.length();
        let end = match schedule::end(start, length) {
            Ok(end) => end,
            Err(e) => {
                let why = format!("start: {e}");
                run.event("finished", None, None, Some(format!("stopped: {why}")));
                if let Some(h) = &hypothesis {
                    h.stop().await;
                }
                let judged = (Verdict::Aborted, None);
                tokio::task::spawn_blocking(move || {
                    run.finish(Phase::Failed, Some(why), judged, None)
                })
                .await
                .expect("finishing does not panic");
                return;
            }
        };
        let mut pending = JoinSet::new();
        let mut failure = None;
        if let Some(why) = &not_started {
            let msg = format!(
                "the hypothesis did not hold before the start: {why}; no fault was injected"
            );
            run.event("not-started", None, None, Some(msg));
        } else if !*cancel.borrow() {
            failure = self
                .fire(
                    &run,
                    &experiment,
                    &mut rng,
                    start,
                    end,
                    &mut cancel,
                    &mut pending,
                )
                .await;
        }
        run.lock().next_fire = None;
        if failure.is_none() && not_started.is_none() {
            sleep_until(end, &mut cancel).await;
        }
        // Whatever is still active goes now (abort, failure) or at its own
        // time (the experiment's end bounds it); a kill's target is watched
        // until it runs again.
        if failure.is_some() {
            run.cancel.send_replace(true);
        }
        while pending.join_next().await.is_some() {}
        let (stopping, stop_reason) = {
            let s = run.lock();
            (s.stopping, s.stop_reason.clone())
        };
        if let Some(h) = &hypothesis {
            // The last recovery is waited for only by a run that went to
            // its end: an abort or a shutdown does not wait for it.
            if not_started.is_none() && stopping.is_none() && failure.is_none() {
                h.settle().await;
            }
            h.stop().await;
        }
        let ending = match (stopping, &failure, &not_started) {
            (Some(Phase::Interrupted), _, _) => Ending::Interrupted,
            (Some(_), _, _) | (None, Some(_), _) => Ending::Aborted,
            (None, None, Some(_)) => Ending::NotStarted,
            (None, None, None) => Ending::Ran,
        };
        let judged = match &hypothesis {
            Some(h) => h.verdict(&ending),
            None => Judge::new(None).verdict(&ending),
        };
        let (phase, reason) = match (stopping, failure, not_started) {
            (Some(phase), _, _) => {
                run.event(phase.name(), None, None, stop_reason.clone());
                (phase, stop_reason)
            }
            (None, Some(e), _) => {
                run.event("finished", None, None, Some(format!("stopped: {e}")));
                (Phase::Failed, Some(e))
            }
            (None, None, Some(why)) => {
                let why = format!("not started: {why}");
                run.event("finished", None, None, Some(why.clone()));
                (Phase::Finished, Some(why))
            }
            (None, None, None) => {
                run.event("finished", None, None, None);
                (Phase::Finished, None)
            }
        };
        tokio::task::spawn_blocking(move || run.finish(phase, reason, judged, None))
            .await
            .expect("finishing does not panic");
    }

    /// Walks the schedule from `start`: at each fire, picks targets,
    /// stages and injects; reversible faults are handed to `pending` to
    /// be reverted. The failure that stopped it (`on-failure: stop`).
    #[allow(clippy::too_many_arguments)]
    async fn fire(
        self: &Arc<Self>,
        run: &Arc<Run>,
        experiment: &Experiment,
        rng: &mut jolt_chaos::ChaosRng,
        start: SystemTime,
        end: SystemTime,
        cancel: &mut watch::Receiver<bool>,
        pending: &mut JoinSet<()>,
    ) -> Option<String> {
        let seed = run.lock().record.seed;
        let length = experiment.length();
        let times = fire_times(&experiment.schedule, start, length, rng);
        // Counted on a copy of the walk: nothing is held per fire.
        let count = times.clone().count();
        run.lock().planned = Some(count as u64);
        run.event(
            "scheduled",
            None,
            Some(experiment.fault.to_string()),
            Some(format!(
                "{count} fires over {}, seed {seed}",
                humantime::format_duration(length)
            )),
        );
        'fires: for (fire, offset) in times.enumerate() {
            // Before the end, which schedule::end checked.
            let Some(at) = start.checked_add(offset) else {
                break;
            };
            run.lock().next_fire = Some(at);
            // Targets are picked, and their faults prepared and journaled,
            // a little ahead: the journal's fsync stays off the fire's path.
            let ahead = at.checked_sub(LEAD).map_or(at, |t| t.max(start));
            if !sleep_until(ahead, cancel).await {
                break;
            }
            // Faults due to end by this fire end first: the plan counts them
            // out, and their targets are read only once they are reverted.
            while SystemTime::now() < at
                && run
                    .lock()
                    .active
                    .iter()
                    .any(|a| a.until_time.min(end) <= at)
            {
                if !sleep_for(Duration::from_millis(1), cancel).await {
                    break 'fires;
                }
            }
            while pending.try_join_next().is_some() {}
            run.lock().fired += 1;
            let (active, busy): (usize, HashSet<String>) = {
                let s = run.lock();
                (
                    s.active.len(),
                    s.active.iter().map(|a| a.target_id.clone()).collect(),
                )
            };
            if active >= experiment.max_active as usize {
                let msg = format!("max-active {} reached", experiment.max_active);
                run.event("skipped", None, None, Some(msg));
                continue;
            }
            let targets: Vec<(Candidate, Target)> = self
                .targets()
                .await
                .into_iter()
                .filter(|(c, _)| !busy.contains(&c.id))
                .collect();
            let candidates: Vec<Candidate> = targets.iter().map(|(c, _)| c.clone()).collect();
            let picked: Vec<String> = select(&experiment.targets, &candidates, rng)
                .into_iter()
                .map(|c| c.id.clone())
                .collect();
            if picked.is_empty() {
                run.event(
                    "skipped",
                    None,
                    None,
                    Some("no running container matches".into()),
                );
                continue;
            }
            let mut staged = Vec::new();
            for (_, target) in targets.into_iter().filter(|(c, _)| picked.contains(&c.id)) {
                match self.stage(run, &experiment.fault, target, fire).await {
                    Ok(entry) => staged.push(entry),
                    Err(e) if experiment.on_failure == OnFailure::Stop => {
                        self.unstage(staged).await;
                        return Some(e);
                    }
                    Err(_) => {}
                }
            }
            if !sleep_until(at, cancel).await {
                self.unstage(staged).await;
                break;
            }
            let mut staged = staged.into_iter();
            while let Some(entry) = staged.next() {
                let target = entry.target.clone();
                let id = entry.id.clone();
                match self.inject(run, &experiment.fault, entry, at, end).await {
                    Ok(Some(active)) => {
                        let until = active.until_time.min(end);
                        pending.spawn(self.clone().revert_at(run.clone(), active, until));
                    }
                    Ok(None) => {
                        if let Some(h) = run.hypothesis.get() {
                            let fault = experiment.fault.to_string();
                            h.fault_ended(&id, &target.name, &fault, SystemTime::now());
                        }
                        pending.spawn(self.clone().watch_recovery(run.clone(), target));
                    }
                    Err(e) => {
                        if experiment.on_failure == OnFailure::Stop {
                            self.unstage(staged.collect()).await;
                            return Some(e);
                        }
                    }
                }
            }
        }
        None
    }

    /// Prepares `fault` for `target` and journals what undoes it (durably),
    /// changing nothing in the kernel yet; a failure is in the timeline and
    /// returned as its message.
    async fn stage(
        &self,
        run: &Arc<Run>,
        fault: &Fault,
        target: Target,
        fire: usize,
    ) -> Result<journal::Entry, String> {
        let entry = journal::Entry {
            id: format!("{}-{fire}-{}", run.name(), target.id),
            experiment: run.name(),
            target: target.clone(),
            fault_kind: fault.kind().to_string(),
            fault: fault.to_string(),
            undo: Undo::Nothing,
            injected_at: now(),
        };
        let journal = self.journal.clone();
        let f = fault.clone();
        let staged = tokio::task::spawn_blocking(move || -> Result<journal::Entry, String> {
            let t0 = std::time::Instant::now();
            let undo = fault::prepare(&f, &entry.target).map_err(|e| e.to_string())?;
            let t1 = t0.elapsed();
            let entry = journal::Entry { undo, ..entry };
            if entry.undo != Undo::Nothing {
                journal
                    .record(&entry)
                    .map_err(|e| format!("journal: {e}"))?;
            }
            tracing::debug!(
                target = %entry.target.name,
                prepare = ?t1,
                journal = ?(t0.elapsed() - t1),
                "staged"
            );
            Ok(entry)
        })
        .await
        .expect("staging does not panic");
        if let Err(e) = &staged {
            self.metrics
                .count(Outcome::Failed, fault.kind(), fault.duration().is_some());
            run.event(
                "failed",
                Some(&target.name),
                Some(fault.to_string()),
                Some(e.clone()),
            );
        }
        staged
    }

    /// Drops staged faults that will not be applied: their journal entries.
    async fn unstage(&self, staged: Vec<journal::Entry>) {
        let journal = self.journal.clone();
        let removed = tokio::task::spawn_blocking(move || {
            for entry in staged {
                if let Err(e) = journal.remove(&entry.id) {
                    tracing::error!("journal: {e}");
                }
            }
        });
        removed.await.expect("unstaging does not panic");
    }

    /// Applies a staged fault at its fire: prepared again first, and
    /// journaled again only when what undoes it changed since it was
    /// staged. The active fault for a reversible one, None for a kill; a
    /// failure is in the timeline and returned as its message. `end` is
    /// the experiment's, which bounds every fault.
    async fn inject(
        &self,
        run: &Arc<Run>,
        fault: &Fault,
        staged: journal::Entry,
        scheduled: SystemTime,
        end: SystemTime,
    ) -> Result<Option<Active>, String> {
        let kind = fault.kind();
        let target = staged.target.clone();
        let journal = self.journal.clone();
        let f = fault.clone();
        let injected =
            tokio::task::spawn_blocking(move || -> Result<(journal::Entry, SystemTime), String> {
                let entry = match fault::prepare(&f, &staged.target) {
                    Ok(undo) if undo == staged.undo => staged,
                    Ok(undo) => {
                        let entry = journal::Entry { undo, ..staged };
                        journal
                            .record(&entry)
                            .map_err(|e| format!("journal: {e}"))?;
                        entry
                    }
                    Err(e) => {
                        let _ = journal.remove(&staged.id);
                        return Err(e.to_string());
                    }
                };
                if let Err(e) = fault::apply(&f, &entry.target, &entry.undo) {
                    // Whatever part of it was applied goes, and so does the entry.
                    let _ = fault::revert(&entry.undo);
                    let _ = journal.remove(&entry.id);
                    return Err(e.to_string());
                }
                Ok((entry, SystemTime::now()))
            })
            .await
            .expect("injection does not panic");
        let reversible = fault.duration().is_some();
        match injected {
            Ok((entry, applied)) => {
                let latency = applied.duration_since(scheduled).unwrap_or_default();
                self.metrics.injection_latency(latency);
                self.metrics.count(Outcome::Injected, kind, reversible);
                run.timed_event(
                    "injected",
                    Some(&target.name),
                    Some(fault.to_string()),
                    Some(format!(
                        "{:.3} ms after its scheduled time",
                        latency.as_secs_f64() * 1e3
                    )),
                    Some(latency),
                );
                let Some(d) = fault.duration() else {
                    return Ok(None);
                };
                let until_time = applied.checked_add(d).unwrap_or(end);
                let active = Active {
                    id: entry.id,
                    target: target.name.clone(),
                    target_id: target.id.clone(),
                    kind,
                    fault: fault.to_string(),
                    until: rfc3339(until_time),
                    left_ms: 0,
                    revert_error: None,
                    revert_attempts: 0,
                    until_time,
                    undo: entry.undo,
                };
                run.lock().active.push(active.clone());
                Ok(Some(active))
            }
            Err(e) => {
                self.metrics.count(Outcome::Failed, kind, reversible);
                run.event(
                    "failed",
                    Some(&target.name),
                    Some(fault.to_string()),
                    Some(e.clone()),
                );
                Err(e)
            }
        }
    }

    /// Reverts `active` at `until`, or at once when the experiment is cut
    /// short (see [`Experiments::revert_until_done`]).
    async fn revert_at(self: Arc<Self>, run: Arc<Run>, active: Active, until: SystemTime) {
        let mut cancel = run.cancel.subscribe();
        sleep_until(until, &mut cancel).await;
        self.revert_until_done(&run, &active, Some(until)).await;
    }

    /// Reverts `active`, retrying with back-off until it is reverted or its
    /// target is gone; meanwhile the fault stays active (shown with the
    /// error by `get` and `ps`) and the experiment does not end. The
    /// `reverted` event is durable before the journal entry goes, so that
    /// no crash loses it. `until` is when it was due, for how late it came.
    async fn revert_until_done(&self, run: &Run, active: &Active, until: Option<SystemTime>) {
        let kind = active.kind;
        let mut wait = REVERT_RETRY_FIRST;
        let mut attempts = 0u32;
        let (how, done) = loop {
            attempts += 1;
            let undo = active.undo.clone();
            // Late is until the kernel has it back; the journal's
            // bookkeeping comes after.
            let reverted = tokio::task::spawn_blocking(move || {
                fault::revert(&undo).map(|how| (how, SystemTime::now()))
            })
            .await
            .expect("revert does not panic");
            let e = match reverted {
                Ok(ok) => break ok,
                Err(e) => e,
            };
            if self.daemon.inspect(&active.target_id).await.is_err() {
                // The container is gone, and whatever the fault held with it.
                break (Reverted::TargetGone, SystemTime::now());
            }
            let msg = format!("revert: {e} (attempt {attempts}; retrying in {wait:?})");
            if attempts == 1 && until.is_some() {
                self.metrics.count(Outcome::Failed, kind, true);
                run.event(
                    "failed",
                    Some(&active.target),
                    Some(active.fault.clone()),
                    Some(msg.clone()),
                );
            }
            tracing::error!(experiment = %run.name(), target = %active.target, "{msg}");
            {
                let mut s = run.lock();
                if let Some(a) = s.active.iter_mut().find(|a| a.id == active.id) {
                    a.revert_error = Some(e.to_string());
                    a.revert_attempts = attempts;
                }
            }
            run.changed.send_modify(|n| *n += 1);
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(REVERT_RETRY_MAX);
        };
        // No longer in the kernel: no longer active (the next fire may pick
        // its target), though its journal entry waits for the timeline.
        run.lock().active.retain(|a| a.id != active.id);
        if let Some(h) = run.hypothesis.get() {
            h.fault_ended(&active.id, &active.target, &active.fault, done);
        }
        // Before its time when the experiment was cut short.
        let early = until
            .and_then(|u| u.duration_since(done).ok())
            .filter(|d| !d.is_zero());
        let late = until
            .filter(|_| early.is_none())
            .map(|u| done.duration_since(u).unwrap_or_default());
        self.metrics.count(Outcome::Reverted, kind, true);
        let mut msg = match (how, late, early) {
            (Reverted::TargetGone, _, _) => "the container is gone".to_string(),
            (_, _, Some(early)) => format!(
                "{:.3} s before its time: the experiment was cut short",
                early.as_secs_f64()
            ),
            (_, Some(late), _) => format!("{:.3} ms after its time", late.as_secs_f64() * 1e3),
            (_, None, None) => "after joltd's start".to_string(),
        };
        if attempts > 1 {
            msg.push_str(&format!(" (attempt {attempts})"));
        }
        let late = late.filter(|_| how != Reverted::TargetGone);
        run.timed_event(
            "reverted",
            Some(&active.target),
            Some(active.fault.clone()),
            Some(msg),
            late,
        );
        let (journal, timeline, id) = (
            self.journal.clone(),
            run.timeline.clone(),
            active.id.clone(),
        );
        tokio::task::spawn_blocking(move || {
            timeline.flush(None);
            if let Err(e) = journal.remove(&id) {
                tracing::error!("journal: {e}");
            }
        })
        .await
        .expect("journal bookkeeping does not panic");
        run.changed.send_modify(|n| *n += 1);
    }

    /// After a kill: how long until the container runs again (its restart
    /// policy decides whether it does).
    async fn watch_recovery(self: Arc<Self>, run: Arc<Run>, target: Target) {
        let killed = tokio::time::Instant::now();
        let mut cancel = run.cancel.subscribe();
        while killed.elapsed() < RECOVERY_WATCH {
            if !sleep_for(Duration::from_millis(20), &mut cancel).await {
                return;
            }
            let Ok(r) = self.daemon.inspect(&target.id).await else {
                run.event(
                    "recovered",
                    Some(&target.name),
                    None,
                    Some("the container was removed".into()),
                );
                return;
            };
            match r.status.state {
                State::Running if r.status.pid.is_some_and(|p| p != target.pid) => {
                    let msg = format!(
                        "running again after {:.3} s",
                        killed.elapsed().as_secs_f64()
                    );
                    run.event("recovered", Some(&target.name), None, Some(msg));
                    return;
                }
                State::Exited => {
                    let msg = "exited; its restart policy does not bring it back".to_string();
                    run.event("recovered", Some(&target.name), None, Some(msg));
                    return;
                }
                // A signal the init handles or ignores ends nothing: the
                // same init, still alive a while later, survived it.
                State::Running
                    if killed.elapsed() >= SURVIVAL
                        && nix::sys::signal::kill(Pid::from_raw(target.pid), None).is_ok() =>
                {
                    let msg = format!(
                        "still running {} s after the signal: it did not end the container",
                        SURVIVAL.as_secs()
                    );
                    run.event("survived", Some(&target.name), None, Some(msg));
                    return;
                }
                _ => {}
            }
        }
    }

    /// `records` with the faults each container is under now.
    pub fn annotate(&self, records: Vec<crate::container::Record>) -> Vec<Listed> {
        let runs: Vec<_> = self.table().values().cloned().collect();
        let mut faults: BTreeMap<String, Vec<Faulted>> = BTreeMap::new();
        for run in runs {
            let s = run.lock();
            for a in &s.active {
                faults
                    .entry(a.target_id.clone())
                    .or_default()
                    .push(Faulted {
                        experiment: s.record.name.clone(),
                        fault: a.fault.clone(),
                        until: a.until.clone(),
                        revert_error: a.revert_error.clone(),
                    });
            }
        }
        records
            .into_iter()
            .map(|record| Listed {
                faults: faults.remove(&record.id).unwrap_or_default(),
                record,
            })
            .collect()
    }

    /// Every experiment, by name.
    pub fn list(&self) -> Vec<Status> {
        let runs: Vec<_> = self.table().values().cloned().collect();
        runs.iter().map(|r| r.status()).collect()
    }

    pub fn get(&self, name: &str) -> Result<Status, ExperimentsError> {
        Ok(self.find(name)?.status())
    }

    /// Events of `name` from index `from` on, whether more may come, and a
    /// receiver that changes when they do.
    pub fn events(
        &self,
        name: &str,
        from: usize,
    ) -> Result<(Vec<Event>, bool, watch::Receiver<u64>), ExperimentsError> {
        let run = self.find(name)?;
        let rx = run.changed.subscribe();
        let more = run.lock().record.phase == Phase::Running;
        let events = run.timeline.read(from).map_err(|cause| StoreError::Io {
            path: run.dir.join(crate::timeline::FILE),
            cause,
        })?;
        Ok((events, more, rx))
    }

    /// What a report of `name` is made from: its record, the experiment's
    /// text as applied, and its whole timeline.
    pub fn report_input(
        &self,
        name: &str,
    ) -> Result<(Record, String, Vec<Event>), ExperimentsError> {
        let run = self.find(name)?;
        let record = run.lock().record.clone();
        // Without its text the report still has the timeline (and says
        // the text is missing).
        let yaml = run.dir.join("experiment.yaml");
        let text = fs::read_to_string(&yaml).unwrap_or_else(|e| {
            tracing::error!(path = %yaml.display(), "reading an experiment's text for its report: {e}");
            String::new()
        });
        let mut events = Vec::new();
        loop {
            let batch = run
                .timeline
                .read(events.len())
                .map_err(|cause| StoreError::Io {
                    path: run.dir.join(crate::timeline::FILE),
                    cause,
                })?;
            let full = batch.len() == crate::timeline::BATCH;
            events.extend(batch);
            if !full {
                break;
            }
        }
        Ok((record, text, events))
    }

    /// Cuts a running experiment short: every active fault reverted at
    /// once. Returns once they are.
    pub async fn abort(&self, name: &str) -> Result<Status, ExperimentsError> {
        self.stop(name, Phase::Aborted).await
    }

    async fn stop(&self, name: &str, phase: Phase) -> Result<Status, ExperimentsError> {
        let run = self.find(name)?;
        let mut changed = run.changed.subscribe();
        {
            let mut s = run.lock();
            if s.record.phase != Phase::Running {
                return Err(ExperimentsError::Conflict {
                    name: name.to_string(),
                    why: format!("is {} already", s.record.phase.name()),
                });
            }
            // The first reason to stop stands (joltd's start marks one
            // whose faults it still reverts interrupted).
            if s.stopping.is_none() {
                s.stopping = Some(phase);
                s.stop_reason = Some(match phase {
                    Phase::Interrupted => "joltd stopped while it ran".into(),
                    _ => "aborted by chaosctl abort".into(),
                });
            }
        }
        run.cancel.send_replace(true);
        // Until it ends, or until all that holds it up is faults whose
        // revert fails (retried meanwhile: the status shows them), or a
        // record the disk refuses (the next start marks it interrupted).
        let settled = |s: &RunState| {
            s.record.phase != Phase::Running
                || (!s.active.is_empty() && s.active.iter().all(|a| a.revert_error.is_some()))
                || (s.active.is_empty() && s.unsaved.is_some())
        };
        while !settled(&run.lock()) {
            if changed.changed().await.is_err() {
                break;
            }
        }
        Ok(run.status())
    }

    /// Removes an experiment (aborting it first when it runs).
    pub async fn delete(&self, name: &str) -> Result<(), ExperimentsError> {
        let run = self.find(name)?;
        if run.lock().record.phase == Phase::Running {
            match self.abort(name).await {
                Ok(_) | Err(ExperimentsError::Conflict { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        if let Some(stuck) = run.lock().active.first() {
            return Err(ExperimentsError::Conflict {
                name: name.to_string(),
                why: format!(
                    "its fault on {} is still in the kernel (revert: {}); it is retried until it goes (chaosctl get {name})",
                    stuck.target,
                    stuck.revert_error.as_deref().unwrap_or("under way")
                ),
            });
        }
        fs::remove_dir_all(&run.dir)
            .or_else(|e| match e.kind() {
                std::io::ErrorKind::NotFound => Ok(()),
                _ => Err(e),
            })
            .map_err(|e| StoreError::Io {
                path: run.dir.clone(),
                cause: e,
            })?;
        self.table().remove(name);
        self.metrics.forget(name);
        Ok(())
    }

    /// The Prometheus text for GET /metrics.
    pub fn metrics(&self) -> String {
        let mut phases: BTreeMap<String, u64> = [
            Phase::Running,
            Phase::Finished,
            Phase::Aborted,
            Phase::Failed,
            Phase::Interrupted,
        ]
        .iter()
        .map(|p| (p.name().to_string(), 0))
        .collect();
        for run in self.table().values() {
            *phases
                .entry(run.lock().record.phase.name().to_string())
                .or_default() += 1;
        }
        self.metrics.render(&phases)
    }

    /// joltd is shutting down: every running experiment is cut short (its
    /// faults reverted now) and marked interrupted.
    pub async fn shutdown(&self) {
        let running: Vec<String> = self
            .table()
            .iter()
            .filter(|(_, r)| r.lock().record.phase == Phase::Running)
            .map(|(n, _)| n.clone())
            .collect();
        for name in running {
            if let Err(e) = self.stop(&name, Phase::Interrupted).await {
                tracing::debug!("{e}");
            }
        }
    }
}

/// Makes an experiment's directory. One already there belongs to no
/// experiment (the caller holds the name in the table): it is what a
/// failed removal left, and is replaced.
fn make_run_dir(dir: &Path) -> Result<(), StoreError> {
    let make = || fs::DirBuilder::new().mode(0o700).create(dir);
    let made = match make() {
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            tracing::warn!(path = %dir.display(), "replacing an experiment directory that no experiment owns");
            fs::remove_dir_all(dir).and_then(|()| make())
        }
        other => other,
    };
    made.map_err(|e| StoreError::Io {
        path: dir.to_path_buf(),
        cause: e,
    })
}

/// Removes the temporary files of durable writes a joltd killed midway
/// left in `dir`, saying so.
fn clear_temp_files(dir: &Path) {
    for entry in fs::read_dir(dir).into_iter().flatten().flatten() {
        if !crate::store::is_temp(&entry.file_name()) {
            continue;
        }
        let path = entry.path();
        match fs::remove_file(&path) {
            Ok(()) => {
                tracing::warn!(path = %path.display(), "removed a temporary file left by a joltd killed mid-write")
            }
            Err(e) => tracing::error!(path = %path.display(), "removing a temporary file: {e}"),
        }
    }
}

/// Sleeps until `at`; false when cancelled first (or already).
async fn sleep_until(at: SystemTime, cancel: &mut watch::Receiver<bool>) -> bool {
    let wait = at.duration_since(SystemTime::now()).unwrap_or_default();
    sleep_for(wait, cancel).await
}

/// Sleeps for `wait`; false when cancelled first (or already).
async fn sleep_for(wait: Duration, cancel: &mut watch::Receiver<bool>) -> bool {
    if *cancel.borrow() {
        return false;
    }
    tokio::select! {
        _ = tokio::time::sleep(wait) => true,
        _ = cancel.wait_for(|c| *c) => false,
    }
}

/// `t` in RFC 3339 UTC to the millisecond, held between 1970 and the
/// last second humantime can write (`schedule::LATEST_UNIX_SECS`), where it
/// would otherwise panic; experiments are validated to stay inside.
fn rfc3339(t: SystemTime) -> String {
    let latest = UNIX_EPOCH + Duration::from_secs(schedule::LATEST_UNIX_SECS);
    humantime::format_rfc3339_millis(t.clamp(UNIX_EPOCH, latest)).to_string()
}
