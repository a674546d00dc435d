//! examples/kubernetes: every manifest validates against Kubernetes' own
//! schemas (offline, `kubernetes-validate`, pinned and installed by
//! scripts/install-deps in target/venv), and a real containerd, configured
//! as `containerd config default` with the 1.x handler snippet appended,
//! starts with its CRI plugin and shows jolt as its `BinaryName`. containerd
//! 2.x is not in Debian 12: its snippet is parsed as TOML and its section
//! names checked, not loaded. Host only.

use std::path::PathBuf;
use std::process::Command;

use jolt_e2e::containerd::Containerd;
use jolt_e2e::image::which;

fn examples() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples/kubernetes")
}

/// kubernetes-validate: the pinned one in target/venv, else on PATH.
fn validator() -> Option<PathBuf> {
    let venv =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/venv/bin/kubernetes-validate");
    let found = venv
        .is_file()
        .then_some(venv)
        .or_else(|| which("kubernetes-validate"));
    if found.is_none() {
        eprintln!("skipped: kubernetes-validate not found (scripts/install-deps installs it in target/venv)");
    }
    found
}

fn manifests() -> Vec<PathBuf> {
    let mut all: Vec<_> = std::fs::read_dir(examples())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    all.sort();
    assert!(all.len() >= 5, "{all:?}");
    all
}

#[test]
fn the_manifests_validate_against_kubernetes_schemas() {
    let Some(validate) = validator() else { return };
    // The oldest Kubernetes still widely run, and the validator's newest.
    for version in ["1.28.0", "1.34.0"] {
        let out = Command::new(&validate)
            .args(["--strict", "--kubernetes-version", version])
            .args(manifests())
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "Kubernetes {version}:\n{text}");
        assert_eq!(
            text.matches(" passed for resource ").count(),
            manifests().len(),
            "{text}"
        );
    }
    // The check is real: a wrong type is refused.
    let bad = tempfile::tempdir().unwrap();
    let daemonset = std::fs::read_to_string(examples().join("daemonset.yaml")).unwrap();
    let broken = bad.path().join("daemonset.yaml");
    std::fs::write(
        &broken,
        daemonset.replace("hostPID: true", "hostPID: always"),
    )
    .unwrap();
    let out = Command::new(&validate)
        .arg("--strict")
        .arg(&broken)
        .output()
        .unwrap();
    assert!(!out.status.success(), "a broken manifest passed");
}

/// TOML text as JSON (python3's tomllib).
fn toml(text: &str) -> serde_json::Value {
    let mut child = Command::new("python3")
        .args([
            "-c",
            "import json, sys, tomllib; print(json.dumps(tomllib.loads(sys.stdin.read())))",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), text.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn both_containerd_snippets_name_jolt_as_the_runc_shims_binary() {
    for (file, plugin) in [
        ("containerd-1.x.toml", "io.containerd.grpc.v1.cri"),
        ("containerd-2.x.toml", "io.containerd.cri.v1.runtime"),
    ] {
        let t = toml(&std::fs::read_to_string(examples().join(file)).unwrap());
        // Appended to a config.toml, which has its own version line.
        assert!(t.get("version").is_none(), "{file}");
        let jolt = &t["plugins"][plugin]["containerd"]["runtimes"]["jolt"];
        assert_eq!(jolt["runtime_type"], "io.containerd.runc.v2", "{file}: {t}");
        assert_eq!(
            jolt["options"]["BinaryName"], "/usr/local/bin/jolt",
            "{file}"
        );
        assert_eq!(jolt["options"]["SystemdCgroup"], true, "{file}");
    }
}

#[test]
fn containerd_starts_with_the_handler_and_shows_jolt_as_its_binary() {
    // As install.md says: appended to the node's config.toml.
    let snippet = std::fs::read_to_string(examples().join("containerd-1.x.toml")).unwrap();
    let Some(ctrd) = Containerd::start_with_cri("k8s", &snippet) else {
        return;
    };
    let dump = toml(&ctrd.config_dump());
    let jolt = &dump["plugins"]["io.containerd.grpc.v1.cri"]["containerd"]["runtimes"]["jolt"];
    assert_eq!(jolt["runtime_type"], "io.containerd.runc.v2", "{dump}");
    assert_eq!(
        jolt["options"]["BinaryName"], "/usr/local/bin/jolt",
        "{dump}"
    );
    assert_eq!(jolt["options"]["SystemdCgroup"], true, "{dump}");
    // The running containerd loaded its CRI plugin with that config.
    let log = ctrd.log_tail();
    assert!(
        !log.contains("failed to load plugin io.containerd.grpc.v1.cri"),
        "{log}"
    );
    let plugins = ctrd.ok(&["plugins", "ls"]);
    assert!(
        plugins
            .lines()
            .any(|l| l.contains("io.containerd.grpc.v1") && l.contains("cri") && l.contains("ok")),
        "{plugins}"
    );
}
