//! Where the app's time comes from. Production reads the system clock; tests use a
//! manual clock that stands still until they move it, so time-based rules (session
//! limits, link expiry, leases, retry delays, throttling) are tested without sleeping.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// The app's clock; cheap to clone (clones of a manual clock share its time).
#[derive(Clone, Debug, Default)]
pub struct Clock(Source);

#[derive(Clone, Debug, Default)]
enum Source {
    #[default]
    System,
    /// Seconds since the epoch, moved only by `advance` and `set`.
    Manual(Arc<AtomicI64>),
}

impl Clock {
    /// The real time.
    pub fn system() -> Clock {
        Clock(Source::System)
    }

    /// A clock that starts at the real time now and stands still until it is moved.
    pub fn manual() -> Clock {
        Clock::manual_at(system_now())
    }

    /// A clock that stands at `secs` (since the epoch) until it is moved.
    pub fn manual_at(secs: i64) -> Clock {
        Clock(Source::Manual(Arc::new(AtomicI64::new(secs))))
    }

    /// Seconds since the Unix epoch, the unit of every time column.
    pub fn now(&self) -> i64 {
        match &self.0 {
            Source::System => system_now(),
            Source::Manual(secs) => secs.load(Ordering::SeqCst),
        }
    }

    /// Moves a manual clock forward by `by` (whole seconds). Panics on the system clock,
    /// which nothing may move.
    pub fn advance(&self, by: Duration) {
        let secs = i64::try_from(by.as_secs()).expect("a duration that fits in i64 seconds");
        self.manual_secs("advance").fetch_add(secs, Ordering::SeqCst);
    }

    /// Sets a manual clock to `secs` since the epoch. Panics on the system clock.
    pub fn set(&self, secs: i64) {
        self.manual_secs("set").store(secs, Ordering::SeqCst);
    }

    fn manual_secs(&self, what: &str) -> &AtomicI64 {
        match &self.0 {
            Source::Manual(secs) => secs,
            Source::System => panic!("cannot {what} the system clock; build the app with Clock::manual()"),
        }
    }
}

fn system_now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_moves_only_when_told_and_its_clones_follow() {
        let clock = Clock::manual_at(1_000);
        let clone = clock.clone();
        assert_eq!(clock.now(), 1_000);
        clock.advance(Duration::from_secs(90));
        assert_eq!(clone.now(), 1_090);
        clone.set(5);
        assert_eq!(clock.now(), 5);
    }

    #[test]
    fn the_system_clock_reads_the_real_time() {
        let real = system_now();
        assert!((Clock::system().now() - real).abs() <= 1);
    }

    #[test]
    #[should_panic(expected = "cannot advance the system clock")]
    fn the_system_clock_cannot_be_moved() {
        Clock::system().advance(Duration::from_secs(1));
    }
}
