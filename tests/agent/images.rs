//! Images: built locally by podman (no registry) from the busybox rootfs,
//! exported by `podman save` in both formats, imported with `chaosctl
//! image import` and run with `chaosctl run IMAGE`; their config gives
//! the process, each container writes to a layer of its own; bad
//! archives leave nothing in the store; an image in use is not removed.
//! Pulled with `chaosctl pull` from a registry of the test's own on
//! 127.0.0.1, pushed there by podman. Host only: nothing here depends on
//! the cgroup version.

use std::fs;
use std::path::{Path, PathBuf};

use base64::Engine as _;

use jolt_e2e::agent::Agent;
use jolt_e2e::podman::Podman;
use jolt_e2e::registry::{require_registry, Registry};

use crate::agent;

/// The image with the writable-layer checks: a layer that whites out
/// `/etc/group` and makes `/home` opaque (its old `user` directory gone,
/// `new` kept), a file owned by 1000:1000, and a config with env,
/// working directory and command.
const BASE: &str = "FROM localhost/e2e-busybox
RUN rm /etc/group && rm -rf /home && mkdir -p /home/new /srv && echo page > /srv/index.html && chown 1000:2000 /srv/index.html && chmod 640 /srv/index.html
ENV GREETING=hello
WORKDIR /srv
CMD [\"sh\", \"-c\", \"echo $GREETING from $(pwd) as $(id -u)\"]
";

/// On BASE: a user and an entrypoint the command goes after.
const USER: &str = "FROM localhost/jolt-e2e:base
USER user
ENTRYPOINT [\"sh\", \"-c\", \"echo as $(id -u):$(id -g) \\\"$0\\\"\"]
CMD [\"default\"]
";

/// A podman (runc as its runtime) holding BASE and USER, built from
/// their Containerfiles in `dir`; None where podman is missing.
fn built_images(dir: &Path) -> Option<Podman> {
    let runc = jolt_e2e::image::which("runc").unwrap_or_else(|| "/usr/bin/runc".into());
    let podman = Podman::start(&runc, "images", None)?;
    for (tag, text) in [("base", BASE), ("user", USER)] {
        let ctx = dir.join(tag);
        fs::create_dir_all(&ctx).unwrap();
        fs::write(ctx.join("Containerfile"), text).unwrap();
        let name = format!("localhost/jolt-e2e:{tag}");
        podman.ok(&[
            "build",
            "--isolation",
            "chroot",
            "-t",
            &name,
            ctx.to_str().unwrap(),
        ]);
    }
    Some(podman)
}

/// Builds BASE and USER with podman and saves BASE as an oci-archive and
/// USER as a docker-archive in `dir`; None where podman is missing.
fn saved_images(dir: &Path) -> Option<(PathBuf, PathBuf)> {
    let podman = built_images(dir)?;
    let oci = dir.join("base.oci.tar");
    let docker = dir.join("user.docker.tar");
    let (o, d) = (oci.to_str().unwrap(), docker.to_str().unwrap());
    podman.ok(&[
        "save",
        "--format",
        "oci-archive",
        "-o",
        o,
        "localhost/jolt-e2e:base",
    ]);
    podman.ok(&[
        "save",
        "--format",
        "docker-archive",
        "-o",
        d,
        "localhost/jolt-e2e:user",
    ]);
    Some((oci, docker))
}

/// What the image store holds: image directories, and anything else.
fn store(a: &Agent) -> Vec<String> {
    let mut names: Vec<_> = fs::read_dir(a.state_dir().join("images/oci"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

#[test]
fn podman_saved_images_run_with_their_config_and_a_writable_layer_each() {
    let Some(a) = agent() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let Some((oci, docker)) = saved_images(tmp.path()) else {
        return;
    };
    let base = a
        .ok(["image", "import", oci.to_str().unwrap()])
        .trim()
        .to_string();
    assert_eq!(base.len(), 64, "import prints the ID: {base}");
    a.ok(["image", "import", docker.to_str().unwrap()]);
    let ls = a.ok(["image", "ls"]);
    assert!(ls.starts_with("NAME "), "{ls}");
    for name in ["localhost/jolt-e2e:base", "localhost/jolt-e2e:user"] {
        assert!(ls.contains(name), "{ls}");
    }
    assert!(ls.contains(&base[..12]), "{ls}");

    // The config: env, working directory, command; the image's layers:
    // the whiteout, the opaque directory, the owner and mode.
    let out = a.ctl(["run", "jolt-e2e:base"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(out.stdout.as_str().trim(), "hello from /srv as 0");
    let out = a.ctl([
        "run",
        "jolt-e2e:base",
        "--",
        "sh",
        "-c",
        "ls /home; stat -c '%u:%g %a' /srv/index.html; cat /etc/group 2>/dev/null || echo no-group",
    ]);
    let text = out.stdout.as_str();
    assert_eq!(
        text.lines().collect::<Vec<_>>(),
        ["new", "1000:2000 640", "no-group"],
        "{out:?}"
    );
    // USER and ENTRYPOINT: the command given goes after the entrypoint.
    let out = a.ctl(["run", "localhost/jolt-e2e:user"]);
    assert_eq!(out.stdout.as_str().trim(), "as 1000:1000 default");
    let out = a.ctl(["run", "jolt-e2e:user", "--", "given"]);
    assert_eq!(out.stdout.as_str().trim(), "as 1000:1000 given");

    // Writes to /, /tmp and a volume; a second container from the same
    // image does not see the first one's; --read-only refuses them.
    let vol = tmp.path().join("vol");
    fs::create_dir(&vol).unwrap();
    let volume = format!("{}:/vol", vol.display());
    let write =
        "echo root > /rootfile && echo tmp > /tmp/t && echo vol > /vol/v && cat /rootfile /tmp/t";
    let out = a.ctl([
        "run",
        "--name",
        "w1",
        "-v",
        &volume,
        "jolt-e2e:base",
        "--",
        "sh",
        "-c",
        write,
    ]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(out.stdout.as_str(), "root\ntmp\n");
    assert_eq!(fs::read_to_string(vol.join("v")).unwrap(), "vol\n");
    let out = a.ctl([
        "run",
        "--name",
        "w2",
        "jolt-e2e:base",
        "--",
        "sh",
        "-c",
        "cat /rootfile /tmp/t 2>/dev/null || echo clean",
    ]);
    // stderr off: its lines and stdout's reach the log by separate pipes,
    // in no fixed order.
    assert_eq!(out.stdout.as_str(), "clean\n", "{out:?}");
    let out = a.ctl([
        "run",
        "--read-only",
        "jolt-e2e:base",
        "--",
        "sh",
        "-c",
        "echo x > /f",
    ]);
    assert!(!out.status.success());
    assert!(
        out.stdout.as_str().contains("Read-only file system"),
        "{out:?}"
    );
    let image_root = a.state_dir().join("images/oci").join(&base).join("rootfs");
    assert!(
        !image_root.join("rootfile").exists(),
        "the image itself is untouched"
    );

    let ps = a.ok(["ps", "-a"]);
    assert!(
        ps.lines()
            .any(|l| l.contains("w1") && l.contains("jolt-e2e:base")),
        "ps shows the image: {ps}"
    );

    // A second name is only taken off, even while the image is in use.
    a.ok([
        "image",
        "import",
        oci.to_str().unwrap(),
        "--name",
        "extra:1",
    ]);
    assert_eq!(a.ok(["image", "rm", "extra:1"]).trim(), "Untagged: extra:1");
    assert!(image_root.is_dir());

    // rm is refused while a container (even exited) uses the image.
    let out = a.ctl(["image", "rm", "jolt-e2e:base"]);
    assert_eq!(out.status.code(), Some(1));
    let err = out.stderr.as_str();
    assert!(err.contains("used by container"), "{err}");
    assert!(image_root.is_dir());
    let ids: Vec<String> =
        serde_json::from_str::<serde_json::Value>(&a.ok(["-o", "json", "ps", "-a"]))
            .unwrap()
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_str().unwrap().to_string())
            .collect();
    for id in &ids {
        a.ok(["rm", id]);
    }
    let out = a.ok(["image", "rm", "jolt-e2e:base", "localhost/jolt-e2e:user"]);
    assert!(
        out.starts_with(&format!(
            "Untagged: localhost/jolt-e2e:base\nDeleted: {base}\n"
        )),
        "{out}"
    );
    assert!(store(&a).is_empty(), "{:?}", store(&a));
    assert!(
        jolt_e2e::agent::empty_dir(&a.state_dir().join("layers")),
        "every container's layer went with it"
    );
}

/// A layer whose one entry is named `../../escaped` (written raw: tar
/// builders refuse such names): from an import's rootfs
/// (`images/oci/.import-*/rootfs`), that is `images/oci/escaped`.
fn escaping_layer() -> Vec<u8> {
    let mut h = tar::Header::new_gnu();
    h.as_gnu_mut().unwrap().name[..13].copy_from_slice(b"../../escaped");
    h.set_size(4);
    h.set_mode(0o644);
    h.set_entry_type(tar::EntryType::Regular);
    h.set_cksum();
    let mut b = tar::Builder::new(Vec::new());
    b.append(&h, &b"evil"[..]).unwrap();
    b.into_inner().unwrap()
}

#[test]
fn bad_archives_are_named_and_leave_nothing_in_the_store() {
    let Some(a) = agent() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let good = jolt_e2e::image::oci_archive(tmp.path());
    let refused = |path: &Path, want: &str| {
        let out = a.ctl(["image", "import", path.to_str().unwrap()]);
        let err = out.stderr.as_str();
        assert_eq!(out.status.code(), Some(1), "{}: {out:?}", path.display());
        assert!(err.contains(want), "{}: {err}", path.display());
        assert!(store(&a).is_empty(), "{:?}", store(&a));
    };
    // Truncated: cut two thirds of the way in.
    let bytes = fs::read(&good).unwrap();
    let cut = tmp.path().join("cut.tar");
    fs::write(&cut, &bytes[..bytes.len() * 2 / 3]).unwrap();
    refused(&cut, "malformed image");
    // Not an archive at all.
    let junk = tmp.path().join("junk.tar");
    fs::write(&junk, "not a tar archive, not anything").unwrap();
    refused(&junk, "junk.tar");
    refused(&tmp.path().join("missing.tar"), "No such file");
    // A wrong digest: one byte of the layer changed in the layout.
    let layout = tmp.path().join("oci");
    let layer = fs::read_dir(layout.join("blobs/sha256"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .max_by_key(|p| fs::metadata(p).unwrap().len())
        .unwrap();
    let mut blob = fs::read(&layer).unwrap();
    let last = blob.iter().rposition(|b| *b != 0).unwrap();
    blob[last] ^= 0x20;
    fs::write(&layer, blob).unwrap();
    refused(&layout, "digest mismatch");
    // A layer with a `../` path.
    let evil = tempfile::tempdir().unwrap();
    let layout = jolt_e2e::image::oci_layout(evil.path(), &escaping_layer());
    refused(&layout, "would escape the image");
    assert!(!a.state_dir().join("images/oci/escaped").exists());
    // Running an image that is not there makes nothing either.
    let out = a.ctl(["run", "--name", "ghost", "nosuch:1"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        out.stderr
            .as_str()
            .contains("image nosuch:1: no such image"),
        "{out:?}"
    );
    assert_eq!(
        a.ok(["ps", "-a"]).lines().count(),
        1,
        "no container was made"
    );
    // The good one still imports after all that.
    a.ok([
        "image",
        "import",
        good.to_str().unwrap(),
        "--name",
        "busybox:e2e",
    ]);
    assert_eq!(store(&a).len(), 1);
}

#[test]
fn an_import_cut_short_by_a_crash_is_removed_at_the_next_start() {
    let Some(mut a) = agent() else { return };
    // What a joltd killed mid-import leaves: its import directory.
    let left = a.state_dir().join("images/oci/.import-Xy12ab");
    fs::create_dir_all(left.join("rootfs/bin")).unwrap();
    fs::write(left.join("rootfs/bin/half"), "half").unwrap();
    a.kill9();
    a.restart();
    assert!(!left.exists(), "{:?}", store(&a));
    assert!(store(&a).is_empty());
}

/// A joltd, a temporary directory, a podman holding BASE and USER, and a
/// registry (asking for `htpasswd`'s password when given); None, a skip,
/// without root, podman or docker-registry.
fn with_registry(htpasswd: Option<&str>) -> Option<(Agent, tempfile::TempDir, Podman, Registry)> {
    if !require_registry() {
        return None;
    }
    let a = agent()?;
    let tmp = tempfile::tempdir().unwrap();
    let podman = built_images(tmp.path())?;
    let registry = Registry::start_with(htpasswd).unwrap();
    Some((a, tmp, podman, registry))
}

/// `chaosctl pull` from a registry on 127.0.0.1 (plain HTTP, as for any
/// loopback registry): an OCI manifest by tag (its ID is podman's: the
/// config's digest) and by digest, a Docker v2s2 one, and an index of
/// one platform, each run with its config. A tag the registry lacks, a registry that does not
/// listen, a malformed reference, and layers altered in the registry's
/// storage are each named, and leave the store as it was.
#[test]
fn images_pulled_from_a_registry_on_loopback_run_and_bad_pulls_leave_nothing() {
    let Some((a, tmp, podman, registry)) = with_registry(None) else {
        return;
    };
    let host = registry.host();
    let push = |image: &str, to: &str, format: &str| {
        let dest = format!("docker://{host}/{to}");
        podman.ok(&[
            "push",
            "--tls-verify=false",
            "--format",
            format,
            image,
            &dest,
        ]);
    };
    let digest_file = tmp.path().join("base.digest");
    let dest = format!("docker://{host}/jolt/base:1");
    podman.ok(&[
        "push",
        "--tls-verify=false",
        "--format",
        "oci",
        "--digestfile",
        digest_file.to_str().unwrap(),
        "localhost/jolt-e2e:base",
        &dest,
    ]);
    push("localhost/jolt-e2e:user", "jolt/user:1", "v2s2");
    podman.ok(&["manifest", "create", "localhost/jolt-e2e:list"]);
    podman.ok(&[
        "manifest",
        "add",
        "localhost/jolt-e2e:list",
        "containers-storage:localhost/jolt-e2e:base",
    ]);
    podman.ok(&[
        "manifest",
        "push",
        "--all",
        "--tls-verify=false",
        "localhost/jolt-e2e:list",
        &format!("docker://{host}/jolt/list:1"),
    ]);

    let base = format!("{host}/jolt/base:1");
    let id = a.ok(["pull", &base]).trim().to_string();
    let podman_id = podman.ok(&[
        "image",
        "inspect",
        "--format",
        "{{.Id}}",
        "localhost/jolt-e2e:base",
    ]);
    assert_eq!(
        id,
        podman_id.trim(),
        "the ID is the config's digest, as podman's"
    );
    let out = a.ctl(["run", &base]);
    assert_eq!(out.stdout.trim(), "hello from /srv as 0", "{out}");
    a.ok(["pull", &format!("{host}/jolt/user:1")]);
    let out = a.ctl(["run", &format!("{host}/jolt/user:1")]);
    assert_eq!(out.stdout.trim(), "as 1000:1000 default", "{out}");
    // By digest: the same image, given no name of its own.
    let digest = fs::read_to_string(&digest_file).unwrap();
    let by_digest = a.ok(["pull", &format!("{host}/jolt/base@{}", digest.trim())]);
    assert_eq!(by_digest.trim(), id);
    let listed = a.ok(["pull", &format!("{host}/jolt/list:1")]);
    assert_eq!(
        listed.trim(),
        id,
        "the index's one platform is the base image"
    );
    let ls = a.ok(["image", "ls"]);
    for name in [&base, &format!("{host}/jolt/list:1")] {
        assert!(ls.contains(name.as_str()), "{ls}");
    }
    let before = store(&a);
    assert_eq!(before.len(), 2, "two images, nothing else: {before:?}");

    let refused = |reference: &str, why: &str| {
        let out = a.ctl(["pull", reference]);
        out.assert_failure();
        eprintln!("{}", out.stderr.trim());
        assert!(out.stderr.contains(why), "{reference}: {out}");
        assert_eq!(store(&a), before, "{reference} left something");
    };
    refused(&format!("{host}/jolt/base:nope"), "no such image or tag");
    let closed = jolt_e2e::http::free_port().unwrap();
    refused(
        &format!("{closed}/jolt/base:1"),
        "cannot reach the registry",
    );
    refused("Not/A Reference", "not an image reference");

    // Every layer as the registry stores it (gzip), one byte changed.
    let mut altered = 0;
    for entry in walk(&registry.blobs_dir()) {
        let mut bytes = fs::read(&entry).unwrap();
        if bytes.starts_with(&[0x1f, 0x8b]) && bytes.len() > 64 {
            let middle = bytes.len() / 2;
            bytes[middle] ^= 0xff;
            fs::write(&entry, bytes).unwrap();
            altered += 1;
        }
    }
    assert!(altered >= 1, "no layer found in {}", registry.log());
    refused(&format!("{host}/jolt/user:1"), "digest");
}

/// Every file below `dir`.
fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in fs::read_dir(&d).unwrap().flatten() {
            if entry.file_type().unwrap().is_dir() {
                stack.push(entry.path());
            } else {
                files.push(entry.path());
            }
        }
    }
    files
}

/// The password of [`HTPASSWD`]'s user.
const PASSWORD: &str = "s3cret-e2e";
/// `e2e:PASSWORD`, bcrypt (cost 4), as `htpasswd -B` writes it.
const HTPASSWD: &str = "e2e:$2b$04$SKls35f2LObRcjFLCBbTw.F2V8WeJ6pxIMif8cUJRI5/BRNtdTfa6";

/// A registry that asks for a password: refused without credentials or
/// with a wrong one (named, nothing left in the store), pulled with
/// `--creds` and with an auth file as `podman login` writes it; the
/// password does not appear in joltd's log.
#[test]
fn a_private_registry_takes_the_credentials_given_and_refuses_the_rest() {
    let Some((a, tmp, podman, registry)) = with_registry(Some(HTPASSWD)) else {
        return;
    };
    let host = registry.host();
    let creds = format!("e2e:{PASSWORD}");
    for tag in ["1", "2"] {
        let dest = format!("docker://{host}/jolt/private:{tag}");
        podman.ok(&[
            "push",
            "--tls-verify=false",
            "--creds",
            &creds,
            "localhost/jolt-e2e:base",
            &dest,
        ]);
    }
    let image = format!("{host}/jolt/private:1");
    let refused = |args: &[&str], why: &str| {
        let out = a.ctl(args);
        out.assert_failure();
        eprintln!("{}", out.stderr.trim());
        assert!(out.stderr.contains(why), "{out}");
        assert!(store(&a).is_empty(), "{:?}", store(&a));
    };
    // No auth file on this machine has an entry for the registry's new
    // port: without --creds the pull is anonymous.
    refused(&["pull", &image], "refused anonymous access");
    refused(
        &["pull", "--creds", "e2e:wrong", &image],
        "refused the credentials given",
    );
    refused(
        &["pull", "--creds", "e2e", &image],
        "expected USER:PASSWORD",
    );

    let auth = base64::engine::general_purpose::STANDARD.encode(&creds);
    let elsewhere = tmp.path().join("elsewhere.json");
    fs::write(
        &elsewhere,
        format!(r#"{{"auths": {{"quay.io": {{"auth": "{auth}"}}}}}}"#),
    )
    .unwrap();
    let no_entry = format!("no entry for {host}");
    refused(
        &["pull", "--authfile", elsewhere.to_str().unwrap(), &image],
        &no_entry,
    );

    let id = a.ok(["pull", "--creds", &creds, &image]);
    assert_eq!(id.trim().len(), 64, "{id}");
    let auth_file = tmp.path().join("auth.json");
    fs::write(
        &auth_file,
        format!(r#"{{"auths": {{"{host}": {{"auth": "{auth}"}}}}}}"#),
    )
    .unwrap();
    let second = format!("{host}/jolt/private:2");
    let again = a.ok(["pull", "--authfile", auth_file.to_str().unwrap(), &second]);
    assert_eq!(again, id, "the same image under a second name");
    let out = a.ctl(["run", &second]);
    assert_eq!(out.stdout.trim(), "hello from /srv as 0", "{out}");
    assert!(
        !a.joltd_log().contains(PASSWORD),
        "the password reached joltd's log"
    );
}
