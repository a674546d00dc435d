//! Restart policies: what brings a container back, and what does not.

use jolt_e2e::host;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::agent;

#[test]
fn on_failure_brings_back_a_killed_container() {
    let Some(a) = agent() else { return };
    let id = a.run(&[
        "--name",
        "phoenix",
        "--restart",
        "on-failure:3",
        "--",
        "sh",
        "-c",
        "echo up; exec sleep 1000",
    ]);
    let pid = a.inspect("phoenix")["status"]["pid"].as_i64().unwrap() as i32;
    // Running is not having printed: killed before its echo, the first run
    // would leave no line.
    jolt_e2e::wait_until("the first run's log line", jolt_e2e::timeout(), || {
        (a.logs("phoenix") == ["up"]).then_some(())
    });
    // The init of this test's own container.
    kill(Pid::from_raw(pid), Signal::SIGKILL).unwrap();
    let c = a.wait_for("phoenix", "restarted", |c| {
        c["status"]["restart_count"] == 1 && c["status"]["state"] == "running"
    });
    assert_eq!(c["status"]["last_exit"]["code"], 137);
    assert_eq!(c["status"]["last_exit"]["signal"], 9);
    let new_pid = c["status"]["pid"].as_i64().unwrap() as i32;
    assert_ne!(new_pid, pid);
    jolt_e2e::wait_until("the second run's log line", jolt_e2e::timeout(), || {
        (a.logs("phoenix") == ["up", "up"]).then_some(())
    });
    a.ok(["rm", "-f", "phoenix"]);
    a.assert_gone(&id, Some(new_pid));
    assert!(!host::alive(pid));
}

#[test]
fn on_failure_stops_at_its_maximum_and_no_never_restarts() {
    let Some(a) = agent() else { return };
    a.run(&[
        "--name",
        "flaky",
        "--restart",
        "on-failure:2",
        "--",
        "sh",
        "-c",
        "echo try; exit 3",
    ]);
    a.run(&["--name", "once", "--", "sh", "-c", "exit 3"]);
    a.run(&["--name", "fine", "--restart", "on-failure", "--", "true"]);
    let c = a.wait_for("flaky", "given up", |c| {
        c["status"]["state"] == "exited" && c["status"]["restart_count"] == 2
    });
    assert_eq!(c["status"]["last_exit"]["code"], 3);
    assert_eq!(a.logs("flaky"), ["try", "try", "try"]);
    for name in ["once", "fine"] {
        let c = a.wait_for(name, "exited", |c| c["status"]["state"] == "exited");
        assert_eq!(c["status"]["restart_count"], 0, "{name}");
    }
    assert_eq!(a.inspect("once")["status"]["last_exit"]["code"], 3);
}

#[test]
fn always_restarts_even_after_success_until_stopped() {
    let Some(a) = agent() else { return };
    a.run(&[
        "--name",
        "loop",
        "--restart",
        "always",
        "--",
        "sh",
        "-c",
        "echo again; exit 0",
    ]);
    a.wait_for("loop", "two restarts", |c| {
        c["status"]["restart_count"].as_u64() >= Some(2)
    });
    // Between runs or during one, stop ends it for good.
    a.ok(["stop", "-t", "1", "loop"]);
    let c = a.wait_for("loop", "exited", |c| c["status"]["state"] == "exited");
    let count = c["status"]["restart_count"].clone();
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert_eq!(a.inspect("loop")["status"]["restart_count"], count);
}
