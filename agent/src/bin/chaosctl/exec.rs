//! `chaosctl exec`: run a command in a running container, through the
//! `jolt exec` of joltd's runtime on this node (chaosctl talks to joltd's
//! Unix socket, so it runs on the node): the terminal, signals and exit
//! status are the command's, as with `docker exec`.

use std::os::unix::process::CommandExt;
use std::process::Command;

use anyhow::{bail, Context, Result};
use hyper::Method;
use jolt_agent::client::{segment, Client};
use jolt_agent::container::{Listed, State};
use jolt_agent::oci::Jolt;

/// Run a command in a running container (exits with its status)
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Keep stdin open (it is closed otherwise)
    #[arg(long, short = 'i')]
    interactive: bool,
    /// Give the command a pseudo-terminal (with -i, an interactive shell)
    #[arg(long, short = 't')]
    tty: bool,
    /// An environment variable KEY=VALUE (repeatable)
    #[arg(long = "env", short = 'e', value_name = "KEY=VALUE")]
    env: Vec<String>,
    /// User as uid[:gid]
    #[arg(long, short = 'u')]
    user: Option<String>,
    /// Working directory in the container
    #[arg(long, short = 'w')]
    workdir: Option<String>,
    /// Name or ID
    name: String,
    /// The command and its arguments
    #[arg(last = true, required = true)]
    command: Vec<String>,
}

/// Replaces chaosctl with `jolt exec`; returns only when that cannot run.
pub async fn exec(client: &Client, a: &Args) -> Result<u8> {
    let path = format!("/v1/containers/{}", segment(&a.name));
    let listed: Listed = client.call(Method::GET, &path, None).await?;
    let record = listed.record;
    if record.status.state != State::Running {
        bail!(
            "container {}: is {}, not running",
            record.spec.name,
            record.status.state
        );
    }
    let jolt: Jolt = client.call(Method::GET, "/v1/runtime", None).await?;
    let mut cmd = Command::new(&jolt.bin);
    cmd.arg("--root").arg(&jolt.root).arg("exec");
    if a.tty {
        cmd.arg("--tty");
    }
    for e in &a.env {
        cmd.args(["--env", e]);
    }
    if let Some(u) = &a.user {
        cmd.args(["--user", u]);
    }
    if let Some(w) = &a.workdir {
        cmd.args(["--cwd", w]);
    }
    cmd.arg(&record.id).arg("--").args(&a.command);
    if !a.interactive {
        cmd.stdin(std::process::Stdio::null());
    }
    let err = cmd.exec();
    Err(err).with_context(|| format!("running {}", jolt.bin.display()))
}
