//! `/admin`: the operator's page. Creates, renames and suspends tenants (suspending is
//! confirmed first); a new tenant comes with its first administrator, whose password the
//! operator chooses, or who is invited: a new organization has no SMTP profile to email
//! from (and one organization's SMTP never sends another's mail), so the operator is shown
//! the join link once, to send it themselves, as an admin is when email is off.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;

use super::{format_time, render, render_invalid, Chrome, Form};
use crate::app::AppState;
use crate::auth::extract::Operator;
use crate::auth::{password, random_token, token_hash};
use crate::domain::account::{AccountEmail, NewTenantForm, Role, TenantName, TenantSlug, MSG_SLUG_TAKEN};
use crate::domain::guest::{parse_daily_cap, DEFAULT_DAILY_CAP};
use crate::domain::FieldErrors;
use crate::error::AppError;
use crate::store::audit::{self, Actor, AuditAction};
use crate::store::{self, tenants, tokens};

pub const MSG_NOT_YOUR_OWN: &str = "You cannot suspend your own organization: you would lock yourself out.";

struct Row {
    slug: String,
    name: String,
    suspended: bool,
    members: i64,
    created: String,
    is_own: bool,
    /// The operator allowed loopback, private and shared SMTP hosts (the toggle).
    private_networks: bool,
    /// An operator belongs to it, so it has them whatever the toggle says.
    operator_tenant: bool,
    /// Passcodes its guests may be sent in 24 hours.
    guest_cap: i64,
}

#[derive(Template)]
#[template(path = "admin/index.html")]
struct AdminPage {
    page: Chrome,
    rows: Vec<Row>,
    form: NewTenantForm,
    /// The first administrator is invited, not given a password.
    invite: bool,
    errors: FieldErrors,
}

#[derive(Template)]
#[template(path = "admin/suspend.html")]
struct SuspendPage {
    page: Chrome,
    slug: String,
    name: String,
    members: i64,
}

/// The operator's new-organization form: the organization and its first administrator,
/// and how that administrator gets in (`first_admin`: `password`, the default, or `invite`).
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub struct OperatorTenantForm {
    #[serde(flatten)]
    tenant: NewTenantForm,
    first_admin: String,
}

/// `first_admin` is neither `invite` nor `password` (nor left out, which means `password`).
pub const MSG_FIRST_ADMIN: &str =
    "Please choose how the first administrator gets in: invite them, or choose their name and password now.";

impl OperatorTenantForm {
    /// Whether the first administrator is invited; `None` for a value the form never
    /// offers, which is refused rather than read as either.
    fn invite(&self) -> Option<bool> {
        match self.first_admin.as_str() {
            "" | "password" => Some(false),
            "invite" => Some(true),
            _ => None,
        }
    }
}

/// A new organization whose first administrator is invited: no name or password is asked,
/// the invited person gives both when they join.
struct InvitedTenant {
    slug: TenantSlug,
    name: TenantName,
    admin_email: AccountEmail,
}

/// Every rule of the invite form, all messages at once (the fields the password form shares
/// with it are checked by the same newtypes).
fn parse_invited(form: &NewTenantForm) -> Result<InvitedTenant, FieldErrors> {
    let mut errors = FieldErrors::default();
    let slug = errors.check("slug", TenantSlug::parse(&form.slug));
    let name = errors.check("name", TenantName::parse(&form.name));
    let admin_email = errors.check("admin_email", AccountEmail::parse(&form.admin_email));
    match (slug, name, admin_email) {
        (Some(slug), Some(name), Some(admin_email)) => Ok(InvitedTenant { slug, name, admin_email }),
        _ => Err(errors),
    }
}

/// Adds the taken-short-name message to `errors` when the short name is well formed but
/// taken, so it shows together with the other fields' messages.
async fn check_slug_free(state: &AppState, form: &NewTenantForm, errors: &mut FieldErrors) -> Result<(), AppError> {
    if let Ok(slug) = TenantSlug::parse(&form.slug) {
        if tenants::by_slug(&state.db, slug.as_str()).await?.is_some() {
            errors.insert("slug", MSG_SLUG_TAKEN);
        }
    }
    Ok(())
}

async fn admin_page(
    state: &AppState,
    op: &Operator,
    form: NewTenantForm,
    invite: bool,
    errors: FieldErrors,
) -> Result<AdminPage, AppError> {
    let counts = tenants::member_counts(&state.db).await?;
    let egress = store::egress::all(&state.db).await?;
    let egress_of = |id| egress.iter().find(|(t, ..)| *t == id).map_or((false, false), |(_, a, o)| (*a, *o));
    let caps = store::guests::daily_caps(&state.db).await?;
    let cap_of = |id| caps.iter().find(|(t, _)| *t == id).map_or(DEFAULT_DAILY_CAP, |(_, c)| *c);
    // The operator's own organization's zone, like every page they see.
    let zone = op.0.tenant.zone();
    let rows = tenants::all(&state.db)
        .await?
        .into_iter()
        .map(|t| Row {
            members: counts.iter().find(|(id, _)| *id == t.id).map_or(0, |(_, n)| *n),
            created: format_time(t.created_at, &zone),
            is_own: t.id == op.0.tenant.id,
            private_networks: egress_of(t.id).0,
            operator_tenant: egress_of(t.id).1,
            guest_cap: cap_of(t.id),
            slug: t.slug,
            name: t.name,
            suspended: t.suspended,
        })
        .collect();
    Ok(AdminPage { page: op.0.chrome("Operator", "admin").await?, rows, form, invite, errors })
}

pub async fn index(State(state): State<AppState>, op: Operator) -> Result<Response, AppError> {
    render(&admin_page(&state, &op, NewTenantForm::default(), false, FieldErrors::default()).await?)
}

pub async fn create_tenant(
    State(state): State<AppState>,
    op: Operator,
    Form(form): Form<OperatorTenantForm>,
) -> Result<Response, AppError> {
    match form.invite() {
        Some(true) => return create_with_invitation(&state, &op, &form.tenant).await,
        Some(false) => {}
        None => {
            // Every other message at once too: those of the fields both ways share.
            let mut errors = parse_invited(&form.tenant).err().unwrap_or_default();
            check_slug_free(&state, &form.tenant, &mut errors).await?;
            errors.insert("first_admin", MSG_FIRST_ADMIN);
            return refuse(&state, &op, &form.tenant, false, errors).await;
        }
    }
    let form = form.tenant;
    let parsed = form.parse();
    let mut errors = parsed.as_ref().err().cloned().unwrap_or_default();
    check_slug_free(&state, &form, &mut errors).await?;
    let new = match parsed {
        Ok(new) if errors.is_empty() => new,
        _ => return refuse(&state, &op, &form, false, errors).await,
    };
    let now = state.clock.now();
    let hash = password::hash(new.admin_password.expose()).await?;
    let mut tx = store::begin_write(&state.db).await?;
    let (tenant_id, _) = match tenants::create_with_admin(&mut tx, &new, &hash, false, now).await {
        Ok(ids) => ids,
        // Taken meanwhile.
        Err(e) if store::is_unique_violation(&e) => {
            drop(tx);
            let mut errors = FieldErrors::default();
            errors.insert("slug", MSG_SLUG_TAKEN);
            return refuse(&state, &op, &form, false, errors).await;
        }
        Err(e) => return Err(e.into()),
    };
    let detail = format!("by operator {}; first admin {}", op.0.user.email, new.admin_email.as_str());
    audit::record(
        &mut tx,
        tenant_id,
        Actor { id: None, label: &op.0.user.email },
        AuditAction::TenantCreated,
        &detail,
        now,
    )
    .await?;
    tx.commit().await?;
    op.0.session
        .flash_ok(format!("Created {} with its administrator {}.", new.name.as_str(), new.admin_email.as_str()))
        .await?;
    Ok(Redirect::to("/admin").into_response())
}

/// The page again with the form's messages (status 422), the entries kept but the password.
async fn refuse(
    state: &AppState,
    op: &Operator,
    form: &NewTenantForm,
    invite: bool,
    errors: FieldErrors,
) -> Result<Response, AppError> {
    render_invalid(&admin_page(state, op, form.without_password(), invite, errors).await?)
}

/// Creates the organization and an invitation for its first administrator, and shows the
/// operator the join link once.
async fn create_with_invitation(state: &AppState, op: &Operator, form: &NewTenantForm) -> Result<Response, AppError> {
    let parsed = parse_invited(form);
    let mut errors = parsed.as_ref().err().cloned().unwrap_or_default();
    check_slug_free(state, form, &mut errors).await?;
    let new = match parsed {
        Ok(new) if errors.is_empty() => new,
        _ => return refuse(state, op, form, true, errors).await,
    };
    let now = state.clock.now();
    let token = random_token();
    let url = state.config.link(&format!("/invite/{token}"));
    let mut tx = store::begin_write(&state.db).await?;
    let tenant_id = match tenants::create(&mut tx, &new.slug, &new.name, now).await {
        Ok(id) => id,
        Err(e) if store::is_unique_violation(&e) => {
            drop(tx);
            let mut errors = FieldErrors::default();
            errors.insert("slug", MSG_SLUG_TAKEN);
            return refuse(state, op, form, true, errors).await;
        }
        Err(e) => return Err(e.into()),
    };
    let email = new.admin_email.as_str();
    let invitation =
        tokens::NewInvitation { email, role: Role::Admin, token_hash: &token_hash(&token), invited_by: op.0.user.id };
    tokens::invite(&mut tx, tenant_id, invitation, now).await?;
    let operator = Actor { id: None, label: &op.0.user.email };
    let detail = format!("by operator {}; first admin invited: {email}", op.0.user.email);
    audit::record(&mut tx, tenant_id, operator, AuditAction::TenantCreated, &detail, now).await?;
    let operator = Actor { id: None, label: &op.0.user.email };
    audit::record(&mut tx, tenant_id, operator, AuditAction::InvitationCreated, &format!("{email} as admin"), now)
        .await?;
    tx.commit().await?;
    let name = new.name.as_str();
    op.0.session.flash_ok(msg_created_invited(name, email)).await?;
    op.0.session.show_link(format!("Join link for {email}, the first administrator of {name}"), url).await?;
    Ok(Redirect::to("/admin").into_response())
}

/// What the operator is told after creating an organization whose first admin is invited.
pub fn msg_created_invited(name: &str, email: &str) -> String {
    format!(
        "Created {name}. It has no SMTP profile yet, so relaydesk cannot email the invitation: send {email} the join \
         link below yourself. They choose their name and password; the link works once, within {}.",
        tokens::invitation_valid_for()
    )
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct RenameForm {
    name: String,
}

pub async fn rename(
    State(state): State<AppState>,
    op: Operator,
    Path(slug): Path<String>,
    Form(form): Form<RenameForm>,
) -> Result<Response, AppError> {
    let tenant = tenants::by_slug(&state.db, &slug).await?.ok_or(AppError::NotFound)?;
    let name = TenantName::parse(&form.name).map_err(|m| AppError::Refused(StatusCode::UNPROCESSABLE_ENTITY, m))?;
    let detail = format!("from {:?} to {:?}", tenant.name, name.as_str());
    let mut tx = store::begin_write(&state.db).await?;
    tenants::rename(&mut tx, tenant.id, &name).await?;
    let actor = Actor { id: None, label: &op.0.user.email };
    audit::record(&mut tx, tenant.id, actor, AuditAction::TenantRenamed, &detail, state.clock.now()).await?;
    tx.commit().await?;
    op.0.session.flash_ok(format!("Renamed {} to {}.", tenant.slug, name.as_str())).await?;
    Ok(Redirect::to("/admin").into_response())
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct SuspendForm {
    suspended: Option<String>,
}

pub async fn suspend(
    State(state): State<AppState>,
    op: Operator,
    Path(slug): Path<String>,
    Form(form): Form<SuspendForm>,
) -> Result<Response, AppError> {
    let tenant = tenants::by_slug(&state.db, &slug).await?.ok_or(AppError::NotFound)?;
    let suspended = form.suspended.is_some();
    if suspended && tenant.id == op.0.tenant.id {
        return Err(AppError::Refused(StatusCode::UNPROCESSABLE_ENTITY, MSG_NOT_YOUR_OWN));
    }
    let action = if suspended { AuditAction::TenantSuspended } else { AuditAction::TenantRestored };
    let mut tx = store::begin_write(&state.db).await?;
    tenants::set_suspended(&mut tx, tenant.id, suspended).await?;
    audit::record(&mut tx, tenant.id, Actor { id: None, label: &op.0.user.email }, action, "", state.clock.now())
        .await?;
    tx.commit().await?;
    let verb = if suspended { "Suspended" } else { "Restored" };
    op.0.session.flash_ok(format!("{verb} {}.", tenant.name)).await?;
    Ok(Redirect::to("/admin").into_response())
}

/// `GET /admin/tenants/{slug}/suspend`: what suspending does, and the button that does it
/// (opened as a dialog from the list).
pub async fn confirm_suspend(
    State(state): State<AppState>,
    op: Operator,
    Path(slug): Path<String>,
) -> Result<Response, AppError> {
    let tenant = tenants::by_slug(&state.db, &slug).await?.ok_or(AppError::NotFound)?;
    if tenant.id == op.0.tenant.id {
        return Err(AppError::Refused(StatusCode::UNPROCESSABLE_ENTITY, MSG_NOT_YOUR_OWN));
    }
    let counts = tenants::member_counts(&state.db).await?;
    let members = counts.iter().find(|(id, _)| *id == tenant.id).map_or(0, |(_, n)| *n);
    let page = op.0.chrome(format!("Suspend {}?", tenant.name), "admin").await?;
    render(&SuspendPage { page, slug: tenant.slug, name: tenant.name, members })
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct PrivateNetworksForm {
    /// `allow` to allow, anything else (or nothing) to refuse.
    private_networks: String,
}

/// `POST /admin/tenants/{slug}/private-networks`: whether the organization's SMTP profiles
/// may reach loopback, private and shared addresses (the egress policy).
pub async fn set_private_networks(
    State(state): State<AppState>,
    op: Operator,
    Path(slug): Path<String>,
    Form(form): Form<PrivateNetworksForm>,
) -> Result<Response, AppError> {
    let tenant = tenants::by_slug(&state.db, &slug).await?.ok_or(AppError::NotFound)?;
    let allow = match form.private_networks.as_str() {
        "allow" => true,
        "refuse" => false,
        _ => return Err(AppError::Refused(StatusCode::UNPROCESSABLE_ENTITY, MSG_PRIVATE_NETWORKS_CHOICE)),
    };
    let detail = if allow { "allowed" } else { "refused" };
    let mut tx = store::begin_write(&state.db).await?;
    store::egress::set_private_networks(&mut tx, tenant.id, allow).await?;
    let actor = Actor { id: None, label: &op.0.user.email };
    audit::record(&mut tx, tenant.id, actor, AuditAction::TenantPrivateNetworks, detail, state.clock.now()).await?;
    tx.commit().await?;
    op.0.session.flash_ok(msg_private_networks(&tenant.name, allow)).await?;
    Ok(Redirect::to("/admin").into_response())
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct GuestCapForm {
    guest_daily_cap: String,
}

/// `POST /admin/tenants/{slug}/guest-cap`: how many passcodes the organization's guests
/// may be sent in 24 hours (SPEC §9.3's daily cap, against SMS pumping).
pub async fn set_guest_cap(
    State(state): State<AppState>,
    op: Operator,
    Path(slug): Path<String>,
    Form(form): Form<GuestCapForm>,
) -> Result<Response, AppError> {
    let tenant = tenants::by_slug(&state.db, &slug).await?.ok_or(AppError::NotFound)?;
    let cap = parse_daily_cap(&form.guest_daily_cap)
        .map_err(|message| AppError::Refused(StatusCode::UNPROCESSABLE_ENTITY, message))?;
    let old = store::guests::daily_cap(&state.db, tenant.id).await?;
    let mut tx = store::begin_write(&state.db).await?;
    store::guests::set_daily_cap(&mut tx, tenant.id, cap).await?;
    let actor = Actor { id: None, label: &op.0.user.email };
    let detail = format!("{old} -> {cap} passcodes a day");
    audit::record(&mut tx, tenant.id, actor, AuditAction::TenantGuestCap, &detail, state.clock.now()).await?;
    tx.commit().await?;
    op.0.session.flash_ok(msg_guest_cap(&tenant.name, cap)).await?;
    Ok(Redirect::to("/admin").into_response())
}

/// What the operator is told after setting an organization's daily cap.
pub fn msg_guest_cap(name: &str, cap: i64) -> String {
    format!("{name}'s guests may now be sent {cap} passcodes a day.")
}

/// A private-networks form without `allow` or `refuse`.
pub const MSG_PRIVATE_NETWORKS_CHOICE: &str = "Choose whether to allow or refuse private networks.";

/// What the operator is told after changing an organization's private networks.
pub fn msg_private_networks(name: &str, allow: bool) -> String {
    if allow {
        format!("{name} may now use SMTP hosts on loopback, private and shared networks.")
    } else {
        format!("{name} may no longer use SMTP hosts on loopback, private and shared networks.")
    }
}

/// This area's pages.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin", get(index))
        .route("/admin/tenants", post(create_tenant))
        .route("/admin/tenants/{slug}/rename", post(rename))
        .route("/admin/tenants/{slug}/suspend", get(confirm_suspend).post(suspend))
        .route("/admin/tenants/{slug}/private-networks", post(set_private_networks))
        .route("/admin/tenants/{slug}/guest-cap", post(set_guest_cap))
}
