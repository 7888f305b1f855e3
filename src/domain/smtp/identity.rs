//! The fields common to both types (SPEC §2): name, sender, reply-to, signature, description.

use std::fmt;

use super::*;
use crate::domain::email::EmailAddress;
use crate::domain::text::*;

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
