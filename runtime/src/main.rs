//! `jolt`: parse runc's command line, set up logging, run the subcommand,
//! and turn an error into runc's output: a message on stderr (and in the
//! --log file) and exit status 1.

mod cli;

use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::Parser;
use jolt_runtime::cgroups::Driver;
use jolt_runtime::state::Root;

use cli::{Cli, Command};

fn main() -> ExitCode {
    // Rust starts with SIGPIPE ignored, and an ignored signal stays ignored
    // across fork and exec: the container's processes would inherit it, and
    // `jolt state ID | head` would panic. Back to the default, as in C.
    // SAFETY: setting a disposition before any thread exists.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    let cli = Cli::parse();
    if cli.version {
        println!("{}", cli::version());
        return ExitCode::SUCCESS;
    }
    if let Err(e) = cli::log::init(cli.log.as_deref(), cli.log_format, cli.debug) {
        eprintln!("{e:#}");
        return ExitCode::FAILURE;
    }
    match dispatch(&cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            // runc's exec prefixes its errors and exits 255, which callers
            // tell apart from the process's own status; but a failed execve
            // is the process's own failure, which runc reports as the
            // process does: one line, status 1.
            let execve = e.chain().any(|c| {
                matches!(
                    c.downcast_ref::<jolt_runtime::container::Error>(),
                    Some(jolt_runtime::container::Error::Execve(_))
                )
            });
            let exec = matches!(cli.command, Some(Command::Exec(_))) && !execve;
            let e = if exec { e.context("exec failed") } else { e };
            let msg = message(&e);
            if cli.log.is_some() {
                tracing::error!("{msg}");
            }
            eprintln!("{msg}");
            if exec {
                ExitCode::from(255)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

/// The error and its causes on one line, skipping a cause whose text the
/// message already holds (our errors name their cause themselves).
fn message(e: &anyhow::Error) -> String {
    let mut msg = e.to_string();
    for cause in e.chain().skip(1) {
        let c = cause.to_string();
        if !msg.contains(&c) {
            msg = format!("{msg}: {c}");
        }
    }
    msg
}

fn dispatch(cli: &Cli) -> Result<u8> {
    // Containers made earlier keep the driver that made them (state.json).
    let driver = if cli.systemd_cgroup {
        Driver::Systemd
    } else {
        Driver::Cgroupfs
    };
    if matches!(
        cli.command,
        Some(Command::Create(_) | Command::Run(_) | Command::Exec(_))
    ) {
        jolt_runtime::sealed::reexec()?;
    }
    let root = Root::new(&cli.root);
    let Some(command) = &cli.command else {
        bail!("no command given: see jolt --help");
    };
    match command {
        Command::Create(a) => cli::create::exec(&root, a, driver)?,
        Command::Start(a) => cli::start::exec(&root, a)?,
        Command::State(a) => cli::state::exec(&root, a)?,
        Command::Kill(a) => cli::kill::exec(&root, a)?,
        Command::Delete(a) => cli::delete::exec(&root, a)?,
        Command::List(a) => cli::list::exec(&root, a)?,
        Command::Spec(a) => cli::spec::exec(a)?,
        Command::Run(a) => return Ok(cli::run::exec(&root, a, driver)?.clamp(0, 255) as u8),
        Command::Exec(a) => return Ok(cli::exec::exec(&root, a)?.clamp(0, 255) as u8),
        Command::Ps(a) => cli::ps::exec(&root, a)?,
        Command::Pause(a) => cli::pause::exec(&root, a)?,
        Command::Resume(a) => cli::resume::exec(&root, a)?,
        Command::Update(a) => cli::update::exec(&root, a)?,
        Command::Events(a) => cli::events::exec(&root, a)?,
        Command::Features => cli::features::exec()?,
        Command::Man { dir } => {
            use clap::CommandFactory;
            jolt_runtime::manpages::write(Cli::command(), "8", dir)
                .with_context(|| format!("man pages in {}", dir.display()))?;
        }
    }
    Ok(0)
}
