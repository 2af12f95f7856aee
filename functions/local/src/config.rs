//! The runner's configuration, read once at start: environment variables for the process and its
//! secrets, and a TOML file (`SWITCHBOARD_CONFIG`) for what a desk is made of: business numbers
//! with their settings and bot recipes, agents, templates and console tokens.
//! `switchboard.example.toml` beside this crate documents every key.
//!
//! | variable | default | what |
//! |---|---|---|
//! | `SWITCHBOARD_ADDR` | `127.0.0.1:3000` | where the HTTP server listens |
//! | `SWITCHBOARD_DB` | `./switchboard.db` | the SQLite state file; queues and timers in `<file>-queue` |
//! | `SWITCHBOARD_CONFIG` | none | the TOML file |
//! | `SWITCHBOARD_TEST_CLOCK` | off | `1`: `POST /dev/clock` moves the engine's time |
//! | `WHATSAPP_APP_SECRET` | required | webhook signatures (HOOK-2) |
//! | `WHATSAPP_VERIFY_TOKEN` | required | the webhook handshake (HOOK-1) |
//! | `WHATSAPP_ACCESS_TOKEN` | none | Graph API token; without it sends go to a recording sink |
//! | `WHATSAPP_GRAPH_URL` | `https://graph.facebook.com` | the Graph API's base URL |
//! | `WHATSAPP_GRAPH_VERSION` | `v23.0` | the Graph API version |
//! | `OUTREACH_KEY` | derived from the app secret | OUT-8 HMAC key for outreach buttons |
//! | `SWITCHBOARD_ENGINE_THREADS` | 2 | threads of the engine's runtime (routing, sending); the HTTP server has its own |

use console::{Role, StaticTokens};
use rules::billing::RateTable;
use rules::templates::Template;
use rules::{AgentId, BusinessNumberId, NumberSettings};
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::PathBuf;

pub const DEFAULT_ADDR: &str = "127.0.0.1:3000";
pub const DEFAULT_DB: &str = "./switchboard.db";

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{0} is not set")]
    Missing(&'static str),
    #[error("{name}: {reason}")]
    Invalid { name: &'static str, reason: String },
    #[error("configuration file {path}: {reason}")]
    File { path: String, reason: String },
}

/// Everything the runner needs, read once.
#[derive(Clone)]
pub struct Settings {
    pub addr: SocketAddr,
    pub db: PathBuf,
    pub app_secret: String,
    pub verify_token: String,
    pub access_token: Option<String>,
    pub graph_url: String,
    pub graph_version: String,
    pub outreach_key: Vec<u8>,
    pub test_clock: bool,
    /// Threads of the engine's own runtime (the HTTP server keeps the rest of the machine).
    pub engine_threads: usize,
    pub desk: Desk,
}

impl std::fmt::Debug for Settings {
    // Secrets and tokens are never printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("addr", &self.addr)
            .field("db", &self.db)
            .field("graph_url", &self.graph_url)
            .field("graph_version", &self.graph_version)
            .field("sink", &self.access_token.is_none())
            .field("test_clock", &self.test_clock)
            .field("numbers", &self.desk.numbers.len())
            .field("agents", &self.desk.agents.len())
            .finish_non_exhaustive()
    }
}

impl Settings {
    /// From the process environment (and the file it names).
    pub fn from_env() -> Result<Settings, ConfigError> {
        Settings::from_lookup(|name| std::env::var(name).ok())
    }

    /// From any lookup (tests pass a map).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Settings, ConfigError> {
        let non_empty = |name: &str| get(name).filter(|v| !v.trim().is_empty());
        let addr_text = non_empty("SWITCHBOARD_ADDR").unwrap_or_else(|| DEFAULT_ADDR.to_owned());
        let addr = addr_text
            .parse::<SocketAddr>()
            .map_err(|e| ConfigError::Invalid {
                name: "SWITCHBOARD_ADDR",
                reason: format!("{e} (expected host:port, e.g. {DEFAULT_ADDR})"),
            })?;
        let app_secret =
            non_empty("WHATSAPP_APP_SECRET").ok_or(ConfigError::Missing("WHATSAPP_APP_SECRET"))?;
        let verify_token = non_empty("WHATSAPP_VERIFY_TOKEN")
            .ok_or(ConfigError::Missing("WHATSAPP_VERIFY_TOKEN"))?;
        let test_clock = match non_empty("SWITCHBOARD_TEST_CLOCK").as_deref() {
            None | Some("0" | "false" | "off") => false,
            Some("1" | "true" | "on") => true,
            Some(other) => {
                return Err(ConfigError::Invalid {
                    name: "SWITCHBOARD_TEST_CLOCK",
                    reason: format!("{other:?} is not 1 or 0"),
                });
            }
        };
        // The Graph API's settings are checked as every function checks them.
        let env = aws_wiring::Env::from_lookup(|name: &str| get(name));
        let graph_url = env
            .optional_url("WHATSAPP_GRAPH_URL", sender::config::DEFAULT_GRAPH_URL)
            .map_err(wiring)?;
        let graph_version = env
            .graph_version(
                "WHATSAPP_GRAPH_VERSION",
                sender::config::DEFAULT_GRAPH_VERSION,
            )
            .map_err(wiring)?;
        let outreach_key = match non_empty("OUTREACH_KEY") {
            Some(key) => key.into_bytes(),
            None => derive_outreach_key(&app_secret),
        };
        let engine_threads = match non_empty("SWITCHBOARD_ENGINE_THREADS") {
            None => 2,
            Some(text) => match text.parse::<usize>() {
                Ok(n) if (1..=64).contains(&n) => n,
                _ => {
                    return Err(ConfigError::Invalid {
                        name: "SWITCHBOARD_ENGINE_THREADS",
                        reason: format!("{text:?} is not a number from 1 to 64"),
                    });
                }
            },
        };
        let desk = match non_empty("SWITCHBOARD_CONFIG") {
            Some(path) => Desk::load(&path)?,
            None => Desk::default(),
        };
        Ok(Settings {
            addr,
            db: non_empty("SWITCHBOARD_DB")
                .unwrap_or_else(|| DEFAULT_DB.to_owned())
                .into(),
            app_secret,
            verify_token,
            access_token: non_empty("WHATSAPP_ACCESS_TOKEN"),
            graph_url,
            graph_version,
            outreach_key,
            test_clock,
            engine_threads,
            desk,
        })
    }
}

/// A shared check's error, in this runner's terms (the variable named first).
fn wiring(error: aws_wiring::ConfigError) -> ConfigError {
    match error {
        aws_wiring::ConfigError::Invalid { name, problem } => ConfigError::Invalid {
            name,
            reason: problem,
        },
        aws_wiring::ConfigError::Missing(name) => ConfigError::Missing(name),
        other => ConfigError::Invalid {
            name: "configuration",
            reason: other.to_string(),
        },
    }
}

/// Without `OUTREACH_KEY`, the key is derived from the app secret (HMAC-SHA256 of a fixed
/// label), so outreach payloads keep verifying across restarts without a second secret to manage.
pub fn derive_outreach_key(app_secret: &str) -> Vec<u8> {
    use hmac::{Hmac, Mac};
    let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(app_secret.as_bytes())
        .expect("HMAC takes a key of any length");
    mac.update(b"switchboard outreach key v1");
    mac.finalize().into_bytes().to_vec()
}

/// BILL-6: `[rates]`: the rate table inline (`currency`, `source`, `rates = [{ category, market,
/// effective_from, micros }, …]`, as `PUT /v1/rates` takes it), or `file = "…"`: a JSON file of
/// that shape (such as `docs/rates.example.json`), relative to the desk file.
fn rates_of(mut table: toml::Table, base: &std::path::Path) -> Result<RateTable, String> {
    let parsed: RateTable = match table.remove("file") {
        Some(toml::Value::String(file)) => {
            if !table.is_empty() {
                return Err("rates: give either file or the table's keys, not both".into());
            }
            let path = base.join(&file);
            let text = std::fs::read_to_string(&path)
                .map_err(|e| format!("rates.file: {}: {e}", path.display()))?;
            serde_json::from_str(&text).map_err(|e| format!("rates.file: {file}: {e}"))?
        }
        Some(_) => return Err("rates.file: text expected (a path)".into()),
        None => {
            let value = serde_json::to_value(&table).map_err(|e| format!("rates: {e}"))?;
            serde_json::from_value(value).map_err(|e| format!("rates: {e}"))?
        }
    };
    parsed.validate().map_err(|e| format!("rates.{e}"))?;
    Ok(parsed)
}

/// The desk: what the configuration file declares.
#[derive(Debug, Clone, Default)]
pub struct Desk {
    pub numbers: Vec<Number>,
    pub agents: Vec<Agent>,
    pub templates: Vec<(BusinessNumberId, Template)>,
    pub tokens: Vec<Token>,
    /// BILL-6: the rate table, when the file sets one (`[rates]`).
    pub rates: Option<RateTable>,
}

#[derive(Debug, Clone)]
pub struct Number {
    pub waba_id: String,
    pub display_phone_number: Option<String>,
    pub settings: NumberSettings,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Agent {
    pub id: AgentId,
    /// The reception limit (AUTO-4).
    pub capacity: u32,
    #[serde(default = "yes")]
    pub online: bool,
}

fn yes() -> bool {
    true
}

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Token {
    pub agent: AgentId,
    pub role: String,
    pub token: String,
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Token")
            .field("agent", &self.agent)
            .field("role", &self.role)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    numbers: Vec<toml::Table>,
    #[serde(default)]
    agents: Vec<Agent>,
    #[serde(default)]
    templates: Vec<toml::Table>,
    #[serde(default)]
    tokens: Vec<Token>,
    #[serde(default)]
    rates: Option<toml::Table>,
}

impl Desk {
    pub fn load(path: &str) -> Result<Desk, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::File {
            path: path.to_owned(),
            reason: e.to_string(),
        })?;
        let base = std::path::Path::new(path)
            .parent()
            .unwrap_or(std::path::Path::new("."));
        Desk::parse_in(&text, base).map_err(|reason| ConfigError::File {
            path: path.to_owned(),
            reason,
        })
    }

    /// Parses and checks the file's text; the error names the entry and the field. A rate table
    /// file (`[rates] file = …`) is read relative to the working directory.
    pub fn parse(text: &str) -> Result<Desk, String> {
        Desk::parse_in(text, std::path::Path::new("."))
    }

    /// As [`Desk::parse`], with files the desk names read relative to `base` (the desk file's
    /// folder).
    pub fn parse_in(text: &str, base: &std::path::Path) -> Result<Desk, String> {
        let file: File = toml::from_str(text).map_err(|e| e.to_string())?;
        let mut desk = Desk::default();
        for (i, table) in file.numbers.into_iter().enumerate() {
            let at = format!("numbers[{i}]");
            let mut value = serde_json::to_value(&table).map_err(|e| format!("{at}: {e}"))?;
            let object = value
                .as_object_mut()
                .ok_or_else(|| format!("{at}: not a table"))?;
            let waba_id = match object.remove("waba_id") {
                Some(serde_json::Value::String(w)) if is_digits(&w) => w,
                _ => return Err(format!("{at}.waba_id: required, the account's digits")),
            };
            let display = match object.remove("display_phone_number") {
                None => None,
                Some(serde_json::Value::String(d)) => Some(d),
                Some(_) => return Err(format!("{at}.display_phone_number: text expected")),
            };
            match object.remove("id") {
                Some(serde_json::Value::String(id)) if is_digits(&id) => {
                    object.insert("number".to_owned(), serde_json::Value::String(id));
                }
                _ => return Err(format!("{at}.id: required, the phone number id's digits")),
            }
            let settings: NumberSettings =
                serde_json::from_value(value).map_err(|e| format!("{at}: {e}"))?;
            rules::settings::validate(&settings).map_err(|e| format!("{at}: {e}"))?;
            desk.numbers.push(Number {
                waba_id,
                display_phone_number: display,
                settings,
            });
        }
        desk.agents = file.agents;
        for (i, table) in file.templates.into_iter().enumerate() {
            let at = format!("templates[{i}]");
            let mut value = serde_json::to_value(&table).map_err(|e| format!("{at}: {e}"))?;
            let object = value
                .as_object_mut()
                .ok_or_else(|| format!("{at}: not a table"))?;
            let number = match object.remove("number") {
                Some(serde_json::Value::String(n)) => {
                    BusinessNumberId::new(n).map_err(|e| format!("{at}.number: {e}"))?
                }
                _ => return Err(format!("{at}.number: required, the number it belongs to")),
            };
            // Defaults for what a hand-written catalogue entry leaves out.
            for (key, default) in [
                ("header", serde_json::Value::Null),
                ("footer", serde_json::Value::Null),
                ("buttons", serde_json::json!([])),
                ("status", serde_json::json!("APPROVED")),
                ("quality", serde_json::json!("UNKNOWN")),
                ("recontact", serde_json::json!(false)),
                ("mapping", serde_json::json!({"header": {}, "body": {}})),
                ("status_as_of", serde_json::Value::Null),
                ("quality_as_of", serde_json::Value::Null),
            ] {
                object.entry(key).or_insert(default);
            }
            let template: Template =
                serde_json::from_value(value).map_err(|e| format!("{at}: {e}"))?;
            desk.templates.push((number, template));
        }
        for (i, token) in file.tokens.iter().enumerate() {
            if Role::parse(&token.role).is_none() {
                return Err(format!("tokens[{i}].role: admin or agent"));
            }
            if token.token.len() < 8 {
                return Err(format!("tokens[{i}].token: at least 8 characters"));
            }
        }
        desk.tokens = file.tokens;
        if let Some(table) = file.rates {
            desk.rates = Some(rates_of(table, base)?);
        }
        Ok(desk)
    }

    /// The console's identities.
    pub fn identities(&self) -> StaticTokens {
        self.tokens.iter().fold(StaticTokens::new(), |tokens, t| {
            let role = Role::parse(&t.role).unwrap_or(Role::Agent);
            tokens.with(t.token.clone(), t.agent.clone(), role)
        })
    }
}

fn is_digits(s: &str) -> bool {
    !s.is_empty() && s.len() <= 32 && s.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn lookup(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn defaults_and_required_secrets() {
        let err = Settings::from_lookup(lookup(&[])).unwrap_err();
        assert!(matches!(err, ConfigError::Missing("WHATSAPP_APP_SECRET")));
        let s = Settings::from_lookup(lookup(&[
            ("WHATSAPP_APP_SECRET", "s3cret"),
            ("WHATSAPP_VERIFY_TOKEN", "v"),
        ]))
        .unwrap();
        assert_eq!(s.addr.to_string(), DEFAULT_ADDR);
        assert_eq!(s.db, PathBuf::from(DEFAULT_DB));
        assert!(s.access_token.is_none());
        assert!(!s.test_clock);
        assert_eq!(s.outreach_key, derive_outreach_key("s3cret"));
        assert!(!format!("{s:?}").contains("s3cret"));
    }

    #[test]
    fn bad_values_are_named() {
        let base = [("WHATSAPP_APP_SECRET", "s"), ("WHATSAPP_VERIFY_TOKEN", "v")];
        let with = |extra: (&'static str, &'static str)| {
            let mut pairs = base.to_vec();
            pairs.push(extra);
            Settings::from_lookup(lookup(&pairs))
                .unwrap_err()
                .to_string()
        };
        assert!(with(("SWITCHBOARD_ADDR", "nope")).starts_with("SWITCHBOARD_ADDR"));
        assert!(with(("SWITCHBOARD_TEST_CLOCK", "maybe")).starts_with("SWITCHBOARD_TEST_CLOCK"));
        assert!(with(("WHATSAPP_GRAPH_URL", "ftp://x")).starts_with("WHATSAPP_GRAPH_URL"));
        assert!(with(("SWITCHBOARD_CONFIG", "/no/such/file.toml")).contains("/no/such/file.toml"));
    }

    #[test]
    fn the_example_file_parses() {
        let text = include_str!("../switchboard.example.toml");
        let desk = Desk::parse_in(text, std::path::Path::new(env!("CARGO_MANIFEST_DIR"))).unwrap();
        assert!(!desk.numbers.is_empty());
        // BILL-6: the example rate table, named by the example file.
        let rates = desk.rates.expect("the example sets [rates]");
        assert_eq!(rates.currency, "USD");
        assert!(rates.source.unwrap().starts_with("EXAMPLE"));
        assert!(desk.numbers[0].settings.recipe.is_some());
        assert!(!desk.agents.is_empty());
        assert!(!desk.templates.is_empty());
        assert!(desk.tokens.iter().any(|t| t.role == "admin"));
    }

    #[test]
    fn file_errors_name_the_entry_and_field() {
        let err = Desk::parse("[[numbers]]\nwaba_id = \"1\"\n").unwrap_err();
        assert!(err.contains("numbers[0].id"), "{err}");
        let err = Desk::parse("[[numbers]]\nid = \"1\"\nwaba_id = \"2\"\nauto_close_after = 5\n")
            .unwrap_err();
        assert!(err.contains("numbers[0]"), "{err}");
        let err = Desk::parse("[[tokens]]\nagent = \"a\"\nrole = \"boss\"\ntoken = \"12345678\"\n")
            .unwrap_err();
        assert!(err.contains("tokens[0].role"), "{err}");
        let err = Desk::parse("[[agents]]\nid = \"a\"\n").unwrap_err();
        assert!(err.contains("capacity"), "{err}");
    }

    // BILL-6: the desk file sets the rate table inline or by file; bad entries name the field.
    #[test]
    fn bill_6_desk_file_sets_the_rate_table() {
        let inline = "[rates]\ncurrency = \"EUR\"\nrates = [{ category = \"marketing\", market = \"39\", effective_from = \"2025-07-01\", micros = 60000 }]\n";
        let desk = Desk::parse(inline).unwrap();
        let rates = desk.rates.unwrap();
        assert_eq!(rates.currency, "EUR");
        assert_eq!(
            rates.rate(
                rules::billing::PricingCategory::Marketing,
                "393330000001",
                rules::Date::new(2025, 8, 1)
            ),
            Ok(60_000)
        );
        assert!(Desk::parse("").unwrap().rates.is_none());
        for (text, expected) in [
            ("[rates]\ncurrency = \"euro\"\n", "rates.currency"),
            (
                "[rates]\ncurrency = \"EUR\"\nrates = [{ category = \"marketing\", market = \"+39\", effective_from = \"2025-07-01\", micros = 1 }]\n",
                "rates.rates[0].market",
            ),
            (
                "[rates]\ncurrency = \"EUR\"\nrates = [{ category = \"marketing\", market = \"39\", effective_from = \"2025-13-01\", micros = 1 }]\n",
                "not a date",
            ),
            ("[rates]\ncurrency = \"EUR\"\ncolour = \"red\"\n", "colour"),
            ("[rates]\nfile = \"no/such/rates.json\"\n", "rates.file"),
            (
                "[rates]\nfile = \"x.json\"\ncurrency = \"EUR\"\n",
                "not both",
            ),
        ] {
            let err = Desk::parse(text).unwrap_err();
            assert!(err.contains(expected), "{expected}: {err}");
        }
    }
}
