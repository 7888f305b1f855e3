//! `/t/{slug}/guests/settings`: guest access (admins). Guests may be let in only while a
//! way to send them their passcode works. `/t/{slug}/guests`: the guest list (organizers
//! and admins), with a new passcode for a guest (within the abuse limits) and revoking one.

use askama::Template;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;

use super::{render, render_invalid, Chrome, Form};
use crate::app::AppState;
use crate::auth::extract::{Admin, Member, Organizer, PathId};
use crate::domain::guest::*;
use crate::domain::FieldErrors;
use crate::error::AppError;
use crate::store::audit::AuditAction;
use crate::store::{self, audit, guests};

#[derive(Template)]
#[template(path = "guests/settings.html")]
struct SettingsPage {
    page: Chrome,
    slug: String,
    form: GuestSettingsForm,
    errors: FieldErrors,
    /// `(value, label, selected)`.
    deliveries: Vec<(&'static str, &'static str, bool)>,
    email_works: bool,
    sms_works: bool,
}

impl SettingsPage {
    fn enabled(&self) -> bool {
        self.form.enabled.as_deref() == Some("on")
    }
}

async fn page(
    state: &AppState,
    member: &Member,
    form: GuestSettingsForm,
    errors: FieldErrors,
) -> Result<SettingsPage, AppError> {
    let mut conn = state.db.acquire().await?;
    let email_works = guests::email_works(&mut conn, member.tenant.id).await?;
    let sms_works = guests::has_enabled_channel(&mut conn, member.tenant.id).await?;
    let chosen = Delivery::parse(&form.delivery).unwrap_or_default();
    let keep = |s: &str| s.chars().filter(|c| !c.is_control()).take(200).collect::<String>();
    let form = GuestSettingsForm {
        enabled: form.enabled,
        delivery: chosen.as_str().to_owned(),
        passcode_length: keep(&form.passcode_length),
        access_hours: keep(&form.access_hours),
        allowed_prefixes: keep(&form.allowed_prefixes),
    };
    Ok(SettingsPage {
        page: member.chrome("Guest access", "guests").await?,
        slug: member.tenant.slug.clone(),
        form,
        errors,
        deliveries: Delivery::ALL.iter().map(|d| (d.as_str(), d.label(), *d == chosen)).collect(),
        email_works,
        sms_works,
    })
}

pub async fn show(State(state): State<AppState>, Admin(member): Admin) -> Result<Response, AppError> {
    let saved = guests::get(&state.db, member.tenant.id).await?;
    render(&page(&state, &member, GuestSettingsForm::of(&saved), FieldErrors::default()).await?)
}

pub async fn save(
    State(state): State<AppState>,
    Admin(member): Admin,
    Form(form): Form<GuestSettingsForm>,
) -> Result<Response, AppError> {
    let settings = match form.parse() {
        Ok(settings) => settings,
        Err(errors) => return render_invalid(&page(&state, &member, form, errors).await?),
    };
    let now = state.clock.now();
    let mut tx = store::begin_write(&state.db).await?;
    if settings.enabled {
        let email = guests::email_works(&mut tx, member.tenant.id).await?;
        let sms = guests::has_enabled_channel(&mut tx, member.tenant.id).await?;
        if !settings.delivery.works(email, sms) {
            drop(tx);
            let mut errors = FieldErrors::default();
            errors.insert("enabled", MSG_GUESTS_NO_DELIVERY);
            return render_invalid(&page(&state, &member, form, errors).await?);
        }
    }
    guests::save(&mut tx, member.tenant.id, &settings, now).await?;
    let detail = format!(
        "{}, {}, {} digits, {} hours, calling codes: {}",
        if settings.enabled { "on" } else { "off" },
        settings.delivery.as_str(),
        settings.passcode_length,
        settings.access_hours,
        if settings.allowed_prefixes.is_empty() { "any".to_owned() } else { settings.allowed_prefixes.to_text() }
    );
    audit::record(&mut tx, member.tenant.id, member.actor(), AuditAction::GuestSettingsChanged, &detail, now).await?;
    tx.commit().await?;
    let text =
        if settings.enabled { "Guest access is on." } else { "Guest access settings saved. Guest access is off." };
    member.session.flash_ok(text).await?;
    Ok(Redirect::to(&format!("/t/{}/guests/settings", member.tenant.slug)).into_response())
}

/// Guests shown on the list, the latest first.
const LIST_LIMIT: i64 = 500;

/// One guest as the list shows them.
struct Row {
    id: i64,
    name: String,
    login: String,
    /// `Email` or `SMS`.
    via: &'static str,
    registered: String,
    /// When the last passcode was asked for.
    sent: String,
    /// Connected until (a past time once it ended); empty when not signed in.
    connected_until: String,
    connected_now: bool,
    /// The last passcode message: `Sent`, `Waiting to be sent` or `Not sent`, with its
    /// attempts.
    delivery: String,
    delivery_class: &'static str,
    revoked: String,
}

#[derive(Template)]
#[template(path = "guests/list.html")]
struct ListPage {
    page: Chrome,
    slug: String,
    rows: Vec<Row>,
    enabled: bool,
    is_admin: bool,
}

pub async fn list(State(state): State<AppState>, Organizer(member): Organizer) -> Result<Response, AppError> {
    let now = state.clock.now();
    let zone = member.tenant.zone();
    let time = |t: i64| super::format_time(t, &zone);
    let settings = guests::get(&state.db, member.tenant.id).await?;
    let rows = guests::list(&state.db, member.tenant.id, LIST_LIMIT)
        .await?
        .into_iter()
        .map(|g| {
            let attempts = g.attempts.unwrap_or(0);
            let tries = crate::words::count(attempts.max(0).unsigned_abs(), "attempt");
            let (delivery, delivery_class) = match g.delivery.as_deref() {
                Some("sent") => (format!("Sent ({tries})"), "badge-on"),
                Some("pending") => (format!("Waiting to be sent ({tries})"), "badge-warn"),
                Some(_) => (format!("Not sent ({tries})"), "badge-off"),
                None => ("No message".to_owned(), "badge-off"),
            };
            Row {
                id: g.id,
                via: if g.via == "sms" { "SMS" } else { "Email" },
                registered: time(g.created_at),
                sent: time(g.sent_at),
                connected_now: g.connected_until.is_some_and(|t| t > now),
                connected_until: g.connected_until.map(time).unwrap_or_default(),
                delivery,
                delivery_class,
                revoked: g.revoked_at.map(time).unwrap_or_default(),
                name: g.name,
                login: g.login,
            }
        })
        .collect();
    render(&ListPage {
        page: member.chrome("Guests", "guest-list").await?,
        slug: member.tenant.slug.clone(),
        rows,
        enabled: settings.enabled,
        is_admin: member.user.role() == crate::domain::account::Role::Admin,
    })
}

pub const MSG_GUEST_ACCESS_OFF: &str = "Guest access is off, so no passcode was sent.";
pub const MSG_GUEST_IS_REVOKED: &str = "This guest's access was revoked, so no passcode was sent.";

/// `{name} was sent a new passcode ({login}).`
pub fn msg_resent(name: &str, login: &str) -> String {
    format!("{name} was sent a new passcode ({login}).")
}

/// `{name} can no longer sign in.`
pub fn msg_revoked(name: &str) -> String {
    format!("{name} can no longer sign in.")
}

/// Sends the guest a new passcode the same way as before, within the limits for their
/// email address or number and the organization's daily cap.
pub async fn resend(
    State(state): State<AppState>,
    Organizer(member): Organizer,
    PathId(id): PathId,
) -> Result<Response, AppError> {
    let guest = guests::guest(&state.db, member.tenant.id, id).await?.ok_or(AppError::NotFound)?;
    let back = Redirect::to(&format!("/t/{}/guests", member.tenant.slug)).into_response();
    let settings = guests::get(&state.db, member.tenant.id).await?;
    if !settings.enabled {
        member.session.flash_error(MSG_GUEST_ACCESS_OFF).await?;
        return Ok(back);
    }
    if guest.revoked_at.is_some() {
        member.session.flash_error(MSG_GUEST_IS_REVOKED).await?;
        return Ok(back);
    }
    // Stored from parsed values; one that no longer parses is refused, not guessed at.
    let (Ok(name), Ok(login)) = (GuestName::parse(&guest.name), GuestLogin::parse(&guest.login)) else {
        return Err(AppError::NotFound);
    };
    if let GuestLogin::Mobile(m) = &login {
        if !settings.allowed_prefixes.allows(m.as_str()) {
            member.session.flash_error(MSG_GUEST_CODE_REFUSED).await?;
            return Ok(back);
        }
    }
    let (email, sms) = guests::methods_working(&state.db, member.tenant.id).await?;
    let works = match &login {
        GuestLogin::Email(_) => email,
        GuestLogin::Mobile(_) => sms,
    };
    if !works {
        member.session.flash_error(MSG_GUEST_METHOD_DOWN).await?;
        return Ok(back);
    }
    let registration = Registration { name, login };
    match super::guest_pages::send_passcode(&state, &member.tenant, &settings, &registration, None).await? {
        super::guest_pages::Sent::Yes => {
            let now = state.clock.now();
            let mut tx = store::begin_write(&state.db).await?;
            let detail = format!("{} ({})", guest.name, guest.login);
            audit::record(&mut tx, member.tenant.id, member.actor(), AuditAction::GuestResent, &detail, now).await?;
            tx.commit().await?;
            member.session.flash_ok(msg_resent(&guest.name, &guest.login)).await?;
        }
        super::guest_pages::Sent::Limited => member.session.flash_error(MSG_GUEST_TOO_MANY).await?,
        super::guest_pages::Sent::Revoked => member.session.flash_error(MSG_GUEST_IS_REVOKED).await?,
    }
    Ok(back)
}

/// Revokes the guest: their passcode stops working, their connection ends, and a passcode
/// still waiting in the outbox is not sent.
pub async fn revoke(
    State(state): State<AppState>,
    Organizer(member): Organizer,
    PathId(id): PathId,
) -> Result<Response, AppError> {
    let guest = guests::guest(&state.db, member.tenant.id, id).await?.ok_or(AppError::NotFound)?;
    let now = state.clock.now();
    let mut tx = store::begin_write(&state.db).await?;
    if guests::revoke(&mut tx, member.tenant.id, id, now).await? {
        let detail = format!("{} ({})", guest.name, guest.login);
        audit::record(&mut tx, member.tenant.id, member.actor(), AuditAction::GuestRevoked, &detail, now).await?;
        tx.commit().await?;
    } else {
        drop(tx);
    }
    member.session.flash_ok(msg_revoked(&guest.name)).await?;
    Ok(Redirect::to(&format!("/t/{}/guests", member.tenant.slug)).into_response())
}

/// This area's pages.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/t/{slug}/guests", get(list))
        .route("/t/{slug}/guests/settings", get(show).post(save))
        .route("/t/{slug}/guests/{id}/resend", axum::routing::post(resend))
        .route("/t/{slug}/guests/{id}/revoke", axum::routing::post(revoke))
}
