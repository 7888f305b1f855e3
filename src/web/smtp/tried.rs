//! A password just tried: after a successful "Try these settings" with a typed password,
//! Save with the field left blank saves exactly what was tried (issue: Save used to keep
//! the old, wrong password).
//!
//! The secret is held in the signed-in session (stored server-side; the browser has only
//! the session id), sealed with the app's key, for [`TRIED_LIFETIME`], bound to the
//! tenant, the profile and the [`SecretScope`] of the settings tried: if the host, port,
//! security, certificate settings, account (or a Graph profile's user name, tenant ID or
//! client ID) change afterwards, it is not used. It never goes back to the browser.

use std::time::Duration;

use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use crate::auth::session::WebSession;
use crate::domain::smtp::{ProfileInput, SecretScope};
use crate::error::AppError;
use crate::secret::SecretBox;
use crate::store::smtp::ProfileId;
use crate::store::TenantId;

/// How long a tried password is held for Save.
pub const TRIED_LIFETIME: Duration = Duration::from_secs(15 * 60);

const KEY: &str = "smtp_tried";

/// What the session holds: sealed secrets and what they are bound to.
#[derive(Serialize, Deserialize)]
struct Held {
    tenant: i64,
    profile: i64,
    /// [`SecretScope::fingerprint`] of the settings tried.
    scope: String,
    /// Each secret sealed, in `ProfileInput::typed_secrets` order; `None` where blank.
    secrets: Vec<Option<String>>,
    /// Unix seconds after which it is not used.
    until: i64,
}

/// Holds the secrets typed into `input` (just tried successfully) for Save; forgets
/// anything held before. Returns whether a secret is now held (none was typed: nothing).
pub async fn hold(
    session: &WebSession,
    secrets: &SecretBox,
    tenant: TenantId,
    profile: ProfileId,
    input: &ProfileInput,
    now: i64,
) -> Result<bool, AppError> {
    let typed = input.typed_secrets();
    if typed.iter().all(Option::is_none) {
        forget(session).await?;
        return Ok(false);
    }
    let held = Held {
        tenant: tenant.0,
        profile: profile.0,
        scope: input.transport.scope().fingerprint(),
        secrets: typed.iter().map(|s| s.as_ref().map(|s| secrets.seal_secret(s).as_str().to_owned())).collect(),
        until: now + TRIED_LIFETIME.as_secs() as i64,
    };
    session.0.insert(KEY, held).await?;
    Ok(true)
}

/// The held secrets for this tenant's profile, while they are fresh and `scope` is the
/// one they were tried with; `None` otherwise.
pub async fn take_for(
    session: &WebSession,
    secrets: &SecretBox,
    tenant: TenantId,
    profile: ProfileId,
    scope: &SecretScope<'_>,
    now: i64,
) -> Result<Option<Vec<Option<SecretString>>>, AppError> {
    let Some(held) = current(session, tenant, profile, now).await? else { return Ok(None) };
    if held.scope != scope.fingerprint() {
        return Ok(None);
    }
    let opened: Option<Vec<Option<SecretString>>> = held
        .secrets
        .iter()
        .map(|s| match s {
            Some(sealed) => secrets.open(sealed).ok().map(|p| Some(SecretString::from(p))),
            None => Some(None),
        })
        .collect();
    Ok(opened)
}

/// Whether a tried secret is held for this tenant's profile (for the form's note).
pub async fn is_held(session: &WebSession, tenant: TenantId, profile: ProfileId, now: i64) -> Result<bool, AppError> {
    Ok(current(session, tenant, profile, now).await?.is_some())
}

/// Drops what is held (after Save, or a try that did not succeed).
pub async fn forget(session: &WebSession) -> Result<(), AppError> {
    session.0.remove::<serde_json::Value>(KEY).await?;
    Ok(())
}

async fn current(
    session: &WebSession,
    tenant: TenantId,
    profile: ProfileId,
    now: i64,
) -> Result<Option<Held>, AppError> {
    // A record of another shape (an older version of the app) is simply not used.
    let held = session.0.get::<Held>(KEY).await.ok().flatten();
    Ok(held.filter(|h| h.tenant == tenant.0 && h.profile == profile.0 && now <= h.until))
}
