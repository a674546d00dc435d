//! `jolt spec`: writes runc's default config.json, never over an existing
//! one. Needs neither root nor busybox.

use std::collections::BTreeSet;
use std::fs;

use jolt_e2e::Jolt;
use serde_json::{json, Value};

fn strings(v: &Value) -> BTreeSet<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("expected an array, got {v}"))
        .iter()
        .map(|s| s.as_str().expect("strings").to_string())
        .collect()
}

#[test]
fn spec_writes_the_runc_default_config() {
    let jolt = Jolt::new();
    let dir = jolt.host_dir("spec");
    jolt.ok(["spec", "--bundle", dir.to_str().unwrap()]);

    let text = fs::read(dir.join("config.json")).expect("config.json written");
    let config: Value = serde_json::from_slice(&text).expect("config.json is JSON");
    assert!(config["ociVersion"].as_str().unwrap().starts_with("1."));

    let process = &config["process"];
    assert_eq!(process["terminal"], json!(true));
    assert_eq!(process["args"], json!(["sh"]));
    assert_eq!(process["cwd"], json!("/"));
    assert_eq!(process["user"]["uid"], json!(0));
    assert_eq!(process["user"]["gid"], json!(0));
    assert!(strings(&process["env"])
        .iter()
        .any(|e| e.starts_with("PATH=")));
    let caps: BTreeSet<String> = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
        .map(String::from)
        .into();
    for set in ["bounding", "effective", "permitted"] {
        assert_eq!(strings(&process["capabilities"][set]), caps, "{set}");
    }
    assert_eq!(
        process["rlimits"],
        json!([{ "type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024 }])
    );
    assert_eq!(process["noNewPrivileges"], json!(true));

    assert_eq!(
        config["root"],
        json!({ "path": "rootfs", "readonly": true })
    );

    let mounts: Vec<(&str, &str)> = config["mounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["destination"].as_str().unwrap(),
                m["type"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        mounts,
        [
            ("/proc", "proc"),
            ("/dev", "tmpfs"),
            ("/dev/pts", "devpts"),
            ("/dev/shm", "tmpfs"),
            ("/dev/mqueue", "mqueue"),
            ("/sys", "sysfs"),
            ("/sys/fs/cgroup", "cgroup"),
        ]
    );
    for read_only in [5, 6] {
        assert!(
            strings(&config["mounts"][read_only]["options"]).contains("ro"),
            "{} is mounted ro",
            mounts[read_only].0
        );
    }

    let linux = &config["linux"];
    let namespaces: BTreeSet<&str> = linux["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        namespaces,
        BTreeSet::from(["pid", "network", "ipc", "uts", "mount", "cgroup"])
    );
    let masked = strings(&linux["maskedPaths"]);
    for path in [
        "/proc/kcore",
        "/proc/keys",
        "/proc/timer_list",
        "/sys/firmware",
    ] {
        assert!(masked.contains(path), "maskedPaths has {path}: {masked:?}");
    }
    let readonly = strings(&linux["readonlyPaths"]);
    for path in ["/proc/sys", "/proc/sysrq-trigger", "/proc/bus", "/proc/irq"] {
        assert!(
            readonly.contains(path),
            "readonlyPaths has {path}: {readonly:?}"
        );
    }
    assert_eq!(
        linux["resources"]["devices"],
        json!([{ "allow": false, "access": "rwm" }])
    );
}

#[test]
fn spec_without_bundle_writes_to_the_current_directory() {
    let jolt = Jolt::new();
    let dir = jolt.host_dir("spec-cwd");
    jolt.run_in(&dir, ["spec"]).assert_success();
    let text = fs::read(dir.join("config.json")).expect("config.json in the cwd");
    serde_json::from_slice::<Value>(&text).expect("config.json is JSON");
}

#[test]
fn spec_refuses_to_overwrite_a_config() {
    let jolt = Jolt::new();
    let dir = jolt.host_dir("spec-twice");
    let config = dir.join("config.json");
    fs::write(&config, "{\"mine\": true}\n").unwrap();

    jolt.fails(["spec", "--bundle", dir.to_str().unwrap()])
        .assert_stderr_contains("config.json");

    assert_eq!(
        fs::read_to_string(&config).unwrap(),
        "{\"mine\": true}\n",
        "the existing config.json is untouched"
    );
}
