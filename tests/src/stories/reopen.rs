//! Seed 001 (an agent's outbound message to a contact with a closed conversation).

use super::*;

const CUSTOMER: &str = "4915100010001";

/// Seed 001: a conversation is closed (the contact is unassigned, per the number's closing logic);
/// another agent finds the contact among the closed ones by name and writes to them; the
/// conversation reopens and is assigned to that agent.
///
/// Two days later, the window closed, the first agent reopens it with the recontact template.
///
/// Proves CHAN-2 (an agent's outbound message reopens a closed conversation and assigns it to the
/// sender, inside the window and with a template after it), TPL-5 (the recontact template), CHAN-3 (`unassign` on close), CHAN-4 (search by name in All / Mine, filtered by
/// Closed), CHAN-1/WIN-5 (free-form inside the window), AUTO-4 (the first conversation goes to the
/// agent with capacity, ties to the smaller id).
pub async fn seed_001_agent_reopens_a_closed_conversation<D: Deployment>(d: &D) {
    settings(d, json!({"closing": "unassign"})).await;
    agent(d, "ana", 5).await;
    agent(d, "ben", 5).await;
    approved_template(
        d,
        json!({
            "name": "follow_up",
            "language": "en_US",
            "category": "UTILITY",
            "body": "Hello, the chat window has expired, please reply to this message if you still need support.",
            "recontact": true
        }),
    )
    .await;

    says(d, CUSTOMER, "My invoice is wrong.", None).await;
    d.advance(0).await;
    ok(
        d,
        "PUT",
        &contact_path(CUSTOMER, ""),
        ADMIN,
        Some(json!({"first_name": "Jana", "last_name": "Novak", "email": "jana@example.com"})),
    )
    .await;
    let (first, status, handler, agent) = conversation(d, CUSTOMER).await;
    assert_eq!((status.as_str(), handler.as_str()), ("open", "agent"));
    assert_eq!(
        agent.as_deref(),
        Some("ana"),
        "AUTO-4: ties go to the smaller id"
    );

    ok(
        d,
        "POST",
        &contact_path(CUSTOMER, "/messages"),
        ANA,
        Some(json!({"text": "We are checking it."})),
    )
    .await;
    d.advance(120).await;
    ok(d, "POST", &contact_path(CUSTOMER, "/close"), ANA, None).await;
    d.advance(60).await;

    // CHAN-3 `unassign`: closed, nobody holds the contact.
    let closed = detail(d, CUSTOMER).await;
    assert_eq!(closed["status"], "closed", "{closed}");
    assert!(closed["assignee"].is_null(), "CHAN-3 unassign: {closed}");

    // CHAN-4: Ben finds the contact among the closed ones of All by first name; not in his Mine.
    let found = ok(
        d,
        "GET",
        &number_path("/contacts?q=Jana&scope=all&status=closed"),
        BEN,
        None,
    )
    .await;
    let items = found["items"].as_array().cloned().unwrap_or_default();
    assert_eq!(items.len(), 1, "{found}");
    assert_eq!(items[0]["contact"], CUSTOMER);
    let mine = ok(
        d,
        "GET",
        &number_path("/contacts?q=Jana&scope=mine&status=closed"),
        BEN,
        None,
    )
    .await;
    assert_eq!(mine["items"].as_array().map(Vec::len), Some(0), "{mine}");
    let open = ok(
        d,
        "GET",
        &number_path("/contacts?q=Novak&scope=all&status=open"),
        BEN,
        None,
    )
    .await;
    assert_eq!(open["items"].as_array().map(Vec::len), Some(0), "{open}");

    // CHAN-2: Ben's outbound message reopens the conversation, assigned to Ben.
    d.advance(2 * 3600).await;
    ok(
        d,
        "POST",
        &contact_path(CUSTOMER, "/messages"),
        BEN,
        Some(json!({"text": "Hi Jana, the corrected invoice is on its way."})),
    )
    .await;
    d.advance(60).await;
    assert_eq!(
        shown_to(d, CUSTOMER),
        [
            "We are checking it.",
            "Hi Jana, the corrected invoice is on its way."
        ]
    );
    let (reopened, status, handler, agent) = conversation(d, CUSTOMER).await;
    assert_eq!(
        (status.as_str(), handler.as_str()),
        ("open", "agent"),
        "CHAN-2"
    );
    assert_eq!(
        agent.as_deref(),
        Some("ben"),
        "CHAN-2: assigned to the sender"
    );
    assert!(!reopened.is_empty() && !first.is_empty());
    let bens = ok(
        d,
        "GET",
        &number_path("/contacts?q=Jana&scope=mine&status=open"),
        BEN,
        None,
    )
    .await;
    assert_eq!(bens["items"][0]["contact"], CUSTOMER, "{bens}");
    assert_eq!(bens["items"][0]["assignee"], "ben", "{bens}");

    // Ben closes it; two days later the window has closed. WhatsApp allows only templates then
    // (CHAN-1, WIN-5): Ana's free-form is refused, her message goes as the recontact template
    // (TPL-5), and the conversation reopens assigned to her (CHAN-2).
    ok(d, "POST", &contact_path(CUSTOMER, "/close"), BEN, None).await;
    d.advance(2 * DAY).await;
    assert_eq!(detail(d, CUSTOMER).await["status"], "closed");
    let refusal = d
        .console(
            "POST",
            &contact_path(CUSTOMER, "/messages"),
            ANA,
            Some(json!({"text": "Did the invoice arrive?"})),
        )
        .await;
    assert_eq!(refused(&refusal, 422), "window_closed", "CHAN-1");
    let accepted = ok(
        d,
        "POST",
        &contact_path(CUSTOMER, "/messages"),
        ANA,
        Some(json!({"text": "Did the invoice arrive?", "recontact_if_closed": true})),
    )
    .await;
    assert_eq!(accepted["recontact"], true, "TPL-5: {accepted}");
    d.advance(60).await;
    assert_eq!(
        shown_to(d, CUSTOMER).last().map(String::as_str),
        Some("template:follow_up"),
        "TPL-5: the recontact template went out"
    );
    let (_, status, handler, agent) = conversation(d, CUSTOMER).await;
    assert_eq!(
        (status.as_str(), handler.as_str()),
        ("open", "agent"),
        "CHAN-2"
    );
    assert_eq!(
        agent.as_deref(),
        Some("ana"),
        "CHAN-2: assigned to the sender"
    );
}
