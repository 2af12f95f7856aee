//! Property tests over hostile input: arbitrary bytes and mutated fixtures go through signature
//! verification, parsing and normalisation without panicking (HOOK-2, HOOK-4), and whatever is
//! accepted normalises into events that survive the queue's JSON round trip.

use proptest::prelude::*;
use serde_json::Value;
use std::path::PathBuf;
use std::sync::OnceLock;
use whatsapp::{AppSecret, Event, Route, parse_events, sign, verify};

fn fixtures() -> &'static [Vec<u8>] {
    static FIXTURES: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    FIXTURES.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/webhooks");
        let mut all: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        all.sort();
        assert!(all.len() >= 30, "fixtures missing in {}", dir.display());
        all.iter().map(|p| std::fs::read(p).unwrap()).collect()
    })
}

fn secret() -> AppSecret {
    AppSecret::new("fuzz-secret")
}

/// The whole POST path minus the queue: verify, then parse and normalise; checks what is accepted.
fn exercise(header: Option<&str>, body: &[u8]) {
    let verified = verify(&secret(), header, body).is_ok();
    if header.is_some_and(|h| h == sign(&secret(), body)) {
        assert!(verified, "a correct signature verifies");
    }
    if let Ok(events) = parse_events(body) {
        check_events(&events);
    }
}

fn check_events(events: &[Event]) {
    for event in events {
        if let Route::Inbound { group } = event.route() {
            let business = event
                .business
                .as_ref()
                .expect("customer events name the number");
            assert!(group.starts_with(&format!("{}#", business.phone_number_id)));
        }
        let json = serde_json::to_string(event).expect("events serialise");
        let back: Event = serde_json::from_str(&json).expect("events deserialise");
        assert_eq!(back.key, event.key);
        assert_eq!(back.route(), event.route());
        assert_eq!(back.kind_name(), event.kind_name());
    }
}

/// Replaces the `target`-th node (in pre-order) of `value` with `replacement`.
fn replace_node(value: &mut Value, target: &mut usize, replacement: &Value) -> bool {
    if *target == 0 {
        *value = replacement.clone();
        return true;
    }
    *target -= 1;
    match value {
        Value::Array(items) => items
            .iter_mut()
            .any(|v| replace_node(v, target, replacement)),
        Value::Object(map) => map
            .values_mut()
            .any(|v| replace_node(v, target, replacement)),
        _ => false,
    }
}

fn json_leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        (-1.0e12f64..1.0e12).prop_map(Value::from),
        ".{0,12}".prop_map(Value::String),
        prop::sample::select(vec![
            "text",
            "image",
            "interactive",
            "button",
            "system",
            "unsupported",
            "messages",
            "statuses",
            "TIER_1K",
            "TIER_UNLIMITED",
            "1760000000",
            "",
            "sent",
            "failed",
        ])
        .prop_map(|s| Value::String(s.to_owned())),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    json_leaf().prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(".{0,6}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    // HOOK-2 / HOOK-4: arbitrary bytes with arbitrary, correct or absent signatures.
    #[test]
    fn arbitrary_bytes_never_panic(
        body in prop::collection::vec(any::<u8>(), 0..512),
        header in prop::option::of(".{0,80}"),
        use_correct in any::<bool>(),
    ) {
        let header = if use_correct { Some(sign(&secret(), &body)) } else { header };
        exercise(header.as_deref(), &body);
    }

    // HOOK-4: byte-level damage to real payloads (flips, truncation, insertion).
    #[test]
    fn damaged_fixtures_never_panic(
        which in any::<prop::sample::Index>(),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..8),
        cut in any::<prop::sample::Index>(),
        truncate in any::<bool>(),
        insert in prop::collection::vec(any::<u8>(), 0..16),
    ) {
        let mut body = which.get(fixtures()).clone();
        for (at, byte) in flips {
            let i = at.index(body.len());
            body[i] = byte;
        }
        let at = cut.index(body.len());
        if truncate {
            body.truncate(at);
        } else {
            body.splice(at..at, insert);
        }
        let header = sign(&secret(), &body);
        exercise(Some(&header), &body);
    }

    // HOOK-4: structurally valid JSON with one node replaced by something unexpected.
    #[test]
    fn mutated_fixture_trees_never_panic(
        which in any::<prop::sample::Index>(),
        node in any::<prop::sample::Index>(),
        replacement in json_value(),
    ) {
        let fixture = which.get(fixtures());
        let mut value: Value = serde_json::from_slice(fixture).unwrap();
        let nodes = count_nodes(&value);
        let mut target = node.index(nodes);
        prop_assert!(replace_node(&mut value, &mut target, &replacement) || nodes == 0);
        let body = serde_json::to_vec(&value).unwrap();
        // The mutated body re-serialised: the original signature must no longer verify.
        let original = sign(&secret(), fixture);
        if body != *fixture {
            prop_assert!(verify(&secret(), Some(&original), &body).is_err());
        }
        exercise(Some(&sign(&secret(), &body)), &body);
    }
}

fn count_nodes(value: &Value) -> usize {
    1 + match value {
        Value::Array(items) => items.iter().map(count_nodes).sum(),
        Value::Object(map) => map.values().map(count_nodes).sum(),
        _ => 0,
    }
}

#[test]
fn every_fixture_parses() {
    for body in fixtures() {
        let events = parse_events(body).expect("fixtures are valid webhooks");
        assert!(!events.is_empty());
        check_events(&events);
    }
}
