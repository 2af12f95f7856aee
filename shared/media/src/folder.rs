//! The local adapter: a folder beside the SQLite database (`switchboard.db-media/`). Each file is
//! `{root}/{object}` with its record in `{root}/{object}.json`; a put writes `…part-<n>` and
//! renames it into place only once the whole stream passed its checks, so a reader never sees
//! half a file and a crash leaves no wrong one.

use crate::{
    ByteStream, Checked, MediaError, MediaKey, MediaMeta, MediaRecord, MediaStatus, MediaStore,
    PutCheck, StoredMedia, UploadLink, parse_record,
};
use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use rules::{BusinessNumberId, ContactKey, Timestamp};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Reads are this large (a 100 MB file streams in 64 KB pieces).
const READ_CHUNK: usize = 64 * 1024;

#[derive(Debug, Clone)]
pub struct FolderStore {
    root: Arc<PathBuf>,
    parts: Arc<AtomicU64>,
}

fn store_error(what: &str, e: std::io::Error) -> MediaError {
    // The path names no contact (hashes only), but the error text is kept short anyway.
    MediaError::Store(format!("{what}: {}", e.kind()))
}

/// The contact's folder, created when missing.
async fn ensure_parent(path: &Path) -> Result<(), MediaError> {
    match path.parent() {
        Some(dir) => tokio::fs::create_dir_all(dir)
            .await
            .map_err(|e| store_error("create the contact's folder", e)),
        None => Ok(()),
    }
}

impl FolderStore {
    /// The store in `root` (created when missing).
    pub fn open(root: impl Into<PathBuf>) -> Result<FolderStore, MediaError> {
        let root = root.into();
        std::fs::create_dir_all(&root).map_err(|e| store_error("create the media folder", e))?;
        Ok(FolderStore {
            root: Arc::new(root),
            parts: Arc::new(AtomicU64::new(0)),
        })
    }

    /// The folder beside a database file: `switchboard.db` → `switchboard.db-media`.
    pub fn beside(db: &Path) -> PathBuf {
        let mut name = db.as_os_str().to_owned();
        name.push("-media");
        name.into()
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn file(&self, key: &MediaKey) -> PathBuf {
        self.root.join(key.object())
    }

    fn record_file(&self, key: &MediaKey) -> PathBuf {
        self.root.join(format!("{}.json", key.object()))
    }

    async fn write_record(&self, key: &MediaKey, record: &MediaRecord) -> Result<(), MediaError> {
        let path = self.record_file(key);
        ensure_parent(&path).await?;
        let json = serde_json::to_vec(record).map_err(|e| MediaError::Store(e.to_string()))?;
        let part = self.part_path(&path);
        tokio::fs::write(&part, json)
            .await
            .map_err(|e| store_error("write a record", e))?;
        tokio::fs::rename(&part, &path)
            .await
            .map_err(|e| store_error("keep a record", e))
    }

    fn part_path(&self, path: &Path) -> PathBuf {
        let n = self.parts.fetch_add(1, Ordering::Relaxed);
        let mut name = path.as_os_str().to_owned();
        name.push(format!(".part-{}-{n}", std::process::id()));
        name.into()
    }

    async fn write_stream<S>(
        &self,
        part: &Path,
        body: S,
        check: PutCheck<'_>,
        now: Timestamp,
    ) -> Result<StoredMedia, MediaError>
    where
        S: Stream<Item = Result<Bytes, MediaError>> + Send,
    {
        let mut file = tokio::fs::File::create(part)
            .await
            .map_err(|e| store_error("create a file", e))?;
        let mut checked = Checked::new(check);
        let mut body = std::pin::pin!(body);
        while let Some(chunk) = body.next().await {
            let chunk = checked.pass(chunk)?;
            file.write_all(&chunk)
                .await
                .map_err(|e| store_error("write a file", e))?;
        }
        file.sync_all()
            .await
            .map_err(|e| store_error("sync a file", e))?;
        checked.finish(now)
    }
    /// Whether `object` is one of the store's names (`{number}/{hash}/{hash}`): a signed link's
    /// name is checked before it touches the disk.
    fn valid_object(object: &str) -> bool {
        object.split('/').count() == 3
            && object
                .split('/')
                .all(|part| !part.is_empty() && part.chars().all(|c| c.is_ascii_alphanumeric()))
    }

    /// The record of the file named `object`; `None` when there is none or the name is not one
    /// of the store's.
    pub async fn object_record(&self, object: &str) -> Result<Option<MediaRecord>, MediaError> {
        if !Self::valid_object(object) {
            return Ok(None);
        }
        match tokio::fs::read(self.root.join(format!("{object}.json"))).await {
            Ok(bytes) => parse_record(&bytes).map(Some),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(store_error("read a record", e)),
        }
    }

    /// The stored file named `object` (the name a signed link carries), with its record; `None`
    /// when it is not stored or the name is not one of the store's.
    pub async fn open_object(
        &self,
        object: &str,
    ) -> Result<Option<(MediaRecord, ByteStream)>, MediaError> {
        let Some(record) = self.object_record(object).await? else {
            return Ok(None);
        };
        if record.stored().is_none() {
            return Ok(None);
        }
        Ok(self
            .read_file(&self.root.join(object))
            .await?
            .map(|stream| (record, stream)))
    }

    /// Writes `body` beside `path` and renames it into place once whole and checked; a refused
    /// or broken stream leaves nothing behind.
    async fn keep_stream<S>(
        &self,
        path: &Path,
        body: S,
        check: PutCheck<'_>,
        now: Timestamp,
    ) -> Result<StoredMedia, MediaError>
    where
        S: Stream<Item = Result<Bytes, MediaError>> + Send,
    {
        ensure_parent(path).await?;
        let part = self.part_path(path);
        let stored = match self.write_stream(&part, body, check, now).await {
            Ok(stored) => stored,
            Err(error) => {
                let _ = tokio::fs::remove_file(&part).await;
                return Err(error);
            }
        };
        tokio::fs::rename(&part, path)
            .await
            .map_err(|e| store_error("keep a file", e))?;
        Ok(stored)
    }

    /// MEDIA-3, two-step upload locally: writes `body` as the file named `object` (its record
    /// left as it is), refused past `check.limit` with nothing kept; the size and SHA-256.
    pub async fn receive_object<S>(
        &self,
        object: &str,
        body: S,
        check: PutCheck<'_>,
        now: Timestamp,
    ) -> Result<StoredMedia, MediaError>
    where
        S: Stream<Item = Result<Bytes, MediaError>> + Send,
    {
        if !Self::valid_object(object) {
            return Err(MediaError::Store("not a media object's name".into()));
        }
        let path = self.root.join(object);
        let stored = self.keep_stream(&path, body, check, now).await?;
        Ok(stored)
    }

    async fn read_file(&self, path: &Path) -> Result<Option<ByteStream>, MediaError> {
        let file = match tokio::fs::File::open(path).await {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(store_error("open a file", e)),
        };
        let stream = futures_util::stream::try_unfold(file, |mut file| async move {
            let mut buffer = vec![0u8; READ_CHUNK];
            let n = file
                .read(&mut buffer)
                .await
                .map_err(|e| store_error("read a file", e))?;
            if n == 0 {
                return Ok(None);
            }
            buffer.truncate(n);
            Ok(Some((Bytes::from(buffer), file)))
        });
        Ok(Some(Box::pin(stream)))
    }
}

impl MediaStore for FolderStore {
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
        let path = self.file(key);
        let stored = self.keep_stream(&path, body, check, now).await?;
        self.write_record(
            key,
            &MediaRecord {
                meta: meta.clone(),
                status: MediaStatus::Stored(stored.clone()),
            },
        )
        .await?;
        Ok(stored)
    }

    async fn record(&self, key: &MediaKey) -> Result<Option<MediaRecord>, MediaError> {
        match tokio::fs::read(self.record_file(key)).await {
            Ok(bytes) => parse_record(&bytes).map(Some),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(store_error("read a record", e)),
        }
    }

    async fn put_record(&self, key: &MediaKey, record: &MediaRecord) -> Result<(), MediaError> {
        self.write_record(key, record).await
    }

    async fn open(&self, key: &MediaKey) -> Result<Option<(MediaRecord, ByteStream)>, MediaError> {
        self.open_object(&key.object()).await
    }

    async fn direct_link(
        &self,
        _key: &MediaKey,
        _ttl_seconds: u64,
    ) -> Result<Option<String>, MediaError> {
        Ok(None)
    }

    async fn upload_link(
        &self,
        _key: &MediaKey,
        _mime_type: &str,
        _size: u64,
        _ttl_seconds: u64,
    ) -> Result<Option<UploadLink>, MediaError> {
        Ok(None)
    }

    async fn file_size(&self, key: &MediaKey) -> Result<Option<u64>, MediaError> {
        match tokio::fs::metadata(self.file(key)).await {
            Ok(meta) => Ok(Some(meta.len())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(store_error("measure a file", e)),
        }
    }

    async fn open_file(&self, key: &MediaKey) -> Result<Option<ByteStream>, MediaError> {
        self.read_file(&self.file(key)).await
    }

    async fn delete_contact(
        &self,
        number: &BusinessNumberId,
        contact: &ContactKey,
    ) -> Result<u64, MediaError> {
        let dir = self.root.join(MediaKey::contact_prefix(number, contact));
        let mut entries = match tokio::fs::read_dir(&dir).await {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(store_error("list the contact's folder", e)),
        };
        let mut files = 0;
        while let Some(entry) = entries
            .next_entry()
            .await
            .map_err(|e| store_error("list the contact's folder", e))?
        {
            if !entry.file_name().to_string_lossy().contains('.') {
                files += 1;
            }
        }
        tokio::fs::remove_dir_all(&dir)
            .await
            .map_err(|e| store_error("delete the contact's folder", e))?;
        Ok(files)
    }
}
