//! `jolt delete ID`: remove a stopped (or, with --force, any) container.

use anyhow::Result;
use jolt_runtime::{container, state::Root};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Kill the container first if it is running; a missing one is fine
    #[arg(short, long)]
    pub force: bool,
    /// Container ID
    pub id: String,
}

pub fn exec(root: &Root, args: &Args) -> Result<()> {
    container::delete(root, &args.id, args.force)?;
    Ok(())
}
