//! The outbox: mail written in the same transaction as what caused it, claimed by a
//! worker under a lease, every attempt recorded.

use sqlx::{SqliteConnection, SqlitePool};

use super::TenantId;

/// A message to add to the outbox. `body_sealed` is already sealed.
pub struct NewMessage<'a> {
    pub kind: &'a str,
    pub recipient: &'a str,
    pub subject: &'a str,
    pub body_sealed: &'a str,
    pub message_id: &'a str,
    /// The invitation or reset whose link the message carries.
    pub invitation_id: Option<i64>,
    pub reset_id: Option<i64>,
}

/// Adds a message, due now. Takes the caller's transaction.
pub async fn enqueue(
    conn: &mut SqliteConnection,
    tenant: TenantId,
    msg: NewMessage<'_>,
    now: i64,
) -> sqlx::Result<i64> {
    sqlx::query_scalar!(
        r#"INSERT INTO outbox (tenant_id, kind, recipient, subject, body_sealed, message_id, next_attempt_at, created_at,
             invitation_id, reset_id)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id AS "id!""#,
        tenant,
        msg.kind,
        msg.recipient,
        msg.subject,
        msg.body_sealed,
        msg.message_id,
        now,
        now,
        msg.invitation_id,
        msg.reset_id,
    )
    .fetch_one(conn)
    .await
}

/// A message a worker holds.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub id: i64,
    pub tenant_id: TenantId,
    pub kind: String,
    pub recipient: String,
    pub subject: String,
    pub body_sealed: String,
    pub message_id: String,
    /// This attempt's number (1 for the first).
    pub attempts: i64,
    pub invitation_id: Option<i64>,
    pub reset_id: Option<i64>,
}

/// Takes the next due message under a lease of `lease_secs`, counting the attempt. A
/// message whose lease ran out (its worker died) is due again. Mail of a tenant whose
/// email is off (or has no default profile, or is suspended) waits without using up
/// attempts.
pub async fn claim(pool: &SqlitePool, lease_secs: i64, now: i64) -> sqlx::Result<Option<Claimed>> {
    let mut tx = super::begin_write(pool).await?;
    let lease_until = now + lease_secs;
    let claimed = sqlx::query_as!(
        Claimed,
        r#"UPDATE outbox SET attempts = attempts + 1, lease_until = ?
         WHERE id = (SELECT id FROM outbox
                     WHERE status = 'pending' AND next_attempt_at <= ? AND (lease_until IS NULL OR lease_until <= ?)
                       AND EXISTS (SELECT 1 FROM tenants t
                                   WHERE t.id = outbox.tenant_id AND t.email_enabled = 1 AND t.suspended = 0)
                       AND EXISTS (SELECT 1 FROM smtp_profiles p WHERE p.tenant_id = outbox.tenant_id AND p.is_default = 1)
                     ORDER BY next_attempt_at, id LIMIT 1)
         RETURNING id AS "id!", tenant_id AS "tenant_id: TenantId", kind, recipient, subject, body_sealed, message_id,
             attempts, invitation_id, reset_id"#,
        lease_until,
        now,
        now,
    )
    .fetch_optional(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(claimed)
}

/// Records a delivered attempt.
pub async fn mark_sent(pool: &SqlitePool, msg: &Claimed, profile: &str, now: i64) -> sqlx::Result<()> {
    let mut tx = super::begin_write(pool).await?;
    sqlx::query!(
        "UPDATE outbox SET status = 'sent', sent_at = ?, lease_until = NULL, last_error = NULL WHERE id = ?",
        now,
        msg.id,
    )
    .execute(&mut *tx)
    .await?;
    record_attempt(&mut tx, msg, true, Some(profile), None, now).await?;
    tx.commit().await
}

/// Records a failed attempt: due again at `retry_at`, or failed for good when `None`.
pub async fn mark_failed(
    pool: &SqlitePool,
    msg: &Claimed,
    profile: Option<&str>,
    error: &str,
    retry_at: Option<i64>,
    now: i64,
) -> sqlx::Result<()> {
    let mut tx = super::begin_write(pool).await?;
    let status = if retry_at.is_some() { "pending" } else { "failed" };
    sqlx::query!(
        "UPDATE outbox SET status = ?, next_attempt_at = COALESCE(?, next_attempt_at), lease_until = NULL,
             last_error = ? WHERE id = ?",
        status,
        retry_at,
        error,
        msg.id,
    )
    .execute(&mut *tx)
    .await?;
    record_attempt(&mut tx, msg, false, profile, Some(error), now).await?;
    tx.commit().await
}

async fn record_attempt(
    conn: &mut SqliteConnection,
    msg: &Claimed,
    ok: bool,
    profile: Option<&str>,
    error: Option<&str>,
    now: i64,
) -> sqlx::Result<()> {
    sqlx::query!(
        "INSERT INTO outbox_attempts (outbox_id, attempt, at, ok, profile, error) VALUES (?, ?, ?, ?, ?, ?)",
        msg.id,
        msg.attempts,
        now,
        ok,
        profile,
        error,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// One line of the tenant's email log.
#[derive(Debug, Clone)]
pub struct LogRow {
    pub id: i64,
    pub kind: String,
    pub recipient: String,
    pub subject: String,
    pub status: String,
    pub attempts: i64,
    pub next_attempt_at: i64,
    pub last_error: Option<String>,
    pub created_at: i64,
    pub sent_at: Option<i64>,
}

/// The tenant's newest messages first.
pub async fn log(pool: &SqlitePool, tenant: TenantId, limit: i64) -> sqlx::Result<Vec<LogRow>> {
    sqlx::query_as!(
        LogRow,
        r#"SELECT id AS "id!", kind, recipient, subject, status, attempts, next_attempt_at, last_error, created_at,
               sent_at
           FROM outbox WHERE tenant_id = ? ORDER BY id DESC LIMIT ?"#,
        tenant,
        limit,
    )
    .fetch_all(pool)
    .await
}

/// Makes a pending or failed message due now. A failed one gets one more attempt.
/// False when there is no such message in the tenant, or it was sent. Takes the caller's
/// transaction (the audit entry goes in the same one).
pub async fn retry_now(
    conn: &mut SqliteConnection,
    tenant: TenantId,
    id: i64,
    max_attempts: i64,
    now: i64,
) -> sqlx::Result<bool> {
    let keep = max_attempts - 1;
    let done = sqlx::query!(
        "UPDATE outbox SET status = 'pending', next_attempt_at = ?, attempts = MIN(attempts, ?)
         WHERE tenant_id = ? AND id = ? AND status != 'sent' AND (lease_until IS NULL OR lease_until <= ?)",
        now,
        keep,
        tenant,
        id,
        now,
    )
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}
