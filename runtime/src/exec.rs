//! exec: running another process in a container that is already there
//! (`jolt exec`).
//!
//! jolt forks an *intermediate*, which joins the container's cgroup and
//! then the namespaces of its init (through /proc/PID/ns), and forks the
//! new process, which lands in the container's pid namespace. The process
//! sets itself up (session, terminal, rlimits, working directory resolved
//! inside the container, user, capabilities, no_new_privs, descriptors
//! close-on-exec) and execs. Its end of the channel is close-on-exec, so
//! jolt learns of the exec by the channel closing and of a failure by the
//! message sent before. This module creates no namespace, mount or cgroup,
//! and does not touch the container's state.

use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

use nix::fcntl::OFlag;
use nix::sys::signal::SigSet;
use nix::sys::stat::Mode;
use nix::sys::wait::waitpid;
use nix::unistd::{fork, ForkResult, Pid};
use oci_spec::runtime::Process;

use crate::cgroups;
use crate::channel::{Channel, Message};
use crate::container::{self, Error};
use crate::namespaces;
use crate::process;
use crate::state::{self, Root, Status};
use crate::sys;

/// `jolt exec` options.
#[derive(Debug, Clone)]
pub struct ExecOptions {
    /// The process to run: from `--process`, or the container's own
    /// process with the command line's changes (see [`process_from_flags`]).
    pub process: Process,
    pub console_socket: Option<PathBuf>,
    pub detach: bool,
    pub pid_file: Option<PathBuf>,
    pub preserve_fds: u32,
    pub ignore_paused: bool,
    /// `--cgroup`: sub-cgroups to run in (see [`cgroups::subgroup`]).
    pub cgroups: Vec<String>,
}

/// What `jolt exec`'s flags change in the container's process (runc's
/// rules: args replace, env appends, `--cap` adds to the bounding,
/// effective and permitted sets, and to ambient when the container has
/// inheritable capabilities).
#[derive(Debug, Default, Clone)]
pub struct Flags {
    pub args: Vec<String>,
    pub env: Vec<String>,
    pub cwd: Option<String>,
    pub tty: bool,
    /// `uid[:gid]`.
    pub user: Option<String>,
    pub additional_gids: Vec<u32>,
    pub caps: Vec<String>,
    pub no_new_privs: bool,
    /// `--apparmor`: the process's AppArmor profile.
    pub apparmor: Option<String>,
    /// `--process-label`: the process's SELinux label.
    pub process_label: Option<String>,
}

/// Reads a process.json (`--process`).
pub fn process_from_file(path: &std::path::Path) -> Result<Process, Error> {
    let text = std::fs::read(path).map_err(|e| {
        Error::Usage(format!(
            "--process {}: {}",
            path.display(),
            crate::os_text(&e)
        ))
    })?;
    let bad = |e: serde_json::Error| Error::Usage(format!("--process {}: {e}", path.display()));
    let mut value: serde_json::Value = serde_json::from_slice(&text).map_err(bad)?;
    // The spec requires only cwd (and args): without a user the process
    // runs as 0:0, as with runc.
    if let Some(p) = value.as_object_mut() {
        p.entry("user")
            .or_insert_with(|| serde_json::json!({ "uid": 0, "gid": 0 }));
    }
    let process: Process = serde_json::from_value(value).map_err(bad)?;
    check(&process)?;
    Ok(process)
}

/// The container's own process (from the config it was created with),
/// changed as the flags say.
pub fn process_from_flags(root: &Root, id: &str, flags: &Flags) -> Result<Process, Error> {
    let record = root.peek(id)?;
    let base = record.config.process().clone().unwrap_or_default();
    let mut p = serde_json::to_value(&base).expect("a process serializes");
    p["args"] = flags.args.clone().into();
    if let Some(cwd) = &flags.cwd {
        p["cwd"] = cwd.clone().into();
    }
    let mut env: Vec<serde_json::Value> = p["env"].as_array().cloned().unwrap_or_default();
    env.extend(flags.env.iter().map(|e| e.clone().into()));
    p["env"] = env.into();
    p["terminal"] = flags.tty.into();
    if flags.no_new_privs {
        p["noNewPrivileges"] = true.into();
    }
    if let Some(profile) = &flags.apparmor {
        p["apparmorProfile"] = profile.clone().into();
    }
    if let Some(label) = &flags.process_label {
        p["selinuxLabel"] = label.clone().into();
    }
    if let Some(user) = &flags.user {
        let (uid, gid) = parse_user(user)?;
        p["user"]["uid"] = uid.into();
        p["user"]["gid"] = gid.into();
    }
    if !flags.additional_gids.is_empty() {
        let mut gids: Vec<serde_json::Value> = p["user"]["additionalGids"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        gids.extend(flags.additional_gids.iter().map(|g| (*g).into()));
        p["user"]["additionalGids"] = gids.into();
    }
    if !flags.caps.is_empty() {
        let caps = &mut p["capabilities"];
        if caps.is_null() {
            *caps = serde_json::json!({});
        }
        let with_inheritable = caps["inheritable"].is_array();
        for cap in &flags.caps {
            let mut sets = vec!["bounding", "effective", "permitted"];
            if with_inheritable {
                sets.push("ambient");
            }
            for set in sets {
                let list = &mut caps[set];
                if !list.is_array() {
                    *list = serde_json::json!([]);
                }
                list.as_array_mut()
                    .expect("an array")
                    .push(cap.clone().into());
            }
        }
    }
    let process: Process = serde_json::from_value(p).map_err(|e| Error::Usage(e.to_string()))?;
    check(&process)?;
    Ok(process)
}

/// `uid[:gid]`, numbers only, as runc takes them.
fn parse_user(user: &str) -> Result<(u32, u32), Error> {
    let bad = || Error::Usage(format!("--user {user:?}: expected uid[:gid] as numbers"));
    let (uid, gid) = match user.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (user, None),
    };
    let uid: u32 = uid.parse().map_err(|_| bad())?;
    let gid: u32 = gid.map_or(Ok(0), str::parse).map_err(|_| bad())?;
    Ok((uid, gid))
}

fn check(p: &Process) -> Result<(), Error> {
    if p.args().as_ref().is_none_or(|a| a.is_empty()) {
        return Err(Error::Usage("args must not be empty".into()));
    }
    if !p.cwd().is_absolute() {
        return Err(Error::Usage(format!(
            "cwd {:?} is not an absolute path",
            p.cwd()
        )));
    }
    Ok(())
}

/// Runs `opts.process` in container `id`. In the foreground, waits for it
/// (forwarding signals, and copying its terminal when it has one and no
/// console socket) and returns its exit status (128+N for signal N); with
/// `detach`, returns 0 once it has exec'd.
pub fn exec(root: &Root, id: &str, opts: &ExecOptions) -> Result<i32, Error> {
    let record = root.peek(id)?;
    match record.live_status() {
        Status::Stopped => return Err(Error::Usage("cannot exec in a stopped container".into())),
        Status::Paused if !opts.ignore_paused => {
            return Err(Error::Usage(
                "cannot exec in a paused container (use --ignore-paused to override)".into(),
            ))
        }
        _ => {}
    }
    if let Some((field, lsm)) = container::process_lsm_field(&opts.process) {
        return Err(Error::Usage(format!(
            "{field}: {lsm} is enabled on this host, and jolt cannot apply it yet"
        )));
    }
    let terminal = opts.process.terminal().unwrap_or(false);
    if terminal && opts.detach && opts.console_socket.is_none() {
        return Err(Error::Usage(
            "cannot allocate tty if jolt will detach without setting console socket".into(),
        ));
    }
    // The pid file is written once the process has exec'd: a directory
    // that cannot hold it is an error before anything runs, as with runc.
    let pid_file = opts
        .pid_file
        .as_ref()
        .map(|path| std::path::absolute(path).unwrap_or_else(|_| path.clone()));
    if let Some((file, dir)) = pid_file.as_ref().and_then(|p| Some((p, p.parent()?))) {
        if !dir.is_dir() {
            return Err(Error::Usage(format!(
                "--pid-file {}: no directory {}",
                file.display(),
                dir.display()
            )));
        }
    }
    let linux = record.config.linux().clone().unwrap_or_default();
    let plan = namespaces::of_init(record.pid, &linux);
    let joins = plan.open_joins()?;
    let subs = cgroups::subgroup::parse(&opts.cgroups, cgroups::is_v2())?;
    let dirs = cgroups::subgroup::apply(&record.cgroup()?.host_dirs(), &subs)?;
    if let Some((_, missing)) = dirs.iter().find(|(_, d)| !subs.is_empty() && !d.is_dir()) {
        return Err(Error::Usage(format!(
            "--cgroup: {} does not exist (exec joins an existing sub-cgroup of the container's)",
            missing.display()
        )));
    }
    // On v2 a cgroup with controllers enabled for its children takes no
    // process (EBUSY): then the process joins the init's own cgroup, where
    // the init moved itself, as with runc.
    let fallback = (subs.is_empty() && cgroups::is_v2())
        .then(|| cgroups::placement::View::of(record.pid).ok()?.v2_dir())
        .flatten();
    let signals = if opts.detach {
        None
    } else {
        Some(container::forward_signals()?)
    };

    // The console socket is a host path: connect before the child leaves
    // the host's mount namespace. In the foreground without one, jolt
    // keeps the other end of a socketpair and copies the terminal.
    let init_err = |msg: String| Error::Init {
        id: id.to_string(),
        msg,
    };
    let (console, ours) = match (&opts.console_socket, terminal) {
        (Some(path), true) => (
            Some(
                UnixStream::connect(path)
                    .map_err(|e| init_err(format!("console socket {}: {e}", path.display())))?,
            ),
            None,
        ),
        (None, true) => {
            let (ours, theirs) =
                UnixStream::pair().map_err(|e| init_err(format!("console socketpair: {e}")))?;
            (Some(theirs), Some(ours))
        }
        _ => (None, None),
    };

    let (parent, child) = Channel::pair().map_err(|e| init_err(format!("socketpair: {e}")))?;
    // Born in the unified cgroup directory, as create's intermediate is
    // (see cgroups::fork_into); where that cgroup takes no process (EBUSY:
    // it hands controllers to children), in the init's own.
    let open = |dir: &Path| {
        let flags = OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC;
        nix::fcntl::open(dir, flags, Mode::empty()).ok()
    };
    let v2 = cgroups::is_v2();
    let unified = dirs
        .iter()
        .find(|(name, _)| v2 || name == cgroups::HYBRID_UNIFIED)
        .and_then(|(_, dir)| open(dir));
    let forked = match cgroups::fork_into(unified.as_ref().map(std::os::fd::AsFd::as_fd)) {
        Err(nix::errno::Errno::EBUSY) => {
            let init_cgroup = fallback.as_deref().and_then(open);
            cgroups::fork_into(init_cgroup.as_ref().map(std::os::fd::AsFd::as_fd))
        }
        other => other,
    };
    // jolt is single-threaded: the child may run arbitrary code.
    let (forked, born_in_unified) = forked.map_err(sys("fork"))?;
    let intermediate = match forked {
        ForkResult::Child => {
            drop(parent);
            let seccomp = linux.seccomp().as_ref();
            let joined: Vec<(String, PathBuf)> = dirs
                .iter()
                .filter(|(name, _)| !(born_in_unified && (v2 || name == cgroups::HYBRID_UNIFIED)))
                .cloned()
                .collect();
            let cgroup = (joined.as_slice(), fallback.as_deref());
            let code =
                match run_intermediate(&child, cgroup, &joins, console.as_ref(), seccomp, opts) {
                    Ok(()) => 0,
                    Err(e) => {
                        let _ = child.send(&Message::Error(e));
                        1
                    }
                };
            // SAFETY: _exit skips destructors that belong to the parent.
            unsafe { libc::_exit(code) }
        }
        ForkResult::Parent { child } => child,
    };
    drop(child);
    drop(console);
    let pid = match parent.recv() {
        Ok(Some(Message::InitPid(pid))) => pid,
        Ok(Some(Message::Error(msg))) => {
            let _ = waitpid(intermediate, None);
            return Err(init_err(msg));
        }
        other => {
            let _ = waitpid(intermediate, None);
            return Err(init_err(format!("exec: unexpected answer {other:?}")));
        }
    };
    let _ = waitpid(intermediate, None);
    // The process's end closes when it execs; before that it may hand
    // over a seccomp listener, or say why it could not exec.
    loop {
        match parent.recv() {
            Ok(None) => break,
            Ok(Some(Message::SeccompListener)) => {
                let state = serde_json::to_value(record.oci_state()).expect("serializes");
                let spec = record.config.clone();
                if let Err(msg) = crate::seccomp::agent::hand_over(&spec, &parent, pid, &state) {
                    let _ = nix::sys::signal::kill(Pid::from_raw(pid), nix::sys::signal::SIGKILL);
                    let _ = waitpid(Pid::from_raw(pid), None);
                    return Err(init_err(msg));
                }
            }
            Ok(Some(Message::Error(msg))) => {
                let _ = waitpid(Pid::from_raw(pid), None);
                return Err(init_err(msg));
            }
            Ok(Some(Message::ExecFailed(msg))) => {
                let _ = waitpid(Pid::from_raw(pid), None);
                return Err(Error::Execve(msg));
            }
            other => return Err(init_err(format!("exec: unexpected answer {other:?}"))),
        }
    }
    tracing::debug!("{id}: exec'd pid {pid}");
    if let Some(path) = &pid_file {
        state::write_atomic(path, pid.to_string().as_bytes(), 0o644)
            .map_err(|e| init_err(format!("--pid-file: {e}")))?;
    }
    let Some(signals) = signals else {
        return Ok(0);
    };
    let master = match ours {
        Some(sock) => {
            let master = crate::console::recv_master(&sock)
                .map_err(|e| init_err(format!("receiving the console: {e}")))?;
            crate::console::copy_window_size(
                std::os::fd::AsFd::as_fd(&std::io::stdin()),
                std::os::fd::AsFd::as_fd(&master),
            );
            Some(master)
        }
        None => None,
    };
    let raw = master
        .as_ref()
        .and_then(|_| crate::console::RawMode::stdin());
    let status = container::wait_forwarding(pid, &signals, master.as_ref());
    drop(raw);
    status
}

/// In the intermediate: joins the cgroup (through the host's cgroupfs,
/// so first) and the namespaces, and forks the process.
fn run_intermediate(
    chan: &Channel,
    (dirs, fallback): (&[(String, PathBuf)], Option<&Path>),
    joins: &[(nix::sched::CloneFlags, PathBuf, std::fs::File)],
    console: Option<&UnixStream>,
    seccomp: Option<&oci_spec::runtime::LinuxSeccomp>,
    opts: &ExecOptions,
) -> Result<(), String> {
    nix::sys::prctl::set_dumpable(false).map_err(|e| format!("PR_SET_DUMPABLE: {e}"))?;
    match (cgroups::join_self(dirs), fallback) {
        (Err(e), Some(dir)) if e.err.raw_os_error() == Some(libc::EBUSY) => {
            cgroups::join_self(&[(String::new(), dir.to_path_buf())]).map_err(|e| e.to_string())?
        }
        (r, _) => r.map_err(|e| e.to_string())?,
    }
    namespaces::join(joins).map_err(|e| e.to_string())?;
    // SAFETY: single-threaded, as above.
    match unsafe { fork() }.map_err(|e| format!("fork the process: {e}"))? {
        ForkResult::Child => {
            let message = match run_process(chan, console, seccomp, opts) {
                Ok(never) => match never {},
                Err(Failed::Setup(e)) => Message::Error(e),
                Err(Failed::Execve(e)) => Message::ExecFailed(e),
            };
            let _ = chan.send(&message);
            // SAFETY: see above.
            unsafe { libc::_exit(127) }
        }
        ForkResult::Parent { child } => chan
            .send(&Message::InitPid(child.as_raw()))
            .map_err(|e| format!("reporting the process's pid: {e}")),
    }
}

/// Why the new process did not become the program: a step before execve,
/// or execve itself.
enum Failed {
    Setup(String),
    Execve(String),
}

impl From<String> for Failed {
    fn from(e: String) -> Failed {
        Failed::Setup(e)
    }
}

/// In the new process, inside the container: sets itself up and execs.
fn run_process(
    chan: &Channel,
    console: Option<&UnixStream>,
    seccomp_filter: Option<&oci_spec::runtime::LinuxSeccomp>,
    opts: &ExecOptions,
) -> Result<std::convert::Infallible, Failed> {
    let p = &opts.process;
    SigSet::empty()
        .thread_set_mask()
        .map_err(|e| format!("sigprocmask: {e}"))?;
    // Until exec, nothing in the container may ptrace us or open our
    // /proc/PID/fd or exe.
    nix::sys::prctl::set_dumpable(false).map_err(|e| format!("PR_SET_DUMPABLE: {e}"))?;
    nix::unistd::setsid().map_err(|e| format!("setsid: {e}"))?;
    if let Some(sock) = console {
        crate::init::setup_console(sock)?;
    }
    process::set_rlimits(p).map_err(|e| e.to_string())?;
    // setns into the mount namespace put us at the container's root; the
    // cwd is resolved from there, and checked to be reachable from it.
    let cwd = nix::fcntl::open(
        p.cwd(),
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| format!("process.cwd {}: {}", p.cwd().display(), e.desc()))?;
    process::chdir(&cwd, p).map_err(|e| e.to_string())?;
    drop(cwd);
    // The terminal (or the caller's pipes) become the user's, as in init.
    process::chown_stdio(p).map_err(|e| e.to_string())?;
    // Before the filter, which may refuse close_range (see init).
    process::close_fds_on_exec(opts.preserve_fds).map_err(|e| e.to_string())?;
    // The container's /etc/passwd (this process is in its mount namespace).
    let env = process::program_env(p, Path::new("/etc/passwd"));
    // The container's filter applies to every process in it, loaded as
    // the init loads it (see seccomp).
    let filter = seccomp_filter
        .map(crate::seccomp::compile)
        .transpose()
        .map_err(|e| e.to_string())?;
    let nnp = p.no_new_privileges().unwrap_or(false);
    // A listener (SCMP_ACT_NOTIFY) goes to jolt, which hands it to the agent.
    let load = |filter: &crate::seccomp::Filter| -> Result<(), Failed> {
        if let Some(listener) = crate::seccomp::load(filter).map_err(|e| e.to_string())? {
            chan.send_fd(
                &Message::SeccompListener,
                std::os::fd::AsFd::as_fd(&listener),
            )
            .map_err(|e| format!("handing the seccomp listener to jolt: {e}"))?;
        }
        Ok(())
    };
    if let (Some(filter), false) = (&filter, nnp) {
        load(filter)?;
    }
    process::set_user_and_caps(p).map_err(|e| e.to_string())?;
    process::set_no_new_privs(p).map_err(|e| e.to_string())?;
    let args0 = p.args().as_ref().expect("checked")[0].as_str();
    let program = process::find_program(args0, &env).map_err(|e| e.to_string())?;
    process::set_umask(p);
    if let (Some(filter), true) = (&filter, nnp) {
        load(filter)?;
    }
    Err(Failed::Execve(process::exec(&program, p, &env).to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users_are_numbers() {
        assert_eq!(parse_user("1000").unwrap(), (1000, 0));
        assert_eq!(parse_user("1000:100").unwrap(), (1000, 100));
        assert!(parse_user("nobody").is_err());
        assert!(parse_user("1:x").is_err());
    }

    #[test]
    fn a_process_needs_args_and_an_absolute_cwd() {
        let p: Process = serde_json::from_value(serde_json::json!({
            "args": [], "cwd": "/", "user": {"uid": 0, "gid": 0}
        }))
        .unwrap();
        assert_eq!(check(&p).unwrap_err().to_string(), "args must not be empty");
        let p: Process = serde_json::from_value(serde_json::json!({
            "args": ["sh"], "cwd": "tmp", "user": {"uid": 0, "gid": 0}
        }))
        .unwrap();
        assert!(check(&p).is_err());
    }
}
