//! A profile's send rate on its form ("Messages per minute, at most"): saved for both types,
//! shown on the list, copied by Duplicate, cleared by emptying it, refused with its message
//! (422, nothing saved) when it is not a whole number from 1 to 10000. That the outbox keeps
//! to it is tested in `outbox.rs`.

use relaydesk::domain::smtp::MSG_MAX_PER_MINUTE;
use reqwest::StatusCode;

use crate::helpers::*;
use crate::smtp::{generic, graph, shows_error, with};

const MESSAGE: &str =
    "Please enter the messages per minute as a whole number from 1 to 10000, or leave it empty for no limit.";

async fn admin_app() -> TestApp {
    let app = spawn_app().await;
    app.sign_in_admin().await;
    app
}

async fn rate_of(app: &TestApp, name: &str) -> Option<i64> {
    sqlx::query_scalar("SELECT max_per_minute FROM smtp_profiles WHERE name = ?")
        .bind(name)
        .fetch_one(&app.db)
        .await
        .unwrap()
}

#[tokio::test]
async fn the_rate_is_saved_for_both_types_shown_on_the_list_and_cleared_when_emptied() {
    let app = admin_app().await;
    let id = app.create_profile(&with(generic("Office"), "max_per_minute", " 30 ")).await;
    app.create_profile(&with(graph("Graph_Mailbox"), "max_per_minute", "120")).await;
    app.create_profile(&generic("Unlimited")).await;
    assert_eq!(rate_of(&app, "Office").await, Some(30));
    assert_eq!(rate_of(&app, "Graph_Mailbox").await, Some(120));
    assert_eq!(rate_of(&app, "Unlimited").await, None, "no field, no limit");

    let list = app.page("/t/acme/smtp").await;
    assert!(list.contains(r#"<span class="muted rate nowrap">At most 30 a minute</span>"#), "{list}");
    assert!(list.contains("At most 120 a minute"));
    assert_eq!(list.matches("a minute</span>").count(), 2, "the profile with no limit shows none");

    let form = app.page(&format!("/t/acme/smtp/{id}")).await;
    assert!(form.contains(r#"<input id="max_per_minute" name="max_per_minute" type="text" value="30""#), "{form}");
    assert!(form.contains("Messages per minute, at most"));

    // Emptied on edit: no limit again. The audit entry names the field.
    let res = app.post_form(&format!("/t/acme/smtp/{id}"), &with(generic("Office"), "max_per_minute", "")).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(rate_of(&app, "Office").await, None);
    let detail: String =
        sqlx::query_scalar("SELECT detail FROM audit_log WHERE action = 'profile.updated' ORDER BY id DESC LIMIT 1")
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert!(detail.contains("Messages per minute, at most"), "{detail}");
}

#[tokio::test]
async fn a_rate_that_is_not_a_whole_number_from_1_to_10000_is_refused_and_nothing_is_saved() {
    assert_eq!(MSG_MAX_PER_MINUTE, MESSAGE);
    let app = admin_app().await;
    for bad in ["0", "10001", "-1", "2.5", "thirty", "30/min", "99999999999999999999"] {
        let res = app.post_form("/t/acme/smtp", &with(generic("Office"), "max_per_minute", bad)).await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{bad:?}");
        let html = res.text().await.unwrap();
        assert!(shows_error(&html, "max_per_minute", MESSAGE), "{bad:?}: {html}");
        assert!(html.contains(r#"aria-describedby="error-max_per_minute"#), "the input points at its message");
        let res = app.post_form("/t/acme/smtp", &with(graph("Graph_Mailbox"), "max_per_minute", bad)).await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "graph {bad:?}");
    }
    assert_eq!(app.profile_count().await, 0);

    // On edit the saved rate stays.
    let id = app.create_profile(&with(generic("Office"), "max_per_minute", "10000")).await;
    let res = app.post_form(&format!("/t/acme/smtp/{id}"), &with(generic("Office"), "max_per_minute", "0")).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(shows_error(&res.text().await.unwrap(), "max_per_minute", MESSAGE));
    assert_eq!(rate_of(&app, "Office").await, Some(10_000));
}

#[tokio::test]
async fn duplicate_copies_the_rate() {
    let app = admin_app().await;
    let id = app.create_profile(&with(generic("Office"), "max_per_minute", "45")).await;
    let res = app.post(&format!("/t/acme/smtp/{id}/duplicate"), &[("password", "Nw4$Tq8!Rz")]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(rate_of(&app, "Office_copied").await, Some(45));
}

#[tokio::test]
async fn the_microsoft_365_preset_fills_its_documented_rate() {
    let app = admin_app().await;
    let html = app.page("/t/acme/smtp/new").await;
    // host|port|security|messages a minute; the other providers document no such rate.
    assert!(html.contains(r#"<option value="smtp.office365.com|587|starttls|30" data-oauth-provider="microsoft">Microsoft 365 / Outlook</option>"#));
    assert!(html.contains(r#"<option value="smtp.gmail.com|587|starttls" data-oauth-provider="google">"#));
    assert!(html.contains("Microsoft 365 allows 30 a minute per mailbox"));
}
