//! One error type for every handler. Internals are logged with a reference and never
//! shown: the person sees a plain sentence and that reference (the page is rendered in
//! `web::error_page`).

use axum::http::StatusCode;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("not found")]
    NotFound,
    #[error("forbidden")]
    Forbidden,
    #[error("missing or wrong CSRF token")]
    Csrf,
    #[error("request body too large")]
    PayloadTooLarge,
    /// Not signed in (or not into this tenant): go to this login URL.
    #[error("sign-in required")]
    SignIn(String),
    /// A refusal to show as it is, with its status.
    #[error("{1}")]
    Refused(StatusCode, &'static str),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<sqlx::Error> for AppError {
    fn from(e: sqlx::Error) -> Self {
        AppError::Internal(e.into())
    }
}

impl From<tower_sessions::session::Error> for AppError {
    fn from(e: tower_sessions::session::Error) -> Self {
        AppError::Internal(e.into())
    }
}

impl From<askama::Error> for AppError {
    fn from(e: askama::Error) -> Self {
        AppError::Internal(e.into())
    }
}
