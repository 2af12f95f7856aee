//! HOOK-6, bounds at the edge: what a webhook may carry before anything is acknowledged, so that
//! nothing accepted is refused later (by the router, the sender or the store) and no impossible
//! value settles in a contact's state.
//!
//! | what | bound | when it is not met |
//! |---|---|---|
//! | `metadata.phone_number_id` | [`PhoneNumberId`]: 1 to [`PHONE_NUMBER_ID_MAX_DIGITS`] ASCII digits | the body is refused (400, the reason names entry, change and field) |
//! | message, status and context ids, the contact key, every event key | non-empty, at most [`rules::ids::MAX_ID_LEN`] bytes (the rules' own id types) | refused (400) |
//! | a message's or status's `timestamp` | [`rules::time::EventTime`]: not negative, at most 5 minutes after arrival | replaced by the arrival time; a message keeps Meta's stamp beside it ([`InboundMessage::replaced_timestamp`](crate::InboundMessage)), shown in the contact's message log |
//!
//! The size of one event (SQS takes 256 KiB per message) is checked where the events become queue
//! messages (ingest: 413 with the reason).

use crate::event::{Event, EventBody};
use rules::Timestamp;
use rules::time::EventTime;
use serde::Serialize;
use std::fmt;

/// The longest `phone_number_id` accepted (Meta's are 15 or 16 digits).
pub const PHONE_NUMBER_ID_MAX_DIGITS: usize = 32;

/// Meta's id of a business number (`phone_number_id`): digits only, parsed once at the edge (the
/// webhook's metadata, the console's path parameters). It names keys, groups and settings, so
/// nothing else (`../`, quotes, spaces) may pass.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct PhoneNumberId(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhoneNumberIdError {
    #[error("phone_number_id must not be empty")]
    Empty,
    #[error("phone_number_id must be digits only (Meta's number id), found {0:?}")]
    NotDigits(char),
    #[error("phone_number_id has {0} digits; at most {PHONE_NUMBER_ID_MAX_DIGITS} are allowed")]
    TooLong(usize),
}

impl PhoneNumberId {
    pub fn parse(text: &str) -> Result<PhoneNumberId, PhoneNumberIdError> {
        if text.is_empty() {
            return Err(PhoneNumberIdError::Empty);
        }
        if let Some(c) = text.chars().find(|c| !c.is_ascii_digit()) {
            return Err(PhoneNumberIdError::NotDigits(c));
        }
        if text.len() > PHONE_NUMBER_ID_MAX_DIGITS {
            return Err(PhoneNumberIdError::TooLong(text.len()));
        }
        Ok(PhoneNumberId(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for PhoneNumberId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<PhoneNumberId> for rules::BusinessNumberId {
    fn from(id: PhoneNumberId) -> rules::BusinessNumberId {
        // Digits, 1 to 32 of them: always a valid id.
        rules::BusinessNumberId::new(id.0).expect("a phone_number_id is a valid number id")
    }
}

/// Applies the timestamp bound to every message and status of a webhook that arrived at
/// `arrival`; returns how many stamps were replaced.
pub fn bound_timestamps(events: &mut [Event], arrival: Timestamp) -> usize {
    let mut replaced = 0;
    for event in events {
        match &mut event.body {
            EventBody::Message(m) => {
                let time = EventTime::of(m.timestamp, arrival);
                if let Some(stamped) = time.replaced {
                    m.timestamp = time.at.unix();
                    m.replaced_timestamp = Some(stamped);
                    replaced += 1;
                }
            }
            // A status keeps no note of its own (the ingest log counts the replacement): its
            // time only dates the delivery state and the ledger line.
            EventBody::Status(s) => {
                let time = EventTime::of(s.timestamp, arrival);
                if time.replaced.is_some() {
                    s.timestamp = time.at.unix();
                    replaced += 1;
                }
            }
            _ => {}
        }
    }
    replaced
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hook_6_phone_number_ids_are_digits_only() {
        assert_eq!(
            PhoneNumberId::parse("106540352242922").unwrap().as_str(),
            "106540352242922"
        );
        assert_eq!(PhoneNumberId::parse("1").unwrap().to_string(), "1");
        for (bad, why) in [
            ("", PhoneNumberIdError::Empty),
            ("../../etc/passwd", PhoneNumberIdError::NotDigits('.')),
            ("1' OR 1=1", PhoneNumberIdError::NotDigits('\'')),
            ("１２３", PhoneNumberIdError::NotDigits('１')),
            (" 123", PhoneNumberIdError::NotDigits(' ')),
            ("-1", PhoneNumberIdError::NotDigits('-')),
        ] {
            assert_eq!(PhoneNumberId::parse(bad), Err(why), "{bad:?}");
        }
        let long = "1".repeat(PHONE_NUMBER_ID_MAX_DIGITS + 1);
        assert_eq!(
            PhoneNumberId::parse(&long),
            Err(PhoneNumberIdError::TooLong(33))
        );
        assert!(PhoneNumberId::parse(&long[1..]).is_ok());
    }
}
