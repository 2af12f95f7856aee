//! The in-process timer wheel, driven by the manual clock: no test sleeps longer than a few
//! milliseconds, whatever the timers' durations.

use rules::effect::Wake;
use rules::{BusinessNumberId, ContactKey, Duration, TimerKind, Timestamp};
use std::sync::Arc;
use std::time::Duration as StdDuration;
use timers::{Arming, Clock, ManualClock, TimerPort, TimerWheel, WakeUp};
use tokio::sync::mpsc;

const T0: i64 = 1_767_225_600; // 2026-01-01T00:00:00Z

fn at(minutes: i64) -> Timestamp {
    Timestamp::from_unix(T0) + Duration::minutes(minutes)
}

fn number() -> BusinessNumberId {
    BusinessNumberId::new("106540352242922").unwrap()
}

fn contact(n: u32) -> ContactKey {
    ContactKey::new(format!("49151234567{n:02}")).unwrap()
}

fn wake(kind: TimerKind, minutes: i64, token: u64) -> Wake {
    Wake {
        kind,
        at: at(minutes),
        token,
    }
}

/// (contact, kind, token) of each wake-up, to compare orders briefly.
fn summary(wake_ups: &[WakeUp]) -> Vec<(String, TimerKind, u64)> {
    wake_ups
        .iter()
        .map(|w| (w.contact.to_string(), w.kind, w.token))
        .collect()
}

#[tokio::test]
async fn due_drains_in_time_order_then_arming_order_and_never_early() {
    let wheel = TimerWheel::new();
    let n = number();
    for (c, kind, minutes, token) in [
        (1, TimerKind::AutoClose, 30, 1),
        (2, TimerKind::BotInactivity, 10, 2),
        (3, TimerKind::NoReplyReminder, 20, 3),
        (1, TimerKind::BotInactivity, 10, 4), // same instant as token 2: after it
        (4, TimerKind::SnoozeWake, 5, 5),
    ] {
        let arming = wheel
            .arm(&n, &contact(c), wake(kind, minutes, token))
            .await
            .unwrap();
        assert_eq!(arming, Arming::Armed { at: at(minutes) });
    }
    assert_eq!(wheel.len(), 5);
    assert_eq!(wheel.next_deadline(), Some(at(5)));
    assert!(wheel.due(at(5) - Duration::seconds(1)).is_empty());
    assert_eq!(
        wheel
            .due(at(20))
            .iter()
            .map(|w| w.token)
            .collect::<Vec<_>>(),
        [5, 2, 4, 3]
    );
    assert!(wheel.due(at(20)).is_empty(), "drained once");
    assert_eq!(wheel.next_deadline(), Some(at(30)));
    let last = wheel.due(at(100));
    assert_eq!(
        summary(&last),
        [(contact(1).to_string(), TimerKind::AutoClose, 1)]
    );
    assert!(wheel.is_empty());
}

#[tokio::test]
async fn arming_a_slot_again_replaces_its_wake_up_later_or_earlier() {
    let wheel = TimerWheel::new();
    let (n, c) = (number(), contact(1));
    wheel
        .arm(&n, &c, wake(TimerKind::BotInactivity, 10, 1))
        .await
        .unwrap();
    wheel
        .arm(&n, &c, wake(TimerKind::BotInactivity, 20, 2))
        .await
        .unwrap();
    // Another kind and another contact are other slots.
    wheel
        .arm(&n, &c, wake(TimerKind::AutoClose, 15, 3))
        .await
        .unwrap();
    wheel
        .arm(&n, &contact(2), wake(TimerKind::BotInactivity, 12, 4))
        .await
        .unwrap();
    assert_eq!(wheel.len(), 3);
    assert_eq!(
        wheel
            .due(at(19))
            .iter()
            .map(|w| w.token)
            .collect::<Vec<_>>(),
        [4, 3],
        "token 1 was replaced"
    );
    wheel
        .arm(&n, &c, wake(TimerKind::BotInactivity, 5, 5))
        .await
        .unwrap();
    let due = wheel.due(at(30));
    assert_eq!(due.len(), 1);
    assert_eq!((due[0].token, due[0].deadline), (5, at(5)));
}

struct Driven {
    wheel: Arc<TimerWheel>,
    clock: ManualClock,
    delivered: mpsc::UnboundedReceiver<WakeUp>,
    task: tokio::task::JoinHandle<()>,
}

impl Driven {
    fn start() -> Driven {
        let wheel = Arc::new(TimerWheel::new());
        let clock = ManualClock::new(at(0));
        let (tx, delivered) = mpsc::unbounded_channel();
        let task = tokio::spawn({
            let (wheel, clock) = (wheel.clone(), clock.clone());
            async move {
                wheel.run(&clock, |w| std::future::ready(tx.send(w))).await;
            }
        });
        Driven {
            wheel,
            clock,
            delivered,
            task,
        }
    }

    async fn arm(&self, c: u32, wake: Wake) {
        self.wheel.arm(&number(), &contact(c), wake).await.unwrap();
    }

    /// The next delivery (the driver runs on another task: give it up to a second).
    async fn next(&mut self) -> WakeUp {
        tokio::time::timeout(StdDuration::from_secs(1), self.delivered.recv())
            .await
            .expect("a wake-up was delivered")
            .expect("the driver is running")
    }

    /// Nothing delivered within a few milliseconds.
    async fn quiet(&mut self) {
        let got = tokio::time::timeout(StdDuration::from_millis(20), self.delivered.recv()).await;
        assert!(got.is_err(), "delivered early: {got:?}");
    }
}

impl Drop for Driven {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[tokio::test]
async fn the_driver_delivers_when_the_clock_reaches_a_deadline_and_not_before() {
    let mut d = Driven::start();
    d.arm(1, wake(TimerKind::BotInactivity, 10, 1)).await;
    d.arm(2, wake(TimerKind::AutoClose, 15, 2)).await;
    d.quiet().await;
    d.clock.set(at(10) - Duration::seconds(1));
    d.quiet().await;
    d.clock.advance(Duration::seconds(1));
    assert_eq!(d.next().await.token, 1);
    d.quiet().await;
    // One jump past both remaining deadlines delivers them in time order.
    d.arm(3, wake(TimerKind::NoReplyReminder, 12, 3)).await;
    d.clock.set(at(60));
    assert_eq!(d.next().await.token, 3);
    assert_eq!(d.next().await.token, 2);
    d.quiet().await;
    assert!(d.wheel.is_empty());
}

#[tokio::test]
async fn a_wake_up_armed_earlier_while_the_driver_sleeps_fires_first() {
    let mut d = Driven::start();
    d.arm(1, wake(TimerKind::BotInactivity, 30, 1)).await;
    d.quiet().await; // the driver now sleeps until minute 30
    // A re-armed earlier deadline for the same slot, and an earlier one for another contact.
    d.arm(1, wake(TimerKind::BotInactivity, 8, 2)).await;
    d.arm(2, wake(TimerKind::AutoClose, 5, 3)).await;
    d.clock.set(at(5));
    assert_eq!(d.next().await.token, 3);
    d.quiet().await;
    d.clock.set(at(8));
    assert_eq!(d.next().await.token, 2);
    d.clock.set(at(30));
    d.quiet().await; // token 1 was replaced
    // A deadline already past is delivered at once.
    d.arm(3, wake(TimerKind::SnoozeWake, 1, 4)).await;
    assert_eq!(d.next().await.token, 4);
    assert_eq!(d.clock.now(), at(30));
}

#[tokio::test]
async fn a_failed_delivery_is_tried_again_a_second_later_unless_re_armed() {
    let wheel = Arc::new(TimerWheel::new());
    let clock = ManualClock::new(at(0));
    let (tx, mut delivered) = mpsc::unbounded_channel();
    let attempts = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let task = tokio::spawn({
        let (wheel, clock, attempts) = (wheel.clone(), clock.clone(), attempts.clone());
        async move {
            wheel
                .run(&clock, |w: WakeUp| {
                    let first = attempts.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0;
                    std::future::ready(if first {
                        Err("queue unavailable".to_owned())
                    } else {
                        tx.send(w).map_err(|e| e.to_string())
                    })
                })
                .await;
        }
    });
    wheel
        .arm(
            &number(),
            &contact(1),
            wake(TimerKind::BotInactivity, 10, 1),
        )
        .await
        .unwrap();
    clock.set(at(10));
    tokio::time::sleep(StdDuration::from_millis(20)).await;
    assert!(delivered.try_recv().is_err(), "first delivery failed");
    assert_eq!(wheel.len(), 1, "kept for a retry");
    clock.advance(Duration::seconds(1));
    let w = tokio::time::timeout(StdDuration::from_secs(1), delivered.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (w.token, w.deadline),
        (1, at(10)),
        "the payload is unchanged"
    );
    task.abort();
}
