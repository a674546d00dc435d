//! fault: the fault kinds, and putting one [`Fault`] into the kernel for
//! one [`Target`] and taking it out again. Each kind is one file that owns
//! its parameters and how they are read from the file ([`Kind::parse`]),
//! what it changes ([`Kind::prepare`], [`Kind::apply`]) and, for what no
//! other kind undoes already, its [`Undo`] variant and how that is
//! reverted. The kinds are listed once, in [`kinds!`] below; nothing else
//! names them. The protocol every fault follows (prepare, journal, apply,
//! revert, replay after a crash) is [`crate::injection`]'s.
//!
//! 1. [`Kind::prepare`] only reads: it finds the cgroup file or the netns
//!    the fault touches, remembers what is there now, and refuses early
//!    with a reason (no netns, cgroup not found, already paused, a CPU
//!    limit already below the throttle, a root qdisc that is not jolt's).
//!    Its [`Undo`] is journaled before anything changes.
//! 2. [`Kind::apply`] makes the change the undo describes.
//! 3. [`revert`] puts back what the undo remembers. It is idempotent, and a
//!    target that has gone away meanwhile is [`Reverted::TargetGone`], not
//!    an error, so recovery after a crash can always finish.
//!
//! Network faults run iproute2's `tc` in a child that setns'd into the
//! container's netns and add qdiscs with jolt's own handle (major
//! [`JOLT_QDISC_MAJOR`], `4a4c:`), never touching a qdisc jolt did not
//! make; netem.rs says why tc.

mod cpu;
mod freeze;
mod kill;
mod network;
pub mod params;
mod stress;

use std::fmt;
use std::io;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::target::Target;
use jolt_runtime::cgroups::members::{gone, MembersError};

pub use cpu::CpuThrottle;
pub use freeze::Pause;
pub use kill::{Kill, KillScope, Signal};
pub use network::{
    addresses, kill_worker, Backend, Chance, Chanced, Cidr, Direction, NetworkBandwidth,
    NetworkCorrupt, NetworkDelay, NetworkDuplicate, NetworkLoss, NetworkPartition, NetworkRate,
    NetworkReorder, Peer, PeerCandidate, Peers, Protocol, Rules, JOLT_QDISC_MAJOR,
};
pub use params::Keys;
pub use stress::{Amount, CpuStress, MemoryStress, Oom};

/// One fault kind: its parameters (the implementing type), how they are
/// read from an experiment file, and what it does to a container.
pub trait Kind: Sized {
    /// The kind as written in the file (`network-delay`).
    const NAME: &'static str;
    /// The keys it takes besides `kind`.
    const KEYS: &'static [&'static str];
    /// What in the kernel it holds while active, if two faults of one fire
    /// could not hold it together ("the interface's root qdisc").
    const HOLDS: Option<&'static str>;
    /// Reads and checks its parameters, recording every problem in `keys`;
    /// None when there was one.
    fn parse(keys: &mut Keys) -> Option<Self>;
    /// How long one injection stays; None for what cannot be undone (kill).
    fn duration(&self) -> Option<Duration>;
    /// One line: the kind and its parameters, `for <duration>` at the end
    /// when reversible.
    fn describe(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result;
    /// Reads what the fault will touch on `target` and returns what undoes
    /// it, changing nothing.
    fn prepare(&self, target: &Target) -> Result<Undo, FaultError>;
    /// Injects the fault as `undo` (from prepare, already journaled)
    /// describes.
    fn apply(&self, target: &Target, undo: &Undo) -> Result<(), FaultError>;
    /// The peers it is narrowed to, for a network kind that takes them.
    fn peers_mut(&mut self) -> Option<&mut Peers> {
        None
    }
    /// [`Kind::peers_mut`], to read.
    fn peers(&self) -> Option<&Peers> {
        None
    }
}

/// The fault kinds: `Variant(module::Type)`, each type a [`Kind`].
/// Generates [`Fault`], [`FAULT_KINDS`] and the dispatch to each kind.
macro_rules! kinds {
    ($($variant:ident($ty:ty)),* $(,)?) => {
        /// One fault an experiment injects at each fire.
        #[derive(Debug, Clone, PartialEq)]
        pub enum Fault {
            $($variant($ty),)*
        }

        /// Every fault kind, as written in the file.
        pub const FAULT_KINDS: &[&str] = &[$(<$ty as Kind>::NAME),*];

        impl Fault {
            /// The `kind` as written in the file (one of [`FAULT_KINDS`]).
            pub fn kind(&self) -> &'static str {
                match self {
                    $(Fault::$variant(_) => <$ty as Kind>::NAME,)*
                }
            }

            /// How long one injection stays active; `None` for kill.
            pub fn duration(&self) -> Option<Duration> {
                match self {
                    $(Fault::$variant(k) => k.duration(),)*
                }
            }

            /// What in the kernel it holds while active (see [`Kind::HOLDS`]).
            pub fn holds(&self) -> Option<&'static str> {
                match self {
                    $(Fault::$variant(_) => <$ty as Kind>::HOLDS,)*
                }
            }

            /// The keys `kind` takes besides `kind` itself; None for an
            /// unknown kind.
            pub(crate) fn keys_of(kind: &str) -> Option<&'static [&'static str]> {
                match kind {
                    $(<$ty as Kind>::NAME => Some(<$ty as Kind>::KEYS),)*
                    _ => None,
                }
            }

            /// Reads a fault of the kind `keys` names (a known one).
            pub(crate) fn parse(keys: &mut Keys) -> Option<Fault> {
                match keys.kind() {
                    $(<$ty as Kind>::NAME => <$ty as Kind>::parse(keys).map(Fault::$variant),)*
                    _ => None,
                }
            }

            /// Whether it names containers as peers, which must be resolved
            /// to addresses before it is staged.
            pub fn names_containers(&self) -> bool {
                let peers = match self {
                    $(Fault::$variant(k) => k.peers(),)*
                };
                peers.is_some_and(|p| p.list.iter().any(|p| !matches!(p, Peer::Cidr(_))))
            }

            /// This fault with its container peers resolved to addresses
            /// among `running` (see [`Peers::resolve`]); unchanged for a
            /// kind without peers.
            pub fn resolve_peers(&self, running: &[PeerCandidate]) -> Result<Fault, String> {
                let mut fault = self.clone();
                let peers = match &mut fault {
                    $(Fault::$variant(k) => k.peers_mut(),)*
                };
                if let Some(peers) = peers {
                    peers.resolve(running)?;
                }
                Ok(fault)
            }

            fn prepare_kind(&self, target: &Target) -> Result<Undo, FaultError> {
                match self {
                    $(Fault::$variant(k) => k.prepare(target),)*
                }
            }

            fn apply_kind(&self, target: &Target, undo: &Undo) -> Result<(), FaultError> {
                match self {
                    $(Fault::$variant(k) => k.apply(target, undo),)*
                }
            }
        }

        /// One line: kind, parameters, and `for <duration>` when reversible.
        impl fmt::Display for Fault {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self {
                    $(Fault::$variant(k) => k.describe(f),)*
                }
            }
        }
    };
}

kinds! {
    Kill(Kill),
    CpuThrottle(CpuThrottle),
    NetworkDelay(NetworkDelay),
    Pause(Pause),
    NetworkLoss(NetworkLoss),
    NetworkDuplicate(NetworkDuplicate),
    NetworkCorrupt(NetworkCorrupt),
    NetworkReorder(NetworkReorder),
    NetworkRate(NetworkRate),
    NetworkPartition(NetworkPartition),
    NetworkBandwidth(NetworkBandwidth),
    CpuStress(CpuStress),
    MemoryStress(MemoryStress),
}

/// What undoes one injected fault; written to the journal BEFORE the fault is applied.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Undo {
    /// kill: nothing to undo.
    Nothing,
    /// cgroup v2: the cpu.max file and its exact previous content.
    CpuMax { path: PathBuf, previous: String },
    /// cgroup v1: the cpu controller dir and previous cfs_quota_us / cfs_period_us.
    CfsQuota {
        dir: PathBuf,
        quota: i64,
        period: u64,
    },
    /// the netem qdisc jolt added: netns file, interface, jolt's own handle.
    Qdisc {
        netns: PathBuf,
        interface: String,
        handle: u32,
    },
    /// the freezer file to thaw (cgroup.freeze on v2, freezer.state on v1).
    Thaw { path: PathBuf },
    /// jolt's nftables table (family inet) in a network namespace.
    NftTable { netns: PathBuf, table: String },
    /// stressor processes, named `marker`, in the cgroup at `cgroup`.
    Stressors { cgroup: PathBuf, marker: String },
    /// jolt's netfilter queue rules in a network namespace, and the
    /// worker serving the queue.
    NfQueue {
        netns: PathBuf,
        queue: u16,
        rules: Rules,
    },
}

impl Undo {
    /// How the fault is held in the kernel, for people: `tc qdisc 4a4c:`,
    /// `nfqueue 19020 (iptables-legacy)`; what an injection event names.
    pub fn mechanism(&self) -> String {
        match self {
            Undo::Nothing => "a signal".into(),
            Undo::CpuMax { .. } => "cpu.max".into(),
            Undo::CfsQuota { .. } => "cpu.cfs_quota_us".into(),
            Undo::Qdisc { handle, .. } => format!("tc qdisc {:x}:", handle >> 16),
            Undo::Thaw { .. } => "the cgroup freezer".into(),
            Undo::NftTable { table, .. } => format!("nftables table inet {table}"),
            Undo::Stressors { marker, .. } => format!("stressors {marker}"),
            Undo::NfQueue { queue, rules, .. } => format!(
                "nfqueue {queue} ({})",
                match rules {
                    Rules::Nftables => "nftables",
                    Rules::Xtables => "iptables-legacy",
                }
            ),
        }
    }
}

/// How a [`revert`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reverted {
    /// The fault was in place and is now undone.
    Done,
    /// Nothing of the fault was left (reverted before, or never applied).
    AlreadyClean,
    /// The cgroup, netns, interface or process is gone, and the fault with it.
    TargetGone,
}

/// Why a fault could not be prepared, applied or reverted. Messages name
/// the container (or, for a revert, the object) and the cause, with the
/// kernel's own error text.
#[derive(Debug, thiserror::Error)]
pub enum FaultError {
    /// [`prepare`] found a reason not to touch the container.
    #[error("container {container}: {fault}: {reason}")]
    Refused {
        container: String,
        fault: &'static str,
        reason: String,
    },
    /// The kernel has no such queueing discipline (sch_netem, sch_tbf).
    #[error("container {container}: {fault}: sch_{qdisc} is not available in this kernel (modprobe sch_{qdisc})")]
    QdiscMissing {
        container: String,
        fault: &'static str,
        qdisc: String,
    },
    /// A kernel call failed; `context` names the container or object and
    /// what was being done.
    #[error("{context}: {source}")]
    Kernel {
        context: String,
        #[source]
        source: io::Error,
    },
    /// `tc` (iproute2) failed; `stderr` is its message, which carries the
    /// kernel's.
    #[error("{context}: {stderr}")]
    Tc { context: String, stderr: String },
    /// [`crate::Journal::recover`] reverted the fault, but could not
    /// remove its entry; the next recovery finds it clean and retries.
    #[error("fault journal: {id} reverted ({reverted:?}) but its entry stays: {source}")]
    EntryStays {
        id: String,
        reverted: Reverted,
        #[source]
        source: Box<crate::journal::JournalError>,
    },
    /// The kernel did not finish a freeze or thaw in time.
    #[error("{context}: still {state} after {waited_ms} ms")]
    Timeout {
        context: String,
        state: String,
        waited_ms: u128,
    },
}

/// Reads what `fault` will touch on `target` and returns what undoes it,
/// changing nothing.
pub fn prepare(fault: &Fault, target: &Target) -> Result<Undo, FaultError> {
    fault.prepare_kind(target)
}

/// Injects `fault` into `target` as `undo` (from [`prepare`], already
/// journaled) describes.
pub fn apply(fault: &Fault, target: &Target, undo: &Undo) -> Result<(), FaultError> {
    fault.apply_kind(target, undo)
}

/// Undoes what `undo` describes. Idempotent; a target that is gone is
/// [`Reverted::TargetGone`].
pub fn revert(undo: &Undo) -> Result<Reverted, FaultError> {
    match undo {
        Undo::Nothing => Ok(Reverted::AlreadyClean),
        Undo::CpuMax { path, previous } => cpu::revert_v2(path, previous),
        Undo::CfsQuota { dir, quota, period } => cpu::revert_v1(dir, *quota, *period),
        Undo::Thaw { path } => freeze::revert(path),
        Undo::Qdisc {
            netns,
            interface,
            handle,
        } => network::revert(netns, interface, *handle),
        Undo::NftTable { netns, table } => network::revert_table(netns, table),
        Undo::Stressors { cgroup, marker } => stress::revert(cgroup, marker),
        Undo::NfQueue {
            netns,
            queue,
            rules,
        } => network::revert_queue(netns, *queue, *rules),
    }
}

/// The refusal of a kind to touch `target`, for `reason`.
fn refused<K: Kind>(target: &Target, reason: String) -> FaultError {
    FaultError::Refused {
        container: target.name.clone(),
        fault: K::NAME,
        reason,
    }
}

/// The error for an undo record that `K` does not make (a journal entry
/// paired with the wrong fault).
fn mismatch<K: Kind>(target: &Target, undo: &Undo) -> FaultError {
    mismatched(target, K::NAME, undo)
}

/// [`mismatch`] for the fault kind named `fault`.
fn mismatched(target: &Target, fault: &'static str, undo: &Undo) -> FaultError {
    FaultError::Refused {
        container: target.name.clone(),
        fault,
        reason: format!("the undo record {undo:?} is not one this fault makes"),
    }
}

/// A failure listing or signalling a cgroup's processes, as a fault error
/// whose context starts with `context`.
fn members_error(context: &str, e: MembersError) -> FaultError {
    match e {
        MembersError::Io { what, source } => FaultError::Kernel {
            context: format!("{context}: {what}"),
            source,
        },
        MembersError::Stuck {
            freezer,
            state,
            settle,
        } => FaultError::Timeout {
            context: format!("{context}: {}", freezer.display()),
            state: state.into(),
            waited_ms: settle.as_millis(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn undo_is_tagged_by_kind_in_json() {
        let undo = Undo::CfsQuota {
            dir: "/sys/fs/cgroup/cpu/jolt/web".into(),
            quota: -1,
            period: 100000,
        };
        let json = serde_json::to_string(&undo).unwrap();
        assert_eq!(
            json,
            r#"{"kind":"cfs-quota","dir":"/sys/fs/cgroup/cpu/jolt/web","quota":-1,"period":100000}"#
        );
        assert_eq!(serde_json::from_str::<Undo>(&json).unwrap(), undo);
        assert_eq!(
            serde_json::to_string(&Undo::Nothing).unwrap(),
            r#"{"kind":"nothing"}"#
        );
    }

    #[test]
    fn netem_missing_names_the_module() {
        let e = FaultError::QdiscMissing {
            container: "web".into(),
            fault: "network-delay",
            qdisc: "netem".into(),
        };
        assert_eq!(
            e.to_string(),
            "container web: network-delay: sch_netem is not available in this kernel (modprobe sch_netem)"
        );
    }
}
