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
