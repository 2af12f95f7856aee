//! `aws_wiring::https`, the SDK clients' HTTP client, through real SDK calls: against moto server
//! (started by ./scripts/test, `AWS_ENDPOINT_URL`), and against sockets on 127.0.0.1 that refuse,
//! stall or answer garbage, to check the SDK sees the error classes its retry strategy expects.

use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, retry::RetryConfig};
use aws_sdk_secretsmanager::error::SdkError;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// A Secrets Manager client on `endpoint` through `aws_wiring::https::client()`, one attempt.
async fn client_at(endpoint: &str, timeouts: TimeoutConfig) -> aws_sdk_secretsmanager::Client {
    let sdk = aws_config::defaults(BehaviorVersion::latest())
        .http_client(aws_wiring::https::client())
        .endpoint_url(endpoint)
        .region(Region::new("us-east-1"))
        .credentials_provider(aws_credential_types::Credentials::new(
            "test", "test", None, None, "test",
        ))
        .retry_config(RetryConfig::disabled())
        .timeout_config(timeouts)
        .load()
        .await;
    aws_sdk_secretsmanager::Client::new(&sdk)
}

#[tokio::test]
async fn sdk_config_reaches_moto_through_the_webpki_client_and_reads_a_secret() {
    // The functions' own path: region, credentials and AWS_ENDPOINT_URL from the environment.
    let sdk = aws_wiring::sdk_config().await;
    let client = aws_sdk_secretsmanager::Client::new(&sdk);
    let arn = client
        .create_secret()
        .name(testkit::unique("switchboard-https"))
        .secret_string("through-hyper-rustls")
        .send()
        .await
        .unwrap()
        .arn
        .unwrap();
    let manager = aws_wiring::SecretsManager::new(&sdk);
    // Twice: the second request reuses the pooled connection of the same connector.
    for _ in 0..2 {
        let secret = manager.fetch("OUTREACH_KEY", &arn).await.unwrap();
        assert_eq!(secret.expose(), "through-hyper-rustls");
    }
}

#[tokio::test]
async fn a_refused_connection_is_an_io_dispatch_failure() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let client = client_at(
        &format!("http://127.0.0.1:{port}"),
        TimeoutConfig::builder().build(),
    )
    .await;
    match client.list_secrets().send().await {
        Err(SdkError::DispatchFailure(failure)) => {
            assert!(failure.is_io(), "{failure:?}");
        }
        other => panic!("expected a dispatch failure, got {other:?}"),
    }
}

#[tokio::test]
async fn a_server_that_never_answers_hits_the_read_timeout() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = tokio::spawn(async move {
        // Accept and read, never answer (held open until the test ends).
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut buffer = vec![0; 4096];
        let _ = socket.read(&mut buffer).await;
        tokio::time::sleep(Duration::from_secs(30)).await;
    });
    let client = client_at(
        &format!("http://127.0.0.1:{port}"),
        TimeoutConfig::builder()
            .read_timeout(Duration::from_millis(300))
            .build(),
    )
    .await;
    let started = Instant::now();
    let result = client.list_secrets().send().await;
    let waited = started.elapsed();
    server.abort();
    match result {
        Err(SdkError::DispatchFailure(failure)) => {
            assert!(failure.is_timeout(), "{failure:?}");
        }
        other => panic!("expected a timeout, got {other:?}"),
    }
    assert!(waited >= Duration::from_millis(300), "{waited:?}");
}

#[tokio::test]
async fn tls_to_a_server_that_is_not_https_fails_as_a_dispatch_failure_not_a_panic() {
    // https:// selects the rustls path: the handshake meets plain-text garbage and must fail.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut buffer = vec![0; 4096];
        let _ = socket.read(&mut buffer).await;
        let _ = socket
            .write_all(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n")
            .await;
    });
    let client = client_at(
        &format!("https://127.0.0.1:{port}"),
        TimeoutConfig::builder().build(),
    )
    .await;
    let result = client.list_secrets().send().await;
    server.abort();
    match result {
        Err(SdkError::DispatchFailure(failure)) => {
            assert!(failure.is_io() || failure.is_other(), "{failure:?}");
        }
        other => panic!("expected a TLS failure, got {other:?}"),
    }
}
