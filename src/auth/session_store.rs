//! The session store in front of SQLite: a page view that changes nothing in the session
//! writes nothing.
//!
//! tower-sessions saves the session after every request, because saving is what moves
//! the idle deadline forward (`Expiry::OnInactivity`). Written every time, that is one
//! write per page view, and every view competes with the outbox for SQLite's one writer.
//! [`QuietStore`] remembers what it last stored for each session and skips a save whose
//! data is unchanged and whose deadline moved by less than a step (a minute for the
//! 30-minute limit). So the stored deadline lags the last request by less than a step:
//! a session still ends between 29 and 30 minutes after its last request, and a change
//! (a sign-in, a flash, a new CSRF token) is written at once.
//!
//! It also answers reads from what it remembers, so a signed-in page view does not ask
//! the database for its session at all. That is sound because every change to a session
//! goes through this store: sign-in, sign-out and a new session id write or delete here
//! and in the database at once, and nothing else ends sessions while a server runs
//! (`relaydesk key rotate`, which ends them all, refuses to run beside a server, and a
//! second `relaydesk serve` on the same database is refused). A session it does not
//! remember (more than [`REMEMBERED`] at once, or after a restart) is read from the
//! database as before. Whether the person behind a session may still enter is not part of
//! the session: every request checks the member's current role and status.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use time::OffsetDateTime;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, ExpiredDeletion, SessionStore};

/// What was last written to (or read from) the store for one session.
#[derive(Debug, Clone)]
struct Stored {
    data: HashMap<String, serde_json::Value>,
    expiry: OffsetDateTime,
}

/// Sessions remembered at most; past that, the oldest-deadline ones are forgotten (read
/// from the database again when they come back).
pub const REMEMBERED: usize = 50_000;

/// A [`SessionStore`] that writes to `inner` only when a session changed or its idle
/// deadline moved by at least `step`, and reads from memory what it wrote or read.
#[derive(Debug, Clone)]
pub struct QuietStore<S> {
    inner: S,
    stored: Arc<Mutex<HashMap<Id, Stored>>>,
    step: time::Duration,
}

/// How far the idle deadline may lag: a minute, or a thirtieth of a shorter idle limit
/// (so a limit of a few seconds, as tests use, still works to the thirtieth).
pub fn refresh_step(idle: std::time::Duration) -> time::Duration {
    let step = (idle / 30).min(std::time::Duration::from_secs(60));
    time::Duration::try_from(step).unwrap_or(time::Duration::MINUTE)
}

/// Whether `record` must be written, given what the store holds for it.
fn must_write(stored: Option<&Stored>, record: &Record, step: time::Duration) -> bool {
    match stored {
        Some(s) => s.data != record.data || record.expiry_date - s.expiry >= step || record.expiry_date < s.expiry,
        None => true,
    }
}

impl<S> QuietStore<S> {
    pub fn new(inner: S, idle: std::time::Duration) -> QuietStore<S> {
        QuietStore { inner, stored: Arc::default(), step: refresh_step(idle) }
    }

    fn remember(&self, record: &Record) {
        let stored = Stored { data: record.data.clone(), expiry: record.expiry_date };
        let mut known = self.known();
        if known.len() >= REMEMBERED && !known.contains_key(&record.id) {
            let now = OffsetDateTime::now_utc();
            known.retain(|_, s| s.expiry > now);
            if known.len() >= REMEMBERED {
                // Forget the tenth closest to its deadline.
                let mut deadlines: Vec<OffsetDateTime> = known.values().map(|s| s.expiry).collect();
                let at = REMEMBERED / 10;
                let (_, cut, _) = deadlines.select_nth_unstable(at);
                let cut = *cut;
                known.retain(|_, s| s.expiry > cut);
            }
        }
        known.insert(record.id, stored);
    }

    /// The session as last written or read, while its deadline has not passed.
    fn recall(&self, id: &Id) -> Option<Record> {
        let known = self.known();
        let stored = known.get(id)?;
        (stored.expiry > OffsetDateTime::now_utc()).then(|| Record {
            id: *id,
            data: stored.data.clone(),
            expiry_date: stored.expiry,
        })
    }

    fn forget(&self, id: &Id) {
        self.known().remove(id);
    }

    fn known(&self) -> std::sync::MutexGuard<'_, HashMap<Id, Stored>> {
        // A panic elsewhere while holding the lock leaves the map usable.
        self.stored.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[async_trait]
impl<S: SessionStore + Clone> SessionStore for QuietStore<S> {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        self.inner.create(record).await?;
        self.remember(record);
        Ok(())
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        let write = must_write(self.known().get(&record.id), record, self.step);
        if write {
            self.inner.save(record).await?;
            self.remember(record);
        }
        Ok(())
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        if let Some(record) = self.recall(id) {
            return Ok(Some(record));
        }
        let record = self.inner.load(id).await?;
        match &record {
            Some(r) => self.remember(r),
            None => self.forget(id),
        }
        Ok(record)
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        self.forget(id);
        self.inner.delete(id).await
    }
}

#[async_trait]
impl<S: ExpiredDeletion + Clone> ExpiredDeletion for QuietStore<S> {
    async fn delete_expired(&self) -> session_store::Result<()> {
        let now = OffsetDateTime::now_utc();
        self.known().retain(|_, s| s.expiry > now);
        self.inner.delete_expired().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn record(data: &[(&str, &str)], expiry: OffsetDateTime) -> Record {
        Record {
            id: Id(1),
            data: data.iter().map(|(k, v)| (k.to_string(), serde_json::json!(v))).collect(),
            expiry_date: expiry,
        }
    }

    #[test]
    fn the_step_is_a_minute_for_the_30_minute_limit() {
        assert_eq!(refresh_step(Duration::from_secs(30 * 60)), time::Duration::MINUTE);
        assert_eq!(refresh_step(Duration::from_secs(3)), time::Duration::milliseconds(100));
    }

    #[test]
    fn an_unchanged_session_is_written_at_most_once_a_minute() {
        let step = refresh_step(Duration::from_secs(30 * 60));
        let written_at = OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap();
        let idle = time::Duration::minutes(30);
        let stored = Stored { data: record(&[("csrf", "t")], written_at + idle).data, expiry: written_at + idle };
        // Requests 59 s after the write: nothing to write.
        let later = written_at + time::Duration::seconds(59);
        assert!(!must_write(Some(&stored), &record(&[("csrf", "t")], later + idle), step));
        // A minute after: the deadline moves.
        let minute = written_at + time::Duration::seconds(60);
        assert!(must_write(Some(&stored), &record(&[("csrf", "t")], minute + idle), step));
        // Any change is written at once.
        assert!(must_write(Some(&stored), &record(&[("csrf", "t"), ("flash", "x")], later + idle), step));
        // Unknown to this process: written.
        assert!(must_write(None, &record(&[("csrf", "t")], later + idle), step));
    }

    /// The stored deadline lags the last request by less than the step, so the session
    /// ends between 29 and 30 minutes after it.
    #[test]
    fn the_idle_limit_holds_to_the_minute() {
        let step = refresh_step(Duration::from_secs(30 * 60));
        let idle = time::Duration::minutes(30);
        let start = OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap();
        let mut stored = Stored { data: Default::default(), expiry: start + idle };
        // A request every 7 s for an hour, then nothing.
        let mut last = start;
        for n in 1..=(60 * 60 / 7) {
            last = start + time::Duration::seconds(7 * n);
            let r = Record { id: Id(1), data: Default::default(), expiry_date: last + idle };
            if must_write(Some(&stored), &r, step) {
                stored.expiry = r.expiry_date;
            }
            let ends_after = stored.expiry - last;
            assert!(ends_after > idle - step && ends_after <= idle, "{ends_after}");
        }
        assert!(stored.expiry > last + time::Duration::minutes(29));
    }
}
