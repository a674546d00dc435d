//! `jolt start ID`: run the user's process in a created container.

use anyhow::Result;
use jolt_runtime::{container, state::Root};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Container ID
    pub id: String,
}

pub fn exec(root: &Root, args: &Args) -> Result<()> {
    container::start(root, &args.id)?;
    Ok(())
}
