//! network-delay: every packet the container sends held for a while
//! (netem's delay, with jitter and correlation), and optionally a share of
//! them dropped; through netem, or where the kernel has no sch_netem, the
//! userspace queue (see backend.rs), which takes everything but
//! correlation.

use std::fmt;
use std::time::Duration;

use super::backend::Backend;
use super::netem;
use super::nfqueue::Shaping;
use super::peers::Peers;
use crate::experiment::human;
use crate::fault::{FaultError, Keys, Kind, Undo};
use crate::target::Target;

/// network-delay's parameters, in netem's terms.
#[derive(Debug, Clone, PartialEq)]
pub struct NetworkDelay {
    pub latency: Duration,
    /// Each packet's delay varies by up to this much around `latency`.
    pub jitter: Option<Duration>,
    /// Percent (0-100) each packet's jitter follows the previous one's.
    pub correlation: Option<f64>,
    /// Percent (0-100) of packets dropped.
    pub loss: Option<f64>,
    /// Only the traffic to these; all of it when empty.
    pub peers: Peers,
    pub backend: Backend,
    pub duration: Duration,
}

impl NetworkDelay {
    /// tc's arguments: netem with its limit, delay, jitter, correlation
    /// and loss, times in microseconds.
    pub(super) fn qdisc(&self) -> Vec<String> {
        let mut parts = vec!["delay".to_string(), netem::micros(self.latency)];
        if let Some(jitter) = self.jitter {
            parts.push(netem::micros(jitter));
            if let Some(c) = self.correlation {
                parts.push(format!("{c}%"));
            }
        }
        if let Some(loss) = self.loss {
            parts.extend(["loss".to_string(), format!("{loss}%")]);
        }
        let longest = self.latency.saturating_add(self.jitter.unwrap_or_default());
        netem::qdisc(longest, parts)
    }
}

impl Kind for NetworkDelay {
    const NAME: &'static str = "network-delay";
    const KEYS: &'static [&'static str] = &[
        "latency",
        "jitter",
        "correlation",
        "loss",
        "peers",
        "port",
        "protocol",
        "backend",
        "duration",
    ];
    const HOLDS: Option<&'static str> = Some("the interface's root qdisc");

    fn parse(keys: &mut Keys) -> Option<Self> {
        let latency = keys.required("latency", "the added delay, e.g. 100ms", |k, key| {
            k.duration(key, false)
        });
        let jitter = keys.duration("jitter", true);
        let bad_jitter = keys.has("jitter") && jitter.is_none();
        let correlation = keys.percent("correlation");
        let bad_correlation = keys.has("correlation") && correlation.is_none();
        let loss = keys.percent("loss");
        let bad_loss = keys.has("loss") && loss.is_none();
        if keys.has("correlation") && !keys.has("jitter") {
            keys.problem(
                "correlation",
                "needs jitter: correlation ties each packet's jitter to the previous one's",
            );
            return None;
        }
        let peers = Peers::parse(keys);
        let backend = Backend::parse(keys);
        if backend == Some(Backend::Nfqueue) && keys.has("correlation") {
            keys.problem(
                "correlation",
                "needs backend netem: the nfqueue backend draws each packet's delay on its own",
            );
            return None;
        }
        let duration = keys.lasting("packets are delayed");
        if bad_jitter || bad_correlation || bad_loss {
            return None;
        }
        Some(NetworkDelay {
            latency: latency?,
            jitter,
            correlation,
            loss,
            peers: peers?,
            backend: backend?,
            duration: duration?,
        })
    }

    fn duration(&self) -> Option<Duration> {
        Some(self.duration)
    }

    fn describe(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "network-delay latency={}", human(self.latency))?;
        if let Some(j) = self.jitter {
            write!(f, " jitter={}", human(j))?;
        }
        if let Some(c) = self.correlation {
            write!(f, " correlation={c}%")?;
        }
        if let Some(l) = self.loss {
            write!(f, " loss={l}%")?;
        }
        write!(
            f,
            "{}{} for {}",
            self.peers.describe(),
            self.backend.describe(),
            human(self.duration)
        )
    }

    fn prepare(&self, target: &Target) -> Result<Undo, FaultError> {
        let netem_only = self.correlation.map(|_| "correlation");
        self.backend.prepare(target, Self::NAME, netem_only)
    }

    fn apply(&self, target: &Target, undo: &Undo) -> Result<(), FaultError> {
        let shaping = Shaping {
            delay: self.latency,
            jitter: self.jitter.unwrap_or_default(),
            loss: self.loss.unwrap_or_default(),
        };
        Backend::apply(Self::NAME, target, undo, self.qdisc(), shaping, &self.peers)
    }

    peers_in_field!();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delay(ms: u64) -> NetworkDelay {
        NetworkDelay {
            latency: Duration::from_millis(ms),
            jitter: None,
            correlation: None,
            loss: None,
            peers: Peers::default(),
            backend: Backend::Auto,
            duration: Duration::from_secs(60),
        }
    }

    #[test]
    fn netem_arguments_carry_every_parameter_in_microseconds() {
        assert_eq!(
            delay(100).qdisc(),
            ["netem", "limit", "100000", "delay", "100000us"]
        );
        let full = NetworkDelay {
            jitter: Some(Duration::from_micros(10_500)),
            correlation: Some(25.0),
            loss: Some(0.5),
            ..delay(400)
        };
        assert_eq!(
            full.qdisc(),
            ["netem", "limit", "410500", "delay", "400000us", "10500us", "25%", "loss", "0.5%"]
        );
    }
}
