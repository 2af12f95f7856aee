//! The local path of HOOK-6 (bounds at the edge) and OPS-4 (dead letters through the console):
//! the runner's own `start` in this process, on a random loopback port, a temporary database and
//! the test clock, driven over HTTP. The AWS path of the same cases: `tests/tests/hook_6_lambda.rs`
//! (the ingest Lambda on SQS/moto) and `functions/console/tests/dead_letters.rs` (the console
//! on the stack's DLQs on moto); both adapters pass `queue::dead::contract` (here and in
//! `shared/queue/tests/dead_letters_moto.rs`).

use queue::dead::contract::{self, Harness};
use queue::{Destination, Envelope, EventQueue};
use serde_json::{Value, json};
use store::{SqliteQueue, SqliteStore};
use switchboard_local::config::{Desk, Token};
use switchboard_local::{EngineClock, Running, Settings};

const SECRET: &str = "edge-test-secret";
const NUMBER: &str = "106540352242922";
const CUSTOMER: &str = "4915112345678";
const ADMIN: &str = "edge-admin-token-0123456789";
const AGENT: &str = "edge-agent-token-0123456789";
/// The test clock's start: 2026-03-02T09:00:00Z.
const START: i64 = 1_772_442_000;

struct Runner {
    running: Option<Running>,
    base: String,
    http: reqwest::Client,
    dir: std::path::PathBuf,
}

async fn runner() -> Runner {
    let dir = std::env::temp_dir().join(testkit::unique("edge"));
    std::fs::create_dir_all(&dir).unwrap();
    let token = |agent: &str, role: &str, token: &str| Token {
        agent: rules::AgentId::new(agent).unwrap(),
        role: role.to_owned(),
        token: token.to_owned(),
    };
    let settings = Settings {
        addr: "127.0.0.1:0".parse().unwrap(),
        db: dir.join("switchboard.db"),
        app_secret: SECRET.to_owned(),
        verify_token: "edge-verify".to_owned(),
        access_token: None,
        graph_url: "http://127.0.0.1:9".to_owned(),
        graph_version: "v23.0".to_owned(),
        outreach_key: b"edge-outreach-key".to_vec(),
        test_clock: true,
        engine_threads: 1,
        desk: Desk {
            tokens: vec![token("boss", "admin", ADMIN), token("ana", "agent", AGENT)],
            ..Desk::default()
        },
    };
    let running = switchboard_local::start_with_clock(settings, EngineClock::starting_at(START))
        .await
        .expect("the local runner starts");
    Runner {
        base: format!("http://{}", running.addr),
        running: Some(running),
        http: switchboard_local::demo::loopback_client().unwrap(),
        dir,
    }
}

impl Runner {
    async fn stop(mut self) {
        if let Some(running) = self.running.take() {
            running.shutdown().await;
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }

    fn queue(&self) -> &SqliteQueue {
        &self.running.as_ref().unwrap().engine.queue
    }

    /// A signed webhook: (status, reason).
    async fn webhook(&self, body: &str) -> (u16, String) {
        let signature = whatsapp::sign(&whatsapp::AppSecret::new(SECRET), body.as_bytes());
        let r = self
            .http
            .post(format!("{}/webhook", self.base))
            .header("content-type", "application/json")
            .header(whatsapp::signature::SIGNATURE_HEADER, signature)
            .body(body.to_owned())
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    }

    async fn call(&self, method: &str, path: &str, token: &str) -> (u16, Value) {
        let r = self
            .http
            .request(
                reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
                format!("{}{path}", self.base),
            )
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    /// Runs the engine until everything due is handled (the test clock's settle).
    async fn settle(&self) {
        let r = self
            .http
            .post(format!("{}/dev/clock", self.base))
            .header("content-type", "application/json")
            .body(json!({"advance_seconds": 0}).to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
    }
}

fn webhook(number: &str, messages: Vec<Value>) -> String {
    json!({
        "object": "whatsapp_business_account",
        "entry": [{"id": "100000000000001", "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550100001", "phone_number_id": number},
            "contacts": [{"profile": {"name": "Ana"}, "wa_id": CUSTOMER}],
            "messages": messages,
        }}]}]
    })
    .to_string()
}

fn text(id: &str, timestamp: &str) -> Value {
    json!({"from": CUSTOMER, "id": id, "timestamp": timestamp, "type": "text", "text": {"body": "hello"}})
}

#[tokio::test]
async fn hook_6_the_runner_refuses_what_it_could_not_keep_and_corrects_impossible_times() {
    let r = runner().await;
    let now = START.to_string();

    // Empty ids: 400 with the reason, nothing queued (before, 200 then a dead letter).
    let (code, reason) = r.webhook(&webhook(NUMBER, vec![text("", &now)])).await;
    assert_eq!(code, 400, "{reason}");
    assert!(reason.contains("messages[0].id"), "{reason}");
    // A number id that is not digits: 400 (before, a conversation under "../../etc/passwd").
    for number in ["../../etc/passwd", "1' OR 1=1"] {
        let (code, reason) = r
            .webhook(&webhook(number, vec![text("wamid.P", &now)]))
            .await;
        assert_eq!(code, 400, "{reason}");
        assert!(
            reason.contains("phone_number_id must be digits"),
            "{reason}"
        );
    }
    // One event over the queue's limit: 413 with the reason (before, 500 for ever).
    let mut big = text("wamid.BIG", &now);
    big["text"]["body"] = json!("x".repeat(300 * 1024));
    let (code, reason) = r.webhook(&webhook(NUMBER, vec![big])).await;
    assert_eq!(code, 413, "{reason}");
    assert!(reason.contains("wamid.BIG"), "{reason}");
    assert_eq!(
        r.queue().backlog().await.unwrap().ready,
        0,
        "nothing queued"
    );

    // The console's path parameters: the same rule, 400 with the reason, before any read.
    for path in [
        "/v1/numbers/..%2F..%2Fetc%2Fpasswd/contacts",
        "/v1/numbers/1'%20OR%201=1/contacts",
        "/v1/numbers/abc/settings",
    ] {
        let (code, body) = r.call("GET", path, ADMIN).await;
        assert_eq!(code, 400, "{path}: {body}");
        assert_eq!(body["fields"][0]["field"], "number", "{body}");
    }

    // A stamp at i64::MAX is replaced by the arrival (the test clock): the window runs 24 h
    // from now, not until the end of time.
    let (code, _) = r
        .webhook(&webhook(
            NUMBER,
            vec![text("wamid.MAX", "9223372036854775807")],
        ))
        .await;
    assert_eq!(code, 200);
    r.settle().await;
    let window = format!("/v1/numbers/{NUMBER}/contacts/{CUSTOMER}/window");
    let (code, body) = r.call("GET", &window, ADMIN).await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["state"], "open", "{body}");
    assert_eq!(body["closes_at"], START + 24 * 3600, "{body}");
    // The log shows Meta's stamp with the message.
    let (code, log) = r
        .call(
            "GET",
            &format!("/v1/numbers/{NUMBER}/contacts/{CUSTOMER}/messages"),
            ADMIN,
        )
        .await;
    assert_eq!(code, 200, "{log}");
    let item = log["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["message"] == "wamid.MAX")
        .unwrap_or_else(|| panic!("{log}"));
    assert_eq!(item["at"], START, "{item}");
    assert_eq!(item["body"]["replaced_timestamp"], i64::MAX, "{item}");
    // A negative stamp on a later message does not close it either.
    let (code, _) = r
        .webhook(&webhook(NUMBER, vec![text("wamid.NEG", "-5")]))
        .await;
    assert_eq!(code, 200);
    r.settle().await;
    let (_, body) = r.call("GET", &window, ADMIN).await;
    assert_eq!(body["closes_at"], START + 24 * 3600, "{body}");

    // Nothing that was acknowledged became a dead letter.
    let (code, body) = r.call("GET", "/v1/dead-letters", ADMIN).await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["dead_letters"], json!([]), "{body}");
    r.stop().await;
}

#[tokio::test]
async fn ops_4_admins_list_and_redeliver_the_runners_dead_letters() {
    let r = runner().await;
    // A message the router cannot use (it names no business number): dead at its first
    // delivery, a permanent failure.
    let group = format!("{NUMBER}#{CUSTOMER}");
    let unusable = json!({"key": "wamid.UNUSABLE", "waba_id": "1",
        "body": {"kind": "message", "id": "wamid.UNUSABLE", "timestamp": START,
            "contact": {"key": CUSTOMER}, "content": {"type": "text", "body": "secret words"}}});
    r.queue()
        .send(
            Destination::Inbound,
            vec![Envelope {
                key: "wamid.UNUSABLE".into(),
                group: Some(group),
                body: unusable.to_string(),
            }],
        )
        .await
        .unwrap();
    r.settle().await;

    // Agents may not look; admins see why, how often and when, never a body.
    let (code, _) = r.call("GET", "/v1/dead-letters", AGENT).await;
    assert_eq!(code, 403);
    let (code, body) = r
        .call("POST", "/v1/dead-letters/redeliver-all", AGENT)
        .await;
    assert_eq!(code, 403, "{body}");
    let (code, body) = r.call("GET", "/v1/dead-letters", ADMIN).await;
    assert_eq!(code, 200, "{body}");
    let letters = body["dead_letters"].as_array().unwrap().clone();
    assert_eq!(letters.len(), 1, "{body}");
    let letter = &letters[0];
    assert_eq!(letter["queue"], "inbound");
    assert_eq!(letter["key"], "wamid.UNUSABLE");
    assert_eq!(letter["kind"], "text");
    assert_eq!(letter["attempts"], 1);
    assert!(!letter["reason"].as_str().unwrap().is_empty());
    // The test clock's time, as RFC 3339.
    assert_eq!(letter["first_seen"], "2026-03-02T09:00:00Z", "{letter}");
    assert_eq!(letter["last_seen"], "2026-03-02T09:00:00Z", "{letter}");
    assert!(
        !body.to_string().contains("secret"),
        "never the text: {body}"
    );

    // Bad ids are 400, unknown ones 404.
    let (code, _) = r
        .call("POST", "/v1/dead-letters/1'%20OR%201=1/redeliver", ADMIN)
        .await;
    assert_eq!(code, 400);
    let (code, _) = r
        .call("POST", "/v1/dead-letters/inbound-999999/redeliver", ADMIN)
        .await;
    assert_eq!(code, 404);

    // Redelivered: tried again (and, still unusable, dead again with a fresh count).
    let id = letter["id"].as_str().unwrap();
    let (code, body) = r
        .call("POST", &format!("/v1/dead-letters/{id}/redeliver"), ADMIN)
        .await;
    assert_eq!((code, &body["redelivered"]), (200, &json!(1)), "{body}");
    let (code, _) = r
        .call("POST", &format!("/v1/dead-letters/{id}/redeliver"), ADMIN)
        .await;
    assert_eq!(code, 404, "gone once redelivered");
    r.settle().await;
    let (_, body) = r.call("GET", "/v1/dead-letters", ADMIN).await;
    let again = &body["dead_letters"][0];
    assert_eq!(again["key"], "wamid.UNUSABLE", "{body}");
    assert_ne!(again["id"], letter["id"], "a new position in the queue");
    assert_eq!(again["attempts"], 1);
    let (code, body) = r
        .call("POST", "/v1/dead-letters/redeliver-all", ADMIN)
        .await;
    assert_eq!((code, &body["redelivered"]), (200, &json!(1)), "{body}");
    r.stop().await;
}

/// The runner's `local_dead` table on its own, through the contract every adapter passes.
struct Local {
    queue: SqliteQueue,
    _dir: std::path::PathBuf,
}

impl Harness for Local {
    type Letters = SqliteQueue;

    fn letters(&self) -> &SqliteQueue {
        &self.queue
    }

    async fn kill(&self, queue: Destination, envelope: Envelope) {
        self.queue.send(queue, vec![envelope]).await.unwrap();
        let taken = self.queue.receive(queue, 10).await.unwrap();
        assert_eq!(taken.len(), 1);
        self.queue
            .dead_letter(taken[0].seq, "unusable: the test says so".into())
            .await
            .unwrap();
    }

    async fn drain(&self, queue: Destination) -> Vec<String> {
        let taken = self.queue.receive(queue, 100).await.unwrap();
        let keys = taken.iter().map(|m| m.envelope.key.clone()).collect();
        self.queue
            .delete(taken.iter().map(|m| m.seq).collect())
            .await
            .unwrap();
        keys
    }
}

#[tokio::test]
async fn ops_4_the_local_dead_letters_pass_the_contract() {
    let dir = std::env::temp_dir().join(testkit::unique("dead"));
    std::fs::create_dir_all(&dir).unwrap();
    let store = SqliteStore::open(dir.join("q.db")).unwrap();
    let queue = SqliteQueue::open(&store, || 1_772_442_000_000)
        .await
        .unwrap();
    contract::ops_4_dead_letters_are_listed_and_redelivered(&Local { queue, _dir: dir }).await;
}
