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

#[tokio::test]
async fn a_taken_short_name_is_shown_together_with_the_other_messages() {
    let app = operator_app().await;
    let res = app
        .post(
            "/admin/tenants",
            &[("slug", "acme"), ("name", "Acme Two"), ("admin_email", "peter@localhost"), ("admin_password", "short")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = res.text().await.unwrap();
    for (field, message) in [
        ("slug", "An organization with this short name already exists."),
        ("admin_name", "Please enter a name of up to 100 characters."),
        ("admin_email", "Please enter a valid email address."),
        ("admin_password", "Please choose a password of at least 12 characters."),
    ] {
        assert!(html.contains(&format!(r#"id="error-{field}">{message}<"#)), "{field}: {html}");
        assert!(html.contains(&format!(r##"<li><a href="#{field}">{message}</a></li>"##)), "{field} in the summary");
    }
    assert!(html.contains(r#"value="Acme Two""#), "entries kept");

    // The same when inviting: the taken name beside the bad address.
    let res = app
        .post("/admin/tenants", &[("first_admin", "invite"), ("slug", "acme"), ("name", ""), ("admin_email", "x")])
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = res.text().await.unwrap();
    for (field, message) in [
        ("slug", "An organization with this short name already exists."),
        ("name", "Please enter the name of the organization, up to 100 characters."),
        ("admin_email", "Please enter a valid email address."),
    ] {
        assert!(html.contains(&format!(r#"id="error-{field}">{message}<"#)), "{field}: {html}");
    }
    assert!(!html.contains(r#"id="error-admin_password""#), "no password is asked when inviting");
    assert!(!html.contains(r#"id="error-admin_name""#));
    assert!(
        html.contains(r#"id="first_admin-invite" name="first_admin" value="invite" checked"#),
        "the choice is kept"
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM tenants").await, 1);
    assert_eq!(app.count("SELECT COUNT(*) FROM invitations").await, 0);
}

#[tokio::test]
async fn a_new_organizations_first_admin_can_be_invited_with_a_link_to_share() {
    let app = operator_app().await;
    let res = app
        .post(
            "/admin/tenants",
            &[
                ("first_admin", "invite"),
                ("slug", "initech"),
                ("name", "Initech"),
                ("admin_email", "Peter@Initech.test"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), "/admin");
    let html = app.page("/admin").await;
    assert!(html.contains(&relaydesk::web::admin::msg_created_invited("Initech", "peter@initech.test")));
    assert!(html.contains(
        "Created Initech. It has no SMTP profile yet, so relaydesk cannot email the invitation: send \
         peter@initech.test the join link below yourself. They choose their name and password; the link works \
         once, within 7 days."
    ));
    assert!(html.contains(
        r#"<label for="shared-link">Join link for peter@initech.test, the first administrator of Initech</label>"#
    ));
    let link = {
        let start = html.find(r#"id="shared-link" type="text" value=""#).unwrap()
            + r#"id="shared-link" type="text" value=""#.len();
        html[start..].split('"').next().unwrap().to_owned()
    };
    assert!(link.starts_with(&format!("{}/invite/", app.base)), "{link}");
    assert!(!app.page("/admin").await.contains(&link), "shown once");

    // No account yet, no mail; an open invitation for an admin, shared by hand.
    let members: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM users u JOIN tenants t ON t.id = u.tenant_id WHERE t.slug = 'initech'",
    )
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!(members, 0);
    let (email, role): (String, String) = sqlx::query_as(
        "SELECT i.email, i.role FROM invitations i JOIN tenants t ON t.id = i.tenant_id WHERE t.slug = 'initech'",
    )
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!((email.as_str(), role.as_str()), ("peter@initech.test", "admin"));
    assert_eq!(app.count("SELECT COUNT(*) FROM outbox").await, 0);
    let actions: Vec<(String, String)> = sqlx::query_as(
        "SELECT a.action, a.detail FROM audit_log a JOIN tenants t ON t.id = a.tenant_id WHERE t.slug = 'initech' ORDER BY a.id",
    )
    .fetch_all(&app.db)
    .await
    .unwrap();
    assert_eq!(
        actions,
        [
            ("tenant.created".into(), "by operator olivia@acme.test; first admin invited: peter@initech.test".into()),
            ("invitation.created".into(), "peter@initech.test as admin".into()),
        ]
    );

    // Peter joins from the link and is the organization's administrator.
    let peter = app.share();
    let path = link.strip_prefix(&app.base).unwrap();
    let page = peter.page(path).await;
    assert!(page.contains("Join Initech"));
    let res = peter.post(path, &[("display_name", "Peter"), ("password", "peter's long password")]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), "/t/initech/");
    assert!(peter.page("/t/initech/smtp/new").await.contains("SMTP"), "an admin's page");
    let (role, operator): (String, bool) =
        sqlx::query_as("SELECT role, is_operator FROM users WHERE email = 'peter@initech.test'")
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!((role.as_str(), operator), ("admin", false));
}

#[tokio::test]
async fn suspending_is_confirmed_first() {
    let app = operator_app().await;
    app.add_tenant("globex", "Globex", "hank@globex.test", "hank's long password").await;
    let list = app.page("/admin").await;
    assert!(list.contains(
        r#"<a href="/admin/tenants/globex/suspend" class="button danger" id="suspend-globex" data-dialog="suspend">Suspend</a>"#
    ));
    assert!(!list.contains(r#"href="/admin/tenants/acme/suspend""#), "not one's own");

    let html = app.page("/admin/tenants/globex/suspend").await;
    assert!(html.contains("<h1>Suspend Globex?</h1>"));
    assert!(html.contains("Its member is signed out and cannot sign in, and its mail waits unsent."));
    assert!(html.contains(r#"<input type="hidden" name="suspended" value="on">"#));
    assert!(html.contains(r#"<a href="/admin" class="cancel">Cancel</a>"#));
    assert_eq!(app.count("SELECT COUNT(*) FROM tenants WHERE suspended = 1").await, 0, "asking changes nothing");

    let res = app.get("/admin/tenants/acme/suspend").await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res
        .text()
        .await
        .unwrap()
        .contains("You cannot suspend your own organization: you would lock yourself out."));
    assert_eq!(app.get("/admin/tenants/nope/suspend").await.status(), StatusCode::NOT_FOUND);
    let hank = app.share();
    hank.sign_in_to("globex", "hank@globex.test", "hank's long password").await;
    assert_eq!(hank.get("/admin/tenants/acme/suspend").await.status(), StatusCode::NOT_FOUND, "operators only");

    let res = app.post("/admin/tenants/globex/suspend", &[("suspended", "on")]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(app.page("/admin").await.contains("Suspended Globex."));
    assert_eq!(app.count("SELECT COUNT(*) FROM tenants WHERE slug = 'globex' AND suspended = 1").await, 1);
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

#[tokio::test]
async fn an_unknown_way_in_for_the_first_admin_is_refused_with_a_message() {
    let app = operator_app().await;
    let message = "Please choose how the first administrator gets in: invite them, or choose their name and \
                   password now.";
    assert_eq!(relaydesk::web::admin::MSG_FIRST_ADMIN, message);
    for how in ["email", "Invite", "passwords", "invite\n"] {
        let mut form = new_tenant("initech", "peter@initech.test");
        form.push(("first_admin", how));
        let res = app.post("/admin/tenants", &form).await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{how:?}");
        let html = res.text().await.unwrap();
        assert!(html.contains(&format!(r#"<p class="error" id="error-first_admin">{message}</p>"#)), "{how:?}: {html}");
        assert!(html.contains(&format!(r##"<li><a href="#first_admin">{message}</a></li>"##)), "in the summary");
        assert!(html.contains(r#"value="initech""#), "entries kept");
    }
    // With the other fields' messages at once.
    let res = app.post("/admin/tenants", &[("first_admin", "email"), ("slug", "acme"), ("admin_email", "x")]).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = res.text().await.unwrap();
    for field in ["first_admin", "slug", "name", "admin_email"] {
        assert!(html.contains(&format!(r#"id="error-{field}""#)), "{field}");
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM tenants").await, 1, "nothing created");
    assert_eq!(app.count("SELECT COUNT(*) FROM invitations").await, 0);

    // Left out, it is the password way, as before.
    let res = app.post("/admin/tenants", &new_tenant("initech", "peter@initech.test")).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let mut form = new_tenant("globex", "hank@globex.test");
    form.push(("first_admin", "password"));
    assert_eq!(app.post("/admin/tenants", &form).await.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.count("SELECT COUNT(*) FROM tenants").await, 3);
}
