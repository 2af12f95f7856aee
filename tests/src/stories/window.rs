//! Seed 003 (the customer service window check).

use super::*;

const CUSTOMER: &str = "4915100030001";

/// Seed 003: while the customer service window is open an agent's free-form message is sent;
/// once it has closed, free-form is refused with the reason (422) and a template is sent instead,
/// as is the number's recontact template for a free-form send that asks for it.
///
/// Then a customer from a click-to-WhatsApp ad: the free entry point window opens with the
/// business's answer and does not allow free-form once the service window has closed.
///
/// Proves SEND-2 (a service error is retried after a backoff), WIN-3 (the free entry point window), WIN-1 (the window opens at the customer's message time, 24 h), WIN-4 (the window check,
/// open and closed), WIN-5 (free-form only inside the window), CHAN-1 (templates only after it),
/// TPL-1/TPL-4 (an approved template is sendable), TPL-5 (the recontact template), OUT-7 (no recipe:
/// the conversation goes to an agent), AUTO-4 (the agent with capacity), BILL-3 (predicted and
/// reported costs).
pub async fn seed_003_window_open_free_form_closed_template<D: Deployment>(d: &D) {
    settings(d, json!({})).await;
    agent(d, "ana", 5).await;
    approved_template(
        d,
        json!({
            "name": "order_update",
            "language": "en_US",
            "category": "UTILITY",
            "body": "Your order has shipped.",
            "recontact": false
        }),
    )
    .await;
    approved_template(
        d,
        json!({
            "name": "come_back",
            "language": "en_US",
            "category": "UTILITY",
            "body": "Hello, the chat window has expired, please reply to this message if you still need support.",
            "recontact": true
        }),
    )
    .await;

    // The customer writes: the window opens at the message's timestamp (WIN-1).
    let t0 = d.now().await;
    says(d, CUSTOMER, "Where is my parcel?", None).await;
    d.advance(0).await;
    let (_, status, handler, agent) = conversation(d, CUSTOMER).await;
    assert_eq!(
        (status.as_str(), handler.as_str()),
        ("open", "agent"),
        "OUT-7, AUTO-4"
    );
    assert_eq!(agent.as_deref(), Some("ana"));

    // WIN-4: open, a service window closing 24 h after the customer's message.
    let window = ok(d, "GET", &contact_path(CUSTOMER, "/window"), ANA, None).await;
    assert_eq!(window["state"], "open", "{window}");
    assert_eq!(window["kind"], "service", "{window}");
    assert_eq!(window["closes_at"], t0 + DAY as i64, "{window}");
    assert_eq!(window["free_form"], "allowed", "{window}");

    // WIN-5: free-form inside the window is sent. Meta answers the first attempt with a service
    // error (131000): SEND-2 retries it after a backoff, and it goes out once.
    d.graph()
        .fail_recipient(CUSTOMER, 1, testkit::fake_graph::FakeFailure::meta(131000));
    let accepted = ok(
        d,
        "POST",
        &contact_path(CUSTOMER, "/messages"),
        ANA,
        Some(json!({"text": "It left our warehouse this morning."})),
    )
    .await;
    assert!(accepted["key"].is_string(), "{accepted}");
    d.advance(60).await;
    assert_eq!(
        shown_to(d, CUSTOMER),
        ["It left our warehouse this morning."],
        "the free-form reply reached Meta"
    );
    let attempts = d
        .graph()
        .requests()
        .into_iter()
        .filter(|r| r.to() == Some(CUSTOMER))
        .count();
    assert_eq!(attempts, 2, "SEND-2: one refused attempt, one retry");
    deliver_all(d, "service").await;

    // 25 hours later the window has closed (WIN-1, WIN-4).
    d.advance(25 * 3600).await;
    let window = ok(d, "GET", &contact_path(CUSTOMER, "/window"), ANA, None).await;
    assert_eq!(window["state"], "closed", "{window}");
    assert_eq!(window["closed_since"], t0 + DAY as i64, "{window}");
    assert_eq!(window["free_form"], "template_only", "{window}");
    assert_eq!(window["template"], "allowed", "{window}");

    // WIN-5, CHAN-1: free-form is refused with the reason; nothing is sent.
    let refusal = d
        .console(
            "POST",
            &contact_path(CUSTOMER, "/messages"),
            ANA,
            Some(json!({"text": "Are you still there?"})),
        )
        .await;
    assert_eq!(refused(&refusal, 422), "window_closed");
    assert!(
        refusal.body["message"]
            .as_str()
            .unwrap_or("")
            .contains("template"),
        "the reason names templates: {}",
        refusal.body
    );

    // A template is accepted and sent.
    ok(
        d,
        "POST",
        &contact_path(CUSTOMER, "/messages"),
        ANA,
        Some(json!({"template": {"name": "order_update", "language": "en_US"}})),
    )
    .await;
    d.advance(60).await;
    assert_eq!(
        shown_to(d, CUSTOMER),
        [
            "It left our warehouse this morning.",
            "template:order_update"
        ],
        "only the template went out after the window closed"
    );

    // TPL-5: a free-form send that asks for it goes out as the recontact template.
    let recontact = ok(
        d,
        "POST",
        &contact_path(CUSTOMER, "/messages"),
        ANA,
        Some(json!({"text": "Can we help further?", "recontact_if_closed": true})),
    )
    .await;
    assert_eq!(recontact["recontact"], true, "{recontact}");
    d.advance(60).await;
    assert_eq!(
        shown_to(d, CUSTOMER),
        [
            "It left our warehouse this morning.",
            "template:order_update",
            "template:come_back"
        ]
    );

    // The log shows the inbound message and every outbound one with its delivery state.
    deliver_all(d, "utility").await;
    let items = log(d, CUSTOMER).await;
    let outbound: Vec<&Value> = items.iter().filter(|i| i["kind"] == "outbound").collect();
    assert_eq!(outbound.len(), 3, "{items:#?}");
    assert!(
        outbound
            .iter()
            .all(|i| i["delivery"]["status"] == "delivered"),
        "{outbound:#?}"
    );
    assert!(items.iter().any(|i| i["kind"] == "inbound"), "{items:#?}");

    // BILL-3: the two utility templates were predicted and reported as utility.
    let day = day_of(d.now().await);
    let costs = ok(
        d,
        "GET",
        &number_path(&format!("/costs?from={}&to={day}", day_of(t0))),
        ADMIN,
        None,
    )
    .await;
    let utility = &costs["categories"]["utility"];
    assert_eq!(utility["predicted_count"], 2, "{costs}");
    assert_eq!(utility["reported_count"], 2, "{costs}");

    // WIN-3: a customer from a click-to-WhatsApp ad. The business answers within 24 h, which
    // opens the 72-hour free entry point window; it changes the price, not what may be sent: once
    // the customer service window has closed, free-form is refused all the same.
    let from_ad = "4915100030002";
    let at = d.now().await;
    post(
        d,
        &crate::webhooks::text_from_ad(from_ad, &wamid(), at, "Tell me about the sale"),
    )
    .await;
    d.advance(0).await;
    let window = ok(d, "GET", &contact_path(from_ad, "/window"), ANA, None).await;
    assert_eq!(
        window["kind"], "service",
        "WIN-3: not before the answer: {window}"
    );
    let answered_at = d.now().await;
    ok(
        d,
        "POST",
        &contact_path(from_ad, "/messages"),
        ANA,
        Some(json!({"text": "20% off all week."})),
    )
    .await;
    d.advance(60).await;
    let window = ok(d, "GET", &contact_path(from_ad, "/window"), ANA, None).await;
    assert_eq!(window["state"], "open", "{window}");
    assert_eq!(window["kind"], "free_entry_point", "WIN-3, WIN-4: {window}");
    let until = window["free_entry_point_until"].as_i64().unwrap_or(0);
    assert!(
        (answered_at + 72 * 3600..=answered_at + 72 * 3600 + 60).contains(&until),
        "WIN-3: 72 h from the answer: {window}"
    );
    d.advance(25 * 3600).await;
    let window = ok(d, "GET", &contact_path(from_ad, "/window"), ANA, None).await;
    assert_eq!(
        window["state"], "closed",
        "WIN-3: the CSW decides: {window}"
    );
    assert_eq!(window["free_entry_point_until"], until, "{window}");
    assert_eq!(window["free_form"], "template_only", "WIN-3: {window}");
    let refusal = d
        .console(
            "POST",
            &contact_path(from_ad, "/messages"),
            ANA,
            Some(json!({"text": "Still interested?"})),
        )
        .await;
    assert_eq!(
        refused(&refusal, 422),
        "window_closed",
        "WIN-3: no free-form outside the CSW"
    );
}

/// `YYYY-MM-DD` of a unix time (UTC).
pub fn day_of(unix: i64) -> String {
    rules::Timestamp::from_unix(unix).date().to_string()
}
