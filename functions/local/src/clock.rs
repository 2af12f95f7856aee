//! The engine's clock: the machine's time plus an offset that only the test clock moves
//! (`POST /dev/clock`). Time keeps flowing either way, so pacing waits and delays behave as they
//! do in AWS; moving the clock makes timers and delayed messages fall due at once.
//!
//! One clock serves every part: it is the timers' and router's [`timers::Clock`] (seconds) and
//! the sender's [`sender::Clock`] (milliseconds).

use rules::Timestamp;
use rules::pacing::Millis;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use tokio::sync::watch;

#[derive(Debug, Clone)]
pub struct EngineClock {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    offset_ms: AtomicI64,
    /// Bumped on every move, so sleepers re-check.
    moved: watch::Sender<u64>,
}

fn system_ms() -> Millis {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

impl Default for EngineClock {
    fn default() -> Self {
        EngineClock::new()
    }
}

impl EngineClock {
    pub fn new() -> EngineClock {
        EngineClock {
            inner: Arc::new(Inner {
                offset_ms: AtomicI64::new(0),
                moved: watch::Sender::new(0),
            }),
        }
    }

    /// A clock that reads `unix` seconds now and flows from there (a test clock set to a known
    /// instant, so that a story runs on the same dates everywhere).
    pub fn starting_at(unix: i64) -> EngineClock {
        let clock = EngineClock::new();
        clock
            .inner
            .offset_ms
            .store(unix.saturating_mul(1000) - system_ms(), Ordering::Release);
        clock
    }

    pub fn now_ms(&self) -> Millis {
        system_ms() + self.inner.offset_ms.load(Ordering::Acquire)
    }

    /// Moves the clock forward by `seconds` (the test clock).
    pub fn advance(&self, seconds: u64) {
        self.advance_ms(i64::try_from(seconds.saturating_mul(1000)).unwrap_or(i64::MAX / 4));
    }

    /// Moves the clock forward by `ms` milliseconds (nothing when not positive).
    pub fn advance_ms(&self, ms: i64) {
        if ms > 0 {
            self.inner.offset_ms.fetch_add(ms, Ordering::AcqRel);
            self.inner.moved.send_modify(|n| *n += 1);
        }
    }

    /// How far the test clock has been moved, in seconds.
    pub fn offset_seconds(&self) -> i64 {
        self.inner.offset_ms.load(Ordering::Acquire) / 1000
    }

    /// Resolves when the clock is moved after the call.
    pub fn moved(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let mut rx = self.inner.moved.subscribe();
        async move {
            let _ = rx.changed().await;
        }
    }

    async fn sleep_until_ms_inner(&self, at: Millis) {
        loop {
            let wait = at - self.now_ms();
            if wait <= 0 {
                return;
            }
            let moved = self.moved();
            tokio::select! {
                () = tokio::time::sleep(std::time::Duration::from_millis(wait.unsigned_abs())) => {}
                () = moved => {}
            }
        }
    }
}

impl timers::Clock for EngineClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_unix(self.now_ms().div_euclid(1000))
    }

    fn sleep_until(&self, at: Timestamp) -> timers::clock::Sleep {
        let clock = self.clone();
        Box::pin(async move { clock.sleep_until_ms_inner(at.unix() * 1000).await })
    }
}

impl sender::Clock for EngineClock {
    fn now_ms(&self) -> Millis {
        EngineClock::now_ms(self)
    }

    async fn sleep_until_ms(&self, at: Millis) {
        self.sleep_until_ms_inner(at).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use timers::Clock as _;

    #[tokio::test]
    async fn advancing_wakes_sleepers_at_once() {
        let clock = EngineClock::new();
        let start = clock.now();
        let target = start + rules::Duration::hours(1);
        let sleeper = tokio::spawn({
            let clock = clock.clone();
            async move { clock.sleep_until(target).await }
        });
        tokio::task::yield_now().await;
        assert!(!sleeper.is_finished());
        clock.advance(3600);
        tokio::time::timeout(std::time::Duration::from_secs(5), sleeper)
            .await
            .expect("woke when moved")
            .unwrap();
        assert!(clock.now() >= target);
        assert_eq!(clock.offset_seconds(), 3600);
    }
}
