//! Console accounts. Emails are stored lower-cased; `(tenant_id, email)` is unique.

use sqlx::{SqliteConnection, SqlitePool};

use super::tenants::Tenant;
use super::{TenantId, UserId};
use crate::domain::account::{AccountEmail, DisplayName, MemberFacts, Role};

/// A console account.
#[derive(Debug, Clone)]
pub struct User {
    pub id: UserId,
    pub tenant_id: TenantId,
    pub email: String,
    pub display_name: String,
    /// As stored; the CHECK constraint keeps it to the three known values.
    pub role: Role,
    pub is_operator: bool,
    pub session_epoch: i64,
    /// When an administrator deactivated the account; `None` while it is active.
    pub deactivated_at: Option<i64>,
}

impl User {
    pub fn role(&self) -> Role {
        self.role
    }

    /// Whether the account may sign in (it is not deactivated).
    pub fn is_active(&self) -> bool {
        self.deactivated_at.is_none()
    }

    /// What the members page's rules need to know of the account.
    pub fn facts(&self) -> MemberFacts {
        MemberFacts { role: self.role, active: self.is_active(), is_operator: self.is_operator }
    }
}

/// What a new account is made of; the password is already hashed.
pub struct NewUser<'a> {
    pub tenant_id: TenantId,
    pub email: &'a AccountEmail,
    pub display_name: &'a DisplayName,
    pub password_hash: &'a str,
    pub role: Role,
    pub is_operator: bool,
}

/// Inserts an account. A taken email is a unique violation.
pub async fn create(conn: &mut SqliteConnection, user: NewUser<'_>, now: i64) -> sqlx::Result<UserId> {
    let (email, display_name) = (user.email.as_str(), user.display_name.as_str());
    sqlx::query_scalar!(
        r#"INSERT INTO users (tenant_id, email, display_name, password_hash, role, is_operator, created_at)
           VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id AS "id!: UserId""#,
        user.tenant_id,
        email,
        display_name,
        user.password_hash,
        user.role,
        user.is_operator,
        now,
    )
    .fetch_one(conn)
    .await
}

/// The account with this id in this tenant (through the pool, or a connection).
pub async fn by_id<'e>(
    pool: impl sqlx::SqliteExecutor<'e>,
    tenant: TenantId,
    id: UserId,
) -> sqlx::Result<Option<User>> {
    sqlx::query_as!(
        User,
        r#"SELECT id AS "id!: UserId", tenant_id AS "tenant_id: TenantId", email, display_name, role AS "role: Role",
               is_operator AS "is_operator: bool", session_epoch, deactivated_at
           FROM users WHERE tenant_id = ? AND id = ?"#,
        tenant,
        id,
    )
    .fetch_optional(pool)
    .await
}

/// The account and its password hash, for sign-in. `email` must already be lower-cased.
pub async fn credentials(pool: &SqlitePool, tenant: TenantId, email: &str) -> sqlx::Result<Option<(User, String)>> {
    let row = sqlx::query!(
        r#"SELECT id AS "id!: UserId", password_hash FROM users WHERE tenant_id = ? AND email = ?"#,
        tenant,
        email,
    )
    .fetch_optional(pool)
    .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    Ok(by_id(pool, tenant, row.id).await?.map(|u| (u, row.password_hash)))
}

/// The tenant's members, by email.
pub async fn list(pool: &SqlitePool, tenant: TenantId) -> sqlx::Result<Vec<User>> {
    sqlx::query_as!(
        User,
        r#"SELECT id AS "id!: UserId", tenant_id AS "tenant_id: TenantId", email, display_name, role AS "role: Role",
               is_operator AS "is_operator: bool", session_epoch, deactivated_at
           FROM users WHERE tenant_id = ? ORDER BY email"#,
        tenant,
    )
    .fetch_all(pool)
    .await
}

/// The account with this (lower-cased) email in this tenant.
pub async fn by_email(pool: &SqlitePool, tenant: TenantId, email: &str) -> sqlx::Result<Option<User>> {
    sqlx::query_as!(
        User,
        r#"SELECT id AS "id!: UserId", tenant_id AS "tenant_id: TenantId", email, display_name, role AS "role: Role",
               is_operator AS "is_operator: bool", session_epoch, deactivated_at
           FROM users WHERE tenant_id = ? AND email = ?"#,
        tenant,
        email,
    )
    .fetch_optional(pool)
    .await
}

/// Sets a new password hash and ends every session of the user (the epoch moves on).
pub async fn set_password(conn: &mut SqliteConnection, tenant: TenantId, id: UserId, hash: &str) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE users SET password_hash = ?, session_epoch = session_epoch + 1 WHERE tenant_id = ? AND id = ?",
        hash,
        tenant,
        id,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// The account with this id in this tenant, read in the caller's transaction (a change
/// that depends on it).
pub async fn by_id_in(conn: &mut SqliteConnection, tenant: TenantId, id: UserId) -> sqlx::Result<Option<User>> {
    by_id(conn, tenant, id).await
}

/// How many active administrators the tenant has besides `id`. Read in the transaction
/// that changes `id`, so two admins demoting each other at once cannot both succeed.
pub async fn other_active_admins(conn: &mut SqliteConnection, tenant: TenantId, id: UserId) -> sqlx::Result<i64> {
    sqlx::query_scalar!(
        r#"SELECT COUNT(*) AS "n!: i64" FROM users
           WHERE tenant_id = ? AND id <> ? AND role = 'admin' AND deactivated_at IS NULL"#,
        tenant,
        id,
    )
    .fetch_one(conn)
    .await
}

/// Gives the account another role. Takes effect on its next request (every request reads
/// the role afresh).
pub async fn set_role(conn: &mut SqliteConnection, tenant: TenantId, id: UserId, role: Role) -> sqlx::Result<()> {
    sqlx::query!("UPDATE users SET role = ? WHERE tenant_id = ? AND id = ?", role, tenant, id).execute(conn).await?;
    Ok(())
}

/// Deactivates the account at `now` and ends every session of it (the epoch moves on).
pub async fn deactivate(conn: &mut SqliteConnection, tenant: TenantId, id: UserId, now: i64) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE users SET deactivated_at = ?, session_epoch = session_epoch + 1
         WHERE tenant_id = ? AND id = ? AND deactivated_at IS NULL",
        now,
        tenant,
        id,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Lets a deactivated account sign in again.
pub async fn reactivate(conn: &mut SqliteConnection, tenant: TenantId, id: UserId) -> sqlx::Result<()> {
    sqlx::query!("UPDATE users SET deactivated_at = NULL WHERE tenant_id = ? AND id = ?", tenant, id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Deletes the account. Its password resets go with it; the audit log keeps its entries
/// (under the email they were written with) and invitations it sent stay valid.
pub async fn remove(conn: &mut SqliteConnection, tenant: TenantId, id: UserId) -> sqlx::Result<bool> {
    let done = sqlx::query!("DELETE FROM users WHERE tenant_id = ? AND id = ?", tenant, id).execute(conn).await?;
    Ok(done.rows_affected() == 1)
}

/// The tenant with this slug and, if it has one, its account `id`: what every signed-in
/// page checks, in one read instead of two.
pub async fn member_by_slug(pool: &SqlitePool, slug: &str, id: UserId) -> sqlx::Result<Option<(Tenant, Option<User>)>> {
    let row = sqlx::query!(
        r#"SELECT t.id AS "t_id!: TenantId", t.slug, t.name, t.suspended AS "suspended: bool",
                  t.email_enabled AS "email_enabled: bool", t.credential_policy, t.time_zone, t.created_at,
                  u.id AS "u_id?: UserId", u.email AS "email?", u.display_name AS "display_name?",
                  u.role AS "role?: Role", u.is_operator AS "is_operator?: bool",
                  u.session_epoch AS "session_epoch?", u.deactivated_at
           FROM tenants t LEFT JOIN users u ON u.tenant_id = t.id AND u.id = ?
           WHERE t.slug = ?"#,
        id,
        slug,
    )
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|r| {
        let tenant = Tenant {
            id: r.t_id,
            slug: r.slug,
            name: r.name,
            suspended: r.suspended,
            email_enabled: r.email_enabled,
            credential_policy: r.credential_policy,
            time_zone: r.time_zone,
            created_at: r.created_at,
        };
        let user = match (r.u_id, r.email, r.display_name, r.role, r.is_operator, r.session_epoch) {
            (Some(id), Some(email), Some(display_name), Some(role), Some(is_operator), Some(session_epoch)) => {
                Some(User {
                    id,
                    tenant_id: tenant.id,
                    email,
                    display_name,
                    role,
                    is_operator,
                    session_epoch,
                    deactivated_at: r.deactivated_at,
                })
            }
            _ => None,
        };
        (tenant, user)
    }))
}
