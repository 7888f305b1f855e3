//! The email log in a browser: "Retry now" brings the row up to date without reloading
//! the page (docs/sending.md).

use crate::harness::{TestApp, SLUG, SUBMIT};
use crate::smtp_server::{TestSmtp, TlsMode};
use crate::steps::{create_profile, smtp_login, turn_email_on, NewProfile};
use crate::wait::{wait_until, WAIT};

const ROW: &str = "tr[data-outbox-id]";

pub async fn retry_now_updates_the_row_without_reloading_the_page() {
    let server = TestSmtp::start(TlsMode::StartTls, smtp_login()).await;
    server.script().rcpt_replies.push_back("451 4.3.0 Mailbox busy, try again later".into());
    let app = TestApp::seeded().await;
    let db = app.db.clone();
    app.in_browser(|b| async move {
        b.sign_in_admin().await?;
        create_profile(&b, &NewProfile::for_server("Office", &server)).await?;
        turn_email_on(&b).await?;
        b.goto(&format!("/t/{SLUG}/invitations")).await?;
        b.fill("#email", "later@example.test").await?;
        b.click_and_load(SUBMIT).await?;
        wait_until("the first attempt to fail and be rescheduled", WAIT, || async {
            let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM outbox_attempts").fetch_one(&db).await.unwrap();
            n == 1
        })
        .await;

        b.goto(&format!("/t/{SLUG}/email-log")).await?;
        assert_eq!(b.attr_of(ROW, "data-status").await?.as_deref(), Some("pending"));
        assert_eq!(b.text_of(&format!("{ROW} .badge")).await?, "Waiting");
        assert!(b.text_of(&format!("{ROW} .server-reply")).await?.contains("451 4.3.0 Mailbox busy"));
        // A mark on this page: a reload (or any new page) would not have it.
        b.client.execute("document.body.dataset.mark = 'this page'; return null;", vec![]).await?;

        b.click(&format!("{ROW} form[data-retry] button")).await?;
        b.wait_for(&format!("{ROW}[data-status='sent']")).await?;
        assert_eq!(b.attr_of("body", "data-mark").await?.as_deref(), Some("this page"), "the page was not reloaded");
        assert_eq!(b.current_path().await?, format!("/t/{SLUG}/email-log"));
        assert_eq!(b.text_of(&format!("{ROW} .badge")).await?, "Sent");
        assert_eq!(b.text_of(&format!("{ROW} .server-reply")).await?, "250 2.0.0 Message accepted");
        assert_eq!(b.attr_of(ROW, "data-attempts").await?.as_deref(), Some("2"));
        assert!(!b.exists(&format!("{ROW} form[data-retry]")).await?, "nothing to retry once sent");
        let announced: String = serde_json::from_value(
            b.client.execute("return document.querySelector('#retry-status').textContent;", vec![]).await?,
        )?;
        assert_eq!(announced, "Sent.");
        assert_eq!(server.wait_for(1, 5).await[0].to, ["later@example.test"]);
        Ok(())
    })
    .await;
}
