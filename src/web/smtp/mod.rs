//! SMTP profiles (SPEC §2-§4), one file per flow of the screen: the list, the form
//! (create and edit), duplicate, make default, delete, and the test email.

mod delete;
mod duplicate;
mod form;
mod list;
pub mod oauth;
mod test_email;
pub mod tried;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;

pub use delete::{delete, delete_form, make_default, MSG_NEW_DEFAULT};
pub use duplicate::{duplicate, duplicate_form};
pub use form::{create, edit_form, label, new_form, password_rules, policy_explained, update, TRIED_NOTE};
pub use list::{list, PER_PAGE, SEARCH_MAX_LEN};
pub use test_email::{send as send_test, show as test_form};

use super::format_time;
use crate::app::AppState;
use crate::auth::extract::{Admin, Member, PathId};
use crate::domain::smtp::Security;
use crate::error::AppError;
use crate::store::smtp::{self as profiles, Profile, ProfileId};

/// The placeholder of a stored password's input (seed 002).
pub const NOT_DISPLAYED: &str = "Not displayed for security reasons";

/// A profile as the list, the duplicate and the delete pages show it.
struct Row {
    id: i64,
    name: String,
    kind: &'static str,
    endpoint: String,
    security: &'static str,
    /// Certificate checks are off (SSL/TLS or STARTTLS without verification).
    unverified: bool,
    is_default: bool,
    /// The send rate in words (`At most 30 a minute`), when the profile has one.
    rate: Option<String>,
    test: Option<TestResult>,
}

/// The last test email's result: the whole message (the edit page) and its one line (the
/// list).
struct TestResult {
    ok: bool,
    when: String,
    message: String,
    line: String,
}

impl TestResult {
    fn of(t: &crate::domain::smtp::LastTest, zone: &crate::domain::time_zone::Zone) -> TestResult {
        TestResult { ok: t.ok, when: format_time(t.at, zone), message: t.message.clone(), line: one_line(&t.message) }
    }
}

/// A failure message cut to what the list has room for: its first sentence after "The
/// test email was not sent.", which names what failed (the rest says what to check).
pub fn one_line(message: &str) -> String {
    let text = message.strip_prefix("The test email was not sent. ").unwrap_or(message);
    // A sentence ends at ". " before a capital letter; "5.7.8" and "smtp.example.com" do not.
    let bytes = text.as_bytes();
    let end = (0..bytes.len().saturating_sub(2))
        .find(|&i| bytes[i] == b'.' && bytes[i + 1] == b' ' && bytes[i + 2].is_ascii_uppercase())
        .map_or(text.len(), |i| i + 1);
    text[..end].to_owned()
}

impl Row {
    fn of(p: &profiles::Listed, zone: &crate::domain::time_zone::Zone) -> Row {
        let security = match p.security {
            Some(Security::None) if p.auth_required => "None: the password is sent unencrypted",
            Some(security) => security.label(),
            None => "HTTPS",
        };
        Row {
            id: p.id.0,
            name: p.name.clone(),
            kind: p.kind.label(),
            endpoint: p.endpoint.clone(),
            security,
            unverified: p.security.is_some_and(|s| s != Security::None) && !p.tls_verify,
            is_default: p.is_default,
            rate: p.max_per_minute.map(|r| format!("At most {r} a minute")),
            test: p.last_test.as_ref().map(|t| TestResult::of(t, zone)),
        }
    }
}

/// An admin of the tenant in the path, and the profile `{id}` of that tenant. Any other
/// id (another tenant's, or not a number) is 404; any other role is 403.
pub struct AdminProfile {
    pub member: Member,
    pub profile: Profile,
}

impl FromRequestParts<AppState> for AdminProfile {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let Admin(member) = Admin::from_request_parts(parts, state).await?;
        let PathId(id) = PathId::from_request_parts(parts, state).await?;
        let profile = profiles::get(&state.db, member.tenant.id, ProfileId(id)).await?.ok_or(AppError::NotFound)?;
        Ok(AdminProfile { member, profile })
    }
}

/// After a change: back to the list, where the flash tells what happened.
fn to_list(member: &Member) -> Response {
    Redirect::to(&format!("/t/{}/smtp", member.tenant.slug)).into_response()
}

/// This area's pages.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/t/{slug}/smtp", get(list).post(create))
        .route("/t/{slug}/smtp/new", get(new_form))
        .route("/t/{slug}/smtp/{id}", get(edit_form).post(update))
        .route("/t/{slug}/smtp/{id}/duplicate", get(duplicate_form).post(duplicate))
        .route("/t/{slug}/smtp/{id}/default", post(make_default))
        .route("/t/{slug}/smtp/{id}/test", get(test_form).post(send_test))
        .route("/t/{slug}/smtp/{id}/delete", get(delete_form).post(delete))
        .route("/t/{slug}/smtp/{id}/oauth/connect", post(oauth::connect))
        .route("/t/{slug}/smtp/{id}/oauth/go", get(oauth::go))
        .route("/t/{slug}/smtp/{id}/oauth/disconnect", post(oauth::disconnect))
        .route("/t/{slug}/smtp/oauth/google", get(oauth::callback))
}
