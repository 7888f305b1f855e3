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

/// The *Private networks* column: an operator's organization has them, another is refused
/// until the operator allows it (docs/roles-and-security.md, the egress policy).
pub async fn allowing_private_networks_for_an_organization() {
    let app = TestApp::seeded().await;
    app.seed_tenant("globex", "Globex", "Hank", "hank@globex.test", "hank's long password").await;
    sqlx::query("UPDATE tenants SET allow_private_networks = 0 WHERE slug = 'globex'").execute(&app.db).await.unwrap();
    sqlx::query("UPDATE users SET is_operator = 1 WHERE email = ?").bind(ADMIN_EMAIL).execute(&app.db).await.unwrap();
    let db = app.db.clone();
    app.in_browser(|b| async move {
        b.sign_in_admin().await?;
        b.goto("/admin").await?;
        let cell = "tr[data-tenant='globex'] td[data-private-networks]";
        assert_eq!(b.text_of(&format!("{cell} .badge")).await?, "Refused");
        assert!(b
            .text_of("tr[data-tenant='acme'] td[data-private-networks]")
            .await?
            .contains("an operator's organization"));

        b.click_and_load(&format!("{cell} button")).await?;
        assert_eq!(b.current_path().await?, "/admin");
        assert_eq!(b.flash().await?, "Globex may now use SMTP hosts on loopback, private and shared networks.");
        assert_eq!(b.text_of(&format!("{cell} .badge")).await?, "Allowed");
        let (on,): (bool,) = sqlx::query_as("SELECT allow_private_networks FROM tenants WHERE slug = 'globex'")
            .fetch_one(&db)
            .await
            .unwrap();
        assert!(on);
        Ok(())
    })
    .await;
}
