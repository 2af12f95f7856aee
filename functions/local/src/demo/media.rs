//! The demo's media (SPEC section 13): Kim sends a photo, Ana sends a PDF.
//!
//! The demo plays Meta, so it also plays Meta's two media endpoints (`GET /{version}/{media-id}`
//! and the download link, both checking a bearer token) on a loopback port of its own, and gives
//! the engine a fetcher that reads from there. Sends still go to the recording sink; an agent's
//! upload goes to the sink's uploader, which answers a made-up media id.

use super::{ANA, CUSTOMER, Demo, NUMBER};
use ::media::{Fetcher, FolderStore, sha256_hex};
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};
use std::sync::Arc;
use whatsapp::cloud::{AccessToken, CloudClient, CloudConfig};

const MEDIA_TOKEN: &str = "demo-meta-media-token";
const PHOTO_ID: &str = "1037543291543636";

struct MetaMedia {
    base: String,
    photo: Vec<u8>,
}

/// The photo Kim sends: 48 KB of bytes that stand for a JPEG.
fn photo() -> Vec<u8> {
    let mut x: u32 = 0x2545_f491;
    (0..48 * 1024)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

fn authorized(headers: &HeaderMap) -> bool {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        == Some(format!("Bearer {MEDIA_TOKEN}").as_str())
}

async fn media_info(
    State(meta): State<Arc<MetaMedia>>,
    Path((_version, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    if !authorized(&headers) || id != PHOTO_ID {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    axum::Json(json!({
        "messaging_product": "whatsapp",
        "url": format!("{}/media-download/{id}", meta.base),
        "mime_type": "image/jpeg",
        "sha256": sha256_hex(&meta.photo),
        "file_size": meta.photo.len(),
        "id": id,
    }))
    .into_response()
}

async fn download(
    State(meta): State<Arc<MetaMedia>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    if !authorized(&headers) || id != PHOTO_ID {
        return StatusCode::NOT_FOUND.into_response();
    }
    ([(header::CONTENT_TYPE, "image/jpeg")], meta.photo.clone()).into_response()
}

/// Starts the stand-in for Meta's media endpoints and lets the engine fetch from it into the
/// folder beside `db` (where the console's media routes read).
pub(super) async fn serve_meta_media(
    running: &crate::Running,
    db: &std::path::Path,
) -> Result<tokio::task::JoinHandle<()>, String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| e.to_string())?;
    let base = format!(
        "http://{}",
        listener.local_addr().map_err(|e| e.to_string())?
    );
    let meta = Arc::new(MetaMedia {
        base: base.clone(),
        photo: photo(),
    });
    let app = Router::new()
        .route("/{version}/{id}", get(media_info))
        .route("/media-download/{id}", get(download))
        .with_state(meta);
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let client = CloudClient::new(CloudConfig {
        graph_url: base,
        ..CloudConfig::new(AccessToken::new(MEDIA_TOKEN))
    })
    .map_err(|e| e.to_string())?;
    let store = FolderStore::open(FolderStore::beside(db)).map_err(|e| e.to_string())?;
    running
        .engine
        .enable_media_fetch(Fetcher::new(client, store));
    Ok(server)
}

impl Demo {
    /// MEDIA-1, MEDIA-2: Kim's photo arrives, is fetched off the routing path, and Ana's
    /// short-lived link downloads exactly its bytes.
    pub(super) async fn customer_photo(&mut self) -> Result<(), String> {
        let sent = photo();
        let photo_message = self.message(json!({
            "type": "image",
            "image": {"id": PHOTO_ID, "mime_type": "image/jpeg", "sha256": sha256_hex(&sent),
                      "caption": "These ones"}
        }));
        let wamid = photo_message["id"].as_str().unwrap_or_default().to_owned();
        self.webhook(photo_message).await?;
        self.advance(0).await?;
        let record = self
            .console(
                "GET",
                &format!("/v1/numbers/{NUMBER}/contacts/{CUSTOMER}/media/{wamid}"),
                ANA,
                Value::Null,
                200,
            )
            .await?;
        if record["status"] != "stored" || record["sha256"] != sha256_hex(&sent).as_str() {
            return Err(format!("Kim's photo was not stored intact: {record}"));
        }
        let link = record["link"].as_str().ok_or("no download link")?;
        let downloaded = self
            .http
            .get(format!("{}{link}", self.base))
            .send()
            .await
            .map_err(|e| e.to_string())?
            .bytes()
            .await
            .map_err(|e| e.to_string())?;
        if sha256_hex(&downloaded) != sha256_hex(&sent) {
            return Err("the downloaded photo is not the one Kim sent".into());
        }
        println!(
            "    MEDIA-1: Kim's photo ({} bytes, {}) was fetched from Meta off the routing path, SHA-256 {}… checked",
            record["size"],
            record["mime_type"].as_str().unwrap_or("?"),
            &sha256_hex(&sent)[..12]
        );
        println!(
            "    MEDIA-2: Ana's link (a signed /v1/media/… route, valid 5 minutes) downloads the same bytes"
        );
        Ok(())
    }

    /// MEDIA-3: Ana sends a PDF by upload; it goes out by the media id the upload returned.
    pub(super) async fn agent_pdf(&mut self) -> Result<(), String> {
        let pdf = b"%PDF-1.4\n% Switchboard demo: the spring catalogue\n%%EOF\n".repeat(200);
        let boundary = "demo-boundary";
        let mut body = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"caption\"\r\n\r\nOur spring catalogue\r\n\
             --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"catalogue.pdf\"\r\nContent-Type: application/pdf\r\n\r\n"
        )
        .into_bytes();
        body.extend_from_slice(&pdf);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        let r = self
            .http
            .post(format!(
                "{}/v1/numbers/{NUMBER}/contacts/{CUSTOMER}/media",
                self.base
            ))
            .bearer_auth(ANA)
            .header(
                header::CONTENT_TYPE,
                format!("multipart/form-data; boundary={boundary}"),
            )
            .body(body)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let status = r.status().as_u16();
        let answer: Value =
            serde_json::from_str(&r.text().await.map_err(|e| e.to_string())?).unwrap_or_default();
        if status != 202 {
            return Err(format!("the PDF upload answered {status}: {answer}"));
        }
        self.advance(0).await?;
        let sends = self.expect_sends(1).await?;
        let content = serde_json::to_value(&sends[0].message.content).unwrap_or_default();
        if content["media"] != "document" || content["source"] != answer["media_id"] {
            return Err(format!("the PDF did not go out by its media id: {content}"));
        }
        println!(
            "    MEDIA-3: the {} KB PDF was checked against Meta's document limits, uploaded, and sent by media id {}",
            pdf.len() / 1024,
            answer["media_id"].as_str().unwrap_or("?")
        );
        Ok(())
    }
}
