//! Media in the console (SPEC section 13), a router of its own that the runner (and the console
//! Lambda) merge beside `/v1`'s:
//!
//! - `POST /v1/numbers/{number}/contacts/{contact}/media` (MEDIA-3): a `multipart/form-data`
//!   upload with the fields `caption` (optional) and `file` (last; its part's `Content-Type` is the
//!   media type), and the query `kind` (`image`, `audio`, `video`, `document`, `sticker`; by
//!   default from the type). Meta's limits for the kind are checked at once: the type before any
//!   byte is read, the size from `Content-Length` when the client gives it, else as the bytes
//!   come; 400 names the reason. The file streams into the media store (never whole in memory),
//!   then from there to Meta's media endpoint, and the message goes out by the returned id
//!   through `POST …/messages`, the route every free-form message takes, so the window, the
//!   caller's right to act and the idempotency key apply as for any message.
//! - Two steps for files of any size (MEDIA-3): on AWS a request to the console Lambda is at
//!   most 6 MB (API Gateway's payload limit, and a binary body arrives base64-encoded: about
//!   4.5 MB of file), while Meta takes documents up to 100 MB. So the bytes go around the console:
//!   `POST …/contacts/{contact}/media/uploads` declares the file (JSON: `kind`, `type`, `size`,
//!   `filename`, `caption`, `sha256`), checked at once against Meta's limits and the caller's
//!   right to act on the contact, and answers a link to `PUT` exactly those bytes to (S3's
//!   presigned `PUT` on AWS, with the size and type signed; `PUT /v1/media/uploads/{token}`
//!   locally); then `POST …/media/uploads/{upload}/send` checks what arrived against the
//!   declaration and sends it as the one-step upload does.
//! - `GET /v1/numbers/{number}/contacts/{contact}/media/{message}` (MEDIA-1, MEDIA-2): the file's
//!   record (type, size, SHA-256, or why its fetch failed and when it is tried again) and, when
//!   it is stored, a short-lived link: S3's presigned URL on AWS, `GET /v1/media/{token}` here.
//!   Anyone who may read the contact's message log (any signed-in agent) may have it.
//! - `GET /v1/media/{token}`: the signed, expiring download (no bearer: the link is the grant).
//! - `PUT /v1/media/uploads/{token}`: the signed, expiring upload of a declared file (no bearer:
//!   the link is the grant), refused past the declared size.
//! - `DELETE /v1/numbers/{number}/contacts/{contact}/media`: admins erase a contact's files.

use crate::auth::{Identify, Role};
use crate::error::{ApiError, ApiResult};
use axum::Router;
use axum::body::Body;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Request, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use futures_util::StreamExt;
use media::links::{LINK_TTL_SECONDS, LinkError, LinkSigner};
use media::{MediaError, MediaKey, MediaMeta, MediaRecord, MediaStore, PutCheck};
use rules::effect::MediaKind;
use rules::media::{MediaRefusal, check_size, check_type, max_bytes};
use rules::{BusinessNumberId, ContactKey, Timestamp};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use timers::Clock;
use tower::ServiceExt;
use whatsapp::cloud::CloudClient;
use whatsapp::cloud::media::MediaUpload;

/// Where uploads go: Meta's media endpoint, or (no access token) nowhere but a made-up id, as
/// the runner's recording sink does for sends.
#[derive(Clone)]
pub enum MediaUploader {
    Cloud(CloudClient),
    Sink,
}

/// What the media routes need.
pub struct MediaApi<M> {
    pub store: M,
    pub uploader: MediaUploader,
    pub identity: Arc<dyn Identify>,
    pub clock: Arc<dyn Clock>,
    /// Signs the local download route's links (unused when the store gives direct links).
    pub signer: LinkSigner,
    /// The console's `/v1` router: an upload is sent through its `POST …/messages`.
    pub console: Router,
}

const FILES: &str = "/v1/numbers/{number}/contacts/{contact}/media";
const FILE: &str = "/v1/numbers/{number}/contacts/{contact}/media/{message}";
const LINK: &str = "/v1/media/{token}";
const UPLOADS: &str = "/v1/numbers/{number}/contacts/{contact}/media/uploads";
const UPLOAD_SEND: &str = "/v1/numbers/{number}/contacts/{contact}/media/uploads/{upload}/send";
const UPLOAD_LINK: &str = "/v1/media/uploads/{token}";

/// How long a two-step upload's link works (a 100 MB file on a slow line fits).
pub const UPLOAD_TTL_SECONDS: u64 = 900;

/// The (method, path) of every media route (the OpenAPI document lists them with the console's).
pub const ROUTES: [(&str, &str); 7] = [
    ("POST", FILES),
    ("DELETE", FILES),
    ("GET", FILE),
    ("GET", LINK),
    ("POST", UPLOADS),
    ("POST", UPLOAD_SEND),
    ("PUT", UPLOAD_LINK),
];

/// The media routes (merge them with the console's router).
pub fn routes<M: MediaStore + LocalFiles + Clone + 'static>(api: MediaApi<M>) -> Router {
    Router::new()
        .route(FILES, post(upload::<M>).delete(erase::<M>))
        .route(FILE, get(describe::<M>))
        .route(LINK, get(download::<M>))
        .route(UPLOADS, post(declare::<M>))
        .route(UPLOAD_SEND, post(send_upload::<M>))
        .route(UPLOAD_LINK, axum::routing::put(receive::<M>))
        .layer(axum::extract::DefaultBodyLimit::disable())
        .with_state(Arc::new(api))
}

/// Stores that serve a signed link's object themselves (the local folder); S3 serves its own
/// presigned URLs and answers `None` (no such object here).
pub trait LocalFiles: Send + Sync {
    fn open_object(
        &self,
        object: &str,
    ) -> impl Future<Output = Result<Option<(MediaRecord, media::ByteStream)>, MediaError>> + Send;

    /// The record of the object a signed upload link names.
    fn object_record(
        &self,
        object: &str,
    ) -> impl Future<Output = Result<Option<MediaRecord>, MediaError>> + Send;

    /// Writes an upload link's bytes as the object (its record left as it is).
    fn receive_object(
        &self,
        object: &str,
        body: media::ByteStream,
        check: PutCheck<'_>,
        now: Timestamp,
    ) -> impl Future<Output = Result<media::StoredMedia, MediaError>> + Send;
}

/// S3's links are presigned URLs: the console's own link routes serve nothing from it.
impl LocalFiles for media::S3Store {
    async fn open_object(
        &self,
        _object: &str,
    ) -> Result<Option<(MediaRecord, media::ByteStream)>, MediaError> {
        Ok(None)
    }

    async fn object_record(&self, _object: &str) -> Result<Option<MediaRecord>, MediaError> {
        Ok(None)
    }

    async fn receive_object(
        &self,
        _object: &str,
        _body: media::ByteStream,
        _check: PutCheck<'_>,
        _now: Timestamp,
    ) -> Result<media::StoredMedia, MediaError> {
        Err(MediaError::Store(
            "uploads go to S3's presigned links".into(),
        ))
    }
}

impl LocalFiles for media::FolderStore {
    async fn open_object(
        &self,
        object: &str,
    ) -> Result<Option<(MediaRecord, media::ByteStream)>, MediaError> {
        media::FolderStore::open_object(self, object).await
    }

    async fn object_record(&self, object: &str) -> Result<Option<MediaRecord>, MediaError> {
        media::FolderStore::object_record(self, object).await
    }

    async fn receive_object(
        &self,
        object: &str,
        body: media::ByteStream,
        check: PutCheck<'_>,
        now: Timestamp,
    ) -> Result<media::StoredMedia, MediaError> {
        media::FolderStore::receive_object(self, object, body, check, now).await
    }
}

fn caller_of<M>(api: &MediaApi<M>, headers: &HeaderMap) -> ApiResult<crate::Caller> {
    let (mut parts, ()) = Request::new(()).into_parts();
    parts.headers = headers.clone();
    let parts: Parts = parts;
    api.identity.identify(&parts)
}

fn ids(number: &str, contact: &str) -> ApiResult<(BusinessNumberId, ContactKey)> {
    Ok((
        BusinessNumberId::new(number).map_err(|e| ApiError::invalid("number", e))?,
        ContactKey::new(contact).map_err(|e| ApiError::invalid("contact", e))?,
    ))
}

fn refusal(r: MediaRefusal) -> ApiError {
    ApiError {
        status: StatusCode::BAD_REQUEST,
        code: r.code(),
        message: r.to_string(),
        fields: Vec::new(),
    }
}

fn store_error(e: MediaError) -> ApiError {
    match e {
        MediaError::TooLarge { .. } | MediaError::Corrupt => ApiError::invalid("file", e),
        MediaError::Source(reason) => ApiError::invalid("file", reason),
        MediaError::Store(_) => ApiError::unavailable(e.to_string()),
    }
}

fn kind_of(name: &str) -> Option<MediaKind> {
    Some(match name {
        "image" => MediaKind::Image,
        "audio" => MediaKind::Audio,
        "video" => MediaKind::Video,
        "document" => MediaKind::Document,
        "sticker" => MediaKind::Sticker,
        _ => return None,
    })
}

/// The file's name as Meta is told it (quotes and line breaks dropped), else `{kind}.bin`.
fn file_name(given: Option<&str>, kind: MediaKind) -> String {
    given
        .map(|n| n.replace(['"', '\r', '\n'], ""))
        .filter(|n| !n.trim().is_empty())
        .unwrap_or_else(|| format!("{}.bin", rules::media::kind_name(kind)))
}

/// The kind named by the client, else the one its media type is sent as.
fn kind_named_or_for(name: Option<&str>, mime_type: &str, field: &str) -> ApiResult<MediaKind> {
    match name {
        Some(name) => kind_of(name).ok_or_else(|| {
            ApiError::invalid("kind", "one of image, audio, video, document, sticker")
        }),
        None => kind_for_type(mime_type).ok_or_else(|| {
            ApiError::invalid(
                field,
                format!("{mime_type} is not a media type WhatsApp sends"),
            )
        }),
    }
}

/// A caption as the messages route takes it: at most 1024 characters; blank is none.
fn caption_of(text: String) -> ApiResult<Option<String>> {
    if text.chars().count() > 1024 {
        return Err(ApiError::invalid("caption", "at most 1024 characters"));
    }
    Ok(Some(text).filter(|t| !t.trim().is_empty()))
}

/// The kind a media type is sent as when the client does not say.
fn kind_for_type(mime_type: &str) -> Option<MediaKind> {
    [
        MediaKind::Image,
        MediaKind::Sticker,
        MediaKind::Audio,
        MediaKind::Video,
        MediaKind::Document,
    ]
    .into_iter()
    .find(|kind| check_type(*kind, mime_type).is_ok())
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UploadParams {
    /// `image`, `audio`, `video`, `document` or `sticker`; by default from the file's type.
    kind: Option<String>,
}

/// The upload's form (`multipart/form-data`): the caption first, the file last.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct UploadForm {
    /// Shown under an image, video or document (at most 1024 characters).
    caption: Option<String>,
    /// The file; its part's `Content-Type` is its media type.
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Uploaded {
    /// Meta's media id the message is sent by.
    pub media_id: String,
    /// `image`, `audio`, `video`, `document` or `sticker`.
    #[schema(value_type = String)]
    pub kind: MediaKind,
    pub size: u64,
    pub sha256: String,
    /// The send's answer (`POST …/messages`): its status and body.
    pub send_status: u16,
    #[schema(value_type = Object)]
    pub send: serde_json::Value,
}

/// MEDIA-3: uploads a file (streamed; Meta's limits for its kind checked at once, 400 with the
/// reason) to Meta's media endpoint and sends it to the contact by the returned id, as
/// `POST …/messages` does (window, rights and idempotency key as for any message). When that
/// send is refused, its answer is returned as it is.
#[utoipa::path(
    post, path = "/v1/numbers/{number}/contacts/{contact}/media", tag = "conversations",
    params(("number" = String, Path, description = "Business number"), ("contact" = String, Path, description = "Contact key (wa_id)"), UploadParams),
    request_body(content_type = "multipart/form-data", content = UploadForm),
    responses((status = 202, description = "Uploaded to Meta and queued for sending by its id", body = Uploaded), crate::api::Errors)
)]
pub async fn upload<M: MediaStore + LocalFiles + Clone + 'static>(
    State(api): State<Arc<MediaApi<M>>>,
    Path((number, contact)): Path<(String, String)>,
    params: Result<Query<UploadParams>, axum::extract::rejection::QueryRejection>,
    headers: HeaderMap,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> ApiResult<Response> {
    let caller = caller_of(&api, &headers)?;
    let (number, contact) = ids(&number, &contact)?;
    // The extractors' own refusals are plain text: answered as the API's JSON errors instead.
    let Query(params) = params.map_err(|e| ApiError::invalid("kind", e.body_text()))?;
    let mut multipart = multipart.map_err(|e| {
        ApiError::invalid(
            "file",
            format!("a multipart/form-data body is needed: {}", e.body_text()),
        )
    })?;
    let declared = match params.kind.as_deref() {
        Some(name) => Some(kind_named_or_for(Some(name), "", "kind")?),
        None => None,
    };
    // The whole request's size, when told, refuses a file far over every limit before reading.
    let length = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if let (Some(kind), Some(length)) = (declared, length) {
        // The multipart framing and the caption take at most a few KB.
        check_size(kind, length.saturating_sub(8 * 1024)).map_err(refusal)?;
    }
    let mut caption: Option<String> = None;
    let unreadable = |e: axum::extract::multipart::MultipartError| {
        ApiError::invalid("file", format!("unreadable multipart body: {e}"))
    };
    while let Some(field) = multipart.next_field().await.map_err(unreadable)? {
        match field.name() {
            Some("caption") => {
                caption = caption_of(field.text().await.map_err(unreadable)?)?;
            }
            Some("file") => {
                let mime_type = field.content_type().map(str::to_owned).ok_or_else(|| {
                    ApiError::invalid("file", "the file part needs a Content-Type")
                })?;
                let kind = match declared {
                    Some(kind) => kind,
                    None => kind_named_or_for(None, &mime_type, "file")?,
                };
                check_type(kind, &mime_type).map_err(refusal)?;
                if let Some(length) = length {
                    check_size(kind, length.saturating_sub(8 * 1024)).map_err(refusal)?;
                }
                let filename = file_name(field.file_name(), kind);
                let key = MediaKey::new(
                    number.clone(),
                    contact.clone(),
                    format!("upload-{}", uuid::Uuid::new_v4().simple()),
                );
                let meta = MediaMeta {
                    kind,
                    mime_type: mime_type.clone(),
                    filename: Some(filename.clone()),
                };
                let body = futures_util::stream::unfold(field, |mut field| async move {
                    match field.chunk().await {
                        Ok(Some(chunk)) => Some((Ok(chunk), field)),
                        Ok(None) => None,
                        Err(e) => Some((Err(MediaError::Source(e.to_string())), field)),
                    }
                });
                let limit = max_bytes(kind);
                let stored = api
                    .store
                    .put(
                        &key,
                        &meta,
                        body,
                        PutCheck {
                            limit,
                            sha256: None,
                        },
                        api.clock.now(),
                    )
                    .await
                    .map_err(|e| match e {
                        MediaError::TooLarge { .. } => refusal(MediaRefusal::TooLarge {
                            kind: rules::media::kind_name(kind),
                            max: limit,
                            size: limit + 1,
                        }),
                        e => store_error(e),
                    })?;
                if stored.size == 0 {
                    return Err(refusal(MediaRefusal::Empty));
                }
                let (media_id, _) =
                    send_to_meta(&api, &number, &key, &mime_type, &filename, None).await?;
                let (send_status, send) = send_by_id(
                    &api,
                    &headers,
                    &number,
                    &contact,
                    ById {
                        kind,
                        media_id: &media_id,
                        caption,
                        default_key: None,
                    },
                )
                .await?;
                if !send_status.is_success() {
                    // The send's own refusal (window, rights, conflict), as the messages route
                    // answers it.
                    return Ok((send_status, axum::Json(send)).into_response());
                }
                tracing::info!(number = %number, agent = %caller.agent, kind = ?kind, size = stored.size, "media uploaded and sent by id");
                return Ok((
                    StatusCode::ACCEPTED,
                    axum::Json(Uploaded {
                        media_id,
                        kind,
                        size: stored.size,
                        sha256: stored.sha256,
                        send_status: send_status.as_u16(),
                        send,
                    }),
                )
                    .into_response());
            }
            _ => {
                return Err(ApiError::invalid(
                    "multipart",
                    "only the fields caption and file (last) are accepted",
                ));
            }
        }
    }
    Err(ApiError::invalid("file", "the upload has no file part"))
}

/// Streams `key`'s file (whatever its record says) to Meta's media endpoint: Meta's media id.
/// With `measure` (at most that many bytes), the file is hashed as it goes and the size and
/// SHA-256 of what was sent come back too (the two-step upload checks them; the one-step upload
/// measured its file as it stored it).
async fn send_to_meta<M: MediaStore>(
    api: &MediaApi<M>,
    number: &BusinessNumberId,
    key: &MediaKey,
    mime_type: &str,
    filename: &str,
    measure: Option<u64>,
) -> ApiResult<(String, Option<media::StoredMedia>)> {
    let stream = api
        .store
        .open_file(key)
        .await
        .map_err(store_error)?
        .ok_or_else(|| ApiError::unavailable("the upload was not kept; try again"))?;
    let measure = measure.map(|limit| Arc::new(std::sync::Mutex::new(media::Measure::new(limit))));
    let counting = measure.clone();
    let stream: media::ByteStream = match counting {
        None => stream,
        Some(counting) => Box::pin(stream.map(move |chunk| {
            let chunk = chunk?;
            counting
                .lock()
                .map_err(|_| MediaError::Store("the hash was poisoned".into()))?
                .add(&chunk)?;
            Ok::<_, MediaError>(chunk)
        })),
    };
    let media_id = match &api.uploader {
        MediaUploader::Sink => {
            // Nowhere to send: the bytes are read (and hashed when asked) all the same.
            let mut stream = stream;
            while let Some(chunk) = stream.next().await {
                chunk.map_err(store_error)?;
            }
            format!("sink{}", &media::sha256_hex(key.object().as_bytes())[..12])
        }
        MediaUploader::Cloud(client) => client
            .upload_media(
                number.as_str(),
                &MediaUpload {
                    mime_type: mime_type.to_owned(),
                    filename: filename.to_owned(),
                },
                stream,
            )
            .await
            .map_err(|e| ApiError::bad_gateway(format!("Meta refused the upload: {e}")))?,
    };
    let Some(measure) = measure else {
        return Ok((media_id, None));
    };
    // The HTTP client may keep the (spent) stream a while: the measure is taken out of it.
    let measure = std::mem::replace(
        &mut *measure
            .lock()
            .map_err(|_| ApiError::internal("the upload's hash was poisoned"))?,
        media::Measure::new(0),
    );
    let sent = measure.finish(None, api.clock.now()).map_err(store_error)?;
    Ok((media_id, Some(sent)))
}

/// A file at Meta to send by its id.
struct ById<'a> {
    kind: MediaKind,
    media_id: &'a str,
    caption: Option<String>,
    /// The send's idempotency key when the client gives none.
    default_key: Option<&'a str>,
}

/// `POST …/messages` with `content: media by id`, through the console's own router, with the
/// client's `Idempotency-Key`, else `default_key`. (The
/// document's file name is Meta's to show from the upload: the send's content has no such field.)
async fn send_by_id<M>(
    api: &MediaApi<M>,
    headers: &HeaderMap,
    number: &BusinessNumberId,
    contact: &ContactKey,
    ById {
        kind,
        media_id,
        caption,
        default_key,
    }: ById<'_>,
) -> ApiResult<(StatusCode, serde_json::Value)> {
    let mut content = serde_json::json!({
        "type": "media",
        "media": kind,
        "source": media_id,
    });
    if let Some(caption) = caption
        && matches!(
            kind,
            MediaKind::Image | MediaKind::Video | MediaKind::Document
        )
    {
        content["caption"] = caption.into();
    }
    let body = serde_json::json!({ "content": content });
    let mut request = Request::post(format!(
        "/v1/numbers/{}/contacts/{}/messages",
        number.as_str(),
        contact.as_str()
    ))
    .header(header::CONTENT_TYPE, "application/json");
    for name in [header::AUTHORIZATION, header::IF_MATCH] {
        if let Some(value) = headers.get(&name) {
            request = request.header(name, value);
        }
    }
    match (headers.get("idempotency-key"), default_key) {
        (Some(value), _) => request = request.header("idempotency-key", value),
        (None, Some(key)) => request = request.header("idempotency-key", key),
        (None, None) => {}
    }
    let request = request
        .body(Body::from(body.to_string()))
        .map_err(|e| ApiError::internal(e.to_string()))?;
    let response = api
        .console
        .clone()
        .oneshot(request)
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?;
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), 64 * 1024)
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?;
    Ok((
        status,
        serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null),
    ))
}

/// A two-step upload's declaration (MEDIA-3): what the file is, before any byte is sent.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UploadDeclaration {
    /// `image`, `audio`, `video`, `document` or `sticker`; by default from `type`.
    #[serde(default)]
    pub kind: Option<String>,
    /// The file's media type (`application/pdf`, `image/jpeg` …).
    #[serde(rename = "type")]
    pub mime_type: String,
    /// The file's size in bytes: exactly this many must be put to the link.
    pub size: u64,
    /// The name Meta shows for a document.
    #[serde(default)]
    pub filename: Option<String>,
    /// Shown under an image, video or document (at most 1024 characters).
    #[serde(default)]
    pub caption: Option<String>,
    /// The file's SHA-256 (hex), when the client knows it: checked before the send.
    #[serde(default)]
    pub sha256: Option<String>,
}

/// Where to put a declared file's bytes.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UploadTicket {
    /// The upload's id (for `POST …/media/uploads/{upload}/send`).
    pub upload: String,
    /// Where to `PUT` the bytes: S3's presigned URL on AWS, `/v1/media/uploads/{token}` on the
    /// runner (relative to the console). No bearer token goes with it: the link is the grant.
    pub url: String,
    /// Always `PUT`.
    pub method: &'static str,
    /// Headers to send as they are (`Content-Type`; on AWS `Content-Length` is signed too and
    /// must be the declared size, which a browser sets itself).
    #[schema(value_type = Object)]
    pub headers: std::collections::BTreeMap<String, String>,
    /// When the link stops working (epoch seconds).
    pub expires_at: i64,
}

/// An upload's id: 32 lower-case hex digits (anything else is no upload of ours).
fn upload_key(number: BusinessNumberId, contact: ContactKey, upload: &str) -> ApiResult<MediaKey> {
    let valid = upload.len() == 32
        && upload
            .chars()
            .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c));
    if !valid {
        return Err(ApiError::not_found("no such upload"));
    }
    Ok(MediaKey::new(number, contact, format!("upload-{upload}")))
}

/// The caller's right to act on the contact's conversation, as `POST …/messages` decides it
/// (`access::acting_for`), from the contact's detail read through the console as the caller.
/// A contact never seen yet is anyone's to write to.
async fn may_act<M>(
    api: &MediaApi<M>,
    headers: &HeaderMap,
    caller: &crate::Caller,
    number: &BusinessNumberId,
    contact: &ContactKey,
) -> ApiResult<()> {
    let mut request = Request::get(format!(
        "/v1/numbers/{}/contacts/{}",
        number.as_str(),
        contact.as_str()
    ));
    if let Some(value) = headers.get(header::AUTHORIZATION) {
        request = request.header(header::AUTHORIZATION, value);
    }
    let request = request
        .body(Body::empty())
        .map_err(|e| ApiError::internal(e.to_string()))?;
    let response = api
        .console
        .clone()
        .oneshot(request)
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?;
    if response.status() == StatusCode::NOT_FOUND {
        return Ok(());
    }
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), 1024 * 1024)
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?;
    let detail: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
    if !status.is_success() {
        return Err(ApiError {
            status,
            code: "contact_unreadable",
            message: detail["message"]
                .as_str()
                .unwrap_or("the contact cannot be read")
                .to_owned(),
            fields: Vec::new(),
        });
    }
    let holder = detail["conversation"]["agent"]
        .as_str()
        .and_then(|a| rules::AgentId::new(a).ok());
    crate::access::acting_for(caller, holder.as_ref()).map(|_| ())
}

/// MEDIA-3, step 1 of an upload of any size: declares the file; Meta's limits for its kind are
/// checked at once (400 naming the reason) and the caller's right to act on the contact as for
/// any send; answers where to `PUT` exactly `size` bytes, until `expires_at`.
#[utoipa::path(
    post, path = "/v1/numbers/{number}/contacts/{contact}/media/uploads", tag = "conversations",
    params(("number" = String, Path, description = "Business number"), ("contact" = String, Path, description = "Contact key (wa_id)")),
    request_body = UploadDeclaration,
    responses((status = 201, description = "Declared: put the bytes to the link", body = UploadTicket), crate::api::Errors)
)]
pub async fn declare<M: MediaStore + LocalFiles + Clone + 'static>(
    State(api): State<Arc<MediaApi<M>>>,
    Path((number, contact)): Path<(String, String)>,
    headers: HeaderMap,
    crate::extract::JsonBody(declared): crate::extract::JsonBody<UploadDeclaration>,
) -> ApiResult<Response> {
    let caller = caller_of(&api, &headers)?;
    let (number, contact) = ids(&number, &contact)?;
    let kind = kind_named_or_for(declared.kind.as_deref(), &declared.mime_type, "type")?;
    rules::media::check_declared(kind, &declared.mime_type, declared.size).map_err(refusal)?;
    let caption = caption_of(declared.caption.unwrap_or_default())?;
    let sha256 = match declared.sha256 {
        Some(hash) if hash.len() == 64 && hash.chars().all(|c| c.is_ascii_hexdigit()) => {
            Some(hash.to_ascii_lowercase())
        }
        Some(_) => return Err(ApiError::invalid("sha256", "64 hex digits")),
        None => None,
    };
    may_act(&api, &headers, &caller, &number, &contact).await?;
    let upload = uuid::Uuid::new_v4().simple().to_string();
    let key = upload_key(number.clone(), contact, &upload)?;
    let expires_at = Timestamp::from_unix(api.clock.now().unix() + UPLOAD_TTL_SECONDS as i64);
    api.store
        .put_record(
            &key,
            &MediaRecord {
                meta: MediaMeta {
                    kind,
                    mime_type: declared.mime_type.clone(),
                    filename: Some(file_name(declared.filename.as_deref(), kind)),
                },
                status: media::MediaStatus::Awaiting {
                    size: declared.size,
                    expires_at,
                    caption,
                    sha256,
                },
            },
        )
        .await
        .map_err(store_error)?;
    let (url, headers) = match api
        .store
        .upload_link(&key, &declared.mime_type, declared.size, UPLOAD_TTL_SECONDS)
        .await
        .map_err(store_error)?
    {
        Some(link) => (link.url, link.headers.into_iter().collect()),
        None => (
            format!(
                "/v1/media/uploads/{}",
                api.signer.for_uploads().sign(&key, expires_at)
            ),
            [(
                header::CONTENT_TYPE.as_str().to_owned(),
                declared.mime_type.clone(),
            )]
            .into_iter()
            .collect(),
        ),
    };
    tracing::info!(number = %number, agent = %caller.agent, upload = %upload, kind = ?kind, size = declared.size, "media upload declared");
    Ok((
        StatusCode::CREATED,
        axum::Json(UploadTicket {
            upload,
            url,
            method: "PUT",
            headers,
            expires_at: expires_at.unix(),
        }),
    )
        .into_response())
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Received {
    pub size: u64,
    pub sha256: String,
}

/// An upload that was sent already cannot be put or sent again.
fn upload_sent() -> ApiError {
    ApiError::conflict(
        "upload_sent",
        "this upload was sent already; declare a new one",
    )
}

fn too_large(declared: u64) -> ApiError {
    ApiError {
        status: StatusCode::PAYLOAD_TOO_LARGE,
        code: "upload_too_large",
        message: format!("more than the {declared} bytes declared; declare the file again"),
        fields: Vec::new(),
    }
}

/// MEDIA-3 locally: the bytes of a declared upload (the signed link is the grant: no bearer),
/// streamed into the media folder; refused past the declared size (nothing kept), and a file
/// shorter than declared is refused too.
#[utoipa::path(
    put, path = "/v1/media/uploads/{token}", tag = "conversations", security(()),
    params(("token" = String, Path, description = "The signed token of an upload link the console handed out")),
    request_body(content_type = "application/octet-stream", content = Vec<u8>),
    responses(
        (status = 200, description = "Stored; send it with POST …/media/uploads/{upload}/send", body = Received),
        (status = 410, description = "The link expired; declare the file again", body = crate::error::ErrorBody),
        (status = 413, description = "More bytes than declared", body = crate::error::ErrorBody),
        crate::api::Errors,
    )
)]
pub async fn receive<M: MediaStore + LocalFiles + Clone + 'static>(
    State(api): State<Arc<MediaApi<M>>>,
    Path(token): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<axum::Json<Received>> {
    let now = api.clock.now();
    let object = api
        .signer
        .for_uploads()
        .verify(&token, now)
        .map_err(link_error)?;
    let record = api
        .store
        .object_record(&object)
        .await
        .map_err(store_error)?
        .ok_or_else(|| ApiError::not_found("no such upload"))?;
    let media::MediaStatus::Awaiting { size: declared, .. } = record.status else {
        return Err(upload_sent());
    };
    if let Some(given) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        && !given.eq_ignore_ascii_case(&record.meta.mime_type)
    {
        return Err(ApiError::invalid(
            "content-type",
            format!("{} was declared", record.meta.mime_type),
        ));
    }
    let length = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if length.is_some_and(|length| length > declared) {
        return Err(too_large(declared));
    }
    let stream: media::ByteStream = Box::pin(
        body.into_data_stream()
            .map(|chunk| chunk.map_err(|e| MediaError::Source(e.to_string()))),
    );
    let stored = api
        .store
        .receive_object(
            &object,
            stream,
            PutCheck {
                limit: declared,
                sha256: None,
            },
            now,
        )
        .await
        .map_err(|e| match e {
            MediaError::TooLarge { .. } => too_large(declared),
            e => store_error(e),
        })?;
    rules::media::check_arrived(declared, stored.size).map_err(refusal)?;
    Ok(axum::Json(Received {
        size: stored.size,
        sha256: stored.sha256,
    }))
}

/// MEDIA-3, step 2: the declared upload, once its bytes are stored (exactly the size declared,
/// and the SHA-256 when one was declared), streamed to Meta's media endpoint and sent to the
/// contact by the returned id as `POST …/messages` does (window, rights and idempotency key as
/// for any message; a refused send is answered as it is, and the upload can be sent again).
#[utoipa::path(
    post, path = "/v1/numbers/{number}/contacts/{contact}/media/uploads/{upload}/send", tag = "conversations",
    params(("number" = String, Path, description = "Business number"), ("contact" = String, Path, description = "Contact key (wa_id)"), ("upload" = String, Path, description = "The upload's id (from POST …/media/uploads)")),
    responses((status = 202, description = "Uploaded to Meta and queued for sending by its id", body = Uploaded), crate::api::Errors)
)]
pub async fn send_upload<M: MediaStore + LocalFiles + Clone + 'static>(
    State(api): State<Arc<MediaApi<M>>>,
    Path((number, contact, upload)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let caller = caller_of(&api, &headers)?;
    let (number, contact) = ids(&number, &contact)?;
    let key = upload_key(number.clone(), contact.clone(), &upload)?;
    let record = api
        .store
        .record(&key)
        .await
        .map_err(store_error)?
        .ok_or_else(|| ApiError::not_found("no such upload"))?;
    let (declared, caption, sha256) = match record.status {
        media::MediaStatus::Awaiting {
            size,
            caption,
            sha256,
            ..
        } => (size, caption, sha256),
        media::MediaStatus::Stored(_) => {
            return Err(upload_sent());
        }
        media::MediaStatus::Failed { .. } => {
            return Err(ApiError::not_found("no such upload"));
        }
    };
    let stored = api
        .store
        .file_size(&key)
        .await
        .map_err(store_error)?
        .ok_or_else(|| {
            ApiError::conflict(
                "upload_pending",
                "the file has not been uploaded yet: PUT it to the upload's link first",
            )
        })?;
    rules::media::check_arrived(declared, stored).map_err(refusal)?;
    let meta = record.meta;
    let filename = file_name(meta.filename.as_deref(), meta.kind);
    let (media_id, sent) = send_to_meta(
        &api,
        &number,
        &key,
        &meta.mime_type,
        &filename,
        Some(declared),
    )
    .await?;
    let sent = sent.ok_or_else(|| ApiError::internal("the upload was not measured"))?;
    rules::media::check_arrived(declared, sent.size).map_err(refusal)?;
    rules::media::check_hash(sha256.as_deref(), &sent.sha256).map_err(refusal)?;
    // Without the client's Idempotency-Key, the upload's id is the send's: two sends of one
    // upload (a retry, a double click) are one message.
    let default_key = format!("media-upload-{upload}");
    let (send_status, send) = send_by_id(
        &api,
        &headers,
        &number,
        &contact,
        ById {
            kind: meta.kind,
            media_id: &media_id,
            caption,
            default_key: Some(&default_key),
        },
    )
    .await?;
    if !send_status.is_success() {
        return Ok((send_status, axum::Json(send)).into_response());
    }
    let kind = meta.kind;
    api.store
        .put_record(
            &key,
            &MediaRecord {
                meta,
                status: media::MediaStatus::Stored(sent.clone()),
            },
        )
        .await
        .map_err(store_error)?;
    tracing::info!(number = %number, agent = %caller.agent, upload = %upload, kind = ?kind, size = sent.size, "declared upload sent by id");
    Ok((
        StatusCode::ACCEPTED,
        axum::Json(Uploaded {
            media_id,
            kind,
            size: sent.size,
            sha256: sent.sha256,
            send_status: send_status.as_u16(),
            send,
        }),
    )
        .into_response())
}

fn link_error(e: LinkError) -> ApiError {
    match e {
        LinkError::Expired => ApiError {
            status: StatusCode::GONE,
            code: "link_expired",
            message: e.to_string(),
            fields: Vec::new(),
        },
        LinkError::Forged => ApiError::forbidden(e.to_string()),
    }
}

#[derive(Debug, Serialize)]
pub struct MediaView {
    #[serde(flatten)]
    pub record: MediaRecord,
    /// A short-lived download link, when the file is stored.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub link_expires_at: Option<i64>,
}

/// MEDIA-1, MEDIA-2: the media of a message in the log: its record (`status` `stored` with
/// `kind`, `mime_type`, `size`, `sha256`; or `failed` with `attempts`, `reason` and `next_at`
/// while it is retried) and, when stored, a short-lived `link` (S3's presigned URL on AWS, the
/// signed `/v1/media/{token}` locally) expiring at `link_expires_at`.
#[utoipa::path(
    get, path = "/v1/numbers/{number}/contacts/{contact}/media/{message}", tag = "conversations",
    params(("number" = String, Path, description = "Business number"), ("contact" = String, Path, description = "Contact key (wa_id)"), ("message" = String, Path, description = "The message's wamid")),
    responses((status = 200, description = "The file's record and link", body = Object), crate::api::Errors)
)]
pub async fn describe<M: MediaStore + LocalFiles + Clone + 'static>(
    State(api): State<Arc<MediaApi<M>>>,
    Path((number, contact, message)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> ApiResult<axum::Json<MediaView>> {
    caller_of(&api, &headers)?;
    let (number, contact) = ids(&number, &contact)?;
    let key = MediaKey::new(number, contact, message);
    let record = api
        .store
        .record(&key)
        .await
        .map_err(store_error)?
        .ok_or_else(|| {
            ApiError::not_found(
                "no media for this message (not a media message, or not fetched yet)",
            )
        })?;
    let now = api.clock.now();
    let (link, link_expires_at) = if record.stored().is_some() {
        let expires = now.unix() + LINK_TTL_SECONDS as i64;
        let link = match api
            .store
            .direct_link(&key, LINK_TTL_SECONDS)
            .await
            .map_err(store_error)?
        {
            Some(url) => url,
            None => format!(
                "/v1/media/{}",
                api.signer.sign(&key, Timestamp::from_unix(expires))
            ),
        };
        (Some(link), Some(expires))
    } else {
        (None, None)
    };
    Ok(axum::Json(MediaView {
        record,
        link,
        link_expires_at,
    }))
}

/// MEDIA-2: the file of a signed link (the link is the grant: no bearer), until it expires.
#[utoipa::path(
    get, path = "/v1/media/{token}", tag = "conversations", security(()),
    params(("token" = String, Path, description = "The signed token of a link the console handed out")),
    responses(
        (status = 200, description = "The file, with its media type", content_type = "application/octet-stream", body = Vec<u8>),
        (status = 410, description = "The link expired; ask the console for a new one", body = crate::error::ErrorBody),
        crate::api::Errors,
    )
)]
pub async fn download<M: MediaStore + LocalFiles + Clone + 'static>(
    State(api): State<Arc<MediaApi<M>>>,
    Path(token): Path<String>,
) -> ApiResult<Response> {
    let object = api
        .signer
        .verify(&token, api.clock.now())
        .map_err(link_error)?;
    let (record, stream) = api
        .store
        .open_object(&object)
        .await
        .map_err(store_error)?
        .ok_or_else(|| ApiError::not_found("the file is no longer stored"))?;
    let size = record.stored().map_or(0, |s| s.size);
    let name = record
        .meta
        .filename
        .clone()
        .unwrap_or_else(|| rules::media::kind_name(record.meta.kind).to_owned());
    let body = Body::from_stream(stream.map(|r| r.map_err(std::io::Error::other)));
    Response::builder()
        .header(header::CONTENT_TYPE, record.meta.mime_type.as_str())
        .header(header::CONTENT_LENGTH, size)
        .header(
            header::CONTENT_DISPOSITION,
            format!(
                "attachment; filename=\"{}\"",
                name.replace(['"', '\r', '\n'], "")
            ),
        )
        .header(header::CACHE_CONTROL, "private, no-store")
        .body(body)
        .map_err(|e| ApiError::internal(e.to_string()))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Erased {
    pub files: u64,
}

/// Erasure (admins): deletes every stored file of the contact; how many went.
#[utoipa::path(
    delete, path = "/v1/numbers/{number}/contacts/{contact}/media", tag = "contacts",
    params(("number" = String, Path, description = "Business number"), ("contact" = String, Path, description = "Contact key (wa_id)")),
    responses((status = 200, description = "The files deleted", body = Erased), crate::api::Errors)
)]
pub async fn erase<M: MediaStore + LocalFiles + Clone + 'static>(
    State(api): State<Arc<MediaApi<M>>>,
    Path((number, contact)): Path<(String, String)>,
    headers: HeaderMap,
) -> ApiResult<axum::Json<Erased>> {
    let caller = caller_of(&api, &headers)?;
    if caller.role != Role::Admin {
        return Err(ApiError::forbidden("only admins erase a contact's media"));
    }
    let (number, contact) = ids(&number, &contact)?;
    let files = api
        .store
        .delete_contact(&number, &contact)
        .await
        .map_err(store_error)?;
    tracing::info!(number = %number, files, "contact's media erased");
    Ok(axum::Json(Erased { files }))
}
