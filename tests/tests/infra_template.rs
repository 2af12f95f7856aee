//! `infra/template.yaml` checked against the code, offline (cfn-lint checks CloudFormation's schema,
//! not these): the table is `store::TableDefinition` (the store drift test); every function builds
//! its package's binary for arm64 on provided.al2023 with JSON logs; every queue has a DLQ with an
//! alarm; every SQS event source reports batch item failures; no secret is a plain value; each
//! role stays within its function's allow-list; the scheduler role can only invoke the timers
//! function. Each check returns its problems, and the mutation tests below show that each one
//! catches what it is for.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use store::TableDefinition;
use switchboard_tests::template::{
    Mapping, Value, at, environment, function_property, list, long_form, number, of_type,
    on_failure_destination, repo, resource, role_permissions, template, text, token, variables,
};

// ------------------------------------------------------------------------------------------------
// The functions: logical id, binary, package directory, expected package name.

const FUNCTIONS: &[(&str, &str, &str)] = &[
    ("IngestFunction", "ingest", "ingest"),
    ("RouterFunction", "router", "router"),
    ("SenderFunction", "sender", "sender"),
    ("TimersFunction", "timers", "timers"),
    ("ConsoleFunction", "console", "console"),
    ("ProjectorFunction", "projector", "projector"),
    ("MediaFunction", "media", "media"),
    ("DelivererFunction", "deliverer", "deliverer"),
];

/// Packages built on other branches at the time of writing: allowed to be missing from the
/// checkout, and checked like the others as soon as they exist.
const NOT_YET_MERGED: &[&str] = &["sender"];

/// Whether the package's Cargo.toml declares binary `bin` (a `[[bin]]` entry, or the implicit
/// `src/main.rs` binary named after the package).
fn declares_bin(package_dir: &Path, bin: &str) -> Result<(), String> {
    let manifest = package_dir.join("Cargo.toml");
    let source = std::fs::read_to_string(&manifest).map_err(|e| format!("{manifest:?}: {e}"))?;
    let doc: toml_edit::DocumentMut = source.parse().map_err(|e| format!("{manifest:?}: {e}"))?;
    let bins: Vec<(String, Option<String>)> = doc
        .get("bin")
        .and_then(|b| b.as_array_of_tables())
        .map(|bins| {
            bins.iter()
                .map(|b| {
                    let field = |k: &str| b.get(k).and_then(|v| v.as_str()).map(str::to_owned);
                    (field("name").unwrap_or_default(), field("path"))
                })
                .collect()
        })
        .unwrap_or_default();
    let explicit: Vec<String> = bins.iter().map(|(name, _)| name.clone()).collect();
    // Cargo infers `src/main.rs` as a binary named after the package unless a [[bin]] claims
    // that file (or autobins is off).
    let main_claimed = bins
        .iter()
        .any(|(_, path)| path.as_deref() == Some("src/main.rs"));
    let autobins = doc
        .get("package")
        .and_then(|p| p.get("autobins"))
        .and_then(|a| a.as_bool())
        .unwrap_or(true);
    let package = doc
        .get("package")
        .and_then(|p| p.get("name"))
        .and_then(|n| n.as_str())
        .unwrap_or_default();
    let implicit =
        package == bin && autobins && !main_claimed && package_dir.join("src/main.rs").is_file();
    if explicit.iter().any(|b| b == bin) || implicit {
        Ok(())
    } else {
        Err(format!(
            "{manifest:?} declares no binary {bin:?} (bins: {explicit:?}, package {package:?})"
        ))
    }
}

fn check_functions(t: &Value) -> Vec<String> {
    let mut problems = vec![];
    let declared: BTreeSet<String> = of_type(t, "AWS::Serverless::Function")
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    let expected: BTreeSet<String> = FUNCTIONS.iter().map(|(id, ..)| (*id).to_owned()).collect();
    if declared != expected {
        problems.push(format!("functions {declared:?}, expected {expected:?}"));
    }
    for (id, bin, dir) in FUNCTIONS {
        let Some(f) = resource(t, id) else { continue };
        let expect = |problems: &mut Vec<String>, what: &str, found: Option<String>, want: &str| {
            if found.as_deref() != Some(want) {
                problems.push(format!("{id}: {what} is {found:?}, expected {want:?}"));
            }
        };
        let problems = &mut problems;
        expect(
            problems,
            "Runtime",
            text(function_property(t, f, "Runtime")),
            "provided.al2023",
        );
        expect(
            problems,
            "Handler",
            text(function_property(t, f, "Handler")),
            "bootstrap",
        );
        let architectures: Vec<String> = list(function_property(t, f, "Architectures"))
            .into_iter()
            .filter_map(|a| text(Some(a)))
            .collect();
        expect(
            problems,
            "Architectures",
            Some(architectures.join(",")),
            "arm64",
        );
        expect(
            problems,
            "BuildMethod",
            text(at(f, &["Metadata", "BuildMethod"])),
            "rust-cargolambda",
        );
        expect(
            problems,
            "BuildProperties.Binary",
            text(at(f, &["Metadata", "BuildProperties", "Binary"])),
            bin,
        );
        let code_uri = format!("../functions/{dir}");
        expect(
            problems,
            "CodeUri",
            text(at(f, &["Properties", "CodeUri"])),
            &code_uri,
        );
        let package = repo().join("infra").join(&code_uri);
        if package.is_dir() {
            if let Err(problem) = declares_bin(&package, bin) {
                problems.push(format!("{id}: {problem}"));
            }
        } else if !NOT_YET_MERGED.contains(dir) {
            problems.push(format!(
                "{id}: CodeUri {code_uri} is not a package directory"
            ));
        }
        // Structured logs, each function in its own log group with the retention parameter.
        expect(
            problems,
            "LogFormat",
            text(at(f, &["Properties", "LoggingConfig", "LogFormat"])),
            "JSON",
        );
        let group = at(f, &["Properties", "LoggingConfig", "LogGroup"]).map(token);
        match group.as_deref().and_then(|g| g.strip_prefix("Ref:")) {
            Some(group_id) => {
                let group = resource(t, group_id);
                if group.and_then(|g| text(g.get("Type"))).as_deref() != Some("AWS::Logs::LogGroup")
                {
                    problems.push(format!("{id}: log group {group_id} is not a LogGroup"));
                }
                let retention = group.and_then(|g| at(g, &["Properties", "RetentionInDays"]));
                if retention.map(token).as_deref() != Some("Ref:LogRetentionDays") {
                    problems.push(format!(
                        "{id}: log group {group_id} has no retention parameter"
                    ));
                }
            }
            None => problems.push(format!(
                "{id}: LoggingConfig.LogGroup is {group:?}, not a Ref"
            )),
        }
        // Its own role, and no SAM policy templates (which would add broad managed policies).
        let role = at(f, &["Properties", "Role"]).map(token);
        let own_role = format!("GetAtt:{}Role.Arn", id.trim_end_matches("Function"));
        if role.as_deref() != Some(own_role.as_str()) {
            problems.push(format!("{id}: Role is {role:?}, expected {own_role}"));
        }
        if at(f, &["Properties", "Policies"]).is_some() {
            problems.push(format!(
                "{id}: has SAM Policies; permissions belong in its role"
            ));
        }
    }
    problems
}

// ------------------------------------------------------------------------------------------------
// The table: exactly store::TableDefinition.

fn check_table(t: &Value) -> Vec<String> {
    let mut problems = vec![];
    let tables = of_type(t, "AWS::DynamoDB::Table");
    let [(_, table)] = tables.as_slice() else {
        return vec![format!("expected one table, found {}", tables.len())];
    };
    let p = table.get("Properties").cloned().unwrap_or(Value::Null);
    let mut expect = |what: &str, found: String, want: String| {
        if found != want {
            problems.push(format!("table {what}: template {found}, store {want}"));
        }
    };

    let template_attributes: BTreeSet<(String, String)> = list(p.get("AttributeDefinitions"))
        .into_iter()
        .map(|a| {
            (
                text(a.get("AttributeName")).unwrap_or_default(),
                text(a.get("AttributeType")).unwrap_or_default(),
            )
        })
        .collect();
    let store_attributes: BTreeSet<(String, String)> = TableDefinition::attribute_definitions()
        .iter()
        .map(|a| {
            (
                a.attribute_name().to_owned(),
                a.attribute_type().as_str().to_owned(),
            )
        })
        .collect();
    expect(
        "attributes",
        format!("{template_attributes:?}"),
        format!("{store_attributes:?}"),
    );

    let keys = |schema: Option<&Value>| -> Vec<(String, String)> {
        list(schema)
            .into_iter()
            .map(|k| {
                (
                    text(k.get("AttributeName")).unwrap_or_default(),
                    text(k.get("KeyType")).unwrap_or_default(),
                )
            })
            .collect()
    };
    let store_keys =
        |schema: &[aws_sdk_dynamodb::types::KeySchemaElement]| -> Vec<(String, String)> {
            schema
                .iter()
                .map(|k| {
                    (
                        k.attribute_name().to_owned(),
                        k.key_type().as_str().to_owned(),
                    )
                })
                .collect()
        };
    expect(
        "key schema",
        format!("{:?}", keys(p.get("KeySchema"))),
        format!("{:?}", store_keys(&TableDefinition::table_key_schema())),
    );

    let template_indexes: BTreeMap<String, String> = list(p.get("GlobalSecondaryIndexes"))
        .into_iter()
        .map(|i| {
            (
                text(i.get("IndexName")).unwrap_or_default(),
                format!(
                    "{:?} projection {:?}",
                    keys(i.get("KeySchema")),
                    text(at(i, &["Projection", "ProjectionType"]))
                ),
            )
        })
        .collect();
    let store_indexes: BTreeMap<String, String> = TableDefinition::global_secondary_indexes()
        .iter()
        .map(|i| {
            (
                i.index_name().to_owned(),
                format!(
                    "{:?} projection {:?}",
                    store_keys(i.key_schema()),
                    i.projection()
                        .and_then(|p| p.projection_type())
                        .map(|p| p.as_str().to_owned())
                ),
            )
        })
        .collect();
    expect(
        "global secondary indexes",
        format!("{template_indexes:?}"),
        format!("{store_indexes:?}"),
    );
    if p.get("LocalSecondaryIndexes").is_some() {
        problems.push("table: local secondary indexes the store does not define".to_owned());
    }

    let input = TableDefinition::new("t").create_table_input();
    let store_billing = input.billing_mode().map(|b| b.as_str().to_owned());
    let mut expect = |what: &str, found: Option<String>, want: Option<String>| {
        if found != want {
            problems.push(format!(
                "table {what}: template {found:?}, expected {want:?}"
            ));
        }
    };
    expect("billing mode", text(p.get("BillingMode")), store_billing);
    expect(
        "TTL attribute",
        text(at(&p, &["TimeToLiveSpecification", "AttributeName"])),
        Some(store::dynamo::TTL_ATTRIBUTE.to_owned()),
    );
    let enabled = Some("true".to_owned());
    expect(
        "TTL enabled",
        text(at(&p, &["TimeToLiveSpecification", "Enabled"])),
        enabled.clone(),
    );
    expect(
        "point-in-time recovery",
        text(at(
            &p,
            &[
                "PointInTimeRecoverySpecification",
                "PointInTimeRecoveryEnabled",
            ],
        )),
        enabled.clone(),
    );
    expect(
        "encryption",
        text(at(&p, &["SSESpecification", "SSEEnabled"])),
        enabled,
    );
    problems
}

// ------------------------------------------------------------------------------------------------
// Queues, DLQs, alarms and event sources.

/// Queue ids that are dead-letter queues: named by a redrive policy, a function's on-failure
/// destination, or the scheduler role's SendMessage (Scheduler's dead-letter queue).
fn dead_letter_queues(t: &Value) -> BTreeSet<String> {
    let mut dlqs = BTreeSet::new();
    for (_, q) in of_type(t, "AWS::SQS::Queue") {
        if let Some(target) = at(q, &["Properties", "RedrivePolicy", "deadLetterTargetArn"]) {
            dlqs.insert(token(target));
        }
    }
    for (_, f) in of_type(t, "AWS::Serverless::Function") {
        let destination = on_failure_destination(f);
        if let Some(d) = destination {
            dlqs.insert(token(d));
        }
    }
    for (action, resource) in role_permissions(t, "TimerSchedulerRole") {
        if action == "sqs:SendMessage" {
            dlqs.insert(resource);
        }
    }
    dlqs.into_iter()
        .filter_map(|t| {
            t.strip_prefix("GetAtt:")
                .and_then(|r| r.strip_suffix(".Arn"))
                .map(str::to_owned)
        })
        .collect()
}

fn check_queues(t: &Value) -> Vec<String> {
    let mut problems = vec![];
    let dlqs = dead_letter_queues(t);
    let queues = of_type(t, "AWS::SQS::Queue");
    let alarms = of_type(t, "AWS::CloudWatch::Alarm");
    let is_fifo = |id: &str| {
        resource(t, id)
            .and_then(|q| text(at(q, &["Properties", "FifoQueue"])))
            .as_deref()
            == Some("true")
    };
    for (id, q) in &queues {
        let p = |path: &[&str]| at(q, &[&["Properties"], path].concat()).cloned();
        if text(p(&["SqsManagedSseEnabled"]).as_ref()).as_deref() != Some("true")
            && p(&["KmsMasterKeyId"]).is_none()
        {
            problems.push(format!("{id}: not encrypted"));
        }
        if dlqs.contains(id) {
            let alarmed = alarms.iter().any(|(_, a)| {
                let dims = list(at(a, &["Properties", "Dimensions"]));
                let on_queue = dims.iter().any(|d| {
                    text(d.get("Name")).as_deref() == Some("QueueName")
                        && d.get("Value").map(token) == Some(format!("GetAtt:{id}.QueueName"))
                });
                let ap = |k: &str| text(at(a, &["Properties", k]));
                on_queue
                    && ap("Namespace").as_deref() == Some("AWS/SQS")
                    && ap("MetricName").as_deref() == Some("ApproximateNumberOfMessagesVisible")
                    && ap("ComparisonOperator").as_deref() == Some("GreaterThanThreshold")
                    && number(at(a, &["Properties", "Threshold"])) == Some(0)
            });
            if !alarmed {
                problems.push(format!(
                    "{id}: dead-letter queue without a depth alarm (> 0)"
                ));
            }
            continue;
        }
        match p(&["RedrivePolicy"]) {
            None => problems.push(format!("{id}: no dead-letter queue (RedrivePolicy)")),
            Some(redrive) => {
                let count = number(redrive.get("maxReceiveCount"));
                if !count.is_some_and(|c| (1..=10).contains(&c)) {
                    problems.push(format!("{id}: maxReceiveCount {count:?} outside 1..=10"));
                }
                let dlq = redrive.get("deadLetterTargetArn").map(token);
                let dlq_id = dlq
                    .as_deref()
                    .and_then(|d| d.strip_prefix("GetAtt:"))
                    .and_then(|d| d.strip_suffix(".Arn"));
                if let Some(dlq_id) = dlq_id
                    && is_fifo(id) != is_fifo(dlq_id)
                {
                    problems.push(format!("{id}: its DLQ {dlq_id} must match its FIFO-ness"));
                }
            }
        }
    }
    // The inbound FIFO: per-group dedup ids set by the senders, high throughput per group.
    match resource(t, "InboundQueue") {
        None => problems.push("no InboundQueue".to_owned()),
        Some(q) => {
            for (key, want) in [
                ("FifoQueue", "true"),
                ("ContentBasedDeduplication", "false"),
                ("DeduplicationScope", "messageGroup"),
                ("FifoThroughputLimit", "perMessageGroupId"),
            ] {
                let found = text(at(q, &["Properties", key]));
                if found.as_deref() != Some(want) {
                    problems.push(format!("InboundQueue: {key} is {found:?}, expected {want}"));
                }
            }
        }
    }
    problems
}

fn check_event_sources(t: &Value) -> Vec<String> {
    let mut problems = vec![];
    for (id, f) in of_type(t, "AWS::Serverless::Function") {
        let timeout = number(function_property(t, f, "Timeout")).unwrap_or(3);
        let Some(Value::Mapping(events)) = at(f, &["Properties", "Events"]) else {
            continue;
        };
        for (name, event) in events {
            let name = text(Some(name)).unwrap_or_default();
            if text(event.get("Type")).as_deref() != Some("SQS") {
                continue;
            }
            let ep = |k: &str| at(event, &["Properties", k]);
            let types: Vec<String> = list(ep("FunctionResponseTypes"))
                .into_iter()
                .filter_map(|v| text(Some(v)))
                .collect();
            if types != ["ReportBatchItemFailures"] {
                problems.push(format!(
                    "{id}.{name}: FunctionResponseTypes {types:?}, expected [ReportBatchItemFailures]"
                ));
            }
            if at(
                event,
                &["Properties", "ScalingConfig", "MaximumConcurrency"],
            )
            .is_none()
            {
                problems.push(format!("{id}.{name}: no ScalingConfig.MaximumConcurrency"));
            }
            let queue = ep("Queue").map(token).unwrap_or_default();
            let Some(queue_id) = queue
                .strip_prefix("GetAtt:")
                .and_then(|q| q.strip_suffix(".Arn"))
            else {
                problems.push(format!(
                    "{id}.{name}: queue {queue} is not a queue of this stack"
                ));
                continue;
            };
            let q = resource(t, queue_id);
            let fifo = q
                .and_then(|q| text(at(q, &["Properties", "FifoQueue"])))
                .as_deref()
                == Some("true");
            let batch = number(ep("BatchSize")).unwrap_or(10);
            let most = if fifo { 10 } else { 10_000 };
            if !(1..=most).contains(&batch) {
                problems.push(format!("{id}.{name}: BatchSize {batch} outside 1..={most}"));
            }
            let window = number(ep("MaximumBatchingWindowInSeconds")).unwrap_or(0);
            if !fifo && batch > 10 && window == 0 {
                problems.push(format!(
                    "{id}.{name}: BatchSize > 10 needs a batching window"
                ));
            }
            let visibility = q
                .and_then(|q| number(at(q, &["Properties", "VisibilityTimeout"])))
                .unwrap_or(30);
            if visibility < 6 * timeout + window {
                problems.push(format!(
                    "{id}.{name}: {queue_id} VisibilityTimeout {visibility} < 6 x timeout {timeout} + window {window}"
                ));
            }
        }
    }
    problems
}

// ------------------------------------------------------------------------------------------------
// Secrets: only ever as <NAME>_ARN, from a parameter holding a Secrets Manager ARN.

const SECRETS: &[&str] = &[
    "WHATSAPP_APP_SECRET",
    "WHATSAPP_VERIFY_TOKEN",
    "WHATSAPP_ACCESS_TOKEN",
    "OUTREACH_KEY",
];

fn check_secrets(t: &Value) -> Vec<String> {
    let mut problems = vec![];
    let mut sets: Vec<(String, Vec<(String, String)>)> = of_type(t, "AWS::Serverless::Function")
        .into_iter()
        .map(|(id, f)| (id, environment(f)))
        .collect();
    sets.push((
        "Globals".to_owned(),
        variables(at(t, &["Globals", "Function", "Environment", "Variables"])),
    ));
    for (id, vars) in sets {
        for (name, value) in vars {
            if SECRETS.contains(&name.as_str()) {
                problems.push(format!("{id}: secret {name} as a plain variable"));
                continue;
            }
            let Some(secret) = name.strip_suffix("_ARN") else {
                continue;
            };
            if !SECRETS.contains(&secret) {
                continue;
            }
            let Some(parameter) = value.strip_prefix("Ref:") else {
                problems.push(format!("{id}: {name} is {value}, not a parameter"));
                continue;
            };
            let p = at(t, &["Parameters", parameter]);
            let pattern = p
                .and_then(|p| text(p.get("AllowedPattern")))
                .unwrap_or_default();
            if !pattern.contains(":secretsmanager:") {
                problems.push(format!("{id}: {name}'s parameter {parameter} is not constrained to a Secrets Manager ARN"));
            }
            if p.and_then(|p| p.get("Default")).is_some() {
                problems.push(format!(
                    "{id}: {name}'s parameter {parameter} has a default"
                ));
            }
        }
    }
    problems
}

// ------------------------------------------------------------------------------------------------
// Least privilege.

const LOGS: &[&str] = &["logs:CreateLogStream", "logs:PutLogEvents"];
/// Active tracing (X-Ray has no resource-level permissions: `*` is the only resource).
const XRAY: &[&str] = &["xray:PutTraceSegments", "xray:PutTelemetryRecords"];
/// The item actions (transactions are authorized per item); what each role really needs of them is
/// proven by tests/tests/iam_permissions.rs (OPS-1).
const DYNAMODB: &[&str] = &[
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:Query",
];
const TABLE: &str = "GetAtt:Table.Arn";
const INDEXES: &str = "Sub:${Table.Arn}/index/*";
const POLL: &[&str] = &[
    "sqs:ReceiveMessage",
    "sqs:DeleteMessage",
    "sqs:ChangeMessageVisibility",
    "sqs:GetQueueAttributes",
];
const SCHEDULES: &[&str] = &["scheduler:CreateSchedule", "scheduler:UpdateSchedule"];

type Grants = Vec<(&'static [&'static str], Vec<&'static str>)>;

/// What each function's role may allow: groups of actions with the resources they may name.
fn allow_list(role: &str) -> Grants {
    let log_group: &'static str = match role {
        "IngestRole" => "GetAtt:IngestLogGroup.Arn",
        "RouterRole" => "GetAtt:RouterLogGroup.Arn",
        "SenderRole" => "GetAtt:SenderLogGroup.Arn",
        "TimersRole" => "GetAtt:TimersLogGroup.Arn",
        "ConsoleRole" => "GetAtt:ConsoleLogGroup.Arn",
        "ProjectorRole" => "GetAtt:ProjectorLogGroup.Arn",
        "MediaRole" => "GetAtt:MediaLogGroup.Arn",
        "DelivererRole" => "GetAtt:DelivererLogGroup.Arn",
        _ => "",
    };
    let mut grants: Grants = vec![(LOGS, vec![log_group]), (XRAY, vec!["Literal:*"])];
    let send = &["sqs:SendMessage"][..];
    let read_secret = &["secretsmanager:GetSecretValue"][..];
    let (inbound, outbound, updates) = (
        "GetAtt:InboundQueue.Arn",
        "GetAtt:OutboundQueue.Arn",
        "GetAtt:UpdatesQueue.Arn",
    );
    match role {
        "IngestRole" => {
            grants.push((send, vec![inbound, updates]));
            grants.push((
                read_secret,
                vec!["Ref:WhatsAppAppSecretArn", "Ref:WhatsAppVerifyTokenArn"],
            ));
        }
        "RouterRole" => {
            grants.push((POLL, vec![inbound]));
            grants.push((send, vec![inbound, outbound]));
            // MEDIA-1: a fetch job per inbound media message.
            grants.push((send, vec!["GetAtt:MediaQueue.Arn"]));
            grants.push((DYNAMODB, vec![TABLE]));
            // Queue entries leave the queue (claim_queue_head, leave_queue).
            grants.push((&["dynamodb:DeleteItem"], vec![TABLE]));
            grants.push((
                SCHEDULES,
                vec![
                    "Sub:arn:${AWS::Partition}:scheduler:${AWS::Region}:${AWS::AccountId}:schedule/${TimerScheduleGroup}/*",
                ],
            ));
            grants.push((&["iam:PassRole"], vec!["GetAtt:TimerSchedulerRole.Arn"]));
            // OUT-8: the router verifies outreach button payloads.
            grants.push((read_secret, vec!["Ref:OutreachKeyArn"]));
        }
        "SenderRole" => {
            grants.push((POLL, vec![outbound, updates]));
            grants.push((send, vec![outbound, inbound]));
            grants.push((DYNAMODB, vec![TABLE]));
            // SendingStore::send_context: one BatchGetItem before each send.
            grants.push((&["dynamodb:BatchGetItem"], vec![TABLE]));
            grants.push((
                read_secret,
                vec!["Ref:WhatsAppAccessTokenArn", "Ref:OutreachKeyArn"],
            ));
        }
        "TimersRole" => {
            grants.push((send, vec![inbound, "GetAtt:TimerDeadLetterQueue.Arn"]));
        }
        "ConsoleRole" => {
            // Actions queue to inbound and outbound; OPS-4's redelivery sends a dead letter back
            // to its source queue, updates included.
            grants.push((
                send,
                vec![inbound, outbound, updates, "GetAtt:MediaQueue.Arn"],
            ));
            // OPS-4: the stack's DLQs listed (received, made visible again) and emptied on
            // redelivery.
            grants.push((
                POLL,
                vec![
                    "GetAtt:InboundDeadLetterQueue.Arn",
                    "GetAtt:UpdatesDeadLetterQueue.Arn",
                    "GetAtt:OutboundDeadLetterQueue.Arn",
                    "GetAtt:MediaDeadLetterQueue.Arn",
                    // The wake-ups Scheduler could not deliver (back to inbound as TimerFired).
                    "GetAtt:TimerDeadLetterQueue.Arn",
                ],
            ));
            grants.push((DYNAMODB, vec![TABLE]));
            // The inbox lists (search_contacts).
            grants.push((&["dynamodb:Query"], vec![INDEXES]));
            // Media (console::media on media::S3Store): records and files read and written
            // (multipart uploads aborted on a refused file), erasure's list and delete.
            grants.push((
                &[
                    "s3:GetObject",
                    "s3:PutObject",
                    "s3:AbortMultipartUpload",
                    "s3:DeleteObject",
                ],
                vec!["Sub:${MediaBucket.Arn}/*"],
            ));
            grants.push((&["s3:ListBucket"], vec!["GetAtt:MediaBucket.Arn"]));
            grants.push((
                read_secret,
                vec!["Ref:WhatsAppAccessTokenArn", "Ref:OutreachKeyArn"],
            ));
        }
        "ProjectorRole" => {
            // EVT-1: the stream's records in (the event source mapping), events out.
            grants.push((
                &[
                    "dynamodb:DescribeStream",
                    "dynamodb:GetRecords",
                    "dynamodb:GetShardIterator",
                ],
                vec!["GetAtt:Table.StreamArn"],
            ));
            // Listing a table's streams is authorized on its stream ARNs.
            grants.push((&["dynamodb:ListStreams"], vec!["Sub:${Table.Arn}/stream/*"]));
            grants.push((&["dynamodb:BatchWriteItem"], vec![TABLE]));
        }
        "MediaRole" => {
            // MEDIA-1: jobs in, retries back, a fetch given up noted through the contact's lane.
            grants.push((POLL, vec!["GetAtt:MediaQueue.Arn"]));
            grants.push((send, vec!["GetAtt:MediaQueue.Arn", inbound]));
            // Files and records written (multipart, aborted on a failed check), records read;
            // nothing deleted (the bucket's lifecycle rule and the console's erasure do that).
            grants.push((
                &["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"],
                vec!["Sub:${MediaBucket.Arn}/*"],
            ));
            grants.push((&["s3:ListBucket"], vec!["GetAtt:MediaBucket.Arn"]));
            grants.push((read_secret, vec!["Ref:WhatsAppAccessTokenArn"]));
        }
        "DelivererRole" => {
            // EVT-4: the event log and endpoints read, deliveries queued, retried, removed.
            grants.push((
                &[
                    "dynamodb:Query",
                    "dynamodb:GetItem",
                    "dynamodb:PutItem",
                    "dynamodb:DeleteItem",
                ],
                vec![TABLE],
            ));
        }
        _ => return vec![],
    }
    grants
}

fn check_least_privilege(t: &Value) -> Vec<String> {
    let mut problems = vec![];
    for (function, ..) in FUNCTIONS {
        let role = format!("{}Role", function.trim_end_matches("Function"));
        let grants = allow_list(&role);
        let permissions = role_permissions(t, &role);
        if permissions.is_empty() {
            problems.push(format!("{role}: no inline policy"));
        }
        for (action, resource) in &permissions {
            let allowed = grants.iter().any(|(actions, resources)| {
                actions.contains(&action.as_str()) && resources.contains(&resource.as_str())
            });
            if !allowed {
                problems.push(format!(
                    "{role}: {action} on {resource} is not on its allow-list"
                ));
            }
        }
        if let Some(r) = resource(t, &role) {
            if at(r, &["Properties", "ManagedPolicyArns"]).is_some() {
                problems.push(format!("{role}: managed policies"));
            }
            let principals: Vec<String> = list(at(
                r,
                &["Properties", "AssumeRolePolicyDocument", "Statement"],
            ))
            .into_iter()
            .flat_map(|s| list(at(s, &["Principal", "Service"])))
            .filter_map(|p| text(Some(p)))
            .collect();
            if principals != ["lambda.amazonaws.com"] {
                problems.push(format!("{role}: assumed by {principals:?}"));
            }
        }
        // PassRole only to Scheduler.
        for statement in resource(t, &role)
            .map(|r| list(at(r, &["Properties", "Policies"])))
            .unwrap_or_default()
            .into_iter()
            .flat_map(|p| list(at(p, &["PolicyDocument", "Statement"])))
        {
            let passes = list(statement.get("Action"))
                .into_iter()
                .any(|a| text(Some(a)).as_deref() == Some("iam:PassRole"));
            let condition = text(at(
                statement,
                &["Condition", "StringEquals", "iam:PassedToService"],
            ));
            if passes && condition.as_deref() != Some("scheduler.amazonaws.com") {
                problems.push(format!(
                    "{role}: iam:PassRole without iam:PassedToService scheduler"
                ));
            }
        }
        // What it uses, it may do: each secret variable readable, each consumed queue polled.
        let Some(f) = resource(t, function) else {
            continue;
        };
        let may = |action: &str, resource: &str| {
            permissions
                .iter()
                .any(|(a, r)| a == action && r == resource)
        };
        for (name, value) in environment(f) {
            let secret = name
                .strip_suffix("_ARN")
                .is_some_and(|s| SECRETS.contains(&s));
            if secret && !may("secretsmanager:GetSecretValue", &value) {
                problems.push(format!("{role}: cannot read {name} ({value})"));
            }
        }
        if let Some(Value::Mapping(events)) = at(f, &["Properties", "Events"]) {
            for event in events.values() {
                if text(event.get("Type")).as_deref() != Some("SQS") {
                    continue;
                }
                let queue = at(event, &["Properties", "Queue"])
                    .map(token)
                    .unwrap_or_default();
                for action in POLL {
                    if !may(action, &queue) {
                        problems.push(format!("{role}: cannot {action} on {queue}"));
                    }
                }
            }
        }
    }
    problems
}

fn check_scheduler_role(t: &Value) -> Vec<String> {
    let mut problems = vec![];
    let permissions: BTreeSet<(String, String)> = role_permissions(t, "TimerSchedulerRole")
        .into_iter()
        .collect();
    let expected: BTreeSet<(String, String)> = [
        ("lambda:InvokeFunction", "GetAtt:TimersFunction.Arn"),
        ("sqs:SendMessage", "GetAtt:TimerDeadLetterQueue.Arn"),
    ]
    .into_iter()
    .map(|(a, r)| (a.to_owned(), r.to_owned()))
    .collect();
    if permissions != expected {
        problems.push(format!(
            "TimerSchedulerRole allows {permissions:?}, expected exactly {expected:?}"
        ));
    }
    let role = resource(t, "TimerSchedulerRole");
    if role
        .and_then(|r| at(r, &["Properties", "ManagedPolicyArns"]))
        .is_some()
    {
        problems.push("TimerSchedulerRole: managed policies".to_owned());
    }
    let principals: Vec<String> = role
        .map(|r| {
            list(at(
                r,
                &["Properties", "AssumeRolePolicyDocument", "Statement"],
            ))
        })
        .unwrap_or_default()
        .into_iter()
        .flat_map(|s| list(at(s, &["Principal", "Service"])))
        .filter_map(|p| text(Some(p)))
        .collect();
    if principals != ["scheduler.amazonaws.com"] {
        problems.push(format!("TimerSchedulerRole: assumed by {principals:?}"));
    }
    // The router arms schedules with exactly these (timers::SchedulerConfig reads them).
    let router: BTreeMap<String, String> = resource(t, "RouterFunction")
        .map(environment)
        .unwrap_or_default()
        .into_iter()
        .collect();
    for (name, want) in [
        (timers::SchedulerConfig::GROUP, "Ref:TimerScheduleGroup"),
        (
            timers::SchedulerConfig::TARGET_ARN,
            "GetAtt:TimersFunction.Arn",
        ),
        (
            timers::SchedulerConfig::ROLE_ARN,
            "GetAtt:TimerSchedulerRole.Arn",
        ),
        (
            timers::SchedulerConfig::DEAD_LETTER_ARN,
            "GetAtt:TimerDeadLetterQueue.Arn",
        ),
    ] {
        if router.get(name).map(String::as_str) != Some(want) {
            problems.push(format!(
                "RouterFunction: {name} is {:?}, expected {want}",
                router.get(name)
            ));
        }
    }
    problems
}

fn check_http_api(t: &Value) -> Vec<String> {
    let mut problems = vec![];
    let mut routes = BTreeMap::new();
    for (id, f) in of_type(t, "AWS::Serverless::Function") {
        if let Some(Value::Mapping(events)) = at(f, &["Properties", "Events"]) {
            for event in events.values() {
                if text(event.get("Type")).as_deref() != Some("HttpApi") {
                    continue;
                }
                let ep = |k: &[&str]| text(at(event, &[&["Properties"], k].concat()));
                routes.insert(
                    format!(
                        "{} {}",
                        ep(&["Method"]).unwrap_or_default(),
                        ep(&["Path"]).unwrap_or_default()
                    ),
                    (id.clone(), ep(&["Auth", "Authorizer"]).unwrap_or_default()),
                );
            }
        }
    }
    let expected: BTreeMap<String, (String, String)> = [
        ("GET /webhook", "IngestFunction", "NONE"),
        ("POST /webhook", "IngestFunction", "NONE"),
        ("ANY /v1/{proxy+}", "ConsoleFunction", "ConsoleJwt"),
        // EVT-5: integration tokens only (the console checks them; no JWT authorizer).
        ("ANY /v1/integration/{proxy+}", "ConsoleFunction", "NONE"),
    ]
    .into_iter()
    .map(|(r, f, a)| (r.to_owned(), (f.to_owned(), a.to_owned())))
    .collect();
    if routes != expected {
        problems.push(format!("routes {routes:?}, expected {expected:?}"));
    }
    let jwt = resource(t, "HttpApi").and_then(|a| {
        at(
            a,
            &[
                "Properties",
                "Auth",
                "Authorizers",
                "ConsoleJwt",
                "JwtConfiguration",
            ],
        )
    });
    // DESK-1: the stack's user pool and the desk's client, unless JwtIssuer is given: issuer and
    // audience under the one condition.
    let issuer = jwt.and_then(|j| j.get("issuer"));
    let audience = jwt.and_then(|j| j.get("audience"));
    let want_issuer = yaml(
        r#"!If [CreateUserPool, !Sub "https://cognito-idp.${AWS::Region}.${AWS::URLSuffix}/${DeskUserPool}", !Ref JwtIssuer]"#,
    );
    let want_audience = yaml("!If [CreateUserPool, [!Ref DeskUserPoolClient], !Ref JwtAudience]");
    if issuer != Some(&want_issuer) || audience != Some(&want_audience) {
        problems.push(format!(
            "JWT issuer {issuer:?} / audience {audience:?} are not the stack's user pool and desk client under CreateUserPool, else the parameters"
        ));
    }
    problems
}

/// A YAML snippet in the template's long form (`!If` → `Fn::If`).
fn yaml(text: &str) -> Value {
    long_form(serde_norway::from_str(text).expect("YAML"))
}

// ------------------------------------------------------------------------------------------------
// OPS-2: alarms that reach someone, and tracing.

/// What every alarm notifies: the given topic, else the stack's own.
fn alarm_target() -> Value {
    long_form(
        serde_norway::from_str("!If [HasAlarmTopic, !Ref AlarmTopicArn, !Ref AlarmTopic]")
            .expect("YAML"),
    )
}

/// An alarm's metric: (namespace, metric, dimension name and value token, if any).
type AlarmedMetric = (String, String, Option<(String, String)>);

/// Every alarm OPS-2 asks for.
fn required_alarms() -> Vec<AlarmedMetric> {
    let dim = |n: &str, v: &str| Some((n.to_owned(), v.to_owned()));
    let mut out = vec![(
        "AWS/SQS".to_owned(),
        "ApproximateAgeOfOldestMessage".to_owned(),
        dim("QueueName", "GetAtt:InboundQueue.QueueName"),
    )];
    for (id, ..) in FUNCTIONS {
        for metric in ["Errors", "Throttles"] {
            out.push((
                "AWS/Lambda".to_owned(),
                metric.to_owned(),
                dim("FunctionName", &format!("Ref:{id}")),
            ));
        }
    }
    for metric in ["5xx", "Latency"] {
        out.push((
            "AWS/ApiGateway".to_owned(),
            metric.to_owned(),
            dim("ApiId", "Ref:HttpApi"),
        ));
    }
    // The sender's SEND-2 alert, as it emits it (no dimension: one series for every number).
    out.push((
        sender::alerts::NAMESPACE.to_owned(),
        sender::alerts::METRIC.to_owned(),
        None,
    ));
    out
}

fn check_alarms(t: &Value) -> Vec<String> {
    let mut problems = vec![];
    let alarms = of_type(t, "AWS::CloudWatch::Alarm");
    for (namespace, metric, dimension) in required_alarms() {
        let found = alarms.iter().any(|(_, a)| {
            let ap = |k: &str| text(at(a, &["Properties", k]));
            let dims: Vec<(String, String)> = list(at(a, &["Properties", "Dimensions"]))
                .into_iter()
                .map(|d| {
                    (
                        text(d.get("Name")).unwrap_or_default(),
                        d.get("Value").map(token).unwrap_or_default(),
                    )
                })
                .collect();
            let on = match &dimension {
                Some(d) => dims.contains(d),
                None => dims.is_empty(),
            };
            ap("Namespace").as_deref() == Some(namespace.as_str())
                && ap("MetricName").as_deref() == Some(metric.as_str())
                && ap("ComparisonOperator").as_deref() == Some("GreaterThanThreshold")
                && on
        });
        if !found {
            problems.push(format!(
                "no alarm on {namespace} {metric} {dimension:?} (OPS-2)"
            ));
        }
    }
    let target = alarm_target();
    for (id, a) in &alarms {
        let actions = list(at(a, &["Properties", "AlarmActions"]));
        if actions != [&target] {
            problems.push(format!(
                "{id}: AlarmActions {actions:?}, expected [{target:?}]"
            ));
        }
    }
    // The stack's own topic unless one is given, with an optional email subscription.
    let condition = |id: &str| resource(t, id).and_then(|r| text(r.get("Condition")));
    let kind = |id: &str| resource(t, id).and_then(|r| text(r.get("Type")));
    if kind("AlarmTopic").as_deref() != Some("AWS::SNS::Topic")
        || condition("AlarmTopic").as_deref() != Some("CreateAlarmTopic")
    {
        problems.push("AlarmTopic: not an SNS topic created under CreateAlarmTopic".to_owned());
    }
    let create: Value =
        long_form(serde_norway::from_str("!Equals [!Ref AlarmTopicArn, \"\"]").expect("YAML"));
    if at(t, &["Conditions", "CreateAlarmTopic"]) != Some(&create) {
        problems.push("CreateAlarmTopic: not \"AlarmTopicArn is empty\"".to_owned());
    }
    let subscription = resource(t, "AlarmEmailSubscription");
    let sp = |k: &str| subscription.and_then(|s| at(s, &["Properties", k]));
    if kind("AlarmEmailSubscription").as_deref() != Some("AWS::SNS::Subscription")
        || condition("AlarmEmailSubscription").as_deref() != Some("SubscribeAlarmEmail")
        || text(sp("Protocol")).as_deref() != Some("email")
        || sp("Endpoint").map(token).as_deref() != Some("Ref:AlarmEmail")
        || sp("TopicArn").map(token).as_deref() != Some("Ref:AlarmTopic")
    {
        problems.push(
            "AlarmEmailSubscription: not an email subscription of AlarmTopic to AlarmEmail"
                .to_owned(),
        );
    }
    if at(t, &["Parameters", "AlarmEmail", "Default"]).and_then(|d| text(Some(d)))
        != Some(String::new())
    {
        problems.push("AlarmEmail: must be optional (default empty)".to_owned());
    }
    // X-Ray: every function traced.
    for (id, f) in of_type(t, "AWS::Serverless::Function") {
        let tracing = text(function_property(t, f, "Tracing"));
        if tracing.as_deref() != Some("Active") {
            problems.push(format!("{id}: Tracing is {tracing:?}, expected Active"));
        }
    }
    problems
}

// ------------------------------------------------------------------------------------------------
// Limits at the front door: route throttles, CORS, reserved concurrency.

/// The `RouteSettings` of the HTTP API event serving `method path`.
fn route_settings<'a>(t: &'a Value, method: &str, path: &str) -> Option<&'a Value> {
    of_type(t, "AWS::Serverless::Function")
        .into_iter()
        .filter_map(|(_, f)| match at(f, &["Properties", "Events"]) {
            Some(Value::Mapping(events)) => Some(events.values()),
            _ => None,
        })
        .flatten()
        .find(|e| {
            text(e.get("Type")).as_deref() == Some("HttpApi")
                && text(at(e, &["Properties", "Method"])).as_deref() == Some(method)
                && text(at(e, &["Properties", "Path"])).as_deref() == Some(path)
        })
        .and_then(|e| at(e, &["Properties", "RouteSettings"]))
}

fn check_front_door(t: &Value) -> Vec<String> {
    let mut problems = vec![];
    let limits = |settings: Option<&Value>| {
        (
            settings
                .and_then(|s| s.get("ThrottlingRateLimit"))
                .map(token),
            settings
                .and_then(|s| s.get("ThrottlingBurstLimit"))
                .map(token),
        )
    };
    let some = |s: &str| Some(s.to_owned());
    // Meta's deliveries and the console throttled apart, each by its own parameters.
    for (route, method, path, rate, burst) in [
        (
            "the webhook",
            "POST",
            "/webhook",
            "Ref:WebhookRateLimit",
            "Ref:WebhookBurstLimit",
        ),
        (
            "the console",
            "ANY",
            "/v1/{proxy+}",
            "Ref:ConsoleRateLimit",
            "Ref:ConsoleBurstLimit",
        ),
        (
            "the integrations' console",
            "ANY",
            "/v1/integration/{proxy+}",
            "Ref:ConsoleRateLimit",
            "Ref:ConsoleBurstLimit",
        ),
    ] {
        let found = limits(route_settings(t, method, path));
        if found != (some(rate), some(burst)) {
            problems.push(format!(
                "{route} ({method} {path}) is throttled by {found:?}, expected ({rate}, {burst})"
            ));
        }
    }
    let (rate, burst) = limits(route_settings(t, "GET", "/webhook"));
    if rate.is_none() || burst.is_none() {
        problems.push("the handshake (GET /webhook) has no throttle".to_owned());
    }
    let api = resource(t, "HttpApi");
    let default = limits(api.and_then(|a| at(a, &["Properties", "DefaultRouteSettings"])));
    if default.0.is_none() || default.1.is_none() {
        problems.push("HttpApi: no DefaultRouteSettings throttle".to_owned());
    }
    // CORS only from the desk (DESK-1: it calls the API from its distribution's origin) and the
    // configured origins, without credentials.
    let cors = api.and_then(|a| at(a, &["Properties", "CorsConfiguration"]));
    let desk_origins = yaml(
        r#"!If [HasAllowedOrigins, !Split [",", !Join [",", [!Sub "https://${DeskDistribution.DomainName}", !Join [",", !Ref AllowedOrigins]]]], [!Sub "https://${DeskDistribution.DomainName}"]]"#,
    );
    match cors {
        Some(config @ Value::Mapping(_)) => {
            if config.get("AllowOrigins") != Some(&desk_origins) {
                problems.push(
                    "CORS: AllowOrigins is not the desk's origin and the AllowedOrigins parameter"
                        .to_owned(),
                );
            }
            if text(config.get("AllowCredentials")).as_deref() == Some("true") {
                problems.push("CORS: AllowCredentials (the console uses bearer tokens)".to_owned());
            }
            let headers: Vec<String> = list(config.get("AllowHeaders"))
                .into_iter()
                .filter_map(|h| text(Some(h)))
                .collect();
            if !headers.iter().any(|h| h.eq_ignore_ascii_case("authorization")) {
                problems.push("CORS: the Authorization header is not allowed".to_owned());
            }
        }
        _ => problems.push(format!(
            "HttpApi: CorsConfiguration is {cors:?}, expected the desk's and AllowedOrigins' origins"
        )),
    }
    if text(at(t, &["Parameters", "AllowedOrigins", "Type"])).as_deref()
        != Some("CommaDelimitedList")
    {
        problems.push("AllowedOrigins: not a CommaDelimitedList parameter".to_owned());
    }
    // The webhook's acknowledgements keep their own concurrency.
    let reserved = resource(t, "IngestFunction")
        .and_then(|f| at(f, &["Properties", "ReservedConcurrentExecutions"]))
        .map(|r| {
            list(r.get("Fn::If"))
                .into_iter()
                .map(token)
                .collect::<Vec<_>>()
        });
    let want: Vec<String> = [
        "Literal:ReserveIngestConcurrency",
        "Ref:IngestReservedConcurrency",
        "Ref:AWS::NoValue",
    ]
    .map(str::to_owned)
    .to_vec();
    if reserved.as_ref() != Some(&want) {
        problems.push(format!(
            "IngestFunction: ReservedConcurrentExecutions is {reserved:?}, expected {want:?}"
        ));
    }
    problems
}

// ------------------------------------------------------------------------------------------------
// DESK-1: the desk on AWS. Its files in a private bucket that only its CloudFront distribution
// reads (origin access control), with the headers switchboard serve sends; people sign in with
// OIDC code + PKCE at the stack's user pool unless JwtIssuer is given.

fn check_desk(t: &Value) -> Vec<String> {
    let mut problems = vec![];
    let prop = |id: &str, path: &[&str]| {
        resource(t, id).and_then(|r| at(r, &[&["Properties"], path].concat()))
    };
    let is_true = |v: Option<&Value>| text(v).as_deref() == Some("true");
    for block in [
        "BlockPublicAcls",
        "BlockPublicPolicy",
        "IgnorePublicAcls",
        "RestrictPublicBuckets",
    ] {
        if !is_true(prop(
            "DeskBucket",
            &["PublicAccessBlockConfiguration", block],
        )) {
            problems.push(format!(
                "DeskBucket: {block} is not on (the bucket is private)"
            ));
        }
    }
    // Only the distribution reads, only objects; TLS only.
    let statements = list(prop("DeskBucketPolicy", &["PolicyDocument", "Statement"]));
    let allows: Vec<&&Value> = statements
        .iter()
        .filter(|s| text(s.get("Effect")).as_deref() == Some("Allow"))
        .collect();
    let reader_ok = match allows.as_slice() {
        [allow] => {
            text(at(allow, &["Principal", "Service"])).as_deref()
                == Some("cloudfront.amazonaws.com")
                && list(allow.get("Action"))
                    .iter()
                    .map(|a| token(a))
                    .collect::<Vec<_>>()
                    == ["Literal:s3:GetObject"]
                && at(allow, &["Condition", "StringEquals", "AWS:SourceArn"])
                    .map(token)
                    .is_some_and(|arn| arn.ends_with(":distribution/${DeskDistribution}"))
        }
        _ => false,
    };
    if !reader_ok {
        problems.push(
            "DeskBucketPolicy: not exactly one Allow, s3:GetObject to cloudfront.amazonaws.com for DeskDistribution"
                .to_owned(),
        );
    }
    if !statements.iter().any(|s| {
        text(s.get("Effect")).as_deref() == Some("Deny")
            && text(at(s, &["Condition", "Bool", "aws:SecureTransport"])).as_deref()
                == Some("false")
    }) {
        problems.push("DeskBucketPolicy: no TLS-only deny".to_owned());
    }
    let config = |path: &[&str]| {
        prop(
            "DeskDistribution",
            &[&["DistributionConfig"], path].concat(),
        )
    };
    let origins = list(config(&["Origins"]));
    if !origins.iter().any(|o| {
        o.get("DomainName").map(token).as_deref() == Some("GetAtt:DeskBucket.RegionalDomainName")
            && o.get("OriginAccessControlId").map(token).as_deref()
                == Some("GetAtt:DeskOriginAccessControl.Id")
    }) {
        problems.push(
            "DeskDistribution: the bucket is not its origin through DeskOriginAccessControl"
                .to_owned(),
        );
    }
    if text(config(&["DefaultRootObject"])).as_deref() != Some("index.html") {
        problems.push("DeskDistribution: DefaultRootObject is not index.html".to_owned());
    }
    let behaviour = |key: &str| config(&["DefaultCacheBehavior", key]);
    if !matches!(
        text(behaviour("ViewerProtocolPolicy")).as_deref(),
        Some("redirect-to-https" | "https-only")
    ) {
        problems.push("DeskDistribution: plain HTTP is served".to_owned());
    }
    if behaviour("ResponseHeadersPolicyId").map(token).as_deref() != Some("Ref:DeskHeaders") {
        problems.push("DeskDistribution: not served with DeskHeaders".to_owned());
    }
    // The same policy as switchboard serve's, the API, the media bucket (MEDIA-3: the desk
    // PUTs large files to S3's presigned URLs) and the token endpoint added to connect-src.
    let want_csp = switchboard_local::desk::CONTENT_SECURITY_POLICY.replace(
        "connect-src 'self'",
        "connect-src 'self' https://*.execute-api.${AWS::Region}.${AWS::URLSuffix} https://*.s3.${AWS::Region}.${AWS::URLSuffix} ${TokenUrl}",
    );
    // MEDIA-3: the media bucket takes only PUTs, only from the desk's origins.
    let rules = list(prop("MediaBucket", &["CorsConfiguration", "CorsRules"]));
    let desk_origins = yaml(
        r#"!If [HasAllowedOrigins, !Split [",", !Join [",", [!Sub "https://${DeskDistribution.DomainName}", !Join [",", !Ref AllowedOrigins]]]], [!Sub "https://${DeskDistribution.DomainName}"]]"#,
    );
    let cors_ok = match rules.as_slice() {
        [rule] => {
            list(rule.get("AllowedMethods"))
                .iter()
                .filter_map(|m| text(Some(m)))
                .collect::<Vec<_>>()
                == ["PUT"]
                && rule.get("AllowedOrigins") == Some(&desk_origins)
        }
        _ => false,
    };
    if !cors_ok {
        problems.push(format!(
            "MediaBucket: CORS is {rules:?}, expected one rule: PUT from the desk's origins"
        ));
    }
    let csp = prop(
        "DeskHeaders",
        &[
            "ResponseHeadersPolicyConfig",
            "SecurityHeadersConfig",
            "ContentSecurityPolicy",
            "ContentSecurityPolicy",
        ],
    )
    .and_then(|c| list(c.get("Fn::Sub")).first().and_then(|s| text(Some(s))));
    if csp.as_deref() != Some(want_csp.as_str()) {
        problems.push(format!(
            "DeskHeaders: Content-Security-Policy {csp:?} is not switchboard serve's with the API and token endpoint ({want_csp:?})"
        ));
    }
    // The pool and the desk's client exist exactly when no issuer is given.
    for id in ["DeskUserPool", "DeskUserPoolDomain", "DeskUserPoolClient"] {
        if resource(t, id)
            .and_then(|r| text(r.get("Condition")))
            .as_deref()
            != Some("CreateUserPool")
        {
            problems.push(format!("{id}: not under the CreateUserPool condition"));
        }
    }
    if !is_true(prop(
        "DeskUserPool",
        &["AdminCreateUserConfig", "AllowAdminCreateUserOnly"],
    )) {
        problems.push("DeskUserPool: anyone may sign up".to_owned());
    }
    let client = |key: &str| prop("DeskUserPoolClient", &[key]);
    let words = |v: Option<&Value>| -> Vec<String> { list(v).into_iter().map(token).collect() };
    if text(client("GenerateSecret")).as_deref() != Some("false")
        || words(client("AllowedOAuthFlows")) != ["Literal:code"]
        || !is_true(client("AllowedOAuthFlowsUserPoolClient"))
    {
        problems.push(
            "DeskUserPoolClient: not a public client of the authorization code flow only"
                .to_owned(),
        );
    }
    if words(client("CallbackURLs")) != ["Sub:https://${DeskDistribution.DomainName}/"] {
        problems.push("DeskUserPoolClient: the callback is not the desk's address".to_owned());
    }
    if words(client("WriteAttributes"))
        .iter()
        .any(|a| a.contains("custom:role"))
    {
        problems.push("DeskUserPoolClient: users may write their own custom:role".to_owned());
    }
    // The role claim's default is the stack's user pool's attribute.
    let role_claim = resource(t, "ConsoleFunction")
        .and_then(|f| {
            at(
                f,
                &[
                    "Properties",
                    "Environment",
                    "Variables",
                    "CONSOLE_ROLE_CLAIM",
                ],
            )
        })
        .map(token);
    let default = text(at(t, &["Parameters", "ConsoleRoleClaim", "Default"]));
    if role_claim.as_deref() != Some("Ref:ConsoleRoleClaim")
        || default.as_deref() != Some("custom:role")
    {
        problems.push(format!(
            "ConsoleFunction: CONSOLE_ROLE_CLAIM is {role_claim:?} (ConsoleRoleClaim defaults to {default:?}), not the parameter defaulting to the user pool's custom:role"
        ));
    }
    // What scripts/deploy-desk writes as the desk's config.json.
    let desk_config = at(t, &["Outputs", "DeskConfig", "Value", "Fn::Sub"])
        .and_then(|s| list(Some(s)).first().and_then(|s| text(Some(s))));
    for part in [
        r#""auth":"oidc""#,
        r#""client_id":"${ClientId}""#,
        r#""token_endpoint":"${TokenUrl}""#,
        r#""redirect_uri":"https://${DeskDistribution.DomainName}/""#,
        r#""api":"https://${HttpApi}.execute-api."#,
    ] {
        if !desk_config.as_deref().is_some_and(|c| c.contains(part)) {
            problems.push(format!("Outputs.DeskConfig: no {part}"));
        }
    }
    problems
}

/// EVT-4 on AWS: the deliverer runs on a schedule, one pass at a time (a second concurrent pass
/// would deliver a lane's events side by side).
fn check_deliverer(t: &Value) -> Vec<String> {
    let mut problems = vec![];
    let Some(f) = resource(t, "DelivererFunction") else {
        return vec!["no DelivererFunction".to_owned()];
    };
    let reserved = number(at(f, &["Properties", "ReservedConcurrentExecutions"]));
    if reserved != Some(1) {
        problems.push(format!(
            "DelivererFunction: ReservedConcurrentExecutions {reserved:?}, expected 1"
        ));
    }
    let schedules: Vec<String> = match at(f, &["Properties", "Events"]) {
        Some(Value::Mapping(events)) => events
            .values()
            .filter(|e| text(e.get("Type")).as_deref() == Some("Schedule"))
            .filter_map(|e| text(at(e, &["Properties", "Schedule"])))
            .collect(),
        _ => vec![],
    };
    if schedules != ["rate(1 minute)"] {
        problems.push(format!(
            "DelivererFunction: schedules {schedules:?}, expected [rate(1 minute)]"
        ));
    }
    problems
}

fn all_problems(t: &Value) -> Vec<String> {
    [
        check_desk(t),
        check_deliverer(t),
        check_alarms(t),
        check_front_door(t),
        check_functions(t),
        check_table(t),
        check_queues(t),
        check_event_sources(t),
        check_secrets(t),
        check_least_privilege(t),
        check_scheduler_role(t),
        check_http_api(t),
    ]
    .concat()
}

// ------------------------------------------------------------------------------------------------

#[test]
fn the_template_matches_the_code() {
    let problems = all_problems(&template());
    assert!(
        problems.is_empty(),
        "infra/template.yaml:\n  {}",
        problems.join("\n  ")
    );
}

#[test]
fn the_ingest_function_gets_the_variables_its_config_reads() {
    let t = template();
    let env: BTreeMap<String, String> = environment(resource(&t, "IngestFunction").unwrap())
        .into_iter()
        .collect();
    for name in [
        ingest::Config::INBOUND_QUEUE_URL,
        ingest::Config::UPDATES_QUEUE_URL,
    ] {
        assert!(env.contains_key(name), "{name} missing: {env:?}");
    }
    for secret in [ingest::Config::APP_SECRET, ingest::Config::VERIFY_TOKEN] {
        assert!(
            env.contains_key(&format!("{secret}_ARN")),
            "{secret}_ARN missing"
        );
        assert!(!env.contains_key(secret), "{secret} is plain");
    }
    let timers: Vec<String> = environment(resource(&t, "TimersFunction").unwrap())
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert!(timers.contains(&timers_lambda::Config::INBOUND_QUEUE_URL.to_owned()));
}

// Mutation tests: each check catches the drift it exists for.

fn mutated(edit: impl FnOnce(&mut Value)) -> Vec<String> {
    let mut t = template();
    edit(&mut t);
    all_problems(&t)
}

/// The value at `path` ("Resources/Table/Properties").
fn path_mut<'a>(v: &'a mut Value, path: &str) -> &'a mut Value {
    path.split('/').fold(v, |v, k| {
        v.get_mut(k).unwrap_or_else(|| panic!("no {k} in {path}"))
    })
}

fn assert_caught(problems: Vec<String>, needle: &str) {
    assert!(
        problems.iter().any(|p| p.contains(needle)),
        "expected a problem mentioning {needle:?}, got {problems:?}"
    );
}

#[test]
fn table_drift_is_caught() {
    assert_caught(
        mutated(|t| {
            let attrs = path_mut(t, "Resources/Table/Properties/AttributeDefinitions");
            attrs.as_sequence_mut().unwrap()[2]["AttributeType"] = "N".into();
        }),
        "table attributes",
    );
    assert_caught(
        mutated(|t| {
            *path_mut(
                t,
                "Resources/Table/Properties/TimeToLiveSpecification/AttributeName",
            ) = "ttl".into();
        }),
        "TTL attribute",
    );
    assert_caught(
        mutated(|t| {
            let gsis = path_mut(t, "Resources/Table/Properties/GlobalSecondaryIndexes");
            gsis.as_sequence_mut().unwrap().pop();
        }),
        "global secondary indexes",
    );
    assert_caught(
        mutated(|t| {
            *path_mut(t, "Resources/Table/Properties/BillingMode") = "PROVISIONED".into();
        }),
        "billing mode",
    );
}

#[test]
fn function_drift_is_caught() {
    assert_caught(
        mutated(|t| {
            *path_mut(
                t,
                "Resources/IngestFunction/Metadata/BuildProperties/Binary",
            ) = "webhook".into();
        }),
        "Binary",
    );
    assert_caught(
        mutated(|t| {
            let props = path_mut(t, "Resources/TimersFunction/Properties");
            props["Architectures"] = Value::Sequence(vec!["x86_64".into()]);
        }),
        "Architectures",
    );
    assert_caught(
        mutated(|t| {
            *path_mut(
                t,
                "Resources/IngestFunction/Properties/LoggingConfig/LogFormat",
            ) = "Text".into();
        }),
        "LogFormat",
    );
    // The binary must be declared by the package CodeUri points at.
    assert!(declares_bin(&repo().join("functions/timers"), "timers").is_ok());
    assert!(declares_bin(&repo().join("functions/timers"), "timers-lambda").is_err());
}

#[test]
fn queue_and_event_source_drift_is_caught() {
    assert_caught(
        mutated(|t| {
            let props = path_mut(t, "Resources/UpdatesQueue/Properties");
            props.as_mapping_mut().unwrap().remove("RedrivePolicy");
        }),
        "UpdatesQueue: no dead-letter queue",
    );
    assert_caught(
        mutated(|t| {
            t["Resources"]
                .as_mapping_mut()
                .unwrap()
                .remove("OutboundDeadLetterAlarm");
        }),
        "OutboundDeadLetterQueue: dead-letter queue without a depth alarm",
    );
    assert_caught(
        mutated(|t| {
            let event = path_mut(
                t,
                "Resources/RouterFunction/Properties/Events/Inbound/Properties",
            );
            event["FunctionResponseTypes"] = Value::Sequence(vec!["ReportBatchItemFailure".into()]);
        }),
        "FunctionResponseTypes",
    );
    assert_caught(
        mutated(|t| {
            *path_mut(t, "Resources/InboundQueue/Properties/VisibilityTimeout") = 60.into();
        }),
        "VisibilityTimeout 60",
    );
    assert_caught(
        mutated(|t| {
            *path_mut(
                t,
                "Resources/InboundQueue/Properties/ContentBasedDeduplication",
            ) = true.into();
        }),
        "ContentBasedDeduplication",
    );
}

#[test]
fn a_plain_secret_is_caught() {
    assert_caught(
        mutated(|t| {
            let vars = path_mut(
                t,
                "Resources/SenderFunction/Properties/Environment/Variables",
            );
            vars["WHATSAPP_ACCESS_TOKEN"] = "EAAG-in-the-template".into();
        }),
        "secret WHATSAPP_ACCESS_TOKEN as a plain variable",
    );
    assert_caught(
        mutated(|t| {
            let vars = path_mut(
                t,
                "Resources/IngestFunction/Properties/Environment/Variables",
            );
            vars["WHATSAPP_APP_SECRET_ARN"] = "arn:aws:secretsmanager:us-east-1:1:secret:x".into();
        }),
        "not a parameter",
    );
}

#[test]
fn privilege_creep_is_caught() {
    let add = |role: &'static str, action: &'static str, resource: Value| {
        mutated(move |t| {
            let policies = path_mut(t, &format!("Resources/{role}/Properties/Policies"));
            let statements = policies.as_sequence_mut().unwrap()[0]["PolicyDocument"]["Statement"]
                .as_sequence_mut()
                .unwrap();
            let mut s = Mapping::new();
            s.insert("Effect".into(), "Allow".into());
            s.insert("Action".into(), action.into());
            s.insert("Resource".into(), resource);
            statements.push(Value::Mapping(s));
        })
    };
    assert_caught(
        add("IngestRole", "dynamodb:PutItem", "*".into()),
        "IngestRole: dynamodb:PutItem on Literal:*",
    );
    assert_caught(
        add(
            "TimersRole",
            "sqs:SendMessage",
            long_form(serde_norway::from_str("!GetAtt OutboundQueue.Arn").unwrap()),
        ),
        "TimersRole: sqs:SendMessage on GetAtt:OutboundQueue.Arn",
    );
    assert_caught(
        add(
            "TimerSchedulerRole",
            "lambda:InvokeFunction",
            long_form(serde_norway::from_str("!GetAtt RouterFunction.Arn").unwrap()),
        ),
        "TimerSchedulerRole allows",
    );
    assert_caught(
        mutated(|t| {
            let props = path_mut(t, "Resources/ConsoleFunction/Properties");
            props["Policies"] = Value::Sequence(vec!["AmazonDynamoDBFullAccess".into()]);
        }),
        "has SAM Policies",
    );
}

#[test]
fn ops_2_missing_alarms_topic_and_tracing_are_caught() {
    for alarm in [
        "InboundQueueAgeAlarm",
        "SenderErrorsAlarm",
        "TimersThrottlesAlarm",
        "Api5xxAlarm",
        "ApiLatencyAlarm",
        "SendingStoppedAlarm",
    ] {
        let problems = mutated(|t| {
            t["Resources"].as_mapping_mut().unwrap().remove(alarm);
        });
        assert!(
            problems.iter().any(|p| p.starts_with("no alarm on")),
            "{alarm}: {problems:?}"
        );
    }
    assert_caught(
        mutated(|t| {
            let props = path_mut(t, "Resources/InboundDeadLetterAlarm/Properties");
            props.as_mapping_mut().unwrap().remove("AlarmActions");
        }),
        "InboundDeadLetterAlarm: AlarmActions []",
    );
    assert_caught(
        mutated(|t| {
            t["Resources"]
                .as_mapping_mut()
                .unwrap()
                .remove("AlarmTopic");
        }),
        "AlarmTopic: not an SNS topic",
    );
    assert_caught(
        mutated(|t| {
            *path_mut(t, "Resources/AlarmEmailSubscription/Properties/Protocol") = "sms".into();
        }),
        "AlarmEmailSubscription",
    );
    assert_caught(
        mutated(|t| {
            *path_mut(t, "Globals/Function/Tracing") = "PassThrough".into();
        }),
        "Tracing is Some(\"PassThrough\")",
    );
}

#[test]
fn front_door_drift_is_caught() {
    assert_caught(
        mutated(|t| {
            let settings = path_mut(
                t,
                "Resources/IngestFunction/Properties/Events/Webhook/Properties/RouteSettings",
            );
            settings["ThrottlingRateLimit"] =
                long_form(serde_norway::from_str("!Ref ConsoleRateLimit").unwrap());
        }),
        "the webhook (POST /webhook) is throttled by",
    );
    assert_caught(
        mutated(|t| {
            let props = path_mut(
                t,
                "Resources/ConsoleFunction/Properties/Events/Console/Properties",
            );
            props.as_mapping_mut().unwrap().remove("RouteSettings");
        }),
        "the console (ANY /v1/{proxy+}) is throttled by",
    );
    assert_caught(
        mutated(|t| {
            let cors = path_mut(t, "Resources/HttpApi/Properties/CorsConfiguration");
            cors["AllowOrigins"] = Value::Sequence(vec!["*".into()]);
        }),
        "CORS: AllowOrigins is not the desk's origin and the AllowedOrigins parameter",
    );
    assert_caught(
        mutated(|t| {
            let props = path_mut(t, "Resources/HttpApi/Properties");
            props.as_mapping_mut().unwrap().remove("CorsConfiguration");
        }),
        "HttpApi: CorsConfiguration is None",
    );
    assert_caught(
        mutated(|t| {
            let props = path_mut(t, "Resources/IngestFunction/Properties");
            props
                .as_mapping_mut()
                .unwrap()
                .remove("ReservedConcurrentExecutions");
        }),
        "IngestFunction: ReservedConcurrentExecutions",
    );
}

#[test]
fn desk_1_desk_hosting_and_sign_in_drift_is_caught() {
    assert_caught(
        mutated(|t| {
            path_mut(
                t,
                "Resources/DeskBucket/Properties/PublicAccessBlockConfiguration",
            )["RestrictPublicBuckets"] = false.into();
        }),
        "DeskBucket: RestrictPublicBuckets is not on",
    );
    assert_caught(
        mutated(|t| {
            path_mut(
                t,
                "Resources/DeskBucketPolicy/Properties/PolicyDocument/Statement",
            )[0]["Action"] = "s3:*".into();
        }),
        "DeskBucketPolicy: not exactly one Allow",
    );
    assert_caught(
        mutated(|t| {
            let origin = &mut path_mut(
                t,
                "Resources/DeskDistribution/Properties/DistributionConfig",
            )["Origins"][0];
            origin
                .as_mapping_mut()
                .unwrap()
                .remove("OriginAccessControlId");
        }),
        "DeskDistribution: the bucket is not its origin",
    );
    assert_caught(
        mutated(|t| {
            let policy = path_mut(
                t,
                "Resources/DeskHeaders/Properties/ResponseHeadersPolicyConfig/SecurityHeadersConfig/ContentSecurityPolicy/ContentSecurityPolicy/Fn::Sub",
            );
            policy[0] = "default-src *".into();
        }),
        "DeskHeaders: Content-Security-Policy",
    );
    assert_caught(
        mutated(|t| {
            path_mut(t, "Resources/DeskUserPoolClient/Properties")["GenerateSecret"] = true.into();
        }),
        "DeskUserPoolClient: not a public client",
    );
    assert_caught(
        mutated(|t| {
            path_mut(t, "Resources/DeskUserPoolClient/Properties")["AllowedOAuthFlows"] =
                Value::Sequence(vec!["code".into(), "implicit".into()]);
        }),
        "DeskUserPoolClient: not a public client",
    );
    assert_caught(
        mutated(|t| {
            path_mut(t, "Resources/DeskUserPoolClient/Properties")["WriteAttributes"] =
                Value::Sequence(vec!["email".into(), "custom:role".into()]);
        }),
        "users may write their own custom:role",
    );
    assert_caught(
        mutated(|t| {
            path_mut(t, "Resources/DeskUserPool/Properties/AdminCreateUserConfig")["AllowAdminCreateUserOnly"] =
                false.into();
        }),
        "DeskUserPool: anyone may sign up",
    );
    assert_caught(
        mutated(|t| {
            path_mut(t, "Resources/DeskUserPoolClient")
                .as_mapping_mut()
                .unwrap()
                .remove("Condition");
        }),
        "DeskUserPoolClient: not under the CreateUserPool condition",
    );
    assert_caught(
        mutated(|t| {
            path_mut(
                t,
                "Resources/HttpApi/Properties/Auth/Authorizers/ConsoleJwt/JwtConfiguration",
            )["issuer"] = yaml("!Ref JwtIssuer");
        }),
        "JWT issuer",
    );
    assert_caught(
        mutated(|t| {
            path_mut(t, "Parameters/ConsoleRoleClaim")["Default"] = "role".into();
        }),
        "CONSOLE_ROLE_CLAIM",
    );
}
