//! Test support for the crates whose adapters are tested against moto server: where moto is, an
//! AWS SDK configuration pointing at it, and names no other test uses. One copy, used by every
//! crate's moto tests (a dev-dependency only; nothing here ships).
//!
//! [`fake_graph`]: a fake Graph API (a real HTTP server on 127.0.0.1) for the WhatsApp client, the
//! sender and the end-to-end tests.

pub mod events_out;
pub mod fake_graph;

use std::sync::atomic::{AtomicUsize, Ordering};

/// moto's endpoint, from `AWS_ENDPOINT_URL` (or `SWITCHBOARD_MOTO_URL`), both set by
/// `./scripts/test`. Panics with directions when neither is set: a test that needs moto fails
/// loudly, it never skips.
pub fn moto_endpoint() -> String {
    std::env::var("AWS_ENDPOINT_URL")
        .or_else(|_| std::env::var("SWITCHBOARD_MOTO_URL"))
        .unwrap_or_else(|_| {
            panic!(
                "AWS_ENDPOINT_URL (or SWITCHBOARD_MOTO_URL) is not set: these tests need moto \
                 server. Run ./scripts/test, which starts it and sets both, or start moto as in \
                 ../shared/LOCAL-STACK.md and export AWS_ENDPOINT_URL=http://127.0.0.1:<port>"
            )
        })
}

/// An SDK configuration for moto: its endpoint, us-east-1, dummy credentials.
pub async fn moto_config() -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(moto_endpoint())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_credential_types::Credentials::new(
            "test", "test", None, None, "moto",
        ))
        .load()
        .await
}

/// A name no other test in any process uses: `<prefix>-<pid>-<n>-<nanos>` (queues, tables,
/// schedule groups share one moto server).
pub fn unique(prefix: &str) -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
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

/// `len` bytes of deterministic noise from `seed` (xorshift): test files whose hashes differ,
/// with no pattern a store or a transport could shortcut.
pub fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// Every metric in CloudWatch EMF lines (as `aws_wiring::telemetry` flushes them), each
/// document checked to be of `namespace`: (metric, its dimensions as `name=value`) → value.
pub fn emf_metrics(
    emf: &[u8],
    namespace: &str,
) -> std::collections::BTreeMap<(String, Vec<String>), f64> {
    let mut out = std::collections::BTreeMap::new();
    for line in String::from_utf8_lossy(emf).lines() {
        let doc: serde_json::Value = serde_json::from_str(line).expect("an EMF document");
        let declared = &doc["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(declared["Namespace"], namespace, "{doc}");
        let dimensions: Vec<String> = declared["Dimensions"][0]
            .as_array()
            .expect("the dimensions")
            .iter()
            .map(|d| {
                let d = d.as_str().expect("a dimension name");
                format!("{d}={}", doc[d].as_str().expect("a dimension value"))
            })
            .collect();
        for metric in declared["Metrics"].as_array().expect("the metrics") {
            let name = metric["Name"].as_str().expect("a metric name").to_owned();
            let value = doc[&name].as_f64().expect("a metric value");
            out.insert((name, dimensions.clone()), value);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn unique_names_differ() {
        let a = super::unique("q");
        let b = super::unique("q");
        assert_ne!(a, b);
        assert!(a.starts_with("q-"));
    }
}
