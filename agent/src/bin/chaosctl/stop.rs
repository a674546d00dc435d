//! `chaosctl stop`: stop containers.

use anyhow::Result;
use hyper::Method;
use jolt_agent::client::{segment, Client};
use jolt_agent::container::Record;

use crate::output::{self, Format};

/// Stop containers: SIGTERM, then SIGKILL after the timeout; they are not restarted
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Seconds to wait after SIGTERM before SIGKILL
    #[arg(long, short = 't', default_value_t = 10)]
    timeout: u64,
    /// Names or IDs
    #[arg(required = true)]
    names: Vec<String>,
}

/// Stops each container in turn, as `docker stop` does: one that cannot
/// be stopped is reported and the rest go on; exit status 1 if any failed.
pub async fn exec(client: &Client, fmt: Format, a: &Args) -> Result<u8> {
    Ok(output::each(&a.names, |name| async move {
        let path = format!(
            "/v1/containers/{}/stop?timeout={}",
            segment(name),
            a.timeout
        );
        let r: Record = client.call(Method::POST, &path, None).await?;
        match fmt {
            Format::Json => output::json(&r),
            Format::Table => println!("{}", r.spec.name),
        }
        Ok(())
    })
    .await)
}
