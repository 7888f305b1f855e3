//! `/t/{slug}/settings`: the credential policy for SMTP accounts (SPEC §2.2) and the
//! organization's time zone (every time the console shows is in it; the database keeps UTC).

use askama::Template;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;

use super::{format_time, render, render_invalid, Chrome, Form};
use crate::app::AppState;
use crate::auth::extract::{Admin, Member};
use crate::domain::smtp::{CredentialPolicy, ProfileKind, SmtpUsername};
use crate::domain::time_zone::Zone;
use crate::error::AppError;
use crate::store::audit::AuditAction;
use crate::store::{self, audit, tenants};
use crate::web::smtp::password_rules;

pub const MSG_POLICY: &str = "Please choose a credential policy.";

#[derive(Template)]
#[template(path = "settings.html")]
struct SettingsPage {
    page: Chrome,
    slug: String,
    policy: &'static str,
    error: Option<&'static str>,
    /// The zone as saved, or as typed when it was refused.
    zone: String,
    zone_error: Option<&'static str>,
    /// Every zone name, for the field's suggestions.
    zones: Vec<String>,
    /// The time now in the saved zone, as the console shows times.
    zone_now: String,
}

impl SettingsPage {
    /// What the documented rules ask of an SMTP account, in the words of the profile form.
    fn documented_hint(&self) -> String {
        let password = password_rules(ProfileKind::Generic, CredentialPolicy::Documented);
        format!("Account: an email address. Password: {}", lower_first(&password))
    }

    /// What provider-issued credentials may be, in the words of the profile form.
    fn provider_hint(&self) -> String {
        let password = password_rules(ProfileKind::Generic, CredentialPolicy::Provider);
        format!(
            "For app passwords and API keys, such as a 16-letter Gmail app password or a SendGrid key. Account: any \
             name of up to {} characters. Password: {}",
            SmtpUsername::MAX_LEN,
            lower_first(&password)
        )
    }
}

/// `The key` becomes `the key`, to follow a colon.
fn lower_first(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map_or_else(String::new, |first| first.to_lowercase().chain(chars).collect())
}

/// What a form on the page was refused for.
#[derive(Default)]
struct Refusal {
    policy: Option<&'static str>,
    /// The zone typed, and why it was refused.
    zone: Option<(String, &'static str)>,
}

async fn settings_page(state: &AppState, member: &Member, refusal: Refusal) -> Result<SettingsPage, AppError> {
    let saved = member.tenant.zone();
    let (zone, zone_error) = match refusal.zone {
        Some((typed, message)) => (typed, Some(message)),
        None => (saved.as_str().to_owned(), None),
    };
    Ok(SettingsPage {
        page: member.chrome("Settings", "settings").await?,
        slug: member.tenant.slug.clone(),
        policy: member.tenant.policy().as_str(),
        error: refusal.policy,
        zone,
        zone_error,
        zones: Zone::all_names(),
        zone_now: format_time(state.clock.now(), &saved),
    })
}

pub async fn show(State(state): State<AppState>, Admin(member): Admin) -> Result<Response, AppError> {
    render(&settings_page(&state, &member, Refusal::default()).await?)
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct PolicyForm {
    policy: String,
}

pub async fn set_policy(
    State(state): State<AppState>,
    Admin(member): Admin,
    Form(form): Form<PolicyForm>,
) -> Result<Response, AppError> {
    let Some(policy) = CredentialPolicy::parse(form.policy.trim()) else {
        return render_invalid(
            &settings_page(&state, &member, Refusal { policy: Some(MSG_POLICY), zone: None }).await?,
        );
    };
    let mut tx = store::begin_write(&state.db).await?;
    tenants::set_credential_policy(&mut tx, member.tenant.id, policy).await?;
    audit::record(
        &mut tx,
        member.tenant.id,
        member.actor(),
        AuditAction::PolicyChanged,
        policy.as_str(),
        state.clock.now(),
    )
    .await?;
    tx.commit().await?;
    member.session.flash_ok(format!("SMTP accounts are now checked against the {} rules.", policy.label())).await?;
    Ok(Redirect::to(&format!("/t/{}/settings", member.tenant.slug)).into_response())
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct TimeZoneForm {
    time_zone: String,
}

pub async fn set_time_zone(
    State(state): State<AppState>,
    Admin(member): Admin,
    Form(form): Form<TimeZoneForm>,
) -> Result<Response, AppError> {
    let zone = match Zone::parse(&form.time_zone) {
        Ok(zone) => zone,
        Err(message) => {
            // What was typed comes back for correcting, less anything that cannot be shown in a field.
            let typed: String = form.time_zone.trim().chars().filter(|c| !c.is_control()).take(100).collect();
            let refusal = Refusal { policy: None, zone: Some((typed, message)) };
            return render_invalid(&settings_page(&state, &member, refusal).await?);
        }
    };
    let now = state.clock.now();
    let detail = format!("from {} to {}", member.tenant.zone().as_str(), zone.as_str());
    let mut tx = store::begin_write(&state.db).await?;
    tenants::set_time_zone(&mut tx, member.tenant.id, &zone).await?;
    audit::record(&mut tx, member.tenant.id, member.actor(), AuditAction::TimeZoneChanged, &detail, now).await?;
    tx.commit().await?;
    member
        .session
        .flash_ok(format!("Times are now shown in {}: it is {}.", zone.as_str(), format_time(now, &zone)))
        .await?;
    Ok(Redirect::to(&format!("/t/{}/settings", member.tenant.slug)).into_response())
}

/// This area's pages.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/t/{slug}/settings", get(show))
        .route("/t/{slug}/settings/credential-policy", post(set_policy))
        .route("/t/{slug}/settings/time-zone", post(set_time_zone))
}
