//! SMTP profiles. Every query takes the tenant; "at most one default" is enforced by a
//! partial unique index, and every change of default happens inside one transaction.

use sqlx::{FromRow, Row as _, SqliteConnection, SqlitePool};

use super::TenantId;
use crate::db::now;
use crate::domain::smtp::{ProfileInput, ProfileKind, SecretScope, Security, Transport};

/// A profile's row id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::Type, serde::Serialize, serde::Deserialize)]
#[sqlx(transparent)]
pub struct ProfileId(pub i64);

/// A stored profile. Secrets are sealed (see `secret::SecretBox`); nothing here is plain.
#[derive(Debug, Clone, FromRow)]
pub struct Profile {
    pub id: ProfileId,
    pub tenant_id: TenantId,
    pub name: String,
    pub kind: String,
    pub is_default: bool,
    pub from_address: String,
    pub from_name: String,
    pub reply_to: Option<String>,
    pub signature: Option<String>,
    pub description: Option<String>,
    pub host: Option<String>,
    pub port: Option<i64>,
    pub security: Option<String>,
    pub tls_verify: bool,
    pub ca_pem: Option<String>,
    pub auth_required: bool,
    pub username: Option<String>,
    pub password_sealed: Option<String>,
    pub graph_tenant_id: Option<String>,
    pub graph_client_id: Option<String>,
    pub graph_secret_sealed: Option<String>,
    pub last_test_at: Option<i64>,
    pub last_test_ok: Option<bool>,
    pub last_test_message: Option<String>,
}

impl Profile {
    pub fn is_graph(&self) -> bool {
        self.kind == "graph"
    }

    /// Whether a test or a copy needs a password typed (one is part of this profile).
    pub fn has_password(&self) -> bool {
        self.is_graph() || self.auth_required
    }

    /// What the stored secrets are bound to (see `SecretScope`).
    pub fn secret_scope(&self) -> SecretScope {
        let graph = self.is_graph();
        SecretScope {
            kind: if graph { ProfileKind::Graph } else { ProfileKind::Generic },
            host: self.host.as_ref().map(|h| h.to_ascii_lowercase()),
            port: self.port.and_then(|p| u16::try_from(p).ok()),
            security: if graph { None } else { self.security.as_deref().and_then(Security::parse) },
            tls_verify: if graph { None } else { Some(self.tls_verify) },
            ca_pem: if graph { None } else { self.ca_pem.clone() },
            username: if graph || self.auth_required { self.username.clone() } else { None },
            graph_tenant_id: self.graph_tenant_id.clone(),
            graph_client_id: self.graph_client_id.clone(),
        }
    }
}

const COLUMNS: &str = "id, tenant_id, name, kind, is_default, from_address, from_name, reply_to, signature, \
     description, host, port, security, tls_verify, ca_pem, auth_required, username, password_sealed, \
     graph_tenant_id, graph_client_id, graph_secret_sealed, last_test_at, last_test_ok, last_test_message";

/// The sealed secrets to store with a profile (already decided: kept, replaced or cleared).
pub struct Secrets {
    pub password: Option<String>,
    pub graph_secret: Option<String>,
}

/// The plain (non-secret) columns of a parsed form.
struct Columns {
    kind: &'static str,
    host: Option<String>,
    port: Option<i64>,
    security: Option<&'static str>,
    tls_verify: bool,
    ca_pem: Option<String>,
    auth_required: bool,
    username: Option<String>,
    graph_tenant_id: Option<String>,
    graph_client_id: Option<String>,
}

fn columns(input: &ProfileInput) -> Columns {
    match &input.transport {
        Transport::Generic { host, port, security, tls_verify, ca_pem, auth } => Columns {
            kind: "generic",
            host: Some(host.as_str().to_owned()),
            port: Some(i64::from(port.get())),
            security: Some(security.as_str()),
            tls_verify: *tls_verify,
            ca_pem: ca_pem.as_ref().map(|c| c.as_str().to_owned()),
            auth_required: auth.is_some(),
            username: auth.as_ref().map(|a| a.username.clone()),
            graph_tenant_id: None,
            graph_client_id: None,
        },
        Transport::Graph { username, tenant_id, client_id, .. } => Columns {
            kind: "graph",
            host: None,
            port: None,
            security: None,
            tls_verify: true,
            ca_pem: None,
            auth_required: true,
            username: Some(username.as_str().to_owned()),
            graph_tenant_id: Some(tenant_id.as_str().to_owned()),
            graph_client_id: Some(client_id.as_str().to_owned()),
        },
    }
}

/// The columns a profile form sets, in the order `bind_settings` binds them; create and
/// update both write exactly these.
const SETTINGS: [&str; 18] = [
    "name",
    "kind",
    "from_address",
    "from_name",
    "reply_to",
    "signature",
    "description",
    "host",
    "port",
    "security",
    "tls_verify",
    "ca_pem",
    "auth_required",
    "username",
    "password_sealed",
    "graph_tenant_id",
    "graph_client_id",
    "graph_secret_sealed",
];

type Query<'q> = sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments<'q>>;

/// Binds the values of `SETTINGS`, in that order.
fn bind_settings<'q>(query: Query<'q>, input: &'q ProfileInput, secrets: &'q Secrets) -> Query<'q> {
    let c = columns(input);
    query
        .bind(input.name.as_str())
        .bind(c.kind)
        .bind(input.from_address.as_str())
        .bind(input.from_name.as_str())
        .bind(input.reply_to.as_ref().map(|r| r.as_str()))
        .bind(input.signature.as_ref().map(|s| s.as_str()))
        .bind(input.description.as_ref().map(|d| d.as_str()))
        .bind(c.host)
        .bind(c.port)
        .bind(c.security)
        .bind(c.tls_verify)
        .bind(c.ca_pem)
        .bind(c.auth_required)
        .bind(c.username)
        .bind(&secrets.password)
        .bind(c.graph_tenant_id)
        .bind(c.graph_client_id)
        .bind(&secrets.graph_secret)
}

/// Takes the default away from whichever profile of the tenant has it.
async fn clear_default(conn: &mut SqliteConnection, tenant: TenantId) -> sqlx::Result<()> {
    sqlx::query("UPDATE smtp_profiles SET is_default = 0 WHERE tenant_id = ? AND is_default = 1")
        .bind(tenant)
        .execute(conn)
        .await?;
    Ok(())
}

/// Whether the tenant has any profile yet (the first one becomes the default).
async fn has_any(conn: &mut SqliteConnection, tenant: TenantId) -> sqlx::Result<bool> {
    let row: Option<(i64,)> = sqlx::query_as("SELECT 1 FROM smtp_profiles WHERE tenant_id = ? LIMIT 1")
        .bind(tenant)
        .fetch_optional(conn)
        .await?;
    Ok(row.is_some())
}

/// Inserts a profile; it is the default when asked or when it is the tenant's first.
/// A taken name is a unique violation. Use inside a `BEGIN IMMEDIATE` transaction.
pub async fn create(
    conn: &mut SqliteConnection,
    tenant: TenantId,
    input: &ProfileInput,
    secrets: &Secrets,
) -> sqlx::Result<ProfileId> {
    let default = input.is_default || !has_any(&mut *conn, tenant).await?;
    if default {
        clear_default(&mut *conn, tenant).await?;
    }
    let t = now();
    let insert = format!(
        "INSERT INTO smtp_profiles ({}, tenant_id, is_default, created_at, updated_at)
         VALUES ({}, ?, ?, ?, ?) RETURNING id",
        SETTINGS.join(", "),
        vec!["?"; SETTINGS.len()].join(", "),
    );
    let row = bind_settings(sqlx::query(&insert), input, secrets)
        .bind(tenant)
        .bind(default)
        .bind(t)
        .bind(t)
        .fetch_one(conn)
        .await?;
    row.try_get(0)
}

/// Saves an edit. Ticking "Is Default" makes it the default; unticking never removes
/// the default (SPEC §3: only another default or deletion does). The last test result
/// is cleared, since it spoke of the old settings.
pub async fn update(
    conn: &mut SqliteConnection,
    tenant: TenantId,
    id: ProfileId,
    input: &ProfileInput,
    secrets: &Secrets,
) -> sqlx::Result<bool> {
    if input.is_default {
        clear_default(&mut *conn, tenant).await?;
    }
    let update = format!(
        "UPDATE smtp_profiles SET {}, is_default = (is_default OR ?), updated_at = ?,
             last_test_at = NULL, last_test_ok = NULL, last_test_message = NULL
         WHERE tenant_id = ? AND id = ?",
        SETTINGS.iter().map(|c| format!("{c} = ?")).collect::<Vec<_>>().join(", "),
    );
    let done = bind_settings(sqlx::query(&update), input, secrets)
        .bind(input.is_default)
        .bind(now())
        .bind(tenant)
        .bind(id)
        .execute(conn)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Copies `source` under `name` with newly typed secrets (SPEC §2: the password and the
/// client secret are asked again); never the default, no test result. A taken name is a
/// unique violation.
pub async fn duplicate(
    conn: &mut SqliteConnection,
    tenant: TenantId,
    source: ProfileId,
    name: &str,
    secrets: &Secrets,
) -> sqlx::Result<Option<ProfileId>> {
    let t = now();
    let row: Option<(ProfileId,)> = sqlx::query_as(
        "INSERT INTO smtp_profiles (tenant_id, name, kind, is_default, from_address, from_name, reply_to,
             signature, description, host, port, security, tls_verify, ca_pem, auth_required, username,
             password_sealed, graph_tenant_id, graph_client_id, graph_secret_sealed, created_at, updated_at)
         SELECT tenant_id, ?, kind, 0, from_address, from_name, reply_to, signature, description, host,
             port, security, tls_verify, ca_pem, auth_required, username, ?, graph_tenant_id,
             graph_client_id, ?, ?, ?
         FROM smtp_profiles WHERE tenant_id = ? AND id = ?
         RETURNING id",
    )
    .bind(name)
    .bind(&secrets.password)
    .bind(&secrets.graph_secret)
    .bind(t)
    .bind(t)
    .bind(tenant)
    .bind(source)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|(id,)| id))
}

/// Makes `id` the tenant's default and clears the previous one. False when no such profile.
pub async fn make_default(conn: &mut SqliteConnection, tenant: TenantId, id: ProfileId) -> sqlx::Result<bool> {
    if get_in(&mut *conn, tenant, id).await?.is_none() {
        return Ok(false);
    }
    clear_default(&mut *conn, tenant).await?;
    sqlx::query("UPDATE smtp_profiles SET is_default = 1 WHERE tenant_id = ? AND id = ?")
        .bind(tenant)
        .bind(id)
        .execute(conn)
        .await?;
    Ok(true)
}

/// Deletes a profile. False when there is no such profile in the tenant.
pub async fn delete(conn: &mut SqliteConnection, tenant: TenantId, id: ProfileId) -> sqlx::Result<bool> {
    let done = sqlx::query("DELETE FROM smtp_profiles WHERE tenant_id = ? AND id = ?")
        .bind(tenant)
        .bind(id)
        .execute(conn)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// The profile with this id in this tenant.
pub async fn get(pool: &SqlitePool, tenant: TenantId, id: ProfileId) -> sqlx::Result<Option<Profile>> {
    let mut conn = pool.acquire().await?;
    get_in(&mut conn, tenant, id).await
}

/// `get`, on a connection or inside a transaction.
pub async fn get_in(conn: &mut SqliteConnection, tenant: TenantId, id: ProfileId) -> sqlx::Result<Option<Profile>> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM smtp_profiles WHERE tenant_id = ? AND id = ?"))
        .bind(tenant)
        .bind(id)
        .fetch_optional(conn)
        .await
}

/// The tenant's default profile, if it has one.
pub async fn default_profile(pool: &SqlitePool, tenant: TenantId) -> sqlx::Result<Option<Profile>> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM smtp_profiles WHERE tenant_id = ? AND is_default = 1"))
        .bind(tenant)
        .fetch_optional(pool)
        .await
}

/// Every profile name of the tenant (for `_copied` naming).
pub async fn names(conn: &mut SqliteConnection, tenant: TenantId) -> sqlx::Result<Vec<String>> {
    let rows: Vec<(String,)> =
        sqlx::query_as("SELECT name FROM smtp_profiles WHERE tenant_id = ?").bind(tenant).fetch_all(conn).await?;
    Ok(rows.into_iter().map(|(n,)| n).collect())
}

/// `LIKE` pattern matching names that contain `text` literally.
fn contains_pattern(text: &str) -> String {
    let escaped: String = text
        .chars()
        .flat_map(|c| match c {
            '%' | '_' | '\\' => vec!['\\', c],
            c => vec![c],
        })
        .collect();
    format!("%{escaped}%")
}

/// One page of the tenant's profiles whose name contains `search` (the default first,
/// then by name), and how many match in all.
pub async fn page(
    pool: &SqlitePool,
    tenant: TenantId,
    search: &str,
    limit: i64,
    offset: i64,
) -> sqlx::Result<(Vec<Profile>, i64)> {
    let pattern = contains_pattern(search);
    let rows = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM smtp_profiles WHERE tenant_id = ? AND name LIKE ? ESCAPE '\\'
         ORDER BY is_default DESC, name COLLATE NOCASE LIMIT ? OFFSET ?"
    ))
    .bind(tenant)
    .bind(&pattern)
    .bind(limit)
    .bind(offset)
    .fetch_all(pool)
    .await?;
    let (total,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM smtp_profiles WHERE tenant_id = ? AND name LIKE ? ESCAPE '\\'")
            .bind(tenant)
            .bind(&pattern)
            .fetch_one(pool)
            .await?;
    Ok((rows, total))
}

/// Every profile of the tenant but `except`, by name (choices for a new default).
pub async fn others(pool: &SqlitePool, tenant: TenantId, except: ProfileId) -> sqlx::Result<Vec<(ProfileId, String)>> {
    sqlx::query_as("SELECT id, name FROM smtp_profiles WHERE tenant_id = ? AND id != ? ORDER BY name COLLATE NOCASE")
        .bind(tenant)
        .bind(except)
        .fetch_all(pool)
        .await
}

/// Stores the result of a test email on the profile (shown in the list).
pub async fn record_test(
    pool: &SqlitePool,
    tenant: TenantId,
    id: ProfileId,
    ok: bool,
    message: &str,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE smtp_profiles SET last_test_at = ?, last_test_ok = ?, last_test_message = ? WHERE tenant_id = ? AND id = ?",
    )
    .bind(now())
    .bind(ok)
    .bind(message)
    .bind(tenant)
    .bind(id)
    .execute(pool)
    .await?;
    Ok(())
}

/// `base` with the unsaved values of an edit form applied, to test them before saving.
pub fn unsaved(base: &Profile, input: &ProfileInput, secrets: Secrets) -> Profile {
    let c = columns(input);
    Profile {
        name: input.name.as_str().to_owned(),
        kind: c.kind.to_owned(),
        from_address: input.from_address.as_str().to_owned(),
        from_name: input.from_name.as_str().to_owned(),
        reply_to: input.reply_to.as_ref().map(|r| r.as_str().to_owned()),
        signature: input.signature.as_ref().map(|s| s.as_str().to_owned()),
        description: input.description.as_ref().map(|d| d.as_str().to_owned()),
        host: c.host,
        port: c.port,
        security: c.security.map(str::to_owned),
        tls_verify: c.tls_verify,
        ca_pem: c.ca_pem,
        auth_required: c.auth_required,
        username: c.username,
        password_sealed: secrets.password,
        graph_tenant_id: c.graph_tenant_id,
        graph_client_id: c.graph_client_id,
        graph_secret_sealed: secrets.graph_secret,
        ..base.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::contains_pattern;

    #[test]
    fn search_text_is_matched_literally() {
        assert_eq!(contains_pattern("a_b%c\\"), "%a\\_b\\%c\\\\%");
        assert_eq!(contains_pattern(""), "%%");
    }
}
