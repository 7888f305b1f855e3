//! Sign-in and sign-out, per tenant.

use axum::routing::{get, post};
use axum::Router;
use std::time::Duration;

use askama::Template;
use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::{render, Chrome, Form, Query};
use crate::app::AppState;
use crate::auth::extract::{ClientAddr, Member, PathTenant};
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
    ClientAddr(client): ClientAddr,
    Form(form): Form<LoginForm>,
) -> Result<Response, AppError> {
    let now = state.clock.now();
    let email = form.email.trim().to_lowercase();
    let account = throttle::account_key_for(tenant.id, &email);
    let client = client.to_string();
    let refuse = |status: StatusCode, message: String| {
        let (tenant, session, form) = (&tenant, &session, &form);
        async move {
            let email = form.email.trim().to_owned();
            let page = login_page(tenant, session, email, form.next.clone(), Some(message)).await?;
            Ok::<Response, AppError>((status, render(&page)?).into_response())
        }
    };

    // Before anything is checked, so a right and a wrong password get the same answer.
    if tenant.suspended {
        return refuse(StatusCode::FORBIDDEN, MSG_SUSPENDED.into()).await;
    }
    // Throttled before any hashing, so a flood costs no CPU.
    let attempt = match state.throttle.attempt(&account, &client, now) {
        Ok(attempt) => attempt,
        Err(wait) => {
            let mut res = refuse(StatusCode::TOO_MANY_REQUESTS, slowed_message(wait)).await?;
            res.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(wait.as_secs().max(1)));
            return Ok(res);
        }
    };
    let found = users::credentials(&state.db, tenant.id, &email).await?;
    let (user, hash) = match found {
        Some((user, hash)) => (Some(user), Some(hash)),
        None => (None, None),
    };
    let matches = password::verify(&form.password, hash).await;
    let Some(user) = user.as_ref().filter(|_| matches).cloned() else {
        record_failure(&state, &tenant, user.as_ref(), &form.email, &client, attempt, now).await?;
        return refuse(StatusCode::UNPROCESSABLE_ENTITY, MSG_INCORRECT.into()).await;
    };
    // The password was right: whatever follows, this was no guess.
    state.throttle.succeed(&account, &client);
    if !user.is_active() {
        // Said only to someone who knows the password.
        let mut conn = state.db.acquire().await?;
        let actor = Actor { id: Some(user.id), label: &user.email };
        let detail = format!("account deactivated; from {client}");
        audit::record(&mut conn, tenant.id, actor, AuditAction::UserSignInFailed, &detail, now).await?;
        return refuse(StatusCode::FORBIDDEN, MSG_DEACTIVATED.into()).await;
    }
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

/// What a slowed-down attempt is told: how long to wait, in seconds while under two
/// minutes, else in whole minutes (rounded up, so the time said is always enough).
pub fn slowed_message(wait: Duration) -> String {
    let secs = wait.as_secs().max(1);
    let wait =
        if secs < 120 { crate::words::count(secs, "second") } else { crate::words::count(secs.div_ceil(60), "minute") };
    format!("Too many failed sign-in attempts. Try again in {wait}.")
}

/// Puts a failed sign-in in the tenant's audit log, and the moment this account starts
/// being slowed down from this client when this failure did it. Never the password: only
/// who it was for and where it came from. An address that is no account here is named
/// only when it is an email address at all (people do type their password into the email
/// field).
async fn record_failure(
    state: &AppState,
    tenant: &Tenant,
    user: Option<&users::User>,
    typed_email: &str,
    client: &str,
    attempt: throttle::Attempt,
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
    if attempt.starts_slowing() {
        let detail = format!(
            "{} failed sign-ins from {client}; further attempts from there wait {}, doubling after each failure",
            attempt.failures,
            crate::words::duration(throttle::delay_after(attempt.failures)),
        );
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
    use super::{safe_next, slowed_message};
    use std::time::Duration;

    #[test]
    fn the_wait_is_said_in_seconds_then_in_whole_minutes() {
        let said = |secs| slowed_message(Duration::from_secs(secs));
        assert_eq!(said(30), "Too many failed sign-in attempts. Try again in 30 seconds.");
        assert_eq!(said(1), "Too many failed sign-in attempts. Try again in 1 second.");
        assert_eq!(said(0), "Too many failed sign-in attempts. Try again in 1 second.");
        assert_eq!(said(119), "Too many failed sign-in attempts. Try again in 119 seconds.");
        assert_eq!(said(121), "Too many failed sign-in attempts. Try again in 3 minutes.");
        assert_eq!(said(900), "Too many failed sign-in attempts. Try again in 15 minutes.");
    }

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
