//! SMS channels over HTTP: every field's rule word for word, the write-only sealed
//! password, and the test passcode at a real SMTP server, with the recipient built as the
//! gateway wants it for each number format.

use std::time::Duration;

use relaydesk::domain::sms::*;
use relaydesk::domain::smtp::{MSG_NAME, MSG_PORT};
use reqwest::StatusCode;

use crate::helpers::*;
use crate::smtp::{with, FormFields};
use crate::smtp_server::{Received, Script, TestSmtp, TlsMode};

const USER: &str = "gw-account";
const SECRET: &str = "gw pass \"with\" <odd> chars";

/// A valid channel form (not enabled); override fields with `with`.
pub fn channel(name: &str, username: &str) -> FormFields {
    vec![
        ("name", name.to_owned()),
        ("host", "gw.acme.test".into()),
        ("port", String::new()),
        ("security", "ssl".into()),
        ("sender", "Acme Wi-Fi <wifi@acme.test>".into()),
        ("username", username.to_owned()),
        ("password", SECRET.into()),
        ("recipient", "GM_MOBILE@gw.example".into()),
        ("number_format", "plus".into()),
        ("message_type", String::new()),
        ("subject", "Wi-Fi passcode".into()),
        ("message", "Hello GM_NAME, your passcode is GM_PASSCODE\nValid today".into()),
    ]
}

/// A channel form pointing at `server` (plain SMTP with a login).
pub fn channel_for(name: &str, server: &TestSmtp) -> FormFields {
    with(with(with(channel(name, USER), "host", "localhost"), "port", &server.port.to_string()), "security", "none")
}

pub fn gateway() -> Script {
    Script { auth: Some((USER.into(), SECRET.into())), ..Script::default() }
}

async fn admin_app() -> TestApp {
    let app = spawn_app_with(|c| c.send_timeout = Duration::from_secs(3)).await;
    app.sign_in_admin().await;
    app
}

impl TestApp {
    /// Creates a channel through the form; its id.
    pub async fn create_channel(&self, form: &FormFields) -> i64 {
        let res = self.post_form("/t/acme/sms", form).await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "{}", res.text().await.unwrap());
        let name = &form.iter().find(|(k, _)| *k == "name").unwrap().1;
        sqlx::query_scalar("SELECT id FROM sms_channels WHERE name = ?").bind(name).fetch_one(&self.db).await.unwrap()
    }

    /// Sends a test passcode; the message shown on the list.
    async fn test_passcode(&self, id: i64, mobile: &str) -> String {
        let res = self.post(&format!("/t/acme/sms/{id}/test"), &[("mobile", mobile)]).await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        assert_eq!(location(&res), "/t/acme/sms");
        self.flash_on("/t/acme/sms").await
    }
}

async fn channels(app: &TestApp) -> i64 {
    app.count("SELECT COUNT(*) FROM sms_channels").await
}

#[tokio::test]
async fn every_rule_has_its_message_and_a_refused_form_stores_nothing() {
    let app = admin_app().await;
    let long = |n: usize| "a".repeat(n);
    let cases: Vec<(&str, String, &str)> = vec![
        ("name", String::new(), MSG_NAME),
        ("name", "two words".into(), MSG_NAME),
        ("name", long(51), MSG_NAME),
        ("host", String::new(), MSG_SMS_HOST),
        ("host", "gw.acme.test:25".into(), MSG_SMS_HOST),
        ("host", "::1".into(), MSG_SMS_HOST),
        ("host", format!("{}.test", long(97)), MSG_SMS_HOST),
        ("port", "0".into(), MSG_PORT),
        ("port", "49152".into(), MSG_PORT),
        ("port", "25a".into(), MSG_PORT),
        ("security", "tls".into(), MSG_SMS_SECURITY),
        ("sender", String::new(), MSG_SMS_SENDER),
        ("sender", "Acme Wi-Fi".into(), MSG_SMS_SENDER),
        ("sender", format!("{}@acme.test", long(92)), MSG_SMS_SENDER),
        ("sender", "Acme\r\nBcc: victim@example.test <wifi@acme.test>".into(), MSG_SMS_SENDER),
        ("username", String::new(), MSG_SMS_USERNAME),
        ("username", long(65), MSG_SMS_USERNAME),
        ("password", String::new(), MSG_SMS_PASSWORD),
        ("password", long(65), MSG_SMS_PASSWORD),
        ("recipient", String::new(), MSG_SMS_RECIPIENT),
        ("recipient", "gw.example".into(), MSG_SMS_RECIPIENT),
        ("recipient", format!("{}@gw.example", long(54)), MSG_SMS_RECIPIENT),
        ("recipient", "gm_mobile@gw.example".into(), MSG_SMS_RECIPIENT_PLACEHOLDER),
        ("recipient", "x@GM_MOBILE.gw.example".into(), MSG_SMS_RECIPIENT_PLACEHOLDER),
        ("number_format", "minus".into(), MSG_SMS_NUMBER_FORMAT),
        ("message_type", "SMS TEXT".into(), MSG_SMS_MESSAGE_TYPE),
        ("message_type", "sms..text".into(), MSG_SMS_MESSAGE_TYPE),
        ("message_type", long(31), MSG_SMS_MESSAGE_TYPE),
        ("subject", long(101), MSG_SMS_SUBJECT),
        ("subject", "Code\r\nBcc: victim@example.test".into(), MSG_SMS_SUBJECT),
        ("message", String::new(), MSG_SMS_MESSAGE),
        ("message", format!("GM_PASSCODE {}", long(1013)), MSG_SMS_MESSAGE),
        ("message", "Your code".into(), MSG_SMS_NO_PASSCODE),
        ("host", "$nope".into(), "There is no alias named $nope."),
    ];
    // A fixed address whose message does not carry the number: said on the message.
    let fixed = with(with(channel("Gw", USER), "recipient", "sms@gw.example"), "message", "Code GM_PASSCODE");
    let res = app.post_form("/t/acme/sms", &fixed).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res
        .text()
        .await
        .unwrap()
        .contains(&format!(r#"<p class="error" id="error-message">{MSG_SMS_NO_MOBILE}</p>"#)));
    for (field, value, message) in cases {
        let res = app.post_form("/t/acme/sms", &with(channel("Gw", USER), field, &value)).await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{field} = {value:?}");
        let html = res.text().await.unwrap();
        let shown = message.replace('<', "&#60;").replace('>', "&#62;").replace('\'', "&#39;");
        assert!(html.contains(&format!(r#"<p class="error" id="error-{field}">{shown}</p>"#)), "{field} = {value:?}");
        assert!(html.contains(&format!(r#"aria-describedby="error-{field}"#)), "{field}");
        assert!(!html.contains(SECRET.replace('"', "&quot;").as_str()), "the password is never shown");
    }
    assert_eq!(channels(&app).await, 0);
}

#[tokio::test]
async fn a_channel_is_off_by_default_its_password_sealed_and_never_shown() {
    let app = admin_app().await;
    let id = app.create_channel(&channel("Gateway", USER)).await;
    assert_eq!(app.flash_on("/t/acme/sms").await, "SMS channel Gateway created.");
    let (enabled, sealed): (bool, String) =
        sqlx::query_as("SELECT enabled, password_sealed FROM sms_channels WHERE id = ?")
            .bind(id)
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert!(!enabled, "Enable is off unless ticked");
    assert!(!sealed.contains("gw pass"));
    assert_eq!(app.state.secrets.open(&sealed).unwrap(), SECRET);

    let list = app.page("/t/acme/sms").await;
    assert!(list.contains(&format!(r#"data-channel-id="{id}""#)) && list.contains("gw.acme.test:465"));
    let edit = app.page(&format!("/t/acme/sms/{id}")).await;
    assert!(edit.contains(r#"value="Acme Wi-Fi &#60;wifi@acme.test&#62;""#), "{edit}");
    assert!(!edit.contains("gw pass") && !edit.contains("with&quot;"), "the password is write-only");

    // Saving with the password left empty keeps it; a new one replaces it.
    let res = app.post_form(&format!("/t/acme/sms/{id}"), &with(channel("Gateway", USER), "password", "")).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let kept: String = sqlx::query_scalar("SELECT password_sealed FROM sms_channels").fetch_one(&app.db).await.unwrap();
    assert_eq!(kept, sealed);
    let form = with(with(channel("Gateway", USER), "password", "new-secret"), "enabled", "on");
    assert_eq!(app.post_form(&format!("/t/acme/sms/{id}"), &form).await.status(), StatusCode::SEE_OTHER);
    let (enabled, sealed): (bool, String) =
        sqlx::query_as("SELECT enabled, password_sealed FROM sms_channels").fetch_one(&app.db).await.unwrap();
    assert!(enabled);
    assert_eq!(app.state.secrets.open(&sealed).unwrap(), "new-secret");

    // The saved password is not kept for another server or account.
    for (field, value, what) in [
        ("host", "evil.example.test", "host"),
        ("port", "2525", "port"),
        ("security", "starttls", "security setting"),
        ("username", "someone-else", "username"),
    ] {
        let form = with(with(channel("Gateway", USER), "password", ""), field, value);
        let res = app.post_form(&format!("/t/acme/sms/{id}"), &form).await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{field}");
        let html = res.text().await.unwrap();
        let message = format!("The password was cleared because the {what} changed; enter it again.");
        assert!(html.contains(&format!(r#"<p class="error" id="error-password">{message}</p>"#)), "{field}");
    }
    let host: String = sqlx::query_scalar("SELECT host FROM sms_channels").fetch_one(&app.db).await.unwrap();
    assert_eq!(host, "gw.acme.test");
    // Port 465 typed out is the same server as an empty port with SSL/TLS.
    let form = with(with(channel("Gateway", USER), "password", ""), "port", "465");
    assert_eq!(app.post_form(&format!("/t/acme/sms/{id}"), &form).await.status(), StatusCode::SEE_OTHER);

    // Names and usernames are unique regardless of case.
    let other = channel("GATEWAY", &USER.to_uppercase());
    let html = app.post_form("/t/acme/sms", &other).await.text().await.unwrap();
    assert!(html.contains(&format!(r#"id="error-name">{MSG_SMS_NAME_TAKEN}<"#)));
    assert!(html.contains(&format!(r#"id="error-username">{MSG_SMS_USERNAME_TAKEN}<"#)));
    assert_eq!(channels(&app).await, 1);

    // Deleting asks first.
    assert!(app.page(&format!("/t/acme/sms/{id}/delete")).await.contains("Delete Gateway?"));
    assert_eq!(app.post(&format!("/t/acme/sms/{id}/delete"), &[]).await.status(), StatusCode::SEE_OTHER);
    assert_eq!(channels(&app).await, 0);

    let audit: Vec<(String, String)> =
        sqlx::query_as("SELECT action, detail FROM audit_log WHERE action LIKE 'sms.%' ORDER BY id")
            .fetch_all(&app.db)
            .await
            .unwrap();
    let actions: Vec<&str> = audit.iter().map(|(a, _)| a.as_str()).collect();
    assert_eq!(actions, ["sms.created", "sms.updated", "sms.updated", "sms.updated", "sms.deleted"]);
    assert_eq!(audit[0].1, "Gateway: gw.acme.test:465, ssl, to GM_MOBILE@gw.example, disabled");
    assert!(audit[2].1.ends_with(", enabled, new password"));
    assert!(audit.iter().all(|(_, d)| !d.contains("gw pass") && !d.contains("new-secret")));
}

/// The message body after the headers.
fn body(mail: &Received) -> &str {
    mail.data.split_once("\r\n\r\n").unwrap().1
}

fn assert_gateway_mail(mail: &Received) {
    assert_eq!(mail.from, "wifi@acme.test");
    assert_eq!(mail.user.as_deref(), Some(USER));
    assert_eq!(mail.header("From").unwrap(), "\"Acme Wi-Fi\" <wifi@acme.test>");
    assert_eq!(mail.header("Subject").unwrap(), "Wi-Fi passcode");
    assert_eq!(mail.header("Content-Type").unwrap(), "text/plain; charset=utf-8");
    assert_eq!(mail.header("Content-Transfer-Encoding").unwrap(), "7bit");
    assert!(!mail.data.contains("multipart") && !mail.data.contains("text/html"), "plain text only");
    assert!(!mail.data.replace("\r\n", "").contains('\n'), "every line ends in CRLF");
}

#[tokio::test]
async fn a_test_passcode_reaches_the_gateway_in_each_number_format() {
    let server = TestSmtp::start(TlsMode::Plain, gateway()).await;
    let app = admin_app().await;
    let cases = [
        ("Plus", "GM_MOBILE@gw.example", "plus", "", "+447700900123@gw.example"),
        ("P", "GM_MOBILE@gw.example", "p", "", "p447700900123@gw.example"),
        ("Typed", "GM_MOBILE@gw.example", "plus", "sms.text", "+447700900123.sms.text@gw.example"),
    ];
    let id = app.create_channel(&channel_for("Gw", &server)).await;
    for (n, (name, recipient, format, message_type, expected)) in cases.into_iter().enumerate() {
        let form = with(with(channel_for(name, &server), "recipient", recipient), "number_format", format);
        let form = with(with(form, "message_type", message_type), "password", "");
        let res = app.post_form(&format!("/t/acme/sms/{id}"), &form).await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        // As a person types it: spaces, dashes, brackets.
        let shown = app.test_passcode(id, " +44 (7700) 900-123 ").await;
        assert_eq!(shown, format!("Test passcode sent to +447700900123 (as an email to {expected})."));
        let got = server.wait_for(n + 1, 5).await;
        let mail = &got[n];
        assert_eq!(mail.to, [expected]);
        assert_gateway_mail(mail);
        let text = body(mail);
        let code = text.strip_prefix("Hello Test, your passcode is ").expect(text);
        let (digits, rest) = code.split_at(6);
        assert!(digits.bytes().all(|b| b.is_ascii_digit()), "{text:?}");
        assert_eq!(rest.trim_end_matches("\r\n"), "\r\nValid today", "nothing added: no signature, no footer");
    }
    let list = app.page("/t/acme/sms").await;
    assert!(list.contains(">Sent</span>"));
}

#[tokio::test]
async fn a_fixed_gateway_address_gets_the_number_in_the_message() {
    let server = TestSmtp::start(TlsMode::Plain, gateway()).await;
    let app = admin_app().await;
    assert_eq!(app.save_alias("$gateway", "localhost").await.status(), StatusCode::SEE_OTHER);
    let form = with(with(channel_for("Fixed", &server), "recipient", "sms@gw.example"), "host", "$gateway");
    let form = with(form, "message", "to:GM_MOBILE\r\nCode GM_PASSCODE for GM_NAME");
    let id = app.create_channel(&form).await;
    let shown = app.test_passcode(id, "+1 555-010-9999").await;
    assert_eq!(shown, "Test passcode sent to +15550109999 (as an email to sms@gw.example).");
    let mail = &server.wait_for(1, 5).await[0];
    assert_eq!(mail.to, ["sms@gw.example"]);
    assert_gateway_mail(mail);
    let text = body(mail);
    assert!(text.starts_with("to:15550109999\r\nCode "), "{text:?}");
    assert!(text.trim_end().ends_with(" for Test"), "{text:?}");
}

#[tokio::test]
async fn a_bad_mobile_number_is_refused_and_nothing_is_sent() {
    let server = TestSmtp::start(TlsMode::Plain, gateway()).await;
    let app = admin_app().await;
    let id = app.create_channel(&channel_for("Gw", &server)).await;
    assert!(app.page(&format!("/t/acme/sms/{id}/test")).await.contains("Send test passcode"));
    for mobile in ["", "07700 900123", "+44 7700", "+447700900123\r\nBcc: victim@example.test", "+44 7700 900123x"] {
        let res = app.post(&format!("/t/acme/sms/{id}/test"), &[("mobile", mobile)]).await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{mobile:?}");
        let html = res.text().await.unwrap();
        assert!(html.contains(&format!(r#"<p class="error" id="error-mobile">{MSG_MOBILE}</p>"#)), "{mobile:?}");
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(server.messages().is_empty());
    assert_eq!(server.connections(), 0);
}

#[tokio::test]
async fn failures_read_like_the_test_emails() {
    let app = admin_app().await;
    // A refused login, with the server's 535.
    let server =
        TestSmtp::start(TlsMode::Plain, Script { auth: Some((USER.into(), "other".into())), ..Script::default() })
            .await;
    let id = app.create_channel(&channel_for("Login", &server)).await;
    let shown = app.test_passcode(id, "+447700900123").await;
    assert!(shown.starts_with("The test passcode was not sent. "), "{shown}");
    assert!(
        shown.contains(&format!(
            "Login rejected by localhost:{}: 535 5.7.8 Authentication credentials invalid.",
            server.port
        )),
        "{shown}"
    );
    assert!(!shown.contains("gw pass"));
    assert!(app.page("/t/acme/sms").await.contains(">Failed</span>"));

    // A refused recipient, with the server's 5xx.
    let refusing = TestSmtp::start(
        TlsMode::Plain,
        Script { auth: Some(("rcpt-user".into(), SECRET.into())), ..Script::default() },
    )
    .await;
    refusing.script().rcpt_replies.push_back("550 5.1.1 No such number".into());
    let id = app.create_channel(&with(channel_for("Rcpt", &refusing), "username", "rcpt-user")).await;
    let shown = app.test_passcode(id, "+447700900123").await;
    assert!(
        shown.contains("The server refused the recipient +447700900123@gw.example: 550 5.1.1 No such number."),
        "{shown}"
    );

    // Nobody listening.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let form = with(with(channel("Closed", "closed-user"), "host", "127.0.0.1"), "port", &closed.to_string());
    let id = app.create_channel(&with(form, "security", "none")).await;
    let shown = app.test_passcode(id, "+447700900123").await;
    assert!(
        shown.contains(&format!("Could not connect to 127.0.0.1:{closed}: the connection was refused.")),
        "{shown}"
    );

    // A server that never answers: bounded by the same limit as the test email.
    let silent = TestSmtp::start(TlsMode::Plain, Script { silent: true, ..Script::default() }).await;
    let id = app.create_channel(&with(channel_for("Silent", &silent), "username", "silent-user")).await;
    let started = std::time::Instant::now();
    let shown = app.test_passcode(id, "+447700900123").await;
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(shown.contains(&format!("localhost:{} did not finish within 3 seconds", silent.port)), "{shown}");

    // SSL/TLS (the default) checks the certificate, as profiles do.
    let tls = TestSmtp::start(TlsMode::Implicit, gateway()).await;
    let form = with(channel_for("Tls", &tls), "security", "ssl");
    let id = app.create_channel(&with(form, "username", "tls-user")).await;
    let shown = app.test_passcode(id, "+447700900123").await;
    assert!(shown.contains("TLS failed: the certificate of localhost is not trusted"), "{shown}");

    let tested: i64 = app.count("SELECT COUNT(*) FROM audit_log WHERE action = 'sms.tested'").await;
    assert_eq!(tested, 5);
}

#[tokio::test]
async fn a_header_cannot_be_injected_through_the_fields_of_the_gateway_mail() {
    let server = TestSmtp::start(TlsMode::Plain, gateway()).await;
    let app = admin_app().await;
    // Sender and subject with line breaks are refused by the form (above); a name cannot
    // close the display name early either.
    for sender in
        ["\"A\" <x@y.test>, \"B <wifi@acme.test>", "A <x@y.test> <wifi@acme.test>", "A\nBcc: v@x.test <wifi@acme.test>"]
    {
        let res = app.post_form("/t/acme/sms", &with(channel_for("Inj", &server), "sender", sender)).await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{sender:?}");
    }
    // A guest name or number that reads like a header stays in the body, on its line.
    let id = app.create_channel(&with(channel_for("Gw", &server), "message", "GM_PASSCODE GM_NAME GM_MOBILE")).await;
    let res =
        app.post(&format!("/t/acme/sms/{id}/test"), &[("mobile", "+447700900123\nBcc: victim@example.test")]).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        app.test_passcode(id, "+447700900123").await,
        "Test passcode sent to +447700900123 (as an email to +447700900123@gw.example)."
    );
    let mail = &server.wait_for(1, 5).await[0];
    assert_eq!(mail.to, ["+447700900123@gw.example"]);
    assert!(mail.header("Bcc").is_none());
}
