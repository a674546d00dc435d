//! init: the two processes `jolt create` forks to make a container.
//!
//! jolt (the parent) forks the *intermediate*, which joins namespaces by
//! path, creates a user namespace (the parent writes its id maps), then
//! creates the other namespaces and forks the container's *init*, which is
//! pid 1 of a new pid namespace. The intermediate reports the init's pid and
//! exits. The init sets up the rootfs and the process, says Ready, and then
//! blocks opening exec.fifo until `jolt start` opens its other end; then it
//! runs the startContainer hooks and execs. Every failure before Ready goes
//! back to the parent as `Message::Error`.

use std::io::Write;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

use nix::fcntl::{openat, OFlag};
use nix::sched::CloneFlags;
use nix::sys::signal::SigSet;
use nix::sys::stat::Mode;
use nix::unistd::{fork, setresgid, setresuid, ForkResult, Gid, Uid};

use crate::cgroups;
use crate::channel::{Channel, Message};
use crate::hooks::{self, HookKind};
use crate::namespaces::{self, Plan};
use crate::process;
use crate::rootfs::{self, Rootfs};
use crate::seccomp;
use crate::spec::Bundle;
use crate::state::EXEC_FIFO;
use crate::syscall::Linux;

/// Everything the child processes need, prepared by the parent.
pub struct Args<'a> {
    pub bundle: &'a Bundle,
    pub plan: &'a Plan,
    pub rootfs: rootfs::Options,
    pub no_new_keyring: bool,
    pub preserve_fds: u32,
    /// An O_PATH descriptor of the container's state directory.
    pub state_dir: RawFd,
    /// The console socket, connected (see [`Console::fd`]).
    pub console: Option<RawFd>,
}

/// Where the init sends its terminal's master.
pub enum Console {
    /// `--console-socket`: a listening AF_UNIX socket on the host, which
    /// create connects to before the init starts.
    Path(PathBuf),
    /// That socket, connected.
    Connected(UnixStream),
    /// A socket jolt already holds the other end of (foreground run).
    Socket(RawFd),
}

impl Console {
    /// The connected socket the init inherits (None for a path).
    pub fn fd(&self) -> Option<RawFd> {
        match self {
            Console::Path(_) => None,
            Console::Connected(sock) => Some(sock.as_raw_fd()),
            Console::Socket(fd) => Some(*fd),
        }
    }
}

/// Runs the intermediate process; never returns.
/// `born_in_unified`: the intermediate was cloned into the cgroup's
/// unified directory (see `cgroups::fork_into`), which it then does not
/// join again.
pub fn intermediate(chan: Channel, args: &Args, born_in_unified: bool) -> ! {
    // A panic must not unwind into the parent's frames we were forked from.
    let run = std::panic::AssertUnwindSafe(|| run_intermediate(&chan, args, born_in_unified));
    let result = std::panic::catch_unwind(run)
        .unwrap_or_else(|_| Err("the intermediate process panicked".to_string()));
    let code = match result {
        Ok(()) => 0,
        Err(e) => {
            let _ = chan.send(&Message::Error(e));
            1
        }
    };
    // SAFETY: _exit skips atexit handlers and destructors that belong to
    // the parent's copy of this address space.
    unsafe { libc::_exit(code) }
}

fn expect(chan: &Channel, what: &str) -> Result<Message, String> {
    chan.recv()
        .map_err(|e| format!("waiting for {what}: {e}"))?
        .ok_or_else(|| format!("jolt went away while the container waited for {what}"))
}

fn run_intermediate(chan: &Channel, args: &Args, born_in_unified: bool) -> Result<(), String> {
    let plan = args.plan;
    // jolt makes the cgroup while we make namespaces and says Go when it is
    // there; we then join it ourselves (see cgroups::join_self). Inside a
    // user namespace the host's cgroupfs would no longer let us in, so
    // then we join first.
    let mut in_cgroup = false;
    let join_cgroup = |in_cgroup: &mut bool| -> Result<(), String> {
        while !*in_cgroup {
            match expect(chan, "its cgroup")? {
                Message::Go => *in_cgroup = true,
                Message::Error(e) => return Err(e),
                other => return Err(format!("unexpected message {other:?}")),
            }
        }
        let unified = |name: &str| cgroups::is_v2() || name == cgroups::HYBRID_UNIFIED;
        let dirs: Vec<_> = (args.rootfs.cgroup_dirs.iter())
            .filter(|(name, _)| !(born_in_unified && unified(name)))
            .cloned()
            .collect();
        cgroups::join_self(&dirs).map_err(|e| e.to_string())
    };
    if plan.has(CloneFlags::CLONE_NEWUSER) {
        join_cgroup(&mut in_cgroup)?;
    }
    let joins = plan.open_joins().map_err(|e| e.to_string())?;
    namespaces::join(&joins).map_err(|e| e.to_string())?;
    if plan.new_user {
        namespaces::unshare_user().map_err(|e| e.to_string())?;
        chan.send(&Message::NeedMappings)
            .map_err(|e| format!("asking for id maps: {e}"))?;
        match expect(chan, "its id maps")? {
            Message::MappingsDone => {}
            Message::Error(e) => return Err(e),
            other => return Err(format!("unexpected message {other:?}")),
        }
        // Become root of the new namespace when root is mapped; otherwise
        // keep the capabilities the namespace's creator has.
        let root = Uid::from_raw(0);
        let _ = setresgid(Gid::from_raw(0), Gid::from_raw(0), Gid::from_raw(0));
        let _ = setresuid(root, root, root);
    }
    plan.unshare_rest().map_err(|e| e.to_string())?;
    if !in_cgroup {
        join_cgroup(&mut in_cgroup)?;
    }
    plan.unshare_cgroup().map_err(|e| e.to_string())?;
    // SAFETY: jolt is single-threaded, so the child may do anything.
    match unsafe { fork() }.map_err(|e| format!("fork the container's init: {e}"))? {
        ForkResult::Child => init(chan, args),
        ForkResult::Parent { child } => chan
            .send(&Message::InitPid(child.as_raw()))
            .map_err(|e| format!("reporting the init's pid: {e}")),
    }
}

fn init(chan: &Channel, args: &Args) -> ! {
    let run = std::panic::AssertUnwindSafe(|| run_init(chan, args));
    let result = std::panic::catch_unwind(run)
        .unwrap_or_else(|_| Err(before("the container's init panicked")));
    match result {
        Ok(never) => match never {},
        Err(Failure::BeforeReady(e)) => {
            let _ = chan.send(&Message::Error(e));
            // SAFETY: see intermediate.
            unsafe { libc::_exit(1) }
        }
        Err(Failure::Told) => {
            // SAFETY: see intermediate.
            unsafe { libc::_exit(127) }
        }
        Err(Failure::AfterReady(e)) => {
            // Nobody is listening any more: the container's stderr is all
            // that is left, as with runc.
            let _ = writeln!(std::io::stderr(), "jolt init: {e}");
            // SAFETY: see intermediate.
            unsafe { libc::_exit(127) }
        }
    }
}

enum Failure {
    BeforeReady(String),
    AfterReady(String),
    /// After ready, and `start` was told why.
    Told,
}

fn before<E: std::fmt::Display>(e: E) -> Failure {
    Failure::BeforeReady(e.to_string())
}

fn run_init(chan: &Channel, args: &Args) -> Result<std::convert::Infallible, Failure> {
    // jolt run blocks every signal while it forwards them; the container
    // starts with none blocked.
    SigSet::empty().thread_set_mask().map_err(before)?;
    // Until exec, nothing in the container may ptrace us or open our
    // /proc/PID/fd; the name tells `jolt state` we have not exec'd yet.
    nix::sys::prctl::set_dumpable(false).map_err(before)?;
    nix::sys::prctl::set_name(crate::state::INIT_NAME).map_err(before)?;
    nix::unistd::setsid().map_err(|e| before(format!("setsid: {e}")))?;
    let spec = &args.bundle.spec;
    let proc_ = spec.process().as_ref().expect("validated");
    let linux = spec.linux().as_ref().expect("validated");

    // SAFETY: jolt connected this socket for us (create) or keeps the
    // other end (foreground run); this process's copy is ours.
    let console = match (args.console, proc_.terminal().unwrap_or(false)) {
        (Some(fd), true) => Some(unsafe { UnixStream::from_raw_fd(fd) }),
        _ => None,
    };

    let sys = Linux;
    let (rootfs, bundle) = (&args.bundle.rootfs, &args.bundle.dir);
    let own_mount_ns = linux
        .namespaces()
        .iter()
        .flatten()
        .any(|n| n.typ() == oci_spec::runtime::LinuxNamespaceType::Mount);
    let root = match own_mount_ns {
        true => Rootfs::mount_root(&sys, spec, rootfs, bundle),
        false => Rootfs::in_runtime_namespace(&sys, rootfs, bundle),
    }
    .map_err(before)?;
    root.mount_all(spec, &args.rootfs).map_err(before)?;
    let uid_maps = linux.uid_mappings().as_deref();
    let gid_maps = linux.gid_mappings().as_deref();
    root.create_devices(
        spec,
        &args.rootfs,
        |u| namespaces::host_id(uid_maps, u).unwrap_or(u),
        |g| namespaces::host_id(gid_maps, g).unwrap_or(g),
    )
    .map_err(before)?;

    chan.send(&Message::RunHooks).map_err(before)?;
    let state = match expect(chan, "the createRuntime hooks").map_err(Failure::BeforeReady)? {
        Message::HooksDone(state) => state,
        Message::Error(e) => return Err(Failure::BeforeReady(e)),
        other => return Err(before(format!("unexpected message {other:?}"))),
    };
    // createContainer hooks run in the rootfs (as with runc: a hook may
    // name files relative to it).
    nix::unistd::chdir(&args.bundle.rootfs)
        .map_err(|e| before(format!("chdir {}: {e}", args.bundle.rootfs.display())))?;
    hooks::run(
        spec.hooks().as_ref(),
        HookKind::CreateContainer,
        state.as_bytes(),
    )
    .map_err(before)?;

    root.write_sysctls(spec).map_err(before)?;
    root.readonly_paths(spec).map_err(before)?;
    root.masked_paths(spec).map_err(before)?;
    // The working directory is resolved inside the rootfs (and made if
    // missing, as runc does) while the host is still there to check
    // against: a cwd such as /proc/self/fd/N must not land outside.
    let cwd = root
        .resolve(proc_.cwd(), rootfs::Create::Dir)
        .map_err(|e| before(format!("process.cwd: {e}")))?;
    root.remount_read_only(spec).map_err(before)?;
    root.readonly_root(spec).map_err(before)?;
    if let Some(h) = spec.hostname().as_deref().filter(|h| !h.is_empty()) {
        nix::unistd::sethostname(h).map_err(|e| before(format!("sethostname: {e}")))?;
    }
    if let Some(d) = spec.domainname().as_deref().filter(|d| !d.is_empty()) {
        set_domainname(d).map_err(|e| before(format!("setdomainname: {e}")))?;
    }
    root.enter(spec, args.rootfs.no_pivot).map_err(before)?;

    if let Some(sock) = console {
        setup_console(&sock).map_err(before)?;
    }
    process::set_oom_score_adj(proc_).map_err(before)?;
    if !args.no_new_keyring {
        process::join_new_session_keyring().map_err(before)?;
    }
    process::set_rlimits(proc_).map_err(before)?;
    process::chdir(&cwd, proc_).map_err(before)?;
    process::chown_stdio(proc_).map_err(before)?;
    // Before any seccomp filter, which may refuse close_range (a profile
    // older than the syscall does: its default action answers it).
    process::close_fds_on_exec(args.preserve_fds).map_err(before)?;
    // The container's /etc/passwd, read before any filter or user change.
    let env = process::program_env(proc_, Path::new("/etc/passwd"));
    let filter = linux
        .seccomp()
        .as_ref()
        .map(seccomp::compile)
        .transpose()
        .map_err(before)?;
    let nnp = proc_.no_new_privileges().unwrap_or(false);
    // A listener (SCMP_ACT_NOTIFY) goes to jolt, which hands it to the agent.
    let load = |filter: &seccomp::Filter| -> Result<(), Failure> {
        if let Some(listener) = seccomp::load(filter).map_err(before)? {
            chan.send_fd(
                &Message::SeccompListener,
                std::os::fd::AsFd::as_fd(&listener),
            )
            .map_err(before)?;
        }
        Ok(())
    };
    // Without no_new_privs, loading needs CAP_SYS_ADMIN: before the drop.
    if let (Some(filter), false) = (&filter, nnp) {
        load(filter)?;
    }
    process::set_user_and_caps(proc_).map_err(before)?;
    process::set_no_new_privs(proc_).map_err(before)?;
    let args0 = proc_.args().as_ref().expect("validated")[0].as_str();
    let program = process::find_program(args0, &env).map_err(before)?;
    process::set_umask(proc_);
    // With no_new_privs, as late as possible while a failure still reaches
    // `create` (as runc does): the exec.fifo handshake and the
    // startContainer hooks then run under the filter.
    if let (Some(filter), true) = (&filter, nnp) {
        load(filter)?;
    }

    chan.send(&Message::Ready).map_err(before)?;
    let fifo = wait_for_start(args.state_dir).map_err(Failure::AfterReady)?;

    // From here on, `jolt start` reads exec.fifo until it closes: at exec
    // (it is close-on-exec), or after we write why we could not exec.
    let state = start_state(&state);
    let (tag, failure) = match hooks::run(
        spec.hooks().as_ref(),
        HookKind::StartContainer,
        state.as_bytes(),
    ) {
        Err(e) => (b'H', e.to_string()),
        Ok(()) => (b'E', process::exec(&program, proc_, &env).to_string()),
    };
    // `start` prints it (see container::release); only if nobody reads the
    // fifo any more is the container's stderr left.
    let report = [&[tag], failure.as_bytes()].concat();
    match nix::unistd::write(&fifo, &report) {
        Ok(n) if n == report.len() => Err(Failure::Told),
        _ => Err(Failure::AfterReady(failure)),
    }
}

/// Blocks until `jolt start` opens exec.fifo for reading, then tells it we
/// are going ahead. The returned write end stays open until exec.
fn wait_for_start(state_dir: RawFd) -> Result<OwnedFd, String> {
    // SAFETY: the parent passed us this descriptor and nobody else owns it.
    let dir = unsafe { OwnedFd::from_raw_fd(state_dir) };
    let fifo = openat(
        &dir,
        EXEC_FIFO,
        OFlag::O_WRONLY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| format!("open {EXEC_FIFO}: {e}"))?;
    nix::unistd::write(&fifo, b"0").map_err(|e| format!("write {EXEC_FIFO}: {e}"))?;
    Ok(fifo)
}

/// The state the startContainer hooks see: created, with the init's pid as
/// the container sees it.
fn start_state(state: &str) -> String {
    let mut v: serde_json::Value = serde_json::from_str(state).unwrap_or_default();
    v["status"] = "created".into();
    v["pid"] = std::process::id().into();
    v.to_string()
}

fn set_domainname(name: &str) -> nix::Result<()> {
    // SAFETY: the pointer and length describe a live byte slice.
    let r = unsafe { libc::setdomainname(name.as_ptr().cast(), name.len()) };
    nix::errno::Errno::result(r).map(drop)
}

/// Makes a pseudo-terminal in the container's devpts, sends its master over
/// the console socket (SCM_RIGHTS) and makes the slave our controlling
/// terminal and stdio.
pub(crate) fn setup_console(sock: &UnixStream) -> Result<(), String> {
    use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags};
    let pty = nix::pty::openpty(None, None).map_err(|e| format!("openpty: {e}"))?;
    let name = nix::unistd::ttyname(&pty.slave).unwrap_or_else(|_| Path::new("/dev/pts/?").into());
    let fds = [pty.master.as_raw_fd()];
    let iov = [std::io::IoSlice::new(name.as_os_str().as_encoded_bytes())];
    sendmsg::<()>(
        sock.as_raw_fd(),
        &iov,
        &[ControlMessage::ScmRights(&fds)],
        MsgFlags::empty(),
        None,
    )
    .map_err(|e| format!("sending the console to the console socket: {e}"))?;
    for fd in 0..3 {
        // SAFETY: dup2 onto the stdio numbers, which we own.
        let r = unsafe { libc::dup2(pty.slave.as_raw_fd(), fd) };
        nix::errno::Errno::result(r).map_err(|e| format!("dup2 console: {e}"))?;
    }
    // SAFETY: TIOCSCTTY on our own terminal with a plain int argument.
    let r = unsafe { libc::ioctl(0, libc::TIOCSCTTY, 0) };
    nix::errno::Errno::result(r).map_err(|e| format!("TIOCSCTTY: {e}"))?;
    Ok(())
}
