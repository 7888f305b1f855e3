//! Host aliases. Every query takes the tenant; names compare regardless of case.

use sqlx::SqliteConnection;

use super::TenantId;
use crate::domain::alias::{Alias, AliasName, Aliases, HostValue};

struct AliasRow {
    name: String,
    value: String,
}

fn alias_of(row: AliasRow) -> Option<Alias> {
    Some(Alias { name: AliasName::parse(&row.name).ok()?, value: HostValue::parse(&row.value).ok()? })
}

/// The tenant's aliases, by name.
pub async fn list(db: impl sqlx::SqliteExecutor<'_>, tenant: TenantId) -> sqlx::Result<Aliases> {
    let rows = sqlx::query_as!(
        AliasRow,
        "SELECT name, value FROM host_aliases WHERE tenant_id = ? ORDER BY name COLLATE NOCASE",
        tenant
    )
    .fetch_all(db)
    .await?;
    // A row is only ever written from parsed values; one that no longer parses is left out
    // (its users then read "There is no alias named …").
    Ok(Aliases::new(rows.into_iter().filter_map(alias_of).collect()))
}

/// The alias named `name` (any case), if the tenant has one.
pub async fn find(conn: &mut SqliteConnection, tenant: TenantId, name: &str) -> sqlx::Result<Option<Alias>> {
    let row = sqlx::query_as!(
        AliasRow,
        "SELECT name, value FROM host_aliases WHERE tenant_id = ? AND name = ? COLLATE NOCASE",
        tenant,
        name
    )
    .fetch_optional(conn)
    .await?;
    Ok(row.and_then(alias_of))
}

/// Creates the alias, or gives an existing one of that name (any case) its new value.
/// The value it had before, when there was one.
pub async fn save(
    conn: &mut SqliteConnection,
    tenant: TenantId,
    name: &AliasName,
    value: &HostValue,
    now: i64,
) -> sqlx::Result<Option<String>> {
    let before = find(conn, tenant, name.as_str()).await?.map(|a| a.value.as_str().to_owned());
    let (name, value) = (name.as_str(), value.as_str());
    sqlx::query!(
        "INSERT INTO host_aliases (tenant_id, name, value, created_at, updated_at) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (tenant_id, name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
        tenant,
        name,
        value,
        now,
        now
    )
    .execute(conn)
    .await?;
    Ok(before)
}

/// How many SMTP profiles and SMS channels of the tenant name the alias as their host.
pub async fn uses(conn: &mut SqliteConnection, tenant: TenantId, name: &str) -> sqlx::Result<i64> {
    sqlx::query_scalar!(
        r#"SELECT (SELECT COUNT(*) FROM smtp_profiles WHERE tenant_id = ?1 AND host = ?2 COLLATE NOCASE)
                + (SELECT COUNT(*) FROM sms_channels WHERE tenant_id = ?1 AND host = ?2 COLLATE NOCASE)
                AS "n!: i64""#,
        tenant,
        name
    )
    .fetch_one(conn)
    .await
}

/// Deletes the alias; false when the tenant has none of that name.
pub async fn delete(conn: &mut SqliteConnection, tenant: TenantId, name: &str) -> sqlx::Result<bool> {
    let done = sqlx::query!("DELETE FROM host_aliases WHERE tenant_id = ? AND name = ? COLLATE NOCASE", tenant, name)
        .execute(conn)
        .await?;
    Ok(done.rows_affected() > 0)
}
