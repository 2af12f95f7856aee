//! Secrets: plain locally, by Secrets Manager ARN in AWS; read once at cold start.

use crate::{ConfigError, Env};
use aws_sdk_secretsmanager::error::{DisplayErrorContext, ProvideErrorMetadata};
use tokio::task::JoinSet;

/// A secret's value. `Debug` and `Display` never show it; [`Secret::expose`] does, at the one
/// place that needs it (an HMAC key, a bearer token).
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)")
    }
}

impl std::fmt::Display for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Where a secret comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    /// `<NAME>` is set: the value itself (local runs).
    Plain(Secret),
    /// `<NAME>_ARN` is set (and `<NAME>` is not): a Secrets Manager secret ARN.
    Arn(String),
}

fn is_secret_arn(value: &str) -> bool {
    let parts: Vec<&str> = value.splitn(7, ':').collect();
    // arn:<partition>:secretsmanager:<region>:<account>:secret:<name>
    parts.len() == 7
        && parts[0] == "arn"
        && parts[2] == "secretsmanager"
        && parts[5] == "secret"
        && !parts[6].is_empty()
}

impl<F: Fn(&str) -> Option<String>> Env<F> {
    /// Where secret `name` comes from: `<name>` if set, else `<name>_ARN`, else an error naming
    /// both. No network; a function resolves every source before fetching anything, so a missing
    /// variable stops it at once.
    pub fn secret_source(&self, name: &'static str) -> Result<SecretSource, ConfigError> {
        if let Some(value) = self.raw(name) {
            return Ok(SecretSource::Plain(Secret(value)));
        }
        let arn = self
            .get(&format!("{name}_ARN"))
            .ok_or(ConfigError::MissingSecret(name))?;
        // The error does not echo the value: it may be the secret itself, put in the wrong place.
        if !is_secret_arn(&arn) {
            return Err(ConfigError::NotAnArn { name });
        }
        Ok(SecretSource::Arn(arn))
    }
}

/// Reads secrets from AWS Secrets Manager.
#[derive(Debug, Clone)]
pub struct SecretsManager {
    client: aws_sdk_secretsmanager::Client,
}

impl SecretsManager {
    pub fn new(sdk: &aws_config::SdkConfig) -> SecretsManager {
        SecretsManager::from_client(aws_sdk_secretsmanager::Client::new(sdk))
    }

    pub fn from_client(client: aws_sdk_secretsmanager::Client) -> SecretsManager {
        SecretsManager { client }
    }

    /// One `GetSecretValue`: the secret's current text (`SecretString`), as stored.
    pub async fn fetch(&self, name: &'static str, arn: &str) -> Result<Secret, ConfigError> {
        match self.fetch_stage(name, arn, None).await? {
            Some((secret, _)) => Ok(secret),
            None => Err(ConfigError::Fetch {
                name,
                arn: arn.to_owned(),
                problem: "the secret has no current version".to_owned(),
            }),
        }
    }

    /// One `GetSecretValue` of the version labelled `stage` (`None`: `AWSCURRENT`): its text
    /// and when that version was created (Unix seconds), or `None` when no version has the label
    /// (`AWSPREVIOUS` before the first rotation).
    pub async fn fetch_stage(
        &self,
        name: &'static str,
        arn: &str,
        stage: Option<&str>,
    ) -> Result<Option<(Secret, Option<i64>)>, ConfigError> {
        let output = match self
            .client
            .get_secret_value()
            .secret_id(arn)
            .set_version_stage(stage.map(str::to_owned))
            .send()
            .await
        {
            Ok(output) => output,
            Err(e)
                if stage.is_some()
                    && e.as_service_error()
                        .is_some_and(|e| e.is_resource_not_found_exception()) =>
            {
                return Ok(None);
            }
            Err(e) => {
                return Err(ConfigError::Fetch {
                    name,
                    arn: arn.to_owned(),
                    problem: match (e.code(), e.message()) {
                        (Some(code), message) => format!("{code}: {}", message.unwrap_or("")),
                        _ => DisplayErrorContext(&e).to_string(),
                    },
                });
            }
        };
        let created = output.created_date.map(|d| d.secs());
        output
            .secret_string
            .filter(|v| !v.is_empty())
            .map(|v| Some((Secret(v), created)))
            .ok_or_else(|| ConfigError::NotText {
                name,
                arn: arn.to_owned(),
            })
    }
}

/// The secrets `names`, in order, through `env`: plain values as they are, ARNs fetched
/// concurrently with one Secrets Manager client (built only if some secret comes by ARN). Every
/// source is checked before any fetch; with several failures, the first name's error is returned.
pub async fn secrets_from<F, const N: usize>(
    env: &Env<F>,
    sdk: &aws_config::SdkConfig,
    names: [&'static str; N],
) -> Result<[Secret; N], ConfigError>
where
    F: Fn(&str) -> Option<String>,
{
    let sources = names
        .iter()
        .map(|name| env.secret_source(name))
        .collect::<Result<Vec<_>, _>>()?;
    let mut values: Vec<Option<Result<Secret, ConfigError>>> = vec![None; N];
    let mut fetches = JoinSet::new();
    let mut manager = None;
    for (index, (name, source)) in names.iter().zip(sources).enumerate() {
        match source {
            SecretSource::Plain(secret) => values[index] = Some(Ok(secret)),
            SecretSource::Arn(arn) => {
                let manager = manager
                    .get_or_insert_with(|| SecretsManager::new(sdk))
                    .clone();
                let name = *name;
                fetches.spawn(async move { (index, manager.fetch(name, &arn).await) });
            }
        }
    }
    while let Some(joined) = fetches.join_next().await {
        // A fetch task only ends early by panicking: pass the panic on.
        let (index, result) = joined.unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
        values[index] = Some(result);
    }
    let mut out = Vec::with_capacity(N);
    for value in values {
        out.push(value.expect("every secret is plain or was fetched")?);
    }
    Ok(out
        .try_into()
        .unwrap_or_else(|_| unreachable!("one value per name")))
}

/// One secret through `env` (see [`secrets_from`]).
pub async fn secret_from<F>(
    env: &Env<F>,
    sdk: &aws_config::SdkConfig,
    name: &'static str,
) -> Result<Secret, ConfigError>
where
    F: Fn(&str) -> Option<String>,
{
    let [secret] = secrets_from(env, sdk, [name]).await?;
    Ok(secret)
}

/// [`secrets_from`] on the process environment.
pub async fn secrets<const N: usize>(
    sdk: &aws_config::SdkConfig,
    names: [&'static str; N],
) -> Result<[Secret; N], ConfigError> {
    secrets_from(&Env::process(), sdk, names).await
}

/// [`secret_from`] on the process environment.
pub async fn secret(
    sdk: &aws_config::SdkConfig,
    name: &'static str,
) -> Result<Secret, ConfigError> {
    secret_from(&Env::process(), sdk, name).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &'static [(&'static str, &'static str)]) -> Env<impl Fn(&str) -> Option<String>> {
        Env::from_lookup(move |name: &str| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        })
    }

    const ARN: &str = "arn:aws:secretsmanager:us-east-1:123456789012:secret:switchboard/app-AbCdEf";

    #[test]
    fn secrets_never_show_in_debug_or_display() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s:?}"), "Secret(..)");
        assert_eq!(format!("{s}"), "[redacted]");
        assert_eq!(
            format!("{:?}", SecretSource::Plain(s.clone())),
            "Plain(Secret(..))"
        );
        assert_eq!(s.expose(), "hunter2");
    }

    #[test]
    fn the_plain_variable_wins_then_the_arn_then_an_error_naming_both() {
        let both = env(&[
            ("WHATSAPP_APP_SECRET", " s3cret "),
            ("WHATSAPP_APP_SECRET_ARN", ARN),
        ]);
        // Taken as it is: a secret is not trimmed.
        assert_eq!(
            both.secret_source("WHATSAPP_APP_SECRET"),
            Ok(SecretSource::Plain(Secret::new(" s3cret ")))
        );
        let arn = env(&[
            ("WHATSAPP_APP_SECRET", " "),
            ("WHATSAPP_APP_SECRET_ARN", ARN),
        ]);
        assert_eq!(
            arn.secret_source("WHATSAPP_APP_SECRET"),
            Ok(SecretSource::Arn(ARN.to_owned()))
        );
        let none = env(&[]);
        let error = none.secret_source("OUTREACH_KEY").unwrap_err();
        assert_eq!(error, ConfigError::MissingSecret("OUTREACH_KEY"));
        let text = error.to_string();
        assert!(
            text.contains("OUTREACH_KEY ") && text.contains("OUTREACH_KEY_ARN"),
            "{text}"
        );
    }

    #[test]
    fn an_arn_variable_holding_something_else_is_refused_without_echoing_it() {
        for bad in [
            "the-secret-itself",
            "arn:aws:ssm:us-east-1:123456789012:parameter/x",
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:",
        ] {
            let lookup = move |name: &str| (name == "OUTREACH_KEY_ARN").then(|| bad.to_owned());
            let error = Env::from_lookup(lookup)
                .secret_source("OUTREACH_KEY")
                .unwrap_err();
            assert_eq!(
                error,
                ConfigError::NotAnArn {
                    name: "OUTREACH_KEY"
                }
            );
            assert!(!error.to_string().contains(bad), "{error}");
        }
    }

    #[tokio::test]
    async fn plain_secrets_need_no_aws_call() {
        // An empty SDK config has no region or credentials: a Secrets Manager call would fail.
        let sdk = aws_config::SdkConfig::builder().build();
        let e = env(&[
            ("WHATSAPP_APP_SECRET", "app"),
            ("WHATSAPP_VERIFY_TOKEN", "verify"),
        ]);
        let [app, verify] =
            secrets_from(&e, &sdk, ["WHATSAPP_APP_SECRET", "WHATSAPP_VERIFY_TOKEN"])
                .await
                .unwrap();
        assert_eq!((app.expose(), verify.expose()), ("app", "verify"));
        assert_eq!(
            secret_from(&e, &sdk, "WHATSAPP_ACCESS_TOKEN").await,
            Err(ConfigError::MissingSecret("WHATSAPP_ACCESS_TOKEN"))
        );
    }
}
