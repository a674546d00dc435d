//! `chaosctl get`: one experiment's phase and active faults.

use anyhow::Result;
use hyper::Method;
use jolt_agent::client::{segment, Client};
use serde_json::Value;

use crate::experiment::print_status;
use crate::output::{self, Format};

/// Show an experiment: phase, active faults with their targets and time left
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The experiment's name
    name: String,
}

pub async fn exec(client: &Client, fmt: Format, a: &Args) -> Result<()> {
    let path = format!("/v1/experiments/{}", segment(&a.name));
    let s: Value = client.call(Method::GET, &path, None).await?;
    match fmt {
        Format::Json => output::json(&s),
        Format::Table => print_status(&s),
    }
    Ok(())
}
