//! `chaosctl logs`: a container's stdout and stderr.

use std::io::Write;

use anyhow::Result;
use jolt_agent::client::{segment, Client};

/// Print a container's logs (stdout and stderr, every run, as far back as
/// joltd's log size limit keeps them; lines jolt could not write are
/// marked "jolt: N lines dropped: CAUSE")
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Keep printing new lines until the container exits for good
    #[arg(long, short = 'f')]
    follow: bool,
    /// Show each line's time and stream
    #[arg(long, short = 't')]
    timestamps: bool,
    /// Name or ID
    name: String,
}

pub async fn exec(client: &Client, a: &Args) -> Result<()> {
    let path = format!(
        "/v1/containers/{}/logs?follow={}",
        segment(&a.name),
        a.follow
    );
    let mut out = Lines::new(std::io::stdout().lock(), a.timestamps);
    client.stream(&path, &mut out).await?;
    out.flush()?;
    Ok(())
}

/// Turns the stored `TIME STREAM TEXT` lines into TEXT (or keeps them
/// whole with --timestamps), whatever the chunks they come in.
pub struct Lines<W: Write> {
    out: W,
    partial: Vec<u8>,
    timestamps: bool,
}

impl<W: Write> Lines<W> {
    pub fn new(out: W, timestamps: bool) -> Lines<W> {
        Lines {
            out,
            partial: Vec::new(),
            timestamps,
        }
    }
}

impl<W: Write> Write for Lines<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.partial.extend_from_slice(buf);
        while let Some(end) = self.partial.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.partial.drain(..=end).collect();
            let text = if self.timestamps {
                &line[..]
            } else {
                let mut fields = line.splitn(3, |&b| b == b' ');
                let (_, _, text) = (fields.next(), fields.next(), fields.next());
                text.unwrap_or(b"\n")
            };
            self.out.write_all(text)?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_lose_their_time_and_stream_whatever_the_chunks() {
        let mut out = Lines::new(Vec::new(), false);
        let text = b"2026-12-01T00:00:00Z stdout hello world\n2026-12-01T00:00:01Z stderr oops\n";
        for chunk in text.chunks(7) {
            out.write_all(chunk).unwrap();
        }
        assert_eq!(out.out, b"hello world\noops\n");
        let mut stamped = Lines::new(Vec::new(), true);
        stamped.write_all(text).unwrap();
        assert_eq!(stamped.out, text);
    }
}
