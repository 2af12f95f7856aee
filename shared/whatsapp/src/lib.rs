//! # Switchboard's WhatsApp Cloud API edge
//!
//! What Meta sends and how Switchboard reads it, with no I/O:
//!
//! - [`signature`]: `X-Hub-Signature-256` verification over the raw body (HOOK-2) and the GET
//!   subscription handshake (HOOK-1);
//! - [`webhook`]: the webhook body as it arrives, tolerant of what Meta really sends;
//! - [`event`]: the normalised events (one per message, status and account/template change), each
//!   with a stable key and a [`Route`]: customer events to the inbound FIFO in the contact's group,
//!   everything else to the updates queue. The module's table says which event maps to what;
//! - [`parse_events`]: body bytes → events (HOOK-4 errors for bodies that are not JSON or not a
//!   WhatsApp payload);
//! - [`bounds`]: HOOK-6, what a webhook may carry ([`PhoneNumberId`], ids, timestamps);
//! - [`outbound`]: what Switchboard sends, as Cloud API request bodies ([`Outgoing`],
//!   [`message_body`]) with Meta's limits checked ([`OutgoingError`]);
//! - `cloud` (cargo feature `cloud`): the Graph API client that sends them
//!   (`cloud::CloudClient`), over rustls with compiled-in roots. Ingest does not enable it.
//!
//! Typical use, after the signature check:
//!
//! ```
//! let body = br#"{"object":"whatsapp_business_account","entry":[{"id":"100","changes":[{"field":"messages","value":{"metadata":{"phone_number_id":"200"},"messages":[{"from":"15550001111","id":"wamid.A","timestamp":"1700000000","type":"text","text":{"body":"hi"}}]}}]}]}"#;
//! let events = whatsapp::parse_events(body).unwrap();
//! assert_eq!(events[0].key, "wamid.A");
//! assert_eq!(events[0].route(), whatsapp::Route::Inbound { group: "200#15550001111".into() });
//! ```

pub mod bounds;
#[cfg(feature = "cloud")]
pub mod cloud;
pub mod event;
mod lenient;
mod normalise;
pub mod outbound;
pub mod signature;
pub mod webhook;

pub use bounds::{PhoneNumberId, PhoneNumberIdError, bound_timestamps};
pub use event::{
    Event, EventBody, InboundMessage, LaneEvent, MessageContent, Route, StatusUpdate, TimerFired,
    lane_event,
};
pub use normalise::{PayloadError, normalise, parse_events};
pub use outbound::{Outgoing, OutgoingError, checked_body, message_body};
/// The time type of [`bound_timestamps`] (the rules' own), for callers that read webhooks only.
pub use rules::Timestamp;
pub use signature::{AppSecret, HandshakeError, SignatureError, sign, verify, verify_handshake};
