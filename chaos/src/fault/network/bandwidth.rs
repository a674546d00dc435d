//! network-bandwidth: the container's outgoing traffic held to a rate by a
//! token bucket (tbf): up to `burst` bytes go at line speed, then packets
//! leave at `rate`, and what waits beyond `limit` bytes is dropped, as a
//! congested or throttled link does. With peers only the traffic to them
//! (tbf under jolt's htb, see qdisc.rs). Unlike network-rate, it needs no
//! sch_netem.
//!
//! Defaults: `burst` 10 ms worth of the rate, at least 5000 bytes (a
//! bucket smaller than a packet would pass nothing); `limit` 100 ms worth,
//! at least twice the burst.

use std::fmt;
use std::time::Duration;

use super::peers::Peers;
use super::qdisc;
use super::rate::shown_rate;
use crate::experiment::human;
use crate::fault::{FaultError, Keys, Kind, Undo};
use crate::target::Target;

/// The smallest bucket: more than a 1500-byte frame with headers.
const MIN_BURST: u64 = 5000;

/// network-bandwidth's parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct NetworkBandwidth {
    /// Bits per second.
    pub rate: u64,
    /// The bucket, in bytes; None: the default (see the module doc).
    pub burst: Option<u64>,
    /// The queue, in bytes; None: the default.
    pub limit: Option<u64>,
    /// Only the traffic to these; all of it when empty.
    pub peers: Peers,
    pub duration: Duration,
}

impl NetworkBandwidth {
    fn burst(&self) -> u64 {
        self.burst.unwrap_or((self.rate / 8 / 100).max(MIN_BURST))
    }

    fn limit(&self) -> u64 {
        self.limit
            .unwrap_or((self.rate / 8 / 10).max(2 * self.burst()))
    }

    /// tc's arguments: `tbf rate Rbit burst B limit L`.
    fn qdisc(&self) -> Vec<String> {
        vec![
            "tbf".to_string(),
            "rate".to_string(),
            format!("{}bit", self.rate),
            "burst".to_string(),
            self.burst().to_string(),
            "limit".to_string(),
            self.limit().to_string(),
        ]
    }
}

impl Kind for NetworkBandwidth {
    const NAME: &'static str = "network-bandwidth";
    const KEYS: &'static [&'static str] = &[
        "rate", "burst", "limit", "peers", "port", "protocol", "duration",
    ];
    const HOLDS: Option<&'static str> = Some("the interface's root qdisc");

    fn parse(keys: &mut Keys) -> Option<Self> {
        let rate = keys.required(
            "rate",
            "the bandwidth left to the container, e.g. 10mbit",
            |k, key| k.rate(key),
        );
        let burst = keys.bytes("burst");
        let limit = keys.bytes("limit");
        let bad_burst = keys.has("burst") && burst.is_none();
        let bad_limit = keys.has("limit") && limit.is_none();
        let mut ok = !(bad_burst || bad_limit);
        if let Some(b) = burst.filter(|b| *b < MIN_BURST) {
            keys.problem(
                "burst",
                format!("{b} bytes is smaller than a packet; give at least {MIN_BURST}"),
            );
            ok = false;
        }
        if let (Some(b), Some(l)) = (burst, limit) {
            if l < b {
                keys.problem(
                    "limit",
                    format!("{l} bytes is less than the burst ({b}); the queue must hold a burst"),
                );
                ok = false;
            }
        }
        let peers = Peers::parse(keys);
        let duration = keys.lasting("the limit holds");
        ok.then_some(())?;
        Some(NetworkBandwidth {
            rate: rate?,
            burst,
            limit,
            peers: peers?,
            duration: duration?,
        })
    }

    fn duration(&self) -> Option<Duration> {
        Some(self.duration)
    }

    fn describe(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "network-bandwidth rate={}", shown_rate(self.rate))?;
        if let Some(b) = self.burst {
            write!(f, " burst={b}")?;
        }
        if let Some(l) = self.limit {
            write!(f, " limit={l}")?;
        }
        write!(f, "{} for {}", self.peers.describe(), human(self.duration))
    }

    qdisc_fault!();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bandwidth(rate: u64) -> NetworkBandwidth {
        NetworkBandwidth {
            rate,
            burst: None,
            limit: None,
            peers: Peers::default(),
            duration: Duration::from_secs(60),
        }
    }

    #[test]
    fn the_bucket_and_queue_default_to_10_and_100_ms_of_the_rate() {
        assert_eq!(
            bandwidth(100_000_000).qdisc(),
            [
                "tbf",
                "rate",
                "100000000bit",
                "burst",
                "125000",
                "limit",
                "1250000"
            ]
        );
        // 1 Mbit/s: 10 ms is 1250 bytes, below a packet; the queue holds two bursts.
        assert_eq!(
            bandwidth(1_000_000).qdisc(),
            [
                "tbf",
                "rate",
                "1000000bit",
                "burst",
                "5000",
                "limit",
                "12500"
            ]
        );
        let given = NetworkBandwidth {
            burst: Some(32 * 1024),
            limit: Some(64 * 1024),
            ..bandwidth(10_000_000)
        };
        assert_eq!(given.qdisc()[4..], ["32768", "limit", "65536"]);
    }
}
