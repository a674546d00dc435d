//! freezer: freezing and thawing a cgroup by its freezer file, the one
//! place jolt's cgroupfs driver (pause, resume, signalling every process)
//! and the chaos faults (pause, kill of every process, for any container
//! found from /proc/PID/cgroup) do it.
//!
//! v2: `cgroup.freeze` is this cgroup's request, `cgroup.events`' `frozen
//! 1` the effect; v1: `freezer.state` (THAWED, FREEZING, FROZEN), which
//! moves from FREEZING to FROZEN only when FROZEN is written again, as
//! runc does. A freeze or thaw is written, then polled (from 100 µs,
//! doubling up to 10 ms: a cgroup of a few processes freezes within a
//! millisecond) until the kernel reports it done or `settle` has passed.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::thread::sleep;
use std::time::{Duration, Instant};

use super::placement::Located;

/// The first wait between polls; it doubles up to [`POLL`].
const FIRST_POLL: Duration = Duration::from_micros(100);
const POLL: Duration = Duration::from_millis(10);

/// The freezer file of the cgroup at `located`.
pub fn file(located: Located) -> PathBuf {
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
pub fn state(path: &Path) -> io::Result<(bool, bool)> {
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

/// Why a freeze or thaw did not complete.
#[derive(Debug, thiserror::Error)]
pub enum SetError {
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: io::Error,
    },
    /// Still `freezing` (or still `frozen`) after the settle time.
    #[error("still {0}")]
    Stuck(&'static str),
}

/// Writes the freeze or thaw to `path` and waits, at most `settle`, until
/// the kernel reports it done.
pub fn set(path: &Path, freeze: bool, settle: Duration) -> Result<(), SetError> {
    let value = match (is_v2(path), freeze) {
        (true, true) => "1",
        (true, false) => "0",
        (false, true) => "FROZEN",
        (false, false) => "THAWED",
    };
    let start = Instant::now();
    let mut wait = FIRST_POLL;
    loop {
        // v1 moves from FREEZING to FROZEN only when asked again; writing
        // the same value twice is harmless on v2.
        fs::OpenOptions::new()
            .write(true)
            .truncate(true)
            .open(path)
            .and_then(|mut f| f.write_all(value.as_bytes()))
            .map_err(|source| SetError::Io {
                what: format!("writing {value} to {}", path.display()),
                source,
            })?;
        let (frozen, asked) = state(path).map_err(|source| SetError::Io {
            what: format!("reading {}", path.display()),
            source,
        })?;
        // A v2 thaw is this cgroup's request withdrawn: a frozen parent
        // keeps it frozen, and is not ours to thaw.
        let thawed = match is_v2(path) {
            true => {
                fs::read_to_string(path)
                    .map_err(|source| SetError::Io {
                        what: format!("reading {}", path.display()),
                        source,
                    })?
                    .trim()
                    == "0"
            }
            false => !asked,
        };
        if (freeze && frozen) || (!freeze && thawed) {
            return Ok(());
        }
        if start.elapsed() > settle {
            return Err(SetError::Stuck(if freeze { "freezing" } else { "frozen" }));
        }
        sleep(wait);
        wait = (wait * 2).min(POLL);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_freezer_file_names_its_version_and_state_reads_both() {
        let dir = tempfile::tempdir().unwrap();
        let v2 = file(Located::V2(dir.path().to_path_buf()));
        assert!(v2.ends_with("cgroup.freeze") && is_v2(&v2));
        fs::write(&v2, "1\n").unwrap();
        fs::write(dir.path().join("cgroup.events"), "populated 1\nfrozen 0\n").unwrap();
        assert_eq!(state(&v2).unwrap(), (false, true), "asked, not yet frozen");
        let v1 = file(Located::V1(dir.path().to_path_buf()));
        fs::write(&v1, "FREEZING\n").unwrap();
        assert_eq!(state(&v1).unwrap(), (false, true));
        fs::write(&v1, "THAWED\n").unwrap();
        assert_eq!(state(&v1).unwrap(), (false, false));
    }
}
