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
        index: usize,
    ) -> Result<journal::Entry, String> {
        // A file name: a containerd container's `NAMESPACE:ID` takes a dot,
        // and so does the index of a fault after the first of a fire.
        let fire = match index {
            0 => fire.to_string(),
            i => format!("{fire}.{i}"),
        };
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
        let staged = tokio::task::spawn_blocking(move || {
            let t0 = std::time::Instant::now();
            let staged = injection::stage(&journal, &f, entry).map_err(|e| e.to_string());
            tracing::debug!(took = ?t0.elapsed(), ok = staged.is_ok(), "staged");
            staged
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
        let injected = tokio::task::spawn_blocking(move || {
            injection::inject(&journal, &f, staged)
                .map(|entry| (entry, SystemTime::now()))
                .map_err(|e| e.to_string())
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
                        "{:.3} ms after its scheduled time, via {}",
                        latency.as_secs_f64() * 1e3,
                        entry.undo.mechanism()
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
                    via: entry.undo.mechanism(),
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
