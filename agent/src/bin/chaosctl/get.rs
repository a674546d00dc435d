//! `chaosctl get`: one experiment's phase and active faults, on every node
//! of a fleet that has it.

use anyhow::Result;
use hyper::Method;
use jolt_agent::client::segment;

use crate::fleet::{self, Nodes};
use crate::output::Format;

/// Show an experiment: phase, active faults with their targets and time left
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The experiment's name
    name: String,
}

pub async fn exec(nodes: &Nodes, fmt: Format, a: &Args) -> Result<u8> {
    let path = format!("/v1/experiments/{}", segment(&a.name));
    let (got, failed) = fleet::wherever(nodes, Method::GET, &path).await?;
    fleet::print_statuses(nodes, fmt, got);
    Ok(u8::from(failed))
}
