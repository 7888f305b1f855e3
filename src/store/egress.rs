//! The egress policy's per-organization part (see `mail::egress`).

use sqlx::{SqliteConnection, SqlitePool};

use super::TenantId;

/// Whether organization `id` may reach loopback, private and shared addresses: the
/// operator allowed it on `/admin`, or an operator belongs to it.
pub async fn private_networks_allowed(pool: &SqlitePool, id: TenantId) -> sqlx::Result<bool> {
    let allowed = sqlx::query_scalar!(
        r#"SELECT (allow_private_networks = 1
                   OR EXISTS (SELECT 1 FROM users WHERE users.tenant_id = tenants.id AND users.is_operator = 1))
                  AS "allowed!: bool"
           FROM tenants WHERE id = ?"#,
        id
    )
    .fetch_optional(pool)
    .await?;
    Ok(allowed.unwrap_or(false))
}

/// Each organization's toggle, and whether an operator belongs to it, by id.
pub async fn all(pool: &SqlitePool) -> sqlx::Result<Vec<(TenantId, bool, bool)>> {
    let rows = sqlx::query!(
        r#"SELECT id AS "id!: TenantId", allow_private_networks AS "allowed!: bool",
                  EXISTS (SELECT 1 FROM users WHERE users.tenant_id = tenants.id AND users.is_operator = 1)
                  AS "operator!: bool"
           FROM tenants"#
    )
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(|r| (r.id, r.allowed, r.operator)).collect())
}

/// Sets organization `id`'s toggle.
pub async fn set_private_networks(conn: &mut SqliteConnection, id: TenantId, allowed: bool) -> sqlx::Result<()> {
    sqlx::query!("UPDATE tenants SET allow_private_networks = ? WHERE id = ?", allowed, id).execute(conn).await?;
    Ok(())
}
