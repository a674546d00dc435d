//! `chaosctl inspect`: one container in detail.

use anyhow::Result;
use hyper::Method;
use jolt_agent::client::{segment, Client};
use jolt_agent::container::Listed;

use crate::output::{self, Format};

/// Show a container: state, pid, address, ports, restarts, last exit, lost log lines, start time, spec
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Name or ID
    name: String,
}

pub async fn exec(client: &Client, fmt: Format, a: &Args) -> Result<()> {
    let path = format!("/v1/containers/{}", segment(&a.name));
    let listed: Listed = client.call(Method::GET, &path, None).await?;
    match fmt {
        Format::Json => output::json(&listed),
        Format::Table => {
            let r = &listed.record;
            let s = &r.status;
            let last_exit = s.last_exit.as_ref().map_or("-".to_string(), |x| {
                let how = x.signal.map_or(String::new(), |n| format!(", signal {n}"));
                format!("{}{how} at {}", x.code, x.at)
            });
            let labels: Vec<_> = r
                .spec
                .labels
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            let rows = [
                ("ID", r.id.clone()),
                ("Name", r.spec.name.clone()),
                ("State", s.state.to_string()),
                ("Pid", s.pid.map_or("-".into(), |p| p.to_string())),
                ("Address", output::address(r)),
                ("Ports", output::ports(r)),
                ("Started", s.started.clone().unwrap_or("-".into())),
                ("Restart policy", r.spec.restart.to_string()),
                ("Restart count", s.restart_count.to_string()),
                ("Last exit", last_exit),
                ("Lost log lines", s.log_dropped_lines.to_string()),
                ("Created", r.created.clone()),
                ("Labels", labels.join(", ")),
                (
                    "Bundle",
                    r.spec
                        .bundle
                        .as_ref()
                        .map_or("(built-in busybox)".into(), |b| b.display().to_string()),
                ),
                ("Command", r.spec.command.join(" ")),
                (
                    "Faults",
                    match listed.faults.is_empty() {
                        true => "-".to_string(),
                        false => listed
                            .faults
                            .iter()
                            .map(|f| match &f.revert_error {
                                Some(e) => {
                                    format!("{} until {}: revert failing: {e}", f.fault, f.until)
                                }
                                None => {
                                    format!("{} by {} until {}", f.fault, f.experiment, f.until)
                                }
                            })
                            .collect::<Vec<_>>()
                            .join("; "),
                    },
                ),
            ];
            for (k, v) in rows {
                println!("{:<15} {v}", format!("{k}:"));
            }
        }
    }
    Ok(())
}
