//! SMTP profile fields (SPEC §2) and the naming of duplicates (SPEC §4).
//!
//! Each field rule lives in exactly one newtype's `parse`, which returns the
//! SPEC's message on failure; [`ProfileForm::parse`] only assembles them, so a
//! handler gets either a [`ProfileInput`] that needs no further checks or every
//! field's message at once.
//!
//! Text fields are trimmed of leading and trailing spaces (U+0020 only) before
//! their rule runs. Tabs and line breaks are not trimmed but refused: they are
//! control characters, and §2 rejects those rather than tidying them away
//! (header injection). Passwords and secrets are never trimmed.

use std::fmt;
use std::net::{IpAddr, Ipv6Addr};

use base64::Engine as _;
use serde::Deserialize;

use super::email::EmailAddress;
use super::smtp_password;

// ---------------------------------------------------------------------------
// Messages (SPEC §2, §2.2, §4), word for word.
// ---------------------------------------------------------------------------

/// `name` fails its rule.
pub const MSG_NAME: &str = "Please enter a name of up to 50 letters, digits or underscores.";
/// `name` is already used in the tenant (checked by the store, case-insensitively).
pub const MSG_NAME_TAKEN: &str = "An SMTP profile with this name already exists.";
/// `kind` is neither `generic` nor `graph`.
pub const MSG_KIND: &str = "Please choose a type.";
/// `from_address` fails §2.1.
pub const MSG_FROM_ADDRESS: &str = "Please enter a from address in email format.";
/// `from_name` is empty, too long or holds control characters (seed 002).
pub const MSG_FROM_NAME: &str = "Please enter a sender name.";
/// `reply_to` is given but fails §2.1.
pub const MSG_REPLY_TO: &str = "Please enter a reply-to address in email format.";
/// `signature` is too long or holds control characters.
pub const MSG_SIGNATURE: &str = "Please enter a signature within 250 characters.";
/// `description` is too long or holds control characters.
pub const MSG_DESCRIPTION: &str = "Please enter a description within 1000 characters.";
/// `host` is empty or longer than 100 characters (seed 002).
pub const MSG_HOST_LEN: &str = "Please enter an SMTP host within 100 characters.";
/// `host` is not a host name or IP address.
pub const MSG_HOST_FORMAT: &str = "Please enter a valid SMTP host name or IP address.";
/// `port` is not digits within 1–49151 (seed 002).
pub const MSG_PORT: &str = "Please enter an SMTP port between 1 and 49151.";
/// `security` is not `ssl`, `starttls` or `none`.
pub const MSG_SECURITY: &str = "Please choose a security mode.";
/// `ca_pem` is given but is not PEM certificates.
pub const MSG_CA_PEM: &str = "Please paste a PEM certificate.";
/// `username` of a generic profile under the `documented` policy (seed 002).
pub const MSG_SMTP_USERNAME: &str = "Please enter an SMTP account address in email format.";
/// `password` of a generic profile under the `documented` policy (seed 002).
pub const MSG_SMTP_PASSWORD: &str = "The SMTP account password does not meet the rules.";
/// `username` of a generic profile under the `provider` policy.
pub const MSG_PROVIDER_USERNAME: &str = "Please enter an SMTP account name within 100 characters.";
/// `password` of a generic profile under the `provider` policy.
pub const MSG_PROVIDER_PASSWORD: &str = "Please enter the SMTP account password.";
/// `username` of a Graph profile.
pub const MSG_GRAPH_USERNAME: &str = "Please enter a user name in email format.";
/// `password` of a Graph profile.
pub const MSG_GRAPH_PASSWORD: &str = "Please enter a password.";
/// `graph_tenant_id` is neither a GUID nor a domain name.
pub const MSG_GRAPH_TENANT_ID: &str = "Please enter a tenant ID (a GUID or a domain name).";
/// `graph_client_id` is not a GUID.
pub const MSG_GRAPH_CLIENT_ID: &str = "Please enter a client ID in GUID format.";
/// `graph_client_secret` is missing, too long or holds control characters.
pub const MSG_GRAPH_CLIENT_SECRET: &str = "Please enter a client secret.";
/// The `to` of a test email fails §2.1 (§4).
pub const MSG_TEST_TO: &str = "Please enter a valid email address.";

/// The flash after a duplicate (§4): `Copied as {new name}.`
pub fn msg_copied(new_name: &str) -> String {
    format!("Copied as {new_name}.")
}

/// The flash after a successful test email (§4): `Test email sent to {to}.`
pub fn msg_test_sent(to: &EmailAddress) -> String {
    format!("Test email sent to {to}.")
}

// ---------------------------------------------------------------------------
// Shared helpers. Lengths are counted in characters, never bytes, and no
// string is sliced at a computed index, so multi-byte input cannot panic.
// ---------------------------------------------------------------------------

/// §2 trims spaces only; see the module comment for why not `str::trim`.
fn trim_spaces(input: &str) -> &str {
    input.trim_matches(' ')
}

fn char_len_within(s: &str, min: usize, max: usize) -> bool {
    // Stops counting past `max`, so a megabyte of input costs no more than
    // `max` steps.
    let n = s.chars().take(max + 1).count();
    n >= min && n <= max
}

/// A trimmed, single-line text of `min..=max` characters without control
/// characters.
fn single_line(input: &str, min: usize, max: usize) -> Option<&str> {
    let text = trim_spaces(input);
    (char_len_within(text, min, max) && !text.chars().any(char::is_control)).then_some(text)
}

/// An optional single-line text of at most `max` characters: blank is `None`. SPEC §2
/// has every text field refuse CR, LF and other control characters, the signature and
/// the description included.
fn optional_line(input: &str, max: usize) -> Result<Option<String>, ()> {
    if trim_spaces(input).is_empty() {
        return Ok(None);
    }
    single_line(input, 1, max).map(|t| Some(t.to_owned())).ok_or(())
}

/// RFC 1123 label: 1–63 letters, digits and hyphens, no hyphen at either end.
fn is_dns_label(label: &str) -> bool {
    !label.is_empty()
        && label.len() <= 63
        && !label.starts_with('-')
        && !label.ends_with('-')
        && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// An RFC 1123 host name of at least `min_labels` labels, without a trailing
/// dot. A name whose last label is all digits is refused: it is a mistyped or
/// out-of-range IPv4 address (`256.1.1.1`, `010.0.0.1`), and resolvers read
/// some of them as numbers (`2130706433` is 127.0.0.1), so the host connected
/// to would not be the one shown.
fn is_host_name(name: &str, min_labels: usize) -> bool {
    let labels: Vec<&str> = name.split('.').collect();
    name.len() <= 253
        && labels.len() >= min_labels
        && labels.iter().all(|l| is_dns_label(l))
        && labels.last().is_some_and(|l| !l.bytes().all(|b| b.is_ascii_digit()))
}

/// `8-4-4-4-12` hexadecimal digits, either case, no braces.
fn is_guid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.len() == 5
        && groups.iter().zip([8, 4, 4, 4, 12]).all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Shows that a secret is there without showing it (§2.2: never in a log line).
struct Redacted;

impl fmt::Debug for Redacted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

fn redact(secret: &Option<String>) -> Option<Redacted> {
    secret.as_ref().map(|_| Redacted)
}

// ---------------------------------------------------------------------------
// Choices
// ---------------------------------------------------------------------------

/// The type of a profile (`kind`): how its mail leaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ProfileKind {
    /// Plain SMTP, through lettre.
    #[default]
    Generic,
    /// Microsoft Graph `sendMail` with client-credentials OAuth.
    Graph,
}

impl ProfileKind {
    /// In the order a `<select>` lists them.
    pub const ALL: [ProfileKind; 2] = [ProfileKind::Generic, ProfileKind::Graph];

    /// The form value (`generic` / `graph`), surrounding spaces ignored.
    /// An empty value is not a kind here; the form treats it as the default.
    pub fn parse(input: &str) -> Option<Self> {
        match trim_spaces(input) {
            "generic" => Some(Self::Generic),
            "graph" => Some(Self::Graph),
            _ => None,
        }
    }

    /// The form and database value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Generic => "generic",
            Self::Graph => "graph",
        }
    }

    /// What a person sees (SPEC §2).
    pub fn label(self) -> &'static str {
        match self {
            Self::Generic => "Generic SMTP",
            Self::Graph => "MS Graph API",
        }
    }
}

/// Transport security of a generic profile (seed 000).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Security {
    /// TLS from the first byte (implicit TLS, "SMTPS").
    #[default]
    Ssl,
    /// STARTTLS, required: a server that does not offer it fails the send
    /// rather than falling back to plain text.
    Starttls,
    /// No encryption at all.
    None,
}

impl Security {
    /// In the order a `<select>` lists them.
    pub const ALL: [Security; 3] = [Security::Ssl, Security::Starttls, Security::None];

    /// The form value (`ssl` / `starttls` / `none`), surrounding spaces ignored.
    pub fn parse(input: &str) -> Option<Self> {
        match trim_spaces(input) {
            "ssl" => Some(Self::Ssl),
            "starttls" => Some(Self::Starttls),
            "none" => Some(Self::None),
            _ => None,
        }
    }

    /// The form and database value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ssl => "ssl",
            Self::Starttls => "starttls",
            Self::None => "none",
        }
    }

    /// What a person sees, in the form and in a test email's summary.
    pub fn label(self) -> &'static str {
        match self {
            Self::Ssl => "SSL/TLS (implicit)",
            Self::Starttls => "STARTTLS (required)",
            Self::None => "None (unencrypted)",
        }
    }

    /// The port the form prefills for this mode (SPEC §2: 465 / 587 / 25).
    pub fn default_port(self) -> u16 {
        match self {
            Self::Ssl => 465,
            Self::Starttls => 587,
            Self::None => 25,
        }
    }
}

/// The tenant's rules for generic SMTP credentials (SPEC §2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum CredentialPolicy {
    /// Seed 002's rules: an email-format account and a strict password.
    #[default]
    Documented,
    /// Any printable account name and password, for provider-issued app
    /// passwords and API keys that cannot meet seed 002's rules.
    Provider,
}

impl CredentialPolicy {
    /// In the order a `<select>` lists them.
    pub const ALL: [CredentialPolicy; 2] = [CredentialPolicy::Documented, CredentialPolicy::Provider];

    /// The form value (`documented` / `provider`), surrounding spaces ignored.
    pub fn parse(input: &str) -> Option<Self> {
        match trim_spaces(input) {
            "documented" => Some(Self::Documented),
            "provider" => Some(Self::Provider),
            _ => None,
        }
    }

    /// The form and database value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Documented => "documented",
            Self::Provider => "provider",
        }
    }

    /// What a person sees on the settings page.
    pub fn label(self) -> &'static str {
        match self {
            Self::Documented => "Documented password rules",
            Self::Provider => "Provider-issued credentials",
        }
    }
}

// ---------------------------------------------------------------------------
// Common fields
// ---------------------------------------------------------------------------

/// A profile name: 1–50 ASCII letters, digits or underscores (seed 004).
///
/// ASCII only because uniqueness is case-insensitive in SQLite, whose
/// `NOCASE` folds ASCII letters only; a wider alphabet would let `Été` and
/// `éTÉ` coexist.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ProfileName(String);

impl ProfileName {
    /// Longest name, in characters; also the form's `maxlength`.
    pub const MAX_LEN: usize = 50;

    /// Trims spaces, then checks the rule; the error is [`MSG_NAME`].
    pub fn parse(input: &str) -> Result<Self, &'static str> {
        let name = trim_spaces(input);
        let ok =
            name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') && (1..=Self::MAX_LEN).contains(&name.len());
        if ok {
            Ok(Self(name.to_owned()))
        } else {
            Err(MSG_NAME)
        }
    }

    /// The name as entered, without surrounding spaces.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ProfileName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The `From` address of every message sent through a profile (§2.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FromAddress(EmailAddress);

impl FromAddress {
    /// Checks §2.1; the error is [`MSG_FROM_ADDRESS`].
    pub fn parse(input: &str) -> Result<Self, &'static str> {
        EmailAddress::parse(input).map(Self).ok_or(MSG_FROM_ADDRESS)
    }

    /// The address text.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// The address as an [`EmailAddress`], for message building.
    pub fn as_email(&self) -> &EmailAddress {
        &self.0
    }
}

impl fmt::Display for FromAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// The display name beside the `From` address: 1–100 characters, no control
/// characters (seeds 001, 002), since it ends up in a header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SenderName(String);

impl SenderName {
    /// Longest sender name, in characters.
    pub const MAX_LEN: usize = 100;

    /// Trims spaces, then checks the rule; the error is [`MSG_FROM_NAME`].
    pub fn parse(input: &str) -> Result<Self, &'static str> {
        single_line(input, 1, Self::MAX_LEN).map(|s| Self(s.to_owned())).ok_or(MSG_FROM_NAME)
    }

    /// The name as entered, without surrounding spaces.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SenderName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An optional `Reply-To` address (§2.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplyTo(EmailAddress);

impl ReplyTo {
    /// `Ok(None)` when blank; otherwise checks §2.1, the error being
    /// [`MSG_REPLY_TO`].
    pub fn parse(input: &str) -> Result<Option<Self>, &'static str> {
        if trim_spaces(input).is_empty() {
            return Ok(None);
        }
        EmailAddress::parse(input).map(|e| Some(Self(e))).ok_or(MSG_REPLY_TO)
    }

    /// The address text.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// The address as an [`EmailAddress`], for message building.
    pub fn as_email(&self) -> &EmailAddress {
        &self.0
    }
}

impl fmt::Display for ReplyTo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// An optional signature appended to messages: one line of at most 250 characters
/// (seed 004), no control characters (SPEC §2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature(String);

impl Signature {
    /// Longest signature, in characters.
    pub const MAX_LEN: usize = 250;

    /// `Ok(None)` when blank; the error is [`MSG_SIGNATURE`].
    pub fn parse(input: &str) -> Result<Option<Self>, &'static str> {
        optional_line(input, Self::MAX_LEN).map(|s| s.map(Self)).map_err(|()| MSG_SIGNATURE)
    }

    /// The signature.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An optional note for the tenant's admins, at most 1000 characters
/// (seed 004).
///
/// Like [`Signature`]: one line, no control characters (SPEC §2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Description(String);

impl Description {
    /// Longest description, in characters.
    pub const MAX_LEN: usize = 1000;

    /// `Ok(None)` when blank; the error is [`MSG_DESCRIPTION`].
    pub fn parse(input: &str) -> Result<Option<Self>, &'static str> {
        optional_line(input, Self::MAX_LEN).map(|s| s.map(Self)).map_err(|()| MSG_DESCRIPTION)
    }

    /// The description.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

// ---------------------------------------------------------------------------
// Generic SMTP fields
// ---------------------------------------------------------------------------

/// The SMTP server: an RFC 1123 host name, an IPv4 address, or an IPv6
/// address with or without `[brackets]` (seed 000).
///
/// Stored without brackets, because that is the form lettre, the resolver and
/// TLS name checks take. Single-label names (`mailpit`, `localhost`) are
/// accepted: they are how a server on the same host or in the same container
/// network is named. A trailing dot is not, as it changes certificate name
/// matching in ways few people expect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpHost(String);

impl SmtpHost {
    /// Longest host, in characters (seed 002).
    pub const MAX_LEN: usize = 100;

    /// Trims spaces; empty or too long is [`MSG_HOST_LEN`], anything that is
    /// not a host name or address (a scheme, a `:port`, spaces, underscores,
    /// control characters) is [`MSG_HOST_FORMAT`].
    pub fn parse(input: &str) -> Result<Self, &'static str> {
        let host = trim_spaces(input);
        if !char_len_within(host, 1, Self::MAX_LEN) {
            return Err(MSG_HOST_LEN);
        }
        if let Some(inner) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
            return match inner.parse::<Ipv6Addr>() {
                Ok(_) => Ok(Self(inner.to_owned())),
                Err(_) => Err(MSG_HOST_FORMAT),
            };
        }
        if host.parse::<IpAddr>().is_ok() || is_host_name(host, 1) {
            Ok(Self(host.to_owned()))
        } else {
            Err(MSG_HOST_FORMAT)
        }
    }

    /// The host name or address, IPv6 without brackets.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The address, when the host is given as one rather than by name.
    pub fn ip(&self) -> Option<IpAddr> {
        self.0.parse().ok()
    }
}

impl fmt::Display for SmtpHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The SMTP port: digits only, 1–49151 (seed 002).
///
/// Leading zeros are harmless (`0465` is 465). Signs, decimals and spaces
/// inside are refused: SPEC §2 says digits only, so `+25` is not a port even
/// though Rust's integer parser would take it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SmtpPort(u16);

impl SmtpPort {
    /// Highest port (seed 002): the top of the registered range.
    pub const MAX: u16 = 49151;

    /// Trims spaces, then checks the rule; the error is [`MSG_PORT`].
    pub fn parse(input: &str) -> Result<Self, &'static str> {
        let text = trim_spaces(input);
        if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(MSG_PORT);
        }
        let significant = text.trim_start_matches('0');
        // Five digits fit a u32 with room to spare; more cannot be in range.
        if significant.len() > 5 {
            return Err(MSG_PORT);
        }
        let value = significant.bytes().fold(0u32, |acc, b| acc * 10 + u32::from(b - b'0'));
        match u16::try_from(value) {
            Ok(port) if (1..=Self::MAX).contains(&port) => Ok(Self(port)),
            _ => Err(MSG_PORT),
        }
    }

    /// The port number.
    pub fn get(self) -> u16 {
        self.0
    }
}

impl fmt::Display for SmtpPort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// CA certificates trusted for one profile only, in PEM.
///
/// Only `CERTIFICATE` blocks whose body is valid base64, separated by
/// whitespace, at most 64 KiB: the explanatory text `openssl x509 -text`
/// prints, or a private key pasted by mistake, is refused rather than
/// silently ignored. Being a paste of several lines, it is the one field that
/// accepts line breaks and tabs as whitespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaPem {
    pem: String,
    der: Vec<Vec<u8>>,
}

const PEM_BEGIN: &str = "-----BEGIN CERTIFICATE-----";
const PEM_END: &str = "-----END CERTIFICATE-----";

fn is_pem_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

/// Whether `der` is an X.509 certificate usable as a trust anchor (so a block that only
/// looks like one is refused when it is pasted, not when the first email fails).
fn is_x509_certificate(der: &[u8]) -> bool {
    let cert = rustls::pki_types::CertificateDer::from(der);
    webpki::anchor_from_trusted_cert(&cert).is_ok()
}

impl CaPem {
    /// Largest accepted paste, in bytes; a CA bundle is a few KiB.
    pub const MAX_BYTES: usize = 64 * 1024;

    /// `Ok(None)` when blank; the error is [`MSG_CA_PEM`].
    pub fn parse(input: &str) -> Result<Option<Self>, &'static str> {
        let pem = input.trim_matches(is_pem_space);
        if pem.is_empty() {
            return Ok(None);
        }
        if pem.len() > Self::MAX_BYTES {
            return Err(MSG_CA_PEM);
        }
        let mut der = Vec::new();
        let mut rest = pem;
        loop {
            rest = rest.trim_start_matches(is_pem_space);
            if rest.is_empty() {
                break;
            }
            let after_begin = rest.strip_prefix(PEM_BEGIN).ok_or(MSG_CA_PEM)?;
            let (body, after_end) = after_begin.split_once(PEM_END).ok_or(MSG_CA_PEM)?;
            let body: String = body.chars().filter(|&c| !is_pem_space(c)).collect();
            match base64::engine::general_purpose::STANDARD.decode(body) {
                Ok(bytes) if is_x509_certificate(&bytes) => der.push(bytes),
                _ => return Err(MSG_CA_PEM),
            }
            rest = after_end;
        }
        Ok(Some(Self { pem: pem.replace("\r\n", "\n"), der }))
    }

    /// The PEM text as pasted, trimmed, line breaks as `\n`.
    pub fn as_str(&self) -> &str {
        &self.pem
    }

    /// Each certificate's DER bytes, in the order pasted.
    pub fn certificates_der(&self) -> &[Vec<u8>] {
        &self.der
    }

    /// Each certificate as its own canonical PEM block, for APIs that take
    /// one certificate at a time (lettre's `Certificate::from_pem`).
    pub fn pem_blocks(&self) -> Vec<String> {
        self.der
            .iter()
            .map(|der| {
                let b64 = base64::engine::general_purpose::STANDARD.encode(der);
                let mut block = String::with_capacity(b64.len() + b64.len() / 64 + 64);
                block.push_str(PEM_BEGIN);
                block.push('\n');
                // Base64 output is ASCII, so 64-byte chunks are whole lines.
                for line in b64.as_bytes().chunks(64) {
                    block.extend(line.iter().map(|&b| char::from(b)));
                    block.push('\n');
                }
                block.push_str(PEM_END);
                block.push('\n');
                block
            })
            .collect()
    }
}

/// The account a generic profile signs in with; its rule depends on the
/// tenant's [`CredentialPolicy`] (§2.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpUsername(String);

impl SmtpUsername {
    /// Longest account name, in characters, under either policy.
    pub const MAX_LEN: usize = 100;

    /// `documented`: §2.1 email format, else [`MSG_SMTP_USERNAME`].
    /// `provider`: 1–100 printable characters after trimming spaces, else
    /// [`MSG_PROVIDER_USERNAME`].
    pub fn parse(input: &str, policy: CredentialPolicy) -> Result<Self, &'static str> {
        match policy {
            CredentialPolicy::Documented => {
                EmailAddress::parse(input).map(|e| Self(e.as_str().to_owned())).ok_or(MSG_SMTP_USERNAME)
            }
            CredentialPolicy::Provider => {
                single_line(input, 1, Self::MAX_LEN).map(|s| Self(s.to_owned())).ok_or(MSG_PROVIDER_USERNAME)
            }
        }
    }

    /// The account name.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The account name, owned.
    pub fn into_string(self) -> String {
        self.0
    }
}

/// A generic profile's password, checked by the tenant's policy (§2.2).
/// Its `Debug` shows no characters of it.
#[derive(Clone, PartialEq, Eq)]
pub struct SmtpPassword(String);

impl SmtpPassword {
    /// Not trimmed. `documented`: [`smtp_password::check_documented`], else
    /// [`MSG_SMTP_PASSWORD`]; `provider`: [`smtp_password::check_provider`],
    /// else [`MSG_PROVIDER_PASSWORD`].
    pub fn parse(input: &str, policy: CredentialPolicy) -> Result<Self, &'static str> {
        let (ok, msg) = match policy {
            CredentialPolicy::Documented => (smtp_password::check_documented(input), MSG_SMTP_PASSWORD),
            CredentialPolicy::Provider => (smtp_password::check_provider(input), MSG_PROVIDER_PASSWORD),
        };
        if ok {
            Ok(Self(input.to_owned()))
        } else {
            Err(msg)
        }
    }

    /// The password, for the encrypting store or the AUTH command only.
    pub fn expose_secret(&self) -> &str {
        &self.0
    }

    /// The password, owned.
    pub fn into_inner(self) -> String {
        self.0
    }
}

impl fmt::Debug for SmtpPassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("SmtpPassword").field(&Redacted).finish()
    }
}

// ---------------------------------------------------------------------------
// MS Graph fields
// ---------------------------------------------------------------------------

/// The mailbox a Graph profile sends as (`/users/{username}/sendMail`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphUserName(EmailAddress);

impl GraphUserName {
    /// Checks §2.1; the error is [`MSG_GRAPH_USERNAME`].
    pub fn parse(input: &str) -> Result<Self, &'static str> {
        EmailAddress::parse(input).map(Self).ok_or(MSG_GRAPH_USERNAME)
    }

    /// The address text.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// The address.
    pub fn into_inner(self) -> EmailAddress {
        self.0
    }
}

/// Checks a Graph secret: 1–256 characters, none of them control characters,
/// not trimmed (a secret's spaces are its own).
fn graph_secret(input: &str) -> bool {
    char_len_within(input, 1, 256) && !input.chars().any(char::is_control)
}

/// A Graph profile's password. Its `Debug` shows no characters of it.
#[derive(Clone, PartialEq, Eq)]
pub struct GraphPassword(String);

impl GraphPassword {
    /// Longest password, in characters.
    pub const MAX_LEN: usize = 256;

    /// Not trimmed; the error is [`MSG_GRAPH_PASSWORD`].
    pub fn parse(input: &str) -> Result<Self, &'static str> {
        if graph_secret(input) {
            Ok(Self(input.to_owned()))
        } else {
            Err(MSG_GRAPH_PASSWORD)
        }
    }

    /// The password, for the encrypting store only.
    pub fn expose_secret(&self) -> &str {
        &self.0
    }

    /// The password, owned.
    pub fn into_inner(self) -> String {
        self.0
    }
}

impl fmt::Debug for GraphPassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("GraphPassword").field(&Redacted).finish()
    }
}

/// The Entra ID tenant: a GUID or a verified domain such as
/// `contoso.onmicrosoft.com`. The aliases `common` and `organizations` are
/// refused: they cannot issue client-credentials tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphTenantId(String);

impl GraphTenantId {
    /// The longest domain name DNS allows.
    pub const MAX_LEN: usize = 253;

    /// Trims spaces, then checks the rule; the error is [`MSG_GRAPH_TENANT_ID`].
    pub fn parse(input: &str) -> Result<Self, &'static str> {
        let id = trim_spaces(input);
        if id.len() <= Self::MAX_LEN && (is_guid(id) || is_host_name(id, 2)) {
            Ok(Self(id.to_owned()))
        } else {
            Err(MSG_GRAPH_TENANT_ID)
        }
    }

    /// The tenant, as it goes into the token URL.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The application (client) ID: a GUID, `8-4-4-4-12` hex digits in either
/// case, without braces (the Entra portal never shows them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphClientId(String);

impl GraphClientId {
    /// Trims spaces, then checks the rule; the error is [`MSG_GRAPH_CLIENT_ID`].
    pub fn parse(input: &str) -> Result<Self, &'static str> {
        let id = trim_spaces(input);
        if is_guid(id) {
            Ok(Self(id.to_owned()))
        } else {
            Err(MSG_GRAPH_CLIENT_ID)
        }
    }

    /// The client ID, as entered.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A Graph client secret. Its `Debug` shows no characters of it.
#[derive(Clone, PartialEq, Eq)]
pub struct GraphClientSecret(String);

impl GraphClientSecret {
    /// Longest secret, in characters.
    pub const MAX_LEN: usize = 256;

    /// Not trimmed; the error is [`MSG_GRAPH_CLIENT_SECRET`].
    pub fn parse(input: &str) -> Result<Self, &'static str> {
        if graph_secret(input) {
            Ok(Self(input.to_owned()))
        } else {
            Err(MSG_GRAPH_CLIENT_SECRET)
        }
    }

    /// The secret, for the encrypting store only.
    pub fn expose_secret(&self) -> &str {
        &self.0
    }

    /// The secret, owned.
    pub fn into_inner(self) -> String {
        self.0
    }
}

impl fmt::Debug for GraphClientSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("GraphClientSecret").field(&Redacted).finish()
    }
}

// ---------------------------------------------------------------------------
// The whole form
// ---------------------------------------------------------------------------

/// The profile form as submitted (SPEC §2 field names).
///
/// Every field defaults to empty, so a field the browser did not send (the
/// other type's fields, an unchecked checkbox) is not a deserialisation error.
/// A checkbox is on when present, whatever its value. `Debug` hides the
/// password and client secret, so a logged form leaks neither.
#[derive(Default, Clone, Deserialize)]
#[serde(default)]
pub struct ProfileForm {
    /// `name`.
    pub name: String,
    /// `kind`: `generic`, `graph`, or empty for generic.
    pub kind: String,
    /// `is_default` checkbox.
    pub is_default: Option<String>,
    /// `from_address`.
    pub from_address: String,
    /// `from_name`.
    pub from_name: String,
    /// `reply_to`.
    pub reply_to: String,
    /// `signature`.
    pub signature: String,
    /// `description`.
    pub description: String,
    /// `host` (generic).
    pub host: String,
    /// `port` (generic).
    pub port: String,
    /// `security` (generic): `ssl`, `starttls`, `none`, or empty for `ssl`.
    pub security: String,
    /// `tls_verify` checkbox (generic). Absent means off: the form renders it
    /// checked, so a browser omits it only when the user unchecked it.
    pub tls_verify: Option<String>,
    /// `ca_pem` (generic).
    pub ca_pem: String,
    /// `auth_required` checkbox (generic). Absent means off.
    pub auth_required: Option<String>,
    /// `username`: the SMTP account (generic) or the Graph user name.
    pub username: String,
    /// `password`: the SMTP account password (generic) or the Graph password.
    pub password: String,
    /// `graph_tenant_id` (graph).
    pub graph_tenant_id: String,
    /// `graph_client_id` (graph).
    pub graph_client_id: String,
    /// `graph_client_secret` (graph).
    pub graph_client_secret: String,
}

impl fmt::Debug for ProfileForm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hidden = |s: &str| (!s.is_empty()).then_some(Redacted);
        f.debug_struct("ProfileForm")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("is_default", &self.is_default)
            .field("from_address", &self.from_address)
            .field("from_name", &self.from_name)
            .field("reply_to", &self.reply_to)
            .field("signature", &self.signature)
            .field("description", &self.description)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("tls_verify", &self.tls_verify)
            .field("ca_pem", &self.ca_pem)
            .field("auth_required", &self.auth_required)
            .field("username", &self.username)
            .field("password", &hidden(&self.password))
            .field("graph_tenant_id", &self.graph_tenant_id)
            .field("graph_client_id", &self.graph_client_id)
            .field("graph_client_secret", &hidden(&self.graph_client_secret))
            .finish()
    }
}

/// Whether a form creates a profile or edits a stored one; it decides what a
/// blank password means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FormMode {
    /// A new profile (and a duplicate): a required secret must be typed.
    Create,
    /// A stored profile: a blank secret keeps the stored one (§2.2).
    Edit,
}

/// Field name → message, for re-rendering the form with status 422; keys
/// are the form field names of SPEC §2. One type for every form of the app,
/// so it lives in `domain` and is only re-exported here.
pub use super::FieldErrors;

/// A profile form that passed every rule of its type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileInput {
    /// Unique in the tenant only once the store agrees ([`MSG_NAME_TAKEN`]).
    pub name: ProfileName,
    /// The `is_default` checkbox (§3 decides what it does).
    pub is_default: bool,
    /// The `From` address.
    pub from_address: FromAddress,
    /// The `From` display name.
    pub from_name: SenderName,
    /// The `Reply-To` address, when given.
    pub reply_to: Option<ReplyTo>,
    /// The signature, when given.
    pub signature: Option<Signature>,
    /// The description, when given.
    pub description: Option<Description>,
    /// How mail leaves, with the fields of the chosen type only.
    pub transport: Transport,
}

impl ProfileInput {
    /// The profile's type.
    pub fn kind(&self) -> ProfileKind {
        self.transport.kind()
    }
}

/// The fields of one profile type. A password or secret is `None` only in
/// [`FormMode::Edit`] when left blank, meaning "keep the stored one"; the
/// caller must refuse that when nothing is stored (auth just turned on, or
/// the type changed). `Debug` hides passwords and secrets.
#[derive(Clone, PartialEq, Eq)]
pub enum Transport {
    /// Plain SMTP.
    Generic {
        /// Server host.
        host: SmtpHost,
        /// Server port.
        port: SmtpPort,
        /// Implicit TLS, required STARTTLS or none.
        security: Security,
        /// Whether the server certificate is verified.
        tls_verify: bool,
        /// Extra CAs trusted for this profile only.
        ca_pem: Option<CaPem>,
        /// Credentials, `None` when `auth_required` is off.
        auth: Option<SmtpAuth>,
    },
    /// Microsoft Graph.
    Graph {
        /// The mailbox sent as.
        username: EmailAddress,
        /// `None`: keep the stored password (edit only).
        password: Option<String>,
        /// The Entra ID tenant.
        tenant_id: GraphTenantId,
        /// The application (client) ID.
        client_id: GraphClientId,
        /// `None`: keep the stored secret (edit only).
        client_secret: Option<String>,
    },
}

impl Transport {
    /// The profile type these fields belong to.
    pub fn kind(&self) -> ProfileKind {
        match self {
            Self::Generic { .. } => ProfileKind::Generic,
            Self::Graph { .. } => ProfileKind::Graph,
        }
    }
}

impl fmt::Debug for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Generic { host, port, security, tls_verify, ca_pem, auth } => f
                .debug_struct("Generic")
                .field("host", host)
                .field("port", port)
                .field("security", security)
                .field("tls_verify", tls_verify)
                .field("ca_pem", &ca_pem.as_ref().map(|c| c.der.len()))
                .field("auth", auth)
                .finish(),
            Self::Graph { username, password, tenant_id, client_id, client_secret } => f
                .debug_struct("Graph")
                .field("username", username)
                .field("password", &redact(password))
                .field("tenant_id", tenant_id)
                .field("client_id", client_id)
                .field("client_secret", &redact(client_secret))
                .finish(),
        }
    }
}

/// SMTP credentials. `Debug` hides the password.
#[derive(Clone, PartialEq, Eq)]
pub struct SmtpAuth {
    /// The account, by the tenant's policy.
    pub username: String,
    /// `None`: keep the stored password (edit only).
    pub password: Option<String>,
}

impl fmt::Debug for SmtpAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpAuth").field("username", &self.username).field("password", &redact(&self.password)).finish()
    }
}

/// A required secret: blank keeps the stored one on edit and is
/// `blank_message` on create; anything else must pass `parse`.
fn secret<T>(
    input: &str,
    mode: FormMode,
    blank_message: &'static str,
    parse: impl FnOnce(&str) -> Result<T, &'static str>,
) -> Result<Option<T>, &'static str> {
    match (input.is_empty(), mode) {
        (true, FormMode::Edit) => Ok(None),
        (true, FormMode::Create) => Err(blank_message),
        (false, _) => parse(input).map(Some),
    }
}

impl ProfileForm {
    /// Checks the common fields and those of the chosen type, collecting
    /// every failure. Fields of the other type are ignored (they are hidden,
    /// not cleared, when the type is switched in the browser).
    pub fn parse(&self, policy: CredentialPolicy, mode: FormMode) -> Result<ProfileInput, FieldErrors> {
        let mut errors = FieldErrors::default();
        let e = &mut errors;
        let name = e.check("name", ProfileName::parse(&self.name));
        let from_address = e.check("from_address", FromAddress::parse(&self.from_address));
        let from_name = e.check("from_name", SenderName::parse(&self.from_name));
        let reply_to = e.check("reply_to", ReplyTo::parse(&self.reply_to));
        let signature = e.check("signature", Signature::parse(&self.signature));
        let description = e.check("description", Description::parse(&self.description));
        let kind = match trim_spaces(&self.kind) {
            "" => Ok(ProfileKind::default()),
            other => ProfileKind::parse(other).ok_or(MSG_KIND),
        };
        let transport = match e.check("kind", kind) {
            Some(ProfileKind::Generic) => self.parse_generic(policy, mode, e),
            Some(ProfileKind::Graph) => self.parse_graph(mode, e),
            None => None,
        };
        match (name, from_address, from_name, reply_to, signature, description, transport) {
            (
                Some(name),
                Some(from_address),
                Some(from_name),
                Some(reply_to),
                Some(signature),
                Some(description),
                Some(transport),
            ) if errors.is_empty() => Ok(ProfileInput {
                name,
                is_default: self.is_default.is_some(),
                from_address,
                from_name,
                reply_to,
                signature,
                description,
                transport,
            }),
            _ => Err(errors),
        }
    }

    fn parse_generic(&self, policy: CredentialPolicy, mode: FormMode, e: &mut FieldErrors) -> Option<Transport> {
        let host = e.check("host", SmtpHost::parse(&self.host));
        let port = e.check("port", SmtpPort::parse(&self.port));
        let security = match trim_spaces(&self.security) {
            "" => Ok(Security::default()),
            other => Security::parse(other).ok_or(MSG_SECURITY),
        };
        let security = e.check("security", security);
        let ca_pem = e.check("ca_pem", CaPem::parse(&self.ca_pem));
        let auth = if self.auth_required.is_some() {
            let username = e.check("username", SmtpUsername::parse(&self.username, policy));
            let blank = match policy {
                CredentialPolicy::Documented => MSG_SMTP_PASSWORD,
                CredentialPolicy::Provider => MSG_PROVIDER_PASSWORD,
            };
            let password =
                e.check("password", secret(&self.password, mode, blank, |pw| SmtpPassword::parse(pw, policy)));
            match (username, password) {
                (Some(username), Some(password)) => Some(Some(SmtpAuth {
                    username: username.into_string(),
                    password: password.map(SmtpPassword::into_inner),
                })),
                _ => None,
            }
        } else {
            Some(None)
        };
        Some(Transport::Generic {
            host: host?,
            port: port?,
            security: security?,
            tls_verify: self.tls_verify.is_some(),
            ca_pem: ca_pem?,
            auth: auth?,
        })
    }

    fn parse_graph(&self, mode: FormMode, e: &mut FieldErrors) -> Option<Transport> {
        let username = e.check("username", GraphUserName::parse(&self.username));
        let password = e.check("password", secret(&self.password, mode, MSG_GRAPH_PASSWORD, GraphPassword::parse));
        let tenant_id = e.check("graph_tenant_id", GraphTenantId::parse(&self.graph_tenant_id));
        let client_id = e.check("graph_client_id", GraphClientId::parse(&self.graph_client_id));
        let client_secret = e.check(
            "graph_client_secret",
            secret(&self.graph_client_secret, mode, MSG_GRAPH_CLIENT_SECRET, GraphClientSecret::parse),
        );
        Some(Transport::Graph {
            username: username?.into_inner(),
            password: password?.map(GraphPassword::into_inner),
            tenant_id: tenant_id?,
            client_id: client_id?,
            client_secret: client_secret?.map(GraphClientSecret::into_inner),
        })
    }
}

// ---------------------------------------------------------------------------
// Duplicate and test (§4)
// ---------------------------------------------------------------------------

/// The name of a duplicate (§4): `{source}_copied`, else `{source}_copied_2`,
/// `_copied_3`, … — the first that `is_taken` refuses, the source cut (by
/// characters) so the whole fits [`ProfileName::MAX_LEN`].
///
/// Whether a name is taken, case-insensitively, is the caller's business; the
/// loop ends as soon as it finds a free name, which it always does while
/// finitely many names are taken.
pub fn copied_name(source: &str, is_taken: impl Fn(&str) -> bool) -> String {
    let source = trim_spaces(source);
    let mut n: u64 = 1;
    loop {
        let suffix = if n == 1 { "_copied".to_owned() } else { format!("_copied_{n}") };
        let room = ProfileName::MAX_LEN.saturating_sub(suffix.chars().count());
        let candidate: String = source.chars().take(room).chain(suffix.chars()).collect();
        if !is_taken(&candidate) {
            return candidate;
        }
        n = n.saturating_add(1);
    }
}

/// The password a duplicate asks for (§4): generic profiles by the tenant's
/// policy (§2.2), Graph profiles by the Graph password rule. Not trimmed.
pub fn check_duplicate_password(kind: ProfileKind, policy: CredentialPolicy, pw: &str) -> Result<(), &'static str> {
    match kind {
        ProfileKind::Generic => SmtpPassword::parse(pw, policy).map(drop),
        ProfileKind::Graph => GraphPassword::parse(pw).map(drop),
    }
}

/// The `to` of a test email (§4); the error is [`MSG_TEST_TO`].
pub fn parse_test_to(input: &str) -> Result<EmailAddress, &'static str> {
    EmailAddress::parse(input).ok_or(MSG_TEST_TO)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Runs a single-value parser over `(input, expected)` rows, where the
    /// expectation is the stored text or the exact message.
    fn table<T>(
        what: &str,
        parse: impl Fn(&str) -> Result<T, &'static str>,
        show: impl Fn(&T) -> String,
        rows: &[(&str, Result<&str, &str>)],
    ) {
        for (input, expected) in rows {
            let got = parse(input);
            let got = got.as_ref().map(&show).map_err(|m| *m);
            let expected = expected.map(str::to_owned);
            assert_eq!(got, expected, "{what}: {input:?}");
        }
    }

    fn n(c: char, count: usize) -> String {
        std::iter::repeat_n(c, count).collect()
    }

    const GUID: &str = "0f8fad5b-d9cb-469f-a165-70867728950e";

    #[test]
    fn messages_are_word_for_word() {
        let expected = [
            (MSG_NAME, "Please enter a name of up to 50 letters, digits or underscores."),
            (MSG_NAME_TAKEN, "An SMTP profile with this name already exists."),
            (MSG_KIND, "Please choose a type."),
            (MSG_FROM_ADDRESS, "Please enter a from address in email format."),
            (MSG_FROM_NAME, "Please enter a sender name."),
            (MSG_REPLY_TO, "Please enter a reply-to address in email format."),
            (MSG_SIGNATURE, "Please enter a signature within 250 characters."),
            (MSG_DESCRIPTION, "Please enter a description within 1000 characters."),
            (MSG_HOST_LEN, "Please enter an SMTP host within 100 characters."),
            (MSG_HOST_FORMAT, "Please enter a valid SMTP host name or IP address."),
            (MSG_PORT, "Please enter an SMTP port between 1 and 49151."),
            (MSG_SECURITY, "Please choose a security mode."),
            (MSG_CA_PEM, "Please paste a PEM certificate."),
            (MSG_SMTP_USERNAME, "Please enter an SMTP account address in email format."),
            (MSG_SMTP_PASSWORD, "The SMTP account password does not meet the rules."),
            (MSG_PROVIDER_USERNAME, "Please enter an SMTP account name within 100 characters."),
            (MSG_PROVIDER_PASSWORD, "Please enter the SMTP account password."),
            (MSG_GRAPH_USERNAME, "Please enter a user name in email format."),
            (MSG_GRAPH_PASSWORD, "Please enter a password."),
            (MSG_GRAPH_TENANT_ID, "Please enter a tenant ID (a GUID or a domain name)."),
            (MSG_GRAPH_CLIENT_ID, "Please enter a client ID in GUID format."),
            (MSG_GRAPH_CLIENT_SECRET, "Please enter a client secret."),
            (MSG_TEST_TO, "Please enter a valid email address."),
        ];
        for (got, want) in expected {
            assert_eq!(got, want);
        }
        assert_eq!(msg_copied("smtp_copied"), "Copied as smtp_copied.");
        let to = EmailAddress::parse("a@x.io");
        assert_eq!(to.map(|t| msg_test_sent(&t)).as_deref(), Some("Test email sent to a@x.io."));
    }

    #[test]
    fn choices_round_trip() {
        for kind in ProfileKind::ALL {
            assert_eq!(ProfileKind::parse(kind.as_str()), Some(kind));
        }
        for sec in Security::ALL {
            assert_eq!(Security::parse(sec.as_str()), Some(sec));
        }
        for policy in CredentialPolicy::ALL {
            assert_eq!(CredentialPolicy::parse(policy.as_str()), Some(policy));
        }
        let kinds: &[(&str, Option<ProfileKind>)] = &[
            ("generic", Some(ProfileKind::Generic)),
            (" graph ", Some(ProfileKind::Graph)),
            ("Graph", None),
            ("", None),
            ("smtp", None),
            ("graph\n", None),
        ];
        for (input, want) in kinds {
            assert_eq!(ProfileKind::parse(input), *want, "{input:?}");
        }
        let modes: &[(&str, Option<Security>)] = &[
            ("ssl", Some(Security::Ssl)),
            ("starttls", Some(Security::Starttls)),
            ("none", Some(Security::None)),
            ("tls", None),
            ("SSL", None),
            ("", None),
        ];
        for (input, want) in modes {
            assert_eq!(Security::parse(input), *want, "{input:?}");
        }
        let policies: &[(&str, Option<CredentialPolicy>)] = &[
            ("documented", Some(CredentialPolicy::Documented)),
            ("provider", Some(CredentialPolicy::Provider)),
            ("Provider", None),
            ("", None),
        ];
        for (input, want) in policies {
            assert_eq!(CredentialPolicy::parse(input), *want, "{input:?}");
        }
        assert_eq!(ProfileKind::default(), ProfileKind::Generic);
        assert_eq!(Security::default(), Security::Ssl);
        assert_eq!(CredentialPolicy::default(), CredentialPolicy::Documented);
        assert_eq!(ProfileKind::Generic.label(), "Generic SMTP");
        assert_eq!(ProfileKind::Graph.label(), "MS Graph API");
        let ports: Vec<u16> = Security::ALL.iter().map(|s| s.default_port()).collect();
        assert_eq!(ports, [465, 587, 25]);
    }

    #[test]
    fn profile_name() {
        let max = n('a', 50);
        let over = n('a', 51);
        let padded_max = format!("  {max}  ");
        table(
            "name",
            ProfileName::parse,
            |v| v.to_string(),
            &[
                ("a", Ok("a")),
                ("Main_SMTP_2", Ok("Main_SMTP_2")),
                ("_", Ok("_")),
                ("  office365  ", Ok("office365")),
                (&max, Ok(&max)),
                (&padded_max, Ok(&max)),
                (&over, Err(MSG_NAME)),
                ("", Err(MSG_NAME)),
                ("   ", Err(MSG_NAME)),
                ("main smtp", Err(MSG_NAME)),
                ("main-smtp", Err(MSG_NAME)),
                ("main.smtp", Err(MSG_NAME)),
                ("café", Err(MSG_NAME)),
                ("名前", Err(MSG_NAME)),
                ("main\n", Err(MSG_NAME)),
                ("\tmain", Err(MSG_NAME)),
                ("main\u{0}", Err(MSG_NAME)),
            ],
        );
    }

    #[test]
    fn from_address_and_reply_to() {
        table(
            "from_address",
            FromAddress::parse,
            |v| v.to_string(),
            &[
                ("no-reply@example.co.uk", Ok("no-reply@example.co.uk")),
                (" first.last@example.com ", Ok("first.last@example.com")),
                ("", Err(MSG_FROM_ADDRESS)),
                ("user@localhost", Err(MSG_FROM_ADDRESS)),
                ("a..b@x.io", Err(MSG_FROM_ADDRESS)),
                ("a@x.io\r\nBcc: b@y.io", Err(MSG_FROM_ADDRESS)),
            ],
        );
        table(
            "reply_to",
            ReplyTo::parse,
            |v| format!("{:?}", v.as_ref().map(ReplyTo::as_str)),
            &[
                ("", Ok("None")),
                ("   ", Ok("None")),
                ("help@example.com", Ok("Some(\"help@example.com\")")),
                ("a@garbage[127.0.0.1]", Err(MSG_REPLY_TO)),
                ("help", Err(MSG_REPLY_TO)),
                ("\n", Err(MSG_REPLY_TO)),
            ],
        );
    }

    #[test]
    fn sender_name() {
        let max = n('é', 100);
        let over = n('é', 101);
        table(
            "from_name",
            SenderName::parse,
            |v| v.to_string(),
            &[
                ("A", Ok("A")),
                ("  ACME Support  ", Ok("ACME Support")),
                ("Zoë's \"Desk\" <x>", Ok("Zoë's \"Desk\" <x>")),
                (&max, Ok(&max)),
                (&over, Err(MSG_FROM_NAME)),
                ("", Err(MSG_FROM_NAME)),
                ("    ", Err(MSG_FROM_NAME)),
                ("ACME\r\nBcc: x@y.io", Err(MSG_FROM_NAME)),
                ("ACME\n", Err(MSG_FROM_NAME)),
                ("AC\tME", Err(MSG_FROM_NAME)),
                ("ACME\u{7f}", Err(MSG_FROM_NAME)),
                ("ACME\u{85}", Err(MSG_FROM_NAME)),
            ],
        );
    }

    #[test]
    fn signature_and_description() {
        let sig_max = n('s', 250);
        let sig_over = n('s', 251);
        table(
            "signature",
            Signature::parse,
            |v| format!("{:?}", v.as_ref().map(Signature::as_str)),
            &[
                ("", Ok("None")),
                ("   ", Ok("None")),
                ("s", Ok("Some(\"s\")")),
                ("  Regards, ACME  ", Ok("Some(\"Regards, ACME\")")),
                (&sig_max, Ok(&format!("Some({sig_max:?})"))),
                (&sig_over, Err(MSG_SIGNATURE)),
                // SPEC §2: CR and LF are refused in every text field.
                ("-- \r\nACME", Err(MSG_SIGNATURE)),
                ("Regards,\nACME", Err(MSG_SIGNATURE)),
                ("  \r\n  ", Err(MSG_SIGNATURE)),
                ("a\rb", Err(MSG_SIGNATURE)),
                ("a\tb", Err(MSG_SIGNATURE)),
                ("a\u{0}b", Err(MSG_SIGNATURE)),
                ("a\u{1b}[31mb", Err(MSG_SIGNATURE)),
            ],
        );
        let desc_max = n('d', 1000);
        let desc_over = n('d', 1001);
        let desc_multibyte = n('ü', 1000);
        table(
            "description",
            Description::parse,
            |v| format!("{}", v.as_ref().map_or(0, |d| d.as_str().chars().count())),
            &[
                ("", Ok("0")),
                ("d", Ok("1")),
                ("line one\nline two", Err(MSG_DESCRIPTION)),
                ("line one\r\nline two", Err(MSG_DESCRIPTION)),
                (&desc_max, Ok("1000")),
                (&desc_multibyte, Ok("1000")),
                (&desc_over, Err(MSG_DESCRIPTION)),
                ("a\u{c}b", Err(MSG_DESCRIPTION)),
            ],
        );
    }

    #[test]
    fn smtp_host() {
        let label63 = n('h', 63);
        let max = format!("{}.{}", n('h', 63), n('h', 36));
        let over = format!("{}.{}", n('h', 63), n('h', 37));
        table(
            "host",
            SmtpHost::parse,
            |v| v.to_string(),
            &[
                ("smtp.example.com", Ok("smtp.example.com")),
                ("  smtp.example.com  ", Ok("smtp.example.com")),
                ("SMTP.Example.COM", Ok("SMTP.Example.COM")),
                ("localhost", Ok("localhost")),
                ("mailpit", Ok("mailpit")),
                ("a", Ok("a")),
                ("1smtp.example.com", Ok("1smtp.example.com")),
                ("smtp-1.example.com", Ok("smtp-1.example.com")),
                (&label63, Ok(&label63)),
                (&max, Ok(&max)),
                ("192.0.2.1", Ok("192.0.2.1")),
                ("2001:db8::1", Ok("2001:db8::1")),
                ("[2001:db8::1]", Ok("2001:db8::1")),
                ("::1", Ok("::1")),
                ("[::]", Ok("::")),
                ("::ffff:192.0.2.1", Ok("::ffff:192.0.2.1")),
                ("", Err(MSG_HOST_LEN)),
                ("   ", Err(MSG_HOST_LEN)),
                (&over, Err(MSG_HOST_LEN)),
                ("smtp://smtp.example.com", Err(MSG_HOST_FORMAT)),
                ("smtp.example.com:587", Err(MSG_HOST_FORMAT)),
                ("192.0.2.1:25", Err(MSG_HOST_FORMAT)),
                ("[2001:db8::1]:25", Err(MSG_HOST_FORMAT)),
                ("[192.0.2.1]", Err(MSG_HOST_FORMAT)),
                ("[smtp.example.com]", Err(MSG_HOST_FORMAT)),
                ("[2001:db8::1", Err(MSG_HOST_FORMAT)),
                ("fe80::1%eth0", Err(MSG_HOST_FORMAT)),
                ("smtp example.com", Err(MSG_HOST_FORMAT)),
                ("smtp_relay.example.com", Err(MSG_HOST_FORMAT)),
                ("-smtp.example.com", Err(MSG_HOST_FORMAT)),
                ("smtp-.example.com", Err(MSG_HOST_FORMAT)),
                ("smtp..example.com", Err(MSG_HOST_FORMAT)),
                (".example.com", Err(MSG_HOST_FORMAT)),
                ("smtp.example.com.", Err(MSG_HOST_FORMAT)),
                (&format!("{}.io", n('h', 64)), Err(MSG_HOST_FORMAT)),
                ("256.1.1.1", Err(MSG_HOST_FORMAT)),
                ("010.0.0.1", Err(MSG_HOST_FORMAT)),
                ("192.0.2", Err(MSG_HOST_FORMAT)),
                ("2130706433", Err(MSG_HOST_FORMAT)),
                ("smtp.exämple.com", Err(MSG_HOST_FORMAT)),
                ("smtp.example.com\n", Err(MSG_HOST_FORMAT)),
                ("smtp\t.example.com", Err(MSG_HOST_FORMAT)),
                ("user@smtp.example.com", Err(MSG_HOST_FORMAT)),
                ("smtp.example.com/", Err(MSG_HOST_FORMAT)),
            ],
        );
        assert_eq!(
            SmtpHost::parse("[::1]").ok().and_then(|h| h.ip()),
            Some(IpAddr::from(std::net::Ipv6Addr::LOCALHOST))
        );
        assert_eq!(SmtpHost::parse("smtp.example.com").ok().and_then(|h| h.ip()), None);
    }

    #[test]
    fn smtp_host_length_counts_characters() {
        // 101 bytes but 100 characters would be length-fine yet not a host
        // name; it must get the format message, not the length one.
        let s = format!("{}é", n('h', 99));
        assert_eq!(SmtpHost::parse(&s), Err(MSG_HOST_FORMAT));
        let s = format!("{}é", n('h', 100));
        assert_eq!(SmtpHost::parse(&s), Err(MSG_HOST_LEN));
    }

    #[test]
    fn smtp_port() {
        table(
            "port",
            SmtpPort::parse,
            |v| v.to_string(),
            &[
                ("1", Ok("1")),
                ("25", Ok("25")),
                (" 25 ", Ok("25")),
                ("465", Ok("465")),
                ("0465", Ok("465")),
                ("000000000000000587", Ok("587")),
                ("49151", Ok("49151")),
                ("0", Err(MSG_PORT)),
                ("00", Err(MSG_PORT)),
                ("49152", Err(MSG_PORT)),
                ("65535", Err(MSG_PORT)),
                ("65536", Err(MSG_PORT)),
                ("99999999999999999999", Err(MSG_PORT)),
                ("", Err(MSG_PORT)),
                ("  ", Err(MSG_PORT)),
                ("+25", Err(MSG_PORT)),
                ("-1", Err(MSG_PORT)),
                ("25.0", Err(MSG_PORT)),
                ("2 5", Err(MSG_PORT)),
                ("25\n", Err(MSG_PORT)),
                ("0x19", Err(MSG_PORT)),
                ("２５", Err(MSG_PORT)),
                ("٢٥", Err(MSG_PORT)),
            ],
        );
    }

    /// A real self-signed CA certificate's DER, base64, made by rcgen.
    fn cert_b64() -> String {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        base64::engine::general_purpose::STANDARD.encode(cert.der())
    }

    fn pem(body: &str) -> String {
        format!("-----BEGIN CERTIFICATE-----\n{body}\n-----END CERTIFICATE-----")
    }

    #[test]
    fn ca_pem() {
        let one = pem(&cert_b64());
        let two = format!("{one}\n\n{}\n", pem(&cert_b64()));
        let not_x509 = pem("AAEC");
        let crlf = one.replace('\n', "\r\n");
        let explanatory = format!("Certificate:\n    Data: ...\n{one}");
        let trailing = format!("{one}\ngarbage");
        let key = "-----BEGIN PRIVATE KEY-----\nAAEC\n-----END PRIVATE KEY-----";
        let unterminated = format!("-----BEGIN CERTIFICATE-----\n{}\n", cert_b64());
        let bad_b64 = pem("not*base64");
        let bad_padding = pem("AAE");
        let empty_body = pem("");
        let control = pem("AA\u{0}EC");
        let big = pem(&n('A', CaPem::MAX_BYTES));
        let rows: &[(&str, Result<usize, &str>)] = &[
            ("", Ok(0)),
            ("  \r\n\t ", Ok(0)),
            (&one, Ok(1)),
            (&two, Ok(2)),
            (&crlf, Ok(1)),
            (&not_x509, Err(MSG_CA_PEM)),
            (&explanatory, Err(MSG_CA_PEM)),
            (&trailing, Err(MSG_CA_PEM)),
            (key, Err(MSG_CA_PEM)),
            (&unterminated, Err(MSG_CA_PEM)),
            (&bad_b64, Err(MSG_CA_PEM)),
            (&bad_padding, Err(MSG_CA_PEM)),
            (&empty_body, Err(MSG_CA_PEM)),
            (&control, Err(MSG_CA_PEM)),
            (&big, Err(MSG_CA_PEM)),
            ("MIIBdzCCAR2gAwIBAgIU", Err(MSG_CA_PEM)),
        ];
        for (input, want) in rows {
            let got = CaPem::parse(input).map(|c| c.map_or(0, |c| c.certificates_der().len()));
            assert_eq!(got, *want, "{input:?}");
        }
        let parsed = CaPem::parse(&crlf).ok().flatten();
        assert_eq!(parsed.as_ref().map(CaPem::as_str), Some(one.as_str()));
        // Re-emitted blocks parse back to the same certificates.
        let parsed = CaPem::parse(&two).ok().flatten();
        let blocks = parsed.as_ref().map(CaPem::pem_blocks).unwrap_or_default();
        assert_eq!(blocks.len(), 2);
        let reparsed = CaPem::parse(&blocks.concat()).ok().flatten();
        assert_eq!(reparsed.as_ref().map(CaPem::certificates_der), parsed.as_ref().map(CaPem::certificates_der));
    }

    #[test]
    fn smtp_username_by_policy() {
        let max = n('u', 100);
        let over = n('u', 101);
        let documented = |s: &str| SmtpUsername::parse(s, CredentialPolicy::Documented);
        let provider = |s: &str| SmtpUsername::parse(s, CredentialPolicy::Provider);
        table(
            "username (documented)",
            documented,
            |v| v.as_str().to_owned(),
            &[
                ("mailer@example.com", Ok("mailer@example.com")),
                (" mailer@example.com ", Ok("mailer@example.com")),
                ("apikey", Err(MSG_SMTP_USERNAME)),
                ("", Err(MSG_SMTP_USERNAME)),
                ("user@localhost", Err(MSG_SMTP_USERNAME)),
            ],
        );
        table(
            "username (provider)",
            provider,
            |v| v.as_str().to_owned(),
            &[
                ("apikey", Ok("apikey")),
                ("  apikey  ", Ok("apikey")),
                ("AKIA EXAMPLE", Ok("AKIA EXAMPLE")),
                ("u", Ok("u")),
                (&max, Ok(&max)),
                (&over, Err(MSG_PROVIDER_USERNAME)),
                ("", Err(MSG_PROVIDER_USERNAME)),
                ("  ", Err(MSG_PROVIDER_USERNAME)),
                ("api\nkey", Err(MSG_PROVIDER_USERNAME)),
            ],
        );
    }

    #[test]
    fn smtp_password_by_policy() {
        let rows: &[(CredentialPolicy, &str, Result<(), &str>)] = &[
            (CredentialPolicy::Documented, "Aa1!Bb2@Cc", Ok(())),
            (CredentialPolicy::Documented, "abcdefghijklmnop", Err(MSG_SMTP_PASSWORD)),
            (CredentialPolicy::Documented, "", Err(MSG_SMTP_PASSWORD)),
            (CredentialPolicy::Documented, " Aa1!Bb2@Cc", Err(MSG_SMTP_PASSWORD)),
            (CredentialPolicy::Provider, "abcd efgh ijkl mnop", Ok(())),
            (CredentialPolicy::Provider, " ", Ok(())),
            (CredentialPolicy::Provider, "", Err(MSG_PROVIDER_PASSWORD)),
            (CredentialPolicy::Provider, "pw\r\n", Err(MSG_PROVIDER_PASSWORD)),
        ];
        for (policy, pw, want) in rows {
            let got = SmtpPassword::parse(pw, *policy).map(|p| assert_eq!(p.expose_secret(), *pw));
            assert_eq!(got, *want, "{policy:?} {pw:?}");
        }
        let p = SmtpPassword::parse("Aa1!Bb2@Cc", CredentialPolicy::Documented);
        assert!(!format!("{p:?}").contains("Aa1!"));
    }

    #[test]
    fn graph_fields() {
        let max = n('p', 256);
        let over = n('p', 257);
        let max_multibyte = n('ß', 256);
        table(
            "graph username",
            GraphUserName::parse,
            |v| v.as_str().to_owned(),
            &[
                ("mailer@contoso.onmicrosoft.com", Ok("mailer@contoso.onmicrosoft.com")),
                ("mailer", Err(MSG_GRAPH_USERNAME)),
                ("", Err(MSG_GRAPH_USERNAME)),
            ],
        );
        for (parse, msg) in [
            (
                (|s: &str| GraphPassword::parse(s).map(|p| p.expose_secret().to_owned()))
                    as fn(&str) -> Result<String, &'static str>,
                MSG_GRAPH_PASSWORD,
            ),
            (|s: &str| GraphClientSecret::parse(s).map(|p| p.expose_secret().to_owned()), MSG_GRAPH_CLIENT_SECRET),
        ] {
            table(
                "graph secret",
                parse,
                String::clone,
                &[
                    ("p", Ok("p")),
                    (" spaced secret ", Ok(" spaced secret ")),
                    ("Q~x8Q~abc.def_ghi-jkl", Ok("Q~x8Q~abc.def_ghi-jkl")),
                    (&max, Ok(&max)),
                    (&max_multibyte, Ok(&max_multibyte)),
                    (&over, Err(msg)),
                    ("", Err(msg)),
                    ("sec\nret", Err(msg)),
                    ("sec\u{0}ret", Err(msg)),
                ],
            );
        }
        let upper = GUID.to_ascii_uppercase();
        table(
            "tenant id",
            GraphTenantId::parse,
            |v| v.as_str().to_owned(),
            &[
                (GUID, Ok(GUID)),
                (&upper, Ok(&upper)),
                ("contoso.onmicrosoft.com", Ok("contoso.onmicrosoft.com")),
                (" contoso.com ", Ok("contoso.com")),
                ("common", Err(MSG_GRAPH_TENANT_ID)),
                ("contoso", Err(MSG_GRAPH_TENANT_ID)),
                ("contoso.com.", Err(MSG_GRAPH_TENANT_ID)),
                ("https://login.microsoftonline.com/contoso.com", Err(MSG_GRAPH_TENANT_ID)),
                ("contoso.com/x", Err(MSG_GRAPH_TENANT_ID)),
                ("", Err(MSG_GRAPH_TENANT_ID)),
                ("contoso.com\n", Err(MSG_GRAPH_TENANT_ID)),
            ],
        );
        table(
            "client id",
            GraphClientId::parse,
            |v| v.as_str().to_owned(),
            &[
                (GUID, Ok(GUID)),
                (&upper, Ok(&upper)),
                (&format!(" {GUID} "), Ok(GUID)),
                (&format!("{{{GUID}}}"), Err(MSG_GRAPH_CLIENT_ID)),
                ("0f8fad5bd9cb469fa16570867728950e", Err(MSG_GRAPH_CLIENT_ID)),
                ("0f8fad5b-d9cb-469f-a165-70867728950", Err(MSG_GRAPH_CLIENT_ID)),
                ("0f8fad5b-d9cb-469f-a165-70867728950e0", Err(MSG_GRAPH_CLIENT_ID)),
                ("0f8fad5g-d9cb-469f-a165-70867728950e", Err(MSG_GRAPH_CLIENT_ID)),
                ("0f8fad5b-d9cb-469f-a16570867728950e-", Err(MSG_GRAPH_CLIENT_ID)),
                ("0f8fad5b-d9cb-469f-a165-70867728950é", Err(MSG_GRAPH_CLIENT_ID)),
                ("contoso.com", Err(MSG_GRAPH_CLIENT_ID)),
                ("", Err(MSG_GRAPH_CLIENT_ID)),
            ],
        );
    }

    #[test]
    fn test_to() {
        assert!(parse_test_to(" admin@example.com ").is_ok());
        assert_eq!(parse_test_to("admin"), Err(MSG_TEST_TO));
        assert_eq!(parse_test_to(""), Err(MSG_TEST_TO));
        assert_eq!(parse_test_to("user@localhost"), Err(MSG_TEST_TO));
    }

    // ---- The whole form ----

    fn generic_form() -> ProfileForm {
        ProfileForm {
            name: "main".into(),
            kind: "generic".into(),
            is_default: Some("on".into()),
            from_address: "no-reply@example.com".into(),
            from_name: "ACME".into(),
            host: "smtp.example.com".into(),
            port: "587".into(),
            security: "starttls".into(),
            tls_verify: Some("on".into()),
            auth_required: Some("on".into()),
            username: "mailer@example.com".into(),
            password: "Aa1!Bb2@Cc".into(),
            ..ProfileForm::default()
        }
    }

    fn graph_form() -> ProfileForm {
        ProfileForm {
            name: "graph".into(),
            kind: "graph".into(),
            from_address: "no-reply@contoso.com".into(),
            from_name: "Contoso".into(),
            username: "mailer@contoso.com".into(),
            password: "any password".into(),
            graph_tenant_id: "contoso.onmicrosoft.com".into(),
            graph_client_id: GUID.into(),
            graph_client_secret: "Q~secret".into(),
            ..ProfileForm::default()
        }
    }

    /// The form's errors, sorted by field (the tables list them that way; the form's own
    /// order is checked in `errors_come_in_form_order`).
    fn errors_of(form: &ProfileForm, policy: CredentialPolicy, mode: FormMode) -> Vec<(&'static str, &'static str)> {
        match form.parse(policy, mode) {
            Ok(_) => Vec::new(),
            Err(errors) => {
                let mut list: Vec<_> = errors.iter().collect();
                list.sort();
                list
            }
        }
    }

    #[test]
    fn errors_come_in_form_order() {
        let form = ProfileForm { name: "bad name".into(), port: "0".into(), password: "x".into(), ..generic_form() };
        let fields: Vec<&str> = match form.parse(CredentialPolicy::Documented, FormMode::Create) {
            Ok(_) => Vec::new(),
            Err(errors) => errors.iter().map(|(field, _)| field).collect(),
        };
        assert_eq!(fields, ["name", "port", "password"]);
    }

    #[test]
    fn a_valid_generic_form() {
        let input = generic_form().parse(CredentialPolicy::Documented, FormMode::Create);
        let Ok(input) = input else {
            panic!("should pass: {input:?}");
        };
        assert_eq!(input.name.as_str(), "main");
        assert!(input.is_default);
        assert_eq!(input.kind(), ProfileKind::Generic);
        assert_eq!(input.reply_to, None);
        assert_eq!(input.signature, None);
        assert_eq!(input.description, None);
        let Transport::Generic { host, port, security, tls_verify, ca_pem, auth } = input.transport else {
            panic!("generic expected");
        };
        assert_eq!(host.as_str(), "smtp.example.com");
        assert_eq!(port.get(), 587);
        assert_eq!(security, Security::Starttls);
        assert!(tls_verify);
        assert_eq!(ca_pem, None);
        assert_eq!(auth, Some(SmtpAuth { username: "mailer@example.com".into(), password: Some("Aa1!Bb2@Cc".into()) }));
    }

    #[test]
    fn a_valid_graph_form_ignores_generic_fields() {
        let form = ProfileForm {
            host: "not a host".into(),
            port: "0".into(),
            security: "bogus".into(),
            ca_pem: "junk".into(),
            auth_required: Some("on".into()),
            ..graph_form()
        };
        let input = form.parse(CredentialPolicy::Documented, FormMode::Create);
        let Ok(input) = input else {
            panic!("should pass: {input:?}");
        };
        assert!(!input.is_default);
        assert_eq!(
            input.transport,
            Transport::Graph {
                username: EmailAddress::parse("mailer@contoso.com").unwrap_or_else(|| unreachable!()),
                password: Some("any password".into()),
                tenant_id: GraphTenantId("contoso.onmicrosoft.com".into()),
                client_id: GraphClientId(GUID.into()),
                client_secret: Some("Q~secret".into()),
            }
        );
    }

    #[test]
    fn a_generic_form_ignores_graph_fields() {
        let form = ProfileForm {
            graph_tenant_id: "???".into(),
            graph_client_id: "nope".into(),
            graph_client_secret: "x\n".into(),
            ..generic_form()
        };
        assert_eq!(errors_of(&form, CredentialPolicy::Documented, FormMode::Create), []);
    }

    #[test]
    fn every_error_is_collected() {
        let form = ProfileForm {
            name: "bad name".into(),
            from_address: "nope".into(),
            from_name: "".into(),
            reply_to: "nope".into(),
            signature: n('s', 251),
            description: n('d', 1001),
            host: "".into(),
            port: "0".into(),
            security: "tls".into(),
            ca_pem: "junk".into(),
            username: "nope".into(),
            password: "short".into(),
            ..generic_form()
        };
        assert_eq!(
            errors_of(&form, CredentialPolicy::Documented, FormMode::Create),
            [
                ("ca_pem", MSG_CA_PEM),
                ("description", MSG_DESCRIPTION),
                ("from_address", MSG_FROM_ADDRESS),
                ("from_name", MSG_FROM_NAME),
                ("host", MSG_HOST_LEN),
                ("name", MSG_NAME),
                ("password", MSG_SMTP_PASSWORD),
                ("port", MSG_PORT),
                ("reply_to", MSG_REPLY_TO),
                ("security", MSG_SECURITY),
                ("signature", MSG_SIGNATURE),
                ("username", MSG_SMTP_USERNAME),
            ]
        );
        let graph = ProfileForm {
            username: "nope".into(),
            password: "".into(),
            graph_tenant_id: "".into(),
            graph_client_id: "".into(),
            graph_client_secret: "".into(),
            ..graph_form()
        };
        assert_eq!(
            errors_of(&graph, CredentialPolicy::Documented, FormMode::Create),
            [
                ("graph_client_id", MSG_GRAPH_CLIENT_ID),
                ("graph_client_secret", MSG_GRAPH_CLIENT_SECRET),
                ("graph_tenant_id", MSG_GRAPH_TENANT_ID),
                ("password", MSG_GRAPH_PASSWORD),
                ("username", MSG_GRAPH_USERNAME),
            ]
        );
    }

    #[test]
    fn kind_rules() {
        let empty_kind = ProfileForm { kind: "".into(), ..generic_form() };
        let parsed = empty_kind.parse(CredentialPolicy::Documented, FormMode::Create);
        assert_eq!(parsed.map(|p| p.kind()), Ok(ProfileKind::Generic));

        let unknown = ProfileForm { kind: "sendgrid".into(), name: "".into(), ..generic_form() };
        assert_eq!(
            errors_of(&unknown, CredentialPolicy::Documented, FormMode::Create),
            [("kind", MSG_KIND), ("name", MSG_NAME)]
        );
    }

    #[test]
    fn auth_off_skips_credentials() {
        let form =
            ProfileForm { auth_required: None, username: "not an email".into(), password: "".into(), ..generic_form() };
        let parsed = form.parse(CredentialPolicy::Documented, FormMode::Create);
        let auth = parsed.map(|p| match p.transport {
            Transport::Generic { auth, .. } => auth,
            Transport::Graph { .. } => panic!("generic expected"),
        });
        assert_eq!(auth, Ok(None));
    }

    #[test]
    fn checkboxes_are_on_when_present() {
        let off = ProfileForm { tls_verify: None, is_default: None, ..generic_form() };
        let parsed = off.parse(CredentialPolicy::Documented, FormMode::Create);
        let flags = parsed.map(|p| match p.transport {
            Transport::Generic { tls_verify, .. } => (p.is_default, tls_verify),
            Transport::Graph { .. } => panic!("generic expected"),
        });
        assert_eq!(flags, Ok((false, false)));
        let odd = ProfileForm { tls_verify: Some("".into()), is_default: Some("yes".into()), ..generic_form() };
        let parsed = odd.parse(CredentialPolicy::Documented, FormMode::Create);
        let flags = parsed.map(|p| match p.transport {
            Transport::Generic { tls_verify, .. } => (p.is_default, tls_verify),
            Transport::Graph { .. } => panic!("generic expected"),
        });
        assert_eq!(flags, Ok((true, true)));
    }

    #[test]
    fn empty_security_means_ssl() {
        let form = ProfileForm { security: "".into(), port: "465".into(), ..generic_form() };
        let parsed = form.parse(CredentialPolicy::Documented, FormMode::Create);
        let security = parsed.map(|p| match p.transport {
            Transport::Generic { security, .. } => security,
            Transport::Graph { .. } => panic!("generic expected"),
        });
        assert_eq!(security, Ok(Security::Ssl));
    }

    #[test]
    fn blank_secrets_by_mode() {
        // (form, policy, mode, expected errors)
        let generic_blank = ProfileForm { password: "".into(), ..generic_form() };
        let graph_blank = ProfileForm { password: "".into(), graph_client_secret: "".into(), ..graph_form() };
        type Row<'a> = (&'a ProfileForm, CredentialPolicy, FormMode, Vec<(&'a str, &'a str)>);
        let rows: Vec<Row> = vec![
            (&generic_blank, CredentialPolicy::Documented, FormMode::Create, vec![("password", MSG_SMTP_PASSWORD)]),
            (&generic_blank, CredentialPolicy::Provider, FormMode::Create, vec![("password", MSG_PROVIDER_PASSWORD)]),
            (&generic_blank, CredentialPolicy::Documented, FormMode::Edit, vec![]),
            (&generic_blank, CredentialPolicy::Provider, FormMode::Edit, vec![]),
            (
                &graph_blank,
                CredentialPolicy::Documented,
                FormMode::Create,
                vec![("graph_client_secret", MSG_GRAPH_CLIENT_SECRET), ("password", MSG_GRAPH_PASSWORD)],
            ),
            (&graph_blank, CredentialPolicy::Documented, FormMode::Edit, vec![]),
        ];
        for (form, policy, mode, want) in rows {
            assert_eq!(errors_of(form, policy, mode), want, "{policy:?} {mode:?}");
        }
        let edit = generic_blank.parse(CredentialPolicy::Documented, FormMode::Edit);
        let password = edit.map(|p| match p.transport {
            Transport::Generic { auth, .. } => auth.map(|a| a.password),
            Transport::Graph { .. } => panic!("generic expected"),
        });
        assert_eq!(password, Ok(Some(None)));
        let edit = graph_blank.parse(CredentialPolicy::Documented, FormMode::Edit);
        let secrets = edit.map(|p| match p.transport {
            Transport::Graph { password, client_secret, .. } => (password, client_secret),
            Transport::Generic { .. } => panic!("graph expected"),
        });
        assert_eq!(secrets, Ok((None, None)));
        // A typed password is still checked on edit.
        let weak = ProfileForm { password: "weak".into(), ..generic_form() };
        assert_eq!(errors_of(&weak, CredentialPolicy::Documented, FormMode::Edit), [("password", MSG_SMTP_PASSWORD)]);
    }

    #[test]
    fn provider_policy_in_the_form() {
        let form = ProfileForm { username: "apikey".into(), password: "SG.abc-DEF_123.xyz".into(), ..generic_form() };
        assert_eq!(
            errors_of(&form, CredentialPolicy::Documented, FormMode::Create),
            [("password", MSG_SMTP_PASSWORD), ("username", MSG_SMTP_USERNAME)]
        );
        assert_eq!(errors_of(&form, CredentialPolicy::Provider, FormMode::Create), []);
        let long = ProfileForm { username: n('u', 101), ..form };
        assert_eq!(
            errors_of(&long, CredentialPolicy::Provider, FormMode::Create),
            [("username", MSG_PROVIDER_USERNAME)]
        );
    }

    #[test]
    fn secrets_stay_out_of_debug_output() {
        let form =
            ProfileForm { password: "Aa1!Bb2@Cc".into(), graph_client_secret: "Q~topsecret".into(), ..generic_form() };
        let shown = format!("{form:?}");
        assert!(!shown.contains("Aa1!Bb2@Cc") && !shown.contains("topsecret"), "{shown}");
        let input = form.parse(CredentialPolicy::Documented, FormMode::Create);
        let shown = format!("{input:?}");
        assert!(!shown.contains("Aa1!Bb2@Cc"), "{shown}");
        assert!(shown.contains("<redacted>"), "{shown}");
        let graph = graph_form().parse(CredentialPolicy::Documented, FormMode::Create);
        let shown = format!("{graph:?}");
        assert!(!shown.contains("any password") && !shown.contains("Q~secret"), "{shown}");
    }

    #[test]
    fn missing_fields_deserialize_as_empty() {
        use serde::de::value::{Error, MapDeserializer};
        let fields = vec![("name", "main"), ("host", "smtp.example.com")];
        let form = ProfileForm::deserialize(MapDeserializer::<_, Error>::new(fields.into_iter()));
        let form = form.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(form.name, "main");
        assert_eq!(form.host, "smtp.example.com");
        assert_eq!(form.port, "");
        assert_eq!(form.tls_verify, None);
        assert_eq!(form.auth_required, None);
    }

    #[test]
    fn a_store_message_replaces_a_parse_message() {
        let mut errors = FieldErrors::default();
        assert!(errors.is_empty());
        errors.insert("name", MSG_NAME);
        errors.insert("name", MSG_NAME_TAKEN);
        assert_eq!(errors.get("name"), Some(MSG_NAME_TAKEN));
        assert_eq!(errors.get("host"), None);
        assert_eq!(errors.iter().count(), 1);
    }

    // ---- Duplicate (§4) ----

    #[test]
    fn copied_names() {
        let none = |_: &str| false;
        let name40 = n('a', 40);
        let name50 = n('b', 50);
        let rows: Vec<(&str, Vec<String>, String)> = vec![
            ("main", vec![], "main_copied".into()),
            ("main", vec!["main_copied".into()], "main_copied_2".into()),
            ("main", vec!["main_copied".into(), "main_copied_2".into()], "main_copied_3".into()),
            // Only exact candidates count: a gap is reused.
            ("main", vec!["main_copied".into(), "main_copied_3".into()], "main_copied_2".into()),
            (&name40, vec![], format!("{}_copied", n('a', 40))),
            (&name50, vec![], format!("{}_copied", n('b', 43))),
            (&name50, vec![format!("{}_copied", n('b', 43))], format!("{}_copied_2", n('b', 41))),
            ("main_copied", vec![], "main_copied_copied".into()),
        ];
        for (source, taken, want) in rows {
            let got = copied_name(source, |c| taken.iter().any(|t| t == c));
            assert_eq!(got, want, "{source:?} with {taken:?} taken");
            assert!(got.chars().count() <= ProfileName::MAX_LEN);
        }
        // Nine taken: the suffix grows to two digits and the source shrinks.
        let taken: Vec<String> = (1..=9)
            .map(|i| {
                let suffix = if i == 1 { "_copied".to_owned() } else { format!("_copied_{i}") };
                format!("{}{suffix}", n('b', 50 - suffix.len()))
            })
            .collect();
        let got = copied_name(&name50, |c| taken.iter().any(|t| t == c));
        assert_eq!(got, format!("{}_copied_10", n('b', 40)));
        assert_eq!(copied_name("main", none), "main_copied");
        // Multi-byte input (not a valid name, but must not panic or overflow).
        let wide = n('é', 60);
        let got = copied_name(&wide, none);
        assert_eq!(got.chars().count(), 50);
    }

    #[test]
    fn duplicate_password_rules() {
        let rows: &[(ProfileKind, CredentialPolicy, &str, Result<(), &str>)] = &[
            (ProfileKind::Generic, CredentialPolicy::Documented, "Aa1!Bb2@Cc", Ok(())),
            (ProfileKind::Generic, CredentialPolicy::Documented, "abcd efgh ijkl mnop", Err(MSG_SMTP_PASSWORD)),
            (ProfileKind::Generic, CredentialPolicy::Documented, "", Err(MSG_SMTP_PASSWORD)),
            (ProfileKind::Generic, CredentialPolicy::Provider, "abcd efgh ijkl mnop", Ok(())),
            (ProfileKind::Generic, CredentialPolicy::Provider, "", Err(MSG_PROVIDER_PASSWORD)),
            (ProfileKind::Graph, CredentialPolicy::Documented, "weak", Ok(())),
            (ProfileKind::Graph, CredentialPolicy::Provider, "", Err(MSG_GRAPH_PASSWORD)),
            (ProfileKind::Graph, CredentialPolicy::Documented, "a\nb", Err(MSG_GRAPH_PASSWORD)),
        ];
        for (kind, policy, pw, want) in rows {
            assert_eq!(check_duplicate_password(*kind, *policy, pw), *want, "{kind:?} {policy:?} {pw:?}");
        }
    }

    // ---- Properties ----

    fn any_form() -> impl Strategy<Value = ProfileForm> {
        let text = || prop_oneof![any::<String>(), "[a-z0-9@._ \r\n:\\[\\]-]{0,30}", Just(String::new())];
        let flag = || prop::option::of(any::<String>());
        (
            (text(), prop_oneof![Just("generic".to_owned()), Just("graph".to_owned()), text()], flag()),
            (text(), text(), text(), text(), text()),
            (text(), text(), text(), flag(), text(), flag()),
            (text(), text(), text(), text(), text()),
        )
            .prop_map(|(a, b, c, d)| ProfileForm {
                name: a.0,
                kind: a.1,
                is_default: a.2,
                from_address: b.0,
                from_name: b.1,
                reply_to: b.2,
                signature: b.3,
                description: b.4,
                host: c.0,
                port: c.1,
                security: c.2,
                tls_verify: c.3,
                ca_pem: c.4,
                auth_required: c.5,
                username: d.0,
                password: d.1,
                graph_tenant_id: d.2,
                graph_client_id: d.3,
                graph_client_secret: d.4,
            })
    }

    fn copy_suffix_ok(name: &str) -> bool {
        if name.ends_with("_copied") {
            return true;
        }
        match name.rsplit_once("_copied_") {
            Some((_, digits)) => {
                !digits.is_empty()
                    && !digits.starts_with('0')
                    && digits.bytes().all(|b| b.is_ascii_digit())
                    && digits != "1"
            }
            None => false,
        }
    }

    proptest! {
        #[test]
        fn field_parsers_never_panic(s in any::<String>()) {
            let _ = ProfileName::parse(&s);
            let _ = FromAddress::parse(&s);
            let _ = SenderName::parse(&s);
            let _ = ReplyTo::parse(&s);
            let _ = Signature::parse(&s);
            let _ = Description::parse(&s);
            let _ = SmtpHost::parse(&s);
            let _ = SmtpPort::parse(&s);
            let _ = CaPem::parse(&s);
            let _ = SmtpUsername::parse(&s, CredentialPolicy::Documented);
            let _ = SmtpUsername::parse(&s, CredentialPolicy::Provider);
            let _ = SmtpPassword::parse(&s, CredentialPolicy::Documented);
            let _ = SmtpPassword::parse(&s, CredentialPolicy::Provider);
            let _ = GraphUserName::parse(&s);
            let _ = GraphPassword::parse(&s);
            let _ = GraphTenantId::parse(&s);
            let _ = GraphClientId::parse(&s);
            let _ = GraphClientSecret::parse(&s);
            let _ = ProfileKind::parse(&s);
            let _ = Security::parse(&s);
            let _ = CredentialPolicy::parse(&s);
            let _ = parse_test_to(&s);
            let _ = check_duplicate_password(ProfileKind::Generic, CredentialPolicy::Documented, &s);
            let _ = check_duplicate_password(ProfileKind::Graph, CredentialPolicy::Provider, &s);
        }

        #[test]
        fn parsers_never_panic_near_their_formats(
            s in "[\\[\\]:.0-9a-fA-F é\u{1F600}\r\n\t_-]{0,120}",
            pem_body in "[A-Za-z0-9+/= \r\né-]{0,200}",
        ) {
            let _ = SmtpHost::parse(&s);
            let _ = SmtpPort::parse(&s);
            let _ = GraphTenantId::parse(&s);
            let _ = GraphClientId::parse(&s);
            let _ = Signature::parse(&s);
            let _ = CaPem::parse(&pem(&pem_body));
            let _ = CaPem::parse(&format!("{}{}", pem(&pem_body), pem_body));
        }

        #[test]
        fn form_parse_never_panics(form in any_form()) {
            for policy in CredentialPolicy::ALL {
                for mode in [FormMode::Create, FormMode::Edit] {
                    let _ = form.parse(policy, mode);
                }
            }
        }

        #[test]
        fn accepted_single_line_fields_hold_no_control_characters(s in any::<String>()) {
            let fields = [
                ProfileName::parse(&s).map(|v| v.as_str().to_owned()),
                SenderName::parse(&s).map(|v| v.as_str().to_owned()),
                SmtpHost::parse(&s).map(|v| v.as_str().to_owned()),
                SmtpUsername::parse(&s, CredentialPolicy::Provider).map(|v| v.into_string()),
                GraphTenantId::parse(&s).map(|v| v.as_str().to_owned()),
            ];
            for value in fields.into_iter().flatten() {
                prop_assert!(!value.chars().any(char::is_control));
                prop_assert!(!value.starts_with(' ') && !value.ends_with(' '));
            }
        }

        #[test]
        fn ports_in_range_parse_and_others_do_not(p in 0u32..200_000, zeros in 0usize..4) {
            let text = format!("{}{p}", "0".repeat(zeros));
            let parsed = SmtpPort::parse(&text);
            if (1..=49151).contains(&p) {
                prop_assert_eq!(parsed.map(|v| u32::from(v.get())), Ok(p));
            } else {
                prop_assert_eq!(parsed, Err(MSG_PORT));
            }
        }

        #[test]
        fn copied_name_properties(
            source in prop_oneof!["[A-Za-z0-9_]{1,50}", any::<String>()],
            forced in 0usize..12,
            others in prop::collection::vec("[A-Za-z0-9_]{1,50}", 0..5),
        ) {
            // The first `forced` candidates are taken, plus some unrelated names.
            let mut taken = others;
            let mut probe = Vec::new();
            for _ in 0..forced {
                let next = copied_name(&source, |c| probe.iter().any(|t: &String| t == c));
                probe.push(next);
            }
            taken.extend(probe.iter().cloned());
            let got = copied_name(&source, |c| taken.iter().any(|t| t == c));
            prop_assert!(got.chars().count() <= ProfileName::MAX_LEN, "{}", got);
            prop_assert!(copy_suffix_ok(&got), "{}", got);
            prop_assert!(!taken.contains(&got), "{}", got);
            if forced > 0 {
                prop_assert!(got.ends_with(&format!("_copied_{}", forced + 1)), "{}", got);
            }
            if ProfileName::parse(&source).is_ok() {
                prop_assert_eq!(ProfileName::parse(&got).map(|n| n.as_str().to_owned()), Ok(got.clone()));
            }
        }
    }
}

/// What a stored secret is bound to. A saved password or client secret is reused only
/// while this stays the same, so nobody can send a stored secret to another server
/// (SPEC §4), or to the same one in the clear, by editing the profile and leaving the
/// password blank.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretScope {
    pub kind: ProfileKind,
    pub host: Option<String>,
    pub port: Option<u16>,
    /// Security, certificate checks and trusted CA: a saved password must not follow a
    /// change that could expose it (to plain text, or to an unchecked certificate).
    pub security: Option<Security>,
    pub tls_verify: Option<bool>,
    pub ca_pem: Option<String>,
    pub username: Option<String>,
    pub graph_tenant_id: Option<String>,
    pub graph_client_id: Option<String>,
}

impl SecretScope {
    /// The scope of submitted settings.
    pub fn of(transport: &Transport) -> SecretScope {
        match transport {
            Transport::Generic { host, port, security, tls_verify, ca_pem, auth } => SecretScope {
                kind: ProfileKind::Generic,
                host: Some(host.as_str().to_ascii_lowercase()),
                port: Some(port.get()),
                security: Some(*security),
                tls_verify: Some(*tls_verify),
                ca_pem: ca_pem.as_ref().map(|c| c.as_str().to_owned()),
                username: auth.as_ref().map(|a| a.username.clone()),
                graph_tenant_id: None,
                graph_client_id: None,
            },
            Transport::Graph { username, tenant_id, client_id, .. } => SecretScope {
                kind: ProfileKind::Graph,
                host: None,
                port: None,
                security: None,
                tls_verify: None,
                ca_pem: None,
                username: Some(username.as_str().to_owned()),
                graph_tenant_id: Some(tenant_id.as_str().to_owned()),
                graph_client_id: Some(client_id.as_str().to_owned()),
            },
        }
    }
}
