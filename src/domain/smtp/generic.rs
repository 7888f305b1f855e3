//! The fields of a Generic SMTP profile (SPEC §2, §2.2).

use std::fmt;
use std::net::{IpAddr, Ipv6Addr};

use base64::Engine as _;

use secrecy::{ExposeSecret, SecretString};

use super::*;
use crate::domain::email::EmailAddress;
use crate::domain::smtp_password;
use crate::domain::text::*;

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
        // `$name`: a host alias, looked up when a message is sent (seed 000).
        if crate::domain::alias::is_alias(host) {
            return Ok(Self(host.to_owned()));
        }
        if host.parse::<IpAddr>().is_ok() {
            return Ok(Self(host.to_owned()));
        }
        // Hex, octal, one integer or a short form (`0x7f000001`, `0177.0.0.1`,
        // `2130706433`, `127.1`): resolvers read these as IPv4 addresses, which would hide
        // the address from anyone reading the profile and from the host rule itself.
        if ends_in_a_number(host) {
            return Err(MSG_HOST_FORMAT);
        }
        if is_host_name(host, 1) {
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

/// Whether a name ends in a number the way the URL standard's host parser checks it: its
/// last label is decimal digits or `0x` and hex digits. Any such name is read as an IPv4
/// address by one parser or another, so it is not a host name.
fn ends_in_a_number(host: &str) -> bool {
    let last = host.rsplit('.').next().unwrap_or_default();
    let hex = last.strip_prefix("0x").or_else(|| last.strip_prefix("0X"));
    match hex {
        Some(digits) => digits.bytes().all(|b| b.is_ascii_hexdigit()),
        None => !last.is_empty() && last.bytes().all(|b| b.is_ascii_digit()),
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
    /// Digits in [`Self::MAX`]; also the form's `maxlength`.
    pub const MAX_DIGITS: usize = {
        let (mut n, mut digits) = (Self::MAX, 1);
        while n >= 10 {
            n /= 10;
            digits += 1;
        }
        digits
    };

    /// Trims spaces, then checks the rule; the error is [`MSG_PORT`].
    pub fn parse(input: &str) -> Result<Self, &'static str> {
        let text = trim_spaces(input);
        if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(MSG_PORT);
        }
        let significant = text.trim_start_matches('0');
        // `MAX_DIGITS` digits fit a u32 with room to spare; more cannot be in range.
        if significant.len() > Self::MAX_DIGITS {
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
    pub(super) der: Vec<Vec<u8>>,
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
#[derive(Debug, Clone)]
pub struct SmtpPassword(SecretString);

impl SmtpPassword {
    /// Not trimmed. `documented`: [`smtp_password::documented_failure`], the error
    /// being [`msg_smtp_password`] of the rule broken; `provider`:
    /// [`smtp_password::check_provider`], else [`MSG_PROVIDER_PASSWORD`].
    pub fn parse(input: &str, policy: CredentialPolicy) -> Result<Self, &'static str> {
        let failure = match policy {
            CredentialPolicy::Documented => smtp_password::documented_failure(input).map(msg_smtp_password),
            CredentialPolicy::Provider => (!smtp_password::check_provider(input)).then_some(MSG_PROVIDER_PASSWORD),
        };
        match failure {
            None => Ok(Self(SecretString::from(input))),
            Some(message) => Err(message),
        }
    }

    /// The password, for the encrypting store or the AUTH command only.
    pub fn expose_secret(&self) -> &str {
        self.0.expose_secret()
    }

    /// The password, owned.
    pub fn into_inner(self) -> SecretString {
        self.0
    }
}

#[cfg(test)]
mod numeric_host_tests {
    use super::*;

    #[test]
    fn numbers_in_other_forms_than_dotted_decimal_are_refused() {
        for host in [
            "0x7f000001",
            "0X7F000001",
            "0x7f.0.0.0x1",
            "0177.0.0.1",
            "2130706433",
            "127.1",
            "127.0.1",
            "10.0x0.0.1",
            "1.2.3.04",
            "0x",
            "mail.0xff",
        ] {
            assert_eq!(SmtpHost::parse(host), Err(MSG_HOST_FORMAT), "{host}");
        }
        for host in ["127.0.0.1", "192.0.2.10", "::1", "[::1]", "0xmail.example.com", "smtp.example.com", "mail0x1"] {
            assert!(SmtpHost::parse(host).is_ok(), "{host}");
        }
    }
}
