//! Typed environment settings.

use crate::ConfigError;
use std::fmt::Display;
use std::str::FromStr;

/// Where settings come from: the process environment ([`Env::process`]) or any lookup (a map in
/// tests). A value that is empty or only whitespace counts as unset.
#[derive(Clone, Copy)]
pub struct Env<F> {
    lookup: F,
}

/// The process environment.
pub type ProcessEnv = Env<fn(&str) -> Option<String>>;

fn process_var(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

impl ProcessEnv {
    pub fn process() -> ProcessEnv {
        Env {
            lookup: process_var,
        }
    }
}

impl<F> std::fmt::Debug for Env<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Env(..)")
    }
}

impl<F: Fn(&str) -> Option<String>> Env<F> {
    pub fn from_lookup(lookup: F) -> Env<F> {
        Env { lookup }
    }

    /// The raw value, untrimmed, if it is set and not blank (secrets are taken as they are).
    pub(crate) fn raw(&self, name: &str) -> Option<String> {
        (self.lookup)(name).filter(|v| !v.trim().is_empty())
    }

    /// The value, trimmed, if it is set and not blank.
    pub fn get(&self, name: &str) -> Option<String> {
        self.raw(name).map(|v| v.trim().to_owned())
    }

    /// A setting the function cannot run without.
    pub fn required(&self, name: &'static str) -> Result<String, ConfigError> {
        self.get(name).ok_or(ConfigError::Missing(name))
    }

    /// A setting with a default.
    pub fn optional(&self, name: &'static str, default: &str) -> String {
        self.get(name).unwrap_or_else(|| default.to_owned())
    }

    /// A required http(s) URL, without a trailing `/`.
    pub fn required_url(&self, name: &'static str) -> Result<String, ConfigError> {
        url(name, self.required(name)?)
    }

    /// An http(s) URL with a default, without a trailing `/`.
    pub fn optional_url(&self, name: &'static str, default: &str) -> Result<String, ConfigError> {
        url(name, self.optional(name, default))
    }

    /// A Graph API version (`v23.0`), with a default.
    pub fn graph_version(&self, name: &'static str, default: &str) -> Result<String, ConfigError> {
        let version = self.optional(name, default);
        let well_formed = version
            .strip_prefix('v')
            .is_some_and(|v| !v.is_empty() && v.chars().all(|c| c.is_ascii_digit() || c == '.'));
        if well_formed {
            Ok(version)
        } else {
            Err(ConfigError::Invalid {
                name,
                problem: format!("{version:?} does not look like v23.0"),
            })
        }
    }

    /// A setting parsed into `T`, `default` when unset; a value that does not parse is an error
    /// naming the variable (never silently the default).
    pub fn parsed<T>(&self, name: &'static str, default: T) -> Result<T, ConfigError>
    where
        T: FromStr,
        T::Err: Display,
    {
        match self.get(name) {
            None => Ok(default),
            Some(v) => v.parse().map_err(|e: T::Err| ConfigError::Invalid {
                name,
                problem: format!("{v:?}: {e}"),
            }),
        }
    }
}

fn url(name: &'static str, value: String) -> Result<String, ConfigError> {
    if value.starts_with("https://") || value.starts_with("http://") {
        Ok(value.trim_end_matches('/').to_owned())
    } else {
        Err(ConfigError::Invalid {
            name,
            problem: format!("{value:?} is not an http(s) URL"),
        })
    }
}

/// [`Env::required`] on the process environment.
pub fn required(name: &'static str) -> Result<String, ConfigError> {
    Env::process().required(name)
}

/// [`Env::optional`] on the process environment.
pub fn optional(name: &'static str, default: &str) -> String {
    Env::process().optional(name, default)
}

/// [`Env::parsed`] on the process environment.
pub fn parsed<T>(name: &'static str, default: T) -> Result<T, ConfigError>
where
    T: FromStr,
    T::Err: Display,
{
    Env::process().parsed(name, default)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> Env<impl Fn(&str) -> Option<String>> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Env::from_lookup(move |name: &str| map.get(name).cloned())
    }

    #[test]
    fn required_settings_are_trimmed_and_blank_means_missing() {
        let e = env(&[
            ("TABLE_NAME", " switchboard \n"),
            ("BLANK", "  "),
            ("EMPTY", ""),
        ]);
        assert_eq!(e.required("TABLE_NAME").unwrap(), "switchboard");
        for name in ["BLANK", "EMPTY", "UNSET"] {
            assert_eq!(e.required(name), Err(ConfigError::Missing(name)));
        }
        assert_eq!(
            e.required("UNSET").unwrap_err().to_string(),
            "environment variable UNSET is not set (or is empty)"
        );
    }

    #[test]
    fn optional_settings_fall_back_to_their_default_only_when_unset() {
        let e = env(&[("WHATSAPP_GRAPH_VERSION", "v24.0"), ("BLANK", " ")]);
        assert_eq!(e.optional("WHATSAPP_GRAPH_VERSION", "v23.0"), "v24.0");
        assert_eq!(e.optional("BLANK", "v23.0"), "v23.0");
        assert_eq!(
            e.optional("WHATSAPP_GRAPH_URL", "https://graph.facebook.com"),
            "https://graph.facebook.com"
        );
    }

    #[test]
    fn parsed_settings_refuse_bad_values_with_the_variable_name() {
        let e = env(&[("BATCH", "25"), ("BAD", "many")]);
        assert_eq!(e.parsed("BATCH", 10u32), Ok(25));
        assert_eq!(e.parsed("UNSET", 10u32), Ok(10));
        match e.parsed("BAD", 10u32) {
            Err(ConfigError::Invalid { name, problem }) => {
                assert_eq!(name, "BAD");
                assert!(problem.contains("\"many\""), "{problem}");
            }
            other => panic!("expected Invalid, got {other:?}"),
        }
    }
}
