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

/// MEDIA-1, MEDIA-2 (see the story): the router queues the fetch, the media function keeps the
/// file in S3, the console presigns its link; a lost file is noted in the log.
#[tokio::test]
async fn media_1_a_customers_photo_is_kept_and_a_lost_file_is_noted() {
    let d = AwsPath::start().await;
    stories::media_1_a_customers_photo_is_kept_and_a_lost_file_is_noted(&d).await;
}

/// MEDIA-3 (see the story): a 20 MB document declared, put to its link and sent.
#[tokio::test]
async fn media_3_a_large_document_goes_up_in_two_steps() {
    let d = AwsPath::start().await;
    stories::media_3_a_large_document_goes_up_in_two_steps(&d).await;
}

/// TPL-2 per account (issue 16, case 6; see the story).
#[tokio::test]
async fn tpl_2_template_names_are_counted_per_account() {
    let d = AwsPath::start().await;
    stories::tpl_2_template_names_are_counted_per_account(&d).await;
}

/// AUTO-4: the contact's queue position now (issue 16, case 8; see the story).
#[tokio::test]
async fn auto_4_contact_shows_its_current_queue_position() {
    let d = AwsPath::start().await;
    stories::auto_4_contact_shows_its_current_queue_position(&d).await;
}

/// WIN-3: the referral shown by the console (issue 16, case 13; see the story).
#[tokio::test]
async fn win_3_referral_shown_on_contact_conversation_and_log() {
    let d = AwsPath::start().await;
    stories::win_3_referral_shown_on_contact_conversation_and_log(&d).await;
}

/// BILL-6 on the AWS path (see the story).
#[tokio::test]
async fn bill_6_rates_and_charged_or_free_lines() {
    let d = AwsPath::start().await;
    stories::bill_6_rates_and_charged_or_free_lines(&d).await;
}

/// OUT-10: an agent's quick-reply template through the message endpoint is an outreach (issue 16,
/// case 4; see the story).
#[tokio::test]
async fn out_10_an_agents_quick_reply_template_is_an_outreach() {
    let d = AwsPath::start().await;
    stories::out_10_an_agents_quick_reply_template_is_an_outreach(&d).await;
}
