//! The test email against a real SMTP server on loopback: plain, STARTTLS and implicit
//! TLS, AUTH, and a sentence a person can act on for each kind of failure.

use std::time::Duration;

use reqwest::StatusCode;

use crate::helpers::*;
use crate::smtp::{generic, with, without, FormFields, PASSWORD};
use crate::smtp_server::{Script, TestSmtp, TlsMode};

const ACCOUNT: &str = "mailer@acme.test";

fn auth_script() -> Script {
    Script { auth: Some((ACCOUNT.into(), PASSWORD.into())), ..Script::default() }
}

/// A profile form pointing at `server`.
pub fn profile_for(name: &str, server: &TestSmtp, security: &str) -> FormFields {
    let form =
        with(with(with(generic(name), "host", "localhost"), "port", &server.port.to_string()), "security", security);
    with(with(form, "ca_pem", &server.ca_pem), "username", ACCOUNT)
}

async fn admin_app() -> TestApp {
    let app = spawn_app_with(|c| c.send_timeout = Duration::from_secs(3)).await;
    app.sign_in_admin().await;
    app
}

/// Sends a test email through profile `id`; returns the flash shown on the list.
async fn test_send(app: &TestApp, id: i64, to: &str) -> String {
    let res = app.post(&format!("/t/acme/smtp/{id}/test"), &[("to", to)]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), "/t/acme/smtp");
    let html = app.page("/t/acme/smtp").await;
    let start = html.find("class=\"flash").expect("a result is shown");
    let text = &html[start..];
    let text = &text[text.find('>').unwrap() + 1..text.find("</div>").unwrap()];
    text.replace("&#39;", "'").replace("&quot;", "\"").replace("&amp;", "&")
}

#[tokio::test]
async fn a_test_email_over_starttls_with_a_trusted_ca_and_a_login_arrives() {
    let server = TestSmtp::start(TlsMode::StartTls, auth_script()).await;
    let app = admin_app().await;
    let id = app.create_profile(&profile_for("Office", &server, "starttls")).await;

    let page = app.page(&format!("/t/acme/smtp/{id}/test")).await;
    assert!(page.contains(&format!(r#"value="{ADMIN_EMAIL}""#)), "To is prefilled with the signed-in user's email");

    let shown = test_send(&app, id, "ada@example.test").await;
    assert_eq!(shown, "Test email sent to ada@example.test.");
    let got = server.wait_for(1, 5).await;
    let mail = &got[0];
    assert!(mail.tls, "STARTTLS was used");
    // The app's public URL is http://127.0.0.1:port: an address literal, bracketed (RFC 5321).
    assert_eq!(mail.greeting, "[127.0.0.1]");
    assert_eq!(mail.user.as_deref(), Some(ACCOUNT));
    assert_eq!(mail.from, "no-reply@acme.test");
    assert_eq!(mail.to, ["ada@example.test"]);
    assert_eq!(mail.header("From").unwrap(), "\"Acme Accounts\" <no-reply@acme.test>");
    assert_eq!(mail.header("Reply-To").unwrap(), "help@acme.test");
    assert_eq!(mail.header("Subject").unwrap(), "relaydesk test email: Office");
    let body = mail.text_body();
    for line in [
        "Host: localhost".to_owned(),
        format!("Port: {}", server.port),
        "Type: Generic SMTP".into(),
        "Security: STARTTLS".into(),
        format!("Username: {ACCOUNT}"),
    ] {
        assert!(body.contains(&line), "{line} in\n{body}");
    }
    assert!(body.contains("-- \r\nAcme Ltd, Support team"), "the signature is appended: {body}");
    assert!(!mail.data.contains(PASSWORD), "never the password");

    let (ok, message): (bool, String) =
        sqlx::query_as("SELECT last_test_ok, last_test_message FROM smtp_profiles").fetch_one(&app.db).await.unwrap();
    assert!(ok);
    assert_eq!(message, "Test email sent to ada@example.test.");
    let list = app.page("/t/acme/smtp").await;
    assert!(list.contains(">Sent</span>"));
    assert_eq!(app.count("SELECT COUNT(*) FROM audit_log WHERE action = 'profile.tested'").await, 1);
}

#[tokio::test]
async fn implicit_tls_and_plain_delivery() {
    let tls = TestSmtp::start(TlsMode::Implicit, auth_script()).await;
    let plain = TestSmtp::start(TlsMode::Plain, Script::default()).await;
    let app = admin_app().await;
    let a = app.create_profile(&profile_for("Implicit", &tls, "ssl")).await;
    let b =
        app.create_profile(&without(without(profile_for("Plain", &plain, "none"), "auth_required"), "password")).await;
    assert_eq!(test_send(&app, a, "ada@example.test").await, "Test email sent to ada@example.test.");
    assert!(tls.wait_for(1, 5).await[0].tls);
    assert_eq!(test_send(&app, b, "bob@example.test").await, "Test email sent to bob@example.test.");
    let got = plain.wait_for(1, 5).await;
    assert!(!got[0].tls && got[0].user.is_none());
    assert!(got[0].text_body().contains("Username: (no login)"));
}

#[tokio::test]
async fn an_untrusted_certificate_is_refused_unless_its_ca_is_pasted_or_checks_are_off() {
    let server = TestSmtp::start(TlsMode::StartTls, auth_script()).await;
    let app = admin_app().await;
    let id = app.create_profile(&with(profile_for("NoCa", &server, "starttls"), "ca_pem", "")).await;
    let shown = test_send(&app, id, "ada@example.test").await;
    assert!(
        shown.starts_with("The test email was not sent. TLS failed: the certificate of localhost is not trusted"),
        "{shown}"
    );
    assert!(shown.contains("paste its certificate under Trusted CA"));
    assert!(server.messages().is_empty());
    let (ok,): (bool,) = sqlx::query_as("SELECT last_test_ok FROM smtp_profiles").fetch_one(&app.db).await.unwrap();
    assert!(!ok);
    assert!(app.page("/t/acme/smtp").await.contains(">Failed</span>"));

    let lax = without(with(with(profile_for("Lax", &server, "starttls"), "ca_pem", ""), "name", "Lax"), "tls_verify");
    let lax = app.create_profile(&lax).await;
    assert_eq!(test_send(&app, lax, "ada@example.test").await, "Test email sent to ada@example.test.");
    server.wait_for(1, 5).await;
}

#[tokio::test]
async fn a_certificate_for_another_name_is_refused() {
    let server = TestSmtp::start_with_names(TlsMode::Implicit, auth_script(), &["mail.other.test"]).await;
    let app = admin_app().await;
    let id = app.create_profile(&profile_for("Mismatch", &server, "ssl")).await;
    let shown = test_send(&app, id, "ada@example.test").await;
    assert!(shown.contains("TLS failed: the server's certificate is not valid for the name localhost."), "{shown}");
}

#[tokio::test]
async fn a_refused_login_shows_the_servers_535_reply() {
    let server = TestSmtp::start(
        TlsMode::StartTls,
        Script { auth: Some((ACCOUNT.into(), "Other$Pass9".into())), ..Script::default() },
    )
    .await;
    let app = admin_app().await;
    let id = app.create_profile(&profile_for("BadLogin", &server, "starttls")).await;
    let shown = test_send(&app, id, "ada@example.test").await;
    assert!(
        shown.contains(&format!(
            "Login rejected by localhost:{}: 535 5.7.8 Authentication credentials invalid.",
            server.port
        )),
        "{shown}"
    );
    assert!(shown.contains("Check the SMTP account address and password"));
    assert!(!shown.contains(PASSWORD));
}

#[tokio::test]
async fn a_refused_sender_or_recipient_shows_the_5xx_reply() {
    let server = TestSmtp::start(TlsMode::StartTls, auth_script()).await;
    let app = admin_app().await;
    let id = app.create_profile(&profile_for("Refusals", &server, "starttls")).await;

    server.script().mail_reply = Some("553 5.7.1 Sender address rejected: not owned by user".into());
    let shown = test_send(&app, id, "ada@example.test").await;
    assert!(
        shown.contains(
            "The server refused the sender no-reply@acme.test: 553 5.7.1 Sender address rejected: not owned by user."
        ),
        "{shown}"
    );

    server.script().mail_reply = None;
    server.script().rcpt_replies.push_back("550 5.1.1 No such mailbox".into());
    let shown = test_send(&app, id, "nobody@example.test").await;
    assert!(
        shown.contains("The server refused the recipient nobody@example.test: 550 5.1.1 No such mailbox."),
        "{shown}"
    );
    assert!(server.messages().is_empty());
}

#[tokio::test]
async fn connection_failures_say_what_to_check() {
    let app = admin_app().await;
    // A port nobody listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let refused = with(
        with(without(without(generic("Refused"), "auth_required"), "password"), "host", "127.0.0.1"),
        "port",
        &closed.to_string(),
    );
    let refused = with(refused, "security", "none");
    let id = app.create_profile(&refused).await;
    let shown = test_send(&app, id, "ada@example.test").await;
    assert!(
        shown.contains(&format!("Could not connect to 127.0.0.1:{closed}: the connection was refused.")),
        "{shown}"
    );

    let unknown = with(with(generic("NoSuchHost"), "host", "no-such-host.invalid"), "security", "none");
    let id = app.create_profile(&without(without(unknown, "auth_required"), "password")).await;
    let shown = test_send(&app, id, "ada@example.test").await;
    assert!(
        shown.contains("Could not find the host no-such-host.invalid") || shown.contains("no answer in time"),
        "{shown}"
    );

    let silent = TestSmtp::start(TlsMode::Plain, Script { silent: true, ..Script::default() }).await;
    let form = without(without(profile_for("Silent", &silent, "none"), "auth_required"), "password");
    let id = app.create_profile(&form).await;
    let started = std::time::Instant::now();
    let shown = test_send(&app, id, "ada@example.test").await;
    assert!(started.elapsed() < Duration::from_secs(10), "bounded by the send timeout");
    assert!(shown.contains(&format!("localhost:{} did not finish within 3 seconds", silent.port)), "{shown}");
}

#[tokio::test]
async fn ssl_against_a_starttls_port_says_the_server_expects_starttls() {
    let server = TestSmtp::start(TlsMode::StartTls, auth_script()).await;
    let app = admin_app().await;
    let id = app.create_profile(&profile_for("Office", &server, "ssl")).await;
    let shown = test_send(&app, id, "ada@example.test").await;
    assert_eq!(
        shown,
        format!(
            "The test email was not sent. TLS failed with localhost: the server did not start TLS, so it probably \
             expects STARTTLS on port {} (usually port 587). Choose STARTTLS as the security mode, or use the \
             server's SSL/TLS port (usually 465).",
            server.port
        )
    );
    assert!(server.messages().is_empty());
}

#[tokio::test]
async fn starttls_is_required_never_silently_plain() {
    let server = TestSmtp::start(TlsMode::Plain, auth_script()).await;
    let app = admin_app().await;
    let id = app.create_profile(&profile_for("NoStartTls", &server, "starttls")).await;
    let shown = test_send(&app, id, "ada@example.test").await;
    assert!(shown.contains("does not offer STARTTLS, and relaydesk never sends unencrypted"), "{shown}");
    assert!(server.messages().is_empty());
}

#[tokio::test]
async fn an_invalid_to_address_is_refused_and_nothing_is_sent() {
    let server = TestSmtp::start(TlsMode::StartTls, auth_script()).await;
    let app = admin_app().await;
    let id = app.create_profile(&profile_for("Office", &server, "starttls")).await;
    for bad in ["", "ada", "ada@localhost", "ada@example.test\r\nBcc: victim@evil.test"] {
        let res = app.post(&format!("/t/acme/smtp/{id}/test"), &[("to", bad)]).await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{bad:?}");
        assert!(res.text().await.unwrap().contains(r#"id="error-to">Please enter a valid email address.</p>"#));
    }
    // A test email is sent within its request, so any connection would have been made
    // before the answer came; the short wait only lets the server's accept loop count one
    // that was (there is no event to wait for when nothing happens).
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(server.connections(), 0);
}

#[tokio::test]
async fn a_line_break_smuggled_into_a_header_never_adds_a_recipient() {
    let server = TestSmtp::start(TlsMode::StartTls, auth_script()).await;
    let app = admin_app().await;
    let id = app.create_profile(&profile_for("Office", &server, "starttls")).await;
    // Through the form it is refused outright…
    let res = app
        .post_form(
            &format!("/t/acme/smtp/{id}"),
            &with(profile_for("Office", &server, "starttls"), "from_name", "Acme\r\nBcc: victim@evil.test"),
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    // …and even if it reached the database, such a row is not a profile: it is never
    // loaded, so nothing is sent, and the person sees the plain apology, not the row.
    sqlx::query("UPDATE smtp_profiles SET from_name = 'Acme' || char(13, 10) || 'Bcc: victim@evil.test'")
        .execute(&app.db)
        .await
        .unwrap();
    let res = app.post(&format!("/t/acme/smtp/{id}/test"), &[("to", "ada@example.test")]).await;
    assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let html = res.text().await.unwrap();
    assert!(html.contains("relaydesk could not finish this request") && !html.contains("victim"), "{html}");
    // Sent within the request, and the server records a message before it answers: had
    // anything been sent, it would be recorded by now.
    assert!(server.messages().is_empty());
    assert_eq!(server.connections(), 0, "not even a connection");
    // One bad row does not take the list or the dashboard down. The list reads only what it
    // shows, so the profile is still listed (its bad sender name is not shown); a row bad in
    // what the list shows is left out (and logged).
    let list = app.page("/t/acme/smtp").await;
    assert!(list.contains(&format!(r#"data-profile-id="{id}""#)) && !list.contains("victim"));
    let mut conn = app.db.acquire().await.unwrap();
    for sql in ["PRAGMA ignore_check_constraints = ON", "UPDATE smtp_profiles SET security = 'carrier pigeon'"] {
        sqlx::query(sql).execute(&mut *conn).await.unwrap();
    }
    drop(conn);
    let list = app.page("/t/acme/smtp").await;
    assert!(!list.contains(&format!(r#"data-profile-id="{id}""#)) && list.contains("SMTP profiles"));
    assert!(app.page("/t/acme/").await.contains("Office"), "the dashboard still names the default");
}

#[tokio::test]
async fn unsaved_values_are_tested_with_the_stored_password_only_for_the_same_server() {
    let server = TestSmtp::start(TlsMode::StartTls, auth_script()).await;
    let other = TestSmtp::start(TlsMode::StartTls, auth_script()).await;
    let app = admin_app().await;
    let id = app.create_profile(&profile_for("Office", &server, "starttls")).await;

    // Same server and account, another sender name, blank password: the stored one is used.
    let mut form = with(with(profile_for("Office", &server, "starttls"), "password", ""), "from_name", "Unsaved Name");
    form.push(("to", "ada@example.test".into()));
    form.push(("unsaved", "1".into()));
    let res = app.post_form(&format!("/t/acme/smtp/{id}/test"), &form).await;
    assert_eq!(res.status(), StatusCode::OK);
    let html = res.text().await.unwrap();
    assert!(html.contains("Test email sent to ada@example.test. These settings are not saved yet."), "{html}");
    assert!(html.contains(r#"value="Unsaved Name""#), "the form keeps the unsaved values");
    let got = server.wait_for(1, 5).await;
    assert!(got[0].header("From").unwrap().contains("Unsaved Name"));
    let (from_name,): (String,) =
        sqlx::query_as("SELECT from_name FROM smtp_profiles").fetch_one(&app.db).await.unwrap();
    assert_eq!(from_name, "Acme Accounts", "nothing saved");

    // Another server with a blank password: the stored password is not sent there.
    let mut form = with(profile_for("Office", &other, "starttls"), "password", "");
    form.push(("to", "ada@example.test".into()));
    form.push(("unsaved", "1".into()));
    let res = app.post_form(&format!("/t/acme/smtp/{id}/test"), &form).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = res.text().await.unwrap();
    assert!(
        html.contains(r#"id="error-password">The password was cleared because the port changed; enter it again.</p>"#)
    );
    // As above: the short wait only lets the server's accept loop count a connection the
    // request made before answering.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(other.connections(), 0, "the other server was never contacted");
}
