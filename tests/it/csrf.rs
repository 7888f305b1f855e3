use reqwest::StatusCode;

use crate::helpers::*;

#[tokio::test]
async fn sign_in_without_the_token_is_refused_and_signs_nobody_in() {
    let app = spawn_app().await;
    let _ = app.page("/t/acme/login").await;
    let res = app.post_raw("/t/acme/login", &[("email", ADMIN_EMAIL), ("password", ADMIN_PASSWORD)]).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(res.text().await.unwrap().contains("This form has expired or did not come from relaydesk."));
    assert_eq!(app.get("/t/acme/").await.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.count("SELECT COUNT(*) FROM audit_log WHERE action = 'user.signed_in'").await, 0);
}

#[tokio::test]
async fn a_wrong_token_or_no_session_at_all_is_refused() {
    let app = spawn_app().await;
    let _ = app.page("/t/acme/login").await;
    let res = app
        .post_raw("/t/acme/login", &[("email", ADMIN_EMAIL), ("password", ADMIN_PASSWORD), ("csrf_token", "forged")])
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);

    let (fresh, _) = new_client();
    let res = fresh
        .post(app.url("/t/acme/login"))
        .form(&[("email", ADMIN_EMAIL), ("password", ADMIN_PASSWORD), ("csrf_token", "")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn another_sessions_token_does_not_work() {
    let app = spawn_app().await;
    let other = spawn_app_client(&app).await;
    let their_token = csrf_in(&other);
    let _ = app.page("/t/acme/login").await;
    let res = app
        .post_raw(
            "/t/acme/login",
            &[("email", ADMIN_EMAIL), ("password", ADMIN_PASSWORD), ("csrf_token", &their_token)],
        )
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
}

async fn spawn_app_client(app: &TestApp) -> String {
    let (client, _) = new_client();
    client.get(app.url("/t/acme/login")).send().await.unwrap().text().await.unwrap()
}

#[tokio::test]
async fn sign_out_without_the_token_changes_nothing() {
    let app = spawn_app().await;
    app.sign_in_admin().await;
    let res = app.post_raw("/t/acme/logout", &[]).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.get("/t/acme/").await.status(), StatusCode::OK, "still signed in");
}

#[tokio::test]
async fn the_token_may_come_in_a_header() {
    let app = spawn_app().await;
    app.sign_in_admin().await;
    let token = app.csrf().await;
    let res = app.client.post(app.url("/t/acme/logout")).header("x-csrf-token", token).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.get("/t/acme/").await.status(), StatusCode::SEE_OTHER, "signed out");
}
