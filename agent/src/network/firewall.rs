//! firewall: jolt's nftables table, `inet jolt`, in the node's network
//! namespace: masquerade for traffic leaving a network's subnet, DNAT for
//! published ports (from other hosts, from the node itself through
//! localhost, and from containers on the bridge: hairpin), and forward
//! rules that let exactly that traffic into the container.
//!
//! Owns the table, its four base chains and the rules it generates. Every
//! rule's comment is the container ID it belongs to, so teardown deletes
//! exactly that container's rules; every change is one `nft -j` batch,
//! so a half-applied rule set never exists. It never touches another
//! table. Rule generation is pure (see the tests); applying drives `nft`
//! through the nftables crate, from whatever namespace the calling thread
//! is in.

use std::borrow::Cow;
use std::collections::HashSet;
use std::net::Ipv4Addr;

use nftables::batch::Batch;
use nftables::expr::{
    BinaryOperation, Expression, Fib, FibFlag, FibResult, Meta, MetaKey, NamedExpression, Payload,
    PayloadField, Prefix, CT,
};
use nftables::helper::{self, NftablesError};
use nftables::schema::{Chain, NfListObject, Nftables, Rule, Table};
use nftables::stmt::{Mangle, Match, NATFamily, Operator, Statement, NAT};
use nftables::types::{NfChainPolicy, NfChainType, NfFamily, NfHook};
use serde::{Deserialize, Serialize};

use super::error::Error;
use super::ipam::Subnet;
use super::ports::PortMapping;

/// jolt's table: `inet jolt`.
pub const TABLE: &str = "jolt";

/// The packet mark that asks postrouting to masquerade a DNATed packet
/// whose source would not get the reply back otherwise: the node itself
/// (127.0.0.0/8) or a container on the same bridge (hairpin).
pub const MASQUERADE_MARK: u32 = 0x2000;

/// The base chains: name, type, hook, priority.
const CHAINS: [(&str, NfChainType, NfHook, i32); 4] = [
    ("prerouting", NfChainType::NAT, NfHook::Prerouting, -100),
    ("output", NfChainType::NAT, NfHook::Output, -100),
    ("postrouting", NfChainType::NAT, NfHook::Postrouting, 100),
    ("forward", NfChainType::Filter, NfHook::Forward, 0),
];

/// What the rules of one container are made from.
#[derive(Debug, Clone)]
pub struct ContainerRules<'a> {
    pub container: &'a str,
    pub bridge: &'a str,
    pub address: Ipv4Addr,
    pub subnet: Subnet,
    pub ports: &'a [PortMapping],
}

fn ip(addr: Ipv4Addr) -> Expression<'static> {
    Expression::String(addr.to_string().into())
}

fn prefix(subnet: Subnet) -> Expression<'static> {
    Expression::Named(NamedExpression::Prefix(Prefix {
        addr: Box::new(ip(subnet.network())),
        len: subnet.prefix().into(),
    }))
}

fn field(protocol: &'static str, name: &'static str) -> Expression<'static> {
    Expression::Named(NamedExpression::Payload(Payload::PayloadField(
        PayloadField {
            protocol: protocol.into(),
            field: name.into(),
        },
    )))
}

fn meta_mark() -> Expression<'static> {
    Expression::Named(NamedExpression::Meta(Meta { key: MetaKey::Mark }))
}

fn ct(key: &'static str) -> Expression<'static> {
    Expression::Named(NamedExpression::CT(CT {
        key: key.into(),
        family: None,
        dir: None,
    }))
}

fn matches(
    left: Expression<'static>,
    op: Operator,
    right: Expression<'static>,
) -> Statement<'static> {
    Statement::Match(Match { left, right, op })
}

fn eq(left: Expression<'static>, right: Expression<'static>) -> Statement<'static> {
    matches(left, Operator::EQ, right)
}

/// `ip daddr H`, or `fib daddr type local` (any of the node's addresses).
fn host_address(port: &PortMapping) -> Statement<'static> {
    match port.host_ip {
        Some(addr) => eq(field("ip", "daddr"), ip(addr)),
        None => eq(
            Expression::Named(NamedExpression::Fib(Fib {
                result: FibResult::Type,
                flags: HashSet::from([FibFlag::Daddr]),
            })),
            Expression::String("local".into()),
        ),
    }
}

fn dport(protocol: &'static str, port: u16) -> Statement<'static> {
    eq(field(protocol, "dport"), Expression::Number(port.into()))
}

fn set_mark() -> Statement<'static> {
    Statement::Mangle(Mangle {
        key: meta_mark(),
        value: Expression::BinaryOperation(Box::new(BinaryOperation::OR(vec![
            meta_mark(),
            Expression::Number(MASQUERADE_MARK),
        ]))),
    })
}

fn dnat(addr: Ipv4Addr, port: u16) -> Statement<'static> {
    Statement::DNAT(Some(NAT {
        addr: Some(ip(addr)),
        family: Some(NATFamily::IP),
        port: Some(Expression::Number(port.into())),
        flags: None,
    }))
}

fn rule(chain: &'static str, comment: &str, expr: Vec<Statement<'static>>) -> Rule<'static> {
    Rule {
        family: NfFamily::INet,
        table: TABLE.into(),
        chain: chain.into(),
        expr: expr.into(),
        handle: None,
        index: None,
        comment: Some(comment.to_string().into()),
    }
}

/// The table and its base chains; adding them again changes nothing.
pub fn table_and_chains() -> Vec<NfListObject<'static>> {
    let mut objects = vec![NfListObject::Table(Table {
        family: NfFamily::INet,
        name: TABLE.into(),
        handle: None,
    })];
    for (name, kind, hook, prio) in CHAINS {
        objects.push(NfListObject::Chain(Chain {
            family: NfFamily::INet,
            table: TABLE.into(),
            name: name.into(),
            _type: Some(kind),
            hook: Some(hook),
            prio: Some(prio),
            policy: Some(NfChainPolicy::Accept),
            ..Chain::default()
        }));
    }
    objects
}

/// Every rule of one container, each commented with its ID.
pub fn container_rules(c: &ContainerRules) -> Vec<Rule<'static>> {
    let id = c.container;
    let saddr = || field("ip", "saddr");
    let daddr = || field("ip", "daddr");
    let mut rules = vec![rule(
        "postrouting",
        id,
        vec![
            eq(saddr(), ip(c.address)),
            matches(daddr(), Operator::NEQ, prefix(c.subnet)),
            Statement::Masquerade(None),
        ],
    )];
    if !c.ports.is_empty() {
        rules.push(rule(
            "postrouting",
            id,
            vec![
                eq(daddr(), ip(c.address)),
                eq(
                    Expression::BinaryOperation(Box::new(BinaryOperation::AND(
                        meta_mark(),
                        Expression::Number(MASQUERADE_MARK),
                    ))),
                    Expression::Number(MASQUERADE_MARK),
                ),
                Statement::Masquerade(None),
            ],
        ));
    }
    for port in c.ports {
        let proto = port.protocol.name();
        // Hairpin: a container on the bridge to a published port.
        rules.push(rule(
            "prerouting",
            id,
            vec![
                eq(saddr(), prefix(c.subnet)),
                host_address(port),
                dport(proto, port.host_port),
                set_mark(),
            ],
        ));
        // The node itself through localhost.
        rules.push(rule(
            "output",
            id,
            vec![
                eq(
                    saddr(),
                    prefix(Subnet::new(Ipv4Addr::new(127, 0, 0, 0), 8).unwrap()),
                ),
                host_address(port),
                dport(proto, port.host_port),
                set_mark(),
            ],
        ));
        for chain in ["prerouting", "output"] {
            rules.push(rule(
                chain,
                id,
                vec![
                    host_address(port),
                    dport(proto, port.host_port),
                    dnat(c.address, port.container_port),
                ],
            ));
        }
    }
    rules.push(rule(
        "forward",
        id,
        vec![
            eq(daddr(), ip(c.address)),
            matches(
                ct("state"),
                Operator::IN,
                Expression::List(vec![
                    Expression::String("established".into()),
                    Expression::String("related".into()),
                ]),
            ),
            Statement::Accept(None),
        ],
    ));
    for port in c.ports {
        rules.push(rule(
            "forward",
            id,
            vec![
                eq(daddr(), ip(c.address)),
                dport(port.protocol.name(), port.container_port),
                matches(
                    ct("status"),
                    Operator::IN,
                    Expression::String("dnat".into()),
                ),
                Statement::Accept(None),
            ],
        ));
    }
    rules.push(rule(
        "forward",
        id,
        vec![eq(saddr(), ip(c.address)), Statement::Accept(None)],
    ));
    // From the bridge: its other containers, bridged (seen here when
    // br_netfilter is loaded), and hairpin traffic.
    rules.push(rule(
        "forward",
        id,
        vec![
            eq(
                Expression::Named(NamedExpression::Meta(Meta {
                    key: MetaKey::Iifname,
                })),
                Expression::String(c.bridge.to_string().into()),
            ),
            eq(daddr(), ip(c.address)),
            Statement::Accept(None),
        ],
    ));
    // Nothing else is forwarded to the container: only published ports
    // reach it from outside its bridge.
    rules.push(rule(
        "forward",
        id,
        vec![eq(daddr(), ip(c.address)), Statement::Drop(None)],
    ));
    rules
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

fn delete(listed: &Listed) -> NfListObject<'static> {
    NfListObject::Rule(Rule {
        family: NfFamily::INet,
        table: TABLE.into(),
        chain: Cow::Owned(listed.chain.clone()),
        handle: Some(listed.handle),
        ..Rule::default()
    })
}

/// One batch that makes sure the table and chains exist, deletes
/// `stale` (the container's rules as they are now) and adds `rules`.
pub fn replace_batch(stale: &[Listed], rules: Vec<Rule<'static>>) -> Nftables<'static> {
    let mut batch = Batch::new();
    for object in table_and_chains() {
        batch.add(object);
    }
    for old in stale {
        batch.delete(delete(old));
    }
    for rule in rules {
        batch.add(NfListObject::Rule(rule));
    }
    batch.to_nftables()
}

/// The rules of the table commented `container`.
pub fn rules_of<'a>(listing: &'a [Listed], container: &str) -> Vec<&'a Listed> {
    listing
        .iter()
        .filter(|l| l.comment.as_deref() == Some(container))
        .collect()
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

/// The rules of `inet jolt` now; none when the table does not exist.
pub fn list() -> Result<Vec<Listed>, Error> {
    let what = "listing nftables table inet jolt";
    match helper::get_current_ruleset_raw(helper::DEFAULT_NFT, ["list", "table", "inet", TABLE]) {
        Ok(json) => parse_listing(&json).map_err(|reason| Error::Firewall {
            what: what.to_string(),
            reason,
        }),
        Err(NftablesError::NftFailed { stderr, .. })
            if stderr.contains("No such file or directory") =>
        {
            Ok(Vec::new())
        }
        Err(e) => Err(nft_error(what, e)),
    }
}

/// Which instance of the table rules were added to: a handle means
/// something only in the table that gave it, and a table deleted and made
/// again (`nft flush ruleset`, a reboot, another namespace) gives the same
/// numbers to other rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableId {
    /// /proc/sys/kernel/random/boot_id.
    pub boot: String,
    /// The node namespace's cookie (SO_NETNS_COOKIE): never reused within
    /// a boot.
    pub netns_cookie: u64,
    /// The table's handle in that namespace.
    pub handle: u32,
}

/// A container's rules as `nft --echo --handle` reported them, kept with
/// its lease so that teardown deletes them without listing the table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstalledRules {
    pub table: TableId,
    /// (chain, handle) of each rule.
    pub rules: Vec<(String, u32)>,
}

/// SO_NETNS_COOKIE (asm-generic; not in the libc crate yet).
const SO_NETNS_COOKIE: libc::c_int = 71;

/// The cookie of the calling thread's network namespace.
fn netns_cookie() -> Result<u64, Error> {
    let what = || "reading the network namespace cookie (SO_NETNS_COOKIE, Linux 5.14+)";
    // SAFETY: a plain socket, closed below; getsockopt writes at most
    // `len` bytes into `cookie`.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0);
        if fd < 0 {
            return Err(Error::io(what())(std::io::Error::last_os_error()));
        }
        let mut cookie: u64 = 0;
        let mut len = std::mem::size_of::<u64>() as libc::socklen_t;
        let rc = libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            SO_NETNS_COOKIE,
            (&mut cookie as *mut u64).cast(),
            &mut len,
        );
        let err = std::io::Error::last_os_error();
        libc::close(fd);
        if rc < 0 {
            return Err(Error::io(what())(err));
        }
        Ok(cookie)
    }
}

/// The handle of `inet jolt` in `nft -j list tables` output.
pub fn parse_table_handle(json: &str) -> Option<u32> {
    let value: serde_json::Value = serde_json::from_str(json).ok()?;
    value["nftables"]
        .as_array()?
        .iter()
        .filter_map(|o| o.get("table"))
        .find(|t| t["family"] == "inet" && t["name"] == TABLE)
        .and_then(|t| t["handle"].as_u64()?.try_into().ok())
}

/// The table instance in the calling thread's namespace; None without
/// the table.
fn current_table() -> Result<Option<TableId>, Error> {
    let json = helper::get_current_ruleset_raw(helper::DEFAULT_NFT, ["list", "tables"])
        .map_err(|e| nft_error("listing nftables tables", e))?;
    let Some(handle) = parse_table_handle(&json) else {
        return Ok(None);
    };
    let boot = std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .map_err(Error::io("reading /proc/sys/kernel/random/boot_id"))?;
    Ok(Some(TableId {
        boot: boot.trim().to_string(),
        netns_cookie: netns_cookie()?,
        handle,
    }))
}

/// The rules of `container` in `nft --echo --handle` output.
pub fn parse_echo(json: &str, container: &str) -> Vec<(String, u32)> {
    let Ok(value) = serde_json::from_str::<serde_json::Value>(json) else {
        return Vec::new();
    };
    value["nftables"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|o| o["add"].get("rule"))
        .filter(|r| r["comment"] == container)
        .filter_map(|r| {
            Some((
                r["chain"].as_str()?.to_string(),
                r["handle"].as_u64()?.try_into().ok()?,
            ))
        })
        .collect()
}

/// Replaces the rules of `c.container` with a fresh set, atomically, and
/// returns where they are.
///
/// `fresh` says the container has no rules yet (its lease is new: rules
/// are added after the lease and the lease is released after its rules
/// are gone), which spares listing the table: setup then costs the same
/// however many containers the table holds.
pub fn apply(c: &ContainerRules, fresh: bool) -> Result<InstalledRules, Error> {
    let stale: Vec<Listed> = if fresh {
        Vec::new()
    } else {
        let listing = list()?;
        rules_of(&listing, c.container)
            .into_iter()
            .cloned()
            .collect()
    };
    let batch = replace_batch(&stale, container_rules(c));
    let what = format!("container {}: adding firewall rules", c.container);
    let payload = serde_json::to_string(&batch).expect("a batch serializes");
    let echo = helper::apply_ruleset_raw(&payload, helper::DEFAULT_NFT, ["--echo", "--handle"])
        .map_err(|e| nft_error(&what, e))?;
    let table = current_table()?.ok_or_else(|| Error::Firewall {
        what: what.clone(),
        reason: "table inet jolt vanished right after the rules were added".into(),
    })?;
    Ok(InstalledRules {
        table,
        rules: parse_echo(&echo, c.container),
    })
}

/// Deletes every rule of `container`, atomically; none is not an error.
/// With `installed` from the same table instance, by those handles alone
/// (no listing: teardown costs the same however many containers the
/// table holds); otherwise, or if that fails, the rules commented with the
/// container ID in a listing of the table.
pub fn remove(container: &str, installed: Option<&InstalledRules>) -> Result<(), Error> {
    let what = format!("container {container}: deleting firewall rules");
    if let Some(installed) = installed {
        if current_table()?.as_ref() == Some(&installed.table) {
            let mut batch = Batch::new();
            for (chain, handle) in &installed.rules {
                batch.delete(delete(&Listed {
                    chain: chain.clone(),
                    handle: *handle,
                    comment: None,
                }));
            }
            if installed.rules.is_empty() || helper::apply_ruleset(&batch.to_nftables()).is_ok() {
                return Ok(());
            }
        }
    }
    let listing = list()?;
    let stale = rules_of(&listing, container);
    if stale.is_empty() {
        return Ok(());
    }
    let mut batch = Batch::new();
    for old in stale {
        batch.delete(delete(old));
    }
    helper::apply_ruleset(&batch.to_nftables()).map_err(|e| nft_error(&what, e))
}

/// Deletes the table when it holds no rule at all (after the last
/// network is removed).
pub fn remove_table_if_unused() -> Result<(), Error> {
    let listing = list()?;
    if !listing.is_empty() {
        return Ok(());
    }
    let mut batch = Batch::new();
    batch.add(NfListObject::Table(Table {
        family: NfFamily::INet,
        name: TABLE.into(),
        handle: None,
    }));
    batch.delete(NfListObject::Table(Table {
        family: NfFamily::INet,
        name: TABLE.into(),
        handle: None,
    }));
    helper::apply_ruleset(&batch.to_nftables())
        .map_err(|e| nft_error("deleting nftables table inet jolt", e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn rules_json(ports: &[PortMapping]) -> Vec<Value> {
        let c = ContainerRules {
            container: "web",
            bridge: "jolt0",
            address: "10.88.0.2".parse().unwrap(),
            subnet: "10.88.0.0/16".parse().unwrap(),
            ports,
        };
        container_rules(&c)
            .into_iter()
            .map(|r| serde_json::to_value(r).unwrap())
            .collect()
    }

    fn in_chain<'a>(rules: &'a [Value], chain: &str) -> Vec<&'a Value> {
        rules.iter().filter(|r| r["chain"] == chain).collect()
    }

    #[test]
    fn every_rule_is_in_jolts_table_and_tagged_with_the_container() {
        let rules = rules_json(&[PortMapping::tcp(8080, 80), PortMapping::udp(5353, 53)]);
        assert!(!rules.is_empty());
        for r in &rules {
            assert_eq!(r["family"], "inet");
            assert_eq!(r["table"], "jolt");
            assert_eq!(r["comment"], "web", "{r}");
        }
    }

    #[test]
    fn without_ports_only_masquerade_and_forwarding() {
        let rules = rules_json(&[]);
        let post = in_chain(&rules, "postrouting");
        assert_eq!(post.len(), 1);
        assert_eq!(
            post[0]["expr"],
            json!([
                {"match": {"left": {"payload": {"protocol": "ip", "field": "saddr"}},
                           "right": "10.88.0.2", "op": "=="}},
                {"match": {"left": {"payload": {"protocol": "ip", "field": "daddr"}},
                           "right": {"prefix": {"addr": "10.88.0.0", "len": 16}}, "op": "!="}},
                {"masquerade": null}
            ])
        );
        assert!(in_chain(&rules, "prerouting").is_empty());
        assert!(in_chain(&rules, "output").is_empty());
        let fwd = in_chain(&rules, "forward");
        assert_eq!(
            fwd.len(),
            4,
            "established, outgoing, from the bridge, drop the rest"
        );
        assert_eq!(
            fwd[2]["expr"][0],
            json!({"match": {"left": {"meta": {"key": "iifname"}}, "right": "jolt0", "op": "=="}})
        );
        assert_eq!(fwd.last().unwrap()["expr"][1], json!({"drop": null}));
    }

    #[test]
    fn a_published_port_is_dnated_from_outside_localhost_and_the_bridge() {
        let rules = rules_json(&[PortMapping::tcp(8080, 80)]);
        let dnat = json!({"dnat": {"addr": "10.88.0.2", "family": "ip", "port": 80}});
        let local = json!({"match": {"left": {"fib": {"result": "type", "flags": ["daddr"]}},
                                     "right": "local", "op": "=="}});
        let dport = json!({"match": {"left": {"payload": {"protocol": "tcp", "field": "dport"}},
                                     "right": 8080, "op": "=="}});
        for chain in ["prerouting", "output"] {
            let rules = in_chain(&rules, chain);
            assert_eq!(rules.len(), 2, "{chain}: mark, then DNAT");
            assert_eq!(rules[1]["expr"], json!([local, dport, dnat]), "{chain}");
            let mark = &rules[0]["expr"];
            assert_eq!(mark[3]["mangle"]["value"]["|"][1], json!(MASQUERADE_MARK));
        }
        let pre = in_chain(&rules, "prerouting");
        assert_eq!(
            pre[0]["expr"][0]["match"]["right"]["prefix"]["addr"],
            "10.88.0.0"
        );
        let out = in_chain(&rules, "output");
        assert_eq!(
            out[0]["expr"][0]["match"]["right"]["prefix"]["addr"],
            "127.0.0.0"
        );
        let post = in_chain(&rules, "postrouting");
        assert_eq!(post.len(), 2, "masquerade out, masquerade marked");
        assert_eq!(post[1]["expr"][1]["match"]["right"], json!(MASQUERADE_MARK));
        let fwd = in_chain(&rules, "forward");
        assert!(
            fwd.iter().any(
                |r| r["expr"][1]["match"]["left"]["payload"]["field"] == "dport"
                    && r["expr"][1]["match"]["right"] == 80
                    && r["expr"][3] == json!({"accept": null})
            ),
            "forward accepts the container port: {fwd:?}"
        );
    }

    #[test]
    fn a_host_address_replaces_the_local_match() {
        let port: PortMapping = "127.0.0.1:8080:80/udp".parse().unwrap();
        let rules = rules_json(&[port]);
        let pre = in_chain(&rules, "prerouting");
        assert_eq!(
            pre[1]["expr"][0],
            json!({"match": {"left": {"payload": {"protocol": "ip", "field": "daddr"}},
                             "right": "127.0.0.1", "op": "=="}})
        );
        assert_eq!(
            pre[1]["expr"][1]["match"]["left"]["payload"]["protocol"],
            "udp"
        );
    }

    #[test]
    fn handles_come_from_the_echo_and_the_table_list() {
        let echo = r#"{"nftables": [{"add": {"table": {"family": "inet", "name": "jolt"}}},
            {"add": {"rule": {"family": "inet", "table": "jolt", "chain": "forward", "comment": "web", "expr": [], "handle": 12}}},
            {"add": {"rule": {"family": "inet", "table": "jolt", "chain": "output", "comment": "web", "expr": [], "handle": 13}}}]}"#;
        assert_eq!(
            parse_echo(echo, "web"),
            vec![("forward".to_string(), 12), ("output".to_string(), 13)]
        );
        assert!(parse_echo(echo, "other").is_empty());
        let tables = r#"{"nftables": [{"metainfo": {}},
            {"table": {"family": "ip", "name": "jolt", "handle": 3}},
            {"table": {"family": "inet", "name": "jolt", "handle": 7}}]}"#;
        assert_eq!(parse_table_handle(tables), Some(7));
        assert_eq!(parse_table_handle(r#"{"nftables": []}"#), None);
    }

    #[test]
    fn replacing_deletes_exactly_the_stale_handles_in_one_batch() {
        let listing = parse_listing(
            r#"{"nftables": [{"metainfo": {"version": "1.0.6"}},
                {"table": {"family": "inet", "name": "jolt", "handle": 1}},
                {"rule": {"family": "inet", "table": "jolt", "chain": "forward", "handle": 7, "comment": "web", "expr": []}},
                {"rule": {"family": "inet", "table": "jolt", "chain": "forward", "handle": 8, "comment": "web2", "expr": []}},
                {"rule": {"family": "inet", "table": "jolt", "chain": "output", "handle": 9, "expr": []}}]}"#,
        )
        .unwrap();
        assert_eq!(listing.len(), 3);
        let stale: Vec<Listed> = rules_of(&listing, "web").into_iter().cloned().collect();
        assert_eq!(stale.len(), 1);
        assert_eq!(stale[0].handle, 7);
        let batch = serde_json::to_value(replace_batch(&stale, Vec::new())).unwrap();
        let cmds = batch["nftables"].as_array().unwrap();
        assert_eq!(cmds[0]["add"]["table"]["name"], "jolt");
        assert_eq!(cmds.len(), 1 + CHAINS.len() + 1);
        let del = &cmds.last().unwrap()["delete"]["rule"];
        assert_eq!(
            (del["chain"].as_str(), del["handle"].as_u64()),
            (Some("forward"), Some(7))
        );
    }
}
