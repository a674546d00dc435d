//! `chaosctl events`: an experiment's timeline.

use std::io::Write;

use anyhow::Result;
use jolt_agent::client::{segment, Client};

use crate::experiment::event_line;
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

pub async fn exec(client: &Client, fmt: Format, a: &Args) -> Result<()> {
    let path = format!(
        "/v1/experiments/{}/events?follow={}",
        segment(&a.name),
        a.follow
    );
    let mut out = Events {
        out: std::io::stdout().lock(),
        partial: Vec::new(),
        json: fmt == Format::Json,
    };
    client.stream(&path, &mut out).await?;
    out.flush()?;
    Ok(())
}

/// JSON lines in, JSON lines or readable lines out, whatever the chunks.
struct Events<W: Write> {
    out: W,
    partial: Vec<u8>,
    json: bool,
}

impl<W: Write> Write for Events<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.partial.extend_from_slice(buf);
        while let Some(end) = self.partial.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.partial.drain(..=end).collect();
            if self.json {
                self.out.write_all(&line)?;
                continue;
            }
            let event: serde_json::Value = serde_json::from_slice(&line)
                .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
            writeln!(self.out, "{}", event_line(&event))?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}
