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
        .busy_timeout(Duration::from_secs(10));
    let pool = SqlitePoolOptions::new()
        .max_connections(8)
        .connect_with(options)
        .await
        .with_context(|| format!("cannot open the database {}", path.display()))?;
    sqlx::migrate!("./migrations").run(&pool).await.context("cannot apply the database migrations")?;
    Ok(pool)
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
