//! The key: where it comes from, the check that it is the key the database was sealed
//! with, and `relaydesk key rotate`.
//!
//! The database keeps a *check value*: a fixed text sealed with the key, written on the
//! first start. A start whose key cannot open it is refused with a message that says what
//! to do, so a deleted key file is never taken for a first run (a new key would leave every
//! saved secret unreadable) and a wrong key never starts silently.
//!
//! Files beside the database:
//! - `secret.key`: the key (base64, mode 0600), unless `RELAYDESK_SECRET_KEY` gives it;
//! - `secret.key.new`: a rotation's new key, written and synced before the database is
//!   re-sealed under it;
//! - `secret.key.old`: the key being replaced, kept until the new one is in place;
//! - `secret.key.lock`: a running server holds a shared lock on it, a rotation an exclusive
//!   one, so the two never overlap.
//!
//! A rotation stopped at any point (a crash, a power cut) leaves a state the next start
//! resolves: the first of `secret.key`, `secret.key.new`, `secret.key.old` that opens the
//! check value is the key, and is put in place as `secret.key`.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context};
use secrecy::ExposeSecret;
use sqlx::SqlitePool;

use super::{generate_key, parse_key, write_key_file, SecretBox, KEY_FILE};
use crate::config::{sqlite_path, Config};
use crate::store::sealed::{self, SealedValue};

const NEW_KEY_FILE: &str = "secret.key.new";
const OLD_KEY_FILE: &str = "secret.key.old";
const LOCK_FILE: &str = "secret.key.lock";

/// The text the check value seals.
const CHECK_TEXT: &str = "relaydesk secret key check";

/// The secret box for this database, once its key is known to be the right one; holds
/// a shared lock so that `key rotate` cannot run beside it. On a first run (no check
/// value, nothing sealed, no key file) a new key file is made.
pub async fn unlock(config: &Config, db: &SqlitePool, now: i64) -> anyhow::Result<SecretBox> {
    let dir = config.data_dir()?;
    let lock = open_lock(&dir)?;
    match lock.try_lock_shared() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => bail!(
            "a key rotation (relaydesk key rotate) is running on this database; start relaydesk again when it has \
             finished"
        ),
        Err(TryLockError::Error(e)) => {
            return Err(e).with_context(|| format!("cannot lock {}", dir.join(LOCK_FILE).display()))
        }
    }
    Ok(resolve(config, db, now).await?.with_lock(Arc::new(lock)))
}

/// What a rotation did.
#[derive(Debug)]
pub struct Rotation {
    /// Values re-sealed under the new key (the check value included).
    pub resealed: usize,
    /// Values the old key could not open either, left as they were (already unreadable).
    pub unreadable: Vec<String>,
    /// Sessions ended (they may hold values sealed under the old key).
    pub sessions_ended: u64,
    /// The key file that now holds the new key; `None` when `RELAYDESK_SECRET_KEY` gives
    /// the key, which must then be set to the new one.
    pub key_file: Option<PathBuf>,
}

/// Re-seals every sealed value under a new key in one transaction, then puts the new key
/// in place of the key file. `new_key` is the key to use (required when
/// `RELAYDESK_SECRET_KEY` gives the key); otherwise a random one is made. Refused while a
/// server runs on the database.
pub async fn rotate(config: &Config, db: &SqlitePool, new_key: Option<&str>, now: i64) -> anyhow::Result<Rotation> {
    let dir = config.data_dir()?;
    let lock = open_lock(&dir)?;
    match lock.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => bail!(
            "relaydesk is running on this database (or another key rotation is): stop it first, then rotate the key"
        ),
        Err(TryLockError::Error(e)) => {
            return Err(e).with_context(|| format!("cannot lock {}", dir.join(LOCK_FILE).display()))
        }
    }
    let from_env = config.secret_key.is_some();
    let new_key = match new_key {
        Some(text) => parse_key(text).context("the new key is malformed")?,
        None if from_env => bail!(
            "RELAYDESK_SECRET_KEY gives the key, so relaydesk cannot replace it: give the new key (32 bytes as base64 \
             or hex) on standard input with --new-key-stdin, and set RELAYDESK_SECRET_KEY to it afterwards"
        ),
        None => generate_key(),
    };
    let old = resolve(config, db, now).await?;
    let new = SecretBox::new(new_key);
    if old.open(&new.seal(CHECK_TEXT)).is_ok() {
        bail!("the new key is the key in use; give another one");
    }

    let key_path = dir.join(KEY_FILE);
    let new_path = dir.join(NEW_KEY_FILE);
    let old_path = dir.join(OLD_KEY_FILE);
    if !from_env {
        // Left by a rotation that stopped before its commit: they open nothing.
        remove_if_present(&new_path)?;
        remove_if_present(&old_path)?;
        write_key_file(&new_path, &new_key)?;
        sync_dir(&dir)?;
    }

    let mut conn = db.acquire().await?;
    // The key files are about to rely on this commit: it must reach the disk with it.
    sealed::durable_commits(&mut conn).await?;
    let mut tx = sqlx::Connection::begin_with(&mut *conn, "BEGIN IMMEDIATE").await?;
    let mut resealed = 0;
    let mut unreadable = Vec::new();
    for value in sealed::all(&mut tx).await? {
        match old.open(&value.sealed) {
            Ok(plain) => {
                sealed::replace(&mut tx, &SealedValue { sealed: new.seal(&plain), ..value }).await?;
                resealed += 1;
            }
            Err(_) => unreadable.push(format!("{value:?}")),
        }
    }
    let sessions_ended = sealed::end_all_sessions(&mut tx).await?;
    tx.commit().await?;

    if from_env {
        return Ok(Rotation { resealed, unreadable, sessions_ended, key_file: None });
    }
    // The old key stays reachable (as secret.key.old) until the new one is in place.
    std::fs::hard_link(&key_path, &old_path)
        .with_context(|| format!("cannot keep the old key as {}", old_path.display()))?;
    sync_dir(&dir)?;
    std::fs::rename(&new_path, &key_path)
        .with_context(|| format!("cannot move {} to {}", new_path.display(), key_path.display()))?;
    sync_dir(&dir)?;
    remove_if_present(&old_path)?;
    sync_dir(&dir)?;
    Ok(Rotation { resealed, unreadable, sessions_ended, key_file: Some(key_path) })
}

/// Finds the key that opens the database's check value (see the module's notes), writing
/// the check value when there is none yet.
async fn resolve(config: &Config, db: &SqlitePool, now: i64) -> anyhow::Result<SecretBox> {
    let dir = config.data_dir()?;
    let db_path = sqlite_path(&config.database_url)?;
    let key_path = dir.join(KEY_FILE);
    let check = sealed::check(db).await?;
    // A database from before the check value: the key must open what is sealed there.
    let stored = match check {
        Some(_) => Vec::new(),
        None => sealed::all(&mut *db.acquire().await?).await?,
    };
    let opens = |candidate: &SecretBox| match &check {
        Some(check) => candidate.open(check).is_ok(),
        None => stored.is_empty() || stored.iter().any(|v| candidate.open(&v.sealed).is_ok()),
    };

    let secrets = if let Some(text) = &config.secret_key {
        let candidate = SecretBox::new(parse_key(text.expose_secret()).context("RELAYDESK_SECRET_KEY is malformed")?);
        if !opens(&candidate) {
            bail!(
                "RELAYDESK_SECRET_KEY does not open the secrets in the database {}: it is not the key they were \
                 sealed with. Set it to that key (or unset it to use the key file {}) and start again; nothing was \
                 changed.",
                db_path.display(),
                key_path.display()
            );
        }
        candidate
    } else {
        let current = read_key_file(&key_path)?;
        if current.is_none() && check.is_none() && stored.is_empty() {
            // A first run: nothing is sealed yet, so a new key loses nothing.
            let key = generate_key();
            write_key_file(&key_path, &key)?;
            sync_dir(&dir)?;
            tracing::info!(path = %key_path.display(), "created a new secret key file");
            SecretBox::new(key)
        } else {
            let candidates = [
                (key_path.clone(), current),
                (dir.join(NEW_KEY_FILE), read_spare_key(&dir.join(NEW_KEY_FILE))),
                (dir.join(OLD_KEY_FILE), read_spare_key(&dir.join(OLD_KEY_FILE))),
            ];
            let found = candidates.into_iter().find_map(|(path, key)| {
                let candidate = SecretBox::new(key?);
                opens(&candidate).then_some((path, candidate))
            });
            match found {
                Some((path, candidate)) => {
                    if check.is_some() {
                        // Left by a rotation cut short: the key in place is the one that
                        // opens the database, so they open nothing it holds.
                        for spare in [NEW_KEY_FILE, OLD_KEY_FILE].map(|f| dir.join(f)).iter().filter(|p| **p != path) {
                            remove_if_present(spare)?;
                        }
                    }
                    if path != key_path {
                        std::fs::rename(&path, &key_path)
                            .with_context(|| format!("cannot move {} to {}", path.display(), key_path.display()))?;
                        sync_dir(&dir)?;
                        tracing::warn!(
                            from = %path.display(),
                            "finished an interrupted key rotation: the key that opens the database is now the key file"
                        );
                    }
                    candidate
                }
                None if current.is_none() => bail!(
                    "the database {} holds secrets sealed with a key, but the key file {} is missing. relaydesk will \
                     not make a new key, because the saved SMTP passwords, Graph secrets and queued mail could not be \
                     read with it. Put the key file back from your backup (or set RELAYDESK_SECRET_KEY to that key) \
                     and start again.",
                    db_path.display(),
                    key_path.display()
                ),
                None => bail!(
                    "the key file {} does not open the secrets in the database {}: it is not the key they were sealed \
                     with. Put the right key file back from your backup (or set RELAYDESK_SECRET_KEY to that key) and \
                     start again; nothing was changed.",
                    key_path.display(),
                    db_path.display()
                ),
            }
        }
    };
    if check.is_none() {
        sealed::set_check(&mut *db.acquire().await?, &secrets.seal(CHECK_TEXT), now).await?;
    }
    Ok(secrets)
}

/// The key in `path`; `None` when there is no such file.
fn read_key_file(path: &Path) -> anyhow::Result<Option<[u8; 32]>> {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            Ok(Some(parse_key(&text).with_context(|| format!("the key file {} is malformed", path.display()))?))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("cannot read the key file {}", path.display())),
    }
}

/// A rotation's spare key file; one cut short by a crash (unreadable) is no key.
fn read_spare_key(path: &Path) -> Option<[u8; 32]> {
    std::fs::read_to_string(path).ok().and_then(|text| parse_key(&text).ok())
}

fn open_lock(dir: &Path) -> anyhow::Result<File> {
    let path = dir.join(LOCK_FILE);
    let mut options = OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(&path).with_context(|| format!("cannot open {}", path.display()))
}

fn remove_if_present(path: &Path) -> anyhow::Result<()> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).with_context(|| format!("cannot remove {}", path.display())),
    }
}

/// Makes a rename or a new file in `dir` survive a power cut.
fn sync_dir(dir: &Path) -> anyhow::Result<()> {
    #[cfg(unix)]
    File::open(dir).and_then(|d| d.sync_all()).with_context(|| format!("cannot sync the folder {}", dir.display()))?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}
