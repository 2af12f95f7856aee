//! Fresh stores for each test: a new SQLite file, or a new DynamoDB table on moto.

use aws_sdk_dynamodb::types::AttributeValue;
use rules::{BusinessNumberId, ContactKey};
use std::future::Future;
use store::{DynamoStore, SqliteStore, Store, keys};
pub use testkit::{moto_config as dynamo_config, unique};

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

/// A new DynamoDB table on moto (panics, never skips, without moto).
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
