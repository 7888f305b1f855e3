//! Pages a visitor opens without being signed in write nothing to the database: their
//! forms are protected by a signed CSRF cookie instead of a session row, and a session row
//! is made when someone signs in.

use std::time::Duration;

use reqwest::StatusCode;

use crate::app::RunningApp;
use crate::helpers::*;

const EXPIRED: &str = "This form has expired or did not come from relaydesk.";

/// SQLite's count of changes made to the file by other connections: unchanged means
/// nobody wrote anything at all.
async fn data_version(conn: &mut sqlx::SqliteConnection) -> i64 {
    sqlx::query_scalar("PRAGMA data_version").fetch_one(conn).await.unwrap()
}

async fn watcher(app: &RunningApp) -> sqlx::SqliteConnection {
    <sqlx::SqliteConnection as sqlx::Connection>::connect(&app.state.config.database_url).await.unwrap()
}

async fn session_rows(app: &RunningApp) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM tower_sessions").fetch_one(&app.db).await.unwrap()
}

/// The path of the one-time link the admin is shown (email is off).
async fn shown_link(admin: &TestApp, page: &str) -> String {
    let html = admin.page(page).await;
    let marker = r#"id="shared-link" type="text" value=""#;
    let start = html.find(marker).expect("the link is shown") + marker.len();
    let url: url::Url = html[start..].split('"').next().unwrap().parse().unwrap();
    url.path().to_owned()
}

/// The visitor's CSRF cookie among a response's `Set-Cookie` headers.
fn csrf_cookie(res: &reqwest::Response) -> Option<String> {
    set_cookies(res).into_iter().find(|c| c.starts_with("relaydesk_csrf=") || c.starts_with("__Host-relaydesk_csrf="))
}

#[tokio::test]
async fn a_burst_of_visitor_pages_writes_nothing_to_the_database() {
    let app = spawn_app().await;
    // Links to join and to reset a password, made by the admin (email is off: shown once).
    let admin = app.share();
    admin.sign_in_admin().await;
    let res = admin.post("/t/acme/invitations", &[("email", "ines@acme.test"), ("role", "user")]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let join = shown_link(&admin, "/t/acme/invitations").await;
    app.add_user("rita@acme.test", "rita's long password", relaydesk::domain::account::Role::User, false).await;
    let rita: i64 =
        sqlx::query_scalar("SELECT id FROM users WHERE email = 'rita@acme.test'").fetch_one(&app.db).await.unwrap();
    let res = admin.post(&format!("/t/acme/members/{rita}/reset-link"), &[]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let reset = shown_link(&admin, "/t/acme/members").await;
    assert!(join.starts_with("/invite/") && reset.starts_with("/t/acme/password/reset/"), "{join} {reset}");

    let rows = session_rows(&app).await;
    let mut watcher = watcher(&app).await;
    let version = data_version(&mut watcher).await;

    // The same browser again and again (it keeps its cookies), and fresh ones.
    let visitor = app.share();
    let pages = [
        ("/t/acme/login", StatusCode::OK),
        ("/t/acme/password/forgot", StatusCode::OK),
        (join.as_str(), StatusCode::OK),
        (reset.as_str(), StatusCode::OK),
        ("/", StatusCode::OK),
        ("/go?slug=acme", StatusCode::SEE_OTHER),
        ("/t/acme/no-such-page", StatusCode::NOT_FOUND),
        ("/invite/not-a-token-relaydesk-made", StatusCode::GONE),
        ("/t/acme/password/reset/not-a-token", StatusCode::GONE),
        ("/t/acme/", StatusCode::SEE_OTHER),
    ];
    for round in 0..15 {
        for (path, status) in pages {
            assert_eq!(visitor.get(path).await.status(), status, "GET {path}");
            if round % 5 == 0 {
                let (fresh, _) = new_client();
                let res = fresh.get(app.url(path)).send().await.unwrap();
                assert_eq!(res.status(), status, "GET {path}, a new visitor");
                assert!(
                    !set_cookies(&res).iter().any(|c| c.starts_with("relaydesk_session=")),
                    "no session for a visitor: {path}"
                );
            }
        }
    }
    assert_eq!(session_rows(&app).await, rows, "no session row was stored");
    assert_eq!(data_version(&mut watcher).await, version, "nothing at all was written to the database");

    // The forms on those pages still carry a token, and the join form works.
    let html = visitor.page(&join).await;
    let token = csrf_in(&html);
    let res = visitor
        .post_raw(&join, &[("display_name", "Ines"), ("password", "ines's long password"), ("csrf_token", &token)])
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(visitor.get("/t/acme/").await.status(), StatusCode::OK, "joined and signed in");
    assert_eq!(session_rows(&app).await, rows + 1, "signing in made a session row");
}

#[tokio::test]
async fn first_run_setup_writes_nothing_until_it_is_sent() {
    let app = RunningApp::start(|_| {}).await;
    let link = relaydesk::web::setup::announce_link(&app.state).await.unwrap().expect("a first run");
    let path = url::Url::parse(&link).unwrap().path().to_owned();
    let mut watcher = watcher(&app).await;
    let version = data_version(&mut watcher).await;

    let (client, _) = new_client();
    let mut html = String::new();
    for _ in 0..20 {
        html = client.get(format!("{}{path}", app.base)).send().await.unwrap().text().await.unwrap();
        let home = client.get(format!("{}/", app.base)).send().await.unwrap().text().await.unwrap();
        assert!(home.contains("relaydesk is not set up yet."));
    }
    assert_eq!(session_rows(&app).await, 0);
    assert_eq!(data_version(&mut watcher).await, version, "nothing at all was written to the database");

    let form = |token: String| {
        vec![
            ("slug", "first".to_owned()),
            ("name", "First Org".to_owned()),
            ("admin_name", "Grace Hopper".to_owned()),
            ("admin_email", "grace@first.test".to_owned()),
            ("admin_password", "grace's long password".to_owned()),
            ("csrf_token", token),
        ]
    };
    let res = client.post(format!("{}{path}", app.base)).form(&form("forged".into())).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let tenants: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM tenants").fetch_one(&app.db).await.unwrap();
    assert_eq!(tenants, 0);
    let res = client.post(format!("{}{path}", app.base)).form(&form(csrf_in(&html))).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), "/t/first/");
    let res = client.get(format!("{}/t/first/", app.base)).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK, "signed in");
    assert_eq!(session_rows(&app).await, 1);
}

#[tokio::test]
async fn signing_in_from_the_page_works_through_the_csrf_cookie() {
    let app = spawn_app().await;
    let res = app.get("/t/acme/login").await;
    assert_eq!(res.status(), StatusCode::OK);
    let cookie = csrf_cookie(&res).expect("a CSRF cookie");
    assert!(cookie.starts_with("relaydesk_csrf="), "{cookie}");
    for attribute in ["HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(cookie.contains(attribute), "{attribute}: {cookie}");
    }
    assert!(!cookie.contains("Secure"), "plain http public URL: {cookie}");
    assert!(!cookie.contains("Max-Age") && !cookie.contains("Expires"), "gone with the browser: {cookie}");
    assert_eq!(set_cookies(&res).len(), 1, "and no session cookie");
    let token = csrf_in(&res.text().await.unwrap());
    let cookie_value = cookie.split(';').next().unwrap().split_once('=').unwrap().1.to_owned();
    assert!(!token.contains(&cookie_value) && !cookie_value.contains(&token), "the form does not hold the cookie");

    // The next page keeps the cookie: no new one, and a token of the same cookie.
    let again = app.get("/t/acme/password/forgot").await;
    assert!(csrf_cookie(&again).is_none(), "the cookie is kept");
    let second_token = csrf_in(&again.text().await.unwrap());

    // A wrong password re-renders the form, still without a session.
    let res =
        app.post_raw("/t/acme/login", &[("email", ADMIN_EMAIL), ("password", "wrong"), ("csrf_token", &token)]).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(app.session_cookie().is_none());
    assert_eq!(session_rows(&app).await, 0);
    let token = csrf_in(&res.text().await.unwrap());

    let res = app
        .post_raw("/t/acme/login", &[("email", ADMIN_EMAIL), ("password", ADMIN_PASSWORD), ("csrf_token", &token)])
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), "/t/acme/");
    assert!(set_cookies(&res).iter().any(|c| c.starts_with("relaydesk_session=")));
    assert_eq!(app.get("/t/acme/").await.status(), StatusCode::OK);
    assert_eq!(session_rows(&app).await, 1);

    // Signed in, the session's own token is the one: a token of the visitor cookie is not.
    let res = app.post_raw("/t/acme/logout", &[("csrf_token", &second_token)]).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.get("/t/acme/").await.status(), StatusCode::OK, "still signed in");
    let res = app.post("/t/acme/logout", &[]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    // Signed out, the sign-in page shows the message and takes the cookie's tokens again.
    assert!(app.page("/t/acme/login").await.contains("You have signed out."));
    app.sign_in_admin().await;
}

#[tokio::test]
async fn a_missing_forged_or_foreign_token_is_refused_and_changes_nothing() {
    let app = spawn_app().await;
    let mine = app.share();
    let theirs = app.share();
    let my_token = csrf_in(&mine.page("/t/acme/login").await);
    let their_token = csrf_in(&theirs.page("/t/acme/login").await);
    assert_ne!(my_token, their_token);
    let (at, signature) = my_token.split_once('.').expect("a time and a signature");
    let later: i64 = at.parse::<i64>().unwrap() + 1;

    let sign_in = |token: Option<String>| {
        let mut form = vec![("email", ADMIN_EMAIL.to_owned()), ("password", ADMIN_PASSWORD.to_owned())];
        form.extend(token.map(|t| ("csrf_token", t)));
        form
    };
    for token in [
        None,
        Some(String::new()),
        Some("forged".to_owned()),
        Some(their_token.clone()),
        Some(format!("{later}.{signature}")),
        Some(format!("{at}.{}", "A".repeat(43))),
    ] {
        let res = mine.client.post(mine.url("/t/acme/login")).form(&sign_in(token.clone())).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{token:?}");
        assert!(res.text().await.unwrap().contains(EXPIRED));
    }
    // A visitor's token sent with no cookie, or with a cookie the server did not sign.
    let (bare, _) = new_client();
    let res = bare.post(app.url("/t/acme/login")).form(&sign_in(Some(my_token.clone()))).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let res = bare
        .post(app.url("/t/acme/login"))
        .header("cookie", format!("relaydesk_csrf=chosen.{signature}"))
        .form(&sign_in(Some(my_token.clone())))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    // The same refusals in the header.
    let res = mine.client.post(mine.url("/t/acme/login")).header("x-csrf-token", &their_token).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);

    assert_eq!(session_rows(&app).await, 0, "nobody signed in");
    assert_eq!(app.count("SELECT COUNT(*) FROM audit_log WHERE action LIKE 'user.sign%'").await, 0);
    // Each visitor's own token still works.
    let res = mine.client.post(mine.url("/t/acme/login")).form(&sign_in(Some(my_token))).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let res = theirs.client.post(theirs.url("/t/acme/login")).form(&sign_in(Some(their_token))).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn a_visitors_token_lasts_as_long_as_a_session_may() {
    let app = spawn_app().await;
    let limit = app.state.config.session_absolute;
    let old = csrf_in(&app.page("/t/acme/password/forgot").await);
    app.advance(limit);
    let fresh = csrf_in(&app.page("/t/acme/password/forgot").await);
    app.advance(Duration::from_secs(1));
    let res = app.post_raw("/t/acme/password/forgot", &[("email", ADMIN_EMAIL), ("csrf_token", &old)]).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN, "past the limit");
    assert!(res.text().await.unwrap().contains(EXPIRED));
    let res = app.post_raw("/t/acme/password/forgot", &[("email", ADMIN_EMAIL), ("csrf_token", &fresh)]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "within it");
}

#[tokio::test]
async fn over_https_the_cookie_is_secure_and_for_this_host_only() {
    let app = spawn_app_with(|c| c.public_url = "https://mail.example.com".parse().unwrap()).await;
    let res = app.get("/t/acme/login").await;
    let cookie = csrf_cookie(&res).expect("a CSRF cookie");
    assert!(cookie.starts_with("__Host-relaydesk_csrf="), "{cookie}");
    for attribute in ["Secure", "HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(cookie.contains(attribute), "{attribute}: {cookie}");
    }
    assert!(!cookie.contains("Domain"), "{cookie}");
    // The plain name is not taken in its place.
    let token = csrf_in(&res.text().await.unwrap());
    let value = cookie.split(';').next().unwrap().split_once('=').unwrap().1.to_owned();
    let (client, _) = new_client();
    let form = [("email", ADMIN_EMAIL), ("password", ADMIN_PASSWORD), ("csrf_token", &token)];
    let send = |name: &str| {
        client.post(app.url("/t/acme/login")).header("cookie", format!("{name}={value}")).form(&form).send()
    };
    assert_eq!(send("relaydesk_csrf").await.unwrap().status(), StatusCode::FORBIDDEN);
    assert_eq!(send("__Host-relaydesk_csrf").await.unwrap().status(), StatusCode::SEE_OTHER);
}
