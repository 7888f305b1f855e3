//! The tenant's landing page.

use askama::Template;
use axum::response::{IntoResponse, Redirect, Response};

use super::{render, Chrome};
use crate::auth::extract::{Member, PathTenant};
use crate::error::AppError;

#[derive(Template)]
#[template(path = "dashboard.html")]
struct DashboardPage {
    page: Chrome,
    email_enabled: bool,
}

pub async fn show(member: Member) -> Result<Response, AppError> {
    let page = member.chrome("Dashboard", "dashboard").await?;
    render(&DashboardPage {
        page,
        email_enabled: member.tenant.email_enabled,
    })
}

/// `/t/{slug}` without the slash.
pub async fn to_dashboard(PathTenant(tenant): PathTenant) -> Response {
    Redirect::to(&format!("/t/{}/", tenant.slug)).into_response()
}
