//! Console accounts. Emails are stored lower-cased; `(tenant_id, email)` is unique.

use sqlx::{SqliteConnection, SqlitePool};

use super::{TenantId, UserId};
use crate::domain::account::{AccountEmail, DisplayName, Role};

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
}

impl User {
    pub fn role(&self) -> Role {
        self.role
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

/// The account with this id in this tenant.
pub async fn by_id(pool: &SqlitePool, tenant: TenantId, id: UserId) -> sqlx::Result<Option<User>> {
    sqlx::query_as!(
        User,
        r#"SELECT id AS "id!: UserId", tenant_id AS "tenant_id: TenantId", email, display_name, role AS "role: Role",
               is_operator AS "is_operator: bool", session_epoch
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
               is_operator AS "is_operator: bool", session_epoch
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
               is_operator AS "is_operator: bool", session_epoch
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
