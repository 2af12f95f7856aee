//! A counting proxy in front of moto (goal P3): a real HTTP/1.1 server on 127.0.0.1 that forwards
//! every request to moto unchanged and counts it per caller (the listener's label: one listener
//! per function), service and operation. DynamoDB and SQS (JSON protocol) name the operation in
//! `X-Amz-Target`, SQS's query protocol in `Action=`; EventBridge Scheduler is REST, so its
//! operation is told by method and path.
//!
//! Every request is also kept whole ([`Recorded`]: caller, method, path, target, body), so that a
//! test can tell which resources a function's call touched (the permission test, OPS-1).

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// One counted request: who sent it, to which service, which operation.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Call {
    pub caller: String,
    /// `dynamodb`, `sqs`, `scheduler`, `secretsmanager` or `other`.
    pub service: String,
    pub operation: String,
    /// What the call touched: DynamoDB key prefixes (`pk-prefix/sk-prefix`, e.g. `C/D` for a
    /// contact's dedup marker), the SQS queue (`inbound`, `outbound`, `updates`); empty otherwise.
    pub detail: String,
}

/// One request as a function sent it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub caller: String,
    pub method: String,
    /// Path and query.
    pub path: String,
    /// The `X-Amz-Target` header (JSON protocols).
    pub target: Option<String>,
    pub body: Bytes,
}

/// Counts shared by every listener of a proxy set.
#[derive(Debug, Clone, Default)]
pub struct Counts(Arc<Mutex<BTreeMap<Call, u64>>>);

/// Every request of a proxy set, in arrival order.
#[derive(Debug, Clone, Default)]
pub struct Requests(Arc<Mutex<Vec<Recorded>>>);

impl Requests {
    fn add(&self, request: Recorded) {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(request);
    }

    /// Every request so far.
    pub fn snapshot(&self) -> Vec<Recorded> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

impl Counts {
    fn add(&self, call: Call) {
        *self
            .0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(call)
            .or_default() += 1;
    }

    /// Every call so far with its count.
    pub fn snapshot(&self) -> BTreeMap<Call, u64> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn reset(&self) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }

    /// Calls matching the filters (`None`: any).
    pub fn total(
        &self,
        caller: Option<&str>,
        service: Option<&str>,
        operation: Option<&str>,
    ) -> u64 {
        self.snapshot()
            .into_iter()
            .filter(|(c, _)| {
                caller.is_none_or(|x| c.caller == x)
                    && service.is_none_or(|x| c.service == x)
                    && operation.is_none_or(|x| c.operation == x)
            })
            .map(|(_, n)| n)
            .sum()
    }
}

/// Which service and operation a request is.
pub fn classify(method: &str, path: &str, target: Option<&str>, body: &[u8]) -> (String, String) {
    if let Some(target) = target {
        let (prefix, op) = target.split_once('.').unwrap_or((target, ""));
        let service = if prefix.starts_with("DynamoDB") {
            "dynamodb"
        } else if prefix.starts_with("AmazonSQS") {
            "sqs"
        } else if prefix.starts_with("secretsmanager") {
            "secretsmanager"
        } else {
            "other"
        };
        return (service.to_owned(), op.to_owned());
    }
    if let Some(action) = std::str::from_utf8(body)
        .ok()
        .and_then(|b| b.split('&').find_map(|kv| kv.strip_prefix("Action=")))
    {
        return ("sqs".to_owned(), action.to_owned());
    }
    if let Some(op) = s3_operation(path) {
        return ("s3".to_owned(), op);
    }
    // `HeadObject` carries no `x-id`: a HEAD of a path-style key (`/bucket/key…`).
    if method == "HEAD" && path.trim_start_matches('/').contains('/') {
        return ("s3".to_owned(), "HeadObject".to_owned());
    }
    let path = path.split('?').next().unwrap_or("");
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let op = match (method, segments.as_slice()) {
        ("POST", ["schedules", _]) => "CreateSchedule",
        ("PUT", ["schedules", _]) => "UpdateSchedule",
        ("GET", ["schedules", _]) => "GetSchedule",
        ("DELETE", ["schedules", _]) => "DeleteSchedule",
        ("GET", ["schedules"]) => "ListSchedules",
        ("POST", ["schedule-groups", _]) => "CreateScheduleGroup",
        ("GET", ["schedule-groups", ..]) => "GetScheduleGroup",
        ("DELETE", ["schedule-groups", _]) => "DeleteScheduleGroup",
        _ => return ("other".to_owned(), format!("{method} {path}")),
    };
    ("scheduler".to_owned(), op.to_owned())
}

/// An S3 request's operation: the Rust SDK names it in the query (`x-id=PutObject`), except
/// `ListObjectsV2` (`list-type=2`). `None` for anything else.
fn s3_operation(path: &str) -> Option<String> {
    let query = path.split_once('?')?.1;
    let pairs = || {
        query
            .split('&')
            .map(|kv| kv.split_once('=').unwrap_or((kv, "")))
    };
    if let Some((_, op)) = pairs().find(|(k, _)| *k == "x-id") {
        return Some(op.to_owned());
    }
    pairs()
        .any(|kv| kv == ("list-type", "2"))
        .then(|| "ListObjectsV2".to_owned())
}

/// The key prefixes a DynamoDB request names, or the queue an SQS request names.
pub fn detail(service: &str, body: &[u8]) -> String {
    let Ok(json) = serde_json::from_slice::<serde_json::Value>(body) else {
        return String::new();
    };
    match service {
        "sqs" => json["QueueUrl"]
            .as_str()
            .and_then(|u| u.rsplit('/').next())
            .map(|name| {
                ["inbound", "outbound", "updates"]
                    .into_iter()
                    .find(|q| name.contains(q))
                    .unwrap_or(name)
                    .to_owned()
            })
            .unwrap_or_default(),
        "dynamodb" => {
            let mut found = std::collections::BTreeSet::new();
            keys(&json, &mut found);
            found.into_iter().collect::<Vec<_>>().join(",")
        }
        _ => String::new(),
    }
}

fn prefix(v: &serde_json::Value) -> Option<&str> {
    v["S"].as_str().map(|s| s.split('#').next().unwrap_or(s))
}

/// Collects `pk/sk` prefixes of every item or key in a DynamoDB request (and the partition value
/// of a query).
fn keys(v: &serde_json::Value, found: &mut std::collections::BTreeSet<String>) {
    match v {
        serde_json::Value::Object(map) => {
            if let Some(pk) = map.get("pk").and_then(prefix) {
                let sk = map.get("sk").and_then(prefix).unwrap_or("");
                found.insert(format!("{pk}/{sk}"));
            }
            if let Some(values) = map
                .get("ExpressionAttributeValues")
                .and_then(|v| v.as_object())
                && map.contains_key("KeyConditionExpression")
            {
                for value in values.values() {
                    if let Some(p) = prefix(value) {
                        found.insert(format!("query {p}"));
                    }
                }
            }
            for (k, child) in map {
                if k != "ExpressionAttributeValues" {
                    keys(child, found);
                }
            }
        }
        serde_json::Value::Array(items) => {
            for item in items {
                keys(item, found);
            }
        }
        _ => {}
    }
}

struct Shared {
    upstream: SocketAddr,
    counts: Counts,
    requests: Requests,
}

/// The running proxy: one listener per caller, all counting into the same [`Counts`].
pub struct CountingProxy {
    endpoints: BTreeMap<String, String>,
    counts: Counts,
    requests: Requests,
    tasks: Vec<JoinHandle<()>>,
}

impl CountingProxy {
    /// Starts one listener per caller label, forwarding to `upstream` (`http://127.0.0.1:<port>`).
    pub async fn start(upstream: &str, callers: &[&str]) -> CountingProxy {
        let authority = upstream
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_owned();
        let upstream: SocketAddr = tokio::net::lookup_host(authority.as_str())
            .await
            .unwrap_or_else(|e| panic!("moto endpoint {upstream}: {e}"))
            .next()
            .unwrap_or_else(|| panic!("moto endpoint {upstream} resolves to nothing"));
        let counts = Counts::default();
        let requests = Requests::default();
        let mut endpoints = BTreeMap::new();
        let mut tasks = Vec::new();
        for caller in callers {
            let listener = TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind the counting proxy on 127.0.0.1");
            let addr = listener.local_addr().expect("the proxy's address");
            endpoints.insert((*caller).to_owned(), format!("http://{addr}"));
            let shared = Arc::new(Shared {
                upstream,
                counts: counts.clone(),
                requests: requests.clone(),
            });
            let caller = (*caller).to_owned();
            tasks.push(tokio::spawn(accept(listener, shared, caller)));
        }
        CountingProxy {
            endpoints,
            counts,
            requests,
            tasks,
        }
    }

    /// The endpoint URL a caller's SDK configuration uses.
    pub fn endpoint(&self, caller: &str) -> &str {
        self.endpoints
            .get(caller)
            .unwrap_or_else(|| panic!("the proxy has no listener for {caller}"))
    }

    pub fn counts(&self) -> &Counts {
        &self.counts
    }

    /// Every request the functions sent through the proxy, whole.
    pub fn requests(&self) -> &Requests {
        &self.requests
    }
}

impl Drop for CountingProxy {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

async fn accept(listener: TcpListener, shared: Arc<Shared>, caller: String) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let shared = shared.clone();
        let caller = caller.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let shared = shared.clone();
                let caller = caller.clone();
                async move { Ok::<_, hyper::Error>(forward(&shared, &caller, req).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

fn bad_gateway(reason: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(reason)));
    *response.status_mut() = StatusCode::BAD_GATEWAY;
    response
}

async fn forward(shared: &Shared, caller: &str, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let (parts, body) = req.into_parts();
    let body = match body.collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => return bad_gateway(format!("reading the request: {e}")),
    };
    let target = parts
        .headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok());
    let path = parts
        .uri
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_owned();
    let (service, operation) = classify(parts.method.as_str(), &path, target, &body);
    let detail = detail(&service, &body);
    shared.counts.add(Call {
        caller: caller.to_owned(),
        service,
        operation,
        detail,
    });
    shared.requests.add(Recorded {
        caller: caller.to_owned(),
        method: parts.method.as_str().to_owned(),
        path: path.clone(),
        target: target.map(str::to_owned),
        body: body.clone(),
    });

    let stream = match TcpStream::connect(shared.upstream).await {
        Ok(s) => s,
        Err(e) => return bad_gateway(format!("connecting to moto: {e}")),
    };
    let (mut send, connection) =
        match hyper::client::conn::http1::handshake::<_, Full<Bytes>>(TokioIo::new(stream)).await {
            Ok(pair) => pair,
            Err(e) => return bad_gateway(format!("handshake with moto: {e}")),
        };
    tokio::spawn(connection);
    let mut upstream = Request::builder().method(parts.method).uri(path);
    for (name, value) in &parts.headers {
        upstream = upstream.header(name, value);
    }
    let upstream = match upstream.body(Full::new(body)) {
        Ok(r) => r,
        Err(e) => return bad_gateway(format!("building the request: {e}")),
    };
    let answer = match send.send_request(upstream).await {
        Ok(a) => a,
        Err(e) => return bad_gateway(format!("moto: {e}")),
    };
    let (parts, body) = answer.into_parts();
    match body.collect().await {
        Ok(b) => Response::from_parts(parts, Full::new(b.to_bytes())),
        Err(e) => bad_gateway(format!("reading moto's answer: {e}")),
    }
}

/// One plain HTTP/1.1 request (`http://host:port`), the answer's body as text. For talking to a
/// second counter (`/work/shared/bench/count_proxy.py`'s `/__reset` and `/__counts`).
pub async fn http_call(base: &str, method: &str, path: &str) -> Result<String, String> {
    let authority = base.trim_start_matches("http://").trim_end_matches('/');
    let stream = TcpStream::connect(authority)
        .await
        .map_err(|e| format!("{base}: {e}"))?;
    let (mut send, connection) =
        hyper::client::conn::http1::handshake::<_, Full<Bytes>>(TokioIo::new(stream))
            .await
            .map_err(|e| e.to_string())?;
    tokio::spawn(connection);
    let request = Request::builder()
        .method(method)
        .uri(path)
        .header("host", authority)
        .body(Full::new(Bytes::new()))
        .map_err(|e| e.to_string())?;
    let answer = send
        .send_request(request)
        .await
        .map_err(|e| e.to_string())?;
    let body = answer
        .into_body()
        .collect()
        .await
        .map_err(|e| e.to_string())?
        .to_bytes();
    Ok(String::from_utf8_lossy(&body).into_owned())
}

#[cfg(test)]
mod tests {
    use super::classify;

    #[test]
    fn operations_are_told_by_target_action_or_rest_path() {
        let c = |m, p, t, b: &str| classify(m, p, t, b.as_bytes());
        assert_eq!(
            c(
                "POST",
                "/",
                Some("DynamoDB_20120810.TransactWriteItems"),
                "{}"
            ),
            ("dynamodb".into(), "TransactWriteItems".into())
        );
        assert_eq!(
            c("POST", "/", Some("AmazonSQS.SendMessageBatch"), "{}"),
            ("sqs".into(), "SendMessageBatch".into())
        );
        assert_eq!(
            c("POST", "/", None, "Action=SendMessage&Version=2012-11-05"),
            ("sqs".into(), "SendMessage".into())
        );
        assert_eq!(
            c("POST", "/schedules/a-b?x=1", None, "{}"),
            ("scheduler".into(), "CreateSchedule".into())
        );
        assert_eq!(
            c("PUT", "/schedules/a-b", None, "{}"),
            ("scheduler".into(), "UpdateSchedule".into())
        );
        assert_eq!(
            c("GET", "/schedules?ScheduleGroup=g", None, ""),
            ("scheduler".into(), "ListSchedules".into())
        );
        // MEDIA-3: the console measures an uploaded file with HeadObject (no `x-id`).
        assert_eq!(
            c("HEAD", "/bucket/106540352242922/ab12/cd34", None, ""),
            ("s3".into(), "HeadObject".into())
        );
    }
}
