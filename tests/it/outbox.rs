//! Invitations and password resets through the outbox, against a real SMTP server:
//! delivery, single-use links, the retry schedule, permanent failures, crash recovery.

use std::time::Duration;

use relaydesk::domain::account::Role;
use reqwest::StatusCode;

use crate::helpers::*;
use crate::sending::profile_for;
use crate::smtp::FormFields;
use crate::smtp_server::{Received, Script, TestSmtp, TlsMode};

const ACCOUNT: &str = "mailer@acme.test";

/// An app whose acme tenant sends through `server` (profile default, email on).
async fn mailing_app(server: &TestSmtp, adjust: impl FnOnce(&mut relaydesk::Config)) -> TestApp {
    mailing_app_with(&profile_for("Office", server, "starttls"), adjust).await
}

/// An app that mails through the default profile `form` makes.
async fn mailing_app_with(form: &FormFields, adjust: impl FnOnce(&mut relaydesk::Config)) -> TestApp {
    let app = spawn_app_with(adjust).await;
    app.sign_in_admin().await;
    app.create_profile(form).await;
    let res = app.post("/t/acme/settings/email", &[("enabled", "on")]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    app
}

fn server_script() -> Script {
    Script { auth: Some((ACCOUNT.into(), crate::smtp::PASSWORD.into())), ..Script::default() }
}

/// The first link in a mail's text that starts with `prefix`.
fn link_in(mail: &Received, prefix: &str) -> String {
    let body = mail.text_body();
    let start = body.find(prefix).unwrap_or_else(|| panic!("{prefix} in {body}"));
    body[start..].split_whitespace().next().unwrap().to_owned()
}

fn path_of(link: &str) -> String {
    let url: url::Url = link.parse().unwrap();
    url.path().to_owned()
}

async fn outbox_row(app: &TestApp) -> (String, i64, Option<String>, String, i64) {
    sqlx::query_as(
        "SELECT status, attempts, last_error, message_id, next_attempt_at FROM outbox ORDER BY id DESC LIMIT 1",
    )
    .fetch_one(&app.db)
    .await
    .unwrap()
}

/// Waits for the worker to bring the newest message to `status`, and returns its row.
async fn wait_for_status(app: &TestApp, status: &str) -> (String, i64, Option<String>, String, i64) {
    let what = format!("the newest outbox message to be {status}");
    wait_for_some(&what, WAIT, || async move { Some(outbox_row(app).await).filter(|row| row.0 == status) }).await
}

/// Waits until the worker has dealt with every message: none is pending any more.
async fn wait_until_nothing_pending(app: &TestApp) {
    wait_until("every outbox message to be sent or failed", WAIT, || async move {
        app.count("SELECT COUNT(*) FROM outbox WHERE status = 'pending'").await == 0
    })
    .await
}

#[tokio::test]
async fn an_invitation_arrives_and_its_link_works_once() {
    let server = TestSmtp::start(TlsMode::StartTls, server_script()).await;
    let app = mailing_app(&server, |_| {}).await;
    let res = app.post("/t/acme/invitations", &[("email", "Newbie@Example.test"), ("role", "organizer")]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let page = app.page("/t/acme/invitations").await;
    assert!(page.contains("Invitation to newbie@example.test queued for sending"), "{page}");

    let mail = server.wait_for(1, 10).await.remove(0);
    assert_eq!(mail.to, ["newbie@example.test"]);
    assert_eq!(mail.header("Subject").unwrap(), "You are invited to Acme Ltd on relaydesk");
    let link = link_in(&mail, &format!("{}/invite/", app.base));
    assert!(mail.text_body().contains("as organizer"));
    let (status, attempts, _, message_id, _) = wait_for_status(&app, "sent").await;
    assert_eq!((status.as_str(), attempts), ("sent", 1));
    assert!(app
        .page("/t/acme/invitations")
        .await
        .contains(r#"<td data-label="Delivery" data-delivery>Delivered</td>"#));
    assert_eq!(mail.header("Message-ID").unwrap(), message_id);

    // The token is stored only as a hash.
    let token = link.rsplit('/').next().unwrap().to_owned();
    assert_eq!(app.count(&format!("SELECT COUNT(*) FROM invitations WHERE token_hash = '{token}'")).await, 0);
    let in_clear =
        app.count(&format!("SELECT COUNT(*) FROM outbox_bodies WHERE instr(body_sealed, '{token}') > 0")).await;
    assert_eq!(in_clear, 0, "the mailed body is sealed at rest");

    let newbie = app.share();
    let form = newbie.page(&path_of(&link)).await;
    assert!(form.contains("newbie@example.test") && form.contains("Organizer"));
    let token_field = csrf_in(&form);
    let res = newbie
        .post_raw(&path_of(&link), &[("display_name", ""), ("password", "short"), ("csrf_token", &token_field)])
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = res.text().await.unwrap();
    assert!(html.contains(r#"id="error-display_name">Please enter a name of up to 100 characters.</p>"#));
    assert!(html.contains(r#"id="error-password">Please choose a password of at least 12 characters.</p>"#));

    let res = newbie
        .post_raw(
            &path_of(&link),
            &[("display_name", "New Bie"), ("password", "newbie's long password"), ("csrf_token", &token_field)],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), "/t/acme/");
    assert!(newbie.page("/t/acme/").await.contains("Welcome to Acme Ltd, New Bie."));
    let (role,): (String,) =
        sqlx::query_as("SELECT role FROM users WHERE email = 'newbie@example.test'").fetch_one(&app.db).await.unwrap();
    assert_eq!(role, "organizer");

    let again = app.share().get(&path_of(&link)).await;
    assert_eq!(again.status(), StatusCode::GONE);
    assert!(again
        .text()
        .await
        .unwrap()
        .contains("This invitation link is no longer valid. Ask your administrator for a new one."));
    let res = newbie.post(&path_of(&link), &[("display_name", "Twice"), ("password", "another long password")]).await;
    assert_eq!(res.status(), StatusCode::GONE);
    assert_eq!(app.count("SELECT COUNT(*) FROM users WHERE email = 'newbie@example.test'").await, 1);
}

#[tokio::test]
async fn a_forged_host_header_does_not_change_the_mailed_link() {
    let server = TestSmtp::start(TlsMode::StartTls, server_script()).await;
    let app = mailing_app(&server, |_| {}).await;
    let token = app.csrf().await;
    let res = app
        .client
        .post(app.url("/t/acme/invitations"))
        .header("host", "evil.test")
        .header("x-forwarded-host", "evil.test")
        .form(&[("email", "victim@example.test"), ("role", "user"), ("csrf_token", &token)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let mail = server.wait_for(1, 10).await.remove(0);
    let body = mail.text_body();
    assert!(!body.contains("evil.test"), "{body}");
    assert!(body.contains(&format!("{}/invite/", app.base)));
}

#[tokio::test]
async fn with_email_off_the_link_is_shown_once_to_share_by_hand() {
    let app = spawn_app().await;
    app.sign_in_admin().await;
    let res = app.post("/t/acme/invitations", &[("email", "hand@example.test"), ("role", "user")]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let html = app.page("/t/acme/invitations").await;
    assert!(html.contains("Email is off, so the invitation was not emailed"));
    let marker = r#"id="shared-link" type="text" value=""#;
    let start = html.find(marker).expect("the link is shown") + marker.len();
    let link = html[start..].split('"').next().unwrap().to_owned();
    assert!(link.starts_with(&format!("{}/invite/", app.base)));
    assert!(!app.page("/t/acme/invitations").await.contains(&link), "shown only once");
    assert_eq!(app.count("SELECT COUNT(*) FROM outbox").await, 0);

    // A new link voids the old one.
    let (id,): (i64,) = sqlx::query_as("SELECT id FROM invitations").fetch_one(&app.db).await.unwrap();
    app.post(&format!("/t/acme/invitations/{id}/regenerate"), &[]).await;
    let html = app.page("/t/acme/invitations").await;
    let start = html.find(marker).unwrap() + marker.len();
    let new_link = html[start..].split('"').next().unwrap().to_owned();
    assert_ne!(new_link, link);
    let visitor = app.share();
    assert_eq!(visitor.get(&path_of(&link)).await.status(), StatusCode::GONE);
    assert_eq!(visitor.get(&path_of(&new_link)).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn invitation_rules_by_role_and_for_existing_members() {
    let app = spawn_app().await;
    app.sign_in_admin().await;
    let res = app.post("/t/acme/invitations", &[("email", ADMIN_EMAIL), ("role", "user")]).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.text().await.unwrap().contains("An account with this email address already exists."));
    let res = app.post("/t/acme/invitations", &[("email", "x@localhost"), ("role", "boss")]).await;
    let html = res.text().await.unwrap();
    assert!(html.contains(r#"id="error-email">Please enter a valid email address.</p>"#));
    assert!(html.contains(r#"id="error-role">Please choose a role.</p>"#));

    app.add_user("olga@acme.test", "olga's long password", Role::Organizer, false).await;
    let olga = app.share();
    olga.sign_in("olga@acme.test", "olga's long password").await;
    let res = olga.post("/t/acme/invitations", &[("email", "boss@example.test"), ("role", "admin")]).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.text().await.unwrap().contains("Organizers can invite users only."));
    let res = olga.post("/t/acme/invitations", &[("email", "pal@example.test"), ("role", "user")]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.count("SELECT COUNT(*) FROM invitations").await, 1);

    app.add_user("ulf@acme.test", "ulf's long password", Role::User, false).await;
    let ulf = app.share();
    ulf.sign_in("ulf@acme.test", "ulf's long password").await;
    assert_eq!(
        ulf.post("/t/acme/invitations", &[("email", "x@example.test"), ("role", "user")]).await.status(),
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn a_reset_arrives_works_once_and_ends_every_session() {
    let server = TestSmtp::start(TlsMode::StartTls, server_script()).await;
    let app = mailing_app(&server, |_| {}).await;
    app.add_user("bob@acme.test", "bob's old long password", Role::User, false).await;
    let laptop = app.share();
    let phone = app.share();
    for device in [&laptop, &phone] {
        assert_eq!(device.sign_in("bob@acme.test", "bob's old long password").await.status(), StatusCode::SEE_OTHER);
    }

    let visitor = app.share();
    let res = visitor.post("/t/acme/password/forgot", &[("email", "BOB@acme.test")]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), "/t/acme/login");
    assert!(visitor
        .page("/t/acme/login")
        .await
        .contains("If an account exists for that address, we have sent a link to reset the password."));

    let mail = server.wait_for(1, 10).await.remove(0);
    assert_eq!(mail.to, ["bob@acme.test"]);
    let link = link_in(&mail, &format!("{}/t/acme/password/reset/", app.base));
    let form = visitor.page(&path_of(&link)).await;
    assert!(form.contains("bob@acme.test"));
    let res = visitor.post(&path_of(&link), &[("password", "short")]).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.text().await.unwrap().contains("Please choose a password of at least 12 characters."));
    let res = visitor.post(&path_of(&link), &[("password", "bob's new long password")]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(visitor.page("/t/acme/login").await.contains("Your password has been changed. Sign in with the new one."));

    for device in [&laptop, &phone] {
        assert_eq!(device.get("/t/acme/").await.status(), StatusCode::SEE_OTHER, "the other sessions ended");
    }
    assert_eq!(visitor.get(&path_of(&link)).await.status(), StatusCode::GONE, "the link works once");
    assert_eq!(
        laptop.sign_in("bob@acme.test", "bob's old long password").await.status(),
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(laptop.sign_in("bob@acme.test", "bob's new long password").await.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn an_unknown_address_gets_the_same_answer_and_nothing_is_sent() {
    let server = TestSmtp::start(TlsMode::StartTls, server_script()).await;
    let app = mailing_app(&server, |_| {}).await;
    let visitor = app.share();
    let unknown = visitor.post("/t/acme/password/forgot", &[("email", "nobody@acme.test")]).await;
    let known = visitor.post("/t/acme/password/forgot", &[("email", ADMIN_EMAIL)]).await;
    assert_eq!(unknown.status(), known.status());
    assert_eq!(location(&unknown), location(&known));
    server.wait_for(1, 10).await;
    // Nothing was queued for the unknown address, and the worker is done with the queue,
    // so the one mail is all there will be.
    assert_eq!(app.count("SELECT COUNT(*) FROM outbox WHERE recipient = 'nobody@acme.test'").await, 0);
    assert_eq!(app.count("SELECT COUNT(*) FROM outbox").await, 1);
    wait_until_nothing_pending(&app).await;
    assert_eq!(server.messages().len(), 1, "only the real account got a mail");
}

#[tokio::test]
async fn an_admin_makes_a_reset_link_to_share() {
    let app = spawn_app().await;
    app.sign_in_admin().await;
    app.add_user("bob@acme.test", "bob's old long password", Role::User, false).await;
    let (bob,): (i64,) =
        sqlx::query_as("SELECT id FROM users WHERE email = 'bob@acme.test'").fetch_one(&app.db).await.unwrap();
    let res = app.post(&format!("/t/acme/members/{bob}/reset-link"), &[]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let html = app.page("/t/acme/members").await;
    let marker = r#"id="shared-link" type="text" value=""#;
    let start = html.find(marker).unwrap() + marker.len();
    let link = html[start..].split('"').next().unwrap().to_owned();
    let visitor = app.share();
    assert_eq!(
        visitor.post(&path_of(&link), &[("password", "bob's new long password")]).await.status(),
        StatusCode::SEE_OTHER
    );
    assert_eq!(visitor.sign_in("bob@acme.test", "bob's new long password").await.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn a_4xx_is_retried_on_schedule_and_then_delivered_with_the_same_message_id() {
    let server = TestSmtp::start(TlsMode::StartTls, server_script()).await;
    server.script().rcpt_replies.push_back("451 4.3.0 Mailbox busy, try again later".into());
    let app = mailing_app(&server, |_| {}).await;
    let started = app.now();
    app.post("/t/acme/invitations", &[("email", "later@example.test"), ("role", "user")]).await;

    let (status, attempts, error, message_id, next) =
        wait_for_some("the first attempt to fail and be rescheduled", WAIT, || async {
            Some(outbox_row(&app).await).filter(|row| row.1 == 1 && row.2.is_some())
        })
        .await;
    assert_eq!((status.as_str(), attempts), ("pending", 1));
    assert!(error.as_deref().unwrap().contains("451 4.3.0 Mailbox busy, try again later"), "{error:?}");
    assert_eq!(next, started + 30, "the 2nd attempt exactly 30 s after the 1st");
    let log = app.page("/t/acme/email-log").await;
    assert!(log.contains("later@example.test") && log.contains("Waiting") && log.contains("451 4.3.0"));

    // Not due a second early; due on the dot.
    app.stop_worker().await;
    app.advance(Duration::from_secs(29));
    assert!(!app.process_due_message().await, "not due before its time");
    app.advance(Duration::from_secs(1));
    app.start_worker();
    let mail = server.wait_for(1, 10).await.remove(0);
    let (status, attempts, _, same_id, _) = wait_for_status(&app, "sent").await;
    assert_eq!((status.as_str(), attempts), ("sent", 2));
    assert_eq!(same_id, message_id);
    assert_eq!(mail.header("Message-ID").unwrap(), message_id, "one Message-ID across attempts");
    let attempts: Vec<(i64, bool, i64)> =
        sqlx::query_as("SELECT attempt, ok, at FROM outbox_attempts ORDER BY id").fetch_all(&app.db).await.unwrap();
    assert_eq!(attempts, [(1, false, started), (2, true, started + 30)]);
}

#[tokio::test]
async fn retry_now_sends_a_waiting_message_before_its_time() {
    let server = TestSmtp::start(TlsMode::StartTls, server_script()).await;
    server.script().rcpt_replies.push_back("451 4.3.0 Mailbox busy, try again later".into());
    let app = mailing_app(&server, |_| {}).await;
    app.post("/t/acme/invitations", &[("email", "later@example.test"), ("role", "user")]).await;
    let (_, _, _, message_id, next) = wait_for_some("the first attempt to fail and be rescheduled", WAIT, || async {
        Some(outbox_row(&app).await).filter(|row| row.1 == 1 && row.2.is_some())
    })
    .await;
    assert_eq!(next, app.now() + 30);

    // The clock does not move: only the button makes it due.
    let (id,): (i64,) = sqlx::query_as("SELECT id FROM outbox").fetch_one(&app.db).await.unwrap();
    let res = app.post(&format!("/t/acme/email-log/{id}/retry"), &[]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let mail = server.wait_for(1, 10).await.remove(0);
    let (status, attempts, _, same_id, _) = wait_for_status(&app, "sent").await;
    assert_eq!((status.as_str(), attempts), ("sent", 2));
    assert_eq!(same_id, message_id);
    assert_eq!(mail.header("Message-ID").unwrap(), message_id, "one Message-ID across attempts");
    let attempts: Vec<(i64, bool)> =
        sqlx::query_as("SELECT attempt, ok FROM outbox_attempts ORDER BY id").fetch_all(&app.db).await.unwrap();
    assert_eq!(attempts, [(1, false), (2, true)]);
}

#[tokio::test]
async fn a_5xx_fails_at_once_without_retrying() {
    let server = TestSmtp::start(TlsMode::StartTls, server_script()).await;
    server.script().rcpt_replies.push_back("550 5.1.1 No such user here".into());
    let app = mailing_app(&server, |_| {}).await;
    app.post("/t/acme/invitations", &[("email", "gone@example.test"), ("role", "user")]).await;
    let (_, attempts, error, _, _) = wait_for_status(&app, "failed").await;
    assert_eq!(attempts, 1);
    assert!(error
        .unwrap()
        .contains("The server refused the recipient gone@example.test: 550 5.1.1 No such user here."));
    assert!(app.page("/t/acme/email-log").await.contains("Failed"));
    // The invitations list says it was not delivered, and why (it was never "sent").
    let page = app.page("/t/acme/invitations").await;
    let row = &page[page.find("gone@example.test</td>").expect("the invitation's row")..];
    let delivery = &row[row.find("data-delivery>").unwrap()..];
    let delivery = &delivery[..delivery.find("</td>").unwrap()];
    assert!(delivery.contains("Not delivered"), "{delivery}");
    assert!(delivery.contains("550 5.1.1 No such user here"), "{delivery}");
    // Never due again, however long one waits (past the longest retry delay, 12 h).
    app.stop_worker().await;
    app.advance(Duration::from_secs(30 * 24 * 60 * 60));
    assert!(!app.process_due_message().await, "no second attempt");
    assert_eq!(outbox_row(&app).await.1, 1);
}

#[tokio::test]
async fn a_worker_killed_mid_send_leaves_the_message_for_the_next_one() {
    let server = TestSmtp::start(TlsMode::StartTls, server_script()).await;
    server.script().hang_after_data = true;
    let app = mailing_app(&server, |c| c.send_timeout = Duration::from_secs(30)).await;
    let lease = app.state.config.outbox_lease;
    app.post("/t/acme/invitations", &[("email", "durable@example.test"), ("role", "user")]).await;

    // The worker holds the message and waits for the server's answer to its data.
    wait_until("the SMTP server to hold the message unanswered", WAIT, || async { server.hung() == 1 }).await;
    let (lease_until,): (Option<i64>,) =
        sqlx::query_as("SELECT lease_until FROM outbox").fetch_one(&app.db).await.unwrap();
    assert_eq!(lease_until, Some(app.now() + lease.as_secs() as i64));
    app.kill_worker_mid_send();
    assert!(server.messages().is_empty(), "the first attempt never completed");
    assert_eq!(outbox_row(&app).await.0, "pending");

    // Another worker leaves it alone while the dead one's lease lasts…
    server.script().hang_after_data = false;
    app.advance(lease - Duration::from_secs(1));
    assert!(!app.process_due_message().await, "held until the lease runs out");
    // …and takes it over when the lease has run out.
    app.advance(Duration::from_secs(1));
    app.start_worker();
    let mail = server.wait_for(1, 10).await.remove(0);
    let (status, attempts, _, message_id, _) = wait_for_status(&app, "sent").await;
    assert_eq!((status.as_str(), attempts), ("sent", 2));
    assert_eq!(mail.header("Message-ID").unwrap(), message_id);
    assert_eq!(mail.to, ["durable@example.test"]);
}

#[tokio::test]
async fn mail_waits_while_email_is_off_without_using_attempts_and_goes_when_it_is_on() {
    let server = TestSmtp::start(TlsMode::StartTls, server_script()).await;
    let app = mailing_app(&server, |_| {}).await;
    app.stop_worker().await;
    app.post("/t/acme/invitations", &[("email", "queued@example.test"), ("role", "user")]).await;
    app.post("/t/acme/settings/email", &[]).await;
    // What the worker does each time it looks: nothing, however often and however late
    // (hours pass here; the admin's session, 12 h at most, lasts).
    for _ in 0..3 {
        assert!(!app.process_due_message().await, "not taken while email is off");
        app.advance(Duration::from_secs(60 * 60));
    }
    let (status, attempts, error, _, _) = outbox_row(&app).await;
    assert_eq!((status.as_str(), attempts, error), ("pending", 0, None), "waits, no attempt used");
    assert!(server.messages().is_empty());
    assert!(app.page("/t/acme/email-log").await.contains("Email is off"));

    // Turning email on is enough: no retry needed.
    app.start_worker();
    app.post("/t/acme/settings/email", &[("enabled", "on")]).await;
    assert_eq!(server.wait_for(1, 10).await[0].to, ["queued@example.test"]);
    assert_eq!(wait_for_status(&app, "sent").await.1, 1);
}

#[tokio::test]
async fn a_message_whose_link_was_replaced_is_not_sent() {
    let server = TestSmtp::start(TlsMode::StartTls, server_script()).await;
    let app = mailing_app(&server, |_| {}).await;
    app.stop_worker().await;
    app.post("/t/acme/invitations", &[("email", "twice@example.test"), ("role", "user")]).await;
    let (id,): (i64,) = sqlx::query_as("SELECT id FROM invitations").fetch_one(&app.db).await.unwrap();
    app.post(&format!("/t/acme/invitations/{id}/regenerate"), &[]).await;
    app.start_worker();
    let mail = server.wait_for(1, 10).await.remove(0);
    wait_until_nothing_pending(&app).await;
    assert_eq!(server.messages().len(), 1, "only the newer link is mailed");
    let link = link_in(&mail, &format!("{}/invite/", app.base));
    assert_eq!(app.share().get(&path_of(&link)).await.status(), StatusCode::OK, "and it is the one that works");
    let rows: Vec<(String, Option<String>)> =
        sqlx::query_as("SELECT status, last_error FROM outbox ORDER BY id").fetch_all(&app.db).await.unwrap();
    assert_eq!(rows[0].0, "failed");
    assert!(rows[0].1.as_deref().unwrap().starts_with("Not sent: the link in this message was replaced"));
    assert_eq!(rows[1].0, "sent");
}

#[tokio::test]
async fn no_reset_link_for_another_admin_or_an_operator() {
    let app = spawn_app().await;
    app.sign_in_admin().await;
    app.add_user("peer@acme.test", "peer's long password", Role::Admin, false).await;
    app.add_user("op@acme.test", "operator's long password", Role::User, true).await;
    for email in ["peer@acme.test", "op@acme.test"] {
        let (id,): (i64,) =
            sqlx::query_as("SELECT id FROM users WHERE email = ?").bind(email).fetch_one(&app.db).await.unwrap();
        let res = app.post(&format!("/t/acme/members/{id}/reset-link"), &[]).await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{email}");
        assert!(res.text().await.unwrap().contains("Reset links can be made for organizers and users only."));
        let members = app.page("/t/acme/members").await;
        assert!(!members.contains(&format!("/members/{id}/reset-link")), "no button for {email}");
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM password_resets").await, 0);
}

#[tokio::test]
async fn a_reset_link_stops_working_when_the_tenant_is_suspended() {
    let app = spawn_app().await;
    app.sign_in_admin().await;
    let link = reset_link_for_bob(&app).await;
    sqlx::query("UPDATE tenants SET suspended = 1").execute(&app.db).await.unwrap();
    let visitor = app.share();
    assert_eq!(visitor.get(&path_of(&link)).await.status(), StatusCode::GONE);
    let res = visitor.post(&path_of(&link), &[("password", "bob's new long password")]).await;
    assert_eq!(res.status(), StatusCode::GONE);
}

/// The invitation and reset emails, the pages and the flashes say the lifetime the token
/// store gives the links.
#[tokio::test]
async fn the_emails_and_pages_say_the_link_lifetimes_the_token_store_uses() {
    use relaydesk::domain::account::DisplayName;
    use relaydesk::store::tokens::{INVITATION_LIFETIME, RESET_LIFETIME};
    use relaydesk::words::duration;

    let (invitation, reset) = (duration(INVITATION_LIFETIME), duration(RESET_LIFETIME));
    assert_eq!((invitation.as_str(), reset.as_str()), ("7 days", "1 hour"));
    let server = TestSmtp::start(TlsMode::StartTls, server_script()).await;
    let app = mailing_app(&server, |_| {}).await;

    let page = app.page("/t/acme/invitations").await;
    assert!(page.contains(&format!("with a link that works once, within {invitation}.")), "{page}");
    app.post("/t/acme/invitations", &[("email", "newbie@example.test"), ("role", "user")]).await;
    let page = app.page("/t/acme/invitations").await;
    assert!(page.contains(&format!("The link works once, within {invitation}.")));
    let mail = server.wait_for(1, 10).await.remove(0);
    assert!(
        mail.text_body().contains(&format!("Open this link within {invitation} to choose")),
        "{}",
        mail.text_body()
    );
    let (lifetime,): (i64,) =
        sqlx::query_as("SELECT expires_at - created_at FROM invitations").fetch_one(&app.db).await.unwrap();
    assert_eq!(lifetime, INVITATION_LIFETIME.as_secs() as i64);
    let join = app.share().page(&path_of(&link_in(&mail, &format!("{}/invite/", app.base)))).await;
    let name = crate::smtp::input_tag(&join, "display_name");
    assert!(name.contains(&format!(r#"maxlength="{}""#, DisplayName::MAX_LEN)), "{name}");
    assert!(!crate::smtp::input_tag(&join, "password").contains("maxlength"));

    let visitor = app.share();
    let forgot = visitor.page("/t/acme/password/forgot").await;
    assert!(forgot.contains(&format!("The link works once, within {reset}.")), "{forgot}");
    visitor.post("/t/acme/password/forgot", &[("email", ADMIN_EMAIL)]).await;
    let mail = server.wait_for(2, 10).await.remove(1);
    assert!(mail.text_body().contains(&format!("open this link within {reset}:")), "{}", mail.text_body());
    let (lifetime,): (i64,) =
        sqlx::query_as("SELECT expires_at - created_at FROM password_resets").fetch_one(&app.db).await.unwrap();
    assert_eq!(lifetime, RESET_LIFETIME.as_secs() as i64);
}

/// Adds Bob (a user) and makes a reset link for him as the signed-in admin would.
async fn reset_link_for_bob(app: &TestApp) -> String {
    app.add_user("bob@acme.test", "bob's old long password", Role::User, false).await;
    let (bob,): (i64,) =
        sqlx::query_as("SELECT id FROM users WHERE email = 'bob@acme.test'").fetch_one(&app.db).await.unwrap();
    app.post(&format!("/t/acme/members/{bob}/reset-link"), &[]).await;
    shared_link(&app.page("/t/acme/members").await)
}

/// The shared link shown once on a page after making it.
fn shared_link(html: &str) -> String {
    let marker = r#"id="shared-link" type="text" value=""#;
    let start = html.find(marker).expect("the link is shown") + marker.len();
    html[start..].split('"').next().unwrap().to_owned()
}

#[tokio::test]
async fn an_invitation_link_works_for_7_days() {
    let app = spawn_app().await;
    app.sign_in_admin().await;
    app.post("/t/acme/invitations", &[("email", "late@example.test"), ("role", "user")]).await;
    let link = shared_link(&app.page("/t/acme/invitations").await);
    let (created, expires): (i64, i64) =
        sqlx::query_as("SELECT created_at, expires_at FROM invitations").fetch_one(&app.db).await.unwrap();
    assert_eq!((created, expires), (app.now(), app.now() + 7 * 24 * 60 * 60));

    let visitor = app.share();
    app.advance(Duration::from_secs(7 * 24 * 60 * 60 - 1));
    let form = visitor.page(&path_of(&link)).await;
    assert!(form.contains("late@example.test"), "works a second before it expires");
    app.advance(Duration::from_secs(1));
    assert_eq!(visitor.get(&path_of(&link)).await.status(), StatusCode::GONE);
    let token_field = csrf_in(&form);
    let res = visitor
        .post_raw(
            &path_of(&link),
            &[("display_name", "Late"), ("password", "late's long password"), ("csrf_token", &token_field)],
        )
        .await;
    assert_eq!(res.status(), StatusCode::GONE, "an expired link cannot be accepted");
    assert_eq!(app.count("SELECT COUNT(*) FROM users WHERE email = 'late@example.test'").await, 0);
}

#[tokio::test]
async fn a_reset_link_works_for_an_hour() {
    let app = spawn_app().await;
    app.sign_in_admin().await;
    let link = reset_link_for_bob(&app).await;

    let visitor = app.share();
    app.advance(Duration::from_secs(60 * 60 - 1));
    assert!(visitor.page(&path_of(&link)).await.contains("bob@acme.test"), "works a second before it expires");
    app.advance(Duration::from_secs(1));
    assert_eq!(visitor.get(&path_of(&link)).await.status(), StatusCode::GONE);
    let res = visitor.post(&path_of(&link), &[("password", "bob's new long password")]).await;
    assert_eq!(res.status(), StatusCode::GONE, "an expired link cannot be used");
    assert_eq!(visitor.sign_in("bob@acme.test", "bob's old long password").await.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn mail_whose_link_expired_before_it_went_out_is_not_sent() {
    let server = TestSmtp::start(TlsMode::StartTls, server_script()).await;
    let app = mailing_app(&server, |_| {}).await;
    app.stop_worker().await;
    app.post("/t/acme/password/forgot", &[("email", ADMIN_EMAIL)]).await;
    // Email stays on, but the worker is down for as long as the link lives.
    app.advance(Duration::from_secs(60 * 60));
    assert!(app.process_due_message().await, "the message is taken");
    let (status, attempts, error, _, _) = outbox_row(&app).await;
    assert_eq!((status.as_str(), attempts), ("failed", 1));
    let error = error.unwrap();
    assert!(
        error.starts_with("Not sent: the link in this message was replaced by a newer one, used, or expired"),
        "{error}"
    );
    assert!(server.messages().is_empty());
}

/// Another tenant, `slug`, whose default profile sends through `server`, with email on;
/// returns its administrator's browser, signed in.
async fn mailing_tenant(app: &TestApp, slug: &str, server: &TestSmtp) -> TestApp {
    let email = format!("admin@{slug}.test");
    app.add_tenant(slug, &format!("Tenant {slug}"), &email, "their long password").await;
    let admin = app.share();
    assert_eq!(admin.sign_in_to(slug, &email, "their long password").await.status(), StatusCode::SEE_OTHER);
    let res = admin.post_form(&format!("/t/{slug}/smtp"), &profile_for("Relay", server, "starttls")).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "{slug}'s profile is saved");
    let res = admin.post(&format!("/t/{slug}/settings/email"), &[("enabled", "on")]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "{slug}'s email is on");
    admin
}

/// `count` tenants (`stuck0`, `stuck1`, …) sending through `black_hole`, each inviting 4
/// people.
async fn stuck_tenants(app: &TestApp, black_hole: &TestSmtp, count: usize) {
    for i in 0..count {
        let slug = format!("stuck{i}");
        let admin = mailing_tenant(app, &slug, black_hole).await;
        for n in 0..4 {
            let res = admin
                .post(&format!("/t/{slug}/invitations"), &[("email", &format!("p{n}@{slug}.test")), ("role", "user")])
                .await;
            assert_eq!(res.status(), StatusCode::SEE_OTHER);
        }
    }
}

/// The noisy neighbour: ten tenants whose server accepts the connection and then never
/// answers (a black hole) queue 4 invitations each; another tenant's invitation still
/// goes out at once. Each stuck tenant holds only its own few send slots, for at most the
/// send timeout (15 s, far longer than this test), and never more than its share.
#[tokio::test]
async fn stuck_tenants_do_not_delay_another_tenants_invitation() {
    let black_hole = TestSmtp::start(TlsMode::StartTls, Script { silent: true, ..server_script() }).await;
    let working = TestSmtp::start(TlsMode::StartTls, server_script()).await;
    let app = spawn_app().await;
    let per_profile = app.state.config.outbox_per_profile;
    assert_eq!(app.state.config.send_timeout, Duration::from_secs(15), "the default bound is what is tested");
    assert!(per_profile < 4, "each stuck tenant queues more mail than it may send at once");

    stuck_tenants(&app, &black_hole, 10).await;
    wait_until("every stuck tenant to hold its send slots", WAIT, || async {
        black_hole.connections() == 10 * per_profile
    })
    .await;

    let bravo = mailing_tenant(&app, "bravo", &working).await;
    let asked = std::time::Instant::now();
    let res = bravo.post("/t/bravo/invitations", &[("email", "newbie@bravo.test"), ("role", "user")]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let mail = working.wait_for(1, 10).await.remove(0);
    let took = asked.elapsed();
    assert_eq!(mail.to, ["newbie@bravo.test"]);
    // The target is under 2 s; the bound is generous so a busy machine does not fail it.
    assert!(took < Duration::from_secs(5), "bravo's invitation took {took:?}");

    // The stuck tenants are still waiting on their server, each with no more than its
    // share of connections, and nothing of theirs has failed or been sent.
    assert_eq!(black_hole.connections(), 10 * per_profile);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM outbox WHERE recipient LIKE '%@stuck%' AND status = 'pending'").await,
        40
    );
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM outbox_attempts a JOIN outbox o ON o.id = a.outbox_id WHERE o.recipient LIKE '%@stuck%'"
        )
        .await,
        0,
        "no attempt of theirs has ended"
    );
}

/// Stuck tenants holding most of a small worker's slots, with more mail waiting each: the
/// claims go on, and another tenant's invitation takes a free slot at once.
#[tokio::test]
async fn mail_waiting_behind_stuck_servers_does_not_stop_the_claims() {
    let black_hole = TestSmtp::start(TlsMode::StartTls, Script { silent: true, ..server_script() }).await;
    let working = TestSmtp::start(TlsMode::StartTls, server_script()).await;
    let app = spawn_app_with(|c| {
        c.outbox_concurrency = 8;
        c.outbox_per_profile = 1;
    })
    .await;
    // 6 stuck tenants with 4 invitations each: one send each (of 8 slots), the rest
    // waiting.
    stuck_tenants(&app, &black_hole, 6).await;
    wait_until("every stuck tenant to hold its send slot", WAIT, || async { black_hole.connections() == 6 }).await;

    let bravo = mailing_tenant(&app, "bravo", &working).await;
    let asked = std::time::Instant::now();
    let res = bravo.post("/t/bravo/invitations", &[("email", "newbie@bravo.test"), ("role", "user")]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let mail = working.wait_for(1, 10).await.remove(0);
    assert_eq!(mail.to, ["newbie@bravo.test"]);
    assert!(asked.elapsed() < Duration::from_secs(5), "bravo's invitation took {:?}", asked.elapsed());
    assert_eq!(black_hole.connections(), 6, "one send at a time per stuck profile");
}

/// The `relaydesk` binary serving the database in `dir`, as `relaydesk serve` runs it.
struct Process {
    child: tokio::process::Child,
    base: String,
}

impl Process {
    /// Starts it with a short send timeout and lease (so a test need not wait long for a
    /// dead process's lease to run out) and waits until it listens.
    async fn start(dir: &std::path::Path) -> Process {
        use tokio::io::AsyncBufReadExt;
        let mut cmd = tokio::process::Command::from(crate::cli::relaydesk(dir));
        let mut child = cmd
            .env("RELAYDESK_LISTEN", "127.0.0.1:0")
            .env("RELAYDESK_SEND_TIMEOUT", "2")
            // The relay on localhost serves organizations made with `tenant create`, which the
            // egress policy otherwise keeps off loopback: the operator lists it.
            .env("RELAYDESK_EGRESS_ALLOW", "localhost")
            .env("RELAYDESK_OUTBOX_LEASE", "4")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let mut lines = tokio::io::BufReader::new(child.stderr.take().unwrap()).lines();
        let base = tokio::time::timeout(WAIT, async {
            while let Some(line) = lines.next_line().await.unwrap() {
                if let Some(at) = line.find("address=") {
                    let address = line[at + "address=".len()..].split_whitespace().next().unwrap().to_owned();
                    return format!("http://{address}");
                }
            }
            panic!("relaydesk exited before listening");
        })
        .await
        .expect("relaydesk listens");
        // Keep reading its log so it never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Process { child, base }
    }

    /// SIGKILL: the process is gone at once, mid-send, with no chance to tidy up.
    async fn kill_9(mut self) {
        self.child.start_kill().unwrap();
        self.child.wait().await.unwrap();
    }
}

/// A browser signed in to `slug` on a running process.
async fn signed_in(base: &str, slug: &str, email: &str, password: &str) -> (reqwest::Client, String) {
    let (client, _) = new_client();
    let html = client.get(format!("{base}/t/{slug}/login")).send().await.unwrap().text().await.unwrap();
    let token = csrf_in(&html);
    let res = client
        .post(format!("{base}/t/{slug}/login"))
        .form(&[("email", email), ("password", password), ("csrf_token", &token)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "{email} signs in");
    // Signing in gives the session a new token.
    let html = client.get(format!("{base}/t/{slug}/smtp/new")).send().await.unwrap().text().await.unwrap();
    (client, csrf_in(&html))
}

/// kill -9 of the real binary while it drains mail of several tenants concurrently: the
/// mail it had delivered is recorded, the mail it held mid-send is taken over only once
/// its lease has run out, and in the end every message arrives exactly once.
#[tokio::test]
async fn kill_9_during_a_concurrent_drain_loses_nothing_and_sends_nothing_twice() {
    const TENANTS: usize = 4;
    const EACH: usize = 15;
    const BEFORE_THE_KILL: usize = 20;
    let server = TestSmtp::start(TlsMode::StartTls, server_script()).await;
    // The server accepts 20 messages, then holds every further one unanswered: the sends
    // in flight at that moment stay in flight until the kill.
    server.script().hang_after = Some(BEFORE_THE_KILL);
    let dir = tempfile::tempdir().unwrap();
    let slugs: Vec<String> = (0..TENANTS).map(|i| format!("tenant{i}")).collect();
    for slug in &slugs {
        let out = crate::cli::relaydesk(dir.path())
            .args(["tenant", "create", "--slug", slug, "--name", slug])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let mut create = crate::cli::relaydesk(dir.path())
            .args(["user", "create", "--tenant", slug, "--email", &format!("admin@{slug}.test"), "--role", "admin"])
            .arg("--password-stdin")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        use std::io::Write;
        create.stdin.take().unwrap().write_all(b"their long password\n").unwrap();
        assert!(create.wait().unwrap().success());
    }

    let first = Process::start(dir.path()).await;
    let mut admins = Vec::new();
    for slug in &slugs {
        let (client, token) = signed_in(&first.base, slug, &format!("admin@{slug}.test"), "their long password").await;
        let mut form: Vec<(&str, String)> = profile_for("Relay", &server, "starttls");
        form.push(("csrf_token", token.clone()));
        let res = client.post(format!("{}/t/{slug}/smtp", first.base)).form(&form).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        let res = client
            .post(format!("{}/t/{slug}/settings/email", first.base))
            .form(&[("enabled", "on"), ("csrf_token", &token)])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        admins.push((slug.clone(), client, token));
    }
    // Invitations from every tenant in turn; the worker sends them as they are queued.
    for n in 0..EACH {
        for (slug, client, token) in &admins {
            let email = format!("person{n}@{slug}.test");
            let res = client
                .post(format!("{}/t/{slug}/invitations", first.base))
                .form(&[("email", email.as_str()), ("role", "user"), ("csrf_token", token)])
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), StatusCode::SEE_OTHER);
        }
    }

    let db = sqlx::SqlitePool::connect(&format!("sqlite://{}", dir.path().join("data/relaydesk.db").display()))
        .await
        .unwrap();
    let count = |sql: &'static str| {
        let db = db.clone();
        async move { sqlx::query_scalar::<_, i64>(sql).fetch_one(&db).await.unwrap() }
    };
    // Every message the server accepted is recorded as sent, and messages are mid-send
    // (each send slot, 3 per profile by default, that had mail left holds one).
    wait_until("20 messages recorded as sent and mail held mid-send", WAIT, || async {
        count("SELECT COUNT(*) FROM outbox WHERE status = 'sent'").await == BEFORE_THE_KILL as i64
            && server.hung() >= TENANTS
    })
    .await;
    first.kill_9().await;
    let in_flight = server.hung();
    assert!(in_flight <= TENANTS * 3, "no more than 3 sends at once per profile: {in_flight}");
    let held: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT id, lease_until FROM outbox WHERE status = 'pending' AND lease_until IS NOT NULL ORDER BY id",
    )
    .fetch_all(&db)
    .await
    .unwrap();
    // Held: the mail mid-send, and the rest of each slot's batch, claimed for the same
    // connection and not reached before the kill.
    assert!(
        (in_flight..=TENANTS * EACH - BEFORE_THE_KILL).contains(&held.len()),
        "the mail held is the mail the dead process had claimed: {}",
        held.len()
    );
    assert_eq!(server.messages().len(), BEFORE_THE_KILL);

    // Restarted, with the server answering again: everything arrives.
    server.script().hang_after = None;
    let second = Process::start(dir.path()).await;
    let total = TENANTS * EACH;
    let received = server.wait_for(total, 30).await;
    wait_until("every message recorded as sent", WAIT, || async {
        count("SELECT COUNT(*) FROM outbox WHERE status = 'sent'").await == total as i64
    })
    .await;
    // Exactly once: one copy of each Message-ID and of each recipient, nothing more.
    let mut ids: Vec<String> = received.iter().map(|m| m.header("Message-ID").unwrap()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), total, "no message arrived twice");
    let mut to: Vec<String> = received.iter().flat_map(|m| m.to.clone()).collect();
    to.sort();
    to.dedup();
    assert_eq!(to.len(), total);
    assert_eq!(server.messages().len(), total, "nothing more arrived");
    // The held messages were taken over only after their lease ran out, as attempt 2.
    for (id, lease_until) in held {
        let (attempt, at): (i64, i64) =
            sqlx::query_as("SELECT attempt, at FROM outbox_attempts WHERE outbox_id = ? AND ok = 1")
                .bind(id)
                .fetch_one(&db)
                .await
                .unwrap();
        assert_eq!(attempt, 2, "message {id}");
        assert!(at >= lease_until, "message {id} was sent again at {at}, before its lease ended at {lease_until}");
    }
    second.kill_9().await;
}

/// A batch whose lease would run out mid-way (it waited for a slot, or its server is
/// slow) is leased again whole, and only while its claim still holds every message; it
/// never takes a message another claim or a recorded attempt has moved on.
#[tokio::test]
async fn a_batch_is_leased_again_only_while_its_claim_holds_every_message() {
    use relaydesk::store::outbox::{claim_due, lease_again};
    let server = TestSmtp::start(TlsMode::StartTls, server_script()).await;
    let app = mailing_app(&server, |_| {}).await;
    app.stop_worker().await;
    for i in 0..3 {
        app.post("/t/acme/invitations", &[("email", &format!("person{i}@example.test")), ("role", "user")]).await;
    }
    let leases = || async {
        sqlx::query_scalar::<_, Option<i64>>("SELECT lease_until FROM outbox ORDER BY id")
            .fetch_all(&app.db)
            .await
            .unwrap()
    };
    let due = claim_due(&app.db, 60, app.now(), 1, 1, 10, &[]).await.unwrap();
    let ids: Vec<i64> = due[0].msgs.iter().map(|m| m.id).collect();
    let held = due[0].lease_until;
    assert_eq!((ids.len(), held), (3, app.now() + 60));

    // Another lease than the claim's: nothing moves.
    assert!(!lease_again(&app.db, &ids, held - 1, held + 100).await.unwrap());
    assert_eq!(leases().await, [Some(held); 3]);
    // The claim's: all move.
    assert!(lease_again(&app.db, &ids, held, held + 100).await.unwrap());
    assert_eq!(leases().await, [Some(held + 100); 3]);
    // One of them recorded meanwhile: none moves.
    sqlx::query("UPDATE outbox SET status = 'sent', lease_until = NULL WHERE id = ?")
        .bind(ids[0])
        .execute(&app.db)
        .await
        .unwrap();
    assert!(!lease_again(&app.db, &ids, held + 100, held + 200).await.unwrap());
    assert_eq!(leases().await, [None, Some(held + 100), Some(held + 100)]);
}

/// Invites `n` people to acme with the worker stopped, then starts it: the mail is all
/// due at once.
async fn invite_while_stopped(app: &TestApp, n: usize) {
    app.stop_worker().await;
    for i in 0..n {
        let res =
            app.post("/t/acme/invitations", &[("email", &format!("person{i}@example.test")), ("role", "user")]).await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
    }
    app.start_worker();
}

/// Every message sent at its first attempt, none failed.
async fn all_sent_at_once(app: &TestApp, n: i64) {
    wait_until_nothing_pending(app).await;
    assert_eq!(app.count("SELECT COUNT(*) FROM outbox WHERE status = 'sent' AND attempts = 1").await, n);
    assert_eq!(app.count("SELECT COUNT(*) FROM outbox_attempts WHERE ok = 0").await, 0);
}

#[tokio::test]
async fn mail_for_one_profile_shares_a_connection_up_to_its_limit() {
    let server = TestSmtp::start(TlsMode::StartTls, server_script()).await;
    let app = mailing_app(&server, |c| {
        c.outbox_per_profile = 1;
        c.smtp_per_connection = 4;
    })
    .await;
    invite_while_stopped(&app, 10).await;
    let got = server.wait_for(10, 10).await;
    all_sent_at_once(&app, 10).await;
    assert_eq!(got.len(), 10);
    assert_eq!(server.connections(), 3, "4 + 4 + 2 messages, one STARTTLS and login per connection");
    assert!(got.iter().all(|m| m.tls && m.user.as_deref() == Some(ACCOUNT)));
}

/// A handful of messages due at once for a profile go over one connection, even with
/// free slots to spare; only more than that are spread over its slots.
#[tokio::test]
async fn a_profiles_few_messages_share_one_connection_and_more_are_spread() {
    let server = TestSmtp::start(TlsMode::StartTls, server_script()).await;
    let app = mailing_app(&server, |c| c.outbox_per_profile = 3).await;
    let few = relaydesk::store::outbox::FEW as usize;
    invite_while_stopped(&app, few).await;
    server.wait_for(few, 10).await;
    all_sent_at_once(&app, few as i64).await;
    assert_eq!(server.connections(), 1, "{few} messages, one connection");

    let server = TestSmtp::start(TlsMode::StartTls, server_script()).await;
    let app = mailing_app(&server, |c| c.outbox_per_profile = 3).await;
    invite_while_stopped(&app, 3 * few).await;
    server.wait_for(3 * few, 10).await;
    all_sent_at_once(&app, 3 * few as i64).await;
    // Three batches of five start together (a batch that ends first may hand its
    // connection to one that has not connected yet).
    let connections = server.connections();
    assert!((2..=3).contains(&connections), "{} messages spread over the profile's slots: {connections}", 3 * few);
}

/// A server that offers PIPELINING gets each message's MAIL, RCPT and DATA in one write
/// (in the clear or after STARTTLS); one that does not, one command at a time; over
/// SSL/TLS relaydesk does not see the offer and sends one at a time too.
#[tokio::test]
async fn the_envelope_is_pipelined_only_where_the_server_offers_it() {
    for (tls, offered, pipelined) in [
        (TlsMode::StartTls, true, true),
        (TlsMode::Plain, true, true),
        (TlsMode::StartTls, false, false),
        (TlsMode::Implicit, true, false),
    ] {
        let server = TestSmtp::start(tls, Script { no_pipelining: !offered, ..server_script() }).await;
        let form = match tls {
            TlsMode::StartTls => profile_for("Office", &server, "starttls"),
            TlsMode::Plain => crate::smtp::with(profile_for("Office", &server, "none"), "plain_login", "on"),
            TlsMode::Implicit => profile_for("Office", &server, "ssl"),
        };
        let app = mailing_app_with(&form, |c| {
            c.outbox_per_profile = 1;
            c.smtp_per_connection = 10;
        })
        .await;
        invite_while_stopped(&app, 3).await;
        let got = server.wait_for(3, 10).await;
        all_sent_at_once(&app, 3).await;
        assert_eq!(server.connections(), 1, "{tls:?}: one connection for the three");
        assert!(got.iter().all(|m| m.pipelined == pipelined), "{tls:?}, offered {offered}: pipelined {pipelined}");
        // With PIPELINING, the second and third envelopes went with the content before.
        let ahead = got.iter().filter(|m| m.ahead).count();
        assert_eq!(ahead, if pipelined { 2 } else { 0 }, "{tls:?}, offered {offered}");
        assert!(!got[0].ahead);
        let mut to: Vec<String> = got.iter().flat_map(|m| m.to.clone()).collect();
        to.sort();
        assert_eq!(to, ["person0@example.test", "person1@example.test", "person2@example.test"]);
    }
}

/// A refusal of an envelope sent ahead is the next message's, read as its own: the
/// message before it stays delivered, and the one after goes over a new connection.
#[tokio::test]
async fn a_refused_envelope_sent_ahead_fails_only_its_own_message() {
    let server = TestSmtp::start(TlsMode::StartTls, server_script()).await;
    server
        .script()
        .rcpt_replies
        .extend(["250 2.1.5 Recipient OK".to_owned(), "550 5.1.1 No such user here".to_owned()]);
    let app = mailing_app(&server, |c| {
        c.outbox_per_profile = 1;
        c.smtp_per_connection = 10;
    })
    .await;
    invite_while_stopped(&app, 3).await;
    server.wait_for(2, 10).await;
    wait_until_nothing_pending(&app).await;
    let status = |email: &'static str| {
        let app = &app;
        async move {
            sqlx::query_as::<_, (String, Option<String>, i64)>(
                "SELECT status, last_error, attempts FROM outbox WHERE recipient = ?",
            )
            .bind(email)
            .fetch_one(&app.db)
            .await
            .unwrap()
        }
    };
    assert_eq!(status("person0@example.test").await, ("sent".to_owned(), None, 1));
    let (state, error, attempts) = status("person1@example.test").await;
    assert_eq!((state.as_str(), attempts), ("failed", 1));
    assert!(error.as_deref().is_some_and(|e| e.contains("550 5.1.1")), "{error:?}");
    assert_eq!(status("person2@example.test").await, ("sent".to_owned(), None, 1));
    let got = server.messages();
    let mut to: Vec<String> = got.iter().flat_map(|m| m.to.clone()).collect();
    to.sort();
    assert_eq!(to, ["person0@example.test", "person2@example.test"]);
    assert!(got.iter().all(|m| !m.ahead), "the one after the refusal started a new connection");
    assert_eq!(server.connections(), 2);
}

#[tokio::test]
async fn a_connection_is_not_reused_after_the_profile_is_saved_again() {
    let server = TestSmtp::start(TlsMode::StartTls, server_script()).await;
    let app = mailing_app(&server, |c| c.outbox_per_profile = 1).await;
    let invite = |email: &'static str| {
        let app = &app;
        async move {
            let res = app.post("/t/acme/invitations", &[("email", email), ("role", "user")]).await;
            assert_eq!(res.status(), StatusCode::SEE_OTHER);
        }
    };
    invite("one@example.test").await;
    server.wait_for(1, 10).await;
    invite("two@example.test").await;
    server.wait_for(2, 10).await;
    assert_eq!(server.connections(), 1, "the second message went over the first one's connection");

    // The profile is saved with its password entered again (sealed anew) and another host
    // name for the same server: the open connection is not used for its mail any more.
    let (id,): (i64,) = sqlx::query_as("SELECT id FROM smtp_profiles").fetch_one(&app.db).await.unwrap();
    let form = crate::smtp::with(profile_for("Office", &server, "starttls"), "host", "127.0.0.1");
    let res = app.post_form(&format!("/t/acme/smtp/{id}"), &form).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    invite("three@example.test").await;
    server.wait_for(3, 10).await;
    assert_eq!(server.connections(), 2);
    // Saved again unchanged but for the password typed in anew: a new connection again.
    let res = app.post_form(&format!("/t/acme/smtp/{id}"), &form).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    invite("four@example.test").await;
    server.wait_for(4, 10).await;
    assert_eq!(server.connections(), 3);
    all_sent_at_once(&app, 4).await;
}

#[tokio::test]
async fn a_connection_the_server_dropped_is_replaced_without_using_an_attempt() {
    let server = TestSmtp::start(TlsMode::StartTls, Script { drop_after: Some(1), ..server_script() }).await;
    let app = mailing_app(&server, |c| c.outbox_per_profile = 1).await;
    invite_while_stopped(&app, 3).await;
    server.wait_for(3, 10).await;
    all_sent_at_once(&app, 3).await;
    assert_eq!(server.connections(), 3, "one connection per message, the server dropping each after one");
}

#[tokio::test]
async fn a_failed_transaction_closes_its_connection() {
    let server = TestSmtp::start(TlsMode::StartTls, server_script()).await;
    server.script().rcpt_replies.push_back("550 5.1.1 No such user here".into());
    let app = mailing_app(&server, |c| c.outbox_per_profile = 1).await;
    invite_while_stopped(&app, 2).await;
    server.wait_for(1, 10).await;
    wait_until_nothing_pending(&app).await;
    assert_eq!(app.count("SELECT COUNT(*) FROM outbox WHERE status = 'failed'").await, 1);
    assert_eq!(app.count("SELECT COUNT(*) FROM outbox WHERE status = 'sent'").await, 1);
    assert_eq!(server.connections(), 2, "after the refusal the next message connected anew");
}

#[tokio::test]
async fn an_idle_connection_is_closed() {
    let server = TestSmtp::start(TlsMode::StartTls, server_script()).await;
    let app = mailing_app(&server, |c| c.smtp_idle = Duration::from_secs(1)).await;
    app.post("/t/acme/invitations", &[("email", "one@example.test"), ("role", "user")]).await;
    server.wait_for(1, 10).await;
    // Real time: the pool measures idleness by the monotonic clock.
    wait_until("the idle connection to be closed", WAIT, || async { server.ended() == 1 }).await;
    assert_eq!(server.connections(), 1);
}

/// A profile's optional send rate (`max_per_minute`, set here as its form will set it):
/// mail past it waits for the next minute without using an attempt.
#[tokio::test]
async fn mail_past_a_profiles_send_rate_waits_without_using_an_attempt() {
    let server = TestSmtp::start(TlsMode::StartTls, server_script()).await;
    let app = mailing_app(&server, |_| {}).await;
    sqlx::query("UPDATE smtp_profiles SET max_per_minute = 2").execute(&app.db).await.unwrap();
    invite_while_stopped(&app, 5).await;
    server.wait_for(2, 10).await;
    let waiting = || async {
        let rows: Vec<(String, i64)> =
            sqlx::query_as("SELECT status, attempts FROM outbox ORDER BY id").fetch_all(&app.db).await.unwrap();
        (rows.iter().filter(|r| r.0 == "sent").count(), rows.iter().filter(|r| r.0 == "pending" && r.1 == 0).count())
    };
    // The worker done with what it took: 2 sent, 3 waiting untouched, however often it looks.
    app.stop_worker().await;
    assert_eq!(waiting().await, (2, 3));
    assert_eq!(server.messages().len(), 2);

    // A minute on, 2 more; another minute, the last.
    app.start_worker();
    app.advance(Duration::from_secs(60));
    server.wait_for(4, 10).await;
    app.stop_worker().await;
    assert_eq!(waiting().await, (4, 1));
    app.start_worker();
    app.advance(Duration::from_secs(60));
    server.wait_for(5, 10).await;
    all_sent_at_once(&app, 5).await;
}

/// A profile without a rate (the default, and every profile before the column existed)
/// sends as fast as its share of send slots allows.
#[tokio::test]
async fn a_profile_without_a_send_rate_is_not_held_back() {
    let server = TestSmtp::start(TlsMode::StartTls, server_script()).await;
    let app = mailing_app(&server, |_| {}).await;
    let (rate,): (Option<i64>,) =
        sqlx::query_as("SELECT max_per_minute FROM smtp_profiles").fetch_one(&app.db).await.unwrap();
    assert_eq!(rate, None);
    invite_while_stopped(&app, 8).await;
    server.wait_for(8, 10).await;
    all_sent_at_once(&app, 8).await;
}
