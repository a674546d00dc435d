//! Behaviour runc's callers rely on where jolt used to differ: an `exec -p`
//! process file without `user` (the spec requires only cwd), the
//! terminal's owner and group, the working directory of createContainer
//! hooks, and a cgroupsPath that already holds processes. Side by side with
//! Debian's runc where the behaviour is runc's.
//!
//! In the VM too (scripts/test's VM_TESTS): the shared cgroupsPath, in the
//! unified tree.

use std::fs;

use jolt_e2e::{line_after, session};
use serde_json::json;

#[test]
fn an_exec_process_file_without_user_runs_as_root() {
    let Some(jolt) = session() else { return };
    let bundle = jolt.bundle().sleeper();
    let id = jolt.id("exec-no-user");
    jolt.create_and_start(&id, &bundle);
    let process = jolt.host_path("process.json");
    let file = json!({ "cwd": "/", "args": ["/bin/sh", "-c", "echo \"ids $(id -u):$(id -g)\""] });
    fs::write(&process, file.to_string()).unwrap();

    let out = jolt.ok(["exec", "--process", process.to_str().unwrap(), &id]);
    assert_eq!(line_after(&out.stdout, "ids "), "0:0", "{out}");

    jolt.force_delete(&id);
}

/// The pty is the process's, in group tty (5) as devpts's gid=5 made it:
/// `mesg`, `write` and sudo's tty checks rely on that group.
#[test]
fn the_terminal_belongs_to_the_process_user_in_group_tty() {
    let Some(jolt) = session() else { return };
    let probe = "echo \"owner $(stat -c %u:%g $(tty))\"";
    let bundle = jolt
        .bundle()
        .terminal()
        .user(json!({ "uid": 1000, "gid": 1000 }))
        .sh(probe);
    let id = jolt.id("tty-owner");
    // A terminal's output may start with control bytes: look for the text.
    let out = jolt.run_in_pty(["run", "--bundle", bundle.dir(), &id]);
    assert!(out.stdout.contains("owner 1000:5\r"), "{out}");
    jolt.assert_clean(&id);

    let sleeper = jolt.bundle().sleeper();
    let id = jolt.id("exec-tty-owner");
    jolt.create_and_start(&id, &sleeper);
    let out = jolt.run_in_pty(["exec", "-t", "--user", "1000:1000", &id, "sh", "-c", probe]);
    assert!(out.stdout.contains("owner 1000:5\r"), "{out}");
    jolt.force_delete(&id);
}

#[test]
fn create_container_hooks_run_in_the_rootfs_as_with_runc() {
    let Some(jolt) = session() else { return };
    let out = jolt.host_path("hook-cwd");
    let hook = jolt_e2e::bundle::sh_hook(&format!("pwd > {}", out.display()));
    let bundle = jolt.bundle().hook("createContainer", hook).sh("true");

    jolt.run_ok("hook-cwd", &bundle);
    let jolts = fs::read_to_string(&out).expect("the hook ran under jolt");
    let rootfs = fs::canonicalize(bundle.rootfs()).unwrap();
    assert_eq!(jolts.trim(), rootfs.to_str().unwrap());

    fs::remove_file(&out).unwrap();
    if let Some(runc) = jolt.runc_run("hook-cwd-runc", &bundle) {
        assert!(runc.status.success(), "{runc:?}");
        let runcs = fs::read_to_string(&out).expect("the hook ran under runc");
        assert_eq!(jolts, runcs, "jolt's hook cwd, then runc's");
    }
}

#[test]
fn a_cgroups_path_already_holding_processes_is_a_warning_not_a_refusal() {
    let Some(jolt) = session() else { return };
    let path = format!("/jolt-e2e-shared/{}", jolt.id("cg"));
    struct RemoveParent;
    impl Drop for RemoveParent {
        fn drop(&mut self) {
            for dir in jolt_e2e::host::cgroup_dirs_of("/jolt-e2e-shared") {
                let _ = fs::remove_dir(dir);
            }
        }
    }
    let _parent = RemoveParent;
    let first = jolt.bundle().sleeper().cgroups_path(&path);
    let (a, b) = (jolt.id("cg-first"), jolt.id("cg-second"));
    jolt.create(&a, &first);

    let second = jolt.bundle().sleeper().cgroups_path(&path);
    let out = jolt.ok(["create", "--bundle", second.dir(), &b]);
    out.assert_stderr_contains("already holds processes");
    assert_eq!(jolt.status(&b), "created");
    assert!(
        jolt_e2e::host::cgroup_pids(&path).contains(&jolt.pid(&b)),
        "the second init shares the cgroup"
    );

    jolt.force_delete(&b);
    jolt.force_delete(&a);
}

/// A config that lists no mount namespace inherits the runtime's (the
/// runtime spec: an unlisted namespace MUST be inherited): the container
/// runs chrooted into its rootfs, in jolt's mount namespace; a mount it
/// asks for is refused (it would be made on the host). runc 1.1.5 chroots
/// the same way, then fails on this rootfs, which has no /proc for it to
/// close descriptors through: not compared.
#[test]
fn without_a_mount_namespace_the_container_inherits_the_runtimes() {
    let Some(jolt) = session() else { return };
    let bare = |b: jolt_e2e::bundle::Bundle| {
        b.without_namespace("mount").with(|c| {
            c["mounts"] = json!([]);
            c["root"]["readonly"] = json!(false);
            c["linux"].as_object_mut().unwrap().remove("maskedPaths");
            c["linux"].as_object_mut().unwrap().remove("readonlyPaths");
        })
    };
    let probe = "if [ -x /bin/busybox ]; then echo \"root is the rootfs\"; fi";
    let bundle = bare(jolt.bundle()).sh(probe);
    let out = jolt.run_ok("no-mntns", &bundle);
    assert_eq!(line_after(&out.stdout, "root is the "), "rootfs", "{out}");

    let id = jolt.id("no-mntns-ns");
    jolt.create(&id, &bare(jolt.bundle()).sleeper());
    let ns = |pid: String| fs::read_link(format!("/proc/{pid}/ns/mnt")).unwrap();
    assert_eq!(
        ns(jolt.pid(&id).to_string()),
        ns("self".into()),
        "jolt's mount namespace"
    );
    jolt.force_delete(&id);

    let with_mount = bare(jolt.bundle())
        .mount(json!({ "destination": "/tmp", "type": "tmpfs", "source": "tmpfs" }))
        .sh("true");
    let id = jolt.id("no-mntns-mount");
    jolt.create_fails(&id, &with_mount)
        .assert_stderr_contains("mounts: needs a mount namespace");
}

/// A hostname with a uts namespace joined by path is set in that
/// namespace, as runc sets it (jolt refused it).
#[test]
fn a_hostname_with_a_joined_uts_namespace_is_set_there() {
    let Some(jolt) = session() else { return };
    let holder = jolt.id("uts-holder");
    jolt.create_and_start(&holder, &jolt.bundle().hostname("before").sleeper());
    let uts = format!("/proc/{}/ns/uts", jolt.pid(&holder));
    let joiner = jolt
        .bundle()
        .namespace("uts", Some(&uts))
        .hostname("after")
        .sh("hostname");

    let out = jolt.run_ok("uts-joiner", &joiner);
    assert_eq!(out.stdout.trim(), "after");
    let holder_sees = jolt.ok(["exec", &holder, "hostname"]);
    assert_eq!(
        holder_sees.stdout.trim(),
        "after",
        "the namespace's name changed"
    );
    jolt.force_delete(&holder);
}

/// A container in a new user namespace, whose mapped root (host uid
/// 100000) may not enter `dir`: its bind sources and its console socket are
/// opened and connected by jolt on the host, as runc does, so both still
/// work.
fn userns_bundle(jolt: &jolt_e2e::Jolt) -> jolt_e2e::bundle::Bundle {
    let map = json!([{ "containerID": 0, "hostID": 100000, "size": 65536 }]);
    jolt.bundle()
        .rootfs_owner(100000, 100000)
        .namespace("user", None)
        .with(|c| {
            c["linux"]["uidMappings"] = map.clone();
            c["linux"]["gidMappings"] = map;
        })
}

/// A host directory only the host's root may enter.
fn private_dir(jolt: &jolt_e2e::Jolt, name: &str) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let dir = jolt.host_dir(name);
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o700)).unwrap();
    dir
}

#[test]
fn a_user_namespace_binds_a_source_its_root_cannot_reach() {
    let Some(jolt) = session() else { return };
    let private = private_dir(&jolt, "private");
    fs::create_dir(private.join("shared")).unwrap();
    fs::write(private.join("shared/file"), "from the host\n").unwrap();
    let bundle = userns_bundle(&jolt)
        .bind(&private.join("shared"), "/data", &["rbind", "ro"])
        .sh("cat /data/file");

    let out = jolt.run_ok("userns-bind", &bundle);
    assert_eq!(out.stdout, "from the host\n", "{out}");
    if let Some(runc) = jolt.runc_run("userns-bind-runc", &bundle) {
        assert_eq!(
            String::from_utf8_lossy(&runc.stdout),
            out.stdout,
            "runc: {runc:?}"
        );
    }
}

#[test]
fn a_user_namespace_gets_its_terminal_through_a_socket_its_root_cannot_reach() {
    let Some(jolt) = session() else { return };
    let private = private_dir(&jolt, "console");
    let console = jolt_e2e::ConsoleSocket::bind(private.join("console.sock"));
    let bundle = userns_bundle(&jolt).terminal().sh("tty; echo on-the-tty");
    let id = jolt.id("userns-tty");

    let mut create = jolt.spawn([
        "create",
        "--console-socket",
        console.path().to_str().unwrap(),
        "--bundle",
        bundle.dir(),
        &id,
    ]);
    let mut terminal = console.receive(&mut create);
    create.wait().assert_success();
    jolt.ok(["start", &id]);
    let shown = terminal.read_until("on-the-tty");
    assert!(shown.contains("/dev/pts/"), "{shown}");
    jolt.wait_for_status(&id, "stopped");
    jolt.delete(&id);
}
