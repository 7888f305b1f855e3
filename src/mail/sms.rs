//! Passcodes by SMS over SMTP: the email an email-to-SMS gateway turns into a text.
//!
//! Gateways read the mail literally, so it is plain text only (no HTML part), 7-bit when
//! the text is ASCII, lines ending in CRLF, and nothing is added: no signature, no footer.
//! It goes out through the same SMTP code as every other message, so its failures read
//! the same and it is bounded the same way.

use lettre::address::Envelope;
use lettre::message::header::{ContentTransferEncoding, ContentType};
use lettre::message::{Body, Mailbox};
use lettre::Message;
use secrecy::SecretString;

use super::error::SendError;
use super::message::header_safe;
use super::smtp::{self, SmtpSettings};
use super::{timed_out, Mailer};
use crate::domain::sms::{ChannelSettings, MobileNumber};
use crate::domain::smtp::{CredentialPolicy, GenericSmtp, SmtpAuth, SmtpHost, SmtpPort, SmtpUsername};

/// A gateway mail ready to go: who it is for and the message as sent.
pub struct GatewayMail {
    /// The envelope recipient (`+447700900123@gw.example`, …).
    pub to: String,
    pub envelope: Envelope,
    pub bytes: Vec<u8>,
}

/// Builds the mail that carries `passcode` to `mobile` through the channel.
pub fn build(
    settings: &ChannelSettings,
    mobile: &MobileNumber,
    name: &str,
    passcode: &str,
    message_id: &str,
) -> Result<GatewayMail, SendError> {
    let to = settings.recipient.fill(mobile, settings.number_format, settings.message_type.as_ref());
    let to_address = header_safe("gateway address", &to)?
        .parse()
        .map_err(|_| SendError::permanent(format!("The gateway address {to} is not a valid email address.")))?;
    let from_address = header_safe("sender", settings.sender.address.as_str())?
        .parse()
        .map_err(|_| SendError::permanent("The sender is not a valid email address."))?;
    let from_name = settings.sender.name.as_deref().map(|n| header_safe("sender name", n)).transpose()?;
    let text = settings.message.fill(passcode, name, mobile);
    let mut builder = Message::builder()
        .from(Mailbox::new(from_name.map(str::to_owned), from_address))
        .to(Mailbox::new(None, to_address))
        .message_id(Some(message_id.to_owned()))
        .header(ContentType::TEXT_PLAIN);
    if let Some(subject) = &settings.subject {
        builder = builder.subject(header_safe("subject", subject)?);
    }
    let message = builder
        .body(gateway_body(&text))
        .map_err(|e| SendError::permanent(format!("The message could not be built: {e}")))?;
    Ok(GatewayMail { to, envelope: message.envelope().clone(), bytes: message.formatted() })
}

/// The gateway mail's body, as written: 7bit when it is ASCII, 8bit otherwise. A gateway
/// reads the body literally, so quoted-printable (which lettre would choose for any line
/// over 76 characters, breaking it with `=` line ends, the passcode with it) is used only
/// when a line is longer than mail allows (998 bytes).
fn gateway_body(text: &str) -> Body {
    let crlf = text.replace("\r\n", "\n").replace('\r', "\n").replace('\n', "\r\n");
    if crlf.contains('\0') || crlf.split("\r\n").any(|line| line.len() > 998) {
        return Body::new(text.to_owned());
    }
    let encoding = if crlf.is_ascii() { ContentTransferEncoding::SevenBit } else { ContentTransferEncoding::EightBit };
    Body::dangerous_pre_encoded(crlf.into_bytes(), encoding)
}

/// How to reach and log in to the gateway's SMTP server, `host` already resolved from an
/// alias. Certificates are always checked.
pub fn smtp_settings(
    settings: &ChannelSettings,
    host: SmtpHost,
    password: SecretString,
) -> Result<SmtpSettings, SendError> {
    let port = SmtpPort::parse(&settings.port_or_default().to_string())
        .map_err(|_| SendError::permanent("The channel's port is not valid. Edit the channel."))?;
    let username = SmtpUsername::parse(settings.username.as_str(), CredentialPolicy::Provider)
        .map_err(|_| SendError::permanent("The channel's username is not valid. Edit the channel."))?;
    Ok(GenericSmtp {
        host,
        port,
        security: settings.security,
        tls_verify: true,
        ca_pem: None,
        auth: Some(SmtpAuth { username, password, oauth: None }),
    })
}

/// Sends the mail, the whole exchange bounded by `mailer.send_timeout`; the server's
/// final reply. The gateway is reached only where `grant` (the organization's egress
/// policy) allows.
pub async fn send(
    mailer: &Mailer,
    grant: &super::egress::Grant,
    smtp: &SmtpSettings,
    mail: &GatewayMail,
) -> Result<String, SendError> {
    let limit = mailer.send_timeout;
    let connect_timeout = limit.min(std::time::Duration::from_secs(10));
    match tokio::time::timeout(
        limit,
        smtp::send(smtp, None, grant, &mailer.hello, connect_timeout, &mail.envelope, &mail.bytes),
    )
    .await
    {
        Ok(result) => result,
        Err(_) => Err(timed_out(&format!("{}:{}", smtp.host, smtp.port), limit)),
    }
}

/// Sends `passcode` for `name` to `mobile` through a stored channel of `tenant`: resolves
/// the host's alias now, opens the sealed password, and builds and sends the gateway mail
/// within the organization's egress policy. The address it went to and the server's reply.
#[allow(clippy::too_many_arguments)]
pub async fn send_passcode(
    db: &sqlx::SqlitePool,
    secrets: &crate::secret::SecretBox,
    mailer: &Mailer,
    tenant: crate::store::TenantId,
    channel: &crate::store::sms::Channel,
    mobile: &MobileNumber,
    name: &str,
    passcode: &str,
    message_id: &str,
) -> Result<(String, String), SendError> {
    let settings = &channel.settings;
    let aliases = crate::store::aliases::list(db, tenant)
        .await
        .map_err(|_| SendError::transient("relaydesk could not read the organization's host aliases. Try again."))?;
    let host = SmtpHost::parse(settings.host.as_str())
        .map_err(|_| SendError::permanent("The channel's host is not valid. Edit the channel."))?;
    let host = super::resolve_host(&host, &aliases)?;
    let password = secrets.open_secret(&channel.password_sealed).map_err(|_| {
        SendError::permanent(
            "relaydesk cannot decrypt this channel's saved password (was the secret key changed?). Edit the channel \
             and enter the password again.",
        )
    })?;
    let smtp = smtp_settings(settings, host, password)?;
    let mail = build(settings, mobile, name, passcode, message_id)?;
    let grant = super::egress::grant_for(db, &mailer.egress, tenant)
        .await
        .map_err(|e| SendError::transient(format!("relaydesk could not read its database: {e}")))?;
    let reply = send(mailer, &grant, &smtp, &mail).await?;
    Ok((mail.to, reply))
}
