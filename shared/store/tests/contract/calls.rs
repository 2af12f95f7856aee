//! Goal P3: an inbound text on an existing conversation costs exactly one DynamoDB read and one
//! write. Counts every HTTP request the SDK sends (retries included) with an interceptor.

use crate::harness::{dynamo_config, unique};
use aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::error::BoxError;
use rules::effect::LogEntry;
use rules::state::{Conversation, ConversationStatus, Handler, Origin};
use rules::{BusinessNumberId, ContactKey, ConversationId, EventKey, MessageId, Timestamp};
use std::sync::{Arc, Mutex};
use store::*;

#[derive(Debug, Clone, Default)]
struct CallCounter(Arc<Mutex<Vec<String>>>);

impl CallCounter {
    fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

impl Intercept for CallCounter {
    fn name(&self) -> &'static str {
        "CallCounter"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let target = context
            .request()
            .headers()
            .get("x-amz-target")
            .unwrap_or("?");
        let operation = target.rsplit('.').next().unwrap_or(target).to_owned();
        self.0.lock().unwrap().push(operation);
        Ok(())
    }
}

fn message(
    state: Option<rules::ContactState>,
    expected: Option<u64>,
    event: &str,
    at: Timestamp,
) -> Commit {
    let number = BusinessNumberId::new("106540352242922").unwrap();
    let contact = ContactKey::new("4915123456789").unwrap();
    let mut next = state.unwrap_or_else(|| rules::ContactState::new(number, contact));
    let conversation = ConversationId::new("4915123456789#1").unwrap();
    next.conversation.get_or_insert(Conversation {
        id: conversation.clone(),
        status: ConversationStatus::Open,
        handler: Handler::Bot {
            recipe: rules::RecipeId::new("faq").unwrap(),
            step: "start".into(),
        },
        opened_at: at,
        origin: Origin::Inbound,
        last_customer_at: Some(at),
        last_agent_at: None,
        unanswered_since: Some(at),
        unanswered_count: 1,
        reminded: false,
        agent_involved: false,
        nudged_for: None,
        referral: None,
    });
    let mut commit = Commit::from_decision(
        EventKey::new(event).unwrap(),
        expected,
        rules::Decision {
            next,
            effects: Vec::new(),
            log: vec![LogEntry::Inbound {
                message: MessageId::new(event).unwrap(),
                conversation: Some(conversation),
                at,
                bot: None,
            }],
        },
        at,
    );
    commit.log[0].body = Some(serde_json::json!({"type": "text", "text": "hi"}));
    commit
}

/// A DynamoDB store on a fresh table of moto's whose calls the counter sees.
async fn counted_store() -> (DynamoStore, CallCounter) {
    let config = dynamo_config().await;
    let counter = CallCounter::default();
    let client = aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(&config)
            .interceptor(counter.clone())
            .build(),
    );
    let store = DynamoStore::new(client, unique("sb-calls"));
    store.create_table().await.unwrap();
    (store, counter)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn p3_inbound_text_on_an_existing_conversation_costs_one_read_and_one_write() {
    let (store, counter) = counted_store().await;
    let number = BusinessNumberId::new("106540352242922").unwrap();
    let contact = ContactKey::new("4915123456789").unwrap();
    let t0 = Timestamp::from_unix(1_750_000_000);
    assert!(matches!(
        store
            .commit(message(None, None, "wamid.first", t0))
            .await
            .unwrap(),
        CommitOutcome::Committed { version: 1 }
    ));
    counter.take();

    // The steady state: the router loads, decides, commits.
    for (i, event) in ["wamid.second", "wamid.third"].into_iter().enumerate() {
        let now = t0 + rules::Duration::seconds(i as i64 + 1);
        let loaded = store.load_contact(&number, &contact, now).await.unwrap();
        let commit = message(
            loaded.state.clone().map(|s| s.value),
            loaded.version(),
            event,
            now,
        );
        assert!(matches!(
            store.commit(commit).await.unwrap(),
            CommitOutcome::Committed { .. }
        ));
        assert_eq!(counter.take(), ["Query", "TransactWriteItems"]);
    }
}

/// Goal P3 on the sender's side: a send reads everything it decides on in one call and writes
/// its record, claim and pacing before the Graph API call in one more.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn p3_a_send_reads_once_and_writes_once_before_its_call() {
    let (store, counter) = counted_store().await;
    let number = BusinessNumberId::new("106540352242922").unwrap();
    let contact = ContactKey::new("4915123456789").unwrap();
    let t0 = Timestamp::from_unix(1_750_000_000);
    counter.take();

    let query = SendContextQuery {
        key: "k1".into(),
        number: number.clone(),
        contact: contact.clone(),
        settings: true,
        template: Some((rules::TemplateName::new("welcome").unwrap(), "en".into())),
        now: t0,
    };
    let context = store.send_context(&query).await.unwrap();
    assert_eq!(counter.take(), ["BatchGetItem"]);
    let record = SendRecord {
        key: "k1".into(),
        number: number.clone(),
        contact: contact.clone(),
        state: SendState::InFlight {
            since: t0,
            lease_until: t0 + rules::Duration::seconds(30),
            calling: true,
        },
        attempts: 1,
        job: "{}".into(),
        updated_at: t0,
        calling: None,
        failure_seen: None,
    };
    let (pacing, nv) = context.number_pacing;
    let (recipient, rv) = context.recipient;
    let begun = store
        .begin_call(&BeginCall {
            record,
            expected: None,
            claim: Some(SendClaimWrite {
                claimed_at: t0,
                body: None,
            }),
            pacing: PacingWrite {
                number: Some((number.clone(), pacing, nv)),
                recipient: Some((number, contact, recipient, rv)),
            },
        })
        .await
        .unwrap();
    assert_eq!(begun, CallBegun::Begun { version: 1 });
    assert_eq!(counter.take(), ["TransactWriteItems"]);
}
