//! Sending over SMTP with lettre's connection, one step at a time, so a failure can say
//! which step failed: connecting, the greeting, TLS, the login, the sender, the recipient
//! or the data. `starttls` is required, never opportunistic: a server that does not offer
//! it is an error, not a reason to go on in the clear.
//!
//! A server that refuses EHLO (one that does not speak ESMTP) is greeted again with HELO
//! when nothing needs ESMTP: lettre always greets with EHLO, so the plain connection it
//! is handed renames that one command ([`Greeter`]). STARTTLS and a login are ESMTP
//! extensions, so with either the refusal is reported, in those words.

use std::error::Error as _;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use lettre::address::Envelope;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, AsyncTokioStream, Certificate, TlsParameters};
use lettre::transport::smtp::commands::{Auth, Data, Mail, Rcpt};
use lettre::transport::smtp::extension::ClientId;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

use super::egress::Grant;
use super::error::SendError;
use secrecy::{ExposeSecret, SecretString};

use crate::domain::smtp::{CaPem, GenericSmtp, Security};

/// Everything needed to reach and log in to an SMTP server: a Generic SMTP profile's
/// settings with the password opened.
pub type SmtpSettings = GenericSmtp<SecretString>;

/// An open connection, ready for mail.
pub struct Connection {
    pub conn: AsyncSmtpConnection,
    /// The server offered PIPELINING (RFC 2920) in its greeting, so a message's MAIL,
    /// RCPT and DATA go in one write and their replies are read after: two round trips
    /// a message instead of four. Known when the server's EHLO reply is read in the
    /// clear (no security, or STARTTLS, whose first EHLO comes before TLS); over
    /// SSL/TLS lettre reads it inside TLS and keeps only the extensions it knows, so
    /// those connections send one command at a time.
    pub pipelining: bool,
    /// The envelope whose MAIL, RCPT and DATA went with the last message's content, their
    /// replies not read yet. Such a connection is only good for a message with this
    /// envelope (which reads them), and is closed without QUIT.
    pub primed: Option<Envelope>,
}

/// How relaydesk names itself in EHLO: its public host, or, when that is an IP address,
/// the address literal (`[127.0.0.1]`) that RFC 5321 requires and strict servers check.
fn client_id(hello: &str) -> ClientId {
    match hello.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(ip)) => ClientId::Ipv4(ip),
        Ok(std::net::IpAddr::V6(ip)) => ClientId::Ipv6(ip),
        Err(_) => ClientId::Domain(hello.to_owned()),
    }
}

/// The step a failure happened in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Connect,
    StartTls,
    Login,
    Sender,
    Recipient,
    Data,
}

/// What a connection check found: how the connection was protected and whether it
/// logged in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Checked {
    /// The connection was encrypted (SSL/TLS or STARTTLS) when it ended.
    pub encrypted: bool,
    /// The server accepted the profile's login.
    pub logged_in: bool,
}

/// Connects, starts TLS and logs in as the profile says, then says goodbye (QUIT)
/// without sending anything. Bounded only by the caller, like [`send`].
pub async fn check(
    settings: &SmtpSettings,
    token: Option<&SecretString>,
    grant: &Grant,
    hello: &str,
    connect_timeout: Duration,
) -> Result<Checked, SendError> {
    let Connection { mut conn, .. } = connect(settings, token, grant, hello, connect_timeout).await?;
    let checked = Checked { encrypted: conn.is_encrypted(), logged_in: settings.auth.is_some() };
    let _ = conn.quit().await;
    Ok(checked)
}

/// Sends `bytes` (a formatted message) from `from` to `to` over a connection of its own;
/// the server's final reply (`250 2.0.0 Ok: queued as …`). Bounded only by the caller:
/// wrap it in a timeout for the whole send.
pub async fn send(
    settings: &SmtpSettings,
    token: Option<&SecretString>,
    grant: &Grant,
    hello: &str,
    connect_timeout: Duration,
    envelope: &Envelope,
    bytes: &[u8],
) -> Result<String, SendError> {
    let mut open = connect(settings, token, grant, hello, connect_timeout).await?;
    match transaction(&mut open, settings, envelope, bytes, None).await {
        Ok(reply) => {
            let _ = open.conn.quit().await;
            Ok(reply)
        }
        Err(failure) => {
            open.conn.abort().await;
            Err(failure.error)
        }
    }
}

/// Opens a connection ready for mail: connected, TLS as the profile says (STARTTLS
/// required, never skipped), logged in.
///
/// The host is resolved once and every address checked against `grant` (the egress
/// policy) before anything is contacted; the connection goes only to those checked
/// addresses, while TLS still verifies the certificate against the host name.
///
/// A login with OAuth signs in with `token` (AUTH XOAUTH2); a password login ignores it.
pub async fn connect(
    settings: &SmtpSettings,
    token: Option<&SecretString>,
    grant: &Grant,
    hello: &str,
    connect_timeout: Duration,
) -> Result<Connection, SendError> {
    let hello = client_id(hello);
    let tls = tls_parameters(settings)?;
    let addrs = grant.resolve(settings.host.as_str(), settings.port.get()).await?;
    let fail = |step, e: lettre::transport::smtp::Error| describe(step, &e, settings, None);

    let (mut conn, pipelining) = match settings.security {
        // TLS from the first byte: lettre's own connect, which wraps the socket itself.
        // The checked addresses, not the name: lettre resolves nothing again.
        Security::Ssl => {
            let conn =
                AsyncSmtpConnection::connect_tokio1(&addrs[..], Some(connect_timeout), &hello, Some(tls.clone()), None)
                    .await
                    .map_err(|e| fail(Step::Connect, e))?;
            (conn, false)
        }
        Security::Starttls | Security::None => greet(settings, &addrs, &hello, connect_timeout).await?,
    };

    if settings.security == Security::Starttls {
        if !conn.can_starttls() {
            conn.abort().await;
            return Err(SendError::permanent(format!(
                "{}:{} does not offer STARTTLS, and relaydesk never sends unencrypted when STARTTLS is chosen. \
                 Check the port (STARTTLS is usually 587), or choose SSL/TLS for port 465.",
                settings.host, settings.port
            )));
        }
        conn.starttls(tls, &hello).await.map_err(|e| fail(Step::StartTls, e))?;
    }
    if let Some(auth) = &settings.auth {
        let signed_in = match (&auth.oauth, token) {
            (Some(_), Some(token)) => xoauth2(&mut conn, settings, auth.username.as_str(), token).await,
            (Some(_), None) => Err(SendError::permanent("relaydesk has no access token for this profile.")),
            (None, _) => {
                let credentials =
                    Credentials::new(auth.username.as_str().to_owned(), auth.password.expose_secret().to_owned());
                conn.auth(&[Mechanism::Plain, Mechanism::Login], &credentials)
                    .await
                    .map(drop)
                    .map_err(|e| fail(Step::Login, e))
            }
        };
        if let Err(e) = signed_in {
            conn.abort().await;
            return Err(e);
        }
    }
    Ok(Connection { conn, pipelining, primed: None })
}

/// AUTH XOAUTH2 with `token` for `user`. A server that refuses the token first answers
/// 334 with a JSON error (Google) and waits for an empty line before its 5xx; lettre's own
/// `auth` gives up at that challenge without reading the reply, so the exchange is done
/// here, with lettre's `Auth` command.
async fn xoauth2(
    conn: &mut AsyncSmtpConnection,
    settings: &SmtpSettings,
    user: &str,
    token: &SecretString,
) -> Result<(), SendError> {
    let host_port = format!("{}:{}", settings.host, settings.port);
    if !conn.server_info().supports_auth_mechanism(Mechanism::Xoauth2) {
        return Err(SendError::permanent(format!(
            "{host_port} does not offer the XOAUTH2 login, so it cannot sign in with OAuth 2.0. Check the host and \
             security mode (Microsoft 365: smtp.office365.com, STARTTLS on 587; Gmail: smtp.gmail.com)."
        )));
    }
    let credentials = Credentials::new(user.to_owned(), token.expose_secret().to_owned());
    let command =
        Auth::new(Mechanism::Xoauth2, credentials, None).map_err(|e| describe(Step::Login, &e, settings, None))?;
    let mut answer = conn.command(command).await;
    if let Ok(response) = &answer {
        if response.has_code(334) {
            // The error challenge: an empty line asks for the final reply.
            answer = conn.command("\r\n").await;
        }
    }
    match answer {
        Ok(response) if response.is_positive() && !response.has_code(334) => Ok(()),
        Ok(response) => Err(SendError {
            token_refused: true,
            ..SendError::permanent(format!(
                "{host_port} refused the access token for {user}: {} {}.",
                response.code(),
                response.message().collect::<Vec<_>>().join(" ")
            ))
        }),
        Err(e) => Err(describe(Step::Login, &e, settings, None)),
    }
}

/// A plain connection greeted with EHLO, or, when the server refuses EHLO and nothing
/// needs ESMTP, with HELO on a second connection; and whether the server offered
/// PIPELINING.
async fn greet(
    settings: &SmtpSettings,
    addrs: &[SocketAddr],
    hello: &ClientId,
    connect_timeout: Duration,
) -> Result<(AsyncSmtpConnection, bool), SendError> {
    let envelope = None;
    let host_port = format!("{}:{}", settings.host, settings.port);
    let (stream, ehlo_sent) = Greeter::connect(settings, addrs, connect_timeout, false).await?;
    let pipelining = stream.pipelining.clone();
    let refusal = match AsyncSmtpConnection::connect_with_transport(Box::new(stream), hello).await {
        Ok(conn) => return Ok((conn, pipelining.load(Ordering::SeqCst))),
        // A 5xx after EHLO went out: the greeting was fine, EHLO was not.
        Err(e) if ehlo_sent.load(Ordering::SeqCst) && e.is_permanent() => reply(&e).unwrap_or_default(),
        Err(e) => return Err(describe(Step::Connect, &e, settings, envelope)),
    };
    let needs = match (settings.security, settings.auth.is_some()) {
        (Security::Starttls, _) => Some("STARTTLS"),
        (_, true) => Some("a login"),
        _ => None,
    };
    if let Some(needs) = needs {
        return Err(SendError::permanent(format!(
            "{host_port} refused relaydesk's EHLO greeting ({refusal}): the server does not speak ESMTP, so it \
             cannot offer {needs}. Check the host and port, or ask the server's administrator."
        )));
    }
    let (stream, helo_sent) = Greeter::connect(settings, addrs, connect_timeout, true).await?;
    match AsyncSmtpConnection::connect_with_transport(Box::new(stream), hello).await {
        // HELO has no extensions.
        Ok(conn) => Ok((conn, false)),
        Err(e) if helo_sent.load(Ordering::SeqCst) && e.is_permanent() => Err(SendError::permanent(format!(
            "{host_port} refused both of relaydesk's greetings, EHLO ({refusal}) and HELO ({}). Ask the server's \
             administrator whether it accepts mail from relaydesk.",
            reply(&e).unwrap_or_default()
        ))),
        Err(e) => Err(describe(Step::Connect, &e, settings, envelope)),
    }
}

/// A plain TCP connection handed to lettre, which notes when EHLO goes out and whether
/// the server's reply offers PIPELINING, and, for the HELO fallback, sends that one
/// command as HELO (the same length, so the bytes written are counted the same).
#[derive(Debug)]
struct Greeter {
    inner: TcpStream,
    helo: bool,
    /// Bytes of `HELO` still to put in place of `EHLO` (a write may take only part).
    rewrite_left: usize,
    ehlo_sent: Arc<AtomicBool>,
    /// The last bytes read, so a reply line split over two reads is still seen whole.
    tail: Vec<u8>,
    pipelining: Arc<AtomicBool>,
    /// lettre has written a command after EHLO, so the EHLO reply has been read.
    greeted: bool,
}

/// PIPELINING as a line of an EHLO reply names it (`250-PIPELINING` or, last, `250 PIPELINING`).
const PIPELINING: &[u8] = b"250-PIPELINING\r\n";
const PIPELINING_LAST: &[u8] = b"250 PIPELINING\r\n";

impl Greeter {
    /// Notes PIPELINING in the bytes just read between EHLO and lettre's next command
    /// (the EHLO reply, in the clear: what comes after STARTTLS is not looked at).
    fn sniff(&mut self, read: &[u8]) {
        if self.greeted || !self.ehlo_sent.load(Ordering::SeqCst) || read.is_empty() {
            return;
        }
        self.tail.extend_from_slice(read);
        let found = |needle: &[u8]| self.tail.windows(needle.len()).any(|w| w == needle);
        if found(PIPELINING) || found(PIPELINING_LAST) {
            self.pipelining.store(true, Ordering::SeqCst);
        }
        let keep = self.tail.len().saturating_sub(PIPELINING.len() - 1);
        self.tail.drain(..keep);
    }
}

impl Greeter {
    /// Connects to the first of the checked `addrs` that answers (never to the name).
    async fn connect(
        settings: &SmtpSettings,
        addrs: &[SocketAddr],
        connect_timeout: Duration,
        helo: bool,
    ) -> Result<(Greeter, Arc<AtomicBool>), SendError> {
        let connecting = TcpStream::connect(addrs);
        let inner = match tokio::time::timeout(connect_timeout, connecting).await {
            Ok(Ok(stream)) => stream,
            Ok(Err(e)) => return Err(describe_cause(Step::Connect, &e, Flags::default(), settings)),
            Err(_) => {
                let e = io::Error::new(io::ErrorKind::TimedOut, "connection timed out");
                return Err(describe_cause(Step::Connect, &e, Flags::default(), settings));
            }
        };
        let sent = Arc::new(AtomicBool::new(false));
        let greeter = Greeter {
            inner,
            helo,
            rewrite_left: 0,
            ehlo_sent: sent.clone(),
            tail: Vec::new(),
            pipelining: Arc::new(AtomicBool::new(false)),
            greeted: false,
        };
        Ok((greeter, sent))
    }
}

impl AsyncRead for Greeter {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let read = Pin::new(&mut this.inner).poll_read(cx, buf);
        if matches!(read, Poll::Ready(Ok(()))) && !this.pipelining.load(Ordering::Relaxed) {
            this.sniff(&buf.filled()[before..]);
        }
        read
    }
}

impl AsyncWrite for Greeter {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        const HELO: &[u8; 4] = b"HELO";
        let this = self.get_mut();
        if this.ehlo_sent.load(Ordering::SeqCst) && this.rewrite_left == 0 && !buf.starts_with(b"EHLO ") {
            this.greeted = true;
        }
        if !this.ehlo_sent.load(Ordering::SeqCst) && buf.starts_with(b"EHLO ") {
            this.ehlo_sent.store(true, Ordering::SeqCst);
            if this.helo {
                this.rewrite_left = HELO.len();
            }
        }
        if this.rewrite_left == 0 {
            return Pin::new(&mut this.inner).poll_write(cx, buf);
        }
        let done = HELO.len() - this.rewrite_left;
        let k = this.rewrite_left.min(buf.len());
        let mut renamed = buf.to_vec();
        renamed[..k].copy_from_slice(&HELO[done..done + k]);
        let written = Pin::new(&mut this.inner).poll_write(cx, &renamed);
        if let Poll::Ready(Ok(n)) = written {
            this.rewrite_left -= n.min(k);
        }
        written
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

impl AsyncTokioStream for Greeter {
    fn peer_addr(&self) -> io::Result<std::net::SocketAddr> {
        self.inner.peer_addr()
    }
}

/// A failed mail transaction.
#[derive(Debug)]
pub struct Failure {
    pub error: SendError,
    /// The connection was already gone when the transaction began (no reply at all to
    /// MAIL FROM): a reused connection the server closed while it was idle. Nothing was
    /// sent, and a new connection may try at once.
    pub stale: bool,
}

/// One message over an open connection: MAIL, RCPT for each recipient, DATA (in one
/// write when the server offers PIPELINING, their replies read in order after), then the
/// content. With PIPELINING and a `next` envelope, the next message's MAIL, RCPT and DATA
/// go in the same write as the content (RFC 2920 allows content first in a group, DATA
/// last), so a message costs one round trip: the next transaction finds them sent
/// ([`Connection::primed`]) and reads their replies as its own. After a failure the
/// connection is in an unknown state: close it. The server's final reply
/// (`250 2.0.0 Ok: queued as …`).
pub async fn transaction(
    open: &mut Connection,
    settings: &SmtpSettings,
    envelope: &Envelope,
    bytes: &[u8],
    next: Option<&Envelope>,
) -> Result<String, Failure> {
    let fail = |step, e: lettre::transport::smtp::Error| Failure {
        stale: step == Step::Sender && e.status().is_none(),
        error: describe(step, &e, settings, Some(envelope)),
    };
    let conn = &mut open.conn;
    match open.primed.take() {
        // Sent with the last message's content: only the replies are left to read.
        Some(primed) if primed == *envelope => {
            conn.read_response().await.map_err(|e| fail(Step::Sender, e))?;
            for _ in envelope.to() {
                conn.read_response().await.map_err(|e| fail(Step::Recipient, e))?;
            }
            conn.read_response().await.map_err(|e| fail(Step::Data, e))?;
        }
        Some(_) => {
            // Set for another message: of no use, and nothing of this one was sent.
            let error = SendError::transient("The connection was set for another message.");
            return Err(Failure { stale: true, error });
        }
        None if open.pipelining => {
            conn.command(envelope_group(envelope)).await.map_err(|e| fail(Step::Sender, e))?;
            for _ in envelope.to() {
                conn.read_response().await.map_err(|e| fail(Step::Recipient, e))?;
            }
            conn.read_response().await.map_err(|e| fail(Step::Data, e))?;
        }
        None => {
            conn.command(Mail::new(envelope.from().cloned(), vec![])).await.map_err(|e| fail(Step::Sender, e))?;
            for to in envelope.to() {
                conn.command(Rcpt::new(to.clone(), vec![])).await.map_err(|e| fail(Step::Recipient, e))?;
            }
            conn.command(Data).await.map_err(|e| fail(Step::Data, e))?;
        }
    }
    let next = next.filter(|_| open.pipelining);
    let accepted = match DataBody::of(bytes) {
        Some(DataBody(mut body)) => {
            if let Some(next) = next {
                body.push_str(&envelope_group(next));
                open.primed = Some(next.clone());
            }
            conn.command(body).await.map_err(|e| fail(Step::Data, e))?
        }
        None => conn.message(bytes).await.map_err(|e| fail(Step::Data, e))?,
    };
    Ok(format!("{} {}", accepted.code(), accepted.message().collect::<Vec<_>>().join(" ")).trim().to_owned())
}

/// MAIL, RCPT for each recipient and DATA, as one pipelined write.
fn envelope_group(envelope: &Envelope) -> String {
    use std::fmt::Write as _;
    let mut group = Mail::new(envelope.from().cloned(), vec![]).to_string();
    for to in envelope.to() {
        let _ = write!(group, "{}", Rcpt::new(to.clone(), vec![]));
    }
    let _ = write!(group, "{Data}");
    group
}

/// A message as it goes after DATA, in one write: a dot that starts a line doubled (RFC
/// 5321 4.5.2), then `CRLF . CRLF`, byte for byte what lettre's `message` sends.
///
/// lettre writes the body and the final `CRLF . CRLF` in two writes on a socket without
/// `TCP_NODELAY`. Nagle's algorithm then holds the small second write until the server
/// acknowledges the body, and the server, which answers nothing before the final dot,
/// delays that acknowledgement (Linux: about 40 ms). That cost every message about 44 ms
/// against a local server, whatever its speed; one write has nothing to hold back.
struct DataBody(String);

impl DataBody {
    /// `None` for a message that is not UTF-8 (ours always are: headers are encoded and
    /// bodies quoted-printable or base64); lettre's own two writes send it then.
    fn of(bytes: &[u8]) -> Option<DataBody> {
        let text = std::str::from_utf8(bytes).ok()?;
        let mut out = String::with_capacity(text.len() + 16);
        // A line starts the text or follows a CRLF.
        for line in text.split_inclusive("\r\n") {
            if line.starts_with('.') {
                out.push('.');
            }
            out.push_str(line);
        }
        out.push_str("\r\n.\r\n");
        Some(DataBody(out))
    }
}

impl std::fmt::Display for DataBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn tls_parameters(settings: &SmtpSettings) -> Result<TlsParameters, SendError> {
    let mut builder = TlsParameters::builder(settings.host.as_str().to_owned())
        .dangerous_accept_invalid_certs(!settings.tls_verify)
        .dangerous_accept_invalid_hostnames(!settings.tls_verify);
    if let Some(pem) = settings.ca_pem.as_ref().map(CaPem::as_str) {
        for block in pem_blocks(pem) {
            let cert = Certificate::from_pem(block.as_bytes()).map_err(|_| {
                SendError::permanent(
                    "The Trusted CA of this profile is not a certificate relaydesk can read. Paste it again.",
                )
            })?;
            builder = builder.add_root_certificate(cert);
        }
    }
    builder
        .build_rustls()
        .map_err(|e| SendError::permanent(format!("relaydesk could not set up TLS for this profile: {e}")))
}

/// Each `-----BEGIN CERTIFICATE-----` … `-----END CERTIFICATE-----` block of a bundle.
fn pem_blocks(pem: &str) -> Vec<String> {
    const END: &str = "-----END CERTIFICATE-----";
    let mut blocks = Vec::new();
    let mut rest = pem;
    while let Some(start) = rest.find("-----BEGIN CERTIFICATE-----") {
        let Some(end) = rest[start..].find(END) else { break };
        let stop = start + end + END.len();
        blocks.push(format!("{}\n", &rest[start..stop]));
        rest = &rest[stop..];
    }
    blocks
}

/// The server's reply, as `535 5.7.8 Authentication failed`.
fn reply(e: &lettre::transport::smtp::Error) -> Option<String> {
    let code = e.status()?;
    let text = e.source().map(|s| s.to_string()).unwrap_or_default();
    Some(format!("{code} {text}").trim().to_owned())
}

/// Walks the error's sources for an I/O error or a rustls error.
fn root_causes<'a>(
    e: &'a (dyn std::error::Error + 'static),
) -> (Option<std::io::ErrorKind>, Option<&'a rustls::Error>, String) {
    let mut io_kind = None;
    let mut tls = None;
    let mut text = String::new();
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = current {
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            io_kind.get_or_insert(io.kind());
            if let Some(inner) = io.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
                tls.get_or_insert(inner);
            }
        }
        if let Some(r) = err.downcast_ref::<rustls::Error>() {
            tls.get_or_insert(r);
        }
        text.push_str(&err.to_string());
        text.push_str(" | ");
        current = err.source();
    }
    (io_kind, tls, text.to_lowercase())
}

fn describe_tls(tls: &rustls::Error, settings: &SmtpSettings) -> String {
    use rustls::CertificateError as C;
    let host = &settings.host;
    match tls {
        rustls::Error::InvalidCertificate(C::UnknownIssuer) => format!(
            "TLS failed: the certificate of {host} is not trusted (it is self-signed or from an unknown authority). \
             If your organization runs its own certificate authority, paste its certificate under Trusted CA."
        ),
        rustls::Error::InvalidCertificate(C::NotValidForName | C::NotValidForNameContext { .. }) => format!(
            "TLS failed: the server's certificate is not valid for the name {host}. Use the host name the certificate \
             was issued for (often your provider's, such as smtp.example.com)."
        ),
        rustls::Error::InvalidCertificate(C::Expired | C::ExpiredContext { .. }) => {
            format!("TLS failed: the certificate of {host} has expired. Ask the server's administrator to renew it.")
        }
        // Plain SMTP where TLS was expected: the server's greeting is not a TLS record.
        rustls::Error::InvalidMessage(_) if settings.security == Security::Ssl => format!(
            "TLS failed with {host}: the server did not start TLS, so it probably expects STARTTLS on port {} \
             (usually port 587). Choose STARTTLS as the security mode, or use the server's SSL/TLS port (usually 465).",
            settings.port
        ),
        rustls::Error::InvalidCertificate(other) => {
            format!("TLS failed: the certificate of {host} was refused ({other:?}).")
        }
        other => format!("TLS failed with {host}: {other}."),
    }
}

/// What lettre said about an error besides its sources.
#[derive(Debug, Default, Clone, Copy)]
struct Flags {
    tls: bool,
    timeout: bool,
    client: bool,
    /// An answer that could not be read as an SMTP reply (not three digits first).
    response: bool,
}

/// What is said of a server whose answer is not an SMTP reply: never the answer itself,
/// which may be another service's banner (SSH, HTTP) on the operator's network.
pub fn msg_not_smtp(settings: &SmtpSettings) -> String {
    format!("The server at {}:{} did not answer like an SMTP server.", settings.host, settings.port)
}

fn describe(
    step: Step,
    e: &lettre::transport::smtp::Error,
    settings: &SmtpSettings,
    envelope: Option<&Envelope>,
) -> SendError {
    let host_port = format!("{}:{}", settings.host, settings.port);
    if let Some(reply) = reply(e) {
        // Each message ends the reply with its own full stop.
        let reply = reply.trim_end().trim_end_matches('.');
        let permanent = e.is_permanent();
        let message = match (step, permanent) {
            (Step::Login, true) if settings.auth.as_ref().is_some_and(|a| a.oauth.is_some()) => {
                let user = settings.auth.as_ref().map(|a| a.username.as_str()).unwrap_or_default();
                let error = SendError::permanent(format!("{host_port} refused the access token for {user}: {reply}."));
                return SendError { token_refused: true, ..error };
            }
            (Step::Login, true) if reply.contains("5.7.30") => format!(
                "Login rejected by {host_port}: {reply}. Microsoft no longer accepts passwords for SMTP here: change \
                 Sign-in to OAuth 2.0 with Microsoft 365 (app), or send through an MS Graph API profile."
            ),
            (Step::Login, true) if reply.contains("5.7.139") => format!(
                "Login rejected by {host_port}: {reply}. Microsoft 365 has SMTP sign-in turned off for this mailbox \
                 or organization (the password may be right): an administrator turns on Authenticated SMTP for the \
                 mailbox in the Microsoft 365 admin center, or change Sign-in to OAuth 2.0, or send through an MS \
                 Graph API profile."
            ),
            (Step::Login, true) => format!(
                "Login rejected by {host_port}: {reply}. Check the SMTP account address and password (with two-step \
                 sign-in, many providers need an app password)."
            ),
            (Step::Sender, true) => format!(
                "The server refused the sender {}: {reply}. Use a From address this account may send as.",
                envelope.and_then(|e| e.from()).map(|a| a.to_string()).unwrap_or_default()
            ),
            (Step::Recipient, true) => format!(
                "The server refused the recipient {}: {reply}. Check the address.",
                envelope
                    .map(|e| e.to().iter().map(|a| a.to_string()).collect::<Vec<_>>().join(", "))
                    .unwrap_or_default()
            ),
            (Step::Data, true) => format!("The server refused the message: {reply}."),
            // Over SSL/TLS relaydesk cannot tell a refused greeting from a refused EHLO.
            (Step::Connect, true) if settings.security == Security::Ssl => format!(
                "{host_port} answered relaydesk's greeting with {reply}: either it does not accept mail from \
                 relaydesk, or it does not speak ESMTP (EHLO). Ask the server's administrator."
            ),
            (Step::Connect, true) => format!("{host_port} refused the connection: {reply}."),
            (Step::StartTls, true) => format!("{host_port} refused to start TLS: {reply}."),
            (_, false) => format!("The server asked relaydesk to try again later: {reply}."),
        };
        return if permanent { SendError::permanent(message) } else { SendError::transient(message) };
    }
    let flags = Flags { tls: e.is_tls(), timeout: e.is_timeout(), client: e.is_client(), response: e.is_response() };
    describe_cause(step, e, flags, settings)
}

/// A failure without an SMTP reply: TLS, the network, the name, the login methods.
fn describe_cause(
    step: Step,
    e: &(dyn std::error::Error + 'static),
    flags: Flags,
    settings: &SmtpSettings,
) -> SendError {
    let host_port = format!("{}:{}", settings.host, settings.port);
    let (io_kind, tls, text) = root_causes(e);
    if let Some(tls) = tls {
        return SendError::transient(describe_tls(tls, settings));
    }
    if flags.tls
        || text.contains("corrupt message")
        || text.contains("invalid content type")
        || text.contains("handshake")
    {
        let hint = match settings.security {
            Security::Ssl => format!(
                "Port {} and {} usually expect STARTTLS or no encryption; try STARTTLS.",
                Security::Starttls.default_port(),
                Security::None.default_port()
            ),
            _ => "Check the security mode and port.".to_owned(),
        };
        return SendError::transient(format!(
            "TLS failed with {host_port}: the server did not answer with TLS. {hint}"
        ));
    }
    // lettre's parse error quotes what the server sent; only a connection that ended
    // before a whole reply ("incomplete response") is told apart, below.
    if flags.response && !text.contains("incomplete") {
        return SendError::permanent(msg_not_smtp(settings));
    }
    if step == Step::Login && flags.client {
        return SendError::permanent(format!(
            "{host_port} offers no login method relaydesk supports (PLAIN or LOGIN). Many servers offer a login only \
             over TLS: check the security mode, or turn Auth required off for a relay without login."
        ));
    }
    match io_kind {
        Some(std::io::ErrorKind::ConnectionRefused) => SendError::transient(format!(
            "Could not connect to {host_port}: the connection was refused. Check the host and port (SSL/TLS is \
             usually 465, STARTTLS 587)."
        )),
        Some(std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock) => SendError::transient(format!(
            "Could not connect to {host_port}: no answer in time. Check the host and port, and that a firewall allows \
             outgoing connections to it."
        )),
        _ if flags.timeout || text.contains("timed out") || text.contains("deadline") => SendError::transient(format!(
            "Could not connect to {host_port}: no answer in time. Check the host and port, and that a firewall allows \
             outgoing connections to it."
        )),
        _ if text.contains("lookup")
            || text.contains("name or service not known")
            || text.contains("no such host")
            || text.contains("nodename nor servname")
            || text.contains("resolve") =>
        {
            SendError::transient(format!(
                "Could not find the host {}: there is no such name. Check the spelling of the SMTP host.",
                settings.host
            ))
        }
        Some(
            std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::UnexpectedEof | std::io::ErrorKind::BrokenPipe,
        )
        | None
            if text.contains("incomplete")
                || text.contains("eof")
                || text.contains("reset")
                || text.contains("broken pipe") =>
        {
            SendError::transient(format!(
                "{host_port} closed the connection unexpectedly. Check the security mode: a server expecting TLS often \
                 hangs up on a plain connection."
            ))
        }
        _ => SendError::transient(format!("Could not talk to {host_port}: {e}.")),
    }
}

#[cfg(test)]
mod tests {
    use super::pem_blocks;

    #[test]
    fn the_data_body_doubles_leading_dots_and_ends_with_the_dot_line() {
        let body = super::DataBody::of(b".hidden\r\nplain\r\n..two\n.bare\r\nend.").unwrap();
        assert_eq!(body.0, "..hidden\r\nplain\r\n...two\n.bare\r\nend.\r\n.\r\n");
        assert!(super::DataBody::of(&[0xff, 0xfe]).is_none());
    }

    #[test]
    fn splits_a_bundle_into_certificates() {
        let one = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----";
        let bundle = format!("junk\n{one}\n\n{one}\n");
        assert_eq!(pem_blocks(&bundle).len(), 2);
        assert!(pem_blocks("nothing").is_empty());
    }
}
