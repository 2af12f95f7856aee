//! What only one adapter has: SQLite's clean-up of expired rows, DynamoDB's fault mapping.

use crate::harness::{sqlite, unique};
use rules::outreach::OutreachRecord;
use rules::{
    BusinessNumberId, ContactKey, Duration, MessageId, OutreachId, TemplateName, Timestamp,
};
use store::*;

#[tokio::test]
async fn sqlite_purge_deletes_only_expired_rows() {
    let store = sqlite().await;
    let number = BusinessNumberId::new("106").unwrap();
    let contact = ContactKey::new("4915100000001").unwrap();
    let t0 = Timestamp::from_unix(1_750_000_000);
    for (id, sent) in [("old", t0), ("new", t0 + Duration::days(20))] {
        let record = OutreachRecord {
            id: OutreachId::new(id).unwrap(),
            wamid: MessageId::new(format!("wamid.{id}")).unwrap(),
            template: TemplateName::new("t").unwrap(),
            sent_at: sent,
            buttons: Vec::new(),
            campaign: None,
        };
        let expires_at = outreach_expires_at(sent, Duration::days(30));
        store
            .put_outreach(&number, &contact, &NewOutreach { record, expires_at })
            .await
            .unwrap();
    }
    let at = outreach_expires_at(t0, Duration::days(30));
    assert_eq!(
        store
            .purge_expired(at - Duration::seconds(1))
            .await
            .unwrap(),
        0
    );
    assert_eq!(store.purge_expired(at).await.unwrap(), 1);
    // Purged or merely expired, a read gives the same answer.
    let loaded = store.load_contact(&number, &contact, t0).await.unwrap();
    assert_eq!(loaded.outreach.len(), 1);
    assert_eq!(loaded.outreach[0].id.as_str(), "new");
}

#[tokio::test]
async fn sqlite_reopens_the_same_file_with_its_data() {
    let dir = std::env::temp_dir().join("switchboard-store-tests");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{}.db", unique("reopen")));
    let number = BusinessNumberId::new("106").unwrap();
    {
        let store = SqliteStore::open(&path).unwrap();
        store
            .put_settings(&rules::NumberSettings::new(number.clone()))
            .await
            .unwrap();
    }
    let store = SqliteStore::open(&path).unwrap();
    assert!(store.settings(&number).await.unwrap().is_some());
    assert_eq!(store::sqlite::DEFAULT_PATH, "./switchboard.db");
}

#[tokio::test]
async fn dynamo_transport_failure_is_retryable() {
    // Nothing listens on port 9 of loopback: a dispatch failure, which must surface as retryable
    // (the event is redelivered), never as a corrupt or permanent error.
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url("http://127.0.0.1:9")
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "test", "test", None, None, "tests",
        ))
        .retry_config(aws_config::retry::RetryConfig::disabled())
        .load()
        .await;
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&config), "absent");
    let err = store
        .load_contact(
            &BusinessNumberId::new("106").unwrap(),
            &ContactKey::new("4915100000001").unwrap(),
            Timestamp::from_unix(0),
        )
        .await
        .unwrap_err();
    assert!(err.is_retryable(), "{err}");
}

#[tokio::test]
async fn dynamo_missing_table_is_a_permanent_error() {
    let config = crate::harness::dynamo_config().await;
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&config), unique("missing"));
    let err = store
        .settings(&BusinessNumberId::new("106").unwrap())
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Backend { .. }), "{err}");
}

#[test]
fn table_definition_has_the_keys_indexes_and_billing_the_adapter_uses() {
    // The drift test against infra/template.yaml comes with the template (issue 8); until then
    // this pins the definition's shape.
    let input = TableDefinition::new("switchboard").create_table_input();
    assert_eq!(input.table_name(), Some("switchboard"));
    let keys: Vec<_> = input
        .key_schema()
        .iter()
        .map(|k| k.attribute_name())
        .collect();
    assert_eq!(keys, ["pk", "sk"]);
    let gsis: Vec<_> = input
        .global_secondary_indexes()
        .iter()
        .map(|g| g.index_name())
        .collect();
    assert_eq!(gsis, ["gsi1", "gsi2"]);
    assert_eq!(
        input.billing_mode(),
        Some(&aws_sdk_dynamodb::types::BillingMode::PayPerRequest)
    );
    assert_eq!(store::dynamo::TTL_ATTRIBUTE, "expires_at");
}

/// The bundled SQLite is compiled as `.cargo/config.toml` says: each connection keeps its own
/// page cache (no global page-cache mutex shared by the writer and the readers) and SQLite keeps
/// no allocation statistics (no global mutex around every allocation).
#[test]
fn sqlite_is_built_without_shared_page_cache_or_memory_statistics() {
    let conn = rusqlite::Connection::open_in_memory().unwrap();
    let options: Vec<String> = conn
        .prepare("PRAGMA compile_options")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(
        !options.iter().any(|o| o == "ENABLE_MEMORY_MANAGEMENT"),
        "{options:?}"
    );
    assert!(
        options.iter().any(|o| o == "DEFAULT_MEMSTATUS=0"),
        "{options:?}"
    );
}
