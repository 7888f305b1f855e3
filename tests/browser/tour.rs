//! Not a test of behaviour: makes the README's screenshots of the real pages.
//! Run with `cargo test --test browser readme_screenshots -- --ignored`.

use crate::harness::*;
use crate::smtp_server::{TestSmtp, TlsMode};
use crate::steps::*;

async fn shot(b: &Browser, name: &str) -> anyhow::Result<()> {
    let png = b.client.screenshot().await?;
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/screenshots");
    std::fs::create_dir_all(&dir)?;
    std::fs::write(dir.join(format!("{name}.png")), png)?;
    Ok(())
}

pub async fn readme_screenshots() {
    let server = TestSmtp::start(TlsMode::StartTls, smtp_login()).await;
    let app = TestApp::seeded().await;
    app.in_browser(|b| async move {
        b.client.set_window_size(1200, 820).await?;
        b.sign_in_admin().await?;
        shot(&b, "dashboard").await?;
        let office = create_profile(&b, &NewProfile::for_server("Office_Relay", &server)).await?;
        let backup = create_profile(&b, &NewProfile::offline("Backup_Relay")).await?;
        open_dialog(&b, office, "test").await?;
        b.click_and_load(&format!("{DIALOG} button[type=submit]")).await?;
        server.wait_for(1, 10).await;
        // The Actions menu of a row that is not the default: every action it offers.
        open_menu(&b, backup).await?;
        shot(&b, "profiles").await?;
        // On a phone the same list is a stack of cards.
        b.client.set_window_size(360, 740).await?;
        b.goto(&format!("/t/{SLUG}/smtp")).await?;
        shot(&b, "profiles-phone").await?;
        b.client.set_window_size(1200, 820).await?;
        b.goto(&format!("/t/{SLUG}/smtp/new")).await?;
        b.fill("#name", "bad name!").await?;
        b.fill("#port", "0").await?;
        b.click_and_load(SUBMIT).await?;
        shot(&b, "profile-errors").await?;
        Ok(())
    })
    .await;
}

/// The guest's page on a phone, as a guest fills it in (its own trial, so the console's
/// screenshots are not remade with it).
pub async fn readme_screenshots_of_the_guest_page() {
    let server = TestSmtp::start(TlsMode::Plain, crate::guests::gateway_script()).await;
    let app = TestApp::seeded().await;
    crate::guests::ready_for_guests(&app, &server).await;
    app.in_browser(|b| async move {
        b.client.set_window_size(360, 740).await?;
        b.goto(&format!("/g/{SLUG}")).await?;
        b.fill("#name", "Ann Lee").await?;
        b.fill("#mobile", "+44 (7700) 900-123").await?;
        shot(&b, "guest-phone").await?;
        Ok(())
    })
    .await;
}
