//! The ledger facts badges are proven by (docs/ARCHITECTURE.md "Ledger facts"): usage and
//! spend per (holder, provider), applications named by SettleApp, revenue from grants and
//! market fills; and the invariant checks that tie them to holds and to the history.
//! `Chain::block` checks every state invariant and `History::check_facts` after every block.

mod common;

use common::*;
use tally_ledger::invariants::FactViolation;
use tally_ledger::state::{AppUsageState, RevenueState, SpentState, UsageState};
use tally_ledger::{InvariantViolation, StateKey, StateValue, check_invariants};
use tally_types::codec::BoundedVec;
use tally_types::pricing::UsageLine;
use tally_types::tx::{AuthorizeSpend, Hold, OfferMode, PlaceOffer, Settle, SettleApp};
use tally_types::{Amount, AppId, Hash, Height, ItemName, Op, OpId, Price, SecretKey};

fn hold_id(n: u8) -> OpId {
    OpId([n; 16])
}

fn authorize(asset_id: &str) -> Op {
    Op::AuthorizeSpend(AuthorizeSpend {
        provider: member("acme"),
        asset: asset(asset_id),
        cap: Amount(1_000),
        expires_at_ms: u64::MAX,
        plan: None,
    })
}

fn hold(id: u8, holder: &SecretKey, amount: u128) -> Op {
    Op::Hold(Hold {
        hold_id: hold_id(id),
        holder: holder.public_key(),
        asset: asset("ACME@acme"),
        amount: Amount(amount),
        expires_at_ms: u64::MAX - 1,
    })
}

fn settlement(id: u8, amount: u128, lines: &[(&str, u64)]) -> Settle {
    let lines = lines
        .iter()
        .map(|(item, units)| UsageLine { item: ItemName::new(*item).expect("valid item"), units: *units })
        .collect();
    Settle {
        hold_id: hold_id(id),
        batch_id: op_id(id),
        amount: Amount(amount),
        usage_root: Hash([id; 32]),
        lines: BoundedVec::new(lines).expect("few lines"),
    }
}

fn settle_app(id: u8, amount: u128, units: u64, app: &str) -> Op {
    Op::SettleApp(Box::new(SettleApp {
        settle: settlement(id, amount, &[("search.query", units)]),
        app: AppId::new(app).expect("valid app id"),
    }))
}

fn value(chain: &Chain, key: &StateKey) -> Option<StateValue> {
    chain.state.value(key).cloned()
}

fn usage(chain: &Chain, holder: &SecretKey) -> Option<StateValue> {
    value(chain, &StateKey::Usage { holder: holder.public_key(), provider: member("acme") })
}

#[test]
fn settlements_count_units_spend_and_distinct_applications() {
    let a = actors();
    let mut chain = Chain::new();
    chain.ok(&a.alice, vec![authorize("ACME@acme")]);
    chain.ok(&a.acme, vec![hold(1, &a.alice, 100), hold(2, &a.alice, 100), hold(3, &a.alice, 100)]);
    // A plain Settle counts units and spend, and names no application.
    chain.ok(&a.acme, vec![Op::Settle(settlement(1, 40, &[("search.query", 7), ("search.suggest", 5)]))]);
    assert_eq!(
        usage(&chain, &a.alice),
        Some(StateValue::Usage(UsageState { units: 12, settlements: 1, applications: 0 }))
    );
    // Two settlements for one application and one for a second.
    chain.ok(&a.acme2, vec![settle_app(2, 10, 1_000, "weather-bot")]);
    chain.ok(&a.acme, vec![settle_app(3, 0, 3, "weather-bot")]);
    chain.ok(&a.acme, vec![hold(4, &a.alice, 5)]);
    chain.ok(&a.acme, vec![settle_app(4, 5, 1, "news-bot")]);
    assert_eq!(
        usage(&chain, &a.alice),
        Some(StateValue::Usage(UsageState { units: 1_016, settlements: 4, applications: 2 }))
    );
    let spent =
        StateKey::Spent { holder: a.alice.public_key(), provider: member("acme"), asset: asset("ACME@acme") };
    assert_eq!(
        value(&chain, &spent),
        Some(StateValue::Spent(SpentState { amount: Amount(55), settlements: 4 }))
    );
    let app = StateKey::AppUsage {
        holder: a.alice.public_key(),
        provider: member("acme"),
        app: AppId::new("weather-bot").expect("valid"),
    };
    assert_eq!(
        value(&chain, &app),
        Some(StateValue::AppUsage(AppUsageState { units: 1_003, settlements: 2, first_height: Height(4) }))
    );
    // Nothing for another holder or provider.
    assert_eq!(usage(&chain, &a.bob), None);
    assert_eq!(
        value(&chain, &StateKey::Usage { holder: a.alice.public_key(), provider: member("globex") }),
        None
    );
}

#[test]
fn a_failed_settlement_counts_nothing() {
    let a = actors();
    let mut chain = Chain::new();
    chain.ok(&a.alice, vec![authorize("ACME@acme")]);
    chain.ok(&a.acme, vec![hold(1, &a.alice, 100)]);
    // Above the hold: refused, and the facts stay absent.
    chain.fails(&a.acme, vec![settle_app(1, 101, 9, "bot")], 0, tally_types::ErrorCode::SettleExceedsHold);
    assert_eq!(usage(&chain, &a.alice), None);
    // A later op of the same transaction fails: the settlement's facts are undone with it.
    chain.fails(
        &a.acme,
        vec![settle_app(1, 1, 9, "bot"), settle_app(1, 1, 9, "bot")],
        1,
        tally_types::ErrorCode::HoldClosed,
    );
    assert_eq!(usage(&chain, &a.alice), None);
}

#[test]
fn grants_and_fills_are_revenue_in_the_asset_received() {
    let a = actors();
    let mut chain = Chain::new();
    chain.ok(&a.acme, vec![grant(1, "ACME@acme", &a.carol, 30)]);
    chain.ok(&a.globex, vec![grant(2, "GLX@globex", &a.bob, 1_000)]);
    let revenue = |chain: &Chain, who: &SecretKey, asset_id: &str| {
        value(chain, &StateKey::Revenue { account: who.public_key(), asset: asset(asset_id) })
    };
    assert_eq!(
        revenue(&chain, &a.carol, "ACME@acme"),
        Some(StateValue::Revenue(RevenueState { market: Amount::ZERO, grants: Amount(30) }))
    );
    // Alice sells 100 ACME at 2 GLX each; bob buys 40 of them.
    let place = |id: u8, sell: &str, buy: &str, amount: u128, price: (u64, u64)| {
        Op::PlaceOffer(PlaceOffer {
            offer_id: op_id(id),
            sell: asset(sell),
            buy: asset(buy),
            amount: Amount(amount),
            price: Price { numerator: price.0, denominator: price.1 },
            mode: OfferMode::Normal,
        })
    };
    chain.ok(&a.alice, vec![place(1, "ACME@acme", "GLX@globex", 100, (2, 1))]);
    chain.ok(&a.bob, vec![place(2, "GLX@globex", "ACME@acme", 80, (1, 2))]);
    assert_eq!(
        revenue(&chain, &a.alice, "GLX@globex"),
        Some(StateValue::Revenue(RevenueState { market: Amount(80), grants: Amount::ZERO }))
    );
    assert_eq!(
        revenue(&chain, &a.bob, "ACME@acme"),
        Some(StateValue::Revenue(RevenueState { market: Amount(40), grants: Amount::ZERO }))
    );
    // Bob's GLX revenue is his grant only: paying is not earning.
    assert_eq!(
        revenue(&chain, &a.bob, "GLX@globex"),
        Some(StateValue::Revenue(RevenueState { market: Amount::ZERO, grants: Amount(1_000) }))
    );
    assert_eq!(revenue(&chain, &a.alice, "ACME@acme"), None);
}

/// Each fact entry changed alone, or removed, breaks an invariant that names it.
#[test]
fn the_checks_catch_a_fact_that_disagrees_with_holds_or_history() {
    let a = actors();
    let mut chain = Chain::new();
    chain.ok(&a.alice, vec![authorize("ACME@acme")]);
    chain.ok(&a.acme, vec![hold(1, &a.alice, 100), hold(2, &a.alice, 100)]);
    chain.ok(&a.acme, vec![settle_app(1, 10, 5, "bot"), settle_app(2, 20, 6, "bot2")]);
    chain.ok(&a.acme, vec![grant(9, "ACME@acme", &a.carol, 30)]);
    let entries: Vec<(StateKey, StateValue)> =
        chain.state.entries().map(|(key, value)| (key.clone(), value.clone())).collect();
    let check =
        |entries: &[(StateKey, StateValue)]| -> (Result<(), InvariantViolation>, Result<(), FactViolation>) {
            (
                check_invariants(entries.iter().map(|(key, value)| (key, value))),
                chain.history.check_facts(entries.iter().map(|(key, value)| (key, value))),
            )
        };
    let (state, history) = check(&entries);
    state.expect("the real state keeps the invariants");
    history.expect("the real state is what the history implies");

    let edit =
        |change: &dyn Fn(&mut StateValue)| -> (Result<(), InvariantViolation>, Result<(), FactViolation>) {
            let mut changed = entries.clone();
            for (_, value) in changed.iter_mut() {
                change(value);
            }
            check(&changed)
        };
    // Spend one unit more than the settled holds captured: the state check.
    let (state, _) = edit(&|value| {
        if let StateValue::Spent(spent) = value {
            spent.amount.0 += 1;
        }
    });
    assert!(matches!(state, Err(InvariantViolation::Fact(FactViolation::Mismatch { .. }))), "{state:?}");
    // One application fewer than the entries: the state check.
    let (state, _) = edit(&|value| {
        if let StateValue::Usage(usage) = value {
            usage.applications = 1;
        }
    });
    assert!(state.expect_err("applications").to_string().contains("application entries"));
    // One unit more than the settlements' lines: only the history can tell.
    let (state, history) = edit(&|value| {
        if let StateValue::Usage(usage) = value {
            usage.units += 1;
        }
    });
    state.expect("units are not in any hold");
    assert!(history.expect_err("units").to_string().contains("usage units"));
    // A grant counted twice as revenue: the history check.
    let (_, history) = edit(&|value| {
        if let StateValue::Revenue(revenue) = value {
            revenue.grants.0 += 30;
        }
    });
    assert!(history.expect_err("revenue").to_string().contains("revenue"));
    // A spend entry removed: the state check names the settled holds.
    let without: Vec<_> =
        entries.iter().filter(|(key, _)| !matches!(key, StateKey::Spent { .. })).cloned().collect();
    let (state, _) = check(&without);
    assert!(state.expect_err("no spend").to_string().contains("settled holds"));
}
