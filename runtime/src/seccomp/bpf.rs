//! bpf: the filter as the kernel takes it — libseccomp's classic BPF
//! program, exported, behind a check of jolt's own, loaded with
//! seccomp(2).
//!
//! libseccomp decides only the syscalls it has names for; every other
//! number falls to the default action. The check answers ENOSYS for any
//! native syscall number above the newest the profile names (the x32 ABI's
//! numbers, marked by bit 30, and other architectures go on to
//! libseccomp's program), as runc's patched filter does. jolt loads the
//! result itself, since libseccomp loads only its own program.

use std::io::{Read, Seek};
use std::os::fd::{FromRawFd, OwnedFd};

use libseccomp::ScmpFilterContext;
use nix::errno::Errno;

pub const FLAG_TSYNC: u32 = 1;
pub const FLAG_LOG: u32 = 2;
pub const FLAG_SPEC_ALLOW: u32 = 4;
const FLAG_NEW_LISTENER: u32 = 8;

const SECCOMP_SET_MODE_FILTER: libc::c_uint = 1;
const SECCOMP_RET_ERRNO: u32 = 0x0005_0000;

// Classic BPF opcodes (linux/filter.h).
const LD_W_ABS: u16 = 0x20; // BPF_LD (0) | BPF_W (0) | BPF_ABS
const JEQ_K: u16 = 0x05 | 0x10; // BPF_JMP | BPF_JEQ | BPF_K
const JGT_K: u16 = 0x05 | 0x20; // BPF_JMP | BPF_JGT | BPF_K
const JSET_K: u16 = 0x05 | 0x40; // BPF_JMP | BPF_JSET | BPF_K
const RET_K: u16 = 0x06; // BPF_RET | BPF_K

/// offsetof(struct seccomp_data, nr) and (…, arch).
const NR: u32 = 0;
const ARCH: u32 = 4;
/// The x32 ABI's syscall numbers carry this bit on x86_64.
const X32_SYSCALL_BIT: u32 = 0x4000_0000;

/// This build's AUDIT_ARCH_*, where jolt knows it.
const NATIVE_ARCH: Option<u32> = if cfg!(target_arch = "x86_64") {
    Some(0xc000_003e)
} else if cfg!(target_arch = "aarch64") {
    Some(0xc000_00b7)
} else {
    None
};

/// One `struct sock_filter`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Insn {
    code: u16,
    jt: u8,
    jf: u8,
    k: u32,
}

/// libseccomp's program, read back from a memfd (libseccomp 2.5 exports
/// only to a descriptor).
pub fn export(ctx: &ScmpFilterContext) -> std::io::Result<Vec<Insn>> {
    // SAFETY: memfd_create with a NUL-terminated name; we own the result.
    let fd = unsafe { libc::memfd_create(c"jolt-seccomp".as_ptr(), libc::MFD_CLOEXEC) };
    let fd = unsafe { OwnedFd::from_raw_fd(Errno::result(fd)?) };
    ctx.export_bpf(&fd).map_err(std::io::Error::other)?;
    let mut file = std::fs::File::from(fd);
    file.rewind()?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)?;
    Ok(bytes
        .chunks_exact(8)
        .map(|c| Insn {
            code: u16::from_ne_bytes([c[0], c[1]]),
            jt: c[2],
            jf: c[3],
            k: u32::from_ne_bytes([c[4], c[5], c[6], c[7]]),
        })
        .collect())
}

/// `program` behind the ENOSYS check for native numbers above `newest`
/// (none: `program` as it is).
pub fn with_enosys_check(program: Vec<Insn>, newest: Option<u32>) -> Vec<Insn> {
    let (Some(arch), Some(newest)) = (NATIVE_ARCH, newest) else {
        return program;
    };
    let x32 = if cfg!(target_arch = "x86_64") {
        X32_SYSCALL_BIT
    } else {
        0
    };
    let insn = |code, jt, jf, k| Insn { code, jt, jf, k };
    let mut out = vec![
        insn(LD_W_ABS, 0, 0, ARCH),
        // Another architecture: on to libseccomp (past the 4 below).
        insn(JEQ_K, 0, 4, arch),
        insn(LD_W_ABS, 0, 0, NR),
        // An x32 number: on to libseccomp.
        insn(JSET_K, 2, 0, x32),
        insn(JGT_K, 0, 1, newest),
        insn(RET_K, 0, 0, SECCOMP_RET_ERRNO | libc::ENOSYS as u32),
    ];
    out.extend(program);
    out
}

/// Loads `program` with seccomp(2); with `listener`, returns the
/// notification descriptor (SECCOMP_FILTER_FLAG_NEW_LISTENER).
pub fn load(program: &[Insn], flags: u32, listener: bool) -> Result<Option<OwnedFd>, Errno> {
    let filter: Vec<libc::sock_filter> = program
        .iter()
        .map(|i| libc::sock_filter {
            code: i.code,
            jt: i.jt,
            jf: i.jf,
            k: i.k,
        })
        .collect();
    let prog = libc::sock_fprog {
        len: u16::try_from(filter.len()).map_err(|_| Errno::E2BIG)?,
        filter: filter.as_ptr() as *mut libc::sock_filter,
    };
    let flags = flags | if listener { FLAG_NEW_LISTENER } else { 0 };
    // SAFETY: prog points at `filter`, alive for the call; the kernel
    // copies it.
    let r = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            SECCOMP_SET_MODE_FILTER,
            flags,
            &prog as *const libc::sock_fprog,
        )
    };
    let r = Errno::result(r)?;
    // SAFETY: with NEW_LISTENER the result is a new descriptor we own.
    Ok(listener.then(|| unsafe { OwnedFd::from_raw_fd(r as i32) }))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs a classic BPF seccomp program on (arch, nr): only the opcodes
    /// this module and libseccomp's simple programs use.
    fn run(prog: &[Insn], arch: u32, nr: u32) -> u32 {
        let (mut acc, mut pc) = (0u32, 0usize);
        loop {
            let i = prog[pc];
            pc += 1;
            match i.code {
                LD_W_ABS => acc = if i.k == ARCH { arch } else { nr },
                JEQ_K => pc += usize::from(if acc == i.k { i.jt } else { i.jf }),
                JGT_K => pc += usize::from(if acc > i.k { i.jt } else { i.jf }),
                JSET_K => pc += usize::from(if acc & i.k != 0 { i.jt } else { i.jf }),
                RET_K => return i.k,
                other => panic!("opcode {other:#x}"),
            }
        }
    }

    const ALLOW: u32 = 0x7fff_0000;

    #[test]
    fn numbers_above_the_newest_get_enosys_and_the_rest_go_on() {
        let Some(arch) = NATIVE_ARCH else { return };
        let rest = vec![Insn {
            code: RET_K,
            jt: 0,
            jf: 0,
            k: ALLOW,
        }];
        let prog = with_enosys_check(rest, Some(332));
        assert_eq!(
            run(&prog, arch, 1000),
            SECCOMP_RET_ERRNO | libc::ENOSYS as u32
        );
        assert_eq!(
            run(&prog, arch, 333),
            SECCOMP_RET_ERRNO | libc::ENOSYS as u32
        );
        assert_eq!(run(&prog, arch, 332), ALLOW);
        assert_eq!(run(&prog, arch, 0), ALLOW);
        assert_eq!(run(&prog, 0x4000_0003, 1000), ALLOW, "another architecture");
        if cfg!(target_arch = "x86_64") {
            assert_eq!(run(&prog, arch, X32_SYSCALL_BIT | 1), ALLOW, "x32");
        }
    }

    #[test]
    fn without_a_newest_the_program_is_unchanged() {
        let rest = vec![Insn {
            code: RET_K,
            jt: 0,
            jf: 0,
            k: ALLOW,
        }];
        assert_eq!(with_enosys_check(rest.clone(), None), rest);
    }
}
