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
    /// `email` (through the default profile) or `sms` (through an SMS channel).
    pub via: &'a str,
    /// The guest a passcode message is for.
    pub guest_id: Option<i64>,
}

/// Adds a message, due now, its sealed content beside it. Takes the caller's transaction.
pub async fn enqueue(
    conn: &mut SqliteConnection,
    tenant: TenantId,
    msg: NewMessage<'_>,
    now: i64,
) -> sqlx::Result<i64> {
    let id = sqlx::query_scalar!(
        r#"INSERT INTO outbox (tenant_id, kind, recipient, subject, message_id, next_attempt_at, created_at,
             invitation_id, reset_id, via, guest_id)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id AS "id!""#,
        tenant,
        msg.kind,
        msg.recipient,
        msg.subject,
        msg.message_id,
        now,
        now,
        msg.invitation_id,
        msg.reset_id,
        msg.via,
        msg.guest_id,
    )
    .fetch_one(&mut *conn)
    .await?;
    sqlx::query!("INSERT INTO outbox_bodies (outbox_id, body_sealed) VALUES (?, ?)", id, msg.body_sealed)
        .execute(conn)
        .await?;
    Ok(id)
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
    /// `email` or `sms`.
    pub via: String,
}

/// The send-slot key of an SMS channel: the worker counts slots by profile, and an SMS
/// channel's key is its id negated, so it never meets a profile's (ids are positive).
pub fn channel_slot(channel_id: i64) -> ProfileId {
    ProfileId(-channel_id)
}

/// Claimed messages for one profile (the tenant's default when they were claimed),
/// which one send slot takes one after the other over one connection; the worker counts
/// its sends by the profile. The first is the profile's oldest in the batch.
#[derive(Debug, Clone)]
pub struct Due {
    pub profile_id: ProfileId,
    pub msgs: Vec<Claimed>,
    /// When the claim of every message in the batch runs out.
    pub lease_until: i64,
    /// The profile has a send rate: the worker counts its sends of the last minute (for
    /// profiles without one it need not).
    pub rate_limited: bool,
}

/// What the worker has going through one profile.
#[derive(Debug, Clone, Copy)]
pub struct Busy {
    pub profile: ProfileId,
    /// Send slots in use now.
    pub sending: usize,
    /// Sends started in the last minute (those in progress included).
    pub last_minute: usize,
}

/// How many due messages of a profile open a slot of their own: fewer go together over
/// one connection (one connection's setup, TLS and login instead of one each, which is
/// what a busy outbox runs short of), and more are spread over up to `per_profile` slots.
pub const FEW: i64 = 5;

/// Takes due mail for up to `max` send slots under a lease of `lease_secs`, up to
/// `batch` messages a slot, counting an attempt for each. A message whose lease ran out
/// (its worker died) is due again; one whose lease lives is never taken. Mail of a tenant
/// whose email is off (or has no default profile, or is suspended) waits without using up
/// attempts.
///
/// The pick is fair: every profile's first slot comes before any profile's second, a
/// profile never gets more than `per_profile` slots at once, counting the ones it already
/// has, and its due mail is dealt over its free slots in turn (its oldest first), a slot
/// for each [`FEW`] messages: a profile with a handful sends them over one connection,
/// and a backlog is spread over its slots.
/// So one tenant's backlog or stuck server never keeps another tenant's mail waiting.
/// Passcodes by SMS go through the tenant's first enabled SMS channel instead of the
/// default profile (its slots keyed by [`channel_slot`]), whether or not email is on. A
/// profile with a send rate (`max_per_minute`) gets no more than its rate less the sends
/// started through it in the last minute; the rest waits, no attempt used.
pub async fn claim_due(
    pool: &SqlitePool,
    lease_secs: i64,
    now: i64,
    max: usize,
    per_profile: usize,
    batch: usize,
    busy: &[Busy],
) -> sqlx::Result<Vec<Due>> {
    let slots = max;
    let batch = i64::try_from(batch.max(1)).unwrap_or(i64::MAX);
    let slots_limit = i64::try_from(max).unwrap_or(i64::MAX);
    let rows = slots_limit.saturating_mul(batch);
    let per_profile = i64::try_from(per_profile).unwrap_or(i64::MAX);
    let few = FEW.min(batch);
    let busy = super::json(&busy.iter().map(|b| (b.profile.0, b.sending, b.last_minute)).collect::<Vec<_>>())?;
    // The pick and the claim over one connection (sqlx checks a pooled connection with a
    // trip to its thread each time it goes back).
    let mut conn = pool.acquire().await?;
    // Picked with a plain read, outside the write lock; the UPDATE below takes only those
    // still free, so a race loses nothing. Each organization's routes (the default
    // profile for email, the first enabled SMS channel for SMS) are ranked by when their
    // oldest due message became due (a seek in `outbox_ready` each). Of those, the ones
    // with free slots and room in their send rate are ranked by how many slots they
    // already use, then by that age, and only the first `max` can get a slot: they are
    // among the `max + busy` oldest, as only busy routes can fall behind or out. Only
    // their oldest `per_profile * batch` messages are read (by that index, named: without
    // statistics SQLite would rather scan all due mail). A pick thus costs a seek per
    // organization, however long the queue. Message number
    // `place` goes to the route's slot `(place - 1) % spread`, and slots are ranked across
    // routes by how many the route already has in use. A route's mail opens one slot
    // for each [`FEW`] messages (so a handful goes over one connection, not one each),
    // up to its free slots. A slot takes no more than its share of what waits
    // (`waiting / per_profile`, rounded up, or `FEW` if more), so a batch dealt while the
    // route's other slots are busy leaves them mail to take when they come free: one
    // stuck send never holds the profile's whole backlog.
    let picked = sqlx::query!(
        r#"WITH busy AS (
               SELECT json_extract(value, '$[0]') AS profile_id, json_extract(value, '$[1]') AS sending,
                      json_extract(value, '$[2]') AS last_minute
               FROM json_each(?1)
           ),
           routes AS (
               SELECT p.id AS profile_id, t.id AS tenant_id, p.max_per_minute, 'email' AS via
               FROM tenants t
               JOIN smtp_profiles p ON p.tenant_id = t.id AND p.is_default = 1
               WHERE t.email_enabled = 1 AND t.suspended = 0
               UNION ALL
               SELECT -c.id, t.id, NULL, 'sms'
               FROM tenants t
               JOIN sms_channels c ON c.id = (SELECT MIN(f.id) FROM sms_channels f
                                             WHERE f.tenant_id = t.id AND f.enabled = 1)
               WHERE t.suspended = 0
           ),
           ready AS MATERIALIZED (
               SELECT r.profile_id, r.tenant_id, r.max_per_minute, r.via,
                      (SELECT o.next_attempt_at FROM outbox o INDEXED BY outbox_ready
                       WHERE o.tenant_id = r.tenant_id AND o.via = r.via AND o.status = 'pending'
                         AND o.next_attempt_at <= ?2 AND (o.lease_until IS NULL OR o.lease_until <= ?2)
                       ORDER BY o.next_attempt_at LIMIT 1) AS oldest
               FROM routes r
           ),
           near AS (
               SELECT * FROM ready WHERE oldest IS NOT NULL
               ORDER BY oldest, profile_id LIMIT ?6 + (SELECT COUNT(*) FROM busy)
           ),
           first AS (
               SELECT n.profile_id, n.tenant_id, n.max_per_minute, n.via, n.oldest,
                      COALESCE(b.sending, 0) AS sending, COALESCE(b.last_minute, 0) AS last_minute,
                      ?3 - COALESCE(b.sending, 0) AS free
               FROM near n
               LEFT JOIN busy b ON b.profile_id = n.profile_id
               WHERE ?3 - COALESCE(b.sending, 0) > 0
                 AND (n.max_per_minute IS NULL OR COALESCE(b.last_minute, 0) < n.max_per_minute)
               ORDER BY sending, n.oldest, n.profile_id LIMIT ?6
           ),
           due AS (
               SELECT o.id, o.next_attempt_at, r.profile_id, r.free, r.sending, r.last_minute, r.max_per_minute,
                      ROW_NUMBER() OVER (PARTITION BY r.profile_id ORDER BY o.next_attempt_at, o.id) AS place,
                      COUNT(*) OVER (PARTITION BY r.profile_id) AS waiting
               FROM first r
               JOIN outbox o ON o.id IN (
                   SELECT id FROM outbox INDEXED BY outbox_ready
                   WHERE tenant_id = r.tenant_id AND via = r.via AND status = 'pending' AND next_attempt_at <= ?2
                     AND (lease_until IS NULL OR lease_until <= ?2)
                   ORDER BY next_attempt_at, id
                   LIMIT ?3 * ?4)
           )
           SELECT id AS "id!: i64", profile_id AS "profile_id!: ProfileId",
                  (place - 1) % spread AS "slot!: i64", max_per_minute IS NOT NULL AS "rate_limited!: bool"
           FROM (SELECT *, MIN(free, (waiting + ?7 - 1) / ?7) AS spread,
                        MIN(?4, MAX(?7, (waiting + ?3 - 1) / ?3)) AS share
                 FROM due)
           WHERE place <= spread * share
             AND (max_per_minute IS NULL OR place + last_minute <= max_per_minute)
           ORDER BY (place - 1) % spread + sending, next_attempt_at, id
           LIMIT ?5"#,
        busy,
        now,
        per_profile,
        batch,
        rows,
        slots_limit,
        few,
    )
    .fetch_all(&mut *conn)
    .await?;
    // The first `max` slots in that order, each with its messages in order.
    let mut chosen: Vec<(ProfileId, i64, bool, Vec<i64>)> = Vec::new();
    for p in &picked {
        match chosen.iter().position(|(profile, slot, ..)| *profile == p.profile_id && *slot == p.slot) {
            Some(at) => chosen[at].3.push(p.id),
            None if chosen.len() < slots => chosen.push((p.profile_id, p.slot, p.rate_limited, vec![p.id])),
            None => {}
        }
    }
    if chosen.is_empty() {
        return Ok(Vec::new());
    }
    let ids = super::json(&chosen.iter().flat_map(|(.., ids)| ids.iter().copied()).collect::<Vec<_>>())?;
    let lease_until = now + lease_secs;
    let mut tx = sqlx::Connection::begin_with(&mut *conn, "BEGIN IMMEDIATE").await?;
    let claimed = sqlx::query_as!(
        Claimed,
        r#"UPDATE outbox SET attempts = attempts + 1, lease_until = ?1
         WHERE id IN (SELECT value FROM json_each(?2)) AND status = 'pending'
           AND (lease_until IS NULL OR lease_until <= ?3)
         RETURNING id AS "id!", tenant_id AS "tenant_id: TenantId", kind, recipient, subject,
             '' AS "body_sealed!: String", message_id, attempts, invitation_id, reset_id, via"#,
        lease_until,
        ids,
        now,
    )
    .fetch_all(&mut *tx)
    .await?;
    // Their content, kept apart from the rows the claim rewrites.
    let claimed_ids = super::json(&claimed.iter().map(|c| c.id).collect::<Vec<_>>())?;
    let bodies = sqlx::query!(
        r#"SELECT outbox_id AS "id!", body_sealed FROM outbox_bodies
           WHERE outbox_id IN (SELECT value FROM json_each(?))"#,
        claimed_ids,
    )
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    let mut bodies: std::collections::HashMap<i64, String> =
        bodies.into_iter().map(|b| (b.id, b.body_sealed)).collect();
    let claimed: Vec<Claimed> =
        claimed.into_iter().map(|c| Claimed { body_sealed: bodies.remove(&c.id).unwrap_or_default(), ..c }).collect();
    // In the order picked (RETURNING has none).
    let mut claimed: std::collections::HashMap<i64, Claimed> = claimed.into_iter().map(|c| (c.id, c)).collect();
    let due = chosen
        .into_iter()
        .map(|(profile_id, _, rate_limited, ids)| Due {
            profile_id,
            msgs: ids.iter().filter_map(|id| claimed.remove(id)).collect(),
            lease_until,
            rate_limited,
        })
        .filter(|d| !d.msgs.is_empty())
        .collect();
    Ok(due)
}

/// Gives back claimed messages a worker did not get to (a batch cut short): free again at
/// once, their attempt not used. Only while the claim of `lease_until` still holds them.
pub async fn release(pool: &SqlitePool, ids: &[i64], lease_until: i64) -> sqlx::Result<()> {
    if ids.is_empty() {
        return Ok(());
    }
    let ids = super::json(ids)?;
    let mut tx = super::begin_write(pool).await?;
    sqlx::query!(
        "UPDATE outbox SET attempts = attempts - 1, lease_until = NULL
         WHERE id IN (SELECT value FROM json_each(?)) AND status = 'pending' AND lease_until = ?",
        ids,
        lease_until,
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await
}

/// Moves the lease of claimed messages `ids` from `lease_until` to `until`, all or none:
/// false (and nothing changed) unless the claim of `lease_until` still holds every one.
pub async fn lease_again(pool: &SqlitePool, ids: &[i64], lease_until: i64, until: i64) -> sqlx::Result<bool> {
    let count = i64::try_from(ids.len()).unwrap_or(i64::MAX);
    let ids = super::json(ids)?;
    let mut tx = super::begin_write(pool).await?;
    let moved = sqlx::query!(
        "UPDATE outbox SET lease_until = ?
         WHERE id IN (SELECT value FROM json_each(?)) AND status = 'pending' AND lease_until = ?",
        until,
        ids,
        lease_until,
    )
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if i64::try_from(moved).unwrap_or(i64::MAX) != count {
        tx.rollback().await?;
        return Ok(false);
    }
    tx.commit().await?;
    Ok(true)
}

/// How an attempt ended.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// Delivered through the named profile, with the server's final reply
    /// (`250 2.0.0 Ok: queued as …`).
    Sent { profile: String, reply: String },
    /// Not delivered: due again at `retry_at`, or failed for good when `None`.
    /// `permanent` says the failure itself was final (a 5xx, a replaced link), so trying
    /// again by hand cannot help either; a message that only used up its attempts may be
    /// retried.
    Failed { profile: Option<String>, error: String, permanent: bool, retry_at: Option<i64> },
}

/// One finished attempt to record: the message as claimed, how it ended, and when.
#[derive(Debug, Clone)]
pub struct Finished {
    pub msg: Claimed,
    pub outcome: Outcome,
    pub at: i64,
}

/// Records a delivered attempt, with the server's final reply (`250 2.0.0 Ok: queued as …`).
pub async fn mark_sent(pool: &SqlitePool, msg: &Claimed, profile: &str, reply: &str, now: i64) -> sqlx::Result<()> {
    let outcome = Outcome::Sent { profile: profile.to_owned(), reply: reply.to_owned() };
    record_all(pool, &[Finished { msg: msg.clone(), outcome, at: now }]).await
}

/// Records a failed attempt: due again at `retry_at`, or failed for good when `None`.
/// `permanent` says the failure itself was final (a 5xx, a replaced link), so trying again
/// by hand cannot help either; a message that only used up its attempts may be retried.
pub async fn mark_failed(
    pool: &SqlitePool,
    msg: &Claimed,
    profile: Option<&str>,
    error: &str,
    permanent: bool,
    retry_at: Option<i64>,
    now: i64,
) -> sqlx::Result<()> {
    let outcome = Outcome::Failed { profile: profile.map(str::to_owned), error: error.to_owned(), permanent, retry_at };
    record_all(pool, &[Finished { msg: msg.clone(), outcome, at: now }]).await
}

/// Records many finished attempts in one write transaction of two statements, whatever
/// their number: the worker gathers what finished meanwhile, so a busy drain takes the
/// write lock (and commits) once for many messages instead of once for each.
pub async fn record_all(pool: &SqlitePool, finished: &[Finished]) -> sqlx::Result<()> {
    if finished.is_empty() {
        return Ok(());
    }
    let rows: Vec<serde_json::Value> = finished
        .iter()
        .map(|f| {
            let (id, attempt, at) = (f.msg.id, f.msg.attempts, f.at);
            match &f.outcome {
                Outcome::Sent { profile, reply } => serde_json::json!({
                    "id": id, "attempt": attempt, "at": at, "status": "sent", "sent_at": at, "retry_at": null,
                    "error": null, "permanent": 0, "ok": 1, "profile": profile, "reply": reply,
                }),
                Outcome::Failed { profile, error, permanent, retry_at } => serde_json::json!({
                    "id": id, "attempt": attempt, "at": at,
                    "status": if retry_at.is_some() { "pending" } else { "failed" },
                    "sent_at": null, "retry_at": retry_at, "error": error,
                    "permanent": i64::from(*permanent && retry_at.is_none()), "ok": 0, "profile": profile,
                    "reply": null,
                }),
            }
        })
        .collect();
    let rows = serde_json::Value::Array(rows).to_string();
    let mut tx = super::begin_write(pool).await?;
    sqlx::query!(
        "UPDATE outbox SET status = j.status, sent_at = COALESCE(j.sent_at, outbox.sent_at),
             next_attempt_at = COALESCE(j.retry_at, outbox.next_attempt_at), lease_until = NULL,
             last_error = j.error, permanent = j.permanent
         FROM (SELECT value ->> 'id' AS id, value ->> 'status' AS status, value ->> 'sent_at' AS sent_at,
                      value ->> 'retry_at' AS retry_at, value ->> 'error' AS error, value ->> 'permanent' AS permanent
               FROM json_each(?)) AS j
         WHERE outbox.id = j.id",
        rows,
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query!(
        "INSERT INTO outbox_attempts (outbox_id, attempt, at, ok, profile, error, reply)
         SELECT value ->> 'id', value ->> 'attempt', value ->> 'at', value ->> 'ok', value ->> 'profile',
                value ->> 'error', value ->> 'reply'
         FROM json_each(?) ORDER BY key",
        rows,
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await
}

/// What sending claimed messages needs to know first: whether their organization has
/// email on, where it may connect, and which of the messages still carry a link that
/// works (a replaced, used or expired one is not sent).
#[derive(Debug, Clone)]
pub struct SendChecks {
    pub email_enabled: bool,
    /// The egress policy's part for the organization (see `store::egress`).
    pub private_networks: bool,
    /// The messages asked about whose link still works (or that carry none).
    pub open: std::collections::HashSet<i64>,
}

/// [`SendChecks`] for messages `ids` of `tenant`, in one read. `None` when the
/// organization is gone.
pub async fn send_checks(
    db: impl sqlx::SqliteExecutor<'_>,
    tenant: TenantId,
    ids: &[i64],
    now: i64,
) -> sqlx::Result<Option<SendChecks>> {
    Ok(send_checks_for(db, &[(tenant, ids)], now).await?.pop().flatten())
}

/// [`SendChecks`] for several batches' messages (`ids` with their organization), in one
/// read, in the order asked; `None` for an organization that is gone.
pub async fn send_checks_for(
    db: impl sqlx::SqliteExecutor<'_>,
    wanted: &[(TenantId, &[i64])],
    now: i64,
) -> sqlx::Result<Vec<Option<SendChecks>>> {
    let wanted_len = wanted.len();
    let wanted = super::json(wanted)?;
    let rows = sqlx::query!(
        r#"SELECT CAST(w.key AS INTEGER) AS "at!: i64", t.email_enabled AS "email_enabled: bool",
                  (t.allow_private_networks = 1
                   OR EXISTS (SELECT 1 FROM users u WHERE u.tenant_id = t.id AND u.is_operator = 1))
                  AS "private_networks!: bool",
                  (SELECT json_group_array(o.id) FROM outbox o
                   WHERE o.id IN (SELECT value FROM json_each(w.value, '$[1]')) AND o.tenant_id = t.id
                     AND CASE WHEN o.invitation_id IS NOT NULL
                              THEN EXISTS (SELECT 1 FROM invitations i
                                           WHERE i.id = o.invitation_id AND i.accepted_at IS NULL
                                             AND i.voided_at IS NULL AND i.expires_at > ?2)
                              WHEN o.reset_id IS NOT NULL
                              THEN EXISTS (SELECT 1 FROM password_resets r
                                           WHERE r.id = o.reset_id AND r.used_at IS NULL
                                             AND r.voided_at IS NULL AND r.expires_at > ?2)
                              ELSE 1 END) AS "open!: String"
           FROM json_each(?1) w JOIN tenants t ON t.id = w.value ->> '$[0]'"#,
        wanted,
        now,
    )
    .fetch_all(db)
    .await?;
    let mut checks: Vec<Option<SendChecks>> = vec![None; wanted_len];
    for row in rows {
        let open: Vec<i64> = serde_json::from_str(&row.open).map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
        if let Some(slot) = usize::try_from(row.at).ok().and_then(|at| checks.get_mut(at)) {
            *slot = Some(SendChecks {
                email_enabled: row.email_enabled,
                private_networks: row.private_networks,
                open: open.into_iter().collect(),
            });
        }
    }
    Ok(checks)
}

/// One line of the tenant's email log: a message of the outbox, or a test email.
#[derive(Debug, Clone)]
pub struct LogRow {
    /// `outbox` or `test` (ids are per source).
    pub source: String,
    pub id: i64,
    /// `invitation`, `password_reset`, `guest_passcode`, `test` or `sms_test`.
    pub kind: String,
    pub recipient: String,
    pub subject: String,
    /// `pending`, `sent` or `failed`.
    pub status: String,
    pub attempts: i64,
    /// When a pending message is tried next.
    pub next_attempt_at: Option<i64>,
    pub created_at: i64,
    pub sent_at: Option<i64>,
    /// The profile the last attempt went through.
    pub profile: Option<String>,
    /// The server's final reply when sent; the last error otherwise.
    pub reply: Option<String>,
    /// Failed for good by a failure that trying again cannot fix.
    pub permanent: bool,
}

/// Which lines of the email log to show.
#[derive(Debug, Clone, Copy, Default)]
pub struct LogQuery<'a> {
    /// Only this status (`pending`, `sent`, `failed`); all when `None`.
    pub status: Option<&'a str>,
    pub limit: i64,
    pub offset: i64,
}

/// A page of the tenant's email log, newest first: its outbox mail and its test emails.
pub async fn log(pool: &SqlitePool, tenant: TenantId, q: LogQuery<'_>) -> sqlx::Result<Vec<LogRow>> {
    let (status, limit, offset) = (q.status, q.limit, q.offset);
    sqlx::query_as!(
        LogRow,
        r#"SELECT source AS "source!: String", id AS "id!: i64", kind AS "kind!: String", recipient AS "recipient!: String",
                  subject AS "subject!: String", status AS "status!: String", attempts AS "attempts!: i64", next_attempt_at AS "next_attempt_at?: i64",
                  created_at AS "created_at!: i64", sent_at AS "sent_at?: i64", profile AS "profile?: String",
                  reply AS "reply?: String", permanent AS "permanent!: bool"
           FROM (SELECT 'outbox' AS source, o.id, o.kind, o.recipient, o.subject, o.status, o.attempts,
                        CASE WHEN o.status = 'pending' THEN o.next_attempt_at END AS next_attempt_at, o.created_at,
                        o.sent_at,
                        (SELECT a.profile FROM outbox_attempts a WHERE a.outbox_id = o.id ORDER BY a.id DESC LIMIT 1)
                            AS profile,
                        CASE WHEN o.status = 'sent'
                             THEN (SELECT a.reply FROM outbox_attempts a WHERE a.outbox_id = o.id AND a.ok = 1
                                   ORDER BY a.id DESC LIMIT 1)
                             ELSE o.last_error END AS reply,
                        o.permanent
                 FROM outbox o WHERE o.tenant_id = ?1
                 UNION ALL
                 SELECT 'test', t.id, t.kind, t.recipient, t.subject, CASE WHEN t.ok = 1 THEN 'sent' ELSE 'failed' END,
                        1, NULL, t.created_at, CASE WHEN t.ok = 1 THEN t.created_at END, t.profile, t.reply, 1 - t.ok
                 FROM test_emails t WHERE t.tenant_id = ?1)
           WHERE ?2 IS NULL OR status = ?2
           ORDER BY created_at DESC, source, id DESC LIMIT ?3 OFFSET ?4"#,
        tenant,
        status,
        limit,
        offset,
    )
    .fetch_all(pool)
    .await
}

/// One outbox message of the tenant as its email log line (a retried row, refreshed).
pub async fn log_row(pool: &SqlitePool, tenant: TenantId, id: i64) -> sqlx::Result<Option<LogRow>> {
    sqlx::query_as!(
        LogRow,
        r#"SELECT 'outbox' AS "source!: String", o.id AS "id!", o.kind, o.recipient, o.subject, o.status, o.attempts,
                  CASE WHEN o.status = 'pending' THEN o.next_attempt_at END AS "next_attempt_at?: i64", o.created_at,
                  o.sent_at,
                  (SELECT a.profile FROM outbox_attempts a WHERE a.outbox_id = o.id ORDER BY a.id DESC LIMIT 1)
                      AS "profile?: String",
                  CASE WHEN o.status = 'sent'
                       THEN (SELECT a.reply FROM outbox_attempts a WHERE a.outbox_id = o.id AND a.ok = 1
                             ORDER BY a.id DESC LIMIT 1)
                       ELSE o.last_error END AS "reply?: String",
                  o.permanent AS "permanent: bool"
           FROM outbox o WHERE o.tenant_id = ? AND o.id = ?"#,
        tenant,
        id,
    )
    .fetch_optional(pool)
    .await
}

/// A test email sent from a profile, or a test passcode from an SMS channel, as the email
/// log keeps it.
pub struct TestEmail<'a> {
    /// `test` (a profile's test email) or `sms_test` (a channel's test passcode).
    pub kind: &'a str,
    /// The profile's name.
    pub profile: &'a str,
    pub recipient: &'a str,
    pub subject: &'a str,
    pub ok: bool,
    /// The server's final reply when sent; why not, when it failed.
    pub reply: &'a str,
    /// Who sent it.
    pub sent_by: &'a str,
}

/// Adds a test email and its outcome to the tenant's email log.
pub async fn record_test_email(pool: &SqlitePool, tenant: TenantId, test: TestEmail<'_>, now: i64) -> sqlx::Result<()> {
    let TestEmail { kind, profile, recipient, subject, ok, reply, sent_by } = test;
    let mut tx = super::begin_write(pool).await?;
    sqlx::query!(
        "INSERT INTO test_emails (tenant_id, kind, profile, recipient, subject, ok, reply, sent_by, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        tenant,
        kind,
        profile,
        recipient,
        subject,
        ok,
        reply,
        sent_by,
        now,
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await
}

/// Makes a pending or failed message due now. A failed one gets one more attempt.
/// False when there is no such message in the tenant, or it was sent, or it failed for
/// good ([`LogRow::permanent`]). Takes the caller's transaction (the audit entry goes in
/// the same one).
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
         WHERE tenant_id = ? AND id = ? AND status != 'sent' AND permanent = 0
           AND (lease_until IS NULL OR lease_until <= ?)",
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
