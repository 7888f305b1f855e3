//! The test email (SPEC §4): To prefilled with the signed-in user's address, a real send
//! through the profile bounded at 15 s, and a result a person can act on. The unsaved
//! values of the edit form may be tested too; they reuse the stored secret only while
//! type, host, port and account are unchanged.

use askama::Template;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::fields::FieldView;
use super::smtp::{form_page_for, secrets_for, AdminProfile};
use super::{render, render_invalid, Chrome};
use crate::app::AppState;
use crate::auth::extract::Member;
use crate::auth::session::Flash;
use crate::domain::email;
use crate::domain::smtp::{msg_test_sent, parse_test_to, FormMode, ProfileForm, ProfileKind, Security};
use crate::error::AppError;
use crate::mail::message::{escape_html, new_message_id, Outgoing};
use crate::mail::Sender;
use crate::store::audit;
use crate::store::smtp::{self as profiles, Profile};

#[derive(Template)]
#[template(path = "smtp/test.html")]
struct TestPage {
    page: Chrome,
    profile_id: i64,
    name: String,
    to: FieldView,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct TestForm {
    to: String,
    /// Present when the edit form's unsaved values are to be tested.
    unsaved: Option<String>,
}

fn to_field(value: &str, error: Option<&'static str>) -> FieldView {
    FieldView::new("to", "Send the test email to", value, error)
        .kind("email")
        .max(email::MAX_LEN)
        .autocomplete("email")
        .required()
        .hint("A mailbox you can check. The email lists the server settings, never the password.")
}

pub async fn show(AdminProfile { member, profile }: AdminProfile) -> Result<Response, AppError> {
    let page = TestPage {
        page: member.chrome(format!("Test {}", profile.name), "smtp").await?,
        profile_id: profile.id.0,
        name: profile.name,
        to: to_field(&member.user.email, None),
    };
    render(&page)
}

pub async fn send(
    State(state): State<AppState>,
    AdminProfile { member, profile: stored }: AdminProfile,
    body: Bytes,
) -> Result<Response, AppError> {
    let unreadable = || {
        AppError::Refused(
            StatusCode::UNPROCESSABLE_ENTITY,
            "The form could not be read. Reload the page and try again.",
        )
    };
    let form: TestForm = serde_urlencoded::from_bytes(&body).map_err(|_| unreadable())?;
    if form.unsaved.is_some() {
        let profile_form: ProfileForm = serde_urlencoded::from_bytes(&body).map_err(|_| unreadable())?;
        return send_unsaved(&state, &member, stored, &form.to, profile_form).await;
    }
    let to = match parse_test_to(&form.to) {
        Ok(to) => to,
        Err(message) => {
            let page = TestPage {
                page: member.chrome(format!("Test {}", stored.name), "smtp").await?,
                profile_id: stored.id.0,
                name: stored.name,
                to: to_field(form.to.trim(), Some(message)),
            };
            return render_invalid(&page);
        }
    };
    let (ok, message) = deliver(&state, &member, &stored, to.as_str()).await;
    profiles::record_test(&state.db, member.tenant.id, stored.id, ok, &message).await?;
    let detail = format!("{} to {}: {}", stored.name, to.as_str(), if ok { "sent" } else { "failed" });
    let mut conn = state.db.acquire().await?;
    audit::record(&mut conn, member.tenant.id, member.actor(), audit::AuditAction::ProfileTested, &detail).await?;
    if ok {
        member.session.flash_ok(message).await?;
    } else {
        member.session.flash_error(message).await?;
    }
    Ok(Redirect::to(&format!("/t/{}/smtp", member.tenant.slug)).into_response())
}

/// Tests the edit form's values without saving them; the form comes back with the result.
async fn send_unsaved(
    state: &AppState,
    member: &Member,
    stored: Profile,
    to: &str,
    form: ProfileForm,
) -> Result<Response, AppError> {
    let policy = member.tenant.policy();
    let parsed = form.parse(policy, FormMode::Edit);
    let mut errors = parsed.as_ref().err().cloned().unwrap_or_default();
    let to = match parse_test_to(to) {
        Ok(to) => Some(to),
        Err(message) => {
            errors.insert("to", message);
            None
        }
    };
    let secrets = parsed.as_ref().ok().map(|input| secrets_for(state, input, policy, Some(&stored), &mut errors));
    let (input, secrets, to) = match (parsed, secrets, to) {
        (Ok(input), Some(secrets), Some(to)) if errors.is_empty() => (input, secrets, to),
        _ => {
            let page = member.chrome(format!("Edit {}", stored.name), "smtp").await?;
            return render_invalid(&form_page_for(page, member, &form, errors, Some(&stored)));
        }
    };
    let candidate = profiles::unsaved(&stored, &input, secrets);
    let (ok, message) = deliver(state, member, &candidate, to.as_str()).await;
    let detail =
        format!("unsaved settings of {} to {}: {}", stored.name, to.as_str(), if ok { "sent" } else { "failed" });
    let mut conn = state.db.acquire().await?;
    audit::record(&mut conn, member.tenant.id, member.actor(), audit::AuditAction::ProfileTested, &detail).await?;
    let mut page = member.chrome(format!("Edit {}", stored.name), "smtp").await?;
    let note = if ok { " These settings are not saved yet." } else { "" };
    page.flash = Some(Flash { kind: if ok { "ok" } else { "error" }.into(), text: format!("{message}{note}") });
    let mut form = form;
    form.password.clear();
    form.graph_client_secret.clear();
    render(&form_page_for(page, member, &form, Default::default(), Some(&stored)))
}

/// Sends the test email through `profile`; the sentence to show, and whether it was sent.
async fn deliver(state: &AppState, member: &Member, profile: &Profile, to: &str) -> (bool, String) {
    let sender = match Sender::from_profile(profile, &state.secrets) {
        Ok(sender) => sender,
        Err(e) => return (false, format!("The test email was not sent. {}", e.message)),
    };
    let mail = test_message(state, member, profile, to);
    match sender.send(&state.mailer, &mail).await {
        Ok(()) => {
            let to = email::EmailAddress::parse(to).map(|a| msg_test_sent(&a)).unwrap_or_default();
            (true, to)
        }
        Err(e) => (false, format!("The test email was not sent. {}", e.message)),
    }
}

/// The test email: the profile's settings (never the password), as seed 004 lists them.
fn test_message(state: &AppState, member: &Member, profile: &Profile, to: &str) -> Outgoing {
    let kind = ProfileKind::parse(&profile.kind).unwrap_or_default();
    let (host, port, security) = match kind {
        ProfileKind::Generic => (
            profile.host.clone().unwrap_or_default(),
            profile.port.map(|p| p.to_string()).unwrap_or_default(),
            Security::parse(profile.security.as_deref().unwrap_or_default()).unwrap_or_default().label().to_owned(),
        ),
        ProfileKind::Graph => {
            (state.config.graph_api_url.host_str().unwrap_or_default().to_owned(), "443".into(), "HTTPS".into())
        }
    };
    let username = match (&profile.username, profile.auth_required || kind == ProfileKind::Graph) {
        (Some(u), true) => u.clone(),
        _ => "(no login)".to_owned(),
    };
    let rows = [
        ("Profile", profile.name.clone()),
        ("Host", host),
        ("Port", port),
        ("Type", kind.label().to_owned()),
        ("Security", security),
        ("Username", username),
    ];
    let intro = format!(
        "This is a test email from relaydesk, sent by {} to check the SMTP profile {} of {}.",
        member.user.display_name, profile.name, member.tenant.name
    );
    let outro = "If you can read this, the profile works.";
    let mut text = format!("{intro}\n\n");
    let mut html = format!("<p>{}</p>\n<table>\n", escape_html(&intro));
    for (label, value) in &rows {
        text.push_str(&format!("{label}: {value}\n"));
        html.push_str(&format!("<tr><th align=\"left\">{label}</th><td>{}</td></tr>\n", escape_html(value)));
    }
    text.push_str(&format!("\n{outro}\n"));
    html.push_str(&format!("</table>\n<p>{outro}</p>\n"));
    Outgoing {
        to: to.to_owned(),
        subject: format!("relaydesk test email: {}", profile.name),
        text,
        html,
        message_id: new_message_id(&state.config.public_host()),
    }
}
