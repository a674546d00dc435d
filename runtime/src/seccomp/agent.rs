//! agent: the listener of a filter with SCMP_ACT_NOTIFY rules, handed to
//! the seccomp agent at `linux.seccomp.listenerPath` as runc hands it: one
//! connection to that Unix socket, one message holding the runtime spec's
//! ContainerProcessState as JSON (`fds: ["seccompFd"]`, the process's pid,
//! `listenerMetadata`, the container's state) with the descriptor as
//! SCM_RIGHTS, then the connection closes. jolt (on the host) sends it: the
//! process that loaded the filter passes the listener back over its
//! channel first.

use std::io::IoSlice;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::os::unix::net::UnixStream;
use std::path::Path;

use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags};
use serde_json::{json, Value};

/// The agent could not be given the listener.
#[derive(Debug, thiserror::Error)]
#[error("linux.seccomp.listenerPath {path}: {what}: {cause}")]
pub struct AgentError {
    pub path: String,
    pub what: &'static str,
    pub cause: String,
}

/// The message the agent reads (runtime-spec `ContainerProcessState`).
pub fn process_state(pid: i32, metadata: Option<&str>, state: &Value) -> Value {
    let mut v = json!({
        "ociVersion": crate::state::OCI_VERSION,
        "fds": ["seccompFd"],
        "pid": pid,
        "state": state,
    });
    if let Some(m) = metadata.filter(|m| !m.is_empty()) {
        v["metadata"] = m.into();
    }
    v
}

/// Takes the listener that came with `chan`'s last message and sends it,
/// with the process's state, to the agent `spec` names; the error text
/// says what failed.
pub fn hand_over(
    spec: &oci_spec::runtime::Spec,
    chan: &crate::channel::Channel,
    pid: i32,
    state: &Value,
) -> Result<(), String> {
    let listener = chan
        .take_fd()
        .ok_or("the seccomp listener did not come with its message")?;
    let seccomp = spec.linux().as_ref().and_then(|l| l.seccomp().as_ref());
    let path = seccomp
        .and_then(|s| s.listener_path().as_ref())
        .ok_or("a seccomp listener without linux.seccomp.listenerPath")?;
    let metadata = seccomp.and_then(|s| s.listener_metadata().as_deref());
    let message = process_state(pid, metadata, state);
    send(path, &message, std::os::fd::AsFd::as_fd(&listener)).map_err(|e| e.to_string())
}

/// Connects to `path` and sends `message` with `listener`.
pub fn send(path: &Path, message: &Value, listener: BorrowedFd) -> Result<(), AgentError> {
    let fail = |what, cause: String| AgentError {
        path: path.display().to_string(),
        what,
        cause,
    };
    let sock = UnixStream::connect(path).map_err(|e| {
        fail(
            "connect",
            format!("{} (is the seccomp agent listening?)", crate::os_text(&e)),
        )
    })?;
    let data = message.to_string();
    let fds = [listener.as_raw_fd()];
    sendmsg::<()>(
        sock.as_raw_fd(),
        &[IoSlice::new(data.as_bytes())],
        &[ControlMessage::ScmRights(&fds)],
        MsgFlags::MSG_NOSIGNAL,
        None,
    )
    .map_err(|e| fail("send the listener", e.desc().to_string()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_state_has_runcs_fields_and_metadata_only_when_given() {
        let state = json!({ "id": "web", "status": "creating" });
        let v = process_state(42, Some("agent-config"), &state);
        assert_eq!(v["fds"], json!(["seccompFd"]));
        assert_eq!(v["pid"], 42);
        assert_eq!(v["metadata"], "agent-config");
        assert_eq!(v["state"]["id"], "web");
        assert!(process_state(42, None, &state).get("metadata").is_none());
    }

    #[test]
    fn a_missing_agent_is_an_error_naming_the_path() {
        let file = tempfile::tempfile().unwrap();
        let err = send(
            Path::new("/nonexistent/agent.sock"),
            &json!({}),
            std::os::fd::AsFd::as_fd(&file),
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.starts_with(
                "linux.seccomp.listenerPath /nonexistent/agent.sock: connect: No such file"
            ),
            "{err}"
        );
    }
}
