//! `chaosctl delete`: forget an experiment.

use anyhow::Result;
use hyper::Method;
use jolt_agent::client::{segment, Client};

/// Delete an experiment and its timeline (aborting it first if it runs)
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The experiment's name
    name: String,
}

pub async fn exec(client: &Client, a: &Args) -> Result<()> {
    let path = format!("/v1/experiments/{}", segment(&a.name));
    client.call::<()>(Method::DELETE, &path, None).await?;
    println!("{}", a.name);
    Ok(())
}
