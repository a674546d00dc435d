//! `chaosctl image`: the images in joltd's store (import, ls, rm).

use anyhow::{Context, Result};
use hyper::Method;
use jolt_agent::client::{segment, Client};
use jolt_agent::image::{Image, Removal};
use serde_json::json;

use crate::output::{self, Format};

/// The images containers run from
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Import an image: an OCI image layout directory, or an oci-archive
    /// or docker-archive file (what `podman save`, `docker save` and
    /// `skopeo copy` write; gzip-compressed as a whole is fine). Layers
    /// are checked against their digests and unpacked once.
    Import {
        /// The archive file or layout directory, on this node
        file: std::path::PathBuf,
        /// NAME[:TAG] to give it (default: the names the archive gives)
        #[arg(long)]
        name: Option<String>,
    },
    /// List the images
    Ls,
    /// Remove images (refused while a container, running or not, uses
    /// one); a name of an image that has other names is only untagged
    Rm {
        /// Names or ID prefixes
        #[arg(required = true)]
        images: Vec<String>,
    },
}

pub async fn exec(client: &Client, fmt: Format, a: &Args) -> Result<u8> {
    match &a.command {
        Command::Import { file, name } => {
            let path =
                std::path::absolute(file).with_context(|| format!("image {}", file.display()))?;
            let body = json!({"path": path, "name": name});
            let image: Image = client.call(Method::POST, "/v1/images", Some(&body)).await?;
            match fmt {
                Format::Json => output::json(&image),
                Format::Table => println!("{}", image.id),
            }
            Ok(0)
        }
        Command::Ls => {
            let images: Vec<Image> = client.call(Method::GET, "/v1/images", None).await?;
            match fmt {
                Format::Json => output::json(&images),
                Format::Table => output::table(&["NAME", "ID", "CREATED", "SIZE"], &rows(&images)),
            }
            Ok(0)
        }
        Command::Rm { images } => Ok(output::each(images, |reference| async move {
            let path = format!("/v1/images/{}", segment_all(reference));
            let removal: Removal = client.call(Method::DELETE, &path, None).await?;
            match fmt {
                Format::Json => output::json(&removal),
                Format::Table => {
                    for name in &removal.untagged {
                        println!("Untagged: {name}");
                    }
                    if let Some(id) = &removal.deleted {
                        println!("Deleted: {id}");
                    }
                }
            }
            Ok(())
        })
        .await),
    }
}

/// A reference as one path segment: its `/` encoded too.
fn segment_all(reference: &str) -> String {
    segment(reference).replace('/', "%2F")
}

/// One row per name (an image without one shows `<none>`), as
/// `podman images` lists them.
fn rows(images: &[Image]) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    for i in images {
        let none = ["<none>".to_string()];
        let names = if i.names.is_empty() {
            &none[..]
        } else {
            &i.names[..]
        };
        for name in names {
            rows.push(vec![
                name.clone(),
                i.id.chars().take(12).collect(),
                output::ago(i.created.as_deref()),
                output::bytes(i.size),
            ]);
        }
    }
    rows
}
