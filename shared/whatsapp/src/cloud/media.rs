//! The Graph API's media calls (SPEC section 13), streamed: no call holds a whole file in memory.
//!
//! - `GET {base}/{media_id}` ([`CloudClient::media_info`]): Meta's short-lived download link for
//!   an inbound media id, with its type, size and SHA-256;
//! - `GET <link>` with the token ([`CloudClient::download`]): the bytes, read chunk by chunk
//!   ([`MediaDownload::chunk`]);
//! - `POST {base}/{phone_number_id}/media` ([`CloudClient::upload_media`]): a multipart upload
//!   (`messaging_product`, `type`, `file`) whose file part is a stream; Meta answers the media id
//!   a message then sends by id.
//!
//! The download link carries Meta's signature in its query: it is never logged.

use super::{
    CloudClient, CloudError, error_chain, log_failure, parse_error, path_id, transport_error,
};
use bytes::Bytes;
use futures_util::{Stream, StreamExt, TryStreamExt};
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE};
use serde::Deserialize;
use std::time::Duration;

/// A download or upload may take this long (100 MB on a slow link); the client's default
/// timeout is for small JSON calls.
pub const TRANSFER_TIMEOUT: Duration = Duration::from_secs(600);

/// What `GET /{media_id}` answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaInfo {
    /// The download link (valid for minutes; needs the token).
    pub url: String,
    pub mime_type: Option<String>,
    /// Meta's hash of the file (hex, or base64 in some payloads).
    pub sha256: Option<String>,
    pub file_size: Option<u64>,
}

/// A download in progress: read it with [`MediaDownload::chunk`].
#[derive(Debug)]
pub struct MediaDownload {
    response: reqwest::Response,
    /// `Content-Type` of the answer.
    pub content_type: Option<String>,
    /// `Content-Length` of the answer, when given.
    pub content_length: Option<u64>,
}

impl MediaDownload {
    /// The next piece of the file, `None` at its end. A cut connection is [`CloudError::Ambiguous`].
    pub async fn chunk(&mut self) -> Result<Option<Bytes>, CloudError> {
        self.response
            .chunk()
            .await
            .map_err(|e| CloudError::Ambiguous {
                reason: format!("download cut: {}", error_chain(&e)),
            })
    }
}

/// The file part of an upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaUpload {
    pub mime_type: String,
    pub filename: String,
}

impl CloudClient {
    /// `GET /{media_id}`: where to download an inbound media file.
    pub async fn media_info(&self, media_id: &str) -> Result<MediaInfo, CloudError> {
        let id = path_id("media_id", media_id)?;
        let request = self
            .http
            .get(format!("{}/{id}", self.base))
            .header(AUTHORIZATION, self.authorization());
        let answer = json_answer(request, "media_info", id).await?;
        #[derive(Deserialize)]
        struct Answer {
            url: String,
            mime_type: Option<String>,
            sha256: Option<String>,
            /// A number, or a number in a string.
            file_size: Option<serde_json::Value>,
        }
        let a: Answer = serde_json::from_slice(&answer).map_err(|e| CloudError::Decode {
            reason: format!("media answer: {e}"),
        })?;
        if !(a.url.starts_with("https://") || a.url.starts_with("http://")) {
            return Err(CloudError::Decode {
                reason: "media answer: the url is not http(s)".into(),
            });
        }
        let file_size = a.file_size.and_then(|v| match v {
            serde_json::Value::Number(n) => n.as_u64(),
            serde_json::Value::String(s) => s.parse().ok(),
            _ => None,
        });
        Ok(MediaInfo {
            url: a.url,
            mime_type: a.mime_type,
            sha256: a.sha256,
            file_size,
        })
    }

    /// `GET <url>` with the token: starts the download of a link from [`CloudClient::media_info`].
    /// An expired link is Meta's error (or a bare 404/403), so the caller resolves the id again.
    pub async fn download(&self, url: &str) -> Result<MediaDownload, CloudError> {
        let response = self
            .http
            .get(url)
            .header(AUTHORIZATION, self.authorization())
            .timeout(TRANSFER_TIMEOUT)
            .send()
            .await
            .map_err(transport_error)
            .inspect_err(|e| log_failure("download", "media", e))?;
        let status = response.status();
        if !status.is_success() {
            let answer = response.bytes().await.unwrap_or_default();
            let error = parse_error(status.as_u16(), &answer);
            log_failure("download", "media", &error);
            return Err(error);
        }
        let content_type = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(String::from);
        let content_length = response.content_length();
        Ok(MediaDownload {
            response,
            content_type,
            content_length,
        })
    }

    /// `POST /{phone_number_id}/media`: uploads `file` (streamed as it comes) and returns Meta's
    /// media id.
    pub async fn upload_media<S, E>(
        &self,
        phone_number_id: &str,
        upload: &MediaUpload,
        file: S,
    ) -> Result<String, CloudError>
    where
        S: Stream<Item = Result<Bytes, E>> + Send + 'static,
        E: Into<Box<dyn std::error::Error + Send + Sync>> + 'static,
    {
        let id = path_id("phone_number_id", phone_number_id)?;
        let (content_type, head, tail) = multipart_frame(upload)?;
        let body = futures_util::stream::once(async move { Ok::<Bytes, E>(head) })
            .chain(file)
            .chain(futures_util::stream::once(async move { Ok(tail) }))
            .map_err(Into::into);
        let request = self
            .http
            .post(format!("{}/{id}/media", self.base))
            .header(AUTHORIZATION, self.authorization())
            .header(CONTENT_TYPE, content_type)
            .timeout(TRANSFER_TIMEOUT)
            .body(reqwest::Body::wrap_stream(body));
        let answer = json_answer(request, "upload_media", id).await?;
        #[derive(Deserialize)]
        struct Uploaded {
            id: String,
        }
        let uploaded: Uploaded =
            serde_json::from_slice(&answer).map_err(|e| CloudError::Decode {
                reason: format!("upload answer: {e}"),
            })?;
        tracing::info!(phone_number_id = id, media_id = %uploaded.id, "media uploaded");
        Ok(uploaded.id)
    }
}

/// Sends `request` and reads its whole (small, JSON) answer: the bytes of a 2xx, else Meta's
/// error, logged under `call` and `id`.
async fn json_answer(
    request: reqwest::RequestBuilder,
    call: &'static str,
    id: &str,
) -> Result<Bytes, CloudError> {
    let response = request
        .send()
        .await
        .map_err(transport_error)
        .inspect_err(|e| log_failure(call, id, e))?;
    let status = response.status();
    let answer = response.bytes().await.map_err(|e| CloudError::Ambiguous {
        reason: format!("answer cut: {}", error_chain(&e)),
    })?;
    if !status.is_success() {
        let error = parse_error(status.as_u16(), &answer);
        log_failure(call, id, &error);
        return Err(error);
    }
    Ok(answer)
}

/// The multipart framing around the file: the `Content-Type` header, what precedes the file's
/// bytes (the two fields and the file part's headers) and what follows them.
fn multipart_frame(upload: &MediaUpload) -> Result<(String, Bytes, Bytes), CloudError> {
    let clean = |s: &str| !s.is_empty() && !s.chars().any(|c| c.is_control() || c == '"');
    if !clean(&upload.mime_type) || !clean(&upload.filename) {
        return Err(CloudError::Config {
            reason: "the upload's type and file name must be plain text".into(),
        });
    }
    let boundary = format!("switchboard-{}", uuid_like());
    let head = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"messaging_product\"\r\n\r\nwhatsapp\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"type\"\r\n\r\n{mime}\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\nContent-Type: {mime}\r\n\r\n",
        mime = upload.mime_type,
        name = upload.filename,
    );
    let tail = format!("\r\n--{boundary}--\r\n");
    Ok((
        format!("multipart/form-data; boundary={boundary}"),
        Bytes::from(head),
        Bytes::from(tail),
    ))
}

/// A boundary that cannot occur by chance in a file: 128 bits from the OS-seeded hasher.
fn uuid_like() -> String {
    use std::hash::{BuildHasher, Hasher};
    let state = std::collections::hash_map::RandomState::new();
    let mut a = state.build_hasher();
    a.write_u64(0x5eed);
    let mut b = state.build_hasher();
    b.write_u64(0xb0b);
    format!("{:016x}{:016x}", a.finish(), b.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_frame_names_the_type_and_file_and_refuses_header_injection() {
        let (content_type, head, tail) = multipart_frame(&MediaUpload {
            mime_type: "application/pdf".into(),
            filename: "invoice.pdf".into(),
        })
        .unwrap();
        let boundary = content_type.split("boundary=").nth(1).unwrap();
        let head = String::from_utf8(head.to_vec()).unwrap();
        assert!(head.starts_with(&format!("--{boundary}\r\n")));
        assert!(head.contains("name=\"type\"\r\n\r\napplication/pdf\r\n"));
        assert!(head.contains("filename=\"invoice.pdf\""));
        assert!(head.ends_with("Content-Type: application/pdf\r\n\r\n"));
        assert_eq!(tail, Bytes::from(format!("\r\n--{boundary}--\r\n")));
        for (mime, name) in [("a\r\nb", "x"), ("image/png", "a\"b"), ("image/png", "")] {
            assert!(
                multipart_frame(&MediaUpload {
                    mime_type: mime.into(),
                    filename: name.into()
                })
                .is_err()
            );
        }
    }
}
