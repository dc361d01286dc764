//! What the gateway takes from a client as it is, and what it does not.
//!
//! - **The client's address** is the TCP peer, unless the peer is one of
//!   the operator's trusted proxies (`TRUSTED_PROXY_CIDRS`, an ingress
//!   controller say): then it is the right-most address of
//!   `X-Forwarded-For` that is not itself a trusted proxy. Addresses
//!   further left were written by the client and are never believed.
//! - **`X-Request-Id`**: kept when it is 1 to [`MAX_REQUEST_ID`]
//!   characters of letters, digits and `-_.:` (a UUID, an ingress's id),
//!   else dropped so that a fresh one is made: the id goes into logs,
//!   error bodies and the provisioning log, where a client must not write
//!   kilobytes or control characters.
//! - **W3C trace context** (`traceparent`, `tracestate`): dropped unless
//!   the operator says the gateway's callers are its own
//!   (`TRACE_CONTEXT_FROM_CLIENTS=true`, for an ingress that traces).
//!   From the internet it would let anyone join their requests to our
//!   traces, or mark every request as sampled.

use std::net::IpAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use ipnet::IpNet;

use super::idle::Peer;

/// Longest client-supplied request id kept.
pub const MAX_REQUEST_ID: usize = 64;

/// The operator's choices about what clients send.
#[derive(Debug, Clone, Default)]
pub struct Inbound {
    /// Proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<IpNet>,
    /// Continue the callers' traces.
    pub trace_context_from_clients: bool,
}

/// The address a request came from, as [`Inbound`] decides it; in the
/// request's extensions after [`sanitize`]. Absent when the server gave no
/// peer address (a router test).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub IpAddr);

impl Inbound {
    /// Parses `TRUSTED_PROXY_CIDRS`: comma-separated ranges or addresses.
    pub fn parse_proxies(text: &str) -> Result<Vec<IpNet>, String> {
        text.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| {
                s.parse::<IpNet>()
                    .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| format!("{s:?} is not an address range such as 10.0.0.0/8"))
            })
            .collect()
    }

    fn trusted(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.trusted_proxies.iter().any(|n| n.contains(&ip))
    }

    /// The client's address given the TCP peer and the request's headers.
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let peer = canonical(peer);
        if !self.trusted(peer) {
            return peer;
        }
        // Right to left: each trusted proxy appended the address it saw.
        let forwarded = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .collect::<Vec<_>>();
        let mut client = peer;
        for hop in forwarded.iter().rev() {
            match hop.parse::<IpAddr>() {
                Ok(ip) => {
                    client = canonical(ip);
                    if !self.trusted(client) {
                        return client;
                    }
                }
                // Garbage in the chain: the last address we could trust.
                Err(_) => return client,
            }
        }
        client
    }
}

/// An IPv4-mapped IPv6 address as its IPv4 address.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        IpAddr::V4(_) => ip,
    }
}

/// Whether a client's `X-Request-Id` may be kept.
pub fn acceptable_request_id(value: &HeaderValue) -> bool {
    let bytes = value.as_bytes();
    (1..=MAX_REQUEST_ID).contains(&bytes.len())
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(b))
}

/// Drops the headers a client may not choose and records the client's
/// address (see the module's comment). Outermost: before the request id is
/// made and the request's span is opened.
pub async fn sanitize(
    State(inbound): State<Arc<Inbound>>,
    mut request: Request,
    next: Next,
) -> Response {
    let headers = request.headers_mut();
    let keep_id = {
        let mut ids = headers.get_all("x-request-id").iter();
        matches!((ids.next(), ids.next()), (Some(v), None) if acceptable_request_id(v))
    };
    if !keep_id {
        headers.remove("x-request-id");
    }
    if !inbound.trace_context_from_clients {
        headers.remove("traceparent");
        headers.remove("tracestate");
    }
    let peer = request
        .extensions()
        .get::<ConnectInfo<Peer>>()
        .map(|c| c.0.0.ip());
    if let Some(peer) = peer {
        let client = inbound.client(peer, request.headers());
        request.extensions_mut().insert(ClientAddr(client));
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn forwarded(chain: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", HeaderValue::from_str(chain).unwrap());
        h
    }

    #[test]
    fn request_ids_are_kept_only_when_short_and_plain() {
        let ok = |s: &str| acceptable_request_id(&HeaderValue::from_str(s).unwrap());
        assert!(ok("5b0c1d9e-8f6a-4c1e-9b7d-2f3a4b5c6d7e"));
        assert!(ok("ingress:abc_1.2"));
        assert!(!ok(""));
        assert!(!ok(&"a".repeat(MAX_REQUEST_ID + 1)));
        assert!(ok(&"a".repeat(MAX_REQUEST_ID)));
        assert!(!ok("a b"));
        assert!(!ok("id\"}"));
        assert!(!ok("x%0d%0aforged: yes"));
    }

    #[test]
    fn forwarded_addresses_count_only_behind_a_trusted_proxy() {
        let none = Inbound::default();
        let chain = forwarded("203.0.113.9");
        assert_eq!(none.client(ip("10.0.0.5"), &chain), ip("10.0.0.5"));

        let ingress = Inbound {
            trusted_proxies: Inbound::parse_proxies("10.0.0.0/8, 192.0.2.1").unwrap(),
            ..Inbound::default()
        };
        // The peer is the ingress: the address it saw is the client.
        assert_eq!(ingress.client(ip("10.0.0.5"), &chain), ip("203.0.113.9"));
        // Whatever the client wrote to the left of it is not believed.
        let spoofed = forwarded("1.2.3.4, 203.0.113.9");
        assert_eq!(ingress.client(ip("10.0.0.5"), &spoofed), ip("203.0.113.9"));
        // Through two trusted hops.
        let two = forwarded("198.51.100.7, 192.0.2.1");
        assert_eq!(ingress.client(ip("10.1.2.3"), &two), ip("198.51.100.7"));
        // A peer outside the trusted ranges is the client, whatever it says.
        assert_eq!(
            ingress.client(ip("203.0.113.50"), &chain),
            ip("203.0.113.50")
        );
        // Garbage stops the walk at the last trusted hop.
        let garbage = forwarded("nonsense");
        assert_eq!(ingress.client(ip("10.0.0.5"), &garbage), ip("10.0.0.5"));
        // IPv4-mapped peers are their IPv4 address.
        assert_eq!(
            ingress.client(ip("::ffff:10.0.0.5"), &chain),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn proxy_ranges_parse_or_fail_clearly() {
        assert_eq!(Inbound::parse_proxies("").unwrap(), vec![]);
        assert_eq!(
            Inbound::parse_proxies("fd00::/8,127.0.0.1").unwrap().len(),
            2
        );
        let err = Inbound::parse_proxies("10.0.0.0/33").unwrap_err();
        assert!(err.contains("10.0.0.0/33"), "{err}");
    }
}
