//! Seed 000 (interactions with expired and ongoing outreach).

use super::*;

/// The notices in a contact's log, oldest first: `(notice, the whole item)`.
async fn notices<D: Deployment>(d: &D, contact: &str) -> Vec<(String, Value)> {
    let mut items: Vec<(String, Value)> = log(d, contact)
        .await
        .into_iter()
        .filter(|i| i["kind"] == "notice")
        .map(|i| (i["notice"]["notice"].as_str().unwrap_or("").to_owned(), i))
        .collect();
    items.reverse();
    items
}

async fn has_notice<D: Deployment>(d: &D, contact: &str, notice: &str) -> Option<Value> {
    notices(d, contact)
        .await
        .into_iter()
        .rev()
        .find(|(n, _)| n == notice)
        .map(|(_, item)| item)
}

/// Sends the approved offer to `contact` as an outreach (by Ana); its (wamid, payloads).
async fn outreach<D: Deployment>(d: &D, contact: &str) -> (String, Vec<String>) {
    let accepted = ok(
        d,
        "POST",
        &contact_path(contact, "/outreach"),
        ANA,
        Some(json!({"name": "spring_offer", "language": "en_US"})),
    )
    .await;
    assert!(
        accepted["outreach"]
            .as_str()
            .is_some_and(|o| o.starts_with("o-")),
        "{accepted}"
    );
    d.advance(30).await;
    let (wamid, payloads) = last_template_to(d, contact);
    assert_eq!(payloads.len(), 2, "OUT-8: a payload per quick reply");
    assert!(
        payloads.iter().all(|p| p.starts_with("sb1.")),
        "OUT-8: {payloads:?}"
    );
    (wamid, payloads)
}

/// A customer talking to the bot (a new bot conversation).
async fn with_bot<D: Deployment>(d: &D, contact: &str) -> String {
    says(d, contact, "Hi there", None).await;
    d.advance(0).await;
    let (id, status, handler, _) = conversation(d, contact).await;
    assert_eq!(
        (status.as_str(), handler.as_str()),
        ("open", "bot"),
        "{contact}"
    );
    id
}

/// A customer handed by the bot to Ana.
async fn with_agent<D: Deployment>(d: &D, contact: &str) -> String {
    with_bot(d, contact).await;
    let menu = sent_to(d, contact)
        .into_iter()
        .rev()
        .find(|r| shown(r) == MENU_TEXT)
        .expect("the bot's menu");
    taps(
        d,
        contact,
        &wamid_of(&menu),
        TALK_TO_A_PERSON,
        "Talk to a person",
    )
    .await;
    d.advance(0).await;
    let (id, status, handler, agent) = conversation(d, contact).await;
    assert_eq!(
        (status.as_str(), handler.as_str()),
        ("open", "agent"),
        "{contact}"
    );
    assert_eq!(agent.as_deref(), Some("ana"));
    id
}

/// Seed 000: every interaction of its two tables, each with its own customer, plus a forged
/// payload and a reply to an unknown message.
///
/// Expired (the outreach was sent 31 days before; expiry 30 days):
/// OUT-EXP-1 a reply, no conversation → plain inbound, the bot handles it;
/// OUT-EXP-2 a press, no conversation → the expired text, no conversation;
/// OUT-EXP-3 a press during a bot conversation → the expired text, the bot conversation goes on;
/// OUT-EXP-4 a press during an agent conversation → an `expired_outreach_pressed` notice for the
/// agent, nothing sent.
///
/// Active:
/// OUT-ACT-1 a reply, no conversation → a conversation from the outreach, the bot handles it;
/// OUT-ACT-2 a press, no conversation → as OUT-ACT-1 with the button recorded;
/// OUT-ACT-3 a press on the outreach that started the bot conversation → closed and a new one;
/// OUT-ACT-4 a press during a bot conversation not from this outreach → closed and a new one;
/// OUT-ACT-5 a press during an agent conversation → an `outreach_pressed` notice, the agent keeps it;
/// OUT-ACT-6 a reply with a conversation open → it joins that conversation.
///
/// Also OUT-8 (payloads carry the outreach and its time under an HMAC: a forged one is plain
/// inbound), OUT-9 (a reply to an unknown message is plain inbound), OUT-7's opposite (a recipe is
/// enabled, so the bot handles new conversations), AUTO-8's hand-off button.
pub async fn seed_000_outreach_expired_and_active_interactions<D: Deployment>(d: &D) {
    settings(d, json!({"recipe": recipe()})).await;
    agent(d, "ana", 5).await;
    approved_template(
        d,
        json!({
            "name": "spring_offer",
            "language": "en_US",
            "category": "MARKETING",
            "body": "Spring sale: 20% off everything this week.",
            "buttons": [
                {"kind": "quick_reply", "text": "Show me"},
                {"kind": "quick_reply", "text": "Not now"}
            ]
        }),
    )
    .await;
    let customers = [
        "4915100000101", // 0 OUT-EXP-1
        "4915100000102", // 1 OUT-EXP-2
        "4915100000103", // 2 OUT-EXP-3
        "4915100000104", // 3 OUT-EXP-4
        "4915100000201", // 4 OUT-ACT-1
        "4915100000202", // 5 OUT-ACT-2
        "4915100000203", // 6 OUT-ACT-3
        "4915100000204", // 7 OUT-ACT-4
        "4915100000205", // 8 OUT-ACT-5
        "4915100000206", // 9 OUT-ACT-6
        "4915100000301", // 10 OUT-8 forged
        "4915100000302", // 11 OUT-9 unknown context
    ];
    for (i, c) in customers.iter().enumerate() {
        contact(d, c, &format!("Customer{i}")).await;
    }

    // ---- Outreach sent 31 days ago: expired now. ----
    let mut old = Vec::new();
    for c in &customers[0..4] {
        old.push(outreach(d, c).await);
    }
    d.advance(31 * DAY).await;

    // OUT-EXP-1: a reply to an expired outreach, no conversation: plain inbound, the bot.
    let c = customers[0];
    says(d, c, "Is this still on?", Some(&old[0].0)).await;
    d.advance(0).await;
    let (_, status, handler, _) = conversation(d, c).await;
    assert_eq!(
        (status.as_str(), handler.as_str()),
        ("open", "bot"),
        "OUT-EXP-1"
    );
    let shown = shown_to(d, c);
    assert_eq!(
        shown.last().map(String::as_str),
        Some(MENU_TEXT),
        "OUT-EXP-1: {shown:?}"
    );
    assert!(
        !shown.iter().any(|s| s == EXPIRED_TEXT),
        "OUT-EXP-1: {shown:?}"
    );
    assert!(
        has_notice(d, c, "started_from_outreach").await.is_none(),
        "OUT-EXP-1"
    );

    // OUT-EXP-2: a press on an expired outreach, no conversation: the expired text, nothing opens.
    let c = customers[1];
    presses(d, c, &old[1].0, &old[1].1[0], "Show me").await;
    d.advance(0).await;
    assert_eq!(
        shown_to(d, c).last().map(String::as_str),
        Some(EXPIRED_TEXT),
        "OUT-EXP-2"
    );
    let after = detail(d, c).await;
    assert_eq!(
        after["status"], "closed",
        "OUT-EXP-2: no conversation: {after}"
    );
    assert!(
        after["conversation"].is_null() || after["conversation"]["status"] == "closed",
        "OUT-EXP-2: {after}"
    );

    // OUT-EXP-3: a press on an expired outreach during a bot conversation: the expired text, the
    // bot conversation goes on.
    let c = customers[2];
    let bot = with_bot(d, c).await;
    presses(d, c, &old[2].0, &old[2].1[1], "Not now").await;
    d.advance(0).await;
    assert_eq!(
        shown_to(d, c).last().map(String::as_str),
        Some(EXPIRED_TEXT),
        "OUT-EXP-3"
    );
    let (id, status, handler, _) = conversation(d, c).await;
    assert_eq!(
        (id, status.as_str(), handler.as_str()),
        (bot, "open", "bot"),
        "OUT-EXP-3"
    );

    // OUT-EXP-4: during an agent conversation: a notice for the agent, nothing sent.
    let c = customers[3];
    let held = with_agent(d, c).await;
    let before = sent_to(d, c).len();
    presses(d, c, &old[3].0, &old[3].1[0], "Show me").await;
    d.advance(0).await;
    assert_eq!(
        sent_to(d, c).len(),
        before,
        "OUT-EXP-4: nothing sent automatically"
    );
    let notice = has_notice(d, c, "expired_outreach_pressed")
        .await
        .expect("OUT-EXP-4: the expired notice in the agent's log");
    assert_eq!(notice["conversation"], held.as_str(), "{notice}");
    let (id, status, handler, agent) = conversation(d, c).await;
    assert_eq!(
        (id, status.as_str(), handler.as_str()),
        (held, "open", "agent")
    );
    assert_eq!(agent.as_deref(), Some("ana"));
    let inbound = log(d, c).await;
    assert!(
        inbound
            .iter()
            .any(|i| i["kind"] == "inbound" && i["body"].to_string().contains("Show me")),
        "OUT-EXP-4: the interacted message is shown: {inbound:#?}"
    );

    // ---- Active outreach. ----
    // OUT-ACT-1: a reply, no conversation: a conversation from the outreach; the bot handles it.
    let c = customers[4];
    let (wamid, _) = outreach(d, c).await;
    says(d, c, "Which shops?", Some(&wamid)).await;
    d.advance(0).await;
    let (_, status, handler, _) = conversation(d, c).await;
    assert_eq!(
        (status.as_str(), handler.as_str()),
        ("open", "bot"),
        "OUT-ACT-1"
    );
    assert_eq!(
        shown_to(d, c).last().map(String::as_str),
        Some(MENU_TEXT),
        "OUT-ACT-1"
    );
    let started = has_notice(d, c, "started_from_outreach")
        .await
        .expect("OUT-ACT-1: the conversation starts from the outreach");
    assert!(
        started["notice"]["button"].is_null(),
        "OUT-ACT-1: no button: {started}"
    );

    // OUT-ACT-2: a press, no conversation: as OUT-ACT-1 with the button recorded.
    let c = customers[5];
    let (wamid, payloads) = outreach(d, c).await;
    presses(d, c, &wamid, &payloads[1], "Not now").await;
    d.advance(0).await;
    let (_, status, handler, _) = conversation(d, c).await;
    assert_eq!(
        (status.as_str(), handler.as_str()),
        ("open", "bot"),
        "OUT-ACT-2"
    );
    let started = has_notice(d, c, "started_from_outreach")
        .await
        .expect("OUT-ACT-2: started from the outreach");
    assert_eq!(
        started["notice"]["button"], 1,
        "OUT-ACT-2: the pressed button: {started}"
    );

    // OUT-ACT-3: a second press on the outreach that started the bot conversation: that one is
    // closed and a new one starts, with the button.
    let c = customers[6];
    let (wamid, payloads) = outreach(d, c).await;
    presses(d, c, &wamid, &payloads[0], "Show me").await;
    d.advance(0).await;
    let (first, _, handler, _) = conversation(d, c).await;
    assert_eq!(handler, "bot");
    presses(d, c, &wamid, &payloads[1], "Not now").await;
    d.advance(0).await;
    let (second, status, handler, _) = conversation(d, c).await;
    assert_ne!(first, second, "OUT-ACT-3: a new conversation");
    assert_eq!(
        (status.as_str(), handler.as_str()),
        ("open", "bot"),
        "OUT-ACT-3"
    );
    let closed = has_notice(d, c, "conversation_closed")
        .await
        .expect("OUT-ACT-3");
    assert_eq!(
        closed["notice"]["reason"], "replaced_by_outreach",
        "{closed}"
    );
    assert_eq!(closed["conversation"], first.as_str(), "{closed}");
    let started = has_notice(d, c, "started_from_outreach")
        .await
        .expect("OUT-ACT-3");
    assert_eq!(started["notice"]["button"], 1, "{started}");
    assert_eq!(started["conversation"], second.as_str(), "{started}");

    // OUT-ACT-4: a press during a bot conversation that no outreach started: closed, a new one
    // from the outreach.
    let c = customers[7];
    let (wamid, payloads) = outreach(d, c).await;
    let plain = with_bot(d, c).await;
    presses(d, c, &wamid, &payloads[0], "Show me").await;
    d.advance(0).await;
    let (replaced, status, handler, _) = conversation(d, c).await;
    assert_ne!(plain, replaced, "OUT-ACT-4: a new conversation");
    assert_eq!(
        (status.as_str(), handler.as_str()),
        ("open", "bot"),
        "OUT-ACT-4"
    );
    let started = has_notice(d, c, "started_from_outreach")
        .await
        .expect("OUT-ACT-4");
    assert_eq!(started["conversation"], replaced.as_str());

    // OUT-ACT-5: a press during an agent conversation: shown to the agent, who keeps it.
    let c = customers[8];
    let held = with_agent(d, c).await;
    let (wamid, payloads) = outreach(d, c).await;
    let before = sent_to(d, c).len();
    presses(d, c, &wamid, &payloads[0], "Show me").await;
    d.advance(0).await;
    assert_eq!(
        sent_to(d, c).len(),
        before,
        "OUT-ACT-5: nothing sent automatically"
    );
    let pressed = has_notice(d, c, "outreach_pressed")
        .await
        .expect("OUT-ACT-5");
    assert_eq!(pressed["notice"]["button"], 0, "{pressed}");
    assert_eq!(pressed["conversation"], held.as_str(), "{pressed}");
    let (id, status, handler, agent) = conversation(d, c).await;
    assert_eq!(
        (id, status.as_str(), handler.as_str()),
        (held, "open", "agent")
    );
    assert_eq!(agent.as_deref(), Some("ana"));

    // OUT-ACT-6: a reply with a conversation open joins it.
    let c = customers[9];
    let open = with_bot(d, c).await;
    let (wamid, _) = outreach(d, c).await;
    let reply = says(d, c, "Tell me more about the sale", Some(&wamid)).await;
    d.advance(0).await;
    let (id, status, _, _) = conversation(d, c).await;
    assert_eq!(
        (id.as_str(), status.as_str()),
        (open.as_str(), "open"),
        "OUT-ACT-6"
    );
    let joined = log(d, c)
        .await
        .into_iter()
        .find(|i| i["message"] == reply.as_str())
        .expect("OUT-ACT-6: the reply is logged");
    assert_eq!(joined["conversation"], open.as_str(), "{joined}");

    // OUT-8: a payload whose HMAC does not match is ignored: plain inbound, no button recorded.
    let c = customers[10];
    let (wamid, payloads) = outreach(d, c).await;
    let mut forged = payloads[0].clone();
    let last = forged.pop().expect("a payload");
    forged.push(if last == 'A' { 'B' } else { 'A' });
    presses(d, c, &wamid, &forged, "Show me").await;
    d.advance(0).await;
    let (_, status, handler, _) = conversation(d, c).await;
    assert_eq!(
        (status.as_str(), handler.as_str()),
        ("open", "bot"),
        "OUT-8: plain inbound"
    );
    let started = has_notice(d, c, "started_from_outreach").await;
    assert!(
        started.is_none(),
        "OUT-8: a forged payload is plain inbound, not an interaction: {started:?}"
    );

    // OUT-9: a reply to a message that is not ours is plain inbound.
    let c = customers[11];
    says(d, c, "Hello?", Some("wamid.NOT_OURS_0001")).await;
    d.advance(0).await;
    let (_, status, handler, _) = conversation(d, c).await;
    assert_eq!(
        (status.as_str(), handler.as_str()),
        ("open", "bot"),
        "OUT-9"
    );
    assert!(
        has_notice(d, c, "started_from_outreach").await.is_none(),
        "OUT-9"
    );
    assert_eq!(shown_to(d, c), [MENU_TEXT], "OUT-9: the bot answers");
}

/// Ana sends the approved offer to `contact` through the message endpoint (an agent's template
/// send, not the outreach action); the sent template's (wamid, payloads).
async fn agent_template<D: Deployment>(d: &D, contact: &str) -> (String, Vec<String>) {
    let accepted = ok(
        d,
        "POST",
        &contact_path(contact, "/messages"),
        ANA,
        Some(json!({"template": {"name": "spring_offer", "language": "en_US"}})),
    )
    .await;
    assert_eq!(accepted["agent"], "ana", "{accepted}");
    d.advance(30).await;
    let (wamid, payloads) = last_template_to(d, contact);
    assert_eq!(
        payloads.len(),
        2,
        "OUT-10 / OUT-8: an agent's template carries a payload per quick reply"
    );
    assert!(
        payloads.iter().all(|p| p.starts_with("sb1.")),
        "OUT-10 / OUT-8: signed payloads: {payloads:?}"
    );
    (wamid, payloads)
}

/// OUT-10 (issue 16, case 4): an agent's template with quick replies, sent through
/// `POST …/contacts/{c}/messages`, is an outreach: its buttons carry OUT-8's signed payloads and
/// seed 000's table applies to it, while the send stays an agent's (CHAN-2: it opens a
/// conversation assigned to Ana). A template without buttons stays a plain template send.
///
/// - OUT-ACT-5: a press while Ana's conversation is open is shown to her with the button.
/// - OUT-ACT-2: a press after she closed it starts a conversation from the outreach with the
///   button recorded (the bot handles it), not a plain inbound one.
/// - OUT-EXP-2: a press 31 days after such a send gets the expired text and opens nothing, not
///   the bot.
pub async fn out_10_an_agents_quick_reply_template_is_an_outreach<D: Deployment>(d: &D) {
    settings(d, json!({"recipe": recipe()})).await;
    agent(d, "ana", 5).await;
    approved_template(
        d,
        json!({
            "name": "spring_offer",
            "language": "en_US",
            "category": "MARKETING",
            "body": "Spring sale: 20% off everything this week.",
            "buttons": [
                {"kind": "quick_reply", "text": "Show me"},
                {"kind": "quick_reply", "text": "Not now"}
            ]
        }),
    )
    .await;
    approved_template(
        d,
        json!({
            "name": "order_shipped",
            "language": "en_US",
            "category": "UTILITY",
            "body": "Your order shipped."
        }),
    )
    .await;
    let expired = "4915100001001";
    let held = "4915100001002";
    let closed = "4915100001003";
    let plain = "4915100001004";
    for (i, c) in [expired, held, closed, plain].iter().enumerate() {
        contact(d, c, &format!("Customer{i}")).await;
    }

    // A template without buttons stays a plain template send: nothing to sign.
    ok(
        d,
        "POST",
        &contact_path(plain, "/messages"),
        ANA,
        Some(json!({"template": {"name": "order_shipped", "language": "en_US"}})),
    )
    .await;
    d.advance(30).await;
    let (_, none) = last_template_to(d, plain);
    assert!(none.is_empty(), "no buttons, no payloads: {none:?}");

    // OUT-EXP-2: Ana's template, closed by her, pressed 31 days later: the expired text, no
    // conversation, not the bot.
    let (wamid, payloads) = agent_template(d, expired).await;
    let (_, status, handler, agent) = conversation(d, expired).await;
    assert_eq!(
        (status.as_str(), handler.as_str(), agent.as_deref()),
        ("open", "agent", Some("ana")),
        "CHAN-2: the agent's send is still an agent's"
    );
    ok(d, "POST", &contact_path(expired, "/close"), ANA, None).await;
    d.advance(31 * DAY).await;
    presses(d, expired, &wamid, &payloads[0], "Show me").await;
    d.advance(0).await;
    let shown = shown_to(d, expired);
    assert_eq!(
        shown.last().map(String::as_str),
        Some(EXPIRED_TEXT),
        "OUT-10 / OUT-EXP-2: {shown:?}"
    );
    assert!(
        !shown.iter().any(|s| s == MENU_TEXT),
        "OUT-10 / OUT-EXP-2: not the bot: {shown:?}"
    );
    let after = detail(d, expired).await;
    assert_eq!(
        after["status"], "closed",
        "OUT-EXP-2: no conversation: {after}"
    );

    // OUT-ACT-5: pressed while Ana's conversation is open: shown to her with the button.
    let (wamid, payloads) = agent_template(d, held).await;
    let (conv, ..) = conversation(d, held).await;
    d.advance(3 * DAY).await;
    let before = sent_to(d, held).len();
    presses(d, held, &wamid, &payloads[1], "Not now").await;
    d.advance(0).await;
    assert_eq!(
        sent_to(d, held).len(),
        before,
        "OUT-10 / OUT-ACT-5: nothing sent automatically"
    );
    let pressed = has_notice(d, held, "outreach_pressed")
        .await
        .expect("OUT-10 / OUT-ACT-5: the press is an outreach interaction");
    assert_eq!(pressed["notice"]["button"], 1, "{pressed}");
    assert_eq!(pressed["conversation"], conv.as_str(), "{pressed}");
    let (id, status, handler, agent) = conversation(d, held).await;
    assert_eq!(
        (
            id.as_str(),
            status.as_str(),
            handler.as_str(),
            agent.as_deref()
        ),
        (conv.as_str(), "open", "agent", Some("ana")),
        "OUT-ACT-5: Ana keeps it"
    );

    // OUT-ACT-2: pressed within 30 days after Ana closed the conversation: a conversation from
    // the outreach with the button recorded, for the bot.
    let (wamid, payloads) = agent_template(d, closed).await;
    ok(d, "POST", &contact_path(closed, "/close"), ANA, None).await;
    d.advance(29 * DAY).await;
    presses(d, closed, &wamid, &payloads[0], "Show me").await;
    d.advance(0).await;
    let (_, status, handler, _) = conversation(d, closed).await;
    assert_eq!(
        (status.as_str(), handler.as_str()),
        ("open", "bot"),
        "OUT-10 / OUT-ACT-2"
    );
    let started = has_notice(d, closed, "started_from_outreach")
        .await
        .expect("OUT-10 / OUT-ACT-2: started from the outreach, not plain inbound");
    assert_eq!(
        started["notice"]["button"], 0,
        "OUT-ACT-2: the pressed button: {started}"
    );
    assert!(
        !shown_to(d, closed).iter().any(|s| s == EXPIRED_TEXT),
        "OUT-ACT-2: active, not expired"
    );
}
