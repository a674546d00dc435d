//! support: what the chaos tests build for a fault to hit — a cgroup of
//! the test's own with real processes in it ([`TestCgroup`]), the
//! [`Target`] joltd would describe, and CPU-time readings — all removed on
//! drop, also when the test panics.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use jolt_chaos::Target;
use jolt_e2e::host::{cgroups, Cgroups, CGROUP_ROOT};

static NEXT: AtomicU32 = AtomicU32::new(0);
/// Tests that measure CPU time run one at a time, so that their busy loops
/// do not compete with each other on a small machine.
static CPU: Mutex<()> = Mutex::new(());

/// Whether the test can run; says why not on stderr.
pub fn root() -> bool {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipped: the chaos end-to-end tests need root (cgroups, network namespaces)");
        return false;
    }
    true
}

/// Holds the CPU lock; a test that panicked while holding it does not
/// poison the others.
pub fn cpu_lock() -> MutexGuard<'static, ()> {
    CPU.lock().unwrap_or_else(|e| e.into_inner())
}

/// A name unique to this test process and call.
pub fn unique(prefix: &str) -> String {
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// A cgroup made for one test: on v1 a directory in the cpu and the
/// freezer hierarchies, on v2 one directory in the unified hierarchy. On
/// drop it thaws, kills its processes and removes its directories.
pub struct TestCgroup {
    /// Top directories, one per hierarchy.
    dirs: Vec<PathBuf>,
    /// Nested directories made by [`TestCgroup::nested`], removed first.
    nested: Vec<PathBuf>,
    children: Vec<Child>,
}

impl TestCgroup {
    pub fn new() -> TestCgroup {
        let name = unique("jolt-chaos-test");
        let dirs: Vec<PathBuf> = match cgroups() {
            Cgroups::V1 => ["cpu", "freezer", "memory"]
                .iter()
                .map(|c| Path::new(CGROUP_ROOT).join(c).join(&name))
                .collect(),
            Cgroups::V2 => vec![Path::new(CGROUP_ROOT).join(&name)],
        };
        for dir in &dirs {
            fs::create_dir(dir).unwrap_or_else(|e| panic!("mkdir {}: {e}", dir.display()));
        }
        TestCgroup {
            dirs,
            nested: Vec::new(),
            children: Vec::new(),
        }
    }

    /// The directory whose files `controller` ("cpu", "freezer",
    /// "memory") has.
    pub fn dir(&self, controller: &str) -> &Path {
        match cgroups() {
            Cgroups::V1 => self
                .dirs
                .iter()
                .find(|d| d.parent().is_some_and(|p| p.ends_with(controller)))
                .expect("a directory per controller"),
            Cgroups::V2 => &self.dirs[0],
        }
    }

    /// Makes a child cgroup `name` in every hierarchy and returns the
    /// directories, deepest-made last.
    pub fn nested(&mut self, name: &str) -> Vec<PathBuf> {
        let made: Vec<PathBuf> = self.dirs.iter().map(|d| d.join(name)).collect();
        for dir in &made {
            fs::create_dir(dir).unwrap_or_else(|e| panic!("mkdir {}: {e}", dir.display()));
            self.nested.push(dir.clone());
        }
        made
    }

    /// Starts `sh -c script` and moves it into `dirs` (the top ones by
    /// default); returns its pid.
    pub fn spawn_in(&mut self, dirs: Option<&[PathBuf]>, script: &str) -> i32 {
        let child = Command::new("sh")
            .args(["-c", script])
            .stdin(Stdio::null())
            .spawn()
            .expect("starting sh");
        let pid = child.id() as i32;
        self.children.push(child);
        for dir in dirs.unwrap_or(&self.dirs) {
            let procs = dir.join("cgroup.procs");
            fs::write(&procs, pid.to_string())
                .unwrap_or_else(|e| panic!("moving {pid} into {}: {e}", procs.display()));
        }
        pid
    }

    /// A busy loop in the cgroup.
    pub fn spawn_busy(&mut self) -> i32 {
        self.spawn_in(None, "while :; do :; done")
    }

    /// `sleep 1000` in the cgroup, exec'd by sh so the pid is the sleep's.
    pub fn spawn_sleep(&mut self) -> i32 {
        self.spawn_in(None, "exec sleep 1000")
    }

    /// Whether the child with `pid` has exited (it is reaped if so),
    /// waiting up to `within`.
    pub fn exited(&mut self, pid: i32, within: Duration) -> bool {
        let child = self
            .children
            .iter_mut()
            .find(|c| c.id() as i32 == pid)
            .expect("a child of this cgroup");
        let start = Instant::now();
        loop {
            if child.try_wait().expect("waitpid").is_some() {
                return true;
            }
            if start.elapsed() > within {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The [`Target`] joltd would hand the faults for a container whose
    /// init is `pid`.
    pub fn target(&self, pid: i32) -> Target {
        Target {
            id: format!("test-{pid}"),
            name: format!("test-{pid}"),
            pid,
            netns: None,
            interface: Some("eth0".into()),
        }
    }

    /// Whether the kernel reports the cgroup frozen.
    pub fn frozen(&self) -> bool {
        let dir = self.dir("freezer");
        match cgroups() {
            Cgroups::V1 => read(&dir.join("freezer.state")) == "FROZEN",
            Cgroups::V2 => read(&dir.join("cgroup.events"))
                .lines()
                .any(|l| l == "frozen 1"),
        }
    }

    /// Whether a freeze is asked for (v2: cgroup.freeze is 1; v1: the state
    /// is FREEZING or FROZEN), whether or not every process is frozen: on
    /// v2 a fatal signal lets a frozen process leave to die.
    pub fn freeze_asked(&self) -> bool {
        let dir = self.dir("freezer");
        match cgroups() {
            Cgroups::V1 => read(&dir.join("freezer.state")) != "THAWED",
            Cgroups::V2 => read(&dir.join("cgroup.freeze")) == "1",
        }
    }

    /// Freezes the cgroup by hand (as `jolt pause` would) and waits until
    /// the kernel reports it frozen.
    pub fn freeze(&self) {
        assert!(self.try_freeze(), "freezing {:?}", self.dir("freezer"));
    }

    /// Freezes the cgroup; false if it is not frozen within 5 s.
    fn try_freeze(&self) -> bool {
        let dir = self.dir("freezer");
        let (file, value) = match cgroups() {
            Cgroups::V1 => (dir.join("freezer.state"), "FROZEN"),
            Cgroups::V2 => (dir.join("cgroup.freeze"), "1"),
        };
        let start = Instant::now();
        while !self.frozen() {
            if fs::write(&file, value).is_err() || start.elapsed() > Duration::from_secs(5) {
                return false;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        true
    }

    /// Thaws the cgroup if anything froze it.
    pub fn thaw(&self) {
        match cgroups() {
            Cgroups::V1 => {
                let _ = fs::write(self.dir("freezer").join("freezer.state"), "THAWED");
            }
            Cgroups::V2 => {
                let _ = fs::write(self.dirs[0].join("cgroup.freeze"), "0");
            }
        }
    }
}

impl TestCgroup {
    /// The pids in the cgroup and the nested ones.
    pub fn pids(&self) -> Vec<i32> {
        self.nested
            .iter()
            .chain(self.dirs.iter())
            .filter_map(|d| fs::read_to_string(d.join("cgroup.procs")).ok())
            .flat_map(|text| {
                text.lines()
                    .filter_map(|l| l.parse().ok())
                    .collect::<Vec<i32>>()
            })
            .collect()
    }
}

impl Drop for TestCgroup {
    fn drop(&mut self) {
        // Frozen, no process can fork away while it is killed.
        self.try_freeze();
        for pid in self.pids() {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        self.thaw();
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
        for dir in self.nested.iter().rev().chain(self.dirs.iter()) {
            // An exiting process may keep the cgroup busy for a moment.
            let start = Instant::now();
            while fs::remove_dir(dir).is_err() && dir.exists() {
                if start.elapsed() > Duration::from_secs(5) {
                    eprintln!("could not remove {}", dir.display());
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
}

/// CPU time `pid` has used, in seconds (utime + stime from /proc/PID/stat).
pub fn cpu_seconds(pid: i32) -> f64 {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).expect("reading /proc/PID/stat");
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .expect("stat has a command name")
        .1
        .split_whitespace()
        .collect();
    // utime and stime are fields 14 and 15; `fields` starts at field 3.
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    // SAFETY: sysconf only reads a configuration value.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    ticks as f64 / hz
}

/// The share of one CPU `pid` used over `period`.
pub fn cpu_usage(pid: i32, period: Duration) -> f64 {
    let before = cpu_seconds(pid);
    std::thread::sleep(period);
    (cpu_seconds(pid) - before) / period.as_secs_f64()
}

/// Reads a cgroup file, trimmed.
pub fn read(path: &Path) -> String {
    fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
        .trim()
        .to_string()
}
