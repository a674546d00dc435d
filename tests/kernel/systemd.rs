//! systemd: a transient scope that systemd makes over D-Bus, as the
//! systemd cgroup drivers ask for one (runc --systemd-cgroup, podman's and
//! containerd's systemd cgroup manager, jolt's to come), holds its process
//! in a cgroup of its own under system.slice with the limit it was given,
//! and the cgroup goes with the scope.
//!
//! Made for the VM's systemd mode (scripts/test's VM_SYSTEMD_TESTS,
//! `scripts/vm-test --systemd`); on the host, where systemd is not PID 1,
//! it skips.

use jolt_e2e::host::CGROUP_ROOT;
use jolt_e2e::{quick, require, timeout, wait_until, Feature};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

const UNIT: &str = "jolt-kernel-probe";
const LIMIT: u64 = 64 * 1024 * 1024;

/// `systemctl ARGS...`, its stdout; panics with its stderr on failure.
#[track_caller]
fn systemctl(args: &[&str]) -> String {
    let out = Command::new("systemctl").args(args).output().unwrap();
    assert!(
        out.status.success(),
        "systemctl {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The scope's process; stops the scope (gone already when the test
/// passed) and reaps the process when the test ends.
struct Scope(Child);

impl Drop for Scope {
    fn drop(&mut self) {
        let _ = Command::new("systemctl")
            .args(["stop", &format!("{UNIT}.scope")])
            .stderr(Stdio::null())
            .status();
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn systemd_scope_holds_its_limits() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipped: needs root to make a scope in system.slice");
        return;
    }
    if !require(Feature::Systemd) || !require(Feature::Cgroup2) {
        return;
    }
    let unit = format!("{UNIT}.scope");
    let dir: PathBuf = Path::new(CGROUP_ROOT).join("system.slice").join(&unit);
    assert!(
        !dir.exists(),
        "{} is left from an earlier run",
        dir.display()
    );

    // systemd-run --scope asks systemd (StartTransientUnit over D-Bus) for
    // the scope, moves itself into it and then becomes the command.
    let mut scope = Scope(
        Command::new("systemd-run")
            .args(["--quiet", "--unit", UNIT, "--scope"])
            .args(["-p", &format!("MemoryMax={LIMIT}"), "-p", "Delegate=yes"])
            .args(["sleep", "600"])
            .spawn()
            .unwrap(),
    );
    let pid = scope.0.id();
    let procs = dir.join("cgroup.procs");
    wait_until(
        format!("pid {pid} in {}", procs.display()),
        timeout(),
        || {
            let listed = fs::read_to_string(&procs).ok()?;
            listed.lines().any(|p| p == pid.to_string()).then_some(())
        },
    );

    let membership = fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    assert_eq!(
        membership.trim(),
        format!("0::/system.slice/{unit}"),
        "the process is in the scope's cgroup, and only there"
    );
    let read = |file: &str| fs::read_to_string(dir.join(file)).unwrap();
    assert_eq!(read("memory.max").trim(), LIMIT.to_string());
    let controllers = read("cgroup.controllers");
    for c in ["cpu", "memory", "pids"] {
        assert!(
            controllers.split_whitespace().any(|e| e == c),
            "system.slice hands {c} to the scope: {controllers}"
        );
    }
    let shown = systemctl(&["show", "-p", "ActiveState,Delegate,MemoryMax", &unit]);
    for line in ["ActiveState=active", "Delegate=yes"] {
        assert!(shown.lines().any(|l| l == line), "{unit}: {shown}");
    }

    systemctl(&["stop", &unit]);
    let status = scope.0.wait().unwrap();
    assert!(
        !status.success(),
        "stopping the scope ended sleep: {status}"
    );
    wait_until(format!("{} removed", dir.display()), quick(), || {
        (!dir.exists()).then_some(())
    });
    let state = Command::new("systemctl")
        .args(["show", "-p", "ActiveState", "--value", &unit])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&state.stdout).trim(), "inactive");
}
