//! Imports of archives made here, entry by entry: the layer semantics
//! (whiteouts, opaque directories, links), both formats, and every bad
//! input leaving the store empty. Owners other than the test's own need
//! root and are checked by the end-to-end tests.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use serde_json::json;

use super::manifest::sha256_hex;
use super::*;

/// One entry of a layer made in a test.
enum E<'a> {
    File(&'a [u8]),
    Dir,
    Symlink(&'a str),
    Hardlink(&'a str),
    /// A regular file whose name is written raw (so `..` gets through).
    Raw(&'a [u8]),
    /// A regular file with an extended attribute (NAME, VALUE).
    Xattr(&'a [u8], &'a str, &'a [u8]),
    Fifo,
}

fn layer(entries: &[(&str, E)]) -> Vec<u8> {
    let (uid, gid) = (
        nix::unistd::getuid().as_raw(),
        nix::unistd::getgid().as_raw(),
    );
    let mut b = tar::Builder::new(Vec::new());
    for (path, e) in entries {
        let mut h = tar::Header::new_gnu();
        h.set_uid(uid.into());
        h.set_gid(gid.into());
        h.set_mtime(1_700_000_000);
        h.set_mode(0o644);
        let data: &[u8] = match e {
            E::File(d) | E::Raw(d) | E::Xattr(d, ..) => d,
            _ => b"",
        };
        match e {
            E::File(_) | E::Raw(_) => h.set_entry_type(tar::EntryType::Regular),
            E::Xattr(_, name, value) => {
                h.set_entry_type(tar::EntryType::Regular);
                let key = format!("SCHILY.xattr.{name}");
                b.append_pax_extensions([(key.as_str(), *value)]).unwrap();
            }
            E::Fifo => h.set_entry_type(tar::EntryType::Fifo),
            E::Dir => {
                h.set_entry_type(tar::EntryType::Directory);
                h.set_mode(0o750);
            }
            E::Symlink(t) => {
                h.set_entry_type(tar::EntryType::Symlink);
                h.set_link_name(t).unwrap();
            }
            E::Hardlink(t) => {
                h.set_entry_type(tar::EntryType::Link);
                h.set_link_name(t).unwrap();
            }
        }
        h.set_size(data.len() as u64);
        if let E::Raw(_) = e {
            let name = &mut h.as_gnu_mut().unwrap().name;
            name[..path.len()].copy_from_slice(path.as_bytes());
            h.set_cksum();
            b.append(&h, data).unwrap();
        } else {
            b.append_data(&mut h, path, data).unwrap();
        }
    }
    b.into_inner().unwrap()
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(bytes).unwrap();
    gz.finish().unwrap()
}

fn config_of(layers: &[Vec<u8>], arch: &str) -> Vec<u8> {
    let diff_ids: Vec<_> = layers
        .iter()
        .map(|l| format!("sha256:{}", sha256_hex(l)))
        .collect();
    serde_json::to_vec(&json!({
        "architecture": arch, "os": "linux",
        "config": {"Cmd": ["/bin/sh"], "Env": ["A=1"], "WorkingDir": "/srv"},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    }))
    .unwrap()
}

fn host_arch() -> String {
    oci_spec::image::Arch::default().to_string()
}

/// Writes an OCI layout of `layers` (gzip-compressed when asked) into
/// `dir`, named `name`; the blobs' hex digests, config first.
fn oci_layout(dir: &Path, layers: &[Vec<u8>], compress: bool, name: &str) -> Vec<String> {
    fs::create_dir_all(dir.join("blobs/sha256")).unwrap();
    let put = |bytes: &[u8]| {
        let hex = sha256_hex(bytes);
        fs::write(dir.join("blobs/sha256").join(&hex), bytes).unwrap();
        (hex, bytes.len())
    };
    let config = config_of(layers, &host_arch());
    let (config_hex, config_len) = put(&config);
    let mut hexes = vec![config_hex.clone()];
    let mut descs = Vec::new();
    for l in layers {
        let stored = if compress { gzip(l) } else { l.clone() };
        let (hex, len) = put(&stored);
        hexes.push(hex.clone());
        descs.push(
            json!({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
            "digest": format!("sha256:{hex}"), "size": len}),
        );
    }
    let manifest = serde_json::to_vec(&json!({"schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": format!("sha256:{config_hex}"), "size": config_len},
        "layers": descs}))
    .unwrap();
    let (m_hex, m_len) = put(&manifest);
    fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    let index = json!({"schemaVersion": 2, "manifests": [{
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "digest": format!("sha256:{m_hex}"), "size": m_len,
        "annotations": {"org.opencontainers.image.ref.name": name}}]});
    fs::write(dir.join("index.json"), index.to_string()).unwrap();
    hexes
}

/// A tar file of the directory `dir` (as `tar -C dir -cf out .`).
fn tar_dir(dir: &Path, out: &Path) {
    let mut b = tar::Builder::new(fs::File::create(out).unwrap());
    b.append_dir_all(".", dir).unwrap();
    b.finish().unwrap();
}

/// A docker-archive of `layers` at `out`.
fn docker_archive(out: &Path, layers: &[Vec<u8>], tag: &str) {
    let config = config_of(layers, &host_arch());
    let config_name = format!("{}.json", sha256_hex(&config));
    let mut files: Vec<(String, Vec<u8>)> = vec![(config_name.clone(), config)];
    let mut names = Vec::new();
    for (i, l) in layers.iter().enumerate() {
        names.push(format!("l{i}/layer.tar"));
        files.push((format!("l{i}/layer.tar"), l.clone()));
    }
    let manifest = json!([{"Config": config_name, "RepoTags": [tag], "Layers": names}]);
    files.push(("manifest.json".into(), manifest.to_string().into_bytes()));
    let mut b = tar::Builder::new(fs::File::create(out).unwrap());
    for (name, data) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        b.append_data(&mut h, name, data.as_slice()).unwrap();
    }
    b.finish().unwrap();
}

fn store() -> (tempfile::TempDir, Images) {
    let dir = tempfile::tempdir().unwrap();
    let images = Images::open(&dir.path().join("oci")).unwrap();
    (dir, images)
}

/// Nothing in the store directory at all: no image, no import left.
fn assert_empty(images: &Images) {
    let left: Vec<_> = fs::read_dir(&images.dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(left.is_empty(), "left in the store: {left:?}");
}

fn stacked() -> Vec<Vec<u8>> {
    let base = layer(&[
        ("a", E::Dir),
        ("a/x", E::File(b"x")),
        ("a/y", E::File(b"y")),
        ("d", E::Dir),
        ("d/old", E::File(b"old")),
        ("keep", E::File(b"keep")),
        ("gone", E::File(b"gone")),
    ]);
    let top = layer(&[
        ("a/.wh.x", E::File(b"")),
        ("d/new", E::File(b"new")),
        ("d/.wh..wh..opq", E::File(b"")),
        (".wh.gone", E::File(b"")),
        ("h", E::Hardlink("keep")),
        ("s", E::Symlink("keep")),
        ("fresh", E::File(b"fresh")),
        (".wh.fresh", E::File(b"")),
        ("tagged", E::Xattr(b"t", "user.jolt", b"yes")),
        ("marked", E::Xattr(b"m", "user.overlay.opaque", b"y")),
        ("pipe", E::Fifo),
    ]);
    vec![base, top]
}

#[test]
fn layers_stack_with_whiteouts_opaque_dirs_and_links() {
    let (tmp, images) = store();
    let layout = tmp.path().join("layout");
    oci_layout(&layout, &stacked(), true, "web:1");
    let image = images.import(&layout, None).unwrap();
    assert_eq!(image.names, ["web:1"]);
    let root = images.rootfs(&image.id);
    let names = |d: &str| {
        let mut v: Vec<_> = fs::read_dir(root.join(d))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        v.sort();
        v
    };
    assert_eq!(names("a"), ["y"], "the whiteout removed a/x");
    assert_eq!(
        names("d"),
        ["new"],
        "opaque: d/old hidden, d/new of the same layer kept"
    );
    assert_eq!(
        names(""),
        ["a", "d", "fresh", "h", "keep", "marked", "pipe", "s", "tagged"]
    );
    assert!(fs::symlink_metadata(root.join("pipe"))
        .unwrap()
        .file_type()
        .is_fifo());
    assert_eq!(
        xattr::get(root.join("tagged"), "user.jolt")
            .unwrap()
            .as_deref(),
        Some(&b"yes"[..]),
        "extended attributes are kept"
    );
    assert_eq!(
        xattr::get(root.join("marked"), "user.overlay.opaque").unwrap(),
        None,
        "overlayfs's own markers are not"
    );
    let keep = fs::metadata(root.join("keep")).unwrap();
    assert_eq!(fs::metadata(root.join("h")).unwrap().ino(), keep.ino());
    assert_eq!(fs::read_link(root.join("s")).unwrap(), Path::new("keep"));
    assert_eq!(fs::metadata(root.join("a")).unwrap().mode() & 0o7777, 0o750);
    assert_eq!(keep.mtime(), 1_700_000_000);
    assert_eq!(image.size, 1 + 1 + 3 + 4 + 4 + 3 + 5 + 1 + 1);
    let config = image.config.unwrap();
    assert_eq!(config.cmd().as_deref(), Some(&["/bin/sh".to_string()][..]));
}

#[test]
fn both_archive_formats_import_and_names_move() {
    let (tmp, images) = store();
    let layers = stacked();
    let layout = tmp.path().join("layout");
    oci_layout(&layout, &layers, false, "localhost/web:latest");
    let oci_tar = tmp.path().join("oci.tar");
    tar_dir(&layout, &oci_tar);
    let a = images.import(&oci_tar, None).unwrap();
    assert_eq!(a.names, ["localhost/web:latest"]);
    assert_eq!(
        images.find("web").unwrap().id,
        a.id,
        "localhost/ and :latest may be left out"
    );
    assert_eq!(images.find(&a.id[..8]).unwrap().id, a.id);
    let docker = tmp.path().join("docker.tar");
    docker_archive(&docker, &layers[..1], "base:2");
    let b = images.import(&docker, None).unwrap();
    assert_ne!(a.id, b.id);
    assert_eq!(b.names, ["base:2"]);
    let b2 = images.import(&docker, Some("localhost/web")).unwrap();
    assert_eq!(b2.id, b.id, "the same image is imported once");
    assert_eq!(b2.names, ["base:2", "localhost/web:latest"]);
    assert!(
        images.find(&a.id).unwrap().names.is_empty(),
        "the name moved"
    );
    assert_eq!(images.list().unwrap().len(), 2);
    // A corrupt record hides its image, not the others.
    fs::write(images.dir.join(&b.id).join(RECORD), "{").unwrap();
    assert_eq!(images.list().unwrap().len(), 1);
    assert!(images.find(&a.id).is_ok());
    let aside = images.set_aside(&b.id).unwrap();
    super::delete_aside(&aside);
    let aside = images.set_aside(&a.id).unwrap();
    assert!(
        matches!(images.find(&a.id), Err(ImageError::NotFound(_))),
        "gone from the store once set aside"
    );
    super::delete_aside(&aside);
    assert_eq!(fs::read_dir(&images.dir).unwrap().count(), 0);
}

#[test]
fn a_wrong_digest_fails_and_leaves_nothing() {
    let (tmp, images) = store();
    let layout = tmp.path().join("layout");
    let hexes = oci_layout(&layout, &stacked(), true, "web");
    // The second layer's blob altered: same length, other bytes.
    let blob = layout.join("blobs/sha256").join(&hexes[2]);
    let mut bytes = fs::read(&blob).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    fs::write(&blob, bytes).unwrap();
    let e = images.import(&layout, None).unwrap_err().to_string();
    assert!(
        e.contains(&hexes[2])
            && (e.contains("digest mismatch") || e.contains("gzip") || e.contains("corrupt")),
        "{e}"
    );
    assert_empty(&images);
    // A docker-archive whose layer is not what the config's diff_id says.
    let layers = stacked();
    let docker = tmp.path().join("docker.tar");
    docker_archive(&docker, &layers, "web");
    let mut bytes = fs::read(&docker).unwrap();
    // The first "keep" is the name in its entry's header; its content
    // is the next 512-byte block.
    let header = bytes.windows(5).position(|w| w == b"keep\0").unwrap();
    assert_eq!(&bytes[header + 512..header + 516], b"keep");
    bytes[header + 512] = b'K';
    fs::write(&docker, bytes).unwrap();
    let e = images.import(&docker, None).unwrap_err().to_string();
    assert!(
        e.contains("diff_id") && e.contains("digest mismatch"),
        "{e}"
    );
    assert_empty(&images);
}

#[test]
fn escaping_paths_are_refused_and_leave_nothing() {
    let (tmp, images) = store();
    let outside = tmp.path().join("outside");
    fs::create_dir(&outside).unwrap();
    let dotdot = layer(&[("../../evil", E::Raw(b"evil"))]);
    let layout = tmp.path().join("dotdot");
    oci_layout(&layout, &[dotdot], false, "evil");
    let e = images.import(&layout, None).unwrap_err().to_string();
    assert!(e.contains("../../evil") && e.contains("escape"), "{e}");
    assert_empty(&images);
    let link = layer(&[("etc", E::Symlink(outside.to_str().unwrap()))]);
    let through = layer(&[("etc/evil", E::File(b"evil"))]);
    let layout = tmp.path().join("symlink");
    oci_layout(&layout, &[link, through], false, "evil");
    let e = images.import(&layout, None).unwrap_err().to_string();
    assert!(e.contains("etc/evil") && e.contains("outside"), "{e}");
    assert_eq!(
        fs::read_dir(&outside).unwrap().count(),
        0,
        "nothing written outside"
    );
    assert_empty(&images);
    let whiteout = layer(&[("etc/.wh.victim", E::File(b""))]);
    fs::write(outside.join("victim"), "x").unwrap();
    let link = layer(&[("etc", E::Symlink(outside.to_str().unwrap()))]);
    let layout = tmp.path().join("whiteout");
    oci_layout(&layout, &[link, whiteout], false, "evil");
    assert!(images.import(&layout, None).is_err());
    assert!(
        outside.join("victim").exists(),
        "a whiteout does not reach out"
    );
    assert_empty(&images);
}

#[test]
fn malformed_and_truncated_archives_are_named() {
    let (tmp, images) = store();
    let layout = tmp.path().join("layout");
    oci_layout(&layout, &stacked(), false, "web");
    let full = tmp.path().join("full.tar");
    tar_dir(&layout, &full);
    let bytes = fs::read(&full).unwrap();
    let cut = tmp.path().join("cut.tar");
    fs::write(&cut, &bytes[..bytes.len() * 2 / 3]).unwrap();
    let e = images.import(&cut, None).unwrap_err().to_string();
    assert!(
        e.contains("cut.tar") || e.contains("not in the archive"),
        "{e}"
    );
    assert_empty(&images);
    let junk = tmp.path().join("junk.tar");
    fs::write(&junk, vec![b'j'; 4096]).unwrap();
    assert!(images.import(&junk, None).is_err());
    assert_empty(&images);
    fs::write(layout.join("index.json"), "{\"schemaVersion\": 2").unwrap();
    let e = images.import(&layout, None).unwrap_err().to_string();
    assert!(e.starts_with("malformed image: index.json:"), "{e}");
    assert_empty(&images);
    let e = images
        .import(&tmp.path().join("nope.tar"), None)
        .unwrap_err()
        .to_string();
    assert!(e.contains("nope.tar") && e.contains("No such file"), "{e}");
    let e = images
        .import(&full, Some("Bad Name"))
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("name \"Bad Name\""), "{e}");
    assert_empty(&images);
}

#[test]
fn an_image_for_another_architecture_is_refused() {
    let (tmp, images) = store();
    let layers = vec![layer(&[("f", E::File(b"f"))])];
    let config = config_of(
        &layers,
        if host_arch() == "arm64" {
            "amd64"
        } else {
            "arm64"
        },
    );
    let name = format!("{}.json", sha256_hex(&config));
    let manifest = json!([{"Config": name, "Layers": ["l.tar"]}]).to_string();
    let out = tmp.path().join("other.tar");
    let mut b = tar::Builder::new(fs::File::create(&out).unwrap());
    for (n, d) in [
        (name.as_str(), config),
        ("l.tar", layers[0].clone()),
        ("manifest.json", manifest.into_bytes()),
    ] {
        let mut h = tar::Header::new_gnu();
        h.set_size(d.len() as u64);
        h.set_mode(0o644);
        b.append_data(&mut h, n, d.as_slice()).unwrap();
    }
    b.finish().unwrap();
    let e = images.import(&out, None).unwrap_err().to_string();
    assert!(
        e.contains("the image is for linux/") && e.contains("this node is"),
        "{e}"
    );
    assert_empty(&images);
}
