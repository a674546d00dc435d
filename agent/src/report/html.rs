//! html: the report as one self-contained page, readable offline: no
//! script, no stylesheet, font or image fetched (inline CSS, inline SVG,
//! hover text as SVG `<title>`). The verdict first (`id="verdict"`, a
//! class per verdict, and its name in words so it reads without colour),
//! then the timeline plot (`svg`), the faults table and the probes'
//! statistics. Every string from the experiment or its events is user
//! input and escaped (`format::esc`).

use std::fmt::Write;

use super::format::{duration, esc, offset, outcome, rate, verdict, verdict_says, went_wrong};
use super::{Report, Stats};

/// The most fault rows the table shows; the JSON report has them all.
const MAX_ROWS: usize = 500;
/// The most failures and marks listed per probe and in all.
const MAX_LISTED: usize = 20;

const STYLE: &str = r#"
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; color: #1d232a; margin: 0 auto; padding: 16px 24px 40px; max-width: 1200px; }
h1 { font-size: 22px; margin: 4px 0 12px; } h2 { font-size: 17px; margin: 28px 0 8px; border-bottom: 1px solid #d8dde3; padding-bottom: 4px; }
code { font: 13px ui-monospace, "DejaVu Sans Mono", monospace; background: #f1f3f5; padding: 1px 4px; border-radius: 3px; }
#verdict { border-style: solid; border-width: 2px 2px 2px 10px; border-radius: 6px; padding: 10px 16px; margin: 8px 0 16px; }
#verdict .name { font-size: 20px; font-weight: 700; letter-spacing: .04em; margin-right: 10px; }
#verdict p { margin: 6px 0 0; }
.passed { border-color: #1f8a3b; background: #eaf7ee; } .failed { border-color: #c62828; background: #fdecec; }
.aborted { border-color: #d9730d; background: #fff3e6; } .not-started { border-color: #6b5fb5; background: #f1effa; }
.interrupted { border-color: #b08900; background: #fff8e0; } .completed { border-color: #1f6fb2; background: #e8f1fa; }
.running { border-color: #6c757d; background: #f1f3f5; }
dl.facts { display: grid; grid-template-columns: max-content 1fr max-content 1fr; gap: 2px 14px; margin: 0; }
dl.facts dt { color: #5c6670; } dl.facts dd { margin: 0; overflow-wrap: anywhere; }
.warn { border: 1px solid #b08900; background: #fff8e0; padding: 6px 10px; border-radius: 4px; margin: 8px 0; }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th, td { border-bottom: 1px solid #e3e7eb; padding: 3px 6px; text-align: left; vertical-align: top; }
th { background: #f6f8fa; font-weight: 600; } tbody tr:nth-child(even) { background: #fafbfc; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.bad { color: #b71c1c; font-weight: 600; } td.ok { color: #1f6b33; }
.more { color: #5c6670; font-style: italic; }
.plot { overflow-x: auto; border: 1px solid #e3e7eb; border-radius: 4px; }
svg.timeline { display: block; width: 100%; height: auto; font: 11px system-ui, sans-serif; }
svg .window { fill: #eef1f4; }
svg .lane { stroke: #e3e7eb; } svg .grid { stroke: #eceff2; } svg .grid.base, svg .axis { stroke: #8a939c; }
svg .lane-label { text-anchor: end; font-size: 12px; fill: #1d232a; } svg .lane-label.probe { font-weight: 600; }
svg .lane-note, svg .y-label { fill: #6c757d; font-size: 10px; text-anchor: end; } svg .empty { fill: #6c757d; font-style: italic; }
svg .fault { fill: #5b8def; stroke: #2f5fb3; stroke-width: 1; } svg .fault.kill { fill: #2f3b4c; stroke: none; }
svg .fault.open { fill: #a9c1f5; stroke-dasharray: 4 2; } svg .fault.failed { stroke: #c62828; stroke-width: 2; }
svg .bar-label { fill: #fff; font-size: 10px; pointer-events: none; }
svg .fault-failure, svg .probe-failure { stroke: #c62828; stroke-width: 2; fill: none; }
svg .after-kill { fill: #1f8a3b; }
svg .latency { fill: none; stroke: #1f6fb2; stroke-width: 1.3; }
svg .mark { stroke: #6c757d; stroke-width: 1; } svg .mark.breached { stroke: #c62828; stroke-width: 1.5; stroke-dasharray: 6 3; }
svg .mark.recovery { stroke: #1f8a3b; stroke-dasharray: 1 3; } svg .mark.aborted, svg .mark.interrupted, svg .mark.not-started { stroke: #d9730d; stroke-width: 2; }
svg .mark-label { font-size: 11px; fill: #1d232a; } svg .mark-label.breached { fill: #b71c1c; font-weight: 600; }
svg .tick { stroke: #8a939c; } svg .x-label { text-anchor: middle; fill: #3d454d; } svg .axis-title { text-anchor: middle; fill: #5c6670; }
.legend { color: #5c6670; font-size: 12px; margin: 6px 2px 0; }
details { margin: 4px 0; } summary { cursor: pointer; }
ul.list { margin: 4px 0; padding-left: 20px; font-size: 13px; }
footer { margin-top: 32px; color: #8a939c; font-size: 12px; }
"#;

/// The page.
pub fn render(r: &Report) -> String {
    let v = verdict(r);
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{} — {} — jolt report</title>\n<style>{STYLE}</style>\n</head>\n<body>\n",
        esc(&r.experiment.name),
        v.to_uppercase()
    );
    let _ = writeln!(
        h,
        "<h1>Experiment <code>{}</code></h1>",
        esc(&r.experiment.name)
    );
    let _ = write!(
        h,
        "<div id=\"verdict\" class=\"{v}\"><span class=\"name\">{}</span><span>{}</span>",
        v.to_uppercase(),
        esc(&verdict_says(r))
    );
    if let Some(b) = &r.breach {
        let _ = write!(
            h,
            "<p>First breach: probe <code>{}</code> at {}: {} ({}).</p>",
            esc(&b.probe),
            offset(r, Some(&b.at)),
            esc(&b.message),
            if b.recovered {
                "steady again by the end"
            } else {
                "not steady again by the end"
            }
        );
    }
    h.push_str("</div>\n");
    facts(&mut h, r);
    h.push_str("<h2>Timeline</h2>\n<div class=\"plot\">");
    h.push_str(&super::svg::timeline(r));
    h.push_str("</div>\n<p class=\"legend\">Bars: a fault, from injection to revert (hover for its kind, parameters and times); a thin dark bar: a kill; a dashed bar: never reverted in this timeline; a red outline: its injection or revert failed, or no recovery in time. × in a target's lane: a failed injection or revert; ▲: a killed container seen again. In a probe's lane: the line is each run's latency, × a failed run. Vertical lines: breached (dashed), recovery (dotted), aborted, interrupted, not-started (thick), hypothesis and finished (thin); more than 40 of a kind: short ticks above the lanes. Shaded: the faults' window, which splits before, during and after.</p>\n");
    faults(&mut h, r);
    probes(&mut h, r);
    notes(&mut h, r);
    let _ = write!(
        h,
        "<footer>{} · {} events · chaosctl report</footer>\n</body>\n</html>\n",
        esc(&r.schema),
        r.counts.events
    );
    h
}

fn facts(h: &mut String, r: &Report) {
    let e = &r.experiment;
    let targets = {
        let mut t: Vec<&str> = r.faults.iter().map(|f| f.target.as_str()).collect();
        t.sort_unstable();
        t.dedup();
        t.len()
    };
    let ended = match (&e.ended, &e.reason) {
        (Some(at), Some(why)) => format!("{at} ({why})"),
        (Some(at), None) => at.clone(),
        (None, _) => "still running".into(),
    };
    let rows = [
        ("fault", e.fault.clone()),
        ("phase", e.phase.name().to_string()),
        (
            "injections",
            format!(
                "{} on {targets} targets, {} failed, {} skipped",
                r.counts.injected, r.counts.failed, r.counts.skipped
            ),
        ),
        ("plan", e.plan.clone().unwrap_or_else(|| "-".into())),
        ("start", e.start.clone()),
        ("ended", ended),
        ("length", e.length.clone()),
        ("seed", e.seed.to_string()),
        ("origin", e.origin.clone()),
        ("description", e.description.clone().unwrap_or_default()),
    ];
    h.push_str("<dl class=\"facts\">");
    for (k, v) in rows {
        let _ = write!(h, "<dt>{k}</dt><dd>{}</dd>", esc(&v));
    }
    h.push_str("</dl>\n");
    if let Some(why) = &e.text_error {
        let _ = writeln!(
            h,
            "<p class=\"warn\">The experiment's text no longer parses, so the probes' checks and the hypothesis are not shown: {}</p>",
            esc(why)
        );
    }
    if r.counts.damaged > 0 {
        let _ = writeln!(
            h,
            "<p class=\"warn\">{} of the timeline {} not parse; listed at the end.</p>",
            count(r.counts.damaged as usize, "line"),
            if r.counts.damaged == 1 { "does" } else { "do" }
        );
    }
}

fn faults(h: &mut String, r: &Report) {
    let _ = writeln!(
        h,
        "<h2>Faults ({})</h2>\n<p>Each an injection of <code>{}</code>; times from the start.</p>",
        r.faults.len(),
        esc(&r.experiment.fault)
    );
    if r.faults.is_empty() {
        h.push_str("<p>No fault was injected.</p>\n");
        return;
    }
    h.push_str("<table class=\"faults\"><thead><tr><th class=\"n\">#</th><th>target</th><th class=\"n\">scheduled</th><th class=\"n\">injected</th><th class=\"n\">late</th><th class=\"n\">reverted</th><th class=\"n\">revert late</th><th class=\"n\">recovered in</th><th>outcome</th></tr></thead><tbody>\n");
    for (i, f) in r.faults.iter().take(MAX_ROWS).enumerate() {
        let outcome = outcome(r, f);
        let class = if went_wrong(r, f) { "bad" } else { "ok" };
        let _ = writeln!(
            h,
            "<tr><td class=\"n\">{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"{class}\">{}</td></tr>",
            i + 1,
            esc(&f.target),
            offset(r, f.scheduled.as_deref()),
            offset(r, f.injected.as_deref()),
            duration(f.late_ms),
            offset(r, f.reverted.as_deref()),
            duration(f.revert_late_ms),
            duration(f.recover_ms),
            esc(&outcome)
        );
    }
    h.push_str("</tbody></table>\n");
    if r.faults.len() > MAX_ROWS {
        let _ = writeln!(
            h,
            "<p class=\"more\">… and {} more (chaosctl report -o json has them all).</p>",
            r.faults.len() - MAX_ROWS
        );
    }
}

fn probes(h: &mut String, r: &Report) {
    let _ = writeln!(h, "<h2>Probes ({})</h2>", r.probes.len());
    if let Some(hy) = &r.hypothesis {
        let before = match hy.before_ms {
            Some(_) => format!(
                "Steady for {} before the first fault",
                duration(hy.before_ms)
            ),
            None => "No wait for steady state before the first fault".to_string(),
        };
        let after = match hy.recover_within_ms {
            Some(_) => format!(
                "every probe passing again within {} after each fault",
                duration(hy.recover_within_ms)
            ),
            None => "no time set for recovery after a fault".to_string(),
        };
        let _ = writeln!(
            h,
            "<p>{before}; breaches during the faults {}; {after}; on a breach: {}.</p>",
            if hy.during {
                "fail the run"
            } else {
                "are only recorded"
            },
            hy.on_breach.name()
        );
    }
    if r.probes.is_empty() {
        h.push_str("<p>No probes: the experiment states no hypothesis.</p>\n");
        return;
    }
    h.push_str("<table class=\"probes\"><thead><tr><th rowspan=\"2\">probe</th><th rowspan=\"2\">check</th><th colspan=\"3\">before the faults</th><th colspan=\"3\">during</th><th colspan=\"3\">after</th></tr><tr>");
    for _ in 0..3 {
        h.push_str("<th class=\"n\">success</th><th class=\"n\">p50</th><th class=\"n\">p99</th>");
    }
    h.push_str("</tr></thead><tbody>\n");
    for p in &r.probes {
        let check = [p.check.as_deref(), p.tolerance.as_deref()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join("; tolerates ");
        let _ = write!(
            h,
            "<tr><td><strong>{}</strong></td><td>{}</td>",
            esc(&p.name),
            esc(&check)
        );
        for s in [&p.before, &p.during, &p.after] {
            stats_cells(h, s);
        }
        h.push_str("</tr>\n");
    }
    h.push_str("</tbody></table>\n");
    for p in &r.probes {
        if p.failures.is_empty() && p.breaches.is_empty() {
            continue;
        }
        let _ = write!(
            h,
            "<details><summary><strong>{}</strong>: {}, {}, steady again {}</summary><ul class=\"list\">",
            esc(&p.name),
            count(p.failures.len(), "failed run"),
            count(p.breaches.len(), "breach"),
            count(p.steady.len(), "time")
        );
        for b in &p.breaches {
            let _ = write!(
                h,
                "<li>{} breached: {}</li>",
                offset(r, Some(&b.at)),
                esc(b.message.as_deref().unwrap_or(""))
            );
        }
        for f in p.failures.iter().take(MAX_LISTED) {
            let _ = write!(
                h,
                "<li>{} failed ({}): {}</li>",
                offset(r, Some(&f.at)),
                duration(f.latency_ms),
                esc(f.message.as_deref().unwrap_or(""))
            );
        }
        if p.failures.len() > MAX_LISTED {
            let _ = write!(
                h,
                "<li class=\"more\">… and {} more failed runs</li>",
                p.failures.len() - MAX_LISTED
            );
        }
        h.push_str("</ul></details>\n");
    }
}

fn stats_cells(h: &mut String, s: &Stats) {
    let bad = s.failures > 0;
    let _ = write!(
        h,
        "<td class=\"n{}\" title=\"{} of {} runs failed\">{} <span class=\"more\">({})</span></td><td class=\"n\">{}</td><td class=\"n\">{}</td>",
        if bad { " bad" } else { "" },
        s.failures,
        s.results,
        rate(s.success_rate),
        s.results,
        duration(s.p50_ms),
        duration(s.p99_ms)
    );
}

fn notes(h: &mut String, r: &Report) {
    let marks: Vec<_> = r.marks.iter().filter(|m| m.kind != "recovery").collect();
    if !marks.is_empty() {
        h.push_str("<h2>Marks</h2>\n<table class=\"marks\"><thead><tr><th class=\"n\">at</th><th>what</th><th>about</th><th>message</th></tr></thead><tbody>\n");
        for m in marks.iter().take(MAX_LISTED * 5) {
            let about = [m.probe.as_deref(), m.target.as_deref()]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(", ");
            let _ = writeln!(
                h,
                "<tr><td class=\"n\">{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                offset(r, Some(&m.at)),
                esc(&m.kind),
                esc(&about),
                esc(m.message.as_deref().unwrap_or(""))
            );
        }
        h.push_str("</tbody></table>\n");
    }
    if !r.damaged.is_empty() {
        h.push_str("<h2>Damaged lines of the timeline</h2>\n<ul class=\"list\">");
        for d in &r.damaged {
            let _ = write!(h, "<li><code>{}</code></li>", esc(d));
        }
        h.push_str("</ul>\n");
    }
}

/// `3 failed runs`, `1 breach`.
fn count(n: usize, what: &str) -> String {
    match (n, what.ends_with("ch")) {
        (1, _) => format!("1 {what}"),
        (_, true) => format!("{n} {what}es"),
        _ => format!("{n} {what}s"),
    }
}
