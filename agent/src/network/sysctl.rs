//! sysctl: the two kernel settings NAPT needs in the node's namespace:
//! `net.ipv4.ip_forward` (the node routes between the bridge and the
//! world) and `net.ipv4.conf.<bridge>.route_localnet` (DNAT from
//! 127.0.0.1 may leave through the bridge).
//!
//! Owns only writing them; /proc/sys/net shows the namespace of the thread
//! that opens it, so the caller runs this on a thread in the node's
//! namespace.

use std::fs;

use super::error::Error;

/// Sets `key` (dotted, e.g. `net.ipv4.ip_forward`) to `value` unless it
/// has it already.
fn ensure(key: &str, value: &str) -> Result<(), Error> {
    let path = format!("/proc/sys/{}", key.replace('.', "/"));
    if fs::read_to_string(&path).is_ok_and(|v| v.trim() == value) {
        return Ok(());
    }
    fs::write(&path, value).map_err(Error::io(format!("setting {key} to {value}")))
}

/// Enables forwarding and route_localnet on `bridge`.
pub(crate) fn enable_napt(bridge: &str) -> Result<(), Error> {
    ensure("net.ipv4.ip_forward", "1")?;
    // An interface name has no dots, so the dotted form stays unambiguous.
    ensure(&format!("net.ipv4.conf.{bridge}.route_localnet"), "1")
}
