//! What the agent workspace needs from the API (issue 18), through the runner in this process:
//! the page itself (DESK-1), `/v1/me` with the numbers, the inbox list's name, preview, unread count
//! and waiting-since (DESK-2), the profile name WhatsApp sends and the log in a stable time order
//! (DESK-3).

use serde_json::{Value, json};
use switchboard_local::{Running, Settings, start};

const SECRET: &str = "desk-api-secret";
const NUMBER: &str = "106540352242922";
const ADMIN: &str = "change-me-admin-token";
const ANA: &str = "change-me-ana-token";

struct Desk {
    running: Running,
    base: String,
    http: reqwest::Client,
    wamids: u32,
}

async fn desk() -> Desk {
    let dir = std::env::temp_dir().join(testkit::unique("desk-api"));
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join("desk.db").display().to_string();
    let config = concat!(env!("CARGO_MANIFEST_DIR"), "/switchboard.example.toml");
    let settings = Settings::from_lookup(|name| {
        match name {
            "SWITCHBOARD_ADDR" => Some("127.0.0.1:0"),
            "SWITCHBOARD_DB" => Some(db.as_str()),
            "SWITCHBOARD_CONFIG" => Some(config),
            "SWITCHBOARD_TEST_CLOCK" => Some("1"),
            "WHATSAPP_APP_SECRET" => Some(SECRET),
            "WHATSAPP_VERIFY_TOKEN" => Some("desk-verify"),
            _ => None,
        }
        .map(str::to_owned)
    })
    .unwrap();
    let running = start(settings).await.unwrap();
    Desk {
        base: format!("http://{}", running.addr),
        running,
        http: switchboard_local::demo::loopback_client().unwrap(),
        wamids: 0,
    }
}

impl Desk {
    async fn get(&self, path: &str, token: Option<&str>) -> reqwest::Response {
        let mut r = self.http.get(format!("{}{path}", self.base));
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        r.send().await.unwrap()
    }

    async fn json(&self, path: &str, token: &str) -> Value {
        let r = self.get(path, Some(token)).await;
        let status = r.status().as_u16();
        let body: Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
        assert_eq!(status, 200, "GET {path}: {body}");
        body
    }

    async fn post(&self, path: &str, token: &str, body: Value) -> (u16, Value) {
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(token)
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    async fn settle(&self) {
        self.advance(0).await;
    }

    async fn advance(&self, seconds: u64) {
        let r = self
            .http
            .post(format!("{}/dev/clock", self.base))
            .header("content-type", "application/json")
            .body(json!({ "advance_seconds": seconds }).to_string())
            .send()
            .await
            .unwrap();
        let body: Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
        assert_eq!(body["settled"], true, "{body}");
    }

    /// A customer message through the signed webhook, with the profile name Meta sends.
    async fn customer(&mut self, contact: &str, name: &str, content: Value) {
        self.wamids += 1;
        let clock: Value =
            serde_json::from_str(&self.get("/dev/clock", None).await.text().await.unwrap())
                .unwrap();
        let mut message = json!({
            "from": contact,
            "id": format!("wamid.DESKAPI{:04}", self.wamids),
            "timestamp": clock["now"].as_i64().unwrap().to_string(),
        });
        message
            .as_object_mut()
            .unwrap()
            .extend(content.as_object().unwrap().clone());
        let (body, signature) =
            switchboard_local::demo::signed_message(SECRET, NUMBER, contact, name, message);
        let r = self
            .http
            .post(format!("{}/webhook", self.base))
            .header("content-type", "application/json")
            .header(whatsapp::signature::SIGNATURE_HEADER, signature)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
        self.settle().await;
    }

    fn contact_path(contact: &str) -> String {
        format!("/v1/numbers/{NUMBER}/contacts/{contact}")
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn desk_1_the_workspace_is_served_at_the_root_with_a_strict_policy() {
    let d = desk().await;
    let page = d.get("/", None).await;
    assert_eq!(page.status().as_u16(), 200);
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        page.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(csp.starts_with("default-src 'self'"), "{csp}");
    assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"));
    let html = page.text().await.unwrap();
    assert!(html.contains(r#"<script type="module" src="/desk/js/app.js">"#));
    let script = d.get("/desk/js/app.js", None).await;
    assert_eq!(script.status().as_u16(), 200);
    assert!(
        script.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/javascript")
    );
    assert_eq!(
        d.get("/desk/js/nothing.js", None).await.status().as_u16(),
        404
    );
    // The API keeps its JSON 404 for unknown paths.
    assert_eq!(
        d.get("/v1/nothing", Some(ADMIN)).await.status().as_u16(),
        404
    );
    d.running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn desk_1_me_names_the_numbers_the_agent_works_on() {
    let d = desk().await;
    let me = d.json("/v1/me", ANA).await;
    assert_eq!(
        me,
        json!({"agent": "ana", "role": "agent", "numbers": [NUMBER]})
    );
    d.running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn desk_2_3_inbox_shows_the_profile_name_preview_unread_and_waiting_since() {
    let mut d = desk().await;
    let kim = "4915112345678";
    d.customer(
        kim,
        "Kim Example",
        json!({"type": "text", "text": {"body": "Hello, where is my order?"}}),
    )
    .await;
    // The example number's bot answers; Kim asks for a person: the conversation waits.
    d.customer(
        kim,
        "Kim Example",
        json!({"type": "interactive", "interactive": {"type": "button_reply", "button_reply": {"id": "bot.menu.1", "title": "Talk to a person"}}}),
    )
    .await;
    let contact = d.json(&Desk::contact_path(kim), ADMIN).await;
    assert_eq!(
        contact["profile"]["profile_name"], "Kim Example",
        "{contact}"
    );

    let list = d
        .json(
            &format!("/v1/numbers/{NUMBER}/conversations?scope=all&status=open"),
            ADMIN,
        )
        .await;
    let item = &list["items"][0];
    assert_eq!(item["contact"], kim, "{list}");
    assert_eq!(item["profile"]["profile_name"], "Kim Example");
    assert_eq!(item["unread"], 2, "{item}");
    assert!(item["waiting_since"].as_i64().is_some(), "{item}");
    assert!(item["last_message"]["at"].as_i64().is_some(), "{item}");

    // The example desk hands Kim to Ana (online, AUTO-4); she answers: nothing unread, nobody
    // waiting, her answer is the preview.
    assert_eq!(item["assignee"], "ana", "{item}");
    // A second later (the log orders within one second by kind, not by send).
    d.advance(1).await;
    let (status, body) = d
        .post(
            &format!("{}/messages", Desk::contact_path(kim)),
            ANA,
            json!({"text": "It ships today."}),
        )
        .await;
    assert_eq!(status, 202, "{body}");
    d.settle().await;
    let list = d
        .json(
            &format!("/v1/numbers/{NUMBER}/conversations?scope=mine&status=open"),
            ANA,
        )
        .await;
    let item = &list["items"][0];
    assert_eq!(item["unread"], 0, "{item}");
    assert!(item.get("waiting_since").is_none(), "{item}");
    assert_eq!(item["last_message"]["kind"], "outbound", "{item}");
    assert_eq!(
        item["last_message"]["body"]["body"], "It ships today.",
        "{item}"
    );
    // The queue scope carries the same fields.
    let queue = d
        .json(
            &format!("/v1/numbers/{NUMBER}/conversations?scope=queue"),
            ANA,
        )
        .await;
    assert_eq!(queue["items"], json!([]), "{queue}");
    d.running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn desk_3_the_log_is_in_time_order_with_a_stable_tie_breaker() {
    let mut d = desk().await;
    let kim = "4915112345678";
    for text in ["one", "two", "three"] {
        d.customer(kim, "Kim", json!({"type": "text", "text": {"body": text}}))
            .await;
    }
    let path = format!("{}/messages?limit=100", Desk::contact_path(kim));
    let first = d.json(&path, ADMIN).await;
    let items = first["items"].as_array().unwrap();
    assert!(items.len() >= 6, "{first}");
    // Newest first by time; within one second, sends after notices after the customer's message.
    let rank = |k: &str| match k {
        "inbound" => 0,
        "notice" => 1,
        _ => 2,
    };
    for pair in items.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        let key = |i: &Value| (i["at"].as_i64().unwrap(), rank(i["kind"].as_str().unwrap()));
        assert!(key(a) >= key(b), "out of order: {a} before {b}");
    }
    // The customer's three texts, oldest last, in the order they were sent.
    let texts: Vec<&str> = items
        .iter()
        .filter(|i| i["kind"] == "inbound")
        .filter_map(|i| i["body"]["body"].as_str())
        .collect();
    assert_eq!(texts, ["three", "two", "one"]);
    // Ids are unique and a second read gives the same order.
    let mut ids: Vec<&str> = items.iter().map(|i| i["id"].as_str().unwrap()).collect();
    let again = d.json(&path, ADMIN).await;
    let again_ids: Vec<&str> = again["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, again_ids);
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), items.len());
    d.running.shutdown().await;
}

/// `switchboard demo --serve`: the story plays, then the desk stays open with the demo's tokens.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn desk_1_demo_serve_leaves_a_seeded_desk_running() {
    use std::io::BufRead as _;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(["demo", "--serve", "--port", &port.to_string()])
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            let _ = tx.send(line);
        }
    });
    let mut printed = Vec::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while !printed
        .iter()
        .any(|l: &String| l.contains("or as the admin"))
    {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => printed.push(line),
            Err(_) => {
                let _ = child.kill();
                panic!("the demo did not open the desk: {printed:#?}");
            }
        }
    }
    let base = format!("http://127.0.0.1:{port}");
    assert!(printed.iter().any(|l| l.contains(&format!("{base}/"))));
    assert!(printed.iter().any(|l| l.contains("demo-ana-token")));
    let http = switchboard_local::demo::loopback_client().unwrap();
    let page = http.get(format!("{base}/")).send().await.unwrap();
    assert_eq!(page.status().as_u16(), 200);
    let list = |scope: &'static str| {
        let request = http
            .get(format!(
                "{base}/v1/numbers/106540352242922/conversations?scope={scope}"
            ))
            .bearer_auth("demo-ana-token");
        async move {
            let text = request.send().await.unwrap().text().await.unwrap();
            serde_json::from_str::<Value>(&text).unwrap()
        }
    };
    let queue = list("queue").await;
    assert_eq!(queue["items"].as_array().map(Vec::len), Some(1), "{queue}");
    let mine = list("mine").await;
    assert_eq!(mine["items"].as_array().map(Vec::len), Some(3), "{mine}");
    let _ = child.kill();
    let _ = child.wait();
}
