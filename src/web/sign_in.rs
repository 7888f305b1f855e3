//! Sign-in and sign-out, per tenant.

use axum::routing::{get, post};
use axum::Router;
use std::net::SocketAddr;

use askama::Template;
use axum::extract::{ConnectInfo, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::{render, Chrome, Form, Query};
use crate::app::AppState;
use crate::auth::extract::{Member, PathTenant};
use crate::auth::session::WebSession;
use crate::auth::{password, throttle};
use crate::domain::account::{AccountEmail, MSG_DEACTIVATED};
use crate::error::AppError;
use crate::store::audit::{self, Actor, AuditAction};
use crate::store::tenants::Tenant;
use crate::store::{self, users};

/// The one answer for an unknown email and a wrong password (SPEC §7).
pub const MSG_INCORRECT: &str = "Incorrect email or password.";
pub const MSG_SUSPENDED: &str = "This organization is suspended. Contact the person who runs relaydesk for you.";

#[derive(Template)]
#[template(path = "auth/login.html")]
struct LoginPage {
    page: Chrome,
    slug: String,
    email: String,
    next: String,
    error: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct NextQuery {
    next: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct LoginForm {
    email: String,
    password: String,
    next: String,
}

async fn login_page(
    tenant: &Tenant,
    session: &WebSession,
    email: String,
    next: String,
    error: Option<String>,
) -> Result<LoginPage, AppError> {
    let page = Chrome::visitor(session, tenant, "Sign in", "login").await?;
    Ok(LoginPage { page, slug: tenant.slug.clone(), email, next, error })
}

pub async fn show(
    PathTenant(tenant): PathTenant,
    session: WebSession,
    Query(q): Query<NextQuery>,
) -> Result<Response, AppError> {
    render(&login_page(&tenant, &session, String::new(), q.next, None).await?)
}

pub async fn submit(
    State(state): State<AppState>,
    PathTenant(tenant): PathTenant,
    session: WebSession,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    Form(form): Form<LoginForm>,
) -> Result<Response, AppError> {
    let now = state.clock.now();
    let email = form.email.trim().to_lowercase();
    let account = throttle::account_key_for(tenant.id, &email);
    let client = client.ip().to_string();
    let refuse = |status: StatusCode, message: String| {
        let (tenant, session, form) = (&tenant, &session, &form);
        async move {
            let email = form.email.trim().to_owned();
            let page = login_page(tenant, session, email, form.next.clone(), Some(message)).await?;
            Ok::<Response, AppError>((status, render(&page)?).into_response())
        }
    };

    // Throttled before any hashing, so a flood costs no CPU.
    if let Err(wait) = state.throttle.check(&account, &client, now) {
        let minutes = wait.as_secs().div_ceil(60).max(1);
        let wait = crate::words::count(minutes, "minute");
        let message = format!("Too many failed sign-in attempts. Wait {wait}, then try again.");
        return refuse(StatusCode::TOO_MANY_REQUESTS, message).await;
    }
    let found = users::credentials(&state.db, tenant.id, &email).await?;
    let (user, hash) = match found {
        Some((user, hash)) => (Some(user), Some(hash)),
        None => (None, None),
    };
    let matches = password::verify(&form.password, hash).await;
    let Some(user) = user.as_ref().filter(|_| matches).cloned() else {
        let locked = state.throttle.fail(&account, &client, now);
        record_failure(&state, &tenant, user.as_ref(), &form.email, &client, locked, now).await?;
        return refuse(StatusCode::UNPROCESSABLE_ENTITY, MSG_INCORRECT.into()).await;
    };
    if tenant.suspended {
        return refuse(StatusCode::FORBIDDEN, MSG_SUSPENDED.into()).await;
    }
    if !user.is_active() {
        // Said only to someone who knows the password; it does not count as a failure.
        let mut conn = state.db.acquire().await?;
        let actor = Actor { id: Some(user.id), label: &user.email };
        let detail = format!("account deactivated; from {client}");
        audit::record(&mut conn, tenant.id, actor, AuditAction::UserSignInFailed, &detail, now).await?;
        return refuse(StatusCode::FORBIDDEN, MSG_DEACTIVATED.into()).await;
    }
    state.throttle.succeed(&account);
    session.sign_in(&user, now).await?;
    let mut conn = state.db.acquire().await?;
    audit::record(
        &mut conn,
        tenant.id,
        Actor { id: Some(user.id), label: &user.email },
        AuditAction::UserSignedIn,
        "",
        now,
    )
    .await?;
    Ok(Redirect::to(&safe_next(&tenant.slug, &form.next)).into_response())
}

/// Puts a failed sign-in in the tenant's audit log, and the lockout when this failure
/// caused one. Never the password: only who it was for and where it came from. An address
/// that is no account here is named only when it is an email address at all (people do
/// type their password into the email field).
async fn record_failure(
    state: &AppState,
    tenant: &Tenant,
    user: Option<&users::User>,
    typed_email: &str,
    client: &str,
    locked: bool,
    now: i64,
) -> Result<(), AppError> {
    let (label, why) = match user {
        Some(user) => (user.email.clone(), "wrong password"),
        None => {
            let shown = AccountEmail::parse(typed_email).map(|e| e.as_str().to_owned());
            (shown.unwrap_or_else(|_| "(not an email address)".to_owned()), "no such account")
        }
    };
    let actor = || Actor { id: user.map(|u| u.id), label: &label };
    let mut tx = store::begin_write(&state.db).await?;
    let detail = format!("{why}; from {client}");
    audit::record(&mut tx, tenant.id, actor(), AuditAction::UserSignInFailed, &detail, now).await?;
    if locked {
        let window = crate::words::duration(throttle::WINDOW);
        let detail = format!("{} failed sign-ins within {window}; the last from {client}", throttle::PER_ACCOUNT);
        audit::record(&mut tx, tenant.id, actor(), AuditAction::UserLockedOut, &detail, now).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Only a path inside this tenant's own pages; anything else goes to the dashboard.
fn safe_next(slug: &str, next: &str) -> String {
    let inside = format!("/t/{slug}/");
    let ok = next.starts_with(&inside)
        && !next.contains("//")
        && !next.contains('\\')
        && !next.chars().any(char::is_control)
        && !next.starts_with(&format!("{inside}logout"));
    if ok {
        next.to_owned()
    } else {
        inside
    }
}

/// `POST /t/{slug}/logout`: deletes the session server-side.
pub async fn sign_out(
    State(state): State<AppState>,
    PathTenant(tenant): PathTenant,
    member: Result<Member, AppError>,
    session: WebSession,
) -> Result<Response, AppError> {
    if let Ok(member) = &member {
        let mut conn = state.db.acquire().await?;
        audit::record(&mut conn, tenant.id, member.actor(), AuditAction::UserSignedOut, "", state.clock.now()).await?;
    }
    session.sign_out().await?;
    session.flash_ok("You have signed out.").await?;
    Ok(Redirect::to(&format!("/t/{}/login", tenant.slug)).into_response())
}

/// This area's pages.
pub fn routes() -> Router<AppState> {
    Router::new().route("/t/{slug}/login", get(show).post(submit)).route("/t/{slug}/logout", post(sign_out))
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn next_stays_inside_the_tenant() {
        assert_eq!(safe_next("acme", "/t/acme/smtp?page=2"), "/t/acme/smtp?page=2");
        for bad in [
            "",
            "https://evil.test/",
            "//evil.test",
            "/t/other/",
            "/t/acme//evil.test",
            "/t/acme/\\x",
            "/t/acme/logout",
        ] {
            assert_eq!(safe_next("acme", bad), "/t/acme/", "{bad}");
        }
    }
}
