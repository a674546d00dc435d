//! `chaosctl apply`: start an experiment from a file, or plan it; with
//! `--wait`, follow it to its verdict; across a fleet, planned here and
//! each node given its part. The file must be UTF-8 text without
//! control characters (a byte order mark is dropped); joltd parses and
//! validates it.

use std::io::{IsTerminal, Read, Write};
use std::path::PathBuf;
use std::time::Duration;

use std::time::SystemTime;

use anyhow::{bail, Context, Result};
use hyper::Method;
use jolt_agent::client::{segment, Client, ClientError};
use jolt_agent::fleet as plan;
use jolt_agent::targets::{Running, Shown};
use jolt_chaos::experiment::OnFailure;
use jolt_chaos::{text, Experiment};
use serde_json::{json, Value};

use crate::experiment::{print_status, progress_lines};
use crate::fleet::{self, Nodes};
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

/// `apply` across a fleet: the targets of every node are read, the plan
/// is made here over all of them (mode, seed and max-active counted over
/// the fleet), and each node is given its part, which it journals and
/// reverts on its own. With --dry-run only the plan, each target named
/// `NODE/NAME`. A node that cannot be read or refuses its part is
/// reported; with `on-failure: stop` nothing more starts and the parts
/// already started are aborted.
pub async fn exec_fleet(nodes: &Nodes, fmt: Format, a: &Args) -> Result<u8> {
    if a.wait {
        bail!("--wait follows one node; on a fleet, follow with: chaosctl --fleet FILE get NAME");
    }
    let (origin, text) = read(&a.file)?;
    let experiment = Experiment::from_yaml_or_json(&text, &origin)?;
    let stop = experiment.on_failure == OnFailure::Stop;
    let answers = nodes
        .each(|n| {
            n.client
                .call::<Vec<Shown>>(Method::GET, "/v1/targets", None)
        })
        .await;
    let (found, unread) = fleet::gather(nodes, answers)?;
    if unread && stop {
        bail!(
            "a node cannot be read and the experiment says on-failure: stop; nothing was started"
        );
    }
    let running: Vec<(String, Vec<Running>)> = found
        .into_iter()
        .map(|(node, shown)| {
            (
                node.to_string(),
                shown.into_iter().map(|s| s.running).collect(),
            )
        })
        .collect();
    let start = match &a.start {
        Some(s) => humantime::parse_rfc3339_weak(s).with_context(|| format!("--start {s}"))?,
        None => SystemTime::now(),
    };
    let candidates = plan::candidates(&running);
    let planned = plan::plan(&experiment, start, &candidates).map_err(anyhow::Error::msg)?;
    if a.dry_run {
        let text = plan::shown(&planned);
        match fmt {
            Format::Json => output::json(&json!({ "plan": text })),
            Format::Table => print!("{text}"),
        }
        return Ok(0);
    }
    let names: Vec<String> = running.iter().map(|(n, _)| n.clone()).collect();
    let probes = experiment
        .steady_state
        .as_ref()
        .and(names.first().map(String::as_str));
    let parts = plan::parts(&planned, &names, probes);
    let sent = futures::future::join_all(parts.into_iter().map(|part| {
        let client = nodes.client(&part.share.node);
        let body = json!({ "text": text, "origin": origin, "fleet": part });
        async move {
            let answer: Result<Value> = client
                .call(Method::POST, "/v1/experiments", Some(&body))
                .await
                .map_err(Into::into);
            (part.share.node, answer)
        }
    }))
    .await;
    let started: Vec<&str> = sent
        .iter()
        .filter(|(_, a)| a.is_ok())
        .map(|(n, _)| n.as_str())
        .collect();
    let refused = sent.len() - started.len();
    let mut not_aborted = Vec::new();
    if refused > 0 && stop {
        let path = format!("/v1/experiments/{}/abort", segment(&experiment.name));
        for node in &started {
            let aborted = nodes
                .client(node)
                .call::<Value>(Method::POST, &path, None)
                .await;
            if let Err(e) = aborted {
                eprintln!("chaosctl: node {node}: abort: {e:#}");
                not_aborted.push(node.to_string());
            }
        }
    }
    let (names, results): (Vec<String>, Vec<Result<Value>>) = sent.into_iter().unzip();
    let answers = names.iter().map(String::as_str).zip(results).collect();
    let (got, failed) = fleet::gather(nodes, answers)?;
    fleet::print_statuses(nodes, fmt, got);
    if refused > 0 && stop {
        match not_aborted.as_slice() {
            [] => eprintln!("chaosctl: {refused} node(s) refused their part and the experiment says on-failure: stop: the others were aborted"),
            left => eprintln!("chaosctl: {refused} node(s) refused their part and the experiment says on-failure: stop: not aborted on {} (abort it there: chaosctl --node ADDR abort {})", left.join(", "), experiment.name),
        }
    }
    Ok(u8::from(failed || unread))
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
