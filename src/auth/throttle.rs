//! Sign-in throttling: repeated failures per account and per client are refused before
//! any password is hashed. Kept in memory: losing it at restart only resets the counters.
//! Times are the app's clock (seconds since the epoch), passed in by the caller.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

/// Failures allowed per account within the window.
pub const PER_ACCOUNT: usize = 5;
/// Failures allowed per client address within the window.
pub const PER_CLIENT: usize = 20;
/// How far back failures count.
pub const WINDOW: Duration = Duration::from_secs(15 * 60);

/// The throttle's key for an account: the tenant and the email as typed, trimmed and
/// lower-cased (an unknown address is throttled like a known one).
pub fn account_key_for(tenant: crate::store::TenantId, email: &str) -> String {
    format!("{}:{}", tenant.0, email.trim().to_lowercase())
}

/// Sliding-window failure counters: when each failure (or event) happened, in seconds.
#[derive(Default)]
pub struct Throttle {
    failures: Mutex<HashMap<String, VecDeque<i64>>>,
}

impl Throttle {
    /// `Err(wait)` when either key has used up its failures; `wait` is how long until one
    /// of them expires.
    pub fn check(&self, account: &str, client: &str, now: i64) -> Result<(), Duration> {
        let mut map = self.lock();
        let mut wait = None;
        for (key, limit) in [(account_key(account), PER_ACCOUNT), (client_key(client), PER_CLIENT)] {
            if let Some(times) = map.get_mut(&key) {
                prune(times, now);
                if times.len() >= limit {
                    let oldest = times.front().copied().unwrap_or(now);
                    let age = Duration::from_secs(now.saturating_sub(oldest).max(0) as u64);
                    let w = WINDOW.saturating_sub(age);
                    wait = Some(wait.map_or(w, |old: Duration| old.max(w)));
                }
            }
        }
        wait.map_or(Ok(()), Err)
    }

    /// Counts a failed attempt against both keys. True when this failure used up the
    /// account's allowance: the account is locked out from now on (for the window).
    pub fn fail(&self, account: &str, client: &str, now: i64) -> bool {
        let mut map = self.lock();
        if map.len() > 100_000 {
            // Bound memory under a flood of distinct keys: drop what has aged out.
            map.retain(|_, times| {
                prune(times, now);
                !times.is_empty()
            });
        }
        let mut locked = false;
        for (key, limit) in [(account_key(account), PER_ACCOUNT), (client_key(client), usize::MAX)] {
            let times = map.entry(key).or_default();
            prune(times, now);
            times.push_back(now);
            locked |= times.len() == limit;
        }
        locked
    }

    /// How long the account stays locked out, if it is (its failures used up).
    pub fn locked_for(&self, account: &str, now: i64) -> Option<Duration> {
        let mut map = self.lock();
        let times = map.get_mut(&account_key(account))?;
        prune(times, now);
        if times.len() < PER_ACCOUNT {
            return None;
        }
        let oldest = times.front().copied().unwrap_or(now);
        Some(WINDOW.saturating_sub(Duration::from_secs(now.saturating_sub(oldest).max(0) as u64)))
    }

    /// Clears the account's failures (an administrator unlocked it). True when it was
    /// locked out. The client addresses' counts stay: they may be someone else's guesses.
    pub fn unlock(&self, account: &str, now: i64) -> bool {
        let locked = self.locked_for(account, now).is_some();
        self.lock().remove(&account_key(account));
        locked
    }

    /// Counts one event under `key` and says whether it is within `limit` per window
    /// (for things that are not sign-ins, such as reset emails to one address).
    pub fn allow(&self, key: &str, limit: usize, now: i64) -> bool {
        let mut map = self.lock();
        let times = map.entry(format!("e:{key}")).or_default();
        prune(times, now);
        if times.len() >= limit {
            return false;
        }
        times.push_back(now);
        true
    }

    /// A successful sign-in clears the account's failures (not the client's).
    pub fn succeed(&self, account: &str) {
        self.lock().remove(&account_key(account));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, VecDeque<i64>>> {
        // A panic while holding the lock cannot leave the map inconsistent.
        self.failures.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn account_key(account: &str) -> String {
    format!("a:{account}")
}

fn client_key(client: &str) -> String {
    format!("c:{client}")
}

fn prune(times: &mut VecDeque<i64>, now: i64) {
    let window = WINDOW.as_secs() as i64;
    while times.front().is_some_and(|t| now.saturating_sub(*t) >= window) {
        times.pop_front();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_700_000_000;

    #[test]
    fn an_account_is_held_after_its_failures() {
        let t = Throttle::default();
        for i in 0..PER_ACCOUNT {
            assert!(t.check("1:ada@x.io", &format!("client{i}"), NOW).is_ok());
            t.fail("1:ada@x.io", &format!("client{i}"), NOW);
        }
        let wait = t.check("1:ada@x.io", "fresh-client", NOW + 30).unwrap_err();
        assert_eq!(wait, WINDOW - Duration::from_secs(30));
        assert!(t.check("1:bob@x.io", "fresh-client", NOW).is_ok(), "other accounts are not held");
        let window = WINDOW.as_secs() as i64;
        assert!(t.check("1:ada@x.io", "fresh-client", NOW + window - 1).is_err(), "held for the whole window");
        assert!(t.check("1:ada@x.io", "fresh-client", NOW + window).is_ok(), "released when it has passed");
    }

    #[test]
    fn the_failure_that_locks_the_account_says_so_once() {
        let t = Throttle::default();
        let locked: Vec<bool> = (0..PER_ACCOUNT).map(|_| t.fail("1:ada@x.io", "c", NOW)).collect();
        assert_eq!(locked.iter().filter(|l| **l).count(), 1);
        assert!(locked[PER_ACCOUNT - 1], "the last allowed failure locks");
        assert_eq!(t.locked_for("1:ada@x.io", NOW + 60), Some(WINDOW - Duration::from_secs(60)));
        assert_eq!(t.locked_for("1:bob@x.io", NOW), None);
        assert!(t.unlock("1:ada@x.io", NOW + 60));
        assert_eq!(t.locked_for("1:ada@x.io", NOW + 60), None);
        assert!(t.check("1:ada@x.io", "other-client", NOW + 60).is_ok(), "unlocked");
        assert!(!t.unlock("1:ada@x.io", NOW + 60), "no longer locked");
        let key = account_key_for(crate::store::TenantId(7), "  Ada@X.io ");
        assert_eq!(key, "7:ada@x.io");
    }

    #[test]
    fn a_client_is_held_after_failing_across_accounts() {
        let t = Throttle::default();
        for i in 0..PER_CLIENT {
            t.fail(&format!("1:user{i}@x.io"), "10.0.0.1", NOW);
        }
        assert!(t.check("1:new@x.io", "10.0.0.1", NOW).is_err());
        assert!(t.check("1:new@x.io", "10.0.0.2", NOW).is_ok());
    }

    #[test]
    fn events_are_allowed_up_to_their_limit() {
        let t = Throttle::default();
        assert!((0..3).all(|_| t.allow("reset:1:ada@x.io", 3, NOW)));
        assert!(!t.allow("reset:1:ada@x.io", 3, NOW));
        assert!(t.allow("reset:1:bob@x.io", 3, NOW));
        assert!(t.allow("reset:1:ada@x.io", 3, NOW + WINDOW.as_secs() as i64), "allowed again after the window");
    }

    #[test]
    fn success_clears_the_account() {
        let t = Throttle::default();
        for _ in 0..PER_ACCOUNT - 1 {
            t.fail("1:ada@x.io", "c", NOW);
        }
        t.succeed("1:ada@x.io");
        t.fail("1:ada@x.io", "c", NOW);
        assert!(t.check("1:ada@x.io", "c", NOW).is_ok());
    }
}
