//! options: `mounts[].options` split into what the kernel wants where —
//! MS_* flags for mount(2), attributes mount_setattr(2) applies to the
//! mount and every mount below it (runc's `rro`, `rnosuid`, ...),
//! propagation applied after the mount, jolt's own keywords (`bind`,
//! `rbind`, `tmpcopyup`), and the rest as filesystem data.
//!
//! [`OPTIONS`] is the one table of what jolt acts on; `jolt features`
//! lists exactly it, so the document cannot claim an option jolt ignores.

use libc::{
    MOUNT_ATTR_NOATIME as NOATIME, MOUNT_ATTR_NODEV as NODEV, MOUNT_ATTR_NODIRATIME as NODIRATIME,
    MOUNT_ATTR_NOEXEC as NOEXEC, MOUNT_ATTR_NOSUID as NOSUID,
    MOUNT_ATTR_NOSYMFOLLOW as NOSYMFOLLOW, MOUNT_ATTR_RDONLY as RDONLY,
    MOUNT_ATTR_RELATIME as RELATIME, MOUNT_ATTR_STRICTATIME as STRICTATIME,
};
use nix::mount::MsFlags;

/// What one option does.
#[derive(Debug, Clone, Copy)]
pub enum Effect {
    /// Sets an MS_* flag.
    Set(MsFlags),
    /// Clears an MS_* flag.
    Clear(MsFlags),
    /// Sets a MOUNT_ATTR_* attribute on the whole subtree.
    RecSet(u64),
    /// Clears a MOUNT_ATTR_* attribute on the whole subtree.
    RecClear(u64),
    /// The subtree's access-time mode: MOUNT_ATTR_RELATIME, _NOATIME or
    /// _STRICTATIME (one field; the kernel wants it cleared and set).
    RecAtime(u64),
    /// A propagation type, applied after the mount.
    Propagation(MsFlags),
    /// A bind mount; `rbind` with the mounts below the source.
    Bind { recursive: bool },
    /// Copy what the mount covers into it (tmpfs only), or do not.
    CopyUp(bool),
    /// `defaults`: nothing.
    Nothing,
}

use Effect::*;

/// MS_NOSYMFOLLOW (Linux 5.10), which nix does not name.
const NO_SYMFOLLOW: MsFlags = MsFlags::from_bits_retain(libc::MS_NOSYMFOLLOW);

/// Every option jolt acts on, sorted by name.
pub const OPTIONS: &[(&str, Effect)] = &[
    ("acl", Set(MsFlags::MS_POSIXACL)),
    ("async", Clear(MsFlags::MS_SYNCHRONOUS)),
    ("atime", Clear(MsFlags::MS_NOATIME)),
    ("bind", Bind { recursive: false }),
    ("defaults", Nothing),
    ("dev", Clear(MsFlags::MS_NODEV)),
    ("diratime", Clear(MsFlags::MS_NODIRATIME)),
    ("dirsync", Set(MsFlags::MS_DIRSYNC)),
    ("exec", Clear(MsFlags::MS_NOEXEC)),
    ("iversion", Set(MsFlags::MS_I_VERSION)),
    ("lazytime", Set(MsFlags::MS_LAZYTIME)),
    ("loud", Clear(MsFlags::MS_SILENT)),
    ("mand", Set(MsFlags::MS_MANDLOCK)),
    ("noacl", Clear(MsFlags::MS_POSIXACL)),
    ("noatime", Set(MsFlags::MS_NOATIME)),
    ("nodev", Set(MsFlags::MS_NODEV)),
    ("nodiratime", Set(MsFlags::MS_NODIRATIME)),
    ("noexec", Set(MsFlags::MS_NOEXEC)),
    ("noiversion", Clear(MsFlags::MS_I_VERSION)),
    ("nolazytime", Clear(MsFlags::MS_LAZYTIME)),
    ("nomand", Clear(MsFlags::MS_MANDLOCK)),
    ("norelatime", Clear(MsFlags::MS_RELATIME)),
    ("nostrictatime", Clear(MsFlags::MS_STRICTATIME)),
    ("nosuid", Set(MsFlags::MS_NOSUID)),
    ("nosymfollow", Set(NO_SYMFOLLOW)),
    ("notmpcopyup", CopyUp(false)),
    ("private", Propagation(MsFlags::MS_PRIVATE)),
    ("ratime", RecAtime(RELATIME)),
    ("rbind", Bind { recursive: true }),
    ("rdev", RecClear(NODEV)),
    ("rdiratime", RecClear(NODIRATIME)),
    ("relatime", Set(MsFlags::MS_RELATIME)),
    ("remount", Set(MsFlags::MS_REMOUNT)),
    ("rexec", RecClear(NOEXEC)),
    ("rnoatime", RecAtime(NOATIME)),
    ("rnodev", RecSet(NODEV)),
    ("rnodiratime", RecSet(NODIRATIME)),
    ("rnoexec", RecSet(NOEXEC)),
    ("rnorelatime", RecAtime(STRICTATIME)),
    ("rnostrictatime", RecAtime(RELATIME)),
    ("rnosuid", RecSet(NOSUID)),
    ("rnosymfollow", RecSet(NOSYMFOLLOW)),
    ("ro", Set(MsFlags::MS_RDONLY)),
    (
        "rprivate",
        Propagation(MsFlags::MS_PRIVATE.union(MsFlags::MS_REC)),
    ),
    ("rrelatime", RecAtime(RELATIME)),
    ("rro", RecSet(RDONLY)),
    ("rrw", RecClear(RDONLY)),
    (
        "rshared",
        Propagation(MsFlags::MS_SHARED.union(MsFlags::MS_REC)),
    ),
    (
        "rslave",
        Propagation(MsFlags::MS_SLAVE.union(MsFlags::MS_REC)),
    ),
    ("rstrictatime", RecAtime(STRICTATIME)),
    ("rsuid", RecClear(NOSUID)),
    ("rsymfollow", RecClear(NOSYMFOLLOW)),
    (
        "runbindable",
        Propagation(MsFlags::MS_UNBINDABLE.union(MsFlags::MS_REC)),
    ),
    ("rw", Clear(MsFlags::MS_RDONLY)),
    ("shared", Propagation(MsFlags::MS_SHARED)),
    ("silent", Set(MsFlags::MS_SILENT)),
    ("slave", Propagation(MsFlags::MS_SLAVE)),
    ("strictatime", Set(MsFlags::MS_STRICTATIME)),
    ("suid", Clear(MsFlags::MS_NOSUID)),
    ("symfollow", Clear(NO_SYMFOLLOW)),
    ("sync", Set(MsFlags::MS_SYNCHRONOUS)),
    ("tmpcopyup", CopyUp(true)),
    ("unbindable", Propagation(MsFlags::MS_UNBINDABLE)),
];

/// The names in [`OPTIONS`], for `jolt features`.
pub fn names() -> impl Iterator<Item = &'static str> {
    OPTIONS.iter().map(|(name, _)| *name)
}

/// mount_setattr(2) attributes for a mount and the mounts below it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RecursiveAttr {
    pub set: u64,
    pub clear: u64,
}

impl RecursiveAttr {
    pub fn is_empty(&self) -> bool {
        self.set == 0 && self.clear == 0
    }
}

/// Mount options split into what the kernel wants where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountOptions {
    pub flags: MsFlags,
    pub propagation: Vec<MsFlags>,
    pub bind: bool,
    pub recursive: bool,
    pub attr: RecursiveAttr,
    pub copy_up: bool,
    /// Options jolt does not know, for the filesystem to judge.
    pub data: Vec<String>,
}

impl Default for MountOptions {
    fn default() -> Self {
        MountOptions {
            flags: MsFlags::empty(),
            propagation: Vec::new(),
            bind: false,
            recursive: false,
            attr: RecursiveAttr::default(),
            copy_up: false,
            data: Vec::new(),
        }
    }
}

/// Parses `mounts[].options` the way mount(8) and runc do, later options
/// overriding earlier ones; what is not in [`OPTIONS`] is filesystem data.
pub fn parse(options: &[String]) -> MountOptions {
    let mut o = MountOptions::default();
    for opt in options {
        let Ok(i) = OPTIONS.binary_search_by(|(name, _)| name.cmp(&opt.as_str())) else {
            o.data.push(opt.clone());
            continue;
        };
        match OPTIONS[i].1 {
            Set(f) => o.flags.insert(f),
            Clear(f) => o.flags.remove(f),
            RecSet(a) => {
                o.attr.set |= a;
                o.attr.clear &= !a;
            }
            RecClear(a) => {
                o.attr.clear |= a;
                o.attr.set &= !a;
            }
            RecAtime(mode) => {
                o.attr.clear |= libc::MOUNT_ATTR__ATIME;
                o.attr.set = (o.attr.set & !libc::MOUNT_ATTR__ATIME) | mode;
            }
            Propagation(f) => o.propagation.push(f),
            Bind { recursive } => {
                o.bind = true;
                o.recursive |= recursive;
            }
            CopyUp(on) => o.copy_up = on,
            Nothing => {}
        }
    }
    o
}

/// A propagation keyword (`rprivate`, `shared`, ...) as mount flags.
pub fn propagation(p: &str) -> Option<MsFlags> {
    OPTIONS.iter().find_map(|(name, effect)| match effect {
        Propagation(f) if *name == p => Some(*f),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(opts: &[&str]) -> MountOptions {
        parse(&opts.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn the_table_is_sorted_so_lookups_find_every_option() {
        assert!(OPTIONS.windows(2).all(|w| w[0].0 < w[1].0));
        for name in names() {
            assert!(parse_str(&[name]).data.is_empty(), "{name}");
        }
    }

    #[test]
    fn options_split_into_flags_propagation_and_data() {
        let o = parse_str(&[
            "nosuid", "ro", "rw", "rbind", "rslave", "mode=755", "size=1m", "noexec",
        ]);
        assert_eq!(o.flags, MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC);
        assert!(o.bind && o.recursive);
        assert_eq!(o.propagation, vec![MsFlags::MS_SLAVE | MsFlags::MS_REC]);
        assert_eq!(o.data, vec!["mode=755", "size=1m"]);
        assert!(o.attr.is_empty());
    }

    #[test]
    fn every_recursive_option_runc_knows_is_an_attribute() {
        for name in [
            "rro",
            "rrw",
            "rnosuid",
            "rsuid",
            "rnodev",
            "rdev",
            "rnoexec",
            "rexec",
            "rnodiratime",
            "rdiratime",
            "rrelatime",
            "rnorelatime",
            "rnoatime",
            "ratime",
            "rstrictatime",
            "rnostrictatime",
            "rnosymfollow",
            "rsymfollow",
        ] {
            let o = parse_str(&[name]);
            assert!(!o.attr.is_empty(), "{name}");
            assert!(o.flags.is_empty() && o.data.is_empty(), "{name}");
        }
    }

    #[test]
    fn a_later_recursive_option_overrides_an_earlier_one() {
        let o = parse_str(&["rro", "rnosuid", "rrw"]);
        assert_eq!(
            o.attr,
            RecursiveAttr {
                set: NOSUID,
                clear: RDONLY
            }
        );
        let o = parse_str(&["rnoatime", "rstrictatime"]);
        assert_eq!(
            o.attr,
            RecursiveAttr {
                set: STRICTATIME,
                clear: libc::MOUNT_ATTR__ATIME
            }
        );
    }

    #[test]
    fn tmpcopyup_is_a_keyword_and_notmpcopyup_undoes_it() {
        assert!(parse_str(&["tmpcopyup"]).copy_up);
        assert!(!parse_str(&["tmpcopyup", "notmpcopyup"]).copy_up);
    }

    #[test]
    fn propagation_keywords_resolve_and_others_do_not() {
        assert_eq!(
            propagation("rprivate"),
            Some(MsFlags::MS_PRIVATE | MsFlags::MS_REC)
        );
        assert_eq!(propagation("ro"), None);
        assert_eq!(propagation("bogus"), None);
    }
}
