//! Every value the secret box sealed, in one place: the key check that a start verifies,
//! and the list `relaydesk key rotate` walks to re-seal everything under a new key.
//!
//! A new column holding sealed data must be named `…_sealed` and added to [`SealedColumn`]
//! (and to [`all`] and [`replace`]); a test compares the schema's `*_sealed` columns with
//! [`SealedColumn::ALL`], so one left out fails the build's tests rather than a rotation.

use sqlx::{SqliteConnection, SqlitePool};

/// A column that holds values sealed by the secret box.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SealedColumn {
    SmtpPassword,
    GraphSecret,
    OutboxBody,
    KeyCheck,
    SmsPassword,
    /// A connected Google account's refresh token.
    OAuthRefresh,
}

impl SealedColumn {
    pub const ALL: [SealedColumn; 6] = [
        SealedColumn::SmtpPassword,
        SealedColumn::GraphSecret,
        SealedColumn::OutboxBody,
        SealedColumn::KeyCheck,
        SealedColumn::SmsPassword,
        SealedColumn::OAuthRefresh,
    ];

    /// `table.column`, as the schema names it.
    pub fn name(self) -> &'static str {
        match self {
            SealedColumn::SmtpPassword => "smtp_profiles.password_sealed",
            SealedColumn::GraphSecret => "smtp_profiles.graph_secret_sealed",
            SealedColumn::OutboxBody => "outbox_bodies.body_sealed",
            SealedColumn::KeyCheck => "secret_key_check.check_sealed",
            SealedColumn::SmsPassword => "sms_channels.password_sealed",
            SealedColumn::OAuthRefresh => "smtp_profiles.oauth_refresh_sealed",
        }
    }
}

/// One stored sealed value and where it lives.
#[derive(Clone)]
pub struct SealedValue {
    pub column: SealedColumn,
    /// The row's id.
    pub id: i64,
    pub sealed: String,
}

impl std::fmt::Debug for SealedValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} of row {}", self.column.name(), self.id)
    }
}

/// The sealed check value, if one was written.
pub async fn check(pool: &SqlitePool) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar!("SELECT check_sealed FROM secret_key_check WHERE id = 1").fetch_optional(pool).await
}

/// Writes the check value (replacing one there).
pub async fn set_check(conn: &mut SqliteConnection, sealed: &str, now: i64) -> sqlx::Result<()> {
    sqlx::query!(
        "INSERT INTO secret_key_check (id, check_sealed, created_at) VALUES (1, ?, ?)
         ON CONFLICT (id) DO UPDATE SET check_sealed = excluded.check_sealed, created_at = excluded.created_at",
        sealed,
        now
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Every sealed value in the database, the check value included.
pub async fn all(conn: &mut SqliteConnection) -> sqlx::Result<Vec<SealedValue>> {
    let mut out = Vec::new();
    let rows = sqlx::query!(
        r#"SELECT id AS "id!", password_sealed AS "sealed!" FROM smtp_profiles
           WHERE password_sealed IS NOT NULL ORDER BY id"#
    )
    .fetch_all(&mut *conn)
    .await?;
    out.extend(rows.into_iter().map(|r| SealedValue {
        column: SealedColumn::SmtpPassword,
        id: r.id,
        sealed: r.sealed,
    }));
    let rows = sqlx::query!(
        r#"SELECT id AS "id!", graph_secret_sealed AS "sealed!" FROM smtp_profiles
           WHERE graph_secret_sealed IS NOT NULL ORDER BY id"#
    )
    .fetch_all(&mut *conn)
    .await?;
    out.extend(rows.into_iter().map(|r| SealedValue { column: SealedColumn::GraphSecret, id: r.id, sealed: r.sealed }));
    let rows =
        sqlx::query!(r#"SELECT outbox_id AS "id!", body_sealed AS "sealed!" FROM outbox_bodies ORDER BY outbox_id"#)
            .fetch_all(&mut *conn)
            .await?;
    out.extend(rows.into_iter().map(|r| SealedValue { column: SealedColumn::OutboxBody, id: r.id, sealed: r.sealed }));
    let rows = sqlx::query!(r#"SELECT id AS "id!", check_sealed AS "sealed!" FROM secret_key_check"#)
        .fetch_all(&mut *conn)
        .await?;
    out.extend(rows.into_iter().map(|r| SealedValue { column: SealedColumn::KeyCheck, id: r.id, sealed: r.sealed }));
    let rows = sqlx::query!(r#"SELECT id AS "id!", password_sealed AS "sealed!" FROM sms_channels ORDER BY id"#)
        .fetch_all(&mut *conn)
        .await?;
    out.extend(rows.into_iter().map(|r| SealedValue { column: SealedColumn::SmsPassword, id: r.id, sealed: r.sealed }));
    let rows = sqlx::query!(
        r#"SELECT id AS "id!", oauth_refresh_sealed AS "sealed!" FROM smtp_profiles
           WHERE oauth_refresh_sealed IS NOT NULL ORDER BY id"#
    )
    .fetch_all(&mut *conn)
    .await?;
    out.extend(rows.into_iter().map(|r| SealedValue {
        column: SealedColumn::OAuthRefresh,
        id: r.id,
        sealed: r.sealed,
    }));
    Ok(out)
}

/// Stores `value.sealed` in its place.
pub async fn replace(conn: &mut SqliteConnection, value: &SealedValue) -> sqlx::Result<()> {
    let (id, sealed) = (value.id, value.sealed.as_str());
    match value.column {
        SealedColumn::SmtpPassword => {
            sqlx::query!("UPDATE smtp_profiles SET password_sealed = ? WHERE id = ?", sealed, id).execute(conn).await?
        }
        SealedColumn::GraphSecret => {
            sqlx::query!("UPDATE smtp_profiles SET graph_secret_sealed = ? WHERE id = ?", sealed, id)
                .execute(conn)
                .await?
        }
        SealedColumn::OutboxBody => {
            sqlx::query!("UPDATE outbox_bodies SET body_sealed = ? WHERE outbox_id = ?", sealed, id)
                .execute(conn)
                .await?
        }
        SealedColumn::KeyCheck => {
            sqlx::query!("UPDATE secret_key_check SET check_sealed = ? WHERE id = ?", sealed, id).execute(conn).await?
        }
        SealedColumn::SmsPassword => {
            sqlx::query!("UPDATE sms_channels SET password_sealed = ? WHERE id = ?", sealed, id).execute(conn).await?
        }
        SealedColumn::OAuthRefresh => {
            sqlx::query!("UPDATE smtp_profiles SET oauth_refresh_sealed = ? WHERE id = ?", sealed, id)
                .execute(conn)
                .await?
        }
    };
    Ok(())
}

/// Ends every session (they may hold values sealed under the key being replaced: a
/// password just tried, a link to show once). Returns how many ended.
///
/// The session table is made by tower-sessions at start, not by a migration, so the
/// checked macros cannot see it: its existence is checked first and the delete is plain.
pub async fn end_all_sessions(conn: &mut SqliteConnection) -> sqlx::Result<u64> {
    let exists = sqlx::query_scalar!(
        r#"SELECT COUNT(*) AS "n!: i64" FROM sqlite_master WHERE type = 'table' AND name = 'tower_sessions'"#
    )
    .fetch_one(&mut *conn)
    .await?;
    if exists == 0 {
        return Ok(0);
    }
    Ok(sqlx::query("DELETE FROM tower_sessions").execute(conn).await?.rows_affected())
}

/// Makes this connection's commits durable on their own (`synchronous = FULL`), for a
/// commit that a file operation is about to rely on.
pub async fn durable_commits(conn: &mut SqliteConnection) -> sqlx::Result<()> {
    sqlx::query("PRAGMA synchronous = FULL").execute(conn).await?;
    Ok(())
}
