//! backend: how network-delay and network-loss reach the kernel — netem's
//! qdisc, or the userspace queue of nfqueue.rs where sch_netem is missing.
//! `backend: auto` (the default) takes netem when the kernel has it.

use super::nfqueue::{self, Shaping};
use super::peers::Peers;
use super::{probe, qdisc};
use crate::fault::{FaultError, Keys, Undo};
use crate::target::Target;

/// Which path delays or drops the packets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Backend {
    /// netem when the kernel has it, else nfqueue.
    #[default]
    Auto,
    Netem,
    Nfqueue,
}

impl Backend {
    /// Reads `backend`: auto, netem or nfqueue.
    pub(super) fn parse(keys: &mut Keys) -> Option<Backend> {
        let backends = [
            ("auto", Backend::Auto),
            ("netem", Backend::Netem),
            ("nfqueue", Backend::Nfqueue),
        ];
        keys.choice("backend", &backends, Backend::Auto)
    }

    /// ` backend=nfqueue` for a fault's line; empty for auto.
    pub(super) fn describe(self) -> &'static str {
        match self {
            Backend::Auto => "",
            Backend::Netem => " backend=netem",
            Backend::Nfqueue => " backend=nfqueue",
        }
    }

    /// Whether this fault goes through nfqueue on this kernel.
    fn queued(self) -> bool {
        match self {
            Backend::Auto => !probe::netem(),
            Backend::Netem => false,
            Backend::Nfqueue => true,
        }
    }

    /// The undo for `fault` on `target` through the backend in force;
    /// `netem_only` says why nfqueue cannot do this fault (correlation),
    /// if it cannot.
    pub(super) fn prepare(
        self,
        target: &Target,
        fault: &'static str,
        netem_only: Option<&str>,
    ) -> Result<Undo, FaultError> {
        if !self.queued() {
            return qdisc::prepare(target, fault);
        }
        if let Some(why) = netem_only {
            return Err(FaultError::Refused {
                container: target.name.clone(),
                fault,
                reason: format!("{why} needs sch_netem, which this kernel lacks (the nfqueue backend has no {why})"),
            });
        }
        nfqueue::prepare(target, fault)
    }

    /// Applies through whichever backend `undo` names.
    pub(super) fn apply(
        fault: &'static str,
        target: &Target,
        undo: &Undo,
        netem: Vec<String>,
        shaping: Shaping,
        peers: &Peers,
    ) -> Result<(), FaultError> {
        match undo {
            Undo::NfQueue { .. } => nfqueue::apply(fault, target, undo, shaping, peers),
            _ => qdisc::add(fault, target, undo, netem, peers),
        }
    }
}
