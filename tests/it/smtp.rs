//! SMTP profiles over HTTP: every rule's message, secrets, the one default, duplicate,
//! delete, the email switch, roles and isolation.

use relaydesk::domain::account::Role;
use reqwest::StatusCode;

use crate::helpers::*;

/// A password that meets every documented rule (SPEC §2.2), unique enough to search for.
pub const PASSWORD: &str = "Zq7$Lp9!Wm";

/// A form as `(field, value)` pairs.
pub type FormFields = Vec<(&'static str, String)>;

/// A valid Generic profile form; override fields with `with`.
pub fn generic(name: &str) -> Vec<(&'static str, String)> {
    vec![
        ("name", name.to_owned()),
        ("kind", "generic".into()),
        ("from_address", "no-reply@acme.test".into()),
        ("from_name", "Acme Accounts".into()),
        ("reply_to", "help@acme.test".into()),
        ("signature", "Acme Ltd, Support team".into()),
        ("description", "Main office relay".into()),
        ("host", "smtp.acme.test".into()),
        ("port", "587".into()),
        ("security", "starttls".into()),
        ("tls_verify", "on".into()),
        ("ca_pem", String::new()),
        ("auth_required", "on".into()),
        ("username", "mailer@acme.test".into()),
        ("password", PASSWORD.into()),
    ]
}

/// A valid MS Graph API profile form.
pub fn graph(name: &str) -> Vec<(&'static str, String)> {
    vec![
        ("name", name.to_owned()),
        ("kind", "graph".into()),
        ("from_address", "no-reply@acme.test".into()),
        ("from_name", "Acme Accounts".into()),
        ("username", "sender@acme.test".into()),
        ("password", "graph-password-1".into()),
        ("graph_tenant_id", "acme.onmicrosoft.com".into()),
        ("graph_client_id", "0f8fad5b-d9cb-469f-a165-70867728950e".into()),
        ("graph_client_secret", "very~secret~value".into()),
    ]
}

pub fn with(mut form: Vec<(&'static str, String)>, field: &'static str, value: &str) -> Vec<(&'static str, String)> {
    form.retain(|(k, _)| *k != field);
    form.push((field, value.to_owned()));
    form
}

pub fn without(mut form: Vec<(&'static str, String)>, field: &str) -> Vec<(&'static str, String)> {
    form.retain(|(k, _)| *k != field);
    form
}

impl TestApp {
    pub async fn post_form(&self, path: &str, form: &[(&'static str, String)]) -> reqwest::Response {
        let fields: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
        self.post(path, &fields).await
    }

    /// Creates a profile through the form and returns its id.
    pub async fn create_profile(&self, form: &[(&'static str, String)]) -> i64 {
        let res = self.post_form("/t/acme/smtp", form).await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "{}", res.text().await.unwrap());
        let name = &form.iter().find(|(k, _)| *k == "name").unwrap().1;
        let (id,): (i64,) =
            sqlx::query_as("SELECT id FROM smtp_profiles WHERE name = ?").bind(name).fetch_one(&self.db).await.unwrap();
        id
    }

    pub async fn default_profile(&self) -> Option<String> {
        sqlx::query_as::<_, (String,)>("SELECT name FROM smtp_profiles WHERE is_default = 1")
            .fetch_optional(&self.db)
            .await
            .unwrap()
            .map(|(n,)| n)
    }

    pub async fn profile_count(&self) -> i64 {
        self.count("SELECT COUNT(*) FROM smtp_profiles").await
    }
}

async fn admin_app() -> TestApp {
    let app = spawn_app().await;
    app.sign_in_admin().await;
    app
}

pub fn shows_error(html: &str, field: &str, message: &str) -> bool {
    // As askama escapes (`&#38;`, `&#39;`, `&#34;`), or as older escapers did.
    let askama = message.replace('&', "&#38;").replace('\'', "&#39;").replace('"', "&#34;");
    let named = message.replace('&', "&amp;").replace('\'', "&#39;").replace('"', "&quot;");
    [askama, named, message.to_owned()].iter().any(|m| html.contains(&format!(r#"id="error-{field}">{m}</p>"#)))
}

#[tokio::test]
async fn creating_a_profile_stores_it_with_the_password_encrypted() {
    let app = admin_app().await;
    let res = app.post_form("/t/acme/smtp", &generic("Main_Office")).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), "/t/acme/smtp");
    let html = app.page("/t/acme/smtp").await;
    assert!(html.contains("Saved Main_Office. It is now the default profile."));

    type Row = (
        String,
        String,
        bool,
        String,
        String,
        Option<String>,
        Option<String>,
        String,
        i64,
        String,
        bool,
        bool,
        String,
        String,
    );
    let row: Row = sqlx::query_as(
        "SELECT name, kind, is_default, from_address, from_name, reply_to, signature, host, port, security,
                tls_verify, auth_required, username, password_sealed FROM smtp_profiles",
    )
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!(row.0, "Main_Office");
    assert_eq!(row.1, "generic");
    assert!(row.2, "the first profile is the default");
    assert_eq!((row.3.as_str(), row.4.as_str()), ("no-reply@acme.test", "Acme Accounts"));
    assert_eq!(row.5.as_deref(), Some("help@acme.test"));
    assert_eq!(row.6.as_deref(), Some("Acme Ltd, Support team"));
    assert_eq!((row.7.as_str(), row.8, row.9.as_str()), ("smtp.acme.test", 587, "starttls"));
    assert!(row.10 && row.11);
    assert_eq!(row.12, "mailer@acme.test");
    assert!(!row.13.contains(PASSWORD), "not stored in the clear");
    assert_eq!(app.state.secrets.open(&row.13).unwrap(), PASSWORD);
}

/// The `<input …>` tag whose id is `id`.
pub fn input_tag<'a>(html: &'a str, id: &str) -> &'a str {
    let start = html.find(&format!(r#"id="{id}""#)).expect("the input");
    let start = html[..start].rfind('<').unwrap();
    &html[start..start + html[start..].find('>').unwrap()]
}

#[tokio::test]
async fn a_long_password_reaches_the_server_uncut_and_gets_its_message() {
    let app = admin_app().await;
    // The browser must not cut what is typed: no maxlength on any secret input.
    let html = app.page("/t/acme/smtp/new").await;
    for id in ["password", "graph_client_secret"] {
        assert!(!input_tag(&html, id).contains("maxlength"), "{}", input_tag(&html, id));
    }
    // A 22-character password is refused by the rule, with its message, and nothing is stored.
    let res = app.post_form("/t/acme/smtp", &with(generic("Long"), "password", "Aa1!Bb2@Cc3#Dd4$Ee5%Ff")).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = res.text().await.unwrap();
    assert!(
        html.contains(
            r#"id="error-password">The SMTP account password does not meet the rules. It is longer than 20 characters.<"#
        ),
        "{html}"
    );
    let (count,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM smtp_profiles").fetch_one(&app.db).await.unwrap();
    assert_eq!(count, 0);
}

#[tokio::test]
async fn a_login_without_encryption_must_be_accepted_and_is_shown_on_the_list() {
    let app = admin_app().await;
    let plain = with(generic("Plain"), "security", "none");
    let res = app.post_form("/t/acme/smtp", &plain).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = res.text().await.unwrap();
    assert!(
        shows_error(
            &html,
            "plain_login",
            "With Security None the password is sent unencrypted. Choose SSL/TLS or STARTTLS, or tick the box to \
             accept sending it in the clear."
        ),
        "{html}"
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM smtp_profiles").await, 0);
    // Without a login there is no password to expose, so nothing to accept.
    app.create_profile(&without(without(with(generic("Relay"), "security", "none"), "auth_required"), "password"))
        .await;
    let id = app.create_profile(&with(plain, "plain_login", "on")).await;
    let list = app.page("/t/acme/smtp").await;
    let row = &list[list.find(&format!(r#"data-profile-id="{id}""#)).unwrap()..];
    assert!(row[..row.find("</tr>").unwrap()].contains("None: the password is sent unencrypted"), "{row}");
    let edit = app.page(&format!("/t/acme/smtp/{id}")).await;
    assert!(input_tag(&edit, "plain_login").contains("checked"), "the choice stays visible on edit");
}

#[tokio::test]
async fn a_graph_profile_stores_both_secrets_encrypted() {
    let app = admin_app().await;
    app.create_profile(&graph("Graph_Main")).await;
    let (kind, user, tenant, client, pw, secret): (String, String, String, String, String, String) = sqlx::query_as(
        "SELECT kind, username, graph_tenant_id, graph_client_id, password_sealed, graph_secret_sealed FROM smtp_profiles",
    )
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!((kind.as_str(), user.as_str()), ("graph", "sender@acme.test"));
    assert_eq!((tenant.as_str(), client.as_str()), ("acme.onmicrosoft.com", "0f8fad5b-d9cb-469f-a165-70867728950e"));
    assert_eq!(app.state.secrets.open(&pw).unwrap(), "graph-password-1");
    assert_eq!(app.state.secrets.open(&secret).unwrap(), "very~secret~value");
}

#[tokio::test]
async fn every_field_message_is_reachable_through_the_form_and_nothing_is_stored() {
    let app = admin_app().await;
    let long = |n: usize| "a".repeat(n);
    let cases: Vec<(FormFields, &str, &str)> = vec![
        (
            with(generic("x"), "name", "has space"),
            "name",
            "Please enter a name of up to 50 letters, digits or underscores.",
        ),
        (
            with(generic("x"), "name", &long(51)),
            "name",
            "Please enter a name of up to 50 letters, digits or underscores.",
        ),
        (with(generic("x"), "name", ""), "name", "Please enter a name of up to 50 letters, digits or underscores."),
        (with(generic("x"), "kind", "imap"), "kind", "Please choose a type."),
        (
            with(generic("x"), "from_address", "user@localhost"),
            "from_address",
            "Please enter a from address in email format.",
        ),
        (with(generic("x"), "from_name", ""), "from_name", "Please enter a sender name."),
        (
            with(generic("x"), "from_name", "Acme\r\nBcc: victim@example.com"),
            "from_name",
            "Please enter a sender name.",
        ),
        (
            with(generic("x"), "reply_to", "not an address"),
            "reply_to",
            "Please enter a reply-to address in email format.",
        ),
        (with(generic("x"), "signature", &long(251)), "signature", "Please enter a signature within 250 characters."),
        (
            with(generic("x"), "signature", "Regards\r\nBcc: victim@evil.test"),
            "signature",
            "Please enter a signature within 250 characters.",
        ),
        (
            with(generic("x"), "description", "two\nlines"),
            "description",
            "Please enter a description within 1000 characters.",
        ),
        (
            with(generic("x"), "reply_to", "help@acme.test\r\nBcc: victim@evil.test"),
            "reply_to",
            "Please enter a reply-to address in email format.",
        ),
        (
            with(generic("x"), "host", "smtp.acme.test\r\n"),
            "host",
            "Please enter a valid SMTP host name or IP address.",
        ),
        (
            with(generic("x"), "description", &long(1001)),
            "description",
            "Please enter a description within 1000 characters.",
        ),
        (with(generic("x"), "host", &long(101)), "host", "Please enter an SMTP host within 100 characters."),
        (with(generic("x"), "host", ""), "host", "Please enter an SMTP host within 100 characters."),
        (
            with(generic("x"), "host", "https://smtp.acme.test"),
            "host",
            "Please enter a valid SMTP host name or IP address.",
        ),
        (
            with(generic("x"), "host", "smtp.acme.test:587"),
            "host",
            "Please enter a valid SMTP host name or IP address.",
        ),
        (with(generic("x"), "port", "0"), "port", "Please enter an SMTP port between 1 and 49151."),
        (with(generic("x"), "port", "49152"), "port", "Please enter an SMTP port between 1 and 49151."),
        (with(generic("x"), "port", "25a"), "port", "Please enter an SMTP port between 1 and 49151."),
        (with(generic("x"), "security", "tls"), "security", "Please choose a security mode."),
        (with(generic("x"), "ca_pem", "not a certificate"), "ca_pem", "Please paste a PEM certificate."),
        (with(generic("x"), "username", "mailer"), "username", "Please enter an SMTP account address in email format."),
        (
            with(generic("x"), "password", "short"),
            "password",
            "The SMTP account password does not meet the rules. It is shorter than 10 characters.",
        ),
        (
            with(generic("x"), "password", "Abcd$12345"),
            "password",
            "The SMTP account password does not meet the rules. It has three keyboard or alphabet neighbours in a \
             row, such as abc, 321 or qwe.",
        ),
        (
            with(generic("x"), "password", "Zq7$Lp9!W m"),
            "password",
            "The SMTP account password does not meet the rules. It may only use A-Z, a-z, 0-9 and $ ! @ % * # ? & \
             (no spaces or other symbols).",
        ),
        (
            with(generic("x"), "password", "zq7$lp9!wm"),
            "password",
            "The SMTP account password does not meet the rules. It needs at least one uppercase letter (A-Z).",
        ),
        (
            with(generic("x"), "password", "Zq7$Lp9!Wmmm"),
            "password",
            "The SMTP account password does not meet the rules. It has the same character three times in a row.",
        ),
        (
            with(generic("x"), "password", ""),
            "password",
            "The SMTP account password does not meet the rules. Please enter one of 10 to 20 characters.",
        ),
        (with(graph("x"), "username", "sender"), "username", "Please enter a user name in email format."),
        (with(graph("x"), "password", ""), "password", "Please enter a password."),
        (
            with(graph("x"), "graph_tenant_id", "not a tenant!"),
            "graph_tenant_id",
            "Please enter a tenant ID (a GUID or a domain name).",
        ),
        (with(graph("x"), "graph_client_id", "1234"), "graph_client_id", "Please enter a client ID in GUID format."),
        (with(graph("x"), "graph_client_secret", ""), "graph_client_secret", "Please enter a client secret."),
    ];
    for (form, field, message) in cases {
        let res = app.post_form("/t/acme/smtp", &form).await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{field}: {message}");
        let html = res.text().await.unwrap();
        assert!(shows_error(&html, field, message), "{field}: {message}\n{html}");
        assert!(html.contains(&format!("aria-describedby=\"error-{field}")), "{field} input points at its message");
        assert_eq!(app.profile_count().await, 0, "{field}: nothing stored");
    }
}

#[tokio::test]
async fn provider_policy_messages_and_app_passwords() {
    let app = admin_app().await;
    let res = app.post("/t/acme/settings/credential-policy", &[("policy", "provider")]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let res = app.post_form("/t/acme/smtp", &with(generic("x"), "username", &"u".repeat(101))).await;
    assert!(shows_error(
        &res.text().await.unwrap(),
        "username",
        "Please enter an SMTP account name within 100 characters."
    ));
    let res = app.post_form("/t/acme/smtp", &with(generic("x"), "password", "")).await;
    assert!(shows_error(&res.text().await.unwrap(), "password", "Please enter the SMTP account password."));
    // A 16-letter Gmail app password and a plain account name are fine under this policy.
    let form = with(with(generic("Gmail"), "password", "abcdefghijklmnop"), "username", "apikey");
    app.create_profile(&form).await;

    let res = app.post("/t/acme/settings/credential-policy", &[("policy", "anything")]).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.text().await.unwrap().contains("Please choose a credential policy."));
}

#[tokio::test]
async fn a_failed_submit_keeps_the_entries_but_never_the_password() {
    let app = admin_app().await;
    let form = with(with(generic("Kept_Name"), "port", "0"), "from_name", "Kept Sender");
    let res = app.post_form("/t/acme/smtp", &form).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = res.text().await.unwrap();
    assert!(html.contains(r#"value="Kept_Name""#));
    assert!(html.contains(r#"value="Kept Sender""#));
    assert!(html.contains(r#"value="smtp.acme.test""#));
    assert!(!html.contains(PASSWORD), "the password is not sent back");
    assert!(html.contains("Please correct the following"), "a summary at the top");
    assert!(html.contains(r##"<a href="#port">"##), "the summary links to the field");
}

#[tokio::test]
async fn a_duplicate_name_is_refused_case_insensitively() {
    let app = admin_app().await;
    app.create_profile(&generic("Main_Office")).await;
    let res = app.post_form("/t/acme/smtp", &generic("main_office")).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(shows_error(&res.text().await.unwrap(), "name", "An SMTP profile with this name already exists."));
    assert_eq!(app.profile_count().await, 1);
}

#[tokio::test]
async fn the_first_profile_is_default_and_ticking_moves_the_default() {
    let app = admin_app().await;
    app.create_profile(&generic("First")).await;
    app.create_profile(&generic("Second")).await;
    assert_eq!(app.default_profile().await.as_deref(), Some("First"));
    app.create_profile(&with(generic("Third"), "is_default", "on")).await;
    assert_eq!(app.default_profile().await.as_deref(), Some("Third"));
    assert_eq!(app.count("SELECT COUNT(*) FROM smtp_profiles WHERE is_default = 1").await, 1);

    let html = app.page("/t/acme/smtp").await;
    let third = html.find("data-default").unwrap();
    assert!(html[..third].contains("data-profile-id"), "the default row is marked");
    assert_eq!(html.matches("data-default").count(), 1);
}

#[tokio::test]
async fn unticking_is_default_on_edit_does_not_remove_the_default() {
    let app = admin_app().await;
    let id = app.create_profile(&generic("Only")).await;
    let res = app.post_form(&format!("/t/acme/smtp/{id}"), &without(generic("Only"), "is_default")).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.default_profile().await.as_deref(), Some("Only"));
}

#[tokio::test]
async fn the_database_itself_refuses_a_second_default() {
    let app = admin_app().await;
    app.create_profile(&generic("A")).await;
    app.create_profile(&generic("B")).await;
    let err = sqlx::query("UPDATE smtp_profiles SET is_default = 1").execute(&app.db).await.unwrap_err();
    assert!(relaydesk::store::is_unique_violation(&err), "{err}");
}

#[tokio::test]
async fn fifty_concurrent_make_default_requests_leave_exactly_one_default() {
    let app = admin_app().await;
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(app.create_profile(&generic(&format!("P{i}"))).await);
    }
    let token = app.csrf().await;
    let requests = (0..50).map(|i| {
        let url = app.url(&format!("/t/acme/smtp/{}/default", ids[i % ids.len()]));
        let req = app.client.post(url).form(&[("csrf_token", token.as_str())]);
        async move { req.send().await.unwrap().status() }
    });
    let statuses = futures_join_all(requests).await;
    assert!(statuses.iter().all(|s| *s == StatusCode::SEE_OTHER), "{statuses:?}");
    assert_eq!(app.count("SELECT COUNT(*) FROM smtp_profiles WHERE is_default = 1").await, 1);
    assert_eq!(app.count("SELECT COUNT(*) FROM audit_log WHERE action = 'profile.default'").await, 50);
}

async fn futures_join_all<F: std::future::Future<Output = StatusCode> + Send + 'static>(
    futures: impl Iterator<Item = F>,
) -> Vec<StatusCode> {
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}

#[tokio::test]
async fn editing_with_a_blank_password_keeps_the_stored_one() {
    let app = admin_app().await;
    let id = app.create_profile(&generic("Main")).await;
    let (before,): (String,) =
        sqlx::query_as("SELECT password_sealed FROM smtp_profiles").fetch_one(&app.db).await.unwrap();

    let html = app.page(&format!("/t/acme/smtp/{id}")).await;
    assert!(html.contains(r#"placeholder="Not displayed for security reasons""#));
    assert!(!html.contains(PASSWORD) && !html.contains(&before));

    let res = app
        .post_form(&format!("/t/acme/smtp/{id}"), &with(with(generic("Main"), "password", ""), "from_name", "New Name"))
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let (after, from_name): (String, String) =
        sqlx::query_as("SELECT password_sealed, from_name FROM smtp_profiles").fetch_one(&app.db).await.unwrap();
    assert_eq!(after, before);
    assert_eq!(from_name, "New Name");
}

#[tokio::test]
async fn a_stored_password_is_not_kept_for_another_server() {
    let app = admin_app().await;
    let id = app.create_profile(&generic("Main")).await;
    let cleared = |what: &str| format!("The password was cleared because the {what} changed; enter it again.");
    let downgrades = [
        (with(generic("Main"), "host", "smtp.elsewhere.test"), cleared("host")),
        (with(generic("Main"), "port", "465"), cleared("port")),
        (with(generic("Main"), "username", "other@acme.test"), cleared("SMTP account")),
        (with(with(generic("Main"), "security", "none"), "plain_login", "on"), cleared("security mode")),
        (without(generic("Main"), "tls_verify"), cleared("certificate settings")),
        (
            with(generic("Main"), "ca_pem", &crate::smtp_server::certificates(&["localhost"]).0),
            cleared("certificate settings"),
        ),
    ];
    for (form, message) in downgrades {
        let res = app.post_form(&format!("/t/acme/smtp/{id}"), &with(form.clone(), "password", "")).await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{form:?}");
        let html = res.text().await.unwrap();
        assert!(shows_error(&html, "password", &message), "{form:?}");
    }
    let (host,): (String,) = sqlx::query_as("SELECT host FROM smtp_profiles").fetch_one(&app.db).await.unwrap();
    assert_eq!(host, "smtp.acme.test", "nothing changed");
    let form = with(with(generic("Main"), "password", "Nw4$Tq8!Rz"), "host", "smtp.elsewhere.test");
    assert_eq!(app.post_form(&format!("/t/acme/smtp/{id}"), &form).await.status(), StatusCode::SEE_OTHER);
    let (sealed,): (String,) =
        sqlx::query_as("SELECT password_sealed FROM smtp_profiles").fetch_one(&app.db).await.unwrap();
    assert_eq!(app.state.secrets.open(&sealed).unwrap(), "Nw4$Tq8!Rz");

    // Graph: changing the client id asks for the client secret again.
    let gid = app.create_profile(&graph("Graph_Main")).await;
    let form = with(
        with(with(graph("Graph_Main"), "password", ""), "graph_client_secret", ""),
        "graph_client_id",
        "1f8fad5b-d9cb-469f-a165-70867728950e",
    );
    let res = app.post_form(&format!("/t/acme/smtp/{gid}"), &form).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = res.text().await.unwrap();
    assert!(shows_error(
        &html,
        "graph_client_secret",
        "The client secret was cleared because the client ID changed; enter it again."
    ));
    assert!(shows_error(&html, "password", "The password was cleared because the client ID changed; enter it again."));
}

#[tokio::test]
async fn turning_auth_off_forgets_the_password() {
    let app = admin_app().await;
    let id = app.create_profile(&generic("Relay")).await;
    let form = without(with(generic("Relay"), "password", ""), "auth_required");
    assert_eq!(app.post_form(&format!("/t/acme/smtp/{id}"), &form).await.status(), StatusCode::SEE_OTHER);
    let (auth, pw): (bool, Option<String>) =
        sqlx::query_as("SELECT auth_required, password_sealed FROM smtp_profiles").fetch_one(&app.db).await.unwrap();
    assert!(!auth);
    assert_eq!(pw, None);
}

#[tokio::test]
async fn no_page_ever_shows_a_secret() {
    let app = admin_app().await;
    let id = app.create_profile(&generic("Main")).await;
    let gid = app.create_profile(&graph("Graph_Main")).await;
    let sealed: Vec<(Option<String>, Option<String>)> =
        sqlx::query_as("SELECT password_sealed, graph_secret_sealed FROM smtp_profiles")
            .fetch_all(&app.db)
            .await
            .unwrap();
    let mut secrets = vec![PASSWORD.to_owned(), "graph-password-1".into(), "very~secret~value".into()];
    for (a, b) in sealed {
        secrets.extend(a);
        secrets.extend(b);
    }
    // A failed edit re-renders the form: still nothing.
    let res = app.post_form(&format!("/t/acme/smtp/{id}"), &with(generic("Main"), "port", "0")).await;
    let mut pages = vec![res.text().await.unwrap()];
    for path in [
        "/t/acme/".to_owned(),
        "/t/acme/smtp".into(),
        format!("/t/acme/smtp/{id}"),
        format!("/t/acme/smtp/{gid}"),
        format!("/t/acme/smtp/{id}/duplicate"),
        format!("/t/acme/smtp/{id}/delete"),
        "/t/acme/audit".into(),
        "/t/acme/settings".into(),
    ] {
        pages.push(app.page(&path).await);
    }
    for html in &pages {
        for secret in &secrets {
            assert!(!html.contains(secret.as_str()), "a page shows {secret}");
        }
    }
}

#[tokio::test]
async fn duplicate_requires_the_password_and_copies_everything_else() {
    let app = admin_app().await;
    let id = app.create_profile(&generic("Main_Office")).await;
    let html = app.page(&format!("/t/acme/smtp/{id}/duplicate")).await;
    assert!(html.contains("Main_Office_copied"));
    assert!(html.contains(r#"name="password""#));

    let rules = "The SMTP account password does not meet the rules.";
    for (bad, reason) in [
        ("", "Please enter one of 10 to 20 characters."),
        ("weak", "It is shorter than 10 characters."),
        ("Abc$123456", "It has three keyboard or alphabet neighbours in a row, such as abc, 321 or qwe."),
    ] {
        let res = app.post(&format!("/t/acme/smtp/{id}/duplicate"), &[("password", bad)]).await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{bad:?}");
        assert!(shows_error(&res.text().await.unwrap(), "password", &format!("{rules} {reason}")), "{bad:?}");
    }
    assert_eq!(app.profile_count().await, 1);

    let res = app.post(&format!("/t/acme/smtp/{id}/duplicate"), &[("password", "Nw4$Tq8!Rz")]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(app.page("/t/acme/smtp").await.contains("Copied as Main_Office_copied."));

    // Every setting but the name, the password and the default mark is the same.
    let settings = |name: &str| {
        let db = app.db.clone();
        let name = name.to_owned();
        async move {
            let row: (String,) = sqlx::query_as(
                "SELECT json_array(kind, from_address, from_name, reply_to, signature, description, host, port,
                        security, tls_verify, ca_pem, auth_required, username) FROM smtp_profiles WHERE name = ?",
            )
            .bind(name)
            .fetch_one(&db)
            .await
            .unwrap();
            row.0
        }
    };
    assert_eq!(settings("Main_Office").await, settings("Main_Office_copied").await);
    let (is_default, sealed): (bool, String) =
        sqlx::query_as("SELECT is_default, password_sealed FROM smtp_profiles WHERE name = 'Main_Office_copied'")
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert!(!is_default, "the default mark is not copied");
    assert_eq!(app.state.secrets.open(&sealed).unwrap(), "Nw4$Tq8!Rz", "the typed password, not the source's");

    let res = app.post(&format!("/t/acme/smtp/{id}/duplicate"), &[("password", "Nw4$Tq8!Rz")]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(app.page("/t/acme/smtp").await.contains("Copied as Main_Office_copied_2."));
}

#[tokio::test]
async fn duplicate_names_are_cut_to_fit_fifty_characters() {
    let app = admin_app().await;
    let long = "N".repeat(50);
    let id = app.create_profile(&generic(&long)).await;
    let res = app.post(&format!("/t/acme/smtp/{id}/duplicate"), &[("password", PASSWORD)]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let expected = format!("{}_copied", "N".repeat(43));
    assert_eq!(expected.len(), 50);
    assert_eq!(app.count(&format!("SELECT COUNT(*) FROM smtp_profiles WHERE name = '{expected}'")).await, 1);
}

#[tokio::test]
async fn a_profile_without_a_password_duplicates_without_asking() {
    let app = admin_app().await;
    let id = app.create_profile(&without(without(generic("Relay"), "auth_required"), "password")).await;
    let html = app.page(&format!("/t/acme/smtp/{id}/duplicate")).await;
    assert!(!html.contains(r#"name="password""#));
    let res = app.post(&format!("/t/acme/smtp/{id}/duplicate"), &[]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.profile_count().await, 2);
}

#[tokio::test]
async fn a_graph_profile_duplicate_asks_for_the_password_and_the_client_secret() {
    let app = admin_app().await;
    let id = app.create_profile(&graph("Graph_Main")).await;
    let form = app.page(&format!("/t/acme/smtp/{id}/duplicate")).await;
    assert!(form.contains(r#"name="password""#) && form.contains(r#"name="graph_client_secret""#));
    let res = app.post(&format!("/t/acme/smtp/{id}/duplicate"), &[("password", ""), ("graph_client_secret", "")]).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = res.text().await.unwrap();
    assert!(shows_error(&html, "password", "Please enter a password."));
    assert!(shows_error(&html, "graph_client_secret", "Please enter a client secret."));
    assert_eq!(app.profile_count().await, 1);
    let res = app
        .post(
            &format!("/t/acme/smtp/{id}/duplicate"),
            &[("password", "any graph password"), ("graph_client_secret", "a~new~secret")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let (password, secret): (String, String) = sqlx::query_as(
        "SELECT password_sealed, graph_secret_sealed FROM smtp_profiles WHERE name = 'Graph_Main_copied'",
    )
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!(app.state.secrets.open(&password).unwrap(), "any graph password");
    assert_eq!(app.state.secrets.open(&secret).unwrap(), "a~new~secret", "the typed secret, not the source's");
}

#[tokio::test]
async fn deleting_the_default_warns_and_can_choose_the_next_default() {
    let app = admin_app().await;
    let first = app.create_profile(&generic("First")).await;
    let second = app.create_profile(&generic("Second")).await;
    let html = app.page(&format!("/t/acme/smtp/{first}/delete")).await;
    assert!(html.contains("This is the default profile."));
    assert!(html.contains(&format!(r#"<option value="{second}">Second</option>"#)));

    let res = app.post(&format!("/t/acme/smtp/{first}/delete"), &[("new_default", &second.to_string())]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.default_profile().await.as_deref(), Some("Second"));
    assert_eq!(app.profile_count().await, 1);
    assert!(app.page("/t/acme/smtp").await.contains("Deleted First. Second is now the default profile."));
}

#[tokio::test]
async fn deleting_the_default_without_a_successor_leaves_none_and_pauses_email() {
    let app = admin_app().await;
    let id = app.create_profile(&generic("Only")).await;
    app.post("/t/acme/settings/email", &[("enabled", "on")]).await;
    let res = app.post(&format!("/t/acme/smtp/{id}/delete"), &[]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.profile_count().await, 0);
    let html = app.page("/t/acme/").await;
    assert!(html.contains("Email is paused:"), "{html}");
}

#[tokio::test]
async fn a_bad_new_default_deletes_nothing() {
    let app = admin_app().await;
    let first = app.create_profile(&generic("First")).await;
    app.create_profile(&generic("Second")).await;
    let other_tenant = app.add_tenant("globex", "Globex", "hank@globex.test", "hank's long password").await;
    let (foreign,): (i64,) = sqlx::query_as(
        "INSERT INTO smtp_profiles (tenant_id, name, kind, from_address, from_name, host, port, security, auth_required,
             created_at, updated_at)
         VALUES (?, 'Theirs', 'generic', 'a@b.io', 'B', 'smtp.b.io', 25, 'none', 0, 0, 0) RETURNING id",
    )
    .bind(other_tenant)
    .fetch_one(&app.db)
    .await
    .unwrap();
    for bad in [foreign.to_string(), first.to_string(), "abc".into(), "999999".into()] {
        let res = app.post(&format!("/t/acme/smtp/{first}/delete"), &[("new_default", &bad)]).await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
        assert!(res.text().await.unwrap().contains("Please choose one of the other profiles as the new default."));
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM smtp_profiles WHERE tenant_id = 1").await, 2);
    assert_eq!(app.default_profile().await.as_deref(), Some("First"));
}

#[tokio::test]
async fn email_can_be_turned_on_only_with_a_default_profile() {
    let app = admin_app().await;
    let html = app.page("/t/acme/").await;
    assert!(html.contains("Email is off."));
    let res = app.post("/t/acme/settings/email", &[("enabled", "on")]).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res
        .text()
        .await
        .unwrap()
        .contains("Save an SMTP profile and make it the default before turning email on."));
    assert_eq!(app.count("SELECT email_enabled FROM tenants WHERE slug = 'acme'").await, 0);

    app.create_profile(&generic("Main")).await;
    let res = app.post("/t/acme/settings/email", &[("enabled", "on")]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.count("SELECT email_enabled FROM tenants WHERE slug = 'acme'").await, 1);
    let html = app.page("/t/acme/").await;
    assert!(html.contains("Email is on."));
    assert!(html.contains("Main"));

    let res = app.post("/t/acme/settings/email", &[]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.count("SELECT email_enabled FROM tenants WHERE slug = 'acme'").await, 0);
    assert!(app.page("/t/acme/").await.contains("Email is off."));
}

#[tokio::test]
async fn organizers_read_the_list_without_buttons_and_users_get_403() {
    let app = admin_app().await;
    let id = app.create_profile(&generic("Main")).await;
    app.add_user("olga@acme.test", "olga's long password", Role::Organizer, false).await;
    app.add_user("ulf@acme.test", "ulf's long password", Role::User, false).await;

    let olga = app.share();
    olga.sign_in("olga@acme.test", "olga's long password").await;
    let html = olga.page("/t/acme/smtp").await;
    assert!(html.contains("Main") && html.contains("smtp.acme.test:587"));
    for action in ["/smtp/new", "/duplicate", "/default", "/delete", &format!("/smtp/{id}\"")] {
        assert!(!html.contains(action), "organizer sees no {action}");
    }
    for path in [
        "/t/acme/smtp/new".to_owned(),
        format!("/t/acme/smtp/{id}"),
        format!("/t/acme/smtp/{id}/delete"),
        "/t/acme/settings".into(),
    ] {
        assert_eq!(olga.get(&path).await.status(), StatusCode::FORBIDDEN, "{path}");
    }
    for path in [
        "/t/acme/smtp".to_owned(),
        format!("/t/acme/smtp/{id}/default"),
        format!("/t/acme/smtp/{id}/delete"),
        "/t/acme/settings/email".into(),
    ] {
        let res = olga.post_form(&path, &generic("Sneaky")).await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{path}");
    }
    assert_eq!(app.profile_count().await, 1);

    let ulf = app.share();
    ulf.sign_in("ulf@acme.test", "ulf's long password").await;
    assert_eq!(ulf.get("/t/acme/smtp").await.status(), StatusCode::FORBIDDEN);
    assert!(!ulf.page("/t/acme/").await.contains("/t/acme/smtp"), "no link that would fail");
}

#[tokio::test]
async fn another_tenants_profile_is_404_on_every_route() {
    let app = admin_app().await;
    let globex = app.add_tenant("globex", "Globex", "hank@globex.test", "hank's long password").await;
    let (theirs,): (i64,) = sqlx::query_as(
        "INSERT INTO smtp_profiles (tenant_id, name, kind, is_default, from_address, from_name, host, port, security, auth_required, created_at, updated_at)
         VALUES (?, 'Theirs', 'generic', 1, 'a@globex.test', 'Globex', 'smtp.globex.test', 25, 'none', 0, 0, 0) RETURNING id",
    )
    .bind(globex)
    .fetch_one(&app.db)
    .await
    .unwrap();
    for id in [theirs.to_string(), "nope".into(), "-1".into(), "99999999999999999999".into()] {
        for path in
            [format!("/t/acme/smtp/{id}"), format!("/t/acme/smtp/{id}/duplicate"), format!("/t/acme/smtp/{id}/delete")]
        {
            let res = app.get(&path).await;
            assert_eq!(res.status(), StatusCode::NOT_FOUND, "GET {path}");
            assert!(!res.text().await.unwrap().contains("Theirs"));
        }
        for path in [
            format!("/t/acme/smtp/{id}"),
            format!("/t/acme/smtp/{id}/duplicate"),
            format!("/t/acme/smtp/{id}/default"),
            format!("/t/acme/smtp/{id}/delete"),
        ] {
            let res = app.post_form(&path, &generic("Hijack")).await;
            assert_eq!(res.status(), StatusCode::NOT_FOUND, "POST {path}");
        }
    }
    let (name, default): (String, bool) = sqlx::query_as("SELECT name, is_default FROM smtp_profiles WHERE id = ?")
        .bind(theirs)
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!((name.as_str(), default), ("Theirs", true), "untouched");
    assert_eq!(app.count("SELECT COUNT(*) FROM smtp_profiles").await, 1);
}

#[tokio::test]
async fn every_profile_action_and_the_switch_are_audited() {
    let app = admin_app().await;
    let id = app.create_profile(&generic("Main")).await;
    app.post_form(&format!("/t/acme/smtp/{id}"), &with(generic("Main"), "from_name", "Renamed")).await;
    app.post(&format!("/t/acme/smtp/{id}/duplicate"), &[("password", PASSWORD)]).await;
    let (copy,): (i64,) =
        sqlx::query_as("SELECT id FROM smtp_profiles WHERE name = 'Main_copied'").fetch_one(&app.db).await.unwrap();
    app.post(&format!("/t/acme/smtp/{copy}/default"), &[]).await;
    app.post("/t/acme/settings/email", &[("enabled", "on")]).await;
    app.post("/t/acme/settings/email", &[]).await;
    app.post(&format!("/t/acme/smtp/{id}/delete"), &[]).await;
    let html = app.page("/t/acme/audit").await;
    for action in [
        "profile.created",
        "profile.updated",
        "profile.duplicated",
        "profile.default",
        "profile.deleted",
        "email.enabled",
        "email.disabled",
    ] {
        assert!(html.contains(action), "{action}");
    }
    let rows: Vec<(String,)> =
        sqlx::query_as("SELECT actor FROM audit_log WHERE action LIKE 'profile.%'").fetch_all(&app.db).await.unwrap();
    assert!(rows.iter().all(|(a,)| a == ADMIN_EMAIL));
}

#[tokio::test]
async fn the_list_searches_by_name_and_pages() {
    let app = admin_app().await;
    for i in 0..25 {
        app.create_profile(&generic(&format!("Site_{i:02}"))).await;
    }
    app.create_profile(&generic("Other_Relay")).await;
    let html = app.page("/t/acme/smtp").await;
    assert_eq!(html.matches("data-profile-id=").count(), 20);
    assert!(html.contains("Page 1 of 2 (26 profiles)"));
    let html = app.page("/t/acme/smtp?page=2").await;
    assert_eq!(html.matches("data-profile-id=").count(), 6);
    let html = app.page("/t/acme/smtp?q=relay").await;
    assert_eq!(html.matches("data-profile-id=").count(), 1);
    assert!(html.contains("Other_Relay"));
    let html = app.page("/t/acme/smtp?q=%25_%00&page=-5").await;
    assert_eq!(html.matches("data-profile-id=").count(), 0, "LIKE wildcards are literal");
    // Letters match in either case; `_` is a character like any other.
    let html = app.page("/t/acme/smtp?q=E_1").await;
    assert_eq!(html.matches("data-profile-id=").count(), 10, "Site_10 to Site_19");
    assert!(html.contains("Site_19") && !html.contains("Site_20"));
}
