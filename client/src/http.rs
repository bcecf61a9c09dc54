//! A blocking client for the node's HTTP API (docs/ARCHITECTURE.md "HTTP API"), typed after `node/src/api.rs`.
//!
//! - Every request has a global timeout, and every response body is read with a size limit,
//!   so a misbehaving node can neither hang the caller nor make it allocate without bound.
//! - A non-2xx answer is an RFC 9457 problem document; its `detail` is surfaced as is, since
//!   the node writes it to name the exact problem.
//! - Only plain `http://` is spoken (ureq is built without TLS); nodes are reached on a
//!   private network or through a TLS-terminating proxy on the same host.

use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tally_types::limits::TX_SUBMIT_BATCH_MAX;
use tally_types::{
    AchievementId, AssetId, ChainId, Height, MemberId, PublicKey, Receipt, SignedTransaction, TxId, encode,
};

/// The largest response body read from a node. The biggest answers (a block of
/// `TX_BYTES_MAX`-sized transactions, an asset page of 1,000 entries) stay well below it.
pub const RESPONSE_BYTES_MAX: u64 = 16 * 1024 * 1024;
/// The default time a request may take, connection included. Submissions that wait for a
/// commit are bounded on the node (`http.wait_timeout_ms`) and get [`WAIT_TIMEOUT_MS`].
pub const REQUEST_TIMEOUT_MS: u64 = 10_000;
/// The time a `?wait=commit` submission may take: longer than the node's own wait bound
/// (30 s by default), so the node's 504 with the tx id arrives rather than a local timeout.
pub const WAIT_TIMEOUT_MS: u64 = 60_000;

/// The largest body [`NodeClient::submit_batch`] sends in one request: the node's default
/// `http.body_bytes_max` (1 MiB). A batch larger in bytes is split into more requests, each of
/// at most [`TX_SUBMIT_BATCH_MAX`] transactions.
pub const SUBMIT_BATCH_BYTES_MAX: usize = 1024 * 1024;

/// Why a request to a node failed.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("node URL `{0}` must start with http:// (TLS is not built in)")]
    BadUrl(String),
    #[error("{url}: {source}")]
    Transport { url: String, source: Box<ureq::Error> },
    /// The node answered with a problem document.
    #[error("{detail} (HTTP {status})")]
    Problem {
        status: u16,
        /// The problem type URI, e.g. `urn:tally:problem:seq`.
        kind: String,
        detail: String,
        /// The transaction id, on problems about an admitted transaction (a commit timeout).
        tx_id: Option<TxId>,
    },
    #[error("{url}: unexpected answer (HTTP {status}): {reason}")]
    BadResponse { url: String, status: u16, reason: String },
}

impl HttpError {
    /// The HTTP status of a problem answer, if the node gave one.
    pub fn status(&self) -> Option<u16> {
        match self {
            HttpError::Problem { status, .. } | HttpError::BadResponse { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// `GET /v1/status`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct NodeStatus {
    pub chain_id: ChainId,
    pub committed_height: Height,
    pub view: u64,
    pub peers: usize,
    pub mempool_txs: usize,
    pub syncing: bool,
    pub validators: usize,
    pub quorum: usize,
}

/// One balance in `GET /v1/accounts/{address}`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct BalanceInfo {
    pub asset: AssetId,
    pub scale: u8,
    /// Human units at `scale`.
    pub available: String,
    pub locked: String,
    /// Minor units, as decimal strings (a u128 does not fit every JSON reader).
    pub available_minor: String,
    pub locked_minor: String,
}

/// `GET /v1/accounts/{address}`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AccountInfo {
    pub address: PublicKey,
    /// The committed height the answer was read at.
    pub height: Height,
    /// The last used seq; the next transaction uses `seq + 1`.
    pub seq: u64,
    pub balances: Vec<BalanceInfo>,
}

/// `GET /v1/assets/{asset}` and one entry of `GET /v1/assets`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AssetInfo {
    pub asset: AssetId,
    pub scale: u8,
    pub max_supply: Option<String>,
    pub flags: u32,
    pub supply: String,
    pub minted: String,
    pub burned: String,
}

/// `GET /v1/assets`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AssetPage {
    pub height: Height,
    pub assets: Vec<AssetInfo>,
    /// Pass as `after` to get the next page; `None` on the last page.
    pub next: Option<AssetId>,
}

/// `GET /v1/badges/figures`: per member and achievement, the badges its anchors named.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct BadgeFigures {
    pub height: Height,
    /// The member asked about, or `None` for every member.
    pub member: Option<MemberId>,
    /// Sorted by member, then achievement id.
    pub figures: Vec<BadgeFiguresRow>,
    /// True when the node listed only the first 10,000 entries.
    pub truncated: bool,
}

/// One (member, achievement) of [`BadgeFigures`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BadgeFiguresRow {
    pub member: MemberId,
    pub achievement: AchievementId,
    /// Badges anchored for the achievement.
    pub anchored: u64,
    /// Anchors that named it.
    pub batches: u64,
    pub first_height: Height,
    pub last_height: Height,
    /// The entry's state key, hex: `GET /v1/state/proof?key=` proves it.
    pub key_hex: String,
}

/// One equivocation record of `GET /v1/evidence`: two conflicting messages one validator
/// signed (votes as signed; proposals with their block's header).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct EvidenceRecord {
    /// This record's cursor.
    pub key: String,
    /// `conflicting_votes` or `conflicting_proposals`.
    pub kind: String,
    pub view: u64,
    pub epoch: u64,
    /// The accused validator's index in the epoch's set.
    pub signer: u16,
    pub first: serde_json::Value,
    pub second: serde_json::Value,
    /// The record's borsh bytes (hex), for checking the signatures.
    pub record: String,
}

/// `GET /v1/evidence`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct EvidencePage {
    pub evidence: Vec<EvidenceRecord>,
    /// Pass as `after` to get the next page; `None` on the last page.
    pub next: Option<String>,
}

/// A committed transaction: `GET /v1/txs/{id}` and `POST /v1/txs?wait=commit`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TxInclusion {
    pub tx_id: TxId,
    pub height: Height,
    pub index: u32,
    pub receipt: Receipt,
    /// The whole answer (block id, tx root, inclusion proof, tx bytes), for `--json` output and
    /// for verifiers; the typed fields above are what callers act on.
    #[serde(skip)]
    pub raw: serde_json::Value,
}

/// What a submission returned.
#[derive(Clone, Debug)]
pub enum Submitted {
    /// Admitted to the mempool (202), not yet committed.
    Admitted(TxId),
    /// Committed, with its receipt (`?wait=commit`).
    Committed(Box<TxInclusion>),
}

/// Why one transaction of [`NodeClient::submit_batch`] was not admitted.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BatchTxError {
    /// The node refused this transaction; `status` and `kind` are what the single form of
    /// `POST /v1/txs` would have answered (e.g. 409 `urn:tally:problem:seq`).
    #[error("{detail} (HTTP {status})")]
    Refused { status: u16, kind: String, detail: String },
    /// The request that carried it failed as a whole. With a `status` the node answered and
    /// admitted none of that request (e.g. 503 busy, 413 body too large); without one
    /// (transport failure, unreadable answer) it may or may not have admitted it: look it up,
    /// or resubmit it (an admitted one is refused as a duplicate).
    #[error("the request carrying it failed: {detail}")]
    RequestFailed { status: Option<u16>, detail: String },
    /// Not sent, because an earlier request of the same call failed.
    #[error("not sent: an earlier request of the batch failed")]
    NotSent,
}

/// `POST /v1/txs` with a batch: `{"accepted", "refused", "results": [...]}`.
#[derive(Deserialize)]
struct BatchAnswer {
    results: Vec<BatchItem>,
}

/// One result of a batch: `{"status": 202, "tx_id"}` or a problem document with `tx_id`.
#[derive(Deserialize)]
struct BatchItem {
    status: u16,
    tx_id: Option<TxId>,
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    detail: String,
}

/// Splits `txs` into runs of at most [`TX_SUBMIT_BATCH_MAX`] transactions and, past the first
/// of a run, at most `bytes_max` encoded bytes (with the 4-byte count); returns run lengths.
fn batch_runs(txs: &[SignedTransaction], bytes_max: usize) -> Vec<usize> {
    let mut runs = Vec::new();
    let (mut count, mut bytes) = (0usize, 4usize);
    for tx in txs {
        let size = encode(tx).len();
        if count > 0 && (count == TX_SUBMIT_BATCH_MAX || bytes + size > bytes_max) {
            runs.push(count);
            (count, bytes) = (0, 4);
        }
        count += 1;
        bytes += size;
    }
    if count > 0 {
        runs.push(count);
    }
    runs
}

#[derive(Deserialize)]
struct ProblemBody {
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    detail: String,
    tx_id: Option<TxId>,
}

#[derive(Deserialize)]
struct AdmittedBody {
    tx_id: TxId,
}

/// A client for one node.
#[derive(Clone, Debug)]
pub struct NodeClient {
    base_url: String,
    agent: ureq::Agent,
    wait_agent: ureq::Agent,
}

fn agent(timeout_ms: u64) -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_millis(timeout_ms)))
        // Problem documents are read and reported, not turned into a bare status error.
        .http_status_as_error(false)
        .build()
        .into()
}

impl NodeClient {
    /// A client for the node at `base_url` (e.g. `http://127.0.0.1:28000`).
    pub fn new(base_url: &str) -> Result<Self, HttpError> {
        let trimmed = base_url.trim_end_matches('/');
        let host = trimmed.strip_prefix("http://").unwrap_or_default();
        if host.is_empty() || host.contains('/') {
            return Err(HttpError::BadUrl(base_url.to_owned()));
        }
        Ok(NodeClient {
            base_url: trimmed.to_owned(),
            agent: agent(REQUEST_TIMEOUT_MS),
            wait_agent: agent(WAIT_TIMEOUT_MS),
        })
    }

    /// The node's base URL.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// A response's body, at most [`RESPONSE_BYTES_MAX`] bytes.
    fn body(url: &str, response: &mut ureq::http::Response<ureq::Body>) -> Result<Vec<u8>, HttpError> {
        response
            .body_mut()
            .with_config()
            .limit(RESPONSE_BYTES_MAX)
            .read_to_vec()
            .map_err(|source| HttpError::Transport { url: url.to_owned(), source: Box::new(source) })
    }

    /// Reads a response: a 2xx body as JSON, anything else as a problem.
    fn read(
        url: &str,
        mut response: ureq::http::Response<ureq::Body>,
    ) -> Result<serde_json::Value, HttpError> {
        let status = response.status().as_u16();
        let body = Self::body(url, &mut response)?;
        if (200..300).contains(&status) {
            return serde_json::from_slice(&body).map_err(|error| HttpError::BadResponse {
                url: url.to_owned(),
                status,
                reason: format!("body is not JSON: {error}"),
            });
        }
        match serde_json::from_slice::<ProblemBody>(&body) {
            Ok(problem) => Err(HttpError::Problem {
                status,
                kind: problem.kind,
                detail: if problem.detail.is_empty() { problem.title } else { problem.detail },
                tx_id: problem.tx_id,
            }),
            Err(_) => Err(HttpError::BadResponse {
                url: url.to_owned(),
                status,
                reason: String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned(),
            }),
        }
    }

    fn get_value(&self, path: &str) -> Result<serde_json::Value, HttpError> {
        let url = self.url(path);
        let response = self
            .agent
            .get(&url)
            .call()
            .map_err(|source| HttpError::Transport { url: url.clone(), source: Box::new(source) })?;
        Self::read(&url, response)
    }

    fn typed<T: DeserializeOwned>(url: &str, value: serde_json::Value) -> Result<T, HttpError> {
        serde_json::from_value(value).map_err(|error| HttpError::BadResponse {
            url: url.to_owned(),
            status: 200,
            reason: format!("unexpected JSON shape: {error}"),
        })
    }

    fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, HttpError> {
        let value = self.get_value(path)?;
        Self::typed(&self.url(path), value)
    }

    /// `GET path?format=borsh` (e.g. `/v1/blocks/7`): the canonical bytes of the value, or
    /// `None` on 404, for verifiers that decode them strictly themselves (`proofs`): the bytes
    /// that were signed and hashed, not a JSON rendering of them.
    pub fn get_canonical(&self, path: &str) -> Result<Option<Vec<u8>>, HttpError> {
        let url = self.url(&format!("{path}?format=borsh"));
        let mut response = self
            .agent
            .get(&url)
            .call()
            .map_err(|source| HttpError::Transport { url: url.clone(), source: Box::new(source) })?;
        let status = response.status().as_u16();
        if status == 404 {
            return Ok(None);
        }
        if !(200..300).contains(&status) {
            return Self::read(&url, response).map(|_| None);
        }
        Self::body(&url, &mut response).map(Some)
    }

    /// `GET path` (e.g. `/v1/blocks/7`): the raw JSON answer, for readers that check what the
    /// node says themselves (`proofs`).
    pub fn get_json(&self, path: &str) -> Result<serde_json::Value, HttpError> {
        self.get_value(path)
    }

    /// `GET /v1/status`.
    pub fn status(&self) -> Result<NodeStatus, HttpError> {
        self.get("/v1/status")
    }

    /// `GET /v1/accounts/{address}`. An account never seen has seq 0 and no balances.
    pub fn account(&self, account: &PublicKey) -> Result<AccountInfo, HttpError> {
        self.get(&format!("/v1/accounts/{}", account.to_address()))
    }

    /// `GET /v1/assets/{asset}`.
    pub fn asset(&self, asset: &AssetId) -> Result<AssetInfo, HttpError> {
        self.get(&format!("/v1/assets/{asset}"))
    }

    /// `GET /v1/assets?after=&limit=`: one page of assets in id order.
    pub fn assets(&self, after: Option<&AssetId>, limit: usize) -> Result<AssetPage, HttpError> {
        // Asset ids are `[A-Z0-9]+@[a-z0-9-]+`: nothing in them needs escaping in a query.
        let path = match after {
            Some(after) => format!("/v1/assets?limit={limit}&after={after}"),
            None => format!("/v1/assets?limit={limit}"),
        };
        self.get(&path)
    }

    /// `GET /v1/badges/figures[?member=M]`.
    pub fn badge_figures(&self, member: Option<&MemberId>) -> Result<BadgeFigures, HttpError> {
        // Member ids are `[a-z0-9-]`: nothing in them needs escaping in a query.
        match member {
            Some(member) => self.get(&format!("/v1/badges/figures?member={member}")),
            None => self.get("/v1/badges/figures"),
        }
    }

    /// `GET /v1/evidence?after=&limit=`: one page of the equivocation evidence the node
    /// stored, oldest view first.
    pub fn evidence(&self, after: Option<&str>, limit: usize) -> Result<EvidencePage, HttpError> {
        // The cursor is hex: nothing in it needs escaping in a query.
        let path = match after {
            Some(after) => format!("/v1/evidence?limit={limit}&after={after}"),
            None => format!("/v1/evidence?limit={limit}"),
        };
        self.get(&path)
    }

    /// Every evidence record the node stored, page by page (pages of 100, at most 100 pages:
    /// evidence is rare, and the bound keeps a hostile node from keeping the client busy).
    pub fn all_evidence(&self) -> Result<Vec<EvidenceRecord>, HttpError> {
        let mut records = Vec::new();
        let mut after: Option<String> = None;
        for _ in 0..100 {
            let page = self.evidence(after.as_deref(), 100)?;
            records.extend(page.evidence);
            match page.next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        Ok(records)
    }

    /// `GET /v1/txs/{id}`: the committed transaction, or `None` if no committed block has it
    /// (yet).
    pub fn tx(&self, id: &TxId) -> Result<Option<TxInclusion>, HttpError> {
        let path = format!("/v1/txs/{id}");
        match self.get_value(&path) {
            Ok(value) => Ok(Some(Self::inclusion(&self.url(&path), value)?)),
            Err(HttpError::Problem { status: 404, .. }) => Ok(None),
            Err(error) => Err(error),
        }
    }

    fn inclusion(url: &str, value: serde_json::Value) -> Result<TxInclusion, HttpError> {
        let mut inclusion: TxInclusion = Self::typed(url, value.clone())?;
        inclusion.raw = value;
        Ok(inclusion)
    }

    /// `POST /v1/txs` (with `?wait=commit` when `wait_for_commit`).
    pub fn submit(&self, tx: &SignedTransaction, wait_for_commit: bool) -> Result<Submitted, HttpError> {
        let url = if wait_for_commit { self.url("/v1/txs?wait=commit") } else { self.url("/v1/txs") };
        let body = serde_json::json!({ "tx": hex::encode(encode(tx)) }).to_string();
        let agent = if wait_for_commit { &self.wait_agent } else { &self.agent };
        let response = agent
            .post(&url)
            .header("content-type", "application/json")
            .send(body)
            .map_err(|source| HttpError::Transport { url: url.clone(), source: Box::new(source) })?;
        let value = Self::read(&url, response)?;
        if wait_for_commit {
            Ok(Submitted::Committed(Box::new(Self::inclusion(&url, value)?)))
        } else {
            let admitted: AdmittedBody = Self::typed(&url, value)?;
            Ok(Submitted::Admitted(admitted.tx_id))
        }
    }
}

impl NodeClient {
    /// `POST /v1/txs` with borsh batches (`application/octet-stream`): one result per
    /// transaction of `txs`, in order. `txs` is sent in requests of at most
    /// [`TX_SUBMIT_BATCH_MAX`] transactions and [`SUBMIT_BATCH_BYTES_MAX`] bytes, one after the
    /// other; a request the node finds too large (413: its `http.body_bytes_max` is below the
    /// default) is sent again in halves; after a request fails otherwise, the rest are
    /// [`BatchTxError::NotSent`].
    ///
    /// The node admits each transaction on its own, so a refused one does not stop the others
    /// of its request. A caller signing consecutive seqs of one account should know that the
    /// ones after a refused seq wait for it and expire unless it is filled.
    pub fn submit_batch(&self, txs: &[SignedTransaction]) -> Vec<Result<TxId, BatchTxError>> {
        let mut results = Vec::with_capacity(txs.len());
        // (start, len) of the requests still to send, in order.
        let mut pending: std::collections::VecDeque<(usize, usize)> = batch_runs(txs, SUBMIT_BATCH_BYTES_MAX)
            .into_iter()
            .scan(0, |start, len| {
                let run = (*start, len);
                *start += len;
                Some(run)
            })
            .collect();
        while let Some((start, len)) = pending.pop_front() {
            let chunk = &txs[start..start + len];
            match self.submit_chunk(chunk) {
                Ok(answers) => results.extend(answers),
                // A node with a smaller `http.body_bytes_max` admitted none of it: send it in
                // halves (down to single transactions, which always fit a valid node config).
                Err(BatchTxError::RequestFailed { status: Some(413), .. }) if len > 1 => {
                    pending.push_front((start + len / 2, len - len / 2));
                    pending.push_front((start, len / 2));
                }
                Err(error) => {
                    results.extend(chunk.iter().map(|_| Err(error.clone())));
                    break;
                }
            }
        }
        results.resize(txs.len(), Err(BatchTxError::NotSent));
        results
    }

    /// One request of [`Self::submit_batch`].
    fn submit_chunk(
        &self,
        chunk: &[SignedTransaction],
    ) -> Result<Vec<Result<TxId, BatchTxError>>, BatchTxError> {
        let url = self.url("/v1/txs");
        let body = encode(chunk);
        // The node bounds its wait for the mempool's answer (`http.wait_timeout_ms`) and says
        // so with a 504; the longer local bound lets that answer arrive.
        let response = self
            .wait_agent
            .post(&url)
            .header("content-type", "application/octet-stream")
            .send(&body[..])
            .map_err(|source| BatchTxError::RequestFailed {
                status: None,
                detail: format!("{url}: {source}"),
            })?;
        let value = Self::read(&url, response).map_err(|error| BatchTxError::RequestFailed {
            status: match &error {
                HttpError::Problem { status, .. } => Some(*status),
                _ => None,
            },
            detail: error.to_string(),
        })?;
        // The answer is remote input: it must hold one result per transaction sent, and an
        // admitted one must name the transaction sent at its place.
        let unreadable = |reason: String| BatchTxError::RequestFailed {
            status: None,
            detail: format!("{url}: unexpected answer to a batch of {}: {reason}", chunk.len()),
        };
        let answer: BatchAnswer =
            serde_json::from_value(value).map_err(|error| unreadable(error.to_string()))?;
        if answer.results.len() != chunk.len() {
            return Err(unreadable(format!("{} results", answer.results.len())));
        }
        let mut results = Vec::with_capacity(chunk.len());
        for (index, (item, tx)) in answer.results.into_iter().zip(chunk).enumerate() {
            let id = tx.id();
            if item.tx_id.is_some_and(|answered| answered != id) {
                return Err(unreadable(format!("result {index} names another transaction")));
            }
            if (200..300).contains(&item.status) {
                if item.tx_id.is_none() {
                    return Err(unreadable(format!("result {index} admits without a tx id")));
                }
                results.push(Ok(id));
            } else {
                let detail = if item.detail.is_empty() { item.title } else { item.detail };
                results.push(Err(BatchTxError::Refused { status: item.status, kind: item.kind, detail }));
            }
        }
        Ok(results)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_http_base_urls_are_accepted() {
        assert!(NodeClient::new("http://127.0.0.1:28000").is_ok());
        assert_eq!(
            NodeClient::new("http://127.0.0.1:28000/").map(|c| c.base_url().to_owned()).ok(),
            Some("http://127.0.0.1:28000".to_owned())
        );
        for bad in ["https://node:1", "127.0.0.1:28000", "http://", "http://host/path", ""] {
            assert!(matches!(NodeClient::new(bad), Err(HttpError::BadUrl(_))), "{bad} accepted");
        }
    }

    #[test]
    fn a_refused_connection_is_a_transport_error() {
        // Port 1 on localhost is not served in any sane test environment.
        let client = NodeClient::new("http://127.0.0.1:1").expect("valid url");
        assert!(matches!(client.status(), Err(HttpError::Transport { .. })));
    }

    fn signed(seq: u64) -> SignedTransaction {
        let key = tally_types::SecretKey::from_seed(&[7; 32]);
        let chain = ChainId::new("tally-http-test").expect("valid");
        let op = crate::txbuild::burn_op("ACME@acme".parse().expect("valid"), tally_types::Amount(1));
        crate::txbuild::build_signed(&key, &chain, seq, Height(10), vec![op], b"").expect("builds")
    }

    #[test]
    fn batches_are_split_by_count_and_by_bytes_in_order() {
        let small: Vec<_> = (1..=2_345).map(signed).collect();
        assert_eq!(batch_runs(&small, usize::MAX), vec![1_000, 1_000, 345]);
        assert_eq!(batch_runs(&small[..1_000], usize::MAX), vec![1_000]);
        assert_eq!(batch_runs(&[], usize::MAX), Vec::<usize>::new());
        // By bytes: each run holds as many as fit with the 4-byte count, never none.
        let size = encode(&small[0]).len();
        assert_eq!(batch_runs(&small[..10], 4 + 3 * size), vec![3, 3, 3, 1]);
        assert_eq!(batch_runs(&small[..3], 1), vec![1, 1, 1]);
    }

    #[test]
    fn a_failed_request_fails_its_transactions_and_sends_no_more() {
        let client = NodeClient::new("http://127.0.0.1:1").expect("valid url");
        let txs: Vec<_> = (1..=1_001).map(signed).collect();
        let results = client.submit_batch(&txs);
        assert_eq!(results.len(), txs.len());
        assert!(
            results[..1_000]
                .iter()
                .all(|result| matches!(result, Err(BatchTxError::RequestFailed { status: None, .. })))
        );
        assert_eq!(results[1_000], Err(BatchTxError::NotSent));
    }
}
