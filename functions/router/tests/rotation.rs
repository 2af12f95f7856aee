//! OUT-8 across an outreach-key rotation, on moto's Secrets Manager: the router reads the key as
//! the Lambda does (`RotatingSecret::load_with_previous`, by ARN), the key is rotated
//! (`PutSecretValue`: the old value becomes `AWSPREVIOUS`), and a button signed before the
//! rotation is still recognised after it, for the grace period, while a forged one is not.
//! Needs moto (`./scripts/test -p router --test rotation`).

mod common;

use aws_wiring::rotating::RotatingSecret;
use common::*;
use rules::outreach::{ButtonPayload, OutreachKey, OutreachRecord};
use rules::state::Origin;
use rules::{Duration, Timestamp};
use whatsapp::MessageContent;

/// The customer presses button 0 of `outreach`, whose payload was signed with `key`; the origin
/// of the conversation it leads to.
async fn press_signed_with(desk: &mut Desk, outreach: &OutreachRecord, key: &[u8]) -> Origin {
    let payload = ButtonPayload {
        outreach: outreach.id.clone(),
        sent_at: outreach.sent_at,
        button: 0,
    }
    .encode(&OutreachKey::new(key.to_vec()))
    .unwrap();
    let event = desk.message(
        CUSTOMER,
        MessageContent::Button {
            payload,
            text: "Yes".into(),
        },
        Some(outreach.wamid.as_str()),
    );
    desk.send_in(event).await;
    desk.state()
        .await
        .conversation
        .expect("a conversation")
        .origin
}

/// A desk a day after the rotation at `rotated_at`, the router on `key`, with an outreach sent two
/// days before the rotation.
async fn desk_after(rotated_at: Timestamp, key: OutreachKey) -> (Desk, OutreachRecord) {
    let desk = Desk::new(with_bot()).await;
    desk.router.set_outreach_key(key);
    desk.clock.set(rotated_at + Duration::days(1));
    let o = desk
        .outreach("before", rotated_at - Duration::days(2))
        .await;
    (desk, o)
}

#[tokio::test]
async fn out_8_ops_a_button_signed_before_the_outreach_key_rotates_verifies_after_it_and_a_forged_one_does_not()
 {
    let sdk = testkit::moto_config().await;
    let secrets = aws_sdk_secretsmanager::Client::new(&sdk);
    let arn = secrets
        .create_secret()
        .name(testkit::unique("outreach-key"))
        .secret_string("outreach-key-before")
        .send()
        .await
        .unwrap()
        .arn
        .unwrap();
    let lookup_arn = arn.clone();
    let env = aws_wiring::Env::from_lookup(move |name: &str| {
        (name == "OUTREACH_KEY_ARN").then(|| lookup_arn.clone())
    });
    // TTL zero: every read asks Secrets Manager, as a refresh after the TTL does.
    let secret =
        RotatingSecret::load_with_previous(&env, &sdk, "OUTREACH_KEY", std::time::Duration::ZERO)
            .await
            .unwrap();
    let before = secret.rotation().await.unwrap();
    assert_eq!(before.current.expose(), "outreach-key-before");
    assert_eq!(before.previous, None, "not rotated yet");

    // The key rotates.
    secrets
        .put_secret_value()
        .secret_id(&arn)
        .secret_string("outreach-key-after")
        .send()
        .await
        .unwrap();
    let after = secret.rotation().await.unwrap();
    assert_eq!(after.current.expose(), "outreach-key-after");
    assert_eq!(
        after.previous.as_ref().map(|s| s.expose()),
        Some("outreach-key-before")
    );
    let rotated_at = Timestamp::from_unix(after.rotated_at.expect("the version's creation time"));

    // A day after the rotation: the button sent before it is recognised.
    let (mut desk, o) = desk_after(rotated_at, router::outreach_key_of(&after)).await;
    assert_eq!(
        press_signed_with(&mut desk, &o, b"outreach-key-before").await,
        Origin::Outreach {
            outreach: o.id.clone(),
            button: Some(0)
        }
    );

    // A forged button (a key that was never ours): a plain message.
    let (mut desk, o) = desk_after(rotated_at, router::outreach_key_of(&after)).await;
    assert_eq!(
        press_signed_with(&mut desk, &o, b"attacker-key").await,
        Origin::Inbound
    );

    // Without the previous key (what reading only the current version would give), the button
    // sent before the rotation would be refused as forged too.
    let (mut desk, o) =
        desk_after(rotated_at, OutreachKey::new(b"outreach-key-after".to_vec())).await;
    assert_eq!(
        press_signed_with(&mut desk, &o, b"outreach-key-before").await,
        Origin::Inbound
    );
}
