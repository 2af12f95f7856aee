//! # Switchboard's media (SPEC section 13)
//!
//! - [`MediaStore`]: the port where media files live, by contact: put a stream (hashed and
//!   measured as it is written, refused over a limit or when its SHA-256 is not the one
//!   expected, so nothing half-written or corrupt is ever kept), read one back as a stream, keep
//!   a small [`MediaRecord`] per file (type, size, SHA-256, or why it could not be fetched), and
//!   delete everything of one contact (erasure). Adapters: [`FolderStore`] (a folder beside the
//!   SQLite database) and `S3Store` (an S3 bucket); one contract suite runs against both.
//! - [`fetch`]: MEDIA-1, an inbound media id → Meta's link → the bytes, streamed into the store
//!   with Meta's SHA-256 checked; failures are recorded on the file's record and retried on the
//!   schedule `rules::media::fetch_retry_after` decides.
//! - [`links`]: MEDIA-2 signed, expiring download links for the local console route.
//!
//! Keys never carry a phone number or a message id in clear (OPS-3): an object is
//! `{phone_number_id}/{sha256(contact)[..32]}/{sha256(message)[..32]}`, so one contact's files
//! share a prefix and erasure is one prefix delete.

pub mod fetch;
mod folder;
pub mod links;
mod s3;

pub use fetch::{FetchJob, FetchOutcome, Fetcher};
pub use folder::FolderStore;
pub use s3::{PART_BYTES, S3Store};

use bytes::Bytes;
use futures_util::Stream;
use rules::effect::MediaKind;
use rules::{BusinessNumberId, ContactKey, Timestamp};
use serde::{Deserialize, Serialize};
use sha2::Digest;
use std::future::Future;
use std::pin::Pin;

/// A stream of a file's bytes.
pub type ByteStream = Pin<Box<dyn Stream<Item = Result<Bytes, MediaError>> + Send>>;

/// Where one media file lives: the business number, the contact and the message it came with
/// (or the upload's id for agents' files).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct MediaKey {
    pub number: BusinessNumberId,
    pub contact: ContactKey,
    pub message: String,
}

fn short_hash(text: &str) -> String {
    hex::encode(&sha2::Sha256::digest(text.as_bytes())[..16])
}

impl MediaKey {
    pub fn new(number: BusinessNumberId, contact: ContactKey, message: impl Into<String>) -> Self {
        MediaKey {
            number,
            contact,
            message: message.into(),
        }
    }

    /// `{phone_number_id}/{hash of the contact}/`: every file of one contact.
    pub fn contact_prefix(number: &BusinessNumberId, contact: &ContactKey) -> String {
        format!("{}/{}/", number.as_str(), short_hash(contact.as_str()))
    }

    /// The object's name: [`MediaKey::contact_prefix`] + a hash of the message id.
    pub fn object(&self) -> String {
        format!(
            "{}{}",
            MediaKey::contact_prefix(&self.number, &self.contact),
            short_hash(&self.message)
        )
    }
}

/// What a file is, as known before its bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MediaMeta {
    pub kind: MediaKind,
    pub mime_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filename: Option<String>,
}

/// A file kept: its size and SHA-256 (lower-case hex).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredMedia {
    pub size: u64,
    pub sha256: String,
    pub stored_at: Timestamp,
}

/// Where a media file stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "status")]
pub enum MediaStatus {
    Stored(StoredMedia),
    /// MEDIA-1: a fetch failed `attempts` times; `next_at` is the next try, `None` when the
    /// fetcher gave up.
    Failed {
        attempts: u32,
        reason: String,
        at: Timestamp,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        next_at: Option<Timestamp>,
    },
    /// MEDIA-3, two-step upload: an agent declared a file of `size` bytes (and the caption to
    /// send it with); its bytes come through the link handed out, valid until `expires_at`.
    Awaiting {
        size: u64,
        expires_at: Timestamp,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        caption: Option<String>,
        /// The SHA-256 the agent declared (hex), checked before the send.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sha256: Option<String>,
    },
}

/// The record kept beside each file (the console shows it in the log).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MediaRecord {
    #[serde(flatten)]
    pub meta: MediaMeta,
    #[serde(flatten)]
    pub status: MediaStatus,
}

impl MediaRecord {
    pub fn stored(&self) -> Option<&StoredMedia> {
        match &self.status {
            MediaStatus::Stored(s) => Some(s),
            MediaStatus::Failed { .. } | MediaStatus::Awaiting { .. } => None,
        }
    }
}

/// What a put must satisfy before the file is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PutCheck<'a> {
    /// The most bytes accepted; more is [`MediaError::TooLarge`] and nothing is kept.
    pub limit: u64,
    /// Meta's SHA-256 (hex or base64); another hash is [`MediaError::Corrupt`].
    pub sha256: Option<&'a str>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MediaError {
    #[error("the file is larger than {limit} bytes")]
    TooLarge { limit: u64 },
    #[error("the file's SHA-256 is not the one Meta gave")]
    Corrupt,
    /// The source of the bytes failed (Meta's download, the client's upload).
    #[error("reading the file: {0}")]
    Source(String),
    /// The store failed (disk, S3).
    #[error("media store: {0}")]
    Store(String),
}

/// Where and how a client puts an upload's bytes itself (S3's presigned `PUT`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadLink {
    pub url: String,
    /// The headers the `PUT` must carry as they are (signed: `Content-Type`, `Content-Length`).
    pub headers: Vec<(String, String)>,
}

/// The port where media files live (SPEC section 13). One contract suite, two adapters.
pub trait MediaStore: Send + Sync {
    /// Writes `body` as `key`'s file with `meta`, hashing and counting as it goes; kept (with
    /// its record, status stored) only when the whole stream passed `check`.
    fn put<S>(
        &self,
        key: &MediaKey,
        meta: &MediaMeta,
        body: S,
        check: PutCheck<'_>,
        now: Timestamp,
    ) -> impl Future<Output = Result<StoredMedia, MediaError>> + Send
    where
        S: Stream<Item = Result<Bytes, MediaError>> + Send;

    /// The file's record, if any.
    fn record(
        &self,
        key: &MediaKey,
    ) -> impl Future<Output = Result<Option<MediaRecord>, MediaError>> + Send;

    /// Replaces the file's record (a failed fetch's note); the file itself is left as it is.
    fn put_record(
        &self,
        key: &MediaKey,
        record: &MediaRecord,
    ) -> impl Future<Output = Result<(), MediaError>> + Send;

    /// The stored file as a stream, with its record; `None` when it is not stored.
    fn open(
        &self,
        key: &MediaKey,
    ) -> impl Future<Output = Result<Option<(MediaRecord, ByteStream)>, MediaError>> + Send;

    /// A link the browser can download from directly for `ttl_seconds` (S3's presigned GET);
    /// `None` when the store has no such links (the console then signs its own route).
    fn direct_link(
        &self,
        key: &MediaKey,
        ttl_seconds: u64,
    ) -> impl Future<Output = Result<Option<String>, MediaError>> + Send;

    /// MEDIA-3, two-step upload: a link the client `PUT`s exactly `size` bytes of `mime_type`
    /// to as `key`'s file, for `ttl_seconds` (S3's presigned `PUT`, with the size and type
    /// signed); `None` when the store has no such links (the console then signs its own route).
    fn upload_link(
        &self,
        key: &MediaKey,
        mime_type: &str,
        size: u64,
        ttl_seconds: u64,
    ) -> impl Future<Output = Result<Option<UploadLink>, MediaError>> + Send;

    /// The size of `key`'s file as it is (whatever its record says); `None` when there is none.
    fn file_size(
        &self,
        key: &MediaKey,
    ) -> impl Future<Output = Result<Option<u64>, MediaError>> + Send;

    /// `key`'s file as it is (whatever its record says); `None` when there is none.
    fn open_file(
        &self,
        key: &MediaKey,
    ) -> impl Future<Output = Result<Option<ByteStream>, MediaError>> + Send;

    /// Erasure: deletes every file and record of the contact; returns how many files went.
    fn delete_contact(
        &self,
        number: &BusinessNumberId,
        contact: &ContactKey,
    ) -> impl Future<Output = Result<u64, MediaError>> + Send;
}

/// The checks every put makes, one place for both adapters: each chunk counted and hashed as it
/// passes (refused past the limit), and at the end the size and SHA-256 against the hash
/// expected. An adapter writes only what [`Checked::pass`] let through, and keeps the file only
/// when [`Checked::finish`] says so.
#[derive(Debug)]
pub(crate) struct Checked<'a> {
    measure: Measure,
    sha256: Option<&'a str>,
}

impl<'a> Checked<'a> {
    pub(crate) fn new(check: PutCheck<'a>) -> Self {
        Checked {
            measure: Measure::new(check.limit),
            sha256: check.sha256,
        }
    }

    /// The stream's next chunk, counted and hashed; an error (the source's, or too large) ends
    /// the put.
    pub(crate) fn pass(&mut self, chunk: Result<Bytes, MediaError>) -> Result<Bytes, MediaError> {
        let chunk = chunk?;
        self.measure.add(&chunk)?;
        Ok(chunk)
    }

    pub(crate) fn finish(self, now: Timestamp) -> Result<StoredMedia, MediaError> {
        self.measure.finish(self.sha256, now)
    }
}

/// A record as kept (JSON beside the file).
pub(crate) fn parse_record(bytes: &[u8]) -> Result<MediaRecord, MediaError> {
    serde_json::from_slice(bytes).map_err(|e| MediaError::Store(format!("unreadable record: {e}")))
}

/// Hashes and counts a stream as it passes, refusing past the limit (shared by the adapters).
#[derive(Debug)]
pub struct Measure {
    hasher: sha2::Sha256,
    size: u64,
    limit: u64,
}

impl Measure {
    pub fn new(limit: u64) -> Self {
        Measure {
            hasher: sha2::Sha256::new(),
            size: 0,
            limit,
        }
    }

    /// Counts `chunk`; [`MediaError::TooLarge`] once past the limit.
    pub fn add(&mut self, chunk: &[u8]) -> Result<(), MediaError> {
        self.size += chunk.len() as u64;
        if self.size > self.limit {
            return Err(MediaError::TooLarge { limit: self.limit });
        }
        self.hasher.update(chunk);
        Ok(())
    }

    /// The size and hex SHA-256, checked against the expected hash.
    pub fn finish(self, expected: Option<&str>, now: Timestamp) -> Result<StoredMedia, MediaError> {
        let digest = self.hasher.finalize();
        if let Some(expected) = expected
            && !same_hash(&digest, expected)
        {
            return Err(MediaError::Corrupt);
        }
        Ok(StoredMedia {
            size: self.size,
            sha256: hex::encode(digest),
            stored_at: now,
        })
    }
}

/// Meta gives the SHA-256 as hex in `GET /{media-id}` and as base64 in some webhooks.
fn same_hash(digest: &[u8], expected: &str) -> bool {
    use base64::Engine as _;
    let expected = expected.trim();
    if let Ok(bytes) = hex::decode(expected)
        && bytes.len() == 32
    {
        return bytes == digest;
    }
    [
        base64::engine::general_purpose::STANDARD,
        base64::engine::general_purpose::URL_SAFE,
    ]
    .iter()
    .any(|engine| engine.decode(expected).is_ok_and(|bytes| bytes == digest))
        || base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(expected.trim_end_matches('='))
            .is_ok_and(|bytes| bytes == digest)
}

/// The hex SHA-256 of `bytes` (tests and the fake Graph API compare with it).
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(sha2::Sha256::digest(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_name_no_phone_number_and_share_a_prefix_per_contact() {
        let number = BusinessNumberId::new("106540352242922").unwrap();
        let contact = ContactKey::new("16505551234").unwrap();
        let a = MediaKey::new(number.clone(), contact.clone(), "wamid.A=");
        let b = MediaKey::new(number.clone(), contact.clone(), "wamid.B/");
        assert!(!a.object().contains("16505551234"));
        assert!(!a.object().contains("wamid"));
        let prefix = MediaKey::contact_prefix(&number, &contact);
        assert!(a.object().starts_with(&prefix) && b.object().starts_with(&prefix));
        assert_ne!(a.object(), b.object());
        assert!(
            a.object()
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '/')
        );
    }

    #[test]
    fn media_1_hashes_compare_as_hex_or_base64_and_limits_cut() {
        use base64::Engine as _;
        let now = Timestamp::from_unix(0);
        let digest = sha2::Sha256::digest(b"photo");
        let hex = hex::encode(digest);
        let b64 = base64::engine::general_purpose::STANDARD.encode(digest);
        for expected in [hex.as_str(), b64.as_str(), &hex.to_uppercase()] {
            let mut m = Measure::new(10);
            m.add(b"photo").unwrap();
            assert_eq!(m.finish(Some(expected), now).unwrap().sha256, hex);
        }
        let mut m = Measure::new(10);
        m.add(b"photo").unwrap();
        assert_eq!(
            m.finish(Some(&sha256_hex(b"other")), now),
            Err(MediaError::Corrupt)
        );
        let mut m = Measure::new(4);
        assert_eq!(m.add(b"photo"), Err(MediaError::TooLarge { limit: 4 }));
    }
}
