//! `jolt exec ID COMMAND...`: run another process in a running container.

use std::path::PathBuf;

use anyhow::Result;
use jolt_runtime::exec::{self, ExecOptions, Flags};
use jolt_runtime::state::Root;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// AF_UNIX socket that receives the pseudo-terminal's master
    #[arg(long)]
    pub console_socket: Option<PathBuf>,
    /// Working directory in the container
    #[arg(long)]
    pub cwd: Option<String>,
    /// Add an environment variable (NAME=VALUE)
    #[arg(short, long)]
    pub env: Vec<String>,
    /// Give the process a pseudo-terminal
    #[arg(short, long)]
    pub tty: bool,
    /// User as uid[:gid]
    #[arg(short, long)]
    pub user: Option<String>,
    /// Add a supplementary group id
    #[arg(short = 'g', long = "additional-gids")]
    pub additional_gids: Vec<u32>,
    /// A process.json to run instead of COMMAND
    #[arg(short, long)]
    pub process: Option<PathBuf>,
    /// Return once the process runs
    #[arg(short, long)]
    pub detach: bool,
    /// File to write the process's pid to
    #[arg(long)]
    pub pid_file: Option<PathBuf>,
    /// Set no_new_privs for the process
    #[arg(long)]
    pub no_new_privs: bool,
    /// Add a capability (CAP_NAME)
    #[arg(short, long)]
    pub cap: Vec<String>,
    /// Pass this many extra descriptors (from 3 up) to the process
    #[arg(long, default_value_t = 0)]
    pub preserve_fds: u32,
    /// Exec even into a paused container
    #[arg(long)]
    pub ignore_paused: bool,
    /// Run in an existing sub-cgroup of the container's: [CONTROLLERS:]PATH
    /// (controllers on cgroup v1 only); repeatable
    #[arg(long = "cgroup")]
    pub cgroup: Vec<String>,
    /// AppArmor profile (refused where AppArmor is enabled: not applied yet)
    #[arg(long)]
    pub apparmor: Option<String>,
    /// SELinux label (refused where SELinux is enabled: not applied yet)
    #[arg(long)]
    pub process_label: Option<String>,
    /// Container ID
    pub id: String,
    /// The command and its arguments
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

/// Returns the status jolt exits with.
pub fn exec(root: &Root, args: &Args) -> Result<i32> {
    let process = match &args.process {
        Some(path) => exec::process_from_file(path)?,
        None => {
            if args.command.is_empty() {
                anyhow::bail!("exec: no command given (pass COMMAND or --process)");
            }
            let flags = Flags {
                args: args.command.clone(),
                env: args.env.clone(),
                cwd: args.cwd.clone(),
                tty: args.tty,
                user: args.user.clone(),
                additional_gids: args.additional_gids.clone(),
                caps: args.cap.clone(),
                no_new_privs: args.no_new_privs,
                apparmor: args.apparmor.clone(),
                process_label: args.process_label.clone(),
            };
            exec::process_from_flags(root, &args.id, &flags)?
        }
    };
    let opts = ExecOptions {
        process,
        console_socket: args.console_socket.clone(),
        detach: args.detach,
        pid_file: args.pid_file.clone(),
        preserve_fds: args.preserve_fds,
        ignore_paused: args.ignore_paused,
        cgroups: args.cgroup.clone(),
    };
    Ok(exec::exec(root, &args.id, &opts)?)
}
