//! `/t/{slug}/email-log`: what the outbox did with the tenant's mail, with "retry now".

use askama::Template;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;

use super::{format_time, render, Chrome};
use crate::app::AppState;
use crate::auth::extract::{Admin, PathId};
use crate::error::AppError;
use crate::mail::outbox::{retry_schedule, MAX_ATTEMPTS};
use crate::store::audit::{self, AuditAction};
use crate::store::{self, outbox};

/// Messages shown on the page.
const SHOWN: i64 = 200;

struct Row {
    id: i64,
    recipient: String,
    kind: &'static str,
    subject: String,
    status: String,
    attempts: i64,
    last_error: String,
    next: String,
    when: String,
    can_retry: bool,
}

#[derive(Template)]
#[template(path = "email_log.html")]
struct LogPage {
    page: Chrome,
    slug: String,
    rows: Vec<Row>,
    /// When a failed message is tried again ([`retry_schedule`]).
    schedule: String,
    /// Email is off or has no default profile: waiting mail goes when it is on again.
    paused: bool,
}

pub async fn show(State(state): State<AppState>, Admin(member): Admin) -> Result<Response, AppError> {
    let rows = outbox::log(&state.db, member.tenant.id, SHOWN)
        .await?
        .into_iter()
        .map(|r| Row {
            id: r.id,
            kind: if r.kind == "invitation" { "Invitation" } else { "Password reset" },
            next: if r.status == "pending" { format_time(r.next_attempt_at) } else { String::new() },
            when: format_time(r.sent_at.unwrap_or(r.created_at)),
            can_retry: r.status != "sent",
            recipient: r.recipient,
            subject: r.subject,
            status: r.status,
            attempts: r.attempts,
            last_error: r.last_error.unwrap_or_default(),
        })
        .collect();
    let mut conn = state.db.acquire().await?;
    let paused = !super::links::can_email(&mut conn, &member.tenant).await?;
    let page = LogPage {
        paused,
        page: member.chrome("Email log", "email-log").await?,
        slug: member.tenant.slug.clone(),
        rows,
        schedule: retry_schedule(),
    };
    render(&page)
}

pub async fn retry(
    State(state): State<AppState>,
    Admin(member): Admin,
    PathId(id): PathId,
) -> Result<Response, AppError> {
    let now = state.clock.now();
    let mut tx = store::begin_write(&state.db).await?;
    if !outbox::retry_now(&mut tx, member.tenant.id, id, MAX_ATTEMPTS, now).await? {
        return Err(AppError::NotFound);
    }
    audit::record(&mut tx, member.tenant.id, member.actor(), AuditAction::EmailRetried, &id.to_string(), now).await?;
    tx.commit().await?;
    state.outbox_wake.notify_one();
    member.session.flash_ok("Trying again now. Reload this page in a moment to see the result.").await?;
    Ok(Redirect::to(&format!("/t/{}/email-log", member.tenant.slug)).into_response())
}

/// This area's pages.
pub fn routes() -> Router<AppState> {
    Router::new().route("/t/{slug}/email-log", get(show)).route("/t/{slug}/email-log/{id}/retry", post(retry))
}
