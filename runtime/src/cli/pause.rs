//! `jolt pause ID`: freeze every process of a running container.

use anyhow::Result;
use jolt_runtime::{container, state::Root};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Container ID
    pub id: String,
}

pub fn exec(root: &Root, args: &Args) -> Result<()> {
    container::pause(root, &args.id)?;
    Ok(())
}
