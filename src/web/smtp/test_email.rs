//! The test email (SPEC §4): To prefilled with the signed-in user's address, a real send
//! through the profile bounded by `config.send_timeout`, and a result a person can act on. The unsaved
//! values of the edit form may be tested too; they reuse a saved secret only by the rule
//! of `SecretScope` (the one the form's save uses).

use askama::Template;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

use super::form::form_page_for;
use super::{to_list, AdminProfile};
use crate::app::AppState;
use crate::auth::extract::Member;
use crate::auth::session::Flash;
use crate::domain::email::{self, EmailAddress};
use crate::domain::smtp::{msg_test_sent, parse_test_to, FormMode, ProfileForm, Transport};
use crate::error::AppError;
use crate::mail::message::{escape_html, new_message_id, Outgoing};
use crate::mail::Sender;
use crate::store::audit;
use crate::store::smtp::{self as profiles, Settings};
use crate::web::fields::FieldView;
use crate::web::{render, render_invalid, Chrome};
use crate::words;

#[derive(Template)]
#[template(path = "smtp/test.html")]
struct TestPage {
    page: Chrome,
    profile_id: i64,
    name: String,
    to: FieldView,
    /// The bound on one send, in words (`config.send_timeout`).
    takes_up_to: String,
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

pub async fn show(
    State(state): State<AppState>,
    AdminProfile { member, profile }: AdminProfile,
) -> Result<Response, AppError> {
    let page = TestPage {
        takes_up_to: words::duration(state.config.send_timeout),
        page: member.chrome(format!("Test {}", profile.settings.name), "smtp").await?,
        profile_id: profile.id.0,
        name: profile.settings.name.to_string(),
        to: to_field(&member.user.email, None),
    };
    render(&page)
}

pub async fn send(
    State(state): State<AppState>,
    AdminProfile { member, profile: stored }: AdminProfile,
    body: Bytes,
) -> Result<Response, AppError> {
    let now = state.clock.now();
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
                takes_up_to: words::duration(state.config.send_timeout),
                page: member.chrome(format!("Test {}", stored.settings.name), "smtp").await?,
                profile_id: stored.id.0,
                name: stored.settings.name.to_string(),
                to: to_field(form.to.trim(), Some(message)),
            };
            return render_invalid(&page);
        }
    };
    let (ok, message) = deliver(&state, &member, &stored.settings, &to).await;
    profiles::record_test(&state.db, member.tenant.id, stored.id, ok, &message, now).await?;
    let detail = format!("{} to {}: {}", stored.settings.name, to.as_str(), if ok { "sent" } else { "failed" });
    let mut conn = state.db.acquire().await?;
    audit::record(&mut conn, member.tenant.id, member.actor(), audit::AuditAction::ProfileTested, &detail, now).await?;
    if ok {
        member.session.flash_ok(message).await?;
    } else {
        member.session.flash_error(message).await?;
    }
    Ok(to_list(&member))
}

/// Tests the edit form's values without saving them; the form comes back with the result.
async fn send_unsaved(
    state: &AppState,
    member: &Member,
    stored: crate::store::smtp::Profile,
    to: &str,
    form: ProfileForm,
) -> Result<Response, AppError> {
    let policy = member.tenant.policy();
    let to = parse_test_to(to);
    let candidate = form.parse(policy, FormMode::Edit).and_then(|input| {
        input.with_secrets(policy, Some(&stored.settings), |typed| state.secrets.seal_secret(&typed))
    });
    let (candidate, to) = match (candidate, to) {
        (Ok(candidate), Ok(to)) => (candidate, to),
        (candidate, to) => {
            let mut errors = candidate.err().unwrap_or_default();
            if let Err(message) = to {
                errors.insert("to", message);
            }
            let page = member.chrome(format!("Edit {}", stored.settings.name), "smtp").await?;
            return render_invalid(&form_page_for(page, member, &form.without_secrets(), errors, Some(&stored)));
        }
    };
    let (ok, message) = deliver(state, member, &candidate, &to).await;
    let detail = format!(
        "unsaved settings of {} to {}: {}",
        stored.settings.name,
        to.as_str(),
        if ok { "sent" } else { "failed" }
    );
    let mut conn = state.db.acquire().await?;
    audit::record(
        &mut conn,
        member.tenant.id,
        member.actor(),
        audit::AuditAction::ProfileTested,
        &detail,
        state.clock.now(),
    )
    .await?;
    let mut page = member.chrome(format!("Edit {}", stored.settings.name), "smtp").await?;
    let note = if ok { " These settings are not saved yet." } else { "" };
    page.flash = Some(Flash { kind: if ok { "ok" } else { "error" }.into(), text: format!("{message}{note}") });
    render(&form_page_for(page, member, &form.without_secrets(), Default::default(), Some(&stored)))
}

/// Sends the test email through a profile's settings; the sentence to show, and whether
/// it was sent.
async fn deliver(state: &AppState, member: &Member, settings: &Settings, to: &EmailAddress) -> (bool, String) {
    let sender = match Sender::from_profile(settings, &state.secrets) {
        Ok(sender) => sender,
        Err(e) => return (false, format!("The test email was not sent. {}", e.message)),
    };
    let mail = test_message(state, member, settings, to.as_str());
    let result = sender.send(&state.mailer, &mail).await;
    crate::web::email_log::record_test(state, member, settings.name.as_str(), &mail, &result).await;
    match result {
        Ok(_) => (true, msg_test_sent(to)),
        Err(e) => (false, format!("The test email was not sent. {}", e.message)),
    }
}

/// The test email: the profile's settings (never the password), as seed 004 lists them.
fn test_message(state: &AppState, member: &Member, settings: &Settings, to: &str) -> Outgoing {
    let kind = settings.transport.kind();
    let (host, port, security) = match &settings.transport {
        Transport::Generic(g) => (g.host.to_string(), g.port.to_string(), g.security.label().to_owned()),
        Transport::Graph(_) => {
            (state.config.graph_api_url.host_str().unwrap_or_default().to_owned(), "443".into(), "HTTPS".into())
        }
    };
    let username = settings.transport.username().unwrap_or("(no login)").to_owned();
    let name = settings.name.as_str();
    let rows = [
        ("Profile", name.to_owned()),
        ("Host", host),
        ("Port", port),
        ("Type", kind.label().to_owned()),
        ("Security", security),
        ("Username", username),
    ];
    let intro = format!(
        "This is a test email from relaydesk, sent by {} to check the SMTP profile {} of {}.",
        member.user.display_name, name, member.tenant.name
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
        subject: format!("relaydesk test email: {name}"),
        text,
        html,
        message_id: new_message_id(&state.config.public_host()),
    }
}
