//! `chaosctl rm`: remove a container.

use anyhow::Result;
use hyper::Method;
use jolt_agent::client::{segment, Client};

/// Remove a container and its logs (a running one only with -f)
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Kill it first if it runs
    #[arg(long, short = 'f')]
    force: bool,
    /// Name or ID
    name: String,
}

pub async fn exec(client: &Client, a: &Args) -> Result<()> {
    let path = format!("/v1/containers/{}?force={}", segment(&a.name), a.force);
    client.call::<()>(Method::DELETE, &path, None).await?;
    println!("{}", a.name);
    Ok(())
}
