//! rules: the layout of `inet jolt` and the batches that change it.
//! The base chains hold a few fixed rules that look the packet up in
//! verdict maps (published port -> the port's chain, container address ->
//! the container's chains); everything of one container is in chains named
//! after it (`<id>.in`, `<id>.out`, `<id>.port<N>`, each rule commented with
//! the container ID) and in map elements keyed by its address and ports.
//! So adding or removing a container is one batch that names what it
//! changes, without listing the table, and costs the same however many
//! containers there are. Pure: nothing here runs nft. When the table and
//! the leases disagree (joltd's state was lost), the owners of what is in
//! the table are read back from a listing, by those chain names.

use std::collections::{BTreeMap, HashSet};
use std::net::Ipv4Addr;

use nftables::expr::{
    BinaryOperation, Expression, Fib, FibFlag, FibResult, Meta, MetaKey, NamedExpression, Verdict,
};
use nftables::schema::{Chain, Element, FlushObject, NfCmd, NfListObject, Rule};
use nftables::stmt::{JumpTarget, Operator, Statement};
use nftables::types::{NfChainPolicy, NfChainType, NfFamily, NfHook};
use serde_json::{json, Value};

use super::nft::{
    chain, cmd, concat, ct, dnat, dport, eq, field, ip, l4proto_is, matches, meta_mark, prefix,
    proto_and_port, rule, set_mark, table, vmap,
};
use super::{ContainerRules, MASQUERADE_MARK, TABLE};
use crate::network::ipam::Subnet;
use crate::network::ports::PortMapping;

/// The base chains: name, type, hook, priority.
const CHAINS: [(&str, NfChainType, NfHook, i32); 4] = [
    ("prerouting", NfChainType::NAT, NfHook::Prerouting, -100),
    ("output", NfChainType::NAT, NfHook::Output, -100),
    ("postrouting", NfChainType::NAT, NfHook::Postrouting, 100),
    ("forward", NfChainType::Filter, NfHook::Forward, 0),
];

/// Published ports on every node address: protocol . port -> port chain.
const PUBLISHED: &str = "published";
/// Published ports on one address: address . protocol . port -> chain.
const PUBLISHED_IP: &str = "published_ip";
/// Container address (as source) -> its `.out` chain (masquerade).
const FROM_CONTAINER: &str = "from_container";
/// Container address (as destination) -> its `.in` chain (forward).
const TO_CONTAINER: &str = "to_container";

/// The verdict maps and their key types (the nftables crate has no type
/// for verdict maps, so their declarations are written as JSON).
const MAPS: [(&str, &[&str]); 4] = [
    (PUBLISHED, &["inet_proto", "inet_service"]),
    (PUBLISHED_IP, &["ipv4_addr", "inet_proto", "inet_service"]),
    (FROM_CONTAINER, &["ipv4_addr"]),
    (TO_CONTAINER, &["ipv4_addr"]),
];

/// The table, its verdict maps and base chains, and the base chains'
/// fixed rules: every batch starts with these. The adds change nothing
/// when the objects exist; each base chain is flushed and refilled with
/// the same rules in the same transaction, so they exist exactly once.
pub fn base() -> Vec<Value> {
    let mut out = vec![cmd(NfCmd::Add(NfListObject::Table(table())))];
    for (name, key) in MAPS {
        let key = if key.len() == 1 {
            json!(key[0])
        } else {
            json!(key)
        };
        out.push(json!({"add": {"map": {
            "family": "inet", "table": TABLE, "name": name, "type": key, "map": "verdict"
        }}}));
    }
    for (name, kind, hook, prio) in CHAINS {
        out.push(cmd(NfCmd::Add(NfListObject::Chain(Chain {
            _type: Some(kind),
            hook: Some(hook),
            prio: Some(prio),
            policy: Some(NfChainPolicy::Accept),
            ..chain(name)
        }))));
        out.push(cmd(NfCmd::Flush(FlushObject::Chain(chain(name)))));
    }
    let local = eq(
        Expression::Named(NamedExpression::Fib(Fib {
            result: FibResult::Type,
            flags: HashSet::from([FibFlag::Daddr]),
        })),
        Expression::String("local".into()),
    );
    let mut fixed = Vec::new();
    for base in ["prerouting", "output"] {
        fixed.push(rule(
            base,
            None,
            vec![local.clone(), vmap(concat(proto_and_port()), PUBLISHED)],
        ));
        let mut key = vec![field("ip", "daddr")];
        key.extend(proto_and_port());
        fixed.push(rule(base, None, vec![vmap(concat(key), PUBLISHED_IP)]));
    }
    fixed.push(rule(
        "postrouting",
        None,
        vec![
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
    fixed.push(rule(
        "postrouting",
        None,
        vec![vmap(field("ip", "saddr"), FROM_CONTAINER)],
    ));
    fixed.push(rule(
        "forward",
        None,
        vec![vmap(field("ip", "daddr"), TO_CONTAINER)],
    ));
    out.extend(
        fixed
            .into_iter()
            .map(|r| cmd(NfCmd::Add(NfListObject::Rule(r)))),
    );
    out
}

/// The names of a container's chains: `.out`, `.in`, and one per
/// published port (by its position in the container's list).
pub fn chain_names(container: &str, ports: usize) -> Vec<String> {
    let mut names = vec![format!("{container}.out"), format!("{container}.in")];
    names.extend((0..ports).map(|i| format!("{container}.port{i}")));
    names
}

/// A map element: `key : jump target`.
fn element(map: &str, key: Expression<'static>, target: &str) -> Element<'static> {
    Element {
        family: NfFamily::INet,
        table: TABLE.into(),
        name: map.to_string().into(),
        elem: vec![Expression::List(vec![
            key,
            Expression::Verdict(Verdict::Jump(JumpTarget {
                target: target.to_string().into(),
            })),
        ])]
        .into(),
    }
}

/// The map elements of a container: (map, key, target chain).
fn elements(container: &str, address: Ipv4Addr, ports: &[PortMapping]) -> Vec<Element<'static>> {
    let names = chain_names(container, ports.len());
    let mut out = vec![
        element(FROM_CONTAINER, ip(address), &names[0]),
        element(TO_CONTAINER, ip(address), &names[1]),
    ];
    for (port, target) in ports.iter().zip(&names[2..]) {
        let proto = Expression::String(port.protocol.name().into());
        let number = Expression::Number(port.host_port.into());
        out.push(match port.host_ip {
            None => element(PUBLISHED, concat(vec![proto, number]), target),
            Some(host) => element(PUBLISHED_IP, concat(vec![ip(host), proto, number]), target),
        });
    }
    out
}

/// The rules of each of a container's chains, each commented with its ID.
pub fn container_chains(c: &ContainerRules) -> Vec<(String, Vec<Rule<'static>>)> {
    let id = Some(c.container);
    let names = chain_names(c.container, c.ports.len());
    let out = vec![rule(
        &names[0],
        id,
        vec![
            matches(field("ip", "daddr"), Operator::NEQ, prefix(c.subnet)),
            Statement::Masquerade(None),
        ],
    )];
    let mut inbound = vec![rule(
        &names[1],
        id,
        vec![
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
    )];
    for port in c.ports {
        inbound.push(rule(
            &names[1],
            id,
            vec![
                l4proto_is(port.protocol.name()),
                dport("th", port.container_port),
                matches(
                    ct("status"),
                    Operator::IN,
                    Expression::String("dnat".into()),
                ),
                Statement::Accept(None),
            ],
        ));
    }
    // From the bridge: its other containers, bridged (seen here when
    // br_netfilter is loaded), and hairpin traffic.
    inbound.push(rule(
        &names[1],
        id,
        vec![
            eq(
                Expression::Named(NamedExpression::Meta(Meta {
                    key: MetaKey::Iifname,
                })),
                Expression::String(c.bridge.to_string().into()),
            ),
            Statement::Accept(None),
        ],
    ));
    // Nothing else is forwarded to the container: only published ports
    // reach it from outside its bridge.
    inbound.push(rule(&names[1], id, vec![Statement::Drop(None)]));
    let mut chains = vec![(names[0].clone(), out), (names[1].clone(), inbound)];
    let loopback = Subnet::new(Ipv4Addr::new(127, 0, 0, 0), 8).expect("127.0.0.0/8");
    for (port, name) in c.ports.iter().zip(&names[2..]) {
        let proto = port.protocol.name();
        chains.push((
            name.clone(),
            vec![
                // Hairpin (a container on the bridge) and localhost: the
                // reply must come back through the node, so masquerade.
                rule(
                    name,
                    id,
                    vec![eq(field("ip", "saddr"), prefix(c.subnet)), set_mark()],
                ),
                rule(
                    name,
                    id,
                    vec![eq(field("ip", "saddr"), prefix(loopback)), set_mark()],
                ),
                rule(
                    name,
                    id,
                    vec![l4proto_is(proto), dnat(c.address, port.container_port)],
                ),
            ],
        ));
    }
    chains
}

/// The commands that remove a container's chains and elements, and do
/// nothing when they are not there: each object is added first (a no-op
/// if it exists), then deleted.
pub fn removal(container: &str, address: Ipv4Addr, ports: &[PortMapping]) -> Vec<Value> {
    let names = chain_names(container, ports.len());
    let elements = elements(container, address, ports);
    let mut out: Vec<Value> = names
        .iter()
        .map(|n| cmd(NfCmd::Add(NfListObject::Chain(chain(n)))))
        .collect();
    for e in &elements {
        out.push(cmd(NfCmd::Add(NfListObject::Element(e.clone()))));
    }
    for e in elements {
        let key = match &e.elem[0] {
            Expression::List(pair) => pair[0].clone(),
            other => other.clone(),
        };
        out.push(cmd(NfCmd::Delete(NfListObject::Element(Element {
            elem: vec![key].into(),
            ..e
        }))));
    }
    for n in &names {
        out.push(cmd(NfCmd::Flush(FlushObject::Chain(chain(n)))));
        out.push(cmd(NfCmd::Delete(NfListObject::Chain(chain(n)))));
    }
    out
}

/// The batch that sets up a container: the base, the removal of what it
/// had (unless `fresh`: nothing of it exists yet), its chains and rules,
/// then its map elements (which jump to those chains).
pub fn setup_batch(c: &ContainerRules, fresh: bool) -> Value {
    let mut out = base();
    if !fresh {
        out.extend(removal(c.container, c.address, c.ports));
    }
    for (name, rules) in container_chains(c) {
        out.push(cmd(NfCmd::Add(NfListObject::Chain(chain(&name)))));
        out.extend(
            rules
                .into_iter()
                .map(|r| cmd(NfCmd::Add(NfListObject::Rule(r)))),
        );
    }
    for e in elements(c.container, c.address, c.ports) {
        out.push(cmd(NfCmd::Add(NfListObject::Element(e))));
    }
    json!({ "nftables": out })
}

/// The batch that removes a container's rules, and nothing else.
pub fn teardown_batch(container: &str, address: Ipv4Addr, ports: &[PortMapping]) -> Value {
    let mut out = base();
    out.extend(removal(container, address, ports));
    json!({ "nftables": out })
}

/// What one container has in the table, as a listing shows it: found by
/// the names of its chains, not from a lease.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Owned {
    pub chains: Vec<String>,
    /// Each map element that jumps to one of its chains: (map, key).
    pub elements: Vec<(String, Value)>,
    /// Its address, from the elements keyed by it.
    pub address: Option<Ipv4Addr>,
    /// Its published ports, from the elements keyed by them and the DNAT
    /// of their chains, in the order of those chains.
    pub ports: Vec<PortMapping>,
}

/// The container a chain of `inet jolt` belongs to: `ID` of `ID.out`,
/// `ID.in` and `ID.portN`; None for the base chains.
pub fn owner_of_chain(chain: &str) -> Option<&str> {
    let (id, kind) = chain.rsplit_once('.')?;
    let port = kind
        .strip_prefix("port")
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
    (!id.is_empty() && (kind == "out" || kind == "in" || port)).then_some(id)
}

/// Every container that has something in the table, from `nft -j list
/// table inet jolt` output.
pub fn owners(listing: &Value) -> BTreeMap<String, Owned> {
    let mut out: BTreeMap<String, Owned> = BTreeMap::new();
    let objects = listing["nftables"].as_array().cloned().unwrap_or_default();
    for o in &objects {
        if let Some(name) = o["chain"]["name"].as_str() {
            if let Some(id) = owner_of_chain(name) {
                out.entry(id.to_string())
                    .or_default()
                    .chains
                    .push(name.to_string());
            }
        }
    }
    // The DNAT target port of each port chain.
    let mut dnat_port = BTreeMap::new();
    for o in &objects {
        let rule = &o["rule"];
        let Some(chain) = rule["chain"].as_str() else {
            continue;
        };
        for e in rule["expr"].as_array().into_iter().flatten() {
            if let Some(port) = e["dnat"]["port"]
                .as_u64()
                .and_then(|p| u16::try_from(p).ok())
            {
                dnat_port.insert(chain.to_string(), port);
            }
        }
    }
    let mut ports: BTreeMap<String, BTreeMap<u32, PortMapping>> = BTreeMap::new();
    for o in &objects {
        let map = &o["map"];
        let Some(name) = map["name"].as_str() else {
            continue;
        };
        for elem in map["elem"].as_array().into_iter().flatten() {
            let (key, target) = (&elem[0], elem[1]["jump"]["target"].as_str());
            let Some((target, id)) = target.and_then(|t| Some((t, owner_of_chain(t)?))) else {
                continue;
            };
            let owned = out.entry(id.to_string()).or_default();
            owned.elements.push((name.to_string(), key.clone()));
            match name {
                FROM_CONTAINER | TO_CONTAINER => {
                    owned.address = key.as_str().and_then(|a| a.parse().ok());
                }
                PUBLISHED | PUBLISHED_IP => {
                    let parts = key["concat"].as_array().cloned().unwrap_or_default();
                    let (host_ip, rest) = match parts.len() {
                        3 => (parts[0].as_str().and_then(|a| a.parse().ok()), &parts[1..]),
                        _ => (None, &parts[..]),
                    };
                    let protocol = rest.first().and_then(|p| p.as_str()?.parse().ok());
                    let host_port = rest.get(1).and_then(|p| u16::try_from(p.as_u64()?).ok());
                    let index = target
                        .rsplit_once(".port")
                        .and_then(|(_, n)| n.parse::<u32>().ok());
                    if let (Some(protocol), Some(host_port), Some(index)) =
                        (protocol, host_port, index)
                    {
                        let container_port = dnat_port.get(target).copied().unwrap_or(host_port);
                        ports.entry(id.to_string()).or_default().insert(
                            index,
                            PortMapping {
                                host_ip,
                                host_port,
                                container_port,
                                protocol,
                            },
                        );
                    }
                }
                _ => {}
            }
        }
    }
    for (id, p) in ports {
        if let Some(owned) = out.get_mut(&id) {
            owned.ports = p.into_values().collect();
        }
    }
    out
}

/// The batch that removes exactly what a listing showed of a container:
/// its elements (by key) and its chains.
pub fn listed_removal_batch(owned: &Owned) -> Value {
    let mut out = base();
    for (map, key) in &owned.elements {
        out.push(json!({"delete": {"element": {
            "family": "inet", "table": TABLE, "name": map, "elem": [key]
        }}}));
    }
    for n in &owned.chains {
        out.push(cmd(NfCmd::Flush(FlushObject::Chain(chain(n)))));
        out.push(cmd(NfCmd::Delete(NfListObject::Chain(chain(n)))));
    }
    json!({ "nftables": out })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::network::firewall::parse_listing;

    fn rules_of(ports: &[PortMapping]) -> Vec<(String, Vec<Value>)> {
        let c = ContainerRules {
            container: "web",
            bridge: "jolt0",
            address: "10.88.0.2".parse().unwrap(),
            subnet: "10.88.0.0/16".parse().unwrap(),
            ports,
        };
        container_chains(&c)
            .into_iter()
            .map(|(name, rules)| {
                let rules = rules
                    .into_iter()
                    .map(|r| serde_json::to_value(r).unwrap())
                    .collect();
                (name, rules)
            })
            .collect()
    }

    fn commands(batch: &Value) -> Vec<Value> {
        batch["nftables"].as_array().unwrap().clone()
    }

    #[test]
    fn every_container_rule_is_in_its_own_chain_and_tagged() {
        let chains = rules_of(&[PortMapping::tcp(8080, 80), PortMapping::udp(5353, 53)]);
        let names: Vec<&str> = chains.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["web.out", "web.in", "web.port0", "web.port1"]);
        for (name, rules) in &chains {
            assert!(!rules.is_empty());
            for r in rules {
                assert_eq!(
                    (&r["family"], &r["table"]),
                    (&json!("inet"), &json!("jolt"))
                );
                assert_eq!(r["chain"], json!(name));
                assert_eq!(r["comment"], "web", "{r}");
            }
        }
    }

    #[test]
    fn masquerade_only_for_traffic_leaving_the_subnet() {
        let chains = rules_of(&[]);
        assert_eq!(
            chains[0].1[0]["expr"],
            json!([
                {"match": {"left": {"payload": {"protocol": "ip", "field": "daddr"}},
                           "right": {"prefix": {"addr": "10.88.0.0", "len": 16}}, "op": "!="}},
                {"masquerade": null}
            ])
        );
        let inbound = &chains[1].1;
        assert_eq!(
            inbound.len(),
            3,
            "established, from the bridge, drop the rest"
        );
        assert_eq!(
            inbound[1]["expr"][0],
            json!({"match": {"left": {"meta": {"key": "iifname"}}, "right": "jolt0", "op": "=="}})
        );
        assert_eq!(inbound[2]["expr"], json!([{"drop": null}]));
    }

    #[test]
    fn a_published_port_is_marked_for_hairpin_and_localhost_then_dnated() {
        let chains = rules_of(&[PortMapping::tcp(8080, 80)]);
        let port = &chains[2].1;
        assert_eq!(
            port[0]["expr"][0]["match"]["right"]["prefix"]["addr"],
            "10.88.0.0"
        );
        assert_eq!(
            port[1]["expr"][0]["match"]["right"]["prefix"]["addr"],
            "127.0.0.0"
        );
        for r in &port[..2] {
            assert_eq!(
                r["expr"][1]["mangle"]["value"]["|"][1],
                json!(MASQUERADE_MARK)
            );
        }
        assert_eq!(
            port[2]["expr"],
            json!([
                {"match": {"left": {"meta": {"key": "l4proto"}}, "right": "tcp", "op": "=="}},
                {"dnat": {"addr": "10.88.0.2", "family": "ip", "port": 80}}
            ])
        );
        let inbound = &chains[1].1;
        assert_eq!(inbound.len(), 4);
        assert_eq!(inbound[1]["expr"][1]["match"]["right"], 80);
        assert_eq!(inbound[1]["expr"][3], json!({"accept": null}));
    }

    #[test]
    fn ports_are_found_through_the_maps() {
        let port: PortMapping = "127.0.0.1:5353:53/udp".parse().unwrap();
        let c = ContainerRules {
            container: "web",
            bridge: "jolt0",
            address: "10.88.0.2".parse().unwrap(),
            subnet: "10.88.0.0/16".parse().unwrap(),
            ports: &[PortMapping::tcp(8080, 80), port],
        };
        let cmds = commands(&setup_batch(&c, true));
        let elems: Vec<&Value> = cmds
            .iter()
            .filter_map(|c| c["add"].get("element"))
            .collect();
        assert_eq!(elems.len(), 4);
        assert_eq!(elems[0]["name"], FROM_CONTAINER);
        assert_eq!(
            elems[1]["elem"],
            json!([["10.88.0.2", {"jump": {"target": "web.in"}}]])
        );
        assert_eq!(
            elems[2]["elem"],
            json!([[{"concat": ["tcp", 8080]}, {"jump": {"target": "web.port0"}}]])
        );
        assert_eq!(elems[3]["name"], PUBLISHED_IP);
        assert_eq!(
            elems[3]["elem"][0][0],
            json!({"concat": ["127.0.0.1", "udp", 5353]})
        );
        // Elements come after the chains they jump to.
        let last_chain = cmds
            .iter()
            .rposition(|c| c["add"].get("chain").is_some())
            .unwrap();
        let first_elem = cmds
            .iter()
            .position(|c| c["add"].get("element").is_some())
            .unwrap();
        assert!(last_chain < first_elem);
    }

    #[test]
    fn the_base_is_the_same_whatever_the_containers() {
        let base = base();
        let fixed: Vec<&Value> = base.iter().filter_map(|c| c["add"].get("rule")).collect();
        assert_eq!(fixed.len(), 7);
        assert!(
            fixed.iter().all(|r| r.get("comment").is_none()),
            "no container's"
        );
        let flushed = base.iter().filter(|c| c.get("flush").is_some()).count();
        assert_eq!(
            flushed,
            CHAINS.len(),
            "each base chain is refilled, never doubled"
        );
        assert_eq!(
            fixed[0]["expr"][1],
            json!({"vmap": {"key": {"concat": [{"meta": {"key": "l4proto"}},
                                               {"payload": {"protocol": "th", "field": "dport"}}]},
                            "data": "@published"}})
        );
    }

    #[test]
    fn owners_are_found_by_their_chains_with_address_and_ports() {
        let port: PortMapping = "127.0.0.1:5353:53/udp".parse().unwrap();
        let c = ContainerRules {
            container: "0a1b.c",
            bridge: "jolt0",
            address: "10.88.0.7".parse().unwrap(),
            subnet: "10.88.0.0/16".parse().unwrap(),
            ports: &[PortMapping::tcp(8080, 80), port],
        };
        // A listing as nft prints it: chains, rules, maps with elements.
        let mut objects = vec![json!({"chain": {"name": "forward"}})];
        for (name, rules) in container_chains(&c) {
            objects.push(json!({"chain": {"name": name}}));
            for r in rules {
                objects.push(json!({ "rule": serde_json::to_value(r).unwrap() }));
            }
        }
        let mut maps: BTreeMap<String, Vec<Value>> = BTreeMap::new();
        for e in elements(c.container, c.address, c.ports) {
            let v = serde_json::to_value(&e).unwrap();
            maps.entry(e.name.to_string())
                .or_default()
                .push(v["elem"][0].clone());
        }
        for (name, elem) in maps {
            objects.push(json!({"map": {"name": name, "elem": elem}}));
        }
        let found = owners(&json!({ "nftables": objects }));
        assert_eq!(found.keys().collect::<Vec<_>>(), ["0a1b.c"]);
        let owned = &found["0a1b.c"];
        assert_eq!(owned.address, Some(c.address));
        assert_eq!(owned.ports, c.ports);
        assert_eq!(owned.chains.len(), 4);
        assert_eq!(owned.elements.len(), 4);
        let batch = listed_removal_batch(owned).to_string();
        assert!(batch.contains("\"delete\":{\"element\""), "{batch}");
        assert!(
            !batch.contains("\"add\":{\"element\""),
            "adds nothing: {batch}"
        );
        assert_eq!(owner_of_chain("web.port12"), Some("web"));
        assert_eq!(owner_of_chain("web.portx"), None);
        assert_eq!(owner_of_chain("postrouting"), None);
    }

    #[test]
    fn removal_names_exactly_the_containers_objects() {
        let ports = [PortMapping::tcp(8080, 80)];
        let cmds = removal("web", "10.88.0.2".parse().unwrap(), &ports);
        let deleted: Vec<String> = cmds
            .iter()
            .filter_map(|c| c.get("delete"))
            .map(|d| d.to_string())
            .collect();
        assert_eq!(deleted.len(), 3 + 3, "3 elements, 3 chains");
        for d in &deleted {
            assert!(
                d.contains("web") || d.contains("10.88.0.2") || d.contains("8080"),
                "{d}"
            );
        }
        assert!(
            deleted.iter().all(|d| !d.contains("\"prerouting\"")),
            "no base chain"
        );
        assert_eq!(
            cmds.iter()
                .filter(|c| c.get("delete").is_some_and(|d| d.get("element").is_some()))
                .count(),
            3
        );
        let parsed = parse_listing(
            r#"{"nftables": [{"metainfo": {"version": "1.0.6"}},
                {"rule": {"family": "inet", "table": "jolt", "chain": "web.in", "handle": 7, "comment": "web", "expr": []}},
                {"rule": {"family": "inet", "table": "jolt", "chain": "forward", "handle": 9, "expr": []}}]}"#,
        )
        .unwrap();
        assert_eq!(parsed.len(), 2);
        assert_eq!(parsed[0].comment.as_deref(), Some("web"));
        assert_eq!(parsed[1].comment, None);
    }
}
