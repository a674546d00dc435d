//! A fault never outlives its time while joltd runs, and what joltd says
//! follows what its disk holds: a revert that fails is retried until the
//! fault is gone, and shown as stuck meanwhile; a record that cannot be
//! saved keeps the experiment running, saying why, until it is saved; the
//! timeline keeps one event a line when many land at once, and its counts
//! survive a restart. The failures are real: joltd out of file
//! descriptors, its experiment directory read-only.
//!
//! In the VM too (scripts/test's VM_TESTS): the stuck and replayed
//! thaws, on cgroup.freeze there.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use crate::agent;
use crate::experiments::{apply, busy, cpu_share, events, get, wait_event, wait_phase};
use jolt_e2e::host::{self, Cgroups};

/// joltd's soft limit on open files lowered to 0, so that every open
/// fails with EMFILE (the descriptors it has stay usable); put back on
/// drop.
struct OutOfDescriptors {
    pid: i32,
    old: libc::rlimit64,
}

impl OutOfDescriptors {
    fn impose(pid: i32) -> OutOfDescriptors {
        let mut old = libc::rlimit64 {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: a null new limit only reads the old one into `old`.
        assert_eq!(
            unsafe { libc::prlimit64(pid, libc::RLIMIT_NOFILE, std::ptr::null(), &mut old) },
            0
        );
        let new = libc::rlimit64 {
            rlim_cur: 0,
            rlim_max: old.rlim_max,
        };
        // SAFETY: both pointers are to live rlimit64 values.
        assert_eq!(
            unsafe { libc::prlimit64(pid, libc::RLIMIT_NOFILE, &new, std::ptr::null_mut()) },
            0,
            "prlimit64: {}",
            std::io::Error::last_os_error()
        );
        OutOfDescriptors { pid, old }
    }
}

impl Drop for OutOfDescriptors {
    fn drop(&mut self) {
        // SAFETY: a pointer to a live rlimit64.
        unsafe {
            libc::prlimit64(
                self.pid,
                libc::RLIMIT_NOFILE,
                &self.old,
                std::ptr::null_mut(),
            )
        };
    }
}

/// One GET on a connection opened before joltd ran out of descriptors;
/// the JSON body.
fn get_on(conn: &mut BufReader<UnixStream>, path: &str) -> Value {
    conn.get_mut()
        .write_all(format!("GET {path} HTTP/1.1\r\nHost: joltd\r\n\r\n").as_bytes())
        .unwrap();
    let mut line = String::new();
    let mut chunked = false;
    let mut body = Vec::new();
    loop {
        line.clear();
        conn.read_line(&mut line).unwrap();
        if line == "\r\n" || line.is_empty() {
            break;
        }
        let header = line.to_ascii_lowercase();
        if let Some(v) = header.strip_prefix("content-length:") {
            body.resize(v.trim().parse().unwrap(), 0);
        }
        chunked |= header.starts_with("transfer-encoding:") && header.contains("chunked");
    }
    if !chunked {
        conn.read_exact(&mut body).unwrap();
        return serde_json::from_slice(&body).unwrap();
    }
    loop {
        line.clear();
        conn.read_line(&mut line).unwrap();
        let size = usize::from_str_radix(line.trim(), 16).unwrap();
        let mut chunk = vec![0; size + 2];
        conn.read_exact(&mut chunk).unwrap();
        if size == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..size]);
    }
    serde_json::from_slice(&body).unwrap()
}

#[test]
fn a_failed_revert_is_retried_until_the_fault_is_gone() {
    let Some(a) = agent() else { return };
    let id = busy(&a, "stuck", &[]);
    apply(
        &a,
        "nap",
        "name: nap\ntargets: {names: [stuck]}\nschedule: {at: [0s]}\nfault: {kind: pause, duration: 2s}\n",
    );
    wait_event(&a, "nap", "injected");
    let mut conn = BufReader::new(UnixStream::connect(a.socket()).unwrap());
    assert_eq!(get_on(&mut conn, "/v1/experiments/nap")["phase"], "running");
    {
        let _limit = OutOfDescriptors::impose(a.pid());
        // Past the fault's time: its revert cannot open the freezer file.
        std::thread::sleep(Duration::from_secs(4));
        let frozen = cpu_share(&id, Duration::from_millis(500));
        assert!(frozen < 0.02, "the pause stays while its revert fails");
        let s = get_on(&mut conn, "/v1/experiments/nap");
        assert_eq!(
            s["phase"], "running",
            "not finished with a fault in place: {s}"
        );
        let stuck = &s["active"][0];
        assert!(
            stuck["revert_error"]
                .as_str()
                .is_some_and(|e| e.contains("Too many open files")),
            "{s}"
        );
        assert!(stuck["revert_attempts"].as_u64().unwrap() >= 2, "{s}");
        let ps = get_on(&mut conn, "/v1/containers");
        let faults = &ps[0]["faults"][0];
        assert_eq!(faults["experiment"], "nap", "{ps}");
        assert!(faults["revert_error"].is_string(), "{ps}");
    }
    // Descriptors back: the next attempt reverts it, then it finishes.
    let s = wait_phase(&a, "nap", "finished");
    assert_eq!(s["active"], serde_json::json!([]));
    let thawed = cpu_share(&id, Duration::from_millis(500));
    assert!(thawed > 0.02, "thawed once the revert went through");
    let timeline = events(&a, "nap");
    let failed = timeline.iter().find(|e| e["event"] == "failed").unwrap();
    assert!(failed["message"].as_str().unwrap().contains("retrying"));
    let reverted = timeline.iter().find(|e| e["event"] == "reverted").unwrap();
    assert!(reverted["message"].as_str().unwrap().contains("attempt"));
    assert!(jolt_e2e::agent::empty_dir(&a.state_dir().join("journal")));
    let ps = a.ok(["ps"]);
    assert!(!ps.contains("pause by"), "{ps}");
    a.ok(["rm", "-f", "stuck"]);
}

/// A read-only bind mount of `source` on `target`, so that writes to
/// `target` fail with EROFS; unmounted on drop.
struct ReadOnly(PathBuf);

impl ReadOnly {
    /// `dir` made read-only: bound over itself.
    fn make(dir: &Path) -> ReadOnly {
        ReadOnly::bind(dir, dir)
    }

    fn bind(source: &Path, target: &Path) -> ReadOnly {
        let mount = |args: &[&str], source: &Path| {
            let status = Command::new("mount")
                .args(args)
                .arg(source)
                .arg(target)
                .status();
            assert!(
                status.unwrap().success(),
                "mount {args:?} {}",
                target.display()
            );
        };
        mount(&["--bind"], source);
        let guard = ReadOnly(target.to_path_buf());
        mount(&["-o", "remount,bind,ro"], target);
        guard
    }
}

impl Drop for ReadOnly {
    fn drop(&mut self) {
        let _ = nix::mount::umount2(&self.0, nix::mount::MntFlags::MNT_DETACH);
    }
}

#[test]
fn a_record_that_cannot_be_saved_keeps_the_experiment_running_until_it_is() {
    let Some(mut a) = agent() else { return };
    busy(&a, "ro", &[]);
    apply(
        &a,
        "unsaved",
        "name: unsaved\ntargets: {names: [ro]}\nschedule: {at: [0s]}\nfault: {kind: pause, duration: 1s}\n",
    );
    wait_event(&a, "unsaved", "injected");
    {
        let _ro = ReadOnly::make(&a.state_dir().join("experiments/unsaved"));
        std::thread::sleep(Duration::from_secs(3));
        let s = get(&a, "unsaved");
        assert_eq!(s["phase"], "running", "what disk says: {s}");
        assert!(
            s["unsaved"]
                .as_str()
                .is_some_and(|u| u.contains("Read-only file system")),
            "{s}"
        );
    }
    wait_phase(&a, "unsaved", "finished");
    // What joltd showed is what its disk holds.
    a.kill9();
    a.restart();
    let s = get(&a, "unsaved");
    assert_eq!(s["phase"], "finished", "{s}");
    assert_eq!((&s["injected"], &s["reverted"]), (&1.into(), &1.into()));
    let names: Vec<Value> = events(&a, "unsaved")
        .into_iter()
        .map(|e| e["event"].clone())
        .collect();
    assert_eq!(names, ["scheduled", "injected", "reverted", "finished"]);
    a.ok(["rm", "-f", "ro"]);
}

/// Many reverts land at once (each target's its own task); a joltd killed
/// in the middle of writing an event leaves a line cut short, which the
/// next joltd shows as damaged (with its line number) instead of silently
/// dropping it and miscounting.
#[test]
fn many_events_at_once_each_get_a_line_and_the_counts_survive_a_restart() {
    let Some(mut a) = agent() else { return };
    let n = 12;
    for i in 0..n {
        a.run(&[
            "--name",
            &format!("s{i}"),
            "--label",
            "app=sleepy",
            "--",
            "sleep",
            "1000",
        ]);
    }
    apply(
        &a,
        "crowd",
        "name: crowd\ntargets: {labels: {app: sleepy}, mode: all}\n\
         schedule: {at: [0s, 1500ms, 3s]}\nmax-active: 100\nfault: {kind: pause, duration: 1s}\n",
    );
    wait_phase(&a, "crowd", "finished");
    let check = |a: &jolt_e2e::agent::Agent, damaged: usize| {
        let s = get(a, "crowd");
        let fires = 3 * n;
        assert_eq!(
            (&s["injected"], &s["reverted"]),
            (&fires.into(), &fires.into()),
            "{s}"
        );
        assert_eq!(
            s["damaged_events"].as_u64().unwrap_or(0),
            damaged as u64,
            "{s}"
        );
        let timeline = events(a, "crowd");
        let count = |kind: &str| timeline.iter().filter(|e| e["event"] == kind).count();
        assert_eq!((count("injected"), count("reverted")), (fires, fires));
        assert_eq!(count("damaged"), damaged);
        timeline
    };
    let lines = check(&a, 0).len();
    a.kill9();
    // What a kill in the middle of a write leaves.
    let file = a.state_dir().join("experiments/crowd/events.jsonl");
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&file)
        .unwrap();
    f.write_all(b"{\"at\":\"2026-12-04T20:").unwrap();
    drop(f);
    a.restart();
    let timeline = check(&a, 1);
    let damaged = timeline.iter().find(|e| e["event"] == "damaged").unwrap();
    let msg = damaged["message"].as_str().unwrap();
    assert!(
        msg.contains(&format!("events.jsonl line {} does not parse", lines + 1)),
        "{msg}"
    );
    for i in 0..n {
        a.ok(["rm", "-f", &format!("s{i}")]);
    }
}

/// A fault the journal replay at joltd's start cannot revert (its freeze
/// file refuses the write) stays active, shown with its error, and is
/// retried while joltd runs: the experiment is not marked interrupted,
/// nor can it be deleted, until the fault is gone.
#[test]
fn a_fault_the_replay_cannot_revert_is_retried_while_joltd_runs() {
    let Some(mut a) = agent() else { return };
    let id = busy(&a, "frozen", &[]);
    apply(
        &a,
        "long-nap",
        "name: long-nap\ntargets: {names: [frozen]}\nschedule: {at: [0s]}\nfault: {kind: pause, duration: 10m}\n",
    );
    wait_event(&a, "long-nap", "injected");
    a.kill9();
    // The freeze file as the kernel shows it, but read-only: the thaw fails.
    let cgroup = jolt_e2e::runner::default_cgroup_path(&id);
    let (file, shown) = match host::cgroups() {
        Cgroups::V2 => ("cgroup.freeze", "1\n"),
        Cgroups::V1 => ("freezer.state", "FROZEN\n"),
    };
    let fake = a.path("freeze-file");
    std::fs::write(&fake, shown).unwrap();
    {
        let _stuck = ReadOnly::bind(&fake, &host::cgroup_dir("freezer", &cgroup).join(file));
        a.restart();
        let s = get(&a, "long-nap");
        assert_eq!(
            s["phase"], "running",
            "not interrupted with its fault in place: {s}"
        );
        assert!(
            s["active"][0]["revert_error"]
                .as_str()
                .is_some_and(|e| e.contains("Read-only file system")),
            "{s}"
        );
        let ps = a.ok(["ps"]);
        assert!(ps.contains("pause by long-nap, revert failing"), "{ps}");
        let refused = a.ctl(["delete", "long-nap"]);
        assert!(!refused.status.success());
        assert!(
            refused.stderr.contains("still in the kernel"),
            "{}",
            refused.stderr
        );
        let frozen = cpu_share(&id, Duration::from_millis(500));
        assert!(frozen < 0.02, "still paused while its revert fails");
    }
    wait_phase(&a, "long-nap", "interrupted");
    let thawed = cpu_share(&id, Duration::from_millis(500));
    assert!(thawed > 0.02, "thawed by a retry");
    let names: Vec<Value> = events(&a, "long-nap")
        .into_iter()
        .map(|e| e["event"].clone())
        .collect();
    assert_eq!(
        names,
        ["scheduled", "injected", "failed", "reverted", "interrupted"]
    );
    assert!(jolt_e2e::agent::empty_dir(&a.state_dir().join("journal")));
    a.ok(["delete", "long-nap"]);
    a.ok(["rm", "-f", "frozen"]);
}

/// A revert whose `reverted` event cannot be written yet (its timeline's
/// directory read-only) keeps its journal entry: joltd killed then, the
/// next one replays it and the timeline still says reverted, so the
/// counts match. The directory goes read-only once the timeline's writer
/// has closed the file (it does after 10 s without events).
#[test]
fn a_revert_is_in_the_timeline_before_its_journal_entry_goes() {
    let Some(mut a) = agent() else { return };
    let id = busy(&a, "late", &[]);
    apply(
        &a,
        "blink",
        "name: blink\ntargets: {names: [late]}\nschedule: {at: [0s]}\nfault: {kind: pause, duration: 13s}\n",
    );
    wait_event(&a, "blink", "injected");
    std::thread::sleep(Duration::from_millis(11_500));
    {
        let _ro = ReadOnly::make(&a.state_dir().join("experiments/blink"));
        std::thread::sleep(Duration::from_secs(3));
        let thawed = cpu_share(&id, Duration::from_millis(500));
        assert!(thawed > 0.02, "the kernel has it back on time");
        assert!(
            !jolt_e2e::agent::empty_dir(&a.state_dir().join("journal")),
            "the journal entry waits for the timeline"
        );
        a.kill9();
    }
    a.restart();
    let s = get(&a, "blink");
    assert_eq!(
        (&s["injected"], &s["reverted"]),
        (&1.into(), &1.into()),
        "{s}"
    );
    assert_eq!(s["phase"], "interrupted");
    assert!(jolt_e2e::agent::empty_dir(&a.state_dir().join("journal")));
    a.ok(["rm", "-f", "late"]);
}
