//! members: the processes of a cgroup, for any cgroup on the host (jolt's
//! own for `jolt ps`, `kill --all` and `delete`; another runtime's for the
//! chaos kill fault): every pid in it and in the cgroups below it, and a
//! signal to each of them.
//!
//! Signalling every process: SIGKILL, where the cgroup has cgroup.kill
//! (v2, Linux 5.14+), is one write and the kernel kills the whole subtree,
//! processes forked meanwhile included. Otherwise the cgroup is frozen
//! first when it is not already (as runc does), so that no process forks
//! an unsignalled child, or exits and has its pid reused, between the
//! listing and the signals. Each pid is pinned by a pidfd and checked to
//! be in the cgroup still before it is signalled (kill(2) on kernels
//! without pidfds, before 5.3), and the listing is read again, up to three
//! rounds, until it holds no pid not yet signalled, in case the freeze did
//! not hold. The cgroup is thawed after if it was thawed before, or if the
//! signal is SIGKILL: a frozen v1 process never acts on it. A cgroup that
//! was frozen already stays frozen, and its processes take the signal when
//! it is thawed.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::freezer::{self, SetError};
use super::placement::{self, Membership, Mount};
use crate::pidfd;

/// Why the processes of a cgroup could not be listed or signalled.
#[derive(Debug, thiserror::Error)]
pub enum MembersError {
    /// A cgroup or /proc file, or a signal, failed: what was being done.
    #[error("{what}: {}", crate::os_text(source))]
    Io {
        what: String,
        #[source]
        source: io::Error,
    },
    /// A freeze or thaw the kernel did not finish within the settle time.
    #[error("{}: still {state} after {settle:?}", freezer.display())]
    Stuck {
        freezer: PathBuf,
        state: &'static str,
        settle: Duration,
    },
}

fn io_error(what: impl Into<String>) -> impl FnOnce(io::Error) -> MembersError {
    let what = what.into();
    move |source| MembersError::Io { what, source }
}

/// Whether an error from a cgroup or /proc file means the object is gone:
/// not there (ENOENT), a cgroup removed while open (ENODEV, as systemd
/// removes a scope once its last process has exited), a process that has
/// exited (ESRCH).
pub fn gone(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::NotFound
        || matches!(e.raw_os_error(), Some(libc::ENODEV) | Some(libc::ESRCH))
}

/// Every pid in `dir`'s cgroup.procs and in those of the cgroups below it,
/// sorted. A cgroup removed while it is read has no processes; a threaded
/// v2 cgroup lists none (its threads' processes are in the domain above,
/// read already).
pub fn pids(dir: &Path) -> Result<Vec<i32>, MembersError> {
    let mut pids = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let procs = dir.join("cgroup.procs");
        let text = match fs::read_to_string(&procs) {
            Ok(text) => text,
            Err(e) if gone(&e) => continue,
            Err(e) if e.raw_os_error() == Some(libc::EOPNOTSUPP) => String::new(),
            Err(e) => return Err(io_error(format!("reading {}", procs.display()))(e)),
        };
        for line in text.lines() {
            let pid = line.trim().parse().map_err(|_| MembersError::Io {
                what: format!("reading {}", procs.display()),
                source: io::Error::new(io::ErrorKind::InvalidData, format!("not a pid: {line:?}")),
            })?;
            pids.push(pid);
        }
        let entries = match fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if gone(&e) => continue,
            Err(e) => return Err(io_error(format!("listing {}", dir.display()))(e)),
        };
        for entry in entries.flatten() {
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                stack.push(entry.path());
            }
        }
    }
    pids.sort_unstable();
    pids.dedup();
    Ok(pids)
}

/// Sends `signal` to every process in the cgroup at `dir` and below (see
/// the module's documentation), freezing it through `freezer` (its freezer
/// file, if it has one) and waiting at most `settle` for each freeze or
/// thaw. Every process that can be signalled is; the first failure is
/// returned. A cgroup that disappears meanwhile has no processes left.
pub fn signal_all(
    dir: &Path,
    freezer: Option<&Path>,
    signal: libc::c_int,
    settle: Duration,
) -> Result<(), MembersError> {
    let kill_file = dir.join("cgroup.kill");
    if signal == libc::SIGKILL && kill_file.exists() {
        return match write_once(&kill_file, "1") {
            Err(e) if !gone(&e) => {
                Err(io_error(format!("writing 1 to {}", kill_file.display()))(e))
            }
            _ => Ok(()),
        };
    }
    let hierarchy = Hierarchy::holding(dir)?;
    let Some(freezer) = freezer else {
        return signal_rounds(dir, signal, &hierarchy);
    };
    let asked = match freezer::state(freezer) {
        Ok((_, asked)) => asked,
        Err(e) if gone(&e) => return Ok(()),
        Err(e) => return Err(io_error(format!("reading {}", freezer.display()))(e)),
    };
    if !asked {
        match freezer::set(freezer, true, settle) {
            Ok(()) => {}
            // Still freezing (a process in uninterruptible sleep): the
            // rounds below catch what forks meanwhile.
            Err(SetError::Stuck(state)) => {
                tracing::warn!(
                    "{}: still {state} after {settle:?}; signalling anyway",
                    freezer.display()
                );
            }
            Err(SetError::Io { source, .. }) if gone(&source) => return Ok(()),
            // The processes get their signals unfrozen, and the thaw
            // below undoes whatever part of the freeze was written.
            Err(e) => tracing::warn!(
                "{}; signalling without a freeze",
                set_error(freezer, e, settle)
            ),
        }
    }
    let signalled = signal_rounds(dir, signal, &hierarchy);
    if asked && signal != libc::SIGKILL {
        return signalled;
    }
    let thawed = match freezer::set(freezer, false, settle) {
        Err(SetError::Io { source, .. }) if gone(&source) => Ok(()),
        other => other.map_err(|e| set_error(freezer, e, settle)),
    };
    signalled.and(thawed)
}

fn set_error(freezer: &Path, e: SetError, settle: Duration) -> MembersError {
    match e {
        SetError::Io { what, source } => MembersError::Io { what, source },
        SetError::Stuck(state) => MembersError::Stuck {
            freezer: freezer.to_path_buf(),
            state,
            settle,
        },
    }
}

/// Signals every pid listed under `dir`, reading the listing again until a
/// round finds none not yet signalled (three rounds at most).
fn signal_rounds(
    dir: &Path,
    signal: libc::c_int,
    hierarchy: &Hierarchy,
) -> Result<(), MembersError> {
    let mut signalled = Vec::new();
    let mut first_error = None;
    for _ in 0..3 {
        let new: Vec<i32> = pids(dir)?
            .into_iter()
            .filter(|p| !signalled.contains(p))
            .collect();
        if new.is_empty() {
            break;
        }
        for pid in new {
            if let Err(e) = pidfd::signal_if(pid, signal, || hierarchy.holds(pid, dir)) {
                first_error.get_or_insert_with(|| {
                    let name = crate::signal::name(signal);
                    io_error(format!("sending {name} to pid {pid}"))(e)
                });
            }
            signalled.push(pid);
        }
    }
    first_error.map_or(Ok(()), Err)
}

/// One write to a cgroup file (no create, no truncate).
fn write_once(path: &Path, value: &str) -> io::Result<()> {
    fs::OpenOptions::new()
        .write(true)
        .open(path)?
        .write_all(value.as_bytes())
}

/// The cgroup hierarchy a directory is in, to tell whether a process is
/// still in that directory's cgroup.
struct Hierarchy(Mount);

impl Hierarchy {
    fn holding(dir: &Path) -> Result<Hierarchy, MembersError> {
        let text = fs::read_to_string("/proc/self/mountinfo")
            .map_err(io_error("reading /proc/self/mountinfo"))?;
        placement::mount_holding(&placement::parse_mountinfo(&text), dir)
            .cloned()
            .map(Hierarchy)
            .ok_or_else(|| MembersError::Io {
                what: dir.display().to_string(),
                source: io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "not in a mounted cgroup hierarchy",
                ),
            })
    }

    /// Whether `pid` is in the cgroup at `dir` or below, now.
    fn holds(&self, pid: i32, dir: &Path) -> bool {
        fs::read_to_string(format!("/proc/{pid}/cgroup"))
            .ok()
            .and_then(|text| Membership::parse(&text).dir_in(&self.0))
            .is_some_and(|d| d.starts_with(dir))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pids_are_read_from_every_cgroup_below_sorted_and_once() {
        let root = tempfile::tempdir().unwrap();
        let child = root.path().join("a/b");
        fs::create_dir_all(&child).unwrap();
        fs::write(root.path().join("cgroup.procs"), "30\n4\n").unwrap();
        fs::write(root.path().join("a/cgroup.procs"), "").unwrap();
        fs::write(child.join("cgroup.procs"), "4\n17\n").unwrap();
        assert_eq!(pids(root.path()).unwrap(), vec![4, 17, 30]);
    }

    #[test]
    fn a_cgroup_that_is_gone_has_no_pids_and_junk_is_an_error() {
        let root = tempfile::tempdir().unwrap();
        assert_eq!(
            pids(&root.path().join("removed")).unwrap(),
            Vec::<i32>::new()
        );
        fs::write(root.path().join("cgroup.procs"), "12\nnot-a-pid\n").unwrap();
        let err = pids(root.path()).unwrap_err().to_string();
        assert!(
            err.contains("cgroup.procs") && err.contains("not a pid"),
            "{err}"
        );
    }

    #[test]
    fn gone_means_enoent_enodev_or_esrch() {
        for errno in [libc::ENOENT, libc::ENODEV, libc::ESRCH] {
            assert!(gone(&io::Error::from_raw_os_error(errno)), "{errno}");
        }
        assert!(!gone(&io::Error::from_raw_os_error(libc::EACCES)));
    }

    #[test]
    fn a_directory_outside_every_cgroup_mount_is_refused_before_any_signal() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("cgroup.procs"), "1\n").unwrap();
        let err = signal_all(dir.path(), None, libc::SIGTERM, Duration::from_millis(10))
            .unwrap_err()
            .to_string();
        assert!(err.contains("not in a mounted cgroup hierarchy"), "{err}");
    }
}
