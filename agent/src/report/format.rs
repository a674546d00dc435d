//! How the renderers say numbers, times and outcomes, the same way in
//! every format: offsets from the start, durations, rates, what a verdict
//! and a fault's outcome mean in words.

use super::{unix_ms, FaultRun, Report};

/// When the experiment started, unix ms: the zero of every offset.
pub fn zero(r: &Report) -> f64 {
    unix_ms(&r.experiment.start)
        .or_else(|| r.span.as_ref().and_then(|s| unix_ms(&s.from)))
        .unwrap_or(0.0)
}

/// `at` as seconds from the start: `+12.345s`; `-` when it does not parse.
pub fn offset(r: &Report, at: Option<&str>) -> String {
    match at.and_then(unix_ms) {
        Some(t) => format!("+{:.3}s", (t - zero(r)) / 1e3),
        None => "-".into(),
    }
}

/// A duration: `0.8 ms`, `120 ms`, `1.80 s`, `4m 10s`; `-` for none.
pub fn duration(ms: Option<f64>) -> String {
    let Some(ms) = ms else { return "-".into() };
    match ms {
        m if m < 10.0 => format!("{m:.1} ms"),
        m if m < 1000.0 => format!("{m:.0} ms"),
        m if m < 60_000.0 => format!("{:.2} s", m / 1e3),
        m => {
            let s = (m / 1e3).round() as u64;
            match s {
                0..3600 => format!("{}m {}s", s / 60, s % 60),
                _ => format!("{}h {}m", s / 3600, s % 3600 / 60),
            }
        }
    }
}

/// A success rate: `98.3%`; `-` without results.
pub fn rate(r: Option<f64>) -> String {
    match r {
        Some(1.0) => "100%".into(),
        Some(r) => format!("{:.1}%", r * 100.0),
        None => "-".into(),
    }
}

/// The verdict's name, `running` while there is none.
pub fn verdict(r: &Report) -> &'static str {
    r.verdict.map_or("running", |v| v.name())
}

/// What the verdict means, in a sentence.
pub fn verdict_says(r: &Report) -> String {
    let within = r
        .hypothesis
        .as_ref()
        .and_then(|h| h.recover_within_ms)
        .map(|ms| format!(" within {}", duration(Some(ms))))
        .unwrap_or_default();
    match verdict(r) {
        "passed" => format!("The hypothesis held, and recovered{within} after every fault."),
        "failed" => "The hypothesis was breached.".into(),
        "aborted" => match &r.experiment.reason {
            Some(why) => format!("Cut short: {why}."),
            None if r.breach.is_some() => "Cut short by a breach of the hypothesis.".into(),
            None => "Cut short (chaosctl abort, or a failed injection).".into(),
        },
        "not-started" => {
            "The hypothesis did not hold before the first fault; none was injected.".into()
        }
        "interrupted" => "joltd stopped while it ran; the experiment did not finish.".into(),
        "completed" => "No hypothesis to judge; the schedule ran to its end.".into(),
        _ => "Still running: the report so far.".into(),
    }
}

/// Whether a fault went wrong: its injection or a revert failed, the
/// system did not recover within recover-within, or (once the experiment
/// ended) it was never reverted.
pub fn went_wrong(r: &Report, f: &FaultRun) -> bool {
    f.failed() || (r.verdict.is_some() && never_reverted(f))
}

fn never_reverted(f: &FaultRun) -> bool {
    f.kind != "kill" && f.injected.is_some() && f.reverted.is_none()
}

/// How long a fault line (`pause for 30s`) says each injection lasts, ms.
pub fn planned_ms(fault: &str) -> Option<f64> {
    let (_, d) = fault.rsplit_once(" for ")?;
    Some(humantime::parse_duration(d).ok()?.as_secs_f64() * 1e3)
}

/// A fault's outcome in a few words: `ok`, `injection failed: ...`.
pub fn outcome(r: &Report, f: &FaultRun) -> String {
    let first = |notes: &[super::Note]| {
        notes
            .first()
            .and_then(|n| n.message.clone())
            .unwrap_or_default()
    };
    if f.injected.is_none() {
        return format!("injection failed: {}", first(&f.failures));
    }
    let mut parts = Vec::new();
    if !f.failures.is_empty() {
        parts.push(format!("revert failed: {}", first(&f.failures)));
    }
    if f.recovered == Some(false) {
        parts.push(
            f.recovery_message
                .clone()
                .unwrap_or_else(|| "not steady within recover-within".into()),
        );
    }
    if never_reverted(f) {
        parts.push(match r.verdict {
            None => "active".into(),
            Some(_) => "never reverted".into(),
        });
    }
    let lasted = match (&f.injected, &f.reverted) {
        (Some(a), Some(b)) => unix_ms(b).zip(unix_ms(a)).map(|(b, a)| b - a),
        _ => None,
    };
    if let (Some(lasted), Some(planned)) = (lasted, planned_ms(&f.fault)) {
        if lasted + 5.0 < planned {
            parts.push(format!(
                "reverted early, after {} of {}",
                duration(Some(lasted)),
                duration(Some(planned))
            ));
        }
    }
    if let (None, Some(m)) = (f.revert_late_ms, &f.revert_message) {
        parts.push(format!("reverted {m}"));
    }
    if let Some(k) = &f.after_kill {
        parts.push(match &k.message {
            Some(m) => format!("{}: {m}", k.event),
            None => k.event.clone(),
        });
    }
    if parts.is_empty() {
        "ok".into()
    } else {
        parts.join("; ")
    }
}

/// `s` safe in HTML and XML text and attribute values: markup characters
/// as entities; control characters (but tab and newline) and the
/// non-characters XML refuses as U+FFFD.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\t' | '\n' => out.push(c),
            '\u{fffe}' | '\u{ffff}' => out.push('\u{fffd}'),
            c if c.is_control() => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}
