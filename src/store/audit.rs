//! The audit log: who did what, and when, in a tenant.

use sqlx::{SqliteConnection, SqlitePool};

use super::{TenantId, UserId};
pub use crate::domain::audit::AuditAction;
use crate::domain::audit::AuditFilter;

/// One line of the audit log.
#[derive(Debug, Clone)]
pub struct Entry {
    pub id: i64,
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

/// The entries `filter` selects, newest first: `limit` of them after skipping `offset`.
/// Ordered by id, which only grows, so a page holds the same entries however often it is
/// read (with `filter.upto` set).
pub async fn filtered(
    pool: &SqlitePool,
    tenant: TenantId,
    filter: &AuditFilter,
    limit: i64,
    offset: i64,
) -> sqlx::Result<Vec<Entry>> {
    let action = filter.action.map(AuditAction::as_str);
    sqlx::query_as!(
        Entry,
        r#"SELECT id AS "id!", actor, action, detail, created_at FROM audit_log
           WHERE tenant_id = ?1 AND (?2 IS NULL OR action = ?2) AND (?3 IS NULL OR instr(lower(actor), ?3) > 0)
             AND (?4 IS NULL OR created_at >= ?4) AND (?5 IS NULL OR created_at < ?5) AND (?6 IS NULL OR id <= ?6)
           ORDER BY id DESC LIMIT ?7 OFFSET ?8"#,
        tenant,
        action,
        filter.person,
        filter.since,
        filter.before,
        filter.upto,
        limit,
        offset,
    )
    .fetch_all(pool)
    .await
}

/// How many entries `filter` selects.
pub async fn count(pool: &SqlitePool, tenant: TenantId, filter: &AuditFilter) -> sqlx::Result<i64> {
    let action = filter.action.map(AuditAction::as_str);
    sqlx::query_scalar!(
        r#"SELECT COUNT(*) AS "n!: i64" FROM audit_log
           WHERE tenant_id = ?1 AND (?2 IS NULL OR action = ?2) AND (?3 IS NULL OR instr(lower(actor), ?3) > 0)
             AND (?4 IS NULL OR created_at >= ?4) AND (?5 IS NULL OR created_at < ?5) AND (?6 IS NULL OR id <= ?6)"#,
        tenant,
        action,
        filter.person,
        filter.since,
        filter.before,
        filter.upto,
    )
    .fetch_one(pool)
    .await
}

/// The id of the tenant's newest entry, if it has any.
pub async fn newest_id(pool: &SqlitePool, tenant: TenantId) -> sqlx::Result<Option<i64>> {
    sqlx::query_scalar!(r#"SELECT MAX(id) AS "id?: i64" FROM audit_log WHERE tenant_id = ?"#, tenant)
        .fetch_one(pool)
        .await
}
