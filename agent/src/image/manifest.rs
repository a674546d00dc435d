//! manifest: what an archive says the image is, in either format.
//!
//! Reads an OCI image layout (`oci-layout`, `index.json`, content-addressed
//! blobs; an index of several platforms picks this node's) or a
//! docker-archive (`manifest.json` naming the config and the layer files)
//! into one [`Plan`]: the config (read whole, its digest checked), the
//! layers in order with the digests they must have (the blob's, where the
//! format names one, and the uncompressed tar's from the config's
//! `rootfs.diff_ids`), and the names the archive gives the image.

use std::io::Read;

use oci_spec::image::{Arch, ImageConfiguration, ImageIndex, ImageManifest, Os};
use sha2::{Digest as _, Sha256};

use super::source::Source;
use super::ImageError;

/// The largest index, manifest or config read (they are JSON, read whole).
const MAX_JSON: u64 = 16 << 20;
/// The annotation an OCI index names an image by.
const REF_NAME: &str = "org.opencontainers.image.ref.name";

/// One image in an archive, ready to unpack.
#[derive(Debug)]
pub struct Plan {
    /// The config as it was in the archive.
    pub config_bytes: Vec<u8>,
    pub config: ImageConfiguration,
    /// The hex SHA-256 of the config: the image's ID.
    pub id: String,
    pub layers: Vec<Layer>,
    /// Names the archive gives the image (`RepoTags`, `ref.name`).
    pub names: Vec<String>,
}

/// One layer: where it is, and what it must hash to.
#[derive(Debug, Clone, PartialEq)]
pub struct Layer {
    pub member: String,
    /// The hex SHA-256 of the member as stored, when the format names it.
    pub blob: Option<String>,
    /// The hex SHA-256 of the uncompressed tar (the config's diff_id).
    pub diff_id: String,
}

/// The hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Reads the plan of the one image in `src`, which came from `path`.
pub fn plan(src: &dyn Source, path: &std::path::Path) -> Result<Plan, ImageError> {
    if src.has("index.json") {
        oci(src)
    } else if src.has("manifest.json") {
        docker(src)
    } else {
        Err(ImageError::Malformed(format!(
            "{}: neither an OCI image layout (no index.json) nor a docker-archive (no manifest.json)",
            path.display()
        )))
    }
}

/// Reads member `name` whole (at most [`MAX_JSON`] bytes), checking its
/// SHA-256 when `want` names one.
fn read_member(src: &dyn Source, name: &str, want: Option<&str>) -> Result<Vec<u8>, ImageError> {
    let mut bytes = Vec::new();
    src.open(name)?
        .take(MAX_JSON + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| ImageError::Malformed(format!("{name}: {e}")))?;
    if bytes.len() as u64 > MAX_JSON {
        return Err(ImageError::Malformed(format!(
            "{name}: larger than {MAX_JSON} bytes"
        )));
    }
    if let Some(want) = want {
        let got = sha256_hex(&bytes);
        if got != want {
            return Err(ImageError::Digest {
                what: name.to_string(),
                want: format!("sha256:{want}"),
                got: format!("sha256:{got}"),
            });
        }
    }
    Ok(bytes)
}

fn parse<T: serde::de::DeserializeOwned>(name: &str, bytes: &[u8]) -> Result<T, ImageError> {
    serde_json::from_slice(bytes).map_err(|e| ImageError::Malformed(format!("{name}: {e}")))
}

/// The hex of a `sha256:HEX` digest; other algorithms are refused.
/// The hex of a SHA-256 digest; another algorithm is refused.
pub(super) fn sha256_of(digest: &oci_spec::image::Digest) -> Result<String, ImageError> {
    match digest.algorithm().as_ref() {
        "sha256" => Ok(digest.digest().to_string()),
        other => Err(ImageError::Malformed(format!(
            "{digest}: digest algorithm {other} is not supported (sha256 only)"
        ))),
    }
}

/// Where a blob is in an OCI layout.
pub(super) fn blob_member(hex: &str) -> String {
    format!("blobs/sha256/{hex}")
}

fn oci(src: &dyn Source) -> Result<Plan, ImageError> {
    let index: ImageIndex = parse("index.json", &read_member(src, "index.json", None)?)?;
    let (manifest_desc, names) = pick_manifest(src, &index, 0)?;
    let manifest_hex = sha256_of(manifest_desc.digest())?;
    let name = blob_member(&manifest_hex);
    let manifest: ImageManifest = parse(&name, &read_member(src, &name, Some(&manifest_hex))?)?;
    let config_hex = sha256_of(manifest.config().digest())?;
    let member = blob_member(&config_hex);
    let config_bytes = read_member(src, &member, Some(&config_hex))?;
    let config: ImageConfiguration = parse(&member, &config_bytes)?;
    let blobs = manifest
        .layers()
        .iter()
        .map(|l| sha256_of(l.digest()))
        .collect::<Result<Vec<_>, _>>()?;
    let layers = pair_layers(
        &config,
        blobs.into_iter().map(|b| (blob_member(&b), Some(b))),
    )?;
    Ok(Plan {
        config_bytes,
        config,
        id: config_hex,
        layers,
        names,
    })
}

/// The manifest of this node's platform in `index` (an index inside the
/// index is followed, once), and the names it is annotated with.
fn pick_manifest(
    src: &dyn Source,
    index: &ImageIndex,
    depth: usize,
) -> Result<(oci_spec::image::Descriptor, Vec<String>), ImageError> {
    let here = |d: &oci_spec::image::Descriptor| {
        d.platform()
            .as_ref()
            .is_none_or(|p| *p.os() == Os::Linux && *p.architecture() == Arch::default())
    };
    let names = |d: &oci_spec::image::Descriptor| {
        d.annotations()
            .as_ref()
            .and_then(|a| a.get(REF_NAME))
            .into_iter()
            .cloned()
            .collect::<Vec<_>>()
    };
    let ours: Vec<_> = index.manifests().iter().filter(|d| here(d)).collect();
    let Some(first) = ours.first() else {
        return Err(ImageError::Malformed(format!(
            "index.json: no image for {}/{} among its {} manifests",
            Os::Linux,
            Arch::default(),
            index.manifests().len()
        )));
    };
    if first
        .media_type()
        .to_string()
        .ends_with("image.index.v1+json")
    {
        if depth > 0 {
            return Err(ImageError::Malformed(
                "index.json: indexes nested more than twice".into(),
            ));
        }
        let hex = sha256_of(first.digest())?;
        let member = blob_member(&hex);
        let inner: ImageIndex = parse(&member, &read_member(src, &member, Some(&hex))?)?;
        let (desc, mut inner_names) = pick_manifest(src, &inner, depth + 1)?;
        inner_names.extend(names(first));
        return Ok((desc, inner_names));
    }
    let all_names = ours
        .iter()
        .filter(|d| d.digest() == first.digest())
        .flat_map(|d| names(d))
        .collect();
    Ok(((*first).clone(), all_names))
}

/// The `manifest.json` of a docker-archive: one entry per image.
#[derive(serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DockerEntry {
    config: String,
    #[serde(default)]
    repo_tags: Option<Vec<String>>,
    layers: Vec<String>,
}

fn docker(src: &dyn Source) -> Result<Plan, ImageError> {
    let entries: Vec<DockerEntry> =
        parse("manifest.json", &read_member(src, "manifest.json", None)?)?;
    let entry = match entries.as_slice() {
        [one] => one,
        [] => {
            return Err(ImageError::Malformed(
                "manifest.json: no image in it".into(),
            ))
        }
        many => {
            return Err(ImageError::Malformed(format!(
                "manifest.json: {} images in one archive; save one image per archive",
                many.len()
            )))
        }
    };
    let config_bytes = read_member(src, &entry.config, None)?;
    let id = sha256_hex(&config_bytes);
    // The config's file is named by its digest (`HEX.json`, or
    // `blobs/sha256/HEX` in newer archives): it must match.
    let named = entry.config.rsplit('/').next().unwrap_or_default();
    let named = named.strip_suffix(".json").unwrap_or(named);
    if named.len() == 64 && named.bytes().all(|b| b.is_ascii_hexdigit()) && named != id {
        return Err(ImageError::Digest {
            what: entry.config.clone(),
            want: format!("sha256:{named}"),
            got: format!("sha256:{id}"),
        });
    }
    let config: ImageConfiguration = parse(&entry.config, &config_bytes)?;
    let layers = pair_layers(&config, entry.layers.iter().map(|l| (l.clone(), None)))?;
    Ok(Plan {
        config_bytes,
        config,
        id,
        layers,
        names: entry.repo_tags.clone().unwrap_or_default(),
    })
}

/// The layers, each with its diff_id from the config (the counts must
/// agree), for a Linux image of this node's architecture.
fn pair_layers(
    config: &ImageConfiguration,
    members: impl ExactSizeIterator<Item = (String, Option<String>)>,
) -> Result<Vec<Layer>, ImageError> {
    if *config.os() != Os::Linux || *config.architecture() != Arch::default() {
        return Err(ImageError::Platform {
            image: format!("{}/{}", config.os(), config.architecture()),
            node: format!("{}/{}", Os::Linux, Arch::default()),
        });
    }
    let diff_ids = config.rootfs().diff_ids();
    if diff_ids.len() != members.len() {
        return Err(ImageError::Malformed(format!(
            "the config lists {} layers (rootfs.diff_ids), the manifest {}",
            diff_ids.len(),
            members.len()
        )));
    }
    members
        .zip(diff_ids)
        .map(|((member, blob), diff)| {
            let diff_id = match diff.split_once(':') {
                Some(("sha256", hex)) if hex.len() == 64 => hex.to_ascii_lowercase(),
                _ => {
                    return Err(ImageError::Malformed(format!(
                        "rootfs.diff_ids: {diff:?} is not a sha256 digest"
                    )))
                }
            };
            Ok(Layer {
                member,
                blob,
                diff_id,
            })
        })
        .collect()
}
