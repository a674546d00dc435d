//! Signal names and numbers as `jolt kill` accepts and prints them.
//!
//! This module owns the translation between the strings a user types and
//! the numbers the kernel takes, following runc: a name is upper-cased and
//! given the `SIG` prefix if it lacks one, so `kill`, `KILL` and `SIGKILL`
//! are the same signal. It knows the 31 standard Linux signals by name;
//! real-time signals are given by number. Sending signals is not done here.

/// The standard Linux signals, by the names runc (through Go's x/sys)
/// accepts. Numbers come from libc so that they are right for the target.
const NAMED: [(libc::c_int, &str); 31] = [
    (libc::SIGHUP, "SIGHUP"),
    (libc::SIGINT, "SIGINT"),
    (libc::SIGQUIT, "SIGQUIT"),
    (libc::SIGILL, "SIGILL"),
    (libc::SIGTRAP, "SIGTRAP"),
    (libc::SIGABRT, "SIGABRT"),
    (libc::SIGBUS, "SIGBUS"),
    (libc::SIGFPE, "SIGFPE"),
    (libc::SIGKILL, "SIGKILL"),
    (libc::SIGUSR1, "SIGUSR1"),
    (libc::SIGSEGV, "SIGSEGV"),
    (libc::SIGUSR2, "SIGUSR2"),
    (libc::SIGPIPE, "SIGPIPE"),
    (libc::SIGALRM, "SIGALRM"),
    (libc::SIGTERM, "SIGTERM"),
    (libc::SIGSTKFLT, "SIGSTKFLT"),
    (libc::SIGCHLD, "SIGCHLD"),
    (libc::SIGCONT, "SIGCONT"),
    (libc::SIGSTOP, "SIGSTOP"),
    (libc::SIGTSTP, "SIGTSTP"),
    (libc::SIGTTIN, "SIGTTIN"),
    (libc::SIGTTOU, "SIGTTOU"),
    (libc::SIGURG, "SIGURG"),
    (libc::SIGXCPU, "SIGXCPU"),
    (libc::SIGXFSZ, "SIGXFSZ"),
    (libc::SIGVTALRM, "SIGVTALRM"),
    (libc::SIGPROF, "SIGPROF"),
    (libc::SIGWINCH, "SIGWINCH"),
    (libc::SIGIO, "SIGIO"),
    (libc::SIGPWR, "SIGPWR"),
    (libc::SIGSYS, "SIGSYS"),
];

/// The highest signal number Linux has (`_NSIG - 1`, the last real-time
/// signal).
const MAX_SIGNAL: libc::c_int = 64;

/// A signal name or number that is not a Linux signal.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown signal {0:?}")]
pub struct SignalError(String);

/// Parses a signal as `runc kill` accepts it: a number (`9`, `40`), or a
/// name in any case with or without the `SIG` prefix (`KILL`, `sigkill`).
///
/// Numbers must be in 0..=64, so real-time signals are accepted by number,
/// and 0 checks that the process exists, as kill(2) does. (runc hands any
/// number to kill(2) unchecked; jolt rejects the ones the kernel would
/// refuse, with the same message as a bad name.)
pub fn parse(s: &str) -> Result<libc::c_int, SignalError> {
    if let Ok(n) = s.parse::<libc::c_int>() {
        return if (0..=MAX_SIGNAL).contains(&n) {
            Ok(n)
        } else {
            Err(SignalError(s.to_owned()))
        };
    }
    let upper = s.to_ascii_uppercase();
    let wanted = if upper.starts_with("SIG") {
        upper
    } else {
        format!("SIG{upper}")
    };
    NAMED
        .iter()
        .find(|(_, name)| *name == wanted)
        .map(|(n, _)| *n)
        .ok_or_else(|| SignalError(s.to_owned()))
}

/// The name of a signal number for messages: `SIGTERM` for a standard
/// signal, `signal 40` for a real-time one or any other number.
pub fn name(sig: libc::c_int) -> String {
    standard_name(sig).map_or_else(|| format!("signal {sig}"), str::to_owned)
}

/// `SIGTERM` for a standard signal; None for a real-time one or any
/// other number.
pub fn standard_name(sig: libc::c_int) -> Option<&'static str> {
    NAMED.iter().find(|(n, _)| *n == sig).map(|(_, name)| *name)
}

/// Sends signal number `sig` to `pid`. Raw, because real-time signals
/// have no `nix::sys::signal::Signal` variant. `pid` must be a real
/// process: callers never pass 0 or a negative number.
pub fn send(pid: i32, sig: libc::c_int) -> nix::Result<()> {
    assert!(pid > 0, "signal::send to pid {pid}");
    // SAFETY: kill(2) with plain integers.
    nix::errno::Errno::result(unsafe { libc::kill(pid, sig) }).map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_with_and_without_the_sig_prefix() {
        assert_eq!(parse("SIGKILL"), Ok(libc::SIGKILL));
        assert_eq!(parse("KILL"), Ok(libc::SIGKILL));
        assert_eq!(parse("TERM"), Ok(libc::SIGTERM));
        assert_eq!(parse("SIGWINCH"), Ok(libc::SIGWINCH));
    }

    #[test]
    fn names_are_case_insensitive_like_runc() {
        assert_eq!(parse("kill"), Ok(libc::SIGKILL));
        assert_eq!(parse("sigterm"), Ok(libc::SIGTERM));
        assert_eq!(parse("SigHup"), Ok(libc::SIGHUP));
    }

    #[test]
    fn numbers_including_real_time_signals() {
        assert_eq!(parse("9"), Ok(9));
        assert_eq!(parse("1"), Ok(1));
        assert_eq!(parse("40"), Ok(40));
        assert_eq!(parse("64"), Ok(64));
    }

    #[test]
    fn numbers_outside_the_kernel_range_are_unknown() {
        assert_eq!(parse("0"), Ok(0), "0 checks that the process exists");
        for bad in ["65", "-9", "4294967305"] {
            assert_eq!(
                parse(bad).unwrap_err().to_string(),
                format!("unknown signal \"{bad}\""),
            );
        }
    }

    #[test]
    fn garbage_is_an_unknown_signal_in_runcs_words() {
        assert_eq!(
            parse("FOO").unwrap_err().to_string(),
            "unknown signal \"FOO\""
        );
        assert!(parse("").is_err());
        assert!(parse("SIG").is_err());
        assert!(parse("SIGSIGKILL").is_err());
        assert!(parse(" KILL").is_err());
        assert!(parse("RTMIN").is_err());
    }

    #[test]
    fn every_name_round_trips() {
        for (n, sig_name) in NAMED {
            assert_eq!(name(n), sig_name);
            assert_eq!(parse(sig_name), Ok(n));
            assert_eq!(parse(&n.to_string()), Ok(n));
        }
    }

    #[test]
    fn real_time_and_unknown_numbers_are_named_by_number() {
        assert_eq!(name(libc::SIGTERM), "SIGTERM");
        assert_eq!(name(40), "signal 40");
        assert_eq!(name(0), "signal 0");
    }
}
