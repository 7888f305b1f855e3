use relaydesk::domain::account::Role;
use reqwest::StatusCode;

use crate::helpers::*;

async fn operator_app() -> TestApp {
    let app = spawn_app().await;
    app.add_user("olivia@acme.test", "olivia's long password", Role::Admin, true).await;
    let res = app.sign_in("olivia@acme.test", "olivia's long password").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    app
}

fn new_tenant<'a>(slug: &'a str, email: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("slug", slug),
        ("name", "Initech"),
        ("admin_name", "Peter"),
        ("admin_email", email),
        ("admin_password", "peter's long password"),
    ]
}

#[tokio::test]
async fn admin_is_not_found_for_anyone_but_an_operator() {
    let app = spawn_app().await;
    assert_eq!(app.get("/admin").await.status(), StatusCode::NOT_FOUND, "anonymous");
    app.sign_in_admin().await;
    assert_eq!(app.get("/admin").await.status(), StatusCode::NOT_FOUND, "a tenant admin");
    let res = app.post("/admin/tenants", &new_tenant("initech", "peter@initech.test")).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert_eq!(app.count("SELECT COUNT(*) FROM tenants").await, 1);
}

#[tokio::test]
async fn an_operator_creates_a_tenant_whose_admin_can_sign_in() {
    let app = operator_app().await;
    let html = app.page("/admin").await;
    assert!(html.contains("acme"));
    let res = app.post("/admin/tenants", &new_tenant("initech", "Peter@Initech.test")).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let html = app.page("/admin").await;
    assert!(html.contains("Created Initech with its administrator peter@initech.test."));
    assert!(html.contains(r#"data-tenant="initech""#));

    let (role, operator): (String, bool) = sqlx::query_as(
        "SELECT role, is_operator FROM users JOIN tenants t ON t.id = users.tenant_id WHERE t.slug = 'initech'",
    )
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!((role.as_str(), operator), ("admin", false));

    let peter = app.share();
    let res = peter.sign_in_to("initech", "peter@initech.test", "peter's long password").await;
    assert_eq!(location(&res), "/t/initech/");
}

#[tokio::test]
async fn a_bad_or_taken_tenant_is_refused_with_messages_and_nothing_stored() {
    let app = operator_app().await;
    let res = app
        .post("/admin/tenants", &[("slug", "A"), ("admin_email", "peter@localhost"), ("admin_password", "short")])
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = res.text().await.unwrap();
    for (field, message) in [
        ("slug", "Please enter a short name of 2 to 40 lowercase letters, digits or hyphens."),
        ("name", "Please enter the name of the organization, up to 100 characters."),
        ("admin_name", "Please enter a name of up to 100 characters."),
        ("admin_email", "Please enter a valid email address."),
        ("admin_password", "Please choose a password of at least 12 characters."),
    ] {
        assert!(html.contains(&format!(r#"id="error-{field}">{message}<"#)), "{field}: {html}");
        assert!(html.contains(&format!(r#"aria-describedby="error-{field}"#)), "{field}");
    }
    assert!(!html.contains("short\""), "the typed password is not echoed");

    let res = app.post("/admin/tenants", &new_tenant("acme", "peter@initech.test")).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.text().await.unwrap().contains("An organization with this short name already exists."));
    assert_eq!(app.count("SELECT COUNT(*) FROM tenants").await, 1);
    assert_eq!(app.count("SELECT COUNT(*) FROM users").await, 2);
}

#[tokio::test]
async fn rename_and_suspend() {
    let app = operator_app().await;
    app.add_tenant("globex", "Globex", "hank@globex.test", "hank's long password").await;
    let hank = app.share();
    assert_eq!(
        hank.sign_in_to("globex", "hank@globex.test", "hank's long password").await.status(),
        StatusCode::SEE_OTHER
    );

    let res = app.post("/admin/tenants/globex/rename", &[("name", "Globex Corporation")]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let (name,): (String,) =
        sqlx::query_as("SELECT name FROM tenants WHERE slug = 'globex'").fetch_one(&app.db).await.unwrap();
    assert_eq!(name, "Globex Corporation");
    let res = app.post("/admin/tenants/globex/rename", &[("name", "")]).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);

    let res = app.post("/admin/tenants/globex/suspend", &[("suspended", "on")]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(hank.get("/t/globex/").await.status(), StatusCode::SEE_OTHER, "the session ended");
    let res = hank.sign_in_to("globex", "hank@globex.test", "hank's long password").await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(res.text().await.unwrap().contains("This organization is suspended."));

    let res = app.post("/admin/tenants/acme/suspend", &[("suspended", "on")]).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "not your own");

    app.post("/admin/tenants/globex/suspend", &[]).await;
    let res = hank.sign_in_to("globex", "hank@globex.test", "hank's long password").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "restored");
    assert_eq!(app.post("/admin/tenants/nope/suspend", &[]).await.status(), StatusCode::NOT_FOUND);
}

async fn suspended(app: &TestApp, slug: &str) -> bool {
    sqlx::query_scalar("SELECT suspended FROM tenants WHERE slug = ?").bind(slug).fetch_one(&app.db).await.unwrap()
}

#[tokio::test]
async fn an_operator_whose_organization_is_suspended_loses_admin_at_once() {
    let app = operator_app().await;
    app.add_tenant("globex", "Globex", "hank@globex.test", "hank's long password").await;
    sqlx::query("UPDATE users SET is_operator = 1 WHERE email = 'hank@globex.test'").execute(&app.db).await.unwrap();
    let hank = app.share();
    let res = hank.sign_in_to("globex", "hank@globex.test", "hank's long password").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(hank.get("/admin").await.status(), StatusCode::OK, "an operator of an open organization");

    let res = app.post("/admin/tenants/globex/suspend", &[("suspended", "on")]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(hank.get("/admin").await.status(), StatusCode::NOT_FOUND, "the same session, at once");
    let res = hank.post("/admin/tenants/globex/suspend", &[]).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND, "cannot restore their own organization");
    let res = hank.post("/admin/tenants/acme/suspend", &[("suspended", "on")]).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND, "cannot suspend the other operator's");
    let res = hank.post("/admin/tenants", &new_tenant("initech", "peter@initech.test")).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND, "cannot create organizations");
    assert!(suspended(&app, "globex").await);
    assert!(!suspended(&app, "acme").await);
    assert_eq!(app.count("SELECT COUNT(*) FROM tenants").await, 2);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_log WHERE action LIKE 'tenant.%'").await,
        1,
        "only the suspension"
    );

    app.post("/admin/tenants/globex/suspend", &[]).await;
    let res = hank.sign_in_to("globex", "hank@globex.test", "hank's long password").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(hank.get("/admin").await.status(), StatusCode::OK, "restored, signed in again");
}

#[tokio::test]
async fn no_operator_may_suspend_the_organization_they_sign_in_through() {
    let app = operator_app().await;
    let res = app.post("/admin/tenants/acme/suspend", &[("suspended", "on")]).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = res.text().await.unwrap();
    assert!(html.contains("You cannot suspend your own organization: you would lock yourself out."), "{html}");
    assert!(!suspended(&app, "acme").await, "nothing changed");
    assert_eq!(app.count("SELECT COUNT(*) FROM audit_log WHERE action LIKE 'tenant.%'").await, 0);
    assert_eq!(app.get("/admin").await.status(), StatusCode::OK, "still the operator");
    assert_eq!(app.get("/t/acme/").await.status(), StatusCode::OK, "still signed in");
}
