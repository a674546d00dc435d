//! `chaosctl run`: run a container on joltd.

use anyhow::{Context, Result};
use hyper::Method;
use jolt_agent::client::Client;
use jolt_agent::container::{parse_labels, parse_memory, Record, RunRequest};

use std::io::Write;

use crate::logs::Lines;
use crate::output::{self, Format};

/// Run a container from an image, a bundle, or the built-in busybox bundle
#[derive(Debug, clap::Args)]
pub struct Args {
    /// An image in joltd's store (`chaosctl image ls`): a name or an ID
    /// prefix; its config gives the command, entrypoint, env, working
    /// directory and user
    image: Option<String>,
    /// Name of the container (unique; default: its ID)
    #[arg(long)]
    name: Option<String>,
    /// A label KEY=VALUE (repeatable)
    #[arg(long = "label", short = 'l', value_name = "KEY=VALUE")]
    labels: Vec<String>,
    /// Publish a port: [IP:]HOSTPORT:CTRPORT[/tcp|/udp] (repeatable)
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
    /// No writable layer of its own: run on the image's rootfs, read-only
    #[arg(long)]
    read_only: bool,
    /// A tmpfs of its own: PATH[:OPTIONS], e.g. /scratch:size=64m (repeatable)
    #[arg(long, value_name = "PATH[:OPTIONS]")]
    tmpfs: Vec<String>,
    /// Bind a path of the node: HOST:CTR[:ro|rw] (repeatable); HOST must exist
    #[arg(long = "volume", short = 'v', value_name = "HOST:CTR[:ro]")]
    volumes: Vec<String>,
    /// The OCI bundle directory (default: joltd's built-in busybox bundle)
    #[arg(long, short = 'b')]
    bundle: Option<std::path::PathBuf>,
    /// Return once it runs, printing its ID; without it, chaosctl prints the
    /// container's output until it is done for good and exits with its
    /// exit status (interrupting chaosctl leaves the container running)
    #[arg(long, short = 'd')]
    detach: bool,
    /// The command and its arguments (default: the image's or the bundle's;
    /// an image's entrypoint stays in front of it)
    #[arg(last = true)]
    command: Vec<String>,
}

/// A volume with its host path made absolute (as `-v .:/src` means the
/// current directory), the rest as given.
fn absolute_host(v: &str) -> Result<String> {
    match v.split_once(':') {
        Some((host, rest)) if !host.starts_with('/') && !host.is_empty() => {
            let abs = std::path::absolute(host).with_context(|| format!("volume {host}"))?;
            Ok(format!("{}:{rest}", abs.display()))
        }
        _ => Ok(v.to_string()),
    }
}

/// Returns the exit status for chaosctl: the container's when attached.
pub async fn exec(client: &Client, fmt: Format, a: &Args) -> Result<u8> {
    let bundle = match &a.bundle {
        Some(b) => Some(std::path::absolute(b).with_context(|| format!("bundle {}", b.display()))?),
        None => None,
    };
    let req = RunRequest {
        name: a.name.clone(),
        labels: parse_labels(&a.labels).map_err(anyhow::Error::msg)?,
        bundle,
        image: a.image.clone(),
        command: a.command.clone(),
        env: a.env.clone(),
        ports: a.ports.clone(),
        memory: a.memory,
        cpus: a.cpus,
        restart: Some(a.restart.clone()),
        read_only: a.read_only,
        tmpfs: a.tmpfs.clone(),
        volumes: a
            .volumes
            .iter()
            .map(|v| absolute_host(v))
            .collect::<Result<_>>()?,
    };
    // The checks joltd makes, made here first for a quicker answer.
    req.validate("-").map_err(anyhow::Error::msg)?;
    let body = serde_json::to_value(&req).expect("requests serialize");
    let r: Record = client
        .call(Method::POST, "/v1/containers", Some(&body))
        .await?;
    if a.detach {
        match fmt {
            Format::Json => output::json(&r),
            Format::Table => println!("{}", r.id),
        }
        return Ok(0);
    }
    let path = format!("/v1/containers/{}/logs?follow=true", r.id);
    let mut out = Lines::new(std::io::stdout().lock(), false);
    client.stream(&path, &mut out).await?;
    out.flush()?;
    let path = format!("/v1/containers/{}", r.id);
    let done: Record = client.call(Method::GET, &path, None).await?;
    if fmt == Format::Json {
        output::json(&done);
    }
    Ok(done
        .status
        .last_exit
        .map_or(0, |x| x.code.clamp(0, 255) as u8))
}
