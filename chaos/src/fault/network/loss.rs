//! network-loss: a share of the packets the container sends dropped
//! (netem's loss). Its parameters, parsing and injection are netem's
//! [`Chanced`].

use super::netem::{ChanceKind, Chanced};

/// The marker that makes a [`Chanced`] network-loss.
#[derive(Debug, Clone, PartialEq)]
pub struct Loss;

impl ChanceKind for Loss {
    const NAME: &'static str = "network-loss";
    const KEYWORD: &'static str = "loss";
    const PAST: &'static str = "dropped";
}

/// network-loss's parameters.
pub type NetworkLoss = Chanced<Loss>;
