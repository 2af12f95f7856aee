//! Fresh stores for each test: a new SQLite file, or a new DynamoDB table on moto.

use aws_sdk_dynamodb::types::AttributeValue;
use rules::{BusinessNumberId, ContactKey};
use std::future::Future;
use std::sync::atomic::{AtomicU32, Ordering};
use store::{DynamoStore, SqliteStore, Store, keys};

static NEXT: AtomicU32 = AtomicU32::new(0);

pub fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "{prefix}-{}-{}-{nanos}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// What the suite needs beyond the ports: planting a corrupt state item.
pub trait Harness: Store {
    fn corrupt_state(
        &self,
        number: &BusinessNumberId,
        contact: &ContactKey,
    ) -> impl Future<Output = ()> + Send;
}

pub async fn sqlite() -> SqliteStore {
    let dir = std::env::temp_dir().join("switchboard-store-tests");
    std::fs::create_dir_all(&dir).expect("temp dir");
    SqliteStore::open(dir.join(format!("{}.db", unique("t")))).expect("open sqlite")
}

/// The moto endpoint; panics (never skips) when the environment does not name one.
pub fn moto_endpoint() -> String {
    std::env::var("AWS_ENDPOINT_URL")
        .or_else(|_| std::env::var("SWITCHBOARD_MOTO_URL"))
        .expect(
            "DynamoDB contract tests need moto: set AWS_ENDPOINT_URL (or SWITCHBOARD_MOTO_URL), \
             e.g. run ./scripts/test, which starts moto server and sets both",
        )
}

pub async fn dynamo_config() -> aws_config::SdkConfig {
    let endpoint = moto_endpoint();
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "test", "test", None, None, "tests",
        ))
        .load()
        .await
}

pub async fn dynamo() -> DynamoStore {
    let config = dynamo_config().await;
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&config), unique("sb"));
    store.create_table().await.expect("create table on moto");
    store
}

impl Harness for SqliteStore {
    async fn corrupt_state(&self, number: &BusinessNumberId, contact: &ContactKey) {
        let key = keys::state(number, contact);
        self.execute_raw(&format!(
            "INSERT OR REPLACE INTO items (pk, sk, data, version) VALUES ('{}', '{}', '{{\"state\": 42', 1)",
            key.pk, key.sk
        ))
        .await
        .expect("plant corrupt row");
    }
}

impl Harness for DynamoStore {
    async fn corrupt_state(&self, number: &BusinessNumberId, contact: &ContactKey) {
        let key = keys::state(number, contact);
        self.client()
            .put_item()
            .table_name(self.table())
            .item("pk", AttributeValue::S(key.pk))
            .item("sk", AttributeValue::S(key.sk))
            .item("version", AttributeValue::N("1".into()))
            .item("state", AttributeValue::S("not a state".into()))
            .send()
            .await
            .expect("plant corrupt item");
    }
}
