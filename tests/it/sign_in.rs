use std::time::Duration;

use relaydesk::auth::throttle::{PER_ACCOUNT, PER_CLIENT, WINDOW};
use relaydesk::domain::account::Role;
use reqwest::StatusCode;

use crate::helpers::*;

const INCORRECT: &str = "Incorrect email or password.";

#[tokio::test]
async fn wrong_password_and_unknown_email_get_the_same_answer() {
    let app = spawn_app().await;
    let wrong = app.sign_in(ADMIN_EMAIL, "not the password at all").await;
    let wrong_status = wrong.status();
    let wrong_body = wrong.text().await.unwrap();
    let unknown = app.sign_in("nobody@acme.test", "not the password at all").await;
    let unknown_status = unknown.status();
    let unknown_body = unknown.text().await.unwrap();

    assert_eq!(wrong_status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(unknown_status, wrong_status);
    assert!(wrong_body.contains(INCORRECT));
    assert!(unknown_body.contains(INCORRECT));
    // Nothing else on the page tells the two apart (the typed email is echoed back).
    assert_eq!(
        wrong_body.replace(ADMIN_EMAIL, "E").replace(&csrf_in(&wrong_body), "T"),
        unknown_body.replace("nobody@acme.test", "E").replace(&csrf_in(&unknown_body), "T"),
    );
    let res = app.get("/t/acme/").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "still signed out");
}

#[tokio::test]
async fn right_password_signs_in_case_insensitively_and_lands_on_the_dashboard() {
    let app = spawn_app().await;
    let res = app.sign_in("  ADA@Acme.Test ", ADMIN_PASSWORD).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), "/t/acme/");
    let html = app.page("/t/acme/").await;
    assert!(html.contains("Dashboard"));
    assert!(html.contains("Acme Ltd"));
    let signed_in = app.count("SELECT COUNT(*) FROM audit_log WHERE action = 'user.signed_in'").await;
    assert_eq!(signed_in, 1, "the sign-in is in the audit log");
}

#[tokio::test]
async fn a_protected_page_sends_you_to_sign_in_and_back_again() {
    let app = spawn_app().await;
    let res = app.get("/t/acme/audit").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), "/t/acme/login?next=%2Ft%2Facme%2Faudit");

    let html = app.page(&location(&res)).await;
    assert!(html.contains(r#"name="next" value="/t/acme/audit""#));
    let token = csrf_in(&html);
    let res = app
        .post_raw(
            "/t/acme/login",
            &[("email", ADMIN_EMAIL), ("password", ADMIN_PASSWORD), ("next", "/t/acme/audit"), ("csrf_token", &token)],
        )
        .await;
    assert_eq!(location(&res), "/t/acme/audit");
}

#[tokio::test]
async fn next_never_leaves_the_tenant() {
    let app = spawn_app().await;
    for next in ["https://evil.test/", "//evil.test/x", "/t/other/", "/admin"] {
        let token = app.csrf().await;
        let res = app
            .post_raw(
                "/t/acme/login",
                &[("email", ADMIN_EMAIL), ("password", ADMIN_PASSWORD), ("next", next), ("csrf_token", &token)],
            )
            .await;
        assert_eq!(location(&res), "/t/acme/", "next={next}");
        let _ = app.post("/t/acme/logout", &[]).await;
    }
}

#[tokio::test]
async fn repeated_failures_for_an_account_are_throttled_even_with_the_right_password() {
    let app = spawn_app().await;
    for _ in 0..PER_ACCOUNT {
        let res = app.sign_in(ADMIN_EMAIL, "wrong password here").await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    }
    let res = app.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    let body = res.text().await.unwrap();
    assert!(body.contains("Too many failed sign-in attempts. Wait 15 minutes, then try again."), "{body}");
    assert_eq!(app.get("/t/acme/").await.status(), StatusCode::SEE_OTHER, "not signed in");
}

#[tokio::test]
async fn the_throttle_lifts_when_its_window_has_passed() {
    let app = spawn_app().await;
    for _ in 0..PER_ACCOUNT {
        assert_eq!(app.sign_in(ADMIN_EMAIL, "wrong password here").await.status(), StatusCode::UNPROCESSABLE_ENTITY);
    }
    app.advance(WINDOW - Duration::from_secs(1));
    let res = app.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS, "a second before the window ends");
    assert!(res.text().await.unwrap().contains("Wait 1 minute, then try again."));
    app.advance(Duration::from_secs(1));
    let res = app.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "the failures have aged out");
    assert_eq!(app.get("/t/acme/").await.status(), StatusCode::OK, "signed in");
}

#[tokio::test]
async fn a_client_failing_across_many_accounts_is_throttled() {
    let app = spawn_app().await;
    app.add_user("bob@acme.test", "bob's long password", Role::User, false).await;
    for i in 0..PER_CLIENT {
        let res = app.sign_in(&format!("guess{i}@acme.test"), "wrong password here").await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    }
    let res = app.sign_in("bob@acme.test", "bob's long password").await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn sign_in_and_session_cookie_attributes() {
    let app = spawn_app().await;
    let page = app.get("/t/acme/login").await;
    let before = set_cookies(&page);
    assert_eq!(before.len(), 1, "the login form starts a session for its CSRF token");
    let _ = page.text().await;
    let anonymous_id = app.session_cookie().unwrap();

    let token = app.csrf().await;
    let res = app
        .post_raw("/t/acme/login", &[("email", ADMIN_EMAIL), ("password", ADMIN_PASSWORD), ("csrf_token", &token)])
        .await;
    let cookie = set_cookies(&res).into_iter().find(|c| c.starts_with("relaydesk_session=")).unwrap();
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Lax"), "{cookie}");
    assert!(!cookie.contains("Secure"), "plain http public URL: {cookie}");
    assert!(cookie.contains("Path=/"), "{cookie}");
    let signed_in_id = app.session_cookie().unwrap();
    assert_ne!(anonymous_id, signed_in_id, "a new session id at sign-in");
    let old = app.count(&format!("SELECT COUNT(*) FROM tower_sessions WHERE id = '{anonymous_id}'")).await;
    assert_eq!(old, 0, "the pre-sign-in session id no longer exists");
}

#[tokio::test]
async fn cookies_are_secure_when_the_public_url_is_https() {
    let app = spawn_app_with(|c| c.public_url = "https://mail.example.com".parse().unwrap()).await;
    let res = app.get("/t/acme/login").await;
    let cookie = set_cookies(&res).join("\n");
    assert!(cookie.contains("; Secure"), "{cookie}");
}
