//! joltd going away: `kill -9` loses nothing, SIGTERM leaves containers
//! running, and the next joltd re-adopts them all.

use jolt_e2e::agent::Agent;
use jolt_e2e::{host, require_root, timeout, wait_until};

use crate::agent;

/// The numbers of the `tick N` lines, which must run without a gap.
#[track_caller]
fn ticks(lines: &[String]) -> Vec<u64> {
    let n: Vec<u64> = lines
        .iter()
        .map(|l| {
            l.strip_prefix("tick ")
                .and_then(|n| n.parse().ok())
                .expect(l)
        })
        .collect();
    for w in n.windows(2) {
        assert_eq!(w[1], w[0] + 1, "a gap in the log: {n:?}");
    }
    n
}

#[test]
fn kill_9_of_joltd_loses_no_container_exit_or_log_line() {
    let Some(mut a) = agent() else { return };
    let ticker = a.run(&[
        "--name",
        "ticker",
        "--",
        "sh",
        "-c",
        "i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.1; done",
    ]);
    a.run(&[
        "--name",
        "dies",
        "--restart",
        "on-failure",
        "--",
        "sh",
        "-c",
        "echo run; sleep 2; exit 7",
    ]);
    let ticker_pid = a.inspect("ticker")["status"]["pid"].as_i64().unwrap() as i32;
    let dies_pid = a.inspect("dies")["status"]["pid"].as_i64().unwrap() as i32;

    a.kill9();
    a.ctl(["ps"])
        .assert_failure()
        .assert_stderr_contains("cannot reach joltd");
    // dies exits while joltd is away; ticker goes on.
    wait_until("dies to exit", timeout(), || {
        (!host::alive(dies_pid)).then_some(())
    });
    assert!(host::alive(ticker_pid));
    std::thread::sleep(std::time::Duration::from_millis(300));
    a.restart();

    let t = a.inspect("ticker");
    assert_eq!(t["status"]["state"], "running");
    assert_eq!(t["status"]["pid"], ticker_pid);
    let d = a.wait_for("dies", "restarted", |c| {
        c["status"]["restart_count"] == 1 && c["status"]["state"] == "running"
    });
    assert_eq!(d["status"]["last_exit"]["code"], 7);
    assert_ne!(d["status"]["pid"], dies_pid);
    wait_until("the second run's line", timeout(), || {
        (a.logs("dies") == ["run", "run"]).then_some(())
    });
    let before = ticks(&a.logs("ticker"));
    wait_until("more ticks", timeout(), || {
        (ticks(&a.logs("ticker")).len() > before.len()).then_some(())
    });
    assert_eq!(before[0], 0);
    assert!(a.joltd_log().contains("re-adopted"), "{}", a.joltd_log());

    a.ok(["rm", "-f", "ticker"]);
    a.assert_gone(&ticker, Some(ticker_pid));
}

#[test]
fn sigterm_stops_joltd_and_leaves_containers_running() {
    let Some(mut a) = agent() else { return };
    let id = a.run(&["--name", "stays", "--", "sleep", "1000"]);
    let pid = a.inspect("stays")["status"]["pid"].as_i64().unwrap() as i32;
    let status = a.terminate();
    assert!(status.success(), "joltd exits 0 on SIGTERM: {status}");
    assert!(!a.socket().exists(), "joltd removes its socket");
    assert!(host::alive(pid), "the container outlives joltd");
    a.restart();
    let c = a.inspect("stays");
    assert_eq!(c["status"]["state"], "running");
    assert_eq!(c["status"]["pid"], pid);
    a.ok(["rm", "-f", "stays"]);
    a.assert_gone(&id, Some(pid));
}

#[test]
fn a_corrupt_record_is_reported_and_the_others_are_adopted() {
    let Some(mut a) = agent() else { return };
    let good = a.run(&["--name", "good", "--", "sleep", "1000"]);
    let bad = a.run(&["--name", "bad", "--", "true"]);
    a.wait_for("bad", "exited", |c| c["status"]["state"] == "exited");
    a.terminate();
    let record = a
        .state_dir()
        .join("containers")
        .join(&bad)
        .join("container.json");
    std::fs::write(&record, "{\"id\": \"trunc").unwrap();
    a.restart();
    assert_eq!(a.inspect("good")["status"]["state"], "running");
    a.ctl(["inspect", "bad"]).assert_failure();
    let log = a.joltd_log();
    assert!(
        log.contains(&format!("{bad}/container.json: corrupt")),
        "{log}"
    );
    a.ok(["rm", "-f", "good"]);
    a.assert_gone(&good, None);
    std::fs::remove_dir_all(a.state_dir().join("containers").join(&bad)).unwrap();
}

#[test]
fn joltd_logs_json_lines_when_asked() {
    if !require_root() {
        return;
    }
    let mut a = Agent::start_with(&["--log-format", "json"]);
    a.run(&["--name", "noted", "--", "true"]);
    a.wait_for("noted", "exited", |c| c["status"]["state"] == "exited");
    assert!(a.terminate().success());
    let log = a.joltd_log();
    let lines: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let said = |msg: &str| lines.iter().any(|l| l["fields"]["message"] == msg);
    assert!(
        said("listening") && said("running") && said("exited"),
        "{log}"
    );
}

#[test]
fn sigterm_lets_a_stop_under_way_finish() {
    let Some(mut a) = agent() else { return };
    let id = a.run(&["--name", "slow", "--", "sleep", "1000"]);
    let pid = a.inspect("slow")["status"]["pid"].as_i64().unwrap() as i32;
    // sleep as pid 1 ignores SIGTERM: the stop takes its whole timeout.
    let mut stop = std::process::Command::new(jolt_e2e::agent::chaosctl_bin())
        .arg("--socket")
        .arg(a.socket())
        .args(["stop", "-t", "2", "slow"])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    wait_until("joltd to get the stop", timeout(), || {
        a.joltd_log()
            .contains("/v1/containers/slow/stop")
            .then_some(())
    });
    assert!(a.terminate().success());
    assert!(
        stop.wait().unwrap().success(),
        "the stop under way completed"
    );
    assert!(!host::alive(pid));
    a.restart();
    let c = a.inspect("slow");
    assert_eq!(c["status"]["state"], "exited");
    assert_eq!(c["status"]["last_exit"]["code"], 137);
    a.ok(["rm", "slow"]);
    a.assert_gone(&id, Some(pid));
}

#[test]
fn a_second_joltd_on_the_same_state_is_refused() {
    let Some(a) = agent() else { return };
    let other = a.path("other.sock");
    let out = std::process::Command::new(jolt_e2e::agent::joltd_bin())
        .arg("--socket")
        .arg(&other)
        .arg("--state-dir")
        .arg(a.state_dir())
        .arg("--jolt-root")
        .arg(a.jolt_root())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("another joltd uses this state directory"),
        "{stderr}"
    );
    assert!(!other.exists(), "the refused joltd removes its socket");
    let same_socket = std::process::Command::new(jolt_e2e::agent::joltd_bin())
        .arg("--socket")
        .arg(a.socket())
        .arg("--state-dir")
        .arg(a.path("state2"))
        .output()
        .unwrap();
    assert!(!same_socket.status.success());
    let stderr = String::from_utf8_lossy(&same_socket.stderr);
    assert!(
        stderr.contains("another joltd is listening on it"),
        "{stderr}"
    );
    a.ok(["ps"]);
}
