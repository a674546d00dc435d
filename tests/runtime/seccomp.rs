//! linux.seccomp: filters that bite, in the container's init and in what
//! `jolt exec` starts, with and without no_new_privs: SCMP_ACT_ERRNO with
//! and without errnoRet, argument conditions, a deny-by-default profile,
//! unknown syscall names skipped, and SCMP_ACT_NOTIFY refused clearly.
//! Where runc is installed, the same bundle's output is compared with it.

use jolt_e2e::image::which;
use jolt_e2e::{line_after, session, Bundle, Jolt};
use serde_json::{json, Value};

const ARCHS: &[&str] = &["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"];

/// mkdir fails with EACCES; chmod to 0777 (and only to 0777) with EPERM.
fn profile() -> Value {
    json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ARCHS,
        "syscalls": [
            { "names": ["mkdir", "mkdirat", "no_such_syscall_in_any_kernel"],
              "action": "SCMP_ACT_ERRNO", "errnoRet": 13 },
            { "names": ["chmod"], "action": "SCMP_ACT_ERRNO",
              "args": [{ "index": 1, "value": 511, "op": "SCMP_CMP_EQ" }] },
            { "names": ["fchmodat"], "action": "SCMP_ACT_ERRNO",
              "args": [{ "index": 2, "value": 511, "op": "SCMP_CMP_EQ" }] }
        ]
    })
}

const PROBE: &str = "mkdir /tmp/d 2>/dev/null; echo \"mkdir $?\"; \
                     mkdir /tmp/d 2>&1 | grep -o 'Permission denied'; \
                     touch /tmp/f; chmod 777 /tmp/f; echo \"chmod777 $?\"; \
                     chmod 755 /tmp/f; echo \"chmod755 $?\"; \
                     grep Seccomp: /proc/self/status";

fn bundle(jolt: &Jolt, nnp: bool) -> Bundle {
    jolt.bundle()
        .with(|c| {
            c["root"]["readonly"] = json!(false);
            c["linux"]["seccomp"] = profile();
            c["process"]["noNewPrivileges"] = json!(nnp);
        })
        .sh(PROBE)
}

fn check(out: &str) {
    assert_eq!(line_after(out, "mkdir "), "1", "{out}");
    assert!(out.contains("Permission denied"), "errnoRet 13: {out}");
    assert_eq!(line_after(out, "chmod777 "), "1", "{out}");
    assert_eq!(line_after(out, "chmod755 "), "0", "{out}");
    assert_eq!(line_after(out, "Seccomp:").trim(), "2", "{out}");
}

#[test]
fn errno_rules_and_argument_conditions_bite() {
    let Some(jolt) = session() else { return };
    for nnp in [false, true] {
        let out = jolt.run_ok(&format!("seccomp-nnp-{nnp}"), &bundle(&jolt, nnp));
        check(&out.stdout);
    }
}

#[test]
fn exec_gets_the_containers_filter() {
    let Some(jolt) = session() else { return };
    let bundle = bundle(&jolt, false).sleeper();
    let id = jolt.id("seccomp-exec");
    jolt.create_and_start(&id, &bundle);
    jolt.wait_for_status(&id, "running");
    let out = jolt.ok(["exec", &id, "sh", "-c", PROBE]);
    check(&out.stdout);
    jolt.force_delete(&id);
}

#[test]
fn a_deny_by_default_profile_allows_only_what_it_lists() {
    let Some(jolt) = session() else { return };
    // What jolt's last steps before exec and busybox's sh and echo need;
    // mkdir is not listed (and fails with defaultErrnoRet 1, EPERM, not the
    // read-only root's EROFS). Nor is close_range, as in a profile older
    // than it (runtime-tools' default): jolt marks descriptors
    // close-on-exec before the filter is loaded.
    let allowed = [
        "execve",
        "brk",
        "arch_prctl",
        "set_tid_address",
        "write",
        "exit_group",
        "exit",
        "rt_sigaction",
        "rt_sigprocmask",
        "rt_sigreturn",
        "getpid",
        "getppid",
        "getuid",
        "geteuid",
        "getgid",
        "getegid",
        "close",
        "fcntl",
        "prctl",
        "capset",
        "capget",
        "setgroups",
        "setresuid",
        "setresgid",
        "setuid",
        "setgid",
        "openat",
        "open",
        "read",
        "newfstatat",
        "fstat",
        "stat",
        "lstat",
        "ioctl",
        "getcwd",
        "chdir",
        "fchdir",
        "umask",
        "mmap",
        "munmap",
        "mprotect",
        "sendmsg",
        "sendto",
        "recvmsg",
        "dup2",
        "dup3",
        "wait4",
        "clone",
        "fork",
        "vfork",
        "getrandom",
        "futex",
        "poll",
        "statx",
        "readlink",
        "access",
        "faccessat",
        "faccessat2",
        "sigaltstack",
    ];
    let bundle = jolt
        .bundle()
        .with(|c| {
            // Without no_new_privs the filter is loaded before the
            // capability drop, earlier than with it.
            c["process"]["noNewPrivileges"] = json!(false);
            c["linux"]["seccomp"] = json!({
                "defaultAction": "SCMP_ACT_ERRNO",
                "defaultErrnoRet": 1,
                "architectures": ARCHS,
                "syscalls": [{ "names": &allowed[..], "action": "SCMP_ACT_ALLOW" }]
            });
        })
        .sh("echo allowed-ran; mkdir /tmp/d 2>&1");
    let id = jolt.id("seccomp-deny");
    let out = jolt.run_container(&id, &bundle);
    jolt.assert_clean(&id);
    assert!(out.stdout.contains("allowed-ran"), "{out}");
    assert!(
        out.stdout.contains("Operation not permitted"),
        "mkdir is not listed: {out}"
    );
}

#[test]
fn a_filter_that_denies_what_the_runtime_needs_fails_create_cleanly() {
    let Some(jolt) = session() else { return };
    let bundle = jolt
        .bundle()
        .with(|c| c["linux"]["seccomp"] = json!({ "defaultAction": "SCMP_ACT_ERRNO" }))
        .sleeper();
    let id = jolt.id("seccomp-deny-all");
    jolt.create_fails(&id, &bundle);
}

#[test]
fn notify_is_refused_naming_the_rule() {
    let Some(jolt) = session() else { return };
    let bundle = jolt
        .bundle()
        .with(|c| {
            c["linux"]["seccomp"] = json!({
                "defaultAction": "SCMP_ACT_ALLOW",
                "syscalls": [{ "names": ["mkdir"], "action": "SCMP_ACT_NOTIFY" }]
            });
        })
        .sh("true");
    let id = jolt.id("seccomp-notify");
    jolt.create_fails(&id, &bundle)
        .assert_stderr_contains("linux.seccomp.syscalls[0].action: SCMP_ACT_NOTIFY");
}

#[test]
fn runc_agrees_on_the_same_bundle() {
    let Some(jolt) = session() else { return };
    let Some(runc) = which("runc") else {
        eprintln!("skipped: runc not found (apt-get install runc)");
        return;
    };
    let bundle = bundle(&jolt, false);
    let ours = jolt.run_ok("seccomp-vs-runc", &bundle);
    let root = jolt.host_dir("runc-root");
    let id = jolt.id("seccomp-runc");
    let theirs = std::process::Command::new(runc)
        .arg("--root")
        .arg(&root)
        .args(["run", "--bundle", bundle.dir(), &id])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(theirs.status.success(), "{theirs:?}");
    assert_eq!(ours.stdout, String::from_utf8_lossy(&theirs.stdout));
}
