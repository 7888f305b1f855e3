//! Pages outside any tenant: the front door, health, static files, not found.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use serde::Deserialize;

use super::{render, Chrome, Query};
use crate::app::AppState;
use crate::domain::account::TenantSlug;
use crate::error::AppError;
use crate::store::{self, tenants};

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    page: Chrome,
    set_up: bool,
    slug: String,
    error: Option<&'static str>,
}

/// `/`: where to sign in, or, before the first tenant exists, how to set up.
pub async fn index(State(state): State<AppState>) -> Result<Response, AppError> {
    let set_up = !tenants::none_exist(&state.db).await?;
    render(&HomePage {
        page: Chrome { nav: "home", ..Chrome::bare("Welcome") },
        set_up,
        slug: String::new(),
        error: None,
    })
}

#[derive(Deserialize)]
pub struct GoQuery {
    #[serde(default)]
    slug: String,
}

/// The front door's form: from an organization's short name to its sign-in page.
pub async fn go(State(state): State<AppState>, Query(q): Query<GoQuery>) -> Result<Response, AppError> {
    let found = match TenantSlug::parse(&q.slug) {
        Ok(slug) => tenants::by_slug(&state.db, slug.as_str()).await?,
        Err(_) => None,
    };
    match found {
        Some(tenant) => Ok(Redirect::to(&format!("/t/{}/login", tenant.slug)).into_response()),
        None => {
            let page = HomePage {
                page: Chrome { nav: "home", ..Chrome::bare("Welcome") },
                set_up: true,
                slug: q.slug.trim().to_owned(),
                error: Some(
                    "There is no organization with this short name. Check the spelling or ask your administrator.",
                ),
            };
            Ok((StatusCode::NOT_FOUND, render(&page)?).into_response())
        }
    }
}

/// `GET /healthz`: 200 while the database answers.
pub async fn healthz(State(state): State<AppState>) -> Response {
    match store::ping(&state.db).await {
        Ok(_) => (StatusCode::OK, "ok").into_response(),
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "database unavailable").into_response(),
    }
}

/// The stylesheet and script, built into the binary so it runs from anywhere.
pub async fn static_file(Path(path): Path<String>) -> Response {
    let (body, kind) = match path.as_str() {
        "css/app.css" => (include_str!("../../static/css/app.css"), "text/css; charset=utf-8"),
        "js/app.js" => (include_str!("../../static/js/app.js"), "text/javascript; charset=utf-8"),
        _ => return (StatusCode::NOT_FOUND, "not found").into_response(),
    };
    ([(header::CONTENT_TYPE, kind), (header::CACHE_CONTROL, "public, max-age=300")], body).into_response()
}

pub async fn not_found() -> AppError {
    AppError::NotFound
}

/// This area's pages.
pub fn routes() -> Router<AppState> {
    Router::new().route("/", get(index)).route("/go", get(go))
}
