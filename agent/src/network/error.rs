//! error: what can go wrong while wiring or unwiring a container, each
//! message naming the network or container and the cause.

use std::io;
use std::net::Ipv4Addr;

use super::ipam::Subnet;
use super::ports::PortMapping;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A network definition that cannot work (bad name, subnet, gateway).
    #[error("network {network}: {reason}")]
    Config { network: String, reason: String },

    /// A request that cannot be honoured as written.
    #[error("container {container}: {reason}")]
    Request { container: String, reason: String },

    #[error("container {container}: port {port} is already published by container {owner}")]
    PortTaken {
        container: String,
        port: PortMapping,
        owner: String,
    },

    #[error("container {container}: address {address} is already leased to container {owner}")]
    AddressTaken {
        container: String,
        address: Ipv4Addr,
        owner: String,
    },

    #[error("network {network}: no free address left in subnet {subnet} ({leased} leased); tear down a container or use a larger subnet")]
    Exhausted {
        network: String,
        subnet: Subnet,
        leased: usize,
    },

    #[error("network {network}: subnet {subnet} overlaps route {route} on {device}; pick another subnet")]
    Overlap {
        network: String,
        subnet: Subnet,
        route: String,
        device: String,
    },

    #[error("network {network}: still used by container(s) {containers}; tear them down first")]
    Busy { network: String, containers: String },

    /// A system call, file or netlink request that failed.
    #[error("{what}: {source}")]
    Io { what: String, source: io::Error },

    /// A netlink answer that is not an errno.
    #[error("{what}: {source}")]
    Netlink {
        what: String,
        source: rtnetlink::Error,
    },

    /// nft or conntrack refused or could not run.
    #[error("{what}: {reason}")]
    Firewall { what: String, reason: String },

    /// A state file that cannot be read back.
    #[error("{what}: {reason}")]
    State { what: String, reason: String },
}

impl Error {
    /// A closure mapping an io::Error to [`Error::Io`] about `what`.
    pub(crate) fn io(what: impl Into<String>) -> impl FnOnce(io::Error) -> Error {
        let what = what.into();
        move |source| Error::Io { what, source }
    }

    /// A closure mapping a netlink error to [`Error::Io`] (an errno) or
    /// [`Error::Netlink`] about `what`.
    pub(crate) fn netlink(what: impl Into<String>) -> impl FnOnce(rtnetlink::Error) -> Error {
        let what = what.into();
        move |source| match source {
            rtnetlink::Error::NetlinkError(msg) => Error::Io {
                what,
                source: msg.to_io(),
            },
            source => Error::Netlink { what, source },
        }
    }
}

/// The errno of a netlink error, if it carries one.
pub(crate) fn errno(e: &rtnetlink::Error) -> Option<i32> {
    match e {
        rtnetlink::Error::NetlinkError(msg) => Some(msg.raw_code().abs()),
        _ => None,
    }
}
