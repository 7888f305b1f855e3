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
use super::{format_time, render, render_invalid, Chrome, Form};
use crate::app::AppState;
use crate::auth::extract::Member;
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

/// The invitation a token opens and its tenant, while it can be accepted.
async fn open(state: &AppState, token: &str) -> Result<Option<(Invitation, tenants::Tenant)>, AppError> {
    let Some(invitation) = tokens::invitation_by_token(&state.db, &token_hash(token), state.clock.now()).await? else {
        return Ok(None);
    };
    let tenant = tenants::by_id(&state.db, invitation.tenant_id).await?.filter(|t| !t.suspended);
    Ok(tenant.map(|t| (invitation, t)))
}

#[derive(Template)]
#[template(path = "auth/invite_gone.html")]
struct GonePage {
    page: Chrome,
    /// Why this link no longer works, when the token is one relaydesk made.
    reason: Option<String>,
    /// The organization it was for (not when unknown or suspended), and whether this
    /// browser is signed in to it: the way back is its dashboard or its sign-in.
    tenant: Option<(String, String)>,
    signed_in: bool,
}

/// The page of a link that cannot be used (status 410): SPEC's sentence, why (used,
/// withdrawn, replaced by a newer link, expired), and the way to the organization's
/// sign-in or, for someone signed in to it, its dashboard.
async fn gone(state: &AppState, session: &WebSession, token: &str) -> Result<Response, AppError> {
    let link = tokens::invitation_link(&state.db, &token_hash(token)).await?;
    let tenant = match &link {
        Some(link) => tenants::by_id(&state.db, link.tenant_id).await?.filter(|t| !t.suspended),
        None => None,
    };
    let (Some(link), Some(tenant)) = (link, tenant) else {
        let page = GonePage { page: Chrome::bare("Invitation link"), reason: None, tenant: None, signed_in: false };
        return Ok((StatusCode::GONE, render(&page)?).into_response());
    };
    let reason = if link.accepted_at.is_some() {
        format!("It has already been used to join {}.", tenant.name)
    } else if link.withdrawn_at.is_some() {
        format!("It was withdrawn by {}.", tenant.name)
    } else if link.voided_at.is_some() {
        "A newer invitation link was made for this address: use the newest one you received.".to_owned()
    } else {
        format!("It expired on {}.", format_time(link.expires_at, &tenant.zone()))
    };
    // Signed in to this organization (and still allowed to be): show its pages' navigation.
    let here = match session.signed_in().await? {
        Some(auth) if auth.tenant_id == tenant.id => users::by_id(&state.db, tenant.id, auth.user_id)
            .await?
            .filter(|u| u.session_epoch == auth.epoch && u.is_active()),
        _ => None,
    };
    let signed_in = here.is_some();
    let slug_and_name = (tenant.slug.clone(), tenant.name.clone());
    let page = match here {
        Some(user) => {
            Member { tenant, user, session: session.clone() }.chrome("Invitation link", "invite-gone").await?
        }
        None => Chrome::visitor(session, &tenant, "Invitation link", "invite-gone").await?,
    };
    let page = GonePage { page, reason: Some(reason), tenant: Some(slug_and_name), signed_in };
    Ok((StatusCode::GONE, render(&page)?).into_response())
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
    let Some((invitation, tenant)) = open(&state, &token).await? else {
        return gone(&state, &session, &token).await;
    };
    render(&page(&session, token, &invitation, &tenant, &AcceptForm::default(), &FieldErrors::default()).await?)
}

pub async fn accept(
    State(state): State<AppState>,
    Path(token): Path<String>,
    session: WebSession,
    Form(form): Form<AcceptForm>,
) -> Result<Response, AppError> {
    let now = state.clock.now();
    let Some((invitation, tenant)) = open(&state, &token).await? else {
        return gone(&state, &session, &token).await;
    };
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
        drop(tx);
        return gone(&state, &session, &token).await;
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
