//! The audit log: who did what, and when, in a tenant.

use sqlx::{FromRow, SqliteConnection, SqlitePool};

use super::{TenantId, UserId};
use crate::db::now;

/// One line of the audit log.
#[derive(Debug, Clone, FromRow)]
pub struct Entry {
    pub actor: String,
    pub action: String,
    pub detail: String,
    pub created_at: i64,
}

/// Who did it: a signed-in user, or the system / command line.
pub struct Actor<'a> {
    pub id: Option<UserId>,
    pub label: &'a str,
}

/// Appends an entry. Takes a connection so it can share the caller's transaction.
pub async fn record(
    conn: &mut SqliteConnection,
    tenant: TenantId,
    actor: Actor<'_>,
    action: &str,
    detail: &str,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO audit_log (tenant_id, actor_id, actor, action, detail, created_at) VALUES (?, ?, ?, ?, ?, ?)",
    )
    .bind(tenant)
    .bind(actor.id)
    .bind(actor.label)
    .bind(action)
    .bind(detail)
    .bind(now())
    .execute(conn)
    .await?;
    Ok(())
}

/// The newest entries first.
pub async fn recent(pool: &SqlitePool, tenant: TenantId, limit: i64) -> sqlx::Result<Vec<Entry>> {
    sqlx::query_as(
        "SELECT actor, action, detail, created_at FROM audit_log WHERE tenant_id = ? ORDER BY id DESC LIMIT ?",
    )
    .bind(tenant)
    .bind(limit)
    .fetch_all(pool)
    .await
}
