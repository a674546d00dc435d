//! The renderings of synthetic reports, checked the way a reader would:
//! the verdict first, nothing fetched, user text escaped, JUnit that is
//! well-formed XML, a Markdown summary that stays short. With
//! `REPORT_SAMPLE=DIR` set, the long run's renderings are written there
//! (`report-sample.html`, `.md`, `.xml`, `.json`) to look at.

use super::tests::{aborted, ev, on, passed, record, sample, PAUSE};
use super::*;

/// Two minutes of network delay on three targets, two probes, a breach
/// while web-1 is delayed (on-breach: continue), a failed injection and a
/// revert that needed a second attempt.
fn long_run() -> (Record, String, Vec<Event>) {
    let text = "
name: web-latency
description: 100ms delay on one web container every 10s; do home and db stay up?
targets: {labels: {app: web}, mode: one}
schedule: {every: 10s}
duration: 2m
fault: {kind: network-delay, latency: 100ms, jitter: 10ms, duration: 6s}
steady-state:
  before: 5s
  after: {recover-within: 3s}
  on-breach: continue
  probes:
    - {name: home, interval: 200ms, tolerance: 2, http: {url: 'http://10.88.0.2:8080/', max-latency: 150ms}}
    - {name: db, interval: 1s, tcp: {address: '10.88.0.3:5432'}}
"
    .to_string();
    let fault = "network-delay latency=100ms jitter=10ms for 6s";
    let mut events = vec![
        Event {
            fault: Some(fault.into()),
            message: Some("12 fires over 2m, seed 42".into()),
            ..ev(0.0, "scheduled")
        },
        Event {
            message: Some("every probe steady for 5s".into()),
            ..ev(5.0, "hypothesis")
        },
    ];
    let mut noise = 12345u64;
    let mut next = move || {
        noise = noise
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (noise >> 33) as f64 / (1u64 << 31) as f64
    };
    for k in 1..12 {
        let at = 10.0 * k as f64;
        let target = format!("web-{}", 1 + k % 3);
        if k == 7 {
            events.push(Event {
                message: Some("netem: RTNETLINK answers: No such file or directory".into()),
                ..on(at - 0.02, "failed", &target, fault)
            });
            continue;
        }
        events.push(Event {
            late_ms: Some(0.5 + next() * 3.0),
            message: Some("0.9 ms after its scheduled time".into()),
            ..on(at, "injected", &target, fault)
        });
        if k == 4 {
            events.push(Event {
                message: Some("revert: netlink: EBUSY (attempt 1; retrying in 100ms)".into()),
                ..on(at + 6.0, "failed", &target, fault)
            });
        }
        let back = if k == 4 { 6.1 } else { 6.0 };
        events.push(Event {
            late_ms: Some(next() * 2.0),
            ..on(at + back, "reverted", &target, fault)
        });
        let recover = 300.0 + next() * 900.0;
        events.push(Event {
            recover_ms: Some(recover),
            message: Some(format!(
                "steady again {:.3} s after the fault",
                recover / 1e3
            )),
            ..on(at + back + recover / 1e3, "recovery", &target, fault)
        });
    }
    // Probe results, a sample a second.
    for second in 0..125 {
        let s = second as f64;
        let delayed = |t: f64| {
            (1..12).any(|k| {
                k != 7 && (1 + k % 3) == 1 && t >= 10.0 * k as f64 && t < 10.0 * k as f64 + 6.0
            })
        };
        let home: Vec<(f64, bool)> = (0..5)
            .map(|i| {
                let t = s + i as f64 * 0.2;
                let latency = 8.0
                    + next() * 6.0
                    + if delayed(t) {
                        110.0 + next() * 40.0
                    } else {
                        0.0
                    };
                (latency, latency < 150.0)
            })
            .collect();
        let mut e = sample(s + 1.0, "home", s, &[]);
        e.series = Some(
            home.iter()
                .enumerate()
                .map(|(i, (l, ok))| {
                    [
                        1_800_000_000_000.0 + (s + i as f64 * 0.2) * 1e3,
                        *l,
                        f64::from(u8::from(*ok)),
                    ]
                })
                .collect(),
        );
        events.push(e);
        for (i, (l, ok)) in home.iter().enumerate() {
            if !ok {
                events.push(Event {
                    probe: Some("home".into()),
                    message: Some(format!(
                        "GET /: answered in {l:.0}ms, over max-latency 150ms"
                    )),
                    latency_ms: Some(*l),
                    ..ev(s + i as f64 * 0.2, "probe-failed")
                });
            }
        }
        events.push(sample(s + 1.0, "db", s, &[(1.0 + next(), true)]));
    }
    events.push(Event {
        probe: Some("home".into()),
        message: Some("home breached: 3 of 212 runs failed so far".into()),
        ..ev(31.0, "breached")
    });
    events.push(Event {
        probe: Some("home".into()),
        message: Some("home is steady again".into()),
        ..ev(36.5, "steady")
    });
    events.push(ev(125.0, "finished"));
    events.sort_by(|a, b| a.at.cmp(&b.at));
    let mut record = record(Phase::Finished, Some(Verdict::Failed), fault);
    record.name = "web-latency".into();
    record.length = "2m".into();
    record.ended = Some(super::tests::t(125.0));
    record.breach = Some(Breach {
        probe: "home".into(),
        at: super::tests::t(31.0),
        message: "home breached: 3 of 212 runs failed so far".into(),
        recovered: true,
    });
    (record, text, events)
}

#[test]
fn html_is_one_file_with_the_verdict_first_and_nothing_fetched() {
    let (record, text, events) = long_run();
    let r = Report::build(&record, &text, &events);
    assert_eq!(r.experiment.text_error, None);
    let h = html::render(&r);
    if let Ok(dir) = std::env::var("REPORT_SAMPLE") {
        let dir = std::path::Path::new(&dir);
        std::fs::write(dir.join("report-sample.html"), &h).unwrap();
        std::fs::write(dir.join("report-sample.md"), markdown::render(&r)).unwrap();
        std::fs::write(dir.join("report-sample.xml"), junit::render(&r)).unwrap();
        std::fs::write(
            dir.join("report-sample.json"),
            serde_json::to_string_pretty(&r).unwrap(),
        )
        .unwrap();
        let kill_text = PAUSE.replace(
            "{kind: pause, duration: 30s}",
            "{kind: kill, signal: SIGKILL}",
        );
        for (name, (record, events), text) in [
            ("aborted", aborted(), PAUSE.to_string()),
            ("kill", super::tests::kill(), kill_text),
            (
                "interrupted",
                super::tests::interrupted(),
                PAUSE.to_string(),
            ),
        ] {
            let r = Report::build(&record, &text, &events);
            std::fs::write(dir.join(format!("report-{name}.html")), html::render(&r)).unwrap();
        }
    }
    let verdict = h.find(r#"<div id="verdict" class="failed">"#).unwrap();
    assert!(verdict < h.find("<svg").unwrap(), "the verdict comes first");
    assert!(h[verdict..].contains("FAILED"), "readable without colour");
    for fetch in [
        "<script", "src=", "href=", "url(", "@import", "<link", "<img",
    ] {
        assert!(!h.contains(fetch), "{fetch}");
    }
    assert_eq!(h.matches(r#"<rect class="fault "#).count(), 10);
    assert_eq!(h.matches(r#"<polyline class="latency""#).count(), 2);
    assert!(h.contains(r#"class="probe-failure""#));
    assert!(h.contains(r#"<line class="mark breached""#));
    assert!(h.contains(r#"<line class="mark recovery""#));
    assert!(
        h.contains("<title>network-delay latency=100ms jitter=10ms for 6s on web-2\nscheduled +")
    );
    assert!(h.contains("injection failed: netem: RTNETLINK answers"));
    assert!(h.ends_with("</html>\n"));
}

#[test]
fn user_text_is_escaped_everywhere() {
    let (record, events) = aborted();
    let r = Report::build(&record, PAUSE, &events);
    let script = "<script>alert(1)</script>";
    let h = html::render(&r);
    assert!(!h.contains(script));
    assert!(h.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    let mut odd = r.clone();
    odd.experiment.name = "a\"b'<c>&d\u{1}".into();
    odd.probes[0].name = "p<x>".into();
    odd.breach.as_mut().unwrap().message = script.into();
    let h = html::render(&odd);
    assert!(!h.contains("a\"b") && !h.contains("p<x>") && !h.contains(script));
    assert!(h.contains("a&quot;b&#39;&lt;c&gt;&amp;d\u{fffd}"));
    let x = junit::render(&odd);
    well_formed(&x);
    assert!(!x.contains(script) && !x.contains('\u{1}'));
    let m = markdown::render(&odd);
    assert!(!m.contains(script) && m.contains("&lt;script&gt;"));
}

#[test]
fn junit_has_a_case_per_probe_and_fault_and_the_verdict() {
    let (record, text, events) = long_run();
    let r = Report::build(&record, &text, &events);
    let x = junit::render(&r);
    well_formed(&x);
    // The verdict, two probes, eleven faults (one failed to inject).
    assert_eq!(x.matches("<testcase ").count(), 1 + 2 + 11);
    assert!(
        x.contains(r#"<testsuite name="web-latency" tests="14" failures="4""#),
        "{x}"
    );
    assert!(x.contains(r#"<property name="verdict" value="failed"/>"#));
    assert!(x.contains(r#"<testcase name="probe home" classname="web-latency.probes""#));
    assert!(x.contains(
        r#"<failure type="breached" message="home breached: 3 of 212 runs failed so far">"#
    ));
    assert!(x.contains(r#"<failure type="injection-failed""#));
    assert!(x.contains(r#"<failure type="revert-failed""#));
    assert!(
        x.contains(r#"<testcase name="probe db" classname="web-latency.probes" time="0.000"/>"#)
    );
    let (record, events) = passed();
    let x = junit::render(&Report::build(&record, PAUSE, &events));
    assert!(x.contains(r#"tests="3" failures="0""#), "{x}");
}

#[test]
fn markdown_stays_short_for_a_long_experiment() {
    let (record, events) = passed();
    let r = Report::build(&record, PAUSE, &events);
    let m = markdown::render(&r);
    assert!(
        m.starts_with("### Chaos experiment web: **[PASSED]**\n"),
        "{m}"
    );
    assert!(
        m.contains("| home | 100% p99 18 ms | 96.7% p99 129 ms | 100% p99 38 ms | 0 |"),
        "{m}"
    );
    assert!(
        m.contains("| 1 | web-1 | +10.000s | 1.2 ms | +40.000s | 500 ms | ok |"),
        "{m}"
    );
    // A thousand faults, one of which failed late on.
    let mut long = r.clone();
    long.faults = (0..1000).map(|_| r.faults[0].clone()).collect();
    long.faults[900].failures.push(Note {
        at: r.faults[0].reverted.clone().unwrap(),
        message: Some("revert: EBUSY".into()),
    });
    let m = markdown::render(&long);
    assert!(m.lines().count() <= 40, "{} lines:\n{m}", m.lines().count());
    assert!(
        m.contains("| 901 | web-1 |"),
        "a fault that went wrong is shown"
    );
    assert!(m.contains("and 980 more (1 went wrong in all"), "{m}");
}

/// A small well-formedness check: tags balance, attributes are quoted,
/// text holds no raw `<` and only the entities XML knows.
fn well_formed(x: &str) {
    let body = x
        .strip_prefix("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n")
        .expect("an XML declaration");
    let mut stack: Vec<String> = Vec::new();
    let mut rest = body;
    while let Some(open) = rest.find('<') {
        check_text(&rest[..open]);
        let close = rest[open..].find('>').expect("a tag ends") + open;
        let tag = &rest[open + 1..close];
        if let Some(name) = tag.strip_prefix('/') {
            assert_eq!(stack.pop().as_deref(), Some(name), "closing {name}");
        } else {
            let name = tag.split([' ', '/']).next().unwrap();
            let attrs = tag[name.len()..].trim_end_matches('/');
            assert_eq!(attrs.matches('"').count() % 2, 0, "quoted: {tag}");
            for part in attrs.split('"').skip(1).step_by(2) {
                check_text(part);
            }
            if !tag.ends_with('/') {
                stack.push(name.to_string());
            }
        }
        rest = &rest[close + 1..];
    }
    assert!(stack.is_empty(), "unclosed: {stack:?}");
}

fn check_text(t: &str) {
    assert!(!t.contains('<'), "{t}");
    for (i, _) in t.match_indices('&') {
        let entity = &t[i..t[i..].find(';').map_or(t.len(), |e| i + e + 1)];
        assert!(
            ["&amp;", "&lt;", "&gt;", "&quot;", "&#39;"].contains(&entity),
            "{entity}"
        );
    }
    assert!(!t.chars().any(|c| c.is_control() && c != '\n' && c != '\t'));
}

#[test]
fn outcomes_say_what_went_wrong() {
    let (record, events) = aborted();
    let r = Report::build(&record, PAUSE, &events);
    assert_eq!(
        format::outcome(&r, &r.faults[0]),
        "reverted early, after 5.20 s of 30.00 s"
    );
    assert_eq!(
        format::planned_ms("cpu-throttle cpus=0.5 for 1m30s"),
        Some(90_000.0)
    );
    assert_eq!(format::planned_ms("kill signal=SIGKILL scope=init"), None);
    let (record, events) = super::tests::interrupted();
    let r = Report::build(&record, PAUSE, &events);
    assert_eq!(format::outcome(&r, &r.faults[0]), "never reverted");
    assert_eq!(
        format::outcome(&r, &r.faults[1]),
        "reverted at joltd's start (Reverted)"
    );
    let x = junit::render(&r);
    well_formed(&x);
    assert!(
        x.contains(r#"<failure type="never-reverted" message="never reverted">"#),
        "{x}"
    );
    assert!(x.contains(r#"<failure type="interrupted""#));
}
