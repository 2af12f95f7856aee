//! The end-to-end stories (one per seed) on the local runner: `switchboard serve` on loopback with
//! a temporary SQLite database, the test clock and the fake Graph API, driven over HTTP (the
//! signed webhook, the console API, `POST /dev/clock`). The same stories as `aws_path.rs`, so the
//! two deployments are held to the same final states.

use switchboard_tests::local::LocalPath;
use switchboard_tests::stories;

#[tokio::test]
async fn seed_003_window_open_free_form_closed_template() {
    let d = LocalPath::start().await;
    stories::seed_003_window_open_free_form_closed_template(&d).await;
}

#[tokio::test]
async fn seed_000_outreach_expired_and_active_interactions() {
    let d = LocalPath::start().await;
    stories::seed_000_outreach_expired_and_active_interactions(&d).await;
}

#[tokio::test]
async fn seed_001_agent_reopens_a_closed_conversation() {
    let d = LocalPath::start().await;
    stories::seed_001_agent_reopens_a_closed_conversation(&d).await;
}

#[tokio::test]
async fn seed_002_campaign_answers_in_time_late_and_free_text() {
    let d = LocalPath::start().await;
    stories::seed_002_campaign_answers_in_time_late_and_free_text(&d).await;
}

#[tokio::test]
async fn seed_004_welcome_queue_reminder_auto_close_csat() {
    let d = LocalPath::start().await;
    stories::seed_004_welcome_queue_reminder_auto_close_csat(&d).await;
}

/// TPL-4 on a fresh number: the admin creates a template and submits it for the number's account
/// (`waba_id`); Meta's `message_template_status_update` webhook names the account, not the
/// number, and is applied because the submission recorded the account → number link.
#[tokio::test]
async fn tpl_4_approval_of_a_template_submitted_on_a_fresh_number_is_applied() {
    use serde_json::json;
    use switchboard_tests::Deployment;
    use switchboard_tests::stories::{ADMIN, number_path, ok};
    use switchboard_tests::webhooks::{WABA, template_status};
    let d = LocalPath::start().await;
    ok(
        &d,
        "POST",
        &number_path("/templates"),
        ADMIN,
        Some(
            json!({"name": "welcome_back", "language": "en_US", "category": "UTILITY",
                    "body": "Welcome back."}),
        ),
    )
    .await;
    ok(
        &d,
        "POST",
        &number_path("/templates/welcome_back/en_US/submit"),
        ADMIN,
        Some(json!({"waba_id": WABA})),
    )
    .await;
    let at = d.now().await;
    let status = d
        .webhook(&template_status("welcome_back", "en_US", "APPROVED", at))
        .await;
    assert_eq!(status, 200);
    d.advance(0).await;
    let read = ok(
        &d,
        "GET",
        &number_path("/templates/welcome_back/en_US"),
        ADMIN,
        None,
    )
    .await;
    assert_eq!(read["status"], "APPROVED", "TPL-4: {read}");
}
