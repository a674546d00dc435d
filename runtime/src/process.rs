//! process: what the container's init does to itself just before exec.
//!
//! Owns rlimits, oom_score_adj, the session keyring, the user and groups,
//! the five capability sets, no_new_privs, umask, the working directory,
//! finding the program in the container's PATH, and closing the runtime's
//! file descriptors. It runs inside the container, after pivot_root; it
//! does not touch mounts or namespaces.

use std::collections::HashSet;
use std::ffi::CString;
use std::fs;
use std::os::fd::RawFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use caps::{CapSet, Capability as Cap, CapsHashSet};

use crate::sys;
use nix::errno::Errno;
use nix::sys::resource::{setrlimit, Resource};
use nix::sys::stat::{umask, Mode};
use nix::unistd::{setgroups, setresgid, setresuid, Gid, Uid};
use oci_spec::runtime::{Capability, PosixRlimitType, Process};

#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    #[error(transparent)]
    Sys(#[from] crate::SysError),
    #[error("capabilities: {0}")]
    Caps(String),
    #[error("exec: {0:?}: executable file not found in $PATH")]
    NotFound(String),
    /// The program cannot be run, found before execve (runc's words).
    #[error("exec: {path:?}: {}", not_runnable(path, *source))]
    Exec { path: PathBuf, source: Errno },
    /// execve itself failed (a missing interpreter, say), in runc's words.
    #[error("exec {}: {}", path.display(), go_words(*source))]
    Execve { path: PathBuf, source: Errno },
    #[error("{0}")]
    Invalid(String),
}

/// An errno's text as Go (and so runc) prints it: "no such file or
/// directory".
fn go_words(e: Errno) -> String {
    let desc = e.desc();
    let mut chars = desc.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => desc.to_string(),
    }
}

/// Why `path` cannot be run, as runc says it: the failed stat when it is
/// missing, else the errno.
fn not_runnable(path: &Path, e: Errno) -> String {
    match e {
        Errno::ENOENT | Errno::ENOTDIR => format!("stat {}: {}", path.display(), go_words(e)),
        _ => go_words(e),
    }
}

fn resource(t: PosixRlimitType) -> Resource {
    use PosixRlimitType as T;
    match t {
        T::RlimitCpu => Resource::RLIMIT_CPU,
        T::RlimitFsize => Resource::RLIMIT_FSIZE,
        T::RlimitData => Resource::RLIMIT_DATA,
        T::RlimitStack => Resource::RLIMIT_STACK,
        T::RlimitCore => Resource::RLIMIT_CORE,
        T::RlimitRss => Resource::RLIMIT_RSS,
        T::RlimitNproc => Resource::RLIMIT_NPROC,
        T::RlimitNofile => Resource::RLIMIT_NOFILE,
        T::RlimitMemlock => Resource::RLIMIT_MEMLOCK,
        T::RlimitAs => Resource::RLIMIT_AS,
        T::RlimitLocks => Resource::RLIMIT_LOCKS,
        T::RlimitSigpending => Resource::RLIMIT_SIGPENDING,
        T::RlimitMsgqueue => Resource::RLIMIT_MSGQUEUE,
        T::RlimitNice => Resource::RLIMIT_NICE,
        T::RlimitRtprio => Resource::RLIMIT_RTPRIO,
        T::RlimitRttime => Resource::RLIMIT_RTTIME,
    }
}

pub fn set_rlimits(p: &Process) -> Result<(), ProcessError> {
    for r in p.rlimits().iter().flatten() {
        setrlimit(resource(r.typ()), r.soft(), r.hard())
            .map_err(sys(format!("process.rlimits {:?}", r.typ())))?;
    }
    Ok(())
}

pub fn set_oom_score_adj(p: &Process) -> Result<(), ProcessError> {
    if let Some(adj) = p.oom_score_adj() {
        fs::write("/proc/self/oom_score_adj", adj.to_string())
            .map_err(|e| ProcessError::Invalid(format!("process.oomScoreAdj {adj}: {e}")))?;
    }
    Ok(())
}

/// Gives the container a session keyring of its own, so it cannot read the
/// host's keys.
pub fn join_new_session_keyring() -> Result<(), ProcessError> {
    const KEYCTL_JOIN_SESSION_KEYRING: libc::c_long = 1;
    let name = c"_ses.jolt";
    // SAFETY: keyctl with a valid NUL-terminated name; no memory is shared.
    let r = unsafe { libc::syscall(libc::SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, name.as_ptr()) };
    match Errno::result(r) {
        // Keyrings may be disabled (ENOSYS) or the quota full: runc goes on.
        Ok(_) | Err(Errno::ENOSYS) | Err(Errno::EDQUOT) | Err(Errno::EACCES) => Ok(()),
        Err(e) => Err(sys("join a new session keyring")(e).into()),
    }
}

fn cap_set(list: &Option<HashSet<Capability>>) -> Result<CapsHashSet, ProcessError> {
    list.iter()
        .flatten()
        .map(|c| {
            let name = format!("CAP_{c}");
            Cap::from_str(&name)
                .map_err(|_| ProcessError::Caps(format!("unknown capability {name}")))
        })
        .collect()
}

/// Switches to the configured user and capability sets. Runs as root in the
/// container's user namespace.
pub fn set_user_and_caps(p: &Process) -> Result<(), ProcessError> {
    let user = p.user();
    let wanted = p.capabilities().as_ref();
    let (bounding, effective, permitted, inheritable, ambient) = match wanted {
        Some(c) => (
            cap_set(c.bounding())?,
            cap_set(c.effective())?,
            cap_set(c.permitted())?,
            cap_set(c.inheritable())?,
            cap_set(c.ambient())?,
        ),
        None => Default::default(),
    };
    let caps_err = |what: &str| {
        let what = what.to_string();
        move |e: caps::errors::CapsError| ProcessError::Caps(format!("{what}: {e}"))
    };
    // Bounding can only shrink, and needs CAP_SETPCAP, which we still have.
    for cap in caps::all() {
        if !bounding.contains(&cap) && caps::has_cap(None, CapSet::Bounding, cap).unwrap_or(false) {
            caps::drop(None, CapSet::Bounding, cap).map_err(caps_err("bounding"))?;
        }
    }
    // Keep the permitted set across the uid change.
    nix::sys::prctl::set_keepcaps(true).map_err(sys("PR_SET_KEEPCAPS"))?;
    let mut groups: Vec<Gid> = user
        .additional_gids()
        .iter()
        .flatten()
        .map(|g| Gid::from_raw(*g))
        .collect();
    groups.dedup();
    match setgroups(&groups) {
        // A user namespace with setgroups denied: only fine without extra groups.
        Err(Errno::EPERM) if groups.is_empty() => {}
        r => r.map_err(sys("process.user.additionalGids: setgroups"))?,
    }
    let gid = Gid::from_raw(user.gid());
    setresgid(gid, gid, gid).map_err(sys(format!("process.user.gid {gid}: setgid")))?;
    let uid = Uid::from_raw(user.uid());
    setresuid(uid, uid, uid).map_err(sys(format!("process.user.uid {uid}: setuid")))?;
    nix::sys::prctl::set_keepcaps(false).map_err(sys("PR_SET_KEEPCAPS"))?;
    // Narrow effective first: each capset must keep effective ⊆ permitted.
    caps::set(None, CapSet::Effective, &effective).map_err(caps_err("effective"))?;
    caps::set(None, CapSet::Inheritable, &inheritable).map_err(caps_err("inheritable"))?;
    caps::set(None, CapSet::Permitted, &permitted).map_err(caps_err("permitted"))?;
    caps::clear(None, CapSet::Ambient).map_err(caps_err("ambient"))?;
    for cap in ambient {
        // Ambient needs the cap in permitted and inheritable; runc only warns.
        if let Err(e) = caps::raise(None, CapSet::Ambient, cap) {
            tracing::debug!("cannot raise ambient capability {cap}: {e}");
        }
    }
    Ok(())
}

pub fn set_no_new_privs(p: &Process) -> Result<(), ProcessError> {
    if p.no_new_privileges().unwrap_or(false) {
        nix::sys::prctl::set_no_new_privs().map_err(sys("PR_SET_NO_NEW_PRIVS"))?;
    }
    Ok(())
}

pub fn set_umask(p: &Process) {
    let mask = p.user().umask().unwrap_or(0o022);
    umask(Mode::from_bits_truncate(mask));
}

/// Enters the working directory resolved inside the rootfs, and checks the
/// kernel agrees it is reachable from our root (CVE-2024-21626).
pub fn chdir(cwd: &impl std::os::fd::AsFd, p: &Process) -> Result<(), ProcessError> {
    let what = format!("process.cwd {}", p.cwd().display());
    nix::unistd::fchdir(cwd).map_err(sys(what.clone()))?;
    nix::unistd::getcwd().map_err(|e| {
        ProcessError::Invalid(format!("{what}: outside the container's root ({e})"))
    })?;
    Ok(())
}

/// Gives the container's stdio to its user, as runc does, so a non-root
/// program can write to /dev/stdout. /dev/null is left alone, and ids the
/// user namespace cannot map are not an error.
pub fn chown_stdio(p: &Process) -> Result<(), ProcessError> {
    let user = p.user();
    let null = fs::metadata("/dev/null").ok().map(|m| {
        use std::os::unix::fs::MetadataExt;
        m.rdev()
    });
    for fd in 0..3 {
        // SAFETY: 0, 1 and 2 stay open for the whole process.
        let fd = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
        let Ok(st) = nix::sys::stat::fstat(fd) else {
            continue;
        };
        let is_chr = st.st_mode & libc::S_IFMT == libc::S_IFCHR;
        if (is_chr && Some(st.st_rdev) == null) || st.st_uid == user.uid() {
            continue;
        }
        // The group stays: a pty from the container's devpts has tty (5),
        // which a terminal's owner expects, as runc leaves it.
        match nix::unistd::fchown(fd, Some(Uid::from_raw(user.uid())), None) {
            Ok(()) | Err(Errno::EINVAL | Errno::EPERM | Errno::EROFS) => {}
            Err(e) => return Err(sys(format!("chown stdio fd to {}", user.uid()))(e).into()),
        }
    }
    Ok(())
}

/// Marks every descriptor from `3 + preserve` up close-on-exec: with one
/// close_range call, or where the kernel lacks CLOSE_RANGE_CLOEXEC (before
/// 5.11) or something refuses the call, one by one from /proc/self/fd.
pub fn close_fds_on_exec(preserve: u32) -> Result<(), ProcessError> {
    const CLOSE_RANGE_CLOEXEC: libc::c_uint = 1 << 2;
    let first = 3 + preserve;
    // SAFETY: close_range only changes descriptor flags.
    let r = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            first,
            libc::c_uint::MAX,
            CLOSE_RANGE_CLOEXEC,
        )
    };
    match Errno::result(r) {
        Ok(_) => Ok(()),
        Err(Errno::ENOSYS | Errno::EINVAL | Errno::EPERM) => cloexec_each_from(first),
        Err(e) => Err(sys("close_range")(e).into()),
    }
}

/// The /proc/self/fd walk of [`close_fds_on_exec`].
fn cloexec_each_from(first: u32) -> Result<(), ProcessError> {
    use nix::fcntl::{fcntl, FcntlArg, FdFlag};
    let errno = |e: std::io::Error| Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO));
    let fds: Vec<RawFd> = fs::read_dir("/proc/self/fd")
        .map_err(|e| sys("reading /proc/self/fd")(errno(e)))?
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse().ok())
        .filter(|fd| *fd >= first as RawFd)
        .collect();
    for fd in fds {
        // SAFETY: only the flags of a descriptor this process holds; one
        // that the directory listing itself used is gone by now (EBADF).
        let fd = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
        match fcntl(fd, FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC)) {
            Ok(_) | Err(Errno::EBADF) => {}
            Err(e) => return Err(sys("marking descriptors close-on-exec")(e).into()),
        }
    }
    Ok(())
}

/// The environment's PATH value, or None.
fn env_path(env: &[String]) -> Option<&str> {
    env.iter().rev().find_map(|e| e.strip_prefix("PATH="))
}

/// Finds `program` the way execvp would, in the container's PATH (from
/// process.env, not jolt's own), checking it can be executed.
pub fn find_program(program: &str, env: &[String]) -> Result<PathBuf, ProcessError> {
    let executable = |p: &Path| {
        fs::metadata(p)
            .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
            .unwrap_or(false)
    };
    if program.contains('/') {
        let p = PathBuf::from(program);
        return match fs::metadata(&p) {
            Err(e) => Err(ProcessError::Exec {
                path: p,
                source: Errno::from_raw(e.raw_os_error().unwrap_or(libc::ENOENT)),
            }),
            Ok(_) if !executable(&p) => Err(ProcessError::Exec {
                path: p,
                source: Errno::EACCES,
            }),
            Ok(_) => Ok(p),
        };
    }
    env_path(env)
        .into_iter()
        .flat_map(|p| p.split(':'))
        .map(|dir| Path::new(if dir.is_empty() { "." } else { dir }).join(program))
        .find(|p| executable(p))
        .ok_or_else(|| ProcessError::NotFound(program.to_string()))
}

/// The program's environment, as runc makes it: `process.env` with each
/// name once (its last value, in the order of the last occurrences), and
/// HOME, when unset or empty, from the user's entry in `passwd` (the
/// container's /etc/passwd) or else "/".
pub fn program_env(p: &Process, passwd: &Path) -> Vec<String> {
    let env = p.env().clone().unwrap_or_default();
    let name = |kv: &str| kv.split('=').next().unwrap_or("").to_string();
    let mut seen = HashSet::new();
    let mut out: Vec<String> = env
        .iter()
        .rev()
        .filter(|kv| seen.insert(name(kv)))
        .cloned()
        .collect();
    out.reverse();
    let home_set = out
        .iter()
        .any(|kv| kv.strip_prefix("HOME=").is_some_and(|v| !v.is_empty()));
    if !home_set {
        let home = format!("HOME={}", home_of(p.user().uid(), passwd));
        match out.iter_mut().find(|kv| kv.starts_with("HOME=")) {
            Some(empty) => *empty = home,
            None => out.push(home),
        }
    }
    out
}

/// The home directory of `uid` in the passwd file at `passwd`, or "/".
fn home_of(uid: u32, passwd: &Path) -> String {
    fs::read_to_string(passwd)
        .unwrap_or_default()
        .lines()
        .map(|line| line.split(':').collect::<Vec<_>>())
        .find(|f| f.len() >= 6 && f[2].parse() == Ok(uid))
        .map(|f| f[5].to_string())
        .filter(|home| !home.is_empty())
        .unwrap_or_else(|| "/".to_string())
}

/// Replaces this process with the container's program, whose environment
/// is `env` (see [`program_env`]).
pub fn exec(path: &Path, p: &Process, env: &[String]) -> ProcessError {
    let cstr = |s: &[u8]| {
        CString::new(s)
            .map_err(|_| ProcessError::Invalid("NUL byte in process.args or process.env".into()))
    };
    let run = || -> Result<std::convert::Infallible, ProcessError> {
        let path_c = cstr(path.as_os_str().as_bytes())?;
        let args = p
            .args()
            .iter()
            .flatten()
            .map(|a| cstr(a.as_bytes()))
            .collect::<Result<Vec<_>, _>>()?;
        let env = env
            .iter()
            .map(|e| cstr(e.as_bytes()))
            .collect::<Result<Vec<_>, _>>()?;
        nix::unistd::execve(&path_c, &args, &env).map_err(|source| ProcessError::Execve {
            path: path.to_path_buf(),
            source,
        })
    };
    match run() {
        Ok(never) => match never {},
        Err(e) => e,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn program_env_keeps_each_last_value_and_fills_home() {
        let dir = tempfile::tempdir().unwrap();
        let passwd = dir.path().join("passwd");
        fs::write(
            &passwd,
            "root:x:0:0::/root:/bin/sh\nbad line\nu:x:7:7::/home/u:/bin/sh\n",
        )
        .unwrap();
        let process = |env: &[&str], uid: u32| -> Process {
            serde_json::from_value(serde_json::json!({
                "cwd": "/", "args": ["sh"], "env": env, "user": {"uid": uid, "gid": uid}
            }))
            .unwrap()
        };
        assert_eq!(
            program_env(&process(&["A=1", "B=2", "A=3"], 0), &passwd),
            ["B=2", "A=3", "HOME=/root"]
        );
        assert_eq!(
            program_env(&process(&["HOME=", "X=1"], 7), &passwd),
            ["HOME=/home/u", "X=1"]
        );
        assert_eq!(program_env(&process(&["HOME=/h"], 7), &passwd), ["HOME=/h"]);
        assert_eq!(program_env(&process(&[], 9), &passwd), ["HOME=/"]);
        assert_eq!(
            program_env(&process(&[], 0), &dir.path().join("none")),
            ["HOME=/"]
        );
    }

    #[test]
    fn the_proc_walk_marks_descriptors_close_on_exec() {
        use nix::fcntl::{fcntl, FcntlArg, FdFlag};
        use std::os::fd::{AsFd, AsRawFd};
        let (r, w) = nix::unistd::pipe().unwrap();
        let flags = |fd: &std::os::fd::OwnedFd| {
            FdFlag::from_bits_truncate(fcntl(fd.as_fd(), FcntlArg::F_GETFD).unwrap())
        };
        assert!(!flags(&r).contains(FdFlag::FD_CLOEXEC));
        let first = r.as_raw_fd().min(w.as_raw_fd());
        cloexec_each_from(first as u32).unwrap();
        assert!(flags(&r).contains(FdFlag::FD_CLOEXEC));
        assert!(flags(&w).contains(FdFlag::FD_CLOEXEC));
    }

    #[test]
    fn finds_programs_in_the_containers_path_only() {
        let env = vec!["PATH=/nonexistent:/bin:/usr/bin".to_string()];
        let sh = find_program("sh", &env).unwrap();
        assert!(sh.ends_with("sh"));
        assert!(matches!(
            find_program("sh", &["HOME=/".to_string()]),
            Err(ProcessError::NotFound(_))
        ));
        let err = find_program("no-such-program", &env).unwrap_err();
        assert_eq!(
            err.to_string(),
            "exec: \"no-such-program\": executable file not found in $PATH"
        );
        assert!(find_program("/bin/sh", &[]).is_ok());
        assert!(matches!(
            find_program("/etc/passwd", &[]),
            Err(ProcessError::Exec {
                source: Errno::EACCES,
                ..
            })
        ));
    }

    #[test]
    fn every_rlimit_type_maps_to_a_resource() {
        assert_eq!(
            resource(PosixRlimitType::RlimitNofile),
            Resource::RLIMIT_NOFILE
        );
        assert_eq!(
            resource(PosixRlimitType::RlimitRttime),
            Resource::RLIMIT_RTTIME
        );
    }
}
