//! MEDIA-2 locally: a signed, expiring download link for the console's own route
//! (`GET /v1/media/{token}`). The token is `{object}.{expires}.{mac}`: the object's name (hashes
//! only, no phone number or message id, OPS-3), the expiry in epoch seconds, and the HMAC-SHA256
//! of both under the deployment's key. Anyone holding the link may download until it expires,
//! as with an S3 presigned URL; the console hands it out only to those who may see the contact.

use crate::MediaKey;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use rules::Timestamp;
use sha2::Sha256;

/// How long a download link works.
pub const LINK_TTL_SECONDS: u64 = 300;

#[derive(Clone)]
pub struct LinkSigner {
    key: Vec<u8>,
}

impl std::fmt::Debug for LinkSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LinkSigner(<redacted>)")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    #[error("the link is not one of ours")]
    Forged,
    #[error("the link expired; ask the console for a new one")]
    Expired,
}

impl LinkSigner {
    /// A signer under `secret` (derived with a label, so the key differs from any other use of
    /// the same secret).
    pub fn new(secret: &[u8]) -> Self {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
        mac.update(b"switchboard media links v1");
        LinkSigner {
            key: mac.finalize().into_bytes().to_vec(),
        }
    }

    /// The signer of MEDIA-3's local upload links (`PUT /v1/media/uploads/{token}`): a key of
    /// its own, so a download link is never an upload link or the other way round.
    pub fn for_uploads(&self) -> LinkSigner {
        LinkSigner {
            key: self
                .mac("switchboard media uploads v1")
                .finalize()
                .into_bytes()
                .to_vec(),
        }
    }

    fn mac(&self, payload: &str) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("any key length");
        mac.update(payload.as_bytes());
        mac
    }

    /// The token for `key`'s file, valid until `expires`.
    pub fn sign(&self, key: &MediaKey, expires: Timestamp) -> String {
        let payload = format!("{}.{}", key.object().replace('/', "~"), expires.unix());
        let mac = self.mac(&payload).finalize().into_bytes();
        format!(
            "{payload}.{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(mac)
        )
    }

    /// The object a token names, if the token is ours and not expired at `now`.
    pub fn verify(&self, token: &str, now: Timestamp) -> Result<String, LinkError> {
        let (payload, mac) = token.rsplit_once('.').ok_or(LinkError::Forged)?;
        let mac = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(mac)
            .map_err(|_| LinkError::Forged)?;
        self.mac(payload)
            .verify_slice(&mac)
            .map_err(|_| LinkError::Forged)?;
        let (object, expires) = payload.rsplit_once('.').ok_or(LinkError::Forged)?;
        let expires: i64 = expires.parse().map_err(|_| LinkError::Forged)?;
        if now.unix() > expires {
            return Err(LinkError::Expired);
        }
        Ok(object.replace('~', "/"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rules::{BusinessNumberId, ContactKey};

    #[test]
    fn media_2_links_expire_and_cannot_be_forged() {
        let signer = LinkSigner::new(b"secret");
        let key = MediaKey::new(
            BusinessNumberId::new("100").unwrap(),
            ContactKey::new("16505551234").unwrap(),
            "wamid.A",
        );
        let token = signer.sign(&key, Timestamp::from_unix(1_000));
        assert!(!token.contains("16505551234"));
        assert_eq!(
            signer.verify(&token, Timestamp::from_unix(1_000)),
            Ok(key.object())
        );
        assert_eq!(
            signer.verify(&token, Timestamp::from_unix(1_001)),
            Err(LinkError::Expired)
        );
        let later = token.replace(".1000.", ".9999.");
        assert_eq!(
            signer.verify(&later, Timestamp::from_unix(0)),
            Err(LinkError::Forged)
        );
        assert_eq!(
            LinkSigner::new(b"other").verify(&token, Timestamp::from_unix(0)),
            Err(LinkError::Forged)
        );
        assert_eq!(
            signer.verify("nonsense", Timestamp::from_unix(0)),
            Err(LinkError::Forged)
        );
        // MEDIA-3: upload links are signed under a key of their own.
        let uploads = signer.for_uploads();
        let upload = uploads.sign(&key, Timestamp::from_unix(1_000));
        assert_eq!(
            uploads.verify(&upload, Timestamp::from_unix(0)),
            Ok(key.object())
        );
        assert_eq!(
            uploads.verify(&token, Timestamp::from_unix(0)),
            Err(LinkError::Forged)
        );
        assert_eq!(
            signer.verify(&upload, Timestamp::from_unix(0)),
            Err(LinkError::Forged)
        );
    }
}
