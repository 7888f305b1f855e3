//! `/t/{slug}/settings`: the credential policy for SMTP accounts (SPEC §2.2).

use askama::Template;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::{render, render_invalid, Chrome, Form};
use crate::app::AppState;
use crate::auth::extract::Member;
use crate::domain::account::Role;
use crate::domain::smtp::CredentialPolicy;
use crate::error::AppError;
use crate::store::audit::AuditAction;
use crate::store::{self, audit, tenants};

pub const MSG_POLICY: &str = "Please choose a credential policy.";

#[derive(Template)]
#[template(path = "settings.html")]
struct SettingsPage {
    page: Chrome,
    slug: String,
    policy: &'static str,
    error: Option<&'static str>,
}

async fn settings_page(member: &Member, error: Option<&'static str>) -> Result<SettingsPage, AppError> {
    Ok(SettingsPage {
        page: member.chrome("Settings", "settings").await?,
        slug: member.tenant.slug.clone(),
        policy: member.tenant.policy().as_str(),
        error,
    })
}

pub async fn show(member: Member) -> Result<Response, AppError> {
    member.require(Role::Admin)?;
    render(&settings_page(&member, None).await?)
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct PolicyForm {
    policy: String,
}

pub async fn set_policy(
    State(state): State<AppState>,
    member: Member,
    Form(form): Form<PolicyForm>,
) -> Result<Response, AppError> {
    member.require(Role::Admin)?;
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
