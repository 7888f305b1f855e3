//! The first-run setup page, as a newcomer uses it.

use relaydesk::auth::{random_token, token_hash};
use relaydesk::domain::account::MSG_SLUG;

use crate::harness::{TestApp, SUBMIT};

/// A valid setup link's token, as `serve` would log it on a first run.
async fn setup_token(app: &TestApp) -> String {
    let token = random_token();
    relaydesk::store::setup::replace_token(&app.db, &token_hash(&token), app.now()).await.unwrap();
    token
}

pub async fn first_run_setup_creates_the_organization_and_signs_in() {
    let app = TestApp::empty().await;
    let token = setup_token(&app).await;
    app.in_browser(|b| async move {
        b.goto(&format!("/setup/{token}")).await?;
        b.fill("#name", "Globex Corporation").await?;
        b.fill("#slug", "globex").await?;
        b.fill("#admin_name", "Grace Hopper").await?;
        b.fill("#admin_email", "grace@globex.test").await?;
        b.fill("#admin_password", "grace's long password").await?;
        b.click_and_load(SUBMIT).await?;

        assert_eq!(b.current_path().await?, "/t/globex/");
        assert_eq!(b.text_of("h1").await?, "Dashboard");
        let who = b.text_of(".account .who").await?;
        assert!(who.contains("Grace Hopper"), "signed in as {who:?}");
        let flash = b.text_of(".flash").await?;
        assert!(flash.contains("Your organization is ready"), "message: {flash:?}");
        Ok(())
    })
    .await;
}

pub async fn setup_shows_each_error_beside_its_field() {
    let app = TestApp::empty().await;
    let token = setup_token(&app).await;
    app.in_browser(|b| async move {
        b.goto(&format!("/setup/{token}")).await?;
        b.click_and_load(SUBMIT).await?;

        assert_eq!(b.current_path().await?, format!("/setup/{token}"));
        let summary = b.text_of(".error-summary").await?;
        assert!(summary.contains("Please correct the following") && summary.contains(MSG_SLUG), "summary: {summary:?}");
        assert_eq!(b.text_of("#error-slug").await?, MSG_SLUG);
        assert_eq!(b.attr_of("#slug", "aria-invalid").await?.as_deref(), Some("true"));
        assert_eq!(b.attr_of("#slug", "aria-describedby").await?.as_deref(), Some("error-slug hint-slug"));
        // static/js/app.js moves focus to the summary so that it is read out.
        let focused = b.client.active_element().await?;
        assert_eq!(focused.attr("class").await?.as_deref(), Some("error-summary"));
        Ok(())
    })
    .await;
}
