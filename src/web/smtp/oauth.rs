//! Connecting a Google account to an OAuth profile: Connect account sends the browser to
//! Google's consent page (authorization code with PKCE S256, `access_type=offline`), the
//! callback under the public URL takes the code once and keeps the refresh token sealed;
//! Disconnect forgets it.
//!
//! The callback is under the organization's own path, so it answers only to a signed-in
//! admin of that organization (the `Admin` extractor), and it takes the code only when
//! `state` matches the authorization this session started, for this organization, this
//! user and this profile, unchanged since, within ten minutes. The pending authorization
//! is removed from the session before anything else, so a callback is taken once.

use askama::Template;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::Deserialize;
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

use super::AdminProfile;
use crate::app::AppState;
use crate::auth::extract::{Admin, Member};
use crate::config::Config;
use crate::domain::smtp::{OAuthProviderKind, ProfileId};
use crate::error::AppError;
use crate::store::smtp as profiles;
use crate::store::{self, audit};
use crate::web::render;

/// How long a started connect waits for Google's callback.
pub const CONNECT_WAIT: i64 = 10 * 60;

/// The callback's answer when nothing matches what this session started (no connect
/// started, already used, another session's, another profile's, too old).
pub const MSG_CONNECT_STALE: &str =
    "This sign-in with Google does not match a connect started here, or it was already used or is too old. Choose \
     Connect account again.";
/// The callback's answer when the profile changed while the person was at Google.
pub const MSG_CONNECT_CHANGED: &str =
    "The profile changed while you were signing in with Google, so the account was not connected. Choose Connect \
     account again.";

/// The address Google sends people back to, to register as an authorized redirect URI
/// of the Google OAuth client.
pub fn redirect_uri(config: &Config, slug: &str) -> String {
    config.link(&format!("/t/{slug}/smtp/oauth/google"))
}

fn sha256_hex(text: &str) -> String {
    Sha256::digest(text.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

fn to_profile(member: &Member, id: ProfileId) -> Response {
    Redirect::to(&format!("/t/{}/smtp/{}", member.tenant.slug, id.0)).into_response()
}

/// POST `/t/{slug}/smtp/{id}/oauth/connect`: to Google's consent page, for the saved
/// settings of a Google profile.
pub async fn connect(
    State(state): State<AppState>,
    AdminProfile { member, profile }: AdminProfile,
) -> Result<Response, AppError> {
    let app = profile.settings.transport.oauth().filter(|a| a.provider.kind() == OAuthProviderKind::Google);
    let Some(app) = app else {
        member
            .session
            .flash_error(
                "Connect account is for a profile that signs in with OAuth 2.0 through Google. Save it that way first.",
            )
            .await?;
        return Ok(to_profile(&member, profile.id));
    };
    let state_token = crate::auth::random_token();
    let verifier = crate::auth::random_token();
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    let now = state.clock.now();
    let mut url = state.mailer.oauth.endpoints().google_authorize.clone();
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", app.client_id.as_str())
        .append_pair("redirect_uri", &redirect_uri(&state.config, &member.tenant.slug))
        .append_pair("scope", &format!("{} openid email", state.mailer.oauth.google_scope()))
        .append_pair("state", &state_token)
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256")
        .append_pair("access_type", "offline")
        // Asked every time, so Google gives a refresh token again after a disconnect.
        .append_pair("prompt", "consent")
        .append_pair("login_hint", profile.settings.transport.username().unwrap_or_default());
    member
        .session
        .start_oauth(
            sha256_hex(&state_token),
            member.tenant.id,
            member.user.id,
            profile.id.0,
            profile.settings.transport.scope().fingerprint(),
            now + CONNECT_WAIT,
            &verifier,
            url.as_str(),
        )
        .await?;
    Ok(Redirect::to(&format!("/t/{}/smtp/{}/oauth/go", member.tenant.slug, profile.id.0)).into_response())
}

/// GET `/t/{slug}/smtp/{id}/oauth/go`: the page that moves on to the consent page started
/// by Connect account. A page, not a redirect from the form's POST: under the
/// Content-Security-Policy's `form-action 'self'` a form may only lead to this site
/// (browsers check the redirects that follow it too), while a refresh or a link may go
/// anywhere.
pub async fn go(
    State(state): State<AppState>,
    AdminProfile { member, profile }: AdminProfile,
) -> Result<Response, AppError> {
    let started = member.session.oauth_url().await?.filter(|(p, _)| {
        p.profile_id == profile.id.0
            && p.tenant_id == member.tenant.id
            && p.user_id == member.user.id
            && p.expires_at >= state.clock.now()
    });
    let Some((_, url)) = started else {
        member.session.flash_error(MSG_CONNECT_STALE).await?;
        return Ok(to_profile(&member, profile.id));
    };
    let page = member.chrome("Connect a Google account", "smtp").await?;
    render(&GoPage { page, url, name: profile.settings.name.to_string() })
}

#[derive(Template)]
#[template(path = "smtp/oauth_go.html")]
struct GoPage {
    page: crate::web::Chrome,
    url: String,
    name: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct Callback {
    state: String,
    code: String,
    error: String,
}

/// GET `/t/{slug}/smtp/oauth/google`: Google's answer.
pub async fn callback(
    State(state): State<AppState>,
    Admin(member): Admin,
    Query(answer): Query<Callback>,
) -> Result<Response, AppError> {
    let now = state.clock.now();
    // Taken out first: whatever happens next, this authorization is used up.
    let started = member.session.take_oauth().await?;
    let matched = started.filter(|s| {
        let p = &s.pending;
        bool::from(sha256_hex(&answer.state).as_bytes().ct_eq(p.state_hash.as_bytes()))
            && p.tenant_id == member.tenant.id
            && p.user_id == member.user.id
            && p.expires_at >= now
    });
    let Some(started) = matched else {
        member.session.flash_error(MSG_CONNECT_STALE).await?;
        return Ok(Redirect::to(&format!("/t/{}/smtp", member.tenant.slug)).into_response());
    };
    let id = ProfileId(started.pending.profile_id);
    let profile = profiles::get(&state.db, member.tenant.id, id).await?.ok_or(AppError::NotFound)?;
    if !answer.error.is_empty() {
        let why = match answer.error.as_str() {
            "access_denied" => "Google says the consent was not given (access_denied).".to_owned(),
            other => format!(
                "Google answered {}.",
                other.chars().filter(|c| c.is_ascii_graphic()).take(60).collect::<String>()
            ),
        };
        member.session.flash_error(format!("The account was not connected. {why}")).await?;
        return Ok(to_profile(&member, id));
    }
    let app = profile.settings.transport.oauth().filter(|a| a.provider.kind() == OAuthProviderKind::Google);
    let (Some(app), true) = (app, profile.settings.transport.scope().fingerprint() == started.pending.scope) else {
        member.session.flash_error(MSG_CONNECT_CHANGED).await?;
        return Ok(to_profile(&member, id));
    };
    let crate::domain::smtp::Transport::Generic(crate::domain::smtp::GenericSmtp { auth: Some(auth), .. }) =
        &profile.settings.transport
    else {
        return Err(AppError::NotFound);
    };
    let client_secret = state
        .secrets
        .open_secret(&auth.password)
        .map_err(|_| AppError::Internal(anyhow::anyhow!("the client secret of profile {} cannot be opened", id.0)))?;
    let exchanged = state
        .mailer
        .oauth
        .google_code(
            &state.mailer.http,
            app.client_id.as_str(),
            &client_secret,
            &answer.code,
            &started.verifier,
            &redirect_uri(&state.config, &member.tenant.slug),
        )
        .await;
    let (refresh, fresh) = match exchanged {
        Ok(got) => got,
        Err(e) => {
            member.session.flash_error(format!("The account was not connected. {}", e.message)).await?;
            return Ok(to_profile(&member, id));
        }
    };
    let account = fresh.id_token_email.clone().unwrap_or_else(|| auth.username.as_str().to_owned());
    let sealed = state.secrets.seal_secret(&refresh);
    let mut tx = store::begin_write(&state.db).await?;
    if !profiles::connect_account(&mut tx, member.tenant.id, id, &sealed, &account, now).await? {
        return Err(AppError::NotFound);
    }
    let detail = format!("{}: connected the Google account {account}", profile.settings.name);
    audit::record(&mut tx, member.tenant.id, member.actor(), audit::AuditAction::ProfileUpdated, &detail, now).await?;
    tx.commit().await?;
    // Gmail lets an account sign in to SMTP only as itself: another account connects, but
    // every message would then be refused.
    let user = auth.username.as_str();
    if account.eq_ignore_ascii_case(user) {
        member.session.flash_ok(format!("Connected the Google account {account}.")).await?;
    } else {
        member.session.flash_error(msg_other_account(&account, user)).await?;
    }
    Ok(to_profile(&member, id))
}

/// A Google account connected that is not the profile's SMTP account.
pub fn msg_other_account(account: &str, user: &str) -> String {
    format!(
        "Connected the Google account {account}, but the SMTP account address is {user}. Google lets an account send \
         only as itself: connect {user} instead, or change the SMTP account address to {account}."
    )
}

/// POST `/t/{slug}/smtp/{id}/oauth/disconnect`: forgets the connected account (and asks
/// Google to revoke its refresh token).
pub async fn disconnect(
    State(state): State<AppState>,
    AdminProfile { member, profile }: AdminProfile,
) -> Result<Response, AppError> {
    let now = state.clock.now();
    let Some(connected) = &profile.connected else {
        member.session.flash_error("No account is connected to this profile.").await?;
        return Ok(to_profile(&member, profile.id));
    };
    let mut tx = store::begin_write(&state.db).await?;
    profiles::disconnect_account(&mut tx, member.tenant.id, profile.id).await?;
    let account = &connected.connection.account;
    let detail = format!("{}: disconnected the Google account {account}", profile.settings.name);
    audit::record(&mut tx, member.tenant.id, member.actor(), audit::AuditAction::ProfileUpdated, &detail, now).await?;
    tx.commit().await?;
    if let Ok(refresh) = state.secrets.open_secret(&connected.refresh_token) {
        state.mailer.oauth.google_revoke(&state.mailer.http, &refresh).await;
    }
    member.session.flash_ok(format!("Disconnected the Google account {account}.")).await?;
    Ok(to_profile(&member, profile.id))
}
