use std::time::Duration;

use reqwest::StatusCode;

use crate::helpers::*;

#[tokio::test]
async fn sign_out_deletes_the_session_on_the_server() {
    let app = spawn_app().await;
    app.sign_in_admin().await;
    let id = app.session_cookie().unwrap();
    assert_eq!(app.count(&format!("SELECT COUNT(*) FROM tower_sessions WHERE id = '{id}'")).await, 1);

    let res = app.post("/t/acme/logout", &[]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), "/t/acme/login");
    assert_eq!(app.count(&format!("SELECT COUNT(*) FROM tower_sessions WHERE id = '{id}'")).await, 0);

    // Replaying the old cookie from another client gets nothing.
    let (other, _) = new_client();
    let res = other.get(app.url("/t/acme/")).header("cookie", format!("relaydesk_session={id}")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), "/t/acme/login?next=%2Ft%2Facme%2F");
    let html = app.page("/t/acme/login").await;
    assert!(html.contains("You have signed out."));
}

// The idle limit is enforced by tower-sessions (`Expiry::OnInactivity`): the cookie's
// Max-Age and the stored record's expiry, both from the real clock, which the app's Clock
// does not move. relaydesk checks no idle time of its own, so these two tests keep a
// short real idle limit and really wait (about 2 s and 3 s; they run alongside the rest).

#[tokio::test]
async fn a_session_past_its_idle_limit_is_refused() {
    let app = spawn_app_with(|c| c.session_idle = Duration::from_secs(1)).await;
    app.sign_in_admin().await;
    assert_eq!(app.get("/t/acme/").await.status(), StatusCode::OK, "fresh session works");
    // Real time: past the 1 s limit, which is stored in whole seconds.
    tokio::time::sleep(Duration::from_millis(2200)).await;
    let res = app.get("/t/acme/").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(location(&res).starts_with("/t/acme/login"));
}

#[tokio::test]
async fn activity_keeps_a_session_alive_past_the_idle_limit() {
    let app = spawn_app_with(|c| c.session_idle = Duration::from_secs(2)).await;
    app.sign_in_admin().await;
    for _ in 0..4 {
        // Real time: each request within the 2 s limit, 3.2 s in all.
        tokio::time::sleep(Duration::from_millis(800)).await;
        assert_eq!(app.get("/t/acme/").await.status(), StatusCode::OK);
    }
}

#[tokio::test]
async fn a_session_past_its_absolute_limit_is_refused_even_when_active() {
    let app = spawn_app().await;
    let limit = app.state.config.session_absolute;
    assert_eq!(limit, Duration::from_secs(12 * 60 * 60), "the default limit is tested");
    app.sign_in_admin().await;
    assert_eq!(app.get("/t/acme/").await.status(), StatusCode::OK);
    // Active all along (the idle limit, on the real clock, never runs out here)…
    app.advance(limit - Duration::from_secs(1));
    assert_eq!(app.get("/t/acme/").await.status(), StatusCode::OK, "a second before the limit");
    app.advance(Duration::from_secs(1));
    assert_eq!(app.get("/t/acme/").await.status(), StatusCode::OK, "at the limit");
    // …and refused once the limit has passed.
    app.advance(Duration::from_secs(1));
    let id = app.session_cookie().expect("a session cookie");
    let res = app.get("/t/acme/").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), "/t/acme/login?next=%2Ft%2Facme%2F");
    let n = app.count(&format!("SELECT COUNT(*) FROM tower_sessions WHERE id = '{id}'")).await;
    assert_eq!(n, 0, "the expired session was deleted");
    // Signing in again starts a new limit.
    app.sign_in_admin().await;
    assert_eq!(app.get("/t/acme/").await.status(), StatusCode::OK);
}

#[tokio::test]
async fn an_operator_session_past_its_absolute_limit_no_longer_opens_the_admin_page() {
    let app = spawn_app().await;
    app.add_user("olivia@acme.test", "olivia's long password", relaydesk::domain::account::Role::User, true).await;
    assert_eq!(app.sign_in("olivia@acme.test", "olivia's long password").await.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.get("/admin").await.status(), StatusCode::OK);
    app.advance(app.state.config.session_absolute + Duration::from_secs(1));
    assert_eq!(app.get("/admin").await.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn bumping_the_session_epoch_ends_existing_sessions() {
    let app = spawn_app().await;
    app.sign_in_admin().await;
    sqlx::query("UPDATE users SET session_epoch = session_epoch + 1").execute(&app.db).await.unwrap();
    assert_eq!(app.get("/t/acme/").await.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn a_member_changes_their_own_password_and_other_sessions_end() {
    let app = spawn_app().await;
    app.add_user("ulf@acme.test", "ulf's old long password", relaydesk::domain::account::Role::User, false).await;
    let here = app.share();
    let elsewhere = app.share();
    for device in [&here, &elsewhere] {
        assert_eq!(device.sign_in("ulf@acme.test", "ulf's old long password").await.status(), StatusCode::SEE_OTHER);
    }
    assert!(here.page("/t/acme/account").await.contains("ulf@acme.test"));

    let res =
        here.post("/t/acme/account/password", &[("current_password", "wrong password!!"), ("password", "x")]).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = res.text().await.unwrap();
    assert!(html.contains(r#"id="error-current_password">Your current password is not correct.</p>"#));
    assert!(html.contains(r#"id="error-password">Please choose a password of at least 12 characters.</p>"#));

    let res = here
        .post(
            "/t/acme/account/password",
            &[("current_password", "ulf's old long password"), ("password", "ulf's new long password")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(here.page("/t/acme/account").await.contains("Your password has been changed."), "this session goes on");
    assert_eq!(elsewhere.get("/t/acme/").await.status(), StatusCode::SEE_OTHER, "the other session ended");
    let fresh = app.share();
    assert_eq!(
        fresh.sign_in("ulf@acme.test", "ulf's old long password").await.status(),
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(fresh.sign_in("ulf@acme.test", "ulf's new long password").await.status(), StatusCode::SEE_OTHER);
}

/// Every session row as stored: id, data and idle deadline.
async fn session_rows(app: &TestApp) -> Vec<(String, Vec<u8>, String)> {
    sqlx::query_as("SELECT id, data, expiry_date FROM tower_sessions ORDER BY id").fetch_all(&app.db).await.unwrap()
}

/// SQLite's count of changes made to the file by other connections: unchanged means
/// nobody wrote anything at all.
async fn data_version(conn: &mut sqlx::SqliteConnection) -> i64 {
    sqlx::query_scalar("PRAGMA data_version").fetch_one(conn).await.unwrap()
}

#[tokio::test]
async fn a_plain_signed_in_page_view_writes_nothing() {
    let app = spawn_app().await;
    app.sign_in_admin().await;
    // The first view after signing in shows (and so removes) the welcome message: a change.
    app.page("/t/acme/").await;
    let before = session_rows(&app).await;
    assert_eq!(before.len(), 1);
    let path = app.state.config.database_url.clone();
    let mut watcher = <sqlx::SqliteConnection as sqlx::Connection>::connect(&path).await.unwrap();
    let version = data_version(&mut watcher).await;

    for page in ["/t/acme/", "/t/acme/smtp", "/t/acme/smtp/new", "/t/acme/members", "/t/acme/email-log", "/t/acme/"] {
        app.page(page).await;
    }
    assert_eq!(session_rows(&app).await, before, "the session row is as it was");
    assert_eq!(data_version(&mut watcher).await, version, "nothing at all was written to the database");

    // A change is still written at once: the flash of a form that was sent.
    let res = app.post("/t/acme/settings/email", &[]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_ne!(session_rows(&app).await, before);
}

// Like the idle tests above, these use short real limits: tower-sessions measures the idle
// time by the real clock. The deadline is moved at most once per step, a thirtieth of the
// limit (a minute for the real 30 minutes).

#[tokio::test]
async fn the_idle_deadline_moves_at_most_once_per_step() {
    let app = spawn_app_with(|c| c.session_idle = Duration::from_secs(30)).await;
    app.sign_in_admin().await;
    app.page("/t/acme/").await;
    let written = session_rows(&app).await;
    // Views within the step (1 s here) leave the row alone…
    app.page("/t/acme/smtp").await;
    assert_eq!(session_rows(&app).await, written);
    // …a view after it moves the deadline forward.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    app.page("/t/acme/smtp").await;
    let moved = session_rows(&app).await;
    assert_eq!(moved[0].0, written[0].0, "the same session");
    assert!(moved[0].2 > written[0].2, "the deadline moved: {} after {}", moved[0].2, written[0].2);
}

#[tokio::test]
async fn the_idle_limit_still_ends_a_session_whose_views_were_not_written() {
    let idle = Duration::from_secs(6);
    let app = spawn_app_with(|c| c.session_idle = idle).await;
    app.sign_in_admin().await;
    app.page("/t/acme/").await;
    // Views in quick succession: at most the first moves the deadline.
    for _ in 0..5 {
        app.page("/t/acme/smtp").await;
    }
    let last_view = std::time::Instant::now();
    // Within the limit less its step (0.2 s), the session holds…
    tokio::time::sleep(Duration::from_millis(4500)).await;
    assert_eq!(
        app.get("/t/acme/").await.status(),
        StatusCode::OK,
        "alive {:?} after the last view",
        last_view.elapsed()
    );
    // …and after a full idle limit without a view, it has ended.
    tokio::time::sleep(idle + Duration::from_millis(300)).await;
    let res = app.get("/t/acme/smtp").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), "/t/acme/login?next=%2Ft%2Facme%2Fsmtp");
}
