//! Forgetting the password: the link from the sign-in page, the email, the new password.

use crate::harness::{TestApp, ADMIN_EMAIL, ADMIN_NAME, ADMIN_PASSWORD, SLUG, SUBMIT};
use crate::smtp_server::{TestSmtp, TlsMode};
use crate::steps::{create_profile, link_in, smtp_login, turn_email_on, NewProfile};

const MSG_SENT: &str = "If an account exists for that address, we have sent a link to reset the password.";
const NEW_PASSWORD: &str = "a brand new passphrase";

pub async fn a_forgotten_password_is_reset_from_the_emailed_link() {
    let server = TestSmtp::start(TlsMode::StartTls, smtp_login()).await;
    let app = TestApp::seeded().await;
    app.in_browser(|b| async move {
        b.sign_in_admin().await?;
        create_profile(&b, &NewProfile::for_server("Office", &server)).await?;
        turn_email_on(&b).await?;
        b.click_and_load("#sign-out").await?;
        assert_eq!(b.page_name().await?, "login");

        b.click_and_load("a[href$='/password/forgot']").await?;
        assert_eq!(b.page_name().await?, "forgot");
        assert_eq!(b.text_of("h1").await?, "Forgot your password?");
        // An address with no account gets the same answer (and no email).
        b.fill("#email", "nobody@acme.test").await?;
        b.click_and_load(SUBMIT).await?;
        assert_eq!(b.current_path().await?, format!("/t/{SLUG}/login"));
        assert_eq!(b.flash().await?, MSG_SENT);

        b.click_and_load("a[href$='/password/forgot']").await?;
        b.fill("#email", ADMIN_EMAIL).await?;
        b.click_and_load(SUBMIT).await?;
        assert_eq!(b.current_path().await?, format!("/t/{SLUG}/login"));
        assert_eq!(b.flash().await?, MSG_SENT);

        let mail = server.wait_for(1, 10).await.remove(0);
        assert_eq!(mail.to, [ADMIN_EMAIL], "only the real account gets a mail");
        assert_eq!(server.messages().len(), 1);
        assert!(mail.text_body().contains(&format!("reset the password of {ADMIN_EMAIL} in Acme Ltd")));
        let link = link_in(&mail, &format!("{}/t/{SLUG}/password/reset/", b.base()))?;

        b.goto_link(&link).await?;
        assert_eq!(b.page_name().await?, "reset");
        assert_eq!(b.text_of("h1").await?, "Choose a new password");
        b.fill("#password", "too short").await?;
        b.click_and_load(SUBMIT).await?;
        assert_eq!(b.text_of("#error-password").await?, "Please choose a password of at least 12 characters.");
        b.fill("#password", NEW_PASSWORD).await?;
        b.click_and_load(SUBMIT).await?;

        assert_eq!(b.current_path().await?, format!("/t/{SLUG}/login"));
        assert_eq!(b.flash().await?, "Your password has been changed. Sign in with the new one.");
        b.fill("#email", ADMIN_EMAIL).await?;
        b.fill("#password", ADMIN_PASSWORD).await?;
        b.click_and_load(SUBMIT).await?;
        assert_eq!(b.text_of("#error-login").await?, "Incorrect email or password.", "the old password is gone");

        b.sign_in(ADMIN_EMAIL, NEW_PASSWORD).await?;
        assert_eq!(b.text_of("#current-user").await?, ADMIN_NAME);

        // The link works once.
        b.goto_link(&link).await?;
        assert!(b.text_of("main").await?.contains("This password-reset link is no longer valid. Ask for a new one."));
        Ok(())
    })
    .await;
}
