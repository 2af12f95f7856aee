//! MEDIA-1 in the contact's log: a fetch that failed for good is a notice in the conversation the
//! customer is in (or the one just closed), and changes nothing else.

mod common;
use common::*;
use rules::effect::{LogEntry, MediaKind, Notice};
use rules::*;

fn not_fetched(message: &MessageId) -> Event {
    Event::MediaNotFetched {
        message: message.clone(),
        kind: MediaKind::Image,
        reason: "downloading: Meta answered 404".into(),
    }
}

#[test]
fn media_1_a_failed_fetch_is_a_notice_in_the_customers_conversation() {
    let mut w = World::new(settings_without_bot());
    w.text();
    let photo = MessageId::new("wamid.in1").unwrap();
    let conversation = w
        .conversation_id()
        .expect("the message opened a conversation");
    let before = w.state.clone();
    let effects = w.apply(not_fetched(&photo));
    assert!(effects.is_empty(), "{effects:?}");
    let last = w.log.last().expect("a log entry");
    assert!(
        matches!(last, LogEntry::Notice { conversation: c, notice: Notice::MediaNotFetched { message, kind: MediaKind::Image, reason }, .. }
            if *c == conversation && *message == photo && reason.contains("404")),
        "{last:?}"
    );
    // Nothing but the log changes: no window, handler or timer moves.
    assert_eq!(w.state.windows, before.windows);
    assert_eq!(w.state.conversation, before.conversation);
}

#[test]
fn media_1_a_failed_fetch_after_the_close_is_noted_in_the_closed_conversation() {
    let mut w = World::new(settings_without_bot());
    w.text();
    w.assign("ana");
    let conversation = w.conversation_id().unwrap();
    w.apply(Event::Agent(AgentAction::Close {
        agent: agent("ana"),
    }));
    assert!(w.conversation_id().is_none());
    w.apply(not_fetched(&MessageId::new("wamid.in1").unwrap()));
    assert!(matches!(
        w.log.last(),
        Some(LogEntry::Notice { conversation: c, notice: Notice::MediaNotFetched { .. }, .. }) if *c == conversation
    ));
    // A contact with no conversation at all has no log to note it in: nothing happens.
    let mut fresh = World::new(settings_without_bot());
    assert!(
        fresh
            .apply(not_fetched(&MessageId::new("wamid.x").unwrap()))
            .is_empty()
    );
    assert!(fresh.log.is_empty());
}
