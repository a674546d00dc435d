//! `chaosctl completion`: shell completion scripts.

use clap::CommandFactory;
use clap_complete::Shell;

/// Print a completion script for SHELL (e.g. chaosctl completion bash > /etc/bash_completion.d/chaosctl)
#[derive(Debug, clap::Args)]
pub struct Args {
    shell: Shell,
}

pub fn exec(a: &Args) {
    let mut cmd = crate::Cli::command();
    clap_complete::generate(a.shell, &mut cmd, "chaosctl", &mut std::io::stdout());
}
