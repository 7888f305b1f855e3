//! One-time links: invitations (7 days) and password resets (1 hour). Only a token's
//! SHA-256 is stored; using one is a conditional UPDATE, so it works exactly once.

use sqlx::{FromRow, SqliteConnection, SqlitePool};

use super::{TenantId, UserId};
use crate::db::now;

/// An invitation.
#[derive(Debug, Clone, FromRow)]
pub struct Invitation {
    pub id: i64,
    pub tenant_id: TenantId,
    pub email: String,
    pub role: String,
    pub created_at: i64,
    pub expires_at: i64,
}

const INVITATION_COLUMNS: &str = "id, tenant_id, email, role, created_at, expires_at";

/// Creates an invitation, voiding any earlier open one for the same address (a new
/// link replaces the old).
pub async fn invite(
    conn: &mut SqliteConnection,
    tenant: TenantId,
    email: &str,
    role: &str,
    token_hash: &str,
    invited_by: UserId,
    valid_secs: i64,
) -> sqlx::Result<i64> {
    let t = now();
    sqlx::query(
        "UPDATE invitations SET voided_at = ? WHERE tenant_id = ? AND email = ? AND accepted_at IS NULL AND voided_at IS NULL",
    )
    .bind(t)
    .bind(tenant)
    .bind(email)
    .execute(&mut *conn)
    .await?;
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO invitations (tenant_id, email, role, token_hash, invited_by, created_at, expires_at)
         VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
    )
    .bind(tenant)
    .bind(email)
    .bind(role)
    .bind(token_hash)
    .bind(invited_by)
    .bind(t)
    .bind(t + valid_secs)
    .fetch_one(conn)
    .await?;
    Ok(id)
}

/// The tenant's open invitations (neither accepted nor voided), newest first.
pub async fn open_invitations(pool: &SqlitePool, tenant: TenantId) -> sqlx::Result<Vec<Invitation>> {
    sqlx::query_as(&format!(
        "SELECT {INVITATION_COLUMNS} FROM invitations
         WHERE tenant_id = ? AND accepted_at IS NULL AND voided_at IS NULL ORDER BY id DESC"
    ))
    .bind(tenant)
    .fetch_all(pool)
    .await
}

/// An open invitation of this tenant by id (for regenerating its link).
pub async fn invitation(pool: &SqlitePool, tenant: TenantId, id: i64) -> sqlx::Result<Option<Invitation>> {
    sqlx::query_as(&format!(
        "SELECT {INVITATION_COLUMNS} FROM invitations
         WHERE tenant_id = ? AND id = ? AND accepted_at IS NULL AND voided_at IS NULL"
    ))
    .bind(tenant)
    .bind(id)
    .fetch_optional(pool)
    .await
}

/// The invitation a token opens, if it is still usable (not used, voided or expired).
pub async fn invitation_by_token(pool: &SqlitePool, token_hash: &str) -> sqlx::Result<Option<Invitation>> {
    sqlx::query_as(&format!(
        "SELECT {INVITATION_COLUMNS} FROM invitations
         WHERE token_hash = ? AND accepted_at IS NULL AND voided_at IS NULL AND expires_at > ?"
    ))
    .bind(token_hash)
    .bind(now())
    .fetch_optional(pool)
    .await
}

/// Uses the invitation up; false when it was no longer usable (used a moment ago).
pub async fn accept(conn: &mut SqliteConnection, id: i64) -> sqlx::Result<bool> {
    let t = now();
    let done = sqlx::query(
        "UPDATE invitations SET accepted_at = ?
         WHERE id = ? AND accepted_at IS NULL AND voided_at IS NULL AND expires_at > ?",
    )
    .bind(t)
    .bind(id)
    .bind(t)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// A password reset.
#[derive(Debug, Clone, FromRow)]
pub struct Reset {
    pub id: i64,
    pub tenant_id: TenantId,
    pub user_id: UserId,
}

/// Creates a reset for the user, voiding earlier unused ones.
pub async fn reset(
    conn: &mut SqliteConnection,
    tenant: TenantId,
    user: UserId,
    token_hash: &str,
    valid_secs: i64,
) -> sqlx::Result<i64> {
    let t = now();
    sqlx::query("UPDATE password_resets SET voided_at = ? WHERE user_id = ? AND used_at IS NULL AND voided_at IS NULL")
        .bind(t)
        .bind(user)
        .execute(&mut *conn)
        .await?;
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO password_resets (tenant_id, user_id, token_hash, created_at, expires_at)
         VALUES (?, ?, ?, ?, ?) RETURNING id",
    )
    .bind(tenant)
    .bind(user)
    .bind(token_hash)
    .bind(t)
    .bind(t + valid_secs)
    .fetch_one(conn)
    .await?;
    Ok(id)
}

/// The reset a token opens in this tenant, if still usable.
pub async fn reset_by_token(pool: &SqlitePool, tenant: TenantId, token_hash: &str) -> sqlx::Result<Option<Reset>> {
    sqlx::query_as(
        "SELECT id, tenant_id, user_id FROM password_resets
         WHERE tenant_id = ? AND token_hash = ? AND used_at IS NULL AND voided_at IS NULL AND expires_at > ?",
    )
    .bind(tenant)
    .bind(token_hash)
    .bind(now())
    .fetch_optional(pool)
    .await
}

/// Uses the reset up; false when it was no longer usable.
pub async fn use_reset(conn: &mut SqliteConnection, id: i64) -> sqlx::Result<bool> {
    let t = now();
    let done = sqlx::query(
        "UPDATE password_resets SET used_at = ? WHERE id = ? AND used_at IS NULL AND voided_at IS NULL AND expires_at > ?",
    )
    .bind(t)
    .bind(id)
    .bind(t)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Whether the invitation can still be accepted (not used, voided or expired).
pub async fn invitation_is_open(pool: &SqlitePool, id: i64) -> sqlx::Result<bool> {
    let row: Option<(i64,)> = sqlx::query_as(
        "SELECT 1 FROM invitations WHERE id = ? AND accepted_at IS NULL AND voided_at IS NULL AND expires_at > ?",
    )
    .bind(id)
    .bind(now())
    .fetch_optional(pool)
    .await?;
    Ok(row.is_some())
}

/// Whether the reset can still be used.
pub async fn reset_is_open(pool: &SqlitePool, id: i64) -> sqlx::Result<bool> {
    let row: Option<(i64,)> = sqlx::query_as(
        "SELECT 1 FROM password_resets WHERE id = ? AND used_at IS NULL AND voided_at IS NULL AND expires_at > ?",
    )
    .bind(id)
    .bind(now())
    .fetch_optional(pool)
    .await?;
    Ok(row.is_some())
}
