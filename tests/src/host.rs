//! host: what the host shows about containers, read from /proc, /sys/fs/cgroup
//! and /run/netns, for checks a test makes from outside the container.
//!
//! Owns the cgroup v1/v2 detection and path layout, mount, process and
//! namespace look-ups, the named network namespace guard, a veth-joined
//! pair of them, ping timing, and the guard of a small tmpfs (a disk that
//! fills for real). It never changes a container; the only host state it
//! creates is named netns, the veth pairs inside them, and tmpfs mounts
//! on directories of the test's own.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

/// Which cgroup layout the host has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cgroups {
    /// Controllers in per-controller hierarchies under /sys/fs/cgroup/<name>
    /// (also hybrid hosts with an empty cgroup2 at /sys/fs/cgroup/unified).
    V1,
    /// One unified hierarchy at /sys/fs/cgroup.
    V2,
}

pub const CGROUP_ROOT: &str = "/sys/fs/cgroup";

/// v2 when /sys/fs/cgroup/cgroup.controllers exists, else v1.
pub fn cgroups() -> Cgroups {
    if Path::new(CGROUP_ROOT).join("cgroup.controllers").exists() {
        Cgroups::V2
    } else {
        Cgroups::V1
    }
}

fn relative(cgroup_path: &str) -> &str {
    cgroup_path.trim_start_matches('/')
}

/// The directory of `cgroup_path` holding `controller`'s files: on v1
/// /sys/fs/cgroup/<controller>/<path>, on v2 /sys/fs/cgroup/<path>.
pub fn cgroup_dir(controller: &str, cgroup_path: &str) -> PathBuf {
    match cgroups() {
        Cgroups::V1 => Path::new(CGROUP_ROOT)
            .join(controller)
            .join(relative(cgroup_path)),
        Cgroups::V2 => Path::new(CGROUP_ROOT).join(relative(cgroup_path)),
    }
}

/// Reads one cgroup file of `cgroup_path`, trimmed; panics naming it.
pub fn read_cgroup(controller: &str, cgroup_path: &str, file: &str) -> String {
    let path = cgroup_dir(controller, cgroup_path).join(file);
    fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
        .trim()
        .to_string()
}

/// The hierarchies mounted under /sys/fs/cgroup: every controller (and
/// named, and unified) hierarchy on v1, the single root on v2.
pub fn cgroup_hierarchies() -> Vec<PathBuf> {
    if cgroups() == Cgroups::V2 {
        return vec![PathBuf::from(CGROUP_ROOT)];
    }
    let mut seen = Vec::new();
    for entry in fs::read_dir(CGROUP_ROOT).into_iter().flatten().flatten() {
        let Ok(real) = fs::canonicalize(entry.path()) else {
            continue;
        };
        if real.is_dir() && !seen.contains(&real) {
            seen.push(real);
        }
    }
    seen
}

/// Every directory that exists for `cgroup_path` in any hierarchy.
pub fn cgroup_dirs_of(cgroup_path: &str) -> Vec<PathBuf> {
    cgroup_hierarchies()
        .into_iter()
        .map(|h| h.join(relative(cgroup_path)))
        .filter(|d| d.is_dir())
        .collect()
}

/// The pids listed in every cgroup.procs of `cgroup_path`, deduplicated.
pub fn cgroup_pids(cgroup_path: &str) -> Vec<i32> {
    let mut pids = Vec::new();
    for dir in cgroup_dirs_of(cgroup_path) {
        let text = fs::read_to_string(dir.join("cgroup.procs")).unwrap_or_default();
        for pid in text.lines().filter_map(|l| l.trim().parse().ok()) {
            if !pids.contains(&pid) {
                pids.push(pid);
            }
        }
    }
    pids
}

/// The lines of /proc/self/mountinfo whose mount point or root mentions
/// `path`.
pub fn mounts_mentioning(path: &Path) -> Vec<String> {
    let needle = path.to_string_lossy().replace(' ', "\\040");
    fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains(&needle))
        .map(str::to_string)
        .collect()
}

/// The mount points at or below `dir` in this mount namespace, deepest
/// first.
pub fn mount_points_under(dir: &Path) -> Vec<PathBuf> {
    let mut points: Vec<PathBuf> = fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(|p| PathBuf::from(p.replace("\\040", " ")))
        .filter(|p| p.starts_with(dir))
        .collect();
    points.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    points
}

/// Whether `pid` is a live process (exists and is not a zombie).
pub fn alive(pid: i32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        // state is the field after the parenthesised command name
        Ok(stat) => stat
            .rsplit_once(')')
            .map(|(_, rest)| !rest.trim_start().starts_with(['Z', 'X']))
            .unwrap_or(false),
        Err(_) => false,
    }
}

/// Live processes whose root directory is `rootfs` (the same directory,
/// by device and inode: after pivot_root, readlink of /proc/<pid>/root
/// shows only "/"), or a path below it (chroot), i.e. processes still
/// running in a container built on that rootfs.
pub fn processes_rooted_in(rootfs: &Path) -> Vec<i32> {
    use std::os::unix::fs::MetadataExt;
    let Ok(want) = fs::metadata(rootfs) else {
        return Vec::new();
    };
    let mut pids = Vec::new();
    for entry in fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse().ok()) else {
            continue;
        };
        let root = entry.path().join("root");
        let same =
            fs::metadata(&root).is_ok_and(|m| m.dev() == want.dev() && m.ino() == want.ino());
        let below =
            fs::read_link(&root).is_ok_and(|r| r != Path::new("/") && r.starts_with(rootfs));
        if (same || below) && alive(pid) {
            pids.push(pid);
        }
    }
    pids
}

/// One field of /proc/<pid>/status (e.g. "Uid"), without the name.
pub fn proc_status(pid: i32, field: &str) -> String {
    let path = format!("/proc/{pid}/status");
    let text = fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {path}: {e}"));
    crate::line_after(&text, &format!("{field}:"))
        .trim()
        .to_string()
}

/// The namespace link of this (host) process, e.g. "net:[4026531840]".
pub fn host_namespace(kind: &str) -> String {
    let link = format!("/proc/self/ns/{kind}");
    fs::read_link(&link)
        .unwrap_or_else(|e| panic!("readlink {link}: {e}"))
        .to_string_lossy()
        .into_owned()
}

/// The host's hostname.
pub fn host_hostname() -> String {
    fs::read_to_string("/proc/sys/kernel/hostname")
        .expect("reading /proc/sys/kernel/hostname")
        .trim()
        .to_string()
}

/// A named network namespace (`ip netns add`), deleted on drop.
pub struct NetNs {
    name: String,
}

impl NetNs {
    pub fn add(name: &str) -> NetNs {
        let out = Command::new("ip")
            .args(["netns", "add", name])
            .output()
            .expect("running ip netns add");
        assert!(
            out.status.success(),
            "ip netns add {name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        NetNs {
            name: name.to_string(),
        }
    }

    /// The name `ip netns` knows it by.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// /run/netns/<name>, the path a config.json joins.
    pub fn path(&self) -> String {
        format!("/run/netns/{}", self.name)
    }

    /// The namespace's identity as readlink shows it: "net:[<inode>]".
    pub fn link(&self) -> String {
        use std::os::unix::fs::MetadataExt;
        let meta = fs::metadata(self.path()).expect("stat the netns file");
        format!("net:[{}]", meta.ino())
    }

    /// Runs `args` inside the namespace and returns its stdout; panics
    /// with its stderr when it fails.
    pub fn exec(&self, args: &[&str]) -> String {
        let out = Command::new("ip")
            .args(["netns", "exec", &self.name])
            .args(args)
            .output()
            .expect("running ip netns exec");
        assert!(
            out.status.success(),
            "in netns {}: {args:?}: {}",
            self.name,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

/// Two network namespaces joined by a veth pair whose ends are both named
/// `eth0`: `a` has `<net>.1/30`, `b` has `<net>.2/30`. Both go away on drop.
pub struct NetNsPair {
    pub a: NetNs,
    pub b: NetNs,
}

impl NetNsPair {
    /// `tag` names the namespaces; `net` is the first three octets of the
    /// /30, e.g. "10.199.0".
    pub fn new(tag: &str, net: &str) -> NetNsPair {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let pid = std::process::id();
        let (a, b) = (
            NetNs::add(&format!("{tag}-a-{pid}-{n}")),
            NetNs::add(&format!("{tag}-b-{pid}-{n}")),
        );
        // An interface name has at most 15 bytes.
        let peer = format!("jp{pid}-{n}");
        a.exec(&[
            "ip", "link", "add", "eth0", "type", "veth", "peer", "name", &peer,
        ]);
        a.exec(&["ip", "link", "set", &peer, "netns", b.name()]);
        b.exec(&["ip", "link", "set", &peer, "name", "eth0"]);
        for (ns, host) in [(&a, 1), (&b, 2)] {
            ns.exec(&[
                "ip",
                "addr",
                "add",
                &format!("{net}.{host}/30"),
                "dev",
                "eth0",
            ]);
            ns.exec(&["ip", "link", "set", "eth0", "up"]);
            ns.exec(&["ip", "link", "set", "lo", "up"]);
        }
        NetNsPair { a, b }
    }
}

/// The round-trip times, in ms, of `count` busybox pings sent to `to` from
/// the network namespace at `netns`; panics unless every one was answered.
pub fn ping_rtts(netns: &Path, to: &str, count: usize) -> Vec<f64> {
    let out = Command::new("nsenter")
        .arg(format!("--net={}", netns.display()))
        .args([
            crate::BUSYBOX,
            "ping",
            "-c",
            &count.to_string(),
            "-i",
            "0.2",
            to,
        ])
        .output()
        .expect("running nsenter busybox ping");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let rtts: Vec<f64> = stdout
        .lines()
        .filter_map(|l| l.split("time=").nth(1))
        .filter_map(|t| t.trim_end_matches(" ms").parse().ok())
        .collect();
    assert_eq!(
        rtts.len(),
        count,
        "{count} replies from {to}:\n{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    rtts
}

impl Drop for NetNs {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "delete", &self.name])
            .output();
    }
}

/// A tmpfs of a fixed size mounted on a directory of the test's own,
/// unmounted on drop.
pub struct Tmpfs {
    path: PathBuf,
}

impl Tmpfs {
    /// Mounts a tmpfs of `size` (as mount's `size=`, e.g. `4m`) on `path`,
    /// made when missing.
    pub fn mount(path: &Path, size: &str) -> Tmpfs {
        fs::create_dir_all(path).unwrap_or_else(|e| panic!("mkdir {}: {e}", path.display()));
        nix::mount::mount(
            Some("tmpfs"),
            path,
            Some("tmpfs"),
            nix::mount::MsFlags::empty(),
            Some(format!("size={size},mode=0700").as_str()),
        )
        .unwrap_or_else(|e| panic!("mount -t tmpfs -o size={size} {}: {e}", path.display()));
        Tmpfs {
            path: path.to_path_buf(),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The bytes still free.
    pub fn available(&self) -> u64 {
        let st = nix::sys::statvfs::statvfs(&self.path).expect("statvfs of a tmpfs");
        st.blocks_available() as u64 * st.fragment_size() as u64
    }

    /// Writes the file `name` until the tmpfs is full (the kernel says
    /// ENOSPC); its path.
    pub fn fill(&self, name: &str) -> PathBuf {
        use std::io::Write;
        let path = self.path.join(name);
        let mut f = fs::File::create(&path).expect("creating the filler file");
        let chunk = vec![b'x'; 4096];
        loop {
            match f.write(&chunk) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) if e.raw_os_error() == Some(libc::ENOSPC) => break,
                Err(e) => panic!("filling {}: {e}", path.display()),
            }
        }
        path
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = nix::mount::umount2(&self.path, nix::mount::MntFlags::MNT_DETACH);
    }
}

/// The comments of the rules in an `nft -j list ...` listing: jolt tags
/// each rule with the ID of the container it belongs to.
pub fn nft_rule_comments(listing: &str) -> Vec<String> {
    let value: serde_json::Value = serde_json::from_str(listing)
        .unwrap_or_else(|e| panic!("nft -j output is not JSON ({e}):\n{listing}"));
    value["nftables"]
        .as_array()
        .expect("nft -j output has an nftables array")
        .iter()
        .filter_map(|o| o.get("rule"))
        .filter_map(|r| r["comment"].as_str().map(str::to_string))
        .collect()
}
