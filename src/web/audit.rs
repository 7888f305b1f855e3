//! `/t/{slug}/audit`: who did what, and when (admins only).

use askama::Template;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use axum::Router;

use super::{format_time, render, Chrome};
use crate::app::AppState;
use crate::auth::extract::Admin;
use crate::error::AppError;
use crate::store::audit::{self, AuditAction};

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

/// The audit log's codes as people read them ("Other" for a code this version does not
/// know).
fn describe(action: &str) -> &'static str {
    AuditAction::parse(action).map_or("Other", AuditAction::label)
}

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPage {
    page: Chrome,
    rows: Vec<Row>,
}

pub async fn show(State(state): State<AppState>, Admin(member): Admin) -> Result<Response, AppError> {
    let zone = member.tenant.zone();
    let rows = audit::recent(&state.db, member.tenant.id, SHOWN)
        .await?
        .into_iter()
        .map(|e| Row {
            when: format_time(e.created_at, &zone),
            actor: e.actor,
            what: describe(&e.action),
            action: e.action,
            detail: e.detail,
        })
        .collect();
    let page = member.chrome("Audit log", "audit").await?;
    render(&AuditPage { page, rows })
}

/// This area's pages.
pub fn routes() -> Router<AppState> {
    Router::new().route("/t/{slug}/audit", get(show))
}
