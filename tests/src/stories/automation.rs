//! Seed 004 (automation on a business number).

use super::*;

const FIRST: &str = "4915100040001";
const SECOND: &str = "4915100040002";

const WELCOME: &str = "Welcome to Acme support!";
const UNASSIGNED: &str = "An agent will be with you soon.";
const REMINDER: &str = "Thanks for waiting, an agent will answer shortly.";

/// Seed 004: a number with a welcome message, an unassigned auto-reply, a queue with a message,
/// a no-reply reminder, auto-close and CSAT. One agent with room for one conversation: the first
/// customer gets the agent, the second waits in the queue; the agent stays silent and the reminder
/// goes out once; the agent answers, the customer goes quiet and the conversation auto-closes; the
/// survey is sent and its answer recorded without opening a conversation; the queued customer gets
/// the freed agent.
///
/// Proves HOOK-3 (a redelivered message changes nothing), AUTO-1 (welcome on the first message, once), AUTO-3 (unassigned auto-reply), AUTO-4
/// (capacity, queue, queue message with the position), AUTO-5 (the queued conversation goes to the
/// agent whose conversation closed), AUTO-6 (reminder once per unanswered stretch), AUTO-7
/// (auto-close after the customer's silence), AUTO-9 (CSAT after an agent conversation, answer
/// recorded against the closed conversation), TIME-1/TIME-3 (timers as schedules, fired into the
/// contact's lane), TIME-2 (a stale timer does nothing).
pub async fn seed_004_welcome_queue_reminder_auto_close_csat<D: Deployment>(d: &D) {
    settings(
        d,
        json!({
            "welcome": {"type": "text", "body": WELCOME},
            "unassigned_reply": {"type": "text", "body": UNASSIGNED},
            "queue_message": {"text": "You are number {position} in the queue."},
            "reminder": {"after": 900, "content": {"type": "text", "body": REMINDER}},
            "auto_close_after": 3600,
            "csat": {"question": "How did we do?"}
        }),
    )
    .await;
    agent(d, "ana", 1).await;

    // The first customer: welcome (AUTO-1), then the agent with capacity (AUTO-4).
    let first = crate::webhooks::text(
        FIRST,
        &wamid(),
        d.now().await,
        "Hello, I need help with my order.",
        None,
    );
    post(d, &first).await;
    d.advance(0).await;
    // HOOK-3: Meta delivers the same webhook again a minute later: nothing changes.
    d.advance(60).await;
    post(d, &first).await;
    d.advance(0).await;
    let inbound = log(d, FIRST)
        .await
        .into_iter()
        .filter(|i| i["kind"] == "inbound")
        .count();
    assert_eq!(inbound, 1, "HOOK-3: the redelivered message is logged once");
    let (_, status, handler, agent) = conversation(d, FIRST).await;
    assert_eq!((status.as_str(), handler.as_str()), ("open", "agent"));
    assert_eq!(agent.as_deref(), Some("ana"));
    // Messages decided together (welcome, auto-reply, queue message) reach Meta in no set order:
    // the sender handles a batch's records concurrently. So the checks here ignore their order.
    let first_shown = shown_to(d, FIRST);
    assert_eq!(
        first_shown.iter().filter(|s| *s == WELCOME).count(),
        1,
        "AUTO-1 once: {first_shown:?}"
    );
    assert!(
        !first_shown.iter().any(|s| s == UNASSIGNED),
        "AUTO-13: ana took it in the same step, so nobody was told to wait: {first_shown:?}"
    );

    // The second customer: ana is full, so the queue (AUTO-4) with its message and position.
    says(d, SECOND, "Hi, is anyone there?", None).await;
    d.advance(0).await;
    let (_, status, handler, agent) = conversation(d, SECOND).await;
    assert_eq!(
        (status.as_str(), handler.as_str()),
        ("open", "unassigned"),
        "AUTO-4"
    );
    assert_eq!(agent, None);
    let mut second_shown = shown_to(d, SECOND);
    second_shown.sort();
    assert_eq!(
        second_shown,
        [UNASSIGNED, WELCOME, "You are number 1 in the queue."],
        "AUTO-1, AUTO-3, AUTO-4"
    );
    assert!(
        second_shown.iter().any(|s| s == UNASSIGNED),
        "AUTO-3: {second_shown:?}"
    );
    assert!(
        second_shown
            .iter()
            .any(|s| s == "You are number 1 in the queue."),
        "AUTO-4 queue message with the position: {second_shown:?}"
    );
    let queue = queue_list(d).await;
    let queued: Vec<&str> = queue["items"]
        .as_array()
        .map(|a| a.iter().filter_map(|i| i["contact"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(queued, [SECOND], "{queue}");

    // AUTO-6: ana does not answer the first customer within 15 minutes: one reminder.
    d.advance(901).await;
    let reminders = |d: &D| shown_to(d, FIRST).iter().filter(|s| *s == REMINDER).count();
    assert_eq!(reminders(d), 1, "AUTO-6: {:?}", shown_to(d, FIRST));
    d.advance(1800).await;
    assert_eq!(reminders(d), 1, "AUTO-6 once per unanswered stretch");
    assert!(
        !shown_to(d, SECOND).iter().any(|s| s == REMINDER),
        "no reminder for a queued conversation"
    );

    // ana answers; the customer goes quiet for the auto-close time (AUTO-7).
    ok(
        d,
        "POST",
        &contact_path(FIRST, "/messages"),
        ANA,
        Some(json!({"text": "Your order ships tomorrow."})),
    )
    .await;
    d.advance(1800).await;
    let (_, status, _, _) = conversation(d, FIRST).await;
    assert_eq!(status, "open", "AUTO-7: not before the time");
    d.advance(1801).await;
    let after = detail(d, FIRST).await;
    assert_eq!(after["status"], "closed", "AUTO-7: {after}");

    // AUTO-9: the survey went out after the agent conversation closed.
    let survey = sent_to(d, FIRST)
        .into_iter()
        .rev()
        .find(|r| shown(r) == "How did we do?")
        .unwrap_or_else(|| panic!("AUTO-9: no survey in {:?}", shown_to(d, FIRST)));
    assert_eq!(survey.body["type"], "interactive");
    let ids: Vec<&str> = survey.body["interactive"]["action"]["buttons"]
        .as_array()
        .map(|b| b.iter().filter_map(|b| b["reply"]["id"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(ids, ["csat.3", "csat.2", "csat.1"], "{}", survey.body);

    // AUTO-5: the queued customer now has ana.
    let (_, status, handler, agent) = conversation(d, SECOND).await;
    assert_eq!(
        (status.as_str(), handler.as_str()),
        ("open", "agent"),
        "AUTO-5"
    );
    assert_eq!(agent.as_deref(), Some("ana"), "AUTO-5");

    // The customer answers the survey: recorded, no new conversation (AUTO-9).
    let sent_before = sent_to(d, FIRST).len();
    taps(d, FIRST, &wamid_of(&survey), "csat.3", "Satisfied").await;
    d.advance(0).await;
    let answered = detail(d, FIRST).await;
    assert_eq!(
        answered["status"], "closed",
        "AUTO-9: no new conversation: {answered}"
    );
    assert_eq!(sent_to(d, FIRST).len(), sent_before, "nothing more is sent");
    let items = log(d, FIRST).await;
    let csat = items
        .iter()
        .find(|i| i["kind"] == "notice" && i["notice"]["notice"] == "csat_answered")
        .unwrap_or_else(|| panic!("AUTO-9: the answer is recorded: {items:#?}"));
    assert_eq!(csat["notice"]["score"], 3, "{csat}");
    assert_eq!(csat["notice"]["agent"], "ana", "{csat}");
    assert!(
        items
            .iter()
            .any(|i| i["kind"] == "inbound" && i["body"].to_string().contains("csat.3")),
        "the answer is in the log: {items:#?}"
    );
}
