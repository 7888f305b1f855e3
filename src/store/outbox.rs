//! The outbox: mail written in the same transaction as what caused it, claimed by a
//! worker under a lease, every attempt recorded.

use sqlx::{SqliteConnection, SqlitePool};

use super::smtp::ProfileId;
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

/// A claimed message and the profile it is due to go through (the tenant's default when
/// it was claimed), which the worker counts its sends by.
#[derive(Debug, Clone)]
pub struct Due {
    pub profile_id: ProfileId,
    pub msg: Claimed,
}

/// What the worker has going through one profile.
#[derive(Debug, Clone, Copy)]
pub struct Busy {
    pub profile: ProfileId,
    /// Sends in progress now.
    pub sending: usize,
    /// Sends started in the last minute (those in progress included).
    pub last_minute: usize,
}

/// Takes up to `max` due messages under a lease of `lease_secs`, counting an attempt for
/// each. A message whose lease ran out (its worker died) is due again; one whose lease
/// lives is never taken. Mail of a tenant whose email is off (or has no default profile,
/// or is suspended) waits without using up attempts.
///
/// The pick is fair: every profile's oldest due message comes before any profile's
/// second, and a profile never gets more than `per_profile` sends at once, counting the
/// ones it already has. So one tenant's backlog or stuck server never keeps another
/// tenant's mail waiting. A profile with a send rate (`max_per_minute`) gets no more than
/// its rate less the sends started through it in the last minute; the rest waits, no
/// attempt used.
pub async fn claim_due(
    pool: &SqlitePool,
    lease_secs: i64,
    now: i64,
    max: usize,
    per_profile: usize,
    busy: &[Busy],
) -> sqlx::Result<Vec<Due>> {
    let max = i64::try_from(max).unwrap_or(i64::MAX);
    let per_profile = i64::try_from(per_profile).unwrap_or(i64::MAX);
    let busy = serde_json::to_string(&busy.iter().map(|b| (b.profile.0, b.sending, b.last_minute)).collect::<Vec<_>>())
        .map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
    // Picked with a plain read, outside the write lock (the pick reads every due message);
    // the UPDATE below takes only those still free, so a race loses nothing.
    let picked = sqlx::query!(
        r#"WITH busy AS (
               SELECT json_extract(value, '$[0]') AS profile_id, json_extract(value, '$[1]') AS sending,
                      json_extract(value, '$[2]') AS last_minute
               FROM json_each(?1)
           ),
           due AS (
               SELECT o.id, o.next_attempt_at, p.id AS profile_id, p.max_per_minute,
                      ROW_NUMBER() OVER (PARTITION BY p.id ORDER BY o.next_attempt_at, o.id) AS place
               FROM outbox o
               JOIN tenants t ON t.id = o.tenant_id AND t.email_enabled = 1 AND t.suspended = 0
               JOIN smtp_profiles p ON p.tenant_id = o.tenant_id AND p.is_default = 1
               WHERE o.status = 'pending' AND o.next_attempt_at <= ?2 AND (o.lease_until IS NULL OR o.lease_until <= ?2)
           )
           SELECT d.id AS "id!: i64", d.profile_id AS "profile_id!: ProfileId"
           FROM due d LEFT JOIN busy b ON b.profile_id = d.profile_id
           WHERE d.place + COALESCE(b.sending, 0) <= ?3
             AND (d.max_per_minute IS NULL OR d.place + COALESCE(b.last_minute, 0) <= d.max_per_minute)
           ORDER BY d.place + COALESCE(b.sending, 0), d.next_attempt_at, d.id
           LIMIT ?4"#,
        busy,
        now,
        per_profile,
        max,
    )
    .fetch_all(pool)
    .await?;
    if picked.is_empty() {
        return Ok(Vec::new());
    }
    let ids = serde_json::to_string(&picked.iter().map(|p| p.id).collect::<Vec<_>>())
        .map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
    let lease_until = now + lease_secs;
    let mut tx = super::begin_write(pool).await?;
    let claimed = sqlx::query_as!(
        Claimed,
        r#"UPDATE outbox SET attempts = attempts + 1, lease_until = ?1
         WHERE id IN (SELECT value FROM json_each(?2)) AND status = 'pending'
           AND (lease_until IS NULL OR lease_until <= ?3)
         RETURNING id AS "id!", tenant_id AS "tenant_id: TenantId", kind, recipient, subject, body_sealed, message_id,
             attempts, invitation_id, reset_id"#,
        lease_until,
        ids,
        now,
    )
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    // In the order picked (RETURNING has none).
    let mut due = Vec::with_capacity(claimed.len());
    for p in picked {
        if let Some(msg) = claimed.iter().find(|c| c.id == p.id) {
            due.push(Due { profile_id: p.profile_id, msg: msg.clone() });
        }
    }
    Ok(due)
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
