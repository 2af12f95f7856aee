//! Media (SPEC section 13): what Meta accepts per media type (MEDIA-3) and how a failed inbound
//! fetch is retried (MEDIA-1). Pure: the shells measure and stream, these functions decide.
//!
//! The limits are Meta's "Supported media types" table of the Cloud API media reference:
//!
//! | kind | types | largest |
//! |---|---|---|
//! | audio | `audio/aac`, `audio/amr`, `audio/mpeg`, `audio/mp4`, `audio/ogg` | 16 MB |
//! | document | `text/plain`, `application/pdf`, Word, Excel and PowerPoint (old and OOXML) | 100 MB |
//! | image | `image/jpeg`, `image/png` | 5 MB |
//! | sticker | `image/webp` | 500 KB (animated; Meta's static limit is 100 KB) |
//! | video | `video/mp4`, `video/3gpp` | 16 MB |
//!
//! Decision: a sticker's limit is the animated one (500 KB): whether a WebP is animated is not
//! known from its type, and Meta refuses a static sticker over 100 KB itself with its reason.

use crate::effect::MediaKind;
use crate::time::Duration;

const MB: u64 = 1024 * 1024;

/// The media types Meta accepts for `kind`.
pub fn accepted_types(kind: MediaKind) -> &'static [&'static str] {
    match kind {
        MediaKind::Audio => &[
            "audio/aac",
            "audio/amr",
            "audio/mpeg",
            "audio/mp4",
            "audio/ogg",
        ],
        MediaKind::Document => &[
            "text/plain",
            "application/pdf",
            "application/msword",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            "application/vnd.ms-excel",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "application/vnd.ms-powerpoint",
            "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        ],
        MediaKind::Image => &["image/jpeg", "image/png"],
        MediaKind::Sticker => &["image/webp"],
        MediaKind::Video => &["video/mp4", "video/3gpp"],
    }
}

/// The largest file Meta accepts for `kind`, in bytes.
pub fn max_bytes(kind: MediaKind) -> u64 {
    match kind {
        MediaKind::Audio | MediaKind::Video => 16 * MB,
        MediaKind::Document => 100 * MB,
        MediaKind::Image => 5 * MB,
        MediaKind::Sticker => 500 * 1024,
    }
}

/// The largest file of any kind (a stream can be cut there before its type is known).
pub const MAX_ANY_BYTES: u64 = 100 * MB;

/// Why an upload is outside Meta's limits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MediaRefusal {
    #[error("{kind} does not accept {mime_type}; accepted: {accepted}")]
    Type {
        kind: &'static str,
        mime_type: String,
        accepted: String,
    },
    #[error("{kind} files are at most {max} bytes; this one has {size} or more")]
    TooLarge {
        kind: &'static str,
        max: u64,
        size: u64,
    },
    #[error("the file is empty")]
    Empty,
    /// A two-step upload whose stored file is not the size its declaration named.
    #[error("{declared} bytes were declared but {stored} arrived; upload the file again")]
    SizeMismatch { declared: u64, stored: u64 },
    /// A two-step upload whose stored file does not hash to the SHA-256 declared.
    #[error("the file's SHA-256 is not the one declared; upload the file again")]
    HashMismatch,
}

impl MediaRefusal {
    /// A stable code for the API's error body.
    pub fn code(&self) -> &'static str {
        match self {
            MediaRefusal::Type { .. } => "media_type",
            MediaRefusal::TooLarge { .. } => "media_too_large",
            MediaRefusal::Empty => "media_empty",
            MediaRefusal::SizeMismatch { .. } => "media_size_mismatch",
            MediaRefusal::HashMismatch => "media_hash_mismatch",
        }
    }
}

pub fn kind_name(kind: MediaKind) -> &'static str {
    match kind {
        MediaKind::Image => "image",
        MediaKind::Video => "video",
        MediaKind::Audio => "audio",
        MediaKind::Document => "document",
        MediaKind::Sticker => "sticker",
    }
}

/// MEDIA-3: whether Meta takes a `mime_type` file as `kind` (parameters such as
/// `; codecs=opus` are ignored; case-insensitive).
pub fn check_type(kind: MediaKind, mime_type: &str) -> Result<(), MediaRefusal> {
    let essence = mime_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    if accepted_types(kind).contains(&essence.as_str()) {
        Ok(())
    } else {
        Err(MediaRefusal::Type {
            kind: kind_name(kind),
            mime_type: mime_type.to_owned(),
            accepted: accepted_types(kind).join(", "),
        })
    }
}

/// MEDIA-3: whether `size` bytes (so far, or declared) fit `kind`.
pub fn check_size(kind: MediaKind, size: u64) -> Result<(), MediaRefusal> {
    let max = max_bytes(kind);
    if size > max {
        Err(MediaRefusal::TooLarge {
            kind: kind_name(kind),
            max,
            size,
        })
    } else {
        Ok(())
    }
}

/// MEDIA-3, two-step upload: a declared file (kind, type, size) is checked against Meta's
/// limits before any byte is sent, as the one-step upload checks its part.
pub fn check_declared(kind: MediaKind, mime_type: &str, size: u64) -> Result<(), MediaRefusal> {
    check_type(kind, mime_type)?;
    if size == 0 {
        return Err(MediaRefusal::Empty);
    }
    check_size(kind, size)
}

/// MEDIA-3, two-step upload: the file stored is sent only when it is exactly the size declared
/// (so a link cannot be used to slip a larger or other file past the declaration's check).
pub fn check_arrived(declared: u64, stored: u64) -> Result<(), MediaRefusal> {
    if declared == stored {
        Ok(())
    } else {
        Err(MediaRefusal::SizeMismatch { declared, stored })
    }
}

/// MEDIA-3, two-step upload: when the declaration named the file's SHA-256, the file sent must
/// hash to it (hex, compared without regard to case).
pub fn check_hash(declared: Option<&str>, sent: &str) -> Result<(), MediaRefusal> {
    match declared {
        Some(declared) if !declared.eq_ignore_ascii_case(sent) => Err(MediaRefusal::HashMismatch),
        _ => Ok(()),
    }
}

/// Attempts at fetching one inbound media file before it is given up (MEDIA-1).
pub const FETCH_ATTEMPTS: u32 = 6;

/// MEDIA-1: after the `attempt`-th failed fetch (1-based), wait this long before the next, or
/// `None` to give up. Meta's download link lives for minutes, but the media id resolves to a fresh
/// link for days, so the retries spread over about half an hour: 10 s, 30 s, 90 s, 4.5 min,
/// 13.5 min.
pub fn fetch_retry_after(attempt: u32) -> Option<Duration> {
    if attempt == 0 || attempt >= FETCH_ATTEMPTS {
        return None;
    }
    Some(Duration::seconds(10 * 3i64.pow(attempt - 1)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_3_types_are_metas_per_kind() {
        assert!(check_type(MediaKind::Image, "image/jpeg").is_ok());
        assert!(check_type(MediaKind::Image, "IMAGE/PNG").is_ok());
        assert!(check_type(MediaKind::Audio, "audio/ogg; codecs=opus").is_ok());
        assert!(check_type(MediaKind::Document, "application/pdf").is_ok());
        assert!(check_type(MediaKind::Sticker, "image/webp").is_ok());
        assert!(check_type(MediaKind::Video, "video/3gpp").is_ok());
        let refused = check_type(MediaKind::Image, "image/gif").unwrap_err();
        assert_eq!(refused.code(), "media_type");
        assert!(
            refused.to_string().contains("image/jpeg, image/png"),
            "{refused}"
        );
        assert!(check_type(MediaKind::Sticker, "image/png").is_err());
        assert!(check_type(MediaKind::Video, "video/quicktime").is_err());
    }

    #[test]
    fn media_3_sizes_are_metas_per_kind() {
        for (kind, max) in [
            (MediaKind::Image, 5 * MB),
            (MediaKind::Audio, 16 * MB),
            (MediaKind::Video, 16 * MB),
            (MediaKind::Document, 100 * MB),
            (MediaKind::Sticker, 500 * 1024),
        ] {
            assert!(check_size(kind, max).is_ok());
            let refused = check_size(kind, max + 1).unwrap_err();
            assert_eq!(refused.code(), "media_too_large");
            assert!(refused.to_string().contains(&max.to_string()), "{refused}");
            assert!(max <= MAX_ANY_BYTES);
        }
    }

    #[test]
    fn media_3_a_two_step_upload_is_checked_when_declared_and_when_it_arrived() {
        let mb = 1024 * 1024;
        assert_eq!(
            check_declared(MediaKind::Document, "application/pdf", 20 * mb),
            Ok(())
        );
        assert_eq!(
            check_declared(MediaKind::Document, "application/pdf", 0),
            Err(MediaRefusal::Empty)
        );
        assert_eq!(
            check_declared(MediaKind::Video, "video/mp4", 17 * mb)
                .unwrap_err()
                .code(),
            "media_too_large"
        );
        assert_eq!(
            check_declared(MediaKind::Image, "image/gif", 10)
                .unwrap_err()
                .code(),
            "media_type"
        );
        assert_eq!(check_hash(None, "ab12"), Ok(()));
        assert_eq!(check_hash(Some("AB12"), "ab12"), Ok(()));
        assert_eq!(
            check_hash(Some("ab12"), "ab13").unwrap_err().code(),
            "media_hash_mismatch"
        );
        assert_eq!(check_arrived(20, 20), Ok(()));
        let refusal = check_arrived(20, 21).unwrap_err();
        assert_eq!(refusal.code(), "media_size_mismatch");
        assert!(
            refusal
                .to_string()
                .contains("20 bytes were declared but 21")
        );
    }

    #[test]
    fn media_1_fetch_retries_back_off_then_give_up() {
        let waits: Vec<i64> = (1..FETCH_ATTEMPTS)
            .map(|a| fetch_retry_after(a).unwrap().as_seconds())
            .collect();
        assert_eq!(waits, [10, 30, 90, 270, 810]);
        assert_eq!(fetch_retry_after(FETCH_ATTEMPTS), None);
        assert_eq!(fetch_retry_after(0), None);
    }
}
