//! `chaosctl run`: run a container on joltd.

use anyhow::{Context, Result};
use hyper::Method;
use jolt_agent::client::Client;
use jolt_agent::container::{parse_labels, parse_memory, Record, RunRequest};

use crate::output::{self, Format};

/// Run a container from a bundle (or the built-in busybox bundle)
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Name of the container (unique; default: its ID)
    #[arg(long)]
    name: Option<String>,
    /// A label KEY=VALUE (repeatable)
    #[arg(long = "label", short = 'l', value_name = "KEY=VALUE")]
    labels: Vec<String>,
    /// Publish a port: [IP:]HOSTPORT:CTRPORT[/tcp|/udp] (repeatable; needs the network module)
    #[arg(long = "publish", short = 'p', value_name = "MAPPING")]
    ports: Vec<String>,
    /// Restart policy: no, on-failure[:MAX], always
    #[arg(long, default_value = "no")]
    restart: String,
    /// Memory limit: bytes, or with a unit k, m, g (64m)
    #[arg(long, short = 'm', value_parser = parse_memory)]
    memory: Option<u64>,
    /// CPU limit in CPUs (0.5 is half of one)
    #[arg(long)]
    cpus: Option<f64>,
    /// An environment variable KEY=VALUE (repeatable)
    #[arg(long = "env", short = 'e', value_name = "KEY=VALUE")]
    env: Vec<String>,
    /// The OCI bundle directory (default: joltd's built-in busybox bundle)
    #[arg(long, short = 'b')]
    bundle: Option<std::path::PathBuf>,
    /// Return once it runs (the only mode: joltd keeps the logs; see chaosctl logs)
    #[arg(long, short = 'd')]
    detach: bool,
    /// The command and its arguments (default: the bundle's)
    #[arg(last = true)]
    command: Vec<String>,
}

pub async fn exec(client: &Client, fmt: Format, a: &Args) -> Result<()> {
    let _ = a.detach;
    let bundle = match &a.bundle {
        Some(b) => Some(std::path::absolute(b).with_context(|| format!("bundle {}", b.display()))?),
        None => None,
    };
    let req = RunRequest {
        name: a.name.clone(),
        labels: parse_labels(&a.labels).map_err(anyhow::Error::msg)?,
        bundle,
        command: a.command.clone(),
        env: a.env.clone(),
        ports: a.ports.clone(),
        memory: a.memory,
        cpus: a.cpus,
        restart: Some(a.restart.clone()),
    };
    // The checks joltd makes, made here first for a quicker answer.
    req.validate("-").map_err(anyhow::Error::msg)?;
    let body = serde_json::to_value(&req).expect("requests serialize");
    let r: Record = client
        .call(Method::POST, "/v1/containers", Some(&body))
        .await?;
    match fmt {
        Format::Json => output::json(&r),
        Format::Table => println!("{}", r.id),
    }
    Ok(())
}
