//! The page of an [`AppError`]: a plain heading and sentence, and for an internal error
//! the reference that the log line carries.
//!
//! An error knows nothing of who asked, so it is first rendered bare, and marked with an
//! [`ErrorInfo`]; [`with_navigation`], a layer around every page, then renders it again
//! for whoever is asking: a signed-in member gets their organization's navigation and a
//! way back to its dashboard; a visitor to an organization's address, its sign-in.

use askama::Template;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};
use tower_sessions::Session;

use super::Chrome;
use crate::app::AppState;
use crate::auth::csrf::VisitorCsrf;
use crate::auth::extract::session_member;
use crate::auth::session::WebSession;
use crate::error::AppError;
use crate::store::tenants;

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    page: Chrome,
    heading: &'a str,
    text: &'a str,
    reference: Option<String>,
    /// Where to go from here, and the link's words.
    back: (String, String),
}

/// What an error page said, kept on its response so that [`with_navigation`] can render
/// it again for the person asking.
#[derive(Debug, Clone, Copy)]
pub struct ErrorInfo {
    status: StatusCode,
    heading: &'static str,
    text: &'static str,
}

fn start_page() -> (String, String) {
    ("/".to_owned(), "Go to the start page".to_owned())
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
        let info = reference.is_none().then_some(ErrorInfo { status, heading, text });
        let page = ErrorPage {
            page: Chrome { nav: "error", ..Chrome::bare(heading) },
            heading,
            text,
            reference,
            back: start_page(),
        };
        let mut response = match page.render() {
            Ok(html) => (status, Html(html)).into_response(),
            Err(_) => (status, text.to_owned()).into_response(),
        };
        // An internal error is left as it is: the database may be what failed.
        if let Some(info) = info {
            response.extensions_mut().insert(info);
        }
        response
    }
}

/// The layer that renders an error page again for the person asking (see the module's
/// comment). Any failure on the way keeps the bare page.
pub async fn with_navigation(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let path = request.uri().path().to_owned();
    let session = request.extensions().get::<Session>().cloned();
    let visitor = request.extensions().get::<VisitorCsrf>().cloned();
    let response = next.run(request).await;
    let Some(info) = response.extensions().get::<ErrorInfo>().copied() else {
        return response;
    };
    match for_the_asker(&state, session, visitor, &path, info).await {
        Ok(page) => page,
        Err(_) => response,
    }
}

async fn for_the_asker(
    state: &AppState,
    session: Option<Session>,
    visitor: Option<VisitorCsrf>,
    path: &str,
    info: ErrorInfo,
) -> Result<Response, AppError> {
    let ErrorInfo { status, heading, text } = info;
    let session = session.map(|s| WebSession::new(s, state.secrets.clone(), visitor));
    let member = match &session {
        Some(session) => session_member(session.clone(), state).await?,
        None => None,
    };
    let (page, back) = match (member, session) {
        (Some(member), _) => {
            let back =
                (format!("/t/{}/", member.tenant.slug), format!("Back to the dashboard of {}", member.tenant.name));
            (member.chrome(heading, "error").await?, back)
        }
        (None, session) => {
            // A visitor at an organization's address: back to its sign-in.
            let slug = path.strip_prefix("/t/").and_then(|rest| rest.split('/').next()).unwrap_or_default();
            let tenant = if slug.is_empty() { None } else { tenants::by_slug(&state.db, slug).await? };
            match (tenant.filter(|t| !t.suspended), session) {
                (Some(tenant), Some(session)) => {
                    let back = (format!("/t/{}/login", tenant.slug), format!("Sign in to {}", tenant.name));
                    (Chrome::visitor(&session, &tenant, heading, "error").await?, back)
                }
                _ => (Chrome { nav: "error", ..Chrome::bare(heading) }, start_page()),
            }
        }
    };
    let html = ErrorPage { page, heading, text, reference: None, back }.render()?;
    Ok((status, Html(html)).into_response())
}
