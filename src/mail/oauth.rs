//! Access tokens for SMTP sign-in with OAuth 2.0 (XOAUTH2): from Microsoft's token
//! endpoint (client credentials), Google's (a connected account's refresh token) or
//! another provider's (client credentials), kept in memory per app until shortly before
//! they expire.
//!
//! The Microsoft and Google endpoints are the operator's settings; a token URL an
//! organization typed is reached only through the egress policy, like an SMTP host, and
//! only at the addresses that policy checked.

use std::collections::HashMap;
use std::sync::Mutex;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use url::Url;

use super::egress::Grant;
use super::error::SendError;
use super::graph::{endpoint, first_line};
use crate::clock::Clock;
use crate::domain::smtp::{OAuthApp, OAuthProvider, GOOGLE_SMTP_SCOPE, MICROSOFT_SMTP_SCOPE};

/// A token is used until this many seconds before the provider says it expires, so one
/// never runs out between being taken and the server checking it.
pub const EXPIRY_MARGIN: i64 = 120;

/// Where the providers' services are (settings, so tests and sovereign clouds can point
/// elsewhere).
#[derive(Debug, Clone)]
pub struct OAuthEndpoints {
    /// Microsoft's sign-in service (`RELAYDESK_GRAPH_LOGIN_URL`, the one MS Graph uses).
    pub microsoft_login: Url,
    /// Google's consent page (`RELAYDESK_GOOGLE_AUTH_URL`).
    pub google_authorize: Url,
    /// Google's token endpoint (`RELAYDESK_GOOGLE_TOKEN_URL`).
    pub google_token: Url,
    /// Google's revocation endpoint (`RELAYDESK_GOOGLE_REVOKE_URL`).
    pub google_revoke: Url,
}

/// The access tokens held in memory, by [`Credentials::cache_key`].
pub struct Tokens {
    endpoints: OAuthEndpoints,
    clock: Clock,
    cache: Mutex<HashMap<String, Cached>>,
}

struct Cached {
    token: SecretString,
    /// Seconds since the epoch after which it is not used any more.
    until: i64,
}

/// What a token is asked with: the app, its client secret and, for Google, the refresh
/// token of the connected account.
pub struct Credentials<'a> {
    pub app: &'a OAuthApp,
    pub client_secret: &'a SecretString,
    pub refresh_token: Option<&'a SecretString>,
}

impl Credentials<'_> {
    /// A digest of everything the token depends on: a changed secret, app or account never
    /// gets a token cached for the old ones. Only the digest is kept as a key.
    fn cache_key(&self) -> String {
        use sha2::Digest as _;
        let mut digest = sha2::Sha256::new();
        for part in [
            self.app.scope_key().as_str(),
            self.client_secret.expose_secret(),
            self.refresh_token.map_or("", |t| t.expose_secret()),
        ] {
            digest.update((part.len() as u64).to_be_bytes());
            digest.update(part.as_bytes());
        }
        digest.finalize().iter().map(|b| format!("{b:02x}")).collect()
    }
}

#[derive(Deserialize)]
struct TokenOk {
    access_token: String,
    #[serde(default)]
    expires_in: Option<i64>,
}

#[derive(Deserialize, Default)]
struct TokenError {
    #[serde(default)]
    error: String,
    #[serde(default)]
    error_description: String,
}

/// The answer to a token request: the token and its lifetime in seconds.
pub struct Fresh {
    pub access_token: SecretString,
    pub expires_in: Option<i64>,
    /// The `email` of an OpenID Connect ID token that came with it (Google's code
    /// exchange), read without checking its signature: it came straight from the token
    /// endpoint over TLS (OpenID Connect Core 3.1.3.7), and only names the account.
    pub id_token_email: Option<String>,
}

/// The `email` claim of an ID token (`header.payload.signature`).
fn id_token_email(id_token: &str) -> Option<String> {
    use base64::Engine as _;
    let payload = id_token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    let email = claims.get("email")?.as_str()?;
    crate::domain::email::EmailAddress::parse(email).map(|e| e.as_str().to_owned())
}

/// The sentence when the connected account's refresh token no longer works.
pub const MSG_CONNECT_AGAIN: &str = "Connect the account again.";

/// The message when a Google profile has no connected account.
pub const MSG_NOT_CONNECTED: &str =
    "No Google account is connected to this profile. Open the profile and choose Connect account.";

impl Tokens {
    pub fn new(endpoints: OAuthEndpoints, clock: Clock) -> Tokens {
        Tokens { endpoints, clock, cache: Mutex::default() }
    }

    /// The providers' endpoints.
    pub fn endpoints(&self) -> &OAuthEndpoints {
        &self.endpoints
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Cached>> {
        self.cache.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// An access token for `credentials`: the one held while it is still good, else a new
    /// one from the provider (`fresh` skips the one held: the server refused it).
    pub async fn access_token(
        &self,
        http: &reqwest::Client,
        grant: &Grant,
        credentials: &Credentials<'_>,
        fresh: bool,
    ) -> Result<SecretString, SendError> {
        let key = credentials.cache_key();
        let now = self.clock.now();
        if fresh {
            self.lock().remove(&key);
        } else if let Some(held) = self.lock().get(&key).filter(|c| c.until > now) {
            return Ok(held.token.clone());
        }
        let got = self.request(http, grant, credentials).await?;
        // Without a lifetime, an hour (the usual one) is assumed.
        let until = now + got.expires_in.unwrap_or(3600) - EXPIRY_MARGIN;
        let mut cache = self.lock();
        cache.retain(|_, c| c.until > now);
        if until > now {
            cache.insert(key, Cached { token: got.access_token.clone(), until });
        }
        Ok(got.access_token)
    }

    /// Asks the provider for a token.
    async fn request(
        &self,
        http: &reqwest::Client,
        grant: &Grant,
        credentials: &Credentials<'_>,
    ) -> Result<Fresh, SendError> {
        let app = credentials.app;
        let secret = credentials.client_secret.expose_secret();
        let client_id = app.client_id.as_str();
        match &app.provider {
            OAuthProvider::Microsoft { directory } => {
                let url = endpoint(
                    &self.endpoints.microsoft_login,
                    &[directory.as_str(), "oauth2", "v2.0", "token"],
                    "Microsoft sign-in",
                )?;
                let form = [
                    ("grant_type", "client_credentials"),
                    ("client_id", client_id),
                    ("client_secret", secret),
                    ("scope", MICROSOFT_SMTP_SCOPE),
                ];
                post_token(http, url, &form, Who::Microsoft).await
            }
            OAuthProvider::Google => {
                let refresh = credentials
                    .refresh_token
                    .ok_or_else(|| SendError::permanent(MSG_NOT_CONNECTED).unavailable_token())?;
                let form = [
                    ("grant_type", "refresh_token"),
                    ("refresh_token", refresh.expose_secret()),
                    ("client_id", client_id),
                    ("client_secret", secret),
                ];
                post_token(http, self.endpoints.google_token.clone(), &form, Who::Google).await
            }
            OAuthProvider::Other { token_url, scope } => {
                let url = token_url.url();
                let host = url.host_str().unwrap_or_default().trim_matches(['[', ']']).to_owned();
                let port = url.port_or_known_default().unwrap_or(443);
                let addrs = grant.resolve_with(&host, port, super::egress::msg_token_url_refused).await?;
                // Only the checked addresses: the name is not looked up again.
                let pinned = reqwest::Client::builder()
                    .resolve_to_addrs(&host, &addrs)
                    .redirect(reqwest::redirect::Policy::none())
                    .timeout(std::time::Duration::from_secs(10))
                    .build()
                    .map_err(|_| SendError::transient("relaydesk could not set up an HTTP client. Try again."))?;
                let mut form =
                    vec![("grant_type", "client_credentials"), ("client_id", client_id), ("client_secret", secret)];
                if let Some(scope) = scope {
                    form.push(("scope", scope.as_str()));
                }
                post_token(&pinned, url.clone(), &form, Who::Other(host)).await
            }
        }
    }

    /// Exchanges an authorization code (with its PKCE verifier) at Google's token
    /// endpoint: the refresh token, and the access token that came with it.
    pub async fn google_code(
        &self,
        http: &reqwest::Client,
        client_id: &str,
        client_secret: &SecretString,
        code: &str,
        verifier: &str,
        redirect_uri: &str,
    ) -> Result<(SecretString, Fresh), SendError> {
        let form = [
            ("grant_type", "authorization_code"),
            ("code", code),
            ("code_verifier", verifier),
            ("redirect_uri", redirect_uri),
            ("client_id", client_id),
            ("client_secret", client_secret.expose_secret()),
        ];
        let response = http
            .post(self.endpoints.google_token.clone())
            .form(&form)
            .send()
            .await
            .map_err(|e| network(&Who::Google, &e))?;
        let status = response.status();
        if !status.is_success() {
            return Err(refused(&Who::Google, status, response.json().await.unwrap_or_default()));
        }
        #[derive(Deserialize)]
        struct CodeOk {
            access_token: String,
            #[serde(default)]
            expires_in: Option<i64>,
            #[serde(default)]
            refresh_token: Option<String>,
            #[serde(default)]
            id_token: Option<String>,
        }
        let got: CodeOk = response.json().await.map_err(|_| unreadable(&Who::Google))?;
        let refresh = got.refresh_token.ok_or_else(|| {
            SendError::permanent(
                "Google gave no refresh token, so relaydesk could not keep the connection. Remove relaydesk's access \
                 under your Google account's third-party connections, then connect again.",
            )
        })?;
        let fresh = Fresh {
            access_token: SecretString::from(got.access_token),
            expires_in: got.expires_in,
            id_token_email: got.id_token.as_deref().and_then(id_token_email),
        };
        Ok((SecretString::from(refresh), fresh))
    }

    /// Tells Google to forget a refresh token (Disconnect). Best effort: the token is
    /// forgotten here whatever Google answers.
    pub async fn google_revoke(&self, http: &reqwest::Client, refresh_token: &SecretString) -> bool {
        let form = [("token", refresh_token.expose_secret())];
        matches!(
            http.post(self.endpoints.google_revoke.clone()).form(&form).send().await,
            Ok(r) if r.status().is_success()
        )
    }

    /// The scope relaydesk asks Google for.
    pub fn google_scope(&self) -> &'static str {
        GOOGLE_SMTP_SCOPE
    }
}

/// Who a token endpoint belongs to, for messages.
enum Who {
    Microsoft,
    Google,
    /// Another provider, by host.
    Other(String),
}

impl Who {
    fn name(&self) -> String {
        match self {
            Who::Microsoft => "Microsoft".to_owned(),
            Who::Google => "Google".to_owned(),
            Who::Other(host) => format!("The token endpoint at {host}"),
        }
    }

    fn check(&self) -> &'static str {
        match self {
            Who::Microsoft => "Check the directory (tenant) ID, client ID and client secret of the app.",
            Who::Google => "Check the client ID and client secret.",
            Who::Other(_) => "Check the token URL, client ID, client secret and scope.",
        }
    }
}

async fn post_token(http: &reqwest::Client, url: Url, form: &[(&str, &str)], who: Who) -> Result<Fresh, SendError> {
    let response = http.post(url).form(form).send().await.map_err(|e| network(&who, &e))?;
    let status = response.status();
    if !status.is_success() {
        return Err(refused(&who, status, response.json().await.unwrap_or_default()));
    }
    let got: TokenOk = response.json().await.map_err(|_| unreadable(&who))?;
    Ok(Fresh { access_token: SecretString::from(got.access_token), expires_in: got.expires_in, id_token_email: None })
}

/// Longest part of a provider's `error_description` that a message quotes.
const DESCRIPTION_MAX: usize = 200;

/// ` (error: description)` from a token endpoint's answer, as much of it as there is
/// (nothing for an answer that was not OAuth's JSON, such as an HTML error page), the
/// description cut to its first line and [`DESCRIPTION_MAX`] characters.
fn refusal_detail(body: &TokenError) -> String {
    let error = first_line(&body.error);
    let mut description: String = first_line(&body.error_description).chars().take(DESCRIPTION_MAX).collect();
    if description.chars().count() < first_line(&body.error_description).chars().count() {
        description.push('…');
    }
    match (error.is_empty(), description.is_empty()) {
        (true, true) => String::new(),
        (false, true) => format!(" ({error})"),
        (true, false) => format!(" ({description})"),
        (false, false) => format!(" ({error}: {description})"),
    }
}

/// A token endpoint's refusal, with the provider's `error` and `error_description`.
/// Transient whatever it was: a wrong secret or a withdrawn consent is fixed by the admin
/// on the profile, and the mail waiting meanwhile should then go, not have failed for
/// good. The dashboard says the default profile cannot get a token.
fn refused(who: &Who, status: reqwest::StatusCode, body: TokenError) -> SendError {
    let detail = refusal_detail(&body);
    if matches!(status.as_u16(), 429 | 500..=599) {
        return SendError::transient(format!(
            "{} answered the token request with {status}{detail}. Try again later.",
            who.name()
        ));
    }
    // A refresh token that expired or whose consent was taken back.
    if matches!(who, Who::Google) && body.error == "invalid_grant" {
        return SendError::transient(format!("Google refused the saved sign-in{detail}. {MSG_CONNECT_AGAIN}"))
            .unavailable_token();
    }
    SendError::transient(format!("{} refused the token request{detail}. {}", who.name(), who.check()))
        .unavailable_token()
}

fn unreadable(who: &Who) -> SendError {
    SendError::transient(format!("{} sent a token answer relaydesk could not read.", who.name()))
}

fn network(who: &Who, e: &reqwest::Error) -> SendError {
    let why = if e.is_timeout() {
        "no answer in time"
    } else if e.is_connect() {
        "could not connect"
    } else {
        "the connection failed"
    };
    let whom = match who {
        Who::Microsoft => "Microsoft's sign-in service".to_owned(),
        Who::Google => "Google's sign-in service".to_owned(),
        Who::Other(host) => format!("the token endpoint at {host}"),
    };
    SendError::transient(format!("Could not reach {whom}: {why}."))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(error: &str, description: &str) -> TokenError {
        TokenError { error: error.to_owned(), error_description: description.to_owned() }
    }

    #[test]
    fn a_refusal_quotes_what_the_provider_said_and_no_more() {
        let status = reqwest::StatusCode::BAD_REQUEST;
        let who = || Who::Other("login.example".to_owned());
        assert_eq!(
            refused(&who(), status, answer("invalid_client", "Bad secret.\nTrace: 42")).message,
            "The token endpoint at login.example refused the token request (invalid_client: Bad secret.). Check the \
             token URL, client ID, client secret and scope."
        );
        // An answer that was not OAuth's JSON (an HTML error page, a redirect): no empty "(: )".
        assert_eq!(
            refused(&who(), reqwest::StatusCode::INTERNAL_SERVER_ERROR, TokenError::default()).message,
            "The token endpoint at login.example answered the token request with 500 Internal Server Error. Try \
             again later."
        );
        assert_eq!(
            refused(&who(), status, TokenError::default()).message,
            "The token endpoint at login.example refused the token request. Check the token URL, client ID, client \
             secret and scope."
        );
        // A long description is cut.
        let long = refused(&who(), status, answer("invalid_client", &"x".repeat(3000))).message;
        assert!(long.contains(&format!("(invalid_client: {}…)", "x".repeat(DESCRIPTION_MAX))), "{long}");
        assert!(long.chars().count() < 400);
    }

    /// A wrong secret or a withdrawn consent is fixed on the profile: the mail waiting
    /// meanwhile is retried on the schedule, not failed for good.
    #[test]
    fn a_refusal_leaves_the_mail_waiting() {
        let status = reqwest::StatusCode::BAD_REQUEST;
        let refusal = refused(&Who::Microsoft, status, answer("invalid_client", "AADSTS7000215"));
        assert!(!refusal.permanent && refusal.token_unavailable);
        let revoked = refused(&Who::Google, status, answer("invalid_grant", "Token has been expired or revoked."));
        assert!(!revoked.permanent);
        assert!(revoked.message.ends_with(MSG_CONNECT_AGAIN));
    }
}
