//! HTTP requests through the node's real router and handlers (node/src/api.rs), in process,
//! against a real redb store (made once per process in a temporary folder: genesis and two
//! committed blocks of the golden chain) and a real mempool behind a stand-in for the engine
//! that admits each submission with the engine's own ingress code, then forgets it, so that
//! every input meets the same state. Gossip takes the engine's gossip ingress path.
//!
//! Selector (first byte): 0 `POST /v1/txs` as `application/octet-stream` (borsh), 1 as
//! `application/json`, 2 the rest wrapped as `{"tx": HEX}`, 3 a full request: the first line
//! the method and URI, the second the content type, the rest the body; 4 transaction gossip.
//!
//! The oracle: no panic, no 5xx but 503 (busy) and 504 (`?wait=commit` timed out), and every
//! error is problem+json.
#![no_main]

use std::sync::{Arc, Mutex, OnceLock};

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use libfuzzer_sys::fuzz_target;
use tally_fuzz::{golden, select};
use tally_ledger::tree::apply_updates;
use tally_ledger::{
    BlockContext, GenesisAsset, GenesisBalance, GenesisLedger, GenesisMember, execute_block, genesis_writes,
};
use tally_node::api::{
    ApiLimits, ApiState, AssetCatalog, Metrics, NodeStatus, PROBLEM_JSON, Submission, router,
};
use tally_node::engine::ingress;
use tally_node::mempool::{Mempool, MempoolConfig};
use tally_store::{BlockCommit, ChainIdentity, Store, state_writes, tree_writes};
use tally_types::codec::BoundedVec;
use tally_types::tx::AssetFlags;
use tally_types::{
    Amount, AssetId, Block, BlockId, Certificate, Hash, Header, Height, MemberId, SecretKey, Signature,
    Subject, ValidatorIndex, View,
};
use tokio::sync::{mpsc, watch};
use tower::ServiceExt;

const BODY_BYTES_MAX: usize = 64 * 1024;
const GENESIS_HASH: Hash = Hash([5; 32]);

struct Node {
    _dir: tempfile::TempDir,
    runtime: tokio::runtime::Runtime,
    router: Router,
    store: Arc<Store>,
    mempool: Arc<Mutex<Mempool>>,
}

/// A key of the golden vectors by name.
fn golden_key(name: &str) -> SecretKey {
    let vectors: serde_json::Value = serde_json::from_str(tally_fuzz::GOLDEN_VECTORS).expect("JSON");
    let keys = vectors["keys"].as_array().expect("keys");
    let key = keys.iter().find(|key| key["name"] == name).expect("a golden key of that name");
    let seed: [u8; 32] =
        hex::decode(key["seed"].as_str().expect("seed")).expect("hex").try_into().expect("32");
    SecretKey::from_seed(&seed)
}

fn acme() -> AssetId {
    "ACME@acme".parse().expect("valid asset id")
}

/// The golden transactions' world: member `acme` (the golden issuer) and its asset, held by
/// alice and bob.
fn genesis() -> GenesisLedger {
    GenesisLedger {
        members: vec![GenesisMember {
            id: MemberId::new("acme").expect("valid member id"),
            name: "Acme".into(),
            issuers: vec![golden_key("issuer").public_key()],
        }],
        assets: vec![GenesisAsset {
            asset: acme(),
            scale: 2,
            max_supply: None,
            flags: AssetFlags::default(),
        }],
        balances: ["alice", "bob"]
            .iter()
            .map(|name| GenesisBalance {
                account: golden_key(name).public_key(),
                asset: acme(),
                amount: Amount(10_000),
            })
            .collect(),
        ..Default::default()
    }
}

/// Commits an empty block as the next one, as node/tests/inproc does (the API serves
/// certificates, it does not check them, so the signatures are placeholders).
fn commit_empty(store: &Store) {
    let golden = golden();
    let height = store.height().expect("height").next();
    let parent = match height.0 {
        1 => BlockId(GENESIS_HASH),
        _ => store.block(Height(height.0 - 1)).expect("read").expect("parent").id(),
    };
    let context = BlockContext { chain_id: golden.chain_id.clone(), height, time_ms: 1_000 * height.0 };
    let snapshot = store.snapshot().expect("snapshot");
    let output = execute_block(&snapshot, &context, &[]).expect("executes");
    let batch = apply_updates(&snapshot, &output.writes.tree_updates()).expect("tree");
    drop(snapshot);
    let block = Block {
        header: Header {
            chain_id: golden.chain_id.clone(),
            height,
            view: View(height.0),
            parent_id: parent,
            time_ms: context.time_ms,
            proposer: ValidatorIndex(0),
            tx_root: tally_types::block::tx_root(&[]),
            receipts_root: tally_types::block::receipts_root(&output.receipts),
            state_root: batch.root,
            validators_hash: golden.validators.hash(),
        },
        txs: BoundedVec::empty(),
    };
    let subject = Subject::Finalize { view: block.header.view, block_id: block.id() };
    let votes: Vec<_> = (0..3u16).map(|i| (ValidatorIndex(i), Signature([i as u8; 64]))).collect();
    let certificate = Certificate::from_votes(subject, &votes, 4).expect("three distinct signers");
    store
        .commit_block(&BlockCommit {
            block: &block,
            certificate: &certificate,
            receipts: &output.receipts,
            state_writes: &state_writes(&output.writes),
            tree_writes: &tree_writes(&batch),
        })
        .expect("commit");
}

// Not split: one set-up in order (store, genesis, blocks, engine stand-in, router); its parts
// only make sense together.
fn node() -> &'static Node {
    static NODE: OnceLock<Node> = OnceLock::new();
    NODE.get_or_init(|| {
        let golden = golden();
        let dir = tempfile::tempdir().expect("a temporary folder");
        let identity = ChainIdentity { chain_id: golden.chain_id.clone(), genesis_hash: GENESIS_HASH };
        let store = Arc::new(Store::open(&dir.path().join("node.redb"), &identity).expect("store opens"));
        let writes = genesis_writes(&genesis()).expect("genesis writes");
        let batch = {
            let snapshot = store.snapshot().expect("snapshot");
            apply_updates(&snapshot, &writes.tree_updates()).expect("tree")
        };
        store.init_genesis_state(&state_writes(&writes), &tree_writes(&batch)).expect("genesis state");
        commit_empty(&store);
        commit_empty(&store);
        let mempool = Arc::new(Mutex::new(
            Mempool::new(MempoolConfig::default(), golden.chain_id.clone()).expect("mempool"),
        ));
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        let (submissions, mut receiver) = mpsc::channel::<Submission>(16);
        let (_committed_sender, committed) = watch::channel(Height(2));
        let (_status_sender, status) =
            watch::channel(NodeStatus { height: Height(2), ..NodeStatus::default() });
        // The senders must outlive the process: a closed watch would change the answers.
        std::mem::forget((_committed_sender, _status_sender));
        let engine_store = Arc::clone(&store);
        let engine_mempool = Arc::clone(&mempool);
        runtime.spawn(async move {
            while let Some(Submission { txs, reply }) = receiver.recv().await {
                let results = ingress::admit(&engine_store, &engine_mempool, txs, true);
                let admitted: Vec<_> =
                    results.iter().filter_map(|result| result.as_ref().ok().copied()).collect();
                engine_mempool.lock().expect("unpoisoned").remove(admitted);
                let _ = reply.send(results);
            }
        });
        let state = ApiState {
            store: Arc::clone(&store),
            chain_id: golden.chain_id.clone(),
            validators: Arc::new(golden.validators.clone()),
            submissions,
            status,
            committed,
            metrics: Arc::new(Metrics::new()),
            assets: AssetCatalog::new([acme()]),
            limits: ApiLimits { body_bytes_max: BODY_BYTES_MAX, wait_timeout_ms: 1 },
        };
        Node { _dir: dir, runtime, router: router(state), store, mempool }
    })
}

/// Builds the request the input describes, or `None` when it is not a valid HTTP request.
fn request(selector: u8, body: &[u8]) -> Option<Request<Body>> {
    let post = |content_type: &str, body: Vec<u8>| {
        Request::builder()
            .method(Method::POST)
            .uri("/v1/txs")
            .header(header::CONTENT_TYPE, content_type)
            .body(Body::from(body))
            .ok()
    };
    match selector {
        0 => post("application/octet-stream", body.to_vec()),
        1 => post("application/json", body.to_vec()),
        2 => post("application/json", format!("{{\"tx\":\"{}\"}}", hex::encode(body)).into_bytes()),
        _ => {
            let mut lines = body.splitn(3, |byte| *byte == b'\n');
            let start = std::str::from_utf8(lines.next()?).ok()?;
            let content_type = lines.next().unwrap_or_default();
            let rest = lines.next().unwrap_or_default();
            let (method, uri) = start.split_once(' ')?;
            let mut builder = Request::builder().method(Method::from_bytes(method.as_bytes()).ok()?).uri(uri);
            if !content_type.is_empty() {
                builder = builder.header(header::CONTENT_TYPE, content_type);
            }
            builder.body(Body::from(rest.to_vec())).ok()
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((selector, body)) = select(data, 5) else { return };
    let node = node();
    if selector == 4 {
        let (_verdict, admitted) = ingress::admit_gossip(&node.store, &node.mempool, body);
        let mut mempool = node.mempool.lock().expect("unpoisoned");
        assert!(
            mempool.len() == admitted,
            "gossip admitted {admitted} but the mempool holds {}",
            mempool.len()
        );
        *mempool = Mempool::new(MempoolConfig::default(), golden().chain_id.clone()).expect("mempool");
        return;
    }
    let Some(request) = request(selector, body) else { return };
    let shown = format!("{} {}", request.method(), request.uri());
    let (status, content_type, text) = node.runtime.block_on(async {
        let response = node.router.clone().oneshot(request).await.expect("the router is infallible");
        let status = response.status();
        let content_type = response
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let bytes = response.into_body().collect().await.map(|body| body.to_bytes()).unwrap_or_default();
        (status, content_type, String::from_utf8_lossy(&bytes).into_owned())
    });
    // 503: busy; 504: `?wait=commit` timed out (nothing commits here), with the tx id.
    let expected_5xx = status == StatusCode::SERVICE_UNAVAILABLE
        || (status == StatusCode::GATEWAY_TIMEOUT && text.contains("urn:tally:problem:commit-timeout"));
    assert!(!status.is_server_error() || expected_5xx, "{shown} answered {status}: {text}");
    if status.is_client_error() || status.is_server_error() {
        assert_eq!(content_type, PROBLEM_JSON, "{shown} answered {status} without problem+json: {text}");
    }
});
