//! cpu-stress and memory-stress: in a cgroup of the test's own holding a
//! sleeping process, the stressors load it as asked (CPU time at the load
//! given, memory use at the size or share of the limit given) while a
//! neighbouring cgroup stays idle; revert kills every stressor and the
//! load goes; a percentage without a limit is refused. In the VM too
//! (scripts/test's VM_TESTS): the v2 cpu.stat and memory.current paths.

use std::fs;
use std::path::Path;
use std::thread::sleep;
use std::time::{Duration, Instant};

use jolt_chaos::fault::{Amount, CpuStress, MemoryStress, Oom};
use jolt_chaos::{fault, Fault, Reverted, Undo};
use jolt_e2e::host::{cgroups, Cgroups};

use crate::support::{cpu_lock, cpu_seconds, read, root, TestCgroup};

/// CPU seconds the processes in the cgroup at `dir` have used (per
/// process: the cpu hierarchy has no usage file of its own where cpuacct
/// is mounted apart, as on this host).
fn cgroup_cpu(dir: &Path) -> f64 {
    read(&dir.join("cgroup.procs"))
        .lines()
        .filter_map(|l| l.parse().ok())
        .filter(|pid| Path::new(&format!("/proc/{pid}")).exists())
        .map(cpu_seconds)
        .sum()
}

/// The share of one CPU the processes in the cgroup at `dir` used over
/// `window`.
fn cpu_share(dir: &Path, window: Duration) -> f64 {
    let (before, t0) = (cgroup_cpu(dir), Instant::now());
    sleep(window);
    (cgroup_cpu(dir) - before) / t0.elapsed().as_secs_f64()
}

/// Bytes of memory the cgroup at `dir` uses.
fn memory_used(dir: &Path) -> u64 {
    let file = match cgroups() {
        Cgroups::V2 => "memory.current",
        Cgroups::V1 => "memory.usage_in_bytes",
    };
    read(&dir.join(file)).parse().unwrap()
}

/// The pids in the cgroup at `dir` named `marker`.
fn stressors(dir: &Path, marker: &str) -> Vec<i32> {
    read(&dir.join("cgroup.procs"))
        .lines()
        .filter_map(|l| l.parse().ok())
        .filter(|pid: &i32| {
            fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == marker)
        })
        .collect()
}

#[test]
fn cpu_stress_loads_the_targets_cgroup_only_and_revert_kills_every_worker() {
    if !root() {
        return;
    }
    let _cpu = cpu_lock();
    let mut cg = TestCgroup::new();
    let mut neighbour = TestCgroup::new();
    let pid = cg.spawn_sleep();
    neighbour.spawn_sleep();
    let target = cg.target(pid);
    let dir = cg.dir("cpu").to_path_buf();
    let stress = Fault::CpuStress(CpuStress {
        workers: 2,
        load: 25.0,
        duration: Duration::from_secs(60),
    });
    let undo = fault::prepare(&stress, &target).unwrap();
    let Undo::Stressors { cgroup, marker } = &undo else {
        panic!("{undo:?}")
    };
    assert_eq!(cgroup, &dir);
    fault::apply(&stress, &target, &undo).unwrap();
    assert_eq!(
        stressors(&dir, marker).len(),
        2,
        "two workers in the cgroup"
    );
    let share = cpu_share(&dir, Duration::from_secs(2));
    let idle = cpu_share(neighbour.dir("cpu"), Duration::from_millis(500));
    eprintln!(
        "cpu-stress 2 workers at 25%: the cgroup used {share:.2} CPUs, its neighbour {idle:.3}"
    );
    assert!((0.3..=0.7).contains(&share), "{share}");
    assert!(idle < 0.05, "{idle}");

    assert_eq!(fault::revert(&undo).unwrap(), Reverted::Done);
    assert!(stressors(&dir, marker).is_empty());
    assert_eq!(fault::revert(&undo).unwrap(), Reverted::AlreadyClean);
    assert!(
        !cg.exited(pid, Duration::ZERO),
        "the container's own process lives on"
    );
}

#[test]
fn memory_stress_holds_its_size_in_the_targets_cgroup_until_reverted() {
    if !root() {
        return;
    }
    let mut cg = TestCgroup::new();
    let pid = cg.spawn_sleep();
    let target = cg.target(pid);
    let dir = cg.dir("memory").to_path_buf();
    let before = memory_used(&dir);
    let stress = Fault::MemoryStress(MemoryStress {
        amount: Amount::Bytes(64 << 20),
        oom: Oom::Stressor,
        duration: Duration::from_secs(60),
    });
    let undo = fault::prepare(&stress, &target).unwrap();
    fault::apply(&stress, &target, &undo).unwrap();
    let Undo::Stressors { marker, .. } = &undo else {
        panic!("{undo:?}")
    };
    let held = jolt_e2e::wait_until("64 MiB held", Duration::from_secs(10), || {
        let used = memory_used(&dir);
        (used >= before + (60 << 20)).then_some(used)
    });
    let pids = stressors(&dir, marker);
    assert_eq!(pids.len(), 1);
    assert_eq!(
        read(Path::new(&format!("/proc/{}/oom_score_adj", pids[0]))),
        "1000"
    );
    eprintln!(
        "memory-stress 64 MiB: the cgroup uses {} MiB (before: {} MiB)",
        held >> 20,
        before >> 20
    );
    assert_eq!(fault::revert(&undo).unwrap(), Reverted::Done);
    let after = memory_used(&dir);
    assert!(after < before + (16 << 20), "freed: {after} bytes");
}

#[test]
fn memory_stress_takes_a_share_of_the_limit_and_refuses_without_one() {
    if !root() {
        return;
    }
    let mut cg = TestCgroup::new();
    let pid = cg.spawn_sleep();
    let target = cg.target(pid);
    let dir = cg.dir("memory").to_path_buf();
    let stress = Fault::MemoryStress(MemoryStress {
        amount: Amount::OfLimit(25.0),
        oom: Oom::Any,
        duration: Duration::from_secs(60),
    });
    let err = fault::prepare(&stress, &target).unwrap_err().to_string();
    assert!(
        err.ends_with("it has no memory limit to take a percentage of; give size instead"),
        "{err}"
    );

    let limit = match cgroups() {
        Cgroups::V2 => "memory.max",
        Cgroups::V1 => "memory.limit_in_bytes",
    };
    fs::write(dir.join(limit), (256u64 << 20).to_string()).unwrap();
    let before = memory_used(&dir);
    let undo = fault::prepare(&stress, &target).unwrap();
    fault::apply(&stress, &target, &undo).unwrap();
    jolt_e2e::wait_until("a quarter of 256 MiB held", Duration::from_secs(10), || {
        (memory_used(&dir) >= before + (60 << 20)).then_some(())
    });
    assert_eq!(fault::revert(&undo).unwrap(), Reverted::Done);
}
