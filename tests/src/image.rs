//! image: the busybox image the containerd and podman tests run, made
//! locally without a registry: a rootfs tarball (`podman import`) and an
//! OCI image layout tarball (`ctr image import`). Uses tar and sha256sum.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::json;

use crate::bundle::build_rootfs;

/// The name both tests give the image.
pub const NAME: &str = "localhost/e2e-busybox";

fn run(cmd: &mut Command) {
    let status = cmd
        .status()
        .unwrap_or_else(|e| panic!("running {cmd:?}: {e}"));
    assert!(status.success(), "{cmd:?} failed: {status}");
}

/// A tar of the busybox rootfs (owned by root, numeric ids) at
/// `dir/rootfs.tar`.
pub fn rootfs_tar(dir: &Path) -> PathBuf {
    let rootfs = dir.join("rootfs");
    build_rootfs(&rootfs);
    let tar = dir.join("rootfs.tar");
    run(Command::new("tar")
        .arg("-C")
        .arg(&rootfs)
        .args(["--numeric-owner", "--owner=0", "--group=0", "-cf"])
        .arg(&tar)
        .arg("."));
    tar
}

/// Writes `data` as a blob of the layout at `layout`; returns its
/// descriptor.
fn blob(layout: &Path, media_type: &str, data: &[u8]) -> serde_json::Value {
    let tmp = layout.join("blob.tmp");
    fs::write(&tmp, data).unwrap();
    let out = Command::new("sha256sum").arg(&tmp).output().unwrap();
    assert!(out.status.success(), "sha256sum failed");
    let digest = String::from_utf8(out.stdout).unwrap()[..64].to_string();
    fs::rename(&tmp, layout.join("blobs/sha256").join(&digest)).unwrap();
    json!({ "mediaType": media_type, "digest": format!("sha256:{digest}"), "size": data.len() })
}

/// An OCI image layout with one uncompressed layer (the busybox rootfs),
/// named `NAME:latest` for `ctr image import --base-name NAME`, tarred at
/// `dir/image.tar`.
pub fn oci_archive(dir: &Path) -> PathBuf {
    let layout = oci_layout(dir, &fs::read(rootfs_tar(dir)).unwrap());
    let tar = dir.join("image.tar");
    run(Command::new("tar")
        .arg("-C")
        .arg(&layout)
        .arg("-cf")
        .arg(&tar)
        .arg("."));
    tar
}

/// An OCI image layout at `dir/oci` whose one uncompressed layer is
/// `layer` (a tar), tagged `latest`.
pub fn oci_layout(dir: &Path, layer: &[u8]) -> PathBuf {
    let layout = dir.join("oci");
    fs::create_dir_all(layout.join("blobs/sha256")).unwrap();
    let layer = blob(&layout, "application/vnd.oci.image.layer.v1.tar", layer);
    let config = json!({
        "architecture": "amd64",
        "os": "linux",
        "config": { "Env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"], "Cmd": ["sh"] },
        "rootfs": { "type": "layers", "diff_ids": [layer["digest"]] },
    });
    let config = blob(
        &layout,
        "application/vnd.oci.image.config.v1+json",
        config.to_string().as_bytes(),
    );
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": config,
        "layers": [layer],
    });
    let mut manifest = blob(
        &layout,
        "application/vnd.oci.image.manifest.v1+json",
        manifest.to_string().as_bytes(),
    );
    manifest["platform"] = json!({ "architecture": "amd64", "os": "linux" });
    manifest["annotations"] = json!({ "org.opencontainers.image.ref.name": "latest" });
    let index = json!({ "schemaVersion": 2, "manifests": [manifest] });
    fs::write(layout.join("index.json"), index.to_string()).unwrap();
    fs::write(
        layout.join("oci-layout"),
        json!({ "imageLayoutVersion": "1.0.0" }).to_string(),
    )
    .unwrap();
    layout
}

/// runc, for a side-by-side check; None, after saying the test skips,
/// where it is not installed.
pub fn runc() -> Option<PathBuf> {
    let runc = which("runc");
    if runc.is_none() {
        eprintln!("skipped: runc not found (apt-get install runc)");
    }
    runc
}

/// The path of `program` on PATH, or None.
pub fn which(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .chain(["/usr/sbin".into(), "/sbin".into()])
        .map(|d| d.join(program))
        .find(|p| p.is_file())
}
