//! probe: an experiment's steady-state hypothesis as the file states it
//! (probes of four kinds, when they are judged, what a breach does), and
//! the [`Tally`] that turns one probe's results into steady or breached
//! under its tolerance. Running a probe is the agent's (it owns the
//! network and `jolt exec`); judging the experiment is `verdict`'s.

use std::collections::VecDeque;
use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The shortest interval between two runs of one probe.
pub const MIN_INTERVAL: Duration = Duration::from_millis(100);
/// A probe's interval and timeout when the file gives none.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(1);
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1);
/// The longest a probe may wait for one result.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(60);
/// The most consecutive failures, or results in a window, a tolerance
/// counts.
pub const MAX_TOLERANCE: u32 = 10_000;
/// A percentage tolerance's window when the file gives none.
pub const DEFAULT_WINDOW: u32 = 10;
/// The most probes one experiment may run.
pub const MAX_PROBES: usize = 64;

/// The hypothesis: probes that say the system is healthy, and when they
/// must say so.
#[derive(Debug, Clone, PartialEq)]
pub struct SteadyState {
    pub probes: Vec<Probe>,
    /// How long every probe must be steady before the first fault; the
    /// experiment does not start otherwise. None: no gate.
    pub before: Option<Duration>,
    /// Whether a breach while the experiment runs fails it (default
    /// true). With false, only recovery is judged.
    pub during: bool,
    /// After each fault ends (a revert, or a kill) and at the end, every
    /// probe must be steady again within this.
    pub recover_within: Option<Duration>,
    pub on_breach: OnBreach,
}

/// What a breach does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OnBreach {
    /// Stop firing and revert every active fault at once (the default).
    #[default]
    Abort,
    /// Record it and go on; the verdict is `failed`.
    Continue,
}

impl OnBreach {
    pub fn name(self) -> &'static str {
        match self {
            OnBreach::Abort => "abort",
            OnBreach::Continue => "continue",
        }
    }
}

/// One probe: a check run every `interval`.
#[derive(Debug, Clone, PartialEq)]
pub struct Probe {
    /// Unique in the experiment; same rules as an experiment's name.
    pub name: String,
    pub check: Check,
    pub interval: Duration,
    /// The longest one run may take; a run that takes longer fails.
    pub timeout: Duration,
    pub tolerance: Tolerance,
}

/// What a probe checks.
#[derive(Debug, Clone, PartialEq)]
pub enum Check {
    Http(Http),
    Tcp(Endpoint),
    Exec(Exec),
    Prometheus(Prometheus),
}

/// Every probe kind, as written in the file.
pub const PROBE_KINDS: [&str; 4] = ["http", "tcp", "exec", "prometheus"];

impl Check {
    pub fn kind(&self) -> &'static str {
        match self {
            Check::Http(_) => "http",
            Check::Tcp(_) => "tcp",
            Check::Exec(_) => "exec",
            Check::Prometheus(_) => "prometheus",
        }
    }
}

/// A host and port: `127.0.0.1:8080`, `[::1]:80`, `web.local:80`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// An IP address (without brackets) or a host name.
    pub host: String,
    pub port: u16,
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.host.contains(':') {
            true => write!(f, "[{}]:{}", self.host, self.port),
            false => write!(f, "{}:{}", self.host, self.port),
        }
    }
}

/// A plain-HTTP URL, split as a client needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Url {
    /// As written.
    pub text: String,
    pub endpoint: Endpoint,
    /// `/path?query`, `/` at least.
    pub path: String,
}

/// An HTTP request and what its answer must be.
#[derive(Debug, Clone, PartialEq)]
pub struct Http {
    pub url: Url,
    /// Upper case: GET (default), HEAD, POST, ...
    pub method: String,
    /// The status codes that pass (default 2xx).
    pub status: Vec<Status>,
    /// A substring the body must hold.
    pub body: Option<String>,
    /// A slower answer fails.
    pub max_latency: Option<Duration>,
}

/// An expected status code: one code, or a class like `2xx`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Code(u16),
    /// The hundreds digit: 2 for 2xx.
    Class(u16),
}

impl Status {
    pub fn matches(self, code: u16) -> bool {
        match self {
            Status::Code(c) => c == code,
            Status::Class(h) => code / 100 == h,
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Status::Code(c) => write!(f, "{c}"),
            Status::Class(h) => write!(f, "{h}xx"),
        }
    }
}

/// A command run inside a container with `jolt exec`.
#[derive(Debug, Clone, PartialEq)]
pub struct Exec {
    /// The container; None: every running container the experiment's
    /// targets select, each of which must pass.
    pub container: Option<String>,
    pub command: Vec<String>,
    pub exit_code: i32,
    /// A substring its standard output must hold.
    pub output: Option<String>,
}

/// A PromQL query whose one value must stay within bounds.
#[derive(Debug, Clone, PartialEq)]
pub struct Prometheus {
    /// The query endpoint, e.g. `http://127.0.0.1:9090/api/v1/query`.
    pub url: Url,
    pub query: String,
    pub min: Option<f64>,
    pub max: Option<f64>,
}

/// How many failures still count as steady.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Tolerance {
    /// Up to this many failures in a row; one more is a breach.
    Consecutive(u32),
    /// Up to this percentage (0 to under 100) of the last `window`
    /// results failing; more is a breach. Results not yet run count as
    /// passes, so a window fills from steady.
    Percent { percent: f64, window: u32 },
}

impl fmt::Display for Tolerance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Tolerance::Consecutive(n) => write!(f, "{n} consecutive failures"),
            Tolerance::Percent { percent, window } => {
                write!(f, "{percent}% of the last {window} results failing")
            }
        }
    }
}

/// One line: the probe's kind and what it checks.
impl fmt::Display for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Check::Http(h) => {
                write!(f, "http {} {}", h.method, h.url.text)?;
                if let Some(m) = h.max_latency {
                    write!(f, " within {}", crate::experiment::human(m))?;
                }
                Ok(())
            }
            Check::Tcp(e) => write!(f, "tcp {e}"),
            Check::Exec(e) => {
                let place = e.container.as_deref().unwrap_or("each target");
                write!(f, "exec in {place}: {}", e.command.join(" "))
            }
            Check::Prometheus(p) => {
                write!(f, "prometheus {}", p.query)?;
                if let Some(min) = p.min {
                    write!(f, " >= {min}")?;
                }
                if let Some(max) = p.max {
                    write!(f, " <= {max}")?;
                }
                Ok(())
            }
        }
    }
}

/// Whether a probe is steady or breached, and where that changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// Its tolerance is exceeded.
    Breached,
    /// Back within its tolerance.
    Steady,
}

/// One probe's results under its tolerance.
#[derive(Debug, Clone)]
pub struct Tally {
    tolerance: Tolerance,
    /// Failures in a row.
    run: u32,
    /// The last results of a percentage tolerance (true: failed).
    window: VecDeque<bool>,
    breached: bool,
    results: u64,
    failures: u64,
    /// The last result passed.
    last_ok: bool,
}

impl Tally {
    pub fn new(tolerance: Tolerance) -> Tally {
        Tally {
            tolerance,
            run: 0,
            window: VecDeque::new(),
            breached: false,
            results: 0,
            failures: 0,
            last_ok: false,
        }
    }

    /// Counts one result; the change it made, if any.
    pub fn record(&mut self, ok: bool) -> Option<Change> {
        self.results += 1;
        self.last_ok = ok;
        if !ok {
            self.failures += 1;
        }
        self.run = if ok { 0 } else { self.run.saturating_add(1) };
        let breached = match self.tolerance {
            Tolerance::Consecutive(n) => self.run > n,
            Tolerance::Percent { percent, window } => {
                self.window.push_back(!ok);
                while self.window.len() > window as usize {
                    self.window.pop_front();
                }
                let failed = self.window.iter().filter(|f| **f).count();
                failed as f64 * 100.0 > percent * f64::from(window)
            }
        };
        let change = match (self.breached, breached) {
            (false, true) => Some(Change::Breached),
            (true, false) => Some(Change::Steady),
            _ => None,
        };
        self.breached = breached;
        change
    }

    pub fn breached(&self) -> bool {
        self.breached
    }

    /// Results so far, and of those failures.
    pub fn results(&self) -> u64 {
        self.results
    }

    pub fn failures(&self) -> u64 {
        self.failures
    }

    /// Where the results stand against the tolerance, in words.
    pub fn describe(&self) -> String {
        match self.tolerance {
            Tolerance::Consecutive(n) => {
                format!("{} failures in a row (it tolerates {n})", self.run)
            }
            Tolerance::Percent { percent, window } => {
                let failed = self.window.iter().filter(|f| **f).count();
                format!("{failed} of the last {window} runs failed (it tolerates {percent}%)")
            }
        }
    }

    /// The last result passed and the tolerance holds.
    pub fn healthy(&self) -> bool {
        self.last_ok && !self.breached
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn changes(t: Tolerance, results: &str) -> String {
        let mut tally = Tally::new(t);
        results
            .chars()
            .map(|c| match tally.record(c == '.') {
                Some(Change::Breached) => 'B',
                Some(Change::Steady) => 'S',
                None => '-',
            })
            .collect()
    }

    #[test]
    fn consecutive_failures_up_to_the_tolerance_are_steady() {
        // '.' passes, 'x' fails.
        assert_eq!(changes(Tolerance::Consecutive(0), "..x.x"), "--BSB");
        assert_eq!(changes(Tolerance::Consecutive(1), "x.x.xx.x"), "-----BS-");
        assert_eq!(changes(Tolerance::Consecutive(2), "xxxxx."), "--B--S");
    }

    #[test]
    fn a_percentage_counts_the_last_window_from_steady() {
        let t = Tolerance::Percent {
            percent: 20.0,
            window: 10,
        };
        // Two failures in ten are 20%: steady; a third is a breach, and it
        // stays breached until the window holds two again.
        assert_eq!(changes(t, "xx........"), "----------");
        assert_eq!(changes(t, "xxx"), "--B");
        assert_eq!(changes(t, "xxx........"), "--B-------S");
        let zero = Tolerance::Percent {
            percent: 0.0,
            window: 5,
        };
        assert_eq!(changes(zero, ".x....."), "-B----S");
    }

    #[test]
    fn healthy_needs_a_pass_within_tolerance() {
        let mut t = Tally::new(Tolerance::Consecutive(1));
        assert!(!t.healthy(), "no result yet");
        t.record(false);
        assert!(!t.healthy() && !t.breached());
        t.record(true);
        assert!(t.healthy());
        assert_eq!((t.results(), t.failures()), (2, 1));
    }
}
