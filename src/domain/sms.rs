//! SMS channels: passcodes sent as email to an email-to-SMS gateway (seeds 000, 003).
//!
//! The gateway reads the number from the recipient address (`+447700900123@gw`,
//! `p447700900123@gw` where `+` is refused, `+447700900123.sms.text@gw` with a message
//! type) or, with a fixed address, from the message itself (`GM_MOBILE`). Each field's rule
//! lives in one parser here; [`ChannelForm::parse`] only assembles them.

use std::fmt;

use crate::domain::alias::{is_alias, HostValue};
use crate::domain::email::EmailAddress;
use crate::domain::smtp::{ProfileName, Security, SmtpPort, MSG_NAME, MSG_PORT};
use crate::domain::text::*;

pub const MSG_SMS_NAME_TAKEN: &str = "An SMS channel with this name already exists.";
pub const MSG_SMS_HOST: &str = "Please enter a host name, an IPv4 address or an alias.";
pub const MSG_SMS_SECURITY: &str = "Please choose a security setting.";
pub const MSG_SMS_SENDER: &str = "Please enter the sender within 100 characters, as an address or Name <address>.";
pub const MSG_SMS_USERNAME: &str = "Please enter a username within 64 characters.";
pub const MSG_SMS_USERNAME_TAKEN: &str = "Another SMS channel already uses this username.";
pub const MSG_SMS_PASSWORD: &str = "Please enter a password within 64 characters.";
pub const MSG_SMS_RECIPIENT: &str = "Please enter the gateway's email address within 64 characters.";
pub const MSG_SMS_NUMBER_FORMAT: &str = "Please choose how the number is written in the address.";
pub const MSG_SMS_MESSAGE_TYPE: &str = "Please enter a message type like sms.text.";
pub const MSG_SMS_SUBJECT: &str = "Please enter a subject within 100 characters.";
pub const MSG_SMS_MESSAGE: &str = "Please enter a message within 1024 characters.";
pub const MSG_SMS_NO_PASSCODE: &str = "The message must contain GM_PASSCODE.";
/// A recipient that names the placeholder any other way than `GM_MOBILE@domain`.
pub const MSG_SMS_RECIPIENT_PLACEHOLDER: &str =
    "Write the number's place as GM_MOBILE@ followed by the gateway's domain, in capitals, or give a fixed address.";
/// A fixed gateway address whose message does not carry the number.
pub const MSG_SMS_NO_MOBILE: &str = "With a fixed gateway address, the message must contain GM_MOBILE.";
pub const MSG_MOBILE: &str = "Please enter a mobile number in international format, like +44 7700 900123.";

/// Where the passcode goes in the message.
pub const PLACEHOLDER_PASSCODE: &str = "GM_PASSCODE";
/// The guest's name, in the message.
pub const PLACEHOLDER_NAME: &str = "GM_NAME";
/// The mobile number: digits without `+` in the message; the whole local part of the
/// recipient, written as the number format says.
pub const PLACEHOLDER_MOBILE: &str = "GM_MOBILE";

/// A channel's host: a host name or IPv4 address, or a `$alias` (whose existence the
/// store checks).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmsHost(String);

impl SmsHost {
    pub const MAX_LEN: usize = 100;

    pub fn parse(input: &str) -> Result<Self, &'static str> {
        let host = trim_spaces(input);
        if is_alias(host) {
            return Ok(Self(host.to_owned()));
        }
        HostValue::parse_or(host, MSG_SMS_HOST).map(|h| Self(h.as_str().to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The alias named, when the host is one.
    pub fn alias(&self) -> Option<&str> {
        is_alias(&self.0).then_some(self.0.as_str())
    }
}

/// The `From` of the gateway mail: an address, or `Name <address>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmsSender {
    pub name: Option<String>,
    pub address: EmailAddress,
}

impl SmsSender {
    pub const MAX_LEN: usize = 100;

    pub fn parse(input: &str) -> Result<Self, &'static str> {
        let text = single_line(input, 1, Self::MAX_LEN).ok_or(MSG_SMS_SENDER)?;
        let (name, address) = match text.strip_suffix('>').and_then(|t| t.rsplit_once('<')) {
            Some((name, address)) => {
                let name = name.trim_matches(' ');
                let name = name.strip_prefix('"').and_then(|n| n.strip_suffix('"')).unwrap_or(name);
                // Quotes and angle brackets inside the name would change where it ends.
                if name.contains(['"', '<', '>', '\\']) {
                    return Err(MSG_SMS_SENDER);
                }
                ((!name.is_empty()).then(|| name.to_owned()), address)
            }
            None => (None, text),
        };
        let address = EmailAddress::parse(address).ok_or(MSG_SMS_SENDER)?;
        Ok(Self { name, address })
    }

    /// As typed back into the form: `Name <address>` or the address.
    pub fn to_text(&self) -> String {
        match &self.name {
            Some(name) => format!("{name} <{}>", self.address.as_str()),
            None => self.address.as_str().to_owned(),
        }
    }
}

/// The gateway account's name: 1–64 characters on one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmsUsername(String);

impl SmsUsername {
    pub const MAX_LEN: usize = 64;

    pub fn parse(input: &str) -> Result<Self, &'static str> {
        single_line(input, 1, Self::MAX_LEN).map(|s| Self(s.to_owned())).ok_or(MSG_SMS_USERNAME)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The gateway account's password: 1–64 characters, no composition rules; never trimmed.
/// Line breaks are refused (they could not be sent in an SMTP login anyway).
pub struct SmsPassword(secrecy::SecretString);

impl SmsPassword {
    pub const MAX_LEN: usize = 64;

    pub fn parse(input: &str) -> Result<Self, &'static str> {
        if char_len_within(input, 1, Self::MAX_LEN) && !input.chars().any(char::is_control) {
            Ok(Self(input.to_owned().into()))
        } else {
            Err(MSG_SMS_PASSWORD)
        }
    }

    pub fn secret(&self) -> &secrecy::SecretString {
        &self.0
    }
}

impl fmt::Debug for SmsPassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SmsPassword(..)")
    }
}

/// How the number is written in the recipient's local part (seed 003).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NumberFormat {
    /// `+447700900123`
    #[default]
    Plus,
    /// `p447700900123`, for mail systems that refuse `+`.
    P,
}

impl NumberFormat {
    pub const ALL: [NumberFormat; 2] = [NumberFormat::Plus, NumberFormat::P];

    pub fn parse(input: &str) -> Result<Self, &'static str> {
        match trim_spaces(input) {
            "plus" => Ok(Self::Plus),
            "p" => Ok(Self::P),
            _ => Err(MSG_SMS_NUMBER_FORMAT),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Plus => "plus",
            Self::P => "p",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Plus => "+447700900123@…",
            Self::P => "p447700900123@… (for mail systems that refuse +)",
        }
    }
}

/// A message type appended to the number (`sms.text`): 1–30 of `a-z`, `0-9` and dots, the
/// dots between words (an address cannot carry a leading, trailing or doubled dot).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageType(String);

impl MessageType {
    pub const MAX_LEN: usize = 30;

    pub fn parse(input: &str) -> Result<Option<Self>, &'static str> {
        let text = trim_spaces(input);
        if text.is_empty() {
            return Ok(None);
        }
        let ok = text.len() <= Self::MAX_LEN
            && text
                .split('.')
                .all(|w| !w.is_empty() && w.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()));
        if ok {
            Ok(Some(Self(text.to_owned())))
        } else {
            Err(MSG_SMS_MESSAGE_TYPE)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A mobile number in E.164: `+` and 8–15 digits. Spaces, dashes, dots and brackets typed
/// by a person are removed first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MobileNumber(String);

impl MobileNumber {
    pub fn parse(input: &str) -> Result<Self, &'static str> {
        if input.chars().count() > 40 {
            return Err(MSG_MOBILE);
        }
        // `+44 (0) 7700 900123`: the trunk 0 in brackets is how many people write a number
        // for both home and abroad; dialled from abroad it is left out, so it goes here.
        let input = input.replacen("(0)", "", 1);
        // Spaces, dashes, dots and brackets as people type or paste them (a no-break space
        // or a typographic dash from a web page or a signature included).
        let compact: String = input
            .chars()
            .filter(|c| {
                !matches!(c, ' ' | '-' | '.' | '(' | ')' | '\u{a0}' | '\u{202f}' | '\u{2010}'..='\u{2015}' | '\u{2212}')
            })
            .collect();
        let digits = compact.strip_prefix('+').ok_or(MSG_MOBILE)?;
        if (8..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) && !digits.starts_with('0') {
            Ok(Self(compact))
        } else {
            Err(MSG_MOBILE)
        }
    }

    /// `+447700900123`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `447700900123`.
    pub fn digits(&self) -> &str {
        &self.0[1..]
    }
}

/// The gateway's address: fixed, or with `GM_MOBILE` as its local part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayRecipient(String);

impl GatewayRecipient {
    pub const MAX_LEN: usize = 64;

    /// Checks the address with a sample number in each format, with the message type.
    pub fn parse(input: &str, message_type: Option<&MessageType>) -> Result<Self, &'static str> {
        let text = trim_spaces(input);
        if !char_len_within(text, 1, Self::MAX_LEN) {
            return Err(MSG_SMS_RECIPIENT);
        }
        let recipient = Self(text.to_owned());
        // `gm_mobile@…`, `x.GM_MOBILE@…`, `x@GM_MOBILE.…`: meant as the placeholder, but
        // not it, so the number would go nowhere.
        if !recipient.carries_number() && text.to_ascii_uppercase().contains("GM_MOBILE") {
            return Err(MSG_SMS_RECIPIENT_PLACEHOLDER);
        }
        if recipient.carries_number() && text["GM_MOBILE@".len()..].to_ascii_uppercase().contains("GM_MOBILE") {
            return Err(MSG_SMS_RECIPIENT_PLACEHOLDER);
        }
        let sample = MobileNumber("+447700900123".into());
        for format in NumberFormat::ALL {
            if EmailAddress::parse(&recipient.fill(&sample, format, message_type)).is_none() {
                return Err(MSG_SMS_RECIPIENT);
            }
        }
        Ok(recipient)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether the number goes in the address (else the message must carry it).
    pub fn carries_number(&self) -> bool {
        self.0.starts_with("GM_MOBILE@")
    }

    /// The address for `mobile`: `+447700900123.sms.text@gw` and the like.
    pub fn fill(&self, mobile: &MobileNumber, format: NumberFormat, message_type: Option<&MessageType>) -> String {
        let Some(domain) = self.0.strip_prefix("GM_MOBILE@") else { return self.0.clone() };
        let number = match format {
            NumberFormat::Plus => mobile.as_str().to_owned(),
            NumberFormat::P => format!("p{}", mobile.digits()),
        };
        match message_type {
            Some(t) => format!("{number}.{}@{domain}", t.as_str()),
            None => format!("{number}@{domain}"),
        }
    }
}

/// The optional subject: at most 100 characters on one line.
pub fn parse_subject(input: &str) -> Result<Option<String>, &'static str> {
    optional_line(input, 100).map_err(|()| MSG_SMS_SUBJECT)
}

/// The message template: 1–1024 characters (line breaks allowed, other control
/// characters not), with `GM_PASSCODE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageTemplate(String);

impl MessageTemplate {
    pub const MAX_LEN: usize = 1024;

    pub fn parse(input: &str) -> Result<Self, &'static str> {
        let text = input.replace("\r\n", "\n").replace('\r', "\n");
        let text = text.trim_matches(|c| c == ' ' || c == '\n');
        if !char_len_within(text, 1, Self::MAX_LEN) || text.chars().any(|c| c.is_control() && c != '\n') {
            return Err(MSG_SMS_MESSAGE);
        }
        if !text.contains(PLACEHOLDER_PASSCODE) {
            return Err(MSG_SMS_NO_PASSCODE);
        }
        Ok(Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The text with its placeholders filled (`GM_MOBILE`: digits without `+`). Values are
    /// put in once, left to right, so a name that reads `GM_PASSCODE` stays a name.
    pub fn fill(&self, passcode: &str, name: &str, mobile: &MobileNumber) -> String {
        let mut out = String::with_capacity(self.0.len() + 32);
        let mut rest = self.0.as_str();
        'scan: while !rest.is_empty() {
            for (placeholder, value) in
                [(PLACEHOLDER_PASSCODE, passcode), (PLACEHOLDER_NAME, name), (PLACEHOLDER_MOBILE, mobile.digits())]
            {
                if let Some(after) = rest.strip_prefix(placeholder) {
                    out.push_str(value);
                    rest = after;
                    continue 'scan;
                }
            }
            let mut chars = rest.chars();
            if let Some(c) = chars.next() {
                out.push(c);
            }
            rest = chars.as_str();
        }
        out
    }
}

/// The usual port of a security setting, when the port is left empty.
pub fn default_port(security: Security) -> u16 {
    match security {
        Security::Ssl => 465,
        Security::Starttls => 587,
        Security::None => 25,
    }
}

/// The SMS channel form as submitted.
#[derive(Debug, Default, Clone, serde::Deserialize)]
#[serde(default)]
pub struct ChannelForm {
    pub enabled: Option<String>,
    pub name: String,
    pub host: String,
    pub port: String,
    pub security: String,
    pub sender: String,
    pub username: String,
    pub password: String,
    pub recipient: String,
    pub number_format: String,
    pub message_type: String,
    pub subject: String,
    pub message: String,
}

/// A channel's settings, every rule passed (the password separately: it is optional on
/// edit, where blank keeps the saved one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelSettings {
    pub enabled: bool,
    pub name: ProfileName,
    pub host: SmsHost,
    pub port: Option<SmtpPort>,
    pub security: Security,
    pub sender: SmsSender,
    pub username: SmsUsername,
    pub recipient: GatewayRecipient,
    pub number_format: NumberFormat,
    pub message_type: Option<MessageType>,
    pub subject: Option<String>,
    pub message: MessageTemplate,
}

impl ChannelSettings {
    /// The port connected to.
    pub fn port_or_default(&self) -> u16 {
        self.port.map_or_else(|| default_port(self.security), SmtpPort::get)
    }
}

/// Why a saved password cannot be kept for `new` settings: the first of host, security,
/// port and username that changed (a stored secret is never sent to another server
/// or as another account without being typed again).
pub fn password_cleared_by(old: &ChannelSettings, new: &ChannelSettings) -> Option<String> {
    let what = if !old.host.as_str().eq_ignore_ascii_case(new.host.as_str()) {
        "host"
    } else if old.security != new.security {
        "security setting"
    } else if old.port_or_default() != new.port_or_default() {
        "port"
    } else if old.username.as_str() != new.username.as_str() {
        "username"
    } else {
        return None;
    };
    Some(format!("The password was cleared because the {what} changed; enter it again."))
}

/// Field errors of the SMS channel form, by field name, in form order. The texts are
/// owned: "There is no alias named {alias}." names what was typed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ChannelErrors(pub Vec<(&'static str, String)>);

impl ChannelErrors {
    pub fn get(&self, field: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| *k == field).map(|(_, v)| v.as_str())
    }

    pub fn insert(&mut self, field: &'static str, message: impl Into<String>) {
        let message = message.into();
        match self.0.iter_mut().find(|(k, _)| *k == field) {
            Some(entry) => entry.1 = message,
            None => self.0.push((field, message)),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn check<T>(&mut self, field: &'static str, result: Result<T, &'static str>) -> Option<T> {
        result.map_err(|m| self.insert(field, m)).ok()
    }
}

impl ChannelForm {
    /// Every field's rule; the password is required when `password_required` (create), and
    /// blank means "keep the saved one" otherwise.
    pub fn parse(&self, password_required: bool) -> Result<(ChannelSettings, Option<SmsPassword>), ChannelErrors> {
        let mut e = ChannelErrors::default();
        let name = e.check("name", ProfileName::parse(&self.name).map_err(|_| MSG_NAME));
        let host = e.check("host", SmsHost::parse(&self.host));
        let security = e.check("security", Security::parse(&self.security).ok_or(MSG_SMS_SECURITY));
        let port = if trim_spaces(&self.port).is_empty() {
            Some(None)
        } else {
            e.check("port", SmtpPort::parse(&self.port).map(Some).map_err(|_| MSG_PORT))
        };
        let sender = e.check("sender", SmsSender::parse(&self.sender));
        let username = e.check("username", SmsUsername::parse(&self.username));
        let password = if self.password.is_empty() && !password_required {
            Some(None)
        } else {
            e.check("password", SmsPassword::parse(&self.password).map(Some))
        };
        let message_type = e.check("message_type", MessageType::parse(&self.message_type));
        let recipient = match &message_type {
            Some(t) => e.check("recipient", GatewayRecipient::parse(&self.recipient, t.as_ref())),
            None => e.check("recipient", GatewayRecipient::parse(&self.recipient, None)),
        };
        let number_format = e.check("number_format", NumberFormat::parse(&self.number_format));
        let subject = e.check("subject", parse_subject(&self.subject));
        let message = e.check("message", MessageTemplate::parse(&self.message));
        // A fixed address: the gateway reads the number from the message.
        if let (Some(r), Some(m)) = (&recipient, &message) {
            if !r.carries_number() && !m.as_str().contains("GM_MOBILE") {
                e.insert("message", MSG_SMS_NO_MOBILE);
            }
        }
        match (name, host, port, security, sender, username, password, recipient, number_format) {
            (
                Some(name),
                Some(host),
                Some(port),
                Some(security),
                Some(sender),
                Some(username),
                Some(password),
                Some(recipient),
                Some(number_format),
            ) if e.is_empty() => {
                let (Some(message_type), Some(subject), Some(message)) = (message_type, subject, message) else {
                    return Err(e);
                };
                let settings = ChannelSettings {
                    enabled: self.enabled.as_deref() == Some("on"),
                    name,
                    host,
                    port,
                    security,
                    sender,
                    username,
                    recipient,
                    number_format,
                    message_type,
                    subject,
                    message,
                };
                Ok((settings, password))
            }
            _ => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mobile() -> MobileNumber {
        MobileNumber::parse("+44 7700-900123").unwrap()
    }

    #[test]
    fn mobile_numbers_as_people_type_them() {
        assert_eq!(MobileNumber::parse("+44 7700 900123").unwrap().as_str(), "+447700900123");
        assert_eq!(MobileNumber::parse("+1 (555) 010-9999").unwrap().as_str(), "+15550109999");
        assert_eq!(mobile().digits(), "447700900123");
        // The trunk 0 in brackets is left out, as when dialling from abroad.
        assert_eq!(MobileNumber::parse("+44 (0) 7700 900321").unwrap().as_str(), "+447700900321");
        assert_eq!(MobileNumber::parse("+44(0)7700900321").unwrap().as_str(), "+447700900321");
        // Pasted with a no-break space or a typographic dash.
        assert_eq!(MobileNumber::parse("+44\u{a0}7700\u{2013}900321").unwrap().as_str(), "+447700900321");
        for bad in ["", "447700900123", "+44", "+4477009", "+0447700900123", "+44 7700 9001234567890", "+44x7700900123"]
        {
            assert_eq!(MobileNumber::parse(bad), Err(MSG_MOBILE), "{bad:?}");
        }
        assert_eq!(MobileNumber::parse("+447700900123\r\nBcc: x@y.z"), Err(MSG_MOBILE));
    }

    #[test]
    fn recipients_in_each_format() {
        let r = GatewayRecipient::parse("GM_MOBILE@gw.example", None).unwrap();
        assert_eq!(r.fill(&mobile(), NumberFormat::Plus, None), "+447700900123@gw.example");
        assert_eq!(r.fill(&mobile(), NumberFormat::P, None), "p447700900123@gw.example");
        let t = MessageType::parse("sms.text").unwrap();
        assert_eq!(r.fill(&mobile(), NumberFormat::Plus, t.as_ref()), "+447700900123.sms.text@gw.example");
        let fixed = GatewayRecipient::parse("sms@gw.example", None).unwrap();
        assert!(!fixed.carries_number());
        assert_eq!(fixed.fill(&mobile(), NumberFormat::P, t.as_ref()), "sms@gw.example");
        for bad in ["", "gw.example", "a b@gw.example", &format!("{}@gw.example", "a".repeat(60))] {
            assert_eq!(GatewayRecipient::parse(bad, None), Err(MSG_SMS_RECIPIENT), "{bad:?}");
        }
        // The placeholder misspelt or misplaced: the number would go nowhere.
        for bad in [
            "GM_MOBILE",
            "gm_mobile@gw.example",
            "pre.GM_MOBILE@gw.example",
            "x@GM_MOBILE.gw.example",
            "GM_MOBILEGM_MOBILE@gw.example",
        ] {
            assert_eq!(GatewayRecipient::parse(bad, None), Err(MSG_SMS_RECIPIENT_PLACEHOLDER), "{bad:?}");
        }
    }

    #[test]
    fn message_types() {
        assert!(MessageType::parse("sms.text").unwrap().is_some());
        assert_eq!(MessageType::parse(" ").unwrap(), None);
        for bad in ["SMS", ".sms", "sms.", "sms..text", "sms text", "sms-text", &"a".repeat(31)] {
            assert_eq!(MessageType::parse(bad), Err(MSG_SMS_MESSAGE_TYPE), "{bad:?}");
        }
    }

    #[test]
    fn senders() {
        let s = SmsSender::parse("Acme Wi-Fi <wifi@acme.test>").unwrap();
        assert_eq!((s.name.as_deref(), s.address.as_str()), (Some("Acme Wi-Fi"), "wifi@acme.test"));
        assert_eq!(SmsSender::parse("wifi@acme.test").unwrap().name, None);
        assert_eq!(SmsSender::parse("\"Acme\" <wifi@acme.test>").unwrap().name.as_deref(), Some("Acme"));
        for bad in [
            "",
            "Acme",
            "Acme <wifi>",
            "A\r\nBcc: x@y.z <wifi@acme.test>",
            "wifi@acme.test\r\nBcc: x@y.z",
            "A<b <c@d.test>",
        ] {
            assert_eq!(SmsSender::parse(bad), Err(MSG_SMS_SENDER), "{bad:?}");
        }
    }

    #[test]
    fn messages_and_placeholders() {
        let m = MessageTemplate::parse("Hi GM_NAME, your code is GM_PASSCODE.\nto:GM_MOBILE").unwrap();
        assert_eq!(m.fill("123456", "GM_PASSCODE", &mobile()), "Hi GM_PASSCODE, your code is 123456.\nto:447700900123");
        assert_eq!(MessageTemplate::parse("no code"), Err(MSG_SMS_NO_PASSCODE));
        assert_eq!(MessageTemplate::parse(""), Err(MSG_SMS_MESSAGE));
        assert_eq!(MessageTemplate::parse(&format!("GM_PASSCODE{}", "x".repeat(1014))), Err(MSG_SMS_MESSAGE));
        assert!(MessageTemplate::parse(&format!("GM_PASSCODE{}", "x".repeat(1013))).is_ok());
        assert_eq!(MessageTemplate::parse("GM_PASSCODE\u{7}"), Err(MSG_SMS_MESSAGE));
    }

    #[test]
    fn hosts() {
        assert_eq!(SmsHost::parse("$relay").unwrap().alias(), Some("$relay"));
        assert!(SmsHost::parse("10.0.0.1").is_ok());
        for bad in ["", "::1", "$", "a b", "gw.test:25"] {
            assert_eq!(SmsHost::parse(bad), Err(MSG_SMS_HOST), "{bad:?}");
        }
    }
}
