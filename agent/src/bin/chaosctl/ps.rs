//! `chaosctl ps`: list containers.

use anyhow::Result;
use hyper::Method;
use jolt_agent::client::Client;
use jolt_agent::container::Listed;

use crate::output::{self, Format};

/// List running containers (all of them with -a)
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Include exited containers
    #[arg(long, short = 'a')]
    all: bool,
}

pub async fn exec(client: &Client, fmt: Format, a: &Args) -> Result<()> {
    let path = format!("/v1/containers?all={}", a.all);
    let records: Vec<Listed> = client.call(Method::GET, &path, None).await?;
    match fmt {
        Format::Json => output::json(&records),
        Format::Table => {
            let rows: Vec<_> = records.iter().map(output::row).collect();
            output::table(output::HEADER, &rows);
        }
    }
    Ok(())
}
