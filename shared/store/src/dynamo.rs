//! The DynamoDB adapter: one table, `pk`/`sk` strings, two GSIs for the inbox, on-demand, TTL on
//! `expires_at`. Item bodies are the typed structs of [`crate::items`] through serde_dynamo; keys
//! come from [`crate::keys`]. Conditional failures become typed outcomes; throttling, 5xx and
//! transport failures become [`StoreError::Retryable`]. `TransactWriteItems` only where several
//! items must change together (a commit, queue entries, campaign rows with their counters).

mod events;
mod sending;

pub use events::event_position;

use crate::items::*;
use crate::keys::{self, Key};
use crate::model::*;
use crate::ports::*;
use crate::sqlite::{logged, page, summary_of};
use crate::{Result, StoreError};
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{BuildError, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::create_table::CreateTableInput;
use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, Delete, GlobalSecondaryIndex,
    KeySchemaElement, KeyType, KeysAndAttributes, Projection, ProjectionType, Put, ReturnValue,
    ReturnValuesOnConditionCheckFailure, ScalarAttributeType, Select, TimeToLiveSpecification,
    TransactWriteItem, Update,
};
use rules::agents::AgentLoad;
use rules::billing::RateTable;
use rules::templates::Template;
use rules::{
    AgentId, BusinessNumberId, CampaignId, ContactKey, ConversationId, Date, EventKey, MessageId,
    NumberSettings, TemplateName, Timestamp,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::collections::HashMap;
use std::sync::Arc;

type Item = HashMap<String, AttributeValue>;
/// A condition expression with its attribute names and values.
type Condition<'a> = (
    &'a str,
    HashMap<String, String>,
    HashMap<String, AttributeValue>,
);

/// The TTL attribute (epoch seconds).
pub const TTL_ATTRIBUTE: &str = "expires_at";
pub const GSI1: &str = "gsi1";
pub const GSI2: &str = "gsi2";

/// The table, defined once: tests create it from here, and `infra/template.yaml` must match it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableDefinition {
    pub name: String,
}

impl TableDefinition {
    pub fn new(name: impl Into<String>) -> Self {
        TableDefinition { name: name.into() }
    }

    /// Every key attribute: `pk`, `sk`, `gsi1pk`, `gsi1sk`, `gsi2pk`, `gsi2sk`, all strings.
    pub fn attribute_definitions() -> Vec<AttributeDefinition> {
        ["pk", "sk", "gsi1pk", "gsi1sk", "gsi2pk", "gsi2sk"]
            .into_iter()
            .map(|name| {
                AttributeDefinition::builder()
                    .attribute_name(name)
                    .attribute_type(ScalarAttributeType::S)
                    .build()
                    .expect("name and type are set")
            })
            .collect()
    }

    fn key_schema(hash: &str, range: &str) -> Vec<KeySchemaElement> {
        [(hash, KeyType::Hash), (range, KeyType::Range)]
            .into_iter()
            .map(|(name, kind)| {
                KeySchemaElement::builder()
                    .attribute_name(name)
                    .key_type(kind)
                    .build()
                    .expect("name and key type are set")
            })
            .collect()
    }

    pub fn table_key_schema() -> Vec<KeySchemaElement> {
        Self::key_schema("pk", "sk")
    }

    /// `gsi1`: the inbox by number and status (All); `gsi2`: by number, agent and status (Mine).
    /// Both project everything (the inbox shows the state item's fields).
    pub fn global_secondary_indexes() -> Vec<GlobalSecondaryIndex> {
        [(GSI1, "gsi1pk", "gsi1sk"), (GSI2, "gsi2pk", "gsi2sk")]
            .into_iter()
            .map(|(name, hash, range)| {
                GlobalSecondaryIndex::builder()
                    .index_name(name)
                    .set_key_schema(Some(Self::key_schema(hash, range)))
                    .projection(
                        Projection::builder()
                            .projection_type(ProjectionType::All)
                            .build(),
                    )
                    .build()
                    .expect("name, keys and projection are set")
            })
            .collect()
    }

    /// The CreateTable input: on-demand (PAY_PER_REQUEST). TTL is enabled separately on
    /// [`TTL_ATTRIBUTE`] (UpdateTimeToLive).
    pub fn create_table_input(&self) -> CreateTableInput {
        CreateTableInput::builder()
            .table_name(&self.name)
            .set_attribute_definitions(Some(Self::attribute_definitions()))
            .set_key_schema(Some(Self::table_key_schema()))
            .set_global_secondary_indexes(Some(Self::global_secondary_indexes()))
            .billing_mode(BillingMode::PayPerRequest)
            .build()
            .expect("the table input is complete")
    }
}

/// The DynamoDB store. Cheap to clone.
#[derive(Debug, Clone)]
pub struct DynamoStore {
    client: Client,
    table: Arc<str>,
}

const RETRYABLE_CODES: &[&str] = &[
    "ThrottlingException",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "InternalServerError",
    "ServiceUnavailable",
    "TransactionConflictException",
    "TransactionInProgressException",
];

fn sdk_error<E>(
    operation: &'static str,
    e: SdkError<E, aws_sdk_dynamodb::config::http::HttpResponse>,
) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let message = match (e.code(), e.message()) {
        (Some(code), message) => format!("{code}: {}", message.unwrap_or("")),
        _ => format!("{}", aws_sdk_dynamodb::error::DisplayErrorContext(&e)),
    };
    let retryable = match &e {
        SdkError::ServiceError(_) => {
            e.code().is_some_and(|c| RETRYABLE_CODES.contains(&c))
                || e.raw_response().is_some_and(|r| r.status().as_u16() >= 500)
        }
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            true
        }
        _ => false,
    };
    if retryable {
        StoreError::Retryable { operation, message }
    } else {
        StoreError::Backend { operation, message }
    }
}

fn is_conditional_failure<E: ProvideErrorMetadata>(e: &SdkError<E, impl std::fmt::Debug>) -> bool {
    e.code() == Some("ConditionalCheckFailedException")
}

fn built<T>(r: std::result::Result<T, BuildError>) -> Result<T> {
    r.map_err(|e| StoreError::Invalid(e.to_string()))
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn n(v: i64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn av<T: Serialize>(v: &T) -> Result<AttributeValue> {
    serde_dynamo::to_attribute_value(v).map_err(|e| StoreError::Invalid(e.to_string()))
}

fn key_item(key: &Key) -> Item {
    HashMap::from([("pk".to_owned(), s(&key.pk)), ("sk".to_owned(), s(&key.sk))])
}

fn item_of<T: Serialize>(key: &Key, body: &T) -> Result<Item> {
    let mut item: Item =
        serde_dynamo::to_item(body).map_err(|e| StoreError::Invalid(e.to_string()))?;
    item.extend(key_item(key));
    Ok(item)
}

fn key_of(item: &Item) -> (String, String) {
    let get = |k: &str| match item.get(k) {
        Some(AttributeValue::S(v)) => v.clone(),
        _ => String::new(),
    };
    (get("pk"), get("sk"))
}

fn parse<T: DeserializeOwned>(item: Item) -> Result<T> {
    let (pk, sk) = key_of(&item);
    serde_dynamo::from_item(item).map_err(|e| StoreError::corrupt(&pk, &sk, e))
}

fn names(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn values(pairs: Vec<(&str, AttributeValue)>) -> HashMap<String, AttributeValue> {
    pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

fn cancellation_codes(
    e: &SdkError<TransactWriteItemsError, impl std::fmt::Debug>,
) -> Option<Vec<String>> {
    match e.as_service_error() {
        Some(TransactWriteItemsError::TransactionCanceledException(t)) => Some(
            t.cancellation_reasons()
                .iter()
                .map(|r| r.code().unwrap_or("None").to_owned())
                .collect(),
        ),
        _ => None,
    }
}

const CONDITION_FAILED: &str = "ConditionalCheckFailed";
/// Cancellation reasons that mean "try again" (TransactWriteItems).
const RETRYABLE_REASONS: &[&str] = &[
    "TransactionConflict",
    "ThrottlingError",
    "ProvisionedThroughputExceeded",
    "RequestLimitExceeded",
];

impl DynamoStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        DynamoStore {
            client,
            table: Arc::from(table.into()),
        }
    }

    /// A client from the environment (`AWS_ENDPOINT_URL` is honoured, e.g. for moto).
    pub async fn from_env(table: impl Into<String>) -> Self {
        let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        Self::new(Client::new(&config), table)
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    /// Creates the table from [`TableDefinition`] and enables TTL on `expires_at`.
    pub async fn create_table(&self) -> Result<()> {
        let input = TableDefinition::new(self.table.as_ref()).create_table_input();
        self.client
            .create_table()
            .set_table_name(input.table_name)
            .set_attribute_definitions(input.attribute_definitions)
            .set_key_schema(input.key_schema)
            .set_global_secondary_indexes(input.global_secondary_indexes)
            .set_billing_mode(input.billing_mode)
            .send()
            .await
            .map_err(|e| sdk_error("create_table", e))?;
        self.client
            .update_time_to_live()
            .table_name(self.table.as_ref())
            .time_to_live_specification(built(
                TimeToLiveSpecification::builder()
                    .attribute_name(TTL_ATTRIBUTE)
                    .enabled(true)
                    .build(),
            )?)
            .send()
            .await
            .map_err(|e| sdk_error("update_time_to_live", e))?;
        Ok(())
    }

    async fn get(&self, operation: &'static str, key: &Key) -> Result<Option<Item>> {
        self.client
            .get_item()
            .table_name(self.table.as_ref())
            .set_key(Some(key_item(key)))
            .consistent_read(true)
            .send()
            .await
            .map(|o| o.item)
            .map_err(|e| sdk_error(operation, e))
    }

    /// Several items by key in one strongly consistent `BatchGetItem` (at most 100 distinct
    /// keys), by key; absent items are absent. Keys DynamoDB leaves unprocessed (throttling) are
    /// asked for again, a bounded number of times with a short backoff; then the read is
    /// [`StoreError::Retryable`].
    async fn batch_get(
        &self,
        operation: &'static str,
        keys: &[Key],
    ) -> Result<HashMap<(String, String), Item>> {
        const ROUNDS: u32 = 6;
        let mut found = HashMap::with_capacity(keys.len());
        let mut wanted = Some(built(
            KeysAndAttributes::builder()
                .set_keys(Some(keys.iter().map(key_item).collect()))
                .consistent_read(true)
                .build(),
        )?);
        for round in 0..ROUNDS {
            let Some(request) = wanted.take() else { break };
            if round > 0 {
                tokio::time::sleep(std::time::Duration::from_millis(10 << round)).await;
            }
            let out = self
                .client
                .batch_get_item()
                .request_items(self.table.as_ref(), request)
                .send()
                .await
                .map_err(|e| sdk_error(operation, e))?;
            for item in out
                .responses
                .and_then(|mut r| r.remove(self.table.as_ref()))
                .unwrap_or_default()
            {
                found.insert(key_of(&item), item);
            }
            wanted = out
                .unprocessed_keys
                .and_then(|mut u| u.remove(self.table.as_ref()))
                .filter(|k| !k.keys().is_empty());
        }
        match wanted {
            None => Ok(found),
            Some(left) => Err(StoreError::Retryable {
                operation,
                message: format!(
                    "{} keys still unprocessed after {ROUNDS} rounds",
                    left.keys().len()
                ),
            }),
        }
    }

    async fn get_typed<T: DeserializeOwned>(
        &self,
        operation: &'static str,
        key: &Key,
    ) -> Result<Option<T>> {
        self.get(operation, key).await?.map(parse).transpose()
    }

    async fn put<T: Serialize>(&self, operation: &'static str, key: &Key, body: &T) -> Result<()> {
        self.client
            .put_item()
            .table_name(self.table.as_ref())
            .set_item(Some(item_of(key, body)?))
            .send()
            .await
            .map_err(|e| sdk_error(operation, e))?;
        Ok(())
    }

    /// The contact's outbound-log pointer to a claimed send (idempotent).
    async fn put_outbound_pointer(
        &self,
        claim: &OutboundKeyItem,
        body: Option<String>,
    ) -> Result<()> {
        let key = keys::outbound_pointer(
            &claim.number,
            &claim.contact,
            claim.claimed_at,
            &claim.idempotency_key,
        );
        let pointer = OutboundPointerItem {
            idempotency_key: claim.idempotency_key.clone(),
            claimed_at: claim.claimed_at,
            body,
        };
        self.put("claim_send", &key, &pointer).await
    }

    fn query(&self) -> QueryFluentBuilder {
        self.client.query().table_name(self.table.as_ref())
    }

    /// Runs a query page by page until `want` items arrived or the results end. Returns the items
    /// and whether more may follow.
    async fn query_until(
        &self,
        operation: &'static str,
        query: QueryFluentBuilder,
        want: usize,
    ) -> Result<(Vec<Item>, bool)> {
        let mut items = Vec::new();
        let mut start: Option<Item> = None;
        let mut previous: Option<Item> = None;
        loop {
            let mut page = query.clone();
            if let Some(start) = start.take() {
                page = page.set_exclusive_start_key(Some(start));
            }
            let out = page.send().await.map_err(|e| sdk_error(operation, e))?;
            items.extend(out.items.unwrap_or_default());
            match out.last_evaluated_key {
                Some(next) if Some(&next) == previous.as_ref() => {
                    return Err(StoreError::Backend {
                        operation,
                        message: "the query did not advance past its start key".into(),
                    });
                }
                Some(next) if items.len() < want => {
                    previous = Some(next.clone());
                    start = Some(next);
                }
                Some(_) => return Ok((items, true)),
                None => return Ok((items, false)),
            }
        }
    }

    async fn transact(
        &self,
        operation: &'static str,
        items: Vec<TransactWriteItem>,
    ) -> Result<std::result::Result<(), Vec<String>>> {
        match self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await
        {
            Ok(_) => Ok(Ok(())),
            Err(e) => match cancellation_codes(&e) {
                Some(codes) if codes.iter().any(|c| c == CONDITION_FAILED) => Ok(Err(codes)),
                // Cancelled by a concurrent transaction or throttling: nothing was written.
                Some(codes)
                    if codes
                        .iter()
                        .any(|c| RETRYABLE_REASONS.contains(&c.as_str())) =>
                {
                    Err(StoreError::Retryable {
                        operation,
                        message: format!("transaction cancelled: {codes:?}"),
                    })
                }
                _ => Err(sdk_error(operation, e)),
            },
        }
    }

    fn put_op(&self, item: Item, condition: Option<Condition<'_>>) -> Result<TransactWriteItem> {
        let mut put = Put::builder()
            .table_name(self.table.as_ref())
            .set_item(Some(item));
        if let Some((expr, names, values)) = condition {
            put = put
                .condition_expression(expr)
                .set_expression_attribute_names(Some(names))
                .set_expression_attribute_values((!values.is_empty()).then_some(values));
        }
        Ok(TransactWriteItem::builder()
            .put(built(put.build())?)
            .build())
    }

    fn update_op(
        &self,
        key: &Key,
        expression: String,
        condition: Option<&str>,
        names: HashMap<String, String>,
        values: HashMap<String, AttributeValue>,
    ) -> Result<TransactWriteItem> {
        let update = Update::builder()
            .table_name(self.table.as_ref())
            .set_key(Some(key_item(key)))
            .update_expression(expression)
            .set_condition_expression(condition.map(str::to_owned))
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values((!values.is_empty()).then_some(values));
        Ok(TransactWriteItem::builder()
            .update(built(update.build())?)
            .build())
    }
}

/// `sk` is a sort key of the message log / campaign rows: the cursor of a page.
fn start_key(pk: &str, sk: &str) -> Item {
    key_item(&Key {
        pk: pk.to_owned(),
        sk: sk.to_owned(),
    })
}

fn sk_of(item: &Item) -> String {
    key_of(item).1
}

impl ContactStore for DynamoStore {
    async fn load_contact(
        &self,
        number: &BusinessNumberId,
        contact: &ContactKey,
        now: Timestamp,
    ) -> Result<LoadedContact> {
        let pk = keys::contact_pk(number, contact);
        let query = self
            .query()
            .consistent_read(true)
            .key_condition_expression("#pk = :pk AND begins_with(#sk, :load)")
            .filter_expression("attribute_not_exists(#e) OR #e > :now")
            .set_expression_attribute_names(Some(names(&[
                ("#pk", "pk"),
                ("#sk", "sk"),
                ("#e", TTL_ATTRIBUTE),
            ])))
            .set_expression_attribute_values(Some(values(vec![
                (":pk", s(&pk)),
                (":load", s(keys::LOAD_PREFIX)),
                (":now", n(now.unix())),
            ])));
        let (items, _) = self.query_until("load_contact", query, usize::MAX).await?;
        let mut loaded = LoadedContact::default();
        for item in items {
            let sk = sk_of(&item);
            if sk == keys::STATE_SK {
                let state: StateItem = parse(item)?;
                if let Some(version) = state.version {
                    let value = state.state.ok_or_else(|| {
                        StoreError::corrupt(&pk, &sk, "versioned item without state")
                    })?;
                    loaded.state = Some(Versioned { version, value });
                    loaded.outbox = state.outbox;
                }
            } else if sk.starts_with(keys::OUTREACH_PREFIX) {
                let o: OutreachItem = parse(item)?;
                loaded.outreach.push(o.record);
            }
        }
        Ok(loaded)
    }

    async fn commit(&self, commit: Commit) -> Result<CommitOutcome> {
        if commit.log.len() + commit.outreach.len() > MAX_COMMIT_ITEMS {
            return Err(StoreError::Invalid(format!(
                "a commit writes at most {MAX_COMMIT_ITEMS} log and outreach items"
            )));
        }
        let number = &commit.next.number;
        let contact = &commit.next.contact;
        let now = commit.now;
        let version = commit.expected_version.unwrap_or(0) + 1;
        let status = rules::search::status_of(&commit.next);
        let sort = keys::inbox_sort(now, contact);

        // 0: the state item (update, so the console's profile survives).
        let mut set = vec![
            "#v = :v",
            "#s = :s",
            "#u = :u",
            "#n = :n",
            "#c = :c",
            "#g1p = :g1p",
            "#g1s = :g1s",
            "#q = if_not_exists(#q, :q)",
            "#qp = if_not_exists(#qp, :qp)",
        ];
        let mut remove = Vec::new();
        let mut vals = vec![
            (":v", n(version as i64)),
            (":s", av(&commit.next)?),
            (":u", n(now.unix())),
            (":n", s(number.as_str())),
            (":c", s(contact.as_str())),
            (":g1p", s(keys::inbox_all(number, status))),
            (":g1s", s(&sort)),
        ];
        let (text, phone) = search_fields(contact, None);
        vals.extend([(":q", s(text)), (":qp", s(phone))]);
        if commit.effects.is_empty() {
            remove.push("#o");
        } else {
            set.push("#o = :o");
            vals.push((":o", av(&Outbox::new(&commit.event_key, &commit.effects))?));
        }
        match assignee_of(&commit.next) {
            Some(agent) => {
                set.extend(["#g2p = :g2p", "#g2s = :g2s"]);
                vals.push((":g2p", s(keys::inbox_mine(number, agent, status))));
                vals.push((":g2s", s(&sort)));
            }
            None => remove.extend(["#g2p", "#g2s"]),
        }
        let condition = match commit.expected_version {
            Some(expected) => {
                vals.push((":expected", n(expected as i64)));
                "#v = :expected"
            }
            None => "attribute_not_exists(#v)",
        };
        let mut expression = format!("SET {}", set.join(", "));
        if !remove.is_empty() {
            expression.push_str(&format!(" REMOVE {}", remove.join(", ")));
        }
        let state_names = names(&[
            ("#v", "version"),
            ("#s", "state"),
            ("#u", "updated_at"),
            ("#n", "number"),
            ("#c", "contact"),
            ("#g1p", "gsi1pk"),
            ("#g1s", "gsi1sk"),
            ("#g2p", "gsi2pk"),
            ("#g2s", "gsi2sk"),
            ("#o", "outbox"),
            ("#q", "search"),
            ("#qp", "search_phone"),
        ]);
        let mut ops = vec![self.update_op(
            &keys::state(number, contact),
            expression,
            Some(condition),
            state_names,
            values(vals),
        )?];

        // 1: the dedup marker (absent, or present but expired: TTL runs late).
        let marker = MarkerItem {
            event_key: commit.event_key.clone(),
            at: now,
            expires_at: now + DEDUP_TTL,
        };
        ops.push(self.put_op(
            item_of(&keys::dedup(number, contact, &commit.event_key), &marker)?,
            Some((
                "attribute_not_exists(#pk) OR #e <= :now",
                names(&[("#pk", "pk"), ("#e", TTL_ATTRIBUTE)]),
                values(vec![(":now", n(now.unix()))]),
            )),
        )?);

        // 2..: the log and the outreach records.
        for (i, record) in commit.log.iter().enumerate() {
            let key = keys::log(number, contact, record.at(), &commit.event_key, i);
            let item = LogItem {
                event_key: commit.event_key.clone(),
                entry: record.entry.clone(),
                body: record.body.as_ref().map(json_text),
            };
            ops.push(self.put_op(item_of(&key, &item)?, None)?);
        }
        for o in &commit.outreach {
            let key = keys::outreach(number, contact, &o.record.id);
            let item = OutreachItem {
                record: o.record.clone(),
                expires_at: o.expires_at,
            };
            ops.push(self.put_op(item_of(&key, &item)?, None)?);
        }

        match self.transact("commit", ops).await? {
            Ok(()) => Ok(CommitOutcome::Committed { version }),
            Err(codes) => {
                let failed = |i: usize| codes.get(i).is_some_and(|c| c == CONDITION_FAILED);
                if failed(1) {
                    Ok(CommitOutcome::Duplicate)
                } else if failed(0) {
                    Ok(CommitOutcome::VersionConflict)
                } else {
                    Err(StoreError::Backend {
                        operation: "commit",
                        message: format!("transaction cancelled: {codes:?}"),
                    })
                }
            }
        }
    }

    async fn pending_effects(
        &self,
        number: &BusinessNumberId,
        contact: &ContactKey,
    ) -> Result<Option<Outbox>> {
        let item: Option<StateItem> = self
            .get_typed("pending_effects", &keys::state(number, contact))
            .await?;
        Ok(item.and_then(|i| i.outbox))
    }

    async fn mark_effects_done(
        &self,
        number: &BusinessNumberId,
        contact: &ContactKey,
        event_key: &EventKey,
    ) -> Result<bool> {
        let result = self
            .client
            .update_item()
            .table_name(self.table.as_ref())
            .set_key(Some(key_item(&keys::state(number, contact))))
            .update_expression("REMOVE #o")
            .condition_expression("#o.#k = :k")
            .set_expression_attribute_names(Some(names(&[("#o", "outbox"), ("#k", "event_key")])))
            .set_expression_attribute_values(Some(values(vec![(":k", s(event_key.as_str()))])))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) if is_conditional_failure(&e) => Ok(false),
            Err(e) => Err(sdk_error("mark_effects_done", e)),
        }
    }
}

impl OutboundStore for DynamoStore {
    async fn claim_send(
        &self,
        idempotency_key: &str,
        number: &BusinessNumberId,
        contact: &ContactKey,
        now: Timestamp,
        body: Option<&serde_json::Value>,
    ) -> Result<SendClaim> {
        let body = body.map(json_text);
        let key = keys::outbound_by_key(idempotency_key);
        let item = OutboundKeyItem {
            idempotency_key: idempotency_key.to_owned(),
            number: number.clone(),
            contact: contact.clone(),
            claimed_at: now,
            wamid: None,
        };
        let result = self
            .client
            .put_item()
            .table_name(self.table.as_ref())
            .set_item(Some(item_of(&key, &item)?))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", "pk")
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(_) => {
                self.put_outbound_pointer(&item, body).await?;
                Ok(SendClaim::Claimed)
            }
            Err(e) if is_conditional_failure(&e) => {
                let existing: Option<OutboundKeyItem> = self.get_typed("claim_send", &key).await?;
                // A claim whose pointer write was lost (a crash between the two) is repaired by
                // the redelivery that finds it claimed.
                if let Some(existing) = &existing {
                    self.put_outbound_pointer(existing, body).await?;
                }
                Ok(SendClaim::AlreadyClaimed {
                    wamid: existing.and_then(|i| i.wamid),
                })
            }
            Err(e) => Err(sdk_error("claim_send", e)),
        }
    }

    async fn record_sent(
        &self,
        idempotency_key: &str,
        wamid: &MessageId,
        at: Timestamp,
    ) -> Result<()> {
        let key = keys::outbound_by_key(idempotency_key);
        let claim: OutboundKeyItem =
            self.get_typed("record_sent", &key).await?.ok_or_else(|| {
                StoreError::Invalid(format!("no claim for idempotency key {}", key.pk))
            })?;
        let link = self.update_op(
            &key,
            "SET #w = :w".to_owned(),
            Some("attribute_exists(#pk)"),
            names(&[("#w", "wamid"), ("#pk", "pk")]),
            values(vec![(":w", s(wamid.as_str()))]),
        )?;
        let message = self.update_op(
            &keys::outbound_by_wamid(wamid),
            "SET #w = :w, #k = :k, #n = :n, #c = :c, #t = if_not_exists(#t, :t)".to_owned(),
            None,
            names(&[
                ("#w", "wamid"),
                ("#k", "idempotency_key"),
                ("#n", "number"),
                ("#c", "contact"),
                ("#t", "sent_at"),
            ]),
            values(vec![
                (":w", s(wamid.as_str())),
                (":k", s(idempotency_key)),
                (":n", s(claim.number.as_str())),
                (":c", s(claim.contact.as_str())),
                (":t", n(at.unix())),
            ]),
        )?;
        match self.transact("record_sent", vec![link, message]).await? {
            Ok(()) => Ok(()),
            Err(_) => Err(StoreError::Invalid(format!(
                "no claim for idempotency key {}",
                key.pk
            ))),
        }
    }

    async fn apply_status(&self, update: &StatusUpdate) -> Result<OutboundMessage> {
        let at_attribute = match update.status {
            DeliveryStatus::Sent => "sent_at",
            DeliveryStatus::Delivered => "delivered_at",
            DeliveryStatus::Read => "read_at",
            DeliveryStatus::Failed => "failed_at",
        };
        let mut set = vec!["#t = if_not_exists(#t, :t)", "#w = if_not_exists(#w, :w)"];
        let mut vals = vec![
            (":t", n(update.at.unix())),
            (":w", s(update.wamid.as_str())),
        ];
        let mut attr_names = vec![("#t", at_attribute), ("#w", "wamid")];
        if let Some(pricing) = &update.pricing {
            set.push("#p = if_not_exists(#p, :p)");
            vals.push((":p", s(json_text(pricing))));
            attr_names.push(("#p", "pricing"));
        }
        if let Some(error) = &update.error {
            set.push("#x = if_not_exists(#x, :x)");
            vals.push((":x", av(error)?));
            attr_names.push(("#x", "error"));
        }
        let out = self
            .client
            .update_item()
            .table_name(self.table.as_ref())
            .set_key(Some(key_item(&keys::outbound_by_wamid(&update.wamid))))
            .update_expression(format!("SET {}", set.join(", ")))
            .set_expression_attribute_names(Some(names(&attr_names)))
            .set_expression_attribute_values(Some(values(vals)))
            .return_values(ReturnValue::AllNew)
            .send()
            .await
            .map_err(|e| sdk_error("apply_status", e))?;
        parse(out.attributes.unwrap_or_default())
    }

    async fn outbound_by_wamid(&self, wamid: &MessageId) -> Result<Option<OutboundMessage>> {
        self.get_typed("outbound_by_wamid", &keys::outbound_by_wamid(wamid))
            .await
    }

    async fn outbound_by_key(&self, idempotency_key: &str) -> Result<Option<Option<MessageId>>> {
        let item: Option<OutboundKeyItem> = self
            .get_typed("outbound_by_key", &keys::outbound_by_key(idempotency_key))
            .await?;
        Ok(item.map(|i| i.wamid))
    }

    async fn put_outreach(
        &self,
        number: &BusinessNumberId,
        contact: &ContactKey,
        outreach: &NewOutreach,
    ) -> Result<()> {
        let item = OutreachItem {
            record: outreach.record.clone(),
            expires_at: outreach.expires_at,
        };
        self.put(
            "put_outreach",
            &keys::outreach(number, contact, &outreach.record.id),
            &item,
        )
        .await
    }
}

impl SettingsStore for DynamoStore {
    async fn settings(&self, number: &BusinessNumberId) -> Result<Option<NumberSettings>> {
        let item: Option<SettingsItem> =
            self.get_typed("settings", &keys::settings(number)).await?;
        Ok(item.map(|i| i.settings))
    }

    async fn put_settings(&self, settings: &NumberSettings) -> Result<()> {
        let item = SettingsItem {
            settings: settings.clone(),
        };
        self.put("put_settings", &keys::settings(&settings.number), &item)
            .await?;
        let entry = NumberEntryItem {
            number: settings.number.clone(),
        };
        self.put(
            "put_settings",
            &keys::number_entry(&settings.number),
            &entry,
        )
        .await
    }

    async fn numbers(&self) -> Result<Vec<BusinessNumberId>> {
        let query = self
            .query()
            .consistent_read(true)
            .key_condition_expression("#pk = :pk")
            .expression_attribute_names("#pk", "pk")
            .expression_attribute_values(":pk", s(keys::NUMBERS_PK));
        let (items, _) = self.query_until("numbers", query, usize::MAX).await?;
        items
            .into_iter()
            .map(|i| parse::<NumberEntryItem>(i).map(|e| e.number))
            .collect()
    }
}

impl AgentStore for DynamoStore {
    async fn put_agent(&self, agent: &AgentId, capacity: u32, online: bool) -> Result<()> {
        self.client
            .update_item()
            .table_name(self.table.as_ref())
            .set_key(Some(key_item(&keys::agent(agent))))
            .update_expression("SET #a = :a, #c = :c, #on = :on, #o = if_not_exists(#o, :zero)")
            .set_expression_attribute_names(Some(names(&[
                ("#a", "agent"),
                ("#c", "capacity"),
                ("#on", "online"),
                ("#o", "open"),
            ])))
            .set_expression_attribute_values(Some(values(vec![
                (":a", s(agent.as_str())),
                (":c", n(i64::from(capacity))),
                (":on", AttributeValue::Bool(online)),
                (":zero", n(0)),
            ])))
            .send()
            .await
            .map_err(|e| sdk_error("put_agent", e))?;
        Ok(())
    }

    async fn agents(&self) -> Result<Vec<AgentLoad>> {
        let query = self
            .query()
            .consistent_read(true)
            .key_condition_expression("#pk = :pk")
            .expression_attribute_names("#pk", "pk")
            .expression_attribute_values(":pk", s(keys::AGENTS_PK));
        let (items, _) = self.query_until("agents", query, usize::MAX).await?;
        items.into_iter().map(parse).collect()
    }

    async fn take_capacity(
        &self,
        agent: &AgentId,
        op: &str,
        now: Timestamp,
    ) -> Result<Option<AgentId>> {
        let marker = keys::capacity_op(op);
        let ops = vec![
            self.op_marker_put(&marker, agent, None, now)?,
            self.take_one_op(agent)?,
        ];
        match self.transact("take_capacity", ops).await? {
            Ok(()) => Ok(Some(agent.clone())),
            Err(codes) if codes.first().is_some_and(|c| c == CONDITION_FAILED) => Ok(self
                .get_typed::<CapacityOpItem>("take_capacity", &marker)
                .await?
                .map(|m| m.agent)),
            Err(_) => Ok(None),
        }
    }

    async fn take_capacity_by_hand(
        &self,
        agent: &AgentId,
        op: &str,
        now: Timestamp,
    ) -> Result<bool> {
        let ops = vec![
            self.op_marker_put(&keys::capacity_op(op), agent, None, now)?,
            self.update_op(
                &keys::agent(agent),
                "SET #o = #o + :one".into(),
                Some("attribute_exists(#o)"),
                names(&[("#o", "open")]),
                values(vec![(":one", n(1))]),
            )?,
        ];
        Ok(self.transact("take_capacity_by_hand", ops).await?.is_ok())
    }

    async fn capacity_taken_by(&self, op: &str) -> Result<Option<AgentId>> {
        Ok(self
            .get_typed::<CapacityOpItem>("capacity_taken_by", &keys::capacity_op(op))
            .await?
            .map(|m| m.agent))
    }

    async fn release_capacity(&self, agent: &AgentId, op: &str, now: Timestamp) -> Result<bool> {
        let marker = keys::capacity_op(op);
        let ops = vec![
            self.op_marker_put(&marker, agent, None, now)?,
            self.update_op(
                &keys::agent(agent),
                "SET #o = #o - :one".into(),
                Some("#o > :zero"),
                names(&[("#o", "open")]),
                values(vec![(":one", n(1)), (":zero", n(0))]),
            )?,
        ];
        Ok(self.transact("release_capacity", ops).await?.is_ok())
    }
}

impl DynamoStore {
    /// The marker of a keyed capacity operation, written only if absent.
    fn op_marker_put(
        &self,
        marker: &Key,
        agent: &AgentId,
        entry: Option<QueueEntry>,
        now: Timestamp,
    ) -> Result<TransactWriteItem> {
        let item = CapacityOpItem {
            agent: agent.clone(),
            entry,
            expires_at: now + DEDUP_TTL,
        };
        self.put_op(
            item_of(marker, &item)?,
            Some((
                "attribute_not_exists(#pk)",
                names(&[("#pk", "pk")]),
                HashMap::new(),
            )),
        )
    }

    /// One unit of the agent's capacity, if free (and the agent exists).
    fn take_one_op(&self, agent: &AgentId) -> Result<TransactWriteItem> {
        self.update_op(
            &keys::agent(agent),
            "SET #o = #o + :one".into(),
            Some("#o < #c"),
            names(&[("#o", "open"), ("#c", "capacity")]),
            values(vec![(":one", n(1))]),
        )
    }
}

impl DynamoStore {
    async fn queue_count(&self, pk: &str, entry_sk: &str) -> Result<u32> {
        let mut count = 0;
        let mut start = None;
        loop {
            let out = self
                .query()
                .consistent_read(true)
                .key_condition_expression("#pk = :pk AND #sk BETWEEN :lo AND :hi")
                .set_expression_attribute_names(Some(names(&[("#pk", "pk"), ("#sk", "sk")])))
                .set_expression_attribute_values(Some(values(vec![
                    (":pk", s(pk)),
                    (":lo", s(keys::QUEUE_ENTRY_PREFIX)),
                    (":hi", s(entry_sk)),
                ])))
                .select(Select::Count)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| sdk_error("queue_position", e))?;
            count += out.count.max(0) as u32;
            match out.last_evaluated_key {
                Some(next) => start = Some(next),
                None => return Ok(count),
            }
        }
    }
}

impl QueueStore for DynamoStore {
    async fn enqueue(&self, entry: &QueueEntry) -> Result<u32> {
        let pointer_key = keys::queue_pointer(&entry.number, &entry.conversation);
        let entry_key = keys::queue_entry(&entry.number, entry.enqueued_at, &entry.conversation);
        let pointer = QueuePointerItem {
            entry_sk: entry_key.sk.clone(),
        };
        let ops = vec![
            self.put_op(
                item_of(&pointer_key, &pointer)?,
                Some((
                    "attribute_not_exists(#pk)",
                    names(&[("#pk", "pk")]),
                    HashMap::new(),
                )),
            )?,
            self.put_op(item_of(&entry_key, entry)?, None)?,
        ];
        let entry_sk = match self.transact("enqueue", ops).await? {
            Ok(()) => entry_key.sk,
            Err(_) => {
                let existing: Option<QueuePointerItem> =
                    self.get_typed("enqueue", &pointer_key).await?;
                existing.map_or(entry_key.sk, |p| p.entry_sk)
            }
        };
        self.queue_count(&pointer_key.pk, &entry_sk).await
    }

    async fn queue_position(
        &self,
        number: &BusinessNumberId,
        conversation: &ConversationId,
    ) -> Result<Option<u32>> {
        let pointer_key = keys::queue_pointer(number, conversation);
        match self
            .get_typed::<QueuePointerItem>("queue_position", &pointer_key)
            .await?
        {
            Some(p) => self
                .queue_count(&pointer_key.pk, &p.entry_sk)
                .await
                .map(Some),
            None => Ok(None),
        }
    }

    async fn queue_head(&self, number: &BusinessNumberId, limit: u32) -> Result<Vec<QueueEntry>> {
        let query = self
            .query()
            .consistent_read(true)
            .key_condition_expression("#pk = :pk AND begins_with(#sk, :e)")
            .set_expression_attribute_names(Some(names(&[("#pk", "pk"), ("#sk", "sk")])))
            .set_expression_attribute_values(Some(values(vec![
                (":pk", s(keys::queue_pk(number))),
                (":e", s(keys::QUEUE_ENTRY_PREFIX)),
            ])))
            .limit(limit.clamp(1, i32::MAX as u32) as i32);
        let (items, _) = self
            .query_until("queue_head", query, limit as usize)
            .await?;
        items.into_iter().take(limit as usize).map(parse).collect()
    }

    async fn claim_queue_head(
        &self,
        number: &BusinessNumberId,
        agent: &AgentId,
        op: &str,
        now: Timestamp,
    ) -> Result<Option<QueueEntry>> {
        let marker = keys::capacity_op(op);
        if let Some(done) = self
            .get_typed::<CapacityOpItem>("claim_queue_head", &marker)
            .await?
        {
            return Ok(done.entry);
        }
        // Another agent may take the head between the read and the write: try the next head.
        for _ in 0..8 {
            let Some(entry) = self.queue_head(number, 1).await?.into_iter().next() else {
                return Ok(None);
            };
            let entry_key = keys::queue_entry(number, entry.enqueued_at, &entry.conversation);
            let pointer_key = keys::queue_pointer(number, &entry.conversation);
            let delete = |key: &Key| -> Result<TransactWriteItem> {
                let d = Delete::builder()
                    .table_name(self.table.as_ref())
                    .set_key(Some(key_item(key)))
                    .condition_expression("attribute_exists(#pk)")
                    .expression_attribute_names("#pk", "pk");
                Ok(TransactWriteItem::builder()
                    .delete(built(d.build())?)
                    .build())
            };
            let ops = vec![
                self.op_marker_put(&marker, agent, Some(entry.clone()), now)?,
                self.take_one_op(agent)?,
                delete(&entry_key)?,
                delete(&pointer_key)?,
            ];
            match self.transact("claim_queue_head", ops).await? {
                Ok(()) => return Ok(Some(entry)),
                Err(codes) => {
                    let failed = |i: usize| codes.get(i).is_some_and(|c| c == CONDITION_FAILED);
                    if failed(0) {
                        return Ok(self
                            .get_typed::<CapacityOpItem>("claim_queue_head", &marker)
                            .await?
                            .and_then(|m| m.entry));
                    }
                    if failed(1) {
                        return Ok(None);
                    }
                }
            }
        }
        Err(StoreError::Retryable {
            operation: "claim_queue_head",
            message: "the queue's head kept moving".into(),
        })
    }

    async fn leave_queue(
        &self,
        number: &BusinessNumberId,
        conversation: &ConversationId,
    ) -> Result<bool> {
        let pointer_key = keys::queue_pointer(number, conversation);
        let Some(pointer) = self
            .get_typed::<QueuePointerItem>("leave_queue", &pointer_key)
            .await?
        else {
            return Ok(false);
        };
        let delete = |key: &Key, condition: Option<&str>| -> Result<TransactWriteItem> {
            let mut d = Delete::builder()
                .table_name(self.table.as_ref())
                .set_key(Some(key_item(key)));
            if let Some(c) = condition {
                d = d
                    .condition_expression(c)
                    .expression_attribute_names("#e", "entry_sk")
                    .expression_attribute_values(":e", s(&pointer.entry_sk));
            }
            Ok(TransactWriteItem::builder()
                .delete(built(d.build())?)
                .build())
        };
        let entry_key = Key {
            pk: pointer_key.pk.clone(),
            sk: pointer.entry_sk.clone(),
        };
        let ops = vec![
            delete(&pointer_key, Some("#e = :e"))?,
            delete(&entry_key, None)?,
        ];
        Ok(self.transact("leave_queue", ops).await?.is_ok())
    }
}

impl TemplateStore for DynamoStore {
    async fn put_template(&self, number: &BusinessNumberId, template: &Template) -> Result<()> {
        let item = TemplateItem {
            template: template.clone(),
        };
        self.put(
            "put_template",
            &keys::template(number, &template.name, &template.language),
            &item,
        )
        .await
    }

    async fn template(
        &self,
        number: &BusinessNumberId,
        name: &TemplateName,
        language: &str,
    ) -> Result<Option<Template>> {
        let item: Option<TemplateItem> = self
            .get_typed("template", &keys::template(number, name, language))
            .await?;
        Ok(item.map(|i| i.template))
    }

    async fn templates(&self, number: &BusinessNumberId) -> Result<Vec<Template>> {
        let query = self
            .query()
            .consistent_read(true)
            .key_condition_expression("#pk = :pk")
            .expression_attribute_names("#pk", "pk")
            .expression_attribute_values(":pk", s(keys::template_pk(number)));
        let (items, _) = self.query_until("templates", query, usize::MAX).await?;
        items
            .into_iter()
            .map(|i| parse::<TemplateItem>(i).map(|t| t.template))
            .collect()
    }
}

fn hopper_bump(
    set: &mut Vec<String>,
    names: &mut Vec<(String, String)>,
    vals: &mut Vec<(String, AttributeValue)>,
    i: usize,
    stage: &str,
    by: i64,
) {
    set.push(format!(
        "#h.#st{i} = if_not_exists(#h.#st{i}, :zero) + :by{i}"
    ));
    names.push((format!("#st{i}"), stage.to_owned()));
    vals.push((format!(":by{i}"), n(by)));
}

impl DynamoStore {
    fn hopper_update(&self, id: &CampaignId, moves: &[(&str, i64)]) -> Result<TransactWriteItem> {
        let (mut set, mut attr_names, mut vals) = (
            Vec::new(),
            vec![
                ("#h".to_owned(), "hopper".to_owned()),
                ("#pk".to_owned(), "pk".to_owned()),
            ],
            vec![(":zero".to_owned(), n(0))],
        );
        for (i, (stage, by)) in moves.iter().enumerate() {
            hopper_bump(&mut set, &mut attr_names, &mut vals, i, stage, *by);
        }
        self.update_op(
            &keys::campaign(id),
            format!("SET {}", set.join(", ")),
            Some("attribute_exists(#pk)"),
            attr_names.into_iter().collect(),
            vals.into_iter().collect(),
        )
    }
}

impl DynamoStore {
    /// Writes a campaign's definition as the next version, keeping the stored hopper counters.
    /// `expected`: `Some(None)` the campaign must not exist, `Some(Some(v))` it must be at
    /// version `v` (0: written before versions existed), `None` no condition. `Ok(None)`: the
    /// condition failed.
    async fn write_campaign(
        &self,
        campaign: &CampaignRecord,
        expected: Option<Option<u64>>,
    ) -> Result<Option<u64>> {
        let mut attr_names = names(&[
            ("#i", "id"),
            ("#n", "number"),
            ("#d", "definition"),
            ("#h", "hopper"),
            ("#v", "version"),
        ]);
        let mut attr_values = values(vec![
            (":i", s(campaign.id.as_str())),
            (":n", s(campaign.number.as_str())),
            (":d", s(json_text(&campaign.definition))),
            (":h", av(&campaign.hopper)?),
        ]);
        let (set_version, condition) = match expected {
            None => {
                attr_values.insert(":zero".into(), n(0));
                attr_values.insert(":one".into(), n(1));
                ("#v = if_not_exists(#v, :zero) + :one", None)
            }
            Some(None) => {
                attr_names.insert("#pk".into(), "pk".into());
                attr_values.insert(":next".into(), n(1));
                ("#v = :next", Some("attribute_not_exists(#pk)"))
            }
            Some(Some(0)) => {
                attr_names.insert("#pk".into(), "pk".into());
                attr_values.insert(":next".into(), n(1));
                (
                    "#v = :next",
                    Some("attribute_exists(#pk) AND attribute_not_exists(#v)"),
                )
            }
            Some(Some(v)) => {
                attr_values.insert(":next".into(), n(v as i64 + 1));
                attr_values.insert(":ver".into(), n(v as i64));
                ("#v = :next", Some("#v = :ver"))
            }
        };
        let result = self
            .client
            .update_item()
            .table_name(self.table.as_ref())
            .set_key(Some(key_item(&keys::campaign(&campaign.id))))
            .update_expression(format!(
                "SET #i = :i, #n = :n, #d = :d, #h = if_not_exists(#h, :h), {set_version}"
            ))
            .set_condition_expression(condition.map(str::to_owned))
            .set_expression_attribute_names(Some(attr_names))
            .set_expression_attribute_values(Some(attr_values))
            .return_values(ReturnValue::UpdatedNew)
            .send()
            .await;
        match result {
            Ok(out) => Ok(Some(
                match out.attributes.as_ref().and_then(|a| a.get("version")) {
                    Some(AttributeValue::N(v)) => v.parse().unwrap_or(0),
                    _ => 0,
                },
            )),
            Err(e) if is_conditional_failure(&e) => Ok(None),
            Err(e) => Err(sdk_error("put_campaign", e)),
        }
    }
}

impl CampaignStore for DynamoStore {
    async fn put_campaign(&self, campaign: &CampaignRecord) -> Result<()> {
        self.write_campaign(campaign, None).await.map(|_| ())
    }

    async fn versioned_campaign(
        &self,
        id: &CampaignId,
    ) -> Result<Option<Versioned<CampaignRecord>>> {
        let key = keys::campaign(id);
        let Some(item) = self.get("campaign", &key).await? else {
            return Ok(None);
        };
        let version = match item.get("version") {
            Some(AttributeValue::N(v)) => v.parse().unwrap_or(0),
            _ => 0,
        };
        let item: CampaignItem = parse(item)?;
        Ok(Some(Versioned {
            version,
            value: CampaignRecord {
                definition: parse_json_text(&key.pk, &key.sk, &item.definition)?,
                id: item.id,
                number: item.number,
                hopper: item.hopper,
            },
        }))
    }

    async fn put_campaign_if(
        &self,
        campaign: &CampaignRecord,
        expected: Option<u64>,
    ) -> Result<Option<u64>> {
        self.write_campaign(campaign, Some(expected)).await
    }

    async fn campaign(&self, id: &CampaignId) -> Result<Option<CampaignRecord>> {
        let key = keys::campaign(id);
        match self.get_typed::<CampaignItem>("campaign", &key).await? {
            Some(item) => Ok(Some(CampaignRecord {
                definition: parse_json_text(&key.pk, &key.sk, &item.definition)?,
                id: item.id,
                number: item.number,
                hopper: item.hopper,
            })),
            None => Ok(None),
        }
    }

    async fn add_campaign_row(&self, id: &CampaignId, row: &CampaignRow) -> Result<bool> {
        let item = CampaignRowItem {
            contact: row.contact.clone(),
            stage: row.stage.clone(),
            data: json_text(&row.data),
        };
        let ops = vec![
            self.put_op(
                item_of(&keys::campaign_row(id, &row.contact), &item)?,
                Some((
                    "attribute_not_exists(#pk)",
                    names(&[("#pk", "pk")]),
                    HashMap::new(),
                )),
            )?,
            self.hopper_update(id, &[(&row.stage, 1)])?,
        ];
        match self.transact("add_campaign_row", ops).await? {
            Ok(()) => Ok(true),
            Err(codes) if codes.first().is_some_and(|c| c == CONDITION_FAILED) => Ok(false),
            Err(_) => Err(StoreError::Invalid(format!("no campaign {id}"))),
        }
    }

    async fn move_campaign_row(
        &self,
        id: &CampaignId,
        from: &str,
        row: &CampaignRow,
    ) -> Result<bool> {
        let row_update = self.update_op(
            &keys::campaign_row(id, &row.contact),
            "SET #s = :to, #d = :d".to_owned(),
            Some("#s = :from"),
            names(&[("#s", "stage"), ("#d", "data")]),
            values(vec![
                (":to", s(&row.stage)),
                (":from", s(from)),
                (":d", s(json_text(&row.data))),
            ]),
        )?;
        let mut ops = vec![row_update];
        if from != row.stage {
            ops.push(self.hopper_update(id, &[(from, -1), (&row.stage, 1)])?);
        }
        match self.transact("move_campaign_row", ops).await? {
            Ok(()) => Ok(true),
            Err(codes) if codes.first().is_some_and(|c| c == CONDITION_FAILED) => Ok(false),
            Err(_) => Err(StoreError::Invalid(format!("no campaign {id}"))),
        }
    }

    async fn campaign_rows(
        &self,
        id: &CampaignId,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<Page<CampaignRow>> {
        let pk = keys::campaign_pk(id);
        let query = self
            .query()
            .consistent_read(true)
            .key_condition_expression("#pk = :pk AND begins_with(#sk, :r)")
            .set_expression_attribute_names(Some(names(&[("#pk", "pk"), ("#sk", "sk")])))
            .set_expression_attribute_values(Some(values(vec![
                (":pk", s(&pk)),
                (":r", s(keys::CAMPAIGN_ROW_PREFIX)),
            ])))
            .set_exclusive_start_key(cursor.map(|c| start_key(&pk, c)))
            .limit(limit.saturating_add(1).min(i32::MAX as u32) as i32);
        let (items, _) = self
            .query_until("campaign_rows", query, limit as usize + 1)
            .await?;
        let rows = items.into_iter().map(|i| (sk_of(&i), i)).collect();
        page(rows, limit, |sk, item| {
            let row: CampaignRowItem = parse(item)?;
            Ok(CampaignRow {
                data: parse_json_text(&pk, &sk, &row.data)?,
                contact: row.contact,
                stage: row.stage,
            })
        })
    }
}

impl LedgerStore for DynamoStore {
    async fn add_to_ledger(
        &self,
        number: &BusinessNumberId,
        day: Date,
        category: &str,
        side: LedgerSide,
        count: i64,
        micros: i64,
    ) -> Result<()> {
        let (count_attr, micros_attr) = match side {
            LedgerSide::Predicted => ("predicted_count", "predicted_micros"),
            LedgerSide::Reported => ("reported_count", "reported_micros"),
        };
        self.client
            .update_item()
            .table_name(self.table.as_ref())
            .set_key(Some(key_item(&keys::ledger(number, day, category, ""))))
            .update_expression("SET #n = :n, #d = :d, #c = :c ADD #k :k, #m :m")
            .set_expression_attribute_names(Some(names(&[
                ("#n", "number"),
                ("#d", "day"),
                ("#c", "category"),
                ("#k", count_attr),
                ("#m", micros_attr),
            ])))
            .set_expression_attribute_values(Some(values(vec![
                (":n", s(number.as_str())),
                (":d", s(day.to_string())),
                (":c", s(category)),
                (":k", n(count)),
                (":m", n(micros)),
            ])))
            .send()
            .await
            .map_err(|e| sdk_error("add_to_ledger", e))?;
        Ok(())
    }

    async fn ledger(
        &self,
        number: &BusinessNumberId,
        from: Date,
        to: Date,
    ) -> Result<Vec<LedgerLine>> {
        let query = self
            .query()
            .consistent_read(true)
            .key_condition_expression("#pk = :pk AND #sk BETWEEN :lo AND :hi")
            .set_expression_attribute_names(Some(names(&[("#pk", "pk"), ("#sk", "sk")])))
            .set_expression_attribute_values(Some(values(vec![
                (":pk", s(keys::ledger_pk(number))),
                (":lo", s(format!("{from}#"))),
                (":hi", s(format!("{to}$"))),
            ])));
        let (items, _) = self.query_until("ledger", query, usize::MAX).await?;
        items.into_iter().map(parse).collect()
    }

    async fn rates(&self) -> Result<Option<RateTable>> {
        Ok(self
            .get_typed::<RatesItem>("rates", &keys::rates())
            .await?
            .map(|i| i.table))
    }

    async fn put_rates(&self, table: &RateTable) -> Result<()> {
        let item = RatesItem {
            table: table.clone(),
        };
        self.put("put_rates", &keys::rates(), &item).await
    }
}

impl ConsoleStore for DynamoStore {
    async fn put_profile(
        &self,
        number: &BusinessNumberId,
        contact: &ContactKey,
        profile: &ContactProfile,
        now: Timestamp,
    ) -> Result<()> {
        self.client
            .update_item()
            .table_name(self.table.as_ref())
            .set_key(Some(key_item(&keys::state(number, contact))))
            .update_expression(
                "SET #p = :p, #q = :q, #qp = :qp, #n = if_not_exists(#n, :n), #c = if_not_exists(#c, :c), \
                 #u = if_not_exists(#u, :u), #g1p = if_not_exists(#g1p, :g1p), \
                 #g1s = if_not_exists(#g1s, :g1s)",
            )
            .set_expression_attribute_names(Some(names(&[
                ("#p", "profile"),
                ("#q", "search"),
                ("#qp", "search_phone"),
                ("#n", "number"),
                ("#c", "contact"),
                ("#u", "updated_at"),
                ("#g1p", "gsi1pk"),
                ("#g1s", "gsi1sk"),
            ])))
            .set_expression_attribute_values(Some(values(vec![
                (":p", av(profile)?),
                (":q", s(search_fields(contact, Some(profile)).0)),
                (":qp", s(search_fields(contact, Some(profile)).1)),
                (":n", s(number.as_str())),
                (":c", s(contact.as_str())),
                (":u", n(now.unix())),
                (":g1p", s(keys::inbox_all(number, InboxStatus::Closed))),
                (":g1s", s(keys::inbox_sort(now, contact))),
            ])))
            .send()
            .await
            .map_err(|e| sdk_error("put_profile", e))?;
        Ok(())
    }

    async fn contact_summary(
        &self,
        number: &BusinessNumberId,
        contact: &ContactKey,
    ) -> Result<Option<ContactSummary>> {
        let key = keys::state(number, contact);
        match self.get("contact_summary", &key).await? {
            Some(item) => {
                let state: StateItem = parse(item)?;
                let profile = state.profile.clone();
                summary_of(&key.pk, &key.sk, state, profile).map(Some)
            }
            None => Ok(None),
        }
    }

    async fn search_contacts(&self, search: &ContactSearch) -> Result<Page<ContactSummary>> {
        let (index, hash, range, partition) = match &search.scope {
            Scope::All => (
                GSI1,
                "gsi1pk",
                "gsi1sk",
                keys::inbox_all(&search.number, search.status),
            ),
            Scope::Mine(agent) => (
                GSI2,
                "gsi2pk",
                "gsi2sk",
                keys::inbox_mine(&search.number, agent, search.status),
            ),
        };
        let mut attr_names = vec![("#gp", hash)];
        let mut vals = vec![(":gp", s(&partition))];
        let mut condition = "#gp = :gp".to_owned();
        if let Some(cursor) = &search.cursor {
            condition.push_str(" AND #gs < :cur");
            attr_names.push(("#gs", range));
            vals.push((":cur", s(cursor)));
        }
        let term = search.text.as_deref().and_then(SearchTerm::parse);
        let mut query = self
            .query()
            .index_name(index)
            .key_condition_expression(condition)
            .scan_index_forward(false);
        if let Some(term) = &term {
            attr_names.push(("#q", "search"));
            vals.push((":t", s(&term.needle)));
            query = query.filter_expression(match &term.digits {
                Some(digits) => {
                    attr_names.push(("#qp", "search_phone"));
                    vals.push((":d", s(digits)));
                    "contains(#q, :t) OR contains(#qp, :d)"
                }
                None => "contains(#q, :t)",
            });
        }
        let query = query
            .set_expression_attribute_names(Some(names(&attr_names)))
            .set_expression_attribute_values(Some(values(vals)));
        let want = search.limit as usize + 1;
        let (items, _) = self.query_until("search_contacts", query, want).await?;
        let mut found = Vec::new();
        for item in items.into_iter().take(want) {
            let sort = match item.get(range) {
                Some(AttributeValue::S(v)) => v.clone(),
                _ => String::new(),
            };
            let (pk, sk) = key_of(&item);
            let state: StateItem = parse(item)?;
            let profile = state.profile.clone();
            found.push((sort, summary_of(&pk, &sk, state, profile)?));
        }
        page(found, search.limit, |_, s| Ok(s))
    }

    async fn message_log(
        &self,
        number: &BusinessNumberId,
        contact: &ContactKey,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<Page<LoggedMessage>> {
        let pk = keys::contact_pk(number, contact);
        let query = self
            .query()
            .consistent_read(true)
            .key_condition_expression("#pk = :pk AND begins_with(#sk, :l)")
            .set_expression_attribute_names(Some(names(&[("#pk", "pk"), ("#sk", "sk")])))
            .set_expression_attribute_values(Some(values(vec![
                (":pk", s(&pk)),
                (":l", s(keys::LOG_PREFIX)),
            ])))
            .scan_index_forward(false)
            .set_exclusive_start_key(cursor.map(|c| start_key(&pk, c)))
            .limit(limit.saturating_add(1).min(i32::MAX as u32) as i32);
        let (items, _) = self
            .query_until("message_log", query, limit as usize + 1)
            .await?;
        let rows = items.into_iter().map(|i| (sk_of(&i), i)).collect();
        page(rows, limit, |sk, item| logged(&pk, &sk, parse(item)?))
    }

    async fn outbound_log(
        &self,
        number: &BusinessNumberId,
        contact: &ContactKey,
        from: Timestamp,
        until: Timestamp,
        limit: u32,
    ) -> Result<Vec<OutboundEntry>> {
        let pk = keys::contact_pk(number, contact);
        // BETWEEN is inclusive; every pointer's key continues after the time (`#<key>`), so
        // pointers claimed at `until` sort after the upper bound and are left out.
        let query = self
            .query()
            .consistent_read(true)
            .key_condition_expression("#pk = :pk AND #sk BETWEEN :lo AND :hi")
            .set_expression_attribute_names(Some(names(&[("#pk", "pk"), ("#sk", "sk")])))
            .set_expression_attribute_values(Some(values(vec![
                (":pk", s(&pk)),
                (
                    ":lo",
                    s(format!("{}{}", keys::OUTBOUND_LOG_PREFIX, keys::time(from))),
                ),
                (
                    ":hi",
                    s(format!(
                        "{}{}",
                        keys::OUTBOUND_LOG_PREFIX,
                        keys::time(until)
                    )),
                ),
            ])))
            .scan_index_forward(false)
            .limit(limit.min(i32::MAX as u32) as i32);
        let (items, _) = self
            .query_until("outbound_log", query, limit as usize)
            .await?;
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            let pointer: OutboundPointerItem = parse(item)?;
            let body = match &pointer.body {
                Some(text) => Some(parse_json_text(
                    "outbound_log",
                    &pointer.idempotency_key,
                    text,
                )?),
                None => None,
            };
            let claim: Option<OutboundKeyItem> = self
                .get_typed(
                    "outbound_log",
                    &keys::outbound_by_key(&pointer.idempotency_key),
                )
                .await?;
            let message: Option<OutboundMessage> = match claim.and_then(|c| c.wamid) {
                Some(wamid) => {
                    self.get_typed("outbound_log", &keys::outbound_by_wamid(&wamid))
                        .await?
                }
                None => None,
            };
            // SEND-5: not accepted (yet): the send record says why.
            let unsent = match &message {
                Some(_) => None,
                None => crate::SendingStore::send_record(self, &pointer.idempotency_key)
                    .await?
                    .map(|r| r.value.state),
            };
            out.push(OutboundEntry {
                idempotency_key: pointer.idempotency_key,
                claimed_at: pointer.claimed_at,
                body,
                message,
                unsent,
            });
        }
        Ok(out)
    }
}
