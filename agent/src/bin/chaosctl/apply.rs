//! `chaosctl apply`: start an experiment from a file, or plan it; with
//! `--wait`, follow it to its verdict. The file must be UTF-8 text without
//! control characters (a byte order mark is dropped); joltd parses and
//! validates it.

use std::io::{IsTerminal, Read, Write};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};
use hyper::Method;
use jolt_agent::client::{segment, Client, ClientError};
use jolt_chaos::text;
use serde_json::{json, Value};

use crate::experiment::{print_status, progress_lines};
use crate::output::{self, Format};

/// The exit status of a usage or validation error.
pub const USAGE: u8 = 2;
/// How often `--wait` asks joltd how the experiment stands.
const POLL: Duration = Duration::from_millis(200);
/// How long `--wait` waits for a joltd that stopped answering.
const RECONNECT: Duration = Duration::from_secs(60);

/// Validate an experiment (YAML or JSON) and start it; with --dry-run,
/// print the planned fire times and targets and change nothing; with
/// --wait, follow it to its verdict (exit 0 passed or completed, 1 failed,
/// 3 aborted, not-started or interrupted, 2 a usage or validation error)
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The experiment file ("-" for stdin)
    #[arg(long, short = 'f')]
    file: PathBuf,
    /// Plan only: the fire times and the containers each would hit (the
    /// same seed and start give the same plan)
    #[arg(long)]
    dry_run: bool,
    /// The start a dry run plans from (RFC 3339; default: now)
    #[arg(long, requires = "dry_run")]
    start: Option<String>,
    /// How many fires a dry run lists (default 1000, at most 10000); it
    /// counts the rest
    #[arg(long, requires = "dry_run")]
    limit: Option<usize>,
    /// Block until the experiment has a verdict, showing its progress
    /// (live on a terminal, a line per change otherwise); the exit status
    /// is the verdict's
    #[arg(long, conflicts_with = "dry_run")]
    wait: bool,
}

pub async fn exec(client: &Client, fmt: Format, a: &Args) -> Result<u8> {
    // With --wait a file that cannot be read or is refused is a usage
    // error for the pipeline (2); without, an error like any other (1).
    let usage = |e: anyhow::Error| -> Result<u8> {
        match a.wait {
            true => {
                eprintln!("chaosctl: {}", crate::one_line(&e));
                Ok(USAGE)
            }
            false => Err(e),
        }
    };
    let (origin, text) = match read(&a.file) {
        Ok(read) => read,
        Err(e) => return usage(e),
    };
    let body = json!({
        "text": text,
        "origin": origin,
        "dry_run": a.dry_run,
        "start": a.start,
        "limit": a.limit,
    });
    let answer: Value = match client
        .call(Method::POST, "/v1/experiments", Some(&body))
        .await
    {
        Ok(v) => v,
        Err(
            e @ ClientError::Refused {
                status: 400 | 422, ..
            },
        ) => return usage(e.into()),
        Err(e) => return Err(e.into()),
    };
    if a.wait {
        let name = answer["name"].as_str().unwrap_or_default().to_string();
        return wait(client, fmt, &name).await;
    }
    match (fmt, answer["plan"].as_str()) {
        (Format::Json, _) => output::json(&answer),
        (_, Some(plan)) => print!("{plan}"),
        (_, None) => print_status(&answer),
    }
    Ok(0)
}

/// The experiment file ("-": stdin) as text: its name for messages and
/// its text.
fn read(file: &std::path::Path) -> Result<(String, String)> {
    let (origin, bytes) = if file.as_os_str() == "-" {
        let mut bytes = Vec::new();
        std::io::stdin()
            .read_to_end(&mut bytes)
            .context("reading stdin")?;
        ("stdin".to_string(), bytes)
    } else {
        let origin = file.display().to_string();
        let bytes = std::fs::read(file).with_context(|| origin.clone())?;
        (origin, bytes)
    };
    let text = text::decode(&bytes).with_context(|| origin.clone())?;
    Ok((origin, text.to_string()))
}

/// Follows experiment `name` until it has a verdict; its exit status.
async fn wait(client: &Client, fmt: Format, name: &str) -> Result<u8> {
    let path = format!("/v1/experiments/{}", segment(name));
    let live = std::io::stdout().is_terminal() && fmt != Format::Json;
    let mut shown: Vec<String> = Vec::new();
    let mut drawn = 0;
    let mut unreachable: Option<std::time::Instant> = None;
    loop {
        // joltd restarting (after a crash, say) is waited out: its next
        // start marks the experiment interrupted, which is the verdict.
        let s: Value = match client.call(Method::GET, &path, None).await {
            Ok(s) => {
                unreachable = None;
                s
            }
            Err(e @ (ClientError::Connect { .. } | ClientError::Http(_))) => {
                let since = *unreachable.get_or_insert_with(|| {
                    eprintln!("chaosctl: {e}; waiting for joltd to come back");
                    std::time::Instant::now()
                });
                if since.elapsed() > RECONNECT {
                    return Err(e.into());
                }
                tokio::time::sleep(POLL).await;
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        let done = s["phase"] != "running" && s["verdict"].is_string();
        if fmt != Format::Json {
            let lines = progress_lines(&s, live);
            let mut out = std::io::stdout().lock();
            if live {
                // Redraw the block in place: up, clear to the end, print.
                if drawn > 0 {
                    write!(out, "\x1b[{drawn}A\x1b[J")?;
                }
                for l in &lines {
                    writeln!(out, "{l}")?;
                }
                drawn = lines.len();
            } else if lines != shown {
                // One line per change, the first line of the block only
                // changing counters: print what changed.
                for l in lines.iter().filter(|l| !shown.contains(l)) {
                    writeln!(out, "{l}")?;
                }
            }
            out.flush()?;
            shown = lines;
        }
        if done {
            if fmt == Format::Json {
                output::json(&s);
            }
            let verdict = s["verdict"].as_str().unwrap_or_default();
            return Ok(match verdict {
                "passed" | "completed" => 0,
                "failed" => 1,
                _ => 3,
            });
        }
        tokio::time::sleep(POLL).await;
    }
}
