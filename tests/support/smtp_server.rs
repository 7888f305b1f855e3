//! A real SMTP server for the tests, on a loopback port: plain, STARTTLS or implicit TLS
//! with a certificate made here by rcgen (signed by a test CA whose PEM the tests paste
//! into a profile), AUTH PLAIN and LOGIN, AUTH XOAUTH2 checked against a bearer-token
//! check (the stand-in authorization server's), and scripted replies that make each kind
//! of failure happen. It records every message it accepted.

#![allow(dead_code)]

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::rustls::{self, ServerConfig};
use tokio_rustls::TlsAcceptor;

/// How the server speaks TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsMode {
    /// Plain text only; STARTTLS is not offered.
    Plain,
    /// Plain at first, STARTTLS offered.
    StartTls,
    /// TLS from the first byte (port 465 style).
    Implicit,
}

/// Decides whether `(user, bearer token)` may sign in with XOAUTH2.
pub type BearerCheck = Arc<dyn Fn(&str, &str) -> bool + Send + Sync>;

/// What the server does; change it while a test runs through `script()`.
#[derive(Clone, Default)]
pub struct Script {
    /// Require this login before MAIL FROM.
    pub auth: Option<(String, String)>,
    /// Offer AUTH XOAUTH2 and require a login before MAIL FROM; a token this check refuses
    /// gets Google's answer (a 334 with a JSON error, then 535 after the client's empty
    /// line), or with `xoauth2_plain_refusal` Microsoft's (535 at once).
    pub xoauth2: Option<BearerCheck>,
    pub xoauth2_plain_refusal: bool,
    /// Answer every AUTH with this reply (`550 5.7.30 …`: Microsoft with passwords off).
    pub auth_reply: Option<String>,
    /// Reply to MAIL FROM, instead of 250.
    pub mail_reply: Option<String>,
    /// Replies to successive RCPT TO commands, then 250.
    pub rcpt_replies: VecDeque<String>,
    /// Replies after successive message bodies, then 250.
    pub data_replies: VecDeque<String>,
    /// After a message body, never answer (a server or network that hangs).
    pub hang_after_data: bool,
    /// Accept connections but never send the greeting (a black hole: a misconfigured relay
    /// or a firewall that lets the connection through and then drops everything).
    pub silent: bool,
    /// Reply to EHLO with this (a server that does not speak ESMTP, such as
    /// `502 5.5.2 Command not recognized`); HELO is still answered with 250.
    pub refuse_ehlo: Option<String>,
    /// Reply to HELO with this instead of 250.
    pub refuse_helo: Option<String>,
    /// Once this many messages were accepted, read every further message body and never
    /// answer it (`hung` counts them): mail in flight at that moment stays in flight.
    pub hang_after: Option<usize>,
    /// Close the connection without a word after this many messages on it (a server that
    /// drops connections it considers idle or used enough).
    pub drop_after: Option<usize>,
    /// Do not offer PIPELINING (RFC 2920) in the EHLO reply, as old servers do not.
    pub no_pipelining: bool,
}

/// One message the server accepted.
#[derive(Debug, Clone)]
pub struct Received {
    pub from: String,
    pub to: Vec<String>,
    /// The message as sent (headers and body), dots unstuffed, CRLF line ends.
    pub data: String,
    pub tls: bool,
    pub user: Option<String>,
    /// The name the client greeted with (the argument of its last EHLO or HELO).
    pub greeting: String,
    /// The command it greeted with: `EHLO` or `HELO`.
    pub greeted_with: String,
    /// The client sent more commands after MAIL FROM before its reply (pipelining).
    pub pipelined: bool,
    /// Its MAIL FROM came with the previous message's content, before that content's
    /// reply (the envelope sent ahead).
    pub ahead: bool,
}

impl Received {
    /// A header's value (first occurrence), unfolded.
    pub fn header(&self, name: &str) -> Option<String> {
        let head = self.data.split("\r\n\r\n").next()?;
        let mut value: Option<String> = None;
        for line in head.split("\r\n") {
            if let Some(v) = value.as_mut() {
                if line.starts_with(' ') || line.starts_with('\t') {
                    v.push_str(line.trim_start());
                    continue;
                }
                break;
            }
            if let Some((k, v)) = line.split_once(':') {
                if k.eq_ignore_ascii_case(name) {
                    value = Some(v.trim().to_owned());
                }
            }
        }
        value
    }

    /// The text/plain part, quoted-printable decoded.
    pub fn text_body(&self) -> String {
        let Some(start) = self.data.find("Content-Type: text/plain") else { return String::new() };
        let part = &self.data[start..];
        let body_start = part.find("\r\n\r\n").map_or(0, |i| i + 4);
        let body = &part[body_start..];
        // The part ends at the next MIME boundary (not at a signature's "-- " line).
        let boundary = self.data.split("boundary=\"").nth(1).and_then(|b| b.split('"').next()).unwrap_or("\u{0}");
        let end = body.find(&format!("\r\n--{boundary}")).unwrap_or(body.len());
        let raw = &body[..end];
        let head = &part[..body_start];
        if head.contains("quoted-printable") {
            decode_qp(raw)
        } else if head.contains("base64") {
            String::from_utf8_lossy(&STANDARD.decode(raw.replace("\r\n", "")).unwrap_or_default()).into_owned()
        } else {
            raw.to_owned()
        }
    }
}

fn decode_qp(text: &str) -> String {
    let mut out = Vec::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'=' if bytes.get(i + 1) == Some(&b'\r') && bytes.get(i + 2) == Some(&b'\n') => i += 3,
            b'=' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => out.push(b),
                    Err(_) => out.extend_from_slice(&bytes[i..i + 3]),
                }
                i += 3;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The running server.
pub struct TestSmtp {
    pub port: u16,
    /// The PEM of the CA that signed the server's certificate.
    pub ca_pem: String,
    received: Arc<Mutex<Vec<Received>>>,
    script: Arc<Mutex<Script>>,
    arrived: Arc<Notify>,
    /// How many connections were opened.
    connections: Arc<Mutex<usize>>,
    /// How many connections have ended (closed by either side).
    ended: Arc<Mutex<usize>>,
    /// How many message bodies were read and left unanswered (`hang_after_data`).
    hung: Arc<Mutex<usize>>,
}

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

struct Shared {
    tls: TlsMode,
    acceptor: TlsAcceptor,
    received: Arc<Mutex<Vec<Received>>>,
    script: Arc<Mutex<Script>>,
    arrived: Arc<Notify>,
    hung: Arc<Mutex<usize>>,
}

/// A test CA and a server certificate for `names`, signed by it.
pub fn certificates(names: &[&str]) -> (String, CertificateDer<'static>, PrivateKeyDer<'static>) {
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name.push(DnType::CommonName, "relaydesk test CA");
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    let ca_key = KeyPair::generate().unwrap();
    let ca_cert = ca.self_signed(&ca_key).unwrap();

    let mut leaf = CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>()).unwrap();
    leaf.distinguished_name.push(DnType::CommonName, names[0]);
    let leaf_key = KeyPair::generate().unwrap();
    let leaf_cert = leaf.signed_by(&leaf_key, &ca_cert, &ca_key).unwrap();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
    (ca_cert.pem(), leaf_cert.der().clone(), key)
}

impl TestSmtp {
    /// A server with a certificate for `localhost` and `127.0.0.1`.
    pub async fn start(tls: TlsMode, script: Script) -> TestSmtp {
        Self::start_with_names(tls, script, &["localhost", "127.0.0.1"]).await
    }

    /// A server whose certificate names only `names` (to test name mismatches).
    pub async fn start_with_names(tls: TlsMode, script: Script, names: &[&str]) -> TestSmtp {
        let (ca_pem, cert, key) = certificates(names);
        let config = ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![cert], key)
            .unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let received = Arc::new(Mutex::new(Vec::new()));
        let script = Arc::new(Mutex::new(script));
        let arrived = Arc::new(Notify::new());
        let connections = Arc::new(Mutex::new(0));
        let ended = Arc::new(Mutex::new(0));
        let hung = Arc::new(Mutex::new(0));
        let shared = Arc::new(Shared {
            tls,
            acceptor: TlsAcceptor::from(Arc::new(config)),
            received: received.clone(),
            script: script.clone(),
            arrived: arrived.clone(),
            hung: hung.clone(),
        });
        let counter = connections.clone();
        let ends = ended.clone();
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                *counter.lock().unwrap() += 1;
                let shared = shared.clone();
                let ends = ends.clone();
                tokio::spawn(async move {
                    let _ = session(shared, socket).await;
                    *ends.lock().unwrap() += 1;
                });
            }
        });
        TestSmtp { port, ca_pem, received, script, arrived, connections, ended, hung }
    }

    /// What the server will do next; change it mid-test.
    pub fn script(&self) -> MutexGuard<'_, Script> {
        self.script.lock().unwrap()
    }

    pub fn messages(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    /// Connections accepted so far. Counted when accepted, before the greeting, so a
    /// client that got any answer from this server is already counted.
    pub fn connections(&self) -> usize {
        *self.connections.lock().unwrap()
    }

    /// Connections that have ended, by either side (QUIT, a hang-up, a drop).
    pub fn ended(&self) -> usize {
        *self.ended.lock().unwrap()
    }

    /// Message bodies read in full and never answered (`hang_after_data`): the sender is
    /// waiting for the reply.
    pub fn hung(&self) -> usize {
        *self.hung.lock().unwrap()
    }

    /// Waits until at least `n` messages arrived (panics after `secs` seconds).
    pub async fn wait_for(&self, n: usize, secs: u64) -> Vec<Received> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
        loop {
            let notified = self.arrived.notified();
            let got = self.messages();
            if got.len() >= n {
                return got;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                panic!("expected {n} messages within {secs} s, got {}", self.messages().len());
            }
        }
    }
}

async fn session(shared: Arc<Shared>, socket: tokio::net::TcpStream) -> std::io::Result<()> {
    let mut tls_on = false;
    let stream: Box<dyn Io> = if shared.tls == TlsMode::Implicit {
        tls_on = true;
        Box::new(shared.acceptor.accept(socket).await?)
    } else {
        Box::new(socket)
    };
    if shared.script.lock().unwrap().silent {
        tokio::time::sleep(Duration::from_secs(3600)).await;
        return Ok(());
    }
    let mut io = BufReader::new(stream);
    reply(&mut io, "220 localhost ESMTP relaydesk-test").await?;
    let mut authed: Option<String> = None;
    let mut from: Option<String> = None;
    let mut to: Vec<String> = Vec::new();
    let mut greeting = String::new();
    let mut greeted_with = String::new();
    let mut accepted_here = 0;
    let mut pipelined = false;
    // Commands came with the last content, before its reply; and whether this
    // transaction's MAIL was among them.
    let (mut after_content, mut ahead) = (false, false);
    loop {
        let drop_after = shared.script.lock().unwrap().drop_after;
        if drop_after.is_some_and(|n| accepted_here >= n) {
            return Ok(());
        }
        let Some(line) = read_line(&mut io).await? else { return Ok(()) };
        let upper = line.to_ascii_uppercase();
        let verb = upper.split_whitespace().next().unwrap_or("").to_owned();
        match verb.as_str() {
            "EHLO" | "HELO" => {
                let refusal = {
                    let script = shared.script.lock().unwrap();
                    if verb == "EHLO" {
                        script.refuse_ehlo.clone()
                    } else {
                        script.refuse_helo.clone()
                    }
                };
                if let Some(refusal) = refusal {
                    reply(&mut io, &refusal).await?;
                    continue;
                }
                greeting = line.split_whitespace().nth(1).unwrap_or_default().to_owned();
                greeted_with = verb.clone();
                if verb == "HELO" {
                    // No extensions after HELO: a plain SMTP server.
                    reply(&mut io, "250 localhost").await?;
                    continue;
                }
                let mut lines = vec!["localhost greets you".to_owned()];
                if shared.tls == TlsMode::StartTls && !tls_on {
                    lines.push("STARTTLS".into());
                }
                {
                    let script = shared.script.lock().unwrap();
                    match (script.auth.is_some(), script.xoauth2.is_some()) {
                        (true, true) => lines.push("AUTH PLAIN LOGIN XOAUTH2".into()),
                        (true, false) => lines.push("AUTH PLAIN LOGIN".into()),
                        (false, true) => lines.push("AUTH XOAUTH2".into()),
                        (false, false) => {}
                    }
                }
                lines.push("8BITMIME".into());
                if !shared.script.lock().unwrap().no_pipelining {
                    lines.push("PIPELINING".into());
                }
                let last = lines.len() - 1;
                let text: Vec<String> = lines
                    .iter()
                    .enumerate()
                    .map(|(i, l)| format!("250{}{l}", if i == last { ' ' } else { '-' }))
                    .collect();
                reply(&mut io, &text.join("\r\n")).await?;
            }
            "STARTTLS" if shared.tls == TlsMode::StartTls && !tls_on => {
                reply(&mut io, "220 2.0.0 Ready to start TLS").await?;
                let inner = io.into_inner();
                let upgraded: Box<dyn Io> = Box::new(shared.acceptor.accept(inner).await?);
                io = BufReader::new(upgraded);
                tls_on = true;
                authed = None;
                from = None;
                to.clear();
            }
            "AUTH" => {
                let scripted = shared.script.lock().unwrap().auth_reply.clone();
                if let Some(r) = scripted {
                    reply(&mut io, &r).await?;
                    continue;
                }
                let parts: Vec<&str> = line.split_whitespace().collect();
                if parts.get(1).is_some_and(|m| m.eq_ignore_ascii_case("XOAUTH2")) {
                    let (check, plain_refusal) = {
                        let script = shared.script.lock().unwrap();
                        (script.xoauth2.clone(), script.xoauth2_plain_refusal)
                    };
                    let Some(check) = check else {
                        reply(&mut io, "504 5.5.4 Unrecognized authentication type").await?;
                        continue;
                    };
                    let decoded = String::from_utf8_lossy(
                        &STANDARD.decode(parts.get(2).unwrap_or(&"").trim()).unwrap_or_default(),
                    )
                    .into_owned();
                    // user=…\x01auth=Bearer …\x01\x01
                    let mut user = "";
                    let mut token = "";
                    for field in decoded.split('\x01') {
                        if let Some(u) = field.strip_prefix("user=") {
                            user = u;
                        } else if let Some(t) = field.strip_prefix("auth=Bearer ") {
                            token = t;
                        }
                    }
                    if check(user, token) {
                        authed = Some(user.to_owned());
                        reply(&mut io, "235 2.7.0 Accepted").await?;
                    } else if plain_refusal {
                        reply(&mut io, "535 5.7.3 Authentication unsuccessful").await?;
                    } else {
                        let error = STANDARD
                            .encode(r#"{"status":"401","schemes":"Bearer","scope":"https://mail.google.com/"}"#);
                        reply(&mut io, &format!("334 {error}")).await?;
                        let _ = read_line(&mut io).await?;
                        reply(&mut io, "535 5.7.8 Username and Password not accepted. Learn more at https://support.google.com/mail/?p=BadCredentials").await?;
                    }
                    continue;
                }
                let expected = shared.script.lock().unwrap().auth.clone();
                let Some((user, pass)) = expected else {
                    reply(&mut io, "503 5.5.1 AUTH not available").await?;
                    continue;
                };
                let parts: Vec<&str> = line.split_whitespace().collect();
                let mechanism = parts.get(1).map(|m| m.to_ascii_uppercase()).unwrap_or_default();
                let (got_user, got_pass) = match mechanism.as_str() {
                    "PLAIN" => {
                        let encoded = match parts.get(2) {
                            Some(e) => e.to_string(),
                            None => {
                                reply(&mut io, "334 ").await?;
                                read_line(&mut io).await?.unwrap_or_default()
                            }
                        };
                        let decoded =
                            String::from_utf8_lossy(&STANDARD.decode(encoded.trim()).unwrap_or_default()).into_owned();
                        let mut fields = decoded.split('\0').skip(1);
                        (fields.next().unwrap_or_default().to_owned(), fields.next().unwrap_or_default().to_owned())
                    }
                    "LOGIN" => {
                        reply(&mut io, "334 VXNlcm5hbWU6").await?;
                        let u = read_line(&mut io).await?.unwrap_or_default();
                        reply(&mut io, "334 UGFzc3dvcmQ6").await?;
                        let p = read_line(&mut io).await?.unwrap_or_default();
                        let dec = |s: &str| {
                            String::from_utf8_lossy(&STANDARD.decode(s.trim()).unwrap_or_default()).into_owned()
                        };
                        (dec(&u), dec(&p))
                    }
                    _ => {
                        reply(&mut io, "504 5.5.4 Unrecognized authentication type").await?;
                        continue;
                    }
                };
                if got_user == user && got_pass == pass {
                    authed = Some(got_user);
                    reply(&mut io, "235 2.7.0 Authentication successful").await?;
                } else {
                    reply(&mut io, "535 5.7.8 Authentication credentials invalid").await?;
                }
            }
            "MAIL" => {
                let needs_auth = {
                    let script = shared.script.lock().unwrap();
                    script.auth.is_some() || script.xoauth2.is_some()
                };
                if needs_auth && authed.is_none() {
                    reply(&mut io, "530 5.7.0 Authentication required").await?;
                    continue;
                }
                // RCPT and DATA already here, sent before this reply: pipelined.
                pipelined = !io.buffer().is_empty();
                ahead = std::mem::take(&mut after_content);
                let scripted = shared.script.lock().unwrap().mail_reply.clone();
                match scripted {
                    Some(r) => reply(&mut io, &r).await?,
                    None => {
                        from = Some(address_in(&line));
                        reply(&mut io, "250 2.1.0 Sender OK").await?;
                    }
                }
            }
            "RCPT" => {
                let scripted = shared.script.lock().unwrap().rcpt_replies.pop_front();
                match scripted {
                    Some(r) => {
                        if r.starts_with('2') {
                            to.push(address_in(&line));
                        }
                        reply(&mut io, &r).await?
                    }
                    None => {
                        to.push(address_in(&line));
                        reply(&mut io, "250 2.1.5 Recipient OK").await?;
                    }
                }
            }
            "DATA" => {
                if from.is_none() || to.is_empty() {
                    reply(&mut io, "503 5.5.1 Need MAIL and RCPT first").await?;
                    continue;
                }
                reply(&mut io, "354 End data with <CR><LF>.<CR><LF>").await?;
                let mut data = String::new();
                loop {
                    let Some(l) = read_line(&mut io).await? else { return Ok(()) };
                    if l == "." {
                        break;
                    }
                    data.push_str(l.strip_prefix('.').unwrap_or(&l));
                    data.push_str("\r\n");
                }
                after_content = !io.buffer().is_empty();
                // Decided and recorded under the script's lock, so `hang_after` is exact
                // however many connections finish a message at once.
                let outcome = {
                    let mut s = shared.script.lock().unwrap();
                    let mut received = shared.received.lock().unwrap();
                    if s.hang_after_data || s.hang_after.is_some_and(|n| received.len() >= n) {
                        *shared.hung.lock().unwrap() += 1;
                        None
                    } else if let Some(r) = s.data_replies.pop_front() {
                        Some(r)
                    } else {
                        accepted_here += 1;
                        received.push(Received {
                            from: from.take().unwrap_or_default(),
                            to: std::mem::take(&mut to),
                            data,
                            tls: tls_on,
                            user: authed.clone(),
                            greeting: greeting.clone(),
                            greeted_with: greeted_with.clone(),
                            pipelined,
                            ahead,
                        });
                        Some("250 2.0.0 Message accepted".to_owned())
                    }
                };
                let Some(answer) = outcome else {
                    tokio::time::sleep(Duration::from_secs(3600)).await;
                    return Ok(());
                };
                shared.arrived.notify_waiters();
                reply(&mut io, &answer).await?;
                from = None;
                to.clear();
            }
            "RSET" => {
                from = None;
                to.clear();
                reply(&mut io, "250 2.0.0 OK").await?;
            }
            "NOOP" => reply(&mut io, "250 2.0.0 OK").await?,
            "QUIT" => {
                reply(&mut io, "221 2.0.0 Bye").await?;
                return Ok(());
            }
            _ => reply(&mut io, "502 5.5.2 Command not recognized").await?,
        }
    }
}

fn address_in(line: &str) -> String {
    let start = line.find('<').map_or(0, |i| i + 1);
    let end = line[start..].find('>').map_or(line.len(), |i| start + i);
    line[start..end].to_owned()
}

async fn read_line(io: &mut BufReader<Box<dyn Io>>) -> std::io::Result<Option<String>> {
    let mut line = String::new();
    if io.read_line(&mut line).await? == 0 {
        return Ok(None);
    }
    Ok(Some(line.trim_end_matches(['\r', '\n']).to_owned()))
}

async fn reply(io: &mut BufReader<Box<dyn Io>>, text: &str) -> std::io::Result<()> {
    let stream = io.get_mut();
    stream.write_all(text.as_bytes()).await?;
    stream.write_all(b"\r\n").await?;
    stream.flush().await
}
