//! startup: joltd's start: the fault journal replayed (every fault in it
//! reverted) and the experiments loaded, those that were running marked
//! interrupted.

use super::*;

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
        source: Arc<dyn TargetSource>,
        probes: Arc<Daemon>,
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
            source,
            probes,
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
}
