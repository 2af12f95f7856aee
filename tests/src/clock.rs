//! One clock for every function of a deployment under test: the router, the console and the
//! Scheduler adapter read it as a [`timers::Clock`] (seconds), the sender as a [`sender::Clock`]
//! (milliseconds). It moves only when the harness moves it, or when the sender "waits" on it for
//! pacing (a simulated wait, as `sender::ManualClock` does: tests never sleep).

use rules::Timestamp;
use std::sync::Arc;
use tokio::sync::watch;

#[derive(Debug, Clone)]
pub struct SharedClock {
    ms: Arc<watch::Sender<i64>>,
}

impl SharedClock {
    pub fn new(start_unix: i64) -> SharedClock {
        SharedClock {
            ms: Arc::new(watch::Sender::new(start_unix * 1000)),
        }
    }

    /// Milliseconds since the epoch.
    pub fn ms(&self) -> i64 {
        *self.ms.borrow()
    }

    /// Whole seconds since the epoch.
    pub fn unix(&self) -> i64 {
        self.ms().div_euclid(1000)
    }

    /// Moves the clock forward (never back).
    pub fn advance_ms(&self, by: i64) {
        if by > 0 {
            self.ms.send_modify(|now| *now += by);
        }
    }

    fn reach_ms(&self, at: i64) {
        self.ms.send_if_modified(|now| {
            if at > *now {
                *now = at;
                true
            } else {
                false
            }
        });
    }
}

impl timers::Clock for SharedClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_unix(self.unix())
    }

    fn sleep_until(&self, at: Timestamp) -> timers::clock::Sleep {
        let mut changes = self.ms.subscribe();
        let at_ms = at.unix() * 1000;
        Box::pin(async move {
            if changes.wait_for(|now| *now >= at_ms).await.is_err() {
                std::future::pending::<()>().await;
            }
        })
    }
}

impl sender::Clock for SharedClock {
    fn now_ms(&self) -> rules::pacing::Millis {
        self.ms()
    }

    async fn sleep_until_ms(&self, at: rules::pacing::Millis) {
        // A pacing wait inside one invocation: simulated by moving the shared clock.
        self.reach_ms(at);
    }
}
