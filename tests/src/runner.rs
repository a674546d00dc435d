//! runner: the `jolt` binary, run with a per-test `--root`, and the guard
//! that tears down whatever a test created.
//!
//! Owns one temp directory per test (state root, bundles, host dirs, the
//! files that hold each invocation's stdout and stderr), the containers a
//! test created (so Drop can force-delete them even after a panic) and the
//! "nothing left behind" check. It does not build bundles (see `bundle`)
//! or read the host's cgroup and mount tables itself (see `host`).
//!
//! Every invocation writes stdout and stderr to files, never pipes: a
//! container created with terminal false inherits them, and a pipe would
//! keep the reader waiting until the container exits.

use std::cell::{Cell, RefCell};
use std::ffi::{OsStr, OsString};
use std::fmt;
use std::fs::{self, File};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use serde_json::Value;
use tempfile::TempDir;

use crate::bundle::Bundle;
use crate::console::ConsoleSocket;
use crate::host;

/// Set in every jolt invocation's environment; a container must not see it.
pub const HOST_ONLY_ENV: &str = "JOLT_E2E_HOST_ONLY";

/// The cgroup path jolt uses when config.json has no linux.cgroupsPath.
pub fn default_cgroup_path(id: &str) -> String {
    format!("/jolt/{id}")
}

/// The `jolt` binary under test: `$JOLT_BIN`, else `jolt` beside this test
/// binary's profile directory (so CARGO_TARGET_DIR and --release work),
/// else `<CARGO_TARGET_DIR or workspace/target>/debug/jolt`.
pub fn jolt_bin() -> PathBuf {
    if let Some(bin) = std::env::var_os("JOLT_BIN").filter(|b| !b.is_empty()) {
        return bin.into();
    }
    // <target>/<profile>/deps/runtime-<hash>
    if let Some(profile) = std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.parent()?.to_path_buf()))
    {
        if profile.join("jolt").is_file() {
            return profile.join("jolt");
        }
    }
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ lives in the workspace");
    let target = match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => workspace.join(dir),
        None => workspace.join("target"),
    };
    target.join("debug").join("jolt")
}

/// What one jolt invocation did.
#[derive(Debug)]
pub struct Output {
    /// The command line, for messages.
    pub command: String,
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    /// The exit code, or 128+N when jolt itself was killed by signal N.
    pub fn code(&self) -> i32 {
        match (self.status.code(), self.status.signal()) {
            (Some(code), _) => code,
            (None, Some(sig)) => 128 + sig,
            (None, None) => -1,
        }
    }

    pub fn success(&self) -> bool {
        self.status.success()
    }

    #[track_caller]
    pub fn assert_success(&self) -> &Self {
        assert!(self.success(), "expected success:\n{self}");
        self
    }

    #[track_caller]
    pub fn assert_failure(&self) -> &Self {
        assert!(!self.success(), "expected a failure:\n{self}");
        assert_eq!(self.code(), 1, "errors exit with status 1:\n{self}");
        self
    }

    #[track_caller]
    pub fn assert_code(&self, code: i32) -> &Self {
        assert_eq!(self.code(), code, "unexpected exit status:\n{self}");
        self
    }

    #[track_caller]
    pub fn assert_stderr_contains(&self, needle: &str) -> &Self {
        self.assert_shows("stderr", &self.stderr, needle)
    }

    #[track_caller]
    pub fn assert_stdout_contains(&self, needle: &str) -> &Self {
        self.assert_shows("stdout", &self.stdout, needle)
    }
}

impl Output {
    /// Asserts that `text`, this output's `stream`, contains `needle`.
    #[track_caller]
    fn assert_shows(&self, stream: &str, text: &str, needle: &str) -> &Self {
        assert!(
            text.contains(needle),
            "expected {needle:?} on {stream}:\n{self}"
        );
        self
    }
}

impl fmt::Display for Output {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "`{}` exited with {}", self.command, self.code())?;
        writeln!(f, "--- stdout\n{}", self.stdout.trim_end())?;
        write!(f, "--- stderr\n{}", self.stderr.trim_end())
    }
}

/// What an argument list asks jolt to do, as far as cleanup cares.
#[derive(Debug, Default)]
struct Invocation {
    sub: Option<String>,
    id: Option<String>,
    bundle: Option<PathBuf>,
    detach: bool,
}

impl Invocation {
    fn parse(args: &[OsString]) -> Invocation {
        const GLOBAL_VALUE: &[&str] = &["--root", "--log", "--log-format", "--criu"];
        const VALUE: &[&str] = &[
            "--bundle",
            "-b",
            "--pid-file",
            "--console-socket",
            "--preserve-fds",
            "--format",
            "-f",
        ];
        let args: Vec<String> = args
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        let mut inv = Invocation::default();
        let mut rest = args.iter();
        while let Some(arg) = rest.next() {
            if !arg.starts_with('-') {
                inv.sub = Some(arg.clone());
                break;
            }
            if GLOBAL_VALUE.contains(&arg.as_str()) {
                rest.next();
            }
        }
        while let Some(arg) = rest.next() {
            match arg.as_str() {
                "--bundle" | "-b" => inv.bundle = rest.next().map(PathBuf::from),
                "--detach" | "-d" => inv.detach = true,
                a if VALUE.contains(&a) => {
                    rest.next();
                }
                a if a.starts_with("--bundle=") => {
                    inv.bundle = Some(PathBuf::from(&a["--bundle=".len()..]))
                }
                a if a.starts_with('-') => {}
                a if inv.id.is_none() => inv.id = Some(a.to_string()),
                _ => {}
            }
        }
        inv
    }

    /// create, or run --detach: the container outlives the invocation and
    /// keeps writing to the invocation's stdout and stderr.
    fn detached(&self) -> bool {
        matches!(self.sub.as_deref(), Some("create"))
            || (self.sub.as_deref() == Some("run") && self.detach)
    }
}

/// A container this test asked for, tracked for cleanup and checks.
#[derive(Debug, Clone)]
struct Tracked {
    id: String,
    bundle: PathBuf,
    /// Where a detached container's stdout and stderr go.
    io: Option<(PathBuf, PathBuf)>,
}

static NEXT_ID: AtomicU32 = AtomicU32::new(0);

/// The jolt binary bound to a fresh temp `--root`. Dropping it
/// force-deletes every container the test created (even after a panic),
/// kills what a broken runtime may have left, unmounts anything below its
/// temp dir and removes the temp dir.
pub struct Jolt {
    bin: PathBuf,
    base: Option<TempDir>,
    base_path: PathBuf,
    root: PathBuf,
    seq: Cell<u32>,
    containers: RefCell<Vec<Tracked>>,
    /// IDs made by [`Jolt::id`]; only these are torn down on drop.
    generated: RefCell<Vec<String>>,
}

impl Jolt {
    /// A runner with an empty state root. Panics if the binary is missing.
    pub fn new() -> Jolt {
        let bin = jolt_bin();
        assert!(
            bin.is_file() || std::env::var_os("JOLT_BIN").is_some_and(|b| !b.is_empty()),
            "{} not found: build it first (cargo build -p jolt-runtime) or set JOLT_BIN",
            bin.display()
        );
        let base = tempfile::Builder::new()
            .prefix("jolt-e2e-")
            .tempdir()
            .expect("creating a temp dir");
        let base_path = base.path().to_path_buf();
        // Bundles live below; a container root in a user namespace must be
        // able to walk down to its rootfs.
        fs::set_permissions(&base_path, fs::Permissions::from_mode(0o755)).unwrap();
        fs::create_dir(base_path.join("io")).unwrap();
        Jolt {
            bin,
            root: base_path.join("root"),
            base: Some(base),
            base_path,
            seq: Cell::new(0),
            containers: RefCell::new(Vec::new()),
            generated: RefCell::new(Vec::new()),
        }
    }

    /// The `--root` every invocation gets (jolt creates it).
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// This test's temp dir; everything the test makes lives below it.
    pub fn base(&self) -> &Path {
        &self.base_path
    }

    fn next(&self) -> u32 {
        let n = self.seq.get();
        self.seq.set(n + 1);
        n
    }

    /// A container ID unique to this test process and call:
    /// `e2e-<name>-<pid>-<n>`.
    pub fn id(&self, name: &str) -> String {
        let n = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        let id = format!("e2e-{name}-{}-{n}", std::process::id());
        self.generated.borrow_mut().push(id.clone());
        id
    }

    /// A fresh bundle (see [`Bundle`]) below this test's temp dir.
    pub fn bundle(&self) -> Bundle {
        let dir = self.base_path.join(format!("bundle{}", self.next()));
        Bundle::create(self, dir)
    }

    /// A fresh empty host directory (mode 0755) below this test's temp dir.
    pub fn host_dir(&self, name: &str) -> PathBuf {
        let dir = self.base_path.join(format!("{name}{}", self.next()));
        fs::create_dir(&dir).unwrap();
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
        dir
    }

    /// A path below this test's temp dir that does not exist yet.
    pub fn host_path(&self, name: &str) -> PathBuf {
        self.base_path.join(format!("{name}{}", self.next()))
    }

    /// Runs `jolt --root <root> ARGS...` and waits for it (at most
    /// [`crate::timeout`]).
    #[track_caller]
    pub fn run<I, S>(&self, args: I) -> Output
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        or_panic(self.exec(None, collect(args)))
    }

    /// [`Jolt::run`] with `dir` as the working directory.
    #[track_caller]
    pub fn run_in<I, S>(&self, dir: &Path, args: I) -> Output
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        or_panic(self.exec(Some(dir), collect(args)))
    }

    /// Runs and asserts success.
    #[track_caller]
    pub fn ok<I, S>(&self, args: I) -> Output
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let out = self.run(args);
        out.assert_success();
        out
    }

    /// Runs and asserts failure (exit status 1).
    #[track_caller]
    pub fn fails<I, S>(&self, args: I) -> Output
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let out = self.run(args);
        out.assert_failure();
        out
    }

    /// A `jolt --root <root>` command with stdin from /dev/null, for tests
    /// that need to set up the child themselves (extra fds).
    pub fn command(&self) -> Command {
        let mut cmd = Command::new(&self.bin);
        cmd.arg("--root")
            .arg(&self.root)
            .stdin(Stdio::null())
            .env(HOST_ONLY_ENV, "leaked");
        cmd
    }

    fn io_files(&self, label: &str) -> (PathBuf, PathBuf) {
        let n = self.next();
        let io = self.base_path.join("io");
        (
            io.join(format!("{n:03}-{label}.out")),
            io.join(format!("{n:03}-{label}.err")),
        )
    }

    /// [`Jolt::run`], letting `setup` adjust the command first (to pass
    /// extra file descriptors, say).
    #[track_caller]
    pub fn run_with<I, S>(&self, args: I, setup: impl FnOnce(&mut Command)) -> Output
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        or_panic(self.exec_with(None, collect(args), setup))
    }

    /// Runs `jolt --root <root> ARGS...` on a pseudo-terminal of its own,
    /// as a person at a terminal would (util-linux `script`, stdin from
    /// /dev/null), and waits for it. stdout is everything the terminal
    /// showed (with `\r\n` line ends); the exit status is jolt's.
    #[track_caller]
    pub fn run_in_pty<I, S>(&self, args: I) -> Output
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let args = collect(args);
        let mut line = shell_quote(self.bin.as_os_str());
        for arg in [OsStr::new("--root"), self.root.as_os_str()]
            .into_iter()
            .chain(args.iter().map(OsString::as_os_str))
        {
            line.push(' ');
            line.push_str(&shell_quote(arg));
        }
        let mut cmd = Command::new("script");
        cmd.args(["-q", "-e", "-c", &line, "/dev/null"])
            .stdin(Stdio::null())
            .env("SHELL", "/bin/sh")
            .env(HOST_ONLY_ENV, "leaked");
        or_panic(self.exec_command(None, args, cmd))
    }

    /// A console socket (see [`ConsoleSocket`]) below this test's temp dir,
    /// for `--console-socket`.
    pub fn console_socket(&self) -> ConsoleSocket {
        ConsoleSocket::bind(self.host_path("console.sock"))
    }

    /// `jolt run <new id> --bundle B` in the foreground for a container
    /// that should exit 0: asserts that, and that it left nothing behind.
    #[track_caller]
    pub fn run_ok(&self, name: &str, bundle: &Bundle) -> Output {
        self.run_ok_with(name, &[], bundle)
    }

    /// [`Jolt::run_ok`] with extra `flags` for `jolt run` (`--no-pivot`,
    /// say).
    #[track_caller]
    pub fn run_ok_with(&self, name: &str, flags: &[&str], bundle: &Bundle) -> Output {
        let id = self.id(name);
        let mut args = vec!["run"];
        args.extend_from_slice(flags);
        args.extend(["--bundle", bundle.dir(), &id]);
        let out = self.ok(args);
        self.assert_clean(&id);
        out
    }

    /// `jolt create --bundle B ID`; asserts success.
    #[track_caller]
    pub fn create(&self, id: &str, bundle: &Bundle) -> Output {
        self.ok(["create", "--bundle", bundle.dir(), id])
    }

    /// `jolt create` then `jolt start`, as a user starting a container by
    /// hand; asserts both succeed.
    #[track_caller]
    pub fn create_and_start(&self, id: &str, bundle: &Bundle) {
        self.create(id, bundle);
        self.ok(["start", id]);
    }

    /// `jolt create --bundle B ID` that must fail (exit 1) and leave nothing
    /// behind; returns the output for checks of what it said.
    #[track_caller]
    pub fn create_fails(&self, id: &str, bundle: &Bundle) -> Output {
        let out = self.fails(["create", "--bundle", bundle.dir(), id]);
        self.assert_clean(id);
        out
    }

    /// `runc run --bundle B ID` in the foreground, with a root of this
    /// test's, whatever it exits with: the same bundle through runc, for a
    /// side-by-side check. None where runc is not installed.
    pub fn runc_run(&self, name: &str, bundle: &Bundle) -> Option<std::process::Output> {
        self.runc_run_with(name, &[], bundle)
    }

    /// [`Jolt::runc_run`] with `flags` after `run`.
    pub fn runc_run_with(
        &self,
        name: &str,
        flags: &[&str],
        bundle: &Bundle,
    ) -> Option<std::process::Output> {
        let runc = crate::image::which("runc")?;
        let out = Command::new(runc)
            .arg("--root")
            .arg(self.host_dir("runc-root"))
            .arg("run")
            .args(flags)
            .args(["--bundle", bundle.dir(), &self.id(name)])
            .stdin(Stdio::null())
            .output()
            .expect("running runc");
        Some(out)
    }

    /// `jolt run --bundle B ID` in the foreground, whatever it exits with.
    #[track_caller]
    pub fn run_container(&self, id: &str, bundle: &Bundle) -> Output {
        self.run(["run", "--bundle", bundle.dir(), id])
    }

    /// `jolt run --bundle B ID` in the foreground, not waited for; returns
    /// once the container has printed `ready` on stdout.
    #[track_caller]
    pub fn spawn_until_ready(&self, id: &str, bundle: &Bundle) -> Spawned {
        let run = self.spawn(["run", "--bundle", bundle.dir(), id]);
        run.wait_for_stdout("ready");
        run
    }

    /// `jolt kill ID SIGNAL`, then waits for the container to be stopped.
    #[track_caller]
    pub fn kill_until_stopped(&self, id: &str, signal: &str) {
        self.ok(["kill", id, signal]);
        self.wait_for_status(id, "stopped");
    }

    /// `jolt delete ID`; asserts it succeeds and leaves nothing behind.
    #[track_caller]
    pub fn delete(&self, id: &str) {
        self.ok(["delete", id]);
        self.assert_clean(id);
    }

    /// `jolt delete --force ID`; asserts it succeeds and leaves nothing
    /// behind.
    #[track_caller]
    pub fn force_delete(&self, id: &str) {
        self.ok(["delete", "--force", id]);
        self.assert_clean(id);
    }

    /// Asserts that `jolt state ID` fails, saying the container does not
    /// exist.
    #[track_caller]
    pub fn assert_unknown(&self, id: &str) {
        self.fails(["state", id])
            .assert_stderr_contains("does not exist");
    }

    fn exec(&self, cwd: Option<&Path>, args: Vec<OsString>) -> Result<Output, String> {
        self.exec_with(cwd, args, |_| {})
    }

    fn exec_with(
        &self,
        cwd: Option<&Path>,
        args: Vec<OsString>,
        setup: impl FnOnce(&mut Command),
    ) -> Result<Output, String> {
        let mut cmd = self.command();
        cmd.args(&args);
        setup(&mut cmd);
        self.exec_command(cwd, args, cmd)
    }

    /// Runs `cmd`, which runs jolt with `args` (directly or through a
    /// wrapper), with stdout and stderr to files; tracks what it creates.
    fn exec_command(
        &self,
        cwd: Option<&Path>,
        args: Vec<OsString>,
        mut cmd: Command,
    ) -> Result<Output, String> {
        let inv = Invocation::parse(&args);
        let (out_path, err_path) = self.io_files(inv.sub.as_deref().unwrap_or("jolt"));
        cmd.stdout(File::create(&out_path).unwrap())
            .stderr(File::create(&err_path).unwrap());
        if let Some(dir) = cwd {
            cmd.current_dir(dir);
        }
        if let (Some("create" | "run"), Some(id)) = (inv.sub.as_deref(), &inv.id) {
            let here = cwd
                .map(Path::to_path_buf)
                .unwrap_or_else(|| std::env::current_dir().unwrap());
            let bundle = here.join(inv.bundle.clone().unwrap_or_default());
            self.track(id, bundle);
        }
        let command = describe(&args);
        let mut child = cmd
            .spawn()
            .map_err(|e| format!("running {}: {e}", cmd.get_program().to_string_lossy()))?;
        let status = wait_child(&mut child, crate::timeout()).ok_or_else(|| {
            format!(
                "`{command}` did not finish within {:?}; stderr so far:\n{}",
                crate::timeout(),
                read(&err_path)
            )
        })?;
        let output = Output {
            command,
            status,
            stdout: read(&out_path),
            stderr: read(&err_path),
        };
        if inv.detached() && output.success() {
            let id = inv.id.as_deref().unwrap_or_default();
            if let Some(c) = self.containers.borrow_mut().iter_mut().find(|c| c.id == id) {
                c.io = Some((out_path, err_path));
            }
        }
        Ok(output)
    }

    /// Tracks container `id`, made from `bundle` by another binary (a copy
    /// of jolt, say), so that it is torn down like the runner's own.
    pub fn adopt(&self, id: &str, bundle: &Bundle) {
        self.track(id, bundle.path().to_path_buf());
    }

    fn track(&self, id: &str, bundle: PathBuf) {
        let mut containers = self.containers.borrow_mut();
        if !containers.iter().any(|c| c.id == id) {
            containers.push(Tracked {
                id: id.to_string(),
                bundle,
                io: None,
            });
        }
    }

    fn tracked(&self, id: &str) -> Tracked {
        self.containers
            .borrow()
            .iter()
            .find(|c| c.id == id)
            .cloned()
            .unwrap_or_else(|| panic!("container {id} was never created by this test"))
    }

    /// Starts `jolt ARGS...` without waiting (a foreground `run` whose
    /// signals a test forwards).
    pub fn spawn<I, S>(&self, args: I) -> Spawned
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let args = collect(args);
        let inv = Invocation::parse(&args);
        if let (Some("create" | "run"), Some(id)) = (inv.sub.as_deref(), &inv.id) {
            let bundle = std::env::current_dir()
                .unwrap()
                .join(inv.bundle.clone().unwrap_or_default());
            self.track(id, bundle);
        }
        let (stdout, stderr) = self.io_files(inv.sub.as_deref().unwrap_or("jolt"));
        let child = self
            .command()
            .args(&args)
            .stdout(File::create(&stdout).unwrap())
            .stderr(File::create(&stderr).unwrap())
            .spawn()
            .unwrap_or_else(|e| panic!("running {}: {e}", self.bin.display()));
        Spawned {
            child,
            command: describe(&args),
            stdout,
            stderr,
        }
    }

    /// `jolt state ID` as JSON; panics if it fails.
    #[track_caller]
    pub fn state(&self, id: &str) -> Value {
        let out = self.ok(["state", id]);
        serde_json::from_str(&out.stdout)
            .unwrap_or_else(|e| panic!("state is not JSON ({e}):\n{out}"))
    }

    /// The "status" of `jolt state ID`.
    #[track_caller]
    pub fn status(&self, id: &str) -> String {
        let state = self.state(id);
        state["status"]
            .as_str()
            .unwrap_or_else(|| panic!("state has no status: {state}"))
            .to_string()
    }

    /// The "pid" of `jolt state ID`.
    #[track_caller]
    pub fn pid(&self, id: &str) -> i32 {
        let state = self.state(id);
        state["pid"]
            .as_i64()
            .unwrap_or_else(|| panic!("state has no pid: {state}")) as i32
    }

    /// Polls `jolt state ID` until its status is `status`.
    #[track_caller]
    pub fn wait_for_status(&self, id: &str, status: &str) {
        let mut last = String::new();
        crate::wait_until(
            format_args!("container {id} to be {status}"),
            crate::timeout(),
            || {
                last = self.status(id);
                (last == status).then_some(())
            },
        );
    }

    /// What a detached container (create, run -d) wrote to stdout so far.
    pub fn container_stdout(&self, id: &str) -> String {
        let io = self.tracked(id).io;
        io.map(|(out, _)| read(&out)).unwrap_or_default()
    }

    /// What a detached container wrote to stderr so far (jolt's own
    /// messages from create are there too).
    pub fn container_stderr(&self, id: &str) -> String {
        let io = self.tracked(id).io;
        io.map(|(_, err)| read(&err)).unwrap_or_default()
    }

    /// Polls a detached container's stdout until it contains `needle`;
    /// returns all of it.
    #[track_caller]
    pub fn wait_for_stdout(&self, id: &str, needle: &str) -> String {
        let limit = crate::timeout();
        let start = Instant::now();
        let mut pause = Duration::from_millis(5);
        loop {
            let out = self.container_stdout(id);
            if out.contains(needle) {
                return out;
            }
            if start.elapsed() > limit {
                panic!(
                    "timed out after {limit:?} waiting for {needle:?} from container {id}\n\
                     --- stdout\n{out}\n--- stderr\n{}",
                    self.container_stderr(id)
                );
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(100));
        }
    }

    /// The cgroup path of a container this test created: the bundle's
    /// linux.cgroupsPath, or the default `/jolt/<id>`.
    pub fn cgroup_path(&self, id: &str) -> String {
        let bundle = self.tracked(id).bundle;
        cgroup_path_of(&bundle, id)
    }

    /// The rootfs directory of a container this test created.
    pub fn rootfs_of(&self, id: &str) -> PathBuf {
        rootfs_of(&self.tracked(id).bundle)
    }

    /// Asserts that container `id` left nothing behind: no `<root>/<id>`,
    /// no cgroup directory in any hierarchy, no mount mentioning its
    /// rootfs in this mount namespace, no live process rooted in its
    /// rootfs. Allows a short grace for processes that were just killed.
    #[track_caller]
    pub fn assert_clean(&self, id: &str) {
        let tracked = self
            .containers
            .borrow()
            .iter()
            .find(|c| c.id == id)
            .cloned();
        let cgroup = match &tracked {
            Some(t) => cgroup_path_of(&t.bundle, id),
            None => default_cgroup_path(id),
        };
        let rootfs = tracked.map(|t| rootfs_of(&t.bundle));
        let problems = || {
            let mut problems = Vec::new();
            let state_dir = self.root.join(id);
            if state_dir.exists() {
                problems.push(format!("state dir {} still exists", state_dir.display()));
            }
            for dir in host::cgroup_dirs_of(&cgroup) {
                problems.push(format!("cgroup dir {} still exists", dir.display()));
            }
            if let Some(rootfs) = &rootfs {
                for line in host::mounts_mentioning(rootfs) {
                    problems.push(format!("mount still there: {line}"));
                }
                for pid in host::processes_rooted_in(rootfs) {
                    problems.push(format!("process {pid} still runs in {}", rootfs.display()));
                }
            }
            problems
        };
        let start = Instant::now();
        let mut found = problems();
        while !found.is_empty() && start.elapsed() < crate::quick() {
            std::thread::sleep(Duration::from_millis(20));
            found = problems();
        }
        assert!(
            found.is_empty(),
            "container {id} left things behind:\n  {}",
            found.join("\n  ")
        );
    }

    /// Asserts that the state root holds nothing at all (after invalid IDs).
    #[track_caller]
    pub fn assert_root_empty(&self) {
        let entries: Vec<_> = fs::read_dir(&self.root)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert!(
            entries.is_empty(),
            "{} should be empty, holds {entries:?}",
            self.root.display()
        );
    }

    /// Best-effort teardown of one container, for Drop: never panics.
    ///
    /// Only for IDs this runner generated (see [`Jolt::id`]): an ID such as
    /// `..` must never steer a sweep to a shared cgroup or a host path.
    fn tear_down(&self, c: &Tracked) {
        if !self.generated.borrow().contains(&c.id) {
            return;
        }
        let _ = self.exec(None, collect(["delete", "--force", c.id.as_str()]));

        // What a runtime under construction may have left behind: processes
        // whose root is this test's rootfs, or in this container's own leaf
        // cgroup, and never this test process or its ancestors.
        let mut strays = Vec::new();
        let rootfs = rootfs_of(&c.bundle);
        let ours = rootfs.starts_with(&self.base_path) && rootfs != self.base_path;
        if ours {
            strays.extend(host::processes_rooted_in(&rootfs));
        }
        let leaf_dirs = own_leaf_cgroup_dirs(&cgroup_path_of(&c.bundle, &c.id), &c.id);
        for dir in &leaf_dirs {
            let procs = fs::read_to_string(dir.join("cgroup.procs")).unwrap_or_default();
            strays.extend(procs.lines().filter_map(|l| l.trim().parse::<i32>().ok()));
        }
        let protected = protected_pids();
        for pid in strays {
            if pid > 1 && !protected.contains(&pid) {
                let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
            }
        }
        for dir in &leaf_dirs {
            let start = Instant::now();
            while fs::remove_dir(dir).is_err() && start.elapsed() < crate::quick() {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        // Parents a test named after its container (`/jolt/<id>-group/<id>`)
        // are the test's too: what a failed create left of them goes, empty
        // ones only, and never a parent other containers may share.
        for leaf in &leaf_dirs {
            for parent in leaf.ancestors().skip(1) {
                let named = parent
                    .file_name()
                    .and_then(OsStr::to_str)
                    .is_some_and(|n| n.contains(c.id.as_str()));
                if !named || fs::remove_dir(parent).is_err() {
                    break;
                }
            }
        }
    }
}

/// The directories of `cgroup_path` in every hierarchy, but only if the
/// path is plainly a leaf named after `id` (no `.`, `..` or empty parts,
/// at least two levels deep) and each directory really is named `id`
/// once resolved: a guard against ever sweeping a shared cgroup.
fn own_leaf_cgroup_dirs(cgroup_path: &str, id: &str) -> Vec<PathBuf> {
    let parts: Vec<&str> = cgroup_path.trim_start_matches('/').split('/').collect();
    let plain = parts.len() >= 2
        && parts
            .iter()
            .all(|p| !p.is_empty() && *p != "." && *p != "..")
        && parts.last() == Some(&id);
    if !plain || !id.starts_with("e2e-") {
        return Vec::new();
    }
    host::cgroup_dirs_of(cgroup_path)
        .into_iter()
        .filter(|d| {
            fs::canonicalize(d)
                .ok()
                .is_some_and(|real| real.file_name() == Some(OsStr::new(id)))
        })
        .collect()
}

/// This process and its ancestors: never signalled by cleanup.
fn protected_pids() -> Vec<i32> {
    let mut pids = vec![std::process::id() as i32];
    let mut pid = std::process::id() as i32;
    while pid > 1 {
        let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|p| p.parse().ok())
            .unwrap_or(0);
        pids.push(ppid);
        pid = ppid;
    }
    pids
}

impl Default for Jolt {
    fn default() -> Self {
        Jolt::new()
    }
}

impl Drop for Jolt {
    fn drop(&mut self) {
        let containers = self.containers.take();
        for c in &containers {
            self.tear_down(c);
        }
        // Never let remove_dir_all walk into a mount (a leaked bind mount
        // of a host directory would have its contents deleted).
        for point in host::mount_points_under(&self.base_path) {
            let _ = nix::mount::umount2(&point, nix::mount::MntFlags::MNT_DETACH);
        }
        if let Some(base) = self.base.take() {
            let _ = base.close();
        }
    }
}

/// A jolt process the test did not wait for yet; killed on drop.
pub struct Spawned {
    child: Child,
    command: String,
    stdout: PathBuf,
    stderr: PathBuf,
}

impl Spawned {
    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Stdout so far.
    pub fn stdout(&self) -> String {
        read(&self.stdout)
    }

    /// Polls stdout until it contains `needle`.
    #[track_caller]
    pub fn wait_for_stdout(&self, needle: &str) {
        crate::wait_until(
            format_args!("{needle:?} on stdout of `{}`", self.command),
            crate::timeout(),
            || self.stdout().contains(needle).then_some(()),
        );
    }

    /// The output, if the process has finished (without waiting).
    pub fn try_output(&mut self) -> Option<Output> {
        let status = self.child.try_wait().ok().flatten()?;
        Some(Output {
            command: self.command.clone(),
            status,
            stdout: read(&self.stdout),
            stderr: read(&self.stderr),
        })
    }

    pub fn signal(&self, signal: Signal) {
        kill(Pid::from_raw(self.pid()), signal).expect("signalling jolt");
    }

    /// Waits for the process (at most [`crate::timeout`]).
    #[track_caller]
    pub fn wait(self) -> Output {
        self.wait_within(crate::timeout())
    }

    /// Waits for the process, which must finish within `limit`.
    #[track_caller]
    pub fn wait_within(mut self, limit: Duration) -> Output {
        let Some(status) = wait_child(&mut self.child, limit) else {
            panic!(
                "`{}` did not finish within {limit:?}; stderr so far:\n{}",
                self.command,
                read(&self.stderr)
            )
        };
        Output {
            command: self.command.clone(),
            status,
            stdout: read(&self.stdout),
            stderr: read(&self.stderr),
        }
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The output of an invocation that ran; panics saying why one did not.
#[track_caller]
fn or_panic(ran: Result<Output, String>) -> Output {
    match ran {
        Ok(out) => out,
        Err(e) => panic!("{e}"),
    }
}

fn collect<I, S>(args: I) -> Vec<OsString>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    args.into_iter()
        .map(|a| a.as_ref().to_os_string())
        .collect()
}

fn describe(args: &[OsString]) -> String {
    let mut s = String::from("jolt");
    for a in args {
        s.push(' ');
        s.push_str(&a.to_string_lossy());
    }
    s
}

/// `arg` quoted for sh -c.
fn shell_quote(arg: &OsStr) -> String {
    format!("'{}'", arg.to_string_lossy().replace('\'', "'\\''"))
}

fn read(path: &Path) -> String {
    fs::read(path)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default()
}

/// Waits for `child` for at most `limit`; on timeout kills it and returns
/// None.
fn wait_child(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    let start = Instant::now();
    let mut pause = Duration::from_millis(2);
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(50));
    }
}

fn read_config(bundle: &Path) -> Value {
    fs::read(bundle.join("config.json"))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or(Value::Null)
}

fn cgroup_path_of(bundle: &Path, id: &str) -> String {
    match read_config(bundle)["linux"]["cgroupsPath"].as_str() {
        Some(p) if !p.is_empty() => p.to_string(),
        _ => default_cgroup_path(id),
    }
}

fn rootfs_of(bundle: &Path) -> PathBuf {
    let config = read_config(bundle);
    let root = config["root"]["path"].as_str().unwrap_or("rootfs");
    let rootfs = bundle.join(root);
    fs::canonicalize(&rootfs).unwrap_or(rootfs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Invocation {
        let args: Vec<OsString> = args.iter().map(OsString::from).collect();
        Invocation::parse(&args)
    }

    #[test]
    fn finds_the_container_and_bundle_in_an_argument_list() {
        let inv = parse(&["--log", "x", "create", "--pid-file", "p", "c1", "-b", "/b"]);
        assert_eq!(inv.sub.as_deref(), Some("create"));
        assert_eq!(inv.id.as_deref(), Some("c1"));
        assert_eq!(inv.bundle, Some(PathBuf::from("/b")));
        assert!(inv.detached());

        let inv = parse(&["run", "--bundle=/b", "-d", "c2"]);
        assert_eq!(inv.id.as_deref(), Some("c2"));
        assert_eq!(inv.bundle, Some(PathBuf::from("/b")));
        assert!(inv.detached());

        let inv = parse(&["--debug", "run", "c3"]);
        assert_eq!(inv.id.as_deref(), Some("c3"));
        assert!(!inv.detached());
    }
}
