//! cpu-throttle: a busy loop in a cgroup is held near the asked fraction
//! of a CPU while the fault is in, and the exact previous limit is back
//! after revert.
//!
//! In the VM too (scripts/test's VM_TESTS): cpu.max on cgroup v2.

use std::fs;
use std::time::Duration;

use jolt_chaos::fault::CpuThrottle;
use jolt_chaos::{fault, Fault, Reverted, Undo};
use jolt_e2e::host::{cgroups, Cgroups};

use crate::support::{cpu_lock, cpu_usage, read, root, TestCgroup};

/// The limit as the kernel shows it: cpu.max on v2, quota and period on v1.
fn limit(cg: &TestCgroup) -> String {
    let dir = cg.dir("cpu");
    match cgroups() {
        Cgroups::V2 => read(&dir.join("cpu.max")),
        Cgroups::V1 => format!(
            "{} {}",
            read(&dir.join("cpu.cfs_quota_us")),
            read(&dir.join("cpu.cfs_period_us"))
        ),
    }
}

#[test]
fn cpu_throttle_holds_a_busy_loop_near_the_fraction_and_revert_restores_the_limit() {
    if !root() {
        return;
    }
    let _one_at_a_time = cpu_lock();
    let mut cg = TestCgroup::new();
    // A previous limit that is not the default, so that restoring "the
    // default" would not pass for restoring what was there.
    let dir = cg.dir("cpu").to_path_buf();
    let previous = match cgroups() {
        Cgroups::V2 => {
            fs::write(dir.join("cpu.max"), "max 250000").unwrap();
            "max 250000"
        }
        Cgroups::V1 => {
            fs::write(dir.join("cpu.cfs_period_us"), "250000").unwrap();
            "-1 250000"
        }
    };
    let pid = cg.spawn_busy();
    let target = cg.target(pid);
    let throttle = Fault::CpuThrottle(CpuThrottle {
        cpus: 0.2,
        duration: Duration::from_secs(60),
    });

    let undo = fault::prepare(&throttle, &target).unwrap();
    match (&undo, cgroups()) {
        (Undo::CpuMax { path, previous }, Cgroups::V2) => {
            assert_eq!(path, &dir.join("cpu.max"));
            assert_eq!(
                previous, "max 250000\n",
                "the exact bytes the kernel showed"
            );
        }
        (
            Undo::CfsQuota {
                dir: d,
                quota,
                period,
            },
            Cgroups::V1,
        ) => {
            assert_eq!((d, *quota, *period), (&dir, -1, 250_000));
        }
        other => panic!("unexpected undo for this host: {other:?}"),
    }
    assert_eq!(limit(&cg), previous, "prepare changes nothing");

    fault::apply(&throttle, &target, &undo).unwrap();
    assert_eq!(limit(&cg), "20000 100000");
    let usage = cpu_usage(pid, Duration::from_secs(2));
    eprintln!("busy loop under cpus=0.2 used {usage:.3} of a CPU");
    assert!(
        (usage - 0.2).abs() <= 0.1,
        "usage {usage:.3} is within 0.1 of 0.2"
    );

    assert_eq!(fault::revert(&undo).unwrap(), Reverted::Done);
    assert_eq!(limit(&cg), previous, "the previous limit, exactly");
    assert_eq!(fault::revert(&undo).unwrap(), Reverted::AlreadyClean);
    let usage = cpu_usage(pid, Duration::from_secs(1));
    assert!(usage > 0.4, "unthrottled again: {usage:.3}");

    drop(cg);
    assert_eq!(
        fault::revert(&undo).unwrap(),
        Reverted::TargetGone,
        "the cgroup is gone"
    );
}

#[test]
fn cpu_throttle_refuses_a_process_in_the_root_cgroup() {
    if !root() {
        return;
    }
    let target = jolt_chaos::Target {
        id: "host".into(),
        name: "host-init".into(),
        pid: 1,
        netns: None,
        interface: Some("eth0".into()),
    };
    let throttle = Fault::CpuThrottle(CpuThrottle {
        cpus: 0.5,
        duration: Duration::from_secs(60),
    });
    let in_root = fs::read_to_string("/proc/1/cgroup").unwrap();
    if !in_root.lines().all(|l| l.ends_with(":/")) {
        eprintln!("skipped: pid 1 is not in the root cgroup here:\n{in_root}");
        return;
    }
    let err = fault::prepare(&throttle, &target).unwrap_err().to_string();
    assert!(
        err.starts_with("container host-init: cpu-throttle: ") && err.contains("root cgroup"),
        "{err}"
    );
}
