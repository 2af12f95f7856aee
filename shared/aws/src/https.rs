//! The HTTP client every AWS SDK client of a function uses: hyper 1 with rustls (aws-lc-rs), trusting
//! the webpki roots compiled into the binary.
//!
//! Why not the SDK's default client: it reads and parses the system's root certificates (every file
//! under `/etc/ssl/certs` on Debian, the bundle on Amazon Linux) when a client is created, and parses
//! them again for every SDK client built from the same configuration. That was most of a function's
//! cold start (see `infra/README.md`, "cold start"). Here the trust anchors are already parsed at
//! compile time (`webpki_roots::TLS_SERVER_ROOTS`); the one rustls configuration is built on first
//! use and shared by every SDK client, every connector and every request of the process, and no
//! connector is built before the first request.
//!
//! Behaviour kept from the SDK's client: a connector per pair of connect and read timeouts from the
//! SDK's `HttpConnectorSettings` (the connection pool is per connector, so all of a function's
//! clients with the default timeouts share one pool), TCP_NODELAY, and the SDK's error classes:
//! timeouts are `ConnectorError::timeout`, refused or broken connections `io` (both retried by the
//! SDK's standard retry strategy), a request the client cannot send `user`. Not kept: proxies
//! (Lambda has none) and HTTP/2 (DynamoDB, SQS, Scheduler and Secrets Manager answer HTTP/1.1).
//!
//! Plain `http://` endpoints (moto on 127.0.0.1 in tests and `cargo lambda watch`) go through the
//! same client without TLS.

use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_runtime_api::http::Response;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::retry::ErrorKind;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector as TcpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use std::collections::HashMap;
use std::error::Error as StdError;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

/// The rustls client configuration of the process: webpki roots, aws-lc-rs, TLS 1.2 and 1.3.
/// Built once, on first use (a copy of ~150 pointers into the binary); each connector takes a
/// clone (the roots sit behind an `Arc` in the verifier) and hyper-rustls adds ALPN `http/1.1`.
pub fn tls_config() -> Arc<rustls::ClientConfig> {
    static CONFIG: OnceLock<Arc<rustls::ClientConfig>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let roots = rustls::RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            };
            let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
            let config = rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .expect("aws-lc-rs supports TLS 1.2 and 1.3")
                .with_root_certificates(roots)
                .with_no_client_auth();
            // ALPN stays empty here: hyper-rustls sets it (http/1.1) from the enabled schemes.
            Arc::new(config)
        })
        .clone()
}

/// An HTTP client for `aws_config::ConfigLoader::http_client` (see [`crate::sdk_config`]).
pub fn client() -> SharedHttpClient {
    SharedHttpClient::new(WebpkiClient::default())
}

/// Connect and read timeouts: the key of a connector (and of its connection pool).
type Timeouts = (Option<Duration>, Option<Duration>);

#[derive(Debug, Default)]
struct WebpkiClient {
    connectors: Mutex<HashMap<Timeouts, SharedHttpConnector>>,
}

impl HttpClient for WebpkiClient {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        _components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        let key = (settings.connect_timeout(), settings.read_timeout());
        let mut connectors = self
            .connectors
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        connectors
            .entry(key)
            .or_insert_with(|| SharedHttpConnector::new(Connector::new(key)))
            .clone()
    }
}

struct Connector {
    client: Client<HttpsConnector<TcpConnector>, SdkBody>,
    read_timeout: Option<Duration>,
}

impl std::fmt::Debug for Connector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connector")
            .field("read_timeout", &self.read_timeout)
            .finish_non_exhaustive()
    }
}

impl Connector {
    fn new((connect_timeout, read_timeout): Timeouts) -> Connector {
        let mut tcp = TcpConnector::new();
        tcp.enforce_http(false);
        tcp.set_nodelay(true);
        tcp.set_connect_timeout(connect_timeout);
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config((*tls_config()).clone())
            .https_or_http()
            .enable_http1()
            .wrap_connector(tcp);
        let client = Client::builder(TokioExecutor::new())
            // Idle connections expire with a timer (the SDK's client sets one too).
            .pool_timer(TokioTimer::new())
            .build(https);
        Connector {
            client,
            read_timeout,
        }
    }
}

impl HttpConnector for Connector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let request = match request.try_into_http1x() {
            Ok(request) => request,
            Err(e) => return HttpConnectorFuture::ready(Err(ConnectorError::user(e.into()))),
        };
        let response = self.client.request(request);
        let read_timeout = self.read_timeout;
        HttpConnectorFuture::new(async move {
            // The read timeout covers the wait for the response head, as the SDK's client does.
            let response = match read_timeout {
                Some(limit) => tokio::time::timeout(limit, response)
                    .await
                    .map_err(|_| ConnectorError::timeout(ReadTimeout(limit).into()))?,
                None => response.await,
            }
            .map_err(classify)?;
            Response::try_from(response.map(SdkBody::from_body_1_x))
                .map_err(|e| ConnectorError::other(e.into(), None))
        })
    }
}

#[derive(Debug, thiserror::Error)]
#[error("no response within the read timeout of {0:?}")]
struct ReadTimeout(Duration);

/// The SDK's classes for a failed request (its retry strategy retries `timeout` and `io`).
fn classify(error: hyper_util::client::legacy::Error) -> ConnectorError {
    let timed_out = source_chain(&error).any(|e| {
        e.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::TimedOut)
            || e.downcast_ref::<hyper::Error>()
                .is_some_and(hyper::Error::is_timeout)
    });
    if timed_out {
        return ConnectorError::timeout(error.into());
    }
    if error.is_connect() {
        return ConnectorError::io(error.into());
    }
    let hyper_error = source_chain(&error).find_map(|e| e.downcast_ref::<hyper::Error>());
    if let Some(hyper_error) = hyper_error {
        if hyper_error.is_user() {
            return ConnectorError::user(error.into());
        }
        if hyper_error.is_incomplete_message() {
            return ConnectorError::other(error.into(), Some(ErrorKind::TransientError));
        }
        if hyper_error.is_closed() || hyper_error.is_canceled() {
            return ConnectorError::io(error.into());
        }
    }
    if source_chain(&error).any(|e| e.is::<std::io::Error>()) {
        return ConnectorError::io(error.into());
    }
    ConnectorError::other(error.into(), None)
}

fn source_chain<'a>(
    error: &'a (dyn StdError + 'static),
) -> impl Iterator<Item = &'a (dyn StdError + 'static)> {
    std::iter::successors(Some(error), |&e| e.source())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_trust_store_is_the_compiled_in_webpki_roots_built_once() {
        let config = tls_config();
        assert!(Arc::ptr_eq(&config, &tls_config()), "built once");
        assert!(
            config.alpn_protocols.is_empty(),
            "hyper-rustls refuses a config with ALPN set"
        );
        assert!(
            webpki_roots::TLS_SERVER_ROOTS.len() > 100,
            "Mozilla's roots"
        );
    }
}
