//! What a story needs from a deployment of Switchboard: the fake Graph API it sends to, its clock,
//! the signed webhook, the console API, and a way to move time and let queued work finish.
//! Implemented by the AWS path ([`crate::aws::AwsPath`]: the Lambda handlers over moto) and the
//! local runner (`switchboard serve`).

pub const APP_SECRET: &str = "e2e-app-secret";
pub const VERIFY_TOKEN: &str = "e2e-verify-token";
/// Console bearer tokens every deployment accepts: "admin-token" → agent id "admin", role admin;
/// "ana-token" → "ana", agent; "ben-token" → "ben", agent.
pub const TOKENS: &str = "admin:admin:admin-token,ana:agent:ana-token,ben:agent:ben-token";
/// Where every deployment's clock starts for a story: 2026-03-02T09:00:00Z, a Monday (so that a
/// story runs on the same dates, prices and days everywhere).
pub const START: i64 = 1_772_442_000;

/// A console answer: the HTTP status and the JSON body (`Null` when empty).
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub body: serde_json::Value,
}

#[allow(async_fn_in_trait)]
pub trait Deployment {
    /// The fake Graph API the engine sends to (testkit::fake_graph::FakeGraph, started by the deployment).
    fn graph(&self) -> &testkit::fake_graph::FakeGraph;
    /// The engine's current time, unix seconds (the deployment's manual/test clock).
    async fn now(&self) -> i64;
    /// POST /webhook with this raw JSON body, signed with APP_SECRET (X-Hub-Signature-256); the HTTP status.
    async fn webhook(&self, body: &str) -> u16;
    /// One console request as the bearer of `token`; `path` starts with "/v1/".
    /// A body that is a JSON string (`Value::String`) is sent raw with `Content-Type: text/csv`
    /// (campaign lists); any other body as JSON (`application/json`). The answer's body is its JSON
    /// (`Null` when empty, a JSON string of the text when it is not JSON).
    async fn console(
        &self,
        method: &str,
        path: &str,
        token: &str,
        body: Option<serde_json::Value>,
    ) -> Reply;
    /// MEDIA-3: PUTs `body` to an upload link the console handed out, with its headers and no
    /// bearer (the link is the grant): an absolute URL (S3's presigned `PUT`) over HTTP, a
    /// console path (`/v1/media/uploads/…`) to the console. The answer's status and JSON.
    async fn put_upload(&self, url: &str, headers: &[(String, String)], body: Vec<u8>) -> Reply;
    /// Moves the engine's clock forward by `seconds` (0 = not at all), fires every timer that is due,
    /// and delivers all queued work (inbound FIFO in group order, updates, outbound, delayed messages
    /// that are due) until nothing is left to do.
    async fn advance(&self, seconds: u64);
}

/// A PUT of `body` to an absolute upload link (S3's presigned URL on loopback), with `headers`
/// (`Content-Length` is the body's own: HTTP clients, as browsers, set it themselves).
pub async fn put_over_http(url: &str, headers: &[(String, String)], body: Vec<u8>) -> Reply {
    let http = switchboard_local::demo::loopback_client().expect("an HTTP client");
    let mut request = http.put(url);
    for (name, value) in headers {
        if !name.eq_ignore_ascii_case("content-length") {
            request = request.header(name.as_str(), value.as_str());
        }
    }
    let r = request
        .body(body)
        .send()
        .await
        .expect("the upload link answers");
    let status = r.status().as_u16();
    let text = r.text().await.unwrap_or_default();
    let body = if text.is_empty() {
        serde_json::Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text))
    };
    Reply { status, body }
}
