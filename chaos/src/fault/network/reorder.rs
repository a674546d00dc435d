//! network-reorder: packets the container sends leave out of order. netem
//! holds every packet for `latency` except a share it sends at once (with
//! `gap`, every gap-th packet is a candidate), so those overtake the ones
//! before them; reordering needs that delay, so `latency` is required.

use std::fmt;
use std::time::Duration;

use super::netem::{self, Chance};
use super::peers::Peers;
use super::qdisc;
use crate::experiment::human;
use crate::fault::{FaultError, Keys, Kind, Undo};
use crate::target::Target;

/// network-reorder's parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct NetworkReorder {
    /// The share sent at once, ahead of the delayed rest.
    pub chance: Chance,
    /// The delay of the packets that are not sent at once.
    pub latency: Duration,
    /// With a gap N, only every N-th packet may be sent at once.
    pub gap: Option<u64>,
    /// Only the traffic to these; all of it when empty.
    pub peers: Peers,
    pub duration: Duration,
}

impl NetworkReorder {
    fn qdisc(&self) -> Vec<String> {
        let mut parts = vec![
            "delay".to_string(),
            netem::micros(self.latency),
            "reorder".to_string(),
        ];
        parts.extend(self.chance.args());
        if let Some(gap) = self.gap {
            parts.extend(["gap".to_string(), gap.to_string()]);
        }
        netem::qdisc(self.latency, parts)
    }
}

impl Kind for NetworkReorder {
    const NAME: &'static str = "network-reorder";
    const KEYS: &'static [&'static str] = &[
        "percent",
        "correlation",
        "gap",
        "latency",
        "peers",
        "port",
        "protocol",
        "duration",
    ];
    const HOLDS: Option<&'static str> = Some("the interface's root qdisc");

    fn parse(keys: &mut Keys) -> Option<Self> {
        let chance = Chance::parse(keys, "sent ahead of the others");
        let latency = keys.required(
            "latency",
            "the delay of the packets not sent at once (reordering needs it), e.g. 10ms",
            |k, key| k.duration(key, false),
        );
        let gap = keys.integer("gap", 1..=u32::MAX as u64);
        let bad_gap = keys.has("gap") && gap.is_none();
        let peers = Peers::parse(keys);
        let duration = keys.lasting("packets are reordered");
        (!bad_gap).then_some(())?;
        Some(NetworkReorder {
            chance: chance?,
            latency: latency?,
            gap,
            peers: peers?,
            duration: duration?,
        })
    }

    fn duration(&self) -> Option<Duration> {
        Some(self.duration)
    }

    fn describe(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", Self::NAME, self.chance.describe())?;
        if let Some(gap) = self.gap {
            write!(f, " gap={gap}")?;
        }
        write!(
            f,
            " latency={}{} for {}",
            human(self.latency),
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
    fn reorder_goes_to_tc_with_its_delay_and_gap() {
        let r = NetworkReorder {
            chance: Chance {
                percent: 25.0,
                correlation: Some(50.0),
            },
            latency: Duration::from_millis(10),
            gap: Some(5),
            peers: Peers::default(),
            duration: Duration::from_secs(60),
        };
        assert_eq!(
            r.qdisc(),
            ["netem", "limit", "100000", "delay", "10000us", "reorder", "25%", "50%", "gap", "5"]
        );
    }
}
