//! Price plan reads (`/v1/plans…`) against a real redb store whose blocks the ledger executed
//! and the engine's commit path stored: listings filtered by member and item, one plan's
//! versions with proofs, a holder's usage under a version; and the bad-input catalogue, as
//! problem+json.

mod inproc;

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tally_ledger::{GenesisAsset, GenesisBalance, GenesisLedger, GenesisMember, StateValue};
use tally_node::api::{ApiLimits, ApiState, AssetCatalog, Metrics, NodeStatus, PROBLEM_JSON, router};
use tally_store::{ChainIdentity, Store};
use tally_types::codec::{BoundedBytes, BoundedString, BoundedVec};
use tally_types::pricing::{PlanItem, PlanRef, PricePlan, Tier, UnitPrice, UsageLine};
use tally_types::tx::{AssetFlags, AuthorizeSpend, Hold, RetirePlan, Settle, Transaction};
use tally_types::{
    Amount, AssetId, ChainId, Hash, Height, ItemName, MemberId, Op, OpId, PlanId, SecretKey,
    SignedTransaction, ValidatorSet,
};
use tokio::sync::{mpsc, watch};

const GENESIS_HASH: Hash = Hash([3; 32]);

fn chain() -> ChainId {
    ChainId::new("tally-plans-test").expect("valid")
}

fn acme() -> AssetId {
    "ACME@acme".parse().expect("valid")
}

fn globex() -> AssetId {
    "GLOBEX@globex".parse().expect("valid")
}

fn issuer(seed: u8) -> SecretKey {
    SecretKey::from_seed(&[seed; 32])
}

fn holder() -> SecretKey {
    SecretKey::from_seed(&[43; 32])
}

fn validators() -> ValidatorSet {
    ValidatorSet::new((0..4u8).map(|i| SecretKey::from_seed(&[200 + i; 32]).public_key()).collect())
        .expect("four validators")
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

fn plan(id: &str, version: u32, asset: AssetId, items: &[(&str, &str)]) -> PricePlan {
    PricePlan {
        plan_id: PlanId::new(id).expect("valid"),
        version,
        asset,
        title: BoundedString::new(format!("{id} v{version}")).expect("short"),
        items: BoundedVec::new(
            items
                .iter()
                .map(|(item, price)| PlanItem {
                    item: ItemName::new(*item).expect("valid"),
                    included_per_hold: 0,
                    tiers: BoundedVec::new(vec![Tier {
                        up_to: None,
                        unit_price: UnitPrice::parse(price).expect("valid"),
                    }])
                    .expect("one tier"),
                })
                .collect(),
        )
        .expect("few items"),
        packs: BoundedVec::empty(),
    }
}

fn plan_ref(id: &str, version: u32) -> PlanRef {
    PlanRef { plan_id: PlanId::new(id).expect("valid"), version }
}

/// Three blocks: (1) acme publishes `standard` versions 1 and 2 (calls, tokens), globex
/// publishes `basic` version 1 (calls); (2) the holder agrees to acme's standard@1, acme holds
/// 1.00 ACME and settles 7 calls at 0.02 each (0.14 ACME); (3) acme retires standard@1.
struct Node {
    _dir: tempfile::TempDir,
    router: Router,
    _submissions: mpsc::Receiver<tally_node::api::Submission>,
}

fn node() -> Node {
    let dir = tempfile::tempdir().expect("tempdir");
    let identity = ChainIdentity { chain_id: chain(), genesis_hash: GENESIS_HASH };
    let store = Arc::new(Store::open(&dir.path().join("node.redb"), &identity).expect("open"));
    let member = |name: &str, seed: u8| GenesisMember {
        id: MemberId::new(name).expect("valid"),
        name: format!("{name} Inc."),
        issuers: vec![issuer(seed).public_key()],
    };
    let genesis = GenesisLedger {
        members: vec![member("acme", 1), member("globex", 2)],
        assets: vec![
            GenesisAsset { asset: acme(), scale: 2, max_supply: None, flags: AssetFlags::default() },
            GenesisAsset { asset: globex(), scale: 0, max_supply: None, flags: AssetFlags::default() },
        ],
        balances: vec![GenesisBalance {
            account: holder().public_key(),
            asset: acme(),
            amount: Amount(10_000),
        }],
        ..Default::default()
    };
    inproc::init_genesis(&store, &genesis);
    let commit = |txs| inproc::commit(&store, &chain(), GENESIS_HASH, validators().hash(), txs);
    let (acme_issuer, globex_issuer) = (issuer(1), issuer(2));
    let standard = |version| plan("standard", version, acme(), &[("calls", "2"), ("tokens", "0.5")]);
    commit(vec![
        tx(
            &acme_issuer,
            1,
            vec![Op::PublishPlan(Box::new(standard(1))), Op::PublishPlan(Box::new(standard(2)))],
        ),
        tx(&globex_issuer, 1, vec![Op::PublishPlan(Box::new(plan("basic", 1, globex(), &[("calls", "1")])))]),
    ]);
    commit(vec![
        tx(
            &holder(),
            1,
            vec![Op::AuthorizeSpend(AuthorizeSpend {
                provider: MemberId::new("acme").expect("valid"),
                asset: acme(),
                cap: Amount(5_000),
                expires_at_ms: u64::MAX,
                plan: Some(plan_ref("standard", 1)),
            })],
        ),
        tx(
            &acme_issuer,
            2,
            vec![
                Op::Hold(Hold {
                    hold_id: OpId([0x51; 16]),
                    holder: holder().public_key(),
                    asset: acme(),
                    amount: Amount(100),
                    expires_at_ms: u64::MAX,
                }),
                Op::Settle(Settle {
                    hold_id: OpId([0x51; 16]),
                    batch_id: OpId([0x52; 16]),
                    amount: Amount(14),
                    usage_root: Hash([9; 32]),
                    lines: BoundedVec::new(vec![UsageLine {
                        item: ItemName::new("calls").expect("valid"),
                        units: 7,
                    }])
                    .expect("one line"),
                }),
            ],
        ),
    ]);
    commit(vec![tx(&acme_issuer, 3, vec![Op::RetirePlan(RetirePlan { plan: plan_ref("standard", 1) })])]);

    let (submissions, receiver) = mpsc::channel(1);
    let (_, committed) = watch::channel(Height(3));
    let (_, status) = watch::channel(NodeStatus::default());
    let state = ApiState {
        store,
        chain_id: chain(),
        validators: Arc::new(validators()),
        submissions,
        status,
        committed,
        metrics: Arc::new(Metrics::new()),
        assets: AssetCatalog::new([acme(), globex()]),
        limits: ApiLimits { body_bytes_max: 64 * 1024, wait_timeout_ms: 1_000 },
    };
    Node { _dir: dir, router: router(state), _submissions: receiver }
}

async fn call(node: &Node, uri: &str) -> (StatusCode, Option<String>, Value) {
    use tower::ServiceExt;
    let request = Request::builder().uri(uri).body(Body::empty()).expect("request");
    let response = node.router.clone().oneshot(request).await.expect("infallible");
    let status = response.status();
    let content_type =
        response.headers().get(header::CONTENT_TYPE).and_then(|value| value.to_str().ok()).map(str::to_owned);
    let bytes = response.into_body().collect().await.expect("body").to_bytes();
    (status, content_type, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

async fn ok(node: &Node, uri: &str) -> Value {
    let (status, _, body) = call(node, uri).await;
    assert_eq!(status, StatusCode::OK, "{uri}: {body}");
    body
}

fn versions(list: &Value) -> Vec<String> {
    list["plans"]
        .as_array()
        .expect("plans")
        .iter()
        .map(|plan| {
            format!("{}/{}@{} {}", plan["member"], plan["plan_id"], plan["version"], plan["status"])
                .replace('"', "")
        })
        .collect()
}

#[tokio::test]
async fn plans_are_listed_newest_version_first_and_filtered_by_member_and_item() {
    let node = node();
    let all = ok(&node, "/v1/plans").await;
    assert_eq!(
        versions(&all),
        ["acme/standard@2 active", "acme/standard@1 retired", "globex/basic@1 active"],
        "{all:#}"
    );
    assert_eq!(all["height"], 3);
    assert_eq!(all["truncated"], false);
    // Prices are decimal strings of minor units per unit.
    assert_eq!(all["plans"][0]["plan"]["items"][1]["tiers"][0]["unit_price"], "0.5");
    assert_eq!(versions(&ok(&node, "/v1/plans?member=globex").await), ["globex/basic@1 active"]);
    assert_eq!(
        versions(&ok(&node, "/v1/plans?item=tokens").await),
        ["acme/standard@2 active", "acme/standard@1 retired"]
    );
    assert_eq!(versions(&ok(&node, "/v1/plans?member=globex&item=tokens").await), Vec::<String>::new());
}

#[tokio::test]
async fn a_plan_shows_every_version_with_its_proof() {
    let node = node();
    let plan = ok(&node, "/v1/plans/acme/standard").await;
    let list = plan["versions"].as_array().expect("versions");
    assert_eq!(list.len(), 2);
    assert_eq!((list[0]["version"].clone(), list[0]["retired_at"].clone()), (json!(1), json!(3)));
    assert_eq!((list[1]["version"].clone(), list[1]["retired_at"].clone()), (json!(2), Value::Null));
    // The entry's value decodes to the plan shown, and carries its proof.
    let value = hex::decode(list[1]["entry"]["value"].as_str().expect("value")).expect("hex");
    let StateValue::Plan(stored) = StateValue::from_bytes(&value).expect("decodes") else {
        panic!("not a plan")
    };
    assert_eq!(serde_json::to_value(&stored.plan).expect("json"), list[1]["plan"]);
    assert!(list[1]["entry"]["proof"].is_object(), "{plan:#}");
}

#[tokio::test]
async fn a_holders_usage_under_a_version_is_its_tier_position() {
    let node = node();
    let address = holder().public_key().to_address();
    let usage = ok(&node, &format!("/v1/plans/acme/standard/1/usage/{address}")).await;
    assert_eq!(
        usage["items"],
        json!([{ "item": "calls", "units": 7, "billed": 7, "charged": "14" }]),
        "{usage:#}"
    );
    // No usage under version 2: an empty list, proven absent.
    let none = ok(&node, &format!("/v1/plans/acme/standard/2/usage/{address}")).await;
    assert_eq!(none["items"], json!([]));
    assert_eq!(none["entry"]["value"], Value::Null);
}

#[tokio::test]
async fn bad_plan_requests_are_refused_by_name() {
    let node = node();
    let address = holder().public_key().to_address();
    let cases = [
        ("/v1/plans?member=Acme", StatusCode::BAD_REQUEST, "member-id", "member id"),
        ("/v1/plans?item=.calls", StatusCode::BAD_REQUEST, "item-name", "item name"),
        ("/v1/plans?colour=red", StatusCode::BAD_REQUEST, "query", "colour"),
        ("/v1/plans/acme/Standard", StatusCode::BAD_REQUEST, "plan-id", "plan id"),
        ("/v1/plans/acme/premium", StatusCode::NOT_FOUND, "not-found", "no plan `premium`"),
        ("/v1/plans/initech/standard", StatusCode::NOT_FOUND, "not-found", "initech"),
        (
            &*format!("/v1/plans/acme/standard/0/usage/{address}"),
            StatusCode::BAD_REQUEST,
            "plan-version",
            "from 1",
        ),
        (
            &*format!("/v1/plans/acme/standard/x/usage/{address}"),
            StatusCode::BAD_REQUEST,
            "plan-version",
            "`x`",
        ),
        (
            &*format!("/v1/plans/acme/standard/9/usage/{address}"),
            StatusCode::NOT_FOUND,
            "not-found",
            "standard@9",
        ),
        ("/v1/plans/acme/standard/1/usage/tally1nope", StatusCode::BAD_REQUEST, "address", "not an address"),
    ];
    for (uri, status, kind, needle) in cases {
        let (got, content_type, body) = call(&node, uri).await;
        assert_eq!(got, status, "{uri}: {body}");
        assert_eq!(content_type.as_deref(), Some(PROBLEM_JSON), "{uri}");
        assert_eq!(body["type"], format!("urn:tally:problem:{kind}"), "{uri}: {body}");
        let detail = body["detail"].as_str().unwrap_or_default();
        assert!(detail.contains(needle), "{uri}: detail {detail:?} does not mention {needle:?}");
    }
}
