//! The fields of an MS Graph API profile (SPEC §2).

use secrecy::{ExposeSecret, SecretString};

use super::*;
use crate::domain::email::EmailAddress;
use crate::domain::text::*;

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
#[derive(Debug, Clone)]
pub struct GraphPassword(SecretString);

impl GraphPassword {
    /// Longest password, in characters.
    pub const MAX_LEN: usize = 256;

    /// Not trimmed; the error is [`MSG_GRAPH_PASSWORD`].
    pub fn parse(input: &str) -> Result<Self, &'static str> {
        if graph_secret(input) {
            Ok(Self(SecretString::from(input)))
        } else {
            Err(MSG_GRAPH_PASSWORD)
        }
    }

    /// The password, for the encrypting store only.
    pub fn expose_secret(&self) -> &str {
        self.0.expose_secret()
    }

    /// The password, owned.
    pub fn into_inner(self) -> SecretString {
        self.0
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
    /// Its length: a GUID is always this long; also the form's `maxlength`.
    pub const MAX_LEN: usize = GUID_LEN;

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
#[derive(Debug, Clone)]
pub struct GraphClientSecret(SecretString);

impl GraphClientSecret {
    /// Longest secret, in characters.
    pub const MAX_LEN: usize = 256;

    /// Not trimmed; the error is [`MSG_GRAPH_CLIENT_SECRET`].
    pub fn parse(input: &str) -> Result<Self, &'static str> {
        if graph_secret(input) {
            Ok(Self(SecretString::from(input)))
        } else {
            Err(MSG_GRAPH_CLIENT_SECRET)
        }
    }

    /// The secret, for the encrypting store only.
    pub fn expose_secret(&self) -> &str {
        self.0.expose_secret()
    }

    /// The secret, owned.
    pub fn into_inner(self) -> SecretString {
        self.0
    }
}
