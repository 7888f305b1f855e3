//! Tenants (organizations).

use sqlx::{FromRow, SqliteConnection, SqlitePool};

use super::TenantId;
use crate::db::now;
use crate::domain::account::{TenantName, TenantSlug};

/// A tenant as the console needs it.
#[derive(Debug, Clone, FromRow)]
pub struct Tenant {
    pub id: TenantId,
    pub slug: String,
    pub name: String,
    pub suspended: bool,
    pub email_enabled: bool,
    pub credential_policy: String,
    pub created_at: i64,
}

impl Tenant {
    /// The rules SMTP account names and passwords are checked against.
    pub fn policy(&self) -> crate::domain::smtp::CredentialPolicy {
        crate::domain::smtp::CredentialPolicy::parse(&self.credential_policy).unwrap_or_default()
    }
}

const COLUMNS: &str = "id, slug, name, suspended, email_enabled, credential_policy, created_at";

/// The tenant with this slug, if any.
pub async fn by_slug(pool: &SqlitePool, slug: &str) -> sqlx::Result<Option<Tenant>> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM tenants WHERE slug = ?")).bind(slug).fetch_optional(pool).await
}

/// Every tenant, by slug (the operator's page).
pub async fn all(pool: &SqlitePool) -> sqlx::Result<Vec<Tenant>> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM tenants ORDER BY slug")).fetch_all(pool).await
}

/// Whether the database holds no tenant yet (first run).
pub async fn none_exist(pool: &SqlitePool) -> sqlx::Result<bool> {
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM tenants").fetch_one(pool).await?;
    Ok(n == 0)
}

/// Inserts a tenant. A taken slug is a unique violation (see `is_unique_violation`).
pub async fn create(conn: &mut SqliteConnection, slug: &TenantSlug, name: &TenantName) -> sqlx::Result<TenantId> {
    let (id,): (TenantId,) =
        sqlx::query_as("INSERT INTO tenants (slug, name, created_at) VALUES (?, ?, ?) RETURNING id")
            .bind(slug.as_str())
            .bind(name.as_str())
            .bind(now())
            .fetch_one(conn)
            .await?;
    Ok(id)
}

/// Renames a tenant.
pub async fn rename(pool: &SqlitePool, id: TenantId, name: &TenantName) -> sqlx::Result<()> {
    sqlx::query("UPDATE tenants SET name = ? WHERE id = ?").bind(name.as_str()).bind(id).execute(pool).await?;
    Ok(())
}

/// Suspends or restores a tenant; a suspended tenant's members cannot sign in.
pub async fn set_suspended(pool: &SqlitePool, id: TenantId, suspended: bool) -> sqlx::Result<()> {
    sqlx::query("UPDATE tenants SET suspended = ? WHERE id = ?").bind(suspended).bind(id).execute(pool).await?;
    Ok(())
}

/// The tenant with this id.
pub async fn by_id(pool: &SqlitePool, id: TenantId) -> sqlx::Result<Option<Tenant>> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM tenants WHERE id = ?")).bind(id).fetch_optional(pool).await
}

/// How many members each tenant has, by tenant id (the operator's page).
pub async fn member_counts(pool: &SqlitePool) -> sqlx::Result<Vec<(TenantId, i64)>> {
    sqlx::query_as("SELECT tenant_id, COUNT(*) FROM users GROUP BY tenant_id").fetch_all(pool).await
}

/// Creates a tenant and its first administrator in the caller's transaction. The admin is
/// an operator when `operator` is set (the first-run setup makes one).
pub async fn create_with_admin(
    conn: &mut SqliteConnection,
    new: &crate::domain::account::NewTenant,
    password_hash: &str,
    operator: bool,
) -> sqlx::Result<(TenantId, super::UserId)> {
    use crate::domain::account::Role;
    use crate::store::users;
    let tenant = create(&mut *conn, &new.slug, &new.name).await?;
    let user = users::create(
        &mut *conn,
        users::NewUser {
            tenant_id: tenant,
            email: &new.admin_email,
            display_name: &new.admin_name,
            password_hash,
            role: Role::Admin,
            is_operator: operator,
        },
    )
    .await?;
    Ok((tenant, user))
}

/// Turns the tenant's email switch on or off.
pub async fn set_email_enabled(conn: &mut SqliteConnection, id: TenantId, enabled: bool) -> sqlx::Result<()> {
    sqlx::query("UPDATE tenants SET email_enabled = ? WHERE id = ?").bind(enabled).bind(id).execute(conn).await?;
    Ok(())
}

/// Sets the rules SMTP account names and passwords are checked against.
pub async fn set_credential_policy(
    conn: &mut SqliteConnection,
    id: TenantId,
    policy: crate::domain::smtp::CredentialPolicy,
) -> sqlx::Result<()> {
    sqlx::query("UPDATE tenants SET credential_policy = ? WHERE id = ?")
        .bind(policy.as_str())
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}
