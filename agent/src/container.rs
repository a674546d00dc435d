//! container: what a container is to joltd, as data.
//!
//! Owns the request to run one ([`RunRequest`]) and its validation, the
//! parsing of names, labels, env entries, memory sizes, CPU counts, port
//! mappings (the network module's) and restart policies, and the record
//! joltd keeps per container ([`Record`]: what was asked for, its status,
//! and where its logs are). It does no I/O: the store writes records, the
//! daemon changes them.

use std::collections::BTreeMap;
use std::fmt;
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::volume::Mount;

pub use crate::network::PortMapping;

/// A request that is not valid: the field it names, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct Invalid {
    pub field: String,
    pub reason: String,
}

fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Invalid {
    Invalid {
        field: field.into(),
        reason: reason.into(),
    }
}

/// What `chaosctl run` asks joltd for, as it travels in the request body.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RunRequest {
    /// Unique among joltd's containers; the ID when absent.
    pub name: Option<String>,
    pub labels: BTreeMap<String, String>,
    /// A bundle directory on the node (absolute); the embedded busybox
    /// bundle when neither this nor `image` is given.
    pub bundle: Option<PathBuf>,
    /// An image in joltd's store: a name or a prefix of its ID.
    pub image: Option<String>,
    /// Replaces process.args when not empty.
    pub command: Vec<String>,
    /// `KEY=VALUE` entries added to (or replacing those in) process.env.
    pub env: Vec<String>,
    /// `[IP:]HOSTPORT:CTRPORT[/tcp|/udp]`.
    pub ports: Vec<String>,
    /// Memory limit in bytes.
    pub memory: Option<u64>,
    /// CPU limit in CPUs (0.5 is half of one).
    pub cpus: Option<f64>,
    /// `no`, `on-failure[:MAX]` or `always`; `no` when absent.
    pub restart: Option<String>,
    /// Run on the shared rootfs, read-only, without a writable layer.
    pub read_only: bool,
    /// `PATH[:OPTIONS]`: a tmpfs of its own at PATH.
    pub tmpfs: Vec<String>,
    /// `HOST:CTR[:ro|rw]`: a path of the node bound in.
    pub volumes: Vec<String>,
}

/// A [`RunRequest`] that passed validation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Spec {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub bundle: Option<PathBuf>,
    pub command: Vec<String>,
    pub env: Vec<String>,
    /// Published ports (records written before networking have none).
    #[serde(default)]
    pub ports: Vec<PortMapping>,
    pub memory: Option<u64>,
    pub cpus: Option<f64>,
    pub restart: RestartPolicy,
    /// No writable layer: the rootfs is shared and read-only (records
    /// written before layers existed read as read-only, as they ran).
    #[serde(default = "read_only_before_layers")]
    pub read_only: bool,
    /// Its tmpfs and volumes, in the order given.
    #[serde(default)]
    pub mounts: Vec<Mount>,
    /// The image it runs, as the daemon found it (not set by validation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<ImageUse>,
}

/// The image a container runs: its ID, and the name it was asked for by.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageUse {
    pub id: String,
    pub reference: String,
}

fn read_only_before_layers() -> bool {
    true
}

/// The smallest memory limit accepted: below it the container's own
/// start-up is OOM-killed.
pub const MIN_MEMORY: u64 = 4 << 20;

impl RunRequest {
    /// Checks every field; `id` names the container when the request does
    /// not. Nothing on the node is looked at (the daemon checks the bundle).
    pub fn validate(&self, id: &str) -> Result<Spec, Invalid> {
        let name = match &self.name {
            Some(n) => {
                validate_name(n).map_err(|r| invalid("name", r))?;
                n.clone()
            }
            None => id.to_string(),
        };
        for (k, v) in &self.labels {
            validate_label(k, v).map_err(|r| invalid(format!("labels.{k}"), r))?;
        }
        if self.bundle.is_some() && self.image.is_some() {
            return Err(invalid("image", "give an image or a bundle, not both"));
        }
        if self.image.as_deref() == Some("") {
            return Err(invalid("image", "must not be empty"));
        }
        if let Some(b) = &self.bundle {
            if !b.is_absolute() {
                return Err(invalid(
                    "bundle",
                    format!("{}: must be an absolute path", b.display()),
                ));
            }
        }
        for (i, arg) in self.command.iter().enumerate() {
            if arg.contains('\0') {
                return Err(invalid(format!("command[{i}]"), "contains a NUL byte"));
            }
        }
        if self.command.first().is_some_and(String::is_empty) {
            return Err(invalid("command[0]", "the program must not be empty"));
        }
        for (i, e) in self.env.iter().enumerate() {
            parse_env(e).map_err(|r| invalid(format!("env[{i}]"), r))?;
        }
        let mut mounts = Vec::new();
        for (i, t) in self.tmpfs.iter().enumerate() {
            mounts.push(Mount::tmpfs(t).map_err(|r| invalid(format!("tmpfs[{i}]"), r))?);
        }
        for (i, v) in self.volumes.iter().enumerate() {
            mounts.push(Mount::bind(v).map_err(|r| invalid(format!("volumes[{i}]"), r))?);
        }
        let mut ports: Vec<PortMapping> = Vec::new();
        for (i, p) in self.ports.iter().enumerate() {
            let port = PortMapping::from_str(p).map_err(|r| invalid(format!("ports[{i}]"), r))?;
            if let Some(other) = ports.iter().find(|o| o.clashes_with(&port)) {
                return Err(invalid(
                    format!("ports[{i}]"),
                    format!("{port} and {other} claim the same host port"),
                ));
            }
            ports.push(port);
        }
        if let Some(m) = self.memory {
            if m < MIN_MEMORY {
                return Err(invalid(
                    "memory",
                    format!("{m} bytes is below the minimum of {MIN_MEMORY} (4 MiB)"),
                ));
            }
        }
        if let Some(c) = self.cpus {
            validate_cpus(c).map_err(|r| invalid("cpus", r))?;
        }
        let restart = match &self.restart {
            Some(p) => p.parse().map_err(|r| invalid("restart", r))?,
            None => RestartPolicy::No,
        };
        Ok(Spec {
            name,
            labels: self.labels.clone(),
            bundle: self.bundle.clone(),
            command: self.command.clone(),
            env: self.env.clone(),
            ports,
            memory: self.memory,
            cpus: self.cpus,
            restart,
            read_only: self.read_only,
            mounts,
            image: None,
        })
    }
}

/// A name: a letter or digit, then letters, digits, `_`, `.` or `-`; at
/// most 64 characters.
pub fn validate_name(name: &str) -> Result<(), String> {
    if !jolt_runtime::names::name(name, 64) {
        return Err(format!(
            "{name:?} is not a valid name (a letter or digit, then letters, digits, '_', '.' or '-'; at most 64)"
        ));
    }
    Ok(())
}

fn validate_label(key: &str, value: &str) -> Result<(), String> {
    let ok_key = key
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-' | '/'));
    if key.is_empty() || key.len() > 128 || !ok_key {
        return Err(format!(
            "{key:?} is not a valid label key (letters, digits, '_', '.', '-', '/'; at most 128)"
        ));
    }
    if value.len() > 1024 || value.contains(['\n', '\0']) {
        return Err("the value must be one line of at most 1024 bytes".into());
    }
    Ok(())
}

/// Parses `KEY=VALUE` labels (repeated `--label`), refusing a repeated key.
pub fn parse_labels<S: AsRef<str>>(items: &[S]) -> Result<BTreeMap<String, String>, String> {
    let mut labels = BTreeMap::new();
    for item in items {
        let item = item.as_ref();
        let Some((k, v)) = item.split_once('=') else {
            return Err(format!("label {item:?}: expected KEY=VALUE"));
        };
        validate_label(k, v).map_err(|r| format!("label {item:?}: {r}"))?;
        if labels.insert(k.to_string(), v.to_string()).is_some() {
            return Err(format!("label {k:?}: given twice"));
        }
    }
    Ok(labels)
}

/// Splits `KEY=VALUE` (an env entry) into its key and value.
pub fn parse_env(entry: &str) -> Result<(&str, &str), String> {
    match entry.split_once('=') {
        Some((k, v)) if !k.is_empty() && !k.contains('\0') && !v.contains('\0') => Ok((k, v)),
        _ => Err(format!(
            "{entry:?}: expected KEY=VALUE with a non-empty KEY"
        )),
    }
}

/// Parses a memory size: bytes, or a number with a binary unit `k`, `m`,
/// `g` (optionally followed by `b`, any case): `64m` is 64 MiB.
pub fn parse_memory(text: &str) -> Result<u64, String> {
    let lower = text.trim().to_ascii_lowercase();
    let s = lower.strip_suffix('b').unwrap_or(&lower);
    let (digits, shift) = match s.chars().last() {
        Some('k') => (&s[..s.len() - 1], 10),
        Some('m') => (&s[..s.len() - 1], 20),
        Some('g') => (&s[..s.len() - 1], 30),
        _ => (s, 0),
    };
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("{text:?} is not a size (e.g. 64m, 1g, 1048576)"))?;
    n.checked_mul(1 << shift)
        .ok_or_else(|| format!("{text:?} is too large"))
}

fn validate_cpus(cpus: f64) -> Result<(), String> {
    if !(cpus.is_finite() && (0.01..=1024.0).contains(&cpus)) {
        return Err(format!("{cpus} is not a CPU count between 0.01 and 1024"));
    }
    Ok(())
}

/// The CFS quota for `cpus` CPUs over [`CPU_PERIOD`] microseconds.
pub fn cpu_quota(cpus: f64) -> i64 {
    (cpus * CPU_PERIOD as f64).round() as i64
}

/// The CFS period joltd uses, in microseconds.
pub const CPU_PERIOD: u64 = 100_000;

/// When joltd starts a container again after it exited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RestartPolicy {
    No,
    /// After a non-zero exit; at most `max` restarts when given.
    OnFailure {
        max: Option<u32>,
    },
    Always,
}

impl FromStr for RestartPolicy {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "no" => Ok(RestartPolicy::No),
            "always" => Ok(RestartPolicy::Always),
            "on-failure" => Ok(RestartPolicy::OnFailure { max: None }),
            _ => match s.strip_prefix("on-failure:") {
                Some(n) => match n.parse::<u32>() {
                    Ok(max) if max > 0 => Ok(RestartPolicy::OnFailure { max: Some(max) }),
                    _ => Err(format!(
                        "{s:?}: the maximum must be a whole number above 0 (on-failure:3)"
                    )),
                },
                None => Err(format!(
                    "{s:?} is not a restart policy (no, on-failure[:MAX], always)"
                )),
            },
        }
    }
}

impl fmt::Display for RestartPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RestartPolicy::No => f.write_str("no"),
            RestartPolicy::Always => f.write_str("always"),
            RestartPolicy::OnFailure { max: None } => f.write_str("on-failure"),
            RestartPolicy::OnFailure { max: Some(n) } => write!(f, "on-failure:{n}"),
        }
    }
}

impl Serialize for RestartPolicy {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for RestartPolicy {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// How a container's init ended, as its monitor saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Exit {
    /// The exit code, or 128+N when signal N killed it.
    pub code: i32,
    /// The signal that killed it, if one did.
    pub signal: Option<i32>,
    /// RFC 3339, UTC.
    pub at: String,
}

impl Exit {
    pub fn failed(&self) -> bool {
        self.code != 0
    }
}

/// Where a container is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// Its monitor is being started (a run request in flight).
    Creating,
    Running,
    /// Exited; waiting out the back-off before its restart policy starts it.
    Restarting,
    /// Exited, and staying so (policy, or stopped on request).
    Exited,
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            State::Creating => "creating",
            State::Running => "running",
            State::Restarting => "restarting",
            State::Exited => "exited",
        })
    }
}

/// What joltd keeps about one container, in memory and on disk.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// The container's ID: 12 hex digits, also its ID for `jolt`.
    pub id: String,
    pub spec: Spec,
    /// RFC 3339, UTC.
    pub created: String,
    pub status: Status,
    /// Where its log files are, when not in its directory in the state
    /// (joltd's `--log-dir` when it ran first).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_dir: Option<PathBuf>,
}

/// A container as the API shows it: its record, and the faults of chaos
/// experiments that hold it now (never stored with the record).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Listed {
    #[serde(flatten)]
    pub record: Record,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub faults: Vec<Faulted>,
}

/// A fault of an experiment that a container is under.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Faulted {
    pub experiment: String,
    /// The fault and its parameters, one line.
    pub fault: String,
    /// When it is due to be reverted (RFC 3339).
    pub until: String,
    /// Why reverting it fails, while that is retried: it is still in the
    /// kernel past its time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revert_error: Option<String>,
}

impl Faulted {
    /// One line: `pause by web-pause`, `, revert failing` when it is stuck.
    pub fn summary(&self) -> String {
        let stuck = if self.revert_error.is_some() {
            ", revert failing"
        } else {
            ""
        };
        let kind = self.fault.split_whitespace().next().unwrap_or("fault");
        format!("{kind} by {}{stuck}", self.experiment)
    }
}

/// The part of a [`Record`] that changes while the container lives.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Status {
    pub state: State,
    /// The init's pid on the node while running.
    pub pid: Option<i32>,
    /// When the current (or last) run started; RFC 3339, UTC.
    pub started: Option<String>,
    /// How many times the restart policy started it again.
    pub restart_count: u32,
    /// Restarts in a row that followed a short run (the back-off step).
    pub backoff_step: u32,
    pub last_exit: Option<Exit>,
    /// Stopped on request: the restart policy no longer applies.
    pub stop_requested: bool,
    /// The container's address on joltd's network, from the first run on
    /// (restarts and re-adoption keep it).
    #[serde(default)]
    pub address: Option<Ipv4Addr>,
    /// Lines of its output lost because writing the log failed (a full
    /// disk), in all its runs; each loss is also marked in the log.
    #[serde(default)]
    pub log_dropped_lines: u64,
}

impl Status {
    pub fn new() -> Status {
        Status {
            state: State::Creating,
            pid: None,
            started: None,
            restart_count: 0,
            backoff_step: 0,
            last_exit: None,
            stop_requested: false,
            address: None,
            log_dropped_lines: 0,
        }
    }
}

impl Default for Status {
    fn default() -> Self {
        Status::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restart_policies_parse_and_print_back() {
        for s in ["no", "always", "on-failure", "on-failure:3"] {
            assert_eq!(s.parse::<RestartPolicy>().unwrap().to_string(), s);
        }
        assert_eq!(
            "on-failure:5".parse::<RestartPolicy>(),
            Ok(RestartPolicy::OnFailure { max: Some(5) })
        );
        for bad in [
            "",
            "yes",
            "on-failure:",
            "on-failure:0",
            "on-failure:-1",
            "always:2",
        ] {
            assert!(bad.parse::<RestartPolicy>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn labels_parse_and_refuse_repeats_and_bad_keys() {
        let l = parse_labels(&["app=web", "tier=", "a.b/c=x=y"]).unwrap();
        assert_eq!(l["app"], "web");
        assert_eq!(l["tier"], "");
        assert_eq!(l["a.b/c"], "x=y");
        assert!(parse_labels(&["novalue"])
            .unwrap_err()
            .contains("KEY=VALUE"));
        assert!(parse_labels(&["=x"]).is_err());
        assert!(parse_labels(&["a b=x"]).is_err());
        assert!(parse_labels(&["a=1", "a=2"]).unwrap_err().contains("twice"));
    }

    #[test]
    fn memory_sizes() {
        assert_eq!(parse_memory("1048576"), Ok(1 << 20));
        assert_eq!(parse_memory("64m"), Ok(64 << 20));
        assert_eq!(parse_memory("64MB"), Ok(64 << 20));
        assert_eq!(parse_memory("2g"), Ok(2 << 30));
        assert_eq!(parse_memory("512k"), Ok(512 << 10));
        for bad in ["", "m", "-1", "1.5g", "lots", "99999999999999g"] {
            assert!(parse_memory(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn requests_are_validated_field_by_field() {
        let ok = RunRequest {
            name: Some("web-1".into()),
            memory: Some(64 << 20),
            cpus: Some(0.5),
            restart: Some("on-failure:2".into()),
            env: vec!["A=1".into()],
            ..Default::default()
        };
        let spec = ok.validate("0123456789ab").unwrap();
        assert_eq!(spec.restart, RestartPolicy::OnFailure { max: Some(2) });
        assert_eq!(RunRequest::default().validate("abc").unwrap().name, "abc");

        let field = |r: RunRequest| r.validate("id").unwrap_err().field;
        let with = |edit: fn(&mut RunRequest)| {
            let mut r = ok.clone();
            edit(&mut r);
            r
        };
        assert_eq!(field(with(|r| r.name = Some("-x".into()))), "name");
        assert_eq!(field(with(|r| r.name = Some("a/b".into()))), "name");
        assert_eq!(field(with(|r| r.bundle = Some("rel".into()))), "bundle");
        assert_eq!(
            field(with(|r| r.env = vec!["A=1".into(), "=2".into()])),
            "env[1]"
        );
        assert_eq!(field(with(|r| r.memory = Some(1))), "memory");
        assert_eq!(field(with(|r| r.cpus = Some(0.0))), "cpus");
        assert_eq!(field(with(|r| r.cpus = Some(f64::NAN))), "cpus");
        assert_eq!(
            field(with(|r| r.restart = Some("sometimes".into()))),
            "restart"
        );
        assert_eq!(
            field(with(|r| r.command = vec![String::new()])),
            "command[0]"
        );
        assert_eq!(
            field(with(|r| r.ports = vec!["99999:1".into()])),
            "ports[0]"
        );
        assert_eq!(
            field(with(|r| r.ports = vec!["8080:80".into(), "8080:81".into()])),
            "ports[1]"
        );
        let spec = with(|r| r.ports = vec!["8080:80".into(), "127.0.0.1:53:53/udp".into()])
            .validate("id")
            .unwrap();
        assert_eq!(spec.ports[0], PortMapping::tcp(8080, 80));
        assert_eq!(spec.ports[1].to_string(), "127.0.0.1:53:53/udp");
        let mut labels = BTreeMap::new();
        labels.insert("bad key".to_string(), "v".to_string());
        let r = RunRequest {
            labels,
            ..Default::default()
        };
        assert_eq!(field(r), "labels.bad key");
    }

    #[test]
    fn cpu_quota_is_per_period() {
        assert_eq!(cpu_quota(0.5), 50_000);
        assert_eq!(cpu_quota(2.0), 200_000);
    }

    #[test]
    fn records_round_trip_through_json() {
        let spec = RunRequest::default().validate("0123456789ab").unwrap();
        let r = Record {
            id: "0123456789ab".into(),
            spec,
            created: "2026-12-01T00:00:00Z".into(),
            status: Status::new(),
            log_dir: None,
        };
        let text = serde_json::to_string(&r).unwrap();
        assert!(text.contains("\"restart\":\"no\""), "{text}");
        assert_eq!(serde_json::from_str::<Record>(&text).unwrap(), r);
    }
}
