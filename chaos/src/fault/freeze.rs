//! pause: freezing every process of the container's cgroup — cgroup.freeze
//! on v2, freezer.state on v1 — and thawing it. jolt thaws only what it
//! froze: a cgroup that is already frozen (paused by someone else) is
//! refused at prepare.

use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};
use std::thread::sleep;
use std::time::{Duration, Instant};

use super::cpu::write_file;
use super::{gone, mismatch, refused, FaultError, Keys, Kind, Reverted, Undo};
use crate::experiment::human;
use crate::target::Target;
use jolt_runtime::cgroups::placement::{Controller, Located, View};

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
const SETTLE: Duration = Duration::from_secs(5);
/// The first wait between polls; it doubles up to [`POLL`]. A cgroup of a
/// few processes freezes within a millisecond, and a fixed 10 ms poll made
/// pause's injection latency.
const FIRST_POLL: Duration = Duration::from_micros(100);
const POLL: Duration = Duration::from_millis(10);

/// The freezer file of the cgroup at `located`.
pub(super) fn file(located: Located) -> PathBuf {
    match located {
        Located::V2(dir) => dir.join("cgroup.freeze"),
        Located::V1(dir) => dir.join("freezer.state"),
    }
}

/// Which freezer a file belongs to, from its name.
fn is_v2(path: &Path) -> bool {
    path.file_name().is_some_and(|n| n == "cgroup.freeze")
}

/// Whether the cgroup is frozen now (v2: cgroup.events says `frozen 1`;
/// v1: freezer.state is FROZEN) and whether a freeze was asked for at all
/// (v2: cgroup.freeze is 1; v1: the state is FREEZING or FROZEN).
pub(super) fn state(path: &Path) -> std::io::Result<(bool, bool)> {
    if is_v2(path) {
        let asked = fs::read_to_string(path)?.trim() == "1";
        let events = fs::read_to_string(path.with_file_name("cgroup.events"))?;
        let frozen = events.lines().any(|l| l.trim() == "frozen 1");
        Ok((frozen, asked || frozen))
    } else {
        let text = fs::read_to_string(path)?;
        let s = text.trim();
        Ok((s == "FROZEN", s != "THAWED"))
    }
}

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

/// Writes the freeze or thaw and waits until the kernel reports it done.
pub(super) fn set(path: &Path, freeze: bool) -> Result<(), (String, Option<std::io::Error>)> {
    let value = match (is_v2(path), freeze) {
        (true, true) => "1",
        (true, false) => "0",
        (false, true) => "FROZEN",
        (false, false) => "THAWED",
    };
    let start = Instant::now();
    let mut wait = FIRST_POLL;
    loop {
        // v1 moves from FREEZING to FROZEN only when asked again, as runc
        // does; writing the same value twice is harmless on v2.
        write_file(path, value)
            .map_err(|e| (format!("writing {value} to {}", path.display()), Some(e)))?;
        let (frozen, asked) =
            state(path).map_err(|e| (format!("reading {}", path.display()), Some(e)))?;
        if (freeze && frozen) || (!freeze && !asked) {
            return Ok(());
        }
        if start.elapsed() > SETTLE {
            let still = if freeze { "freezing" } else { "frozen" };
            return Err((still.to_string(), None));
        }
        sleep(wait);
        wait = (wait * 2).min(POLL);
    }
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
