//! The engine: every function of the AWS deployment in one process, wired to the embedded store.
//!
//! | AWS | here |
//! |---|---|
//! | DynamoDB table | [`SqliteStore`] (the same items and conditions) |
//! | inbound FIFO, updates and outbound queues | [`SqliteQueue`], durable in `<db>-queue` |
//! | EventBridge Scheduler + timers function | [`LocalTimers`] (the timer wheel, durable) |
//! | router Lambda | [`router::Router::apply`], one contact group at a time |
//! | sender Lambda | [`sender::Sender`], on the outbound and updates queues |
//! | Graph API | `whatsapp::cloud` (with an access token) or a recording sink |
//!
//! Three consumers (inbound, updates, outbound) take due messages from the queues, hand them to
//! the same cores the Lambdas run, and delete what was handled. A message that fails is put
//! back with a growing delay and, after [`MAX_ATTEMPTS`] or at once when retrying cannot help,
//! moved to the dead letters (kept in the file, logged by key). On the inbound queue a failure
//! holds the contact's later messages back, as SQS FIFO does.

use crate::clock::EngineClock;
use crate::timers::LocalTimers;
use queue::Destination;
use rules::outreach::OutreachKey;
use sender::{GraphApi, GraphError, MemoryGraph, OutgoingMessage, Sender};
use std::sync::Arc;
use std::time::Duration;
use store::sqlite::QueuedMessage;
use store::{SqliteQueue, SqliteStore};
use timers::Clock as _;
use tokio::sync::watch;

/// Attempts before a message goes to the dead letters.
pub const MAX_ATTEMPTS: u32 = 8;
/// Messages one consumer takes at a time.
const BATCH: usize = 64;
/// Stops one test-clock move makes at most (then it jumps to its end).
const MAX_STEPS: usize = 5_000;

/// Where the sender's Graph API calls go.
pub enum Graph {
    Cloud(sender::CloudGraph),
    /// No access token: a sink that accepts every message (fake wamids) and records it; the
    /// sends show in the console's message log as sent.
    Sink(MemoryGraph),
}

impl GraphApi for Graph {
    async fn send_message(
        &self,
        number: &rules::BusinessNumberId,
        message: &OutgoingMessage,
    ) -> Result<rules::MessageId, GraphError> {
        match self {
            Graph::Cloud(g) => g.send_message(number, message).await,
            Graph::Sink(g) => g.send_message(number, message).await,
        }
    }
}

pub type LocalRouter = router::Router<SqliteStore, SqliteQueue, Arc<LocalTimers>>;
pub type LocalSender = Sender<SqliteStore, SqliteQueue, Graph, EngineClock>;

/// The running engine's parts (cheap to share).
pub struct Engine {
    pub store: SqliteStore,
    pub queue: SqliteQueue,
    pub clock: EngineClock,
    pub timers: Arc<LocalTimers>,
    pub router: LocalRouter,
    pub sender: Arc<LocalSender>,
    /// Messages being handled right now.
    busy: std::sync::atomic::AtomicUsize,
    /// The inbound media fetcher, when there is a Graph API to fetch from ([`crate::media`]).
    pub(crate) media: std::sync::OnceLock<crate::media::LocalMedia>,
}

impl Engine {
    /// The engine over `store` (the state) and `queue_store` (the queues and timers; the same
    /// store or one in another file).
    pub async fn open(
        store: SqliteStore,
        queue_store: &SqliteStore,
        clock: EngineClock,
        graph: Graph,
        outreach_key: OutreachKey,
    ) -> store::Result<Arc<Engine>> {
        let queue = {
            let clock = clock.clone();
            SqliteQueue::open(queue_store, move || clock.now_ms()).await?
        };
        let timers = Arc::new(LocalTimers::open(queue.clone(), clock.clone()).await?);
        // One process: the console's settings changes reach the router within a second.
        let router = router::Router::new(
            store.clone(),
            queue.clone(),
            timers.clone(),
            outreach_key.clone(),
        )
        .settings_ttl(Duration::from_secs(1));
        let sender = Arc::new(Sender::new(
            store.clone(),
            queue.clone(),
            graph,
            clock.clone(),
            Arc::new(sender::EmfAlerts),
            outreach_key,
            sender::Options::default(),
        ));
        Ok(Arc::new(Engine {
            store,
            queue,
            clock,
            timers,
            router,
            sender,
            busy: std::sync::atomic::AtomicUsize::new(0),
            media: std::sync::OnceLock::new(),
        }))
    }

    /// Whether nothing is due: no message ready or being handled, no timer due.
    pub async fn is_idle(&self) -> store::Result<bool> {
        let backlog = self.queue.backlog().await?;
        Ok(backlog.ready == 0
            && backlog.taken == 0
            && self.busy.load(std::sync::atomic::Ordering::Acquire) == 0
            && !self.timers.any_due())
    }

    /// The test clock: handles what is due now, then moves the clock forward by `seconds` in
    /// steps, stopping at each timer deadline and each delayed message's due time on the way and
    /// handling what falls due there, so that everything happens at its own time and in order,
    /// as it would have in real time. `false` when the engine did not settle within `limit`.
    pub async fn advance(&self, seconds: u64, limit: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + limit;
        if !self.settle_until(deadline).await {
            return false;
        }
        let by = i64::try_from(seconds.saturating_mul(1000)).unwrap_or(i64::MAX / 4);
        let target = self.clock.now_ms().saturating_add(by);
        for _ in 0..MAX_STEPS {
            let next_timer = self.timers.next_deadline().map(|t| t.unix() * 1000);
            let next_message = self.queue.backlog().await.ok().and_then(|b| b.next_due_ms);
            match [next_timer, next_message].into_iter().flatten().min() {
                Some(at) if at <= target => {
                    self.clock.advance_ms(at - self.clock.now_ms());
                    self.timers.fire_due().await;
                    if !self.settle_until(deadline).await {
                        return false;
                    }
                }
                _ => break,
            }
        }
        self.clock.advance_ms(target - self.clock.now_ms());
        self.timers.fire_due().await;
        self.settle_until(deadline).await
    }

    /// Waits until [`Engine::is_idle`] (checked until `limit` passes).
    pub async fn settle(&self, limit: Duration) -> bool {
        self.settle_until(tokio::time::Instant::now() + limit).await
    }

    async fn settle_until(&self, deadline: tokio::time::Instant) -> bool {
        // Two idle looks in a row, a moment apart: work may be between two steps.
        let mut idle_looks = 0;
        while tokio::time::Instant::now() < deadline {
            if self.is_idle().await.unwrap_or(false) {
                idle_looks += 1;
                if idle_looks >= 2 {
                    return true;
                }
            } else {
                idle_looks = 0;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        false
    }

    /// Runs the consumers and the timer driver until `stop` turns true; each consumer finishes
    /// the messages it holds, so nothing is left half-handled.
    pub async fn run(self: Arc<Self>, stop: watch::Receiver<bool>) {
        let timers = {
            let engine = self.clone();
            let mut stop = stop.clone();
            tokio::spawn(async move {
                tokio::select! {
                    () = engine.timers.run() => {}
                    _ = stop.wait_for(|s| *s) => {}
                }
            })
        };
        let consumers = [
            Destination::Inbound,
            Destination::Updates,
            Destination::Outbound,
        ]
        .map(|dest| tokio::spawn(self.clone().consume(dest, stop.clone())));
        for consumer in consumers {
            let _ = consumer.await;
        }
        let _ = timers.await;
    }

    async fn consume(self: Arc<Self>, from: Destination, mut stop: watch::Receiver<bool>) {
        loop {
            if *stop.borrow() {
                return;
            }
            let arrived = self.queue.arrived();
            tokio::pin!(arrived);
            arrived.as_mut().enable();
            let moved = self.clock.moved();
            let messages = match self.queue.receive(from, BATCH).await {
                Ok(m) => m,
                Err(error) => {
                    tracing::warn!(queue = ?from, %error, "queue read failed; trying again");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    continue;
                }
            };
            if messages.is_empty() {
                // Delayed messages fall due with time: look again at least every 100 ms.
                tokio::select! {
                    () = &mut arrived => {}
                    () = moved => {}
                    () = tokio::time::sleep(Duration::from_millis(100)) => {}
                    _ = stop.wait_for(|s| *s) => return,
                }
                continue;
            }
            self.busy
                .fetch_add(messages.len(), std::sync::atomic::Ordering::AcqRel);
            let count = messages.len();
            match from {
                Destination::Inbound => self.route(messages).await,
                Destination::Updates | Destination::Outbound | Destination::Media => {
                    self.send_all(from, messages).await;
                }
            }
            self.busy
                .fetch_sub(count, std::sync::atomic::Ordering::AcqRel);
        }
    }

    /// Inbound: each contact group in order, the groups side by side; what was handled is
    /// deleted in one write at the end.
    async fn route(&self, messages: Vec<QueuedMessage>) {
        let lanes = queue::lanes::into_lanes(messages, |m| m.envelope.group.as_deref())
            .into_iter()
            .map(|lane| self.route_group(lane));
        let done: Vec<i64> = futures_util::future::join_all(lanes)
            .await
            .into_iter()
            .flatten()
            .collect();
        self.finish(&done).await;
    }

    /// One contact's messages in order; returns those handled. At the first failure the rest
    /// of the group is put back behind it (FIFO).
    async fn route_group(&self, lane: Vec<QueuedMessage>) -> Vec<i64> {
        let applied = queue::lanes::in_order(&lane, |m| async move {
            match serde_json::from_str::<whatsapp::Event>(&m.envelope.body) {
                Err(error) => Err((format!("unreadable event: {error}"), true)),
                // MEDIA-1: the fetch is queued before the event is applied, so a retried
                // event queues it again rather than never (the fetcher recognises a repeat).
                Ok(event) => match self.queue_media_fetch(&event).await {
                    Err(reason) => Err((reason, false)),
                    Ok(()) => self
                        .router
                        .apply(&event, self.clock.now())
                        .await
                        .map(drop)
                        .map_err(|e| (e.to_string(), e.is_permanent())),
                },
            }
        })
        .await;
        let Err((i, (reason, permanent))) = applied else {
            return lane.iter().map(|m| m.seq).collect();
        };
        self.failed(&lane[i], reason, permanent).await;
        // The group's later messages wait behind it (FIFO).
        let held: Vec<i64> = lane[i + 1..].iter().map(|m| m.seq).collect();
        if let Err(error) = self.queue.release(held).await {
            tracing::warn!(%error, "could not put messages back; they return at restart");
        }
        lane[..i].iter().map(|m| m.seq).collect()
    }

    /// Updates and outbound: every message on its own.
    async fn send_all(&self, from: Destination, messages: Vec<QueuedMessage>) {
        let messages = self.take_media_jobs(messages).await;
        let handled = messages.into_iter().map(|m| async move {
            let result = match from {
                Destination::Outbound => self.sender.handle_outbound(&m.envelope.body).await,
                _ => self.sender.handle_update(&m.envelope.body).await,
            };
            (m, result)
        });
        let mut done = Vec::new();
        for (m, result) in futures_util::future::join_all(handled).await {
            match result {
                Ok(_) => done.push(m.seq),
                Err(e) => {
                    let permanent = !e.is_retryable();
                    self.failed(&m, e.to_string(), permanent).await;
                }
            }
        }
        self.finish(&done).await;
    }

    async fn finish(&self, done: &[i64]) {
        if let Err(error) = self.queue.delete(done.to_vec()).await {
            // Handled but not deleted: they come back and are recognised as repeats.
            tracing::warn!(%error, "handled messages not deleted; they will be seen again");
        }
    }

    pub(crate) async fn failed(&self, m: &QueuedMessage, reason: String, permanent: bool) {
        let attempts = m.attempts + 1;
        if permanent || attempts >= MAX_ATTEMPTS {
            // The queue position, not the key: timer keys name the contact (a phone number).
            tracing::error!(seq = m.seq, queue = ?m.dest, attempts, %reason, "message moved to the dead letters (local_dead)");
            if let Err(error) = self.queue.dead_letter(m.seq, reason).await {
                tracing::warn!(%error, "dead-lettering failed; the message stays queued");
            }
        } else {
            let backoff = Duration::from_millis(250 * 2u64.pow(attempts.min(8)));
            tracing::warn!(seq = m.seq, queue = ?m.dest, attempts, %reason, "message failed; retried");
            if let Err(error) = self.queue.retry(vec![m.seq], backoff).await {
                tracing::warn!(%error, "could not put the message back; it returns at restart");
            }
        }
    }
}
