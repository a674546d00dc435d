//! names: the rule sets for the names jolt's programs take, one per kind
//! of name, so that each kind is checked the same way everywhere.
//!
//! | kind | rule | used for |
//! |---|---|---|
//! | runtime ID ([`runtime_id`]) | 1-1024 of `A-Z a-z 0-9 _ + - .`, not `.` or `..` | `jolt` container IDs, as runc takes them (containerd's and podman's IDs pass) |
//! | name ([`name`]) | 1-MAX of `A-Z a-z 0-9 _ . -`, starting with a letter or digit | joltd's container names (64), network and bridge names, the node names of a fleet file (64) |
//! | DNS label ([`dns_label`]) | 1-63 of `a-z 0-9 -`, not starting or ending with `-` | experiment names (they become file names, metric labels and Kubernetes-style names) |
//! | file name ([`file_name`]) | 1-MAX of `A-Z a-z 0-9 _ . -`, not starting with `.` | journal entry IDs (`EXPERIMENT-SEQ-TARGET`), which are file names |
//!
//! None of them can hold a `/`, a NUL or a path of `..`. Image references
//! (`[REGISTRY/]PATH[:TAG]`) follow the OCI distribution grammar, checked
//! where they are parsed (`jolt_agent::image::normalize`); label keys and
//! values are joltd's (`jolt_agent::container`).

/// Why `id` is not a runtime ID, if it is not one.
pub fn runtime_id(id: &str) -> Result<(), &'static str> {
    if id.is_empty() {
        return Err("empty");
    }
    if id == "." || id == ".." {
        return Err("not a name");
    }
    if id.len() > 1024 {
        return Err("longer than 1024 bytes");
    }
    if !id
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'+' | b'-' | b'.'))
    {
        return Err("only letters, digits, '_', '+', '-' and '.' are allowed");
    }
    Ok(())
}

/// Whether `s` is a name of at most `max` bytes.
pub fn name(s: &str, max: usize) -> bool {
    (1..=max).contains(&s.len())
        && s.starts_with(|c: char| c.is_ascii_alphanumeric())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

/// Whether `s` is a DNS label.
pub fn dns_label(s: &str) -> bool {
    (1..=63).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// Whether `s` is a file name of at most `max` bytes.
pub fn file_name(s: &str, max: usize) -> bool {
    (1..=max).contains(&s.len())
        && !s.starts_with('.')
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_takes_its_own_and_none_takes_a_path() {
        for good in ["a", "web-1", "x_y.z", "A+B", "0"] {
            assert_eq!(runtime_id(good), Ok(()), "{good}");
        }
        for bad in ["", ".", "..", "a/b", "../x", "a b", "a\0b", "/abs"] {
            assert!(runtime_id(bad).is_err(), "{bad:?}");
        }
        assert!(name("web-1.a_b", 64) && name("9", 64));
        assert!(
            !name("-web", 64) && !name("a/b", 64) && !name(&"a".repeat(65), 64) && !name("", 64)
        );
        assert!(
            dns_label("web-kill-1") && !dns_label("Web") && !dns_label("-a") && !dns_label("a-")
        );
        assert!(!dns_label(&"a".repeat(64)) && !dns_label("a.b"));
        assert!(file_name("web-kill-3-abc", 200) && file_name("-x", 200));
        assert!(!file_name(".hidden", 200) && !file_name("a/b", 200) && !file_name("", 200));
        for path in ["..", "a/../b", "a\0"] {
            assert!(
                !name(path, 64) && !dns_label(path) && !file_name(path, 200),
                "{path:?}"
            );
        }
    }
}
