//! OPS-1: every function's IAM role allows what that function calls, and nothing else, proven
//! against the calls the functions really make.
//!
//! moto does not check IAM, so the end-to-end stories run on the AWS path with every function's
//! SDK behind its own listener of the recording proxy, and each function's configuration is loaded
//! from the environment `infra/template.yaml` gives it (its secrets read from Secrets Manager on
//! moto, by ARN). Each recorded call is mapped to the IAM actions and resource ARNs it needs
//! (`switchboard_tests::iam::needs`, as AWS's service authorization reference does), and checked
//! against that function's role in the template with every `Ref`/`GetAtt`/`Sub` resolved to the
//! deployment's resources. The other way round, every grant of a role must have been used by its
//! function, or be one of [`service_uses`]: what the Lambda service itself does with the role,
//! which no SDK call of the function shows. Needs moto (`./scripts/test -p switchboard-tests
//! --test iam_permissions`).

use std::collections::{BTreeMap, BTreeSet};
use switchboard_tests::Deployment;
use switchboard_tests::aws::{AwsPath, Deployed, FUNCTIONS, sdk};
use switchboard_tests::iam::{self, ACCOUNT, Binding, PARTITION, REGION};
use switchboard_tests::proxy::Recorded;
use switchboard_tests::stories;
use switchboard_tests::template::{self, Mapping, Value, at, environment, list, resource, text};

/// The role of the function a proxy listener serves.
fn role_of(function: &str) -> String {
    let mut name = function.to_owned();
    name[..1].make_ascii_uppercase();
    format!("{name}Role")
}

fn function_of(role: &str) -> String {
    format!("{}Function", role.trim_end_matches("Role"))
}

/// The secrets' ARNs on moto, by template parameter.
const SECRET_PARAMETERS: [(&str, &str); 4] = [
    ("WhatsAppAppSecretArn", "app-secret"),
    ("WhatsAppVerifyTokenArn", "verify-token"),
    ("WhatsAppAccessTokenArn", "access-token"),
    ("OutreachKeyArn", "outreach-key"),
];

async fn create_secrets() -> BTreeMap<String, String> {
    let client = aws_sdk_secretsmanager::Client::new(&sdk(&testkit::moto_endpoint()).await);
    let mut arns = BTreeMap::new();
    for (parameter, value) in SECRET_PARAMETERS {
        let arn = client
            .create_secret()
            .name(testkit::unique("ops1"))
            .secret_string(format!("e2e-{value}"))
            .send()
            .await
            .expect("a secret on moto")
            .arn
            .expect("the secret's ARN");
        arns.insert(parameter.to_owned(), arn);
    }
    arns
}

/// The template's names resolved to one deployment's resources on moto.
fn binding(t: &Value, d: &Deployed, secrets: &BTreeMap<String, String>) -> Binding {
    let mut b = Binding::default()
        .with("AWS::Partition", PARTITION)
        .with("AWS::Region", REGION)
        .with("AWS::AccountId", ACCOUNT)
        .with("Table", &d.table)
        .with("Table.Arn", iam::table_arn(&d.table))
        .queue("InboundQueue", &d.inbound_queue_url)
        .queue("UpdatesQueue", &d.updates_queue_url)
        .queue("OutboundQueue", &d.outbound_queue_url)
        .queue("MediaQueue", &d.media_queue_url)
        .with("TimerScheduleGroup", &d.schedule_group)
        .with("TimerSchedulerRole.Arn", &d.scheduler_role_arn)
        .with("TimersFunction.Arn", &d.timers_function_arn)
        .with("TimerDeadLetterQueue.Arn", &d.timer_dead_letter_arn)
        // Its URL, for the console's TIMER_DLQ_URL (OPS-4).
        .with(
            "TimerDeadLetterQueue",
            sibling_url(
                &d.inbound_queue_url,
                d.timer_dead_letter_arn.rsplit(':').next().unwrap_or(""),
            ),
        )
        // The AWS path's stories have no dead-letter queues (see NOT_IN_THE_STORIES; OPS-4's own
        // test, tests/tests/ops_4_aws.rs, drives them on moto): names for the configuration.
        .queue(
            "InboundDeadLetterQueue",
            &dead_letter_url(&d.inbound_queue_url),
        )
        .queue(
            "UpdatesDeadLetterQueue",
            &dead_letter_url(&d.updates_queue_url),
        )
        .queue(
            "OutboundDeadLetterQueue",
            &dead_letter_url(&d.outbound_queue_url),
        )
        .queue("MediaDeadLetterQueue", &dead_letter_url(&d.media_queue_url))
        .with("MediaBucket", &d.media_bucket)
        .with(
            "MediaBucket.Arn",
            format!("arn:{PARTITION}:s3:::{}", d.media_bucket),
        );
    for (parameter, arn) in secrets {
        b = b.with(parameter, arn);
    }
    // Every other parameter: its default.
    if let Some(Value::Mapping(parameters)) = t.get("Parameters") {
        for (name, p) in parameters {
            let (Some(name), Some(default)) = (text(Some(name)), text(p.get("Default"))) else {
                continue;
            };
            b.0.entry(name).or_insert(default);
        }
    }
    b
}

/// A function's environment as the template sets it, resolved.
fn resolved_environment(t: &Value, function: &str, b: &Binding) -> BTreeMap<String, String> {
    let f = resource(t, function).unwrap_or_else(|| panic!("no {function} in the template"));
    environment(f)
        .into_iter()
        .map(|(name, token)| {
            let value = b
                .resolve(&token)
                .unwrap_or_else(|| panic!("{function}: {name} = {token} does not resolve"));
            (name, value)
        })
        .collect()
}

/// Each function loads its configuration from the template's environment through its own proxy
/// listener: the secrets it reads by ARN are recorded as its calls.
async fn load_configurations(t: &Value, d: &Deployed, b: &Binding) {
    for function in FUNCTIONS {
        let env = resolved_environment(t, &function_of(&role_of(function)), b);
        let lookup = aws_wiring::Env::from_lookup(move |name: &str| env.get(name).cloned());
        let aws = sdk(&d.endpoints[function]).await;
        let loaded = match function {
            "ingest" => ingest::Config::load_from(&lookup, &aws).await.map(drop),
            "router" => router::Config::load_from(&lookup, &aws).await.map(drop),
            "sender" => sender::Config::load_from(&lookup, &aws).await.map(drop),
            "console" => console::Config::load_from(&lookup, &aws).await.map(drop),
            "media" => media_lambda::Config::load_from(&lookup, &aws)
                .await
                .map(drop),
            // No secrets: their configuration makes no call.
            "timers" | "deliverer" | "projector" => continue,
            other => panic!("unknown function {other}"),
        };
        loaded.unwrap_or_else(|e| {
            panic!("{function} cannot start with the template's environment: {e}")
        });
    }
}

/// The URL of the queue `name` beside the queue at `url`.
fn sibling_url(url: &str, name: &str) -> String {
    let base = url.rsplit_once('/').map_or(url, |(base, _)| base);
    format!("{base}/{name}")
}

/// A source queue's dead-letter queue, named as the stack would (a FIFO queue's stays FIFO).
fn dead_letter_url(source: &str) -> String {
    match source.strip_suffix(".fifo") {
        Some(stem) => format!("{stem}-dlq.fifo"),
        None => format!("{source}-dlq"),
    }
}

const OPS_4: &str =
    "OPS-4: admins' dead-letter routes; not in the stories (ops_4_aws drives them on moto)";

/// Grants the end-to-end stories do not exercise, each with why it is kept: (role, action,
/// resource token, why). Keep this short: a grant belongs here only until a story uses it.
const NOT_IN_THE_STORIES: &[(&str, &str, &str, &str)] = &[
    (
        "ConsoleRole",
        "sqs:SendMessage",
        "GetAtt:UpdatesQueue.Arn",
        OPS_4,
    ),
    (
        "ConsoleRole",
        "sqs:ReceiveMessage",
        "GetAtt:InboundDeadLetterQueue.Arn",
        OPS_4,
    ),
    (
        "ConsoleRole",
        "sqs:ReceiveMessage",
        "GetAtt:UpdatesDeadLetterQueue.Arn",
        OPS_4,
    ),
    (
        "ConsoleRole",
        "sqs:ReceiveMessage",
        "GetAtt:OutboundDeadLetterQueue.Arn",
        OPS_4,
    ),
    (
        "ConsoleRole",
        "sqs:ChangeMessageVisibility",
        "GetAtt:InboundDeadLetterQueue.Arn",
        OPS_4,
    ),
    (
        "ConsoleRole",
        "sqs:ChangeMessageVisibility",
        "GetAtt:UpdatesDeadLetterQueue.Arn",
        OPS_4,
    ),
    (
        "ConsoleRole",
        "sqs:ChangeMessageVisibility",
        "GetAtt:OutboundDeadLetterQueue.Arn",
        OPS_4,
    ),
    (
        "ConsoleRole",
        "sqs:DeleteMessage",
        "GetAtt:InboundDeadLetterQueue.Arn",
        OPS_4,
    ),
    (
        "ConsoleRole",
        "sqs:DeleteMessage",
        "GetAtt:UpdatesDeadLetterQueue.Arn",
        OPS_4,
    ),
    (
        "ConsoleRole",
        "sqs:DeleteMessage",
        "GetAtt:OutboundDeadLetterQueue.Arn",
        OPS_4,
    ),
    (
        "ConsoleRole",
        "sqs:GetQueueAttributes",
        "GetAtt:InboundDeadLetterQueue.Arn",
        OPS_4,
    ),
    (
        "ConsoleRole",
        "sqs:GetQueueAttributes",
        "GetAtt:UpdatesDeadLetterQueue.Arn",
        OPS_4,
    ),
    (
        "ConsoleRole",
        "sqs:GetQueueAttributes",
        "GetAtt:OutboundDeadLetterQueue.Arn",
        OPS_4,
    ),
    (
        "ConsoleRole",
        "sqs:ReceiveMessage",
        "GetAtt:MediaDeadLetterQueue.Arn",
        OPS_4,
    ),
    (
        "ConsoleRole",
        "sqs:ChangeMessageVisibility",
        "GetAtt:MediaDeadLetterQueue.Arn",
        OPS_4,
    ),
    (
        "ConsoleRole",
        "sqs:DeleteMessage",
        "GetAtt:MediaDeadLetterQueue.Arn",
        OPS_4,
    ),
    (
        "ConsoleRole",
        "sqs:GetQueueAttributes",
        "GetAtt:MediaDeadLetterQueue.Arn",
        OPS_4,
    ),
    (
        "ConsoleRole",
        "sqs:SendMessage",
        "GetAtt:MediaQueue.Arn",
        OPS_4,
    ),
    (
        "ConsoleRole",
        "sqs:ReceiveMessage",
        "GetAtt:TimerDeadLetterQueue.Arn",
        OPS_4,
    ),
    (
        "ConsoleRole",
        "sqs:ChangeMessageVisibility",
        "GetAtt:TimerDeadLetterQueue.Arn",
        OPS_4,
    ),
    (
        "ConsoleRole",
        "sqs:DeleteMessage",
        "GetAtt:TimerDeadLetterQueue.Arn",
        OPS_4,
    ),
    (
        "ConsoleRole",
        "sqs:GetQueueAttributes",
        "GetAtt:TimerDeadLetterQueue.Arn",
        OPS_4,
    ),
    (
        "ConsoleRole",
        "s3:PutObject",
        "Sub:${MediaBucket.Arn}/*",
        "MEDIA-3: agents' uploads, not in the stories yet",
    ),
    (
        "ConsoleRole",
        "s3:AbortMultipartUpload",
        "Sub:${MediaBucket.Arn}/*",
        "MEDIA-2/3: a failed streamed upload, not in the stories yet",
    ),
    (
        "ConsoleRole",
        "s3:DeleteObject",
        "Sub:${MediaBucket.Arn}/*",
        "MEDIA-3: a contact's files deleted on erasure, not in the stories yet",
    ),
    (
        "ConsoleRole",
        "s3:ListBucket",
        "GetAtt:MediaBucket.Arn",
        "MEDIA-3: a contact's files listed on erasure, not in the stories yet",
    ),
    (
        "MediaRole",
        "s3:AbortMultipartUpload",
        "Sub:${MediaBucket.Arn}/*",
        "MEDIA-1: a download over 8 MB that fails its checks mid-way (shared/media's contract suite drives it on moto)",
    ),
    (
        "MediaRole",
        "s3:ListBucket",
        "GetAtt:MediaBucket.Arn",
        "MEDIA-1: no call of its own: without it S3 answers a missing record with AccessDenied instead of NoSuchKey, and every first fetch would fail",
    ),
];

/// What the Lambda service itself does with a function's role, which no SDK call of the function
/// shows: (role, action, resource token, why).
fn service_uses(t: &Value) -> Vec<(String, String, String, &'static str)> {
    let mut out = vec![];
    for function in FUNCTIONS {
        let role = role_of(function);
        let id = function_of(&role);
        let Some(f) = resource(t, &id) else { continue };
        for action in ["logs:CreateLogStream", "logs:PutLogEvents"] {
            out.push((
                role.clone(),
                action.to_owned(),
                format!("GetAtt:{}LogGroup.Arn", id.trim_end_matches("Function")),
                "Lambda writes the function's output to its log group with its role",
            ));
        }
        if let Some(Value::Mapping(events)) = at(f, &["Properties", "Events"]) {
            for event in events.values() {
                if text(event.get("Type")).as_deref() != Some("SQS") {
                    continue;
                }
                let queue = at(event, &["Properties", "Queue"])
                    .map(template::token)
                    .unwrap_or_default();
                for action in [
                    "sqs:ReceiveMessage",
                    "sqs:DeleteMessage",
                    "sqs:ChangeMessageVisibility",
                    "sqs:GetQueueAttributes",
                ] {
                    out.push((
                        role.clone(),
                        action.to_owned(),
                        queue.clone(),
                        "the event source mapping polls the queue with the function's role (the harness receives on the AWS path)",
                    ));
                }
            }
        }
        let destination = template::on_failure_destination(f);
        if let Some(destination) = destination {
            out.push((
                role.clone(),
                "sqs:SendMessage".to_owned(),
                template::token(destination),
                "Lambda sends a failed asynchronous invocation to its on-failure destination with the function's role",
            ));
        }
        if text(template::function_property(t, f, "Tracing")).as_deref() == Some("Active") {
            for action in ["xray:PutTraceSegments", "xray:PutTelemetryRecords"] {
                out.push((
                    role.clone(),
                    action.to_owned(),
                    "Literal:*".to_owned(),
                    "active tracing: Lambda sends the function's segments with its role (X-Ray has no resource-level permissions)",
                ));
            }
        }
    }
    out
}

/// One deployment's recorded calls, with what the template resolves to there.
struct Run {
    binding: Binding,
    calls: Vec<Recorded>,
}

/// Every call not allowed by its function's role, and every grant neither used nor a service use.
fn problems(t: &Value, runs: &[Run]) -> Vec<String> {
    let mut problems = BTreeSet::new();
    let mut used: BTreeSet<(String, String, String)> = BTreeSet::new();
    for run in runs {
        for call in &run.calls {
            let role = role_of(&call.caller);
            let grants = iam::grants(t, &role, &run.binding);
            let needs = match iam::needs(call) {
                Ok(needs) => needs,
                Err(e) => {
                    problems.insert(format!("{}: {e}", call.caller));
                    continue;
                }
            };
            for need in needs {
                let allowing = iam::allowed(&grants, &need);
                if allowing.is_empty() {
                    problems.insert(format!(
                        "{}: {} on {} is not allowed by {role}",
                        call.caller, need.action, need.resource
                    ));
                }
                for g in allowing {
                    used.insert((role.clone(), g.action.clone(), g.token.clone()));
                }
            }
        }
    }
    let service: BTreeSet<(String, String, String)> = service_uses(t)
        .into_iter()
        .map(|(role, action, token, _)| (role, action, token))
        .chain(NOT_IN_THE_STORIES.iter().map(|(role, action, token, _)| {
            (
                (*role).to_owned(),
                (*action).to_owned(),
                (*token).to_owned(),
            )
        }))
        .collect();
    let binding = runs.first().map(|r| r.binding.clone()).unwrap_or_default();
    for function in FUNCTIONS {
        let role = role_of(function);
        for g in iam::grants(t, &role, &binding) {
            let key = (role.clone(), g.action.clone(), g.token.clone());
            if !used.contains(&key) && !service.contains(&key) {
                problems.insert(format!(
                    "{role} grants {} on {}, which {function} never used",
                    g.action, g.token
                ));
            }
        }
    }
    problems.into_iter().collect()
}

/// Takes `action` out of a role's statements (for the mutation checks).
fn without_action(t: &Value, role: &str, action: &str) -> Value {
    let mut t = t.clone();
    let statements =
        t["Resources"][role]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
            .as_sequence_mut()
            .expect("a role's statements");
    let mut removed = false;
    for statement in statements.iter_mut() {
        let actions: Vec<Value> = list(statement.get("Action")).into_iter().cloned().collect();
        let kept: Vec<Value> = actions
            .iter()
            .filter(|a| text(Some(a)).as_deref() != Some(action))
            .cloned()
            .collect();
        removed |= kept.len() < actions.len();
        statement["Action"] = Value::Sequence(kept);
    }
    statements.retain(|s| !list(s.get("Action")).is_empty());
    assert!(removed, "{role} does not allow {action}");
    t
}

fn with_statement(t: &Value, role: &str, action: &str, resource: &str) -> Value {
    let mut t = t.clone();
    let statements =
        t["Resources"][role]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
            .as_sequence_mut()
            .expect("a role's statements");
    let mut s = Mapping::new();
    s.insert("Effect".into(), "Allow".into());
    s.insert("Action".into(), action.into());
    s.insert(
        "Resource".into(),
        template::long_form(serde_norway::from_str(resource).expect("a resource")),
    );
    statements.push(Value::Mapping(s));
    t
}

/// EVT-4 on the AWS path for OPS-1: the deliverer's passes over a story's events (the stream
/// through the projector, which reads it and writes the events through its own listener, as the
/// event source mapping does with its role): a receiver that fails once (a retry: read, rewritten), then takes
/// everything (delivered: removed).
async fn deliveries(d: &AwsPath) {
    d.enable_event_stream().await;
    console::api::webhooks::allow_loopback_targets(true);
    let r = testkit::events_out::receiver().await;
    let hook = d
        .console(
            "POST",
            "/v1/webhooks",
            "admin-token",
            Some(serde_json::json!({"url": r.url})),
        )
        .await;
    assert_eq!(hook.status, 201, "{}", hook.body);
    stories::seed_003_window_open_free_form_closed_template(d).await;
    d.project_events().await;
    r.failing.store(true, std::sync::atomic::Ordering::SeqCst);
    let now = d.now().await;
    assert!(d.deliver_webhooks(now).await.failed > 0);
    r.failing.store(false, std::sync::atomic::Ordering::SeqCst);
    let mut later = now;
    while d.deliver_webhooks(later).await.delivered == 0 {
        later += 3600;
        assert!(later < now + 86_400, "the deliveries went out");
    }
}

#[test]
fn ops_1_every_call_is_allowed_by_its_functions_role_and_every_grant_is_used() {
    // Eight deployments' state and their stories' futures are more than a test thread's 2 MiB
    // stack holds in a debug build: the check runs on a thread of its own with room for them.
    std::thread::Builder::new()
        .name("ops_1".into())
        .stack_size(32 << 20)
        .spawn(|| {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime")
                .block_on(every_call_is_allowed_and_every_grant_is_used())
        })
        .expect("the check's thread")
        .join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
}

async fn every_call_is_allowed_and_every_grant_is_used() {
    let t = template::template();
    let secrets = create_secrets().await;
    // Each story on its own deployment, all at once (boxed: the join's own future stays small).
    let (a, b, c, d, e, f, g, h, i) = tokio::join!(
        Box::pin(async {
            let d = AwsPath::counted().await;
            stories::seed_003_window_open_free_form_closed_template(&d).await;
            d
        }),
        Box::pin(async {
            let d = AwsPath::counted().await;
            stories::seed_000_outreach_expired_and_active_interactions(&d).await;
            d
        }),
        Box::pin(async {
            let d = AwsPath::counted().await;
            stories::seed_001_agent_reopens_a_closed_conversation(&d).await;
            d
        }),
        Box::pin(async {
            let d = AwsPath::counted().await;
            stories::seed_002_campaign_answers_in_time_late_and_free_text(&d).await;
            d
        }),
        Box::pin(async {
            let d = AwsPath::counted().await;
            stories::seed_004_welcome_queue_reminder_auto_close_csat(&d).await;
            d
        }),
        Box::pin(async {
            let d = AwsPath::counted().await;
            stories::tpl_4_approval_on_a_fresh_number(&d).await;
            d
        }),
        Box::pin(async {
            let d = AwsPath::counted().await;
            stories::media_1_a_customers_photo_is_kept_and_a_lost_file_is_noted(&d).await;
            d
        }),
        // MEDIA-3's two steps: the console presigns a PUT (used as the console's role) and
        // measures what arrived (HeadObject, s3:GetObject).
        Box::pin(async {
            let d = AwsPath::counted().await;
            stories::media_3_a_large_document_goes_up_in_two_steps(&d).await;
            d
        }),
        Box::pin(async {
            let d = AwsPath::counted().await;
            deliveries(&d).await;
            d
        }),
    );
    let deployments = [a, b, c, d, e, f, g, h, i];
    load_configurations(
        &t,
        deployments[0].deployed(),
        &binding(&t, deployments[0].deployed(), &secrets),
    )
    .await;
    let mut runs: Vec<Run> = Vec::new();
    for d in &deployments {
        let mut binding = binding(&t, d.deployed(), &secrets);
        // The stream, where a run turned it on (the projector's reads are on it).
        if let Some(arn) = Box::pin(d.stream_arn()).await {
            binding = binding.with("Table.StreamArn", arn);
        }
        runs.push(Run {
            binding,
            calls: d.requests().snapshot(),
        });
    }

    // What each function did, for the record.
    let mut seen: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for call in runs.iter().flat_map(|r| &r.calls) {
        for need in iam::needs(call).unwrap_or_default() {
            let resource = need
                .resource
                .rsplit([':', '/'])
                .next()
                .unwrap_or("")
                .to_owned();
            seen.entry(call.caller.clone())
                .or_default()
                .insert(format!("{} ({resource})", need.action));
        }
    }
    for (function, actions) in &seen {
        println!(
            "{function}: {}",
            actions.iter().cloned().collect::<Vec<_>>().join(", ")
        );
    }
    for function in FUNCTIONS {
        assert!(
            seen.contains_key(function),
            "{function} made no AWS call: {seen:?}"
        );
    }

    let found = problems(&t, &runs);
    assert!(
        found.is_empty(),
        "infra/template.yaml against the calls:\n  {}",
        found.join("\n  ")
    );

    // The check catches what it is for: the sender's role as it was before issue 15 (no
    // BatchGetItem, which every send starts with) ...
    let before = problems(
        &without_action(&t, "SenderRole", "dynamodb:BatchGetItem"),
        &runs,
    );
    assert!(
        before
            .iter()
            .any(|p| p.starts_with("sender: dynamodb:BatchGetItem on arn:aws:dynamodb:")),
        "{before:?}"
    );
    // ... the projector's stream reads, which the event source mapping makes with its role ...
    let unread = problems(
        &without_action(&t, "ProjectorRole", "dynamodb:GetRecords"),
        &runs,
    );
    assert!(
        unread
            .iter()
            .any(|p| p.starts_with("projector: dynamodb:GetRecords on arn:aws:dynamodb:")),
        "{unread:?}"
    );
    // ... and a grant no call uses.
    let creep = problems(
        &with_statement(&t, "ConsoleRole", "dynamodb:Scan", "!GetAtt Table.Arn"),
        &runs,
    );
    assert_eq!(
        creep,
        ["ConsoleRole grants dynamodb:Scan on GetAtt:Table.Arn, which console never used"]
    );
}
