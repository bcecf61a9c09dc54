//! The explorer's reads against a real redb store whose blocks were executed by the ledger and
//! committed the way the engine commits them (so the store's indexes are what a node writes):
//! account history in every role, recent blocks, search, trades and market summaries, provider
//! figures, the event stream, CORS; and the bad-input catalogue of each, as problem+json.

mod inproc;

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::Value;
use tally_ledger::tree::apply_updates;
use tally_ledger::{GenesisAsset, GenesisBalance, GenesisLedger, GenesisMember};
use tally_node::api::{
    ApiLimits, ApiState, AssetCatalog, Metrics, NodeStatus, PROBLEM_JSON, router, with_cors,
};
use tally_store::{ChainIdentity, Store, state_writes, tree_writes};
use tally_types::codec::{BoundedBytes, BoundedString, BoundedVec};
use tally_types::tx::{
    AnchorBadges, AssetFlags, AuthorizeSpend, BadgeCanon, BadgeFormat, Burn, Grant, GrantKind, Hold,
    OfferMode, PlaceOffer, RevokeBadge, RewardReason, Settle, Transaction, Transfer,
};
use tally_types::{
    Amount, AssetId, Block, ChainId, Hash, Height, MemberId, Op, OpId, Price, PublicKey, SecretKey,
    SignedTransaction, ValidatorSet,
};
use tokio::sync::{mpsc, watch};

const GENESIS_HASH: Hash = Hash([3; 32]);
const BADGE_ROOT: Hash = Hash([0xb0; 32]);
const REVOKED_BADGE: Hash = Hash([0xbb; 32]);

fn chain() -> ChainId {
    ChainId::new("tally-explorer-test").expect("valid")
}

fn acme() -> AssetId {
    "ACME@acme".parse().expect("valid")
}

fn globex() -> AssetId {
    "GLOBEX@globex".parse().expect("valid")
}

fn key(index: u8) -> SecretKey {
    SecretKey::from_seed(&[40 + index; 32])
}

fn account(index: u8) -> PublicKey {
    key(index).public_key()
}

fn acme_issuer() -> SecretKey {
    SecretKey::from_seed(&[1; 32])
}

fn genesis() -> GenesisLedger {
    let member = |name: &str, seed: u8| GenesisMember {
        id: MemberId::new(name).expect("valid"),
        name: format!("{name} Inc."),
        issuers: vec![SecretKey::from_seed(&[seed; 32]).public_key()],
    };
    GenesisLedger {
        members: vec![member("acme", 1), member("globex", 2)],
        assets: vec![
            GenesisAsset { asset: acme(), scale: 2, max_supply: None, flags: AssetFlags::default() },
            GenesisAsset { asset: globex(), scale: 0, max_supply: None, flags: AssetFlags::default() },
        ],
        balances: vec![
            GenesisBalance { account: account(1), asset: acme(), amount: Amount(10_000) },
            GenesisBalance { account: account(2), asset: globex(), amount: Amount(500) },
        ],
        ..Default::default()
    }
}

fn tx(signer: &SecretKey, seq: u64, ops: Vec<Op>) -> SignedTransaction {
    Transaction {
        chain_id: chain(),
        signer: signer.public_key(),
        seq,
        valid_until_height: Height(1_000),
        ops: BoundedVec::new(ops).expect("few ops"),
        memo: BoundedBytes::empty(),
    }
    .sign(signer)
}

fn validators() -> ValidatorSet {
    ValidatorSet::new((0..4u8).map(|i| SecretKey::from_seed(&[200 + i; 32]).public_key()).collect())
        .expect("four validators")
}

fn commit(store: &Store, txs: Vec<SignedTransaction>) -> Block {
    inproc::commit(store, &chain(), GENESIS_HASH, validators().hash(), txs)
}

struct Node {
    _dir: tempfile::TempDir,
    store: Arc<Store>,
    router: Router,
    blocks: Vec<Block>,
    committed: watch::Sender<Height>,
    _submissions: mpsc::Receiver<tally_node::api::Submission>,
}

/// Five blocks:
/// 1. acme rewards account 3 with 3.00 ACME (forum support); account 1 sends it 1.00 ACME.
/// 2. account 1 offers 10.00 ACME for GLOBEX at 10 GLOBEX per ACME; account 2 sells 50 GLOBEX
///    into it (one fill: 5.00 ACME for 50 GLOBEX); account 4, holding nothing, fails a transfer.
/// 3. account 3 authorizes acme; acme holds 2.00 ACME of it and settles 1.50, and holds 1.25
///    more (left open).
/// 4. account 1 burns 0.50 ACME; acme anchors a badge batch of 4 and revokes one badge.
/// 5. empty.
// Not split: one fixture built top to bottom, each part from the ones above (comments name them).
fn node() -> Node {
    let dir = tempfile::tempdir().expect("tempdir");
    let identity = ChainIdentity { chain_id: chain(), genesis_hash: GENESIS_HASH };
    let store = Arc::new(Store::open(&dir.path().join("node.redb"), &identity).expect("open"));
    inproc::init_genesis(&store, &genesis());
    let issuer = acme_issuer();
    let blocks = vec![
        commit(
            &store,
            vec![
                tx(
                    &issuer,
                    1,
                    vec![Op::Grant(Grant {
                        grant_id: OpId([1; 16]),
                        asset: acme(),
                        to: account(3),
                        amount: Amount(300),
                        kind: GrantKind::Reward,
                        reason: Some(RewardReason::ForumSupport),
                        external_ref: BoundedString::new("forum-42").expect("short"),
                        pack: None,
                    })],
                ),
                tx(
                    &key(1),
                    1,
                    vec![Op::Transfer(Transfer { asset: acme(), to: account(3), amount: Amount(100) })],
                ),
            ],
        ),
        commit(
            &store,
            vec![
                tx(
                    &key(1),
                    2,
                    vec![Op::PlaceOffer(PlaceOffer {
                        offer_id: OpId([7; 16]),
                        sell: acme(),
                        buy: globex(),
                        amount: Amount(1_000),
                        price: Price { numerator: 1, denominator: 10 },
                        mode: OfferMode::Normal,
                    })],
                ),
                tx(
                    &key(2),
                    1,
                    vec![Op::PlaceOffer(PlaceOffer {
                        offer_id: OpId([8; 16]),
                        sell: globex(),
                        buy: acme(),
                        amount: Amount(50),
                        price: Price { numerator: 10, denominator: 1 },
                        mode: OfferMode::ImmediateOrCancel,
                    })],
                ),
                tx(
                    &key(4),
                    1,
                    vec![Op::Transfer(Transfer { asset: acme(), to: account(1), amount: Amount(1) })],
                ),
            ],
        ),
        commit(
            &store,
            vec![
                tx(
                    &key(3),
                    1,
                    vec![Op::AuthorizeSpend(AuthorizeSpend {
                        provider: MemberId::new("acme").expect("valid"),
                        asset: acme(),
                        cap: Amount(1_000),
                        expires_at_ms: 1_000_000,
                        plan: None,
                    })],
                ),
                tx(
                    &issuer,
                    2,
                    vec![
                        Op::Hold(Hold {
                            hold_id: OpId([9; 16]),
                            holder: account(3),
                            asset: acme(),
                            amount: Amount(200),
                            expires_at_ms: 900_000,
                        }),
                        Op::Settle(Settle {
                            hold_id: OpId([9; 16]),
                            batch_id: OpId([10; 16]),
                            amount: Amount(150),
                            usage_root: Hash([5; 32]),
                            lines: tally_types::BoundedVec::empty(),
                        }),
                        Op::Hold(Hold {
                            hold_id: OpId([11; 16]),
                            holder: account(3),
                            asset: acme(),
                            amount: Amount(125),
                            expires_at_ms: 900_000,
                        }),
                    ],
                ),
            ],
        ),
        commit(
            &store,
            vec![
                tx(&key(1), 3, vec![Op::Burn(Burn { asset: acme(), amount: Amount(50) })]),
                tx(
                    &issuer,
                    3,
                    vec![
                        Op::AnchorBadges(AnchorBadges {
                            batch_root: BADGE_ROOT,
                            leaf_count: 4,
                            format: BadgeFormat::OpenBadges3,
                            canon: BadgeCanon::JcsBlake3,
                            metadata_uri: None,
                        }),
                        Op::RevokeBadge(RevokeBadge {
                            badge_hash: REVOKED_BADGE,
                            reason: BoundedString::new("issued in error").expect("short"),
                        }),
                    ],
                ),
            ],
        ),
        commit(&store, vec![]),
    ];
    let (submissions, receiver) = mpsc::channel(1);
    let (committed, committed_receiver) = watch::channel(Height(5));
    let (_, status) = watch::channel(NodeStatus::default());
    let state = ApiState {
        store: Arc::clone(&store),
        chain_id: chain(),
        validators: Arc::new(validators()),
        submissions,
        status,
        committed: committed_receiver,
        metrics: Arc::new(Metrics::new()),
        assets: AssetCatalog::new([acme(), globex()]),
        limits: ApiLimits { body_bytes_max: 64 * 1024, wait_timeout_ms: 1_000 },
    };
    Node { _dir: dir, store, router: router(state), blocks, committed, _submissions: receiver }
}

async fn call(router: &Router, request: Request<Body>) -> (StatusCode, axum::http::HeaderMap, Value) {
    use tower::ServiceExt;
    let response = router.clone().oneshot(request).await.expect("infallible");
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.expect("body").to_bytes();
    let body =
        serde_json::from_slice(&bytes).unwrap_or(Value::String(String::from_utf8_lossy(&bytes).into()));
    (status, headers, body)
}

async fn get(node: &Node, uri: &str) -> (StatusCode, Value) {
    let (status, _, body) =
        call(&node.router, Request::builder().uri(uri).body(Body::empty()).expect("request")).await;
    (status, body)
}

async fn ok(node: &Node, uri: &str) -> Value {
    let (status, body) = get(node, uri).await;
    assert_eq!(status, StatusCode::OK, "{uri}: {body}");
    body
}

/// Asserts a problem+json answer of `status` whose type ends in `kind` and whose detail
/// mentions `needle`.
async fn problem(node: &Node, uri: &str, status: StatusCode, kind: &str, needle: &str) {
    let request = Request::builder().uri(uri).body(Body::empty()).expect("request");
    let (got, headers, body) = call(&node.router, request).await;
    assert_eq!(got, status, "{uri}: {body}");
    assert_eq!(headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()), Some(PROBLEM_JSON), "{uri}");
    assert_eq!(body["type"], format!("urn:tally:problem:{kind}"), "{uri}: {body}");
    let detail = body["detail"].as_str().unwrap_or_default();
    assert!(detail.contains(needle), "{uri}: detail {detail:?} does not mention {needle:?}");
}

fn ids(page: &Value) -> Vec<String> {
    page["txs"]
        .as_array()
        .expect("txs")
        .iter()
        .map(|tx| tx["tx_id"].as_str().expect("id").to_owned())
        .collect()
}

#[tokio::test]
async fn history_holds_every_role_newest_first_and_pages_with_a_cursor() {
    let node = node();
    let three = account(3).to_address();
    let page = ok(&node, &format!("/v1/accounts/{three}/history")).await;
    let txs = page["txs"].as_array().expect("txs");
    // Newest first: the hold-and-settle (holder), the authorization (signer), the transfer and
    // the grant (recipient).
    let heights: Vec<u64> = txs.iter().map(|tx| tx["height"].as_u64().expect("height")).collect();
    assert_eq!(heights, vec![3, 3, 1, 1], "{page:#}");
    assert_eq!(txs[0]["tx_id"], Value::String(node.blocks[2].txs[1].id().to_string()));
    assert_eq!(txs[0]["roles"], serde_json::json!(["recipient"]));
    assert_eq!(txs[1]["roles"], serde_json::json!(["signer"]));
    assert_eq!(txs[3]["ops"][0]["op"], "grant", "ops are decoded: {page:#}");
    assert_eq!(txs[3]["receipt"]["outcome"]["status"], "success");
    // The one shape of a transaction (as `GET /v1/txs/{id}` gives it): signed fields,
    // signature and canonical bytes.
    let newest = &node.blocks[2].txs[1];
    let mut shape = serde_json::to_value(&newest.tx).expect("a transaction is JSON");
    shape["tx_id"] = serde_json::json!(newest.id());
    shape["signature"] = serde_json::json!(newest.signature);
    shape["tx"] = serde_json::json!(hex::encode(tally_types::codec::encode(newest)));
    for (name, value) in shape.as_object().expect("an object") {
        assert_eq!(&txs[0][name], value, "`{name}` of a history entry is the one shape's");
    }
    assert_eq!(page["next"], Value::Null);
    assert_eq!(page["indexed_from"], 1);

    // Pages of two, following `next`, give the same list.
    let first = ok(&node, &format!("/v1/accounts/{three}/history?limit=2")).await;
    let cursor = first["next"].as_str().expect("a next page").to_owned();
    assert_eq!(cursor, "3.0");
    let second = ok(&node, &format!("/v1/accounts/{three}/history?limit=2&before={cursor}")).await;
    assert_eq!(second["next"], Value::Null, "{second:#}");
    assert_eq!([ids(&first), ids(&second)].concat(), ids(&page));

    // A maker sees the taker's transaction that filled its offer.
    let one = ok(&node, &format!("/v1/accounts/{}/history", account(1).to_address())).await;
    let filled = one["txs"]
        .as_array()
        .expect("txs")
        .iter()
        .find(|tx| tx["tx_id"] == Value::String(node.blocks[1].txs[1].id().to_string()))
        .unwrap_or_else(|| panic!("the fill is in the maker's history: {one:#}"));
    assert_eq!(filled["roles"], serde_json::json!(["maker"]));

    // A failed transfer is its signer's history only: the recipient received nothing.
    let four = ok(&node, &format!("/v1/accounts/{}/history", account(4).to_address())).await;
    assert_eq!(four["txs"][0]["receipt"]["outcome"]["status"], "failed");
    assert!(!ids(&one).contains(&node.blocks[1].txs[2].id().to_string()));

    // An account nobody touched has an empty history, not an error.
    let nobody = ok(&node, &format!("/v1/accounts/{}/history", account(9).to_address())).await;
    assert_eq!(nobody["txs"], serde_json::json!([]));
}

#[tokio::test]
async fn history_refuses_bad_input_by_name() {
    let node = node();
    let three = account(3).to_address();
    problem(
        &node,
        "/v1/accounts/tally1nothing/history",
        StatusCode::BAD_REQUEST,
        "address",
        "not an address",
    )
    .await;
    for limit in ["0", "101", "many"] {
        let uri = format!("/v1/accounts/{three}/history?limit={limit}");
        problem(&node, &uri, StatusCode::BAD_REQUEST, "query", "1..=100").await;
    }
    for cursor in ["x", "3", "3.1.2", "3.99999999999"] {
        let uri = format!("/v1/accounts/{three}/history?before={cursor}");
        problem(&node, &uri, StatusCode::BAD_REQUEST, "cursor", cursor).await;
    }
    problem(
        &node,
        &format!("/v1/accounts/{three}/history?after=1"),
        StatusCode::BAD_REQUEST,
        "query",
        "after",
    )
    .await;
}

#[tokio::test]
async fn recent_blocks_page_newest_first() {
    let node = node();
    let page = ok(&node, "/v1/blocks?limit=2").await;
    let heights: Vec<u64> =
        page["blocks"].as_array().expect("blocks").iter().map(|b| b["height"].as_u64().expect("h")).collect();
    assert_eq!(heights, vec![5, 4]);
    assert_eq!(page["blocks"][0]["block_id"], Value::String(node.blocks[4].id().to_string()));
    assert_eq!(page["blocks"][1]["txs"], 2);
    assert_eq!(page["blocks"][0]["signers"], serde_json::json!([0, 1, 2]), "{page:#}");
    assert_eq!(page["next"], "4");
    let rest = ok(&node, "/v1/blocks?before=4&limit=100").await;
    let heights: Vec<u64> =
        rest["blocks"].as_array().expect("blocks").iter().map(|b| b["height"].as_u64().expect("h")).collect();
    assert_eq!(heights, vec![3, 2, 1]);
    assert_eq!(rest["next"], Value::Null);
    problem(&node, "/v1/blocks?before=top", StatusCode::BAD_REQUEST, "cursor", "top").await;
    problem(&node, "/v1/blocks?limit=0", StatusCode::BAD_REQUEST, "query", "limit").await;
}

#[tokio::test]
async fn search_says_what_a_string_is() {
    let node = node();
    let kind = |body: &Value| body["kind"].as_str().unwrap_or_default().to_owned();
    assert_eq!(kind(&ok(&node, "/v1/search?q=3").await), "block");
    let block_id = node.blocks[1].id().to_string();
    let found = ok(&node, &format!("/v1/search?q={block_id}")).await;
    assert_eq!((kind(&found), found["height"].as_u64()), ("block".into(), Some(2)));
    let tx_id = node.blocks[0].txs[1].id().to_string();
    let found = ok(&node, &format!("/v1/search?q={tx_id}")).await;
    assert_eq!((kind(&found), found["index"].as_u64()), ("tx".into(), Some(1)));
    assert_eq!(kind(&ok(&node, &format!("/v1/search?q={}", account(3).to_address())).await), "account");
    assert_eq!(kind(&ok(&node, "/v1/search?q=ACME@acme").await), "asset");
    assert_eq!(kind(&ok(&node, "/v1/search?q=globex").await), "provider");
    let found = ok(&node, &format!("/v1/search?q={BADGE_ROOT}")).await;
    assert_eq!((kind(&found), found["leaf_count"].as_u64()), ("badge_batch".into(), Some(4)));
    let found = ok(&node, &format!("/v1/search?q={REVOKED_BADGE}")).await;
    assert_eq!((kind(&found), found["member"].as_str()), ("badge_revoked".into(), Some("acme")));

    problem(&node, "/v1/search?q=99", StatusCode::NOT_FOUND, "not-found", "committed height is 5").await;
    problem(&node, "/v1/search?q=0", StatusCode::NOT_FOUND, "not-found", "height 0").await;
    problem(
        &node,
        &format!("/v1/search?q={}", Hash([0x77; 32])),
        StatusCode::NOT_FOUND,
        "not-found",
        "receipt",
    )
    .await;
    problem(&node, "/v1/search?q=NOPE@acme", StatusCode::NOT_FOUND, "not-found", "NOPE@acme").await;
    problem(&node, "/v1/search?q=initech", StatusCode::NOT_FOUND, "not-found", "initech").await;
    problem(&node, "/v1/search?q=%3F%3F", StatusCode::BAD_REQUEST, "query", "is not a height").await;
    problem(&node, "/v1/search", StatusCode::BAD_REQUEST, "query", "`q` is required").await;
    problem(&node, "/v1/search?q=tally1zzz", StatusCode::BAD_REQUEST, "address", "tally1zzz").await;
}

#[tokio::test]
async fn trades_and_summaries_are_read_from_either_side() {
    let node = node();
    let trades = ok(&node, "/v1/markets/ACME@acme/GLOBEX@globex/trades").await;
    let list = trades["trades"].as_array().expect("trades");
    assert_eq!(list.len(), 1, "{trades:#}");
    // 5.00 ACME for 50 GLOBEX: 10 GLOBEX per ACME; the taker sold GLOBEX, so bought base.
    assert_eq!(list[0]["base_amount"], "5");
    assert_eq!(list[0]["quote_amount"], "50");
    assert_eq!(list[0]["price"], "10");
    assert_eq!(list[0]["side"], "buy");
    assert_eq!(list[0]["height"], 2);
    let flipped = ok(&node, "/v1/markets/GLOBEX@globex/ACME@acme/trades").await;
    assert_eq!(flipped["trades"][0]["price"], "0.1");
    assert_eq!(flipped["trades"][0]["side"], "sell");

    let summary = ok(&node, "/v1/markets/ACME@acme/GLOBEX@globex/summary").await;
    assert_eq!(summary["last_price"], "10");
    assert_eq!(summary["trades_24h"], 1);
    assert_eq!(summary["base_volume_24h"], "5");
    assert_eq!(summary["quote_volume_24h"], "50");
    assert_eq!(summary["volume_24h_truncated"], false);

    problem(&node, "/v1/markets/ACME@acme/ACME@acme/trades", StatusCode::BAD_REQUEST, "same-asset", "both")
        .await;
    problem(
        &node,
        "/v1/markets/ACME@acme/NONE@acme/summary",
        StatusCode::NOT_FOUND,
        "not-found",
        "NONE@acme",
    )
    .await;
    problem(&node, "/v1/markets/acme/GLOBEX@globex/trades", StatusCode::BAD_REQUEST, "asset-id", "base")
        .await;
    problem(
        &node,
        "/v1/markets/ACME@acme/GLOBEX@globex/trades?before=2.0",
        StatusCode::BAD_REQUEST,
        "cursor",
        "2.0",
    )
    .await;
    let empty = ok(&node, "/v1/markets/ACME@acme/GLOBEX@globex/trades?before=2.0.0").await;
    assert_eq!(empty["trades"], serde_json::json!([]));
}

#[tokio::test]
async fn provider_figures_add_up() {
    let node = node();
    let acme_figures = ok(&node, "/v1/providers/acme").await;
    assert_eq!(acme_figures["name"], "acme Inc.");
    let asset = &acme_figures["assets"][0];
    assert_eq!(asset["asset"], "ACME@acme", "{acme_figures:#}");
    assert_eq!(asset["reward"], "3");
    assert_eq!(asset["rewards_by_reason"]["forum_support"], "3");
    assert_eq!(asset["burned"], "0.5");
    assert_eq!(asset["settled_batches"], 1);
    assert_eq!(asset["settled_amount"], "1.5");
    // Accounts 1, 2 (bought ACME) and 3 (rewarded), and the issuer (paid by the settlement).
    assert_eq!(asset["holders"], 4, "{acme_figures:#}");
    assert_eq!(acme_figures["badges"]["badge_batches"], 1);
    assert_eq!(acme_figures["badges"]["badge_leaves"], 4);
    assert_eq!(acme_figures["badges"]["badges_revoked"], 1);
    assert_eq!(acme_figures["rewards_by_day"][0]["reason"], "forum_support");
    assert_eq!(acme_figures["rewards_by_day"][0]["amount"], "3");
    assert_eq!(acme_figures["rewards_by_day"][0]["day_start_ms"], 0);
    assert_eq!(acme_figures["rewards_by_day"].as_array().map(Vec::len), Some(1), "{acme_figures:#}");
    // The chain's blocks are all on day 0 of block time: the 90-day window starts there.
    assert_eq!(acme_figures["rewards_by_day_from_ms"], 0);
    problem(&node, "/v1/providers/Acme!", StatusCode::BAD_REQUEST, "member-id", "Acme!").await;
    problem(&node, "/v1/providers/initech", StatusCode::NOT_FOUND, "not-found", "initech").await;
}

#[tokio::test]
async fn an_accounts_open_holds_are_listed_in_human_units() {
    let node = node();
    let three = ok(&node, &format!("/v1/accounts/{}/holds", account(3).to_address())).await;
    // The settled hold is not open; the second one is, and locks its amount.
    let holds = three["holds"].as_array().expect("holds");
    assert_eq!(holds.len(), 1, "{three:#}");
    assert_eq!(holds[0]["hold_id"], OpId([11; 16]).to_string());
    assert_eq!(holds[0]["amount"], "1.25");
    assert_eq!(holds[0]["amount_minor"], "125");
    assert_eq!(holds[0]["status"], "open");
    assert_eq!(holds[0]["member"], "acme");
    assert_eq!(three["complete"], true);
    let account_three = ok(&node, &format!("/v1/accounts/{}", account(3).to_address())).await;
    assert_eq!(account_three["balances"][0]["locked"], "1.25", "{account_three:#}");
    // The issuer placed the holds but holds nothing; a stranger neither.
    for who in [acme_issuer().public_key(), account(9)] {
        let none = ok(&node, &format!("/v1/accounts/{}/holds", who.to_address())).await;
        assert_eq!(none["holds"], serde_json::json!([]), "{none:#}");
    }
    problem(&node, "/v1/accounts/tally1nope/holds", StatusCode::BAD_REQUEST, "address", "tally1nope").await;
}

#[tokio::test]
async fn rewards_by_reason_over_time_per_bucket() {
    let node = node();
    for bucket in ["day", "week", "month"] {
        let series = ok(&node, &format!("/v1/providers/acme/rewards?asset=ACME@acme&bucket={bucket}")).await;
        assert_eq!(series["bucket"], bucket);
        assert_eq!(series["reasons"], serde_json::json!(["forum_support"]), "{series:#}");
        let buckets = series["buckets"].as_array().expect("buckets");
        assert_eq!(buckets.len(), 1, "{series:#}");
        // Every block of the fixture is on 1970-01-01.
        assert_eq!(buckets[0]["start_ms"], 0);
        assert_eq!(buckets[0]["by_reason"]["forum_support"], "3");
        assert_eq!(buckets[0]["by_reason_minor"]["forum_support"], "300");
        assert_eq!(buckets[0]["total"], "3");
        assert_eq!(series["truncated"], false);
    }
    let default = ok(&node, "/v1/providers/acme/rewards?asset=ACME@acme&days=1").await;
    assert_eq!((default["from_ms"].as_u64(), default["to_ms"].as_u64()), (Some(0), Some(86_400_000)));
    // globex granted no rewards: an empty series, not an error.
    let globex_series = ok(&node, "/v1/providers/globex/rewards?asset=GLOBEX@globex").await;
    assert_eq!(globex_series["buckets"], serde_json::json!([]));
}

#[tokio::test]
async fn rewards_over_time_refuse_bad_input_by_name() {
    let node = node();
    let bad = StatusCode::BAD_REQUEST;
    problem(&node, "/v1/providers/acme/rewards", bad, "query", "`asset` is required").await;
    problem(&node, "/v1/providers/acme/rewards?asset=acme", bad, "asset-id", "not an asset id").await;
    problem(&node, "/v1/providers/acme/rewards?asset=GLOBEX@globex", bad, "query", "not an asset of `acme`")
        .await;
    problem(
        &node,
        "/v1/providers/acme/rewards?asset=ACME@acme&bucket=year",
        bad,
        "query",
        "day, week, month",
    )
    .await;
    for days in ["0", "3661", "+5", "ten"] {
        let uri = format!("/v1/providers/acme/rewards?asset=ACME@acme&days={days}");
        problem(&node, &uri, bad, "query", "1..=3660").await;
    }
    problem(&node, "/v1/providers/acme/rewards?asset=ACME@acme&from=1", bad, "query", "from").await;
    problem(&node, "/v1/providers/Acme!/rewards?asset=ACME@acme", bad, "member-id", "Acme!").await;
    let missing = StatusCode::NOT_FOUND;
    problem(&node, "/v1/providers/initech/rewards?asset=MAPS@initech", missing, "not-found", "initech").await;
    problem(&node, "/v1/providers/acme/rewards?asset=NOPE@acme", missing, "not-found", "NOPE@acme").await;
}

/// Reads server-sent events from `uri` (with `last_event_id`) until `count` events came.
async fn read_events(
    node: &Node,
    uri: &str,
    last_event_id: Option<&str>,
    count: usize,
) -> Vec<(String, String, Value)> {
    use tower::ServiceExt;
    let mut request = Request::builder().uri(uri);
    if let Some(id) = last_event_id {
        request = request.header("last-event-id", id);
    }
    let response =
        node.router.clone().oneshot(request.body(Body::empty()).expect("request")).await.expect("infallible");
    assert_eq!(response.status(), StatusCode::OK, "{uri}");
    assert_eq!(
        response.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()),
        Some("text/event-stream")
    );
    let mut body = response.into_body();
    let mut text = String::new();
    let mut events = Vec::new();
    while events.len() < count {
        // A guard against a stream that never sends what the test waits for (a hang would be
        // no verdict); not a timing assertion: commits here are synchronous.
        let frame = tokio::time::timeout(std::time::Duration::from_secs(60), body.frame())
            .await
            .unwrap_or_else(|_| panic!("{uri}: only {} of {count} events came: {events:?}", events.len()))
            .expect("the stream goes on")
            .expect("a frame");
        if let Ok(data) = frame.into_data() {
            text.push_str(&String::from_utf8_lossy(&data));
        }
        while let Some(end) = text.find("\n\n") {
            let chunk: String = text.drain(..end + 2).collect();
            let (mut name, mut id, mut data) = (String::new(), String::new(), String::new());
            for line in chunk.lines() {
                if let Some(value) = line.strip_prefix("event:") {
                    name = value.trim().to_owned();
                } else if let Some(value) = line.strip_prefix("id:") {
                    id = value.trim().to_owned();
                } else if let Some(value) = line.strip_prefix("data:") {
                    data.push_str(value.trim());
                }
            }
            if !name.is_empty() {
                events.push((name, id, serde_json::from_str(&data).expect("JSON data")));
            }
        }
    }
    events
}

#[tokio::test]
async fn events_stream_blocks_and_followed_accounts_and_resume() {
    let node = node();
    let three = account(3).to_address();
    let events = read_events(&node, &format!("/v1/events?from=1&accounts={three}"), None, 7).await;
    let names: Vec<(&str, &str)> = events.iter().map(|(name, id, _)| (name.as_str(), id.as_str())).collect();
    // Block 1 holds two of account 3's transactions, block 3 two; each block's transactions
    // come before its block event.
    assert_eq!(
        names,
        vec![
            ("tx", "1"),
            ("tx", "1"),
            ("block", "1"),
            ("block", "2"),
            ("tx", "3"),
            ("tx", "3"),
            ("block", "3")
        ]
    );
    assert_eq!(events[2].2["block_id"], Value::String(node.blocks[0].id().to_string()));
    assert_eq!(events[0].2["account"], Value::String(three.clone()));

    // Resuming after block 3 starts at block 4, whatever `from` says.
    let resumed = read_events(&node, "/v1/events?from=1", Some("3"), 2).await;
    assert_eq!(resumed.iter().map(|(_, id, _)| id.as_str()).collect::<Vec<_>>(), vec!["4", "5"]);

    // A stream at the tip waits for the next commit.
    let future = {
        let next = commit(&node.store, vec![]);
        node.committed.send_replace(Height(6));
        next
    };
    let live = read_events(&node, "/v1/events?from=6", None, 1).await;
    assert_eq!(live[0].2["block_id"], Value::String(future.id().to_string()));

    problem(&node, "/v1/events?from=0", StatusCode::BAD_REQUEST, "query", "height 1").await;
    problem(&node, "/v1/events?from=soon", StatusCode::BAD_REQUEST, "query", "soon").await;
    problem(&node, "/v1/events?accounts=tally1x", StatusCode::BAD_REQUEST, "address", "tally1x").await;
    let many = vec![three.as_str(); 17].join(",");
    problem(&node, &format!("/v1/events?accounts={many}"), StatusCode::BAD_REQUEST, "query", "more than 16")
        .await;
    // A malformed `from` is refused even when Last-Event-ID would take precedence over it.
    let request = Request::builder()
        .uri("/v1/events?from=0")
        .header("last-event-id", "3")
        .body(Body::empty())
        .expect("req");
    let (status, _, body) = call(&node.router, request).await;
    assert_eq!((status, body["type"].as_str()), (StatusCode::BAD_REQUEST, Some("urn:tally:problem:query")));
    // Not a height, the last height (after which nothing can follow), and not ASCII.
    for bad in [&b"x"[..], b"18446744073709551615", b"\xe9"] {
        let request = Request::builder()
            .uri("/v1/events")
            .header("last-event-id", axum::http::HeaderValue::from_bytes(bad).expect("a header value"))
            .body(Body::empty())
            .expect("req");
        let (status, _, body) = call(&node.router, request).await;
        assert_eq!(
            (status, body["type"].as_str()),
            (StatusCode::BAD_REQUEST, Some("urn:tally:problem:last-event-id")),
            "{bad:?}"
        );
    }
}

#[tokio::test]
async fn cors_answers_only_configured_origins() {
    let node = node();
    let preflight = |origin: &str| {
        Request::builder()
            .method(Method::OPTIONS)
            .uri("/v1/status")
            .header(header::ORIGIN, origin)
            .header(header::ACCESS_CONTROL_REQUEST_METHOD, "GET")
            .body(Body::empty())
            .expect("request")
    };
    let allowed = |headers: &axum::http::HeaderMap| {
        headers.get(header::ACCESS_CONTROL_ALLOW_ORIGIN).and_then(|v| v.to_str().ok()).map(str::to_owned)
    };
    let (_, headers, _) = call(&node.router, preflight("https://gateway.example")).await;
    assert_eq!(allowed(&headers), None, "no CORS unless configured");
    let listed = with_cors(node.router.clone(), &["https://gateway.example".to_owned()]);
    let (_, headers, _) = call(&listed, preflight("https://gateway.example")).await;
    assert_eq!(allowed(&headers).as_deref(), Some("https://gateway.example"));
    let (_, headers, _) = call(&listed, preflight("https://elsewhere.example")).await;
    assert_eq!(allowed(&headers), None);
    let any = with_cors(node.router.clone(), &["*".to_owned()]);
    let (_, headers, _) = call(&any, preflight("https://elsewhere.example")).await;
    assert_eq!(allowed(&headers).as_deref(), Some("*"));
}

/// The assets the binary embeds, from the generated manifest.
fn embedded_assets() -> Vec<String> {
    include_str!("../src/api/explorer_page/manifest.rs")
        .lines()
        .filter_map(|line| line.trim().strip_prefix("(\"").and_then(|rest| rest.split('"').next()))
        .map(str::to_owned)
        .collect()
}

/// `path` relative to the folder of `from` (both under `/explorer/`), `..` resolved.
fn join_relative(from: &str, path: &str) -> String {
    let mut parts: Vec<&str> = from.split('/').collect();
    parts.pop();
    for part in path.split('/') {
        match part {
            "." => {}
            ".." => {
                parts.pop();
            }
            other => parts.push(other),
        }
    }
    parts.join("/")
}

#[tokio::test]
async fn the_page_and_every_module_it_can_load_are_served_from_the_binary() {
    let node = node();
    let request = Request::builder().uri("/").body(Body::empty()).expect("request");
    let (status, headers, body) = call(&node.router, request).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()),
        Some("text/html; charset=utf-8")
    );
    let html = body.as_str().expect("HTML text");
    assert!(html.contains("/explorer/app.js") && html.contains("/explorer/app.css"), "{html}");

    let assets = embedded_assets();
    assert!(
        assets.contains(&"app.js".to_owned()) && assets.contains(&"sdk/index.js".to_owned()),
        "{assets:?}"
    );
    let import = regex_free_imports;
    let mut imports = 0;
    for asset in &assets {
        let request =
            Request::builder().uri(format!("/explorer/{asset}")).body(Body::empty()).expect("request");
        let (status, headers, body) = call(&node.router, request).await;
        assert_eq!(status, StatusCode::OK, "{asset}");
        let content_type =
            headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
        if asset.ends_with(".js") {
            assert_eq!(content_type, "text/javascript; charset=utf-8", "{asset}");
            // Every module a module imports is embedded too: the browser needs nothing else.
            let text = body.as_str().unwrap_or_default();
            for specifier in import(text) {
                imports += 1;
                let target = if specifier.starts_with("/explorer/") {
                    specifier.trim_start_matches("/explorer/").to_owned()
                } else {
                    assert!(specifier.starts_with('.'), "{asset} imports a bare specifier `{specifier}`");
                    join_relative(asset, &specifier)
                };
                assert!(
                    assets.contains(&target),
                    "{asset} imports `{specifier}` ({target}), which is not embedded"
                );
            }
        }
    }
    // The SDK's 25 modules import each other and 27 vendored ones: the walk saw them.
    assert!(imports > 100, "only {imports} imports found: the import scan is broken");
    problem(&node, "/explorer/nothing.js", StatusCode::NOT_FOUND, "not-found", "nothing.js").await;
}

/// The specifiers of a module's static imports and re-exports, and of `import('…')` calls.
fn regex_free_imports(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    for line in text.lines() {
        let line = line.trim_start();
        let candidates: Vec<&str> = if line.starts_with("import") || line.starts_with("export") {
            line.split(" from ").skip(1).chain(line.strip_prefix("import ")).collect()
        } else {
            Vec::new()
        };
        for candidate in candidates.into_iter().chain(line.split("import(").skip(1)) {
            let candidate = candidate.trim_start();
            let Some(quote) = candidate.chars().next().filter(|c| *c == '\'' || *c == '"') else { continue };
            if let Some(specifier) = candidate[1..].split(quote).next() {
                found.push(specifier.to_owned());
            }
        }
    }
    found
}

/// Measurement, not a test of behaviour (run with `--ignored --nocapture`): the reads the
/// explorer's first view makes (status, validators, the last 100 blocks) and an indexed history
/// and trades page, on a store of 100,000 blocks, median of 5 each.
// Not split: a by-hand measurement (ignored by default): build the store, then time the reads, in order.
#[tokio::test]
#[ignore]
async fn measure_first_view_reads_on_100k_blocks() {
    use tally_store::BlockCommit;
    use tally_types::{BlockId, Certificate, Header, Signature, Subject, ValidatorIndex, View};
    let node = node();
    let tip = node.blocks.last().expect("blocks").clone();
    let (mut parent, mut height) = (tip.id(), tip.header.height.0);
    let started = std::time::Instant::now();
    while height < 100_000 {
        let mut group = Vec::new();
        for _ in 0..1_000 {
            height += 1;
            let block = Block {
                header: Header {
                    height: Height(height),
                    view: View(height),
                    parent_id: parent,
                    time_ms: 1_000 * height,
                    proposer: ValidatorIndex((height % 4) as u16),
                    tx_root: tally_types::block::tx_root(&[]),
                    receipts_root: tally_types::block::receipts_root(&[]),
                    ..tip.header.clone()
                },
                txs: BoundedVec::new(vec![]).expect("empty"),
            };
            parent = BlockId(block.id().0);
            let subject = Subject::Finalize { view: block.header.view, block_id: block.id() };
            let votes: Vec<_> = (0..3u16).map(|i| (ValidatorIndex(i), Signature([i as u8; 64]))).collect();
            group.push((block, Certificate::from_votes(subject, &votes, 4).expect("arranged")));
        }
        let commits: Vec<BlockCommit<'_>> = group
            .iter()
            .map(|(block, certificate)| BlockCommit {
                block,
                certificate,
                receipts: &[],
                state_writes: &[],
                tree_writes: &[],
            })
            .collect();
        node.store.commit_blocks(&commits).expect("commit");
    }
    println!("built {height} blocks in {:.1} s", started.elapsed().as_secs_f64());
    node.committed.send_replace(Height(height));
    let three = account(3).to_address();
    for uri in [
        "/v1/status".to_owned(),
        "/v1/validators".to_owned(),
        "/v1/blocks?limit=100".to_owned(),
        format!("/v1/accounts/{three}/history"),
        "/v1/markets/ACME@acme/GLOBEX@globex/summary".to_owned(),
        "/".to_owned(),
    ] {
        let mut times = Vec::new();
        for _ in 0..5 {
            let started = std::time::Instant::now();
            let (status, _) = get(&node, &uri).await;
            times.push(started.elapsed().as_secs_f64() * 1_000.0);
            assert_eq!(status, StatusCode::OK, "{uri}");
        }
        times.sort_by(f64::total_cmp);
        println!("{uri}: median {:.2} ms", times[2]);
    }
    // With TALLY_EXPLORER_SERVE=ADDR the store is served there for a browser to measure
    // (sdk/typescript/test-browser/first-render.ts) until the file named by
    // TALLY_EXPLORER_SERVE_DONE exists (at most 5 minutes).
    if let (Some(addr), Some(done)) =
        (std::env::var_os("TALLY_EXPLORER_SERVE"), std::env::var_os("TALLY_EXPLORER_SERVE_DONE"))
    {
        let listener = tokio::net::TcpListener::bind(addr.to_str().expect("an address")).await.expect("bind");
        let app = node.router.clone();
        tokio::spawn(async move { axum::serve(listener, app).await });
        println!("serving on {addr:?}");
        for _ in 0..1_500 {
            if std::path::Path::new(&done).exists() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
    }
}

/// Measurement, not a test of behaviour (run with `--ignored --nocapture`): the durable commit
/// of blocks of 1,000 transfers between 1,000 accounts, as the storage writer does it (block,
/// receipts, state, tree and the explorer's indexes), median of 10 blocks. Compare with a build
/// whose `commit_blocks` skips the index calls to see what the indexes cost.
// Not split: a by-hand measurement (ignored by default): build blocks, then time commits.
#[tokio::test]
#[ignore]
async fn measure_commit_of_blocks_of_1000_transfers() {
    use tally_ledger::{BlockContext, execute_block};
    use tally_store::BlockCommit;
    use tally_types::{BlockId, Certificate, Header, Signature, Subject, ValidatorIndex, View};
    const ACCOUNTS: usize = 1_000;
    let dir = tempfile::tempdir().expect("tempdir");
    let identity = ChainIdentity { chain_id: chain(), genesis_hash: GENESIS_HASH };
    let store = Store::open(&dir.path().join("node.redb"), &identity).expect("open");
    let keys: Vec<SecretKey> = (0..ACCOUNTS)
        .map(|i| {
            let mut seed = [7u8; 32];
            seed[..8].copy_from_slice(&(i as u64).to_le_bytes());
            SecretKey::from_seed(&seed)
        })
        .collect();
    let mut ledger = genesis();
    ledger.balances = keys
        .iter()
        .map(|k| GenesisBalance { account: k.public_key(), asset: acme(), amount: Amount(1_000_000) })
        .collect();
    inproc::init_genesis(&store, &ledger);
    let mut parent = BlockId(GENESIS_HASH);
    let mut times = Vec::new();
    for height in 1..=10u64 {
        let txs: Vec<SignedTransaction> = (0..ACCOUNTS)
            .map(|i| {
                let to = keys[(i + height as usize) % ACCOUNTS].public_key();
                tx(&keys[i], height, vec![Op::Transfer(Transfer { asset: acme(), to, amount: Amount(1) })])
            })
            .collect();
        let context = BlockContext { chain_id: chain(), height: Height(height), time_ms: 1_000 * height };
        let snapshot = store.snapshot().expect("snapshot");
        let output = execute_block(&snapshot, &context, &txs).expect("executes");
        let batch = apply_updates(&snapshot, &output.writes.tree_updates()).expect("tree");
        drop(snapshot);
        let block = Block {
            header: Header {
                chain_id: chain(),
                height: Height(height),
                view: View(height),
                parent_id: parent,
                time_ms: context.time_ms,
                proposer: ValidatorIndex(0),
                tx_root: tally_types::block::tx_root(&txs.iter().map(|tx| tx.id()).collect::<Vec<_>>()),
                receipts_root: tally_types::block::receipts_root(&output.receipts),
                state_root: batch.root,
                validators_hash: validators().hash(),
            },
            txs: BoundedVec::new(txs).expect("within the block limit"),
        };
        parent = block.id();
        let subject = Subject::Finalize { view: block.header.view, block_id: block.id() };
        let votes: Vec<_> = (0..3u16).map(|i| (ValidatorIndex(i), Signature([i as u8; 64]))).collect();
        let certificate = Certificate::from_votes(subject, &votes, 4).expect("arranged");
        let (state, tree) = (state_writes(&output.writes), tree_writes(&batch));
        let started = std::time::Instant::now();
        store
            .commit_block(&BlockCommit {
                block: &block,
                certificate: &certificate,
                receipts: &output.receipts,
                state_writes: &state,
                tree_writes: &tree,
            })
            .expect("commit");
        times.push(started.elapsed().as_secs_f64() * 1_000.0);
    }
    times.sort_by(f64::total_cmp);
    println!(
        "commit of a block of {ACCOUNTS} transfers: median {:.1} ms (min {:.1}, max {:.1})",
        times[5], times[0], times[9]
    );
}
