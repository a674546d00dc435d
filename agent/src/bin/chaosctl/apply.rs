//! `chaosctl apply`: start an experiment from a file, or plan it. The
//! file must be UTF-8 text without control characters (a byte order mark
//! is dropped); joltd parses and validates it.

use std::io::Read;
use std::path::PathBuf;

use anyhow::{Context, Result};
use hyper::Method;
use jolt_agent::client::Client;
use jolt_chaos::text;
use serde_json::{json, Value};

use crate::experiment::print_status;
use crate::output::{self, Format};

/// Validate an experiment (YAML or JSON) and start it; with --dry-run,
/// print the planned fire times and targets and change nothing
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
}

pub async fn exec(client: &Client, fmt: Format, a: &Args) -> Result<()> {
    let (origin, bytes) = if a.file.as_os_str() == "-" {
        let mut bytes = Vec::new();
        std::io::stdin()
            .read_to_end(&mut bytes)
            .context("reading stdin")?;
        ("stdin".to_string(), bytes)
    } else {
        let origin = a.file.display().to_string();
        let bytes = std::fs::read(&a.file).with_context(|| origin.clone())?;
        (origin, bytes)
    };
    let text = text::decode(&bytes).with_context(|| origin.clone())?;
    let body = json!({
        "text": text,
        "origin": origin,
        "dry_run": a.dry_run,
        "start": a.start,
        "limit": a.limit,
    });
    let answer: Value = client
        .call(Method::POST, "/v1/experiments", Some(&body))
        .await?;
    match (fmt, answer["plan"].as_str()) {
        (Format::Json, _) => output::json(&answer),
        (Format::Table, Some(plan)) => print!("{plan}"),
        (Format::Table, None) => print_status(&answer),
    }
    Ok(())
}
