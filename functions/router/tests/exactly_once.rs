//! ARCHITECTURE invariants 1, 3 and 7 through the router: duplicates change nothing, a crash
//! between the commit and the effects is finished by the redelivery without sending twice,
//! and a batch fails per FIFO group.

mod common;

use common::*;
use proptest::prelude::*;
use queue::Destination;
use router::{Applied, BatchRecord, apply_batch};
use rules::effect::SendPurpose;
use rules::*;
use std::collections::BTreeMap;

fn desk_settings() -> NumberSettings {
    let mut s = with_bot();
    s.welcome = Some(OutboundContent::text("Welcome!"));
    s.unassigned_reply = Some(OutboundContent::text("An agent will be with you shortly."));
    s
}

#[tokio::test]
async fn a_redelivered_message_changes_nothing() {
    let mut desk = Desk::new(desk_settings()).await;
    let event = desk.message(
        CUSTOMER,
        whatsapp::MessageContent::Text { body: "hi".into() },
        None,
    );
    let first = desk.router.apply(&event, desk.now()).await.unwrap();
    assert!(matches!(first, Applied::Decided { .. }));
    let state = desk.state().await;
    for _ in 0..3 {
        // Meta redelivers; the FIFO dedup window has passed, so it reaches the router again.
        let again = desk.router.apply(&event, desk.now()).await.unwrap();
        assert!(matches!(
            again,
            Applied::Duplicate | Applied::Resumed { .. }
        ));
    }
    assert_eq!(desk.state().await, state);
    desk.pump().await;
    // Repeats may queue a job again, always under the same key (the sender sends a key once):
    // two distinct sends, the welcome and the bot's first step.
    let keys: BTreeMap<_, _> = desk
        .sent
        .iter()
        .map(|j| (j.key.clone(), j.request.purpose))
        .collect();
    assert_eq!(keys.len(), 2, "{keys:?}");
    let mut purposes: Vec<_> = keys.values().copied().collect();
    purposes.sort_by_key(|p| format!("{p:?}"));
    assert_eq!(purposes, vec![SendPurpose::Bot, SendPurpose::Welcome]);
}

#[tokio::test]
async fn a_crash_after_the_commit_is_finished_by_the_redelivery() {
    let mut desk = Desk::new(desk_settings()).await;
    let event = desk.message(
        CUSTOMER,
        whatsapp::MessageContent::Text { body: "hi".into() },
        None,
    );
    desk.flaky.fail_send(1);
    assert!(desk.router.apply(&event, desk.now()).await.is_err());
    // Committed: the state moved, but nothing was sent.
    assert!(desk.state().await.conversation.is_some());
    assert!(desk.queue.messages(Destination::Outbound).is_empty());
    let again = desk.router.apply(&event, desk.now()).await.unwrap();
    assert!(matches!(again, Applied::Resumed { .. }), "{again:?}");
    desk.pump().await;
    assert_eq!(
        desk.purposes(),
        vec![SendPurpose::Welcome, SendPurpose::Bot],
        "each send once"
    );
    // Marked done: a third delivery is a plain duplicate.
    assert_eq!(
        desk.router.apply(&event, desk.now()).await.unwrap(),
        Applied::Duplicate
    );
}

#[tokio::test]
async fn a_crash_inside_an_agent_request_never_takes_capacity_twice() {
    let mut s = without_bot();
    // AUTO-13: an assigned conversation gets no unassigned reply; the welcome is the send that
    // follows the assignment.
    s.welcome = Some(OutboundContent::text("Welcome!"));
    let mut desk = Desk::new(s).await;
    desk.agent_online("ana", 1).await;
    desk.agent_online("bo", 1).await;
    let event = desk.message(
        CUSTOMER,
        whatsapp::MessageContent::Text { body: "hi".into() },
        None,
    );
    // The first send (the welcome, after the assignment) fails.
    desk.flaky.fail_send(1);
    assert!(desk.router.apply(&event, desk.now()).await.is_err());
    let taken = desk.open_count("ana").await + desk.open_count("bo").await;
    assert_eq!(taken, 1);
    // Meanwhile ana's load changes: the repeat must keep the first choice, not take bo too.
    desk.router.apply(&event, desk.now()).await.unwrap();
    desk.pump().await;
    let (ana, bo) = (desk.open_count("ana").await, desk.open_count("bo").await);
    assert_eq!(ana + bo, 1, "capacity taken once (ana {ana}, bo {bo})");
    let handler = desk.handler().await;
    assert!(is_agent(handler.as_ref(), "ana") || is_agent(handler.as_ref(), "bo"));
    assert_eq!(desk.purposes(), vec![SendPurpose::Welcome]);
}

#[tokio::test]
async fn a_crash_in_a_follow_up_is_resumed_by_the_original_events_redelivery() {
    let mut s = without_bot();
    s.unassigned_reply = Some(OutboundContent::text("An agent will be with you shortly."));
    s.queue_message = Some(rules::settings::QueueMessage {
        text: "You are number {position}.".into(),
    });
    let mut desk = Desk::new(s).await;
    let event = desk.message(
        CUSTOMER,
        whatsapp::MessageContent::Text { body: "hi".into() },
        None,
    );
    // The `Queued` follow-up's effects: the unassigned reply (AUTO-13: once the conversation
    // really waits) and the queue position, in one send, which fails.
    desk.flaky.fail_send(1);
    assert!(desk.router.apply(&event, desk.now()).await.is_err());
    assert!(matches!(
        desk.router.apply(&event, desk.now()).await.unwrap(),
        Applied::Resumed { .. }
    ));
    desk.pump().await;
    assert_eq!(
        desk.purposes(),
        vec![SendPurpose::UnassignedReply, SendPurpose::QueuePosition]
    );
    assert_eq!(desk.queue_len().await, 1, "queued once");
}

fn record(id: &str, group: &str, body: String) -> BatchRecord {
    BatchRecord {
        id: id.into(),
        group: Some(group.into()),
        body,
    }
}

#[tokio::test]
async fn invariant_7_a_failed_record_fails_the_rest_of_its_group_and_only_that() {
    let mut desk = Desk::new(desk_settings()).await;
    let a = "4915100000001";
    let b = "4915100000002";
    let group_a = format!("{}#{a}", number());
    let group_b = format!("{}#{b}", number());
    let text = |desk: &mut Desk, who: &str| {
        let e = desk.message(
            who,
            whatsapp::MessageContent::Text { body: "x".into() },
            None,
        );
        serde_json::to_string(&e).unwrap()
    };
    let records = vec![
        record("a1", &group_a, text(&mut desk, a)),
        record("b1", &group_b, text(&mut desk, b)),
        record("a2", &group_a, "{ not an event".into()),
        record("b2", &group_b, text(&mut desk, b)),
        record("a3", &group_a, text(&mut desk, a)),
    ];
    let failed = apply_batch(&desk.router, &desk.clock, &records).await;
    assert_eq!(failed, vec!["a2".to_string(), "a3".to_string()]);
    // b went on; a stopped after a1.
    assert!(desk.state_of(b).await.is_some());
    let a_log = {
        use store::ConsoleStore;
        desk.store
            .message_log(&number(), &contact(a), 50, None)
            .await
            .unwrap()
            .items
            .into_iter()
            .filter(|m| matches!(m.record.entry, LogEntry::Inbound { .. }))
            .count()
    };
    assert_eq!(a_log, 1, "only a1 applied for a");
}

#[tokio::test]
async fn an_event_without_a_business_number_is_refused_as_permanent() {
    let desk = Desk::new(desk_settings()).await;
    let mut event = whatsapp::lane_event(
        number().as_str(),
        CUSTOMER,
        "k".into(),
        rules::Event::Welcome {
            at: Timestamp::from_unix(T0),
        },
    );
    event.business = None;
    let error = desk.router.apply(&event, desk.now()).await.unwrap_err();
    assert!(error.is_permanent(), "{error}");
}

// --- Property: duplicates, interleavings and crashes leave no trace ----------------------------

#[derive(Debug, Clone)]
enum Step {
    Text(usize),
    Press(usize, usize),
    Advance(i64),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => (0..3usize).prop_map(Step::Text),
        2 => (0..3usize, 0..3usize).prop_map(|(c, b)| Step::Press(c, b)),
        1 => (1..15i64).prop_map(Step::Advance),
    ]
}

const CONTACTS: [&str; 3] = ["4915100000001", "4915100000002", "4915100000003"];

/// Runs `steps`; with `chaos`, every event is delivered twice and some sends fail (the failed
/// record is redelivered, as SQS does). Returns each contact's final state and, per send key,
/// its request.
async fn run(
    steps: &[Step],
    chaos: Option<&[bool]>,
) -> (
    BTreeMap<String, Option<ContactState>>,
    BTreeMap<String, String>,
) {
    let mut desk = Desk::new(desk_settings()).await;
    desk.agent_online("ana", 2).await;
    let mut flips = chaos.unwrap_or(&[]).iter().cycle();
    for s in steps {
        let event = match s {
            Step::Text(c) => desk.message(
                CONTACTS[*c],
                whatsapp::MessageContent::Text { body: "x".into() },
                None,
            ),
            Step::Press(c, b) => {
                let id = rules::recipe::button_id("menu", *b);
                desk.message(
                    CONTACTS[*c],
                    whatsapp::MessageContent::ButtonReply(
                        serde_json::from_value(serde_json::json!({ "id": id, "title": "t" }))
                            .unwrap(),
                    ),
                    None,
                )
            }
            Step::Advance(m) => {
                desk.advance(Duration::minutes(*m)).await;
                continue;
            }
        };
        if chaos.is_some() {
            if *flips.next().unwrap_or(&false) {
                desk.flaky.fail_send(1);
            }
            // Delivered, then delivered again after the FIFO dedup window.
            desk.send_in(event.clone()).await;
            desk.router.apply(&event, desk.now()).await.unwrap();
            desk.pump().await;
        } else {
            desk.send_in(event).await;
        }
    }
    desk.advance(Duration::hours(1)).await;
    let mut states = BTreeMap::new();
    for c in CONTACTS {
        states.insert(c.to_string(), desk.state_of(c).await);
    }
    let sends = desk
        .sent
        .iter()
        .map(|j| (j.key.clone(), format!("{:?}", j.request)))
        .collect();
    (states, sends)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, .. ProptestConfig::default() })]

    #[test]
    fn duplicates_and_crashes_leave_no_trace(
        steps in proptest::collection::vec(step(), 1..14),
        chaos in proptest::collection::vec(any::<bool>(), 1..8),
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let (clean_states, clean_sends) = runtime.block_on(run(&steps, None));
        let (chaos_states, chaos_sends) = runtime.block_on(run(&steps, Some(&chaos)));
        prop_assert_eq!(clean_states, chaos_states);
        prop_assert_eq!(clean_sends, chaos_sends);
    }
}
