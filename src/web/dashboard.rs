//! The tenant's landing page: whether email is on, and the switch (SPEC §3).

use askama::Template;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;

use super::{format_time, render, render_invalid, Chrome, Form};
use crate::app::AppState;
use crate::auth::extract::{Admin, Member, PathTenant};
use crate::domain::account::Role;
use crate::error::AppError;
use crate::store::audit::{self, AuditAction};
use crate::store::smtp as profiles;
use crate::store::{self, tenants};

/// SPEC §3: email can be turned on only while a default profile exists.
pub const MSG_EMAIL_NEEDS_DEFAULT: &str = "Save an SMTP profile and make it the default before turning email on.";

/// Where the tenant's email stands, as the dashboard says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmailState {
    /// On, with a default profile: invitations and resets are emailed.
    On,
    /// Switched off by an admin.
    Off,
    /// Switched on, but there is no default profile to send through.
    Paused,
}

impl EmailState {
    pub fn of(enabled: bool, has_default: bool) -> EmailState {
        match (enabled, has_default) {
            (true, true) => EmailState::On,
            (true, false) => EmailState::Paused,
            (false, _) => EmailState::Off,
        }
    }
}

/// One step of the getting-started list.
struct Step {
    label: &'static str,
    hint: &'static str,
    href: String,
    done: bool,
}

#[derive(Template)]
#[template(path = "dashboard.html")]
struct DashboardPage {
    /// Shown to admins until every step is done.
    steps: Vec<Step>,
    page: Chrome,
    slug: String,
    state: EmailState,
    enabled: bool,
    default_name: Option<String>,
    is_admin: bool,
    error: Option<&'static str>,
    /// For admins: members who asked for a password reset while email was off, with when.
    unsent_resets: Vec<(String, String)>,
    /// The default profile signs in with OAuth and cannot get a token: what to say, and
    /// the profile's page.
    token_warning: Option<(String, String)>,
}

/// The dashboard's warning when the default profile cannot get an OAuth token: no Google
/// account connected, or the provider's last refusal.
pub fn token_warning(profile: &profiles::Profile) -> Option<String> {
    let app = profile.settings.transport.oauth()?;
    let name = &profile.settings.name;
    if let Some(problem) = &profile.token_problem {
        return Some(format!(
            "The default profile {name} cannot get an OAuth token, so invitations and password resets are not sent: \
             {problem}"
        ));
    }
    (app.provider.kind() == crate::domain::smtp::OAuthProviderKind::Google && profile.connected.is_none()).then(|| {
        format!(
            "The default profile {name} signs in with Google, but no Google account is connected, so it cannot get a \
             token and invitations and password resets are not sent. Connect the account on the profile's page."
        )
    })
}

/// How far back the dashboard lists unanswered reset requests.
const UNSENT_RESETS_SHOWN_FOR: i64 = 7 * 24 * 60 * 60;

async fn getting_started(state: &AppState, member: &Member, has_default: bool) -> Result<Vec<Step>, AppError> {
    let tenants::Progress { has_profile, tested, invited } = tenants::progress(&state.db, member.tenant.id).await?;
    let slug = &member.tenant.slug;
    // Profiles but no default (the default was deleted): the first step is to name one.
    let first = if has_profile && !has_default {
        Step {
            label: "Make a profile the default",
            hint: "Invitations and password resets are sent through the default profile; without one they wait. \
                   Choose Make default in a profile's Actions menu.",
            href: format!("/t/{slug}/smtp"),
            done: false,
        }
    } else {
        Step {
            label: "Add an SMTP profile",
            hint: "The mail server that sends for you: its host, port, security and login. Presets fill in the common providers.",
            href: format!("/t/{slug}/smtp/new"),
            done: has_profile,
        }
    };
    let steps = vec![
        first,
        Step {
            label: "Send a test email",
            hint: "From the profile's Actions menu. It tells you what to fix if it fails.",
            href: format!("/t/{slug}/smtp"),
            done: tested,
        },
        Step {
            label: "Turn email on",
            hint: "With the button below, so invitations and password resets are emailed.",
            href: format!("/t/{slug}/#email-heading"),
            done: member.tenant.email_enabled,
        },
        Step {
            label: "Invite your colleagues",
            hint: "They get a link to choose their name and password.",
            href: format!("/t/{slug}/invitations"),
            done: invited,
        },
    ];
    Ok(if member.user.role() == Role::Admin && steps.iter().any(|s| !s.done) { steps } else { Vec::new() })
}

async fn dashboard(state: &AppState, member: &Member, error: Option<&'static str>) -> Result<DashboardPage, AppError> {
    let default = profiles::default_name(&state.db, member.tenant.id).await?;
    let is_admin = member.user.role() == Role::Admin;
    // For admins, whether the default can get its OAuth token. A row that no longer makes
    // a profile is logged and left out, as the list does: the dashboard still answers.
    let token_warning = match (is_admin, &default) {
        (true, Some(_)) => match profiles::default_profile(&state.db, member.tenant.id).await {
            Ok(found) => {
                found.and_then(|p| token_warning(&p).map(|w| (w, format!("/t/{}/smtp/{}", member.tenant.slug, p.id.0))))
            }
            Err(e) => {
                tracing::error!(error = %e, "the default profile could not be read for the dashboard");
                None
            }
        },
        _ => None,
    };
    let unsent_resets = if is_admin {
        let zone = member.tenant.zone();
        let since = state.clock.now() - UNSENT_RESETS_SHOWN_FOR;
        tenants::unsent_resets(&state.db, member.tenant.id, since)
            .await?
            .into_iter()
            .map(|r| (r.email, format_time(r.asked_at, &zone)))
            .collect()
    } else {
        Vec::new()
    };
    Ok(DashboardPage {
        unsent_resets,
        steps: getting_started(state, member, default.is_some()).await?,
        page: member.chrome("Dashboard", "dashboard").await?,
        slug: member.tenant.slug.clone(),
        state: EmailState::of(member.tenant.email_enabled, default.is_some()),
        enabled: member.tenant.email_enabled,
        default_name: default,
        is_admin,
        error,
        token_warning,
    })
}

pub async fn show(State(state): State<AppState>, member: Member) -> Result<Response, AppError> {
    render(&dashboard(&state, &member, None).await?)
}

/// `/t/{slug}` without the slash.
pub async fn to_dashboard(PathTenant(tenant): PathTenant) -> Response {
    Redirect::to(&format!("/t/{}/", tenant.slug)).into_response()
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct SwitchForm {
    enabled: Option<String>,
}

/// `POST /t/{slug}/settings/email`: `enabled=on` turns email on, its absence turns it off.
pub async fn switch(
    State(state): State<AppState>,
    Admin(member): Admin,
    Form(form): Form<SwitchForm>,
) -> Result<Response, AppError> {
    let enable = form.enabled.as_deref() == Some("on");
    let mut tx = store::begin_write(&state.db).await?;
    // Checked in the same transaction that flips the switch.
    let has_default = tenants::has_default_profile(&mut tx, member.tenant.id).await?;
    if enable && !has_default {
        drop(tx);
        return render_invalid(&dashboard(&state, &member, Some(MSG_EMAIL_NEEDS_DEFAULT)).await?);
    }
    tenants::set_email_enabled(&mut tx, member.tenant.id, enable).await?;
    let action = if enable { AuditAction::EmailEnabled } else { AuditAction::EmailDisabled };
    audit::record(&mut tx, member.tenant.id, member.actor(), action, "", state.clock.now()).await?;
    tx.commit().await?;
    if enable {
        // Mail that waited while email was off can go now.
        state.outbox_wake.notify_one();
    }
    let message = if enable {
        "Email is on: invitations and password resets are sent through the default profile."
    } else {
        "Email is off: invitation and password-reset links are shown to you to share by hand."
    };
    member.session.flash_ok(message).await?;
    Ok(Redirect::to(&format!("/t/{}/", member.tenant.slug)).into_response())
}

/// This area's pages.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/t/{slug}", get(to_dashboard))
        .route("/t/{slug}/", get(show))
        .route("/t/{slug}/settings/email", post(switch))
}
