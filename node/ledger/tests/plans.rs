//! Price plans: PublishPlan, RetirePlan, authorizations and holds under a plan version, the
//! settlement check (amount = the plan's charge for the usage lines), tiers across holds,
//! allowances, pack purchases, and the plan invariants. Every rule and error code, in the
//! documented order. `Chain::block` checks every state and history invariant after every block.

mod common;

use std::collections::BTreeMap;

use common::*;
use tally_ledger::invariants::HoldViolation;
use tally_ledger::state::{ItemUsage, OrderedU64, PlanState, PlanUsageState};
use tally_ledger::{InvariantViolation, StateKey, StateValue, check_invariants};
use tally_types::codec::{BoundedString, BoundedVec};
use tally_types::pricing::{
    CreditPack, PlanItem, PlanRef, PricePlan, ReferencePrice, Tier, UnitPrice, UsageLine,
};
use tally_types::tx::{AuthorizeSpend, GrantKind, Hold, PackRef, RetirePlan, Settle};
use tally_types::{Amount, Currency, ErrorCode, Hash, ItemName, Op, OpId, PlanId, SecretKey};

// ---- builders ----

fn item_name(text: &str) -> ItemName {
    ItemName::new(text).expect("valid item name")
}

fn plan_ref(id: &str, version: u32) -> PlanRef {
    PlanRef { plan_id: PlanId::new(id).expect("valid plan id"), version }
}

fn item(name: &str, included_per_hold: u64, tiers: &[(Option<u64>, &str)]) -> PlanItem {
    PlanItem {
        item: item_name(name),
        included_per_hold,
        tiers: BoundedVec::new(
            tiers
                .iter()
                .map(|(up_to, price)| Tier {
                    up_to: *up_to,
                    unit_price: UnitPrice::parse(price).expect("valid"),
                })
                .collect(),
        )
        .expect("few tiers"),
    }
}

/// acme's plan `standard` in ACME: `calls` cost 2 each for the first 10 units a holder settles
/// under the version and 1 after; `tokens` cost 0.3 each, 5 free per hold. Packs: `starter`
/// (1,000 credits for 10.00 USD).
fn standard(version: u32) -> PricePlan {
    PricePlan {
        plan_id: PlanId::new("standard").expect("valid"),
        version,
        asset: asset("ACME@acme"),
        title: BoundedString::new("Standard").expect("short"),
        items: BoundedVec::new(vec![
            item("calls", 0, &[(Some(10), "2"), (None, "1")]),
            item("tokens", 5, &[(None, "0.3")]),
        ])
        .expect("two items"),
        packs: BoundedVec::new(vec![CreditPack {
            name: item_name("starter"),
            credits: Amount(1_000),
            price: ReferencePrice::parse(Currency::new("USD").expect("valid"), "10.00").expect("valid"),
        }])
        .expect("one pack"),
    }
}

fn publish(plan: PricePlan) -> Op {
    Op::PublishPlan(Box::new(plan))
}

fn retire(id: &str, version: u32) -> Op {
    Op::RetirePlan(RetirePlan { plan: plan_ref(id, version) })
}

fn authorize_plan(asset_id: &str, cap: u128, plan: Option<PlanRef>) -> Op {
    Op::AuthorizeSpend(AuthorizeSpend {
        provider: member("acme"),
        asset: asset(asset_id),
        cap: Amount(cap),
        expires_at_ms: u64::MAX,
        plan,
    })
}

fn hold_id(n: u8) -> OpId {
    OpId([0x40 + n; 16])
}

fn hold(id: u8, holder: &SecretKey, amount: u128) -> Op {
    Op::Hold(Hold {
        hold_id: hold_id(id),
        holder: holder.public_key(),
        asset: asset("ACME@acme"),
        amount: Amount(amount),
        expires_at_ms: u64::MAX,
    })
}

fn lines(usage: &[(&str, u64)]) -> BoundedVec<UsageLine, { tally_types::limits::SETTLE_LINES_MAX }> {
    BoundedVec::new(
        usage.iter().map(|(item, units)| UsageLine { item: item_name(item), units: *units }).collect(),
    )
    .expect("few lines")
}

fn settle(id: u8, batch: u8, amount: u128, usage: &[(&str, u64)]) -> Op {
    Op::Settle(Settle {
        hold_id: hold_id(id),
        batch_id: op_id(batch),
        amount: Amount(amount),
        usage_root: Hash([batch; 32]),
        lines: lines(usage),
    })
}

fn pack_grant(id: u8, to: &SecretKey, amount: u128, kind: GrantKind, pack: &str, version: u32) -> Op {
    Op::Grant(tally_types::tx::Grant {
        grant_id: op_id(id),
        asset: asset("ACME@acme"),
        to: to.public_key(),
        amount: Amount(amount),
        kind,
        reason: None,
        external_ref: BoundedString::new("order-1").expect("short"),
        pack: Some(PackRef { plan: plan_ref("standard", version), pack: item_name(pack) }),
    })
}

fn plan_state(chain: &Chain, version: u64) -> PlanState {
    let key = StateKey::Plan {
        member: member("acme"),
        plan_id: PlanId::new("standard").expect("valid"),
        version: OrderedU64(version),
    };
    match chain.state.value(&key) {
        Some(StateValue::Plan(plan)) => (**plan).clone(),
        other => panic!("plan version {version}: {other:?}"),
    }
}

fn usage(chain: &Chain, holder: &SecretKey, version: u64) -> Option<PlanUsageState> {
    let key = StateKey::PlanUsage {
        holder: holder.public_key(),
        member: member("acme"),
        plan_id: PlanId::new("standard").expect("valid"),
        version: OrderedU64(version),
    };
    match chain.state.value(&key) {
        Some(StateValue::PlanUsage(usage)) => Some(usage.clone()),
        None => None,
        other => panic!("usage entry holds {other:?}"),
    }
}

/// acme published `standard` version 1; alice agreed to it with a cap of 500 and acme holds
/// 100 of her ACME under hold 1.
fn agreed_chain() -> (Actors, Chain) {
    let a = actors();
    let mut chain = Chain::new();
    chain.ok(&a.acme, vec![publish(standard(1))]);
    chain.ok(&a.alice, vec![authorize_plan("ACME@acme", 500, Some(plan_ref("standard", 1)))]);
    chain.ok(&a.acme, vec![hold(1, &a.alice, 100)]);
    (a, chain)
}

// ---- PublishPlan and RetirePlan ----

#[test]
fn an_issuer_publishes_versions_of_its_own_plans_in_order() {
    let a = actors();
    let mut chain = Chain::new();
    chain.ok(&a.acme, vec![publish(standard(1))]);
    let published = plan_state(&chain, 1);
    assert_eq!(
        (published.plan, published.published_at, published.retired_at),
        (standard(1), chain.height, None)
    );
    // Another issuer of the same member publishes the next version.
    chain.ok(&a.acme2, vec![publish(standard(2))]);
    assert_eq!(plan_state(&chain, 2).plan.version, 2);
}

#[test]
fn publish_plan_refusals_in_order() {
    let a = actors();
    let mut chain = Chain::new();
    // Not an issuer at all.
    chain.fails(&a.alice, vec![publish(standard(1))], 0, ErrorCode::NotIssuer);
    // An issuer of globex, for acme's asset.
    chain.fails(&a.globex, vec![publish(standard(1))], 0, ErrorCode::NotIssuer);
    // An asset acme does not have.
    let mut unknown = standard(1);
    unknown.asset = asset("NOPE@acme");
    chain.fails(&a.acme, vec![publish(unknown)], 0, ErrorCode::UnknownAsset);
    // A malformed plan: items out of order.
    let mut malformed = standard(1);
    malformed.items = BoundedVec::new(malformed.items.iter().rev().cloned().collect()).expect("two");
    chain.fails(&a.acme, vec![publish(malformed)], 0, ErrorCode::BadPlan);
    // A plan with a bounded last tier.
    let mut bounded = standard(1);
    bounded.items = BoundedVec::new(vec![item("calls", 0, &[(Some(10), "2")])]).expect("one");
    chain.fails(&a.acme, vec![publish(bounded)], 0, ErrorCode::BadPlan);
    // Version 2 before version 1.
    chain.fails(&a.acme, vec![publish(standard(2))], 0, ErrorCode::PlanVersionGap);
    chain.ok(&a.acme, vec![publish(standard(1))]);
    // A version is published once; its content never changes.
    let mut changed = standard(1);
    changed.title = BoundedString::new("Changed").expect("short");
    chain.fails(&a.acme, vec![publish(changed)], 0, ErrorCode::PlanVersionExists);
    chain.fails(&a.acme, vec![publish(standard(3))], 0, ErrorCode::PlanVersionGap);
    assert_eq!(plan_state(&chain, 1).plan, standard(1));
}

#[test]
fn retire_plan_refusals_in_order() {
    let a = actors();
    let mut chain = Chain::new();
    chain.ok(&a.acme, vec![publish(standard(1))]);
    chain.fails(&a.alice, vec![retire("standard", 1)], 0, ErrorCode::NotIssuer);
    // globex has no plan `standard`: it cannot retire acme's.
    chain.fails(&a.globex, vec![retire("standard", 1)], 0, ErrorCode::UnknownPlan);
    chain.fails(&a.acme, vec![retire("standard", 2)], 0, ErrorCode::UnknownPlan);
    chain.ok(&a.acme, vec![retire("standard", 1)]);
    assert_eq!(plan_state(&chain, 1).retired_at, Some(chain.height));
    chain.fails(&a.acme, vec![retire("standard", 1)], 0, ErrorCode::PlanRetired);
}

// ---- AuthorizeSpend and Hold under a plan ----

#[test]
fn authorizing_a_plan_version_refusals_in_order() {
    let a = actors();
    let mut chain = Chain::new();
    chain.fails(
        &a.alice,
        vec![authorize_plan("ACME@acme", 500, Some(plan_ref("standard", 1)))],
        0,
        ErrorCode::UnknownPlan,
    );
    chain.ok(&a.acme, vec![publish(standard(1))]);
    // The plan charges in ACME, not in PROMO.
    chain.fails(
        &a.alice,
        vec![authorize_plan("PROMO@acme", 50, Some(plan_ref("standard", 1)))],
        0,
        ErrorCode::PlanAssetMismatch,
    );
    chain.ok(&a.alice, vec![authorize_plan("ACME@acme", 500, Some(plan_ref("standard", 1)))]);
    chain.ok(&a.acme, vec![retire("standard", 1)]);
    chain.fails(
        &a.bob,
        vec![authorize_plan("ACME@acme", 500, Some(plan_ref("standard", 1)))],
        0,
        ErrorCode::PlanRetired,
    );
    // alice's authorization names the retired version: no new hold under it.
    chain.fails(&a.acme, vec![hold(1, &a.alice, 100)], 0, ErrorCode::PlanRetired);
}

#[test]
fn a_hold_keeps_the_version_agreed_when_it_was_placed() {
    let (a, mut chain) = agreed_chain();
    chain.ok(&a.acme, vec![publish(standard(2))]);
    // alice agrees to version 2; hold 1 stays under version 1.
    chain.ok(&a.alice, vec![authorize_plan("ACME@acme", 500, Some(plan_ref("standard", 2)))]);
    chain.ok(&a.acme, vec![hold(2, &a.alice, 100)]);
    let placed = |chain: &Chain, id| match chain.state.value(&StateKey::Hold { hold_id: hold_id(id) }) {
        Some(StateValue::Hold(hold)) => hold.plan.clone(),
        other => panic!("{other:?}"),
    };
    assert_eq!(placed(&chain, 1), Some(plan_ref("standard", 1)));
    assert_eq!(placed(&chain, 2), Some(plan_ref("standard", 2)));
}

// ---- Settle under a plan ----

#[test]
fn a_settlement_must_charge_exactly_the_plans_price() {
    let (a, mut chain) = agreed_chain();
    // 3 calls at 2 + 9 tokens (5 free, 4 at 0.3 = 1.2, rounded down to 1) = 7.
    chain.fails(
        &a.acme,
        vec![settle(1, 1, 8, &[("calls", 3), ("tokens", 9)])],
        0,
        ErrorCode::SettleAmountMismatch,
    );
    chain.fails(
        &a.acme,
        vec![settle(1, 1, 6, &[("calls", 3), ("tokens", 9)])],
        0,
        ErrorCode::SettleAmountMismatch,
    );
    // Usage without its lines is not a charge the plan gives.
    chain.fails(&a.acme, vec![settle(1, 1, 7, &[])], 0, ErrorCode::SettleAmountMismatch);
    chain.ok(&a.acme, vec![settle(1, 1, 7, &[("calls", 3), ("tokens", 9)])]);
    assert_eq!(chain.balance(&a.alice, "ACME@acme"), balance_of(1_000 - 7, 0));
    assert_eq!(chain.available(&a.acme, "ACME@acme"), 7);
    let counted = usage(&chain, &a.alice, 1).expect("usage recorded");
    assert_eq!(
        counted.items.as_slice(),
        &[
            ItemUsage { item: item_name("calls"), units: 3, billed: 3, charged: Amount(6) },
            ItemUsage { item: item_name("tokens"), units: 9, billed: 4, charged: Amount(1) },
        ]
    );
}

fn balance_of(available: u128, locked: u128) -> tally_ledger::BalanceState {
    tally_ledger::BalanceState { available: Amount(available), locked: Amount(locked) }
}

#[test]
fn settle_refusals_under_a_plan_in_order() {
    let (a, mut chain) = agreed_chain();
    // Lines out of order, repeated, or with zero units.
    chain.fails(&a.acme, vec![settle(1, 1, 2, &[("tokens", 6), ("calls", 1)])], 0, ErrorCode::BadUsageLines);
    chain.fails(&a.acme, vec![settle(1, 1, 4, &[("calls", 1), ("calls", 1)])], 0, ErrorCode::BadUsageLines);
    chain.fails(&a.acme, vec![settle(1, 1, 0, &[("calls", 0)])], 0, ErrorCode::BadUsageLines);
    // An item the plan does not price.
    chain.fails(
        &a.acme,
        vec![settle(1, 1, 2, &[("calls", 1), ("images", 1)])],
        0,
        ErrorCode::UnknownPlanItem,
    );
    // The plan's price, but above the hold (100 held; 60 calls cost 2·10 + 50 = 70; 200 cost 210).
    chain.fails(&a.acme, vec![settle(1, 1, 210, &[("calls", 200)])], 0, ErrorCode::SettleExceedsHold);
    // Zero usage settles for zero and records no usage.
    chain.ok(&a.acme, vec![settle(1, 1, 0, &[])]);
    assert_eq!(usage(&chain, &a.alice, 1), None);
    assert_eq!(chain.balance(&a.alice, "ACME@acme"), balance_of(1_000, 0));
}

#[test]
fn tiers_count_across_holds_and_switch_exactly_at_the_edge() {
    let (a, mut chain) = agreed_chain();
    chain.ok(&a.acme, vec![hold(2, &a.alice, 100), hold(3, &a.alice, 100)]);
    // 9 calls: all in the first tier (9 · 2).
    chain.ok(&a.acme, vec![settle(1, 1, 18, &[("calls", 9)])]);
    // 2 more: the 10th at 2, the 11th at 1.
    chain.fails(&a.acme, vec![settle(2, 2, 4, &[("calls", 2)])], 0, ErrorCode::SettleAmountMismatch);
    chain.ok(&a.acme, vec![settle(2, 2, 3, &[("calls", 2)])]);
    // Past the edge: 1 each.
    chain.ok(&a.acme, vec![settle(3, 3, 5, &[("calls", 5)])]);
    let counted = usage(&chain, &a.alice, 1).expect("usage");
    let calls = counted.items[0].clone();
    assert_eq!((calls.units, calls.billed, calls.charged), (16, 16, Amount(26)));
    // A batch settles once: the same batch id again (on its hold, now closed, or on another
    // open hold) is refused and counts no usage.
    chain.ok(&a.acme, vec![hold(5, &a.alice, 100)]);
    chain.fails(&a.acme, vec![settle(5, 3, 5, &[("calls", 5)])], 0, ErrorCode::DuplicateBatchId);
    chain.fails(&a.acme, vec![settle(3, 3, 5, &[("calls", 5)])], 0, ErrorCode::HoldClosed);
    assert_eq!(usage(&chain, &a.alice, 1), Some(counted));
    // bob's position is his own: his first call costs 2.
    chain.ok(&a.bob, vec![authorize_plan("ACME@acme", 100, Some(plan_ref("standard", 1)))]);
    chain.ok(&a.acme, vec![hold(4, &a.bob, 10)]);
    chain.ok(&a.acme, vec![settle(4, 4, 2, &[("calls", 1)])]);
}

#[test]
fn the_allowance_is_per_hold_and_rounding_does_not_accumulate() {
    let (a, mut chain) = agreed_chain();
    chain.ok(&a.acme, vec![hold(2, &a.alice, 100), hold(3, &a.alice, 100), hold(4, &a.alice, 100)]);
    // 5 tokens free in each hold.
    chain.ok(&a.acme, vec![settle(1, 1, 0, &[("tokens", 5)])]);
    // 6 tokens: 1 billable at 0.3 → 0 (⌊0.3⌋).
    chain.ok(&a.acme, vec![settle(2, 2, 0, &[("tokens", 6)])]);
    // 6 more: the 2nd billable → ⌊0.6⌋ − ⌊0.3⌋ = 0.
    chain.ok(&a.acme, vec![settle(3, 3, 0, &[("tokens", 6)])]);
    // 7: the 3rd and 4th billable units bring the total to ⌊1.2⌋ = 1, what one settlement of
    // 4 billable units would have charged, though each part alone rounds to nothing.
    chain.fails(&a.acme, vec![settle(4, 4, 0, &[("tokens", 7)])], 0, ErrorCode::SettleAmountMismatch);
    chain.ok(&a.acme, vec![settle(4, 4, 1, &[("tokens", 7)])]);
    let tokens = usage(&chain, &a.alice, 1).expect("usage").items[0].clone();
    assert_eq!((tokens.units, tokens.billed, tokens.charged), (24, 4, Amount(1)));
}

#[test]
fn a_settlement_is_priced_by_the_version_of_its_hold_not_the_latest() {
    let (a, mut chain) = agreed_chain();
    // Version 2 doubles the price; alice never agreed to it.
    let mut dearer = standard(2);
    dearer.items = BoundedVec::new(vec![item("calls", 0, &[(None, "4")]), item("tokens", 0, &[(None, "1")])])
        .expect("two");
    chain.ok(&a.acme, vec![publish(dearer)]);
    chain.fails(&a.acme, vec![settle(1, 1, 12, &[("calls", 3)])], 0, ErrorCode::SettleAmountMismatch);
    // Retiring version 1 does not stop the settlement of a hold placed under it.
    chain.ok(&a.acme, vec![retire("standard", 1)]);
    chain.ok(&a.acme, vec![settle(1, 1, 6, &[("calls", 3)])]);
    assert_eq!(usage(&chain, &a.alice, 2), None);
}

#[test]
fn the_largest_charges_fail_with_a_typed_overflow() {
    let a = actors();
    let mut chain = Chain::new();
    let mut dear = standard(1);
    dear.items = BoundedVec::new(vec![PlanItem {
        item: item_name("calls"),
        included_per_hold: 0,
        tiers: BoundedVec::new(vec![Tier { up_to: None, unit_price: UnitPrice(u128::MAX / 2 + 1) }])
            .expect("one"),
    }])
    .expect("one");
    chain.ok(&a.acme, vec![publish(dear)]);
    chain.ok(&a.alice, vec![authorize_plan("ACME@acme", 500, Some(plan_ref("standard", 1)))]);
    chain.ok(&a.acme, vec![hold(1, &a.alice, 100)]);
    chain.fails(&a.acme, vec![settle(1, 1, 0, &[("calls", 2)])], 0, ErrorCode::AmountOverflow);
    chain.fails(&a.acme, vec![settle(1, 1, 0, &[("calls", u64::MAX)])], 0, ErrorCode::AmountOverflow);
}

#[test]
fn holds_without_a_plan_settle_any_amount_up_to_the_hold() {
    let a = actors();
    let mut chain = Chain::new();
    chain.ok(&a.acme, vec![publish(standard(1))]);
    chain.ok(&a.alice, vec![authorize_plan("ACME@acme", 500, None)]);
    chain.ok(&a.acme, vec![hold(1, &a.alice, 100)]);
    // Lines are still checked for form, but not priced.
    chain.fails(&a.acme, vec![settle(1, 1, 37, &[("b", 1), ("a", 1)])], 0, ErrorCode::BadUsageLines);
    chain.ok(&a.acme, vec![settle(1, 1, 37, &[("anything", 1)])]);
    assert_eq!(chain.available(&a.acme, "ACME@acme"), 37);
    assert_eq!(usage(&chain, &a.alice, 1), None);
}

// ---- pack purchases ----

#[test]
fn a_pack_purchase_grants_exactly_the_pack() {
    let a = actors();
    let mut chain = Chain::new();
    chain.fails(
        &a.acme,
        vec![pack_grant(1, &a.bob, 1_000, GrantKind::Purchase, "starter", 1)],
        0,
        ErrorCode::UnknownPlan,
    );
    chain.ok(&a.acme, vec![publish(standard(1))]);
    chain.fails(
        &a.acme,
        vec![pack_grant(1, &a.bob, 1_000, GrantKind::Promo, "starter", 1)],
        0,
        ErrorCode::PackMismatch,
    );
    chain.fails(
        &a.acme,
        vec![pack_grant(1, &a.bob, 999, GrantKind::Purchase, "starter", 1)],
        0,
        ErrorCode::PackMismatch,
    );
    chain.fails(
        &a.acme,
        vec![pack_grant(1, &a.bob, 1_000, GrantKind::Purchase, "jumbo", 1)],
        0,
        ErrorCode::UnknownPack,
    );
    // The plan sells ACME credits: a purchase of PROMO cannot name its pack.
    let mut promo = pack_grant(1, &a.bob, 1_000, GrantKind::Purchase, "starter", 1);
    if let Op::Grant(grant) = &mut promo {
        grant.asset = asset("PROMO@acme");
    }
    chain.fails(&a.acme, vec![promo], 0, ErrorCode::PlanAssetMismatch);
    chain.ok(&a.acme, vec![pack_grant(1, &a.bob, 1_000, GrantKind::Purchase, "starter", 1)]);
    assert_eq!(chain.available(&a.bob, "ACME@acme"), 500 + 1_000);
    chain.ok(&a.acme, vec![retire("standard", 1)]);
    chain.fails(
        &a.acme,
        vec![pack_grant(2, &a.bob, 1_000, GrantKind::Purchase, "starter", 1)],
        0,
        ErrorCode::PlanRetired,
    );
}

// ---- invariants ----

type Entries = BTreeMap<StateKey, StateValue>;

/// The state after alice settled 3 calls under version 1.
fn settled_entries() -> Entries {
    let (a, mut chain) = agreed_chain();
    chain.ok(&a.acme, vec![settle(1, 1, 6, &[("calls", 3)])]);
    chain.state.entries().map(|(key, value)| (key.clone(), value.clone())).collect()
}

fn usage_mut(entries: &mut Entries) -> &mut PlanUsageState {
    let key = StateKey::PlanUsage {
        holder: actors().alice.public_key(),
        member: member("acme"),
        plan_id: PlanId::new("standard").expect("valid"),
        version: OrderedU64(1),
    };
    match entries.get_mut(&key) {
        Some(StateValue::PlanUsage(usage)) => usage,
        other => panic!("{other:?}"),
    }
}

fn broken(edit: impl FnOnce(&mut Entries)) -> HoldViolation {
    let mut entries = settled_entries();
    check_invariants(&entries).expect("the unedited state is fine");
    edit(&mut entries);
    match check_invariants(&entries).expect_err("the edit breaks an invariant") {
        InvariantViolation::Hold(violation) => violation,
        other => panic!("not a holds violation: {other}"),
    }
}

#[test]
fn the_checker_catches_broken_plans_and_usage() {
    // A charge that is not the plan's price of the billed units.
    let violation = broken(|entries| {
        let calls = &usage_mut(entries).items[0];
        let wrong = ItemUsage { charged: Amount(7), ..calls.clone() };
        usage_mut(entries).items = BoundedVec::new(vec![wrong]).expect("one");
    });
    assert!(matches!(violation, HoldViolation::BadPlanUsage { .. }), "{violation}");
    // Charges that do not add up to what the holds captured (price and usage moved together).
    let violation = broken(|entries| {
        let calls = usage_mut(entries).items[0].clone();
        let more = ItemUsage { units: 4, billed: 4, charged: Amount(8), ..calls };
        usage_mut(entries).items = BoundedVec::new(vec![more]).expect("one");
    });
    assert!(matches!(violation, HoldViolation::BadPlanUsage { .. }), "{violation}");
    // Usage of an item the plan does not price.
    let violation = broken(|entries| {
        let calls = usage_mut(entries).items[0].clone();
        let other = ItemUsage { item: item_name("images"), ..calls };
        usage_mut(entries).items = BoundedVec::new(vec![other]).expect("one");
    });
    assert!(matches!(violation, HoldViolation::BadPlanUsage { .. }), "{violation}");
    // A plan version whose predecessor is missing.
    let violation = broken(|entries| {
        let mut orphan = standard(3);
        orphan.plan_id = PlanId::new("standard").expect("valid");
        let key = StateKey::Plan {
            member: member("acme"),
            plan_id: orphan.plan_id.clone(),
            version: OrderedU64(3),
        };
        let state = PlanState { plan: orphan, published_at: tally_types::Height(1), retired_at: None };
        entries.insert(key, StateValue::Plan(Box::new(state)));
    });
    assert!(matches!(violation, HoldViolation::BadPlan { .. }), "{violation}");
    // A hold whose plan version does not exist.
    let violation = broken(|entries| {
        let key = StateKey::Plan {
            member: member("acme"),
            plan_id: PlanId::new("standard").expect("valid"),
            version: OrderedU64(1),
        };
        assert!(entries.remove(&key).is_some(), "the plan version was there");
    });
    assert!(matches!(violation, HoldViolation::UnknownPlan { .. }), "{violation}");
}
