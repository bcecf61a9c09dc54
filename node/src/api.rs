//! The node's HTTP API (docs/ARCHITECTURE.md "HTTP API"): JSON reads of committed state with proofs, transaction
//! submission into the engine's mempool, status, readiness and Prometheus metrics.
//!
//! - The API never writes state. Reads go to the store (each handler reads one consistent
//!   redb snapshot, on a blocking thread); a submission is handed to the engine over a bounded
//!   channel and the engine's mempool decides (a full channel is refused at once, never queued).
//! - `POST /v1/txs` takes one transaction (a JSON object) or a batch of up to
//!   [`limits::TX_SUBMIT_BATCH_MAX`] (a JSON array of those objects, or a borsh
//!   `Vec<SignedTransaction>` sent as `application/octet-stream`); a batch is one
//!   [`Submission`] and is answered with one result per transaction, in order.
//! - Every error is an RFC 9457 `application/problem+json` document whose `detail` names the
//!   exact problem; unknown routes (404) and wrong methods (405) answer the same way.
//! - Everything a client controls is bounded: the body size (`ApiLimits::body_bytes_max`, 413
//!   beyond it), the wait for a commit (`ApiLimits::wait_timeout_ms`, 504 beyond it), the page
//!   size of `/v1/assets`, the length of path and query values (they are parsed into fixed-size
//!   types before any lookup).

use std::collections::BTreeSet;
use std::str::FromStr;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use prometheus_client::encoding::text::encode as encode_metrics;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tally_ledger::{AssetState, BalanceState, StateKey, StateValue, prove_entry};
use tally_store::{Store, StoreError, TxLocation};
use tally_types::hash::merkle_leaf;
use tally_types::limits::{self, TX_SUBMIT_BATCH_MAX};
use tally_types::merkle::MerkleProof;
use tally_types::{
    AssetId, Block, ChainId, Hash, Height, PublicKey, SignedTransaction, TxId, ValidatorSet, View, decode,
    encode,
};
use tokio::sync::{mpsc, oneshot, watch};

use crate::mempool::AdmitError;

/// Badge anchors and revocations with proofs; receipt proofs.
mod badges;
/// History, recent blocks, search, trades, provider figures, the event stream.
pub mod explorer;
/// The explorer page and its assets, served from the binary.
mod explorer_page;
/// Consortium settings, members, validators, epochs and proposals with proofs.
mod governance;
/// Order-book and metered-usage reads.
mod markets;
/// The OpenAPI document of these routes.
pub mod openapi;
/// Price plans with proofs, and a holder's usage under one (its tier position).
mod plans;
/// An account's open holds; a provider's rewards by reason over time.
mod series;

/// The largest page `GET /v1/assets` returns.
pub const ASSETS_PAGE_MAX: usize = 1_000;
/// The page size of `GET /v1/assets` when the client names none.
pub const ASSETS_PAGE_DEFAULT: usize = 100;
/// The media type of every error body (RFC 9457 §3).
pub const PROBLEM_JSON: &str = "application/problem+json";
/// The media type of `GET /metrics` (OpenMetrics text, which Prometheus reads).
pub const METRICS_CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The transactions of one `POST /v1/txs` request (one, or a batch of at most
/// [`TX_SUBMIT_BATCH_MAX`]), handed to the engine, which owns the mempool. The engine answers
/// on `reply` with exactly one result per transaction, in the order of `txs`.
#[derive(Debug)]
pub struct Submission {
    pub txs: Vec<SignedTransaction>,
    pub reply: oneshot::Sender<Vec<Result<TxId, AdmitError>>>,
}

/// What the engine reports about the node, published through a `watch` channel.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct NodeStatus {
    /// The last committed height.
    pub height: Height,
    /// The consensus view the node is in.
    pub view: View,
    /// Connected validator peers (not counting this node).
    pub peers: usize,
    /// Transactions waiting in the mempool.
    pub mempool_txs: usize,
    /// True while the node is catching up with the network.
    pub syncing: bool,
}

/// Limits on what clients may make the API do.
#[derive(Clone, Copy, Debug)]
pub struct ApiLimits {
    /// The largest request body accepted (`http.body_bytes_max`, 1 MiB by default). A batch of
    /// [`TX_SUBMIT_BATCH_MAX`] one-op transfers or grants (about 200 bytes each; a grant with
    /// the longest reference, reason, asset id and chain id 509) fits the default both as borsh
    /// (≤ 510 KB) and as JSON hex (≤ 1,026 KB); a batch of larger transactions needs a larger
    /// limit or fewer transactions per request.
    pub body_bytes_max: usize,
    /// The longest `?wait=commit` waits (`http.wait_timeout_ms`); also bounds the wait for the
    /// engine's answer to a submission.
    pub wait_timeout_ms: u64,
}

/// The assets the API lists and reports balances in.
///
/// The store has no range scan over ledger entries, so the set of asset ids comes from here:
/// seeded with the genesis assets, and the engine adds each asset a committed `IssueAsset`
/// creates ([`AssetCatalog::insert`]). Everything else about an asset (scale, supply) is read
/// from the committed state, so a stale catalog can hide an asset but never misreport one.
/// Bounded by the ledger itself: assets are created only by committed transactions of members.
#[derive(Clone, Debug, Default)]
pub struct AssetCatalog(Arc<RwLock<BTreeSet<AssetId>>>);

impl AssetCatalog {
    /// A catalog holding `assets`.
    pub fn new(assets: impl IntoIterator<Item = AssetId>) -> Self {
        AssetCatalog(Arc::new(RwLock::new(assets.into_iter().collect())))
    }

    /// Adds an asset created by a committed block.
    pub fn insert(&self, asset: AssetId) {
        // A poisoned lock only means a reader panicked; the set itself is always consistent.
        self.0.write().unwrap_or_else(|poisoned| poisoned.into_inner()).insert(asset);
    }

    /// Up to `limit` assets after `after` (exclusive), in id order.
    pub fn page(&self, after: Option<&AssetId>, limit: usize) -> Vec<AssetId> {
        let set = self.0.read().unwrap_or_else(|poisoned| poisoned.into_inner());
        match after {
            Some(after) => set
                .range::<AssetId, _>((std::ops::Bound::Excluded(after), std::ops::Bound::Unbounded))
                .take(limit)
                .cloned()
                .collect(),
            None => set.iter().take(limit).cloned().collect(),
        }
    }

    /// Every asset, in id order.
    pub fn all(&self) -> Vec<AssetId> {
        self.0.read().unwrap_or_else(|poisoned| poisoned.into_inner()).iter().cloned().collect()
    }
}

/// The node's Prometheus metrics. Registered here; the engine updates them through the public
/// handles (each is a cheap, cloneable, thread-safe atomic).
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    /// The last committed height.
    pub height: Gauge,
    /// The current consensus view.
    pub view: Gauge,
    /// Views that ended in a nullification instead of a block.
    pub nullified_views: Counter,
    /// 1 while the key's sign state is ahead of the data directory and the node follows
    /// without signing (see `Core::following_until`), else 0.
    pub sign_state_following: Gauge,
    /// Equivocation evidence records this node stored (new ones only).
    pub evidence_stored: Counter,
    /// Transactions waiting in the mempool.
    pub mempool_txs: Gauge,
    /// Connected validator peers.
    pub peers: Gauge,
    /// Seconds from a block's proposal to its commit on this node.
    pub commit_latency_seconds: Histogram,
    /// Seconds the store's durable commit (with its fsync) took per block.
    pub block_fsync_seconds: Histogram,
    /// Transactions submitted over HTTP that the mempool admitted. Counted by the engine, once
    /// per transaction, when it answers a [`Submission`]; the API does not count.
    pub submitted_txs: Counter,
    /// Transactions submitted over HTTP that the mempool refused (any reason). Counted by the
    /// engine like `submitted_txs`; a request refused before it reaches the engine (bad body,
    /// busy queue) counts in neither.
    pub refused_txs: Counter,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// All metrics, registered under the `tally` prefix.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("tally");
        let height = Gauge::default();
        let view = Gauge::default();
        let nullified_views = Counter::default();
        let mempool_txs = Gauge::default();
        let sign_state_following = Gauge::default();
        let evidence_stored = Counter::default();
        let peers = Gauge::default();
        // 1 ms .. ~32 s: commits take a few hundred milliseconds when healthy.
        let commit_latency_seconds = Histogram::new(exponential_buckets(0.001, 2.0, 16));
        // 0.1 ms .. ~3 s: an fsync on a healthy disk is well under 10 ms.
        let block_fsync_seconds = Histogram::new(exponential_buckets(0.0001, 2.0, 16));
        let submitted_txs = Counter::default();
        let refused_txs = Counter::default();
        registry.register("height", "The last committed block height", height.clone());
        registry.register("view", "The current consensus view", view.clone());
        registry.register("nullified_views", "Views that ended in a nullification", nullified_views.clone());
        registry.register(
            "sign_state_following",
            "1 while the key's sign state is ahead of the data and the node signs nothing",
            sign_state_following.clone(),
        );
        registry.register("evidence_stored", "Equivocation evidence records stored", evidence_stored.clone());
        registry.register("mempool_txs", "Transactions waiting in the mempool", mempool_txs.clone());
        registry.register("peers", "Connected validator peers", peers.clone());
        registry.register(
            "commit_latency_seconds",
            "Seconds from a block's proposal to its commit",
            commit_latency_seconds.clone(),
        );
        registry.register(
            "block_fsync_seconds",
            "Seconds the durable block commit took",
            block_fsync_seconds.clone(),
        );
        registry.register("http_submitted_txs", "Transactions admitted over HTTP", submitted_txs.clone());
        registry.register("http_refused_txs", "Transactions refused over HTTP", refused_txs.clone());
        Metrics {
            registry,
            height,
            view,
            nullified_views,
            sign_state_following,
            evidence_stored,
            mempool_txs,
            peers,
            commit_latency_seconds,
            block_fsync_seconds,
            submitted_txs,
            refused_txs,
        }
    }

    /// The metrics in the OpenMetrics text format.
    pub fn render(&self) -> Result<String, std::fmt::Error> {
        let mut text = String::new();
        encode_metrics(&mut text, &self.registry)?;
        Ok(text)
    }
}

/// Everything the handlers need. Cheap to clone (shared handles and channel ends).
#[derive(Clone)]
pub struct ApiState {
    pub store: Arc<Store>,
    pub chain_id: ChainId,
    pub validators: Arc<ValidatorSet>,
    /// Bounded: when full, submissions are refused with 503 rather than queued.
    pub submissions: mpsc::Sender<Submission>,
    pub status: watch::Receiver<NodeStatus>,
    /// The committed height, bumped by the engine after each durable commit; `?wait=commit`
    /// wakes on it and then looks the transaction up in the store's tx index.
    pub committed: watch::Receiver<Height>,
    pub metrics: Arc<Metrics>,
    pub assets: AssetCatalog,
    pub limits: ApiLimits,
}

/// An RFC 9457 problem: the error body of every endpoint.
#[derive(Debug)]
pub struct Problem {
    status: StatusCode,
    /// A short slug, made into the `type` URI.
    kind: &'static str,
    title: &'static str,
    detail: String,
    /// Extra members (e.g. the tx id of a timed-out wait).
    extra: Option<(&'static str, serde_json::Value)>,
}

impl Problem {
    pub(crate) fn new(
        status: StatusCode,
        kind: &'static str,
        title: &'static str,
        detail: impl Into<String>,
    ) -> Self {
        Problem { status, kind, title, detail: detail.into(), extra: None }
    }

    pub(crate) fn status(&self) -> StatusCode {
        self.status
    }

    fn bad_request(kind: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, kind, "Bad request", detail)
    }

    fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not-found", "Not found", detail)
    }

    fn with(mut self, name: &'static str, value: serde_json::Value) -> Self {
        self.extra = Some((name, value));
        self
    }
}

impl From<StoreError> for Problem {
    fn from(error: StoreError) -> Self {
        Problem::new(StatusCode::INTERNAL_SERVER_ERROR, "storage", "Storage error", error.to_string())
    }
}

impl Problem {
    /// The problem document: `type`, `title`, `status`, `detail` and the extra member.
    pub(crate) fn document(&self) -> serde_json::Value {
        let mut body = json!({
            "type": format!("urn:tally:problem:{}", self.kind),
            "title": self.title,
            "status": self.status.as_u16(),
            "detail": self.detail,
        });
        if let (Some((name, value)), Some(object)) = (&self.extra, body.as_object_mut()) {
            object.insert((*name).to_owned(), value.clone());
        }
        body
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let body = self.document();
        let mut response = (self.status, body.to_string()).into_response();
        response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response
    }
}

type ApiResult = Result<Response, Problem>;

fn ok_json(value: serde_json::Value) -> ApiResult {
    Ok(axum::Json(value).into_response())
}

/// Runs a store read on the blocking pool: redb reads touch the disk.
async fn read_store<T, F>(state: &ApiState, read: F) -> Result<T, Problem>
where
    T: Send + 'static,
    F: FnOnce(&Store) -> Result<T, Problem> + Send + 'static,
{
    let store = Arc::clone(&state.store);
    tokio::task::spawn_blocking(move || read(&store)).await.map_err(|error| {
        Problem::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "Internal error", error.to_string())
    })?
}

/// The API's routes. Served by [`crate::http_server::serve`]; bodies above `limits.body_bytes_max` get 413.
pub fn router(state: ApiState) -> Router {
    let body_limit = state.limits.body_bytes_max;
    Router::new()
        .route("/v1/txs", post(submit_tx))
        .route("/v1/txs/{id}", get(get_tx))
        .route("/v1/accounts/{address}", get(get_account))
        .route("/v1/assets", get(list_assets))
        .route("/v1/assets/{asset}", get(get_asset))
        .route("/v1/blocks/{height}", get(get_block))
        .route("/v1/blocks/{height}/certificate", get(get_certificate))
        .route("/v1/state/proof", get(get_state_proof))
        .route("/v1/status", get(get_status))
        .route("/v1/validators", get(get_validators))
        .route("/v1/markets/{base}/{quote}", get(markets::get_book))
        .route("/v1/accounts/{address}/offers", get(markets::get_offers_of))
        .route("/v1/offers/{owner}/{offer_id}", get(markets::get_offer))
        .route("/v1/holds/{hold_id}", get(markets::get_hold))
        .route("/v1/batches/{member}/{batch_id}", get(markets::get_batch))
        .route("/v1/authorizations/{holder}/{provider}/{asset}", get(markets::get_authorization))
        .route("/v1/badges/figures", get(badges::get_figures))
        .route("/v1/badges/{hash}", get(badges::get_badge))
        .route("/v1/governance", get(governance::get_governance))
        .route("/v1/governance/proposals", get(governance::list_proposals))
        .route("/v1/governance/proposals/{id}", get(governance::get_proposal))
        .route("/v1/epochs", get(governance::get_epochs))
        .route("/v1/plans", get(plans::list_plans))
        .route("/v1/plans/{member}/{plan_id}", get(plans::get_plan))
        .route("/v1/plans/{member}/{plan_id}/{version}/usage/{holder}", get(plans::get_plan_usage))
        .route("/v1/txs/{id}/receipt", get(badges::get_tx_receipt))
        .route("/v1/accounts/{address}/history", get(explorer::get_history))
        .route("/v1/blocks", get(explorer::list_blocks))
        .route("/v1/search", get(explorer::search))
        .route("/v1/markets/{base}/{quote}/trades", get(explorer::get_trades))
        .route("/v1/markets/{base}/{quote}/summary", get(explorer::get_market_summary))
        .route("/v1/providers/{member}", get(explorer::get_provider))
        .route("/v1/providers/{member}/rewards", get(series::get_rewards))
        .route("/v1/accounts/{address}/holds", get(series::get_holds))
        .route("/v1/events", get(explorer::events))
        .route("/v1/evidence", get(explorer::list_evidence))
        .route("/v1/openapi.json", get(openapi::document))
        .route("/", get(explorer_page::index))
        .route("/explorer/{*file}", get(explorer_page::asset))
        .route("/health", get(health))
        .route("/ready", get(ready))
        .route("/metrics", get(metrics))
        .fallback(unknown_route)
        .method_not_allowed_fallback(wrong_method)
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(axum::middleware::map_response(problems_only))
        .with_state(state)
}

/// Every error answer is problem+json, also those no handler wrote: an extractor's rejection
/// (a path segment whose percent-encoding is not UTF-8, found by the `http` fuzz target) comes
/// from axum as plain text, and is rewritten here as a problem whose detail is that text.
async fn problems_only(response: Response) -> Response {
    let status = response.status();
    let is_problem = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|value| value.as_bytes().starts_with(PROBLEM_JSON.as_bytes()));
    if !(status.is_client_error() || status.is_server_error()) || is_problem {
        return response;
    }
    // axum's rejection texts are one short line; anything longer is cut.
    let body = axum::body::to_bytes(response.into_body(), 4096).await.unwrap_or_default();
    let detail = String::from_utf8_lossy(&body).trim().to_owned();
    let title = status.canonical_reason().unwrap_or("Error");
    Problem::new(status, "request", title, detail).into_response()
}

/// `router` with CORS for `origins` (`http.cors_origins`): none (no CORS headers, so browsers
/// allow only the node's own pages), `*` (any origin), or a list of exact origins. Reads only:
/// GET and POST with a JSON or octet-stream body; no credentials are ever allowed.
pub fn with_cors(router: Router, origins: &[String]) -> Router {
    use tower_http::cors::{AllowOrigin, CorsLayer};
    if origins.is_empty() {
        return router;
    }
    let allow = if origins.iter().any(|origin| origin == "*") {
        AllowOrigin::any()
    } else {
        // The configuration checked each origin at start (`NodeConfig::load`).
        AllowOrigin::list(origins.iter().filter_map(|origin| HeaderValue::from_str(origin).ok()))
    };
    router.layer(
        CorsLayer::new()
            .allow_origin(allow)
            .allow_methods([axum::http::Method::GET, axum::http::Method::POST])
            .allow_headers([header::CONTENT_TYPE, header::HeaderName::from_static("last-event-id")]),
    )
}

async fn unknown_route(uri: axum::http::Uri) -> Problem {
    Problem::not_found(format!("no route `{}`", uri.path()))
}

async fn wrong_method(method: axum::http::Method, uri: axum::http::Uri) -> Problem {
    Problem::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method-not-allowed",
        "Method not allowed",
        format!("`{method}` is not allowed on `{}`", uri.path()),
    )
}

/// One transaction in the JSON form of `POST /v1/txs`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SubmitTx {
    /// Hex of the canonical borsh encoding of a `SignedTransaction`.
    tx: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SubmitQuery {
    wait: Option<String>,
}

fn admit_problem(error: AdmitError) -> Problem {
    let detail = error.to_string();
    match error {
        AdmitError::WrongChain { .. } => Problem::bad_request("wrong-chain", detail),
        AdmitError::Malformed(_) => Problem::bad_request("invalid-transaction", detail),
        AdmitError::Expired { .. } => Problem::bad_request("expired", detail),
        AdmitError::TooLarge { .. } => {
            Problem::new(StatusCode::PAYLOAD_TOO_LARGE, "too-large", "Transaction too large", detail)
        }
        AdmitError::Duplicate(id) => {
            Problem::new(StatusCode::CONFLICT, "duplicate", "Already submitted", detail)
                .with("tx_id", json!(id))
        }
        AdmitError::StaleSeq { .. } | AdmitError::SeqTaken { .. } | AdmitError::SeqTooFarAhead { .. } => {
            Problem::new(StatusCode::CONFLICT, "seq", "Sequence conflict", detail)
        }
        AdmitError::AccountFull { .. } | AdmitError::Full { .. } | AdmitError::Unavailable => {
            Problem::new(StatusCode::SERVICE_UNAVAILABLE, "mempool-full", "Mempool full", detail)
        }
    }
}

/// What a `POST /v1/txs` body carried.
enum SubmitBody {
    /// One JSON object `{"tx": HEX}`: answered 202 (or with the receipt on `?wait=commit`),
    /// a refusal as a problem document.
    One(SignedTransaction),
    /// A JSON array of such objects, or a borsh `Vec<SignedTransaction>`: answered 200 with one
    /// result per transaction.
    Batch(Vec<SignedTransaction>),
}

/// `application/octet-stream` (parameters and case aside) selects the borsh batch form; any
/// other or no content type is read as JSON, as it always was.
fn is_octet_stream(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|media| media.trim().eq_ignore_ascii_case("application/octet-stream"))
}

/// Refuses a batch of `count` transactions outside 1..=[`TX_SUBMIT_BATCH_MAX`].
fn check_batch_count(count: usize) -> Result<(), Problem> {
    if count == 0 {
        return Err(Problem::bad_request(
            "batch-empty",
            format!("the batch is empty; send 1 to {TX_SUBMIT_BATCH_MAX} transactions"),
        ));
    }
    if count > TX_SUBMIT_BATCH_MAX {
        return Err(Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "batch-too-large",
            "Batch too large",
            format!("the batch holds {count} transactions; the limit is {TX_SUBMIT_BATCH_MAX} per request"),
        ));
    }
    Ok(())
}

/// One transaction of the JSON form: `{"tx": HEX}`; `at` names it in errors (`body`, `body[3]`).
fn decode_json_tx(body: SubmitTx, at: &str) -> Result<SignedTransaction, Problem> {
    let bytes = hex::decode(&body.tx)
        .map_err(|error| Problem::bad_request("not-hex", format!("{at}field `tx`: not hex: {error}")))?;
    decode(&bytes).map_err(|error| Problem::bad_request("decode", format!("{at}field `tx`: {error}")))
}

/// A JSON body: an object is one transaction, an array a batch.
fn parse_json_body(body: &[u8]) -> Result<SubmitBody, Problem> {
    let is_array = body.iter().find(|byte| !byte.is_ascii_whitespace()) == Some(&b'[');
    if !is_array {
        let one: SubmitTx = serde_json::from_slice(body)
            .map_err(|error| Problem::bad_request("malformed-json", format!("body: {error}")))?;
        return decode_json_tx(one, "").map(SubmitBody::One);
    }
    // The body is bounded by `body_bytes_max`, so reading it as values first is bounded too;
    // it lets every error name the element at fault.
    let values: Vec<serde_json::Value> = serde_json::from_slice(body)
        .map_err(|error| Problem::bad_request("malformed-json", format!("body: {error}")))?;
    check_batch_count(values.len())?;
    let mut txs = Vec::with_capacity(values.len());
    for (index, value) in values.into_iter().enumerate() {
        let kind = match &value {
            serde_json::Value::Object(_) => None,
            serde_json::Value::Null => Some("null"),
            serde_json::Value::Bool(_) => Some("a boolean"),
            serde_json::Value::Number(_) => Some("a number"),
            serde_json::Value::String(_) => Some("a string"),
            serde_json::Value::Array(_) => Some("an array"),
        };
        if let Some(kind) = kind {
            return Err(Problem::bad_request(
                "malformed-json",
                format!("body[{index}] is {kind}; each element is an object {{\"tx\": \"<hex>\"}}"),
            ));
        }
        let one: SubmitTx = serde_json::from_value(value)
            .map_err(|error| Problem::bad_request("malformed-json", format!("body[{index}]: {error}")))?;
        txs.push(decode_json_tx(one, &format!("body[{index}]: "))?);
    }
    Ok(SubmitBody::Batch(txs))
}

/// A borsh `Vec<SignedTransaction>`: a little-endian u32 count, then the transactions.
///
/// Each transaction is decoded with the strict, bounded [`decode`] (at most
/// [`limits::TX_BYTES_MAX`] bytes, canonical); to find where one ends, it is first read from
/// a window of at most that many bytes, so nothing reads further than one transaction's limit.
fn parse_borsh_body(body: &[u8]) -> Result<SubmitBody, Problem> {
    let undecodable = |detail: String| Problem::bad_request("decode", detail);
    let Some((prefix, mut rest)) = body.split_first_chunk::<4>() else {
        return Err(undecodable(format!(
            "borsh body: {} bytes, too short for the 4-byte count of a Vec<SignedTransaction>",
            body.len()
        )));
    };
    let count = u32::from_le_bytes(*prefix) as usize;
    check_batch_count(count).map_err(|mut problem| {
        // A JSON body sent as octet-stream reads as an absurd count: say what probably happened.
        if matches!(body.first(), Some(b'[' | b'{')) {
            problem.detail.push_str(
                " (read as a borsh count; the body looks like JSON, which is sent as application/json)",
            );
        }
        problem
    })?;
    let mut txs = Vec::with_capacity(count);
    for index in 0..count {
        let window = &rest[..rest.len().min(limits::TX_BYTES_MAX)];
        let mut reader = window;
        if let Err(error) = <SignedTransaction as borsh::BorshDeserialize>::deserialize_reader(&mut reader) {
            let beyond = if rest.len() > window.len() {
                format!(" within the limit of {} bytes", limits::TX_BYTES_MAX)
            } else {
                String::new()
            };
            return Err(undecodable(format!(
                "borsh body[{index}]: SignedTransaction does not decode{beyond}: {error} \
                 ({count} announced, {} bytes left)",
                rest.len()
            )));
        }
        let used = window.len() - reader.len();
        let tx =
            decode(&rest[..used]).map_err(|error| undecodable(format!("borsh body[{index}]: {error}")))?;
        txs.push(tx);
        rest = &rest[used..];
    }
    if !rest.is_empty() {
        return Err(undecodable(format!(
            "borsh body: {} trailing bytes after the {count} transactions",
            rest.len()
        )));
    }
    Ok(SubmitBody::Batch(txs))
}

/// Hands `txs` to the engine as one [`Submission`] and waits (bounded) for its answer: one
/// result per transaction, in order.
async fn hand_to_engine(
    state: &ApiState,
    txs: Vec<SignedTransaction>,
) -> Result<Vec<Result<TxId, AdmitError>>, Problem> {
    let count = txs.len();
    let (reply, answer) = oneshot::channel();
    state.submissions.try_send(Submission { txs, reply }).map_err(|error| {
        let detail = match error {
            mpsc::error::TrySendError::Full(_) => "the node's submission queue is full; try again later",
            mpsc::error::TrySendError::Closed(_) => "the node is shutting down",
        };
        Problem::new(StatusCode::SERVICE_UNAVAILABLE, "busy", "Node busy", detail)
    })?;
    let timeout = Duration::from_millis(state.limits.wait_timeout_ms);
    let results = match tokio::time::timeout(timeout, answer).await {
        Ok(Ok(results)) => results,
        Ok(Err(_)) => {
            return Err(Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "busy",
                "Node busy",
                "the node dropped the submission (shutting down?)",
            ));
        }
        Err(_) => {
            return Err(Problem::new(
                StatusCode::GATEWAY_TIMEOUT,
                "timeout",
                "Timed out",
                format!("the mempool did not answer within {} ms", state.limits.wait_timeout_ms),
            ));
        }
    };
    // The engine's contract; checked because a short answer would misattribute results.
    if results.len() != count {
        return Err(Problem::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Internal error",
            format!("the engine answered {} results for {count} transactions", results.len()),
        ));
    }
    Ok(results)
}

async fn submit_tx(
    State(state): State<ApiState>,
    query: Result<Query<SubmitQuery>, QueryRejection>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult {
    let Query(query) = query.map_err(|rejection| Problem::bad_request("query", rejection.body_text()))?;
    let wait_for_commit = wait_for_commit_asked(&query)?;
    let body = body.map_err(|rejection| body_problem(&rejection, state.limits.body_bytes_max))?;
    let parsed = if is_octet_stream(&headers) { parse_borsh_body(&body)? } else { parse_json_body(&body)? };
    let tx = match parsed {
        SubmitBody::One(tx) => tx,
        SubmitBody::Batch(txs) => {
            if wait_for_commit {
                return Err(Problem::bad_request(
                    "query",
                    "query `wait=commit` takes one transaction (a JSON object); a batch is answered on admission",
                ));
            }
            return submit_batch(&state, txs).await;
        }
    };

    // Subscribe before handing the transaction over, so a commit that lands before we start
    // waiting still wakes the wait below.
    let committed = state.committed.clone();
    let admitted = hand_to_engine(&state, vec![tx]).await?.pop().expect("one result per transaction");
    let id = admitted.map_err(admit_problem)?;
    if !wait_for_commit {
        return Ok((StatusCode::ACCEPTED, axum::Json(json!({ "tx_id": id })).into_response()).into_response());
    }
    await_commit(&state, committed, id).await
}

/// `?wait=commit` (true), or no `wait` (false); any other value is refused.
fn wait_for_commit_asked(query: &SubmitQuery) -> Result<bool, Problem> {
    match query.wait.as_deref() {
        None => Ok(false),
        Some("commit") => Ok(true),
        Some(other) => Err(Problem::bad_request(
            "query",
            format!("query `wait`: `{other}` is not supported; the only value is `commit`"),
        )),
    }
}

/// The problem for a body that could not be read: too large (413), or otherwise bad.
fn body_problem(rejection: &BytesRejection, body_bytes_max: usize) -> Problem {
    if body_timed_out(rejection) {
        Problem::new(
            StatusCode::REQUEST_TIMEOUT,
            "body-timeout",
            "Body not received in time",
            "the request body did not arrive within the server's body read timeout (http.body_read_timeout_ms)",
        )
    } else if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body-too-large",
            "Body too large",
            format!("the body is larger than the limit of {body_bytes_max} bytes"),
        )
    } else {
        Problem::bad_request("body", rejection.body_text())
    }
}

/// The body's read was cut off by the server's body timeout (see [`crate::http_server`]).
fn body_timed_out(rejection: &BytesRejection) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(rejection);
    while let Some(error) = source {
        if error.is::<tower_http::timeout::TimeoutError>() {
            return true;
        }
        source = error.source();
    }
    false
}

/// Answers with the inclusion of admitted transaction `id` once a commit holds it, or a
/// problem when the engine stops or the wait times out. `committed` was subscribed before
/// the transaction was handed over, so no commit is missed.
async fn await_commit(state: &ApiState, mut committed: watch::Receiver<Height>, id: TxId) -> ApiResult {
    let deadline = tokio::time::Instant::now() + Duration::from_millis(state.limits.wait_timeout_ms);
    loop {
        committed.borrow_and_update();
        if let Some(found) = read_store(state, move |store| tx_inclusion(store, id)).await? {
            return ok_json(found);
        }
        match tokio::time::timeout_at(deadline, committed.changed()).await {
            Ok(Ok(())) => continue,
            // The engine is gone: no commit can come.
            Ok(Err(_)) => {
                return Err(Problem::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "busy",
                    "Node busy",
                    "the node stopped committing blocks (shutting down?)",
                )
                .with("tx_id", json!(id)));
            }
            Err(_) => {
                return Err(Problem::new(
                    StatusCode::GATEWAY_TIMEOUT,
                    "commit-timeout",
                    "Timed out",
                    format!(
                        "transaction {id} was admitted but not committed within {} ms",
                        state.limits.wait_timeout_ms
                    ),
                )
                .with("tx_id", json!(id)));
            }
        }
    }
}

/// A batch: handed to the engine as one submission and answered 200 with one result per
/// transaction, in order. An admitted one is `{"status": 202, "tx_id": …}`; a refused one is
/// the problem document the single form would have answered, with its `tx_id`.
async fn submit_batch(state: &ApiState, txs: Vec<SignedTransaction>) -> ApiResult {
    let ids: Vec<TxId> = txs.iter().map(SignedTransaction::id).collect();
    let results = hand_to_engine(state, txs).await?;
    let mut accepted = 0usize;
    let results: Vec<serde_json::Value> = results
        .into_iter()
        .zip(ids)
        .map(|(result, id)| match result {
            Ok(admitted) => {
                accepted += 1;
                json!({ "status": StatusCode::ACCEPTED.as_u16(), "tx_id": admitted })
            }
            Err(error) => {
                let mut document = admit_problem(error).document();
                document["tx_id"] = json!(id);
                document
            }
        })
        .collect();
    let refused = results.len() - accepted;
    ok_json(json!({ "accepted": accepted, "refused": refused, "results": results }))
}

/// A committed transaction as stored: its block, the block's receipts and its index.
pub(crate) struct StoredTx {
    pub location: TxLocation,
    pub block: Block,
    pub receipts: Vec<tally_types::Receipt>,
    /// Also the index of its receipt.
    pub index: usize,
}

impl StoredTx {
    /// The transaction.
    pub fn tx(&self) -> &SignedTransaction {
        &self.block.txs[self.index]
    }

    /// Its receipt.
    pub fn receipt(&self) -> &tally_types::Receipt {
        &self.receipts[self.index]
    }

    /// Where it sits, as every answer about a committed transaction gives it: height, index,
    /// block id and tx root.
    pub fn place_json(&self) -> serde_json::Value {
        json!({
            "height": self.location.height,
            "index": self.location.index,
            "block_id": self.block.id(),
            "tx_root": self.block.header.tx_root,
        })
    }

    /// Its inclusion proof against the block's tx root.
    pub fn tx_proof(&self) -> MerkleProof {
        let leaves: Vec<Hash> = self.block.txs.iter().map(|tx| merkle_leaf(tx.id().0.as_bytes())).collect();
        tally_types::merkle::prove(&leaves, self.index).expect("the index was checked against the block")
    }

    /// Its receipt's inclusion proof against the block's receipts root.
    pub fn receipt_proof(&self) -> MerkleProof {
        let leaves: Vec<Hash> =
            self.receipts.iter().map(|receipt| merkle_leaf(receipt.hash().as_bytes())).collect();
        tally_types::merkle::prove(&leaves, self.index).expect("the index was checked against the receipts")
    }
}

/// The committed transaction `id` with its block and receipts, or `None`. An index entry
/// whose block, receipts or position is missing is a corrupt store, said as such.
pub(crate) fn stored_tx(store: &Store, id: TxId) -> Result<Option<StoredTx>, Problem> {
    let Some(location) = store.tx_location(&id)? else { return Ok(None) };
    let missing = |what: &str| {
        Problem::from(StoreError::Corrupt {
            path: store.path().to_path_buf(),
            table: "txs",
            key: id.to_string(),
            reason: format!("indexed at height {} but its {what} is missing", location.height),
        })
    };
    let block = store.block(location.height)?.ok_or_else(|| missing("block"))?;
    let receipts = store.receipts(location.height)?.ok_or_else(|| missing("receipts"))?;
    let index = location.index as usize;
    if index >= receipts.len() {
        return Err(missing("receipt"));
    }
    if index >= block.txs.len() {
        return Err(missing("transaction"));
    }
    Ok(Some(StoredTx { location, block, receipts, index }))
}

/// A transaction as every JSON answer shows it (one shape: `GET /v1/txs/{id}`, its receipt
/// route, `GET /v1/blocks/{height}`, account history and `tx` events): `tx_id`, the signed
/// fields decoded (`chain_id`, `signer`, `seq`, `valid_until_height`, `ops`, `memo` in hex),
/// `signature`, and `tx`, the canonical bytes in hex that `POST /v1/txs` takes and the id
/// hashes. `context`, an object, adds where the transaction sits (height, index, receipt,
/// proofs); its fields come after and never replace these.
pub(crate) fn tx_json(tx: &SignedTransaction, context: serde_json::Value) -> serde_json::Value {
    let mut fields = serde_json::Map::new();
    fields.insert("tx_id".into(), json!(tx.id()));
    fields.insert("chain_id".into(), json!(tx.tx.chain_id));
    fields.insert("signer".into(), json!(tx.tx.signer));
    fields.insert("seq".into(), json!(tx.tx.seq));
    fields.insert("valid_until_height".into(), json!(tx.tx.valid_until_height));
    fields.insert("ops".into(), json!(tx.tx.ops));
    fields.insert("memo".into(), json!(tx.tx.memo));
    fields.insert("signature".into(), json!(tx.signature));
    fields.insert("tx".into(), json!(hex::encode(encode(tx))));
    if let serde_json::Value::Object(context) = context {
        for (name, value) in context {
            fields.entry(name).or_insert(value);
        }
    }
    serde_json::Value::Object(fields)
}

/// The committed transaction `id` with its receipt and inclusion proof, or `None`.
fn tx_inclusion(store: &Store, id: TxId) -> Result<Option<serde_json::Value>, Problem> {
    let Some(found) = stored_tx(store, id)? else { return Ok(None) };
    let mut context = found.place_json();
    context["receipt"] = json!(found.receipt());
    context["proof"] = json!(found.tx_proof());
    Ok(Some(tx_json(found.tx(), context)))
}

async fn get_tx(State(state): State<ApiState>, Path(id): Path<String>) -> ApiResult {
    let id = TxId::from_str(&id)
        .map_err(|error| Problem::bad_request("tx-id", format!("`{id}` is not a tx id: {error}")))?;
    match read_store(&state, move |store| tx_inclusion(store, id)).await? {
        Some(found) => ok_json(found),
        None => Err(Problem::not_found(format!("transaction {id} is not in a committed block"))),
    }
}

fn read_state(snapshot: &tally_store::Snapshot<'_>, key: &StateKey) -> Result<Option<StateValue>, Problem> {
    tally_ledger::StateRead::get(snapshot, key).map_err(|error| {
        Problem::new(StatusCode::INTERNAL_SERVER_ERROR, "storage", "Storage error", error.to_string())
    })
}

fn asset_json(asset: &AssetId, state: &AssetState) -> serde_json::Value {
    json!({
        "asset": asset,
        "scale": state.scale,
        "max_supply": state.max_supply.map(|amount| amount.display(state.scale)),
        "max_supply_minor": state.max_supply,
        "flags": state.flags,
        "supply": state.supply.display(state.scale),
        "supply_minor": state.supply,
        "minted": state.minted.display(state.scale),
        "minted_minor": state.minted,
        "burned": state.burned.display(state.scale),
        "burned_minor": state.burned,
    })
}

fn read_asset(snapshot: &tally_store::Snapshot<'_>, asset: &AssetId) -> Result<Option<AssetState>, Problem> {
    match read_state(snapshot, &StateKey::Asset { asset: asset.clone() })? {
        Some(StateValue::Asset(state)) => Ok(Some(state)),
        // The snapshot checks that a value's kind matches its key's.
        _ => Ok(None),
    }
}

async fn get_account(State(state): State<ApiState>, Path(address): Path<String>) -> ApiResult {
    let account = PublicKey::parse_recorded(&address).map_err(|error| {
        Problem::bad_request("address", format!("`{address}` is not an address: {error}"))
    })?;
    let assets = state.assets.all();
    let body = read_store(&state, move |store| {
        let snapshot = store.snapshot()?;
        let seq = match read_state(&snapshot, &StateKey::Account { account })? {
            Some(StateValue::Account(account)) => account.seq,
            _ => 0,
        };
        let mut balances = Vec::new();
        for asset in assets {
            let Some(StateValue::Balance(balance)) =
                read_state(&snapshot, &StateKey::balance(account, asset.clone()))?
            else {
                continue;
            };
            let BalanceState { available, locked } = balance;
            let scale = read_asset(&snapshot, &asset)?.map(|asset| asset.scale).unwrap_or(0);
            balances.push(json!({
                "asset": asset,
                "scale": scale,
                "available": available.display(scale),
                "available_minor": available,
                "locked": locked.display(scale),
                "locked_minor": locked,
            }));
        }
        Ok(json!({
            "address": account.to_address(),
            "height": snapshot.height(),
            "seq": seq,
            "balances": balances,
        }))
    })
    .await?;
    ok_json(body)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AssetsQuery {
    after: Option<String>,
    limit: Option<usize>,
}

async fn list_assets(
    State(state): State<ApiState>,
    query: Result<Query<AssetsQuery>, QueryRejection>,
) -> ApiResult {
    let Query(query) = query.map_err(|rejection| Problem::bad_request("query", rejection.body_text()))?;
    let limit = query.limit.unwrap_or(ASSETS_PAGE_DEFAULT);
    if limit == 0 || limit > ASSETS_PAGE_MAX {
        return Err(Problem::bad_request(
            "query",
            format!("query `limit`: {limit} is outside 1..={ASSETS_PAGE_MAX}"),
        ));
    }
    let after = match query.after {
        None => None,
        Some(text) => Some(AssetId::from_str(&text).map_err(|error| {
            Problem::bad_request("asset-id", format!("query `after`: `{text}` is not an asset id: {error}"))
        })?),
    };
    // One more than the page, to know whether another page follows.
    let mut page = state.assets.page(after.as_ref(), limit + 1);
    let next = if page.len() > limit {
        page.truncate(limit);
        page.last().cloned()
    } else {
        None
    };
    let body = read_store(&state, move |store| {
        let snapshot = store.snapshot()?;
        let mut assets = Vec::new();
        for asset in &page {
            if let Some(state) = read_asset(&snapshot, asset)? {
                assets.push(asset_json(asset, &state));
            }
        }
        Ok(json!({ "height": snapshot.height(), "assets": assets, "next": next }))
    })
    .await?;
    ok_json(body)
}

async fn get_asset(State(state): State<ApiState>, Path(text): Path<String>) -> ApiResult {
    let asset = AssetId::from_str(&text).map_err(|error| {
        Problem::bad_request("asset-id", format!("`{text}` is not an asset id (CODE@member): {error}"))
    })?;
    let body = read_store(&state, move |store| {
        let snapshot = store.snapshot()?;
        match read_asset(&snapshot, &asset)? {
            Some(found) => {
                let mut body = asset_json(&asset, &found);
                body["height"] = json!(snapshot.height());
                Ok(body)
            }
            None => Err(Problem::not_found(format!("no asset `{asset}`"))),
        }
    })
    .await?;
    ok_json(body)
}

fn parse_height(text: &str) -> Result<Height, Problem> {
    let height = text.parse::<u64>().map_err(|_| {
        Problem::bad_request("height", format!("`{text}` is not a block height (a whole number ≥ 1)"))
    })?;
    if height == 0 {
        return Err(Problem::not_found("height 0 is the genesis state; blocks start at height 1"));
    }
    Ok(Height(height))
}

/// `?format=borsh` on block and certificate reads answers with the canonical bytes
/// (`application/octet-stream`) instead of JSON: an auditor or exporter wants exactly what was
/// signed, not a round trip through the text forms.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FormatQuery {
    format: Option<String>,
}

/// True for `?format=borsh`, false for no query or `?format=json`.
fn wants_borsh(query: Result<Query<FormatQuery>, QueryRejection>) -> Result<bool, Problem> {
    let Query(query) = query.map_err(|rejection| Problem::bad_request("query", rejection.body_text()))?;
    match query.format.as_deref() {
        None | Some("json") => Ok(false),
        Some("borsh") => Ok(true),
        Some(other) => {
            Err(Problem::bad_request("query", format!("format `{other}`: expected json or borsh")))
        }
    }
}

fn borsh_response(bytes: Vec<u8>) -> ApiResult {
    Ok(([(header::CONTENT_TYPE, HeaderValue::from_static("application/octet-stream"))], bytes)
        .into_response())
}

async fn get_block(
    State(state): State<ApiState>,
    Path(text): Path<String>,
    query: Result<Query<FormatQuery>, QueryRejection>,
) -> ApiResult {
    let height = parse_height(&text)?;
    let borsh = wants_borsh(query)?;
    let block: Block =
        read_store(&state, move |store| store.block(height)?.ok_or_else(|| beyond_tip(store, height)))
            .await?;
    if borsh {
        return borsh_response(encode(&block));
    }
    let txs: Vec<serde_json::Value> = block.txs.iter().map(|tx| tx_json(tx, json!({}))).collect();
    ok_json(json!({ "block_id": block.id(), "block": { "header": block.header, "txs": txs } }))
}

fn beyond_tip(store: &Store, height: Height) -> Problem {
    match store.height() {
        Ok(tip) => Problem::not_found(format!("no block at height {height}; the committed height is {tip}")),
        Err(error) => error.into(),
    }
}

async fn get_certificate(
    State(state): State<ApiState>,
    Path(text): Path<String>,
    query: Result<Query<FormatQuery>, QueryRejection>,
) -> ApiResult {
    let height = parse_height(&text)?;
    let borsh = wants_borsh(query)?;
    let certificate =
        read_store(&state, move |store| store.certificate(height)?.ok_or_else(|| beyond_tip(store, height)))
            .await?;
    if borsh {
        return borsh_response(encode(&certificate));
    }
    ok_json(json!({ "height": height, "certificate": certificate }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProofQuery {
    key: String,
}

async fn get_state_proof(
    State(state): State<ApiState>,
    query: Result<Query<ProofQuery>, QueryRejection>,
) -> ApiResult {
    let Query(query) = query.map_err(|rejection| Problem::bad_request("query", rejection.body_text()))?;
    let bytes = hex::decode(&query.key)
        .map_err(|error| Problem::bad_request("not-hex", format!("query `key`: not hex: {error}")))?;
    let key = StateKey::from_bytes(&bytes)
        .map_err(|error| Problem::bad_request("decode", format!("query `key`: {error}")))?;
    let body = read_store(&state, move |store| {
        let snapshot = store.snapshot()?;
        let internal = |error: String| {
            Problem::new(StatusCode::INTERNAL_SERVER_ERROR, "storage", "Storage error", error)
        };
        let root = tally_ledger::tree::root(&snapshot).map_err(|error| internal(error.to_string()))?;
        let proof = prove_entry(&snapshot, &snapshot, &key).map_err(|error| internal(error.to_string()))?;
        let decoded = match &proof.value {
            Some(bytes) => Some(StateValue::from_bytes(bytes).map_err(|error| internal(error.to_string()))?),
            None => None,
        };
        Ok(json!({
            "key": key,
            "value": proof.value.as_ref().map(hex::encode),
            "value_decoded": decoded,
            "proof": proof.proof,
            "root": root,
            "height": snapshot.height(),
        }))
    })
    .await?;
    ok_json(body)
}

async fn get_status(State(state): State<ApiState>) -> ApiResult {
    let status = state.status.borrow().clone();
    let committed = read_store(&state, |store| Ok(store.height()?)).await?;
    ok_json(json!({
        "chain_id": state.chain_id,
        "committed_height": committed,
        "view": status.view,
        "peers": status.peers,
        "mempool_txs": status.mempool_txs,
        "syncing": status.syncing,
        "validators": state.validators.len(),
        "quorum": state.validators.quorum(),
    }))
}

async fn get_validators(State(state): State<ApiState>) -> ApiResult {
    let validators: Vec<_> = state
        .validators
        .keys()
        .iter()
        .enumerate()
        .map(|(index, key)| json!({ "index": index, "key": key.to_hex() }))
        .collect();
    ok_json(json!({
        "validators": validators,
        "quorum": state.validators.quorum(),
        "max_faulty": state.validators.max_faulty(),
        "validators_hash": state.validators.hash(),
    }))
}

async fn health() -> ApiResult {
    ok_json(json!({ "status": "ok" }))
}

async fn ready(State(state): State<ApiState>) -> ApiResult {
    let status = state.status.borrow().clone();
    // This node counts itself: it needs quorum − 1 others to make progress.
    let peers_needed = state.validators.quorum().saturating_sub(1);
    if status.syncing {
        return Err(Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "not-ready",
            "Not ready",
            format!("the node is syncing (at height {})", status.height),
        ));
    }
    if status.peers < peers_needed {
        return Err(Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "not-ready",
            "Not ready",
            format!("{} peers connected; {peers_needed} needed for a quorum", status.peers),
        ));
    }
    ok_json(json!({ "status": "ready", "peers": status.peers }))
}

async fn metrics(State(state): State<ApiState>) -> ApiResult {
    let text = state.metrics.render().map_err(|error| {
        Problem::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "Internal error", error.to_string())
    })?;
    let mut response = text.into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(METRICS_CONTENT_TYPE));
    Ok(response)
}
