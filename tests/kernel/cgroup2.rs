//! cgroup2: a container made by jolt lives in the unified hierarchy, its
//! memory.max holds the spec's limit, and the kernel enforces it.
//!
//! Made for the VM (scripts/test's VM_TESTS); on the host it skips.

use jolt_e2e::host::CGROUP_ROOT;
use jolt_e2e::{line_after, require, session, Feature};
use serde_json::json;
use std::fs;
use std::path::Path;

const LIMIT: u64 = 32 * 1024 * 1024;

#[test]
fn memory_limit_is_enforced_by_cgroup_v2() {
    if !require(Feature::Cgroup2) {
        return;
    }
    let Some(jolt) = session() else { return };
    // The hog waits for its cue so that the checks below see it alive.
    let bundle = jolt
        .bundle()
        .resources("memory", json!({ "limit": LIMIT, "swap": LIMIT }))
        .sh(
            "read cue < /cue.fifo; (echo 1000 > /proc/self/oom_score_adj; \
             head -c 100000000 /dev/zero | tail > /dev/null); echo \"status $?\"",
        );
    let fifo = bundle.rootfs().join("cue.fifo");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    let id = jolt.id("v2mem");
    jolt.create_and_start(&id, &bundle);

    let cgroup = jolt.cgroup_path(&id);
    let dir = Path::new(CGROUP_ROOT).join(cgroup.trim_start_matches('/'));
    let membership = fs::read_to_string(format!("/proc/{}/cgroup", jolt.pid(&id))).unwrap();
    assert_eq!(
        membership.trim(),
        format!("0::{cgroup}"),
        "the init is in one cgroup, of the unified hierarchy"
    );
    let read = |file: &str| fs::read_to_string(dir.join(file)).unwrap();
    assert_eq!(read("memory.max").trim(), LIMIT.to_string());
    assert_eq!(read("memory.swap.max").trim(), "0", "v2 counts swap apart");

    fs::write(&fifo, "go\n").unwrap();
    jolt.wait_for_status(&id, "stopped");
    assert_eq!(line_after(&jolt.container_stdout(&id), "status "), "137");
    let events = read("memory.events");
    let kills: u64 = line_after(&events, "oom_kill ").trim().parse().unwrap();
    assert!(kills >= 1, "memory.events counted the OOM kill:\n{events}");

    jolt.delete(&id);
    assert!(
        !dir.exists(),
        "{} removed with the container",
        dir.display()
    );
}
