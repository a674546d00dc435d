//! `jolt exec`: another process in a running container, as containerd's
//! shim (`--process`, `--detach`, `--pid-file`, `--console-socket`) and
//! people (`exec ID sh -c ...`) run it: its namespaces, cgroup, user,
//! cwd, env and capabilities; its exit status and signals in the
//! foreground; runc's refusals; and the working-directory escape through a
//! leaked descriptor (CVE-2024-21626) attacked through exec.
//!
//! In the VM too (scripts/test's VM_TESTS): a detached exec joining the
//! unified cgroup, exec into a frozen one, `--cgroup`, and the fallback to
//! the init's cgroup when the container's has children with controllers.

use std::fs::{self, File};
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;

use jolt_e2e::host::cgroup_pids;
use jolt_e2e::{line_after, session, Jolt};
use nix::sys::signal::Signal;
use serde_json::json;

/// create + start a container running `sleep 1000`, with hostname
/// `exec-host`.
fn running_sleeper(jolt: &Jolt, name: &str) -> String {
    let bundle = jolt.bundle().hostname("exec-host").sleeper();
    let id = jolt.id(name);
    jolt.create_and_start(&id, &bundle);
    jolt.wait_for_status(&id, "running");
    id
}

#[test]
fn exec_joins_the_containers_namespaces_and_returns_the_status() {
    let Some(jolt) = session() else { return };
    let id = running_sleeper(&jolt, "exec-ns");
    let init = jolt.pid(&id);

    let out = jolt.run([
        "exec",
        &id,
        "sh",
        "-c",
        "echo \"pid $$\"; echo \"host $(hostname)\"; echo \"one $(cat /proc/1/comm)\"; \
         echo \"root $(ls /bin/busybox)\"; exit 7",
    ]);
    out.assert_code(7);
    let pid: i32 = line_after(&out.stdout, "pid ").parse().unwrap();
    assert!(pid > 1, "a new pid in the container's pid namespace: {out}");
    assert_eq!(line_after(&out.stdout, "host "), "exec-host");
    assert_eq!(line_after(&out.stdout, "one "), "sleep", "{out}");
    assert_eq!(line_after(&out.stdout, "root "), "/bin/busybox");
    for ns in ["mnt", "pid", "uts", "ipc", "net", "cgroup"] {
        let init_ns = fs::read_link(format!("/proc/{init}/ns/{ns}")).unwrap();
        let ours = fs::read_link(format!("/proc/self/ns/{ns}")).unwrap();
        assert_ne!(init_ns, ours, "the container has its own {ns} namespace");
    }

    jolt.force_delete(&id);
}

#[test]
fn detached_exec_writes_its_pid_and_lands_in_the_containers_cgroup() {
    let Some(jolt) = session() else { return };
    let id = running_sleeper(&jolt, "exec-detach");
    let pid_file = jolt.host_path("exec.pid");

    jolt.ok([
        "exec",
        "--detach",
        "--pid-file",
        pid_file.to_str().unwrap(),
        &id,
        "sleep",
        "1000",
    ]);
    let pid: i32 = fs::read_to_string(&pid_file).unwrap().parse().unwrap();
    assert!(cgroup_pids(&jolt.cgroup_path(&id)).contains(&pid));
    let init = jolt.pid(&id);
    for ns in ["mnt", "pid", "net"] {
        assert_eq!(
            fs::read_link(format!("/proc/{pid}/ns/{ns}")).unwrap(),
            fs::read_link(format!("/proc/{init}/ns/{ns}")).unwrap(),
            "{ns} namespace of the exec'd process"
        );
    }
    let ps = jolt.ok(["ps", "--format", "json", &id]);
    let pids: Vec<i32> = serde_json::from_str(&ps.stdout).unwrap();
    assert_eq!(pids.len(), 2, "init and the exec'd sleep: {ps}");
    assert!(pids.contains(&pid) && pids.contains(&init), "{ps}");

    // delete --force takes the exec'd process with the container.
    jolt.force_delete(&id);
    assert!(!jolt_e2e::host::alive(pid));
}

#[test]
fn exec_flags_set_user_cwd_env_capabilities_and_no_new_privs() {
    let Some(jolt) = session() else { return };
    let id = running_sleeper(&jolt, "exec-flags");

    let out = jolt.ok([
        "exec",
        "--user",
        "1000:1000",
        "--additional-gids",
        "2000",
        "--cwd",
        "/tmp",
        "--env",
        "GREETING=hello",
        "--no-new-privs",
        &id,
        "sh",
        "-c",
        "echo \"id $(id -u):$(id -g)\"; echo \"cwd $(pwd)\"; echo \"env $GREETING\"; \
         echo \"groups $(grep Groups: /proc/self/status | cut -f2)\"; \
         echo \"nnp $(grep NoNewPrivs: /proc/self/status | cut -f2)\"",
    ]);
    assert_eq!(line_after(&out.stdout, "id "), "1000:1000");
    assert_eq!(line_after(&out.stdout, "cwd "), "/tmp");
    assert_eq!(line_after(&out.stdout, "env "), "hello");
    assert_eq!(line_after(&out.stdout, "groups ").trim(), "2000");
    assert_eq!(line_after(&out.stdout, "nnp "), "1");

    // --cap adds to the container's own sets; CAP_SYS_ADMIN (bit 21) is
    // not in jolt spec's default set.
    let caps = |extra: &[&str]| {
        let mut args = vec!["exec"];
        args.extend_from_slice(extra);
        args.extend([id.as_str(), "sh", "-c", "grep CapEff: /proc/self/status"]);
        let out = jolt.ok(args);
        u64::from_str_radix(line_after(&out.stdout, "CapEff:").trim(), 16).unwrap()
    };
    assert_eq!(caps(&[]) & (1 << 21), 0, "no CAP_SYS_ADMIN by default");
    assert_ne!(caps(&["--cap", "CAP_SYS_ADMIN"]) & (1 << 21), 0);

    jolt.force_delete(&id);
}

#[test]
fn exec_runs_a_process_json_as_containerd_passes_it() {
    let Some(jolt) = session() else { return };
    let id = running_sleeper(&jolt, "exec-process");
    let process = jolt.host_path("process.json");
    fs::write(
        &process,
        json!({
            "terminal": false,
            "user": { "uid": 65534, "gid": 65534 },
            "args": ["sh", "-c", "echo \"from $WHO as $(id -u) in $(pwd)\""],
            "env": ["PATH=/bin", "WHO=process-json"],
            "cwd": "/etc",
        })
        .to_string(),
    )
    .unwrap();

    let out = jolt.ok(["exec", "--process", process.to_str().unwrap(), &id]);
    assert_eq!(out.stdout.trim(), "from process-json as 65534 in /etc");

    jolt.force_delete(&id);
}

#[test]
fn exec_with_a_terminal_sends_it_to_the_console_socket() {
    let Some(jolt) = session() else { return };
    let id = running_sleeper(&jolt, "exec-tty");
    let console = jolt.console_socket();
    let pid_file = jolt.host_path("tty.pid");

    let mut exec = jolt.spawn([
        "exec",
        "--tty",
        "--detach",
        "--console-socket",
        console.path().to_str().unwrap(),
        "--pid-file",
        pid_file.to_str().unwrap(),
        &id,
        "sh",
        "-c",
        "tty; echo exec-on-a-tty; sleep 1000",
    ]);
    let mut terminal = console.receive(&mut exec);
    exec.wait().assert_success();
    let shown = terminal.read_until("exec-on-a-tty");
    assert!(shown.contains("/dev/pts/"), "{shown}");
    assert!(!shown.contains("not a tty"), "{shown}");

    jolt.force_delete(&id);
}

#[test]
fn foreground_exec_with_a_tty_copies_the_terminal() {
    let Some(jolt) = session() else { return };
    let id = running_sleeper(&jolt, "exec-fg-tty");

    let out = jolt.run_in_pty([
        "exec",
        "--tty",
        &id,
        "sh",
        "-c",
        "tty; echo on-the-tty; exit 5",
    ]);
    out.assert_code(5)
        .assert_stdout_contains("/dev/pts/")
        .assert_stdout_contains("on-the-tty");
    assert!(!out.stdout.contains("not a tty"), "{out}");

    jolt.force_delete(&id);
}

#[test]
fn foreground_exec_forwards_signals() {
    let Some(jolt) = session() else { return };
    let id = running_sleeper(&jolt, "exec-signal");

    let exec = jolt.spawn([
        "exec",
        &id,
        "sh",
        "-c",
        "trap 'echo got-term; exit 42' TERM; echo ready; while true; do sleep 0.1; done",
    ]);
    exec.wait_for_stdout("ready");
    exec.signal(Signal::SIGTERM);
    let out = exec.wait();
    out.assert_code(42).assert_stdout_contains("got-term");

    jolt.force_delete(&id);
}

#[test]
fn exec_refuses_what_runc_refuses() {
    let Some(jolt) = session() else { return };
    let missing = jolt.id("exec-missing");
    jolt.run(["exec", &missing, "true"])
        .assert_code(255)
        .assert_stderr_contains("does not exist");

    let id = running_sleeper(&jolt, "exec-refused");
    jolt.run(["exec", &id, "no-such-program"])
        .assert_code(255)
        .assert_stderr_contains("executable file not found in $PATH");
    jolt.run(["exec", "--cwd", "relative", &id, "true"])
        .assert_code(255);

    jolt.ok(["pause", &id]);
    jolt.run(["exec", &id, "true"])
        .assert_code(255)
        .assert_stderr_contains("cannot exec in a paused container");
    jolt.ok(["resume", &id]);

    jolt.kill_until_stopped(&id, "KILL");
    jolt.run(["exec", &id, "true"])
        .assert_code(255)
        .assert_stderr_contains("cannot exec in a stopped container");
    jolt.delete(&id);
}

#[test]
fn exec_passes_preserved_fds_and_nothing_else() {
    let Some(jolt) = session() else { return };
    let id = running_sleeper(&jolt, "exec-fds");
    let path = jolt.host_path("fd3");
    fs::write(&path, "passed as fd 3\n").unwrap();
    let file = File::open(&path).unwrap();
    let fd = file.as_raw_fd();
    let with_fd3 = |cmd: &mut std::process::Command| {
        // SAFETY: only async-signal-safe calls between fork and exec.
        unsafe {
            cmd.pre_exec(move || {
                if libc::dup2(fd, 3) < 0 || libc::fcntl(3, libc::F_SETFD, 0) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    };

    let out = jolt.run_with(
        ["exec", "--preserve-fds", "1", &id, "sh", "-c", "cat <&3"],
        with_fd3,
    );
    out.assert_success()
        .assert_stdout_contains("passed as fd 3");

    // Without --preserve-fds, the descriptor jolt inherited stays out.
    let out = jolt.run_with(["exec", &id, "ls", "/proc/self/fd"], with_fd3);
    out.assert_success();
    let fds: Vec<&str> = out.stdout.split_whitespace().collect();
    assert_eq!(fds, ["0", "1", "2", "3"], "3 is ls's own directory: {out}");
    let out = jolt.run_with(["exec", &id, "sh", "-c", "cat <&3"], with_fd3);
    assert!(!out.success(), "fd 3 is closed: {out}");

    jolt.force_delete(&id);
}

#[test]
fn attack_exec_cwd_through_a_leaked_host_directory_fd() {
    let Some(jolt) = session() else { return };
    let id = running_sleeper(&jolt, "exec-cwd-escape");
    // A host directory jolt holds open as fd 3 (as a careless caller might
    // leak it), and --preserve-fds keeping it open for the process: a cwd
    // of /proc/self/fd/3 would put the process on the host's filesystem.
    let host = jolt.host_dir("host-secret");
    fs::write(host.join("secret"), "host file\n").unwrap();
    let dir = File::open(&host).unwrap();
    let fd = dir.as_raw_fd();

    let out = jolt.run_with(
        [
            "exec",
            "--preserve-fds",
            "1",
            "--cwd",
            "/proc/self/fd/3",
            &id,
            "cat",
            "secret",
        ],
        |cmd| {
            // SAFETY: only async-signal-safe calls between fork and exec.
            unsafe {
                cmd.pre_exec(move || {
                    if libc::dup2(fd, 3) < 0 || libc::fcntl(3, libc::F_SETFD, 0) < 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
        },
    );
    assert!(
        !out.stdout.contains("host file"),
        "escaped to the host: {out}"
    );
    out.assert_code(255)
        .assert_stderr_contains("outside the container's root");

    jolt.force_delete(&id);
}

/// `exec --cgroup` as runc takes it: PATH for every hierarchy, and on v1
/// CONTROLLER:PATH for one; the sub-cgroups must exist. In the VM too.
#[test]
fn exec_cgroup_runs_in_an_existing_sub_cgroup() {
    let Some(jolt) = session() else { return };
    let id = running_sleeper(&jolt, "exec-cgroup");
    let path = jolt.cgroup_path(&id);
    for dir in jolt_e2e::host::cgroup_dirs_of(&path) {
        fs::create_dir(dir.join("sub")).unwrap();
        // A v1 cpuset starts empty, and takes no task until given some.
        let v1 = jolt_e2e::host::cgroups() == jolt_e2e::host::Cgroups::V1;
        for file in ["cpuset.cpus", "cpuset.mems"].into_iter().filter(|_| v1) {
            if let Ok(value) = fs::read_to_string(dir.join(file)) {
                fs::write(dir.join("sub").join(file), value.trim()).unwrap();
            }
        }
    }

    let out = jolt.ok(["exec", "--cgroup", "sub", &id, "cat", "/proc/self/cgroup"]);
    let lines: Vec<&str> = out.stdout.lines().filter(|l| !l.ends_with(":/")).collect();
    assert!(!lines.is_empty(), "{out}");
    for line in lines {
        assert!(line.ends_with("/sub"), "{line} in\n{out}");
    }

    // Every exec failure exits 255, as runc's.
    let out = jolt.run(["exec", "--cgroup", "missing", &id, "true"]);
    out.assert_code(255)
        .assert_stderr_contains("does not exist");
    if jolt_e2e::host::cgroups() == jolt_e2e::host::Cgroups::V1 {
        let out = jolt.ok([
            "exec",
            "--cgroup",
            "memory:sub",
            &id,
            "cat",
            "/proc/self/cgroup",
        ]);
        for line in out.stdout.lines() {
            let memory = line.split(':').nth(1) == Some("memory");
            assert_eq!(line.ends_with("/sub"), memory, "{line}");
        }
    } else {
        let out = jolt.run(["exec", "--cgroup", "memory:sub", &id, "true"]);
        out.assert_code(255)
            .assert_stderr_contains("cgroup v2 has one hierarchy");
    }
    jolt.force_delete(&id);
}

/// On cgroup v2 a cgroup that hands controllers to its children takes no
/// process of its own (EBUSY). A container whose init moved itself into a
/// child cgroup and enabled a controller for it still takes an exec, in
/// the init's cgroup, as with runc. VM only (cgroup v2).
#[test]
fn exec_joins_the_inits_cgroup_when_the_containers_has_children() {
    if !jolt_e2e::feature::require(jolt_e2e::feature::Feature::Cgroup2) {
        return;
    }
    let Some(jolt) = session() else { return };
    let id = running_sleeper(&jolt, "exec-busy");
    let dir = jolt_e2e::host::cgroup_dir("pids", &jolt.cgroup_path(&id));
    fs::create_dir(dir.join("init")).unwrap();
    fs::write(dir.join("init/cgroup.procs"), jolt.pid(&id).to_string()).unwrap();
    fs::write(dir.join("cgroup.subtree_control"), "+pids").unwrap();

    let out = jolt.ok(["exec", &id, "cat", "/proc/self/cgroup"]);
    let line = out
        .stdout
        .lines()
        .find(|l| l.starts_with("0::"))
        .unwrap_or_default();
    assert!(line.ends_with("/init"), "{out}");
    jolt.force_delete(&id);
}
