//! metrics: joltd's chaos counters in the Prometheus text format (GET
//! /metrics): faults injected, reverted and failed by kind, faults active,
//! experiments by phase, the injection latency (scheduled time to fault
//! applied) as a histogram, and per experiment and probe the probe runs,
//! failures and latency.
//!
//! A few families with fixed labels do not need a metrics library: this
//! module keeps the numbers and writes exposition format 0.0.4.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Duration;

/// Upper bounds of the latency histogram's buckets, in seconds.
const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 5.0,
];

/// What happened to a fault, as counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Outcome {
    Injected,
    Reverted,
    Failed,
}

/// A latency histogram over [`BUCKETS`].
#[derive(Default, Clone)]
struct Histogram {
    buckets: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

impl Histogram {
    fn observe(&mut self, d: Duration) {
        let secs = d.as_secs_f64();
        for (i, bound) in BUCKETS.iter().enumerate() {
            if secs <= *bound {
                self.buckets[i] += 1;
            }
        }
        self.count += 1;
        self.sum += secs;
    }

    /// The `_bucket`, `_sum` and `_count` lines of `name` with `labels`
    /// (`k="v",` pairs, or empty).
    fn render(&self, out: &mut String, name: &str, labels: &str) {
        for (bound, v) in BUCKETS.iter().zip(self.buckets) {
            let _ = writeln!(out, "{name}_bucket{{{labels}le=\"{bound}\"}} {v}");
        }
        let _ = writeln!(out, "{name}_bucket{{{labels}le=\"+Inf\"}} {}", self.count);
        let labels = labels.trim_end_matches(',');
        let braces = |l: &str| match l.is_empty() {
            true => String::new(),
            false => format!("{{{l}}}"),
        };
        let _ = writeln!(out, "{name}_sum{} {}", braces(labels), self.sum);
        let _ = writeln!(out, "{name}_count{} {}", braces(labels), self.count);
    }
}

/// One probe's numbers.
#[derive(Default)]
struct ProbeNumbers {
    runs: u64,
    failures: u64,
    latency: Histogram,
}

#[derive(Default)]
struct Numbers {
    faults: BTreeMap<(Outcome, &'static str), u64>,
    active: BTreeMap<&'static str, i64>,
    latency: Histogram,
    /// By experiment and probe.
    probes: BTreeMap<(String, String), ProbeNumbers>,
}

/// joltd's chaos metrics.
#[derive(Default)]
pub struct Metrics {
    numbers: Mutex<Numbers>,
}

impl Metrics {
    /// Counts a fault of `kind` that was injected, reverted or failed; an
    /// injection of a reversible fault is active until it is reverted.
    pub fn count(&self, outcome: Outcome, kind: &'static str, reversible: bool) {
        let mut n = self.numbers.lock().expect("no panics while held");
        *n.faults.entry((outcome, kind)).or_default() += 1;
        let active = n.active.entry(kind).or_default();
        match outcome {
            Outcome::Injected if reversible => *active += 1,
            Outcome::Reverted => *active -= 1,
            _ => {}
        }
    }

    /// Records one injection's latency: from its scheduled time to applied.
    pub fn injection_latency(&self, latency: Duration) {
        let mut n = self.numbers.lock().expect("no panics while held");
        n.latency.observe(latency);
    }

    /// Counts one run of `probe` of `experiment`.
    pub fn probe_run(&self, experiment: &str, probe: &str, ok: bool, latency: Duration) {
        let mut n = self.numbers.lock().expect("no panics while held");
        let p = n
            .probes
            .entry((experiment.to_string(), probe.to_string()))
            .or_default();
        p.runs += 1;
        p.failures += u64::from(!ok);
        p.latency.observe(latency);
    }

    /// Drops the series of a deleted experiment.
    pub fn forget(&self, experiment: &str) {
        let mut n = self.numbers.lock().expect("no panics while held");
        n.probes.retain(|(e, _), _| e != experiment);
    }

    /// The exposition text, with `phases` (experiments by phase) counted by
    /// the caller at the time of the scrape.
    pub fn render(&self, phases: &BTreeMap<String, u64>) -> String {
        let n = self.numbers.lock().expect("no panics while held");
        let mut out = String::new();
        for (outcome, name, help) in [
            (
                Outcome::Injected,
                "jolt_faults_injected_total",
                "Faults injected, by kind.",
            ),
            (
                Outcome::Reverted,
                "jolt_faults_reverted_total",
                "Faults reverted, by kind.",
            ),
            (
                Outcome::Failed,
                "jolt_faults_failed_total",
                "Faults whose injection or revert failed, by kind.",
            ),
        ] {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
            for kind in KINDS {
                let v = n.faults.get(&(outcome, kind)).copied().unwrap_or(0);
                let _ = writeln!(out, "{name}{{kind=\"{kind}\"}} {v}");
            }
        }
        let _ = writeln!(
            out,
            "# HELP jolt_faults_active Faults injected and not yet reverted, by kind.\n# TYPE jolt_faults_active gauge"
        );
        for kind in KINDS {
            let v = n.active.get(kind).copied().unwrap_or(0);
            let _ = writeln!(out, "jolt_faults_active{{kind=\"{kind}\"}} {v}");
        }
        let _ = writeln!(
            out,
            "# HELP jolt_experiments Experiments known to joltd, by phase.\n# TYPE jolt_experiments gauge"
        );
        for (phase, v) in phases {
            let _ = writeln!(out, "jolt_experiments{{phase=\"{phase}\"}} {v}");
        }
        let name = "jolt_fault_injection_latency_seconds";
        let _ = writeln!(
            out,
            "# HELP {name} From a fault's scheduled time to its injection.\n# TYPE {name} histogram"
        );
        n.latency.render(&mut out, name, "");
        for (name, help, kind) in [
            (
                "jolt_probe_runs_total",
                "Steady-state probe runs, by experiment and probe.",
                "counter",
            ),
            (
                "jolt_probe_failures_total",
                "Steady-state probe runs that failed, by experiment and probe.",
                "counter",
            ),
            (
                "jolt_probe_latency_seconds",
                "How long a steady-state probe run took, by experiment and probe.",
                "histogram",
            ),
        ] {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
            for ((experiment, probe), p) in &n.probes {
                let labels = format!(
                    "experiment=\"{}\",probe=\"{}\",",
                    escape(experiment),
                    escape(probe)
                );
                match kind {
                    "histogram" => p.latency.render(&mut out, name, &labels),
                    _ => {
                        let v = if name.contains("failures") {
                            p.failures
                        } else {
                            p.runs
                        };
                        let _ = writeln!(out, "{name}{{{}}} {v}", labels.trim_end_matches(','));
                    }
                }
            }
        }
        out
    }
}

/// `v` as a label value: backslash, quote and newline escaped.
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Every fault kind, so that each series exists from the start.
const KINDS: [&str; 4] = ["kill", "cpu-throttle", "network-delay", "pause"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_gauges_and_histogram_render() {
        let m = Metrics::default();
        m.count(Outcome::Injected, "pause", true);
        m.count(Outcome::Injected, "kill", false);
        m.count(Outcome::Injected, "pause", true);
        m.count(Outcome::Reverted, "pause", true);
        m.injection_latency(Duration::from_micros(700));
        m.injection_latency(Duration::from_millis(30));
        m.probe_run("web", "home", true, Duration::from_millis(2));
        m.probe_run("web", "home", false, Duration::from_secs(1));
        let text = m.render(&BTreeMap::from([("running".to_string(), 1)]));
        for line in [
            "jolt_faults_injected_total{kind=\"pause\"} 2",
            "jolt_faults_injected_total{kind=\"kill\"} 1",
            "jolt_faults_reverted_total{kind=\"pause\"} 1",
            "jolt_faults_failed_total{kind=\"network-delay\"} 0",
            "jolt_faults_active{kind=\"pause\"} 1",
            "jolt_faults_active{kind=\"kill\"} 0",
            "jolt_experiments{phase=\"running\"} 1",
            "jolt_fault_injection_latency_seconds_bucket{le=\"0.0005\"} 0",
            "jolt_fault_injection_latency_seconds_bucket{le=\"0.001\"} 1",
            "jolt_fault_injection_latency_seconds_bucket{le=\"0.05\"} 2",
            "jolt_fault_injection_latency_seconds_bucket{le=\"+Inf\"} 2",
            "jolt_fault_injection_latency_seconds_count 2",
            "jolt_probe_runs_total{experiment=\"web\",probe=\"home\"} 2",
            "jolt_probe_failures_total{experiment=\"web\",probe=\"home\"} 1",
            "jolt_probe_latency_seconds_bucket{experiment=\"web\",probe=\"home\",le=\"0.002\"} 1",
            "jolt_probe_latency_seconds_count{experiment=\"web\",probe=\"home\"} 2",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} missing in\n{text}");
        }
    }
}
