//! Which reverse proxies are trusted to say who the client is. Behind a proxy every
//! request comes from the proxy's address, so per-client rules (sign-in throttling, the
//! audit log's "from") would lump everyone together; a header the proxy writes names the
//! real client. A client can write that header too, so it is read only when the request
//! comes straight from a proxy listed here, and only the part that trusted proxies wrote.

use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

use anyhow::bail;
use axum::http::HeaderMap;
use ipnet::IpNet;

/// The header a trusted proxy writes the client's address into.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ProxyHeader {
    /// `X-Forwarded-For: client, proxy1, proxy2` (nginx, HAProxy, most load balancers).
    #[default]
    XForwardedFor,
    /// `Forwarded: for=client, for=proxy1` (RFC 7239).
    Forwarded,
}

/// `RELAYDESK_TRUSTED_PROXIES` and `RELAYDESK_PROXY_HEADER`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies {
    nets: Vec<IpNet>,
    header: ProxyHeader,
}

impl TrustedProxies {
    /// Reads the two settings' text (`None` when unset). The list is IP addresses and CIDR
    /// ranges separated by commas or spaces; the header is `x-forwarded-for` or
    /// `forwarded`.
    pub fn parse(list: Option<&str>, header: Option<&str>) -> anyhow::Result<TrustedProxies> {
        let mut nets = Vec::new();
        for item in list.unwrap_or_default().split([',', ' ', '\t']).filter(|s| !s.is_empty()) {
            let net = IpNet::from_str(item).ok().or_else(|| IpAddr::from_str(item).ok().map(IpNet::from));
            match net {
                Some(net) => nets.push(net.trunc()),
                None => bail!(
                    "RELAYDESK_TRUSTED_PROXIES must list IP addresses or CIDR ranges (such as 10.0.0.0/8), \
                     separated by commas, not {item:?}"
                ),
            }
        }
        let header = match header.map(|h| h.trim().to_ascii_lowercase()).as_deref() {
            None | Some("x-forwarded-for") => ProxyHeader::XForwardedFor,
            Some("forwarded") => ProxyHeader::Forwarded,
            Some(other) => bail!("RELAYDESK_PROXY_HEADER must be x-forwarded-for or forwarded, not {other:?}"),
        };
        Ok(TrustedProxies { nets, header })
    }

    /// Whether requests from `ip` may say who their client is.
    pub fn trusts(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.nets.iter().any(|net| net.contains(&ip))
    }

    /// The client's address for a request from `peer` with these headers. Not a trusted
    /// proxy: `peer`, whatever the headers say. A trusted one: the header's hops are read
    /// from the right (the nearest first), passing over trusted proxies; the first other
    /// address is the client. A hop that cannot be read stops the walk at the last good
    /// one, since nothing to its left was written by a proxy that is trusted.
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let mut client = peer.to_canonical();
        if !self.trusts(client) {
            return client;
        }
        for hop in self.hops(headers).into_iter().rev() {
            let Some(hop) = hop else { break };
            client = hop.to_canonical();
            if !self.trusts(client) {
                break;
            }
        }
        client
    }

    /// Every hop the configured header lists, left to right, across repeated header
    /// lines; `None` for one that is not an address.
    fn hops(&self, headers: &HeaderMap) -> Vec<Option<IpAddr>> {
        let name = match self.header {
            ProxyHeader::XForwardedFor => "x-forwarded-for",
            ProxyHeader::Forwarded => "forwarded",
        };
        let mut hops = Vec::new();
        for value in headers.get_all(name) {
            let Ok(value) = value.to_str() else {
                hops.push(None);
                continue;
            };
            match self.header {
                ProxyHeader::XForwardedFor => hops.extend(value.split(',').map(|hop| xff_address(hop.trim()))),
                ProxyHeader::Forwarded => hops.extend(
                    rfc7239::parse(value)
                        .map(|element| element.ok().and_then(|e| e.forwarded_for).and_then(|node| node.ip().copied())),
                ),
            }
        }
        hops
    }
}

/// An `X-Forwarded-For` hop: an address, or an address with a port as some proxies
/// write it (`192.0.2.1:4711`, `[2001:db8::1]:4711`).
fn xff_address(hop: &str) -> Option<IpAddr> {
    IpAddr::from_str(hop)
        .ok()
        .or_else(|| SocketAddr::from_str(hop).ok().map(|s| s.ip()))
        .or_else(|| hop.strip_prefix('[').and_then(|h| h.strip_suffix(']')).and_then(|h| IpAddr::from_str(h).ok()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn headers(name: &'static str, values: &[&str]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for v in values {
            map.append(name, HeaderValue::from_str(v).unwrap());
        }
        map
    }

    fn proxies(list: &str) -> TrustedProxies {
        TrustedProxies::parse(Some(list), None).unwrap()
    }

    #[test]
    fn the_list_takes_addresses_and_ranges_and_refuses_anything_else() {
        let p = proxies("127.0.0.1, 10.0.0.0/8 ::1 fd00::/8");
        assert!(p.trusts(ip("127.0.0.1")));
        assert!(p.trusts(ip("10.200.0.3")));
        assert!(p.trusts(ip("::1")));
        assert!(p.trusts(ip("fd12::7")));
        assert!(p.trusts(ip("::ffff:10.1.2.3")), "an IPv4 peer seen on an IPv6 socket");
        assert!(!p.trusts(ip("127.0.0.2")));
        assert!(!p.trusts(ip("192.168.1.1")));
        assert_eq!(TrustedProxies::parse(None, None).unwrap(), TrustedProxies::default());
        assert_eq!(TrustedProxies::parse(Some(" "), None).unwrap(), TrustedProxies::default());
        for bad in ["localhost", "10.0.0.0/33", "10.0.0", "*"] {
            let err = TrustedProxies::parse(Some(bad), None).unwrap_err().to_string();
            assert!(err.starts_with("RELAYDESK_TRUSTED_PROXIES must list IP addresses or CIDR ranges"), "{err}");
            assert!(err.contains(&format!("{bad:?}")), "{err}");
        }
        assert_eq!(TrustedProxies::parse(None, Some("Forwarded")).unwrap().header, ProxyHeader::Forwarded);
        let err = TrustedProxies::parse(None, Some("x-real-ip")).unwrap_err().to_string();
        assert_eq!(err, r#"RELAYDESK_PROXY_HEADER must be x-forwarded-for or forwarded, not "x-real-ip""#);
    }

    #[test]
    fn headers_from_an_untrusted_peer_are_ignored() {
        let h = headers("x-forwarded-for", &["203.0.113.9"]);
        assert_eq!(TrustedProxies::default().client(ip("198.51.100.1"), &h), ip("198.51.100.1"));
        assert_eq!(proxies("10.0.0.1").client(ip("198.51.100.1"), &h), ip("198.51.100.1"));
    }

    #[test]
    fn the_nearest_untrusted_hop_is_the_client() {
        let p = proxies("10.0.0.0/8");
        let peer = ip("10.0.0.1");
        // The client wrote "1.1.1.1" itself; the proxy appended what it saw.
        let h = headers("x-forwarded-for", &["1.1.1.1, 203.0.113.9"]);
        assert_eq!(p.client(peer, &h), ip("203.0.113.9"));
        let h = headers("x-forwarded-for", &["1.1.1.1", "203.0.113.9, 10.0.0.7"]);
        assert_eq!(p.client(peer, &h), ip("203.0.113.9"), "repeated lines, a chain of trusted proxies");
        let h = headers("x-forwarded-for", &["[2001:db8::5]:4711"]);
        assert_eq!(p.client(peer, &h), ip("2001:db8::5"));
        let h = headers("x-forwarded-for", &["203.0.113.9:51000"]);
        assert_eq!(p.client(peer, &h), ip("203.0.113.9"));
        let h = headers("x-forwarded-for", &["1.1.1.1, garbage, 10.0.0.7"]);
        assert_eq!(p.client(peer, &h), ip("10.0.0.7"), "stops at the last readable hop");
        assert_eq!(p.client(peer, &HeaderMap::new()), peer, "no header: the proxy itself");
        let h = headers("x-forwarded-for", &["10.0.0.8"]);
        assert_eq!(p.client(peer, &h), ip("10.0.0.8"), "only trusted hops: the farthest");
    }

    #[test]
    fn forwarded_is_read_only_when_chosen() {
        let xff = proxies("10.0.0.0/8");
        let fwd = TrustedProxies::parse(Some("10.0.0.0/8"), Some("forwarded")).unwrap();
        let peer = ip("10.0.0.1");
        let mut h = headers("forwarded", &[r#"for=1.1.1.1, for="[2001:db8:cafe::17]:4711";proto=https"#]);
        h.append("x-forwarded-for", HeaderValue::from_static("5.5.5.5"));
        assert_eq!(fwd.client(peer, &h), ip("2001:db8:cafe::17"));
        assert_eq!(xff.client(peer, &h), ip("5.5.5.5"), "the other header is not read");
        let h = headers("forwarded", &["for=unknown"]);
        assert_eq!(fwd.client(peer, &h), peer);
    }
}
