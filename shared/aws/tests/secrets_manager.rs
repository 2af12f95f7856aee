//! The ARN path against moto server (started by ./scripts/test): secrets created in moto's
//! Secrets Manager, read back through `<NAME>_ARN`.

use aws_sdk_secretsmanager::primitives::Blob;
use aws_wiring::{ConfigError, Env, Secret, SecretsManager, secret_from, secrets_from};
use std::collections::HashMap;

async fn create(sdk: &aws_config::SdkConfig, value: Result<&str, &[u8]>) -> String {
    let client = aws_sdk_secretsmanager::Client::new(sdk);
    let request = client
        .create_secret()
        .name(testkit::unique("switchboard-secret"));
    let request = match value {
        Ok(text) => request.secret_string(text),
        Err(bytes) => request.secret_binary(Blob::new(bytes)),
    };
    request.send().await.unwrap().arn.unwrap()
}

fn env(pairs: Vec<(&str, String)>) -> Env<impl Fn(&str) -> Option<String>> {
    let map: HashMap<String, String> = pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
    Env::from_lookup(move |name: &str| map.get(name).cloned())
}

#[tokio::test]
async fn secrets_given_by_arn_are_read_from_secrets_manager_with_plain_ones_alongside() {
    let sdk = testkit::moto_config().await;
    let app = create(&sdk, Ok("app-secret\n")).await;
    let access = create(&sdk, Ok("EAAG-access-token")).await;
    let e = env(vec![
        ("WHATSAPP_APP_SECRET_ARN", app),
        ("WHATSAPP_VERIFY_TOKEN", "verify".to_owned()),
        ("WHATSAPP_ACCESS_TOKEN_ARN", access),
    ]);
    let [app, verify, access] = secrets_from(
        &e,
        &sdk,
        [
            "WHATSAPP_APP_SECRET",
            "WHATSAPP_VERIFY_TOKEN",
            "WHATSAPP_ACCESS_TOKEN",
        ],
    )
    .await
    .unwrap();
    // Stored values come back exactly (no trimming of a secret).
    assert_eq!(app, Secret::new("app-secret\n"));
    assert_eq!(verify.expose(), "verify");
    assert_eq!(access.expose(), "EAAG-access-token");
}

#[tokio::test]
async fn an_arn_that_does_not_exist_is_a_fetch_error_naming_the_variable_and_the_arn() {
    let sdk = testkit::moto_config().await;
    let missing = "arn:aws:secretsmanager:us-east-1:123456789012:secret:switchboard-nope-AbCdEf";
    let e = env(vec![("OUTREACH_KEY_ARN", missing.to_owned())]);
    match secret_from(&e, &sdk, "OUTREACH_KEY").await {
        Err(ConfigError::Fetch { name, arn, problem }) => {
            assert_eq!((name, arn.as_str()), ("OUTREACH_KEY", missing));
            assert!(problem.contains("ResourceNotFound"), "{problem}");
        }
        other => panic!("expected a fetch error, got {other:?}"),
    }
}

#[tokio::test]
async fn a_binary_secret_is_refused_as_not_text() {
    let sdk = testkit::moto_config().await;
    let arn = create(&sdk, Err(b"\x00\x01binary")).await;
    assert_eq!(
        SecretsManager::new(&sdk).fetch("OUTREACH_KEY", &arn).await,
        Err(ConfigError::NotText {
            name: "OUTREACH_KEY",
            arn
        })
    );
}

#[tokio::test]
async fn the_first_failing_name_is_reported_and_nothing_is_fetched_when_a_variable_is_missing() {
    let sdk = testkit::moto_config().await;
    let good = create(&sdk, Ok("v")).await;
    let e = env(vec![("WHATSAPP_APP_SECRET_ARN", good)]);
    // The missing one is found before any fetch.
    assert_eq!(
        secrets_from(&e, &sdk, ["WHATSAPP_APP_SECRET", "WHATSAPP_VERIFY_TOKEN"]).await,
        Err(ConfigError::MissingSecret("WHATSAPP_VERIFY_TOKEN"))
    );
}

/// A rotated secret is used once the cache's TTL has passed, not before; a plain one never
/// changes and needs no call.
#[tokio::test]
async fn a_rotated_secret_is_picked_up_after_the_ttl() {
    use aws_wiring::rotating::RotatingSecret;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::time::{Duration, Instant};

    let sdk = testkit::moto_config().await;
    let arn = create(&sdk, Ok("EAAG-token-1")).await;
    let e = env(vec![("WHATSAPP_ACCESS_TOKEN_ARN", arn.clone())]);
    let start = Instant::now();
    let elapsed = Arc::new(AtomicU64::new(0));
    let clock = elapsed.clone();
    let token = RotatingSecret::load(&e, &sdk, "WHATSAPP_ACCESS_TOKEN", Duration::from_secs(300))
        .await
        .unwrap()
        .with_clock(Arc::new(move || {
            start + Duration::from_secs(clock.load(Ordering::SeqCst))
        }));
    assert_eq!(token.get().await.unwrap().expose(), "EAAG-token-1");

    // Rotation: a new version becomes current.
    aws_sdk_secretsmanager::Client::new(&sdk)
        .put_secret_value()
        .secret_id(&arn)
        .secret_string("EAAG-token-2")
        .send()
        .await
        .unwrap();
    elapsed.store(299, Ordering::SeqCst);
    assert_eq!(
        token.get().await.unwrap().expose(),
        "EAAG-token-1",
        "within the TTL the cached value is used"
    );
    elapsed.store(301, Ordering::SeqCst);
    assert_eq!(token.get().await.unwrap().expose(), "EAAG-token-2");

    // Deleted (or unreachable) later: the value read before stays in use.
    aws_sdk_secretsmanager::Client::new(&sdk)
        .delete_secret()
        .secret_id(&arn)
        .force_delete_without_recovery(true)
        .send()
        .await
        .unwrap();
    elapsed.store(700, Ordering::SeqCst);
    assert_eq!(token.get().await.unwrap().expose(), "EAAG-token-2");

    // A plain secret: as given, with no Secrets Manager at all.
    let plain = env(vec![("OUTREACH_KEY", "local-key".to_owned())]);
    let empty = aws_config::SdkConfig::builder().build();
    let key = RotatingSecret::load(&plain, &empty, "OUTREACH_KEY", Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(key.get().await.unwrap().expose(), "local-key");
}
