//! scripts/install: the three programs, every man page and chaosctl's
//! completion scripts land under the prefix, `man` finds a subcommand's
//! page there, and --uninstall removes exactly what was installed. Uses
//! the debug binaries (--from) so that it builds nothing. Host only.

use std::path::PathBuf;
use std::process::Command;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn install(args: &[&str]) -> String {
    let out = Command::new(repo().join("scripts/install"))
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "scripts/install {args:?}: {out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn files(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut all = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            match p.is_dir() {
                true => todo.push(p),
                false => all.push(p),
            }
        }
    }
    all
}

#[test]
fn install_puts_programs_man_pages_and_completions_under_the_prefix() {
    let prefix = tempfile::tempdir().unwrap();
    let p = prefix.path().to_str().unwrap();
    let debug = repo().join("target/debug");
    install(&["--prefix", p, "--from", debug.to_str().unwrap()]);
    let pages = std::fs::read_dir(repo().join("docs/man")).unwrap().count();
    assert_eq!(files(prefix.path()).len(), 3 + pages + 3);
    let version = Command::new(prefix.path().join("bin/chaosctl"))
        .arg("--version")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&version.stdout).starts_with("chaosctl "));
    let bash = std::fs::read_to_string(
        prefix
            .path()
            .join("share/bash-completion/completions/chaosctl"),
    )
    .unwrap();
    assert!(
        bash.contains("_chaosctl()") && bash.contains("apply"),
        "a bash completion"
    );
    match Command::new("man")
        .arg("-M")
        .arg(prefix.path().join("share/man"))
        .args(["-P", "cat", "chaosctl-image-import"])
        .env("MANWIDTH", "80")
        .output()
    {
        Ok(out) => {
            let page = String::from_utf8_lossy(&out.stdout);
            assert!(
                out.status.success() && page.contains("chaosctl image import"),
                "{out:?}"
            );
        }
        Err(e) => eprintln!("skipped the man check: man: {e} (apt-get install man-db)"),
    }
    install(&["--prefix", p, "--uninstall"]);
    let left: Vec<_> = std::fs::read_dir(prefix.path()).unwrap().collect();
    assert!(left.is_empty(), "files or directories left: {left:?}");
}

/// A --from without the programs installs nothing and says why.
#[test]
fn install_from_a_directory_without_the_programs_installs_nothing() {
    let prefix = tempfile::tempdir().unwrap();
    let empty = tempfile::tempdir().unwrap();
    let out = Command::new(repo().join("scripts/install"))
        .args(["--prefix", prefix.path().to_str().unwrap(), "--from"])
        .arg(empty.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && stderr.contains("no executable jolt there"),
        "{out:?}"
    );
    assert_eq!(std::fs::read_dir(prefix.path()).unwrap().count(), 0);
}
