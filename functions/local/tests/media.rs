//! Media both ways through the runner in this process (SPEC section 13), against the fake Graph
//! API on loopback: a customer's image, audio, video, document and sticker arrive through the
//! signed webhook, are fetched off the routing path into the folder beside the database, and the
//! bytes an agent downloads from the console's short-lived link are the customer's (SHA-256);
//! an expired link is retried and noted; an agent's upload reaches Meta intact and the message
//! carries the returned id; uploads outside Meta's limits are refused at once with the reason.

use serde_json::{Value, json};
use switchboard_local::{Running, Settings, start};
use testkit::fake_graph::{FakeFailure, FakeGraph};

const SECRET: &str = "media-secret";
const NUMBER: &str = "106540352242922";
const ADMIN: &str = "change-me-admin-token";
const CONTACT: &str = "16505550199";

struct Runner {
    _running: Running,
    base: String,
    http: reqwest::Client,
    graph: FakeGraph,
}

async fn runner(name: &str) -> Runner {
    let graph = FakeGraph::start().await;
    let dir = std::env::temp_dir().join(testkit::unique(name));
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join("media.db").display().to_string();
    let config = concat!(env!("CARGO_MANIFEST_DIR"), "/switchboard.example.toml");
    let (url, token) = (graph.url(), graph.token());
    let settings = Settings::from_lookup(|name| {
        match name {
            "SWITCHBOARD_ADDR" => Some("127.0.0.1:0"),
            "SWITCHBOARD_DB" => Some(db.as_str()),
            "SWITCHBOARD_CONFIG" => Some(config),
            "SWITCHBOARD_TEST_CLOCK" => Some("1"),
            "WHATSAPP_APP_SECRET" => Some(SECRET),
            "WHATSAPP_VERIFY_TOKEN" => Some("media-verify"),
            "WHATSAPP_ACCESS_TOKEN" => Some(token.as_str()),
            "WHATSAPP_GRAPH_URL" => Some(url.as_str()),
            _ => None,
        }
        .map(str::to_owned)
    })
    .unwrap();
    let running = start(settings).await.unwrap();
    Runner {
        base: format!("http://{}", running.addr),
        _running: running,
        http: switchboard_local::demo::loopback_client().unwrap(),
        graph,
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    media::sha256_hex(bytes)
}

impl Runner {
    async fn clock(&self, seconds: u64) {
        let r = self
            .http
            .post(format!("{}/dev/clock", self.base))
            .header("content-type", "application/json")
            .body(json!({ "advance_seconds": seconds }).to_string())
            .send()
            .await
            .unwrap();
        let body: Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
        assert_eq!(body["settled"], true, "{body}");
    }

    async fn now(&self) -> i64 {
        let r = self
            .http
            .get(format!("{}/dev/clock", self.base))
            .send()
            .await
            .unwrap();
        let body: Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
        body["now"].as_i64().unwrap()
    }

    /// A customer's media message through the signed webhook.
    async fn customer_media(&self, wamid: &str, kind: &str, media: Value) {
        let message = json!({
            "from": CONTACT, "id": wamid, "timestamp": self.now().await.to_string(),
            "type": kind, kind: media,
        });
        let body = json!({
            "object": "whatsapp_business_account",
            "entry": [{"id": "102290129340398", "changes": [{"field": "messages", "value": {
                "messaging_product": "whatsapp",
                "metadata": {"display_phone_number": "15550104477", "phone_number_id": NUMBER},
                "contacts": [{"profile": {"name": "Media Customer"}, "wa_id": CONTACT}],
                "messages": [message]
            }}]}]
        })
        .to_string();
        let signature = whatsapp::signature::sign(
            &whatsapp::AppSecret::new(SECRET.as_bytes().to_vec()),
            body.as_bytes(),
        );
        let r = self
            .http
            .post(format!("{}/webhook", self.base))
            .header("content-type", "application/json")
            .header(whatsapp::signature::SIGNATURE_HEADER, signature)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
        self.clock(0).await;
    }

    async fn media_record(&self, wamid: &str) -> (u16, Value) {
        let r = self
            .http
            .get(format!(
                "{}/v1/numbers/{NUMBER}/contacts/{CONTACT}/media/{wamid}",
                self.base
            ))
            .bearer_auth(ADMIN)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (
            status,
            serde_json::from_str(&r.text().await.unwrap()).unwrap(),
        )
    }

    async fn download(&self, link: &str) -> (u16, Vec<u8>, Option<String>) {
        let r = self
            .http
            .get(format!("{}{link}", self.base))
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let content_type = r
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .map(String::from);
        (status, r.bytes().await.unwrap().to_vec(), content_type)
    }

    /// Sends only the head of an upload of `length` bytes with `Expect: 100-continue` and
    /// returns the answer (a 100 would mean the server wants the body).
    async fn refused_before_the_body(&self, query: &str, length: usize) -> (u16, Value) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let addr = self.base.trim_start_matches("http://");
        let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        let head = format!(
            "POST /v1/numbers/{NUMBER}/contacts/{CONTACT}/media{query} HTTP/1.1\r\nHost: {addr}\r\n\
             Authorization: Bearer {ADMIN}\r\nContent-Type: multipart/form-data; boundary=b\r\n\
             Content-Length: {length}\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n"
        );
        tcp.write_all(head.as_bytes()).await.unwrap();
        let mut answer = Vec::new();
        tcp.read_to_end(&mut answer).await.unwrap();
        let answer = String::from_utf8_lossy(&answer).to_string();
        let status = answer[9..12].parse().unwrap();
        let body = answer.split("\r\n\r\n").nth(1).unwrap_or_default();
        (status, serde_json::from_str(body).unwrap_or(Value::Null))
    }

    async fn upload(
        &self,
        query: &str,
        mime: &str,
        filename: &str,
        caption: Option<&str>,
        bytes: &[u8],
    ) -> (u16, Value) {
        let boundary = "test-boundary-7f3a";
        let mut body = Vec::new();
        if let Some(caption) = caption {
            body.extend_from_slice(
                format!("--{boundary}\r\nContent-Disposition: form-data; name=\"caption\"\r\n\r\n{caption}\r\n").as_bytes(),
            );
        }
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\nContent-Type: {mime}\r\n\r\n").as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        // Streamed (chunked, no Content-Length), as a browser sending a file may: the limits
        // are then checked as the bytes come.
        let r = self
            .http
            .post(format!(
                "{}/v1/numbers/{NUMBER}/contacts/{CONTACT}/media{query}",
                self.base
            ))
            .bearer_auth(ADMIN)
            .header(
                "content-type",
                format!("multipart/form-data; boundary={boundary}"),
            )
            .body(reqwest::Body::wrap_stream(futures_util::stream::iter([
                Ok::<_, std::io::Error>(body),
            ])))
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (
            status,
            serde_json::from_str(&r.text().await.unwrap()).unwrap_or(Value::Null),
        )
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn media_1_media_2_the_bytes_an_agent_downloads_are_the_customers_for_every_type_and_erasure_removes_them()
 {
    let r = runner("media-types").await;
    for (i, (kind, mime, len)) in [
        ("image", "image/jpeg", 250_000),
        ("audio", "audio/ogg", 40_000),
        ("video", "video/mp4", 1_500_000),
        ("document", "application/pdf", 600_000),
        ("sticker", "image/webp", 30_000),
    ]
    .into_iter()
    .enumerate()
    {
        let bytes = testkit::noise(len, 11 + i as u64);
        let media_id = format!("55500{i}");
        let hash = r.graph.serve_media(&media_id, mime, bytes);
        let wamid = format!("wamid.MEDIA{i}");
        let mut media = json!({ "id": media_id, "mime_type": mime, "sha256": hash });
        if kind == "document" {
            media["filename"] = json!("invoice.pdf");
        }
        r.customer_media(&wamid, kind, media).await;

        let (status, record) = r.media_record(&wamid).await;
        assert_eq!(status, 200, "{record}");
        assert_eq!(record["status"], "stored", "{record}");
        assert_eq!(record["kind"], kind);
        assert_eq!(record["mime_type"], mime);
        assert_eq!(record["size"], len);
        assert_eq!(record["sha256"], hash.as_str());
        let link = record["link"].as_str().unwrap();
        assert!(link.starts_with("/v1/media/"), "{link}");
        assert!(!link.contains(CONTACT));
        let (status, downloaded, content_type) = r.download(link).await;
        assert_eq!(status, 200);
        assert_eq!(content_type.as_deref(), Some(mime));
        assert_eq!(sha256_hex(&downloaded), hash, "{kind}");
    }
    // MEDIA-2: links expire; a forged one is refused; the record needs a signed-in caller.
    let (_, record) = r.media_record("wamid.MEDIA0").await;
    let link = record["link"].as_str().unwrap().to_owned();
    let forged = format!("{}x", &link[..link.len() - 1]);
    assert_eq!(r.download(&forged).await.0, 403);
    r.clock(301).await;
    assert_eq!(r.download(&link).await.0, 410);
    let anonymous = r
        .http
        .get(format!(
            "{}/v1/numbers/{NUMBER}/contacts/{CONTACT}/media/wamid.MEDIA0",
            r.base
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status().as_u16(), 401);

    // Erasure: an agent may not; an admin's removes every stored file of the contact.
    let erase = |token: &'static str| {
        r.http
            .delete(format!(
                "{}/v1/numbers/{NUMBER}/contacts/{CONTACT}/media",
                r.base
            ))
            .bearer_auth(token)
            .send()
    };
    assert_eq!(
        erase("change-me-ana-token")
            .await
            .unwrap()
            .status()
            .as_u16(),
        403
    );
    let erased = erase(ADMIN).await.unwrap();
    assert_eq!(erased.status().as_u16(), 200);
    let erased: Value = serde_json::from_str(&erased.text().await.unwrap()).unwrap();
    assert_eq!(erased["files"], 5);
    for i in 0..5 {
        assert_eq!(r.media_record(&format!("wamid.MEDIA{i}")).await.0, 404);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn media_1_an_expired_link_is_retried_with_backoff_and_noted() {
    let r = runner("media-retry").await;
    let hash = r
        .graph
        .serve_media("666001", "image/png", testkit::noise(20_000, 5));
    r.graph.fail_downloads(
        1,
        FakeFailure::Api {
            http_status: 404,
            code: 100,
            subcode: None,
            title: None,
            message: "URL signature expired".into(),
        },
    );
    r.customer_media(
        "wamid.RETRY1",
        "image",
        json!({ "id": "666001", "mime_type": "image/png", "sha256": hash }),
    )
    .await;
    let (status, record) = r.media_record("wamid.RETRY1").await;
    assert_eq!(status, 200);
    assert_eq!(record["status"], "failed", "{record}");
    assert_eq!(record["attempts"], 1);
    assert!(
        record["reason"].as_str().unwrap().contains("expired"),
        "{record}"
    );
    assert!(record.get("link").is_none());
    // The rules' first wait is 10 s: the test clock moves past it and the retry stores it.
    r.clock(11).await;
    let (_, record) = r.media_record("wamid.RETRY1").await;
    assert_eq!(record["status"], "stored", "{record}");
    assert_eq!(r.graph.downloads(), 2);
    let (_, bytes, _) = r.download(record["link"].as_str().unwrap()).await;
    assert_eq!(sha256_hex(&bytes), hash);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn media_3_an_upload_reaches_meta_intact_and_the_send_carries_its_id() {
    let r = runner("media-upload").await;
    // The customer writes first: the window is open for free-form.
    let hash = r
        .graph
        .serve_media("777001", "image/jpeg", testkit::noise(1_000, 1));
    r.customer_media(
        "wamid.HELLO",
        "image",
        json!({ "id": "777001", "mime_type": "image/jpeg", "sha256": hash }),
    )
    .await;

    let pdf = testkit::noise(3_000_000, 42);
    let (status, answer) = r
        .upload(
            "",
            "application/pdf",
            "manual.pdf",
            Some("Your manual"),
            &pdf,
        )
        .await;
    assert_eq!(status, 202, "{answer}");
    assert_eq!(answer["kind"], "document");
    assert_eq!(answer["sha256"], sha256_hex(&pdf).as_str());
    let media_id = answer["media_id"].as_str().unwrap().to_owned();
    let uploads = r.graph.uploads();
    assert_eq!(uploads.len(), 1);
    assert_eq!(uploads[0].media_id, media_id);
    assert_eq!(uploads[0].phone_number_id, NUMBER);
    assert_eq!(uploads[0].mime_type, "application/pdf");
    assert_eq!(uploads[0].filename.as_deref(), Some("manual.pdf"));
    assert_eq!(sha256_hex(&uploads[0].bytes), sha256_hex(&pdf));

    r.clock(0).await;
    let sent = r.graph.sent();
    let document = sent
        .iter()
        .find(|s| s.body["type"] == "document")
        .unwrap_or_else(|| panic!("no document sent: {sent:?}"));
    assert_eq!(document.body["document"]["id"], media_id.as_str());
    assert_eq!(document.body["document"]["caption"], "Your manual");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn media_3_uploads_outside_metas_limits_are_refused_at_once_with_the_reason() {
    let r = runner("media-limits").await;
    let (status, answer) = r.upload("", "image/gif", "a.gif", None, b"GIF89a").await;
    assert_eq!(status, 400, "{answer}");
    assert!(
        answer["message"].as_str().unwrap().contains("image/gif"),
        "{answer}"
    );
    let (status, answer) = r
        .upload("?kind=image", "image/gif", "a.gif", None, b"GIF89a")
        .await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (400, Some("media_type")),
        "{answer}"
    );
    // With the kind and the length told, the refusal comes before any byte of the file: the
    // client asks `Expect: 100-continue` and gets the 400 instead of the go-ahead.
    let (status, answer) = r
        .refused_before_the_body("?kind=image", 5 * 1024 * 1024 + 10_000)
        .await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["error"], "media_too_large", "{answer}");
    assert!(
        answer["message"].as_str().unwrap().contains("5242880"),
        "{answer}"
    );
    // Without the kind, the size is caught as the bytes come.
    let big = vec![0u8; 5 * 1024 * 1024 + 10_000];
    let (status, answer) = r.upload("", "image/png", "big.png", None, &big).await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (400, Some("media_too_large")),
        "{answer}"
    );
    let (status, answer) = r
        .upload("?kind=sticker", "image/webp", "s.webp", None, b"")
        .await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (400, Some("media_empty")),
        "{answer}"
    );
    assert!(r.graph.uploads().is_empty());
    assert_eq!(
        r.upload("?kind=gif", "image/gif", "a.gif", None, b"x")
            .await
            .0,
        400
    );
    // A body that is not multipart is refused in the API's JSON, naming what is needed.
    let answer = r
        .http
        .post(format!(
            "{}/v1/numbers/{NUMBER}/contacts/{CONTACT}/media",
            r.base
        ))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status().as_u16(), 400);
    let answer: Value = serde_json::from_str(&answer.text().await.unwrap()).unwrap();
    assert!(
        answer["message"]
            .as_str()
            .unwrap()
            .contains("multipart/form-data"),
        "{answer}"
    );
}

impl Runner {
    /// A console call with a JSON body as the admin: the status and the JSON answer.
    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut request = self
            .http
            .request(method.parse().unwrap(), format!("{}{path}", self.base))
            .bearer_auth(ADMIN);
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body.to_string());
        }
        let r = request.send().await.unwrap();
        let status = r.status().as_u16();
        (
            status,
            serde_json::from_str(&r.text().await.unwrap()).unwrap_or(Value::Null),
        )
    }

    /// PUTs `bytes` to an upload link with its headers (no bearer: the link is the grant).
    async fn put(&self, ticket: &Value, bytes: Vec<u8>) -> (u16, Value) {
        let url = ticket["url"].as_str().unwrap();
        let url = if url.starts_with('/') {
            format!("{}{url}", self.base)
        } else {
            url.to_owned()
        };
        let mut request = self.http.put(url);
        for (name, value) in ticket["headers"].as_object().unwrap() {
            if !name.eq_ignore_ascii_case("content-length") {
                request = request.header(name.as_str(), value.as_str().unwrap());
            }
        }
        // Streamed in 1 MB pieces, as a browser sends a file.
        let pieces: Vec<Result<Vec<u8>, std::io::Error>> =
            bytes.chunks(1024 * 1024).map(|c| Ok(c.to_vec())).collect();
        let r = request
            .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
                pieces,
            )))
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (
            status,
            serde_json::from_str(&r.text().await.unwrap()).unwrap_or(Value::Null),
        )
    }
}

const UPLOADS: &str = "/v1/numbers/106540352242922/contacts/16505550199/media/uploads";

/// MEDIA-3, two steps (the way past the 6 MB request limit of the console Lambda): a 20 MB
/// document is declared, put to the signed link, then sent; the fake Graph API receives the very
/// bytes and the send carries the returned id. A link cannot be replayed once sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn media_3_a_20_mb_document_goes_up_in_two_steps_and_reaches_meta_intact() {
    let r = runner("media-two-step").await;
    let hash = r
        .graph
        .serve_media("777101", "image/jpeg", testkit::noise(1_000, 1));
    r.customer_media(
        "wamid.HELLO2",
        "image",
        json!({ "id": "777101", "mime_type": "image/jpeg", "sha256": hash }),
    )
    .await;

    let pdf = testkit::noise(20 * 1024 * 1024, 7);
    let (status, ticket) = r
        .call(
            "POST",
            UPLOADS,
            Some(json!({
                "type": "application/pdf", "size": pdf.len(), "filename": "catalogue.pdf",
                "caption": "The full catalogue", "sha256": sha256_hex(&pdf),
            })),
        )
        .await;
    assert_eq!(status, 201, "{ticket}");
    assert_eq!(ticket["method"], "PUT");
    assert_eq!(ticket["headers"]["content-type"], "application/pdf");
    assert!(ticket["expires_at"].as_i64().unwrap() > r.now().await);
    let upload = ticket["upload"].as_str().unwrap().to_owned();
    let url = ticket["url"].as_str().unwrap();
    assert!(url.starts_with("/v1/media/uploads/"), "{url}");
    assert!(!url.contains(CONTACT), "no phone number in the link: {url}");

    // Sending before the bytes are there: 409.
    let send = format!("{UPLOADS}/{upload}/send");
    let (status, answer) = r.call("POST", &send, None).await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (409, Some("upload_pending")),
        "{answer}"
    );

    let (status, stored) = r.put(&ticket, pdf.clone()).await;
    assert_eq!(status, 200, "{stored}");
    assert_eq!(stored["sha256"], sha256_hex(&pdf).as_str());

    let (status, answer) = r.call("POST", &send, None).await;
    assert_eq!(status, 202, "{answer}");
    assert_eq!(answer["kind"], "document");
    assert_eq!(answer["size"], pdf.len());
    assert_eq!(answer["sha256"], sha256_hex(&pdf).as_str());
    let media_id = answer["media_id"].as_str().unwrap().to_owned();
    let uploads = r.graph.uploads();
    assert_eq!(uploads.len(), 1);
    assert_eq!(uploads[0].media_id, media_id);
    assert_eq!(uploads[0].mime_type, "application/pdf");
    assert_eq!(uploads[0].filename.as_deref(), Some("catalogue.pdf"));
    assert_eq!(sha256_hex(&uploads[0].bytes), sha256_hex(&pdf));

    r.clock(0).await;
    let sent = r.graph.sent();
    let document = sent
        .iter()
        .find(|s| s.body["type"] == "document")
        .unwrap_or_else(|| panic!("no document sent: {sent:?}"));
    assert_eq!(document.body["document"]["id"], media_id.as_str());
    assert_eq!(document.body["document"]["caption"], "The full catalogue");

    // Sent once: neither the send nor the link works again.
    let (status, answer) = r.call("POST", &send, None).await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (409, Some("upload_sent")),
        "{answer}"
    );
    let (status, _) = r.put(&ticket, b"again".to_vec()).await;
    assert_eq!(status, 409);
    let (status, _) = r
        .call("POST", &format!("{UPLOADS}/{}/send", "0".repeat(32)), None)
        .await;
    assert_eq!(status, 404);
}

/// MEDIA-3, two steps: a declaration outside Meta's limits is refused at once with the reason;
/// a PUT larger than declared is refused with nothing kept, a shorter one too, and such an upload
/// is never sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn media_3_two_step_uploads_are_held_to_the_limits_and_the_declared_size() {
    let r = runner("media-two-step-limits").await;
    let (status, answer) = r
        .call(
            "POST",
            UPLOADS,
            Some(json!({ "kind": "video", "type": "video/mp4", "size": 17 * 1024 * 1024 })),
        )
        .await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (400, Some("media_too_large")),
        "{answer}"
    );
    assert!(
        answer["message"].as_str().unwrap().contains("16777216"),
        "{answer}"
    );
    let (status, answer) = r
        .call(
            "POST",
            UPLOADS,
            Some(json!({ "type": "application/x-msdownload", "size": 10 })),
        )
        .await;
    assert_eq!(status, 400, "{answer}");
    assert!(
        answer["message"]
            .as_str()
            .unwrap()
            .contains("application/x-msdownload"),
        "{answer}"
    );
    let (status, answer) = r
        .call(
            "POST",
            UPLOADS,
            Some(json!({ "type": "application/pdf", "size": 0 })),
        )
        .await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (400, Some("media_empty")),
        "{answer}"
    );
    let (status, answer) = r
        .call("POST", UPLOADS, Some(json!({ "type": "application/pdf" })))
        .await;
    assert_eq!(status, 400, "{answer}");

    let declared = 2_000_000;
    let (status, ticket) = r
        .call(
            "POST",
            UPLOADS,
            Some(json!({ "type": "application/pdf", "size": declared })),
        )
        .await;
    assert_eq!(status, 201, "{ticket}");
    let upload = ticket["upload"].as_str().unwrap().to_owned();
    // Streamed without a length: cut off past the declared size, nothing kept.
    let (status, answer) = r.put(&ticket, testkit::noise(declared + 1, 3)).await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (413, Some("upload_too_large")),
        "{answer}"
    );
    let send = format!("{UPLOADS}/{upload}/send");
    let (status, answer) = r.call("POST", &send, None).await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (409, Some("upload_pending")),
        "{answer}"
    );
    // Shorter than declared: refused, and the send refuses it too.
    let (status, answer) = r.put(&ticket, testkit::noise(declared - 1, 3)).await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (400, Some("media_size_mismatch")),
        "{answer}"
    );
    let (status, answer) = r.call("POST", &send, None).await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (400, Some("media_size_mismatch")),
        "{answer}"
    );
    // A forged link is refused.
    let forged = json!({ "url": format!("{}x", ticket["url"].as_str().unwrap()), "headers": {} });
    assert_eq!(r.put(&forged, vec![1]).await.0, 403);
    assert!(r.graph.uploads().is_empty());
}

/// MEDIA-3: two sends of one upload at once (a double click, a retry racing the first) are one
/// message: without the client's Idempotency-Key the upload's id keys the send.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn media_3_two_sends_of_one_upload_at_once_are_one_message() {
    let r = runner("media-two-sends").await;
    let hash = r
        .graph
        .serve_media("777201", "image/jpeg", testkit::noise(1_000, 1));
    r.customer_media(
        "wamid.HELLO3",
        "image",
        json!({ "id": "777201", "mime_type": "image/jpeg", "sha256": hash }),
    )
    .await;
    let pdf = testkit::noise(300_000, 11);
    let (status, ticket) = r
        .call(
            "POST",
            UPLOADS,
            Some(json!({ "type": "application/pdf", "size": pdf.len() })),
        )
        .await;
    assert_eq!(status, 201, "{ticket}");
    assert_eq!(r.put(&ticket, pdf).await.0, 200);
    let send = format!("{UPLOADS}/{}/send", ticket["upload"].as_str().unwrap());
    let (a, b) = tokio::join!(r.call("POST", &send, None), r.call("POST", &send, None));
    assert!(
        [a.0, b.0].contains(&202) && [a.0, b.0].iter().all(|s| [202, 409].contains(s)),
        "{a:?} {b:?}"
    );
    r.clock(0).await;
    let documents = r
        .graph
        .sent()
        .into_iter()
        .filter(|s| s.body["type"] == "document")
        .count();
    assert_eq!(documents, 1);
}
