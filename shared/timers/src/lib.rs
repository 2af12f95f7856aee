//! # Switchboard's timers (TIME-1)
//!
//! The support desk's clocks are wake-ups, not commands (ARCHITECTURE invariant 6): the contact's
//! state holds each deadline, the rules arm a wake-up only when none is armed at or before it
//! (`rules::state::Timers::set`), and a wake-up that finds the deadline moved re-arms once. There
//! is no cancel: a stale wake-up does nothing (TIME-2).
//!
//! - [`TimerPort`]: arm a wake-up for `(number, contact, kind)`; arming the same slot again
//!   replaces the previous one.
//! - [`SchedulerTimers`]: one-time EventBridge Scheduler schedules, one per slot, targeting the
//!   `timers` function, which puts the [`WakeUp`]'s `TimerFired` event on the inbound FIFO in the
//!   contact's group (TIME-3).
//! - [`TimerWheel`]: the in-process twin for the local runner, driven by a [`Clock`].
//! - [`Clock`]: [`SystemClock`] and [`ManualClock`] (tests and the local runner's test clock move
//!   it forward instead of sleeping).
//! - [`dead`] (OPS-4): the wake-ups that never reached the inbound queue, as dead letters the
//!   console lists and redelivers.
//! - [`CountingTimers`]: counts calls on any port (goal P3: at most 0.2 Scheduler calls per
//!   inbound message).
//!
//! A wake-up whose deadline has already passed is not scheduled (Scheduler refuses `at()` in the
//! past): the port answers [`Arming::DeliverNow`] and the caller puts the event on the inbound
//! queue itself; [`arm_or_deliver`] does both.

use queue::{Destination, EventQueue, QueueError};
use rules::effect::Wake;
use rules::{BusinessNumberId, ContactKey, Timestamp};
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

pub mod clock;
pub mod dead;
pub mod scheduler;
pub mod wake_up;
pub mod wheel;

pub use clock::{Clock, ManualClock, SystemClock};
pub use dead::dead_letter_queue;
pub use scheduler::{ScheduleNames, SchedulerConfig, SchedulerTimers};
pub use wake_up::{PayloadError, WakeUp};
pub use wheel::TimerWheel;

/// What arming did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Arming {
    /// The wake-up will arrive in the contact's lane at `at` or a little later, never earlier.
    Armed { at: Timestamp },
    /// The deadline has passed, so nothing was scheduled: deliver this wake-up now (its
    /// [`WakeUp::envelope`] onto the inbound queue). Happens when an effect is executed late, e.g.
    /// on a redelivery after a crash.
    DeliverNow(WakeUp),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimerError {
    /// Retrying may help (throttling, a network or service fault).
    #[error("timer service unavailable: {0}")]
    Unavailable(String),
    /// The service refused the schedule; retrying the same request will not help.
    #[error("schedule {name} refused: {reason}")]
    Refused { name: String, reason: String },
    #[error("{0} cannot be written as a schedule time (years 1970 to 9999)")]
    OutOfRange(Timestamp),
}

impl TimerError {
    pub fn is_retryable(&self) -> bool {
        matches!(self, TimerError::Unavailable(_))
    }
}

/// The timer port: owned by the router, which executes `Effect::ArmTimer` through it.
pub trait TimerPort: Send + Sync {
    /// Arms `wake` for the contact `contact` of business number `number`, replacing whatever
    /// was armed for the same `(number, contact, wake.kind)`.
    fn arm(
        &self,
        number: &BusinessNumberId,
        contact: &ContactKey,
        wake: Wake,
    ) -> impl Future<Output = Result<Arming, TimerError>> + Send;
}

impl<T: TimerPort> TimerPort for &T {
    fn arm(
        &self,
        number: &BusinessNumberId,
        contact: &ContactKey,
        wake: Wake,
    ) -> impl Future<Output = Result<Arming, TimerError>> + Send {
        (**self).arm(number, contact, wake)
    }
}

impl<T: TimerPort> TimerPort for Arc<T> {
    fn arm(
        &self,
        number: &BusinessNumberId,
        contact: &ContactKey,
        wake: Wake,
    ) -> impl Future<Output = Result<Arming, TimerError>> + Send {
        (**self).arm(number, contact, wake)
    }
}

/// Why [`arm_or_deliver`] failed. Both are worth retrying when the inner error says so.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArmError {
    #[error(transparent)]
    Timer(#[from] TimerError),
    #[error("overdue wake-up not delivered: {0}")]
    Queue(#[from] QueueError),
}

/// Arms `wake`, or when its deadline has passed puts its `TimerFired` event straight onto the
/// inbound queue in the contact's group.
pub async fn arm_or_deliver<T: TimerPort, Q: EventQueue>(
    timers: &T,
    inbound: &Q,
    number: &BusinessNumberId,
    contact: &ContactKey,
    wake: Wake,
) -> Result<Arming, ArmError> {
    let arming = timers.arm(number, contact, wake).await?;
    if let Arming::DeliverNow(wake_up) = &arming {
        inbound
            .send(Destination::Inbound, vec![wake_up.envelope()])
            .await?;
    }
    Ok(arming)
}

/// Counts the calls made through a port (P3 counts Scheduler calls per inbound message).
#[derive(Debug, Default)]
pub struct CountingTimers<T> {
    inner: T,
    calls: AtomicUsize,
}

impl<T> CountingTimers<T> {
    pub fn new(inner: T) -> CountingTimers<T> {
        CountingTimers {
            inner,
            calls: AtomicUsize::new(0),
        }
    }

    /// How many times `arm` was called.
    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    pub fn inner(&self) -> &T {
        &self.inner
    }
}

impl<T: TimerPort> TimerPort for CountingTimers<T> {
    fn arm(
        &self,
        number: &BusinessNumberId,
        contact: &ContactKey,
        wake: Wake,
    ) -> impl Future<Output = Result<Arming, TimerError>> + Send {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.inner.arm(number, contact, wake)
    }
}
