//! "Not allowed" and "Page not found" lead somewhere: a signed-in member keeps their
//! organization's navigation and gets a way back to its dashboard; a visitor at an
//! organization's address, to its sign-in; anyone else, to the start page.

use std::time::Duration;

use relaydesk::domain::account::Role;
use reqwest::StatusCode;

use crate::helpers::*;

const NAV: &str = r#"<nav class="sections" aria-label="Sections">"#;

/// The page's way back: `(href, words)`.
fn back_link(html: &str) -> (String, String) {
    let start = html.find(r#"id="error-back""#).unwrap_or_else(|| panic!("a way back in {html}"));
    let tag_start = html[..start].rfind("<a ").unwrap();
    let tag = &html[tag_start..];
    let href = tag[tag.find("href=\"").unwrap() + 6..].split('"').next().unwrap().to_owned();
    let words = tag[tag.find('>').unwrap() + 1..tag.find("</a>").unwrap()].to_owned();
    (href, words)
}

fn heading(html: &str) -> &str {
    let start = html.find("<h1>").unwrap() + 4;
    &html[start..start + html[start..].find("</h1>").unwrap()]
}

#[tokio::test]
async fn not_allowed_keeps_a_members_navigation_and_leads_to_the_dashboard() {
    let app = spawn_app().await;
    app.add_user("ulf@acme.test", "ulf's long password", Role::User, false).await;
    assert_eq!(app.sign_in("ulf@acme.test", "ulf's long password").await.status(), StatusCode::SEE_OTHER);
    for path in ["/t/acme/smtp", "/t/acme/settings", "/t/acme/email-log"] {
        let res = app.get(path).await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{path}");
        let html = res.text().await.unwrap();
        assert_eq!(heading(&html), "Not allowed");
        assert!(
            html.contains("Your role does not allow this. Ask an administrator of your organization if you need it.")
        );
        assert!(html.contains(NAV), "the organization's navigation: {html}");
        assert!(html.contains(r#"<span id="current-user">Member</span>"#), "who is signed in");
        assert!(html.contains(r#"<span class="tenant-name">Acme Ltd</span>"#));
        assert_eq!(back_link(&html), ("/t/acme/".into(), "Back to the dashboard of Acme Ltd".into()));
    }
}

#[tokio::test]
async fn page_not_found_keeps_a_members_navigation_and_leads_to_the_dashboard() {
    let app = spawn_app().await;
    app.sign_in_admin().await;
    app.add_tenant("globex", "Globex Corp", "hank@globex.test", "hank's long password").await;
    // An address that is nothing, an id that is nothing, another organization's address
    // that is nothing, and the operator's page for someone who is not the operator.
    for path in ["/t/acme/nowhere", "/t/acme/smtp/999999", "/t/globex/nowhere", "/nowhere", "/admin"] {
        let res = app.get(path).await;
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{path}");
        let html = res.text().await.unwrap();
        assert_eq!(heading(&html), "Page not found", "{path}");
        assert!(html.contains(NAV), "{path}: {html}");
        assert!(html.contains(r#"<a href="/t/acme/email-log" >Email log</a>"#), "an admin's sections: {path}");
        assert_eq!(back_link(&html), ("/t/acme/".into(), "Back to the dashboard of Acme Ltd".into()), "{path}");
        assert!(html.contains("Times are shown in UTC."));
    }
}

#[tokio::test]
async fn a_visitor_is_led_to_the_organizations_sign_in_or_the_start_page() {
    let app = spawn_app().await;
    let res = app.get("/t/acme/nowhere").await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let html = res.text().await.unwrap();
    assert_eq!(heading(&html), "Page not found");
    assert!(!html.contains(NAV) && !html.contains("current-user"), "no navigation for a visitor");
    assert_eq!(back_link(&html), ("/t/acme/login".into(), "Sign in to Acme Ltd".into()));

    for path in ["/nowhere", "/t/nobody/nowhere", "/t/"] {
        let res = app.get(path).await;
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{path}");
        let html = res.text().await.unwrap();
        assert_eq!(back_link(&html), ("/".into(), "Go to the start page".into()), "{path}");
    }
}

#[tokio::test]
async fn a_session_past_its_limit_is_a_visitors() {
    let app = spawn_app().await;
    app.sign_in_admin().await;
    app.advance(Duration::from_secs(13 * 60 * 60));
    let res = app.get("/t/acme/nowhere").await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let html = res.text().await.unwrap();
    assert!(!html.contains(NAV));
    assert_eq!(back_link(&html), ("/t/acme/login".into(), "Sign in to Acme Ltd".into()));
}

#[tokio::test]
async fn a_suspended_organizations_member_is_not_shown_its_navigation() {
    let app = spawn_app().await;
    app.sign_in_admin().await;
    sqlx::query("UPDATE tenants SET suspended = 1").execute(&app.db).await.unwrap();
    let html = app.get("/t/acme/nowhere").await.text().await.unwrap();
    assert!(!html.contains(NAV));
    assert_eq!(back_link(&html), ("/".into(), "Go to the start page".into()));
}
