//! The profile form as submitted, and its parse into a [`ProfileInput`].

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::*;
use crate::domain::smtp_password::DocumentedFailure;
use crate::domain::text::*;

/// The profile form as submitted (SPEC §2 field names).
///
/// Every field defaults to empty, so a field the browser did not send (the
/// other type's fields, an unchecked checkbox) is not a deserialisation error.
/// A checkbox is on when present, whatever its value. The password and client
/// secret are `SecretString`s, so a logged form leaks neither.
#[derive(Debug, Default, Clone, Deserialize)]
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
    /// `max_per_minute`: empty for no limit.
    pub max_per_minute: String,
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
    /// `plain_login` checkbox (generic): the admin accepts that a login over Security None
    /// sends the password in the clear. Needed for exactly that combination.
    pub plain_login: Option<String>,
    /// `username`: the SMTP account (generic) or the Graph user name.
    pub username: String,
    /// `password`: the SMTP account password (generic) or the Graph password.
    pub password: SecretString,
    /// `sign_in` (generic, with a login): `password`, `oauth`, or empty for a password.
    pub sign_in: String,
    /// `oauth_provider` (OAuth): `microsoft`, `google` or `other`.
    pub oauth_provider: String,
    /// `oauth_directory` (OAuth, Microsoft): the directory (tenant) ID.
    pub oauth_directory: String,
    /// `oauth_client_id` (OAuth).
    pub oauth_client_id: String,
    /// `oauth_client_secret` (OAuth).
    pub oauth_client_secret: SecretString,
    /// `oauth_token_url` (OAuth, other provider).
    pub oauth_token_url: String,
    /// `oauth_scope` (OAuth, other provider).
    pub oauth_scope: String,
    /// `graph_tenant_id` (graph).
    pub graph_tenant_id: String,
    /// `graph_client_id` (graph).
    pub graph_client_id: String,
    /// `graph_client_secret` (graph).
    pub graph_client_secret: SecretString,
    /// `policy`: the tenant's credential policy as chosen on the form (`documented` or
    /// `provider`); empty or unknown keeps the tenant's. Saving applies it to the tenant.
    pub policy: String,
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

/// A required secret: blank keeps the stored one on edit and is
/// `blank_message` on create; anything else must pass `parse`.
fn secret<T>(
    input: &SecretString,
    mode: FormMode,
    blank_message: &'static str,
    parse: impl FnOnce(&str) -> Result<T, &'static str>,
) -> Result<Option<T>, &'static str> {
    let input = input.expose_secret();
    match (input.is_empty(), mode) {
        (true, FormMode::Edit) => Ok(None),
        (true, FormMode::Create) => Err(blank_message),
        (false, _) => parse(input).map(Some),
    }
}

impl ProfileForm {
    /// The credential policy this form is checked by: the one chosen on it, else `current`.
    pub fn policy_or(&self, current: CredentialPolicy) -> CredentialPolicy {
        CredentialPolicy::parse(&self.policy).unwrap_or(current)
    }

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
        let max_per_minute = e.check("max_per_minute", SendRate::parse(&self.max_per_minute));
        let kind = match trim_spaces(&self.kind) {
            "" => Ok(ProfileKind::default()),
            other => ProfileKind::parse(other).ok_or(MSG_KIND),
        };
        let transport = match e.check("kind", kind) {
            Some(ProfileKind::Generic) => self.parse_generic(policy, mode, e),
            Some(ProfileKind::Graph) => self.parse_graph(mode, e),
            None => None,
        };
        match (name, from_address, from_name, reply_to, signature, description, max_per_minute, transport) {
            (
                Some(name),
                Some(from_address),
                Some(from_name),
                Some(reply_to),
                Some(signature),
                Some(description),
                Some(max_per_minute),
                Some(transport),
            ) if errors.is_empty() => Ok(ProfileSettings {
                name,
                is_default: self.is_default.is_some(),
                from_address,
                from_name,
                reply_to,
                signature,
                description,
                max_per_minute,
                transport,
            }),
            _ => Err(errors),
        }
    }

    fn parse_generic(
        &self,
        policy: CredentialPolicy,
        mode: FormMode,
        e: &mut FieldErrors,
    ) -> Option<Transport<Option<SecretString>>> {
        let host = e.check("host", SmtpHost::parse(&self.host));
        let port = e.check("port", SmtpPort::parse(&self.port));
        let security = match trim_spaces(&self.security) {
            "" => Ok(Security::default()),
            other => Security::parse(other).ok_or(MSG_SECURITY),
        };
        let security = e.check("security", security);
        let ca_pem = e.check("ca_pem", CaPem::parse(&self.ca_pem));
        if security == Some(Security::None) && self.auth_required.is_some() && self.plain_login.is_none() {
            e.insert("plain_login", MSG_PLAIN_LOGIN);
        }
        let auth = if self.auth_required.is_some() {
            let username = e.check("username", SmtpUsername::parse(&self.username, policy));
            let blank = match policy {
                CredentialPolicy::Documented => msg_smtp_password(DocumentedFailure::Empty),
                CredentialPolicy::Provider => MSG_PROVIDER_PASSWORD,
            };
            let sign_in = match trim_spaces(&self.sign_in) {
                "" => Ok(SignIn::default()),
                other => SignIn::parse(other).ok_or(MSG_SIGN_IN),
            };
            match e.check("sign_in", sign_in) {
                Some(SignIn::Password) => {
                    let password =
                        e.check("password", secret(&self.password, mode, blank, |pw| SmtpPassword::parse(pw, policy)));
                    match (username, password) {
                        (Some(username), Some(password)) => Some(Some(SmtpAuth {
                            username,
                            password: password.map(SmtpPassword::into_inner),
                            oauth: None,
                        })),
                        _ => None,
                    }
                }
                Some(SignIn::OAuth) => {
                    let oauth = self.parse_oauth(mode, e);
                    match (username, oauth) {
                        (Some(username), Some((app, secret))) => {
                            Some(Some(SmtpAuth { username, password: secret, oauth: Some(app) }))
                        }
                        _ => None,
                    }
                }
                None => None,
            }
        } else {
            Some(None)
        };
        Some(Transport::Generic(GenericSmtp {
            host: host?,
            port: port?,
            security: security?,
            tls_verify: self.tls_verify.is_some(),
            ca_pem: ca_pem?,
            auth: auth?,
        }))
    }

    /// The OAuth app of a Generic SMTP login and its client secret (`None`: blank on edit).
    fn parse_oauth(&self, mode: FormMode, e: &mut FieldErrors) -> Option<(OAuthApp, Option<SecretString>)> {
        let kind = e.check("oauth_provider", OAuthProviderKind::parse(&self.oauth_provider).ok_or(MSG_OAUTH_PROVIDER));
        let provider = match kind {
            Some(OAuthProviderKind::Microsoft) => e
                .check("oauth_directory", GraphTenantId::parse(&self.oauth_directory))
                .map(|directory| OAuthProvider::Microsoft { directory }),
            Some(OAuthProviderKind::Google) => Some(OAuthProvider::Google),
            Some(OAuthProviderKind::Other) => {
                let token_url = e.check("oauth_token_url", TokenUrl::parse(&self.oauth_token_url));
                let scope = e.check("oauth_scope", OAuthScope::parse(&self.oauth_scope));
                match (token_url, scope) {
                    (Some(token_url), Some(scope)) => Some(OAuthProvider::Other { token_url, scope }),
                    _ => None,
                }
            }
            None => None,
        };
        let client_id = kind.and_then(|k| e.check("oauth_client_id", OAuthClientId::parse(&self.oauth_client_id, k)));
        let client_secret = e.check(
            "oauth_client_secret",
            secret(&self.oauth_client_secret, mode, MSG_OAUTH_CLIENT_SECRET, OAuthClientSecret::parse),
        );
        Some((
            OAuthApp { provider: provider?, client_id: client_id? },
            client_secret?.map(OAuthClientSecret::into_inner),
        ))
    }

    fn parse_graph(&self, mode: FormMode, e: &mut FieldErrors) -> Option<Transport<Option<SecretString>>> {
        let username = e.check("username", GraphUserName::parse(&self.username));
        let password = e.check("password", secret(&self.password, mode, MSG_GRAPH_PASSWORD, GraphPassword::parse));
        let tenant_id = e.check("graph_tenant_id", GraphTenantId::parse(&self.graph_tenant_id));
        let client_id = e.check("graph_client_id", GraphClientId::parse(&self.graph_client_id));
        let client_secret = e.check(
            "graph_client_secret",
            secret(&self.graph_client_secret, mode, MSG_GRAPH_CLIENT_SECRET, GraphClientSecret::parse),
        );
        Some(Transport::Graph(GraphApi {
            username: username?,
            password: password?.map(GraphPassword::into_inner),
            tenant_id: tenant_id?,
            client_id: client_id?,
            client_secret: client_secret?.map(GraphClientSecret::into_inner),
        }))
    }
}

impl ProfileForm {
    /// The form as a stored profile fills it: every setting, no secret (SPEC §2.2).
    pub fn from_settings<S>(p: &ProfileSettings<S>) -> ProfileForm {
        let on = |b: bool| b.then(|| "on".to_owned());
        let text = |t: Option<&str>| t.unwrap_or_default().to_owned();
        let common = ProfileForm {
            name: p.name.as_str().to_owned(),
            kind: p.transport.kind().as_str().to_owned(),
            is_default: on(p.is_default),
            from_address: p.from_address.as_str().to_owned(),
            from_name: p.from_name.as_str().to_owned(),
            reply_to: text(p.reply_to.as_ref().map(ReplyTo::as_str)),
            signature: text(p.signature.as_ref().map(Signature::as_str)),
            description: text(p.description.as_ref().map(Description::as_str)),
            max_per_minute: p.max_per_minute.map(|r| r.to_string()).unwrap_or_default(),
            ..ProfileForm::blank()
        };
        match &p.transport {
            Transport::Generic(g) => ProfileForm {
                host: g.host.as_str().to_owned(),
                port: g.port.get().to_string(),
                security: g.security.as_str().to_owned(),
                tls_verify: on(g.tls_verify),
                ca_pem: text(g.ca_pem.as_ref().map(CaPem::as_str)),
                auth_required: on(g.auth.is_some()),
                plain_login: on(g.auth.is_some() && g.security == Security::None),
                username: text(g.auth.as_ref().map(|a| a.username.as_str())),
                sign_in: g.auth.as_ref().map_or(SignIn::default(), SmtpAuth::sign_in).as_str().to_owned(),
                ..ProfileForm::with_oauth(g.auth.as_ref().and_then(|a| a.oauth.as_ref()), common)
            },
            Transport::Graph(g) => ProfileForm {
                username: g.username.as_str().to_owned(),
                graph_tenant_id: g.tenant_id.as_str().to_owned(),
                graph_client_id: g.client_id.as_str().to_owned(),
                ..common
            },
        }
    }

    /// `form` with the fields of an OAuth app filled in (unchanged when there is none).
    fn with_oauth(app: Option<&OAuthApp>, form: ProfileForm) -> ProfileForm {
        let Some(app) = app else { return form };
        let mut form = ProfileForm {
            oauth_provider: app.provider.kind().as_str().to_owned(),
            oauth_client_id: app.client_id.as_str().to_owned(),
            ..form
        };
        match &app.provider {
            OAuthProvider::Microsoft { directory } => form.oauth_directory = directory.as_str().to_owned(),
            OAuthProvider::Google => {}
            OAuthProvider::Other { token_url, scope } => {
                form.oauth_token_url = token_url.as_str().to_owned();
                form.oauth_scope = scope.as_ref().map(|s| s.as_str().to_owned()).unwrap_or_default();
            }
        }
        form
    }

    /// The form as a new profile starts: Generic, SSL on 465, certificate checks and
    /// login on.
    pub fn blank() -> ProfileForm {
        ProfileForm {
            kind: ProfileKind::Generic.as_str().into(),
            security: Security::default().as_str().into(),
            port: Security::default().default_port().to_string(),
            tls_verify: Some("on".into()),
            auth_required: Some("on".into()),
            sign_in: SignIn::default().as_str().into(),
            oauth_provider: OAuthProviderKind::Microsoft.as_str().into(),
            ..ProfileForm::default()
        }
    }

    /// The form without what was typed into its secret fields (a page never shows them).
    pub fn without_secrets(&self) -> ProfileForm {
        ProfileForm {
            password: SecretString::default(),
            graph_client_secret: SecretString::default(),
            oauth_client_secret: SecretString::default(),
            ..self.clone()
        }
    }
}
