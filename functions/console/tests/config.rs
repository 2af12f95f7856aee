//! Cold-start configuration in AWS: the access token and the outreach key given as Secrets
//! Manager ARNs (as infra/template.yaml passes them), read from moto server (started by
//! ./scripts/test) once, through `aws_wiring` like every function's.

use aws_wiring::{ConfigError, Env};
use console::Config;
use std::collections::HashMap;

async fn secret(sdk: &aws_config::SdkConfig, value: &str) -> String {
    aws_sdk_secretsmanager::Client::new(sdk)
        .create_secret()
        .name(testkit::unique("console-secret"))
        .secret_string(value)
        .send()
        .await
        .unwrap()
        .arn
        .unwrap()
}

#[tokio::test]
async fn secrets_given_by_arn_are_read_at_cold_start() {
    let sdk = testkit::moto_config().await;
    let map: HashMap<&str, String> = [
        ("TABLE_NAME", "switchboard".to_owned()),
        (
            "INBOUND_QUEUE_URL",
            "http://127.0.0.1:5005/1/inbound.fifo".to_owned(),
        ),
        (
            "OUTBOUND_QUEUE_URL",
            "http://127.0.0.1:5005/1/outbound".to_owned(),
        ),
        (
            "WHATSAPP_ACCESS_TOKEN_ARN",
            secret(&sdk, "graph-token").await,
        ),
        ("OUTREACH_KEY_ARN", secret(&sdk, "outreach-key").await),
        ("CONSOLE_ROLE_CLAIM", "custom:role".to_owned()),
    ]
    .into();
    let env = Env::from_lookup(|k: &str| map.get(k).cloned());
    let config = Config::load_from(&env, &sdk).await.unwrap();
    assert_eq!(config.access_token.expose(), "graph-token");
    assert_eq!(config.role_claim, "custom:role");
    // The outreach key is the OUT-8 HMAC key: a payload signed with the secret's value verifies.
    let payload = rules::outreach::ButtonPayload {
        outreach: rules::OutreachId::new("o1").unwrap(),
        sent_at: rules::Timestamp::from_unix(1_750_000_000),
        button: 0,
    };
    let signed = payload
        .encode(&rules::outreach::OutreachKey::new(b"outreach-key".to_vec()))
        .unwrap();
    assert_eq!(
        rules::outreach::ButtonPayload::verify(&config.outreach_key, &signed).unwrap(),
        payload
    );

    let missing = "arn:aws:secretsmanager:us-east-1:123456789012:secret:console-gone-AbCdEf";
    let gone: HashMap<&str, String> = map
        .iter()
        .map(|(k, v)| (*k, v.clone()))
        .chain([("OUTREACH_KEY_ARN", missing.to_owned())])
        .collect();
    let env = Env::from_lookup(|k: &str| gone.get(k).cloned());
    match Config::load_from(&env, &sdk).await.unwrap_err() {
        ConfigError::Fetch { name, arn, .. } => {
            assert_eq!((name, arn.as_str()), ("OUTREACH_KEY", missing))
        }
        other => panic!("expected a fetch error, got {other:?}"),
    }
}
