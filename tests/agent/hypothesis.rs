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
    let (code, shown) = apply_wait(&a, "pause-web", text);
    assert_eq!(code, 3, "aborted exits 3: {shown}");
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
    // Cut short by the breach (two failed runs, about 0.6 s in): not
    // held for its 3 s.
    assert!(
        held < Duration::from_millis(2500),
        "reverted {held:?} after the pause, not at its 3 s"
    );
    assert!(k.contains(&"probe-failed".to_string()), "{k:?}");
    assert_eq!(k.last().unwrap(), "aborted", "{k:?}");
    // The container runs again, thawed.
    a.wait_for_page(18080);
    a.ok(["rm", "-f", "web"]);
    a.assert_gone(&id, None);
}

#[test]
fn a_kill_that_the_restart_policy_undoes_within_recover_within_passes() {
    let Some(a) = agent() else { return };
    let id = web(&a, "web", 18081, &["--restart", "always"]);
    let text = "
name: kill-web
targets: {names: [web]}
schedule: {at: [1s]}
duration: 6s
fault: {kind: kill}
steady-state:
  during: false
  after: {recover-within: 5s}
  probes:
    - name: home
      interval: 200ms
      http: {url: 'http://127.0.0.1:18081/', body: jolt}
";
    let (code, shown) = apply_wait(&a, "kill-web", text);
    assert_eq!(code, 0, "passed exits 0: {shown}");
    assert!(shown.contains("verdict: passed"), "{shown}");
    let s = get(&a, "kill-web");
    assert_eq!(s["verdict"], "passed");
    assert!(s["breach"].is_null(), "{s}");
    let ev = events(&a, "kill-web");
    let recovery = ev
        .iter()
        .find(|e| e["event"] == "recovery" && e["target"] == "web")
        .unwrap_or_else(|| panic!("a recovery of web in {:?}", kinds(&ev)));
    let ms = recovery["recover_ms"].as_f64().unwrap();
    assert!(ms > 0.0 && ms < 5000.0, "recovered in {ms} ms");
    // The report has the time to recover of the kill.
    let r: Value = serde_json::from_str(&a.ok(["report", "kill-web", "-o", "json"])).unwrap();
    assert_eq!(r["verdict"], "passed");
    assert_eq!(r["faults"][0]["kind"], "kill");
    assert_eq!(
        r["faults"][0]["recover_ms"].as_f64(),
        Some(ms),
        "{}",
        r["faults"]
    );
    assert_eq!(a.inspect("web")["status"]["restart_count"], 1);
    a.ok(["rm", "-f", "web"]);
    a.assert_gone(&id, None);
}

#[test]
fn a_hypothesis_that_does_not_hold_before_the_start_injects_nothing() {
    let Some(a) = agent() else { return };
    let id = web(&a, "web", 18082, &[]);
    // Nothing listens on 18999.
    let text = "
name: never
targets: {names: [web]}
schedule: {at: [0s]}
fault: {kind: pause, duration: 1s}
steady-state:
  before: 1s
  probes:
    - {name: home, interval: 200ms, http: {url: 'http://127.0.0.1:18082/'}}
    - {name: api, interval: 200ms, tcp: {address: '127.0.0.1:18999'}}
";
    let (code, shown) = apply_wait(&a, "never", text);
    assert_eq!(code, 3, "not-started exits 3: {shown}");
    assert!(shown.contains("verdict: not-started"), "{shown}");
    let s = get(&a, "never");
    assert_eq!(s["verdict"], "not-started");
    assert_eq!(s["injected"], 0);
    let reason = s["reason"].as_str().unwrap();
    assert!(reason.contains("api"), "names the probe: {reason}");
    let k = kinds(&events(&a, "never"));
    assert!(k.contains(&"not-started".to_string()), "{k:?}");
    assert!(!k.contains(&"injected".to_string()), "{k:?}");
    assert!(!k.contains(&"scheduled".to_string()), "{k:?}");
    a.ok(["rm", "-f", "web"]);
    a.assert_gone(&id, None);
}

#[test]
fn wait_exits_0_for_completed_and_passed_1_for_failed_2_for_a_refused_file() {
    let Some(a) = agent() else { return };
    let id = web(&a, "web", 18083, &[]);
    let completed = "
name: plain
targets: {names: [web]}
schedule: {at: [0s]}
fault: {kind: pause, duration: 300ms}
";
    let (code, shown) = apply_wait(&a, "plain", completed);
    assert_eq!(
        (code, get(&a, "plain")["verdict"].clone()),
        (0, "completed".into()),
        "{shown}"
    );
    let passed = "
name: calm
targets: {names: [web]}
schedule: {at: [0s]}
fault: {kind: cpu-throttle, cpus: 0.5, duration: 1s}
steady-state:
  probes: [{name: home, interval: 200ms, tcp: {address: '127.0.0.1:18083'}}]
";
    let (code, shown) = apply_wait(&a, "calm", passed);
    assert_eq!(
        (code, get(&a, "calm")["verdict"].clone()),
        (0, "passed".into()),
        "{shown}"
    );
    // With on-breach: continue the pause runs its course: failed, exit 1.
    let failed = "
name: slow
targets: {names: [web]}
schedule: {at: [500ms]}
duration: 4s
fault: {kind: pause, duration: 1s}
steady-state:
  on-breach: continue
  after: {recover-within: 2s}
  probes:
    - {name: home, interval: 200ms, http: {url: 'http://127.0.0.1:18083/', max-latency: 300ms}}
";
    // The run goes on after the thaw, for the probe to pass again: when it
    // ended with the fault, under load the probe had not run again by then
    // (recovered: false, a timing flake).
    let (code, shown) = apply_wait(&a, "slow", failed);
    assert_eq!(code, 1, "failed exits 1: {shown}");
    let s = get(&a, "slow");
    assert_eq!(s["verdict"], "failed");
    assert_eq!(s["phase"], "finished");
    assert_eq!(s["breach"]["probe"], "home");
    assert_eq!(s["breach"]["recovered"], true, "{s}");
    let reverted = events(&a, "slow")
        .into_iter()
        .find(|e| e["event"] == "reverted")
        .unwrap();
    assert!(
        reverted["late_ms"].is_number(),
        "reverted on time, not cut short: {reverted}"
    );
    // Refused files change nothing and exit 2.
    for (name, probe, why) in [
        (
            "bad-exec",
            "exec: {container: nosuch, command: [true]}",
            "steady-state.probes[0].exec.container: no container named \"nosuch\"",
        ),
        (
            "bad-interval",
            "interval: 10ms\n      tcp: {address: '127.0.0.1:18083'}",
            "steady-state.probes[0].interval: 10ms is below 100ms",
        ),
    ] {
        let text = format!("name: {name}\ntargets: {{names: [web]}}\nschedule: {{at: [0s]}}\nfault: {{kind: kill}}\nsteady-state:\n  probes:\n    - name: p\n      {probe}\n");
        let (code, shown) = apply_wait(&a, name, &text);
        assert_eq!(code, 2, "{shown}");
        assert!(shown.contains(why), "{shown}");
        assert!(!a.ok(["experiments"]).contains(name), "nothing made");
    }
    a.ok(["rm", "-f", "web"]);
    a.assert_gone(&id, None);
}

#[test]
fn joltd_killed_mid_experiment_leaves_it_interrupted_and_its_faults_reverted() {
    let Some(mut a) = agent() else { return };
    let id = web(&a, "web", 18084, &[]);
    let text = "
name: crash
targets: {names: [web]}
schedule: {at: [500ms]}
duration: 1m
fault: {kind: pause, duration: 50s}
steady-state:
  on-breach: continue
  probes:
    - {name: home, interval: 200ms, http: {url: 'http://127.0.0.1:18084/', max-latency: 300ms}}
";
    let path = file(&a, "crash", text);
    let waiting = std::process::Command::new(jolt_e2e::agent::chaosctl_bin())
        .arg("--socket")
        .arg(a.socket())
        .args(["apply", "--wait", "-f", &path])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    jolt_e2e::wait_until("the pause and a failed probe", jolt_e2e::timeout(), || {
        // Applied by the waiting chaosctl: there once it is.
        if !a.ctl(["get", "crash"]).status.success() {
            return None;
        }
        let k = kinds(&events(&a, "crash"));
        (k.contains(&"injected".to_string()) && k.contains(&"probe-failed".to_string()))
            .then_some(())
    });
    a.kill9();
    a.restart();
    let out = waiting.wait_with_output().unwrap();
    let shown = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(3), "interrupted exits 3: {shown}");
    assert!(shown.contains("verdict: interrupted"), "{shown}");
    let s = get(&a, "crash");
    assert_eq!(
        (s["phase"].as_str(), s["verdict"].as_str()),
        (Some("interrupted"), Some("interrupted"))
    );
    let k = kinds(&events(&a, "crash"));
    let reverted = k
        .iter()
        .position(|e| e == "reverted")
        .expect("reverted at start");
    assert!(
        k[..reverted].contains(&"probe".to_string()),
        "the probe's samples before the crash: {k:?}"
    );
    assert_eq!(k.last().unwrap(), "interrupted", "{k:?}");
    // The report renders, with the timeline up to the crash.
    let json = report(&a, "crash", "json", "json");
    let r: Value = serde_json::from_str(&std::fs::read_to_string(json).unwrap()).unwrap();
    assert_eq!(r["verdict"], "interrupted");
    assert_eq!(r["faults"].as_array().unwrap().len(), 1, "{}", r["faults"]);
    assert!(!r["probes"][0]["series"].as_array().unwrap().is_empty());
    let html = std::fs::read_to_string(report(&a, "crash", "html", "html")).unwrap();
    assert!(html.contains("<div id=\"verdict\" class=\"interrupted\">"));
    a.wait_for_page(18084);
    a.ok(["rm", "-f", "web"]);
    a.assert_gone(&id, None);
}

#[test]
fn prometheus_scrapes_joltd_and_a_prometheus_probe_judges_by_its_answers() {
    if !jolt_e2e::require_root() || !jolt_e2e::prometheus::require_prometheus() {
        return;
    }
    let a = Agent::start_with(&["--metrics-listen", "127.0.0.1:19464"]);
    let id = web(&a, "web", 18085, &[]);
    // Only /metrics on that listener, and nothing that changes anything.
    let curl = |path: &str| {
        a.in_node(&[
            "curl",
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            &format!("http://127.0.0.1:19464{path}"),
        ])
        .unwrap()
    };
    assert_eq!(curl("/metrics"), "200");
    assert_eq!(curl("/v1/containers"), "404");
    let node = std::path::PathBuf::from(a.node_netns());
    let prom = jolt_e2e::prometheus::Prometheus::start_in(
        Some(&node),
        "127.0.0.1:19464",
        Duration::from_millis(200),
    )
    .unwrap();
    prom.wait_scraped().unwrap();
    let url = prom.url();
    let experiment = |name: &str, bound: &str| {
        format!(
            "
name: {name}
targets: {{names: [web]}}
schedule: {{at: [0s]}}
duration: 3s
fault: {{kind: pause, duration: 500ms}}
steady-state:
  on-breach: continue
  probes:
    - name: containers
      interval: 500ms
      prometheus:
        url: '{url}'
        query: 'sum(jolt_faults_active) + count(up{{job=\"joltd\"}} == 1)'
        {bound}
"
        )
    };
    // Up (1) plus at most one active fault: within [1, 2] throughout.
    let (code, shown) = apply_wait(&a, "holds", &experiment("holds", "min: 1\n        max: 2"));
    assert_eq!(code, 0, "{shown}");
    assert_eq!(get(&a, "holds")["verdict"], "passed");
    // At most 0 is crossed at once: joltd is up.
    let (code, shown) = apply_wait(&a, "crossed", &experiment("crossed", "max: 0"));
    assert_eq!(code, 1, "{shown}");
    let s = get(&a, "crossed");
    assert_eq!(s["verdict"], "failed");
    assert!(
        s["breach"]["message"]
            .as_str()
            .unwrap()
            .contains("above max 0"),
        "{s}"
    );
    // Prometheus has the probes' own numbers too.
    jolt_e2e::wait_until("the probe runs scraped", jolt_e2e::timeout(), || {
        let runs = prom
            .value("jolt_probe_runs_total{experiment=\"holds\",probe=\"containers\"}")
            .ok()?;
        (runs >= 1.0).then_some(())
    });
    a.ok(["rm", "-f", "web"]);
    a.assert_gone(&id, None);
}

/// The report of `name` in `format`, written by `chaosctl report
/// --output` into the test's directory; its path.
fn report(a: &Agent, name: &str, format: &str, ext: &str) -> std::path::PathBuf {
    let path = a.path(&format!("{name}.{ext}"));
    a.ok([
        "report",
        name,
        "-o",
        format,
        "--output",
        path.to_str().unwrap(),
    ]);
    path
}

#[test]
fn the_html_report_opens_in_chromium_with_the_verdict_and_a_bar_per_fault() {
    if !jolt_e2e::require_root() || !jolt_e2e::chromium::require_chromium() {
        return;
    }
    let a = Agent::start();
    let id = web(&a, "web", 18086, &[]);
    let text = "
name: three-pauses
description: three short pauses of a web server, judged by its home page
targets: {names: [web]}
schedule: {at: [1s, 2s, 3s]}
duration: 4s
fault: {kind: pause, duration: 200ms}
steady-state:
  during: false
  after: {recover-within: 2s}
  probes:
    - {name: home, interval: 100ms, http: {url: 'http://127.0.0.1:18086/'}}
";
    let (code, shown) = apply_wait(&a, "three-pauses", text);
    assert_eq!(code, 0, "{shown}");
    let html = report(&a, "three-pauses", "html", "html");
    let page = jolt_e2e::chromium::open(&html, &a.path("chromium")).unwrap();
    assert!(page.console_errors.is_empty(), "{:?}", page.console_errors);
    let (w, h) = jolt_e2e::chromium::png_size(&page.screenshot).unwrap();
    assert!(w >= 1280 && h > 0, "{w}x{h}");
    assert!(
        page.dom.contains("<div id=\"verdict\" class=\"passed\">"),
        "the verdict at the top"
    );
    let bars = page.dom.matches("<rect class=\"fault ").count();
    assert_eq!(bars, 3, "one bar per injected fault");
    assert!(
        page.dom.contains("class=\"latency\""),
        "the probe's latency line"
    );
    // Nothing in it reaches out: no external script, style, font or image.
    for needle in ["src=\"http", "href=\"http", "url(http", "@import"] {
        assert!(!page.dom.contains(needle), "{needle} in the report");
    }

    // The JSON report validates against its documented schema.
    let json = report(&a, "three-pauses", "json", "json");
    let schema =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/report.schema.json");
    let check = std::process::Command::new("python3")
        .args(["-c", "import json, sys, jsonschema; jsonschema.validate(json.load(open(sys.argv[1])), json.load(open(sys.argv[2])))"])
        .arg(&json)
        .arg(&schema)
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
    let r: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(r["verdict"], "passed");
    assert_eq!(r["faults"].as_array().unwrap().len(), 3);
    for f in r["faults"].as_array().unwrap() {
        assert!(
            f["recover_ms"].as_f64().is_some(),
            "time to recover of each fault: {f}"
        );
    }
    let home = &r["probes"][0];
    for window in ["before", "during", "after"] {
        let w = &home[window];
        assert_eq!(w["success_rate"], 1.0, "{window}: {home}");
        assert!(
            w["p50_ms"].as_f64().is_some() && w["p99_ms"].as_f64().is_some(),
            "{window}: {w}"
        );
    }

    // JUnit: one case per probe and per fault (and the verdict), valid XML.
    let junit = report(&a, "three-pauses", "junit", "xml");
    let cases = std::process::Command::new("python3")
        .args(["-c", "import sys, xml.etree.ElementTree as E; print(len(E.parse(sys.argv[1]).getroot().findall('.//testcase')))"])
        .arg(&junit)
        .output()
        .unwrap();
    assert!(
        cases.status.success(),
        "{}",
        String::from_utf8_lossy(&cases.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&cases.stdout).trim(), "5");
    let md = a.ok(["report", "three-pauses"]);
    assert!(md.contains("[PASSED]"), "{md}");
    a.ok(["rm", "-f", "web"]);
    a.assert_gone(&id, None);
}

#[test]
fn exec_probes_run_in_the_named_container_and_in_each_target() {
    let Some(a) = agent() else { return };
    let id = web(&a, "web", 18087, &[]);
    let other = a.run(&[
        "--name", "web-2", "--label", "app=web", "--", "sleep", "1000",
    ]);
    let text = "
name: inside
targets: {labels: {app: web}, mode: all}
schedule: {at: [500ms]}
duration: 2s
fault: {kind: cpu-throttle, cpus: 0.5, duration: 500ms}
steady-state:
  probes:
    - {name: page, interval: 300ms, exec: {container: web, command: [cat, /www/index.html], output: jolt}}
    - {name: alive, interval: 300ms, exec: {command: 'test -d /proc/1 && echo up', output: up}}
";
    let (code, shown) = apply_wait(&a, "inside", text);
    assert_eq!(code, 0, "{shown}");
    let s = get(&a, "inside");
    assert_eq!(s["verdict"], "passed");
    for p in s["probes"].as_array().unwrap() {
        assert_eq!(p["kind"], "exec");
        assert!(p["results"].as_u64().unwrap() >= 2, "{p}");
        assert_eq!(p["failures"], 0, "{p}");
    }
    // A command that fails is a failed run, with jolt exec's status.
    let failing = "
name: outside
targets: {names: [web]}
schedule: {at: [0s]}
fault: {kind: pause, duration: 300ms}
steady-state:
  before: 500ms
  probes:
    - {name: missing, interval: 200ms, exec: {container: web, command: [cat, /nonexistent]}}
";
    let (code, shown) = apply_wait(&a, "outside", failing);
    assert_eq!(code, 3, "{shown}");
    let reason = get(&a, "outside")["reason"].as_str().unwrap().to_string();
    assert!(
        reason.contains("in web: exit status 1, expected 0"),
        "{reason}"
    );
    assert!(
        !kinds(&events(&a, "outside")).contains(&"injected".to_string()),
        "nothing injected"
    );
    // A run cut by its timeout leaves nothing running in the container.
    let slow = "
name: slow-exec
targets: {names: [web]}
schedule: {at: [0s]}
duration: 2s
fault: {kind: cpu-throttle, cpus: 0.5, duration: 1s}
steady-state:
  on-breach: continue
  probes:
    - {name: slow, interval: 500ms, exec: {container: web, command: [sleep, '1234'], timeout: 300ms}}
";
    let (code, shown) = apply_wait(&a, "slow-exec", slow);
    assert_eq!(code, 1, "{shown}");
    let sleeping = || {
        std::fs::read_dir("/proc")
            .unwrap()
            .flatten()
            .filter(|e| {
                std::fs::read(e.path().join("cmdline")).is_ok_and(|c| c == b"sleep\x001234\x00")
            })
            .count()
    };
    jolt_e2e::wait_until("no probe's sleep left", jolt_e2e::quick(), || {
        (sleeping() == 0).then_some(())
    });
    a.ok(["rm", "-f", "web"]);
    a.ok(["rm", "-f", "web-2"]);
    a.assert_gone(&id, None);
    a.assert_gone(&other, None);
}

#[test]
fn abort_does_not_wait_for_recover_within() {
    let Some(a) = agent() else { return };
    let id = web(&a, "web", 18088, &[]);
    let text = "
name: held
targets: {names: [web]}
schedule: {at: [0s]}
duration: 1m
fault: {kind: pause, duration: 50s}
steady-state:
  during: false
  after: {recover-within: 50s}
  probes: [{name: port, interval: 200ms, tcp: {address: '127.0.0.1:18999'}}]
";
    // Nothing listens on 18999: the probe never recovers, and only
    // recover-within (50 s) would end a wait for it.
    crate::experiments::apply(&a, "held", text);
    crate::experiments::wait_event(&a, "held", "injected");
    let t0 = Instant::now();
    a.ok(["abort", "held"]);
    assert!(
        t0.elapsed() < Duration::from_secs(5),
        "abort took {:?}",
        t0.elapsed()
    );
    let s = get(&a, "held");
    assert_eq!(
        (s["phase"].as_str(), s["verdict"].as_str()),
        (Some("aborted"), Some("aborted"))
    );
    assert_eq!(s["reason"], "aborted by chaosctl abort");
    a.wait_for_page(18088);
    a.ok(["rm", "-f", "web"]);
    a.assert_gone(&id, None);
}
