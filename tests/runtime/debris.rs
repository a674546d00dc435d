//! What a `jolt create` killed in its first instants leaves: a state
//! directory that is empty, or holds only `.state.json.tmp`. It is no
//! container: `state` says so and `list` skips it, `delete` removes it
//! (and, without --force, still says it does not exist), as runc does side
//! by side; `create` of the same ID replaces it. A directory a live jolt
//! holds is never taken for debris.

use std::fs::{self, File};
use std::path::Path;
use std::process::{Command, Stdio};

use jolt_e2e::session;
use nix::fcntl::{Flock, FlockArg};

/// The two shapes the debris takes.
const SHAPES: [(&str, Option<&str>); 2] = [("empty", None), ("tmp", Some(".state.json.tmp"))];

/// Makes `root/id/` as a killed create leaves it.
fn debris(root: &Path, id: &str, tmp: Option<&str>) {
    let dir = root.join(id);
    fs::create_dir_all(&dir).unwrap();
    if let Some(name) = tmp {
        fs::write(dir.join(name), b"{\"id\":").unwrap();
    }
}

/// `runc --root ROOT ARGS`: exit code and stderr.
fn runc(bin: &Path, root: &Path, args: &[&str]) -> (i32, String) {
    let out = Command::new(bin)
        .arg("--root")
        .arg(root)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn state_list_and_delete_treat_a_create_killed_early_as_absent_as_runc_does() {
    let Some(jolt) = session() else { return };
    let runc_bin = jolt_e2e::image::runc();
    let runc_root = jolt.host_dir("runc-root");
    for (shape, tmp) in SHAPES {
        let id = jolt.id(&format!("debris-{shape}"));
        debris(jolt.root(), &id, tmp);

        jolt.fails(["state", &id])
            .assert_stderr_contains("container does not exist");
        let listed = jolt.ok(["list", "-q"]);
        assert!(!listed.stdout.contains(&id), "{shape}: listed:\n{listed}");
        // Without --force: removed, and still "does not exist".
        jolt.fails(["delete", &id])
            .assert_stderr_contains("container does not exist");
        assert!(!jolt.root().join(&id).exists(), "{shape}: delete left it");

        debris(jolt.root(), &id, tmp);
        jolt.ok(["delete", "--force", &id]);
        assert!(
            !jolt.root().join(&id).exists(),
            "{shape}: delete --force left it"
        );

        let Some(runc_bin) = &runc_bin else { continue };
        debris(&runc_root, &id, tmp);
        let (code, stderr) = runc(runc_bin, &runc_root, &["state", &id]);
        assert_eq!(code, 1, "runc state: {stderr}");
        assert!(stderr.contains("container does not exist"), "{stderr}");
        let (code, stderr) = runc(runc_bin, &runc_root, &["delete", &id]);
        assert_eq!(code, 1, "runc delete: {stderr}");
        assert!(!runc_root.join(&id).exists(), "runc delete left it");
        debris(&runc_root, &id, tmp);
        let (code, stderr) = runc(runc_bin, &runc_root, &["delete", "--force", &id]);
        assert_eq!(code, 0, "runc delete --force: {stderr}");
        assert!(!runc_root.join(&id).exists(), "runc delete --force left it");
    }
}

#[test]
fn create_replaces_what_a_killed_create_left() {
    let Some(jolt) = session() else { return };
    let bundle = jolt.bundle().sleeper();
    for (shape, tmp) in SHAPES {
        let id = jolt.id(&format!("recreate-{shape}"));
        debris(jolt.root(), &id, tmp);
        jolt.create(&id, &bundle);
        assert_eq!(jolt.status(&id), "created", "{shape}");
        assert!(
            !jolt.root().join(&id).join(".state.json.tmp").exists(),
            "{shape}: the old temp file is left"
        );
        jolt.force_delete(&id);
    }
}

#[test]
fn a_directory_a_live_jolt_holds_is_not_debris() {
    let Some(jolt) = session() else { return };
    let bundle = jolt.bundle().sleeper();
    let id = jolt.id("held");
    // A create between its mkdir and its first state.json holds the lock.
    debris(jolt.root(), &id, None);
    let held = Flock::lock(
        File::open(jolt.root().join(&id)).unwrap(),
        FlockArg::LockExclusive,
    )
    .unwrap();
    jolt.fails(["create", "--bundle", bundle.dir(), &id])
        .assert_stderr_contains("already exists");
    assert!(
        jolt.root().join(&id).is_dir(),
        "a held directory was removed"
    );
    drop(held);
    jolt.create(&id, &bundle);
    jolt.force_delete(&id);
}
