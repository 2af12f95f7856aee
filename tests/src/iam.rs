//! OPS-1: what IAM must allow for the AWS calls a function made, and what a role in
//! `infra/template.yaml` allows, resolved to one deployment's resources.
//!
//! - [`needs`]: a recorded request ([`Recorded`]) as the (IAM action, resource ARN) pairs AWS's
//!   service authorization reference asks for. There is no IAM action for every API operation:
//!   `TransactWriteItems` is authorized per item (`dynamodb:PutItem`, `UpdateItem`, `DeleteItem`,
//!   `ConditionCheckItem` on each item's table), `TransactGetItems` as `dynamodb:GetItem`,
//!   `SendMessageBatch` as `sqs:SendMessage`, `DeleteMessageBatch` as `sqs:DeleteMessage`, and a
//!   Scheduler `CreateSchedule`/`UpdateSchedule` also needs `iam:PassRole` on the target's role. An
//!   operation this module does not know is an error, never silently allowed.
//! - [`grants`]: a role's `Allow` statements, each `Ref`/`GetAtt`/`Sub` resolved through a
//!   [`Binding`] (logical id → the deployment's names), conditions kept.
//! - [`allowed`]: whether some grant matches a need, with IAM's wildcards (`*`, `?`).

use crate::proxy::Recorded;
use crate::template::{Value, allow_statements, at, list, text};
use serde_json::Value as Json;
use std::collections::BTreeMap;

pub const PARTITION: &str = "aws";
pub const REGION: &str = "us-east-1";
pub const ACCOUNT: &str = "123456789012";

/// One permission a call needs: an IAM action on a resource ARN, and for `iam:PassRole` the
/// service the role is passed to (what `iam:PassedToService` conditions test).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Need {
    pub action: String,
    pub resource: String,
    pub passed_to: Option<String>,
}

impl Need {
    fn new(action: &str, resource: impl Into<String>) -> Need {
        Need {
            action: action.to_owned(),
            resource: resource.into(),
            passed_to: None,
        }
    }
}

pub fn table_arn(table: &str) -> String {
    format!("arn:{PARTITION}:dynamodb:{REGION}:{ACCOUNT}:table/{table}")
}

pub fn queue_arn(queue_url: &str) -> String {
    let name = queue_url.rsplit('/').next().unwrap_or(queue_url);
    format!("arn:{PARTITION}:sqs:{REGION}:{ACCOUNT}:{name}")
}

fn schedule_arn(group: &str, name: &str) -> String {
    format!("arn:{PARTITION}:scheduler:{REGION}:{ACCOUNT}:schedule/{group}/{name}")
}

/// `%XX` escapes of a URL path segment or query value, decoded.
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(byte) = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(byte);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn query_value(path: &str, key: &str) -> Option<String> {
    path.split_once('?')?.1.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k == key).then(|| percent_decode(v))
    })
}

/// The request's parameters: the JSON body, or a query-protocol form body as a JSON object.
fn parameters(r: &Recorded) -> Json {
    if let Ok(json) = serde_json::from_slice::<Json>(&r.body) {
        return json;
    }
    let form = String::from_utf8_lossy(&r.body);
    Json::Object(
        form.split('&')
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (percent_decode(k), Json::String(percent_decode(v))))
            .collect(),
    )
}

fn field<'a>(json: &'a Json, name: &str) -> Result<&'a str, String> {
    json[name]
        .as_str()
        .ok_or_else(|| format!("no {name} in {json}"))
}

/// The permissions a recorded call needs (see the module doc).
pub fn needs(r: &Recorded) -> Result<Vec<Need>, String> {
    let (service, operation) =
        crate::proxy::classify(&r.method, &r.path, r.target.as_deref(), &r.body);
    let p = parameters(r);
    let unknown = || Err(format!("{service} {operation}: no IAM mapping (add one)"));
    match service.as_str() {
        "dynamodb" => dynamodb(&operation, &p).unwrap_or_else(unknown),
        "sqs" => {
            let action = match operation.as_str() {
                "SendMessage" | "SendMessageBatch" => "sqs:SendMessage",
                "ReceiveMessage" => "sqs:ReceiveMessage",
                "DeleteMessage" | "DeleteMessageBatch" => "sqs:DeleteMessage",
                "ChangeMessageVisibility" | "ChangeMessageVisibilityBatch" => {
                    "sqs:ChangeMessageVisibility"
                }
                "GetQueueAttributes" => "sqs:GetQueueAttributes",
                "PurgeQueue" => "sqs:PurgeQueue",
                "ListDeadLetterSourceQueues" => "sqs:ListDeadLetterSourceQueues",
                "GetQueueUrl" => {
                    let name = field(&p, "QueueName")?;
                    return Ok(vec![Need::new(
                        "sqs:GetQueueUrl",
                        format!("arn:{PARTITION}:sqs:{REGION}:{ACCOUNT}:{name}"),
                    )]);
                }
                "ListQueues" => return Ok(vec![Need::new("sqs:ListQueues", "*")]),
                _ => return unknown(),
            };
            Ok(vec![Need::new(action, queue_arn(field(&p, "QueueUrl")?))])
        }
        "scheduler" => {
            let path = r.path.split('?').next().unwrap_or("");
            let name = percent_decode(path.rsplit('/').next().unwrap_or(""));
            let group = |p: &Json| -> String {
                p["GroupName"]
                    .as_str()
                    .map(str::to_owned)
                    .or_else(|| query_value(&r.path, "groupName"))
                    .unwrap_or_else(|| "default".to_owned())
            };
            let action = match operation.as_str() {
                "CreateSchedule" | "UpdateSchedule" | "GetSchedule" | "DeleteSchedule" => {
                    format!("scheduler:{operation}")
                }
                "ListSchedules" => return Ok(vec![Need::new("scheduler:ListSchedules", "*")]),
                _ => return unknown(),
            };
            let mut out = vec![Need::new(&action, schedule_arn(&group(&p), &name))];
            if matches!(operation.as_str(), "CreateSchedule" | "UpdateSchedule") {
                out.push(Need {
                    action: "iam:PassRole".to_owned(),
                    resource: field(&p["Target"], "RoleArn")?.to_owned(),
                    passed_to: Some("scheduler.amazonaws.com".to_owned()),
                });
            }
            Ok(out)
        }
        "s3" => s3(&operation, r),
        "secretsmanager" => match operation.as_str() {
            "GetSecretValue" | "DescribeSecret" => Ok(vec![Need::new(
                &format!("secretsmanager:{operation}"),
                field(&p, "SecretId")?,
            )]),
            _ => unknown(),
        },
        _ => unknown(),
    }
}

/// S3 (path-style, as the functions address moto): object operations need their action on
/// `arn:aws:s3:::bucket/key` (the multipart steps are `s3:PutObject`; `DeleteObjects` needs
/// `s3:DeleteObject` on each key), listing needs `s3:ListBucket` on the bucket.
fn s3(operation: &str, r: &Recorded) -> Result<Vec<Need>, String> {
    let path = r.path.split('?').next().unwrap_or("");
    let (bucket, key) = path
        .trim_start_matches('/')
        .split_once('/')
        .unwrap_or((path.trim_start_matches('/'), ""));
    let bucket_arn = format!("arn:{PARTITION}:s3:::{bucket}");
    let object = |action: &str| {
        Ok(vec![Need::new(
            action,
            format!("{bucket_arn}/{}", percent_decode(key)),
        )])
    };
    match operation {
        "GetObject" | "HeadObject" => object("s3:GetObject"),
        "PutObject" | "CreateMultipartUpload" | "UploadPart" | "CompleteMultipartUpload" => {
            object("s3:PutObject")
        }
        "AbortMultipartUpload" => object("s3:AbortMultipartUpload"),
        "DeleteObject" => object("s3:DeleteObject"),
        "DeleteObjects" => {
            let body = String::from_utf8_lossy(&r.body);
            Ok(body
                .split("<Key>")
                .skip(1)
                .filter_map(|rest| rest.split_once("</Key>"))
                .map(|(k, _)| Need::new("s3:DeleteObject", format!("{bucket_arn}/{k}")))
                .collect())
        }
        "ListObjectsV2" => Ok(vec![Need::new("s3:ListBucket", bucket_arn)]),
        _ => Err(format!("s3 {operation}: no IAM mapping (add one)")),
    }
}

fn dynamodb(operation: &str, p: &Json) -> Option<Result<Vec<Need>, String>> {
    let on_table = |action: &str| -> Result<Vec<Need>, String> {
        let table = field(p, "TableName")?;
        let mut arn = table_arn(table);
        if let Some(index) = p["IndexName"].as_str() {
            arn = format!("{arn}/index/{index}");
        }
        Ok(vec![Need::new(action, arn)])
    };
    let per_table = |action: &str| -> Result<Vec<Need>, String> {
        let tables = p["RequestItems"]
            .as_object()
            .ok_or_else(|| format!("no RequestItems in {p}"))?;
        Ok(tables
            .keys()
            .map(|t| Need::new(action, table_arn(t)))
            .collect())
    };
    let transaction = |kinds: &[(&str, &str)]| -> Result<Vec<Need>, String> {
        let mut out = vec![];
        for item in p["TransactItems"]
            .as_array()
            .ok_or_else(|| format!("no TransactItems in {p}"))?
        {
            let (kind, action) = kinds
                .iter()
                .find(|(kind, _)| item.get(*kind).is_some())
                .ok_or_else(|| format!("a transaction item of no known kind: {item}"))?;
            out.push(Need::new(
                action,
                table_arn(field(&item[*kind], "TableName")?),
            ));
        }
        Ok(out)
    };
    Some(match operation {
        "GetItem" | "PutItem" | "UpdateItem" | "DeleteItem" | "Query" | "Scan"
        | "DescribeTable" => on_table(&format!("dynamodb:{operation}")),
        "BatchGetItem" | "BatchWriteItem" => per_table(&format!("dynamodb:{operation}")),
        "TransactWriteItems" => transaction(&[
            ("Put", "dynamodb:PutItem"),
            ("Update", "dynamodb:UpdateItem"),
            ("Delete", "dynamodb:DeleteItem"),
            ("ConditionCheck", "dynamodb:ConditionCheckItem"),
        ]),
        "TransactGetItems" => transaction(&[("Get", "dynamodb:GetItem")]),
        // DynamoDB Streams (its own endpoint prefix, `DynamoDBStreams_20120810`, and the
        // `dynamodb:` actions): on the stream's ARN. GetRecords names no ARN, but its shard
        // iterator starts with it (`<stream arn>|1|…`, on AWS as on moto). ListStreams of one
        // table: that table's streams (the developer guide grants it on `table/T/stream/*`).
        "DescribeStream" | "GetShardIterator" => {
            field(p, "StreamArn").map(|arn| vec![Need::new(&format!("dynamodb:{operation}"), arn)])
        }
        "GetRecords" => {
            field(p, "ShardIterator").and_then(|iterator| match iterator.split_once('|') {
                Some((arn, _)) if arn.starts_with("arn:") => {
                    Ok(vec![Need::new("dynamodb:GetRecords", arn)])
                }
                _ => Err(format!("a shard iterator that names no stream: {iterator}")),
            })
        }
        "ListStreams" => Ok(vec![Need::new(
            "dynamodb:ListStreams",
            p["TableName"]
                .as_str()
                .map_or_else(|| "*".to_owned(), |t| format!("{}/stream/*", table_arn(t))),
        )]),
        _ => return None,
    })
}

/// What the template's names resolve to in one deployment: `Ref` values by logical id or
/// parameter (`Table`, `TimerScheduleGroup`, `OutreachKeyArn`, `AWS::Region`…) and attributes by
/// `Id.Attr` (`Table.Arn`, `InboundQueue.Arn`, `TimerSchedulerRole.Arn`…).
#[derive(Debug, Clone, Default)]
pub struct Binding(pub BTreeMap<String, String>);

impl Binding {
    pub fn with(mut self, name: &str, value: impl Into<String>) -> Binding {
        self.0.insert(name.to_owned(), value.into());
        self
    }

    /// A queue of the stack: `Ref` is its URL, `Arn` and `QueueName` follow.
    pub fn queue(self, id: &str, url: &str) -> Binding {
        let name = url.rsplit('/').next().unwrap_or(url).to_owned();
        self.with(id, url)
            .with(&format!("{id}.Arn"), queue_arn(url))
            .with(&format!("{id}.QueueName"), name)
    }

    /// A resource token of [`crate::template::token`], resolved; `None` when it names something
    /// this deployment has no value for.
    pub fn resolve(&self, token: &str) -> Option<String> {
        if let Some(name) = token.strip_prefix("Ref:") {
            return self.0.get(name).cloned();
        }
        if let Some(name) = token.strip_prefix("GetAtt:") {
            return self.0.get(name).cloned();
        }
        if let Some(mut rest) = token.strip_prefix("Sub:") {
            let mut out = String::new();
            while let Some(start) = rest.find("${") {
                out.push_str(&rest[..start]);
                let end = rest[start..].find('}')? + start;
                out.push_str(self.0.get(&rest[start + 2..end])?);
                rest = &rest[end + 1..];
            }
            out.push_str(rest);
            return Some(out);
        }
        token.strip_prefix("Literal:").map(str::to_owned)
    }
}

/// One `Allow` of a role: an action on a resource (the template's token and its resolution), and
/// the `iam:PassedToService` it is conditioned on, if any.
#[derive(Debug, Clone)]
pub struct Grant {
    pub action: String,
    pub token: String,
    pub resource: Option<String>,
    pub passed_to: Option<String>,
    /// A condition this module cannot evaluate: such a grant allows nothing here.
    pub other_condition: bool,
}

/// Every `Allow` of a role's inline policies, resolved through `binding`.
pub fn grants(t: &Value, role: &str, binding: &Binding) -> Vec<Grant> {
    let mut out = vec![];
    for statement in allow_statements(t, role) {
        let passed_to = text(at(
            statement,
            &["Condition", "StringEquals", "iam:PassedToService"],
        ));
        let conditions = match statement.get("Condition") {
            Some(Value::Mapping(c)) => c
                .values()
                .map(|v| v.as_mapping().map_or(1, |m| m.len()))
                .sum(),
            _ => 0,
        };
        let other_condition = conditions > usize::from(passed_to.is_some());
        for action in list(statement.get("Action")) {
            for res in list(statement.get("Resource")) {
                let token = crate::template::token(res);
                out.push(Grant {
                    action: text(Some(action)).unwrap_or_default(),
                    resource: binding.resolve(&token),
                    token,
                    passed_to: passed_to.clone(),
                    other_condition,
                });
            }
        }
    }
    out
}

/// IAM's wildcard match: `*` any run of characters, `?` any one.
pub fn wildcard(pattern: &str, value: &str) -> bool {
    let (p, v): (Vec<char>, Vec<char>) = (pattern.chars().collect(), value.chars().collect());
    let (mut pi, mut vi, mut star, mut mark) = (0, 0, None, 0);
    while vi < v.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == v[vi]) {
            pi += 1;
            vi += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = vi;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            vi = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// Whether `grant` allows `need`.
pub fn matches(grant: &Grant, need: &Need) -> bool {
    let Some(resource) = &grant.resource else {
        return false;
    };
    !grant.other_condition
        && wildcard(
            &grant.action.to_ascii_lowercase(),
            &need.action.to_ascii_lowercase(),
        )
        && wildcard(resource, &need.resource)
        && grant
            .passed_to
            .as_ref()
            .is_none_or(|service| need.passed_to.as_ref() == Some(service))
}

/// The grants that allow `need` (none: denied).
pub fn allowed<'a>(grants: &'a [Grant], need: &Need) -> Vec<&'a Grant> {
    grants.iter().filter(|g| matches(g, need)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn recorded(method: &str, path: &str, target: Option<&str>, body: &str) -> Recorded {
        Recorded {
            caller: "f".into(),
            method: method.into(),
            path: path.into(),
            target: target.map(str::to_owned),
            body: Bytes::from(body.to_owned()),
        }
    }

    #[test]
    fn ops_1_stream_reads_need_their_actions_on_the_stream() {
        let stream =
            "arn:aws:dynamodb:us-east-1:123456789012:table/t/stream/2026-01-01T00:00:00.000";
        let need = |op: &str, body: String| {
            let r = recorded(
                "POST",
                "/",
                Some(&format!("DynamoDBStreams_20120810.{op}")),
                &body,
            );
            needs(&r)
                .unwrap()
                .into_iter()
                .map(|n| (n.action, n.resource))
                .collect::<Vec<_>>()
        };
        for op in ["DescribeStream", "GetShardIterator"] {
            assert_eq!(
                need(op, format!(r#"{{"StreamArn":"{stream}","ShardId":"s"}}"#)),
                [(format!("dynamodb:{op}"), stream.to_owned())]
            );
        }
        assert_eq!(
            need(
                "GetRecords",
                format!(r#"{{"ShardIterator":"{stream}|1|AAAA"}}"#)
            ),
            [("dynamodb:GetRecords".to_owned(), stream.to_owned())]
        );
        assert_eq!(
            need("ListStreams", r#"{"TableName":"t"}"#.to_owned()),
            [(
                "dynamodb:ListStreams".to_owned(),
                "arn:aws:dynamodb:us-east-1:123456789012:table/t/stream/*".to_owned()
            )]
        );
        let opaque = recorded(
            "POST",
            "/",
            Some("DynamoDBStreams_20120810.GetRecords"),
            r#"{"ShardIterator":"AAAA"}"#,
        );
        assert!(needs(&opaque).is_err(), "never silently allowed");
    }

    #[test]
    fn ops_1_a_transaction_needs_the_actions_of_its_items() {
        let r = recorded(
            "POST",
            "/",
            Some("DynamoDB_20120810.TransactWriteItems"),
            r#"{"TransactItems":[{"Put":{"TableName":"t"}},{"ConditionCheck":{"TableName":"t"}},{"Update":{"TableName":"u"}}]}"#,
        );
        let actions: Vec<(String, String)> = needs(&r)
            .unwrap()
            .into_iter()
            .map(|n| (n.action, n.resource))
            .collect();
        assert_eq!(
            actions,
            [
                ("dynamodb:PutItem".to_owned(), table_arn("t")),
                ("dynamodb:ConditionCheckItem".to_owned(), table_arn("t")),
                ("dynamodb:UpdateItem".to_owned(), table_arn("u")),
            ]
        );
        let query = recorded(
            "POST",
            "/",
            Some("DynamoDB_20120810.Query"),
            r#"{"TableName":"t","IndexName":"gsi1"}"#,
        );
        assert_eq!(
            needs(&query).unwrap()[0].resource,
            format!("{}/index/gsi1", table_arn("t"))
        );
        let unknown = recorded(
            "POST",
            "/",
            Some("DynamoDB_20120810.ExecuteStatement"),
            "{}",
        );
        assert!(needs(&unknown).is_err());
    }

    #[test]
    fn ops_1_batches_and_schedules_map_to_their_actions() {
        let batch = recorded(
            "POST",
            "/",
            Some("AmazonSQS.SendMessageBatch"),
            r#"{"QueueUrl":"http://127.0.0.1:5000/123456789012/q-outbound"}"#,
        );
        assert_eq!(
            needs(&batch).unwrap(),
            [Need::new("sqs:SendMessage", queue_arn("q-outbound"))]
        );
        let create = recorded(
            "POST",
            "/schedules/w-1",
            None,
            r#"{"GroupName":"g","Target":{"RoleArn":"arn:aws:iam::123456789012:role/s"}}"#,
        );
        let n = needs(&create).unwrap();
        assert_eq!(
            n[0],
            Need::new("scheduler:CreateSchedule", schedule_arn("g", "w-1"))
        );
        assert_eq!(n[1].action, "iam:PassRole");
        assert_eq!(n[1].passed_to.as_deref(), Some("scheduler.amazonaws.com"));
        let delete = recorded(
            "DELETE",
            "/schedules/w-1?groupName=g&clientToken=x",
            None,
            "",
        );
        assert_eq!(
            needs(&delete).unwrap(),
            [Need::new(
                "scheduler:DeleteSchedule",
                schedule_arn("g", "w-1")
            )]
        );
    }

    #[test]
    fn ops_1_s3_calls_map_to_object_and_bucket_actions() {
        let put = recorded("PUT", "/b/n/c/m?x-id=UploadPart&partNumber=1", None, "");
        assert_eq!(
            needs(&put).unwrap(),
            [Need::new("s3:PutObject", "arn:aws:s3:::b/n/c/m")]
        );
        let list = recorded("GET", "/b?list-type=2&prefix=n%2Fc%2F", None, "");
        assert_eq!(
            needs(&list).unwrap(),
            [Need::new("s3:ListBucket", "arn:aws:s3:::b")]
        );
        let delete = recorded(
            "POST",
            "/b?delete&x-id=DeleteObjects",
            None,
            "<Delete><Object><Key>n/c/1</Key></Object><Object><Key>n/c/1.json</Key></Object></Delete>",
        );
        assert_eq!(
            needs(&delete).unwrap(),
            [
                Need::new("s3:DeleteObject", "arn:aws:s3:::b/n/c/1"),
                Need::new("s3:DeleteObject", "arn:aws:s3:::b/n/c/1.json"),
            ]
        );
        assert!(needs(&recorded("PUT", "/b?x-id=PutBucketPolicy", None, "")).is_err());
    }

    #[test]
    fn ops_1_wildcards_and_conditions_match_as_iam_does() {
        assert!(wildcard(
            "arn:aws:dynamodb:*:table/t/index/*",
            "arn:aws:dynamodb:x:table/t/index/gsi1"
        ));
        assert!(!wildcard(
            "arn:aws:dynamodb:*:table/t/index/*",
            "arn:aws:dynamodb:x:table/t"
        ));
        assert!(wildcard("a?c", "abc") && !wildcard("a?c", "abbc"));
        let grant = Grant {
            action: "iam:PassRole".into(),
            token: "GetAtt:R.Arn".into(),
            resource: Some("arn:aws:iam::1:role/r".into()),
            passed_to: Some("scheduler.amazonaws.com".into()),
            other_condition: false,
        };
        let mut need = Need {
            action: "iam:PassRole".into(),
            resource: "arn:aws:iam::1:role/r".into(),
            passed_to: Some("scheduler.amazonaws.com".into()),
        };
        assert!(matches(&grant, &need));
        need.passed_to = Some("lambda.amazonaws.com".into());
        assert!(!matches(&grant, &need));
        let binding = Binding::default()
            .with("Table.Arn", table_arn("t"))
            .with("AWS::Region", REGION);
        assert_eq!(
            binding.resolve("Sub:${Table.Arn}/index/*").unwrap(),
            format!("{}/index/*", table_arn("t"))
        );
        assert_eq!(binding.resolve("Sub:${Nope}"), None);
    }
}
