//! The clock port. The rules never read a clock (ARCHITECTURE invariant 5); the shells do, through
//! this port, so that tests and the local runner's test clock move time forward instead of sleeping.

use rules::{Duration, Timestamp};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use tokio::sync::watch;

/// A future that resolves once a clock reaches an instant.
pub type Sleep = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// Where "now" comes from.
pub trait Clock: Send + Sync {
    /// The current instant, in whole seconds.
    fn now(&self) -> Timestamp;

    /// Resolves once `now() >= at` (at once when it already is). Never resolves early.
    fn sleep_until(&self, at: Timestamp) -> Sleep;
}

/// The machine's clock (UTC, whole seconds).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        let since = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        Timestamp::from_unix(i64::try_from(since.as_secs()).unwrap_or(i64::MAX))
    }

    fn sleep_until(&self, at: Timestamp) -> Sleep {
        // `now()` truncates to the second, so sleeping the difference in whole seconds from the
        // truncated instant always ends at or after `at`, never before.
        let wait = at.saturating_sub(self.now()).as_seconds().max(0);
        Box::pin(tokio::time::sleep(std::time::Duration::from_secs(
            wait.unsigned_abs(),
        )))
    }
}

/// A clock that moves only when told to. Clones share the same time; everything sleeping on it
/// wakes when it is moved past their instant.
#[derive(Debug, Clone)]
pub struct ManualClock {
    now: Arc<watch::Sender<Timestamp>>,
}

impl ManualClock {
    pub fn new(start: Timestamp) -> ManualClock {
        ManualClock {
            now: Arc::new(watch::Sender::new(start)),
        }
    }

    /// Moves the clock forward by `by` (a negative duration is ignored: time never goes back).
    pub fn advance(&self, by: Duration) {
        let to = self.now() + by;
        self.set(to);
    }

    /// Moves the clock to `to`, if that is later than now.
    pub fn set(&self, to: Timestamp) {
        self.now.send_if_modified(|now| {
            if to > *now {
                *now = to;
                true
            } else {
                false
            }
        });
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        *self.now.borrow()
    }

    fn sleep_until(&self, at: Timestamp) -> Sleep {
        let mut changes = self.now.subscribe();
        Box::pin(async move {
            // `wait_for` checks the current value first, then every change.
            if changes.wait_for(|now| *now >= at).await.is_err() {
                // Every handle of the clock is gone: it will never reach `at`.
                std::future::pending::<()>().await;
            }
        })
    }
}

impl<C: Clock + ?Sized> Clock for Arc<C> {
    fn now(&self) -> Timestamp {
        (**self).now()
    }

    fn sleep_until(&self, at: Timestamp) -> Sleep {
        (**self).sleep_until(at)
    }
}

impl<C: Clock + ?Sized> Clock for &C {
    fn now(&self) -> Timestamp {
        (**self).now()
    }

    fn sleep_until(&self, at: Timestamp) -> Sleep {
        (**self).sleep_until(at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration as StdDuration;

    #[tokio::test]
    async fn a_manual_clock_wakes_sleepers_only_when_moved_past_their_instant() {
        let clock = ManualClock::new(Timestamp::from_unix(1_000));
        let sleep = tokio::spawn(clock.sleep_until(Timestamp::from_unix(1_060)));
        clock.advance(Duration::seconds(59));
        tokio::time::sleep(StdDuration::from_millis(5)).await;
        assert!(!sleep.is_finished(), "woke one second early");
        clock.set(Timestamp::from_unix(1_000)); // never backwards
        assert_eq!(clock.now(), Timestamp::from_unix(1_059));
        clock.advance(Duration::seconds(1));
        tokio::time::timeout(StdDuration::from_secs(1), sleep)
            .await
            .expect("woke when the clock reached the instant")
            .unwrap();
        // An instant already past resolves at once.
        tokio::time::timeout(
            StdDuration::from_millis(100),
            clock.sleep_until(Timestamp::from_unix(5)),
        )
        .await
        .unwrap();
    }

    #[tokio::test]
    async fn the_system_clock_reads_epoch_seconds_and_past_instants_do_not_sleep() {
        let clock = SystemClock;
        let now = clock.now();
        assert!(now.unix() > 1_700_000_000, "{now}");
        tokio::time::timeout(
            StdDuration::from_millis(100),
            clock.sleep_until(now - Duration::seconds(10)),
        )
        .await
        .unwrap();
    }
}
