//! Duplicate (SPEC §4): the copy is named `…_copied` and asks for the password again.

use askama::Template;
use axum::extract::State;
use axum::response::Response;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::form::{password_label, CLIENT_SECRET_HINT};
use super::{password_rules, to_list, AdminProfile, Row};
use crate::app::AppState;
use crate::auth::extract::Member;
use crate::domain::smtp::{
    check_duplicate_password, copied_name, msg_copied, GraphClientSecret, OAuthClientSecret, ProfileKind, ProfileName,
};
use crate::domain::FieldErrors;
use crate::error::AppError;
use crate::store;
use crate::store::audit;
use crate::store::smtp::{self as profiles, Profile, Settings};
use crate::web::fields::FieldView;
use crate::web::{render, render_invalid, Chrome, Form};

#[derive(Template)]
#[template(path = "smtp/duplicate.html")]
struct DuplicatePage {
    page: Chrome,
    profile: Row,
    new_name: String,
    asks_password: bool,
    password: FieldView,
    /// Graph profiles also ask for the client secret; OAuth profiles only for it.
    client_secret: Option<FieldView>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct DuplicateForm {
    password: SecretString,
    graph_client_secret: SecretString,
    oauth_client_secret: SecretString,
}

/// The name the copy gets: `{source}_copied`, or the first free `_copied_N`.
async fn new_name(conn: &mut sqlx::SqliteConnection, member: &Member, source: &Profile) -> Result<String, AppError> {
    let taken = profiles::names(conn, member.tenant.id).await?;
    Ok(copied_name(source.settings.name.as_str(), |n| taken.iter().any(|t| t.eq_ignore_ascii_case(n))))
}

async fn duplicate_page(
    state: &AppState,
    member: &Member,
    source: Profile,
    errors: &FieldErrors,
) -> Result<DuplicatePage, AppError> {
    let new_name = new_name(&mut *state.db.acquire().await?, member, &source).await?;
    let kind = source.settings.transport.kind();
    let password = FieldView::new("password", password_label(kind), "", errors.get("password"))
        .kind("password")
        .autocomplete("new-password")
        .required()
        .hint(password_rules(kind, member.tenant.policy()));
    let oauth = source.settings.transport.oauth().is_some();
    let oauth_secret = oauth.then(|| {
        FieldView::new(
            "oauth_client_secret",
            super::label("oauth_client_secret", kind),
            "",
            errors.get("oauth_client_secret"),
        )
        .kind("password")
        .autocomplete("new-password")
        .required()
        .hint("The copy signs in with its own client secret, and a Google account is connected to it on its own.")
    });
    let client_secret = oauth_secret.or_else(|| {
        (kind == ProfileKind::Graph).then(|| {
            FieldView::new(
                "graph_client_secret",
                super::label("graph_client_secret", kind),
                "",
                errors.get("graph_client_secret"),
            )
            .kind("password")
            .autocomplete("new-password")
            .required()
            .hint(CLIENT_SECRET_HINT)
        })
    });
    Ok(DuplicatePage {
        client_secret,
        page: member.chrome(format!("Duplicate {}", source.settings.name), "smtp").await?,
        asks_password: source.settings.transport.has_password(),
        profile: Row::of(&profiles::Listed::of(&source), &member.tenant.zone()),
        new_name,
        password,
    })
}

pub async fn duplicate_form(
    State(state): State<AppState>,
    AdminProfile { member, profile: source }: AdminProfile,
) -> Result<Response, AppError> {
    render(&duplicate_page(&state, &member, source, &FieldErrors::default()).await?)
}

pub async fn duplicate(
    State(state): State<AppState>,
    AdminProfile { member, profile: source }: AdminProfile,
    Form(form): Form<DuplicateForm>,
) -> Result<Response, AppError> {
    let now = state.clock.now();
    let policy = member.tenant.policy();
    let kind = source.settings.transport.kind();
    let mut errors = FieldErrors::default();
    if source.settings.transport.has_password() {
        errors.check("password", check_duplicate_password(kind, policy, form.password.expose_secret()));
    }
    if kind == ProfileKind::Graph {
        errors.check("graph_client_secret", GraphClientSecret::parse(form.graph_client_secret.expose_secret()));
    }
    let oauth = source.settings.transport.oauth().is_some();
    if oauth {
        errors.check("oauth_client_secret", OAuthClientSecret::parse(form.oauth_client_secret.expose_secret()));
    }
    if !errors.is_empty() {
        return render_invalid(&duplicate_page(&state, &member, source, &errors).await?);
    }
    let mut tx = store::begin_write(&state.db).await?;
    // The copy is of the profile as it is now, inside the write transaction (an edit or a
    // delete since the page was loaded wins); names are read here too, so the chosen one is
    // still free.
    let source = profiles::get_in(&mut tx, member.tenant.id, source.id).await?.ok_or(AppError::NotFound)?;
    let new_name = new_name(&mut tx, &member, &source).await?;
    let name = ProfileName::parse(&new_name).map_err(|m| anyhow::anyhow!("copied name {new_name:?}: {m}"))?;
    // An OAuth login's one secret is its client secret; the connected account is not copied.
    let (first, second) = if oauth {
        (form.oauth_client_secret, SecretString::default())
    } else {
        (form.password, form.graph_client_secret)
    };
    let copy = source
        .settings
        .copy_as(name, first, second)
        .with_secrets(policy, None::<&Settings>, |typed| state.secrets.seal_secret(&typed))
        .map_err(|e| anyhow::anyhow!("a copy's secrets were refused after they were checked: {e:?}"))?;
    profiles::create(&mut tx, member.tenant.id, &copy, now).await?;
    let detail = format!("{} as {new_name}", source.settings.name);
    audit::record(&mut tx, member.tenant.id, member.actor(), audit::AuditAction::ProfileDuplicated, &detail, now)
        .await?;
    tx.commit().await?;
    member.session.flash_ok(msg_copied(&new_name)).await?;
    Ok(to_list(&member))
}
