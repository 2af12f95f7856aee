//! The end-to-end stories (one per seed) on the AWS path: the ingest, router, sender, timers and
//! console handlers over moto server (DynamoDB, SQS, EventBridge Scheduler) and the fake Graph
//! API. Needs moto (`./scripts/test -p switchboard-tests`); fails loudly without it.

use switchboard_tests::aws::AwsPath;
use switchboard_tests::stories;

#[tokio::test]
async fn seed_003_window_open_free_form_closed_template() {
    let d = AwsPath::start().await;
    stories::seed_003_window_open_free_form_closed_template(&d).await;
}

#[tokio::test]
async fn seed_000_outreach_expired_and_active_interactions() {
    let d = AwsPath::start().await;
    stories::seed_000_outreach_expired_and_active_interactions(&d).await;
}

#[tokio::test]
async fn seed_001_agent_reopens_a_closed_conversation() {
    let d = AwsPath::start().await;
    stories::seed_001_agent_reopens_a_closed_conversation(&d).await;
}

#[tokio::test]
async fn seed_002_campaign_answers_in_time_late_and_free_text() {
    let d = AwsPath::start().await;
    stories::seed_002_campaign_answers_in_time_late_and_free_text(&d).await;
}

#[tokio::test]
async fn seed_004_welcome_queue_reminder_auto_close_csat() {
    let d = AwsPath::start().await;
    stories::seed_004_welcome_queue_reminder_auto_close_csat(&d).await;
}

/// TPL-4 on a fresh number (see the story).
#[tokio::test]
async fn tpl_4_approval_of_a_template_submitted_on_a_fresh_number_is_applied() {
    let d = AwsPath::start().await;
    stories::tpl_4_approval_on_a_fresh_number(&d).await;
}

/// BILL-6 on the AWS path (see the story).
#[tokio::test]
async fn bill_6_rates_and_charged_or_free_lines() {
    let d = AwsPath::start().await;
    stories::bill_6_rates_and_charged_or_free_lines(&d).await;
}
