//! Member actions from the members page's Actions menu, each destructive one confirmed in
//! a dialog; withdrawing an invitation the same way (docs/roles-and-security.md).

use relaydesk::domain::account::{AccountEmail, DisplayName, Role, MSG_LAST_ADMIN};
use relaydesk::store::users;
use sqlx::SqlitePool;

use crate::harness::{Browser, TestApp, ADMIN_EMAIL, SLUG, SUBMIT};
use crate::steps::DIALOG;

const BOB: &str = "bob@acme.test";

/// Adds Bob Baker, a user of acme, and returns his id.
async fn add_bob(app: &TestApp) -> i64 {
    let email = AccountEmail::parse(BOB).unwrap();
    let name = DisplayName::parse("Bob Baker").unwrap();
    let hash = relaydesk::auth::password::hash("bob's long password").await.unwrap();
    let mut conn = app.db.acquire().await.unwrap();
    let tenant = relaydesk::store::tenants::by_slug(&app.db, SLUG).await.unwrap().unwrap().id;
    let new = users::NewUser {
        tenant_id: tenant,
        email: &email,
        display_name: &name,
        password_hash: &hash,
        role: Role::User,
        is_operator: false,
    };
    users::create(&mut conn, new, app.now()).await.unwrap().0
}

async fn user_id(db: &SqlitePool, email: &str) -> i64 {
    sqlx::query_scalar("SELECT id FROM users WHERE email = ?").bind(email).fetch_one(db).await.unwrap()
}

/// `(role, deactivated)` of Bob's account, `None` once it is gone.
async fn bob(db: &SqlitePool) -> Option<(String, bool)> {
    sqlx::query_as("SELECT role, deactivated_at IS NOT NULL FROM users WHERE email = ?")
        .bind(BOB)
        .fetch_optional(db)
        .await
        .unwrap()
}

fn member_row(id: i64) -> String {
    format!("tr[data-member-id='{id}']")
}

/// Opens the Actions menu of member `id` and chooses the dialog link `action`; waits for
/// the dialog.
async fn open_member_dialog(b: &Browser, id: i64, action: &str) -> anyhow::Result<()> {
    let menu = format!("{} details.menu", member_row(id));
    if b.attr_of(&menu, "open").await?.is_none() {
        b.click(&format!("{menu} > summary")).await?;
    }
    b.click(&format!("{} a[data-dialog='{action}']", member_row(id))).await?;
    b.wait_for(&format!("{DIALOG} h1")).await?;
    Ok(())
}

pub async fn an_admin_changes_deactivates_and_removes_a_member_confirming_in_dialogs() {
    let app = TestApp::seeded().await;
    let id = add_bob(&app).await;
    let db = app.db.clone();
    app.in_browser(|b| async move {
        b.sign_in_admin().await?;
        b.click_and_load("nav.sections a[href$='/members']").await?;
        assert_eq!(b.text_of(&format!("{} [data-status]", member_row(id))).await?, "Active");

        // Change role: the dialog's select, then the list says so.
        open_member_dialog(&b, id, "role").await?;
        assert_eq!(b.text_of(&format!("{DIALOG} h1")).await?, "Change the role of Bob Baker");
        b.select(&format!("{DIALOG} #role"), "organizer").await?;
        b.click_and_load(&format!("{DIALOG} button[type=submit]")).await?;
        assert_eq!(b.flash().await?, "bob@acme.test is now an organizer.");
        assert_eq!(b.text_of(&format!("{} [data-role]", member_row(id))).await?, "Organizer");
        assert_eq!(bob(&db).await, Some(("organizer".into(), false)));

        // Deactivate: Cancel changes nothing and gives focus back to the menu.
        open_member_dialog(&b, id, "deactivate").await?;
        assert_eq!(b.text_of(&format!("{DIALOG} h1")).await?, "Deactivate Bob Baker?");
        let text = b.text_of(&format!("{DIALOG} p")).await?;
        assert!(text.starts_with("bob@acme.test is signed out at once"), "{text}");
        b.click(&format!("{DIALOG} a.cancel")).await?;
        assert!(!b.exists(DIALOG).await?, "the dialog closed");
        assert_eq!(b.current_path().await?, format!("/t/{SLUG}/members"), "still on the list");
        let focused = b.client.active_element().await?.text().await?;
        assert!(focused.starts_with("Actions"), "focus is back on the menu: {focused:?}");
        assert_eq!(bob(&db).await, Some(("organizer".into(), false)), "nothing changed");

        open_member_dialog(&b, id, "deactivate").await?;
        let button = format!("{DIALOG} button[type=submit]");
        assert_eq!(b.text_of(&button).await?, "Deactivate Bob Baker");
        b.click_and_load(&button).await?;
        assert_eq!(
            b.flash().await?,
            "Deactivated bob@acme.test. They are signed out and cannot sign in until an administrator reactivates them."
        );
        assert_eq!(b.text_of(&format!("{} [data-status]", member_row(id))).await?, "Deactivated");
        assert_eq!(bob(&db).await, Some(("organizer".into(), true)));

        // Reactivate is one click in the menu.
        b.click(&format!("{} details.menu > summary", member_row(id))).await?;
        b.click_and_load(&format!("{} form[action$='/reactivate'] button", member_row(id))).await?;
        assert_eq!(b.flash().await?, "Reactivated bob@acme.test. They can sign in again.");
        assert_eq!(bob(&db).await, Some(("organizer".into(), false)));

        // Remove.
        open_member_dialog(&b, id, "remove").await?;
        assert_eq!(b.text_of(&format!("{DIALOG} h1")).await?, "Remove Bob Baker?");
        b.click_and_load(&format!("{DIALOG} button[type=submit]")).await?;
        assert_eq!(b.flash().await?, "Removed bob@acme.test. They can no longer sign in.");
        assert!(!b.exists(&member_row(id)).await?, "gone from the list");
        assert_eq!(bob(&db).await, None);
        Ok(())
    })
    .await;
}

pub async fn the_last_admin_is_told_why_they_cannot_leave() {
    let app = TestApp::seeded().await;
    let db = app.db.clone();
    let ada = user_id(&db, ADMIN_EMAIL).await;
    app.in_browser(|b| async move {
        b.sign_in_admin().await?;
        b.goto(&format!("/t/{SLUG}/members")).await?;
        open_member_dialog(&b, ada, "deactivate").await?;
        assert_eq!(b.text_of(&format!("{DIALOG} #confirm-refused")).await?, MSG_LAST_ADMIN);
        assert!(!b.exists(&format!("{DIALOG} button[type=submit]")).await?, "nothing to confirm");
        b.click(&format!("{DIALOG} a.cancel")).await?;
        assert!(!b.exists(DIALOG).await?);

        // Demoting themselves is refused with the same words, on the members page.
        open_member_dialog(&b, ada, "role").await?;
        b.select(&format!("{DIALOG} #role"), "user").await?;
        b.click_and_load(&format!("{DIALOG} button[type=submit]")).await?;
        assert_eq!(b.text_of("#members-error").await?, MSG_LAST_ADMIN);
        let (role,): (String,) = sqlx::query_as("SELECT role FROM users WHERE id = ?").bind(ada).fetch_one(&db).await?;
        assert_eq!(role, "admin");
        Ok(())
    })
    .await;
}

pub async fn an_invitation_is_withdrawn_after_confirming_and_its_link_says_so() {
    let app = TestApp::seeded().await;
    let db = app.db.clone();
    app.in_two_browsers(|admin, guest| async move {
        admin.sign_in_admin().await?;
        admin.goto(&format!("/t/{SLUG}/invitations")).await?;
        admin.fill("#email", "guest@example.test").await?;
        admin.click_and_load(SUBMIT).await?;
        let link = admin.value_of("#shared-link").await?;
        admin.click("tr[data-invitation-id] a[data-dialog='withdraw']").await?;
        assert_eq!(admin.text_of(&format!("{DIALOG} h1")).await?, "Withdraw the invitation to guest@example.test?");
        admin.click_and_load(&format!("{DIALOG} button[type=submit]")).await?;
        assert_eq!(admin.flash().await?, "Withdrew the invitation to guest@example.test. Its link no longer works.");
        assert!(!admin.exists("tr[data-invitation-id]").await?);
        let (withdrawn,): (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM invitations WHERE withdrawn_at IS NOT NULL").fetch_one(&db).await?;
        assert_eq!(withdrawn, 1);

        guest.goto_link(&link).await?;
        assert_eq!(guest.text_of("#gone-reason").await?, "It was withdrawn by Acme Ltd.");
        guest.click_and_load("#gone-next").await?;
        assert_eq!(guest.current_path().await?, format!("/t/{SLUG}/login"));
        Ok(())
    })
    .await;
}
