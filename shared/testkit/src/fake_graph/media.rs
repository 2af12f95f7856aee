//! The fake's media endpoints, as Meta answers them:
//!
//! - `GET /{version}/{media_id}` for a file given with [`FakeGraph::serve_media`] →
//!   `{messaging_product, url, mime_type, sha256 (hex), file_size, id}`; the url is this server's
//!   `/media-download/{media_id}`;
//! - `GET /media-download/{media_id}` with the token → the bytes; [`FakeGraph::fail_downloads`]
//!   scripts the next downloads to fail (an expired link answers 404 with Meta's envelope);
//! - `POST /{version}/{phone_number_id}/media` (multipart: `messaging_product`, `type`, `file`) →
//!   `{"id": …}`; the file is kept ([`FakeGraph::uploads`]) and can be downloaded like a served one.

use super::{CloseConnection, FakeFailure, FakeGraph, State, lock, meta_error_body, respond};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use serde_json::json;
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// One file the fake holds.
#[derive(Debug, Clone)]
pub struct FakeMediaFile {
    pub mime_type: String,
    pub bytes: Bytes,
}

/// An upload the fake received.
#[derive(Debug, Clone)]
pub struct FakeUpload {
    pub phone_number_id: String,
    pub media_id: String,
    /// The `type` field.
    pub mime_type: String,
    pub filename: Option<String>,
    /// The file part's bytes as received.
    pub bytes: Bytes,
}

#[derive(Default)]
pub(super) struct Media {
    files: Mutex<HashMap<String, FakeMediaFile>>,
    uploads: Mutex<Vec<FakeUpload>>,
    download_failures: Mutex<VecDeque<FakeFailure>>,
    downloads: AtomicU64,
    counter: AtomicU64,
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

impl FakeGraph {
    /// Serves `bytes` as media `media_id` (what a customer sent); returns its hex SHA-256.
    pub fn serve_media(&self, media_id: &str, mime_type: &str, bytes: impl Into<Bytes>) -> String {
        let bytes = bytes.into();
        let hash = sha256_hex(&bytes);
        lock(&self.state.media.files).insert(
            media_id.to_string(),
            FakeMediaFile {
                mime_type: mime_type.to_string(),
                bytes,
            },
        );
        hash
    }

    /// The next `n` downloads answer `failure` (`FakeFailure::meta(100)` with 404 reads as an
    /// expired link).
    pub fn fail_downloads(&self, n: usize, failure: FakeFailure) {
        lock(&self.state.media.download_failures).extend(std::iter::repeat_n(failure, n));
    }

    /// Downloads answered so far (failed ones included).
    pub fn downloads(&self) -> u64 {
        self.state.media.downloads.load(Ordering::Relaxed)
    }

    /// Every upload received, in order.
    pub fn uploads(&self) -> Vec<FakeUpload> {
        lock(&self.state.media.uploads).clone()
    }
}

/// Whether `method path` is one of the media routes (answered by [`answer`]).
pub(super) fn is_media_route(state: &State, method: &str, path: &str) -> bool {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    match (method, &segments[..]) {
        ("GET", ["media-download", _]) => true,
        ("GET", [version, id]) => {
            version.starts_with('v') && lock(&state.media.files).contains_key(*id)
        }
        ("POST", [version, _, "media"]) => version.starts_with('v'),
        _ => false,
    }
}

pub(super) async fn answer(
    state: &State,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, CloseConnection> {
    let path = request.uri().path().to_string();
    let method = request.method().to_string();
    let content_type = request
        .headers()
        .get(hyper::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(String::from);
    let authorized = request
        .headers()
        .get(hyper::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        == Some(format!("Bearer {}", lock(&state.token)).as_str());
    let body = match request.into_body().collect().await {
        Ok(body) => body.to_bytes(),
        Err(_) => return Err(CloseConnection),
    };
    let trace = format!("Afake{}m", state.port);
    let error = |status: u16, code: i64, message: &str| {
        respond(
            status,
            "application/json",
            meta_error_body(code, None, None, message, &trace).to_string(),
        )
    };
    if !authorized {
        return Ok(error(
            401,
            190,
            "Invalid OAuth access token - Cannot parse access token",
        ));
    }
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    match (method.as_str(), &segments[..]) {
        ("GET", ["media-download", id]) => {
            state.media.downloads.fetch_add(1, Ordering::Relaxed);
            let scripted = lock(&state.media.download_failures).pop_front();
            match scripted {
                Some(FakeFailure::Api {
                    http_status,
                    code,
                    message,
                    ..
                }) => return Ok(error(http_status, code, &message)),
                Some(FakeFailure::Bare { http_status }) => {
                    return Ok(respond(http_status, "text/html", "<html></html>".into()));
                }
                Some(FakeFailure::Hang) => std::future::pending().await,
                Some(FakeFailure::CloseConnection) => return Err(CloseConnection),
                None => {}
            }
            let file = lock(&state.media.files).get(*id).cloned();
            Ok(match file {
                Some(file) => {
                    let mut response = Response::new(Full::new(file.bytes));
                    if let Ok(value) = file.mime_type.parse() {
                        response
                            .headers_mut()
                            .insert(hyper::header::CONTENT_TYPE, value);
                    }
                    response
                }
                None => error(404, 100, "The media does not exist or its link expired"),
            })
        }
        ("GET", [_, id]) => {
            let file = lock(&state.media.files).get(*id).cloned();
            Ok(match file {
                Some(file) => respond(
                    200,
                    "application/json",
                    json!({
                        "messaging_product": "whatsapp",
                        "url": format!("http://127.0.0.1:{}/media-download/{id}?ext=1&hash=x", state.port),
                        "mime_type": file.mime_type,
                        "sha256": sha256_hex(&file.bytes),
                        "file_size": file.bytes.len(),
                        "id": id,
                    })
                    .to_string(),
                ),
                None => error(400, 100, "Unsupported get request."),
            })
        }
        ("POST", [_, phone_number_id, "media"]) => {
            let Some(upload) = content_type
                .as_deref()
                .and_then(|c| c.split("boundary=").nth(1))
                .and_then(|boundary| parse_multipart(&body, boundary.trim_matches('"')))
            else {
                return Ok(error(400, 100, "(#100) The parameter file is required."));
            };
            if upload.product.as_deref() != Some("whatsapp") {
                return Ok(error(
                    400,
                    100,
                    "(#100) The parameter messaging_product is required.",
                ));
            }
            let n = state.media.counter.fetch_add(1, Ordering::Relaxed);
            let media_id = format!("{}{n:07}", state.port);
            let mime_type = upload.mime_type.unwrap_or_default();
            lock(&state.media.files).insert(
                media_id.clone(),
                FakeMediaFile {
                    mime_type: mime_type.clone(),
                    bytes: upload.file.clone(),
                },
            );
            lock(&state.media.uploads).push(FakeUpload {
                phone_number_id: phone_number_id.to_string(),
                media_id: media_id.clone(),
                mime_type,
                filename: upload.filename,
                bytes: upload.file,
            });
            Ok(respond(
                200,
                "application/json",
                json!({ "id": media_id }).to_string(),
            ))
        }
        _ => Ok(error(400, 100, "Unsupported request.")),
    }
}

struct Multipart {
    product: Option<String>,
    mime_type: Option<String>,
    filename: Option<String>,
    file: Bytes,
}

fn find(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    haystack
        .get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|i| i + from)
}

/// The fields of a `multipart/form-data` body (enough of RFC 7578 for Meta's three fields).
fn parse_multipart(body: &Bytes, boundary: &str) -> Option<Multipart> {
    let delimiter = format!("--{boundary}");
    let mut parts = Multipart {
        product: None,
        mime_type: None,
        filename: None,
        file: Bytes::new(),
    };
    let mut found_file = false;
    let mut at = find(body, delimiter.as_bytes(), 0)?;
    loop {
        let start = at + delimiter.len();
        if body.get(start..start + 2) == Some(b"--") {
            break;
        }
        let headers_end = find(body, b"\r\n\r\n", start)?;
        let headers = String::from_utf8_lossy(&body[start..headers_end]).to_string();
        let content_start = headers_end + 4;
        let next = find(body, format!("\r\n{delimiter}").as_bytes(), content_start)?;
        let content = body.slice(content_start..next);
        let name = headers
            .split("name=\"")
            .nth(1)
            .and_then(|s| s.split('"').next())
            .unwrap_or_default();
        match name {
            "messaging_product" => {
                parts.product = Some(String::from_utf8_lossy(&content).to_string());
            }
            "type" => parts.mime_type = Some(String::from_utf8_lossy(&content).to_string()),
            "file" => {
                found_file = true;
                parts.filename = headers
                    .split("filename=\"")
                    .nth(1)
                    .and_then(|s| s.split('"').next())
                    .map(String::from);
                parts.file = content;
            }
            _ => {}
        }
        at = next + 2;
    }
    found_file.then_some(parts)
}
