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
    /// At most this many messages a minute through the profile; `None` is no limit.
    pub max_per_minute: Option<SendRate>,
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
    /// The account, by the tenant's policy (with OAuth, the mailbox signed in as).
    pub username: SmtpUsername,
    /// The profile's one login secret: the password, or with OAuth the app's client secret.
    pub password: S,
    /// `Some`: sign in with OAuth 2.0 (XOAUTH2) through this app rather than a password.
    pub oauth: Option<OAuthApp>,
}

impl<S> SmtpAuth<S> {
    /// How this login signs in.
    pub fn sign_in(&self) -> SignIn {
        if self.oauth.is_some() {
            SignIn::OAuth
        } else {
            SignIn::Password
        }
    }
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
    /// A Google account connected to an OAuth profile, with its refresh token.
    pub connected: Option<Connected<S>>,
    /// Why the provider last refused to issue a token for good, until a token comes again.
    pub token_problem: Option<String>,
}

/// A connected account ([`Connection`]) and the refresh token it gave.
#[derive(Debug, Clone)]
pub struct Connected<S> {
    pub connection: Connection,
    pub refresh_token: S,
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
            Self::Generic(g) => g.auth.as_ref().is_some_and(|a| a.oauth.is_none()),
            Self::Graph(_) => true,
        }
    }

    /// The OAuth app a Generic SMTP profile signs in through, when it uses OAuth.
    pub fn oauth(&self) -> Option<&OAuthApp> {
        match self {
            Self::Generic(g) => g.auth.as_ref().and_then(|a| a.oauth.as_ref()),
            Self::Graph(_) => None,
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
                oauth: g.auth.as_ref().and_then(|a| a.oauth.as_ref()).map(OAuthApp::scope_key),
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
                    Some(a) => Some(SmtpAuth { username: a.username, password: f(a.password)?, oauth: a.oauth }),
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
            max_per_minute: self.max_per_minute,
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
        /// With OAuth: the provider, its directory or token URL and scope, and the client
        /// ID ([`OAuthApp::scope_key`]); `None` for a password.
        oauth: Option<String>,
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
    /// What must stay the same for a saved OAuth client secret and connected account to be
    /// kept.
    pub const OAUTH_RULE: &'static str =
        "the type, host, port, security, certificate settings, account, provider and client ID";
    /// What must stay the same for a saved Graph password and client secret to be kept.
    pub const GRAPH_RULE: &'static str = "the type, user name, tenant ID and client ID";

    /// The first thing that differs from `before`, in the order of [`Self::GENERIC_RULE`]
    /// and [`Self::GRAPH_RULE`]; `None` when a saved secret may be kept.
    pub fn change_from(&self, before: &SecretScope<'_>) -> Option<ScopeChange> {
        use SecretScope::*;
        match (self, before) {
            (
                Generic { host, port, security, tls_verify, ca_pem, username, oauth },
                Generic {
                    host: host0,
                    port: port0,
                    security: security0,
                    tls_verify: tls_verify0,
                    ca_pem: ca_pem0,
                    username: username0,
                    oauth: oauth0,
                },
            ) => [
                (oauth.is_some() != oauth0.is_some(), ScopeChange::SignIn),
                (host != host0, ScopeChange::Host),
                (port != port0, ScopeChange::Port),
                (security != security0, ScopeChange::Security),
                (tls_verify != tls_verify0 || ca_pem != ca_pem0, ScopeChange::Certificate),
                (username != username0, ScopeChange::Account),
                (oauth != oauth0, ScopeChange::OAuthApp),
            ]
            .into_iter()
            .find_map(|(changed, what)| changed.then_some(what)),
            (
                Graph { username, tenant_id, client_id },
                Graph { username: username0, tenant_id: tenant_id0, client_id: client_id0 },
            ) => [
                (username != username0, ScopeChange::UserName),
                (tenant_id != tenant_id0, ScopeChange::TenantId),
                (client_id != client_id0, ScopeChange::ClientId),
            ]
            .into_iter()
            .find_map(|(changed, what)| changed.then_some(what)),
            _ => Some(ScopeChange::Type),
        }
    }

    /// A digest of these settings, to bind a secret held for a moment (a password just
    /// tried) to exactly them without keeping them twice. Equal scopes, equal digests.
    pub fn fingerprint(&self) -> String {
        use sha2::Digest as _;
        // `Debug` quotes and escapes every string, so two different scopes never print
        // the same; the digest only has to live as long as one build of the app.
        let digest = sha2::Sha256::digest(format!("{self:?}").as_bytes());
        digest.iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// Which setting a saved secret depended on was changed (see [`SecretScope`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScopeChange {
    Type,
    Host,
    Port,
    Security,
    Certificate,
    Account,
    UserName,
    TenantId,
    ClientId,
    /// Password or OAuth.
    SignIn,
    /// The OAuth provider, its directory, token URL or scope, or the client ID.
    OAuthApp,
}

/// The sentence, shown beside the password and in the hints, that says when a saved
/// password is kept: one wording wherever the rule is stated.
pub fn reuse_rule(kind: ProfileKind) -> String {
    match kind {
        ProfileKind::Generic => {
            format!("A saved password is kept only while {} stay the same.", SecretScope::GENERIC_RULE)
        }
        ProfileKind::Graph => {
            format!("A saved password and client secret are kept only while {} stay the same.", SecretScope::GRAPH_RULE)
        }
    }
}

/// The sentence beside an OAuth client secret on edit: when it and a connected account are
/// kept.
pub fn oauth_reuse_rule() -> String {
    format!(
        "A saved client secret and connected account are kept only while {} stay the same.",
        SecretScope::OAUTH_RULE
    )
}

/// The message on a secret field left blank on edit whose saved value is not kept because
/// `change` happened (`field` is `password`, `graph_client_secret` or `oauth_client_secret`).
pub fn msg_secret_cleared(field: &str, change: ScopeChange) -> &'static str {
    use ScopeChange::*;
    if field == "oauth_client_secret" {
        return match change {
            SignIn => "The client secret was cleared because the sign-in changed; enter it again.",
            Host => "The client secret was cleared because the host changed; enter it again.",
            Port => "The client secret was cleared because the port changed; enter it again.",
            Security => "The client secret was cleared because the security mode changed; enter it again.",
            Certificate => "The client secret was cleared because the certificate settings changed; enter it again.",
            Account => "The client secret was cleared because the SMTP account changed; enter it again.",
            _ => "The client secret was cleared because the provider, client ID, directory, token URL or scope changed; enter it again.",
        };
    }
    let client_secret = field == "graph_client_secret";
    match (client_secret, change) {
        (false, SignIn) => "The password was cleared because the sign-in changed; enter it again.",
        (false, Type) => "The password was cleared because the type changed; enter it again.",
        (false, Host) => "The password was cleared because the host changed; enter it again.",
        (false, Port) => "The password was cleared because the port changed; enter it again.",
        (false, Security) => "The password was cleared because the security mode changed; enter it again.",
        (false, Certificate) => "The password was cleared because the certificate settings changed; enter it again.",
        (false, Account) => "The password was cleared because the SMTP account changed; enter it again.",
        (false, UserName) => "The password was cleared because the user name changed; enter it again.",
        (false, TenantId) => "The password was cleared because the tenant ID changed; enter it again.",
        (false, ClientId) => "The password was cleared because the client ID changed; enter it again.",
        (false, OAuthApp) => "The password was cleared because the provider, client ID, directory, token URL or scope changed; enter it again.",
        (true, Type) => "The client secret was cleared because the type changed; enter it again.",
        (true, UserName) => "The client secret was cleared because the user name changed; enter it again.",
        (true, TenantId) => "The client secret was cleared because the tenant ID changed; enter it again.",
        (true, _) => "The client secret was cleared because the client ID changed; enter it again.",
    }
}

/// The secret fields of a transport, in the order `try_map_secrets` visits them.
fn secret_fields<S>(transport: &Transport<S>) -> &'static [&'static str] {
    match transport {
        Transport::Generic(g) => match g.auth.as_ref().map(SmtpAuth::sign_in) {
            Some(SignIn::Password) => &["password"],
            Some(SignIn::OAuth) => &["oauth_client_secret"],
            None => &[],
        },
        Transport::Graph(_) => &["password", "graph_client_secret"],
    }
}

impl ProfileInput {
    /// The secret fields that were typed (not left blank), by form field name.
    pub fn typed_secret_fields(&self) -> Vec<&'static str> {
        let mut typed = Vec::new();
        let mut fields = secret_fields(&self.transport).iter();
        let _ = self.transport.clone().map_secrets(|s| {
            if let (Some(_), Some(field)) = (s, fields.next()) {
                typed.push(*field);
            }
        });
        typed
    }

    /// The secrets as typed, in `try_map_secrets` order (`None` for a blank one).
    pub fn typed_secrets(&self) -> Vec<Option<SecretString>> {
        let mut out = Vec::new();
        let _ = self.transport.clone().map_secrets(|s| out.push(s));
        out
    }

    /// Fills each blank secret from `held` (same order as [`Self::typed_secrets`]): a
    /// password just tried with exactly these settings. A typed secret always wins.
    pub fn fill_blank_secrets(self, held: Vec<Option<SecretString>>) -> ProfileInput {
        let mut held = held.into_iter();
        let transport = self.transport.clone().map_secrets(|typed| {
            let held = held.next().flatten();
            typed.or(held)
        });
        self.with_transport(transport)
    }

    /// Decides every secret of a parsed form: a typed one is sealed with `seal`; a blank
    /// one keeps the saved one of `stored` only while [`SecretScope`] is unchanged, and is
    /// otherwise refused: with [`msg_secret_cleared`] when there was a saved one, else with
    /// its field's message (SPEC §2, §2.2). On create `stored` is `None`, so every secret
    /// must be typed.
    pub fn with_secrets<T: Clone>(
        self,
        policy: CredentialPolicy,
        stored: Option<&ProfileSettings<T>>,
        mut seal: impl FnMut(SecretString) -> T,
    ) -> Result<ProfileSettings<T>, FieldErrors> {
        let change = stored.and_then(|s| self.transport.scope().change_from(&s.transport.scope()));
        let kept = stored.filter(|_| change.is_none()).map(|s| &s.transport);
        let had_saved = stored.map_or(&[][..], |s| secret_fields(&s.transport));
        // The saved secrets in the order `try_map_secrets` visits them.
        let mut saved: Vec<&T> = match kept {
            Some(Transport::Generic(g)) => g.auth.iter().map(|a| &a.password).collect(),
            Some(Transport::Graph(g)) => vec![&g.password, &g.client_secret],
            None => Vec::new(),
        };
        saved.reverse();
        let blank_password = match (&self.transport, policy) {
            (Transport::Generic(_), CredentialPolicy::Documented) => {
                msg_smtp_password(crate::domain::smtp_password::DocumentedFailure::Empty)
            }
            (Transport::Generic(_), CredentialPolicy::Provider) => MSG_PROVIDER_PASSWORD,
            (Transport::Graph(_), _) => MSG_GRAPH_PASSWORD,
        };
        let fields: &[(&'static str, &'static str)] = match &self.transport {
            Transport::Generic(g) if g.auth.as_ref().is_some_and(|a| a.oauth.is_some()) => {
                &[("oauth_client_secret", MSG_OAUTH_CLIENT_SECRET)]
            }
            Transport::Generic(_) => &[("password", "")],
            Transport::Graph(_) => &[("password", ""), ("graph_client_secret", MSG_GRAPH_CLIENT_SECRET)],
        };
        let mut fields = fields.iter();
        let mut errors = FieldErrors::default();
        let decided = self.transport.clone().map_secrets(|typed| match (typed, saved.pop(), fields.next()) {
            (Some(plain), _, _) => Some(seal(plain)),
            (None, Some(kept), _) => Some(kept.clone()),
            (None, None, Some((field, message))) => {
                let message = match change {
                    Some(change) if had_saved.contains(field) => msg_secret_cleared(field, change),
                    _ if message.is_empty() => blank_password,
                    _ => message,
                };
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

/// The form fields whose values differ between `before` and `after`, in form order, by
/// form field name; secrets are not compared (see [`ProfileInput::typed_secret_fields`]).
/// `is_default` counts only when it became the default (the form cannot unset it).
pub fn changed_fields<T, U>(before: &ProfileSettings<T>, after: &ProfileSettings<U>) -> Vec<&'static str> {
    let mut changed = Vec::new();
    let mut note = |field: &'static str, differs: bool| {
        if differs {
            changed.push(field);
        }
    };
    note("name", before.name != after.name);
    note("kind", before.kind() != after.kind());
    note("is_default", after.is_default && !before.is_default);
    note("from_address", before.from_address != after.from_address);
    note("from_name", before.from_name != after.from_name);
    note("reply_to", before.reply_to != after.reply_to);
    note("signature", before.signature != after.signature);
    note("description", before.description != after.description);
    note("max_per_minute", before.max_per_minute != after.max_per_minute);
    match (&before.transport, &after.transport) {
        (Transport::Generic(b), Transport::Generic(a)) => {
            note("host", b.host != a.host);
            note("port", b.port != a.port);
            note("security", b.security != a.security);
            note("tls_verify", b.tls_verify != a.tls_verify);
            note("ca_pem", b.ca_pem != a.ca_pem);
            note("auth_required", b.auth.is_some() != a.auth.is_some());
            let (oauth_b, oauth_a) =
                (b.auth.as_ref().and_then(|x| x.oauth.as_ref()), a.auth.as_ref().and_then(|x| x.oauth.as_ref()));
            note("sign_in", b.auth.is_some() && a.auth.is_some() && oauth_b.is_some() != oauth_a.is_some());
            if let (Some(ob), Some(oa)) = (oauth_b, oauth_a) {
                note("oauth_provider", ob.provider.kind() != oa.provider.kind());
                note("oauth_client_id", ob.client_id != oa.client_id);
                match (&ob.provider, &oa.provider) {
                    (OAuthProvider::Microsoft { directory: d0 }, OAuthProvider::Microsoft { directory: d1 }) => {
                        note("oauth_directory", d0 != d1);
                    }
                    (
                        OAuthProvider::Other { token_url: t0, scope: s0 },
                        OAuthProvider::Other { token_url: t1, scope: s1 },
                    ) => {
                        note("oauth_token_url", t0 != t1);
                        note("oauth_scope", s0 != s1);
                    }
                    _ => {}
                }
            }
            let (user_b, user_a) = (before.transport.username(), after.transport.username());
            note("username", user_b.is_some() && user_a.is_some() && user_b != user_a);
        }
        (Transport::Graph(b), Transport::Graph(a)) => {
            note("username", b.username != a.username);
            note("graph_tenant_id", b.tenant_id != a.tenant_id);
            note("graph_client_id", b.client_id != a.client_id);
        }
        _ => {}
    }
    changed
}
