//! The guest's side (SPEC §9.3) over HTTP against a real SMTP server: registering by SMS
//! and by email, the passcode read from the message the server received, signing in with
//! it, its expiry, every rule's message, the abuse limits, and pages that answer 404 where
//! there is no guest access.

use std::time::Duration;

use relaydesk::domain::guest::*;
use relaydesk::domain::sms::MSG_MOBILE;
use reqwest::StatusCode;

use crate::helpers::*;
use crate::sending::profile_for;
use crate::smtp::with;
use crate::smtp_server::{Received, Script, TestSmtp, TlsMode};

const SETTINGS: &str = "/t/acme/guests/settings";

/// An app whose acme tenant lets guests in with passcodes by SMS through a channel at
/// `server` (6 digits, 24 hours, `codes` allowed), signed in as the admin.
pub async fn sms_app(server: &TestSmtp, codes: &str) -> TestApp {
    let app = spawn_app_with(|c| c.send_timeout = Duration::from_secs(3)).await;
    app.sign_in_admin().await;
    app.create_channel(&with(crate::sms::channel_for("Gw", server), "enabled", "on")).await;
    let fields = [("enabled", "on"), ("delivery", "sms"), ("passcode_length", "6"), ("access_hours", "24")];
    let mut fields = fields.to_vec();
    fields.push(("allowed_prefixes", codes));
    assert_eq!(app.post(SETTINGS, &fields).await.status(), StatusCode::SEE_OTHER);
    app
}

/// An app whose acme tenant sends guests their passcode by email through `server`.
pub async fn email_app(server: &TestSmtp) -> TestApp {
    let app = spawn_app_with(|c| c.send_timeout = Duration::from_secs(3)).await;
    app.sign_in_admin().await;
    app.create_profile(&profile_for("Office", server, "starttls")).await;
    assert_eq!(app.post("/t/acme/settings/email", &[("enabled", "on")]).await.status(), StatusCode::SEE_OTHER);
    let fields = [
        ("enabled", "on"),
        ("delivery", "email"),
        ("passcode_length", "8"),
        ("access_hours", "2"),
        ("allowed_prefixes", ""),
    ];
    assert_eq!(app.post(SETTINGS, &fields).await.status(), StatusCode::SEE_OTHER);
    app
}

pub fn mail_script() -> Script {
    Script { auth: Some(("mailer@acme.test".into(), crate::smtp::PASSWORD.into())), ..Script::default() }
}

/// The digits after `passcode is ` in a received message.
pub fn passcode_in(mail: &Received) -> String {
    let body = mail.text_body();
    let start = body.find("passcode is ").map(|i| i + "passcode is ".len()).unwrap_or(body.len());
    let found: String = body[start..].chars().take_while(char::is_ascii_digit).collect();
    assert!(!found.is_empty(), "a passcode in {body}");
    found
}

impl TestApp {
    /// Registers on the guest page; the response.
    pub async fn register_guest(&self, fields: &[(&str, &str)]) -> reqwest::Response {
        self.post("/g/acme", fields).await
    }

    /// Signs a guest in; the response.
    pub async fn guest_sign_in(&self, login: &str, passcode: &str) -> reqwest::Response {
        self.post("/g/acme/login", &[("login", login), ("passcode", passcode)]).await
    }
}

async fn guests(app: &TestApp) -> i64 {
    app.count("SELECT COUNT(*) FROM guests").await
}

async fn outbox(app: &TestApp) -> i64 {
    app.count("SELECT COUNT(*) FROM outbox").await
}

#[tokio::test]
async fn a_guest_gets_a_passcode_by_sms_and_signs_in_with_it_until_it_expires() {
    let server = TestSmtp::start(TlsMode::Plain, crate::sms::gateway()).await;
    let admin = sms_app(&server, "+44 +353").await;
    sqlx::query("UPDATE tenants SET time_zone = 'Europe/London'").execute(&admin.db).await.unwrap();
    let guest = admin.share();
    let page = guest.page("/g/acme").await;
    assert!(page.contains(r#"name="mobile""#) && !page.contains(r#"name="email""#), "SMS only: a mobile field");
    assert!(page.contains("Numbers starting with +44 +353 only."));

    let res = guest.register_guest(&[("name", "Ann Lee"), ("mobile", "+44 (7700) 900-123")]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), "/g/acme/login");
    assert_eq!(guest.flash_on("/g/acme/login").await, MSG_GUEST_SENT);

    let mail = server.wait_for(1, 5).await.remove(0);
    assert_eq!(mail.to, ["+447700900123@gw.example"]);
    assert_eq!(mail.header("Content-Transfer-Encoding").as_deref(), Some("7bit"));
    assert!(!mail.data.contains("text/html"));
    let body = mail.text_body();
    assert!(body.starts_with("Hello Ann Lee, your passcode is "), "{body}");
    let passcode = passcode_in(&mail);
    assert_eq!(passcode.len(), 6);

    // Kept only as a keyed hash; the outbox's copy is sealed.
    let (hash, login, via): (String, String, String) =
        sqlx::query_as("SELECT passcode_hash, login, via FROM guests").fetch_one(&admin.db).await.unwrap();
    assert_eq!((login.as_str(), via.as_str()), ("+447700900123", "sms"));
    assert!(!hash.contains(&passcode) && hash.len() == 64);
    wait_until("the passcode recorded as sent", WAIT, || async {
        admin.count("SELECT COUNT(*) FROM outbox WHERE status = 'sent'").await == 1
    })
    .await;
    let (kind, recipient, sealed): (String, String, String) =
        sqlx::query_as("SELECT kind, recipient, body_sealed FROM outbox JOIN outbox_bodies ON outbox_id = outbox.id")
            .fetch_one(&admin.db)
            .await
            .unwrap();
    assert_eq!((kind.as_str(), recipient.as_str()), ("guest_passcode", "+447700900123"));
    assert!(!sealed.contains(&passcode));

    // Wrong passcode, then the right one (the number typed another way).
    let wrong = if passcode == "000000" { "111111" } else { "000000" };
    let res = guest.guest_sign_in("+447700900123", wrong).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.text().await.unwrap().contains(MSG_GUEST_BAD_PASSCODE));
    // The number typed another way, the passcode with a space in it.
    let spaced = format!("{} {}", &passcode[..3], &passcode[3..]);
    let res = guest.guest_sign_in("+44 7700 900123", &spaced).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), "/g/acme/connected");
    let until = relaydesk::web::format_time(
        admin.now() + 24 * 3600,
        &relaydesk::domain::time_zone::Zone::parse("Europe/London").unwrap(),
    );
    assert_eq!(guest.flash_on("/g/acme/connected").await, msg_connected_until(&until));
    let connected: Option<i64> =
        sqlx::query_scalar("SELECT connected_until FROM guests").fetch_one(&admin.db).await.unwrap();
    assert_eq!(connected, Some(admin.now() + 24 * 3600));

    // After the hours of access, the passcode no longer works.
    admin.advance(Duration::from_secs(24 * 3600));
    let res = guest.guest_sign_in("+447700900123", &passcode).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.text().await.unwrap().contains(MSG_GUEST_BAD_PASSCODE));
}

#[tokio::test]
async fn a_guest_gets_a_passcode_by_email() {
    let server = TestSmtp::start(TlsMode::StartTls, mail_script()).await;
    let admin = email_app(&server).await;
    let guest = admin.share();
    let page = guest.page("/g/acme").await;
    assert!(page.contains(r#"name="email""#) && !page.contains(r#"name="mobile""#));
    let res = guest.register_guest(&[("name", "Bo"), ("email", "Bo@Example.COM")]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let mail = server.wait_for(1, 5).await.remove(0);
    assert_eq!(mail.to, ["bo@example.com"]);
    assert_eq!(mail.header("Subject").as_deref(), Some(format!("Your passcode for {TENANT_NAME}").as_str()));
    let passcode = passcode_in(&mail);
    assert_eq!(passcode.len(), 8);
    let res = guest.guest_sign_in("bo@example.com", &passcode).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let until = relaydesk::web::format_time(admin.now() + 2 * 3600, &relaydesk::domain::time_zone::Zone::utc());
    assert_eq!(guest.flash_on("/g/acme/connected").await, format!("You are connected until {until}."));
}

#[tokio::test]
async fn five_wrong_passcodes_spend_it() {
    let server = TestSmtp::start(TlsMode::Plain, crate::sms::gateway()).await;
    let admin = sms_app(&server, "").await;
    let guest = admin.share();
    guest.register_guest(&[("name", "Ann"), ("mobile", "+15550109999")]).await;
    let passcode = passcode_in(&server.wait_for(1, 5).await[0]);
    let wrong = if passcode == "000000" { "111111" } else { "000000" };
    for _ in 0..MAX_PASSCODE_FAILURES {
        assert_eq!(guest.guest_sign_in("+15550109999", wrong).await.status(), StatusCode::UNPROCESSABLE_ENTITY);
    }
    let res = guest.guest_sign_in("+15550109999", &passcode).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "the right one no longer works");
}

#[tokio::test]
async fn every_rule_has_its_message_and_a_refused_form_sends_nothing() {
    let server = TestSmtp::start(TlsMode::Plain, crate::sms::gateway()).await;
    let admin = sms_app(&server, "+44").await;
    let guest = admin.share();
    let long = "a".repeat(65);
    for (fields, field, message) in [
        (vec![("name", ""), ("mobile", "+447700900123")], "name", MSG_GUEST_NAME),
        (vec![("name", long.as_str()), ("mobile", "+447700900123")], "name", MSG_GUEST_NAME),
        (vec![("name", "Ann\r\nBcc: victim@example.com"), ("mobile", "+447700900123")], "name", MSG_GUEST_NAME),
        (vec![("name", "Ann"), ("mobile", "")], "mobile", MSG_MOBILE),
        (vec![("name", "Ann"), ("mobile", "07700 900123")], "mobile", MSG_MOBILE),
        (vec![("name", "Ann"), ("mobile", "+447700900123\r\nBcc: victim@example.com")], "mobile", MSG_MOBILE),
        (vec![("name", "Ann"), ("mobile", "+15550109999")], "mobile", MSG_GUEST_CODE_REFUSED),
    ] {
        let res = guest.register_guest(&fields).await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{fields:?}");
        let html = res.text().await.unwrap();
        assert!(html.contains(&format!(r#"<p class="error" id="error-{field}">{message}</p>"#)), "{fields:?}");
    }
    assert_eq!((guests(&admin).await, outbox(&admin).await), (0, 0));
    assert!(server.messages().is_empty());
    let res = guest.guest_sign_in("nobody", "123456").await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.text().await.unwrap().contains(MSG_GUEST_LOGIN));
    let res = guest.guest_sign_in("+447700900999", "123456").await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.text().await.unwrap().contains(MSG_GUEST_BAD_PASSCODE));
    // Without the CSRF token: refused before anything.
    let res = guest.post_raw("/g/acme", &[("name", "Ann"), ("mobile", "+447700900123")]).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(guests(&admin).await, 0);
}

#[tokio::test]
async fn with_both_methods_the_guest_chooses_and_types_one() {
    let server = TestSmtp::start(TlsMode::Plain, crate::sms::gateway()).await;
    let admin = sms_app(&server, "").await;
    let fields = [
        ("enabled", "on"),
        ("delivery", "both"),
        ("passcode_length", "6"),
        ("access_hours", "24"),
        ("allowed_prefixes", ""),
    ];
    assert_eq!(admin.post(SETTINGS, &fields).await.status(), StatusCode::SEE_OTHER);
    let guest = admin.share();
    // Email is off: guests are offered only what works, the number.
    let page = guest.page("/g/acme").await;
    assert!(!page.contains(r#"name="email""#) && page.contains(r#"name="mobile""#));
    // Email on with a default profile: both.
    admin.create_profile(&with(profile_for("Office", &server, "starttls"), "is_default", "on")).await;
    assert_eq!(admin.post("/t/acme/settings/email", &[("enabled", "on")]).await.status(), StatusCode::SEE_OTHER);
    let page = guest.page("/g/acme").await;
    assert!(page.contains(r#"name="email""#) && page.contains(r#"name="mobile""#));
    let res = guest.register_guest(&[("name", "Ann"), ("email", "a@example.com"), ("mobile", "+447700900123")]).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.text().await.unwrap().contains(MSG_GUEST_NOT_BOTH));
    let res = guest.register_guest(&[("name", "Ann"), ("email", ""), ("mobile", "")]).await;
    assert!(res.text().await.unwrap().contains(MSG_GUEST_EMAIL_OR_MOBILE));
    assert_eq!(guests(&admin).await, 0);
}

#[tokio::test]
async fn no_guest_access_no_guest_pages() {
    let server = TestSmtp::start(TlsMode::Plain, crate::sms::gateway()).await;
    let admin = sms_app(&server, "").await;
    let guest = admin.share();
    for path in ["/g/nope", "/g/nope/login", "/g/acme/connected-not"] {
        assert_eq!(guest.get(path).await.status(), StatusCode::NOT_FOUND, "{path}");
    }
    assert_eq!(guest.get("/g/acme").await.status(), StatusCode::OK);
    // Guest access off.
    let off = [("delivery", "sms"), ("passcode_length", "6"), ("access_hours", "24"), ("allowed_prefixes", "")];
    assert_eq!(admin.post(SETTINGS, &off).await.status(), StatusCode::SEE_OTHER);
    for path in ["/g/acme", "/g/acme/login", "/g/acme/connected"] {
        assert_eq!(guest.get(path).await.status(), StatusCode::NOT_FOUND, "{path}");
    }
    let res = guest.register_guest(&[("name", "Ann"), ("mobile", "+447700900123")]).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    // Back on, then the organization suspended.
    let mut on = off.to_vec();
    on.push(("enabled", "on"));
    assert_eq!(admin.post(SETTINGS, &on).await.status(), StatusCode::SEE_OTHER);
    assert_eq!(guest.get("/g/acme").await.status(), StatusCode::OK);
    sqlx::query("UPDATE tenants SET suspended = 1").execute(&admin.db).await.unwrap();
    assert_eq!(guest.get("/g/acme").await.status(), StatusCode::NOT_FOUND);
    assert_eq!(guests(&admin).await, 0);
}

#[tokio::test]
async fn a_burst_from_one_number_sends_three_passcodes_an_hour() {
    let server = TestSmtp::start(TlsMode::Plain, crate::sms::gateway()).await;
    let admin = sms_app(&server, "").await;
    let guest = admin.share();
    let mut statuses = Vec::new();
    for _ in 0..6 {
        let res = guest.register_guest(&[("name", "Ann"), ("mobile", "+447700900123")]).await;
        let status = res.status();
        if status == StatusCode::TOO_MANY_REQUESTS {
            assert!(res.text().await.unwrap().contains(MSG_GUEST_TOO_MANY));
        }
        statuses.push(status);
    }
    let sent = statuses.iter().filter(|s| **s == StatusCode::SEE_OTHER).count();
    let refused = statuses.iter().filter(|s| **s == StatusCode::TOO_MANY_REQUESTS).count();
    assert_eq!((sent, refused), (3, 3), "{statuses:?}");
    server.wait_for(3, 5).await;
    wait_until("no passcode pending", WAIT, || async {
        admin.count("SELECT COUNT(*) FROM outbox WHERE status = 'pending'").await == 0
    })
    .await;
    assert_eq!(server.messages().len(), 3, "nothing sent past the limit");
    assert_eq!(outbox(&admin).await, 3);
    // An hour later, the number may have another.
    admin.advance(Duration::from_secs(3600));
    let res = guest.register_guest(&[("name", "Ann"), ("mobile", "+447700900123")]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    server.wait_for(4, 5).await;
}

#[tokio::test]
async fn one_client_gets_ten_passcodes_an_hour_and_the_organization_its_daily_cap() {
    let server = TestSmtp::start(TlsMode::Plain, crate::sms::gateway()).await;
    let admin = sms_app(&server, "").await;
    let guest = admin.share();
    for n in 0..12 {
        let mobile = format!("+4477009001{n:02}");
        let res = guest.register_guest(&[("name", "Ann"), ("mobile", &mobile)]).await;
        let expected = if n < PER_CLIENT_PER_HOUR { StatusCode::SEE_OTHER } else { StatusCode::TOO_MANY_REQUESTS };
        assert_eq!(res.status(), expected, "request {n}");
    }
    server.wait_for(10, 10).await;
    assert_eq!(outbox(&admin).await, 10);

    // The operator's cap: 12 a day. Ten went out; two more from another hour, then none.
    sqlx::query("UPDATE tenants SET guest_daily_cap = 12").execute(&admin.db).await.unwrap();
    admin.advance(Duration::from_secs(3600));
    for (n, expected) in [(20, StatusCode::SEE_OTHER), (21, StatusCode::SEE_OTHER), (22, StatusCode::TOO_MANY_REQUESTS)]
    {
        let mobile = format!("+4477009001{n:02}");
        let res = guest.register_guest(&[("name", "Ann"), ("mobile", &mobile)]).await;
        assert_eq!(res.status(), expected, "request {n}");
    }
    server.wait_for(12, 10).await;
    assert_eq!(outbox(&admin).await, 12);
    admin.advance(Duration::from_secs(23 * 3600));
    let res = guest.register_guest(&[("name", "Ann"), ("mobile", "+447700900199")]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "a day after the first ten");
}

#[tokio::test]
async fn the_operator_sets_the_daily_cap_and_past_it_nothing_is_sent() {
    let server = TestSmtp::start(TlsMode::Plain, crate::sms::gateway()).await;
    let admin = sms_app(&server, "").await;
    admin.add_user("olivia@acme.test", "olivia's long password", relaydesk::domain::account::Role::Admin, true).await;
    let operator = admin.share();
    assert_eq!(operator.sign_in("olivia@acme.test", "olivia's long password").await.status(), StatusCode::SEE_OTHER);
    assert!(operator.page("/admin").await.contains(r#"name="guest_daily_cap" value="500""#), "500 unless set");
    for bad in ["", "-1", "100001", "lots"] {
        let res = operator.post("/admin/tenants/acme/guest-cap", &[("guest_daily_cap", bad)]).await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{bad:?}");
        assert!(res.text().await.unwrap().contains(MSG_GUEST_DAILY_CAP));
    }
    let res = operator.post("/admin/tenants/acme/guest-cap", &[("guest_daily_cap", "2")]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(operator.flash_on("/admin").await, format!("{TENANT_NAME}'s guests may now be sent 2 passcodes a day."));
    let detail: String = sqlx::query_scalar("SELECT detail FROM audit_log WHERE action = 'tenant.guest_cap'")
        .fetch_one(&admin.db)
        .await
        .unwrap();
    assert_eq!(detail, "500 -> 2 passcodes a day");

    let guest = admin.share();
    for (mobile, expected) in [
        ("+447700900001", StatusCode::SEE_OTHER),
        ("+447700900002", StatusCode::SEE_OTHER),
        ("+447700900003", StatusCode::TOO_MANY_REQUESTS),
    ] {
        let res = guest.register_guest(&[("name", "Ann"), ("mobile", mobile)]).await;
        assert_eq!(res.status(), expected, "{mobile}");
    }
    server.wait_for(2, 5).await;
    wait_until("no passcode pending", WAIT, || async {
        admin.count("SELECT COUNT(*) FROM outbox WHERE status = 'pending'").await == 0
    })
    .await;
    assert_eq!(server.messages().len(), 2);
}

/// The guests' rows of the list: `(name, login, connected cell, delivery cell)`, as text.
async fn guest_rows(app: &TestApp) -> Vec<(String, String, String)> {
    let html = app.page("/t/acme/guests").await;
    html.split("<tr data-guest-id=")
        .skip(1)
        .map(|row| {
            let cell = |label: &str| {
                let start = row.find(&format!(r#"data-label="{label}""#)).unwrap();
                let text = &row[start..];
                let text = &text[text.find('>').unwrap() + 1..text.find("</td>").unwrap()];
                let mut plain = String::new();
                let mut in_tag = false;
                for c in text.chars() {
                    match c {
                        '<' => in_tag = true,
                        '>' => in_tag = false,
                        c if !in_tag => plain.push(c),
                        _ => {}
                    }
                }
                plain.split_whitespace().collect::<Vec<_>>().join(" ")
            };
            (cell("Email or mobile"), cell("Connected until"), cell("Delivery"))
        })
        .collect()
}

#[tokio::test]
async fn organizers_see_guests_resend_a_passcode_and_revoke_one() {
    let server = TestSmtp::start(TlsMode::Plain, crate::sms::gateway()).await;
    let admin = sms_app(&server, "").await;
    admin.add_user("olga@acme.test", "olga's long password", relaydesk::domain::account::Role::Organizer, false).await;
    let olga = admin.share();
    assert_eq!(olga.sign_in("olga@acme.test", "olga's long password").await.status(), StatusCode::SEE_OTHER);
    assert!(olga.page("/t/acme/guests").await.contains("No guests yet."));

    let guest = admin.share();
    guest.register_guest(&[("name", "Ann"), ("mobile", "+447700900123")]).await;
    let first = passcode_in(&server.wait_for(1, 5).await[0]);
    wait_until("the passcode recorded as sent", WAIT, || async {
        admin.count("SELECT COUNT(*) FROM outbox WHERE status = 'sent'").await == 1
    })
    .await;
    assert_eq!(
        guest_rows(&olga).await,
        [("+447700900123 (SMS)".to_owned(), "Not signed in".to_owned(), "Sent (1 attempt)".to_owned())]
    );
    assert_eq!(guest.guest_sign_in("+447700900123", &first).await.status(), StatusCode::SEE_OTHER);
    let until = relaydesk::web::format_time(admin.now() + 24 * 3600, &relaydesk::domain::time_zone::Zone::utc());
    assert_eq!(guest_rows(&olga).await[0].1, until);
    let html = olga.page("/t/acme/guests").await;
    assert!(!html.contains(&first), "the passcode is shown to nobody");

    // Resend: a new passcode arrives; the old one stops working.
    let id: i64 = sqlx::query_scalar("SELECT id FROM guests").fetch_one(&admin.db).await.unwrap();
    let res = olga.post(&format!("/t/acme/guests/{id}/resend"), &[]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(olga.flash_on("/t/acme/guests").await, "Ann was sent a new passcode (+447700900123).");
    let mails = server.wait_for(2, 5).await;
    let second = passcode_in(&mails[1]);
    assert_eq!(mails[1].to, ["+447700900123@gw.example"]);
    if second != first {
        assert_eq!(guest.guest_sign_in("+447700900123", &first).await.status(), StatusCode::UNPROCESSABLE_ENTITY);
    }
    assert_eq!(guest.guest_sign_in("+447700900123", &second).await.status(), StatusCode::SEE_OTHER);

    // The resend counts against the number's limit: a third passcode, then none.
    assert_eq!(olga.post(&format!("/t/acme/guests/{id}/resend"), &[]).await.status(), StatusCode::SEE_OTHER);
    assert_eq!(olga.flash_on("/t/acme/guests").await, "Ann was sent a new passcode (+447700900123).");
    assert_eq!(olga.post(&format!("/t/acme/guests/{id}/resend"), &[]).await.status(), StatusCode::SEE_OTHER);
    assert_eq!(olga.flash_on("/t/acme/guests").await, MSG_GUEST_TOO_MANY);
    server.wait_for(3, 5).await;
    let third = passcode_in(&server.messages()[2]);

    // Revoke: the passcode no longer signs in, and registering again sends nothing.
    let res = olga.post(&format!("/t/acme/guests/{id}/revoke"), &[]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(olga.flash_on("/t/acme/guests").await, "Ann can no longer sign in.");
    assert!(guest_rows(&olga).await[0].1.starts_with("Revoked "));
    assert_eq!(guest.guest_sign_in("+447700900123", &third).await.status(), StatusCode::UNPROCESSABLE_ENTITY);
    admin.advance(Duration::from_secs(3600));
    let res = guest.register_guest(&[("name", "Ann"), ("mobile", "+447700900123")]).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(olga.post(&format!("/t/acme/guests/{id}/resend"), &[]).await.status(), StatusCode::SEE_OTHER);
    assert_eq!(olga.flash_on("/t/acme/guests").await, relaydesk::web::guests::MSG_GUEST_IS_REVOKED);
    assert_eq!(admin.count("SELECT COUNT(*) FROM outbox").await, 3);

    // The audit log names the guest, never a passcode.
    let entries: Vec<(String, String)> =
        sqlx::query_as("SELECT action, detail FROM audit_log WHERE action LIKE 'guest.%' ORDER BY id")
            .fetch_all(&admin.db)
            .await
            .unwrap();
    assert_eq!(
        entries,
        [
            ("guest.resent".to_owned(), "Ann (+447700900123)".to_owned()),
            ("guest.resent".to_owned(), "Ann (+447700900123)".to_owned()),
            ("guest.revoked".to_owned(), "Ann (+447700900123)".to_owned()),
        ]
    );
}

#[tokio::test]
async fn the_email_log_shows_passcode_messages_and_test_passcodes_with_their_attempts_never_the_passcode() {
    let server = TestSmtp::start(TlsMode::Plain, crate::sms::gateway()).await;
    server.script().data_replies.push_back("451 4.3.0 Try again later".into());
    let admin = sms_app(&server, "").await;
    let guest = admin.share();
    guest.register_guest(&[("name", "Ann"), ("mobile", "+447700900123")]).await;
    wait_until("the first attempt recorded", WAIT, || async {
        admin.count("SELECT COUNT(*) FROM outbox_attempts").await == 1
    })
    .await;
    let html = admin.page("/t/acme/email-log").await;
    assert!(html.contains(r#"data-status="pending" data-attempts="1""#), "{html}");
    assert!(html.contains("451 4.3.0 Try again later"));
    // The retry schedule of every outbox message: 30 seconds later, the second attempt.
    admin.advance(Duration::from_secs(30));
    admin.app.state.outbox_wake.notify_one();
    // (The server keeps only what it accepted.)
    let passcode = passcode_in(&server.wait_for(1, 5).await[0]);
    wait_until("the second attempt recorded", WAIT, || async {
        admin.count("SELECT COUNT(*) FROM outbox WHERE status = 'sent'").await == 1
    })
    .await;
    // A channel's test passcode, kept beside it.
    let channel: i64 = sqlx::query_scalar("SELECT id FROM sms_channels").fetch_one(&admin.db).await.unwrap();
    let res = admin.post(&format!("/t/acme/sms/{channel}/test"), &[("mobile", "+353 85 123 4567")]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let test_code = passcode_in(&server.wait_for(2, 5).await[1]);

    let html = admin.page("/t/acme/email-log").await;
    let outbox_row = &html[html.find("data-outbox-id=").unwrap()..];
    let outbox_row = &outbox_row[..outbox_row.find("</tr>").unwrap()];
    assert!(outbox_row.contains(r#"data-status="sent" data-attempts="2""#), "{outbox_row}");
    for expected in ["+447700900123", "Guest passcode", "SMS channel Gw", "2 attempts"] {
        assert!(outbox_row.contains(expected), "{expected} in {outbox_row}");
    }
    let test_row = &html[html.find("data-test-email-id=").unwrap()..];
    let test_row = &test_row[..test_row.find("</tr>").unwrap()];
    for expected in ["+353851234567", "Test passcode", "SMS channel Gw", "Wi-Fi passcode"] {
        assert!(test_row.contains(expected), "{expected} in {test_row}");
    }
    for code in [&passcode, &test_code] {
        assert!(!outbox_row.contains(code.as_str()) && !test_row.contains(code.as_str()), "{code} shown");
    }
}

#[tokio::test]
async fn no_header_can_be_smuggled_through_the_guest_form_or_the_channel() {
    let server = TestSmtp::start(TlsMode::Plain, crate::sms::gateway()).await;
    let admin = sms_app(&server, "").await;
    let both = [
        ("enabled", "on"),
        ("delivery", "both"),
        ("passcode_length", "6"),
        ("access_hours", "24"),
        ("allowed_prefixes", ""),
    ];
    assert_eq!(admin.post(SETTINGS, &both).await.status(), StatusCode::SEE_OTHER);
    let guest = admin.share();
    let evil = "\r\nBcc: victim@evil.test";
    for fields in [
        [("name", format!("Ann{evil}")), ("mobile", "+447700900123".to_owned())],
        [("name", "Ann".to_owned()), ("mobile", format!("+447700900123{evil}"))],
        [("name", "Ann".to_owned()), ("email", format!("ann@example.com{evil}"))],
        [("name", "Ann".to_owned()), ("email", "ann@example.com\nSubject: free".to_owned())],
    ] {
        let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        assert_eq!(guest.register_guest(&fields).await.status(), StatusCode::UNPROCESSABLE_ENTITY, "{fields:?}");
    }
    assert_eq!((guests(&admin).await, outbox(&admin).await), (0, 0));

    // A line break written into the channel's stored subject or sender (not through the
    // form, which refuses it) is refused again when the message is built: nothing goes.
    for (column, value) in [("subject", format!("Code{evil}")), ("sender", format!("Wi-Fi{evil} <wifi@acme.test>"))] {
        sqlx::query("DELETE FROM guest_sends").execute(&admin.db).await.unwrap();
        let good: String =
            sqlx::query_scalar(&format!("SELECT {column} FROM sms_channels")).fetch_one(&admin.db).await.unwrap();
        sqlx::query(&format!("UPDATE sms_channels SET {column} = ?")).bind(&value).execute(&admin.db).await.unwrap();
        let res = guest.register_guest(&[("name", "Ann"), ("mobile", "+447700900123")]).await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        admin.app.state.outbox_wake.notify_one();
        wait_until("an attempt recorded", WAIT, || async {
            admin.count("SELECT COUNT(*) FROM outbox WHERE id IN (SELECT outbox_id FROM outbox_attempts)").await
                == outbox(&admin).await
        })
        .await;
        assert_eq!(admin.count("SELECT COUNT(*) FROM outbox WHERE status = 'sent'").await, 0, "{column}");
        sqlx::query(&format!("UPDATE sms_channels SET {column} = ?")).bind(&good).execute(&admin.db).await.unwrap();
        sqlx::query("UPDATE outbox SET status = 'failed', permanent = 1").execute(&admin.db).await.unwrap();
    }
    assert!(server.messages().is_empty(), "nothing reached the server");
}

/// Guests are offered only the delivery methods that work now: a passcode is never
/// promised that would only wait in the outbox. With none working the page says so, and
/// a guest who already has a passcode can still sign in.
#[tokio::test]
async fn guests_are_offered_only_the_methods_that_work_now() {
    let server = TestSmtp::start(TlsMode::Plain, crate::sms::gateway()).await;
    let admin = sms_app(&server, "").await;
    let guest = admin.share();
    let res = guest.register_guest(&[("name", "Ann"), ("mobile", "+447700900123")]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let passcode = passcode_in(&server.wait_for(1, 5).await[0]);

    // The last SMS channel disabled: no method works.
    let id: i64 = sqlx::query_scalar("SELECT id FROM sms_channels").fetch_one(&admin.db).await.unwrap();
    let form = with(with(crate::sms::channel_for("Gw", &server), "enabled", ""), "password", "");
    assert_eq!(admin.post_form(&format!("/t/acme/sms/{id}"), &form).await.status(), StatusCode::SEE_OTHER);
    let res = guest.get("/g/acme").await;
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(res.text().await.unwrap().contains(MSG_GUEST_UNAVAILABLE));
    let res = guest.register_guest(&[("name", "Bob"), ("mobile", "+447700900124")]).await;
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(guests(&admin).await, 1, "nothing registered");
    assert_eq!(outbox(&admin).await, 1, "nothing queued");
    // An organizer's resend says why nothing was sent.
    let guest_id: i64 = sqlx::query_scalar("SELECT id FROM guests").fetch_one(&admin.db).await.unwrap();
    let res = admin.post(&format!("/t/acme/guests/{guest_id}/resend"), &[]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let html = admin.page("/t/acme/guests").await;
    assert!(html.contains(MSG_GUEST_METHOD_DOWN), "{html}");
    assert_eq!(outbox(&admin).await, 1);
    // The passcode already sent still signs the guest in.
    let res = guest.guest_sign_in("+447700900123", &passcode).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
}

/// A UK number written with its trunk 0 in brackets reaches the right number, and a name
/// with an accent goes 8bit, as written: a long line is not broken through the passcode.
#[tokio::test]
async fn a_trunk_zero_is_left_out_and_an_accented_name_keeps_the_passcode_whole() {
    let server = TestSmtp::start(TlsMode::Plain, crate::sms::gateway()).await;
    let admin = sms_app(&server, "").await;
    let guest = admin.share();
    let name = format!("Zoë {}", "x".repeat(43));
    let res = guest.register_guest(&[("name", &name), ("mobile", "+44 (0) 7700 900321")]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let mail = server.wait_for(1, 5).await.remove(0);
    assert_eq!(mail.to, ["+447700900321@gw.example"]);
    assert_eq!(mail.header("Content-Transfer-Encoding").as_deref(), Some("8bit"));
    let passcode = passcode_in(&mail);
    assert_eq!(passcode.len(), 6);
    assert!(mail.data.contains(&format!("Hello {name}, your passcode is {passcode}")), "{}", mail.data);

    // A long line of plain ASCII stays 7bit and whole too.
    let name = "Y".repeat(64);
    let res = guest.register_guest(&[("name", &name), ("mobile", "+447700900322")]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let mail = server.wait_for(2, 5).await.remove(1);
    assert_eq!(mail.header("Content-Transfer-Encoding").as_deref(), Some("7bit"));
    let passcode = passcode_in(&mail);
    assert!(mail.data.contains(&format!("Hello {name}, your passcode is {passcode}")), "{}", mail.data);
}
