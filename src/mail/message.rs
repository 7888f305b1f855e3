//! Builds messages with lettre's typed builders only: From with the sender name, Reply-To,
//! text and HTML parts, the profile's signature, one Message-ID. A header value carrying
//! CR or LF is refused here, before anything is sent.

use lettre::message::header::ContentType;
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::Message;

use super::error::SendError;

/// Who a profile sends as (from the stored profile).
#[derive(Debug, Clone)]
pub struct Identity {
    pub from_name: String,
    pub from_address: String,
    pub reply_to: Option<String>,
    pub signature: Option<String>,
}

/// One email to send: the recipient, subject and bodies, and its Message-ID.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Outgoing {
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
    /// `<…@…>`, kept across every attempt.
    pub message_id: String,
}

/// A new Message-ID under the public host name.
pub fn new_message_id(host: &str) -> String {
    format!("<{}@{host}>", crate::auth::random_token())
}

/// Refuses a header value that could start another header (SPEC §2: header injection).
pub fn header_safe<'a>(what: &str, value: &'a str) -> Result<&'a str, SendError> {
    if value.chars().any(|c| c == '\r' || c == '\n' || (c.is_control() && c != '\t')) {
        return Err(SendError::permanent(format!(
            "The {what} contains a line break or control character, which could add hidden headers or recipients; \
             relaydesk did not send the email. Edit the profile and remove it."
        )));
    }
    Ok(value)
}

fn mailbox(what: &str, name: Option<&str>, address: &str) -> Result<Mailbox, SendError> {
    let address = header_safe(what, address)?
        .parse()
        .map_err(|_| SendError::permanent(format!("The {what} {address} is not a valid email address.")))?;
    let name = name.map(|n| header_safe("sender name", n)).transpose()?;
    Ok(Mailbox::new(name.map(str::to_owned), address))
}

/// `\r\n` and lone `\r` become `\n`; lettre writes the CRLF the wire needs.
pub fn normalize_newlines(text: &str) -> String {
    text.replace("\r\n", "\n").replace('\r', "\n")
}

/// Minimal HTML escaping for text placed into an HTML body.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The text and HTML bodies with the signature appended.
pub fn with_signature(identity: &Identity, mail: &Outgoing) -> (String, String) {
    let mut text = normalize_newlines(&mail.text);
    let mut html = normalize_newlines(&mail.html);
    if let Some(signature) = identity.signature.as_deref().filter(|s| !s.trim().is_empty()) {
        let signature = normalize_newlines(signature);
        text.push_str("\n\n-- \n");
        text.push_str(&signature);
        html.push_str("\n<p class=\"signature\">");
        html.push_str(&escape_html(&signature).replace('\n', "<br>\n"));
        html.push_str("</p>");
    }
    (text, html)
}

/// The lettre message for `mail` sent as `identity`.
pub fn build(identity: &Identity, mail: &Outgoing) -> Result<Message, SendError> {
    let from = mailbox("From address", Some(&identity.from_name), &identity.from_address)?;
    let to = mailbox("recipient", None, &mail.to)?;
    // Given, not read back from the headers just written.
    let envelope = lettre::address::Envelope::new(Some(from.email.clone()), vec![to.email.clone()])
        .map_err(|e| SendError::permanent(format!("relaydesk could not build the email: {e}")))?;
    let mut builder = Message::builder()
        .envelope(envelope)
        .from(from)
        .to(to)
        .subject(header_safe("subject", &mail.subject)?)
        .message_id(Some(header_safe("Message-ID", &mail.message_id)?.to_owned()));
    if let Some(reply_to) = identity.reply_to.as_deref() {
        builder = builder.reply_to(mailbox("Reply-To address", None, reply_to)?);
    }
    let (text, html) = with_signature(identity, mail);
    builder
        .multipart(
            MultiPart::alternative()
                .singlepart(SinglePart::builder().header(ContentType::TEXT_PLAIN).body(text))
                .singlepart(SinglePart::builder().header(ContentType::TEXT_HTML).body(html)),
        )
        .map_err(|e| SendError::permanent(format!("relaydesk could not build the email: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity() -> Identity {
        Identity {
            from_name: "Acme Accounts".into(),
            from_address: "no-reply@acme.test".into(),
            reply_to: Some("help@acme.test".into()),
            signature: Some("Acme Ltd\r\nSupport".into()),
        }
    }

    fn mail(subject: &str) -> Outgoing {
        Outgoing {
            to: "ada@example.test".into(),
            subject: subject.into(),
            text: "Hello\r\nthere".into(),
            html: "<p>Hello</p>".into(),
            message_id: "<abc@relaydesk.test>".into(),
        }
    }

    #[test]
    fn builds_both_parts_with_headers_and_signature() {
        let bytes = build(&identity(), &mail("Welcome")).unwrap().formatted();
        let text = String::from_utf8(bytes).unwrap();
        assert!(text.contains("From: \"Acme Accounts\" <no-reply@acme.test>"), "{text}");
        assert!(text.contains("Reply-To: help@acme.test"));
        assert!(text.contains("To: ada@example.test"));
        assert!(text.contains("Subject: Welcome"));
        assert!(text.contains("Message-ID: <abc@relaydesk.test>"));
        assert!(text.contains("text/plain") && text.contains("text/html"));
        assert!(text.contains("-- \r\nAcme Ltd\r\nSupport"), "signature with CRLF on the wire: {text}");
        assert!(text.contains("Acme Ltd<br>"));
    }

    #[test]
    fn the_envelope_is_the_sender_and_the_recipient() {
        let message = build(&identity(), &mail("Welcome")).unwrap();
        let envelope = message.envelope();
        assert_eq!(envelope.from().map(ToString::to_string).as_deref(), Some("no-reply@acme.test"));
        assert_eq!(envelope.to().iter().map(ToString::to_string).collect::<Vec<_>>(), ["ada@example.test"]);
    }

    #[test]
    fn a_line_break_in_any_header_value_is_refused() {
        assert!(build(&identity(), &mail("Hi\r\nBcc: victim@evil.test")).unwrap_err().permanent);
        let mut id = identity();
        id.from_name = "Acme\nBcc: victim@evil.test".into();
        assert!(build(&id, &mail("Hi")).is_err());
        let mut m = mail("Hi");
        m.to = "ada@example.test\r\nBcc: victim@evil.test".into();
        assert!(build(&identity(), &m).is_err());
    }

    #[test]
    fn html_is_escaped() {
        assert_eq!(escape_html("<a href=\"x\">&'"), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
    }
}
