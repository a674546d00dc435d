//! kill: scope init signals the init only; scope all signals every process
//! of the cgroup, nested cgroups included.

use std::time::Duration;

use jolt_chaos::experiment::{KillScope, Signal};
use jolt_chaos::{fault, Fault, Undo};

use crate::support::{root, TestCgroup};

fn kill(signal: &str, scope: KillScope) -> Fault {
    let text = format!(
        "name: k\ntargets: {{names: [t]}}\nschedule: {{at: [0s]}}\nfault: {{kind: kill, signal: {signal}, scope: {}}}\n",
        match scope {
            KillScope::Init => "init",
            KillScope::All => "all",
        }
    );
    let experiment =
        jolt_chaos::Experiment::from_yaml_or_json(&text, "test").unwrap_or_else(|e| panic!("{e}"));
    experiment.fault
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
    assert!(matches!(fault, Fault::Kill { signal, .. } if signal.number() == 15));

    let undo = fault::prepare(&fault, &target).unwrap();
    assert_eq!(undo, Undo::Nothing);
    fault::apply(&fault, &target, &undo).unwrap();
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
        Fault::Kill {
            signal: Signal::KILL,
            scope: KillScope::All
        }
    );

    let undo = fault::prepare(&fault, &target).unwrap();
    fault::apply(&fault, &target, &undo).unwrap();
    for pid in [init, second, deep] {
        assert!(
            cg.exited(pid, Duration::from_secs(5)),
            "pid {pid} was killed"
        );
    }
}
