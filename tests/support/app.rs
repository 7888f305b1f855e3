//! The app as both test suites run it: a temp folder with a SQLite file, a config for a
//! loopback port, the app built on a manual clock, its outbox worker started (as `serve`
//! starts it) and the router served. The HTTP suite (`tests/it/helpers.rs`) and the
//! browser suite (`tests/browser/harness.rs`) wrap it with their own clients.
//!
//! Time stands still until a test moves it with `advance`: session limits, link expiry,
//! leases and retry delays are tested without sleeping. (The idle session timeout is
//! tower-sessions' own and reads the real clock; see `tests/it/sessions.rs`.)

#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use relaydesk::mail::outbox::{self, Worker};
use relaydesk::store::TenantId;
use relaydesk::{AppState, Clock, Config};
use sqlx::SqlitePool;

/// The tenant every test starts with (`TestApp::seeded`, `spawn_app`).
pub const SLUG: &str = "acme";
pub const TENANT_NAME: &str = "Acme Ltd";
pub const ADMIN_EMAIL: &str = "ada@acme.test";
pub const ADMIN_PASSWORD: &str = "ada's long password";

/// The real app, served on `127.0.0.1:{random}`. Clones share the app, its clock and its
/// worker.
#[derive(Clone)]
pub struct RunningApp {
    /// `http://127.0.0.1:{port}`, also the app's public URL.
    pub base: String,
    pub db: SqlitePool,
    pub state: AppState,
    /// The app's clock: manual, moved only by `advance`.
    pub clock: Clock,
    /// The outbox worker, while it runs.
    worker: Arc<Mutex<Option<Worker>>>,
    _dir: Arc<tempfile::TempDir>,
}

impl RunningApp {
    /// Builds and serves the app with no tenant yet (a first run), after `adjust` has
    /// changed the config (short limits, other endpoints).
    pub async fn start(adjust: impl FnOnce(&mut Config)) -> RunningApp {
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
        config.listen = addr;
        config.public_url = format!("http://{addr}").parse().unwrap();
        adjust(&mut config);
        let clock = Clock::manual();
        let app = relaydesk::build_app_with_clock(config, clock.clone()).await.expect("app builds");
        let state = app.state.clone();
        let worker = Arc::new(Mutex::new(Some(outbox::spawn_worker(state.outbox()))));
        tokio::spawn(async move {
            axum::serve(listener, app.router.into_make_service_with_connect_info::<SocketAddr>()).await.unwrap();
        });
        RunningApp { base: format!("http://{addr}"), db: state.db.clone(), state, clock, worker, _dir: Arc::new(dir) }
    }

    /// The app's time now (seconds since the epoch).
    pub fn now(&self) -> i64 {
        self.clock.now()
    }

    /// Moves the app's clock forward and wakes the outbox worker, so mail that became due
    /// (a retry, a message whose lease ran out) is taken at once, as the worker's next
    /// poll would take it.
    pub fn advance(&self, by: Duration) {
        self.clock.advance(by);
        self.state.outbox_wake.notify_one();
    }

    /// Creates a tenant with an admin, as the operator's form would, at the app's time.
    pub async fn seed_tenant(&self, slug: &str, name: &str, admin_name: &str, email: &str, password: &str) -> TenantId {
        crate::seed::tenant_with_admin(&self.db, self.now(), slug, name, admin_name, email, password).await
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
            worker.stop(Duration::from_secs(10)).await;
        }
    }

    /// Starts a fresh outbox worker, as a restart would.
    pub fn start_worker(&self) {
        let mut slot = self.worker.lock().unwrap();
        assert!(slot.is_none(), "the outbox worker is already running");
        *slot = Some(outbox::spawn_worker(self.state.outbox()));
    }

    /// Takes the next due message as the worker would, with the worker stopped; false
    /// when nothing is due. Says for certain that nothing would be sent now, where a
    /// running worker could only be watched for a while.
    pub async fn process_due_message(&self) -> bool {
        assert!(self.worker.lock().unwrap().is_none(), "stop the outbox worker first");
        outbox::process_one(&self.state.outbox()).await.expect("the outbox works")
    }
}
