//! The in-process timer wheel: the local runner's twin of EventBridge Scheduler (TIME-1).
//!
//! It holds one wake-up per `(number, contact, kind)` (arming again replaces), gives back what
//! falls due in time order (arming order among equal instants), and a driver task sleeps on the
//! [`Clock`] until the next deadline or until an earlier wake-up is armed. With a
//! [`ManualClock`](crate::ManualClock), moving the clock is what makes wake-ups fall due: no test
//! sleeps for the timers' real durations.

use crate::clock::Clock;
use crate::{Arming, TimerError, TimerPort, WakeUp};
use rules::effect::Wake;
use rules::{BusinessNumberId, ContactKey, Duration, TimerKind, Timestamp};
use std::collections::{BTreeMap, HashMap};
use std::fmt::Display;
use std::future::Future;
use std::sync::{Mutex, MutexGuard};
use tokio::sync::Notify;

type Slot = (BusinessNumberId, ContactKey, TimerKind);

#[derive(Debug, Default)]
pub struct TimerWheel {
    state: Mutex<State>,
    armed_earlier: Notify,
}

#[derive(Debug, Default)]
struct State {
    /// The position in `queue` of each slot's wake-up.
    slots: HashMap<Slot, (Timestamp, u64)>,
    /// Wake-ups by (deadline, arming sequence).
    queue: BTreeMap<(Timestamp, u64), WakeUp>,
    sequence: u64,
}

impl State {
    /// Holds `wake_up` to fall due at `at` (its deadline, or later when a delivery is retried).
    fn insert(&mut self, at: Timestamp, wake_up: WakeUp) {
        let slot = (
            wake_up.number.clone(),
            wake_up.contact.clone(),
            wake_up.kind,
        );
        self.sequence += 1;
        let position = (at, self.sequence);
        if let Some(previous) = self.slots.insert(slot, position) {
            self.queue.remove(&previous);
        }
        self.queue.insert(position, wake_up);
    }

    fn next_deadline(&self) -> Option<Timestamp> {
        self.queue.first_key_value().map(|((at, _), _)| *at)
    }
}

impl TimerWheel {
    pub fn new() -> TimerWheel {
        TimerWheel::default()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves plain data behind; keep using it.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Holds `wake_up`, replacing the one armed for the same slot. A deadline already passed falls
    /// due at the next [`TimerWheel::due`].
    pub fn insert(&self, wake_up: WakeUp) {
        let mut state = self.state();
        let before = state.next_deadline();
        let at = wake_up.deadline;
        state.insert(at, wake_up);
        drop(state);
        if before.is_none_or(|next| at < next) {
            self.armed_earlier.notify_waiters();
        }
    }

    /// Removes and returns every wake-up due at `now`, earliest first.
    pub fn due(&self, now: Timestamp) -> Vec<WakeUp> {
        let mut state = self.state();
        let mut due = Vec::new();
        while let Some(entry) = state.queue.first_entry() {
            if entry.key().0 > now {
                break;
            }
            let wake_up = entry.remove();
            state.slots.remove(&(
                wake_up.number.clone(),
                wake_up.contact.clone(),
                wake_up.kind,
            ));
            due.push(wake_up);
        }
        due
    }

    /// The earliest armed deadline.
    pub fn next_deadline(&self) -> Option<Timestamp> {
        self.state().next_deadline()
    }

    /// Everything armed, earliest first.
    pub fn armed(&self) -> Vec<WakeUp> {
        self.state().queue.values().cloned().collect()
    }

    pub fn len(&self) -> usize {
        self.state().queue.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Drives the wheel forever: hands each wake-up that falls due on `clock` to `deliver`, in
    /// time order, then sleeps until the next deadline, an earlier wake-up being armed, or the
    /// clock being moved. A failed delivery is logged and tried again a second later, unless the
    /// slot has been armed again meanwhile. Stop it by dropping or aborting its task.
    pub async fn run<C, F, Fut, E>(&self, clock: &C, mut deliver: F)
    where
        C: Clock + ?Sized,
        F: FnMut(WakeUp) -> Fut,
        Fut: Future<Output = Result<(), E>>,
        E: Display,
    {
        loop {
            // Register for "armed earlier" before looking, so an arm in between is not missed.
            let armed_earlier = self.armed_earlier.notified();
            tokio::pin!(armed_earlier);
            armed_earlier.as_mut().enable();

            let now = clock.now();
            let due = self.due(now);
            if !due.is_empty() {
                for wake_up in due {
                    if let Err(error) = deliver(wake_up.clone()).await {
                        tracing::warn!(
                            kind = wake_up.kind.as_str(),
                            token = wake_up.token,
                            %error,
                            "timer wheel: delivery failed; retrying in a second"
                        );
                        self.retry(wake_up, now + Duration::seconds(1));
                    }
                }
                continue;
            }
            match self.next_deadline() {
                Some(at) => {
                    tokio::select! {
                        () = clock.sleep_until(at) => {}
                        () = &mut armed_earlier => {}
                    }
                }
                None => armed_earlier.await,
            }
        }
    }

    fn retry(&self, wake_up: WakeUp, at: Timestamp) {
        let mut state = self.state();
        let slot = (
            wake_up.number.clone(),
            wake_up.contact.clone(),
            wake_up.kind,
        );
        if !state.slots.contains_key(&slot) {
            state.insert(at, wake_up);
        }
    }
}

impl TimerPort for TimerWheel {
    async fn arm(
        &self,
        number: &BusinessNumberId,
        contact: &ContactKey,
        wake: Wake,
    ) -> Result<Arming, TimerError> {
        self.insert(WakeUp::new(number.clone(), contact.clone(), wake));
        Ok(Arming::Armed { at: wake.at })
    }
}
