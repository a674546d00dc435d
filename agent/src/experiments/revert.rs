//! revert: an active fault taken out at its time or when the experiment
//! is cut short, retried with back-off until it is gone or its target is.

use super::*;

impl Experiments {
    /// Reverts `active` at `until`, or at once when the experiment is cut
    /// short (see [`Experiments::revert_until_done`]).
    pub(super) async fn revert_at(
        self: Arc<Self>,
        run: Arc<Run>,
        active: Active,
        until: SystemTime,
    ) {
        let mut cancel = run.cancel.subscribe();
        sleep_until(until, &mut cancel).await;
        self.revert_until_done(&run, &active, Some(until)).await;
    }

    /// Reverts `active`, retrying with back-off until it is reverted or its
    /// target is gone; meanwhile the fault stays active (shown with the
    /// error by `get` and `ps`) and the experiment does not end. The
    /// `reverted` event is durable before the journal entry goes, so that
    /// no crash loses it. `until` is when it was due, for how late it came.
    pub(super) async fn revert_until_done(
        &self,
        run: &Run,
        active: &Active,
        until: Option<SystemTime>,
    ) {
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
            if self.source.inspect(&active.target_id).await == Seen::Gone {
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
}
