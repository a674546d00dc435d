//! mountinfo: the lines of /proc/self/mountinfo jolt needs, parsed, and the
//! one decision it makes from them: which of the host's procfs and sysfs
//! mounts a `--no-pivot` container must not keep.
//!
//! Without pivot_root the host's mounts stay in the container's mount
//! namespace, under the rootfs moved over `/`. The kernel lets a process
//! that made a user namespace mount a fresh procfs or sysfs when one of the
//! same kind is fully visible in its mount namespace; a host /proc there
//! would be one, and the fresh mount would show what maskedPaths hides.

use std::path::{Path, PathBuf};

/// One mount, as far as jolt reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountEntry {
    /// The directory of the filesystem that is mounted ("/" for all of it).
    pub root: String,
    pub mount_point: PathBuf,
    pub fs_type: String,
}

/// Parses mountinfo(5) text; lines it cannot read are skipped.
pub fn parse(text: &str) -> Vec<MountEntry> {
    text.lines().filter_map(parse_line).collect()
}

fn parse_line(line: &str) -> Option<MountEntry> {
    let mut fields = line.split(' ');
    let root = unescape(fields.nth(3)?);
    let mount_point = unescape(fields.next()?);
    // Optional fields run up to the "-" separator; the type follows it.
    let fs_type = fields.skip_while(|f| *f != "-").nth(1)?;
    Some(MountEntry {
        root,
        mount_point: PathBuf::from(mount_point),
        fs_type: unescape(fs_type),
    })
}

/// Undoes the kernel's octal escapes (`\040` for a space, ...).
fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes
            .get(i + 1..i + 4)
            .filter(|d| d.iter().all(|b| (b'0'..=b'7').contains(b)));
        match (bytes[i], octal) {
            (b'\\', Some(d)) => {
                out.push((d[0] - b'0') * 64 + (d[1] - b'0') * 8 + (d[2] - b'0'));
                i += 4;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The mount points of full procfs and sysfs mounts outside `rootfs`,
/// deepest first: what a `--no-pivot` container must detach or cover.
pub fn revealing(mounts: &[MountEntry], rootfs: &Path) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = mounts
        .iter()
        .filter(|m| m.root == "/" && (m.fs_type == "proc" || m.fs_type == "sysfs"))
        .filter(|m| !m.mount_point.starts_with(rootfs))
        .map(|m| m.mount_point.clone())
        .collect();
    found.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    found.dedup();
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "\
22 1 254:1 / / rw,relatime shared:1 - ext4 /dev/vda1 rw
23 22 0:21 / /proc rw,nosuid,nodev,noexec,relatime shared:12 - proc proc rw
24 22 0:22 / /sys rw,nosuid,nodev,noexec,relatime shared:2 - sysfs sysfs rw
25 24 0:23 / /sys/fs/cgroup rw shared:3 - cgroup2 cgroup2 rw
26 22 0:24 / /run/a\\040dir/proc rw - proc proc rw
27 22 254:1 /srv/c/rootfs /run/b/rootfs rw - ext4 /dev/vda1 rw
28 27 0:25 / /run/b/rootfs/proc rw - proc proc rw
29 22 0:21 /sys /run/sysbind rw - proc proc rw
";

    #[test]
    fn lines_parse_with_optional_fields_and_escapes() {
        let m = parse(SAMPLE);
        assert_eq!(m.len(), 8);
        assert_eq!(m[1].fs_type, "proc");
        assert_eq!(m[1].mount_point, Path::new("/proc"));
        assert_eq!(m[4].mount_point, Path::new("/run/a dir/proc"));
        assert_eq!(m[5].root, "/srv/c/rootfs");
        assert!(parse("garbage\n").is_empty());
    }

    #[test]
    fn full_proc_and_sys_outside_the_rootfs_are_revealing_and_partial_ones_are_not() {
        let found = revealing(&parse(SAMPLE), Path::new("/run/b/rootfs"));
        assert_eq!(
            found,
            vec![
                PathBuf::from("/run/a dir/proc"),
                PathBuf::from("/proc"),
                PathBuf::from("/sys"),
            ]
        );
    }
}
