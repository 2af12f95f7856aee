//! Router-level tests of the customer side: each SPEC rule through the real router, store,
//! queues and timer wheel (see `common`).

mod common;

use common::*;
use rules::*;

#[tokio::test]
async fn auto_1_first_message_gets_the_welcome_once() {
    let mut settings = with_bot();
    settings.welcome = Some(OutboundContent::text("Welcome!"));
    let mut desk = Desk::new(settings).await;
    desk.text().await;
    desk.text().await;
    let welcomes = desk
        .purposes()
        .into_iter()
        .filter(|p| *p == SendPurpose::Welcome)
        .count();
    assert_eq!(welcomes, 1);
    assert!(is_bot(desk.handler().await.as_ref()));
}
