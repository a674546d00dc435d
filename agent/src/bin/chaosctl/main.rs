//! `chaosctl`: the command line for joltd. Parses arguments (one file per
//! subcommand), calls joltd over its socket (or the joltd of each node of
//! a fleet, see `fleet`), prints a table or JSON, and on failure prints
//! one line on stderr and exits 1.

mod abort;
mod apply;
mod certs;
mod completion;
mod delete;
mod events;
mod exec;
mod experiment;
mod experiments;
mod fleet;
mod get;
mod image;
mod inspect;
mod logs;
mod network;
mod output;
mod ps;
mod pull;
mod report;
mod rm;
mod run;
mod stats;
mod stop;
mod system;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::error::ErrorKind;
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use jolt_agent::client::DEFAULT_SOCKET;

#[derive(Debug, Parser)]
#[command(
    name = "chaosctl",
    version,
    about = "Run containers and chaos experiments on a jolt node (talks to joltd)"
)]
pub struct Cli {
    /// joltd's socket
    #[arg(long, global = true, env = "JOLT_SOCKET", default_value = DEFAULT_SOCKET)]
    socket: PathBuf,
    /// Output format: table or json; report also writes html, markdown
    /// and junit
    #[arg(short = 'o', long, global = true, value_enum, default_value_t = output::Requested::Table)]
    format: output::Requested,
    #[command(flatten)]
    fleet: fleet::Flags,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    Run(run::Args),
    Ps(ps::Args),
    Inspect(inspect::Args),
    Logs(logs::Args),
    Exec(exec::Args),
    Stats(stats::Args),
    Stop(stop::Args),
    Rm(rm::Args),
    Apply(apply::Args),
    Experiments(experiments::Args),
    Get(get::Args),
    Events(events::Args),
    Abort(abort::Args),
    Report(report::Args),
    Delete(delete::Args),
    Image(image::Args),
    Pull(pull::Args),
    Network(network::Args),
    System(system::Args),
    Certs(certs::Args),
    Completion(completion::Args),
    /// Write chaosctl's man pages into DIR (for scripts/man; not for people)
    #[command(hide = true)]
    Man {
        dir: PathBuf,
    },
}

fn main() -> ExitCode {
    let matches = Cli::command().get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    // html, markdown and junit are report's alone: for any other
    // subcommand a usage error (exit 2), before joltd is asked anything.
    let fmt = match (&cli.command, cli.format.plain()) {
        (_, Ok(fmt)) => fmt,
        (Command::Report(_), Err(_)) => output::Format::Table,
        (_, Err(msg)) => usage_error(matches.subcommand_name().unwrap_or_default(), msg).exit(),
    };
    match &cli.command {
        Command::Completion(a) => {
            completion::exec(a);
            return ExitCode::SUCCESS;
        }
        Command::Man { dir } => {
            return match jolt_runtime::manpages::write(Cli::command(), "1", dir) {
                Ok(_) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("chaosctl: man pages in {}: {e}", dir.display());
                    ExitCode::FAILURE
                }
            };
        }
        Command::Certs(a) => {
            return match certs::exec(a) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("chaosctl: {}", one_line(&e));
                    ExitCode::FAILURE
                }
            };
        }
        _ => {}
    }
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("chaosctl: tokio runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let done = runtime.block_on(async {
        let nodes = fleet::Nodes::from_flags(&cli.fleet, &cli.socket)?;
        let one = |name: &str| nodes.one(name);
        match &cli.command {
            Command::Run(a) => run::exec(one("run")?, fmt, a).await,
            Command::Ps(a) => ps::exec(&nodes, fmt, a).await,
            Command::Inspect(a) => inspect::exec(one("inspect")?, fmt, a).await.map(|()| 0),
            Command::Logs(a) => logs::exec(one("logs")?, a).await.map(|()| 0),
            Command::Exec(a) => exec::exec(one("exec")?, a).await,
            Command::Stats(a) => stats::exec(one("stats")?, fmt, a).await,
            Command::Stop(a) => stop::exec(one("stop")?, fmt, a).await,
            Command::Rm(a) => rm::exec(one("rm")?, a).await,
            Command::Apply(a) if nodes.named => apply::exec_fleet(&nodes, fmt, a).await,
            Command::Apply(a) => apply::exec(one("apply")?, fmt, a).await,
            Command::Experiments(a) => experiments::exec(&nodes, fmt, a).await,
            Command::Get(a) => get::exec(&nodes, fmt, a).await,
            Command::Events(a) => events::exec(&nodes, fmt, a).await,
            Command::Abort(a) => abort::exec(&nodes, fmt, a).await,
            Command::Report(a) => report::exec(&nodes, cli.format, a).await,
            Command::Delete(a) => delete::exec(one("delete")?, a).await.map(|()| 0),
            Command::Image(a) => image::exec(one("image")?, fmt, a).await,
            Command::Pull(a) => pull::exec(one("pull")?, fmt, a).await,
            Command::Network(a) => network::exec(one("network")?, fmt, a).await.map(|()| 0),
            Command::System(a) => system::exec(one("system")?, fmt, a).await.map(|()| 0),
            Command::Completion(_) | Command::Certs(_) | Command::Man { .. } => Ok(0),
        }
    });
    match done {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("chaosctl: {}", one_line(&e));
            ExitCode::FAILURE
        }
    }
}

/// A usage error of `subcommand`, with its usage line; exits 2.
fn usage_error(subcommand: &str, msg: String) -> clap::Error {
    let mut cmd = Cli::command();
    cmd.build();
    match cmd.find_subcommand_mut(subcommand) {
        Some(sub) => sub.error(ErrorKind::ArgumentConflict, msg),
        None => cmd.error(ErrorKind::ArgumentConflict, msg),
    }
}

/// The error and its causes on one line.
pub fn one_line(e: &anyhow::Error) -> String {
    let mut msg = e.to_string();
    for cause in e.chain().skip(1) {
        let c = cause.to_string();
        if !msg.contains(&c) {
            msg = format!("{msg}: {c}");
        }
    }
    msg.replace('\n', " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_report_writes_html_markdown_and_junit() {
        let cli = Cli::try_parse_from([
            "chaosctl", "report", "web", "-o", "html", "--output", "r.html",
        ])
        .unwrap();
        assert_eq!(cli.format, output::Requested::Html);
        let cli = Cli::try_parse_from(["chaosctl", "-o", "junit", "ps"]).unwrap();
        let msg = cli.format.plain().unwrap_err();
        assert_eq!(
            msg,
            "-o junit: only chaosctl report writes junit; use table or json"
        );
        let e = usage_error("ps", msg);
        assert_eq!(e.exit_code(), 2);
        let text = e.render().to_string();
        assert!(
            text.starts_with("error: -o junit: only chaosctl report"),
            "{text}"
        );
        assert!(text.contains("Usage: chaosctl ps [OPTIONS]"), "{text}");
        let cli = Cli::try_parse_from(["chaosctl", "get", "web", "--format", "json"]).unwrap();
        assert_eq!(cli.format.plain(), Ok(output::Format::Json));
    }
}
