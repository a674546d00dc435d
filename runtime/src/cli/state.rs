//! `jolt state ID`: print the OCI state JSON, indented as runc does.

use anyhow::Result;
use jolt_runtime::{container, state::Root};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Container ID
    pub id: String,
}

pub fn exec(root: &Root, args: &Args) -> Result<()> {
    let state = container::state(root, &args.id)?;
    println!("{}", serde_json::to_string_pretty(&state)?);
    Ok(())
}
