//! junit: the report as JUnit XML, so that CI systems show the result
//! natively. One `<testsuite>` for the experiment, with the verdict and
//! the record as properties; a test case for the verdict itself (failed
//! unless passed or completed, skipped while running), one per probe
//! (failed when it breached) and one per fault (failed when its injection
//! or a revert failed, or the system did not recover within
//! recover-within). Every string is escaped; characters XML cannot hold
//! become U+FFFD.

use std::fmt::Write;

use super::format::{duration, esc, offset, outcome, rate, verdict, verdict_says, went_wrong};
use super::{unix_ms, Report};

pub fn render(r: &Report) -> String {
    let e = &r.experiment;
    let mut cases = String::new();
    let (mut tests, mut failures, mut skipped) = (0, 0, 0);
    let mut case =
        |name: &str, class: &str, secs: f64, result: Result<(), (&str, String, String)>| {
            tests += 1;
            let _ = write!(
                cases,
                "    <testcase name=\"{}\" classname=\"{}.{class}\" time=\"{secs:.3}\"",
                esc(name),
                esc(&e.name)
            );
            match result {
                Ok(()) => cases.push_str("/>\n"),
                Err(("skipped", message, _)) => {
                    skipped += 1;
                    let _ = write!(
                        cases,
                        ">\n      <skipped message=\"{}\"/>\n    </testcase>\n",
                        esc(&message)
                    );
                }
                Err((kind, message, body)) => {
                    failures += 1;
                    let _ = write!(
                    cases,
                    ">\n      <failure type=\"{}\" message=\"{}\">{}</failure>\n    </testcase>\n",
                    esc(kind),
                    esc(&message),
                    esc(&body)
                );
                }
            }
        };
    let v = verdict(r);
    let length = match (unix_ms(&e.start), e.ended.as_deref().and_then(unix_ms)) {
        (Some(a), Some(b)) => (b - a) / 1e3,
        _ => 0.0,
    };
    let says = verdict_says(r);
    case(
        &format!("verdict: {v}"),
        "verdict",
        length,
        match v {
            "passed" | "completed" => Ok(()),
            "running" => Err(("skipped", says, String::new())),
            _ => Err((v, says.clone(), says)),
        },
    );
    for p in &r.probes {
        let stats = format!(
            "success before {} (p99 {}), during {} (p99 {}), after {} (p99 {}); {} failed runs of {}",
            rate(p.before.success_rate),
            duration(p.before.p99_ms),
            rate(p.during.success_rate),
            duration(p.during.p99_ms),
            rate(p.after.success_rate),
            duration(p.after.p99_ms),
            p.overall.failures,
            p.overall.results
        );
        let result = match p.breaches.first() {
            None => Ok(()),
            Some(b) => {
                let mut body = String::new();
                for b in &p.breaches {
                    let _ = writeln!(
                        body,
                        "breached at {}: {}",
                        offset(r, Some(&b.at)),
                        b.message.as_deref().unwrap_or("")
                    );
                }
                body.push_str(&stats);
                Err(("breached", b.message.clone().unwrap_or_default(), body))
            }
        };
        case(&format!("probe {}", p.name), "probes", 0.0, result);
    }
    for (i, f) in r.faults.iter().enumerate() {
        let secs = match (
            f.injected.as_deref().and_then(unix_ms),
            f.reverted.as_deref().and_then(unix_ms),
        ) {
            (Some(a), Some(b)) => (b - a) / 1e3,
            _ => 0.0,
        };
        let kind = match (f.injected.is_some(), f.failures.is_empty(), f.recovered) {
            (false, _, _) => "injection-failed",
            (true, false, _) => "revert-failed",
            (true, true, Some(false)) => "not-recovered",
            (true, true, _) => "never-reverted",
        };
        let result = match went_wrong(r, f) {
            false => Ok(()),
            true => {
                let mut body = String::new();
                for n in &f.failures {
                    let _ = writeln!(
                        body,
                        "{} at {}: {}",
                        if f.injected.is_some() {
                            "revert failed"
                        } else {
                            "injection failed"
                        },
                        offset(r, Some(&n.at)),
                        n.message.as_deref().unwrap_or("")
                    );
                }
                if let Some(msg) = f
                    .recovery_message
                    .as_deref()
                    .filter(|_| f.recovered == Some(false))
                {
                    let _ = writeln!(body, "{msg}");
                }
                Err((kind, outcome(r, f), body))
            }
        };
        let name = format!("fault #{} {} on {}", i + 1, f.fault, f.target);
        case(&name, "faults", secs, result);
    }
    let mut x = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        x,
        "<testsuites name=\"jolt chaos\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\" skipped=\"{skipped}\" time=\"{length:.3}\">"
    );
    let _ = writeln!(
        x,
        "  <testsuite name=\"{}\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\" skipped=\"{skipped}\" time=\"{length:.3}\" timestamp=\"{}\">",
        esc(&e.name),
        esc(e.start.get(..19).unwrap_or(&e.start))
    );
    x.push_str("    <properties>\n");
    let mut props = vec![
        ("verdict", v.to_string()),
        ("phase", e.phase.name().to_string()),
        ("fault", e.fault.clone()),
        ("seed", e.seed.to_string()),
        ("start", e.start.clone()),
        ("schema", r.schema.clone()),
    ];
    props.extend(e.ended.clone().map(|at| ("ended", at)));
    props.extend(e.reason.clone().map(|why| ("reason", why)));
    if let Some(b) = &r.breach {
        props.push(("breach.probe", b.probe.clone()));
        props.push(("breach.at", b.at.clone()));
        props.push(("breach.message", b.message.clone()));
    }
    for (k, val) in props {
        let _ = writeln!(x, "      <property name=\"{k}\" value=\"{}\"/>", esc(&val));
    }
    x.push_str("    </properties>\n");
    x.push_str(&cases);
    x.push_str("  </testsuite>\n</testsuites>\n");
    x
}
