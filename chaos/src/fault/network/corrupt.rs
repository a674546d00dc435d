//! network-corrupt: a share of the packets the container sends with one bit
//! flipped at a random offset (netem's corrupt); the receiver's checksums
//! drop most of them. Its parameters, parsing and injection are netem's
//! [`Chanced`].

use super::netem::{ChanceKind, Chanced, CHANCE_KEYS};

/// The marker that makes a [`Chanced`] network-corrupt.
#[derive(Debug, Clone, PartialEq)]
pub struct Corrupt;

impl ChanceKind for Corrupt {
    const NAME: &'static str = "network-corrupt";
    const KEYS: &'static [&'static str] = CHANCE_KEYS;
    const KEYWORD: &'static str = "corrupt";
    const PAST: &'static str = "corrupted";
}

/// network-corrupt's parameters.
pub type NetworkCorrupt = Chanced<Corrupt>;
