//! linux.seccomp: filters that bite, in the container's init and in what
//! `jolt exec` starts, with and without no_new_privs: SCMP_ACT_ERRNO with
//! and without errnoRet, argument conditions, a deny-by-default profile,
//! unknown syscall names skipped, ENOSYS for syscalls newer than the
//! profile (and for numbers libseccomp has no name for), and
//! SCMP_ACT_NOTIFY's listener handed to a seccomp agent.
//! Where runc is installed, the same bundle's output is compared with it.

use jolt_e2e::{line_after, session, Bundle, Jolt};
use serde_json::{json, Value};

const ARCHS: &[&str] = &["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"];

/// What jolt's last steps before exec and busybox's sh and echo need,
/// for a deny-by-default profile.
const ALLOWED: &[&str] = &[
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
    // mkdir is not in ALLOWED (and fails with defaultErrnoRet 1, EPERM, not the
    // read-only root's EROFS). Nor is close_range, as in a profile older
    // than it (runtime-tools' default): jolt marks descriptors
    // close-on-exec before the filter is loaded.
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
                "syscalls": [{ "names": ALLOWED, "action": "SCMP_ACT_ALLOW" }]
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

/// What a seccomp agent was sent, per connection.
struct Handed {
    state: Value,
}

/// A seccomp agent on `path`: for each connection, reads runc's
/// ContainerProcessState and the listener, reports the state, and answers
/// every notification (mkdir here) with EXDEV, which no filesystem would
/// give for it.
fn agent(path: &std::path::Path) -> std::sync::mpsc::Receiver<Handed> {
    use libseccomp::{ScmpNotifReq, ScmpNotifResp, ScmpNotifRespFlags};
    use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
    use std::os::fd::AsRawFd;
    let listener = std::os::unix::net::UnixListener::bind(path).unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(conn) = conn else { return };
            let mut buf = vec![0u8; 1 << 16];
            let mut space = nix::cmsg_space!([std::os::fd::RawFd; 1]);
            let mut iov = [std::io::IoSliceMut::new(&mut buf)];
            let msg = recvmsg::<()>(
                conn.as_raw_fd(),
                &mut iov,
                Some(&mut space),
                MsgFlags::empty(),
            )
            .unwrap();
            let fd = msg
                .cmsgs()
                .unwrap()
                .find_map(|c| match c {
                    ControlMessageOwned::ScmRights(fds) => fds.first().copied(),
                    _ => None,
                })
                .expect("the listener came with the state");
            let n = msg.bytes;
            let state: Value = serde_json::from_slice(&buf[..n]).unwrap();
            let _ = tx.send(Handed { state });
            std::thread::spawn(move || {
                while let Ok(req) = ScmpNotifReq::receive(fd) {
                    let resp =
                        ScmpNotifResp::new_error(req.id, -libc::EXDEV, ScmpNotifRespFlags::empty());
                    let _ = resp.respond(fd);
                }
            });
        }
    });
    rx
}

/// SCMP_ACT_NOTIFY: the filter's listener goes to the agent at
/// listenerPath with runc's ContainerProcessState, for the init and for
/// what `jolt exec` starts; the agent's answer is what the syscall
/// returns.
#[test]
fn notify_hands_the_listener_to_the_agent_at_listener_path() {
    let Some(jolt) = session() else { return };
    let socket = jolt.host_path("agent.sock");
    let handed = agent(&socket);
    let bundle = jolt
        .bundle()
        .with(|c| {
            c["linux"]["seccomp"] = json!({
                "defaultAction": "SCMP_ACT_ALLOW",
                "listenerPath": socket,
                "listenerMetadata": "jolt-e2e",
                "syscalls": [{ "names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_NOTIFY" }]
            });
        })
        .sh("mkdir /tmp/by-init 2>&1; sleep 1000");
    let id = jolt.id("seccomp-agent");
    jolt.create_and_start(&id, &bundle);
    let first = handed
        .recv_timeout(jolt_e2e::timeout())
        .expect("the init's listener");
    assert_eq!(first.state["fds"], json!(["seccompFd"]));
    assert_eq!(first.state["metadata"], "jolt-e2e");
    assert_eq!(first.state["state"]["id"], id.as_str());
    assert_eq!(first.state["pid"], jolt.pid(&id));
    assert!(
        jolt.wait_for_stdout(&id, "cross-device")
            .contains("Invalid cross-device link"),
        "the agent's answer"
    );

    let out = jolt.run(["exec", &id, "mkdir", "/tmp/by-exec"]);
    out.assert_code(1)
        .assert_stderr_contains("Invalid cross-device link");
    let second = handed
        .recv_timeout(jolt_e2e::timeout())
        .expect("the exec's listener");
    assert_eq!(second.state["state"]["id"], id.as_str());
    jolt.force_delete(&id);

    let missing = jolt
        .bundle()
        .with(|c| {
            c["linux"]["seccomp"] = json!({
                "defaultAction": "SCMP_ACT_ALLOW",
                "listenerPath": "/nonexistent/agent.sock",
                "syscalls": [{ "names": ["mkdir"], "action": "SCMP_ACT_NOTIFY" }]
            });
        })
        .sh("true");
    let id = jolt.id("seccomp-no-agent");
    jolt.create_fails(&id, &missing)
        .assert_stderr_contains("linux.seccomp.listenerPath /nonexistent/agent.sock: connect");
}

#[test]
fn runc_agrees_on_the_same_bundle() {
    let Some(jolt) = session() else { return };
    let bundle = bundle(&jolt, false);
    let Some(theirs) = jolt.runc_run("seccomp-runc", &bundle) else {
        eprintln!("skipped: runc not found (apt-get install runc)");
        return;
    };
    let ours = jolt.run_ok("seccomp-vs-runc", &bundle);
    assert!(theirs.status.success(), "{theirs:?}");
    assert_eq!(ours.stdout, String::from_utf8_lossy(&theirs.stdout));
}

/// A probe for a deny-by-default profile: the errno of openat2 (newer than
/// every syscall the profile names), of mkdir (older, not named), and of
/// syscall 1000 (past the kernel's table: libseccomp has no name for it).
const NEWER_SYSCALL_PROBE: &str = r#"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
int main(void) {
    long long how[3] = {0, 0, 0};
    long r = syscall(SYS_openat2, AT_FDCWD, "/", how, sizeof how);
    printf("openat2 %ld %d\n", r, r < 0 ? errno : 0);
    r = mkdir("/tmp/d", 0755);
    printf("mkdir %ld %d\n", r, r < 0 ? errno : 0);
    r = syscall(1000);
    printf("nr1000 %ld %d\n", r, r < 0 ? errno : 0);
    return 0;
}
"#;

/// runc's rule: with a deny-by-default profile, a syscall newer than all
/// it names fails with ENOSYS (so libc falls back to an older one, as
/// glibc's clone3 does to clone), an older one it does not name with the
/// default errno. runc, where installed, prints the same.
#[test]
fn syscalls_newer_than_the_profile_fail_with_enosys() {
    let Some(jolt) = session() else { return };
    // The newest syscall named is then statx (332); openat2 is 437.
    let older: Vec<&str> = ALLOWED
        .iter()
        .copied()
        .filter(|n| *n != "faccessat2")
        .chain([
            "set_robust_list",
            "rseq",
            "prlimit64",
            "readlinkat",
            "fstatfs",
            "statfs",
            "getdents64",
        ])
        .collect();
    let bundle = jolt
        .bundle()
        .with(|c| {
            c["root"]["readonly"] = json!(false);
            c["process"]["noNewPrivileges"] = json!(false);
            c["linux"]["seccomp"] = json!({
                "defaultAction": "SCMP_ACT_ERRNO",
                "architectures": ARCHS,
                "syscalls": [{ "names": older, "action": "SCMP_ACT_ALLOW" }]
            });
        })
        .args(&["/bin/newer-syscall"]);
    if !jolt_e2e::build_static_c(
        NEWER_SYSCALL_PROBE,
        &bundle.rootfs().join("bin/newer-syscall"),
        "the newer-syscall probe",
    ) {
        return;
    }
    let out = jolt.run_ok("seccomp-newer", &bundle);
    assert_eq!(
        out.stdout,
        format!(
            "openat2 -1 {}\nmkdir -1 {}\nnr1000 -1 {}\n",
            libc::ENOSYS,
            libc::EPERM,
            libc::ENOSYS
        ),
        "{out}"
    );
    if let Some(theirs) = jolt.runc_run("seccomp-newer-runc", &bundle) {
        assert_eq!(
            out.stdout,
            String::from_utf8_lossy(&theirs.stdout),
            "runc: {theirs:?}"
        );
    }
}
