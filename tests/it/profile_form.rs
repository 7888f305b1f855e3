//! The profile form as a first-time admin met it (issue 12): a password tried is the one
//! saved, a server without ESMTP, "Check connection only", the messages after a failed
//! submit, the policy switch on the form, the list's one-line failures and what an edit's
//! audit entry says.

use std::time::Duration;

use reqwest::StatusCode;

use crate::helpers::*;
use crate::sending::profile_for;
use crate::smtp::{generic, shows_error, with, without, FormFields, PASSWORD};
use crate::smtp_server::{Script, TestSmtp, TlsMode};

const ACCOUNT: &str = "mailer@acme.test";
/// A second password that meets the documented rules.
const NEW_PASSWORD: &str = "Nw4$Tq8!Rz";

fn auth_script(password: &str) -> Script {
    Script { auth: Some((ACCOUNT.into(), password.into())), ..Script::default() }
}

async fn admin_app() -> TestApp {
    let app = spawn_app_with(|c| c.send_timeout = Duration::from_secs(3)).await;
    app.sign_in_admin().await;
    app
}

/// The flash on the next page after a 303 to the list.
async fn flash_after(app: &TestApp, res: reqwest::Response) -> String {
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), "/t/acme/smtp");
    flash_in(&app.page("/t/acme/smtp").await)
}

/// The flash of a page, unescaped.
fn flash_in(html: &str) -> String {
    let start = html.find("class=\"flash").expect("a message is shown");
    let text = &html[start..];
    let text = &text[text.find('>').unwrap() + 1..text.find("</div>").unwrap()];
    unescape(text.trim())
}

fn unescape(text: &str) -> String {
    text.replace("&#39;", "'")
        .replace("&#34;", "\"")
        .replace("&quot;", "\"")
        .replace("&#38;", "&")
        .replace("&amp;", "&")
}

async fn stored_password(app: &TestApp, id: i64) -> String {
    let (sealed,): (String,) = sqlx::query_as("SELECT password_sealed FROM smtp_profiles WHERE id = ?")
        .bind(id)
        .fetch_one(&app.db)
        .await
        .unwrap();
    app.state.secrets.open(&sealed).unwrap()
}

/// The edit form's values with a try button pressed (`send` or `check`).
fn trying(form: FormFields, what: &str) -> FormFields {
    let mut form = form;
    form.push(("to", "ada@example.test".into()));
    form.push(("unsaved", what.into()));
    form
}

// ---- Bug 9: a server that refuses EHLO ----

#[tokio::test]
async fn a_server_refusing_ehlo_is_greeted_with_helo_and_gets_the_mail() {
    let refusal = Script { refuse_ehlo: Some("502 5.5.2 Command not recognized".into()), ..Script::default() };
    let server = TestSmtp::start(TlsMode::Plain, refusal).await;
    let app = admin_app().await;
    let form = without(without(profile_for("Old_Relay", &server, "none"), "auth_required"), "password");
    let id = app.create_profile(&form).await;
    let res = app.post(&format!("/t/acme/smtp/{id}/test"), &[("to", "ada@example.test")]).await;
    assert_eq!(flash_after(&app, res).await, "Test email sent to ada@example.test.");
    let mail = server.wait_for(1, 5).await.remove(0);
    assert_eq!(mail.greeted_with, "HELO");
    assert_eq!(mail.greeting, "[127.0.0.1]", "HELO names relaydesk as EHLO does");
    assert_eq!(mail.to, ["ada@example.test"]);
}

#[tokio::test]
async fn a_server_refusing_ehlo_and_helo_says_so() {
    let refusal = Script {
        refuse_ehlo: Some("502 5.5.2 Command not recognized".into()),
        refuse_helo: Some("550 5.7.1 Go away".into()),
        ..Script::default()
    };
    let server = TestSmtp::start(TlsMode::Plain, refusal).await;
    let app = admin_app().await;
    let form = without(without(profile_for("Old_Relay", &server, "none"), "auth_required"), "password");
    let id = app.create_profile(&form).await;
    let res = app.post(&format!("/t/acme/smtp/{id}/test"), &[("to", "ada@example.test")]).await;
    assert_eq!(
        flash_after(&app, res).await,
        format!(
            "The test email was not sent. localhost:{} refused both of relaydesk's greetings, EHLO (502 5.5.2 Command \
             not recognized) and HELO (550 5.7.1 Go away). Ask the server's administrator whether it accepts mail \
             from relaydesk.",
            server.port
        )
    );
    assert!(server.messages().is_empty());
}

#[tokio::test]
async fn ehlo_refused_where_starttls_or_a_login_is_needed_says_the_server_does_not_speak_esmtp() {
    let refusal = || Script {
        refuse_ehlo: Some("500 5.5.1 Unrecognized command".into()),
        auth: Some((ACCOUNT.into(), PASSWORD.into())),
        ..Script::default()
    };
    let starttls = TestSmtp::start(TlsMode::StartTls, refusal()).await;
    let plain = TestSmtp::start(TlsMode::Plain, refusal()).await;
    let app = admin_app().await;
    let a = app.create_profile(&profile_for("Tls_Relay", &starttls, "starttls")).await;
    let b = app.create_profile(&with(profile_for("Login_Relay", &plain, "none"), "plain_login", "on")).await;
    for (id, port, needs) in [(a, starttls.port, "STARTTLS"), (b, plain.port, "a login")] {
        let res = app.post(&format!("/t/acme/smtp/{id}/test"), &[("to", "ada@example.test")]).await;
        let shown = flash_after(&app, res).await;
        assert_eq!(
            shown,
            format!(
                "The test email was not sent. localhost:{port} refused relaydesk's EHLO greeting (500 5.5.1 \
                 Unrecognized command): the server does not speak ESMTP, so it cannot offer {needs}. Check the host \
                 and port, or ask the server's administrator."
            )
        );
        assert!(!shown.contains("refused the connection"));
    }
    assert!(starttls.messages().is_empty() && plain.messages().is_empty());
}

// ---- Check connection only ----

#[tokio::test]
async fn check_connection_only_logs_in_over_starttls_and_sends_nothing() {
    let server = TestSmtp::start(TlsMode::StartTls, auth_script(PASSWORD)).await;
    let app = admin_app().await;
    let id = app.create_profile(&profile_for("Office", &server, "starttls")).await;
    let page = app.page(&format!("/t/acme/smtp/{id}/test")).await;
    assert!(page.contains(">Check connection only</button>"));

    let res = app.post(&format!("/t/acme/smtp/{id}/test"), &[("to", ""), ("check", "1")]).await;
    assert_eq!(
        flash_after(&app, res).await,
        format!(
            "Connection check passed: relaydesk connected to localhost:{} with STARTTLS and logged in as {ACCOUNT}. \
             No email was sent.",
            server.port
        )
    );
    assert_eq!(server.connections(), 1);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(server.messages().is_empty(), "no message arrived");
    let (detail,): (String,) = sqlx::query_as("SELECT detail FROM audit_log WHERE action = 'profile.tested'")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(detail, "Office: connection check passed");

    // A wrong password: the same plain-language message as the test email's.
    server.script().auth = Some((ACCOUNT.into(), NEW_PASSWORD.into()));
    let res = app.post(&format!("/t/acme/smtp/{id}/test"), &[("check", "1")]).await;
    assert_eq!(
        flash_after(&app, res).await,
        format!(
            "The connection check failed. Login rejected by localhost:{}: 535 5.7.8 Authentication credentials \
             invalid. Check the SMTP account address and password (with two-step sign-in, many providers need an app \
             password).",
            server.port
        )
    );
    assert!(server.messages().is_empty());
}

#[tokio::test]
async fn check_connection_only_tries_unsaved_values_over_implicit_tls() {
    let old = TestSmtp::start(TlsMode::StartTls, auth_script(PASSWORD)).await;
    let server = TestSmtp::start(TlsMode::Implicit, auth_script(NEW_PASSWORD)).await;
    let app = admin_app().await;
    let id = app.create_profile(&profile_for("Office", &old, "starttls")).await;
    let html = app.page(&format!("/t/acme/smtp/{id}")).await;
    assert!(html.contains(r#"name="unsaved" value="check""#), "the edit form offers the check");

    let form = with(profile_for("Office", &server, "ssl"), "password", NEW_PASSWORD);
    let res = app.post_form(&format!("/t/acme/smtp/{id}/test"), &trying(form, "check")).await;
    assert_eq!(res.status(), StatusCode::OK);
    let html = res.text().await.unwrap();
    assert_eq!(
        flash_in(&html),
        format!(
            "Connection check passed: relaydesk connected to localhost:{} over SSL/TLS and logged in as {ACCOUNT}. \
             No email was sent. These settings are not saved yet: Save changes saves them with the password you just \
             tried.",
            server.port
        )
    );
    assert!(!html.contains(NEW_PASSWORD), "the password is not sent back");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(server.messages().is_empty() && old.messages().is_empty(), "no message arrived");
    assert_eq!(stored_password(&app, id).await, PASSWORD, "nothing saved yet");
}

// ---- Bug 2: Save saves what was tried ----

#[tokio::test]
async fn after_a_successful_try_save_with_a_blank_password_saves_the_tried_one() {
    let server = TestSmtp::start(TlsMode::StartTls, auth_script(NEW_PASSWORD)).await;
    let app = admin_app().await;
    // Saved with a password the server does not take.
    let id = app.create_profile(&profile_for("Office", &server, "starttls")).await;

    let form = with(with(profile_for("Office", &server, "starttls"), "password", NEW_PASSWORD), "from_name", "Tried");
    let res = app.post_form(&format!("/t/acme/smtp/{id}/test"), &trying(form, "send")).await;
    let html = res.text().await.unwrap();
    assert!(flash_in(&html).starts_with("Test email sent to ada@example.test."), "{}", flash_in(&html));
    assert!(html.contains(
        "The password you just tried will be saved if you leave this field blank, as long as the settings it \
         depends on stay as they were tried."
    ));
    assert!(!html.contains(NEW_PASSWORD));
    // The session row holds it sealed, never in the clear.
    let (sessions,): (String,) =
        sqlx::query_as("SELECT group_concat(hex(data)) FROM tower_sessions").fetch_one(&app.db).await.unwrap();
    assert!(!sessions.contains(&hex(NEW_PASSWORD)), "the tried password is sealed in the session");

    // A changed host: the tried password is not used there.
    let moved = with(with(profile_for("Office", &server, "starttls"), "password", ""), "host", "127.0.0.1");
    let res = app.post_form(&format!("/t/acme/smtp/{id}"), &moved).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = res.text().await.unwrap();
    assert!(shows_error(&html, "password", "The password was cleared because the host changed; enter it again."));

    // As tried, the password left blank: saved with the tried password.
    let save = with(with(profile_for("Office", &server, "starttls"), "password", ""), "from_name", "Tried");
    let res = app.post_form(&format!("/t/acme/smtp/{id}"), &save).await;
    assert_eq!(flash_after(&app, res).await, "Saved Office.");
    assert_eq!(stored_password(&app, id).await, NEW_PASSWORD);
    let (detail,): (String,) = sqlx::query_as("SELECT detail FROM audit_log WHERE action = 'profile.updated'")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(detail, "Office: changed Sender name; password changed");

    // Held once: the next edit with a blank password keeps the saved one as usual.
    let html = app.page(&format!("/t/acme/smtp/{id}")).await;
    assert!(!html.contains("The password you just tried"));
}

#[tokio::test]
async fn a_tried_password_expires_and_a_failed_try_is_not_held() {
    let server = TestSmtp::start(TlsMode::StartTls, auth_script(NEW_PASSWORD)).await;
    let app = admin_app().await;
    let id = app.create_profile(&profile_for("Office", &server, "starttls")).await;
    let tried = with(profile_for("Office", &server, "starttls"), "password", NEW_PASSWORD);
    let blank = with(profile_for("Office", &server, "starttls"), "password", "");

    app.post_form(&format!("/t/acme/smtp/{id}/test"), &trying(tried.clone(), "check")).await;
    app.advance(Duration::from_secs(16 * 60));
    let res = app.post_form(&format!("/t/acme/smtp/{id}"), &blank).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(stored_password(&app, id).await, PASSWORD, "after 15 minutes the tried password is not used");

    // A try that fails holds nothing.
    let wrong = with(profile_for("Office", &server, "starttls"), "password", "Wr0ng$Pass");
    let res = app.post_form(&format!("/t/acme/smtp/{id}/test"), &trying(wrong, "check")).await;
    assert!(flash_in(&res.text().await.unwrap()).starts_with("The connection check failed. Login rejected"));
    app.post_form(&format!("/t/acme/smtp/{id}"), &blank).await;
    assert_eq!(stored_password(&app, id).await, PASSWORD);
}

fn hex(text: &str) -> String {
    text.bytes().map(|b| format!("{b:02X}")).collect()
}

// ---- After a failed submit ----

#[tokio::test]
async fn a_typed_password_dropped_by_a_failed_submit_asks_to_be_entered_again() {
    let app = admin_app().await;
    let res = app.post_form("/t/acme/smtp", &with(generic("bad name"), "password", NEW_PASSWORD)).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = res.text().await.unwrap();
    assert!(shows_error(&html, "password", "Please enter the password again."));
    assert!(!html.contains(NEW_PASSWORD));
    // Nothing typed, nothing to say; Auth required off, no password asked.
    let res = app.post_form("/t/acme/smtp", &with(with(generic("bad name"), "password", ""), "port", "1")).await;
    let html = res.text().await.unwrap();
    assert!(!html.contains("Please enter the password again."));
    let res = app.post_form("/t/acme/smtp", &without(generic("bad name"), "auth_required")).await;
    assert!(!res.text().await.unwrap().contains("Please enter the password again."));
    // Graph: the client secret too.
    let graph = with(crate::smtp::graph("bad name"), "graph_client_secret", "s3cret-value");
    let html = app.post_form("/t/acme/smtp", &graph).await.text().await.unwrap();
    assert!(shows_error(&html, "password", "Please enter the password again."));
    assert!(shows_error(&html, "graph_client_secret", "Please enter the client secret again."));
}

// ---- The credential policy, on the form ----

#[tokio::test]
async fn the_policy_can_be_switched_on_the_form_and_is_explained() {
    let app = admin_app().await;
    let html = app.page("/t/acme/smtp/new").await;
    assert!(html.contains(
        "Password rules: documented. The account must be an email address and the password must follow the rules \
         below, which suit a password a person chose."
    ));
    assert!(html.contains(r#"id="policy-provider" name="policy" value="provider""#));
    // A Gmail app password under the documented rules: refused, with the reason.
    let app_password = with(with(generic("Gmail"), "username", "me@gmail.com"), "password", "abcd efgh ijkl mnop");
    let res = app.post_form("/t/acme/smtp", &app_password).await;
    assert!(shows_error(
        &res.text().await.unwrap(),
        "password",
        "The SMTP account password does not meet the rules. It may only use A-Z, a-z, 0-9 and $ ! @ % * # ? & (no \
         spaces or other symbols)."
    ));
    // The same form with provider-issued chosen: saved, and the organization's policy follows.
    let res = app.post_form("/t/acme/smtp", &with(app_password, "policy", "provider")).await;
    assert_eq!(
        flash_after(&app, res).await,
        "Saved Gmail. It is now the default profile. SMTP accounts are now checked against the Provider-issued \
         credentials rules."
    );
    let (policy,): (String,) =
        sqlx::query_as("SELECT credential_policy FROM tenants WHERE slug = 'acme'").fetch_one(&app.db).await.unwrap();
    assert_eq!(policy, "provider");
    assert_eq!(app.count("SELECT COUNT(*) FROM audit_log WHERE action = 'policy.changed'").await, 1);
}

// ---- The list and the audit log ----

#[tokio::test]
async fn a_failed_test_is_one_line_in_the_list_and_whole_on_the_profile() {
    let server = TestSmtp::start(TlsMode::StartTls, auth_script(NEW_PASSWORD)).await;
    let app = admin_app().await;
    let id = app.create_profile(&profile_for("Office", &server, "starttls")).await;
    let lax = app.create_profile(&without(profile_for("Lax", &server, "starttls"), "tls_verify")).await;
    let res = app.post(&format!("/t/acme/smtp/{id}/test"), &[("to", "ada@example.test")]).await;
    flash_after(&app, res).await;
    let list = app.page("/t/acme/smtp").await;
    let line = format!("Login rejected by localhost:{}: 535 5.7.8 Authentication credentials invalid.", server.port);
    assert!(list.contains(&format!(r#"{line} <a href="/t/acme/smtp/{id}#last-test">Details</a></div>"#)), "{list}");
    assert!(!list.contains(">The test email was not sent. Login"), "the list shows one line");
    let whole = format!("The test email was not sent. {line} Check the SMTP account address and password");
    let edit = unescape(&app.page(&format!("/t/acme/smtp/{id}")).await);
    assert!(edit.contains(&whole), "the whole message is on the profile");

    let row = |html: &str, id: i64| {
        let start = html.find(&format!(r#"data-profile-id="{id}""#)).unwrap();
        html[start..start + html[start..].find("</tr>").unwrap()].to_owned()
    };
    assert!(row(&list, lax).contains("Certificate not checked"));
    assert!(!row(&list, id).contains("Certificate not checked"));
}

#[tokio::test]
async fn an_edit_is_audited_with_the_labels_of_what_changed_and_never_a_secret() {
    let app = admin_app().await;
    let id = app.create_profile(&generic("Main")).await;
    let edit = with(with(with(generic("Main"), "host", "smtp2.acme.test"), "port", "2525"), "password", "");
    assert_eq!(app.post_form(&format!("/t/acme/smtp/{id}"), &edit).await.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let edit = with(edit, "password", NEW_PASSWORD);
    assert_eq!(app.post_form(&format!("/t/acme/smtp/{id}"), &edit).await.status(), StatusCode::SEE_OTHER);
    let nothing = with(edit.clone(), "password", "");
    app.post_form(&format!("/t/acme/smtp/{id}"), &nothing).await;
    let details: Vec<(String,)> =
        sqlx::query_as("SELECT detail FROM audit_log WHERE action = 'profile.updated' ORDER BY id")
            .fetch_all(&app.db)
            .await
            .unwrap();
    let details: Vec<&str> = details.iter().map(|(d,)| d.as_str()).collect();
    assert_eq!(details, ["Main: changed SMTP host and SMTP port; password changed", "Main: nothing changed"]);
    let all: Vec<(String,)> = sqlx::query_as("SELECT detail FROM audit_log").fetch_all(&app.db).await.unwrap();
    assert!(all.iter().all(|(d,)| !d.contains(NEW_PASSWORD) && !d.contains(PASSWORD)));
}

#[tokio::test]
async fn the_graph_form_says_why_it_asks_for_a_mailbox_password() {
    let app = admin_app().await;
    let html = unescape(&app.page("/t/acme/smtp/new").await);
    assert!(html.contains(
        "Microsoft Graph sends with the app's client ID and secret, so relaydesk never sends this password anywhere: \
         it is the sending mailbox's own password, which the profile keeps (encrypted) beside the app's credentials. \
         It must be typed when you create or duplicate the profile, and again when its user name, tenant ID or \
         client ID change."
    ));
}
