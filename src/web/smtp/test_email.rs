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

use super::form::{form_page_for, with_retype_messages};
use super::{to_list, tried, AdminProfile};
use crate::app::AppState;
use crate::auth::extract::Member;
use crate::auth::session::Flash;
use crate::domain::email::{self, EmailAddress};
use crate::domain::smtp::{msg_test_sent, parse_test_to, FormMode, ProfileForm, ProfileKind, Security, Transport};
use crate::error::AppError;
use crate::mail::message::{escape_html, new_message_id, Outgoing};
use crate::mail::{egress, smtp, Route, Sender};
use crate::secret::Sealed;
use crate::store::audit;
use crate::store::smtp::{self as profiles, Profile, Settings};
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
    /// A Generic SMTP profile: "Check connection only" is offered.
    generic: bool,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct TestForm {
    to: String,
    /// Present when the edit form's unsaved values are tried: `check` for a connection
    /// check, anything else for a test email.
    unsaved: Option<String>,
    /// Present for a connection check of the saved profile.
    check: Option<String>,
}

/// A test email, or only a connection check (connect, TLS, login, QUIT).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Try {
    Email,
    Check,
}

/// A connection check asked of an MS Graph profile.
pub const MSG_CHECK_GRAPH: &str =
    "A connection check is for Generic SMTP profiles. Send a test email to check an MS Graph profile.";

fn to_field(value: &str, error: Option<&'static str>) -> FieldView {
    FieldView::new("to", "Send the test email to", value, error)
        .kind("email")
        .max(email::MAX_LEN)
        .autocomplete("email")
        .required()
        .hint("A mailbox you can check. The email lists the server settings, never the password.")
}

async fn test_page(state: &AppState, member: &Member, profile: &Profile, to: FieldView) -> Result<TestPage, AppError> {
    Ok(TestPage {
        takes_up_to: words::duration(state.config.send_timeout),
        page: member.chrome(format!("Test {}", profile.settings.name), "smtp").await?,
        profile_id: profile.id.0,
        name: profile.settings.name.to_string(),
        to,
        generic: profile.settings.kind() == ProfileKind::Generic,
    })
}

pub async fn show(
    State(state): State<AppState>,
    AdminProfile { member, profile }: AdminProfile,
) -> Result<Response, AppError> {
    let to = to_field(&member.user.email, None);
    render(&test_page(&state, &member, &profile, to).await?)
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
    let what = if form.check.is_some() || form.unsaved.as_deref() == Some("check") { Try::Check } else { Try::Email };
    if form.unsaved.is_some() {
        let profile_form: ProfileForm = serde_urlencoded::from_bytes(&body).map_err(|_| unreadable())?;
        return try_unsaved(&state, &member, stored, &form.to, profile_form, what).await;
    }
    if what == Try::Check {
        let (ok, message) = check(&state, &member, &stored.settings, refresh(&stored)).await;
        let detail = format!("{}: connection check {}", stored.settings.name, if ok { "passed" } else { "failed" });
        let mut conn = state.db.acquire().await?;
        audit::record(&mut conn, member.tenant.id, member.actor(), audit::AuditAction::ProfileTested, &detail, now)
            .await?;
        flash(&member, ok, message).await?;
        return Ok(to_list(&member));
    }
    let to = match parse_test_to(&form.to) {
        Ok(to) => to,
        Err(message) => {
            let to = to_field(form.to.trim(), Some(message));
            return render_invalid(&test_page(&state, &member, &stored, to).await?);
        }
    };
    let (ok, message, result) = deliver_result(&state, &member, &stored.settings, refresh(&stored), &to).await;
    crate::mail::outbox::note_token_problem(&state.db, member.tenant.id, &stored, &result).await;
    profiles::record_test(&state.db, member.tenant.id, stored.id, ok, &message, now).await?;
    let detail = format!("{} to {}: {}", stored.settings.name, to.as_str(), if ok { "sent" } else { "failed" });
    let mut conn = state.db.acquire().await?;
    audit::record(&mut conn, member.tenant.id, member.actor(), audit::AuditAction::ProfileTested, &detail, now).await?;
    flash(&member, ok, message).await?;
    Ok(to_list(&member))
}

async fn flash(member: &Member, ok: bool, message: String) -> Result<(), AppError> {
    if ok {
        member.session.flash_ok(message).await
    } else {
        member.session.flash_error(message).await
    }
}

/// Tries the edit form's values without saving them (a test email or a connection
/// check); the form comes back with the result. A password typed for a successful try is
/// held for Save (`tried`); a blank one is the one held, else the saved one, by the rule
/// of `SecretScope`.
async fn try_unsaved(
    state: &AppState,
    member: &Member,
    stored: Profile,
    to: &str,
    form: ProfileForm,
    what: Try,
) -> Result<Response, AppError> {
    let now = state.clock.now();
    let policy = form.policy_or(member.tenant.policy());
    let to = match what {
        Try::Email => parse_test_to(to).map(Some),
        Try::Check => Ok(None),
    };
    let input = match form.parse(policy, FormMode::Edit) {
        Ok(input) => {
            let scope = input.transport.scope();
            match tried::take_for(&member.session, &state.secrets, member.tenant.id, stored.id, &scope, now).await? {
                Some(held) => Ok(input.fill_blank_secrets(held)),
                None => Ok(input),
            }
        }
        Err(errors) => Err(errors),
    };
    let candidate = input.and_then(|input| {
        let settings =
            input.clone().with_secrets(policy, Some(&stored.settings), |typed| state.secrets.seal_secret(&typed))?;
        Ok((input, settings))
    });
    let ((input, candidate), to) = match (candidate, to) {
        (Ok(candidate), Ok(to)) => (candidate, to),
        (candidate, to) => {
            let mut errors = candidate.err().unwrap_or_default();
            if let Err(message) = to {
                errors.insert("to", message);
            }
            let errors = with_retype_messages(&form, errors);
            let page = member.chrome(format!("Edit {}", stored.settings.name), "smtp").await?;
            let mut view = form_page_for(&state.config, page, member, &form.without_secrets(), errors, Some(&stored));
            view.tried_held = tried::is_held(&member.session, member.tenant.id, stored.id, now).await?;
            return render_invalid(&view);
        }
    };
    // The connected account goes only with the settings it was connected for.
    let unchanged = candidate.transport.scope().change_from(&stored.settings.transport.scope()).is_none();
    let connected = refresh(&stored).filter(|_| unchanged);
    let (ok, message) = match &to {
        Some(to) => deliver(state, member, &candidate, connected, to).await,
        None => check(state, member, &candidate, connected).await,
    };
    let result = match &to {
        Some(to) => format!("to {}: {}", to.as_str(), if ok { "sent" } else { "failed" }),
        None => format!("connection check {}", if ok { "passed" } else { "failed" }),
    };
    let detail = format!("unsaved settings of {}: {result}", stored.settings.name);
    let mut conn = state.db.acquire().await?;
    audit::record(&mut conn, member.tenant.id, member.actor(), audit::AuditAction::ProfileTested, &detail, now).await?;
    let held = if ok {
        tried::hold(&member.session, &state.secrets, member.tenant.id, stored.id, &input, now).await?
    } else {
        tried::forget(&member.session).await?;
        false
    };
    let mut page = member.chrome(format!("Edit {}", stored.settings.name), "smtp").await?;
    let note = match (ok, held) {
        (true, true) => " These settings are not saved yet: Save changes saves them with the password you just tried.",
        (true, false) => " These settings are not saved yet.",
        (false, _) => "",
    };
    page.flash = Some(Flash { kind: if ok { "ok" } else { "error" }.into(), text: format!("{message}{note}") });
    let mut view =
        form_page_for(&state.config, page, member, &form.without_secrets(), Default::default(), Some(&stored));
    view.tried_held = held;
    render(&view)
}

/// The sealed refresh token of the account connected to a stored profile.
fn refresh(profile: &Profile) -> Option<&Sealed> {
    profile.connected.as_ref().map(|c| &c.refresh_token)
}

/// Sends the test email through a profile's settings (and the connected account's refresh
/// token); the sentence to show, and whether it was sent.
async fn deliver(
    state: &AppState,
    member: &Member,
    settings: &Settings,
    refresh: Option<&Sealed>,
    to: &EmailAddress,
) -> (bool, String) {
    let (ok, message, _) = deliver_result(state, member, settings, refresh, to).await;
    (ok, message)
}

/// [`deliver`], with the send's own result (what the dashboard's token warning needs).
async fn deliver_result(
    state: &AppState,
    member: &Member,
    settings: &Settings,
    refresh: Option<&Sealed>,
    to: &EmailAddress,
) -> (bool, String, Result<String, crate::mail::error::SendError>) {
    let grant = match grant(state, member).await {
        Ok(grant) => grant,
        Err(message) => {
            let message = format!("The test email was not sent. {message}");
            return (false, message.clone(), Err(crate::mail::error::SendError::transient(message)));
        }
    };
    let sender = Sender::for_tenant(&state.db, member.tenant.id, settings, &state.secrets, grant).await;
    let sender = match sender.and_then(|s| s.with_refresh_token(refresh, &state.secrets)) {
        Ok(sender) => sender,
        Err(e) => return (false, format!("The test email was not sent. {}", e.message), Err(e)),
    };
    let mail = test_message(state, member, settings, to.as_str());
    let result = sender.send(&state.mailer, &mail).await;
    crate::web::email_log::record_test(state, member, settings.name.as_str(), &mail, &result).await;
    match &result {
        Ok(_) => (true, msg_test_sent(to), result),
        Err(e) => (false, format!("The test email was not sent. {}", e.message), result),
    }
}

/// Checks a profile's connection: connect, TLS, login, QUIT, within `config.send_timeout`;
/// no message is sent. The sentence to show, and whether it passed.
async fn check(state: &AppState, member: &Member, settings: &Settings, refresh: Option<&Sealed>) -> (bool, String) {
    const FAILED: &str = "The connection check failed.";
    let grant = match grant(state, member).await {
        Ok(grant) => grant,
        Err(message) => return (false, format!("{FAILED} {message}")),
    };
    let sender = Sender::for_tenant(&state.db, member.tenant.id, settings, &state.secrets, grant).await;
    let sender = match sender.and_then(|s| s.with_refresh_token(refresh, &state.secrets)) {
        Ok(sender) => sender,
        Err(e) => return (false, format!("{FAILED} {}", e.message)),
    };
    let Route::Generic(smtp_settings) = &sender.route else { return (false, MSG_CHECK_GRAPH.to_owned()) };
    // A timeout reads as before: `{host}:{port} did not finish within …` (`mail::timed_out`).
    match sender.check(&state.mailer).await {
        Ok(checked) => (true, msg_check_passed(smtp_settings, checked)),
        Err(e) => (false, format!("{FAILED} {}", e.message)),
    }
}

/// Where the member's organization may connect (the egress policy), or what to say.
async fn grant(state: &AppState, member: &Member) -> Result<egress::Grant, String> {
    egress::grant_for(&state.db, &state.mailer.egress, member.tenant.id)
        .await
        .map_err(|e| format!("relaydesk could not read its database: {e}"))
}

/// The message of a passed connection check: what was done, and that nothing was sent.
pub fn msg_check_passed(settings: &smtp::SmtpSettings, checked: smtp::Checked) -> String {
    let how = match settings.security {
        Security::Ssl => "over SSL/TLS",
        Security::Starttls => "with STARTTLS",
        Security::None => "without encryption",
    };
    let login = match (&settings.auth, checked.logged_in) {
        (Some(auth), true) => format!(" and logged in as {}", auth.username.as_str()),
        _ => " (no login)".to_owned(),
    };
    format!(
        "Connection check passed: relaydesk connected to {}:{} {how}{login}. No email was sent.",
        settings.host, settings.port
    )
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
    let mut rows = vec![
        ("Profile", name.to_owned()),
        ("Host", host),
        ("Port", port),
        ("Type", kind.label().to_owned()),
        ("Security", security),
        ("Username", username),
    ];
    if let Some(app) = settings.transport.oauth() {
        rows.push(("Sign-in", format!("OAuth 2.0, {}", app.provider.kind().label())));
    }
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
