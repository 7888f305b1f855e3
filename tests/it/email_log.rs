//! The email log: test emails beside the outbox's mail, the profile and the server's final
//! reply of each line, paging newest first, the status filter, no retry for a permanent
//! failure, the row a retry sends back to the page's script, and times to the second
//! when under a minute away.

use std::time::Duration;

use relaydesk::store::TenantId;
use relaydesk::web::email_log::{MSG_PAGE, MSG_RETRY_FINAL, MSG_STATUS, PER_PAGE, ROW_HEADER};
use reqwest::StatusCode;

use crate::helpers::*;
use crate::sending::profile_for;
use crate::smtp_server::{Script, TestSmtp, TlsMode};

const ACCOUNT: &str = "mailer@acme.test";
/// 2026-01-15 12:30:00 UTC.
const NOON: i64 = 1_768_480_200;

fn script() -> Script {
    Script { auth: Some((ACCOUNT.into(), crate::smtp::PASSWORD.into())), ..Script::default() }
}

/// An app at [`NOON`] whose acme tenant sends through `server` with the default profile
/// `Office`, email on, the admin signed in.
async fn mailing_app(server: &TestSmtp) -> TestApp {
    let app = spawn_app().await;
    app.clock.set(NOON);
    app.sign_in_admin().await;
    app.create_profile(&profile_for("Office", server, "starttls")).await;
    let res = app.post("/t/acme/settings/email", &[("enabled", "on")]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    app
}

/// The `<tr>` of the log line marked `marker` (`data-outbox-id="3"`), from an HTML page.
fn row<'a>(html: &'a str, marker: &str) -> &'a str {
    let start = html.find(marker).unwrap_or_else(|| panic!("{marker} in {html}"));
    let start = html[..start].rfind("<tr").unwrap();
    &html[start..start + html[start..].find("</tr>").unwrap()]
}

/// The text of every `<tr data-…-id>` of a page, in order: one line per row.
fn rows(html: &str) -> Vec<String> {
    html.split("<tr ")
        .skip(1)
        .filter(|r| r.starts_with("data-outbox-id") || r.starts_with("data-test-email-id"))
        .map(|r| r[..r.find("</tr>").unwrap()].to_owned())
        .collect()
}

async fn outbox_ids(app: &TestApp) -> Vec<i64> {
    sqlx::query_scalar("SELECT id FROM outbox ORDER BY id").fetch_all(&app.db).await.unwrap()
}

/// Adds an outbox message written at `created_at` straight to the table (no worker takes
/// it: the tenant has no default profile, or it is failed).
async fn insert_message(app: &TestApp, tenant: TenantId, n: i64, status: &str, attempts: i64, created_at: i64) -> i64 {
    sqlx::query_scalar(
        "INSERT INTO outbox (tenant_id, kind, recipient, subject, message_id, status, attempts,
             next_attempt_at, created_at, permanent)
         VALUES (?, 'invitation', ?, 'You are invited', ?, ?, ?, ?, ?, 0) RETURNING id",
    )
    .bind(tenant.0)
    .bind(format!("person{n}@example.test"))
    .bind(format!("<{n}@log.test>"))
    .bind(status)
    .bind(attempts)
    .bind(created_at + 3600)
    .bind(created_at)
    .fetch_one(&app.db)
    .await
    .unwrap()
}

#[tokio::test]
async fn test_emails_are_in_the_log_with_their_profile_and_the_servers_reply() {
    let server = TestSmtp::start(TlsMode::StartTls, script()).await;
    server.script().data_replies.push_back("250 2.0.0 Ok: queued as 4F2A9C".into());
    let app = mailing_app(&server).await;
    let id: i64 = sqlx::query_scalar("SELECT id FROM smtp_profiles").fetch_one(&app.db).await.unwrap();

    let res = app.post(&format!("/t/acme/smtp/{id}/test"), &[("to", "ada@example.test")]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    app.advance(Duration::from_secs(5));
    server.script().rcpt_replies.push_back("550 5.1.1 No such user here".into());
    let res = app.post(&format!("/t/acme/smtp/{id}/test"), &[("to", "nobody@example.test")]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);

    let stored: Vec<(String, String, String, bool, String, String, i64)> = sqlx::query_as(
        "SELECT profile, recipient, subject, ok, reply, sent_by, created_at FROM test_emails WHERE tenant_id = ? \
         ORDER BY id",
    )
    .bind(app.tenant.0)
    .fetch_all(&app.db)
    .await
    .unwrap();
    assert_eq!(
        stored,
        [
            (
                "Office".into(),
                "ada@example.test".into(),
                "relaydesk test email: Office".into(),
                true,
                "250 2.0.0 Ok: queued as 4F2A9C".into(),
                ADMIN_EMAIL.into(),
                NOON
            ),
            (
                "Office".into(),
                "nobody@example.test".into(),
                "relaydesk test email: Office".into(),
                false,
                "The server refused the recipient nobody@example.test: 550 5.1.1 No such user here. Check the address."
                    .into(),
                ADMIN_EMAIL.into(),
                NOON + 5
            ),
        ]
    );

    let html = app.page("/t/acme/email-log").await;
    let lines = rows(&html);
    assert_eq!(lines.len(), 2, "{html}");
    // Newest first: the refused one, then the delivered one.
    assert!(lines[0].contains("nobody@example.test") && lines[0].contains(r#"data-status="failed""#), "{}", lines[0]);
    assert!(lines[1].contains("ada@example.test") && lines[1].contains(r#"data-status="sent""#), "{}", lines[1]);
    for line in &lines {
        assert!(line.contains("Test email") && line.contains(r#"<td data-label="Profile">Office</td>"#), "{line}");
        assert!(!line.contains("Retry now"), "a test email is not retried: {line}");
    }
    assert!(lines[1].contains("250 2.0.0 Ok: queued as 4F2A9C"), "{}", lines[1]);
    assert!(lines[0].contains("550 5.1.1 No such user here"), "{}", lines[0]);
}

#[tokio::test]
async fn a_delivered_message_names_its_profile_and_the_servers_final_reply() {
    let server = TestSmtp::start(TlsMode::StartTls, script()).await;
    server.script().data_replies.push_back("250 2.0.0 Ok: queued as 77AB01".into());
    let app = mailing_app(&server).await;
    app.post("/t/acme/invitations", &[("email", "newbie@example.test"), ("role", "user")]).await;
    // A scripted reply: the server answers it without keeping the message, so wait for the row.
    wait_until("the invitation to be recorded as sent", WAIT, || async {
        app.count("SELECT COUNT(*) FROM outbox WHERE status = 'sent'").await == 1
    })
    .await;
    let attempt: (String, Option<String>, Option<String>) =
        sqlx::query_as("SELECT profile, reply, error FROM outbox_attempts").fetch_one(&app.db).await.unwrap();
    assert_eq!(attempt, ("Office".into(), Some("250 2.0.0 Ok: queued as 77AB01".into()), None));

    let html = app.page("/t/acme/email-log").await;
    let id = outbox_ids(&app).await[0];
    let line = row(&html, &format!(r#"data-outbox-id="{id}""#));
    assert!(line.contains("newbie@example.test") && line.contains("Invitation"), "{line}");
    assert!(line.contains(r#"<td data-label="Profile">Office</td>"#), "{line}");
    assert!(
        line.contains(r#"<td class="server-reply" data-label="Server's reply">250 2.0.0 Ok: queued as 77AB01</td>"#),
        "{line}"
    );
    // Sent at NOON, which is now: to the second.
    assert!(line.contains("2026-01-15 12:30:00 UTC"), "{line}");
    assert!(!line.contains("Retry now"), "{line}");
}

#[tokio::test]
async fn a_permanent_failure_is_not_offered_a_retry_and_a_retry_is_refused() {
    let server = TestSmtp::start(TlsMode::StartTls, script()).await;
    server.script().rcpt_replies.push_back("550 5.1.1 No such user here".into());
    let app = mailing_app(&server).await;
    app.post("/t/acme/invitations", &[("email", "gone@example.test"), ("role", "user")]).await;
    wait_until("the invitation to fail", WAIT, || async {
        app.count("SELECT COUNT(*) FROM outbox WHERE status = 'failed'").await == 1
    })
    .await;
    let id = outbox_ids(&app).await[0];
    assert_eq!(app.count("SELECT permanent FROM outbox").await, 1);

    let html = app.page("/t/acme/email-log").await;
    let line = row(&html, &format!(r#"data-outbox-id="{id}""#));
    assert!(line.contains("Failed") && line.contains("for good"), "{line}");
    assert!(
        line.contains("The server refused the recipient gone@example.test: 550 5.1.1 No such user here."),
        "{line}"
    );
    assert!(line.contains(r#"<td data-label="Profile">Office</td>"#), "{line}");
    assert!(!line.contains("Retry now"), "{line}");

    // Asked for anyway (an old page, a script): refused, and nothing changes.
    let res = app.post(&format!("/t/acme/email-log/{id}/retry"), &[]).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.text().await.unwrap().contains(&MSG_RETRY_FINAL.replace('\'', "&#39;")));
    let (status, attempts): (String, i64) =
        sqlx::query_as("SELECT status, attempts FROM outbox").fetch_one(&app.db).await.unwrap();
    assert_eq!((status.as_str(), attempts), ("failed", 1));
    assert_eq!(app.count("SELECT COUNT(*) FROM audit_log WHERE action = 'email.retried'").await, 0);
}

#[tokio::test]
async fn a_message_that_used_up_its_attempts_may_be_retried() {
    let app = spawn_app().await;
    app.sign_in_admin().await;
    let now = app.now();
    let id = insert_message(&app, app.tenant, 1, "failed", 8, now - 100).await;
    let html = app.page("/t/acme/email-log").await;
    let line = row(&html, &format!(r#"data-outbox-id="{id}""#));
    assert!(line.contains("Retry now") && line.contains("8 attempts") && !line.contains("for good"), "{line}");

    let res = app.post(&format!("/t/acme/email-log/{id}/retry"), &[]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let (status, attempts, next): (String, i64, i64) =
        sqlx::query_as("SELECT status, attempts, next_attempt_at FROM outbox").fetch_one(&app.db).await.unwrap();
    assert_eq!((status.as_str(), attempts, next), ("pending", 7, now), "one more attempt, due now");
}

#[tokio::test]
async fn the_log_pages_newest_first_and_filters_by_status() {
    let app = spawn_app().await;
    app.sign_in_admin().await;
    let start = app.now() - 10_000;
    // 120 messages, one a second: every third failed, the rest waiting.
    for n in 0..120 {
        let status = if n % 3 == 0 { "failed" } else { "pending" };
        insert_message(&app, app.tenant, n, status, 1, start + n).await;
    }
    // Another tenant's mail is never shown.
    let globex = app.add_tenant("globex", "Globex", "hank@globex.test", "hank's long password").await;
    insert_message(&app, globex, 999, "failed", 1, start + 500).await;

    let first = app.page("/t/acme/email-log").await;
    let lines = rows(&first);
    assert_eq!(lines.len() as i64, PER_PAGE);
    assert!(lines[0].contains("person119@example.test"), "{}", lines[0]);
    assert!(lines[49].contains("person70@example.test"), "{}", lines[49]);
    assert!(!first.contains(r#"id="newer""#));
    assert!(
        first.contains(r#"<a href="/t/acme/email-log?status=all&#38;page=2" rel="next" id="older">Older</a>"#),
        "{}",
        &first[first.find("pagination").unwrap()..]
    );

    let third = app.page("/t/acme/email-log?status=all&page=3").await;
    let lines = rows(&third);
    assert_eq!(lines.len(), 20);
    assert!(lines[0].contains("person19@example.test") && lines[19].contains("person0@example.test"));
    assert!(third.contains(r#"<a href="/t/acme/email-log?status=all&#38;page=2" rel="prev" id="newer">Newer</a>"#));
    assert!(!third.contains(r#"id="older""#));
    assert!(!third.contains("person999"));

    // Failed only: 40 of them, newest first; the filter stays chosen and in the links.
    let failed = app.page("/t/acme/email-log?status=failed").await;
    let lines = rows(&failed);
    assert_eq!(lines.len(), 40);
    assert!(lines.iter().all(|l| l.contains(r#"data-status="failed""#)));
    assert!(lines[0].contains("person117@example.test"));
    assert!(failed.contains(r#"<option value="failed" selected>Failed</option>"#));
    let waiting = app.page("/t/acme/email-log?status=waiting&page=2").await;
    let lines = rows(&waiting);
    assert_eq!(lines.len(), 30);
    assert!(lines.iter().all(|l| l.contains(r#"data-status="pending""#)));
    let sent = app.page("/t/acme/email-log?status=sent").await;
    assert!(rows(&sent).is_empty());
    assert!(sent.contains("No messages with this status."));

    // A filter or page that is not one: 422 and the message.
    for (query, message) in [
        ("status=bounced", MSG_STATUS),
        ("status=", ""),
        ("page=0", MSG_PAGE),
        ("page=-1", MSG_PAGE),
        ("page=two", MSG_PAGE),
        ("page=99999999999999999999", MSG_PAGE),
    ] {
        let res = app.get(&format!("/t/acme/email-log?{query}")).await;
        if message.is_empty() {
            assert_eq!(res.status(), StatusCode::OK, "{query}");
            continue;
        }
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{query}");
        assert!(res.text().await.unwrap().contains(message), "{query}");
    }
}

#[tokio::test]
async fn times_are_shown_to_the_second_when_under_a_minute_away() {
    let app = spawn_app().await;
    app.clock.set(NOON);
    app.sign_in_admin().await;
    let soon = insert_message(&app, app.tenant, 1, "pending", 1, NOON - 3600).await;
    let later = insert_message(&app, app.tenant, 2, "pending", 1, NOON - 3600).await;
    sqlx::query("UPDATE outbox SET next_attempt_at = ? WHERE id = ?")
        .bind(NOON + 25)
        .bind(soon)
        .execute(&app.db)
        .await
        .unwrap();
    sqlx::query("UPDATE outbox SET next_attempt_at = ? WHERE id = ?")
        .bind(NOON + 300)
        .bind(later)
        .execute(&app.db)
        .await
        .unwrap();

    let html = app.page("/t/acme/email-log").await;
    let line = row(&html, &format!(r#"data-outbox-id="{soon}""#));
    assert!(line.contains(r#"<td class="nowrap" data-label="Next attempt">2026-01-15 12:30:25 UTC</td>"#), "{line}");
    let line = row(&html, &format!(r#"data-outbox-id="{later}""#));
    assert!(line.contains(r#"<td class="nowrap" data-label="Next attempt">2026-01-15 12:35 UTC</td>"#), "{line}");
    // Queued an hour ago: to the minute.
    assert!(line.contains("2026-01-15 11:30 UTC"), "{line}");
}

#[tokio::test]
async fn a_retry_asked_for_by_the_pages_script_answers_with_the_row() {
    let server = TestSmtp::start(TlsMode::StartTls, script()).await;
    server.script().rcpt_replies.push_back("451 4.3.0 Mailbox busy, try again later".into());
    let app = mailing_app(&server).await;
    app.post("/t/acme/invitations", &[("email", "later@example.test"), ("role", "user")]).await;
    wait_until("the first attempt to fail and be rescheduled", WAIT, || async {
        app.count("SELECT COUNT(*) FROM outbox_attempts").await == 1
    })
    .await;
    let id = outbox_ids(&app).await[0];
    app.stop_worker().await;

    let token = app.csrf().await;
    let res = app
        .client
        .post(app.url(&format!("/t/acme/email-log/{id}/retry")))
        .header(ROW_HEADER, "1")
        .form(&[("csrf_token", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let fragment = res.text().await.unwrap();
    assert!(
        fragment.trim_start().starts_with(&format!(
            r#"<tr data-outbox-id="{id}" data-status="pending" data-attempts="1" data-due-now>"#
        )),
        "{fragment}"
    );
    assert!(!fragment.contains("Retry now"), "no second retry while it is due: {fragment}");
    assert_eq!(app.count("SELECT COUNT(*) FROM audit_log WHERE action = 'email.retried'").await, 1);

    // The worker sends it; the row the script asks for then says so.
    app.start_worker();
    server.wait_for(1, 10).await;
    wait_until("the retry to be recorded as sent", WAIT, || async {
        app.count("SELECT COUNT(*) FROM outbox WHERE status = 'sent'").await == 1
    })
    .await;
    let res = app.client.get(app.url(&format!("/t/acme/email-log/{id}"))).header(ROW_HEADER, "1").send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let fragment = res.text().await.unwrap();
    assert!(fragment.contains(r#"data-status="sent" data-attempts="2""#), "{fragment}");
    assert!(fragment.contains("250 2.0.0 Message accepted"), "{fragment}");

    // Without the header (a person following the address), the log itself.
    let res = app.get(&format!("/t/acme/email-log/{id}")).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), "/t/acme/email-log");
}
