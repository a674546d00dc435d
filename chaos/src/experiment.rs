//! The experiment file: its schema (YAML or JSON, the same keys), parsing
//! with errors that name the field path, and validation that reports every
//! problem at once. Owns the typed [`Experiment`] the rest of the crate and
//! the agent work from; does not own time math (`schedule`), choosing
//! containers (`selector`) or touching the kernel (the agent's faults).
//!
//! Parsing happens in three steps: `text` checks the characters (UTF-8,
//! no control characters, a byte order mark dropped), serde reads the
//! text into the `*File` structs of `validate`, which mirror the keys
//! (its messages said in the file's words, never Rust's type names), then
//! validation there turns them into these typed values.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use serde::Deserialize;

use crate::probe::SteadyState;
use crate::schedule::Schedule;
use crate::text::{self, TextError};
use crate::validate::ExperimentFile;

/// A validated chaos experiment: which containers, when, and what fault.
///
/// [`Experiment::from_yaml_or_json`] builds it and validates every value;
/// code that builds one by hand must keep to the same rules.
#[derive(Debug, Clone, PartialEq)]
pub struct Experiment {
    /// DNS-label-like: 1-63 of `[a-z0-9-]`, starting and ending with a
    /// letter or digit.
    pub name: String,
    /// Free text for people; jolt does not interpret it.
    pub description: Option<String>,
    /// Seeds every random choice (monkey fire times, target picks). Without
    /// it the plan derives one from the start time and reports it.
    pub seed: Option<u64>,
    pub targets: Targets,
    pub schedule: Schedule,
    /// Total length. Required for `every`, `cron` and `monkey`; optional for
    /// `at` (see [`Experiment::length`]).
    pub duration: Option<Duration>,
    /// At most this many injections active at once (default 1). A fire that
    /// would exceed it is skipped, and a container never holds two faults
    /// of the same experiment at once.
    pub max_active: u32,
    pub on_failure: OnFailure,
    /// What each fire injects into each target picked: one fault or
    /// several together (`faults:`), each journaled and reverted on its own.
    pub faults: Vec<Fault>,
    /// The hypothesis the experiment tests, if it states one.
    pub steady_state: Option<SteadyState>,
}

/// Which containers a fire may hit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Targets {
    /// Container names (or ids); empty means any name.
    pub names: Vec<String>,
    /// Labels a container must all carry with these exact values; empty
    /// means any labels. An empty value matches a label set to "".
    pub labels: BTreeMap<String, String>,
    /// OCI annotations a container must all carry (from its config.json);
    /// a value may hold `*`, which matches any run of characters
    /// (`io.kubernetes.cri.sandbox-name: web-*`). Empty means any.
    pub annotations: BTreeMap<String, String>,
    /// Who runs the container: `joltd`, `podman`, `jolt`, `containerd`
    /// (any namespace) or `containerd/NAMESPACE`. None means any.
    pub origin: Option<String>,
    pub mode: Mode,
}

/// How many of the matching running containers one fire hits.
///
/// In the file: `mode: one`, `mode: all`, `mode: {fixed: 2}`,
/// `mode: {percent: 30}`. The default is `one`, the smallest blast radius.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// One at random.
    One,
    /// Every matching container.
    All,
    /// N at random; all of them if fewer match.
    Fixed(u32),
    /// This percentage (1-100) at random, rounded up, so at least one
    /// whenever any matches.
    Percent(u32),
}

impl<'de> Deserialize<'de> for Mode {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Mode;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("one, all, {fixed: N} or {percent: P}")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Mode, E> {
                match v {
                    "one" => Ok(Mode::One),
                    "all" => Ok(Mode::All),
                    "fixed" | "percent" => {
                        Err(E::custom(format!("{v} needs a number: write {{{v}: N}}")))
                    }
                    other => Err(E::custom(format!(
                        "unknown mode {other:?} (expected one, all, {{fixed: N}} or {{percent: P}})"
                    ))),
                }
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Mode, A::Error> {
                use serde::de::Error;
                let key: String = map.next_key()?.ok_or_else(|| {
                    A::Error::custom("empty mode; write {fixed: N} or {percent: P}")
                })?;
                let mode = match key.as_str() {
                    "fixed" => Mode::Fixed(map.next_value()?),
                    "percent" => Mode::Percent(map.next_value()?),
                    other => {
                        return Err(A::Error::custom(format!(
                            "unknown mode {other:?} (expected one, all, {{fixed: N}} or {{percent: P}})"
                        )))
                    }
                };
                if map.next_key::<String>()?.is_some() {
                    return Err(A::Error::custom(
                        "give one mode: {fixed: N} or {percent: P}",
                    ));
                }
                Ok(mode)
            }
        }
        d.deserialize_any(V)
    }
}

/// What the experiment does when an injection fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OnFailure {
    /// Record the failure and keep to the schedule (the default).
    #[default]
    Continue,
    /// Revert what is active and end the experiment.
    Stop,
}

pub use crate::fault::{
    CpuThrottle, Fault, Kill, KillScope, NetworkDelay, Pause, Signal, FAULT_KINDS,
};

impl Experiment {
    /// The faults of one fire, one line: each fault's line, joined by ` + `.
    pub fn faults_line(&self) -> String {
        line(&self.faults)
    }
}

/// `faults` as one line: each fault's line, joined by ` + `.
pub fn line(faults: &[Fault]) -> String {
    faults
        .iter()
        .map(Fault::to_string)
        .collect::<Vec<_>>()
        .join(" + ")
}

/// The longest duration among `faults`: how long a fire holds its target;
/// None when none is reversible (kill).
pub fn longest(faults: &[Fault]) -> Option<Duration> {
    faults.iter().filter_map(Fault::duration).max()
}

/// A duration the way the file writes it: `1m30s`, `100ms`.
pub fn human(d: Duration) -> String {
    humantime::format_duration(d).to_string().replace(' ', "")
}

/// One problem with an experiment, at the path of the offending key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct FieldError {
    /// Dotted path, with `[i]` for list items: `schedule.at[1]`.
    pub path: String,
    pub message: String,
}

/// Why an experiment file was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExperimentError {
    /// The text is not UTF-8, or holds a control character.
    #[error("{origin}: {cause}")]
    Text { origin: String, cause: TextError },
    /// The text is not YAML/JSON of the right shape (wrong type, unknown or
    /// missing key). `path` is `.` for the document itself.
    #[error("{origin}: {}{message}", if path == "." { String::new() } else { format!("{path}: ") })]
    Syntax {
        origin: String,
        path: String,
        message: String,
    },
    /// Well-formed, but with values that cannot run; every problem found.
    #[error("{origin}: {}", list(errors))]
    Invalid {
        origin: String,
        errors: Vec<FieldError>,
    },
}

fn list(errors: &[FieldError]) -> String {
    match errors {
        [one] => one.to_string(),
        many => {
            let mut s = format!("{} problems:", many.len());
            for e in many {
                s.push_str(&format!("\n  {e}"));
            }
            s
        }
    }
}

impl Experiment {
    /// Parses and validates an experiment. Text whose first non-blank
    /// character is `{` is read as JSON, anything else as YAML; a leading
    /// byte order mark is dropped, control characters other than tab, LF
    /// and CR are refused. `origin` (a file name, "request body") starts
    /// every error message.
    pub fn from_yaml_or_json(text: &str, origin: &str) -> Result<Experiment, ExperimentError> {
        let text = text::decode(text.as_bytes()).map_err(|cause| ExperimentError::Text {
            origin: origin.to_string(),
            cause,
        })?;
        let json = text.trim_start().starts_with('{');
        let syntax = |path: String, message: String| {
            let object = match (path.as_str(), json) {
                (".", _) => "an experiment (a mapping with name, targets, schedule and fault)",
                (_, true) => "a JSON object",
                (_, false) => "a mapping",
            };
            let message = text::plain(&message, object);
            // serde_yaml starts its messages with the path it knows, which
            // is the one here or its parent.
            let message = match message.split_once(": ") {
                Some((head, rest))
                    if path == head
                        || path.starts_with(&format!("{head}."))
                        || path.starts_with(&format!("{head}[")) =>
                {
                    rest.to_string()
                }
                _ => message,
            };
            ExperimentError::Syntax {
                origin: origin.to_string(),
                path,
                message,
            }
        };
        let file: ExperimentFile = if json {
            let mut de = serde_json::Deserializer::from_str(text);
            let file = serde_path_to_error::deserialize(&mut de)
                .map_err(|e| syntax(e.path().to_string(), e.inner().to_string()))?;
            de.end()
                .map_err(|e| syntax(".".to_string(), e.to_string()))?;
            file
        } else {
            serde_path_to_error::deserialize(serde_yaml::Deserializer::from_str(text))
                .map_err(|e| syntax(e.path().to_string(), e.inner().to_string()))?
        };
        file.validate().map_err(|errors| ExperimentError::Invalid {
            origin: origin.to_string(),
            errors,
        })
    }

    /// How long the experiment runs: `duration`, or for an `at` schedule
    /// without one, the last offset plus the fault's duration.
    pub fn length(&self) -> Duration {
        match (self.duration, &self.schedule) {
            (Some(d), _) => d,
            (None, Schedule::At(offsets)) => offsets
                .iter()
                .max()
                .copied()
                .unwrap_or_default()
                .saturating_add(longest(&self.faults).unwrap_or_default()),
            (None, _) => Duration::ZERO,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Experiment, ExperimentError> {
        Experiment::from_yaml_or_json(text, "exp.yaml")
    }

    /// The one-line message of a refused experiment, without the origin.
    fn error(text: &str) -> String {
        let e = parse(text).unwrap_err().to_string();
        e.strip_prefix("exp.yaml: ").unwrap_or(&e).to_string()
    }

    const BASE: &str = "
name: web-latency
targets:
  labels: {app: web}
schedule:
  every: 1m
duration: 5m
fault:
  kind: pause
  duration: 30s
";

    #[test]
    fn yaml_and_json_read_the_same_schema() {
        let yaml = "
name: web-latency
description: slow web down
seed: 7
targets:
  names: [web-1]
  labels: {app: web, tier: prod}
  mode: {percent: 50}
schedule:
  cron: '*/5 * * * *'
duration: 1h
max-active: 2
on-failure: stop
fault:
  kind: network-delay
  latency: 100ms
  jitter: 10ms
  correlation: 25
  loss: 0.5
  duration: 1m
";
        let json = r#"{
  "name": "web-latency", "description": "slow web down", "seed": 7,
  "targets": {"names": ["web-1"], "labels": {"app": "web", "tier": "prod"}, "mode": {"percent": 50}},
  "schedule": {"cron": "*/5 * * * *"}, "duration": "1h", "max-active": 2, "on-failure": "stop",
  "fault": {"kind": "network-delay", "latency": "100ms", "jitter": "10ms", "correlation": 25,
            "loss": 0.5, "duration": "1m"}
}"#;
        let a = parse(yaml).unwrap();
        assert_eq!(a, parse(json).unwrap());
        assert_eq!(a.targets.mode, Mode::Percent(50));
        assert_eq!(a.max_active, 2);
        assert_eq!(a.on_failure, OnFailure::Stop);
        assert_eq!(
            a.faults_line(),
            "network-delay latency=100ms jitter=10ms correlation=25% loss=0.5% for 1m"
        );
    }

    #[test]
    fn defaults_are_the_smallest_blast_radius() {
        let e = parse(BASE).unwrap();
        assert_eq!(e.targets.mode, Mode::One);
        assert_eq!(e.max_active, 1);
        assert_eq!(e.on_failure, OnFailure::Continue);
        assert_eq!(e.seed, None);
        let kill = parse(&BASE.replace("kind: pause\n  duration: 30s", "kind: kill")).unwrap();
        assert_eq!(
            kill.faults,
            [Fault::Kill(Kill {
                signal: Signal::KILL,
                scope: KillScope::Init
            })]
        );
    }

    #[test]
    fn signals_by_name_or_number() {
        for (given, want) in [
            ("TERM", 15),
            ("SIGTERM", 15),
            ("sigint", 2),
            ("9", 9),
            ("40", 40),
        ] {
            let text = BASE.replace(
                "kind: pause\n  duration: 30s",
                &format!("kind: kill\n  signal: {given}"),
            );
            match parse(&text).unwrap().faults.remove(0) {
                Fault::Kill(Kill { signal, .. }) => assert_eq!(signal.number(), want, "{given}"),
                other => panic!("{other:?}"),
            }
        }
        let bad = BASE.replace(
            "kind: pause\n  duration: 30s",
            "kind: kill\n  signal: SIGFOO",
        );
        assert_eq!(
            error(&bad),
            "fault.signal: unknown signal \"SIGFOO\" (use a name like SIGKILL, KILL, TERM or a number 1-64)"
        );
        let bad = BASE.replace("kind: pause\n  duration: 30s", "kind: kill\n  signal: 99");
        assert!(error(&bad).starts_with("fault.signal: unknown signal 99 "));
    }

    #[test]
    fn the_length_of_an_at_schedule_without_duration() {
        let e =
            parse(&BASE.replace("  every: 1m\nduration: 5m\n", "  at: [1m30s, 10s]\n")).unwrap();
        assert_eq!(
            e.schedule,
            Schedule::At(vec![Duration::from_secs(10), Duration::from_secs(90)])
        );
        assert_eq!(e.length(), Duration::from_secs(120));
    }

    #[test]
    fn syntax_errors_name_the_field_path() {
        assert_eq!(
            error(&BASE.replace("  kind: pause", "  kind: pause\n  latncy: 1s")),
            "fault.latncy: pause does not take latncy (it takes duration)"
        );
        assert_eq!(
            error(&BASE.replace("labels: {app: web}", "labels: {app: web}\n  mode: some")),
            "targets.mode: unknown mode \"some\" (expected one, all, {fixed: N} or {percent: P}) at line 5 column 9"
        );
        assert_eq!(
            error(r#"{"name": "x", "seed": -1}"#),
            "seed: invalid value: integer `-1`, expected a whole number, 0 or more at line 1 column 24"
        );
        assert_eq!(
            error(
                r#"{"name": "x", "targets": {"names": ["a"]}, "schedule": {"at": ["0s"]},
                    "fault": {"kind": "kill"}} {"#
            ),
            "trailing characters at line 2 column 48"
        );
    }

    #[test]
    fn the_text_is_checked_and_errors_never_name_rust_types() {
        assert_eq!(parse(&format!("\u{feff}{BASE}")), parse(BASE));
        let json = r#"{"name": "x", "targets": {"names": ["a"]}, "schedule": {"at": ["0s"]}, "fault": {"kind": "kill"}}"#;
        assert!(parse(&format!("\u{feff}{json}")).is_ok());
        assert_eq!(
            error(&BASE.replace("web-latency", "web\u{7}latency")),
            "control character 0x07 at byte offset 10 (line 2)"
        );
        for (text, want) in [
            ("[]", "invalid type: sequence, expected an experiment (a mapping with name, targets, schedule and fault)"),
            ("hello", "invalid type: string \"hello\", expected an experiment (a mapping with name, targets, schedule and fault)"),
            ("~", "invalid type: null, expected an experiment (a mapping with name, targets, schedule and fault)"),
            (&BASE.replace("labels: {app: web}", "[web]"), "targets: invalid type: sequence, expected a mapping at line 4 column 3"),
            (&BASE.replace("duration: 5m\n", "duration: 5m\nmax-active: -1\n"), "max-active: invalid type: integer `-1`, expected a whole number from 0 to 4294967295 at line 8 column 13"),
        ] {
            let e = error(text);
            assert_eq!(e, want, "{text}");
            assert!(!e.contains("File"), "{e}");
        }
    }

    #[test]
    fn validation_errors_name_the_field_and_the_fix() {
        let cases = [
            (("every: 1m", "cron: '61 * * * *'"), "schedule.cron: \"61 * * * *\": minute 61 out of range (0-59)"),
            (("kind: pause", "kind: explode"), &format!("fault.kind: unknown fault kind \"explode\" (expected {})", FAULT_KINDS.join(", "))),
            (("duration: 30s", "duration: 10m"), "fault.duration: 10m is longer than the experiment (5m)"),
            (("{app: web}", "{app: web}\n  mode: {percent: 150}"), "targets.mode.percent: 150 is outside 0-100"),
            (("{app: web}", "{app: web}\n  mode: {fixed: 0}"), "targets.mode.fixed: 0 selects nothing; use 1 or more (or mode: all)"),
            (("labels: {app: web}", "mode: all"), "targets: selects nothing (no names, labels, annotations or origin); give at least one"),
            (("labels: {app: web}", "names: []"), "targets.names: an empty list selects nothing; name a container or remove the key"),
            (("labels: {app: web}", "labels: {}"), "targets.labels: an empty map selects nothing; give a label like app: web or remove the key"),
            (("labels: {app: web}", "annotations: {'': web}"), "targets.annotations: an annotation key is empty; give the annotation's full name, like io.kubernetes.cri.container-name"),
            (("labels: {app: web}", "annotations: {}"), "targets.annotations: an empty map selects nothing; give an annotation like io.kubernetes.cri.sandbox-namespace: shop or remove the key"),
            (("labels: {app: web}", "origin: docker"), "targets.origin: \"docker\" is not an origin; use joltd, podman, jolt, containerd or containerd/NAMESPACE"),
            (("every: 1m", "every: 1m\n  cron: '* * * * *'"), "schedule: give exactly one of at, every, cron, monkey (found every and cron)"),
            (("every: 1m", "every: 5m"), "schedule.every: 5m is not shorter than the experiment (5m), so it fires only once; use at: [0s] for a single fire"),
            (("every: 1m", "every: soon"), "schedule.every: \"soon\" is not a duration (expected number at 0); write e.g. 100ms, 30s, 1m30s, 2h"),
            (("every: 1m", "at: [10s, 10s]"), "schedule.at[1]: 10s repeats schedule.at[0]"),
            (("every: 1m", "at: [10s, 6m]"), "schedule.at[1]: 6m is not before the end of the experiment (5m)"),
            (("every: 1m", "monkey: {mean-time-between: 10m, window: '25:00-15:00'}"), "schedule.monkey.window: \"25:00-15:00\": hour 25 out of range (0-23, or 24:00 as an end)"),
            (("every: 1m", "monkey: {mean-time-between: 10m, days: [mon, someday]}"), "schedule.monkey.days[1]: unknown day \"someday\" (expected one of mon, tue, wed, thu, fri, sat, sun)"),
            (("every: 1m", "monkey: {mean-time-between: 10m, days: workdays}"), "schedule.monkey.days: unknown days \"workdays\" (expected weekdays, weekends, every-day or a list like [mon, tue])"),
            (("every: 1m", "monkey: {mean-time-between: 20m, min-gap: 10m}"), "schedule.monkey.min-gap: 10m is longer than the experiment (5m)"),
            (("every: 1m", "monkey: {mean-time-between: 1m, min-gap: 2m}"), "schedule.monkey.min-gap: 2m must be shorter than mean-time-between (1m)"),
            (("duration: 5m\n", ""), "duration: required with schedule.every: how long the experiment runs, e.g. 1h"),
            (("duration: 5m\n", "duration: 5m\nmax-active: 0\n"), "max-active: 0 would never inject; use 1 or more"),
            (("name: web-latency", "name: Web_Latency"), "name: \"Web_Latency\" is not a valid name (use 1-63 lowercase letters, digits and '-', starting and ending with a letter or digit)"),
            (("  duration: 30s", ""), "fault.duration: required for pause: how long the container stays frozen"),
            (("kind: pause\n  duration: 30s", "kind: kill\n  duration: 30s"), "fault.duration: kill cannot be undone, so it takes no duration"),
            (("kind: pause", "kind: pause\n  cpus: 0.5"), "fault.cpus: pause does not take cpus (it takes duration)"),
            (("kind: pause", "kind: cpu-throttle\n  cpus: 0"), "fault.cpus: 0 is outside (0, 1024]; 0.5 is half of one CPU"),
            (("kind: pause", "kind: network-delay\n  latency: 10ms\n  loss: 101"), "fault.loss: 101 is outside 0-100 (percent)"),
            (("kind: pause", "kind: network-delay\n  latency: 10ms\n  correlation: 25"), "fault.correlation: needs jitter: correlation ties each packet's jitter to the previous one's"),
            (("kind: pause", "kind: network-delay"), "fault.latency: required for network-delay: the added delay, e.g. 100ms"),
            (("kind: pause", "kind: network-loss"), "fault.percent: required for network-loss: the share of packets dropped, in percent, e.g. 5"),
            (("kind: pause", "kind: network-duplicate\n  percent: 0"), "fault.percent: 0: no packet would be duplicated; give more than 0"),
            (("kind: pause", "kind: network-corrupt\n  percent: 5\n  correlation: 200"), "fault.correlation: 200 is outside 0-100 (percent)"),
            (("kind: pause", "kind: network-reorder\n  percent: 25"), "fault.latency: required for network-reorder: the delay of the packets not sent at once (reordering needs it), e.g. 10ms"),
            (("kind: pause", "kind: network-reorder\n  percent: 25\n  latency: 10ms\n  gap: 0"), "fault.gap: 0 is not a whole number from 1 to 4294967295"),
            (("kind: pause", "kind: network-rate"), "fault.rate: required for network-rate: the rate the container may send at, e.g. 1mbit"),
            (("kind: pause", "kind: network-rate\n  rate: 10mb"), "fault.rate: \"10mb\" is not a rate; write e.g. 512kbit, 10mbit, 1gbit (or 1mbps in bytes)"),
        ];
        for ((from, to), want) in cases {
            let text = BASE.replacen(from, to, 1);
            assert_ne!(text, BASE, "{from:?} not in BASE");
            assert_eq!(error(&text), want, "{from:?} -> {to:?}");
        }
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let text = BASE
            .replace("name: web-latency", "name: -bad")
            .replace("every: 1m", "cron: '* * * *'")
            .replace("kind: pause", "kind: explode");
        let ExperimentError::Invalid { errors, .. } = parse(&text).unwrap_err() else {
            panic!("expected Invalid");
        };
        let paths: Vec<&str> = errors.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(paths, ["name", "schedule.cron", "fault.kind"]);
        let shown = parse(&text).unwrap_err().to_string();
        assert!(
            shown.starts_with("exp.yaml: 3 problems:\n  name: "),
            "{shown}"
        );
    }

    #[test]
    fn examples_in_the_repository_are_valid() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/experiments");
        let mut kinds = std::collections::BTreeSet::new();
        let mut schedules = std::collections::BTreeSet::new();
        let mut json = 0;
        let mut probes = std::collections::BTreeSet::new();
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap();
            let e = Experiment::from_yaml_or_json(&text, &path.display().to_string())
                .unwrap_or_else(|e| panic!("{e}"));
            assert!(
                e.description.is_some(),
                "{}: explain it in description",
                path.display()
            );
            json += usize::from(path.extension().is_some_and(|x| x == "json"));
            kinds.extend(e.faults.iter().map(Fault::kind));
            for p in e.steady_state.iter().flat_map(|s| &s.probes) {
                probes.insert(p.check.kind());
            }
            schedules.insert(match e.schedule {
                Schedule::At(_) => "at",
                Schedule::Every(_) => "every",
                Schedule::Cron(_) => "cron",
                Schedule::Monkey(_) => "monkey",
            });
        }
        assert_eq!(
            kinds.len(),
            FAULT_KINDS.len(),
            "one example per fault kind: {kinds:?}"
        );
        assert_eq!(
            schedules.len(),
            4,
            "one example per schedule kind: {schedules:?}"
        );
        assert!(json >= 1, "at least one JSON example");
        assert_eq!(
            probes.len(),
            crate::probe::PROBE_KINDS.len(),
            "one example per probe kind: {probes:?}"
        );
    }
}
