//! SMTP profiles. Every query takes the tenant; "at most one default" is enforced by a
//! partial unique index, and every change of default happens inside one transaction.

use sqlx::{SqliteConnection, SqlitePool};

use super::TenantId;
use crate::domain::smtp::{
    self as domain, CaPem, Connected, Connection, CredentialPolicy, Description, FromAddress, GenericSmtp, GraphApi,
    GraphClientId, GraphTenantId, GraphUserName, LastTest, OAuthApp, OAuthClientId, OAuthProvider, OAuthProviderKind,
    OAuthScope, ProfileKind, ProfileName, ProfileSettings, ReplyTo, Security, SenderName, Signature, SmtpAuth,
    SmtpHost, SmtpPort, SmtpUsername, TokenUrl, Transport,
};
use crate::secret::Sealed;

pub use crate::domain::smtp::ProfileId;

/// A stored profile, its secrets sealed.
pub type Profile = domain::Profile<Sealed>;
/// A stored profile's settings, its secrets sealed.
pub type Settings = ProfileSettings<Sealed>;

/// A row of `smtp_profiles` as SQLite returns it; [`Profile`] is what the app uses.
struct ProfileRow {
    id: ProfileId,
    name: String,
    kind: ProfileKind,
    is_default: bool,
    from_address: String,
    from_name: String,
    reply_to: Option<String>,
    signature: Option<String>,
    description: Option<String>,
    max_per_minute: Option<i64>,
    host: Option<String>,
    port: Option<i64>,
    security: Option<Security>,
    tls_verify: bool,
    ca_pem: Option<String>,
    auth_required: bool,
    username: Option<String>,
    password_sealed: Option<Sealed>,
    graph_tenant_id: Option<String>,
    graph_client_id: Option<String>,
    graph_secret_sealed: Option<Sealed>,
    last_test_at: Option<i64>,
    last_test_ok: Option<bool>,
    last_test_message: Option<String>,
    oauth_provider: Option<OAuthProviderKind>,
    oauth_client_id: Option<String>,
    oauth_directory: Option<String>,
    oauth_token_url: Option<String>,
    oauth_scope: Option<String>,
    oauth_refresh_sealed: Option<Sealed>,
    oauth_account: Option<String>,
    oauth_connected_at: Option<i64>,
    oauth_problem: Option<String>,
}

/// The OAuth app of a row, when it signs in with OAuth.
fn oauth_app(row: &ProfileRow, bad: impl Fn(&'static str) -> BadRow) -> Result<Option<OAuthApp>, BadRow> {
    let Some(kind) = row.oauth_provider else { return Ok(None) };
    let provider = match kind {
        OAuthProviderKind::Microsoft => OAuthProvider::Microsoft {
            directory: GraphTenantId::parse(row.oauth_directory.as_deref().unwrap_or_default())
                .map_err(|_| bad("oauth_directory"))?,
        },
        OAuthProviderKind::Google => OAuthProvider::Google,
        OAuthProviderKind::Other => OAuthProvider::Other {
            token_url: TokenUrl::parse(row.oauth_token_url.as_deref().unwrap_or_default())
                .map_err(|_| bad("oauth_token_url"))?,
            scope: OAuthScope::parse(row.oauth_scope.as_deref().unwrap_or_default()).map_err(|_| bad("oauth_scope"))?,
        },
    };
    let client_id = OAuthClientId::parse(row.oauth_client_id.as_deref().unwrap_or_default(), kind)
        .map_err(|_| bad("oauth_client_id"))?;
    Ok(Some(OAuthApp { provider, client_id }))
}

/// A stored row that does not make a profile: a column its type needs is empty, or a
/// value no longer passes its rule. Nothing is made up in its place.
#[derive(Debug, thiserror::Error)]
#[error("SMTP profile {id}: the column {column} does not hold a valid value")]
pub struct BadRow {
    id: i64,
    column: &'static str,
}

impl TryFrom<ProfileRow> for Profile {
    type Error = BadRow;

    fn try_from(row: ProfileRow) -> Result<Profile, BadRow> {
        let bad = |column| BadRow { id: row.id.0, column };
        fn required(text: &Option<String>, missing: BadRow) -> Result<&str, BadRow> {
            text.as_deref().ok_or(missing)
        }
        let transport = match row.kind {
            ProfileKind::Generic => {
                let auth = if row.auth_required {
                    Some(SmtpAuth {
                        // The looser policy: an account saved under either policy loads.
                        username: SmtpUsername::parse(
                            required(&row.username, bad("username"))?,
                            CredentialPolicy::Provider,
                        )
                        .map_err(|_| bad("username"))?,
                        password: row.password_sealed.clone().ok_or(bad("password_sealed"))?,
                        oauth: oauth_app(&row, bad)?,
                    })
                } else {
                    None
                };
                Transport::Generic(GenericSmtp {
                    host: SmtpHost::parse(required(&row.host, bad("host"))?).map_err(|_| bad("host"))?,
                    port: row.port.map(|p| p.to_string()).and_then(|p| SmtpPort::parse(&p).ok()).ok_or(bad("port"))?,
                    security: row.security.ok_or(bad("security"))?,
                    tls_verify: row.tls_verify,
                    ca_pem: match row.ca_pem.as_deref().filter(|pem| !pem.is_empty()) {
                        Some(pem) => Some(CaPem::parse(pem).ok().flatten().ok_or(bad("ca_pem"))?),
                        None => None,
                    },
                    auth,
                })
            }
            ProfileKind::Graph => Transport::Graph(GraphApi {
                username: GraphUserName::parse(required(&row.username, bad("username"))?)
                    .map_err(|_| bad("username"))?,
                password: row.password_sealed.clone().ok_or(bad("password_sealed"))?,
                tenant_id: GraphTenantId::parse(required(&row.graph_tenant_id, bad("graph_tenant_id"))?)
                    .map_err(|_| bad("graph_tenant_id"))?,
                client_id: GraphClientId::parse(required(&row.graph_client_id, bad("graph_client_id"))?)
                    .map_err(|_| bad("graph_client_id"))?,
                client_secret: row.graph_secret_sealed.clone().ok_or(bad("graph_secret_sealed"))?,
            }),
        };
        let settings = ProfileSettings {
            name: ProfileName::parse(&row.name).map_err(|_| bad("name"))?,
            is_default: row.is_default,
            from_address: FromAddress::parse(&row.from_address).map_err(|_| bad("from_address"))?,
            from_name: SenderName::parse(&row.from_name).map_err(|_| bad("from_name"))?,
            reply_to: ReplyTo::parse(row.reply_to.as_deref().unwrap_or_default()).map_err(|_| bad("reply_to"))?,
            signature: Signature::parse(row.signature.as_deref().unwrap_or_default()).map_err(|_| bad("signature"))?,
            description: Description::parse(row.description.as_deref().unwrap_or_default())
                .map_err(|_| bad("description"))?,
            max_per_minute: match row.max_per_minute {
                Some(n) => Some(domain::SendRate::from_stored(n).ok_or(bad("max_per_minute"))?),
                None => None,
            },
            transport,
        };
        let last_test = row.last_test_at.map(|at| LastTest {
            at,
            ok: row.last_test_ok.unwrap_or(false),
            message: row.last_test_message.clone().unwrap_or_default(),
        });
        let connected = match (row.oauth_refresh_sealed, row.oauth_account, row.oauth_connected_at) {
            (Some(refresh_token), Some(account), Some(at)) => {
                Some(Connected { connection: Connection { account, at }, refresh_token })
            }
            _ => None,
        };
        Ok(Profile { id: row.id, settings, last_test, connected, token_problem: row.oauth_problem.clone() })
    }
}

/// Decodes rows, a row that is not a profile being a decode error (it is logged and the
/// request answered with the plain apology).
fn profiles(rows: Vec<ProfileRow>) -> sqlx::Result<Vec<Profile>> {
    rows.into_iter().map(|r| Profile::try_from(r).map_err(|e| sqlx::Error::Decode(Box::new(e)))).collect()
}

fn profile(row: Option<ProfileRow>) -> sqlx::Result<Option<Profile>> {
    Ok(profiles(row.into_iter().collect())?.pop())
}

/// `SELECT` of every column of `smtp_profiles` into a [`ProfileRow`], then `$rest` (the
/// `WHERE` and what follows) with its arguments. One column list for every read, checked
/// at compile time like any `query_as!`.
macro_rules! select_profiles {
    ($rest:literal $(, $arg:expr)* $(,)?) => {
        sqlx::query_as!(
            ProfileRow,
            r#"SELECT id AS "id!: ProfileId", name, kind AS "kind: ProfileKind", is_default AS "is_default: bool", from_address,
                   from_name, reply_to, signature, description, max_per_minute, host, port, security AS "security: Security",
                   tls_verify AS "tls_verify: bool", ca_pem, auth_required AS "auth_required: bool", username,
                   password_sealed AS "password_sealed: Sealed", graph_tenant_id, graph_client_id,
                   graph_secret_sealed AS "graph_secret_sealed: Sealed", last_test_at,
                   last_test_ok AS "last_test_ok: bool", last_test_message,
                   oauth_provider AS "oauth_provider: OAuthProviderKind", oauth_client_id, oauth_directory,
                   oauth_token_url, oauth_scope, oauth_refresh_sealed AS "oauth_refresh_sealed: Sealed",
                   oauth_account, oauth_connected_at, oauth_problem
               FROM smtp_profiles "# + $rest
            $(, $arg)*
        )
    };
}

/// The settings columns of a profile, as stored.
struct Columns<'a> {
    name: &'a str,
    from_address: &'a str,
    from_name: &'a str,
    reply_to: Option<&'a str>,
    signature: Option<&'a str>,
    description: Option<&'a str>,
    max_per_minute: Option<i64>,
    kind: ProfileKind,
    host: Option<&'a str>,
    port: Option<i64>,
    security: Option<Security>,
    tls_verify: bool,
    ca_pem: Option<&'a str>,
    auth_required: bool,
    username: Option<&'a str>,
    password: Option<&'a Sealed>,
    graph_tenant_id: Option<&'a str>,
    graph_client_id: Option<&'a str>,
    graph_secret: Option<&'a Sealed>,
    oauth_provider: Option<OAuthProviderKind>,
    oauth_client_id: Option<&'a str>,
    oauth_directory: Option<&'a str>,
    oauth_token_url: Option<&'a str>,
    oauth_scope: Option<&'a str>,
}

fn columns(settings: &Settings) -> Columns<'_> {
    let common = Columns {
        name: settings.name.as_str(),
        from_address: settings.from_address.as_str(),
        from_name: settings.from_name.as_str(),
        reply_to: settings.reply_to.as_ref().map(|r| r.as_str()),
        signature: settings.signature.as_ref().map(|s| s.as_str()),
        description: settings.description.as_ref().map(|d| d.as_str()),
        max_per_minute: settings.max_per_minute.map(|r| i64::from(r.get())),
        kind: ProfileKind::Generic,
        host: None,
        port: None,
        security: None,
        tls_verify: true,
        ca_pem: None,
        auth_required: false,
        username: None,
        password: None,
        graph_tenant_id: None,
        graph_client_id: None,
        graph_secret: None,
        oauth_provider: None,
        oauth_client_id: None,
        oauth_directory: None,
        oauth_token_url: None,
        oauth_scope: None,
    };
    match &settings.transport {
        Transport::Generic(g) => oauth_columns(
            g.auth.as_ref().and_then(|a| a.oauth.as_ref()),
            Columns {
                kind: ProfileKind::Generic,
                host: Some(g.host.as_str()),
                port: Some(i64::from(g.port.get())),
                security: Some(g.security),
                tls_verify: g.tls_verify,
                ca_pem: g.ca_pem.as_ref().map(CaPem::as_str),
                auth_required: g.auth.is_some(),
                username: g.auth.as_ref().map(|a| a.username.as_str()),
                password: g.auth.as_ref().map(|a| &a.password),
                graph_tenant_id: None,
                graph_client_id: None,
                graph_secret: None,
                ..common
            },
        ),
        Transport::Graph(g) => Columns {
            kind: ProfileKind::Graph,
            host: None,
            port: None,
            security: None,
            tls_verify: true,
            ca_pem: None,
            auth_required: true,
            username: Some(g.username.as_str()),
            password: Some(&g.password),
            graph_tenant_id: Some(g.tenant_id.as_str()),
            graph_client_id: Some(g.client_id.as_str()),
            graph_secret: Some(&g.client_secret),
            ..common
        },
    }
}

/// `columns` with an OAuth app's columns set.
fn oauth_columns<'a>(app: Option<&'a OAuthApp>, columns: Columns<'a>) -> Columns<'a> {
    let Some(app) = app else { return columns };
    let (directory, token_url, scope) = match &app.provider {
        OAuthProvider::Microsoft { directory } => (Some(directory.as_str()), None, None),
        OAuthProvider::Google => (None, None, None),
        OAuthProvider::Other { token_url, scope } => {
            (None, Some(token_url.as_str()), scope.as_ref().map(|s| s.as_str()))
        }
    };
    Columns {
        oauth_provider: Some(app.provider.kind()),
        oauth_client_id: Some(app.client_id.as_str()),
        oauth_directory: directory,
        oauth_token_url: token_url,
        oauth_scope: scope,
        ..columns
    }
}

/// Takes the default away from whichever profile of the tenant has it.
async fn clear_default(conn: &mut SqliteConnection, tenant: TenantId) -> sqlx::Result<()> {
    sqlx::query!("UPDATE smtp_profiles SET is_default = 0 WHERE tenant_id = ? AND is_default = 1", tenant)
        .execute(conn)
        .await?;
    Ok(())
}

/// Whether the tenant has any profile yet (the first one becomes the default).
async fn has_any(conn: &mut SqliteConnection, tenant: TenantId) -> sqlx::Result<bool> {
    sqlx::query_scalar!(r#"SELECT EXISTS(SELECT 1 FROM smtp_profiles WHERE tenant_id = ?) AS "x!: bool""#, tenant)
        .fetch_one(conn)
        .await
}

/// Inserts a profile; it is the default when asked or when it is the tenant's first.
/// A taken name is a unique violation. Use inside a `BEGIN IMMEDIATE` transaction.
pub async fn create(
    conn: &mut SqliteConnection,
    tenant: TenantId,
    settings: &Settings,
    now: i64,
) -> sqlx::Result<ProfileId> {
    let default = settings.is_default || !has_any(&mut *conn, tenant).await?;
    if default {
        clear_default(&mut *conn, tenant).await?;
    }
    let t = now;
    let c = columns(settings);
    sqlx::query_scalar!(
        r#"INSERT INTO smtp_profiles (tenant_id, name, kind, is_default, from_address, from_name, reply_to,
               signature, description, max_per_minute, host, port, security, tls_verify, ca_pem, auth_required,
               username, password_sealed, graph_tenant_id, graph_client_id, graph_secret_sealed, oauth_provider,
               oauth_client_id, oauth_directory, oauth_token_url, oauth_scope, created_at, updated_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
           RETURNING id AS "id!: ProfileId""#,
        tenant,
        c.name,
        c.kind,
        default,
        c.from_address,
        c.from_name,
        c.reply_to,
        c.signature,
        c.description,
        c.max_per_minute,
        c.host,
        c.port,
        c.security,
        c.tls_verify,
        c.ca_pem,
        c.auth_required,
        c.username,
        c.password,
        c.graph_tenant_id,
        c.graph_client_id,
        c.graph_secret,
        c.oauth_provider,
        c.oauth_client_id,
        c.oauth_directory,
        c.oauth_token_url,
        c.oauth_scope,
        t,
        t,
    )
    .fetch_one(conn)
    .await
}

/// Saves an edit. Ticking "Is Default" makes it the default; unticking never removes
/// the default (SPEC §3: only another default or deletion does). The last test result
/// is cleared, since it spoke of the old settings. A connected account is kept only when
/// `keep_connection` (the settings its refresh token was given for are unchanged).
pub async fn update(
    conn: &mut SqliteConnection,
    tenant: TenantId,
    id: ProfileId,
    settings: &Settings,
    keep_connection: bool,
    now: i64,
) -> sqlx::Result<bool> {
    if settings.is_default {
        clear_default(&mut *conn, tenant).await?;
    }
    let c = columns(settings);
    let t = now;
    let done = sqlx::query!(
        "UPDATE smtp_profiles SET name = ?, kind = ?, from_address = ?, from_name = ?, reply_to = ?, signature = ?,
             description = ?, max_per_minute = ?, host = ?, port = ?, security = ?, tls_verify = ?, ca_pem = ?, auth_required = ?,
             username = ?, password_sealed = ?, graph_tenant_id = ?, graph_client_id = ?, graph_secret_sealed = ?,
             oauth_provider = ?, oauth_client_id = ?, oauth_directory = ?, oauth_token_url = ?, oauth_scope = ?,
             oauth_refresh_sealed = CASE WHEN ? THEN oauth_refresh_sealed END,
             oauth_account = CASE WHEN ? THEN oauth_account END,
             oauth_connected_at = CASE WHEN ? THEN oauth_connected_at END, oauth_problem = NULL,
             is_default = (is_default OR ?), updated_at = ?,
             last_test_at = NULL, last_test_ok = NULL, last_test_message = NULL
         WHERE tenant_id = ? AND id = ?",
        c.name,
        c.kind,
        c.from_address,
        c.from_name,
        c.reply_to,
        c.signature,
        c.description,
        c.max_per_minute,
        c.host,
        c.port,
        c.security,
        c.tls_verify,
        c.ca_pem,
        c.auth_required,
        c.username,
        c.password,
        c.graph_tenant_id,
        c.graph_client_id,
        c.graph_secret,
        c.oauth_provider,
        c.oauth_client_id,
        c.oauth_directory,
        c.oauth_token_url,
        c.oauth_scope,
        keep_connection,
        keep_connection,
        keep_connection,
        settings.is_default,
        t,
        tenant,
        id,
    )
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Makes `id` the tenant's default and clears the previous one. False when no such profile.
pub async fn make_default(conn: &mut SqliteConnection, tenant: TenantId, id: ProfileId) -> sqlx::Result<bool> {
    if get_in(&mut *conn, tenant, id).await?.is_none() {
        return Ok(false);
    }
    clear_default(&mut *conn, tenant).await?;
    sqlx::query!("UPDATE smtp_profiles SET is_default = 1 WHERE tenant_id = ? AND id = ?", tenant, id)
        .execute(conn)
        .await?;
    Ok(true)
}

/// Deletes a profile. False when there is no such profile in the tenant.
pub async fn delete(conn: &mut SqliteConnection, tenant: TenantId, id: ProfileId) -> sqlx::Result<bool> {
    let done =
        sqlx::query!("DELETE FROM smtp_profiles WHERE tenant_id = ? AND id = ?", tenant, id).execute(conn).await?;
    Ok(done.rows_affected() == 1)
}

/// The profile with this id in this tenant.
pub async fn get(pool: &SqlitePool, tenant: TenantId, id: ProfileId) -> sqlx::Result<Option<Profile>> {
    let mut conn = pool.acquire().await?;
    get_in(&mut conn, tenant, id).await
}

/// `get`, on a connection or inside a transaction.
pub async fn get_in(conn: &mut SqliteConnection, tenant: TenantId, id: ProfileId) -> sqlx::Result<Option<Profile>> {
    let row = select_profiles!("WHERE tenant_id = ? AND id = ?", tenant, id).fetch_optional(conn).await?;
    profile(row)
}

/// The tenant's default profile, if it has one.
pub async fn default_profile(db: impl sqlx::SqliteExecutor<'_>, tenant: TenantId) -> sqlx::Result<Option<Profile>> {
    let row = select_profiles!("WHERE tenant_id = ? AND is_default = 1", tenant).fetch_optional(db).await?;
    profile(row)
}

/// The profiles of `ids` that are their organization's default, by id. A row that does
/// not decode is left out (reading it alone with [`default_profile`] gives its error).
pub async fn defaults_among(
    db: impl sqlx::SqliteExecutor<'_>,
    ids: &[ProfileId],
) -> sqlx::Result<std::collections::HashMap<ProfileId, Profile>> {
    let ids = super::json(ids)?;
    let rows =
        select_profiles!("WHERE id IN (SELECT value FROM json_each(?)) AND is_default = 1", ids).fetch_all(db).await?;
    Ok(rows.into_iter().filter_map(|row| Profile::try_from(row).ok()).map(|p| (p.id, p)).collect())
}

/// The name of the tenant's default profile, if it has one (read without loading the
/// profile, for pages that only name it).
pub async fn default_name(pool: &SqlitePool, tenant: TenantId) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar!("SELECT name FROM smtp_profiles WHERE tenant_id = ? AND is_default = 1", tenant)
        .fetch_optional(pool)
        .await
}

/// Every profile name of the tenant (for `_copied` naming).
pub async fn names(conn: &mut SqliteConnection, tenant: TenantId) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar!("SELECT name FROM smtp_profiles WHERE tenant_id = ?", tenant).fetch_all(conn).await
}

/// A profile as the list shows it, read without the rest of its settings.
#[derive(Debug, Clone)]
pub struct Listed {
    pub id: ProfileId,
    pub name: String,
    pub kind: ProfileKind,
    pub is_default: bool,
    pub max_per_minute: Option<i64>,
    /// `host:port` (Generic SMTP) or the mailbox (Microsoft Graph).
    pub endpoint: String,
    /// Generic SMTP's security mode (`None` for Microsoft Graph).
    pub security: Option<Security>,
    pub tls_verify: bool,
    pub auth_required: bool,
    pub last_test: Option<LastTest>,
}

impl Listed {
    /// What the list would show of a profile already loaded.
    pub fn of(p: &Profile) -> Listed {
        let (endpoint, security, tls_verify, auth_required) = match &p.settings.transport {
            Transport::Generic(g) => {
                (format!("{}:{}", g.host, g.port), Some(g.security), g.tls_verify, g.auth.is_some())
            }
            Transport::Graph(g) => (g.username.as_str().to_owned(), None, true, true),
        };
        Listed {
            id: p.id,
            name: p.settings.name.to_string(),
            kind: p.settings.transport.kind(),
            is_default: p.settings.is_default,
            max_per_minute: p.settings.max_per_minute.map(|r| i64::from(r.get())),
            endpoint,
            security,
            tls_verify,
            auth_required,
            last_test: p.last_test.clone(),
        }
    }
}

/// One page of the tenant's profiles whose name contains `search` (the default first,
/// then by name), and how many match in all. Only the columns the list shows are read
/// (a page view costs per row); a row whose shown columns are not a profile's is left
/// out (and logged), so one bad row cannot take the whole list down. A row bad only in
/// columns the list does not show is listed; opening or sending through it still fails
/// loudly.
///
/// "Contains" is `instr` on lower-cased text (ASCII letters, as `LIKE` folds them), not
/// `LIKE`: the search is taken literally with nothing to escape, and SQLite prepares a
/// statement with `LIKE ?` again on every run (the bound pattern could change its plan).
pub async fn page(
    pool: &SqlitePool,
    tenant: TenantId,
    search: &str,
    limit: i64,
    offset: i64,
) -> sqlx::Result<(Vec<Listed>, i64)> {
    // One row more than the page: when it does not come, this is the last page and the
    // total is known without counting.
    let one_more = limit.saturating_add(1);
    let mut rows = sqlx::query!(
        r#"SELECT id AS "id!: ProfileId", name, kind, is_default AS "is_default: bool", max_per_minute,
                  CASE kind WHEN 'graph' THEN username ELSE host || ':' || port END AS "endpoint: String",
                  security, tls_verify AS "tls_verify: bool", auth_required AS "auth_required: bool",
                  last_test_at, last_test_ok AS "last_test_ok: bool", last_test_message
           FROM smtp_profiles
           WHERE tenant_id = ? AND instr(lower(name), lower(?)) > 0
           ORDER BY is_default DESC, name COLLATE NOCASE LIMIT ? OFFSET ?"#,
        tenant,
        search,
        one_more,
        offset,
    )
    .fetch_all(pool)
    .await?;
    let last_page = i64::try_from(rows.len()).is_ok_and(|n| n <= limit) && (!rows.is_empty() || offset == 0);
    let total = if last_page {
        offset + rows.len() as i64
    } else {
        sqlx::query_scalar!(
            r#"SELECT COUNT(*) AS "n!: i64" FROM smtp_profiles WHERE tenant_id = ? AND instr(lower(name), lower(?)) > 0"#,
            tenant,
            search,
        )
        .fetch_one(pool)
        .await?
    };
    rows.truncate(usize::try_from(limit.max(0)).unwrap_or(usize::MAX));
    let found = rows
        .into_iter()
        .filter_map(|row| {
            let bad = |column| {
                let e = BadRow { id: row.id.0, column };
                tracing::error!(error = %e, "SMTP profile left out of the list");
            };
            let Some(kind) = ProfileKind::parse(&row.kind) else {
                bad("kind");
                return None;
            };
            let security = match (kind, row.security.as_deref().and_then(Security::parse)) {
                (ProfileKind::Generic, None) => {
                    bad("security");
                    return None;
                }
                (ProfileKind::Generic, security) => security,
                (ProfileKind::Graph, _) => None,
            };
            let Some(endpoint) = row.endpoint else {
                bad("host");
                return None;
            };
            Some(Listed {
                id: row.id,
                name: row.name,
                kind,
                is_default: row.is_default,
                max_per_minute: row.max_per_minute,
                endpoint,
                security,
                tls_verify: row.tls_verify,
                auth_required: row.auth_required,
                last_test: row.last_test_at.map(|at| LastTest {
                    at,
                    ok: row.last_test_ok.unwrap_or(false),
                    message: row.last_test_message.unwrap_or_default(),
                }),
            })
        })
        .collect();
    Ok((found, total))
}

/// Every profile of the tenant but `except`, by name (choices for a new default).
pub async fn others(pool: &SqlitePool, tenant: TenantId, except: ProfileId) -> sqlx::Result<Vec<(ProfileId, String)>> {
    let rows = sqlx::query!(
        r#"SELECT id AS "id!: ProfileId", name FROM smtp_profiles WHERE tenant_id = ? AND id != ?
           ORDER BY name COLLATE NOCASE"#,
        tenant,
        except,
    )
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(|r| (r.id, r.name)).collect())
}

/// Keeps the Google account connected to an OAuth profile: its refresh token (sealed), the
/// account and when. False when there is no such profile in the tenant.
pub async fn connect_account(
    conn: &mut SqliteConnection,
    tenant: TenantId,
    id: ProfileId,
    refresh_token: &Sealed,
    account: &str,
    now: i64,
) -> sqlx::Result<bool> {
    let done = sqlx::query!(
        "UPDATE smtp_profiles SET oauth_refresh_sealed = ?, oauth_account = ?, oauth_connected_at = ?,
             oauth_problem = NULL
         WHERE tenant_id = ? AND id = ? AND oauth_provider = 'google'",
        refresh_token,
        account,
        now,
        tenant,
        id,
    )
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Forgets the account connected to a profile. False when none was connected.
pub async fn disconnect_account(conn: &mut SqliteConnection, tenant: TenantId, id: ProfileId) -> sqlx::Result<bool> {
    let done = sqlx::query!(
        "UPDATE smtp_profiles SET oauth_refresh_sealed = NULL, oauth_account = NULL, oauth_connected_at = NULL
         WHERE tenant_id = ? AND id = ? AND oauth_refresh_sealed IS NOT NULL",
        tenant,
        id,
    )
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Notes why the provider refused to issue a token for the profile (`Some`), or that it
/// issued one again (`None`; writes only when a problem was noted).
pub async fn record_token_problem(
    pool: &SqlitePool,
    tenant: TenantId,
    id: ProfileId,
    problem: Option<&str>,
) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE smtp_profiles SET oauth_problem = ?
         WHERE tenant_id = ? AND id = ? AND oauth_problem IS NOT ?",
        problem,
        tenant,
        id,
        problem,
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// Stores the result of a test email on the profile (shown in the list).
pub async fn record_test(
    pool: &SqlitePool,
    tenant: TenantId,
    id: ProfileId,
    ok: bool,
    message: &str,
    now: i64,
) -> sqlx::Result<()> {
    let t = now;
    sqlx::query!(
        "UPDATE smtp_profiles SET last_test_at = ?, last_test_ok = ?, last_test_message = ? WHERE tenant_id = ? AND id = ?",
        t,
        ok,
        message,
        tenant,
        id,
    )
    .execute(pool)
    .await?;
    Ok(())
}
