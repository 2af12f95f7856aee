//! # The deliverer: outgoing webhooks (EVT-4, EVT-5)
//!
//! Queues each endpoint's new events, POSTs them signed as the Standard Webhooks specification
//! says, one lane (a contact's conversations) at a time in commit order, retries failures with
//! the rules' backoff for 24 h, then keeps them as dead letters. It is generic over the store's
//! [`WebhookStore`] port, so the same code delivers from SQLite (the local runner's [`run`],
//! a pass every 200 ms) and from DynamoDB (the `deliverer` Lambda, [`handle`], a pass per
//! scheduled invocation over the event log the projector writes).
//!
//! Headers: `webhook-id` (the event's id: receivers deduplicate by it), `webhook-timestamp`
//! (the wall clock's epoch seconds: receivers check it against theirs), `webhook-signature`
//! (`v1,<base64>` per signing secret, space-separated during a rotation's grace period).
//! Retry times follow the engine's clock (the test clock when it is on).
//!
//! No SSRF: every connection goes through a resolver that drops private, loopback and
//! link-local addresses (loopback is allowed on the local runner, for `http://127.0.0.1`
//! receivers), redirects are not followed, and the URL is checked again before each attempt.

use rules::Timestamp;
use rules::events::{
    RetryDecision, WebhookSecret, address_allowed, after_failed_attempt, check_target_url,
    signature_header, signing_secrets,
};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use store::{Delivery, WebhookEndpoint, WebhookStore};

/// How long one attempt may take.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);

/// Resolves host names, keeping only addresses a webhook may reach.
struct SafeResolver {
    allow_loopback: bool,
}

impl reqwest::dns::Resolve for SafeResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let allow_loopback = self.allow_loopback;
        Box::pin(async move {
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((name.as_str(), 0))
                .await?
                .filter(|a| address_allowed(a.ip(), allow_loopback))
                .collect();
            if addrs.is_empty() {
                return Err("the host resolves to no public address".into());
            }
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// The deliverer's HTTP client: TLS with the compiled-in web roots, no proxy, no redirects, the
/// SSRF-checking resolver.
pub fn client(allow_loopback: bool) -> Result<reqwest::Client, String> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .dns_resolver(Arc::new(SafeResolver { allow_loopback }))
        .redirect(reqwest::redirect::Policy::none())
        .timeout(ATTEMPT_TIMEOUT)
        .connect_timeout(Duration::from_secs(3))
        .no_proxy()
        .user_agent(concat!("switchboard-webhooks/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| e.to_string())
}

pub fn wall_clock() -> Timestamp {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    Timestamp::from_unix(secs)
}

/// What one pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Pass {
    pub delivered: u32,
    pub failed: u32,
    pub dead: u32,
}

/// One pass at `now`: queue what is new, then deliver everything due, lane by lane, until
/// nothing due is left (a failed delivery holds its lane until its retry time).
pub async fn deliver_due<S: WebhookStore>(
    store: &S,
    http: &reqwest::Client,
    now: Timestamp,
    allow_loopback: bool,
) -> store::Result<Pass> {
    while store.queue_deliveries(now, 500).await? > 0 {}
    let endpoints: HashMap<String, WebhookEndpoint> = store
        .webhooks()
        .await?
        .into_iter()
        .map(|e| (e.id.clone(), e))
        .collect();
    let mut pass = Pass::default();
    loop {
        let due = store.due_deliveries(now, 100).await?;
        if due.is_empty() {
            return Ok(pass);
        }
        // Each lane's head, concurrently across lanes (one request per lane at a time).
        let attempts = due.into_iter().map(|d| {
            let endpoint = endpoints.get(&d.endpoint).cloned();
            async move {
                let outcome = match &endpoint {
                    Some(e) => attempt(http, e, &d, now, allow_loopback).await,
                    None => Err("the endpoint was deleted".to_owned()),
                };
                (d, outcome)
            }
        });
        for (d, outcome) in futures_util::future::join_all(attempts).await {
            match outcome {
                Ok(()) => {
                    store.delivered(&d.endpoint, &d.position).await?;
                    pass.delivered += 1;
                }
                Err(error) => {
                    let first = d.first_attempt_at.unwrap_or(now);
                    let retry = match after_failed_attempt(d.attempts + 1, first, now) {
                        RetryDecision::RetryAt(at) => Some(at),
                        RetryDecision::DeadLetter => None,
                    };
                    if retry.is_none() {
                        pass.dead += 1;
                        tracing::warn!(webhook = %d.endpoint, event = %d.event_id, %error, "webhook delivery dead-lettered after 24 h");
                    } else {
                        pass.failed += 1;
                        tracing::info!(webhook = %d.endpoint, event = %d.event_id, attempts = d.attempts + 1, %error, "webhook delivery failed; will retry");
                    }
                    store
                        .delivery_failed(&d.endpoint, &d.position, first, retry, &error)
                        .await?;
                }
            }
        }
    }
}

/// One signed POST. `Err`: why it did not deliver (status or transport error, never the body).
async fn attempt(
    http: &reqwest::Client,
    endpoint: &WebhookEndpoint,
    d: &Delivery,
    now: Timestamp,
    allow_loopback: bool,
) -> Result<(), String> {
    check_target_url(&endpoint.url, allow_loopback).map_err(|e| e.to_string())?;
    let current = WebhookSecret::parse(&endpoint.secret).map_err(|e| e.to_string())?;
    let previous = match &endpoint.previous_secret {
        Some((secret, until)) => Some((
            WebhookSecret::parse(secret).map_err(|e| e.to_string())?,
            *until,
        )),
        None => None,
    };
    let secrets = signing_secrets(&current, previous.as_ref().map(|(s, u)| (s, *u)), now);
    let timestamp = wall_clock();
    let signature = signature_header(&secrets, &d.event_id, timestamp, d.body.as_bytes());
    let response = http
        .post(&endpoint.url)
        .header("content-type", "application/json")
        .header("webhook-id", &d.event_id)
        .header("webhook-timestamp", timestamp.unix().to_string())
        .header("webhook-signature", signature)
        .body(d.body.clone())
        .send()
        .await
        .map_err(|e| {
            if e.is_timeout() {
                "timed out".to_owned()
            } else if e.is_connect() {
                "could not connect".to_owned()
            } else {
                "transport error".to_owned()
            }
        })?;
    let status = response.status();
    if status.is_success() {
        Ok(())
    } else {
        Err(format!("HTTP {}", status.as_u16()))
    }
}

/// Runs passes until `stop` turns true: one a second, and at once after the clock moves (the
/// test clock's advance), with `now` from `clock`.
pub async fn run<S: WebhookStore>(
    store: S,
    clock: impl Fn() -> Timestamp,
    allow_loopback: bool,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let http = match client(allow_loopback) {
        Ok(c) => c,
        Err(error) => {
            tracing::error!(%error, "webhook deliverer has no HTTP client; not delivering");
            return;
        }
    };
    loop {
        if *stop.borrow() {
            return;
        }
        if let Err(error) = deliver_due(&store, &http, clock(), allow_loopback).await {
            tracing::warn!(%error, "webhook delivery pass failed; retrying");
        }
        tokio::select! {
            _ = stop.changed() => {}
            _ = tokio::time::sleep(Duration::from_millis(200)) => {}
        }
    }
}

/// The deliverer Lambda's configuration: the table.
pub const TABLE_NAME: &str = "TABLE_NAME";

/// One scheduled invocation on AWS: one pass at the wall clock's `now`. The function runs with
/// a reserved concurrency of one, so two passes never deliver one lane's events side by side;
/// an error fails the invocation and the next schedule tries again (the queue and cursors are
/// in the table, so nothing is lost or skipped).
pub async fn handle<S: WebhookStore>(store: &S, http: &reqwest::Client) -> store::Result<Pass> {
    let pass = deliver_due(store, http, wall_clock(), false).await?;
    tracing::info!(
        delivered = pass.delivered,
        failed = pass.failed,
        dead = pass.dead,
        "webhook delivery pass"
    );
    Ok(pass)
}
