//! OPS-2: every webhook request is counted in the `Webhooks` metric with its outcome (accepted, or
//! the refusal's reason), written as CloudWatch EMF by the recorder every function installs. One
//! test in this binary: the recorder is process-wide.

use ingest::Webhook;
use ingest::handler::{WEBHOOKS, handle};
use queue::MemoryQueue;
use switchboard_tests::fixture;
use whatsapp::AppSecret;

#[tokio::test]
async fn ops_2_webhooks_are_counted_as_emf_by_outcome() {
    let collector = aws_wiring::telemetry::init_metrics().expect("the recorder");
    let webhook = Webhook {
        secret: AppSecret::new("switchboard-test-secret"),
        verify_token: "switchboard-verify-token".to_owned(),
    };
    let queue = MemoryQueue::new();
    for (event, times) in [
        ("apigw_v2_post_text", 2),
        ("apigw_v2_post_forged", 1),
        ("apigw_v2_get_handshake", 1),
    ] {
        let json = String::from_utf8(fixture(&format!("lambda/{event}.json"))).unwrap();
        for _ in 0..times {
            let request = lambda_http::request::from_str(&json).expect("an API Gateway event");
            handle(&webhook, &queue, request).await;
        }
    }
    let mut emf = Vec::new();
    collector.flush(&mut emf).expect("flushed");
    let mut counted = std::collections::BTreeMap::new();
    for line in String::from_utf8(emf).unwrap().lines() {
        let doc: serde_json::Value = serde_json::from_str(line).expect("an EMF document");
        let declared = &doc["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(declared["Namespace"], aws_wiring::telemetry::NAMESPACE);
        assert_eq!(declared["Dimensions"][0][0], "outcome");
        assert_eq!(declared["Metrics"][0]["Name"], WEBHOOKS);
        counted.insert(
            doc["outcome"].as_str().unwrap().to_owned(),
            doc[WEBHOOKS].as_u64().unwrap(),
        );
    }
    let expected: std::collections::BTreeMap<String, u64> =
        [("accepted", 2), ("refused_signature", 1), ("handshake", 1)]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect();
    assert_eq!(counted, expected);
    // Flushed means reset: the next invocation starts from zero.
    let mut again = Vec::new();
    collector.flush(&mut again).unwrap();
    assert!(again.is_empty(), "{}", String::from_utf8_lossy(&again));
}
