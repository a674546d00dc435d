//! agent: a `joltd` of the test's own (temporary socket, state directory
//! and jolt `--root`), driven with the real `chaosctl`.
//!
//! Its joltd wires containers into a node network namespace the test made
//! (`--node-netns`, with a bridge and subnet of the test's own), so no
//! bridge, veth or firewall rule reaches the host's own namespace and all
//! traffic stays in namespaces the test made.
//!
//! Owns starting (optionally under an open-file limit of the test's
//! choosing), killing (-9) and stopping (SIGTERM) that joltd, running
//! chaosctl against it, fetching pages through published ports from the
//! node namespace, reading its containers as `chaosctl -o json`
//! prints them, and the teardown that removes every container the test's
//! joltd knows (and kills the monitors it started if joltd cannot), even
//! after a panic. Its state directory may be a small tmpfs of its own (a
//! disk that fills for real), unmounted after that teardown. It reads
//! joltd's state directory only to check that a removed container left
//! nothing there, and to measure the log files a container keeps.

use std::ffi::OsStr;
use std::fs::{self, File};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

use jolt_agent::network::{host_veth_name, Network, NetworkConfig, FIREWALL_TABLE};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use serde_json::Value;
use tempfile::TempDir;

use crate::host::{NetNs, Tmpfs};
use crate::runner::{default_cgroup_path, jolt_bin, Output};
use crate::{host, timeout, wait_until};

/// The bridge of every test joltd (each in a node namespace of its own).
pub const BRIDGE: &str = "jtest0";
/// The containers' subnet of every test joltd.
pub const SUBNET: &str = "10.125.0.0/24";

/// The joltd binary beside jolt.
pub fn joltd_bin() -> PathBuf {
    jolt_bin().with_file_name("joltd")
}

/// The chaosctl binary beside jolt.
pub fn chaosctl_bin() -> PathBuf {
    jolt_bin().with_file_name("chaosctl")
}

/// A joltd running for one test.
pub struct Agent {
    /// The namespace holding joltd's bridge, host ends and rules.
    node: NetNs,
    /// The state directory's tmpfs, if it has one (unmounted before
    /// `dir` is removed).
    state_tmpfs: Option<Tmpfs>,
    dir: TempDir,
    joltd: Option<Child>,
    /// Flags for joltd beyond the socket, state and root ones.
    flags: Vec<String>,
    /// RLIMIT_NOFILE (soft and hard) joltd starts with; inherited if None.
    nofile: Option<u64>,
}

impl Agent {
    /// Starts joltd in a fresh temporary directory and waits until its
    /// socket answers.
    pub fn start() -> Agent {
        Agent::start_with(&["--debug"])
    }

    /// Starts joltd as [`Agent::start`] does, with `flags` added.
    pub fn start_with(flags: &[&str]) -> Agent {
        Agent::start_limited(flags, None)
    }

    /// Starts joltd as [`Agent::start_with`] does, its open-file limit
    /// (RLIMIT_NOFILE, soft and hard) set to `nofile` when given, as
    /// systemd's `LimitNOFILE=` does.
    pub fn start_limited(flags: &[&str], nofile: Option<u64>) -> Agent {
        let mut agent = Agent::new(flags);
        agent.nofile = nofile;
        agent.restart();
        agent
    }

    /// Starts joltd as [`Agent::start_with`] does, with its state
    /// directory on a tmpfs of `size` (mount's `size=`, e.g. `4m`).
    pub fn start_on_tmpfs(size: &str, flags: &[&str]) -> Agent {
        let mut agent = Agent::new(flags);
        agent.state_tmpfs = Some(Tmpfs::mount(&agent.state_dir(), size));
        agent.restart();
        agent
    }

    /// Starts joltd as [`Agent::start_with`] does, but without `--subnet`:
    /// it picks one from its pool (after `before` has run, given the node
    /// namespace's file, e.g. to take a route).
    pub fn start_without_subnet(flags: &[&str], before: impl FnOnce(&str)) -> Agent {
        let mut agent = Agent::new(flags);
        if let Some(i) = agent.flags.iter().position(|f| f == "--subnet") {
            agent.flags.drain(i..i + 2);
        }
        before(&agent.node.path());
        agent.restart();
        agent
    }

    /// The state directory's tmpfs, when it is on one.
    pub fn state_tmpfs(&self) -> &Tmpfs {
        self.state_tmpfs.as_ref().expect("started on a tmpfs")
    }

    /// Everything but joltd: the directory, the node namespace, the flags.
    fn new(flags: &[&str]) -> Agent {
        let dir = tempfile::Builder::new()
            .prefix("jolt-agent-e2e.")
            .tempdir()
            .unwrap();
        // Traversable, so a non-root test peer can reach the socket's mode.
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o711)).unwrap();
        let tag = dir
            .path()
            .file_name()
            .unwrap()
            .to_string_lossy()
            .replace('.', "-");
        let node = NetNs::add(&tag);
        let lo_up = Command::new("ip")
            .args(["-n", node.name(), "link", "set", "lo", "up"])
            .status()
            .unwrap();
        assert!(lo_up.success(), "ip -n {} link set lo up", node.name());
        let mut all = vec!["--bridge".to_string(), BRIDGE.into()];
        // A test may give the subnet (`--subnet=...`); else the default.
        if !flags.iter().any(|f| f.starts_with("--subnet")) {
            all.extend(["--subnet".into(), SUBNET.into()]);
        }
        all.extend([
            "--node-netns".into(),
            node.path(),
            "--netns-dir".into(),
            dir.path().join("netns").to_string_lossy().into_owned(),
        ]);
        all.extend(flags.iter().map(|f| f.to_string()));
        // The node's other jolt containers (other tests' podman and
        // containerd) are no test's targets unless it names their root.
        if !flags.contains(&"--runtime-root") {
            let foreign = dir.path().join("foreign");
            fs::create_dir(&foreign).unwrap();
            all.extend([
                "--runtime-root".into(),
                foreign.to_string_lossy().into_owned(),
            ]);
        }
        Agent {
            node,
            state_tmpfs: None,
            dir,
            joltd: None,
            flags: all,
            nofile: None,
        }
    }

    pub fn socket(&self) -> PathBuf {
        self.dir.path().join("joltd.sock")
    }

    pub fn state_dir(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    /// joltd's `--jolt-root`: jolt's state of joltd's own containers.
    pub fn jolt_root(&self) -> PathBuf {
        self.dir.path().join("run")
    }

    /// `joltd ARGS` with this joltd's state and network flags (a
    /// subcommand such as network-rm); its exit status and stderr.
    pub fn joltd_command(&self, args: &[&str]) -> (ExitStatus, String) {
        let out = Command::new(joltd_bin())
            .arg("--state-dir")
            .arg(self.state_dir())
            .args(&self.flags)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        (
            out.status,
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// The node namespace's file, for `nsenter --net=`.
    pub fn node_netns(&self) -> String {
        self.node.path()
    }

    /// Where joltd mounts the containers' namespaces.
    pub fn netns_dir(&self) -> PathBuf {
        self.dir.path().join("netns")
    }

    /// The network this joltd wires containers to, as the library sees it
    /// (for its leases).
    pub fn network(&self) -> Network {
        let subnet = SUBNET.parse().unwrap();
        Network::new(NetworkConfig {
            name: BRIDGE.into(),
            bridge: BRIDGE.into(),
            subnet,
            gateway: jolt_agent::network::Subnet::first_host(&subnet),
            state_dir: self.state_dir(),
            netns_dir: self.netns_dir(),
            node_netns: Some(self.node.path().into()),
        })
        .unwrap()
    }

    /// Runs `args` in the node namespace: Ok(stdout) or Err(why).
    pub fn in_node(&self, args: &[&str]) -> Result<String, String> {
        let out = Command::new("nsenter")
            .arg(format!("--net={}", self.node.path()))
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("nsenter {args:?}: {e}"));
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(format!(
                "{args:?} in the node namespace: {}: {}{}",
                out.status,
                String::from_utf8_lossy(&out.stderr),
                String::from_utf8_lossy(&out.stdout)
            ))
        }
    }

    /// GET `path` from `addr:port` as seen from the node namespace (the
    /// published ports of 127.0.0.1 included), with busybox nc, giving up
    /// after 3 s: Ok(body of a 200) or Err(what came back).
    pub fn fetch(&self, addr: &str, port: u16, path: &str) -> Result<String, String> {
        let get = format!("printf 'GET {path} HTTP/1.0\\r\\n\\r\\n' | nc -w 3 {addr} {port}");
        let response = self.in_node(&[crate::BUSYBOX, "sh", "-c", &get])?;
        match response.find("\r\n\r\n") {
            Some(at) if response.starts_with("HTTP/1.1 200") => Ok(response[at + 4..].to_string()),
            _ => Err(format!("no 200 response: {response:?}")),
        }
    }

    /// Waits until `fetch` of 127.0.0.1:`port` gets a page; its body.
    #[track_caller]
    pub fn wait_for_page(&self, port: u16) -> String {
        let mut last = String::new();
        let deadline = std::time::Instant::now() + timeout();
        while std::time::Instant::now() < deadline {
            match self.fetch("127.0.0.1", port, "/") {
                Ok(body) => return body,
                Err(e) => last = e,
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("no page on 127.0.0.1:{port} in the node namespace: {last}");
    }

    /// The comments of the rules in the node's jolt table (container IDs).
    pub fn rule_comments(&self) -> Vec<String> {
        let Ok(json) = self.in_node(&["nft", "-j", "list", "table", "inet", FIREWALL_TABLE]) else {
            return Vec::new();
        };
        crate::host::nft_rule_comments(&json)
    }

    /// Checks that container `id` left nothing of its network: no host
    /// veth in the node, no netns mount, no lease, no rule.
    #[track_caller]
    pub fn assert_network_gone(&self, id: &str) {
        let veth = host_veth_name(id);
        assert!(
            self.in_node(&["ip", "link", "show", &veth]).is_err(),
            "veth {veth} of {id} is left"
        );
        let ns = self.netns_dir().join(id);
        assert!(!ns.exists(), "{} is left", ns.display());
        let mounts = host::mounts_mentioning(&ns);
        assert!(mounts.is_empty(), "mounts left: {mounts:?}");
        let leases = self.network().leases().unwrap();
        assert!(
            leases.iter().all(|l| l.container != id),
            "lease of {id} is left: {leases:?}"
        );
        let rules = self.rule_comments();
        assert!(
            rules.iter().all(|c| !c.contains(id)),
            "rules of {id} are left: {rules:?}"
        );
    }

    /// A file of the test's own, for bundles and such.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// What joltd wrote on stderr, every start.
    pub fn joltd_log(&self) -> String {
        fs::read_to_string(self.path("joltd.log")).unwrap_or_default()
    }

    /// Starts joltd (again, after a kill or a stop); waits for its socket.
    pub fn restart(&mut self) {
        assert!(self.joltd.is_none(), "joltd is running already");
        let log = File::options()
            .create(true)
            .append(true)
            .open(self.path("joltd.log"))
            .unwrap();
        let mut joltd = Command::new(joltd_bin());
        if let Some(limit) = self.nofile {
            // SAFETY: setrlimit is async-signal-safe and touches only the child.
            unsafe {
                joltd.pre_exec(move || {
                    nix::sys::resource::setrlimit(
                        nix::sys::resource::Resource::RLIMIT_NOFILE,
                        limit,
                        limit,
                    )
                    .map_err(std::io::Error::from)
                });
            }
        }
        let child = joltd
            .arg("--socket")
            .arg(self.socket())
            .arg("--state-dir")
            .arg(self.state_dir())
            .arg("--jolt-root")
            .arg(self.jolt_root())
            .arg("--jolt")
            .arg(jolt_bin())
            .args(&self.flags)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", joltd_bin().display()));
        self.joltd = Some(child);
        let socket = self.socket();
        wait_until("joltd's socket", timeout(), || {
            std::os::unix::net::UnixStream::connect(&socket).ok()
        });
    }

    /// joltd's pid.
    pub fn pid(&self) -> i32 {
        self.joltd.as_ref().expect("joltd runs").id() as i32
    }

    /// `kill -9` joltd and reap it.
    pub fn kill9(&mut self) {
        let mut child = self.joltd.take().expect("joltd runs");
        child.kill().unwrap();
        child.wait().unwrap();
    }

    /// SIGTERM to joltd; its exit status.
    pub fn terminate(&mut self) -> ExitStatus {
        let mut child = self.joltd.take().expect("joltd runs");
        kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM).unwrap();
        let limit = timeout();
        wait_until("joltd to exit after SIGTERM", limit, || {
            child.try_wait().unwrap()
        })
    }

    /// Runs chaosctl with this joltd's socket.
    pub fn ctl<I, S>(&self, args: I) -> Output
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.ctl_as(None, args)
    }

    /// Runs chaosctl as user `uid` (root when None).
    pub fn ctl_as<I, S>(&self, uid: Option<u32>, args: I) -> Output
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let args: Vec<_> = args
            .into_iter()
            .map(|a| a.as_ref().to_os_string())
            .collect();
        let mut cmd = Command::new(chaosctl_bin());
        cmd.arg("--socket").arg(self.socket()).args(&args);
        if let Some(uid) = uid {
            cmd.uid(uid).gid(uid);
        }
        let out = cmd
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("running {}: {e}", chaosctl_bin().display()));
        Output {
            command: format!("chaosctl {}", args.join(OsStr::new(" ")).to_string_lossy()),
            status: out.status,
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// `chaosctl ... ARGS`, which must succeed; its stdout.
    #[track_caller]
    pub fn ok<I, S>(&self, args: I) -> String
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let out = self.ctl(args);
        out.assert_success();
        out.stdout
    }

    /// `chaosctl run -d ARGS`: the new container's ID.
    #[track_caller]
    pub fn run(&self, args: &[&str]) -> String {
        let mut all = vec!["run", "-d"];
        all.extend_from_slice(args);
        self.ok(all).trim().to_string()
    }

    /// `chaosctl -o json inspect NAME`.
    #[track_caller]
    pub fn inspect(&self, name: &str) -> Value {
        serde_json::from_str(&self.ok(["-o", "json", "inspect", name])).unwrap()
    }

    /// Waits until `check` holds for `inspect NAME`, and returns that.
    #[track_caller]
    pub fn wait_for(&self, name: &str, what: &str, check: impl Fn(&Value) -> bool) -> Value {
        wait_until(format!("container {name}: {what}"), timeout(), || {
            Some(self.inspect(name)).filter(&check)
        })
    }

    /// The text lines of `chaosctl logs NAME`.
    #[track_caller]
    pub fn logs(&self, name: &str) -> Vec<String> {
        self.ok(["logs", name])
            .lines()
            .map(str::to_string)
            .collect()
    }

    /// Checks that container `id` left nothing: no directory in joltd's
    /// state, no jolt state, no cgroup, no live init `pid`.
    #[track_caller]
    pub fn assert_gone(&self, id: &str, pid: Option<i32>) {
        let dir = self.state_dir().join("containers").join(id);
        assert!(!dir.exists(), "{} is left", dir.display());
        let jolt = self.jolt_root().join(id);
        assert!(!jolt.exists(), "{} is left", jolt.display());
        let cgroups = host::cgroup_dirs_of(&default_cgroup_path(id));
        assert!(cgroups.is_empty(), "cgroups left: {cgroups:?}");
        if let Some(pid) = pid {
            assert!(!host::alive(pid), "process {pid} is still alive");
        }
        let monitors = processes_mentioning(&dir);
        assert!(monitors.is_empty(), "monitors of {id} left: {monitors:?}");
        self.assert_network_gone(id);
    }

    /// The log files container `id` keeps in joltd's state directory
    /// (`container.log`, `container.log.1`, ...), with their sizes.
    pub fn log_files(&self, id: &str) -> Vec<(String, u64)> {
        let dir = self.state_dir().join("containers").join(id);
        let mut files: Vec<_> = fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .flatten()
            .filter_map(|e| {
                let name = e.file_name().into_string().ok()?;
                let len = e.metadata().ok()?.len();
                name.starts_with("container.log").then_some((name, len))
            })
            .collect();
        files.sort();
        files
    }

    /// The monitors this joltd started that still run (from their pid
    /// files, checked against /proc).
    fn live_monitors(&self) -> Vec<i32> {
        let mut pids = Vec::new();
        let containers = self.state_dir().join("containers");
        for entry in fs::read_dir(containers).into_iter().flatten().flatten() {
            let Ok(text) = fs::read(entry.path().join("monitor.json")) else {
                continue;
            };
            let Ok(info) = serde_json::from_slice::<Value>(&text) else {
                continue;
            };
            let pid = info["pid"].as_i64().unwrap_or(0) as i32;
            let cmdline = fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let ours = String::from_utf8_lossy(&cmdline).contains(&*entry.path().to_string_lossy());
            if pid > 0 && ours && host::alive(pid) {
                pids.push(pid);
            }
        }
        pids
    }

    fn teardown(&mut self) {
        if self.joltd.is_none() && self.state_dir().exists() {
            self.restart();
        }
        let listed = self.ctl(["-o", "json", "ps", "-a"]);
        if let Ok(Value::Array(all)) = serde_json::from_str::<Value>(&listed.stdout) {
            for c in all {
                let id = c["id"].as_str().unwrap_or_default().to_string();
                let _ = self.ctl(["rm", "-f", &id]);
            }
        }
        if self.joltd.is_some() {
            let _ = self.terminate();
        }
        // What joltd could not remove: its monitors (the containers die
        // with their pid namespace's init), then jolt's state.
        for pid in self.live_monitors() {
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
        }
        if let Ok(entries) = fs::read_dir(self.jolt_root()) {
            for e in entries.flatten() {
                let _ = Command::new(jolt_bin())
                    .arg("--root")
                    .arg(self.jolt_root())
                    .args(["delete", "--force"])
                    .arg(e.file_name())
                    .output();
            }
        }
        // Namespaces joltd could not tear down (the node namespace goes
        // with the agent, and every bridge, veth and rule in it), and
        // writable layers of containers a test took the record of (joltd
        // keeps a layer whose container runs without a record).
        for dir in [self.netns_dir(), self.state_dir()] {
            for mount in host::mount_points_under(&dir) {
                let _ = nix::mount::umount2(&mount, nix::mount::MntFlags::MNT_DETACH);
            }
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        self.teardown();
    }
}

/// Live processes whose command line mentions `path` (a monitor names
/// its container's directory).
pub fn processes_mentioning(path: &Path) -> Vec<i32> {
    let needle = path.to_string_lossy().into_owned();
    let mut pids = Vec::new();
    for entry in fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse().ok()) else {
            continue;
        };
        let cmdline = fs::read(entry.path().join("cmdline")).unwrap_or_default();
        if String::from_utf8_lossy(&cmdline).contains(&needle) && host::alive(pid) {
            pids.push(pid);
        }
    }
    pids
}

/// Whether `path` is a directory holding nothing.
pub fn empty_dir(path: &Path) -> bool {
    fs::read_dir(path).is_ok_and(|mut d| d.next().is_none())
}
