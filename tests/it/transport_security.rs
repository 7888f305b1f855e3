//! `Strict-Transport-Security` is sent when the public URL is https, on every answer, and
//! never when it is http (a browser would then refuse the plain address it was given).

use reqwest::StatusCode;

use crate::helpers::*;

const PAGES: [&str; 4] = ["/healthz", "/t/acme/login", "/static/css/app.css", "/no/such/page"];

#[tokio::test]
async fn an_https_public_url_sends_strict_transport_security() {
    let app = spawn_app_with(|c| c.public_url = "https://mail.acme.test/".parse().unwrap()).await;
    for path in PAGES {
        let res = app.get(path).await;
        assert_eq!(
            res.headers().get("strict-transport-security").map(|v| v.to_str().unwrap()),
            Some("max-age=31536000"),
            "{path}"
        );
    }
    let res = app.client.post(app.url("/t/acme/login")).form(&[("email", "x")]).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN, "no CSRF token");
    assert!(res.headers().contains_key("strict-transport-security"), "errors too");
}

#[tokio::test]
async fn an_http_public_url_sends_none() {
    let app = spawn_app().await;
    assert!(app.base.starts_with("http://"));
    for path in PAGES {
        let res = app.get(path).await;
        assert!(!res.headers().contains_key("strict-transport-security"), "{path}");
    }
}
