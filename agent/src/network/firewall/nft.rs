//! nft: the pieces of nftables JSON that jolt's rules are made of
//! (matches, NAT, marks, verdict maps, commands), as the nftables crate's
//! types. Owns no rule of its own.

use std::net::Ipv4Addr;

use nftables::expr::{
    BinaryOperation, Expression, Meta, MetaKey, NamedExpression, Payload, PayloadField, Prefix, CT,
};
use nftables::schema::{Chain, NfCmd, Rule, Table};
use nftables::stmt::{Mangle, Match, NATFamily, Operator, Statement, VerdictMap, NAT};
use nftables::types::NfFamily;
use serde_json::Value;

use super::{MASQUERADE_MARK, TABLE};
use crate::network::ipam::Subnet;

pub(super) fn ip(addr: Ipv4Addr) -> Expression<'static> {
    Expression::String(addr.to_string().into())
}

pub(super) fn prefix(subnet: Subnet) -> Expression<'static> {
    Expression::Named(NamedExpression::Prefix(Prefix {
        addr: Box::new(ip(subnet.network())),
        len: subnet.prefix().into(),
    }))
}

pub(super) fn field(protocol: &'static str, name: &'static str) -> Expression<'static> {
    Expression::Named(NamedExpression::Payload(Payload::PayloadField(
        PayloadField {
            protocol: protocol.into(),
            field: name.into(),
        },
    )))
}

pub(super) fn meta_mark() -> Expression<'static> {
    Expression::Named(NamedExpression::Meta(Meta { key: MetaKey::Mark }))
}

pub(super) fn ct(key: &'static str) -> Expression<'static> {
    Expression::Named(NamedExpression::CT(CT {
        key: key.into(),
        family: None,
        dir: None,
    }))
}

pub(super) fn matches(
    left: Expression<'static>,
    op: Operator,
    right: Expression<'static>,
) -> Statement<'static> {
    Statement::Match(Match { left, right, op })
}

pub(super) fn eq(left: Expression<'static>, right: Expression<'static>) -> Statement<'static> {
    matches(left, Operator::EQ, right)
}

pub(super) fn dport(protocol: &'static str, port: u16) -> Statement<'static> {
    eq(field(protocol, "dport"), Expression::Number(port.into()))
}

pub(super) fn set_mark() -> Statement<'static> {
    Statement::Mangle(Mangle {
        key: meta_mark(),
        value: Expression::BinaryOperation(Box::new(BinaryOperation::OR(vec![
            meta_mark(),
            Expression::Number(MASQUERADE_MARK),
        ]))),
    })
}

pub(super) fn dnat(addr: Ipv4Addr, port: u16) -> Statement<'static> {
    Statement::DNAT(Some(NAT {
        addr: Some(ip(addr)),
        family: Some(NATFamily::IP),
        port: Some(Expression::Number(port.into())),
        flags: None,
    }))
}

pub(super) fn l4proto_is(protocol: &'static str) -> Statement<'static> {
    eq(
        Expression::Named(NamedExpression::Meta(Meta {
            key: MetaKey::L4proto,
        })),
        Expression::String(protocol.into()),
    )
}

pub(super) fn concat(parts: Vec<Expression<'static>>) -> Expression<'static> {
    Expression::Named(NamedExpression::Concat(parts))
}

/// `meta l4proto . th dport`.
pub(super) fn proto_and_port() -> Vec<Expression<'static>> {
    vec![
        Expression::Named(NamedExpression::Meta(Meta {
            key: MetaKey::L4proto,
        })),
        field("th", "dport"),
    ]
}

pub(super) fn vmap(key: Expression<'static>, map: &str) -> Statement<'static> {
    Statement::VerdictMap(VerdictMap {
        key,
        data: Expression::String(format!("@{map}").into()),
    })
}

pub(super) fn rule(
    chain: &str,
    comment: Option<&str>,
    expr: Vec<Statement<'static>>,
) -> Rule<'static> {
    Rule {
        family: NfFamily::INet,
        table: TABLE.into(),
        chain: chain.to_string().into(),
        expr: expr.into(),
        handle: None,
        index: None,
        comment: comment.map(|c| c.to_string().into()),
    }
}

pub(super) fn chain(name: &str) -> Chain<'static> {
    Chain {
        family: NfFamily::INet,
        table: TABLE.into(),
        name: name.to_string().into(),
        ..Chain::default()
    }
}

pub(super) fn table() -> Table<'static> {
    Table {
        family: NfFamily::INet,
        name: TABLE.into(),
        handle: None,
    }
}

/// An nft command as JSON.
pub(super) fn cmd(c: NfCmd<'static>) -> Value {
    serde_json::to_value(c).expect("nft commands serialize")
}
