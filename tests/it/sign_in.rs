use std::net::IpAddr;
use std::time::Duration;

use relaydesk::auth::throttle::{FIRST_DELAY, FREE_FAILURES};
use relaydesk::config::proxies::TrustedProxies;
use relaydesk::domain::account::Role;
use reqwest::{Response, StatusCode};

use crate::helpers::*;

const INCORRECT: &str = "Incorrect email or password.";
const BOB: &str = "bob@acme.test";
const BOB_PASSWORD: &str = "bob's long password";

/// A browser whose connections come from `local` (any address in 127.0.0.0/8 is this
/// machine), so the app sees another client.
fn browser_at(app: &TestApp, local: &str) -> TestApp {
    let mut other = app.share();
    let local: IpAddr = local.parse().unwrap();
    other.client = reqwest::Client::builder()
        .cookie_provider(other.jar.clone())
        .redirect(reqwest::redirect::Policy::none())
        .local_address(local)
        .build()
        .unwrap();
    other
}

/// Signs in with an `X-Forwarded-For` header, as a proxy in front of the app would send.
async fn sign_in_forwarded(app: &TestApp, forwarded_for: &str, email: &str, password: &str) -> Response {
    let token = app.csrf().await;
    app.client
        .post(app.url("/t/acme/login"))
        .header("x-forwarded-for", forwarded_for)
        .form(&[("email", email), ("password", password), ("csrf_token", &token)])
        .send()
        .await
        .unwrap()
}

/// The audit log's `from` of the last failed sign-in.
async fn last_failure_detail(app: &TestApp) -> String {
    sqlx::query_scalar("SELECT detail FROM audit_log WHERE action = 'user.sign_in_failed' ORDER BY id DESC LIMIT 1")
        .fetch_one(&app.db)
        .await
        .unwrap()
}

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
async fn failures_slow_the_account_from_that_client_with_a_growing_wait() {
    let app = spawn_app().await;
    for _ in 0..FREE_FAILURES {
        let res = app.sign_in(ADMIN_EMAIL, "wrong password here").await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    }
    let res = app.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS, "even the right password waits its turn");
    assert_eq!(res.headers()["retry-after"], "30");
    let body = res.text().await.unwrap();
    assert!(body.contains("Too many failed sign-in attempts. Try again in 30 seconds."), "{body}");
    assert_eq!(app.get("/t/acme/").await.status(), StatusCode::SEE_OTHER, "not signed in");

    app.advance(FIRST_DELAY - Duration::from_secs(1));
    let res = app.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    assert!(res.text().await.unwrap().contains("Try again in 1 second."));
    app.advance(Duration::from_secs(1));
    let res = app.sign_in(ADMIN_EMAIL, "wrong password again").await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "one attempt after the wait");
    let res = app.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    assert!(res.text().await.unwrap().contains("Try again in 60 seconds."), "the wait doubles");
    app.advance(Duration::from_secs(60));
    let res = app.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "slowed, never locked");
    assert_eq!(app.get("/t/acme/").await.status(), StatusCode::OK, "signed in");
    let _ = app.post("/t/acme/logout", &[]).await;
    assert_eq!(app.sign_in(ADMIN_EMAIL, "wrong password here").await.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(app.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await.status(), StatusCode::SEE_OTHER, "success cleared it");
}

#[tokio::test]
async fn twenty_failures_from_one_client_do_not_stop_another_accounts_right_password() {
    let app = spawn_app().await;
    app.add_user(BOB, BOB_PASSWORD, Role::User, false).await;
    for i in 0..20 {
        let email = if i % 2 == 0 { format!("guess{i}@acme.test") } else { ADMIN_EMAIL.to_owned() };
        let res = app.sign_in(&email, "wrong password here").await;
        assert!(
            [StatusCode::UNPROCESSABLE_ENTITY, StatusCode::TOO_MANY_REQUESTS].contains(&res.status()),
            "{}",
            res.status()
        );
    }
    let res = app.sign_in(BOB, BOB_PASSWORD).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "Bob is not held by someone else's failures");
    assert_eq!(app.get("/t/acme/").await.status(), StatusCode::OK);
}

#[tokio::test]
async fn wrong_passwords_from_one_client_do_not_hold_the_account_for_another() {
    let app = spawn_app().await;
    let attacker = browser_at(&app, "127.0.0.2");
    for _ in 0..FREE_FAILURES * 2 {
        let _ = attacker.sign_in(ADMIN_EMAIL, "wrong password here").await;
    }
    assert_eq!(attacker.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(last_failure_detail(&app).await, "wrong password; from 127.0.0.2");

    let res = app.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "the owner, from their own address, gets in");
    assert_eq!(app.get("/t/acme/").await.status(), StatusCode::OK);
    let res = attacker.sign_in(ADMIN_EMAIL, "wrong password here").await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS, "the owner's success does not free the attacker");
}

#[tokio::test]
async fn a_forwarded_address_from_an_untrusted_peer_is_ignored() {
    let app = spawn_app().await;
    // Each attempt claims to come from somewhere new; the app sees the real peer.
    for i in 0..FREE_FAILURES {
        let res = sign_in_forwarded(&app, &format!("203.0.113.{i}"), ADMIN_EMAIL, "wrong password here").await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(last_failure_detail(&app).await, "wrong password; from 127.0.0.1");
    }
    let res = sign_in_forwarded(&app, "198.51.100.77", ADMIN_EMAIL, ADMIN_PASSWORD).await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS, "a made-up address does not escape the slowing");
}

#[tokio::test]
async fn a_forwarded_address_from_a_trusted_proxy_names_the_client() {
    let app = spawn_app_with(|c| c.proxies = TrustedProxies::parse(Some("127.0.0.1"), None).unwrap()).await;
    for _ in 0..FREE_FAILURES {
        let res = sign_in_forwarded(&app, "10.9.9.9, 203.0.113.7", ADMIN_EMAIL, "wrong password here").await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    }
    assert_eq!(last_failure_detail(&app).await, "wrong password; from 203.0.113.7", "the hop the proxy added");
    let res = sign_in_forwarded(&app, "203.0.113.7", ADMIN_EMAIL, ADMIN_PASSWORD).await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    let res = sign_in_forwarded(&app, "198.51.100.8", ADMIN_EMAIL, ADMIN_PASSWORD).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "another client behind the same proxy gets in");
    let audited: String = sqlx::query_scalar("SELECT detail FROM audit_log WHERE action = 'user.locked_out'")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert!(audited.starts_with("5 failed sign-ins from 203.0.113.7;"), "{audited}");
}

#[tokio::test]
async fn a_suspended_organization_answers_the_same_whatever_the_password() {
    let app = spawn_app().await;
    sqlx::query("UPDATE tenants SET suspended = 1 WHERE slug = 'acme'").execute(&app.db).await.unwrap();
    let right = app.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let right_status = right.status();
    let right_body = right.text().await.unwrap();
    let wrong = app.sign_in(ADMIN_EMAIL, "not the password at all").await;
    let wrong_status = wrong.status();
    let wrong_body = wrong.text().await.unwrap();
    let unknown = app.sign_in("nobody@acme.test", "not the password at all").await;
    let unknown_status = unknown.status();
    let unknown_body = unknown.text().await.unwrap();

    assert_eq!(right_status, StatusCode::FORBIDDEN);
    assert!(right_body.contains("This organization is suspended."), "{right_body}");
    assert_eq!((wrong_status, &wrong_body), (right_status, &right_body), "the password changes nothing");
    assert_eq!(unknown_status, right_status);
    assert_eq!(unknown_body.replace("nobody@acme.test", ADMIN_EMAIL), right_body);
    assert_eq!(app.get("/t/acme/").await.status(), StatusCode::SEE_OTHER, "not signed in");
}

#[tokio::test]
async fn sign_in_and_session_cookie_attributes() {
    let app = spawn_app().await;
    let page = app.get("/t/acme/login").await;
    let before = set_cookies(&page);
    assert_eq!(before.len(), 1, "the login form sets its CSRF cookie: {before:?}");
    assert!(before[0].starts_with("relaydesk_csrf="), "and starts no session: {before:?}");
    let token = csrf_in(&page.text().await.unwrap());
    // A session from before signing in (here the message of a sent form)…
    let res = app.post_raw("/t/acme/password/forgot", &[("email", ADMIN_EMAIL), ("csrf_token", &token)]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let anonymous_id = app.session_cookie().unwrap();

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
