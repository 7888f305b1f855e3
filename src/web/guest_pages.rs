//! `/g/{slug}`: the guest's side (SPEC §9.3), public, no console account. A guest
//! registers with a name and an email address or mobile number, receives a passcode
//! through the outbox, and signs in with it. A suspended organization, an unknown one, or
//! one with guest access off answers 404. The abuse limits answer 429 and send nothing.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use serde::Deserialize;

use super::fields::FieldView;
use super::{format_time, render, render_invalid, Chrome, Form};
use crate::app::AppState;
use crate::auth::extract::{ClientAddr, PathTenant};
use crate::auth::session::WebSession;
use crate::auth::{passcode_hash, passcode_matches};
use crate::domain::guest::*;
use crate::domain::FieldErrors;
use crate::error::AppError;
use crate::mail::message::{new_message_id, Outgoing};
use crate::mail::outbox::{enqueue_passcode, Passcode};
use crate::store::guests::{self, Limited};
use crate::store::tenants::Tenant;
use crate::store::{self, TenantId};

/// Sign-in tries from one client per throttle window, whatever the guest.
const SIGN_INS_PER_WINDOW: usize = 30;

/// The organization's guest access, or 404 when it has none (off, suspended).
async fn open(state: &AppState, tenant: &Tenant) -> Result<GuestSettings, AppError> {
    let settings = guests::get(&state.db, tenant.id).await?;
    if tenant.suspended || !settings.enabled {
        return Err(AppError::NotFound);
    }
    Ok(settings)
}

/// [`open`] for registering: the delivery narrowed to the methods that work now. When
/// none does (email turned off, the last SMS channel disabled) the page says so with 503
/// rather than promise a passcode that would only wait. Signing in with a passcode
/// already sent goes on working.
async fn open_to_register(state: &AppState, tenant: &Tenant) -> Result<GuestSettings, AppError> {
    let mut settings = open(state, tenant).await?;
    let (email, sms) = guests::methods_working(&state.db, tenant.id).await?;
    settings.delivery = settings
        .delivery
        .narrowed(email, sms)
        .ok_or(AppError::Refused(StatusCode::SERVICE_UNAVAILABLE, MSG_GUEST_UNAVAILABLE))?;
    Ok(settings)
}

/// The layout of a guest page: no console links, the visitor's CSRF token.
async fn chrome(session: &WebSession, title: &str) -> Result<Chrome, AppError> {
    Ok(Chrome {
        csrf: session.csrf_token().await?,
        flash: session.take_flash().await?,
        nav: "guest",
        ..Chrome::bare(title)
    })
}

#[derive(Template)]
#[template(path = "guest/register.html")]
struct RegisterPage {
    page: Chrome,
    slug: String,
    tenant: String,
    name: FieldView,
    email: Option<FieldView>,
    mobile: Option<FieldView>,
    /// A refusal for the whole form (the abuse limits).
    notice: Option<&'static str>,
    hours: String,
}

async fn register_page(
    session: &WebSession,
    tenant: &Tenant,
    settings: &GuestSettings,
    form: &RegisterForm,
    errors: &FieldErrors,
    notice: Option<&'static str>,
) -> Result<RegisterPage, AppError> {
    let keep = |s: &str, max: usize| s.chars().filter(|c| !c.is_control()).take(max).collect::<String>();
    let name = FieldView::new("name", "Your name", &keep(&form.name, 100), errors.get("name"))
        .max(GuestName::MAX_LEN)
        .autocomplete("name")
        .required();
    let email = matches!(settings.delivery, Delivery::Email | Delivery::Both).then(|| {
        FieldView::new("email", "Email address", &keep(&form.email, 120), errors.get("email"))
            .kind("email")
            .max(crate::domain::email::MAX_LEN)
            .autocomplete("email")
            .hint("We send your passcode to this address.")
            .required_if(settings.delivery == Delivery::Email)
    });
    let codes = if settings.allowed_prefixes.is_empty() {
        String::new()
    } else {
        format!(" Numbers starting with {} only.", settings.allowed_prefixes.to_text())
    };
    let mobile = matches!(settings.delivery, Delivery::Sms | Delivery::Both).then(|| {
        FieldView::new("mobile", "Mobile number", &keep(&form.mobile, 40), errors.get("mobile"))
            .kind("tel")
            .max(40)
            .inputmode("tel")
            .autocomplete("tel")
            .placeholder("+44 7700 900123")
            .hint(format!("With + and the country code. We text your passcode to it.{codes}"))
            .required_if(settings.delivery == Delivery::Sms)
    });
    Ok(RegisterPage {
        page: chrome(session, &format!("Guest access to {}", tenant.name)).await?,
        slug: tenant.slug.clone(),
        tenant: tenant.name.clone(),
        name,
        email,
        mobile,
        notice,
        hours: crate::words::count(u64::from(settings.access_hours), "hour"),
    })
}

pub async fn register_form(
    State(state): State<AppState>,
    PathTenant(tenant): PathTenant,
    session: WebSession,
) -> Result<Response, AppError> {
    let settings = open_to_register(&state, &tenant).await?;
    let page =
        register_page(&session, &tenant, &settings, &RegisterForm::default(), &FieldErrors::default(), None).await?;
    render(&page)
}

/// Registers the guest (or the same email address or number again) and sends a new
/// passcode, within the abuse limits.
pub async fn register(
    State(state): State<AppState>,
    PathTenant(tenant): PathTenant,
    ClientAddr(client): ClientAddr,
    session: WebSession,
    Form(form): Form<RegisterForm>,
) -> Result<Response, AppError> {
    let settings = open_to_register(&state, &tenant).await?;
    let registration = match form.parse(&settings) {
        Ok(r) => r,
        Err(errors) => {
            return render_invalid(&register_page(&session, &tenant, &settings, &form, &errors, None).await?);
        }
    };
    let client = client.to_string();
    match send_passcode(&state, &tenant, &settings, &registration, Some(&client)).await? {
        Sent::Yes => {
            session.flash_ok(MSG_GUEST_SENT).await?;
            Ok(Redirect::to(&format!("/g/{}/login", tenant.slug)).into_response())
        }
        Sent::Limited => {
            let page =
                register_page(&session, &tenant, &settings, &form, &FieldErrors::default(), Some(MSG_GUEST_TOO_MANY))
                    .await?;
            Ok((StatusCode::TOO_MANY_REQUESTS, Html(page.render()?)).into_response())
        }
        Sent::Revoked => Err(AppError::Refused(StatusCode::FORBIDDEN, MSG_GUEST_REVOKED)),
    }
}

/// What became of a request for a passcode.
pub enum Sent {
    Yes,
    /// Past an abuse limit: nothing sent.
    Limited,
    /// The guest's access was revoked: nothing sent.
    Revoked,
}

/// Counts the passcode against the limits, then gives the guest a new random passcode
/// (only its keyed hash is kept) and puts its message in the outbox, all in one
/// transaction. `client` is `None` for an organizer's resend.
pub async fn send_passcode(
    state: &AppState,
    tenant: &Tenant,
    settings: &GuestSettings,
    registration: &Registration,
    client: Option<&str>,
) -> Result<Sent, AppError> {
    let now = state.clock.now();
    let login = registration.login.as_str();
    let passcode = new_passcode(settings.passcode_length);
    let expires_at = now + i64::from(settings.access_hours) * 3600;
    let message_id = new_message_id(&state.config.public_host());
    let mail = match &registration.login {
        GuestLogin::Email(_) => Some(passcode_mail(state, tenant, settings, registration, &passcode, &message_id)?),
        GuestLogin::Mobile(_) => None,
    };
    let mut tx = store::begin_write(&state.db).await?;
    let limited =
        guests::count_send(&mut tx, tenant.id, login, client, PER_LOGIN_PER_HOUR, PER_CLIENT_PER_HOUR, now).await?;
    if let Err(which) = limited {
        drop(tx);
        let which = match which {
            Limited::Login => "this email address or number",
            Limited::Client => "this client",
            Limited::Tenant => "the organization's daily cap",
        };
        tracing::warn!(tenant = tenant.id.0, limit = which, "guest passcode refused by an abuse limit");
        return Ok(Sent::Limited);
    }
    let name = registration.name.as_str();
    let (guest, revoked) = guests::register(&mut tx, tenant.id, name, login, registration.login.via(), now).await?;
    if revoked {
        // The send was not made: the count goes with the transaction.
        drop(tx);
        return Ok(Sent::Revoked);
    }
    let hash = passcode_hash(&state.secrets, guest, &passcode);
    guests::set_passcode(&mut tx, tenant.id, guest, &hash, expires_at, now).await?;
    let message = match (&registration.login, &mail) {
        (_, Some(mail)) => Passcode::Email(mail),
        (GuestLogin::Mobile(mobile), None) => {
            Passcode::Sms { mobile, name, passcode: &passcode, subject: "Passcode by SMS" }
        }
        (GuestLogin::Email(_), None) => return Err(AppError::Internal(anyhow::anyhow!("a guest email without mail"))),
    };
    enqueue_passcode(&mut tx, &state.secrets, tenant.id, guest, message, &message_id, now).await?;
    tx.commit().await?;
    state.outbox_wake.notify_one();
    Ok(Sent::Yes)
}

#[derive(Template)]
#[template(path = "email/guest_passcode.txt")]
struct PasscodeText<'a> {
    name: &'a str,
    tenant: &'a str,
    passcode: &'a str,
    link: &'a str,
    hours: &'a str,
}

#[derive(Template)]
#[template(path = "email/guest_passcode.html")]
struct PasscodeHtml<'a> {
    name: &'a str,
    tenant: &'a str,
    passcode: &'a str,
    link: &'a str,
    hours: &'a str,
}

fn passcode_mail(
    state: &AppState,
    tenant: &Tenant,
    settings: &GuestSettings,
    registration: &Registration,
    passcode: &str,
    message_id: &str,
) -> Result<Outgoing, AppError> {
    let link = state.config.link(&format!("/g/{}/login", tenant.slug));
    let hours = crate::words::count(u64::from(settings.access_hours), "hour");
    let (name, t) = (registration.name.as_str(), tenant.name.as_str());
    Ok(Outgoing {
        to: registration.login.as_str().to_owned(),
        subject: format!("Your passcode for {t}"),
        text: PasscodeText { name, tenant: t, passcode, link: &link, hours: &hours }.render()?,
        html: PasscodeHtml { name, tenant: t, passcode, link: &link, hours: &hours }.render()?,
        message_id: message_id.to_owned(),
    })
}

#[derive(Template)]
#[template(path = "guest/login.html")]
struct LoginPage {
    page: Chrome,
    slug: String,
    tenant: String,
    login: FieldView,
    passcode: FieldView,
    /// Wrong or expired passcode, or too many tries.
    error: Option<&'static str>,
}

async fn login_page(
    session: &WebSession,
    tenant: &Tenant,
    settings: &GuestSettings,
    login: &str,
    login_error: Option<&'static str>,
    error: Option<&'static str>,
) -> Result<LoginPage, AppError> {
    let label = match settings.delivery {
        Delivery::Email => "Email address",
        Delivery::Sms => "Mobile number",
        Delivery::Both => "Email address or mobile number",
    };
    let login = FieldView::new(
        "login",
        label,
        &login.chars().filter(|c| !c.is_control()).take(120).collect::<String>(),
        login_error,
    )
    .max(120)
    .autocomplete("username")
    .required();
    let passcode = FieldView::new("passcode", "Passcode", "", None)
        .max(10)
        .inputmode("numeric")
        .autocomplete("one-time-code")
        .required();
    Ok(LoginPage {
        page: chrome(session, &format!("Sign in to {}", tenant.name)).await?,
        slug: tenant.slug.clone(),
        tenant: tenant.name.clone(),
        login,
        passcode,
        error,
    })
}

pub async fn login_form(
    State(state): State<AppState>,
    PathTenant(tenant): PathTenant,
    session: WebSession,
) -> Result<Response, AppError> {
    let settings = open(&state, &tenant).await?;
    render(&login_page(&session, &tenant, &settings, "", None, None).await?)
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct LoginForm {
    login: String,
    passcode: String,
}

/// Signs a guest in with their passcode: right, and they are connected until the
/// passcode's end; wrong, expired, revoked or unknown, and they get the one message.
pub async fn login(
    State(state): State<AppState>,
    PathTenant(tenant): PathTenant,
    ClientAddr(client): ClientAddr,
    session: WebSession,
    Form(form): Form<LoginForm>,
) -> Result<Response, AppError> {
    let settings = open(&state, &tenant).await?;
    let now = state.clock.now();
    let login = match GuestLogin::parse(&form.login) {
        Ok(login) => login,
        Err(message) => {
            return render_invalid(&login_page(&session, &tenant, &settings, &form.login, Some(message), None).await?)
        }
    };
    if !state.throttle.allow(&format!("guest-sign-in:{}:{client}", tenant.id.0), SIGN_INS_PER_WINDOW, now) {
        let page = login_page(&session, &tenant, &settings, &form.login, None, Some(MSG_GUEST_TOO_MANY)).await?;
        return Ok((StatusCode::TOO_MANY_REQUESTS, Html(page.render()?)).into_response());
    }
    // Spaces a person may type between the digits (`123 456`) are not part of it.
    let passcode: String = form.passcode.chars().filter(|c| *c != ' ').collect();
    match check_passcode(&state, tenant.id, &login, &passcode, now).await? {
        Some(until) => {
            let time = format_time(until, &tenant.zone());
            session.flash_ok(msg_connected_until(&time)).await?;
            Ok(Redirect::to(&format!("/g/{}/connected", tenant.slug)).into_response())
        }
        None => {
            let page =
                login_page(&session, &tenant, &settings, &form.login, None, Some(MSG_GUEST_BAD_PASSCODE)).await?;
            render_invalid(&page)
        }
    }
}

/// When the guest's connection ends, if `passcode` is theirs and still good; a wrong one
/// is counted, and the passcode stops working after [`MAX_PASSCODE_FAILURES`].
async fn check_passcode(
    state: &AppState,
    tenant: TenantId,
    login: &GuestLogin,
    passcode: &str,
    now: i64,
) -> Result<Option<i64>, AppError> {
    let Some(guest) = guests::credentials(&state.db, tenant, login.as_str()).await? else { return Ok(None) };
    let (Some(hash), Some(expires_at)) = (&guest.passcode_hash, guest.passcode_expires_at) else { return Ok(None) };
    if guest.revoked || expires_at <= now || guest.failed_attempts >= MAX_PASSCODE_FAILURES {
        return Ok(None);
    }
    let mut tx = store::begin_write(&state.db).await?;
    if passcode_matches(&state.secrets, guest.id, passcode, hash) {
        guests::signed_in(&mut tx, guest.id, expires_at).await?;
        tx.commit().await?;
        Ok(Some(expires_at))
    } else {
        guests::record_failure(&mut tx, guest.id, MAX_PASSCODE_FAILURES).await?;
        tx.commit().await?;
        Ok(None)
    }
}

#[derive(Template)]
#[template(path = "guest/connected.html")]
struct ConnectedPage {
    page: Chrome,
    slug: String,
    tenant: String,
}

/// Where a signed-in guest lands: the message says until when. Without it (opened again
/// later), the sign-in page.
pub async fn connected(
    State(state): State<AppState>,
    PathTenant(tenant): PathTenant,
    session: WebSession,
) -> Result<Response, AppError> {
    open(&state, &tenant).await?;
    let page = chrome(&session, &format!("Connected to {}", tenant.name)).await?;
    if page.flash.is_none() {
        return Ok(Redirect::to(&format!("/g/{}/login", tenant.slug)).into_response());
    }
    render(&ConnectedPage { page, slug: tenant.slug.clone(), tenant: tenant.name.clone() })
}

/// This area's pages.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/g/{slug}", get(register_form).post(register))
        .route("/g/{slug}/login", get(login_form).post(login))
        .route("/g/{slug}/connected", get(connected))
}
