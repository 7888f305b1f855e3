//! `/admin`: the operator's page. Creates, renames and suspends tenants; a new tenant
//! comes with its first administrator.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;

use super::{format_time, render, render_invalid, Chrome, Form};
use crate::app::AppState;
use crate::auth::extract::Operator;
use crate::auth::password;
use crate::domain::account::{NewTenantForm, TenantName, MSG_SLUG_TAKEN};
use crate::domain::FieldErrors;
use crate::error::AppError;
use crate::store::audit::{self, Actor, AuditAction};
use crate::store::{self, tenants};

struct Row {
    slug: String,
    name: String,
    suspended: bool,
    members: i64,
    created: String,
    is_own: bool,
}

#[derive(Template)]
#[template(path = "admin/index.html")]
struct AdminPage {
    page: Chrome,
    rows: Vec<Row>,
    form: NewTenantForm,
    errors: FieldErrors,
}

async fn admin_page(
    state: &AppState,
    op: &Operator,
    form: NewTenantForm,
    errors: FieldErrors,
) -> Result<AdminPage, AppError> {
    let counts = tenants::member_counts(&state.db).await?;
    // The operator's own organization's zone, like every page they see.
    let zone = op.0.tenant.zone();
    let rows = tenants::all(&state.db)
        .await?
        .into_iter()
        .map(|t| Row {
            members: counts.iter().find(|(id, _)| *id == t.id).map_or(0, |(_, n)| *n),
            created: format_time(t.created_at, &zone),
            is_own: t.id == op.0.tenant.id,
            slug: t.slug,
            name: t.name,
            suspended: t.suspended,
        })
        .collect();
    Ok(AdminPage { page: op.0.chrome("Operator", "admin").await?, rows, form, errors })
}

pub async fn index(State(state): State<AppState>, op: Operator) -> Result<Response, AppError> {
    render(&admin_page(&state, &op, NewTenantForm::default(), FieldErrors::default()).await?)
}

pub async fn create_tenant(
    State(state): State<AppState>,
    op: Operator,
    Form(form): Form<NewTenantForm>,
) -> Result<Response, AppError> {
    let now = state.clock.now();
    let new = match form.parse() {
        Ok(new) => new,
        Err(errors) => return render_invalid(&admin_page(&state, &op, form.without_password(), errors).await?),
    };
    let hash = password::hash(new.admin_password.expose()).await?;
    let mut tx = store::begin_write(&state.db).await?;
    let (tenant_id, _) = match tenants::create_with_admin(&mut tx, &new, &hash, false, now).await {
        Ok(ids) => ids,
        Err(e) if store::is_unique_violation(&e) => {
            drop(tx);
            let mut errors = FieldErrors::default();
            errors.insert("slug", MSG_SLUG_TAKEN);
            return render_invalid(&admin_page(&state, &op, form.without_password(), errors).await?);
        }
        Err(e) => return Err(e.into()),
    };
    let detail = format!("by operator {}; first admin {}", op.0.user.email, new.admin_email.as_str());
    audit::record(
        &mut tx,
        tenant_id,
        Actor { id: None, label: &op.0.user.email },
        AuditAction::TenantCreated,
        &detail,
        now,
    )
    .await?;
    tx.commit().await?;
    op.0.session
        .flash_ok(format!("Created {} with its administrator {}.", new.name.as_str(), new.admin_email.as_str()))
        .await?;
    Ok(Redirect::to("/admin").into_response())
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct RenameForm {
    name: String,
}

pub async fn rename(
    State(state): State<AppState>,
    op: Operator,
    Path(slug): Path<String>,
    Form(form): Form<RenameForm>,
) -> Result<Response, AppError> {
    let tenant = tenants::by_slug(&state.db, &slug).await?.ok_or(AppError::NotFound)?;
    let name = TenantName::parse(&form.name).map_err(|m| AppError::Refused(StatusCode::UNPROCESSABLE_ENTITY, m))?;
    let detail = format!("from {:?} to {:?}", tenant.name, name.as_str());
    let mut tx = store::begin_write(&state.db).await?;
    tenants::rename(&mut tx, tenant.id, &name).await?;
    let actor = Actor { id: None, label: &op.0.user.email };
    audit::record(&mut tx, tenant.id, actor, AuditAction::TenantRenamed, &detail, state.clock.now()).await?;
    tx.commit().await?;
    op.0.session.flash_ok(format!("Renamed {} to {}.", tenant.slug, name.as_str())).await?;
    Ok(Redirect::to("/admin").into_response())
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct SuspendForm {
    suspended: Option<String>,
}

pub async fn suspend(
    State(state): State<AppState>,
    op: Operator,
    Path(slug): Path<String>,
    Form(form): Form<SuspendForm>,
) -> Result<Response, AppError> {
    let tenant = tenants::by_slug(&state.db, &slug).await?.ok_or(AppError::NotFound)?;
    let suspended = form.suspended.is_some();
    if suspended && tenant.id == op.0.tenant.id {
        return Err(AppError::Refused(
            StatusCode::UNPROCESSABLE_ENTITY,
            "You cannot suspend your own organization: you would lock yourself out.",
        ));
    }
    let action = if suspended { AuditAction::TenantSuspended } else { AuditAction::TenantRestored };
    let mut tx = store::begin_write(&state.db).await?;
    tenants::set_suspended(&mut tx, tenant.id, suspended).await?;
    audit::record(&mut tx, tenant.id, Actor { id: None, label: &op.0.user.email }, action, "", state.clock.now())
        .await?;
    tx.commit().await?;
    let verb = if suspended { "Suspended" } else { "Restored" };
    op.0.session.flash_ok(format!("{verb} {}.", tenant.name)).await?;
    Ok(Redirect::to("/admin").into_response())
}

/// This area's pages.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin", get(index))
        .route("/admin/tenants", post(create_tenant))
        .route("/admin/tenants/{slug}/rename", post(rename))
        .route("/admin/tenants/{slug}/suspend", post(suspend))
}
