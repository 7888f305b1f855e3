//! Guest access settings over HTTP: each rule's message word for word, and guest access
//! turned on only while a way to send passcodes works.

use relaydesk::domain::guest::*;
use reqwest::StatusCode;

use crate::helpers::*;
use crate::smtp::generic;

const PATH: &str = "/t/acme/guests/settings";

async fn admin_app() -> TestApp {
    let app = spawn_app().await;
    app.sign_in_admin().await;
    app
}

fn form<'a>(
    enabled: bool,
    delivery: &'a str,
    length: &'a str,
    hours: &'a str,
    codes: &'a str,
) -> Vec<(&'a str, &'a str)> {
    let mut fields =
        vec![("delivery", delivery), ("passcode_length", length), ("access_hours", hours), ("allowed_prefixes", codes)];
    if enabled {
        fields.push(("enabled", "on"));
    }
    fields
}

async fn saved(app: &TestApp) -> Option<(bool, String, i64, i64, String)> {
    sqlx::query_as("SELECT enabled, delivery, passcode_length, access_hours, allowed_prefixes FROM guest_settings")
        .fetch_optional(&app.db)
        .await
        .unwrap()
}

#[tokio::test]
async fn guest_access_is_off_by_default_and_every_rule_has_its_message() {
    let app = admin_app().await;
    let page = app.page(PATH).await;
    assert!(!page.contains(r#"name="enabled" value="on" checked"#), "off by default");
    assert!(page.contains(r#"value="6""#) && page.contains(r#"value="24""#), "defaults 6 digits, 24 hours");
    for (fields, field, message) in [
        (form(false, "pigeon", "6", "24", ""), "delivery", MSG_GUESTS_DELIVERY),
        (form(false, "email", "3", "24", ""), "passcode_length", MSG_GUESTS_PASSCODE_LENGTH),
        (form(false, "email", "11", "24", ""), "passcode_length", MSG_GUESTS_PASSCODE_LENGTH),
        (form(false, "email", "6", "0", ""), "access_hours", MSG_GUESTS_ACCESS_HOURS),
        (form(false, "email", "6", "721", ""), "access_hours", MSG_GUESTS_ACCESS_HOURS),
        (form(false, "email", "6", "24", "44 353"), "allowed_prefixes", MSG_GUESTS_PREFIXES),
        (form(false, "email", "6", "24", "+44,+353"), "allowed_prefixes", MSG_GUESTS_PREFIXES),
        (form(true, "email", "6", "24", ""), "enabled", MSG_GUESTS_NO_DELIVERY),
    ] {
        let res = app.post(PATH, &fields).await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{field}");
        let html = res.text().await.unwrap();
        assert!(html.contains(&format!(r#"<p class="error" id="error-{field}">{message}</p>"#)), "{field}");
    }
    assert_eq!(saved(&app).await, None);

    let res = app.post(PATH, &form(false, "sms", "8", "48", "+44  +353")).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.flash_on(PATH).await, "Guest access settings saved. Guest access is off.");
    assert_eq!(saved(&app).await, Some((false, "sms".into(), 8, 48, "+44 +353".into())));
}

#[tokio::test]
async fn guest_access_turns_on_only_while_its_delivery_method_works() {
    let app = admin_app().await;
    // SMS chosen, no enabled channel.
    assert_eq!(app.post(PATH, &form(true, "sms", "6", "24", "")).await.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let res = app.post_form("/t/acme/sms", &crate::smtp::with(crate::sms::channel("Gw", "gw"), "enabled", "on")).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.post(PATH, &form(true, "sms", "6", "24", "")).await.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.flash_on(PATH).await, "Guest access is on.");
    // Email chosen: email is off and there is no default profile.
    let html = app.post(PATH, &form(true, "email", "6", "24", "")).await.text().await.unwrap();
    assert!(html.contains(MSG_GUESTS_NO_DELIVERY));
    assert_eq!(app.post(PATH, &form(true, "both", "6", "24", "")).await.status(), StatusCode::SEE_OTHER);
    // With a default profile and email on, email alone works.
    app.create_profile(&crate::smtp::with(generic("Main"), "is_default", "on")).await;
    assert_eq!(app.post("/t/acme/settings/email", &[("enabled", "on")]).await.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.post(PATH, &form(true, "email", "6", "24", "")).await.status(), StatusCode::SEE_OTHER);
    assert_eq!(saved(&app).await.unwrap().1, "email");

    let details: Vec<String> =
        sqlx::query_scalar("SELECT detail FROM audit_log WHERE action = 'guests.settings' ORDER BY id")
            .fetch_all(&app.db)
            .await
            .unwrap();
    assert_eq!(details.len(), 3);
    assert_eq!(details[0], "on, sms, 6 digits, 24 hours, calling codes: any");
}
