//! image: container images in joltd's store.
//!
//! Owns importing an image (an OCI layout, `oci-archive` or
//! `docker-archive`; see [`source`] and [`manifest`]; a registry's image
//! is fetched as a layout by [`pull`] first), unpacked once
//! ([`unpack`]) into `images/oci/ID/rootfs` beside its record
//! `images/oci/ID/image.json`, where ID is the hex SHA-256 of its config
//! (the ID podman and Docker show). An import is made in a directory of
//! its own (`images/oci/.import-*`) and renamed into place whole, so a
//! failed or interrupted one leaves nothing but that directory, which the
//! import itself removes, or the next start of joltd. Names (`NAME:TAG`)
//! are unique: importing a name another image holds moves it. An image
//! is found by a name (the `:latest` tag, a `localhost/` prefix and Docker
//! Hub's `docker.io/library/` may be left out, as podman allows) or by a prefix of its ID. What a container
//! makes of the image's config is [`process`]'s.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::store::{read_json, write_json, StoreError};

pub mod credentials;
pub mod manifest;
pub mod process;
pub mod pull;
pub mod source;
pub mod unpack;

#[cfg(test)]
mod tests;

/// The image store's directory, in joltd's `images/`.
pub const DIR: &str = "oci";
/// The record of an image, stored beside its rootfs.
pub const RECORD: &str = "image.json";
/// The prefix of an import's own directory, until it is renamed.
const IMPORTING: &str = ".import-";

#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error("{}: {cause}", path.display())]
    Read { path: PathBuf, cause: io::Error },
    #[error("malformed image: {0}")]
    Malformed(String),
    #[error("layer {layer}: {what}")]
    Layer { layer: String, what: String },
    #[error("{what}: digest mismatch: the archive says {want}, its content is {got} (corrupt or altered)")]
    Digest {
        what: String,
        want: String,
        got: String,
    },
    #[error("the image is for {image}; this node is {node}")]
    Platform { image: String, node: String },
    #[error("image {0}: no such image")]
    NotFound(String),
    #[error("image {reference}: matches {count} images; give more of the ID or a name")]
    Ambiguous { reference: String, count: usize },
    #[error("image {reference}: used by container {container}; remove the container first")]
    InUse {
        reference: String,
        container: String,
    },
    #[error("name {name:?}: {why}")]
    Name { name: String, why: String },
    /// A registry refused, failed or could not be reached.
    #[error("pulling {reference}: {why}")]
    Registry { reference: String, why: String },
    #[error("image store {}: {cause}", path.display())]
    Store { path: PathBuf, cause: io::Error },
    #[error(transparent)]
    Record(#[from] StoreError),
}

/// An image in the store, as `chaosctl image ls` shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Image {
    /// The hex SHA-256 of its config.
    pub id: String,
    pub names: Vec<String>,
    /// When the image was built (its config's `created`), if it says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    /// When it was imported, RFC 3339.
    pub imported: String,
    /// Bytes of its regular files, as unpacked.
    pub size: u64,
    /// What its containers run by default.
    #[serde(default)]
    pub config: Option<oci_spec::image::Config>,
}

/// What removing an image by a reference did, as Docker and podman
/// report it: a name of an image with others only loses that name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Removal {
    pub untagged: Vec<String>,
    /// The ID of the image deleted, when it was.
    pub deleted: Option<String>,
}

/// Checks an image name: `[REGISTRY/]PATH[:TAG]`, lowercase path
/// components of letters, digits and `._-`, a tag of at most 128 of
/// `A-Za-z0-9_.-`; no digest. The name with `:latest` when it has no tag.
pub fn normalize(name: &str) -> Result<String, ImageError> {
    let bad = |why: &str| ImageError::Name {
        name: name.to_string(),
        why: why.to_string(),
    };
    if name.contains('@') {
        return Err(bad(
            "a digest reference cannot name an image; give NAME[:TAG]",
        ));
    }
    let (path, tag) = match name.rsplit_once(':') {
        Some((p, t)) if !t.contains('/') => (p, Some(t)),
        _ => (name, None),
    };
    // The first of several components may be a registry host (`:PORT`,
    // capitals allowed).
    let parts = path.split('/').count();
    let path_ok = !path.is_empty()
        && path.len() <= 255
        && path.split('/').enumerate().all(|(i, part)| {
            !part.is_empty()
                && part.bytes().all(|b| {
                    b.is_ascii_lowercase()
                        || b.is_ascii_digit()
                        || matches!(b, b'.' | b'_' | b'-')
                        || (i == 0 && parts > 1 && (b == b':' || b.is_ascii_uppercase()))
                })
        });
    if !path_ok {
        return Err(bad(
            "expected [REGISTRY/]PATH[:TAG] with lowercase letters, digits, '.', '_' and '-'",
        ));
    }
    match tag {
        Some(t)
            if t.is_empty()
                || t.len() > 128
                || !t
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-')) =>
        {
            Err(bad("a tag is 1 to 128 letters, digits, '_', '.' or '-'"))
        }
        Some(_) => Ok(name.to_string()),
        None => Ok(format!("{name}:latest")),
    }
}

/// Whether the stored `name` answers to `reference` (normalized): the
/// same, or the same but for a prefix the reference may leave out, as
/// podman and Docker allow: `localhost/`, and Docker Hub's
/// `docker.io/library/` (one component) or `docker.io/` (several).
fn answers_to(name: &str, reference: &str) -> bool {
    name == reference
        || name.strip_prefix("localhost/") == Some(reference)
        || name.strip_prefix("docker.io/library/") == Some(reference)
        || (reference.contains('/') && name.strip_prefix("docker.io/") == Some(reference))
}

/// The images in a store directory (`images/oci`).
#[derive(Debug, Clone)]
pub struct Images {
    dir: PathBuf,
    /// Held while an image is named or removed, and while a container
    /// that uses one is added to joltd's table: an image is never removed
    /// between a run finding it and the run being seen to use it.
    lock: std::sync::Arc<std::sync::Mutex<()>>,
}

impl Images {
    /// The store at `dir`, as it is.
    pub fn at(dir: &Path) -> Images {
        Images {
            dir: dir.to_path_buf(),
            lock: Default::default(),
        }
    }

    /// Holds the store's lock (see [`Images::lock`]'s field).
    pub fn lock(&self) -> std::sync::MutexGuard<'_, ()> {
        self.lock.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The record of image `id`.
    pub fn get(&self, id: &str) -> Result<Image, ImageError> {
        read_json(&self.dir.join(id).join(RECORD))?.ok_or_else(|| ImageError::NotFound(id.into()))
    }

    /// The store at `dir`, made (0700) when missing; imports a joltd
    /// killed mid-way left are removed.
    pub fn open(dir: &Path) -> Result<Images, ImageError> {
        let err = |cause| ImageError::Store {
            path: dir.to_path_buf(),
            cause,
        };
        std::os::unix::fs::DirBuilderExt::mode(fs::DirBuilder::new().recursive(true), 0o700)
            .create(dir)
            .map_err(err)?;
        for entry in fs::read_dir(dir).map_err(err)? {
            let entry = entry.map_err(err)?;
            if entry.file_name().to_string_lossy().starts_with(IMPORTING) {
                tracing::info!("removing an unfinished import: {}", entry.path().display());
                fs::remove_dir_all(entry.path()).map_err(err)?;
            }
        }
        Ok(Images::at(dir))
    }

    /// The rootfs of image `id`.
    pub fn rootfs(&self, id: &str) -> PathBuf {
        self.dir.join(id).join("rootfs")
    }

    /// Every image, by name.
    pub fn list(&self) -> Result<Vec<Image>, ImageError> {
        let err = |cause| ImageError::Store {
            path: self.dir.clone(),
            cause,
        };
        let mut out = Vec::new();
        for entry in fs::read_dir(&self.dir).map_err(err)? {
            let entry = entry.map_err(err)?;
            if entry.file_name().to_string_lossy().starts_with('.') {
                continue;
            }
            // A record a damaged disk left unreadable hides that image
            // only, not the store: it is logged for a person to look at.
            match read_json::<Image>(&entry.path().join(RECORD)) {
                Ok(Some(image)) => out.push(image),
                Ok(None) => {}
                Err(e) => tracing::warn!("skipping an image: {e}"),
            }
        }
        out.sort_by(|a, b| a.names.cmp(&b.names).then(a.id.cmp(&b.id)));
        Ok(out)
    }

    /// The image `reference` names: a name or an ID prefix (at least 4
    /// hex digits, `sha256:` allowed).
    pub fn find(&self, reference: &str) -> Result<Image, ImageError> {
        let images = self.list()?;
        let by_name = normalize(reference).ok().and_then(|r| {
            images
                .iter()
                .find(|i| i.names.iter().any(|n| answers_to(n, &r)))
        });
        if let Some(image) = by_name {
            return Ok(image.clone());
        }
        let hex = reference.strip_prefix("sha256:").unwrap_or(reference);
        if hex.len() >= 4 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            let hits: Vec<_> = images.iter().filter(|i| i.id.starts_with(hex)).collect();
            match hits.as_slice() {
                [one] => return Ok((*one).clone()),
                [] => {}
                many => {
                    return Err(ImageError::Ambiguous {
                        reference: reference.to_string(),
                        count: many.len(),
                    })
                }
            }
        }
        Err(ImageError::NotFound(reference.to_string()))
    }

    /// The name of `image` that `reference` gave, if it gave one.
    pub fn matched_name(image: &Image, reference: &str) -> Option<String> {
        let r = normalize(reference).ok()?;
        image.names.iter().find(|n| answers_to(n, &r)).cloned()
    }

    /// Takes `name` from image `id`.
    pub fn untag(&self, id: &str, name: &str) -> Result<(), ImageError> {
        let mut image = self.get(id)?;
        image.names.retain(|n| n != name);
        Ok(write_json(&self.dir.join(id).join(RECORD), &image)?)
    }

    /// A directory of the store's for work not yet done (an import, a
    /// pull's download): removed when dropped, or at the next start.
    pub fn scratch(&self) -> Result<tempfile::TempDir, ImageError> {
        tempfile::Builder::new()
            .prefix(IMPORTING)
            .tempdir_in(&self.dir)
            .map_err(|cause| ImageError::Store {
                path: self.dir.clone(),
                cause,
            })
    }

    /// Imports the image at `path` (a file or a layout directory), named
    /// `name` when given, else by the names the archive gives it.
    /// Nothing stays in the store when it fails.
    pub fn import(&self, path: &Path, name: Option<&str>) -> Result<Image, ImageError> {
        let name = name.map(normalize).transpose()?;
        let work = self.scratch()?;
        let src = source::open(path, work.path())?;
        let plan = manifest::plan(src.as_ref(), path)?;
        let mut names: Vec<String> = match name {
            Some(n) => vec![n],
            None => plan
                .names
                .iter()
                .filter_map(|n| normalize(n).ok())
                .collect(),
        };
        names.sort();
        names.dedup();
        let final_dir = self.dir.join(&plan.id);
        let size = if final_dir.join(RECORD).is_file() {
            None
        } else {
            let rootfs = work.path().join("rootfs");
            fs::create_dir(&rootfs).map_err(|cause| ImageError::Store {
                path: rootfs.clone(),
                cause,
            })?;
            let canonical = fs::canonicalize(&rootfs).map_err(|cause| ImageError::Store {
                path: rootfs.clone(),
                cause,
            })?;
            let mut size = 0;
            for layer in &plan.layers {
                size += unpack::apply(src.as_ref(), layer, &canonical)?;
            }
            Some(size)
        };
        drop(src);
        let _named = self.lock();
        let image = match size {
            Some(size) => {
                let image = Image {
                    id: plan.id.clone(),
                    names: Vec::new(),
                    created: plan.config.created().clone(),
                    imported: crate::monitor::now(),
                    size,
                    config: plan.config.config().clone(),
                };
                let _ = fs::remove_file(work.path().join("archive.tar"));
                write_json(&work.path().join("config.json"), &plan.config)?;
                write_json(&work.path().join(RECORD), &image)?;
                let work = work.keep();
                let renamed = fs::rename(&work, &final_dir);
                if renamed.is_err() {
                    let _ = fs::remove_dir_all(&work);
                }
                match renamed {
                    Ok(()) => image,
                    // Another import of the same image finished first.
                    Err(_) if final_dir.join(RECORD).is_file() => self.find(&plan.id)?,
                    Err(cause) => {
                        return Err(ImageError::Store {
                            path: final_dir,
                            cause,
                        })
                    }
                }
            }
            None => self.find(&plan.id)?,
        };
        self.name(&image.id, &names)
    }

    /// Adds `names` to image `id`, taking them from any other image.
    fn name(&self, id: &str, names: &[String]) -> Result<Image, ImageError> {
        let mut target = None;
        for mut image in self.list()? {
            let before = image.names.len();
            image.names.retain(|n| !names.contains(n));
            if image.id == id {
                image.names.extend(names.iter().cloned());
                image.names.sort();
                write_json(&self.dir.join(&image.id).join(RECORD), &image)?;
                target = Some(image);
            } else if image.names.len() != before {
                write_json(&self.dir.join(&image.id).join(RECORD), &image)?;
            }
        }
        target.ok_or_else(|| ImageError::NotFound(id.to_string()))
    }

    /// Takes image `id` out of the store: renamed aside, so that no
    /// container can start from it half-removed. The caller holds the
    /// lock, having checked no container uses it, and then, with the lock
    /// released, deletes what is aside ([`delete_aside`]).
    pub fn set_aside(&self, id: &str) -> Result<PathBuf, ImageError> {
        let dir = self.dir.join(id);
        let aside = self.dir.join(format!("{IMPORTING}rm-{id}"));
        fs::rename(&dir, &aside).map_err(|cause| ImageError::Store { path: dir, cause })?;
        Ok(aside)
    }
}

/// Deletes an image set aside; what cannot be deleted now is logged, and
/// removed at joltd's next start (it has the import prefix).
pub fn delete_aside(aside: &Path) {
    if let Err(e) = fs::remove_dir_all(aside) {
        tracing::warn!(
            "{}: {e}; joltd removes it at its next start",
            aside.display()
        );
    }
}

#[cfg(test)]
mod names {
    use super::*;

    #[test]
    fn names_get_a_tag_and_bad_ones_are_refused() {
        assert_eq!(normalize("busybox").unwrap(), "busybox:latest");
        assert_eq!(normalize("localhost/web:1.0").unwrap(), "localhost/web:1.0");
        assert_eq!(
            normalize("registry.local:5000/team/app").unwrap(),
            "registry.local:5000/team/app:latest"
        );
        for bad in ["", "Web", "a//b", "a:", "a@sha256:00", "a:b c"] {
            assert!(normalize(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_reference_may_leave_out_localhost() {
        assert!(answers_to("localhost/web:latest", "web:latest"));
        assert!(answers_to("web:latest", "web:latest"));
        assert!(!answers_to("web:1", "web:latest"));
        assert!(!answers_to("docker.io/web:latest", "web:latest"));
        assert!(answers_to(
            "docker.io/library/busybox:latest",
            "busybox:latest"
        ));
        assert!(answers_to("docker.io/team/app:1", "team/app:1"));
        assert!(!answers_to(
            "docker.io/library/busybox:latest",
            "library/busy:latest"
        ));
    }
}
