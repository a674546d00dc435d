//! `chaosctl pull`: an image from a registry into joltd's store.

use std::path::PathBuf;

use anyhow::{Context, Result};
use hyper::Method;
use jolt_agent::client::Client;
use jolt_agent::image::credentials::{self, Credentials};
use jolt_agent::image::Image;
use serde_json::json;

use crate::output::{self, Format};

/// Pull an image from a registry: this node's platform, anonymously unless
/// credentials are given or found in an auth file (a registry on a
/// loopback address over HTTP, any other over HTTPS); the layers are
/// checked against their digests and unpacked once, as by `image import`
#[derive(Debug, clap::Args)]
pub struct Args {
    /// [REGISTRY/]REPOSITORY[:TAG][@DIGEST]; a short name is Docker Hub's
    /// (busybox is docker.io/library/busybox:latest)
    reference: String,
    /// USER:PASSWORD for the registry (sent to joltd, used for this pull,
    /// kept nowhere)
    #[arg(long, value_name = "USER:PASSWORD", conflicts_with = "authfile")]
    creds: Option<String>,
    /// An auth file as `podman login` writes it (default: podman's:
    /// $REGISTRY_AUTH_FILE, $XDG_RUNTIME_DIR/containers/auth.json or
    /// /run/containers/UID/auth.json, then ~/.docker/config.json)
    #[arg(long, value_name = "FILE")]
    authfile: Option<PathBuf>,
}

pub async fn exec(client: &Client, fmt: Format, a: &Args) -> Result<u8> {
    let credentials = find_credentials(a)?;
    let body = json!({"reference": a.reference, "credentials": credentials});
    let image: Image = client
        .call(Method::POST, "/v1/images/pull", Some(&body))
        .await?;
    match fmt {
        Format::Json => output::json(&image),
        Format::Table => println!("{}", image.id),
    }
    Ok(0)
}

/// `--creds`, else the registry's entry in `--authfile` (which must
/// exist), else in the first of podman's default auth files that has one.
fn find_credentials(a: &Args) -> Result<Option<Credentials>> {
    if let Some(creds) = &a.creds {
        return Ok(Some(credentials::parse_creds(creds)?));
    }
    let registry = jolt_agent::image::pull::parse(&a.reference)?
        .registry()
        .to_string();
    if let Some(file) = &a.authfile {
        let text = std::fs::read_to_string(file)
            .with_context(|| format!("--authfile {}", file.display()))?;
        return match credentials::from_auth_file(&text, file, &registry)? {
            Some(found) => Ok(Some(found)),
            None => anyhow::bail!("--authfile {}: no entry for {registry}", file.display()),
        };
    }
    let env = |name| std::env::var_os(name).map(PathBuf::from);
    let files = credentials::default_auth_files(
        nix::unistd::getuid().as_raw(),
        env("REGISTRY_AUTH_FILE"),
        env("XDG_RUNTIME_DIR"),
        env("HOME"),
    );
    for file in files {
        if let Ok(text) = std::fs::read_to_string(&file) {
            if let Some(found) = credentials::from_auth_file(&text, &file, &registry)? {
                return Ok(Some(found));
            }
        }
    }
    Ok(None)
}
