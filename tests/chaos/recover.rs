//! recover: faults journaled and applied by a joltd that then died are
//! undone by the next start's Journal::recover — the CPU limit is back to
//! what it was, the cgroup is thawed, and the journal is empty.
//!
//! In the VM too (scripts/test's VM_TESTS): the replay of cpu.max and a
//! thaw on cgroup v2.

use std::time::Duration;

use jolt_chaos::fault::{CpuThrottle, Pause};
use jolt_chaos::{fault, Entry, Fault, Journal, Reverted};
use jolt_e2e::host::{cgroups, Cgroups};

use crate::support::{read, root, TestCgroup};

#[test]
fn recover_after_a_crash_restores_the_cpu_limit_and_thaws() {
    if !root() {
        return;
    }
    let state = tempfile::tempdir().unwrap();
    let mut cg = TestCgroup::new();
    let pid = cg.spawn_sleep();
    let target = cg.target(pid);
    let limit_file = match cgroups() {
        Cgroups::V2 => cg.dir("cpu").join("cpu.max"),
        Cgroups::V1 => cg.dir("cpu").join("cpu.cfs_quota_us"),
    };
    let limit_before = read(&limit_file);

    // What joltd does per injection: prepare, journal, apply. Then it dies.
    {
        let journal = Journal::open(&state.path().join("journal")).unwrap();
        let faults = [
            Fault::CpuThrottle(CpuThrottle {
                cpus: 0.3,
                duration: Duration::from_secs(600),
            }),
            Fault::Pause(Pause {
                duration: Duration::from_secs(600),
            }),
        ];
        for (seq, fault) in faults.iter().enumerate() {
            let undo = fault::prepare(fault, &target).unwrap();
            journal
                .record(&Entry {
                    id: format!("crash-{seq}-{}", target.id),
                    experiment: "crash".into(),
                    target: target.clone(),
                    fault_kind: fault.kind().into(),
                    fault: fault.to_string(),
                    undo: undo.clone(),
                    injected_at: format!("2026-12-02T09:00:0{seq}Z"),
                })
                .unwrap();
            fault::apply(fault, &target, &undo).unwrap();
        }
        assert_ne!(read(&limit_file), limit_before, "throttled");
    }

    let journal = Journal::open(&state.path().join("journal")).unwrap();
    let results = journal.recover();
    let summary: Vec<(String, String)> = results
        .iter()
        .map(|(e, r)| (e.fault_kind.clone(), format!("{r:?}")))
        .collect();
    assert_eq!(
        summary,
        [
            (
                "pause".to_string(),
                format!("{:?}", Ok::<_, ()>(Reverted::Done))
            ),
            (
                "cpu-throttle".to_string(),
                format!("{:?}", Ok::<_, ()>(Reverted::Done))
            ),
        ],
        "newest first"
    );
    assert_eq!(read(&limit_file), limit_before);
    let frozen = match cgroups() {
        Cgroups::V1 => read(&cg.dir("freezer").join("freezer.state")) != "THAWED",
        Cgroups::V2 => read(&cg.dir("freezer").join("cgroup.freeze")) != "0",
    };
    assert!(!frozen, "thawed");
    let (left, errors) = journal.entries();
    assert!(left.is_empty() && errors.is_empty(), "{left:?} {errors:?}");
    assert!(journal.recover().is_empty(), "a second start finds nothing");
}
