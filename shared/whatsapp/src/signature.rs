//! Webhook authenticity: the `X-Hub-Signature-256` check on POST bodies (HOOK-2) and the
//! subscription handshake on GET (HOOK-1).

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

type HmacSha256 = Hmac<Sha256>;

/// The header Meta signs every POST with.
pub const SIGNATURE_HEADER: &str = "x-hub-signature-256";

const PREFIX: &str = "sha256=";

/// The app secret that keys the body's HMAC. Its `Debug` never shows it.
#[derive(Clone)]
pub struct AppSecret(Vec<u8>);

impl AppSecret {
    pub fn new(secret: impl Into<Vec<u8>>) -> AppSecret {
        AppSecret(secret.into())
    }

    fn mac(&self) -> HmacSha256 {
        // HMAC takes keys of any length; this cannot fail.
        HmacSha256::new_from_slice(&self.0).expect("HMAC accepts any key length")
    }
}

impl std::fmt::Debug for AppSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AppSecret(..)")
    }
}

/// Why a POST's signature was refused; every case answers 401 (HOOK-2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("missing X-Hub-Signature-256 header")]
    Missing,
    #[error("malformed X-Hub-Signature-256 header: {0}")]
    Malformed(&'static str),
    #[error("X-Hub-Signature-256 does not match the body")]
    Mismatch,
}

/// The 32-byte digest carried by a well-formed `sha256=<64 hex digits>` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Signature([u8; 32]);

impl Signature {
    /// Parses the header value. The `sha256=` prefix is matched case-insensitively (header
    /// values are not normalised by every proxy); hex digits may be either case.
    pub fn parse(header: &str) -> Result<Signature, SignatureError> {
        let header = header.trim();
        if header.len() < PREFIX.len() || !header.is_char_boundary(PREFIX.len()) {
            return Err(SignatureError::Malformed("expected sha256=<hex>"));
        }
        let (prefix, hex_digits) = header.split_at(PREFIX.len());
        if !prefix.eq_ignore_ascii_case(PREFIX) {
            return Err(SignatureError::Malformed("expected sha256=<hex>"));
        }
        if hex_digits.len() != 64 {
            return Err(SignatureError::Malformed("expected 64 hex digits"));
        }
        let mut digest = [0u8; 32];
        hex::decode_to_slice(hex_digits, &mut digest)
            .map_err(|_| SignatureError::Malformed("not hexadecimal"))?;
        Ok(Signature(digest))
    }
}

/// HOOK-2: checks `X-Hub-Signature-256` against the HMAC-SHA256 of the raw body bytes, in
/// constant time. Any re-serialisation of the body changes the bytes and fails.
pub fn verify(secret: &AppSecret, header: Option<&str>, body: &[u8]) -> Result<(), SignatureError> {
    let expected = Signature::parse(header.ok_or(SignatureError::Missing)?)?;
    let mut mac = secret.mac();
    mac.update(body);
    let actual = mac.finalize().into_bytes();
    if bool::from(actual.as_slice().ct_eq(&expected.0)) {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

/// The header value Meta would send for `body`: `sha256=<hex>`. For tests, fixtures and tools.
pub fn sign(secret: &AppSecret, body: &[u8]) -> String {
    let mut mac = secret.mac();
    mac.update(body);
    format!("{PREFIX}{}", hex::encode(mac.finalize().into_bytes()))
}

/// Why a GET handshake was refused; every case answers 403 (HOOK-1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum HandshakeError {
    #[error("hub.mode is not subscribe")]
    NotSubscribe,
    #[error("hub.verify_token does not match")]
    WrongToken,
    #[error("hub.challenge is missing or too long")]
    BadChallenge,
}

/// The longest challenge echoed back (Meta's are short integers).
const MAX_CHALLENGE: usize = 1024;

/// HOOK-1: `hub.mode=subscribe` with the right `hub.verify_token` returns `hub.challenge`, to be
/// answered as the plain-text body. `query` is the raw (percent-encoded) query string.
pub fn verify_handshake(query: &str, verify_token: &str) -> Result<String, HandshakeError> {
    let mut mode = None;
    let mut token = None;
    let mut challenge = None;
    for pair in query.split('&') {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        match percent_decode(name).as_str() {
            "hub.mode" => mode = Some(percent_decode(value)),
            "hub.verify_token" => token = Some(percent_decode(value)),
            "hub.challenge" => challenge = Some(percent_decode(value)),
            _ => {}
        }
    }
    if mode.as_deref() != Some("subscribe") {
        return Err(HandshakeError::NotSubscribe);
    }
    let token = token.ok_or(HandshakeError::WrongToken)?;
    if verify_token.is_empty() || !bool::from(token.as_bytes().ct_eq(verify_token.as_bytes())) {
        return Err(HandshakeError::WrongToken);
    }
    match challenge {
        Some(c) if !c.is_empty() && c.len() <= MAX_CHALLENGE => Ok(c),
        _ => Err(HandshakeError::BadChallenge),
    }
}

/// `application/x-www-form-urlencoded` decoding: `+` is a space, `%XX` a byte; invalid escapes are
/// kept as they are, invalid UTF-8 is replaced.
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => match (hex_value(bytes.get(i + 1)), hex_value(bytes.get(i + 2))) {
                (Some(h), Some(l)) => {
                    out.push(h << 4 | l);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex_value(b: Option<&u8>) -> Option<u8> {
    match b? {
        b @ b'0'..=b'9' => Some(b - b'0'),
        b @ b'a'..=b'f' => Some(b - b'a' + 10),
        b @ b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "test-app-secret";

    fn secret() -> AppSecret {
        AppSecret::new(SECRET)
    }

    #[test]
    fn hook_2_accepts_the_signature_of_the_raw_bytes() {
        let body = br#"{"object":"whatsapp_business_account","entry":[]}"#;
        let header = sign(&secret(), body);
        assert_eq!(verify(&secret(), Some(&header), body), Ok(()));
        // Upper-case hex and prefix are the same digest.
        let upper = header.to_ascii_uppercase();
        assert_eq!(verify(&secret(), Some(&upper), body), Ok(()));
    }

    #[test]
    fn hook_2_known_vector() {
        // HMAC-SHA256(key = "test-app-secret", "hello"), computed with Python's hmac module.
        let header = "sha256=bbcf2f8c43da7c2509dfa64ad5c712cebef4838195e049d8964fc04cb7fe6a1a";
        assert_eq!(sign(&secret(), b"hello"), header);
        assert_eq!(verify(&secret(), Some(header), b"hello"), Ok(()));
    }

    #[test]
    fn hook_2_rejects_a_reserialised_body() {
        let body = br#"{"object": "whatsapp_business_account", "entry": []}"#;
        let header = sign(&secret(), body);
        let value: serde_json::Value = serde_json::from_slice(body).unwrap();
        let reserialised = serde_json::to_vec(&value).unwrap();
        assert_ne!(reserialised.as_slice(), body.as_slice());
        assert_eq!(
            verify(&secret(), Some(&header), &reserialised),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn hook_2_rejects_wrong_secret_and_flipped_bits() {
        let body = b"{}";
        let header = sign(&AppSecret::new("another-secret"), body);
        assert_eq!(
            verify(&secret(), Some(&header), body),
            Err(SignatureError::Mismatch)
        );
        let mut good = sign(&secret(), body).into_bytes();
        let last = good.len() - 1;
        good[last] = if good[last] == b'0' { b'1' } else { b'0' };
        let flipped = String::from_utf8(good).unwrap();
        assert_eq!(
            verify(&secret(), Some(&flipped), body),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn hook_2_missing_and_malformed_headers() {
        let body = b"{}";
        assert_eq!(verify(&secret(), None, body), Err(SignatureError::Missing));
        let digest = &sign(&secret(), body)[PREFIX.len()..];
        for bad in [
            "".to_owned(),
            "sha256=".to_owned(),
            digest.to_owned(),
            format!("sha1={digest}"),
            format!("sha256={}", &digest[..63]),
            format!("sha256={digest}00"),
            format!("sha256={}zz", &digest[..62]),
            "sha256é".to_owned(),
            "é".repeat(40),
        ] {
            assert!(
                matches!(
                    verify(&secret(), Some(&bad), body),
                    Err(SignatureError::Malformed(_))
                ),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn app_secret_debug_hides_the_secret() {
        assert!(!format!("{:?}", secret()).contains(SECRET));
    }

    #[test]
    fn hook_1_handshake() {
        let q = "hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token=meatyhamhock";
        assert_eq!(
            verify_handshake(q, "meatyhamhock"),
            Ok("1158201444".to_owned())
        );
        assert_eq!(
            verify_handshake(q, "other"),
            Err(HandshakeError::WrongToken)
        );
        assert_eq!(
            verify_handshake(
                "hub.mode=unsubscribe&hub.challenge=1&hub.verify_token=t",
                "t"
            ),
            Err(HandshakeError::NotSubscribe)
        );
        assert_eq!(
            verify_handshake("hub.mode=subscribe&hub.challenge=1", "t"),
            Err(HandshakeError::WrongToken)
        );
        assert_eq!(
            verify_handshake("hub.mode=subscribe&hub.verify_token=t", "t"),
            Err(HandshakeError::BadChallenge)
        );
        assert_eq!(verify_handshake("", "t"), Err(HandshakeError::NotSubscribe));
        // An empty configured token never matches an empty or missing one.
        assert_eq!(
            verify_handshake("hub.mode=subscribe&hub.challenge=1&hub.verify_token=", ""),
            Err(HandshakeError::WrongToken)
        );
    }

    #[test]
    fn hook_1_handshake_decodes_the_query() {
        let q = "hub.mode=subscribe&hub.challenge=a%20b+c&hub.verify_token=s%C3%A9cret%26x%";
        assert_eq!(verify_handshake(q, "sécret&x%"), Ok("a b c".to_owned()));
    }
}
