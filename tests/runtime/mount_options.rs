//! Mount options as runc's users write them: the recursive ones (`rro`,
//! `rnosuid`, ...) reach the mounts below a bind mount, side by side with
//! runc; `tmpcopyup` fills a tmpfs with what it covers (podman's --tmpfs);
//! an option jolt does not know is an error, never silently dropped; and
//! `jolt features` lists what jolt applies.

use jolt_e2e::host::Tmpfs;
use jolt_e2e::{line_after, session};
use serde_json::{json, Value};

/// What the container reports about writing under /data and /data/inner.
const PROBE: &str = "for f in /data/x /data/inner/x; do \
    if echo x > $f 2>/dev/null; then echo \"write $f ok\"; else echo \"write $f denied\"; fi; done; \
    echo \"inner $(grep ' /data/inner ' /proc/mounts | cut -d' ' -f4)\"";

#[test]
fn rro_makes_a_bind_mount_and_every_mount_below_it_read_only_as_runc_does() {
    let Some(jolt) = session() else { return };
    let outer = jolt.host_dir("outer");
    // A mount below the source: plain `ro` leaves it writable (runc's
    // documented reason for `rro`).
    let _inner = Tmpfs::mount(&outer.join("inner"), "1m");
    let bundle = jolt
        .bundle()
        .bind(&outer, "/data", &["rbind", "rro"])
        .sh(PROBE);

    let out = jolt.run_ok("rro", &bundle);
    assert_eq!(line_after(&out.stdout, "write /data/x "), "denied", "{out}");
    assert_eq!(
        line_after(&out.stdout, "write /data/inner/x "),
        "denied",
        "{out}"
    );
    let inner = line_after(&out.stdout, "inner ");
    assert!(inner.split(',').any(|o| o == "ro"), "/data/inner: {inner}");
    assert!(!outer.join("x").exists() && !outer.join("inner/x").exists());

    if let Some(runc) = jolt.runc_run("rro-runc", &bundle) {
        let stdout = String::from_utf8_lossy(&runc.stdout);
        assert_eq!(
            line_after(&stdout, "write /data/x "),
            "denied",
            "runc: {stdout}"
        );
        assert_eq!(
            line_after(&stdout, "write /data/inner/x "),
            "denied",
            "runc: {stdout}"
        );
    }
}

#[test]
fn recursive_nosuid_nodev_noexec_reach_the_mounts_below() {
    let Some(jolt) = session() else { return };
    let outer = jolt.host_dir("outer-flags");
    let _inner = Tmpfs::mount(&outer.join("inner"), "1m");
    let bundle = jolt
        .bundle()
        .bind(
            &outer,
            "/data",
            &["rbind", "rnosuid", "rnodev", "rnoexec", "rnoatime"],
        )
        .sh("echo \"inner $(grep ' /data/inner ' /proc/mounts | cut -d' ' -f4)\"");

    let out = jolt.run_ok("rflags", &bundle);
    let inner = line_after(&out.stdout, "inner ");
    for flag in ["nosuid", "nodev", "noexec", "noatime"] {
        assert!(
            inner.split(',').any(|o| o == flag),
            "{flag} on /data/inner: {inner}"
        );
    }
}

/// jolt is stricter than runc here, for a security reason: runc passes an
/// option it does not know to the kernel as data, which a bind mount
/// ignores, so a misspelt `rro` leaves the mount writable without a word.
#[test]
fn a_mount_option_jolt_does_not_know_is_an_error_not_ignored() {
    let Some(jolt) = session() else { return };
    let dir = jolt.host_dir("typo");
    let bundle = jolt
        .bundle()
        .bind(&dir, "/data", &["rbind", "r-ro"])
        .sh("true");
    let id = jolt.id("typo");

    let out = jolt.create_fails(&id, &bundle);
    out.assert_stderr_contains("unknown mount option \"r-ro\"")
        .assert_stderr_contains("jolt features");
}

#[test]
fn tmpcopyup_starts_the_tmpfs_with_what_it_covers() {
    let Some(jolt) = session() else { return };
    let bundle = jolt
        .bundle()
        .mount(json!({
            "destination": "/etc",
            "type": "tmpfs",
            "source": "tmpfs",
            "options": ["nosuid", "nodev", "mode=755", "tmpcopyup"]
        }))
        .sh(
            "echo \"fs $(grep ' /etc ' /proc/mounts | cut -d' ' -f3)\"; \
             echo \"root $(grep '^root:' /etc/passwd | cut -d: -f1,3)\"; \
             echo new > /etc/new; echo \"write $?\"",
        );

    let out = jolt.run_ok("copyup", &bundle);
    assert_eq!(line_after(&out.stdout, "fs "), "tmpfs", "{out}");
    assert_eq!(line_after(&out.stdout, "root "), "root:0", "{out}");
    assert_eq!(line_after(&out.stdout, "write "), "0");
    assert!(
        !bundle.rootfs().join("etc/new").exists(),
        "written to the tmpfs, not the image"
    );
    assert!(bundle.rootfs().join("etc/passwd").exists());
}

#[test]
fn features_lists_the_recursive_options_and_tmpcopyup() {
    let Some(jolt) = session() else { return };
    let doc: Value = serde_json::from_str(&jolt.ok(["features"]).stdout).unwrap();
    let listed: Vec<&str> = doc["mountOptions"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for option in [
        "rro",
        "rrw",
        "rnosuid",
        "rnoexec",
        "rnosymfollow",
        "tmpcopyup",
    ] {
        assert!(listed.contains(&option), "{option} in {listed:?}");
    }
    let runc_features = jolt_e2e::image::which("runc").and_then(|runc| {
        let out = std::process::Command::new(runc)
            .arg("features")
            .output()
            .ok()?;
        serde_json::from_slice::<Value>(&out.stdout).ok()
    });
    if let Some(runc) = runc_features {
        for option in runc["mountOptions"].as_array().into_iter().flatten() {
            let option = option.as_str().unwrap();
            assert!(
                listed.contains(&option),
                "runc's {option} in jolt's {listed:?}"
            );
        }
    }
}

/// A read-only /dev with mounts (/dev/pts, /dev/shm, /dev/mqueue) and
/// device nodes below it: they go in first and /dev turns read-only after,
/// as runc does it (it failed creating /dev/pts). Side by side with runc.
#[test]
fn a_read_only_dev_keeps_its_mounts_and_devices_below_it() {
    let Some(jolt) = session() else { return };
    let bundle = jolt
        .bundle()
        .with(|c| {
            for m in c["mounts"].as_array_mut().unwrap() {
                if m["destination"] == "/dev" {
                    m["options"].as_array_mut().unwrap().push(json!("ro"));
                }
            }
        })
        .sh("if touch /dev/x 2>/dev/null; then echo \"dev writable\"; else echo \"dev read-only\"; fi; \
             if echo hi > /dev/null; then echo \"null ok\"; fi; \
             if grep -q ' /dev/pts ' /proc/mounts; then echo \"pts mounted\"; fi");

    let out = jolt.run_ok("dev-ro", &bundle);
    assert_eq!(line_after(&out.stdout, "dev "), "read-only", "{out}");
    assert_eq!(line_after(&out.stdout, "null "), "ok", "{out}");
    assert_eq!(line_after(&out.stdout, "pts "), "mounted", "{out}");
    if let Some(runc) = jolt.runc_run("dev-ro-runc", &bundle) {
        let stdout = String::from_utf8_lossy(&runc.stdout);
        assert_eq!(line_after(&stdout, "dev "), "read-only", "runc: {stdout}");
        assert_eq!(line_after(&stdout, "pts "), "mounted", "runc: {stdout}");
    }
}
