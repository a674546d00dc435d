//! `jolt run ID`: create and start; in the foreground, wait and exit with
//! the container's status.

use anyhow::Result;
use jolt_runtime::{cgroups::Driver, container, state::Root};

use super::CreateFlags;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub flags: CreateFlags,
    /// Return once the container is running
    #[arg(short, long)]
    pub detach: bool,
    /// Do not delete the container after it exits (it stays stopped)
    #[arg(long, conflicts_with = "detach")]
    pub keep: bool,
    /// Container ID
    pub id: String,
}

/// Returns the status jolt exits with.
pub fn exec(root: &Root, args: &Args, driver: Driver) -> Result<i32> {
    let opts = args.flags.options(driver);
    if args.detach {
        container::create(root, &args.id, &opts)?;
        if let Err(e) = container::start(root, &args.id) {
            let _ = container::delete(root, &args.id, true);
            return Err(e.into());
        }
        return Ok(0);
    }
    Ok(container::run(root, &args.id, &opts, args.keep)?)
}
