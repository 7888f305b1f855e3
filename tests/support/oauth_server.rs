//! A stand-in for an OAuth 2.0 authorization server (Microsoft's and Google's, and any
//! other provider's), on a loopback port:
//!
//! - `GET /authorize`: the consent page; it answers at once by sending the browser back to
//!   `redirect_uri` with a code and the `state` it was given (or `error=access_denied`);
//! - `POST /token` and `POST /{tenant}/oauth2/v2.0/token`: the `client_credentials`,
//!   `authorization_code` (PKCE S256 checked) and `refresh_token` grants;
//! - `POST /revoke`: forgets a refresh token.
//!
//! It records every token request and knows every access token it issued, so the test
//! SMTP server can check a bearer token with [`OAuthServer::bearer_check`].

#![allow(dead_code)]

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};

use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::json;
use sha2::{Digest, Sha256};

pub const CLIENT_ID: &str = "0f8fad5b-d9cb-469f-a165-70867728950e";
pub const GOOGLE_CLIENT_ID: &str = "1234-relaydesk.apps.googleusercontent.com";
pub const CLIENT_SECRET: &str = "app~secret~value";
/// The account the consent page signs in as.
pub const GOOGLE_ACCOUNT: &str = "mailer@acme.test";

/// What the server does; change it while a test runs through `script()`.
#[derive(Debug, Clone, Default)]
pub struct Script {
    /// Refuse every token request with this status and `error`, `error_description`.
    pub refuse: Option<(u16, String, String)>,
    /// The consent page answers `error=access_denied`.
    pub deny: bool,
    /// Lifetime of the access tokens it issues, in seconds (default 3600).
    pub expires_in: Option<i64>,
}

/// One token request as received.
#[derive(Debug, Clone)]
pub struct TokenRequest {
    /// `/token`, or the Microsoft path with its tenant.
    pub path: String,
    pub form: HashMap<String, String>,
}

#[derive(Default)]
struct Inner {
    script: Script,
    requests: Vec<TokenRequest>,
    /// Access tokens that are good, and whom for.
    access: HashSet<String>,
    /// Refresh tokens that are good.
    refresh: HashSet<String>,
    /// Codes not used yet: code -> (challenge, redirect_uri).
    codes: HashMap<String, (String, String)>,
    /// Every `/authorize` query.
    authorizations: Vec<HashMap<String, String>>,
    revoked: Vec<String>,
    issued: usize,
}

/// The running stand-in.
#[derive(Clone)]
pub struct OAuthServer {
    /// `http://127.0.0.1:{port}`.
    pub base: String,
    inner: Arc<Mutex<Inner>>,
}

impl OAuthServer {
    pub async fn start() -> OAuthServer {
        let inner = Arc::new(Mutex::new(Inner::default()));
        let app = Router::new()
            .route("/authorize", get(authorize))
            .route("/token", post(token_plain))
            .route("/{tenant}/oauth2/v2.0/token", post(token_microsoft))
            .route("/revoke", post(revoke))
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        OAuthServer { base, inner }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap()
    }

    pub fn url(&self, path: &str) -> url::Url {
        format!("{}{path}", self.base).parse().unwrap()
    }

    /// Points the app's Microsoft and Google endpoints here.
    pub fn configure(&self, config: &mut relaydesk::Config) {
        config.graph_login_url = self.url("/");
        config.google_auth_url = self.url("/authorize");
        config.google_token_url = self.url("/token");
        config.google_revoke_url = self.url("/revoke");
    }

    pub fn script(&self) -> Script {
        self.lock().script.clone()
    }

    pub fn set_script(&self, script: Script) {
        self.lock().script = script;
    }

    /// Every token request so far.
    pub fn requests(&self) -> Vec<TokenRequest> {
        self.lock().requests.clone()
    }

    /// Every `/authorize` query so far.
    pub fn authorizations(&self) -> Vec<HashMap<String, String>> {
        self.lock().authorizations.clone()
    }

    /// Refresh tokens revoked through `/revoke`.
    pub fn revoked(&self) -> Vec<String> {
        self.lock().revoked.clone()
    }

    /// The refresh tokens that are good now.
    pub fn refresh_tokens(&self) -> Vec<String> {
        self.lock().refresh.iter().cloned().collect()
    }

    /// Makes every access token issued so far invalid (as a provider does when consent or
    /// a permission is taken back); the refresh tokens stay good.
    pub fn expire_access_tokens(&self) {
        self.lock().access.clear();
    }

    /// Makes every refresh token invalid (consent revoked, or expired).
    pub fn revoke_refresh_tokens(&self) {
        self.lock().refresh.clear();
    }

    /// For the test SMTP server: a good access token, for any user.
    pub fn bearer_check(&self) -> crate::smtp_server::BearerCheck {
        let inner = self.inner.clone();
        Arc::new(move |_user: &str, token: &str| inner.lock().unwrap().access.contains(token))
    }
}

fn issue(inner: &mut Inner) -> serde_json::Value {
    inner.issued += 1;
    let access = format!("access-{}", inner.issued);
    inner.access.insert(access.clone());
    json!({ "access_token": access, "token_type": "Bearer", "expires_in": inner.script.expires_in.unwrap_or(3600) })
}

fn refusal(status: u16, error: &str, description: &str) -> Response {
    let status = StatusCode::from_u16(status).unwrap();
    (status, Json(json!({ "error": error, "error_description": description }))).into_response()
}

async fn authorize(State(inner): State<Arc<Mutex<Inner>>>, Query(query): Query<HashMap<String, String>>) -> Response {
    let mut inner = inner.lock().unwrap();
    inner.authorizations.push(query.clone());
    let redirect = query.get("redirect_uri").cloned().unwrap_or_default();
    let state = query.get("state").cloned().unwrap_or_default();
    let mut url: url::Url = match redirect.parse() {
        Ok(url) => url,
        Err(_) => return (StatusCode::BAD_REQUEST, "redirect_uri").into_response(),
    };
    if inner.script.deny {
        url.query_pairs_mut().append_pair("error", "access_denied").append_pair("state", &state);
        return Redirect::to(url.as_str()).into_response();
    }
    inner.issued += 1;
    let code = format!("code-{}", inner.issued);
    let challenge = query.get("code_challenge").cloned().unwrap_or_default();
    inner.codes.insert(code.clone(), (challenge, redirect));
    url.query_pairs_mut().append_pair("code", &code).append_pair("state", &state);
    Redirect::to(url.as_str()).into_response()
}

async fn token_plain(State(inner): State<Arc<Mutex<Inner>>>, Form(form): Form<HashMap<String, String>>) -> Response {
    token(inner, "/token".to_owned(), form)
}

async fn token_microsoft(
    State(inner): State<Arc<Mutex<Inner>>>,
    Path(tenant): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    token(inner, format!("/{tenant}/oauth2/v2.0/token"), form)
}

fn token(inner: Arc<Mutex<Inner>>, path: String, form: HashMap<String, String>) -> Response {
    let mut inner = inner.lock().unwrap();
    inner.requests.push(TokenRequest { path, form: form.clone() });
    if let Some((status, error, description)) = inner.script.refuse.clone() {
        return refusal(status, &error, &description);
    }
    let field = |name: &str| form.get(name).map(String::as_str).unwrap_or_default();
    if field("client_secret") != CLIENT_SECRET {
        return refusal(401, "invalid_client", "AADSTS7000215: Invalid client secret provided.\r\nTrace ID: 1234");
    }
    match field("grant_type") {
        "client_credentials" => Json(issue(&mut inner)).into_response(),
        "authorization_code" => {
            let Some((challenge, redirect)) = inner.codes.remove(field("code")) else {
                return refusal(400, "invalid_grant", "Malformed auth code.");
            };
            let computed = URL_SAFE_NO_PAD.encode(Sha256::digest(field("code_verifier").as_bytes()));
            if computed != challenge || redirect != field("redirect_uri") {
                return refusal(400, "invalid_grant", "Bad code verifier or redirect URI.");
            }
            inner.issued += 1;
            let refresh = format!("refresh-{}", inner.issued);
            inner.refresh.insert(refresh.clone());
            let mut answer = issue(&mut inner);
            answer["refresh_token"] = json!(refresh);
            let claims = URL_SAFE_NO_PAD.encode(json!({ "email": GOOGLE_ACCOUNT, "sub": "42" }).to_string());
            answer["id_token"] = json!(format!("eyJhbGciOiJSUzI1NiJ9.{claims}.c2lnbmF0dXJl"));
            Json(answer).into_response()
        }
        "refresh_token" => {
            if !inner.refresh.contains(field("refresh_token")) {
                return refusal(400, "invalid_grant", "Token has been expired or revoked.");
            }
            Json(issue(&mut inner)).into_response()
        }
        _ => refusal(400, "unsupported_grant_type", "Unknown grant."),
    }
}

async fn revoke(State(inner): State<Arc<Mutex<Inner>>>, Form(form): Form<HashMap<String, String>>) -> StatusCode {
    let mut inner = inner.lock().unwrap();
    let token = form.get("token").cloned().unwrap_or_default();
    inner.refresh.remove(&token);
    inner.revoked.push(token);
    StatusCode::OK
}
