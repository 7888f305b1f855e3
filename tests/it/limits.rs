//! Every limit a page states is the one its rule enforces: the pages are read over HTTP
//! and compared with the constants the parsers and the stores use.

use relaydesk::domain::account::{ConsolePassword, Role, TenantName, TenantSlug};
use relaydesk::domain::email;
use relaydesk::domain::smtp::{GraphClientId, SmtpPort};
use relaydesk::mail::outbox::retry_schedule;
use relaydesk::web::smtp::password_rules;
use relaydesk::words;
use reqwest::StatusCode;

use crate::helpers::*;
use crate::smtp::{generic, input_tag};

fn maxlength(html: &str, id: &str) -> Option<usize> {
    let tag = input_tag(html, id);
    let start = tag.find(r#"maxlength=""#)? + r#"maxlength=""#.len();
    Some(tag[start..].split('"').next().unwrap().parse().unwrap())
}

#[tokio::test]
async fn the_email_log_states_the_retry_schedule() {
    let app = spawn_app().await;
    app.sign_in_admin().await;
    let html = app.page("/t/acme/email-log").await;
    assert_eq!(
        retry_schedule(),
        "after 30 seconds, 5 minutes, 30 minutes, 1 hour and then every 12 hours, 8 times in all"
    );
    assert!(html.contains(&format!("is tried again {}.", retry_schedule())), "{html}");
}

#[tokio::test]
async fn console_password_fields_state_the_rule_and_never_cut_a_password() {
    let app = spawn_app().await;
    app.add_user("olivia@acme.test", "olivia's long password", Role::Admin, true).await;
    assert_eq!(app.sign_in("olivia@acme.test", "olivia's long password").await.status(), StatusCode::SEE_OTHER);
    let yours = ConsolePassword::hint("your email address");
    assert_eq!(yours, format!("At least {} characters, and not your email address.", ConsolePassword::MIN_LEN));

    let account = app.page("/t/acme/account").await;
    assert!(account.contains(&yours));
    assert_eq!(maxlength(&account, "password"), None, "{}", input_tag(&account, "password"));

    let admin = app.page("/admin").await;
    assert!(admin.contains(&ConsolePassword::hint("the email address")));
    assert!(admin.contains(&TenantSlug::hint()));
    assert_eq!(maxlength(&admin, "admin_password"), None);
    assert_eq!(maxlength(&admin, "rename-acme"), Some(TenantName::MAX_LEN));

    let long = "x".repeat(ConsolePassword::MAX_LEN + 1);
    let res = app
        .post(
            "/admin/tenants",
            &[
                ("slug", "initech"),
                ("name", "Initech"),
                ("admin_name", "Peter"),
                ("admin_email", "peter@initech.test"),
                ("admin_password", &long),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = res.text().await.unwrap();
    assert!(html.contains(&format!("Please choose a password of at most {} characters.", ConsolePassword::MAX_LEN)));
}

#[tokio::test]
async fn smtp_inputs_carry_the_lengths_of_their_rules() {
    let app = spawn_app().await;
    app.sign_in_admin().await;
    let list = app.page("/t/acme/smtp").await;
    assert_eq!(maxlength(&list, "q"), Some(relaydesk::web::smtp::SEARCH_MAX_LEN));

    let id = app.create_profile(&generic("Office")).await;
    let form = app.page(&format!("/t/acme/smtp/{id}")).await;
    assert_eq!(maxlength(&form, "port"), Some(SmtpPort::MAX_DIGITS));
    assert_eq!(maxlength(&form, "graph_client_id"), Some(GraphClientId::MAX_LEN));
    assert_eq!(maxlength(&form, "to"), Some(email::MAX_LEN));
    assert!(form.contains("Usually 465 for SSL/TLS, 587 for STARTTLS and 25 for none."));

    let test = app.page(&format!("/t/acme/smtp/{id}/test")).await;
    let timeout = words::duration(app.state.config.send_timeout);
    assert!(test.contains(&format!("It takes up to {timeout}.")), "{test}");

    let settings = app.page("/t/acme/settings").await;
    let documented = password_rules(
        relaydesk::domain::smtp::ProfileKind::Generic,
        relaydesk::domain::smtp::CredentialPolicy::Documented,
    );
    assert!(documented.starts_with("10 to 20 characters from A-Z, a-z, 0-9 and $ ! @ % * # ? &,"));
    assert!(settings.contains(&documented.replace('&', "&#38;")), "{settings}");
}
