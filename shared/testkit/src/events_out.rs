//! Events out (EVT-1, EVT-4) in tests: the table's stream as moto records it, and deliveries
//! checked with the Standard Webhooks reference library (Python `standardwebhooks`), never with
//! Switchboard's own signing code. Both run the test venv's Python (`scripts/test` installs boto3
//! and standardwebhooks in `.venv`).

use serde_json::{Value, json};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

fn python() -> &'static str {
    concat!(env!("CARGO_MANIFEST_DIR"), "/../../.venv/bin/python")
}

/// The table's stream records as the Lambda event source hands them over (`{"Records": […]}`),
/// read from moto with boto3's `dynamodbstreams` client (moto does not trigger Lambdas from
/// streams).
pub fn stream_records(table: &str) -> Value {
    read_stream(table, None)
}

/// As [`stream_records`], with every stream call (ListStreams, DescribeStream, GetShardIterator,
/// GetRecords) sent to `endpoint`: a proxy listener that records them as the projector's, since
/// the event source mapping reads the stream with the projector's role (OPS-1).
pub fn stream_records_through(table: &str, endpoint: &str) -> Value {
    read_stream(table, Some(endpoint))
}

fn read_stream(table: &str, endpoint: Option<&str>) -> Value {
    let script = r#"
import boto3, json, os, sys
url = os.environ.get("AWS_ENDPOINT_URL") or os.environ["SWITCHBOARD_MOTO_URL"]
through = sys.argv[2] if len(sys.argv) > 2 else None
streams = boto3.client("dynamodbstreams", endpoint_url=through or url, region_name="us-east-1")
if through:
    # As the event source mapping: the table's streams listed, the newest read.
    arn = streams.list_streams(TableName=sys.argv[1])["Streams"][-1]["StreamArn"]
else:
    ddb = boto3.client("dynamodb", endpoint_url=url, region_name="us-east-1")
    arn = ddb.describe_table(TableName=sys.argv[1])["Table"]["LatestStreamArn"]
records = []
for shard in streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
    it = streams.get_shard_iterator(StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    while it:
        out = streams.get_records(ShardIterator=it, Limit=1000)
        if not out["Records"]:
            break
        records.extend(out["Records"])
        it = out.get("NextShardIterator")
def lambda_record(r):
    d = r["dynamodb"]
    t = d.get("ApproximateCreationDateTime")
    if t is not None and not isinstance(t, (int, float)):
        d["ApproximateCreationDateTime"] = t.timestamp()
    return {"eventID": r["eventID"], "eventName": r["eventName"], "eventVersion": r.get("eventVersion", "1.1"),
            "eventSource": "aws:dynamodb", "awsRegion": r.get("awsRegion", "us-east-1"),
            "eventSourceARN": arn, "dynamodb": d}
print(json.dumps({"Records": [lambda_record(r) for r in records]}, default=str))
"#;
    let mut args = vec!["-c", script, table];
    args.extend(endpoint);
    let out = Command::new(python())
        .args(args)
        .output()
        .expect("the test venv's python with boto3 (scripts/test installs it)");
    assert!(
        out.status.success(),
        "reading the stream: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("stream records as JSON")
}

/// One webhook delivery as a receiver got it.
#[derive(Debug, Clone)]
pub struct SignedDelivery {
    pub id: String,
    pub timestamp: String,
    pub signature: String,
    pub body: String,
}

/// Verifies every delivery with the Standard Webhooks reference library, and that each
/// `webhook-id` is its event's id. Returns how many verified; panics with the library's message
/// on the first that does not.
pub fn verify_with_reference_library(secret: &str, deliveries: &[SignedDelivery]) -> usize {
    let input = json!({
        "secret": secret,
        "deliveries": deliveries.iter().map(|d| json!({
            "body": d.body,
            "headers": {"webhook-id": d.id, "webhook-timestamp": d.timestamp, "webhook-signature": d.signature},
        })).collect::<Vec<_>>(),
    });
    let script = r#"
import json, sys
from standardwebhooks.webhooks import Webhook
data = json.load(sys.stdin)
wh = Webhook(data["secret"])
n = 0
for d in data["deliveries"]:
    payload = wh.verify(d["body"], d["headers"])
    assert payload["id"] == d["headers"]["webhook-id"], "webhook-id is not the event id"
    n += 1
print(n)
"#;
    let mut child = Command::new(python())
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the test venv's python (scripts/test installs standardwebhooks in .venv)");
    use std::io::Write;
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.to_string().as_bytes())
        .expect("write to python");
    let out = child.wait_with_output().expect("python runs");
    assert!(
        out.status.success(),
        "standardwebhooks refused a delivery: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .expect("a count")
}

/// A webhook receiver on loopback that answers 500 while `failing`, else 200.
pub struct Receiver {
    pub url: String,
    pub got: Arc<Mutex<Vec<SignedDelivery>>>,
    pub failing: Arc<AtomicBool>,
}

pub async fn receiver() -> Receiver {
    let got = Arc::new(Mutex::new(Vec::new()));
    let failing = Arc::new(AtomicBool::new(false));
    let (g, f) = (got.clone(), failing.clone());
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: axum::http::HeaderMap, body: String| {
            let (g, f) = (g.clone(), f.clone());
            async move {
                let h = |k: &str| {
                    headers
                        .get(k)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("")
                        .to_owned()
                };
                g.lock().expect("the receiver's log").push(SignedDelivery {
                    id: h("webhook-id"),
                    timestamp: h("webhook-timestamp"),
                    signature: h("webhook-signature"),
                    body,
                });
                if f.load(Ordering::SeqCst) {
                    axum::http::StatusCode::INTERNAL_SERVER_ERROR
                } else {
                    axum::http::StatusCode::OK
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a loopback port");
    let url = format!(
        "http://{}/hook",
        listener.local_addr().expect("its address")
    );
    tokio::spawn(async move {
        axum::serve(listener, app)
            .await
            .expect("the receiver serves")
    });
    Receiver { url, got, failing }
}

impl Receiver {
    /// The deliveries so far, in arrival order.
    pub fn deliveries(&self) -> Vec<SignedDelivery> {
        self.got.lock().expect("the receiver's log").clone()
    }

    /// The deliveries' bodies as JSON, in arrival order.
    pub fn events(&self) -> Vec<Value> {
        self.deliveries()
            .iter()
            .map(|d| serde_json::from_str(&d.body).expect("a delivery's body is JSON"))
            .collect()
    }
}
