//! Identifiers and parsed values. Raw strings are parsed once at the edge into these types;
//! no raw `String` id crosses into a decision.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::sync::Arc;

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Arc<str>);

        impl $name {
            /// Wraps an id. Ids are opaque; an empty id is refused.
            pub fn new(value: impl Into<String>) -> Result<Self, IdError> {
                let value = value.into();
                if value.is_empty() {
                    return Err(IdError::Empty(stringify!($name)));
                }
                if value.len() > MAX_ID_LEN {
                    return Err(IdError::TooLong(stringify!($name), value.len()));
                }
                Ok($name(Arc::from(value)))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

/// Ids longer than this are refused: Meta's are far shorter, and keys must stay small.
pub const MAX_ID_LEN: usize = 256;

string_id!(
    /// A business number: Meta's `phone_number_id`. Settings hang off it.
    BusinessNumberId
);
string_id!(
    /// A customer on a channel. For WhatsApp: the `wa_id`, or since 2026 a business-scoped user id
    /// when Meta sends no phone number. Never assumed to be a phone number.
    ContactKey
);
string_id!(
    /// A WhatsApp message id (`wamid.…`), inbound or outbound.
    MessageId
);
string_id!(
    /// An agent of the support desk.
    AgentId
);
string_id!(
    /// A conversation: deterministic, derived from the event that opened it.
    ConversationId
);
string_id!(
    /// An outbound campaign.
    CampaignId
);
string_id!(
    /// A bot recipe enabled on a number.
    RecipeId
);
string_id!(
    /// A template's name in the WhatsApp Business Account catalogue.
    TemplateName
);
string_id!(
    /// An outreach: one business-initiated template message to one contact. Switchboard names it
    /// before sending (the id goes into the buttons' payloads, OUT-8); Meta's `wamid` for it is
    /// kept beside it once known.
    OutreachId
);
string_id!(
    /// The key under which an event is applied at most once (ARCHITECTURE invariant 1): a message
    /// id, message id + status, or field + id + time, as produced by ingest.
    EventKey
);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("{0} must not be empty")]
    Empty(&'static str),
    #[error("{0} is {1} bytes long; at most 256 are allowed")]
    TooLong(&'static str, usize),
}

/// A phone number in E.164: `+`, a country code that does not start with 0, and at most 15 digits
/// in all (CAMP-4: numbers must carry their country prefix).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PhoneNumber(String);

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(rename_all = "snake_case", tag = "problem", content = "detail")]
pub enum PhoneError {
    #[error("phone number is empty")]
    Empty,
    #[error("phone number must start with + and the country code (E.164), e.g. +4915123456789")]
    MissingCountryPrefix,
    #[error("phone number may contain only digits after the +, found {0:?}")]
    InvalidCharacter(char),
    #[error("a country code never starts with 0")]
    LeadingZero,
    #[error("phone number has {0} digits; E.164 allows 8 to 15")]
    Length(usize),
}

impl PhoneNumber {
    /// Parses an E.164 number. Spaces, dashes, dots and parentheses are accepted as separators
    /// (people paste numbers that way) and removed; anything else is an error with its reason.
    pub fn parse(input: &str) -> Result<Self, PhoneError> {
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Err(PhoneError::Empty);
        }
        let rest = trimmed
            .strip_prefix('+')
            .ok_or(PhoneError::MissingCountryPrefix)?;
        let mut digits = String::with_capacity(16);
        digits.push('+');
        for c in rest.chars() {
            match c {
                '0'..='9' => digits.push(c),
                ' ' | '-' | '.' | '(' | ')' => {}
                other => return Err(PhoneError::InvalidCharacter(other)),
            }
        }
        let count = digits.len() - 1;
        if digits.as_bytes().get(1) == Some(&b'0') {
            return Err(PhoneError::LeadingZero);
        }
        if !(8..=15).contains(&count) {
            return Err(PhoneError::Length(count));
        }
        Ok(PhoneNumber(digits))
    }

    /// Meta's `wa_id` form: the digits without `+`.
    pub fn wa_digits(&self) -> &str {
        &self.0[1..]
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for PhoneNumber {
    type Error = PhoneError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        PhoneNumber::parse(&value)
    }
}

impl From<PhoneNumber> for String {
    fn from(value: PhoneNumber) -> String {
        value.0
    }
}

impl fmt::Display for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The chat channels a support desk serves (CHAN-1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    WhatsApp,
    Messenger,
    Instagram,
    WeChat,
    Viber,
    Telegram,
    Line,
    WebsiteChat,
    Sms,
    Email,
}

#[cfg(test)]
mod tests {
    use super::*;

    // CAMP-4: E.164 with country prefix, clear reasons otherwise.
    #[test]
    fn camp_4_phone_numbers_parse_as_e164_with_reasons() {
        let cases: &[(&str, Result<&str, PhoneError>)] = &[
            ("+4915123456789", Ok("+4915123456789")),
            (" +1 (415) 555-0100 ", Ok("+14155550100")),
            ("+44.20.7946.0018", Ok("+442079460018")),
            ("", Err(PhoneError::Empty)),
            ("015123456789", Err(PhoneError::MissingCountryPrefix)),
            ("4915123456789", Err(PhoneError::MissingCountryPrefix)),
            ("+49151x23456789", Err(PhoneError::InvalidCharacter('x'))),
            ("+0151234567", Err(PhoneError::LeadingZero)),
            ("+1234567", Err(PhoneError::Length(7))),
            ("+1234567890123456", Err(PhoneError::Length(16))),
        ];
        for (input, expected) in cases {
            let got = PhoneNumber::parse(input);
            match expected {
                Ok(s) => assert_eq!(got.as_ref().map(|p| p.as_str()), Ok(*s), "{input}"),
                Err(e) => assert_eq!(got.as_ref().err(), Some(e), "{input}"),
            }
        }
        assert_eq!(
            PhoneNumber::parse("+4915123456789").unwrap().wa_digits(),
            "4915123456789"
        );
    }

    #[test]
    fn ids_refuse_empty_and_oversized() {
        assert_eq!(ContactKey::new(""), Err(IdError::Empty("ContactKey")));
        assert!(MessageId::new("x".repeat(300)).is_err());
        assert_eq!(
            MessageId::new("wamid.ABC").unwrap().to_string(),
            "wamid.ABC"
        );
    }

    #[test]
    fn phone_numbers_deserialise_through_parse() {
        let ok: PhoneNumber = serde_json::from_str("\"+14155550100\"").unwrap();
        assert_eq!(ok.as_str(), "+14155550100");
        assert!(serde_json::from_str::<PhoneNumber>("\"14155550100\"").is_err());
    }
}
