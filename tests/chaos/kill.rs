//! kill: scope init signals the init only; scope all signals every process
//! of the cgroup, nested cgroups included, with the cgroup frozen meanwhile
//! (thawed after, unless it was paused before: then it stays paused, but
//! for SIGKILL).
//!
//! In the VM too (scripts/test's VM_TESTS): scope all, through cgroup.kill
//! and cgroup.freeze there.

use std::time::Duration;

use jolt_chaos::experiment::{Kill, KillScope, Signal};
use jolt_chaos::{fault, Fault, Target, Undo};

use crate::support::{root, TestCgroup};

fn kill(signal: &str, scope: KillScope) -> Fault {
    let text = format!(
        "name: k\ntargets: {{names: [t]}}\nschedule: {{at: [0s]}}\nfault: {{kind: kill, signal: {signal}, scope: {}}}\n",
        match scope {
            KillScope::Init => "init",
            KillScope::All => "all",
        }
    );
    let mut experiment =
        jolt_chaos::Experiment::from_yaml_or_json(&text, "test").unwrap_or_else(|e| panic!("{e}"));
    experiment.faults.remove(0)
}

/// Prepares and applies `fault` against `target`, as joltd would.
fn inject(fault: &Fault, target: &Target) {
    let undo = fault::prepare(fault, target).unwrap();
    assert_eq!(undo, Undo::Nothing, "a kill has nothing to undo");
    fault::apply(fault, target, &undo).unwrap();
}

#[test]
fn kill_init_signals_the_init_and_no_other_process() {
    if !root() {
        return;
    }
    let mut cg = TestCgroup::new();
    let init = cg.spawn_sleep();
    let other = cg.spawn_sleep();
    let target = cg.target(init);
    let fault = kill("SIGTERM", KillScope::Init);
    assert!(matches!(fault, Fault::Kill(Kill { signal, .. }) if signal.number() == 15));

    inject(&fault, &target);
    assert!(cg.exited(init, Duration::from_secs(5)), "init got SIGTERM");
    assert!(
        !cg.exited(other, Duration::from_millis(300)),
        "the other lives"
    );

    let err = fault::prepare(&fault, &target).unwrap_err().to_string();
    assert!(err.contains("is gone"), "a dead init is refused: {err}");
}

#[test]
fn kill_all_signals_every_process_of_the_cgroup_and_its_children() {
    if !root() {
        return;
    }
    let mut cg = TestCgroup::new();
    let init = cg.spawn_sleep();
    let second = cg.spawn_sleep();
    let nested = cg.nested("sub");
    let deep = cg.spawn_in(Some(&nested), "exec sleep 1000");
    let target = cg.target(init);
    let fault = kill("KILL", KillScope::All);
    assert_eq!(
        fault,
        Fault::Kill(Kill {
            signal: Signal::KILL,
            scope: KillScope::All
        })
    );

    inject(&fault, &target);
    for pid in [init, second, deep] {
        assert!(
            cg.exited(pid, Duration::from_secs(5)),
            "pid {pid} was killed"
        );
    }
}

/// SIGUSR1, which the processes catch: they live on, and the cgroup that
/// `all` froze while signalling is thawed again (they keep running).
#[test]
fn kill_all_thaws_what_it_froze() {
    if !root() {
        return;
    }
    let mut cg = TestCgroup::new();
    let init = cg.spawn_in(
        None,
        "exec >/dev/null 2>&1; trap 'echo usr1' USR1; while :; do sleep 0.05; done",
    );
    let other = cg.spawn_sleep();
    let target = cg.target(init);
    // Give sh time to set its trap before the signal comes.
    std::thread::sleep(Duration::from_millis(300));
    let fault = kill("SIGUSR1", KillScope::All);
    inject(&fault, &target);
    assert!(!cg.frozen(), "thawed after the signals");
    assert!(
        !cg.exited(init, Duration::from_millis(300)),
        "init caught it"
    );
    assert!(cg.exited(other, Duration::from_secs(5)), "sleep died of it");
}

/// A paused cgroup stays paused: `all` does not thaw a freeze it did not
/// make, and the processes die of the SIGTERM once their owner thaws them
/// (on v2 they may die before: a fatal signal gets a frozen process out).
#[test]
fn kill_all_leaves_a_paused_cgroup_paused() {
    if !root() {
        return;
    }
    let mut cg = TestCgroup::new();
    let init = cg.spawn_sleep();
    let second = cg.spawn_sleep();
    cg.freeze();
    let target = cg.target(init);
    // SIGTERM: on v2, SIGKILL would go through cgroup.kill instead.
    let fault = kill("SIGTERM", KillScope::All);
    inject(&fault, &target);
    assert!(cg.freeze_asked(), "still paused");
    cg.thaw();
    for pid in [init, second] {
        assert!(
            cg.exited(pid, Duration::from_secs(5)),
            "pid {pid} died once thawed"
        );
    }
}

/// SIGKILL to a paused cgroup: a frozen v1 process never acts on it, so
/// `all` thaws the cgroup and the processes die (v2: through cgroup.kill).
#[test]
fn kill_all_sigkill_kills_a_paused_cgroup() {
    if !root() {
        return;
    }
    let mut cg = TestCgroup::new();
    let init = cg.spawn_sleep();
    let second = cg.spawn_sleep();
    cg.freeze();
    let target = cg.target(init);
    let fault = kill("KILL", KillScope::All);
    inject(&fault, &target);
    for pid in [init, second] {
        assert!(
            cg.exited(pid, Duration::from_secs(5)),
            "pid {pid} was killed"
        );
    }
}
