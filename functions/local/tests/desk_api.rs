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
    desk_with("").await
}

/// The runner on the example desk file, with `extra` TOML appended (more templates, tokens).
async fn desk_with(extra: &str) -> Desk {
    let dir = std::env::temp_dir().join(testkit::unique("desk-api"));
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join("desk.db").display().to_string();
    // The example's `[rates] file` is relative to the example; the copy here names it in full.
    let example = include_str!("../switchboard.example.toml").replace(
        "\"../../examples/rates.example.json\"",
        &format!(
            "{:?}",
            concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../examples/rates.example.json"
            )
        ),
    );
    let file = dir.join("desk.toml");
    std::fs::write(&file, format!("{example}\n{extra}")).unwrap();
    let config = file.display().to_string();
    let config = config.as_str();
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

    /// One of the desk's own operations (`desk/js/api.js`), as the desk calls it: the same method
    /// and path, so a path the desk gets wrong fails here too. `params` fill the path's
    /// `{placeholders}`; `{number}` is the example's number.
    async fn op(
        &self,
        name: &str,
        params: &[(&str, &str)],
        token: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let (method, template) = desk_operation(name);
        let mut path = template.replace("{number}", NUMBER);
        for (k, v) in params {
            path = path.replace(&format!("{{{k}}}"), v);
        }
        assert!(!path.contains('{'), "{name}: unfilled {path}");
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut r = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(token);
        if let Some(b) = body {
            r = r
                .header("content-type", "application/json")
                .body(b.to_string());
        }
        let r = r.send().await.unwrap();
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// `op` that must answer `want`.
    async fn op_ok(
        &self,
        name: &str,
        params: &[(&str, &str)],
        token: &str,
        body: Option<Value>,
        want: u16,
    ) -> Value {
        let (status, answer) = self.op(name, params, token, body).await;
        assert_eq!(status, want, "{name} {params:?}: {answer}");
        answer
    }

    /// An action on the contact as the desk sends it (202), once handled: the contact as the
    /// actor then reads it.
    async fn act(&self, name: &str, contact: &str, token: &str, body: Value) -> Value {
        self.op_ok(name, &[("contact", contact)], token, Some(body), 202)
            .await;
        self.settle().await;
        self.op_ok("contact", &[("contact", contact)], token, None, 200)
            .await
    }

    async fn clock(&self) -> i64 {
        let body: Value =
            serde_json::from_str(&self.get("/dev/clock", None).await.text().await.unwrap())
                .unwrap();
        body["now"].as_i64().unwrap()
    }
}

/// The method and path template of one operation in the desk's API client (`desk/js/api.js`,
/// lines like `  send: ['POST', '/v1/numbers/{number}/contacts/{contact}/messages'],`).
fn desk_operation(name: &str) -> (String, String) {
    const CLIENT: &str = include_str!("../../../desk/js/api.js");
    let prefix = format!("{name}: ['");
    let line = CLIENT
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with(&prefix))
        .unwrap_or_else(|| panic!("desk/js/api.js has no operation {name}"));
    let quoted: Vec<&str> = line.split('\'').collect();
    (quoted[1].to_owned(), quoted[3].to_owned())
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
    // The example number's bot answers; Kim asks for a person: the conversation waits.
    kim_asks_for_a_person(&mut d, kim).await;
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

/// A template with two body variables (filled by the picker) beside the example's two, and a
/// token for Ben.
const DESK_4_5_EXTRA: &str = r#"
[[templates]]
number = "106540352242922"
name = "order_shipped"
language = "en_US"
category = "UTILITY"
body = "Hi {{1}}, your order {{2}} has shipped."

[[tokens]]
agent = "ben"
role = "agent"
token = "change-me-ben-token"
"#;
const BEN: &str = "change-me-ben-token";

/// Kim writes and asks for a person (the example's bot hands off).
async fn kim_asks_for_a_person(d: &mut Desk, kim: &str) {
    d.customer(
        kim,
        "Kim Example",
        json!({"type": "text", "text": {"body": "Where is my order?"}}),
    )
    .await;
    d.customer(
        kim,
        "Kim Example",
        json!({"type": "interactive", "interactive": {"type": "button_reply", "button_reply": {"id": "bot.menu.1", "title": "Talk to a person"}}}),
    )
    .await;
}

/// The outbound log entries' bodies, newest first.
async fn sent_bodies(d: &Desk, kim: &str) -> Vec<Value> {
    let log = d.op_ok("log", &[("contact", kim)], ADMIN, None, 200).await;
    log["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["kind"] == "outbound")
        .map(|i| i["body"].clone())
        .collect()
}

/// DESK-4 through the calls the composer makes (desk/js/composer.js): while the window is open,
/// the contact's window says free-form with its closing time, and free-form goes out; once it
/// closes, templates only: free-form is refused with the reason, the picker's template with its
/// variables filled goes out (and not without them), and the one-click recontact template goes
/// out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn desk_4_composer_is_free_form_with_its_closing_time_then_templates_only() {
    let mut d = desk_with(DESK_4_5_EXTRA).await;
    let kim = "4915112345678";
    kim_asks_for_a_person(&mut d, kim).await;
    let last_customer_message = d.clock().await;

    // Open: free-form, and when it closes (the customer's last message + 24 h, WIN-1).
    let detail = d
        .op_ok("contact", &[("contact", kim)], ANA, None, 200)
        .await;
    let window = &detail["window"];
    assert_eq!(window["state"], "open", "{detail}");
    assert_eq!(window["free_form"], "allowed", "{window}");
    assert_eq!(
        window["closes_at"].as_i64(),
        Some(last_customer_message + 86_400),
        "{window}"
    );
    let check = d.op_ok("window", &[("contact", kim)], ANA, None, 200).await;
    assert_eq!(&check, window, "the window check and the contact disagree");
    d.op_ok(
        "send",
        &[("contact", kim)],
        ANA,
        Some(json!({"text": "It ships today."})),
        202,
    )
    .await;
    d.settle().await;

    // Closed: templates only.
    d.advance(86_400 + 60).await;
    let detail = d
        .op_ok("contact", &[("contact", kim)], ANA, None, 200)
        .await;
    let window = &detail["window"];
    assert_eq!(window["state"], "closed", "{detail}");
    assert_eq!(window["free_form"], "template_only", "{window}");
    assert_eq!(window["template"], "allowed", "{window}");
    assert_eq!(
        window["closed_since"].as_i64(),
        Some(last_customer_message + 86_400),
        "{window}"
    );
    let (status, refused) = d
        .op(
            "send",
            &[("contact", kim)],
            ANA,
            Some(json!({"text": "Are you there?"})),
        )
        .await;
    assert_eq!(status, 422, "free-form outside the window: {refused}");
    assert!(
        refused["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{refused}"
    );

    // The picker: sendable templates, their variables, which one is the recontact template.
    let templates = d.op_ok("templates", &[], ANA, None, 200).await;
    let find = |name: &str| {
        templates
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == name)
            .unwrap_or_else(|| panic!("no {name} in {templates}"))
            .clone()
    };
    let shipped = find("order_shipped");
    assert_eq!(shipped["sendable"], true, "{shipped}");
    let body_variables: Vec<&str> = shipped["variables"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .filter(|v| v.starts_with("body"))
        .collect();
    assert_eq!(body_variables.len(), 2, "{shipped}");
    assert_eq!(
        shipped["unmapped"].as_array().map(Vec::len),
        Some(2),
        "{shipped}"
    );
    let recontact = find("pick_up_again");
    assert_eq!(
        (&recontact["recontact"], &recontact["sendable"]),
        (&json!(true), &json!(true))
    );
    assert_eq!(find("spring_sale")["recontact"], false);

    // Its variables filled, as the picker sends them; unfilled, refused.
    let (status, _) = d
        .op(
            "send",
            &[("contact", kim)],
            ANA,
            Some(json!({"template": {"name": "order_shipped", "language": "en_US"}})),
        )
        .await;
    assert!(
        (400..500).contains(&status),
        "a template with unfilled variables was accepted ({status})"
    );
    d.op_ok(
        "send",
        &[("contact", kim)],
        ANA,
        Some(json!({"template": {"name": "order_shipped", "language": "en_US", "parameters": ["Kim", "#1042"]}})),
        202,
    )
    .await;
    d.settle().await;
    let sent = sent_bodies(&d, kim).await;
    assert!(
        sent.iter().any(|b| b["name"] == "order_shipped"
            && b.to_string().contains("#1042")
            && b.to_string().contains("Kim")),
        "{sent:?}"
    );

    // The one-click recontact template (a second later: the log orders sends within a second by
    // key, not by time of sending).
    d.advance(1).await;
    d.op_ok(
        "send",
        &[("contact", kim)],
        ANA,
        Some(json!({"template": {"name": "pick_up_again", "language": "en_US"}})),
        202,
    )
    .await;
    d.settle().await;
    let sent = sent_bodies(&d, kim).await;
    assert_eq!(sent[0]["name"], "pick_up_again", "{sent:?}");
    d.running.shutdown().await;
}

/// DESK-5 through the calls the conversation's actions make (desk/js/conversation.js): claim from
/// the queue, transfer, snooze (shown under Snoozed until it ends), close (the CSAT survey goes
/// out) and reopen by sending (CHAN-2: assigned to the sender); agents may not do an admin's work.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn desk_5_claim_transfer_snooze_close_and_reopen_by_sending() {
    let mut d = desk_with(DESK_4_5_EXTRA).await;
    let kim = "4915112345678";
    let conversation = |detail: &Value| detail["conversation"].clone();
    // Nobody online (the admin's presence page): Kim waits in the queue.
    for agent in ["ana", "ben"] {
        d.op_ok(
            "presence",
            &[("agent", agent)],
            ADMIN,
            Some(json!({"online": false})),
            200,
        )
        .await;
    }
    kim_asks_for_a_person(&mut d, kim).await;
    let queue = d
        .json(
            &format!("/v1/numbers/{NUMBER}/conversations?scope=queue"),
            ANA,
        )
        .await;
    assert_eq!(queue["items"][0]["contact"], kim, "{queue}");

    // Claim.
    let detail = d.act("claim", kim, ANA, json!({})).await;
    let c = conversation(&detail);
    assert_eq!(
        (&c["handler"], &c["agent"]),
        (&json!("agent"), &json!("ana")),
        "{detail}"
    );

    // Transfer to Ben (online now, from the agents page).
    d.op_ok(
        "presence",
        &[("agent", "ben")],
        ADMIN,
        Some(json!({"online": true})),
        200,
    )
    .await;
    let agents = d.op_ok("agents", &[], ANA, None, 200).await;
    assert!(
        agents
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["agent"] == "ben" && a["online"] == true),
        "{agents}"
    );
    let detail = d.act("transfer", kim, ANA, json!({"to": "ben"})).await;
    assert_eq!(conversation(&detail)["agent"], "ben", "{detail}");

    // Snooze for an hour: Snoozed until then, open again after.
    let until = d.clock().await + 3600;
    let detail = d.act("snooze", kim, BEN, json!({"until": until})).await;
    assert_eq!(detail["status"], "snoozed", "{detail}");
    assert_eq!(conversation(&detail)["snoozed_until"], until, "{detail}");
    let snoozed = d
        .json(
            &format!("/v1/numbers/{NUMBER}/conversations?scope=mine&status=snoozed"),
            BEN,
        )
        .await;
    assert_eq!(snoozed["items"][0]["contact"], kim, "{snoozed}");
    d.advance(3601).await;
    let detail = d
        .op_ok("contact", &[("contact", kim)], BEN, None, 200)
        .await;
    assert_eq!(detail["status"], "open", "the snooze did not end: {detail}");

    // Close: the survey goes out.
    let detail = d.act("close", kim, BEN, json!({})).await;
    assert_eq!(detail["status"], "closed", "{detail}");
    let sent = sent_bodies(&d, kim).await;
    assert!(
        sent.iter()
            .any(|b| b.to_string().contains("How did we do today?")),
        "no CSAT survey: {sent:?}"
    );

    // Reopen by sending: the conversation is open again, with the sender.
    let detail = d
        .act(
            "send",
            kim,
            ANA,
            json!({"text": "One more thing about your order."}),
        )
        .await;
    assert_eq!(detail["status"], "open", "{detail}");
    let c = conversation(&detail);
    assert_eq!(
        (&c["handler"], &c["agent"]),
        (&json!("agent"), &json!("ana")),
        "{detail}"
    );
    d.running.shutdown().await;
}

/// DESK-5's admin pages through their calls (desk/js/admin.js): settings, webhooks (the secret only
/// in the answers to create and rotate), dead letters; an agent gets 403 from each.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn desk_5_admin_pages_calls_are_admin_only_and_show_the_secret_once() {
    let d = desk().await;
    let settings = d.op_ok("settings", &[], ADMIN, None, 200).await;
    d.op_ok("putSettings", &[], ADMIN, Some(settings.clone()), 200)
        .await;
    d.op_ok("putSettings", &[], ANA, Some(settings), 403).await;

    let hook = json!({"url": "http://127.0.0.1:9/hooks", "types": ["message.received"], "description": "CRM"});
    d.op_ok("createWebhook", &[], ANA, Some(hook.clone()), 403)
        .await;
    let created = d.op_ok("createWebhook", &[], ADMIN, Some(hook), 201).await;
    let id = created["id"].as_str().unwrap().to_owned();
    let secret = created["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"), "{created}");
    let listed = d.op_ok("webhooks", &[], ADMIN, None, 200).await;
    assert_eq!(listed[0]["id"], id.as_str(), "{listed}");
    assert!(
        !listed.to_string().contains(&secret) && listed[0].get("secret").is_none(),
        "the list shows the secret: {listed}"
    );
    d.op_ok("webhooks", &[], ANA, None, 403).await;
    let changed = d
        .op_ok(
            "putWebhook",
            &[("webhook", &id)],
            ADMIN,
            Some(json!({"url": "http://127.0.0.1:9/other", "types": []})),
            200,
        )
        .await;
    assert_eq!(changed["url"], "http://127.0.0.1:9/other");
    let (status, bad) = d
        .op(
            "putWebhook",
            &[("webhook", &id)],
            ADMIN,
            Some(json!({"url": "ftp://example.com/"})),
        )
        .await;
    assert_eq!(status, 400, "{bad}");
    let rotated = d
        .op_ok("rotateWebhook", &[("webhook", &id)], ADMIN, None, 200)
        .await;
    let new_secret = rotated["secret"].as_str().unwrap();
    assert!(
        new_secret.starts_with("whsec_") && new_secret != secret,
        "{rotated}"
    );
    assert!(
        rotated["previous_secret_until"].as_i64().is_some(),
        "{rotated}"
    );
    let dead = d
        .op_ok("webhookDeadLetters", &[("webhook", &id)], ADMIN, None, 200)
        .await;
    assert_eq!(dead, json!([]));
    d.op_ok("deleteWebhook", &[("webhook", &id)], ADMIN, None, 204)
        .await;
    d.op_ok("deleteWebhook", &[("webhook", &id)], ADMIN, None, 404)
        .await;

    let letters = d.op_ok("deadLetters", &[], ADMIN, None, 200).await;
    assert_eq!(letters["dead_letters"], json!([]), "{letters}");
    d.op_ok("deadLetters", &[], ANA, None, 403).await;
    d.op_ok("redeliverAllDeadLetters", &[], ANA, Some(json!({})), 403)
        .await;
    d.running.shutdown().await;
}

/// DESK-5's Rates, Costs and Integrations pages through their calls (desk/js/admin.js): the rate
/// table (BILL-6: the desk file's, a 400 naming the entry's field, replaced whole), the cost report
/// with its lines and currency (BILL-6), integration tokens (EVT-5: the `sbi_` token only in the
/// answer to the create, revoked once); an agent gets 403 from each.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn desk_5_bill_6_evt_5_rates_costs_and_integrations_calls_are_admin_only() {
    let d = desk().await;
    // The example desk file's table (examples/rates.example.json).
    let example = d.op_ok("rates", &[], ADMIN, None, 200).await;
    assert_eq!(example["currency"], "USD", "{example}");
    d.op_ok("rates", &[], ANA, None, 403).await;
    let rates = json!({"currency": "EUR", "rates": [
        {"category": "marketing", "market": "49", "effective_from": "2025-07-01", "micros": 131000}
    ]});
    d.op_ok("putRates", &[], ANA, Some(rates.clone()), 403)
        .await;
    let mut bad = rates.clone();
    bad["rates"][0]["market"] = json!("4x9");
    let refused = d.op_ok("putRates", &[], ADMIN, Some(bad), 400).await;
    assert_eq!(
        refused["fields"][0]["field"], "rates[0].market",
        "{refused}"
    );
    assert_eq!(d.op_ok("rates", &[], ADMIN, None, 200).await, example);
    assert_eq!(
        d.op_ok("putRates", &[], ADMIN, Some(rates.clone()), 200)
            .await,
        rates
    );
    assert_eq!(d.op_ok("rates", &[], ADMIN, None, 200).await, rates);

    let report = d.op_ok("costs", &[], ADMIN, None, 200).await;
    assert_eq!(report["currency"], "EUR", "{report}");
    assert!(report["lines"].is_array(), "{report}");
    assert_eq!(report["total"]["predicted_micros"], 0, "{report}");
    d.op_ok("costs", &[], ANA, None, 403).await;

    let token = json!({"name": "Order bot", "numbers": [NUMBER]});
    d.op_ok("createIntegration", &[], ANA, Some(token.clone()), 403)
        .await;
    let created = d
        .op_ok("createIntegration", &[], ADMIN, Some(token), 201)
        .await;
    let secret = created["token"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("sbi_"), "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    let listed = d.op_ok("integrations", &[], ADMIN, None, 200).await;
    assert_eq!(listed[0]["id"], id.as_str(), "{listed}");
    assert!(
        !listed.to_string().contains(&secret),
        "the list shows the token: {listed}"
    );
    d.op_ok("integrations", &[], ANA, None, 403).await;
    d.op_ok("revokeIntegration", &[("integration", &id)], ANA, None, 403)
        .await;
    d.op_ok(
        "revokeIntegration",
        &[("integration", &id)],
        ADMIN,
        None,
        204,
    )
    .await;
    d.op_ok(
        "revokeIntegration",
        &[("integration", &id)],
        ADMIN,
        None,
        404,
    )
    .await;
    let listed = d.op_ok("integrations", &[], ADMIN, None, 200).await;
    assert!(listed[0]["revoked_at"].as_i64().is_some(), "{listed}");
    d.running.shutdown().await;
}
