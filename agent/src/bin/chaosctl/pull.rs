//! `chaosctl pull`: an image from a registry into joltd's store.

use anyhow::Result;
use hyper::Method;
use jolt_agent::client::Client;
use jolt_agent::image::Image;
use serde_json::json;

use crate::output::{self, Format};

/// Pull an image from a registry: this node's platform, anonymously (a
/// registry on a loopback address over HTTP, any other over HTTPS); the
/// layers are checked against their digests and unpacked once, as by
/// `image import`
#[derive(Debug, clap::Args)]
pub struct Args {
    /// [REGISTRY/]REPOSITORY[:TAG][@DIGEST]; a short name is Docker Hub's
    /// (busybox is docker.io/library/busybox:latest)
    reference: String,
}

pub async fn exec(client: &Client, fmt: Format, a: &Args) -> Result<u8> {
    let body = json!({"reference": a.reference});
    let image: Image = client
        .call(Method::POST, "/v1/images/pull", Some(&body))
        .await?;
    match fmt {
        Format::Json => output::json(&image),
        Format::Table => println!("{}", image.id),
    }
    Ok(0)
}
