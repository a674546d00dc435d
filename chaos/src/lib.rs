//! jolt-chaos: the pure logic of chaos experiments — the experiment file
//! and its validation ([`experiment`]), when it fires ([`schedule`]), which
//! containers it hits ([`selector`]) and the dry-run plan that puts them
//! together ([`plan`]).
//!
//! Nothing here touches the kernel, the clock or the disk: fault injection,
//! the journal and the agent's wiring build on this crate. Every random
//! choice comes from one [`ChaosRng`] seeded from the experiment, so a seed
//! replays the same plan.

mod civil;
pub mod cron;
pub mod experiment;
pub mod plan;
pub mod schedule;
pub mod selector;

pub use experiment::{Experiment, ExperimentError, Fault, FieldError};
pub use schedule::Schedule;

/// The random number generator behind every choice: ChaCha8, portable and
/// stable across platforms and releases, so a seed means the same thing
/// everywhere.
pub type ChaosRng = rand_chacha::ChaCha8Rng;

/// A [`ChaosRng`] seeded with `seed`.
pub fn rng(seed: u64) -> ChaosRng {
    rand::SeedableRng::seed_from_u64(seed)
}
