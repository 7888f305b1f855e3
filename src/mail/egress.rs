//! The egress policy: which SMTP servers a tenant may make relaydesk connect to, so a
//! tenant's administrator cannot use "Test email", a connection check or the outbox to
//! reach the operator's own network (SSRF).
//!
//! A destination is checked after DNS resolution, on every address its name resolves to,
//! and the caller then connects to those checked addresses and no others: nothing resolves
//! the name a second time, so a name that answers differently the second time (DNS
//! rebinding) gets nowhere. TLS still checks the certificate against the host name.
//!
//! - Always refused: unspecified (`0.0.0.0`, `::`, 0.0.0.0/8), link-local (169.254.0.0/16
//!   with the cloud metadata services, fe80::/10), multicast, broadcast and the reserved
//!   240.0.0.0/4.
//! - Refused unless allowed: loopback (127.0.0.0/8, `::1`), private (RFC 1918, ULA
//!   fc00::/7) and shared (carrier-grade NAT, 100.64.0.0/10) addresses. The operator allows
//!   them for one organization (the toggle on `/admin`; an organization an operator
//!   belongs to has them by default), or for everyone on a host name or network listed in
//!   `RELAYDESK_EGRESS_ALLOW`.
//! - `RELAYDESK_EGRESS_PORTS`, when set, lists the only ports any organization may use.
//!
//! IPv4 addresses written in IPv6 (`::ffff:127.0.0.1`) are judged as the IPv4 address.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::ops::RangeInclusive;
use std::sync::Arc;

use anyhow::bail;
use ipnet::IpNet;
use sqlx::SqlitePool;

use super::error::SendError;
use crate::store::TenantId;

/// The operator's settings (`RELAYDESK_EGRESS_ALLOW`, `RELAYDESK_EGRESS_PORTS`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EgressPolicy {
    /// Host names (lower case) whose addresses every organization may use.
    hosts: Vec<String>,
    /// Networks every organization may use.
    nets: Vec<IpNet>,
    /// The only ports allowed; `None`: any port the profile form accepts.
    ports: Option<Vec<RangeInclusive<u16>>>,
}

impl EgressPolicy {
    /// Parses the two settings: `allow` is a comma-separated list of host names, addresses
    /// and networks (`relay.internal, 10.1.2.3, 192.168.0.0/16`), `ports` one of ports and
    /// ranges (`25, 465, 587, 2500-2599`). An entry that is neither is an error naming it.
    pub fn parse(allow: Option<&str>, ports: Option<&str>) -> anyhow::Result<EgressPolicy> {
        let mut policy = EgressPolicy::default();
        for entry in allow.unwrap_or_default().split(',').map(str::trim).filter(|e| !e.is_empty()) {
            if let Ok(net) = entry.parse::<IpNet>() {
                policy.nets.push(net.trunc());
            } else if let Ok(ip) = entry.trim_matches(['[', ']']).parse::<IpAddr>() {
                policy.nets.push(IpNet::from(ip));
            } else if crate::domain::smtp::SmtpHost::parse(entry).is_ok() {
                policy.hosts.push(entry.to_ascii_lowercase());
            } else {
                bail!(
                    "RELAYDESK_EGRESS_ALLOW must list host names, addresses or networks (such as relay.internal, \
                     10.0.0.5 or 192.168.0.0/16), separated by commas; {entry:?} is none of these"
                );
            }
        }
        if let Some(text) = ports.map(str::trim).filter(|t| !t.is_empty()) {
            let mut ranges = Vec::new();
            for entry in text.split(',').map(str::trim) {
                let port = |s: &str| s.trim().parse::<u16>().ok().filter(|p| *p > 0);
                let range = match entry.split_once('-') {
                    Some((a, b)) => port(a).zip(port(b)).filter(|(a, b)| a <= b).map(|(a, b)| a..=b),
                    None => port(entry).map(|p| p..=p),
                };
                match range {
                    Some(range) => ranges.push(range),
                    None => bail!(
                        "RELAYDESK_EGRESS_PORTS must list ports or ranges from 1 to 65535 (such as 25, 465, 587 or \
                         2500-2599), separated by commas; {entry:?} is neither"
                    ),
                }
            }
            policy.ports = Some(ranges);
        }
        Ok(policy)
    }

    /// The ports allowed, as the settings list them (`25, 465, 587`), when restricted.
    pub fn ports_in_words(&self) -> Option<String> {
        let ranges = self.ports.as_ref()?;
        let words: Vec<String> = ranges
            .iter()
            .map(|r| if r.start() == r.end() { r.start().to_string() } else { format!("{}-{}", r.start(), r.end()) })
            .collect();
        Some(words.join(", "))
    }

    fn port_allowed(&self, port: u16) -> bool {
        self.ports.as_ref().is_none_or(|ranges| ranges.iter().any(|r| r.contains(&port)))
    }

    fn host_listed(&self, host: &str) -> bool {
        self.hosts.iter().any(|h| h.eq_ignore_ascii_case(host))
    }

    fn net_listed(&self, ip: IpAddr) -> bool {
        self.nets.iter().any(|net| net.contains(&ip))
    }
}

/// What an address is, for the policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressKind {
    /// An ordinary address on the internet.
    Public,
    // Refused unless allowed:
    Loopback,
    Private,
    Shared,
    // Always refused:
    Unspecified,
    LinkLocal,
    Multicast,
    Broadcast,
    Reserved,
}

impl AddressKind {
    /// The kind of `ip` (an IPv4 address in IPv6 clothing is judged as IPv4).
    pub fn of(ip: IpAddr) -> AddressKind {
        match ip {
            IpAddr::V4(v4) => Self::of_v4(v4),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => Self::of_v4(v4),
                None => Self::of_v6(v6),
            },
        }
    }

    fn of_v4(ip: Ipv4Addr) -> AddressKind {
        let [a, b, ..] = ip.octets();
        if a == 0 {
            AddressKind::Unspecified
        } else if ip.is_broadcast() {
            AddressKind::Broadcast
        } else if ip.is_link_local() {
            AddressKind::LinkLocal
        } else if ip.is_multicast() {
            AddressKind::Multicast
        } else if a >= 240 {
            AddressKind::Reserved
        } else if ip.is_loopback() {
            AddressKind::Loopback
        } else if ip.is_private() {
            AddressKind::Private
        } else if a == 100 && (64..128).contains(&b) {
            AddressKind::Shared
        } else {
            AddressKind::Public
        }
    }

    fn of_v6(ip: Ipv6Addr) -> AddressKind {
        let first = ip.segments()[0];
        if ip.is_unspecified() {
            AddressKind::Unspecified
        } else if ip.is_loopback() {
            AddressKind::Loopback
        } else if ip.is_multicast() {
            AddressKind::Multicast
        } else if first & 0xffc0 == 0xfe80 {
            AddressKind::LinkLocal
        } else if first & 0xfe00 == 0xfc00 {
            AddressKind::Private
        } else {
            AddressKind::Public
        }
    }

    /// Refused whatever the operator allows.
    pub fn always_refused(self) -> bool {
        matches!(
            self,
            AddressKind::Unspecified
                | AddressKind::LinkLocal
                | AddressKind::Multicast
                | AddressKind::Broadcast
                | AddressKind::Reserved
        )
    }

    fn words(self) -> &'static str {
        match self {
            AddressKind::Public => "a public address",
            AddressKind::Loopback => "a loopback address",
            AddressKind::Private => "a private network address",
            AddressKind::Shared => "a shared (carrier-grade NAT) address",
            AddressKind::Unspecified => "an unspecified address",
            AddressKind::LinkLocal => "a link-local address, such as a cloud metadata service",
            AddressKind::Multicast => "a multicast address",
            AddressKind::Broadcast => "the broadcast address",
            AddressKind::Reserved => "a reserved address",
        }
    }
}

/// Why a destination was refused: the `{reason}` of [`msg_refused`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal(pub String);

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a refused destination says, everywhere (test email, check, outbox).
pub fn msg_refused(reason: &str) -> String {
    format!("This SMTP host is not allowed for this organization ({reason}). Ask the operator of this console.")
}

/// What a refused OAuth token URL says.
pub fn msg_token_url_refused(reason: &str) -> String {
    format!("The token URL's host is not allowed for this organization ({reason}). Ask the operator of this console.")
}

impl From<Refusal> for SendError {
    fn from(refusal: Refusal) -> SendError {
        // Trying again later will not help; the operator's settings must change first.
        SendError::permanent(msg_refused(&refusal.0))
    }
}

/// The policy as it applies to one organization: the operator's settings, and whether
/// the organization may use loopback, private and shared addresses.
#[derive(Debug, Clone)]
pub struct Grant {
    policy: Arc<EgressPolicy>,
    private_networks: bool,
}

impl Grant {
    pub fn new(policy: Arc<EgressPolicy>, private_networks: bool) -> Grant {
        Grant { policy, private_networks }
    }

    /// Whether the organization may use loopback, private and shared addresses.
    pub fn private_networks(&self) -> bool {
        self.private_networks
    }

    /// Checks one resolved address of `host` (`None` when allowed).
    pub fn judge(&self, host: &str, ip: IpAddr) -> Option<Refusal> {
        let kind = AddressKind::of(ip);
        let allowed = match kind {
            AddressKind::Public => true,
            kind if kind.always_refused() => false,
            _ => self.private_networks || self.policy.host_listed(host) || self.policy.net_listed(ip),
        };
        if allowed {
            return None;
        }
        // The tenant typed the name; the address it resolves to is not theirs to learn.
        let subject = if host.parse::<IpAddr>().is_ok() { host.to_owned() } else { format!("{host} resolves to") };
        let verb = if host.parse::<IpAddr>().is_ok() { " is" } else { "" };
        Some(Refusal(format!("{subject}{verb} {}", kind.words())))
    }

    /// The port, when the operator restricts ports (`None` when allowed).
    pub fn judge_port(&self, port: u16) -> Option<Refusal> {
        if self.policy.port_allowed(port) {
            return None;
        }
        let allowed = self.policy.ports_in_words().unwrap_or_default();
        Some(Refusal(format!("port {port} is not one of the allowed ports: {allowed}")))
    }

    /// Resolves `host` and checks every address it resolves to: the addresses to connect
    /// to, in the resolver's order, or why not. Nothing but the resolver is contacted.
    pub async fn resolve(&self, host: &str, port: u16) -> Result<Vec<SocketAddr>, SendError> {
        self.resolve_with(host, port, msg_refused).await
    }

    /// [`Self::resolve`], a refusal said by `refused` (for a destination that is not an
    /// SMTP host, such as an OAuth token URL).
    pub async fn resolve_with(
        &self,
        host: &str,
        port: u16,
        refused: impl Fn(&str) -> String,
    ) -> Result<Vec<SocketAddr>, SendError> {
        if let Some(refusal) = self.judge_port(port) {
            return Err(SendError::permanent(refused(&refusal.0)));
        }
        let addrs: Vec<SocketAddr> = match host.parse::<IpAddr>() {
            Ok(ip) => vec![SocketAddr::new(ip, port)],
            Err(_) => match tokio::net::lookup_host((host, port)).await {
                Ok(found) => found.collect(),
                Err(_) => Vec::new(),
            },
        };
        if addrs.is_empty() {
            return Err(SendError::transient(format!(
                "Could not find the host {host}: there is no such name. Check the spelling of the SMTP host."
            )));
        }
        if let Some(refusal) = addrs.iter().find_map(|a| self.judge(host, a.ip())) {
            return Err(SendError::permanent(refused(&refusal.0)));
        }
        Ok(addrs)
    }
}

/// The grant of organization `tenant`: the operator's settings and its toggle (on for an
/// organization an operator belongs to).
pub async fn grant_for(db: &SqlitePool, policy: &Arc<EgressPolicy>, tenant: TenantId) -> sqlx::Result<Grant> {
    let private_networks = crate::store::egress::private_networks_allowed(db, tenant).await?;
    Ok(Grant::new(policy.clone(), private_networks))
}

/// The policy for any channel that connects somewhere for a tenant (SMTP, SMS gateways):
/// the checked addresses of `host`:`port` to connect to (and only those), or a sentence
/// saying why not.
pub async fn destination(
    db: &SqlitePool,
    policy: &Arc<EgressPolicy>,
    tenant: TenantId,
    host: &str,
    port: u16,
) -> Result<Vec<SocketAddr>, SendError> {
    let grant = grant_for(db, policy, tenant)
        .await
        .map_err(|e| SendError::transient(format!("relaydesk could not read its database: {e}")))?;
    grant.resolve(host, port).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(text: &str) -> AddressKind {
        AddressKind::of(text.parse().unwrap())
    }

    #[test]
    fn kinds_of_addresses() {
        for (ip, want) in [
            ("127.0.0.1", AddressKind::Loopback),
            ("127.8.9.10", AddressKind::Loopback),
            ("::1", AddressKind::Loopback),
            ("::ffff:127.0.0.1", AddressKind::Loopback),
            ("10.1.2.3", AddressKind::Private),
            ("172.16.0.1", AddressKind::Private),
            ("172.31.255.255", AddressKind::Private),
            ("192.168.1.1", AddressKind::Private),
            ("fd00::1", AddressKind::Private),
            ("100.64.0.1", AddressKind::Shared),
            ("100.127.255.254", AddressKind::Shared),
            ("0.0.0.0", AddressKind::Unspecified),
            ("0.1.2.3", AddressKind::Unspecified),
            ("::", AddressKind::Unspecified),
            ("169.254.169.254", AddressKind::LinkLocal),
            ("::ffff:169.254.169.254", AddressKind::LinkLocal),
            ("fe80::1", AddressKind::LinkLocal),
            ("224.0.0.1", AddressKind::Multicast),
            ("ff02::1", AddressKind::Multicast),
            ("255.255.255.255", AddressKind::Broadcast),
            ("240.0.0.1", AddressKind::Reserved),
            ("93.184.216.34", AddressKind::Public),
            ("100.128.0.1", AddressKind::Public),
            ("172.32.0.1", AddressKind::Public),
            ("2001:db8::1", AddressKind::Public),
        ] {
            assert_eq!(kind(ip), want, "{ip}");
        }
    }

    fn grant(allow: &str, ports: &str, private: bool) -> Grant {
        Grant::new(Arc::new(EgressPolicy::parse(Some(allow), Some(ports)).unwrap()), private)
    }

    #[test]
    fn what_a_tenant_may_reach() {
        let none = grant("", "", false);
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(none.judge("smtp.example.com", ip("93.184.216.34")), None);
        assert_eq!(none.judge("127.0.0.1", ip("127.0.0.1")).unwrap().0, "127.0.0.1 is a loopback address");
        assert_eq!(none.judge("localhost", ip("::1")).unwrap().0, "localhost resolves to a loopback address");
        let allowed = grant("", "", true);
        assert_eq!(allowed.judge("localhost", ip("127.0.0.1")), None);
        assert_eq!(
            allowed.judge("169.254.169.254", ip("169.254.169.254")).unwrap().0,
            "169.254.169.254 is a link-local address, such as a cloud metadata service"
        );
        let listed = grant("Relay.Internal, 10.0.0.0/8, 192.168.1.5", "", false);
        assert_eq!(listed.judge("relay.internal", ip("172.16.0.9")), None);
        assert_eq!(listed.judge("x", ip("10.9.9.9")), None);
        assert_eq!(listed.judge("x", ip("192.168.1.5")), None);
        assert!(listed.judge("x", ip("192.168.1.6")).is_some());
        // Listing cannot open what is always refused.
        assert!(grant("0.0.0.0/0", "", true).judge("x", ip("169.254.169.254")).is_some());
        let ports = grant("", "25, 465,587, 2500-2599", true);
        assert_eq!(ports.judge_port(2525), None);
        assert_eq!(ports.judge_port(22).unwrap().0, "port 22 is not one of the allowed ports: 25, 465, 587, 2500-2599");
    }

    #[test]
    fn bad_settings_are_named() {
        let err = EgressPolicy::parse(Some("relay, http://x"), None).unwrap_err().to_string();
        assert!(err.starts_with("RELAYDESK_EGRESS_ALLOW must list"), "{err}");
        assert!(err.ends_with("\"http://x\" is none of these"), "{err}");
        for bad in ["0", "25,", "70000", "600-500", "smtp"] {
            let err = EgressPolicy::parse(None, Some(bad)).unwrap_err().to_string();
            assert!(err.starts_with("RELAYDESK_EGRESS_PORTS must list"), "{bad}: {err}");
        }
        assert_eq!(EgressPolicy::parse(None, Some(" ")).unwrap(), EgressPolicy::default());
    }
}
