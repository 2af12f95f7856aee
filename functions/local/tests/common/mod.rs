//! The real `switchboard serve` for the binary's tests: started on a random port and a database
//! the test names, with the example desk file and the test clock when asked; killed (SIGKILL)
//! when dropped. Shared by `serve.rs`, `events.rs` and `crash.rs`.
#![allow(dead_code)]

use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The app secret the runner verifies webhooks with.
pub const SECRET: &str = "serve-test-secret";
pub const NUMBER: &str = "106540352242922";
/// Tokens of the example desk file.
pub const ADMIN: &str = "change-me-admin-token";
pub const AGENT: &str = "change-me-ana-token";

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A fresh database path in its own temporary folder.
pub fn temp_db(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(testkit::unique("serve"));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(format!("{name}.db"))
}

pub struct Serve {
    pub child: Child,
    pub base: String,
    pub http: reqwest::Client,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `switchboard serve` on `db` and waits until it answers.
pub async fn serve(db: &Path, test_clock: bool) -> Serve {
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
    for _ in 0..400 {
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

/// A signed text webhook from `customer` to [`NUMBER`]: the body and its signature.
pub fn text_webhook(customer: &str, id: &str) -> (String, String) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let body = json!({
        "object": "whatsapp_business_account",
        "entry": [{"id": "102290129340398", "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550104477", "phone_number_id": NUMBER},
            "contacts": [{"profile": {"name": "Kim"}, "wa_id": customer}],
            "messages": [{"from": customer, "id": id, "timestamp": now.to_string(), "type": "text", "text": {"body": "hello"}}]
        }}]}]
    })
    .to_string();
    let signature = whatsapp::signature::sign(
        &whatsapp::AppSecret::new(SECRET.as_bytes().to_vec()),
        body.as_bytes(),
    );
    (body, signature)
}

impl Serve {
    /// A `/v1` (or `/dev`) call: status and JSON body (a string when not JSON).
    pub async fn call_raw(
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

    /// [`Serve::call_raw`] with a token and a JSON body.
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        self.call_raw(method, path, Some(token), body.map(|b| b.to_string()))
            .await
    }

    /// Posts a webhook body with its signature; the runner's status.
    pub async fn webhook(&self, body: &str, signature: &str) -> u16 {
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

    /// The customer writes a text (acknowledged 200).
    pub async fn customer_writes(&self, customer: &str, id: &str) {
        let (body, signature) = text_webhook(customer, id);
        assert_eq!(self.webhook(&body, &signature).await, 200);
    }

    /// Moves the test clock and waits until the engine handled what fell due (0: everything
    /// queued so far is handled).
    pub async fn advance(&self, seconds: u64) {
        let (status, body) = self
            .call_raw(
                "POST",
                "/dev/clock",
                None,
                Some(json!({"advance_seconds": seconds}).to_string()),
            )
            .await;
        assert_eq!((status, &body["settled"]), (200, &json!(true)), "{body}");
    }

    pub async fn settle(&self) {
        self.advance(0).await;
    }
}

impl Serve {
    /// Every event of the number, through `GET /v1/events`, page by page.
    pub async fn all_events(&self, token: &str) -> Vec<Value> {
        self.events_after(token, "").await.0
    }

    /// The number's events after `after` (`""`: from the first), and the cursor after them.
    pub async fn events_after(&self, token: &str, after: &str) -> (Vec<Value>, String) {
        let mut out = Vec::new();
        let mut after = after.to_owned();
        loop {
            let (status, page) = self
                .call(
                    "GET",
                    &format!("/v1/events?number={NUMBER}&limit=7&after={after}"),
                    token,
                    None,
                )
                .await;
            assert_eq!(status, 200, "{page}");
            let events = page["events"].as_array().unwrap().clone();
            if events.is_empty() {
                return (out, after);
            }
            after = page["next"].as_str().unwrap().to_owned();
            out.extend(events);
        }
    }
}
