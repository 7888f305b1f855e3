//! `/t/{slug}/settings/aliases`: host aliases (`$relay`), defined once and used as the host
//! of SMTP profiles and SMS channels. Admins only.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;

use super::{render, render_invalid, Chrome, Form};
use crate::app::AppState;
use crate::auth::extract::{Admin, Member};
use crate::domain::alias::{msg_alias_in_use, AliasName, HostValue};
use crate::error::AppError;
use crate::store::audit::AuditAction;
use crate::store::{self, aliases, audit};

/// One alias as listed.
struct Row {
    name: String,
    value: String,
    /// Profiles and channels that use it.
    uses: i64,
}

#[derive(Template)]
#[template(path = "aliases/index.html")]
struct AliasesPage {
    page: Chrome,
    slug: String,
    rows: Vec<Row>,
    /// The new-alias form as typed, and its messages.
    name: String,
    value: String,
    name_error: Option<&'static str>,
    value_error: Option<&'static str>,
    /// Why a row's action was refused: the alias, and the message.
    row_error: Option<(String, String)>,
    max_name: usize,
    max_value: usize,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct AliasForm {
    name: String,
    value: String,
}

async fn page(state: &AppState, member: &Member, form: &AliasForm) -> Result<AliasesPage, AppError> {
    let list = aliases::list(&state.db, member.tenant.id).await?;
    let mut conn = state.db.acquire().await?;
    let mut rows = Vec::new();
    for alias in list.iter() {
        let uses = aliases::uses(&mut conn, member.tenant.id, alias.name.as_str()).await?;
        rows.push(Row { name: alias.name.to_string(), value: alias.value.to_string(), uses });
    }
    let keep = |s: &str| s.chars().filter(|c| !c.is_control()).take(120).collect::<String>();
    Ok(AliasesPage {
        page: member.chrome("Host aliases", "aliases").await?,
        slug: member.tenant.slug.clone(),
        rows,
        name: keep(form.name.trim()),
        value: keep(form.value.trim()),
        name_error: None,
        value_error: None,
        row_error: None,
        max_name: AliasName::MAX_LEN + 1,
        max_value: HostValue::MAX_LEN,
    })
}

pub async fn show(State(state): State<AppState>, Admin(member): Admin) -> Result<Response, AppError> {
    render(&page(&state, &member, &AliasForm::default()).await?)
}

/// Creates an alias, or gives one of that name a new value.
pub async fn save(
    State(state): State<AppState>,
    Admin(member): Admin,
    Form(form): Form<AliasForm>,
) -> Result<Response, AppError> {
    let name = AliasName::parse(&form.name);
    let value = HostValue::parse(&form.value);
    let (Ok(name), Ok(value)) = (&name, &value) else {
        let mut view = page(&state, &member, &form).await?;
        view.name_error = name.err();
        view.value_error = value.err();
        return render_invalid(&view);
    };
    let now = state.clock.now();
    let mut tx = store::begin_write(&state.db).await?;
    let before = aliases::save(&mut tx, member.tenant.id, name, value, now).await?;
    let detail = match &before {
        Some(old) => format!("{name}: {old} -> {value}"),
        None => format!("{name}: {value}"),
    };
    audit::record(&mut tx, member.tenant.id, member.actor(), AuditAction::AliasSaved, &detail, now).await?;
    tx.commit().await?;
    let text = match before {
        Some(_) => format!("{name} now stands for {value}. The next message through it goes there."),
        None => format!("Alias {name} added: it stands for {value}."),
    };
    member.session.flash_ok(text).await?;
    Ok(Redirect::to(&format!("/t/{}/settings/aliases", member.tenant.slug)).into_response())
}

/// Deletes an alias nothing uses.
pub async fn delete(
    State(state): State<AppState>,
    Admin(member): Admin,
    Path((_, name)): Path<(String, String)>,
) -> Result<Response, AppError> {
    let now = state.clock.now();
    let mut tx = store::begin_write(&state.db).await?;
    let Some(alias) = aliases::find(&mut tx, member.tenant.id, &name).await? else {
        return Err(AppError::NotFound);
    };
    let uses = aliases::uses(&mut tx, member.tenant.id, alias.name.as_str()).await?;
    if uses > 0 {
        drop(tx);
        let mut view = page(&state, &member, &AliasForm::default()).await?;
        view.row_error = Some((alias.name.to_string(), msg_alias_in_use(uses)));
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, Html(view.render()?)).into_response());
    }
    aliases::delete(&mut tx, member.tenant.id, alias.name.as_str()).await?;
    let detail = format!("{}: {}", alias.name, alias.value);
    audit::record(&mut tx, member.tenant.id, member.actor(), AuditAction::AliasDeleted, &detail, now).await?;
    tx.commit().await?;
    member.session.flash_ok(format!("Alias {} deleted.", alias.name)).await?;
    Ok(Redirect::to(&format!("/t/{}/settings/aliases", member.tenant.slug)).into_response())
}

/// This area's pages.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/t/{slug}/settings/aliases", get(show).post(save))
        .route("/t/{slug}/settings/aliases/{name}/delete", post(delete))
}
