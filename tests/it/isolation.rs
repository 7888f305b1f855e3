use relaydesk::domain::account::Role;
use reqwest::StatusCode;

use crate::helpers::*;

#[tokio::test]
async fn an_admin_of_one_tenant_is_not_signed_in_to_another() {
    let app = spawn_app().await;
    app.add_tenant("globex", "Globex Corp", "hank@globex.test", "hank's long password").await;
    app.sign_in_admin().await;

    for path in ["/t/globex/", "/t/globex/audit"] {
        let res = app.get(path).await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "{path}");
        assert!(location(&res).starts_with("/t/globex/login"), "{path}");
        let body = res.text().await.unwrap();
        assert!(!body.contains("Globex Corp"), "no data of the other tenant");
    }
    // The sign-in to acme is untouched by the look at globex.
    assert_eq!(app.get("/t/acme/").await.status(), StatusCode::OK);
}

#[tokio::test]
async fn acme_credentials_do_not_open_globex() {
    let app = spawn_app().await;
    app.add_tenant("globex", "Globex Corp", "hank@globex.test", "hank's long password").await;
    let res = app.sign_in_to("globex", ADMIN_EMAIL, ADMIN_PASSWORD).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.text().await.unwrap().contains("Incorrect email or password."));
}

#[tokio::test]
async fn the_audit_log_shows_only_the_tenants_own_entries() {
    let app = spawn_app().await;
    app.add_tenant("globex", "Globex Corp", "hank@globex.test", "hank's long password").await;
    let hank = app.share();
    let res = hank.sign_in_to("globex", "hank@globex.test", "hank's long password").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);

    app.sign_in_admin().await;
    let html = app.page("/t/acme/audit").await;
    assert!(html.contains(ADMIN_EMAIL));
    assert!(!html.contains("hank@globex.test"));
}

#[tokio::test]
async fn an_unknown_tenant_is_not_found() {
    let app = spawn_app().await;
    for path in ["/t/nope/", "/t/nope/login", "/t/nope/audit", "/t/%00/login", "/t/../admin", "/nowhere"] {
        let res = app.get(path).await;
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{path}");
    }
}

#[tokio::test]
async fn roles_below_admin_get_403_on_admin_pages() {
    let app = spawn_app().await;
    app.add_user("olga@acme.test", "olga's long password", Role::Organizer, false).await;
    app.add_user("ulf@acme.test", "ulf's long password", Role::User, false).await;
    for (email, password) in [("olga@acme.test", "olga's long password"), ("ulf@acme.test", "ulf's long password")] {
        let member = app.share();
        let res = member.sign_in(email, password).await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        assert_eq!(member.get("/t/acme/").await.status(), StatusCode::OK);
        let res = member.get("/t/acme/audit").await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{email}");
        let html = member.page("/t/acme/").await;
        assert!(!html.contains("/t/acme/audit"), "no link that would fail");
    }
}
