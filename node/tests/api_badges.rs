//! `GET /v1/badges/{hash}?root=R` and `GET /v1/txs/{id}/receipt` against a real redb store
//! with committed blocks: every entry and inclusion proof in the answers verifies against the
//! committed headers, and bad input is a precise problem.

mod inproc;

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::Value;
use tally_ledger::{GenesisLedger, GenesisMember, StateKey, StateValue, verify_state_proof};
use tally_node::api::{ApiLimits, ApiState, AssetCatalog, Metrics, NodeStatus, Submission, router};
use tally_store::{ChainIdentity, Store};
use tally_types::codec::{BoundedBytes, BoundedString, BoundedVec};
use tally_types::hash::merkle_leaf;
use tally_types::merkle::MerkleProof;
use tally_types::smt::SmtProof;
use tally_types::tx::{AnchorBadges, BadgeCanon, BadgeFormat, RevokeBadge, Transaction};
use tally_types::{
    Block, ChainId, Hash, Header, Height, MemberId, Op, Receipt, SecretKey, SignedTransaction, TxId,
    ValidatorSet, decode,
};
use tokio::sync::{mpsc, watch};

const GENESIS_HASH: Hash = Hash([6; 32]);

fn chain() -> ChainId {
    ChainId::new("tally-badge-api").expect("valid")
}

fn issuer() -> SecretKey {
    SecretKey::from_seed(&[1; 32])
}

fn outsider() -> SecretKey {
    SecretKey::from_seed(&[2; 32])
}

fn validators() -> ValidatorSet {
    ValidatorSet::new((0..4u8).map(|i| SecretKey::from_seed(&[200 + i; 32]).public_key()).collect())
        .expect("four validators")
}

fn signed(key: &SecretKey, seq: u64, op: Op) -> SignedTransaction {
    Transaction {
        chain_id: chain(),
        signer: key.public_key(),
        seq,
        valid_until_height: Height(1_000),
        ops: BoundedVec::new(vec![op]).expect("one op"),
        memo: BoundedBytes::empty(),
    }
    .sign(key)
}

fn anchor(root: Hash) -> Op {
    Op::AnchorBadges(AnchorBadges {
        batch_root: root,
        leaf_count: 2,
        format: BadgeFormat::OpenBadges2,
        canon: BadgeCanon::JcsBlake3,
        metadata_uri: None,
    })
}

/// Executes `txs` on the committed state and commits them as the next block.
fn commit(store: &Store, txs: Vec<SignedTransaction>) -> Block {
    inproc::commit(store, &chain(), GENESIS_HASH, validators().hash(), txs)
}

struct Node {
    _dir: tempfile::TempDir,
    _submissions: mpsc::Receiver<Submission>,
    router: Router,
    blocks: Vec<Block>,
}

const ROOT: Hash = Hash([0xAB; 32]);
const BADGE: Hash = Hash([0xCD; 32]);

/// Height 4: acme anchors ROOT (1), two more transactions pad the block (2), an outsider's
/// anchor fails (3), acme revokes BADGE (4).
fn node() -> Node {
    let dir = tempfile::tempdir().expect("tempdir");
    let identity = ChainIdentity { chain_id: chain(), genesis_hash: GENESIS_HASH };
    let store = Store::open(&dir.path().join("node.redb"), &identity).expect("open");
    let genesis = GenesisLedger {
        members: vec![GenesisMember {
            id: MemberId::new("acme").expect("valid"),
            name: "Acme".into(),
            issuers: vec![issuer().public_key()],
        }],
        assets: vec![],
        balances: vec![],
        ..Default::default()
    };
    inproc::init_genesis(&store, &genesis);
    let blocks = vec![
        commit(&store, vec![signed(&issuer(), 1, anchor(ROOT))]),
        commit(
            &store,
            vec![signed(&issuer(), 2, anchor(Hash([1; 32]))), signed(&issuer(), 3, anchor(Hash([2; 32])))],
        ),
        commit(&store, vec![signed(&outsider(), 1, anchor(Hash([3; 32])))]),
        commit(
            &store,
            vec![signed(
                &issuer(),
                4,
                Op::RevokeBadge(RevokeBadge {
                    badge_hash: BADGE,
                    reason: BoundedString::new("test").expect("short"),
                }),
            )],
        ),
    ];
    let (submissions, receiver) = mpsc::channel::<Submission>(1);
    let (_, committed) = watch::channel(Height(4));
    let (_, status) = watch::channel(NodeStatus { height: Height(4), ..NodeStatus::default() });
    let state = ApiState {
        store: Arc::new(store),
        chain_id: chain(),
        validators: Arc::new(validators()),
        submissions,
        status,
        committed,
        metrics: Arc::new(Metrics::new()),
        assets: AssetCatalog::new([]),
        limits: ApiLimits { body_bytes_max: 64 * 1024, wait_timeout_ms: 1_000 },
    };
    Node { _dir: dir, _submissions: receiver, router: router(state), blocks }
}

async fn get(node: &Node, uri: &str) -> (StatusCode, Value) {
    use tower::ServiceExt;
    let request = Request::builder().uri(uri).body(Body::empty()).expect("request");
    let response = node.router.clone().oneshot(request).await.expect("infallible");
    let status = response.status();
    let bytes = response.into_body().collect().await.expect("body").to_bytes();
    (status, serde_json::from_slice(&bytes).expect("JSON"))
}

fn typed<T: serde::de::DeserializeOwned>(value: &Value) -> T {
    serde_json::from_value(value.clone()).unwrap_or_else(|error| panic!("{error}: {value}"))
}

/// Checks an entry of an answer against `root` and returns its decoded value.
fn entry(value: &Value, root: &Hash, key: &StateKey) -> Option<StateValue> {
    let bytes = value["value"].as_str().map(|text| hex::decode(text).expect("hex"));
    let proof: SmtProof = typed(&value["proof"]);
    verify_state_proof(root, key, bytes.as_deref(), &proof).expect("the proof verifies");
    bytes.map(|bytes| StateValue::from_bytes(&bytes).expect("decodes"))
}

/// Checks a tx-with-receipt answer against `header`.
fn check_tx(answer: &Value, header: &Header) -> (SignedTransaction, Receipt) {
    let tx: SignedTransaction =
        decode(&hex::decode(answer["tx"].as_str().expect("tx")).expect("hex")).expect("tx");
    let tx_proof: MerkleProof = typed(&answer["tx_proof"]);
    tx_proof.verify(merkle_leaf(tx.id().0.as_bytes()), &header.tx_root).expect("in the tx root");
    let receipt: Receipt = typed(&answer["receipt"]);
    let receipt_proof: MerkleProof = typed(&answer["receipt_proof"]);
    receipt_proof
        .verify(merkle_leaf(receipt.hash().as_bytes()), &header.receipts_root)
        .expect("in the receipts root");
    assert_eq!(receipt.tx_id, tx.id());
    (tx, receipt)
}

#[tokio::test]
async fn a_badge_answer_proves_anchor_membership_and_revocation_status() {
    let node = node();
    let latest = &node.blocks[3].header;
    let (status, answer) = get(&node, &format!("/v1/badges/{BADGE}?root={ROOT}")).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["height"], 4);
    let root = latest.state_root;
    assert_eq!(typed::<Hash>(&answer["state_root"]), root);
    let member = MemberId::new("acme").expect("valid");
    let Some(StateValue::BadgeAnchor(anchor)) =
        entry(&answer["anchor"], &root, &StateKey::BadgeAnchor { batch_root: ROOT })
    else {
        panic!("anchor present: {answer}")
    };
    assert_eq!(
        (anchor.member.clone(), anchor.issuer, anchor.height),
        (member.clone(), issuer().public_key(), Height(1))
    );
    assert!(matches!(
        entry(&answer["member"], &root, &StateKey::Member { member: member.clone() }),
        Some(StateValue::Member(_))
    ));
    assert!(matches!(
        entry(&answer["issuer"], &root, &StateKey::Issuer { account: issuer().public_key() }),
        Some(StateValue::Issuer(_))
    ));
    // BADGE is revoked by acme: the revocation entry is present under acme.
    let revocation_key = StateKey::BadgeRevocation { member: member.clone(), badge_hash: BADGE };
    assert!(matches!(
        entry(&answer["revocation"], &root, &revocation_key),
        Some(StateValue::BadgeRevocation(_))
    ));
    let (tx, receipt) = check_tx(&answer["anchor_tx"], &node.blocks[0].header);
    assert_eq!(tx.id(), anchor.tx_id);
    assert_eq!(receipt.outcome, tally_types::TxOutcome::Success);

    // Another badge under the same root is not revoked: a proof of absence.
    let other = Hash([0xEE; 32]);
    let (_, answer) = get(&node, &format!("/v1/badges/{other}?root={ROOT}")).await;
    let absent = StateKey::BadgeRevocation { member, badge_hash: other };
    assert_eq!(entry(&answer["revocation"], &root, &absent), None);

    // A root nobody anchored: a proof of absence and nothing else.
    let unknown = Hash([3; 32]);
    let (status, answer) = get(&node, &format!("/v1/badges/{BADGE}?root={unknown}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(entry(&answer["anchor"], &root, &StateKey::BadgeAnchor { batch_root: unknown }), None);
    assert!(answer["anchor_tx"].is_null() && answer["revocation"].is_null() && answer["member"].is_null());
}

#[tokio::test]
async fn a_receipt_answer_proves_a_failed_transaction_in_its_block() {
    let node = node();
    let failed = node.blocks[2].txs.as_slice()[0].id();
    let (status, answer) = get(&node, &format!("/v1/txs/{failed}/receipt")).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let (tx, receipt) = check_tx(&answer, &node.blocks[2].header);
    assert_eq!(tx.id(), failed);
    assert_eq!(
        receipt.outcome,
        tally_types::TxOutcome::Failed { op_index: 0, code: tally_types::ErrorCode::NotIssuer }
    );
    // The second transaction of a two-transaction block.
    let second = node.blocks[1].txs.as_slice()[1].id();
    let (_, answer) = get(&node, &format!("/v1/txs/{second}/receipt")).await;
    assert_eq!(answer["index"], 1);
    check_tx(&answer, &node.blocks[1].header);
}

#[tokio::test]
async fn bad_badge_and_receipt_requests_are_precise_problems() {
    let node = node();
    for (uri, status, needle) in [
        (format!("/v1/badges/{BADGE}"), StatusCode::BAD_REQUEST, "`root` is required"),
        ("/v1/badges/xyz?root=00".to_owned(), StatusCode::BAD_REQUEST, "is not a badge hash"),
        (format!("/v1/badges/{BADGE}?root=12"), StatusCode::BAD_REQUEST, "is not a hash"),
        (format!("/v1/badges/{BADGE}?root={ROOT}&extra=1"), StatusCode::BAD_REQUEST, "extra"),
        ("/v1/txs/zz/receipt".to_owned(), StatusCode::BAD_REQUEST, "is not a tx id"),
        (
            format!("/v1/txs/{}/receipt", TxId(Hash([4; 32]))),
            StatusCode::NOT_FOUND,
            "not in a committed block",
        ),
    ] {
        let (actual, answer) = get(&node, &uri).await;
        assert_eq!(actual, status, "{uri}: {answer}");
        let detail = answer["detail"].as_str().unwrap_or_default();
        assert!(detail.contains(needle), "{uri}: {detail}");
    }
}
