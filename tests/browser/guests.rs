//! A guest on a phone: registers with a mobile number typed as people type them, reads
//! the passcode from the SMS (the gateway mail the SMTP server received), signs in, and
//! sees until when they are connected.

use relaydesk::domain::guest::{
    CallingCodes, Delivery, GuestSettings, MSG_GUEST_BAD_PASSCODE, MSG_GUEST_SENT, MSG_GUEST_TOO_MANY,
};
use relaydesk::domain::sms::ChannelForm;
use relaydesk::domain::time_zone::Zone;

use crate::access::fits;
use crate::harness::*;
use crate::smtp_server::{Received, Script, TestSmtp, TlsMode};

pub const GATEWAY_USER: &str = "gw-account";
pub const GATEWAY_PASSWORD: &str = "gateway password";

pub fn gateway_script() -> Script {
    Script { auth: Some((GATEWAY_USER.into(), GATEWAY_PASSWORD.into())), ..Script::default() }
}

/// Lets acme's guests in, passcodes by SMS through an enabled channel at `server`
/// (`+44` and `+353` numbers), as its admin would have set it up.
pub async fn ready_for_guests(app: &TestApp, server: &TestSmtp) {
    let tenant = relaydesk::store::tenants::by_slug(&app.db, SLUG).await.unwrap().unwrap().id;
    let form = ChannelForm {
        enabled: Some("on".into()),
        name: "Gateway".into(),
        host: "localhost".into(),
        port: server.port.to_string(),
        security: "none".into(),
        sender: "Acme Wi-Fi <wifi@acme.test>".into(),
        username: GATEWAY_USER.into(),
        password: GATEWAY_PASSWORD.into(),
        recipient: "GM_MOBILE@gw.example".into(),
        number_format: "plus".into(),
        message_type: String::new(),
        subject: String::new(),
        message: "Hello GM_NAME, your Acme Wi-Fi passcode is GM_PASSCODE".into(),
    };
    let (settings, password) = form.parse(true).expect("a valid channel");
    let sealed = app.state.secrets.seal_secret(password.expect("a password").secret());
    let mut conn = app.db.acquire().await.unwrap();
    relaydesk::store::sms::create(&mut conn, tenant, &settings, &sealed, app.now()).await.unwrap();
    let guests = GuestSettings {
        enabled: true,
        delivery: Delivery::Sms,
        allowed_prefixes: CallingCodes::parse("+44 +353").unwrap(),
        ..GuestSettings::default()
    };
    relaydesk::store::guests::save(&mut conn, tenant, &guests, app.now()).await.unwrap();
}

/// The digits after `passcode is ` in a received message.
fn passcode_in(mail: &Received) -> String {
    let body = mail.text_body();
    let start = body.find("passcode is ").map_or(body.len(), |i| i + "passcode is ".len());
    body[start..].chars().take_while(char::is_ascii_digit).collect()
}

pub async fn a_guest_registers_on_a_phone_and_signs_in_with_the_passcode_from_the_sms() {
    let server = TestSmtp::start(TlsMode::Plain, gateway_script()).await;
    let app = TestApp::seeded().await;
    ready_for_guests(&app, &server).await;
    let until = relaydesk::web::format_time(app.now() + 24 * 3600, &Zone::utc());
    app.in_browser(|b| async move {
        b.client.set_window_size(360, 740).await?;
        b.goto(&format!("/g/{SLUG}")).await?;
        assert_eq!(b.text_of("h1").await?, "Guest access");
        fits(&b, "the guest page").await?;
        // A number outside the allowed calling codes is refused beside its field.
        b.fill("#name", "Ann Lee").await?;
        b.fill("#mobile", "+1 (555) 010-9999").await?;
        b.click_and_load(SUBMIT).await?;
        assert_eq!(
            b.text_of("#error-mobile").await?,
            "Passcodes cannot be sent by SMS to numbers with this calling code."
        );
        fits(&b, "the guest page with a message").await?;
        b.fill("#mobile", "+44 (7700) 900-123").await?;
        b.click_and_load(SUBMIT).await?;
        assert_eq!(b.current_path().await?, format!("/g/{SLUG}/login"));
        assert_eq!(b.flash().await?, MSG_GUEST_SENT);
        fits(&b, "the guest sign-in page").await?;

        let mail = server.wait_for(1, 10).await.remove(0);
        assert_eq!(mail.to, ["+447700900123@gw.example"]);
        let passcode = passcode_in(&mail);
        assert_eq!(passcode.len(), 6, "{}", mail.text_body());

        let wrong = if passcode == "000000" { "111111" } else { "000000" };
        b.fill("#login", "+44 7700 900123").await?;
        b.fill("#passcode", wrong).await?;
        b.click_and_load(SUBMIT).await?;
        assert_eq!(b.text_of("#error-passcode").await?, MSG_GUEST_BAD_PASSCODE);
        assert_eq!(b.value_of("#login").await?, "+44 7700 900123", "the number is kept");
        b.fill("#passcode", &passcode).await?;
        b.click_and_load(SUBMIT).await?;
        assert_eq!(b.current_path().await?, format!("/g/{SLUG}/connected"));
        assert_eq!(b.flash().await?, format!("You are connected until {until}."));
        fits(&b, "the connected page").await?;
        Ok(())
    })
    .await;
}

pub async fn a_burst_of_registrations_stops_at_the_limit() {
    let server = TestSmtp::start(TlsMode::Plain, gateway_script()).await;
    let app = TestApp::seeded().await;
    ready_for_guests(&app, &server).await;
    app.in_browser(|b| async move {
        b.client.set_window_size(360, 740).await?;
        for _ in 0..3 {
            b.goto(&format!("/g/{SLUG}")).await?;
            b.fill("#name", "Ann").await?;
            b.fill("#mobile", "+353 85 123 4567").await?;
            b.click_and_load(SUBMIT).await?;
            assert_eq!(b.flash().await?, MSG_GUEST_SENT);
        }
        b.goto(&format!("/g/{SLUG}")).await?;
        b.fill("#name", "Ann").await?;
        b.fill("#mobile", "+353 85 123 4567").await?;
        b.click_and_load(SUBMIT).await?;
        assert_eq!(b.text_of("#notice").await?, MSG_GUEST_TOO_MANY);
        fits(&b, "the refusal").await?;
        Ok(())
    })
    .await;
    server.wait_for(3, 10).await;
    let pending = || async {
        sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM outbox WHERE status = 'pending'")
            .fetch_one(&app.db)
            .await
            .unwrap()
    };
    crate::wait::wait_until("no passcode pending", crate::wait::WAIT, || async { pending().await == 0 }).await;
    assert_eq!(server.messages().len(), 3, "nothing sent past the limit");
}

pub async fn an_admin_on_a_phone_sees_the_guest_list_resends_and_revokes() {
    let server = TestSmtp::start(TlsMode::Plain, gateway_script()).await;
    let app = TestApp::seeded().await;
    ready_for_guests(&app, &server).await;
    app.in_two_browsers(|admin, guest| async move {
        guest.goto(&format!("/g/{SLUG}")).await?;
        guest.fill("#name", "Ann Lee").await?;
        guest.fill("#mobile", "+44 7700 900123").await?;
        guest.click_and_load(SUBMIT).await?;
        let first = passcode_in(&server.wait_for(1, 10).await[0]);

        admin.client.set_window_size(360, 740).await?;
        admin.sign_in_admin().await?;
        admin.goto(&format!("/t/{SLUG}/guests")).await?;
        assert_eq!(admin.text_of("#guests td[data-label=Name]").await?, "Ann Lee");
        fits(&admin, "the guest list").await?;
        admin.click_and_load("#guests button[aria-label='Resend a passcode to Ann Lee']").await?;
        assert_eq!(admin.flash().await?, "Ann Lee was sent a new passcode (+447700900123).");
        let second = passcode_in(&server.wait_for(2, 10).await[1]);
        admin.click_and_load("#guests button[aria-label='Revoke Ann Lee']").await?;
        assert_eq!(admin.flash().await?, "Ann Lee can no longer sign in.");
        assert!(admin.text_of("#guests td[data-connected]").await?.starts_with("Revoked "));
        fits(&admin, "the guest list after revoking").await?;
        // The SMS channels are cards on the phone too, nothing off-screen.
        admin.goto(&format!("/t/{SLUG}/sms")).await?;
        crate::look::cards(&admin, "table#channels").await?;
        fits(&admin, "the SMS channels").await?;

        for passcode in [first, second] {
            guest.goto(&format!("/g/{SLUG}/login")).await?;
            guest.fill("#login", "+447700900123").await?;
            guest.fill("#passcode", &passcode).await?;
            guest.click_and_load(SUBMIT).await?;
            assert_eq!(guest.text_of("#error-passcode").await?, MSG_GUEST_BAD_PASSCODE);
        }
        Ok(())
    })
    .await;
}
