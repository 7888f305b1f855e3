//! Waiting for something asynchronous (the outbox worker delivering, a server receiving)
//! without guessing a sleep: poll until it holds, and fail loudly, naming what was awaited,
//! when it does not hold in time. Time-based rules are not waited for: tests move the
//! app's manual clock instead (`advance`).

#![allow(dead_code)]

use std::future::Future;
use std::time::{Duration, Instant};

/// How long to wait for the app's background work by default: generous, since a passing
/// test never waits this long and a failing one should say so rather than hang.
pub const WAIT: Duration = Duration::from_secs(10);
/// How often to look again.
const POLL: Duration = Duration::from_millis(20);

/// Polls `condition` until it is true; panics naming `what` after `timeout`.
pub async fn wait_until<F, Fut>(what: &str, timeout: Duration, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    wait_for_some(what, timeout, move || {
        let holds = condition();
        async move { holds.await.then_some(()) }
    })
    .await
}

/// Polls `check` until it gives a value, and returns it; panics naming `what` after
/// `timeout`.
pub async fn wait_for_some<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        if Instant::now() >= deadline {
            panic!("timed out after {timeout:?} waiting for {what}");
        }
        tokio::time::sleep(POLL).await;
    }
}
