//! `/t/{slug}/settings`: the credential policy for SMTP accounts (SPEC §2.2).

use askama::Template;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;

use super::{render, render_invalid, Chrome, Form};
use crate::app::AppState;
use crate::auth::extract::{Admin, Member};
use crate::domain::smtp::{CredentialPolicy, ProfileKind, SmtpUsername};
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

async fn settings_page(member: &Member, error: Option<&'static str>) -> Result<SettingsPage, AppError> {
    Ok(SettingsPage {
        page: member.chrome("Settings", "settings").await?,
        slug: member.tenant.slug.clone(),
        policy: member.tenant.policy().as_str(),
        error,
    })
}

pub async fn show(Admin(member): Admin) -> Result<Response, AppError> {
    render(&settings_page(&member, None).await?)
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
        return render_invalid(&settings_page(&member, Some(MSG_POLICY)).await?);
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

/// This area's pages.
pub fn routes() -> Router<AppState> {
    Router::new().route("/t/{slug}/settings", get(show)).route("/t/{slug}/settings/credential-policy", post(set_policy))
}
