//! `chaosctl stop`: stop a container.

use anyhow::Result;
use hyper::Method;
use jolt_agent::client::{segment, Client};
use jolt_agent::container::Record;

use crate::output::{self, Format};

/// Stop a container: SIGTERM, then SIGKILL after the timeout; it is not restarted
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Seconds to wait after SIGTERM before SIGKILL
    #[arg(long, short = 't', default_value_t = 10)]
    timeout: u64,
    /// Name or ID
    name: String,
}

pub async fn exec(client: &Client, fmt: Format, a: &Args) -> Result<()> {
    let path = format!(
        "/v1/containers/{}/stop?timeout={}",
        segment(&a.name),
        a.timeout
    );
    let r: Record = client.call(Method::POST, &path, None).await?;
    match fmt {
        Format::Json => output::json(&r),
        Format::Table => println!("{}", r.spec.name),
    }
    Ok(())
}
