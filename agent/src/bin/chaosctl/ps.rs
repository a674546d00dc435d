//! `chaosctl ps`: list containers: joltd's, or with `--all-runtimes` every
//! container jolt runs on the node, with its origin; on every node of a
//! fleet at once.

use anyhow::Result;
use hyper::Method;
use jolt_agent::container::Listed;
use jolt_agent::targets::Shown;

use crate::fleet::{self, Nodes};
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

pub async fn exec(nodes: &Nodes, fmt: Format, a: &Args) -> Result<u8> {
    if a.all_runtimes {
        let answers = nodes
            .each(|n| {
                n.client
                    .call::<Vec<Shown>>(Method::GET, "/v1/targets", None)
            })
            .await;
        let (got, failed) = fleet::gather(nodes, answers)?;
        let items = got
            .into_iter()
            .flat_map(|(n, list)| list.into_iter().map(move |s| (n, s)));
        match fmt {
            Format::Json => fleet::json(nodes, items.collect()),
            Format::Table => {
                let rows = items.map(|(n, s)| (n, target_row(&s))).collect();
                fleet::table(nodes, TARGET_HEADER, rows);
            }
        }
        return Ok(u8::from(failed));
    }
    let path = format!("/v1/containers?all={}", a.all);
    let path = path.as_str();
    let answers = nodes
        .each(|n| n.client.call::<Vec<Listed>>(Method::GET, path, None))
        .await;
    let (got, failed) = fleet::gather(nodes, answers)?;
    let items = got
        .into_iter()
        .flat_map(|(n, list)| list.into_iter().map(move |r| (n, r)));
    match fmt {
        Format::Json => fleet::json(nodes, items.collect()),
        Format::Table => {
            let rows = items.map(|(n, r)| (n, output::row(&r))).collect();
            fleet::table(nodes, output::HEADER, rows);
        }
    }
    Ok(u8::from(failed))
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
