//! `chaosctl report`: an experiment's report from joltd, rendered as
//! JSON, HTML, Markdown or JUnit, to stdout or to a file replaced whole.

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use hyper::Method;
use jolt_agent::client::segment;
use jolt_agent::report::{html, junit, markdown, Report, SCHEMA};
use serde_json::{json, Value};

use crate::fleet::{self, Nodes};
use crate::output::Requested;

/// Write an experiment's report: its verdict, each fault with its timing
/// and recovery, each probe's success rate and latency before, during and
/// after the faults
///
/// -o picks the format: table (the default) prints a short Markdown
/// summary; markdown the same, for a pull-request comment; json the whole
/// report (schema jolt.report/v1, described in docs/report.schema.json);
/// html one self-contained page with a timeline plot, readable offline;
/// junit a test case for the verdict, each probe and each fault, for CI.
/// A running experiment's report is the report so far.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  chaosctl report web-pause\n  chaosctl report web-pause -o html --output web-pause.html\n  chaosctl report web-pause -o junit --output results/chaos.xml"
)]
pub struct Args {
    /// Write the report to FILE instead of stdout (written whole, mode
    /// 0644, through a temporary file renamed over FILE: a failure leaves
    /// FILE as it was)
    #[arg(long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// The experiment's name
    name: String,
}

pub async fn exec(nodes: &Nodes, fmt: Requested, a: &Args) -> Result<u8> {
    let path = format!("/v1/experiments/{}/report", segment(&a.name));
    let (got, failed) = fleet::wherever(nodes, Method::GET, &path).await?;
    let text = match got.as_slice() {
        [(_, answer)] => render(answer.clone(), fmt)?,
        many => match fmt {
            Requested::Html | Requested::Junit => bail!(
                "experiment {}: on {} nodes; an html or junit report is of one node (give one --node)",
                a.name,
                many.len()
            ),
            Requested::Json => {
                let all: Vec<Value> = many
                    .iter()
                    .map(|(node, r)| json!({"node": node, "report": r}))
                    .collect();
                serde_json::to_string_pretty(&all).expect("JSON values serialize") + "\n"
            }
            _ => {
                let mut text = String::new();
                for (node, r) in many {
                    text.push_str(&format!("## node {node}\n\n{}\n", render(r.clone(), fmt)?));
                }
                text
            }
        },
    };
    match &a.output {
        None => {
            let mut out = io::stdout().lock();
            out.write_all(text.as_bytes())
                .and_then(|()| out.flush())
                .context("writing the report to stdout")?;
        }
        Some(file) => write_whole(file, text.as_bytes())
            .with_context(|| format!("{}: writing the report", file.display()))?,
    }
    Ok(u8::from(failed))
}

/// The report joltd sent, in the format asked for.
fn render(answer: Value, fmt: Requested) -> Result<String> {
    let schema = answer["schema"].as_str().unwrap_or("none");
    if schema != SCHEMA {
        bail!("joltd sent a report of schema {schema}; this chaosctl reads {SCHEMA} (use chaosctl of joltd's version)");
    }
    if fmt == Requested::Json {
        // As joltd sent it.
        return Ok(serde_json::to_string_pretty(&answer).expect("JSON values serialize") + "\n");
    }
    let report: Report =
        serde_json::from_value(answer).context("joltd sent a report this chaosctl cannot read")?;
    Ok(match fmt {
        Requested::Html => html::render(&report),
        Requested::Junit => junit::render(&report),
        Requested::Table | Requested::Markdown | Requested::Json => markdown::render(&report),
    })
}

/// Writes `bytes` to `path` whole: into a new temporary file beside it
/// (mode 0644 before the umask), synced, then renamed over `path`; on a
/// failure the temporary file goes and `path` is as it was.
fn write_whole(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "not a file name"))?;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o644)
        .open(&tmp)?;
    let written = file
        .write_all(bytes)
        .and_then(|()| file.sync_all())
        .and_then(|()| fs::rename(&tmp, path));
    if written.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    written
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_is_replaced_whole_or_left_as_it_was() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("report.html");
        fs::write(&file, "old").unwrap();
        write_whole(&file, b"<!DOCTYPE html>").unwrap();
        assert_eq!(fs::read_to_string(&file).unwrap(), "<!DOCTYPE html>");
        // A directory in the way: an error, and nothing left behind.
        let taken = dir.path().join("taken");
        fs::create_dir(&taken).unwrap();
        fs::write(taken.join("inside"), "").unwrap();
        assert!(write_whole(&taken, b"x").is_err());
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(names.len(), 2, "{names:?}");
        assert!(write_whole(&dir.path().join("missing/r.html"), b"x").is_err());
    }

    #[test]
    fn a_report_of_another_schema_is_refused() {
        let e = render(
            serde_json::json!({"schema": "jolt.report/v2"}),
            Requested::Html,
        )
        .unwrap_err()
        .to_string();
        assert_eq!(
            e,
            "joltd sent a report of schema jolt.report/v2; this chaosctl reads jolt.report/v1 (use chaosctl of joltd's version)"
        );
    }
}
