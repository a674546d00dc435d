//! firewall: jolt's nftables table, `inet jolt`, in the node's network
//! namespace: masquerade for traffic leaving a network's subnet, DNAT for
//! published ports (from other hosts, from the node itself through
//! localhost, and from containers on the bridge: hairpin), and forward
//! rules that let exactly that traffic into the container.
//!
//! Owns the table and driving `nft` (through the nftables crate, `nft -j`,
//! in whatever namespace the calling thread is in): every change is one
//! batch, one transaction, so a half-applied rule set never exists. What
//! the batches hold is in `rules` (pure, unit-tested); `iptables` holds the
//! one exception to "only its own table"; `nft` the JSON vocabulary both
//! use. Where the table and the leases disagree (joltd's state was lost),
//! [`owners`] reads back from a listing which container has what, and
//! [`remove_listed`] removes exactly that.

mod iptables;
mod nft;
mod rules;

use std::collections::BTreeMap;
use std::io::Write;
use std::net::Ipv4Addr;
use std::process::{Command, Stdio};

use nftables::helper::{self, NftablesError};
use nftables::schema::{NfCmd, NfListObject};
use serde_json::{json, Value};

use super::error::Error;
use super::ipam::Subnet;
use super::ports::PortMapping;

pub use iptables::{allow_in_iptables_forward, remove_from_iptables_forward};
pub use rules::Owned;

pub const TABLE: &str = "jolt";

/// The packet mark that asks postrouting to masquerade a DNATed packet
/// whose source would not get the reply back otherwise: the node itself
/// (127.0.0.0/8) or a container on the same bridge (hairpin).
pub const MASQUERADE_MARK: u32 = 0x2000;

/// What the rules of one container are made from.
#[derive(Debug, Clone)]
pub struct ContainerRules<'a> {
    pub container: &'a str,
    pub bridge: &'a str,
    pub address: Ipv4Addr,
    pub subnet: Subnet,
    pub ports: &'a [PortMapping],
}

/// Applies one batch with `nft -j -f -`. Run here rather than through the
/// nftables crate's helper, which leaves nft's stderr, the reason a batch
/// was refused, uncaptured.
fn run(batch: &Value, what: &str) -> Result<(), Error> {
    let fail = |reason: String| Error::Firewall {
        what: what.to_string(),
        reason,
    };
    let mut child = Command::new("nft")
        .args(["-j", "-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| {
            fail(if e.kind() == std::io::ErrorKind::NotFound {
                "nft not found (apt-get install nftables)".to_string()
            } else {
                format!("running nft: {e}")
            })
        })?;
    let written = child
        .stdin
        .take()
        .expect("stdin is piped")
        .write_all(batch.to_string().as_bytes());
    let out = child
        .wait_with_output()
        .map_err(|e| fail(format!("waiting for nft: {e}")))?;
    if !out.status.success() {
        return Err(fail(format!(
            "nft -j -f - failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    written.map_err(|e| fail(format!("writing the batch to nft: {e}")))
}

/// Adds (or, unless `fresh`, replaces) the rules of `c.container`, in one
/// transaction.
pub fn apply(c: &ContainerRules, fresh: bool) -> Result<(), Error> {
    run(
        &rules::setup_batch(c, fresh),
        &format!("container {}: adding firewall rules", c.container),
    )
}

/// Removes the rules of `container` (at `address`, publishing `ports`),
/// in one transaction; rules that are not there are not an error. When
/// that batch is refused (an element keyed by the address or a port is
/// another container's: joltd's state was lost and the address reused),
/// exactly what a listing shows of `container` is removed instead.
pub fn remove(container: &str, address: Ipv4Addr, ports: &[PortMapping]) -> Result<(), Error> {
    let what = format!("container {container}: deleting firewall rules");
    let fast = run(&rules::teardown_batch(container, address, ports), &what);
    let Err(refused) = fast else {
        return Ok(());
    };
    match owners() {
        Ok(all) => match all.get(container) {
            None => Ok(()),
            Some(owned) => remove_listed(container, owned),
        },
        Err(_) => Err(refused),
    }
}

/// Every container that has chains or map elements in the table, and
/// what it has (none when the table does not exist).
pub fn owners() -> Result<BTreeMap<String, Owned>, Error> {
    let what = "listing nftables table inet jolt";
    match listing() {
        Ok(None) => Ok(BTreeMap::new()),
        Ok(Some(json)) => serde_json::from_str(&json)
            .map(|v| rules::owners(&v))
            .map_err(|e| Error::Firewall {
                what: what.to_string(),
                reason: e.to_string(),
            }),
        Err(e) => Err(nft_error(what, e)),
    }
}

/// Removes what [`owners`] found of `container`, in one transaction.
pub fn remove_listed(container: &str, owned: &Owned) -> Result<(), Error> {
    run(
        &rules::listed_removal_batch(owned),
        &format!("container {container}: deleting its listed firewall rules"),
    )
}

/// `nft -j list table inet jolt`; None when the table does not exist.
fn listing() -> Result<Option<String>, NftablesError> {
    match helper::get_current_ruleset_raw(helper::DEFAULT_NFT, ["list", "table", "inet", TABLE]) {
        Ok(json) => Ok(Some(json)),
        Err(NftablesError::NftFailed { stderr, .. })
            if stderr.contains("No such file or directory") =>
        {
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

fn nft_error(what: &str, e: NftablesError) -> Error {
    let reason = match e {
        NftablesError::NftExecution { inner, .. }
            if inner.kind() == std::io::ErrorKind::NotFound =>
        {
            "nft not found (apt-get install nftables)".to_string()
        }
        NftablesError::NftFailed { stderr, hint, .. } => {
            format!("nft failed while {hint}: {}", stderr.trim())
        }
        other => other.to_string(),
    };
    Error::Firewall {
        what: what.to_string(),
        reason,
    }
}

/// A rule in the table as `nft -j list` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub chain: String,
    pub handle: u32,
    pub comment: Option<String>,
}

/// The rules of `nft -j list table inet jolt` output.
pub fn parse_listing(json: &str) -> Result<Vec<Listed>, String> {
    let value: serde_json::Value = serde_json::from_str(json).map_err(|e| e.to_string())?;
    let objects = value["nftables"]
        .as_array()
        .ok_or("no \"nftables\" array in nft's output")?;
    Ok(objects
        .iter()
        .filter_map(|o| o.get("rule"))
        .filter_map(|r| {
            Some(Listed {
                chain: r["chain"].as_str()?.to_string(),
                handle: r["handle"].as_u64()?.try_into().ok()?,
                comment: r["comment"].as_str().map(str::to_string),
            })
        })
        .collect())
}

/// The rules of `inet jolt` now; none when the table does not exist.
pub fn list() -> Result<Vec<Listed>, Error> {
    let what = "listing nftables table inet jolt";
    match listing() {
        Ok(Some(json)) => parse_listing(&json).map_err(|reason| Error::Firewall {
            what: what.to_string(),
            reason,
        }),
        Ok(None) => Ok(Vec::new()),
        Err(e) => Err(nft_error(what, e)),
    }
}

/// Deletes the table when no container has a rule in it (after the last
/// network is removed).
pub fn remove_table_if_unused() -> Result<(), Error> {
    if list()?.iter().any(|r| r.comment.is_some()) {
        return Ok(());
    }
    let batch = json!({ "nftables": [
        nft::cmd(NfCmd::Add(NfListObject::Table(nft::table()))),
        nft::cmd(NfCmd::Delete(NfListObject::Table(nft::table()))),
    ]});
    run(&batch, "deleting nftables table inet jolt")
}
