//! network-loss: a share of the packets the container sends dropped, by
//! netem's loss or, where the kernel has no sch_netem, the userspace
//! queue (see backend.rs). Its parameters, parsing and injection are
//! netem's [`Chanced`].

use super::netem::{ChanceKind, Chanced};

/// The marker that makes a [`Chanced`] network-loss.
#[derive(Debug, Clone, PartialEq)]
pub struct Loss;

impl ChanceKind for Loss {
    const NAME: &'static str = "network-loss";
    const KEYS: &'static [&'static str] = &[
        "percent",
        "correlation",
        "peers",
        "port",
        "protocol",
        "backend",
        "duration",
    ];
    const KEYWORD: &'static str = "loss";
    const PAST: &'static str = "dropped";
}

/// network-loss's parameters.
pub type NetworkLoss = Chanced<Loss>;
