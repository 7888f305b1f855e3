//! CSRF: every state-changing request carries the session's token, in the `csrf_token`
//! form field or the `X-CSRF-Token` header. Checked in one layer for the whole app, so
//! no handler can forget it; a missing or wrong token is a 403 before any handler runs.

use axum::body::{to_bytes, Body};
use axum::extract::Request;
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq;
use tower_sessions::Session;

use crate::error::AppError;

/// Largest form body accepted (forms here are a few KiB; a CA bundle is the biggest).
pub const MAX_FORM_BYTES: usize = 256 * 1024;
pub const FIELD: &str = "csrf_token";
pub const HEADER: &str = "x-csrf-token";

/// The middleware.
pub async fn require_token(request: Request, next: Next) -> Response {
    if matches!(*request.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        return next.run(request).await;
    }
    match check(request).await {
        Ok(request) => next.run(request).await,
        Err(err) => err.into_response(),
    }
}

async fn check(request: Request) -> Result<Request, AppError> {
    let Some(session) = request.extensions().get::<Session>().cloned() else {
        return Err(AppError::Csrf);
    };
    let expected = session.get::<String>("csrf").await?.ok_or(AppError::Csrf)?;
    let (parts, body) = request.into_parts();
    let bytes = to_bytes(body, MAX_FORM_BYTES).await.map_err(|_| AppError::PayloadTooLarge)?;
    let sent = match parts.headers.get(HEADER).and_then(|v| v.to_str().ok()) {
        Some(header) => Some(header.to_owned()),
        None => form_field(&bytes, FIELD),
    };
    let ok = sent.is_some_and(|s| bool::from(s.as_bytes().ct_eq(expected.as_bytes())));
    if !ok {
        return Err(AppError::Csrf);
    }
    Ok(Request::from_parts(parts, Body::from(bytes)))
}

fn form_field(body: &[u8], name: &str) -> Option<String> {
    url::form_urlencoded::parse(body).find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}
