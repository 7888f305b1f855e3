//! The egress policy against a tenant scanning the operator's network (SSRF): loopback
//! ports this test owns stand for the operator's internal services (an SMTP relay, a
//! silent socket, an SSH or HTTP banner), and names are resolved for real (`localhost`).
//! Nothing here contacts an address outside 127.0.0.0/8 or ::1: `0.0.0.0` reaches the
//! test's own loopback listener on Linux, which is why it must be refused.
//!
//! `acme` (seeded) is allowed private networks, as the operator of a console whose relay
//! runs beside it would allow it; `beta` is an organization the operator made and left as
//! made: refused.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use relaydesk::domain::account::Role;
use relaydesk::mail::egress::EgressPolicy;
use reqwest::StatusCode;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;

use crate::helpers::*;
use crate::smtp::{generic, shows_error, with, without, FormFields};
use crate::smtp_server::{Script, TestSmtp, TlsMode};

const BETA_EMAIL: &str = "bo@beta.test";
const BETA_PASSWORD: &str = "bo's long password";
const OPERATOR_EMAIL: &str = "olivia@acme.test";
const OPERATOR_PASSWORD: &str = "olivia's long password";

/// What a refused destination says, after the test email's own words.
fn refused(reason: &str) -> String {
    format!(
        "The test email was not sent. This SMTP host is not allowed for this organization ({reason}). Ask the \
         operator of this console."
    )
}

/// A profile without encryption or login, for `host:port`.
fn plain(name: &str, host: &str, port: u16) -> FormFields {
    let form = with(with(with(generic(name), "host", host), "port", &port.to_string()), "security", "none");
    without(without(without(form, "auth_required"), "username"), "password")
}

/// A loopback listener standing for an internal service: counts the connections it
/// accepts, writes `banner` (if any) to each and keeps it open.
struct Service {
    port: u16,
    accepted: Arc<AtomicUsize>,
}

impl Service {
    async fn start(banner: &'static [u8]) -> Service {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let accepted = Arc::new(AtomicUsize::new(0));
        let count = accepted.clone();
        tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((mut socket, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                let _ = socket.write_all(banner).await;
                held.push(socket);
            }
        });
        Service { port, accepted }
    }

    /// Connections accepted, after a moment for the accept loop to count one the request
    /// made just before answering.
    async fn accepted(&self) -> usize {
        tokio::time::sleep(Duration::from_millis(200)).await;
        self.accepted.load(Ordering::SeqCst)
    }
}

/// The app (acme's admin signed in, short send timeout), with `beta` and its admin signed
/// in on a client of their own.
async fn two_tenants(adjust: impl FnOnce(&mut relaydesk::Config)) -> (TestApp, TestApp) {
    let app = spawn_app_with(|c| {
        c.send_timeout = Duration::from_secs(3);
        adjust(c);
    })
    .await;
    app.sign_in_admin().await;
    crate::seed::tenant_without_private_networks(&app.db, app.now(), "beta", "Beta Inc", BETA_EMAIL, BETA_PASSWORD)
        .await;
    let beta = app.share();
    assert_eq!(beta.sign_in_to("beta", BETA_EMAIL, BETA_PASSWORD).await.status(), StatusCode::SEE_OTHER);
    (app, beta)
}

/// Creates a profile of `slug` through the form; its id.
async fn create(client: &TestApp, slug: &str, form: &FormFields) -> i64 {
    let res = client.post_form(&format!("/t/{slug}/smtp"), form).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "{}", res.text().await.unwrap());
    let name = &form.iter().find(|(k, _)| *k == "name").unwrap().1;
    sqlx::query_scalar("SELECT id FROM smtp_profiles WHERE name = ?").bind(name).fetch_one(&client.db).await.unwrap()
}

/// The flash on a page.
fn flash_in(html: &str) -> String {
    let start = html.find("class=\"flash").expect("a result is shown");
    let text = &html[start..];
    let text = &text[text.find('>').unwrap() + 1..];
    let text = &text[..text.find("</div>").unwrap()];
    text.replace("&#39;", "'").replace("&#34;", "\"").replace("&quot;", "\"").replace("&amp;", "&").trim().to_owned()
}

/// Sends a saved profile's test email (or runs its connection check); the flash shown.
async fn try_saved(client: &TestApp, slug: &str, id: i64, check: bool) -> String {
    let fields: &[(&str, &str)] = if check { &[("check", "1")] } else { &[("to", "bo@example.test")] };
    let res = client.post(&format!("/t/{slug}/smtp/{id}/test"), fields).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    flash_in(&client.page(&format!("/t/{slug}/smtp")).await)
}

/// Tries the edit form's unsaved values (`email` or `check`); the flash on the form.
async fn try_unsaved(client: &TestApp, slug: &str, id: i64, form: &FormFields, what: &str) -> String {
    let mut form = form.clone();
    form.push(("to", "bo@example.test".into()));
    form.push(("unsaved", what.into()));
    let res = client.post_form(&format!("/t/{slug}/smtp/{id}/test"), &form).await;
    assert_eq!(res.status(), StatusCode::OK);
    flash_in(&res.text().await.unwrap())
}

/// The operator (an admin of acme made with `--operator`), signed in.
async fn operator(app: &TestApp) -> TestApp {
    app.add_user(OPERATOR_EMAIL, OPERATOR_PASSWORD, Role::Admin, true).await;
    let op = app.share();
    assert_eq!(op.sign_in(OPERATOR_EMAIL, OPERATOR_PASSWORD).await.status(), StatusCode::SEE_OTHER);
    op
}

#[tokio::test]
async fn a_tenant_reaches_loopback_only_once_the_operator_allows_it() {
    let server = TestSmtp::start(TlsMode::Plain, Script::default()).await;
    let (app, beta) = two_tenants(|_| {}).await;
    let id = create(&beta, "beta", &plain("Office", "localhost", server.port)).await;

    // Refused, saying why, and the relay never hears of it.
    let shown = try_saved(&beta, "beta", id, false).await;
    assert_eq!(shown, refused("localhost resolves to a loopback address"));
    let shown = try_saved(&beta, "beta", id, true).await;
    assert_eq!(
        shown,
        "The connection check failed. This SMTP host is not allowed for this organization (localhost resolves to a \
         loopback address). Ask the operator of this console."
    );
    let shown = try_unsaved(&beta, "beta", id, &plain("Office", "127.0.0.1", server.port), "1").await;
    assert_eq!(shown, refused("127.0.0.1 is a loopback address"));
    let shown = try_unsaved(&beta, "beta", id, &plain("Office", "::1", server.port), "check").await;
    assert!(shown.contains("(::1 is a loopback address)"), "{shown}");
    assert_eq!(server.connections(), 0, "nothing was contacted");
    let (ok, message): (bool, String) =
        sqlx::query_as("SELECT last_test_ok, last_test_message FROM smtp_profiles WHERE id = ?")
            .bind(id)
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert!(!ok);
    assert_eq!(message, refused("localhost resolves to a loopback address"));

    // The operator allows it on /admin (audited), and the same test goes through.
    let op = operator(&app).await;
    let admin = op.page("/admin").await;
    assert!(admin.contains(r#"aria-label="Allow private networks for beta""#), "beta is refused");
    assert!(!admin.contains(r#"for acme""#), "acme, an operator's organization, has no toggle");
    let res = op.post("/admin/tenants/beta/private-networks", &[("private_networks", "allow")]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(flash_in(&op.page("/admin").await)
        .contains("Beta Inc may now use SMTP hosts on loopback, private and shared networks."));
    let audited = app
        .count(
            "SELECT COUNT(*) FROM audit_log WHERE action = 'tenant.private_networks' AND detail = 'allowed' \
             AND actor = 'olivia@acme.test'",
        )
        .await;
    assert_eq!(audited, 1);
    assert_eq!(try_saved(&beta, "beta", id, false).await, "Test email sent to bo@example.test.");
    assert_eq!(server.wait_for(1, 5).await.len(), 1);

    // And refuses it again.
    let res = op.post("/admin/tenants/beta/private-networks", &[("private_networks", "refuse")]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(try_saved(&beta, "beta", id, false).await, refused("localhost resolves to a loopback address"));
    assert_eq!(server.messages().len(), 1);

    // Neither answer is anything else's to give.
    let res = op.post("/admin/tenants/beta/private-networks", &[("private_networks", "maybe")]).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let res = beta.post("/admin/tenants/beta/private-networks", &[("private_networks", "allow")]).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn an_organization_an_operator_belongs_to_is_allowed_by_default() {
    let server = TestSmtp::start(TlsMode::Plain, Script::default()).await;
    let (app, beta) = two_tenants(|_| {}).await;
    let id = create(&beta, "beta", &plain("Office", "localhost", server.port)).await;
    assert_eq!(try_saved(&beta, "beta", id, false).await, refused("localhost resolves to a loopback address"));
    // `relaydesk user create --operator` in beta.
    add_user_to(&app.db, app.now(), beta_id(&app).await, "ops@beta.test", "ops's long password", Role::Admin, true)
        .await;
    assert_eq!(try_saved(&beta, "beta", id, false).await, "Test email sent to bo@example.test.");
}

async fn beta_id(app: &TestApp) -> relaydesk::store::TenantId {
    relaydesk::store::tenants::by_slug(&app.db, "beta").await.unwrap().unwrap().id
}

#[tokio::test]
async fn the_operators_allow_list_opens_listed_hosts_and_networks_only() {
    let server = TestSmtp::start(TlsMode::Plain, Script::default()).await;
    let (_app, beta) =
        two_tenants(|c| c.egress = EgressPolicy::parse(Some("127.0.0.0/8, relay.beta.test"), None).unwrap()).await;
    let id = create(&beta, "beta", &plain("Office", "127.0.0.1", server.port)).await;
    assert_eq!(try_saved(&beta, "beta", id, false).await, "Test email sent to bo@example.test.");
    // `localhost` also resolves to ::1 here, which is not listed: every address counts.
    let shown = try_unsaved(&beta, "beta", id, &plain("Office", "::1", server.port), "check").await;
    assert!(shown.contains("(::1 is a loopback address)"), "{shown}");

    let (_app, beta) = two_tenants(|c| c.egress = EgressPolicy::parse(Some("LocalHost"), None).unwrap()).await;
    let id = create(&beta, "beta", &plain("Office", "localhost", server.port)).await;
    assert_eq!(try_saved(&beta, "beta", id, false).await, "Test email sent to bo@example.test.");
    assert_eq!(server.wait_for(2, 5).await.len(), 2);
}

#[tokio::test]
async fn unspecified_addresses_are_refused_even_where_private_networks_are_allowed() {
    // 0.0.0.0:port reaches this loopback listener on Linux.
    let service = Service::start(b"220 internal relay ESMTP\r\n").await;
    let (app, _beta) = two_tenants(|_| {}).await;
    let id = create(&app, "acme", &plain("Office", "localhost", service.port)).await;
    for host in ["0.0.0.0", "::"] {
        let shown = try_unsaved(&app, "acme", id, &plain("Office", host, service.port), "1").await;
        assert_eq!(shown, refused(&format!("{host} is an unspecified address")));
    }
    assert_eq!(service.accepted().await, 0, "nothing was contacted");
}

#[tokio::test]
async fn the_operator_may_restrict_ports() {
    let server = TestSmtp::start(TlsMode::Plain, Script::default()).await;
    let (app, _beta) = two_tenants(|c| c.egress = EgressPolicy::parse(None, Some("25, 465, 587")).unwrap()).await;
    let id = create(&app, "acme", &plain("Office", "localhost", server.port)).await;
    let reason = format!("port {} is not one of the allowed ports: 25, 465, 587", server.port);
    assert_eq!(try_saved(&app, "acme", id, false).await, refused(&reason));
    assert_eq!(server.connections(), 0);
}

#[tokio::test]
async fn another_services_banner_is_never_echoed() {
    let ssh = Service::start(b"SSH-2.0-OpenSSH_9.6p1 Ubuntu-3ubuntu13.5\r\n").await;
    let http = Service::start(b"HTTP/1.1 400 Bad Request\r\nServer: nginx/1.24.0\r\nContent-Length: 0\r\n\r\n").await;
    let (app, _beta) = two_tenants(|_| {}).await;
    for (service, secrets) in [(&ssh, ["SSH-2.0", "OpenSSH"]), (&http, ["HTTP/1.1", "nginx"])] {
        let id = create(&app, "acme", &plain(&format!("Svc{}", service.port), "localhost", service.port)).await;
        let said = format!("The server at localhost:{} did not answer like an SMTP server.", service.port);
        assert_eq!(try_saved(&app, "acme", id, false).await, format!("The test email was not sent. {said}"));
        assert_eq!(try_saved(&app, "acme", id, true).await, format!("The connection check failed. {said}"));
        let shown = try_unsaved(&app, "acme", id, &plain("x", "127.0.0.1", service.port), "check").await;
        assert!(shown.contains("did not answer like an SMTP server."), "{shown}");
        let list = app.page("/t/acme/smtp").await;
        let log = app.page("/t/acme/email-log").await;
        let stored: String = sqlx::query_scalar("SELECT last_test_message FROM smtp_profiles WHERE id = ?")
            .bind(id)
            .fetch_one(&app.db)
            .await
            .unwrap();
        for secret in secrets {
            assert!(!list.contains(secret) && !log.contains(secret) && !stored.contains(secret), "{secret} echoed");
        }
    }
}

#[tokio::test]
async fn the_outbox_keeps_to_the_policy() {
    let server = TestSmtp::start(TlsMode::Plain, Script::default()).await;
    let (_app, beta) = two_tenants(|_| {}).await;
    create(&beta, "beta", &plain("Office", "localhost", server.port)).await;
    let res = beta.post("/t/beta/settings/email", &[("enabled", "on")]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let res = beta.post("/t/beta/invitations", &[("email", "newbie@example.test"), ("role", "user")]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let (status, error): (String, Option<String>) = wait_for_some("the invitation to fail", WAIT, || async {
        sqlx::query_as("SELECT status, last_error FROM outbox ORDER BY id DESC LIMIT 1")
            .fetch_optional(&beta.db)
            .await
            .unwrap()
            .filter(|(status, _): &(String, Option<String>)| status == "failed")
    })
    .await;
    assert_eq!(status, "failed");
    assert_eq!(
        error.as_deref(),
        Some(
            "This SMTP host is not allowed for this organization (localhost resolves to a loopback address). Ask the \
             operator of this console."
        )
    );
    assert_eq!(server.connections(), 0);
}

#[tokio::test]
async fn numeric_hosts_in_other_forms_than_dotted_decimal_are_refused_by_the_form() {
    let app = spawn_app().await;
    app.sign_in_admin().await;
    for host in ["0x7f000001", "0x7f.0.0.0x1", "0177.0.0.1", "2130706433", "127.1"] {
        let res = app.post_form("/t/acme/smtp", &plain("Office", host, 2525)).await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{host}");
        let html = res.text().await.unwrap();
        assert!(shows_error(&html, "host", "Please enter a valid SMTP host name or IP address."), "{host}");
    }
    assert_eq!(app.profile_count().await, 0);
}
