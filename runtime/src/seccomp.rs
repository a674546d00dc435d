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
//! exec. SCMP_ACT_NOTIFY (which needs a listener
//! jolt does not run) is refused. When the default action is neither allow
//! nor log, a syscall newer than every syscall the profile names fails
//! with ENOSYS instead of the default action, as with runc: the profile
//! predates it, and libc falls back to an older call on ENOSYS only
//! (glibc's clone3 to clone, close_range to a /proc walk). This module does not decide when to load:
//! `init` and `exec` do.

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
        A::ScmpActNotify => {
            return Err(err(
                field,
                "SCMP_ACT_NOTIFY needs a seccomp agent, which jolt does not support",
            ))
        }
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
pub fn compile(s: &LinuxSeccomp) -> Result<ScmpFilterContext, SeccompError> {
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
    for (i, flag) in s.flags().iter().flatten().enumerate() {
        let field = format!(".flags[{i}]");
        match json_name(flag).as_str() {
            "SECCOMP_FILTER_FLAG_LOG" => ctx.set_ctl_log(true).map(drop),
            "SECCOMP_FILTER_FLAG_SPEC_ALLOW" => ctx.set_ctl_ssb(true).map(drop),
            "SECCOMP_FILTER_FLAG_TSYNC" => ctx.set_ctl_tsync(true).map(drop),
            other => return Err(err(field, format!("unknown flag {other}"))),
        }
        .map_err(|e| err(format!(".flags[{i}]"), e))?;
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
    if !matches!(
        default,
        ScmpAction::Allow | ScmpAction::Log | ScmpAction::Errno(libc::ENOSYS)
    ) {
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
    Ok(ctx)
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

/// Loads a compiled filter into this process.
pub fn load(ctx: &ScmpFilterContext) -> Result<(), SeccompError> {
    ctx.load()
        .map_err(|e| err("", format!("loading the filter: {e}")))
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
    fn notify_is_refused_with_the_field() {
        let s = seccomp(serde_json::json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{ "names": ["mkdir"], "action": "SCMP_ACT_NOTIFY" }]
        }));
        let e = compile(&s).unwrap_err().to_string();
        assert!(
            e.starts_with("linux.seccomp.syscalls[0].action: SCMP_ACT_NOTIFY"),
            "{e}"
        );
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
