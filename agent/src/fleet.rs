//! fleet: an experiment planned across the nodes of a fleet, as chaosctl
//! plans it before any node starts its part.
//!
//! The containers of every node are the candidates of one plan (the
//! chaos crate's, with the experiment's mode, seed and max-active counted
//! over the whole fleet); each candidate's id is `NODE/ID`, so targets are
//! told apart across nodes and the dry run can name the node of each.
//! Each node then gets its part: the fires that hit its containers, at
//! their offsets from the start, with those containers' ids. One node (the
//! first of the fleet that answered) holds the steady-state probes, so
//! they run once; it takes part even without fires of its own.

use std::time::SystemTime;

use jolt_chaos::plan::{plan_first, Plan, MAX_PLAN_LIMIT};
use jolt_chaos::selector::Candidate;
use jolt_chaos::Experiment;

use crate::experiments::{FleetPart, FleetShare, PinnedFire};
use crate::targets::Running;

/// The separator between a node's name and a container's id.
const SEP: char = '/';

/// The fleet's candidates: every node's running containers, in the
/// nodes' order.
pub fn candidates(nodes: &[(String, Vec<Running>)]) -> Vec<Candidate> {
    nodes
        .iter()
        .flat_map(|(node, running)| {
            running.iter().map(move |r| {
                let mut c = r.candidate();
                c.id = format!("{node}{SEP}{}", r.id);
                c
            })
        })
        .collect()
}

/// The plan of `experiment` from `start` over the fleet's `candidates`;
/// an error when it has more fires than one plan holds, or no candidate
/// matches.
pub fn plan(
    experiment: &Experiment,
    start: SystemTime,
    candidates: &[Candidate],
) -> Result<Plan, String> {
    if !candidates.iter().any(|c| experiment.targets.matches(c)) {
        return Err(
            "targets: no running container matches on any node (see chaosctl ps --all-runtimes)"
                .into(),
        );
    }
    let plan = plan_first(experiment, start, candidates, MAX_PLAN_LIMIT);
    if plan.total > plan.fires.len() as u64 {
        return Err(format!(
            "{} fires: a fleet plan holds at most {MAX_PLAN_LIMIT}; shorten the experiment or fire less often",
            plan.total
        ));
    }
    Ok(plan)
}

/// `plan` as a person reads it: each target named `NODE/NAME`.
pub fn shown(plan: &Plan) -> String {
    let mut named = plan.clone();
    for fire in &mut named.fires {
        for t in &mut fire.targets {
            let node = t.id.split(SEP).next().unwrap_or_default();
            t.name = format!("{node}{SEP}{}", t.name);
        }
    }
    named.to_string()
}

/// Each node's part of `plan`, for the nodes (in `nodes` order) that have
/// fires or hold the probes (`probes`: the node that does, when the
/// experiment has any).
pub fn parts(plan: &Plan, nodes: &[String], probes: Option<&str>) -> Vec<FleetPart> {
    let mut parts: Vec<FleetPart> = nodes
        .iter()
        .map(|node| FleetPart {
            share: FleetShare {
                node: node.clone(),
                nodes: 0,
                probes: probes == Some(node.as_str()),
            },
            fires: Vec::new(),
        })
        .collect();
    for (index, fire) in plan.fires.iter().enumerate() {
        for part in &mut parts {
            let prefix = format!("{}{SEP}", part.share.node);
            let targets: Vec<String> = fire
                .targets
                .iter()
                .filter_map(|t| t.id.strip_prefix(&prefix).map(str::to_string))
                .collect();
            if !targets.is_empty() {
                part.fires.push(PinnedFire {
                    index: index as u64,
                    offset_ms: fire.offset.as_millis() as u64,
                    targets,
                });
            }
        }
    }
    parts.retain(|p| !p.fires.is_empty() || p.share.probes);
    let taking = parts.len();
    for p in &mut parts {
        p.share.nodes = taking;
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::targets::fake::running;
    use std::time::{Duration, UNIX_EPOCH};

    fn experiment(targets: &str, extra: &str) -> Experiment {
        let text = format!(
            "name: f\nseed: 7\ntargets: {targets}\nschedule: {{every: 10s}}\nduration: 1m\nmax-active: 10\nfault: {{kind: pause, duration: 5s}}\n{extra}"
        );
        Experiment::from_yaml_or_json(&text, "f.yaml").unwrap()
    }

    /// Three nodes with two web containers each.
    fn fleet() -> Vec<(String, Vec<Running>)> {
        (0..3)
            .map(|n| {
                let list = (0..2)
                    .map(|i| {
                        let mut r = running(&format!("id{n}{i}"), "joltd", 100);
                        r.name = format!("web{n}{i}");
                        r.labels.insert("app".into(), "web".into());
                        r
                    })
                    .collect();
                (format!("node{n}"), list)
            })
            .collect()
    }

    fn start() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_796_169_600)
    }

    #[test]
    fn mode_one_hits_one_container_of_the_whole_fleet_per_fire_and_the_seed_fixes_which() {
        let c = candidates(&fleet());
        assert_eq!(c.len(), 6);
        assert!(c.iter().all(|c| c.id.starts_with("node")));
        let e = experiment("{labels: {app: web}, mode: one}", "");
        let p = plan(&e, start(), &c).unwrap();
        assert_eq!(p.fires.len(), 6);
        assert!(p.fires.iter().all(|f| f.targets.len() == 1));
        assert_eq!(
            plan(&e, start(), &c).unwrap(),
            p,
            "the same seed, the same plan"
        );
        let text = shown(&p);
        assert!(text.contains(" on node"), "{text}");
        // Every fire lands on one node's part, with that node's own id.
        let names: Vec<String> = fleet().iter().map(|(n, _)| n.clone()).collect();
        let parts = parts(&p, &names, None);
        let fires: usize = parts.iter().map(|p| p.fires.len()).sum();
        assert_eq!(fires, 6);
        for part in &parts {
            assert_eq!(part.share.nodes, parts.len());
            for f in &part.fires {
                let planned = &p.fires[f.index as usize].targets[0];
                assert_eq!(planned.id, format!("{}/{}", part.share.node, f.targets[0]));
                assert_eq!(
                    f.offset_ms,
                    p.fires[f.index as usize].offset.as_millis() as u64
                );
            }
        }
    }

    #[test]
    fn a_percentage_counts_the_fleets_matching_containers() {
        let c = candidates(&fleet());
        let e = experiment("{labels: {app: web}, mode: {percent: 50}}", "");
        let p = plan(&e, start(), &c).unwrap();
        assert!(p.fires.iter().all(|f| f.targets.len() == 3), "half of 6");
        let names: Vec<String> = (0..3).map(|n| format!("node{n}")).collect();
        let per_fire: usize = parts(&p, &names, None)
            .iter()
            .flat_map(|p| p.fires.iter().filter(|f| f.index == 0))
            .map(|f| f.targets.len())
            .sum();
        assert_eq!(per_fire, 3);
    }

    #[test]
    fn the_probing_node_takes_part_without_fires_and_no_match_is_an_error() {
        let c = candidates(&fleet());
        let e = experiment("{names: [web21], mode: one}", "");
        let p = plan(&e, start(), &c).unwrap();
        let names: Vec<String> = (0..3).map(|n| format!("node{n}")).collect();
        let parts = parts(&p, &names, Some("node0"));
        let taking: Vec<(&str, bool, usize)> = parts
            .iter()
            .map(|p| (p.share.node.as_str(), p.share.probes, p.fires.len()))
            .collect();
        assert_eq!(taking, [("node0", true, 0), ("node2", false, 6)]);
        let e = experiment("{names: [nowhere]}", "");
        let err = plan(&e, start(), &c).unwrap_err();
        assert!(
            err.contains("no running container matches on any node"),
            "{err}"
        );
    }
}
