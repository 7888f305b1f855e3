//! Make default (SPEC §3) and delete (SPEC §4): deleting the default can name the next
//! one in the same step.

use askama::Template;
use axum::extract::State;
use axum::response::Response;
use serde::Deserialize;

use super::{to_list, AdminProfile, Row};
use crate::app::AppState;
use crate::auth::extract::Member;
use crate::error::AppError;
use crate::store;
use crate::store::audit;
use crate::store::smtp::{self as profiles, Profile, ProfileId};
use crate::web::{render, render_invalid, Chrome, Form};

pub async fn make_default(
    State(state): State<AppState>,
    AdminProfile { member, profile }: AdminProfile,
) -> Result<Response, AppError> {
    let mut tx = store::begin_write(&state.db).await?;
    if !profiles::make_default(&mut tx, member.tenant.id, profile.id).await? {
        return Err(AppError::NotFound);
    }
    audit::record(
        &mut tx,
        member.tenant.id,
        member.actor(),
        audit::AuditAction::ProfileDefault,
        profile.settings.name.as_str(),
        state.clock.now(),
    )
    .await?;
    tx.commit().await?;
    member.session.flash_ok(format!("{} is now the default profile.", profile.settings.name)).await?;
    Ok(to_list(&member))
}

pub const MSG_NEW_DEFAULT: &str = "Please choose one of the other profiles as the new default.";

#[derive(Template)]
#[template(path = "smtp/delete.html")]
struct DeletePage {
    page: Chrome,
    profile: Row,
    others: Vec<(i64, String)>,
    email_enabled: bool,
    error: Option<&'static str>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct DeleteForm {
    new_default: String,
}

async fn delete_page(
    state: &AppState,
    member: &Member,
    profile: Profile,
    error: Option<&'static str>,
) -> Result<DeletePage, AppError> {
    let others = profiles::others(&state.db, member.tenant.id, profile.id).await?;
    Ok(DeletePage {
        page: member.chrome(format!("Delete {}", profile.settings.name), "smtp").await?,
        others: others.into_iter().map(|(id, name)| (id.0, name)).collect(),
        email_enabled: member.tenant.email_enabled,
        profile: Row::of(&profiles::Listed::of(&profile), &member.tenant.zone()),
        error,
    })
}

pub async fn delete_form(
    State(state): State<AppState>,
    AdminProfile { member, profile }: AdminProfile,
) -> Result<Response, AppError> {
    render(&delete_page(&state, &member, profile, None).await?)
}

pub async fn delete(
    State(state): State<AppState>,
    AdminProfile { member, profile }: AdminProfile,
    Form(form): Form<DeleteForm>,
) -> Result<Response, AppError> {
    let new_default = match form.new_default.trim() {
        "" => None,
        text => match text.parse::<i64>() {
            Ok(n) if n != profile.id.0 => Some(ProfileId(n)),
            _ => return render_invalid_delete(&state, &member, profile).await,
        },
    };
    let mut tx = store::begin_write(&state.db).await?;
    if let Some(next) = new_default {
        if profiles::get_in(&mut tx, member.tenant.id, next).await?.is_none() {
            drop(tx);
            return render_invalid_delete(&state, &member, profile).await;
        }
    }
    if !profiles::delete(&mut tx, member.tenant.id, profile.id).await? {
        return Err(AppError::NotFound);
    }
    let mut detail = profile.settings.name.to_string();
    let mut message = format!("Deleted {}.", profile.settings.name);
    if let Some(next) = new_default {
        profiles::make_default(&mut tx, member.tenant.id, next).await?;
        let next_name = profiles::get_in(&mut tx, member.tenant.id, next)
            .await?
            .map(|p| p.settings.name.to_string())
            .unwrap_or_default();
        detail.push_str(&format!("; new default {next_name}"));
        message.push_str(&format!(" {next_name} is now the default profile."));
    } else if profile.settings.is_default {
        message.push_str(" There is no default profile now: invitations and password resets are not emailed until you make one the default.");
    }
    audit::record(
        &mut tx,
        member.tenant.id,
        member.actor(),
        audit::AuditAction::ProfileDeleted,
        &detail,
        state.clock.now(),
    )
    .await?;
    tx.commit().await?;
    member.session.flash_ok(message).await?;
    Ok(to_list(&member))
}

async fn render_invalid_delete(state: &AppState, member: &Member, profile: Profile) -> Result<Response, AppError> {
    render_invalid(&delete_page(state, member, profile, Some(MSG_NEW_DEFAULT)).await?)
}
