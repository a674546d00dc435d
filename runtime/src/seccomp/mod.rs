//! seccomp: `linux.seccomp` compiled into a filter with libseccomp, and
//! loaded into the container's process (init or exec'd) as late as the
//! kernel allows.
//!
//! runc's rules: SCMP_ACT_ERRNO without errnoRet returns EPERM; a syscall
//! name libseccomp does not know is skipped (profiles name syscalls of
//! newer kernels); a rule whose action is the default action is dropped
//! (libseccomp refuses it); conditions on distinct arguments form one rule
//! (all must match), and several conditions on the same argument form one
//! rule each (any may match). Without no_new_privs loading a filter needs
//! CAP_SYS_ADMIN, so then it is loaded before the capabilities drop;
//! otherwise as late as a failure can still be reported: in the init just
//! before it tells `create` it is ready, in an exec'd process just before
//! exec. When the default action is neither allow nor log, a syscall
//! newer than every syscall the profile names fails with ENOSYS instead of
//! the default action, as with runc: the profile predates it, and libc
//! falls back to an older call on ENOSYS only (glibc's clone3 to clone,
//! close_range to a /proc walk). That holds for numbers libseccomp has no
//! name for too (up to any number past the kernel's table): [`bpf`] puts a
//! check in front of libseccomp's program. SCMP_ACT_NOTIFY hands the
//! filter's listener to the seccomp agent at `listenerPath` ([`agent`]).
//! This module does not decide when to load: `init` and `exec` do.

pub mod agent;
mod bpf;

use std::collections::HashSet;
use std::str::FromStr;

use libseccomp::{
    ScmpAction, ScmpArch, ScmpArgCompare, ScmpCompareOp, ScmpFilterContext, ScmpSyscall,
};
use oci_spec::runtime::{LinuxSeccomp, LinuxSeccompAction, LinuxSeccompOperator};

/// What is wrong with `linux.seccomp`, or what libseccomp refused.
#[derive(Debug, thiserror::Error)]
#[error("linux.seccomp{field}: {msg}")]
pub struct SeccompError {
    /// Where in linux.seccomp, e.g. ".syscalls[3].action".
    pub field: String,
    pub msg: String,
}

fn err(field: impl Into<String>, msg: impl ToString) -> SeccompError {
    SeccompError {
        field: field.into(),
        msg: msg.to_string(),
    }
}

/// The action, with `errno_ret` for SCMP_ACT_ERRNO (EPERM when unset) and
/// SCMP_ACT_TRACE.
fn action(
    a: LinuxSeccompAction,
    errno_ret: Option<u32>,
    field: &str,
) -> Result<ScmpAction, SeccompError> {
    use LinuxSeccompAction as A;
    Ok(match a {
        A::ScmpActKill | A::ScmpActKillThread => ScmpAction::KillThread,
        A::ScmpActKillProcess => ScmpAction::KillProcess,
        A::ScmpActTrap => ScmpAction::Trap,
        A::ScmpActErrno => ScmpAction::Errno(errno_ret.unwrap_or(libc::EPERM as u32) as i32),
        A::ScmpActTrace => ScmpAction::Trace(errno_ret.unwrap_or(libc::EPERM as u32) as u16),
        A::ScmpActAllow => ScmpAction::Allow,
        A::ScmpActLog => ScmpAction::Log,
        A::ScmpActNotify if field == ".defaultAction" => {
            return Err(err(
                field,
                "SCMP_ACT_NOTIFY cannot be the default action (jolt's own setup would wait on the agent), as with runc",
            ))
        }
        A::ScmpActNotify => ScmpAction::Notify,
    })
}

fn operator(op: LinuxSeccompOperator, value: u64) -> ScmpCompareOp {
    use LinuxSeccompOperator as O;
    match op {
        O::ScmpCmpNe => ScmpCompareOp::NotEqual,
        O::ScmpCmpLt => ScmpCompareOp::Less,
        O::ScmpCmpLe => ScmpCompareOp::LessOrEqual,
        O::ScmpCmpEq => ScmpCompareOp::Equal,
        O::ScmpCmpGe => ScmpCompareOp::GreaterEqual,
        O::ScmpCmpGt => ScmpCompareOp::Greater,
        // value is the mask, valueTwo the datum.
        O::ScmpCmpMaskedEq => ScmpCompareOp::MaskedEqual(value),
    }
}

/// The JSON name of a spec enum value ("SCMP_ARCH_X86_64").
fn json_name<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(String::from))
        .unwrap_or_default()
}

/// Compiles `linux.seccomp` into a filter ready to load.
/// A compiled profile, ready to load.
pub struct Filter {
    ctx: ScmpFilterContext,
    /// SECCOMP_FILTER_FLAG_* for seccomp(2), from `flags`.
    flags: u32,
    /// Above this native syscall number the profile knows nothing: ENOSYS.
    enosys_above: Option<u32>,
    /// Some rule notifies: loading yields a listener for the agent.
    notify: bool,
}

impl std::fmt::Debug for Filter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Filter")
            .field("flags", &self.flags)
            .field("enosys_above", &self.enosys_above)
            .field("notify", &self.notify)
            .finish()
    }
}

pub fn compile(s: &LinuxSeccomp) -> Result<Filter, SeccompError> {
    let default = action(s.default_action(), s.default_errno_ret(), ".defaultAction")?;
    let mut ctx = ScmpFilterContext::new(default).map_err(|e| err("", e))?;
    for (i, arch) in s.architectures().iter().flatten().enumerate() {
        let name = json_name(arch);
        let arch = ScmpArch::from_str(&name)
            .map_err(|_| err(format!(".architectures[{i}]"), format!("unknown {name}")))?;
        // The native architecture is in already.
        if ctx.is_arch_present(arch).unwrap_or(false) {
            continue;
        }
        ctx.add_arch(arch)
            .map_err(|e| err(format!(".architectures[{i}]"), e))?;
    }
    let mut flags = 0;
    for (i, flag) in s.flags().iter().flatten().enumerate() {
        flags |= match json_name(flag).as_str() {
            "SECCOMP_FILTER_FLAG_LOG" => bpf::FLAG_LOG,
            "SECCOMP_FILTER_FLAG_SPEC_ALLOW" => bpf::FLAG_SPEC_ALLOW,
            "SECCOMP_FILTER_FLAG_TSYNC" => bpf::FLAG_TSYNC,
            other => return Err(err(format!(".flags[{i}]"), format!("unknown flag {other}"))),
        };
    }
    // The runtime itself calls these after loading when no_new_privs is
    // off; libseccomp must not turn no_new_privs on by itself either.
    ctx.set_ctl_nnp(false).map_err(|e| err("", e))?;

    // Every syscall the profile names, as native numbers, whatever its
    // action (a rule with the default action still names it).
    let named: HashSet<i32> = s
        .syscalls()
        .iter()
        .flatten()
        .flat_map(|rule| rule.names())
        .filter_map(|name| ScmpSyscall::from_name(name).ok())
        .map(i32::from)
        .filter(|nr| *nr >= 0)
        .collect();
    for (i, rule) in s.syscalls().iter().flatten().enumerate() {
        let field = format!(".syscalls[{i}]");
        let act = action(rule.action(), rule.errno_ret(), &format!("{field}.action"))?;
        if act == default {
            continue;
        }
        let conditions: Vec<ScmpArgCompare> = rule
            .args()
            .iter()
            .flatten()
            .map(|a| {
                let datum = match a.op() {
                    LinuxSeccompOperator::ScmpCmpMaskedEq => a.value_two().unwrap_or(0),
                    _ => a.value(),
                };
                ScmpArgCompare::new(a.index() as u32, operator(a.op(), a.value()), datum)
            })
            .collect();
        let indexes: HashSet<u32> = rule
            .args()
            .iter()
            .flatten()
            .map(|a| a.index() as u32)
            .collect();
        for name in rule.names() {
            let Ok(syscall) = ScmpSyscall::from_name(name) else {
                tracing::debug!("seccomp: unknown syscall {name:?} skipped");
                continue;
            };
            let added = if conditions.is_empty() {
                ctx.add_rule(act, syscall)
            } else if indexes.len() == conditions.len() {
                ctx.add_rule_conditional(act, syscall, &conditions)
            } else {
                conditions
                    .iter()
                    .try_for_each(|c| ctx.add_rule_conditional(act, syscall, &[*c]).map(drop))
                    .map(|()| &mut ctx)
            };
            added.map_err(|e| err(format!("{field} {name}"), e))?;
        }
    }
    let enosys = !matches!(
        default,
        ScmpAction::Allow | ScmpAction::Log | ScmpAction::Errno(libc::ENOSYS)
    );
    if enosys {
        // By name, for every architecture of the filter (libseccomp
        // translates); bpf's check covers the native numbers it has no
        // name for.
        for syscall in newer_than(&named) {
            ctx.add_rule(ScmpAction::Errno(libc::ENOSYS), syscall)
                .map_err(|e| {
                    err(
                        "",
                        format!("ENOSYS for syscalls newer than the profile: {e}"),
                    )
                })?;
        }
    }
    let notify = s
        .syscalls()
        .iter()
        .flatten()
        .any(|r| r.action() == LinuxSeccompAction::ScmpActNotify);
    if notify && s.listener_path().is_none() {
        return Err(err(
            ".listenerPath",
            "SCMP_ACT_NOTIFY needs the path of a seccomp agent's socket to hand the filter to",
        ));
    }
    Ok(Filter {
        ctx,
        flags,
        enosys_above: enosys
            .then(|| named.iter().max().map(|&n| n as u32))
            .flatten(),
        notify,
    })
}

/// The syscalls libseccomp knows on the native architecture whose numbers
/// are above every one in `named` (none when `named` is empty).
fn newer_than(named: &HashSet<i32>) -> Vec<ScmpSyscall> {
    // Above every syscall number the native architectures use (x86_64's
    // end near 470, aarch64's near 470, with room to grow).
    const BEYOND_ALL: i32 = 1024;
    let Some(&newest) = named.iter().max() else {
        return Vec::new();
    };
    let native = ScmpArch::native();
    (newest + 1..BEYOND_ALL)
        .filter_map(|nr| ScmpSyscall::from(nr).get_name_by_arch(native).ok())
        .filter_map(|name| ScmpSyscall::from_name(&name).ok())
        .collect()
}

/// Loads a compiled filter into this process; with a notifying rule,
/// returns the listener the agent answers on.
pub fn load(filter: &Filter) -> Result<Option<std::os::fd::OwnedFd>, SeccompError> {
    let program = bpf::export(&filter.ctx)
        .map_err(|e| err("", format!("exporting the filter from libseccomp: {e}")))?;
    let program = bpf::with_enosys_check(program, filter.enosys_above);
    bpf::load(&program, filter.flags, filter.notify)
        .map_err(|e| err("", format!("loading the filter: {}", e.desc())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seccomp(v: serde_json::Value) -> LinuxSeccomp {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn compiles_names_actions_and_conditions() {
        let s = seccomp(serde_json::json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
            "syscalls": [
                { "names": ["mkdir", "mkdirat", "no_such_syscall"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13 },
                { "names": ["chmod"], "action": "SCMP_ACT_ERRNO",
                  "args": [{ "index": 1, "value": 511, "op": "SCMP_CMP_EQ" }] },
                { "names": ["personality"], "action": "SCMP_ACT_ERRNO",
                  "args": [{ "index": 0, "value": 1, "op": "SCMP_CMP_EQ" },
                           { "index": 0, "value": 2, "op": "SCMP_CMP_EQ" }] },
                { "names": ["clone"], "action": "SCMP_ACT_ERRNO",
                  "args": [{ "index": 0, "value": 2114060288, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ" }] },
                { "names": ["getpid"], "action": "SCMP_ACT_ALLOW" }
            ]
        }));
        compile(&s).unwrap();
    }

    #[test]
    fn notify_needs_a_listener_path_and_cannot_be_the_default() {
        let s = seccomp(serde_json::json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{ "names": ["mkdir"], "action": "SCMP_ACT_NOTIFY" }]
        }));
        let e = compile(&s).unwrap_err().to_string();
        assert!(
            e.starts_with("linux.seccomp.listenerPath: SCMP_ACT_NOTIFY needs"),
            "{e}"
        );
        let s = seccomp(serde_json::json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "listenerPath": "/run/agent.sock",
            "syscalls": [{ "names": ["mkdir"], "action": "SCMP_ACT_NOTIFY" }]
        }));
        assert!(compile(&s).unwrap().notify);
        let s = seccomp(serde_json::json!({
            "defaultAction": "SCMP_ACT_NOTIFY",
            "listenerPath": "/run/agent.sock"
        }));
        let e = compile(&s).unwrap_err().to_string();
        assert!(
            e.starts_with("linux.seccomp.defaultAction: SCMP_ACT_NOTIFY cannot"),
            "{e}"
        );
    }

    #[test]
    fn enosys_is_checked_above_the_newest_named_syscall_unless_the_default_allows() {
        let nr = |name: &str| i32::from(ScmpSyscall::from_name(name).unwrap()) as u32;
        let s = seccomp(serde_json::json!({
            "defaultAction": "SCMP_ACT_ERRNO",
            "syscalls": [{ "names": ["read", "statx"], "action": "SCMP_ACT_ALLOW" }]
        }));
        assert_eq!(compile(&s).unwrap().enosys_above, Some(nr("statx")));
        let s = seccomp(serde_json::json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{ "names": ["statx"], "action": "SCMP_ACT_ERRNO" }]
        }));
        assert_eq!(compile(&s).unwrap().enosys_above, None);
    }

    #[test]
    fn newer_means_above_every_named_syscall() {
        let nr = |name: &str| i32::from(ScmpSyscall::from_name(name).unwrap());
        let named: HashSet<i32> = [nr("mkdir"), nr("statx")].into();
        let newer: HashSet<i32> = newer_than(&named).into_iter().map(i32::from).collect();
        assert!(newer.contains(&nr("openat2")) && newer.contains(&nr("clone3")));
        assert!(!newer.contains(&nr("statx")) && !newer.contains(&nr("rmdir")));
        assert!(newer.iter().all(|n| *n > nr("statx")));
        assert!(newer_than(&HashSet::new()).is_empty());
    }
}
