//! `/t/{slug}/guests/settings`: guest access (admins). Guests may be let in only while a
//! way to send them their passcode works.

use askama::Template;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;

use super::{render, render_invalid, Chrome, Form};
use crate::app::AppState;
use crate::auth::extract::{Admin, Member};
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

/// This area's pages.
pub fn routes() -> Router<AppState> {
    Router::new().route("/t/{slug}/guests/settings", get(show).post(save))
}
