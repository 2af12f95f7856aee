//! Outreach expiry and interactions (OUT-EXP-1..4, OUT-ACT-1..6, OUT-7..9; seed 000).
//!
//! An outreach is one business-initiated template sent to one contact. It is active for the number's
//! expiry (30 days by default) after it was sent, then expired. What happens when the customer
//! answers it depends on whether it is active, whether the customer *interacted* (pressed a quick
//! reply or call to action) or *replied* (wrote anything else quoting it), and on who handles the
//! current conversation; the table lives in [`crate::engine`], the classification here.
//!
//! OUT-8: expiry must be decidable after the outreach record is gone, so every button payload
//! Switchboard puts on an outreach carries the outreach id and its send time, protected by an
//! HMAC-SHA256 under a deployment key. A payload that does not verify is ignored (the message is
//! a plain inbound one).

use crate::campaign::Handoff;
use crate::ids::{CampaignId, MessageId, OutreachId, TemplateName};
use crate::time::{Duration, Timestamp};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

/// Seed 000: "any outreach past 30 days is considered an Expired Outreach".
pub const DEFAULT_EXPIRY: Duration = Duration::days(30);
/// Seed 000's default text for an interaction with an expired outreach.
pub const DEFAULT_EXPIRED_TEXT: &str = "The message has expired, how can we help you?";

/// The campaign an outreach belongs to, with what the contact's lane needs to judge answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CampaignLink {
    pub campaign: CampaignId,
    /// The campaign's response timeout, from the send time (CAMP-7, CAMP-8).
    pub response_timeout: Duration,
    /// CAMP-7: the campaign's hand-off as its settings say it (one type from the admin's
    /// settings to the contact's lane; records written before it named the recipe or agent read
    /// as the bare `"bot"` / `"agent"`).
    #[serde(
        default,
        deserialize_with = "crate::campaign::Handoff::deserialize_either"
    )]
    pub hand_off: Handoff,
}

/// A sent outreach, as stored for the contact (its record expires with a TTL; OUT-8 covers that).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutreachRecord {
    pub id: OutreachId,
    /// Meta's id for the sent template: what a reply's `context.id` points at.
    pub wamid: MessageId,
    pub template: TemplateName,
    pub sent_at: Timestamp,
    /// The quick-reply buttons' titles, in order (index = the payload's button number).
    #[serde(default)]
    pub buttons: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub campaign: Option<CampaignLink>,
}

impl OutreachRecord {
    pub fn is_active(&self, expiry: Duration, at: Timestamp) -> bool {
        is_active(self.sent_at, expiry, at)
    }
}

/// An outreach sent at `sent_at` is active at `at` for `expiry`, then expired.
pub fn is_active(sent_at: Timestamp, expiry: Duration, at: Timestamp) -> bool {
    at < sent_at + expiry
}

/// The deployment's key for outreach payloads (OUT-8). Never logged.
///
/// After a rotation it also holds the key before it, until the end of the grace period
/// ([`previous_key_until`]): buttons sent before the rotation still verify after it (sent for 30
/// days, pressed later). New payloads are always signed with the current key.
#[derive(Clone)]
pub struct OutreachKey {
    current: Vec<u8>,
    previous: Option<(Vec<u8>, Timestamp)>,
}

/// How long payloads signed with the previous key still verify after a rotation: an outreach's
/// whole life ([`DEFAULT_EXPIRY`]), so every button sent before the rotation keeps working. To
/// revoke a leaked key at once, rotate twice (the leaked key is then no longer the previous one).
pub const PREVIOUS_KEY_GRACE: Duration = DEFAULT_EXPIRY;

/// Until when the key before a rotation made at `rotated_at` still verifies payloads.
pub fn previous_key_until(rotated_at: Timestamp) -> Timestamp {
    rotated_at + PREVIOUS_KEY_GRACE
}

impl OutreachKey {
    pub fn new(bytes: impl Into<Vec<u8>>) -> Self {
        OutreachKey {
            current: bytes.into(),
            previous: None,
        }
    }

    /// OPS-3: a key (an event's or a send's, which may embed a contact's wa_id, as a timer's
    /// does) as a log line may show it: 16 hex digits of an HMAC under the current key, so the
    /// router's and the sender's lines about one key still match, and nobody without the key
    /// can test phone numbers against it.
    pub fn log_id(&self, key: &str) -> String {
        let tag = mac(&self.current, format!("log:{key}").as_bytes());
        tag[..8].iter().map(|b| format!("{b:02x}")).collect()
    }

    /// The same key, also verifying payloads signed with `previous` before `until`.
    pub fn with_previous(mut self, previous: impl Into<Vec<u8>>, until: Timestamp) -> Self {
        self.previous = Some((previous.into(), until));
        self
    }
}

impl std::fmt::Debug for OutreachKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OutreachKey(…)")
    }
}

/// What a verified button payload says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ButtonPayload {
    pub outreach: OutreachId,
    pub sent_at: Timestamp,
    /// Which quick reply was pressed (0-based).
    pub button: u8,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    #[error(
        "outreach id may contain only letters, digits, '_' and '-' (at most 64), got {0} bytes"
    )]
    BadOutreachId(usize),
    #[error("payload is not a Switchboard outreach payload")]
    NotOurs,
    #[error("payload is malformed: {0}")]
    Malformed(&'static str),
    #[error("payload signature does not verify")]
    BadSignature,
}

const PREFIX: &str = "sb1";
const MAC_LEN: usize = 16;

impl ButtonPayload {
    /// Encodes `sb1.<outreach>.<sent_at>.<button>.<mac>`: at most ~100 characters, within the
    /// payload limits of quick-reply buttons.
    pub fn encode(&self, key: &OutreachKey) -> Result<String, PayloadError> {
        let id = self.outreach.as_str();
        if id.len() > 64
            || !id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            return Err(PayloadError::BadOutreachId(id.len()));
        }
        let body = format!("{PREFIX}.{id}.{}.{}", self.sent_at.unix(), self.button);
        let tag = mac(&key.current, body.as_bytes());
        Ok(format!(
            "{body}.{}",
            URL_SAFE_NO_PAD.encode(&tag[..MAC_LEN])
        ))
    }

    /// Verifies and decodes a payload. Anything that is not ours, malformed or forged is an error;
    /// the caller treats the message as plain inbound (OUT-8).
    pub fn verify(key: &OutreachKey, payload: &str) -> Result<ButtonPayload, PayloadError> {
        ButtonPayload::verify_with(&[&key.current], payload)
    }

    /// [`ButtonPayload::verify`] at `now`: with the current key, or with the key before the last
    /// rotation while its grace period lasts (OUT-8 across a key rotation).
    pub fn verify_at(
        key: &OutreachKey,
        payload: &str,
        now: Timestamp,
    ) -> Result<ButtonPayload, PayloadError> {
        match &key.previous {
            Some((previous, until)) if now < *until => {
                ButtonPayload::verify_with(&[&key.current, previous], payload)
            }
            _ => ButtonPayload::verify(key, payload),
        }
    }

    fn verify_with(keys: &[&[u8]], payload: &str) -> Result<ButtonPayload, PayloadError> {
        let Some((body, tag)) = payload.rsplit_once('.') else {
            return Err(PayloadError::NotOurs);
        };
        let mut parts = body.split('.');
        if parts.next() != Some(PREFIX) {
            return Err(PayloadError::NotOurs);
        }
        let (Some(id), Some(sent), Some(button), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(PayloadError::Malformed("expected five dot-separated parts"));
        };
        let tag = URL_SAFE_NO_PAD
            .decode(tag)
            .map_err(|_| PayloadError::Malformed("signature is not base64url"))?;
        let verifies = |key: &&[u8]| {
            let expected = mac(key, body.as_bytes());
            bool::from(subtle::ConstantTimeEq::ct_eq(
                &expected[..MAC_LEN],
                &tag[..],
            ))
        };
        if tag.len() != MAC_LEN || !keys.iter().any(verifies) {
            return Err(PayloadError::BadSignature);
        }
        let sent_at = sent
            .parse::<i64>()
            .map(Timestamp::from_unix)
            .map_err(|_| PayloadError::Malformed("send time is not a number"))?;
        let button = button
            .parse::<u8>()
            .map_err(|_| PayloadError::Malformed("button is not a number"))?;
        let outreach =
            OutreachId::new(id).map_err(|_| PayloadError::Malformed("outreach id is empty"))?;
        Ok(ButtonPayload {
            outreach,
            sent_at,
            button,
        })
    }
}

fn mac(key: &[u8], body: &[u8]) -> [u8; 32] {
    // HMAC accepts keys of any length; this cannot fail.
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes any key length");
    m.update(body);
    m.finalize().into_bytes().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> OutreachKey {
        OutreachKey::new(b"deployment-key-for-tests".to_vec())
    }

    fn payload() -> ButtonPayload {
        ButtonPayload {
            outreach: OutreachId::new("camp7-0001-c42").unwrap(),
            sent_at: Timestamp::from_unix(1_750_000_000),
            button: 2,
        }
    }

    #[test]
    fn out_8_payload_round_trips_and_carries_id_and_send_time() {
        let encoded = payload().encode(&key()).unwrap();
        assert!(encoded.len() <= 128, "{encoded}");
        assert!(encoded.starts_with("sb1.camp7-0001-c42.1750000000.2."));
        assert_eq!(ButtonPayload::verify(&key(), &encoded), Ok(payload()));
    }

    #[test]
    fn out_8_forged_or_foreign_payloads_do_not_verify() {
        let encoded = payload().encode(&key()).unwrap();
        // Another key.
        assert_eq!(
            ButtonPayload::verify(&OutreachKey::new(b"other".to_vec()), &encoded),
            Err(PayloadError::BadSignature)
        );
        // A customer's client rewriting the send time to look active again.
        let forged = encoded.replace(".1750000000.", ".1760000000.");
        assert_eq!(
            ButtonPayload::verify(&key(), &forged),
            Err(PayloadError::BadSignature)
        );
        assert_eq!(
            ButtonPayload::verify(&key(), "Yes please"),
            Err(PayloadError::NotOurs)
        );
        assert!(ButtonPayload::verify(&key(), "sb1.a.b.c").is_err());
        assert!(ButtonPayload::verify(&key(), "sb1.a.1.2.!!!").is_err());
        assert!(ButtonPayload::verify(&key(), "").is_err());
    }

    #[test]
    fn out_8_a_payload_signed_before_a_rotation_verifies_during_the_grace_period_only() {
        let old = key();
        let signed = payload().encode(&old).unwrap();
        let rotated_at = Timestamp::from_unix(1_760_000_000);
        let new = OutreachKey::new(b"the-rotated-key".to_vec()).with_previous(
            b"deployment-key-for-tests".to_vec(),
            previous_key_until(rotated_at),
        );
        // Signed with the new key from now on.
        assert_ne!(payload().encode(&new).unwrap(), signed);
        let during = rotated_at + PREVIOUS_KEY_GRACE - Duration::seconds(1);
        assert_eq!(
            ButtonPayload::verify_at(&new, &signed, during),
            Ok(payload())
        );
        let after = rotated_at + PREVIOUS_KEY_GRACE;
        assert_eq!(
            ButtonPayload::verify_at(&new, &signed, after),
            Err(PayloadError::BadSignature)
        );
        // Without `now`, only the current key.
        assert_eq!(
            ButtonPayload::verify(&new, &signed),
            Err(PayloadError::BadSignature)
        );
        let fresh = payload().encode(&new).unwrap();
        assert_eq!(ButtonPayload::verify_at(&new, &fresh, after), Ok(payload()));
        // A forgery verifies with neither key.
        let forged = signed.replace(".1750000000.", ".1760000000.");
        assert_eq!(
            ButtonPayload::verify_at(&new, &forged, during),
            Err(PayloadError::BadSignature)
        );
    }

    #[test]
    fn ops_3_a_logged_key_is_a_keyed_hash_without_the_wa_id() {
        let timer_key = "timer:106540352242922:4915123456789:reminder:3";
        let id = key().log_id(timer_key);
        assert_eq!(id.len(), 16);
        assert!(id.bytes().all(|b| b.is_ascii_hexdigit()), "{id}");
        assert!(!id.contains("4915123456789"));
        assert_eq!(id, key().log_id(timer_key), "the same key, the same id");
        assert_ne!(
            id,
            key().log_id("timer:106540352242922:4915123456780:reminder:3")
        );
        assert_ne!(id, OutreachKey::new(b"other".to_vec()).log_id(timer_key));
    }

    #[test]
    fn out_8_expiry_is_decidable_from_the_payload_alone() {
        let p = ButtonPayload::verify(&key(), &payload().encode(&key()).unwrap()).unwrap();
        assert!(is_active(
            p.sent_at,
            DEFAULT_EXPIRY,
            p.sent_at + Duration::days(29)
        ));
        assert!(!is_active(
            p.sent_at,
            DEFAULT_EXPIRY,
            p.sent_at + Duration::days(30)
        ));
    }

    #[test]
    fn outreach_ids_with_separators_are_refused_at_encode() {
        let mut p = payload();
        p.outreach = OutreachId::new("a.b").unwrap();
        assert_eq!(p.encode(&key()), Err(PayloadError::BadOutreachId(3)));
    }
}
