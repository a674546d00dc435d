//! record: what is kept and shown of an experiment: its phase, its
//! durable record, its active faults and its status, and the requests
//! that start one.

use super::*;

/// Where an experiment is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    Running,
    Finished,
    Aborted,
    /// Stopped by a failed injection (`on-failure: stop`).
    Failed,
    /// joltd stopped or died while it ran; its faults were reverted at the
    /// next start.
    Interrupted,
}

impl Phase {
    pub fn name(self) -> &'static str {
        match self {
            Phase::Running => "running",
            Phase::Finished => "finished",
            Phase::Aborted => "aborted",
            Phase::Failed => "failed",
            Phase::Interrupted => "interrupted",
        }
    }
}

/// What is kept of an experiment, durably.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub name: String,
    /// The file it came from, as the client named it.
    pub origin: String,
    pub seed: u64,
    /// RFC 3339, UTC.
    pub start: String,
    /// How long it runs, e.g. `5m`.
    pub length: String,
    /// The fault and its parameters, one line.
    pub fault: String,
    pub phase: Phase,
    /// Why it failed or was interrupted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended: Option<String>,
    /// How it was judged, once it ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verdict: Option<Verdict>,
    /// The first breach of its hypothesis.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub breach: Option<Breach>,
    /// This node's part of an experiment run across a fleet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fleet: Option<FleetShare>,
}

/// Which part of a fleet experiment a node runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FleetShare {
    /// This node's name in the fleet.
    pub node: String,
    /// How many nodes run a part.
    pub nodes: usize,
    /// Whether this node runs the steady-state probes (one node does).
    pub probes: bool,
}

/// An injected fault not yet reverted.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Active {
    /// The journal entry's id.
    pub id: String,
    pub target: String,
    pub target_id: String,
    pub kind: &'static str,
    pub fault: String,
    /// How the kernel holds it: `tc qdisc 4a4c:`, `nfqueue 19020
    /// (nftables)` (the backend a network fault took).
    pub via: String,
    /// When it is reverted (RFC 3339).
    pub until: String,
    /// Milliseconds left until then.
    pub left_ms: u64,
    /// Why the last attempt at reverting it failed, while it is retried:
    /// the fault is still in the kernel.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revert_error: Option<String>,
    /// Attempts at reverting it so far.
    #[serde(skip_serializing_if = "is_zero")]
    pub revert_attempts: u32,
    #[serde(skip)]
    pub(super) until_time: SystemTime,
    /// What undoes it, as journaled.
    #[serde(skip)]
    pub(super) undo: Undo,
}

impl Active {
    /// A fault of `entry` whose revert failed with `error` (at joltd's
    /// start): due already, retried.
    pub(super) fn stuck(entry: &journal::Entry, error: String) -> Active {
        let kind = jolt_chaos::experiment::FAULT_KINDS
            .iter()
            .find(|k| **k == entry.fault_kind)
            .copied()
            .unwrap_or("unknown");
        let now_t = SystemTime::now();
        Active {
            id: entry.id.clone(),
            target: entry.target.name.clone(),
            target_id: entry.target.id.clone(),
            kind,
            fault: entry.fault_line().to_string(),
            via: entry.undo.mechanism(),
            until: rfc3339(now_t),
            left_ms: 0,
            revert_error: Some(error),
            revert_attempts: 1,
            until_time: now_t,
            undo: entry.undo.clone(),
        }
    }
}

/// An experiment as `get` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    #[serde(flatten)]
    pub record: Record,
    pub next_fire: Option<String>,
    pub active: Vec<Active>,
    pub injected: u64,
    pub reverted: u64,
    pub failed: u64,
    /// Lines of the timeline's file that do not parse.
    #[serde(skip_serializing_if = "is_zero")]
    pub damaged_events: u64,
    /// Why the record or the timeline cannot be saved, while joltd
    /// retries: what disk says lags behind what is shown.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unsaved: Option<String>,
    /// Fires the schedule holds, once it is walked (after `before`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fires_planned: Option<u64>,
    /// Fires reached so far (injected, skipped or failed).
    pub fires_done: u64,
    /// The hypothesis' probes while it runs.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub probes: Vec<ProbeStatus>,
}

pub(super) fn is_zero<T: Default + PartialEq>(n: &T) -> bool {
    *n == T::default()
}

/// `chaosctl apply`'s request.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApplyRequest {
    /// The experiment file's text, YAML or JSON.
    pub text: String,
    /// The file's name, for messages.
    #[serde(default)]
    pub origin: Option<String>,
    #[serde(default)]
    pub dry_run: bool,
    /// The start a dry run plans from (RFC 3339); now when absent.
    #[serde(default)]
    pub start: Option<String>,
    /// How many fires a dry run lists (default 1000, at most 10000); the
    /// rest are counted.
    #[serde(default)]
    pub limit: Option<usize>,
    /// This node's part of an experiment chaosctl planned across a fleet:
    /// its fires and targets, instead of its own picks.
    #[serde(default)]
    pub fleet: Option<FleetPart>,
}

/// A node's part of a fleet experiment, as chaosctl planned it: the fires
/// that hit its containers, at their offsets from the start.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FleetPart {
    #[serde(flatten)]
    pub share: FleetShare,
    pub fires: Vec<PinnedFire>,
}

/// One fire of a fleet plan on this node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PinnedFire {
    /// Its index in the fleet's schedule.
    pub index: u64,
    /// Milliseconds from the start.
    pub offset_ms: u64,
    /// The IDs of this node's containers it hits.
    pub targets: Vec<String>,
}

impl FleetPart {
    /// Checks the part against the experiment: a node name, fires in
    /// order within its length, each with a target.
    pub fn check(&self, length: Duration) -> Result<(), String> {
        if self.share.node.is_empty() || self.share.nodes == 0 {
            return Err("fleet: node and nodes are required".into());
        }
        let mut last: Option<(u64, u64)> = None;
        for (i, f) in self.fires.iter().enumerate() {
            if f.targets.is_empty() || f.targets.iter().any(String::is_empty) {
                return Err(format!("fleet.fires[{i}].targets: none given"));
            }
            if Duration::from_millis(f.offset_ms) >= length {
                return Err(format!(
                    "fleet.fires[{i}].offset_ms: {} is past the experiment's end",
                    f.offset_ms
                ));
            }
            if last.is_some_and(|(index, offset)| f.index <= index || f.offset_ms < offset) {
                return Err(format!("fleet.fires[{i}]: out of order"));
            }
            last = Some((f.index, f.offset_ms));
        }
        Ok(())
    }
}

/// What `apply` did.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum Applied {
    Started(Box<Status>),
    Plan { plan: String },
}

pub(crate) use jolt_chaos::civil::rfc3339_millis as rfc3339;
