//! The audit log: who did what, and when, in a tenant.

use sqlx::{SqliteConnection, SqlitePool};

use super::{TenantId, UserId};
pub use crate::domain::audit::AuditAction;

/// One line of the audit log.
#[derive(Debug, Clone)]
pub struct Entry {
    pub actor: String,
    /// The action's code as stored (see [`AuditAction::parse`]); kept as text so an entry
    /// with a code this version does not know still shows.
    pub action: String,
    pub detail: String,
    pub created_at: i64,
}

/// Who did it: a signed-in user, or the system / command line.
pub struct Actor<'a> {
    pub id: Option<UserId>,
    pub label: &'a str,
}

/// Appends an entry. Takes a connection so it shares the transaction of the change it
/// records: the entry is written exactly when the change is.
pub async fn record(
    conn: &mut SqliteConnection,
    tenant: TenantId,
    actor: Actor<'_>,
    action: AuditAction,
    detail: &str,
    now: i64,
) -> sqlx::Result<()> {
    sqlx::query!(
        "INSERT INTO audit_log (tenant_id, actor_id, actor, action, detail, created_at) VALUES (?, ?, ?, ?, ?, ?)",
        tenant,
        actor.id,
        actor.label,
        action,
        detail,
        now,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// The newest entries first.
pub async fn recent(pool: &SqlitePool, tenant: TenantId, limit: i64) -> sqlx::Result<Vec<Entry>> {
    sqlx::query_as!(
        Entry,
        "SELECT actor, action, detail, created_at FROM audit_log WHERE tenant_id = ? ORDER BY id DESC LIMIT ?",
        tenant,
        limit,
    )
    .fetch_all(pool)
    .await
}
