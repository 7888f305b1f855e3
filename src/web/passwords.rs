//! Forgotten passwords (SPEC §5): the same answer for every address (no account
//! enumeration), a one-hour single-use link, and every session of the user ended by a reset.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use serde::Deserialize;

use super::fields::FieldView;
use super::{render, render_invalid, Chrome, Form};
use crate::app::AppState;
use crate::auth::extract::PathTenant;
use crate::auth::session::WebSession;
use crate::auth::{password, token_hash};
use crate::domain::account::ConsolePassword;
use crate::domain::email;
use crate::error::AppError;
use crate::store::audit::AuditAction;
use crate::store::tenants::Tenant;
use crate::store::{self, audit, tenants, tokens, users};

/// SPEC §5: the one answer to a forgot-password request.
pub const MSG_FORGOT_SENT: &str = "If an account exists for that address, we have sent a link to reset the password.";

/// The one answer while the organization cannot send email: it does not claim a link was
/// sent, and, the same for every address, does not tell whether an account exists.
pub fn msg_forgot_no_email(tenant: &str) -> String {
    format!(
        "{tenant} cannot send email right now, so no link was sent. Ask an administrator of {tenant} to make a \
         password-reset link for you."
    )
}
pub const MSG_RESET_GONE: &str = "This password-reset link is no longer valid. Ask for a new one.";
/// Reset emails to one address per throttle window.
const RESETS_PER_WINDOW: usize = 5;
pub const MSG_PASSWORD_CHANGED: &str = "Your password has been changed. Sign in with the new one.";

#[derive(Template)]
#[template(path = "auth/forgot.html")]
struct ForgotPage {
    page: Chrome,
    slug: String,
    email: FieldView,
    /// Said up front while the organization cannot send email.
    no_email: Option<String>,
}

#[derive(Template)]
#[template(path = "auth/reset.html")]
struct ResetPage {
    page: Chrome,
    slug: String,
    token: String,
    email: String,
    password: FieldView,
}

pub async fn forgot_form(
    State(state): State<AppState>,
    PathTenant(tenant): PathTenant,
    session: WebSession,
) -> Result<Response, AppError> {
    let email = FieldView::new("email", "Email", "", None)
        .kind("email")
        .max(email::MAX_LEN)
        .autocomplete("username")
        .required();
    let mut conn = state.db.acquire().await?;
    let no_email = (!tenants::can_email(&mut conn, tenant.id).await?).then(|| msg_forgot_no_email(&tenant.name));
    render(&ForgotPage {
        page: Chrome::visitor(&session, &tenant, "Forgot your password?", "forgot").await?,
        slug: tenant.slug,
        email,
        no_email,
    })
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ForgotForm {
    email: String,
}

pub async fn forgot(
    State(state): State<AppState>,
    PathTenant(tenant): PathTenant,
    session: WebSession,
    Form(form): Form<ForgotForm>,
) -> Result<Response, AppError> {
    let email = form.email.trim().to_lowercase();
    // A few requests per address per window; beyond that, silently nothing is sent (or
    // recorded), so nobody can flood an inbox or the audit log through this form. The
    // answer never changes.
    let key = format!("reset:{}:{email}", tenant.id.0);
    let allowed = !email.is_empty() && !tenant.suspended;
    let mut conn = state.db.acquire().await?;
    let can_email = tenants::can_email(&mut conn, tenant.id).await?;
    drop(conn);
    if !can_email && !tenant.suspended {
        if allowed && state.throttle.allow(&key, RESETS_PER_WINDOW, state.clock.now()) {
            record_not_emailed(&state, &tenant, &email).await?;
        }
        session.flash_error(msg_forgot_no_email(&tenant.name)).await?;
        return Ok(Redirect::to(&format!("/t/{}/login", tenant.slug)).into_response());
    }
    if allowed && state.throttle.allow(&key, RESETS_PER_WINDOW, state.clock.now()) {
        super::members::queue_reset(&state, &tenant, &email).await?;
    }
    session.flash_ok(MSG_FORGOT_SENT).await?;
    Ok(Redirect::to(&format!("/t/{}/login", tenant.slug)).into_response())
}

/// Records, for the admins (audit log, dashboard), that a member asked for a reset that
/// could not be emailed. Nothing is recorded for an address with no account: anyone can
/// type one, and the admins could do nothing with it.
async fn record_not_emailed(state: &AppState, tenant: &Tenant, email: &str) -> Result<(), AppError> {
    let Some(user) = users::by_email(&state.db, tenant.id, email).await? else { return Ok(()) };
    let mut tx = store::begin_write(&state.db).await?;
    let actor = audit::Actor { id: Some(user.id), label: &user.email };
    let detail = "email is off or there is no default SMTP profile: make them a reset link on the Members page";
    audit::record(&mut tx, tenant.id, actor, AuditAction::ResetNotEmailed, detail, state.clock.now()).await?;
    tx.commit().await?;
    Ok(())
}

async fn open(state: &AppState, tenant: &Tenant, token: &str) -> Result<(tokens::Reset, users::User), AppError> {
    let gone = || AppError::Refused(StatusCode::GONE, MSG_RESET_GONE);
    if tenant.suspended {
        return Err(gone());
    }
    let reset =
        tokens::reset_by_token(&state.db, tenant.id, &token_hash(token), state.clock.now()).await?.ok_or_else(gone)?;
    let user = users::by_id(&state.db, tenant.id, reset.user_id).await?.ok_or_else(gone)?;
    Ok((reset, user))
}

fn password_field(error: Option<&'static str>) -> FieldView {
    FieldView::new("password", "New password", "", error)
        .kind("password")
        .autocomplete("new-password")
        .required()
        .hint(ConsolePassword::hint("your email address"))
}

pub async fn reset_form(
    State(state): State<AppState>,
    PathTenant(tenant): PathTenant,
    Path((_, token)): Path<(String, String)>,
    session: WebSession,
) -> Result<Response, AppError> {
    let (_, user) = open(&state, &tenant, &token).await?;
    let page = Chrome::visitor(&session, &tenant, "Choose a new password", "reset").await?;
    render(&ResetPage { page, slug: tenant.slug, token, email: user.email, password: password_field(None) })
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ResetForm {
    password: String,
}

pub async fn reset(
    State(state): State<AppState>,
    PathTenant(tenant): PathTenant,
    Path((_, token)): Path<(String, String)>,
    session: WebSession,
    Form(form): Form<ResetForm>,
) -> Result<Response, AppError> {
    let now = state.clock.now();
    let (reset, user) = open(&state, &tenant, &token).await?;
    let password = match ConsolePassword::parse(&form.password, &user.email) {
        Ok(p) => p,
        Err(message) => {
            let page = Chrome::visitor(&session, &tenant, "Choose a new password", "reset").await?;
            let view = ResetPage {
                page,
                slug: tenant.slug,
                token,
                email: user.email,
                password: password_field(Some(message)),
            };
            return render_invalid(&view);
        }
    };
    let hash = password::hash(password.expose()).await?;
    let mut tx = store::begin_write(&state.db).await?;
    if !tokens::use_reset(&mut tx, reset.id, now).await? {
        return Err(AppError::Refused(StatusCode::GONE, MSG_RESET_GONE));
    }
    // Moving the epoch on ends every session of this user, this browser's included.
    users::set_password(&mut tx, tenant.id, user.id, &hash).await?;
    let actor = audit::Actor { id: Some(user.id), label: &user.email };
    audit::record(&mut tx, tenant.id, actor, AuditAction::ResetUsed, "all sessions ended", now).await?;
    tx.commit().await?;
    session.sign_out().await?;
    session.flash_ok(MSG_PASSWORD_CHANGED).await?;
    Ok(Redirect::to(&format!("/t/{}/login", tenant.slug)).into_response())
}

/// This area's pages.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/t/{slug}/password/forgot", get(forgot_form).post(forgot))
        .route("/t/{slug}/password/reset/{token}", get(reset_form).post(reset))
}
