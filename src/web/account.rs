//! `/t/{slug}/account`: the signed-in member's own account; changing one's password
//! (SPEC §1: every role may). The change ends the member's other sessions; this one goes on.

use askama::Template;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;

use super::fields::FieldView;
use super::{render, render_invalid, Chrome, Form};
use crate::app::AppState;
use crate::auth::extract::Member;
use crate::auth::password;
use crate::domain::account::ConsolePassword;
use crate::domain::FieldErrors;
use crate::error::AppError;
use crate::store::audit::AuditAction;
use crate::store::{self, audit, users};

pub const MSG_CURRENT_PASSWORD: &str = "Your current password is not correct.";
pub const MSG_PASSWORD_CHANGED: &str = "Your password has been changed. Your other sessions were signed out.";

#[derive(Template)]
#[template(path = "account.html")]
struct AccountPage {
    page: Chrome,
    slug: String,
    name: String,
    email: String,
    role: &'static str,
    current: FieldView,
    new_password: FieldView,
}

async fn account_page(member: &Member, errors: &FieldErrors) -> Result<AccountPage, AppError> {
    Ok(AccountPage {
        page: member.chrome("Your account", "account").await?,
        slug: member.tenant.slug.clone(),
        name: member.user.display_name.clone(),
        email: member.user.email.clone(),
        role: member.user.role().label(),
        current: FieldView::new("current_password", "Current password", "", errors.get("current_password"))
            .kind("password")
            .autocomplete("current-password")
            .required(),
        new_password: FieldView::new("password", "New password", "", errors.get("password"))
            .kind("password")
            .autocomplete("new-password")
            .required()
            .hint(ConsolePassword::hint("your email address")),
    })
}

pub async fn show(member: Member) -> Result<Response, AppError> {
    render(&account_page(&member, &FieldErrors::default()).await?)
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct PasswordForm {
    current_password: String,
    password: String,
}

pub async fn change_password(
    State(state): State<AppState>,
    member: Member,
    Form(form): Form<PasswordForm>,
) -> Result<Response, AppError> {
    let now = state.clock.now();
    let mut errors = FieldErrors::default();
    let new = errors.check("password", ConsolePassword::parse(&form.password, &member.user.email));
    let stored = users::credentials(&state.db, member.tenant.id, &member.user.email).await?.map(|(_, hash)| hash);
    if !password::verify(&form.current_password, stored).await {
        errors.insert("current_password", MSG_CURRENT_PASSWORD);
    }
    let Some(new) = new.filter(|_| errors.is_empty()) else {
        return render_invalid(&account_page(&member, &errors).await?);
    };
    let hash = password::hash(new.expose()).await?;
    let mut tx = store::begin_write(&state.db).await?;
    users::set_password(&mut tx, member.tenant.id, member.user.id, &hash).await?;
    audit::record(
        &mut tx,
        member.tenant.id,
        member.actor(),
        AuditAction::UserPasswordChanged,
        "other sessions ended",
        now,
    )
    .await?;
    tx.commit().await?;
    // The epoch moved on, which ends every session; sign this one in again.
    let user = users::by_id(&state.db, member.tenant.id, member.user.id).await?.ok_or(AppError::NotFound)?;
    member.session.sign_in(&user, now).await?;
    member.session.flash_ok(MSG_PASSWORD_CHANGED).await?;
    Ok(Redirect::to(&format!("/t/{}/account", member.tenant.slug)).into_response())
}

/// This area's pages.
pub fn routes() -> Router<AppState> {
    Router::new().route("/t/{slug}/account", get(show)).route("/t/{slug}/account/password", post(change_password))
}
