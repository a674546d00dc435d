//! apply: an experiment validated, then planned (dry run) or started.

use super::*;

impl Experiments {
    /// Validates an experiment and starts it, or (dry run) plans it and
    /// changes nothing.
    pub async fn apply(self: &Arc<Self>, req: ApplyRequest) -> Result<Applied, ExperimentsError> {
        let origin = req.origin.clone().unwrap_or_else(|| "request".into());
        let mut experiment = Experiment::from_yaml_or_json(&req.text, &origin)
            .map_err(|e| ExperimentsError::Invalid(e.to_string()))?;
        if let Some(part) = &req.fleet {
            if req.dry_run {
                return Err(ExperimentsError::Invalid(
                    "fleet: chaosctl plans a fleet's experiment; a node's part has no dry run"
                        .into(),
                ));
            }
            part.check(experiment.length())
                .map_err(ExperimentsError::Invalid)?;
            // One node of the fleet holds the hypothesis.
            if !part.share.probes {
                experiment.steady_state = None;
            }
        }
        let targets = self.targets().await;
        let candidates: Vec<Candidate> = targets.iter().map(Running::candidate).collect();
        let probes = experiment.steady_state.iter().flat_map(|s| s.probes.iter());
        for (i, probe) in probes.enumerate() {
            let jolt_chaos::probe::Check::Exec(e) = &probe.check else {
                continue;
            };
            if let Some(name) = &e.container {
                if self.probes.inspect(name).await.is_err() {
                    return Err(ExperimentsError::Invalid(format!(
                        "{origin}: steady-state.probes[{i}].exec.container: no container named {name:?} (see chaosctl ps)"
                    )));
                }
            }
        }
        // A fleet's part names its targets; chaosctl matched them.
        if req.fleet.is_none() && !candidates.iter().any(|c| experiment.targets.matches(c)) {
            return Err(ExperimentsError::Invalid(format!(
                "{origin}: targets: no running container matches (see chaosctl ps --all-runtimes)"
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
                fault: experiment.faults_line(),
                phase: Phase::Running,
                reason: None,
                ended: None,
                verdict: None,
                breach: None,
                fleet: req.fleet.as_ref().map(|p| p.share.clone()),
            };
            let mut run = Run::new(Some(experiment), dir.clone(), record)?;
            run.pinned = req.fleet.map(|p| p.fires);
            let run = Arc::new(run);
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
}
