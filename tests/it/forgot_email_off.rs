//! Forgot-password while the organization cannot send email (off, or no default profile):
//! the answer says so instead of claiming a link was sent, is the same for every address,
//! and the request of a real member is recorded where the admins see it.

use relaydesk::domain::account::Role;
use relaydesk::web::passwords::{msg_forgot_no_email, MSG_FORGOT_SENT};
use reqwest::StatusCode;

use crate::helpers::*;

const BOB: &str = "bob@acme.test";

/// 2026-01-15 12:30:00 UTC.
const NOON: i64 = 1_768_480_200;

fn flash(html: &str) -> String {
    let start = html.find(r#"id="flash""#).expect("a flash message");
    let text = &html[start..];
    text[text.find('>').unwrap() + 1..text.find("</div>").unwrap()].replace("&#39;", "'")
}

/// Asks for a reset of `email` from a fresh browser; the status, where it leads, and the
/// message shown there.
async fn ask(app: &TestApp, email: &str) -> (StatusCode, String, String) {
    let visitor = app.share();
    let res = visitor.post("/t/acme/password/forgot", &[("email", email)]).await;
    let (status, to) = (res.status(), location(&res));
    let html = visitor.page(&to).await;
    (status, to, flash(&html))
}

#[tokio::test]
async fn with_email_off_no_link_is_claimed_and_every_address_gets_the_same_answer() {
    let app = spawn_app().await;
    app.clock.set(NOON);
    app.add_user(BOB, "bob's long password", Role::User, false).await;
    let expected =
        "Acme Ltd cannot send email right now, so no link was sent. Ask an administrator of Acme Ltd to make a \
         password-reset link for you.";
    assert_eq!(msg_forgot_no_email("Acme Ltd"), expected);

    let page = app.share().page("/t/acme/password/forgot").await;
    assert!(page.contains(&format!(r#"<p class="warning" id="no-email">{expected}</p>"#)), "{page}");

    let known = ask(&app, BOB).await;
    let unknown = ask(&app, "nobody@acme.test").await;
    assert_eq!(known, (StatusCode::SEE_OTHER, "/t/acme/login".into(), expected.into()));
    assert_eq!(unknown, known, "the same answer whether or not the account exists");
    assert!(!known.2.contains(MSG_FORGOT_SENT));

    // Nothing was made or queued; Bob's request is in the audit log, the unknown one is not.
    assert_eq!(app.count("SELECT COUNT(*) FROM password_resets").await, 0);
    assert_eq!(app.count("SELECT COUNT(*) FROM outbox").await, 0);
    let recorded: Vec<(String, String, i64)> =
        sqlx::query_as("SELECT actor, detail, created_at FROM audit_log WHERE action = 'reset.not_emailed'")
            .fetch_all(&app.db)
            .await
            .unwrap();
    assert_eq!(
        recorded,
        [(
            BOB.to_owned(),
            "email is off or there is no default SMTP profile: make them a reset link on the Members page".to_owned(),
            NOON
        )]
    );
    app.sign_in_admin().await;
    let audit = app.page("/t/acme/audit").await;
    assert!(audit.contains("Asked for a password reset while email was off (no link was sent)"));
}

#[tokio::test]
async fn the_dashboard_lists_the_requests_until_a_link_is_made() {
    let app = spawn_app().await;
    app.clock.set(NOON);
    app.add_user(BOB, "bob's long password", Role::User, false).await;
    ask(&app, BOB).await;
    app.advance(std::time::Duration::from_secs(60));
    ask(&app, BOB).await;

    app.sign_in_admin().await;
    let html = app.page("/t/acme/").await;
    let notice = &html[html.find(r#"id="unsent-resets""#).expect("the notice")..];
    let notice = &notice[..notice.find("</section>").unwrap()];
    assert!(notice.contains("Password resets that could not be emailed"));
    assert!(
        notice.contains(r#"<li>bob@acme.test <span class="muted nowrap">asked 2026-01-15 12:31 UTC</span></li>"#),
        "{notice}"
    );
    assert_eq!(notice.matches("<li>").count(), 1, "one line per member, the latest request");

    // A user does not see it.
    app.add_user("ulf@acme.test", "ulf's long password", Role::User, false).await;
    let ulf = app.share();
    ulf.sign_in("ulf@acme.test", "ulf's long password").await;
    assert!(!ulf.page("/t/acme/").await.contains("unsent-resets"));

    // The admin makes Bob a link: answered.
    let bob: i64 =
        sqlx::query_scalar("SELECT id FROM users WHERE email = ?").bind(BOB).fetch_one(&app.db).await.unwrap();
    let res = app.post(&format!("/t/acme/members/{bob}/reset-link"), &[]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(!app.page("/t/acme/").await.contains("unsent-resets"));
}

#[tokio::test]
async fn with_email_on_but_no_default_profile_it_says_the_same() {
    let app = spawn_app().await;
    app.add_user(BOB, "bob's long password", Role::User, false).await;
    sqlx::query("UPDATE tenants SET email_enabled = 1").execute(&app.db).await.unwrap();
    let (_, _, shown) = ask(&app, BOB).await;
    assert_eq!(shown, msg_forgot_no_email("Acme Ltd"));
    assert_eq!(app.count("SELECT COUNT(*) FROM audit_log WHERE action = 'reset.not_emailed'").await, 1);
}

#[tokio::test]
async fn requests_past_the_limit_are_answered_alike_and_not_recorded() {
    let app = spawn_app().await;
    app.add_user(BOB, "bob's long password", Role::User, false).await;
    for _ in 0..7 {
        let (_, _, shown) = ask(&app, BOB).await;
        assert_eq!(shown, msg_forgot_no_email("Acme Ltd"));
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM audit_log WHERE action = 'reset.not_emailed'").await, 5);
}
