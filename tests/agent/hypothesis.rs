//! Experiments that judge: a web container behind a published port, an
//! http probe from the node through that port, and the verdict when a
//! pause breaks it (aborted at once, the pause reverted long before its
//! time), when a kill with a restart policy recovers in time (passed),
//! when the hypothesis does not hold before the start (not-started,
//! nothing injected), and when joltd is killed mid-experiment
//! (interrupted, reverted at its next start, a report up to the crash).
//! `chaosctl apply --wait` exits with the verdict's status.
//!
//! Host only: the pause reaches the cgroup freezer through the same code
//! the VM's experiments suite covers.

use std::time::{Duration, Instant};

use jolt_e2e::agent::Agent;
use serde_json::Value;

use crate::agent;
use crate::experiments::{events, file, get};

/// A busybox web server publishing `port` on the node's localhost.
fn web(a: &Agent, name: &str, port: u16, extra: &[&str]) -> String {
    let publish = format!("{port}:80");
    let mut args = vec!["--name", name, "--label", "app=web", "-p", &publish];
    args.extend_from_slice(extra);
    args.extend(["--", "httpd", "-f", "-p", "80", "-h", "/www"]);
    let id = a.run(&args);
    a.wait_for_page(port);
    id
}

/// `chaosctl apply --wait` of `text`: its exit status and output.
fn apply_wait(a: &Agent, name: &str, text: &str) -> (i32, String) {
    let path = file(a, name, text);
    let out = a.ctl(["apply", "--wait", "-f", &path]);
    (out.code(), format!("{}{}", out.stdout, out.stderr))
}

fn kinds(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| e["event"].as_str().unwrap().to_string())
        .collect()
}

fn at(e: &Value) -> std::time::SystemTime {
    humantime::parse_rfc3339_weak(e["at"].as_str().unwrap()).unwrap()
}

#[test]
fn a_pause_that_breaks_the_http_probe_aborts_and_reverts_at_once() {
    let Some(a) = agent() else { return };
    let id = web(&a, "web", 18080, &[]);
    let text = "
name: pause-web
targets: {names: [web]}
schedule: {at: [1s]}
fault: {kind: pause, duration: 3s}
steady-state:
  probes:
    - name: home
      interval: 200ms
      tolerance: 1
      http: {url: 'http://127.0.0.1:18080/', max-latency: 300ms}
";
    let t0 = Instant::now();
    let (code, shown) = apply_wait(&a, "pause-web", text);
    eprintln!("{shown}");
    assert_eq!(code, 3, "aborted exits 3: {shown}");
    assert!(
        t0.elapsed() < Duration::from_secs(4),
        "well before the pause's 3 s: {:?}",
        t0.elapsed()
    );
    assert!(shown.contains("verdict: aborted"), "{shown}");
    let s = get(&a, "pause-web");
    assert_eq!(s["phase"], "aborted");
    assert_eq!(s["verdict"], "aborted");
    assert_eq!(s["breach"]["probe"], "home");
    let reason = s["reason"].as_str().unwrap();
    assert!(
        reason.starts_with("probe home breached the hypothesis"),
        "{reason}"
    );
    let ev = events(&a, "pause-web");
    let k = kinds(&ev);
    let injected = ev
        .iter()
        .find(|e| e["event"] == "injected")
        .expect("injected");
    let breached = ev
        .iter()
        .find(|e| e["event"] == "breached")
        .expect("breached");
    let reverted = ev
        .iter()
        .find(|e| e["event"] == "reverted")
        .expect("reverted");
    assert!(
        at(breached) > at(injected),
        "the breach is at the pause: {k:?}"
    );
    let held = at(reverted).duration_since(at(injected)).unwrap();
    assert!(
        held < Duration::from_secs(2),
        "reverted {held:?} after the pause, well before 3 s"
    );
    assert!(k.contains(&"probe-failed".to_string()), "{k:?}");
    assert_eq!(k.last().unwrap(), "aborted", "{k:?}");
    // The container runs again, thawed.
    a.wait_for_page(18080);
    a.ok(["rm", "-f", "web"]);
    a.assert_gone(&id, None);
}
