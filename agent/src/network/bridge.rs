//! bridge: the network's Linux bridge (`jolt0` by default) in the node's
//! network namespace: created when the first container needs it, with a
//! stable MAC derived from its name and the gateway address; removed only
//! by an explicit `network rm`.
//!
//! Owns the bridge link, its address, and the check that a new subnet does
//! not overlap a route the node already has. It does not touch veths
//! (see `veth`) or the firewall.

use std::net::{IpAddr, Ipv4Addr};

use futures::TryStreamExt;
use rtnetlink::packet_route::link::{InfoKind, LinkAttribute, LinkInfo, LinkMessage};
use rtnetlink::packet_route::route::{RouteAddress, RouteAttribute, RouteHeader};
use rtnetlink::packet_route::AddressFamily;
use rtnetlink::{Handle, LinkBridge, LinkUnspec};

use super::error::{errno, Error};
use super::NetworkConfig;

/// The link named `name`, if there is one.
pub(crate) async fn find(h: &Handle, name: &str) -> Result<Option<LinkMessage>, Error> {
    let mut links = h.link().get().match_name(name.to_string()).execute();
    match links.try_next().await {
        Ok(link) => Ok(link),
        Err(e) if errno(&e) == Some(libc::ENODEV) => Ok(None),
        Err(e) => Err(Error::netlink(format!("looking up link {name}"))(e)),
    }
}

/// Whether `link` is a bridge.
fn is_bridge(link: &LinkMessage) -> bool {
    link.attributes.iter().any(|a| match a {
        LinkAttribute::LinkInfo(infos) => infos
            .iter()
            .any(|i| matches!(i, LinkInfo::Kind(InfoKind::Bridge))),
        _ => false,
    })
}

/// A locally administered unicast MAC derived from the bridge name, so the
/// bridge keeps its MAC across re-creation (neighbours' caches stay valid).
pub(crate) fn stable_mac(name: &str) -> [u8; 6] {
    let h = super::fnv1a(name.as_bytes()).to_be_bytes();
    [0x02, h[0], h[1], h[2], h[3], h[4]]
}

/// The node's IPv4 routes in the main table (destination and prefix
/// length), but the default route and those through `skip` (the
/// network's own bridge); `network` names what is asked, for errors.
pub(crate) async fn routes(
    h: &Handle,
    network: &str,
    skip: Option<u32>,
) -> Result<Vec<(Ipv4Addr, u8)>, Error> {
    Ok(routes_with_device(h, network, skip)
        .await?
        .into_iter()
        .map(|(dest, len, _)| (dest, len))
        .collect())
}

/// [`routes`], each with the index of its output device.
async fn routes_with_device(
    h: &Handle,
    network: &str,
    skip: Option<u32>,
) -> Result<Vec<(Ipv4Addr, u8, Option<u32>)>, Error> {
    let what = format!("network {network}: listing routes");
    let query = rtnetlink::RouteMessageBuilder::<Ipv4Addr>::new().build();
    let mut routes = h.route().get(query).execute();
    let mut out = Vec::new();
    while let Some(route) = routes.try_next().await.map_err(Error::netlink(&what))? {
        let len = route.header.destination_prefix_length;
        if route.header.address_family != AddressFamily::Inet
            || route.header.table != RouteHeader::RT_TABLE_MAIN
            || len == 0
        {
            continue;
        }
        let mut dest = None;
        let mut oif = None;
        for attr in &route.attributes {
            match attr {
                RouteAttribute::Destination(RouteAddress::Inet(ip)) => dest = Some(*ip),
                RouteAttribute::Oif(i) => oif = Some(*i),
                _ => {}
            }
        }
        let Some(dest) = dest else { continue };
        if oif.is_some() && oif == skip {
            continue;
        }
        out.push((dest, len, oif));
    }
    Ok(out)
}

/// Errors if an IPv4 route of the node that does not go through the
/// bridge overlaps the network's subnet (the default route excepted).
pub(crate) async fn check_overlap(
    h: &Handle,
    config: &NetworkConfig,
    bridge: Option<u32>,
) -> Result<(), Error> {
    for (dest, len, oif) in routes_with_device(h, &config.name, bridge).await? {
        if config.subnet.overlaps_prefix(dest, len) {
            let device = match oif {
                Some(i) => link_name(h, i).await.unwrap_or_else(|| format!("link {i}")),
                None => "no device".to_string(),
            };
            return Err(Error::Overlap {
                network: config.name.clone(),
                subnet: config.subnet,
                route: format!("{dest}/{len}"),
                device,
            });
        }
    }
    Ok(())
}

async fn link_name(h: &Handle, index: u32) -> Option<String> {
    let mut links = h.link().get().match_index(index).execute();
    let link = links.try_next().await.ok()??;
    link.attributes.into_iter().find_map(|a| match a {
        LinkAttribute::IfName(n) => Some(n),
        _ => None,
    })
}

/// Makes sure the bridge exists, has the gateway address and is up;
/// returns its index. Refuses a link of that name that is not a bridge.
pub(crate) async fn ensure(h: &Handle, config: &NetworkConfig) -> Result<u32, Error> {
    let name = &config.bridge;
    let what = |step: &str| format!("network {}: {step} bridge {name}", config.name);
    let index = match find(h, name).await? {
        Some(link) if is_bridge(&link) => link.header.index,
        Some(_) => {
            return Err(Error::Config {
                network: config.name.clone(),
                reason: format!("link {name} exists and is not a bridge; pick another bridge name"),
            })
        }
        None => {
            let msg = LinkBridge::new(name)
                .address(stable_mac(name).to_vec())
                .build();
            match h.link().add(msg).execute().await {
                Err(e) if errno(&e) != Some(libc::EEXIST) => {
                    return Err(Error::netlink(what("creating"))(e))
                }
                _ => {}
            }
            let link = find(h, name).await?.ok_or_else(|| Error::Config {
                network: config.name.clone(),
                reason: format!("bridge {name} vanished right after it was created"),
            })?;
            link.header.index
        }
    };
    let prefix = config.subnet.prefix();
    match h
        .address()
        .add(index, IpAddr::V4(config.gateway), prefix)
        .execute()
        .await
    {
        Err(e) if errno(&e) != Some(libc::EEXIST) => {
            return Err(Error::netlink(what("addressing"))(e))
        }
        _ => {}
    }
    h.link()
        .set(LinkUnspec::new_with_index(index).up().build())
        .execute()
        .await
        .map_err(Error::netlink(what("bringing up")))?;
    Ok(index)
}

/// Deletes the bridge if it exists (and is a bridge).
pub(crate) async fn remove(h: &Handle, config: &NetworkConfig) -> Result<(), Error> {
    let Some(link) = find(h, &config.bridge).await? else {
        return Ok(());
    };
    if !is_bridge(&link) {
        return Ok(());
    }
    match h.link().del(link.header.index).execute().await {
        Err(e) if errno(&e) != Some(libc::ENODEV) => Err(Error::netlink(format!(
            "network {}: deleting bridge {}",
            config.name, config.bridge
        ))(e)),
        _ => Ok(()),
    }
}
