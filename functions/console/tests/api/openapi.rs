//! The OpenAPI document: served at /v1/openapi.json, version 3.1, and listing exactly the
//! operations the router serves; errors in the API's JSON shape.

use crate::*;
use std::collections::BTreeSet;

#[tokio::test]
async fn every_route_is_documented_and_every_documented_operation_is_routed() {
    let h = harness();
    let reply = h
        .request(Method::GET, "/v1/openapi.json", None, &[], None)
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    let doc = reply.body;
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1"),
        "{}",
        doc["openapi"]
    );
    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in ["get", "put", "post", "delete", "patch"] {
            if let Some(op) = item.get(method) {
                documented.insert((method.to_uppercase(), path.clone()));
                // Every operation documents its success and the shared error answers.
                let responses = op["responses"].as_object().unwrap();
                assert!(
                    responses.keys().any(|k| k.starts_with('2')),
                    "{method} {path}"
                );
                for code in ["400", "401", "403", "404"] {
                    assert!(responses.contains_key(code), "{method} {path} lacks {code}");
                }
                // Every `{parameter}` of the path is declared as a path parameter.
                let declared: BTreeSet<&str> = op["parameters"]
                    .as_array()
                    .map(|ps| {
                        ps.iter()
                            .filter(|p| p["in"] == "path")
                            .filter_map(|p| p["name"].as_str())
                            .collect()
                    })
                    .unwrap_or_default();
                let in_path: BTreeSet<&str> = path
                    .split('/')
                    .filter_map(|seg| seg.strip_prefix('{')?.strip_suffix('}'))
                    .collect();
                assert_eq!(declared, in_path, "{method} {path}");
            }
        }
    }
    let routes = console::api::routes::<
        console::Console<store::SqliteStore, Arc<MemoryQueue>, Arc<SubmitterTwin>>,
    >();
    let routed: BTreeSet<(String, String)> = routes
        .table()
        .iter()
        .map(|(m, p)| (m.as_str().to_owned(), (*p).to_owned()))
        .collect();
    // The media routes (a router of their own, merged beside these by the runner and the
    // console Lambda) are documented with them.
    let media: BTreeSet<(String, String)> = console::media::ROUTES
        .iter()
        .map(|(m, p)| ((*m).to_owned(), (*p).to_owned()))
        .collect();
    assert_eq!(
        routed.union(&media).cloned().collect::<BTreeSet<_>>(),
        documented
    );
    assert!(routed.len() >= 30, "{}", routed.len());
    // And each routed operation is really served (not the router's fallback).
    for (method, path) in &routed {
        let concrete = path
            .replace("{number}", NUMBER)
            .replace("{contact}", "4915100000001")
            .replace("{agent}", "ana")
            .replace("{name}", "t")
            .replace("{language}", "en")
            .replace("{campaign}", "k");
        let reply = h
            .request(
                Method::from_bytes(method.as_bytes()).unwrap(),
                &concrete,
                None,
                &[],
                None,
            )
            .await;
        // Without a token every operation answers 401 (so the route exists and is guarded).
        assert_eq!(
            reply.status,
            StatusCode::UNAUTHORIZED,
            "{method} {path}: {reply:?}"
        );
    }
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_json_errors() {
    let h = harness();
    let reply = h.get("/v1/nothing", ANA).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert_eq!(reply.error(), "not_found");
    let reply = h
        .request(Method::DELETE, "/v1/agents", Some(ANA), &[], None)
        .await;
    assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn identity_refusals_401_and_who_am_i() {
    let h = harness();
    let none = h.request(Method::GET, "/v1/me", None, &[], None).await;
    assert_eq!(none.status, StatusCode::UNAUTHORIZED);
    let unknown = h.get("/v1/me", "not-a-token-of-ours").await;
    assert_eq!(unknown.status, StatusCode::UNAUTHORIZED);
    assert_eq!(unknown.body["message"], "unknown token");
    let basic = h
        .request(
            Method::GET,
            "/v1/me",
            None,
            &[("authorization", "Basic YWJj")],
            None,
        )
        .await;
    assert_eq!(basic.status, StatusCode::UNAUTHORIZED);
    let me = h.get("/v1/me", BOSS).await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(
        me.body,
        serde_json::json!({"agent": "boss", "role": "admin", "numbers": []})
    );
}

#[tokio::test]
async fn malformed_bodies_answer_400_naming_the_problem() {
    let h = harness();
    let reply = h
        .request(
            Method::PUT,
            "/v1/agents/ana",
            Some(BOSS),
            &[],
            Some(("application/json", b"{\"capacity\": \"lots\"}".to_vec())),
        )
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert!(
        reply.body["message"].as_str().unwrap().contains("capacity"),
        "{reply:?}"
    );
    let reply = h
        .request(
            Method::PUT,
            "/v1/agents/ana",
            Some(BOSS),
            &[],
            Some(("text/plain", b"{}".to_vec())),
        )
        .await;
    assert_eq!(reply.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let reply = h
        .get(&format!("/v1/numbers/{NUMBER}/contacts?limit=0"), ANA)
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.body["fields"][0]["field"], "limit");
    let reply = h
        .get(&format!("/v1/numbers/{NUMBER}/contacts?status=lost"), ANA)
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
}
