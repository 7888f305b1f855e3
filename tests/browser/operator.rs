//! The operator's page in a browser: suspending asks for confirmation in a dialog first
//! (docs/roles-and-security.md).

use crate::harness::{TestApp, ADMIN_EMAIL};
use crate::steps::DIALOG;

async fn suspended(db: &sqlx::SqlitePool) -> bool {
    let (on,): (bool,) =
        sqlx::query_as("SELECT suspended FROM tenants WHERE slug = 'globex'").fetch_one(db).await.unwrap();
    on
}

pub async fn suspending_an_organization_asks_for_confirmation() {
    let app = TestApp::seeded().await;
    app.seed_tenant("globex", "Globex", "Hank", "hank@globex.test", "hank's long password").await;
    sqlx::query("UPDATE users SET is_operator = 1 WHERE email = ?").bind(ADMIN_EMAIL).execute(&app.db).await.unwrap();
    let db = app.db.clone();
    app.in_browser(|b| async move {
        b.sign_in_admin().await?;
        b.goto("/admin").await?;
        assert_eq!(b.page_name().await?, "admin");

        // The dialog opens; Cancel closes it, changes nothing and gives focus back.
        b.click("#suspend-globex").await?;
        b.wait_for(DIALOG).await?;
        assert_eq!(b.text_of(&format!("{DIALOG} h1")).await?, "Suspend Globex?");
        assert!(b.text_of(DIALOG).await?.contains("Its member is signed out and cannot sign in"));
        b.click(&format!("{DIALOG} a.cancel")).await?;
        assert!(!b.exists(DIALOG).await?, "closed");
        assert_eq!(b.current_path().await?, "/admin");
        assert_eq!(b.focused_id().await?, "suspend-globex");
        assert!(!suspended(&db).await, "Cancel suspends nothing");

        // Confirmed: suspended.
        b.click("#suspend-globex").await?;
        b.wait_for(DIALOG).await?;
        b.click_and_load(&format!("{DIALOG} button[type=submit]")).await?;
        assert_eq!(b.current_path().await?, "/admin");
        assert_eq!(b.flash().await?, "Suspended Globex.");
        assert_eq!(b.text_of("tr[data-tenant='globex'] .badge").await?, "Suspended");
        assert!(suspended(&db).await);
        Ok(())
    })
    .await;
}
