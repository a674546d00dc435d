//! OCI lifecycle hooks: running the hooks a container's config.json lists.
//!
//! This module owns how a hook runs: its argv and environment exactly as the
//! config gives them, the container's state JSON on its stdin, its timeout,
//! and an error that names the hook and ends with what it printed. It does
//! not decide when each kind of hook runs or in which namespace: the
//! lifecycle code calls [`run`] at the right moment from the right process.
//!
//! Nothing here spawns a thread, and no pipe connects jolt to a hook: the
//! state is handed over in a memfd and the output is collected in another,
//! so a hook that ignores stdin or prints a lot can neither block jolt nor be
//! killed by SIGPIPE. This makes `run` safe in a process forked from a
//! single-threaded parent, such as the container's init before it execs.

use std::fmt;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout};
use nix::sys::memfd::{memfd_create, MFdFlags};
use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use oci_spec::runtime::{Hook, Hooks};

use crate::signal;

/// How many bytes of a failed hook's output its error message carries.
const OUTPUT_TAIL: u64 = 512;

/// The lifecycle points at which the runtime spec runs hooks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HookKind {
    Prestart,
    CreateRuntime,
    CreateContainer,
    StartContainer,
    Poststart,
    Poststop,
}

impl HookKind {
    /// The hooks of this kind in `hooks`, if the config lists any.
    fn select(self, hooks: &Hooks) -> Option<&Vec<Hook>> {
        match self {
            // The spec deprecates prestart in favour of the three hooks
            // below, but runc still runs it and so must a compatible runtime.
            #[allow(deprecated)]
            HookKind::Prestart => hooks.prestart().as_ref(),
            HookKind::CreateRuntime => hooks.create_runtime().as_ref(),
            HookKind::CreateContainer => hooks.create_container().as_ref(),
            HookKind::StartContainer => hooks.start_container().as_ref(),
            HookKind::Poststart => hooks.poststart().as_ref(),
            HookKind::Poststop => hooks.poststop().as_ref(),
        }
    }
}

impl fmt::Display for HookKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            HookKind::Prestart => "prestart",
            HookKind::CreateRuntime => "createRuntime",
            HookKind::CreateContainer => "createContainer",
            HookKind::StartContainer => "startContainer",
            HookKind::Poststart => "poststart",
            HookKind::Poststop => "poststop",
        })
    }
}

/// A hook that failed, and which one it was (runc's words, with the
/// path): `error running createRuntime hook #0: /usr/bin/foo: exit status
/// 3: <output tail>`.
#[derive(Debug, thiserror::Error)]
#[error("error running {kind} hook #{index}: {}: {failure}", path.display())]
pub struct HookError {
    pub kind: HookKind,
    /// The hook's position among the hooks of its kind, from 0.
    pub index: usize,
    pub path: PathBuf,
    pub failure: HookFailure,
}

/// What went wrong with one hook.
#[derive(Debug, thiserror::Error)]
pub enum HookFailure {
    /// The config describes the hook in a way the runtime spec forbids.
    #[error("{0}")]
    Invalid(String),
    /// The hook could not be executed (missing, not executable, ...).
    #[error("cannot start: {}", crate::os_text(.0))]
    Start(io::Error),
    /// The hook exited non-zero or was killed by a signal.
    #[error("{}{}", describe_status(*.status), with_output(.output))]
    Exit { status: ExitStatus, output: String },
    /// The hook outlasted its timeout and was killed.
    #[error("timed out after {seconds}s{}", with_output(.output))]
    Timeout { seconds: u64, output: String },
    /// Setting up, waiting for or reading the hook failed in jolt itself.
    #[error("{what}: {}", crate::os_text(.error))]
    Io {
        what: &'static str,
        error: io::Error,
    },
}

/// Runs each hook of `kind` in `hooks` (which may be absent) in order,
/// stopping at the first that fails. `state_json` is the serialized OCI
/// state (ociVersion, id, status, pid, bundle, annotations), which every
/// hook receives on its stdin.
pub fn run(hooks: Option<&Hooks>, kind: HookKind, state_json: &[u8]) -> Result<(), HookError> {
    let Some(list) = hooks.and_then(|hooks| kind.select(hooks)) else {
        return Ok(());
    };
    for (index, hook) in list.iter().enumerate() {
        tracing::debug!(%kind, index, path = %hook.path().display(), "running hook");
        run_one(hook, state_json).map_err(|failure| HookError {
            kind,
            index,
            path: hook.path().clone(),
            failure,
        })?;
    }
    Ok(())
}

/// Runs one hook to completion; the hook is never left running or unreaped.
fn run_one(hook: &Hook, state_json: &[u8]) -> Result<(), HookFailure> {
    let mut command = command(hook)?;
    let timeout = timeout(hook)?;

    let mut stdin = memfd("jolt-hook-state")?;
    stdin
        .write_all(state_json)
        .map_err(io_failure("write state"))?;
    stdin.rewind().map_err(io_failure("write state"))?;
    let mut output = memfd("jolt-hook-output")?;
    let stdout = output.try_clone().map_err(io_failure("dup output"))?;
    let stderr = output.try_clone().map_err(io_failure("dup output"))?;
    command.stdin(stdin).stdout(stdout).stderr(stderr);

    let mut child = command.spawn().map_err(HookFailure::Start)?;
    let deadline = timeout.and_then(|timeout| Instant::now().checked_add(timeout));
    let waited = match deadline {
        Some(deadline) => wait_until(&mut child, deadline),
        None => child.wait().map(Some),
    };
    match waited {
        Ok(Some(status)) if status.success() => Ok(()),
        Ok(Some(status)) => Err(HookFailure::Exit {
            status,
            output: tail(&mut output),
        }),
        Ok(None) => {
            kill_and_reap(&mut child);
            Err(HookFailure::Timeout {
                seconds: timeout.map_or(0, |timeout| timeout.as_secs()),
                output: tail(&mut output),
            })
        }
        Err(error) => {
            kill_and_reap(&mut child);
            Err(HookFailure::Io {
                what: "wait",
                error,
            })
        }
    }
}

/// The hook's command: `path`, with `args[0]` as argv[0] if args are given,
/// and exactly the hook's `env` as its environment. The hook leads a process
/// group of its own so that a timeout kills whatever it started, too.
fn command(hook: &Hook) -> Result<Command, HookFailure> {
    let path = hook.path();
    if !path.is_absolute() {
        return Err(HookFailure::Invalid(
            "path is not absolute (the runtime spec requires an absolute path)".to_owned(),
        ));
    }
    let mut command = Command::new(path);
    if let Some((argv0, rest)) = hook.args().as_deref().and_then(<[String]>::split_first) {
        command.arg0(argv0).args(rest);
    }
    command.env_clear();
    for entry in hook.env().iter().flatten() {
        match entry.split_once('=') {
            Some((key, value)) if !key.is_empty() => command.env(key, value),
            _ => {
                return Err(HookFailure::Invalid(format!(
                    "env entry {entry:?} is not KEY=VALUE"
                )))
            }
        };
    }
    command.process_group(0);
    Ok(command)
}

/// The hook's timeout, which the runtime spec requires to be positive.
fn timeout(hook: &Hook) -> Result<Option<Duration>, HookFailure> {
    match hook.timeout() {
        None => Ok(None),
        Some(seconds) if seconds > 0 => Ok(Some(Duration::from_secs(seconds.unsigned_abs()))),
        Some(seconds) => Err(HookFailure::Invalid(format!(
            "timeout must be greater than zero, got {seconds}"
        ))),
    }
}

/// An anonymous in-memory file, closed on exec (the hook gets its copy
/// through its standard streams).
fn memfd(name: &str) -> Result<File, HookFailure> {
    memfd_create(name, MFdFlags::MFD_CLOEXEC)
        .map(File::from)
        .map_err(|errno| HookFailure::Io {
            what: "memfd_create",
            error: errno.into(),
        })
}

/// Waits for `child` until `deadline`: `Ok(None)` if it is still running
/// then. Uses a pidfd, or polls where pidfd_open is unavailable (Linux
/// before 5.3, or a seccomp filter that forbids it).
fn wait_until(child: &mut Child, deadline: Instant) -> io::Result<Option<ExitStatus>> {
    let pid =
        libc::pid_t::try_from(child.id()).map_err(|_| io::Error::from_raw_os_error(libc::ESRCH))?;
    match crate::pidfd::open(pid) {
        Ok(pidfd) => wait_pidfd(child, &pidfd, deadline),
        Err(error) if matches!(error.raw_os_error(), Some(libc::ENOSYS | libc::EPERM)) => {
            wait_polling(child, deadline)
        }
        Err(error) => Err(error),
    }
}

/// The child is ours and not yet reaped, so its pid cannot have been reused
/// and the pidfd refers to it; it becomes readable when the child exits.
fn wait_pidfd(
    child: &mut Child,
    pidfd: &OwnedFd,
    deadline: Instant,
) -> io::Result<Option<ExitStatus>> {
    loop {
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            return child.try_wait();
        }
        let millis = remaining.as_nanos().div_ceil(1_000_000);
        let timeout = PollTimeout::try_from(millis).unwrap_or(PollTimeout::MAX);
        let mut fds = [PollFd::new(pidfd.as_fd(), PollFlags::POLLIN)];
        match nix::poll::poll(&mut fds, timeout) {
            Ok(0) | Err(Errno::EINTR) => continue,
            Ok(_) => return child.wait().map(Some),
            Err(errno) => return Err(errno.into()),
        }
    }
}

fn wait_polling(child: &mut Child, deadline: Instant) -> io::Result<Option<ExitStatus>> {
    let mut pause = Duration::from_millis(1);
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(Some(status));
        }
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            return Ok(None);
        }
        std::thread::sleep(pause.min(remaining));
        pause = (pause * 2).min(Duration::from_millis(50));
    }
}

/// Kills the hook's process group and the hook itself with SIGKILL and reaps
/// the hook. Errors are ignored: the group may be gone already, and the kill
/// of the hook itself is what makes the final wait return.
fn kill_and_reap(child: &mut Child) {
    if let Ok(pid) = libc::pid_t::try_from(child.id()) {
        let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// The last [`OUTPUT_TAIL`] bytes the hook wrote to stdout and stderr,
/// trimmed, with `...` in front if earlier output was cut.
fn tail(output: &mut File) -> String {
    let mut read = || -> io::Result<String> {
        let len = output.seek(SeekFrom::End(0))?;
        let start = len.saturating_sub(OUTPUT_TAIL);
        output.seek(SeekFrom::Start(start))?;
        let mut bytes = Vec::new();
        output.read_to_end(&mut bytes)?;
        let text = String::from_utf8_lossy(&bytes);
        let text = text.trim();
        Ok(if start > 0 {
            format!("...{text}")
        } else {
            text.to_owned()
        })
    };
    read().unwrap_or_else(|error| format!("(cannot read hook output: {})", crate::os_text(&error)))
}

fn io_failure(what: &'static str) -> impl Fn(io::Error) -> HookFailure {
    move |error| HookFailure::Io { what, error }
}

fn describe_status(status: ExitStatus) -> String {
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit status {code}"),
        (None, Some(sig)) => format!("killed by signal {}", signal::name(sig)),
        (None, None) => status.to_string(),
    }
}

fn with_output(output: &str) -> String {
    if output.is_empty() {
        String::new()
    } else {
        format!(": {output}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::{HookBuilder, HooksBuilder};
    use std::fs;
    use std::path::Path;

    const STATE: &[u8] =
        br#"{"ociVersion":"1.2.0","id":"web","status":"creating","pid":42,"bundle":"/b"}"#;

    /// A `/bin/sh -c script` hook whose environment is only `OUT=<out>`.
    fn sh(script: &str, out: &Path) -> Hook {
        HookBuilder::default()
            .path("/bin/sh")
            .args(vec!["sh".to_owned(), "-c".to_owned(), script.to_owned()])
            .env(vec![format!("OUT={}", out.display())])
            .build()
            .unwrap()
    }

    fn create_runtime(hooks: Vec<Hook>) -> Hooks {
        HooksBuilder::default()
            .create_runtime(hooks)
            .build()
            .unwrap()
    }

    fn failure(hook: Hook) -> String {
        let hooks = create_runtime(vec![hook]);
        run(Some(&hooks), HookKind::CreateRuntime, STATE)
            .unwrap_err()
            .to_string()
    }

    /// Whether `pid` is gone or a zombie waiting for someone else to reap it.
    fn dead(pid: &str) -> bool {
        match fs::read_to_string(format!("/proc/{pid}/stat")) {
            Err(_) => true,
            Ok(stat) => stat
                .rsplit_once(')')
                .unwrap()
                .1
                .trim_start()
                .starts_with('Z'),
        }
    }

    #[test]
    fn hook_receives_the_state_on_stdin() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("state");
        let hooks = create_runtime(vec![sh(r#"cat > "$OUT""#, &out)]);

        run(Some(&hooks), HookKind::CreateRuntime, STATE).unwrap();

        assert_eq!(fs::read(&out).unwrap(), STATE);
    }

    #[test]
    fn hooks_run_in_order_and_stop_at_the_first_failure() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("order");
        let hooks = create_runtime(vec![
            sh(r#"echo 0 >> "$OUT""#, &out),
            sh(r#"echo 1 >> "$OUT""#, &out),
            sh(r#"echo 2 >> "$OUT"; exit 1"#, &out),
            sh(r#"echo 3 >> "$OUT""#, &out),
        ]);

        let err = run(Some(&hooks), HookKind::CreateRuntime, STATE).unwrap_err();

        assert_eq!(err.index, 2);
        assert_eq!(err.kind, HookKind::CreateRuntime);
        assert_eq!(fs::read_to_string(&out).unwrap(), "0\n1\n2\n");
    }

    #[test]
    fn only_hooks_of_the_given_kind_run() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("ran");
        let hooks = HooksBuilder::default()
            .poststop(vec![sh(r#"echo poststop >> "$OUT""#, &out)])
            .build()
            .unwrap();

        run(Some(&hooks), HookKind::Poststart, STATE).unwrap();
        run(None, HookKind::Poststop, STATE).unwrap();
        assert!(!out.exists());

        run(Some(&hooks), HookKind::Poststop, STATE).unwrap();
        assert_eq!(fs::read_to_string(&out).unwrap(), "poststop\n");
    }

    #[test]
    fn env_and_argv_are_exactly_the_hooks_own() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("environ");
        let argv = dir.path().join("cmdline");
        let script = format!(
            r#"cat /proc/$$/environ > "$OUT"; cat /proc/$$/cmdline > {}"#,
            argv.display()
        );
        let hook = HookBuilder::default()
            .path("/bin/sh")
            .args(vec!["my-hook".to_owned(), "-c".to_owned(), script.clone()])
            .env(vec![
                format!("OUT={}", out.display()),
                "GREETING=hello world".to_owned(),
                "EMPTY=".to_owned(),
                "WITH_EQUALS=a=b".to_owned(),
            ])
            .build()
            .unwrap();
        let hooks = create_runtime(vec![hook]);

        run(Some(&hooks), HookKind::CreateRuntime, STATE).unwrap();

        let environ = fs::read_to_string(&out).unwrap();
        let mut vars: Vec<&str> = environ.split_terminator('\0').collect();
        vars.sort_unstable();
        let expected_out = format!("OUT={}", out.display());
        assert_eq!(
            vars,
            [
                "EMPTY=",
                "GREETING=hello world",
                expected_out.as_str(),
                "WITH_EQUALS=a=b"
            ]
        );
        let cmdline = fs::read_to_string(&argv).unwrap();
        assert_eq!(cmdline, format!("my-hook\0-c\0{script}\0"));
    }

    #[test]
    fn failing_hook_reports_its_exit_status_and_output() {
        let dir = tempfile::tempdir().unwrap();
        let hook = sh("echo to stdout; echo to stderr >&2; exit 3", dir.path());

        assert_eq!(
            failure(hook),
            "error running createRuntime hook #0: /bin/sh: exit status 3: to stdout\nto stderr"
        );
    }

    #[test]
    fn failing_hook_without_output_reports_just_the_status() {
        let dir = tempfile::tempdir().unwrap();

        assert_eq!(
            failure(sh("exit 1", dir.path())),
            "error running createRuntime hook #0: /bin/sh: exit status 1"
        );
    }

    #[test]
    fn only_the_tail_of_a_long_output_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let script = "i=0; while [ $i -lt 2000 ]; do echo line $i; i=$((i+1)); done; exit 1";

        let message = failure(sh(script, dir.path()));

        assert!(
            message.starts_with("error running createRuntime hook #0: /bin/sh: exit status 1: ...")
        );
        assert!(message.ends_with("line 1999"), "{message}");
        assert!(!message.contains("line 0\n"));
        assert!(message.len() < 600, "{} bytes", message.len());
    }

    #[test]
    fn hook_killed_by_a_signal_is_a_failure() {
        let dir = tempfile::tempdir().unwrap();

        assert_eq!(
            failure(sh("kill -SEGV $$", dir.path())),
            "error running createRuntime hook #0: /bin/sh: killed by signal SIGSEGV"
        );
    }

    #[test]
    fn hook_that_outlasts_its_timeout_is_killed_with_what_it_started() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("pids");
        let mut hook = sh(
            r#"sleep 30 & echo $$ $! > "$OUT"; echo waiting; wait"#,
            &out,
        );
        hook.set_timeout(Some(1));
        let hooks = HooksBuilder::default()
            .poststart(vec![sh("true", &out), hook])
            .build()
            .unwrap();

        let started = Instant::now();
        let err = run(Some(&hooks), HookKind::Poststart, STATE).unwrap_err();
        let took = started.elapsed();

        assert_eq!(
            err.to_string(),
            "error running poststart hook #1: /bin/sh: timed out after 1s: waiting"
        );
        assert!(took >= Duration::from_secs(1), "{took:?}");
        assert!(took < Duration::from_secs(3), "{took:?}");
        let pids = fs::read_to_string(&out).unwrap();
        let (hook_pid, sleep_pid) = pids.trim().split_once(' ').unwrap();
        // The hook was our child and is reaped: nothing is left of it.
        assert!(!Path::new(&format!("/proc/{hook_pid}")).exists());
        // Its background sleep is killed (and reaped by init, eventually).
        let gone_by = Instant::now() + Duration::from_secs(2);
        while !dead(sleep_pid) && Instant::now() < gone_by {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(dead(sleep_pid), "sleep {sleep_pid} still running");
    }

    #[test]
    fn hook_that_finishes_within_its_timeout_succeeds() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("done");
        let mut hook = sh(r#"sleep 0.1; echo done > "$OUT""#, &out);
        hook.set_timeout(Some(5));
        let hooks = create_runtime(vec![hook]);

        let started = Instant::now();
        run(Some(&hooks), HookKind::CreateRuntime, STATE).unwrap();

        assert!(started.elapsed() < Duration::from_secs(2));
        assert_eq!(fs::read_to_string(&out).unwrap(), "done\n");
    }

    #[test]
    fn missing_binary_cannot_start() {
        let hook = HookBuilder::default()
            .path("/nonexistent/hook")
            .build()
            .unwrap();
        // The spec deprecates prestart, but configs still use it.
        #[allow(deprecated)]
        let hooks = HooksBuilder::default()
            .prestart(vec![hook])
            .build()
            .unwrap();

        let err = run(Some(&hooks), HookKind::Prestart, STATE).unwrap_err();

        assert_eq!(
            err.to_string(),
            "error running prestart hook #0: /nonexistent/hook: cannot start: No such file or directory"
        );
        assert!(matches!(err.failure, HookFailure::Start(_)));
    }

    #[test]
    fn hook_that_ignores_a_large_state_succeeds() {
        let state = vec![b' '; 4 << 20];
        let hook = HookBuilder::default().path("/bin/true").build().unwrap();
        let hooks = create_runtime(vec![hook]);

        run(Some(&hooks), HookKind::CreateRuntime, &state).unwrap();
    }

    #[test]
    fn hooks_the_spec_forbids_are_rejected_before_they_run() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("ran");

        let relative = HookBuilder::default().path("bin/sh").build().unwrap();
        assert_eq!(
            failure(relative),
            "error running createRuntime hook #0: bin/sh: path is not absolute \
             (the runtime spec requires an absolute path)"
        );

        let mut zero = sh(r#"touch "$OUT""#, &out);
        zero.set_timeout(Some(0));
        assert_eq!(
            failure(zero),
            "error running createRuntime hook #0: /bin/sh: timeout must be greater than zero, got 0"
        );

        let mut bad_env = sh(r#"touch "$OUT""#, &out);
        bad_env
            .env_mut()
            .as_mut()
            .unwrap()
            .push("NOEQUALS".to_owned());
        assert_eq!(
            failure(bad_env),
            "error running createRuntime hook #0: /bin/sh: env entry \"NOEQUALS\" is not KEY=VALUE"
        );

        assert!(!out.exists());
    }

    #[test]
    fn polling_fallback_waits_and_times_out() {
        let mut quick = Command::new("/bin/true").spawn().unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        let status = wait_polling(&mut quick, deadline).unwrap();
        assert!(status.unwrap().success());

        let mut slow = Command::new("/bin/sleep")
            .arg("30")
            .process_group(0)
            .spawn()
            .unwrap();
        let started = Instant::now();
        let deadline = started + Duration::from_millis(200);
        assert!(wait_polling(&mut slow, deadline).unwrap().is_none());
        assert!(started.elapsed() < Duration::from_secs(1));
        kill_and_reap(&mut slow);
        assert!(slow.try_wait().unwrap().is_some());
    }

    #[test]
    fn kinds_display_as_the_specs_names() {
        let names: Vec<String> = [
            HookKind::Prestart,
            HookKind::CreateRuntime,
            HookKind::CreateContainer,
            HookKind::StartContainer,
            HookKind::Poststart,
            HookKind::Poststop,
        ]
        .iter()
        .map(ToString::to_string)
        .collect();
        assert_eq!(
            names,
            [
                "prestart",
                "createRuntime",
                "createContainer",
                "startContainer",
                "poststart",
                "poststop"
            ]
        );
    }
}
