//! `jolt --version`: runc's three lines (version, commit, spec version),
//! which containerd and people paste into bug reports. Needs neither root
//! nor busybox.

use jolt_e2e::Jolt;

#[test]
fn version_prints_runcs_three_lines() {
    let jolt = Jolt::new();
    for flag in ["--version", "-v"] {
        let out = jolt.ok([flag]);
        let lines: Vec<&str> = out.stdout.lines().collect();
        assert_eq!(lines.len(), 3, "three lines from `jolt {flag}`:\n{out}");
        let version = lines[0]
            .strip_prefix("jolt version ")
            .unwrap_or_else(|| panic!("first line is `jolt version X`:\n{out}"));
        assert!(
            !version.trim().is_empty() && version.chars().next().unwrap().is_ascii_digit(),
            "a version number:\n{out}"
        );
        let commit = lines[1]
            .strip_prefix("commit: ")
            .unwrap_or_else(|| panic!("second line is `commit: ...`:\n{out}"));
        assert!(!commit.trim().is_empty(), "{out}");
        assert_eq!(lines[2], "spec: 1.0.2-dev", "{out}");
        assert_eq!(out.stderr, "", "{out}");
    }
}
