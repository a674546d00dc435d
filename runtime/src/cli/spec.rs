//! `jolt spec`: write runc's default config.json into a bundle.

use std::fs;
use std::io::Write;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Bundle directory to write config.json into
    #[arg(short, long, default_value = ".")]
    pub bundle: PathBuf,
}

pub fn exec(args: &Args) -> Result<()> {
    let path = args.bundle.join("config.json");
    if path.exists() {
        bail!("File {} exists. Remove it first", path.display());
    }
    let mut text = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b"\t");
    let mut ser = serde_json::Serializer::with_formatter(&mut text, fmt);
    serde::Serialize::serialize(&jolt_runtime::spec::default_config(), &mut ser)?;
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
        .with_context(|| format!("{}", path.display()))?;
    f.write_all(&text)
        .with_context(|| format!("{}", path.display()))?;
    Ok(())
}
