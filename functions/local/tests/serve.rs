//! `switchboard` as a newcomer runs it: the real binary, on a random port and a temporary
//! database, driven over HTTP.

use serde_json::json;
use std::process::Command;

const CUSTOMER: &str = "4915112345678";

mod common;
use common::{ADMIN, NUMBER, SECRET, Serve, serve, temp_db};

impl Serve {
    async fn inbound_keys(&self) -> Vec<String> {
        let (status, log) = self
            .call_raw(
                "GET",
                &format!("/v1/numbers/{NUMBER}/contacts/{CUSTOMER}/messages"),
                Some(ADMIN),
                None,
            )
            .await;
        if status == 404 {
            return Vec::new();
        }
        assert_eq!(status, 200, "{log}");
        log["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|i| i["kind"] == "inbound")
            .map(|i| i["message"].as_str().unwrap().to_owned())
            .collect()
    }
}

fn text_webhook(id: &str) -> (String, String) {
    common::text_webhook(CUSTOMER, id)
}

/// HOOK-1, HOOK-2, HOOK-5 through the runner: the same webhook code as the Lambda.
#[tokio::test]
async fn hook_1_2_5_the_webhook_verifies_queues_and_the_engine_routes() {
    let s = serve(&temp_db("hook"), true).await;
    let (ok, challenge) = s
        .call_raw(
            "GET",
            "/webhook?hub.mode=subscribe&hub.verify_token=serve-verify&hub.challenge=42",
            None,
            None,
        )
        .await;
    assert_eq!((ok, challenge), (200, json!(42)));
    let (refused, _) = s
        .call_raw(
            "GET",
            "/webhook?hub.mode=subscribe&hub.verify_token=wrong&hub.challenge=42",
            None,
            None,
        )
        .await;
    assert_eq!(refused, 403);
    let (body, signature) = text_webhook("wamid.SERVE1");
    assert_eq!(s.webhook(&body, "sha256=00").await, 401);
    assert_eq!(
        s.webhook(
            "not json",
            &whatsapp::signature::sign(
                &whatsapp::AppSecret::new(SECRET.as_bytes().to_vec()),
                b"not json"
            )
        )
        .await,
        400
    );
    assert_eq!(s.webhook(&body, &signature).await, 200);
    s.settle().await;
    assert_eq!(s.inbound_keys().await, ["wamid.SERVE1"]);
    // The example desk's bot answered through the recording sink: visible in the console's log,
    // with what was sent.
    let (_, log) = s
        .call_raw(
            "GET",
            &format!("/v1/numbers/{NUMBER}/contacts/{CUSTOMER}/messages"),
            Some(ADMIN),
            None,
        )
        .await;
    assert!(
        log["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["kind"] == "outbound"
                && i["delivery"]["status"] == "sent"
                && i["body"]["type"].is_string()),
        "{log}"
    );
    // A redelivery of the same webhook changes nothing.
    assert_eq!(s.webhook(&body, &signature).await, 200);
    s.settle().await;
    assert_eq!(s.inbound_keys().await, ["wamid.SERVE1"]);
}

#[tokio::test]
async fn the_test_clock_is_off_by_default_and_checks_its_input() {
    let off = serve(&temp_db("clock-off"), false).await;
    let (status, _) = off
        .call_raw(
            "POST",
            "/dev/clock",
            None,
            Some(json!({"advance_seconds": 60}).to_string()),
        )
        .await;
    assert_eq!(status, 404);
    drop(off);
    let on = serve(&temp_db("clock-on"), true).await;
    let (_, before) = on.call_raw("GET", "/dev/clock", None, None).await;
    let (status, after) = on
        .call_raw(
            "POST",
            "/dev/clock",
            None,
            Some(json!({"advance_seconds": 3600}).to_string()),
        )
        .await;
    assert_eq!(status, 200);
    assert!(after["now"].as_i64().unwrap() >= before["now"].as_i64().unwrap() + 3600);
    let (bad, reason) = on
        .call_raw(
            "POST",
            "/dev/clock",
            None,
            Some(json!({"advance_seconds": -1}).to_string()),
        )
        .await;
    assert_eq!(bad, 400, "{reason}");
}

/// Ctrl-C right after the webhook was answered: the message is kept and handled, before the
/// stop or after the next start; never lost.
#[tokio::test]
async fn ctrl_c_loses_nothing_that_was_acknowledged() {
    let db = temp_db("ctrl-c");
    let s = serve(&db, true).await;
    let mut acked = Vec::new();
    for i in 0..20 {
        let id = format!("wamid.STOP{i:02}");
        let (body, signature) = text_webhook(&id);
        assert_eq!(s.webhook(&body, &signature).await, 200);
        acked.push(id);
    }
    let mut s = s;
    let pid = s.child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .unwrap()
            .success()
    );
    let status = s.child.wait().unwrap();
    assert!(status.success(), "a clean stop: {status:?}");
    drop(s);
    let again = serve(&db, true).await;
    again.settle().await;
    let mut seen = again.inbound_keys().await;
    seen.sort();
    assert_eq!(seen, acked);
}

#[test]
fn missing_configuration_is_named() {
    let out = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .arg("serve")
        .env_remove("WHATSAPP_APP_SECRET")
        .env("SWITCHBOARD_ADDR", "127.0.0.1:0")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("WHATSAPP_APP_SECRET"));
    let usage = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .output()
        .unwrap();
    assert_eq!(usage.status.code(), Some(2));
}

/// The README's run command: the scripted story plays to its end.
#[test]
fn the_demo_plays_to_the_end() {
    let out = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .arg("demo")
        .env("RUST_LOG", "off")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("8/8"), "{stdout}");
    assert!(
        stdout.contains("How did we do?"),
        "the survey went out: {stdout}"
    );
    assert!(
        stdout.contains("That offer has ended"),
        "the expired text went out: {stdout}"
    );
}
