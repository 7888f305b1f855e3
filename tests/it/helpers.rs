//! `spawn_app()`: a temp SQLite file, port 0, a cookie-keeping client that does not
//! follow redirects, and a seeded tenant `acme` with an admin.

use std::net::SocketAddr;
use std::sync::Arc;

use relaydesk::domain::account::{AccountEmail, DisplayName, Role};
use relaydesk::mail::outbox::Worker;
use relaydesk::store::{users, TenantId};
use relaydesk::Config;
use reqwest::cookie::{CookieStore, Jar};
use reqwest::redirect::Policy;
use reqwest::{Response, StatusCode};
use sqlx::SqlitePool;

pub const SLUG: &str = "acme";
pub const ADMIN_EMAIL: &str = "ada@acme.test";
pub const ADMIN_PASSWORD: &str = "ada's long password";

pub struct TestApp {
    pub base: String,
    pub db: SqlitePool,
    pub client: reqwest::Client,
    pub jar: Arc<Jar>,
    pub tenant: TenantId,
    pub secrets: relaydesk::secret::SecretBox,
    pub state: relaydesk::AppState,
    /// The outbox worker, while it runs.
    pub worker: Arc<std::sync::Mutex<Option<Worker>>>,
    _dir: Arc<tempfile::TempDir>,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Like `spawn_app`, with the config adjusted first (short session limits, say).
pub async fn spawn_app_with(adjust: impl FnOnce(&mut Config)) -> TestApp {
    if std::env::var_os("RELAYDESK_TEST_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter("relaydesk=debug,tower_sessions=debug")
            .with_test_writer()
            .try_init();
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let mut config = Config::for_database(&dir.path().join("relaydesk.db"), "127.0.0.1:0".parse().unwrap());
    let listener = tokio::net::TcpListener::bind(config.listen).await.expect("bind");
    let addr = listener.local_addr().unwrap();
    config.public_url = format!("http://{addr}").parse().unwrap();
    adjust(&mut config);
    let app = relaydesk::build_app(config).await.expect("app builds");
    let db = app.state.db.clone();
    let secrets = app.state.secrets.clone();
    let state = app.state.clone();
    let worker = Arc::new(std::sync::Mutex::new(Some(relaydesk::mail::outbox::spawn_worker(state.outbox()))));
    tokio::spawn(async move {
        axum::serve(listener, app.router.into_make_service_with_connect_info::<SocketAddr>()).await.unwrap();
    });
    let tenant = seed_tenant(&db, SLUG, "Acme Ltd", ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let (client, jar) = new_client();
    TestApp { base: format!("http://{addr}"), db, client, jar, tenant, secrets, state, worker, _dir: Arc::new(dir) }
}

/// A client that keeps cookies and never follows redirects (tests look at each 303).
pub fn new_client() -> (reqwest::Client, Arc<Jar>) {
    let jar = Arc::new(Jar::default());
    let client = reqwest::Client::builder().cookie_provider(jar.clone()).redirect(Policy::none()).build().unwrap();
    (client, jar)
}

/// Creates a tenant with an admin, as the operator's form would.
pub async fn seed_tenant(db: &SqlitePool, slug: &str, name: &str, email: &str, password: &str) -> TenantId {
    crate::seed::tenant_with_admin(db, relaydesk::Clock::system().now(), slug, name, "Admin", email, password).await
}

impl TestApp {
    /// The same app seen from a second browser (its own cookies).
    pub fn share(&self) -> TestApp {
        let (client, jar) = new_client();
        TestApp {
            base: self.base.clone(),
            db: self.db.clone(),
            client,
            jar,
            tenant: self.tenant,
            secrets: self.secrets.clone(),
            state: self.state.clone(),
            worker: self.worker.clone(),
            _dir: self._dir.clone(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn get(&self, path: &str) -> Response {
        self.client.get(self.url(path)).send().await.expect("GET")
    }

    /// GET, expecting 200, returning the HTML.
    pub async fn page(&self, path: &str) -> String {
        let res = self.get(path).await;
        assert_eq!(res.status(), StatusCode::OK, "GET {path}");
        res.text().await.unwrap()
    }

    /// The session's CSRF token, read from a form page as a browser would.
    pub async fn csrf(&self) -> String {
        csrf_in(&self.page(&format!("/t/{SLUG}/login")).await)
    }

    /// POST a form as is (no token added).
    pub async fn post_raw(&self, path: &str, fields: &[(&str, &str)]) -> Response {
        self.client.post(self.url(path)).form(fields).send().await.expect("POST")
    }

    /// POST a form with the session's CSRF token.
    pub async fn post(&self, path: &str, fields: &[(&str, &str)]) -> Response {
        let token = self.csrf().await;
        let mut all = fields.to_vec();
        all.push(("csrf_token", &token));
        self.post_raw(path, &all).await
    }

    pub async fn sign_in_to(&self, slug: &str, email: &str, password: &str) -> Response {
        let token = csrf_in(&self.page(&format!("/t/{slug}/login")).await);
        self.post_raw(&format!("/t/{slug}/login"), &[("email", email), ("password", password), ("csrf_token", &token)])
            .await
    }

    pub async fn sign_in(&self, email: &str, password: &str) -> Response {
        self.sign_in_to(SLUG, email, password).await
    }

    /// Signs the seeded admin in and checks it worked.
    pub async fn sign_in_admin(&self) {
        let res = self.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        assert_eq!(location(&res), format!("/t/{SLUG}/"));
    }

    /// Adds a member with the given role to the seeded tenant.
    pub async fn add_user(&self, email: &str, password: &str, role: Role, operator: bool) {
        add_user_to(&self.db, self.tenant, email, password, role, operator).await;
    }

    /// Kills the outbox worker at once, as a crash would. Only while it waits on the SMTP
    /// server: aborted inside a database transaction, the in-process task would leak a
    /// locked SQLite connection, which a real crash (the process gone) never does.
    pub fn kill_worker_mid_send(&self) {
        if let Some(worker) = self.worker.lock().unwrap().take() {
            worker.abort();
        }
    }

    /// Stops the outbox worker after the message in hand, as a shutdown would.
    pub async fn stop_worker(&self) {
        let worker = self.worker.lock().unwrap().take();
        if let Some(worker) = worker {
            worker.stop(std::time::Duration::from_secs(10)).await;
        }
    }

    /// Starts a fresh outbox worker, as a restart would.
    pub fn start_worker(&self) {
        *self.worker.lock().unwrap() = Some(relaydesk::mail::outbox::spawn_worker(self.state.outbox()));
    }

    /// The session cookie the jar would send now.
    pub fn session_cookie(&self) -> Option<String> {
        let header = self.jar.cookies(&self.base.parse().unwrap())?;
        header.to_str().ok()?.split("; ").find_map(|c| c.strip_prefix("relaydesk_session=").map(str::to_owned))
    }

    pub async fn count(&self, sql: &str) -> i64 {
        let (n,): (i64,) = sqlx::query_as(sql).fetch_one(&self.db).await.unwrap();
        n
    }
}

pub async fn add_user_to(db: &SqlitePool, tenant: TenantId, email: &str, password: &str, role: Role, operator: bool) {
    let email = AccountEmail::parse(email).unwrap();
    let name = DisplayName::parse("Member").unwrap();
    let hash = relaydesk::auth::password::hash(password).await.unwrap();
    let mut conn = db.acquire().await.unwrap();
    let new = users::NewUser {
        tenant_id: tenant,
        email: &email,
        display_name: &name,
        password_hash: &hash,
        role,
        is_operator: operator,
    };
    users::create(&mut conn, new, relaydesk::Clock::system().now()).await.unwrap();
}

/// The `csrf_token` hidden field's value in a page.
pub fn csrf_in(html: &str) -> String {
    let marker = "name=\"csrf_token\" value=\"";
    let start = html.find(marker).expect("page has a CSRF field") + marker.len();
    html[start..].split('"').next().unwrap().to_owned()
}

pub fn location(res: &Response) -> String {
    res.headers().get("location").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default()
}

/// Every `Set-Cookie` header of a response.
pub fn set_cookies(res: &Response) -> Vec<String> {
    res.headers().get_all("set-cookie").iter().map(|v| v.to_str().unwrap().to_owned()).collect()
}
