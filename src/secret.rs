//! The secret box: values the app must read back later (SMTP passwords, Graph secrets),
//! sealed with XChaCha20-Poly1305 under one 32-byte key.
//!
//! Where the key comes from, the check that it is the right one, and its rotation are in
//! [`keyring`].

pub mod keyring;

use std::io::Write;
use std::path::Path;

use anyhow::{bail, Context};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;

const NONCE_LEN: usize = 24;
/// The key file's name, in the database's folder.
pub const KEY_FILE: &str = "secret.key";

/// Seals and opens secrets, and signs values the app hands out and must recognise later
/// (the anonymous forms' CSRF cookie). The key never leaves this struct (Debug prints
/// nothing of it).
#[derive(Clone)]
pub struct SecretBox {
    cipher: XChaCha20Poly1305,
    /// HMAC-SHA256 under a key derived from the secret key (never the key itself, which
    /// only ever encrypts), so a new key after `key rotate` also changes every signature.
    signer: Hmac<Sha256>,
    /// While a box from [`keyring::unlock`] lives, `key rotate` cannot run (a shared lock
    /// on the key's lock file).
    _lock: Option<std::sync::Arc<std::fs::File>>,
}

impl std::fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretBox(..)")
    }
}

/// A secret as the database keeps it: sealed by a [`SecretBox`] (nonce and ciphertext,
/// base64). Only the box that sealed it can open it.
#[derive(Clone, PartialEq, Eq, sqlx::Type)]
#[sqlx(transparent)]
pub struct Sealed(String);

impl Sealed {
    /// The stored text (for a test that reads the column back).
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Sealed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealed(..)")
    }
}

/// Opening failed: wrong key or altered data. Says nothing more, on purpose.
#[derive(Debug, thiserror::Error)]
#[error("a stored secret could not be decrypted (was RELAYDESK_SECRET_KEY changed?)")]
pub struct OpenError;

impl SecretBox {
    pub fn new(key: [u8; 32]) -> SecretBox {
        let signing_key = <Hmac<Sha256> as Mac>::new_from_slice(&key)
            .expect("HMAC takes a key of any length")
            .chain_update(b"relaydesk signing key v1")
            .finalize()
            .into_bytes();
        let signer = <Hmac<Sha256> as Mac>::new_from_slice(&signing_key).expect("HMAC takes a key of any length");
        SecretBox { cipher: XChaCha20Poly1305::new(&key.into()), signer, _lock: None }
    }

    /// The signature (HMAC-SHA256) of `parts` for `purpose`. Each part is length-prefixed,
    /// so no two different lists of parts (or purposes) are signed alike.
    pub fn sign(&self, purpose: &str, parts: &[&[u8]]) -> [u8; 32] {
        self.signed(purpose, parts).finalize().into_bytes().into()
    }

    /// Whether `signature` is [`SecretBox::sign`]'s for `purpose` and `parts`, compared in
    /// constant time.
    pub fn verify(&self, purpose: &str, parts: &[&[u8]], signature: &[u8]) -> bool {
        self.signed(purpose, parts).verify_slice(signature).is_ok()
    }

    fn signed(&self, purpose: &str, parts: &[&[u8]]) -> Hmac<Sha256> {
        let mut mac = self.signer.clone();
        for part in std::iter::once(purpose.as_bytes()).chain(parts.iter().copied()) {
            mac.update(&(part.len() as u64).to_be_bytes());
            mac.update(part);
        }
        mac
    }

    /// A box for a key written as base64 or hex (as in the key file).
    pub fn from_text(text: &str) -> anyhow::Result<SecretBox> {
        Ok(SecretBox::new(parse_key(text)?))
    }

    fn with_lock(mut self, lock: std::sync::Arc<std::fs::File>) -> SecretBox {
        self._lock = Some(lock);
        self
    }

    /// Nonce followed by ciphertext, base64.
    pub fn seal(&self, plaintext: &str) -> String {
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        // Encryption with a valid key and nonce cannot fail for in-memory buffers.
        let sealed =
            self.cipher.encrypt(&nonce, plaintext.as_bytes()).expect("XChaCha20-Poly1305 encryption does not fail");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        STANDARD.encode(out)
    }

    /// Seals a secret typed into a form.
    pub fn seal_secret(&self, secret: &SecretString) -> Sealed {
        Sealed(self.seal(secret.expose_secret()))
    }

    /// Opens a stored secret for the one moment it is needed (an SMTP login, a token
    /// request).
    pub fn open_secret(&self, sealed: &Sealed) -> Result<SecretString, OpenError> {
        self.open(&sealed.0).map(SecretString::from)
    }

    pub fn open(&self, sealed: &str) -> Result<String, OpenError> {
        let bytes = STANDARD.decode(sealed).map_err(|_| OpenError)?;
        if bytes.len() < NONCE_LEN {
            return Err(OpenError);
        }
        let (nonce, body) = bytes.split_at(NONCE_LEN);
        let plain = self.cipher.decrypt(XNonce::from_slice(nonce), body).map_err(|_| OpenError)?;
        String::from_utf8(plain).map_err(|_| OpenError)
    }
}

/// 32 bytes as base64 (44 characters) or hex (64 characters).
fn parse_key(text: &str) -> anyhow::Result<[u8; 32]> {
    let text = text.trim();
    let bytes = if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
        (0..32).map(|i| u8::from_str_radix(&text[2 * i..2 * i + 2], 16)).collect::<Result<Vec<u8>, _>>()?
    } else {
        STANDARD
            .decode(text)
            .map_err(|_| anyhow::anyhow!("expected 32 bytes as base64 (44 characters) or hex (64 characters)"))?
    };
    match <[u8; 32]>::try_from(bytes.as_slice()) {
        Ok(key) => Ok(key),
        Err(_) => {
            bail!("expected 32 bytes as base64 (44 characters) or hex (64 characters), got {} bytes", bytes.len())
        }
    }
}

/// A fresh random key.
fn generate_key() -> [u8; 32] {
    let mut key = [0u8; 32];
    OsRng.fill_bytes(&mut key);
    key
}

/// Writes a new key file (never over an existing one), mode 0600, synced to disk.
fn write_key_file(path: &Path, key: &[u8; 32]) -> anyhow::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).with_context(|| format!("cannot create the key file {}", path.display()))?;
    file.write_all(STANDARD.encode(key).as_bytes())?;
    file.sync_all()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_then_open_round_trips_and_hides_the_plaintext() {
        let sb = SecretBox::new([7; 32]);
        let sealed = sb.seal("Hunter2$Pass");
        assert!(!sealed.contains("Hunter2"));
        assert_ne!(sealed, sb.seal("Hunter2$Pass"), "a fresh nonce each time");
        assert_eq!(sb.open(&sealed).unwrap(), "Hunter2$Pass");
    }

    #[test]
    fn tampering_or_another_key_is_refused() {
        let sealed = SecretBox::new([7; 32]).seal("secret");
        assert!(SecretBox::new([8; 32]).open(&sealed).is_err());
        let mut bytes = STANDARD.decode(&sealed).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        assert!(SecretBox::new([7; 32]).open(&STANDARD.encode(bytes)).is_err());
        assert!(SecretBox::new([7; 32]).open("not base64!").is_err());
        assert!(SecretBox::new([7; 32]).open("").is_err());
    }

    #[test]
    fn keys_parse_from_base64_or_hex_only() {
        assert_eq!(parse_key(&STANDARD.encode([1u8; 32])).unwrap(), [1; 32]);
        assert_eq!(parse_key(&"ab".repeat(32)).unwrap(), [0xab; 32]);
        assert!(parse_key("short").is_err());
        assert!(parse_key(&STANDARD.encode([1u8; 31])).is_err());
        assert!(parse_key(&"zz".repeat(32)).is_err());
    }

    #[test]
    fn key_files_are_written_once_with_mode_0600() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(KEY_FILE);
        let key = generate_key();
        write_key_file(&path, &key).unwrap();
        assert!(write_key_file(&path, &generate_key()).is_err(), "never over an existing key");
        let read = SecretBox::from_text(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(read.open(&SecretBox::new(key).seal("x")).unwrap(), "x");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
