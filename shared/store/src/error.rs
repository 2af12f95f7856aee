//! One error type for every store operation. Conditional outcomes that callers act on
//! (`Duplicate`, `VersionConflict`, "no capacity") are *values*, not errors; errors are faults.

/// A fault of the store. A corrupt item names its key; a throttled or failed call is retryable
/// (nothing was half-written: every multi-item write is one transaction).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// An item that no longer deserialises: the store's data, not the caller, is wrong.
    #[error("corrupt item pk={pk:?} sk={sk:?}: {reason}")]
    Corrupt {
        pk: String,
        sk: String,
        reason: String,
    },
    /// Throttling, a 5xx, a timeout, a dropped connection, a busy database: try again later.
    #[error("{operation} failed, retryable: {message}")]
    Retryable {
        operation: &'static str,
        message: String,
    },
    /// Anything else from the backend (a missing table, a bad request, a full disk …).
    #[error("{operation} failed: {message}")]
    Backend {
        operation: &'static str,
        message: String,
    },
    /// The caller asked for something the store cannot hold (a malformed cursor, too many items
    /// for one transaction …).
    #[error("invalid store request: {0}")]
    Invalid(String),
}

impl StoreError {
    /// True when repeating the same call later may succeed (the caller should let the event be
    /// redelivered rather than drop it).
    pub fn is_retryable(&self) -> bool {
        matches!(self, StoreError::Retryable { .. })
    }

    pub(crate) fn corrupt(pk: &str, sk: &str, reason: impl std::fmt::Display) -> Self {
        StoreError::Corrupt {
            pk: pk.to_owned(),
            sk: sk.to_owned(),
            reason: reason.to_string(),
        }
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;
