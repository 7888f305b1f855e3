//! Host aliases over HTTP: their rules word for word, changing one, refusing to delete one
//! in use, and resolution at send time (the next message goes to the alias's new host).

use std::time::Duration;

use relaydesk::domain::alias::{MSG_ALIAS_NAME, MSG_ALIAS_VALUE};
use reqwest::StatusCode;

use crate::helpers::*;
use crate::smtp::{generic, with, without};
use crate::smtp_server::{Script, TestSmtp, TlsMode};

async fn admin_app() -> TestApp {
    let app = spawn_app_with(|c| c.send_timeout = Duration::from_secs(3)).await;
    app.sign_in_admin().await;
    app
}

impl TestApp {
    /// Saves an alias through the form; the response.
    pub async fn save_alias(&self, name: &str, value: &str) -> reqwest::Response {
        self.post("/t/acme/settings/aliases", &[("name", name), ("value", value)]).await
    }

    /// The flash shown on a page.
    pub async fn flash_on(&self, path: &str) -> String {
        let html = self.page(path).await;
        let start = html.find("id=\"flash\"").expect("a message is shown");
        let text = &html[start..];
        let text = &text[text.find('>').unwrap() + 1..text.find("</div>").unwrap()];
        text.replace("&#39;", "'")
            .replace("&quot;", "\"")
            .replace("&amp;", "&")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
    }
}

async fn aliases(app: &TestApp) -> Vec<(String, String)> {
    sqlx::query_as("SELECT name, value FROM host_aliases ORDER BY name").fetch_all(&app.db).await.unwrap()
}

#[tokio::test]
async fn bad_names_and_values_get_their_message_and_store_nothing() {
    let app = admin_app().await;
    assert!(app.page("/t/acme/settings/aliases").await.contains("No aliases yet."));
    for (name, value, field, message) in [
        ("relay", "smtp.acme.test", "name", MSG_ALIAS_NAME),
        ("$", "smtp.acme.test", "name", MSG_ALIAS_NAME),
        ("$re-lay", "smtp.acme.test", "name", MSG_ALIAS_NAME),
        (&format!("${}", "a".repeat(33)), "smtp.acme.test", "name", MSG_ALIAS_NAME),
        ("$relay", "", "value", MSG_ALIAS_VALUE),
        ("$relay", "::1", "value", MSG_ALIAS_VALUE),
        ("$relay", "$other", "value", MSG_ALIAS_VALUE),
        ("$relay", "smtp.acme.test:25", "value", MSG_ALIAS_VALUE),
        ("$relay", "smtp.acme.test\r\nX: y", "value", MSG_ALIAS_VALUE),
    ] {
        let res = app.save_alias(name, value).await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{name:?} {value:?}");
        let html = res.text().await.unwrap();
        assert!(html.contains(&format!(r#"<p class="error" id="error-{field}">{message}</p>"#)), "{name:?} {value:?}");
        assert!(html.contains(&format!(r#"aria-describedby="error-{field} hint-{field}""#)));
    }
    assert!(aliases(&app).await.is_empty());
}

#[tokio::test]
async fn an_alias_is_added_changed_and_deleted_and_each_change_is_audited() {
    let app = admin_app().await;
    let res = app.save_alias(" $relay ", "smtp.one.test").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), "/t/acme/settings/aliases");
    assert_eq!(app.flash_on("/t/acme/settings/aliases").await, "Alias $relay added: it stands for smtp.one.test.");
    // The same name in another case changes it.
    assert_eq!(app.save_alias("$RELAY", "192.0.2.7").await.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        app.flash_on("/t/acme/settings/aliases").await,
        "$RELAY now stands for 192.0.2.7. The next message through it goes there."
    );
    assert_eq!(aliases(&app).await, [("$relay".to_owned(), "192.0.2.7".to_owned())]);
    let page = app.page("/t/acme/settings/aliases").await;
    assert!(page.contains(r#"<tr data-alias="$relay">"#) && page.contains("0 profiles or channels"));

    let res = app.post("/t/acme/settings/aliases/$relay/delete", &[]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.flash_on("/t/acme/settings/aliases").await, "Alias $relay deleted.");
    assert!(aliases(&app).await.is_empty());
    assert_eq!(app.post("/t/acme/settings/aliases/$relay/delete", &[]).await.status(), StatusCode::NOT_FOUND);

    let audit: Vec<(String, String)> =
        sqlx::query_as("SELECT action, detail FROM audit_log WHERE action LIKE 'alias.%' ORDER BY id")
            .fetch_all(&app.db)
            .await
            .unwrap();
    assert_eq!(
        audit,
        [
            ("alias.saved".to_owned(), "$relay: smtp.one.test".to_owned()),
            ("alias.saved".to_owned(), "$RELAY: smtp.one.test -> 192.0.2.7".to_owned()),
            ("alias.deleted".to_owned(), "$relay: 192.0.2.7".to_owned()),
        ]
    );
}

#[tokio::test]
async fn an_alias_in_use_cannot_be_deleted() {
    let app = admin_app().await;
    assert_eq!(app.save_alias("$relay", "smtp.acme.test").await.status(), StatusCode::SEE_OTHER);
    app.create_profile(&with(generic("Office"), "host", "$relay")).await;
    let res = app.post("/t/acme/settings/aliases/$relay/delete", &[]).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = res.text().await.unwrap();
    assert!(html.contains(r#"id="error-delete" role="alert">This alias is used by 1 profiles or channels.</p>"#));
    // An SMS channel counts too.
    let res = app.post_form("/t/acme/sms", &with(crate::sms::channel("Gw", "sms_user"), "host", "$Relay")).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let html = app.post("/t/acme/settings/aliases/$relay/delete", &[]).await.text().await.unwrap();
    assert!(html.contains("This alias is used by 2 profiles or channels."));
    assert_eq!(aliases(&app).await.len(), 1);
}

#[tokio::test]
async fn a_profile_on_an_alias_sends_to_the_host_the_alias_names_at_send_time() {
    let server = TestSmtp::start(TlsMode::Plain, Script::default()).await;
    let app = admin_app().await;
    assert_eq!(app.save_alias("$relay", "127.0.0.1").await.status(), StatusCode::SEE_OTHER);
    let form = with(with(generic("Aliased"), "host", "$relay"), "port", &server.port.to_string());
    let form = without(without(with(form, "security", "none"), "auth_required"), "password");
    let id = app.create_profile(&form).await;

    let send = |to: &'static str| {
        let app = &app;
        async move {
            let res = app.post(&format!("/t/acme/smtp/{id}/test"), &[("to", to)]).await;
            assert_eq!(res.status(), StatusCode::SEE_OTHER);
            app.flash_on("/t/acme/smtp").await
        }
    };
    assert_eq!(send("one@example.test").await, "Test email sent to one@example.test.");
    assert_eq!(server.wait_for(1, 5).await[0].to, ["one@example.test"]);

    // The alias now names a host that does not exist: the next message goes there.
    assert_eq!(app.save_alias("$relay", "no-such-host.invalid").await.status(), StatusCode::SEE_OTHER);
    let shown = send("two@example.test").await;
    assert!(shown.starts_with("The test email was not sent."), "{shown}");
    assert!(shown.contains("no-such-host.invalid"), "{shown}");

    // Without the alias the profile cannot send, and says why.
    sqlx::query("DELETE FROM host_aliases").execute(&app.db).await.unwrap();
    assert_eq!(
        send("three@example.test").await,
        "The test email was not sent. There is no alias named $relay. Add it under Settings, Host aliases, or change \
         the host."
    );

    // Back to the server: it arrives.
    assert_eq!(app.save_alias("$relay", "localhost").await.status(), StatusCode::SEE_OTHER);
    assert_eq!(send("four@example.test").await, "Test email sent to four@example.test.");
    let got = server.wait_for(2, 5).await;
    assert_eq!(got.len(), 2);
    assert_eq!(got[1].to, ["four@example.test"]);
}

#[tokio::test]
async fn the_outbox_follows_a_changed_alias_to_its_new_host() {
    let first = TestSmtp::start(TlsMode::Plain, Script::default()).await;
    let app = admin_app().await;
    assert_eq!(app.save_alias("$relay", "127.0.0.1").await.status(), StatusCode::SEE_OTHER);
    let form = with(with(generic("Aliased"), "host", "$relay"), "port", &first.port.to_string());
    let form = without(without(with(with(form, "security", "none"), "is_default", "on"), "auth_required"), "password");
    app.create_profile(&form).await;
    assert_eq!(app.post("/t/acme/settings/email", &[("enabled", "on")]).await.status(), StatusCode::SEE_OTHER);

    let invite = |email: &'static str| {
        let app = &app;
        async move {
            let res = app.post("/t/acme/invitations", &[("email", email), ("role", "user")]).await;
            assert_eq!(res.status(), StatusCode::SEE_OTHER);
        }
    };
    invite("one@example.test").await;
    assert_eq!(first.wait_for(1, 5).await[0].to, ["one@example.test"]);

    // The alias now names a host that does not exist: the next invitation is not sent
    // over the connection kept open to the old host.
    assert_eq!(app.save_alias("$relay", "no-such-host.invalid").await.status(), StatusCode::SEE_OTHER);
    invite("two@example.test").await;
    let error = wait_for_some("the second invitation to fail", WAIT, || async {
        sqlx::query_scalar::<_, Option<String>>("SELECT last_error FROM outbox WHERE recipient = 'two@example.test'")
            .fetch_one(&app.db)
            .await
            .unwrap()
    })
    .await;
    assert!(error.contains("no-such-host.invalid"), "{error}");
    assert_eq!(first.messages().len(), 1);
}

/// A profile's `$alias` host must name one of the organization's aliases, as an SMS
/// channel's must: the form says what to do and nothing is saved.
#[tokio::test]
async fn a_profile_on_an_alias_the_organization_does_not_have_is_refused() {
    let app = admin_app().await;
    let form = without(
        without(with(with(generic("Aliased"), "host", "$relay"), "security", "none"), "auth_required"),
        "password",
    );
    let res = app.post_form("/t/acme/smtp", &form).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = res.text().await.unwrap();
    assert!(html.contains(
        r#"<p class="error" id="error-host">There is no alias with this name. Add it under Settings, Host aliases, or change the host.</p>"#
    ));
    assert_eq!(app.count("SELECT COUNT(*) FROM smtp_profiles").await, 0);

    // Once the alias exists (in any case), the same form saves.
    assert_eq!(app.save_alias("$Relay", "127.0.0.1").await.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.post_form("/t/acme/smtp", &form).await.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.count("SELECT COUNT(*) FROM smtp_profiles WHERE host = '$relay'").await, 1);
}
