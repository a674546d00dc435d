//! jolt-chaos: chaos experiments — the experiment file and its validation
//! ([`experiment`], once [`text`] has checked its bytes), when it fires
//! ([`schedule`]), which containers it hits
//! ([`selector`]), the dry-run plan that puts them together ([`plan`]),
//! the steady-state hypothesis ([`probe`]: its probes, and the tally of
//! one probe's results under its tolerance) and the [`verdict`] its judge
//! reaches, and the kernel side: injecting and reverting one fault on one
//! [`Target`] ([`fault`], one file per kind), the on-disk [`journal`] of
//! faults in force, and the protocol that ties them ([`injection`]).
//!
//! Only [`fault`] touches the kernel and only [`journal`] the disk; the
//! rest is pure logic, and the agent wires it all to the clock. Every
//! random choice comes from one [`ChaosRng`] seeded from the experiment, so
//! a seed replays the same plan.
//!
//! ```
//! use std::time::{Duration, UNIX_EPOCH};
//! use jolt_chaos::{plan::plan, selector::Candidate, Experiment};
//!
//! let text = "
//! name: web-pause
//! seed: 1
//! targets: {labels: {app: web}}
//! schedule: {every: 10m}
//! duration: 30m
//! fault: {kind: pause, duration: 1m}
//! ";
//! let experiment = Experiment::from_yaml_or_json(text, "web-pause.yaml")?;
//! let web = Candidate {
//!     id: "0f3a".into(),
//!     name: "web-1".into(),
//!     labels: [("app".into(), "web".into())].into(),
//!     annotations: Default::default(),
//!     origin: "joltd".into(),
//!     running: true,
//! };
//! let start = UNIX_EPOCH + Duration::from_secs(1_796_202_000);
//! let text = plan(&experiment, start, &[web]).to_string();
//! assert_eq!(text.lines().nth(1), Some("2026-12-02T09:00:00Z  +0s   pause for 1m  on web-1"));
//! # Ok::<(), jolt_chaos::ExperimentError>(())
//! ```

pub mod civil;
pub mod cron;
pub mod experiment;
pub mod fault;
pub mod injection;
pub mod journal;
pub mod plan;
pub mod probe;
pub mod schedule;
pub mod selector;
pub mod target;
pub mod text;
mod validate;
pub mod verdict;

pub use experiment::{Experiment, ExperimentError, Fault, FieldError};
pub use fault::{FaultError, Reverted, Undo};
pub use journal::{Entry, Journal, JournalError};
pub use schedule::Schedule;
pub use target::Target;

/// The random number generator behind every choice: ChaCha8, portable and
/// stable across platforms and releases, so a seed means the same thing
/// everywhere.
pub type ChaosRng = rand_chacha::ChaCha8Rng;

/// A [`ChaosRng`] seeded with `seed`.
pub fn rng(seed: u64) -> ChaosRng {
    rand::SeedableRng::seed_from_u64(seed)
}
