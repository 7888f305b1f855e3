//! `spawn_app()`: the shared running app (`tests/support/app.rs`: temp SQLite file, port
//! 0, manual clock, outbox worker, seeded tenant `acme` with an admin) seen through a
//! cookie-keeping client that does not follow redirects.

use std::ops::Deref;
use std::sync::Arc;

use relaydesk::domain::account::{AccountEmail, DisplayName, Role};
use relaydesk::store::{users, TenantId};
use relaydesk::Config;
use reqwest::cookie::{CookieStore, Jar};
use reqwest::redirect::Policy;
use reqwest::{Response, StatusCode};
use sqlx::SqlitePool;

pub use crate::app::{RunningApp, ADMIN_EMAIL, ADMIN_PASSWORD, SLUG, TENANT_NAME};
pub use crate::wait::{wait_for_some, wait_until, WAIT};

/// The app and one browser-like client of it. Derefs to the [`RunningApp`]: `app.db`,
/// `app.state`, `app.base`, `app.advance(…)`, the worker controls.
pub struct TestApp {
    pub app: RunningApp,
    pub client: reqwest::Client,
    pub jar: Arc<Jar>,
    /// The seeded tenant `acme`.
    pub tenant: TenantId,
}

impl Deref for TestApp {
    type Target = RunningApp;

    fn deref(&self) -> &RunningApp {
        &self.app
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Like `spawn_app`, with the config adjusted first (short session limits, say).
pub async fn spawn_app_with(adjust: impl FnOnce(&mut Config)) -> TestApp {
    let app = RunningApp::start(adjust).await;
    let tenant = app.seed_tenant(SLUG, TENANT_NAME, "Admin", ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let (client, jar) = new_client();
    TestApp { app, client, jar, tenant }
}

/// A client that keeps cookies and never follows redirects (tests look at each 303).
pub fn new_client() -> (reqwest::Client, Arc<Jar>) {
    let jar = Arc::new(Jar::default());
    let client = reqwest::Client::builder().cookie_provider(jar.clone()).redirect(Policy::none()).build().unwrap();
    (client, jar)
}

impl TestApp {
    /// The same app seen from a second browser (its own cookies).
    pub fn share(&self) -> TestApp {
        let (client, jar) = new_client();
        TestApp { app: self.app.clone(), client, jar, tenant: self.tenant }
    }

    /// Creates another tenant with an admin, as the operator's form would.
    pub async fn add_tenant(&self, slug: &str, name: &str, email: &str, password: &str) -> TenantId {
        self.app.seed_tenant(slug, name, "Admin", email, password).await
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
        add_user_to(&self.db, self.now(), self.tenant, email, password, role, operator).await;
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

pub async fn add_user_to(
    db: &SqlitePool,
    now: i64,
    tenant: TenantId,
    email: &str,
    password: &str,
    role: Role,
    operator: bool,
) {
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
    users::create(&mut conn, new, now).await.unwrap();
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
