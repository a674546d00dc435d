//! A probe's results in one window of time: how many, how many failed,
//! and the latency percentiles (nearest rank, over every run in the
//! window, passed or failed: a timeout is latency a user waited too).

use serde::{Deserialize, Serialize};

/// Results of one probe in one window.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Stats {
    pub results: u64,
    pub failures: u64,
    /// Passed results over all, 0 to 1; None without results.
    pub success_rate: Option<f64>,
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
}

impl Stats {
    /// The stats of `series` points (`[unix ms, latency ms, 1 or 0]`).
    pub fn of<'a>(series: impl Iterator<Item = &'a [f64; 3]>) -> Stats {
        let mut latencies = Vec::new();
        let mut failures = 0;
        for [_, latency, ok] in series {
            latencies.push(*latency);
            if *ok == 0.0 {
                failures += 1;
            }
        }
        latencies.sort_by(f64::total_cmp);
        let results = latencies.len() as u64;
        Stats {
            results,
            failures,
            success_rate: (results > 0).then(|| (results - failures) as f64 / results as f64),
            p50_ms: percentile(&latencies, 50.0),
            p99_ms: percentile(&latencies, 99.0),
        }
    }
}

/// The `p`th percentile (nearest rank) of `sorted`; None when empty.
pub fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (p / 100.0 * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}
