//! The container's filesystem: hostname and domainname, a read-only root,
//! bind and tmpfs mounts, masked and read-only paths, /dev (and a /dev
//! bound from the host, left alone), extra devices (never replacing a file
//! already there), --no-pivot, and namespaced sysctls.
//!
//! In the VM too (scripts/test's VM_TESTS): /dev and the device cgroup,
//! an eBPF filter on cgroup v2.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use jolt_e2e::host::{self, host_hostname};
use jolt_e2e::{line_after, session};
use serde_json::json;

#[test]
fn hostname_and_domainname() {
    let Some(jolt) = session() else { return };
    let before = host_hostname();
    let bundle = jolt
        .bundle()
        .hostname("e2e-host")
        .with(|c| c["domainname"] = json!("e2e.example"))
        .sh("echo \"hostname $(hostname)\"; echo \"domain $(cat /proc/sys/kernel/domainname)\"");

    let out = jolt.run_ok("hostname", &bundle);
    assert_eq!(line_after(&out.stdout, "hostname "), "e2e-host");
    assert_eq!(line_after(&out.stdout, "domain "), "e2e.example");
    assert_eq!(host_hostname(), before, "the host's hostname is untouched");
}

#[test]
fn root_is_read_only_when_asked() {
    let Some(jolt) = session() else { return };
    let script = "if touch /x 2>/dev/null; then echo root writable; else echo root read-only; fi";

    let ro = jolt.bundle().sh(script);
    let out = jolt.run_ok("root-ro", &ro);
    assert_eq!(line_after(&out.stdout, "root "), "read-only");
    assert!(!ro.rootfs().join("x").exists());

    let rw = jolt
        .bundle()
        .with(|c| c["root"]["readonly"] = json!(false))
        .sh(script);
    let out = jolt.run_ok("root-rw", &rw);
    assert_eq!(line_after(&out.stdout, "root "), "writable");
    assert!(
        rw.rootfs().join("x").exists(),
        "written to the bundle's rootfs"
    );
}

#[test]
fn bind_mounts_read_write_and_read_only() {
    let Some(jolt) = session() else { return };
    let shared = jolt.host_dir("shared");
    fs::write(shared.join("hello"), "hello from the host\n").unwrap();
    let ro = jolt.host_dir("ro");
    fs::write(ro.join("file"), "read me\n").unwrap();
    let bundle = jolt
        .bundle()
        .bind(&shared, "/data", &["rbind", "rw"])
        .bind(&ro, "/ro", &["rbind", "ro"])
        .sh("cat /data/hello; echo from the container > /data/new; \
             cat /ro/file; \
             if echo x > /ro/x 2>/dev/null; then echo ro writable; else echo ro denied; fi");

    let out = jolt.run_ok("bind", &bundle);
    out.assert_stdout_contains("hello from the host")
        .assert_stdout_contains("read me");
    assert_eq!(line_after(&out.stdout, "ro "), "denied");
    assert_eq!(
        fs::read_to_string(shared.join("new")).unwrap(),
        "from the container\n"
    );
    assert!(!ro.join("x").exists());
}

#[test]
fn tmpfs_mount_with_options() {
    let Some(jolt) = session() else { return };
    let bundle = jolt
        .bundle()
        .mount(json!({
            "destination": "/scratch",
            "type": "tmpfs",
            "source": "tmpfs",
            "options": ["nosuid", "nodev", "noexec", "mode=1770", "size=1m"]
        }))
        .sh("echo \"mode $(stat -c %a /scratch)\"; \
             echo \"mount $(grep ' /scratch ' /proc/mounts)\"; \
             head -c 2000000 /dev/zero > /scratch/big 2>/dev/null; echo \"write2m $?\"; \
             rm /scratch/big; echo small > /scratch/small; echo \"write $?\"");

    let out = jolt.run_ok("tmpfs", &bundle);
    assert_eq!(line_after(&out.stdout, "mode "), "1770");
    let mount = line_after(&out.stdout, "mount ");
    assert!(mount.starts_with("tmpfs /scratch tmpfs "), "{mount}");
    for option in ["nosuid", "nodev", "noexec", "size=1024k", "mode=1770"] {
        assert!(mount.contains(option), "{option} in {mount}");
    }
    assert_ne!(line_after(&out.stdout, "write2m "), "0", "size=1m holds");
    assert_eq!(line_after(&out.stdout, "write "), "0");
}

#[test]
fn masked_and_read_only_paths() {
    let Some(jolt) = session() else { return };
    let bundle = jolt
        .bundle()
        .sh("echo \"kcore $(cat /proc/kcore 2>/dev/null | wc -c)\"; \
         echo \"firmware $(ls /sys/firmware 2>/dev/null | wc -l)\"; \
         if echo 1 > /proc/sys/net/ipv4/ip_forward 2>/dev/null; \
         then echo procsys writable; else echo procsys read-only; fi; \
         echo \"mount $(grep ' /proc/sys ' /proc/mounts)\"");

    let out = jolt.run_ok("masked", &bundle);
    assert_eq!(
        line_after(&out.stdout, "kcore "),
        "0",
        "/proc/kcore is masked"
    );
    assert_eq!(
        line_after(&out.stdout, "firmware "),
        "0",
        "/sys/firmware is masked"
    );
    assert_eq!(line_after(&out.stdout, "procsys "), "read-only");
    let mount = line_after(&out.stdout, "mount ");
    assert!(
        mount
            .split_whitespace()
            .nth(3)
            .is_some_and(|o| o.split(',').any(|o| o == "ro")),
        "/proc/sys is mounted ro: {mount}"
    );
}

#[test]
fn dev_has_the_standard_devices_and_no_others() {
    let Some(jolt) = session() else { return };
    let bundle = jolt
        .bundle()
        .sh("for d in null zero full random urandom tty; do \
           if [ -c /dev/$d ]; then echo \"char $d $(stat -c %t:%T /dev/$d)\"; \
           else echo \"missing $d\"; fi; done; \
         for l in fd stdin stdout stderr; do echo \"link $l $(readlink /dev/$l)\"; done; \
         [ -e /dev/ptmx ] && echo has ptmx; \
         for d in pts shm mqueue; do [ -d /dev/$d ] && echo \"has $d\"; done; \
         for f in /dev/* /dev/*/*; do [ -b $f ] && echo \"block $f\"; done; \
         echo x > /dev/null && echo null writable; \
         echo \"zero $(head -c 4 /dev/zero | wc -c)\"; \
         echo \"urandom $(head -c 4 /dev/urandom | wc -c)\"; \
         if echo x > /dev/full 2>/dev/null; then echo full accepted; else echo full refused; fi");

    let out = jolt.run_ok("dev", &bundle);
    let stdout = &out.stdout;
    for (dev, numbers) in [
        ("null", "1:3"),
        ("zero", "1:5"),
        ("full", "1:7"),
        ("random", "1:8"),
        ("urandom", "1:9"),
        ("tty", "5:0"),
    ] {
        assert_eq!(
            line_after(stdout, &format!("char {dev} ")),
            numbers,
            "/dev/{dev}:\n{stdout}"
        );
    }
    assert_eq!(line_after(stdout, "link fd "), "/proc/self/fd");
    assert_eq!(line_after(stdout, "link stdin "), "/proc/self/fd/0");
    assert_eq!(line_after(stdout, "link stdout "), "/proc/self/fd/1");
    assert_eq!(line_after(stdout, "link stderr "), "/proc/self/fd/2");
    for has in ["ptmx", "pts", "shm", "mqueue"] {
        assert_eq!(line_after(stdout, &format!("has {has}")), "", "/dev/{has}");
    }
    assert!(
        !stdout.contains("block "),
        "no block devices in /dev:\n{stdout}"
    );
    assert_eq!(line_after(stdout, "null "), "writable");
    assert_eq!(line_after(stdout, "zero "), "4");
    assert_eq!(line_after(stdout, "urandom "), "4");
    assert_eq!(line_after(stdout, "full "), "refused");
}

/// The first block device of the host, as (major, minor).
fn a_host_block_device() -> Option<(u64, u64)> {
    let mut devs: Vec<(u64, u64)> = fs::read_dir("/sys/block")
        .ok()?
        .flatten()
        .filter_map(|e| fs::read_to_string(e.path().join("dev")).ok())
        .filter_map(|d| {
            let (major, minor) = d.trim().split_once(':')?;
            Some((major.parse().ok()?, minor.parse().ok()?))
        })
        .collect();
    devs.sort();
    devs.into_iter().next()
}

#[test]
fn linux_devices_are_created_and_the_device_cgroup_denies_the_rest() {
    let Some(jolt) = session() else { return };
    let mut devices = vec![json!({
        "path": "/dev/mynull", "type": "c", "major": 1, "minor": 3,
        "fileMode": 0o666, "uid": 0, "gid": 0
    })];
    // A host disk node in the container: created, but the default
    // "deny all" device rule must keep it unreadable.
    let disk = a_host_block_device();
    if let Some((major, minor)) = disk {
        devices.push(json!({
            "path": "/dev/hostdisk", "type": "b", "major": major, "minor": minor,
            "fileMode": 0o600, "uid": 0, "gid": 0
        }));
    }
    let bundle = jolt
        .bundle()
        .with(|c| c["linux"]["devices"] = json!(devices))
        .sh("echo \"node $(stat -c '%F %t:%T %a' /dev/mynull)\"; \
             echo hi > /dev/mynull && echo mynull writable; \
             if [ -b /dev/hostdisk ]; then \
               if head -c 1 /dev/hostdisk > /dev/null 2>&1; \
               then echo hostdisk readable; else echo hostdisk denied; fi; fi");

    let out = jolt.run_ok("devices", &bundle);
    assert_eq!(
        line_after(&out.stdout, "node "),
        "character special file 1:3 666"
    );
    out.assert_stdout_contains("mynull writable");
    if disk.is_some() {
        assert_eq!(
            line_after(&out.stdout, "hostdisk "),
            "denied",
            "the device cgroup denies what resources.devices does not allow"
        );
    }
}

/// access(2) with F_OK asks the device cgroup about no access at all; on
/// cgroup v2 (the VM) jolt's eBPF filter used to deny it where runc's
/// allows it (systemd and udev probe devices that way).
#[test]
fn an_access_check_of_an_allowed_device_passes_the_device_cgroup() {
    let Some(jolt) = session() else { return };
    let bundle = jolt
        .bundle()
        .with(|c| {
            c["linux"]["devices"] = json!([{
                "path": "/dev/kmsg", "type": "c", "major": 1, "minor": 11,
                "fileMode": 0o644, "uid": 0, "gid": 0
            }]);
            c["linux"]["resources"]["devices"] = json!([
                { "allow": false, "access": "rwm" },
                { "allow": true, "type": "c", "major": 1, "minor": 11, "access": "rw" }
            ]);
        })
        .args(&["/bin/access-probe", "/dev/kmsg"]);
    const SOURCE: &str = r#"
#include <stdio.h>
#include <string.h>
#include <errno.h>
#include <unistd.h>
int main(int argc, char **argv) {
    if (access(argv[1], F_OK) == 0) { puts("access ok"); return 0; }
    printf("access %s\n", strerror(errno));
    return 0;
}
"#;
    if !jolt_e2e::build_static_c(
        SOURCE,
        &bundle.rootfs().join("bin/access-probe"),
        "the access probe",
    ) {
        return;
    }

    let out = jolt.run_ok("access-f-ok", &bundle);
    assert_eq!(line_after(&out.stdout, "access "), "ok", "{out}");
    if let Some(runc) = jolt.runc_run("access-f-ok-runc", &bundle) {
        let stdout = String::from_utf8_lossy(&runc.stdout);
        assert_eq!(line_after(&stdout, "access "), "ok", "runc: {stdout}");
    }
}

#[test]
fn no_pivot_still_confines_the_root() {
    let Some(jolt) = session() else { return };
    let marker = jolt.host_dir("host-only");
    let script = format!(
        "if [ -e {} ]; then echo host visible; else echo host hidden; fi; \
         echo \"busybox $(ls /bin/busybox)\"",
        marker.display()
    );
    let bundle = jolt.bundle().sh(&script);

    let out = jolt.run_ok_with("no-pivot", &["--no-pivot"], &bundle);
    assert_eq!(line_after(&out.stdout, "host "), "hidden", "{out}");
    assert_eq!(line_after(&out.stdout, "busybox "), "/bin/busybox");
}

#[test]
fn namespaced_sysctls_are_set_inside_only() {
    let Some(jolt) = session() else { return };
    let read = |key: &str| fs::read_to_string(format!("/proc/sys/net/ipv4/{key}")).unwrap();
    let (forward, ttl) = (read("ip_forward"), read("ip_default_ttl"));
    let bundle = jolt
        .bundle()
        .with(|c| {
            c["linux"]["sysctl"] =
                json!({ "net.ipv4.ip_forward": "1", "net.ipv4.ip_default_ttl": "42" })
        })
        .sh("echo \"forward $(cat /proc/sys/net/ipv4/ip_forward)\"; \
             echo \"ttl $(cat /proc/sys/net/ipv4/ip_default_ttl)\"");

    let out = jolt.run_ok("sysctl", &bundle);
    assert_eq!(line_after(&out.stdout, "forward "), "1");
    assert_eq!(line_after(&out.stdout, "ttl "), "42");
    assert_eq!(read("ip_forward"), forward, "the host's value is untouched");
    assert_eq!(read("ip_default_ttl"), ttl, "the host's value is untouched");
}

/// Images often have absolute symlinks such as /var/run -> /run, and
/// Kubernetes mounts secrets under /var/run/secrets: the symlink resolves
/// inside the rootfs, never on the host.
#[test]
fn mount_destination_through_an_absolute_symlink_stays_in_the_rootfs() {
    let Some(jolt) = session() else { return };
    let secrets = jolt.host_dir("secrets");
    fs::write(secrets.join("token"), "s3cret\n").unwrap();
    let bundle = jolt.bundle();
    fs::create_dir(bundle.rootfs().join("run")).unwrap();
    std::os::unix::fs::symlink("/run", bundle.rootfs().join("var/run")).unwrap();
    let name = jolt.id("secrets");
    let bundle = bundle
        .bind(&secrets, &format!("/var/run/{name}"), &["rbind", "ro"])
        .sh(&format!("cat /run/{name}/token"));

    let out = jolt.run_ok("abs-symlink", &bundle);
    out.assert_stdout_contains("s3cret");
    assert!(
        !std::path::Path::new("/run").join(&name).exists(),
        "the host's /run is untouched"
    );
}

/// (inode, mode, content) of a host file, to tell it is the same file.
fn file_identity(path: &Path) -> (u64, u32, Vec<u8>) {
    let meta = fs::symlink_metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let content = fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    (meta.ino(), meta.mode(), content)
}

/// A /dev bound from the host is the host's (runc's needsSetupDev): jolt
/// makes no device node and no symlink in it, and a linux.devices entry
/// whose path is already there does not replace the host's file.
#[test]
fn a_dev_bound_from_the_host_is_left_alone() {
    let Some(jolt) = session() else { return };
    let host_dev = jolt.host_dir("hostdev");
    let foo = host_dev.join("foo");
    fs::write(&foo, "a host file, not a device\n").unwrap();
    let before = file_identity(&foo);
    let bundle = jolt
        .bundle()
        .with(|c| {
            // In place of the /dev tmpfs, so /dev/pts and the rest still
            // mount on top of it.
            for m in c["mounts"].as_array_mut().unwrap() {
                if m["destination"] == "/dev" {
                    *m = json!({
                        "destination": "/dev", "type": "bind",
                        "source": host_dev, "options": ["rbind"]
                    });
                }
            }
            c["linux"]["devices"] = json!([{
                "path": "/dev/foo", "type": "c", "major": 1, "minor": 3,
                "fileMode": 0o666, "uid": 0, "gid": 0
            }]);
        })
        .sh("echo \"foo $(stat -c %F /dev/foo)\"; cat /dev/foo");
    let mount_points: Vec<String> = bundle.config()["mounts"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["destination"].as_str()?.strip_prefix("/dev/"))
        .map(str::to_string)
        .collect();

    let out = jolt.run_ok("host-dev", &bundle);
    assert_eq!(line_after(&out.stdout, "foo "), "regular file");
    out.assert_stdout_contains("a host file, not a device");
    assert_eq!(file_identity(&foo), before, "the host's foo is untouched");
    for entry in fs::read_dir(&host_dev).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().to_string_lossy().into_owned();
        let kind = entry.file_type().unwrap();
        // The mounts on top of /dev need their directories, as with runc.
        let expected = name == "foo" || (kind.is_dir() && mount_points.contains(&name));
        assert!(
            expected,
            "jolt made {name} ({kind:?}) in the host's directory {}",
            host_dev.display()
        );
        if kind.is_dir() {
            assert!(
                fs::read_dir(entry.path()).unwrap().next().is_none(),
                "{name} is empty on the host"
            );
        }
    }
    assert!(host::mounts_mentioning(&host_dev).is_empty());
}

/// A linux.devices path that already exists in the rootfs keeps what is
/// there (runc does not unlink it): replacing it could delete a file of the
/// rootfs's owner.
#[test]
fn an_existing_file_at_a_device_path_stays() {
    let Some(jolt) = session() else { return };
    let bundle = jolt
        .bundle()
        .without_mount("/dev")
        .with(|c| {
            c["linux"]["devices"] = json!([{
                "path": "/dev/mydev", "type": "c", "major": 1, "minor": 3,
                "fileMode": 0o666, "uid": 0, "gid": 0
            }])
        })
        .sh("echo \"mydev $(stat -c %F /dev/mydev)\"; cat /dev/mydev");
    let mydev = bundle.rootfs().join("dev/mydev");
    fs::write(&mydev, "the image's own file\n").unwrap();
    let before = file_identity(&mydev);

    let out = jolt.run_ok("existing-dev", &bundle);
    assert_eq!(line_after(&out.stdout, "mydev "), "regular file");
    out.assert_stdout_contains("the image's own file");
    assert_eq!(
        file_identity(&mydev),
        before,
        "rootfs/dev/mydev is untouched"
    );
}
