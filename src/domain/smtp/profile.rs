//! A profile's settings, typed. One shape serves the form, the store and the mail, and
//! differs only in how its secrets are held (`S`):
//!
//! - `Option<SecretString>` as parsed from a form ([`ProfileInput`]): `None` is a blank
//!   password on edit, meaning "keep the saved one";
//! - a sealed value as stored (the store loads rows into `Profile<Sealed>`);
//! - `SecretString` once opened for sending.
//!
//! [`ProfileInput::with_secrets`] is the one place that decides whether a saved secret
//! is kept or must be typed again, by the one rule [`SecretScope`].

use secrecy::SecretString;

use super::*;
use crate::domain::FieldErrors;

/// A profile's row id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, sqlx::Type, serde::Serialize, serde::Deserialize)]
#[sqlx(transparent)]
pub struct ProfileId(pub i64);

/// Everything a profile is, but its id and test result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileSettings<S> {
    /// Unique in the tenant only once the store agrees ([`MSG_NAME_TAKEN`]).
    pub name: ProfileName,
    /// Stored: whether it is the default. From a form: the `is_default` checkbox, which
    /// only ever makes a profile the default (SPEC §3).
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
    pub transport: Transport<S>,
}

/// A profile form that passed every rule of its type; a blank secret (edit only) is
/// `None`.
pub type ProfileInput = ProfileSettings<Option<SecretString>>;

/// How mail leaves a profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transport<S> {
    /// Plain SMTP.
    Generic(GenericSmtp<S>),
    /// Microsoft Graph `sendMail`.
    Graph(GraphApi<S>),
}

/// The settings of a Generic SMTP profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenericSmtp<S> {
    /// Server host.
    pub host: SmtpHost,
    /// Server port.
    pub port: SmtpPort,
    /// Implicit TLS, required STARTTLS or none.
    pub security: Security,
    /// Whether the server certificate is verified.
    pub tls_verify: bool,
    /// Extra CAs trusted for this profile only.
    pub ca_pem: Option<CaPem>,
    /// Credentials; `None` when `auth_required` is off.
    pub auth: Option<SmtpAuth<S>>,
}

/// The login of a Generic SMTP profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpAuth<S> {
    /// The account, by the tenant's policy.
    pub username: SmtpUsername,
    /// The password.
    pub password: S,
}

/// The settings of an MS Graph API profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphApi<S> {
    /// The mailbox sent as.
    pub username: GraphUserName,
    /// The mailbox's password (seed 004 asks for it).
    pub password: S,
    /// The Entra ID tenant.
    pub tenant_id: GraphTenantId,
    /// The application (client) ID.
    pub client_id: GraphClientId,
    /// The client secret of the client-credentials grant.
    pub client_secret: S,
}

/// A stored profile: its id, its settings and the last test email's result.
#[derive(Debug, Clone)]
pub struct Profile<S> {
    pub id: ProfileId,
    pub settings: ProfileSettings<S>,
    pub last_test: Option<LastTest>,
}

/// The result of the last test email, shown in the list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastTest {
    /// Seconds since the Unix epoch.
    pub at: i64,
    pub ok: bool,
    pub message: String,
}

impl<S> Transport<S> {
    /// The profile type these settings belong to.
    pub fn kind(&self) -> ProfileKind {
        match self {
            Self::Generic(_) => ProfileKind::Generic,
            Self::Graph(_) => ProfileKind::Graph,
        }
    }

    /// Whether a password is part of these settings (a copy asks for it again).
    pub fn has_password(&self) -> bool {
        match self {
            Self::Generic(g) => g.auth.is_some(),
            Self::Graph(_) => true,
        }
    }

    /// The account shown in lists and test emails, when there is a login.
    pub fn username(&self) -> Option<&str> {
        match self {
            Self::Generic(g) => g.auth.as_ref().map(|a| a.username.as_str()),
            Self::Graph(g) => Some(g.username.as_str()),
        }
    }

    /// What a saved secret of these settings is bound to.
    pub fn scope(&self) -> SecretScope<'_> {
        match self {
            Self::Generic(g) => SecretScope::Generic {
                host: g.host.as_str().to_ascii_lowercase(),
                port: g.port.get(),
                security: g.security,
                tls_verify: g.tls_verify,
                ca_pem: g.ca_pem.as_ref().map(CaPem::as_str),
                username: g.auth.as_ref().map(|a| a.username.as_str()),
            },
            Self::Graph(g) => SecretScope::Graph {
                username: g.username.as_str(),
                tenant_id: g.tenant_id.as_str(),
                client_id: g.client_id.as_str(),
            },
        }
    }

    /// The same settings with each secret changed by `f`, in the order password, client
    /// secret.
    pub fn map_secrets<T>(self, mut f: impl FnMut(S) -> T) -> Transport<T> {
        match self.try_map_secrets(|s| Ok::<_, std::convert::Infallible>(f(s))) {
            Ok(transport) => transport,
            Err(never) => match never {},
        }
    }

    /// The same settings with each secret changed by `f` (sealed, opened, …); the first
    /// error stops it.
    pub fn try_map_secrets<T, E>(self, mut f: impl FnMut(S) -> Result<T, E>) -> Result<Transport<T>, E> {
        Ok(match self {
            Self::Generic(g) => Transport::Generic(GenericSmtp {
                host: g.host,
                port: g.port,
                security: g.security,
                tls_verify: g.tls_verify,
                ca_pem: g.ca_pem,
                auth: match g.auth {
                    Some(a) => Some(SmtpAuth { username: a.username, password: f(a.password)? }),
                    None => None,
                },
            }),
            Self::Graph(g) => Transport::Graph(GraphApi {
                username: g.username,
                password: f(g.password)?,
                tenant_id: g.tenant_id,
                client_id: g.client_id,
                client_secret: f(g.client_secret)?,
            }),
        })
    }
}

impl<S> ProfileSettings<S> {
    /// The profile's type.
    pub fn kind(&self) -> ProfileKind {
        self.transport.kind()
    }

    /// The same profile over other transport settings.
    pub fn with_transport<T>(self, transport: Transport<T>) -> ProfileSettings<T> {
        ProfileSettings {
            name: self.name,
            is_default: self.is_default,
            from_address: self.from_address,
            from_name: self.from_name,
            reply_to: self.reply_to,
            signature: self.signature,
            description: self.description,
            transport,
        }
    }

    /// A copy under `name` (SPEC §4): never the default, and every secret typed again
    /// (`password` for the password, `client_secret` for a Graph client secret).
    pub fn copy_as(&self, name: ProfileName, password: SecretString, client_secret: SecretString) -> ProfileInput
    where
        S: Clone,
    {
        let mut typed = [password, client_secret].into_iter();
        let transport = self.transport.clone().map_secrets(|_| typed.next());
        ProfileSettings { name, is_default: false, ..self.clone() }.with_transport(transport)
    }
}

/// What a saved secret is bound to. A saved password or client secret is reused only
/// while this stays the same, so nobody can send a saved secret to another server
/// (SPEC §4), or to the same one in the clear or past an unchecked certificate, by
/// editing the profile and leaving the password blank.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretScope<'a> {
    Generic {
        /// Compared without regard to case, as DNS does.
        host: String,
        port: u16,
        security: Security,
        tls_verify: bool,
        ca_pem: Option<&'a str>,
        username: Option<&'a str>,
    },
    Graph {
        username: &'a str,
        tenant_id: &'a str,
        client_id: &'a str,
    },
}

impl SecretScope<'_> {
    /// What must stay the same for a saved Generic SMTP password to be kept, in words.
    pub const GENERIC_RULE: &'static str = "the type, host, port, security, certificate settings and account";
    /// What must stay the same for a saved Graph password and client secret to be kept.
    pub const GRAPH_RULE: &'static str = "the type, user name, tenant ID and client ID";
}

impl ProfileInput {
    /// Decides every secret of a parsed form: a typed one is sealed with `seal`; a blank
    /// one keeps the saved one of `stored` only while [`SecretScope`] is unchanged, and is
    /// otherwise refused with its field's message (SPEC §2, §2.2). On create `stored` is
    /// `None`, so every secret must be typed.
    pub fn with_secrets<T: Clone>(
        self,
        policy: CredentialPolicy,
        stored: Option<&ProfileSettings<T>>,
        mut seal: impl FnMut(SecretString) -> T,
    ) -> Result<ProfileSettings<T>, FieldErrors> {
        let kept = stored.filter(|s| s.transport.scope() == self.transport.scope()).map(|s| &s.transport);
        // The saved secrets in the order `try_map_secrets` visits them.
        let mut saved: Vec<&T> = match kept {
            Some(Transport::Generic(g)) => g.auth.iter().map(|a| &a.password).collect(),
            Some(Transport::Graph(g)) => vec![&g.password, &g.client_secret],
            None => Vec::new(),
        };
        saved.reverse();
        let fields: &[(&'static str, &'static str)] = match (&self.transport, policy) {
            (Transport::Generic(_), CredentialPolicy::Documented) => &[("password", MSG_SMTP_PASSWORD)],
            (Transport::Generic(_), CredentialPolicy::Provider) => &[("password", MSG_PROVIDER_PASSWORD)],
            (Transport::Graph(_), _) => {
                &[("password", MSG_GRAPH_PASSWORD), ("graph_client_secret", MSG_GRAPH_CLIENT_SECRET)]
            }
        };
        let mut fields = fields.iter();
        let mut errors = FieldErrors::default();
        let decided = self.transport.clone().map_secrets(|typed| match (typed, saved.pop(), fields.next()) {
            (Some(plain), _, _) => Some(seal(plain)),
            (None, Some(kept), _) => Some(kept.clone()),
            (None, None, Some((field, message))) => {
                errors.insert(field, message);
                None
            }
            (None, None, None) => None,
        });
        let transport = decided.try_map_secrets(|secret| secret.ok_or(()));
        match transport {
            Ok(transport) if errors.is_empty() => Ok(self.with_transport(transport)),
            _ => Err(errors),
        }
    }
}
