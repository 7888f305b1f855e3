//! Signing in to SMTP with OAuth 2.0: a Google account connected from the profile page,
//! through the stand-in authorization server's consent page and back, then a test email
//! that signs in with XOAUTH2.

use crate::harness::{TestApp, SLUG, SUBMIT};
use crate::oauth_server::{OAuthServer, CLIENT_SECRET, GOOGLE_ACCOUNT, GOOGLE_CLIENT_ID};
use crate::smtp_server::{Script, TestSmtp, TlsMode};
use crate::steps::{open_dialog, row_id, DIALOG, FROM_ADDRESS, FROM_NAME, SMTP_ACCOUNT};

pub async fn a_google_account_is_connected_and_the_test_email_signs_in_with_it() {
    let auth = OAuthServer::start().await;
    let server =
        TestSmtp::start(TlsMode::StartTls, Script { xoauth2: Some(auth.bearer_check()), ..Script::default() }).await;
    let configured = auth.clone();
    let app = TestApp::seeded_with(move |c| configured.configure(c)).await;
    let ca_pem = server.ca_pem.clone();
    let port = server.port;
    app.in_browser(move |b| async move {
        b.sign_in_admin().await?;
        b.goto(&format!("/t/{SLUG}/smtp/new")).await?;
        b.fill("#name", "Gmail").await?;
        // The Gmail preset fills the server and chooses Google as the OAuth provider.
        b.select("#preset", "smtp.gmail.com|587|starttls").await?;
        assert_eq!(b.value_of("#host").await?, "smtp.gmail.com");
        assert_eq!(b.value_of("#oauth_provider").await?, "google");
        assert!(b.is_displayed("#password").await?, "Sign-in starts as Password");
        b.set_checked("#sign_in-oauth", true).await?;
        assert!(!b.is_displayed("#password").await?, "no password with OAuth");
        assert!(b.is_displayed("#oauth_client_id").await?);
        assert!(!b.is_displayed("#oauth_directory").await?, "Microsoft's field is for Microsoft only");
        assert!(!b.is_displayed("#oauth_token_url").await?);

        // The test server stands in for Gmail.
        b.fill("#from_address", FROM_ADDRESS).await?;
        b.fill("#from_name", FROM_NAME).await?;
        b.fill("#host", "localhost").await?;
        b.fill("#port", &port.to_string()).await?;
        b.click("details.advanced summary").await?;
        b.paste("#ca_pem", &ca_pem).await?;
        b.fill("#username", SMTP_ACCOUNT).await?;
        b.fill("#oauth_client_id", GOOGLE_CLIENT_ID).await?;
        b.fill("#oauth_client_secret", CLIENT_SECRET).await?;
        b.click_and_load(SUBMIT).await?;
        assert_eq!(b.flash().await?, "Saved Gmail. It is now the default profile.");
        let id = row_id(&b, "Gmail").await?;

        let profile = format!("/t/{SLUG}/smtp/{id}");
        b.goto(&profile).await?;
        assert_eq!(b.text_of("#connected-account").await?, "No Google account is connected yet.");
        b.click("#google-connection button").await?;
        // Connect account → Google's consent page (the stand-in) → back to the profile.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while b.current_path().await? != profile || !b.exists("#flash").await? {
            anyhow::ensure!(std::time::Instant::now() < deadline, "not back on the profile page");
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        assert_eq!(b.flash().await?, format!("Connected the Google account {GOOGLE_ACCOUNT}."));
        let connected = b.text_of("#connected-account").await?;
        assert!(connected.starts_with(&format!("Connected: {GOOGLE_ACCOUNT}, since ")), "{connected}");

        b.goto(&format!("/t/{SLUG}/smtp")).await?;
        open_dialog(&b, id, "test").await?;
        b.fill(&format!("{DIALOG} #to"), "ops@example.test").await?;
        b.click_and_load(&format!("{DIALOG} button[type=submit]")).await?;
        assert_eq!(b.flash().await?, "Test email sent to ops@example.test.");

        b.goto(&profile).await?;
        b.click_and_load("#google-connection button").await?;
        assert_eq!(b.flash().await?, format!("Disconnected the Google account {GOOGLE_ACCOUNT}."));
        assert_eq!(b.text_of("#connected-account").await?, "No Google account is connected yet.");
        Ok(())
    })
    .await;
    let mail = server.wait_for(1, 5).await.remove(0);
    assert_eq!(mail.user.as_deref(), Some(SMTP_ACCOUNT), "signed in with XOAUTH2 as the mailbox");
    assert_eq!(auth.revoked().len(), 1, "Disconnect asked Google to revoke the refresh token");
}
