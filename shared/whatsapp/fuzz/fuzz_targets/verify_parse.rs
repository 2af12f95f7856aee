//! Verify + parse + normalise over arbitrary input: never panics. The first byte picks whether the
//! signature header is the correct one, an arbitrary prefix of the input, or absent.
#![no_main]

use libfuzzer_sys::fuzz_target;
use whatsapp::{AppSecret, parse_events, sign, verify};

fuzz_target!(|data: &[u8]| {
    let secret = AppSecret::new("fuzz-secret");
    let (mode, body) = match data.split_first() {
        Some((m, rest)) => (*m, rest),
        None => (0, data),
    };
    let header = match mode % 3 {
        0 => Some(sign(&secret, body)),
        1 => Some(String::from_utf8_lossy(&body[..body.len().min(80)]).into_owned()),
        _ => None,
    };
    let _ = verify(&secret, header.as_deref(), body);
    if let Ok(events) = parse_events(body) {
        for event in &events {
            let json = serde_json::to_string(event).expect("events serialise");
            let back: whatsapp::Event = serde_json::from_str(&json).expect("events deserialise");
            assert_eq!(back.key, event.key);
        }
    }
});
