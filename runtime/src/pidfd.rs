//! pidfd: process file descriptors, the one place jolt, joltd and the
//! chaos faults open and signal them.
//!
//! A pidfd names one process for as long as it is held: a signal through
//! it never reaches a later process that reused the pid, and it reads as
//! ready once the process has exited (for any process, not only a child),
//! which is how joltd watches its monitors and how hooks and stressors
//! are waited for. Linux 5.3 and later; callers that must run on older
//! kernels (hooks) fall back on ENOSYS.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// pidfd_open(2) of `pid`: close-on-exec, owned by the caller.
pub fn open(pid: i32) -> io::Result<OwnedFd> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new file
    // descriptor or -1; it touches no memory of ours.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    let fd = RawFd::try_from(fd).map_err(|_| io::Error::from_raw_os_error(libc::EBADF))?;
    // SAFETY: the kernel just returned this descriptor and nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// pidfd_send_signal(2): `signal` to the process `fd` names.
pub fn send_signal(fd: &OwnedFd, signal: i32) -> io::Result<()> {
    // SAFETY: a valid pidfd, a signal number, no siginfo, no flags.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            fd.as_raw_fd(),
            signal,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Sends `signal` to `pid` if `check` holds once a pidfd pins the process,
/// so that a pid that exits and is reused after the check is not hit;
/// kill(2), after the check, where pidfds are missing (before 5.3) or
/// forbidden (EPERM from a seccomp filter).
/// Ok(false) when the process is gone or `check` says no.
pub fn signal_if(pid: i32, signal: i32, check: impl FnOnce() -> bool) -> io::Result<bool> {
    let fd = match open(pid) {
        Ok(fd) => Some(fd),
        // No pidfds: a kernel before 5.3, or a seccomp filter that
        // forbids pidfd_open (as hooks find it too).
        Err(e) if matches!(e.raw_os_error(), Some(libc::ENOSYS | libc::EPERM)) => None,
        Err(e) if e.raw_os_error() == Some(libc::ESRCH) => return Ok(false),
        Err(e) => return Err(e),
    };
    if !check() {
        return Ok(false);
    }
    let sent = match fd {
        Some(fd) => send_signal(&fd, signal),
        // SAFETY: kill(2) with a pid and a signal number.
        None => match unsafe { libc::kill(pid, signal) } {
            0 => Ok(()),
            _ => Err(io::Error::last_os_error()),
        },
    };
    match sent {
        Ok(()) => Ok(true),
        Err(e) if e.raw_os_error() == Some(libc::ESRCH) => Ok(false),
        Err(e) => Err(e),
    }
}

/// The start time of `pid` (clock ticks after boot, /proc/PID/stat field
/// 22) while it is alive (not a zombie), else None. With the pid, it
/// tells a process from a later one that reused its pid.
pub fn start_time(pid: i32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_start_time(&stat)
}

/// Field 22 of a /proc/PID/stat line, unless its state is Z or X.
fn parse_start_time(stat: &str) -> Option<u64> {
    // The command name is in parentheses and may hold spaces and ')':
    // fields are counted after the last ')'. Field 3 (the state) is the
    // first after it, 22 the twentieth.
    let mut fields = stat[stat.rfind(')')? + 1..].split_whitespace();
    let state = fields.next()?;
    if state == "Z" || state == "X" {
        return None;
    }
    fields.nth(18)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_times_survive_odd_command_names_and_zombies_have_none() {
        let stat = "42 (a) b) c) S 1 42 42 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 10";
        assert_eq!(parse_start_time(stat), Some(987654));
        assert_eq!(parse_start_time(&stat.replace(") S ", ") Z ")), None);
        assert_eq!(parse_start_time("42 (x) S 1"), None);
        let me = std::process::id() as i32;
        assert!(start_time(me).unwrap() > 0);
    }

    #[test]
    fn a_pidfd_signals_its_process_and_reads_ready_once_it_exits() {
        let mut child = std::process::Command::new("sleep")
            .arg("100")
            .spawn()
            .unwrap();
        let fd = open(child.id() as i32).unwrap();
        send_signal(&fd, libc::SIGKILL).unwrap();
        let mut pfd = libc::pollfd {
            fd: fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        let n = unsafe { libc::poll(&mut pfd, 1, 5000) };
        assert_eq!(n, 1, "ready once the child exited");
        child.wait().unwrap();
        assert!(open(-1).is_err());
    }

    #[test]
    fn signal_if_signals_only_when_the_check_holds_and_not_the_dead() {
        let mut child = std::process::Command::new("sleep")
            .arg("100")
            .spawn()
            .unwrap();
        let pid = child.id() as i32;
        assert!(!signal_if(pid, libc::SIGKILL, || false).unwrap());
        assert!(
            child.try_wait().unwrap().is_none(),
            "a refused check sends nothing"
        );
        assert!(signal_if(pid, libc::SIGKILL, || true).unwrap());
        child.wait().unwrap();
        assert!(!signal_if(pid, 0, || true).unwrap(), "reaped: gone");
    }
}
