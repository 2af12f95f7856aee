//! End-to-end stories, one per seed (`shared/seeds/`), generic over a [`Deployment`]: the same
//! code runs on the AWS path and on the local runner. Each story configures what it needs through
//! the console API as an admin, drives the customer through signed webhooks, moves the clock, and
//! asserts through the console API (conversations, message log, campaign hopper, costs) and the
//! fake Graph API's request log. Each story's doc names the SPEC rules it proves.

mod automation;
mod billing;
mod campaign;
mod console_views;
mod media;
mod outreach;
mod reopen;
mod window;

pub use automation::seed_004_welcome_queue_reminder_auto_close_csat;
pub use billing::bill_6_rates_and_charged_or_free_lines;
pub use campaign::seed_002_campaign_answers_in_time_late_and_free_text;
pub use console_views::{
    auto_4_contact_shows_its_current_queue_position, tpl_2_template_names_are_counted_per_account,
    win_3_referral_shown_on_contact_conversation_and_log,
};
pub use media::{
    media_1_a_customers_photo_is_kept_and_a_lost_file_is_noted,
    media_3_a_large_document_goes_up_in_two_steps,
};
pub use outreach::{
    out_10_an_agents_quick_reply_template_is_an_outreach,
    seed_000_outreach_expired_and_active_interactions,
};
pub use reopen::seed_001_agent_reopens_a_closed_conversation;
pub use window::seed_003_window_open_free_form_closed_template;

use crate::deployment::{Deployment, Reply};
use crate::webhooks::{self, NUMBER};
use serde_json::{Value, json};
use std::sync::atomic::{AtomicU64, Ordering};
use testkit::fake_graph::{Outcome, RecordedRequest};

pub const ADMIN: &str = "admin-token";
pub const ANA: &str = "ana-token";
pub const BEN: &str = "ben-token";

/// The default expired-outreach text (seed 000).
pub const EXPIRED_TEXT: &str = "The message has expired, how can we help you?";
pub const DAY: u64 = 86_400;

/// A bot recipe: a menu with "Talk to a person" (hand-off) and "All good" (complete).
pub fn recipe() -> Value {
    json!({
        "id": "faq",
        "start": "menu",
        "steps": [{
            "id": "menu",
            "text": "Hi! How can we help?",
            "buttons": [
                {"title": "Talk to a person", "next": {"then": "hand_off"}},
                {"title": "All good", "next": {"then": "complete"}}
            ]
        }]
    })
}
/// The reply-button id of the menu's "Talk to a person" (`bot.<step>.<index>`).
pub const TALK_TO_A_PERSON: &str = "bot.menu.0";
pub const MENU_TEXT: &str = "Hi! How can we help?";

static WAMIDS: AtomicU64 = AtomicU64::new(1);

/// A fresh customer message id.
pub fn wamid() -> String {
    format!(
        "wamid.E2E{}{:08}",
        std::process::id(),
        WAMIDS.fetch_add(1, Ordering::Relaxed)
    )
}

/// A console call that must succeed (2xx); the body.
pub async fn ok<D: Deployment>(
    d: &D,
    method: &str,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> Value {
    let r = d.console(method, path, token, body).await;
    assert!(
        (200..300).contains(&r.status),
        "{method} {path}: {} {}",
        r.status,
        r.body
    );
    r.body
}

pub fn number_path(rest: &str) -> String {
    format!("/v1/numbers/{NUMBER}{rest}")
}

pub fn contact_path(contact: &str, rest: &str) -> String {
    format!("/v1/numbers/{NUMBER}/contacts/{contact}{rest}")
}

/// Saves the number's settings (admin).
pub async fn settings<D: Deployment>(d: &D, settings: Value) {
    ok(d, "PUT", &number_path("/settings"), ADMIN, Some(settings)).await;
}

/// An online agent with this capacity (admin).
pub async fn agent<D: Deployment>(d: &D, id: &str, capacity: u32) {
    let body = ok(
        d,
        "PUT",
        &format!("/v1/agents/{id}"),
        ADMIN,
        Some(json!({"capacity": capacity, "online": true})),
    )
    .await;
    assert_eq!(body["available"], true, "{body}");
}

/// A template created at the console, submitted to Meta and approved by Meta's
/// `message_templates` webhook (TPL-1, TPL-4); `template` is the console's new-template body.
pub async fn approved_template<D: Deployment>(d: &D, template: Value) {
    let name = template["name"].as_str().expect("a name").to_owned();
    let language = template["language"]
        .as_str()
        .expect("a language")
        .to_owned();
    let created = ok(d, "POST", &number_path("/templates"), ADMIN, Some(template)).await;
    assert_eq!(created["status"], "PENDING", "{created}");
    approve(d, &name, &language).await;
}

/// Submits a created template to Meta (the fake Graph API) and delivers Meta's approval webhook.
pub async fn approve<D: Deployment>(d: &D, name: &str, language: &str) {
    let submitted = ok(
        d,
        "POST",
        &number_path(&format!("/templates/{name}/{language}/submit")),
        ADMIN,
        Some(json!({"waba_id": webhooks::WABA})),
    )
    .await;
    assert_eq!(submitted["template"]["status"], "PENDING", "{submitted}");
    let at = d.now().await;
    let status = d
        .webhook(&webhooks::template_status(name, language, "APPROVED", at))
        .await;
    assert_eq!(status, 200);
    d.advance(0).await;
    let read = ok(
        d,
        "GET",
        &number_path(&format!("/templates/{name}/{language}")),
        ADMIN,
        None,
    )
    .await;
    assert_eq!(read["status"], "APPROVED", "TPL-4: {read}");
}

/// Creates the contact with a first name (admin), as an imported customer.
pub async fn contact<D: Deployment>(d: &D, contact: &str, first_name: &str) {
    ok(
        d,
        "PUT",
        &contact_path(contact, ""),
        ADMIN,
        Some(json!({"first_name": first_name})),
    )
    .await;
}

/// Posts a signed webhook that must be accepted (200).
pub async fn post<D: Deployment>(d: &D, body: &str) {
    assert_eq!(d.webhook(body).await, 200, "webhook refused: {body}");
}

/// The customer writes `text` (replying to `context` if given) now; the message's wamid.
pub async fn says<D: Deployment>(d: &D, from: &str, text: &str, context: Option<&str>) -> String {
    let id = wamid();
    let at = d.now().await;
    post(d, &webhooks::text(from, &id, at, text, context)).await;
    id
}

/// The customer presses a template quick reply (payload as sent) on message `context`.
pub async fn presses<D: Deployment>(
    d: &D,
    from: &str,
    context: &str,
    payload: &str,
    title: &str,
) -> String {
    let id = wamid();
    let at = d.now().await;
    post(d, &webhooks::button(from, &id, at, context, payload, title)).await;
    id
}

/// The customer presses an interactive reply button (bot step, CSAT) on message `context`.
pub async fn taps<D: Deployment>(
    d: &D,
    from: &str,
    context: &str,
    button: &str,
    title: &str,
) -> String {
    let id = wamid();
    let at = d.now().await;
    post(
        d,
        &webhooks::button_reply(from, &id, at, context, button, title),
    )
    .await;
    id
}

/// Every message the fake Graph API accepted for `to`, oldest first.
pub fn sent_to<D: Deployment>(d: &D, to: &str) -> Vec<RecordedRequest> {
    d.graph()
        .sent()
        .into_iter()
        .filter(|r| r.to() == Some(to))
        .collect()
}

/// The wamid Meta (the fake) gave a sent request.
pub fn wamid_of(r: &RecordedRequest) -> String {
    match &r.outcome {
        Outcome::Sent { wamid } => wamid.clone(),
        other => panic!("not sent: {other:?}"),
    }
}

/// The text a sent message shows: a text's body, an interactive's body, a template's name.
pub fn shown(r: &RecordedRequest) -> String {
    let b = &r.body;
    match b["type"].as_str() {
        Some("text") => b["text"]["body"].as_str().unwrap_or("").to_owned(),
        Some("interactive") => b["interactive"]["body"]["text"]
            .as_str()
            .unwrap_or("")
            .to_owned(),
        Some("template") => format!("template:{}", b["template"]["name"].as_str().unwrap_or("")),
        other => format!("{other:?}"),
    }
}

/// What was shown to `to`, in order.
pub fn shown_to<D: Deployment>(d: &D, to: &str) -> Vec<String> {
    sent_to(d, to).iter().map(shown).collect()
}

/// The quick-reply payloads of a sent template, in button order (OUT-8).
pub fn payloads(r: &RecordedRequest) -> Vec<String> {
    r.body["template"]["components"]
        .as_array()
        .map(|cs| {
            cs.iter()
                .filter(|c| c["sub_type"] == "quick_reply")
                .filter_map(|c| c["parameters"][0]["payload"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// The latest template sent to `to`: (wamid, payloads).
pub fn last_template_to<D: Deployment>(d: &D, to: &str) -> (String, Vec<String>) {
    let r = sent_to(d, to)
        .into_iter()
        .rev()
        .find(|r| r.body["type"] == "template")
        .unwrap_or_else(|| panic!("no template was sent to {to}"));
    (wamid_of(&r), payloads(&r))
}

/// One contact as the console shows it.
pub async fn detail<D: Deployment>(d: &D, contact: &str) -> Value {
    ok(d, "GET", &contact_path(contact, ""), ADMIN, None).await
}

/// The number's queue as an agent sees it (AUTO-4: in order, with positions).
pub async fn queue_list<D: Deployment>(d: &D) -> Value {
    ok(
        d,
        "GET",
        &number_path("/conversations?scope=queue"),
        ANA,
        None,
    )
    .await
}

/// The contact's message log, newest first (all pages).
pub async fn log<D: Deployment>(d: &D, contact: &str) -> Vec<Value> {
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => contact_path(contact, &format!("/messages?limit=100&cursor={c}")),
            None => contact_path(contact, "/messages?limit=100"),
        };
        let page = ok(d, "GET", &path, ADMIN, None).await;
        items.extend(page["items"].as_array().cloned().unwrap_or_default());
        match page["next"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return items,
        }
    }
}

/// The conversation's (id, status, handler, agent) as the console shows it.
pub async fn conversation<D: Deployment>(
    d: &D,
    contact: &str,
) -> (String, String, String, Option<String>) {
    let c = detail(d, contact).await;
    let conv = &c["conversation"];
    (
        conv["id"].as_str().unwrap_or("").to_owned(),
        conv["status"].as_str().unwrap_or("").to_owned(),
        conv["handler"].as_str().unwrap_or("").to_owned(),
        conv["agent"].as_str().map(str::to_owned),
    )
}

/// Meta reports every accepted message delivered (status webhooks), so the log shows delivery.
pub async fn deliver_all<D: Deployment>(d: &D, category: &str) {
    let at = d.now().await;
    for r in d.graph().sent() {
        let to = r.to().unwrap_or("").to_owned();
        post(
            d,
            &webhooks::status(&wamid_of(&r), &to, "delivered", at, category),
        )
        .await;
    }
    d.advance(0).await;
}

/// A refused console call's answer, checked for the status.
pub fn refused(r: &Reply, status: u16) -> &str {
    assert_eq!(r.status, status, "{}", r.body);
    r.body["error"].as_str().unwrap_or("")
}

/// TPL-4 on a fresh number: the admin creates a template and submits it for the number's account
/// (`waba_id`); Meta's `message_template_status_update` webhook names the account, not the
/// number, and is applied because the submission recorded the account → number link.
pub async fn tpl_4_approval_on_a_fresh_number<D: Deployment>(d: &D) {
    ok(
        d,
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
        d,
        "POST",
        &number_path("/templates/welcome_back/en_US/submit"),
        ADMIN,
        Some(json!({"waba_id": webhooks::WABA})),
    )
    .await;
    let at = d.now().await;
    let status = d
        .webhook(&webhooks::template_status(
            "welcome_back",
            "en_US",
            "APPROVED",
            at,
        ))
        .await;
    assert_eq!(status, 200);
    d.advance(0).await;
    let read = ok(
        d,
        "GET",
        &number_path("/templates/welcome_back/en_US"),
        ADMIN,
        None,
    )
    .await;
    assert_eq!(read["status"], "APPROVED", "TPL-4: {read}");
}
