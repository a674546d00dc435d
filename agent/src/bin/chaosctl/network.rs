//! `chaosctl network`: the networks joltd wires containers to.

use anyhow::Result;
use hyper::Method;
use jolt_agent::client::Client;
use jolt_agent::network::Listed;

use crate::output::{self, Format};

/// The networks containers are wired to
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// List the networks: name, bridge, subnet (given with --subnet, or
    /// chosen from joltd's pool at its first start) and gateway
    Ls,
}

pub async fn exec(client: &Client, fmt: Format, a: &Args) -> Result<()> {
    match a.command {
        Command::Ls => {
            let nets: Vec<Listed> = client.call(Method::GET, "/v1/networks", None).await?;
            match fmt {
                Format::Json => output::json(&nets),
                Format::Table => {
                    let rows: Vec<Vec<String>> = nets
                        .iter()
                        .map(|n| {
                            vec![
                                n.name.clone(),
                                n.bridge.clone(),
                                n.subnet.clone(),
                                n.gateway.clone(),
                            ]
                        })
                        .collect();
                    output::table(&["NAME", "BRIDGE", "SUBNET", "GATEWAY"], &rows);
                }
            }
        }
    }
    Ok(())
}
