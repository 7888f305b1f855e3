//! The dashboard's email switch (docs/sending.md).

use crate::harness::{TestApp, SLUG};
use crate::steps::{create_profile, NewProfile};

const MSG_NEEDS_DEFAULT: &str = "Save an SMTP profile and make it the default before turning email on.";

async fn email_enabled(db: &sqlx::SqlitePool) -> bool {
    let (on,): (bool,) =
        sqlx::query_as("SELECT email_enabled FROM tenants WHERE slug = ?").bind(SLUG).fetch_one(db).await.unwrap();
    on
}

pub async fn email_can_be_turned_on_only_once_there_is_a_default_profile() {
    let app = TestApp::seeded().await;
    let db = app.db.clone();
    app.in_browser(|b| async move {
        b.sign_in_admin().await?;
        assert_eq!(b.page_name().await?, "dashboard");
        let status = b.text_of("#email-status").await?;
        assert!(status.starts_with("Email is off."), "{status}");
        assert_eq!(b.text_of("#email-switch").await?, "Turn email on");

        b.click_and_load("#email-switch").await?;
        assert_eq!(b.page_name().await?, "dashboard");
        assert_eq!(b.text_of("#error-enabled").await?, MSG_NEEDS_DEFAULT);
        let status = b.text_of("#email-status").await?;
        assert!(status.starts_with("Email is off."), "still off: {status}");
        assert!(!email_enabled(&db).await);

        // The status links to the profiles, where one is saved (the first is the default).
        b.click_and_load("#email-status a").await?;
        assert_eq!(b.current_path().await?, format!("/t/{SLUG}/smtp"));
        create_profile(&b, &NewProfile::offline("Office")).await?;
        b.goto(&format!("/t/{SLUG}/")).await?;
        b.click_and_load("#email-switch").await?;

        assert_eq!(b.current_path().await?, format!("/t/{SLUG}/"));
        assert_eq!(
            b.flash().await?,
            "Email is on: invitations and password resets are sent through the default profile."
        );
        assert_eq!(
            b.text_of("#email-status").await?,
            "Email is on. Invitations and password resets are sent through Office."
        );
        assert!(!b.exists("#error-enabled").await?);
        assert!(email_enabled(&db).await);

        // Off again is one click.
        assert_eq!(b.text_of("#email-switch").await?, "Turn email off");
        b.click_and_load("#email-switch").await?;
        assert_eq!(
            b.flash().await?,
            "Email is off: invitation and password-reset links are shown to you to share by hand."
        );
        let status = b.text_of("#email-status").await?;
        assert!(status.starts_with("Email is off."), "{status}");
        assert_eq!(b.text_of("#email-switch").await?, "Turn email on");
        assert!(!email_enabled(&db).await);
        Ok(())
    })
    .await;
}
