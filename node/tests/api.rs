//! The HTTP API against a real redb store (genesis state and committed blocks) and a real
//! mempool behind a test engine task: the bad-input catalogue answers with precise
//! problem+json documents and changes nothing, and the happy paths return verifiable data.
//! Batches (`POST /v1/txs` with a JSON array or a borsh `Vec<SignedTransaction>`) are answered
//! per transaction, in order, up to `limits::TX_SUBMIT_BATCH_MAX`.

mod inproc;

mod common;

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tally_ledger::{
    GenesisAsset, GenesisBalance, GenesisLedger, GenesisMember, StateKey, verify_state_proof,
};
use tally_node::api::{
    ApiLimits, ApiState, AssetCatalog, Metrics, NodeStatus, PROBLEM_JSON, Submission, router,
};
use tally_node::mempool::{Mempool, MempoolConfig};
use tally_store::{ChainIdentity, Store};
use tally_types::codec::{BoundedBytes, BoundedVec};
use tally_types::hash::merkle_leaf;
use tally_types::limits::TX_SUBMIT_BATCH_MAX;
use tally_types::merkle::MerkleProof;
use tally_types::smt::SmtProof;
use tally_types::tx::{AssetFlags, Transaction, Transfer};
use tally_types::{
    Amount, AssetId, Block, Certificate, ChainId, Hash, Height, MemberId, Op, PublicKey, SecretKey,
    SignedTransaction, Subject, TxId, ValidatorSet, View, encode,
};
use tokio::sync::{mpsc, watch};

const BODY_BYTES_MAX: usize = 64 * 1024;
const GENESIS_HASH: Hash = Hash([5; 32]);

fn chain() -> ChainId {
    ChainId::new("tally-api-test").expect("valid")
}

fn acme() -> AssetId {
    "ACME@acme".parse().expect("valid")
}

fn key(index: u8) -> SecretKey {
    SecretKey::from_seed(&[100 + index; 32])
}

fn genesis() -> GenesisLedger {
    GenesisLedger {
        members: vec![
            GenesisMember {
                id: MemberId::new("acme").expect("valid"),
                name: "Acme".into(),
                issuers: vec![SecretKey::from_seed(&[1; 32]).public_key()],
            },
            GenesisMember {
                id: MemberId::new("globex").expect("valid"),
                name: "Globex".into(),
                issuers: vec![SecretKey::from_seed(&[2; 32]).public_key()],
            },
        ],
        assets: vec![GenesisAsset {
            asset: acme(),
            scale: 2,
            max_supply: None,
            flags: AssetFlags::default(),
        }],
        balances: (0..4)
            .map(|i| GenesisBalance { account: key(i).public_key(), asset: acme(), amount: Amount(10_000) })
            .collect(),
        ..Default::default()
    }
}

fn transfer(from: u8, seq: u64, to: u8, amount: u128) -> SignedTransaction {
    Transaction {
        chain_id: chain(),
        signer: key(from).public_key(),
        seq,
        valid_until_height: Height(1_000),
        ops: BoundedVec::new(vec![Op::Transfer(Transfer {
            asset: acme(),
            to: key(to).public_key(),
            amount: Amount(amount),
        })])
        .expect("one op"),
        memo: BoundedBytes::empty(),
    }
    .sign(&key(from))
}

fn validators() -> ValidatorSet {
    ValidatorSet::new((0..4u8).map(|i| SecretKey::from_seed(&[200 + i; 32]).public_key()).collect())
        .expect("four validators")
}

/// Executes `txs` on the committed state and commits them as the next block.
fn commit(store: &Store, txs: Vec<SignedTransaction>) -> Block {
    inproc::commit(store, &chain(), GENESIS_HASH, validators().hash(), txs)
}

struct Node {
    _dir: tempfile::TempDir,
    store: Arc<Store>,
    mempool: Arc<Mutex<Mempool>>,
    router: Router,
    status: watch::Sender<NodeStatus>,
    metrics: Arc<Metrics>,
    /// Blocks 1 and 2: a transfer 0 → 1 (seq 1) and a transfer 1 → 2 (seq 1).
    blocks: Vec<Block>,
}

/// A node at height 2 whose engine task admits into a real mempool; with `auto_commit` it
/// also commits each submission's admitted transactions in a block, as consensus would.
fn node(auto_commit: bool, wait_timeout_ms: u64) -> Node {
    node_with_body_limit(auto_commit, wait_timeout_ms, BODY_BYTES_MAX)
}

fn node_with_body_limit(auto_commit: bool, wait_timeout_ms: u64, body_bytes_max: usize) -> Node {
    let dir = tempfile::tempdir().expect("tempdir");
    let identity = ChainIdentity { chain_id: chain(), genesis_hash: GENESIS_HASH };
    let store = Arc::new(Store::open(&dir.path().join("node.redb"), &identity).expect("open"));
    inproc::init_genesis(&store, &genesis());
    let blocks =
        vec![commit(&store, vec![transfer(0, 1, 1, 250)]), commit(&store, vec![transfer(1, 1, 2, 5)])];

    let mempool = Arc::new(Mutex::new(Mempool::new(MempoolConfig::default(), chain()).expect("config")));
    let (submissions, mut receiver) = mpsc::channel::<Submission>(16);
    let (committed_sender, committed) = watch::channel(Height(2));
    let (status, status_receiver) = watch::channel(NodeStatus { height: Height(2), ..NodeStatus::default() });
    let metrics = Arc::new(Metrics::new());
    let engine_store = Arc::clone(&store);
    let engine_mempool = Arc::clone(&mempool);
    let engine_metrics = Arc::clone(&metrics);
    // Stands in for the engine's `on_submission`: admits each transaction in order, answers one
    // result each, and counts the HTTP submission metrics (the engine counts them, not the API).
    tokio::spawn(async move {
        while let Some(Submission { txs, reply }) = receiver.recv().await {
            // The engine's own ingress path: batch signature check, then admission.
            let results =
                tally_node::engine::ingress::admit(&engine_store, &engine_mempool, txs.clone(), true);
            let mut admitted = Vec::new();
            for (tx, result) in txs.into_iter().zip(&results) {
                match result {
                    Ok(_) => {
                        engine_metrics.submitted_txs.inc();
                        admitted.push(tx);
                    }
                    Err(_) => {
                        engine_metrics.refused_txs.inc();
                    }
                }
            }
            let _ = reply.send(results);
            if auto_commit && !admitted.is_empty() {
                let ids: Vec<TxId> = admitted.iter().map(SignedTransaction::id).collect();
                let block = commit(&engine_store, admitted);
                engine_mempool.lock().expect("lock").remove(ids);
                committed_sender.send_replace(block.header.height);
            }
        }
    });
    let state = ApiState {
        store: Arc::clone(&store),
        chain_id: chain(),
        validators: Arc::new(validators()),
        submissions,
        status: status_receiver,
        committed,
        metrics: Arc::clone(&metrics),
        assets: AssetCatalog::new([acme()]),
        limits: ApiLimits { body_bytes_max, wait_timeout_ms },
    };
    Node { _dir: dir, store, mempool, router: router(state), status, metrics, blocks }
}

struct Reply {
    status: StatusCode,
    content_type: String,
    text: String,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|error| panic!("not JSON ({error}): {}", self.text))
    }
}

async fn call(node: &Node, method: Method, uri: &str, body: Option<Vec<u8>>) -> Reply {
    call_as(node, method, uri, body, "application/json").await
}

async fn call_as(node: &Node, method: Method, uri: &str, body: Option<Vec<u8>>, content_type: &str) -> Reply {
    use tower::ServiceExt;
    let mut request = Request::builder().method(method).uri(uri);
    if body.is_some() {
        request = request.header(header::CONTENT_TYPE, content_type);
    }
    let request = request.body(body.map(Body::from).unwrap_or_else(Body::empty)).expect("request");
    let response = node.router.clone().oneshot(request).await.expect("infallible");
    let status = response.status();
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let bytes = response.into_body().collect().await.expect("body").to_bytes();
    Reply { status, content_type, text: String::from_utf8(bytes.to_vec()).expect("UTF-8") }
}

async fn get(node: &Node, uri: &str) -> Reply {
    call(node, Method::GET, uri, None).await
}

async fn submit(node: &Node, uri: &str, body: Vec<u8>) -> Reply {
    call(node, Method::POST, uri, Some(body)).await
}

fn tx_body(tx: &SignedTransaction) -> Vec<u8> {
    json!({ "tx": hex::encode(encode(tx)) }).to_string().into_bytes()
}

/// A JSON batch: an array of `{"tx": HEX}`.
fn json_batch(txs: &[SignedTransaction]) -> Vec<u8> {
    let items: Vec<Value> = txs.iter().map(|tx| json!({ "tx": hex::encode(encode(tx)) })).collect();
    Value::Array(items).to_string().into_bytes()
}

/// Submits a borsh batch (`application/octet-stream`).
async fn submit_borsh(node: &Node, uri: &str, body: Vec<u8>) -> Reply {
    call_as(node, Method::POST, uri, Some(body), "application/octet-stream").await
}

/// Asserts a problem+json answer with `status` whose `detail` contains `needle`.
fn assert_problem(reply: &Reply, status: StatusCode, needle: &str, case: &str) {
    assert_eq!(reply.status, status, "{case}: {}", reply.text);
    assert_eq!(reply.content_type, PROBLEM_JSON, "{case}");
    let body = reply.json();
    assert_eq!(body["status"], json!(status.as_u16()), "{case}");
    assert!(body["type"].as_str().is_some_and(|t| t.starts_with("urn:tally:problem:")), "{case}: {body}");
    assert!(body["title"].is_string(), "{case}: {body}");
    let detail = body["detail"].as_str().unwrap_or_default();
    assert!(detail.contains(needle), "{case}: detail `{detail}` does not mention `{needle}`");
}

// Not split: a table of cases checked in one loop; split up, the table would be scattered.
#[tokio::test]
async fn every_bad_submission_is_a_precise_problem_and_changes_nothing() {
    let node = node(false, 2_000);
    let root_before = node.blocks[1].header.state_root;
    let valid = transfer(0, 2, 3, 100);
    let mut trailing = encode(&valid);
    trailing.push(0);
    let mut forged = valid.clone();
    forged.signature.0[0] ^= 1;
    let foreign = {
        let mut tx = transfer(0, 2, 3, 100).tx;
        tx.chain_id = ChainId::new("another-chain").expect("valid");
        tx.sign(&key(0))
    };
    // A recipient key that is not a curve point (y = 2), in a transaction its signer signed.
    let off_curve = {
        let mut tx = transfer(0, 2, 3, 100).tx;
        let mut off_curve_key = [0; 32];
        off_curve_key[0] = 2;
        let op = Op::Transfer(Transfer { asset: acme(), to: PublicKey(off_curve_key), amount: Amount(100) });
        tx.ops = BoundedVec::new(vec![op]).expect("one op");
        tx.sign(&key(0))
    };
    let too_large = format!("larger than the limit of {BODY_BYTES_MAX} bytes");
    let cases: Vec<(&str, Vec<u8>, StatusCode, &str)> = vec![
        ("malformed JSON", b"{\"tx\": ".to_vec(), StatusCode::BAD_REQUEST, "body: EOF"),
        ("not an object", b"1".to_vec(), StatusCode::BAD_REQUEST, "body: invalid type"),
        ("missing field", b"{}".to_vec(), StatusCode::BAD_REQUEST, "missing field `tx`"),
        (
            "unknown field",
            json!({ "tx": "00", "fee": 1 }).to_string().into_bytes(),
            StatusCode::BAD_REQUEST,
            "unknown field `fee`",
        ),
        (
            "not hex",
            json!({ "tx": "zz" }).to_string().into_bytes(),
            StatusCode::BAD_REQUEST,
            "field `tx`: not hex",
        ),
        (
            "truncated",
            json!({ "tx": hex::encode(&encode(&valid)[..40]) }).to_string().into_bytes(),
            StatusCode::BAD_REQUEST,
            "field `tx`: SignedTransaction",
        ),
        (
            "trailing bytes",
            json!({ "tx": hex::encode(trailing) }).to_string().into_bytes(),
            StatusCode::BAD_REQUEST,
            "field `tx`: SignedTransaction: 1 trailing bytes after the value",
        ),
        ("wrong chain id", tx_body(&foreign), StatusCode::BAD_REQUEST, "wrong chain id `another-chain`"),
        ("bad signature", tx_body(&forged), StatusCode::BAD_REQUEST, "signature does not verify"),
        (
            "recipient off the curve",
            tx_body(&off_curve),
            StatusCode::BAD_REQUEST,
            "operation 0 names key 0200000000000000000000000000000000000000000000000000000000000000, which is \
             refused: public key is not a valid ed25519 point encoding",
        ),
        (
            "replayed seq (the committed block-1 transaction)",
            tx_body(&node.blocks[0].txs[0]),
            StatusCode::CONFLICT,
            "seq 1 was already used",
        ),
        (
            "oversize body",
            json!({ "tx": "00".repeat(BODY_BYTES_MAX) }).to_string().into_bytes(),
            StatusCode::PAYLOAD_TOO_LARGE,
            &too_large,
        ),
    ];
    for (case, body, status, needle) in &cases {
        let reply = submit(&node, "/v1/txs", body.clone()).await;
        assert_problem(&reply, *status, needle, case);
    }
    let reply = submit(&node, "/v1/txs?wait=forever", tx_body(&valid)).await;
    assert_problem(&reply, StatusCode::BAD_REQUEST, "query `wait`: `forever`", "bad wait");
    let reply = submit(&node, "/v1/txs?hurry=1", tx_body(&valid)).await;
    assert_problem(&reply, StatusCode::BAD_REQUEST, "unknown field `hurry`", "unknown query field");

    // Nothing changed: the mempool is empty, the store is at height 2 with the same root.
    assert!(node.mempool.lock().expect("lock").is_empty());
    assert_eq!(node.store.height().expect("height"), Height(2));
    let account = get(&node, &format!("/v1/accounts/{}", key(0).public_key().to_address())).await.json();
    assert_eq!(account["seq"], json!(1));
    let proof = get(
        &node,
        &format!(
            "/v1/state/proof?key={}",
            hex::encode(StateKey::balance(key(0).public_key(), acme()).to_bytes())
        ),
    )
    .await
    .json();
    assert_eq!(proof["root"], json!(root_before));

    // The valid transaction is then admitted (the refusals did not poison anything).
    let reply = submit(&node, "/v1/txs", tx_body(&valid)).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.text);
    assert_eq!(reply.json()["tx_id"], json!(valid.id()));
    assert!(node.mempool.lock().expect("lock").contains(&valid.id()));
    // Submitting it again is a conflict naming the id; a second seq-2 transaction too.
    let reply = submit(&node, "/v1/txs", tx_body(&valid)).await;
    assert_problem(&reply, StatusCode::CONFLICT, "already in the mempool", "duplicate");
    assert_eq!(reply.json()["tx_id"], json!(valid.id()));
    let reply = submit(&node, "/v1/txs", tx_body(&transfer(0, 2, 1, 7))).await;
    assert_problem(&reply, StatusCode::CONFLICT, "seq 2 from this account is already waiting", "seq taken");
    assert_eq!(node.mempool.lock().expect("lock").len(), 1);
    // Counted once each, by the engine: 1 admitted; refused: wrong chain, bad signature, key off
    // the curve, replayed seq, duplicate, seq taken. Requests refused before the engine count in
    // neither.
    let metrics = get(&node, "/metrics").await.text;
    assert_eq!(metric(&metrics, "tally_http_submitted_txs_total"), Some("1"), "{metrics}");
    assert_eq!(metric(&metrics, "tally_http_refused_txs_total"), Some("6"), "{metrics}");
}

/// Every account the ledger can record can be looked up. A mixed-order key (a torsion
/// component, not of small order) passes the key rule of transactions, so it can hold credits;
/// the account reads take it as they take any address. A key off the curve is still a precise 400.
#[tokio::test]
async fn every_account_the_ledger_can_record_can_be_looked_up() {
    let node = node(false, 2_000);
    let mixed_hex = "cdb267ce40c5cd45306fa5d2f29731459387dbf9eb933b7bd5aed9a765b88d4d";
    let mixed = PublicKey(hex::decode(mixed_hex).expect("hex").try_into().expect("32 bytes"));
    assert!(mixed.validate().is_ok() && mixed.validate_strict().is_err(), "the key is mixed-order");
    let off_curve = PublicKey([2; 32]);
    let reads = |address: &str| {
        vec![
            format!("/v1/accounts/{address}"),
            format!("/v1/accounts/{address}/offers"),
            format!("/v1/accounts/{address}/history"),
            format!("/v1/accounts/{address}/holds"),
            format!("/v1/authorizations/{address}/acme/ACME@acme"),
        ]
    };
    for address in [mixed.to_address(), mixed_hex.to_string()] {
        for uri in reads(&address) {
            let reply = get(&node, &uri).await;
            assert!(
                reply.status == StatusCode::OK || reply.status == StatusCode::NOT_FOUND,
                "{uri}: {} {}",
                reply.status,
                reply.text
            );
        }
        let account = get(&node, &format!("/v1/accounts/{address}")).await.json();
        assert_eq!(account["seq"], json!(0), "{address}: {account}");
    }
    for uri in reads(&off_curve.to_address()) {
        let reply = get(&node, &uri).await;
        assert_problem(&reply, StatusCode::BAD_REQUEST, "not a valid ed25519 point encoding", &uri);
    }
}

/// Asserts one result of a batch answer: the transaction's id, and `status` (202 for admitted,
/// else a problem whose detail contains `needle`).
fn assert_result(result: &Value, tx: &SignedTransaction, status: StatusCode, needle: &str, case: &str) {
    assert_eq!(result["tx_id"], json!(tx.id()), "{case}: {result}");
    assert_eq!(result["status"], json!(status.as_u16()), "{case}: {result}");
    if status == StatusCode::ACCEPTED {
        assert!(result.get("type").is_none(), "{case}: {result}");
        return;
    }
    assert!(result["type"].as_str().is_some_and(|t| t.starts_with("urn:tally:problem:")), "{case}: {result}");
    assert!(result["title"].is_string(), "{case}: {result}");
    let detail = result["detail"].as_str().unwrap_or_default();
    assert!(detail.contains(needle), "{case}: detail `{detail}` does not mention `{needle}`");
}

// Not split: one batch sent in both forms and read answer by answer against the same expectations.
#[tokio::test]
async fn a_batch_is_answered_per_transaction_in_order() {
    for form in ["json", "borsh"] {
        let node = node(false, 2_000);
        let mut forged = transfer(1, 2, 3, 100);
        forged.signature.0[0] ^= 1;
        let txs = vec![
            transfer(0, 2, 3, 100),
            forged,
            transfer(2, 1, 3, 100),
            // Committed in block 1: its seq is used.
            node.blocks[0].txs[0].clone(),
            // The next seq of the first one, in the same batch.
            transfer(0, 3, 3, 1),
        ];
        let send = |txs: &[SignedTransaction]| {
            let txs = txs.to_vec();
            let node = &node;
            async move {
                match form {
                    "json" => submit(node, "/v1/txs", json_batch(&txs)).await,
                    _ => submit_borsh(node, "/v1/txs", encode(&txs)).await,
                }
            }
        };
        let reply = send(&txs).await;
        assert_eq!(reply.status, StatusCode::OK, "{form}: {}", reply.text);
        assert_eq!(reply.content_type, "application/json", "{form}");
        let body = reply.json();
        assert_eq!(
            (body["accepted"].clone(), body["refused"].clone()),
            (json!(3), json!(2)),
            "{form}: {body}"
        );
        let results = body["results"].as_array().expect("results");
        assert_eq!(results.len(), txs.len(), "{form}");
        let expected = [
            (StatusCode::ACCEPTED, ""),
            (StatusCode::BAD_REQUEST, "signature does not verify"),
            (StatusCode::ACCEPTED, ""),
            (StatusCode::CONFLICT, "seq 1 was already used"),
            (StatusCode::ACCEPTED, ""),
        ];
        for (index, (result, (status, needle))) in results.iter().zip(expected).enumerate() {
            assert_result(result, &txs[index], status, needle, &format!("{form} [{index}]"));
        }
        assert_eq!(results[1]["type"], json!("urn:tally:problem:invalid-transaction"), "{form}");
        {
            let mempool = node.mempool.lock().expect("lock");
            assert_eq!(mempool.len(), 3, "{form}");
            for (index, tx) in txs.iter().enumerate() {
                assert_eq!(mempool.contains(&tx.id()), [0, 2, 4].contains(&index), "{form} [{index}]");
            }
        }

        // The same batch again: nothing is admitted twice, and each says why.
        let again = send(&txs).await.json();
        assert_eq!(again["accepted"], json!(0), "{form}: {again}");
        let results = again["results"].as_array().expect("results");
        assert_result(&results[0], &txs[0], StatusCode::CONFLICT, "already in the mempool", "again [0]");
        assert_result(
            &results[1],
            &txs[1],
            StatusCode::BAD_REQUEST,
            "signature does not verify",
            "again [1]",
        );
        assert_result(&results[4], &txs[4], StatusCode::CONFLICT, "already in the mempool", "again [4]");
        assert_eq!(node.mempool.lock().expect("lock").len(), 3, "{form}");

        // A batch of one is still a batch: 200 with one result.
        let one = transfer(3, 1, 0, 1);
        let reply = send(std::slice::from_ref(&one)).await;
        assert_eq!(reply.status, StatusCode::OK, "{form}: {}", reply.text);
        assert_result(&reply.json()["results"][0], &one, StatusCode::ACCEPTED, "", "batch of one");

        let metrics = get(&node, "/metrics").await.text;
        assert_eq!(metric(&metrics, "tally_http_submitted_txs_total"), Some("4"), "{form}: {metrics}");
        assert_eq!(metric(&metrics, "tally_http_refused_txs_total"), Some("7"), "{form}: {metrics}");
    }
}

// Not split: a table of cases checked in one loop; split up, the table would be scattered.
#[tokio::test]
async fn every_bad_batch_is_a_precise_problem_and_changes_nothing() {
    let node = node(false, 2_000);
    let valid = transfer(0, 2, 3, 100);
    let valid_hex = hex::encode(encode(&valid));
    let item = json!({ "tx": valid_hex });
    let over = TX_SUBMIT_BATCH_MAX + 1;
    let json_cases: Vec<(&str, Vec<u8>, StatusCode, String)> = vec![
        ("empty array", b" []".to_vec(), StatusCode::BAD_REQUEST, "the batch is empty".into()),
        (
            "malformed array",
            format!("[{item},").into_bytes(),
            StatusCode::BAD_REQUEST,
            "body: EOF while parsing".into(),
        ),
        (
            "a number in the array",
            json!([item, 5]).to_string().into_bytes(),
            StatusCode::BAD_REQUEST,
            "body[1] is a number; each element is an object".into(),
        ),
        (
            "an array in the array",
            json!([[item]]).to_string().into_bytes(),
            StatusCode::BAD_REQUEST,
            "body[0] is an array".into(),
        ),
        (
            "not hex in the array",
            json!([item, { "tx": "zz" }]).to_string().into_bytes(),
            StatusCode::BAD_REQUEST,
            "body[1]: field `tx`: not hex".into(),
        ),
        (
            "unknown field in the array",
            json!([item, { "tx": valid_hex, "fee": 1 }]).to_string().into_bytes(),
            StatusCode::BAD_REQUEST,
            "body[1]: unknown field `fee`".into(),
        ),
        (
            "truncated transaction in the array",
            json!([item, item, { "tx": hex::encode(&encode(&valid)[..40]) }]).to_string().into_bytes(),
            StatusCode::BAD_REQUEST,
            "body[2]: field `tx`: SignedTransaction".into(),
        ),
        (
            "too many",
            Value::Array(vec![json!({}); over]).to_string().into_bytes(),
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the batch holds {over} transactions; the limit is {TX_SUBMIT_BATCH_MAX} per request"),
        ),
    ];
    for (case, body, status, needle) in &json_cases {
        let reply = submit(&node, "/v1/txs", body.clone()).await;
        assert_problem(&reply, *status, needle, case);
    }
    let reply = submit(&node, "/v1/txs?wait=commit", json_batch(std::slice::from_ref(&valid))).await;
    assert_problem(
        &reply,
        StatusCode::BAD_REQUEST,
        "query `wait=commit` takes one transaction",
        "wait batch",
    );

    let count = |count: u32| count.to_le_bytes().to_vec();
    let with = |mut head: Vec<u8>, tail: &[u8]| {
        head.extend_from_slice(tail);
        head
    };
    let one = encode(&valid);
    let borsh_cases: Vec<(&str, Vec<u8>, StatusCode, String)> = vec![
        ("no count", vec![1, 0], StatusCode::BAD_REQUEST, "2 bytes, too short for the 4-byte count".into()),
        ("empty", count(0), StatusCode::BAD_REQUEST, "the batch is empty".into()),
        (
            "too many",
            count(over as u32),
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the batch holds {over} transactions; the limit is {TX_SUBMIT_BATCH_MAX}"),
        ),
        (
            "JSON sent as borsh",
            json_batch(std::slice::from_ref(&valid)),
            StatusCode::PAYLOAD_TOO_LARGE,
            "the body looks like JSON, which is sent as application/json".into(),
        ),
        (
            "fewer transactions than announced",
            with(count(2), &one),
            StatusCode::BAD_REQUEST,
            "borsh body[1]: SignedTransaction does not decode".into(),
        ),
        (
            "truncated transaction",
            with(count(1), &one[..40]),
            StatusCode::BAD_REQUEST,
            "borsh body[0]: SignedTransaction does not decode".into(),
        ),
        (
            "garbage",
            with(count(3), &[0xff; 300]),
            StatusCode::BAD_REQUEST,
            "borsh body[0]: SignedTransaction does not decode".into(),
        ),
        (
            "trailing bytes",
            with(with(count(1), &one), &[0]),
            StatusCode::BAD_REQUEST,
            "borsh body: 1 trailing bytes after the 1 transactions".into(),
        ),
    ];
    for (case, body, status, needle) in &borsh_cases {
        let reply = submit_borsh(&node, "/v1/txs", body.clone()).await;
        assert_problem(&reply, *status, needle, case);
    }

    // Nothing reached the mempool; the valid transaction is then admitted in a batch.
    assert!(node.mempool.lock().expect("lock").is_empty());
    let reply = submit_borsh(&node, "/v1/txs", with(count(1), &one)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.json()["accepted"], json!(1));
    assert!(node.mempool.lock().expect("lock").contains(&valid.id()));
}

#[tokio::test]
async fn a_batch_holds_at_most_tx_submit_batch_max_and_fits_the_default_body_limit() {
    // The node's default body limit (`http.body_bytes_max`).
    let node = node_with_body_limit(false, 30_000, 1024 * 1024);
    // Consecutive seqs of one account: account 0 has committed seq 1.
    let txs: Vec<SignedTransaction> =
        (0..=TX_SUBMIT_BATCH_MAX as u64).map(|index| transfer(0, 2 + index, 1, 1)).collect();
    let reply = submit_borsh(&node, "/v1/txs", encode(&txs)).await;
    assert_problem(&reply, StatusCode::PAYLOAD_TOO_LARGE, "the limit is 1000 per request", "borsh 1001");
    let reply = submit(&node, "/v1/txs", json_batch(&txs)).await;
    assert_problem(&reply, StatusCode::PAYLOAD_TOO_LARGE, "the limit is 1000 per request", "JSON 1001");
    assert!(node.mempool.lock().expect("lock").is_empty());

    // Exactly the limit, as JSON (the larger form): every one admitted, in order.
    let full = &txs[..TX_SUBMIT_BATCH_MAX];
    let body = json_batch(full);
    assert!(body.len() < 1024 * 1024, "{} bytes", body.len());
    let reply = submit(&node, "/v1/txs", body).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let answer = reply.json();
    assert_eq!(answer["accepted"], json!(TX_SUBMIT_BATCH_MAX));
    let results = answer["results"].as_array().expect("results");
    assert_eq!(results.len(), TX_SUBMIT_BATCH_MAX);
    for (result, tx) in results.iter().zip(full) {
        assert_result(result, tx, StatusCode::ACCEPTED, "", "full batch");
    }
    assert_eq!(node.mempool.lock().expect("lock").len(), TX_SUBMIT_BATCH_MAX);
}

#[tokio::test]
async fn bad_reads_are_precise_problems() {
    let node = node(false, 2_000);
    let unknown_tx = TxId(Hash([9; 32]));
    let cases: Vec<(String, StatusCode, &str)> = vec![
        ("/v1/nothing".into(), StatusCode::NOT_FOUND, "no route `/v1/nothing`"),
        ("/v1/assets/NOPE@acme".into(), StatusCode::NOT_FOUND, "no asset `NOPE@acme`"),
        ("/v1/assets/nope".into(), StatusCode::BAD_REQUEST, "`nope` is not an asset id"),
        ("/v1/assets?limit=0".into(), StatusCode::BAD_REQUEST, "query `limit`: 0 is outside"),
        ("/v1/assets?limit=1000000".into(), StatusCode::BAD_REQUEST, "query `limit`: 1000000 is outside"),
        ("/v1/assets?after=x".into(), StatusCode::BAD_REQUEST, "query `after`: `x` is not an asset id"),
        (
            "/v1/accounts/xyz".into(),
            StatusCode::BAD_REQUEST,
            "`xyz` is not an address: address is not valid bech32m",
        ),
        (format!("/v1/accounts/{}", "00".repeat(32)), StatusCode::BAD_REQUEST, "weak"),
        ("/v1/blocks/abc".into(), StatusCode::BAD_REQUEST, "`abc` is not a block height"),
        ("/v1/blocks/-1".into(), StatusCode::BAD_REQUEST, "`-1` is not a block height"),
        ("/v1/blocks/0".into(), StatusCode::NOT_FOUND, "genesis"),
        ("/v1/blocks/99".into(), StatusCode::NOT_FOUND, "no block at height 99; the committed height is 2"),
        ("/v1/blocks/3/certificate".into(), StatusCode::NOT_FOUND, "no block at height 3"),
        ("/v1/blocks/x/certificate".into(), StatusCode::BAD_REQUEST, "`x` is not a block height"),
        ("/v1/txs/123".into(), StatusCode::BAD_REQUEST, "`123` is not a tx id"),
        (format!("/v1/txs/{unknown_tx}"), StatusCode::NOT_FOUND, "is not in a committed block"),
        ("/v1/state/proof".into(), StatusCode::BAD_REQUEST, "missing field `key`"),
        ("/v1/state/proof?key=zz".into(), StatusCode::BAD_REQUEST, "query `key`: not hex"),
        ("/v1/state/proof?key=ff00".into(), StatusCode::BAD_REQUEST, "query `key`: StateKey"),
        ("/v1/governance/proposals/xyz".into(), StatusCode::BAD_REQUEST, "`xyz` is not a proposal id"),
        (format!("/v1/governance/proposals/{}", "ab".repeat(16)), StatusCode::NOT_FOUND, "no proposal abab"),
        (
            "/v1/governance/proposals?limit=0".into(),
            StatusCode::BAD_REQUEST,
            "query `limit`: `0` is not a whole number in 1..=100",
        ),
        ("/v1/governance/proposals?limit=101".into(), StatusCode::BAD_REQUEST, "1..=100"),
        (
            "/v1/governance/proposals?after=q".into(),
            StatusCode::BAD_REQUEST,
            "query `after`: `q` is not a proposal id",
        ),
        ("/v1/governance/proposals?sort=x".into(), StatusCode::BAD_REQUEST, "unknown field `sort`"),
        ("/v1/epochs?after=q".into(), StatusCode::BAD_REQUEST, "query `after`: `q` is not an epoch number"),
        ("/v1/epochs?limit=1".into(), StatusCode::BAD_REQUEST, "unknown field `limit`"),
    ];
    for (uri, status, needle) in &cases {
        let reply = get(&node, uri).await;
        assert_problem(&reply, *status, needle, uri);
    }
    let reply = call(&node, Method::GET, "/v1/txs", None).await;
    assert_problem(
        &reply,
        StatusCode::METHOD_NOT_ALLOWED,
        "`GET` is not allowed on `/v1/txs`",
        "wrong method",
    );
    let reply = call(&node, Method::DELETE, "/v1/status", None).await;
    assert_problem(&reply, StatusCode::METHOD_NOT_ALLOWED, "`DELETE`", "wrong method");
    assert!(node.mempool.lock().expect("lock").is_empty());
    assert_eq!(node.store.height().expect("height"), Height(2));
}

#[tokio::test]
async fn governance_reads_show_members_and_epochs_with_proofs() {
    let node = node(false, 2_000);
    let reply = get(&node, "/v1/governance").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let body = &reply.json();
    assert_eq!(body["height"], 2);
    assert_eq!(body["governance"]["value_decoded"]["active_members"], 2);
    assert_eq!(body["governance"]["value_decoded"]["threshold"], json!({ "numerator": 2, "denominator": 3 }));
    assert_eq!(body["members"][0]["id"], "acme");
    assert_eq!(
        body["members"][0]["governance_key"],
        SecretKey::from_seed(&[1; 32]).public_key().to_address()
    );
    assert_eq!(body["members"][0]["removed_at"], Value::Null);
    // This ledger was made without validators (an API test): no epochs entry, proven absent.
    assert_eq!(body["epochs"]["value"], Value::Null);
    assert!(body["epochs"]["proof"].is_object(), "{}", body["epochs"]);
    // No epoch has ended: the chain of trust through the epochs is empty.
    let epochs = get(&node, "/v1/epochs").await;
    assert_eq!(epochs.status, StatusCode::OK, "{}", epochs.text);
    assert_eq!((epochs.json()["epochs"].clone(), epochs.json()["next"].clone()), (json!([]), Value::Null));
    let proposals = get(&node, "/v1/governance/proposals").await;
    assert_eq!(proposals.status, StatusCode::OK);
    assert_eq!(proposals.json()["proposals"], json!([]));
    assert_eq!(proposals.json()["next"], Value::Null);

    // A proposal of acme's, open until height 4: one yes of two members does not pass it.
    let acme = SecretKey::from_seed(&[1; 32]);
    let id = tally_types::OpId([0xaa; 16]);
    let threshold = tally_types::governance::Threshold { numerator: 3, denominator: 4 };
    let action = tally_types::governance::Action::SetThreshold { threshold };
    let propose = Op::Propose(Box::new(tally_types::governance::Propose {
        proposal_id: id,
        action,
        expires_at_height: Height(4),
    }));
    let tx = Transaction {
        chain_id: chain(),
        signer: acme.public_key(),
        seq: 1,
        valid_until_height: Height(100),
        ops: BoundedVec::new(vec![propose]).expect("one op"),
        memo: BoundedBytes::empty(),
    }
    .sign(&acme);
    commit(&node.store, vec![tx]);
    let uri = format!("/v1/governance/proposals/{id}");
    let shown = get(&node, &uri).await.json();
    assert_eq!(
        (shown["height"].clone(), shown["status"].clone(), shown["yes"].clone()),
        (json!(3), json!("open"), json!(1))
    );
    assert!(shown["entry"]["proof"].is_object(), "{shown}");
    // At its expiry height no later block can take a vote: it shows as expired.
    commit(&node.store, vec![]);
    let shown = get(&node, &uri).await.json();
    assert_eq!((shown["height"].clone(), shown["status"].clone()), (json!(4), json!("expired")));
    let listed = get(&node, "/v1/governance/proposals").await.json();
    assert_eq!(listed["proposals"][0]["proposal_id"], json!(id));
}

// Not split: one read per route against one node, each a few lines; the list is the test.
#[tokio::test]
async fn reads_return_committed_state_with_proofs_that_verify() {
    let node = node(false, 2_000);
    // Accounts: human and minor amounts; an unknown account has seq 0 and no balances.
    let account = get(&node, &format!("/v1/accounts/{}", key(0).public_key().to_address())).await;
    assert_eq!(account.status, StatusCode::OK, "{}", account.text);
    let account = account.json();
    assert_eq!(account["seq"], json!(1));
    assert_eq!(account["height"], json!(2));
    assert_eq!(
        account["balances"],
        json!([{ "asset": "ACME@acme", "scale": 2, "available": "97.5", "available_minor": "9750",
                 "locked": "0", "locked_minor": "0" }])
    );
    let by_hex = get(&node, &format!("/v1/accounts/{}", key(0).public_key().to_hex())).await.json();
    assert_eq!(by_hex, account);
    let stranger = get(&node, &format!("/v1/accounts/{}", key(50).public_key().to_address())).await.json();
    assert_eq!(stranger["seq"], json!(0));
    assert_eq!(stranger["balances"], json!([]));

    // Assets.
    let assets = get(&node, "/v1/assets").await.json();
    assert_eq!(assets["assets"].as_array().map(Vec::len), Some(1));
    assert_eq!(assets["next"], Value::Null);
    let asset = get(&node, "/v1/assets/ACME@acme").await.json();
    assert_eq!(asset["supply"], json!("400"));
    assert_eq!(asset["supply_minor"], json!("40000"));
    assert_eq!(asset["scale"], json!(2));
    assert_eq!(assets["assets"][0]["supply"], asset["supply"]);

    // Blocks and certificates.
    let block = get(&node, "/v1/blocks/2").await.json();
    assert_eq!(block["block_id"], json!(node.blocks[1].id()));
    let header: tally_types::Header =
        serde_json::from_value(block["block"]["header"].clone()).expect("a header");
    assert_eq!(header, node.blocks[1].header);
    let listed = block["block"]["txs"].as_array().expect("txs");
    assert_eq!(listed.len(), node.blocks[1].txs.len());
    for (shown, tx) in listed.iter().zip(node.blocks[1].txs.iter()) {
        assert_eq!(shown, &tx_shape(tx), "a block's transaction in the one shape");
    }
    let certificate = get(&node, "/v1/blocks/1/certificate").await.json();
    let certificate: Certificate = serde_json::from_value(certificate["certificate"].clone()).expect("cert");
    assert_eq!(certificate.subject, Subject::Finalize { view: View(1), block_id: node.blocks[0].id() });

    // A committed transaction: receipt and an inclusion proof against the header's tx root.
    let tx = &node.blocks[0].txs[0];
    let found = get(&node, &format!("/v1/txs/{}", tx.id())).await;
    assert_eq!(found.status, StatusCode::OK, "{}", found.text);
    let found = found.json();
    assert_eq!(found["height"], json!(1));
    assert_eq!(found["index"], json!(0));
    assert_eq!(found["receipt"]["outcome"]["status"], json!("success"));
    assert_eq!(found["tx"], json!(hex::encode(encode(tx))));
    let fields = tx_shape(tx);
    for (name, value) in fields.as_object().expect("an object") {
        assert_eq!(&found[name], value, "`{name}` of GET /v1/txs/{{id}} is the one shape's");
    }
    let with_receipt = get(&node, &format!("/v1/txs/{}/receipt", tx.id())).await.json();
    for (name, value) in fields.as_object().expect("an object") {
        assert_eq!(&with_receipt[name], value, "`{name}` of the receipt route is the one shape's");
    }
    let proof: MerkleProof = serde_json::from_value(found["proof"].clone()).expect("proof");
    proof.verify(merkle_leaf(tx.id().0.as_bytes()), &node.blocks[0].header.tx_root).expect("inclusion");
    assert!(proof.verify(merkle_leaf(&[0; 32]), &node.blocks[0].header.tx_root).is_err());

    // State proofs, present and absent, verify against the root of the header at that height.
    for (state_key, present) in [
        (StateKey::balance(key(0).public_key(), acme()), true),
        (StateKey::Account { account: key(1).public_key() }, true),
        (StateKey::balance(key(50).public_key(), acme()), false),
    ] {
        let reply = get(&node, &format!("/v1/state/proof?key={}", hex::encode(state_key.to_bytes()))).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        let body = reply.json();
        assert_eq!(body["height"], json!(2));
        let root: Hash = serde_json::from_value(body["root"].clone()).expect("root");
        assert_eq!(root, node.blocks[1].header.state_root);
        let value = body["value"].as_str().map(|text| hex::decode(text).expect("hex"));
        assert_eq!(value.is_some(), present, "{state_key:?}");
        let proof: SmtProof = serde_json::from_value(body["proof"].clone()).expect("proof");
        verify_state_proof(&root, &state_key, value.as_deref(), &proof).expect("verifies");
        // The proof does not prove another value.
        let other = tally_ledger::StateValue::Account(tally_ledger::AccountState { seq: 77 }).to_bytes();
        assert!(verify_state_proof(&root, &state_key, Some(&other), &proof).is_err());
    }
}

#[tokio::test]
async fn wait_for_commit_returns_the_receipt() {
    let node = node(true, 10_000);
    let tx = transfer(2, 1, 0, 1_234);
    let reply = submit(&node, "/v1/txs?wait=commit", tx_body(&tx)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let body = reply.json();
    assert_eq!(body["tx_id"], json!(tx.id()));
    assert_eq!(body["height"], json!(3));
    assert_eq!(body["receipt"]["outcome"]["status"], json!("success"));
    let account = get(&node, &format!("/v1/accounts/{}", key(2).public_key().to_address())).await.json();
    assert_eq!(account["seq"], json!(1));
    // 100.00 + 0.05 received in block 2, − 12.34 sent now.
    assert_eq!(account["balances"][0]["available"], json!("87.71"));
}

#[tokio::test]
async fn wait_for_commit_times_out_with_the_tx_id() {
    let node = node(false, 200);
    let tx = transfer(3, 1, 0, 1);
    let reply = submit(&node, "/v1/txs?wait=commit", tx_body(&tx)).await;
    assert_problem(
        &reply,
        StatusCode::GATEWAY_TIMEOUT,
        "was admitted but not committed within 200 ms",
        "timeout",
    );
    assert_eq!(reply.json()["tx_id"], json!(tx.id()));
    // Admitted all the same: it waits in the mempool.
    assert!(node.mempool.lock().expect("lock").contains(&tx.id()));
}

#[tokio::test]
async fn status_readiness_validators_and_metrics() {
    let node = node(false, 2_000);
    let health = get(&node, "/health").await;
    assert_eq!(health.status, StatusCode::OK);

    node.status.send_replace(NodeStatus {
        height: Height(2),
        peers: 3,
        syncing: true,
        ..NodeStatus::default()
    });
    assert_problem(&get(&node, "/ready").await, StatusCode::SERVICE_UNAVAILABLE, "syncing", "syncing");
    node.status.send_replace(NodeStatus { height: Height(2), peers: 1, ..NodeStatus::default() });
    assert_problem(
        &get(&node, "/ready").await,
        StatusCode::SERVICE_UNAVAILABLE,
        "1 peers connected; 2 needed",
        "peers",
    );
    node.status.send_replace(NodeStatus {
        height: Height(2),
        view: View(7),
        peers: 2,
        mempool_txs: 0,
        syncing: false,
    });
    assert_eq!(get(&node, "/ready").await.status, StatusCode::OK);

    let status = get(&node, "/v1/status").await.json();
    assert_eq!(status["committed_height"], json!(2));
    assert_eq!(status["view"], json!(7));
    assert_eq!(status["chain_id"], json!("tally-api-test"));
    assert_eq!(status["quorum"], json!(3));

    let listed = get(&node, "/v1/validators").await.json();
    assert_eq!(listed["validators"].as_array().map(Vec::len), Some(4));
    assert_eq!(listed["validators_hash"], json!(validators().hash()));

    node.metrics.height.set(2);
    node.metrics.block_fsync_seconds.observe(0.004);
    let reply = get(&node, "/metrics").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(reply.content_type.starts_with("application/openmetrics-text"), "{}", reply.content_type);
    // Exact values of whole samples, not substrings ("tally_height 2" is also in "… 20").
    for (name, value) in [
        ("tally_height", "2"),
        ("tally_view", "0"),
        ("tally_nullified_views_total", "0"),
        ("tally_mempool_txs", "0"),
        ("tally_peers", "0"),
        ("tally_block_fsync_seconds_count", "1"),
        ("tally_block_fsync_seconds_sum", "0.004"),
        ("tally_http_submitted_txs_total", "0"),
        ("tally_http_refused_txs_total", "0"),
    ] {
        assert_eq!(metric(&reply.text, name), Some(value), "{name} in:\n{}", reply.text);
    }
    assert!(reply.text.contains("tally_commit_latency_seconds_bucket{le="), "{}", reply.text);
}

/// The value of the sample `name` (no labels) in an OpenMetrics text, if it is there.
fn metric<'t>(text: &'t str, name: &str) -> Option<&'t str> {
    text.lines().find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
}

/// The available balance (minor units) of `account` in its first asset.
async fn available_minor(node: &Node, account: &str) -> Value {
    get(node, &format!("/v1/accounts/{account}")).await.json()["balances"][0]["available_minor"].clone()
}

/// Serves the node's router on a local socket; its base URL.
async fn serve(node: &Node) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    let router = node.router.clone();
    tokio::spawn(async move { axum::serve(listener, router).await });
    url
}

/// Runs the `tally` binary (off the runtime's thread, which serves the node).
async fn run_tally(
    bin: std::path::PathBuf,
    keystore: std::path::PathBuf,
    url: String,
    args: Vec<String>,
) -> std::process::Output {
    tokio::task::spawn_blocking(move || {
        std::process::Command::new(bin)
            .args(args)
            .env("TALLY_KEYSTORE", keystore)
            .env("TALLY_PASSPHRASE", "grants")
            .env("TALLY_NODE", url)
            .stdin(std::process::Stdio::null())
            .output()
            .expect("the tally binary runs")
    })
    .await
    .expect("joins")
}

/// `tally grant --csv` against this API served on a socket: 1,001 rows go out as two batches
/// (the second after the first committed), every row is reported; with `--wait` each row's
/// receipt is read, and a re-run of the same grant ids commits but fails row by row.
// Not split: one story on one running network, each step starting from the state the last one left.
#[tokio::test]
async fn tally_grant_csv_sends_batches_and_reports_each_row() {
    let bin = common::tally_binary();
    // The node's default body limit, which a full batch of grants fits.
    let node = node_with_body_limit(true, 10_000, 1024 * 1024);
    let url = serve(&node).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let keystore = dir.path().join("keys");
    let tally = |args: Vec<String>| run_tally(bin.clone(), keystore.clone(), url.clone(), args);
    let args = |text: &str| text.split(' ').map(str::to_owned).collect::<Vec<_>>();
    let seed = dir.path().join("issuer.hex");
    std::fs::write(&seed, hex::encode([1u8; 32])).expect("seed");
    let imported = tally(args(&format!("keys import acme-issuer --file {}", seed.display()))).await;
    assert!(imported.status.success(), "{}", String::from_utf8_lossy(&imported.stderr));
    let created = tally(args("--json keys new dev1")).await;
    let dev1: Value = serde_json::from_slice(&created.stdout).expect("JSON");
    let dev1 = dev1["address"].as_str().expect("address").to_owned();
    let dev2 = key(50).public_key();

    // 1,001 purchases: even rows to the key name dev1, odd rows to dev2's address.
    let mut csv = String::from("to,amount,kind,reason,grant_id,external_ref\n");
    for row in 0..=TX_SUBMIT_BATCH_MAX {
        let to = if row % 2 == 0 { "dev1".to_owned() } else { dev2.to_address() };
        csv.push_str(&format!("{to},0.01,purchase,,{row:032x},order-{row}\n"));
    }
    let big = dir.path().join("big.csv");
    std::fs::write(&big, csv).expect("csv");
    let grant = format!("--json grant --asset ACME@acme --from acme-issuer --csv {}", big.display());
    let output = tally(args(&grant)).await;
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let report: Value = serde_json::from_slice(&output.stdout).expect("JSON report");
    assert_eq!(report["admitted"], json!(TX_SUBMIT_BATCH_MAX + 1), "{}", report["stopped"]);
    assert_eq!(report["first_seq"], json!(1));
    let rows = report["rows"].as_array().expect("rows");
    assert_eq!(rows.len(), TX_SUBMIT_BATCH_MAX + 1);
    for (index, row) in rows.iter().enumerate() {
        assert_eq!(row["line"], json!(index + 2));
        assert_eq!(row["seq"], json!(index + 1));
        assert_eq!(row["status"], json!("admitted"), "{row}");
        assert_eq!(row["grant_id"], json!(format!("{index:032x}")));
    }
    assert_eq!(rows[0]["to"], json!(dev1));
    assert_eq!(rows[1]["to"], json!(dev2.to_address()));
    // One block per request: 1,000, then 1 after the first committed.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while node.store.height().expect("height") < Height(4) {
        assert!(std::time::Instant::now() < deadline, "the second batch was not committed");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(node.store.height().expect("height"), Height(4));
    assert_eq!(node.store.block(Height(3)).expect("read").expect("block 3").txs.len(), TX_SUBMIT_BATCH_MAX);
    assert_eq!(available_minor(&node, &dev1).await, json!("501"));
    assert_eq!(available_minor(&node, &dev2.to_address()).await, json!("500"));

    // With --wait: each row's receipt. The same grant ids again: committed, failed, exit 1.
    let small = dir.path().join("small.csv");
    let rows = format!(
        "to,amount,kind,reason,grant_id\ndev1,1,reward,client-library,{:032x}\n{},2,promo,,{:032x}\n",
        5_000,
        dev2.to_address(),
        5_001
    );
    std::fs::write(&small, rows).expect("csv");
    let grant = format!("--json grant --asset ACME@acme --from acme-issuer --wait --csv {}", small.display());
    let output = tally(args(&grant)).await;
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let report: Value = serde_json::from_slice(&output.stdout).expect("JSON report");
    for (index, row) in report["rows"].as_array().expect("rows").iter().enumerate() {
        assert_eq!(row["status"], json!("committed"), "{row}");
        assert_eq!(row["seq"], json!(1_002 + index));
        assert_eq!(row["height"], json!(5));
    }
    assert_eq!(available_minor(&node, &dev1).await, json!("601"));

    let output = tally(args(&grant)).await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("2 grant(s) committed but failed"), "{stderr}");
    let report: Value = serde_json::from_slice(&output.stdout).expect("JSON report");
    for row in report["rows"].as_array().expect("rows") {
        assert_eq!(
            (row["status"].clone(), row["error"].clone()),
            (json!("failed"), json!("duplicate_grant_id"))
        );
    }
    assert_eq!(available_minor(&node, &dev1).await, json!("601"));
}

/// A node whose body limit is below the default answers 413 to a full request; the client
/// sends it again in halves, and every row is admitted.
#[tokio::test]
async fn tally_grant_csv_halves_a_batch_the_node_finds_too_large() {
    let bin = common::tally_binary();
    let node = node_with_body_limit(true, 10_000, 16 * 1024);
    let url = serve(&node).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let keystore = dir.path().join("keys");
    let tally = |args: Vec<String>| run_tally(bin.clone(), keystore.clone(), url.clone(), args);
    let seed = dir.path().join("issuer.hex");
    std::fs::write(&seed, hex::encode([1u8; 32])).expect("seed");
    let imported = tally(vec![
        "keys".into(),
        "import".into(),
        "acme-issuer".into(),
        "--file".into(),
        seed.display().to_string(),
    ])
    .await;
    assert!(imported.status.success(), "{}", String::from_utf8_lossy(&imported.stderr));
    let to = key(50).public_key().to_address();
    let mut csv = String::from("to,amount,kind,reason\n");
    for _ in 0..200 {
        csv.push_str(&format!("{to},1,promo,\n"));
    }
    let path = dir.path().join("grants.csv");
    std::fs::write(&path, csv).expect("csv");
    let output = tally(vec![
        "--json".into(),
        "grant".into(),
        "--asset".into(),
        "ACME@acme".into(),
        "--from".into(),
        "acme-issuer".into(),
        "--csv".into(),
        path.display().to_string(),
    ])
    .await;
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let report: Value = serde_json::from_slice(&output.stdout).expect("JSON report");
    assert_eq!(report["admitted"], json!(200), "{report}");
    // 200 grants (~60 KB as borsh) cannot go in one 16 KiB request: several blocks committed.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while available_minor(&node, &to).await != json!("20000") {
        assert!(std::time::Instant::now() < deadline, "not all grants committed");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(node.store.height().expect("height") > Height(3));
}

/// The one JSON shape of a transaction, built here from the types' own JSON (not from the
/// node's `tx_json`): the id, the signed fields, the signature, and the canonical bytes in hex.
fn tx_shape(tx: &SignedTransaction) -> Value {
    let mut shape = serde_json::to_value(&tx.tx).expect("a transaction is JSON");
    shape["tx_id"] = json!(tx.id());
    shape["signature"] = json!(tx.signature);
    shape["tx"] = json!(hex::encode(encode(tx)));
    shape
}

/// The node's HTTP server ([`tally_node::http_server`]) in front of the real router, on a
/// loopback socket, with short limits.
async fn serve_with_limits(node: &Node, limits: tally_node::http_server::HttpLimits) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(tally_node::http_server::serve(listener, node.router.clone(), limits));
    addr
}

fn short_limits(connections_max: usize) -> tally_node::http_server::HttpLimits {
    tally_node::http_server::HttpLimits {
        header_read_timeout: std::time::Duration::from_millis(300),
        body_read_timeout: std::time::Duration::from_millis(300),
        connections_max,
    }
}

/// Reads what the server sends until it closes the connection, or `None` if it is still open
/// after `wait`.
async fn read_until_closed(stream: &mut tokio::net::TcpStream, wait: std::time::Duration) -> Option<String> {
    use tokio::io::AsyncReadExt;
    let mut received = Vec::new();
    match tokio::time::timeout(wait, stream.read_to_end(&mut received)).await {
        Ok(_) => Some(String::from_utf8_lossy(&received).into_owned()),
        Err(_) => None,
    }
}

/// An answer read off the wire: status and the problem document.
fn wire_problem(answer: &str) -> (u16, Value) {
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or_else(|| panic!("no head: {answer:?}"));
    let status = head.split(' ').nth(1).and_then(|code| code.parse().ok()).expect("a status");
    assert!(head.to_ascii_lowercase().contains(&format!("content-type: {PROBLEM_JSON}")), "{head}");
    (status, serde_json::from_str(body).unwrap_or_else(|error| panic!("not JSON ({error}): {body}")))
}

#[tokio::test]
async fn idle_half_sent_and_kept_alive_connections_are_closed_after_the_header_timeout() {
    use tokio::io::AsyncWriteExt;
    let node = node(false, 1_000);
    let addr = serve_with_limits(&node, short_limits(64)).await;
    let patience = std::time::Duration::from_secs(5);

    let mut idle = tokio::net::TcpStream::connect(addr).await.expect("connect");
    assert_eq!(read_until_closed(&mut idle, patience).await.as_deref(), Some(""), "an idle connection");

    let mut half = tokio::net::TcpStream::connect(addr).await.expect("connect");
    half.write_all(b"GET /v1/status HTTP/1.1\r\nHost: node\r\n").await.expect("write");
    assert!(read_until_closed(&mut half, patience).await.is_some(), "a half-sent head");

    let mut kept = tokio::net::TcpStream::connect(addr).await.expect("connect");
    kept.write_all(b"GET /v1/status HTTP/1.1\r\nHost: node\r\n\r\n").await.expect("write");
    let answer = read_until_closed(&mut kept, patience).await.expect("closed once idle after its answer");
    assert!(answer.starts_with("HTTP/1.1 200 OK"), "the request itself is answered: {answer}");
}

#[tokio::test]
async fn a_slow_body_gets_408_and_a_long_uri_414_as_problems() {
    use tokio::io::AsyncWriteExt;
    let node = node(false, 1_000);
    let addr = serve_with_limits(&node, short_limits(64)).await;
    let patience = std::time::Duration::from_secs(5);

    let mut slow = tokio::net::TcpStream::connect(addr).await.expect("connect");
    slow.write_all(b"POST /v1/txs HTTP/1.1\r\nHost: node\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{\"tx\":")
        .await
        .expect("write");
    let answer = read_until_closed(&mut slow, patience).await.expect("answered and closed");
    let (status, problem) = wire_problem(&answer);
    assert_eq!(
        (status, problem["type"].as_str()),
        (408, Some("urn:tally:problem:body-timeout")),
        "{problem}"
    );

    // Over hyper's own limit of 65,534 bytes: hyper answers before any route runs.
    let mut long = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let request = format!("GET /v1/txs/{} HTTP/1.1\r\nHost: node\r\n\r\n", "a".repeat(100_000));
    long.write_all(request.as_bytes()).await.expect("write");
    let answer = read_until_closed(&mut long, patience).await.expect("answered and closed");
    let (status, problem) = wire_problem(&answer);
    assert_eq!(
        (status, problem["type"].as_str()),
        (414, Some("urn:tally:problem:uri-too-long")),
        "{problem}"
    );

    // A head hyper cannot parse.
    let mut garbage = tokio::net::TcpStream::connect(addr).await.expect("connect");
    garbage.write_all(b"\x16\x03\x01 not http at all\r\n\r\n").await.expect("write");
    let answer = read_until_closed(&mut garbage, patience).await.expect("answered and closed");
    assert_eq!(wire_problem(&answer).0, 400, "{answer}");
}

#[tokio::test]
async fn a_connection_over_the_limit_gets_503_and_a_freed_slot_is_served_again() {
    use tokio::io::AsyncWriteExt;
    let node = node(false, 1_000);
    let addr = serve_with_limits(&node, short_limits(2)).await;
    let patience = std::time::Duration::from_secs(5);
    let first = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let _second = tokio::net::TcpStream::connect(addr).await.expect("connect");
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    let mut third = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let answer = read_until_closed(&mut third, patience).await.expect("refused at once");
    let (status, problem) = wire_problem(&answer);
    assert_eq!((status, problem["type"].as_str()), (503, Some("urn:tally:problem:busy")), "{problem}");
    assert!(answer.to_ascii_lowercase().contains("retry-after: 1"), "{answer}");

    drop(first);
    // The idle second connection is closed by the header timeout too; then both slots are free.
    tokio::time::sleep(std::time::Duration::from_millis(600)).await;
    let mut again = tokio::net::TcpStream::connect(addr).await.expect("connect");
    again.write_all(b"GET /health HTTP/1.1\r\nHost: node\r\nconnection: close\r\n\r\n").await.expect("write");
    let answer = read_until_closed(&mut again, patience).await.expect("answered");
    assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer}");
}

/// Flips one bit of every copy of `needle` in the file at `path`; returns how many there were.
fn flip_every_copy(path: &std::path::Path, needle: &[u8]) -> usize {
    let mut bytes = std::fs::read(path).expect("read");
    let mut found = 0;
    let mut at = 0;
    while let Some(position) = bytes[at..].windows(needle.len()).position(|window| window == needle) {
        bytes[at + position + 9] ^= 0x01;
        found += 1;
        at += position + needle.len();
    }
    std::fs::write(path, bytes).expect("write");
    found
}

fn run_check(data: &std::path::Path) -> (bool, String) {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_tally-node"))
        .args(["check", "--data"])
        .arg(data)
        .output()
        .expect("run tally-node check");
    let text =
        format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    (output.status.success(), text)
}

#[tokio::test]
async fn tally_node_check_lists_every_record_a_flipped_byte_damaged() {
    let node = node(false, 1_000);
    let signature = node.blocks[1].txs[0].signature.0;
    // A copy of the data file as it stands (every commit was durable when made).
    let copy = tempfile::tempdir().expect("tempdir");
    std::fs::copy(node.store.path(), copy.path().join("node.redb")).expect("copy");
    let (clean, text) = run_check(copy.path());
    assert!(clean, "{text}");
    assert!(text.contains("checked 2 of 2 heights") && text.contains("no problem found"), "{text}");

    // The signature of block 2's transaction, which no root in the header covers.
    assert!(flip_every_copy(&copy.path().join("node.redb"), &signature) >= 1);
    let (clean, text) = run_check(copy.path());
    assert!(!clean, "a damaged store fails the check: {text}");
    assert!(text.contains("bad: blocks 2: its bytes differ from the checksum"), "{text}");
    assert!(!text.contains("bad: blocks 1"), "block 1 is intact: {text}");
    assert!(text.contains("1 problems"), "{text}");

    let (clean, text) = run_check(&copy.path().join("missing"));
    assert!(!clean && text.contains("no such data file"), "{text}");
}

/// Equivocation evidence a node stored (the engine writes `Effect::Evidence` to the store) is
/// served at `GET /v1/evidence` with both signed messages, oldest view first, in pages; the
/// same record stored twice is kept once.
#[tokio::test]
async fn evidence_is_stored_once_and_served_in_pages() {
    let node = node(false, 1_000);
    let signer = key(9);
    let vote = |view: u64, salt: u8| {
        let subject =
            Subject::Notarize { view: View(view), block_id: tally_types::BlockId(Hash([salt; 32])) };
        Box::new(tally_types::Vote {
            subject,
            signer: tally_types::ValidatorIndex(2),
            signature: subject.sign(&chain(), &signer),
        })
    };
    let record = |view: u64| {
        borsh::to_vec(&tally_consensus::Evidence::ConflictingVotes {
            first: vote(view, 1),
            second: vote(view, 2),
        })
        .expect("encode")
    };
    assert!(node.store.evidence_put(7, &record(7)).expect("put"));
    assert!(!node.store.evidence_put(7, &record(7)).expect("put again"), "kept once");
    assert!(node.store.evidence_put(3, &record(3)).expect("put"));

    let first = get(&node, "/v1/evidence?limit=1").await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text);
    let first = first.json();
    let listed = first["evidence"].as_array().expect("a list");
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["view"], 3, "oldest view first");
    assert_eq!(listed[0]["kind"], "conflicting_votes");
    assert_eq!(listed[0]["signer"], 2);
    assert_ne!(listed[0]["first"], listed[0]["second"], "both messages");
    assert_eq!(listed[0]["first"]["signer"], 2);
    let next = first["next"].as_str().expect("a next page");
    let second = get(&node, &format!("/v1/evidence?limit=1&after={next}")).await.json();
    assert_eq!(second["evidence"][0]["view"], 7);
    let last = get(&node, &format!("/v1/evidence?after={}", second["next"].as_str().expect("next"))).await;
    assert_eq!(last.json()["evidence"], json!([]));
    assert_problem(
        &get(&node, "/v1/evidence?after=zz").await,
        StatusCode::BAD_REQUEST,
        "cursor",
        "bad cursor",
    );
}

/// Deeply nested and oversized bodies (issue #17 item 7) are refused as precise problems
/// without exhausting the stack or memory, and the node answers the next request.
#[tokio::test]
async fn deeply_nested_and_oversized_bodies_are_problems() {
    let node = node_with_body_limit(false, 30_000, 1024 * 1024);
    let depth = 400_000;
    let cases: Vec<(&str, Vec<u8>, StatusCode, &str)> = vec![
        (
            "nested arrays",
            format!("{}{}", "[".repeat(depth), "]".repeat(depth)).into_bytes(),
            StatusCode::BAD_REQUEST,
            "recursion limit exceeded",
        ),
        (
            "nested objects",
            format!("{}{}", r#"{"tx":"#.repeat(depth / 8), "}".repeat(depth / 8)).into_bytes(),
            StatusCode::BAD_REQUEST,
            "invalid type: map, expected a string",
        ),
        ("2 MiB of JSON", vec![b' '; 2 * 1024 * 1024], StatusCode::PAYLOAD_TOO_LARGE, "1048576"),
    ];
    for (case, body, status, needle) in cases {
        let reply = submit(&node, "/v1/txs", body).await;
        assert_problem(&reply, status, needle, case);
    }
    assert!(node.mempool.lock().expect("lock").is_empty());
    let reply = call(&node, Method::GET, "/v1/status", None).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
}

/// A path segment whose percent-encoding is not UTF-8 is refused by axum's extractor before any
/// handler runs; the answer is still a problem (found by the `http` fuzz target in CI).
#[tokio::test]
async fn a_path_segment_that_is_not_utf8_is_a_problem() {
    let node = node(false, 2_000);
    let reply = call(&node, Method::GET, "/v1/accounts/tally1%FF%FE", None).await;
    assert_problem(&reply, StatusCode::BAD_REQUEST, "UTF-8", "invalid UTF-8 in a path segment");
}
