//! A typed view of the tower-sessions session: the fixed keys and what they hold.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use serde::{Deserialize, Serialize};
use tower_sessions::Session;

use super::csrf::VisitorCsrf;
use super::extract::AuthState;
use crate::error::AppError;
use crate::secret::SecretBox;
use crate::store::users::User;
use crate::store::{TenantId, UserId};

const AUTH: &str = "auth";
const CSRF: &str = "csrf";
const FLASH: &str = "flash";
const LINK: &str = "sealed_link";
/// A Google sign-in started from a profile, waiting for the provider's callback.
const OAUTH: &str = "oauth_pending";
/// Where links waited in clear before they were sealed; removed wherever found.
const LEGACY_LINK: &str = "shared_link";

/// Who is signed in on this session.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SignedIn {
    pub user_id: UserId,
    pub tenant_id: TenantId,
    /// The user's `session_epoch` at sign-in; a reset bumps it and ends this session.
    pub epoch: i64,
    /// Unix seconds, for the absolute session limit.
    pub at: i64,
}

/// A one-time message shown on the next page.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Flash {
    /// `ok` or `error`.
    pub kind: String,
    pub text: String,
}

/// A one-time link shown once to the admin to share by hand (email is off).
#[derive(Debug, Clone)]
pub struct SharedLink {
    /// What the link is, e.g. "Invitation link for ada@example.com".
    pub label: String,
    pub url: String,
}

/// A [`SharedLink`] as it waits in the session row until shown: the link sealed by the
/// secret box, so the database (and its write-ahead log, which keeps old versions of the
/// row) never holds a usable token.
#[derive(Serialize, Deserialize)]
struct SealedLink {
    label: String,
    sealed_url: String,
}

/// An OAuth authorization started by this session (Connect account): what the callback
/// must match. The PKCE verifier waits sealed; `state` only as its SHA-256.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OAuthPending {
    /// SHA-256 of the `state` sent to the provider, hex.
    pub state_hash: String,
    pub tenant_id: TenantId,
    pub user_id: UserId,
    pub profile_id: i64,
    /// The profile's settings when the connect started ([`crate::domain::smtp::SecretScope::fingerprint`]):
    /// a profile edited meanwhile does not get the token.
    pub scope: String,
    /// Unix seconds after which the callback is refused.
    pub expires_at: i64,
    /// The PKCE code verifier, sealed by the secret box.
    sealed_verifier: String,
    /// The provider's consent page to go to (it carries `state`), sealed.
    sealed_url: String,
}

/// A [`OAuthPending`] taken from the session, its verifier opened.
pub struct OAuthStarted {
    pub pending: OAuthPending,
    pub verifier: String,
}

/// The session with typed accessors, the secret box that seals what must not wait in the
/// session row in clear, and the visitor's CSRF cookie (for the pages of someone not
/// signed in, which must write nothing).
#[derive(Clone)]
pub struct WebSession(pub Session, SecretBox, Option<VisitorCsrf>);

impl<S: AuthState> FromRequestParts<S> for WebSession {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let visitor = parts.extensions.get::<VisitorCsrf>().cloned();
        Session::from_request_parts(parts, state)
            .await
            .map(|session| WebSession(session, state.secrets(), visitor))
            .map_err(|(_, msg)| AppError::Internal(anyhow::anyhow!("session layer missing: {msg}")))
    }
}

impl WebSession {
    /// The session of a request, with the box that seals what it keeps and the visitor's
    /// CSRF cookie (a request extension of the CSRF layer).
    pub fn new(session: Session, secrets: SecretBox, visitor: Option<VisitorCsrf>) -> WebSession {
        WebSession(session, secrets, visitor)
    }

    /// The CSRF token for this page's forms: the session's own once it has one (every
    /// signed-in session does); for a visitor, a token of their CSRF cookie, which writes
    /// nothing to the database (see [`super::csrf`]).
    pub async fn csrf_token(&self) -> Result<String, AppError> {
        if let Some(token) = self.0.get::<String>(CSRF).await? {
            return Ok(token);
        }
        if let (Some(visitor), None) = (&self.2, self.signed_in().await?) {
            return Ok(visitor.token());
        }
        let token = super::random_token();
        self.0.insert(CSRF, &token).await?;
        Ok(token)
    }

    /// The stored CSRF token, without creating one.
    pub async fn stored_csrf(&self) -> Result<Option<String>, AppError> {
        Ok(self.0.get::<String>(CSRF).await?)
    }

    /// Signs `user` in at `now` (seconds): a new session id (against fixation) and a new
    /// CSRF token.
    pub async fn sign_in(&self, user: &User, now: i64) -> Result<(), AppError> {
        self.0.cycle_id().await?;
        let signed_in = SignedIn { user_id: user.id, tenant_id: user.tenant_id, epoch: user.session_epoch, at: now };
        self.0.insert(AUTH, signed_in).await?;
        self.0.insert(CSRF, super::random_token()).await?;
        Ok(())
    }

    pub async fn signed_in(&self) -> Result<Option<SignedIn>, AppError> {
        Ok(self.0.get::<SignedIn>(AUTH).await?)
    }

    /// Ends the session and deletes it from the store. The id is cycled first: a bare
    /// `flush` would let anything stored afterwards (the flash) revive the old id.
    pub async fn sign_out(&self) -> Result<(), AppError> {
        self.0.cycle_id().await?;
        self.0.flush().await?;
        Ok(())
    }

    pub async fn flash_ok(&self, text: impl Into<String>) -> Result<(), AppError> {
        self.set_flash("ok", text.into()).await
    }

    pub async fn flash_error(&self, text: impl Into<String>) -> Result<(), AppError> {
        self.set_flash("error", text.into()).await
    }

    async fn set_flash(&self, kind: &str, text: String) -> Result<(), AppError> {
        self.0.insert(FLASH, Flash { kind: kind.into(), text }).await?;
        Ok(())
    }

    /// Shows `url` once, on the next page. It waits in the session sealed.
    pub async fn show_link(&self, label: String, url: String) -> Result<(), AppError> {
        self.0.insert(LINK, SealedLink { label, sealed_url: self.1.seal(&url) }).await?;
        Ok(())
    }

    /// The link to show, removed so it shows once. One that cannot be opened (the key
    /// changed since) or read is dropped: the admin can make a new link.
    pub async fn take_link(&self) -> Result<Option<SharedLink>, AppError> {
        self.0.remove::<serde_json::Value>(LEGACY_LINK).await?;
        let Some(stored) = self.0.remove::<serde_json::Value>(LINK).await? else {
            return Ok(None);
        };
        let opened = serde_json::from_value::<SealedLink>(stored)
            .ok()
            .and_then(|link| self.1.open(&link.sealed_url).ok().map(|url| SharedLink { label: link.label, url }));
        if opened.is_none() {
            tracing::warn!("a one-time link waiting in a session could not be opened; it was dropped");
        }
        Ok(opened)
    }

    /// Remembers an authorization started now (one at a time: a second replaces the first).
    #[allow(clippy::too_many_arguments)]
    pub async fn start_oauth(
        &self,
        state_hash: String,
        tenant_id: TenantId,
        user_id: UserId,
        profile_id: i64,
        scope: String,
        expires_at: i64,
        verifier: &str,
        url: &str,
    ) -> Result<(), AppError> {
        let pending = OAuthPending {
            state_hash,
            tenant_id,
            user_id,
            profile_id,
            scope,
            expires_at,
            sealed_verifier: self.1.seal(verifier),
            sealed_url: self.1.seal(url),
        };
        self.0.insert(OAUTH, pending).await?;
        Ok(())
    }

    /// The consent page of the authorization this session started, and its profile,
    /// without using it up.
    pub async fn oauth_url(&self) -> Result<Option<(OAuthPending, String)>, AppError> {
        let Some(stored) = self.0.get::<serde_json::Value>(OAUTH).await? else {
            return Ok(None);
        };
        Ok(serde_json::from_value::<OAuthPending>(stored).ok().and_then(|pending| {
            let url = self.1.open(&pending.sealed_url).ok()?;
            Some((pending, url))
        }))
    }

    /// The authorization this session started, removed so a callback is taken once.
    pub async fn take_oauth(&self) -> Result<Option<OAuthStarted>, AppError> {
        let Some(stored) = self.0.remove::<serde_json::Value>(OAUTH).await? else {
            return Ok(None);
        };
        Ok(serde_json::from_value::<OAuthPending>(stored).ok().and_then(|pending| {
            let verifier = self.1.open(&pending.sealed_verifier).ok()?;
            Some(OAuthStarted { pending, verifier })
        }))
    }

    /// The pending message, removed so it shows once.
    pub async fn take_flash(&self) -> Result<Option<Flash>, AppError> {
        Ok(self.0.remove::<Flash>(FLASH).await?)
    }
}
