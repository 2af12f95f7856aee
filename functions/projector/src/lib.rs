//! # The projector function (EVT-1)
//!
//! Fed by the table's stream (`NEW_AND_OLD_IMAGES`), it turns each record's before and after
//! images into domain events with the same pure projector the embedded store's triggers call
//! ([`store::events::project_item`] → `rules::events::project`), and writes them to the number's
//! event partition at the record's stream position ([`store::dynamo::event_position`]). The
//! router and the sender write nothing for it (P3's counts do not move); it costs one
//! `BatchWriteItem` per 25 events, and nothing for records that project to no event (most of
//! them: dedup markers, outboxes, pacing counters).
//!
//! At least once: Lambda retries a failed batch; a replayed record writes the same items at the
//! same positions, so no event is doubled, and the ids are the same as on SQLite.

use aws_lambda_events::event::dynamodb::{Event, EventRecord};
use rules::Timestamp;
use rules::events::DomainEvent;
use std::collections::HashMap;
use store::DynamoStore;

pub const TABLE_NAME: &str = "TABLE_NAME";

type SdkItem = HashMap<String, aws_sdk_dynamodb::types::AttributeValue>;

fn text(item: &SdkItem, name: &str) -> Option<String> {
    match item.get(name) {
        Some(aws_sdk_dynamodb::types::AttributeValue::S(s)) => Some(s.clone()),
        _ => None,
    }
}

/// The events of one stream record, each with its position.
pub fn project_record(record: &EventRecord) -> Vec<(String, DomainEvent)> {
    let change = &record.change;
    let keys: SdkItem = change.keys.clone().into();
    let (Some(pk), Some(sk)) = (text(&keys, "pk"), text(&keys, "sk")) else {
        return Vec::new();
    };
    if !store::events::feeds_events(&pk, &sk) {
        return Vec::new();
    }
    let old: Option<SdkItem> =
        (!change.old_image.is_empty()).then(|| change.old_image.clone().into());
    let new: Option<SdkItem> =
        (!change.new_image.is_empty()).then(|| change.new_image.clone().into());
    let created_ms = change.approximate_creation_date_time.timestamp_millis();
    let at = Timestamp::from_unix(created_ms.div_euclid(1000));
    let sequence = change.sequence_number.clone().unwrap_or_default();
    store::events::project_item(&pk, &sk, old.as_ref(), new.as_ref(), at)
        .into_iter()
        .enumerate()
        .map(|(i, e)| (store::dynamo::event_position(created_ms, &sequence, i), e))
        .collect()
}

/// One batch of stream records: project every record, write the events. An error fails the
/// batch, and Lambda delivers it again (the writes are idempotent).
pub async fn handle(store: &DynamoStore, event: Event) -> Result<(), store::StoreError> {
    let events: Vec<(String, DomainEvent)> =
        event.records.iter().flat_map(project_record).collect();
    if !events.is_empty() {
        store.put_events(&events).await?;
    }
    tracing::info!(
        records = event.records.len(),
        events = events.len(),
        "projected"
    );
    Ok(())
}
