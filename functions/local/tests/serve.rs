//! `switchboard` as a newcomer runs it: the real binary, on a random port and a temporary
//! database, driven over HTTP.

use serde_json::{Value, json};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const SECRET: &str = "serve-test-secret";
const NUMBER: &str = "106540352242922";
const CUSTOMER: &str = "4915112345678";
const ADMIN: &str = "change-me-admin-token";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn temp_db(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(testkit::unique("serve"));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(format!("{name}.db"))
}

struct Serve {
    child: Child,
    base: String,
    http: reqwest::Client,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn serve(db: &std::path::Path, test_clock: bool) -> Serve {
    let port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .arg("serve")
        .args(["--port", &port.to_string(), "--db"])
        .arg(db)
        .env(
            "SWITCHBOARD_CONFIG",
            concat!(env!("CARGO_MANIFEST_DIR"), "/switchboard.example.toml"),
        )
        .env("WHATSAPP_APP_SECRET", SECRET)
        .env("WHATSAPP_VERIFY_TOKEN", "serve-verify")
        .env("SWITCHBOARD_TEST_CLOCK", if test_clock { "1" } else { "0" })
        .env_remove("WHATSAPP_ACCESS_TOKEN")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the switchboard binary starts");
    let s = Serve {
        child,
        base: format!("http://127.0.0.1:{port}"),
        http: switchboard_local::demo::loopback_client().unwrap(),
    };
    for _ in 0..200 {
        if s.http
            .get(format!("{}/healthz", s.base))
            .send()
            .await
            .is_ok()
        {
            return s;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("switchboard serve did not start on {}", s.base);
}

impl Serve {
    async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<String>,
    ) -> (u16, Value) {
        let mut r = self.http.request(
            reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
            format!("{}{path}", self.base),
        );
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        if let Some(b) = body {
            r = r.header("content-type", "application/json").body(b);
        }
        let r = r.send().await.unwrap();
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    async fn webhook(&self, body: &str, signature: &str) -> u16 {
        self.http
            .post(format!("{}/webhook", self.base))
            .header("x-hub-signature-256", signature)
            .header("content-type", "application/json")
            .body(body.to_owned())
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }

    async fn settle(&self) {
        let (status, body) = self
            .call(
                "POST",
                "/dev/clock",
                None,
                Some(json!({"advance_seconds": 0}).to_string()),
            )
            .await;
        assert_eq!((status, &body["settled"]), (200, &json!(true)), "{body}");
    }

    async fn inbound_keys(&self) -> Vec<String> {
        let (status, log) = self
            .call(
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
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let body = json!({
        "object": "whatsapp_business_account",
        "entry": [{"id": "102290129340398", "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550104477", "phone_number_id": NUMBER},
            "contacts": [{"profile": {"name": "Kim"}, "wa_id": CUSTOMER}],
            "messages": [{"from": CUSTOMER, "id": id, "timestamp": now.to_string(), "type": "text", "text": {"body": "hello"}}]
        }}]}]
    })
    .to_string();
    let signature = whatsapp::signature::sign(
        &whatsapp::AppSecret::new(SECRET.as_bytes().to_vec()),
        body.as_bytes(),
    );
    (body, signature)
}

/// HOOK-1, HOOK-2, HOOK-5 through the runner: the same webhook code as the Lambda.
#[tokio::test]
async fn hook_1_2_5_the_webhook_verifies_queues_and_the_engine_routes() {
    let s = serve(&temp_db("hook"), true).await;
    let (ok, challenge) = s
        .call(
            "GET",
            "/webhook?hub.mode=subscribe&hub.verify_token=serve-verify&hub.challenge=42",
            None,
            None,
        )
        .await;
    assert_eq!((ok, challenge), (200, json!(42)));
    let (refused, _) = s
        .call(
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
        .call(
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
        .call(
            "POST",
            "/dev/clock",
            None,
            Some(json!({"advance_seconds": 60}).to_string()),
        )
        .await;
    assert_eq!(status, 404);
    drop(off);
    let on = serve(&temp_db("clock-on"), true).await;
    let (_, before) = on.call("GET", "/dev/clock", None, None).await;
    let (status, after) = on
        .call(
            "POST",
            "/dev/clock",
            None,
            Some(json!({"advance_seconds": 3600}).to_string()),
        )
        .await;
    assert_eq!(status, 200);
    assert!(after["now"].as_i64().unwrap() >= before["now"].as_i64().unwrap() + 3600);
    let (bad, reason) = on
        .call(
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
