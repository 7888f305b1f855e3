//! Signing in and out of an organization.

use fantoccini::Locator;

use crate::harness::{TestApp, ADMIN_EMAIL, ADMIN_NAME, ADMIN_PASSWORD, SLUG, SUBMIT};

pub async fn an_admin_signs_in_and_out() {
    let app = TestApp::seeded().await;
    app.in_browser(|b| async move {
        b.goto(&format!("/t/{SLUG}/")).await?;
        assert_eq!(b.current_path().await?, format!("/t/{SLUG}/login"));
        b.fill("#email", ADMIN_EMAIL).await?;
        b.fill("#password", ADMIN_PASSWORD).await?;
        b.click_and_load(SUBMIT).await?;

        assert_eq!(b.current_path().await?, format!("/t/{SLUG}/"));
        assert_eq!(b.text_of("h1").await?, "Dashboard");
        let who = b.text_of(".account .who").await?;
        assert!(who.contains(ADMIN_NAME), "signed in as {who:?}");

        let sign_out = "form[action$='/logout'] button";
        assert_eq!(b.text_of(sign_out).await?, "Sign out");
        b.click_and_load(sign_out).await?;
        assert_eq!(b.current_path().await?, format!("/t/{SLUG}/login"));
        assert_eq!(b.text_of(".flash").await?, "You have signed out.");

        b.goto(&format!("/t/{SLUG}/")).await?;
        assert_eq!(b.current_path().await?, format!("/t/{SLUG}/login"));
        assert_eq!(b.text_of("h1").await?, "Sign in");
        Ok(())
    })
    .await;
}

pub async fn a_wrong_password_shows_the_one_message() {
    let app = TestApp::seeded().await;
    app.in_browser(|b| async move {
        b.goto(&format!("/t/{SLUG}/login")).await?;
        b.fill("#email", ADMIN_EMAIL).await?;
        b.fill("#password", "not the password at all").await?;
        b.click_and_load(SUBMIT).await?;

        assert_eq!(b.current_path().await?, format!("/t/{SLUG}/login"));
        assert_eq!(b.text_of("#error-login").await?, "Incorrect email or password.");
        assert_eq!(
            b.client.find(Locator::Css("#email")).await?.prop("value").await?.as_deref(),
            Some(ADMIN_EMAIL),
            "the email is kept"
        );
        assert!(b.client.find(Locator::Css(".account")).await.is_err(), "nobody is signed in");
        Ok(())
    })
    .await;
}
