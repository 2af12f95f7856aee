//! The in-process twin of the queues: FIFO order per group and deduplication by key on the inbound
//! queue (as SQS FIFO does), plain append on the updates queue (as a standard queue: no dedup).

use crate::{DelayedQueue, Destination, Envelope, EventQueue, QueueError, check};
use std::collections::HashSet;
use std::sync::Mutex;
use std::time::Duration;

#[derive(Debug, Default)]
pub struct MemoryQueue {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    inbound: Vec<Envelope>,
    updates: Vec<Envelope>,
    outbound: Vec<Envelope>,
    media: Vec<Envelope>,
    inbound_keys: HashSet<String>,
    /// Envelopes sent with a delay, with it (kept apart: the runner delivers them when due).
    delayed: Vec<(Destination, Envelope, Duration)>,
    sends: usize,
    fail_next: usize,
}

impl MemoryQueue {
    pub fn new() -> MemoryQueue {
        MemoryQueue::default()
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock leaves plain data behind; keep using it.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Makes the next `n` sends fail as unavailable, queuing nothing (to test HOOK-5).
    pub fn fail_next_sends(&self, n: usize) {
        self.state().fail_next = n;
    }

    /// Everything on a queue, in the order it was accepted (within a group: FIFO order).
    pub fn messages(&self, on: Destination) -> Vec<Envelope> {
        let s = self.state();
        match on {
            Destination::Inbound => s.inbound.clone(),
            Destination::Updates => s.updates.clone(),
            Destination::Outbound => s.outbound.clone(),
            Destination::Media => s.media.clone(),
        }
    }

    /// One FIFO group's messages, in order.
    pub fn group(&self, group: &str) -> Vec<Envelope> {
        self.state()
            .inbound
            .iter()
            .filter(|e| e.group.as_deref() == Some(group))
            .cloned()
            .collect()
    }

    /// Removes and returns everything on a queue (the local runner's receive).
    pub fn take(&self, on: Destination) -> Vec<Envelope> {
        let mut s = self.state();
        match on {
            Destination::Inbound => std::mem::take(&mut s.inbound),
            Destination::Updates => std::mem::take(&mut s.updates),
            Destination::Outbound => std::mem::take(&mut s.outbound),
            Destination::Media => std::mem::take(&mut s.media),
        }
    }

    /// The envelopes sent with a delay to a queue, with their delays, in the order accepted.
    pub fn delayed(&self, on: Destination) -> Vec<(Envelope, Duration)> {
        self.state()
            .delayed
            .iter()
            .filter(|(to, _, _)| *to == on)
            .map(|(_, e, d)| (e.clone(), *d))
            .collect()
    }

    /// Removes and returns the delayed envelopes of a queue (the runner delivers them when due).
    pub fn take_delayed(&self, on: Destination) -> Vec<(Envelope, Duration)> {
        let mut s = self.state();
        let (taken, kept) = std::mem::take(&mut s.delayed)
            .into_iter()
            .partition(|(to, _, _)| *to == on);
        s.delayed = kept;
        taken.into_iter().map(|(_, e, d)| (e, d)).collect()
    }

    /// How many envelopes are waiting on both queues.
    pub fn len(&self) -> usize {
        let s = self.state();
        s.inbound.len() + s.updates.len() + s.outbound.len() + s.media.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many sends were accepted (each call counts once).
    pub fn sends(&self) -> usize {
        self.state().sends
    }
}

impl EventQueue for MemoryQueue {
    async fn send(&self, to: Destination, envelopes: Vec<Envelope>) -> Result<(), QueueError> {
        check(to, &envelopes)?;
        let mut s = self.state();
        if s.fail_next > 0 {
            s.fail_next -= 1;
            return Err(QueueError::Unavailable("injected failure".to_owned()));
        }
        s.sends += 1;
        for e in envelopes {
            match to {
                Destination::Inbound => {
                    if s.inbound_keys.insert(e.key.clone()) {
                        s.inbound.push(e);
                    }
                }
                Destination::Updates => s.updates.push(e),
                Destination::Outbound => s.outbound.push(e),
                Destination::Media => s.media.push(e),
            }
        }
        Ok(())
    }
}

impl DelayedQueue for MemoryQueue {
    async fn send_delayed(
        &self,
        to: Destination,
        envelopes: Vec<Envelope>,
        delay: Duration,
    ) -> Result<(), QueueError> {
        crate::check_delayed(to, &envelopes)?;
        let mut s = self.state();
        if s.fail_next > 0 {
            s.fail_next -= 1;
            return Err(QueueError::Unavailable("injected failure".to_owned()));
        }
        s.sends += 1;
        let delay = delay.min(crate::MAX_DELAY);
        s.delayed
            .extend(envelopes.into_iter().map(|e| (to, e, delay)));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(key: &str, group: Option<&str>) -> Envelope {
        Envelope {
            key: key.to_owned(),
            group: group.map(str::to_owned),
            body: format!("{{\"key\":\"{key}\"}}"),
        }
    }

    #[tokio::test]
    async fn fifo_per_group_and_dedup_by_key() {
        let q = MemoryQueue::new();
        q.send(
            Destination::Inbound,
            vec![
                env("a1", Some("n#a")),
                env("b1", Some("n#b")),
                env("a2", Some("n#a")),
            ],
        )
        .await
        .unwrap();
        q.send(
            Destination::Inbound,
            vec![env("a1", Some("n#a")), env("a3", Some("n#a"))],
        )
        .await
        .unwrap();
        let keys: Vec<_> = q.group("n#a").into_iter().map(|e| e.key).collect();
        assert_eq!(keys, ["a1", "a2", "a3"]);
        assert_eq!(q.messages(Destination::Inbound).len(), 4);
        // The standard queue does not dedup, like SQS.
        q.send(Destination::Updates, vec![env("s", None), env("s", None)])
            .await
            .unwrap();
        assert_eq!(q.messages(Destination::Updates).len(), 2);
        assert_eq!(q.take(Destination::Updates).len(), 2);
        assert_eq!(q.len(), 4);
    }

    #[tokio::test]
    async fn refuses_what_sqs_refuses_and_injected_failures_queue_nothing() {
        let q = MemoryQueue::new();
        assert_eq!(
            q.send(Destination::Inbound, vec![env("a", None)]).await,
            Err(QueueError::MissingGroup { key: "a".into() })
        );
        let big = Envelope {
            body: "x".repeat(crate::MAX_MESSAGE_BYTES + 1),
            ..env("b", None)
        };
        assert!(matches!(
            q.send(Destination::Updates, vec![big]).await,
            Err(QueueError::BadSize { .. })
        ));
        q.fail_next_sends(1);
        assert!(
            q.send(Destination::Updates, vec![env("c", None)])
                .await
                .is_err()
        );
        assert!(q.is_empty());
        q.send(Destination::Updates, vec![env("c", None)])
            .await
            .unwrap();
        assert_eq!(q.len(), 1);
    }

    #[tokio::test]
    async fn delayed_sends_are_kept_apart_with_their_delay() {
        let q = MemoryQueue::new();
        q.send_delayed(
            Destination::Outbound,
            vec![env("later", None)],
            Duration::from_secs(3600),
        )
        .await
        .unwrap();
        // Cut to SQS's longest delay, like the SQS adapter.
        assert_eq!(
            q.delayed(Destination::Outbound),
            vec![(env("later", None), crate::MAX_DELAY)]
        );
        assert!(q.messages(Destination::Outbound).is_empty());
        assert_eq!(
            q.send_delayed(
                Destination::Inbound,
                vec![env("x", Some("g"))],
                Duration::ZERO
            )
            .await,
            Err(QueueError::DelayOnFifo { key: "x".into() })
        );
        assert_eq!(q.take_delayed(Destination::Outbound).len(), 1);
        assert!(q.delayed(Destination::Outbound).is_empty());
    }
}
