//! The AWS adapter: an S3 bucket (encrypted, public access blocked, with a lifecycle rule for the
//! retention: `infra/template.yaml`). A file is the object `{object}`, its record the object
//! `{object}.json`. A put streams: parts of [`PART_BYTES`] go up as a multipart upload as they
//! fill (so memory holds one part, never the file), and the upload is completed only once the
//! whole stream passed its checks, else aborted: nothing half-written or corrupt becomes visible.
//! A file smaller than one part is one `PutObject`. Download links are presigned `GetObject` URLs.

use crate::{
    ByteStream, Checked, MediaError, MediaKey, MediaMeta, MediaRecord, MediaStatus, MediaStore,
    PutCheck, StoredMedia, UploadLink, parse_record,
};
use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream as S3Body;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart, Delete, ObjectIdentifier};
use bytes::{Bytes, BytesMut};
use futures_util::{Stream, StreamExt};
use rules::{BusinessNumberId, ContactKey, Timestamp};
use std::sync::Arc;

/// One multipart part (S3's minimum is 5 MiB for every part but the last).
pub const PART_BYTES: usize = 8 * 1024 * 1024;

#[derive(Debug, Clone)]
pub struct S3Store {
    client: Client,
    bucket: Arc<str>,
}

fn s3_error(what: &str, e: impl std::fmt::Display) -> MediaError {
    MediaError::Store(format!("S3 {what}: {e}"))
}

/// The SDK's error with its service code (the display alone says only "service error").
fn sdk_error<E, R>(what: &str, e: aws_sdk_s3::error::SdkError<E, R>) -> MediaError
where
    E: aws_sdk_s3::error::ProvideErrorMetadata + std::fmt::Debug,
    R: std::fmt::Debug,
{
    use aws_sdk_s3::error::ProvideErrorMetadata as _;
    let code = e.code().unwrap_or("unknown").to_owned();
    let message = e.message().unwrap_or_default().to_owned();
    s3_error(what, format!("{code} {message}"))
}

impl S3Store {
    /// The store on `bucket`. `path_style` for S3 stand-ins on one host (moto on 127.0.0.1).
    pub fn new(
        config: &aws_config::SdkConfig,
        bucket: impl Into<String>,
        path_style: bool,
    ) -> Self {
        let s3 = aws_sdk_s3::config::Builder::from(config)
            .force_path_style(path_style)
            .build();
        S3Store {
            client: Client::from_conf(s3),
            bucket: Arc::from(bucket.into()),
        }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    async fn put_json(&self, key: String, record: &MediaRecord) -> Result<(), MediaError> {
        let json = serde_json::to_vec(record).map_err(|e| MediaError::Store(e.to_string()))?;
        self.client
            .put_object()
            .bucket(self.bucket.as_ref())
            .key(key)
            .content_type("application/json")
            .body(S3Body::from(json))
            .send()
            .await
            .map_err(|e| sdk_error("put a record", e))?;
        Ok(())
    }

    async fn upload_part(
        &self,
        object: &str,
        upload_id: &str,
        number: i32,
        part: Bytes,
    ) -> Result<CompletedPart, MediaError> {
        let answer = self
            .client
            .upload_part()
            .bucket(self.bucket.as_ref())
            .key(object)
            .upload_id(upload_id)
            .part_number(number)
            .body(S3Body::from(part))
            .send()
            .await
            .map_err(|e| sdk_error("upload a part", e))?;
        Ok(CompletedPart::builder()
            .part_number(number)
            .set_e_tag(answer.e_tag)
            .build())
    }

    /// Streams `body` to `object`; returns the upload id when it went as a multipart upload
    /// (still to complete), and the measure.
    async fn stream_parts<S>(
        &self,
        object: &str,
        content_type: &str,
        body: S,
        checked: &mut Checked<'_>,
        upload: &mut Option<(String, Vec<CompletedPart>)>,
    ) -> Result<Option<Bytes>, MediaError>
    where
        S: Stream<Item = Result<Bytes, MediaError>> + Send,
    {
        let mut buffer = BytesMut::new();
        let mut body = std::pin::pin!(body);
        while let Some(chunk) = body.next().await {
            let chunk = checked.pass(chunk)?;
            buffer.extend_from_slice(&chunk);
            while buffer.len() >= PART_BYTES {
                let part = buffer.split_to(PART_BYTES).freeze();
                if upload.is_none() {
                    let created = self
                        .client
                        .create_multipart_upload()
                        .bucket(self.bucket.as_ref())
                        .key(object)
                        .content_type(content_type)
                        .send()
                        .await
                        .map_err(|e| sdk_error("start an upload", e))?;
                    let id = created
                        .upload_id
                        .ok_or_else(|| s3_error("start an upload", "no upload id"))?;
                    *upload = Some((id, Vec::new()));
                }
                if let Some((id, parts)) = upload.as_mut() {
                    let number = i32::try_from(parts.len() + 1).unwrap_or(i32::MAX);
                    let done = self.upload_part(object, id, number, part).await?;
                    parts.push(done);
                }
            }
        }
        Ok(Some(buffer.freeze()))
    }
}

impl MediaStore for S3Store {
    async fn put<S>(
        &self,
        key: &MediaKey,
        meta: &MediaMeta,
        body: S,
        check: PutCheck<'_>,
        now: Timestamp,
    ) -> Result<StoredMedia, MediaError>
    where
        S: Stream<Item = Result<Bytes, MediaError>> + Send,
    {
        let object = key.object();
        let mut checked = Checked::new(check);
        let mut upload: Option<(String, Vec<CompletedPart>)> = None;
        let streamed = self
            .stream_parts(&object, &meta.mime_type, body, &mut checked, &mut upload)
            .await;
        let outcome = match streamed {
            Ok(rest) => checked.finish(now).map(|stored| (stored, rest)),
            Err(e) => Err(e),
        };
        let (stored, rest) = match outcome {
            Ok(ok) => ok,
            Err(error) => {
                if let Some((id, _)) = upload {
                    let _ = self
                        .client
                        .abort_multipart_upload()
                        .bucket(self.bucket.as_ref())
                        .key(&object)
                        .upload_id(id)
                        .send()
                        .await;
                }
                return Err(error);
            }
        };
        let rest = rest.unwrap_or_default();
        match upload {
            None => {
                self.client
                    .put_object()
                    .bucket(self.bucket.as_ref())
                    .key(&object)
                    .content_type(&meta.mime_type)
                    .body(S3Body::from(rest))
                    .send()
                    .await
                    .map_err(|e| sdk_error("put a file", e))?;
            }
            Some((id, mut parts)) => {
                if !rest.is_empty() {
                    let number = i32::try_from(parts.len() + 1).unwrap_or(i32::MAX);
                    parts.push(self.upload_part(&object, &id, number, rest).await?);
                }
                self.client
                    .complete_multipart_upload()
                    .bucket(self.bucket.as_ref())
                    .key(&object)
                    .upload_id(id)
                    .multipart_upload(
                        CompletedMultipartUpload::builder()
                            .set_parts(Some(parts))
                            .build(),
                    )
                    .send()
                    .await
                    .map_err(|e| sdk_error("complete an upload", e))?;
            }
        }
        self.put_json(
            format!("{object}.json"),
            &MediaRecord {
                meta: meta.clone(),
                status: MediaStatus::Stored(stored.clone()),
            },
        )
        .await?;
        Ok(stored)
    }

    async fn record(&self, key: &MediaKey) -> Result<Option<MediaRecord>, MediaError> {
        let answer = self
            .client
            .get_object()
            .bucket(self.bucket.as_ref())
            .key(format!("{}.json", key.object()))
            .send()
            .await;
        let object = match answer {
            Ok(object) => object,
            Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => return Ok(None),
            Err(e) => return Err(sdk_error("read a record", e)),
        };
        let bytes = object
            .body
            .collect()
            .await
            .map_err(|e| s3_error("read a record", e))?
            .into_bytes();
        parse_record(&bytes).map(Some)
    }

    async fn put_record(&self, key: &MediaKey, record: &MediaRecord) -> Result<(), MediaError> {
        self.put_json(format!("{}.json", key.object()), record)
            .await
    }

    async fn open(&self, key: &MediaKey) -> Result<Option<(MediaRecord, ByteStream)>, MediaError> {
        let Some(record) = self.record(key).await? else {
            return Ok(None);
        };
        if record.stored().is_none() {
            return Ok(None);
        }
        Ok(self.open_file(key).await?.map(|stream| (record, stream)))
    }

    async fn open_file(&self, key: &MediaKey) -> Result<Option<ByteStream>, MediaError> {
        let answer = self
            .client
            .get_object()
            .bucket(self.bucket.as_ref())
            .key(key.object())
            .send()
            .await;
        let object = match answer {
            Ok(object) => object,
            Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => return Ok(None),
            Err(e) => return Err(sdk_error("open a file", e)),
        };
        let stream = futures_util::stream::try_unfold(object.body, |mut body| async move {
            match body.next().await {
                Some(Ok(chunk)) => Ok(Some((chunk, body))),
                Some(Err(e)) => Err(s3_error("read a file", e)),
                None => Ok(None),
            }
        });
        Ok(Some(Box::pin(stream)))
    }

    async fn file_size(&self, key: &MediaKey) -> Result<Option<u64>, MediaError> {
        let answer = self
            .client
            .head_object()
            .bucket(self.bucket.as_ref())
            .key(key.object())
            .send()
            .await;
        match answer {
            Ok(head) => Ok(Some(
                head.content_length
                    .and_then(|n| u64::try_from(n).ok())
                    .unwrap_or(0),
            )),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) => Ok(None),
            Err(e) => Err(sdk_error("measure a file", e)),
        }
    }

    /// A presigned `PutObject` with `Content-Length` and `Content-Type` signed: S3 refuses a
    /// body of any other size (or type), so the declaration's checks hold for what arrives.
    async fn upload_link(
        &self,
        key: &MediaKey,
        mime_type: &str,
        size: u64,
        ttl_seconds: u64,
    ) -> Result<Option<UploadLink>, MediaError> {
        let config = aws_sdk_s3::presigning::PresigningConfig::expires_in(
            std::time::Duration::from_secs(ttl_seconds),
        )
        .map_err(|e| s3_error("presign", e))?;
        let presigned = self
            .client
            .put_object()
            .bucket(self.bucket.as_ref())
            .key(key.object())
            .content_type(mime_type)
            .content_length(i64::try_from(size).map_err(|e| s3_error("presign", e))?)
            .presigned(config)
            .await
            .map_err(|e| s3_error("presign", e))?;
        Ok(Some(UploadLink {
            url: presigned.uri().to_owned(),
            headers: presigned
                .headers()
                .map(|(name, value)| (name.to_owned(), value.to_owned()))
                .collect(),
        }))
    }

    async fn direct_link(
        &self,
        key: &MediaKey,
        ttl_seconds: u64,
    ) -> Result<Option<String>, MediaError> {
        let config = aws_sdk_s3::presigning::PresigningConfig::expires_in(
            std::time::Duration::from_secs(ttl_seconds),
        )
        .map_err(|e| s3_error("presign", e))?;
        let presigned = self
            .client
            .get_object()
            .bucket(self.bucket.as_ref())
            .key(key.object())
            .presigned(config)
            .await
            .map_err(|e| s3_error("presign", e))?;
        Ok(Some(presigned.uri().to_owned()))
    }

    async fn delete_contact(
        &self,
        number: &BusinessNumberId,
        contact: &ContactKey,
    ) -> Result<u64, MediaError> {
        let prefix = MediaKey::contact_prefix(number, contact);
        let mut files = 0;
        let mut token: Option<String> = None;
        loop {
            let page = self
                .client
                .list_objects_v2()
                .bucket(self.bucket.as_ref())
                .prefix(&prefix)
                .set_continuation_token(token.take())
                .send()
                .await
                .map_err(|e| sdk_error("list a contact's files", e))?;
            let keys: Vec<String> = page
                .contents()
                .iter()
                .filter_map(|o| o.key().map(String::from))
                .collect();
            files += keys.iter().filter(|k| !k.ends_with(".json")).count() as u64;
            if !keys.is_empty() {
                let objects = keys
                    .into_iter()
                    .map(|k| ObjectIdentifier::builder().key(k).build())
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| s3_error("delete", e))?;
                self.client
                    .delete_objects()
                    .bucket(self.bucket.as_ref())
                    .delete(
                        Delete::builder()
                            .set_objects(Some(objects))
                            .quiet(true)
                            .build()
                            .map_err(|e| s3_error("delete", e))?,
                    )
                    .send()
                    .await
                    .map_err(|e| sdk_error("delete a contact's files", e))?;
            }
            match page.next_continuation_token {
                Some(next) if page.is_truncated == Some(true) => token = Some(next),
                _ => break,
            }
        }
        Ok(files)
    }
}
