//! The profile form as submitted, and its parse into a [`ProfileInput`].

use std::fmt;

use serde::Deserialize;

use super::*;
use crate::domain::email::EmailAddress;
use crate::domain::text::*;

/// The profile form as submitted (SPEC §2 field names).
///
/// Every field defaults to empty, so a field the browser did not send (the
/// other type's fields, an unchecked checkbox) is not a deserialisation error.
/// A checkbox is on when present, whatever its value. `Debug` hides the
/// password and client secret, so a logged form leaks neither.
#[derive(Default, Clone, Deserialize)]
#[serde(default)]
pub struct ProfileForm {
    /// `name`.
    pub name: String,
    /// `kind`: `generic`, `graph`, or empty for generic.
    pub kind: String,
    /// `is_default` checkbox.
    pub is_default: Option<String>,
    /// `from_address`.
    pub from_address: String,
    /// `from_name`.
    pub from_name: String,
    /// `reply_to`.
    pub reply_to: String,
    /// `signature`.
    pub signature: String,
    /// `description`.
    pub description: String,
    /// `host` (generic).
    pub host: String,
    /// `port` (generic).
    pub port: String,
    /// `security` (generic): `ssl`, `starttls`, `none`, or empty for `ssl`.
    pub security: String,
    /// `tls_verify` checkbox (generic). Absent means off: the form renders it
    /// checked, so a browser omits it only when the user unchecked it.
    pub tls_verify: Option<String>,
    /// `ca_pem` (generic).
    pub ca_pem: String,
    /// `auth_required` checkbox (generic). Absent means off.
    pub auth_required: Option<String>,
    /// `username`: the SMTP account (generic) or the Graph user name.
    pub username: String,
    /// `password`: the SMTP account password (generic) or the Graph password.
    pub password: String,
    /// `graph_tenant_id` (graph).
    pub graph_tenant_id: String,
    /// `graph_client_id` (graph).
    pub graph_client_id: String,
    /// `graph_client_secret` (graph).
    pub graph_client_secret: String,
}

impl fmt::Debug for ProfileForm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hidden = |s: &str| (!s.is_empty()).then_some(Redacted);
        f.debug_struct("ProfileForm")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("is_default", &self.is_default)
            .field("from_address", &self.from_address)
            .field("from_name", &self.from_name)
            .field("reply_to", &self.reply_to)
            .field("signature", &self.signature)
            .field("description", &self.description)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("tls_verify", &self.tls_verify)
            .field("ca_pem", &self.ca_pem)
            .field("auth_required", &self.auth_required)
            .field("username", &self.username)
            .field("password", &hidden(&self.password))
            .field("graph_tenant_id", &self.graph_tenant_id)
            .field("graph_client_id", &self.graph_client_id)
            .field("graph_client_secret", &hidden(&self.graph_client_secret))
            .finish()
    }
}

/// Whether a form creates a profile or edits a stored one; it decides what a
/// blank password means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FormMode {
    /// A new profile (and a duplicate): a required secret must be typed.
    Create,
    /// A stored profile: a blank secret keeps the stored one (§2.2).
    Edit,
}

/// Field name → message, for re-rendering the form with status 422; keys
/// are the form field names of SPEC §2. One type for every form of the app,
/// so it lives in `domain` and is only re-exported here.
pub use crate::domain::FieldErrors;

/// A profile form that passed every rule of its type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileInput {
    /// Unique in the tenant only once the store agrees ([`MSG_NAME_TAKEN`]).
    pub name: ProfileName,
    /// The `is_default` checkbox (§3 decides what it does).
    pub is_default: bool,
    /// The `From` address.
    pub from_address: FromAddress,
    /// The `From` display name.
    pub from_name: SenderName,
    /// The `Reply-To` address, when given.
    pub reply_to: Option<ReplyTo>,
    /// The signature, when given.
    pub signature: Option<Signature>,
    /// The description, when given.
    pub description: Option<Description>,
    /// How mail leaves, with the fields of the chosen type only.
    pub transport: Transport,
}

impl ProfileInput {
    /// The profile's type.
    pub fn kind(&self) -> ProfileKind {
        self.transport.kind()
    }
}

/// The fields of one profile type. A password or secret is `None` only in
/// [`FormMode::Edit`] when left blank, meaning "keep the stored one"; the
/// caller must refuse that when nothing is stored (auth just turned on, or
/// the type changed). `Debug` hides passwords and secrets.
#[derive(Clone, PartialEq, Eq)]
pub enum Transport {
    /// Plain SMTP.
    Generic {
        /// Server host.
        host: SmtpHost,
        /// Server port.
        port: SmtpPort,
        /// Implicit TLS, required STARTTLS or none.
        security: Security,
        /// Whether the server certificate is verified.
        tls_verify: bool,
        /// Extra CAs trusted for this profile only.
        ca_pem: Option<CaPem>,
        /// Credentials, `None` when `auth_required` is off.
        auth: Option<SmtpAuth>,
    },
    /// Microsoft Graph.
    Graph {
        /// The mailbox sent as.
        username: EmailAddress,
        /// `None`: keep the stored password (edit only).
        password: Option<String>,
        /// The Entra ID tenant.
        tenant_id: GraphTenantId,
        /// The application (client) ID.
        client_id: GraphClientId,
        /// `None`: keep the stored secret (edit only).
        client_secret: Option<String>,
    },
}

impl Transport {
    /// The profile type these fields belong to.
    pub fn kind(&self) -> ProfileKind {
        match self {
            Self::Generic { .. } => ProfileKind::Generic,
            Self::Graph { .. } => ProfileKind::Graph,
        }
    }
}

impl fmt::Debug for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Generic { host, port, security, tls_verify, ca_pem, auth } => f
                .debug_struct("Generic")
                .field("host", host)
                .field("port", port)
                .field("security", security)
                .field("tls_verify", tls_verify)
                .field("ca_pem", &ca_pem.as_ref().map(|c| c.der.len()))
                .field("auth", auth)
                .finish(),
            Self::Graph { username, password, tenant_id, client_id, client_secret } => f
                .debug_struct("Graph")
                .field("username", username)
                .field("password", &redact(password))
                .field("tenant_id", tenant_id)
                .field("client_id", client_id)
                .field("client_secret", &redact(client_secret))
                .finish(),
        }
    }
}

/// SMTP credentials. `Debug` hides the password.
#[derive(Clone, PartialEq, Eq)]
pub struct SmtpAuth {
    /// The account, by the tenant's policy.
    pub username: String,
    /// `None`: keep the stored password (edit only).
    pub password: Option<String>,
}

impl fmt::Debug for SmtpAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpAuth").field("username", &self.username).field("password", &redact(&self.password)).finish()
    }
}

/// A required secret: blank keeps the stored one on edit and is
/// `blank_message` on create; anything else must pass `parse`.
fn secret<T>(
    input: &str,
    mode: FormMode,
    blank_message: &'static str,
    parse: impl FnOnce(&str) -> Result<T, &'static str>,
) -> Result<Option<T>, &'static str> {
    match (input.is_empty(), mode) {
        (true, FormMode::Edit) => Ok(None),
        (true, FormMode::Create) => Err(blank_message),
        (false, _) => parse(input).map(Some),
    }
}

impl ProfileForm {
    /// Checks the common fields and those of the chosen type, collecting
    /// every failure. Fields of the other type are ignored (they are hidden,
    /// not cleared, when the type is switched in the browser).
    pub fn parse(&self, policy: CredentialPolicy, mode: FormMode) -> Result<ProfileInput, FieldErrors> {
        let mut errors = FieldErrors::default();
        let e = &mut errors;
        let name = e.check("name", ProfileName::parse(&self.name));
        let from_address = e.check("from_address", FromAddress::parse(&self.from_address));
        let from_name = e.check("from_name", SenderName::parse(&self.from_name));
        let reply_to = e.check("reply_to", ReplyTo::parse(&self.reply_to));
        let signature = e.check("signature", Signature::parse(&self.signature));
        let description = e.check("description", Description::parse(&self.description));
        let kind = match trim_spaces(&self.kind) {
            "" => Ok(ProfileKind::default()),
            other => ProfileKind::parse(other).ok_or(MSG_KIND),
        };
        let transport = match e.check("kind", kind) {
            Some(ProfileKind::Generic) => self.parse_generic(policy, mode, e),
            Some(ProfileKind::Graph) => self.parse_graph(mode, e),
            None => None,
        };
        match (name, from_address, from_name, reply_to, signature, description, transport) {
            (
                Some(name),
                Some(from_address),
                Some(from_name),
                Some(reply_to),
                Some(signature),
                Some(description),
                Some(transport),
            ) if errors.is_empty() => Ok(ProfileInput {
                name,
                is_default: self.is_default.is_some(),
                from_address,
                from_name,
                reply_to,
                signature,
                description,
                transport,
            }),
            _ => Err(errors),
        }
    }

    fn parse_generic(&self, policy: CredentialPolicy, mode: FormMode, e: &mut FieldErrors) -> Option<Transport> {
        let host = e.check("host", SmtpHost::parse(&self.host));
        let port = e.check("port", SmtpPort::parse(&self.port));
        let security = match trim_spaces(&self.security) {
            "" => Ok(Security::default()),
            other => Security::parse(other).ok_or(MSG_SECURITY),
        };
        let security = e.check("security", security);
        let ca_pem = e.check("ca_pem", CaPem::parse(&self.ca_pem));
        let auth = if self.auth_required.is_some() {
            let username = e.check("username", SmtpUsername::parse(&self.username, policy));
            let blank = match policy {
                CredentialPolicy::Documented => MSG_SMTP_PASSWORD,
                CredentialPolicy::Provider => MSG_PROVIDER_PASSWORD,
            };
            let password =
                e.check("password", secret(&self.password, mode, blank, |pw| SmtpPassword::parse(pw, policy)));
            match (username, password) {
                (Some(username), Some(password)) => Some(Some(SmtpAuth {
                    username: username.into_string(),
                    password: password.map(SmtpPassword::into_inner),
                })),
                _ => None,
            }
        } else {
            Some(None)
        };
        Some(Transport::Generic {
            host: host?,
            port: port?,
            security: security?,
            tls_verify: self.tls_verify.is_some(),
            ca_pem: ca_pem?,
            auth: auth?,
        })
    }

    fn parse_graph(&self, mode: FormMode, e: &mut FieldErrors) -> Option<Transport> {
        let username = e.check("username", GraphUserName::parse(&self.username));
        let password = e.check("password", secret(&self.password, mode, MSG_GRAPH_PASSWORD, GraphPassword::parse));
        let tenant_id = e.check("graph_tenant_id", GraphTenantId::parse(&self.graph_tenant_id));
        let client_id = e.check("graph_client_id", GraphClientId::parse(&self.graph_client_id));
        let client_secret = e.check(
            "graph_client_secret",
            secret(&self.graph_client_secret, mode, MSG_GRAPH_CLIENT_SECRET, GraphClientSecret::parse),
        );
        Some(Transport::Graph {
            username: username?.into_inner(),
            password: password?.map(GraphPassword::into_inner),
            tenant_id: tenant_id?,
            client_id: client_id?,
            client_secret: client_secret?.map(GraphClientSecret::into_inner),
        })
    }
}
