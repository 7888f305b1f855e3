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

#[tokio::test]
async fn a_session_past_its_idle_limit_is_refused() {
    let app = spawn_app_with(|c| c.session_idle = Duration::from_secs(1)).await;
    app.sign_in_admin().await;
    assert_eq!(app.get("/t/acme/").await.status(), StatusCode::OK, "fresh session works");
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
        tokio::time::sleep(Duration::from_millis(800)).await;
        assert_eq!(app.get("/t/acme/").await.status(), StatusCode::OK);
    }
}

#[tokio::test]
async fn a_session_past_its_absolute_limit_is_refused_even_when_active() {
    let app = spawn_app_with(|c| c.session_absolute = Duration::from_secs(1)).await;
    app.sign_in_admin().await;
    assert_eq!(app.get("/t/acme/").await.status(), StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(2200)).await;
    let res = app.get("/t/acme/").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let id = app.session_cookie();
    if let Some(id) = id {
        let n = app.count(&format!("SELECT COUNT(*) FROM tower_sessions WHERE id = '{id}'")).await;
        assert_eq!(n, 0, "the expired session was deleted");
    }
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
