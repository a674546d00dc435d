//! `jolt create ID`: make a container that waits for `jolt start`.

use anyhow::Result;
use jolt_runtime::{container, state::Root};

use super::CreateFlags;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub flags: CreateFlags,
    /// Container ID
    pub id: String,
}

pub fn exec(root: &Root, args: &Args) -> Result<()> {
    container::create(root, &args.id, &args.flags.options())?;
    Ok(())
}
