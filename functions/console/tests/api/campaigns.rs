//! Campaigns at the console: create, CSV lists (CAMP-4), start/stop/retry (CAMP-10), hopper
//! counts that add up (CAMP-2), per-contact history (CAMP-10).

use crate::*;
use rules::campaign::{Campaign, CampaignContact, FailedRowState, RowEvent};
use rules::templates::{ContactField, Template, TemplateCategory, TemplateStatus};
use rules::{CampaignId, TemplateName};
use serde_json::json;
use store::{CampaignRow, CampaignStore, SendingStore, TemplateStore};

fn campaigns() -> String {
    format!("/v1/numbers/{NUMBER}/campaigns")
}

async fn template(h: &Harness, status: TemplateStatus, mapped: bool) {
    let mut t = Template::new(
        TemplateName::new("contact_pref").unwrap(),
        "en",
        TemplateCategory::Marketing,
        "Hi {{1}}, how would you like to be contacted?",
    );
    t.buttons = ["Phone call", "WhatsApp message", "Email"]
        .into_iter()
        .map(|b| rules::templates::Button::QuickReply { text: b.into() })
        .collect();
    t.status = status;
    if mapped {
        t.mapping.body.insert(1, ContactField::FirstName);
    }
    h.store.put_template(&number(), &t).await.unwrap();
}

fn new_campaign(retry: bool) -> serde_json::Value {
    json!({
        "id": "spring-2025",
        "name": "How to contact you",
        "template": "contact_pref",
        "language": "en",
        "starts_at": T0,
        "ends_at": T0 + 7 * 86_400,
        "response_timeout": 86_400,
        "retry_enabled": retry
    })
}

async fn upload(h: &Harness, token: &str, list: &str, csv: &str) -> Reply {
    h.request(
        Method::POST,
        &format!("{}/spring-2025/lists?list={list}", campaigns()),
        Some(token),
        &[],
        Some(("text/csv", csv.as_bytes().to_vec())),
    )
    .await
}

const LIST: &str = "phone,first_name,last_name,email,plan\n\
+4915100000001,Jana,Novák,jana@example.com,gold\n\
015100000002,Petr,,,\n\
+4915100000003,Eva,,not-an-email,\n\
+4915100000001,Jana,Again,,\n\
+1 (415) 555-0100,Sam,,,silver\n";

#[tokio::test]
async fn camp_1_create_a_campaign_in_draft() {
    let h = harness();
    let agent = h.post(&campaigns(), ANA, new_campaign(true)).await;
    assert_eq!(agent.status, StatusCode::FORBIDDEN);
    let unknown = h.post(&campaigns(), BOSS, new_campaign(true)).await;
    assert_eq!(unknown.error(), "unknown_template");
    template(&h, TemplateStatus::Pending, false).await;
    let mut backwards = new_campaign(true);
    backwards["ends_at"] = json!(T0 - 1);
    let r = h.post(&campaigns(), BOSS, backwards).await;
    assert_eq!(r.body["fields"][0]["field"], "ends_at");
    let created = h.post(&campaigns(), BOSS, new_campaign(true)).await;
    assert_eq!(created.status, StatusCode::CREATED, "{created:?}");
    assert_eq!(created.body["status"], "DRAFT");
    assert_eq!(created.body["hopper"]["total"], 0);
    let again = h.post(&campaigns(), BOSS, new_campaign(true)).await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    let read = h.get(&format!("{}/spring-2025", campaigns()), ANA).await;
    assert_eq!(read.body["name"], "How to contact you");
    let other_number = h.get("/v1/numbers/999/campaigns/spring-2025", ANA).await;
    assert_eq!(other_number.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn camp_4_rows_without_a_valid_e164_number_are_refused_with_row_and_reason() {
    let h = harness();
    template(&h, TemplateStatus::Approved, true).await;
    h.post(&campaigns(), BOSS, new_campaign(true)).await;
    let agent = upload(&h, ANA, "march", LIST).await;
    assert_eq!(agent.status, StatusCode::FORBIDDEN);
    let report = upload(&h, BOSS, "march", LIST).await;
    assert_eq!(report.status, StatusCode::OK, "{report:?}");
    assert_eq!(report.body["rows"], 5);
    assert_eq!(report.body["imported"], 2);
    assert_eq!(report.body["added"], 2);
    let refused = report.body["refused"].as_array().unwrap();
    let rows: Vec<(u64, &str)> = refused
        .iter()
        .map(|r| (r["row"].as_u64().unwrap(), r["problem"].as_str().unwrap()))
        .collect();
    assert_eq!(
        rows,
        [
            (3, "invalid_phone"),
            (4, "invalid_email"),
            (5, "duplicate_phone")
        ]
    );
    assert!(
        refused[0]["message"]
            .as_str()
            .unwrap()
            .starts_with("row 3: phone")
    );
    assert!(refused[0]["message"].as_str().unwrap().contains("country"));
    // CAMP-2: the hopper counts the imported contacts.
    assert_eq!(report.body["campaign"]["hopper"]["fresh"], 2);
    assert_eq!(report.body["campaign"]["lists"], json!(["march"]));
    // A second list with a contact already in the campaign adds only the new one.
    let second = upload(&h, BOSS, "april", "phone\n+4915100000001\n+4915100000009\n").await;
    assert_eq!(second.body["imported"], 2);
    assert_eq!(second.body["added"], 1);
    assert_eq!(second.body["campaign"]["hopper"]["total"], 3);
    // A list without a phone column is refused whole.
    let no_phone = upload(&h, BOSS, "may", "name\nJana\n").await;
    assert_eq!(no_phone.status, StatusCode::BAD_REQUEST);
    assert!(
        no_phone.body["message"]
            .as_str()
            .unwrap()
            .contains("phone column")
    );
}

#[tokio::test]
async fn camp_10_start_stop_and_history() {
    let h = harness();
    template(&h, TemplateStatus::Pending, false).await;
    h.post(&campaigns(), BOSS, new_campaign(true)).await;
    let path = format!("{}/spring-2025", campaigns());
    // Cannot start: no list, template not approved, variable unmapped (TPL-1, TPL-3).
    let refused = h.post(&format!("{path}/start"), BOSS, json!({})).await;
    assert_eq!(
        refused.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{refused:?}"
    );
    assert_eq!(refused.error(), "cannot_start");
    let problems: Vec<&str> = refused.body["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        problems,
        ["no_lists", "template_not_approved", "unmapped_variables"]
    );
    template(&h, TemplateStatus::Approved, true).await;
    upload(&h, BOSS, "march", LIST).await;
    let agent = h.post(&format!("{path}/start"), ANA, json!({})).await;
    assert_eq!(agent.status, StatusCode::FORBIDDEN);
    let started = h
        .request(
            Method::POST,
            &format!("{path}/start"),
            Some(BOSS),
            &[("idempotency-key", "go")],
            None,
        )
        .await;
    assert_eq!(started.status, StatusCode::ACCEPTED, "{started:?}");
    assert_eq!(started.body["status"], "RUNNING");
    // The sender is woken with a campaign tick on the outbound queue.
    let jobs = h.outbound_jobs();
    let queue::OutboundJob::CampaignTick(tick) = &jobs[0] else {
        panic!("{jobs:?}")
    };
    assert_eq!(tick.campaign.as_str(), "spring-2025");
    assert_eq!(tick.key, "console:start:spring-2025:go");
    let twice = h.post(&format!("{path}/start"), BOSS, json!({})).await;
    assert_eq!(twice.status, StatusCode::CONFLICT);
    let stopped = h.post(&format!("{path}/stop"), BOSS, json!({})).await;
    assert_eq!(stopped.status, StatusCode::OK);
    assert_eq!(stopped.body["status"], "STOPPED");
    assert_eq!(stopped.body["stop_reason"], "stopped by boss");
    let again = h.post(&format!("{path}/stop"), BOSS, json!({})).await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    // CAMP-10: the per-contact history.
    let history = h.get(&format!("{path}/contacts"), ANA).await;
    assert_eq!(history.status, StatusCode::OK);
    let items = history.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["stage"], "fresh");
    assert_eq!(items[0]["history"][0]["event"]["event"], "imported");
    let page = h.get(&format!("{path}/contacts?limit=1"), ANA).await;
    assert!(page.body["next"].is_string());
}

#[tokio::test]
async fn camp_6_camp_10_a_retry_run_puts_temporary_failures_back_to_fresh() {
    let h = harness();
    template(&h, TemplateStatus::Approved, true).await;
    h.post(&campaigns(), BOSS, new_campaign(true)).await;
    upload(&h, BOSS, "march", LIST).await;
    let path = format!("{}/spring-2025", campaigns());
    // The sender recorded a temporary failure for one contact (a row moved fresh → retry).
    let id = CampaignId::new("spring-2025").unwrap();
    let record = h.store.campaign(&id).await.unwrap().unwrap();
    let mut campaign: Campaign = serde_json::from_value(record.definition).unwrap();
    let rows = h.store.campaign_rows(&id, 10, None).await.unwrap();
    let mut row: CampaignContact = serde_json::from_value(rows.items[0].data.clone()).unwrap();
    campaign
        .apply(
            &mut row,
            RowEvent::Failed {
                code: Some(131000),
                reason: "service error".into(),
                next: FailedRowState::Retry { not_before: None },
                at: t(60),
            },
        )
        .unwrap();
    assert!(
        h.store
            .move_campaign_row(
                &id,
                "fresh",
                &CampaignRow {
                    contact: row.contact.clone(),
                    stage: "retry".into(),
                    // The sender keeps its send bookkeeping beside the contact.
                    data: {
                        let mut data = serde_json::to_value(&row).unwrap();
                        data["emitted"] = json!(1);
                        data["sent_key"] = json!("campaign:spring-2025:1");
                        data
                    },
                },
            )
            .await
            .unwrap()
    );
    let before = h.get(&path, BOSS).await;
    assert_eq!(
        before.body["hopper"],
        json!({"fresh": 1, "retry": 1, "pending": 0, "closed": 0, "total": 2})
    );
    let agent = h.post(&format!("{path}/retry"), ANA, json!({})).await;
    assert_eq!(agent.status, StatusCode::FORBIDDEN);
    // A draft campaign has nothing to retry yet.
    let draft = h.post(&format!("{path}/retry"), BOSS, json!({})).await;
    assert_eq!(draft.status, StatusCode::CONFLICT);
    h.post(&format!("{path}/start"), BOSS, json!({})).await;
    let run = h.post(&format!("{path}/retry"), BOSS, json!({})).await;
    assert_eq!(run.status, StatusCode::ACCEPTED, "{run:?}");
    assert_eq!(run.body["retried"], 1);
    assert_eq!(
        run.body["campaign"]["hopper"],
        json!({"fresh": 2, "retry": 0, "pending": 0, "closed": 0, "total": 2})
    );
    let history = h.get(&format!("{path}/contacts"), BOSS).await;
    let events: Vec<String> = history.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|i| i["history"].as_array().unwrap().iter())
        .map(|e| e["event"]["event"].as_str().unwrap().to_owned())
        .collect();
    assert!(events.contains(&"failed".to_owned()), "{events:?}");
    assert!(events.contains(&"retry_run".to_owned()), "{events:?}");
    // The sender's bookkeeping survives the move (a retry is a new send key, not the old one).
    let moved = h.store.campaign_rows(&id, 10, None).await.unwrap();
    let kept = moved
        .items
        .iter()
        .find(|r| r.contact == row.contact)
        .unwrap();
    assert_eq!(kept.stage, "fresh");
    assert_eq!(kept.data["emitted"], 1);
    assert_eq!(kept.data["sent_key"], "campaign:spring-2025:1");
    // Two ticks: the start and the retry run.
    assert_eq!(h.outbound_jobs().len(), 2);
    // After the campaign's end, retry runs are refused.
    h.clock.set(t(8 * 86_400));
    let late = h.post(&format!("{path}/retry"), BOSS, json!({})).await;
    assert_eq!(late.error(), "campaign_ended");
}

#[tokio::test]
async fn camp_6_retry_runs_are_refused_when_retry_is_off() {
    let h = harness();
    template(&h, TemplateStatus::Approved, true).await;
    h.post(&campaigns(), BOSS, new_campaign(false)).await;
    upload(&h, BOSS, "march", LIST).await;
    let path = format!("{}/spring-2025", campaigns());
    h.post(&format!("{path}/start"), BOSS, json!({})).await;
    let r = h.post(&format!("{path}/retry"), BOSS, json!({})).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.error(), "retry_disabled");
}

// CAMP-10: the number's campaigns in pages (a campaign is in the number's directory from its
// creation); another number's campaigns are not listed.
#[tokio::test]
async fn camp_10_campaigns_are_listed_per_number_in_pages() {
    let h = harness();
    let anonymous = h.request(Method::GET, &campaigns(), None, &[], None).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    template(&h, TemplateStatus::Approved, true).await;
    let empty = h.get(&campaigns(), ANA).await;
    assert_eq!(empty.status, StatusCode::OK, "{empty:?}");
    assert_eq!(empty.body, json!({"items": [], "next": null}));
    for id in ["c-3", "c-1", "c-2", "c-4", "c-5"] {
        let mut body = new_campaign(false);
        body["id"] = json!(id);
        body["name"] = json!(format!("campaign {id}"));
        let created = h.post(&campaigns(), BOSS, body).await;
        assert_eq!(created.status, StatusCode::CREATED, "{created:?}");
    }
    // The directory is the store's (the sender reads it for template events).
    let linked = h.store.number_campaigns(&number()).await.unwrap();
    assert_eq!(linked.len(), 5);
    // Another number's campaign is not this number's.
    h.store
        .put_campaign(&store::CampaignRecord {
            id: CampaignId::new("elsewhere").unwrap(),
            number: BusinessNumberId::new("999").unwrap(),
            definition: json!({}),
            hopper: Default::default(),
        })
        .await
        .unwrap();
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let path = match &cursor {
            Some(c) => format!("{}?limit=2&cursor={c}", campaigns()),
            None => format!("{}?limit=2", campaigns()),
        };
        let page = h.get(&path, ANA).await;
        assert_eq!(page.status, StatusCode::OK, "{page:?}");
        pages += 1;
        for item in page.body["items"].as_array().unwrap() {
            assert_eq!(item["number"], NUMBER);
            assert_eq!(item["status"], "DRAFT");
            assert_eq!(item["version"], 1);
            seen.push(item["id"].as_str().unwrap().to_owned());
        }
        match page.body["next"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen, ["c-1", "c-2", "c-3", "c-4", "c-5"]);
    assert_eq!(pages, 3);
    let bad_cursor = h.get(&format!("{}?cursor=%%%", campaigns()), ANA).await;
    assert_eq!(bad_cursor.status, StatusCode::BAD_REQUEST);
    let bad_limit = h.get(&format!("{}?limit=0", campaigns()), ANA).await;
    assert_eq!(bad_limit.body["fields"][0]["field"], "limit");
}

// Issue 7's error table: campaign writes carry the version the client saw (`If-Match`); a stale
// one answers 409 and changes nothing. A write the sender makes in between (a pause on a
// template event) moves the version, and is not overwritten by a console write without
// `If-Match` (that write runs again on what is stored).
#[tokio::test]
async fn camp_10_campaign_writes_are_refused_on_a_stale_version() {
    let h = harness();
    template(&h, TemplateStatus::Approved, true).await;
    let created = h.post(&campaigns(), BOSS, new_campaign(true)).await;
    assert_eq!(created.body["version"], 1);
    let path = format!("{}/spring-2025", campaigns());
    let listed = h
        .request(
            Method::POST,
            &format!("{path}/lists?list=march"),
            Some(BOSS),
            &[("if-match", "\"1\"")],
            Some(("text/csv", LIST.as_bytes().to_vec())),
        )
        .await;
    assert_eq!(listed.status, StatusCode::OK, "{listed:?}");
    assert_eq!(listed.body["campaign"]["version"], 2);
    // A stale list upload changes nothing: no row added.
    let stale_list = h
        .request(
            Method::POST,
            &format!("{path}/lists?list=april"),
            Some(BOSS),
            &[("if-match", "1")],
            Some(("text/csv", b"phone\n+4915100000009\n".to_vec())),
        )
        .await;
    assert_eq!(stale_list.status, StatusCode::CONFLICT, "{stale_list:?}");
    assert_eq!(stale_list.error(), "stale_version");
    assert_eq!(h.get(&path, ANA).await.body["hopper"]["total"], 2);
    // A start on a stale screen: 409, still DRAFT.
    let stale = h
        .request(
            Method::POST,
            &format!("{path}/start"),
            Some(BOSS),
            &[("if-match", "1")],
            None,
        )
        .await;
    assert_eq!(stale.status, StatusCode::CONFLICT, "{stale:?}");
    assert_eq!(h.get(&path, ANA).await.body["status"], "DRAFT");
    let bad = h
        .request(
            Method::POST,
            &format!("{path}/start"),
            Some(BOSS),
            &[("if-match", "soon")],
            None,
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad.body["fields"][0]["field"], "If-Match");
    let started = h
        .request(
            Method::POST,
            &format!("{path}/start"),
            Some(BOSS),
            &[("if-match", "2")],
            None,
        )
        .await;
    assert_eq!(started.status, StatusCode::ACCEPTED, "{started:?}");
    assert_eq!(started.body["version"], 3);
    // The sender pauses it (TPL-4: the template was paused), a versioned write of its own.
    let read = h
        .store
        .versioned_campaign(&CampaignId::new("spring-2025").unwrap())
        .await
        .unwrap()
        .unwrap();
    let mut campaign: Campaign = serde_json::from_value(read.value.definition.clone()).unwrap();
    campaign
        .stop(rules::campaign::StopReason::TemplatePaused)
        .unwrap();
    let mut paused = read.value.clone();
    paused.definition = serde_json::to_value(&campaign).unwrap();
    assert_eq!(
        h.store.put_campaign_if(&paused, Some(3)).await.unwrap(),
        Some(4)
    );
    // The admin's screen still says 3: the stop is refused, the sender's pause stands.
    let stale_stop = h
        .request(
            Method::POST,
            &format!("{path}/stop"),
            Some(BOSS),
            &[("if-match", "3")],
            None,
        )
        .await;
    assert_eq!(stale_stop.status, StatusCode::CONFLICT);
    let now = h.get(&path, ANA).await;
    assert_eq!(now.body["version"], 4);
    assert_eq!(now.body["status"], "STOPPED");
    // Without If-Match, a start applies to what is stored now.
    let restart = h.post(&format!("{path}/start"), BOSS, json!({})).await;
    assert_eq!(restart.status, StatusCode::ACCEPTED, "{restart:?}");
    assert_eq!(restart.body["version"], 5);
    // A stale retry run moves no row.
    let stale_retry = h
        .request(
            Method::POST,
            &format!("{path}/retry"),
            Some(BOSS),
            &[("if-match", "4")],
            None,
        )
        .await;
    assert_eq!(stale_retry.status, StatusCode::CONFLICT);
}
