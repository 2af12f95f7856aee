//! OPS-3: no phone number in any log line. The demo's whole story (a campaign answer, the bot
//! hand-off, the reminder, the auto-close and its survey, an expired outreach) runs through the
//! router, the sender and the timers in this process with every log line captured at `debug`, as
//! the functions write them (`aws_wiring::telemetry::log_subscriber`); none may carry a
//! customer's wa_id. Keys and ids that embed one (a timer's event key, the sends derived from it,
//! a conversation id) are logged as a keyed hash (`OutreachKey::log_id`). One test in this
//! binary: the subscriber is process-wide.

use aws_wiring::telemetry::LogBuffer;
use tracing_subscriber::EnvFilter;

/// The demo's customers (`functions/local/src/demo.rs`).
const WA_IDS: [&str; 5] = [
    "4915112345678",
    "4915100000001",
    "4915100000002",
    "4915100000003",
    "4915100000004",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ops_3_no_log_line_of_the_demo_story_carries_a_wa_id() {
    let buffer = LogBuffer::default();
    tracing::subscriber::set_global_default(aws_wiring::telemetry::log_subscriber(
        EnvFilter::new("debug"),
        buffer.clone(),
    ))
    .expect("the only subscriber");
    assert_eq!(
        switchboard_local::demo::run(None).await,
        std::process::ExitCode::SUCCESS
    );
    let text = buffer.text();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines.len() > 20, "the story logged: {text}");
    let leaks: Vec<&&str> = lines
        .iter()
        .filter(|line| WA_IDS.iter().any(|wa_id| line.contains(wa_id)))
        .collect();
    assert!(
        leaks.is_empty(),
        "{} lines carry a wa_id: {leaks:#?}",
        leaks.len()
    );
}
