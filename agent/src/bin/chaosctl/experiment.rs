//! How chaosctl shows an experiment's status and its events.

use serde_json::Value;

use crate::output;

/// `get`'s view: the record, then the active faults.
pub fn print_status(s: &Value) {
    let field = |k: &str| s[k].as_str().unwrap_or("-").to_string();
    for (label, value) in [
        ("name", field("name")),
        ("phase", field("phase")),
        ("fault", field("fault")),
        ("seed", s["seed"].to_string()),
        ("start", field("start")),
        ("length", field("length")),
        ("next fire", field("next_fire")),
        (
            "faults",
            format!(
                "{} injected, {} reverted, {} failed",
                s["injected"], s["reverted"], s["failed"]
            ),
        ),
    ] {
        println!("{:<11}{value}", format!("{label}:"));
    }
    if let Some(reason) = s["reason"].as_str() {
        println!("{:<11}{reason}", "reason:");
    }
    if let Some(verdict) = s["verdict"].as_str() {
        println!("{:<11}{verdict}", "verdict:");
    }
    if let Some(b) = breach_line(s) {
        println!("{:<11}{b}", "breach:");
    }
    if let Some(n) = s["damaged_events"].as_u64() {
        println!(
            "{:<11}{n} lines of its timeline do not parse (see chaosctl events)",
            "damaged:"
        );
    }
    if let Some(why) = s["unsaved"].as_str() {
        println!("{:<11}{why}", "unsaved:");
    }
    let active = s["active"].as_array().cloned().unwrap_or_default();
    if !active.is_empty() {
        println!();
        let rows: Vec<Vec<String>> = active
            .iter()
            .map(|a| {
                vec![
                    a["target"].as_str().unwrap_or("-").to_string(),
                    a["fault"].as_str().unwrap_or("-").to_string(),
                    a["via"].as_str().unwrap_or("-").to_string(),
                    a["until"].as_str().unwrap_or("-").to_string(),
                    format!("{:.1}s", a["left_ms"].as_f64().unwrap_or(0.0) / 1000.0),
                    match a["revert_error"].as_str() {
                        Some(e) => {
                            format!("revert failing (attempt {}): {e}", a["revert_attempts"])
                        }
                        None => "active".to_string(),
                    },
                ]
            })
            .collect();
        output::table(&["TARGET", "FAULT", "VIA", "UNTIL", "LEFT", "STATE"], &rows);
    }
    let probes = s["probes"].as_array().cloned().unwrap_or_default();
    if !probes.is_empty() {
        println!();
        let rows: Vec<Vec<String>> = probes
            .iter()
            .map(|p| {
                vec![
                    p["name"].as_str().unwrap_or("-").to_string(),
                    p["kind"].as_str().unwrap_or("-").to_string(),
                    p["state"].as_str().unwrap_or("-").to_string(),
                    format!("{}/{}", p["failures"], p["results"]),
                    p["last_ms"]
                        .as_f64()
                        .map_or("-".into(), |ms| format!("{ms:.1} ms")),
                    p["last_error"].as_str().unwrap_or("").to_string(),
                ]
            })
            .collect();
        output::table(
            &["PROBE", "KIND", "STATE", "FAILED", "LAST", "ERROR"],
            &rows,
        );
    }
}

/// The first breach in one line.
fn breach_line(s: &Value) -> Option<String> {
    let b = s.get("breach").filter(|b| b.is_object())?;
    let recovered = match b["recovered"].as_bool() {
        Some(true) => "recovered by the end",
        _ => "not recovered by the end",
    };
    Some(format!(
        "{} at {}: {} ({recovered})",
        b["probe"].as_str().unwrap_or("-"),
        b["at"].as_str().unwrap_or("-"),
        b["message"].as_str().unwrap_or("-")
    ))
}

/// `apply --wait`'s progress: what stands now, a line per thing. With
/// time left only in `live` (redrawn) mode, so that plain output gets a
/// line per change.
pub fn progress_lines(s: &Value, live: bool) -> Vec<String> {
    let name = s["name"].as_str().unwrap_or("-");
    let fires = match s["fires_planned"].as_u64() {
        Some(planned) => format!("fires {}/{planned}", s["fires_done"]),
        None => "holding the hypothesis before the start".into(),
    };
    let mut lines = vec![format!(
        "{name}: {}, {fires}, {} injected, {} reverted, {} failed",
        s["phase"].as_str().unwrap_or("-"),
        s["injected"],
        s["reverted"],
        s["failed"]
    )];
    for a in s["active"].as_array().into_iter().flatten() {
        let mut line = format!(
            "  active  {} on {}",
            a["fault"].as_str().unwrap_or("-"),
            a["target"].as_str().unwrap_or("-")
        );
        if live {
            let left = a["left_ms"].as_f64().unwrap_or(0.0) / 1000.0;
            line.push_str(&format!(", {left:.1}s left"));
        }
        if a["revert_error"].is_string() {
            line.push_str(", revert failing (retried)");
        }
        lines.push(line);
    }
    for p in s["probes"].as_array().into_iter().flatten() {
        let mut line = format!(
            "  probe   {} ({}): {}",
            p["name"].as_str().unwrap_or("-"),
            p["kind"].as_str().unwrap_or("-"),
            p["state"].as_str().unwrap_or("-")
        );
        if live {
            line.push_str(&format!(
                ", {} of {} runs failed",
                p["failures"], p["results"]
            ));
            if let Some(ms) = p["last_ms"].as_f64() {
                line.push_str(&format!(", last {ms:.1} ms"));
            }
        }
        lines.push(line);
    }
    if let Some(verdict) = s["verdict"].as_str().filter(|_| s["phase"] != "running") {
        let mut line = format!("verdict: {verdict}");
        if let Some(reason) = s["reason"].as_str() {
            line.push_str(&format!(" ({reason})"));
        }
        lines.push(line);
        if let Some(b) = breach_line(s) {
            lines.push(format!("breach:  {b}"));
        }
        lines.push(format!(
            "report:  chaosctl report {name} -o html --output {name}.html"
        ));
    }
    lines
}

/// One event as a line: time, event, target, fault, message.
pub fn event_line(e: &Value) -> String {
    let field = |k: &str| e[k].as_str().unwrap_or("").to_string();
    let mut line = format!("{}  {:<11}", field("at"), field("event"));
    for k in ["target", "fault", "message"] {
        let v = field(k);
        if !v.is_empty() {
            line.push_str("  ");
            line.push_str(&v);
        }
    }
    line.trim_end().to_string()
}
