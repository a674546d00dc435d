//! The container process: user and groups, umask, cwd (made when missing,
//! never outside the root), environment, capabilities, rlimits,
//! no_new_privs, oom_score_adj, signal dispositions, stdio a non-root user
//! can open, and file descriptors passed with --preserve-fds.

use std::collections::BTreeSet;
use std::fs::{self, File};
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use jolt_e2e::runner::HOST_ONLY_ENV;
use jolt_e2e::{line_after, session, BUSYBOX};
use serde_json::json;

#[test]
fn user_group_and_additional_groups() {
    let Some(jolt) = session() else { return };
    let bundle = jolt
        .bundle()
        .user(json!({ "uid": 1000, "gid": 1000, "additionalGids": [2000, 3000] }))
        .sh(
            "echo \"uid $(id -u)\"; echo \"gid $(id -g)\"; echo \"name $(id -un)\"; \
             echo \"groups $(grep Groups: /proc/$$/status | cut -f2)\"",
        );

    let out = jolt.run_ok("user", &bundle);
    assert_eq!(line_after(&out.stdout, "uid "), "1000");
    assert_eq!(line_after(&out.stdout, "gid "), "1000");
    assert_eq!(
        line_after(&out.stdout, "name "),
        "user",
        "from the rootfs's /etc/passwd"
    );
    let groups: BTreeSet<&str> = line_after(&out.stdout, "groups ")
        .split_whitespace()
        .collect();
    assert_eq!(groups, BTreeSet::from(["2000", "3000"]), "{out}");
}

#[test]
fn umask_cwd_and_exact_environment() {
    let Some(jolt) = session() else { return };
    let bundle = jolt
        .bundle()
        .with(|c| c["process"]["user"]["umask"] = json!(0o027))
        .process("cwd", json!("/home/user"))
        .env(&["PATH=/bin:/usr/bin", "GREETING=hello world", "EMPTY="])
        .sh("echo \"umask $(umask)\"; echo \"cwd $(pwd)\"; \
             tr '\\0' '\\n' < /proc/$$/environ | sed 's/^/env /'");

    let out = jolt.run_ok("env", &bundle);
    assert_eq!(line_after(&out.stdout, "umask "), "0027");
    assert_eq!(line_after(&out.stdout, "cwd "), "/home/user");
    let env: BTreeSet<&str> = jolt_e2e::lines_after(&out.stdout, "env ")
        .into_iter()
        .collect();
    for var in ["PATH=/bin:/usr/bin", "GREETING=hello world", "EMPTY="] {
        assert!(env.contains(var), "{var} in {env:?}");
    }
    assert!(
        !env.iter().any(|v| v.starts_with(HOST_ONLY_ENV)),
        "jolt's own environment leaked into the container: {env:?}"
    );
    // runc adds HOME when the config has none; nothing else may appear.
    let extra: Vec<_> = env
        .iter()
        .filter(|v| {
            !v.starts_with("HOME=")
                && !["PATH", "GREETING", "EMPTY"].contains(&v.split('=').next().unwrap())
        })
        .collect();
    assert!(extra.is_empty(), "unexpected variables: {extra:?}");
}

/// runc's environment rules: each name once with its last value, and
/// HOME, when unset or empty, from the user's /etc/passwd entry in the
/// container, else "/"; for the init and for `exec` alike. runc, where
/// installed, prints the same for the same bundle.
#[test]
fn home_comes_from_passwd_and_each_variable_appears_once() {
    let Some(jolt) = session() else { return };
    let bundle = jolt
        .bundle()
        .env(&["ONE=two", "ONE=", "PATH=/bin:/usr/bin", "HOME="])
        .args(&["env"]);
    std::fs::write(
        bundle.rootfs().join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\ntempuser:x:2000:2000::/home/tempuser:/bin/sh\n",
    )
    .unwrap();
    let sorted = |out: &str| {
        let mut lines: Vec<&str> = out.lines().collect();
        lines.sort();
        lines.join("\n")
    };
    let want = "HOME=/root\nONE=\nPATH=/bin:/usr/bin";
    assert_eq!(sorted(&jolt.run_ok("home-root", &bundle).stdout), want);
    if let Some(theirs) = jolt.runc_run("home-runc", &bundle) {
        assert_eq!(
            sorted(&String::from_utf8_lossy(&theirs.stdout)),
            want,
            "runc: {theirs:?}"
        );
    }

    let user = bundle
        .env(&["PATH=/bin:/usr/bin"])
        .user(json!({"uid": 2000, "gid": 2000}))
        .sh("echo \"home $HOME\"; sleep 1000");
    let id = jolt.id("home-user");
    jolt.create_and_start(&id, &user);
    jolt.wait_for_status(&id, "running");
    let out = jolt.ok(["exec", &id, "sh", "-c", "echo \"exec home $HOME\""]);
    assert_eq!(out.stdout, "exec home /home/tempuser\n");
    let out = jolt.ok([
        "exec",
        "--user",
        "1000",
        &id,
        "sh",
        "-c",
        "echo \"nobody $HOME\"",
    ]);
    assert_eq!(out.stdout, "nobody /\n", "no passwd entry: /");
    jolt.force_delete(&id);
}

/// /proc/<init>/status capability lines, e.g. "CapEff" -> "0000000000000020".
fn capability_lines(stdout: &str) -> Vec<(String, String)> {
    ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"]
        .iter()
        .map(|k| {
            let v = line_after(stdout, &format!("{k}:")).trim().to_string();
            (k.to_string(), v)
        })
        .collect()
}

#[test]
fn capabilities_are_exactly_the_configured_ones() {
    let Some(jolt) = session() else { return };
    let script = "grep ^Cap /proc/$$/status";

    let only_kill = jolt.bundle().capabilities(&["CAP_KILL"]).sh(script);
    let out = jolt.run_ok("caps-kill", &only_kill);
    let want = [
        ("CapInh", "0000000000000000"),
        ("CapPrm", "0000000000000020"),
        ("CapEff", "0000000000000020"),
        ("CapBnd", "0000000000000020"),
        ("CapAmb", "0000000000000000"),
    ];
    let want: Vec<(String, String)> = want
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    assert_eq!(capability_lines(&out.stdout), want);

    // The spec's default: AUDIT_WRITE (29), KILL (5), NET_BIND_SERVICE (10).
    let default = jolt.bundle().sh(script);
    let out = jolt.run_ok("caps-default", &default);
    let caps = capability_lines(&out.stdout);
    for (set, value) in &caps[1..4] {
        assert_eq!(value, "0000000020000420", "{set}");
    }
}

#[test]
fn rlimits_are_applied() {
    let Some(jolt) = session() else { return };
    let bundle = jolt
        .bundle()
        .process(
            "rlimits",
            json!([
                { "type": "RLIMIT_NOFILE", "soft": 512, "hard": 1024 },
                { "type": "RLIMIT_NPROC", "soft": 300, "hard": 400 }
            ]),
        )
        .sh("echo \"soft $(ulimit -n)\"; echo \"hard $(ulimit -Hn)\"; \
             echo \"limits $(grep 'Max processes' /proc/$$/limits)\"");

    let out = jolt.run_ok("rlimits", &bundle);
    assert_eq!(line_after(&out.stdout, "soft "), "512");
    assert_eq!(line_after(&out.stdout, "hard "), "1024");
    let nproc: Vec<&str> = line_after(&out.stdout, "limits ")
        .split_whitespace()
        .collect();
    assert_eq!(nproc[2..4], ["300", "400"], "{out}");
}

#[test]
fn no_new_privileges_follows_the_config() {
    let Some(jolt) = session() else { return };
    let script = "grep NoNewPrivs: /proc/$$/status";

    let on = jolt.bundle().sh(script);
    let out = jolt.run_ok("nnp-on", &on);
    assert_eq!(line_after(&out.stdout, "NoNewPrivs:").trim(), "1");

    let off = jolt
        .bundle()
        .process("noNewPrivileges", json!(false))
        .sh(script);
    let out = jolt.run_ok("nnp-off", &off);
    assert_eq!(line_after(&out.stdout, "NoNewPrivs:").trim(), "0");
}

#[test]
fn oom_score_adj_is_set() {
    let Some(jolt) = session() else { return };
    let bundle = jolt
        .bundle()
        .process("oomScoreAdj", json!(500))
        .sh("echo \"adj $(cat /proc/$$/oom_score_adj)\"");

    let out = jolt.run_ok("oom-adj", &bundle);
    assert_eq!(line_after(&out.stdout, "adj "), "500");
}

#[test]
fn preserve_fds_passes_fd_3() {
    let Some(jolt) = session() else { return };
    let path = jolt.host_path("fd3");
    fs::write(&path, "passed as fd 3\n").unwrap();
    let file = File::open(&path).unwrap();
    let fd = file.as_raw_fd();
    let bundle = jolt.bundle().sh("cat <&3");
    let id = jolt.id("preserve-fds");

    let out = jolt.run_with(
        ["run", "--preserve-fds", "1", "--bundle", bundle.dir(), &id],
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
    out.assert_success()
        .assert_stdout_contains("passed as fd 3");
    jolt.assert_clean(&id);
}

#[test]
fn each_container_gets_its_own_session_keyring_unless_told_not_to() {
    let Some(jolt) = session() else { return };
    // busybox has no keyctl, and /proc/keys lists every keyring root can
    // see: a small static probe asks the kernel which is ours.
    let bundle = jolt.bundle().args(&["/bin/keyring"]);
    let probe = bundle.rootfs().join("bin/keyring");
    if !build_keyring_probe(&probe) {
        return;
    }

    jolt.run_ok("keyring", &bundle)
        .assert_stdout_contains("session keyring: keyring;0;0;3f130000;_ses.jolt");
    let host = Command::new(&probe).output().unwrap();
    let host = String::from_utf8_lossy(&host.stdout).into_owned();
    let out = jolt.run_ok_with("no-new-keyring", &["--no-new-keyring"], &bundle);
    let inside = out.stdout;
    assert_eq!(inside, host, "--no-new-keyring keeps the caller's keyring");
    assert!(!inside.contains("_ses.jolt"), "{inside}");
}

/// Compiles, at `binary`, a static program that prints the description
/// of the caller's session keyring; false (a skip, with the reason) without
/// a C compiler.
fn build_keyring_probe(binary: &Path) -> bool {
    const SOURCE: &str = r#"
#include <stdio.h>
#include <unistd.h>
#include <sys/syscall.h>
int main(void) {
    char desc[256];
    long id = syscall(SYS_keyctl, 0 /* GET_KEYRING_ID */, -3L /* SESSION */, 0L);
    long n = syscall(SYS_keyctl, 6 /* DESCRIBE */, id, desc, (long)sizeof desc);
    if (id < 0 || n < 0) { perror("keyctl"); return 1; }
    printf("session keyring: %s\n", desc);
    return 0;
}
"#;
    jolt_e2e::build_static_c(SOURCE, binary, "the keyring probe")
}

/// A uniquely named file at the top of a host directory, removed on drop:
/// a container whose working directory escaped to the host would list it.
struct HostMarker(PathBuf);

impl HostMarker {
    fn new(dir: &Path, name: &str) -> HostMarker {
        let path = dir.join(name);
        fs::write(&path, "host\n").unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        HostMarker(path)
    }
}

impl Drop for HostMarker {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.0);
    }
}

/// CVE-2024-21626: an fd the runtime holds on a host directory (state dir,
/// cgroup dir, ...) is reachable as /proc/self/fd/N until exec, and a cwd
/// of /proc/self/fd/N would start the container outside its root. Whatever
/// N is, the container never sees the host: either create refuses the
/// cwd, or the cwd and everything above it is the container's own.
#[test]
fn cwd_through_proc_self_fd_never_reaches_the_host() {
    let Some(jolt) = session() else { return };
    let unique = jolt.base().file_name().unwrap().to_string_lossy();
    let name = format!("escape-marker-{unique}");
    let _markers = [
        // the state root's parent: one `..` above any state dir fd
        HostMarker::new(jolt.base(), &name),
        HostMarker::new(Path::new("/tmp"), &name),
        HostMarker::new(Path::new("/run"), &name),
    ];
    // Every level from the cwd up to (and past) its root, then /tmp and
    // /run of that root.
    let script = "d=.; for i in $(seq 16); do echo \"== $d\"; ls -a $d; d=$d/..; done; \
                  echo \"== root\"; ls -a $d; ls -a $d/tmp $d/run; echo \"pwd $(pwd)\"";

    for fd in 3..=8 {
        let cwd = format!("/proc/self/fd/{fd}");
        let bundle = jolt.bundle().process("cwd", json!(cwd)).sh(script);
        let inside = format!("inside-marker-{unique}");
        fs::write(bundle.rootfs().join(&inside), "container\n").unwrap();
        let id = jolt.id("cwd-fd");

        let out = jolt.run_container(&id, &bundle);
        assert!(
            !out.stdout.contains(&name) && !out.stderr.contains(&name),
            "cwd {cwd}: the container saw the host:\n{out}"
        );
        if out.success() {
            let root = out
                .stdout
                .split_once("== root\n")
                .unwrap_or_else(|| panic!("cwd {cwd}: no listing of the root:\n{out}"))
                .1;
            assert!(
                root.contains(&inside),
                "cwd {cwd}: the root above the cwd is not the container's:\n{out}"
            );
        } else {
            out.assert_failure().assert_stderr_contains("process.cwd");
        }
        eprintln!(
            "cwd {cwd}: {}",
            if out.success() {
                format!("ran in {}", line_after(&out.stdout, "pwd "))
            } else {
                format!("refused: {}", out.stderr.trim())
            }
        );
        jolt.assert_clean(&id);
    }
}

/// runc makes a missing process.cwd (inside the rootfs) and starts there.
#[test]
fn a_missing_cwd_is_created_inside_the_rootfs() {
    let Some(jolt) = session() else { return };
    let host_had_it = Path::new("/work/here").exists();
    let bundle = jolt
        .bundle()
        .process("cwd", json!("/work/here"))
        .sh("echo \"pwd $(pwd)\"");

    let out = jolt.run_ok("cwd-missing", &bundle);
    assert_eq!(line_after(&out.stdout, "pwd "), "/work/here");
    assert!(
        bundle.rootfs().join("work/here").is_dir(),
        "made in the rootfs"
    );
    assert_eq!(
        Path::new("/work/here").exists(),
        host_had_it,
        "the host's /work is untouched"
    );
}

/// The SigIgn mask of /proc/self/status, as a number.
fn ignored_signals(stdout: &str) -> u64 {
    let hex = line_after(stdout, "SigIgn:").trim();
    u64::from_str_radix(hex, 16).unwrap_or_else(|e| panic!("SigIgn {hex:?}: {e}"))
}

/// Rust starts with SIGPIPE ignored, and an ignored signal stays ignored
/// across fork and exec: a runtime written in Rust must put it back, or a
/// writer in a pipeline such as `yes | head` in the container only stops
/// if it checks for EPIPE. The container starts with what a program
/// started from this host process gets.
#[test]
fn the_container_does_not_start_with_sigpipe_ignored() {
    let Some(jolt) = session() else { return };
    let host = Command::new(BUSYBOX)
        .args(["grep", "SigIgn", "/proc/self/status"])
        .output()
        .expect("running busybox grep on the host");
    let host = ignored_signals(&String::from_utf8_lossy(&host.stdout));
    let bundle = jolt.bundle().args(&["grep", "SigIgn", "/proc/self/status"]);

    let out = jolt.run_ok("sigpipe", &bundle);
    let inside = ignored_signals(&out.stdout);
    let sigpipe = 1u64 << (libc::SIGPIPE - 1);
    assert_eq!(
        inside & sigpipe,
        0,
        "SIGPIPE is ignored in the container:\n{out}"
    );
    assert_eq!(
        inside, host,
        "the container ignores {inside:#x}, a host program {host:#x}"
    );
}

/// runc gives the container's stdio to its user, so a program that is not
/// root can reopen /dev/stdout (a file here, owned by root, mode 0644).
#[test]
fn a_non_root_process_can_open_its_stdio() {
    let Some(jolt) = session() else { return };
    let bundle = jolt
        .bundle()
        .user(json!({ "uid": 65534, "gid": 65534 }))
        .sh("echo hi > /dev/stdout && echo err > /dev/stderr");

    let out = jolt.run_ok("stdio-nobody", &bundle);
    out.assert_stdout_contains("hi")
        .assert_stderr_contains("err");
}
