//! `chaosctl abort`: revert every active fault of an experiment now, on
//! every node of a fleet that has it.

use anyhow::Result;
use hyper::Method;
use jolt_agent::client::segment;

use crate::fleet::{self, Nodes};
use crate::output::Format;

/// Stop an experiment: no more fires, every active fault reverted at once
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The experiment's name
    name: String,
}

pub async fn exec(nodes: &Nodes, fmt: Format, a: &Args) -> Result<u8> {
    let path = format!("/v1/experiments/{}/abort", segment(&a.name));
    let (got, failed) = fleet::wherever(nodes, Method::POST, &path).await?;
    fleet::print_statuses(nodes, fmt, got);
    Ok(u8::from(failed))
}
