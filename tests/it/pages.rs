use reqwest::StatusCode;

use crate::helpers::*;

#[tokio::test]
async fn healthz_answers_200() {
    let app = spawn_app().await;
    let res = app.get("/healthz").await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.text().await.unwrap(), "ok");
}

#[tokio::test]
async fn every_page_carries_the_security_headers() {
    let app = spawn_app().await;
    for path in ["/", "/t/acme/login", "/nowhere", "/static/css/app.css", "/healthz"] {
        let res = app.get(path).await;
        let h = res.headers();
        let csp = h.get("content-security-policy").expect(path).to_str().unwrap();
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert!(csp.contains("script-src 'self'"), "{path}: {csp}");
        assert!(!csp.contains("unsafe-inline"), "{path}: {csp}");
        assert_eq!(h.get("x-content-type-options").unwrap(), "nosniff", "{path}");
        assert_eq!(h.get("referrer-policy").unwrap(), "same-origin", "{path}");
    }
}

#[tokio::test]
async fn signed_in_pages_are_not_cached() {
    let app = spawn_app().await;
    app.sign_in_admin().await;
    for path in ["/t/acme/", "/t/acme/audit"] {
        let res = app.get(path).await;
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.headers().get("cache-control").unwrap(), "no-store", "{path}");
    }
}

#[tokio::test]
async fn pages_use_no_inline_script_and_nothing_from_elsewhere() {
    let app = spawn_app().await;
    app.sign_in_admin().await;
    for path in ["/", "/t/acme/login", "/t/acme/", "/t/acme/audit"] {
        let html = app.page(path).await;
        assert!(!html.contains("<script>"), "{path}: inline script");
        assert!(!has_inline_handler(&html), "{path}: no inline event handlers");
        for attr in ["src=\"http", "href=\"http", "src=\"//", "href=\"//"] {
            assert!(!html.contains(attr), "{path}: external resource {attr}");
        }
    }
    let css = app.get("/static/css/app.css").await;
    assert_eq!(css.status(), StatusCode::OK);
    assert!(css.headers().get("content-type").unwrap().to_str().unwrap().starts_with("text/css"));
    let js = app.get("/static/js/app.js").await;
    assert_eq!(js.status(), StatusCode::OK);
    assert_eq!(app.get("/static/../Cargo.toml").await.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_front_door_finds_an_organization_by_short_name() {
    let app = spawn_app().await;
    let html = app.page("/").await;
    assert!(html.contains("Organization short name"));
    let res = app.get("/go?slug=acme").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), "/t/acme/login");
    let res = app.get("/go?slug=Nope%21").await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert!(res.text().await.unwrap().contains("There is no organization with this short name."));
}

#[tokio::test]
async fn odd_input_gets_a_clear_answer_never_a_500() {
    let app = spawn_app().await;
    let token = app.csrf().await;
    // Malformed form encoding with a valid token in a header.
    let res = app
        .client
        .post(app.url("/t/acme/login"))
        .header("x-csrf-token", &token)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("email=%ZZ&password=%FF%FE")
        .send()
        .await
        .unwrap();
    assert!(res.status().is_client_error(), "{}", res.status());
    // Not a form at all.
    let res = app.client.post(app.url("/t/acme/login")).header("x-csrf-token", &token).body("{}").send().await.unwrap();
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.text().await.unwrap().contains("The form could not be read."));
    // Far too large.
    let big = "a".repeat(2 * 1024 * 1024);
    let res = app.post("/t/acme/login", &[("email", &big), ("password", "x")]).await;
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
    // Control characters and long values in the fields.
    let res = app.post("/t/acme/login", &[("email", "a\r\nb@x.io\0"), ("password", &"p".repeat(10_000))]).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

/// Whether the HTML has an attribute such as `onclick=`.
fn has_inline_handler(html: &str) -> bool {
    html.match_indices(" on").any(|(i, _)| {
        let rest = &html[i + 3..];
        let name_len = rest.bytes().take_while(u8::is_ascii_lowercase).count();
        name_len > 0 && rest[name_len..].starts_with('=')
    })
}

#[tokio::test]
async fn an_unreadable_query_string_gets_the_plain_400_page() {
    let app = spawn_app().await;
    app.sign_in_admin().await;
    for path in ["/t/acme/smtp?q=a&q=b", "/t/acme/login?next=a&next=b", "/go?slug=a&slug=b"] {
        let res = app.get(path).await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{path}");
        assert!(res.text().await.unwrap().contains("This address has parts relaydesk cannot read."), "{path}");
    }
}

#[tokio::test]
async fn the_dashboard_walks_a_new_admin_through_getting_started() {
    let app = spawn_app().await;
    app.sign_in_admin().await;
    let html = app.page("/t/acme/").await;
    assert!(html.contains("Getting started"));
    for step in ["Add an SMTP profile", "Send a test email", "Turn email on", "Invite your colleagues"] {
        assert!(html.contains(&format!(">{step}</a>")), "{step} is still to do");
    }
    sqlx::query(
        "INSERT INTO smtp_profiles (tenant_id, name, kind, is_default, from_address, from_name, host, port, security,
             auth_required, last_test_ok, created_at, updated_at)
         VALUES (?, 'Main', 'generic', 1, 'a@acme.test', 'Acme', 'smtp.acme.test', 587, 'starttls', 0, 1, 0, 0)",
    )
    .bind(app.tenant)
    .execute(&app.db)
    .await
    .unwrap();
    let html = app.page("/t/acme/").await;
    assert!(html.contains("Done: </span>Add an SMTP profile") && html.contains("Done: </span>Send a test email"));
    assert!(html.contains(">Turn email on</a>"));
    sqlx::query("UPDATE tenants SET email_enabled = 1").execute(&app.db).await.unwrap();
    app.post("/t/acme/invitations", &[("email", "pal@example.test"), ("role", "user")]).await;
    assert!(!app.page("/t/acme/").await.contains("Getting started"), "gone once every step is done");
}

#[tokio::test]
async fn the_checklist_asks_for_a_new_default_after_the_default_is_deleted() {
    let app = spawn_app().await;
    app.sign_in_admin().await;
    let first = app.create_profile(&crate::smtp::generic("First")).await;
    app.create_profile(&crate::smtp::generic("Second")).await;
    app.post("/t/acme/settings/email", &[("enabled", "on")]).await;
    let res = app.post(&format!("/t/acme/smtp/{first}/delete"), &[]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);

    let html = app.page("/t/acme/").await;
    assert!(html.contains(">Make a profile the default</a>"), "the step to do now: {html}");
    assert!(!html.contains("Add an SMTP profile"), "a profile exists");
    assert!(html.contains("Done: </span>Turn email on"), "the switch is on; the default is what is missing");
}

#[tokio::test]
async fn the_dashboard_names_the_default_profile_once() {
    let app = spawn_app().await;
    app.sign_in_admin().await;
    sqlx::query(
        "INSERT INTO smtp_profiles (tenant_id, name, kind, is_default, from_address, from_name, host, port, security,
             auth_required, created_at, updated_at)
         VALUES (?, 'Main_Relay', 'generic', 1, 'a@acme.test', 'Acme', 'smtp.acme.test', 587, 'starttls', 0, 0, 0)",
    )
    .bind(app.tenant)
    .execute(&app.db)
    .await
    .unwrap();
    // Email off: the status does not name it, the line below does.
    let off = app.page("/t/acme/").await;
    assert_eq!(off.matches("Main_Relay").count(), 1, "{off}");
    assert!(off.contains(r#"<p class="muted" id="default-profile">Default SMTP profile: Main_Relay</p>"#));
    // Email on: the status says it is sent through it, and nothing repeats that.
    sqlx::query("UPDATE tenants SET email_enabled = 1").execute(&app.db).await.unwrap();
    let on = app.page("/t/acme/").await;
    assert_eq!(on.matches("Main_Relay").count(), 1, "{on}");
    assert!(on.contains("Invitations and password resets are sent through <strong>Main_Relay</strong>."));
    assert!(!on.contains(r#"id="default-profile""#));
}
