//! What every handler shares, and the parts an extractor or the outbox may take alone
//! (`FromRef`), so nothing needs more of the app than it uses.

use std::sync::Arc;

use axum::extract::FromRef;
use sqlx::SqlitePool;

use crate::auth::throttle::Throttle;
use crate::clock::Clock;
use crate::config::Config;
use crate::mail::outbox::Outbox;
use crate::mail::Mailer;
use crate::secret::SecretBox;

/// Shared by every handler.
#[derive(Clone, FromRef)]
pub struct AppState {
    pub db: SqlitePool,
    pub config: Arc<Config>,
    pub secrets: SecretBox,
    pub throttle: Arc<Throttle>,
    pub mailer: Mailer,
    /// Wakes the outbox worker when a message is enqueued or retried.
    pub outbox_wake: Arc<tokio::sync::Notify>,
    /// Where every time the app reads comes from (a manual one in tests).
    pub clock: Clock,
}

impl AppState {
    /// What the outbox worker needs, and nothing else.
    pub fn outbox(&self) -> Outbox {
        Outbox {
            db: self.db.clone(),
            secrets: self.secrets.clone(),
            mailer: self.mailer.clone(),
            wake: self.outbox_wake.clone(),
            lease: self.config.outbox_lease,
            poll: self.config.outbox_poll,
            concurrency: self.config.outbox_concurrency,
            per_profile: self.config.outbox_per_profile,
            per_connection: self.config.smtp_per_connection,
            idle_connection: self.config.smtp_idle,
            clock: self.clock.clone(),
        }
    }
}

impl FromRef<AppState> for Outbox {
    fn from_ref(state: &AppState) -> Outbox {
        state.outbox()
    }
}
