//! Guest access: the settings (one row per tenant), the guests, and what the abuse limits
//! count. Passcodes are kept only as a keyed hash (`auth::passcode_hash`).

use sqlx::{SqliteConnection, SqlitePool};

use super::TenantId;
use crate::domain::guest::{CallingCodes, Delivery, GuestSettings};

/// The tenant's settings; the defaults (off) when none were saved. A stored value that no
/// longer parses reads as the default for that field.
pub async fn get(db: &SqlitePool, tenant: TenantId) -> sqlx::Result<GuestSettings> {
    let row = sqlx::query!(
        r#"SELECT enabled AS "enabled: bool", delivery, passcode_length, access_hours, allowed_prefixes
           FROM guest_settings WHERE tenant_id = ?"#,
        tenant
    )
    .fetch_optional(db)
    .await?;
    let defaults = GuestSettings::default();
    Ok(match row {
        None => defaults,
        Some(r) => GuestSettings {
            enabled: r.enabled,
            delivery: Delivery::parse(&r.delivery).unwrap_or(defaults.delivery),
            passcode_length: u8::try_from(r.passcode_length).unwrap_or(defaults.passcode_length),
            access_hours: u16::try_from(r.access_hours).unwrap_or(defaults.access_hours),
            allowed_prefixes: CallingCodes::parse(&r.allowed_prefixes).unwrap_or_default(),
        },
    })
}

/// Saves the tenant's settings.
pub async fn save(conn: &mut SqliteConnection, tenant: TenantId, s: &GuestSettings, now: i64) -> sqlx::Result<()> {
    let delivery = s.delivery.as_str();
    let length = i64::from(s.passcode_length);
    let hours = i64::from(s.access_hours);
    let prefixes = s.allowed_prefixes.to_text();
    sqlx::query!(
        "INSERT INTO guest_settings (tenant_id, enabled, delivery, passcode_length, access_hours, allowed_prefixes,
             updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (tenant_id) DO UPDATE SET enabled = excluded.enabled, delivery = excluded.delivery,
             passcode_length = excluded.passcode_length, access_hours = excluded.access_hours,
             allowed_prefixes = excluded.allowed_prefixes, updated_at = excluded.updated_at",
        tenant,
        s.enabled,
        delivery,
        length,
        hours,
        prefixes,
        now
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Whether the tenant has an enabled SMS channel.
pub async fn has_enabled_channel(conn: &mut SqliteConnection, tenant: TenantId) -> sqlx::Result<bool> {
    sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM sms_channels WHERE tenant_id = ? AND enabled = 1) AS "any!: bool""#,
        tenant
    )
    .fetch_one(conn)
    .await
}

/// Whether the tenant's email works: on, with a default profile.
pub async fn email_works(conn: &mut SqliteConnection, tenant: TenantId) -> sqlx::Result<bool> {
    sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM tenants t JOIN smtp_profiles p ON p.tenant_id = t.id AND p.is_default = 1
                          WHERE t.id = ? AND t.email_enabled = 1) AS "any!: bool""#,
        tenant
    )
    .fetch_one(conn)
    .await
}

/// Whether passcodes can go out now by email (email on, a default profile) and by SMS (an
/// enabled channel), in one read.
pub async fn methods_working(pool: &SqlitePool, tenant: TenantId) -> sqlx::Result<(bool, bool)> {
    let row = sqlx::query!(
        r#"SELECT EXISTS (SELECT 1 FROM tenants t JOIN smtp_profiles p ON p.tenant_id = t.id AND p.is_default = 1
                          WHERE t.id = ?1 AND t.email_enabled = 1) AS "email!: bool",
                  EXISTS (SELECT 1 FROM sms_channels WHERE tenant_id = ?1 AND enabled = 1) AS "sms!: bool""#,
        tenant
    )
    .fetch_one(pool)
    .await?;
    Ok((row.email, row.sms))
}

/// A guest of the tenant, as the guest list shows them.
#[derive(Debug, Clone)]
pub struct Guest {
    pub id: i64,
    pub name: String,
    /// An email address or a mobile number in E.164.
    pub login: String,
    /// `email` or `sms`.
    pub via: String,
    pub created_at: i64,
    pub sent_at: i64,
    pub connected_until: Option<i64>,
    pub revoked_at: Option<i64>,
    /// The last passcode message's status in the outbox: `pending`, `sent` or `failed`.
    pub delivery: Option<String>,
    /// Its attempts so far.
    pub attempts: Option<i64>,
}

/// `SELECT` of a [`Guest`] with its last passcode message, then `$rest` (the `WHERE` and
/// what follows) with its arguments: one column list for both reads.
macro_rules! select_guests {
    ($rest:literal $(, $arg:expr)* $(,)?) => {
        sqlx::query_as!(
            Guest,
            r#"SELECT g.id AS "id!", g.name, g.login, g.via, g.created_at, g.sent_at, g.connected_until, g.revoked_at,
                      o.status AS "delivery?", o.attempts AS "attempts?"
               FROM guests g
               LEFT JOIN outbox o ON o.id = (SELECT MAX(x.id) FROM outbox x WHERE x.guest_id = g.id) "# + $rest
            $(, $arg)*
        )
    };
}

/// The tenant's guests, the latest to ask for a passcode first (at most `limit`).
pub async fn list(db: &SqlitePool, tenant: TenantId, limit: i64) -> sqlx::Result<Vec<Guest>> {
    select_guests!("WHERE g.tenant_id = ? ORDER BY g.sent_at DESC, g.id DESC LIMIT ?", tenant, limit)
        .fetch_all(db)
        .await
}

/// One guest of the tenant.
pub async fn guest(db: &SqlitePool, tenant: TenantId, id: i64) -> sqlx::Result<Option<Guest>> {
    select_guests!("WHERE g.tenant_id = ? AND g.id = ?", tenant, id).fetch_optional(db).await
}

/// What signing in needs of a guest.
#[derive(Debug, Clone)]
pub struct Credentials {
    pub id: i64,
    pub passcode_hash: Option<String>,
    pub passcode_expires_at: Option<i64>,
    pub failed_attempts: i64,
    pub revoked: bool,
}

/// The guest who signs in with `login` (an email address or an E.164 number).
pub async fn credentials(db: &SqlitePool, tenant: TenantId, login: &str) -> sqlx::Result<Option<Credentials>> {
    sqlx::query_as!(
        Credentials,
        r#"SELECT id AS "id!", passcode_hash, passcode_expires_at, failed_attempts,
                  revoked_at IS NOT NULL AS "revoked!: bool"
           FROM guests WHERE tenant_id = ? AND login = ?"#,
        tenant,
        login
    )
    .fetch_optional(db)
    .await
}

/// Adds the guest, or renames the one with this login and notes the new request; the
/// guest's id and whether their access was revoked (then nothing else changes).
pub async fn register(
    conn: &mut SqliteConnection,
    tenant: TenantId,
    name: &str,
    login: &str,
    via: &str,
    now: i64,
) -> sqlx::Result<(i64, bool)> {
    let row = sqlx::query!(
        r#"INSERT INTO guests (tenant_id, name, login, via, created_at, sent_at) VALUES (?, ?, ?, ?, ?, ?)
           ON CONFLICT (tenant_id, login) DO UPDATE SET name = excluded.name, sent_at = excluded.sent_at
               WHERE guests.revoked_at IS NULL
           RETURNING id AS "id!", revoked_at IS NOT NULL AS "revoked!: bool""#,
        tenant,
        name,
        login,
        via,
        now,
        now
    )
    .fetch_optional(&mut *conn)
    .await?;
    match row {
        Some(r) => Ok((r.id, r.revoked)),
        // The conflict's WHERE left a revoked guest as it was, and returned nothing.
        None => {
            let id = sqlx::query_scalar!(
                r#"SELECT id AS "id!" FROM guests WHERE tenant_id = ? AND login = ?"#,
                tenant,
                login
            )
            .fetch_one(conn)
            .await?;
            Ok((id, true))
        }
    }
}

/// Gives the guest a new passcode (its hash), good until `expires_at`; the last one stops
/// working, and so does the guest's connection (they sign in with the new one).
pub async fn set_passcode(
    conn: &mut SqliteConnection,
    tenant: TenantId,
    id: i64,
    hash: &str,
    expires_at: i64,
    now: i64,
) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE guests SET passcode_hash = ?, passcode_expires_at = ?, failed_attempts = 0, sent_at = ?,
             connected_until = NULL
         WHERE tenant_id = ? AND id = ?",
        hash,
        expires_at,
        now,
        tenant,
        id
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Counts a wrong passcode; at `max` the passcode stops working.
pub async fn record_failure(conn: &mut SqliteConnection, id: i64, max: i64) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE guests SET failed_attempts = failed_attempts + 1,
             passcode_hash = CASE WHEN failed_attempts + 1 >= ? THEN NULL ELSE passcode_hash END
         WHERE id = ?",
        max,
        id
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Records a sign-in: connected until the passcode's end.
pub async fn signed_in(conn: &mut SqliteConnection, id: i64, until: i64) -> sqlx::Result<()> {
    sqlx::query!("UPDATE guests SET connected_until = ?, failed_attempts = 0 WHERE id = ?", until, id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Revokes the guest: their passcode and connection end, and no passcode waiting in the
/// outbox for them goes out. False when the tenant has no such guest, or it was revoked.
pub async fn revoke(conn: &mut SqliteConnection, tenant: TenantId, id: i64, now: i64) -> sqlx::Result<bool> {
    let done = sqlx::query!(
        "UPDATE guests SET revoked_at = ?, passcode_hash = NULL, passcode_expires_at = NULL, connected_until = NULL
         WHERE tenant_id = ? AND id = ? AND revoked_at IS NULL",
        now,
        tenant,
        id
    )
    .execute(&mut *conn)
    .await?;
    if done.rows_affected() != 1 {
        return Ok(false);
    }
    sqlx::query!(
        "UPDATE outbox SET status = 'failed', permanent = 1, last_error = 'Not sent: the guest''s access was revoked.'
         WHERE tenant_id = ? AND guest_id = ? AND status = 'pending' AND (lease_until IS NULL OR lease_until <= ?)",
        tenant,
        id,
        now
    )
    .execute(conn)
    .await?;
    Ok(true)
}

/// Why a passcode may not be sent now (SPEC §9.3's abuse limits).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limited {
    /// This email address or number had its passcodes for the hour.
    Login,
    /// This client asked for its passcodes for the hour.
    Client,
    /// The organization sent its passcodes for the day.
    Tenant,
}

/// Counts a passcode to send against the limits and, when every limit allows it, records
/// it (in the caller's write transaction, so parallel requests cannot slip past together).
/// `client` is `None` for an organizer's resend, which no client limit applies to.
#[allow(clippy::too_many_arguments)]
pub async fn count_send(
    conn: &mut SqliteConnection,
    tenant: TenantId,
    login: &str,
    client: Option<&str>,
    per_login_hour: i64,
    per_client_hour: i64,
    now: i64,
) -> sqlx::Result<Result<(), Limited>> {
    let hour = now - 3600;
    let day = now - 24 * 3600;
    let counts = sqlx::query!(
        r#"SELECT (SELECT COUNT(*) FROM guest_sends WHERE tenant_id = ?1 AND login = ?2 AND created_at > ?4)
                      AS "login!: i64",
                  (SELECT COUNT(*) FROM guest_sends WHERE tenant_id = ?1 AND client = ?3 AND created_at > ?4)
                      AS "client!: i64",
                  (SELECT COUNT(*) FROM guest_sends WHERE tenant_id = ?1 AND created_at > ?5) AS "tenant!: i64",
                  (SELECT guest_daily_cap FROM tenants WHERE id = ?1) AS "cap!: i64""#,
        tenant,
        login,
        client,
        hour,
        day
    )
    .fetch_one(&mut *conn)
    .await?;
    if counts.tenant >= counts.cap {
        return Ok(Err(Limited::Tenant));
    }
    if counts.login >= per_login_hour {
        return Ok(Err(Limited::Login));
    }
    if client.is_some() && counts.client >= per_client_hour {
        return Ok(Err(Limited::Client));
    }
    sqlx::query!(
        "INSERT INTO guest_sends (tenant_id, login, client, created_at) VALUES (?, ?, ?, ?)",
        tenant,
        login,
        client,
        now
    )
    .execute(conn)
    .await?;
    Ok(Ok(()))
}

/// The most passcodes the tenant may send in 24 hours.
pub async fn daily_cap(db: &SqlitePool, tenant: TenantId) -> sqlx::Result<i64> {
    sqlx::query_scalar!("SELECT guest_daily_cap FROM tenants WHERE id = ?", tenant).fetch_one(db).await
}

/// Every tenant's daily cap (the operator's page).
pub async fn daily_caps(db: &SqlitePool) -> sqlx::Result<Vec<(TenantId, i64)>> {
    let rows = sqlx::query!(r#"SELECT id AS "id: TenantId", guest_daily_cap FROM tenants"#).fetch_all(db).await?;
    Ok(rows.into_iter().map(|r| (r.id, r.guest_daily_cap)).collect())
}

/// Sets the tenant's daily cap (the operator).
pub async fn set_daily_cap(conn: &mut SqliteConnection, tenant: TenantId, cap: i64) -> sqlx::Result<()> {
    sqlx::query!("UPDATE tenants SET guest_daily_cap = ? WHERE id = ?", cap, tenant).execute(conn).await?;
    Ok(())
}
