//! netem: the parameters of the netem queueing discipline that the netem
//! kinds share (delay, loss, duplicate, corrupt, reorder, rate), turned
//! into tc's words, and the `percent` + `correlation` pair three of them
//! take.
//!
//! netem's `limit` is the number of packets it may hold; its default of
//! 1000 turns a delay into drops once rate × delay exceeds it (1000 packets
//! are 12 Mbit of full frames, so 100 ms of anything above ~120 Mbit/s).
//! jolt sets room for 1 million packets per second (about 12 Gbit/s of
//! 1500-byte frames) for the longest delay (latency + jitter), and never
//! less than 100000. It is only a cap: memory goes to packets actually
//! queued.

use std::fmt;
use std::marker::PhantomData;
use std::time::Duration;

use super::backend::Backend;
use super::nfqueue::Shaping;
use super::peers::Peers;
use super::qdisc;
use crate::experiment::human;
use crate::fault::{FaultError, Keys, Kind, Undo};
use crate::target::Target;

/// Packets per second netem's limit makes room for, over the longest delay.
const LIMIT_RATE_PPS: f64 = 1_000_000.0;
const MIN_LIMIT: u32 = 100_000;

/// netem's limit for packets held up to `longest`: see the module doc.
pub(super) fn limit(longest: Duration) -> u32 {
    let packets = (longest.as_secs_f64() * LIMIT_RATE_PPS).ceil();
    (packets.min(u32::MAX as f64) as u32).max(MIN_LIMIT)
}

/// A share of packets, and how much each packet's draw follows the
/// previous one's (netem's correlation), both in percent.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Chance {
    /// Percent (0-100] of packets hit.
    pub percent: f64,
    /// Percent (0-100) each packet's draw follows the previous one's.
    pub correlation: Option<f64>,
}

impl Chance {
    /// Reads `percent` (required, above 0) and `correlation`; `what` says
    /// what happens to the packets hit (`dropped`), for the messages.
    pub(super) fn parse(keys: &mut Keys, what: &str) -> Option<Chance> {
        let percent = keys.required(
            "percent",
            &format!("the share of packets {what}, in percent, e.g. 5"),
            |k, key| k.percent(key),
        );
        let percent = match percent {
            Some(0.0) => {
                keys.problem(
                    "percent",
                    format!("0: no packet would be {what}; give more than 0"),
                );
                None
            }
            other => other,
        };
        let correlation = keys.percent("correlation");
        let bad = keys.has("correlation") && correlation.is_none();
        (!bad).then_some(())?;
        Some(Chance {
            percent: percent?,
            correlation,
        })
    }

    /// ` percent=5% correlation=25%` for a fault's line.
    pub(super) fn describe(&self) -> String {
        let mut s = format!(" percent={}%", self.percent);
        if let Some(c) = self.correlation {
            s.push_str(&format!(" correlation={c}%"));
        }
        s
    }

    /// `5% 25%` for tc, after netem's keyword.
    pub(super) fn args(&self) -> Vec<String> {
        let mut args = vec![format!("{}%", self.percent)];
        if let Some(c) = self.correlation {
            args.push(format!("{c}%"));
        }
        args
    }
}

/// What sets one netem kind of the `percent` + `correlation` shape apart
/// from the others: its name, netem's keyword, and what it does to a
/// packet.
pub trait ChanceKind: fmt::Debug + Clone + PartialEq {
    /// The kind as written in the file.
    const NAME: &'static str;
    /// The keys it takes: [`CHANCE_KEYS`], and `backend` for one the
    /// userspace queue can do too.
    const KEYS: &'static [&'static str];
    /// netem's keyword: `loss`, `duplicate`, `corrupt`.
    const KEYWORD: &'static str;
    /// What happens to the packets hit: `dropped`.
    const PAST: &'static str;
}

/// The keys of a [`Chanced`] kind that only netem does.
pub const CHANCE_KEYS: &[&str] = &[
    "percent",
    "correlation",
    "peers",
    "port",
    "protocol",
    "duration",
];

/// A netem fault that hits a share of the packets the container sends:
/// each [`ChanceKind`] is one of these.
#[derive(Debug, Clone, PartialEq)]
pub struct Chanced<K: ChanceKind> {
    pub chance: Chance,
    /// Only the traffic to these; all of it when empty.
    pub peers: Peers,
    /// Auto unless the kind takes `backend` and the file gives one.
    pub backend: Backend,
    pub duration: Duration,
    kind: PhantomData<K>,
}

impl<K: ChanceKind> Chanced<K> {
    pub fn new(chance: Chance, peers: Peers, backend: Backend, duration: Duration) -> Self {
        Chanced {
            chance,
            peers,
            backend,
            duration,
            kind: PhantomData,
        }
    }
}

impl<K: ChanceKind> Kind for Chanced<K> {
    const NAME: &'static str = K::NAME;
    const KEYS: &'static [&'static str] = K::KEYS;
    const HOLDS: Option<&'static str> = Some("the interface's root qdisc");

    fn parse(keys: &mut Keys) -> Option<Self> {
        let chance = Chance::parse(keys, K::PAST);
        let peers = Peers::parse(keys);
        let backend = Backend::parse(keys);
        if backend == Some(Backend::Nfqueue) && keys.has("correlation") {
            keys.problem(
                "correlation",
                "needs backend netem: the nfqueue backend draws for each packet on its own",
            );
            return None;
        }
        let duration = keys.lasting(&format!("packets are {}", K::PAST));
        Some(Chanced::new(chance?, peers?, backend?, duration?))
    }

    fn duration(&self) -> Option<Duration> {
        Some(self.duration)
    }

    fn describe(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (chance, peers) = (self.chance.describe(), self.peers.describe());
        let backend = self.backend.describe();
        write!(
            f,
            "{}{chance}{peers}{backend} for {}",
            K::NAME,
            human(self.duration)
        )
    }

    fn prepare(&self, target: &Target) -> Result<Undo, FaultError> {
        match K::KEYS.contains(&"backend") {
            true => {
                let netem_only = self.chance.correlation.map(|_| "correlation");
                self.backend.prepare(target, K::NAME, netem_only)
            }
            false => qdisc::prepare(target, K::NAME),
        }
    }

    fn apply(&self, target: &Target, undo: &Undo) -> Result<(), FaultError> {
        let mut parts = vec![K::KEYWORD.to_string()];
        parts.extend(self.chance.args());
        let shaping = Shaping {
            delay: Duration::ZERO,
            jitter: Duration::ZERO,
            loss: self.chance.percent,
        };
        let netem = qdisc(Duration::ZERO, parts);
        Backend::apply(K::NAME, target, undo, netem, shaping, &self.peers)
    }

    peers_in_field!();
}

/// tc's arguments for a netem qdisc: `netem limit N`, then `parts`
/// (keyword and values, e.g. `["loss", "5%"]`), with `longest` the longest
/// time it holds a packet.
pub(super) fn qdisc(longest: Duration, parts: Vec<String>) -> Vec<String> {
    let mut args = vec![
        "netem".to_string(),
        "limit".to_string(),
        limit(longest).to_string(),
    ];
    args.extend(parts);
    args
}

/// A time in tc's words: whole microseconds, netem's own unit.
pub(super) fn micros(d: Duration) -> String {
    format!("{}us", d.as_micros())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limit_grows_with_the_delay_and_never_overflows() {
        assert_eq!(limit(Duration::from_millis(1)), MIN_LIMIT);
        assert_eq!(limit(Duration::from_secs(2)), 2_000_000);
        assert_eq!(limit(Duration::from_millis(u64::MAX / 2)), u32::MAX);
    }

    #[test]
    fn a_chance_is_written_as_tc_reads_it() {
        let c = Chance {
            percent: 0.5,
            correlation: Some(25.0),
        };
        assert_eq!(c.args(), ["0.5%", "25%"]);
        assert_eq!(c.describe(), " percent=0.5% correlation=25%");
        assert_eq!(
            qdisc(Duration::ZERO, vec!["loss".into(), "5%".into()]),
            ["netem", "limit", "100000", "loss", "5%"]
        );
    }
}
