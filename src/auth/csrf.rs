//! CSRF: every state-changing request carries a token, in the `csrf_token` form field or
//! the `X-CSRF-Token` header. Checked in one layer for the whole app, so no handler can
//! forget it; a missing or wrong token is a 403 before any handler runs.
//!
//! Which token a request must carry depends on its session:
//!
//! - A session that holds a token (every signed-in session: signing in makes a new one)
//!   must send that token, and only it.
//! - Anyone else (a visitor: no session, or one that holds only a message to show) sends
//!   the token of a *signed double-submit cookie*, so that opening a page a visitor can
//!   see (sign-in, forgot password, reset, join, first-run setup) writes nothing to the
//!   database. The browser keeps a random value in an HttpOnly, SameSite=Lax cookie,
//!   signed by the server; each page's form carries a token that is the server's
//!   signature over that value and the time the page was made. A token is accepted only
//!   with the cookie it was made for, while its signature holds and for as long as a
//!   session may last. Another site can neither read the cookie nor sign a token for it;
//!   one visitor's token does not work with another's cookie. Over https the cookie is
//!   named `__Host-…` (Secure, for this host only), so no other host of the domain can
//!   plant one of its own.
//!
//! The signatures are HMAC-SHA256 under a key derived from the app's secret key
//! ([`SecretBox::sign`]): nothing more to store or back up. A new secret key (`key
//! rotate`) makes forms open at that moment expire, as a restart of the sessions would.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use axum::body::{to_bytes, Body};
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use subtle::ConstantTimeEq;
use tower_sessions::cookie::{Cookie, SameSite};
use tower_sessions::Session;

use crate::error::AppError;
use crate::secret::SecretBox;
use crate::state::AppState;

/// Largest form body accepted (forms here are a few KiB; a CA bundle is the biggest).
pub const MAX_FORM_BYTES: usize = 256 * 1024;
pub const FIELD: &str = "csrf_token";
pub const HEADER: &str = "x-csrf-token";
/// The visitor's CSRF cookie over plain http.
pub const COOKIE: &str = "relaydesk_csrf";
/// The visitor's CSRF cookie when the public URL is https: the `__Host-` prefix makes
/// browsers refuse it unless it is Secure, for `/` and set by this host itself.
pub const HOST_COOKIE: &str = "__Host-relaydesk_csrf";

const SIGNED_COOKIE: &str = "csrf cookie";
const SIGNED_FORM: &str = "csrf form token";
/// How far ahead of the server's clock a token's time may be (the clock stepped back).
const CLOCK_SLACK: i64 = 5 * 60;

/// The visitor's CSRF cookie as one request sees it: read from the request, or made for
/// it. Pages take their token from it ([`VisitorCsrf::token`]); the cookie is sent back
/// only when it is new and a page used it.
#[derive(Clone)]
pub struct VisitorCsrf(Arc<Visitor>);

struct Visitor {
    secrets: SecretBox,
    /// The browser's random value.
    nonce: String,
    /// Made for this request (no valid cookie came with it).
    fresh: bool,
    /// A page took a token: a fresh cookie must be sent.
    used: AtomicBool,
    now: i64,
    /// How long a form's token is accepted, in seconds.
    lifetime: i64,
    https: bool,
}

impl VisitorCsrf {
    fn for_request(state: &AppState, headers: &HeaderMap) -> VisitorCsrf {
        let https = state.config.is_https();
        let secrets = state.secrets.clone();
        let sent = cookie_values(headers, cookie_name(https)).find_map(|value| {
            let (nonce, signature) = value.split_once('.')?;
            let signature = URL_SAFE_NO_PAD.decode(signature).ok()?;
            secrets.verify(SIGNED_COOKIE, &[nonce.as_bytes()], &signature).then(|| nonce.to_owned())
        });
        let (nonce, fresh) = match sent {
            Some(nonce) => (nonce, false),
            None => (super::random_token(), true),
        };
        VisitorCsrf(Arc::new(Visitor {
            secrets,
            nonce,
            fresh,
            used: AtomicBool::new(false),
            now: state.clock.now(),
            lifetime: i64::try_from(state.config.session_absolute.as_secs()).unwrap_or(i64::MAX),
            https,
        }))
    }

    /// A token for a form of this page: the time and the signature of this browser's
    /// value with it.
    pub fn token(&self) -> String {
        let v = &self.0;
        v.used.store(true, Ordering::Relaxed);
        let signature = v.secrets.sign(SIGNED_FORM, &[v.nonce.as_bytes(), v.now.to_string().as_bytes()]);
        format!("{}.{}", v.now, URL_SAFE_NO_PAD.encode(signature))
    }

    /// Whether `sent` is a token made for the cookie this request carried, and not too old.
    fn accepts(&self, sent: &str) -> bool {
        let v = &self.0;
        if v.fresh {
            return false;
        }
        let Some((at, signature)) = sent.split_once('.') else { return false };
        let (Ok(made), Ok(signature)) = (at.parse::<i64>(), URL_SAFE_NO_PAD.decode(signature)) else {
            return false;
        };
        let age = v.now.saturating_sub(made);
        // The time is checked against the signature's: the canonical digits only.
        made.to_string() == at
            && (-CLOCK_SLACK..=v.lifetime).contains(&age)
            && v.secrets.verify(SIGNED_FORM, &[v.nonce.as_bytes(), at.as_bytes()], &signature)
    }

    /// The `Set-Cookie` of a new cookie that a page used. No Max-Age: it goes when the
    /// browser closes; the tokens carry their own age.
    fn set_cookie(&self) -> Option<HeaderValue> {
        let v = &self.0;
        if !v.fresh || !v.used.load(Ordering::Relaxed) {
            return None;
        }
        let signature = v.secrets.sign(SIGNED_COOKIE, &[v.nonce.as_bytes()]);
        let value = format!("{}.{}", v.nonce, URL_SAFE_NO_PAD.encode(signature));
        let cookie = Cookie::build((cookie_name(v.https), value))
            .path("/")
            .http_only(true)
            .same_site(SameSite::Lax)
            .secure(v.https)
            .build();
        HeaderValue::from_str(&cookie.to_string()).ok()
    }
}

fn cookie_name(https: bool) -> &'static str {
    if https {
        HOST_COOKIE
    } else {
        COOKIE
    }
}

/// The values of every cookie called `name` in the request's `Cookie` headers.
fn cookie_values<'a>(headers: &'a HeaderMap, name: &'a str) -> impl Iterator<Item = String> + 'a {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|h| h.to_str().ok())
        .flat_map(|h| Cookie::split_parse(h).filter_map(Result::ok))
        .filter(move |c| c.name() == name)
        .map(|c| c.value().to_owned())
}

/// The middleware: makes the visitor's cookie available to the pages, and checks the
/// token of every request that may change something.
pub async fn require_token(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let visitor = VisitorCsrf::for_request(&state, request.headers());
    request.extensions_mut().insert(visitor.clone());
    let mut response = if matches!(*request.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        next.run(request).await
    } else {
        match check(request, &visitor).await {
            Ok(request) => next.run(request).await,
            Err(err) => return err.into_response(),
        }
    };
    if let Some(cookie) = visitor.set_cookie() {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

async fn check(request: Request, visitor: &VisitorCsrf) -> Result<Request, AppError> {
    let Some(session) = request.extensions().get::<Session>().cloned() else {
        return Err(AppError::Csrf);
    };
    // Read only: a request without a session cookie loads nothing.
    let expected = session.get::<String>("csrf").await?;
    let (parts, body) = request.into_parts();
    let bytes = to_bytes(body, MAX_FORM_BYTES).await.map_err(|_| AppError::PayloadTooLarge)?;
    let sent = match parts.headers.get(HEADER).and_then(|v| v.to_str().ok()) {
        Some(header) => Some(header.to_owned()),
        None => form_field(&bytes, FIELD),
    };
    let Some(sent) = sent else { return Err(AppError::Csrf) };
    let ok = match expected {
        // A session's own token, and only it: a signed-in page never takes a visitor's.
        Some(expected) => bool::from(sent.as_bytes().ct_eq(expected.as_bytes())),
        None => visitor.accepts(&sent),
    };
    if !ok {
        return Err(AppError::Csrf);
    }
    Ok(Request::from_parts(parts, Body::from(bytes)))
}

fn form_field(body: &[u8], name: &str) -> Option<String> {
    url::form_urlencoded::parse(body).find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn visitor(secrets: &SecretBox, nonce: &str, fresh: bool, now: i64) -> VisitorCsrf {
        VisitorCsrf(Arc::new(Visitor {
            secrets: secrets.clone(),
            nonce: nonce.to_owned(),
            fresh,
            used: AtomicBool::new(false),
            now,
            lifetime: 12 * 60 * 60,
            https: false,
        }))
    }

    #[test]
    fn a_token_works_only_with_its_cookie_its_key_and_while_young() {
        let key = SecretBox::new([7; 32]);
        let token = visitor(&key, "mine", false, 1_000_000).token();
        assert!(visitor(&key, "mine", false, 1_000_000).accepts(&token));
        assert!(visitor(&key, "mine", false, 1_000_000 + 12 * 60 * 60).accepts(&token), "at the limit");
        assert!(!visitor(&key, "mine", false, 1_000_001 + 12 * 60 * 60).accepts(&token), "past it");
        assert!(!visitor(&key, "theirs", false, 1_000_000).accepts(&token), "another browser's value");
        assert!(!visitor(&SecretBox::new([8; 32]), "mine", false, 1_000_000).accepts(&token), "another key");
        assert!(!visitor(&key, "mine", true, 1_000_000).accepts(&token), "no cookie came");
        let (_, signature) = token.split_once('.').unwrap();
        for forged in ["", ".", "1000000", "1000000.", "01000000.x", &format!("1000001.{signature}"), "x.y"] {
            assert!(!visitor(&key, "mine", false, 1_000_000).accepts(forged), "{forged}");
        }
        assert!(!visitor(&key, "mine", false, 1_000_000).accepts(&format!("01000000.{signature}")));
    }

    #[test]
    fn the_cookie_is_sent_only_when_new_and_used() {
        let key = SecretBox::new([7; 32]);
        let old = visitor(&key, "mine", false, 1);
        old.token();
        assert!(old.set_cookie().is_none());
        let unused = visitor(&key, "mine", true, 1);
        assert!(unused.set_cookie().is_none());
        unused.token();
        let cookie = unused.set_cookie().unwrap();
        let cookie = cookie.to_str().unwrap();
        assert!(cookie.starts_with("relaydesk_csrf=mine."), "{cookie}");
        for attribute in ["HttpOnly", "SameSite=Lax", "Path=/"] {
            assert!(cookie.contains(attribute), "{cookie}");
        }
        assert!(!cookie.contains("Secure"), "{cookie}");
    }
}
