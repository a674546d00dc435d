//! `chaosctl ps`: list containers: joltd's, or with `--all-runtimes` every
//! container jolt runs on the node, with its origin.

use anyhow::Result;
use hyper::Method;
use jolt_agent::client::Client;
use jolt_agent::container::Listed;
use jolt_agent::targets::Shown;

use crate::output::{self, Format};

/// List running containers (all of them with -a)
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Include exited containers
    #[arg(long, short = 'a', conflicts_with = "all_runtimes")]
    all: bool,
    /// Every running container jolt runs on the node: joltd's and those of
    /// containerd, podman and others (chaos targets; joltd never stops them)
    #[arg(long)]
    all_runtimes: bool,
}

pub async fn exec(client: &Client, fmt: Format, a: &Args) -> Result<()> {
    if a.all_runtimes {
        let shown: Vec<Shown> = client.call(Method::GET, "/v1/targets", None).await?;
        match fmt {
            Format::Json => output::json(&shown),
            Format::Table => {
                let rows: Vec<_> = shown.iter().map(target_row).collect();
                output::table(TARGET_HEADER, &rows);
            }
        }
        return Ok(());
    }
    let path = format!("/v1/containers?all={}", a.all);
    let records: Vec<Listed> = client.call(Method::GET, &path, None).await?;
    match fmt {
        Format::Json => output::json(&records),
        Format::Table => {
            let rows: Vec<_> = records.iter().map(output::row).collect();
            output::table(output::HEADER, &rows);
        }
    }
    Ok(())
}

const TARGET_HEADER: &[&str] = &["ID", "NAME", "ORIGIN", "STATUS", "PID", "COMMAND"];

fn target_row(s: &Shown) -> Vec<String> {
    let r = &s.running;
    let mut status = "running".to_string();
    for f in &s.faults {
        status.push_str(&format!("; {}", f.summary()));
    }
    let id = match r.id.len() {
        n if n > 12 && r.id.bytes().all(|b| b.is_ascii_hexdigit()) => r.id[..12].to_string(),
        _ => r.id.clone(),
    };
    vec![
        id,
        r.name.clone(),
        r.origin.clone(),
        status,
        r.pid.to_string(),
        r.command.join(" "),
    ]
}
