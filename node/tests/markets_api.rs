//! The order-book and metered-usage reads of the HTTP API against a real redb store whose
//! state holds offers, book entries, holds, a settlement batch and an authorization: depth is
//! aggregated per price level, best first, with exact and human prices; pages and cursors
//! work; and every bad input is a precise problem+json document.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tally_ledger::state::{
    AuthorizationState, BatchRecord, BookEntryState, BookPosition, HoldState, HoldStatus, OfferStamp,
    OfferState, OfferStatus, OrderedU64, PriceRank,
};
use tally_ledger::tree::apply_updates;
use tally_ledger::{GenesisAsset, GenesisLedger, GenesisMember, StateKey, StateValue, genesis_writes};
use tally_node::api::{ApiLimits, ApiState, AssetCatalog, Metrics, NodeStatus, PROBLEM_JSON, router};
use tally_store::{ChainIdentity, Store, state_writes, tree_writes};
use tally_types::tx::{AssetFlags, OfferMode};
use tally_types::{
    Amount, AssetId, ChainId, Hash, Height, MemberId, OpId, Price, PublicKey, SecretKey, ValidatorSet,
};
use tokio::sync::{mpsc, watch};

fn chain() -> ChainId {
    ChainId::new("tally-markets-test").expect("valid")
}

fn acme() -> AssetId {
    "ACME@acme".parse().expect("valid")
}

fn globex() -> AssetId {
    "GLOBEX@globex".parse().expect("valid")
}

fn account(index: u8) -> PublicKey {
    SecretKey::from_seed(&[60 + index; 32]).public_key()
}

fn member(name: &str) -> MemberId {
    MemberId::new(name).expect("valid")
}

fn genesis() -> GenesisLedger {
    let member_entry = |name: &str, seed: u8| GenesisMember {
        id: member(name),
        name: name.into(),
        issuers: vec![SecretKey::from_seed(&[seed; 32]).public_key()],
    };
    GenesisLedger {
        members: vec![member_entry("acme", 1), member_entry("globex", 2)],
        assets: vec![
            GenesisAsset { asset: acme(), scale: 2, max_supply: None, flags: AssetFlags::default() },
            GenesisAsset { asset: globex(), scale: 0, max_supply: None, flags: AssetFlags::default() },
        ],
        balances: Vec::new(),
        ..Default::default()
    }
}

/// An open offer and its book entry; `serial` orders offers of equal price by age.
fn offer(
    writes: &mut tally_ledger::WriteSet,
    owner: PublicKey,
    id: u8,
    (sell, buy): (AssetId, AssetId),
    price: (u64, u64),
    remaining: u128,
    serial: u64,
) {
    let price = Price { numerator: price.0, denominator: price.1 };
    let position = BookPosition {
        rank: PriceRank::of(&price).expect("non-zero denominator"),
        stamp: OfferStamp { height: OrderedU64(1), tx_index: OrderedU64(serial), op_index: 0 },
    };
    let offer_id = OpId([id; 16]);
    writes.insert(
        StateKey::Offer { owner, offer_id },
        Some(StateValue::Offer(OfferState {
            sell: sell.clone(),
            buy: buy.clone(),
            price,
            mode: OfferMode::Normal,
            amount: Amount(remaining + 1),
            remaining: Amount(remaining),
            position,
            status: OfferStatus::Open,
        })),
    );
    writes.insert(
        StateKey::BookEntry { sell, buy, position },
        Some(StateValue::BookEntry(BookEntryState { owner, offer_id })),
    );
}

struct Node {
    _dir: tempfile::TempDir,
    router: Router,
    /// Kept so the API's submission channel stays open.
    _submissions: mpsc::Receiver<tally_node::api::Submission>,
}

// Not split: one fixture built top to bottom, each part from the ones above (comments name them).
fn node() -> Node {
    let dir = tempfile::tempdir().expect("tempdir");
    let identity = ChainIdentity { chain_id: chain(), genesis_hash: Hash([9; 32]) };
    let store = Arc::new(Store::open(&dir.path().join("node.redb"), &identity).expect("open"));
    let mut writes = genesis_writes(&genesis()).expect("genesis writes");
    let asks = (acme(), globex());
    let bids = (globex(), acme());
    // Asks, in minor units of GLOBEX per minor unit of ACME: 3/2 twice (one written 6/4), then 2.
    offer(&mut writes, account(1), 1, asks.clone(), (3, 2), 1_000, 1);
    offer(&mut writes, account(2), 2, asks.clone(), (6, 4), 500, 2);
    offer(&mut writes, account(1), 3, asks.clone(), (2, 1), 300, 3);
    // Bids sell GLOBEX for ACME at ACME per GLOBEX: 1 (= 1 quote per base), then 2 (= 1/2).
    offer(&mut writes, account(3), 4, bids.clone(), (1, 1), 40, 4);
    offer(&mut writes, account(3), 5, bids, (2, 1), 7, 5);
    // A closed offer of account 1: listed only with status=all.
    writes.insert(
        StateKey::Offer { owner: account(1), offer_id: OpId([9; 16]) },
        Some(StateValue::Offer(OfferState {
            sell: acme(),
            buy: globex(),
            price: Price { numerator: 1, denominator: 1 },
            mode: OfferMode::ImmediateOrCancel,
            amount: Amount(10),
            remaining: Amount(0),
            position: BookPosition::FIRST,
            status: OfferStatus::Filled { height: Height(1) },
        })),
    );
    let hold = |status| HoldState {
        member: member("globex"),
        holder: account(3),
        asset: globex(),
        amount: Amount(25),
        expires_at_ms: 9_000,
        created_at: Height(1),
        status,
        plan: None,
    };
    writes
        .insert(StateKey::Hold { hold_id: OpId([0x11; 16]) }, Some(StateValue::Hold(hold(HoldStatus::Open))));
    writes.insert(
        StateKey::Hold { hold_id: OpId([0x12; 16]) },
        Some(StateValue::Hold(hold(HoldStatus::Settled {
            batch_id: OpId([0x21; 16]),
            amount: Amount(20),
            height: Height(1),
        }))),
    );
    writes.insert(
        StateKey::BatchId { member: member("globex"), batch_id: OpId([0x21; 16]) },
        Some(StateValue::BatchId(BatchRecord {
            hold_id: OpId([0x12; 16]),
            amount: Amount(20),
            usage_root: Hash([7; 32]),
            height: Height(1),
        })),
    );
    writes.insert(
        StateKey::Authorization { holder: account(3), provider: member("globex"), asset: globex() },
        Some(StateValue::Authorization(AuthorizationState {
            cap: Amount(100),
            cap_remaining: Amount(75),
            expires_at_ms: 99_000,
            plan: None,
        })),
    );
    let batch = {
        let snapshot = store.snapshot().expect("snapshot");
        apply_updates(&snapshot, &writes.tree_updates()).expect("tree")
    };
    store.init_genesis_state(&state_writes(&writes), &tree_writes(&batch)).expect("genesis state");

    let (submissions, receiver) = mpsc::channel(1);
    let (_, committed) = watch::channel(Height(0));
    let (_, status) = watch::channel(NodeStatus::default());
    let validators =
        ValidatorSet::new((0..4u8).map(|i| SecretKey::from_seed(&[200 + i; 32]).public_key()).collect())
            .expect("four validators");
    let state = ApiState {
        store,
        chain_id: chain(),
        validators: Arc::new(validators),
        submissions,
        status,
        committed,
        metrics: Arc::new(Metrics::new()),
        assets: AssetCatalog::new([acme(), globex()]),
        limits: ApiLimits { body_bytes_max: 64 * 1024, wait_timeout_ms: 1_000 },
    };
    Node { _dir: dir, router: router(state), _submissions: receiver }
}

async fn get(node: &Node, uri: &str) -> (StatusCode, String, Value) {
    use tower::ServiceExt;
    let request = Request::builder().uri(uri).body(Body::empty()).expect("request");
    let response = node.router.clone().oneshot(request).await.expect("infallible");
    let status = response.status();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let bytes = response.into_body().collect().await.expect("body").to_bytes();
    let body = serde_json::from_slice(&bytes)
        .unwrap_or_else(|error| panic!("{uri}: not JSON ({error}): {}", String::from_utf8_lossy(&bytes)));
    (status, content_type, body)
}

async fn ok(node: &Node, uri: &str) -> Value {
    let (status, _, body) = get(node, uri).await;
    assert_eq!(status, StatusCode::OK, "{uri}: {body}");
    body
}

#[tokio::test]
async fn the_book_aggregates_levels_best_first_with_exact_and_human_prices() {
    let node = node();
    let book = ok(&node, "/v1/markets/ACME@acme/GLOBEX@globex").await;
    assert_eq!(book["price_unit"], "GLOBEX@globex per ACME@acme");
    let asks = book["asks"].as_array().expect("asks");
    assert_eq!(asks.len(), 2, "{book:#}");
    // 3/2 and 6/4 are one level: 1,500 minor ACME = 15 ACME, from two offers.
    assert_eq!(asks[0]["price_minor"], json!({ "numerator": 3, "denominator": 2 }));
    // 1.5 minor GLOBEX per minor ACME; ACME has 2 decimals, GLOBEX none: 150 GLOBEX per ACME.
    assert_eq!(asks[0]["price"], "150");
    assert_eq!(asks[0]["price_exact"], true);
    assert_eq!(asks[0]["amount"], "15");
    assert_eq!(asks[0]["amount_minor"], "1500");
    assert_eq!(asks[0]["offers"], 2);
    assert_eq!(asks[1]["price_minor"], json!({ "numerator": 2, "denominator": 1 }));
    assert_eq!(asks[1]["amount"], "3");
    // Bids in quote per base, best (highest) first: offer 4 asks 1 ACME-minor per GLOBEX, so
    // it pays 1/1; offer 5 asks 2, so it pays 1/2.
    let bids = book["bids"].as_array().expect("bids");
    assert_eq!(bids.len(), 2, "{book:#}");
    assert_eq!(bids[0]["price_minor"], json!({ "numerator": 1, "denominator": 1 }));
    assert_eq!(bids[0]["price"], "100");
    assert_eq!(bids[0]["amount"], "40");
    assert_eq!(bids[1]["price_minor"], json!({ "numerator": 1, "denominator": 2 }));
    assert_eq!(bids[1]["price"], "50");
    assert_eq!(book["asks_truncated"], false);

    let top = ok(&node, "/v1/markets/ACME@acme/GLOBEX@globex?limit=1").await;
    assert_eq!(top["asks"].as_array().map(Vec::len), Some(1));
    assert_eq!(top["bids"].as_array().map(Vec::len), Some(1));
    assert_eq!(top["asks"][0]["offers"], 2, "a level is never cut by the limit");

    // The other way round, the sides swap.
    let flipped = ok(&node, "/v1/markets/GLOBEX@globex/ACME@acme").await;
    assert_eq!(flipped["asks"][0]["amount"], "40");
    assert_eq!(flipped["bids"][0]["amount"], "15");
}

#[tokio::test]
async fn offers_holds_batches_and_authorizations_read_back() {
    let node = node();
    let address = account(1).to_address();
    let open = ok(&node, &format!("/v1/accounts/{address}/offers")).await;
    let ids: Vec<&str> =
        open["offers"].as_array().expect("offers").iter().filter_map(|o| o["offer_id"].as_str()).collect();
    assert_eq!(ids, ["01".repeat(16), "03".repeat(16)]);
    assert_eq!(open["next"], Value::Null);
    let all = ok(&node, &format!("/v1/accounts/{address}/offers?status=all")).await;
    assert_eq!(all["offers"].as_array().map(Vec::len), Some(3));
    assert_eq!(all["offers"][2]["status"], "filled");
    // Pages of one, following the cursor.
    let first = ok(&node, &format!("/v1/accounts/{address}/offers?limit=1")).await;
    assert_eq!(first["offers"][0]["offer_id"], "01".repeat(16));
    let next = first["next"].as_str().expect("a cursor").to_owned();
    let second = ok(&node, &format!("/v1/accounts/{address}/offers?limit=1&after={next}")).await;
    assert_eq!(second["offers"][0]["offer_id"], "03".repeat(16));
    assert_eq!(second["offers"][0]["remaining"], "3");
    assert_eq!(second["offers"][0]["price"], "200");

    let one = ok(&node, &format!("/v1/offers/{address}/{}", "03".repeat(16))).await;
    assert_eq!(one["status"], "open");
    assert_eq!(one["sell"], "ACME@acme");

    let hold = ok(&node, &format!("/v1/holds/{}", "11".repeat(16))).await;
    assert_eq!(hold["status"], "open");
    assert_eq!(hold["amount"], "25");
    assert_eq!(hold["holder"], account(3).to_address());
    let settled = ok(&node, &format!("/v1/holds/{}", "12".repeat(16))).await;
    assert_eq!(settled["status"], "settled");
    assert_eq!(settled["settled"]["amount"], "20");

    let batch = ok(&node, &format!("/v1/batches/globex/{}", "21".repeat(16))).await;
    assert_eq!(batch["hold_id"], "12".repeat(16));
    assert_eq!(batch["amount"], "20");
    assert_eq!(batch["usage_root"], "07".repeat(32));

    let holder = account(3).to_address();
    let authorization = ok(&node, &format!("/v1/authorizations/{holder}/globex/GLOBEX@globex")).await;
    assert_eq!(authorization["cap_remaining"], "75");
    assert_eq!(authorization["expires_at_ms"], 99_000);
}

#[tokio::test]
async fn bad_market_reads_are_precise_problems() {
    let node = node();
    let address = account(1).to_address();
    let id = "ab".repeat(16);
    let cases: Vec<(String, StatusCode, &str)> = vec![
        ("/v1/markets/ACME@acme/GLOBEX@globex?limit=0".into(), StatusCode::BAD_REQUEST, "query `limit`: `0`"),
        ("/v1/markets/ACME@acme/GLOBEX@globex?limit=501".into(), StatusCode::BAD_REQUEST, "1..=500"),
        ("/v1/markets/ACME@acme/GLOBEX@globex?limit=ten".into(), StatusCode::BAD_REQUEST, "`ten`"),
        ("/v1/markets/ACME@acme/GLOBEX@globex?limit=-1".into(), StatusCode::BAD_REQUEST, "query `limit`"),
        ("/v1/markets/ACME@acme/GLOBEX@globex?depth=3".into(), StatusCode::BAD_REQUEST, "depth"),
        ("/v1/markets/acme/GLOBEX@globex".into(), StatusCode::BAD_REQUEST, "base: `acme`"),
        ("/v1/markets/ACME@acme/GLOBEX".into(), StatusCode::BAD_REQUEST, "quote: `GLOBEX`"),
        ("/v1/markets/ACME@acme/ACME@acme".into(), StatusCode::BAD_REQUEST, "both `ACME@acme`"),
        ("/v1/markets/ACME@acme/NOPE@globex".into(), StatusCode::NOT_FOUND, "no asset `NOPE@globex`"),
        (format!("/v1/accounts/{address}/offers?status=closed"), StatusCode::BAD_REQUEST, "`closed`"),
        (format!("/v1/accounts/{address}/offers?limit=1001"), StatusCode::BAD_REQUEST, "1..=1000"),
        (format!("/v1/accounts/{address}/offers?after=xyz"), StatusCode::BAD_REQUEST, "query `after`"),
        ("/v1/accounts/tally1nope/offers".into(), StatusCode::BAD_REQUEST, "`tally1nope`"),
        (format!("/v1/offers/{address}/{id}"), StatusCode::NOT_FOUND, "no offer"),
        ("/v1/holds/12".into(), StatusCode::BAD_REQUEST, "hold id"),
        (format!("/v1/holds/{id}"), StatusCode::NOT_FOUND, "no hold"),
        (format!("/v1/batches/Globex/{id}"), StatusCode::BAD_REQUEST, "member: `Globex`"),
        (format!("/v1/batches/globex/{id}"), StatusCode::NOT_FOUND, "has not used batch id"),
        (format!("/v1/batches/globex/{}", "g".repeat(32)), StatusCode::BAD_REQUEST, "batch id"),
        (
            format!("/v1/authorizations/{address}/globex/GLOBEX@globex"),
            StatusCode::NOT_FOUND,
            "no authorization",
        ),
        (format!("/v1/authorizations/{address}/globex/GLOBEX"), StatusCode::BAD_REQUEST, "asset: `GLOBEX`"),
    ];
    for (uri, status, needle) in cases {
        let (got, content_type, body) = get(&node, &uri).await;
        assert_eq!(got, status, "{uri}: {body}");
        assert_eq!(content_type, PROBLEM_JSON, "{uri}");
        assert_eq!(body["status"], json!(status.as_u16()), "{uri}");
        let detail = body["detail"].as_str().unwrap_or_default();
        assert!(detail.contains(needle), "{uri}: detail `{detail}` does not mention `{needle}`");
    }
}
