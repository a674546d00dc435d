//! pause: a frozen cgroup's busy loop stops using CPU, a second pause is
//! refused instead of stacking, and revert thaws it.
//!
//! In the VM too (scripts/test's VM_TESTS): cgroup.freeze and
//! cgroup.events.

use std::time::Duration;

use jolt_chaos::fault::Pause;
use jolt_chaos::{fault, Fault, FaultError, Reverted, Undo};
use jolt_e2e::host::{cgroups, Cgroups};

use crate::support::{cpu_lock, cpu_usage, root, TestCgroup};

#[test]
fn pause_freezes_the_cgroup_and_revert_thaws_it() {
    if !root() {
        return;
    }
    let _one_at_a_time = cpu_lock();
    let mut cg = TestCgroup::new();
    let pid = cg.spawn_busy();
    let target = cg.target(pid);
    let pause = Fault::Pause(Pause {
        duration: Duration::from_secs(60),
    });

    let undo = fault::prepare(&pause, &target).unwrap();
    let want = match cgroups() {
        Cgroups::V1 => cg.dir("freezer").join("freezer.state"),
        Cgroups::V2 => cg.dir("freezer").join("cgroup.freeze"),
    };
    assert_eq!(undo, Undo::Thaw { path: want });
    assert!(!cg.frozen(), "prepare changes nothing");

    fault::apply(&pause, &target, &undo).unwrap();
    assert!(cg.frozen(), "frozen once apply returns");
    let usage = cpu_usage(pid, Duration::from_millis(700));
    assert!(usage < 0.02, "a frozen busy loop uses no CPU: {usage:.3}");

    match fault::prepare(&pause, &target) {
        Err(e @ FaultError::Refused { .. }) => {
            assert!(e.to_string().contains("already paused"), "{e}")
        }
        other => panic!("a second pause is refused, got {other:?}"),
    }

    assert_eq!(fault::revert(&undo).unwrap(), Reverted::Done);
    assert!(!cg.frozen());
    let usage = cpu_usage(pid, Duration::from_millis(700));
    assert!(usage > 0.2, "the loop runs again: {usage:.3}");
    assert_eq!(fault::revert(&undo).unwrap(), Reverted::AlreadyClean);
}

#[test]
fn pause_never_thaws_a_freeze_it_did_not_make() {
    if !root() {
        return;
    }
    let mut cg = TestCgroup::new();
    let pid = cg.spawn_sleep();
    cg.freeze();
    let pause = Fault::Pause(Pause {
        duration: Duration::from_secs(60),
    });
    let err = fault::prepare(&pause, &cg.target(pid))
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with(&format!("container test-{pid}: pause: already paused")),
        "{err}"
    );
    assert!(cg.frozen(), "still frozen by its owner");
}
