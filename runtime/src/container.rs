//! container: the lifecycle operations `jolt` offers, as a library.
//!
//! create, start, delete, run, pause, resume and update hold the
//! container's lock for their whole length; state, list, kill, ps and
//! events only read state.json, so they never wait behind a long hook
//! (`exec` lives in its own module and takes no lock either). create either finishes with a container in the
//! created state or removes everything it made (state dir, cgroup and its
//! parents under /jolt, processes). The CLI only parses arguments and calls
//! these.

use std::fs;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::signal::{kill, Signal};
use nix::sys::stat::Mode;
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::{ForkResult, Pid};

use crate::cgroups::{self, CgroupError, CgroupManager, Driver, Settings};
use crate::channel::{Channel, Message};
use crate::console;
use crate::hooks::{self, HookError, HookKind};
use crate::init;
use crate::namespaces::{self, NamespaceError};
use crate::rootfs;
use crate::spec::{self, SpecError};
use crate::state::{self, Locked, Record, Root, StateError, Status};
use crate::sys;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    State(#[from] StateError),
    #[error(transparent)]
    Spec(#[from] SpecError),
    #[error(transparent)]
    Cgroup(#[from] CgroupError),
    #[error("container {id}: {err}")]
    Hook { id: String, err: HookError },
    #[error(transparent)]
    Namespace(#[from] NamespaceError),
    #[error("container {id}: {msg}")]
    Init { id: String, msg: String },
    /// The program's execve failed; the text is runc's, alone on its line
    /// (`exec /run.sh: no such file or directory`).
    #[error("{0}")]
    Execve(String),
    #[error("container not running")]
    NotRunning,
    #[error("container not paused")]
    NotPaused,
    #[error("cannot delete container {0} that is not stopped: {1}")]
    NotStopped(String, Status),
    /// runc's wording ("cannot start an already running container").
    #[error("cannot start {1}: {0}")]
    CannotStart(String, &'static str),
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Sys(#[from] crate::SysError),
}

/// `jolt create` options.
#[derive(Debug, Default, Clone)]
pub struct CreateOptions {
    pub bundle: PathBuf,
    pub pid_file: Option<PathBuf>,
    pub console_socket: Option<PathBuf>,
    pub no_pivot: bool,
    pub no_new_keyring: bool,
    pub preserve_fds: u32,
    /// Who makes the container's cgroup (`--systemd-cgroup`).
    pub cgroup_driver: Driver,
}

/// Creates container `id` from a bundle: on success its init waits in the
/// created state; on failure nothing it made is left.
pub fn create(root: &Root, id: &str, opts: &CreateOptions) -> Result<i32, Error> {
    state::validate_id(id)?;
    let bundle = spec::load(&opts.bundle)?;
    let console = opts.console_socket.clone().map(init::Console::Path);
    create_with(root, id, opts, bundle, console)
}

fn create_with(
    root: &Root,
    id: &str,
    opts: &CreateOptions,
    bundle: spec::Bundle,
    console: Option<init::Console>,
) -> Result<i32, Error> {
    let process = bundle.spec.process().as_ref().expect("validated");
    let terminal = process.terminal().unwrap_or(false);
    if terminal && console.is_none() {
        return Err(Error::Usage(
            "cannot allocate tty if jolt will detach without setting console socket \
             (set process.terminal to false or pass --console-socket)"
                .into(),
        ));
    }
    check_lsm_labels(&bundle)?;
    check_sysctl_namespaces(&bundle)?;
    let linux = bundle.spec.linux().as_ref().expect("validated");
    let driver = opts.cgroup_driver;
    driver.check_available()?;
    let cgroup_path =
        driver.resolve_path(linux.cgroups_path().as_deref().and_then(Path::to_str), id)?;
    let plan = namespaces::plan(linux);
    rootfs::check_paths(&bundle.rootfs, &bundle.spec).map_err(|(field, e)| SpecError::Invalid {
        path: bundle.dir.join("config.json"),
        invalid: spec::Invalid {
            field,
            msg: e.to_string(),
        },
    })?;

    tracing::debug!("{id}: bundle {} is valid", bundle.dir.display());
    let locked = root.create(id)?;
    let mut record = Record {
        id: id.to_string(),
        pid: 0,
        pid_start: 0,
        status: Status::Creating,
        bundle: bundle.dir.clone(),
        rootfs: bundle.rootfs.clone(),
        created: state::now_rfc3339(),
        owner: owner(),
        cgroup_path: cgroup_path.clone(),
        cgroup_driver: driver,
        config: bundle.spec.clone(),
    };
    let mut made = Made::default();
    let result = (|| {
        locked.save(&record)?;
        make_fifo(&locked.fifo())?;
        // The init needs the cgroup's directories for /sys/fs/cgroup; the
        // cgroup itself is made while the intermediate makes namespaces.
        let dirs = record.cgroup()?.host_dirs();
        // The init reaches exec.fifo through this, not through a path.
        let state_dir: OwnedFd = nix::fcntl::open(
            &locked.dir,
            OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(sys(format!("open {}", locked.dir.display())))?;
        // Opened here, on the host, as runc does: the init may be a mapped
        // root that cannot reach the console socket or a bind source.
        let in_user_ns = plan.has(nix::sched::CloneFlags::CLONE_NEWUSER);
        let console = match console {
            Some(init::Console::Path(path)) if terminal => {
                let sock = UnixStream::connect(&path).map_err(|e| Error::Init {
                    id: id.to_string(),
                    msg: format!("console socket {}: {}", path.display(), crate::os_text(&e)),
                })?;
                Some(init::Console::Connected(sock))
            }
            other => other,
        };
        let sources = match in_user_ns {
            true => {
                rootfs::open_bind_sources(&bundle.spec, &bundle.dir).map_err(|e| Error::Init {
                    id: id.to_string(),
                    msg: e.to_string(),
                })?
            }
            false => Vec::new(),
        };
        let args = init::Args {
            bundle: &bundle,
            plan: &plan,
            rootfs: rootfs::Options {
                no_pivot: opts.no_pivot,
                in_user_ns,
                cgroup_ns: plan.has(nix::sched::CloneFlags::CLONE_NEWCGROUP),
                cgroup_v2: cgroups::is_v2(),
                cgroup_dirs: dirs,
                bind_sources: sources.iter().map(|(i, fd)| (*i, fd.as_raw_fd())).collect(),
            },
            no_new_keyring: opts.no_new_keyring,
            preserve_fds: opts.preserve_fds,
            state_dir: state_dir.as_raw_fd(),
            console: console.as_ref().and_then(init::Console::fd),
        };
        spawn(&locked, &mut record, &args, &mut made)?;
        record.status = Status::Created;
        locked.save(&record)?;
        if let Some(path) = &opts.pid_file {
            write_pid_file(id, path, record.pid)?;
        }
        Ok(record.pid)
    })();
    if result.is_err() {
        made.undo();
        let _ = locked.remove();
    }
    result
}

/// net.* and ipc sysctls are written in the container's namespaces; a
/// namespace joined by path that is the host's own would take them to the
/// host (runc refuses this too).
fn check_sysctl_namespaces(bundle: &spec::Bundle) -> Result<(), Error> {
    use std::os::unix::fs::MetadataExt;
    let linux = bundle.spec.linux().as_ref().expect("validated");
    let Some(sysctl) = linux.sysctl() else {
        return Ok(());
    };
    let same_as_ours = |path: &Path, kind: &str| {
        let theirs = fs::metadata(path).ok().map(|m| (m.dev(), m.ino()));
        let ours = fs::metadata(format!("/proc/self/ns/{kind}"))
            .ok()
            .map(|m| (m.dev(), m.ino()));
        theirs.is_some() && theirs == ours
    };
    for ns in linux.namespaces().iter().flatten() {
        let (Some(path), kind) = (ns.path(), ns.typ()) else {
            continue;
        };
        let (proc_name, prefix): (&str, &[&str]) = match kind {
            oci_spec::runtime::LinuxNamespaceType::Network => ("net", &["net."]),
            oci_spec::runtime::LinuxNamespaceType::Ipc => ("ipc", &["kernel.", "fs.mqueue."]),
            _ => continue,
        };
        if !same_as_ours(path, proc_name) {
            continue;
        }
        if let Some(key) = sysctl
            .keys()
            .find(|k| prefix.iter().any(|p| k.starts_with(p)))
        {
            return Err(Error::Spec(SpecError::Invalid {
                path: bundle.dir.join("config.json"),
                invalid: spec::Invalid {
                    field: format!("linux.sysctl.{key}"),
                    msg: format!(
                        "the {kind} namespace joined at {} is the host's: the sysctl would change the host",
                        path.display()
                    ),
                },
            }));
        }
    }
    Ok(())
}

/// AppArmor profiles and SELinux labels are not applied yet. As runc does,
/// they are ignored on a host whose LSM is off; on a host where it is on,
/// running unconfined would be a lie, so that is an error.
fn check_lsm_labels(bundle: &spec::Bundle) -> Result<(), Error> {
    let spec = &bundle.spec;
    let process = spec.process().as_ref().expect("validated");
    let mount_label = spec.linux().as_ref().and_then(|l| l.mount_label().as_ref());
    let refused = process_lsm_field(process).or_else(|| {
        (mount_label.is_some() && selinux_on()).then_some(("linux.mountLabel", "SELinux"))
    });
    match refused {
        Some((field, lsm)) => Err(Error::Spec(SpecError::Invalid {
            path: bundle.dir.join("config.json"),
            invalid: spec::Invalid {
                field: field.into(),
                msg: format!("{lsm} is enabled on this host, and jolt cannot apply it yet"),
            },
        })),
        None => Ok(()),
    }
}

fn selinux_on() -> bool {
    Path::new("/sys/fs/selinux/enforce").exists()
}

/// The field of `process` that names a label jolt would have to apply on
/// this host (and cannot), and the LSM: for create and for exec.
pub(crate) fn process_lsm_field(
    process: &oci_spec::runtime::Process,
) -> Option<(&'static str, &'static str)> {
    let apparmor_on = fs::read_to_string("/sys/module/apparmor/parameters/enabled")
        .is_ok_and(|s| s.trim() == "Y");
    if process.apparmor_profile().is_some() && apparmor_on {
        return Some(("process.apparmorProfile", "AppArmor"));
    }
    if process.selinux_label().is_some() && selinux_on() {
        return Some(("process.selinuxLabel", "SELinux"));
    }
    None
}

/// What create has made so far, to undo on failure.
#[derive(Default)]
struct Made {
    cgroup: Option<Box<dyn CgroupManager>>,
    intermediate: Option<Pid>,
    init: Option<Pid>,
}

impl Made {
    fn undo(&mut self) {
        if let Some(pid) = self.init.take() {
            let _ = kill(pid, Signal::SIGKILL);
        }
        if let Some(pid) = self.intermediate.take() {
            let _ = kill(pid, Signal::SIGKILL);
            let _ = waitpid(pid, None);
        }
        if let Some(cg) = self.cgroup.take() {
            if let Err(e) = cg.destroy() {
                tracing::warn!("{e}");
            }
        }
    }
}

fn make_fifo(path: &Path) -> Result<(), Error> {
    nix::unistd::mkfifo(path, Mode::from_bits_truncate(0o622))
        .map_err(sys(format!("mkfifo {}", path.display())))?;
    // Whatever the umask, the container's user must be able to write it.
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(0o622)).map_err(|e| {
        sys(format!("chmod {}", path.display()))(Errno::from_raw(
            e.raw_os_error().unwrap_or(libc::EIO),
        ))
        .into()
    })
}

/// Forks the intermediate and drives the conversation until the init says
/// Ready.
fn spawn(
    locked: &Locked,
    record: &mut Record,
    args: &init::Args,
    made: &mut Made,
) -> Result<(), Error> {
    let id = &record.id;
    let init_err = |msg: String| Error::Init {
        id: id.clone(),
        msg,
    };
    let (parent, child) = Channel::pair().map_err(|e| init_err(format!("socketpair: {e}")))?;
    let linux = record.config.linux().as_ref().expect("validated");
    let settings = Settings {
        resources: linux.resources().as_ref(),
        annotations: record.config.annotations().as_ref(),
    };
    // On cgroupfs the cgroup is made first and the intermediate is born in
    // its unified directory (see cgroups::fork_into); systemd needs a live
    // process for its scope, which the intermediate then is.
    let mut cgroup = Some(record.cgroup()?);
    let target = match cgroup.as_deref().and_then(|c| c.clone_target()) {
        Some(dir) => {
            let made_now = cgroup.take().expect("there");
            made_now.create(settings, 0)?;
            made.cgroup = Some(made_now);
            let flags = OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC;
            Some(
                nix::fcntl::open(&dir, flags, Mode::empty())
                    .map_err(sys(format!("open {}", dir.display())))?,
            )
        }
        None => None,
    };
    // jolt is single-threaded: the child may run arbitrary code.
    let (forked, born_in) =
        cgroups::fork_into(target.as_ref().map(AsFd::as_fd)).map_err(sys("fork"))?;
    match forked {
        ForkResult::Child => {
            drop(parent);
            // The lock belongs to this jolt invocation, not to the container:
            // close our copy so `jolt start` can take it.
            // SAFETY: closing a descriptor the parent's Locked owns; this
            // process never drops that Locked (it exits or execs).
            unsafe { libc::close(locked.dir_fd()) };
            init::intermediate(child, args, born_in)
        }
        ForkResult::Parent { child: pid } => {
            made.intermediate = Some(pid);
        }
    }
    drop(child);
    drop(target);
    // The init (or the intermediate) gone, perhaps OOM-killed: say why.
    let gone = |made: &Made| {
        let oom = made
            .cgroup
            .as_deref()
            .and_then(crate::events::oom_before_ready);
        init_err(oom.unwrap_or_else(|| "the container's init exited before it was ready".into()))
    };
    let lost = |e: &std::io::Error| {
        matches!(
            e.kind(),
            std::io::ErrorKind::BrokenPipe | std::io::ErrorKind::ConnectionReset
        )
    };
    let send = |m: &Message, made: &Made| {
        parent.send(m).map_err(|e| match lost(&e) {
            true => gone(made),
            false => init_err(format!("talking to init: {e}")),
        })
    };
    if let Some(cgroup) = cgroup {
        // The intermediate holds the cgroup until the init (its child) is in.
        cgroup.create(settings, made.intermediate.expect("forked").as_raw())?;
        made.cgroup = Some(cgroup);
    }
    tracing::debug!("{id}: cgroup {} created", record.cgroup_path);
    send(&Message::Go, made)?;
    let spec = &record.config.clone();
    loop {
        let msg = match parent.recv() {
            Err(e) if lost(&e) => None,
            other => other.map_err(|e| init_err(format!("talking to init: {e}")))?,
        };
        match msg {
            Some(Message::NeedMappings) => {
                let pid = made.intermediate.expect("forked").as_raw();
                let linux = spec.linux().as_ref().expect("validated");
                let wants_groups = spec
                    .process()
                    .as_ref()
                    .and_then(|p| p.user().additional_gids().as_ref())
                    .is_some_and(|g| !g.is_empty());
                match namespaces::write_mappings(pid, linux, !wants_groups) {
                    Ok(()) => send(&Message::MappingsDone, made)?,
                    Err(e) => {
                        let _ = send(&Message::Error(e.to_string()), made);
                        return Err(e.into());
                    }
                }
            }
            Some(Message::InitPid(pid)) => {
                tracing::debug!("{id}: init is pid {pid}");
                made.init = Some(Pid::from_raw(pid));
                if let Some(mid) = made.intermediate.take() {
                    let _ = waitpid(mid, None);
                }
                record.pid = pid;
                record.pid_start = crate::pidfd::start_time(pid).unwrap_or(0);
            }
            Some(Message::RunHooks) => {
                locked.save(record)?;
                let state = serde_json::to_string(&record.oci_state()).expect("serializes");
                #[allow(deprecated)] // runc still runs prestart hooks
                let kinds = [HookKind::Prestart, HookKind::CreateRuntime];
                for kind in kinds {
                    if let Err(err) = hooks::run(spec.hooks().as_ref(), kind, state.as_bytes()) {
                        let _ = send(&Message::Error(err.to_string()), made);
                        return Err(Error::Hook {
                            id: id.clone(),
                            err,
                        });
                    }
                }
                send(&Message::HooksDone(state), made)?;
            }
            Some(Message::SeccompListener) => {
                let state = serde_json::to_value(record.oci_state()).expect("serializes");
                crate::seccomp::agent::hand_over(spec, &parent, record.pid, &state)
                    .map_err(init_err)?;
            }
            Some(Message::Ready) => {
                tracing::debug!("{id}: init {} is ready", record.pid);
                return Ok(());
            }
            Some(Message::Error(msg)) => return Err(init_err(msg)),
            Some(other) => return Err(init_err(format!("unexpected message {other:?}"))),
            None => return Err(gone(made)),
        }
    }
}

fn owner() -> String {
    let uid = nix::unistd::getuid();
    nix::unistd::User::from_uid(uid)
        .ok()
        .flatten()
        .map_or_else(|| uid.to_string(), |u| u.name)
}

fn write_pid_file(id: &str, path: &Path, pid: i32) -> Result<(), Error> {
    let path = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    state::write_atomic(&path, pid.to_string().as_bytes(), 0o644).map_err(|e| Error::Init {
        id: id.into(),
        msg: format!("--pid-file: {e}"),
    })
}

/// Releases a created container: its init execs the user's program.
pub fn start(root: &Root, id: &str) -> Result<(), Error> {
    let locked = root.open(id)?;
    let mut record = locked.load()?;
    match record.live_status() {
        Status::Created => {}
        Status::Running => {
            return Err(Error::CannotStart(
                id.into(),
                "an already running container",
            ))
        }
        Status::Stopped => {
            return Err(Error::CannotStart(
                id.into(),
                "a container that has stopped",
            ))
        }
        Status::Paused => {
            return Err(Error::CannotStart(
                id.into(),
                "an already running container",
            ))
        }
        Status::Creating => {
            return Err(Error::CannotStart(
                id.into(),
                "a container that is still being created",
            ))
        }
    }
    release(&locked, &record)?;
    tracing::debug!("{id}: released");
    record.status = Status::Running;
    locked.save(&record)?;
    let state = serde_json::to_string(&record.oci_state()).expect("serializes");
    if let Err(e) = hooks::run(
        record.config.hooks().as_ref(),
        HookKind::Poststart,
        state.as_bytes(),
    ) {
        let _ = kill(Pid::from_raw(record.pid), Signal::SIGKILL);
        return Err(Error::Hook {
            id: id.into(),
            err: e,
        });
    }
    Ok(())
}

/// Opens exec.fifo for reading, waits for the init's byte (watching that
/// the init is still alive), then reads until the init closes its end: at
/// exec, or after writing why the startContainer hooks or the exec failed.
fn release(locked: &Locked, record: &Record) -> Result<(), Error> {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    let fifo_path = locked.fifo();
    let fifo = nix::fcntl::open(
        &fifo_path,
        OFlag::O_RDONLY | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(sys(format!("open {}", fifo_path.display())))?;
    let died = || Error::CannotStart(record.id.clone(), "a container whose init has exited");
    // Before the init's byte, a closed or silent fifo means it is still
    // getting there, it died, or an earlier start already released it (and
    // was killed before saving "running"): then it has exec'd.
    let check = || match record.live_status() {
        Status::Stopped => Err(died()),
        Status::Running => Err(Error::CannotStart(
            record.id.clone(),
            "an already running container",
        )),
        _ => Ok(()),
    };
    let mut seen_go = false;
    let mut failure = Vec::new();
    loop {
        let mut fds = [PollFd::new(fifo.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, PollTimeout::from(100u8)) {
            Ok(0) | Err(Errno::EINTR) => {
                if !seen_go {
                    check()?;
                } else if record.live_status() == Status::Stopped {
                    return Err(died());
                }
                continue;
            }
            Ok(_) => {}
            Err(e) => return Err(sys("poll exec.fifo")(e).into()),
        }
        let mut buf = [0u8; 4096];
        match nix::unistd::read(&fifo, &mut buf) {
            // EOF: every writer is gone. Before the first byte that only
            // means the init has not opened its end yet, or died.
            Ok(0) if !seen_go => {
                check()?;
                std::thread::sleep(Duration::from_millis(1));
            }
            Ok(0) => break,
            Ok(n) => {
                let data = &buf[..n];
                let data = if seen_go { data } else { &data[1..] };
                seen_go = true;
                failure.extend_from_slice(data);
            }
            Err(Errno::EAGAIN) => {}
            Err(e) => return Err(sys("read exec.fifo")(e).into()),
        }
    }
    let _ = fs::remove_file(&fifo_path);
    // The init tags its failure: E for the execve, H for a hook.
    match failure.split_first() {
        None => Ok(()),
        Some((b'E', msg)) => Err(Error::Execve(String::from_utf8_lossy(msg).into_owned())),
        Some((_, msg)) => Err(Error::Init {
            id: record.id.clone(),
            msg: String::from_utf8_lossy(msg).into_owned(),
        }),
    }
}

/// Sends a signal to the container's init, or with `all` to every process
/// in its cgroup.
pub fn kill_container(root: &Root, id: &str, signal: i32, all: bool) -> Result<(), Error> {
    // No lock: a signal must get through while another jolt holds the
    // container (a long hook, a stuck start).
    let record = root.peek(id)?;
    let status = record.live_status();
    if all {
        return Ok(record.cgroup()?.signal_all(signal)?);
    }
    if status == Status::Stopped || record.pid <= 0 {
        return Err(Error::NotRunning);
    }
    crate::signal::send(record.pid, signal).map_err(sys(format!("kill {}", record.pid)))?;
    Ok(())
}

/// Deletes a container: kills what is left, removes the cgroup, runs the
/// poststop hooks and removes the state dir. `force` deletes a running one
/// and makes a missing one not an error. A directory of that ID without a
/// state.json (a create killed in its first instants) is removed either
/// way, and is no container: without `force` that is still "does not
/// exist", as with runc.
pub fn delete(root: &Root, id: &str, force: bool) -> Result<(), Error> {
    let locked = match root.open(id) {
        Err(StateError::NotExist(_)) => {
            root.clear_debris(id)?;
            if force {
                return Ok(());
            }
            return Err(StateError::NotExist(id.to_string()).into());
        }
        other => other?,
    };
    let record = locked.load()?;
    match record.live_status() {
        Status::Stopped => {}
        // create holds the lock until it is done: a record still creating
        // under our lock was left by a create that died.
        Status::Created | Status::Creating => stop(&record)?,
        Status::Running => {
            if !force {
                return Err(Error::NotStopped(id.into(), Status::Running));
            }
            // Frozen behind jolt's back (a chaos tool writing the freezer),
            // the init acts on SIGKILL only once thawed: as runc, the kill
            // goes to the whole cgroup, thawed after (best effort: the
            // init's own kill below still reports what fails).
            if let Err(e) = record.cgroup().and_then(|c| c.signal_all(libc::SIGKILL)) {
                tracing::debug!("{id}: killing the cgroup: {e}");
            }
            stop(&record)?;
        }
        Status::Paused => {
            if !force {
                return Err(Error::NotStopped(id.into(), Status::Paused));
            }
            // A frozen process acts on SIGKILL only once thawed: signal_all
            // kills the whole cgroup and thaws it.
            record.cgroup()?.signal_all(libc::SIGKILL)?;
            stop(&record)?;
        }
    }
    tracing::debug!("{id}: init is gone");
    record.cgroup()?.destroy()?;
    tracing::debug!("{id}: cgroup removed");
    let state = serde_json::to_string(&record.oci_state()).expect("serializes");
    // The spec: a failing poststop hook is logged, and deletion goes on.
    if let Err(e) = hooks::run(
        record.config.hooks().as_ref(),
        HookKind::Poststop,
        state.as_bytes(),
    ) {
        tracing::warn!("{e}");
    }
    locked.remove()?;
    Ok(())
}

/// SIGKILLs the init and waits until it is gone (or a zombie).
fn stop(record: &Record) -> Result<(), Error> {
    // A create that died before its init existed left pid 0; kill(0) would
    // signal our own process group.
    if record.pid <= 0 {
        return Ok(());
    }
    let pid = Pid::from_raw(record.pid);
    match kill(pid, Signal::SIGKILL) {
        Ok(()) | Err(Errno::ESRCH) => {}
        Err(e) => return Err(sys(format!("kill {pid}"))(e).into()),
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while record.live_status() != Status::Stopped {
        if Instant::now() > deadline {
            return Err(Error::Init {
                id: record.id.clone(),
                msg: format!("init {pid} did not die after SIGKILL"),
            });
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    Ok(())
}

/// `jolt run` in the foreground: create, start, forward signals (and with
/// `process.terminal`, copy the pty both ways), wait, then delete (unless
/// `keep`: then the container stays, stopped, with its cgroup). Returns
/// the exit status for jolt to exit with (128+N for a signal N, as a shell
/// reports it).
pub fn run(root: &Root, id: &str, opts: &CreateOptions, keep: bool) -> Result<i32, Error> {
    // Become the init's parent once the intermediate exits.
    let signals = forward_signals()?;
    state::validate_id(id)?;
    let bundle = spec::load(&opts.bundle)?;
    let terminal = opts.console_socket.is_none()
        && bundle
            .spec
            .process()
            .as_ref()
            .and_then(|p| p.terminal())
            .unwrap_or(false);
    run_bundle(root, id, opts, bundle, terminal, signals, keep)
}

/// For a foreground `run` or `exec`: makes jolt the subreaper of what it
/// starts (the intermediate exits before its child) and blocks every
/// signal jolt forwards, returning a signalfd that receives them (and
/// SIGCHLD). Children unblock their signals themselves.
pub(crate) fn forward_signals() -> Result<nix::sys::signalfd::SignalFd, Error> {
    use nix::sys::signal::SigSet;
    use nix::sys::signalfd::{SfdFlags, SignalFd};
    nix::sys::prctl::set_child_subreaper(true).map_err(sys("PR_SET_CHILD_SUBREAPER"))?;
    let mut forwarded = SigSet::all();
    for s in [
        Signal::SIGKILL,
        Signal::SIGSTOP,
        Signal::SIGSEGV,
        Signal::SIGBUS,
        Signal::SIGILL,
        Signal::SIGFPE,
    ] {
        forwarded.remove(s);
    }
    forwarded.thread_block().map_err(sys("sigprocmask"))?;
    SignalFd::with_flags(&forwarded, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK)
        .map_err(|e| sys("signalfd")(e).into())
}

fn run_bundle(
    root: &Root,
    id: &str,
    opts: &CreateOptions,
    bundle: spec::Bundle,
    terminal: bool,
    signals: nix::sys::signalfd::SignalFd,
    keep: bool,
) -> Result<i32, Error> {
    let (pid, master) = if terminal {
        let (ours, theirs) = std::os::unix::net::UnixStream::pair().map_err(|e| Error::Init {
            id: id.into(),
            msg: format!("console socketpair: {e}"),
        })?;
        let console = Some(init::Console::Socket(theirs.as_raw_fd()));
        let pid = create_with(root, id, opts, bundle, console)?;
        drop(theirs);
        let master = match console::recv_master(&ours) {
            Ok(master) => master,
            Err(e) => {
                let _ = delete(root, id, true);
                return Err(Error::Init {
                    id: id.into(),
                    msg: format!("receiving the console: {e}"),
                });
            }
        };
        (pid, Some(master))
    } else {
        let console = opts.console_socket.clone().map(init::Console::Path);
        (create_with(root, id, opts, bundle, console)?, None)
    };
    let raw = master.as_ref().and_then(|m| {
        console::copy_window_size(std::io::stdin().as_fd(), m.as_fd());
        console::RawMode::stdin()
    });
    if let Err(e) = start(root, id) {
        let _ = delete(root, id, true);
        return Err(e);
    }
    let status = wait_forwarding(pid, &signals, master.as_ref());
    tracing::debug!("{id}: init exited: {status:?}");
    drop(raw);
    if !keep {
        delete(root, id, true)?;
    }
    status
}

/// Forwards signals to the init and copies the terminal until the init
/// exits; returns its exit status.
pub(crate) fn wait_forwarding(
    pid: i32,
    signals: &nix::sys::signalfd::SignalFd,
    master: Option<&OwnedFd>,
) -> Result<i32, Error> {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    let stdin = std::io::stdin();
    let mut stdin_open = master.is_some();
    let mut master_open = master.is_some();
    let mut exited = None;
    loop {
        if let Some(code) = exited {
            if !master_open {
                return Ok(code);
            }
        }
        let mut fds = vec![PollFd::new(signals.as_fd(), PollFlags::POLLIN)];
        if let Some(m) = master.filter(|_| master_open) {
            fds.push(PollFd::new(m.as_fd(), PollFlags::POLLIN));
        }
        if stdin_open {
            fds.push(PollFd::new(stdin.as_fd(), PollFlags::POLLIN));
        }
        // Once the init is gone, drain what the terminal still holds.
        let timeout = if exited.is_some() {
            PollTimeout::from(50u8)
        } else {
            PollTimeout::NONE
        };
        match poll(&mut fds, timeout) {
            Ok(0) => return Ok(exited.unwrap_or(0)),
            Ok(_) => {}
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(sys("poll")(e).into()),
        }
        let ready: Vec<bool> = fds
            .iter()
            .map(|f| f.revents().is_some_and(|r| !r.is_empty()))
            .collect();
        if ready[0] {
            while let Ok(Some(info)) = signals.read_signal() {
                match Signal::try_from(info.ssi_signo as i32) {
                    Ok(Signal::SIGCHLD) => {
                        if let Some(code) = reap(pid) {
                            exited = Some(code);
                        }
                    }
                    Ok(Signal::SIGWINCH) => {
                        if let Some(m) = master {
                            console::copy_window_size(stdin.as_fd(), m.as_fd());
                        }
                    }
                    Ok(Signal::SIGURG | Signal::SIGPIPE) => {}
                    _ => {
                        let _ = crate::signal::send(pid, info.ssi_signo as i32);
                    }
                }
            }
        }
        let mut buf = [0u8; 8192];
        let mut i = 1;
        if let Some(m) = master.filter(|_| master_open) {
            if ready[i] {
                match nix::unistd::read(m, &mut buf) {
                    Ok(0) | Err(Errno::EIO) => master_open = false,
                    Ok(n) => {
                        use std::io::Write;
                        let mut out = std::io::stdout();
                        let _ = out.write_all(&buf[..n]).and_then(|_| out.flush());
                    }
                    Err(Errno::EINTR | Errno::EAGAIN) => {}
                    Err(e) => return Err(sys("read the terminal")(e).into()),
                }
            }
            i += 1;
        }
        if stdin_open && ready[i] {
            match nix::unistd::read(&stdin, &mut buf) {
                Ok(0) | Err(_) => stdin_open = false,
                Ok(n) => {
                    if let Some(m) = master {
                        let _ = nix::unistd::write(m, &buf[..n]);
                    }
                }
            }
        }
    }
}

/// Reaps every exited child; returns the init's exit code once it is gone.
fn reap(init: i32) -> Option<i32> {
    let mut result = None;
    loop {
        match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(pid, code)) if pid.as_raw() == init => result = Some(code),
            Ok(WaitStatus::Signaled(pid, sig, _)) if pid.as_raw() == init => {
                result = Some(128 + sig as i32)
            }
            Ok(WaitStatus::StillAlive) | Err(_) => return result,
            Ok(_) => {}
        }
    }
}

/// Freezes every process of a running container (`jolt pause`).
pub fn pause(root: &Root, id: &str) -> Result<(), Error> {
    let locked = root.open(id)?;
    let mut record = locked.load()?;
    if record.live_status() != Status::Running {
        return Err(Error::NotRunning);
    }
    record.cgroup()?.freeze()?;
    record.status = Status::Paused;
    locked.save(&record)?;
    Ok(())
}

/// Thaws a paused container (`jolt resume`).
pub fn resume(root: &Root, id: &str) -> Result<(), Error> {
    let locked = root.open(id)?;
    let mut record = locked.load()?;
    if record.live_status() != Status::Paused {
        return Err(Error::NotPaused);
    }
    record.cgroup()?.thaw()?;
    record.status = Status::Running;
    locked.save(&record)?;
    Ok(())
}

/// Changes a live container's cgroup limits (`jolt update`): `patch`, a
/// LinuxResources JSON object, is merged into the resources the container
/// has (config.json's, as last updated: only the fields it names change),
/// and the result is applied and recorded.
pub fn update(root: &Root, id: &str, patch: &serde_json::Value) -> Result<(), Error> {
    let locked = root.open(id)?;
    let mut record = locked.load()?;
    if record.live_status() == Status::Stopped {
        return Err(Error::NotRunning);
    }
    let mut linux = record.config.linux().clone().unwrap_or_default();
    let mut merged = serde_json::to_value(linux.resources().clone().unwrap_or_default())
        .expect("resources serialize");
    merge(&mut merged, patch);
    // As with runc: lifting the memory limit lifts memory plus swap too,
    // unless the update sets it (a kept swap limit would refuse it).
    let memory = &patch["memory"];
    if memory["limit"].as_i64() == Some(-1) && memory.get("swap").is_none() {
        merged["memory"]["swap"] = (-1).into();
    }
    let resources: oci_spec::runtime::LinuxResources = serde_json::from_value(merged)
        .map_err(|e| Error::Usage(format!("invalid resources: {e}")))?;
    record.cgroup()?.update(&resources)?;
    linux.set_resources(Some(resources));
    record.config.set_linux(Some(linux));
    locked.save(&record)?;
    Ok(())
}

/// Merges JSON object `patch` into `into`, key by key, recursively.
fn merge(into: &mut serde_json::Value, patch: &serde_json::Value) {
    match (into, patch) {
        (serde_json::Value::Object(a), serde_json::Value::Object(b)) => {
            for (k, v) in b {
                merge(a.entry(k.clone()).or_insert(serde_json::Value::Null), v);
            }
        }
        (into, patch) => *into = patch.clone(),
    }
}

/// Pids (in jolt's pid namespace) of every process in the container's
/// cgroup (`jolt ps`).
pub fn processes(root: &Root, id: &str) -> Result<Vec<i32>, Error> {
    let record = root.peek(id)?;
    Ok(record.cgroup()?.pids()?)
}

/// `jolt events --stats`: one stats event, runc's shape. A stopped
/// container is an error, as with runc.
pub fn stats_event(root: &Root, id: &str) -> Result<serde_json::Value, Error> {
    let record = root.peek(id)?;
    if record.live_status() == Status::Stopped {
        return Err(Error::Usage(format!(
            "container with id {id} is not running"
        )));
    }
    let cgroup = record.cgroup()?;
    let data = crate::events::stats(&*cgroup)?;
    Ok(crate::events::event("stats", id, Some(data)))
}

/// `jolt events`: calls `emit` with a stats event every `interval` and an
/// oom event whenever the OOM killer strikes, until the container stops.
pub fn watch_events(
    root: &Root,
    id: &str,
    interval: Duration,
    mut emit: impl FnMut(&serde_json::Value),
) -> Result<(), Error> {
    let record = root.peek(id)?;
    if record.live_status() == Status::Stopped {
        return Err(Error::Usage(format!(
            "container with id {id} is not running"
        )));
    }
    let cgroup = record.cgroup()?;
    let mut ooms = crate::events::oom_kills(&*cgroup);
    let tick = interval
        .min(Duration::from_millis(200))
        .max(Duration::from_millis(1));
    let mut next_stats = Instant::now() + interval;
    loop {
        std::thread::sleep(tick);
        let now = crate::events::oom_kills(&*cgroup);
        if now > ooms {
            emit(&crate::events::event("oom", id, None));
            ooms = now;
        }
        match root.peek(id) {
            Ok(r) if r.live_status() != Status::Stopped => {}
            _ => return Ok(()),
        }
        if Instant::now() >= next_stats {
            match crate::events::stats(&*cgroup) {
                Ok(data) => emit(&crate::events::event("stats", id, Some(data))),
                Err(e) => tracing::error!("{e}"),
            }
            next_stats += interval;
        }
    }
}

/// `jolt state`: the OCI state of one container.
pub fn state(root: &Root, id: &str) -> Result<state::OciState, Error> {
    // runc fills in the owner for `list` only.
    let mut state = root.peek(id)?.oci_state();
    state.owner.clear();
    Ok(state)
}

/// `jolt list`: the OCI state of every container, skipping unreadable ones.
pub fn list(root: &Root) -> Result<Vec<state::OciState>, Error> {
    let mut out = Vec::new();
    for id in root.ids()? {
        match root.peek(&id) {
            Ok(rec) => out.push(rec.oci_state()),
            Err(e) => tracing::warn!("{e}"),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::merge;
    use serde_json::json;

    #[test]
    fn update_merges_only_what_it_names() {
        let mut current = json!({
            "memory": { "limit": 100, "swap": 200 },
            "pids": { "limit": 10 },
            "devices": [{ "allow": false, "access": "rwm" }]
        });
        merge(
            &mut current,
            &json!({ "memory": { "limit": 150 }, "cpu": { "shares": 512 } }),
        );
        assert_eq!(
            current,
            json!({
                "memory": { "limit": 150, "swap": 200 },
                "pids": { "limit": 10 },
                "devices": [{ "allow": false, "access": "rwm" }],
                "cpu": { "shares": 512 }
            })
        );
    }
}
