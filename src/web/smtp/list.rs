//! The profile list: the default first, search by name, pages of [`PER_PAGE`].

use askama::Template;
use axum::extract::State;
use axum::response::Response;
use serde::Deserialize;

use super::Row;
use crate::app::AppState;
use crate::auth::extract::Organizer;
use crate::domain::account::Role;
use crate::error::AppError;
use crate::store::smtp as profiles;
use crate::web::{render, Chrome, Query};

/// Profiles shown on one page of the list.
pub const PER_PAGE: i64 = 20;
/// Search text is cut to this many characters; also the search box's `maxlength`.
pub const SEARCH_MAX_LEN: usize = 50;

#[derive(Template)]
#[template(path = "smtp/list.html")]
struct ListPage {
    page: Chrome,
    rows: Vec<Row>,
    can_edit: bool,
    search: String,
    total: i64,
    page_no: i64,
    pages: i64,
    prev: Option<String>,
    next: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ListQuery {
    q: String,
    page: String,
}

pub async fn list(
    State(state): State<AppState>,
    Organizer(member): Organizer,
    Query(query): Query<ListQuery>,
) -> Result<Response, AppError> {
    let search: String = query.q.trim().chars().filter(|c| !c.is_control()).take(SEARCH_MAX_LEN).collect();
    let page_no = query.page.trim().parse::<i64>().unwrap_or(1).clamp(1, 1_000_000);
    let (found, total) =
        profiles::page(&state.db, member.tenant.id, &search, PER_PAGE, (page_no - 1) * PER_PAGE).await?;
    let pages = (total + PER_PAGE - 1) / PER_PAGE;
    let link = |n: i64| {
        let q: String = url::form_urlencoded::byte_serialize(search.as_bytes()).collect();
        format!("/t/{}/smtp?q={q}&page={n}", member.tenant.slug)
    };
    let page = ListPage {
        prev: (page_no > 1).then(|| link(page_no - 1)),
        next: (page_no < pages).then(|| link(page_no + 1)),
        page: member.chrome("SMTP profiles", "smtp").await?,
        rows: found.iter().map(|p| Row::of(p, &member.tenant.zone())).collect(),
        can_edit: member.user.role() == Role::Admin,
        search,
        total,
        page_no,
        pages: pages.max(1),
    };
    render(&page)
}
