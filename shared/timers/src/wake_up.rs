//! The wake-up payload: what a schedule carries (the target's input JSON) and what the timer wheel
//! holds. It names the contact's lane and the wake-up; the state, not the payload, says whether it
//! still means anything (TIME-2).
//!
//! ```json
//! {"number":"106540352242922","contact":"4915123456789","kind":"bot_inactivity","deadline":1767226200,"token":7}
//! ```
//!
//! Parsing is strict about the five fields (each present, of its type, ids non-empty, `kind` one
//! of [`TimerKind::ALL`]) and ignores fields it does not know, so that a payload armed by a newer
//! deployment still fires.

use queue::Envelope;
use rules::effect::Wake;
use rules::{BusinessNumberId, ContactKey, IdError, TimerKind, Timestamp};
use serde_json::{Map, Value};

/// One armed wake-up of one contact's clock.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct WakeUp {
    /// The business number (Meta's `phone_number_id`).
    pub number: BusinessNumberId,
    pub contact: ContactKey,
    pub kind: TimerKind,
    /// When the wake-up is due (the deadline the rules had when they armed it).
    pub deadline: Timestamp,
    /// The rules' token: the router acts only if it is still the armed one (TIME-2).
    pub token: u64,
}

#[derive(serde::Serialize)]
struct Payload<'a> {
    number: &'a str,
    contact: &'a str,
    kind: &'a str,
    deadline: i64,
    token: u64,
}

/// Why a payload is not a wake-up. It cannot become one by retrying.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    #[error("wake-up payload is not JSON: {0}")]
    NotJson(String),
    #[error("wake-up payload must be a JSON object, found {0}")]
    NotAnObject(&'static str),
    #[error("wake-up payload has no `{0}` field")]
    Missing(&'static str),
    #[error("wake-up payload field `{field}` must be {expected}, found {found}")]
    WrongType {
        field: &'static str,
        expected: &'static str,
        found: &'static str,
    },
    #[error("wake-up payload field `kind` is {0:?}, not a timer kind (known: {known})", known = known_kinds())]
    UnknownKind(String),
    #[error("wake-up payload field `{field}`: {problem}")]
    BadId {
        field: &'static str,
        problem: IdError,
    },
    #[error("wake-up payload field `deadline` is {0}: before 1970")]
    DeadlineBeforeEpoch(i64),
}

fn known_kinds() -> String {
    TimerKind::ALL.map(TimerKind::as_str).join(", ")
}

/// A timer kind by its stable name ([`TimerKind::as_str`]).
pub fn parse_kind(name: &str) -> Option<TimerKind> {
    TimerKind::ALL.into_iter().find(|k| k.as_str() == name)
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(n) if n.is_f64() => "a fractional number",
        Value::Number(n) if n.is_i64() && n.as_i64().is_some_and(|i| i < 0) => "a negative number",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn field<'a>(
    object: &'a Map<String, Value>,
    name: &'static str,
) -> Result<&'a Value, PayloadError> {
    object.get(name).ok_or(PayloadError::Missing(name))
}

fn string<'a>(object: &'a Map<String, Value>, name: &'static str) -> Result<&'a str, PayloadError> {
    let value = field(object, name)?;
    value.as_str().ok_or(PayloadError::WrongType {
        field: name,
        expected: "a string",
        found: type_name(value),
    })
}

impl WakeUp {
    /// The wake-up for `wake`, an `Effect::ArmTimer` of the contact `contact` of `number`.
    pub fn new(number: BusinessNumberId, contact: ContactKey, wake: Wake) -> WakeUp {
        WakeUp {
            number,
            contact,
            kind: wake.kind,
            deadline: wake.at,
            token: wake.token,
        }
    }

    /// Parses the JSON text of a payload.
    pub fn parse(json: &str) -> Result<WakeUp, PayloadError> {
        let value: Value =
            serde_json::from_str(json).map_err(|e| PayloadError::NotJson(e.to_string()))?;
        WakeUp::from_value(&value)
    }

    /// Reads a payload already parsed as JSON (a Lambda event).
    pub fn from_value(value: &Value) -> Result<WakeUp, PayloadError> {
        let object = value
            .as_object()
            .ok_or_else(|| PayloadError::NotAnObject(type_name(value)))?;
        let number = BusinessNumberId::new(string(object, "number")?).map_err(|problem| {
            PayloadError::BadId {
                field: "number",
                problem,
            }
        })?;
        let contact =
            ContactKey::new(string(object, "contact")?).map_err(|problem| PayloadError::BadId {
                field: "contact",
                problem,
            })?;
        let kind_name = string(object, "kind")?;
        let kind =
            parse_kind(kind_name).ok_or_else(|| PayloadError::UnknownKind(kind_name.to_owned()))?;
        let deadline_value = field(object, "deadline")?;
        let deadline = match deadline_value.as_i64() {
            Some(seconds) if seconds < 0 => return Err(PayloadError::DeadlineBeforeEpoch(seconds)),
            Some(seconds) => Timestamp::from_unix(seconds),
            None => {
                return Err(PayloadError::WrongType {
                    field: "deadline",
                    expected: "whole epoch seconds",
                    found: type_name(deadline_value),
                });
            }
        };
        let token_value = field(object, "token")?;
        let token = token_value.as_u64().ok_or(PayloadError::WrongType {
            field: "token",
            expected: "a non-negative whole number",
            found: type_name(token_value),
        })?;
        Ok(WakeUp {
            number,
            contact,
            kind,
            deadline,
            token,
        })
    }

    /// The payload as JSON text (what [`WakeUp::parse`] reads back), fields in a fixed order.
    pub fn to_json(&self) -> String {
        serde_json::to_string(&self.payload()).expect("a payload always serialises")
    }

    pub fn to_value(&self) -> Value {
        serde_json::to_value(self.payload()).expect("a payload always serialises")
    }

    fn payload(&self) -> Payload<'_> {
        Payload {
            number: self.number.as_str(),
            contact: self.contact.as_str(),
            kind: self.kind.as_str(),
            deadline: self.deadline.unix(),
            token: self.token,
        }
    }

    /// The contact's FIFO group on the inbound queue (TIME-3): the same group ingest uses for the
    /// contact's messages, `phone_number_id#contact`.
    pub fn group(&self) -> String {
        format!("{}#{}", self.number, self.contact)
    }

    /// The `TimerFired` event the router reads from the inbound queue. Its key,
    /// `timer:<number>:<contact>:<kind>:<token>`, makes a wake-up delivered twice one event.
    pub fn event(&self) -> whatsapp::Event {
        whatsapp::Event::timer_fired(
            self.number.as_str(),
            whatsapp::TimerFired {
                contact: self.contact.as_str().to_owned(),
                timer: self.kind.as_str().to_owned(),
                deadline: self.deadline.unix(),
                token: self.token,
            },
        )
    }

    /// The inbound-queue message for this wake-up: the event's key as the deduplication id, the
    /// contact's group, the event's JSON as the body.
    pub fn envelope(&self) -> Envelope {
        let event = self.event();
        Envelope {
            key: event.key.clone(),
            group: Some(self.group()),
            body: serde_json::to_string(&event).expect("an event always serialises"),
        }
    }

    /// The event the rules apply for this wake-up.
    pub fn rules_event(&self) -> rules::Event {
        rules::Event::TimerFired {
            kind: self.kind,
            token: self.token,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wake_up() -> WakeUp {
        WakeUp {
            number: BusinessNumberId::new("106540352242922").unwrap(),
            contact: ContactKey::new("4915123456789").unwrap(),
            kind: TimerKind::BotInactivity,
            deadline: Timestamp::from_unix(1_767_226_200),
            token: 7,
        }
    }

    #[test]
    fn round_trips_every_kind_and_ignores_unknown_fields() {
        for kind in TimerKind::ALL {
            let w = WakeUp {
                kind,
                token: u64::MAX,
                ..wake_up()
            };
            assert_eq!(WakeUp::parse(&w.to_json()), Ok(w.clone()));
        }
        let mut v = wake_up().to_value();
        v["added_later"] = Value::from(true);
        assert_eq!(WakeUp::from_value(&v), Ok(wake_up()));
        assert_eq!(
            wake_up().to_json(),
            r#"{"number":"106540352242922","contact":"4915123456789","kind":"bot_inactivity","deadline":1767226200,"token":7}"#
        );
    }

    #[test]
    fn rejects_malformed_payloads_naming_the_problem() {
        let with = |field: &str, value: Value| {
            let mut v = wake_up().to_value();
            v[field] = value;
            WakeUp::from_value(&v).unwrap_err()
        };
        let without = |field: &str| {
            let mut v = wake_up().to_value();
            v.as_object_mut().unwrap().remove(field);
            WakeUp::from_value(&v).unwrap_err()
        };
        for name in ["number", "contact", "kind", "deadline", "token"] {
            assert_eq!(without(name), PayloadError::Missing(name));
            assert_eq!(
                without(name).to_string(),
                format!("wake-up payload has no `{name}` field")
            );
        }
        let unknown = with("kind", "coffee_break".into());
        assert_eq!(unknown, PayloadError::UnknownKind("coffee_break".into()));
        assert!(
            unknown.to_string().contains("bot_inactivity, auto_close"),
            "{unknown}"
        );
        assert_eq!(
            with("token", Value::from(-1)),
            PayloadError::WrongType {
                field: "token",
                expected: "a non-negative whole number",
                found: "a negative number"
            }
        );
        assert_eq!(
            with("token", "7".into()).to_string(),
            "wake-up payload field `token` must be a non-negative whole number, found a string"
        );
        assert_eq!(
            with("deadline", Value::from(1.5)),
            PayloadError::WrongType {
                field: "deadline",
                expected: "whole epoch seconds",
                found: "a fractional number"
            }
        );
        assert_eq!(
            with("deadline", Value::from(-5)),
            PayloadError::DeadlineBeforeEpoch(-5)
        );
        assert_eq!(
            with("number", Value::Null),
            PayloadError::WrongType {
                field: "number",
                expected: "a string",
                found: "null"
            }
        );
        assert!(matches!(
            with("contact", "".into()),
            PayloadError::BadId {
                field: "contact",
                problem: IdError::Empty(_)
            }
        ));
        assert!(matches!(
            with("number", "9".repeat(300).into()),
            PayloadError::BadId {
                field: "number",
                problem: IdError::TooLong(..)
            }
        ));
        assert_eq!(
            WakeUp::parse("[1,2]"),
            Err(PayloadError::NotAnObject("an array"))
        );
        assert!(matches!(WakeUp::parse("{"), Err(PayloadError::NotJson(_))));
    }

    #[test]
    fn time_3_the_event_travels_in_the_contacts_lane_keyed_by_its_token() {
        let w = wake_up();
        let envelope = w.envelope();
        assert_eq!(
            envelope.key,
            "timer:106540352242922:4915123456789:bot_inactivity:7"
        );
        assert_eq!(
            envelope.group.as_deref(),
            Some("106540352242922#4915123456789")
        );
        let event: whatsapp::Event = serde_json::from_str(&envelope.body).unwrap();
        assert_eq!(event.key, envelope.key);
        assert_eq!(event.kind_name(), "timer_fired");
        // The same group ingest gives the contact's messages.
        assert_eq!(
            event.route(),
            whatsapp::Route::Inbound {
                group: "106540352242922#4915123456789".into()
            }
        );
        assert_eq!(
            event.body,
            whatsapp::EventBody::TimerFired(whatsapp::TimerFired {
                contact: "4915123456789".into(),
                timer: "bot_inactivity".into(),
                deadline: 1_767_226_200,
                token: 7
            })
        );
        assert_eq!(
            w.rules_event(),
            rules::Event::TimerFired {
                kind: TimerKind::BotInactivity,
                token: 7
            }
        );
    }
}
