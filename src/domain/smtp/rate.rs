//! A profile's optional send rate (`max_per_minute`): the outbox sends no more than this
//! many messages a minute through the profile. Empty means no limit.

use std::fmt;

use super::*;
use crate::domain::text::trim_spaces;

/// At most this many messages a minute through one profile (1 to [`SendRate::MAX`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SendRate(u32);

impl SendRate {
    /// The highest rate the form takes.
    pub const MAX: u32 = 10_000;
    /// Digits in [`Self::MAX`]: a longer number (leading zeros aside) is out of range.
    pub const MAX_DIGITS: usize = 5;

    /// Trims spaces; empty is no limit (`None`), else a whole number from 1 to
    /// [`Self::MAX`]. The error is [`MSG_MAX_PER_MINUTE`].
    pub fn parse(input: &str) -> Result<Option<Self>, &'static str> {
        let text = trim_spaces(input);
        if text.is_empty() {
            return Ok(None);
        }
        if !text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(MSG_MAX_PER_MINUTE);
        }
        let significant = text.trim_start_matches('0');
        if significant.len() > Self::MAX_DIGITS {
            return Err(MSG_MAX_PER_MINUTE);
        }
        let value = significant.bytes().fold(0u32, |acc, b| acc * 10 + u32::from(b - b'0'));
        match value {
            1..=Self::MAX => Ok(Some(Self(value))),
            _ => Err(MSG_MAX_PER_MINUTE),
        }
    }

    /// A stored value, when positive. The column's own check allows more than the form
    /// takes, so a value set outside the form still loads (and the form then asks for one
    /// in range).
    pub fn from_stored(value: i64) -> Option<Self> {
        u32::try_from(value).ok().filter(|v| *v >= 1).map(Self)
    }

    /// The number of messages a minute.
    pub fn get(self) -> u32 {
        self.0
    }
}

impl fmt::Display for SendRate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}
