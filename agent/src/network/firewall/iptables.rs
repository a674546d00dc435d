//! iptables: the one place jolt writes outside its own table. A drop
//! policy (or a final drop rule) in iptables' FORWARD chain would drop a
//! network's traffic whatever `inet jolt` says, since every base chain
//! must accept a packet; Docker leaves hosts that way. Where iptables-nft's
//! `table ip filter` chain `FORWARD` exists, a network inserts three accept
//! rules at its top, tagged `jolt network <name>`, and deletes exactly
//! those when it is removed. Nothing else of that table is touched.

use nftables::expr::{Expression, Meta, MetaKey, NamedExpression};
use nftables::helper::{self, NftablesError};
use nftables::schema::{NfCmd, NfListObject, Rule};
use nftables::stmt::{Operator, Statement};
use nftables::types::NfFamily;
use serde_json::{json, Value};

use super::nft::{cmd, ct, eq, matches};
use super::{nft_error, parse_listing, run, Listed};
use crate::network::error::Error;

/// iptables' filter table and FORWARD chain, as iptables-nft makes them.
const IPTABLES_TABLE: &str = "filter";
const IPTABLES_FORWARD: &str = "FORWARD";

/// The comment of the rules a network adds to iptables' FORWARD chain.
pub fn iptables_tag(network: &str) -> String {
    format!("jolt network {network}")
}

/// The rules that let a network's traffic through iptables' FORWARD
/// chain: from the bridge, and to it when established or DNATed.
pub fn iptables_forward_rules(network: &str, bridge: &str) -> Vec<Rule<'static>> {
    let tag = iptables_tag(network);
    let iface = |key| Expression::Named(NamedExpression::Meta(Meta { key }));
    let bridge = || Expression::String(bridge.to_string().into());
    let accept = |expr: Vec<Statement<'static>>| Rule {
        family: NfFamily::IP,
        table: IPTABLES_TABLE.into(),
        chain: IPTABLES_FORWARD.into(),
        expr: expr.into(),
        handle: None,
        index: None,
        comment: Some(tag.clone().into()),
    };
    vec![
        accept(vec![
            eq(iface(MetaKey::Iifname), bridge()),
            Statement::Accept(None),
        ]),
        accept(vec![
            eq(iface(MetaKey::Oifname), bridge()),
            matches(
                ct("state"),
                Operator::IN,
                Expression::List(vec![
                    Expression::String("established".into()),
                    Expression::String("related".into()),
                ]),
            ),
            Statement::Accept(None),
        ]),
        accept(vec![
            eq(iface(MetaKey::Oifname), bridge()),
            matches(
                ct("status"),
                Operator::IN,
                Expression::String("dnat".into()),
            ),
            Statement::Accept(None),
        ]),
    ]
}

/// The rules of iptables' FORWARD chain (`table ip filter`, as
/// iptables-nft makes it); None when there is no such chain.
fn iptables_forward() -> Result<Option<Vec<Listed>>, Error> {
    let what = "listing iptables' FORWARD chain (nft table ip filter)";
    match helper::get_current_ruleset_raw(
        helper::DEFAULT_NFT,
        ["list", "chain", "ip", IPTABLES_TABLE, IPTABLES_FORWARD],
    ) {
        Ok(json) => parse_listing(&json)
            .map(Some)
            .map_err(|reason| Error::Firewall {
                what: what.to_string(),
                reason,
            }),
        Err(NftablesError::NftFailed { stderr, .. })
            if stderr.contains("No such file or directory") =>
        {
            Ok(None)
        }
        Err(e) => Err(nft_error(what, e)),
    }
}

/// A drop policy (or a final drop rule) in iptables' FORWARD chain would
/// drop the network's traffic whatever jolt's own table says, since every
/// base chain must accept a packet. Where that chain exists, inserts at
/// its top the network's accept rules (tagged with the network's name;
/// once); elsewhere does nothing. Called before the bridge is made.
pub fn allow_in_iptables_forward(network: &str, bridge: &str) -> Result<(), Error> {
    let Some(rules) = iptables_forward()? else {
        return Ok(());
    };
    let tag = iptables_tag(network);
    if rules
        .iter()
        .any(|r| r.comment.as_deref() == Some(tag.as_str()))
    {
        return Ok(());
    }
    // Each insert goes to the top: insert the last first.
    let cmds: Vec<Value> = iptables_forward_rules(network, bridge)
        .into_iter()
        .rev()
        .map(|r| cmd(NfCmd::Insert(NfListObject::Rule(r))))
        .collect();
    run(
        &json!({ "nftables": cmds }),
        &format!("network {network}: allowing its traffic in iptables' FORWARD chain"),
    )
}

/// Deletes the rules [`allow_in_iptables_forward`] added for `network`,
/// and nothing else of that chain.
pub fn remove_from_iptables_forward(network: &str) -> Result<(), Error> {
    let Some(rules) = iptables_forward()? else {
        return Ok(());
    };
    let tag = iptables_tag(network);
    let cmds: Vec<Value> = rules
        .iter()
        .filter(|r| r.comment.as_deref() == Some(tag.as_str()))
        .map(|r| {
            cmd(NfCmd::Delete(NfListObject::Rule(Rule {
                family: NfFamily::IP,
                table: IPTABLES_TABLE.into(),
                chain: r.chain.clone().into(),
                handle: Some(r.handle),
                ..Rule::default()
            })))
        })
        .collect();
    if cmds.is_empty() {
        return Ok(());
    }
    run(
        &json!({ "nftables": cmds }),
        &format!("network {network}: deleting its rules from iptables' FORWARD chain"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iptables_forward_accepts_only_the_bridges_traffic_tagged() {
        let rules: Vec<Value> = iptables_forward_rules("jolt0", "jolt0")
            .into_iter()
            .map(|r| serde_json::to_value(r).unwrap())
            .collect();
        assert_eq!(rules.len(), 3);
        for r in &rules {
            assert_eq!(
                (&r["family"], &r["table"], &r["chain"]),
                (&json!("ip"), &json!("filter"), &json!("FORWARD"))
            );
            assert_eq!(r["comment"], "jolt network jolt0");
            assert_eq!(r["expr"][0]["match"]["right"], "jolt0");
            assert_eq!(
                r["expr"].as_array().unwrap().last().unwrap(),
                &json!({"accept": null})
            );
        }
        assert_eq!(
            rules[0]["expr"][0]["match"]["left"],
            json!({"meta": {"key": "iifname"}})
        );
        assert_eq!(rules[2]["expr"][1]["match"]["right"], "dnat");
    }
}
