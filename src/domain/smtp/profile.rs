//! A profile as stored, and what its secrets are bound to.

use super::*;

/// What a stored secret is bound to. A saved password or client secret is reused only
/// while this stays the same, so nobody can send a stored secret to another server
/// (SPEC §4), or to the same one in the clear, by editing the profile and leaving the
/// password blank.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretScope {
    pub kind: ProfileKind,
    pub host: Option<String>,
    pub port: Option<u16>,
    /// Security, certificate checks and trusted CA: a saved password must not follow a
    /// change that could expose it (to plain text, or to an unchecked certificate).
    pub security: Option<Security>,
    pub tls_verify: Option<bool>,
    pub ca_pem: Option<String>,
    pub username: Option<String>,
    pub graph_tenant_id: Option<String>,
    pub graph_client_id: Option<String>,
}

impl SecretScope {
    /// The scope of submitted settings.
    pub fn of(transport: &Transport) -> SecretScope {
        match transport {
            Transport::Generic { host, port, security, tls_verify, ca_pem, auth } => SecretScope {
                kind: ProfileKind::Generic,
                host: Some(host.as_str().to_ascii_lowercase()),
                port: Some(port.get()),
                security: Some(*security),
                tls_verify: Some(*tls_verify),
                ca_pem: ca_pem.as_ref().map(|c| c.as_str().to_owned()),
                username: auth.as_ref().map(|a| a.username.clone()),
                graph_tenant_id: None,
                graph_client_id: None,
            },
            Transport::Graph { username, tenant_id, client_id, .. } => SecretScope {
                kind: ProfileKind::Graph,
                host: None,
                port: None,
                security: None,
                tls_verify: None,
                ca_pem: None,
                username: Some(username.as_str().to_owned()),
                graph_tenant_id: Some(tenant_id.as_str().to_owned()),
                graph_client_id: Some(client_id.as_str().to_owned()),
            },
        }
    }
}
