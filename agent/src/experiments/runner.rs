//! runner: one experiment's task: the hypothesis held before, the
//! schedule walked fire by fire (targets picked at each), and the verdict
//! at the end.

use super::*;

impl Experiments {
    /// The runner: holds the hypothesis for `before`, fires, injects,
    /// waits for the reverts and the last recovery, and judges.
    pub(super) async fn run(self: Arc<Self>, run: Arc<Run>, start: SystemTime) {
        let experiment = run.experiment.clone().expect("a live experiment");
        let seed = run.lock().record.seed;
        let mut rng = jolt_chaos::rng(seed);
        let mut cancel = run.cancel.subscribe();
        let hypothesis = experiment.steady_state.as_ref().map(|steady| {
            let node = crate::probes::Node {
                daemon: self.probes.clone(),
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
    pub(super) async fn fire(
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
        // The schedule's fires, or a fleet plan's (each with its targets).
        let (walk, count): (Box<dyn Iterator<Item = Fire> + Send>, usize) = match &run.pinned {
            None => {
                let times = fire_times(&experiment.schedule, start, length, rng);
                // Counted on a copy of the walk: nothing is held per fire.
                let count = times.clone().count();
                (
                    Box::new(times.enumerate().map(|(i, o)| (i, o, None))),
                    count,
                )
            }
            Some(pinned) => {
                let fires = pinned.iter().map(|p| {
                    let offset = Duration::from_millis(p.offset_ms);
                    (p.index as usize, offset, Some(p.targets.clone()))
                });
                (
                    Box::new(fires.collect::<Vec<_>>().into_iter()),
                    pinned.len(),
                )
            }
        };
        run.lock().planned = Some(count as u64);
        run.event(
            "scheduled",
            None,
            Some(experiment.faults_line()),
            Some(format!(
                "{count} fires over {}, seed {seed}",
                humantime::format_duration(length)
            )),
        );
        'fires: for (fire, offset, pinned) in walk {
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
            // Targets, not faults: a fire of several faults holds one.
            let mut busy: Vec<String> = run
                .lock()
                .active
                .iter()
                .map(|a| a.target_id.clone())
                .collect();
            busy.sort();
            busy.dedup();
            let running = self.targets().await;
            let picked = match &pinned {
                None => pick(experiment, &busy, running, rng),
                Some(ids) => pinned_targets(ids, &busy, running),
            };
            let picked = match picked {
                Ok(picked) => picked,
                Err(skip) => {
                    run.event("skipped", None, None, Some(skip.to_string()));
                    continue;
                }
            };
            let faults = match self.resolve_peers(&experiment.faults).await {
                Ok(faults) => faults,
                Err(e) => {
                    run.event(
                        "failed",
                        None,
                        Some(experiment.faults_line()),
                        Some(e.clone()),
                    );
                    if experiment.on_failure == OnFailure::Stop {
                        return Some(e);
                    }
                    continue;
                }
            };
            let mut staged = Vec::new();
            for target in &picked {
                for (index, fault) in faults.iter().enumerate() {
                    match self.stage(run, fault, target.target(), fire, index).await {
                        Ok(entry) => staged.push((fault, entry)),
                        Err(e) if experiment.on_failure == OnFailure::Stop => {
                            self.unstage(staged.into_iter().map(|(_, e)| e).collect())
                                .await;
                            return Some(e);
                        }
                        Err(_) => {}
                    }
                }
            }
            if !sleep_until(at, cancel).await {
                self.unstage(staged.into_iter().map(|(_, e)| e).collect())
                    .await;
                break;
            }
            let mut watched: Vec<String> = Vec::new();
            let mut staged = staged.into_iter();
            while let Some((fault, entry)) = staged.next() {
                let target = entry.target.clone();
                let id = entry.id.clone();
                match self.inject(run, fault, entry, at, end).await {
                    Ok(Some(active)) => {
                        let until = active.until_time.min(end);
                        pending.spawn(self.clone().revert_at(run.clone(), active, until));
                    }
                    Ok(None) => {
                        if let Some(h) = run.hypothesis.get() {
                            let fault = fault.to_string();
                            h.fault_ended(&id, &target.name, &fault, SystemTime::now());
                        }
                        let killed = picked.iter().find(|r| r.id == target.id).cloned();
                        if let Some(killed) = killed.filter(|k| !watched.contains(&k.id)) {
                            watched.push(killed.id.clone());
                            let watch = self.clone().watch_recovery(run.clone(), killed, end);
                            pending.spawn(watch);
                        }
                    }
                    Err(e) => {
                        if experiment.on_failure == OnFailure::Stop {
                            self.unstage(staged.map(|(_, e)| e).collect()).await;
                            return Some(e);
                        }
                    }
                }
            }
        }
        None
    }
}

impl Experiments {
    /// `faults` with the containers they name as peers resolved to the
    /// addresses those hold now, at each fire (containers come and go);
    /// unchanged when none names a container.
    async fn resolve_peers(&self, faults: &[Fault]) -> Result<Vec<Fault>, String> {
        if !faults.iter().any(Fault::names_containers) {
            return Ok(faults.to_vec());
        }
        let running = self.targets().await;
        let candidates = tokio::task::spawn_blocking(move || {
            running.iter().map(Running::peer).collect::<Vec<_>>()
        })
        .await
        .expect("reading addresses does not panic");
        faults
            .iter()
            .map(|f| f.resolve_peers(&candidates))
            .collect()
    }
}

/// One fire of the walk: its index, its offset from the start, and the
/// targets a fleet plan gave it.
type Fire = (usize, Duration, Option<Vec<String>>);

/// Why a fire hits nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Skip {
    /// As many faults of the experiment as max-active allows are active.
    MaxActive(u32),
    /// No running container matches that does not hold one of them.
    NoMatch,
    /// The containers a fleet plan gave this fire no longer run here (or
    /// still hold a fault of it).
    Gone,
}

impl std::fmt::Display for Skip {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Skip::MaxActive(n) => write!(f, "max-active {n} reached"),
            Skip::NoMatch => f.write_str("no running container matches"),
            Skip::Gone => f.write_str("the containers the fleet's plan gave it no longer run here"),
        }
    }
}

/// The containers one fire of `experiment` hits among `running` (joltd's
/// and foreign alike), sorted by id, when `busy` are the targets of its
/// active faults: none once they reach max-active, and never a busy one.
/// Draws from `rng` as the dry run's plan does.
pub(super) fn pick(
    experiment: &Experiment,
    busy: &[String],
    running: Vec<Running>,
    rng: &mut jolt_chaos::ChaosRng,
) -> Result<Vec<Running>, Skip> {
    if busy.len() >= experiment.max_active as usize {
        return Err(Skip::MaxActive(experiment.max_active));
    }
    let free: Vec<Running> = running
        .into_iter()
        .filter(|r| !busy.contains(&r.id))
        .collect();
    let candidates: Vec<Candidate> = free.iter().map(Running::candidate).collect();
    let ids: Vec<String> = select(&experiment.targets, &candidates, rng)
        .into_iter()
        .map(|c| c.id.clone())
        .collect();
    if ids.is_empty() {
        return Err(Skip::NoMatch);
    }
    Ok(free.into_iter().filter(|r| ids.contains(&r.id)).collect())
}

/// The containers of `running` a fleet plan named (`ids`), but those
/// holding a fault of the experiment already.
pub(super) fn pinned_targets(
    ids: &[String],
    busy: &[String],
    running: Vec<Running>,
) -> Result<Vec<Running>, Skip> {
    let found: Vec<Running> = running
        .into_iter()
        .filter(|r| ids.contains(&r.id) && !busy.contains(&r.id))
        .collect();
    match found.is_empty() {
        true => Err(Skip::Gone),
        false => Ok(found),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::targets::fake::{running, Fake};
    use crate::targets::TargetSource;

    fn experiment(targets: &str, max_active: u32) -> Experiment {
        let text = format!(
            "name: t\nseed: 1\ntargets: {targets}\nschedule: {{every: 10s}}\nduration: 1m\nmax-active: {max_active}\nfault: {{kind: pause, duration: 5s}}\n"
        );
        Experiment::from_yaml_or_json(&text, "t.yaml").unwrap()
    }

    /// A node with joltd's web-1 and web-2, and containerd's pod web-x
    /// (namespace shop) and podman's cache.
    fn node() -> Fake {
        let mut web1 = running("w1", "joltd", 101);
        web1.labels.insert("app".into(), "web".into());
        let mut web2 = running("w2", "joltd", 102);
        web2.labels.insert("app".into(), "web".into());
        let mut pod = running("k1", "containerd/k8s.io", 201);
        pod.annotations.extend([
            ("io.kubernetes.cri.sandbox-name".into(), "web-x".into()),
            ("io.kubernetes.cri.sandbox-namespace".into(), "shop".into()),
        ]);
        let mut cache = running("p1", "podman", 301);
        cache.name = "cache".into();
        let fake = Fake::default();
        *fake.running.lock().unwrap() = vec![web1, web2, pod, cache];
        fake
    }

    fn ids(picked: &[Running]) -> Vec<&str> {
        picked.iter().map(|r| r.id.as_str()).collect()
    }

    #[tokio::test]
    async fn a_fleet_plans_targets_are_taken_while_they_run_and_are_free() {
        let node = node();
        let named = |ids: &[&str]| ids.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let got = pinned_targets(&named(&["w2", "k1"]), &[], node.running().await).unwrap();
        assert_eq!(ids(&got), ["w2", "k1"]);
        let got = pinned_targets(&named(&["w2", "k1"]), &named(&["w2"]), node.running().await);
        assert_eq!(ids(&got.unwrap()), ["k1"], "a busy one is left out");
        assert_eq!(
            pinned_targets(&named(&["gone"]), &[], node.running().await),
            Err(Skip::Gone)
        );
    }

    #[test]
    fn a_fleet_part_is_checked_against_the_experiment() {
        let share = FleetShare {
            node: "a".into(),
            nodes: 2,
            probes: false,
        };
        let fire = |index, offset_ms, targets: &[&str]| PinnedFire {
            index,
            offset_ms,
            targets: targets.iter().map(|t| t.to_string()).collect(),
        };
        let part = |fires| FleetPart {
            share: share.clone(),
            fires,
        };
        let minute = Duration::from_secs(60);
        assert!(part(vec![fire(0, 0, &["x"]), fire(3, 30_000, &["y"])])
            .check(minute)
            .is_ok());
        let e = part(vec![fire(0, 60_000, &["x"])])
            .check(minute)
            .unwrap_err();
        assert!(e.contains("past the experiment's end"), "{e}");
        let e = part(vec![fire(2, 0, &["x"]), fire(1, 10, &["x"])])
            .check(minute)
            .unwrap_err();
        assert!(e.contains("out of order"), "{e}");
        let e = part(vec![fire(0, 0, &[])]).check(minute).unwrap_err();
        assert!(e.contains("targets: none given"), "{e}");
    }

    #[tokio::test]
    async fn foreign_containers_are_picked_by_annotation_origin_or_name() {
        let node = node();
        let mut rng = jolt_chaos::rng(1);
        let e = experiment(
            "{annotations: {io.kubernetes.cri.sandbox-name: 'web-*', io.kubernetes.cri.sandbox-namespace: shop}, mode: all}",
            5,
        );
        let picked = pick(&e, &[], node.running().await, &mut rng).unwrap();
        assert_eq!(ids(&picked), ["k1"]);
        assert!(
            picked[0].target().interface.is_none(),
            "found from its default route"
        );
        let e = experiment("{origin: podman, mode: all}", 5);
        assert_eq!(
            ids(&pick(&e, &[], node.running().await, &mut rng).unwrap()),
            ["p1"]
        );
        let e = experiment("{names: [cache], origin: joltd}", 5);
        assert_eq!(
            pick(&e, &[], node.running().await, &mut rng),
            Err(Skip::NoMatch)
        );
        let e = experiment("{labels: {app: web}, mode: all}", 5);
        let own = pick(&e, &[], node.running().await, &mut rng).unwrap();
        assert_eq!(
            ids(&own),
            ["w1", "w2"],
            "labels are joltd's: no foreign one has them"
        );
    }

    #[tokio::test]
    async fn a_busy_target_is_not_picked_and_max_active_skips_the_fire() {
        let node = node();
        let mut rng = jolt_chaos::rng(1);
        let e = experiment("{labels: {app: web}, mode: all}", 2);
        let picked = pick(&e, &["w1".into()], node.running().await, &mut rng).unwrap();
        assert_eq!(ids(&picked), ["w2"]);
        let busy = ["w1".to_string(), "w2".to_string()];
        assert_eq!(
            pick(&e, &busy, node.running().await, &mut rng),
            Err(Skip::MaxActive(2))
        );
        let e = experiment("{labels: {app: web}, mode: all}", 3);
        assert_eq!(
            pick(&e, &busy, node.running().await, &mut rng),
            Err(Skip::NoMatch)
        );
        assert_eq!(Skip::NoMatch.to_string(), "no running container matches");
    }

    #[tokio::test]
    async fn the_pick_is_the_seeds_whatever_the_order_of_the_listing() {
        let node = node();
        let e = experiment("{origin: containerd, mode: one}", 1);
        let mut listing = node.running().await;
        for r in &mut listing {
            r.origin = "containerd/k8s.io".into();
        }
        let a = pick(&e, &[], listing.clone(), &mut jolt_chaos::rng(7)).unwrap();
        listing.reverse();
        let b = pick(&e, &[], listing, &mut jolt_chaos::rng(7)).unwrap();
        assert_eq!(ids(&a), ids(&b));
        assert_eq!(a.len(), 1);
    }
}
