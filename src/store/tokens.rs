//! One-time links: invitations and password resets, each working for its `*_LIFETIME`. Only a token's
//! SHA-256 is stored; using one is a conditional UPDATE, so it works exactly once.

use std::time::Duration;

use sqlx::{SqliteConnection, SqlitePool};

use super::{TenantId, UserId};
use crate::domain::account::Role;
use crate::words;

/// How long an invitation link works (SPEC §5).
pub const INVITATION_LIFETIME: Duration = Duration::from_secs(7 * 24 * 60 * 60);
/// How long a password-reset link works (SPEC §5).
pub const RESET_LIFETIME: Duration = Duration::from_secs(60 * 60);

/// [`INVITATION_LIFETIME`] as pages and emails say it (`7 days`).
pub fn invitation_valid_for() -> String {
    words::duration(INVITATION_LIFETIME)
}

/// [`RESET_LIFETIME`] as pages and emails say it (`1 hour`).
pub fn reset_valid_for() -> String {
    words::duration(RESET_LIFETIME)
}

/// `now` plus `lifetime`, in the seconds the token tables store.
fn expiry(now: i64, lifetime: Duration) -> i64 {
    now.saturating_add(i64::try_from(lifetime.as_secs()).unwrap_or(i64::MAX))
}

/// An invitation.
#[derive(Debug, Clone)]
pub struct Invitation {
    pub id: i64,
    pub tenant_id: TenantId,
    pub email: String,
    pub role: Role,
    pub created_at: i64,
    pub expires_at: i64,
}

/// An open invitation as the invitations page lists it, with its email's delivery.
pub struct OpenInvitation {
    pub id: i64,
    pub email: String,
    pub role: Role,
    pub created_at: i64,
    pub expires_at: i64,
    /// The status of the newest outbox message for it (`pending`, `sent`, `failed`);
    /// `None` when it was never emailed (its link was shared by hand).
    pub delivery: Option<String>,
    /// Why the last attempt failed, if it did.
    pub delivery_error: Option<String>,
}

/// What a new invitation is made of.
pub struct NewInvitation<'a> {
    pub email: &'a str,
    pub role: Role,
    pub token_hash: &'a str,
    pub invited_by: UserId,
}

/// Creates an invitation at `now`, voiding any earlier open one for the same address (a
/// new link replaces the old).
pub async fn invite(
    conn: &mut SqliteConnection,
    tenant: TenantId,
    new: NewInvitation<'_>,
    now: i64,
) -> sqlx::Result<i64> {
    let NewInvitation { email, role, token_hash, invited_by } = new;
    let t = now;
    let expires = expiry(t, INVITATION_LIFETIME);
    sqlx::query!(
        "UPDATE invitations SET voided_at = ? WHERE tenant_id = ? AND email = ? AND accepted_at IS NULL AND voided_at IS NULL",
        now,
        tenant,
        email,
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query_scalar!(
        r#"INSERT INTO invitations (tenant_id, email, role, token_hash, invited_by, created_at, expires_at)
           VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id AS "id!""#,
        tenant,
        email,
        role,
        token_hash,
        invited_by,
        now,
        expires,
    )
    .fetch_one(conn)
    .await
}

/// The tenant's open invitations (neither accepted nor voided), newest first.
pub async fn open_invitations(pool: &SqlitePool, tenant: TenantId) -> sqlx::Result<Vec<OpenInvitation>> {
    sqlx::query_as!(
        OpenInvitation,
        r#"SELECT i.id AS "id!", i.email, i.role AS "role: Role", i.created_at, i.expires_at,
                  o.status AS "delivery?", o.last_error AS "delivery_error?"
           FROM invitations i
           LEFT JOIN outbox o ON o.id = (SELECT MAX(id) FROM outbox WHERE invitation_id = i.id)
           WHERE i.tenant_id = ? AND i.accepted_at IS NULL AND i.voided_at IS NULL ORDER BY i.id DESC"#,
        tenant,
    )
    .fetch_all(pool)
    .await
}

/// An open invitation of this tenant by id (for regenerating its link).
pub async fn invitation(pool: &SqlitePool, tenant: TenantId, id: i64) -> sqlx::Result<Option<Invitation>> {
    sqlx::query_as!(
        Invitation,
        r#"SELECT id AS "id!", tenant_id AS "tenant_id: TenantId", email, role AS "role: Role", created_at, expires_at
           FROM invitations
           WHERE tenant_id = ? AND id = ? AND accepted_at IS NULL AND voided_at IS NULL"#,
        tenant,
        id,
    )
    .fetch_optional(pool)
    .await
}

/// The invitation a token opens, if it is still usable (not used, voided or expired).
pub async fn invitation_by_token(pool: &SqlitePool, token_hash: &str, now: i64) -> sqlx::Result<Option<Invitation>> {
    sqlx::query_as!(
        Invitation,
        r#"SELECT id AS "id!", tenant_id AS "tenant_id: TenantId", email, role AS "role: Role", created_at, expires_at
           FROM invitations
           WHERE token_hash = ? AND accepted_at IS NULL AND voided_at IS NULL AND expires_at > ?"#,
        token_hash,
        now,
    )
    .fetch_optional(pool)
    .await
}

/// Uses the invitation up; false when it was no longer usable (used a moment ago).
pub async fn accept(conn: &mut SqliteConnection, id: i64, now: i64) -> sqlx::Result<bool> {
    let done = sqlx::query!(
        "UPDATE invitations SET accepted_at = ?
         WHERE id = ? AND accepted_at IS NULL AND voided_at IS NULL AND expires_at > ?",
        now,
        id,
        now,
    )
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// A password reset.
#[derive(Debug, Clone)]
pub struct Reset {
    pub id: i64,
    pub tenant_id: TenantId,
    pub user_id: UserId,
}

/// Creates a reset for the user, voiding earlier unused ones.
pub async fn reset(
    conn: &mut SqliteConnection,
    tenant: TenantId,
    user: UserId,
    token_hash: &str,
    now: i64,
) -> sqlx::Result<i64> {
    let t = now;
    let expires = expiry(t, RESET_LIFETIME);
    sqlx::query!(
        "UPDATE password_resets SET voided_at = ? WHERE user_id = ? AND used_at IS NULL AND voided_at IS NULL",
        now,
        user,
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query_scalar!(
        r#"INSERT INTO password_resets (tenant_id, user_id, token_hash, created_at, expires_at)
           VALUES (?, ?, ?, ?, ?) RETURNING id AS "id!""#,
        tenant,
        user,
        token_hash,
        now,
        expires,
    )
    .fetch_one(conn)
    .await
}

/// The reset a token opens in this tenant, if still usable.
pub async fn reset_by_token(
    pool: &SqlitePool,
    tenant: TenantId,
    token_hash: &str,
    now: i64,
) -> sqlx::Result<Option<Reset>> {
    sqlx::query_as!(
        Reset,
        r#"SELECT id AS "id!", tenant_id AS "tenant_id: TenantId", user_id AS "user_id: UserId" FROM password_resets
           WHERE tenant_id = ? AND token_hash = ? AND used_at IS NULL AND voided_at IS NULL AND expires_at > ?"#,
        tenant,
        token_hash,
        now,
    )
    .fetch_optional(pool)
    .await
}

/// Uses the reset up; false when it was no longer usable.
pub async fn use_reset(conn: &mut SqliteConnection, id: i64, now: i64) -> sqlx::Result<bool> {
    let done = sqlx::query!(
        "UPDATE password_resets SET used_at = ? WHERE id = ? AND used_at IS NULL AND voided_at IS NULL AND expires_at > ?",
        now,
        id,
        now,
    )
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Whether the invitation can still be accepted (not used, voided or expired).
pub async fn invitation_is_open(pool: &SqlitePool, id: i64, now: i64) -> sqlx::Result<bool> {
    sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM invitations
                          WHERE id = ? AND accepted_at IS NULL AND voided_at IS NULL AND expires_at > ?) AS "open!: bool""#,
        id,
        now,
    )
    .fetch_one(pool)
    .await
}

/// Whether the reset can still be used.
pub async fn reset_is_open(pool: &SqlitePool, id: i64, now: i64) -> sqlx::Result<bool> {
    sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM password_resets
                          WHERE id = ? AND used_at IS NULL AND voided_at IS NULL AND expires_at > ?) AS "open!: bool""#,
        id,
        now,
    )
    .fetch_one(pool)
    .await
}

/// Why a queued email is not sent: its invitation was withdrawn.
pub const NOT_SENT_WITHDRAWN: &str = "Not sent: the invitation was withdrawn before it went out.";
/// Why a queued email is not sent: its member was deactivated or removed.
pub const NOT_SENT_MEMBER_GONE: &str =
    "Not sent: the member was deactivated or removed before the password-reset email went out.";

/// Withdraws an open invitation at `now`: its link stops working (it is voided, and marked
/// withdrawn so its page can say why), and an email for it that is still queued is marked
/// as not sent, so the outbox never takes it. False when it was not open.
pub async fn withdraw(conn: &mut SqliteConnection, tenant: TenantId, id: i64, now: i64) -> sqlx::Result<bool> {
    let done = sqlx::query!(
        "UPDATE invitations SET voided_at = ?, withdrawn_at = ?
         WHERE tenant_id = ? AND id = ? AND accepted_at IS NULL AND voided_at IS NULL",
        now,
        now,
        tenant,
        id,
    )
    .execute(&mut *conn)
    .await?;
    if done.rows_affected() != 1 {
        return Ok(false);
    }
    // A worker holding the message right now checks the link before sending (it is voided
    // now) and records what it did over this.
    sqlx::query!(
        "UPDATE outbox SET status = 'failed', last_error = ?
         WHERE tenant_id = ? AND invitation_id = ? AND status = 'pending'",
        NOT_SENT_WITHDRAWN,
        tenant,
        id,
    )
    .execute(conn)
    .await?;
    Ok(true)
}

/// Voids every unused reset of the user at `now` (deactivated or removed), and marks a
/// queued email carrying one as not sent.
pub async fn void_resets_of(conn: &mut SqliteConnection, tenant: TenantId, user: UserId, now: i64) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE outbox SET status = 'failed', last_error = ?
         WHERE tenant_id = ? AND status = 'pending'
           AND reset_id IN (SELECT id FROM password_resets WHERE user_id = ? AND used_at IS NULL)",
        NOT_SENT_MEMBER_GONE,
        tenant,
        user,
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query!(
        "UPDATE password_resets SET voided_at = ?
         WHERE tenant_id = ? AND user_id = ? AND used_at IS NULL AND voided_at IS NULL",
        now,
        tenant,
        user,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// What became of the invitation a token was made for, usable or not (the page of a link
/// that no longer works says why).
#[derive(Debug, Clone)]
pub struct InvitationLink {
    pub tenant_id: TenantId,
    pub expires_at: i64,
    pub accepted_at: Option<i64>,
    pub voided_at: Option<i64>,
    pub withdrawn_at: Option<i64>,
}

/// The invitation a token was made for, whatever its state.
pub async fn invitation_link(pool: &SqlitePool, token_hash: &str) -> sqlx::Result<Option<InvitationLink>> {
    sqlx::query_as!(
        InvitationLink,
        r#"SELECT tenant_id AS "tenant_id: TenantId", expires_at, accepted_at, voided_at, withdrawn_at
           FROM invitations WHERE token_hash = ?"#,
        token_hash,
    )
    .fetch_optional(pool)
    .await
}
