//! `/t/{slug}/audit`: who did what, and when (admins only).

use askama::Template;
use axum::extract::State;
use axum::response::Response;

use super::{format_time, render, Chrome};
use crate::app::AppState;
use crate::auth::extract::Member;
use crate::domain::account::Role;
use crate::error::AppError;
use crate::store::audit;

/// How many entries the page shows.
const SHOWN: i64 = 500;

struct Row {
    when: String,
    actor: String,
    /// What happened, in words.
    what: &'static str,
    /// The stable code, for people who search or script.
    action: String,
    detail: String,
}

/// The audit log's codes as people read them.
fn describe(action: &str) -> &'static str {
    match action {
        "tenant.created" => "Created the organization",
        "tenant.renamed" => "Renamed the organization",
        "tenant.suspended" => "Suspended the organization",
        "tenant.restored" => "Restored the organization",
        "user.created" => "Created an account",
        "user.signed_in" => "Signed in",
        "user.signed_out" => "Signed out",
        "user.password_changed" => "Changed their password",
        "profile.created" => "Created an SMTP profile",
        "profile.updated" => "Edited an SMTP profile",
        "profile.duplicated" => "Duplicated an SMTP profile",
        "profile.default" => "Made an SMTP profile the default",
        "profile.tested" => "Sent a test email",
        "profile.deleted" => "Deleted an SMTP profile",
        "email.enabled" => "Turned email on",
        "email.disabled" => "Turned email off",
        "email.retried" => "Retried an email",
        "policy.changed" => "Changed the SMTP account rules",
        "invitation.created" => "Invited someone",
        "invitation.regenerated" => "Made a new invitation link",
        "invitation.accepted" => "Accepted an invitation",
        "reset.requested" => "Asked for a password reset",
        "reset.link_made" => "Made a password-reset link",
        "reset.used" => "Reset their password",
        _ => "Other",
    }
}

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPage {
    page: Chrome,
    rows: Vec<Row>,
}

pub async fn show(State(state): State<AppState>, member: Member) -> Result<Response, AppError> {
    member.require(Role::Admin)?;
    let rows = audit::recent(&state.db, member.tenant.id, SHOWN)
        .await?
        .into_iter()
        .map(|e| Row {
            when: format_time(e.created_at),
            actor: e.actor,
            what: describe(&e.action),
            action: e.action,
            detail: e.detail,
        })
        .collect();
    let page = member.chrome("Audit log", "audit").await?;
    render(&AuditPage { page, rows })
}
