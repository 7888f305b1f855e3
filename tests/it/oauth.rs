//! OAuth 2.0 sign-in for Generic SMTP profiles (XOAUTH2), against the stand-in
//! authorization server (`tests/support/oauth_server.rs`) and the loopback SMTP server
//! accepting AUTH XOAUTH2 with the tokens that server issued: the Microsoft app and
//! another provider's client credentials, the Google connect flow over HTTP, every error
//! a person sees, the token cache, and the outbox.

use std::time::Duration;

use relaydesk::domain::account::Role;
use reqwest::StatusCode;

use crate::helpers::*;
use crate::oauth_server::{
    OAuthServer, Script as AuthScript, CLIENT_ID, CLIENT_SECRET, GOOGLE_ACCOUNT, GOOGLE_CLIENT_ID,
};
use crate::sending::profile_for;
use crate::smtp::{with, without, FormFields, PASSWORD};
use crate::smtp_server::{Script, TestSmtp, TlsMode};

const ACCOUNT: &str = "mailer@acme.test";

/// The SMTP server: STARTTLS, AUTH XOAUTH2 with `auth`'s tokens only.
async fn xoauth2_server(auth: &OAuthServer, plain_refusal: bool) -> TestSmtp {
    let script =
        Script { xoauth2: Some(auth.bearer_check()), xoauth2_plain_refusal: plain_refusal, ..Script::default() };
    TestSmtp::start(TlsMode::StartTls, script).await
}

async fn oauth_app(auth: &OAuthServer) -> TestApp {
    let app = spawn_app_with(|c| {
        c.send_timeout = Duration::from_secs(5);
        auth.configure(c);
    })
    .await;
    app.sign_in_admin().await;
    app
}

/// A profile for `server` signing in with OAuth through `provider`'s fields.
fn oauth_profile(name: &str, server: &TestSmtp, provider: &[(&'static str, String)]) -> FormFields {
    let mut form = without(profile_for(name, server, "starttls"), "password");
    form.push(("sign_in", "oauth".into()));
    form.push(("oauth_client_secret", CLIENT_SECRET.into()));
    form.extend(provider.iter().cloned());
    form
}

fn microsoft() -> Vec<(&'static str, String)> {
    vec![
        ("oauth_provider", "microsoft".into()),
        ("oauth_directory", "acme.onmicrosoft.com".into()),
        ("oauth_client_id", CLIENT_ID.into()),
    ]
}

fn google() -> Vec<(&'static str, String)> {
    vec![("oauth_provider", "google".into()), ("oauth_client_id", GOOGLE_CLIENT_ID.into())]
}

fn other(auth: &OAuthServer) -> Vec<(&'static str, String)> {
    vec![
        ("oauth_provider", "other".into()),
        ("oauth_token_url", format!("{}/token", auth.base)),
        ("oauth_scope", "smtp.send  offline".into()),
        ("oauth_client_id", "relaydesk-client".into()),
    ]
}

/// The flash on the page `path` leads to, unescaped.
async fn flash_on(app: &TestApp, path: &str) -> String {
    let html = app.page(path).await;
    let start = html.find("class=\"flash").expect("a message is shown");
    let text = &html[start..];
    let text = &text[text.find('>').unwrap() + 1..text.find("</div>").unwrap()];
    text.replace("&#39;", "'")
        .replace("&#34;", "\"")
        .replace("&quot;", "\"")
        .replace("&#38;", "&")
        .replace("&amp;", "&")
}

/// Sends a test email through profile `id`; the result shown.
async fn test_send(app: &TestApp, id: i64) -> String {
    let res = app.post(&format!("/t/acme/smtp/{id}/test"), &[("to", "ada@example.test")]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    flash_on(app, "/t/acme/smtp").await
}

async fn column(app: &TestApp, sql: &str) -> Option<String> {
    sqlx::query_scalar::<_, Option<String>>(sql).fetch_one(&app.db).await.unwrap()
}

#[tokio::test]
async fn a_microsoft_365_app_profile_sends_with_a_client_credentials_token() {
    let auth = OAuthServer::start().await;
    let server = xoauth2_server(&auth, true).await;
    let app = oauth_app(&auth).await;
    let id = app.create_profile(&oauth_profile("M365", &server, &microsoft())).await;

    assert_eq!(test_send(&app, id).await, "Test email sent to ada@example.test.");
    let mail = server.wait_for(1, 5).await.remove(0);
    assert_eq!(mail.user.as_deref(), Some(ACCOUNT), "signed in as the mailbox with XOAUTH2");
    assert!(mail.tls);
    let requests = auth.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].path, "/acme.onmicrosoft.com/oauth2/v2.0/token");
    let form = &requests[0].form;
    assert_eq!(form["grant_type"], "client_credentials");
    assert_eq!(form["client_id"], CLIENT_ID);
    assert_eq!(form["scope"], "https://outlook.office365.com/.default");

    // The client secret is sealed, write-only, and the form shows the OAuth settings.
    let sealed = column(&app, "SELECT password_sealed FROM smtp_profiles").await.unwrap();
    assert!(!sealed.contains(CLIENT_SECRET));
    let page = app.page(&format!("/t/acme/smtp/{id}")).await;
    assert!(!page.contains(CLIENT_SECRET));
    assert!(page.contains(r#"<input type="radio" id="sign_in-oauth" name="sign_in" value="oauth" checked>"#));
    assert!(page.contains(r#"<option value="microsoft" selected>Microsoft 365 (app)</option>"#));
    assert!(page.contains(r#"value="acme.onmicrosoft.com""#));
    assert!(!mail.data.contains("access-1"), "the token is not in the message");
    assert!(mail.text_body().contains("Sign-in: OAuth 2.0, Microsoft 365 (app)"), "{}", mail.text_body());

    // A blank client secret on edit keeps the saved one while the app stays the same.
    let edit = with(oauth_profile("M365", &server, &microsoft()), "oauth_client_secret", "");
    let res = app.post_form(&format!("/t/acme/smtp/{id}"), &edit).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(column(&app, "SELECT password_sealed FROM smtp_profiles").await.unwrap(), sealed);
}

#[tokio::test]
async fn the_oauth_fields_say_what_is_wrong_and_change_nothing() {
    let auth = OAuthServer::start().await;
    let server = xoauth2_server(&auth, true).await;
    let app = oauth_app(&auth).await;
    let form = with(
        with(with(oauth_profile("M365", &server, &microsoft()), "oauth_directory", ""), "oauth_client_id", "abc"),
        "oauth_client_secret",
        "",
    );
    let res = app.post_form("/t/acme/smtp", &form).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = res.text().await.unwrap();
    assert!(shows(&html, "oauth_directory", "Please enter a tenant ID (a GUID or a domain name)."), "{html}");
    assert!(shows(&html, "oauth_client_id", "Please enter a client ID in GUID format."));
    assert!(shows(&html, "oauth_client_secret", "Please enter the client secret."));

    let bad_url = with(oauth_profile("Other", &server, &other(&auth)), "oauth_token_url", "http://auth.example.com/t");
    let res = app.post_form("/t/acme/smtp", &bad_url).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = res.text().await.unwrap();
    assert!(shows(&html, "oauth_token_url", "Please enter the token URL, an https:// address."));
    assert!(shows(&html, "oauth_client_secret", "Please enter the client secret again."), "never sent back");
    assert!(!html.contains(CLIENT_SECRET));

    let res = app.post_form("/t/acme/smtp", &with(oauth_profile("X", &server, &microsoft()), "sign_in", "magic")).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(shows(&res.text().await.unwrap(), "sign_in", "Please choose how to sign in."));
    let res =
        app.post_form("/t/acme/smtp", &with(oauth_profile("X", &server, &microsoft()), "oauth_provider", "aol")).await;
    assert!(shows(&res.text().await.unwrap(), "oauth_provider", "Please choose an OAuth provider."));
    assert_eq!(app.profile_count().await, 0);

    // Changing the client ID of a saved profile asks for its secret again.
    let id = app.create_profile(&oauth_profile("M365", &server, &microsoft())).await;
    let edit = with(
        with(oauth_profile("M365", &server, &microsoft()), "oauth_client_secret", ""),
        "oauth_client_id",
        "1f8fad5b-d9cb-469f-a165-70867728950e",
    );
    let res = app.post_form(&format!("/t/acme/smtp/{id}"), &edit).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(shows(
        &res.text().await.unwrap(),
        "oauth_client_secret",
        "The client secret was cleared because the provider, client ID, directory, token URL or scope changed; enter it again."
    ));
    let client_id = column(&app, "SELECT oauth_client_id FROM smtp_profiles").await;
    assert_eq!(client_id.as_deref(), Some(CLIENT_ID));
}

fn shows(html: &str, field: &str, message: &str) -> bool {
    crate::smtp::shows_error(html, field, message)
}

#[tokio::test]
async fn a_token_is_kept_until_shortly_before_it_expires() {
    let auth = OAuthServer::start().await;
    auth.set_script(AuthScript { expires_in: Some(600), ..AuthScript::default() });
    let server = xoauth2_server(&auth, true).await;
    let app = oauth_app(&auth).await;
    let id = app.create_profile(&oauth_profile("M365", &server, &microsoft())).await;
    assert_eq!(test_send(&app, id).await, "Test email sent to ada@example.test.");
    assert_eq!(test_send(&app, id).await, "Test email sent to ada@example.test.");
    assert_eq!(auth.requests().len(), 1, "the second send used the token held");
    // Two minutes before it expires it is not used any more.
    app.advance(Duration::from_secs(600 - 120));
    assert_eq!(test_send(&app, id).await, "Test email sent to ada@example.test.");
    assert_eq!(auth.requests().len(), 2);
    assert_eq!(server.wait_for(3, 5).await.len(), 3);
}

#[tokio::test]
async fn a_token_the_server_no_longer_takes_is_replaced_once() {
    let auth = OAuthServer::start().await;
    let server = xoauth2_server(&auth, false).await;
    let app = oauth_app(&auth).await;
    let id = app.create_profile(&oauth_profile("M365", &server, &microsoft())).await;
    assert_eq!(test_send(&app, id).await, "Test email sent to ada@example.test.");
    auth.expire_access_tokens();
    assert_eq!(test_send(&app, id).await, "Test email sent to ada@example.test.");
    assert_eq!(auth.requests().len(), 2, "one new token after the refusal");
    assert_eq!(server.wait_for(2, 5).await.len(), 2);
}

#[tokio::test]
async fn a_token_refused_twice_fails_and_says_what_the_server_said() {
    let auth = OAuthServer::start().await;
    let refuse_all: crate::smtp_server::BearerCheck = std::sync::Arc::new(|_, _| false);
    let server = TestSmtp::start(TlsMode::StartTls, Script { xoauth2: Some(refuse_all), ..Script::default() }).await;
    let app = oauth_app(&auth).await;
    let id = app.create_profile(&oauth_profile("M365", &server, &microsoft())).await;
    let shown = test_send(&app, id).await;
    assert_eq!(
        shown,
        format!(
            "The test email was not sent. localhost:{} refused the access token for {ACCOUNT}: 535 5.7.8 Username and \
             Password not accepted. Learn more at https://support.google.com/mail/?p=BadCredentials. relaydesk asked \
             for a new token and was refused again. Check that the app may send as this mailbox (Microsoft 365: the \
             SMTP.SendAsApp permission and the mailbox's permission for the app's service principal; Google: the \
             scope https://mail.google.com/).",
            server.port
        )
    );
    assert_eq!(auth.requests().len(), 2, "refreshed once, not more");
    assert!(server.messages().is_empty());
}

#[tokio::test]
async fn a_refused_token_request_shows_the_providers_error_and_the_dashboard_warns() {
    let auth = OAuthServer::start().await;
    let server = xoauth2_server(&auth, true).await;
    let app = oauth_app(&auth).await;
    let id = app.create_profile(&oauth_profile("M365", &server, &microsoft())).await;
    auth.set_script(AuthScript {
        refuse: Some((
            401,
            "invalid_client".into(),
            "AADSTS7000222: The provided client secret keys for app are expired.\r\nTrace ID: 99".into(),
        )),
        ..AuthScript::default()
    });
    let message = "Microsoft refused the token request (invalid_client: AADSTS7000222: The provided client secret \
                   keys for app are expired.). Check the directory (tenant) ID, client ID and client secret of the app.";
    assert_eq!(test_send(&app, id).await, format!("The test email was not sent. {message}"));
    let dashboard = app.page("/t/acme/").await;
    assert!(
        dashboard.contains(&format!(
            "The default profile M365 cannot get an OAuth token, so invitations and password resets are not sent: {}",
            message.replace('\'', "&#39;")
        )),
        "{dashboard}"
    );
    // The next token clears the warning.
    auth.set_script(AuthScript::default());
    assert_eq!(test_send(&app, id).await, "Test email sent to ada@example.test.");
    assert!(!app.page("/t/acme/").await.contains("id=\"token-warning\""));
}

/// What a password profile's test email says when the server answers AUTH with `reply`,
/// and the server's port.
async fn test_email_after_login_reply(reply: &str) -> (String, u16) {
    let script =
        Script { auth: Some((ACCOUNT.into(), PASSWORD.into())), auth_reply: Some(reply.into()), ..Script::default() };
    let server = TestSmtp::start(TlsMode::StartTls, script).await;
    let app = spawn_app().await;
    app.sign_in_admin().await;
    let id = app.create_profile(&profile_for("Office", &server, "starttls")).await;
    (test_send(&app, id).await, server.port)
}

#[tokio::test]
async fn a_password_refused_with_5_7_30_points_to_oauth_or_graph() {
    let (said, port) =
        test_email_after_login_reply("550 5.7.30 Basic authentication is not supported for Client Submission").await;
    assert_eq!(
        said,
        format!(
            "The test email was not sent. Login rejected by localhost:{port}: 550 5.7.30 Basic authentication is not \
             supported for Client Submission. Microsoft no longer accepts passwords for SMTP here: change Sign-in to \
             OAuth 2.0 with Microsoft 365 (app), or send through an MS Graph API profile."
        )
    );
}

/// Microsoft's "SMTP AUTH is disabled" is not a wrong password; a reply that ends in a
/// full stop does not get a second one.
#[tokio::test]
async fn smtp_sign_in_turned_off_at_microsoft_is_not_called_a_wrong_password() {
    let (said, port) = test_email_after_login_reply(
        "535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Mailbox.",
    )
    .await;
    assert_eq!(
        said,
        format!(
            "The test email was not sent. Login rejected by localhost:{port}: 535 5.7.139 Authentication \
             unsuccessful, SmtpClientAuthentication is disabled for the Mailbox. Microsoft 365 has SMTP sign-in turned \
             off for this mailbox or organization (the password may be right): an administrator turns on \
             Authenticated SMTP for the mailbox in the Microsoft 365 admin center, or change Sign-in to OAuth 2.0, or \
             send through an MS Graph API profile."
        )
    );
}

#[tokio::test]
async fn another_providers_token_url_goes_through_the_egress_policy() {
    let auth = OAuthServer::start().await;
    let server = xoauth2_server(&auth, true).await;
    let app = oauth_app(&auth).await;
    let id = app.create_profile(&oauth_profile("Other", &server, &other(&auth))).await;
    assert_eq!(test_send(&app, id).await, "Test email sent to ada@example.test.");
    let request = auth.requests().remove(0);
    assert_eq!(request.path, "/token");
    assert_eq!(request.form["grant_type"], "client_credentials");
    assert_eq!(request.form["client_id"], "relaydesk-client");
    assert_eq!(request.form["scope"], "smtp.send offline");

    // Without private networks the loopback token URL is not contacted at all.
    let mut conn = app.db.acquire().await.unwrap();
    relaydesk::store::egress::set_private_networks(&mut conn, app.tenant, false).await.unwrap();
    drop(conn);
    let edit = with(oauth_profile("Other", &server, &other(&auth)), "oauth_scope", "smtp.send");
    assert_eq!(app.post_form(&format!("/t/acme/smtp/{id}"), &edit).await.status(), StatusCode::SEE_OTHER);
    let shown = test_send(&app, id).await;
    assert_eq!(
        shown,
        "The test email was not sent. The token URL's host is not allowed for this organization (127.0.0.1 is a \
         loopback address). Ask the operator of this console."
    );
    assert_eq!(auth.requests().len(), 1, "nothing was asked of the refused address");
}

/// Connect account: a page that moves on to the consent page by itself (a refresh, and a
/// link); the consent page's address.
async fn consent_url(app: &TestApp, id: i64) -> String {
    let res = app.post(&format!("/t/acme/smtp/{id}/oauth/connect"), &[]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), format!("/t/acme/smtp/{id}/oauth/go"));
    let html = app.page(&location(&res)).await;
    let link = r#"<a class="button primary" href=""#;
    let start = html.find(link).expect("a link to continue") + link.len();
    let url = html[start..].split('"').next().unwrap().to_owned();
    assert!(html.contains(&format!(r#"<meta http-equiv="refresh" content="0;url={url}">"#)), "{html}");
    url.replace("&#38;", "&").replace("&amp;", "&")
}

/// Connects the Google account of profile `id` as a browser would: Connect account, the
/// consent page, the callback. Returns the callback URL that was used.
async fn connect_google(app: &TestApp, id: i64) -> String {
    let consent = consent_url(app, id).await;
    let plain = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let back = plain.get(&consent).send().await.unwrap();
    let callback = location(&back);
    assert!(callback.starts_with(&format!("{}/t/acme/smtp/oauth/google?", app.base)), "{callback}");
    let res = app.client.get(&callback).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), format!("/t/acme/smtp/{id}"));
    callback
}

#[tokio::test]
async fn a_google_account_is_connected_once_with_pkce_and_sends() {
    let auth = OAuthServer::start().await;
    let server = xoauth2_server(&auth, false).await;
    let app = oauth_app(&auth).await;
    let id = app.create_profile(&oauth_profile("Gmail", &server, &google())).await;
    let page = app.page(&format!("/t/acme/smtp/{id}")).await;
    assert!(page.contains("No Google account is connected yet."));
    assert!(page.contains(&format!("{}/t/acme/smtp/oauth/google</code>", app.base)), "the redirect URI to register");
    // Not connected: the test email says what to do.
    assert_eq!(
        test_send(&app, id).await,
        "The test email was not sent. No Google account is connected to this profile. Open the profile and choose \
         Connect account."
    );

    let callback = connect_google(&app, id).await;
    let asked = auth.authorizations().remove(0);
    assert_eq!(asked["response_type"], "code");
    assert_eq!(asked["client_id"], GOOGLE_CLIENT_ID);
    assert_eq!(asked["code_challenge_method"], "S256");
    assert_eq!(asked["access_type"], "offline");
    assert_eq!(asked["scope"], "https://mail.google.com/ openid email");
    assert_eq!(asked["redirect_uri"], format!("{}/t/acme/smtp/oauth/google", app.base));
    assert_eq!(asked["state"].len(), 43, "32 random bytes");
    let page = app.page(&format!("/t/acme/smtp/{id}")).await;
    assert!(page.contains(&format!("Connected the Google account {GOOGLE_ACCOUNT}.")));
    assert!(page.contains(&format!("Connected: <strong>{GOOGLE_ACCOUNT}</strong>")));
    let refresh = auth.refresh_tokens().remove(0);
    let sealed = column(&app, "SELECT oauth_refresh_sealed FROM smtp_profiles").await.unwrap();
    assert!(!sealed.contains(&refresh) && !page.contains(&refresh), "the refresh token is sealed and never shown");
    let code_exchange = auth.requests().into_iter().find(|r| r.form["grant_type"] == "authorization_code").unwrap();
    assert!(!code_exchange.form["code_verifier"].is_empty());

    assert_eq!(test_send(&app, id).await, "Test email sent to ada@example.test.");
    let last = auth.requests().pop().unwrap();
    assert_eq!((last.form["grant_type"].as_str(), last.form["refresh_token"].as_str()), ("refresh_token", &*refresh));
    assert_eq!(server.wait_for(1, 5).await[0].user.as_deref(), Some(ACCOUNT));

    // The callback is taken once.
    let again = app.client.get(&callback).send().await.unwrap();
    assert_eq!(location(&again), "/t/acme/smtp");
    assert!(flash_on(&app, "/t/acme/smtp").await.starts_with("This sign-in with Google does not match a connect"));
    assert_eq!(auth.refresh_tokens().len(), 1, "no second exchange");

    // Changing the client ID forgets the account with the secret.
    let edit =
        with(oauth_profile("Gmail", &server, &google()), "oauth_client_id", "999-other.apps.googleusercontent.com");
    assert_eq!(app.post_form(&format!("/t/acme/smtp/{id}"), &edit).await.status(), StatusCode::SEE_OTHER);
    assert_eq!(column(&app, "SELECT oauth_refresh_sealed FROM smtp_profiles").await, None);
    assert_eq!(column(&app, "SELECT oauth_account FROM smtp_profiles").await, None);
}

/// Google lets an account send only as itself: connecting another account than the SMTP
/// account address is said at once, not discovered when mail is refused.
#[tokio::test]
async fn connecting_another_google_account_than_the_smtp_account_says_so() {
    let auth = OAuthServer::start().await;
    let server = xoauth2_server(&auth, false).await;
    let app = oauth_app(&auth).await;
    let form = with(oauth_profile("Gmail", &server, &google()), "username", "relay@acme.test");
    let id = app.create_profile(&form).await;
    connect_google(&app, id).await;
    let page = app.page(&format!("/t/acme/smtp/{id}")).await;
    assert!(
        page.contains(&format!(
            "Connected the Google account {GOOGLE_ACCOUNT}, but the SMTP account address is relay@acme.test. Google \
             lets an account send only as itself: connect relay@acme.test instead, or change the SMTP account address \
             to {GOOGLE_ACCOUNT}."
        )),
        "{page}"
    );
}

#[tokio::test]
async fn a_callback_cannot_attach_a_token_elsewhere() {
    let auth = OAuthServer::start().await;
    let server = xoauth2_server(&auth, false).await;
    let app = oauth_app(&auth).await;
    let id = app.create_profile(&oauth_profile("Gmail", &server, &google())).await;
    let consent = consent_url(&app, id).await;
    let plain = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let callback = location(&plain.get(&consent).send().await.unwrap());
    let query = callback.split_once('?').unwrap().1.to_owned();

    // Another organization's admin, at their own callback: their session started nothing.
    app.add_tenant("globex", "Globex Corp", "hank@globex.test", "hank's long password").await;
    let hank = app.share();
    hank.sign_in_to("globex", "hank@globex.test", "hank's long password").await;
    let res = hank.get(&format!("/t/globex/smtp/oauth/google?{query}")).await;
    assert_eq!(location(&res), "/t/globex/smtp");
    // …and at acme's: not a member there.
    let res = hank.get(&format!("/t/acme/smtp/oauth/google?{query}")).await;
    assert!(location(&res).starts_with("/t/acme/login"));
    // A member of acme who is not an admin: 403.
    app.add_user("olga@acme.test", "olga's long password", Role::Organizer, false).await;
    let olga = app.share();
    olga.sign_in("olga@acme.test", "olga's long password").await;
    assert_eq!(olga.get(&format!("/t/acme/smtp/oauth/google?{query}")).await.status(), StatusCode::FORBIDDEN);
    // The admin who started it, with a forged state: refused, and the real one is used up.
    let forged = query.replace("state=", "state=x");
    let res = app.get(&format!("/t/acme/smtp/oauth/google?{forged}")).await;
    assert_eq!(location(&res), "/t/acme/smtp");
    assert!(flash_on(&app, "/t/acme/smtp").await.starts_with("This sign-in with Google does not match"));
    app.get(&format!("/t/acme/smtp/oauth/google?{query}")).await;
    assert_eq!(column(&app, "SELECT oauth_refresh_sealed FROM smtp_profiles").await, None);
    assert!(auth.refresh_tokens().is_empty(), "no code was exchanged");

    // A profile edited while the person was at Google does not get the token.
    let consent = consent_url(&app, id).await;
    let callback = location(&plain.get(consent).send().await.unwrap());
    let edit = with(
        with(oauth_profile("Gmail", &server, &google()), "username", "other@acme.test"),
        "oauth_client_secret",
        CLIENT_SECRET,
    );
    assert_eq!(app.post_form(&format!("/t/acme/smtp/{id}"), &edit).await.status(), StatusCode::SEE_OTHER);
    app.client.get(&callback).send().await.unwrap();
    assert_eq!(
        flash_on(&app, &format!("/t/acme/smtp/{id}")).await,
        "The profile changed while you were signing in with Google, so the account was not connected. Choose \
         Connect account again."
    );
    assert_eq!(column(&app, "SELECT oauth_refresh_sealed FROM smtp_profiles").await, None);
}

#[tokio::test]
async fn revoked_consent_says_connect_again_and_disconnect_forgets_the_account() {
    let auth = OAuthServer::start().await;
    let server = xoauth2_server(&auth, false).await;
    let app = oauth_app(&auth).await;
    let id = app.create_profile(&oauth_profile("Gmail", &server, &google())).await;
    connect_google(&app, id).await;
    auth.revoke_refresh_tokens();
    let message = "Google refused the saved sign-in (invalid_grant: Token has been expired or revoked.). Connect the \
                   account again.";
    assert_eq!(test_send(&app, id).await, format!("The test email was not sent. {message}"));
    assert!(app.page("/t/acme/").await.contains(message), "the dashboard warns");

    connect_google(&app, id).await;
    assert!(!app.page("/t/acme/").await.contains("id=\"token-warning\""), "a new connection clears it");
    let refresh = auth.refresh_tokens().remove(0);
    let res = app.post(&format!("/t/acme/smtp/{id}/oauth/disconnect"), &[]).await;
    assert_eq!(location(&res), format!("/t/acme/smtp/{id}"));
    assert_eq!(
        flash_on(&app, &format!("/t/acme/smtp/{id}")).await,
        format!("Disconnected the Google account {GOOGLE_ACCOUNT}.")
    );
    assert_eq!(auth.revoked(), vec![refresh], "Google was asked to revoke it");
    assert_eq!(column(&app, "SELECT oauth_refresh_sealed FROM smtp_profiles").await, None);
    assert!(app.page("/t/acme/").await.contains(
        "The default profile Gmail signs in with Google, but no Google account is connected, so it cannot get a token"
    ));
    let audit = app.page("/t/acme/audit").await;
    assert!(audit.contains(&format!("Gmail: disconnected the Google account {GOOGLE_ACCOUNT}")));
}

#[tokio::test]
async fn a_copy_asks_for_its_own_client_secret_and_connection() {
    let auth = OAuthServer::start().await;
    let server = xoauth2_server(&auth, false).await;
    let app = oauth_app(&auth).await;
    let id = app.create_profile(&oauth_profile("Gmail", &server, &google())).await;
    connect_google(&app, id).await;
    let page = app.page(&format!("/t/acme/smtp/{id}/duplicate")).await;
    assert!(page.contains(r#"id="oauth_client_secret""#) && !page.contains(r#"id="password""#));
    let res = app.post(&format!("/t/acme/smtp/{id}/duplicate"), &[("oauth_client_secret", "")]).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(shows(&res.text().await.unwrap(), "oauth_client_secret", "Please enter the client secret."));
    let res = app.post(&format!("/t/acme/smtp/{id}/duplicate"), &[("oauth_client_secret", CLIENT_SECRET)]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let copy: (Option<String>, Option<String>, String) = sqlx::query_as(
        "SELECT oauth_refresh_sealed, oauth_account, oauth_provider FROM smtp_profiles WHERE name = 'Gmail_copied'",
    )
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!(copy, (None, None, "google".to_owned()));
}

#[tokio::test]
async fn invitations_and_resets_go_out_through_an_oauth_default_profile() {
    let auth = OAuthServer::start().await;
    let server = xoauth2_server(&auth, true).await;
    let app = oauth_app(&auth).await;
    app.create_profile(&oauth_profile("M365", &server, &microsoft())).await;
    assert_eq!(app.post("/t/acme/settings/email", &[("enabled", "on")]).await.status(), StatusCode::SEE_OTHER);
    app.add_user("bob@acme.test", "bob's old long password", Role::User, false).await;

    let res = app.post("/t/acme/invitations", &[("email", "newbie@example.test"), ("role", "user")]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let visitor = app.share();
    visitor.post("/t/acme/password/forgot", &[("email", "bob@acme.test")]).await;
    let mails = server.wait_for(2, 10).await;
    let mut to: Vec<_> = mails.iter().map(|m| m.to[0].clone()).collect();
    to.sort();
    assert_eq!(to, ["bob@acme.test", "newbie@example.test"]);
    assert!(mails.iter().all(|m| m.user.as_deref() == Some(ACCOUNT)));
    wait_until("both messages to be sent", WAIT, || async {
        app.count("SELECT COUNT(*) FROM outbox WHERE status = 'sent'").await == 2
    })
    .await;
    assert_eq!(auth.requests().len(), 1, "one token for both");
}

#[tokio::test]
async fn in_the_outbox_a_token_refused_twice_is_retried_later() {
    let auth = OAuthServer::start().await;
    let refuse_all: crate::smtp_server::BearerCheck = std::sync::Arc::new(|_, _| false);
    let server = TestSmtp::start(
        TlsMode::StartTls,
        Script { xoauth2: Some(refuse_all), xoauth2_plain_refusal: true, ..Script::default() },
    )
    .await;
    let app = oauth_app(&auth).await;
    app.create_profile(&oauth_profile("M365", &server, &microsoft())).await;
    assert_eq!(app.post("/t/acme/settings/email", &[("enabled", "on")]).await.status(), StatusCode::SEE_OTHER);
    app.post("/t/acme/invitations", &[("email", "newbie@example.test"), ("role", "user")]).await;
    let (status, attempts, error): (String, i64, String) = wait_for_some("the first attempt", WAIT, || async {
        sqlx::query_as::<_, (String, i64, Option<String>)>("SELECT status, attempts, last_error FROM outbox")
            .fetch_one(&app.db)
            .await
            .ok()
            .and_then(|(s, a, e)| e.map(|e| (s, a, e)))
    })
    .await;
    assert_eq!((status.as_str(), attempts), ("pending", 1), "transient: retried on the schedule");
    assert_eq!(
        error,
        format!(
            "localhost:{} refused the access token for {ACCOUNT}: 535 5.7.3 Authentication unsuccessful. relaydesk \
             asked for a new token and was refused again. Check that the app may send as this mailbox (Microsoft \
             365: the SMTP.SendAsApp permission and the mailbox's permission for the app's service principal; \
             Google: the scope https://mail.google.com/).",
            server.port
        )
    );
    assert_eq!(auth.requests().len(), 2);
}

#[tokio::test]
async fn a_kept_connection_is_not_reused_once_the_token_was_replaced() {
    let auth = OAuthServer::start().await;
    auth.set_script(AuthScript { expires_in: Some(600), ..AuthScript::default() });
    let server = xoauth2_server(&auth, true).await;
    let app = oauth_app(&auth).await;
    app.create_profile(&oauth_profile("M365", &server, &microsoft())).await;
    assert_eq!(app.post("/t/acme/settings/email", &[("enabled", "on")]).await.status(), StatusCode::SEE_OTHER);
    let sent = |n: i64| {
        let app = &app;
        async move {
            wait_until("the invitations to be sent", WAIT, || async {
                app.count("SELECT COUNT(*) FROM outbox WHERE status = 'sent'").await == n
            })
            .await
        }
    };
    for (i, email) in ["one@example.test", "two@example.test"].into_iter().enumerate() {
        app.post("/t/acme/invitations", &[("email", email), ("role", "user")]).await;
        sent(i as i64 + 1).await;
    }
    assert_eq!(server.connections(), 1, "the second message went over the kept connection");
    // The token runs out: the next message gets a new token and a new login.
    app.advance(Duration::from_secs(600));
    app.post("/t/acme/invitations", &[("email", "three@example.test"), ("role", "user")]).await;
    sent(3).await;
    assert_eq!(auth.requests().len(), 2);
    assert_eq!(server.connections(), 2, "a new token, a new connection and AUTH");
}
