//! cgroups: limits that bite (memory, pids), limits that land in the
//! cgroup files under their v1 or v2 names, and the cgroup's lifetime.
//!
//! The whole file also runs in the VM (scripts/test's VM_TESTS): its
//! limits, OOM counts, parents and freezer are cgroup v2 paths there.

use std::path::Path;

use jolt_e2e::host::{cgroup_dir, cgroup_dirs_of, cgroups, read_cgroup, Cgroups};
use jolt_e2e::{line_after, session};
use serde_json::json;

const MIB: u64 = 1024 * 1024;

/// The `oom_kill` counter of a cgroup (v1 memory.oom_control, v2
/// memory.events).
fn oom_kills(cgroup: &str) -> u64 {
    let text = match cgroups() {
        Cgroups::V1 => read_cgroup("memory", cgroup, "memory.oom_control"),
        Cgroups::V2 => read_cgroup("memory", cgroup, "memory.events"),
    };
    line_after(&text, "oom_kill ").trim().parse().unwrap()
}

#[test]
fn memory_limit_oom_kills_a_hog() {
    let Some(jolt) = session() else { return };
    // tail keeps the whole newline-free input in memory: 100 MB > 32 MiB.
    // The hog's subshell volunteers as the OOM victim, so that under load a
    // second OOM kill cannot take the shell that reports the status.
    let bundle = jolt
        .bundle()
        .resources("memory", json!({ "limit": 32 * MIB, "swap": 32 * MIB }))
        .sh("(echo 1000 > /proc/self/oom_score_adj; \
             head -c 100000000 /dev/zero | tail > /dev/null); echo \"status $?\"");
    let id = jolt.id("oom");
    jolt.create_and_start(&id, &bundle);
    jolt.wait_for_status(&id, "stopped");

    let out = jolt.container_stdout(&id);
    assert_eq!(line_after(&out, "status "), "137", "tail was SIGKILLed");
    let cgroup = jolt.cgroup_path(&id);
    assert!(oom_kills(&cgroup) >= 1, "the cgroup counted an OOM kill");

    jolt.delete(&id);
}

#[test]
fn pids_limit_stops_a_fork_loop() {
    let Some(jolt) = session() else { return };
    let bundle = jolt
        .bundle()
        .resources("pids", json!({ "limit": 10 }))
        .sh("for i in $(seq 50); do sleep 30 & done; echo all 50 started");
    let id = jolt.id("pids");

    let out = jolt.run_container(&id, &bundle);
    assert!(
        out.stderr.contains("can't fork")
            || out.stderr.contains("Resource temporarily unavailable"),
        "fork fails at the limit:\n{out}"
    );
    assert!(!out.stdout.contains("all 50 started"), "{out}");
    assert_ne!(out.code(), 0, "{out}");
    jolt.assert_clean(&id);
}

#[test]
fn resources_land_in_the_cgroup_files() {
    let Some(jolt) = session() else { return };
    let bundle = jolt
        .bundle()
        .sleeper()
        .resources(
            "cpu",
            json!({ "shares": 512, "quota": 20000, "period": 100000, "cpus": "0", "mems": "0" }),
        )
        .resources("memory", json!({ "limit": 64 * MIB, "swap": 64 * MIB }))
        .resources("pids", json!({ "limit": 20 }));
    let id = jolt.id("resources");
    jolt.create(&id, &bundle);
    let pid = jolt.pid(&id);
    // No linux.cgroupsPath in the config: the files must be under /jolt/<id>.
    let cgroup = format!("/jolt/{id}");
    assert_eq!(jolt.cgroup_path(&id), cgroup);

    let files: Vec<(&str, &str, String)> = match cgroups() {
        Cgroups::V1 => vec![
            ("cpu", "cpu.shares", "512".into()),
            ("cpu", "cpu.cfs_quota_us", "20000".into()),
            ("cpu", "cpu.cfs_period_us", "100000".into()),
            ("cpuset", "cpuset.cpus", "0".into()),
            ("memory", "memory.limit_in_bytes", (64 * MIB).to_string()),
            (
                "memory",
                "memory.memsw.limit_in_bytes",
                (64 * MIB).to_string(),
            ),
            ("pids", "pids.max", "20".into()),
        ],
        Cgroups::V2 => vec![
            // runc's conversion: 1 + ((shares - 2) * 9999) / 262142
            ("cpu", "cpu.weight", "20".into()),
            ("cpu", "cpu.max", "20000 100000".into()),
            ("cpuset", "cpuset.cpus", "0".into()),
            ("memory", "memory.max", (64 * MIB).to_string()),
            // v2 counts swap apart: swap - limit
            ("memory", "memory.swap.max", "0".into()),
            ("pids", "pids.max", "20".into()),
        ],
    };
    for (controller, file, want) in &files {
        if *file == "memory.memsw.limit_in_bytes" && !cgroup_dir("memory", "/").join(file).exists()
        {
            continue; // no swap accounting on this kernel
        }
        assert_eq!(
            &read_cgroup(controller, &cgroup, file),
            want,
            "{}",
            cgroup_dir(controller, &cgroup).join(file).display()
        );
    }
    for controller in ["cpu", "cpuset", "memory", "pids"] {
        let procs = read_cgroup(controller, &cgroup, "cgroup.procs");
        assert!(
            procs.lines().any(|l| l == pid.to_string()),
            "init {pid} is in {}",
            cgroup_dir(controller, &cgroup).display()
        );
    }
    let membership = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    assert!(
        membership
            .lines()
            .any(|l| l.ends_with(&format!(":{cgroup}"))),
        "/proc/{pid}/cgroup names {cgroup}:\n{membership}"
    );

    jolt.force_delete(&id);
}

#[test]
fn cgroups_path_from_the_config_is_used_and_removed() {
    let Some(jolt) = session() else { return };
    let id = jolt.id("cgroups-path");
    let path = format!("/jolt-e2e/{id}");
    // A parent outside /jolt is the namer's to remove (jolt leaves it, as
    // runc does): this test's, even when an assertion fails first.
    let _parent = RemoveWhenEmpty("/jolt-e2e");
    let bundle = jolt
        .bundle()
        .sleeper()
        .cgroups_path(&path)
        .resources("pids", json!({ "limit": 20 }));
    jolt.create(&id, &bundle);
    let pid = jolt.pid(&id);

    assert_eq!(read_cgroup("pids", &path, "pids.max"), "20");
    assert!(
        read_cgroup("pids", &path, "cgroup.procs")
            .lines()
            .any(|l| l == pid.to_string()),
        "init {pid} is in {path}"
    );
    assert!(
        cgroup_dirs_of(&format!("/jolt/{id}")).is_empty(),
        "not the default"
    );

    jolt.force_delete(&id);
}

/// Removes a cgroup parent in every hierarchy on drop, unless another test
/// still uses it (rmdir of a cgroup with children fails).
struct RemoveWhenEmpty(&'static str);

impl Drop for RemoveWhenEmpty {
    fn drop(&mut self) {
        for dir in cgroup_dirs_of(self.0) {
            let _ = std::fs::remove_dir(dir);
        }
    }
}

/// jolt makes the parents of a cgroup under its own `/jolt`, so the last
/// container to leave one removes it; a create that fails removes the
/// parents it made. (The ten empty `/jolt` directories one per hierarchy
/// that runs used to leave behind.)
#[test]
fn jolts_own_cgroup_parents_go_with_the_last_container() {
    let Some(jolt) = session() else { return };
    let group = format!("/jolt/{}", jolt.id("group"));
    let (a, b) = (jolt.id("first"), jolt.id("second"));
    for id in [&a, &b] {
        let bundle = jolt
            .bundle()
            .sleeper()
            .cgroups_path(&format!("{group}/{id}"));
        jolt.create(id, &bundle);
    }
    let parents = cgroup_dirs_of(&group);
    assert!(!parents.is_empty(), "{group} was made in every hierarchy");

    jolt.force_delete(&a);
    assert_eq!(cgroup_dirs_of(&group), parents, "{b} still uses {group}");
    jolt.force_delete(&b);
    assert_eq!(cgroup_dirs_of(&group), Vec::<std::path::PathBuf>::new());

    let failing = jolt.id("failing");
    let failing_group = format!("/jolt/{failing}-group");
    let bundle = jolt
        .bundle()
        .cgroups_path(&format!("{failing_group}/{failing}"))
        .resources("cpu", json!({ "cpus": "4096" }));
    jolt.create_fails(&failing, &bundle)
        .assert_stderr_contains("cpuset.cpus");
    assert_eq!(
        cgroup_dirs_of(&failing_group),
        Vec::<std::path::PathBuf>::new(),
        "a failed create removed the parents it made"
    );
}

/// The harness sweeps what a failed create leaves of a test's own cgroup
/// parents (`/jolt/<id>-group/<id>`): empty `-group` directories in the
/// hybrid host's unified hierarchy once outlived a session whose runtime
/// left them. Here a runtime that "leaked" them is simulated by making the
/// directories by hand.
#[test]
fn the_harness_removes_a_tests_own_cgroup_parents_left_behind() {
    // /jolt, made below by hand, goes last if no container uses it (jolt
    // itself retries a create whose parent goes meanwhile).
    let _shared = RemoveWhenEmpty("/jolt");
    let Some(jolt) = session() else { return };
    let id = jolt.id("leaked");
    let parent = format!("/jolt/{id}-group");
    let bundle = jolt
        .bundle()
        .cgroups_path(&format!("{parent}/{id}"))
        .sleeper();
    jolt.adopt(&id, &bundle);
    let hierarchies = jolt_e2e::host::cgroup_hierarchies();
    for h in &hierarchies {
        std::fs::create_dir_all(h.join(parent.trim_start_matches('/')).join(&id)).unwrap();
    }
    assert!(!cgroup_dirs_of(&parent).is_empty());

    drop(jolt);
    assert_eq!(cgroup_dirs_of(&parent), Vec::<std::path::PathBuf>::new());
}

/// A cgroupsPath under a frozen parent: the container's init would stop as
/// soon as it joined, and create used to wait for it forever. It fails at
/// once, naming the cause, and leaves nothing.
#[test]
fn create_in_a_frozen_cgroup_fails_saying_so() {
    let Some(jolt) = session() else { return };
    let parent = "/jolt-e2e-frozen";
    let _parent = RemoveWhenEmpty(parent);
    let freezer = cgroup_dir("freezer", parent);
    std::fs::create_dir_all(&freezer).unwrap();
    let (file, frozen, thawed) = match cgroups() {
        Cgroups::V1 => ("freezer.state", "FROZEN", "THAWED"),
        Cgroups::V2 => ("cgroup.freeze", "1", "0"),
    };
    std::fs::write(freezer.join(file), frozen).unwrap();
    struct Thaw(std::path::PathBuf, &'static str);
    impl Drop for Thaw {
        fn drop(&mut self) {
            let _ = std::fs::write(&self.0, self.1);
        }
    }
    let _thaw = Thaw(freezer.join(file), thawed);
    let id = jolt.id("frozen");
    let bundle = jolt
        .bundle()
        .sleeper()
        .cgroups_path(&format!("{parent}/{id}"));

    let out = jolt
        .spawn(["create", "--bundle", bundle.dir(), &id])
        .wait_within(std::time::Duration::from_secs(30));
    out.assert_failure().assert_stderr_contains("is frozen");
    jolt.assert_clean(&id);
    assert!(
        cgroup_dirs_of(&format!("{parent}/{id}")).is_empty(),
        "the container's cgroup is gone"
    );
}

/// `linux.resources.unified` (cgroup v2): each key written to the file of
/// that name, over what the other fields wrote, at create and at `update
/// -r`, side by side with runc; a key of a controller the cgroup does not
/// have is refused, leaving nothing. On cgroup v1 it is refused.
#[test]
fn unified_resources_land_in_their_files_as_with_runc() {
    let Some(jolt) = session() else { return };
    let unified = json!({ "memory.high": "33554432", "pids.max": "42" });
    let probe = "echo \"high $(cat /sys/fs/cgroup/memory.high)\"; \
                 echo \"pids $(cat /sys/fs/cgroup/pids.max)\"";
    let bundle = jolt
        .bundle()
        .resources("pids", json!({ "limit": 20 }))
        .resources("unified", unified.clone())
        .sh(probe);
    if cgroups() == Cgroups::V1 {
        let id = jolt.id("unified-v1");
        jolt.create_fails(&id, &bundle)
            .assert_stderr_contains("linux.resources.unified: is for cgroup v2 only");
        return;
    }

    let out = jolt.run_ok("unified", &bundle);
    assert_eq!(line_after(&out.stdout, "high "), "33554432", "{out}");
    assert_eq!(
        line_after(&out.stdout, "pids "),
        "42",
        "unified over pids.limit"
    );
    if let Some(runc) = jolt.runc_run("unified-runc", &bundle) {
        let stdout = String::from_utf8_lossy(&runc.stdout);
        assert_eq!(line_after(&stdout, "high "), "33554432", "runc: {stdout}");
        assert_eq!(line_after(&stdout, "pids "), "42", "runc: {stdout}");
    }

    let id = jolt.id("unified-update");
    jolt.create(&id, &jolt.bundle().sleeper().resources("unified", unified));
    let path = jolt.cgroup_path(&id);
    let update = jolt.host_path("unified.json");
    std::fs::write(
        &update,
        json!({ "unified": { "memory.high": "max" } }).to_string(),
    )
    .unwrap();
    jolt.ok(["update", "-r", update.to_str().unwrap(), &id]);
    assert_eq!(read_cgroup("memory", &path, "memory.high"), "max");
    jolt.force_delete(&id);

    let bad = jolt
        .bundle()
        .resources("unified", json!({ "nosuch.max": "1" }))
        .sh("true");
    let id = jolt.id("unified-bad");
    jolt.create_fails(&id, &bad)
        .assert_stderr_contains("the nosuch controller is not enabled for this cgroup");
}

/// A blockIO weight goes to the file the host's I/O scheduler has, as with
/// runc: v2 io.bfq.weight, else io.weight scaled to 1..10000; v1
/// blkio.weight, else blkio.bfq.weight. Where neither exists (the host
/// here: v1 blkio without CFQ or BFQ) create fails naming the file, and
/// runc fails too. In the VM too.
#[test]
fn a_block_io_weight_lands_where_the_scheduler_has_it() {
    let Some(jolt) = session() else { return };
    let probe = match cgroups() {
        Cgroups::V2 => {
            "echo \"weight $(cat /sys/fs/cgroup/io.bfq.weight 2>/dev/null || \
                        grep default /sys/fs/cgroup/io.weight)\""
        }
        Cgroups::V1 => {
            "echo \"weight $(cat /sys/fs/cgroup/blkio/blkio.weight 2>/dev/null || \
                        cat /sys/fs/cgroup/blkio/blkio.bfq.weight)\""
        }
    };
    let bundle = jolt
        .bundle()
        .resources("blockIO", json!({ "weight": 500 }))
        .sh(probe);
    let v1_dir = cgroup_dir("blkio", "/");
    let v1_without = cgroups() == Cgroups::V1
        && !v1_dir.join("blkio.weight").exists()
        && !v1_dir.join("blkio.bfq.weight").exists();
    if v1_without {
        let id = jolt.id("blkio-weight");
        jolt.create_fails(&id, &bundle)
            .assert_stderr_contains("linux.resources.blockIO: blkio.weight: write \"500\"");
        if let Some(runc) = jolt.runc_run("blkio-weight-runc", &bundle) {
            assert!(!runc.status.success(), "runc fails too");
        }
        return;
    }

    let out = jolt.run_ok("blkio-weight", &bundle);
    let weight = line_after(&out.stdout, "weight ");
    assert!(["500", "default 4950"].contains(&weight), "{out}");
    if let Some(runc) = jolt.runc_run("blkio-weight-runc", &bundle) {
        let stdout = String::from_utf8_lossy(&runc.stdout);
        assert_eq!(line_after(&stdout, "weight "), weight, "runc: {stdout}");
    }
}

/// A CFS quota and period of the same share as a parent's limit, but ten
/// times longer: on v1 writing the quota before the period exceeds the
/// parent in between, and the kernel refuses it; jolt orders the writes as
/// runc does. Side by side with runc.
#[test]
fn a_cpu_quota_with_a_long_period_fits_under_a_parents_limit() {
    let Some(jolt) = session() else { return };
    let parent = "/jolt-e2e-cfs";
    let _parent = RemoveWhenEmpty(parent);
    let dir = cgroup_dir("cpu", parent);
    std::fs::create_dir_all(&dir).unwrap();
    match cgroups() {
        Cgroups::V1 => std::fs::write(dir.join("cpu.cfs_quota_us"), "50000").unwrap(),
        Cgroups::V2 => {
            std::fs::write(Path::new("/sys/fs/cgroup/cgroup.subtree_control"), "+cpu").unwrap();
            std::fs::write(dir.join("cpu.max"), "50000 100000").unwrap()
        }
    }
    let bundle = |name: &str| {
        jolt.bundle()
            .cgroups_path(&format!("{parent}/{}", jolt.id(name)))
            .resources("cpu", json!({ "quota": 500000, "period": 1000000 }))
            .sleeper()
    };
    let id = jolt.id("cfs");
    jolt.create(&id, &bundle("cfs"));
    let path = jolt.cgroup_path(&id);
    match cgroups() {
        Cgroups::V1 => {
            assert_eq!(read_cgroup("cpu", &path, "cpu.cfs_quota_us"), "500000");
            assert_eq!(read_cgroup("cpu", &path, "cpu.cfs_period_us"), "1000000");
        }
        Cgroups::V2 => assert_eq!(read_cgroup("cpu", &path, "cpu.max"), "500000 1000000"),
    }
    jolt.force_delete(&id);

    let runc_bundle = bundle("cfs-runc").sh("true");
    if let Some(runc) = jolt.runc_run("cfs-runc", &runc_bundle) {
        assert!(runc.status.success(), "runc: {runc:?}");
    }
}

/// On a hybrid host (v1 controllers, cgroup2 at /sys/fs/cgroup/unified:
/// this host) the container is in the unified hierarchy too, as runc puts
/// it, and leaves nothing there. Beside runc: the same `0::` line.
#[test]
fn on_a_hybrid_host_the_container_joins_the_unified_hierarchy_too() {
    let unified = Path::new("/sys/fs/cgroup/unified");
    if cgroups() == Cgroups::V2 || !unified.join("cgroup.procs").exists() {
        eprintln!("skipped: not a hybrid host (no cgroup2 at /sys/fs/cgroup/unified)");
        return;
    }
    let Some(jolt) = session() else { return };
    let id = jolt.id("hybrid");
    jolt.create(&id, &jolt.bundle().sleeper());
    let dir = unified.join(jolt.cgroup_path(&id).trim_start_matches('/'));
    let procs = std::fs::read_to_string(dir.join("cgroup.procs")).unwrap();
    assert!(
        procs.lines().any(|l| l == jolt.pid(&id).to_string()),
        "{procs}"
    );
    jolt.force_delete(&id);
    assert!(!dir.exists(), "{} is left", dir.display());

    let probe = jolt.bundle().sh("grep '^0::' /proc/self/cgroup");
    let ours = jolt.run_ok("hybrid-line", &probe);
    if let Some(runc) = jolt.runc_run("hybrid-line-runc", &probe) {
        assert_eq!(
            ours.stdout,
            String::from_utf8_lossy(&runc.stdout),
            "jolt, then runc"
        );
    }
}
