//! The local path: `switchboard serve` (the runner's own `start`, in this process) on a random
//! loopback port, a temporary SQLite database, the test clock set to [`crate::deployment::START`] and the
//! fake Graph API; driven over HTTP exactly as the AWS path is driven through its handlers.

use crate::deployment::{APP_SECRET, Deployment, Reply, TOKENS, VERIFY_TOKEN};
use serde_json::{Value, json};
use switchboard_local::config::{Desk, Token};
use switchboard_local::{EngineClock, Running, Settings};
use testkit::fake_graph::FakeGraph;

pub struct LocalPath {
    graph: FakeGraph,
    running: Option<Running>,
    base: String,
    http: reqwest::Client,
    dir: std::path::PathBuf,
}

impl LocalPath {
    pub async fn start() -> LocalPath {
        let graph = FakeGraph::start().await;
        let dir = std::env::temp_dir().join(testkit::unique("e2e-local"));
        std::fs::create_dir_all(&dir).unwrap();
        let tokens = TOKENS
            .split(',')
            .map(|entry| {
                let mut parts = entry.splitn(3, ':');
                let (agent, role, token) = (
                    parts.next().unwrap(),
                    parts.next().unwrap(),
                    parts.next().unwrap(),
                );
                Token {
                    agent: rules::AgentId::new(agent).unwrap(),
                    role: role.to_owned(),
                    token: token.to_owned(),
                }
            })
            .collect();
        let settings = Settings {
            addr: "127.0.0.1:0".parse().unwrap(),
            db: dir.join("switchboard.db"),
            app_secret: APP_SECRET.to_owned(),
            verify_token: VERIFY_TOKEN.to_owned(),
            access_token: Some(graph.token()),
            graph_url: graph.url(),
            graph_version: "v23.0".to_owned(),
            outreach_key: crate::aws::OUTREACH_KEY.to_vec(),
            test_clock: true,
            engine_threads: 1,
            desk: Desk {
                tokens,
                ..Desk::default()
            },
        };
        let running = switchboard_local::start_with_clock(
            settings,
            EngineClock::starting_at(crate::deployment::START),
        )
        .await
        .expect("the local runner starts");
        LocalPath {
            base: format!("http://{}", running.addr),
            graph,
            running: Some(running),
            http: switchboard_local::demo::loopback_client().unwrap(),
            dir,
        }
    }

    /// Stops the runner (cleanly) and removes its database.
    pub async fn stop(mut self) {
        if let Some(running) = self.running.take() {
            running.shutdown().await;
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }

    async fn clock(&self, body: Option<Value>) -> Value {
        let request = match body {
            Some(b) => self
                .http
                .post(format!("{}/dev/clock", self.base))
                .header("content-type", "application/json")
                .body(b.to_string()),
            None => self.http.get(format!("{}/dev/clock", self.base)),
        };
        let r = request.send().await.expect("the runner answers");
        assert_eq!(r.status().as_u16(), 200, "/dev/clock");
        serde_json::from_str(&r.text().await.unwrap()).unwrap()
    }
}

impl Deployment for LocalPath {
    fn graph(&self) -> &FakeGraph {
        &self.graph
    }

    async fn now(&self) -> i64 {
        self.clock(None).await["now"].as_i64().unwrap()
    }

    async fn webhook(&self, body: &str) -> u16 {
        let signature = whatsapp::signature::sign(
            &whatsapp::AppSecret::new(APP_SECRET.as_bytes().to_vec()),
            body.as_bytes(),
        );
        self.http
            .post(format!("{}/webhook", self.base))
            .header("content-type", "application/json")
            .header(whatsapp::signature::SIGNATURE_HEADER, signature)
            .body(body.to_owned())
            .send()
            .await
            .expect("the runner answers")
            .status()
            .as_u16()
    }

    async fn console(&self, method: &str, path: &str, token: &str, body: Option<Value>) -> Reply {
        let mut request = self
            .http
            .request(
                reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
                format!("{}{path}", self.base),
            )
            .bearer_auth(token);
        request = match body {
            Some(Value::String(csv)) => request.header("content-type", "text/csv").body(csv),
            Some(json) => request
                .header("content-type", "application/json")
                .body(json.to_string()),
            None => request,
        };
        let r = request.send().await.expect("the runner answers");
        let status = r.status().as_u16();
        let text = r.text().await.unwrap_or_default();
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        Reply { status, body }
    }

    async fn put_upload(&self, url: &str, headers: &[(String, String)], body: Vec<u8>) -> Reply {
        let url = if url.starts_with('/') {
            format!("{}{url}", self.base)
        } else {
            url.to_owned()
        };
        crate::deployment::put_over_http(&url, headers, body).await
    }

    async fn advance(&self, seconds: u64) {
        let answer = self.clock(Some(json!({"advance_seconds": seconds}))).await;
        assert_eq!(answer["settled"], true, "the runner settled: {answer}");
    }
}
