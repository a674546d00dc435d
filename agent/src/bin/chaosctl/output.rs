//! output: how chaosctl shows records: aligned tables for people, JSON
//! for scripts; and what `-o` may ask for (`report` alone writes html,
//! markdown and junit).

use std::time::SystemTime;

use jolt_agent::container::{Listed, Record};

/// How a subcommand prints: a table (or lines) for people, JSON for
/// scripts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Table,
    Json,
}

/// What `-o` asks for: table or json, which every subcommand prints, or
/// html, markdown or junit, which only `report` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Requested {
    Table,
    Json,
    Html,
    Markdown,
    Junit,
}

impl Requested {
    /// The format a subcommand other than `report` prints in; for html,
    /// markdown and junit, the usage error that says so.
    pub fn plain(self) -> Result<Format, String> {
        let only = |name: &str| {
            format!("-o {name}: only chaosctl report writes {name}; use table or json")
        };
        match self {
            Requested::Table => Ok(Format::Table),
            Requested::Json => Ok(Format::Json),
            Requested::Html => Err(only("html")),
            Requested::Markdown => Err(only("markdown")),
            Requested::Junit => Err(only("junit")),
        }
    }
}

/// Prints `value` as pretty JSON.
/// Runs `one` for each of `names` in turn, as Docker's commands that take
/// several containers do: a failure is printed on stderr, naming the
/// container, and the others go on. The exit status: 1 if any failed.
pub async fn each<'a, F, Fut>(names: &'a [String], mut one: F) -> u8
where
    F: FnMut(&'a str) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    let mut status = 0;
    for name in names {
        if let Err(e) = one(name).await {
            let msg = crate::one_line(&e);
            match msg.contains(name.as_str()) {
                true => eprintln!("chaosctl: {msg}"),
                false => eprintln!("chaosctl: {name}: {msg}"),
            }
            status = 1;
        }
    }
    status
}

pub fn json(value: &impl serde::Serialize) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).expect("records serialize")
    );
}

/// Prints rows under a header, each column as wide as its widest cell.
pub fn table(header: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let last = cells.len() - 1;
        let mut out = String::new();
        for (i, (cell, w)) in cells.iter().zip(&widths).enumerate() {
            if i == last {
                out.push_str(cell);
            } else {
                out.push_str(&format!("{cell:<w$}   "));
            }
        }
        println!("{}", out.trim_end());
    };
    line(header.to_vec());
    for row in rows {
        line(row.iter().map(String::as_str).collect());
    }
}

/// The ps row of a record.
pub fn row(listed: &Listed) -> Vec<String> {
    let r = &listed.record;
    let mut status = match (&r.status.state, &r.status.last_exit) {
        (jolt_agent::container::State::Exited, Some(x)) => format!("exited ({})", x.code),
        (state, _) => state.to_string(),
    };
    for f in &listed.faults {
        status.push_str(&format!("; {}", f.summary()));
    }
    let command = match (r.spec.command.is_empty(), &r.spec.image) {
        (false, _) => r.spec.command.join(" "),
        (true, Some(_)) => "(image's)".to_string(),
        (true, None) => "(bundle's)".to_string(),
    };
    let image = match (&r.spec.image, &r.spec.bundle) {
        (Some(i), _) => i.reference.clone(),
        (None, Some(b)) => b.display().to_string(),
        (None, None) => "(busybox)".to_string(),
    };
    vec![
        r.id.clone(),
        r.spec.name.clone(),
        image,
        status,
        r.status.pid.map_or("-".into(), |p| p.to_string()),
        address(r),
        ports(r),
        r.status.restart_count.to_string(),
        ago(r.status.started.as_deref()),
        command,
    ]
}

pub const HEADER: &[&str] = &[
    "ID", "NAME", "IMAGE", "STATUS", "PID", "ADDRESS", "PORTS", "RESTARTS", "STARTED", "COMMAND",
];

/// The container's address, "-" before it has one.
pub fn address(r: &Record) -> String {
    r.status.address.map_or("-".into(), |a| a.to_string())
}

/// The published ports as `HOSTPORT->CTRPORT/PROTO`, comma-separated.
pub fn ports(r: &Record) -> String {
    if r.spec.ports.is_empty() {
        return "-".into();
    }
    r.spec
        .ports
        .iter()
        .map(|p| {
            let ip = p.host_ip.map_or(String::new(), |ip| format!("{ip}:"));
            format!(
                "{ip}{}->{}/{}",
                p.host_port,
                p.container_port,
                p.protocol.name()
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// `1.5MiB`, `312KiB`, `80B`.
pub fn bytes(n: u64) -> String {
    match n {
        n if n >= 1 << 30 => format!("{:.2}GiB", n as f64 / (1u64 << 30) as f64),
        n if n >= 1 << 20 => format!("{:.1}MiB", n as f64 / (1u64 << 20) as f64),
        n if n >= 1 << 10 => format!("{:.1}KiB", n as f64 / 1024.0),
        n => format!("{n}B"),
    }
}

/// "12s ago" for an RFC 3339 time, "-" when there is none.
pub fn ago(time: Option<&str>) -> String {
    let Some(t) = time.and_then(|t| humantime::parse_rfc3339(t).ok()) else {
        return "-".into();
    };
    let secs = SystemTime::now()
        .duration_since(t)
        .unwrap_or_default()
        .as_secs();
    match secs {
        0..60 => format!("{secs}s ago"),
        60..3600 => format!("{}m ago", secs / 60),
        3600..86400 => format!("{}h ago", secs / 3600),
        _ => format!("{}d ago", secs / 86400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_are_short() {
        assert_eq!(ago(None), "-");
        assert_eq!(ago(Some("not a time")), "-");
        let t = SystemTime::now() - std::time::Duration::from_secs(125);
        let t = humantime::format_rfc3339(t).to_string();
        assert_eq!(ago(Some(&t)), "2m ago");
    }
}
