//! `chaosctl abort`: revert every active fault of an experiment now, on
//! every node of a fleet that has it.

use anyhow::Result;
use hyper::Method;
use jolt_agent::client::segment;

use crate::experiment::print_status;
use crate::fleet::{self, Nodes};
use crate::output::{self, Format};

/// Stop an experiment: no more fires, every active fault reverted at once
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The experiment's name
    name: String,
}

pub async fn exec(nodes: &Nodes, fmt: Format, a: &Args) -> Result<u8> {
    let path = format!("/v1/experiments/{}/abort", segment(&a.name));
    let (got, failed) = fleet::wherever(nodes, Method::POST, &path).await?;
    match fmt {
        Format::Json if nodes.named => fleet::json(nodes, got),
        Format::Json => got.iter().for_each(|(_, s)| output::json(s)),
        Format::Table => {
            for (node, s) in &got {
                if nodes.named {
                    println!("node: {node}");
                }
                print_status(s);
            }
        }
    }
    Ok(u8::from(failed))
}
