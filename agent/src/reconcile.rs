//! reconcile: what of joltd's own exists with no record of joltd's behind
//! it (its state was lost, or a failed run could not undo all it made),
//! at joltd's start and on `chaosctl system prune`: jolt's state under
//! joltd's runtime root, containers' cgroups under jolt's default
//! `jolt/<id>` (only for IDs joltd's other traces name), and on the
//! network their leases, namespace files, host veths and firewall rules.
//!
//! A container whose init still runs without a record is reported, never
//! killed. At start its network is kept and its address and ports stay
//! leased (adopted from its firewall rules), so that no new container is
//! given them; a prune, which a person asks for, removes its network too,
//! and still leaves the process alone. Whatever belongs to nothing that
//! runs is removed at start and on a prune. Every finding is logged.
//!
//! The records joltd has are asked for only after what is found is
//! listed (the network part under the network's lock): a container is in
//! joltd's table before any of its things exist, so a run under way is
//! never taken for debris.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use jolt_runtime::cgroups::{self, CgroupManager, Driver};
use jolt_runtime::state::{self, Root, Status};
use serde::{Deserialize, Serialize};

use crate::network::{Disposal, Network, Reconciled};
use crate::oci::Jolt;

/// When reconciling happens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// joltd's start: a running orphan's network is kept (and adopted).
    Start,
    /// A person's `system prune`: a running orphan's network goes too.
    Prune,
}

/// One thing found, and what was done with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// The container it belongs to (or, for a host veth whose owner is
    /// unknown, the veth's name).
    pub container: String,
    /// What it is: `runtime state`, `cgroup`, `process`, `lease`, `netns`,
    /// `veth`, `firewall rules`, `network`.
    pub what: String,
    pub detail: String,
}

/// What a reconcile removed, and what it found and left (or could not
/// remove).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    pub removed: Vec<Finding>,
    pub reported: Vec<Finding>,
}

impl Report {
    fn removed(&mut self, container: &str, what: &str, detail: String) {
        tracing::warn!(
            container,
            "{what} of a container joltd has no record of: removed ({detail})"
        );
        self.removed.push(Finding {
            container: container.to_string(),
            what: what.to_string(),
            detail,
        });
    }

    fn reported(&mut self, container: &str, what: &str, detail: String) {
        tracing::warn!(
            container,
            "{what} of a container joltd has no record of: {detail}"
        );
        self.reported.push(Finding {
            container: container.to_string(),
            what: what.to_string(),
            detail,
        });
    }
}

/// Finds and handles what belongs to no container `known` names (see the
/// module's doc). Blocking: run it off the async workers.
pub fn reconcile(
    network: &Network,
    jolt: &Jolt,
    layers: &Path,
    known: &dyn Fn() -> HashSet<String>,
    mode: Mode,
) -> Report {
    let mut report = Report::default();
    let runtime_ids = dir_names(&jolt.root);
    let known_now = known();
    // The containers whose init runs: pid by ID.
    let mut running: BTreeMap<String, i32> = BTreeMap::new();
    let root = Root::new(&jolt.root);
    for id in runtime_ids.iter().filter(|id| !known_now.contains(*id)) {
        match root.peek(id) {
            Ok(rec) if rec.pid > 0 && rec.live_status() != Status::Stopped => {
                running.insert(id.clone(), rec.pid);
                report.reported(
                    id,
                    "process",
                    format!(
                        "runs without a record (init pid {}, jolt state {}); not killed \
                         (`jolt --root {} delete --force {id}` stops it)",
                        rec.pid,
                        jolt.root.join(id).display(),
                        jolt.root.display()
                    ),
                );
            }
            _ => match jolt.delete(id) {
                Ok(()) => report.removed(
                    id,
                    "runtime state",
                    format!("{} and its cgroup", jolt.root.join(id).display()),
                ),
                Err(e) => report.reported(id, "runtime state", format!("cannot remove: {e}")),
            },
        }
    }
    let found = network.reconcile(known, |id, _| {
        let runs = running.contains_key(id) || !cgroup_pids(id).is_empty();
        match (mode, runs) {
            (Mode::Start, true) => Disposal::Adopt,
            _ => Disposal::Remove,
        }
    });
    let found = match found {
        Ok(found) => found,
        Err(e) => {
            report.reported("-", "network", format!("cannot reconcile: {e}"));
            return report;
        }
    };
    for r in &found {
        network_findings(&mut report, r);
    }
    // Cgroups of containers only the network still named.
    for r in found.iter().filter(|r| !runtime_ids.contains(&r.container)) {
        cgroup_finding(&mut report, &r.container, &running);
    }
    layer_findings(&mut report, layers, &known(), &running);
    report
}

/// Writable layers of containers joltd has no record of: removed (with
/// what was written in them), unless something still runs in the
/// container, whose rootfs it is.
fn layer_findings(
    report: &mut Report,
    layers: &Path,
    known: &HashSet<String>,
    running: &BTreeMap<String, i32>,
) {
    for id in dir_names(layers).iter().filter(|id| !known.contains(*id)) {
        let dir = layers.join(id);
        if running.contains_key(id) || !cgroup_pids(id).is_empty() {
            report.reported(
                id,
                "layer",
                format!("{} kept: its container runs", dir.display()),
            );
            continue;
        }
        match crate::layer::remove(&dir) {
            Ok(()) => report.removed(id, "layer", dir.display().to_string()),
            Err(e) => report.reported(id, "layer", format!("cannot remove: {e}")),
        }
    }
}

/// The findings of one container's network traces.
fn network_findings(report: &mut Report, r: &Reconciled) {
    let id = r.container.as_str();
    let t = &r.traces;
    let mut things = Vec::new();
    if let Some(lease) = &t.lease {
        things.push(("lease", format!("address {}", lease.address)));
    }
    if t.netns {
        things.push(("netns", "its network namespace file".to_string()));
    }
    if let Some(veth) = &t.veth {
        things.push(("veth", veth.clone()));
    }
    if let Some(rules) = &t.rules {
        let address = rules.address.map_or("-".into(), |a| a.to_string());
        things.push((
            "firewall rules",
            format!("{} chains, address {address}", rules.chains.len()),
        ));
    }
    match (&r.result, r.disposal) {
        (Ok(()), Disposal::Remove) => {
            for (what, detail) in things {
                report.removed(id, what, detail);
            }
        }
        (Ok(()), Disposal::Adopt) => {
            let leased = t
                .lease
                .as_ref()
                .map(|l| l.address.to_string())
                .or_else(|| t.rules.as_ref()?.address.map(|a| a.to_string()))
                .unwrap_or_default();
            report.reported(
                id,
                "network",
                format!(
                    "kept while its process runs; address {leased} stays leased to it \
                     (chaosctl system prune removes it)"
                ),
            );
        }
        (Ok(()), Disposal::Keep) => {}
        (Err(e), _) => {
            for (what, detail) in things {
                report.reported(id, what, format!("{detail}: cannot handle: {e}"));
            }
        }
    }
}

/// Removes the cgroup `jolt/<id>` when nothing runs in it; reports the
/// processes otherwise (unless already reported).
fn cgroup_finding(report: &mut Report, id: &str, running: &BTreeMap<String, i32>) {
    let Some(cgroup) = default_cgroup(id) else {
        return;
    };
    let path = cgroup.path().to_string();
    if !cgroup.host_dirs().iter().any(|(_, d)| d.exists()) {
        return;
    }
    let pids = cgroup.pids().unwrap_or_default();
    if !pids.is_empty() {
        if !running.contains_key(id) {
            report.reported(
                id,
                "process",
                format!("pids {pids:?} run in cgroup /{path} without a record; not killed"),
            );
        }
        return;
    }
    match cgroup.destroy() {
        Ok(()) => report.removed(id, "cgroup", format!("/{path}")),
        Err(e) => report.reported(id, "cgroup", format!("/{path}: cannot remove: {e}")),
    }
}

/// The pids in container `id`'s default cgroup (none when it has none).
fn cgroup_pids(id: &str) -> Vec<i32> {
    default_cgroup(id)
        .and_then(|c| c.pids().ok())
        .unwrap_or_default()
}

/// The cgroupfs cgroup jolt gives container `id` by default, where joltd's
/// containers are (its bundles name no cgroupsPath).
fn default_cgroup(id: &str) -> Option<Box<dyn CgroupManager>> {
    Driver::Cgroupfs
        .resolve_path(None, id)
        .and_then(|path| cgroups::open(Driver::Cgroupfs, &path))
        .ok()
}

/// The names of the directories in `dir` that are container IDs.
fn dir_names(dir: &Path) -> HashSet<String> {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|id| state::validate_id(id).is_ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_container_directories_are_named() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir(tmp.path().join("0123456789ab")).unwrap();
        std::fs::write(tmp.path().join("stray-file"), "").unwrap();
        std::fs::create_dir(tmp.path().join("bad name")).unwrap();
        assert_eq!(
            dir_names(tmp.path()),
            HashSet::from(["0123456789ab".to_string()])
        );
        assert!(dir_names(&tmp.path().join("missing")).is_empty());
    }
}
