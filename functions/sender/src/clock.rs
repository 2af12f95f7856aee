//! Time as an input (ARCHITECTURE invariant 5). Pacing needs milliseconds (80 sends a second are
//! 12.5 ms apart), so the sender's clock answers in milliseconds and can wait a short while; the
//! rules still see whole-second [`Timestamp`]s.

use rules::Timestamp;
use rules::pacing::Millis;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

pub trait Clock: Send + Sync {
    /// Milliseconds since the Unix epoch.
    fn now_ms(&self) -> Millis;

    /// Resolves once `now_ms() >= at` (a short pacing wait inside one invocation).
    fn sleep_until_ms(&self, at: Millis) -> impl Future<Output = ()> + Send;

    fn now(&self) -> Timestamp {
        Timestamp::from_unix(self.now_ms().div_euclid(1000))
    }
}

/// The machine's clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> Millis {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as Millis)
    }

    async fn sleep_until_ms(&self, at: Millis) {
        let wait = at - self.now_ms();
        if wait > 0 {
            tokio::time::sleep(std::time::Duration::from_millis(wait as u64)).await;
        }
    }
}

/// A clock tests move by hand; waiting on it moves it (a simulated wait: tests never sleep).
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<AtomicI64>);

impl ManualClock {
    pub fn new(start: Timestamp) -> ManualClock {
        ManualClock(Arc::new(AtomicI64::new(start.unix() * 1000)))
    }

    pub fn advance_ms(&self, ms: Millis) {
        self.0.fetch_add(ms, Ordering::SeqCst);
    }

    pub fn advance(&self, by: rules::Duration) {
        self.advance_ms(by.as_seconds() * 1000);
    }

    pub fn set_ms(&self, at: Millis) {
        self.0.store(at, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> Millis {
        self.0.load(Ordering::SeqCst)
    }

    async fn sleep_until_ms(&self, at: Millis) {
        self.0.fetch_max(at, Ordering::SeqCst);
    }
}

impl<C: Clock> Clock for &C {
    fn now_ms(&self) -> Millis {
        (**self).now_ms()
    }

    fn sleep_until_ms(&self, at: Millis) -> impl Future<Output = ()> + Send {
        (**self).sleep_until_ms(at)
    }
}
