//! probe: what this kernel can do for a network fault, asked once per
//! process in a scratch network namespace of its own (a thread that
//! unshares one, runs the tool there, and exits, which removes it), so
//! that choosing a backend changes nothing anywhere: whether sch_netem
//! exists, and whether nftables can queue packets to userspace (nft's
//! `queue` needs CONFIG_NFT_QUEUE; without it, the xtables NFQUEUE target
//! may still be there).

use std::process::{Command, Stdio};
use std::sync::OnceLock;

/// Runs `program args` (with `input` on stdin) in a fresh network
/// namespace; whether it succeeded. False when no namespace can be made.
fn in_scratch_netns(program: &str, args: &[&str], input: Option<&str>) -> bool {
    let (program, args, input) = (
        program.to_string(),
        args.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
        input.map(str::to_string),
    );
    std::thread::spawn(move || {
        // SAFETY: unshare affects only this thread, which ends right after.
        if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
            return false;
        }
        let mut command = Command::new(&program);
        command
            .args(&args)
            .stdin(if input.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let Ok(mut child) = command.spawn() else {
            return false;
        };
        if let (Some(text), Some(mut stdin)) = (input, child.stdin.take()) {
            use std::io::Write;
            let _ = stdin.write_all(text.as_bytes());
        }
        child.wait().is_ok_and(|s| s.success())
    })
    .join()
    .unwrap_or(false)
}

/// Whether the kernel has sch_netem (loaded on demand by tc, as for a
/// fault).
pub(super) fn netem() -> bool {
    static NETEM: OnceLock<bool> = OnceLock::new();
    *NETEM.get_or_init(|| {
        in_scratch_netns(
            "tc",
            &["qdisc", "add", "dev", "lo", "root", "netem", "delay", "1ms"],
            None,
        )
    })
}

/// Whether nftables can send packets to a queue (nft's `queue`).
pub(super) fn nft_queue() -> bool {
    static NFT_QUEUE: OnceLock<bool> = OnceLock::new();
    *NFT_QUEUE.get_or_init(|| {
        in_scratch_netns(
            "nft",
            &["-f", "-"],
            Some("table inet probe { chain o { type filter hook output priority 0; queue num 1 bypass; } }\n"),
        )
    })
}
