//! cli: runc's command line, parsed with clap; one file per subcommand.
//!
//! Parsing only: each subcommand turns its arguments into a call to
//! `jolt_runtime::container` and prints the result the way runc does.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};
use jolt_runtime::cgroups::Driver;

pub mod create;
pub mod delete;
pub mod events;
pub mod exec;
pub mod features;
pub mod kill;
pub mod list;
pub mod log;
pub mod pause;
pub mod ps;
pub mod resume;
pub mod run;
pub mod spec;
pub mod start;
pub mod state;
pub mod update;

#[derive(Debug, Parser)]
#[command(
    name = "jolt",
    about = "An OCI runtime with runc's command line",
    disable_version_flag = true,
    // As with runc: a flag given twice takes its last value.
    args_override_self = true
)]
pub struct Cli {
    /// Directory holding the containers' state
    #[arg(long, global = true, default_value = "/run/jolt")]
    pub root: PathBuf,
    /// Write log messages to this file instead of stderr
    #[arg(long, global = true)]
    pub log: Option<PathBuf>,
    /// Log format
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Log debug messages too
    #[arg(long, global = true)]
    pub debug: bool,
    /// Make containers' cgroups as systemd scopes (cgroupsPath slice:prefix:name)
    #[arg(long, global = true)]
    pub systemd_cgroup: bool,
    /// Print the version
    #[arg(short = 'v', long)]
    pub version: bool,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a container from a bundle; it waits for `start`
    Create(create::Args),
    /// Run the process of a created container
    Start(start::Args),
    /// Print a container's state as JSON
    State(state::Args),
    /// Send a signal to a container's init (or all its processes)
    Kill(kill::Args),
    /// Delete a container and everything it holds
    Delete(delete::Args),
    /// Create and start a container, and by default wait for it
    Run(run::Args),
    /// List containers
    #[command(alias = "ps-all")]
    List(list::Args),
    /// Write a default config.json
    Spec(spec::Args),
    /// Run another process in a running container
    Exec(exec::Args),
    /// List the processes of a container
    Ps(ps::Args),
    /// Freeze every process of a container
    Pause(pause::Args),
    /// Thaw a paused container
    Resume(resume::Args),
    /// Change a running container's cgroup limits
    Update(update::Args),
    /// Print a container's stats and OOM events as JSON
    Events(events::Args),
    /// Print what this runtime supports, as JSON
    Features,
    /// Write jolt's man pages into DIR (for scripts/man; not for people)
    #[command(hide = true)]
    Man { dir: PathBuf },
}

/// The options `create` and `run` share.
#[derive(Debug, clap::Args)]
pub struct CreateFlags {
    /// Path to the bundle directory
    #[arg(short, long, default_value = ".")]
    pub bundle: PathBuf,
    /// File to write the container's init pid to
    #[arg(long)]
    pub pid_file: Option<PathBuf>,
    /// AF_UNIX socket that receives the pseudo-terminal's master
    #[arg(long)]
    pub console_socket: Option<PathBuf>,
    /// Use MS_MOVE and chroot instead of pivot_root
    #[arg(long)]
    pub no_pivot: bool,
    /// Do not give the container a new session keyring
    #[arg(long)]
    pub no_new_keyring: bool,
    /// Pass this many extra descriptors (from 3 up) to the container
    #[arg(long, default_value_t = 0)]
    pub preserve_fds: u32,
}

impl CreateFlags {
    pub fn options(&self, cgroup_driver: Driver) -> jolt_runtime::container::CreateOptions {
        jolt_runtime::container::CreateOptions {
            bundle: self.bundle.clone(),
            pid_file: self.pid_file.clone(),
            console_socket: self.console_socket.clone(),
            no_pivot: self.no_pivot,
            no_new_keyring: self.no_new_keyring,
            preserve_fds: self.preserve_fds,
            cgroup_driver,
        }
    }
}

/// runc's three-line version.
pub fn version() -> String {
    format!(
        "jolt version {}\ncommit: {}\nspec: {}",
        env!("CARGO_PKG_VERSION"),
        option_env!("JOLT_COMMIT").unwrap_or("unknown"),
        jolt_runtime::state::OCI_VERSION
    )
}
