//! run: one experiment in memory: its state under a lock, its timeline,
//! its cancel and change signals, and saving its record; the directory
//! it lives in; the cancellable sleeps its tasks wait in.

use super::*;

pub(super) struct RunState {
    pub(super) record: Record,
    pub(super) active: Vec<Active>,
    pub(super) next_fire: Option<SystemTime>,
    /// Set when cut short: the phase it ends in (aborted, interrupted).
    pub(super) stopping: Option<Phase>,
    /// Why the record could not be saved, while that is retried.
    pub(super) unsaved: Option<String>,
    /// Why it was cut short, with `stopping`.
    pub(super) stop_reason: Option<String>,
    pub(super) planned: Option<u64>,
    pub(super) fired: u64,
}

pub(super) struct Run {
    pub(super) experiment: Option<Experiment>,
    pub(super) dir: PathBuf,
    pub(super) state: Mutex<RunState>,
    pub(super) timeline: Arc<Timeline>,
    /// Set to cut the experiment short: pending fires are dropped and
    /// active faults reverted at once.
    pub(super) cancel: watch::Sender<bool>,
    /// Bumped on every new event and phase change.
    pub(super) changed: watch::Sender<u64>,
    /// The hypothesis, once its probes run.
    pub(super) hypothesis: OnceLock<Arc<Hypothesis>>,
    /// A fleet experiment's fires on this node, as chaosctl planned them
    /// (the schedule is not walked and targets are not picked here).
    pub(super) pinned: Option<Vec<PinnedFire>>,
}

impl Run {
    pub(super) fn lock(&self) -> std::sync::MutexGuard<'_, RunState> {
        self.state.lock().expect("no panics while held")
    }

    pub(super) fn name(&self) -> String {
        self.lock().record.name.clone()
    }

    /// A run of `record` kept in `dir`, its timeline opened.
    pub(super) fn new(
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
            pinned: None,
        })
    }

    /// Appends `event` to the timeline (durable before anyone sees it).
    pub(super) fn event(
        &self,
        event: &str,
        target: Option<&str>,
        fault: Option<String>,
        msg: Option<String>,
    ) {
        self.timed_event(event, target, fault, msg, None);
    }

    /// [`Run::event`] with how late it came.
    pub(super) fn timed_event(
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
    pub(super) fn finish(
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

    pub(super) fn status(&self) -> Status {
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
pub(super) struct RunSink(pub(super) Arc<Run>);

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

/// Makes an experiment's directory. One already there belongs to no
/// experiment (the caller holds the name in the table): it is what a
/// failed removal left, and is replaced.
pub(super) fn make_run_dir(dir: &Path) -> Result<(), StoreError> {
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
pub(super) fn clear_temp_files(dir: &Path) {
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
pub(super) async fn sleep_until(at: SystemTime, cancel: &mut watch::Receiver<bool>) -> bool {
    let wait = at.duration_since(SystemTime::now()).unwrap_or_default();
    sleep_for(wait, cancel).await
}

/// Sleeps for `wait`; false when cancelled first (or already).
pub(super) async fn sleep_for(wait: Duration, cancel: &mut watch::Receiver<bool>) -> bool {
    if *cancel.borrow() {
        return false;
    }
    tokio::select! {
        _ = tokio::time::sleep(wait) => true,
        _ = cancel.wait_for(|c| *c) => false,
    }
}
