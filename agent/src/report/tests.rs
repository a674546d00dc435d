//! Reports built from synthetic timelines: what a user would read in
//! them, and that their JSON keeps to `docs/report.schema.json`.

use serde_json::Value;

use super::*;
use crate::experiments::Phase;

/// 2027-01-15T08:00:00Z plus `s` seconds, as the timeline writes it.
pub(super) fn t(s: f64) -> String {
    rfc3339(1_800_000_000_000.0 + s * 1e3)
}

/// The same time in unix ms, as probe series write it.
fn u(s: f64) -> f64 {
    1_800_000_000_000.0 + s * 1e3
}

pub(super) const PAUSE: &str = "
name: web
description: pause web-1 once; does home stay up?
targets: {names: [web-1, web-2]}
schedule: {at: [10s]}
fault: {kind: pause, duration: 30s}
steady-state:
  before: 5s
  after: {recover-within: 10s}
  probes:
    - name: home
      interval: 200ms
      tolerance: 1
      http: {url: 'http://127.0.0.1:8080/', max-latency: 300ms}
";

pub(super) fn record(phase: Phase, verdict: Option<Verdict>, fault: &str) -> Record {
    Record {
        name: "web".into(),
        origin: "web.yaml".into(),
        seed: 7,
        start: t(0.0),
        length: "40s".into(),
        fault: fault.into(),
        phase,
        reason: None,
        ended: (phase != Phase::Running).then(|| t(60.0)),
        verdict,
        breach: None,
        fleet: None,
    }
}

pub(super) fn ev(s: f64, event: &str) -> Event {
    Event {
        at: t(s),
        event: event.into(),
        ..Event::default()
    }
}

pub(super) fn on(s: f64, event: &str, target: &str, fault: &str) -> Event {
    Event {
        target: Some(target.into()),
        fault: Some(fault.into()),
        ..ev(s, event)
    }
}

/// A probe sample of results at `from`, `from + 1`, ... seconds.
pub(super) fn sample(s: f64, probe: &str, from: f64, results: &[(f64, bool)]) -> Event {
    let series = results
        .iter()
        .enumerate()
        .map(|(i, (latency, ok))| [u(from + i as f64), *latency, f64::from(u8::from(*ok))])
        .collect();
    Event {
        probe: Some(probe.into()),
        series: Some(series),
        ..ev(s, "probe")
    }
}

/// A passed run: one pause on web-1 from +10s to +40s, probe `home`
/// slower while it lasts and steady again 0.5 s after.
pub(super) fn passed() -> (Record, Vec<Event>) {
    let fault = "pause for 30s";
    let before: Vec<(f64, bool)> = (0..9).map(|i| (10.0 + i as f64, true)).collect();
    let during: Vec<(f64, bool)> = (0..30).map(|i| (100.0 + i as f64, i != 3)).collect();
    let after: Vec<(f64, bool)> = (0..19).map(|i| (20.0 + i as f64, true)).collect();
    let events = vec![
        Event {
            fault: Some(fault.into()),
            message: Some("1 fires over 40s, seed 7".into()),
            ..ev(0.0, "scheduled")
        },
        Event {
            message: Some("every probe steady for 5s".into()),
            ..ev(5.0, "hypothesis")
        },
        sample(9.0, "home", 1.0, &before),
        Event {
            late_ms: Some(1.2),
            ..on(10.0, "injected", "web-1", fault)
        },
        Event {
            probe: Some("home".into()),
            message: Some("connection refused".into()),
            latency_ms: Some(103.0),
            ..ev(13.0, "probe-failed")
        },
        sample(39.5, "home", 10.0, &during),
        Event {
            late_ms: Some(2.0),
            message: Some("2.000 ms after its time".into()),
            ..on(40.0, "reverted", "web-1", fault)
        },
        Event {
            recover_ms: Some(500.0),
            message: Some("steady again 0.5 s after pause for 30s on web-1".into()),
            ..on(40.5, "recovery", "web-1", fault)
        },
        sample(59.0, "home", 41.0, &after),
        ev(60.0, "finished"),
    ];
    (
        record(Phase::Finished, Some(Verdict::Passed), fault),
        events,
    )
}

#[test]
fn a_passed_run_has_its_fault_its_windows_and_percentiles() {
    let (record, events) = passed();
    let r = Report::build(&record, PAUSE, &events);
    assert_eq!(r.schema, "jolt.report/v1");
    assert_eq!(r.verdict, Some(Verdict::Passed));
    assert_eq!(
        r.experiment.description.as_deref(),
        Some("pause web-1 once; does home stay up?")
    );
    assert_eq!(
        r.experiment.plan.as_deref(),
        Some("1 fires over 40s, seed 7")
    );
    assert_eq!(r.experiment.text_error, None);
    let h = r.hypothesis.as_ref().unwrap();
    assert_eq!(
        (h.before_ms, h.recover_within_ms, h.during, h.on_breach),
        (Some(5000.0), Some(10000.0), true, OnBreach::Abort)
    );

    assert_eq!(r.faults.len(), 1);
    let f = &r.faults[0];
    assert_eq!((f.target.as_str(), f.kind.as_str()), ("web-1", "pause"));
    assert_eq!(f.scheduled.as_deref(), Some("2027-01-15T08:00:09.999Z"));
    assert_eq!(f.injected.as_deref(), Some(t(10.0).as_str()));
    assert_eq!(f.reverted.as_deref(), Some(t(40.0).as_str()));
    assert_eq!((f.late_ms, f.revert_late_ms), (Some(1.2), Some(2.0)));
    assert_eq!((f.recovered, f.recover_ms), (Some(true), Some(500.0)));
    assert!(!f.failed());

    assert_eq!(
        r.during,
        Some(Window {
            from: t(10.0),
            to: t(40.0)
        })
    );
    assert_eq!(
        r.span,
        Some(Window {
            from: t(0.0),
            to: t(60.0)
        })
    );
    let p = &r.probes[0];
    assert_eq!(p.name, "home");
    assert_eq!(p.kind.as_deref(), Some("http"));
    assert_eq!(
        p.check.as_deref(),
        Some("http GET http://127.0.0.1:8080/ within 300ms")
    );
    assert_eq!(p.interval_ms, Some(200.0));
    assert_eq!(p.tolerance.as_deref(), Some("1 consecutive failures"));
    // Before: 10..18 ms; p50 is the 5th of 9, p99 the 9th.
    assert_eq!((p.before.results, p.before.failures), (9, 0));
    assert_eq!((p.before.p50_ms, p.before.p99_ms), (Some(14.0), Some(18.0)));
    // During (+10 to +40, both ends in): 30 runs at 100..129 ms, one failed.
    assert_eq!((p.during.results, p.during.failures), (30, 1));
    assert_eq!(p.during.p50_ms, Some(114.0));
    assert_eq!(p.during.p99_ms, Some(129.0));
    assert_eq!(p.during.success_rate, Some(29.0 / 30.0));
    assert_eq!((p.after.results, p.after.failures), (19, 0));
    assert_eq!(p.overall.results, 9 + 30 + 19);
    assert_eq!(p.series.len(), 58);
    assert_eq!(p.failures[0].message.as_deref(), Some("connection refused"));
    let kinds: Vec<&str> = r.marks.iter().map(|m| m.kind.as_str()).collect();
    assert_eq!(kinds, ["hypothesis", "recovery", "finished"]);
    assert_eq!(
        (r.counts.events, r.counts.injected, r.counts.reverted),
        (10, 1, 1)
    );
    assert_eq!(r.counts.probe_failed, 1);
}

/// An aborted run: home breached 5 s into a 30 s pause, which was
/// reverted at once.
pub(super) fn aborted() -> (Record, Vec<Event>) {
    let fault = "pause for 30s";
    let breach = Breach {
        probe: "home".into(),
        at: t(15.0),
        message: "home breached: 2 of 12 runs failed so far".into(),
        recovered: true,
    };
    let mut record = record(Phase::Aborted, Some(Verdict::Aborted), fault);
    record.breach = Some(breach.clone());
    let events = vec![
        sample(9.0, "home", 1.0, &[(10.0, true); 9]),
        Event {
            late_ms: Some(0.8),
            ..on(10.0, "injected", "web-1", fault)
        },
        Event {
            probe: Some("home".into()),
            message: Some("GET /: timed out after 1s <script>alert(1)</script>".into()),
            latency_ms: Some(1000.0),
            ..ev(14.0, "probe-failed")
        },
        sample(15.0, "home", 11.0, &[(1000.0, false), (1000.0, false)]),
        Event {
            probe: Some("home".into()),
            message: Some(breach.message.clone()),
            ..ev(15.0, "breached")
        },
        Event {
            late_ms: Some(0.0),
            message: Some("0.000 ms after its time".into()),
            ..on(15.2, "reverted", "web-1", fault)
        },
        Event {
            message: Some("home breached".into()),
            ..ev(15.3, "aborted")
        },
        sample(20.0, "home", 16.0, &[(12.0, true); 4]),
        Event {
            probe: Some("home".into()),
            message: Some("home is steady again".into()),
            ..ev(19.0, "steady")
        },
    ];
    (record, events)
}

#[test]
fn an_aborted_run_shows_its_breach_and_the_early_revert() {
    let (record, events) = aborted();
    let r = Report::build(&record, PAUSE, &events);
    assert_eq!(r.verdict, Some(Verdict::Aborted));
    assert_eq!(r.breach.as_ref().unwrap().probe, "home");
    let f = &r.faults[0];
    assert_eq!(f.reverted.as_deref(), Some(t(15.2).as_str()));
    assert_eq!(f.recovered, None, "no recovery was judged");
    // The faults' window ends at the revert, not at +40s.
    assert_eq!(r.during.as_ref().unwrap().to, t(15.2));
    let p = &r.probes[0];
    assert_eq!((p.during.results, p.during.failures), (2, 2));
    assert_eq!(p.during.success_rate, Some(0.0));
    assert_eq!((p.after.results, p.after.success_rate), (4, Some(1.0)));
    assert_eq!(p.breaches.len(), 1);
    assert_eq!(p.steady[0].at, t(19.0));
    let kinds: Vec<&str> = r.marks.iter().map(|m| m.kind.as_str()).collect();
    assert_eq!(kinds, ["breached", "aborted"]);
    assert_eq!(r.marks[0].probe.as_deref(), Some("home"));
}

/// An interrupted run: web-1's pause has no revert in the timeline;
/// web-2's was reverted at the next joltd's start, from the journal,
/// which names only the fault's kind.
pub(super) fn interrupted() -> (Record, Vec<Event>) {
    let fault = "pause for 30s";
    let mut record = record(Phase::Interrupted, Some(Verdict::Interrupted), fault);
    record.reason = Some("joltd stopped while it ran".into());
    let events = vec![
        on(10.0, "injected", "web-1", fault),
        on(12.0, "injected", "web-2", fault),
        Event {
            message: Some("at joltd's start (Reverted)".into()),
            ..on(300.0, "reverted", "web-2", "pause")
        },
        Event {
            message: Some("joltd stopped while it ran".into()),
            ..ev(300.5, "interrupted")
        },
        Event {
            message: Some("events.jsonl line 3 does not parse (EOF): \"{\\\"at\"".into()),
            ..Event {
                event: "damaged".into(),
                ..Event::default()
            }
        },
    ];
    (record, events)
}

#[test]
fn an_interrupted_run_keeps_a_fault_never_reverted_open_to_the_end() {
    let (record, events) = interrupted();
    let r = Report::build(&record, PAUSE, &events);
    assert_eq!(r.experiment.phase, Phase::Interrupted);
    assert_eq!(
        r.experiment.reason.as_deref(),
        Some("joltd stopped while it ran")
    );
    let [web1, web2] = &r.faults[..] else {
        panic!("{:?}", r.faults)
    };
    assert_eq!((web1.reverted.as_deref(), web1.recovered), (None, None));
    assert_eq!(web1.scheduled.as_deref(), Some(t(10.0).as_str()));
    assert_eq!(web2.reverted.as_deref(), Some(t(300.0).as_str()));
    assert_eq!(web2.revert_late_ms, None);
    assert_eq!(r.during.as_ref().unwrap().to, t(300.5), "to the end");
    assert_eq!((r.counts.damaged, r.damaged.len()), (1, 1));
    assert!(r.damaged[0].starts_with("events.jsonl line 3"));
    assert_eq!(r.marks.last().unwrap().kind, "interrupted");
    // No probe ever ran: the text's probe is there, without results.
    assert_eq!(r.probes[0].overall, Stats::default());
}

/// A kill of web-1: running again 1.234 s later, every probe passing
/// again 1.8 s after the kill.
pub(super) fn kill() -> (Record, Vec<Event>) {
    let fault = "kill signal=SIGKILL scope=init";
    let events = vec![
        sample(9.0, "home", 5.0, &[(10.0, true); 5]),
        Event {
            late_ms: Some(0.4),
            ..on(10.0, "injected", "web-1", fault)
        },
        Event {
            target: Some("web-1".into()),
            message: Some("running again after 1.234 s".into()),
            ..ev(11.234, "recovered")
        },
        Event {
            recover_ms: Some(1800.0),
            message: Some("steady again".into()),
            ..on(11.8, "recovery", "web-1", fault)
        },
        sample(
            15.0,
            "home",
            11.0,
            &[(500.0, false), (20.0, true), (10.0, true)],
        ),
        ev(20.0, "finished"),
    ];
    (
        record(Phase::Finished, Some(Verdict::Passed), fault),
        events,
    )
}

#[test]
fn a_kill_has_no_revert_and_its_window_ends_when_it_runs_again() {
    let (record, events) = kill();
    let text = PAUSE.replace(
        "{kind: pause, duration: 30s}",
        "{kind: kill, signal: SIGKILL}",
    );
    let r = Report::build(&record, &text, &events);
    assert_eq!(r.experiment.text_error, None);
    let f = &r.faults[0];
    assert_eq!((f.kind.as_str(), f.reverted.as_deref()), ("kill", None));
    let after = f.after_kill.as_ref().unwrap();
    assert_eq!(
        (after.event.as_str(), after.at.as_str()),
        ("recovered", t(11.234).as_str())
    );
    assert_eq!((f.recovered, f.recover_ms), (Some(true), Some(1800.0)));
    let during = r.during.as_ref().unwrap();
    assert_eq!(
        (during.from.as_str(), during.to.as_str()),
        (t(10.0).as_str(), t(11.234).as_str())
    );
    let p = &r.probes[0];
    // The run that failed while the container was down is during it.
    assert_eq!(
        (p.before.results, p.during.results, p.after.results),
        (5, 1, 2)
    );
    assert_eq!((p.during.failures, p.during.p99_ms), (1, Some(500.0)));
    assert_eq!(p.after.p50_ms, Some(10.0));
    assert_eq!(p.after.p99_ms, Some(20.0));
    let kinds: Vec<&str> = r.marks.iter().map(|m| m.kind.as_str()).collect();
    assert_eq!(kinds, ["recovered", "recovery", "finished"]);
}

#[test]
fn failed_injections_and_reverts_belong_to_their_fault() {
    let fault = "pause for 30s";
    let events = vec![
        Event {
            message: Some("cgroup web-2: freezer: no such file".into()),
            ..on(9.98, "failed", "web-2", fault)
        },
        on(10.0, "injected", "web-1", fault),
        Event {
            message: Some("revert: EBUSY (attempt 1; retrying in 100ms)".into()),
            ..on(40.0, "failed", "web-1", fault)
        },
        on(40.1, "reverted", "web-1", fault),
        Event {
            message: Some("not steady within 10s after pause for 30s on web-1".into()),
            ..on(50.1, "recovery", "web-1", fault)
        },
    ];
    let record = record(Phase::Finished, Some(Verdict::Failed), fault);
    let r = Report::build(&record, PAUSE, &events);
    let [web2, web1] = &r.faults[..] else {
        panic!("{:?}", r.faults)
    };
    assert_eq!((web2.injected.as_deref(), web2.failures.len()), (None, 1));
    assert!(web2.failed());
    assert_eq!(web1.failures.len(), 1);
    assert_eq!(web1.reverted.as_deref(), Some(t(40.1).as_str()));
    assert_eq!((web1.recovered, web1.recover_ms), (Some(false), None));
    assert_eq!(r.counts.failed, 2);
}

#[test]
fn a_text_that_no_longer_parses_is_said_and_probes_come_from_the_timeline() {
    let (record, events) = aborted();
    let r = Report::build(&record, "name: [", &events);
    assert!(r
        .experiment
        .text_error
        .as_deref()
        .unwrap()
        .starts_with("web.yaml: "));
    assert_eq!(r.hypothesis, None);
    assert_eq!(r.probes.len(), 1);
    assert_eq!(
        (r.probes[0].kind.as_deref(), r.probes[0].during.results),
        (None, 2)
    );
}

#[test]
fn percentiles_are_nearest_rank() {
    let v: Vec<f64> = (1..=100).map(f64::from).collect();
    assert_eq!(percentile(&v, 50.0), Some(50.0));
    assert_eq!(percentile(&v, 99.0), Some(99.0));
    assert_eq!(percentile(&v[..10], 99.0), Some(10.0));
    assert_eq!(percentile(&[7.0], 50.0), Some(7.0));
    assert_eq!(percentile(&[], 50.0), None);
}

#[test]
fn the_json_keeps_to_the_schema_and_reads_back() {
    let schema: Value =
        serde_json::from_str(include_str!("../../../docs/report.schema.json")).unwrap();
    let reports = [
        (passed(), PAUSE),
        (aborted(), PAUSE),
        (interrupted(), "not: [an experiment"),
        (kill(), PAUSE),
    ];
    for ((record, events), text) in reports {
        let r = Report::build(&record, text, &events);
        let json = serde_json::to_value(&r).unwrap();
        let mut errors = Vec::new();
        check(&schema, &schema, &json, "$", &mut errors);
        assert!(
            errors.is_empty(),
            "{}: {errors:#?}",
            r.experiment.phase.name()
        );
        let back: Report = serde_json::from_value(json).unwrap();
        assert_eq!(back, r);
    }
    let mut running = record(Phase::Running, None, "pause for 30s");
    running.start = "not a time".into();
    let json = serde_json::to_value(Report::build(&running, PAUSE, &[])).unwrap();
    let mut errors = Vec::new();
    check(&schema, &schema, &json, "$", &mut errors);
    assert!(errors.is_empty(), "{errors:#?}");
    assert_eq!(
        (&json["verdict"], &json["span"]),
        (&Value::Null, &Value::Null)
    );
}

/// A small JSON Schema check, enough for this schema: `$ref`, `oneOf`,
/// `type`, `const`, `enum`, `properties` with `required` and closed
/// objects, `items` and `prefixItems`. Every key must be one the schema
/// names (and documents).
fn check(root: &Value, schema: &Value, v: &Value, at: &str, errors: &mut Vec<String>) {
    if let Some(r) = schema["$ref"].as_str() {
        let name = r.strip_prefix("#/$defs/").expect("local refs");
        return check(root, &root["$defs"][name], v, at, errors);
    }
    if let Some(branches) = schema["oneOf"].as_array() {
        let fits = branches
            .iter()
            .filter(|b| {
                let mut e = Vec::new();
                check(root, b, v, at, &mut e);
                e.is_empty()
            })
            .count();
        if fits != 1 {
            errors.push(format!("{at}: fits {fits} of oneOf: {v}"));
        }
        return;
    }
    let types: Vec<&str> = match &schema["type"] {
        Value::String(s) => vec![s.as_str()],
        Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
        _ => vec![],
    };
    let type_of = match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_u64() || n.is_i64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    };
    let fits = |t: &&str| *t == type_of || (*t == "number" && type_of == "integer");
    if !types.is_empty() && !types.iter().any(fits) {
        errors.push(format!("{at}: {type_of}, not {types:?}"));
    }
    if let Some(c) = schema.get("const") {
        if c != v {
            errors.push(format!("{at}: {v}, not {c}"));
        }
    }
    if let Some(options) = schema["enum"].as_array() {
        let same = |o: &Value| match (o.as_f64(), v.as_f64()) {
            (Some(a), Some(b)) => a == b,
            _ => o == v,
        };
        if !options.iter().any(same) {
            errors.push(format!("{at}: {v} is not one of {options:?}"));
        }
    }
    match v {
        Value::Object(map) => {
            for key in map.keys() {
                match schema["properties"].get(key) {
                    Some(p) if p.get("description").is_some() || p.get("$ref").is_some() => {
                        check(root, p, &map[key], &format!("{at}.{key}"), errors)
                    }
                    Some(_) => errors.push(format!("{at}.{key}: no description")),
                    None => errors.push(format!("{at}.{key}: not in the schema")),
                }
            }
            for key in schema["required"].as_array().into_iter().flatten() {
                if !map.contains_key(key.as_str().unwrap()) {
                    errors.push(format!("{at}: missing {key}"));
                }
            }
        }
        Value::Array(items) => {
            let prefix = schema["prefixItems"].as_array();
            for (i, item) in items.iter().enumerate() {
                let s = match prefix.and_then(|p| p.get(i)) {
                    Some(s) => s,
                    None if schema["items"] == Value::Bool(false) => {
                        errors.push(format!("{at}[{i}]: more items than the schema names"));
                        continue;
                    }
                    None => &schema["items"],
                };
                check(root, s, item, &format!("{at}[{i}]"), errors);
            }
        }
        _ => {}
    }
}
