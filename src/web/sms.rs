//! `/t/{slug}/sms`: SMS channels, which send guests' passcodes as email to an email-to-SMS
//! gateway, and their test passcode. Admins only. The password is write-only: it is sealed
//! when saved and never shown again.

use askama::Template;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use rand::Rng;
use serde::Deserialize;

use super::{format_time, render, render_invalid, Chrome, Form};
use crate::app::AppState;
use crate::auth::extract::{Admin, Member, PathId};
use crate::domain::alias::msg_no_such_alias;
use crate::domain::sms::*;
use crate::domain::smtp::{ProfileName, Security};
use crate::error::AppError;
use crate::mail::error::SendError;
use crate::mail::message::new_message_id;
use crate::mail::sms as gateway;
use crate::store::audit::AuditAction;
use crate::store::sms::Channel;
use crate::store::{self, aliases, audit, is_unique_violation, sms};

/// A text input of the form.
struct Input {
    name: &'static str,
    label: &'static str,
    value: String,
    error: Option<String>,
    hint: &'static str,
    max: usize,
    kind: &'static str,
    required: bool,
}

/// One `<option>`: value, label, selected.
type Choice = (&'static str, &'static str, bool);

#[derive(Template)]
#[template(path = "sms/form.html")]
struct FormPage {
    page: Chrome,
    slug: String,
    /// `None` for a new channel.
    id: Option<i64>,
    enabled: bool,
    /// Name, host, port.
    first: Vec<Input>,
    security: Vec<Choice>,
    security_error: Option<String>,
    /// Sender, username, password, recipient.
    second: Vec<Input>,
    number_format: Vec<Choice>,
    number_format_error: Option<String>,
    /// Message type, subject.
    third: Vec<Input>,
    message: String,
    message_error: Option<String>,
    message_max: usize,
    /// Every message, in form order, for the summary at the top.
    summary: Vec<(&'static str, String)>,
}

fn input(form: &ChannelForm, errors: &ChannelErrors, name: &'static str) -> Input {
    let (label, value, hint, max, kind, required) = match name {
        "name" => ("Name", &form.name, "Letters, digits and underscores.", ProfileName::MAX_LEN, "text", true),
        "host" => (
            "Host",
            &form.host,
            "The gateway's SMTP server: a host name, an IPv4 address, or an alias such as $relay.",
            SmsHost::MAX_LEN,
            "text",
            true,
        ),
        "port" => ("Port", &form.port, "Empty: 465 for SSL/TLS, 587 for STARTTLS, 25 for none.", 5, "text", false),
        "sender" => (
            "Sender",
            &form.sender,
            "The From of the gateway mail: an address, or Name <address>.",
            SmsSender::MAX_LEN,
            "text",
            true,
        ),
        "username" => ("Username", &form.username, "The gateway account.", SmsUsername::MAX_LEN, "text", true),
        "password" => ("Password", &String::new(), "", SmsPassword::MAX_LEN, "password", true),
        "recipient" => (
            "Email of Recipient",
            &form.recipient,
            "GM_MOBILE@gateway.example puts the number in the address; a fixed address needs GM_MOBILE in the message.",
            GatewayRecipient::MAX_LEN,
            "text",
            true,
        ),
        "message_type" => (
            "Message type",
            &form.message_type,
            "Added after the number, such as sms.text in +447700900123.sms.text@gateway.example.",
            MessageType::MAX_LEN,
            "text",
            false,
        ),
        _ => ("Subject", &form.subject, "", 100, "text", false),
    };
    Input {
        name,
        label,
        value: value.chars().filter(|c| !c.is_control()).take(max + 20).collect(),
        error: errors.get(name).map(str::to_owned),
        hint,
        max,
        kind,
        required,
    }
}

async fn form_page(
    member: &Member,
    id: Option<i64>,
    form: &ChannelForm,
    errors: &ChannelErrors,
) -> Result<FormPage, AppError> {
    let title = match id {
        Some(_) => format!("Edit {}", form.name.trim()),
        None => "New SMS channel".to_owned(),
    };
    let mut second: Vec<Input> = ["sender", "username", "password", "recipient"].map(|n| input(form, errors, n)).into();
    if id.is_some() {
        if let Some(password) = second.iter_mut().find(|i| i.name == "password") {
            password.required = false;
            password.hint = "Leave empty to keep the saved password.";
        }
    }
    let security = Security::parse(&form.security).unwrap_or_default();
    let number_format = NumberFormat::parse(&form.number_format).unwrap_or_default();
    Ok(FormPage {
        page: member.chrome(title, "sms").await?,
        slug: member.tenant.slug.clone(),
        id,
        enabled: form.enabled.as_deref() == Some("on"),
        first: ["name", "host", "port"].map(|n| input(form, errors, n)).into(),
        security: Security::ALL.iter().map(|s| (s.as_str(), s.label(), *s == security)).collect(),
        security_error: errors.get("security").map(str::to_owned),
        second,
        number_format: NumberFormat::ALL.iter().map(|f| (f.as_str(), f.label(), *f == number_format)).collect(),
        number_format_error: errors.get("number_format").map(str::to_owned),
        third: ["message_type", "subject"].map(|n| input(form, errors, n)).into(),
        message: form.message.chars().take(MessageTemplate::MAX_LEN + 100).collect(),
        message_error: errors.get("message").map(str::to_owned),
        message_max: MessageTemplate::MAX_LEN,
        summary: errors.0.clone(),
    })
}

/// The form filled from a stored channel (never its password).
fn form_of(channel: &Channel) -> ChannelForm {
    let s = &channel.settings;
    ChannelForm {
        enabled: s.enabled.then(|| "on".to_owned()),
        name: s.name.to_string(),
        host: s.host.as_str().to_owned(),
        port: s.port.map(|p| p.to_string()).unwrap_or_default(),
        security: s.security.as_str().to_owned(),
        sender: s.sender.to_text(),
        username: s.username.as_str().to_owned(),
        password: String::new(),
        recipient: s.recipient.as_str().to_owned(),
        number_format: s.number_format.as_str().to_owned(),
        message_type: s.message_type.as_ref().map(|t| t.as_str().to_owned()).unwrap_or_default(),
        subject: s.subject.clone().unwrap_or_default(),
        message: s.message.as_str().to_owned(),
    }
}

/// One channel as listed.
struct Row {
    id: i64,
    name: String,
    enabled: bool,
    server: String,
    recipient: String,
    last_test: Option<(String, bool, String)>,
}

#[derive(Template)]
#[template(path = "sms/list.html")]
struct ListPage {
    page: Chrome,
    slug: String,
    rows: Vec<Row>,
}

pub async fn list(State(state): State<AppState>, Admin(member): Admin) -> Result<Response, AppError> {
    let zone = member.tenant.zone();
    let rows = sms::list(&state.db, member.tenant.id)
        .await?
        .into_iter()
        .map(|c| Row {
            id: c.id,
            name: c.settings.name.to_string(),
            enabled: c.settings.enabled,
            server: format!("{}:{}", c.settings.host.as_str(), c.settings.port_or_default()),
            recipient: c.settings.recipient.as_str().to_owned(),
            last_test: c.last_test.map(|(at, ok, message)| (format_time(at, &zone), ok, message)),
        })
        .collect();
    render(&ListPage { page: member.chrome("SMS channels", "sms").await?, slug: member.tenant.slug.clone(), rows })
}

pub async fn new(Admin(member): Admin) -> Result<Response, AppError> {
    let form = ChannelForm { security: "ssl".into(), number_format: "plus".into(), ..ChannelForm::default() };
    render(&form_page(&member, None, &form, &ChannelErrors::default()).await?)
}

/// The form's rules, then what needs the store: the alias named as host exists, and the
/// name and username are not another channel's.
async fn check(
    conn: &mut sqlx::SqliteConnection,
    member: &Member,
    id: Option<i64>,
    form: &ChannelForm,
) -> Result<Result<(ChannelSettings, Option<SmsPassword>), ChannelErrors>, AppError> {
    let (settings, password) = match form.parse(id.is_none()) {
        Ok(parsed) => parsed,
        Err(mut errors) => {
            // Say which alias is missing even while other fields fail.
            if errors.get("host").is_none() {
                if let Some(alias) = SmsHost::parse(&form.host).ok().as_ref().and_then(SmsHost::alias) {
                    if aliases::find(conn, member.tenant.id, alias).await?.is_none() {
                        errors.insert("host", msg_no_such_alias(alias));
                    }
                }
            }
            return Ok(Err(errors));
        }
    };
    let mut errors = ChannelErrors::default();
    if let Some(alias) = settings.host.alias() {
        if aliases::find(conn, member.tenant.id, alias).await?.is_none() {
            errors.insert("host", msg_no_such_alias(alias));
        }
    }
    for field in sms::taken(conn, member.tenant.id, &settings, id).await? {
        errors.insert(field, if field == "name" { MSG_SMS_NAME_TAKEN } else { MSG_SMS_USERNAME_TAKEN });
    }
    // Keep form order in the summary.
    let order = ["name", "host", "username"];
    errors.0.sort_by_key(|(f, _)| order.iter().position(|o| o == f));
    Ok(if errors.is_empty() { Ok((settings, password)) } else { Err(errors) })
}

/// What the audit log says about a channel: never the password.
fn describe(s: &ChannelSettings) -> String {
    format!(
        "{}: {}:{}, {}, to {}{}",
        s.name,
        s.host.as_str(),
        s.port_or_default(),
        s.security.as_str(),
        s.recipient.as_str(),
        if s.enabled { ", enabled" } else { ", disabled" }
    )
}

pub async fn create(
    State(state): State<AppState>,
    Admin(member): Admin,
    Form(form): Form<ChannelForm>,
) -> Result<Response, AppError> {
    let now = state.clock.now();
    let mut tx = store::begin_write(&state.db).await?;
    let (settings, password) = match check(&mut tx, &member, None, &form).await? {
        Ok(parsed) => parsed,
        Err(errors) => {
            drop(tx);
            return render_invalid(&form_page(&member, None, &form, &errors).await?);
        }
    };
    let Some(password) = password else {
        return Err(AppError::Internal(anyhow::anyhow!("a new channel passed its rules without a password")));
    };
    let sealed = state.secrets.seal_secret(password.secret());
    match sms::create(&mut tx, member.tenant.id, &settings, &sealed, now).await {
        Ok(_) => {}
        Err(e) if is_unique_violation(&e) => {
            drop(tx);
            let mut errors = ChannelErrors::default();
            errors.insert("name", MSG_SMS_NAME_TAKEN);
            return render_invalid(&form_page(&member, None, &form, &errors).await?);
        }
        Err(e) => return Err(e.into()),
    }
    audit::record(&mut tx, member.tenant.id, member.actor(), AuditAction::SmsChannelCreated, &describe(&settings), now)
        .await?;
    tx.commit().await?;
    member.session.flash_ok(format!("SMS channel {} created.", settings.name)).await?;
    Ok(Redirect::to(&format!("/t/{}/sms", member.tenant.slug)).into_response())
}

async fn channel(state: &AppState, member: &Member, id: i64) -> Result<Channel, AppError> {
    sms::get(&state.db, member.tenant.id, id).await?.ok_or(AppError::NotFound)
}

pub async fn edit(
    State(state): State<AppState>,
    Admin(member): Admin,
    PathId(id): PathId,
) -> Result<Response, AppError> {
    let channel = channel(&state, &member, id).await?;
    render(&form_page(&member, Some(id), &form_of(&channel), &ChannelErrors::default()).await?)
}

pub async fn update(
    State(state): State<AppState>,
    Admin(member): Admin,
    PathId(id): PathId,
    Form(form): Form<ChannelForm>,
) -> Result<Response, AppError> {
    let stored = channel(&state, &member, id).await?;
    let now = state.clock.now();
    let mut tx = store::begin_write(&state.db).await?;
    let (settings, password) = match check(&mut tx, &member, Some(id), &form).await? {
        Ok(parsed) => parsed,
        Err(errors) => {
            drop(tx);
            return render_invalid(&form_page(&member, Some(id), &form, &errors).await?);
        }
    };
    if password.is_none() {
        if let Some(message) = password_cleared_by(&stored.settings, &settings) {
            drop(tx);
            let mut errors = ChannelErrors::default();
            errors.insert("password", message);
            return render_invalid(&form_page(&member, Some(id), &form, &errors).await?);
        }
    }
    let sealed = password.map(|p| state.secrets.seal_secret(p.secret()));
    match sms::update(&mut tx, member.tenant.id, id, &settings, sealed.as_ref(), now).await {
        Ok(true) => {}
        Ok(false) => return Err(AppError::NotFound),
        Err(e) if is_unique_violation(&e) => {
            drop(tx);
            let mut errors = ChannelErrors::default();
            errors.insert("name", MSG_SMS_NAME_TAKEN);
            return render_invalid(&form_page(&member, Some(id), &form, &errors).await?);
        }
        Err(e) => return Err(e.into()),
    }
    let mut detail = describe(&settings);
    if sealed.is_some() {
        detail.push_str(", new password");
    }
    audit::record(&mut tx, member.tenant.id, member.actor(), AuditAction::SmsChannelUpdated, &detail, now).await?;
    tx.commit().await?;
    member.session.flash_ok(format!("SMS channel {} saved.", settings.name)).await?;
    Ok(Redirect::to(&format!("/t/{}/sms", member.tenant.slug)).into_response())
}

#[derive(Template)]
#[template(path = "sms/test.html")]
struct TestPage {
    page: Chrome,
    slug: String,
    id: i64,
    name: String,
    mobile: String,
    error: Option<&'static str>,
    takes_up_to: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct TestForm {
    mobile: String,
}

async fn test_page(
    state: &AppState,
    member: &Member,
    channel: &Channel,
    mobile: &str,
    error: Option<&'static str>,
) -> Result<TestPage, AppError> {
    Ok(TestPage {
        page: member.chrome(format!("Test {}", channel.settings.name), "sms").await?,
        slug: member.tenant.slug.clone(),
        id: channel.id,
        name: channel.settings.name.to_string(),
        mobile: mobile.chars().filter(|c| !c.is_control()).take(40).collect(),
        error,
        takes_up_to: crate::words::duration(state.mailer.send_timeout),
    })
}

pub async fn test_form(
    State(state): State<AppState>,
    Admin(member): Admin,
    PathId(id): PathId,
) -> Result<Response, AppError> {
    let channel = channel(&state, &member, id).await?;
    render(&test_page(&state, &member, &channel, "", None).await?)
}

/// `Test passcode sent to {mobile} (as an email to {address}).`
pub fn msg_test_sent(mobile: &MobileNumber, to: &str) -> String {
    format!("Test passcode sent to {} (as an email to {to}).", mobile.as_str())
}

/// Sends a test passcode through the channel to a mobile number, with `GM_NAME` = `Test`
/// and a random passcode; the result is kept on the channel and shown in the list.
pub async fn test(
    State(state): State<AppState>,
    Admin(member): Admin,
    PathId(id): PathId,
    Form(form): Form<TestForm>,
) -> Result<Response, AppError> {
    let channel = channel(&state, &member, id).await?;
    let mobile = match MobileNumber::parse(&form.mobile) {
        Ok(mobile) => mobile,
        Err(message) => {
            return render_invalid(&test_page(&state, &member, &channel, &form.mobile, Some(message)).await?)
        }
    };
    let result = deliver(&state, &member, &channel, &mobile).await;
    let (ok, text) = match &result {
        Ok((to, _)) => (true, msg_test_sent(&mobile, to)),
        Err(e) => (false, format!("The test passcode was not sent. {}", e.message)),
    };
    // The email log keeps the test beside the outbox's mail: the number, never the passcode.
    let reply = match &result {
        Ok((_, reply)) => reply.clone(),
        Err(e) => e.message.clone(),
    };
    let subject = channel.settings.subject.clone().unwrap_or_else(|| "Test passcode".to_owned());
    let test = store::outbox::TestEmail {
        kind: "sms_test",
        profile: &format!("SMS channel {}", channel.settings.name),
        recipient: mobile.as_str(),
        subject: &subject,
        ok,
        reply: &reply,
        sent_by: &member.user.email,
    };
    store::outbox::record_test_email(&state.db, member.tenant.id, test, state.clock.now()).await?;
    let now = state.clock.now();
    let mut tx = store::begin_write(&state.db).await?;
    sms::record_test(&mut tx, member.tenant.id, id, ok, &text, now).await?;
    let detail = format!("{}: to {}: {}", channel.settings.name, mobile.as_str(), if ok { "sent" } else { "failed" });
    audit::record(&mut tx, member.tenant.id, member.actor(), AuditAction::SmsChannelTested, &detail, now).await?;
    tx.commit().await?;
    if ok {
        member.session.flash_ok(text).await?;
    } else {
        member.session.flash_error(text).await?;
    }
    Ok(Redirect::to(&format!("/t/{}/sms", member.tenant.slug)).into_response())
}

/// Sends the test through the channel with a random six-digit passcode; the address it
/// went to and the server's reply.
async fn deliver(
    state: &AppState,
    member: &Member,
    channel: &Channel,
    mobile: &MobileNumber,
) -> Result<(String, String), SendError> {
    let passcode = format!("{:06}", rand::rngs::OsRng.gen_range(0..1_000_000u32));
    let message_id = new_message_id(&state.config.public_host());
    let (db, secrets, mailer) = (&state.db, &state.secrets, &state.mailer);
    gateway::send_passcode(db, secrets, mailer, member.tenant.id, channel, mobile, "Test", &passcode, &message_id).await
}

#[derive(Template)]
#[template(path = "sms/delete.html")]
struct DeletePage {
    page: Chrome,
    slug: String,
    id: i64,
    name: String,
}

pub async fn confirm_delete(
    State(state): State<AppState>,
    Admin(member): Admin,
    PathId(id): PathId,
) -> Result<Response, AppError> {
    let channel = channel(&state, &member, id).await?;
    render(&DeletePage {
        page: member.chrome(format!("Delete {}", channel.settings.name), "sms").await?,
        slug: member.tenant.slug.clone(),
        id,
        name: channel.settings.name.to_string(),
    })
}

pub async fn delete(
    State(state): State<AppState>,
    Admin(member): Admin,
    PathId(id): PathId,
) -> Result<Response, AppError> {
    let channel = channel(&state, &member, id).await?;
    let now = state.clock.now();
    let mut tx = store::begin_write(&state.db).await?;
    if !sms::delete(&mut tx, member.tenant.id, id).await? {
        return Err(AppError::NotFound);
    }
    let detail = describe(&channel.settings);
    audit::record(&mut tx, member.tenant.id, member.actor(), AuditAction::SmsChannelDeleted, &detail, now).await?;
    tx.commit().await?;
    member.session.flash_ok(format!("SMS channel {} deleted.", channel.settings.name)).await?;
    Ok(Redirect::to(&format!("/t/{}/sms", member.tenant.slug)).into_response())
}

/// This area's pages.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/t/{slug}/sms", get(list).post(create))
        .route("/t/{slug}/sms/new", get(new))
        .route("/t/{slug}/sms/{id}", get(edit).post(update))
        .route("/t/{slug}/sms/{id}/test", get(test_form).post(test))
        .route("/t/{slug}/sms/{id}/delete", get(confirm_delete).post(delete))
}
