//! Extractors: the tenant named in the path, the member signed into it, the operator.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRef, FromRequestParts, RawPathParams};
use axum::http::request::Parts;
use axum::http::Method;

use sqlx::SqlitePool;

use super::session::WebSession;
use crate::clock::Clock;
use crate::config::Config;
use crate::domain::account::Role;
use crate::error::AppError;
use crate::secret::SecretBox;
use crate::store::audit::Actor;
use crate::store::tenants::{self, Tenant};
use crate::store::users::{self, User};

/// The tenant whose `{slug}` is in the path; 404 when there is none.
pub struct PathTenant(pub Tenant);

/// What the extractors need of the app's state: the database, the session limits and the
/// clock they are measured by, and the secret box the session seals one-time links with.
pub trait AuthState: Send + Sync {
    fn db(&self) -> SqlitePool;
    fn config(&self) -> Arc<Config>;
    fn clock(&self) -> Clock;
    fn secrets(&self) -> SecretBox;
}

impl<S> AuthState for S
where
    S: Send + Sync,
    SqlitePool: FromRef<S>,
    Arc<Config>: FromRef<S>,
    Clock: FromRef<S>,
    SecretBox: FromRef<S>,
{
    fn db(&self) -> SqlitePool {
        SqlitePool::from_ref(self)
    }

    fn config(&self) -> Arc<Config> {
        Arc::from_ref(self)
    }

    fn clock(&self) -> Clock {
        Clock::from_ref(self)
    }

    fn secrets(&self) -> SecretBox {
        SecretBox::from_ref(self)
    }
}

/// Whether a sign-in made at `at` (seconds) is past the absolute session limit.
fn too_old(state: &impl AuthState, at: i64) -> bool {
    state.clock().now().saturating_sub(at) > state.config().session_absolute.as_secs() as i64
}

impl<S: AuthState> FromRequestParts<S> for PathTenant {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let params = RawPathParams::from_request_parts(parts, state).await.map_err(|_| AppError::NotFound)?;
        let slug = params.iter().find(|(k, _)| *k == "slug").map(|(_, v)| v).ok_or(AppError::NotFound)?;
        let tenant = tenants::by_slug(&state.db(), slug).await?.ok_or(AppError::NotFound)?;
        Ok(PathTenant(tenant))
    }
}

/// The address of the person asking: the connection's peer, or, when that peer is a
/// trusted proxy (`RELAYDESK_TRUSTED_PROXIES`), the client the proxy names.
pub struct ClientAddr(pub IpAddr);

impl<S: AuthState> FromRequestParts<S> for ClientAddr {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|info| info.0.ip())
            .ok_or_else(|| AppError::Internal(anyhow::anyhow!("no peer address: serve with connect info")))?;
        Ok(ClientAddr(state.config().proxies.client(peer, &parts.headers)))
    }
}

/// The `{id}` in the path, a positive whole number; anything else answers 404, like an id
/// of another tenant's object does once it is looked up with the tenant.
pub struct PathId(pub i64);

impl<S: Send + Sync> FromRequestParts<S> for PathId {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let params = RawPathParams::from_request_parts(parts, state).await.map_err(|_| AppError::NotFound)?;
        let id = params.iter().find(|(k, _)| *k == "id").map(|(_, v)| v).ok_or(AppError::NotFound)?;
        id.parse::<i64>().ok().filter(|n| *n > 0).map(PathId).ok_or(AppError::NotFound)
    }
}

/// A signed-in member of the tenant in the path. Anyone else (not signed in, signed into
/// another tenant, past the session limits, reset, deactivated or removed since) is sent
/// to that tenant's login.
///
/// Looked up once per request: the session, then the tenant and the account in one read;
/// a second extractor in the same request (`Admin` after `Member`, say) reuses it.
#[derive(Clone)]
pub struct Member {
    pub tenant: Tenant,
    pub user: User,
    pub session: WebSession,
}

impl<S: AuthState> FromRequestParts<S> for Member {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        if let Some(member) = parts.extensions.get::<Member>() {
            return Ok(member.clone());
        }
        let params = RawPathParams::from_request_parts(parts, state).await.map_err(|_| AppError::NotFound)?;
        let slug = params.iter().find(|(k, _)| *k == "slug").map(|(_, v)| v).ok_or(AppError::NotFound)?.to_owned();
        let session = WebSession::from_request_parts(parts, state).await?;
        let Some(auth) = session.signed_in().await? else {
            // Not signed in: the login of the tenant, if there is one.
            let tenant = tenants::by_slug(&state.db(), &slug).await?.ok_or(AppError::NotFound)?;
            return Err(AppError::SignIn(login_url(&tenant.slug, parts)));
        };
        let (tenant, user) =
            users::member_by_slug(&state.db(), &slug, auth.user_id).await?.ok_or(AppError::NotFound)?;
        let login = AppError::SignIn(login_url(&tenant.slug, parts));
        if auth.tenant_id != tenant.id {
            // Signed into another tenant: not signed in here. That sign-in stays intact.
            return Err(login);
        }
        let too_old = too_old(state, auth.at);
        match user {
            Some(user) if !too_old && user.session_epoch == auth.epoch && user.is_active() && !tenant.suspended => {
                let member = Member { tenant, user, session };
                parts.extensions.insert(member.clone());
                Ok(member)
            }
            _ => {
                session.sign_out().await?;
                Err(login)
            }
        }
    }
}

fn login_url(slug: &str, parts: &Parts) -> String {
    let base = format!("/t/{slug}/login");
    if parts.method != Method::GET {
        return base;
    }
    let here = parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let next: String = url::form_urlencoded::byte_serialize(here.as_bytes()).collect();
    format!("{base}?next={next}")
}

impl Member {
    /// 403 unless the member's role is at least `role`.
    pub fn require(&self, role: Role) -> Result<(), AppError> {
        if self.user.role() >= role {
            Ok(())
        } else {
            Err(AppError::Forbidden)
        }
    }

    /// Who to name in the audit log.
    pub fn actor(&self) -> Actor<'_> {
        Actor { id: Some(self.user.id), label: &self.user.email }
    }
}

/// A signed-in member whose role is at least `Admin`: everyone else gets 403 (and is
/// sent to the login when not signed in). Handlers that take it need no role check.
pub struct Admin(pub Member);

/// A signed-in member whose role is at least `Organizer` (organizers and admins).
pub struct Organizer(pub Member);

macro_rules! at_least {
    ($name:ident, $role:expr) => {
        impl<S: AuthState> FromRequestParts<S> for $name {
            type Rejection = AppError;

            async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
                let member = Member::from_request_parts(parts, state).await?;
                member.require($role)?;
                Ok($name(member))
            }
        }

        impl std::ops::Deref for $name {
            type Target = Member;

            fn deref(&self) -> &Member {
                &self.0
            }
        }
    };
}

at_least!(Admin, Role::Admin);
at_least!(Organizer, Role::Organizer);

/// The member this session is signed in as, whatever page is asked for (an error page
/// that leads back to their organization); `None` when nobody is, or the sign-in no longer
/// holds (past the session limits, reset since, the organization suspended). Changes
/// nothing: unlike [`Member`], it does not sign a stale session out.
pub async fn session_member<S: AuthState>(session: WebSession, state: &S) -> Result<Option<Member>, AppError> {
    let Some(auth) = session.signed_in().await? else {
        return Ok(None);
    };
    let db = state.db();
    let Some(tenant) = tenants::by_id(&db, auth.tenant_id).await? else {
        return Ok(None);
    };
    let user = users::by_id(&db, tenant.id, auth.user_id).await?;
    Ok(match user {
        Some(user)
            if !too_old(state, auth.at)
                && user.session_epoch == auth.epoch
                && user.is_active()
                && !tenant.suspended =>
        {
            Some(Member { tenant, user, session })
        }
        _ => None,
    })
}

/// A signed-in operator (SPEC §1) whose own organization is not suspended. Anyone else
/// gets 404, so `/admin` is not advertised.
pub struct Operator(pub Member);

impl<S: AuthState> FromRequestParts<S> for Operator {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let session = WebSession::from_request_parts(parts, state).await?;
        let Some(auth) = session.signed_in().await? else {
            return Err(AppError::NotFound);
        };
        let too_old = too_old(state, auth.at);
        let db = state.db();
        let tenant = tenants::by_id(&db, auth.tenant_id).await?;
        // Operator powers come through the organization signed in to: once it is
        // suspended they end, on this very session (else its operator could restore it, or
        // suspend everyone else's).
        let Some(tenant) = tenant.filter(|t| !t.suspended) else {
            return Err(AppError::NotFound);
        };
        match users::by_id(&db, tenant.id, auth.user_id).await? {
            Some(user) if user.is_operator && user.is_active() && !too_old && user.session_epoch == auth.epoch => {
                Ok(Operator(Member { tenant, user, session }))
            }
            _ => Err(AppError::NotFound),
        }
    }
}
