//! Events out (EVT-1..4), the store's side: which stored items feed the projector and how their
//! images decode ([`project_item`], used by the SQLite triggers and by the DynamoDB stream's
//! projector alike), the event feed's port ([`EventStore`]), and outgoing webhooks' endpoints,
//! deliveries and dead letters ([`WebhookStore`]).
//!
//! Events are derived from committed item changes, never written by the router or the sender:
//! on SQLite by triggers on the `items` table, in the same transaction as the change; on DynamoDB
//! by the table's stream feeding the projector function. Either way the commit path writes
//! nothing more than before (P3), and an event exists exactly when its change does.

use crate::items::{CampaignItem, LogItem, OutboundPointerItem, TemplateItem};
use crate::model::{OutboundMessage, Page};
use crate::sending::NumberPacingRecord;
use crate::{Result, keys};
use rules::events::{DeliveryTimes, DomainEvent, ItemChange, NumberStatus, project};
use rules::pacing::MessagingLimit;
use rules::{BusinessNumberId, ContactKey, Timestamp};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::future::Future;

/// A stored item's body as one adapter hands it over: SQLite's JSON text, a stream record's
/// attribute map.
pub trait ItemImage {
    fn decode<T: DeserializeOwned>(&self) -> Option<T>;
}

impl ItemImage for str {
    fn decode<T: DeserializeOwned>(&self) -> Option<T> {
        serde_json::from_str(self).ok()
    }
}

/// Whether an item of this key can produce events (the SQLite triggers' `WHEN` says the same).
pub fn feeds_events(pk: &str, sk: &str) -> bool {
    (pk.starts_with("C#") && (sk.starts_with(keys::LOG_PREFIX) || sk.starts_with("S#")))
        || (pk.starts_with("W#") && sk == "W")
        || (pk.starts_with("K#") && sk == keys::CAMPAIGN_SK)
        || pk.starts_with("T#")
        || (pk.starts_with("N#") && sk == crate::sending::keys::NUMBER_PACING_SK)
}

/// The (number, contact) of a contact partition key `C#<number>#<contact>`.
fn contact_of(pk: &str) -> Option<(BusinessNumberId, ContactKey)> {
    let (number, contact) = pk.strip_prefix("C#")?.split_once('#')?;
    Some((
        BusinessNumberId::new(number).ok()?,
        ContactKey::new(contact).ok()?,
    ))
}

/// EVT-1: the events of one item's change, from its images before (`None`: created) and after
/// (`None`: deleted), committed at `at`. Items that feed no events, deletions and images that do
/// not decode give none.
pub fn project_item<I: ItemImage + ?Sized>(
    pk: &str,
    sk: &str,
    old: Option<&I>,
    new: Option<&I>,
    at: Timestamp,
) -> Vec<DomainEvent> {
    let Some(new) = new else {
        return Vec::new();
    };
    if pk.starts_with("C#") {
        let Some((number, contact)) = contact_of(pk) else {
            return Vec::new();
        };
        if old.is_some() {
            // Log entries and send pointers are written once; a rewrite is not a new event.
            return Vec::new();
        }
        if sk.starts_with(keys::LOG_PREFIX) {
            let Some(item) = new.decode::<LogItem>() else {
                return Vec::new();
            };
            return project(&ItemChange::LogAppended {
                number: &number,
                contact: &contact,
                item_key: sk,
                entry: &item.entry,
            });
        }
        if sk.starts_with("S#") {
            let Some(item) = new.decode::<OutboundPointerItem>() else {
                return Vec::new();
            };
            return project(&ItemChange::SendClaimed {
                number: &number,
                contact: &contact,
                idempotency_key: &item.idempotency_key,
                claimed_at: item.claimed_at,
            });
        }
        return Vec::new();
    }
    if pk.starts_with("W#") && sk == "W" {
        let Some(after) = new.decode::<OutboundMessage>() else {
            return Vec::new();
        };
        let before = old
            .and_then(|o| o.decode::<OutboundMessage>())
            .unwrap_or_default();
        let Some(wamid) = after.wamid.as_ref() else {
            return Vec::new();
        };
        let times = |m: &OutboundMessage| DeliveryTimes {
            sent_at: m.sent_at,
            delivered_at: m.delivered_at,
            read_at: m.read_at,
            failed_at: m.failed_at,
        };
        return project(&ItemChange::Delivery {
            number: after.number.as_ref(),
            contact: after.contact.as_ref(),
            wamid,
            before: times(&before),
            after: times(&after),
            error_code: after.error.as_ref().map(|e| e.code),
        });
    }
    if pk.starts_with("K#") && sk == keys::CAMPAIGN_SK {
        let Some(after) = new.decode::<CampaignItem>() else {
            return Vec::new();
        };
        let before = old.and_then(|o| o.decode::<CampaignItem>());
        return project(&ItemChange::Campaign {
            campaign: &after.id,
            number: &after.number,
            before: before.as_ref().map(|b| &b.hopper),
            after: &after.hopper,
            at,
        });
    }
    if let Some(number) = pk.strip_prefix("T#") {
        let (Ok(number), Some(after)) =
            (BusinessNumberId::new(number), new.decode::<TemplateItem>())
        else {
            return Vec::new();
        };
        let before = old.and_then(|o| o.decode::<TemplateItem>());
        return project(&ItemChange::Template {
            number: &number,
            before: before.as_ref().map(|b| &b.template),
            after: &after.template,
            at,
        });
    }
    if let Some(number) = pk.strip_prefix("N#")
        && sk == crate::sending::keys::NUMBER_PACING_SK
    {
        let (Ok(number), Some(after)) = (
            BusinessNumberId::new(number),
            new.decode::<NumberPacingRecord>(),
        ) else {
            return Vec::new();
        };
        let before = old
            .and_then(|o| o.decode::<NumberPacingRecord>())
            .map(|r| number_status(&r));
        return project(&ItemChange::Number {
            number: &number,
            before: before.as_ref(),
            after: &number_status(&after),
            at,
        });
    }
    Vec::new()
}

fn number_status(r: &NumberPacingRecord) -> NumberStatus {
    NumberStatus {
        stopped: r
            .pacing
            .stopped
            .then(|| r.stop_reason.clone().unwrap_or_else(|| "stopped".into())),
        messaging_limit: match r.settings.messaging_limit {
            MessagingLimit::Contacts(n) => Some(u64::from(n)),
            MessagingLimit::Unlimited => None,
        },
    }
}

/// An event as the feed returns it: the event and the cursor just after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEvent {
    pub cursor: String,
    pub event: DomainEvent,
}

/// EVT-3: the event feed, in commit order.
pub trait EventStore: Send + Sync {
    /// Events after `after` (`None`: from the first), oldest first, at most `limit`, of the
    /// given numbers (`None`: every number). `Page::next` is the cursor of the last event
    /// returned (`None` when the page is empty: ask again with the same cursor later).
    fn events_after(
        &self,
        numbers: Option<&[BusinessNumberId]>,
        after: Option<&str>,
        limit: u32,
    ) -> impl Future<Output = Result<Page<StoredEvent>>> + Send;
}

/// An outgoing webhook endpoint (EVT-4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookEndpoint {
    pub id: String,
    pub url: String,
    /// Event types delivered (empty: all).
    #[serde(default)]
    pub types: Vec<String>,
    /// Numbers whose events are delivered (empty: all).
    #[serde(default)]
    pub numbers: Vec<BusinessNumberId>,
    #[serde(default)]
    pub description: Option<String>,
    /// EVT-5: the endpoint of this external bot: it is sent only the customer's messages in the
    /// conversations the bot handles (`message.received` naming it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bot: Option<rules::RecipeId>,
    /// `whsec_…`, shown once when created or rotated.
    pub secret: String,
    /// The secret before the last rotation and when it stops signing.
    #[serde(default)]
    pub previous_secret: Option<(String, Timestamp)>,
    pub created_at: Timestamp,
    /// Events up to this cursor were queued for this endpoint.
    #[serde(default)]
    pub cursor: Option<String>,
}

impl WebhookEndpoint {
    /// Whether this endpoint is sent the event (EVT-4 filters, EVT-5 bot endpoints).
    pub fn delivers(&self, event: &DomainEvent) -> bool {
        rules::events::delivers(&self.types, &self.numbers, self.bot.as_ref(), event)
    }
}

/// EVT-5: a machine principal for an integrator (an external bot), created and revoked by
/// admins and scoped to numbers. Only the SHA-256 of its secret is stored; the secret is shown
/// once. Revoking keeps the record with `revoked_at` (neither store deletes it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IntegrationToken {
    /// `int_…`, public: names the token in lists and in revocation.
    pub id: String,
    pub name: String,
    /// The numbers it may act on (never empty).
    pub numbers: Vec<BusinessNumberId>,
    /// Hex SHA-256 of the secret.
    pub token_hash: String,
    pub created_at: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<Timestamp>,
}

/// EVT-5: integration tokens.
pub trait IntegrationStore: Send + Sync {
    /// Creates or replaces the token's record (revoking writes it with `revoked_at`).
    fn put_integration(&self, token: &IntegrationToken) -> impl Future<Output = Result<()>> + Send;

    /// Every token, revoked ones included, in id order.
    fn integrations(&self) -> impl Future<Output = Result<Vec<IntegrationToken>>> + Send;

    /// The token whose secret hashes to `token_hash` (revoked ones included: the caller
    /// refuses them).
    fn integration_by_hash(
        &self,
        token_hash: &str,
    ) -> impl Future<Output = Result<Option<IntegrationToken>>> + Send;
}

/// One delivery of one event to one endpoint, as the deliverer and the dead-letter list see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub endpoint: String,
    /// The event's position in the log (its cursor).
    pub position: String,
    pub event_id: String,
    pub event_type: String,
    /// The event as JSON text: the exact bytes signed and sent.
    pub body: String,
    pub attempts: u32,
    pub first_attempt_at: Option<Timestamp>,
    pub next_at: Timestamp,
    /// The last failure (HTTP status or transport error), never the receiver's body.
    pub last_error: Option<String>,
}

/// Webhook endpoints, their delivery queue and dead letters (EVT-4).
pub trait WebhookStore: Send + Sync {
    /// Creates or replaces the endpoint (its cursor is kept when it exists).
    fn put_webhook(&self, endpoint: &WebhookEndpoint) -> impl Future<Output = Result<()>> + Send;

    fn webhook(&self, id: &str) -> impl Future<Output = Result<Option<WebhookEndpoint>>> + Send;

    fn webhooks(&self) -> impl Future<Output = Result<Vec<WebhookEndpoint>>> + Send;

    /// Deletes the endpoint and its pending deliveries and dead letters. `false`: no such one.
    fn delete_webhook(&self, id: &str) -> impl Future<Output = Result<bool>> + Send;

    /// Queues, for each endpoint, the events committed since its cursor that it subscribes to,
    /// due at `now`, and moves the cursors. Returns how many deliveries were queued.
    fn queue_deliveries(
        &self,
        now: Timestamp,
        limit: u32,
    ) -> impl Future<Output = Result<u32>> + Send;

    /// Deliveries due at `now`, oldest first, each the first undelivered one of its endpoint and
    /// ordering lane (EVT-4: in order per conversation; a dead letter no longer holds its lane).
    fn due_deliveries(
        &self,
        now: Timestamp,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<Delivery>>> + Send;

    /// The receiver answered 2xx: the delivery is done.
    fn delivered(&self, endpoint: &str, position: &str) -> impl Future<Output = Result<()>> + Send;

    /// An attempt failed: retry at `retry_at`, or (`None`) keep it as a dead letter.
    fn delivery_failed(
        &self,
        endpoint: &str,
        position: &str,
        first_attempt_at: Timestamp,
        retry_at: Option<Timestamp>,
        error: &str,
    ) -> impl Future<Output = Result<()>> + Send;

    /// The endpoint's dead letters, oldest first.
    fn dead_letters(
        &self,
        endpoint: &str,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<Delivery>>> + Send;

    /// Queues dead letters again, due at `now` (all of the endpoint's, or one event's). Returns
    /// how many.
    fn redeliver(
        &self,
        endpoint: &str,
        event_id: Option<&str>,
        now: Timestamp,
    ) -> impl Future<Output = Result<u32>> + Send;
}
