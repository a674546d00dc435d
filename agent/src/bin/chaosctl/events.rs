//! `chaosctl events`: an experiment's timeline, of every node of a fleet
//! that has it (each line names its node).

use std::io::Write;

use anyhow::{bail, Result};
use jolt_agent::client::{segment, ClientError};

use crate::experiment::event_line;
use crate::fleet::{self, Nodes};
use crate::output::Format;

/// Print an experiment's timeline: scheduled, injected, reverted, failed
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Keep printing events until the experiment ends
    #[arg(long, short = 'f')]
    follow: bool,
    /// The experiment's name
    name: String,
}

pub async fn exec(nodes: &Nodes, fmt: Format, a: &Args) -> Result<u8> {
    let path = format!(
        "/v1/experiments/{}/events?follow={}",
        segment(&a.name),
        a.follow
    );
    let path = path.as_str();
    let answers = nodes
        .each(|n| async move {
            let node = nodes.named.then(|| n.name.clone());
            let mut out = Events {
                out: std::io::stdout(),
                partial: Vec::new(),
                json: fmt == Format::Json,
                node,
            };
            n.client.stream(path, &mut out).await?;
            out.flush()?;
            Ok(())
        })
        .await;
    let (got, failed) = match nodes.named {
        false => fleet::gather(nodes, answers)?,
        true => {
            // A node without the experiment answered 404: not an error
            // unless no node has it.
            let none = answers
                .iter()
                .all(|(_, a)| a.as_ref().is_err_and(not_found));
            if none {
                bail!("experiment {}: not on any node", a.name);
            }
            let kept = answers
                .into_iter()
                .filter(|(_, a)| !a.as_ref().is_err_and(not_found))
                .collect();
            fleet::gather(nodes, kept)?
        }
    };
    drop(got);
    Ok(u8::from(failed))
}

fn not_found(e: &anyhow::Error) -> bool {
    matches!(
        e.downcast_ref::<ClientError>(),
        Some(ClientError::Refused { status: 404, .. })
    )
}

/// JSON lines in, JSON lines or readable lines out, whatever the chunks.
struct Events<W: Write> {
    out: W,
    partial: Vec<u8>,
    json: bool,
    /// The node, when several are asked: a field of each JSON line, the
    /// first word of each readable one.
    node: Option<String>,
}

impl<W: Write> Write for Events<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.partial.extend_from_slice(buf);
        while let Some(end) = self.partial.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.partial.drain(..=end).collect();
            if self.json && self.node.is_none() {
                self.out.write_all(&line)?;
                continue;
            }
            let mut event: serde_json::Value = serde_json::from_slice(&line)
                .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
            // One write per line: lines of several nodes do not mix.
            let text = match (&self.node, self.json) {
                (Some(node), true) => {
                    event["node"] = node.as_str().into();
                    format!("{event}\n")
                }
                (Some(node), false) => format!("{node} {}\n", event_line(&event)),
                (None, _) => format!("{}\n", event_line(&event)),
            };
            self.out.write_all(text.as_bytes())?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}
