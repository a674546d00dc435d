//! `chaosctl system prune`: what joltd made and has no record of.

use anyhow::Result;
use hyper::Method;
use jolt_agent::client::Client;
use jolt_agent::reconcile::Report;

use crate::output::{self, Format};

/// The node agent itself
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Remove what joltd made for containers it has no record of (runtime
    /// state, cgroups, leases, network namespaces, veths, firewall rules);
    /// a container process that runs without a record is reported, never
    /// killed
    Prune,
}

pub async fn exec(client: &Client, fmt: Format, a: &Args) -> Result<()> {
    match a.command {
        Command::Prune => {
            let report: Report = client.call(Method::POST, "/v1/system/prune", None).await?;
            match fmt {
                Format::Json => output::json(&report),
                Format::Table => table(&report),
            }
        }
    }
    Ok(())
}

fn table(report: &Report) {
    if report.removed.is_empty() && report.reported.is_empty() {
        println!("nothing to prune");
        return;
    }
    let rows: Vec<Vec<String>> = [("removed", &report.removed), ("reported", &report.reported)]
        .into_iter()
        .flat_map(|(action, findings)| {
            findings.iter().map(move |f| {
                vec![
                    action.to_string(),
                    f.container.clone(),
                    f.what.clone(),
                    f.detail.clone(),
                ]
            })
        })
        .collect();
    output::table(&["ACTION", "CONTAINER", "WHAT", "DETAIL"], &rows);
}
