//! pause: freezing every process of the container's cgroup — cgroup.freeze
//! on v2, freezer.state on v1 — and thawing it. jolt thaws only what it
//! froze: a cgroup that is already frozen (paused by someone else) is
//! refused at prepare.

use std::fmt;
use std::path::Path;
use std::time::Duration;

use super::{gone, mismatch, refused, FaultError, Keys, Kind, Reverted, Undo};
use crate::experiment::human;
use crate::target::Target;
use jolt_runtime::cgroups::placement::{Controller, View};

/// pause: every process of the container frozen.
#[derive(Debug, Clone, PartialEq)]
pub struct Pause {
    pub duration: Duration,
}

impl Kind for Pause {
    const NAME: &'static str = "pause";
    const KEYS: &'static [&'static str] = &["duration"];
    const HOLDS: Option<&'static str> = Some("the cgroup's freezer");

    fn parse(keys: &mut Keys) -> Option<Self> {
        let duration = keys.lasting("the container stays frozen")?;
        Some(Pause { duration })
    }

    fn duration(&self) -> Option<Duration> {
        Some(self.duration)
    }

    fn describe(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "pause for {}", human(self.duration))
    }

    fn prepare(&self, target: &Target) -> Result<Undo, FaultError> {
        prepare(target).map_err(|reason| refused::<Pause>(target, reason))
    }

    fn apply(&self, target: &Target, undo: &Undo) -> Result<(), FaultError> {
        match undo {
            Undo::Thaw { path } => apply(target, path),
            other => Err(mismatch::<Pause>(target, other)),
        }
    }
}

/// How long a freeze or thaw may take before it is reported as stuck.
pub(super) const SETTLE: Duration = Duration::from_secs(5);
pub(super) use jolt_runtime::cgroups::freezer::{file, state};

fn prepare(target: &Target) -> Result<Undo, String> {
    let path = file(
        View::of(target.pid)
            .and_then(|view| view.locate(Controller::Freezer))
            .map_err(|e| e.to_string())?,
    );
    match state(&path) {
        Ok((_, true)) => Err(format!(
            "already paused ({} shows a freeze jolt did not make; resume it first)",
            path.display()
        )),
        Ok((_, false)) => Ok(Undo::Thaw { path }),
        Err(e) => Err(format!("reading {}: {e}", path.display())),
    }
}

/// Writes the freeze or thaw and waits (at most [`SETTLE`]) until the
/// kernel reports it done: what failed and its I/O error, or the state
/// it is stuck in.
pub(super) fn set(path: &Path, freeze: bool) -> Result<(), (String, Option<std::io::Error>)> {
    use jolt_runtime::cgroups::freezer::{self, SetError};
    freezer::set(path, freeze, SETTLE).map_err(|e| match e {
        SetError::Io { what, source } => (what, Some(source)),
        SetError::Stuck(state) => (state.to_string(), None),
    })
}

fn apply(target: &Target, path: &Path) -> Result<(), FaultError> {
    let context = format!("container {}: pause: {}", target.name, path.display());
    match set(path, true) {
        Ok(()) => Ok(()),
        Err((what, Some(source))) => Err(FaultError::Kernel {
            context: format!("container {}: pause: {what}", target.name),
            source,
        }),
        Err((state, None)) => {
            // A half-frozen cgroup is worse than none: thaw what froze.
            let _ = set(path, false);
            Err(FaultError::Timeout {
                context,
                state,
                waited_ms: SETTLE.as_millis(),
            })
        }
    }
}

pub(super) fn revert(path: &Path) -> Result<Reverted, FaultError> {
    match state(path) {
        Err(e) if gone(&e) => return Ok(Reverted::TargetGone),
        Err(e) => {
            return Err(FaultError::Kernel {
                context: format!("revert: reading {}", path.display()),
                source: e,
            })
        }
        Ok((_, false)) => return Ok(Reverted::AlreadyClean),
        Ok(_) => {}
    }
    match set(path, false) {
        Ok(()) => Ok(Reverted::Done),
        Err((_, Some(e))) if gone(&e) => Ok(Reverted::TargetGone),
        Err((what, Some(source))) => Err(FaultError::Kernel {
            context: format!("revert: {what}"),
            source,
        }),
        Err((state, None)) => Err(FaultError::Timeout {
            context: format!("revert: thawing {}", path.display()),
            state,
            waited_ms: SETTLE.as_millis(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn v1_states_read_as_frozen_and_asked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("freezer.state");
        for (text, want) in [
            ("THAWED\n", (false, false)),
            ("FREEZING\n", (false, true)),
            ("FROZEN\n", (true, true)),
        ] {
            fs::write(&path, text).unwrap();
            assert_eq!(state(&path).unwrap(), want, "{text}");
        }
        fs::write(&path, "THAWED\n").unwrap();
        assert_eq!(revert(&path).unwrap(), Reverted::AlreadyClean);
    }

    #[test]
    fn v2_state_comes_from_cgroup_events() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cgroup.freeze");
        fs::write(&path, "1\n").unwrap();
        fs::write(dir.path().join("cgroup.events"), "populated 1\nfrozen 0\n").unwrap();
        assert_eq!(state(&path).unwrap(), (false, true));
        fs::write(dir.path().join("cgroup.events"), "populated 1\nfrozen 1\n").unwrap();
        assert_eq!(state(&path).unwrap(), (true, true));
        assert_eq!(
            revert(&dir.path().join("gone").join("cgroup.freeze")).unwrap(),
            Reverted::TargetGone
        );
    }
}
