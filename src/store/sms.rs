//! SMS channels. Every query takes the tenant; the password stays sealed here.

use sqlx::{SqliteConnection, SqlitePool};

use super::TenantId;
use crate::domain::sms::{
    parse_subject, ChannelSettings, GatewayRecipient, MessageTemplate, MessageType, NumberFormat, SmsHost, SmsSender,
    SmsUsername,
};
use crate::domain::smtp::{ProfileName, Security, SmtpPort};
use crate::secret::Sealed;

/// A stored channel.
#[derive(Debug, Clone)]
pub struct Channel {
    pub id: i64,
    pub settings: ChannelSettings,
    pub password_sealed: Sealed,
    pub last_test: Option<(i64, bool, String)>,
}

struct ChannelRow {
    id: i64,
    enabled: bool,
    name: String,
    host: String,
    port: Option<i64>,
    security: String,
    sender: String,
    username: String,
    password_sealed: Sealed,
    recipient: String,
    number_format: String,
    message_type: Option<String>,
    subject: Option<String>,
    message: String,
    last_test_at: Option<i64>,
    last_test_ok: Option<bool>,
    last_test_message: Option<String>,
}

/// A row that no longer passes its rules is left out rather than guessed at (rows are
/// only written from parsed values).
fn channel_of(row: ChannelRow) -> Option<Channel> {
    let message_type = match row.message_type {
        Some(t) => Some(MessageType::parse(&t).ok()??),
        None => None,
    };
    let port = match row.port {
        Some(p) => Some(SmtpPort::parse(&p.to_string()).ok()?),
        None => None,
    };
    let settings = ChannelSettings {
        enabled: row.enabled,
        name: ProfileName::parse(&row.name).ok()?,
        host: SmsHost::parse(&row.host).ok()?,
        port,
        security: Security::parse(&row.security)?,
        sender: SmsSender::parse(&row.sender).ok()?,
        username: SmsUsername::parse(&row.username).ok()?,
        recipient: GatewayRecipient::parse(&row.recipient, message_type.as_ref()).ok()?,
        number_format: NumberFormat::parse(&row.number_format).ok()?,
        message_type,
        subject: parse_subject(row.subject.as_deref().unwrap_or_default()).ok()?,
        message: MessageTemplate::parse(&row.message).ok()?,
    };
    let last_test = match (row.last_test_at, row.last_test_ok, row.last_test_message) {
        (Some(at), Some(ok), Some(message)) => Some((at, ok, message)),
        _ => None,
    };
    Some(Channel { id: row.id, settings, password_sealed: row.password_sealed, last_test })
}

/// The tenant's channels, by name.
pub async fn list(db: &SqlitePool, tenant: TenantId) -> sqlx::Result<Vec<Channel>> {
    let rows = sqlx::query_as!(
        ChannelRow,
        r#"SELECT id AS "id!", enabled AS "enabled: bool", name, host, port, security, sender, username,
                  password_sealed AS "password_sealed: Sealed", recipient, number_format, message_type, subject, message, last_test_at,
                  last_test_ok AS "last_test_ok: bool", last_test_message
           FROM sms_channels WHERE tenant_id = ? ORDER BY name COLLATE NOCASE"#,
        tenant
    )
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().filter_map(channel_of).collect())
}

/// One channel of the tenant.
pub async fn get(db: &SqlitePool, tenant: TenantId, id: i64) -> sqlx::Result<Option<Channel>> {
    let row = sqlx::query_as!(
        ChannelRow,
        r#"SELECT id AS "id!", enabled AS "enabled: bool", name, host, port, security, sender, username,
                  password_sealed AS "password_sealed: Sealed", recipient, number_format, message_type, subject, message, last_test_at,
                  last_test_ok AS "last_test_ok: bool", last_test_message
           FROM sms_channels WHERE tenant_id = ? AND id = ?"#,
        tenant,
        id
    )
    .fetch_optional(db)
    .await?;
    Ok(row.and_then(channel_of))
}

/// The tenant's first enabled channel (the oldest), which guests' passcodes go through.
pub async fn first_enabled(db: &SqlitePool, tenant: TenantId) -> sqlx::Result<Option<Channel>> {
    let row = sqlx::query_as!(
        ChannelRow,
        r#"SELECT id AS "id!", enabled AS "enabled: bool", name, host, port, security, sender, username,
                  password_sealed AS "password_sealed: Sealed", recipient, number_format, message_type, subject, message, last_test_at,
                  last_test_ok AS "last_test_ok: bool", last_test_message
           FROM sms_channels WHERE tenant_id = ? AND enabled = 1 ORDER BY id LIMIT 1"#,
        tenant
    )
    .fetch_optional(db)
    .await?;
    Ok(row.and_then(channel_of))
}

/// Which unique field another channel of the tenant already holds: `name` or `username`.
pub async fn taken(
    conn: &mut SqliteConnection,
    tenant: TenantId,
    settings: &ChannelSettings,
    except: Option<i64>,
) -> sqlx::Result<Vec<&'static str>> {
    let except = except.unwrap_or(0);
    let name = settings.name.as_str();
    let username = settings.username.as_str();
    let row = sqlx::query!(
        r#"SELECT
             EXISTS (SELECT 1 FROM sms_channels WHERE tenant_id = ?1 AND id != ?2 AND name = ?3 COLLATE NOCASE)
               AS "name!: bool",
             EXISTS (SELECT 1 FROM sms_channels WHERE tenant_id = ?1 AND id != ?2 AND username = ?4 COLLATE NOCASE)
               AS "username!: bool""#,
        tenant,
        except,
        name,
        username
    )
    .fetch_one(conn)
    .await?;
    Ok([("name", row.name), ("username", row.username)].into_iter().filter(|(_, t)| *t).map(|(f, _)| f).collect())
}

struct Columns<'a> {
    name: &'a str,
    host: &'a str,
    port: Option<i64>,
    security: &'a str,
    sender: String,
    username: &'a str,
    recipient: &'a str,
    number_format: &'a str,
    message_type: Option<&'a str>,
    subject: Option<&'a str>,
    message: &'a str,
}

fn columns(s: &ChannelSettings) -> Columns<'_> {
    Columns {
        name: s.name.as_str(),
        host: s.host.as_str(),
        port: s.port.map(|p| i64::from(p.get())),
        security: s.security.as_str(),
        sender: s.sender.to_text(),
        username: s.username.as_str(),
        recipient: s.recipient.as_str(),
        number_format: s.number_format.as_str(),
        message_type: s.message_type.as_ref().map(MessageType::as_str),
        subject: s.subject.as_deref(),
        message: s.message.as_str(),
    }
}

/// Stores a new channel; its id.
pub async fn create(
    conn: &mut SqliteConnection,
    tenant: TenantId,
    settings: &ChannelSettings,
    password: &Sealed,
    now: i64,
) -> sqlx::Result<i64> {
    let c = columns(settings);
    let password = password.as_str();
    sqlx::query_scalar!(
        r#"INSERT INTO sms_channels (tenant_id, enabled, name, host, port, security, sender, username,
               password_sealed, recipient, number_format, message_type, subject, message, created_at, updated_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id AS "id!""#,
        tenant,
        settings.enabled,
        c.name,
        c.host,
        c.port,
        c.security,
        c.sender,
        c.username,
        password,
        c.recipient,
        c.number_format,
        c.message_type,
        c.subject,
        c.message,
        now,
        now
    )
    .fetch_one(conn)
    .await
}

/// Saves a channel's settings, and its password when a new one is given; false when the
/// tenant has no such channel.
pub async fn update(
    conn: &mut SqliteConnection,
    tenant: TenantId,
    id: i64,
    settings: &ChannelSettings,
    password: Option<&Sealed>,
    now: i64,
) -> sqlx::Result<bool> {
    let c = columns(settings);
    let password = password.map(Sealed::as_str);
    let done = sqlx::query!(
        "UPDATE sms_channels SET enabled = ?, name = ?, host = ?, port = ?, security = ?, sender = ?, username = ?,
             password_sealed = COALESCE(?, password_sealed), recipient = ?, number_format = ?, message_type = ?,
             subject = ?, message = ?, updated_at = ?
         WHERE tenant_id = ? AND id = ?",
        settings.enabled,
        c.name,
        c.host,
        c.port,
        c.security,
        c.sender,
        c.username,
        password,
        c.recipient,
        c.number_format,
        c.message_type,
        c.subject,
        c.message,
        now,
        tenant,
        id
    )
    .execute(conn)
    .await?;
    Ok(done.rows_affected() > 0)
}

/// Deletes a channel; false when the tenant has no such channel.
pub async fn delete(conn: &mut SqliteConnection, tenant: TenantId, id: i64) -> sqlx::Result<bool> {
    let done =
        sqlx::query!("DELETE FROM sms_channels WHERE tenant_id = ? AND id = ?", tenant, id).execute(conn).await?;
    Ok(done.rows_affected() > 0)
}

/// Keeps the result of the last test passcode, shown in the list.
pub async fn record_test(
    conn: &mut SqliteConnection,
    tenant: TenantId,
    id: i64,
    ok: bool,
    message: &str,
    now: i64,
) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE sms_channels SET last_test_at = ?, last_test_ok = ?, last_test_message = ? WHERE tenant_id = ? AND id = ?",
        now,
        ok,
        message,
        tenant,
        id
    )
    .execute(conn)
    .await?;
    Ok(())
}
