//! The container process: user and groups, umask, cwd, environment,
//! capabilities, rlimits, no_new_privs, oom_score_adj, and file
//! descriptors passed with --preserve-fds.

use std::collections::BTreeSet;
use std::fs::{self, File};
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;

use jolt_e2e::runner::HOST_ONLY_ENV;
use jolt_e2e::{line_after, require_root, Jolt};
use serde_json::json;

#[test]
fn user_group_and_additional_groups() {
    if !require_root() {
        return;
    }
    let jolt = Jolt::new();
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
    if !require_root() {
        return;
    }
    let jolt = Jolt::new();
    let bundle = jolt
        .bundle()
        .with(|c| {
            c["process"]["user"]["umask"] = json!(0o027);
            c["process"]["cwd"] = json!("/home/user");
        })
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
    if !require_root() {
        return;
    }
    let jolt = Jolt::new();
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
    if !require_root() {
        return;
    }
    let jolt = Jolt::new();
    let bundle = jolt
        .bundle()
        .with(|c| {
            c["process"]["rlimits"] = json!([
                { "type": "RLIMIT_NOFILE", "soft": 512, "hard": 1024 },
                { "type": "RLIMIT_NPROC", "soft": 300, "hard": 400 }
            ])
        })
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
    if !require_root() {
        return;
    }
    let jolt = Jolt::new();
    let script = "grep NoNewPrivs: /proc/$$/status";

    let on = jolt.bundle().sh(script);
    let out = jolt.run_ok("nnp-on", &on);
    assert_eq!(line_after(&out.stdout, "NoNewPrivs:").trim(), "1");

    let off = jolt
        .bundle()
        .with(|c| c["process"]["noNewPrivileges"] = json!(false))
        .sh(script);
    let out = jolt.run_ok("nnp-off", &off);
    assert_eq!(line_after(&out.stdout, "NoNewPrivs:").trim(), "0");
}

#[test]
fn oom_score_adj_is_set() {
    if !require_root() {
        return;
    }
    let jolt = Jolt::new();
    let bundle = jolt
        .bundle()
        .with(|c| c["process"]["oomScoreAdj"] = json!(500))
        .sh("echo \"adj $(cat /proc/$$/oom_score_adj)\"");

    let out = jolt.run_ok("oom-adj", &bundle);
    assert_eq!(line_after(&out.stdout, "adj "), "500");
}

#[test]
fn preserve_fds_passes_fd_3() {
    if !require_root() {
        return;
    }
    let jolt = Jolt::new();
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
fn no_new_keyring_is_accepted() {
    if !require_root() {
        return;
    }
    let jolt = Jolt::new();
    let bundle = jolt.bundle().sh("echo keyring ok");
    let id = jolt.id("no-new-keyring");

    jolt.ok(["run", "--no-new-keyring", "--bundle", bundle.dir(), &id])
        .assert_stdout_contains("keyring ok");
    jolt.assert_clean(&id);
}
