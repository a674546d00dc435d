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
//! exist is a [`TargetSource`]'s (joltd's own and the foreign ones, see
//! [`crate::targets`]): the runner lists and inspects them through it and
//! nothing else.
//!
//! One file per step: `apply` (validate, plan or start), `runner` (the
//! schedule walked, targets picked at each fire), `inject` (stage and
//! apply one fault), `revert` (take it out, retried), `recovery` (after a
//! kill), `startup` (the journal replayed at joltd's start); `run` is one
//! experiment in memory and `record` what is kept and shown of it.
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

mod apply;
mod inject;
mod record;
mod recovery;
mod revert;
mod run;
mod runner;
mod startup;

use record::rfc3339;
pub use record::{
    Active, Applied, ApplyRequest, FleetPart, FleetShare, Phase, PinnedFire, Record, Status,
};
use run::{clear_temp_files, make_run_dir, sleep_for, sleep_until, Run, RunSink, RunState};
pub use startup::{recover, Recovered};

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, SystemTime};

use jolt_chaos::experiment::human;
use jolt_chaos::experiment::OnFailure;
use jolt_chaos::fault::{self, Reverted, Undo};
use jolt_chaos::injection;
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

use crate::container::{Faulted, Listed};
use crate::daemon::Daemon;
use crate::hypothesis::{Hypothesis, NotStarted, ProbeStatus, Sink};
use crate::metrics::{Metrics, Outcome};
use crate::monitor::now;
use crate::store::{read_json, write_json, StoreError};
use crate::targets::{Running, Seen, Shown, TargetSource};
pub use crate::timeline::Event;
use crate::timeline::Timeline;

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

/// joltd's experiments.
pub struct Experiments {
    dir: PathBuf,
    journal: Arc<Journal>,
    /// Where the runner finds containers, joltd's and foreign.
    source: Arc<dyn TargetSource>,
    /// What the hypothesis' probes run through (the node's network, `jolt
    /// exec` in joltd's containers); the runner reaches containers only
    /// through `source`.
    probes: Arc<Daemon>,
    table: Mutex<BTreeMap<String, Arc<Run>>>,
    metrics: Arc<Metrics>,
}

impl Experiments {
    fn table(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Arc<Run>>> {
        self.table.lock().expect("no panics while held")
    }

    fn find(&self, name: &str) -> Result<Arc<Run>, ExperimentsError> {
        self.table()
            .get(name)
            .cloned()
            .ok_or_else(|| ExperimentsError::NotFound(name.to_string()))
    }

    /// The running containers, joltd's and foreign, as the selector and
    /// the faults see them.
    async fn targets(&self) -> Vec<Running> {
        self.source.running().await
    }

    /// `running` (joltd's and foreign containers) with the faults each is
    /// under now.
    pub fn annotate_targets(&self, running: Vec<Running>) -> Vec<Shown> {
        let mut faults = self.faults();
        running
            .into_iter()
            .map(|running| Shown {
                faults: faults.remove(&running.id).unwrap_or_default(),
                running,
            })
            .collect()
    }

    /// `records` with the faults each container is under now.
    pub fn annotate(&self, records: Vec<crate::container::Record>) -> Vec<Listed> {
        let mut faults = self.faults();
        records
            .into_iter()
            .map(|record| Listed {
                faults: faults.remove(&record.id).unwrap_or_default(),
                record,
            })
            .collect()
    }

    /// The active faults by target id.
    fn faults(&self) -> BTreeMap<String, Vec<Faulted>> {
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
        faults
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
