//! `jolt create ID`: make a container that waits for `jolt start`.

use anyhow::Result;
use jolt_runtime::{cgroups::Driver, container, state::Root};

use super::CreateFlags;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub flags: CreateFlags,
    /// Container ID
    pub id: String,
}

pub fn exec(root: &Root, args: &Args, driver: Driver) -> Result<()> {
    container::create(root, &args.id, &args.flags.options(driver))?;
    Ok(())
}
