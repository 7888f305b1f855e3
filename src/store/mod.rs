//! All SQL lives here, one file per table family. Every query on tenant data takes a
//! [`TenantId`] and filters by it, so one tenant's rows never reach another.

pub mod aliases;
pub mod audit;
pub mod egress;
pub mod guests;
pub mod outbox;
pub mod sealed;
pub mod setup;
pub mod sms;
pub mod smtp;
pub mod tenants;
pub mod tokens;
pub mod users;

/// A tenant's row id. Only the store hands these out, from a slug it looked up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, sqlx::Type, serde::Serialize, serde::Deserialize)]
#[sqlx(transparent)]
pub struct TenantId(pub i64);

/// A user's row id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::Type, serde::Serialize, serde::Deserialize)]
#[sqlx(transparent)]
pub struct UserId(pub i64);

/// `value` as JSON text, to bind where a query reads a list with `json_each`.
pub fn json<T: serde::Serialize + ?Sized>(value: &T) -> sqlx::Result<String> {
    serde_json::to_string(value).map_err(|e| sqlx::Error::Encode(Box::new(e)))
}

/// Whether a database error is a UNIQUE violation (SQLite does not name the constraint
/// reliably, so callers map it to the field they know was unique).
pub fn is_unique_violation(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(db) if db.is_unique_violation())
}

/// Starts a write transaction with `BEGIN IMMEDIATE`, so SQLite takes the write lock up
/// front instead of failing with SQLITE_BUSY halfway through.
pub async fn begin_write(pool: &sqlx::SqlitePool) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>, sqlx::Error> {
    pool.begin_with("BEGIN IMMEDIATE").await
}

/// Whether the database answers (the health check).
pub async fn ping(pool: &sqlx::SqlitePool) -> sqlx::Result<()> {
    sqlx::query_scalar!(r#"SELECT 1 AS "one!: i64""#).fetch_one(pool).await?;
    Ok(())
}
