//! The timeline plot of the HTML report, as inline SVG: x is time from
//! the start; one lane per target with each fault as a bar (a kill a
//! narrow one), a lane per probe with its latency as a line and failed
//! runs as crosses, and vertical lines where the run was breached,
//! recovered, aborted or interrupted. Hover text is SVG `<title>`, so no
//! script is needed; shapes and dash patterns carry the meaning, colour
//! only helps.

use std::fmt::Write;

use super::format::{duration, esc, offset, zero};
use super::{unix_ms, FaultRun, Mark, ProbeRun, Report};

const WIDTH: f64 = 1180.0;
const LEFT: f64 = 160.0;
const RIGHT: f64 = 20.0;
/// Room above the lanes for the marks' labels.
const TOP: f64 = 40.0;
const LANE: f64 = 24.0;
const PROBE_LANE: f64 = 90.0;
const AXIS: f64 = 40.0;
/// Targets beyond this share the last lane.
const MAX_LANES: usize = 30;
/// Marks of one kind beyond this are drawn as ticks above the lanes, not
/// as lines across them.
const MAX_MARK_LINES: usize = 40;
/// Marks drawn as lines across the plot.
const LINES: [&str; 7] = [
    "hypothesis",
    "not-started",
    "breached",
    "recovery",
    "aborted",
    "interrupted",
    "finished",
];

/// Where times go on the x axis.
struct Scale {
    zero: f64,
    from: f64,
    to: f64,
}

impl Scale {
    fn of(r: &Report) -> Scale {
        let zero = zero(r);
        let span = r.span.as_ref();
        let from = span
            .and_then(|s| unix_ms(&s.from))
            .unwrap_or(zero)
            .min(zero);
        let to = span.and_then(|s| unix_ms(&s.to)).unwrap_or(from);
        Scale {
            zero,
            from,
            to: to.max(from + 1000.0),
        }
    }

    fn x(&self, t: f64) -> f64 {
        let w = WIDTH - LEFT - RIGHT;
        LEFT + ((t - self.from) / (self.to - self.from)).clamp(0.0, 1.0) * w
    }

    fn at(&self, at: Option<&str>) -> Option<f64> {
        at.and_then(unix_ms).map(|t| self.x(t))
    }
}

/// The plot, as an `<svg>` element.
pub fn timeline(r: &Report) -> String {
    let s = Scale::of(r);
    let targets = lanes(r);
    let lane_count = targets.len().min(MAX_LANES);
    let probes_top = TOP + lane_count as f64 * LANE + 8.0;
    let bottom = probes_top + r.probes.len() as f64 * PROBE_LANE;
    let height = bottom + AXIS;
    let mut o = String::new();
    let _ = write!(
        o,
        r#"<svg class="timeline" viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" role="img" aria-label="timeline of experiment {}">"#,
        esc(&r.experiment.name)
    );
    if let Some(w) = &r.during {
        if let (Some(a), Some(b)) = (s.at(Some(&w.from)), s.at(Some(&w.to))) {
            let _ = write!(
                o,
                r#"<rect class="window" x="{a:.1}" y="{TOP}" width="{:.1}" height="{:.1}"><title>the faults' window: {} to {}</title></rect>"#,
                (b - a).max(1.0),
                bottom - TOP,
                offset(r, Some(&w.from)),
                offset(r, Some(&w.to))
            );
        }
    }
    for (i, name) in targets.iter().take(lane_count).enumerate() {
        let y = TOP + i as f64 * LANE;
        let label = match (i + 1 == lane_count, targets.len() > lane_count) {
            (true, true) => format!("{} other targets", targets.len() - i),
            _ => name.clone(),
        };
        lane_label(&mut o, &label, y + LANE / 2.0, "target");
        let _ = write!(
            o,
            r#"<line class="lane" x1="{LEFT}" x2="{}" y1="{:.1}" y2="{:.1}"/>"#,
            WIDTH - RIGHT,
            y + LANE,
            y + LANE
        );
    }
    for f in &r.faults {
        let i = targets.iter().position(|t| *t == f.target).unwrap_or(0);
        fault(&mut o, r, &s, f, TOP + i.min(lane_count - 1) as f64 * LANE);
    }
    for (i, p) in r.probes.iter().enumerate() {
        probe(&mut o, r, &s, p, probes_top + i as f64 * PROBE_LANE);
    }
    marks(&mut o, r, &s, bottom);
    axis(&mut o, &s, bottom, &r.experiment.start);
    o.push_str("</svg>");
    o
}

/// The targets, in the order their first fault came.
fn lanes(r: &Report) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for f in &r.faults {
        if !names.contains(&f.target) {
            names.push(f.target.clone());
        }
    }
    if names.is_empty() {
        names.push("(no fault)".into());
    }
    names
}

fn lane_label(o: &mut String, label: &str, y: f64, class: &str) {
    let short: String = label.chars().take(22).collect();
    let short = if short.len() < label.len() {
        format!("{short}…")
    } else {
        short
    };
    let _ = write!(
        o,
        r#"<text class="lane-label {class}" x="{:.1}" y="{:.1}"><title>{}</title>{}</text>"#,
        LEFT - 8.0,
        y + 4.0,
        esc(label),
        esc(&short)
    );
}

/// One fault's bar, and crosses for what failed.
fn fault(o: &mut String, r: &Report, s: &Scale, f: &FaultRun, y: f64) {
    let end_of_plot = s.x(s.to);
    if let Some(x1) = s.at(f.injected.as_deref()) {
        let (x, w, shape) = match (&f.reverted, f.kind.as_str()) {
            (_, "kill") => (x1 - 1.5, 3.0, "kill"),
            (Some(_), _) => {
                let x2 = s.at(f.reverted.as_deref()).unwrap_or(x1);
                (x1, (x2 - x1).max(2.0), "reverted")
            }
            (None, _) => (x1, (end_of_plot - x1).max(2.0), "open"),
        };
        let failed = if super::format::went_wrong(r, f) {
            " failed"
        } else {
            ""
        };
        let mut title = format!(
            "{} on {}\nscheduled {}, injected {} ({} late)",
            f.fault,
            f.target,
            offset(r, f.scheduled.as_deref()),
            offset(r, f.injected.as_deref()),
            duration(f.late_ms)
        );
        match (&f.reverted, shape) {
            (Some(at), _) => {
                let _ = write!(
                    title,
                    "\nreverted {} ({} late)",
                    offset(r, Some(at)),
                    duration(f.revert_late_ms)
                );
            }
            (None, "open") => title.push_str("\nnever reverted in this timeline"),
            _ => {}
        }
        if let Some(ms) = f.recover_ms {
            let _ = write!(
                title,
                "\nevery probe passed again {} after",
                duration(Some(ms))
            );
        }
        let outcome = super::format::outcome(r, f);
        if outcome != "ok" {
            let _ = write!(title, "\n{outcome}");
        }
        let _ = write!(
            o,
            r#"<rect class="fault {shape} kind-{}{failed}" x="{x:.1}" y="{:.1}" width="{w:.1}" height="{:.1}"><title>{}</title></rect>"#,
            esc(&f.kind),
            y + 4.0,
            LANE - 8.0,
            esc(&title)
        );
        if w > 8.0 * f.kind.len() as f64 + 8.0 {
            let _ = write!(
                o,
                r#"<text class="bar-label" x="{:.1}" y="{:.1}">{}</text>"#,
                x + 4.0,
                y + LANE / 2.0 + 4.0,
                esc(&f.kind)
            );
        }
    }
    for n in &f.failures {
        if let Some(x) = s.at(Some(&n.at)) {
            let what = if f.injected.is_none() {
                "injection failed"
            } else {
                "revert failed"
            };
            let title = format!(
                "{what} on {} at {}: {}",
                f.target,
                offset(r, Some(&n.at)),
                n.message.as_deref().unwrap_or("")
            );
            cross(o, x, y + LANE / 2.0, "fault-failure", &title);
        }
    }
    if let Some(k) = &f.after_kill {
        if let Some(x) = s.at(Some(&k.at)) {
            let title = format!(
                "{} {} at {}: {}",
                f.target,
                k.event,
                offset(r, Some(&k.at)),
                k.message.as_deref().unwrap_or("")
            );
            let _ = write!(
                o,
                r#"<path class="after-kill" d="M{x:.1},{:.1}l4,7h-8z"><title>{}</title></path>"#,
                y + 5.0,
                esc(&title)
            );
        }
    }
}

/// An ×, with its hover text.
fn cross(o: &mut String, x: f64, y: f64, class: &str, title: &str) {
    let _ = write!(
        o,
        r#"<path class="{class}" d="M{:.1},{:.1}l7,7m0,-7l-7,7"><title>{}</title></path>"#,
        x - 3.5,
        y - 3.5,
        esc(title)
    );
}

/// A probe's lane: its latency as a line (the slowest run per pixel, so
/// that no spike hides), failed runs as crosses, the scale in ms.
fn probe(o: &mut String, r: &Report, s: &Scale, p: &ProbeRun, top: f64) {
    let (plot_top, plot_bottom) = (top + 10.0, top + PROBE_LANE - 16.0);
    lane_label(o, &p.name, top + PROBE_LANE / 2.0 - 8.0, "probe");
    let _ = write!(
        o,
        r#"<text class="lane-note" x="{:.1}" y="{:.1}">latency, ms</text>"#,
        LEFT - 8.0,
        top + PROBE_LANE / 2.0 + 8.0
    );
    let max = nice(p.series.iter().map(|q| q[1]).fold(0.0, f64::max));
    let y = |ms: f64| plot_bottom - (ms / max).clamp(0.0, 1.0) * (plot_bottom - plot_top);
    for (ms, class) in [(0.0, "grid base"), (max / 2.0, "grid"), (max, "grid")] {
        let _ = write!(
            o,
            r#"<line class="{class}" x1="{LEFT}" x2="{}" y1="{:.1}" y2="{:.1}"/>"#,
            WIDTH - RIGHT,
            y(ms),
            y(ms)
        );
    }
    for ms in [0.0, max] {
        let _ = write!(
            o,
            r#"<text class="y-label" x="{:.1}" y="{:.1}">{}</text>"#,
            LEFT - 4.0,
            y(ms) + 3.0,
            trim(ms)
        );
    }
    if p.series.is_empty() {
        let _ = write!(
            o,
            r#"<text class="empty" x="{:.1}" y="{:.1}">no results</text>"#,
            LEFT + 40.0,
            plot_bottom - 20.0
        );
    }
    let mut columns: Vec<(i64, f64)> = Vec::new();
    for q in &p.series {
        let px = s.x(q[0]).round() as i64;
        match columns.last_mut() {
            Some((c, worst)) if *c == px => *worst = worst.max(q[1]),
            _ => columns.push((px, q[1])),
        }
    }
    if !columns.is_empty() {
        let points: Vec<String> = columns
            .iter()
            .map(|(x, ms)| format!("{x},{:.1}", y(*ms)))
            .collect();
        let _ = write!(
            o,
            r#"<polyline class="latency" points="{}"><title>{}: latency of each run (slowest per pixel)</title></polyline>"#,
            points.join(" "),
            esc(&p.name)
        );
    }
    // Failed runs: from their events (with why), else from the series.
    let mut failed: Vec<(f64, String)> = p
        .failures
        .iter()
        .filter_map(|f| {
            let t = unix_ms(&f.at)?;
            let title = format!(
                "{} failed at {} ({}): {}",
                p.name,
                offset(r, Some(&f.at)),
                duration(f.latency_ms),
                f.message.as_deref().unwrap_or("")
            );
            Some((t, title))
        })
        .collect();
    if failed.is_empty() {
        failed = p
            .series
            .iter()
            .filter(|q| q[2] == 0.0)
            .map(|q| {
                let at = super::rfc3339(q[0]);
                let title = format!(
                    "{} failed at {} ({})",
                    p.name,
                    offset(r, Some(&at)),
                    duration(Some(q[1]))
                );
                (q[0], title)
            })
            .collect();
    }
    failed.sort_by(|a, b| a.0.total_cmp(&b.0));
    // Runs closer than 3 px share a cross.
    let mut groups: Vec<(f64, usize, String)> = Vec::new();
    for (t, title) in failed {
        let x = s.x(t);
        match groups.last_mut() {
            Some((first, n, last)) if x - *first < 3.0 => {
                *n += 1;
                *last = title;
            }
            _ => groups.push((x, 1, title)),
        }
    }
    for (x, n, title) in groups {
        let title = match n {
            1 => title,
            n => format!("{n} failed runs here; the last: {title}"),
        };
        cross(o, x, plot_bottom + 8.0, "probe-failure", &title);
    }
}

/// The marks as vertical lines, labelled at the top.
fn marks(o: &mut String, r: &Report, s: &Scale, bottom: f64) {
    let mut last_x = f64::NEG_INFINITY;
    let mut row = 0;
    let lines: Vec<&Mark> = r
        .marks
        .iter()
        .filter(|m| LINES.contains(&m.kind.as_str()))
        .collect();
    let many = |kind: &str| lines.iter().filter(|m| m.kind == kind).count() > MAX_MARK_LINES;
    let dense: Vec<&str> = LINES.into_iter().filter(|k| many(k)).collect();
    // The last tick drawn of each dense kind, so that one pixel gets one.
    let mut ticked: Vec<(&str, f64)> = Vec::new();
    for m in lines {
        let Some(x) = s.at(Some(&m.at)) else { continue };
        let is_dense = dense.contains(&m.kind.as_str());
        if is_dense {
            match ticked.iter_mut().find(|(k, _)| *k == m.kind) {
                Some((_, last)) if x - *last < 2.0 => continue,
                Some((_, last)) => *last = x,
                None => ticked.push((m.kind.as_str(), x)),
            }
        }
        let about = [m.probe.as_deref(), m.target.as_deref()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(", ");
        let title = format!(
            "{}{} at {}: {}",
            m.kind,
            if about.is_empty() {
                String::new()
            } else {
                format!(" ({about})")
            },
            offset(r, Some(&m.at)),
            m.message.as_deref().unwrap_or("")
        );
        // Too many of a kind to draw across: short ticks above the lanes.
        let (y1, y2) = match is_dense {
            true => (TOP - 9.0, TOP - 2.0),
            false => (TOP - 4.0, bottom),
        };
        let _ = write!(
            o,
            r#"<line class="mark {}" x1="{x:.1}" x2="{x:.1}" y1="{y1:.1}" y2="{y2:.1}"><title>{}</title></line>"#,
            esc(&m.kind),
            esc(&title)
        );
        if is_dense {
            continue;
        }
        if m.kind == "recovery" {
            continue;
        }
        row = if x - last_x < 90.0 { (row + 1) % 2 } else { 0 };
        last_x = x;
        let label = match &m.probe {
            Some(p) => format!("{} {p}", m.kind),
            None => m.kind.clone(),
        };
        let anchor = if x > WIDTH - RIGHT - 80.0 {
            "end"
        } else {
            "start"
        };
        let _ = write!(
            o,
            r#"<text class="mark-label {}" x="{:.1}" y="{:.1}" text-anchor="{anchor}"><title>{}</title>{}</text>"#,
            esc(&m.kind),
            if anchor == "end" { x - 3.0 } else { x + 3.0 },
            13.0 + row as f64 * 13.0,
            esc(&title),
            esc(&label.chars().take(28).collect::<String>())
        );
    }
}

/// Ticks in seconds (or minutes, hours) from the start.
fn axis(o: &mut String, s: &Scale, bottom: f64, start: &str) {
    let _ = write!(
        o,
        r#"<line class="axis" x1="{LEFT}" x2="{}" y1="{bottom:.1}" y2="{bottom:.1}"/>"#,
        WIDTH - RIGHT
    );
    let span = (s.to - s.from) / 1e3;
    let step = [
        1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1800.0, 3600.0, 7200.0,
        14400.0, 21600.0, 43200.0, 86400.0,
    ]
    .into_iter()
    .find(|step| span / step <= 12.0)
    .unwrap_or(span / 10.0);
    let first = ((s.from - s.zero) / 1e3 / step).ceil() * step;
    let mut t = first;
    while t * 1e3 + s.zero <= s.to {
        let x = s.x(s.zero + t * 1e3);
        let label = match step {
            st if st >= 3600.0 => format!("{}h", trim(t / 3600.0)),
            st if st >= 60.0 => format!("{}m", trim(t / 60.0)),
            _ => format!("{}s", trim(t)),
        };
        let _ = write!(
            o,
            r#"<line class="tick" x1="{x:.1}" x2="{x:.1}" y1="{bottom:.1}" y2="{:.1}"/><text class="x-label" x="{x:.1}" y="{:.1}">{label}</text>"#,
            bottom + 5.0,
            bottom + 18.0
        );
        t += step;
    }
    let _ = write!(
        o,
        r#"<text class="axis-title" x="{:.1}" y="{:.1}">time from the start ({})</text>"#,
        LEFT + (WIDTH - LEFT - RIGHT) / 2.0,
        bottom + 34.0,
        esc(start)
    );
}

/// A round number at least `v`: 1, 2 or 5 times a power of ten.
fn nice(v: f64) -> f64 {
    if v <= 0.0 || !v.is_finite() {
        return 1.0;
    }
    let p = 10f64.powf(v.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * p)
        .find(|n| *n >= v)
        .unwrap_or(10.0 * p)
}

/// A number without trailing zeros: `5`, `2.5`.
fn trim(v: f64) -> String {
    let s = format!("{v:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}
