//! Agent actions: each becomes a lane event in the contact's FIFO group (issue 7, item 4), after
//! the checks the console can make now. WIN-5, CHAN-1, CHAN-2, CHAN-3, AUTO-5, AUTO-9, AUTO-10.

use crate::*;
use rules::templates::{Template, TemplateCategory, TemplateStatus};
use rules::{AgentAction, Event, OutboundContent, TemplateName};
use serde_json::json;
use store::{AgentStore, ConsoleStore, ContactProfile, TemplateStore};

const JANA: &str = "4915100000001";

fn group(contact: &str) -> String {
    format!("{NUMBER}#{contact}")
}

fn action(h: &Harness) -> AgentAction {
    let events = h.lane_events();
    assert_eq!(events.len(), 1, "{events:?}");
    match events.into_iter().next().unwrap().2 {
        Event::Agent(a) => a,
        other => panic!("{other:?}"),
    }
}

async fn approved_template(h: &Harness, name: &str, body: &str, recontact: bool) {
    let mut t = Template::new(
        TemplateName::new(name).unwrap(),
        "en",
        TemplateCategory::Utility,
        body,
    );
    t.status = TemplateStatus::Approved;
    t.recontact = recontact;
    h.store.put_template(&number(), &t).await.unwrap();
}

#[tokio::test]
async fn win_5_free_form_inside_the_window_is_queued_in_the_contacts_lane() {
    let h = harness();
    h.plant(JANA, open_with(held_by("ana"), -60)).await;
    let reply = h
        .post(
            &format!("{}/messages", contact_path(JANA)),
            ANA,
            json!({"text": "On it!"}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{reply:?}");
    assert_eq!(reply.body["agent"], "ana");
    let events = h.lane_events();
    assert_eq!(events[0].0, reply.body["key"].as_str().unwrap());
    assert_eq!(events[0].1, group(JANA));
    assert_eq!(
        action(&h),
        AgentAction::Send {
            agent: agent("ana"),
            content: OutboundContent::text("On it!"),
            recontact_if_closed: false,
        }
    );
    // Nothing is written to the contact by the console: the router owns it.
    let after = h.get(&contact_path(JANA), ANA).await;
    assert_eq!(
        after.body["conversation"]["last_agent_at"],
        serde_json::Value::Null
    );
}

#[tokio::test]
async fn win_5_free_form_outside_the_window_is_refused_with_the_reason_or_sent_as_recontact() {
    let h = harness();
    h.plant(JANA, open_with(held_by("ana"), -25 * 3600)).await;
    let path = format!("{}/messages", contact_path(JANA));
    let refused = h.post(&path, ANA, json!({"text": "Still there?"})).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(refused.error(), "window_closed");
    assert!(
        refused.body["message"]
            .as_str()
            .unwrap()
            .starts_with("window closed: templates only")
    );
    // Asked for the recontact template, but the number has none approved (TPL-5).
    let none = h
        .post(
            &path,
            ANA,
            json!({"text": "Still there?", "recontact_if_closed": true}),
        )
        .await;
    assert_eq!(none.error(), "no_recontact_template");
    assert!(h.lane_events().is_empty());
    approved_template(
        &h,
        "recontact_hello",
        "Hello, the chat window has expired.",
        true,
    )
    .await;
    let ok = h
        .post(
            &path,
            ANA,
            json!({"text": "Still there?", "recontact_if_closed": true}),
        )
        .await;
    assert_eq!(ok.status, StatusCode::ACCEPTED, "{ok:?}");
    assert_eq!(ok.body["recontact"], true);
    assert!(matches!(
        action(&h),
        AgentAction::Send {
            recontact_if_closed: true,
            ..
        }
    ));
}

#[tokio::test]
async fn win_5_templates_go_out_after_the_window_only_when_approved_with_mapped_fields() {
    let h = harness();
    h.plant(JANA, |s| s.windows.record_inbound(t(-30 * 3600), false))
        .await;
    h.store
        .put_profile(
            &number(),
            &ContactKey::new(JANA).unwrap(),
            &ContactProfile {
                first_name: Some("Jana".into()),
                ..ContactProfile::default()
            },
            t(0),
        )
        .await
        .unwrap();
    let path = format!("{}/messages", contact_path(JANA));
    let mut pending = Template::new(
        TemplateName::new("follow_up").unwrap(),
        "en",
        TemplateCategory::Utility,
        "Hello {{1}}, any news?",
    );
    pending
        .mapping
        .body
        .insert(1, rules::templates::ContactField::FirstName);
    h.store.put_template(&number(), &pending).await.unwrap();
    let body = json!({"template": {"name": "follow_up", "language": "en"}});
    // TPL-1: only APPROVED templates are sent.
    let refused = h.post(&path, ANA, body.clone()).await;
    assert_eq!(refused.error(), "template_not_approved");
    pending.status = TemplateStatus::Approved;
    h.store.put_template(&number(), &pending).await.unwrap();
    let ok = h.post(&path, ANA, body).await;
    assert_eq!(ok.status, StatusCode::ACCEPTED, "{ok:?}");
    // TPL-3: the variable is filled from the contact's first name.
    let AgentAction::Send { content, .. } = action(&h) else {
        panic!()
    };
    assert_eq!(
        content,
        OutboundContent::Template {
            name: TemplateName::new("follow_up").unwrap(),
            language: "en".into(),
            header: None,
            parameters: vec!["Jana".into()],
            button_payloads: Vec::new(),
        }
    );
    let wrong = h
        .post(
            &path,
            ANA,
            json!({"template": {"name": "follow_up", "language": "en", "parameters": []}}),
        )
        .await;
    assert_eq!(wrong.status, StatusCode::BAD_REQUEST);
    let unknown = h
        .post(
            &path,
            ANA,
            json!({"template": {"name": "nope", "language": "en"}}),
        )
        .await;
    assert_eq!(unknown.error(), "unknown_template");
    let both = h
        .post(
            &path,
            ANA,
            json!({"text": "x", "template": {"name": "follow_up", "language": "en"}}),
        )
        .await;
    assert_eq!(both.status, StatusCode::BAD_REQUEST);
    let empty = h.post(&path, ANA, json!({"text": "  "})).await;
    assert_eq!(empty.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn chan_2_an_agent_reopens_a_closed_conversation_by_sending_and_it_is_theirs() {
    let h = harness();
    // Closed, kept by bo (CHAN-3), window open (the customer wrote an hour ago).
    h.plant(JANA, |s| {
        s.windows.record_inbound(t(-3600), false);
        s.assignee = Some(agent("bo"));
    })
    .await;
    // Seed 001: any agent finds it in All > Closed and may reopen it.
    let reply = h
        .post(
            &format!("{}/messages", contact_path(JANA)),
            ANA,
            json!({"text": "Following up"}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{reply:?}");
    // The action carries the sender; the router's CHAN-2 assigns the contact to them.
    assert!(matches!(action(&h), AgentAction::Send { agent: a, .. } if a == agent("ana")));
}

#[tokio::test]
async fn agents_act_only_on_their_own_or_unassigned_conversations_admins_on_all() {
    let h = harness();
    h.plant(JANA, open_with(held_by("bo"), -60)).await;
    let messages = format!("{}/messages", contact_path(JANA));
    let text = json!({"text": "hi"});
    // ana may not send, close, snooze, transfer or claim bo's conversation.
    assert_eq!(
        h.post(&messages, ANA, text.clone()).await.status,
        StatusCode::FORBIDDEN
    );
    for what in ["close", "claim"] {
        let r = h
            .post(&format!("{}/{what}", contact_path(JANA)), ANA, json!({}))
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{what}");
    }
    let r = h
        .post(
            &format!("{}/snooze", contact_path(JANA)),
            ANA,
            json!({"until": T0 + 3600}),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = h
        .post(
            &format!("{}/transfer", contact_path(JANA)),
            ANA,
            json!({"to": "ana"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(h.lane_events().is_empty());
    // The admin acts for the holder: the conversation stays bo's.
    let r = h.post(&messages, BOSS, text).await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    assert_eq!(r.body["agent"], "bo");
}

#[tokio::test]
async fn the_same_idempotency_key_is_the_same_action_and_a_stale_version_conflicts() {
    let h = harness();
    let version = h.plant(JANA, open_with(held_by("ana"), -60)).await;
    let path = format!("{}/close", contact_path(JANA));
    let send = |key: &'static str| {
        let h = &h;
        let path = path.clone();
        async move {
            h.request(
                Method::POST,
                &path,
                Some(ANA),
                &[("idempotency-key", key)],
                None,
            )
            .await
        }
    };
    let a = send("close-1").await;
    let b = send("close-1").await;
    assert_eq!(a.status, StatusCode::ACCEPTED);
    assert_eq!(a.body["key"], b.body["key"]);
    assert_eq!(a.body["key"], "console:ana:close-1");
    // The FIFO deduplicates by key: the router sees one close.
    assert_eq!(h.lane_events().len(), 1);
    let bad = h
        .request(
            Method::POST,
            &path,
            Some(ANA),
            &[("idempotency-key", "has space")],
            None,
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    // If-Match: the version the client saw.
    let stale = h
        .request(
            Method::POST,
            &path,
            Some(ANA),
            &[("if-match", &format!("\"{}\"", version - 1))],
            None,
        )
        .await;
    assert_eq!(stale.status, StatusCode::CONFLICT);
    assert_eq!(stale.error(), "stale_version");
    let fresh = h
        .request(
            Method::POST,
            &path,
            Some(ANA),
            &[("if-match", &format!("\"{version}\""))],
            None,
        )
        .await;
    assert_eq!(fresh.status, StatusCode::ACCEPTED);
}

#[tokio::test]
async fn auto_5_claim_takes_a_queued_conversation() {
    let h = harness();
    h.plant(JANA, open_with(queued_handler(), -60)).await;
    let reply = h
        .post(&format!("{}/claim", contact_path(JANA)), ANA, json!({}))
        .await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{reply:?}");
    assert_eq!(
        action(&h),
        AgentAction::Claim {
            agent: agent("ana")
        }
    );
    // Nothing to claim: a closed contact; an assigned one is transferred instead (admin: 409).
    h.plant("4915100000002", |s| s.windows.record_inbound(t(0), false))
        .await;
    let none = h
        .post(
            &format!("{}/claim", contact_path("4915100000002")),
            ANA,
            json!({}),
        )
        .await;
    assert_eq!(none.status, StatusCode::CONFLICT);
    assert_eq!(none.error(), "no_open_conversation");
    h.plant("4915100000003", open_with(held_by("bo"), 0)).await;
    let held = h
        .post(
            &format!("{}/claim", contact_path("4915100000003")),
            BOSS,
            json!({}),
        )
        .await;
    assert_eq!(held.status, StatusCode::CONFLICT);
    assert_eq!(held.error(), "already_assigned");
}

#[tokio::test]
async fn transfer_hands_the_conversation_to_another_agent() {
    let h = harness();
    for a in ["ana", "bo"] {
        h.store.put_agent(&agent(a), 5, true).await.unwrap();
    }
    h.plant(JANA, open_with(held_by("bo"), -60)).await;
    let path = format!("{}/transfer", contact_path(JANA));
    let reply = h.post(&path, BO, json!({"to": "ana"})).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{reply:?}");
    assert_eq!(
        action(&h),
        AgentAction::Transfer {
            from: agent("bo"),
            to: agent("ana")
        }
    );
    let unknown = h.post(&path, BO, json!({"to": "zed"})).await;
    assert_eq!(unknown.error(), "unknown_agent");
    let same = h.post(&path, BO, json!({"to": "bo"})).await;
    assert_eq!(same.status, StatusCode::CONFLICT);
    // A queued conversation is assigned to the target.
    h.plant("4915100000002", open_with(queued_handler(), 0))
        .await;
    let assign = h
        .post(
            &format!("{}/transfer", contact_path("4915100000002")),
            BOSS,
            json!({"to": "bo"}),
        )
        .await;
    assert_eq!(assign.status, StatusCode::ACCEPTED);
    let last = h.lane_events().pop().unwrap().2;
    assert_eq!(
        last,
        Event::Agent(AgentAction::Claim { agent: agent("bo") })
    );
}

#[tokio::test]
async fn chan_3_auto_5_auto_9_close_is_queued_for_the_router() {
    // The router applies the closing logic (CHAN-3), the survey (AUTO-9) and the next queued
    // conversation (AUTO-5); the console queues the close in the contact's lane.
    let h = harness();
    h.plant(JANA, open_with(held_by("ana"), -60)).await;
    let reply = h
        .post(&format!("{}/close", contact_path(JANA)), ANA, json!({}))
        .await;
    assert_eq!(reply.status, StatusCode::ACCEPTED);
    let events = h.lane_events();
    assert_eq!(events[0].1, group(JANA));
    assert_eq!(
        events[0].2,
        Event::Agent(AgentAction::Close {
            agent: agent("ana")
        })
    );
    h.plant("4915100000002", |s| s.windows.record_inbound(t(0), false))
        .await;
    let nothing = h
        .post(
            &format!("{}/close", contact_path("4915100000002")),
            ANA,
            json!({}),
        )
        .await;
    assert_eq!(nothing.status, StatusCode::CONFLICT);
    let missing = h
        .post(
            &format!("{}/close", contact_path("4915199999999")),
            ANA,
            json!({}),
        )
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn auto_10_snooze_until_a_future_time() {
    let h = harness();
    h.plant(JANA, open_with(held_by("ana"), -60)).await;
    let path = format!("{}/snooze", contact_path(JANA));
    let past = h.post(&path, ANA, json!({"until": T0 - 1})).await;
    assert_eq!(past.status, StatusCode::BAD_REQUEST);
    assert_eq!(past.body["fields"][0]["field"], "until");
    let far = h.post(&path, ANA, json!({"until": T0 + 91 * 86_400})).await;
    assert_eq!(far.status, StatusCode::BAD_REQUEST);
    let ok = h.post(&path, ANA, json!({"until": T0 + 3600})).await;
    assert_eq!(ok.status, StatusCode::ACCEPTED);
    assert_eq!(
        action(&h),
        AgentAction::Snooze {
            agent: agent("ana"),
            until: t(3600)
        }
    );
}

#[tokio::test]
async fn out_8_outreach_to_one_contact_carries_signed_payloads_and_returns_its_id() {
    let h = harness();
    h.store
        .put_profile(
            &number(),
            &ContactKey::new(JANA).unwrap(),
            &ContactProfile {
                first_name: Some("Jana".into()),
                ..ContactProfile::default()
            },
            t(0),
        )
        .await
        .unwrap();
    let mut t1 = Template::new(
        TemplateName::new("offer").unwrap(),
        "en",
        TemplateCategory::Marketing,
        "Hi {{1}}, interested?",
    );
    t1.status = TemplateStatus::Approved;
    t1.buttons = vec![
        rules::templates::Button::QuickReply { text: "Yes".into() },
        rules::templates::Button::QuickReply { text: "No".into() },
    ];
    t1.mapping
        .body
        .insert(1, rules::templates::ContactField::FirstName);
    h.store.put_template(&number(), &t1).await.unwrap();
    let path = format!("{}/outreach", contact_path(JANA));
    let body = json!({"name": "offer", "language": "en"});
    let reply = h
        .request(
            Method::POST,
            &path,
            Some(ANA),
            &[("idempotency-key", "offer-jana")],
            Some(("application/json", body.to_string().into_bytes())),
        )
        .await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{reply:?}");
    let id = reply.body["outreach"].as_str().unwrap().to_owned();
    let jobs = h.outbound_jobs();
    let queue::OutboundJob::Send(job) = &jobs[0] else {
        panic!("{jobs:?}")
    };
    assert_eq!(job.key, format!("outreach:{id}"));
    assert_eq!(job.contact.as_str(), JANA);
    let plan = job.outreach.as_ref().unwrap();
    assert_eq!(plan.id.as_str(), id);
    assert_eq!(plan.buttons, ["Yes", "No"]);
    let OutboundContent::Template {
        parameters,
        button_payloads,
        ..
    } = &job.request.content
    else {
        panic!()
    };
    assert_eq!(parameters, &["Jana"]);
    // OUT-8: each payload verifies under the deployment key and names the outreach and button.
    let key = rules::outreach::OutreachKey::new(OUTREACH_KEY.to_vec());
    for (i, payload) in button_payloads.iter().enumerate() {
        let p = rules::outreach::ButtonPayload::verify(&key, payload).unwrap();
        assert_eq!(p.outreach.as_str(), id);
        assert_eq!(usize::from(p.button), i);
        assert_eq!(p.sent_at, t(0));
    }
    // The same Idempotency-Key is the same outreach (the sender sends it once).
    let again = h
        .request(
            Method::POST,
            &path,
            Some(ANA),
            &[("idempotency-key", "offer-jana")],
            Some(("application/json", body.to_string().into_bytes())),
        )
        .await;
    assert_eq!(again.body["outreach"], id.as_str());
    let missing = h
        .post(
            &format!("{}/outreach", contact_path("4915199999999")),
            ANA,
            body,
        )
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn tpl_3_template_headers_take_their_parameter_from_the_mapping_or_the_request() {
    let h = harness();
    h.plant(JANA, open_with(held_by("ana"), -60)).await;
    h.store
        .put_profile(
            &number(),
            &ContactKey::new(JANA).unwrap(),
            &ContactProfile {
                first_name: Some("Jana".into()),
                ..ContactProfile::default()
            },
            t(0),
        )
        .await
        .unwrap();
    let mut greeting = Template::new(
        TemplateName::new("greeting").unwrap(),
        "en",
        TemplateCategory::Utility,
        "Your order is ready.",
    );
    greeting.header = Some(rules::templates::Header::Text("Hello {{1}}".into()));
    greeting
        .mapping
        .header
        .insert(1, rules::templates::ContactField::FirstName);
    greeting.status = TemplateStatus::Approved;
    let mut receipt = Template::new(
        TemplateName::new("receipt").unwrap(),
        "en",
        TemplateCategory::Utility,
        "Your receipt.",
    );
    receipt.header = Some(rules::templates::Header::Document);
    receipt.status = TemplateStatus::Approved;
    for t in [&greeting, &receipt] {
        h.store.put_template(&number(), t).await.unwrap();
    }
    let path = format!("{}/messages", contact_path(JANA));
    let ok = h
        .post(
            &path,
            ANA,
            json!({"template": {"name": "greeting", "language": "en"}}),
        )
        .await;
    assert_eq!(ok.status, StatusCode::ACCEPTED, "{ok:?}");
    let AgentAction::Send { content, .. } = action(&h) else {
        panic!()
    };
    let OutboundContent::Template { header, .. } = content else {
        panic!()
    };
    assert_eq!(
        header,
        Some(rules::effect::TemplateHeader::Text {
            text: "Jana".into()
        })
    );
    let missing = h
        .post(
            &path,
            ANA,
            json!({"template": {"name": "receipt", "language": "en"}}),
        )
        .await;
    assert_eq!(missing.status, StatusCode::BAD_REQUEST);
    assert_eq!(missing.body["fields"][0]["field"], "template.header");
    let doc = h
        .post(
            &path,
            ANA,
            json!({"template": {"name": "receipt", "language": "en", "header": "https://files.example/r.pdf"}}),
        )
        .await;
    assert_eq!(doc.status, StatusCode::ACCEPTED);
    let Event::Agent(AgentAction::Send { content, .. }) = h.lane_events().pop().unwrap().2 else {
        panic!()
    };
    let OutboundContent::Template { header, .. } = content else {
        panic!()
    };
    assert_eq!(
        header,
        Some(rules::effect::TemplateHeader::Media {
            media: rules::effect::MediaKind::Document,
            source: "https://files.example/r.pdf".into()
        })
    );
}

// SEND-5: what Meta would refuse for its content is refused at once with 400 naming the field,
// by the validator the sender uses; nothing is queued.
#[tokio::test]
async fn send_5_content_over_metas_limits_is_refused_at_once_naming_the_field() {
    let h = harness();
    h.plant(JANA, open_with(held_by("ana"), -60)).await;
    let rows = |n: usize, title: &str| -> Vec<serde_json::Value> {
        (0..n)
            .map(|i| json!({"id": format!("r{i}"), "title": title}))
            .collect()
    };
    let cases = [
        (json!({"text": "x".repeat(4097)}), "text"),
        (
            json!({"content": {"type": "buttons", "body": "Pick one", "buttons": [["a", "x".repeat(21)]]}}),
            "title",
        ),
        (
            json!({"content": {"type": "buttons", "body": "x".repeat(1025), "buttons": [["a", "Yes"]]}}),
            "body",
        ),
        (
            json!({"content": {"type": "list", "body": "Pick", "button": "Menu", "sections": [{"rows": rows(11, "Row")}]}}),
            "rows",
        ),
        (
            json!({"content": {"type": "list", "body": "Pick", "button": "Menu", "sections": [{"rows": rows(1, &"x".repeat(25))}]}}),
            "title",
        ),
        (
            json!({"content": {"type": "list", "body": "Pick", "button": "x".repeat(21), "sections": [{"rows": rows(1, "Row")}]}}),
            "button",
        ),
    ];
    for (body, field) in cases {
        let reply = h
            .post(
                &format!("{}/messages", contact_path(JANA)),
                ANA,
                body.clone(),
            )
            .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{body}: {reply:?}");
        let named = reply.body["fields"][0]["field"]
            .as_str()
            .unwrap_or_default();
        assert!(named.contains(field), "{body}: field {named:?}, {reply:?}");
        assert!(h.lane_events().is_empty(), "nothing is queued");
    }
    // Within the limits it goes.
    let ok = h
        .post(
            &format!("{}/messages", contact_path(JANA)),
            ANA,
            json!({"content": {"type": "buttons", "body": "Pick one", "buttons": [["a", "x".repeat(20)]]}}),
        )
        .await;
    assert_eq!(ok.status, StatusCode::ACCEPTED, "{ok:?}");
}

// SEND-5: a message the sender refused later (the window closed) shows in the contact's log as
// `refused` with the reason, not `queued` forever.
#[tokio::test]
async fn send_5_a_send_refused_at_send_time_shows_refused_with_its_reason_in_the_log() {
    use store::SendingStore;
    use store::{BeginCall, CallBegun, PacingWrite, SendClaimWrite, SendRecord, SendState};
    let h = harness();
    h.plant(JANA, open_with(held_by("ana"), -60)).await;
    let at = t(0);
    let record = |state| SendRecord {
        key: "console:ana:late".into(),
        number: number(),
        contact: rules::ContactKey::new(JANA).unwrap(),
        state,
        attempts: 0,
        job: "{}".into(),
        updated_at: at,
        calling: None,
        failure_seen: None,
    };
    let held = BeginCall {
        record: record(SendState::InFlight {
            since: at,
            lease_until: at + rules::Duration::seconds(30),
            calling: false,
        }),
        expected: None,
        claim: Some(SendClaimWrite {
            claimed_at: at,
            body: Some(json!({"type": "text", "body": "are you there?"})),
        }),
        pacing: PacingWrite::default(),
    };
    assert_eq!(
        h.store.begin_call(&held).await.unwrap(),
        CallBegun::Begun { version: 1 }
    );
    let reason = "window closed: templates only (send the recontact template)";
    h.store
        .put_send_record(
            &record(SendState::Refused {
                reason: reason.into(),
                at,
            }),
            Some(1),
        )
        .await
        .unwrap()
        .unwrap();
    let log = h
        .get(&format!("{}/messages", contact_path(JANA)), ANA)
        .await;
    assert_eq!(log.status, StatusCode::OK, "{log:?}");
    let sent = log.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["key"] == "console:ana:late")
        .unwrap_or_else(|| panic!("{log:?}"));
    assert_eq!(sent["delivery"]["status"], "refused");
    assert_eq!(sent["delivery"]["error"], reason);
}
