//! Numbers' settings (AUTO-1..12 bounds, AUTO-2), agents (AUTO-4 capacity, presence), templates
//! (TPL-1..5, submission to Meta through the port's twin) and the cost report (BILL-3).

use crate::*;
use console::{SubmitError, TemplateCreated};
use serde_json::json;
use store::{LedgerSide, LedgerStore, SendingStore};

fn settings_path() -> String {
    format!("/v1/numbers/{NUMBER}/settings")
}

#[tokio::test]
async fn auto_7_auto_2_settings_bounds_are_checked_and_named() {
    let h = harness();
    // Defaults before anything is saved.
    let defaults = h.get(&settings_path(), ANA).await;
    assert_eq!(defaults.status, StatusCode::OK);
    assert_eq!(defaults.body["bot_timeout"], 600); // AUTO-8
    assert_eq!(defaults.body["outreach_expiry"], 30 * 86_400);
    // Only admins change settings.
    let agent = h.put(&settings_path(), ANA, json!({})).await;
    assert_eq!(agent.status, StatusCode::FORBIDDEN);
    // AUTO-7: auto-close 1 minute to 72 hours.
    for (secs, ok) in [
        (59, false),
        (60, true),
        (24 * 3600, true),
        (72 * 3600, true),
        (72 * 3600 + 1, false),
    ] {
        let r = h
            .put(&settings_path(), BOSS, json!({"auto_close_after": secs}))
            .await;
        if ok {
            assert_eq!(r.status, StatusCode::OK, "{secs}: {r:?}");
        } else {
            assert_eq!(r.status, StatusCode::BAD_REQUEST, "{secs}");
            assert_eq!(r.body["fields"][0]["field"], "auto_close_after");
        }
    }
    // AUTO-2: at most 4 ice breakers, at most 80 characters, no emoji; every problem named.
    let five = h
        .put(
            &settings_path(),
            BOSS,
            json!({"ice_breakers": ["a", "b", "c", "d", "e"]}),
        )
        .await;
    assert_eq!(five.status, StatusCode::BAD_REQUEST);
    assert_eq!(five.body["fields"][0]["field"], "ice_breakers");
    let long_and_emoji = h
        .put(
            &settings_path(),
            BOSS,
            json!({"ice_breakers": ["x".repeat(81), "Where is my order? \u{1F4E6}"]}),
        )
        .await;
    assert_eq!(long_and_emoji.status, StatusCode::BAD_REQUEST);
    let fields: Vec<&str> = long_and_emoji.body["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["ice_breakers[0]", "ice_breakers[1]"]);
    assert!(
        long_and_emoji.body["message"]
            .as_str()
            .unwrap()
            .contains("emoji")
    );
    // A whole configuration: welcome, queue message, reminder, CSAT, closing logic, expiry.
    let full = json!({
        "welcome": {"type": "text", "body": "Welcome!"},
        "ice_breakers": ["Where is my order?", "Opening hours"],
        "unassigned_reply": {"type": "text", "body": "An agent will be with you soon."},
        "queue_message": {"text": "You are number {position} in the queue."},
        "reminder": {"after": 900, "content": {"type": "text", "body": "Still with us?"}},
        "auto_close_after": 86400,
        "csat": {"question": "How did we do?"},
        "closing": "unassign",
        "outreach_expiry": 14 * 86400,
        "expired_outreach_text": "This offer has expired."
    });
    let saved = h.put(&settings_path(), BOSS, full).await;
    assert_eq!(saved.status, StatusCode::OK, "{saved:?}");
    let read = h.get(&settings_path(), ANA).await;
    assert_eq!(read.body["closing"], "unassign");
    assert_eq!(read.body["number"], NUMBER);
    assert_eq!(read.body["ice_breakers"][1], "Opening hours");
    // Other bounds, named.
    let expiry = h
        .put(&settings_path(), BOSS, json!({"outreach_expiry": 0}))
        .await;
    assert_eq!(expiry.body["fields"][0]["field"], "outreach_expiry");
    let other = h
        .put(&settings_path(), BOSS, json!({"number": "999"}))
        .await;
    assert_eq!(other.body["fields"][0]["field"], "number");
    let typo = h
        .put(&settings_path(), BOSS, json!({"closing": "sometimes"}))
        .await;
    assert_eq!(typo.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn auto_4_agents_capacity_and_presence() {
    let h = harness();
    let created = h
        .put(
            "/v1/agents/ana",
            BOSS,
            json!({"capacity": 3, "online": true}),
        )
        .await;
    assert_eq!(created.status, StatusCode::OK, "{created:?}");
    assert_eq!(
        created.body,
        json!({"agent": "ana", "online": true, "open": 0, "capacity": 3, "available": true})
    );
    // Agents do not create agents or change capacity.
    let refused = h.put("/v1/agents/bo", ANA, json!({"capacity": 3})).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let too_many = h
        .put("/v1/agents/bo", BOSS, json!({"capacity": 1001}))
        .await;
    assert_eq!(too_many.body["fields"][0]["field"], "capacity");
    // Presence: one's own, or anyone's as admin.
    let offline = h
        .put("/v1/agents/ana/presence", ANA, json!({"online": false}))
        .await;
    assert_eq!(offline.status, StatusCode::OK);
    assert_eq!(offline.body["available"], false);
    assert_eq!(offline.body["capacity"], 3);
    let others = h
        .put("/v1/agents/ana/presence", BO, json!({"online": true}))
        .await;
    assert_eq!(others.status, StatusCode::FORBIDDEN);
    let unknown = h
        .put("/v1/agents/zed/presence", BOSS, json!({"online": true}))
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    let list = h.get("/v1/agents", BO).await;
    assert_eq!(list.body.as_array().unwrap().len(), 1);
}

fn templates_path() -> String {
    format!("/v1/numbers/{NUMBER}/templates")
}

fn offer() -> serde_json::Value {
    json!({
        "name": "spring_offer",
        "language": "en_US",
        "category": "MARKETING",
        "header": {"kind": "text", "text": "Hello {{1}}"},
        "body": "Hi {{1}}, {{2}} is on sale.",
        "footer": "Reply STOP to opt out",
        "buttons": [{"kind": "quick_reply", "text": "Yes"}, {"kind": "quick_reply", "text": "No"}]
    })
}

#[tokio::test]
async fn tpl_1_tpl_2_templates_are_validated_with_every_field_named() {
    let h = harness();
    let agent = h.post(&templates_path(), ANA, offer()).await;
    assert_eq!(agent.status, StatusCode::FORBIDDEN);
    let bad = json!({
        "name": "Bad Name",
        "language": "english",
        "category": "UTILITY",
        "body": "x".repeat(1025),
        "footer": "f".repeat(61),
        "buttons": [
            {"kind": "url", "text": "a", "url": "https://a.example"},
            {"kind": "url", "text": "b", "url": "https://b.example"},
            {"kind": "url", "text": "c", "url": "ftp://c.example"}
        ]
    });
    let reply = h.post(&templates_path(), BOSS, bad).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{reply:?}");
    let fields: Vec<&str> = reply.body["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    for expected in [
        "name",
        "language",
        "body",
        "footer",
        "buttons",
        "buttons[2].url",
    ] {
        assert!(fields.contains(&expected), "{expected} in {fields:?}");
    }
    // Seed 002's stricter rule, when the number opts in: never both kinds.
    let mut mixed = offer();
    mixed["buttons"] = json!([
        {"kind": "quick_reply", "text": "Yes"},
        {"kind": "url", "text": "Shop", "url": "https://shop.example"}
    ]);
    mixed["button_rules"] = json!("strict");
    let strict = h.post(&templates_path(), BOSS, mixed).await;
    assert_eq!(strict.status, StatusCode::BAD_REQUEST);
    assert!(
        strict.body["message"]
            .as_str()
            .unwrap()
            .contains("cannot be mixed")
    );
    // A valid one: PENDING, quality unknown, variables listed, unmapped (TPL-3).
    let created = h.post(&templates_path(), BOSS, offer()).await;
    assert_eq!(created.status, StatusCode::CREATED, "{created:?}");
    assert_eq!(created.body["status"], "PENDING");
    assert_eq!(created.body["quality"], "UNKNOWN");
    assert_eq!(created.body["sendable"], false);
    assert_eq!(
        created.body["variables"],
        json!(["header {{1}}", "body {{1}}", "body {{2}}"])
    );
    assert_eq!(created.body["unmapped"].as_array().unwrap().len(), 3);
    let again = h.post(&templates_path(), BOSS, offer()).await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    let list = h.get(&templates_path(), ANA).await;
    assert_eq!(list.body.as_array().unwrap().len(), 1);
    let one = h
        .get(&format!("{}/spring_offer/en_US", templates_path()), ANA)
        .await;
    assert_eq!(one.body["name"], "spring_offer");
    let none = h
        .get(&format!("{}/spring_offer/it", templates_path()), ANA)
        .await;
    assert_eq!(none.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn tpl_3_variables_map_to_contact_fields_and_tpl_5_recontact_flag() {
    let h = harness();
    h.post(&templates_path(), BOSS, offer()).await;
    let path = format!("{}/spring_offer/en_US", templates_path());
    let partial = h
        .put(
            &format!("{path}/mapping"),
            BOSS,
            json!({"body": {"1": {"field": "first_name"}}}),
        )
        .await;
    assert_eq!(partial.status, StatusCode::OK, "{partial:?}");
    assert_eq!(
        partial.body["unmapped"],
        json!(["header {{1}}", "body {{2}}"])
    );
    let stray = h
        .put(
            &format!("{path}/mapping"),
            BOSS,
            json!({"body": {"7": {"field": "email"}}}),
        )
        .await;
    assert_eq!(stray.status, StatusCode::BAD_REQUEST);
    assert_eq!(stray.body["fields"][0]["field"], "mapping");
    let full = h
        .put(
            &format!("{path}/mapping"),
            BOSS,
            json!({
                "header": {"1": {"field": "first_name"}},
                "body": {"1": {"field": "first_name"}, "2": {"field": "custom", "name": "product"}}
            }),
        )
        .await;
    assert!(full.body["unmapped"].as_array().unwrap().is_empty());
    let agent = h.put(&format!("{path}/mapping"), ANA, json!({})).await;
    assert_eq!(agent.status, StatusCode::FORBIDDEN);
    let flagged = h
        .put(
            &format!("{path}/recontact"),
            BOSS,
            json!({"recontact": true}),
        )
        .await;
    assert_eq!(flagged.body["recontact"], true);
    assert_eq!(h.get(&path, ANA).await.body["recontact"], true);
}

#[tokio::test]
async fn templates_are_submitted_to_meta_and_its_answer_is_kept() {
    let h = harness();
    h.post(&templates_path(), BOSS, offer()).await;
    let path = format!("{}/spring_offer/en_US/submit", templates_path());
    let bad_waba = h
        .post(&path, BOSS, json!({"waba_id": "not-a-number"}))
        .await;
    assert_eq!(bad_waba.body["fields"][0]["field"], "waba_id");
    let agent = h
        .post(&path, ANA, json!({"waba_id": "102290129340398"}))
        .await;
    assert_eq!(agent.status, StatusCode::FORBIDDEN);
    let ok = h
        .post(
            &path,
            BOSS,
            json!({"waba_id": "102290129340398", "body_examples": ["Jana", "Tea"]}),
        )
        .await;
    assert_eq!(ok.status, StatusCode::OK, "{ok:?}");
    assert_eq!(ok.body["template"]["status"], "PENDING");
    let submitted = h.submitter.submitted();
    assert_eq!(submitted.len(), 1);
    let (waba, body) = &submitted[0];
    assert_eq!(waba, "102290129340398");
    // TPL-4: the account's template webhooks reach this number even before any webhook named
    // it (the sender applies account-level events to the numbers it knows of the account).
    let linked = h.store.account_numbers("102290129340398").await.unwrap();
    assert_eq!(linked.len(), 1);
    assert_eq!(linked[0].number, number());
    assert_eq!(body["name"], "spring_offer");
    assert_eq!(body["category"], "MARKETING");
    assert_eq!(body["components"][0]["type"], "HEADER");
    assert_eq!(
        body["components"][1]["example"]["body_text"],
        json!([["Jana", "Tea"]])
    );
    assert_eq!(
        body["components"][3]["buttons"][0],
        json!({"type": "QUICK_REPLY", "text": "Yes"})
    );
    // Meta approving at once is kept; a refusal is 422 with Meta's words; an outage is 502.
    h.submitter.answer_next(Err(SubmitError::Refused {
        code: 100,
        message: "Invalid parameter".into(),
    }));
    let refused = h
        .post(&path, BOSS, json!({"waba_id": "102290129340398"}))
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        refused.body["message"]
            .as_str()
            .unwrap()
            .contains("Invalid parameter")
    );
    h.submitter
        .answer_next(Err(SubmitError::Unavailable("timeout".into())));
    let down = h
        .post(&path, BOSS, json!({"waba_id": "102290129340398"}))
        .await;
    assert_eq!(down.status, StatusCode::BAD_GATEWAY);
    h.submitter.answer_next(Ok(TemplateCreated {
        id: "1234".into(),
        status: "APPROVED".into(),
        category: Some("UTILITY".into()),
    }));
    let approved = h
        .post(&path, BOSS, json!({"waba_id": "102290129340398"}))
        .await;
    assert_eq!(approved.body["meta_id"], "1234");
    assert_eq!(approved.body["template"]["status"], "APPROVED");
    assert_eq!(approved.body["template"]["category"], "UTILITY");
    let twice = h
        .post(&path, BOSS, json!({"waba_id": "102290129340398"}))
        .await;
    assert_eq!(twice.status, StatusCode::CONFLICT);
}

#[tokio::test]
async fn bill_3_cost_report_predicted_against_reported_per_category_and_day() {
    let h = harness();
    let day = |d| rules::Date::new(2025, 6, d);
    for (d, category, side, count, micros) in [
        (16, "marketing", LedgerSide::Predicted, 2, 50_000),
        (16, "marketing", LedgerSide::Reported, 2, 50_000),
        (16, "utility", LedgerSide::Predicted, 1, 8_000),
        (17, "marketing", LedgerSide::Predicted, 1, 25_000),
        (18, "service", LedgerSide::Reported, 3, 0),
    ] {
        h.store
            .add_to_ledger(&number(), day(d), category, side, count, micros)
            .await
            .unwrap();
    }
    let path = format!("/v1/numbers/{NUMBER}/costs?from=2025-06-16&to=2025-06-17");
    let agent = h.get(&path, ANA).await;
    assert_eq!(agent.status, StatusCode::FORBIDDEN);
    let report = h.get(&path, BOSS).await;
    assert_eq!(report.status, StatusCode::OK, "{report:?}");
    assert_eq!(report.body["lines"].as_array().unwrap().len(), 3);
    assert_eq!(report.body["lines"][0]["day"], "2025-06-16");
    assert_eq!(
        report.body["categories"]["marketing"]["predicted_micros"],
        75_000
    );
    assert_eq!(
        report.body["categories"]["marketing"]["reported_micros"],
        50_000
    );
    assert_eq!(report.body["total"]["predicted_count"], 4);
    for bad in [
        "from=2025-02-30",
        "from=2025-06-18&to=2025-06-17",
        "from=2024-01-01&to=2025-06-17",
        "to=June",
    ] {
        let r = h
            .get(&format!("/v1/numbers/{NUMBER}/costs?{bad}"), BOSS)
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}");
    }
    // Default range: the 30 days up to today.
    h.clock.set(day(18).start() + rules::Duration::hours(12));
    let default = h.get(&format!("/v1/numbers/{NUMBER}/costs"), BOSS).await;
    assert_eq!(default.body["to"], "2025-06-18");
    assert_eq!(default.body["total"]["reported_count"], 5);
}

// BILL-6: the rate table is configuration an admin reads and replaces; bad entries are refused
// with 400 naming the field; the cost report carries its currency and the charge of each line.
#[tokio::test]
async fn bill_6_rate_table_is_admin_configuration() {
    let h = harness();
    assert_eq!(h.get("/v1/rates", BOSS).await.status, StatusCode::NOT_FOUND);
    let table = serde_json::json!({
        "currency": "USD",
        "source": "example",
        "rates": [
            {"category": "marketing", "market": "39", "effective_from": "2025-07-01", "micros": 69100},
            {"category": "marketing", "market": "*", "effective_from": "2025-07-01", "micros": 25000},
            {"category": "utility", "market": "*", "effective_from": "2025-07-01", "micros": 4000}
        ]
    });
    let agent = h.put("/v1/rates", ANA, table.clone()).await;
    assert_eq!(agent.status, StatusCode::FORBIDDEN);
    assert_eq!(h.get("/v1/rates", ANA).await.status, StatusCode::FORBIDDEN);
    let put = h.put("/v1/rates", BOSS, table.clone()).await;
    assert_eq!(put.status, StatusCode::OK, "{put:?}");
    assert_eq!(put.body, table);
    let got = h.get("/v1/rates", BOSS).await;
    assert_eq!(got.body, table);
    assert_eq!(
        h.store.rates().await.unwrap().unwrap().rates[0].micros,
        69_100
    );
    for (edit, field) in [
        (serde_json::json!({"currency": "dollars"}), "currency"),
        (
            serde_json::json!({"rates": [{"category": "promo", "market": "1", "effective_from": "2025-07-01", "micros": 1}]}),
            "rates[0].category",
        ),
        (
            serde_json::json!({"rates": [{"category": "marketing", "market": "1", "effective_from": "2025-02-30", "micros": 1}]}),
            "rates[0].effective_from",
        ),
        (
            serde_json::json!({"rates": [{"category": "marketing", "market": "+1", "effective_from": "2025-07-01", "micros": 1}]}),
            "rates[0].market",
        ),
        (
            serde_json::json!({"rates": [{"category": "marketing", "market": "1", "effective_from": "2025-07-01", "micros": -5}]}),
            "rates[0].micros",
        ),
    ] {
        let mut body = table.clone();
        for (k, v) in edit.as_object().unwrap() {
            body[k] = v.clone();
        }
        let r = h.put("/v1/rates", BOSS, body).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{field}: {r:?}");
        assert!(r.body.to_string().contains(field), "{field}: {r:?}");
    }
    // Nothing refused was stored.
    assert_eq!(h.get("/v1/rates", BOSS).await.body, table);
    let report = h
        .get(
            &format!("/v1/numbers/{NUMBER}/costs?from=2025-06-16&to=2025-06-17"),
            BOSS,
        )
        .await;
    assert_eq!(report.body["currency"], "USD");
}
