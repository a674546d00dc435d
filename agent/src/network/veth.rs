//! veth: the veth pair of one container: the host end (`jv` and a hash of
//! the container ID, its alias the container ID) attached to the bridge
//! in the node's namespace, the other end created directly inside the
//! container's namespace as `eth0`, with the container's address and a
//! default route via the gateway.
//!
//! Owns the pair and what is configured inside the container's namespace
//! (lo, eth0, the default route). A host end whose alias names another
//! container is never touched by a container's setup or teardown; only
//! reconciling (joltd's start, a prune) lists host ends and removes one
//! by name.

use std::net::{IpAddr, Ipv4Addr};
use std::os::fd::AsRawFd;
use std::path::Path;

use futures::TryStreamExt;
use rtnetlink::packet_route::link::{InfoData, InfoVeth, LinkAttribute, LinkMessage};
use rtnetlink::{Handle, LinkBridgePort, LinkUnspec, LinkVeth, RouteMessageBuilder};

use super::bridge;
use super::error::{errno, Error};
use super::netns;

/// The name of the interface inside the container.
pub const CONTAINER_IFNAME: &str = "eth0";

/// The host end's name: `jv` and 12 hex digits of a hash of the ID (an
/// interface name has at most 15 bytes).
pub fn host_name(container: &str) -> String {
    format!("jv{:012x}", super::fnv1a(container.as_bytes()) >> 16)
}

fn alias(link: &LinkMessage) -> Option<&str> {
    link.attributes.iter().find_map(|a| match a {
        LinkAttribute::IfAlias(s) => Some(s.as_str()),
        _ => None,
    })
}

/// The host end of `container`'s pair, if it exists. Errors if a link of
/// that name has another container's alias; one without an alias is a
/// pair whose setup stopped between creating it and naming its owner.
pub(crate) async fn find_host_end(h: &Handle, container: &str) -> Result<Option<u32>, Error> {
    let name = host_name(container);
    match bridge::find(h, &name).await? {
        None => Ok(None),
        Some(link) if alias(&link).is_none_or(|a| a == container) => Ok(Some(link.header.index)),
        Some(_) => Err(Error::Request {
            container: container.to_string(),
            reason: format!("link {name} exists and is not this container's veth"),
        }),
    }
}

/// Creates the pair: the host end attached to bridge `bridge_index` and
/// up, `eth0` inside the namespace at `netns_path`. An existing host end
/// of this container is kept. Then names the host end's owner (its alias)
/// and turns on hairpin mode on its bridge port, so that a container
/// reaches its own published port through the node.
pub(crate) async fn create(
    h: &Handle,
    container: &str,
    bridge_index: u32,
    netns_path: &Path,
) -> Result<(), Error> {
    let name = host_name(container);
    let what = |step: &str| format!("container {container}: {step} veth {name}");
    if find_host_end(h, container).await?.is_none() {
        let ns = netns::open(netns_path)?;
        let peer = LinkUnspec::new_with_name(CONTAINER_IFNAME)
            .setns_by_fd(ns.as_raw_fd())
            .build();
        let msg = LinkVeth::new(&name, CONTAINER_IFNAME)
            .set_info_data(InfoData::Veth(InfoVeth::Peer(peer)))
            .controller(bridge_index)
            .up()
            .build();
        h.link()
            .add(msg)
            .execute()
            .await
            .map_err(Error::netlink(what("creating")))?;
    }
    let index = find_host_end(h, container)
        .await?
        .ok_or_else(|| Error::Request {
            container: container.to_string(),
            reason: format!("veth {name} vanished right after it was created"),
        })?;
    // The kernel ignores an alias in the message that creates a link.
    h.link()
        .set(LinkUnspec::new_with_index(index).alias(container).build())
        .execute()
        .await
        .map_err(Error::netlink(what("naming the owner of")))?;
    h.link()
        .change(LinkBridgePort::new(index).hairpin(true).build())
        .execute()
        .await
        .map_err(Error::netlink(what("turning on hairpin mode on")))
}

/// Deletes the host end of `container`'s pair (which deletes both ends),
/// if it exists.
pub(crate) async fn remove(h: &Handle, container: &str) -> Result<(), Error> {
    let Some(index) = find_host_end(h, container).await? else {
        return Ok(());
    };
    match h.link().del(index).execute().await {
        Err(e) if errno(&e) != Some(libc::ENODEV) => Err(Error::netlink(format!(
            "container {container}: deleting veth {}",
            host_name(container)
        ))(e)),
        _ => Ok(()),
    }
}

/// Whether `name` has the shape of a host end's name.
fn is_host_name(name: &str) -> bool {
    name.len() == 14
        && name.starts_with("jv")
        && name[2..]
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// The host ends in the namespace that belong to the network of `bridge`
/// (attached to it, or to no bridge yet: a setup that stopped early): each
/// one's name and owner (its alias; None for a pair whose setup stopped
/// before naming it). Those on another bridge are another network's.
pub(crate) async fn host_ends(
    h: &Handle,
    bridge: &str,
) -> Result<Vec<(String, Option<String>)>, Error> {
    let ours = bridge::find(h, bridge).await?.map(|l| l.header.index);
    let links: Vec<LinkMessage> = h
        .link()
        .get()
        .execute()
        .try_collect()
        .await
        .map_err(Error::netlink("listing links"))?;
    Ok(links
        .iter()
        .filter(|link| {
            let master = link.attributes.iter().find_map(|a| match a {
                LinkAttribute::Controller(i) => Some(*i),
                _ => None,
            });
            master.is_none() || master == ours
        })
        .filter_map(|link| {
            let name = link.attributes.iter().find_map(|a| match a {
                LinkAttribute::IfName(n) => Some(n.clone()),
                _ => None,
            })?;
            is_host_name(&name).then(|| (name, alias(link).map(str::to_string)))
        })
        .collect())
}

/// Deletes the host end named `name` (a pair whose owner is unknown).
pub(crate) async fn remove_by_name(h: &Handle, name: &str) -> Result<(), Error> {
    let Some(link) = bridge::find(h, name).await? else {
        return Ok(());
    };
    match h.link().del(link.header.index).execute().await {
        Err(e) if errno(&e) != Some(libc::ENODEV) => {
            Err(Error::netlink(format!("deleting veth {name}"))(e))
        }
        _ => Ok(()),
    }
}

/// Inside the container's namespace: whether `eth0` exists.
pub(crate) async fn has_container_end(h: &Handle) -> Result<bool, Error> {
    Ok(bridge::find(h, CONTAINER_IFNAME).await?.is_some())
}

/// Inside the container's namespace: lo up; eth0 with `address/prefix`
/// and up; a default route via `gateway`. Each step tolerates being done
/// already.
pub(crate) async fn configure(
    h: &Handle,
    container: &str,
    address: Ipv4Addr,
    prefix: u8,
    gateway: Ipv4Addr,
) -> Result<(), Error> {
    let what = |step: &str| format!("container {container}: {step}");
    for (ifname, step) in [
        ("lo", "bringing up lo"),
        (CONTAINER_IFNAME, "bringing up eth0"),
    ] {
        let index = bridge::find(h, ifname)
            .await?
            .ok_or_else(|| Error::Request {
                container: container.to_string(),
                reason: format!("no {ifname} in its network namespace"),
            })?
            .header
            .index;
        if ifname == CONTAINER_IFNAME {
            let have = h
                .address()
                .get()
                .set_link_index_filter(index)
                .execute()
                .try_collect::<Vec<_>>()
                .await
                .map_err(Error::netlink(what("listing addresses")))?;
            if have.is_empty() {
                h.address()
                    .add(index, IpAddr::V4(address), prefix)
                    .execute()
                    .await
                    .map_err(Error::netlink(what(&format!(
                        "adding address {address}/{prefix} to eth0"
                    ))))?;
            }
        }
        h.link()
            .set(LinkUnspec::new_with_index(index).up().build())
            .execute()
            .await
            .map_err(Error::netlink(what(step)))?;
    }
    let route = RouteMessageBuilder::<Ipv4Addr>::new()
        .gateway(gateway)
        .build();
    match h.route().add(route).execute().await {
        Err(e) if errno(&e) != Some(libc::EEXIST) => Err(Error::netlink(what(&format!(
            "adding the default route via {gateway}"
        )))(e)),
        _ => Ok(()),
    }
}
