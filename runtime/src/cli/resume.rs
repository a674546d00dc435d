//! `jolt resume ID`: thaw a paused container.

use anyhow::Result;
use jolt_runtime::{container, state::Root};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Container ID
    pub id: String,
}

pub fn exec(root: &Root, args: &Args) -> Result<()> {
    container::resume(root, &args.id)?;
    Ok(())
}
