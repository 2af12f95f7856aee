//! Cold-start configuration in AWS: the app secret and verify token given as Secrets Manager ARNs
//! (as infra/template.yaml passes them), read from moto server (started by ./scripts/test).

use aws_wiring::{ConfigError, Env};
use ingest::Config;
use std::collections::HashMap;

async fn secret(sdk: &aws_config::SdkConfig, value: &str) -> String {
    aws_sdk_secretsmanager::Client::new(sdk)
        .create_secret()
        .name(testkit::unique("ingest-secret"))
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
        ("INBOUND_QUEUE_URL", "http://q/inbound.fifo".to_owned()),
        ("UPDATES_QUEUE_URL", "http://q/updates".to_owned()),
        ("WHATSAPP_APP_SECRET_ARN", secret(&sdk, "app-secret").await),
        (
            "WHATSAPP_VERIFY_TOKEN_ARN",
            secret(&sdk, "verify-token").await,
        ),
    ]
    .into();
    let env = Env::from_lookup(|k: &str| map.get(k).cloned());
    let config = Config::load_from(&env, &sdk).await.unwrap();
    assert_eq!(config.verify_token.expose(), "verify-token");
    // The app secret is the HMAC key: a body signed with it verifies.
    let body = br#"{"object":"whatsapp_business_account","entry":[]}"#;
    let signature = whatsapp::sign(&whatsapp::AppSecret::new("app-secret"), body);
    assert_eq!(
        whatsapp::verify(&config.app_secret, Some(&signature), body),
        Ok(())
    );

    let missing = "arn:aws:secretsmanager:us-east-1:123456789012:secret:ingest-gone-AbCdEf";
    let gone: HashMap<&str, String> = map
        .iter()
        .map(|(k, v)| (*k, v.clone()))
        .chain([("WHATSAPP_VERIFY_TOKEN_ARN", missing.to_owned())])
        .collect();
    let env = Env::from_lookup(|k: &str| gone.get(k).cloned());
    match Config::load_from(&env, &sdk).await.unwrap_err() {
        ConfigError::Fetch { name, arn, .. } => {
            assert_eq!((name, arn.as_str()), ("WHATSAPP_VERIFY_TOKEN", missing))
        }
        other => panic!("expected a fetch error, got {other:?}"),
    }
}
