//! P1: CPU per webhook with no network: verify the signature, parse, normalise, serialise the
//! events and build the `SendMessageBatch` entries. Target ≤ 20 µs for one text message.
//!
//! `cargo bench -p ingest --bench webhook -- --warm-up-time 1 --measurement-time 3`

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ingest::{Webhook, prepare};
use queue::Destination;
use queue::sqs::batch_entries;
use std::hint::black_box;
use switchboard_tests::fixture;
use whatsapp::{AppSecret, sign};

/// A one-message body as Meta sends it: compact, string timestamp, `\u`-escaped non-ASCII.
const SINGLE_TEXT: &str = r#"{"object":"whatsapp_business_account","entry":[{"id":"100000000000001","changes":[{"value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550100001","phone_number_id":"200000000000001"},"contacts":[{"profile":{"name":"Ana Test"},"wa_id":"15550009001"}],"messages":[{"from":"15550009001","id":"wamid.HBgLMTU1NTAwMDkwMDEVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA=","timestamp":"1760000000","text":{"body":"Hola, \u00bfmi pedido ya sali\u00f3?"},"type":"text"}]},"field":"messages"}]}]}"#;

fn webhook() -> Webhook {
    Webhook {
        secret: AppSecret::new("switchboard-test-secret"),
        verify_token: "t".to_owned(),
    }
}

/// Everything the ingest does for one POST except the network call.
fn cpu_per_webhook(webhook: &Webhook, signature: &str, body: &[u8]) -> usize {
    // A minute after the fixtures' stamps (HOOK-6 checks them against the arrival).
    let arrival = whatsapp::Timestamp::from_unix(1_760_000_060);
    let prepared = prepare(webhook, Some(signature), body, arrival).expect("a valid webhook");
    let inbound = batch_entries(Destination::Inbound, &prepared.inbound).expect("batches");
    let updates = batch_entries(Destination::Updates, &prepared.updates).expect("batches");
    inbound.len() + updates.len()
}

fn bench(c: &mut Criterion) {
    let webhook = webhook();
    let mut group = c.benchmark_group("ingest_cpu_per_webhook");
    for (name, body) in [
        ("single_text", SINGLE_TEXT.as_bytes().to_vec()),
        ("batch_20", fixture("webhooks/batch_20.json")),
    ] {
        let signature = sign(&webhook.secret, &body);
        assert!(cpu_per_webhook(&webhook, &signature, &body) >= 1);
        group.throughput(Throughput::Bytes(body.len() as u64));
        group.bench_function(name, |b| {
            b.iter(|| cpu_per_webhook(&webhook, black_box(&signature), black_box(&body)))
        });
    }
    group.finish();

    // The parts, to see where the time goes.
    let body = SINGLE_TEXT.as_bytes();
    let signature = sign(&webhook.secret, body);
    let mut parts = c.benchmark_group("ingest_parts_single_text");
    parts.bench_function("verify", |b| {
        b.iter(|| {
            whatsapp::verify(
                &webhook.secret,
                Some(black_box(&signature)),
                black_box(body),
            )
        })
    });
    parts.bench_function("parse_normalise", |b| {
        b.iter(|| whatsapp::parse_events(black_box(body)))
    });
    parts.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
