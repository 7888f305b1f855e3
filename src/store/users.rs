//! Console accounts. Emails are stored lower-cased; `(tenant_id, email)` is unique.

use sqlx::{FromRow, SqliteConnection, SqlitePool};

use super::{TenantId, UserId};
use crate::db::now;
use crate::domain::account::{AccountEmail, DisplayName, Role};

/// A console account.
#[derive(Debug, Clone, FromRow)]
pub struct User {
    pub id: UserId,
    pub tenant_id: TenantId,
    pub email: String,
    pub display_name: String,
    #[sqlx(try_from = "String")]
    pub role: RoleColumn,
    pub is_operator: bool,
    pub session_epoch: i64,
}

impl User {
    pub fn role(&self) -> Role {
        self.role.0
    }
}

/// `role` as stored; the CHECK constraint keeps it to the three known values.
#[derive(Debug, Clone, Copy)]
pub struct RoleColumn(pub Role);

impl TryFrom<String> for RoleColumn {
    type Error = String;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Role::parse(&s).map(RoleColumn).map_err(|_| format!("unknown role {s:?}"))
    }
}

const COLUMNS: &str = "id, tenant_id, email, display_name, role, is_operator, session_epoch";

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
pub async fn create(conn: &mut SqliteConnection, user: NewUser<'_>) -> sqlx::Result<UserId> {
    let (id,): (UserId,) = sqlx::query_as(
        "INSERT INTO users (tenant_id, email, display_name, password_hash, role, is_operator, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
    )
    .bind(user.tenant_id)
    .bind(user.email.as_str())
    .bind(user.display_name.as_str())
    .bind(user.password_hash)
    .bind(user.role.as_str())
    .bind(user.is_operator)
    .bind(now())
    .fetch_one(conn)
    .await?;
    Ok(id)
}

/// The account with this id in this tenant.
pub async fn by_id(pool: &SqlitePool, tenant: TenantId, id: UserId) -> sqlx::Result<Option<User>> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM users WHERE tenant_id = ? AND id = ?"))
        .bind(tenant)
        .bind(id)
        .fetch_optional(pool)
        .await
}

/// The account and its password hash, for sign-in. `email` must already be lower-cased.
pub async fn credentials(pool: &SqlitePool, tenant: TenantId, email: &str) -> sqlx::Result<Option<(User, String)>> {
    let row: Option<(UserId, String)> =
        sqlx::query_as("SELECT id, password_hash FROM users WHERE tenant_id = ? AND email = ?")
            .bind(tenant)
            .bind(email)
            .fetch_optional(pool)
            .await?;
    let Some((id, hash)) = row else {
        return Ok(None);
    };
    Ok(by_id(pool, tenant, id).await?.map(|u| (u, hash)))
}

/// The tenant's members, by email.
pub async fn list(pool: &SqlitePool, tenant: TenantId) -> sqlx::Result<Vec<User>> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM users WHERE tenant_id = ? ORDER BY email"))
        .bind(tenant)
        .fetch_all(pool)
        .await
}

/// The account with this (lower-cased) email in this tenant.
pub async fn by_email(pool: &SqlitePool, tenant: TenantId, email: &str) -> sqlx::Result<Option<User>> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM users WHERE tenant_id = ? AND email = ?"))
        .bind(tenant)
        .bind(email)
        .fetch_optional(pool)
        .await
}

/// Sets a new password hash and ends every session of the user (the epoch moves on).
pub async fn set_password(conn: &mut SqliteConnection, tenant: TenantId, id: UserId, hash: &str) -> sqlx::Result<()> {
    sqlx::query("UPDATE users SET password_hash = ?, session_epoch = session_epoch + 1 WHERE tenant_id = ? AND id = ?")
        .bind(hash)
        .bind(tenant)
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}
