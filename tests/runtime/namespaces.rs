//! Namespaces: new ones when asked, the host's when omitted, an existing
//! one joined by path, and a user namespace with uid/gid mappings.

use std::collections::BTreeMap;

use jolt_e2e::host::{host_namespace, proc_status, NetNs};
use jolt_e2e::{line_after, session};
use serde_json::json;

const KINDS: [&str; 6] = ["pid", "net", "mnt", "ipc", "uts", "cgroup"];

/// A script printing `<kind> <readlink /proc/self/ns/<kind>>` per line.
fn print_namespaces() -> String {
    format!(
        "for n in {}; do echo \"ns $n $(readlink /proc/self/ns/$n)\"; done",
        KINDS.join(" ")
    )
}

fn parse_namespaces(stdout: &str) -> BTreeMap<String, String> {
    stdout
        .lines()
        .filter_map(|l| l.strip_prefix("ns "))
        .filter_map(|l| l.split_once(' '))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn requested_namespaces_are_new() {
    let Some(jolt) = session() else { return };
    let mut bundle = jolt.bundle();
    for kind in ["pid", "network", "mount", "ipc", "uts", "cgroup"] {
        bundle = bundle.namespace(kind, None);
    }
    let bundle = bundle.sh(&print_namespaces());

    let out = jolt.run_ok("ns-new", &bundle);
    let inside = parse_namespaces(&out.stdout);
    for kind in KINDS {
        let host = host_namespace(kind);
        let mine = inside
            .get(kind)
            .unwrap_or_else(|| panic!("no {kind} namespace printed:\n{out}"));
        assert!(mine.starts_with(&format!("{kind}:[")), "{kind}: {mine}");
        assert_ne!(mine, &host, "{kind} namespace is the host's");
    }
}

#[test]
fn the_process_is_pid_1() {
    let Some(jolt) = session() else { return };
    let bundle = jolt
        .bundle()
        .sh("echo \"pid $$\"; echo \"comm $(cat /proc/1/comm)\"");

    let out = jolt.run_ok("pid1", &bundle);
    assert_eq!(line_after(&out.stdout, "pid "), "1");
    // busybox sh shows as "sh"
    assert_eq!(line_after(&out.stdout, "comm "), "sh");
}

#[test]
fn omitted_namespaces_are_the_hosts() {
    let Some(jolt) = session() else { return };
    let bundle = jolt
        .bundle()
        .without_namespace("network")
        .without_namespace("ipc")
        .without_namespace("uts")
        .with(|c| {
            c.as_object_mut().unwrap().remove("hostname");
        })
        .sh(&print_namespaces());

    let out = jolt.run_ok("ns-host", &bundle);
    let inside = parse_namespaces(&out.stdout);
    for kind in ["net", "ipc", "uts"] {
        assert_eq!(inside[kind], host_namespace(kind), "{kind} is shared");
    }
    for kind in ["pid", "mnt"] {
        assert_ne!(inside[kind], host_namespace(kind), "{kind} is new");
    }
}

#[test]
fn a_namespace_path_is_joined() {
    let Some(jolt) = session() else { return };
    let netns = NetNs::add(&jolt.id("netns"));
    let bundle = jolt
        .bundle()
        .namespace("network", Some(&netns.path()))
        .sh(&print_namespaces());

    let out = jolt.run_ok("ns-join", &bundle);
    let inside = parse_namespaces(&out.stdout);
    assert_eq!(inside["net"], netns.link(), "joined {}", netns.path());
    assert_ne!(inside["uts"], host_namespace("uts"), "others are still new");
}

#[test]
fn user_namespace_maps_container_root_to_an_unprivileged_uid() {
    let Some(jolt) = session() else { return };
    let map = json!([{ "containerID": 0, "hostID": 100000, "size": 65536 }]);
    let bundle = jolt
        .bundle()
        .rootfs_owner(100000, 100000)
        .namespace("user", None)
        .with(|c| {
            c["linux"]["uidMappings"] = map.clone();
            c["linux"]["gidMappings"] = map.clone();
        })
        .sh("echo \"uid_map $(cat /proc/self/uid_map)\"; \
             echo \"gid_map $(cat /proc/self/gid_map)\"; \
             echo \"id $(id -u) $(id -g)\"; echo ready; exec sleep 1000");
    let id = jolt.id("userns");
    jolt.create_and_start(&id, &bundle);
    let out = jolt.wait_for_stdout(&id, "ready");

    let words = |s: &str| s.split_whitespace().map(str::to_string).collect::<Vec<_>>();
    assert_eq!(
        words(line_after(&out, "uid_map ")),
        ["0", "100000", "65536"]
    );
    assert_eq!(
        words(line_after(&out, "gid_map ")),
        ["0", "100000", "65536"]
    );
    assert_eq!(line_after(&out, "id "), "0 0", "root inside");

    let pid = jolt.pid(&id);
    let uids = proc_status(pid, "Uid");
    assert!(
        uids.split_whitespace().all(|u| u == "100000"),
        "from the host the container runs as 100000: Uid {uids}"
    );
    assert_ne!(
        std::fs::read_link(format!("/proc/{pid}/ns/user")).unwrap(),
        std::path::PathBuf::from(host_namespace("user"))
    );

    jolt.force_delete(&id);
}
