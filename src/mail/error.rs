//! Why a send failed, as one sentence a person can act on, and whether trying again
//! later can help (4xx, connection, timeout) or not (5xx, a refused login).

use std::fmt;

/// A failed send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendError {
    /// A 5xx or a setting that cannot work: retrying will not help.
    pub permanent: bool,
    /// What happened and what to do, with the server's own reply where there is one.
    pub message: String,
    /// The server refused an OAuth access token at AUTH: a new token may be asked for once.
    pub token_refused: bool,
    /// The OAuth provider refused to issue a token for good (the app's secret, a revoked
    /// or expired refresh token, no account connected): the profile cannot send until
    /// someone fixes it, which the dashboard says.
    pub token_unavailable: bool,
}

impl SendError {
    pub fn transient(message: impl Into<String>) -> SendError {
        SendError { permanent: false, message: message.into(), token_refused: false, token_unavailable: false }
    }

    pub fn permanent(message: impl Into<String>) -> SendError {
        SendError { permanent: true, message: message.into(), token_refused: false, token_unavailable: false }
    }
}

impl SendError {
    /// The same error, marked as the provider refusing to issue a token for good.
    pub fn unavailable_token(self) -> SendError {
        SendError { token_unavailable: true, ..self }
    }
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for SendError {}
