//! MEDIA-1, MEDIA-2: a customer's media, fetched off the routing path and kept with its type,
//! size and SHA-256; an agent gets a short-lived link to it; a file Meta never delivers ends as a
//! notice in the contact's log.

use super::*;

const CUSTOMER: &str = "4915100090001";

/// What an agent sees of a message's media (`GET …/media/{message}`).
async fn media_view<D: Deployment>(d: &D, message: &str) -> Value {
    ok(
        d,
        "GET",
        &contact_path(CUSTOMER, &format!("/media/{message}")),
        ANA,
        None,
    )
    .await
}

/// The customer sends a photo: it is stored with Meta's SHA-256 and an agent gets a link (on
/// AWS a presigned S3 URL, which downloads the very bytes); then a PDF whose download keeps
/// failing is retried with backoff and, given up, noted in the contact's log.
pub async fn media_1_a_customers_photo_is_kept_and_a_lost_file_is_noted<D: Deployment>(d: &D) {
    d.advance(0).await;
    let photo_bytes = testkit::noise(120_000, 42);
    let hash = d
        .graph()
        .serve_media("7770001", "image/jpeg", photo_bytes.clone());
    let photo = wamid();
    let at = d.now().await;
    post(
        d,
        &webhooks::media(
            CUSTOMER,
            &photo,
            at,
            "image",
            ("7770001", "image/jpeg", &hash),
        ),
    )
    .await;
    d.advance(0).await;

    let view = media_view(d, &photo).await;
    assert_eq!(view["status"], "stored", "{view}");
    assert_eq!(view["sha256"], hash.as_str(), "{view}");
    assert_eq!(view["size"], 120_000, "{view}");
    assert_eq!(view["kind"], "image", "{view}");
    let link = view["link"].as_str().expect("a link").to_owned();
    if link.starts_with("http") {
        // S3's presigned URL (moto on loopback): what the agent's browser downloads.
        let http = switchboard_local::demo::loopback_client().expect("an HTTP client");
        let answer = http
            .get(&link)
            .send()
            .await
            .expect("the presigned link answers");
        assert_eq!(answer.status().as_u16(), 200, "{link}");
        let bytes = answer.bytes().await.expect("the file");
        assert_eq!(::media::sha256_hex(&bytes), hash);
    }

    // A document whose download fails every time: retried (10 s, 30 s, 90 s, 4.5 min, 13.5 min),
    // then given up and noted, never silent.
    d.graph()
        .serve_media("7770002", "application/pdf", testkit::noise(5_000, 43));
    d.graph().fail_downloads(
        rules::media::FETCH_ATTEMPTS as usize,
        testkit::fake_graph::FakeFailure::Api {
            http_status: 404,
            code: 100,
            subcode: None,
            title: None,
            message: "URL signature expired".into(),
        },
    );
    let pdf = wamid();
    let at = d.now().await;
    post(
        d,
        &webhooks::media(
            CUSTOMER,
            &pdf,
            at,
            "document",
            ("7770002", "application/pdf", ""),
        ),
    )
    .await;
    d.advance(0).await;
    let pending = media_view(d, &pdf).await;
    assert_eq!(pending["status"], "failed", "{pending}");
    assert!(pending["next_at"].is_number(), "retried later: {pending}");
    d.advance(30 * 60).await;
    let items = log(d, CUSTOMER).await;
    let notice = items
        .iter()
        .find(|i| i["kind"] == "notice" && i["notice"]["notice"] == "media_not_fetched")
        .unwrap_or_else(|| panic!("MEDIA-1: the lost file is noted: {items:#?}"));
    assert_eq!(notice["notice"]["message"], pdf.as_str(), "{notice}");
    assert_eq!(notice["notice"]["kind"], "document", "{notice}");
    assert!(
        notice["notice"]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("expired")),
        "{notice}"
    );
    let given_up = media_view(d, &pdf).await;
    assert_eq!(
        given_up["attempts"],
        rules::media::FETCH_ATTEMPTS,
        "{given_up}"
    );
    assert!(given_up.get("next_at").is_none(), "{given_up}");
}

const UPLOADER: &str = "4915100090002";

/// MEDIA-3 past the console's request limit (6 MB on AWS, about 4.5 MB of file once API
/// Gateway has base64-encoded it): an agent declares a 20 MB document, puts its bytes to the
/// link the console hands out (S3's presigned `PUT` on AWS, the console's signed route locally)
/// and sends it; Meta receives the very bytes and the send carries the returned id. A
/// declaration over Meta's limit is refused with the reason; a `PUT` larger than declared is
/// refused (by the console's route locally; S3 refuses a body whose length is not the signed
/// `Content-Length`, and the send refuses whatever size arrived that is not the declared one).
pub async fn media_3_a_large_document_goes_up_in_two_steps<D: Deployment>(d: &D) {
    d.advance(0).await;
    says(d, UPLOADER, "Could you send me the catalogue?", None).await;
    d.advance(0).await;
    let uploads = contact_path(UPLOADER, "/media/uploads");

    let over = d
        .console(
            "POST",
            &uploads,
            ADMIN,
            Some(json!({ "kind": "video", "type": "video/mp4", "size": 17 * 1024 * 1024 })),
        )
        .await;
    assert_eq!(refused(&over, 400), "media_too_large");
    assert!(
        over.body["message"]
            .as_str()
            .is_some_and(|m| m.contains("16777216")),
        "{}",
        over.body
    );

    let pdf = testkit::noise(20 * 1024 * 1024, 77);
    let hash = ::media::sha256_hex(&pdf);
    let ticket = ok(
        d,
        "POST",
        &uploads,
        ADMIN,
        Some(json!({
            "type": "application/pdf", "size": pdf.len(), "filename": "catalogue.pdf",
            "caption": "Our catalogue",
        })),
    )
    .await;
    let (url, headers) = link(&ticket);
    if url.starts_with("http") {
        // S3's presigned PUT: the size and the type are signed, so S3 takes no other body.
        let signed = url
            .split(['?', '&'])
            .find_map(|p| p.strip_prefix("X-Amz-SignedHeaders="))
            .unwrap_or_else(|| panic!("a presigned URL: {url}"))
            .to_ascii_lowercase();
        assert!(
            signed.contains("content-length") && signed.contains("content-type"),
            "{signed}"
        );
    }
    let put = d.put_upload(&url, &headers, pdf).await;
    assert!((200..300).contains(&put.status), "{put:?}");
    let send = format!("{uploads}/{}/send", ticket["upload"].as_str().unwrap());
    let sent = ok(d, "POST", &send, ADMIN, None).await;
    assert_eq!(sent["sha256"], hash.as_str(), "{sent}");
    let media_id = sent["media_id"].as_str().unwrap().to_owned();
    let uploaded = d.graph().uploads();
    let at_meta = uploaded
        .iter()
        .find(|u| u.media_id == media_id)
        .unwrap_or_else(|| panic!("Meta received the upload: {} uploads", uploaded.len()));
    assert_eq!(::media::sha256_hex(&at_meta.bytes), hash);
    assert_eq!(at_meta.filename.as_deref(), Some("catalogue.pdf"));
    d.advance(0).await;
    let document = sent_to(d, UPLOADER)
        .into_iter()
        .find(|r| r.body["type"] == "document")
        .expect("the document went out");
    assert_eq!(document.body["document"]["id"], media_id.as_str());
    assert_eq!(document.body["document"]["caption"], "Our catalogue");

    // More bytes than declared.
    let ticket = ok(
        d,
        "POST",
        &uploads,
        ADMIN,
        Some(json!({ "type": "application/pdf", "size": 1_000 })),
    )
    .await;
    let (url, headers) = link(&ticket);
    let put = d
        .put_upload(&url, &headers, testkit::noise(1_001, 78))
        .await;
    let send = format!("{uploads}/{}/send", ticket["upload"].as_str().unwrap());
    let answer = d.console("POST", &send, ADMIN, None).await;
    if url.starts_with('/') {
        assert_eq!(refused(&put, 413), "upload_too_large");
        assert_eq!(refused(&answer, 409), "upload_pending");
    } else {
        // moto does not check signatures (S3 answers 403 here); what arrived is not sent.
        assert_eq!(refused(&answer, 400), "media_size_mismatch");
    }
    assert_eq!(d.graph().uploads().len(), uploaded.len());
}

/// An upload ticket's link and headers.
fn link(ticket: &Value) -> (String, Vec<(String, String)>) {
    let url = ticket["url"].as_str().expect("a link").to_owned();
    let headers = ticket["headers"]
        .as_object()
        .expect("headers")
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
        .collect();
    (url, headers)
}
