//! `chaosctl get`: one experiment's phase and active faults, on every node
//! of a fleet that has it.

use anyhow::Result;
use hyper::Method;
use jolt_agent::client::segment;

use crate::experiment::print_status;
use crate::fleet::{self, Nodes};
use crate::output::{self, Format};

/// Show an experiment: phase, active faults with their targets and time left
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The experiment's name
    name: String,
}

pub async fn exec(nodes: &Nodes, fmt: Format, a: &Args) -> Result<u8> {
    let path = format!("/v1/experiments/{}", segment(&a.name));
    let (got, failed) = fleet::wherever(nodes, Method::GET, &path).await?;
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
