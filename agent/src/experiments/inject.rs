//! inject: one fault staged (prepared and journaled ahead of its fire),
//! applied at its fire, or dropped.

use super::*;

impl Experiments {
    /// Prepares `fault` for `target` and journals what undoes it (durably),
    /// changing nothing in the kernel yet; a failure is in the timeline and
    /// returned as its message.
    pub(super) async fn stage(
        &self,
        run: &Arc<Run>,
        fault: &Fault,
        target: Target,
        fire: usize,
    ) -> Result<journal::Entry, String> {
        // A file name: a containerd container's `NAMESPACE:ID` takes a dot.
        let entry = journal::Entry {
            id: format!("{}-{fire}-{}", run.name(), target.id.replace(':', ".")),
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
    pub(super) async fn unstage(&self, staged: Vec<journal::Entry>) {
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
    pub(super) async fn inject(
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
}
