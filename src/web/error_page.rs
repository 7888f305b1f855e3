//! The page of an [`AppError`]: a plain heading and sentence, and for an internal error
//! the reference that the log line carries.

use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};

use super::Chrome;
use crate::error::AppError;

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    page: Chrome,
    heading: &'a str,
    text: &'a str,
    reference: Option<String>,
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let (status, heading, text, reference) = match &self {
            AppError::SignIn(login) => return Redirect::to(login).into_response(),
            AppError::NotFound => (
                StatusCode::NOT_FOUND,
                "Page not found",
                "There is nothing at this address. Check the link, or go back and try again.",
                None,
            ),
            AppError::Forbidden => (
                StatusCode::FORBIDDEN,
                "Not allowed",
                "Your role does not allow this. Ask an administrator of your organization if you need it.",
                None,
            ),
            AppError::Csrf => (
                StatusCode::FORBIDDEN,
                "Form expired",
                "This form has expired or did not come from relaydesk. Go back, reload the page and try again.",
                None,
            ),
            AppError::PayloadTooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "Too much data",
                "What you sent is larger than relaydesk accepts. Shorten it and try again.",
                None,
            ),
            AppError::Refused(status, text) => (*status, "Not possible", *text, None),
            AppError::Internal(err) => {
                let reference = crate::auth::random_token()[..10].to_owned();
                tracing::error!(reference = %reference, error = %format!("{err:#}"), "request failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Something went wrong",
                    "relaydesk could not finish this request. Nothing you typed is lost: go back and try again. \
                     If it happens again, give your operator this reference.",
                    Some(reference),
                )
            }
        };
        let page = ErrorPage { page: Chrome { nav: "error", ..Chrome::bare(heading) }, heading, text, reference };
        match page.render() {
            Ok(html) => (status, Html(html)).into_response(),
            Err(_) => (status, text.to_owned()).into_response(),
        }
    }
}
