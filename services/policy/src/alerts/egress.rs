//! Where webhooks may go: public addresses only, unless the operator allows
//! an internal range (`ALERT_WEBHOOK_ALLOW_CIDRS`). A tenant's URL must not
//! reach loopback, private, link-local (cloud metadata at 169.254.169.254
//! included), shared (CGNAT), unique-local, multicast, broadcast or reserved
//! addresses of the platform's network.
//!
//! The check is made on the addresses a name resolves to, by the delivery
//! client's own resolver ([`GuardedResolver`]): the client connects to the
//! addresses that were checked, so a name cannot resolve to a public
//! address for the check and to an internal one for the connection.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::str::FromStr;
use std::sync::Arc;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// An address range, `10.0.0.0/8` or `fd00::/8`; a bare address is a /32 or /128.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    net: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// Whether `ip` is in the range (IPv4-mapped IPv6 as its IPv4 address).
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.net, canonical(ip)) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

impl FromStr for Cidr {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("{s:?} is not an address range such as 10.0.0.0/8 or fd00::/8");
        let (addr, prefix) = s.split_once('/').map_or((s, None), |(a, p)| (a, Some(p)));
        let net: IpAddr = addr.trim().parse().map_err(|_| bad())?;
        let max = if net.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p
                .trim()
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(bad)?,
        };
        Ok(Self {
            net: canonical(net),
            prefix: if net.is_ipv6() && canonical(net).is_ipv4() {
                prefix.saturating_sub(96)
            } else {
                prefix
            },
        })
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.net, self.prefix)
    }
}

/// Which addresses webhooks may reach: every public one, and the internal
/// ranges the operator lists.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Egress {
    allow: Vec<Cidr>,
}

impl Egress {
    /// Public addresses and these internal ranges.
    pub fn allowing(allow: impl IntoIterator<Item = Cidr>) -> Self {
        Self {
            allow: allow.into_iter().collect(),
        }
    }

    /// Whether a webhook may connect to `ip`.
    pub fn permits(&self, ip: IpAddr) -> bool {
        !is_internal(ip) || self.allow.iter().any(|c| c.contains(ip))
    }
}

impl FromStr for Egress {
    type Err = String;

    /// A comma-separated list of ranges; empty for none.
    fn from_str(s: &str) -> Result<Self, String> {
        s.split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(Cidr::from_str)
            .collect::<Result<Vec<_>, _>>()
            .map(Self::allowing)
    }
}

/// An IPv4-mapped (`::ffff:a.b.c.d`) address as its IPv4 address.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        IpAddr::V4(_) => ip,
    }
}

/// Whether `ip` belongs to the platform's own network rather than the
/// internet: anything that is not a global unicast address.
pub fn is_internal(ip: IpAddr) -> bool {
    match canonical(ip) {
        IpAddr::V4(v4) => internal_v4(v4),
        IpAddr::V6(v6) => internal_v6(v6),
    }
}

fn internal_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    a == 0 // "this network", 0.0.0.0 included
        || ip.is_loopback() // 127/8
        || ip.is_private() // 10/8, 172.16/12, 192.168/16
        || ip.is_link_local() // 169.254/16, cloud metadata
        || (a == 100 && (64..128).contains(&b)) // 100.64/10, shared (CGNAT)
        || ip.is_multicast() // 224/4
        || a >= 240 // 240/4 reserved, 255.255.255.255 broadcast
}

fn internal_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    // NAT64 (64:ff9b::/96) reaches the IPv4 address in its last 32 bits.
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        let [.., a, b, c, d] = ip.octets();
        let v4 = Ipv4Addr::new(a, b, c, d);
        return internal_v4(v4);
    }
    ip.is_unspecified() // ::
        || ip.is_loopback() // ::1
        || s[0] & 0xfe00 == 0xfc00 // fc00::/7 unique local
        || s[0] & 0xffc0 == 0xfe80 // fe80::/10 link local
        || s[0] & 0xffc0 == 0xfec0 // fec0::/10 site local (deprecated)
        || ip.is_multicast() // ff00::/8
        || s[..6] == [0; 6] // ::/96, IPv4-compatible (deprecated)
}

/// Why a delivery was refused before any connection.
#[derive(Debug, thiserror::Error)]
#[error("the webhook host resolves only to internal addresses")]
pub struct Refused;

/// The delivery client's resolver: the system's, keeping only the
/// addresses [`Egress`] permits, and failing with [`Refused`] when none is.
#[derive(Debug, Clone)]
pub struct GuardedResolver {
    egress: Arc<Egress>,
}

impl GuardedResolver {
    pub fn new(egress: Arc<Egress>) -> Self {
        Self { egress }
    }
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let egress = self.egress.clone();
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let (allowed, refused): (Vec<_>, Vec<_>) =
                found.into_iter().partition(|a| egress.permits(a.ip()));
            if allowed.is_empty() {
                if !refused.is_empty() {
                    tracing::warn!(%host, addresses = ?refused, "webhook to internal addresses refused");
                }
                return Err(Box::new(Refused) as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(allowed.into_iter()) as Addrs)
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn internal_addresses_are_refused_public_ones_are_not() {
        let none = Egress::default();
        for s in [
            "127.0.0.1",
            "127.1.2.3",
            "10.0.0.1",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "169.254.0.1",
            "100.64.0.1",
            "100.127.255.255",
            "0.0.0.0",
            "0.1.2.3",
            "255.255.255.255",
            "224.0.0.1",
            "239.255.255.250",
            "240.0.0.1",
            "::",
            "::1",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "::ffff:10.0.0.1",
            "::127.0.0.1",
            "64:ff9b::a9fe:a9fe",
        ] {
            assert!(!none.permits(ip(s)), "{s} must be refused");
        }
        for s in [
            "8.8.8.8",
            "1.1.1.1",
            "100.63.255.255",
            "100.128.0.1",
            "172.32.0.1",
            "2606:4700:4700::1111",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
        ] {
            assert!(none.permits(ip(s)), "{s} must be allowed");
        }
    }

    #[test]
    fn the_operator_allows_internal_ranges() {
        let e: Egress = " 10.1.0.0/16, 127.0.0.1 ,fd00::/8".parse().unwrap();
        assert!(e.permits(ip("10.1.2.3")));
        assert!(e.permits(ip("::ffff:10.1.2.3")));
        assert!(!e.permits(ip("10.2.0.1")));
        assert!(e.permits(ip("127.0.0.1")));
        assert!(!e.permits(ip("127.0.0.2")));
        assert!(e.permits(ip("fd00::5")));
        assert!(!e.permits(ip("fc00::5")));
        assert!(!e.permits(ip("169.254.169.254")));
        let mapped: Egress = "::ffff:127.0.0.0/104".parse().unwrap();
        assert!(mapped.permits(ip("127.9.9.9")));
        assert_eq!("".parse::<Egress>().unwrap(), Egress::default());
        assert!("10.0.0.0/33".parse::<Egress>().is_err());
        assert!("nope".parse::<Egress>().is_err());
        assert!(
            "0.0.0.0/0"
                .parse::<Egress>()
                .unwrap()
                .permits(ip("10.0.0.1"))
        );
    }

    #[tokio::test]
    async fn the_resolver_keeps_only_permitted_addresses() {
        let guarded = GuardedResolver::new(Arc::new(Egress::default()));
        let refused = guarded.resolve("localhost".parse().unwrap()).await;
        assert!(refused.err().unwrap().downcast_ref::<Refused>().is_some());
        let allowed = GuardedResolver::new(Arc::new("127.0.0.0/8,::1".parse().unwrap()));
        let addrs: Vec<_> = allowed
            .resolve("localhost".parse().unwrap())
            .await
            .unwrap()
            .collect();
        assert!(!addrs.is_empty());
        assert!(addrs.iter().all(|a| a.ip().is_loopback()));
    }
}
