//! `/t/{slug}/email-log`: what became of the tenant's mail: the outbox's invitations and
//! password resets and every test email, newest first, a page at a time, filtered by
//! status; with "retry now" for mail that may still go. Each line names the profile that
//! sent it and the server's final reply (or the last error).
//!
//! Retrying works as a plain form (303 back to the log); the page's script sends the same
//! form in the background and swaps in the row's new state (`ROW_HEADER`), asking again
//! until the worker has dealt with it.

use askama::Template;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;

use super::{format_time_near, render, Chrome, Query};
use crate::app::AppState;
use crate::auth::extract::{Admin, Member, PathId};
use crate::domain::time_zone::Zone;
use crate::error::AppError;
use crate::mail::error::SendError;
use crate::mail::message::Outgoing;
use crate::mail::outbox::{retry_schedule, MAX_ATTEMPTS};
use crate::store::audit::{self, AuditAction};
use crate::store::outbox::{self, LogQuery, LogRow, TestEmail};
use crate::store::{self};

/// Lines on one page of the log.
pub const PER_PAGE: i64 = 50;

/// A request carrying this header (any value) gets the row's HTML instead of a page or a
/// redirect: the script of the email log asks for it.
pub const ROW_HEADER: &str = "x-relaydesk-row";

pub const MSG_STATUS: &str = "Please choose which messages to show: all, waiting, sent or failed.";
pub const MSG_PAGE: &str = "Please give a page number from 1 on.";
pub const MSG_RETRIED: &str = "Trying again now. Reload this page in a moment to see the result.";
pub const MSG_RETRY_FINAL: &str = "This message failed for good (the server refused it, or its link was replaced), so \
                                   trying again cannot help. Send a new invitation or reset link instead.";

/// The status filter: its value in the address, and the status stored.
const FILTERS: [(&str, &str, Option<&str>); 4] = [
    ("all", "All messages", None),
    ("waiting", "Waiting", Some("pending")),
    ("sent", "Sent", Some("sent")),
    ("failed", "Failed", Some("failed")),
];

/// One line of the log as the page shows it.
pub struct Row {
    pub id: i64,
    /// A test email (not in the outbox: never retried).
    pub is_test: bool,
    pub recipient: String,
    pub subject: String,
    pub kind: &'static str,
    /// `pending`, `sent` or `failed`.
    pub status: String,
    pub attempts: i64,
    /// The profile that sent it (or last tried to).
    pub profile: String,
    /// The server's final reply when sent; the last error otherwise.
    pub reply: String,
    /// When it was written (queued, or the test sent).
    pub created: String,
    /// When it was delivered.
    pub sent: String,
    /// When a waiting message is tried next; empty when it is due now.
    pub next: String,
    /// Waiting for the worker: due now, or being sent.
    pub due_now: bool,
    /// Failed for good: retrying cannot help.
    pub permanent: bool,
    pub can_retry: bool,
}

impl Row {
    fn of(r: LogRow, now: i64, zone: &Zone) -> Row {
        let is_test = r.source == "test";
        let due_now = r.status == "pending" && r.next_attempt_at.is_some_and(|at| at <= now);
        Row {
            id: r.id,
            is_test,
            kind: match r.kind.as_str() {
                "invitation" => "Invitation",
                "password_reset" => "Password reset",
                "guest_passcode" => "Guest passcode",
                "sms_test" => "Test passcode",
                _ => "Test email",
            },
            created: format_time_near(r.created_at, now, zone),
            sent: r.sent_at.map(|at| format_time_near(at, now, zone)).unwrap_or_default(),
            next: r.next_attempt_at.filter(|_| !due_now).map(|at| format_time_near(at, now, zone)).unwrap_or_default(),
            can_retry: !is_test && r.status != "sent" && !r.permanent && !due_now,
            due_now,
            permanent: r.permanent,
            recipient: r.recipient,
            subject: r.subject,
            status: r.status,
            attempts: r.attempts,
            profile: r.profile.unwrap_or_default(),
            reply: r.reply.unwrap_or_default(),
        }
    }
}

#[derive(Template)]
#[template(path = "email_log.html")]
struct LogPage {
    page: Chrome,
    slug: String,
    csrf: String,
    rows: Vec<Row>,
    /// When a failed message is tried again ([`retry_schedule`]).
    schedule: String,
    /// Email is off or has no default profile: waiting mail goes when it is on again.
    paused: bool,
    /// The filter's value in the address (`all`, `waiting`, …).
    filter: &'static str,
    filters: Vec<(&'static str, &'static str)>,
    page_no: i64,
    newer: Option<String>,
    older: Option<String>,
}

/// One row alone, for the page's script.
#[derive(Template)]
#[template(path = "email_log_row.html")]
struct RowFragment {
    slug: String,
    csrf: String,
    row: Row,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct LogParams {
    status: String,
    page: String,
}

pub async fn show(
    State(state): State<AppState>,
    Admin(member): Admin,
    Query(params): Query<LogParams>,
) -> Result<Response, AppError> {
    let refuse = |message| AppError::Refused(StatusCode::UNPROCESSABLE_ENTITY, message);
    let wanted = params.status.trim();
    let (filter, _, status) = FILTERS
        .iter()
        .copied()
        .find(|(value, _, _)| *value == wanted || (wanted.is_empty() && *value == "all"))
        .ok_or_else(|| refuse(MSG_STATUS))?;
    let page_no = match params.page.trim() {
        "" => 1,
        n => n.parse::<i64>().ok().filter(|n| (1..=1_000_000).contains(n)).ok_or_else(|| refuse(MSG_PAGE))?,
    };
    let now = state.clock.now();
    let zone = member.tenant.zone();
    let q = LogQuery { status, limit: PER_PAGE + 1, offset: (page_no - 1) * PER_PAGE };
    let mut found = outbox::log(&state.db, member.tenant.id, q).await?;
    let more = found.len() as i64 > PER_PAGE;
    found.truncate(PER_PAGE as usize);
    let rows = found.into_iter().map(|r| Row::of(r, now, &zone)).collect();
    let link = |n: i64| format!("/t/{}/email-log?status={filter}&page={n}", member.tenant.slug);
    let mut conn = state.db.acquire().await?;
    let paused = !super::links::can_email(&mut conn, &member.tenant).await?;
    let page = member.chrome("Email log", "email-log").await?;
    render(&LogPage {
        csrf: page.csrf.clone(),
        page,
        paused,
        slug: member.tenant.slug.clone(),
        rows,
        schedule: retry_schedule(),
        filter,
        filters: FILTERS.iter().map(|(value, label, _)| (*value, *label)).collect(),
        newer: (page_no > 1).then(|| link(page_no - 1)),
        older: more.then(|| link(page_no + 1)),
        page_no,
    })
}

/// The row of one outbox message: its HTML for the page's script, or (asked for by a
/// person) the log itself.
pub async fn row(
    State(state): State<AppState>,
    Admin(member): Admin,
    PathId(id): PathId,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let found = outbox::log_row(&state.db, member.tenant.id, id).await?.ok_or(AppError::NotFound)?;
    if !headers.contains_key(ROW_HEADER) {
        return Ok(Redirect::to(&format!("/t/{}/email-log", member.tenant.slug)).into_response());
    }
    row_fragment(&state, &member, found).await
}

async fn row_fragment(state: &AppState, member: &Member, found: LogRow) -> Result<Response, AppError> {
    let fragment = RowFragment {
        slug: member.tenant.slug.clone(),
        csrf: member.session.csrf_token().await?,
        row: Row::of(found, state.clock.now(), &member.tenant.zone()),
    };
    Ok(Html(fragment.render()?).into_response())
}

pub async fn retry(
    State(state): State<AppState>,
    Admin(member): Admin,
    PathId(id): PathId,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let now = state.clock.now();
    let found = outbox::log_row(&state.db, member.tenant.id, id).await?.ok_or(AppError::NotFound)?;
    if found.permanent {
        return Err(AppError::Refused(StatusCode::UNPROCESSABLE_ENTITY, MSG_RETRY_FINAL));
    }
    let mut tx = store::begin_write(&state.db).await?;
    if !outbox::retry_now(&mut tx, member.tenant.id, id, MAX_ATTEMPTS, now).await? {
        // Sent meanwhile, or being sent right now.
        drop(tx);
        if headers.contains_key(ROW_HEADER) {
            return row_fragment(&state, &member, found).await;
        }
        return Err(AppError::NotFound);
    }
    audit::record(&mut tx, member.tenant.id, member.actor(), AuditAction::EmailRetried, &id.to_string(), now).await?;
    tx.commit().await?;
    state.outbox_wake.notify_one();
    if headers.contains_key(ROW_HEADER) {
        let found = outbox::log_row(&state.db, member.tenant.id, id).await?.ok_or(AppError::NotFound)?;
        return row_fragment(&state, &member, found).await;
    }
    member.session.flash_ok(MSG_RETRIED).await?;
    Ok(Redirect::to(&format!("/t/{}/email-log", member.tenant.slug)).into_response())
}

/// Adds a test email sent through the profile named `profile`, with its outcome, to the
/// tenant's email log. A failure to write it is logged, not shown: the person is waiting
/// for the test's result, which does not depend on it.
pub async fn record_test(
    state: &AppState,
    member: &Member,
    profile: &str,
    mail: &Outgoing,
    result: &Result<String, SendError>,
) {
    let (ok, reply) = match result {
        Ok(reply) => (true, reply.as_str()),
        Err(e) => (false, e.message.as_str()),
    };
    let test = TestEmail {
        kind: "test",
        profile,
        recipient: &mail.to,
        subject: &mail.subject,
        ok,
        reply,
        sent_by: &member.user.email,
    };
    if let Err(e) = outbox::record_test_email(&state.db, member.tenant.id, test, state.clock.now()).await {
        tracing::error!(error = %e, "could not add a test email to the email log");
    }
}

/// This area's pages.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/t/{slug}/email-log", get(show))
        .route("/t/{slug}/email-log/{id}", get(row))
        .route("/t/{slug}/email-log/{id}/retry", post(retry))
}
