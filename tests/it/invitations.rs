//! Withdrawing an invitation, and what a link that no longer works shows: why, and the way
//! to the organization's sign-in or dashboard.

use std::time::Duration;

use relaydesk::domain::account::Role;
use relaydesk::store::tokens::{INVITATION_LIFETIME, NOT_SENT_WITHDRAWN};
use relaydesk::web::invite::MSG_INVITATION_GONE;
use reqwest::StatusCode;

use crate::helpers::*;
use crate::members::audited;
use crate::smtp_server::{Script, TestSmtp, TlsMode};

/// Invites `email` as `role` with email off and returns the invitation's id and the path
/// of its link (shown once to the admin).
async fn invite(app: &TestApp, email: &str, role: &str) -> (i64, String) {
    let res = app.post("/t/acme/invitations", &[("email", email), ("role", role)]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let html = app.page("/t/acme/invitations").await;
    let marker = r#"id="shared-link" type="text" value=""#;
    let start = html.find(marker).expect("the link is shown") + marker.len();
    let url: url::Url = html[start..].split('"').next().unwrap().parse().unwrap();
    let id = sqlx::query_scalar("SELECT MAX(id) FROM invitations WHERE email = ?")
        .bind(email)
        .fetch_one(&app.db)
        .await
        .unwrap();
    (id, url.path().to_owned())
}

/// The gone page's status, reason line and way onward (`href` and text).
async fn gone(client: &TestApp, path: &str) -> (StatusCode, Option<String>, String) {
    let res = client.get(path).await;
    let status = res.status();
    let html = res.text().await.unwrap();
    assert!(html.contains(&format!(r#"<p id="gone-message">{MSG_INVITATION_GONE}</p>"#)), "{html}");
    let between = |start: &str, end: &str| {
        html.find(start).map(|i| {
            let rest = &html[i + start.len()..];
            rest[..rest.find(end).unwrap()].to_owned()
        })
    };
    let reason = between(r#"<p id="gone-reason">"#, "</p>");
    let next = html.find(r#"id="gone-next""#).map(|i| {
        let rest = &html[i..];
        let href = rest.split("href=\"").nth(1).unwrap().split('"').next().unwrap();
        let text = &rest[rest.find('>').unwrap() + 1..rest.find("</a>").unwrap()];
        format!("{href} {text}")
    });
    (status, reason, next.expect("a way onward"))
}

#[tokio::test]
async fn a_withdrawn_invitation_link_stops_working_and_says_so() {
    let app = spawn_app().await;
    app.sign_in_admin().await;
    let (id, link) = invite(&app, "newbie@example.test", "organizer").await;
    assert!(app.page("/t/acme/invitations").await.contains(&format!(r#"href="/t/acme/invitations/{id}/withdraw""#)));

    let ask = app.page(&format!("/t/acme/invitations/{id}/withdraw")).await;
    assert!(ask.contains("<h1>Withdraw the invitation to newbie@example.test?</h1>"), "{ask}");
    assert!(ask.contains("They were invited as Organizer. The link stops working at once. You can invite"));

    let res = app.post(&format!("/t/acme/invitations/{id}/withdraw"), &[]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), "/t/acme/invitations");
    let html = app.page("/t/acme/invitations").await;
    assert!(html.contains("Withdrew the invitation to newbie@example.test. Its link no longer works."));
    assert!(!html.contains("data-invitation-id"), "no longer waiting");
    let (voided, withdrawn): (Option<i64>, Option<i64>) =
        sqlx::query_as("SELECT voided_at, withdrawn_at FROM invitations WHERE id = ?")
            .bind(id)
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!((voided, withdrawn), (Some(app.now()), Some(app.now())));
    assert_eq!(
        audited(&app, "invitation.withdrawn").await,
        [(ADMIN_EMAIL.into(), "newbie@example.test as organizer".into())]
    );

    let newbie = app.share();
    let (status, reason, next) = gone(&newbie, &link).await;
    assert_eq!(status, StatusCode::GONE);
    assert_eq!(reason.as_deref(), Some("It was withdrawn by Acme Ltd."));
    assert_eq!(next, "/t/acme/login Sign in to Acme Ltd");
    let res = newbie.post(&link, &[("display_name", "New Bie"), ("password", "newbie's long password")]).await;
    assert_eq!(res.status(), StatusCode::GONE);
    assert_eq!(app.count("SELECT COUNT(*) FROM users WHERE email = 'newbie@example.test'").await, 0);

    let res = app.post(&format!("/t/acme/invitations/{id}/withdraw"), &[]).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND, "already withdrawn");
    let res = app.post_raw(&format!("/t/acme/invitations/{id}/withdraw"), &[]).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN, "without the form token");
}

#[tokio::test]
async fn organizers_withdraw_only_invitations_they_may_make() {
    let app = spawn_app().await;
    app.sign_in_admin().await;
    app.add_user("olga@acme.test", "olga's long password", Role::Organizer, false).await;
    let (admin_invite, _) = invite(&app, "boss@example.test", "admin").await;
    let (user_invite, _) = invite(&app, "helper@example.test", "user").await;
    let olga = app.share();
    olga.sign_in("olga@acme.test", "olga's long password").await;
    let res = olga.post(&format!("/t/acme/invitations/{admin_invite}/withdraw"), &[]).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(olga.get(&format!("/t/acme/invitations/{admin_invite}/withdraw")).await.status(), StatusCode::FORBIDDEN);
    let res = olga.post(&format!("/t/acme/invitations/{user_invite}/withdraw"), &[]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.count("SELECT COUNT(*) FROM invitations WHERE withdrawn_at IS NOT NULL").await, 1);
    assert_eq!(
        audited(&app, "invitation.withdrawn").await,
        [("olga@acme.test".into(), "helper@example.test as user".into())]
    );
}

#[tokio::test]
async fn a_withdrawn_invitations_waiting_email_is_never_sent() {
    let server = TestSmtp::start(
        TlsMode::StartTls,
        Script { auth: Some(("mailer@acme.test".into(), crate::smtp::PASSWORD.into())), ..Script::default() },
    )
    .await;
    let app = spawn_app().await;
    app.sign_in_admin().await;
    app.create_profile(&crate::sending::profile_for("Office", &server, "starttls")).await;
    assert_eq!(app.post("/t/acme/settings/email", &[("enabled", "on")]).await.status(), StatusCode::SEE_OTHER);
    app.stop_worker().await;
    let res = app.post("/t/acme/invitations", &[("email", "newbie@example.test"), ("role", "user")]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let id: i64 = sqlx::query_scalar("SELECT id FROM invitations").fetch_one(&app.db).await.unwrap();
    assert_eq!(app.count("SELECT COUNT(*) FROM outbox WHERE status = 'pending'").await, 1);
    let ask = app.page(&format!("/t/acme/invitations/{id}/withdraw")).await;
    assert!(ask.contains("The link stops working at once, and if the email has not gone out yet, it is not sent."));

    assert_eq!(app.post(&format!("/t/acme/invitations/{id}/withdraw"), &[]).await.status(), StatusCode::SEE_OTHER);
    let (status, error, attempts): (String, String, i64) =
        sqlx::query_as("SELECT status, last_error, attempts FROM outbox").fetch_one(&app.db).await.unwrap();
    assert_eq!((status.as_str(), error.as_str(), attempts), ("failed", NOT_SENT_WITHDRAWN, 0));
    assert!(!app.process_due_message().await, "the outbox has nothing to send");
    app.start_worker();
    app.advance(Duration::from_secs(60));
    assert!(server.messages().is_empty() && server.connections() == 0, "nothing reached the server");
}

#[tokio::test]
async fn used_replaced_expired_and_unknown_links_say_why_and_lead_back() {
    let app = spawn_app().await;
    app.sign_in_admin().await;

    // Used: the person who used it, signed in, is led to the dashboard, with navigation.
    let (_, used) = invite(&app, "newbie@example.test", "user").await;
    let newbie = app.share();
    let form = newbie.page(&used).await;
    let token = csrf_in(&form);
    let res = newbie
        .post_raw(&used, &[("display_name", "New Bie"), ("password", "newbie's long password"), ("csrf_token", &token)])
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let (status, reason, next) = gone(&newbie, &used).await;
    assert_eq!(status, StatusCode::GONE);
    assert_eq!(reason.as_deref(), Some("It has already been used to join Acme Ltd."));
    assert_eq!(next, "/t/acme/ Go to the Acme Ltd dashboard");
    let html = newbie.get(&used).await.text().await.unwrap();
    assert!(
        html.contains(r#"<nav class="sections" aria-label="Sections">"#),
        "signed in: the organization's navigation"
    );
    assert!(html.contains(r#"<span id="current-user">New Bie</span>"#));
    // Anyone else is led to the sign-in.
    let (_, _, next) = gone(&app.share(), &used).await;
    assert_eq!(next, "/t/acme/login Sign in to Acme Ltd");

    // Replaced by a newer link.
    let (id, replaced) = invite(&app, "late@example.test", "user").await;
    assert_eq!(app.post(&format!("/t/acme/invitations/{id}/regenerate"), &[]).await.status(), StatusCode::SEE_OTHER);
    let (status, reason, _) = gone(&app.share(), &replaced).await;
    assert_eq!(status, StatusCode::GONE);
    assert_eq!(
        reason.as_deref(),
        Some("A newer invitation link was made for this address: use the newest one you received.")
    );

    // Expired.
    let (_, expiring) = invite(&app, "slow@example.test", "user").await;
    let expires = app.now() + INVITATION_LIFETIME.as_secs() as i64;
    app.advance(INVITATION_LIFETIME);
    let (status, reason, next) = gone(&app.share(), &expiring).await;
    assert_eq!(status, StatusCode::GONE);
    assert_eq!(
        reason,
        Some(format!(
            "It expired on {}.",
            relaydesk::web::format_time(expires, &relaydesk::domain::time_zone::Zone::utc())
        ))
    );
    assert_eq!(next, "/t/acme/login Sign in to Acme Ltd");

    // Unknown: no organization to name.
    let (status, reason, next) = gone(&app.share(), "/invite/not-a-token-relaydesk-made").await;
    assert_eq!((status, reason), (StatusCode::GONE, None));
    assert_eq!(next, "/ Go to the start page");
}

/// Every byte of the database's files as they are on disk now: the main file and its
/// write-ahead log (which keeps earlier versions of rows until a checkpoint).
async fn database_bytes(app: &TestApp) -> Vec<u8> {
    let path = relaydesk::config::sqlite_path(&app.state.config.database_url).unwrap();
    let mut bytes = Vec::new();
    for suffix in ["", "-wal", "-shm"] {
        let file = format!("{}{suffix}", path.display());
        if let Ok(content) = std::fs::read(&file) {
            bytes.extend(content);
        }
    }
    assert!(bytes.len() > 4096, "read the database at {}", path.display());
    bytes
}

fn holds(haystack: &[u8], needle: &str) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle.as_bytes())
}

/// The one-time link a page shows.
fn shown_link(html: &str) -> url::Url {
    let marker = r#"id="shared-link" type="text" value=""#;
    let start = html.find(marker).expect("the link is shown") + marker.len();
    html[start..].split('"').next().unwrap().parse().unwrap()
}

#[tokio::test]
async fn one_time_links_shown_to_the_admin_never_wait_in_the_database_in_clear() {
    let app = spawn_app().await;
    app.sign_in_admin().await;
    app.add_user("bob@acme.test", "bob's long password", Role::User, false).await;
    let bob: i64 =
        sqlx::query_scalar("SELECT id FROM users WHERE email = 'bob@acme.test'").fetch_one(&app.db).await.unwrap();

    for (make, fields, shown_on) in [
        (
            "/t/acme/invitations".to_owned(),
            vec![("email", "newbie@example.test"), ("role", "admin")],
            "/t/acme/invitations",
        ),
        (format!("/t/acme/members/{bob}/reset-link"), vec![], "/t/acme/members"),
    ] {
        let res = app.post(&make, &fields).await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "{make}");
        // The link now waits in the session row for the next page.
        let waiting = database_bytes(&app).await;
        let link = shown_link(&app.page(shown_on).await);
        let token = link.path().rsplit('/').next().unwrap().to_owned();
        assert_eq!(token.len(), 43, "{link}");
        let shown = database_bytes(&app).await;
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)").execute(&app.db).await.unwrap();
        let checkpointed = database_bytes(&app).await;
        for (when, bytes) in [("waiting", &waiting), ("shown", &shown), ("checkpointed", &checkpointed)] {
            assert!(!holds(bytes, &token), "{make}: the token is in the database files ({when})");
        }
        assert_eq!(app.share().get(link.path()).await.status(), StatusCode::OK, "{make}: the link works");
    }
}
