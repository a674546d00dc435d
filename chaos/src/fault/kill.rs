//! kill: a signal to the container's init, or to every process in its
//! cgroup. Nothing to undo.
//!
//! The init is signalled through a pidfd, so a pid that exits and is
//! reused meanwhile is not hit. Scope `all` is
//! [`jolt_runtime::cgroups::members::signal_all`] on the container's
//! freezer cgroup, as `jolt kill --all` does: cgroup.kill for SIGKILL on
//! v2, else frozen while every pid is pinned, checked and signalled; a
//! cgroup paused already stays paused, except for SIGKILL.

use std::fmt;
use std::path::Path;
use std::time::Duration;

use jolt_runtime::cgroups::members;
use jolt_runtime::cgroups::placement::{Controller, Located, View};
use jolt_runtime::pidfd;
use serde_json::Value;

use super::{freeze, members_error, mismatch, refused, FaultError, Keys, Kind, Undo};
use crate::target::Target;

/// kill: a signal, to the init or to every process.
#[derive(Debug, Clone, PartialEq)]
pub struct Kill {
    pub signal: Signal,
    pub scope: KillScope,
}

/// Which processes a kill signals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KillScope {
    /// The container's init (pid 1 inside), as `jolt kill` does (default).
    #[default]
    Init,
    /// Every process in the container, as `jolt kill --all`.
    All,
}

/// A Linux signal number (1-64), written as a name (`SIGKILL`, `KILL`,
/// `kill`) or a number in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Signal(i32);

impl Signal {
    pub const KILL: Signal = Signal(9);

    /// The signal number, for kill(2).
    pub fn number(self) -> i32 {
        self.0
    }

    /// A signal number 1-64.
    pub(crate) fn from_number(n: i64) -> Option<Signal> {
        (1..=64).contains(&n).then_some(Signal(n as i32))
    }

    /// `SIGTERM`, `TERM`, `term` or `"15"`, as `jolt kill` reads them.
    pub(crate) fn parse_name(name: &str) -> Option<Signal> {
        let n = jolt_runtime::signal::parse(name.trim()).ok()?;
        Signal::from_number(n.into())
    }
}

impl fmt::Display for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match jolt_runtime::signal::standard_name(self.0) {
            Some(name) => f.write_str(name),
            None => write!(f, "{}", self.0),
        }
    }
}

impl Kind for Kill {
    const NAME: &'static str = "kill";
    const KEYS: &'static [&'static str] = &["signal", "scope"];
    const HOLDS: Option<&'static str> = None;

    fn parse(keys: &mut Keys) -> Option<Self> {
        let signal = match keys.value("signal") {
            None => Some(Signal::KILL),
            Some(Value::Number(n)) => n.as_i64().and_then(Signal::from_number),
            Some(Value::String(name)) => Signal::parse_name(name),
            Some(_) => None,
        };
        let signal = match signal {
            Some(s) => s,
            None => {
                let shown = super::params::shown(keys.value("signal").unwrap_or(&Value::Null));
                keys.problem(
                    "signal",
                    format!("unknown signal {shown} (use a name like SIGKILL, KILL, TERM or a number 1-64)"),
                );
                return None;
            }
        };
        let scopes = [("init", KillScope::Init), ("all", KillScope::All)];
        let scope = keys.choice("scope", &scopes, KillScope::Init)?;
        Some(Kill { signal, scope })
    }

    fn duration(&self) -> Option<Duration> {
        None
    }

    fn describe(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scope = match self.scope {
            KillScope::Init => "init",
            KillScope::All => "all",
        };
        write!(f, "kill signal={} scope={scope}", self.signal)
    }

    fn prepare(&self, target: &Target) -> Result<Undo, FaultError> {
        prepare(self.scope, target).map_err(|reason| refused::<Kill>(target, reason))
    }

    fn apply(&self, target: &Target, undo: &Undo) -> Result<(), FaultError> {
        match undo {
            Undo::Nothing => apply(self.signal, self.scope, target),
            other => Err(mismatch::<Kill>(target, other)),
        }
    }
}

/// The cgroup whose processes `all` signals: the container's freezer
/// cgroup, the set `jolt pause` freezes (see [`View::locate`]).
fn cgroup_dir(view: &View) -> Result<Located, String> {
    view.locate(Controller::Freezer).map_err(|e| e.to_string())
}

fn prepare(scope: KillScope, target: &Target) -> Result<Undo, String> {
    if !Path::new(&format!("/proc/{}", target.pid)).exists() {
        return Err(format!("init pid {} is gone", target.pid));
    }
    if scope == KillScope::All {
        cgroup_dir(&View::of(target.pid).map_err(|e| e.to_string())?)?;
    }
    Ok(Undo::Nothing)
}

fn apply(signal: Signal, scope: KillScope, target: &Target) -> Result<(), FaultError> {
    let refuse = |reason| FaultError::Refused {
        container: target.name.clone(),
        fault: "kill",
        reason,
    };
    let context = format!("container {}: kill", target.name);
    match scope {
        KillScope::Init => {
            let pid = target.pid;
            let sent = pidfd::signal_if(pid, signal.number(), || true).map_err(|source| {
                FaultError::Kernel {
                    context: format!("{context}: sending {signal} to init pid {pid}"),
                    source,
                }
            })?;
            if !sent {
                return Err(refuse(format!("init pid {pid} is gone")));
            }
            Ok(())
        }
        KillScope::All => {
            let located = View::of(target.pid)
                .map_err(|e| e.to_string())
                .and_then(|view| cgroup_dir(&view))
                .map_err(refuse)?;
            let freezer = freeze::file(located.clone());
            let (Located::V1(dir) | Located::V2(dir)) = located;
            members::signal_all(&dir, Some(&freezer), signal.number(), freeze::SETTLE)
                .map_err(|e| members_error(&context, e))
        }
    }
}
