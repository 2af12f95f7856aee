//! Events on DynamoDB (EVT-1, EVT-3, EVT-4). The table's stream (NEW_AND_OLD_IMAGES) feeds the
//! projector function, which calls the same pure projector as SQLite's triggers
//! ([`crate::events::project_item`], with the stream record's images) and writes the events with
//! [`DynamoStore::put_events`]: the router's and the sender's commits write nothing more (P3).
//!
//! | collection | pk | sk |
//! |---|---|---|
//! | a number's events | `V#<number>` | `<record time, 13 digits ms>#<stream sequence number, 40 digits>#<index, 3 digits>` |
//! | webhook endpoint | `WH` | `<endpoint id>` |
//! | webhook delivery / dead letter | `WD#<endpoint id>` | the event's position (its `V#` sort key) |
//! | integration token (EVT-5) | `IT` | the hex SHA-256 of its secret |
//!
//! An event's position comes from its stream record (creation time, then the shard's sequence
//! number), so a replayed record overwrites its own events instead of adding new ones, and one
//! contact's events (one partition key, one shard) keep their commit order.

use super::*;
use crate::events::{
    Delivery, EventStore, IntegrationStore, IntegrationToken, StoredEvent, WebhookEndpoint,
    WebhookStore,
};
use rules::events::DomainEvent;

const WEBHOOKS_PK: &str = "WH";
const INTEGRATIONS_PK: &str = "IT";
/// The attribute of a deleted endpoint's tombstone.
const DELETED: &str = "deleted";

fn events_pk(number: &BusinessNumberId) -> String {
    format!("V#{number}")
}

fn deliveries_pk(endpoint: &str) -> String {
    format!("WD#{endpoint}")
}

/// The position of the `index`-th event of a stream record.
pub fn event_position(created_at_ms: i64, sequence_number: &str, index: usize) -> String {
    format!(
        "{:013}#{:0>40}#{index:03}",
        created_at_ms.max(0),
        sequence_number
    )
}

#[derive(Debug, Clone, Serialize, serde::Deserialize)]
struct EventItem {
    event_id: String,
    /// The event as JSON text (given back byte for byte: it is what webhooks sign).
    body: String,
}

#[derive(Debug, Clone, Serialize, serde::Deserialize)]
struct DeliveryItem {
    lane: String,
    event_id: String,
    event_type: String,
    body: String,
    #[serde(default)]
    dead: bool,
    #[serde(default)]
    attempts: u32,
    #[serde(default)]
    first_at: Option<Timestamp>,
    next_at: Timestamp,
    #[serde(default)]
    last_error: Option<String>,
}

impl DeliveryItem {
    fn delivery(self, endpoint: &str, position: String) -> Delivery {
        Delivery {
            endpoint: endpoint.to_owned(),
            position,
            event_id: self.event_id,
            event_type: self.event_type,
            body: self.body,
            attempts: self.attempts,
            first_attempt_at: self.first_at,
            next_at: self.next_at,
            last_error: self.last_error,
        }
    }
}

impl DynamoStore {
    /// Writes projected events at their positions (idempotent: a replayed stream record writes
    /// the same items again). At most 25 a request (`BatchWriteItem`).
    pub async fn put_events(&self, events: &[(String, DomainEvent)]) -> Result<()> {
        for chunk in events.chunks(25) {
            let mut writes = Vec::with_capacity(chunk.len());
            for (position, event) in chunk {
                let body =
                    serde_json::to_string(event).map_err(|e| StoreError::Invalid(e.to_string()))?;
                let key = Key {
                    pk: events_pk(&event.number),
                    sk: position.clone(),
                };
                let item = item_of(
                    &key,
                    &EventItem {
                        event_id: event.id.clone(),
                        body,
                    },
                )?;
                writes.push(
                    aws_sdk_dynamodb::types::WriteRequest::builder()
                        .put_request(built(
                            aws_sdk_dynamodb::types::PutRequest::builder()
                                .set_item(Some(item))
                                .build(),
                        )?)
                        .build(),
                );
            }
            let mut pending = Some(HashMap::from([(self.table.to_string(), writes)]));
            for attempt in 0..8 {
                let out = self
                    .client
                    .batch_write_item()
                    .set_request_items(pending.take())
                    .send()
                    .await
                    .map_err(|e| sdk_error("put_events", e))?;
                match out.unprocessed_items.filter(|u| !u.is_empty()) {
                    None => break,
                    Some(left) if attempt < 7 => {
                        pending = Some(left);
                        tokio::time::sleep(std::time::Duration::from_millis(20 << attempt)).await;
                    }
                    Some(_) => {
                        return Err(StoreError::Retryable {
                            operation: "put_events",
                            message: "events left unprocessed".into(),
                        });
                    }
                }
            }
        }
        Ok(())
    }

    async fn number_events(
        &self,
        number: &BusinessNumberId,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<(String, EventItem)>> {
        let query = self
            .query()
            .consistent_read(true)
            .key_condition_expression("#pk = :pk AND #sk > :after")
            .expression_attribute_names("#pk", "pk")
            .expression_attribute_names("#sk", "sk")
            .expression_attribute_values(":pk", s(events_pk(number)))
            .expression_attribute_values(":after", s(after.unwrap_or("0")))
            .limit(limit as i32);
        let (items, _) = self
            .query_until("events_after", query, limit as usize)
            .await?;
        items
            .into_iter()
            .map(|i| {
                let sk = sk_of(&i);
                parse::<EventItem>(i).map(|e| (sk, e))
            })
            .collect()
    }

    async fn deliveries(&self, endpoint: &str) -> Result<Vec<(String, DeliveryItem)>> {
        let query = self
            .query()
            .consistent_read(true)
            .key_condition_expression("#pk = :pk")
            .expression_attribute_names("#pk", "pk")
            .expression_attribute_values(":pk", s(deliveries_pk(endpoint)));
        let (items, _) = self.query_until("deliveries", query, usize::MAX).await?;
        items
            .into_iter()
            .map(|i| {
                let sk = sk_of(&i);
                parse::<DeliveryItem>(i).map(|d| (sk, d))
            })
            .collect()
    }
}

impl EventStore for DynamoStore {
    async fn events_after(
        &self,
        numbers: Option<&[BusinessNumberId]>,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Page<StoredEvent>> {
        let numbers = match numbers {
            Some(ns) => ns.to_vec(),
            None => self.numbers().await?,
        };
        // Each number's partition from the cursor, merged by position (positions of different
        // numbers compare by record time first).
        let mut rows = Vec::new();
        for number in &numbers {
            rows.extend(self.number_events(number, after, limit).await?);
        }
        rows.sort_by(|a, b| a.0.cmp(&b.0));
        rows.truncate(limit as usize);
        let items = rows
            .into_iter()
            .map(|(sk, item)| {
                let event = serde_json::from_str(&item.body)
                    .map_err(|e| StoreError::corrupt("V#", &sk, e))?;
                Ok(StoredEvent { cursor: sk, event })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Page {
            next: items.last().map(|e| e.cursor.clone()),
            items,
        })
    }
}

impl WebhookStore for DynamoStore {
    async fn put_webhook(&self, endpoint: &WebhookEndpoint) -> Result<()> {
        let key = Key {
            pk: WEBHOOKS_PK.into(),
            sk: endpoint.id.clone(),
        };
        let mut stored = endpoint.clone();
        if stored.cursor.is_none() {
            // A new endpoint starts now: events from this moment on. Stream records carry
            // their creation time rounded down to the second, so the cursor starts at the
            // previous whole second: an event of this very second is never skipped (one a
            // little older may come too; receivers deduplicate by id anyway).
            let now_ms = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as i64);
            stored.cursor = Some(event_position((now_ms / 1000 - 1) * 1000, "", 0));
        }
        self.put("put_webhook", &key, &stored).await
    }

    async fn webhook(&self, id: &str) -> Result<Option<WebhookEndpoint>> {
        let key = Key {
            pk: WEBHOOKS_PK.into(),
            sk: id.to_owned(),
        };
        match self.get("webhook", &key).await? {
            Some(item) if !item.contains_key(DELETED) => parse(item).map(Some),
            _ => Ok(None),
        }
    }

    async fn webhooks(&self) -> Result<Vec<WebhookEndpoint>> {
        let query = self
            .query()
            .consistent_read(true)
            .key_condition_expression("#pk = :pk")
            .expression_attribute_names("#pk", "pk")
            .expression_attribute_values(":pk", s(WEBHOOKS_PK));
        let (items, _) = self.query_until("webhooks", query, usize::MAX).await?;
        items
            .into_iter()
            .filter(|i| !i.contains_key(DELETED))
            .map(parse)
            .collect()
    }

    /// A deleted endpoint is overwritten by a tombstone (the console's role writes items and
    /// never deletes them); its queued deliveries are never read again.
    async fn delete_webhook(&self, id: &str) -> Result<bool> {
        if self.webhook(id).await?.is_none() {
            return Ok(false);
        }
        let key = Key {
            pk: WEBHOOKS_PK.into(),
            sk: id.to_owned(),
        };
        let mut item = key_item(&key);
        item.insert(DELETED.to_owned(), AttributeValue::Bool(true));
        self.client
            .put_item()
            .table_name(self.table.as_ref())
            .set_item(Some(item))
            .send()
            .await
            .map_err(|e| sdk_error("delete_webhook", e))?;
        Ok(true)
    }

    async fn queue_deliveries(&self, now: Timestamp, limit: u32) -> Result<u32> {
        let mut queued = 0;
        for mut endpoint in self.webhooks().await? {
            let numbers = (!endpoint.numbers.is_empty()).then(|| endpoint.numbers.clone());
            let page = self
                .events_after(numbers.as_deref(), endpoint.cursor.as_deref(), limit)
                .await?;
            let Some(last) = page.next.clone() else {
                continue;
            };
            for stored in page.items {
                let event = &stored.event;
                if !endpoint.delivers(event) {
                    continue;
                }
                let item = DeliveryItem {
                    lane: event.ordering_key(),
                    event_id: event.id.clone(),
                    event_type: event.kind().to_owned(),
                    body: serde_json::to_string(event)
                        .map_err(|e| StoreError::Invalid(e.to_string()))?,
                    dead: false,
                    attempts: 0,
                    first_at: None,
                    next_at: now,
                    last_error: None,
                };
                let key = Key {
                    pk: deliveries_pk(&endpoint.id),
                    sk: stored.cursor.clone(),
                };
                self.put("queue_deliveries", &key, &item).await?;
                queued += 1;
            }
            endpoint.cursor = Some(last);
            self.put_webhook(&endpoint).await?;
        }
        Ok(queued)
    }

    async fn due_deliveries(&self, now: Timestamp, limit: u32) -> Result<Vec<Delivery>> {
        let mut due = Vec::new();
        for endpoint in self.webhooks().await? {
            let mut held = std::collections::HashSet::new();
            for (sk, item) in self.deliveries(&endpoint.id).await? {
                if item.dead || !held.insert(item.lane.clone()) {
                    continue;
                }
                if item.next_at <= now {
                    due.push(item.delivery(&endpoint.id, sk));
                }
            }
        }
        due.sort_by(|a, b| a.position.cmp(&b.position));
        due.truncate(limit as usize);
        Ok(due)
    }

    async fn delivered(&self, endpoint: &str, position: &str) -> Result<()> {
        self.delete_key("delivered", &deliveries_pk(endpoint), position)
            .await
    }

    async fn delivery_failed(
        &self,
        endpoint: &str,
        position: &str,
        first_attempt_at: Timestamp,
        retry_at: Option<Timestamp>,
        error: &str,
    ) -> Result<()> {
        let key = Key {
            pk: deliveries_pk(endpoint),
            sk: position.to_owned(),
        };
        let Some(mut item) = self
            .get_typed::<DeliveryItem>("delivery_failed", &key)
            .await?
        else {
            return Ok(());
        };
        item.attempts += 1;
        item.first_at = Some(first_attempt_at);
        item.last_error = Some(error.chars().take(200).collect());
        match retry_at {
            Some(at) => item.next_at = at,
            None => item.dead = true,
        }
        self.put("delivery_failed", &key, &item).await
    }

    async fn dead_letters(&self, endpoint: &str, limit: u32) -> Result<Vec<Delivery>> {
        Ok(self
            .deliveries(endpoint)
            .await?
            .into_iter()
            .filter(|(_, d)| d.dead)
            .take(limit as usize)
            .map(|(sk, d)| d.delivery(endpoint, sk))
            .collect())
    }

    async fn redeliver(
        &self,
        endpoint: &str,
        event_id: Option<&str>,
        now: Timestamp,
    ) -> Result<u32> {
        let mut count = 0;
        for (sk, mut item) in self.deliveries(endpoint).await? {
            if !item.dead || event_id.is_some_and(|id| id != item.event_id) {
                continue;
            }
            item.dead = false;
            item.attempts = 0;
            item.first_at = None;
            item.next_at = now;
            let key = Key {
                pk: deliveries_pk(endpoint),
                sk,
            };
            self.put("redeliver", &key, &item).await?;
            count += 1;
        }
        Ok(count)
    }
}

impl DynamoStore {
    async fn delete_key(&self, operation: &'static str, pk: &str, sk: &str) -> Result<()> {
        self.client
            .delete_item()
            .table_name(self.table.as_ref())
            .set_key(Some(start_key(pk, sk)))
            .send()
            .await
            .map_err(|e| sdk_error(operation, e))?;
        Ok(())
    }
}

/// A stream record's image (the SDK's attribute map).
impl crate::events::ItemImage for Item {
    fn decode<T: DeserializeOwned>(&self) -> Option<T> {
        serde_dynamo::from_item(self.clone()).ok()
    }
}

impl IntegrationStore for DynamoStore {
    async fn put_integration(&self, token: &IntegrationToken) -> Result<()> {
        let key = Key {
            pk: INTEGRATIONS_PK.into(),
            sk: token.token_hash.clone(),
        };
        self.put("put_integration", &key, token).await
    }

    async fn integrations(&self) -> Result<Vec<IntegrationToken>> {
        let query = self
            .query()
            .consistent_read(true)
            .key_condition_expression("#pk = :pk")
            .expression_attribute_names("#pk", "pk")
            .expression_attribute_values(":pk", s(INTEGRATIONS_PK));
        let (items, _) = self.query_until("integrations", query, usize::MAX).await?;
        let mut tokens = items
            .into_iter()
            .map(parse::<IntegrationToken>)
            .collect::<Result<Vec<_>>>()?;
        tokens.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(tokens)
    }

    /// One strongly consistent `GetItem` (a revocation counts at once).
    async fn integration_by_hash(&self, token_hash: &str) -> Result<Option<IntegrationToken>> {
        let key = Key {
            pk: INTEGRATIONS_PK.into(),
            sk: token_hash.to_owned(),
        };
        self.get_typed("integration_by_hash", &key).await
    }
}
