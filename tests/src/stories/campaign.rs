//! Seed 002 (an outbound WhatsApp campaign with quick-reply answers).

use super::*;

const IN_TIME: &str = "+4915100020001";
const LATE: &str = "+4915100020002";
const FREE_TEXT: &str = "+4915100020003";
/// Not a WhatsApp user: Meta refuses the send for good (131026).
const NOT_ON_WHATSAPP: &str = "+4915100020004";
/// One hour (seed 002's "indicated response timeout"). Kept short: while contacts are pending the
/// sender ticks the campaign every minute, and every tick is real work on the AWS path.
const RESPONSE_TIMEOUT: u64 = 3600;

fn key(phone: &str) -> &str {
    phone.trim_start_matches('+')
}

/// The campaign's contacts at the console, by contact key.
async fn contacts<D: Deployment>(d: &D) -> Vec<Value> {
    let page = ok(
        d,
        "GET",
        &number_path("/campaigns/spring/contacts?limit=100"),
        ADMIN,
        None,
    )
    .await;
    page["items"].as_array().cloned().unwrap_or_default()
}

async fn campaign_contact<D: Deployment>(d: &D, phone: &str) -> Value {
    contacts(d)
        .await
        .into_iter()
        .find(|c| c["contact"] == key(phone))
        .unwrap_or_else(|| panic!("{phone} is not in the campaign"))
}

async fn hopper<D: Deployment>(d: &D) -> Value {
    ok(d, "GET", &number_path("/campaigns/spring"), ADMIN, None).await["hopper"].clone()
}

/// Seed 002: a campaign "How would you like to be contacted?" with three quick replies, a list of
/// three customers and one who is not on WhatsApp (and a row without a country prefix), a one-hour response timeout and hand-off to
/// an agent. One customer answers with a button in time, one answers after the timeout, one types
/// a free-text answer.
///
/// Proves TPL-3 (the variable mapped to the first name fills the template), TPL-4 (approval by
/// webhook), CAMP-1 (draft, running, completed), CAMP-2 (the hopper adds up at every step), CAMP-4
/// (the bad row is refused with its number, the rest imported), CAMP-6 (a permanent failure
/// closes the contact with its reason), CAMP-7 (an in-time button answer
/// is the contact's result, closes the interaction and hands the conversation to an agent inside
/// the window), CAMP-8 (a late answer is not counted and opens an agent conversation), CAMP-9 (a
/// free-text answer ends the campaign for the contact and opens an agent conversation), CAMP-10
/// (start and the per-contact history), OUT-8 (the buttons carry signed payloads), BILL-3
/// (predicted and reported cost of the campaign's templates).
pub async fn seed_002_campaign_answers_in_time_late_and_free_text<D: Deployment>(d: &D) {
    settings(d, json!({})).await;
    agent(d, "ana", 5).await;
    ok(
        d,
        "POST",
        &number_path("/templates"),
        ADMIN,
        Some(json!({
            "name": "contact_pref",
            "language": "en",
            "category": "MARKETING",
            "body": "Hi {{1}}, how would you like to be contacted?",
            "buttons": [
                {"kind": "quick_reply", "text": "Phone call"},
                {"kind": "quick_reply", "text": "WhatsApp message"},
                {"kind": "quick_reply", "text": "Email"}
            ]
        })),
    )
    .await;
    let mapped = ok(
        d,
        "PUT",
        &number_path("/templates/contact_pref/en/mapping"),
        ADMIN,
        Some(json!({"body": {"1": {"field": "first_name"}}})),
    )
    .await;
    assert_eq!(mapped["unmapped"], json!([]), "TPL-3: {mapped}");
    approve(d, "contact_pref", "en").await;
    let template = ok(
        d,
        "GET",
        &number_path("/templates/contact_pref/en"),
        ADMIN,
        None,
    )
    .await;
    assert_eq!(template["status"], "APPROVED", "TPL-4: {template}");

    // CAMP-1: a draft campaign.
    let now = d.now().await;
    let created = ok(
        d,
        "POST",
        &number_path("/campaigns"),
        ADMIN,
        Some(json!({
            "id": "spring",
            "name": "How would you like to be contacted?",
            "template": "contact_pref",
            "language": "en",
            "starts_at": now,
            "ends_at": now + 7 * DAY as i64,
            "response_timeout": RESPONSE_TIMEOUT,
            "retry_enabled": false,
            "handoff": {"to": "agent", "agent": null}
        })),
    )
    .await;
    assert_eq!(created["status"], "DRAFT", "{created}");

    // CAMP-4: a list; the row without a country prefix is refused with its number.
    let csv = format!(
        "phone,first_name\n{IN_TIME},Jana\n{LATE},Petr\n015100020009,Nobody\n{FREE_TEXT},Eva\n{NOT_ON_WHATSAPP},Otto\n"
    );
    let report = upload_list(d, &csv).await;
    assert_eq!(report["imported"], 4, "{report}");
    assert_eq!(report["refused"][0]["row"], 4, "CAMP-4: {report}");
    assert_eq!(
        report["refused"][0]["problem"], "invalid_phone",
        "CAMP-4: {report}"
    );
    assert_eq!(report["campaign"]["hopper"]["fresh"], 4, "CAMP-2: {report}");

    // CAMP-10: start; the template goes to the three, with the first name and signed buttons;
    // Meta refuses the fourth for good (CAMP-6: permanent, closed with the reason).
    d.graph().fail_recipient(
        key(NOT_ON_WHATSAPP),
        1,
        testkit::fake_graph::FakeFailure::meta(131026),
    );
    let started = ok(
        d,
        "POST",
        &number_path("/campaigns/spring/start"),
        ADMIN,
        None,
    )
    .await;
    assert_eq!(started["status"], "RUNNING", "{started}");
    d.advance(60).await;
    let mut sent = Vec::new();
    for (phone, name) in [(IN_TIME, "Jana"), (LATE, "Petr"), (FREE_TEXT, "Eva")] {
        let request = sent_to(d, key(phone))
            .into_iter()
            .find(|r| r.body["type"] == "template")
            .unwrap_or_else(|| panic!("no template to {phone}"));
        assert_eq!(request.body["template"]["name"], "contact_pref");
        assert!(
            request.body.to_string().contains(name),
            "TPL-3: {name} fills {{{{1}}}}: {}",
            request.body
        );
        let payloads = payloads(&request);
        assert_eq!(payloads.len(), 3, "OUT-8");
        sent.push((wamid_of(&request), payloads));
    }
    let h = hopper(d).await;
    assert_eq!(
        (
            h["pending"].as_i64(),
            h["closed"].as_i64(),
            h["total"].as_i64()
        ),
        (Some(3), Some(1), Some(4)),
        "CAMP-2, CAMP-6: {h}"
    );
    let failed = campaign_contact(d, NOT_ON_WHATSAPP).await;
    assert_eq!(failed["stage"], "closed", "CAMP-6: {failed}");
    assert!(
        failed["result"].to_string().contains("131026"),
        "CAMP-10: the reason: {failed}"
    );
    assert!(sent_to(d, key(NOT_ON_WHATSAPP)).is_empty());
    deliver_all(d, "marketing").await;
    // BILL-3: the three marketing templates, predicted at the send and reported by Meta's statuses.
    let day = super::window::day_of(d.now().await);
    let costs = ok(
        d,
        "GET",
        &number_path(&format!("/costs?from={day}&to={day}")),
        ADMIN,
        None,
    )
    .await;
    let marketing = &costs["categories"]["marketing"];
    assert_eq!(marketing["predicted_count"], 3, "BILL-3: {costs}");
    assert_eq!(marketing["reported_count"], 3, "BILL-3: {costs}");

    // CAMP-7: an in-time answer with a button: the contact's result, an agent conversation.
    d.advance(600).await;
    presses(
        d,
        key(IN_TIME),
        &sent[0].0,
        &sent[0].1[1],
        "WhatsApp message",
    )
    .await;
    d.advance(0).await;
    let answered = campaign_contact(d, IN_TIME).await;
    assert_eq!(answered["stage"], "closed", "CAMP-7: {answered}");
    assert!(
        answered["result"].to_string().contains("WhatsApp message")
            || answered["result"].to_string().contains("\"button\":1"),
        "CAMP-7: the answer is the result: {answered}"
    );
    let (_, status, handler, agent) = conversation(d, key(IN_TIME)).await;
    assert_eq!(
        (status.as_str(), handler.as_str()),
        ("open", "agent"),
        "CAMP-7 hand-off"
    );
    assert_eq!(agent.as_deref(), Some("ana"));
    let window = ok(d, "GET", &contact_path(key(IN_TIME), "/window"), ANA, None).await;
    assert_eq!(
        window["state"], "open",
        "CAMP-7: inside the window: {window}"
    );

    // CAMP-9: a free-text answer ends the campaign for the contact; an agent conversation opens.
    says(
        d,
        key(FREE_TEXT),
        "Please call me in the evening",
        Some(&sent[2].0),
    )
    .await;
    d.advance(0).await;
    let free = campaign_contact(d, FREE_TEXT).await;
    assert_eq!(free["stage"], "closed", "CAMP-9: {free}");
    let (_, status, handler, _) = conversation(d, key(FREE_TEXT)).await;
    assert_eq!(
        (status.as_str(), handler.as_str()),
        ("open", "agent"),
        "CAMP-9"
    );
    let h = hopper(d).await;
    assert_eq!(
        (h["pending"].as_i64(), h["closed"].as_i64()),
        (Some(1), Some(3)),
        "CAMP-2: {h}"
    );

    // CAMP-8: the response timeout passes; a later press is not counted, an agent takes it.
    d.advance(RESPONSE_TIMEOUT).await;
    let late = campaign_contact(d, LATE).await;
    assert_eq!(late["stage"], "closed", "CAMP-8: timed out: {late}");
    let result_before = late["result"].clone();
    presses(d, key(LATE), &sent[1].0, &sent[1].1[0], "Phone call").await;
    d.advance(0).await;
    let late = campaign_contact(d, LATE).await;
    assert_eq!(
        late["result"], result_before,
        "CAMP-8: the late answer is not counted: {late}"
    );
    assert!(
        !late["result"].to_string().contains("Phone call"),
        "CAMP-8: {late}"
    );
    let (_, status, handler, _) = conversation(d, key(LATE)).await;
    assert_eq!(
        (status.as_str(), handler.as_str()),
        ("open", "agent"),
        "CAMP-8"
    );

    // CAMP-2: everyone is closed; CAMP-1: nothing is left, so the campaign completes.
    let h = hopper(d).await;
    assert_eq!(
        (
            h["fresh"].as_i64(),
            h["retry"].as_i64(),
            h["pending"].as_i64(),
            h["closed"].as_i64(),
            h["total"].as_i64()
        ),
        (Some(0), Some(0), Some(0), Some(4), Some(4)),
        "CAMP-2: {h}"
    );
    d.advance(60).await;
    let campaign = ok(d, "GET", &number_path("/campaigns/spring"), ADMIN, None).await;
    assert_eq!(campaign["status"], "COMPLETED", "CAMP-1: {campaign}");
    for c in contacts(d).await {
        assert!(
            c["history"].as_array().is_some_and(|h| !h.is_empty()),
            "CAMP-10: each contact has a history: {c}"
        );
    }
}

/// Uploads a CSV list: a string body goes as `text/csv` ([`Deployment::console`]).
async fn upload_list<D: Deployment>(d: &D, csv: &str) -> Value {
    let r = d
        .console(
            "POST",
            &number_path("/campaigns/spring/lists?list=march"),
            ADMIN,
            Some(Value::String(csv.to_owned())),
        )
        .await;
    assert_eq!(r.status, 200, "list upload: {}", r.body);
    r.body
}
