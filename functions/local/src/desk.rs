//! The agent workspace (DESK-1): the web app in `desk/` at the repository's root, compiled into the
//! binary and served at `/` (assets under `/desk/`), so `switchboard serve` needs no other
//! toolchain. Every answer carries a strict Content-Security-Policy: only this origin's scripts,
//! styles and API, no inline script, no framing.

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

/// The policy every page and asset is served with (DESK-6: nothing from another origin).
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
img-src 'self' data:; connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; \
form-action 'self'; frame-ancestors 'none'";

/// One embedded file: its path under `/desk/`, content type and bytes.
struct Asset {
    path: &'static str,
    content_type: &'static str,
    bytes: &'static [u8],
}

macro_rules! asset {
    ($path:literal, $type:expr) => {
        Asset {
            path: $path,
            content_type: $type,
            bytes: include_bytes!(concat!("../../../desk/", $path)),
        }
    };
}

const JS: &str = "text/javascript; charset=utf-8";

const INDEX: &[u8] = include_bytes!("../../../desk/index.html");

const ASSETS: &[Asset] = &[
    asset!("desk.css", "text/css; charset=utf-8"),
    asset!("js/app.js", JS),
    asset!("js/api.js", JS),
    asset!("js/live.js", JS),
    asset!("js/dom.js", JS),
    asset!("js/format.js", JS),
    asset!("js/inbox.js", JS),
    asset!("js/conversation.js", JS),
    asset!("js/composer.js", JS),
    asset!("js/admin.js", JS),
    asset!("js/auth.js", JS),
    // How people sign in here: the desk file's tokens (the SAM stack's copy says OIDC instead).
    asset!("config.json", "application/json"),
];

/// The routes: `/` (the page) and `/desk/{*path}` (its assets).
pub fn routes() -> Router {
    Router::new()
        .route(
            "/",
            get(|| async { serve("text/html; charset=utf-8", INDEX) }),
        )
        .route("/desk/{*path}", get(asset))
}

async fn asset(Path(path): Path<String>) -> Response {
    match ASSETS.iter().find(|a| a.path == path) {
        Some(a) => serve(a.content_type, a.bytes),
        None => {
            let mut r = (StatusCode::NOT_FOUND, "no such file in the desk").into_response();
            secure(&mut r);
            r
        }
    }
}

fn serve(content_type: &'static str, bytes: &'static [u8]) -> Response {
    let mut r = bytes.into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    // Built into the binary: a new binary is a new desk, so the browser asks again each load.
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    secure(&mut r);
    r
}

fn secure(r: &mut Response) {
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every module the page imports is embedded (a missing one would be a blank desk).
    #[test]
    fn desk_1_every_imported_module_is_served() {
        let mut sources: Vec<(&str, &[u8])> = vec![("index.html", INDEX)];
        sources.extend(ASSETS.iter().map(|a| (a.path, a.bytes)));
        for (path, bytes) in &sources {
            let text = std::str::from_utf8(bytes).unwrap();
            for part in text.split(['\'', '"']) {
                let target = if let Some(rest) = part.strip_prefix("/desk/") {
                    rest.to_owned()
                } else if let Some(rest) = part.strip_prefix("./") {
                    format!("js/{rest}")
                } else {
                    continue;
                };
                if target.ends_with(".js") || target.ends_with(".css") {
                    assert!(
                        ASSETS.iter().any(|a| a.path == target),
                        "{path} refers to {target}, which is not embedded"
                    );
                }
            }
        }
    }

    /// DESK-6: no inline script and nothing from another origin in the page.
    #[test]
    fn desk_6_the_page_loads_nothing_from_another_origin() {
        let page = std::str::from_utf8(INDEX).unwrap();
        assert!(!page.contains("http://") && !page.contains("https://"));
        for script in page.split("<script").skip(1) {
            let tag = &script[..script.find('>').unwrap()];
            assert!(
                tag.contains("src=\"/desk/"),
                "inline or foreign script: {tag}"
            );
            let body = &script[script.find('>').unwrap() + 1..];
            assert!(body.starts_with("</script>"), "inline script body");
        }
        assert!(!CONTENT_SECURITY_POLICY.contains("unsafe"));
    }
}
