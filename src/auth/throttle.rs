//! Sign-in throttling that an attacker cannot turn against other people.
//!
//! Failures are counted per account *and* client address together. Guessing one
//! account's password from one address slows down that pair and nothing else: the same
//! account from another address, and other accounts from the same address, go through as
//! before. So nobody can shut a person out by failing in their name, even when everyone
//! arrives through one proxy address that is not configured as trusted (then the pair is
//! the account alone, and still nothing is locked: it is only slowed).
//!
//! The first [`FREE_FAILURES`] failures cost nothing (people mistype). From then on the
//! pair must wait before each attempt: [`FIRST_DELAY`], doubling with each further
//! failure up to [`MAX_DELAY`]. A correct password clears the pair. A pair with no
//! failure for [`FORGET_AFTER`] is forgotten.
//!
//! Each attempt is counted as a failure *before* the password is checked (and taken back
//! when it was right), so a burst of parallel guesses cannot slip through together.
//! Kept in memory: a restart forgets the counts. Times are the app's clock (seconds since
//! the epoch), passed in by the caller.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

/// Failures an account may have from one client before its attempts are slowed.
pub const FREE_FAILURES: u32 = 5;
/// The wait after the last free failure; it doubles with each failure after that.
pub const FIRST_DELAY: Duration = Duration::from_secs(30);
/// The longest wait between two attempts.
pub const MAX_DELAY: Duration = Duration::from_secs(15 * 60);
/// A pair with no failure for this long is forgotten.
pub const FORGET_AFTER: Duration = Duration::from_secs(24 * 60 * 60);
/// How far back events counted by [`Throttle::allow`] count.
pub const EVENT_WINDOW: Duration = Duration::from_secs(15 * 60);
/// Above this many remembered pairs, the ones that cost nothing yet are dropped.
const MAX_PAIRS: usize = 100_000;

/// The throttle's key for an account: the tenant and the email as typed, trimmed and
/// lower-cased (an unknown address is throttled like a known one).
pub fn account_key_for(tenant: crate::store::TenantId, email: &str) -> String {
    format!("{}:{}", tenant.0, email.trim().to_lowercase())
}

/// How long a pair must wait after its `failures`-th failure before the next attempt.
pub fn delay_after(failures: u32) -> Duration {
    if failures < FREE_FAILURES {
        return Duration::ZERO;
    }
    let doublings = (failures - FREE_FAILURES).min(16);
    FIRST_DELAY.saturating_mul(1 << doublings).min(MAX_DELAY)
}

/// One account's failures from one client.
#[derive(Debug, Clone, Copy)]
struct Pair {
    failures: u32,
    /// When the last one was counted (seconds).
    last: i64,
}

impl Pair {
    fn forgotten(&self, now: i64) -> bool {
        now.saturating_sub(self.last) >= FORGET_AFTER.as_secs() as i64
    }

    fn slowed(&self) -> bool {
        self.failures >= FREE_FAILURES
    }

    /// How long until the next attempt may be made, if it may not be made now.
    fn wait(&self, now: i64) -> Option<Duration> {
        let allowed_at = self.last.saturating_add(delay_after(self.failures).as_secs() as i64);
        (allowed_at > now).then(|| Duration::from_secs(allowed_at.saturating_sub(now).unsigned_abs()))
    }
}

#[derive(Default)]
struct State {
    /// Account key → client address → its failures.
    accounts: HashMap<String, HashMap<String, Pair>>,
    pairs: usize,
    /// Events that are not sign-ins (reset emails to one address): when each happened.
    events: HashMap<String, VecDeque<i64>>,
}

/// An attempt the throttle let through, counted as a failure until it is known to be
/// right.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attempt {
    /// The pair's failures, this attempt included.
    pub failures: u32,
}

impl Attempt {
    /// Whether this attempt, if wrong, is the one that starts slowing the pair down (to
    /// be recorded once, not for every attempt after).
    pub fn starts_slowing(&self) -> bool {
        self.failures == FREE_FAILURES
    }
}

/// The sign-in throttle (and a small event limiter beside it).
#[derive(Default)]
pub struct Throttle {
    state: Mutex<State>,
}

impl Throttle {
    /// Called before a password is checked. `Err(wait)`: this account must wait that long
    /// before its next attempt from this client, and nothing is counted. Otherwise the
    /// attempt is counted as a failure at once; [`Throttle::succeed`] takes it back.
    pub fn attempt(&self, account: &str, client: &str, now: i64) -> Result<Attempt, Duration> {
        let mut state = self.lock();
        let known = state.accounts.get(account).and_then(|clients| clients.get(client)).copied();
        let pair = match known {
            Some(pair) if !pair.forgotten(now) => {
                if let Some(wait) = pair.wait(now) {
                    return Err(wait);
                }
                pair
            }
            _ => Pair { failures: 0, last: now },
        };
        let pair = Pair { failures: pair.failures.saturating_add(1), last: now };
        if known.is_none() {
            state.pairs += 1;
        }
        state.accounts.entry(account.to_owned()).or_default().insert(client.to_owned(), pair);
        if state.pairs > MAX_PAIRS {
            state.shrink(now);
        }
        Ok(Attempt { failures: pair.failures })
    }

    /// The password was right: forgets this account's failures from this client (not
    /// from others: those may be someone else's guesses).
    pub fn succeed(&self, account: &str, client: &str) {
        let mut state = self.lock();
        let Some(clients) = state.accounts.get_mut(account) else { return };
        let removed = clients.remove(client).is_some();
        if clients.is_empty() {
            state.accounts.remove(account);
        }
        if removed {
            state.pairs -= 1;
        }
    }

    /// How many client addresses the account's sign-ins are slowed down from now.
    pub fn slowed_clients(&self, account: &str, now: i64) -> usize {
        let state = self.lock();
        state
            .accounts
            .get(account)
            .map_or(0, |clients| clients.values().filter(|pair| pair.slowed() && !pair.forgotten(now)).count())
    }

    /// Forgets every failure of the account (an administrator cleared them). True when
    /// its sign-ins were slowed from some address.
    pub fn clear(&self, account: &str, now: i64) -> bool {
        let slowed = self.slowed_clients(account, now) > 0;
        let mut state = self.lock();
        if let Some(clients) = state.accounts.remove(account) {
            state.pairs -= clients.len();
        }
        slowed
    }

    /// Counts one event under `key` and says whether it is within `limit` per
    /// [`EVENT_WINDOW`] (for things that are not sign-ins, such as reset emails to one
    /// address).
    pub fn allow(&self, key: &str, limit: usize, now: i64) -> bool {
        let mut state = self.lock();
        if state.events.len() > MAX_PAIRS {
            state.events.retain(|_, times| {
                prune(times, now);
                !times.is_empty()
            });
        }
        let times = state.events.entry(key.to_owned()).or_default();
        prune(times, now);
        if times.len() >= limit {
            return false;
        }
        times.push_back(now);
        true
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the maps inconsistent.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl State {
    /// Bounds memory under a flood of distinct pairs: drops the forgotten ones and, if
    /// that is not enough, the ones not slowed yet (they cost nothing to lose).
    fn shrink(&mut self, now: i64) {
        for keep_free in [true, false] {
            self.accounts.retain(|_, clients| {
                clients.retain(|_, pair| !pair.forgotten(now) && (keep_free || pair.slowed()));
                !clients.is_empty()
            });
            self.pairs = self.accounts.values().map(HashMap::len).sum();
            if self.pairs <= MAX_PAIRS {
                return;
            }
        }
    }
}

fn prune(times: &mut VecDeque<i64>, now: i64) {
    let window = EVENT_WINDOW.as_secs() as i64;
    while times.front().is_some_and(|t| now.saturating_sub(*t) >= window) {
        times.pop_front();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_700_000_000;
    const ADA: &str = "1:ada@x.io";

    /// `n` wrong attempts, each made once its wait is over; the time of the last one.
    fn fail(t: &Throttle, account: &str, client: &str, n: u32) -> i64 {
        let step = MAX_DELAY.as_secs() as i64;
        let mut at = NOW;
        for i in 0..n {
            at = NOW + step * i as i64;
            t.attempt(account, client, at).expect("let through");
        }
        at
    }

    #[test]
    fn the_delay_starts_after_the_free_failures_and_doubles_up_to_its_ceiling() {
        let delays: Vec<u64> = (0..=12).map(|n| delay_after(n).as_secs()).collect();
        assert_eq!(delays, [0, 0, 0, 0, 0, 30, 60, 120, 240, 480, 900, 900, 900]);
        assert_eq!(delay_after(u32::MAX), MAX_DELAY);
    }

    #[test]
    fn a_pair_is_slowed_not_locked() {
        let t = Throttle::default();
        for _ in 0..FREE_FAILURES {
            t.attempt(ADA, "a", NOW).expect("free");
        }
        assert_eq!(t.attempt(ADA, "a", NOW + 10), Err(Duration::from_secs(20)));
        assert_eq!(t.attempt(ADA, "a", NOW + 29), Err(Duration::from_secs(1)), "a refusal is not counted");
        let next = t.attempt(ADA, "a", NOW + 30).expect("after the wait");
        assert_eq!(next.failures, FREE_FAILURES + 1);
        assert_eq!(t.attempt(ADA, "a", NOW + 30), Err(Duration::from_secs(60)), "the wait doubles");
    }

    #[test]
    fn other_clients_and_other_accounts_are_not_held() {
        let t = Throttle::default();
        let now = fail(&t, ADA, "a", 20);
        assert!(t.attempt(ADA, "a", now).is_err());
        assert!(t.attempt(ADA, "b", now).is_ok(), "the same account from another client");
        assert!(t.attempt("1:bob@x.io", "a", now).is_ok(), "another account from the same client");
        for i in 0..50 {
            t.attempt(&format!("1:guess{i}@x.io"), "c", now).unwrap();
        }
        assert!(t.attempt("1:bob@x.io", "c", now).is_ok(), "failing across accounts holds no one");
    }

    #[test]
    fn the_failure_that_starts_slowing_says_so_once() {
        let t = Throttle::default();
        let step = MAX_DELAY.as_secs() as i64;
        let starts: Vec<bool> = (0..FREE_FAILURES + 3)
            .map(|i| t.attempt(ADA, "a", NOW + step * i as i64).unwrap().starts_slowing())
            .collect();
        assert_eq!(starts.iter().filter(|s| **s).count(), 1);
        assert!(starts[FREE_FAILURES as usize - 1]);
    }

    #[test]
    fn success_clears_only_its_own_pair() {
        let t = Throttle::default();
        let now = fail(&t, ADA, "a", FREE_FAILURES);
        fail(&t, ADA, "b", FREE_FAILURES);
        t.succeed(ADA, "a");
        assert!(t.attempt(ADA, "a", now).is_ok());
        assert!(t.attempt(ADA, "b", now).is_err());
    }

    #[test]
    fn an_administrator_clears_every_client_of_an_account() {
        let t = Throttle::default();
        fail(&t, ADA, "a", FREE_FAILURES);
        let now = fail(&t, ADA, "b", FREE_FAILURES + 2);
        fail(&t, ADA, "c", 1);
        assert_eq!(t.slowed_clients(ADA, now), 2);
        assert_eq!(t.slowed_clients("1:bob@x.io", now), 0);
        assert!(t.clear(ADA, now));
        assert_eq!(t.slowed_clients(ADA, now), 0);
        assert!(t.attempt(ADA, "b", now).is_ok());
        t.succeed(ADA, "b");
        assert!(!t.clear(ADA, now), "nothing slowed any more");
        assert_eq!(t.lock().pairs, 0);
        let key = account_key_for(crate::store::TenantId(7), "  Ada@X.io ");
        assert_eq!(key, "7:ada@x.io");
    }

    #[test]
    fn a_quiet_pair_is_forgotten() {
        let t = Throttle::default();
        let last = fail(&t, ADA, "a", FREE_FAILURES + 5);
        let later = last + FORGET_AFTER.as_secs() as i64;
        assert_eq!(t.slowed_clients(ADA, later - 1), 1);
        assert_eq!(t.slowed_clients(ADA, later), 0);
        assert_eq!(t.attempt(ADA, "a", later).unwrap().failures, 1, "starts again from one");
    }

    #[test]
    fn memory_stays_bounded_and_slowed_pairs_are_kept_longest() {
        let t = Throttle::default();
        let now = fail(&t, ADA, "attacker", FREE_FAILURES);
        for i in 0..=MAX_PAIRS {
            t.attempt(&format!("1:u{i}@x.io"), "spray", now).unwrap();
        }
        assert!(t.lock().pairs <= MAX_PAIRS);
        assert!(t.attempt(ADA, "attacker", now).is_err(), "the slowed pair is still slowed");
    }

    #[test]
    fn events_are_allowed_up_to_their_limit() {
        let t = Throttle::default();
        assert!((0..3).all(|_| t.allow("reset:1:ada@x.io", 3, NOW)));
        assert!(!t.allow("reset:1:ada@x.io", 3, NOW));
        assert!(t.allow("reset:1:bob@x.io", 3, NOW));
        assert!(t.allow("reset:1:ada@x.io", 3, NOW + EVENT_WINDOW.as_secs() as i64), "allowed again after the window");
    }
}
