//! The one-time first-run setup link. Only the SHA-256 of its token is stored.

use sqlx::SqlitePool;

/// Replaces any earlier setup token by this one (only the newest logged link works).
pub async fn replace_token(pool: &SqlitePool, token_hash: &str, now: i64) -> sqlx::Result<()> {
    let mut tx = super::begin_write(pool).await?;
    sqlx::query!("DELETE FROM setup_tokens").execute(&mut *tx).await?;
    sqlx::query!("INSERT INTO setup_tokens (token_hash, created_at) VALUES (?, ?)", token_hash, now)
        .execute(&mut *tx)
        .await?;
    tx.commit().await
}

/// Whether this hash is the current setup token.
pub async fn token_is_valid(pool: &SqlitePool, token_hash: &str) -> sqlx::Result<bool> {
    sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM setup_tokens WHERE token_hash = ?) AS "valid!: bool""#,
        token_hash,
    )
    .fetch_one(pool)
    .await
}

/// Uses the token up, inside the transaction that creates the first tenant; false when it
/// was already used (two people submitting the form at once).
pub async fn consume_token(conn: &mut sqlx::SqliteConnection, token_hash: &str) -> sqlx::Result<bool> {
    let done = sqlx::query!("DELETE FROM setup_tokens WHERE token_hash = ?", token_hash).execute(conn).await?;
    Ok(done.rows_affected() == 1)
}
