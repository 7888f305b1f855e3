//! What an administrator does to a member: change their role, deactivate and reactivate
//! them, remove them, and clear the failed sign-ins that slow a member's sign-in down.
//!
//! The organization always keeps an active administrator: the last one cannot be demoted,
//! deactivated or removed, by someone else or by themselves (`MemberChange::allowed`,
//! checked inside the write transaction, so two admins demoting each other at once cannot
//! both succeed). A refusal answers 422 with the members page and its message, and changes
//! nothing. Destructive actions have a page that asks first (shown in a dialog by script).

use askama::Template;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;

use super::{members_page, Chrome};
use crate::app::AppState;
use crate::auth::extract::{Admin, Member, PathId};
use crate::auth::throttle;
use crate::domain::account::{MemberChange, Role};
use crate::error::AppError;
use crate::store::audit::AuditAction;
use crate::store::{self, audit, tokens, users, UserId};
use crate::web::{render, render_invalid, Form};

/// The member a page acts on, as its templates show them.
struct Target {
    id: i64,
    name: String,
    email: String,
    role: Role,
    is_you: bool,
}

impl Target {
    fn of(user: &users::User, member: &Member) -> Target {
        Target {
            id: user.id.0,
            name: user.display_name.clone(),
            email: user.email.clone(),
            role: user.role(),
            is_you: user.id == member.user.id,
        }
    }
}

async fn target(state: &AppState, member: &Member, id: i64) -> Result<users::User, AppError> {
    users::by_id(&state.db, member.tenant.id, UserId(id)).await?.ok_or(AppError::NotFound)
}

fn to_members(member: &Member) -> Response {
    Redirect::to(&format!("/t/{}/members", member.tenant.slug)).into_response()
}

/// The change is refused: the members page with the reason, 422, nothing changed.
async fn refused(state: &AppState, member: &Member, message: &'static str) -> Result<Response, AppError> {
    render_invalid(&members_page(state, member, Some(message)).await?)
}

/// The admin acted on their own account and may no longer use it: signed out, to the login.
async fn signed_out(member: &Member, message: &str) -> Result<Response, AppError> {
    member.session.sign_out().await?;
    member.session.flash_ok(message).await?;
    Ok(Redirect::to(&format!("/t/{}/login", member.tenant.slug)).into_response())
}

// Role ----------------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "members/role.html")]
struct RolePage {
    page: Chrome,
    slug: String,
    target: Target,
    /// `(value, label, selected)`.
    roles: Vec<(&'static str, &'static str, bool)>,
    error: Option<&'static str>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct RoleForm {
    role: String,
}

async fn role_page(
    member: &Member,
    user: &users::User,
    chosen: &str,
    error: Option<&'static str>,
) -> Result<RolePage, AppError> {
    let chosen = if chosen.is_empty() { user.role().as_str() } else { chosen };
    Ok(RolePage {
        page: member.chrome(format!("Change the role of {}", user.display_name), "members").await?,
        slug: member.tenant.slug.clone(),
        target: Target::of(user, member),
        roles: [Role::User, Role::Organizer, Role::Admin]
            .into_iter()
            .map(|r| (r.as_str(), r.label(), r.as_str() == chosen))
            .collect(),
        error,
    })
}

/// `GET /t/{slug}/members/{id}/role`
pub async fn role_form(
    State(state): State<AppState>,
    Admin(member): Admin,
    PathId(id): PathId,
) -> Result<Response, AppError> {
    let user = target(&state, &member, id).await?;
    render(&role_page(&member, &user, "", None).await?)
}

/// `POST /t/{slug}/members/{id}/role` (`role`)
pub async fn change_role(
    State(state): State<AppState>,
    Admin(member): Admin,
    PathId(id): PathId,
    Form(form): Form<RoleForm>,
) -> Result<Response, AppError> {
    let now = state.clock.now();
    let user = target(&state, &member, id).await?;
    let role = match Role::parse(&form.role) {
        Ok(role) => role,
        Err(message) => return render_invalid(&role_page(&member, &user, &form.role, Some(message)).await?),
    };
    let mut tx = store::begin_write(&state.db).await?;
    let user = users::by_id_in(&mut tx, member.tenant.id, user.id).await?.ok_or(AppError::NotFound)?;
    if user.role() == role {
        drop(tx);
        member.session.flash_ok(format!("{} is already {}.", user.email, article(role))).await?;
        return Ok(to_members(&member));
    }
    let others = users::other_active_admins(&mut tx, member.tenant.id, user.id).await?;
    if let Err(message) = MemberChange::Role(role).allowed(user.facts(), others) {
        drop(tx);
        return refused(&state, &member, message).await;
    }
    users::set_role(&mut tx, member.tenant.id, user.id, role).await?;
    let detail = format!("{}: {} to {}", user.email, user.role().as_str(), role.as_str());
    audit::record(&mut tx, member.tenant.id, member.actor(), AuditAction::MemberRoleChanged, &detail, now).await?;
    tx.commit().await?;
    if user.id == member.user.id {
        member.session.flash_ok(format!("You are now {}.", article(role))).await?;
        // Without the admin's pages, the members page may be closed to them now.
        let to = if role >= Role::Organizer { "members" } else { "" };
        return Ok(Redirect::to(&format!("/t/{}/{to}", member.tenant.slug)).into_response());
    }
    member.session.flash_ok(format!("{} is now {}.", user.email, article(role))).await?;
    Ok(to_members(&member))
}

/// "an administrator", "an organizer", "a user".
fn article(role: Role) -> &'static str {
    match role {
        Role::Admin => "an administrator",
        Role::Organizer => "an organizer",
        Role::User => "a user",
    }
}

// Deactivate, reactivate, remove ----------------------------------------------------------

#[derive(Template)]
#[template(path = "members/confirm.html")]
struct ConfirmPage {
    page: Chrome,
    slug: String,
    target: Target,
    /// `deactivate` or `remove`: the form's action and its wording.
    action: &'static str,
    /// Set when the rules refuse the change already: the page says why and offers no button.
    refusal: Option<&'static str>,
}

async fn confirm_page(
    state: &AppState,
    member: &Member,
    id: i64,
    action: &'static str,
    change: MemberChange,
) -> Result<Response, AppError> {
    let user = target(state, member, id).await?;
    let mut conn = state.db.acquire().await?;
    let others = users::other_active_admins(&mut conn, member.tenant.id, user.id).await?;
    drop(conn);
    let verb = if action == "remove" { "Remove" } else { "Deactivate" };
    let page = ConfirmPage {
        page: member.chrome(format!("{verb} {}", user.display_name), "members").await?,
        slug: member.tenant.slug.clone(),
        refusal: change.allowed(user.facts(), others).err(),
        target: Target::of(&user, member),
        action,
    };
    render(&page)
}

/// `GET /t/{slug}/members/{id}/deactivate`: asks first.
pub async fn deactivate_form(
    State(state): State<AppState>,
    Admin(member): Admin,
    PathId(id): PathId,
) -> Result<Response, AppError> {
    confirm_page(&state, &member, id, "deactivate", MemberChange::Deactivate).await
}

/// `GET /t/{slug}/members/{id}/remove`: asks first.
pub async fn remove_form(
    State(state): State<AppState>,
    Admin(member): Admin,
    PathId(id): PathId,
) -> Result<Response, AppError> {
    confirm_page(&state, &member, id, "remove", MemberChange::Remove).await
}

/// `POST /t/{slug}/members/{id}/deactivate`: signed out at once, cannot sign in until
/// reactivated; unused reset links stop working.
pub async fn deactivate(
    State(state): State<AppState>,
    Admin(member): Admin,
    PathId(id): PathId,
) -> Result<Response, AppError> {
    let now = state.clock.now();
    let mut tx = store::begin_write(&state.db).await?;
    let user = users::by_id_in(&mut tx, member.tenant.id, UserId(id)).await?.ok_or(AppError::NotFound)?;
    if !user.is_active() {
        drop(tx);
        member.session.flash_ok(format!("{} is already deactivated.", user.email)).await?;
        return Ok(to_members(&member));
    }
    let others = users::other_active_admins(&mut tx, member.tenant.id, user.id).await?;
    if let Err(message) = MemberChange::Deactivate.allowed(user.facts(), others) {
        drop(tx);
        return refused(&state, &member, message).await;
    }
    users::deactivate(&mut tx, member.tenant.id, user.id, now).await?;
    tokens::void_resets_of(&mut tx, member.tenant.id, user.id, now).await?;
    audit::record(&mut tx, member.tenant.id, member.actor(), AuditAction::MemberDeactivated, &user.email, now).await?;
    tx.commit().await?;
    if user.id == member.user.id {
        return signed_out(&member, "You deactivated your own account and are signed out.").await;
    }
    member
        .session
        .flash_ok(format!(
            "Deactivated {}. They are signed out and cannot sign in until an administrator reactivates them.",
            user.email
        ))
        .await?;
    Ok(to_members(&member))
}

/// `POST /t/{slug}/members/{id}/reactivate`: may sign in again (with their password).
pub async fn reactivate(
    State(state): State<AppState>,
    Admin(member): Admin,
    PathId(id): PathId,
) -> Result<Response, AppError> {
    let now = state.clock.now();
    let mut tx = store::begin_write(&state.db).await?;
    let user = users::by_id_in(&mut tx, member.tenant.id, UserId(id)).await?.ok_or(AppError::NotFound)?;
    if user.is_active() {
        drop(tx);
        member.session.flash_ok(format!("{} is already active.", user.email)).await?;
        return Ok(to_members(&member));
    }
    users::reactivate(&mut tx, member.tenant.id, user.id).await?;
    audit::record(&mut tx, member.tenant.id, member.actor(), AuditAction::MemberReactivated, &user.email, now).await?;
    tx.commit().await?;
    member.session.flash_ok(format!("Reactivated {}. They can sign in again.", user.email)).await?;
    Ok(to_members(&member))
}

/// `POST /t/{slug}/members/{id}/remove`: the account is deleted; the audit log keeps what
/// it did.
pub async fn remove(
    State(state): State<AppState>,
    Admin(member): Admin,
    PathId(id): PathId,
) -> Result<Response, AppError> {
    let now = state.clock.now();
    let mut tx = store::begin_write(&state.db).await?;
    let user = users::by_id_in(&mut tx, member.tenant.id, UserId(id)).await?.ok_or(AppError::NotFound)?;
    let others = users::other_active_admins(&mut tx, member.tenant.id, user.id).await?;
    if let Err(message) = MemberChange::Remove.allowed(user.facts(), others) {
        drop(tx);
        return refused(&state, &member, message).await;
    }
    // Before the account (and with it its resets) is gone: no reset email goes out after.
    tokens::void_resets_of(&mut tx, member.tenant.id, user.id, now).await?;
    // Recorded first: an admin removing themselves is still the actor the entry names.
    let detail = format!("{} ({})", user.email, user.role().as_str());
    audit::record(&mut tx, member.tenant.id, member.actor(), AuditAction::MemberRemoved, &detail, now).await?;
    if !users::remove(&mut tx, member.tenant.id, user.id).await? {
        return Err(AppError::NotFound);
    }
    tx.commit().await?;
    if user.id == member.user.id {
        return signed_out(&member, "You removed your own account and are signed out.").await;
    }
    member.session.flash_ok(format!("Removed {}. They can no longer sign in.", user.email)).await?;
    Ok(to_members(&member))
}

// Unlock ---------------------------------------------------------------------------------

/// `POST /t/{slug}/members/{id}/unlock`: clears the failed sign-ins that slow the
/// account's sign-ins down, from every address.
pub async fn unlock(
    State(state): State<AppState>,
    Admin(member): Admin,
    PathId(id): PathId,
) -> Result<Response, AppError> {
    let now = state.clock.now();
    let user = target(&state, &member, id).await?;
    let key = throttle::account_key_for(member.tenant.id, &user.email);
    if !state.throttle.clear(&key, now) {
        member.session.flash_ok(format!("The sign-ins of {} are not slowed down.", user.email)).await?;
        return Ok(to_members(&member));
    }
    let mut conn = state.db.acquire().await?;
    audit::record(&mut conn, member.tenant.id, member.actor(), AuditAction::MemberUnlocked, &user.email, now).await?;
    member
        .session
        .flash_ok(format!("Cleared the failed sign-ins of {}: they can sign in again now, from anywhere.", user.email))
        .await?;
    Ok(to_members(&member))
}

/// This area's pages.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/t/{slug}/members/{id}/role", get(role_form).post(change_role))
        .route("/t/{slug}/members/{id}/deactivate", get(deactivate_form).post(deactivate))
        .route("/t/{slug}/members/{id}/reactivate", post(reactivate))
        .route("/t/{slug}/members/{id}/remove", get(remove_form).post(remove))
        .route("/t/{slug}/members/{id}/unlock", post(unlock))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_read_with_their_article() {
        assert_eq!(article(Role::Admin), "an administrator");
        assert_eq!(article(Role::Organizer), "an organizer");
        assert_eq!(article(Role::User), "a user");
    }
}
