//! The `GraphApi` port's contract, run against the twin (`MemoryGraph`) and the production
//! adapter (`CloudGraph`: the WhatsApp crate's Cloud API client) talking to the fake Graph API,
//! a real HTTP server on 127.0.0.1.

use rules::send_error::{ErrorClass, classify};
use rules::{BusinessNumberId, ContactKey, OutboundContent, TemplateName};
use sender::graph::{CloudGraph, meta_error};
use sender::{GraphApi, GraphError, MemoryGraph, OutgoingMessage, Scripted};
use std::time::Duration;
use testkit::fake_graph::{FAKE_TOKEN, FakeFailure, FakeGraph};
use whatsapp::cloud::{AccessToken, CloudClient, CloudConfig};

/// A failure to script, the same on both.
#[derive(Clone, Copy)]
enum Failure {
    Meta(u32),
    Gateway(u16),
    /// The request went out; the answer never came.
    Hang,
}

trait Twin: GraphApi {
    fn fail_next(&self, failure: Failure);
    /// (to, biz_opaque_callback_data) of every message sent.
    fn sent(&self) -> Vec<(String, String)>;
}

impl Twin for MemoryGraph {
    fn fail_next(&self, failure: Failure) {
        self.script([match failure {
            Failure::Meta(code) => Scripted::Fail(meta_error(code)),
            Failure::Gateway(status) => Scripted::Fail(GraphError::Http { status }),
            Failure::Hang => Scripted::AcceptButLoseAnswer,
        }]);
    }

    fn sent(&self) -> Vec<(String, String)> {
        self.accepted()
            .into_iter()
            .map(|r| (r.message.to.to_string(), r.message.callback))
            .collect()
    }
}

struct Cloud {
    fake: FakeGraph,
    graph: CloudGraph,
}

impl GraphApi for Cloud {
    fn send_message(
        &self,
        number: &BusinessNumberId,
        message: &OutgoingMessage,
    ) -> impl std::future::Future<Output = Result<rules::MessageId, GraphError>> + Send {
        self.graph.send_message(number, message)
    }
}

impl Twin for Cloud {
    fn fail_next(&self, failure: Failure) {
        self.fake.fail_next(
            1,
            match failure {
                Failure::Meta(code) => FakeFailure::meta(code.into()),
                Failure::Gateway(status) => FakeFailure::Bare {
                    http_status: status,
                },
                Failure::Hang => FakeFailure::Hang,
            },
        );
    }

    fn sent(&self) -> Vec<(String, String)> {
        self.fake
            .sent()
            .into_iter()
            .map(|r| {
                (
                    r.to().unwrap_or_default().to_owned(),
                    r.body["biz_opaque_callback_data"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                )
            })
            .collect()
    }
}

async fn cloud() -> Cloud {
    let fake = FakeGraph::start().await;
    let client = CloudClient::new(CloudConfig {
        graph_url: fake.url(),
        timeout: Duration::from_millis(800),
        connect_timeout: Duration::from_millis(300),
        ..CloudConfig::new(AccessToken::new(FAKE_TOKEN))
    })
    .unwrap();
    Cloud {
        fake,
        graph: CloudGraph::new(client),
    }
}

fn memory() -> MemoryGraph {
    MemoryGraph::new(|| 0)
}

fn number() -> BusinessNumberId {
    BusinessNumberId::new("200000000000001").unwrap()
}

fn message(to: &str, key: &str, content: OutboundContent) -> OutgoingMessage {
    OutgoingMessage {
        to: ContactKey::new(to).unwrap(),
        content,
        callback: key.into(),
    }
}

/// Meta accepts: a distinct wamid per message; the idempotency key travels as the callback data.
async fn sends_return_distinct_wamids(g: impl Twin) {
    let a = g
        .send_message(
            &number(),
            &message("15550009001", "k1", OutboundContent::text("hi")),
        )
        .await
        .unwrap();
    let template = OutboundContent::Template {
        name: TemplateName::new("order_update").unwrap(),
        language: "en_US".into(),
        header: None,
        parameters: vec!["A-1042".into()],
        button_payloads: vec!["sb1.o-1.1760000000.0.abc".into()],
    };
    let b = g
        .send_message(&number(), &message("15550009002", "k2", template))
        .await
        .unwrap();
    assert_ne!(a, b);
    assert!(a.as_str().starts_with("wamid."));
    assert_eq!(
        g.sent(),
        vec![
            ("15550009001".to_owned(), "k1".to_owned()),
            ("15550009002".to_owned(), "k2".to_owned())
        ]
    );
}

/// SEND-2: Meta's codes come back as they are, and classify as the table says.
async fn meta_errors_keep_their_code_and_class(g: impl Twin) {
    for (code, class) in [
        (131056, ErrorClass::PairRateLimit),
        (130429, ErrorClass::ThroughputLimit),
        (131026, ErrorClass::UndeliverableToUser),
        (190, ErrorClass::AccountBlocked),
        (131000, ErrorClass::ServiceError),
    ] {
        g.fail_next(Failure::Meta(code));
        let error = g
            .send_message(
                &number(),
                &message("15550009001", "k", OutboundContent::text("x")),
            )
            .await
            .unwrap_err();
        let GraphError::Api {
            code: got,
            http_status,
            ref title,
            ..
        } = error
        else {
            panic!("{code}: {error:?}");
        };
        assert_eq!(got, code);
        assert!(http_status.is_some());
        assert!(!title.is_empty());
        assert_eq!(classify(&error.failure().unwrap()).class, class, "{code}");
    }
    assert!(g.sent().is_empty());
}

/// A gateway's bare 5xx is a service error; a lost answer is ambiguous (not a failure class).
async fn gateways_and_lost_answers(g: impl Twin) {
    g.fail_next(Failure::Gateway(502));
    let error = g
        .send_message(
            &number(),
            &message("15550009001", "k", OutboundContent::text("x")),
        )
        .await
        .unwrap_err();
    assert_eq!(error, GraphError::Http { status: 502 });
    assert_eq!(
        classify(&error.failure().unwrap()).class,
        ErrorClass::ServiceError
    );
    g.fail_next(Failure::Hang);
    let error = g
        .send_message(
            &number(),
            &message("15550009001", "k", OutboundContent::text("x")),
        )
        .await
        .unwrap_err();
    assert!(matches!(error, GraphError::Ambiguous { .. }), "{error:?}");
    assert!(error.failure().is_none());
}

macro_rules! graph_contract {
    ($adapter:ident, $make:expr) => {
        mod $adapter {
            use super::*;

            #[tokio::test]
            async fn sends_return_distinct_wamids() {
                super::sends_return_distinct_wamids($make).await
            }

            #[tokio::test]
            async fn meta_errors_keep_their_code_and_class() {
                super::meta_errors_keep_their_code_and_class($make).await
            }

            #[tokio::test]
            async fn gateways_and_lost_answers() {
                super::gateways_and_lost_answers($make).await
            }
        }
    };
}

graph_contract!(memory_graph, memory());
graph_contract!(cloud_graph_on_the_fake, cloud().await);

/// The production body carries the idempotency key for status webhooks, and content Meta would
/// refuse is refused before any request.
#[test]
fn the_request_body_carries_the_key_and_meta_limits_are_checked() {
    let body = sender::graph::request_body(&message(
        "15550009001",
        "k1",
        OutboundContent::text("hello"),
    ))
    .unwrap();
    assert_eq!(body["biz_opaque_callback_data"], "k1");
    assert_eq!(body["to"], "15550009001");
    let too_long = message(
        "15550009001",
        "k1",
        OutboundContent::text("x".repeat(5_000)),
    );
    let error = sender::graph::request_body(&too_long).unwrap_err();
    assert_eq!(error.field(), "text.body");
}
