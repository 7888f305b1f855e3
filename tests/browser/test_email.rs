//! Testing a profile from the list: the dialog, the message, the mail that arrives.

use crate::harness::{TestApp, ADMIN_EMAIL, SLUG};
use crate::smtp_server::{TestSmtp, TlsMode};
use crate::steps::{create_profile, open_dialog, row, smtp_login, NewProfile, DIALOG, SMTP_ACCOUNT, SMTP_PASSWORD};

pub async fn a_test_email_from_the_list_arrives_at_the_smtp_server() {
    let server = TestSmtp::start(TlsMode::StartTls, smtp_login()).await;
    let app = TestApp::seeded().await;
    let db = app.db.clone();
    app.in_browser(|b| async move {
        b.sign_in_admin().await?;
        let id = create_profile(&b, &NewProfile::for_server("Office", &server)).await?;
        assert_eq!(b.text_of(&format!("{} .test-result", row(id))).await?, "Not tested");

        open_dialog(&b, id, "test").await?;
        assert_eq!(b.text_of(&format!("{DIALOG} h1")).await?, "Test Office");
        let to = format!("{DIALOG} #to");
        assert_eq!(b.value_of(&to).await?, ADMIN_EMAIL, "the To address starts as the signed-in user's");
        b.fill(&to, "ops@example.test").await?;
        b.click_and_load(&format!("{DIALOG} button[type=submit]")).await?;

        assert_eq!(b.current_path().await?, format!("/t/{SLUG}/smtp"));
        assert_eq!(b.flash().await?, "Test email sent to ops@example.test.");
        assert_eq!(b.text_of(&format!("{} .test-result .badge", row(id))).await?, "Sent");

        let mail = server.wait_for(1, 5).await.remove(0);
        assert_eq!(mail.to, ["ops@example.test"]);
        assert!(mail.tls, "sent over STARTTLS");
        assert_eq!(mail.user.as_deref(), Some(SMTP_ACCOUNT));
        assert_eq!(mail.header("Subject").as_deref(), Some("relaydesk test email: Office"));
        let body = mail.text_body();
        for line in [
            "Host: localhost".to_owned(),
            format!("Port: {}", server.port),
            "Type: Generic SMTP".into(),
            "Security: STARTTLS".into(),
            format!("Username: {SMTP_ACCOUNT}"),
        ] {
            assert!(body.contains(&line), "{line:?} in\n{body}");
        }
        assert!(!mail.data.contains(SMTP_PASSWORD), "never the password");

        let (ok, message): (bool, String) =
            sqlx::query_as("SELECT last_test_ok, last_test_message FROM smtp_profiles WHERE id = ?")
                .bind(id)
                .fetch_one(&db)
                .await?;
        assert!(ok);
        assert_eq!(message, "Test email sent to ops@example.test.");
        Ok(())
    })
    .await;
}
