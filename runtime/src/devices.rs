//! devices: cgroup v2 device access control: compiles
//! `linux.resources.devices` into a BPF_PROG_TYPE_CGROUP_DEVICE program and
//! attaches it to the container's cgroup.
//!
//! cgroup v2 has no devices.allow and devices.deny files: for every open and
//! mknod of a device node the kernel runs the device programs attached to
//! the cgroup and its ancestors, and allows the access only if all of them
//! return 1. This module owns the rule semantics ([`compile`]), runc's
//! always-allowed devices ([`with_defaults`]) and the bpf(2) calls that load
//! the program and put it in place of the one jolt attached before
//! ([`attach`]). It does not create or remove cgroups, and it does not do
//! cgroup v1, where `cgroups` writes the rules to devices.allow/deny.
//!
//! Semantics: rules apply in order and, for each access bit (r, w, m), the
//! last rule that matches the device and names that bit decides it; a bit
//! no rule decides is denied. An open for reading and writing needs both
//! bits. (runc and crun match a rule only when it names every requested
//! bit, so after "allow a *:* rwm" a "deny c 1:3 w" does not stop an O_RDWR
//! open of /dev/null; here it does.)

use std::fs::{File, OpenOptions};
use std::io;
use std::mem;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use libc::{c_int, c_long};
use nix::errno::Errno;
use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType};

/// What jolt names its programs, so that [`attach`] replaces its own and
/// leaves anyone else's alone (`bpftool cgroup show <dir>` lists it).
const PROG_NAME: &str = "jolt_devices";
/// Device programs call no GPL-only helper; this is jolt's own licence.
const LICENSE: &[u8] = b"Apache-2.0\0";
/// How much of the verifier's log a load failure keeps.
const LOG_SIZE: usize = 1 << 20;
const LOG_LINES: usize = 20;

// bpf(2) commands, program and attach types and flags (linux/bpf.h).
const BPF_PROG_LOAD: c_int = 5;
const BPF_PROG_ATTACH: c_int = 8;
const BPF_PROG_DETACH: c_int = 9;
const BPF_PROG_GET_FD_BY_ID: c_int = 13;
const BPF_OBJ_GET_INFO_BY_FD: c_int = 15;
const BPF_PROG_QUERY: c_int = 16;
const BPF_PROG_TYPE_CGROUP_DEVICE: u32 = 15;
const BPF_CGROUP_DEVICE: u32 = 6;
const BPF_F_ALLOW_MULTI: u32 = 2;

// struct bpf_cgroup_dev_ctx: the device type in the low 16 bits of its
// first u32 and the access in the high 16, then the major and the minor.
const DEV_BLOCK: i32 = 1;
const DEV_CHAR: i32 = 2;
const ACC_MKNOD: i32 = 1;
const ACC_READ: i32 = 2;
const ACC_WRITE: i32 = 4;
const ACC_ALL: i32 = ACC_MKNOD | ACC_READ | ACC_WRITE;

// Registers: r0 the verdict, r1 the context, r2..r5 what the prologue loads.
const R0: u8 = 0;
const R1: u8 = 1;
const TYPE: u8 = 2;
const ACCESS: u8 = 3;
const MAJOR: u8 = 4;
const MINOR: u8 = 5;

// Opcodes: class | operation | source (linux/bpf_common.h, linux/bpf.h).
const LDX_W: u8 = 0x01 | 0x60; // BPF_LDX | BPF_W (0) | BPF_MEM
const AND32_K: u8 = 0x04 | 0x50; // BPF_ALU | BPF_AND | BPF_K
const RSH32_K: u8 = 0x04 | 0x70; // BPF_ALU | BPF_RSH | BPF_K
const MOV64_K: u8 = 0x07 | 0xb0; // BPF_ALU64 | BPF_MOV | BPF_K
const JA: u8 = 0x05; // BPF_JMP | BPF_JA
const JNE_K: u8 = 0x05 | 0x50; // BPF_JMP | BPF_JNE | BPF_K
const JEQ_K: u8 = 0x05 | 0x10; // BPF_JMP | BPF_JEQ | BPF_K
const JSET_K: u8 = 0x05 | 0x40; // BPF_JMP | BPF_JSET | BPF_K
const EXIT: u8 = 0x05 | 0x90; // BPF_JMP | BPF_EXIT

/// The devices runc allows every container after the config's own rules,
/// in runc's order (libcontainer/specconv AllowedDevices): mknod of any
/// character or block device, /dev/null, random, full, tty, zero, urandom,
/// /dev/pts/*, /dev/ptmx and /dev/net/tun. runc no longer lists /dev/console
/// (5:1): the console a container gets is a pts, 136:*.
const DEFAULT_ALLOWED: [(LinuxDeviceType, Option<i64>, Option<i64>, &str); 11] = [
    (LinuxDeviceType::C, None, None, "m"),
    (LinuxDeviceType::B, None, None, "m"),
    (LinuxDeviceType::C, Some(1), Some(3), "rwm"),
    (LinuxDeviceType::C, Some(1), Some(8), "rwm"),
    (LinuxDeviceType::C, Some(1), Some(7), "rwm"),
    (LinuxDeviceType::C, Some(5), Some(0), "rwm"),
    (LinuxDeviceType::C, Some(1), Some(5), "rwm"),
    (LinuxDeviceType::C, Some(1), Some(9), "rwm"),
    (LinuxDeviceType::C, Some(136), None, "rwm"),
    (LinuxDeviceType::C, Some(5), Some(2), "rwm"),
    (LinuxDeviceType::C, Some(10), Some(200), "rwm"),
];

/// Errors name the rule or the cgroup directory and the cause, e.g.
/// "cgroup /sys/fs/cgroup/jolt/x: attach device filter: Operation not
/// permitted (...)".
#[derive(Debug, thiserror::Error)]
pub enum DeviceError {
    /// A rule the program cannot express; `index` counts from 0 in the list
    /// given to [`compile`] (the config's rules come first).
    #[error("linux.resources.devices[{index}] ({rule}): {reason}")]
    InvalidRule {
        index: usize,
        rule: String,
        reason: String,
    },
    /// The cgroup directory could not be opened.
    #[error("cgroup {}: open: {}", dir.display(), crate::os_text(err))]
    Open { dir: PathBuf, err: io::Error },
    /// The kernel refused the program; `log` is the end of the verifier's.
    #[error(
        "cgroup {}: load device filter: {}{}{}",
        dir.display(),
        errno.desc(),
        hint(*errno, true),
        log_section(log)
    )]
    Load {
        dir: PathBuf,
        errno: Errno,
        log: String,
    },
    /// Another bpf(2) call failed; `op` says which.
    #[error("cgroup {}: {op}: {}{}", dir.display(), errno.desc(), hint(*errno, false))]
    Bpf {
        dir: PathBuf,
        op: &'static str,
        errno: Errno,
    },
}

/// What to do about the errors that have a usual cause.
fn hint(errno: Errno, load: bool) -> &'static str {
    match errno {
        Errno::EPERM if load => {
            " (device filters need CAP_SYS_ADMIN, or CAP_BPF and CAP_NET_ADMIN; \
             kernels before 5.11 also charge them to RLIMIT_MEMLOCK: raise ulimit -l)"
        }
        Errno::EPERM => " (device filters need CAP_SYS_ADMIN, or CAP_BPF and CAP_NET_ADMIN)",
        Errno::EBADF => " (not a cgroup v2 directory)",
        _ => "",
    }
}

fn log_section(log: &str) -> String {
    if log.is_empty() {
        String::new()
    } else {
        format!("\nverifier log (last lines):\n{log}")
    }
}

/// One eBPF instruction, laid out as the kernel's `struct bpf_insn`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Insn {
    /// Opcode: class, operation and operand source.
    pub code: u8,
    /// Destination register in the low 4 bits, source register in the high 4.
    pub regs: u8,
    /// Memory offset, or jump distance counted from the next instruction.
    pub off: i16,
    /// Immediate operand.
    pub imm: i32,
}

impl Insn {
    const fn new(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
        Insn {
            code,
            regs: src << 4 | dst,
            off,
            imm,
        }
    }
    /// `dst = *(u32 *)(r1 + off)`: a field of the context.
    const fn load_ctx(dst: u8, off: i16) -> Insn {
        Insn::new(LDX_W, dst, R1, off, 0)
    }
    const fn and32(dst: u8, imm: i32) -> Insn {
        Insn::new(AND32_K, dst, 0, 0, imm)
    }
    const fn rsh32(dst: u8, imm: i32) -> Insn {
        Insn::new(RSH32_K, dst, 0, 0, imm)
    }
    const fn mov64(dst: u8, imm: i32) -> Insn {
        Insn::new(MOV64_K, dst, 0, 0, imm)
    }
    const fn jne(dst: u8, imm: i32) -> Insn {
        Insn::new(JNE_K, dst, 0, 0, imm)
    }
    const fn jeq(dst: u8, imm: i32, off: i16) -> Insn {
        Insn::new(JEQ_K, dst, 0, off, imm)
    }
    const fn jset(dst: u8, imm: i32, off: i16) -> Insn {
        Insn::new(JSET_K, dst, 0, off, imm)
    }
    const fn ja() -> Insn {
        Insn::new(JA, 0, 0, 0, 0)
    }
    const fn exit() -> Insn {
        Insn::new(EXIT, 0, 0, 0, 0)
    }
}

/// The rules the container gets: `rules` (the config's), then runc's
/// always-allowed devices. A config can therefore not take those away,
/// as with runc.
pub fn with_defaults(rules: &[LinuxDeviceCgroup]) -> Vec<LinuxDeviceCgroup> {
    let mut all = rules.to_vec();
    all.extend(DEFAULT_ALLOWED.iter().map(|&(typ, major, minor, access)| {
        let mut rule = LinuxDeviceCgroup::default();
        rule.set_allow(true)
            .set_typ(Some(typ))
            .set_major(major)
            .set_minor(minor)
            .set_access(Some(access.to_string()));
        rule
    }));
    all
}

/// One rule, checked and in the program's terms.
struct Rule {
    allow: bool,
    /// DEV_BLOCK or DEV_CHAR; None for type a.
    typ: Option<i32>,
    /// None for the wildcard.
    major: Option<i32>,
    minor: Option<i32>,
    /// ACC_* bits.
    access: i32,
}

impl Rule {
    /// Checks a config rule. A missing or empty access means "rwm" (as the
    /// v1 code in `cgroups` reads it), a missing or -1 major or minor means
    /// any, and a missing type means a.
    fn parse(index: usize, rule: &LinuxDeviceCgroup) -> Result<Rule, DeviceError> {
        let invalid = |reason: String| DeviceError::InvalidRule {
            index,
            rule: rule.to_string().trim_end().to_string(),
            reason,
        };
        let typ = match rule.typ().unwrap_or_default() {
            LinuxDeviceType::A => None,
            LinuxDeviceType::B => Some(DEV_BLOCK),
            LinuxDeviceType::C => Some(DEV_CHAR),
            other => {
                return Err(invalid(format!(
                    "type {:?} is not one of a, b, c",
                    other.as_str()
                )))
            }
        };
        // Device numbers are compared with 32-bit immediates the kernel
        // sign-extends, so only 0..=i32::MAX are exact. Real ones are far
        // smaller: 12-bit majors, 20-bit minors.
        let number = |n: Option<i64>, what: &str| match n {
            None | Some(-1) => Ok(None),
            Some(n) => i32::try_from(n)
                .ok()
                .filter(|n| *n >= 0)
                .map(Some)
                .ok_or_else(|| {
                    invalid(format!(
                        "{what} {n} is not a device number (0 to {}, or -1 for any)",
                        i32::MAX
                    ))
                }),
        };
        let text = rule.access().as_deref().unwrap_or("");
        let access = if text.is_empty() {
            ACC_ALL
        } else {
            text.chars().try_fold(0, |bits, c| match c {
                'r' => Ok(bits | ACC_READ),
                'w' => Ok(bits | ACC_WRITE),
                'm' => Ok(bits | ACC_MKNOD),
                _ => Err(invalid(format!("access {text:?} may hold only r, w and m"))),
            })?
        };
        Ok(Rule {
            allow: rule.allow(),
            typ,
            major: number(rule.major(), "major")?,
            minor: number(rule.minor(), "minor")?,
            access,
        })
    }

    /// Whether the rule decides every request that reaches it, so that the
    /// rules before it (checked after it) can never matter.
    fn decides_all(&self) -> bool {
        self.typ.is_none() && self.major.is_none() && self.minor.is_none() && self.access == ACC_ALL
    }

    /// The rule's block. It either returns or falls through to the next
    /// block with the access bits still undecided in r3.
    fn block(&self) -> Vec<Insn> {
        let mut insns = Vec::new();
        // Indices of the jumps to the end of the block.
        let mut to_next = Vec::new();
        let mut skip_unless = |insns: &mut Vec<Insn>, insn: Insn| {
            to_next.push(insns.len());
            insns.push(insn);
        };
        if let Some(typ) = self.typ {
            skip_unless(&mut insns, Insn::jne(TYPE, typ));
        }
        if let Some(major) = self.major {
            skip_unless(&mut insns, Insn::jne(MAJOR, major));
        }
        if let Some(minor) = self.minor {
            skip_unless(&mut insns, Insn::jne(MINOR, minor));
        }
        // A rule for rwm names whatever is undecided: no check. A request
        // for no access at all (access(2) with F_OK, stat of some devices)
        // is decided by the last rule for the device, whatever it allows,
        // as runc's filter decides it (an empty set is in every rule's).
        if self.access != ACC_ALL {
            insns.push(Insn::jeq(ACCESS, 0, 2));
            insns.push(Insn::jset(ACCESS, self.access, 1));
            skip_unless(&mut insns, Insn::ja());
        }
        if self.allow && self.access != ACC_ALL {
            insns.push(Insn::and32(ACCESS, !self.access & ACC_ALL));
            skip_unless(&mut insns, Insn::jne(ACCESS, 0));
        }
        insns.push(Insn::mov64(R0, i32::from(self.allow)));
        insns.push(Insn::exit());
        let len = insns.len();
        for at in to_next {
            // A block is at most 10 instructions long.
            insns[at].off = (len - at - 1) as i16;
        }
        insns
    }
}

/// The program for `rules` (OCI semantics: in order, the last matching rule
/// wins, per access bit; no match denies). Type a matches both types, a
/// missing or -1 major or minor matches any, and a missing access is "rwm".
///
/// The prologue loads type, access, major and minor into r2..r5; then comes
/// one block per rule, the last rule first:
///
/// ```text
/// if type != T goto next          (not for type a)
/// if major != M goto next         (not for any major)
/// if minor != N goto next         (not for any minor)
/// if access == 0 goto decide     (not for rwm)
/// if !(access & A) goto next      (not for rwm)
/// decide:
/// deny:  return 0
/// allow: access &= ~A; if access != 0 goto next; return 1  (rwm: return 1)
/// ```
///
/// and a final `return 0`. A block that decides everything ("a *:* rwm")
/// ends the program: the kernel refuses unreachable instructions.
pub fn compile(rules: &[LinuxDeviceCgroup]) -> Result<Vec<Insn>, DeviceError> {
    let rules = rules
        .iter()
        .enumerate()
        .map(|(index, rule)| Rule::parse(index, rule))
        .collect::<Result<Vec<_>, _>>()?;
    let mut prog = vec![
        Insn::load_ctx(TYPE, 0),
        Insn::and32(TYPE, 0xffff),
        Insn::load_ctx(ACCESS, 0),
        Insn::rsh32(ACCESS, 16),
        Insn::load_ctx(MAJOR, 4),
        Insn::load_ctx(MINOR, 8),
    ];
    for rule in rules.iter().rev() {
        prog.extend(rule.block());
        if rule.decides_all() {
            return Ok(prog);
        }
    }
    prog.extend([Insn::mov64(R0, 0), Insn::exit()]);
    Ok(prog)
}

/// Loads the program for `rules` and attaches it to the cgroup v2 directory
/// `dir` with BPF_F_ALLOW_MULTI, as runc does. Device filters jolt attached
/// to `dir` before are detached once the new one is in place (so the
/// container briefly has the stricter of both, never neither); programs of
/// other owners stay. The attachment keeps the program alive until the
/// cgroup is removed; this process keeps no fd.
pub fn attach(dir: &Path, rules: &[LinuxDeviceCgroup]) -> Result<(), DeviceError> {
    let insns = compile(rules)?;
    let cgroup = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY)
        .open(dir)
        .map_err(|err| DeviceError::Open {
            dir: dir.to_path_buf(),
            err,
        })?;
    let failed = |op: &'static str| {
        move |errno| DeviceError::Bpf {
            dir: dir.to_path_buf(),
            op,
            errno,
        }
    };
    let previous: Vec<Program> = attached_programs(&cgroup)
        .map_err(failed("list attached device filters"))?
        .into_iter()
        .filter(|p| p.name == PROG_NAME)
        .collect();
    let prog = load(&insns, PROG_NAME).map_err(|(errno, log)| DeviceError::Load {
        dir: dir.to_path_buf(),
        errno,
        log,
    })?;
    prog_attach(&cgroup, &prog).map_err(failed("attach device filter"))?;
    for old in &previous {
        match prog_detach(&cgroup, &old.fd) {
            // Gone already: someone removed it meanwhile.
            Ok(()) | Err(Errno::ENOENT) => {}
            Err(errno) => return Err(failed("detach the previous device filter")(errno)),
        }
    }
    tracing::debug!(
        "cgroup {}: device filter attached ({} rules, {} instructions), {} previous detached",
        dir.display(),
        rules.len(),
        insns.len(),
        previous.len()
    );
    Ok(())
}

/// `union bpf_attr` for BPF_PROG_LOAD, up to `prog_name`.
#[repr(C)]
#[derive(Default)]
struct LoadAttr {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
    prog_name: [u8; 16],
}

/// `union bpf_attr` for BPF_PROG_ATTACH and BPF_PROG_DETACH.
#[repr(C)]
#[derive(Default)]
struct AttachAttr {
    target_fd: u32,
    attach_bpf_fd: u32,
    attach_type: u32,
    attach_flags: u32,
}

/// `union bpf_attr` for BPF_PROG_QUERY, up to `prog_cnt`.
#[repr(C)]
#[derive(Default)]
struct QueryAttr {
    target_fd: u32,
    attach_type: u32,
    query_flags: u32,
    attach_flags: u32,
    prog_ids: u64,
    prog_cnt: u32,
    _pad: u32,
}

/// `union bpf_attr` for BPF_PROG_GET_FD_BY_ID.
#[repr(C)]
#[derive(Default)]
struct GetFdAttr {
    prog_id: u32,
    next_id: u32,
    open_flags: u32,
}

/// `union bpf_attr` for BPF_OBJ_GET_INFO_BY_FD.
#[repr(C)]
#[derive(Default)]
struct InfoAttr {
    bpf_fd: u32,
    info_len: u32,
    info: u64,
}

/// `struct bpf_prog_info` up to `name`, which is at byte 64.
#[repr(C)]
#[derive(Default)]
struct ProgInfo {
    _before_name: [u64; 8],
    name: [u8; 16],
}

/// bpf(2).
///
/// # Safety
///
/// `attr` must be the start of `union bpf_attr` as `cmd` reads it, and every
/// address in it must be valid for what the kernel does there during the
/// call.
unsafe fn bpf<T>(cmd: c_int, attr: &mut T) -> Result<c_long, Errno> {
    // SAFETY: the caller vouches for `attr`; the kernel reads (and for some
    // commands writes) at most size_of::<T>() bytes of it.
    let ret = unsafe { libc::syscall(libc::SYS_bpf, cmd, attr as *mut T, mem::size_of::<T>()) };
    Errno::result(ret)
}

/// Takes ownership of the fd a bpf(2) command returned.
fn owned(fd: c_long) -> OwnedFd {
    // SAFETY: the kernel just opened this fd for us and nothing else has it.
    unsafe { OwnedFd::from_raw_fd(fd as RawFd) }
}

fn raw(fd: &impl AsRawFd) -> u32 {
    fd.as_raw_fd() as u32
}

/// Loads `insns` as a device program named `name`. A refusal comes with
/// the end of the verifier's log.
fn load(insns: &[Insn], name: &str) -> Result<OwnedFd, (Errno, String)> {
    let mut attr = LoadAttr {
        prog_type: BPF_PROG_TYPE_CGROUP_DEVICE,
        insn_cnt: insns.len() as u32,
        insns: insns.as_ptr() as u64,
        license: LICENSE.as_ptr() as u64,
        ..LoadAttr::default()
    };
    // Names are at most 15 bytes and a NUL.
    attr.prog_name[..name.len()].copy_from_slice(name.as_bytes());
    // SAFETY: `insns` and LICENSE outlive the call; no log buffer yet.
    let errno = match unsafe { bpf(BPF_PROG_LOAD, &mut attr) } {
        Ok(fd) => return Ok(owned(fd)),
        Err(errno) => errno,
    };
    // Again, with a log: asking for it up front costs verifier time and, on
    // older kernels, fails good programs whose log does not fit.
    let mut log = vec![0u8; LOG_SIZE];
    attr.log_level = 1;
    attr.log_size = LOG_SIZE as u32;
    attr.log_buf = log.as_mut_ptr() as u64;
    // SAFETY: as above, and `log` is LOG_SIZE writable bytes that outlive
    // the call.
    match unsafe { bpf(BPF_PROG_LOAD, &mut attr) } {
        Ok(fd) => Ok(owned(fd)),
        Err(_) => Err((errno, log_tail(&log))),
    }
}

/// The last LOG_LINES lines of a NUL-terminated verifier log.
fn log_tail(log: &[u8]) -> String {
    let end = log.iter().position(|&b| b == 0).unwrap_or(log.len());
    let text = String::from_utf8_lossy(&log[..end]);
    let lines: Vec<&str> = text.trim_end().lines().collect();
    lines[lines.len().saturating_sub(LOG_LINES)..].join("\n")
}

fn prog_attach(cgroup: &File, prog: &OwnedFd) -> Result<(), Errno> {
    let mut attr = AttachAttr {
        target_fd: raw(cgroup),
        attach_bpf_fd: raw(prog),
        attach_type: BPF_CGROUP_DEVICE,
        attach_flags: BPF_F_ALLOW_MULTI,
    };
    // SAFETY: AttachAttr holds only fds and numbers.
    unsafe { bpf(BPF_PROG_ATTACH, &mut attr) }.map(drop)
}

fn prog_detach(cgroup: &File, prog: &OwnedFd) -> Result<(), Errno> {
    let mut attr = AttachAttr {
        target_fd: raw(cgroup),
        attach_bpf_fd: raw(prog),
        attach_type: BPF_CGROUP_DEVICE,
        attach_flags: 0,
    };
    // SAFETY: AttachAttr holds only fds and numbers.
    unsafe { bpf(BPF_PROG_DETACH, &mut attr) }.map(drop)
}

/// A device program attached to a cgroup.
struct Program {
    fd: OwnedFd,
    name: String,
}

/// The device programs attached to `cgroup` itself (not its ancestors').
/// Ones that go away meanwhile, or that an LSM keeps from us, are left out:
/// not jolt's either way.
fn attached_programs(cgroup: &File) -> Result<Vec<Program>, Errno> {
    let mut ids = vec![0u32; 64];
    loop {
        let mut attr = QueryAttr {
            target_fd: raw(cgroup),
            attach_type: BPF_CGROUP_DEVICE,
            prog_ids: ids.as_mut_ptr() as u64,
            prog_cnt: ids.len() as u32,
            ..QueryAttr::default()
        };
        // SAFETY: `ids` has room for prog_cnt ids and outlives the call.
        match unsafe { bpf(BPF_PROG_QUERY, &mut attr) } {
            Ok(_) => {
                ids.truncate(attr.prog_cnt as usize);
                break;
            }
            // More than fit: the kernel said how many.
            Err(Errno::ENOSPC) if attr.prog_cnt as usize > ids.len() => {
                ids.resize(attr.prog_cnt as usize, 0);
            }
            Err(errno) => return Err(errno),
        }
    }
    let mut programs = Vec::with_capacity(ids.len());
    for prog_id in ids {
        let mut attr = GetFdAttr {
            prog_id,
            ..GetFdAttr::default()
        };
        // SAFETY: GetFdAttr holds only numbers.
        let fd = match unsafe { bpf(BPF_PROG_GET_FD_BY_ID, &mut attr) } {
            Ok(fd) => owned(fd),
            Err(Errno::ENOENT | Errno::EPERM | Errno::EACCES) => continue,
            Err(errno) => return Err(errno),
        };
        let mut info = ProgInfo::default();
        let mut attr = InfoAttr {
            bpf_fd: raw(&fd),
            info_len: mem::size_of::<ProgInfo>() as u32,
            info: &mut info as *mut ProgInfo as u64,
        };
        // SAFETY: `info` is info_len writable bytes, zeroed, so the kernel
        // follows none of the addresses bpf_prog_info can carry.
        unsafe { bpf(BPF_OBJ_GET_INFO_BY_FD, &mut attr) }?;
        let len = info.name.iter().position(|&b| b == 0).unwrap_or(16);
        let name = String::from_utf8_lossy(&info.name[..len]).into_owned();
        programs.push(Program { fd, name });
    }
    Ok(programs)
}

/// The filter tests that attach a program also run in the VM (scripts/test's
/// VM_TESTS), under its kernel's eBPF verifier.
#[cfg(test)]
mod tests {
    use super::*;

    use std::fs;
    use std::os::unix::process::CommandExt;
    use std::process::{Command, Output};

    use nix::sys::statfs::{statfs, CGROUP2_SUPER_MAGIC};

    /// A rule from runc-like text: "allow c 1:3 rwm", "deny a *:* rwm".
    fn rule(text: &str) -> LinuxDeviceCgroup {
        let fields: Vec<&str> = text.split_whitespace().collect();
        let [verdict, typ, numbers, access] = fields[..] else {
            panic!("bad test rule {text:?}");
        };
        let (major, minor) = numbers.split_once(':').unwrap();
        let number = |n: &str| (n != "*").then(|| n.parse::<i64>().unwrap());
        let mut rule = LinuxDeviceCgroup::default();
        rule.set_allow(verdict == "allow")
            .set_typ(Some(typ.parse().unwrap()))
            .set_major(number(major))
            .set_minor(number(minor))
            .set_access(Some(access.to_string()));
        rule
    }

    fn rules(texts: &[&str]) -> Vec<LinuxDeviceCgroup> {
        texts.iter().map(|t| rule(t)).collect()
    }

    fn access_bits(access: &str) -> i32 {
        access
            .chars()
            .map(|c| match c {
                'r' => ACC_READ,
                'w' => ACC_WRITE,
                'm' => ACC_MKNOD,
                _ => panic!("bad test access {access:?}"),
            })
            .fold(0, |a, b| a | b)
    }

    /// Runs `prog` the way the kernel would for one request, checking what
    /// the verifier checks along the way: registers read only after being
    /// written, jumps forward and inside the program. Knows the opcodes
    /// `compile` emits and no others.
    fn run(prog: &[Insn], typ: char, access: i32, major: u32, minor: u32) -> bool {
        let typ = if typ == 'b' { DEV_BLOCK } else { DEV_CHAR };
        let ctx = [(access as u32) << 16 | typ as u32, major, minor];
        let mut reg = [None::<u64>; 11];
        reg[R1 as usize] = Some(0);
        let mut pc = 0;
        loop {
            let at = pc;
            let insn = prog[at];
            let (dst, src) = ((insn.regs & 0xf) as usize, (insn.regs >> 4) as usize);
            let imm = insn.imm as i64 as u64;
            let value = |reg: &[Option<u64>; 11], r: usize| {
                reg[r].unwrap_or_else(|| panic!("insn {at} reads r{r} before it is written"))
            };
            let jump = |taken: bool| {
                assert!(insn.off >= 0, "insn {at} jumps backwards");
                if taken {
                    insn.off as usize
                } else {
                    0
                }
            };
            pc += 1;
            match insn.code {
                LDX_W => {
                    assert_eq!(src, R1 as usize, "loads come from the context");
                    reg[dst] = Some(u64::from(ctx[insn.off as usize / 4]));
                }
                AND32_K => reg[dst] = Some(u64::from(value(&reg, dst) as u32 & insn.imm as u32)),
                RSH32_K => reg[dst] = Some(u64::from(value(&reg, dst) as u32 >> insn.imm)),
                MOV64_K => reg[dst] = Some(imm),
                JNE_K => pc += jump(value(&reg, dst) != imm),
                JEQ_K => pc += jump(value(&reg, dst) == imm),
                JSET_K => pc += jump(value(&reg, dst) & imm != 0),
                JA => pc += jump(true),
                EXIT => {
                    let verdict = value(&reg, R0 as usize);
                    assert!(verdict <= 1, "verdict {verdict}");
                    return verdict == 1;
                }
                other => panic!("insn {at}: unexpected opcode {other:#04x}"),
            }
            assert!(pc < prog.len(), "runs off the end of the program");
        }
    }

    /// The kernel refuses programs with unreachable instructions.
    fn assert_all_reachable(prog: &[Insn]) {
        let mut seen = vec![false; prog.len()];
        let mut todo = vec![0];
        while let Some(pc) = todo.pop() {
            assert!(
                pc < prog.len(),
                "a jump or the last instruction leaves the program"
            );
            if seen[pc] {
                continue;
            }
            seen[pc] = true;
            let next = pc + 1;
            match prog[pc].code {
                EXIT => {}
                JA => todo.push(next + prog[pc].off as usize),
                JNE_K | JSET_K => todo.extend([next, next + prog[pc].off as usize]),
                _ => todo.push(next),
            }
        }
        let unreachable: Vec<usize> = (0..prog.len()).filter(|&i| !seen[i]).collect();
        assert!(unreachable.is_empty(), "unreachable: {unreachable:?}");
    }

    /// The OCI semantics, read straight off the rules: per access bit the
    /// last matching rule that names it decides; none denies. A request
    /// for no access is decided by the last rule for the device (runc's).
    fn expected(
        rules: &[LinuxDeviceCgroup],
        typ: char,
        access: i32,
        major: u32,
        minor: u32,
    ) -> bool {
        let matches = |r: &LinuxDeviceCgroup, bit: i32| {
            let t = r.typ().unwrap_or_default();
            (t == LinuxDeviceType::A || t.as_str().starts_with(typ))
                && r.major().is_none_or(|m| m == -1 || m == i64::from(major))
                && r.minor().is_none_or(|m| m == -1 || m == i64::from(minor))
                && access_bits(r.access().as_deref().unwrap_or("rwm")) & bit != 0
        };
        if access == 0 {
            return rules
                .iter()
                .rev()
                .find(|r| matches(r, ACC_ALL))
                .is_some_and(|r| r.allow());
        }
        [ACC_MKNOD, ACC_READ, ACC_WRITE]
            .into_iter()
            .filter(|bit| access & bit != 0)
            .all(|bit| {
                rules
                    .iter()
                    .rev()
                    .find(|r| matches(r, bit))
                    .is_some_and(|r| r.allow())
            })
    }

    /// Compiles `rules` and checks the program against [`expected`] for
    /// every combination of type, access and a spread of device numbers.
    fn assert_semantics(rules: &[LinuxDeviceCgroup]) {
        let prog = compile(rules).unwrap();
        assert_all_reachable(&prog);
        for typ in ['b', 'c'] {
            for access in 0..=ACC_ALL {
                for major in [0, 1, 5, 8, 10, 136] {
                    for minor in [0, 1, 3, 5, 200] {
                        assert_eq!(
                            run(&prog, typ, access, major, minor),
                            expected(rules, typ, access, major, minor),
                            "{typ} {major}:{minor} access {access:#b} under {:?}",
                            rules.iter().map(|r| r.to_string()).collect::<Vec<_>>()
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn deny_all_then_allow_null_is_thirteen_instructions() {
        let prog = compile(&rules(&["deny a *:* rwm", "allow c 1:3 rwm"])).unwrap();
        let expected = vec![
            // prologue
            Insn::load_ctx(TYPE, 0),
            Insn::and32(TYPE, 0xffff),
            Insn::load_ctx(ACCESS, 0),
            Insn::rsh32(ACCESS, 16),
            Insn::load_ctx(MAJOR, 4),
            Insn::load_ctx(MINOR, 8),
            // allow c 1:3 rwm: each test skips the 4 instructions after it
            // to reach the next block
            Insn {
                off: 4,
                ..Insn::jne(TYPE, DEV_CHAR)
            },
            Insn {
                off: 3,
                ..Insn::jne(MAJOR, 1)
            },
            Insn {
                off: 2,
                ..Insn::jne(MINOR, 3)
            },
            Insn::mov64(R0, 1),
            Insn::exit(),
            // deny a *:* rwm decides everything: it ends the program
            Insn::mov64(R0, 0),
            Insn::exit(),
        ];
        assert_eq!(prog, expected);
        assert!(run(&prog, 'c', ACC_READ | ACC_WRITE, 1, 3));
        assert!(!run(&prog, 'c', ACC_READ, 1, 5));
        assert!(!run(&prog, 'b', ACC_READ, 1, 3));
    }

    #[test]
    fn instruction_encoding_matches_struct_bpf_insn() {
        assert_eq!(mem::size_of::<Insn>(), 8);
        // jset r3, 0x4, +1
        let insn = Insn::jset(ACCESS, ACC_WRITE, 1);
        // SAFETY: Insn is 8 bytes of plain integers.
        let bytes: [u8; 8] = unsafe { mem::transmute(insn) };
        assert_eq!(bytes, [0x45, 0x03, 1, 0, 4, 0, 0, 0]);
        assert_eq!(Insn::load_ctx(MINOR, 8).regs, 0x15);
    }

    #[test]
    fn default_spec_program() {
        // `runc spec` writes one rule, deny all; the container gets runc's
        // defaults after it.
        let all = with_defaults(&rules(&["deny a *:* rwm"]));
        assert_eq!(all.len(), 12);
        let prog = compile(&all).unwrap();
        // prologue 6, nine exact devices 5 each but 136:* 4, the two mknod
        // rules 8 each, deny all 2
        assert_eq!(prog.len(), 6 + 8 * 5 + 4 + 2 * 8 + 2);
        assert_semantics(&all);
        let allowed =
            |typ, access, major, minor| run(&prog, typ, access_bits(access), major, minor);
        assert!(allowed('c', "rw", 1, 3)); // /dev/null
        assert!(allowed('c', "rw", 136, 7)); // a pts
        assert!(allowed('c', "", 1, 3), "access(F_OK) of an allowed device");
        assert!(allowed('c', "rw", 10, 200)); // /dev/net/tun
        assert!(allowed('b', "m", 8, 0)); // mknod of a disk
        assert!(!allowed('b', "r", 8, 0)); // but not reading it
        assert!(!allowed('c', "rm", 1, 11)); // /dev/kmsg
        assert!(!allowed('c', "rw", 5, 1)); // /dev/console: runc dropped it
    }

    #[test]
    fn defaults_follow_runc_order_after_the_config_rules() {
        let all = with_defaults(&rules(&["deny a *:* rwm"]));
        let text: Vec<String> = all.iter().map(|r| r.to_string()).collect();
        assert_eq!(
            text,
            [
                "a *:* rwm",
                "c *:* m",
                "b *:* m",
                "c 1:3 rwm",
                "c 1:8 rwm",
                "c 1:7 rwm",
                "c 5:0 rwm",
                "c 1:5 rwm",
                "c 1:9 rwm",
                "c 136:* rwm",
                "c 5:2 rwm",
                "c 10:200 rwm",
            ]
        );
        assert!(all[1..].iter().all(|r| r.allow()));
    }

    /// access(2) with F_OK asks the filter about no access at all: the last
    /// rule for the device decides, whatever it allows (runc's filter).
    #[test]
    fn a_request_for_no_access_follows_the_last_rule_for_the_device() {
        let all = rules(&["deny a *:* rwm", "allow c 1:11 r", "deny c 1:3 w"]);
        let prog = compile(&all).unwrap();
        assert!(run(&prog, 'c', 0, 1, 11), "/dev/kmsg, allowed for reading");
        assert!(!run(&prog, 'c', 0, 1, 3), "a deny for the device decides");
        assert!(!run(&prog, 'c', 0, 1, 5), "no rule but deny all");
        assert_semantics(&all);
    }

    #[test]
    fn last_matching_rule_wins_per_access_bit() {
        for list in [
            vec![],
            vec!["deny a *:* rwm", "allow c 1:3 rwm"],
            vec!["allow a *:* rwm", "deny c 1:3 w"],
            vec!["allow c 1:* rw", "deny a *:* rwm", "allow c 1:3 r"],
            vec![
                "deny a *:* rwm",
                "allow c 1:* r",
                "allow c 1:3 w",
                "deny c *:5 rwm",
                "allow b 8:* m",
                "allow a 1:5 m",
                "deny b 8:1 m",
            ],
            vec![
                "allow c *:* rw",
                "deny c 1:* r",
                "allow c 1:3 rm",
                "deny a 5:* w",
            ],
        ] {
            assert_semantics(&rules(&list));
        }
    }

    #[test]
    fn a_denied_bit_denies_an_open_that_also_asks_for_an_allowed_one() {
        let prog = compile(&rules(&["allow a *:* rwm", "deny c 1:3 w"])).unwrap();
        let null = |access| run(&prog, 'c', access_bits(access), 1, 3);
        assert!(null("r"));
        assert!(!null("w"));
        assert!(!null("rw"));
        assert!(null("m"));
    }

    #[test]
    fn an_allow_split_over_two_rules_allows_read_write() {
        let prog = compile(&rules(&[
            "deny a *:* rwm",
            "allow c 1:* r",
            "allow c 1:3 w",
        ]))
        .unwrap();
        assert!(run(&prog, 'c', ACC_READ | ACC_WRITE, 1, 3));
        assert!(!run(&prog, 'c', ACC_READ | ACC_WRITE, 1, 5));
        assert!(run(&prog, 'c', ACC_READ, 1, 5));
    }

    #[test]
    fn rules_before_an_allow_all_are_checked_but_not_emitted() {
        let prog = compile(&rules(&["deny c 1:3 rwm", "allow a *:* rwm"])).unwrap();
        assert_eq!(prog.len(), 6 + 2);
        assert!(run(&prog, 'c', ACC_READ, 1, 3));

        let err = compile(&rules(&["deny c 1:3 rwx", "allow a *:* rwm"])).unwrap_err();
        assert!(matches!(err, DeviceError::InvalidRule { index: 0, .. }));
    }

    #[test]
    fn missing_fields_mean_any_device_and_all_access() {
        let mut any = LinuxDeviceCgroup::default();
        any.set_allow(true);
        let prog = compile(&[any]).unwrap();
        assert_eq!(prog.len(), 6 + 2);
        assert!(run(&prog, 'b', ACC_ALL, 8, 0));

        let mut null = rule("allow c 1:3 r");
        null.set_access(None);
        let prog = compile(&[null]).unwrap();
        assert!(run(&prog, 'c', ACC_ALL, 1, 3));
    }

    #[test]
    fn bad_rules_are_refused_with_their_index() {
        let err = compile(&rules(&["deny a *:* rwm", "allow c 1:3 rwx"])).unwrap_err();
        assert_eq!(
            err.to_string(),
            r#"linux.resources.devices[1] (c 1:3 rwx): access "rwx" may hold only r, w and m"#
        );

        let mut fifo = rule("allow c 1:3 rwm");
        fifo.set_typ(Some(LinuxDeviceType::P));
        let err = compile(&[fifo]).unwrap_err();
        assert_eq!(
            err.to_string(),
            r#"linux.resources.devices[0] (p 1:3 rwm): type "p" is not one of a, b, c"#
        );

        for (major, minor) in [(-2, 0), (1, 1 << 31), (1 << 40, 0)] {
            let mut huge = rule("allow c 1:3 rwm");
            huge.set_major(Some(major)).set_minor(Some(minor));
            let err = compile(&[huge]).unwrap_err().to_string();
            assert!(
                err.contains("is not a device number (0 to 2147483647, or -1 for any)"),
                "{err}"
            );
        }
    }

    #[test]
    fn verifier_log_keeps_the_last_lines() {
        let mut log: Vec<u8> = (0..30)
            .map(|i| format!("line {i}\n"))
            .collect::<String>()
            .into_bytes();
        log.extend([0, b'x', b'x']);
        let tail = log_tail(&log);
        assert!(tail.starts_with("line 10\n"), "{tail}");
        assert!(tail.ends_with("line 29"), "{tail}");
    }

    // The tests below load programs into the real kernel. Each works in a
    // cgroup v2 directory of its own and removes it, also when it fails.

    /// Where cgroup2 is mounted: /sys/fs/cgroup on a v2 host, or
    /// /sys/fs/cgroup/unified on a hybrid one. None, saying why, when this
    /// process cannot run a kernel test.
    fn cgroup2_root(test: &str) -> Option<PathBuf> {
        if !nix::unistd::geteuid().is_root() {
            eprintln!("skipping {test}: needs root to load BPF programs and create cgroups");
            return None;
        }
        let root = ["/sys/fs/cgroup", "/sys/fs/cgroup/unified"]
            .into_iter()
            .map(PathBuf::from)
            .find(|p| statfs(p).is_ok_and(|s| s.filesystem_type() == CGROUP2_SUPER_MAGIC));
        if root.is_none() {
            eprintln!("skipping {test}: no cgroup2 at /sys/fs/cgroup or /sys/fs/cgroup/unified");
        }
        root
    }

    /// A cgroup v2 directory of the test's own, removed on drop. Only the
    /// test's children ever join it, and they have exited by then.
    struct TestCgroup(PathBuf);

    impl TestCgroup {
        fn create(root: &Path, test: &str) -> TestCgroup {
            let dir = root.join(format!("jolt-devtest-{}-{test}", std::process::id()));
            fs::create_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
            TestCgroup(dir)
        }

        /// Runs `script` with sh in this cgroup and returns what it printed.
        fn run(&self, script: &str) -> Output {
            let procs = OpenOptions::new()
                .write(true)
                .open(self.0.join("cgroup.procs"))
                .unwrap();
            let fd = procs.as_raw_fd();
            let mut cmd = Command::new("sh");
            cmd.args(["-c", script]);
            // SAFETY: the hook calls only write(2), which is
            // async-signal-safe; "0" moves the writer, the child, into this
            // cgroup before it execs.
            unsafe {
                cmd.pre_exec(move || {
                    if libc::write(fd, b"0".as_ptr().cast(), 1) == 1 {
                        Ok(())
                    } else {
                        Err(io::Error::last_os_error())
                    }
                });
            }
            let output = cmd.output().unwrap();
            drop(procs);
            output
        }

        fn programs(&self) -> Vec<String> {
            let dir = File::open(&self.0).unwrap();
            let mut names: Vec<String> = attached_programs(&dir)
                .unwrap()
                .into_iter()
                .map(|p| p.name)
                .collect();
            names.sort();
            names
        }
    }

    impl Drop for TestCgroup {
        fn drop(&mut self) {
            if let Err(e) = fs::remove_dir(&self.0) {
                eprintln!("cleanup {}: {e}", self.0.display());
            }
        }
    }

    fn text(bytes: &[u8]) -> String {
        String::from_utf8_lossy(bytes).into_owned()
    }

    #[test]
    fn attached_filter_allows_null_and_denies_zero() {
        let Some(root) = cgroup2_root("attached_filter_allows_null_and_denies_zero") else {
            return;
        };
        let cgroup = TestCgroup::create(&root, "null");
        attach(&cgroup.0, &rules(&["deny a *:* rwm", "allow c 1:3 rwm"])).unwrap();
        assert_eq!(cgroup.programs(), [PROG_NAME]);

        let out = cgroup.run(
            "grep '^0::' /proc/self/cgroup
             cat /dev/null && echo null=readable
             head -c1 /dev/zero || echo zero=denied",
        );
        let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
        eprintln!("child stdout:\n{stdout}child stderr:\n{stderr}");
        let name = cgroup.0.file_name().unwrap().to_str().unwrap();
        assert!(
            stdout.starts_with("0::/") && stdout.lines().next().unwrap().ends_with(name),
            "{stdout}"
        );
        assert!(stdout.ends_with("null=readable\nzero=denied\n"), "{stdout}");
        assert!(
            stderr.contains("/dev/zero") && stderr.contains("Operation not permitted"),
            "{stderr}"
        );
    }

    #[test]
    fn default_program_allows_mknod_but_not_opening_other_devices() {
        let Some(root) = cgroup2_root("default_program_allows_mknod_but_not_opening_other_devices")
        else {
            return;
        };
        let cgroup = TestCgroup::create(&root, "defaults");
        let nodes = tempfile::tempdir().unwrap();
        attach(&cgroup.0, &with_defaults(&rules(&["deny a *:* rwm"]))).unwrap();

        let out = cgroup.run(&format!(
            "cd {}
             cat /dev/null && echo null=readable
             head -c1 /dev/zero > /dev/null && echo zero=readable
             mknod kmsg c 1 11 && echo mknod=allowed
             head -c1 kmsg || echo kmsg=denied",
            nodes.path().display()
        ));
        let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
        eprintln!("child stdout:\n{stdout}child stderr:\n{stderr}");
        assert_eq!(
            stdout,
            "null=readable\nzero=readable\nmknod=allowed\nkmsg=denied\n"
        );
        assert!(
            stderr.contains("kmsg") && stderr.contains("Operation not permitted"),
            "{stderr}"
        );
    }

    #[test]
    fn attach_again_replaces_own_filter_and_keeps_others() {
        let Some(root) = cgroup2_root("attach_again_replaces_own_filter_and_keeps_others") else {
            return;
        };
        let cgroup = TestCgroup::create(&root, "replace");
        // jolt's first filter: only /dev/null.
        attach(&cgroup.0, &rules(&["allow c 1:3 rwm"])).unwrap();
        // Someone else's: /dev/null and /dev/zero.
        let theirs = load(
            &compile(&rules(&["allow c 1:3 rwm", "allow c 1:5 rwm"])).unwrap(),
            "other_filter",
        )
        .unwrap_or_else(|(errno, log)| panic!("{errno}: {log}"));
        prog_attach(&File::open(&cgroup.0).unwrap(), &theirs).unwrap();
        // jolt's second filter: everything.
        attach(&cgroup.0, &rules(&["allow a *:* rwm"])).unwrap();
        assert_eq!(cgroup.programs(), [PROG_NAME, "other_filter"]);

        // /dev/zero: only jolt's first filter denied it, and it is gone.
        // /dev/full: the other filter still denies it.
        let out = cgroup.run(
            "head -c1 /dev/zero > /dev/null && echo zero=readable
             head -c1 /dev/full > /dev/null || echo full=denied",
        );
        let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
        eprintln!("child stdout:\n{stdout}child stderr:\n{stderr}");
        assert_eq!(stdout, "zero=readable\nfull=denied\n");
    }

    #[test]
    fn refused_program_comes_with_the_verifier_log() {
        if cgroup2_root("refused_program_comes_with_the_verifier_log").is_none() {
            return;
        }
        // exit without setting r0
        let (errno, log) = load(&[Insn::exit()], "bad").map(drop).unwrap_err();
        let err = DeviceError::Load {
            dir: PathBuf::from("/sys/fs/cgroup/jolt/x"),
            errno,
            log,
        };
        eprintln!("{err}");
        assert_eq!(errno, Errno::EACCES);
        let message = err.to_string();
        assert!(
            message.starts_with(
                "cgroup /sys/fs/cgroup/jolt/x: load device filter: Permission denied\nverifier log"
            ),
            "{message}"
        );
        assert!(message.contains("R0 !read_ok"), "{message}");
    }

    #[test]
    fn attaching_to_a_plain_directory_says_it_is_not_a_cgroup() {
        if cgroup2_root("attaching_to_a_plain_directory_says_it_is_not_a_cgroup").is_none() {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let err = attach(dir.path(), &[]).unwrap_err().to_string();
        eprintln!("{err}");
        assert_eq!(
            err,
            format!(
                "cgroup {}: list attached device filters: {} (not a cgroup v2 directory)",
                dir.path().display(),
                Errno::EBADF.desc()
            )
        );
    }
}
