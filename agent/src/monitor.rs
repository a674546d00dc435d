//! monitor: the small process that stays with one run of a container, as
//! conmon does for podman.
//!
//! joltd starts it as `joltd monitor ...`; it forks away from joltd into a
//! session of its own and becomes a child subreaper, so the container's
//! init (whose parent, the `jolt create` intermediate, exits) becomes its
//! child. It runs `jolt create` and `jolt start`, copies the container's
//! stdout and stderr line by line into the log (the `logs` module's
//! writer: size limit, rotation, lines lost to a full disk counted),
//! waits for the init, records its exit status durably in `exit.json`,
//! and runs `jolt delete`. Its pid and start time are in `monitor.json`
//! before anything is created, so a joltd that was killed at any point can
//! find it again. joltd dying changes nothing for it. The space
//! `exit.json` needs is set aside at the start, so a disk that fills while
//! the container runs does not cost its exit status, and a status that
//! cannot be written still lets the monitor clean up.
//!
//! Talking to joltd: one line on stdout once the container runs (`ok
//! MONITOR_PID INIT_PID`) or failed (`error MESSAGE`), then it waits for
//! joltd to close its stdin, which joltd does once it holds a pidfd of the
//! monitor: the monitor cannot exit, and its pid be reused, before then.
//!
//! This module also owns the process identity checks joltd uses to
//! re-adopt a monitor (pidfd, start time).

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};

use jolt_runtime::pidfd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::{ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{fork, ForkResult, Pid};
use serde::{Deserialize, Serialize};

use crate::container::Exit;
use crate::logs::{self, Limit};
use crate::oci::{last_line, Jolt};
use crate::store::{read_json, reserve_durable, write_json, StoreError};

/// The monitor's pid file in the container's directory.
pub const MONITOR_FILE: &str = "monitor.json";
/// The init's exit status, written by the monitor.
pub const EXIT_FILE: &str = "exit.json";
/// The space set aside for [`EXIT_FILE`] (it takes about 100 bytes).
const EXIT_RESERVE: usize = 1024;
/// The monitor's own messages.
pub const MONITOR_LOG: &str = "monitor.log";
/// The bundle joltd writes for `jolt create`.
pub const BUNDLE_DIR: &str = "bundle";

/// Longest log line; a longer one is split.
const MAX_LINE: u64 = 16 * 1024;

/// Who the monitor is, and the init it watches once it runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MonitorInfo {
    pub pid: i32,
    /// Field 22 of /proc/PID/stat: tells this process from a later one
    /// with the same pid.
    pub start_time: u64,
    pub init_pid: Option<i32>,
}

/// What `joltd monitor` is told.
#[derive(Debug, Clone)]
pub struct Args {
    pub jolt: Jolt,
    pub id: String,
    /// The container's directory.
    pub dir: PathBuf,
    /// Where the container's log files go.
    pub log_dir: PathBuf,
    pub log_limit: Limit,
}

impl Args {
    /// The command line after `joltd monitor`.
    pub fn to_args(&self) -> Vec<std::ffi::OsString> {
        vec![
            "--jolt".into(),
            self.jolt.bin.clone().into(),
            "--root".into(),
            self.jolt.root.clone().into(),
            "--dir".into(),
            self.dir.clone().into(),
            "--log-dir".into(),
            self.log_dir.clone().into(),
            "--log-max-size".into(),
            self.log_limit.max_size().to_string().into(),
            "--log-max-files".into(),
            self.log_limit.max_files().to_string().into(),
            self.id.clone().into(),
        ]
    }
}

/// The body of `joltd monitor`. Must run before any thread exists (it
/// forks). Returns the exit status of the process it is in.
pub fn main(args: &Args) -> i32 {
    // SAFETY: single-threaded here; the parent only exits.
    match unsafe { fork() } {
        Ok(ForkResult::Parent { .. }) => return 0,
        Ok(ForkResult::Child) => {}
        Err(e) => {
            say(&format!("error monitor: fork: {}", e.desc()));
            return 1;
        }
    }
    match monitor(args) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("monitor {}: {e}", args.id);
            1
        }
    }
}

fn monitor(args: &Args) -> Result<(), String> {
    nix::unistd::setsid().map_err(|e| format!("setsid: {}", e.desc()))?;
    nix::sys::prctl::set_child_subreaper(true)
        .map_err(|e| format!("PR_SET_CHILD_SUBREAPER: {}", e.desc()))?;
    // A handler, not SIG_IGN: the container inherits neither, since exec
    // resets handlers, where an ignored signal would stay ignored.
    extern "C" fn ignore(_: libc::c_int) {}
    let action = SigAction::new(
        SigHandler::Handler(ignore),
        SaFlags::SA_RESTART,
        SigSet::empty(),
    );
    for sig in [Signal::SIGTERM, Signal::SIGINT, Signal::SIGHUP] {
        // SAFETY: the handler does nothing.
        unsafe { sigaction(sig, &action) }.map_err(|e| format!("sigaction: {}", e.desc()))?;
    }
    let me = std::process::id() as i32;
    let mut info = MonitorInfo {
        pid: me,
        start_time: pidfd::start_time(me).ok_or_else(|| format!("/proc/{me}/stat: unreadable"))?,
        init_pid: None,
    };
    let info_path = args.dir.join(MONITOR_FILE);
    write_json(&info_path, &info).map_err(|e| e.to_string())?;
    let exit_path = args.dir.join(EXIT_FILE);
    if let Err(e) = reserve_durable(&exit_path, EXIT_RESERVE) {
        eprintln!("monitor {}: {}: {e}", args.id, exit_path.display());
    }

    let init = match start(args) {
        Ok(init) => init,
        Err(e) => {
            say(&format!("error {e}"));
            return Err(e);
        }
    };
    info.init_pid = Some(init.pid.as_raw());
    write_json(&info_path, &info).map_err(|e| e.to_string())?;
    say(&format!("ok {} {}", info.pid, init.pid));
    // Until joltd holds our pidfd (or is gone), then no more stdio.
    let _ = io::stdin().read_to_end(&mut Vec::new());
    detach_stdio();

    let exit = wait_for(init.pid);
    for t in init.copiers {
        let _ = t.join();
    }
    init.log.lock().unwrap().mark(&now());
    if let Some(exit) = &exit {
        // joltd then records the exit as unknown; the clean-up goes on.
        if let Err(e) = write_json(&exit_path, exit) {
            eprintln!("monitor {}: {e}", args.id);
        }
    }
    args.jolt.delete(&args.id).map_err(|e| e.to_string())?;
    match exit {
        Some(_) => Ok(()),
        None => Err(format!("lost track of init {}", init.pid)),
    }
}

struct Init {
    pid: Pid,
    copiers: Vec<JoinHandle<()>>,
    log: Arc<Mutex<logs::Writer>>,
}

/// `jolt create` with the log pipes as its (and the container's) stdout
/// and stderr, then `jolt start`. On failure, what jolt said, and nothing
/// left: `jolt delete --force`, the copiers joined.
fn start(args: &Args) -> Result<Init, String> {
    let warn = |msg| eprintln!("monitor {}: {msg}", args.id);
    let log = logs::Writer::open(&args.log_dir, args.log_limit, warn)
        .map_err(|e| format!("log {}: {e}", args.log_dir.display()))?;
    let log = Arc::new(Mutex::new(log));
    let captured = Arc::new(Mutex::new(Vec::new()));
    let (out_r, out_w) = pipe()?;
    let (err_r, err_w) = pipe()?;
    let copiers = vec![
        copier(out_r, "stdout", log.clone(), None),
        copier(err_r, "stderr", log.clone(), Some(captured.clone())),
    ];
    let pid_file = args.dir.join("init.pid");
    let status = args
        .jolt
        .create(&args.id, &args.dir.join(BUNDLE_DIR), &pid_file)
        .stdout(Stdio::from(out_w))
        .stderr(Stdio::from(err_w))
        .status();
    let clean_up = |copiers: Vec<JoinHandle<()>>| {
        let _ = args.jolt.delete(&args.id);
        for t in copiers {
            let _ = t.join();
        }
        let _ = fs::remove_file(&pid_file);
    };
    match status {
        Ok(s) if s.success() => {}
        Ok(s) => {
            clean_up(copiers);
            let said = last_line(&captured.lock().unwrap()).unwrap_or_else(|| s.to_string());
            return Err(format!("jolt create: {said}"));
        }
        Err(e) => {
            clean_up(copiers);
            return Err(format!("jolt create: {}: {e}", args.jolt.bin.display()));
        }
    }
    let pid = fs::read_to_string(&pid_file)
        .ok()
        .and_then(|s| s.trim().parse::<i32>().ok());
    let _ = fs::remove_file(&pid_file);
    let Some(pid) = pid else {
        clean_up(copiers);
        return Err("jolt create wrote no pid file".into());
    };
    if let Err(e) = args.jolt.start(&args.id) {
        clean_up(copiers);
        return Err(e.to_string());
    }
    Ok(Init {
        pid: Pid::from_raw(pid),
        copiers,
        log,
    })
}

fn pipe() -> Result<(OwnedFd, OwnedFd), String> {
    nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| format!("pipe: {}", e.desc()))
}

/// Copies lines from `from` into the log until every writer is gone;
/// keeps the first 4 KiB in `capture` when given.
fn copier(
    from: OwnedFd,
    stream: &'static str,
    log: Arc<Mutex<logs::Writer>>,
    capture: Option<Arc<Mutex<Vec<u8>>>>,
) -> JoinHandle<()> {
    std::thread::spawn(move || {
        let mut reader = BufReader::new(File::from(from));
        let mut line = Vec::new();
        loop {
            line.clear();
            match (&mut reader).take(MAX_LINE).read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            if let Some(c) = &capture {
                let mut c = c.lock().unwrap();
                let room = 4096usize.saturating_sub(c.len());
                c.extend_from_slice(&line[..line.len().min(room)]);
            }
            let text = line.strip_suffix(b"\n").unwrap_or(&line);
            log.lock().unwrap().write(&now(), stream, text);
        }
    })
}

/// Reaps children (the init, and orphans of the container that the
/// subreaper inherits) until the init exits; None when it cannot be waited
/// for.
fn wait_for(init: Pid) -> Option<Exit> {
    loop {
        match waitpid(None, None) {
            Ok(WaitStatus::Exited(pid, code)) if pid == init => {
                return Some(Exit {
                    code,
                    signal: None,
                    at: now(),
                })
            }
            Ok(WaitStatus::Signaled(pid, sig, _)) if pid == init => {
                return Some(Exit {
                    code: 128 + sig as i32,
                    signal: Some(sig as i32),
                    at: now(),
                })
            }
            Ok(_) | Err(nix::errno::Errno::EINTR) => {}
            Err(_) => return None,
        }
    }
}

/// One line to joltd; it may be gone, which is no reason to stop.
fn say(line: &str) {
    let mut out = io::stdout().lock();
    let _ = writeln!(out, "{line}").and_then(|()| out.flush());
}

/// Points stdin and stdout at /dev/null: joltd's pipes may be gone.
fn detach_stdio() {
    if let Ok(null) = File::options().read(true).write(true).open("/dev/null") {
        for fd in [0, 1] {
            // SAFETY: dup2 onto our own stdio numbers.
            unsafe { libc::dup2(null.as_raw_fd(), fd) };
        }
    }
}

pub use jolt_runtime::state::now_rfc3339 as now;

/// A started monitor, as joltd sees it.
#[derive(Debug)]
pub struct Started {
    pub monitor_pid: i32,
    pub init_pid: i32,
    /// Dropping it lets the monitor go on: do so once its pidfd is open.
    pub ack: ChildStdin,
}

/// Starts `joltd monitor` (the binary `exe`) for `args` and waits until
/// the container runs or failed. Blocking.
pub fn spawn(exe: &Path, args: &Args) -> Result<Started, String> {
    let log_path = args.dir.join(MONITOR_LOG);
    let log = OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(&log_path)
        .map_err(|e| format!("{}: {e}", log_path.display()))?;
    let mut child = Command::new(exe)
        .current_dir("/")
        .arg("monitor")
        .args(args.to_args())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .map_err(|e| format!("{} monitor: {e}", exe.display()))?;
    let ack = child.stdin.take().expect("piped");
    let mut out = BufReader::new(child.stdout.take().expect("piped"));
    // The first process only forks the monitor and exits.
    let _ = child.wait();
    let mut line = String::new();
    let _ = out.read_line(&mut line);
    let line = line.trim_end();
    if let Some(msg) = line.strip_prefix("error ") {
        return Err(msg.to_string());
    }
    let pids: Vec<i32> = line
        .strip_prefix("ok ")
        .unwrap_or_default()
        .split(' ')
        .filter_map(|p| p.parse().ok())
        .collect();
    match pids[..] {
        [monitor_pid, init_pid] => Ok(Started {
            monitor_pid,
            init_pid,
            ack,
        }),
        _ => Err(format!(
            "the monitor stopped without a word (see {})",
            log_path.display()
        )),
    }
}

/// Reads the monitor's pid file in `dir`.
pub fn info(dir: &Path) -> Result<Option<MonitorInfo>, StoreError> {
    read_json(&dir.join(MONITOR_FILE))
}

/// Reads the exit status the monitor recorded in `dir`.
pub fn exit(dir: &Path) -> Result<Option<Exit>, StoreError> {
    read_json(&dir.join(EXIT_FILE))
}

/// A pidfd of the monitor `info` describes, if that process still runs
/// (the pid and the start time both match).
pub fn adopt(info: &MonitorInfo) -> Option<OwnedFd> {
    let fd = pidfd::open(info.pid).ok()?;
    (pidfd::start_time(info.pid)? == info.start_time).then_some(fd)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pidfd_tells_a_live_process_from_a_reused_pid() {
        let me = std::process::id() as i32;
        let live = MonitorInfo {
            pid: me,
            start_time: pidfd::start_time(me).unwrap(),
            init_pid: None,
        };
        assert!(adopt(&live).is_some());
        let reused = MonitorInfo {
            start_time: live.start_time + 1,
            ..live
        };
        assert!(adopt(&reused).is_none());
    }
}
