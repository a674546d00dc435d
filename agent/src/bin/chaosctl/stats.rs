//! `chaosctl stats`: what containers use: CPU (a share of one CPU over a
//! second), memory and its limit, tasks, and network bytes, from two
//! readings of joltd's a second apart; once, or every two seconds with
//! `--watch`.

use std::time::{Duration, Instant};

use anyhow::Result;
use hyper::Method;
use jolt_agent::client::{segment, Client};
use jolt_agent::container::{Listed, State};
use jolt_agent::stats::Stats;
use serde::Serialize;

use crate::output::{self, Format};

/// Show what containers use (CPU, memory, tasks, network)
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Read again every two seconds until interrupted
    #[arg(long, short = 'w')]
    watch: bool,
    /// Names or IDs (default: every running container)
    names: Vec<String>,
}

/// One container's use over one interval.
#[derive(Debug, Serialize)]
struct Row {
    name: String,
    /// Percent of one CPU.
    cpu_percent: f64,
    memory_bytes: u64,
    memory_limit: Option<u64>,
    pids: u64,
    net_rx_bytes: u64,
    net_tx_bytes: u64,
}

async fn read(client: &Client, name: &str) -> Result<Stats> {
    let path = format!("/v1/containers/{}/stats", segment(name));
    Ok(client.call(Method::GET, &path, None).await?)
}

pub async fn exec(client: &Client, fmt: Format, a: &Args) -> Result<u8> {
    let names = match a.names.is_empty() {
        false => a.names.clone(),
        true => {
            let all: Vec<Listed> = client.call(Method::GET, "/v1/containers", None).await?;
            all.into_iter()
                .filter(|l| l.record.status.state == State::Running)
                .map(|l| l.record.spec.name)
                .collect()
        }
    };
    loop {
        let (t0, mut first) = (Instant::now(), Vec::new());
        for name in &names {
            first.push(read(client, name).await?);
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
        let mut rows = Vec::new();
        for (name, before) in names.iter().zip(&first) {
            let now = read(client, name).await?;
            let elapsed = t0.elapsed().as_nanos().max(1) as f64;
            rows.push(Row {
                name: name.clone(),
                cpu_percent: now.cpu_ns.saturating_sub(before.cpu_ns) as f64 * 100.0 / elapsed,
                memory_bytes: now.memory_bytes,
                memory_limit: now.memory_limit,
                pids: now.pids,
                net_rx_bytes: now.net_rx_bytes,
                net_tx_bytes: now.net_tx_bytes,
            });
        }
        match fmt {
            Format::Json => output::json(&rows),
            Format::Table => {
                let table: Vec<Vec<String>> = rows
                    .iter()
                    .map(|r| {
                        vec![
                            r.name.clone(),
                            format!("{:.1}%", r.cpu_percent),
                            format!(
                                "{} / {}",
                                output::bytes(r.memory_bytes),
                                r.memory_limit.map_or("-".to_string(), output::bytes)
                            ),
                            r.pids.to_string(),
                            format!(
                                "{} / {}",
                                output::bytes(r.net_rx_bytes),
                                output::bytes(r.net_tx_bytes)
                            ),
                        ]
                    })
                    .collect();
                output::table(
                    &["NAME", "CPU", "MEM / LIMIT", "PIDS", "NET RX / TX"],
                    &table,
                );
            }
        }
        if !a.watch {
            return Ok(0);
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_shown_in_binary_units() {
        assert_eq!(output::bytes(80), "80B");
        assert_eq!(output::bytes(1536), "1.5KiB");
        assert_eq!(output::bytes(64 << 20), "64.0MiB");
        assert_eq!(output::bytes(3 << 30), "3.00GiB");
    }
}
