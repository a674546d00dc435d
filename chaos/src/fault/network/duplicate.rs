//! network-duplicate: a share of the packets the container sends sent twice
//! (netem's duplicate). Its parameters, parsing and injection are netem's
//! [`Chanced`].

use super::netem::{ChanceKind, Chanced, CHANCE_KEYS};

/// The marker that makes a [`Chanced`] network-duplicate.
#[derive(Debug, Clone, PartialEq)]
pub struct Duplicate;

impl ChanceKind for Duplicate {
    const NAME: &'static str = "network-duplicate";
    const KEYS: &'static [&'static str] = CHANCE_KEYS;
    const KEYWORD: &'static str = "duplicate";
    const PAST: &'static str = "duplicated";
}

/// network-duplicate's parameters.
pub type NetworkDuplicate = Chanced<Duplicate>;
