//! Who is asking: password hashing, sessions, CSRF, sign-in throttling, and the
//! extractors that turn a request into a signed-in member of one tenant.

pub mod csrf;
pub mod extract;
pub mod password;
pub mod session;
pub mod session_store;
pub mod throttle;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};

/// 32 random bytes, URL-safe base64: setup links, invitation and reset tokens, CSRF tokens.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// What the database keeps of a token: its SHA-256, hex.
pub fn token_hash(token: &str) -> String {
    Sha256::digest(token.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// What the database keeps of a guest's passcode: its HMAC-SHA256 under the instance's
/// key, bound to the guest, hex. A passcode has few digits, so a plain hash of it could be
/// reversed by trying them all; this one cannot without the key.
pub fn passcode_hash(secrets: &crate::secret::SecretBox, guest: i64, passcode: &str) -> String {
    let mac = secrets.sign("guest passcode", &[guest.to_string().as_bytes(), passcode.as_bytes()]);
    mac.iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether `passcode` is the one `stored` was made from, compared in constant time.
pub fn passcode_matches(secrets: &crate::secret::SecretBox, guest: i64, passcode: &str, stored: &str) -> bool {
    use subtle::ConstantTimeEq;
    bool::from(passcode_hash(secrets, guest, passcode).as_bytes().ct_eq(stored.as_bytes()))
}
