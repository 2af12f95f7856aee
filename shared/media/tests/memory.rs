//! Memory: fetching a 100 MB document from the Graph API into the store, and uploading it from
//! the store to Meta, keep the process's peak RSS under 64 MB (issue 19, "Done when").
//!
//! The parent test starts the fake Graph API (which holds the file and what it receives: its
//! memory is not counted) and runs this same test binary again as a child process that does
//! only the transfers, then reads its own peak resident set (`VmHWM` in `/proc/self/status`) and
//! prints it. The parent checks the bytes went through intact and the child's peak.

use futures_util::TryStreamExt;
use media::{FetchJob, FetchOutcome, Fetcher, FolderStore, MediaKey, MediaStore, sha256_hex};
use rules::effect::MediaKind;
use rules::{BusinessNumberId, ContactKey, Timestamp};
use testkit::fake_graph::FakeGraph;
use whatsapp::cloud::media::MediaUpload;
use whatsapp::cloud::{AccessToken, CloudClient, CloudConfig};

const SIZE: usize = 100 * 1024 * 1024;
const LIMIT_KB: u64 = 64 * 1024;
const CHILD: &str = "SWITCHBOARD_MEDIA_MEMORY_CHILD";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn media_memory_a_100_mb_document_is_fetched_and_uploaded_under_64_mb_peak_rss() {
    let graph = FakeGraph::start().await;
    let document = testkit::noise(SIZE, 0x9e37_79b9_7f4a_7c15);
    let hash = graph.serve_media("100100100", "application/pdf", document);
    let dir = std::env::temp_dir().join(testkit::unique("media-memory"));
    let exe = std::env::current_exe().unwrap();
    let child = tokio::process::Command::new(exe)
        .args([
            "--exact",
            "child_transfers_a_100_mb_document",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(
            CHILD,
            format!(
                "{}|{}|{}|{}",
                graph.url(),
                graph.token(),
                hash,
                dir.display()
            ),
        )
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&child.stdout).to_string();
    assert!(
        child.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&child.stderr)
    );
    let peak_kb: u64 = stdout
        .lines()
        .find_map(|l| l.split("peak_rss_kb=").nth(1))
        .unwrap_or_else(|| panic!("no peak in the child's output: {stdout}"))
        .trim()
        .parse()
        .unwrap();
    println!(
        "peak RSS of the child (100 MB fetched and uploaded): {:.1} MB",
        peak_kb as f64 / 1024.0
    );
    let uploads = graph.uploads();
    assert_eq!(uploads.len(), 1);
    assert_eq!(uploads[0].bytes.len(), SIZE);
    assert_eq!(sha256_hex(&uploads[0].bytes), hash);
    assert!(
        peak_kb < LIMIT_KB,
        "peak RSS {peak_kb} KB is not under {LIMIT_KB} KB"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// The child's part (run by the test above, which passes the fake's address in the environment).
#[tokio::test]
#[ignore = "run as a child process by media_memory_…"]
async fn child_transfers_a_100_mb_document() {
    let setting = std::env::var(CHILD).expect("run by the memory test, not alone");
    let parts: Vec<&str> = setting.split('|').collect();
    let [url, token, hash, dir] = parts[..] else {
        panic!("bad {CHILD}");
    };
    let client = CloudClient::new(CloudConfig {
        graph_url: url.to_owned(),
        ..CloudConfig::new(AccessToken::new(token))
    })
    .unwrap();
    let store = FolderStore::open(dir).unwrap();
    let fetcher = Fetcher::new(client.clone(), store.clone());
    let job = FetchJob {
        number: BusinessNumberId::new("106540352242922").unwrap(),
        contact: ContactKey::new("16505551234").unwrap(),
        message: "wamid.BIG".into(),
        media_id: "100100100".into(),
        kind: MediaKind::Document,
        mime_type: Some("application/pdf".into()),
        sha256: Some(hash.to_owned()),
        filename: Some("big.pdf".into()),
    };
    let now = Timestamp::from_unix(1_700_000_000);
    assert_eq!(
        fetcher.fetch(&job, 1, now).await.unwrap(),
        FetchOutcome::Stored
    );
    let (record, stream) = store.open(&MediaKey::from(&job)).await.unwrap().unwrap();
    assert_eq!(record.stored().unwrap().size, SIZE as u64);
    let media_id = client
        .upload_media(
            "106540352242922",
            &MediaUpload {
                mime_type: "application/pdf".into(),
                filename: "big.pdf".into(),
            },
            stream.map_err(|e| std::io::Error::other(e.to_string())),
        )
        .await
        .unwrap();
    assert!(!media_id.is_empty());
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let peak = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .unwrap()
        .trim()
        .trim_end_matches("kB")
        .trim()
        .to_owned();
    println!("\npeak_rss_kb={peak}");
}
