//! memory-stress: one process that maps and touches `size` bytes (or a
//! percentage of the container's memory limit) inside the target's memory
//! cgroup and holds them for the fault's duration; revert kills it and the
//! memory is freed. By default the stressor asks the OOM killer to pick it
//! first (oom_score_adj 1000), so a limit that is reached ends the
//! stressor rather than the service; `oom: any` leaves the choice to the
//! kernel, as a real leak in the container would.

use std::fmt;
use std::fs;
use std::path::Path;
use std::time::Duration;

use super::{spawn, undo, Spawn, Work};
use crate::experiment::human;
use crate::fault::{mismatch, refused, FaultError, Keys, Kind, Undo};
use crate::target::Target;
use jolt_runtime::cgroups::placement::{Controller, Located};

/// Whom the OOM killer should pick when the stressor pushes the container
/// over its limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Oom {
    /// The stressor first (oom_score_adj 1000).
    Stressor,
    /// Whomever the kernel picks.
    Any,
}

/// How much memory, as given.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Amount {
    Bytes(u64),
    /// Percent of the container's memory limit.
    OfLimit(f64),
}

/// memory-stress's parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct MemoryStress {
    pub amount: Amount,
    pub oom: Oom,
    pub duration: Duration,
}

/// A limit value that means none: "max" (v2) or v1's page-rounded
/// LONG_MAX.
fn limit_of(text: &str) -> Option<u64> {
    match text.trim() {
        "max" => None,
        n => n.parse::<u64>().ok().filter(|v| *v < 1 << 62),
    }
}

fn read_limit(located: &Located) -> Result<Option<u64>, String> {
    let path = match located {
        Located::V2(dir) => dir.join("memory.max"),
        Located::V1(dir) => dir.join("memory.limit_in_bytes"),
    };
    let text = fs::read_to_string(&path).map_err(|e| format!("reading {}: {e}", path.display()))?;
    Ok(limit_of(&text))
}

/// A size for people, in the largest unit that divides it: `16mb`.
fn shown_bytes(b: u64) -> String {
    match b {
        b if b % (1 << 30) == 0 => format!("{}gb", b >> 30),
        b if b % (1 << 20) == 0 => format!("{}mb", b >> 20),
        b if b % (1 << 10) == 0 => format!("{}kb", b >> 10),
        b => b.to_string(),
    }
}

/// The hierarchy a memory cgroup directory is in: the unified one when it
/// has cgroup.controllers.
fn located(dir: &Path) -> Located {
    match dir.join("cgroup.controllers").exists() {
        true => Located::V2(dir.to_path_buf()),
        false => Located::V1(dir.to_path_buf()),
    }
}

impl MemoryStress {
    fn to_line(&self) -> String {
        crate::Fault::MemoryStress(self.clone()).to_string()
    }

    /// The bytes to hold in the cgroup at `located`.
    fn bytes(&self, located: &Located) -> Result<u64, String> {
        match self.amount {
            Amount::Bytes(b) => Ok(b),
            Amount::OfLimit(p) => match read_limit(located)? {
                Some(limit) => Ok((limit as f64 * p / 100.0) as u64),
                None => {
                    Err("it has no memory limit to take a percentage of; give size instead".into())
                }
            },
        }
    }
}

impl Kind for MemoryStress {
    const NAME: &'static str = "memory-stress";
    const KEYS: &'static [&'static str] = &["size", "percent", "oom", "duration"];
    const HOLDS: Option<&'static str> = Some("the cgroup's memory stressor");

    fn parse(keys: &mut Keys) -> Option<Self> {
        let amount = match (keys.has("size"), keys.has("percent")) {
            (true, false) => match keys.bytes("size") {
                Some(0) => {
                    keys.problem("size", "0 bytes would hold nothing");
                    None
                }
                other => other.map(Amount::Bytes),
            },
            (false, true) => match keys.percent("percent") {
                Some(0.0) => {
                    keys.problem("percent", "0 would hold nothing; give 1-100");
                    None
                }
                other => other.map(Amount::OfLimit),
            },
            (true, true) => {
                keys.problem("percent", "give size or percent, not both");
                None
            }
            (false, false) => {
                keys.missing(
                    "size",
                    "how much memory to hold, e.g. 256mb (or percent of the container's limit)",
                );
                None
            }
        };
        let ooms = [("stressor", Oom::Stressor), ("any", Oom::Any)];
        let oom = keys.choice("oom", &ooms, Oom::Stressor);
        let duration = keys.lasting("the memory is held");
        Some(MemoryStress {
            amount: amount?,
            oom: oom?,
            duration: duration?,
        })
    }

    fn duration(&self) -> Option<Duration> {
        Some(self.duration)
    }

    fn describe(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.amount {
            Amount::Bytes(b) => write!(f, "memory-stress size={}", shown_bytes(b))?,
            Amount::OfLimit(p) => write!(f, "memory-stress percent={p}%")?,
        }
        if self.oom == Oom::Any {
            write!(f, " oom=any")?;
        }
        write!(f, " for {}", human(self.duration))
    }

    fn prepare(&self, target: &Target) -> Result<Undo, FaultError> {
        let refuse = |why| refused::<Self>(target, why);
        let undo = undo(target, Controller::Memory, &self.to_line()).map_err(refuse)?;
        if let Undo::Stressors { cgroup, .. } = &undo {
            self.bytes(&located(cgroup)).map_err(refuse)?;
        }
        Ok(undo)
    }

    fn apply(&self, target: &Target, undo: &Undo) -> Result<(), FaultError> {
        let Undo::Stressors { cgroup, marker } = undo else {
            return Err(mismatch::<Self>(target, undo));
        };
        let bytes = self
            .bytes(&located(cgroup))
            .map_err(|why| refused::<Self>(target, why))?;
        spawn(&Spawn {
            marker,
            procs: &[cgroup.join("cgroup.procs")],
            work: Work::Memory { bytes },
            duration: self.duration,
            oom_first: self.oom == Oom::Stressor,
        })
        .map(|_| ())
        .map_err(|source| FaultError::Kernel {
            context: format!(
                "container {}: memory-stress: starting the stressor",
                target.name
            ),
            source,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_shown_in_the_largest_unit_that_divides_them() {
        assert_eq!(shown_bytes(16 << 20), "16mb");
        assert_eq!(shown_bytes(2 << 30), "2gb");
        assert_eq!(shown_bytes(1536), "1536");
        assert_eq!(shown_bytes(3 << 10), "3kb");
    }

    #[test]
    fn no_limit_reads_as_none() {
        assert_eq!(limit_of("max\n"), None);
        assert_eq!(limit_of("9223372036854771712\n"), None);
        assert_eq!(limit_of("268435456\n"), Some(268435456));
    }
}
