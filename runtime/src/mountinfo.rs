//! mountinfo: the lines of /proc/PID/mountinfo, parsed, with the kernel's
//! octal escapes undone. What is decided from them lives with the decision:
//! which host procfs and sysfs a `--no-pivot` container must not keep in
//! `rootfs`, where each cgroup hierarchy is mounted in
//! `cgroups::placement`.

use std::path::PathBuf;

/// One mount, as far as jolt reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountEntry {
    /// The directory of the filesystem that is mounted ("/" for all of it).
    pub root: String,
    pub mount_point: PathBuf,
    pub fs_type: String,
    /// The super block's options (for cgroup v1: the controllers).
    pub super_options: Vec<String>,
}

/// Parses mountinfo(5) text; lines it cannot read are skipped.
pub fn parse(text: &str) -> Vec<MountEntry> {
    text.lines().filter_map(parse_line).collect()
}

fn parse_line(line: &str) -> Option<MountEntry> {
    let mut fields = line.split(' ');
    let root = unescape(fields.nth(3)?);
    let mount_point = unescape(fields.next()?);
    // Optional fields run up to the "-" separator; then the type, the
    // source and the super block's options.
    let mut tail = fields.skip_while(|f| *f != "-").skip(1);
    let fs_type = unescape(tail.next()?);
    let super_options = tail.nth(1).unwrap_or("");
    Some(MountEntry {
        root,
        mount_point: PathBuf::from(mount_point),
        fs_type,
        super_options: super_options.split(',').map(str::to_string).collect(),
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

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
        assert_eq!(m[3].super_options, vec!["rw"]);
        assert!(parse("garbage\n").is_empty());
    }
}
