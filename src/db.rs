//! The SQLite pool: WAL, foreign keys on, migrations applied at start.

use std::str::FromStr;
use std::time::Duration;

use anyhow::Context;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::SqlitePool;

use crate::config::{sqlite_path, Config};

/// Opens (creating if missing) the database of `config` and brings its schema up to date.
pub async fn connect(config: &Config) -> anyhow::Result<SqlitePool> {
    let path = sqlite_path(&config.database_url)?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create the data folder {}", dir.display()))?;
    }
    create_private(&path)?;
    let options = SqliteConnectOptions::from_str(&config.database_url)
        .with_context(|| format!("RELAYDESK_DATABASE_URL is not a SQLite URL: {:?}", config.database_url))?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .foreign_keys(true)
        .busy_timeout(Duration::from_secs(10))
        // Copy the write-ahead log into the database every 8,000 pages (32 MB) rather
        // than every 1,000: the outbox rewrites the same pages (a message's row and the
        // queue's index) as it claims and records mail, and a page is copied once per
        // checkpoint however often it changed. The single-organization drain: about a
        // tenth faster.
        .pragma("wal_autocheckpoint", "8000");
    let pool = SqlitePoolOptions::new()
        .max_connections(8)
        // A connection to a local file does not go stale: no round trip to its thread to
        // check it before every use (a tenth of a page view's time).
        .test_before_acquire(false)
        .connect_with(options)
        .await
        .with_context(|| format!("cannot open the database {}", path.display()))?;
    sqlx::migrate!("./migrations").run(&pool).await.context("cannot apply the database migrations")?;
    Ok(pool)
}

/// Claims the database for one `relaydesk serve`: an exclusive lock on a file beside it,
/// held as long as the returned file is open (the OS releases it when the process dies,
/// even by kill -9). A second server on the same database is refused: each server keeps
/// its sessions in memory in front of the database, so two would not see each other's
/// sign-outs. Command-line tools (`tenant create`, `user create`, …) do not take it.
pub fn claim_for_serving(config: &Config) -> anyhow::Result<std::fs::File> {
    let path = sqlite_path(&config.database_url)?;
    let mut lock_path = path.clone().into_os_string();
    lock_path.push(".serve.lock");
    let lock_path = std::path::PathBuf::from(lock_path);
    if let Some(dir) = lock_path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create the data folder {}", dir.display()))?;
    }
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&lock_path)
        .with_context(|| format!("cannot open {}", lock_path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => anyhow::bail!(
            "another relaydesk server is running on the database {}: stop it first (one server per database)",
            path.display()
        ),
        Err(std::fs::TryLockError::Error(e)) => Err(e).with_context(|| format!("cannot lock {}", lock_path.display())),
    }
}

/// Creates the database file readable by its owner only (it holds session ids and sealed
/// secrets); SQLite gives its -wal and -shm files the same mode.
fn create_private(path: &std::path::Path) -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        match std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path) {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e).with_context(|| format!("cannot create the database {}", path.display())),
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}
