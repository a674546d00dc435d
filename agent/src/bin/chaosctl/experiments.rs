//! `chaosctl experiments`: list the experiments, of every node of a fleet.

use anyhow::Result;
use hyper::Method;
use serde_json::Value;

use crate::fleet::{self, Nodes};
use crate::output::Format;

/// List experiments with their phase, verdict and next fire time
#[derive(Debug, clap::Args)]
pub struct Args {}

pub async fn exec(nodes: &Nodes, fmt: Format, _: &Args) -> Result<u8> {
    let answers = nodes
        .each(|n| {
            n.client
                .call::<Vec<Value>>(Method::GET, "/v1/experiments", None)
        })
        .await;
    let (got, failed) = fleet::gather(nodes, answers)?;
    let items: Vec<(&str, Value)> = got
        .into_iter()
        .flat_map(|(n, list)| list.into_iter().map(move |s| (n, s)))
        .collect();
    if fmt == Format::Json {
        fleet::json(nodes, items);
        return Ok(u8::from(failed));
    }
    let rows = items
        .iter()
        .map(|(n, s)| {
            let field = |k: &str| s[k].as_str().unwrap_or("-").to_string();
            let row = vec![
                field("name"),
                field("phase"),
                field("verdict"),
                field("fault"),
                s["active"].as_array().map_or(0, Vec::len).to_string(),
                field("next_fire"),
            ];
            (*n, row)
        })
        .collect();
    fleet::table(
        nodes,
        &["NAME", "PHASE", "VERDICT", "FAULT", "ACTIVE", "NEXT FIRE"],
        rows,
    );
    Ok(u8::from(failed))
}
