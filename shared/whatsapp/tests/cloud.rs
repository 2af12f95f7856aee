//! The Graph API client against the fake Graph API (`testkit::fake_graph`, a real HTTP server on
//! 127.0.0.1): every message kind round-trips, every error class parses, and the transport
//! failures say whether Meta may have sent the message.

mod common;

use rules::send_error::{ErrorClass, classify};
use serde_json::json;
use std::collections::HashSet;
use std::time::{Duration, Instant};
use testkit::fake_graph::{FAKE_TOKEN, FakeFailure, FakeGraph, Outcome};
use whatsapp::cloud::{AccessToken, CloudClient, CloudConfig, CloudError};
use whatsapp::outbound::{Outgoing, message_body};

const NUMBER: &str = "106540352242922";
const WABA: &str = "102290129340398";

fn client(fake: &FakeGraph) -> CloudClient {
    client_with(fake, Duration::from_secs(10))
}

fn client_with(fake: &FakeGraph, timeout: Duration) -> CloudClient {
    CloudClient::new(CloudConfig {
        graph_url: fake.url(),
        timeout,
        ..CloudConfig::new(AccessToken::new(FAKE_TOKEN))
    })
    .unwrap()
}

fn text_body() -> serde_json::Value {
    message_body(
        common::TO,
        &Outgoing::Text {
            body: "Hello".into(),
            preview_url: false,
        },
        None,
    )
}

#[tokio::test]
async fn every_message_kind_round_trips_with_the_bearer_token_and_a_wamid() {
    let fake = FakeGraph::start().await;
    let client = client(&fake);
    let samples = common::samples();
    let mut wamids = HashSet::new();
    for (name, msg, reply_to) in &samples {
        let body = message_body(common::TO, msg, *reply_to);
        let accepted = client
            .send_message(NUMBER, &body)
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(accepted.wamid.starts_with("wamid."), "{name}: {accepted:?}");
        assert!(
            wamids.insert(accepted.wamid.clone()),
            "{name}: wamid reused"
        );
        assert_eq!(accepted.wa_id.as_deref(), Some(common::TO), "{name}");
        let expected_status = matches!(msg, Outgoing::Template(_)).then_some("accepted");
        assert_eq!(
            accepted.message_status.as_deref(),
            expected_status,
            "{name}"
        );

        let request = fake.requests().pop().unwrap();
        assert_eq!(request.method, "POST");
        assert_eq!(request.path, format!("/v23.0/{NUMBER}/messages"));
        assert_eq!(
            request.authorization.as_deref(),
            Some(format!("Bearer {FAKE_TOKEN}").as_str())
        );
        assert_eq!(request.body, body, "{name}: the body arrives as built");
        assert_eq!(
            request.outcome,
            Outcome::Sent {
                wamid: accepted.wamid
            }
        );
    }
    assert_eq!(fake.sent().len(), samples.len());
    // One keep-alive connection for every sequential request.
    assert_eq!(fake.connections_accepted(), 1);
}

#[tokio::test]
async fn clones_share_the_pool_and_concurrent_sends_get_distinct_wamids() {
    let fake = FakeGraph::start().await;
    let client = client(&fake);
    let sends = (0..40).map(|_| {
        let client = client.clone();
        tokio::spawn(async move { client.send_message(NUMBER, &text_body()).await })
    });
    let mut wamids = HashSet::new();
    for send in sends {
        wamids.insert(send.await.unwrap().unwrap().wamid);
    }
    assert_eq!(wamids.len(), 40);
    assert_eq!(fake.sent().len(), 40);
    let opened = fake.connections_accepted();
    client.send_message(NUMBER, &text_body()).await.unwrap();
    assert_eq!(
        fake.connections_accepted(),
        opened,
        "an idle connection is reused"
    );
}

/// SEND-2: each Meta error arrives with its code, subcode, title and details, and classifies into
/// the class the rules table gives it.
#[tokio::test]
async fn send_2_each_error_class_parses_with_code_subcode_and_title() {
    let fake = FakeGraph::start().await;
    let client = client(&fake);
    let cases = [
        (130429, 400, ErrorClass::ThroughputLimit),
        (131056, 400, ErrorClass::PairRateLimit),
        (131048, 400, ErrorClass::SpamRateLimit),
        (131026, 400, ErrorClass::UndeliverableToUser),
        (190, 401, ErrorClass::AccountBlocked),
        (131047, 400, ErrorClass::OutsideServiceWindow),
        (132001, 404, ErrorClass::BadRequest),
        (132015, 400, ErrorClass::TemplatePaused),
        (131042, 400, ErrorClass::AccountBlocked),
        (131000, 500, ErrorClass::ServiceError),
        (131049, 400, ErrorClass::MarketingCap),
        (10, 403, ErrorClass::AccountBlocked),
    ];
    for (code, status, class) in cases {
        fake.fail_next(1, FakeFailure::meta(code));
        let err = client.send_message(NUMBER, &text_body()).await.unwrap_err();
        let CloudError::Api {
            http_status,
            code: got,
            subcode,
            title,
            message,
            details,
            fbtrace_id,
        } = &err
        else {
            panic!("{code}: {err:?}");
        };
        assert_eq!((*http_status, *got), (status, code));
        assert_eq!(*subcode, (code == 190).then_some(463), "{code}");
        assert!(title.as_deref().is_some_and(|t| !t.is_empty()), "{code}");
        assert!(message.starts_with(&format!("(#{code})")), "{message}");
        assert!(details.as_deref().is_some_and(|d| d.len() > 10), "{code}");
        assert!(fbtrace_id.is_some(), "{code}");
        assert!(err.retry_safe(), "Meta refused {code}: nothing was sent");
        assert_eq!(classify(&err.failure().unwrap()).class, class, "{code}");
    }
}

#[tokio::test]
async fn a_scripted_error_comes_back_exactly_and_recipient_scripts_go_first() {
    let fake = FakeGraph::start().await;
    let client = client(&fake);
    fake.fail_next(
        1,
        FakeFailure::Api {
            http_status: 400,
            code: 131009,
            subcode: Some(2494010),
            title: Some("Parameter value is not valid".into()),
            message: "(#131009) Parameter value is not valid".into(),
        },
    );
    fake.fail_recipient("15550009999", 1, FakeFailure::meta(131056));
    let mut other = text_body();
    other["to"] = json!("15550009999");
    let err = client.send_message(NUMBER, &other).await.unwrap_err();
    assert!(
        matches!(err, CloudError::Api { code: 131056, .. }),
        "{err:?}"
    );
    let err = client.send_message(NUMBER, &text_body()).await.unwrap_err();
    assert_eq!(
        err,
        CloudError::Api {
            http_status: 400,
            code: 131009,
            subcode: Some(2494010),
            title: Some("Parameter value is not valid".into()),
            message: "(#131009) Parameter value is not valid".into(),
            details: Some("One or more parameter values are invalid.".into()),
            fbtrace_id: err_trace(&err),
        }
    );
    client.send_message(NUMBER, &other).await.unwrap();
}

fn err_trace(err: &CloudError) -> Option<String> {
    match err {
        CloudError::Api { fbtrace_id, .. } => fbtrace_id.clone(),
        _ => None,
    }
}

#[tokio::test]
async fn a_wrong_token_is_meta_error_190() {
    let fake = FakeGraph::start().await;
    fake.set_token("rotated");
    let err = client(&fake)
        .send_message(NUMBER, &text_body())
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            CloudError::Api {
                http_status: 401,
                code: 190,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(
        classify(&err.failure().unwrap()).class,
        ErrorClass::AccountBlocked
    );
    assert!(
        !format!("{err} {err:?}").contains(FAKE_TOKEN),
        "the token never shows"
    );
}

/// Secrets rotate: once Meta's token is rotated, setting the new one on a client makes it and
/// every clone use it, without building a new client.
#[tokio::test]
async fn a_rotated_token_set_on_a_client_is_used_by_its_clones() {
    let fake = FakeGraph::start().await;
    let client = client(&fake);
    let clone = client.clone();
    fake.set_token("rotated-token");
    assert!(clone.send_message(NUMBER, &text_body()).await.is_err());
    client
        .set_access_token(&AccessToken::new("rotated-token"))
        .unwrap();
    clone
        .send_message(NUMBER, &text_body())
        .await
        .expect("the clone sends with the rotated token");
    assert!(client.set_access_token(&AccessToken::new(" ")).is_err());
    client
        .send_message(NUMBER, &text_body())
        .await
        .expect("a refused token leaves the old one in use");
}

#[tokio::test]
async fn a_hang_is_ambiguous_within_the_timeout() {
    let fake = FakeGraph::start().await;
    let timeout = Duration::from_millis(300);
    let client = client_with(&fake, timeout);
    fake.fail_next(1, FakeFailure::Hang);
    let started = Instant::now();
    let err = client.send_message(NUMBER, &text_body()).await.unwrap_err();
    let waited = started.elapsed();
    assert!(matches!(err, CloudError::Ambiguous { .. }), "{err:?}");
    assert!(!err.retry_safe(), "Meta may have sent it");
    assert!(waited >= timeout, "gave up after {waited:?}");
    assert!(
        waited < timeout + Duration::from_secs(5),
        "waited {waited:?}"
    );
    assert_eq!(fake.requests()[0].outcome, Outcome::Hung);
    // The client is still usable.
    client.send_message(NUMBER, &text_body()).await.unwrap();
}

#[tokio::test]
async fn a_closed_connection_after_the_request_is_ambiguous() {
    let fake = FakeGraph::start().await;
    let client = client(&fake);
    fake.fail_next(1, FakeFailure::CloseConnection);
    let err = client.send_message(NUMBER, &text_body()).await.unwrap_err();
    assert!(matches!(err, CloudError::Ambiguous { .. }), "{err:?}");
    assert!(!err.retry_safe());
    assert_eq!(fake.requests()[0].outcome, Outcome::Closed);
    client.send_message(NUMBER, &text_body()).await.unwrap();
}

#[tokio::test]
async fn a_gateway_error_without_metas_envelope_is_http() {
    let fake = FakeGraph::start().await;
    fake.fail_next(1, FakeFailure::Bare { http_status: 502 });
    let err = client(&fake)
        .send_message(NUMBER, &text_body())
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            CloudError::Http {
                http_status: 502,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(!err.retry_safe(), "a 5xx gateway may have passed it on");
    assert_eq!(
        classify(&err.failure().unwrap()).class,
        ErrorClass::ServiceError
    );
}

#[tokio::test]
async fn a_refused_port_is_not_sent() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let client = CloudClient::new(CloudConfig {
        graph_url: format!("http://127.0.0.1:{port}"),
        ..CloudConfig::new(AccessToken::new(FAKE_TOKEN))
    })
    .unwrap();
    let err = client.send_message(NUMBER, &text_body()).await.unwrap_err();
    assert!(matches!(err, CloudError::NotSent { .. }), "{err:?}");
    assert!(err.retry_safe());
}

#[tokio::test]
async fn a_body_meta_would_refuse_comes_back_as_error_100() {
    let fake = FakeGraph::start().await;
    let mut body = text_body();
    body.as_object_mut().unwrap().remove("to");
    let err = client(&fake).send_message(NUMBER, &body).await.unwrap_err();
    assert!(
        matches!(
            err,
            CloudError::Api {
                code: 100,
                http_status: 400,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(fake.sent().len(), 0);
}

#[tokio::test]
async fn templates_are_created_for_review() {
    let fake = FakeGraph::start().await;
    let body = json!({
        "name": "order_update",
        "language": "en_US",
        "category": "UTILITY",
        "components": [{ "type": "BODY", "text": "Your order {{1}} has shipped." ,
                         "example": { "body_text": [["#1234"]] } }],
    });
    let created = client(&fake).create_template(WABA, &body).await.unwrap();
    assert!(!created.id.is_empty());
    assert_eq!(
        (created.status.as_str(), created.category.as_str()),
        ("PENDING", "UTILITY")
    );
    let request = fake.requests().pop().unwrap();
    assert_eq!(request.path, format!("/v23.0/{WABA}/message_templates"));
    assert_eq!(request.body, body);
    assert_eq!(request.outcome, Outcome::TemplateCreated { id: created.id });

    fake.fail_next(1, FakeFailure::meta(100));
    let err = client(&fake)
        .create_template(WABA, &body)
        .await
        .unwrap_err();
    assert!(matches!(err, CloudError::Api { code: 100, .. }), "{err:?}");
}

#[tokio::test]
async fn ids_that_would_change_the_path_are_refused_before_sending() {
    let fake = FakeGraph::start().await;
    let err = client(&fake)
        .send_message("1/../2", &text_body())
        .await
        .unwrap_err();
    assert!(matches!(err, CloudError::Config { .. }), "{err:?}");
    assert!(fake.requests().is_empty());
}
