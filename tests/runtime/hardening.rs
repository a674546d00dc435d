//! Attacks on the runtime itself, one per hardening item of runc's history
//! that the other files do not already cover: overwriting the runtime's
//! binary through /proc/PID/exe of a process it left in the container
//! (CVE-2019-5736), inheritable capabilities that the spec did not ask
//! for, dropping groups in a user namespace (CVE-2014-8989), a fresh
//! procfs under --no-pivot, and a symlinked /proc or /sys in the image
//! (CVE-2019-16884).

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};

use jolt_e2e::runner::jolt_bin;
use jolt_e2e::{line_after, session};

#[test]
fn attack_overwrite_the_runtime_through_proc_pid_exe() {
    let Some(jolt) = session() else { return };
    // A copy of jolt that nothing else runs, so that the attack, if it
    // worked, would damage only the copy (and no ETXTBSY would stop it).
    let copy = jolt.host_path("jolt-copy");
    fs::copy(jolt_bin(), &copy).unwrap();
    fs::set_permissions(&copy, fs::Permissions::from_mode(0o755)).unwrap();
    let original = fs::read(&copy).unwrap();
    let bundle = jolt.bundle().sleeper();
    let id = jolt.id("exe-overwrite");
    let run_copy = |args: &[&str]| {
        // Not piped: the container's init would hold the pipes open.
        let status = Command::new(&copy)
            .arg("--root")
            .arg(jolt.root())
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success(), "jolt-copy {args:?}: {status}");
    };

    // The created container's init is the runtime's code, waiting for
    // start, in the container's pid namespace: what a process in there
    // with CAP_SYS_PTRACE (or the host's root) can open as /proc/PID/exe.
    jolt.adopt(&id, &bundle);
    run_copy(&["create", "--bundle", bundle.dir(), &id]);
    let init = jolt.pid(&id);
    let exe = fs::File::open(format!("/proc/{init}/exe")).unwrap();
    run_copy(&["start", &id]);
    jolt.wait_for_status(&id, "running");

    // Once the init has exec'd, nothing executes the file any more: reopen
    // it for writing through the descriptor and overwrite it.
    let fd_path = format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(&exe));
    let written = OpenOptions::new()
        .write(true)
        .open(&fd_path)
        .and_then(|mut f| f.write_all(b"#!/bin/sh\necho pwned\n"));
    // What the init ran from refuses writes: a read-only mount of the
    // binary (EROFS), or a sealed memfd copy where that is not possible.
    let err = written.expect_err("the runtime's image could be written through /proc/PID/exe");
    assert!(
        matches!(err.raw_os_error(), Some(libc::EROFS) | Some(libc::EPERM)),
        "{err}"
    );
    assert!(
        fs::read(&copy).unwrap() == original,
        "the jolt binary on the host was changed"
    );

    jolt.force_delete(&id);
}

#[test]
fn the_inheritable_set_is_what_the_spec_says() {
    let Some(jolt) = session() else { return };
    // jolt's own inheritable set is not the container's: give jolt one and
    // check the container starts with the spec's (none in jolt spec's
    // default), and with what it names when it names one.
    let bundle = jolt.bundle().sh("grep CapInh: /proc/self/status");
    let id = jolt.id("inheritable");
    let out = jolt.run_with(["run", "--bundle", bundle.dir(), &id], |cmd| {
        // SAFETY: only capget/capset between fork and exec.
        unsafe { cmd.pre_exec(|| raise_inheritable(21)) };
    });
    out.assert_success();
    assert_eq!(
        u64::from_str_radix(line_after(&out.stdout, "CapInh:").trim(), 16).unwrap(),
        0,
        "{out}"
    );
    jolt.assert_clean(&id);

    let bundle = jolt
        .bundle()
        .with(|c| c["process"]["capabilities"]["inheritable"] = serde_json::json!(["CAP_KILL"]))
        .sh("grep CapInh: /proc/self/status");
    let out = jolt.run_ok("inheritable-kill", &bundle);
    assert_eq!(
        u64::from_str_radix(line_after(&out.stdout, "CapInh:").trim(), 16).unwrap(),
        1 << 5,
        "CAP_KILL (in the default bounding set) only: {out}"
    );
}

/// Adds capability `bit` to this process's inheritable set (root has it
/// in its permitted set, so no privilege is needed).
fn raise_inheritable(bit: u32) -> std::io::Result<()> {
    #[repr(C)]
    struct Header {
        version: u32,
        pid: i32,
    }
    #[repr(C)]
    #[derive(Clone, Copy, Default)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    const VERSION_3: u32 = 0x2008_0522;
    let mut header = Header {
        version: VERSION_3,
        pid: 0,
    };
    let mut data = [Data::default(); 2];
    // SAFETY: capget/capset with a v3 header and two data structs.
    unsafe {
        if libc::syscall(libc::SYS_capget, &mut header, data.as_mut_ptr()) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        data[(bit / 32) as usize].inheritable |= 1 << (bit % 32);
        if libc::syscall(libc::SYS_capset, &header, data.as_ptr()) != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

/// CVE-2014-8989: in a user namespace, a process that may call setgroups
/// can drop a group that the host gave it, and with it a "group may not
/// read" permission. jolt writes "deny" to /proc/PID/setgroups before
/// gid_map, so root in the container cannot drop any group.
#[test]
fn attack_drop_groups_in_a_user_namespace() {
    let Some(jolt) = session() else { return };
    let map = serde_json::json!([{ "containerID": 0, "hostID": 100000, "size": 65536 }]);
    let userns = |bundle: jolt_e2e::bundle::Bundle| {
        bundle
            .rootfs_owner(100000, 100000)
            .namespace("user", None)
            .with(|c| {
                c["linux"]["uidMappings"] = map.clone();
                c["linux"]["gidMappings"] = map.clone();
            })
    };
    // CAP_SETGID, as docker's default set has: only the kernel's deny stops it.
    let bundle = userns(jolt.bundle())
        .capabilities(&["CAP_SETGID"])
        .sh("cat /proc/self/setgroups; /bin/setgroups-probe");
    let probe = bundle.rootfs().join("bin/setgroups-probe");
    const SOURCE: &str = r#"
#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <string.h>
int main(void) {
    if (setgroups(0, NULL) == 0) { puts("setgroups: dropped every group"); return 0; }
    printf("setgroups: %s\n", strerror(errno));
    return 1;
}
"#;
    if !jolt_e2e::build_static_c(SOURCE, &probe, "the setgroups probe") {
        return;
    }
    let id = jolt.id("setgroups");
    let out = jolt.run(["run", "--bundle", bundle.dir(), &id]);
    jolt.assert_clean(&id);
    assert_eq!(
        out.stdout.lines().collect::<Vec<_>>(),
        ["deny", "setgroups: Operation not permitted"],
        "{}",
        out.stderr
    );

    // Asking for supplementary groups is what allows setgroups: jolt sets
    // exactly those.
    let groups = userns(jolt.bundle())
        .user(serde_json::json!({ "uid": 0, "gid": 0, "additionalGids": [5, 7] }))
        .sh("cat /proc/self/setgroups; id -G");
    let out = jolt.run_ok("groups", &groups);
    assert_eq!(out.stdout.lines().collect::<Vec<_>>(), ["allow", "0 5 7"]);
}

/// With --no-pivot the host's mounts stay in the container's mount
/// namespace, under its rootfs. The kernel lets a user namespace mount a
/// fresh procfs when a fully visible one is in the mount namespace: the
/// host's /proc was one, and the fresh mount shows what maskedPaths hides
/// (/proc/kcore, /proc/sys writable, ...). runc's --no-pivot refuses it.
#[test]
fn attack_mount_a_fresh_procfs_under_no_pivot() {
    let Some(jolt) = session() else { return };
    let script = "unshare -r -m -p -f sh -c \
        'if mount -t proc proc /proc 2>/dev/null; then echo \"fresh mounted\"; \
         else echo \"fresh refused\"; fi'";
    // As uid 1000: mapping the host's uid 0 into a user namespace would
    // need CAP_SETFCAP, which the default capabilities lack.
    let bundle = jolt
        .bundle()
        .user(serde_json::json!({ "uid": 1000, "gid": 1000 }))
        .sh(script);

    let out = jolt.run_ok_with("fresh-proc", &["--no-pivot"], &bundle);
    assert_eq!(line_after(&out.stdout, "fresh "), "refused", "{out}");

    // The same, with pivot_root: refused too (the control).
    let out = jolt.run_ok("fresh-proc-pivot", &bundle);
    assert_eq!(line_after(&out.stdout, "fresh "), "refused", "{out}");
    if let Some(runc) = jolt.runc_run_with("fresh-proc-runc", &["--no-pivot"], &bundle) {
        let stdout = String::from_utf8_lossy(&runc.stdout);
        assert_eq!(
            line_after(&stdout, "fresh "),
            "refused",
            "runc --no-pivot: {stdout}"
        );
    }
}

/// An image whose /proc is a symlink to a directory of its own files would
/// get the real procfs mounted there and keep its fake /proc in front
/// (CVE-2019-16884, where it hid the AppArmor profile): refused, as runc
/// refuses it, for /proc and /sys.
#[test]
fn attack_a_symlinked_proc_or_sys_in_the_image() {
    let Some(jolt) = session() else { return };
    for dir in ["proc", "sys"] {
        let bundle = jolt.bundle().sh("true");
        let rootfs = bundle.rootfs();
        fs::create_dir(rootfs.join(format!("fake{dir}"))).unwrap();
        fs::remove_dir(rootfs.join(dir)).unwrap();
        std::os::unix::fs::symlink(format!("/fake{dir}"), rootfs.join(dir)).unwrap();
        let id = jolt.id(&format!("symlinked-{dir}"));

        let out = jolt.create_fails(&id, &bundle);
        let fs_type = if dir == "proc" { "proc" } else { "sysfs" };
        out.assert_stderr_contains(&format!(
            "filesystem \"{fs_type}\" must be mounted on an ordinary directory"
        ));
        assert_eq!(
            fs::read_dir(rootfs.join(format!("fake{dir}")))
                .unwrap()
                .count(),
            0,
            "nothing mounted through the link"
        );
        if let Some(runc) = jolt.runc_run(&format!("symlinked-{dir}-runc"), &bundle) {
            assert!(
                !runc.status.success(),
                "runc refuses a symlinked /{dir} too"
            );
        }
    }
}
