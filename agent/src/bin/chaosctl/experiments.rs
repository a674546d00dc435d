//! `chaosctl experiments`: list the experiments.

use anyhow::Result;
use hyper::Method;
use jolt_agent::client::Client;
use serde_json::Value;

use crate::output::{self, Format};

/// List experiments with their phase, verdict and next fire time
#[derive(Debug, clap::Args)]
pub struct Args {}

pub async fn exec(client: &Client, fmt: Format, _: &Args) -> Result<()> {
    let list: Vec<Value> = client.call(Method::GET, "/v1/experiments", None).await?;
    if fmt == Format::Json {
        output::json(&list);
        return Ok(());
    }
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|s| {
            let field = |k: &str| s[k].as_str().unwrap_or("-").to_string();
            vec![
                field("name"),
                field("phase"),
                field("verdict"),
                field("fault"),
                s["active"].as_array().map_or(0, Vec::len).to_string(),
                field("next_fire"),
            ]
        })
        .collect();
    output::table(
        &["NAME", "PHASE", "VERDICT", "FAULT", "ACTIVE", "NEXT FIRE"],
        &rows,
    );
    Ok(())
}
