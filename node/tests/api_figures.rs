//! `GET /v1/badges/figures[?member=M]` against a real redb store with committed blocks: the
//! figures AnchorAchievements wrote, per member and achievement, sorted, each entry proven by
//! `GET /v1/state/proof` under the committed header; bad input is a precise problem.

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
use tally_types::codec::{BoundedBytes, BoundedVec};
use tally_types::smt::SmtProof;
use tally_types::tx::{
    AchievementCount, AnchorAchievements, AnchorBadges, BadgeCanon, BadgeFormat, Transaction,
};
use tally_types::{
    AchievementId, Block, ChainId, Hash, Height, MemberId, Op, SecretKey, SignedTransaction, ValidatorSet,
};
use tokio::sync::{mpsc, watch};

const GENESIS_HASH: Hash = Hash([6; 32]);
/// Sorts after `LONG` as text, before it as bytes (the shorter encoding comes first).
const SHORT: &str = "urn:z";
const LONG: &str = "https://badges.acme.example/achievements/api-calls-1k";

fn chain() -> ChainId {
    ChainId::new("tally-figures-api").expect("valid")
}

fn acme() -> SecretKey {
    SecretKey::from_seed(&[1; 32])
}

fn globex() -> SecretKey {
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

fn anchor(root: u8, counts: &[(&str, u32)]) -> Op {
    let achievements = counts
        .iter()
        .map(|(id, count)| AchievementCount {
            achievement: AchievementId::new(*id).expect("valid"),
            count: *count,
        })
        .collect();
    Op::AnchorAchievements(Box::new(AnchorAchievements {
        anchor: AnchorBadges {
            batch_root: Hash([root; 32]),
            leaf_count: counts.iter().map(|(_, count)| count).sum(),
            format: BadgeFormat::OpenBadges3,
            canon: BadgeCanon::JcsBlake3,
            metadata_uri: None,
        },
        achievements: BoundedVec::new(achievements).expect("few"),
    }))
}

struct Node {
    _dir: tempfile::TempDir,
    _submissions: mpsc::Receiver<Submission>,
    router: Router,
    blocks: Vec<Block>,
}

/// Height 1: acme anchors 3 + 1 badges of two achievements; height 2: acme 2 more of LONG,
/// globex 5 of LONG.
fn node() -> Node {
    let dir = tempfile::tempdir().expect("tempdir");
    let identity = ChainIdentity { chain_id: chain(), genesis_hash: GENESIS_HASH };
    let store = Store::open(&dir.path().join("node.redb"), &identity).expect("open");
    let member = |id: &str, name: &str, key: SecretKey| GenesisMember {
        id: MemberId::new(id).expect("valid"),
        name: name.into(),
        issuers: vec![key.public_key()],
    };
    let genesis = GenesisLedger {
        members: vec![member("acme", "Acme", acme()), member("globex", "Globex", globex())],
        ..Default::default()
    };
    inproc::init_genesis(&store, &genesis);
    let commit = |txs| inproc::commit(&store, &chain(), GENESIS_HASH, validators().hash(), txs);
    let blocks = vec![
        commit(vec![signed(&acme(), 1, anchor(1, &[(LONG, 3), (SHORT, 1)]))]),
        commit(vec![
            signed(&acme(), 2, anchor(2, &[(LONG, 2)])),
            signed(&globex(), 1, anchor(3, &[(LONG, 5)])),
        ]),
    ];
    let (submissions, receiver) = mpsc::channel::<Submission>(1);
    let (_, committed) = watch::channel(Height(2));
    let (_, status) = watch::channel(NodeStatus { height: Height(2), ..NodeStatus::default() });
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

/// (member, achievement, anchored, batches, first height, last height) of each listed entry.
fn rows(answer: &Value) -> Vec<(String, String, u64, u64, u64, u64)> {
    let number = |value: &Value| value.as_u64().expect("a number");
    answer["figures"]
        .as_array()
        .expect("figures")
        .iter()
        .map(|row| {
            (
                row["member"].as_str().expect("member").to_owned(),
                row["achievement"].as_str().expect("achievement").to_owned(),
                number(&row["anchored"]),
                number(&row["batches"]),
                number(&row["first_height"]),
                number(&row["last_height"]),
            )
        })
        .collect()
}

#[tokio::test]
async fn figures_list_every_member_and_achievement_and_each_is_proven() {
    let node = node();
    let (status, answer) = get(&node, "/v1/badges/figures").await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!((answer["height"].as_u64(), answer["truncated"].as_bool()), (Some(2), Some(false)));
    let row = |member: &str, id: &str, anchored, batches, first, last| {
        (member.to_owned(), id.to_owned(), anchored, batches, first, last)
    };
    assert_eq!(
        rows(&answer),
        vec![row("acme", LONG, 5, 2, 1, 2), row("acme", SHORT, 1, 1, 1, 1), row("globex", LONG, 5, 1, 2, 2)]
    );
    // One member's only.
    let (status, answer) = get(&node, "/v1/badges/figures?member=globex").await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["member"], "globex");
    assert_eq!(rows(&answer), vec![row("globex", LONG, 5, 1, 2, 2)]);
    // A member without figures (or unknown): an empty list.
    let (_, answer) = get(&node, "/v1/badges/figures?member=initech").await;
    assert_eq!(rows(&answer), vec![]);

    // Each entry's key proves its value under the committed header's state root.
    let (_, answer) = get(&node, "/v1/badges/figures?member=acme").await;
    let root = node.blocks[1].header.state_root;
    for listed in answer["figures"].as_array().expect("figures") {
        let key_hex = listed["key_hex"].as_str().expect("key_hex");
        let (status, proven) = get(&node, &format!("/v1/state/proof?key={key_hex}")).await;
        assert_eq!(status, StatusCode::OK, "{proven}");
        let key = StateKey::from_bytes(&hex::decode(key_hex).expect("hex")).expect("a state key");
        let bytes = hex::decode(proven["value"].as_str().expect("present")).expect("hex");
        let proof: SmtProof = serde_json::from_value(proven["proof"].clone()).expect("proof");
        verify_state_proof(&root, &key, Some(&bytes), &proof).expect("the proof verifies");
        let Ok(StateValue::BadgeFigures(figures)) = StateValue::from_bytes(&bytes) else {
            panic!("a figures entry: {proven}")
        };
        assert_eq!(Some(figures.anchored), listed["anchored"].as_u64());
        assert_eq!(
            key,
            StateKey::BadgeFigures {
                member: MemberId::new("acme").expect("valid"),
                achievement: AchievementId::new(listed["achievement"].as_str().expect("id")).expect("valid"),
            }
        );
    }
}

#[tokio::test]
async fn bad_figures_requests_are_precise_problems() {
    let node = node();
    for (uri, needle) in [
        ("/v1/badges/figures?member=A", "is not a member id"),
        ("/v1/badges/figures?member=", "is not a member id"),
        ("/v1/badges/figures?extra=1", "extra"),
    ] {
        let (status, answer) = get(&node, uri).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}: {answer}");
        let detail = answer["detail"].as_str().expect("detail");
        assert!(detail.contains(needle), "{uri}: {detail}");
    }
}
