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
        output::table(&["TARGET", "FAULT", "UNTIL", "LEFT", "STATE"], &rows);
    }
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
