//! Guest access settings, one row per tenant.

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
