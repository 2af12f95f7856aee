//! One contract for both media stores: the local folder and S3 (on moto, started by
//! `./scripts/test`). A file is kept only whole and checked; its record says what it is; a
//! failed fetch's record keeps no file; erasure removes one contact's files and no one else's.

use bytes::Bytes;
use futures_util::TryStreamExt;
use media::{
    FolderStore, MediaError, MediaKey, MediaMeta, MediaRecord, MediaStatus, MediaStore, PutCheck,
    S3Store, sha256_hex,
};
use rules::effect::MediaKind;
use rules::{BusinessNumberId, ContactKey, Timestamp};

fn key(contact: &str, message: &str) -> MediaKey {
    MediaKey::new(
        BusinessNumberId::new("106540352242922").unwrap(),
        ContactKey::new(contact).unwrap(),
        message,
    )
}

fn meta(kind: MediaKind, mime: &str) -> MediaMeta {
    MediaMeta {
        kind,
        mime_type: mime.into(),
        filename: Some("file.bin".into()),
    }
}

/// `bytes` as a stream of uneven chunks (as a network gives them).
fn chunks(
    bytes: &[u8],
) -> impl futures_util::Stream<Item = Result<Bytes, MediaError>> + Send + use<> {
    let pieces: Vec<Result<Bytes, MediaError>> = bytes
        .chunks(65_521)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    futures_util::stream::iter(pieces)
}

async fn read<S: MediaStore>(store: &S, key: &MediaKey) -> Option<Vec<u8>> {
    let (_, stream) = store.open(key).await.unwrap()?;
    let parts: Vec<Bytes> = stream.try_collect().await.unwrap();
    Some(parts.concat())
}

const NOW: Timestamp = Timestamp::from_unix(1_700_000_000);

async fn suite<S: MediaStore>(store: &S, sizes: &[usize]) {
    // Whole files of several sizes (S3: one part, and several parts) come back byte for byte.
    for (i, &len) in sizes.iter().enumerate() {
        let bytes = testkit::noise(len, i as u64 + 1);
        let k = key("16505550001", &format!("wamid.KEEP{i}"));
        let stored = store
            .put(
                &k,
                &meta(MediaKind::Document, "application/pdf"),
                chunks(&bytes),
                PutCheck {
                    limit: 100 * 1024 * 1024,
                    sha256: Some(&sha256_hex(&bytes)),
                },
                NOW,
            )
            .await
            .unwrap();
        assert_eq!(
            (stored.size, stored.sha256.clone()),
            (len as u64, sha256_hex(&bytes))
        );
        let record = store.record(&k).await.unwrap().unwrap();
        assert_eq!(record.stored(), Some(&stored));
        assert_eq!(record.meta, meta(MediaKind::Document, "application/pdf"));
        assert_eq!(
            sha256_hex(&read(store, &k).await.unwrap()),
            sha256_hex(&bytes),
            "{len}"
        );
    }

    // Over the limit, or not the hash expected: nothing is kept.
    let bytes = testkit::noise(200_000, 77);
    let over = key("16505550001", "wamid.OVER");
    let err = store
        .put(
            &over,
            &meta(MediaKind::Image, "image/png"),
            chunks(&bytes),
            PutCheck {
                limit: 100_000,
                sha256: None,
            },
            NOW,
        )
        .await
        .unwrap_err();
    assert_eq!(err, MediaError::TooLarge { limit: 100_000 });
    assert_eq!(store.record(&over).await.unwrap(), None);
    assert!(read(store, &over).await.is_none());
    let corrupt = key("16505550001", "wamid.CORRUPT");
    let err = store
        .put(
            &corrupt,
            &meta(MediaKind::Image, "image/png"),
            chunks(&bytes),
            PutCheck {
                limit: 1_000_000,
                sha256: Some(&sha256_hex(b"not these bytes")),
            },
            NOW,
        )
        .await
        .unwrap_err();
    assert_eq!(err, MediaError::Corrupt);
    assert_eq!(store.record(&corrupt).await.unwrap(), None);

    // A failed fetch's record: readable, no file behind it.
    let failed = key("16505550001", "wamid.FAILED");
    let record = MediaRecord {
        meta: meta(MediaKind::Audio, "audio/ogg"),
        status: MediaStatus::Failed {
            attempts: 2,
            reason: "downloading: expired".into(),
            at: NOW,
            next_at: Some(Timestamp::from_unix(1_700_000_030)),
        },
    };
    store.put_record(&failed, &record).await.unwrap();
    assert_eq!(store.record(&failed).await.unwrap(), Some(record));
    assert!(store.open(&failed).await.unwrap().is_none());

    // Erasure: this contact's files go, another contact's stay.
    let other = key("16505550002", "wamid.OTHER");
    store
        .put(
            &other,
            &meta(MediaKind::Sticker, "image/webp"),
            chunks(b"sticker"),
            PutCheck {
                limit: 1_000,
                sha256: None,
            },
            NOW,
        )
        .await
        .unwrap();
    let erased = store
        .delete_contact(
            &BusinessNumberId::new("106540352242922").unwrap(),
            &ContactKey::new("16505550001").unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(erased, sizes.len() as u64);
    for i in 0..sizes.len() {
        let k = key("16505550001", &format!("wamid.KEEP{i}"));
        assert_eq!(store.record(&k).await.unwrap(), None);
        assert!(read(store, &k).await.is_none());
    }
    assert_eq!(store.record(&failed).await.unwrap(), None);
    assert_eq!(read(store, &other).await.unwrap(), b"sticker");
}

/// MEDIA-3, two-step upload: a declared file's record says `awaiting` and the file is not
/// there; once `deliver` wrote the bytes (the adapter's upload link), its size and bytes are read
/// whatever the record says, while it is still not a stored file to download; erasure removes it.
async fn awaiting_upload<S, F, Fut>(store: &S, deliver: F)
where
    S: MediaStore,
    F: FnOnce(MediaKey, Vec<u8>) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let k = key("16505550009", "upload-0123456789abcdef0123456789abcdef");
    let declared = MediaRecord {
        meta: meta(MediaKind::Document, "application/pdf"),
        status: MediaStatus::Awaiting {
            size: 70_000,
            expires_at: NOW,
            caption: Some("The manual".into()),
            sha256: None,
        },
    };
    store.put_record(&k, &declared).await.unwrap();
    assert_eq!(store.record(&k).await.unwrap(), Some(declared.clone()));
    assert_eq!(store.file_size(&k).await.unwrap(), None);
    assert!(store.open_file(&k).await.unwrap().is_none());
    let bytes = testkit::noise(70_000, 9);
    deliver(k.clone(), bytes.clone()).await;
    assert_eq!(store.file_size(&k).await.unwrap(), Some(70_000));
    let read: Vec<Bytes> = store
        .open_file(&k)
        .await
        .unwrap()
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(sha256_hex(&read.concat()), sha256_hex(&bytes));
    assert!(
        store.open(&k).await.unwrap().is_none(),
        "not a stored file yet"
    );
    assert_eq!(store.record(&k).await.unwrap(), Some(declared));
    store
        .delete_contact(
            &BusinessNumberId::new("106540352242922").unwrap(),
            &ContactKey::new("16505550009").unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(store.file_size(&k).await.unwrap(), None);
    assert_eq!(store.record(&k).await.unwrap(), None);
}

#[tokio::test]
async fn media_3_the_folder_store_takes_a_declared_upload() {
    let dir = std::env::temp_dir().join(testkit::unique("media-upload"));
    let store = FolderStore::open(&dir).unwrap();
    // The console's signed route is the folder's upload link: it has none of its own.
    let k = key("1", "m");
    assert_eq!(
        store
            .upload_link(&k, "application/pdf", 10, 60)
            .await
            .unwrap(),
        None
    );
    awaiting_upload(&store, |k, bytes| {
        let store = store.clone();
        async move {
            // Past the declared size nothing is kept.
            let over = store
                .receive_object(
                    &k.object(),
                    chunks(&testkit::noise(70_001, 1)),
                    PutCheck {
                        limit: 70_000,
                        sha256: None,
                    },
                    NOW,
                )
                .await;
            assert_eq!(over, Err(MediaError::TooLarge { limit: 70_000 }));
            assert_eq!(store.file_size(&k).await.unwrap(), None);
            let stored = store
                .receive_object(
                    &k.object(),
                    chunks(&bytes),
                    PutCheck {
                        limit: 70_000,
                        sha256: None,
                    },
                    NOW,
                )
                .await
                .unwrap();
            assert_eq!(stored.size, 70_000);
            // Only the store's own names are written.
            assert!(
                store
                    .receive_object(
                        "../x/y",
                        chunks(b"x"),
                        PutCheck {
                            limit: 9,
                            sha256: None
                        },
                        NOW
                    )
                    .await
                    .is_err()
            );
        }
    })
    .await;
}

#[tokio::test]
async fn media_3_the_s3_store_takes_a_declared_upload_by_its_presigned_put_on_moto() {
    let config = testkit::moto_config().await;
    let bucket = testkit::unique("media-upload").to_lowercase();
    let store = S3Store::new(&config, &bucket, true);
    store
        .client()
        .create_bucket()
        .bucket(&bucket)
        .send()
        .await
        .unwrap();
    awaiting_upload(&store, |k, bytes| {
        let store = store.clone();
        async move {
            let link = store
                .upload_link(&k, "application/pdf", bytes.len() as u64, 60)
                .await
                .unwrap()
                .expect("a presigned PUT");
            let signed = link
                .url
                .split(['?', '&'])
                .find_map(|p| p.strip_prefix("X-Amz-SignedHeaders="))
                .unwrap()
                .to_ascii_lowercase();
            assert!(
                signed.contains("content-length") && signed.contains("content-type"),
                "{signed}"
            );
            let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
            let mut put = reqwest::Client::new().put(&link.url);
            for (name, value) in &link.headers {
                put = put.header(name, value);
            }
            let answer = put.body(bytes).send().await.unwrap();
            assert!(answer.status().is_success(), "{}", answer.status());
        }
    })
    .await;
}

#[tokio::test]
async fn media_1_the_folder_store_keeps_the_contract() {
    let dir = std::env::temp_dir().join(testkit::unique("media-contract"));
    let store = FolderStore::open(&dir).unwrap();
    suite(&store, &[0, 1, 300_000, 9 * 1024 * 1024]).await;
    // Local links are the console's signed route: the folder has none of its own.
    assert_eq!(store.direct_link(&key("1", "m"), 60).await.unwrap(), None);
}

#[tokio::test]
async fn media_1_media_2_the_s3_store_keeps_the_contract_on_moto() {
    let config = testkit::moto_config().await;
    let bucket = testkit::unique("media").to_lowercase();
    let store = S3Store::new(&config, &bucket, true);
    store
        .client()
        .create_bucket()
        .bucket(&bucket)
        .send()
        .await
        .unwrap();
    // 20 MB: three parts of a multipart upload (8 + 8 + 4 MB).
    suite(&store, &[1, 300_000, 20 * 1024 * 1024]).await;

    // MEDIA-2: the presigned link downloads the bytes without credentials.
    let bytes = testkit::noise(100_000, 5);
    let k = key("16505550003", "wamid.LINK");
    store
        .put(
            &k,
            &meta(MediaKind::Image, "image/jpeg"),
            chunks(&bytes),
            PutCheck {
                limit: 1_000_000,
                sha256: None,
            },
            NOW,
        )
        .await
        .unwrap();
    let link = store.direct_link(&k, 300).await.unwrap().unwrap();
    assert!(link.contains("X-Amz-Expires=300"), "{link}");
    assert!(!link.contains("16505550003"));
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let downloaded = reqwest::get(&link).await.unwrap();
    assert_eq!(downloaded.status().as_u16(), 200);
    assert_eq!(
        sha256_hex(&downloaded.bytes().await.unwrap()),
        sha256_hex(&bytes)
    );
}
