//! A full disk: joltd's state directory (or its log directory) on a small
//! tmpfs that a chatty container fills for real. Stop and rm still work
//! and leave nothing; logs keep to their size limit, can live elsewhere,
//! and a line lost to the full disk is counted and marked in the log.

use jolt_e2e::agent::Agent;
use jolt_e2e::host::Tmpfs;
use jolt_e2e::{timeout, wait_until};

/// What the chatty containers print, as fast as they can.
const LINE: &str = "0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz";

/// A joltd whose state directory is a tmpfs of `size`, or None (after
/// saying why) where it cannot run.
fn on_tmpfs(size: &str, flags: &[&str]) -> Option<Agent> {
    let mut all = vec!["--debug"];
    all.extend_from_slice(flags);
    jolt_e2e::require_root().then(|| Agent::start_on_tmpfs(size, &all))
}

/// Waits until the filesystem `fs` has no room left.
#[track_caller]
fn wait_full(fs: &Tmpfs) {
    wait_until(
        format!("{} to fill", fs.path().display()),
        timeout(),
        || (fs.available() == 0).then_some(()),
    );
}

/// The numbers of the `line N` lines, in order.
fn numbered(lines: &[String]) -> Vec<u64> {
    lines
        .iter()
        .filter_map(|l| l.strip_prefix("line ")?.parse().ok())
        .collect()
}

#[test]
fn stop_and_rm_work_when_the_state_dir_is_full() {
    let Some(mut a) = on_tmpfs("4m", &[]) else {
        return;
    };
    let quiet = a.run(&[
        "--name",
        "quiet",
        "--restart",
        "always",
        "--",
        "sh",
        "-c",
        "echo up; exec sleep 1000",
    ]);
    let other = a.run(&["--name", "other", "--", "sleep", "1000"]);
    wait_until("quiet's line", timeout(), || {
        (a.logs("quiet") == ["up"]).then_some(())
    });
    let chatty = a.run(&["--name", "chatty", "--", "yes", LINE]);
    wait_full(a.state_tmpfs());

    // Its record cannot be saved: the stop goes on all the same.
    let out = a.ctl(["stop", "-t", "1", "quiet"]);
    out.assert_success();
    let c = a.inspect("quiet");
    assert_eq!(c["status"]["state"], "exited");
    assert_eq!(
        c["status"]["last_exit"]["code"], 137,
        "the exit status is kept"
    );

    // A quiet container on the full disk, and the one that fills it.
    let out = a.ctl(["rm", "-f", "other"]);
    out.assert_success();
    a.assert_gone(&other, None);
    let out = a.ctl(["rm", "-f", "chatty"]);
    out.assert_success();
    a.assert_gone(&chatty, None);
    assert!(
        a.state_tmpfs().available() > 1 << 20,
        "removing chatty freed its log"
    );

    // What the full disk kept in memory reached the disk: a joltd started
    // again leaves the stopped container stopped.
    assert!(a.terminate().success());
    a.restart();
    let c = a.inspect("quiet");
    assert_eq!(c["status"]["state"], "exited", "{c}");
    assert_eq!(c["status"]["restart_count"], 0, "{c}");
    a.ok(["rm", "quiet"]);
    a.assert_gone(&quiet, None);
    assert!(jolt_e2e::agent::empty_dir(
        &a.state_dir().join("containers")
    ));
}

#[test]
fn logs_rotate_and_keep_the_newest_lines_within_their_limit() {
    let Some(a) = on_tmpfs("4m", &["--log-max-size", "64k", "--log-max-files", "3"]) else {
        return;
    };
    let id = a.run(&[
        "--name",
        "counter",
        "--",
        "sh",
        "-c",
        "i=0; while [ $i -lt 30000 ]; do i=$((i+1)); echo line $i; done",
    ]);
    a.wait_for("counter", "exited", |c| c["status"]["state"] == "exited");
    let files = a.log_files(&id);
    let names: Vec<_> = files.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        ["container.log", "container.log.1", "container.log.2"],
        "{files:?}"
    );
    for (name, len) in &files {
        assert!(*len <= 64 << 10, "{name} is {len} bytes");
    }
    let seen = numbered(&a.logs("counter"));
    assert_eq!(seen.last(), Some(&30000), "the newest line is there");
    assert!(seen[0] > 1, "the oldest lines were dropped");
    assert!(
        seen.windows(2).all(|w| w[1] == w[0] + 1),
        "the lines kept are in order, none missing"
    );
    assert_eq!(a.inspect("counter")["status"]["log_dropped_lines"], 0);
    a.ok(["rm", "counter"]);
    a.assert_gone(&id, None);
}

#[test]
fn logs_follow_across_rotations() {
    if !jolt_e2e::require_root() {
        return;
    }
    let a = Agent::start_with(&["--log-max-size", "32k", "--log-max-files", "100"]);
    a.run(&[
        "--name",
        "counter",
        "--",
        "sh",
        "-c",
        "i=0; while [ $i -lt 20000 ]; do i=$((i+1)); echo line $i; \
         [ $((i % 2000)) -eq 0 ] && sleep 0.1; done",
    ]);
    let followed = a.ok(["logs", "-f", "counter"]);
    let lines: Vec<String> = followed.lines().map(str::to_string).collect();
    assert_eq!(numbered(&lines), (1..=20000).collect::<Vec<_>>());
    assert_eq!(lines.len(), 20000, "nothing else");
    let id = a.inspect("counter")["id"].as_str().unwrap().to_string();
    assert!(a.log_files(&id).len() > 20, "it rotated many times");
    a.ok(["rm", "counter"]);
}

#[test]
fn logs_in_another_directory_leave_the_state_dir_room() {
    if !jolt_e2e::require_root() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let logs = Tmpfs::mount(&tmp.path().join("logs"), "2m");
    let log_dir = logs.path().to_str().unwrap();
    let Some(a) = on_tmpfs("4m", &["--log-dir", log_dir]) else {
        return;
    };
    let id = a.run(&["--name", "chatty", "--", "yes", LINE]);
    wait_full(&logs);
    a.wait_for("chatty", "lines lost", |c| {
        c["status"]["log_dropped_lines"].as_u64() > Some(0)
    });
    assert!(
        a.state_tmpfs().available() > 1 << 20,
        "the state directory did not fill"
    );
    let own = logs.path().join(&id);
    assert!(own.join("container.log").is_file());
    assert!(a.log_files(&id).is_empty(), "no log in the state directory");
    assert_eq!(a.logs("chatty")[0], LINE);

    a.ok(["stop", "-t", "1", "chatty"]);
    a.ok(["rm", "chatty"]);
    a.assert_gone(&id, None);
    assert!(!own.exists(), "{} is left", own.display());
    assert!(logs.available() > 1 << 20, "removing chatty freed its log");
}

#[test]
fn lost_lines_are_counted_and_marked_once_the_disk_has_room() {
    let Some(a) = on_tmpfs("4m", &[]) else { return };
    let id = a.run(&[
        "--name",
        "ticker",
        "--",
        "sh",
        "-c",
        "i=0; while true; do i=$((i+1)); echo line $i; sleep 0.01; done",
    ]);
    wait_until("ticker's first line", timeout(), || {
        (!a.logs("ticker").is_empty()).then_some(())
    });
    let filler = a.state_tmpfs().fill("filler");
    a.wait_for("ticker", "lines lost and counted", |c| {
        c["status"]["log_dropped_lines"].as_u64() >= Some(5)
    });
    std::fs::remove_file(&filler).unwrap();

    let (lines, at) = wait_until("the marker in the log", timeout(), || {
        let lines = a.logs("ticker");
        let at = lines.iter().position(|l| l.starts_with("jolt: "))?;
        (at + 1 < lines.len()).then_some((lines, at))
    });
    let marker = &lines[at];
    let n: u64 = marker
        .strip_prefix("jolt: ")
        .and_then(|m| m.strip_suffix(" lines dropped: No space left on device"))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("marker: {marker:?}"));
    let around = numbered(&lines[at - 1..=at + 1]);
    assert_eq!(
        around[1] - around[0] - 1,
        n,
        "the marker counts the lines missing: {:?}",
        &lines[at - 1..=at + 1]
    );
    let c = a.inspect("ticker");
    assert_eq!(c["status"]["log_dropped_lines"], n);
    assert!(
        a.ok(["inspect", "ticker"])
            .contains(&format!("Lost log lines: {n}\n")),
        "inspect shows the count"
    );
    let stamped = a.ok(["logs", "-t", "ticker"]);
    assert!(
        stamped.contains(&format!(" jolt jolt: {n} lines dropped")),
        "the marker's stream is jolt"
    );
    a.ok(["rm", "-f", "ticker"]);
    a.assert_gone(&id, None);
}
