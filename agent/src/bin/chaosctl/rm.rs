//! `chaosctl rm`: remove containers.

use anyhow::Result;
use hyper::Method;
use jolt_agent::client::{segment, Client};

use crate::output;

/// Remove containers and their logs (running ones only with -f)
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Kill them first if they run
    #[arg(long, short = 'f')]
    force: bool,
    /// Names or IDs
    #[arg(required = true)]
    names: Vec<String>,
}

/// Removes each container in turn, as `docker rm` does: one that cannot
/// be removed is reported and the rest go on; exit status 1 if any failed.
pub async fn exec(client: &Client, a: &Args) -> Result<u8> {
    Ok(output::each(&a.names, |name| async move {
        let path = format!("/v1/containers/{}?force={}", segment(name), a.force);
        client.call::<()>(Method::DELETE, &path, None).await?;
        println!("{name}");
        Ok(())
    })
    .await)
}
