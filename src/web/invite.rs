//! `/invite/{token}`: accepting an invitation. The person chooses a name and a password;
//! the account is created with the invited role and signed in.

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
use crate::auth::session::WebSession;
use crate::auth::{password, token_hash};
use crate::domain::account::{AccountEmail, ConsolePassword, DisplayName, MSG_EMAIL_TAKEN};
use crate::domain::FieldErrors;
use crate::error::AppError;
use crate::store::audit::AuditAction;
use crate::store::tokens::{self, Invitation};
use crate::store::{self, audit, is_unique_violation, tenants, users};

/// SPEC §5, for an expired, used or unknown invitation.
pub const MSG_INVITATION_GONE: &str = "This invitation link is no longer valid. Ask your administrator for a new one.";

#[derive(Template)]
#[template(path = "auth/accept.html")]
struct AcceptPage {
    page: Chrome,
    token: String,
    email: String,
    role: &'static str,
    tenant_name: String,
    display_name: FieldView,
    password: FieldView,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct AcceptForm {
    display_name: String,
    password: String,
}

async fn open(state: &AppState, token: &str) -> Result<(Invitation, tenants::Tenant), AppError> {
    let gone = AppError::Refused(StatusCode::GONE, MSG_INVITATION_GONE);
    let invitation =
        tokens::invitation_by_token(&state.db, &token_hash(token), state.clock.now()).await?.ok_or(gone)?;
    let tenant = tenants::by_id(&state.db, invitation.tenant_id)
        .await?
        .filter(|t| !t.suspended)
        .ok_or(AppError::Refused(StatusCode::GONE, MSG_INVITATION_GONE))?;
    Ok((invitation, tenant))
}

async fn page(
    session: &WebSession,
    token: String,
    invitation: &Invitation,
    tenant: &tenants::Tenant,
    form: &AcceptForm,
    errors: &FieldErrors,
) -> Result<AcceptPage, AppError> {
    let chrome = Chrome::visitor(session, tenant, "Join", "invite").await?;
    Ok(AcceptPage {
        page: chrome,
        token,
        email: invitation.email.clone(),
        role: invitation.role.label(),
        tenant_name: tenant.name.clone(),
        display_name: FieldView::new("display_name", "Your name", &form.display_name, errors.get("display_name"))
            .max(DisplayName::MAX_LEN)
            .autocomplete("name")
            .required()
            .hint("How your colleagues will see you."),
        password: FieldView::new("password", "Choose a password", "", errors.get("password"))
            .kind("password")
            .autocomplete("new-password")
            .required()
            .hint(ConsolePassword::hint("your email address")),
    })
}

pub async fn show(
    State(state): State<AppState>,
    Path(token): Path<String>,
    session: WebSession,
) -> Result<Response, AppError> {
    let (invitation, tenant) = open(&state, &token).await?;
    render(&page(&session, token, &invitation, &tenant, &AcceptForm::default(), &FieldErrors::default()).await?)
}

pub async fn accept(
    State(state): State<AppState>,
    Path(token): Path<String>,
    session: WebSession,
    Form(form): Form<AcceptForm>,
) -> Result<Response, AppError> {
    let now = state.clock.now();
    let (invitation, tenant) = open(&state, &token).await?;
    let mut errors = FieldErrors::default();
    let name = errors.check("display_name", DisplayName::parse(&form.display_name));
    let password = errors.check("password", ConsolePassword::parse(&form.password, &invitation.email));
    let email = AccountEmail::parse(&invitation.email).map_err(|m| AppError::Refused(StatusCode::GONE, m))?;
    let (Some(name), Some(password)) = (name, password) else {
        return render_invalid(&page(&session, token, &invitation, &tenant, &form, &errors).await?);
    };
    let hash = password::hash(password.expose()).await?;
    let role = invitation.role;
    let mut tx = store::begin_write(&state.db).await?;
    if !tokens::accept(&mut tx, invitation.id, now).await? {
        return Err(AppError::Refused(StatusCode::GONE, MSG_INVITATION_GONE));
    }
    let new = users::NewUser {
        tenant_id: tenant.id,
        email: &email,
        display_name: &name,
        password_hash: &hash,
        role,
        is_operator: false,
    };
    let user_id = match users::create(&mut tx, new, now).await {
        Ok(id) => id,
        Err(e) if is_unique_violation(&e) => return Err(AppError::Refused(StatusCode::CONFLICT, MSG_EMAIL_TAKEN)),
        Err(e) => return Err(e.into()),
    };
    let actor = audit::Actor { id: Some(user_id), label: email.as_str() };
    audit::record(&mut tx, tenant.id, actor, AuditAction::InvitationAccepted, role.as_str(), now).await?;
    tx.commit().await?;

    let user = users::by_id(&state.db, tenant.id, user_id).await?.ok_or(AppError::NotFound)?;
    session.sign_in(&user, now).await?;
    let login = state.config.link(&format!("/t/{}/login", tenant.slug));
    session
        .flash_ok(format!("Welcome to {}, {}. Next time, sign in at {login}", tenant.name, user.display_name))
        .await?;
    Ok(Redirect::to(&format!("/t/{}/", tenant.slug)).into_response())
}

/// This area's pages.
pub fn routes() -> Router<AppState> {
    Router::new().route("/invite/{token}", get(show).post(accept))
}
