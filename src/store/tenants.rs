//! Tenants (organizations).

use sqlx::{SqliteConnection, SqlitePool};

use super::TenantId;
use crate::domain::account::{TenantName, TenantSlug};
use crate::domain::time_zone::Zone;

/// A tenant as the console needs it.
#[derive(Debug, Clone)]
pub struct Tenant {
    pub id: TenantId,
    pub slug: String,
    pub name: String,
    pub suspended: bool,
    pub email_enabled: bool,
    pub credential_policy: String,
    /// The IANA name of the zone its pages show times in (see [`Tenant::zone`]).
    pub time_zone: String,
    pub created_at: i64,
}

impl Tenant {
    /// The rules SMTP account names and passwords are checked against.
    pub fn policy(&self) -> crate::domain::smtp::CredentialPolicy {
        crate::domain::smtp::CredentialPolicy::parse(&self.credential_policy).unwrap_or_default()
    }

    /// The zone its pages show times in; UTC if the stored name is not one relaydesk knows
    /// (a zone removed from a later time zone database, say).
    pub fn zone(&self) -> Zone {
        Zone::parse(&self.time_zone).unwrap_or_default()
    }
}

/// The tenant with this slug, if any.
pub async fn by_slug(pool: &SqlitePool, slug: &str) -> sqlx::Result<Option<Tenant>> {
    sqlx::query_as!(
        Tenant,
        r#"SELECT id AS "id!: TenantId", slug, name, suspended AS "suspended: bool",
               email_enabled AS "email_enabled: bool", credential_policy, time_zone, created_at
           FROM tenants WHERE slug = ?"#,
        slug,
    )
    .fetch_optional(pool)
    .await
}

/// Every tenant, by slug (the operator's page).
pub async fn all(pool: &SqlitePool) -> sqlx::Result<Vec<Tenant>> {
    sqlx::query_as!(
        Tenant,
        r#"SELECT id AS "id!: TenantId", slug, name, suspended AS "suspended: bool",
               email_enabled AS "email_enabled: bool", credential_policy, time_zone, created_at
           FROM tenants ORDER BY slug"#,
    )
    .fetch_all(pool)
    .await
}

/// Whether the database holds no tenant yet (first run).
pub async fn none_exist(pool: &SqlitePool) -> sqlx::Result<bool> {
    let n = sqlx::query_scalar!("SELECT COUNT(*) FROM tenants").fetch_one(pool).await?;
    Ok(n == 0)
}

/// Inserts a tenant. A taken slug is a unique violation (see `is_unique_violation`).
pub async fn create(
    conn: &mut SqliteConnection,
    slug: &TenantSlug,
    name: &TenantName,
    now: i64,
) -> sqlx::Result<TenantId> {
    let (slug, name) = (slug.as_str(), name.as_str());
    sqlx::query_scalar!(
        r#"INSERT INTO tenants (slug, name, created_at) VALUES (?, ?, ?) RETURNING id AS "id!: TenantId""#,
        slug,
        name,
        now,
    )
    .fetch_one(conn)
    .await
}

/// Renames a tenant. Takes the caller's transaction (the audit entry goes in the same one).
pub async fn rename(conn: &mut SqliteConnection, id: TenantId, name: &TenantName) -> sqlx::Result<()> {
    let name = name.as_str();
    sqlx::query!("UPDATE tenants SET name = ? WHERE id = ?", name, id).execute(conn).await?;
    Ok(())
}

/// Suspends or restores a tenant; a suspended tenant's members cannot sign in. Takes the
/// caller's transaction (the audit entry goes in the same one).
pub async fn set_suspended(conn: &mut SqliteConnection, id: TenantId, suspended: bool) -> sqlx::Result<()> {
    sqlx::query!("UPDATE tenants SET suspended = ? WHERE id = ?", suspended, id).execute(conn).await?;
    Ok(())
}

/// The tenant with this id.
pub async fn by_id(pool: &SqlitePool, id: TenantId) -> sqlx::Result<Option<Tenant>> {
    sqlx::query_as!(
        Tenant,
        r#"SELECT id AS "id!: TenantId", slug, name, suspended AS "suspended: bool",
               email_enabled AS "email_enabled: bool", credential_policy, time_zone, created_at
           FROM tenants WHERE id = ?"#,
        id,
    )
    .fetch_optional(pool)
    .await
}

/// How many members each tenant has, by tenant id (the operator's page).
pub async fn member_counts(pool: &SqlitePool) -> sqlx::Result<Vec<(TenantId, i64)>> {
    let rows = sqlx::query!(
        r#"SELECT tenant_id AS "tenant_id: TenantId", COUNT(*) AS "members!: i64" FROM users GROUP BY tenant_id"#
    )
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(|r| (r.tenant_id, r.members)).collect())
}

/// Creates a tenant and its first administrator in the caller's transaction. The admin is
/// an operator when `operator` is set (the first-run setup makes one).
pub async fn create_with_admin(
    conn: &mut SqliteConnection,
    new: &crate::domain::account::NewTenant,
    password_hash: &str,
    operator: bool,
    now: i64,
) -> sqlx::Result<(TenantId, super::UserId)> {
    use crate::domain::account::Role;
    use crate::store::users;
    let tenant = create(&mut *conn, &new.slug, &new.name, now).await?;
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
        now,
    )
    .await?;
    Ok((tenant, user))
}

/// Turns the tenant's email switch on or off.
pub async fn set_email_enabled(conn: &mut SqliteConnection, id: TenantId, enabled: bool) -> sqlx::Result<()> {
    sqlx::query!("UPDATE tenants SET email_enabled = ? WHERE id = ?", enabled, id).execute(conn).await?;
    Ok(())
}

/// Sets the rules SMTP account names and passwords are checked against.
pub async fn set_credential_policy(
    conn: &mut SqliteConnection,
    id: TenantId,
    policy: crate::domain::smtp::CredentialPolicy,
) -> sqlx::Result<()> {
    let policy = policy.as_str();
    sqlx::query!("UPDATE tenants SET credential_policy = ? WHERE id = ?", policy, id).execute(conn).await?;
    Ok(())
}

/// Sets the zone the tenant's pages show times in. Takes the caller's transaction (the
/// audit entry goes in the same one).
pub async fn set_time_zone(conn: &mut SqliteConnection, id: TenantId, zone: &Zone) -> sqlx::Result<()> {
    let name = zone.as_str();
    sqlx::query!("UPDATE tenants SET time_zone = ? WHERE id = ?", name, id).execute(conn).await?;
    Ok(())
}

/// Whether the tenant has a default SMTP profile. Read inside the caller's transaction
/// when a decision depends on it (turning email on).
pub async fn has_default_profile(conn: &mut SqliteConnection, id: TenantId) -> sqlx::Result<bool> {
    sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM smtp_profiles WHERE tenant_id = ? AND is_default = 1) AS "yes!: bool""#,
        id,
    )
    .fetch_one(conn)
    .await
}

/// Whether the tenant's mail goes out by email right now: its email switch is on and a
/// default profile exists. Read inside the caller's transaction.
pub async fn can_email(conn: &mut SqliteConnection, id: TenantId) -> sqlx::Result<bool> {
    sqlx::query_scalar!(
        r#"SELECT (email_enabled AND EXISTS (SELECT 1 FROM smtp_profiles WHERE tenant_id = tenants.id AND is_default = 1))
               AS "on!: bool"
           FROM tenants WHERE id = ?"#,
        id,
    )
    .fetch_one(conn)
    .await
}

/// How far the tenant is through the dashboard's getting-started list, beyond what the
/// tenant row says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// It has at least one SMTP profile.
    pub has_profile: bool,
    /// A test email through one of its profiles succeeded (the last test of that profile).
    pub tested: bool,
    /// Someone was ever invited.
    pub invited: bool,
}

/// The tenant's [`Progress`].
pub async fn progress(pool: &SqlitePool, id: TenantId) -> sqlx::Result<Progress> {
    sqlx::query_as!(
        Progress,
        r#"SELECT EXISTS (SELECT 1 FROM smtp_profiles WHERE tenant_id = ?1) AS "has_profile!: bool",
                  EXISTS (SELECT 1 FROM smtp_profiles WHERE tenant_id = ?1 AND last_test_ok = 1) AS "tested!: bool",
                  EXISTS (SELECT 1 FROM invitations WHERE tenant_id = ?1) AS "invited!: bool""#,
        id,
    )
    .fetch_one(pool)
    .await
}

/// A member who asked for a password reset while the tenant could not send email, and has
/// had no reset link since.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnsentReset {
    pub email: String,
    /// When they last asked.
    pub asked_at: i64,
}

/// The tenant's unanswered password-reset requests made since `since` while email was off
/// (read from the audit log, where each is recorded), the latest first. A request counts as
/// answered once a reset link was made for that member after it.
pub async fn unsent_resets(pool: &SqlitePool, id: TenantId, since: i64) -> sqlx::Result<Vec<UnsentReset>> {
    sqlx::query_as!(
        UnsentReset,
        r#"SELECT q.email AS "email!", q.asked_at AS "asked_at!: i64"
           FROM (SELECT u.id AS user_id, u.email, MAX(a.created_at) AS asked_at
                 FROM audit_log a JOIN users u ON u.id = a.actor_id AND u.tenant_id = a.tenant_id
                 WHERE a.tenant_id = ?1 AND a.action = 'reset.not_emailed' AND a.created_at >= ?2
                 GROUP BY u.id) q
           WHERE NOT EXISTS (SELECT 1 FROM password_resets r WHERE r.user_id = q.user_id AND r.created_at >= q.asked_at)
           ORDER BY q.asked_at DESC, q.email"#,
        id,
        since,
    )
    .fetch_all(pool)
    .await
}
