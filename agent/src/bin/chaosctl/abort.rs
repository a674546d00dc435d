//! `chaosctl abort`: revert every active fault of an experiment now.

use anyhow::Result;
use hyper::Method;
use jolt_agent::client::{segment, Client};
use serde_json::Value;

use crate::experiment::print_status;
use crate::output::{self, Format};

/// Stop an experiment: no more fires, every active fault reverted at once
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The experiment's name
    name: String,
}

pub async fn exec(client: &Client, fmt: Format, a: &Args) -> Result<()> {
    let path = format!("/v1/experiments/{}/abort", segment(&a.name));
    let s: Value = client.call(Method::POST, &path, None).await?;
    match fmt {
        Format::Json => output::json(&s),
        Format::Table => print_status(&s),
    }
    Ok(())
}
