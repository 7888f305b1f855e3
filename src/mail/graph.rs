//! Sending through Microsoft Graph: a client-credentials token from the tenant's token
//! endpoint, then `sendMail` for the User Name mailbox. A 401/403 from either is shown
//! as a rejected login with Microsoft's error code and description (SPEC §2).

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::json;
use url::Url;

use super::error::SendError;
use super::message::{header_safe, Identity, Outgoing};
use crate::domain::smtp::GraphApi;

/// An MS Graph profile's settings with its secrets opened.
pub type GraphSettings = GraphApi<SecretString>;

/// Where Microsoft's two services are (configurable so tests can stand in for them).
#[derive(Debug, Clone)]
pub struct GraphEndpoints {
    pub login: Url,
    pub api: Url,
}

#[derive(Deserialize)]
struct TokenOk {
    access_token: String,
}

#[derive(Deserialize, Default)]
struct TokenError {
    #[serde(default)]
    error: String,
    #[serde(default)]
    error_description: String,
}

#[derive(Deserialize, Default)]
struct GraphErrorBody {
    #[serde(default)]
    error: GraphErrorInner,
}

#[derive(Deserialize, Default)]
struct GraphErrorInner {
    #[serde(default)]
    code: String,
    #[serde(default)]
    message: String,
}

/// `base` with `segments` appended. The egress policy: the bases are the operator's own
/// settings (`RELAYDESK_GRAPH_LOGIN_URL`, `RELAYDESK_GRAPH_API_URL`), not an organization's,
/// so they are not checked against an organization's grant; what an organization typed
/// (tenant id, user name) is only ever a segment here, which `url` percent-encodes (`/`
/// included) and skips when it is `.` or `..`, so it can change neither the host nor the
/// path above it. The HTTP client follows no redirects (see `app.rs`). `what` names the
/// setting in the message when it cannot carry a path. OAuth's Microsoft token endpoint is
/// built here too.
pub(super) fn endpoint(base: &Url, segments: &[&str], what: &str) -> Result<Url, SendError> {
    let mut url = base.clone();
    url.path_segments_mut()
        .map_err(|_| SendError::permanent(format!("The {what} address in relaydesk's configuration is not usable.")))?
        .pop_if_empty()
        .extend(segments);
    Ok(url)
}

fn network(what: &str, e: &reqwest::Error) -> SendError {
    let why = if e.is_timeout() {
        "no answer in time".to_owned()
    } else if e.is_connect() {
        "could not connect".to_owned()
    } else {
        "the connection failed".to_owned()
    };
    SendError::transient(format!("Could not reach {what}: {why}. Check that relaydesk can reach the internet."))
}

/// Sends `mail` as `identity` through Graph.
pub async fn send(
    http: &reqwest::Client,
    endpoints: &GraphEndpoints,
    settings: &GraphSettings,
    identity: &Identity,
    mail: &Outgoing,
    text_and_html: (String, String),
) -> Result<(), SendError> {
    header_safe("subject", &mail.subject)?;
    header_safe("recipient", &mail.to)?;
    let token_url =
        endpoint(&endpoints.login, &[settings.tenant_id.as_str(), "oauth2", "v2.0", "token"], "Microsoft sign-in")?;
    let response = http
        .post(token_url)
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", settings.client_id.as_str()),
            ("client_secret", settings.client_secret.expose_secret()),
            ("scope", "https://graph.microsoft.com/.default"),
        ])
        .send()
        .await
        .map_err(|e| network("Microsoft's sign-in service", &e))?;
    let status = response.status();
    if !status.is_success() {
        let body: TokenError = response.json().await.unwrap_or_default();
        let detail = format!("{}: {}", body.error, first_line(&body.error_description));
        return Err(if matches!(status.as_u16(), 400 | 401 | 403) {
            SendError::permanent(format!(
                "Microsoft rejected the login ({detail}). Check the Tenant Id, Client Id and Client Secret of the Azure app."
            ))
        } else {
            SendError::transient(format!("Microsoft's sign-in service answered {status} ({detail}). Try again later."))
        });
    }
    let token: TokenOk = response
        .json()
        .await
        .map_err(|_| SendError::transient("Microsoft's sign-in service sent an answer relaydesk could not read."))?;

    let (_, html) = text_and_html;
    let mut message = json!({
        "subject": mail.subject,
        "body": { "contentType": "HTML", "content": html },
        "toRecipients": [ { "emailAddress": { "address": mail.to } } ],
        "from": { "emailAddress": { "address": identity.from_address, "name": identity.from_name } },
        "internetMessageId": mail.message_id,
    });
    if let Some(reply_to) = &identity.reply_to {
        message["replyTo"] = json!([ { "emailAddress": { "address": reply_to } } ]);
    }
    let send_url =
        endpoint(&endpoints.api, &["v1.0", "users", settings.username.as_str(), "sendMail"], "Microsoft Graph")?;
    let response = http
        .post(send_url)
        .bearer_auth(token.access_token)
        .json(&json!({ "message": message, "saveToSentItems": false }))
        .send()
        .await
        .map_err(|e| network("Microsoft Graph", &e))?;
    let status = response.status();
    if status.is_success() {
        return Ok(());
    }
    let body: GraphErrorBody = response.json().await.unwrap_or_default();
    let detail = format!("{}: {}", body.error.code, first_line(&body.error.message));
    Err(match status.as_u16() {
        401 | 403 => SendError::permanent(format!(
            "Microsoft rejected the login ({detail}). Check that the Azure app has the Mail.Send application \
             permission and may send as {}.",
            settings.username.as_str()
        )),
        429 | 500..=599 => {
            SendError::transient(format!("Microsoft Graph answered {status} ({detail}). Try again later."))
        }
        _ => SendError::permanent(format!("Microsoft Graph refused the message ({detail}).")),
    })
}

/// Microsoft's descriptions carry trace ids on later lines (other providers' too); the
/// first line is the sentence.
pub(super) fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or_default().trim()
}
