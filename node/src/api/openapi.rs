//! The OpenAPI 3.1 document of the HTTP API (`GET /v1/openapi.json`), kept by hand beside the
//! router: `node/tests/openapi.rs` checks that it names exactly the routes `api::router`
//! registers (no route missing, none stale) and that every operation documents its problem
//! answers.

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

/// The document's text.
pub const DOCUMENT: &str = include_str!("openapi.json");

pub(super) async fn document() -> Response {
    let mut response = DOCUMENT.into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}
