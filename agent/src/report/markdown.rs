//! markdown: the report as a short summary for a pull-request comment:
//! the verdict (a word in brackets, no emoji), the fault, a table of the
//! probes before, during and after, and a table of at most 20 faults
//! (those that went wrong first) with a count of the rest, so that a long
//! experiment stays about 40 lines. Text from the experiment or its
//! events is escaped: it cannot make markup, links or HTML.

use std::fmt::Write;

use super::format::{duration, offset, outcome, rate, verdict, verdict_says, went_wrong};
use super::{Report, Stats};

/// The most fault and probe rows shown.
const MAX_FAULTS: usize = 20;
const MAX_PROBES: usize = 6;

pub fn render(r: &Report) -> String {
    let e = &r.experiment;
    let mut m = String::new();
    let _ = writeln!(
        m,
        "### Chaos experiment {}: **[{}]**\n",
        md(&e.name),
        verdict(r).to_uppercase()
    );
    let mut says = md(&verdict_says(r));
    if let Some(b) = &r.breach {
        let _ = write!(
            says,
            " First breach: probe {} at {}: {}.",
            md(&b.probe),
            offset(r, Some(&b.at)),
            md(&b.message)
        );
    }
    let _ = writeln!(m, "{says}\n");
    let targets = {
        let mut t: Vec<&str> = r.faults.iter().map(|f| f.target.as_str()).collect();
        t.sort_unstable();
        t.dedup();
        t.len()
    };
    let _ = writeln!(
        m,
        "Fault {}: {} injected on {targets} targets, {} failed, {} skipped; seed {}; started {}, {}.\n",
        md(&e.fault),
        r.counts.injected,
        r.counts.failed,
        r.counts.skipped,
        e.seed,
        md(&e.start),
        md(&e.length)
    );
    if let Some(why) = &e.text_error {
        let _ = writeln!(m, "The experiment's text no longer parses: {}\n", md(why));
    }
    if r.counts.damaged > 0 {
        let (n, lines) = match r.counts.damaged {
            1 => (1, "line of the timeline does"),
            n => (n, "lines of the timeline do"),
        };
        let _ = writeln!(m, "{n} {lines} not parse.\n");
    }
    probes(&mut m, r);
    faults(&mut m, r);
    m
}

fn probes(m: &mut String, r: &Report) {
    if r.probes.is_empty() {
        return;
    }
    m.push_str("| probe | before | during | after | breaches |\n|---|---|---|---|---|\n");
    let cell = |s: &Stats| format!("{} p99 {}", rate(s.success_rate), duration(s.p99_ms));
    for p in r.probes.iter().take(MAX_PROBES) {
        let _ = writeln!(
            m,
            "| {} | {} | {} | {} | {} |",
            md(&p.name),
            cell(&p.before),
            cell(&p.during),
            cell(&p.after),
            p.breaches.len()
        );
    }
    if r.probes.len() > MAX_PROBES {
        let _ = writeln!(
            m,
            "| and {} more probes | | | | |",
            r.probes.len() - MAX_PROBES
        );
    }
    m.push('\n');
}

fn faults(m: &mut String, r: &Report) {
    if r.faults.is_empty() {
        m.push_str("No fault was injected.\n");
        return;
    }
    // Those that went wrong first, then the rest, shown in order.
    let failed: Vec<usize> = (0..r.faults.len())
        .filter(|&i| went_wrong(r, &r.faults[i]))
        .collect();
    let mut shown: Vec<usize> = failed.iter().copied().take(MAX_FAULTS).collect();
    shown.extend(
        (0..r.faults.len())
            .filter(|&i| !went_wrong(r, &r.faults[i]))
            .take(MAX_FAULTS - shown.len()),
    );
    shown.sort_unstable();
    m.push_str("| # | target | injected | late | reverted | recovered in | outcome |\n|---|---|---|---|---|---|---|\n");
    for i in &shown {
        let f = &r.faults[*i];
        let _ = writeln!(
            m,
            "| {} | {} | {} | {} | {} | {} | {} |",
            i + 1,
            md(&f.target),
            offset(r, f.injected.as_deref()),
            duration(f.late_ms),
            offset(r, f.reverted.as_deref()),
            duration(f.recover_ms),
            md(&outcome(r, f))
        );
    }
    if r.faults.len() > shown.len() {
        let _ = writeln!(
            m,
            "| | and {} more ({} went wrong in all; chaosctl report {} -o json) | | | | | |",
            r.faults.len() - shown.len(),
            failed.len(),
            md(&r.experiment.name)
        );
    }
}

/// `s` as plain text in Markdown (and in a table cell): one line, the
/// characters that make markup escaped, HTML as entities.
fn md(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\\' | '`' | '*' | '_' | '[' | ']' | '|' | '#' | '~' | '!' => {
                out.push('\\');
                out.push(c);
            }
            '\n' | '\r' | '\t' => out.push(' '),
            c if c.is_control() => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}
