//! Members and invitations (SPEC §5). Admins invite admins, organizers and users;
//! organizers invite users; both withdraw the invitations they may make. Admins can also
//! make a password-reset link to share, and change, deactivate, remove or unlock members
//! (`actions`).

mod actions;

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;

use super::fields::FieldView;
use super::links::{can_email, invitation_mail, reset_mail};
use super::{format_time, render, render_invalid, Chrome, Form};
use crate::app::AppState;
use crate::auth::extract::{Admin, Member, Organizer, PathId};
use crate::auth::{random_token, throttle, token_hash};
use crate::domain::account::{AccountEmail, Role, MSG_EMAIL_TAKEN, MSG_ROLE};
use crate::domain::{email, FieldErrors};
use crate::error::AppError;
use crate::mail::outbox::{self, Link};
use crate::store::audit::AuditAction;
use crate::store::{self, audit, tokens, users, UserId};

pub const MSG_ROLE_NOT_ALLOWED: &str = "Organizers can invite users only.";
pub const MSG_RESET_LINK_NOT_ALLOWED: &str =
    "Reset links can be made for organizers and users only. Administrators reset their own password from the sign-in page.";
pub const MSG_RESET_LINK_DEACTIVATED: &str =
    "This account is deactivated. Reactivate it before making a password-reset link for it.";

/// An admin may make reset links only for active accounts with fewer rights: never for
/// another admin or an operator, whose account would otherwise be theirs to take over.
fn may_get_reset_link(user: &users::User) -> bool {
    user.role() < Role::Admin && !user.is_operator && user.is_active()
}

struct MemberRow {
    id: i64,
    name: String,
    email: String,
    role: &'static str,
    is_you: bool,
    can_reset: bool,
    active: bool,
    /// From how many addresses the account's sign-ins are slowed after failed attempts,
    /// in words (`1 address`), when they are.
    slowed_from: Option<String>,
}

#[derive(Template)]
#[template(path = "members/index.html")]
struct MembersPage {
    page: Chrome,
    slug: String,
    rows: Vec<MemberRow>,
    is_admin: bool,
    /// Why the change just asked for was refused (the page then answers 422).
    error: Option<&'static str>,
}

async fn members_page(state: &AppState, member: &Member, error: Option<&'static str>) -> Result<MembersPage, AppError> {
    let now = state.clock.now();
    let rows = users::list(&state.db, member.tenant.id)
        .await?
        .into_iter()
        .map(|u| MemberRow {
            can_reset: may_get_reset_link(&u),
            id: u.id.0,
            is_you: u.id == member.user.id,
            role: u.role().label(),
            active: u.is_active(),
            slowed_from: Some(
                state.throttle.slowed_clients(&throttle::account_key_for(member.tenant.id, &u.email), now),
            )
            .filter(|n| *n > 0)
            .map(|n| if n == 1 { "1 address".to_owned() } else { format!("{n} addresses") }),
            name: u.display_name,
            email: u.email,
        })
        .collect();
    Ok(MembersPage {
        page: member.chrome("Members", "members").await?,
        slug: member.tenant.slug.clone(),
        rows,
        is_admin: member.user.role() == Role::Admin,
        error,
    })
}

pub async fn members(State(state): State<AppState>, Organizer(member): Organizer) -> Result<Response, AppError> {
    render(&members_page(&state, &member, None).await?)
}

/// `POST /t/{slug}/members/{id}/reset-link`: a reset link for the admin to share.
pub async fn reset_link(
    State(state): State<AppState>,
    Admin(member): Admin,
    PathId(id): PathId,
) -> Result<Response, AppError> {
    let now = state.clock.now();
    let user = users::by_id(&state.db, member.tenant.id, UserId(id)).await?.ok_or(AppError::NotFound)?;
    if !user.is_active() {
        return Err(AppError::Refused(StatusCode::UNPROCESSABLE_ENTITY, MSG_RESET_LINK_DEACTIVATED));
    }
    if !may_get_reset_link(&user) {
        return Err(AppError::Refused(StatusCode::FORBIDDEN, MSG_RESET_LINK_NOT_ALLOWED));
    }
    let token = random_token();
    let mut tx = store::begin_write(&state.db).await?;
    tokens::reset(&mut tx, member.tenant.id, user.id, &token_hash(&token), now).await?;
    audit::record(&mut tx, member.tenant.id, member.actor(), AuditAction::ResetLinkMade, &user.email, now).await?;
    tx.commit().await?;
    let url = state.config.link(&format!("/t/{}/password/reset/{token}", member.tenant.slug));
    member.session.show_link(format!("Password-reset link for {}", user.email), url).await?;
    member
        .session
        .flash_ok(format!("Send this link to {}. It works once, within {}.", user.email, tokens::reset_valid_for()))
        .await?;
    Ok(Redirect::to(&format!("/t/{}/members", member.tenant.slug)).into_response())
}

struct InvitationRow {
    id: i64,
    email: String,
    role: &'static str,
    sent: String,
    expires: String,
    expired: bool,
    can_renew: bool,
    /// Whether its email went out: waiting, sent, failed (with why), or not emailed.
    delivery: &'static str,
    delivery_error: Option<String>,
}

#[derive(Template)]
#[template(path = "members/invitations.html")]
struct InvitationsPage {
    page: Chrome,
    slug: String,
    email: FieldView,
    role_error: Option<&'static str>,
    /// `(value, label, selected)`.
    roles: Vec<(&'static str, &'static str, bool)>,
    rows: Vec<InvitationRow>,
    email_on: bool,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct InviteForm {
    email: String,
    role: String,
}

/// The roles this member may invite (SPEC §1).
fn invitable(member: &Member) -> Vec<Role> {
    match member.user.role() {
        Role::Admin => vec![Role::User, Role::Organizer, Role::Admin],
        _ => vec![Role::User],
    }
}

async fn invitations_page(
    state: &AppState,
    member: &Member,
    form: &InviteForm,
    errors: &FieldErrors,
) -> Result<InvitationsPage, AppError> {
    let now = state.clock.now();
    let allowed = invitable(member);
    let zone = member.tenant.zone();
    let rows = tokens::open_invitations(&state.db, member.tenant.id)
        .await?
        .into_iter()
        .map(|i| {
            let role = i.role;
            InvitationRow {
                id: i.id,
                email: i.email,
                role: role.label(),
                sent: format_time(i.created_at, &zone),
                expires: format_time(i.expires_at, &zone),
                expired: i.expires_at <= now,
                can_renew: allowed.contains(&role),
                delivery: match i.delivery.as_deref() {
                    Some("sent") => "Delivered",
                    Some("failed") => "Not delivered",
                    Some(_) => "Waiting to be sent",
                    None => "Not emailed (link shared by hand)",
                },
                delivery_error: i.delivery_error.filter(|_| i.delivery.as_deref() != Some("sent")),
            }
        })
        .collect();
    let mut conn = state.db.acquire().await?;
    Ok(InvitationsPage {
        page: member.chrome("Invitations", "invitations").await?,
        slug: member.tenant.slug.clone(),
        email: FieldView::new("email", "Email address", &form.email, errors.get("email"))
            .kind("email")
            .max(email::MAX_LEN)
            .autocomplete("off")
            .required(),
        role_error: errors.get("role"),
        roles: allowed
            .iter()
            .map(|r| (r.as_str(), r.label(), r.as_str() == form.role || (form.role.is_empty() && *r == Role::User)))
            .collect(),
        rows,
        email_on: can_email(&mut conn, &member.tenant).await?,
    })
}

pub async fn invitations(State(state): State<AppState>, Organizer(member): Organizer) -> Result<Response, AppError> {
    render(&invitations_page(&state, &member, &InviteForm::default(), &FieldErrors::default()).await?)
}

pub async fn invite(
    State(state): State<AppState>,
    Organizer(member): Organizer,
    Form(form): Form<InviteForm>,
) -> Result<Response, AppError> {
    let mut errors = FieldErrors::default();
    let email = errors.check("email", AccountEmail::parse(&form.email));
    let role = match Role::parse(&form.role) {
        Ok(role) if invitable(&member).contains(&role) => Some(role),
        Ok(_) => {
            errors.insert("role", MSG_ROLE_NOT_ALLOWED);
            None
        }
        Err(_) => {
            errors.insert("role", MSG_ROLE);
            None
        }
    };
    if let Some(email) = &email {
        if users::by_email(&state.db, member.tenant.id, email.as_str()).await?.is_some() {
            errors.insert("email", MSG_EMAIL_TAKEN);
        }
    }
    let (Some(email), Some(role)) = (email, role) else {
        return render_invalid(&invitations_page(&state, &member, &form, &errors).await?);
    };
    if !errors.is_empty() {
        return render_invalid(&invitations_page(&state, &member, &form, &errors).await?);
    }
    send_invitation(&state, &member, email.as_str(), role, AuditAction::InvitationCreated).await
}

/// `POST /t/{slug}/invitations/{id}/regenerate`: voids the old link, sends or shows a new one.
pub async fn regenerate(
    State(state): State<AppState>,
    Organizer(member): Organizer,
    PathId(id): PathId,
) -> Result<Response, AppError> {
    let invitation = tokens::invitation(&state.db, member.tenant.id, id).await?.ok_or(AppError::NotFound)?;
    let role = invitation.role;
    if !invitable(&member).contains(&role) {
        return Err(AppError::Forbidden);
    }
    send_invitation(&state, &member, &invitation.email, role, AuditAction::InvitationRegenerated).await
}

#[derive(Template)]
#[template(path = "members/withdraw.html")]
struct WithdrawPage {
    page: Chrome,
    slug: String,
    id: i64,
    email: String,
    role: &'static str,
    /// Whether its email may still be waiting to be sent.
    emailed: bool,
}

/// The open invitation `id`, if this member may make (and so withdraw) one like it.
async fn withdrawable(state: &AppState, member: &Member, id: i64) -> Result<tokens::Invitation, AppError> {
    let invitation = tokens::invitation(&state.db, member.tenant.id, id).await?.ok_or(AppError::NotFound)?;
    if !invitable(member).contains(&invitation.role) {
        return Err(AppError::Forbidden);
    }
    Ok(invitation)
}

/// `GET /t/{slug}/invitations/{id}/withdraw`: asks first.
pub async fn withdraw_form(
    State(state): State<AppState>,
    Organizer(member): Organizer,
    PathId(id): PathId,
) -> Result<Response, AppError> {
    let invitation = withdrawable(&state, &member, id).await?;
    let mut conn = state.db.acquire().await?;
    let page = WithdrawPage {
        page: member.chrome(format!("Withdraw the invitation to {}", invitation.email), "invitations").await?,
        slug: member.tenant.slug.clone(),
        id: invitation.id,
        role: invitation.role.label(),
        emailed: can_email(&mut conn, &member.tenant).await?,
        email: invitation.email,
    };
    render(&page)
}

/// `POST /t/{slug}/invitations/{id}/withdraw`: the link stops working, and its email is
/// not sent if it is still waiting.
pub async fn withdraw(
    State(state): State<AppState>,
    Organizer(member): Organizer,
    PathId(id): PathId,
) -> Result<Response, AppError> {
    let now = state.clock.now();
    let invitation = withdrawable(&state, &member, id).await?;
    let mut tx = store::begin_write(&state.db).await?;
    if !tokens::withdraw(&mut tx, member.tenant.id, invitation.id, now).await? {
        return Err(AppError::NotFound);
    }
    let detail = format!("{} as {}", invitation.email, invitation.role.as_str());
    audit::record(&mut tx, member.tenant.id, member.actor(), AuditAction::InvitationWithdrawn, &detail, now).await?;
    tx.commit().await?;
    member
        .session
        .flash_ok(format!("Withdrew the invitation to {}. Its link no longer works.", invitation.email))
        .await?;
    Ok(Redirect::to(&format!("/t/{}/invitations", member.tenant.slug)).into_response())
}

/// Creates the invitation (voiding an older one for the address) and, in the same
/// transaction, its email in the outbox; or shows the link once when email is off.
async fn send_invitation(
    state: &AppState,
    member: &Member,
    email: &str,
    role: Role,
    action: AuditAction,
) -> Result<Response, AppError> {
    let now = state.clock.now();
    let token = random_token();
    let url = state.config.link(&format!("/invite/{token}"));
    let mut tx = store::begin_write(&state.db).await?;
    let new = tokens::NewInvitation { email, role, token_hash: &token_hash(&token), invited_by: member.user.id };
    let invitation = tokens::invite(&mut tx, member.tenant.id, new, now).await?;
    let emailed = can_email(&mut tx, &member.tenant).await?;
    if emailed {
        let mail = invitation_mail(
            state,
            &member.tenant,
            &member.user.display_name,
            &role.label().to_lowercase(),
            email,
            &url,
        )?;
        outbox::enqueue(&mut tx, &state.secrets, member.tenant.id, Link::Invitation(invitation), &mail, now).await?;
    }
    audit::record(&mut tx, member.tenant.id, member.actor(), action, &format!("{email} as {}", role.as_str()), now)
        .await?;
    tx.commit().await?;
    if emailed {
        state.outbox_wake.notify_one();
        member
            .session
            .flash_ok(format!(
                "Invitation to {email} queued for sending; the list below shows when it is delivered. The link \
                 works once, within {}.",
                tokens::invitation_valid_for()
            ))
            .await?;
    } else {
        member.session.show_link(format!("Invitation link for {email}"), url).await?;
        member
            .session
            .flash_ok(format!("Email is off, so the invitation was not emailed: send {email} the link below yourself."))
            .await?;
    }
    Ok(Redirect::to(&format!("/t/{}/invitations", member.tenant.slug)).into_response())
}

/// Sends a reset email for `email` if such an account exists and email is on (the forgot
/// form's answer is the same either way). Returns whether one was queued.
pub async fn queue_reset(
    state: &AppState,
    tenant: &crate::store::tenants::Tenant,
    email: &str,
) -> Result<bool, AppError> {
    let now = state.clock.now();
    let Some(user) = users::by_email(&state.db, tenant.id, email).await?.filter(users::User::is_active) else {
        return Ok(false);
    };
    let token = random_token();
    let url = state.config.link(&format!("/t/{}/password/reset/{token}", tenant.slug));
    let mut tx = store::begin_write(&state.db).await?;
    if !can_email(&mut tx, tenant).await? {
        return Ok(false);
    }
    let reset = tokens::reset(&mut tx, tenant.id, user.id, &token_hash(&token), now).await?;
    let mail = reset_mail(state, tenant, &user.email, &url)?;
    outbox::enqueue(&mut tx, &state.secrets, tenant.id, Link::Reset(reset), &mail, now).await?;
    let actor = audit::Actor { id: Some(user.id), label: &user.email };
    audit::record(&mut tx, tenant.id, actor, AuditAction::ResetRequested, "", now).await?;
    tx.commit().await?;
    state.outbox_wake.notify_one();
    Ok(true)
}

/// This area's pages.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/t/{slug}/members", get(members))
        .route("/t/{slug}/members/{id}/reset-link", post(reset_link))
        .route("/t/{slug}/invitations", get(invitations).post(invite))
        .route("/t/{slug}/invitations/{id}/regenerate", post(regenerate))
        .route("/t/{slug}/invitations/{id}/withdraw", get(withdraw_form).post(withdraw))
        .merge(actions::routes())
}
