//! The sender's core: [`Sender`], generic over its ports, with the clock as an input. The Lambda
//! handler and the local runner both call it; it decides nothing the rules decide.

use crate::alerts::AlertSink;
use crate::clock::Clock;
use crate::graph::GraphApi;
use queue::{CampaignTick, DelayedQueue, Destination, Envelope, OutboundJob, QueueError, SendJob};
use rules::billing::{PricingSchedule, RateTable};
use rules::outreach::OutreachKey;
use rules::pacing::{Millis, PacingSettings};
use rules::send_error::RetryPolicy;
use rules::{BusinessNumberId, Duration, MessageId, Timestamp};
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use store::{ParkReason, SendingStore, Store, StoreError};

/// What the sender may tune; the defaults are the documented decisions.
#[derive(Debug, Clone)]
pub struct Options {
    /// BILL-4: the pricing rules by effective date.
    pub pricing: PricingSchedule,
    /// SEND-2: backoffs and attempt limits.
    pub retry: RetryPolicy,
    /// How long one invocation holds a send before another delivery may take it.
    pub lease: Duration,
    /// How long an ambiguous send waits for a status webhook that names it.
    pub ambiguity_wait: Duration,
    /// Pacing waits up to this long happen inside the invocation; longer ones go back to the queue.
    pub inline_wait_ms: Millis,
    /// Contacts one campaign tick issues at most (also bounded by the number's throughput and
    /// messaging limit).
    pub campaign_slice: u32,
    /// The tick interval while a campaign has contacts in flight or waiting for answers.
    pub campaign_idle_tick: Duration,
    /// A number's pacing before Meta told us anything (SEND-3 defaults: 80/s, TIER_250).
    pub default_pacing: PacingSettings,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            pricing: PricingSchedule::meta_announced(),
            retry: RetryPolicy::default(),
            lease: Duration::seconds(30),
            ambiguity_wait: Duration::minutes(10),
            inline_wait_ms: 1_000,
            campaign_slice: 200,
            campaign_idle_tick: Duration::minutes(1),
            default_pacing: PacingSettings::default(),
        }
    }
}

/// What handling one queue message did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Meta accepted the send.
    Sent { wamid: MessageId },
    /// The key was sent before: nothing was sent again.
    AlreadySent { wamid: MessageId },
    /// Refused before sending, with the reason kept on the send record (SEND-1, TPL-1, CAMP-3).
    Refused { reason: String },
    /// Failed for good, with Meta's code when it gave one (SEND-2).
    Failed { code: Option<u32>, reason: String },
    /// Not yet (pacing, backoff): back on the queue until `until_ms` (CAMP-5: never dropped).
    Waiting { until_ms: Millis, because: String },
    /// Another invocation holds the send; looked at again at `until_ms`.
    Busy { until_ms: Millis },
    /// The request may have reached Meta; a status webhook may still name it until `check_until`.
    Ambiguous { check_until: Timestamp },
    /// Held until the template is approved or the number resumes.
    Parked { on: ParkReason },
    /// A campaign tick: `issued` sends queued; the chain's next tick (if any).
    Ticked {
        campaign: rules::CampaignId,
        issued: u32,
        next: Option<Timestamp>,
    },
    /// A tick that is not its campaign's current one (a duplicate or a superseded chain).
    StaleTick,
    /// An update applied (`what` names it for the log).
    Applied { what: &'static str },
    /// An update or tick that changes nothing (unknown campaign, redelivery, not for the sender).
    Ignored { why: String },
}

#[derive(Debug, thiserror::Error)]
pub enum SenderError {
    #[error("store: {0}")]
    Store(#[from] StoreError),
    #[error("queue: {0}")]
    Queue(#[from] QueueError),
    /// A message that is not what the queue should carry (kept for the dead-letter queue).
    #[error("invalid message: {0}")]
    Invalid(String),
    /// Stored data the sender cannot read (a campaign definition, a row).
    #[error("corrupt data: {0}")]
    Corrupt(String),
}

impl SenderError {
    /// Whether the same message may succeed later (throttling, an unavailable queue …).
    pub fn is_retryable(&self) -> bool {
        match self {
            SenderError::Store(e) => e.is_retryable(),
            SenderError::Queue(_) => true,
            SenderError::Invalid(_) | SenderError::Corrupt(_) => false,
        }
    }
}

pub type Result<T, E = SenderError> = std::result::Result<T, E>;

/// The sender.
pub struct Sender<S, Q, G, C> {
    pub(crate) store: S,
    pub(crate) queue: Q,
    pub(crate) graph: G,
    pub(crate) clock: C,
    pub(crate) alerts: Arc<dyn AlertSink>,
    pub(crate) outreach_key: OutreachKey,
    pub(crate) options: Options,
    /// Account → number links already written by this process (one write per cold start).
    pub(crate) linked: Mutex<HashSet<(String, String)>>,
    /// BILL-6: the rate table as last read (every send reads it with its context) and when; the
    /// status path prices what Meta reported with it while it is fresh.
    pub(crate) rates: Mutex<Option<(Arc<RateTable>, Millis)>>,
}

/// How long the status path trusts the rate table last read.
const RATES_FRESH_MS: Millis = 60_000;

impl<S, Q, G, C> Sender<S, Q, G, C>
where
    S: Store + SendingStore,
    Q: DelayedQueue,
    G: GraphApi,
    C: Clock,
{
    pub fn new(
        store: S,
        queue: Q,
        graph: G,
        clock: C,
        alerts: Arc<dyn AlertSink>,
        outreach_key: OutreachKey,
        options: Options,
    ) -> Self {
        Sender {
            store,
            queue,
            graph,
            clock,
            alerts,
            outreach_key,
            options,
            linked: Mutex::new(HashSet::new()),
            rates: Mutex::new(None),
        }
    }

    /// BILL-6: keeps the rate table a send read.
    pub(crate) fn remember_rates(&self, table: Option<RateTable>) -> Arc<RateTable> {
        let table = Arc::new(table.unwrap_or_default());
        *self.rates.lock().unwrap_or_else(|e| e.into_inner()) =
            Some((table.clone(), self.clock.now_ms()));
        table
    }

    /// BILL-6: the rate table, as last read when that is fresh, else read now.
    pub(crate) async fn current_rates(&self) -> Result<Arc<RateTable>> {
        let now = self.clock.now_ms();
        let cached = self.rates.lock().unwrap_or_else(|e| e.into_inner()).clone();
        match cached {
            Some((table, at)) if now - at < RATES_FRESH_MS && now >= at => Ok(table),
            _ => {
                let table = self.store.rates().await?;
                Ok(self.remember_rates(table))
            }
        }
    }

    pub fn store(&self) -> &S {
        &self.store
    }

    pub fn queue(&self) -> &Q {
        &self.queue
    }

    pub fn graph(&self) -> &G {
        &self.graph
    }

    pub fn clock(&self) -> &C {
        &self.clock
    }

    pub fn options(&self) -> &Options {
        &self.options
    }

    /// One outbound-queue message: a send or a campaign tick.
    pub async fn handle_outbound(&self, body: &str) -> Result<Outcome> {
        match OutboundJob::parse(body) {
            Ok(OutboundJob::Send(job)) => self.send(job).await,
            Ok(OutboundJob::CampaignTick(tick)) => self.tick(tick).await,
            Ok(OutboundJob::CampaignResult(result)) => self.campaign_result(result).await,
            Err(e) => Err(SenderError::Invalid(format!("not an outbound job: {e}"))),
        }
    }

    /// One updates-queue message: a normalised webhook event.
    pub async fn handle_update(&self, body: &str) -> Result<Outcome> {
        let event: whatsapp::Event = serde_json::from_str(body)
            .map_err(|e| SenderError::Invalid(format!("not a webhook event: {e}")))?;
        self.apply_update(event).await
    }

    /// Puts a job back on the outbound queue, due at `until_ms` (SQS holds it at most 15 minutes;
    /// the record keeps the real time, so an early delivery waits again).
    pub(crate) async fn requeue_at(&self, envelope: Envelope, until_ms: Millis) -> Result<()> {
        let wait = (until_ms - self.clock.now_ms()).max(0) as u64;
        if wait == 0 {
            self.queue
                .send(Destination::Outbound, vec![envelope])
                .await?;
        } else {
            self.queue
                .send_delayed(
                    Destination::Outbound,
                    vec![envelope],
                    std::time::Duration::from_millis(wait),
                )
                .await?;
        }
        Ok(())
    }

    pub(crate) async fn requeue_job(&self, job: &SendJob, until_ms: Millis) -> Result<()> {
        self.requeue_at(job.envelope(), until_ms).await
    }

    pub(crate) async fn requeue_tick(&self, tick: &CampaignTick, at: Timestamp) -> Result<()> {
        self.requeue_at(tick.envelope(), at.unix() * 1000).await
    }

    /// Records that `number` belongs to account `waba` (once per process).
    pub(crate) async fn link_number(
        &self,
        waba: &str,
        number: &BusinessNumberId,
        display: Option<&str>,
    ) -> Result<()> {
        if waba.is_empty() {
            return Ok(());
        }
        let id = (waba.to_owned(), number.as_str().to_owned());
        let known = self
            .linked
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(&id);
        if !known {
            self.store
                .link_number(
                    waba,
                    &store::NumberLink {
                        number: number.clone(),
                        display_phone_number: display.map(str::to_owned),
                    },
                )
                .await?;
            self.linked
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(id);
        }
        Ok(())
    }
}

/// Whole seconds of a time in milliseconds.
pub(crate) fn second_of(ms: Millis) -> Timestamp {
    Timestamp::from_unix(ms.div_euclid(1000))
}

pub(crate) fn ms_of(at: Timestamp) -> Millis {
    at.unix() * 1000
}
