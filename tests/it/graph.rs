//! MS Graph profiles against a local stand-in for Microsoft's two services, which checks
//! what relaydesk sends: the client-credentials token request, then sendMail.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Form, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::helpers::*;
use crate::smtp::{graph, with};

/// A token request: the tenant in the path and the form fields.
type TokenRequest = (String, HashMap<String, String>);

#[derive(Clone, Default)]
struct Fake {
    tokens: Arc<Mutex<Vec<TokenRequest>>>,
    sent: Arc<Mutex<Vec<(String, Value)>>>,
}

async fn token(
    State(fake): State<Fake>,
    Path(tenant): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> (StatusCode, Json<Value>) {
    fake.tokens.lock().unwrap().push((tenant, form.clone()));
    if form.get("client_secret").map(String::as_str) == Some("very~secret~value") {
        (StatusCode::OK, Json(json!({ "access_token": "token-123", "token_type": "Bearer", "expires_in": 3599 })))
    } else {
        (
            StatusCode::UNAUTHORIZED,
            Json(json!({
                "error": "invalid_client",
                "error_description": "AADSTS7000215: Invalid client secret provided.\r\nTrace ID: 1234",
            })),
        )
    }
}

async fn send_mail(
    State(fake): State<Fake>,
    Path(user): Path<String>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> (StatusCode, Json<Value>) {
    if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some("Bearer token-123") {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({ "error": { "code": "InvalidAuthenticationToken", "message": "Access token is empty." } })),
        );
    }
    fake.sent.lock().unwrap().push((user, body));
    (StatusCode::ACCEPTED, Json(json!({})))
}

async fn start_fake() -> (String, Fake) {
    let fake = Fake::default();
    let app = Router::new()
        .route("/{tenant}/oauth2/v2.0/token", post(token))
        .route("/v1.0/users/{user}/sendMail", post(send_mail))
        .with_state(fake.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (base, fake)
}

async fn graph_app(base: &str) -> TestApp {
    let base: url::Url = base.parse().unwrap();
    let app = spawn_app_with(|c| {
        c.graph_login_url = base.clone();
        c.graph_api_url = base.clone();
    })
    .await;
    app.sign_in_admin().await;
    app
}

async fn flash(app: &TestApp) -> String {
    let html = app.page("/t/acme/smtp").await;
    let start = html.find("class=\"flash").unwrap();
    let text = &html[start..];
    text[text.find('>').unwrap() + 1..text.find("</div>").unwrap()].replace("&#39;", "'")
}

#[tokio::test]
async fn a_graph_test_email_gets_a_token_then_calls_send_mail() {
    let (base, fake) = start_fake().await;
    let app = graph_app(&base).await;
    let id = app.create_profile(&graph("Graph_Main")).await;
    let res = app.post(&format!("/t/acme/smtp/{id}/test"), &[("to", "ada@example.test")]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(flash(&app).await, "Test email sent to ada@example.test.");

    let tokens = fake.tokens.lock().unwrap().clone();
    assert_eq!(tokens.len(), 1);
    let (tenant, form) = &tokens[0];
    assert_eq!(tenant, "acme.onmicrosoft.com");
    assert_eq!(form["grant_type"], "client_credentials");
    assert_eq!(form["client_id"], "0f8fad5b-d9cb-469f-a165-70867728950e");
    assert_eq!(form["scope"], "https://graph.microsoft.com/.default");

    let sent = fake.sent.lock().unwrap().clone();
    assert_eq!(sent.len(), 1);
    let (user, body) = &sent[0];
    assert_eq!(user, "sender@acme.test");
    assert_eq!(body["saveToSentItems"], json!(false));
    assert_eq!(body["message"]["subject"], "relaydesk test email: Graph_Main");
    assert_eq!(body["message"]["toRecipients"][0]["emailAddress"]["address"], "ada@example.test");
    let html = body["message"]["body"]["content"].as_str().unwrap();
    assert!(html.contains("MS Graph API") && html.contains("sender@acme.test"), "{html}");
    assert!(!body.to_string().contains("graph-password-1") && !body.to_string().contains("very~secret~value"));
}

#[tokio::test]
async fn a_rejected_graph_login_shows_microsofts_code_and_description() {
    let (base, _fake) = start_fake().await;
    let app = graph_app(&base).await;
    let id = app.create_profile(&with(graph("Graph_Bad"), "graph_client_secret", "wrong-secret")).await;
    app.post(&format!("/t/acme/smtp/{id}/test"), &[("to", "ada@example.test")]).await;
    let shown = flash(&app).await;
    assert!(
        shown.contains("Microsoft rejected the login (invalid_client: AADSTS7000215: Invalid client secret provided.)"),
        "{shown}"
    );
    assert!(!shown.contains("wrong-secret"));
}

#[tokio::test]
async fn an_invitation_goes_out_through_a_graph_default_profile() {
    let (base, fake) = start_fake().await;
    let app = graph_app(&base).await;
    app.create_profile(&graph("Graph_Main")).await;
    app.post("/t/acme/settings/email", &[("enabled", "on")]).await;
    app.post("/t/acme/invitations", &[("email", "viagraph@example.test"), ("role", "user")]).await;
    wait_until("the outbox worker to send the invitation through Graph", WAIT, || async {
        !fake.sent.lock().unwrap().is_empty()
    })
    .await;
    let sent = fake.sent.lock().unwrap().clone();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].1["message"]["toRecipients"][0]["emailAddress"]["address"], "viagraph@example.test");
    assert!(sent[0].1["message"]["body"]["content"].as_str().unwrap().contains("/invite/"));
}
