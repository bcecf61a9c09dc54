//! The explorer page (`GET /`) and its assets (`GET /explorer/{file}`), embedded in the binary
//! so that a browser needs nothing but the node. Plain HTML, CSS and ES modules; the TypeScript
//! SDK's compiled modules and their npm dependencies are served from the same embedded set
//! (refreshed by `scripts/explorer-assets.sh`), resolved by the page's import map.

use axum::extract::Path;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use super::Problem;

include!("explorer_page/manifest.rs");

/// The media type of an asset, by its extension.
fn content_type(file: &str) -> &'static str {
    match file.rsplit('.').next() {
        Some("html") => "text/html; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("json") => "application/json",
        Some("svg") => "image/svg+xml",
        _ => "application/octet-stream",
    }
}

fn serve(file: &str, bytes: &'static [u8]) -> Response {
    let mut response = bytes.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type(file)));
    // The assets change only with the binary; a short cache keeps a reload cheap.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"));
    response
}

pub(super) async fn index() -> Response {
    serve("index.html", INDEX_HTML)
}

pub(super) async fn asset(Path(file): Path<String>) -> Result<Response, Problem> {
    ASSETS
        .iter()
        .find(|(name, _)| *name == file)
        .map(|(name, bytes)| serve(name, bytes))
        .ok_or_else(|| Problem::not_found(format!("no explorer asset `{file}`")))
}
