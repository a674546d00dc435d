//! iptables: the one place jolt writes outside its own table. A drop
//! policy (or a final drop rule) in iptables' FORWARD chain would drop a
//! network's traffic whatever `inet jolt` says, since every base chain
//! must accept a packet; Docker leaves hosts that way, and may do so after
//! joltd started. So a network inserts three accept rules at the top of
//! iptables' `filter` FORWARD chain, tagged `jolt network <name>`, and
//! deletes exactly those when it is removed. Nothing else of that table is
//! touched.
//!
//! The rules go in through the node's own `iptables-restore` (iptables-nft
//! or iptables-legacy, whichever the node's `iptables` is), with
//! `--noflush`, one transaction per change, and only with matches iptables
//! itself writes: every other iptables user on the node (Docker, podman's
//! CNI plugins, kube-proxy, firewalld's iptables backend) must be able to
//! read the table back. A node without an `iptables` command has no such
//! user, and nothing is written; nor where iptables-nft has no `filter`
//! FORWARD chain yet (writing would make iptables' tables, which are not
//! jolt's to make; a chain made later gets the rules at the first setup
//! after joltd's next start, or when the bridge is made again).
//!
//! Earlier joltd versions wrote these rules as native nftables rules into
//! iptables-nft's table, which iptables-nft cannot decode ("table 'filter'
//! is incompatible, use 'nft' tool"): where iptables finds its table
//! unreadable and the culprits carry jolt's tag, they are deleted through
//! nft first (`heal_iptables_nft`).

use std::io::Write;
use std::process::{Command, Stdio};

use nftables::helper::{self, NftablesError};
use nftables::schema::{NfCmd, NfListObject, Rule};
use nftables::types::NfFamily;
use serde_json::{json, Value};

use super::nft::cmd;
use super::{nft_error, parse_listing, run, Listed};
use crate::network::error::Error;

/// The iptables table and chain the rules go into.
const TABLE: &str = "filter";
const CHAIN: &str = "FORWARD";
/// How long an iptables command waits for the xtables lock, in seconds.
const LOCK_WAIT: &str = "10";

/// The comment of the rules a network adds to iptables' FORWARD chain.
pub fn iptables_tag(network: &str) -> String {
    format!("jolt network {network}")
}

/// The rules that let a network's traffic through iptables' FORWARD
/// chain, in `iptables -S` form without the leading `-A FORWARD`: from
/// the bridge, and to it when established or DNATed. Network and bridge
/// names are checked (letters, digits, `_.-`), so nothing needs quoting
/// but the comment.
pub fn iptables_forward_rules(network: &str, bridge: &str) -> Vec<String> {
    let tag = format!("-m comment --comment \"{}\"", iptables_tag(network));
    vec![
        format!("-i {bridge} {tag} -j ACCEPT"),
        format!("-o {bridge} -m conntrack --ctstate RELATED,ESTABLISHED {tag} -j ACCEPT"),
        format!("-o {bridge} -m conntrack --ctstate DNAT {tag} -j ACCEPT"),
    ]
}

/// The rules of `network` in an `iptables -S FORWARD` listing, as
/// listed (without the leading `-A FORWARD `).
fn tagged(listing: &str, network: &str) -> Vec<String> {
    let tag = format!("--comment \"{}\"", iptables_tag(network));
    listing
        .lines()
        .filter_map(|l| l.strip_prefix("-A FORWARD "))
        .filter(|rule| rule.contains(&format!("{tag} ")) || rule.ends_with(&tag))
        .map(str::to_string)
        .collect()
}

/// The `iptables-restore --noflush` input that deletes `delete` and then
/// inserts `insert` at the top of FORWARD, in order: one transaction.
fn restore_input(delete: &[String], insert: &[String]) -> String {
    let mut text = format!("*{TABLE}\n");
    for rule in delete {
        text.push_str(&format!("-D {CHAIN} {rule}\n"));
    }
    for (i, rule) in insert.iter().enumerate() {
        text.push_str(&format!("-I {CHAIN} {} {rule}\n", i + 1));
    }
    text.push_str("COMMIT\n");
    text
}

/// What running an iptables program gave.
enum Ran {
    /// The program is not installed.
    Missing,
    Done(String),
}

/// Runs `program args`, with `input` on its stdin; its stdout when it
/// succeeds.
fn iptables(program: &str, args: &[&str], input: Option<&str>, what: &str) -> Result<Ran, Error> {
    let fail = |reason: String| Error::Firewall {
        what: what.to_string(),
        reason,
    };
    let mut child = match Command::new(program)
        .args(args)
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(child) => child,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Ran::Missing),
        Err(e) => return Err(fail(format!("running {program}: {e}"))),
    };
    let written = match (input, child.stdin.take()) {
        (Some(text), Some(mut stdin)) => stdin.write_all(text.as_bytes()),
        _ => Ok(()),
    };
    let out = child
        .wait_with_output()
        .map_err(|e| fail(format!("waiting for {program}: {e}")))?;
    if !out.status.success() {
        return Err(fail(format!(
            "{program} {} failed ({}): {}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    written.map_err(|e| fail(format!("writing to {program}: {e}")))?;
    Ok(Ran::Done(String::from_utf8_lossy(&out.stdout).into_owned()))
}

/// `iptables -S FORWARD`; None without iptables, or where iptables-nft
/// has no FORWARD chain (it makes its table on the first write, and
/// jolt does not make tables of others': where there is none, no rule of
/// it drops the network's traffic). A table iptables-nft cannot read
/// because of rules an earlier joltd wrote natively is healed once first.
fn list_forward(network: &str) -> Result<Option<String>, Error> {
    let what = format!("network {network}: listing iptables' FORWARD chain");
    match iptables("iptables", &["-V"], None, &what)? {
        Ran::Missing => return Ok(None),
        Ran::Done(version) if version.contains("nf_tables") && nft_forward()?.is_none() => {
            return Ok(None)
        }
        Ran::Done(_) => {}
    }
    let args = ["-w", LOCK_WAIT, "-t", TABLE, "-S", CHAIN];
    match iptables("iptables", &args, None, &what) {
        Ok(Ran::Missing) => Ok(None),
        Ok(Ran::Done(listing)) => Ok(Some(listing)),
        Err(e) => {
            if !heal_iptables_nft(network)? {
                return Err(e);
            }
            match iptables("iptables", &args, None, &what)? {
                Ran::Missing => Ok(None),
                Ran::Done(listing) => Ok(Some(listing)),
            }
        }
    }
}

/// The rules of iptables-nft's `table ip filter` chain FORWARD as nft
/// lists them; None when there is no such chain (or no nft).
fn nft_forward() -> Result<Option<Vec<Listed>>, Error> {
    let what = "listing nft table ip filter chain FORWARD";
    let json = match helper::get_current_ruleset_raw(
        helper::DEFAULT_NFT,
        ["list", "chain", "ip", TABLE, CHAIN],
    ) {
        Ok(json) => json,
        Err(NftablesError::NftFailed { .. }) => return Ok(None),
        Err(NftablesError::NftExecution { inner, .. })
            if inner.kind() == std::io::ErrorKind::NotFound =>
        {
            return Ok(None)
        }
        Err(e) => return Err(nft_error(what, e)),
    };
    parse_listing(&json)
        .map(Some)
        .map_err(|reason| Error::Firewall {
            what: what.to_string(),
            reason,
        })
}

/// Deletes, through nft, the rules of `network` in iptables-nft's
/// `table ip filter` chain FORWARD; whether there were any.
fn heal_iptables_nft(network: &str) -> Result<bool, Error> {
    let Some(rules) = nft_forward()? else {
        return Ok(false);
    };
    let tag = iptables_tag(network);
    let cmds: Vec<Value> = rules
        .iter()
        .filter(|r| r.comment.as_deref() == Some(tag.as_str()))
        .map(|r| {
            cmd(NfCmd::Delete(NfListObject::Rule(Rule {
                family: NfFamily::IP,
                table: TABLE.into(),
                chain: r.chain.clone().into(),
                handle: Some(r.handle),
                ..Rule::default()
            })))
        })
        .collect();
    if cmds.is_empty() {
        return Ok(false);
    }
    tracing::warn!(
        network,
        rules = cmds.len(),
        "deleting native nft rules an earlier joltd left in iptables' FORWARD chain (iptables could not read its table)"
    );
    run(
        &json!({ "nftables": cmds }),
        &format!("network {network}: deleting its native nft rules from iptables' FORWARD chain"),
    )?;
    Ok(true)
}

/// Puts the network's accept rules at the top of iptables' FORWARD chain
/// (replacing any of its own found elsewhere in the chain), in one
/// transaction; nothing when they are already there, or when the node has
/// no iptables.
pub fn allow_in_iptables_forward(network: &str, bridge: &str) -> Result<(), Error> {
    let Some(listing) = list_forward(network)? else {
        return Ok(());
    };
    let want = iptables_forward_rules(network, bridge);
    let have = tagged(&listing, network);
    let top: Vec<&str> = listing
        .lines()
        .filter_map(|l| l.strip_prefix("-A FORWARD "))
        .take(want.len())
        .collect();
    if top == want.iter().map(String::as_str).collect::<Vec<_>>() && have.len() == want.len() {
        return Ok(());
    }
    let what = format!("network {network}: allowing its traffic in iptables' FORWARD chain");
    iptables(
        "iptables-restore",
        &["-w", LOCK_WAIT, "--noflush"],
        Some(&restore_input(&have, &want)),
        &what,
    )
    .map(|_| ())
}

/// Deletes the rules [`allow_in_iptables_forward`] added for `network`,
/// and nothing else of that chain, in one transaction.
pub fn remove_from_iptables_forward(network: &str) -> Result<(), Error> {
    let Some(listing) = list_forward(network)? else {
        return Ok(());
    };
    let have = tagged(&listing, network);
    if have.is_empty() {
        return Ok(());
    }
    let what = format!("network {network}: deleting its rules from iptables' FORWARD chain");
    iptables(
        "iptables-restore",
        &["-w", LOCK_WAIT, "--noflush"],
        Some(&restore_input(&have, &[])),
        &what,
    )
    .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_are_iptables_own_words_tagged_with_the_network() {
        assert_eq!(
            iptables_forward_rules("jolt0", "br0"),
            [
                "-i br0 -m comment --comment \"jolt network jolt0\" -j ACCEPT",
                "-o br0 -m conntrack --ctstate RELATED,ESTABLISHED -m comment --comment \"jolt network jolt0\" -j ACCEPT",
                "-o br0 -m conntrack --ctstate DNAT -m comment --comment \"jolt network jolt0\" -j ACCEPT",
            ]
        );
    }

    #[test]
    fn only_the_networks_own_rules_are_found() {
        let listing = "-P FORWARD DROP\n\
            -A FORWARD -i br0 -m comment --comment \"jolt network jolt0\" -j ACCEPT\n\
            -A FORWARD -i br1 -m comment --comment \"jolt network jolt01\" -j ACCEPT\n\
            -A FORWARD -o docker0 -j DOCKER\n\
            -A FORWARD -m comment --comment \"not jolt network jolt0 at all\" -j ACCEPT\n\
            -A FORWARD -o br0 -m conntrack --ctstate DNAT -m comment --comment \"jolt network jolt0\" -j ACCEPT\n";
        assert_eq!(
            tagged(listing, "jolt0"),
            [
                "-i br0 -m comment --comment \"jolt network jolt0\" -j ACCEPT",
                "-o br0 -m conntrack --ctstate DNAT -m comment --comment \"jolt network jolt0\" -j ACCEPT",
            ]
        );
        assert!(tagged(listing, "other").is_empty());
    }

    #[test]
    fn one_transaction_deletes_then_inserts_in_order_at_the_top() {
        let rules = iptables_forward_rules("n", "b");
        let text = restore_input(&rules[..1], &rules);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "*filter");
        assert_eq!(lines[1], format!("-D FORWARD {}", rules[0]));
        assert_eq!(lines[2], format!("-I FORWARD 1 {}", rules[0]));
        assert_eq!(lines[4], format!("-I FORWARD 3 {}", rules[2]));
        assert_eq!(lines[5], "COMMIT");
        assert_eq!(lines.len(), 6);
    }
}
