//! Settings read from the environment once, at start, and validated there.

use secrecy::SecretString;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context};
use url::Url;

pub mod proxies;

/// Everything the app needs to know about its surroundings.
#[derive(Debug, Clone)]
pub struct Config {
    /// `sqlite://…` URL of the database.
    pub database_url: String,
    pub listen: SocketAddr,
    /// Base of every link the app mails or shows (never the request's Host).
    pub public_url: Url,
    /// No `RELAYDESK_PUBLIC_URL` was given: `serve` derives it from the bound address.
    pub public_url_from_listen: bool,
    /// `RELAYDESK_SECRET_KEY`, when given; otherwise a key file beside the database.
    pub secret_key: Option<SecretString>,
    /// Sessions end after this long without a request.
    pub session_idle: Duration,
    /// Sessions end this long after sign-in, whatever happens.
    pub session_absolute: Duration,
    /// Microsoft's sign-in service (`RELAYDESK_GRAPH_LOGIN_URL`).
    pub graph_login_url: Url,
    /// Microsoft Graph (`RELAYDESK_GRAPH_API_URL`).
    pub graph_api_url: Url,
    /// Google's OAuth consent page (`RELAYDESK_GOOGLE_AUTH_URL`).
    pub google_auth_url: Url,
    /// Google's OAuth token endpoint (`RELAYDESK_GOOGLE_TOKEN_URL`).
    pub google_token_url: Url,
    /// Google's OAuth revocation endpoint (`RELAYDESK_GOOGLE_REVOKE_URL`).
    pub google_revoke_url: Url,
    /// The bound on one whole send (SPEC §4: 15 s).
    pub send_timeout: Duration,
    /// How long a worker holds a claimed message before another may take it.
    pub outbox_lease: Duration,
    /// How often the worker looks for due messages when nothing wakes it.
    pub outbox_poll: Duration,
    /// Timeouts and the connection cap of the HTTP server ([`ConnectionLimits`]).
    pub limits: ConnectionLimits,

    // --- Client addresses behind a reverse proxy (sign-in throttling, the audit log) ---
    /// `RELAYDESK_TRUSTED_PROXIES` and `RELAYDESK_PROXY_HEADER`: whose word is taken for
    /// the client's address.
    pub proxies: proxies::TrustedProxies,
    /// Sends in progress at once, across every tenant (`RELAYDESK_OUTBOX_CONCURRENCY`).
    /// Sending waits on the network, not the CPU, so this is sized for I/O.
    pub outbox_concurrency: usize,
    /// Sends in progress at once through one profile (`RELAYDESK_OUTBOX_PER_PROFILE`), so
    /// one tenant's backlog or stuck server never takes every slot.
    pub outbox_per_profile: usize,
    /// Messages the outbox sends over one SMTP connection before it opens a new one.
    pub smtp_per_connection: usize,
    /// How long an SMTP connection may wait unused for the profile's next message.
    pub smtp_idle: Duration,

    // --- The egress policy: where organizations' SMTP profiles may connect ---
    /// `RELAYDESK_EGRESS_ALLOW` (hosts and networks every organization may reach although
    /// they are loopback, private or shared) and `RELAYDESK_EGRESS_PORTS` (the only ports
    /// allowed). See `mail::egress`.
    pub egress: crate::mail::egress::EgressPolicy,
}

impl Config {
    pub const DEFAULT_DATABASE_URL: &'static str = "sqlite://data/relaydesk.db";
    pub const DEFAULT_LISTEN: &'static str = "127.0.0.1:3000";

    /// Reads `RELAYDESK_*` variables; a malformed one is an error that names it.
    pub fn from_env() -> anyhow::Result<Config> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let database_url = var("RELAYDESK_DATABASE_URL").unwrap_or_else(|| Self::DEFAULT_DATABASE_URL.into());
        let listen_text = var("RELAYDESK_LISTEN").unwrap_or_else(|| Self::DEFAULT_LISTEN.into());
        let listen: SocketAddr = listen_text.parse().with_context(|| {
            format!("RELAYDESK_LISTEN must be an address and port such as 127.0.0.1:3000, not {listen_text:?}")
        })?;
        let public_url_text = var("RELAYDESK_PUBLIC_URL");
        let public_url_from_listen = public_url_text.is_none();
        let public_url = match public_url_text {
            Some(text) => parse_public_url(&text)?,
            None => default_public_url(listen),
        };
        let graph_login_url = match var("RELAYDESK_GRAPH_LOGIN_URL") {
            Some(text) => parse_http_url("RELAYDESK_GRAPH_LOGIN_URL", &text)?,
            None => default_url(DEFAULT_GRAPH_LOGIN_URL),
        };
        let graph_api_url = match var("RELAYDESK_GRAPH_API_URL") {
            Some(text) => parse_http_url("RELAYDESK_GRAPH_API_URL", &text)?,
            None => default_url(DEFAULT_GRAPH_API_URL),
        };
        let google_url = |name: &str, default: &str| match var(name) {
            Some(text) => parse_http_url(name, &text),
            None => Ok(default_url(default)),
        };
        let google_auth_url = google_url("RELAYDESK_GOOGLE_AUTH_URL", DEFAULT_GOOGLE_AUTH_URL)?;
        let google_token_url = google_url("RELAYDESK_GOOGLE_TOKEN_URL", DEFAULT_GOOGLE_TOKEN_URL)?;
        let google_revoke_url = google_url("RELAYDESK_GOOGLE_REVOKE_URL", DEFAULT_GOOGLE_REVOKE_URL)?;
        let send_timeout =
            seconds_var("RELAYDESK_SEND_TIMEOUT", var("RELAYDESK_SEND_TIMEOUT"), DEFAULT_SEND_TIMEOUT, 1..=600)?;
        let outbox_lease =
            seconds_var("RELAYDESK_OUTBOX_LEASE", var("RELAYDESK_OUTBOX_LEASE"), DEFAULT_OUTBOX_LEASE, 2..=86_400)?;
        if outbox_lease <= send_timeout {
            bail!(
                "RELAYDESK_OUTBOX_LEASE ({} s) must be longer than RELAYDESK_SEND_TIMEOUT ({} s), so a message is never \
                 taken over while its send may still be running",
                outbox_lease.as_secs(),
                send_timeout.as_secs()
            );
        }
        let outbox_concurrency = count_var(
            "RELAYDESK_OUTBOX_CONCURRENCY",
            var("RELAYDESK_OUTBOX_CONCURRENCY"),
            DEFAULT_OUTBOX_CONCURRENCY,
            1..=4096,
        )?;
        let outbox_per_profile = count_var(
            "RELAYDESK_OUTBOX_PER_PROFILE",
            var("RELAYDESK_OUTBOX_PER_PROFILE"),
            DEFAULT_OUTBOX_PER_PROFILE,
            1..=256,
        )?;
        Ok(Config {
            graph_login_url,
            graph_api_url,
            google_auth_url,
            google_token_url,
            google_revoke_url,
            send_timeout,
            outbox_lease,
            outbox_poll: DEFAULT_OUTBOX_POLL,
            outbox_concurrency,
            outbox_per_profile,
            smtp_per_connection: DEFAULT_SMTP_PER_CONNECTION,
            smtp_idle: DEFAULT_SMTP_IDLE,
            database_url,
            listen,
            public_url,
            public_url_from_listen,
            secret_key: var("RELAYDESK_SECRET_KEY").map(SecretString::from),
            session_idle: Duration::from_secs(30 * 60),
            session_absolute: Duration::from_secs(12 * 60 * 60),
            limits: ConnectionLimits::from_env(&var)?,
            // Client addresses behind a reverse proxy.
            proxies: proxies::TrustedProxies::parse(
                var("RELAYDESK_TRUSTED_PROXIES").as_deref(),
                var("RELAYDESK_PROXY_HEADER").as_deref(),
            )?,
            // The egress policy.
            egress: crate::mail::egress::EgressPolicy::parse(
                var("RELAYDESK_EGRESS_ALLOW").as_deref(),
                var("RELAYDESK_EGRESS_PORTS").as_deref(),
            )?,
        })
    }

    /// A config for a database at `path`, listening on `listen`, with defaults otherwise.
    pub fn for_database(path: &std::path::Path, listen: SocketAddr) -> Config {
        Config {
            database_url: format!("sqlite://{}", path.display()),
            listen,
            public_url: default_public_url(listen),
            public_url_from_listen: true,
            secret_key: None,
            session_idle: Duration::from_secs(30 * 60),
            session_absolute: Duration::from_secs(12 * 60 * 60),
            graph_login_url: default_url(DEFAULT_GRAPH_LOGIN_URL),
            graph_api_url: default_url(DEFAULT_GRAPH_API_URL),
            google_auth_url: default_url(DEFAULT_GOOGLE_AUTH_URL),
            google_token_url: default_url(DEFAULT_GOOGLE_TOKEN_URL),
            google_revoke_url: default_url(DEFAULT_GOOGLE_REVOKE_URL),
            send_timeout: DEFAULT_SEND_TIMEOUT,
            outbox_lease: DEFAULT_OUTBOX_LEASE,
            outbox_poll: DEFAULT_OUTBOX_POLL,
            limits: ConnectionLimits::default(),
            // Client addresses behind a reverse proxy: none trusted.
            proxies: proxies::TrustedProxies::default(),
            outbox_concurrency: DEFAULT_OUTBOX_CONCURRENCY,
            outbox_per_profile: DEFAULT_OUTBOX_PER_PROFILE,
            smtp_per_connection: DEFAULT_SMTP_PER_CONNECTION,
            smtp_idle: DEFAULT_SMTP_IDLE,
            // The egress policy: nothing listed, any port.
            egress: crate::mail::egress::EgressPolicy::default(),
        }
    }

    /// The host name in the public URL (for Message-IDs and the SMTP greeting).
    pub fn public_host(&self) -> String {
        self.public_url.host_str().unwrap_or("localhost").trim_matches(['[', ']']).to_owned()
    }

    /// The folder that holds the SQLite file (and the key file beside it).
    pub fn data_dir(&self) -> anyhow::Result<PathBuf> {
        let path = sqlite_path(&self.database_url)?;
        Ok(match path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
            _ => PathBuf::from("."),
        })
    }

    /// Whether cookies must carry `Secure`.
    pub fn is_https(&self) -> bool {
        self.public_url.scheme() == "https"
    }

    /// An absolute link under the public URL, e.g. `link("/t/acme/login")`.
    pub fn link(&self, path: &str) -> String {
        let base = self.public_url.as_str().trim_end_matches('/');
        format!("{base}{path}")
    }
}

const DEFAULT_GRAPH_LOGIN_URL: &str = "https://login.microsoftonline.com";
const DEFAULT_GRAPH_API_URL: &str = "https://graph.microsoft.com";
const DEFAULT_GOOGLE_AUTH_URL: &str = "https://accounts.google.com/o/oauth2/v2/auth";
const DEFAULT_GOOGLE_TOKEN_URL: &str = "https://oauth2.googleapis.com/token";
const DEFAULT_GOOGLE_REVOKE_URL: &str = "https://oauth2.googleapis.com/revoke";
const DEFAULT_SEND_TIMEOUT: Duration = Duration::from_secs(15);
const DEFAULT_OUTBOX_LEASE: Duration = Duration::from_secs(60);
const DEFAULT_OUTBOX_POLL: Duration = Duration::from_secs(5);
const DEFAULT_OUTBOX_CONCURRENCY: usize = 64;
const DEFAULT_OUTBOX_PER_PROFILE: usize = 3;
const DEFAULT_SMTP_PER_CONNECTION: usize = 100;
const DEFAULT_SMTP_IDLE: Duration = Duration::from_secs(10);

/// A whole number of seconds from `name`, within `range`; `default` when unset.
fn seconds_var(
    name: &str,
    value: Option<String>,
    default: Duration,
    range: std::ops::RangeInclusive<u64>,
) -> anyhow::Result<Duration> {
    Ok(Duration::from_secs(number_var(name, value, default.as_secs(), range, "a number of seconds")?))
}

/// A count from `name`, within `range`; `default` when unset.
fn count_var(
    name: &str,
    value: Option<String>,
    default: usize,
    range: std::ops::RangeInclusive<u64>,
) -> anyhow::Result<usize> {
    let n = number_var(name, value, default as u64, range, "a whole number")?;
    usize::try_from(n).with_context(|| format!("{name} is too large"))
}

fn number_var(
    name: &str,
    value: Option<String>,
    default: u64,
    range: std::ops::RangeInclusive<u64>,
    what: &str,
) -> anyhow::Result<u64> {
    let Some(text) = value else { return Ok(default) };
    match text.trim().parse::<u64>() {
        Ok(n) if range.contains(&n) => Ok(n),
        _ => bail!("{name} must be {what} from {} to {}, not {text:?}", range.start(), range.end()),
    }
}

fn default_url(text: &str) -> Url {
    Url::parse(text).expect("built-in URL parses")
}

fn parse_http_url(name: &str, text: &str) -> anyhow::Result<Url> {
    let url = Url::parse(text).with_context(|| format!("{name} must be a URL, not {text:?}"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        bail!("{name} must start with http:// or https:// and name a host, not {text:?}");
    }
    Ok(url)
}

/// `http://{listen}`, the public URL when none is configured.
pub fn default_public_url(listen: SocketAddr) -> Url {
    // A SocketAddr always forms a valid http URL.
    Url::parse(&format!("http://{listen}")).expect("socket address forms a URL")
}

fn parse_public_url(text: &str) -> anyhow::Result<Url> {
    let url = Url::parse(text).with_context(|| {
        format!("RELAYDESK_PUBLIC_URL must be a URL such as https://mail.example.com, not {text:?}")
    })?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        bail!("RELAYDESK_PUBLIC_URL must start with http:// or https:// and name a host, not {text:?}");
    }
    Ok(url)
}

// --- Connection limits ------------------------------------------------------------------

/// What one client may hold of the HTTP server, so idle or slow sockets cannot exhaust it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// A request's head (request line and headers) must arrive within this, counted from
    /// the connection's start or the end of the previous response
    /// (`RELAYDESK_HEADER_TIMEOUT`).
    pub header_timeout: Duration,
    /// A connection with no request in progress and nothing received or sent for this long
    /// is closed (`RELAYDESK_IDLE_TIMEOUT`).
    pub idle_timeout: Duration,
    /// A request not answered within this (a body still arriving included) gets 408
    /// (`RELAYDESK_REQUEST_TIMEOUT`).
    pub request_timeout: Duration,
    /// At most this many connections are served at once; further ones wait to be accepted
    /// until one closes (`RELAYDESK_MAX_CONNECTIONS`).
    pub max_connections: usize,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        ConnectionLimits {
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            request_timeout: Duration::from_secs(60),
            max_connections: 256,
        }
    }
}

impl ConnectionLimits {
    /// The smallest request timeout accepted from the environment: a test email may take
    /// the whole send timeout (15 s) and must still be answered.
    pub const MIN_REQUEST_TIMEOUT: Duration = Duration::from_secs(20);

    fn from_env(var: &impl Fn(&str) -> Option<String>) -> anyhow::Result<ConnectionLimits> {
        let defaults = ConnectionLimits::default();
        let seconds = |name: &str, default: Duration| -> anyhow::Result<Duration> {
            match var(name) {
                None => Ok(default),
                Some(text) => match text.trim().parse::<u64>() {
                    Ok(n) if (1..=86_400).contains(&n) => Ok(Duration::from_secs(n)),
                    _ => bail!("{name} must be a whole number of seconds from 1 to 86400, not {text:?}"),
                },
            }
        };
        let limits = ConnectionLimits {
            header_timeout: seconds("RELAYDESK_HEADER_TIMEOUT", defaults.header_timeout)?,
            idle_timeout: seconds("RELAYDESK_IDLE_TIMEOUT", defaults.idle_timeout)?,
            request_timeout: seconds("RELAYDESK_REQUEST_TIMEOUT", defaults.request_timeout)?,
            max_connections: match var("RELAYDESK_MAX_CONNECTIONS") {
                None => defaults.max_connections,
                Some(text) => match text.trim().parse::<usize>() {
                    Ok(n) if (1..=100_000).contains(&n) => n,
                    _ => bail!("RELAYDESK_MAX_CONNECTIONS must be a whole number from 1 to 100000, not {text:?}"),
                },
            },
        };
        if limits.request_timeout < Self::MIN_REQUEST_TIMEOUT {
            bail!(
                "RELAYDESK_REQUEST_TIMEOUT must be at least {} seconds (a test email may take 15)",
                Self::MIN_REQUEST_TIMEOUT.as_secs()
            );
        }
        Ok(limits)
    }
}

/// The file path of a `sqlite:` URL (query string removed).
pub fn sqlite_path(url: &str) -> anyhow::Result<PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .with_context(|| format!("RELAYDESK_DATABASE_URL must start with sqlite://, not {url:?}"))?;
    let path = rest.split('?').next().unwrap_or_default();
    if path.is_empty() || path == ":memory:" {
        bail!("RELAYDESK_DATABASE_URL must name a database file");
    }
    Ok(PathBuf::from(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_paths() {
        assert_eq!(sqlite_path("sqlite://data/x.db").unwrap(), PathBuf::from("data/x.db"));
        assert_eq!(sqlite_path("sqlite:///tmp/x.db?mode=rwc").unwrap(), PathBuf::from("/tmp/x.db"));
        assert!(sqlite_path("postgres://x").is_err());
        assert!(sqlite_path("sqlite::memory:").is_err());
    }

    #[test]
    fn numbers_from_the_environment() {
        let range = 1..=600;
        assert_eq!(seconds_var("X", None, Duration::from_secs(15), range.clone()).unwrap(), Duration::from_secs(15));
        assert_eq!(
            seconds_var("X", Some(" 30 ".into()), Duration::from_secs(15), range.clone()).unwrap().as_secs(),
            30
        );
        let err = seconds_var("X", Some("0".into()), Duration::from_secs(15), range.clone()).unwrap_err();
        assert_eq!(err.to_string(), "X must be a number of seconds from 1 to 600, not \"0\"");
        assert!(count_var("N", Some("many".into()), 3, 1..=256).is_err());
        assert_eq!(count_var("N", Some("8".into()), 3, 1..=256).unwrap(), 8);
    }

    #[test]
    fn public_url_must_be_http() {
        assert!(parse_public_url("ftp://x").is_err());
        assert!(parse_public_url("not a url").is_err());
        assert_eq!(parse_public_url("https://mail.example.com/").unwrap().scheme(), "https");
    }

    #[test]
    fn connection_limits_have_safe_defaults_and_name_a_bad_setting() {
        let limits = |pairs: &[(&str, &str)]| {
            let pairs: Vec<(String, String)> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
            ConnectionLimits::from_env(&move |name: &str| pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()))
        };
        assert_eq!(limits(&[]).unwrap(), ConnectionLimits::default());
        let set = limits(&[("RELAYDESK_HEADER_TIMEOUT", "5"), ("RELAYDESK_MAX_CONNECTIONS", "10")]).unwrap();
        assert_eq!((set.header_timeout, set.max_connections), (Duration::from_secs(5), 10));
        for (name, value, message) in [
            (
                "RELAYDESK_IDLE_TIMEOUT",
                "0",
                "RELAYDESK_IDLE_TIMEOUT must be a whole number of seconds from 1 to 86400, not \"0\"",
            ),
            (
                "RELAYDESK_HEADER_TIMEOUT",
                "1.5",
                "RELAYDESK_HEADER_TIMEOUT must be a whole number of seconds from 1 to 86400, not \"1.5\"",
            ),
            (
                "RELAYDESK_MAX_CONNECTIONS",
                "0",
                "RELAYDESK_MAX_CONNECTIONS must be a whole number from 1 to 100000, not \"0\"",
            ),
            (
                "RELAYDESK_REQUEST_TIMEOUT",
                "10",
                "RELAYDESK_REQUEST_TIMEOUT must be at least 20 seconds (a test email may take 15)",
            ),
        ] {
            assert_eq!(limits(&[(name, value)]).unwrap_err().to_string(), message);
        }
    }
}
