//! The runner's timer port: the in-process [`TimerWheel`] (EventBridge Scheduler's twin, TIME-1),
//! made durable. Arming writes the wake-up to `local_timers` in the store's file (one per slot,
//! replacing: as one schedule per slot does in AWS) and puts it on the wheel; when it falls due
//! on the engine clock, its `TimerFired` event goes onto the durable inbound queue, in the
//! contact's group (TIME-3), and the timer is forgotten in the same transaction. On start the
//! wheel is rebuilt from the file, so a restart loses no timer.

use crate::clock::EngineClock;
use rules::effect::Wake;
use rules::{BusinessNumberId, ContactKey};
use store::SqliteQueue;
use store::sqlite::StoredTimer;
use timers::{Arming, Clock as _, TimerError, TimerPort, TimerWheel, WakeUp};
use tokio::sync::Notify;

pub struct LocalTimers {
    wheel: TimerWheel,
    queue: SqliteQueue,
    clock: EngineClock,
    armed: Notify,
}

fn stored(wake_up: &WakeUp) -> StoredTimer {
    StoredTimer {
        slot: timers::scheduler::schedule_name(&wake_up.number, &wake_up.contact, wake_up.kind),
        due: wake_up.deadline,
        payload: wake_up.to_json(),
    }
}

impl LocalTimers {
    /// The timers, with the wheel rebuilt from what the file holds.
    pub async fn open(queue: SqliteQueue, clock: EngineClock) -> store::Result<LocalTimers> {
        let wheel = TimerWheel::new();
        for timer in queue.timers().await? {
            match WakeUp::parse(&timer.payload) {
                Ok(wake_up) => wheel.insert(wake_up),
                Err(error) => {
                    // The slot names the contact: log the deadline only.
                    tracing::error!(due = timer.due.unix(), %error, "stored timer unreadable; left in place")
                }
            }
        }
        Ok(LocalTimers {
            wheel,
            queue,
            clock,
            armed: Notify::new(),
        })
    }

    /// How many wake-ups are armed.
    pub fn len(&self) -> usize {
        self.wheel.len()
    }

    pub fn is_empty(&self) -> bool {
        self.wheel.is_empty()
    }

    /// The earliest armed deadline.
    pub fn next_deadline(&self) -> Option<rules::Timestamp> {
        self.wheel.next_deadline()
    }

    /// Whether a wake-up is due now and not yet delivered.
    pub fn any_due(&self) -> bool {
        self.wheel
            .next_deadline()
            .is_some_and(|at| at <= self.clock.now())
    }

    /// Delivers what is due now; a delivery that fails stays on the wheel for the next round.
    pub async fn fire_due(&self) -> usize {
        let mut fired = 0;
        for wake_up in self.wheel.due(self.clock.now()) {
            match self
                .queue
                .fire_timer(stored(&wake_up), wake_up.envelope())
                .await
            {
                Ok(()) => fired += 1,
                Err(error) => {
                    tracing::warn!(kind = wake_up.kind.as_str(), %error, "timer not delivered; retried");
                    // Back on the wheel unless armed again meanwhile.
                    if !self.wheel.armed().iter().any(|w| {
                        w.number == wake_up.number
                            && w.contact == wake_up.contact
                            && w.kind == wake_up.kind
                    }) {
                        self.wheel.insert(wake_up);
                    }
                }
            }
        }
        fired
    }

    /// Fires wake-ups as they fall due, until the task is dropped.
    pub async fn run(&self) {
        loop {
            let armed = self.armed.notified();
            tokio::pin!(armed);
            armed.as_mut().enable();
            if self.fire_due().await > 0 {
                continue;
            }
            let moved = self.clock.moved();
            match self.wheel.next_deadline() {
                Some(at) if at <= self.clock.now() => {
                    // A failed delivery: try again shortly.
                    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
                }
                Some(at) => {
                    tokio::select! {
                        () = self.clock.sleep_until(at) => {}
                        () = &mut armed => {}
                        () = moved => {}
                    }
                }
                None => {
                    tokio::select! {
                        () = &mut armed => {}
                        () = moved => {}
                    }
                }
            }
        }
    }
}

impl TimerPort for LocalTimers {
    async fn arm(
        &self,
        number: &BusinessNumberId,
        contact: &ContactKey,
        wake: Wake,
    ) -> Result<Arming, TimerError> {
        let wake_up = WakeUp::new(number.clone(), contact.clone(), wake);
        self.queue
            .put_timer(stored(&wake_up))
            .await
            .map_err(|e| TimerError::Unavailable(e.to_string()))?;
        self.wheel.insert(wake_up);
        self.armed.notify_waiters();
        Ok(Arming::Armed { at: wake.at })
    }
}
