//! Connection limits with real sockets: a request head sent halfway or byte by byte is cut
//! off after the header timeout, a quiet keep-alive connection after the idle timeout, a
//! request whose body never ends gets 408 after the request timeout, an oversized body
//! 413; over the connection cap new clients wait while open connections go on, and are
//! served as soon as one closes.
//!
//! The socket timeouts are real time, so they are set to 1 s and every bound is generous:
//! a cut-off must come after most of the timeout and well before the next one could apply.
//! The header, idle and cap tests run the `relaydesk` binary with the settings in its
//! environment, as an operator would.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::*;
use crate::key_safety::Server;

/// A socket to the server at `base` (`http://127.0.0.1:port`).
async fn connect(base: &str) -> TcpStream {
    TcpStream::connect(base.trim_start_matches("http://")).await.unwrap()
}

/// Waits until the server closes `socket` (an end of stream or a reset) and returns how
/// long that took; panics if it is still open after `within`.
async fn closed_by_server(socket: &mut TcpStream, within: Duration) -> Duration {
    let started = Instant::now();
    let mut buf = [0u8; 1024];
    loop {
        match tokio::time::timeout_at((started + within).into(), socket.read(&mut buf)).await {
            Err(_) => panic!("the server kept the connection open for {within:?}"),
            Ok(Ok(0)) | Ok(Err(_)) => return started.elapsed(),
            Ok(Ok(_)) => {}
        }
    }
}

/// Sends `GET /healthz` on `socket` and reads the whole response (the connection stays
/// open).
async fn healthz_on(socket: &mut TcpStream) -> String {
    socket.write_all(b"GET /healthz HTTP/1.1\r\nHost: relaydesk.test\r\n\r\n").await.unwrap();
    let mut response = Vec::new();
    let mut buf = [0u8; 1024];
    while !response.ends_with(b"\r\n\r\nok") {
        let n = tokio::time::timeout(Duration::from_secs(10), socket.read(&mut buf))
            .await
            .expect("an answer to /healthz")
            .unwrap();
        assert_ne!(n, 0, "closed before the answer: {}", String::from_utf8_lossy(&response));
        response.extend_from_slice(&buf[..n]);
    }
    String::from_utf8(response).unwrap()
}

/// `GET /healthz` from a new client (a new connection).
async fn healthz(base: &str) -> reqwest::Result<reqwest::Response> {
    reqwest::Client::builder().pool_max_idle_per_host(0).build().unwrap().get(format!("{base}/healthz")).send().await
}

#[tokio::test]
async fn a_request_head_that_does_not_arrive_in_time_is_cut_off() {
    let dir = tempfile::tempdir().unwrap();
    let env = [("RELAYDESK_HEADER_TIMEOUT", "1"), ("RELAYDESK_IDLE_TIMEOUT", "60")];
    let server = Server::start_with(dir.path(), &env).await;

    // Half a head, then nothing.
    let mut socket = connect(&server.base).await;
    socket.write_all(b"GET /healthz HTTP/1.1\r\nHost: relaydesk.test\r\n").await.unwrap();
    let took = closed_by_server(&mut socket, Duration::from_secs(20)).await;
    assert!(took >= Duration::from_millis(900), "not before the timeout: {took:?}");

    // A head sent one byte at a time, each well within any idle limit: the head as a
    // whole must still arrive in time.
    let mut socket = connect(&server.base).await;
    let started = Instant::now();
    let head =
        b"GET /healthz HTTP/1.1\r\nHost: relaydesk.test\r\nX-Padding: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n";
    let mut cut_off = false;
    for byte in head {
        if socket.write_all(&[*byte]).await.is_err() {
            cut_off = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        if started.elapsed() > Duration::from_secs(3) {
            break;
        }
    }
    if !cut_off {
        closed_by_server(&mut socket, Duration::from_secs(20)).await;
    }
    assert!(started.elapsed() < Duration::from_secs(20));

    // A whole head in time is answered.
    let mut socket = connect(&server.base).await;
    assert!(healthz_on(&mut socket).await.starts_with("HTTP/1.1 200 OK\r\n"));
    server.stop().await;
}

#[tokio::test]
async fn a_quiet_connection_is_closed_after_the_idle_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let env = [("RELAYDESK_HEADER_TIMEOUT", "60"), ("RELAYDESK_IDLE_TIMEOUT", "1")];
    let server = Server::start_with(dir.path(), &env).await;

    // Kept alive after an answer, then quiet.
    let mut socket = connect(&server.base).await;
    assert!(healthz_on(&mut socket).await.starts_with("HTTP/1.1 200 OK\r\n"));
    assert!(healthz_on(&mut socket).await.starts_with("HTTP/1.1 200 OK\r\n"), "kept alive");
    let took = closed_by_server(&mut socket, Duration::from_secs(20)).await;
    assert!(took >= Duration::from_millis(900), "not before the timeout: {took:?}");

    // Opened and never used.
    let mut socket = connect(&server.base).await;
    let took = closed_by_server(&mut socket, Duration::from_secs(20)).await;
    assert!(took >= Duration::from_millis(900), "not before the timeout: {took:?}");
    server.stop().await;
}

#[tokio::test]
async fn over_the_connection_cap_new_clients_wait_and_open_connections_go_on() {
    let dir = tempfile::tempdir().unwrap();
    let env =
        [("RELAYDESK_MAX_CONNECTIONS", "2"), ("RELAYDESK_HEADER_TIMEOUT", "60"), ("RELAYDESK_IDLE_TIMEOUT", "60")];
    let mut server = Server::start_with(dir.path(), &env).await;
    let base = server.base.clone();

    let mut first = connect(&base).await;
    assert!(healthz_on(&mut first).await.starts_with("HTTP/1.1 200 OK\r\n"));
    let second = connect(&base).await;

    // Both connections are taken: a new client waits.
    let waiting = tokio::spawn({
        let base = base.clone();
        async move { healthz(&base).await }
    });
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(!waiting.is_finished(), "a third connection is not served while two are open");
    server.wait_for("all connections are in use (RELAYDESK_MAX_CONNECTIONS): new ones wait until one closes").await;

    // The open connections go on.
    assert!(healthz_on(&mut first).await.starts_with("HTTP/1.1 200 OK\r\n"));

    // One closes: the waiting client is served.
    drop(second);
    let res = tokio::time::timeout(Duration::from_secs(10), waiting).await.expect("served once a slot frees");
    assert_eq!(res.unwrap().unwrap().status(), StatusCode::OK);

    drop(first);
    for _ in 0..5 {
        let res = tokio::time::timeout(Duration::from_secs(10), healthz(&base)).await.expect("recovered");
        assert_eq!(res.unwrap().status(), StatusCode::OK);
    }
    server.stop().await;
}

#[tokio::test]
async fn a_request_whose_body_never_ends_gets_408_after_the_request_timeout() {
    let app = spawn_app_with(|c| c.limits.request_timeout = Duration::from_secs(1)).await;
    // A real form: the session (or CSRF) cookie and token of the sign-in page.
    let res = app.client.get(app.url("/t/acme/login")).send().await.unwrap();
    let cookies: Vec<String> = set_cookies(&res).iter().map(|c| c.split(';').next().unwrap().to_owned()).collect();
    let token = csrf_in(&res.text().await.unwrap());

    let mut socket = connect(&app.base).await;
    let head = format!(
        "POST /t/acme/login HTTP/1.1\r\nHost: relaydesk.test\r\nCookie: {}\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\ncsrf_token={token}&email=",
        cookies.join("; ")
    );
    let started = Instant::now();
    socket.write_all(head.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    let mut buf = [0u8; 1024];
    while !response.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = tokio::time::timeout(Duration::from_secs(20), socket.read(&mut buf))
            .await
            .expect("an answer within the request timeout")
            .unwrap();
        assert_ne!(n, 0, "closed without an answer");
        response.extend_from_slice(&buf[..n]);
    }
    let took = started.elapsed();
    let response = String::from_utf8_lossy(&response);
    assert!(response.starts_with("HTTP/1.1 408 Request Timeout\r\n"), "{response}");
    assert!(took >= Duration::from_millis(900), "not before the timeout: {took:?}");
    assert_eq!(healthz(&app.base).await.unwrap().status(), StatusCode::OK);
}

#[tokio::test]
async fn a_body_over_the_limit_is_refused_with_413() {
    let app = spawn_app().await;
    let limit = relaydesk::auth::csrf::MAX_FORM_BYTES;
    assert_eq!(limit, 256 * 1024, "the limit the README states");

    // Announced too long: refused before a byte of it is read.
    let mut socket = connect(&app.base).await;
    socket
        .write_all(
            b"POST /t/acme/login HTTP/1.1\r\nHost: relaydesk.test\r\nContent-Type: application/x-www-form-urlencoded\r\n\
              Content-Length: 100000000\r\n\r\n",
        )
        .await
        .unwrap();
    let mut buf = [0u8; 64];
    let n = tokio::time::timeout(Duration::from_secs(10), socket.read(&mut buf)).await.expect("answered").unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 413 Payload Too Large\r\n"));

    // Sent in full, one byte over: refused; at the limit: read and answered.
    app.sign_in_admin().await;
    let token = app.csrf().await;
    for size in [limit + 1, limit] {
        let prefix = format!("csrf_token={token}&enabled=on&padding=");
        let body = format!("{prefix}{}", "a".repeat(size - prefix.len()));
        let res = app
            .client
            .post(app.url("/t/acme/settings/email"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap();
        if size > limit {
            assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE, "{size} bytes");
        } else {
            assert_ne!(res.status(), StatusCode::PAYLOAD_TOO_LARGE, "{size} bytes");
            assert!(res.status().is_redirection() || res.status().is_client_error(), "{}", res.status());
        }
    }
}
