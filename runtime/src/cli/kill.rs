//! `jolt kill ID [SIGNAL]`: signal a container's init, or all its processes.

use anyhow::Result;
use jolt_runtime::{container, signal, state::Root};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Send the signal to every process in the container's cgroup
    #[arg(short, long)]
    pub all: bool,
    /// Container ID
    pub id: String,
    /// Signal: a name with or without SIG, or a number
    #[arg(default_value = "SIGTERM")]
    pub signal: String,
}

pub fn exec(root: &Root, args: &Args) -> Result<()> {
    let sig = signal::parse(&args.signal)?;
    container::kill_container(root, &args.id, sig, args.all)?;
    Ok(())
}
