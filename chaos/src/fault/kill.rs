//! kill: a signal to the container's init, or to every process in its
//! cgroup. Nothing to undo.
//!
//! Signals go through a pidfd (pidfd_open, then pidfd_send_signal): once
//! the pidfd is open it names that process and no other, so a pid that
//! exits and is reused meanwhile is not hit. For scope `all`, each pid read
//! from cgroup.procs is checked, after its pidfd is open, to still be in
//! the container's cgroup. Kernels without pidfds (before 5.3) get kill(2).
//! SIGKILL to `all` on cgroup v2 writes cgroup.kill instead (5.14+): the
//! kernel kills the whole subtree, including processes forked meanwhile.
//! Otherwise `all` freezes the cgroup first, so that no process forks
//! between the reading of cgroup.procs and the signals, and thaws it after
//! (as runc does); a cgroup frozen already (paused) stays frozen, and its
//! processes take the signal when they are thawed, except SIGKILL: a frozen
//! v1 process never acts on it, so then the cgroup is thawed (as `jolt kill
//! --all` does).

use jolt_runtime::pidfd;
use std::fs;
use std::io;
use std::path::Path;

use std::fmt;
use std::time::Duration;

use serde_json::Value;

use super::{freeze, gone, mismatch, refused, FaultError, Keys, Kind, Undo};
use crate::target::Target;
use jolt_runtime::cgroups::placement::{self, Controller, Located, Membership, View};

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

const SIGNALS: [&str; 31] = [
    "HUP", "INT", "QUIT", "ILL", "TRAP", "ABRT", "BUS", "FPE", "KILL", "USR1", "SEGV", "USR2",
    "PIPE", "ALRM", "TERM", "STKFLT", "CHLD", "CONT", "STOP", "TSTP", "TTIN", "TTOU", "URG",
    "XCPU", "XFSZ", "VTALRM", "PROF", "WINCH", "IO", "PWR", "SYS",
];

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

    /// `SIGTERM`, `TERM`, `term` or `"15"`.
    pub(crate) fn parse_name(name: &str) -> Option<Signal> {
        if let Ok(n) = name.trim().parse() {
            return Signal::from_number(n);
        }
        let upper = name.to_ascii_uppercase();
        let bare = upper.strip_prefix("SIG").unwrap_or(&upper);
        SIGNALS
            .iter()
            .position(|s| *s == bare)
            .map(|i| Signal(i as i32 + 1))
    }
}

impl fmt::Display for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match SIGNALS.get((self.0 - 1) as usize) {
            Some(name) => write!(f, "SIG{name}"),
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
fn cgroup_dir(view: &View) -> Result<std::path::PathBuf, String> {
    match view
        .locate(Controller::Freezer)
        .map_err(|e| e.to_string())?
    {
        Located::V1(dir) | Located::V2(dir) => Ok(dir),
    }
}

/// Runs `signal_all` with the cgroup whose freezer file is `freezer`
/// frozen, and thaws it after if it was thawed before or `kill` is true. A
/// freeze that does not settle (a process stuck in the kernel) still gets
/// its signals, in the three rounds of `signal_all`.
fn frozen_while(
    freezer: &Path,
    container: &str,
    kill: bool,
    signal_all: impl FnOnce() -> Result<(), FaultError>,
) -> Result<(), FaultError> {
    let thawed = matches!(freeze::state(freezer), Ok((_, false)));
    if thawed {
        let _ = freeze::set(freezer, true);
    }
    let signalled = signal_all();
    if !thawed && !kill {
        return signalled;
    }
    let source = match freeze::set(freezer, false) {
        Ok(()) => return signalled,
        Err((_, Some(e))) if gone(&e) => return signalled,
        Err((_, Some(e))) => e,
        Err((state, None)) => io::Error::new(io::ErrorKind::TimedOut, format!("still {state}")),
    };
    signalled.and(Err(FaultError::Kernel {
        context: format!("container {container}: kill: thawing {}", freezer.display()),
        source,
    }))
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

/// Signals `pid` if `still_ours` holds once a pidfd pins it. Ok(false)
/// when the process is gone or no longer the container's.
fn signal_pid(pid: i32, signal: i32, still_ours: impl Fn() -> bool) -> io::Result<bool> {
    let result = match pidfd::open(pid) {
        Ok(fd) => {
            if !still_ours() {
                return Ok(false);
            }
            pidfd::send_signal(&fd, signal)
        }
        Err(e) if e.raw_os_error() == Some(libc::ENOSYS) => {
            if !still_ours() {
                return Ok(false);
            }
            // SAFETY: kill(2) with a pid and a signal number.
            match unsafe { libc::kill(pid, signal) } {
                0 => Ok(()),
                _ => Err(io::Error::last_os_error()),
            }
        }
        Err(e) => Err(e),
    };
    match result {
        Ok(()) => Ok(true),
        Err(e) if gone(&e) => Ok(false),
        Err(e) => Err(e),
    }
}

fn apply(signal: Signal, scope: KillScope, target: &Target) -> Result<(), FaultError> {
    let fail = |what: String| {
        move |source| FaultError::Kernel {
            context: format!("container {}: kill: {what}", target.name),
            source,
        }
    };
    match scope {
        KillScope::Init => {
            let sent = signal_pid(target.pid, signal.number(), || true)
                .map_err(fail(format!("sending {signal} to init pid {}", target.pid)))?;
            if !sent {
                return Err(FaultError::Refused {
                    container: target.name.clone(),
                    fault: "kill",
                    reason: format!("init pid {} is gone", target.pid),
                });
            }
            Ok(())
        }
        KillScope::All => {
            let refuse = |reason| FaultError::Refused {
                container: target.name.clone(),
                fault: "kill",
                reason,
            };
            let view = View::of(target.pid).map_err(|e| refuse(e.to_string()))?;
            let located = view
                .locate(Controller::Freezer)
                .map_err(|e| refuse(e.to_string()))?;
            let freezer = freeze::file(located.clone());
            let (Located::V1(dir) | Located::V2(dir)) = located;
            // cgroup v2 (5.14+) kills a whole subtree at once, forks and all.
            let cgroup_kill = dir.join("cgroup.kill");
            if signal == Signal::KILL && cgroup_kill.exists() {
                return super::cpu::write_file(&cgroup_kill, "1")
                    .map_err(fail(format!("writing 1 to {}", cgroup_kill.display())));
            }
            let in_cgroup = |pid: i32| {
                let Ok(text) = fs::read_to_string(format!("/proc/{pid}/cgroup")) else {
                    return false;
                };
                let theirs = View {
                    mounts: view.mounts.clone(),
                    membership: Membership::parse(&text),
                };
                cgroup_dir(&theirs).is_ok_and(|d| d.starts_with(&dir))
            };
            // Should the freeze not hold, a process may fork while we read
            // cgroup.procs: read again until a round finds no pid not yet
            // signalled.
            let signal_all = || {
                let mut signalled = Vec::new();
                for _ in 0..3 {
                    let pids = placement::pids_below(&dir)
                        .map_err(fail(format!("reading {}/cgroup.procs", dir.display())))?;
                    let new: Vec<i32> = pids
                        .into_iter()
                        .filter(|p| !signalled.contains(p))
                        .collect();
                    if new.is_empty() {
                        break;
                    }
                    for pid in new {
                        signal_pid(pid, signal.number(), || in_cgroup(pid))
                            .map_err(fail(format!("sending {signal} to pid {pid}")))?;
                        signalled.push(pid);
                    }
                }
                Ok(())
            };
            frozen_while(&freezer, &target.name, signal == Signal::KILL, signal_all)
        }
    }
}
