//! `jolt ps ID [PS_ARGS...]`: the container's processes, as `ps` prints
//! them (default `ps -ef`) or as a JSON list of pids.

use anyhow::{bail, Context, Result};
use jolt_runtime::{container, state::Root};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Output format
    #[arg(short, long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Container ID
    pub id: String,
    /// Options for ps (default -ef)
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub ps_args: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Json,
}

pub fn exec(root: &Root, args: &Args) -> Result<()> {
    let pids = container::processes(root, &args.id)?;
    if args.format == Format::Json {
        println!("{}", serde_json::to_string(&pids)?);
        return Ok(());
    }
    let ps_args = if args.ps_args.is_empty() {
        vec!["-ef".to_string()]
    } else {
        args.ps_args.clone()
    };
    let out = std::process::Command::new("ps")
        .args(&ps_args)
        .output()
        .context("running ps")?;
    if !out.status.success() {
        bail!(
            "ps {}: {}",
            ps_args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    print!("{}", filter(&String::from_utf8_lossy(&out.stdout), &pids)?);
    Ok(())
}

/// The header and the lines of `ps` output whose PID column is in `pids`.
fn filter(ps: &str, pids: &[i32]) -> Result<String> {
    let mut lines = ps.lines();
    let header = lines.next().unwrap_or_default();
    let Some(col) = header.split_whitespace().position(|h| h == "PID") else {
        bail!("couldn't find PID field in ps output");
    };
    let mut out = format!("{header}\n");
    for line in lines {
        let pid = line
            .split_whitespace()
            .nth(col)
            .and_then(|p| p.parse().ok());
        if pid.is_some_and(|p| pids.contains(&p)) {
            out.push_str(line);
            out.push('\n');
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #[test]
    fn keeps_the_header_and_the_containers_lines() {
        let ps = "UID PID PPID C STIME TTY TIME CMD\n\
                  root 1 0 0 10:00 ? 00:00:01 /sbin/init\n\
                  root 42 1 0 10:01 ? 00:00:00 sleep 100\n";
        assert_eq!(
            super::filter(ps, &[42]).unwrap(),
            "UID PID PPID C STIME TTY TIME CMD\nroot 42 1 0 10:01 ? 00:00:00 sleep 100\n"
        );
        assert!(super::filter("USER CMD\n", &[1]).is_err());
    }
}
