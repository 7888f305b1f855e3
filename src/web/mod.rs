//! Screens, one file per area, and what every page's layout needs.

pub mod account;
pub mod admin;
pub mod aliases;
pub mod audit;
pub mod dashboard;
pub mod email_log;
pub mod error_page;
pub mod fields;
pub mod guest_pages;
pub mod guests;
pub mod home;
pub mod invite;
pub mod links;
pub mod members;
pub mod passwords;
pub mod settings;
pub mod setup;
pub mod sign_in;
pub mod sms;
pub mod smtp;

use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::Router;

use crate::auth::extract::Member;
use crate::auth::session::{Flash, SharedLink, WebSession};
use crate::domain::account::Role;
use crate::domain::time_zone::Zone;
use crate::error::AppError;
use crate::state::AppState;
use crate::store::tenants::Tenant;

/// What the layout shows around every page.
pub struct Chrome {
    pub title: String,
    pub csrf: String,
    pub flash: Option<Flash>,
    /// A one-time link to share by hand, shown once.
    pub link: Option<SharedLink>,
    pub tenant: Option<TenantChrome>,
    pub user: Option<UserChrome>,
    /// The section to mark as current in the navigation.
    pub nav: &'static str,
}

pub struct TenantChrome {
    pub slug: String,
    pub name: String,
    /// The IANA name of the zone the page's times are in.
    pub zone: String,
}

pub struct UserChrome {
    pub display_name: String,
    pub email: String,
    pub role: Role,
    pub is_operator: bool,
}

impl UserChrome {
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }

    pub fn role_label(&self) -> &'static str {
        self.role.label()
    }
}

impl Chrome {
    /// A page outside any tenant and session (errors, first-run setup).
    pub fn bare(title: impl Into<String>) -> Chrome {
        Chrome { title: title.into(), csrf: String::new(), flash: None, link: None, tenant: None, user: None, nav: "" }
    }

    /// A tenant's page for someone not signed in (sign in, join, password reset); takes
    /// the pending flash message.
    pub async fn visitor(
        session: &WebSession,
        tenant: &Tenant,
        title: impl Into<String>,
        nav: &'static str,
    ) -> Result<Chrome, AppError> {
        Ok(Chrome {
            csrf: session.csrf_token().await?,
            flash: session.take_flash().await?,
            tenant: Some(TenantChrome::of(tenant)),
            nav,
            ..Chrome::bare(title)
        })
    }
}

impl TenantChrome {
    fn of(tenant: &Tenant) -> TenantChrome {
        TenantChrome { slug: tenant.slug.clone(), name: tenant.name.clone(), zone: tenant.zone().as_str().to_owned() }
    }
}

impl Member {
    /// The layout's data for a page of this tenant; takes the pending flash message and
    /// the one-time link.
    pub async fn chrome(&self, title: impl Into<String>, nav: &'static str) -> Result<Chrome, AppError> {
        Ok(Chrome {
            title: title.into(),
            csrf: self.session.csrf_token().await?,
            flash: self.session.take_flash().await?,
            link: self.session.take_link().await?,
            tenant: Some(TenantChrome::of(&self.tenant)),
            user: Some(UserChrome {
                display_name: self.user.display_name.clone(),
                email: self.user.email.clone(),
                role: self.user.role(),
                is_operator: self.user.is_operator,
            }),
            nav,
        })
    }
}

/// Every page, area by area. Who may enter is enforced by each handler's extractor, so a
/// route cannot be added without saying it: none or `PathTenant` (public), `Member`,
/// `Organizer`, `Admin`, `Operator` (404 to anyone else); ids come through `PathId`.
pub fn routes() -> Router<AppState> {
    Router::new()
        // Public: the welcome page, first-run setup, sign-in, password resets, joining.
        .merge(home::routes())
        .merge(setup::routes())
        .merge(sign_in::routes())
        .merge(passwords::routes())
        .merge(invite::routes())
        // Public: the guest's pages.
        .merge(guest_pages::routes())
        // Any member: the dashboard and their own account (the email switch: admins).
        .merge(dashboard::routes())
        .merge(account::routes())
        // Organizers and admins: members and invitations, the profile list.
        .merge(members::routes())
        .merge(smtp::routes())
        // Admins: settings, the audit log, the email log.
        .merge(settings::routes())
        .merge(aliases::routes())
        .merge(sms::routes())
        .merge(guests::routes())
        .merge(audit::routes())
        .merge(email_log::routes())
        // The operator of the instance.
        .merge(admin::routes())
}

/// Renders a page with status 200.
pub fn render(template: &impl Template) -> Result<Response, AppError> {
    Ok(Html(template.render()?).into_response())
}

/// Renders a form that failed its rules: status 422, entries kept.
pub fn render_invalid(template: &impl Template) -> Result<Response, AppError> {
    Ok((StatusCode::UNPROCESSABLE_ENTITY, Html(template.render()?)).into_response())
}

/// `axum::Form`, but a body that cannot be read as the form becomes a plain 422 page
/// instead of axum's text rejection.
pub struct Form<T>(pub T);

impl<T, S> axum::extract::FromRequest<S> for Form<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, Self::Rejection> {
        axum::Form::<T>::from_request(req, state).await.map(|f| Form(f.0)).map_err(|_| {
            AppError::Refused(
                StatusCode::UNPROCESSABLE_ENTITY,
                "The form could not be read. Reload the page and try again.",
            )
        })
    }
}

/// `axum::extract::Query`, but a query string that cannot be read (a repeated field, say)
/// becomes the plain 400 page instead of axum's text rejection.
pub struct Query<T>(pub T);

impl<T, S> axum::extract::FromRequestParts<S> for Query<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::from_request_parts(parts, state).await.map(|q| Query(q.0)).map_err(|_| {
            AppError::Refused(StatusCode::BAD_REQUEST, "This address has parts relaydesk cannot read. Check the link.")
        })
    }
}

/// A time as people read it, in the organization's zone and naming it:
/// `2026-11-22 21:15 CET`, `2026-11-22 20:15 UTC` (the zone's abbreviation, or its offset
/// where it has none, such as `+03`; the page's footer gives the zone's full name).
pub fn format_time(unix: i64, zone: &Zone) -> String {
    show_time(unix, zone, "%Y-%m-%d %H:%M %Z")
}

/// [`format_time`], to the second when `unix` is less than a minute from `now` (a retry
/// due in 20 seconds, a message sent just now): `2026-11-22 21:15:40 CET`.
pub fn format_time_near(unix: i64, now: i64, zone: &Zone) -> String {
    if unix.abs_diff(now) < 60 {
        show_time(unix, zone, "%Y-%m-%d %H:%M:%S %Z")
    } else {
        format_time(unix, zone)
    }
}

fn show_time(unix: i64, zone: &Zone, format: &str) -> String {
    jiff::Timestamp::from_second(unix)
        .map(|t| t.to_zoned(zone.tz().clone()).strftime(format).to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zone(name: &str) -> Zone {
        Zone::parse(name).unwrap()
    }

    // 2026-01-15 12:30:00 UTC and 2026-07-15 12:30:00 UTC.
    const WINTER: i64 = 1_768_480_200;
    const SUMMER: i64 = 1_784_118_600;

    #[test]
    fn times_are_shown_in_the_zone_and_name_it() {
        assert_eq!(format_time(WINTER, &Zone::utc()), "2026-01-15 12:30 UTC");
        assert_eq!(format_time(WINTER, &zone("Europe/Paris")), "2026-01-15 13:30 CET");
        assert_eq!(format_time(SUMMER, &zone("Europe/Paris")), "2026-07-15 14:30 CEST");
        assert_eq!(format_time(WINTER, &zone("America/New_York")), "2026-01-15 07:30 EST");
        assert_eq!(format_time(WINTER, &zone("Asia/Kolkata")), "2026-01-15 18:00 IST");
        // A zone without a letter abbreviation is named by its offset.
        assert_eq!(format_time(WINTER, &zone("Asia/Dubai")), "2026-01-15 16:30 +04");
    }

    #[test]
    fn to_the_second_only_within_a_minute() {
        let paris = zone("Europe/Paris");
        assert_eq!(format_time_near(WINTER + 42, WINTER, &paris), "2026-01-15 13:30:42 CET");
        assert_eq!(format_time_near(WINTER - 59, WINTER, &paris), "2026-01-15 13:29:01 CET");
        assert_eq!(format_time_near(WINTER + 60, WINTER, &paris), "2026-01-15 13:31 CET");
        assert_eq!(format_time_near(WINTER - 3600, WINTER, &paris), "2026-01-15 12:30 CET");
    }
}
