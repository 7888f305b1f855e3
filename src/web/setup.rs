//! First run: while no tenant exists, `serve` logs a one-time link; opening it creates
//! the first tenant and its administrator (an operator), who is then signed in.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;

use super::{render, render_invalid, Chrome, Form};
use crate::app::AppState;
use crate::auth::session::WebSession;
use crate::auth::{password, random_token, token_hash};
use crate::domain::account::{NewTenantForm, MSG_SLUG_TAKEN};
use crate::domain::FieldErrors;
use crate::error::AppError;
use crate::store::audit::{self, Actor, AuditAction};
use crate::store::{self, setup, tenants, users};

const GONE: &str = "This setup link is no longer valid. relaydesk is already set up: sign in to your organization.";

#[derive(Template)]
#[template(path = "setup/setup.html")]
struct SetupPage {
    page: Chrome,
    token: String,
    form: NewTenantForm,
    errors: FieldErrors,
}

/// Logs the setup link when the database holds no tenant, and returns it. Each start
/// makes a new link.
pub async fn announce_link(state: &AppState) -> anyhow::Result<Option<String>> {
    if !tenants::none_exist(&state.db).await? {
        return Ok(None);
    }
    let token = random_token();
    setup::replace_token(&state.db, &token_hash(&token), state.clock.now()).await?;
    let link = state.config.link(&format!("/setup/{token}"));
    tracing::info!("First run: open {link} to create your organization and its administrator.");
    Ok(Some(link))
}

async fn check_token(state: &AppState, token: &str) -> Result<(), AppError> {
    if !tenants::none_exist(&state.db).await? || !setup::token_is_valid(&state.db, &token_hash(token)).await? {
        return Err(AppError::Refused(StatusCode::GONE, GONE));
    }
    Ok(())
}

pub async fn show(
    State(state): State<AppState>,
    Path(token): Path<String>,
    session: WebSession,
) -> Result<Response, AppError> {
    check_token(&state, &token).await?;
    let page = Chrome { csrf: session.csrf_token().await?, nav: "setup", ..Chrome::bare("Set up relaydesk") };
    render(&SetupPage { page, token, form: NewTenantForm::default(), errors: FieldErrors::default() })
}

pub async fn submit(
    State(state): State<AppState>,
    Path(token): Path<String>,
    session: WebSession,
    Form(form): Form<NewTenantForm>,
) -> Result<Response, AppError> {
    let now = state.clock.now();
    check_token(&state, &token).await?;
    let invalid = |errors: FieldErrors, csrf: String| {
        let page = Chrome { csrf, nav: "setup", ..Chrome::bare("Set up relaydesk") };
        render_invalid(&SetupPage { page, token: token.clone(), form: form.without_password(), errors })
    };
    let new = match form.parse() {
        Ok(new) => new,
        Err(errors) => return invalid(errors, session.csrf_token().await?),
    };
    let hash = password::hash(new.admin_password.expose()).await?;
    let mut tx = store::begin_write(&state.db).await?;
    if !setup::consume_token(&mut tx, &token_hash(&token)).await? {
        return Err(AppError::Refused(StatusCode::GONE, GONE));
    }
    let (tenant_id, user_id) = match tenants::create_with_admin(&mut tx, &new, &hash, true, now).await {
        Ok(ids) => ids,
        Err(e) if store::is_unique_violation(&e) => {
            let mut errors = FieldErrors::default();
            errors.insert("slug", MSG_SLUG_TAKEN);
            return invalid(errors, session.csrf_token().await?);
        }
        Err(e) => return Err(e.into()),
    };
    let actor = Actor { id: Some(user_id), label: new.admin_email.as_str() };
    audit::record(&mut tx, tenant_id, actor, AuditAction::TenantCreated, "first-run setup", now).await?;
    tx.commit().await?;

    let user = users::by_id(&state.db, tenant_id, user_id).await?.ok_or(AppError::NotFound)?;
    session.sign_in(&user, now).await?;
    session.flash_ok("Your organization is ready, and you are signed in as its administrator.").await?;
    tracing::info!(tenant = new.slug.as_str(), "first-run setup created the first organization");
    Ok(Redirect::to(&format!("/t/{}/", new.slug.as_str())).into_response())
}

/// This area's pages.
pub fn routes() -> Router<AppState> {
    Router::new().route("/setup/{token}", get(show).post(submit))
}
