//! `jolt events ID`: the container's stats every --interval and its OOM
//! kills, as runc's JSON events, one per line, until it stops; `--stats`
//! prints one stats event and returns.

use std::io::Write;
use std::time::Duration;

use anyhow::Result;
use jolt_runtime::{container, state::Root};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print one stats event and exit
    #[arg(long)]
    pub stats: bool,
    /// Time between stats events (e.g. 5s, 500ms)
    #[arg(long, default_value = "5s", value_parser = humantime::parse_duration)]
    pub interval: Duration,
    /// Container ID
    pub id: String,
}

pub fn exec(root: &Root, args: &Args) -> Result<()> {
    if args.stats {
        println!("{}", container::stats_event(root, &args.id)?);
        return Ok(());
    }
    let mut out = std::io::stdout();
    container::watch_events(root, &args.id, args.interval, |e| {
        let _ = writeln!(out, "{e}").and_then(|()| out.flush());
    })?;
    Ok(())
}
