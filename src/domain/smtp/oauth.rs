//! Signing in to an SMTP server with OAuth 2.0 (SASL `XOAUTH2`) instead of a password: the
//! provider that issues the access token and the app (client) it is issued to.
//!
//! Microsoft 365 turns off password sign-in for SMTP submission, and Google steers every
//! app to OAuth. The SMTP user stays the mailbox address; what changes is where the token
//! comes from:
//!
//! - Microsoft 365 (app): the client-credentials grant of an Entra ID app, scope
//!   [`MICROSOFT_SMTP_SCOPE`];
//! - Google (account): a refresh token kept from a person's consent (Connect account);
//! - another provider: the client-credentials grant at a token URL the tenant gives.

use std::fmt;

use super::*;
use crate::domain::text::*;

/// The scope of a Microsoft client-credentials token for SMTP (Exchange Online).
pub const MICROSOFT_SMTP_SCOPE: &str = "https://outlook.office365.com/.default";
/// The scope Google requires for SMTP with XOAUTH2.
pub const GOOGLE_SMTP_SCOPE: &str = "https://mail.google.com/";

/// `sign_in` is neither `password` nor `oauth`.
pub const MSG_SIGN_IN: &str = "Please choose how to sign in.";
/// `oauth_provider` is not one of the providers.
pub const MSG_OAUTH_PROVIDER: &str = "Please choose an OAuth provider.";
/// `oauth_client_id` is empty, too long, or holds spaces or control characters.
pub const MSG_OAUTH_CLIENT_ID: &str = "Please enter the client ID your provider gave you.";
/// `oauth_client_secret` is missing, too long or holds control characters.
pub const MSG_OAUTH_CLIENT_SECRET: &str = "Please enter the client secret.";
/// `oauth_token_url` is not an https address.
pub const MSG_OAUTH_TOKEN_URL: &str = "Please enter the token URL, an https:// address.";
/// `oauth_scope` holds control characters or is too long.
pub const MSG_OAUTH_SCOPE: &str = "Please enter the scopes separated by spaces, within 500 characters.";

/// How a Generic SMTP profile signs in (`sign_in`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SignIn {
    /// AUTH PLAIN or LOGIN with the account's password.
    #[default]
    Password,
    /// AUTH XOAUTH2 with an access token.
    OAuth,
}

impl SignIn {
    /// In the order the form lists them.
    pub const ALL: [SignIn; 2] = [SignIn::Password, SignIn::OAuth];

    /// The form value, surrounding spaces ignored.
    pub fn parse(input: &str) -> Option<Self> {
        match trim_spaces(input) {
            "password" => Some(Self::Password),
            "oauth" => Some(Self::OAuth),
            _ => None,
        }
    }

    /// The form value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Password => "password",
            Self::OAuth => "oauth",
        }
    }

    /// What a person sees.
    pub fn label(self) -> &'static str {
        match self {
            Self::Password => "Password",
            Self::OAuth => "OAuth 2.0",
        }
    }
}

/// Which provider issues the access token (`oauth_provider`); stored as its form value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, sqlx::Type)]
#[sqlx(type_name = "TEXT", rename_all = "lowercase")]
pub enum OAuthProviderKind {
    /// Microsoft 365, an Entra ID app with the client-credentials grant.
    Microsoft,
    /// Google, a person's account connected once (authorization code with PKCE).
    Google,
    /// Any other provider's token URL, client-credentials grant.
    Other,
}

impl OAuthProviderKind {
    /// In the order the form lists them.
    pub const ALL: [OAuthProviderKind; 3] = [Self::Microsoft, Self::Google, Self::Other];

    /// The form value, surrounding spaces ignored.
    pub fn parse(input: &str) -> Option<Self> {
        match trim_spaces(input) {
            "microsoft" => Some(Self::Microsoft),
            "google" => Some(Self::Google),
            "other" => Some(Self::Other),
            _ => None,
        }
    }

    /// The form and database value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Microsoft => "microsoft",
            Self::Google => "google",
            Self::Other => "other",
        }
    }

    /// What a person sees.
    pub fn label(self) -> &'static str {
        match self {
            Self::Microsoft => "Microsoft 365 (app)",
            Self::Google => "Google (account)",
            Self::Other => "Other provider",
        }
    }
}

/// Where the token comes from, with the settings of that provider only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OAuthProvider {
    /// Microsoft 365: the directory (tenant) the app is registered in.
    Microsoft { directory: GraphTenantId },
    /// Google: the account is connected from the profile page.
    Google,
    /// Another provider: its token endpoint and the scopes to ask for.
    Other { token_url: TokenUrl, scope: Option<OAuthScope> },
}

impl OAuthProvider {
    /// Which provider this is.
    pub fn kind(&self) -> OAuthProviderKind {
        match self {
            Self::Microsoft { .. } => OAuthProviderKind::Microsoft,
            Self::Google => OAuthProviderKind::Google,
            Self::Other { .. } => OAuthProviderKind::Other,
        }
    }
}

/// The OAuth app a Generic SMTP profile signs in through. Its client secret is the
/// profile's secret ([`SmtpAuth::password`]), sealed like a password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthApp {
    pub provider: OAuthProvider,
    pub client_id: OAuthClientId,
}

impl OAuthApp {
    /// Everything a saved client secret or connected account is bound to, in one line
    /// (compared by [`SecretScope`]): the provider, its directory or token URL and scope,
    /// and the client ID.
    pub fn scope_key(&self) -> String {
        let provider = match &self.provider {
            OAuthProvider::Microsoft { directory } => format!("microsoft {}", directory.as_str().to_ascii_lowercase()),
            OAuthProvider::Google => "google".to_owned(),
            OAuthProvider::Other { token_url, scope } => {
                format!("other {} {}", token_url.as_str(), scope.as_ref().map_or("", |s| s.as_str()))
            }
        };
        format!("{provider} {:?}", self.client_id.as_str())
    }
}

/// An OAuth client ID: 1–200 printable characters without spaces (Google's end in
/// `.apps.googleusercontent.com`; Microsoft's are GUIDs, checked by [`GraphClientId`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthClientId(String);

impl OAuthClientId {
    /// Longest client ID, in characters.
    pub const MAX_LEN: usize = 200;

    /// Trims spaces; for Microsoft a GUID ([`MSG_GRAPH_CLIENT_ID`]), else
    /// [`MSG_OAUTH_CLIENT_ID`].
    pub fn parse(input: &str, provider: OAuthProviderKind) -> Result<Self, &'static str> {
        if provider == OAuthProviderKind::Microsoft {
            return GraphClientId::parse(input).map(|id| Self(id.as_str().to_owned()));
        }
        let id = trim_spaces(input);
        if char_len_within(id, 1, Self::MAX_LEN) && !id.chars().any(|c| c.is_control() || c.is_whitespace()) {
            Ok(Self(id.to_owned()))
        } else {
            Err(MSG_OAUTH_CLIENT_ID)
        }
    }

    /// The client ID, as entered.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An OAuth client secret: 1–256 characters, no control characters, not trimmed. Its
/// `Debug` shows none of it.
#[derive(Debug, Clone)]
pub struct OAuthClientSecret(secrecy::SecretString);

impl OAuthClientSecret {
    /// Longest secret, in characters.
    pub const MAX_LEN: usize = 256;

    /// Not trimmed; the error is [`MSG_OAUTH_CLIENT_SECRET`].
    pub fn parse(input: &str) -> Result<Self, &'static str> {
        if char_len_within(input, 1, Self::MAX_LEN) && !input.chars().any(char::is_control) {
            Ok(Self(secrecy::SecretString::from(input)))
        } else {
            Err(MSG_OAUTH_CLIENT_SECRET)
        }
    }

    /// The secret, owned.
    pub fn into_inner(self) -> secrecy::SecretString {
        self.0
    }
}

/// Another provider's token endpoint: an `https://` URL without credentials or fragment.
/// `http://` is accepted only for a loopback host (a token service on the same machine,
/// as RFC 8252 allows for loopback), where nothing crosses a network; whether relaydesk
/// may connect to it at all is still the egress policy's decision at send time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenUrl(url::Url);

impl TokenUrl {
    /// Longest URL, in characters.
    pub const MAX_LEN: usize = 500;

    /// Trims spaces; the error is [`MSG_OAUTH_TOKEN_URL`].
    pub fn parse(input: &str) -> Result<Self, &'static str> {
        let text = single_line(input, 1, Self::MAX_LEN).ok_or(MSG_OAUTH_TOKEN_URL)?;
        let url = url::Url::parse(text).map_err(|_| MSG_OAUTH_TOKEN_URL)?;
        let loopback = match url.host() {
            Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            None => false,
        };
        let scheme_ok = url.scheme() == "https" || (url.scheme() == "http" && loopback);
        if !scheme_ok || url.host().is_none() || !url.username().is_empty() || url.password().is_some() {
            return Err(MSG_OAUTH_TOKEN_URL);
        }
        if url.fragment().is_some() {
            return Err(MSG_OAUTH_TOKEN_URL);
        }
        Ok(Self(url))
    }

    /// The URL as text.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// The URL.
    pub fn url(&self) -> &url::Url {
        &self.0
    }
}

impl fmt::Display for TokenUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.as_str())
    }
}

/// The scopes asked of another provider, separated by spaces; blank asks for none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthScope(String);

impl OAuthScope {
    /// Longest scope list, in characters.
    pub const MAX_LEN: usize = 500;

    /// Trims spaces; blank is `None`; the error is [`MSG_OAUTH_SCOPE`].
    pub fn parse(input: &str) -> Result<Option<Self>, &'static str> {
        optional_line(input, Self::MAX_LEN)
            .map(|s| s.map(|s| Self(s.split(' ').filter(|w| !w.is_empty()).collect::<Vec<_>>().join(" "))))
            .map_err(|()| MSG_OAUTH_SCOPE)
    }

    /// The scopes, one space between them.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A Google account connected to a profile: who consented, and when (seconds since the
/// epoch). The refresh token itself stays sealed in the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connection {
    pub account: String,
    pub at: i64,
}
