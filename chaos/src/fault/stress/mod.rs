//! stress: load made inside the target's cgroup by jolt's own processes
//! (no stress-ng, nothing in the container's image), so the container's
//! own limits apply to it and its neighbours feel it only through them.
//! cpu.rs burns CPU, memory.rs holds memory; this file owns the stressor
//! processes both use and their undo.
//!
//! A stressor is a fork of the injecting process (joltd) that execs
//! nothing: between fork and its exit it makes only system calls (it may
//! be forked from a multi-threaded process, where nothing else is safe).
//! It closes every inherited descriptor (joltd's sockets, journal, locks),
//! sets its name to the fault's marker (`jst-` and 8 hex digits, what
//! `ps` shows), optionally asks the OOM killer to pick it first, and waits
//! on a pipe until the parent has written its pid into the target's
//! cgroup.procs; only then does it start, so none of its load lands
//! outside. It ends by itself at the fault's end (plus a grace), should no
//! revert come.
//!
//! The undo names the cgroup directory and the marker, journaled before
//! any stressor exists: revert, and the replay after joltd was killed,
//! kill every process in that cgroup whose name is the marker (through a
//! pidfd, checked again once open), whoever forked it.

mod cpu;
mod memory;

use std::ffi::CString;
use std::fs;
use std::io;
use std::os::fd::AsRawFd;

use jolt_runtime::pidfd;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use super::{members_error, FaultError, Reverted, Undo};
use crate::target::Target;
use jolt_runtime::cgroups::members::{self, MembersError};
use jolt_runtime::cgroups::placement::{Controller, Located, View};

pub use cpu::CpuStress;
pub use memory::{Amount, MemoryStress, Oom};

/// How long a stressor outlives its fault's end when no revert comes.
const GRACE: Duration = Duration::from_secs(5);

/// How long a revert keeps killing stressors before it reports them stuck.
const REVERT_WAIT: Duration = Duration::from_secs(5);

/// Stressors this process forked and has not reaped yet.
static CHILDREN: Mutex<Vec<i32>> = Mutex::new(Vec::new());

/// The marker of a fault's stressors on a target: `jst-` and 8 hex digits
/// of a hash of the target and the fault's line, within the 15 bytes of a
/// process name. The same at staging and at the fire, so the journaled
/// undo need not change; two identical stress faults on one container at
/// once share it.
pub(super) fn marker(target: &Target, line: &str) -> String {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    (&target.id, target.pid, line).hash(&mut h);
    format!("jst-{:08x}", h.finish() as u32)
}

/// The undo of stressors for the fault `line` on `target`: its cgroup in
/// the hierarchy of `controller`, and the marker its stressors will bear.
pub(super) fn undo(target: &Target, controller: Controller, line: &str) -> Result<Undo, String> {
    let located = View::of(target.pid)
        .and_then(|view| view.locate(controller))
        .map_err(|e| e.to_string())?;
    let (Located::V1(dir) | Located::V2(dir)) = located;
    Ok(Undo::Stressors {
        cgroup: dir,
        marker: marker(target, line),
    })
}

/// What a stressor does once started, with only system calls.
pub(super) enum Work {
    /// Busy for `busy` of every `period`, asleep for the rest.
    Cpu { busy: Duration, period: Duration },
    /// Maps and touches `bytes` of anonymous memory, then holds it.
    Memory { bytes: u64 },
}

/// What one stressor is started with.
pub(super) struct Spawn<'a> {
    pub marker: &'a str,
    /// cgroup.procs files it is written into before it starts.
    pub procs: &'a [PathBuf],
    pub work: Work,
    /// How long it runs (it adds [`GRACE`]).
    pub duration: Duration,
    /// Asks the OOM killer to pick it first (oom_score_adj 1000).
    pub oom_first: bool,
}

fn timespec_after(d: Duration) -> libc::timespec {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime fills the timespec it is given.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut now) };
    let total = now.tv_nsec as u128 + d.subsec_nanos() as u128;
    libc::timespec {
        tv_sec: now
            .tv_sec
            .saturating_add(d.as_secs().min(i64::MAX as u64 / 2) as i64)
            .saturating_add((total / 1_000_000_000) as i64),
        tv_nsec: (total % 1_000_000_000) as i64,
    }
}

/// `t` plus `d`.
fn add(t: &libc::timespec, d: Duration) -> libc::timespec {
    let total = t.tv_nsec as u128 + d.subsec_nanos() as u128;
    libc::timespec {
        tv_sec: t.tv_sec + d.as_secs() as i64 + (total / 1_000_000_000) as i64,
        tv_nsec: (total % 1_000_000_000) as i64,
    }
}

/// The CPU time this process has used, in nanoseconds.
fn cpu_time() -> i128 {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime fills the timespec it is given.
    unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut t) };
    t.tv_sec as i128 * 1_000_000_000 + t.tv_nsec as i128
}

/// Nanoseconds from `a` to `b` (negative when b is earlier).
fn ns_between(a: &libc::timespec, b: &libc::timespec) -> i128 {
    (b.tv_sec as i128 - a.tv_sec as i128) * 1_000_000_000 + (b.tv_nsec as i128 - a.tv_nsec as i128)
}

/// Forks one stressor (see the module doc); its pid.
pub(super) fn spawn(s: &Spawn) -> io::Result<i32> {
    let name = CString::new(s.marker).map_err(io::Error::other)?;
    let devnull = CString::new("/dev/null").expect("no NUL");
    let oom = CString::new("/proc/self/oom_score_adj").expect("no NUL");
    // go: parent to child, "start"; ready: child to parent, "named".
    let (mut pipe, mut ready) = ([0i32; 2], [0i32; 2]);
    // SAFETY: pipe2 fills two descriptors.
    if unsafe { libc::pipe2(pipe.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: as above.
    if unsafe { libc::pipe2(ready.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        let e = io::Error::last_os_error();
        // SAFETY: closing the descriptors the first pipe2 made.
        unsafe {
            libc::close(pipe[0]);
            libc::close(pipe[1]);
        }
        return Err(e);
    }
    let deadline_in = s.duration.saturating_add(GRACE);
    // SAFETY: the child below makes only async-signal-safe system calls
    // and leaves with _exit; the parent goes on as usual.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        let e = io::Error::last_os_error();
        // SAFETY: closing the four descriptors pipe2 made.
        unsafe {
            for fd in [pipe[0], pipe[1], ready[0], ready[1]] {
                libc::close(fd);
            }
        }
        return Err(e);
    }
    if pid == 0 {
        // SAFETY: the child, in a copy of a possibly multi-threaded
        // process: system calls only, no allocation, no locks.
        unsafe {
            child(
                pipe[0],
                ready[1],
                &name,
                &devnull,
                s.oom_first.then_some(&oom),
                &s.work,
                deadline_in,
            )
        }
    }
    // SAFETY: the parent closes the child's ends, then waits for the
    // child to be named (a byte) or gone (end of file).
    let named = unsafe {
        libc::close(pipe[0]);
        libc::close(ready[1]);
        let mut byte = 0u8;
        let n = libc::read(ready[0], (&mut byte as *mut u8).cast(), 1);
        libc::close(ready[0]);
        n == 1
    };
    CHILDREN.lock().unwrap_or_else(|e| e.into_inner()).push(pid);
    let joined = match named {
        true => Ok(()),
        false => Err((
            PathBuf::from(format!("/proc/{pid}/comm")),
            io::Error::other("the stressor exited before it was named"),
        )),
    };
    let joined = joined.and_then(|()| {
        s.procs
            .iter()
            .try_for_each(|p| fs::write(p, pid.to_string()).map_err(|e| (p.clone(), e)))
    });
    let result = match joined {
        Ok(()) => {
            // SAFETY: one byte from a live buffer to the pipe's write end.
            let n = unsafe { libc::write(pipe[1], b"g".as_ptr().cast(), 1) };
            match n {
                1 => Ok(pid),
                _ => Err(io::Error::last_os_error()),
            }
        }
        Err((path, e)) => Err(io::Error::new(
            e.kind(),
            format!(
                "writing the stressor's pid {pid} to {}: {e}",
                path.display()
            ),
        )),
    };
    // SAFETY: closing the write end; without a "g" the child exits.
    unsafe { libc::close(pipe[1]) };
    if result.is_err() {
        // SAFETY: our own child, not yet reaped.
        unsafe { libc::kill(pid, libc::SIGKILL) };
        reap();
    }
    result
}

/// The stressor's life after fork. Never returns.
///
/// # Safety
/// Only in the child of fork: it closes descriptors and exits.
unsafe fn child(
    go: i32,
    ready: i32,
    name: &CString,
    devnull: &CString,
    oom: Option<&CString>,
    work: &Work,
    deadline_in: Duration,
) -> ! {
    // stdio to /dev/null, the go pipe at 3, the ready pipe at 4,
    // everything else closed.
    let null = libc::open(devnull.as_ptr(), libc::O_RDWR);
    for fd in 0..3 {
        if null >= 0 {
            libc::dup2(null, fd);
        }
    }
    let ready = libc::fcntl(ready, libc::F_DUPFD_CLOEXEC, 10);
    libc::dup2(go, 3);
    libc::dup2(ready, 4);
    libc::syscall(libc::SYS_close_range, 5u32, u32::MAX, 0u32);
    libc::prctl(libc::PR_SET_NAME, name.as_ptr() as libc::c_ulong, 0, 0, 0);
    if let Some(path) = oom {
        let fd = libc::open(path.as_ptr(), libc::O_WRONLY);
        if fd >= 0 {
            libc::write(fd, b"1000".as_ptr().cast(), 4);
            libc::close(fd);
        }
    }
    libc::write(4, b"r".as_ptr().cast(), 1);
    libc::close(4);
    let mut byte = 0u8;
    if libc::read(3, (&mut byte as *mut u8).cast(), 1) != 1 {
        libc::_exit(0);
    }
    libc::close(3);
    let deadline = timespec_after(deadline_in);
    match *work {
        // Busy until this process has used `busy` of CPU time (not of
        // wall time, which a contended CPU stretches), then asleep until
        // the next period starts: the load holds on a busy machine too.
        Work::Cpu { busy, period } => {
            let mut next = timespec_after(Duration::ZERO);
            loop {
                if ns_between(&next, &deadline) <= 0 {
                    libc::_exit(0);
                }
                let start = cpu_time();
                let end = add(&next, period);
                while cpu_time() - start < busy.as_nanos() as i128
                    && ns_between(&timespec_after(Duration::ZERO), &end) > 0
                {
                    std::hint::spin_loop();
                }
                next = end;
                libc::clock_nanosleep(
                    libc::CLOCK_MONOTONIC,
                    libc::TIMER_ABSTIME,
                    &next,
                    std::ptr::null_mut(),
                );
            }
        }
        Work::Memory { bytes } => {
            let len = bytes as usize;
            let p = libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            );
            if p == libc::MAP_FAILED {
                libc::_exit(1);
            }
            let base = p as *mut u8;
            let mut off = 0usize;
            while off < len {
                std::ptr::write_volatile(base.add(off), 1);
                off += 4096;
            }
            loop {
                let now = timespec_after(Duration::ZERO);
                let left = ns_between(&now, &deadline);
                if left <= 0 {
                    libc::_exit(0);
                }
                let ts = libc::timespec {
                    tv_sec: (left / 1_000_000_000).min(1) as i64,
                    tv_nsec: if left >= 1_000_000_000 {
                        0
                    } else {
                        left as i64
                    },
                };
                libc::nanosleep(&ts, std::ptr::null_mut());
            }
        }
    }
}

/// Reaps the stressors this process forked that have exited.
fn reap() {
    let mut children = CHILDREN.lock().unwrap_or_else(|e| e.into_inner());
    children.retain(|&pid| {
        let mut status = 0;
        // SAFETY: waitpid on a pid we forked, without blocking.
        let r = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        r == 0
    });
}

/// The pids in `dir` (and below) whose process name is `marker`; None
/// once the cgroup is gone.
fn marked(dir: &Path, marker: &str) -> Result<Option<Vec<i32>>, MembersError> {
    if !dir.exists() {
        return Ok(None);
    }
    Ok(Some(
        members::pids(dir)?
            .into_iter()
            .filter(|pid| {
                fs::read_to_string(format!("/proc/{pid}/comm"))
                    .is_ok_and(|c| c.trim_end() == marker)
            })
            .collect(),
    ))
}

/// Kills every stressor with `marker` in the cgroup at `dir`, waiting
/// until none is left (bounded).
pub(crate) fn revert(dir: &Path, marker: &str) -> Result<Reverted, FaultError> {
    let mut killed = false;
    let deadline = std::time::Instant::now() + REVERT_WAIT;
    while std::time::Instant::now() < deadline {
        let pids = match marked(dir, marker) {
            Ok(Some(pids)) => pids,
            Ok(None) => return Ok(Reverted::TargetGone),
            Err(e) => return Err(members_error("revert", e)),
        };
        if pids.is_empty() {
            reap();
            return Ok(if killed {
                Reverted::Done
            } else {
                Reverted::AlreadyClean
            });
        }
        let mut pidfds = Vec::new();
        for pid in pids {
            // The name is checked again through the pidfd's process: a pid
            // that exited and was reused meanwhile is not hit.
            let Ok(fd) = pidfd::open(pid) else {
                continue;
            };
            let still = fs::read_to_string(format!("/proc/{pid}/comm"))
                .is_ok_and(|c| c.trim_end() == marker);
            if still {
                let _ = pidfd::send_signal(&fd, libc::SIGKILL);
                killed = true;
                pidfds.push(fd);
            }
        }
        // A pidfd reads as ready once its process has exited.
        for fd in &pidfds {
            let mut pfd = libc::pollfd {
                fd: fd.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: poll on one pollfd we own, up to 100 ms.
            unsafe { libc::poll(&mut pfd, 1, 100) };
        }
        reap();
    }
    Err(FaultError::Timeout {
        context: format!("revert: stressors {marker} in {}", dir.display()),
        state: "running".into(),
        waited_ms: REVERT_WAIT.as_millis(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_marker_fits_a_process_name_and_is_stable() {
        let target = Target {
            id: "0f3a".into(),
            name: "web".into(),
            pid: 42,
            netns: None,
            interface: None,
        };
        let m = marker(&target, "cpu-stress workers=1 load=50% for 1m");
        assert!(m.starts_with("jst-") && m.len() == 12, "{m}");
        assert_eq!(m, marker(&target, "cpu-stress workers=1 load=50% for 1m"));
        assert_ne!(m, marker(&target, "cpu-stress workers=2 load=50% for 1m"));
    }

    #[test]
    fn deadlines_are_computed_without_overflow() {
        let a = timespec_after(Duration::ZERO);
        let b = timespec_after(Duration::from_millis(1500));
        let d = ns_between(&a, &b);
        assert!((1_500_000_000..1_600_000_000).contains(&d), "{d}");
        let far = timespec_after(Duration::MAX);
        assert!(far.tv_sec > 0);
    }
}
