//! What an admin does to members (docs/roles-and-security.md): change a role, deactivate
//! and reactivate, remove, clear failed sign-ins; the last-admin rule; the audit
//! entries each leaves.

use relaydesk::auth::throttle::FREE_FAILURES;
use relaydesk::domain::account::{Role, MSG_DEACTIVATED, MSG_LAST_ADMIN, MSG_OPERATOR_ACCOUNT};
use relaydesk::store::tokens::NOT_SENT_MEMBER_GONE;
use relaydesk::web::members::MSG_RESET_LINK_DEACTIVATED;
use reqwest::StatusCode;

use crate::helpers::*;
use crate::smtp_server::{Script, TestSmtp, TlsMode};

pub const BOB: &str = "bob@acme.test";
pub const BOB_PASSWORD: &str = "bob's long password";
const INCORRECT: &str = "Incorrect email or password.";

pub async fn user_id(app: &TestApp, email: &str) -> i64 {
    sqlx::query_scalar("SELECT id FROM users WHERE email = ?").bind(email).fetch_one(&app.db).await.unwrap()
}

/// `(role, deactivated)` of the account, `None` once it is gone.
async fn account(app: &TestApp, email: &str) -> Option<(String, bool)> {
    sqlx::query_as("SELECT role, deactivated_at IS NOT NULL FROM users WHERE email = ?")
        .bind(email)
        .fetch_optional(&app.db)
        .await
        .unwrap()
}

/// `(actor, detail)` of every audit entry with this code, oldest first.
pub async fn audited(app: &TestApp, action: &str) -> Vec<(String, String)> {
    sqlx::query_as("SELECT actor, detail FROM audit_log WHERE action = ? ORDER BY id")
        .bind(action)
        .fetch_all(&app.db)
        .await
        .unwrap()
}

async fn member_changes(app: &TestApp) -> i64 {
    app.count("SELECT COUNT(*) FROM audit_log WHERE action LIKE 'member.%'").await
}

/// The flash message on the page a 303 leads to.
async fn flash_after(app: &TestApp, res: reqwest::Response) -> String {
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let html = app.page(&location(&res)).await;
    let start = html.find(r#"id="flash""#).unwrap_or_else(|| panic!("no flash in {html}"));
    let text = &html[start..];
    let text = &text[text.find('>').unwrap() + 1..];
    text[..text.find("</div>").unwrap()].to_owned()
}

/// The admin `app` plus Bob, a user signed in in his own browser.
async fn with_bob() -> (TestApp, TestApp) {
    let app = spawn_app().await;
    app.sign_in_admin().await;
    app.add_user(BOB, BOB_PASSWORD, Role::User, false).await;
    let bob = app.share();
    assert_eq!(bob.sign_in(BOB, BOB_PASSWORD).await.status(), StatusCode::SEE_OTHER);
    (app, bob)
}

#[tokio::test]
async fn an_admin_changes_a_members_role_and_it_takes_effect_at_once() {
    let (app, bob) = with_bob().await;
    let id = user_id(&app, BOB).await;
    assert_eq!(bob.get("/t/acme/members").await.status(), StatusCode::FORBIDDEN, "a user");

    let form = app.page(&format!("/t/acme/members/{id}/role")).await;
    assert!(form.contains("<h1>Change the role of Member</h1>"), "{form}");
    assert!(form.contains(r#"<option value="user" selected>User</option>"#));

    let res = app.post(&format!("/t/acme/members/{id}/role"), &[("role", "superuser")]).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.text().await.unwrap().contains(r#"<p class="error" id="error-role">Please choose a role.</p>"#));
    assert_eq!(account(&app, BOB).await, Some(("user".into(), false)), "nothing changed");

    let res = app.post(&format!("/t/acme/members/{id}/role"), &[("role", "organizer")]).await;
    assert_eq!(location(&res), "/t/acme/members");
    assert_eq!(flash_after(&app, res).await, "bob@acme.test is now an organizer.");
    assert_eq!(account(&app, BOB).await, Some(("organizer".into(), false)));
    assert_eq!(
        audited(&app, "member.role_changed").await,
        [(ADMIN_EMAIL.into(), "bob@acme.test: user to organizer".into())]
    );
    assert_eq!(bob.get("/t/acme/members").await.status(), StatusCode::OK, "his session has the new role");

    let res = app.post(&format!("/t/acme/members/{id}/role"), &[("role", "organizer")]).await;
    assert_eq!(flash_after(&app, res).await, "bob@acme.test is already an organizer.");
    assert_eq!(member_changes(&app).await, 1, "no change, no entry");
}

#[tokio::test]
async fn the_last_active_admin_cannot_be_demoted_deactivated_or_removed() {
    let app = spawn_app().await;
    app.sign_in_admin().await;
    let ada = user_id(&app, ADMIN_EMAIL).await;
    let refused = |res: reqwest::Response| async move {
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let html = res.text().await.unwrap();
        assert!(html.contains(&format!(r#"id="members-error" tabindex="-1">{MSG_LAST_ADMIN}</div>"#)), "{html}");
        assert!(html.contains("<h1>Members</h1>"));
    };
    assert_eq!(
        MSG_LAST_ADMIN,
        "The organization must keep at least one active administrator. Make another member an administrator first."
    );
    for role in ["organizer", "user"] {
        refused(app.post(&format!("/t/acme/members/{ada}/role"), &[("role", role)]).await).await;
    }
    refused(app.post(&format!("/t/acme/members/{ada}/deactivate"), &[]).await).await;
    refused(app.post(&format!("/t/acme/members/{ada}/remove"), &[]).await).await;
    assert_eq!(account(&app, ADMIN_EMAIL).await, Some(("admin".into(), false)), "nothing changed");
    assert_eq!(member_changes(&app).await, 0);
    assert_eq!(app.get("/t/acme/members").await.status(), StatusCode::OK, "still signed in");

    // The pages that ask first say so, and offer no button.
    for action in ["deactivate", "remove"] {
        let page = app.page(&format!("/t/acme/members/{ada}/{action}")).await;
        assert!(page.contains(&format!(r#"id="confirm-refused">{MSG_LAST_ADMIN}</div>"#)), "{page}");
        assert!(!page.contains(&format!(r#"action="/t/acme/members/{ada}/{action}""#)), "no form");
    }

    // A deactivated admin does not count.
    app.add_user("carol@acme.test", "carol's long password", Role::Admin, false).await;
    let carol = user_id(&app, "carol@acme.test").await;
    let res = app.post(&format!("/t/acme/members/{carol}/deactivate"), &[]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    refused(app.post(&format!("/t/acme/members/{ada}/role"), &[("role", "user")]).await).await;

    // With Carol active again, Ada may step down herself; then Carol is the last one.
    assert_eq!(app.post(&format!("/t/acme/members/{carol}/reactivate"), &[]).await.status(), StatusCode::SEE_OTHER);
    let res = app.post(&format!("/t/acme/members/{ada}/role"), &[("role", "organizer")]).await;
    assert_eq!(location(&res), "/t/acme/members", "an organizer still sees the members");
    assert_eq!(flash_after(&app, res).await, "You are now an organizer.");
    assert_eq!(app.get("/t/acme/audit").await.status(), StatusCode::FORBIDDEN, "no longer an admin");
    let carol_browser = app.share();
    carol_browser.sign_in("carol@acme.test", "carol's long password").await;
    refused(carol_browser.post(&format!("/t/acme/members/{carol}/remove"), &[]).await).await;
    refused(carol_browser.post(&format!("/t/acme/members/{carol}/role"), &[("role", "user")]).await).await;
    assert_eq!(account(&app, "carol@acme.test").await, Some(("admin".into(), false)));
}

#[tokio::test]
async fn an_admin_demoted_to_user_lands_on_the_dashboard() {
    let app = spawn_app().await;
    app.sign_in_admin().await;
    app.add_user("carol@acme.test", "carol's long password", Role::Admin, false).await;
    let ada = user_id(&app, ADMIN_EMAIL).await;
    let res = app.post(&format!("/t/acme/members/{ada}/role"), &[("role", "user")]).await;
    assert_eq!(location(&res), "/t/acme/");
    assert_eq!(flash_after(&app, res).await, "You are now a user.");
    assert_eq!(app.get("/t/acme/members").await.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_deactivated_member_is_signed_out_at_once_cannot_sign_in_and_can_be_reactivated() {
    let (app, bob) = with_bob().await;
    let id = user_id(&app, BOB).await;
    let ask = app.page(&format!("/t/acme/members/{id}/deactivate")).await;
    assert!(ask.contains("<h1>Deactivate Member?</h1>"), "{ask}");
    assert!(ask.contains(&format!(r#"<form method="post" action="/t/acme/members/{id}/deactivate">"#)));

    let res = app.post(&format!("/t/acme/members/{id}/deactivate"), &[]).await;
    assert_eq!(
        flash_after(&app, res).await,
        "Deactivated bob@acme.test. They are signed out and cannot sign in until an administrator reactivates them."
    );
    let deactivated_at: Option<i64> =
        sqlx::query_scalar("SELECT deactivated_at FROM users WHERE id = ?").bind(id).fetch_one(&app.db).await.unwrap();
    assert_eq!(deactivated_at, Some(app.now()));
    let res = bob.get("/t/acme/").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "his session ended");
    assert!(location(&res).starts_with("/t/acme/login"));

    // The right password is told why; a wrong one learns nothing.
    let res = bob.sign_in(BOB, BOB_PASSWORD).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(res.text().await.unwrap().contains(MSG_DEACTIVATED));
    let res = bob.sign_in(BOB, "not bob's password").await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.text().await.unwrap().contains(INCORRECT));
    assert_eq!(bob.get("/t/acme/").await.status(), StatusCode::SEE_OTHER);

    let page = app.page("/t/acme/members").await;
    assert!(page.contains(&format!(r#"<tr data-member-id="{id}" data-deactivated>"#)), "{page}");
    assert!(page.contains(&format!(r#"action="/t/acme/members/{id}/reactivate""#)));
    let res = app.post(&format!("/t/acme/members/{id}/reset-link"), &[]).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.text().await.unwrap().contains(MSG_RESET_LINK_DEACTIVATED));
    let res = app.post(&format!("/t/acme/members/{id}/deactivate"), &[]).await;
    assert_eq!(flash_after(&app, res).await, "bob@acme.test is already deactivated.");

    let res = app.post(&format!("/t/acme/members/{id}/reactivate"), &[]).await;
    assert_eq!(flash_after(&app, res).await, "Reactivated bob@acme.test. They can sign in again.");
    assert_eq!(account(&app, BOB).await, Some(("user".into(), false)));
    assert_eq!(bob.sign_in(BOB, BOB_PASSWORD).await.status(), StatusCode::SEE_OTHER);
    assert_eq!(bob.get("/t/acme/").await.status(), StatusCode::OK);

    assert_eq!(audited(&app, "member.deactivated").await, [(ADMIN_EMAIL.into(), BOB.into())]);
    assert_eq!(audited(&app, "member.reactivated").await, [(ADMIN_EMAIL.into(), BOB.into())]);
    let failed = audited(&app, "user.sign_in_failed").await;
    assert_eq!(
        failed,
        [
            (BOB.into(), "account deactivated; from 127.0.0.1".into()),
            (BOB.into(), "wrong password; from 127.0.0.1".into())
        ]
    );
}

#[tokio::test]
async fn deactivating_ends_reset_links_and_their_waiting_email() {
    let server = TestSmtp::start(
        TlsMode::StartTls,
        Script { auth: Some(("mailer@acme.test".into(), crate::smtp::PASSWORD.into())), ..Script::default() },
    )
    .await;
    let (app, _bob) = with_bob().await;
    app.create_profile(&crate::sending::profile_for("Office", &server, "starttls")).await;
    assert_eq!(app.post("/t/acme/settings/email", &[("enabled", "on")]).await.status(), StatusCode::SEE_OTHER);
    app.stop_worker().await;
    let visitor = app.share();
    let res = visitor.post("/t/acme/password/forgot", &[("email", BOB)]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.count("SELECT COUNT(*) FROM outbox WHERE status = 'pending' AND reset_id IS NOT NULL").await, 1);

    let id = user_id(&app, BOB).await;
    assert_eq!(app.post(&format!("/t/acme/members/{id}/deactivate"), &[]).await.status(), StatusCode::SEE_OTHER);
    let (status, error): (String, String) =
        sqlx::query_as("SELECT status, last_error FROM outbox").fetch_one(&app.db).await.unwrap();
    assert_eq!((status.as_str(), error.as_str()), ("failed", NOT_SENT_MEMBER_GONE));
    assert_eq!(app.count("SELECT COUNT(*) FROM password_resets WHERE voided_at IS NULL").await, 0);
    assert!(!app.process_due_message().await, "nothing left to send");
    assert!(server.messages().is_empty(), "the reset email never went out");
    assert_eq!(server.connections(), 0);

    // Nor does a deactivated account get a new one.
    let res = visitor.post("/t/acme/password/forgot", &[("email", BOB)]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.count("SELECT COUNT(*) FROM outbox").await, 1);
}

#[tokio::test]
async fn removing_a_member_deletes_the_account_and_ends_their_session() {
    let (app, bob) = with_bob().await;
    let id = user_id(&app, BOB).await;
    let ask = app.page(&format!("/t/acme/members/{id}/remove")).await;
    assert!(ask.contains("<h1>Remove Member?</h1>"), "{ask}");
    assert!(ask.contains(r#"<button type="submit" class="danger">Remove Member</button>"#));

    let res = app.post(&format!("/t/acme/members/{id}/remove"), &[]).await;
    assert_eq!(flash_after(&app, res).await, "Removed bob@acme.test. They can no longer sign in.");
    assert_eq!(account(&app, BOB).await, None);
    assert_eq!(bob.get("/t/acme/").await.status(), StatusCode::SEE_OTHER, "his session ended");
    let res = bob.sign_in(BOB, BOB_PASSWORD).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.text().await.unwrap().contains(INCORRECT));

    assert_eq!(audited(&app, "member.removed").await, [(ADMIN_EMAIL.into(), "bob@acme.test (user)".into())]);
    let kept: Option<i64> = sqlx::query_scalar(
        "SELECT actor_id FROM audit_log WHERE action = 'user.signed_in' AND actor = 'bob@acme.test'",
    )
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!(kept, None, "his entries stay, under his address");
    assert!(!app.page("/t/acme/members").await.contains(BOB));
    let res = app.post(&format!("/t/acme/members/{id}/remove"), &[]).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND, "already gone");
}

#[tokio::test]
async fn an_admin_who_deactivates_or_removes_themselves_is_signed_out() {
    let app = spawn_app().await;
    app.sign_in_admin().await;
    app.add_user("carol@acme.test", "carol's long password", Role::Admin, false).await;
    let ada = user_id(&app, ADMIN_EMAIL).await;
    let ask = app.page(&format!("/t/acme/members/{ada}/deactivate")).await;
    assert!(ask.contains("This is your own account."));
    let res = app.post(&format!("/t/acme/members/{ada}/deactivate"), &[]).await;
    assert_eq!(location(&res), "/t/acme/login");
    assert!(app.page("/t/acme/login").await.contains("You deactivated your own account and are signed out."));
    assert_eq!(app.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await.status(), StatusCode::FORBIDDEN);
    assert_eq!(audited(&app, "member.deactivated").await, [(ADMIN_EMAIL.into(), ADMIN_EMAIL.into())]);

    let carol = app.share();
    carol.sign_in("carol@acme.test", "carol's long password").await;
    let ada_again = app.share();
    assert_eq!(carol.post(&format!("/t/acme/members/{ada}/reactivate"), &[]).await.status(), StatusCode::SEE_OTHER);
    ada_again.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let res = ada_again.post(&format!("/t/acme/members/{ada}/remove"), &[]).await;
    assert_eq!(location(&res), "/t/acme/login");
    assert!(ada_again.page("/t/acme/login").await.contains("You removed your own account and are signed out."));
    assert_eq!(account(&app, ADMIN_EMAIL).await, None);
    let removed: (Option<i64>, String, String) =
        sqlx::query_as("SELECT actor_id, actor, detail FROM audit_log WHERE action = 'member.removed'")
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!(removed, (None, ADMIN_EMAIL.into(), "ada@acme.test (admin)".into()));
}

#[tokio::test]
async fn the_operators_account_is_not_deactivated_or_removed() {
    let app = spawn_app().await;
    app.sign_in_admin().await;
    app.add_user("olivia@acme.test", "olivia's long password", Role::Admin, true).await;
    let olivia = user_id(&app, "olivia@acme.test").await;
    for action in ["deactivate", "remove"] {
        let res = app.post(&format!("/t/acme/members/{olivia}/{action}"), &[]).await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{action}");
        assert!(res.text().await.unwrap().contains(MSG_OPERATOR_ACCOUNT));
    }
    assert_eq!(account(&app, "olivia@acme.test").await, Some(("admin".into(), false)));
}

#[tokio::test]
async fn failed_sign_ins_and_the_slowing_are_audited_and_an_admin_clears_them() {
    let (app, bob) = with_bob().await;
    let _ = bob.post("/t/acme/logout", &[]).await;
    for i in 0..FREE_FAILURES {
        let res = bob.sign_in(BOB, &format!("hunter{i} wrong password")).await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    }
    assert_eq!(bob.sign_in(BOB, BOB_PASSWORD).await.status(), StatusCode::TOO_MANY_REQUESTS, "slowed down");
    let failed = audited(&app, "user.sign_in_failed").await;
    assert_eq!(failed.len(), FREE_FAILURES as usize);
    assert!(failed.iter().all(|f| *f == (BOB.to_owned(), "wrong password; from 127.0.0.1".to_owned())));
    assert_eq!(
        audited(&app, "user.locked_out").await,
        [(
            BOB.into(),
            "5 failed sign-ins from 127.0.0.1; further attempts from there wait 30 seconds, doubling after each \
             failure"
                .into()
        )],
        "once, and not again for the refused attempt"
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM audit_log WHERE instr(detail || actor, 'hunter') > 0").await, 0);
    let audit = app.page("/t/acme/audit").await;
    assert!(audit.contains("Sign-in slowed after failed attempts"), "{audit}");

    let id = user_id(&app, BOB).await;
    let page = app.page("/t/acme/members").await;
    assert!(page.contains(&format!(r#"<tr data-member-id="{id}" data-slowed>"#)), "{page}");
    assert!(page.contains(
        r#"<span class="badge badge-off">Sign-in slowed</span> <span class="muted">after failed sign-ins from 1 address</span>"#
    ));
    assert!(page.contains(">Clear failed sign-ins</button>"));
    let res = app.post(&format!("/t/acme/members/{id}/unlock"), &[]).await;
    assert_eq!(
        flash_after(&app, res).await,
        "Cleared the failed sign-ins of bob@acme.test: they can sign in again now, from anywhere."
    );
    assert_eq!(audited(&app, "member.unlocked").await, [(ADMIN_EMAIL.into(), BOB.into())]);
    assert!(app.page("/t/acme/audit").await.contains("Cleared the failed sign-ins of a member"));
    assert!(!app.page("/t/acme/members").await.contains("data-slowed"));
    assert_eq!(bob.sign_in(BOB, BOB_PASSWORD).await.status(), StatusCode::SEE_OTHER);

    let res = app.post(&format!("/t/acme/members/{id}/unlock"), &[]).await;
    assert_eq!(flash_after(&app, res).await, "The sign-ins of bob@acme.test are not slowed down.");
    assert_eq!(audited(&app, "member.unlocked").await.len(), 1);
}

#[tokio::test]
async fn a_failed_sign_in_for_no_account_is_audited_without_what_was_typed_as_a_password() {
    let app = spawn_app().await;
    let res = app.sign_in("Nobody@Acme.test", "a secret password").await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    // A password typed into the email field is not written down.
    let res = app.sign_in("correct horse battery", "correct horse battery").await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        audited(&app, "user.sign_in_failed").await,
        [
            ("nobody@acme.test".into(), "no such account; from 127.0.0.1".into()),
            ("(not an email address)".into(), "no such account; from 127.0.0.1".into())
        ]
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM audit_log WHERE instr(detail || actor, 'secret') > 0").await, 0);
    assert_eq!(app.count("SELECT COUNT(*) FROM audit_log WHERE instr(detail || actor, 'horse') > 0").await, 0);
}

#[tokio::test]
async fn another_organizations_admin_cannot_touch_these_members() {
    let (app, _bob) = with_bob().await;
    let id = user_id(&app, BOB).await;
    app.add_tenant("globex", "Globex Corp", "hank@globex.test", "hank's long password").await;
    let hank = app.share();
    hank.sign_in_to("globex", "hank@globex.test", "hank's long password").await;
    for action in ["deactivate", "remove", "reactivate", "unlock"] {
        let res = hank.post(&format!("/t/globex/members/{id}/{action}"), &[]).await;
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{action}");
    }
    let res = hank.post(&format!("/t/globex/members/{id}/role"), &[("role", "admin")]).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert_eq!(account(&app, BOB).await, Some(("user".into(), false)));
}

#[tokio::test]
async fn member_actions_without_the_form_token_change_nothing() {
    let (app, _bob) = with_bob().await;
    let id = user_id(&app, BOB).await;
    for (action, fields) in [
        ("role", &[("role", "admin")][..]),
        ("deactivate", &[][..]),
        ("remove", &[][..]),
        ("reactivate", &[][..]),
        ("unlock", &[][..]),
    ] {
        let res = app.post_raw(&format!("/t/acme/members/{id}/{action}"), fields).await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{action}");
    }
    assert_eq!(account(&app, BOB).await, Some(("user".into(), false)));
    assert_eq!(member_changes(&app).await, 0);
}
