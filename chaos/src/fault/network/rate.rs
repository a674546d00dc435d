//! network-rate: the container's outgoing traffic held to a rate by
//! netem's `rate`, which delays each packet by its transmission time at
//! that rate (and queues what does not fit, up to netem's limit). For a
//! token-bucket limit with a burst, see network-bandwidth.

use std::fmt;
use std::time::Duration;

use super::peers::Peers;
use super::{netem, qdisc};
use crate::experiment::human;
use crate::fault::{FaultError, Keys, Kind, Undo};
use crate::target::Target;

/// network-rate's parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct NetworkRate {
    /// Bits per second.
    pub rate: u64,
    /// Only the traffic to these; all of it when empty.
    pub peers: Peers,
    pub duration: Duration,
}

impl NetworkRate {
    fn qdisc(&self) -> Vec<String> {
        netem::qdisc(
            Duration::ZERO,
            vec!["rate".to_string(), format!("{}bit", self.rate)],
        )
    }
}

/// A rate for people: `10mbit`, `1.5gbit`, `512kbit`.
pub(crate) fn shown_rate(bits: u64) -> String {
    let (scale, unit) = match bits {
        b if b >= 1_000_000_000 => (1e9, "gbit"),
        b if b >= 1_000_000 => (1e6, "mbit"),
        b if b >= 1_000 => (1e3, "kbit"),
        _ => (1.0, "bit"),
    };
    let n = bits as f64 / scale;
    format!("{}{unit}", (n * 1000.0).round() / 1000.0)
}

impl Kind for NetworkRate {
    const NAME: &'static str = "network-rate";
    const KEYS: &'static [&'static str] = &["rate", "peers", "port", "protocol", "duration"];
    const HOLDS: Option<&'static str> = Some("the interface's root qdisc");

    fn parse(keys: &mut Keys) -> Option<Self> {
        let rate = keys.required(
            "rate",
            "the rate the container may send at, e.g. 1mbit",
            |k, key| k.rate(key),
        );
        let peers = Peers::parse(keys);
        let duration = keys.lasting("the rate holds");
        Some(NetworkRate {
            rate: rate?,
            peers: peers?,
            duration: duration?,
        })
    }

    fn duration(&self) -> Option<Duration> {
        Some(self.duration)
    }

    fn describe(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "network-rate rate={}{} for {}",
            shown_rate(self.rate),
            self.peers.describe(),
            human(self.duration)
        )
    }

    qdisc_fault!();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rate_goes_to_tc_in_bits_and_to_people_in_their_unit() {
        let r = NetworkRate {
            rate: 10_000_000,
            peers: Peers::default(),
            duration: Duration::from_secs(60),
        };
        assert_eq!(
            r.qdisc(),
            ["netem", "limit", "100000", "rate", "10000000bit"]
        );
        assert_eq!(shown_rate(10_000_000), "10mbit");
        assert_eq!(shown_rate(1_500_000_000), "1.5gbit");
        assert_eq!(shown_rate(512_000), "512kbit");
    }
}
