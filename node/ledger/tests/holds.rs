//! Metered usage (AuthorizeSpend, Hold, Settle, Void, release at expiry) and reward grants:
//! every rule and error code in its documented order, block-time expiry including the
//! per-block release bound, cap accounting, and the holds invariants and history checks.
//! `Chain::block` checks every state and history invariant after every block.

mod common;

use std::collections::BTreeMap;

use common::*;
use tally_ledger::invariants::HoldViolation;
use tally_ledger::state::{AuthorizationState, BatchRecord, HoldState, HoldStatus, OrderedU64};
use tally_ledger::{
    BalanceState, History, HistoryViolation, InvariantViolation, StateKey, StateValue, check_invariants,
};
use tally_types::codec::{BoundedString, BoundedVec};
use tally_types::receipt::{Receipt, TxOutcome};
use tally_types::tx::{AuthorizeSpend, GrantKind, Hold, RewardReason, Settle, Void};
use tally_types::{Amount, ErrorCode, Hash, Height, Op, OpId, SecretKey, SignedTransaction, limits};

// ---- builders and readers ----

fn authorize(provider: &str, asset_id: &str, cap: u128, expires_at_ms: u64) -> Op {
    Op::AuthorizeSpend(AuthorizeSpend {
        provider: member(provider),
        asset: asset(asset_id),
        cap: Amount(cap),
        expires_at_ms,
        plan: None,
    })
}

/// A hold id from a number (so that tests can place more than 256 holds).
fn hold_id(n: u32) -> OpId {
    let mut bytes = [0u8; 16];
    bytes[..4].copy_from_slice(&n.to_be_bytes());
    OpId(bytes)
}

fn hold(id: u32, holder: &SecretKey, asset_id: &str, amount: u128, expires_at_ms: u64) -> Op {
    Op::Hold(Hold {
        hold_id: hold_id(id),
        holder: holder.public_key(),
        asset: asset(asset_id),
        amount: Amount(amount),
        expires_at_ms,
    })
}

fn usage_root(batch: u8) -> Hash {
    Hash([batch; 32])
}

fn settle(id: u32, batch: u8, amount: u128) -> Op {
    Op::Settle(Settle {
        hold_id: hold_id(id),
        batch_id: op_id(batch),
        amount: Amount(amount),
        usage_root: usage_root(batch),
        lines: BoundedVec::empty(),
    })
}

fn void(id: u32) -> Op {
    Op::Void(Void { hold_id: hold_id(id) })
}

/// Makes the next block's time `time_ms` (block times only increase).
fn next_block_at(chain: &mut Chain, time_ms: u64) {
    assert!(time_ms > chain.time_ms, "block times increase");
    chain.time_ms = time_ms - 1_000;
}

/// The time of the next block, as `Chain::block` will stamp it.
fn next_time(chain: &Chain) -> u64 {
    chain.next_context().time_ms
}

fn hold_state(chain: &Chain, id: u32) -> HoldState {
    match chain.state.value(&StateKey::Hold { hold_id: hold_id(id) }) {
        Some(StateValue::Hold(hold)) => hold.clone(),
        other => panic!("hold {id}: {other:?}"),
    }
}

fn authorization(
    chain: &Chain,
    holder: &SecretKey,
    provider: &str,
    asset_id: &str,
) -> Option<AuthorizationState> {
    let key = StateKey::Authorization {
        holder: holder.public_key(),
        provider: member(provider),
        asset: asset(asset_id),
    };
    match chain.state.value(&key) {
        Some(StateValue::Authorization(state)) => Some(state.clone()),
        None => None,
        Some(other) => panic!("authorization entry holds {other:?}"),
    }
}

fn cap(chain: &Chain, holder: &SecretKey, provider: &str, asset_id: &str) -> u128 {
    authorization(chain, holder, provider, asset_id).expect("authorization exists").cap_remaining.0
}

fn has_expiry_entry(chain: &Chain, id: u32) -> bool {
    let hold = hold_state(chain, id);
    let key = StateKey::HoldExpiry { expires_at_ms: OrderedU64(hold.expires_at_ms), hold_id: hold_id(id) };
    chain.state.value(&key).is_some()
}

fn balance(available: u128, locked: u128) -> BalanceState {
    BalanceState { available: Amount(available), locked: Amount(locked) }
}

/// A far expiry for authorizations that should not get in the way.
const FAR: u64 = u64::MAX;

/// A chain where alice authorized acme for 300 ACME until far away.
fn authorized_chain() -> (Actors, Chain) {
    let a = actors();
    let mut chain = Chain::new();
    chain.ok(&a.alice, vec![authorize("acme", "ACME@acme", 300, FAR)]);
    (a, chain)
}

// ---- AuthorizeSpend ----

#[test]
fn authorize_spend_sets_replaces_and_revokes() {
    let a = actors();
    let mut chain = Chain::new();
    let expires = next_time(&chain) + 10_000;
    chain.ok(&a.alice, vec![authorize("acme", "ACME@acme", 300, expires)]);
    let expected = AuthorizationState {
        cap: Amount(300),
        cap_remaining: Amount(300),
        expires_at_ms: expires,
        plan: None,
    };
    assert_eq!(authorization(&chain, &a.alice, "acme", "ACME@acme"), Some(expected));
    // Scoped to holder, provider and asset.
    assert_eq!(authorization(&chain, &a.alice, "globex", "ACME@acme"), None);
    assert_eq!(authorization(&chain, &a.bob, "acme", "ACME@acme"), None);
    // Replaced, not added to.
    chain.ok(&a.alice, vec![authorize("acme", "ACME@acme", 50, expires + 1)]);
    let expected = AuthorizationState {
        cap: Amount(50),
        cap_remaining: Amount(50),
        expires_at_ms: expires + 1,
        plan: None,
    };
    assert_eq!(authorization(&chain, &a.alice, "acme", "ACME@acme"), Some(expected));
    // A cap of zero revokes, whatever the expiry (even one in the past).
    chain.ok(&a.alice, vec![authorize("acme", "ACME@acme", 0, 0)]);
    assert_eq!(authorization(&chain, &a.alice, "acme", "ACME@acme"), None);
    // Revoking nothing succeeds and writes nothing but the seq.
    let tx = chain.tx(&a.alice, vec![authorize("acme", "ACME@acme", 0, 0)]);
    let committed = chain.block(std::slice::from_ref(&tx)).expect("includable");
    assert_eq!(committed.output.receipts[0].outcome, TxOutcome::Success);
    assert!(committed.output.writes.iter().all(|(key, _)| matches!(key, StateKey::Account { .. })));
    // Any member and any asset: a provider may be authorized for another member's credits.
    chain.ok(&a.alice, vec![authorize("globex", "ACME@acme", 1, expires)]);
}

#[test]
fn authorize_spend_failures_in_order() {
    let a = actors();
    let mut chain = Chain::new();
    // Unknown member comes before unknown asset.
    chain.fails(&a.alice, vec![authorize("initech", "NOPE@acme", 1, FAR)], 0, ErrorCode::UnknownMember);
    chain.fails(&a.alice, vec![authorize("acme", "NOPE@acme", 1, FAR)], 0, ErrorCode::UnknownAsset);
    // A revocation is checked for member and asset too.
    chain.fails(&a.alice, vec![authorize("acme", "NOPE@acme", 0, FAR)], 0, ErrorCode::UnknownAsset);
    // Non-transferable credits may be authorized only to their own member, before the expiry check.
    chain.fails(&a.alice, vec![authorize("globex", "PROMO@acme", 1, 0)], 0, ErrorCode::NotTransferable);
    chain.ok(&a.alice, vec![authorize("acme", "PROMO@acme", 1, FAR)]);
    chain.ok(&a.alice, vec![authorize("globex", "PROMO@acme", 0, FAR)]);
    // The expiry must be after the block time: equal is already expired.
    let now = next_time(&chain);
    chain.fails(&a.alice, vec![authorize("acme", "ACME@acme", 1, now)], 0, ErrorCode::BadExpiry);
    let now = next_time(&chain);
    chain.ok(&a.alice, vec![authorize("acme", "ACME@acme", 1, now + 1)]);
}

// ---- Hold ----

#[test]
fn hold_locks_credits_and_takes_from_the_cap() {
    let (a, mut chain) = authorized_chain();
    let expires = next_time(&chain) + 5_000;
    chain.ok(&a.acme, vec![hold(1, &a.alice, "ACME@acme", 120, expires)]);
    assert_eq!(chain.balance(&a.alice, "ACME@acme"), balance(880, 120));
    assert_eq!(cap(&chain, &a.alice, "acme", "ACME@acme"), 180);
    let expected = HoldState {
        member: member("acme"),
        holder: a.alice.public_key(),
        asset: asset("ACME@acme"),
        amount: Amount(120),
        expires_at_ms: expires,
        plan: None,
        created_at: chain.height,
        status: HoldStatus::Open,
    };
    assert_eq!(hold_state(&chain, 1), expected);
    assert!(has_expiry_entry(&chain, 1));
    // The other issuer of the member holds within the same authorization; the cap may reach
    // zero, and the authorization stays.
    chain.ok(&a.acme2, vec![hold(2, &a.alice, "ACME@acme", 180, expires)]);
    assert_eq!(cap(&chain, &a.alice, "acme", "ACME@acme"), 0);
    assert_eq!(chain.balance(&a.alice, "ACME@acme"), balance(700, 300));
    assert_eq!(chain.supply("ACME@acme"), 1_500);
}

#[test]
fn hold_failures_in_order() {
    let (a, mut chain) = authorized_chain();
    let expires = next_time(&chain) + 100_000;
    // Not an issuer at all (even the holder), before a zero amount.
    chain.fails(&a.alice, vec![hold(1, &a.alice, "ACME@acme", 0, expires)], 0, ErrorCode::NotIssuer);
    chain.fails(&a.acme, vec![hold(1, &a.alice, "ACME@acme", 0, expires)], 0, ErrorCode::ZeroAmount);
    // Hold ids are global: globex cannot reuse acme's.
    chain.ok(&a.acme, vec![hold(1, &a.alice, "ACME@acme", 10, expires)]);
    chain.fails(&a.acme2, vec![hold(1, &a.alice, "ACME@acme", 10, expires)], 0, ErrorCode::DuplicateHoldId);
    chain.fails(&a.globex, vec![hold(1, &a.bob, "ACME@acme", 1, expires)], 0, ErrorCode::DuplicateHoldId);
    // No authorization: none for globex, none from bob, none for another asset.
    chain.fails(&a.globex, vec![hold(2, &a.alice, "ACME@acme", 1, expires)], 0, ErrorCode::NoAuthorization);
    chain.fails(&a.acme, vec![hold(2, &a.bob, "ACME@acme", 1, expires)], 0, ErrorCode::NoAuthorization);
    chain.fails(&a.acme, vec![hold(2, &a.alice, "PROMO@acme", 1, expires)], 0, ErrorCode::NoAuthorization);
    // An expired authorization is no authorization (block time = its expiry).
    let bob_expiry = next_time(&chain) + 10_000;
    chain.ok(&a.bob, vec![authorize("acme", "ACME@acme", 100, bob_expiry)]);
    next_block_at(&mut chain, bob_expiry - 1);
    chain.ok(&a.acme, vec![hold(2, &a.bob, "ACME@acme", 1, bob_expiry)]);
    next_block_at(&mut chain, bob_expiry);
    // (Not `fails`: this block's prologue releases hold 2, which expires with the authorization.)
    let receipt = chain.run(&a.acme, vec![hold(3, &a.bob, "ACME@acme", 1, FAR)]);
    assert_eq!(receipt.outcome, TxOutcome::Failed { op_index: 0, code: ErrorCode::NoAuthorization });
    assert_eq!(hold_state(&chain, 2).status, HoldStatus::Expired { height: chain.height });
    // Expiry: after the block time, at most the authorization's.
    let bob_expiry = next_time(&chain) + 10_000;
    chain.ok(&a.bob, vec![authorize("acme", "ACME@acme", 100, bob_expiry)]);
    let now = next_time(&chain);
    chain.fails(&a.acme, vec![hold(3, &a.bob, "ACME@acme", 1, now)], 0, ErrorCode::BadExpiry);
    chain.fails(&a.acme, vec![hold(3, &a.bob, "ACME@acme", 1, bob_expiry + 1)], 0, ErrorCode::BadExpiry);
    // Cap before balance: bob has 100 of cap.
    chain.fails(&a.acme, vec![hold(3, &a.bob, "ACME@acme", 101, bob_expiry)], 0, ErrorCode::CapExceeded);
    chain.ok(&a.bob, vec![authorize("acme", "ACME@acme", 10_000, bob_expiry)]);
    // Hold 2 expired and gave its credit back, so bob has 500 available.
    chain.fails(
        &a.acme,
        vec![hold(3, &a.bob, "ACME@acme", 501, bob_expiry)],
        0,
        ErrorCode::InsufficientBalance,
    );
    chain.ok(&a.acme, vec![hold(3, &a.bob, "ACME@acme", 500, bob_expiry)]);
    assert_eq!(chain.balance(&a.bob, "ACME@acme"), balance(0, 500));
}

#[test]
fn a_hold_and_its_failure_in_one_transaction_leave_no_trace() {
    let (a, mut chain) = authorized_chain();
    let expires = next_time(&chain) + 5_000;
    // The second op fails: the first hold must not survive.
    let ops =
        vec![hold(1, &a.alice, "ACME@acme", 100, expires), hold(2, &a.alice, "ACME@acme", 201, expires)];
    chain.fails(&a.acme, ops, 1, ErrorCode::CapExceeded);
    // Ops in one transaction see each other: a hold then its settlement.
    chain.ok(&a.acme, vec![hold(1, &a.alice, "ACME@acme", 100, expires), settle(1, 1, 40)]);
    assert_eq!(chain.balance(&a.alice, "ACME@acme"), balance(960, 0));
    assert_eq!(chain.available(&a.acme, "ACME@acme"), 40);
}

// ---- Settle ----

#[test]
fn settle_pays_the_issuer_and_releases_the_rest() {
    let (a, mut chain) = authorized_chain();
    let expires = next_time(&chain) + 5_000;
    chain.ok(&a.acme, vec![hold(1, &a.alice, "ACME@acme", 200, expires)]);
    // Any issuer of the member may settle; the signer is paid.
    chain.ok(&a.acme2, vec![settle(1, 7, 150)]);
    let height = chain.height;
    assert_eq!(chain.balance(&a.alice, "ACME@acme"), balance(850, 0));
    assert_eq!(chain.available(&a.acme2, "ACME@acme"), 150);
    assert_eq!(chain.available(&a.acme, "ACME@acme"), 0);
    assert_eq!(chain.supply("ACME@acme"), 1_500);
    // 300 - 200 held + 50 released.
    assert_eq!(cap(&chain, &a.alice, "acme", "ACME@acme"), 150);
    assert_eq!(
        hold_state(&chain, 1).status,
        HoldStatus::Settled { batch_id: op_id(7), amount: Amount(150), height }
    );
    assert!(!has_expiry_entry(&chain, 1));
    let record = chain.state.value(&StateKey::BatchId { member: member("acme"), batch_id: op_id(7) });
    let expected =
        BatchRecord { hold_id: hold_id(1), amount: Amount(150), usage_root: usage_root(7), height };
    assert_eq!(record, Some(&StateValue::BatchId(expected)));
}

#[test]
fn settling_zero_releases_everything_and_all_captures_everything() {
    let (a, mut chain) = authorized_chain();
    let expires = next_time(&chain) + 5_000;
    chain.ok(
        &a.acme,
        vec![hold(1, &a.alice, "ACME@acme", 100, expires), hold(2, &a.alice, "ACME@acme", 100, expires)],
    );
    chain.ok(&a.acme, vec![settle(1, 1, 0)]);
    assert_eq!(chain.balance(&a.alice, "ACME@acme"), balance(900, 100));
    assert_eq!(chain.available(&a.acme, "ACME@acme"), 0, "a zero capture creates no balance entry");
    assert_eq!(cap(&chain, &a.alice, "acme", "ACME@acme"), 200);
    chain.ok(&a.acme, vec![settle(2, 2, 100)]);
    assert_eq!(chain.balance(&a.alice, "ACME@acme"), balance(900, 0));
    assert_eq!(chain.available(&a.acme, "ACME@acme"), 100);
    assert_eq!(cap(&chain, &a.alice, "acme", "ACME@acme"), 200);
}

#[test]
fn settle_failures_in_order() {
    let (a, mut chain) = authorized_chain();
    let expires = next_time(&chain) + 100_000;
    chain.ok(
        &a.acme,
        vec![hold(1, &a.alice, "ACME@acme", 100, expires), hold(2, &a.alice, "ACME@acme", 100, expires)],
    );
    chain.fails(&a.acme, vec![settle(9, 1, 1)], 0, ErrorCode::UnknownHold);
    // Only issuers of the hold's member: not another member's, not the holder.
    chain.fails(&a.globex, vec![settle(1, 1, 101)], 0, ErrorCode::NotIssuer);
    chain.fails(&a.alice, vec![settle(1, 1, 1)], 0, ErrorCode::NotIssuer);
    chain.fails(&a.acme, vec![settle(1, 1, 101)], 0, ErrorCode::SettleExceedsHold);
    chain.ok(&a.acme, vec![settle(1, 1, 60)]);
    // Closed comes before the batch check: a repeated settlement of the same hold.
    chain.fails(&a.acme, vec![settle(1, 1, 60)], 0, ErrorCode::HoldClosed);
    // The same batch id on another hold of the member is refused, and changes nothing
    // (`fails` compares every entry), also before the amount check.
    chain.fails(&a.acme2, vec![settle(2, 1, 101)], 0, ErrorCode::DuplicateBatchId);
    chain.fails(&a.acme, vec![settle(2, 1, 10)], 0, ErrorCode::DuplicateBatchId);
    assert_eq!(hold_state(&chain, 2).status, HoldStatus::Open);
    assert_eq!(chain.balance(&a.alice, "ACME@acme"), balance(840, 100));
    chain.ok(&a.acme, vec![void(2)]);
    chain.fails(&a.acme, vec![settle(2, 2, 10)], 0, ErrorCode::HoldClosed);
}

#[test]
fn batch_ids_are_per_member() {
    let a = actors();
    let mut chain = Chain::new();
    chain.ok(
        &a.alice,
        vec![authorize("acme", "ACME@acme", 100, FAR), authorize("globex", "ACME@acme", 100, FAR)],
    );
    let expires = next_time(&chain) + 5_000;
    chain.ok(&a.acme, vec![hold(1, &a.alice, "ACME@acme", 10, expires)]);
    chain.ok(&a.globex, vec![hold(2, &a.alice, "ACME@acme", 10, expires)]);
    chain.ok(&a.acme, vec![settle(1, 5, 10)]);
    chain.ok(&a.globex, vec![settle(2, 5, 10)]);
    // globex's issuer was paid in ACME credits.
    assert_eq!(chain.available(&a.globex, "ACME@acme"), 10);
}

// ---- Void ----

#[test]
fn issuers_void_at_any_time_and_others_may_not() {
    let (a, mut chain) = authorized_chain();
    let expires = next_time(&chain) + 100_000;
    chain.ok(&a.acme, vec![hold(1, &a.alice, "ACME@acme", 100, expires)]);
    chain.fails(&a.acme, vec![void(9)], 0, ErrorCode::UnknownHold);
    chain.fails(&a.bob, vec![void(1)], 0, ErrorCode::NotIssuer);
    chain.fails(&a.globex, vec![void(1)], 0, ErrorCode::NotIssuer);
    // The holder, before expiry.
    chain.fails(&a.alice, vec![void(1)], 0, ErrorCode::HoldNotExpired);
    chain.ok(&a.acme2, vec![void(1)]);
    assert_eq!(hold_state(&chain, 1).status, HoldStatus::Voided { height: chain.height });
    assert!(!has_expiry_entry(&chain, 1));
    assert_eq!(chain.balance(&a.alice, "ACME@acme"), balance(1_000, 0));
    assert_eq!(cap(&chain, &a.alice, "acme", "ACME@acme"), 300);
    // Closed before the signer check.
    chain.fails(&a.acme, vec![void(1)], 0, ErrorCode::HoldClosed);
    chain.fails(&a.bob, vec![void(1)], 0, ErrorCode::HoldClosed);
}

// ---- Expiry ----

#[test]
fn a_hold_expires_at_the_first_block_at_or_after_its_expiry() {
    let (a, mut chain) = authorized_chain();
    let expires = next_time(&chain) + 10_000;
    chain.ok(
        &a.acme,
        vec![hold(1, &a.alice, "ACME@acme", 100, expires), hold(2, &a.alice, "ACME@acme", 50, expires)],
    );
    // One millisecond before: still open and settleable.
    next_block_at(&mut chain, expires - 1);
    chain.ok(&a.acme, vec![settle(2, 2, 50)]);
    assert_eq!(hold_state(&chain, 1).status, HoldStatus::Open);
    // At the expiry: the prologue releases it before the block's transactions, so a
    // settlement in that very block finds it closed.
    next_block_at(&mut chain, expires);
    let receipt = chain.run(&a.acme, vec![settle(1, 1, 10)]);
    assert_eq!(receipt.outcome, TxOutcome::Failed { op_index: 0, code: ErrorCode::HoldClosed });
    assert_eq!(hold_state(&chain, 1).status, HoldStatus::Expired { height: chain.height });
    assert!(!has_expiry_entry(&chain, 1));
    assert_eq!(chain.balance(&a.alice, "ACME@acme"), balance(950, 0));
    assert_eq!(cap(&chain, &a.alice, "acme", "ACME@acme"), 250);
    // Nobody may void what expired.
    chain.fails(&a.alice, vec![void(1)], 0, ErrorCode::HoldClosed);
    chain.fails(&a.acme, vec![void(1)], 0, ErrorCode::HoldClosed);
}

#[test]
fn an_empty_block_releases_expired_holds() {
    let (a, mut chain) = authorized_chain();
    let expires = next_time(&chain) + 10_000;
    chain.ok(&a.acme, vec![hold(1, &a.alice, "ACME@acme", 100, expires)]);
    next_block_at(&mut chain, expires + 5_000);
    let committed = chain.block(&[]).expect("an empty block is valid");
    assert!(committed.output.receipts.is_empty());
    assert_eq!(hold_state(&chain, 1).status, HoldStatus::Expired { height: chain.height });
    assert_eq!(chain.balance(&a.alice, "ACME@acme"), balance(1_000, 0));
    // Nothing else expires: the next block writes nothing.
    let committed = chain.block(&[]).expect("valid");
    assert!(committed.output.writes.is_empty());
}

/// An expiry entry that names a hold no longer open, or open with another expiry, is a
/// corrupt state: the block stops with an error naming the hold, and releases nothing.
#[test]
fn an_expiry_entry_of_a_closed_hold_or_another_expiry_is_corruption_not_a_release() {
    for (voided, shift) in [(true, 0), (false, 1)] {
        let (a, mut chain) = authorized_chain();
        let expires = next_time(&chain) + 10_000;
        chain.ok(&a.acme, vec![hold(1, &a.alice, "ACME@acme", 100, expires)]);
        let mut changed = hold_state(&chain, 1);
        if voided {
            changed.status = HoldStatus::Voided { height: chain.height };
        }
        changed.expires_at_ms += shift;
        let mut writes = tally_ledger::WriteSet::new();
        writes.insert(StateKey::Hold { hold_id: hold_id(1) }, Some(StateValue::Hold(changed)));
        chain.state.commit(&writes).expect("commits");
        next_block_at(&mut chain, expires + 5_000);
        let error = chain.block(&[]).expect_err("the expiry index is corrupt");
        assert!(error.to_string().contains("the expiry index names hold"), "voided {voided}: {error}");
    }
}

/// Signs `ops` as consecutive transactions of `signer` (16 ops each), for one block.
fn many_txs(chain: &Chain, signer: &SecretKey, ops: Vec<Op>) -> Vec<SignedTransaction> {
    let first = chain.next_seq(signer);
    ops.chunks(limits::TX_OPS_MAX)
        .enumerate()
        .map(|(index, chunk)| signed(signer, first + index as u64, chunk.to_vec()))
        .collect()
}

fn open_holds(chain: &Chain) -> Vec<u32> {
    chain
        .state
        .entries()
        .filter_map(|(key, value)| match (key, value) {
            (StateKey::Hold { hold_id }, StateValue::Hold(hold)) if hold.status == HoldStatus::Open => {
                Some(u32::from_be_bytes(hold_id.0[..4].try_into().expect("4 bytes")))
            }
            _ => None,
        })
        .collect()
}

#[test]
fn a_block_releases_at_most_the_bound_earliest_first_and_the_rest_count_as_expired() {
    let (a, mut chain) = authorized_chain();
    let bound = limits::HOLD_EXPIRIES_PER_BLOCK_MAX as u32;
    let extra = 4u32;
    chain.ok(&a.acme, vec![grant(1, "ACME@acme", &a.alice, 10_000)]);
    chain.ok(&a.alice, vec![authorize("acme", "ACME@acme", 100_000, FAR)]);
    let expires = next_time(&chain) + 100_000;
    // Holds 1..=bound+extra expire together; hold 0 expires a millisecond earlier and, though
    // its id is the lowest, would come first by expiry in any case; hold bound+extra+1 expires
    // later and must stay open.
    let mut ops: Vec<Op> =
        (1..=bound + extra).map(|id| hold(id, &a.alice, "ACME@acme", 1, expires)).collect();
    ops.push(hold(0, &a.alice, "ACME@acme", 1, expires - 1));
    ops.push(hold(bound + extra + 1, &a.alice, "ACME@acme", 1, expires + 50_000));
    let txs = many_txs(&chain, &a.acme, ops);
    let committed = chain.block(&txs).expect("includable");
    assert!(committed.output.receipts.iter().all(|receipt| receipt.outcome == TxOutcome::Success));
    assert_eq!(open_holds(&chain).len() as u32, bound + extra + 2);
    assert_eq!(chain.balance(&a.alice, "ACME@acme").locked, Amount(u128::from(bound + extra + 2)));

    // The first block past the expiry releases exactly `bound`: hold 0, then by id.
    next_block_at(&mut chain, expires + 1);
    let still_open: Vec<u32> = (bound..=bound + extra + 1).collect();
    // In that block the holder voids one of the leftovers, which counts as expired, and the
    // provider can no longer settle another.
    let holder_void = chain.tx(&a.alice, vec![void(bound + 1)]);
    let late_settle = chain.tx(&a.acme, vec![settle(bound + 2, 1, 1)]);
    let committed = chain.block(&[holder_void, late_settle]).expect("includable");
    assert_eq!(committed.output.receipts[0].outcome, TxOutcome::Success);
    assert_eq!(
        committed.output.receipts[1].outcome,
        TxOutcome::Failed { op_index: 0, code: ErrorCode::HoldClosed }
    );
    let released_here = HoldStatus::Expired { height: chain.height };
    assert_eq!(hold_state(&chain, 0).status, released_here);
    assert_eq!(hold_state(&chain, bound - 1).status, released_here);
    assert_eq!(hold_state(&chain, bound + 1).status, HoldStatus::Voided { height: chain.height });
    let expected_open: Vec<u32> = still_open.iter().copied().filter(|id| *id != bound + 1).collect();
    assert_eq!(open_holds(&chain), expected_open);

    // The next block releases the rest that expired, and not the later hold.
    chain.block(&[]).expect("valid");
    assert_eq!(open_holds(&chain), vec![bound + extra + 1]);
    assert_eq!(hold_state(&chain, bound + extra).status, HoldStatus::Expired { height: chain.height });
    assert_eq!(chain.balance(&a.alice, "ACME@acme"), balance(10_999, 1));
    assert_eq!(cap(&chain, &a.alice, "acme", "ACME@acme"), 100_000 - 1);
}

// ---- Cap accounting ----

#[test]
fn the_cap_follows_holds_settlements_voids_expiries_and_revocations() {
    let (a, mut chain) = authorized_chain();
    let t = next_time(&chain);
    chain.ok(
        &a.acme,
        vec![
            hold(1, &a.alice, "ACME@acme", 100, t + 100_000),
            hold(2, &a.alice, "ACME@acme", 100, t + 100_000),
            hold(3, &a.alice, "ACME@acme", 50, t + 5_000),
        ],
    );
    assert_eq!(cap(&chain, &a.alice, "acme", "ACME@acme"), 50);
    chain.ok(&a.acme, vec![settle(1, 1, 30)]);
    assert_eq!(cap(&chain, &a.alice, "acme", "ACME@acme"), 120);
    next_block_at(&mut chain, t + 5_000);
    chain.block(&[]).expect("valid");
    assert_eq!(hold_state(&chain, 3).status, HoldStatus::Expired { height: chain.height });
    assert_eq!(cap(&chain, &a.alice, "acme", "ACME@acme"), 170);
    // A revocation leaves the open hold alone; its release has no cap to return to.
    chain.ok(&a.alice, vec![authorize("acme", "ACME@acme", 0, 0)]);
    assert_eq!(hold_state(&chain, 2).status, HoldStatus::Open);
    chain.fails(&a.acme, vec![hold(4, &a.alice, "ACME@acme", 1, t + 50_000)], 0, ErrorCode::NoAuthorization);
    chain.ok(&a.acme, vec![settle(2, 2, 40)]);
    assert_eq!(authorization(&chain, &a.alice, "acme", "ACME@acme"), None);
    assert_eq!(chain.balance(&a.alice, "ACME@acme"), balance(930, 0));
    assert_eq!(chain.available(&a.acme, "ACME@acme"), 70);
    // A new authorization replaces the cap; a later release adds to what remains, but never
    // above the cap the holder last set.
    chain.ok(&a.alice, vec![authorize("acme", "ACME@acme", 10, FAR)]);
    chain.ok(&a.acme, vec![hold(4, &a.alice, "ACME@acme", 10, t + 50_000)]);
    chain.ok(&a.alice, vec![authorize("acme", "ACME@acme", 5, FAR)]);
    chain.ok(&a.acme, vec![hold(6, &a.alice, "ACME@acme", 3, t + 50_000)]);
    assert_eq!(cap(&chain, &a.alice, "acme", "ACME@acme"), 2);
    chain.ok(&a.acme, vec![void(4)]);
    assert_eq!(cap(&chain, &a.alice, "acme", "ACME@acme"), 5, "the old hold's release stops at the new cap");
    chain.ok(&a.acme, vec![void(6)]);
    assert_eq!(cap(&chain, &a.alice, "acme", "ACME@acme"), 5);
    // At the top the cap does not overflow.
    chain.ok(&a.acme, vec![hold(5, &a.alice, "ACME@acme", 5, t + 50_000)]);
    chain.ok(&a.alice, vec![authorize("acme", "ACME@acme", u128::MAX, FAR)]);
    chain.ok(&a.acme, vec![void(5)]);
    assert_eq!(cap(&chain, &a.alice, "acme", "ACME@acme"), u128::MAX);
}

/// Re-authorizing while holds are open cannot let the provider hold more than the holder's
/// latest cap once those holds are released (found in review).
#[test]
fn releases_of_earlier_holds_never_widen_a_later_authorization() {
    let (a, mut chain) = authorized_chain();
    let t = next_time(&chain);
    chain.ok(&a.alice, vec![authorize("acme", "ACME@acme", 100, FAR)]);
    chain.ok(&a.acme, vec![hold(1, &a.alice, "ACME@acme", 100, t + 100_000)]);
    chain.ok(&a.alice, vec![authorize("acme", "ACME@acme", 100, FAR)]);
    chain.ok(&a.acme, vec![hold(2, &a.alice, "ACME@acme", 100, t + 100_000)]);
    chain.ok(&a.acme, vec![void(1), void(2)]);
    assert_eq!(cap(&chain, &a.alice, "acme", "ACME@acme"), 100);
    chain.ok(&a.acme, vec![hold(3, &a.alice, "ACME@acme", 100, t + 100_000)]);
    chain.fails(&a.acme, vec![hold(4, &a.alice, "ACME@acme", 1, t + 100_000)], 0, ErrorCode::CapExceeded);
}

// ---- Invariants ----

type Entries = BTreeMap<StateKey, StateValue>;

/// A chain with an open hold (1), a settled one (2) and a voided one (3), as entries.
fn hold_entries() -> Entries {
    let (a, mut chain) = authorized_chain();
    let expires = next_time(&chain) + 100_000;
    chain.ok(
        &a.acme,
        vec![
            hold(1, &a.alice, "ACME@acme", 10, expires),
            hold(2, &a.alice, "ACME@acme", 20, expires),
            hold(3, &a.alice, "ACME@acme", 30, expires),
        ],
    );
    chain.ok(&a.acme, vec![settle(2, 2, 15), void(3)]);
    chain.state.entries().map(|(key, value)| (key.clone(), value.clone())).collect()
}

fn broken(edit: impl FnOnce(&mut Entries)) -> InvariantViolation {
    let mut entries = hold_entries();
    check_invariants(&entries).expect("the unedited state is fine");
    edit(&mut entries);
    check_invariants(&entries).expect_err("the edit breaks an invariant")
}

fn hold_mut(entries: &mut Entries, id: u32) -> &mut HoldState {
    match entries.get_mut(&StateKey::Hold { hold_id: hold_id(id) }) {
        Some(StateValue::Hold(hold)) => hold,
        other => panic!("no hold {id}: {other:?}"),
    }
}

fn expiry_key(entries: &Entries, id: u32) -> StateKey {
    let expires_at_ms = match entries.get(&StateKey::Hold { hold_id: hold_id(id) }) {
        Some(StateValue::Hold(hold)) => hold.expires_at_ms,
        other => panic!("no hold {id}: {other:?}"),
    };
    StateKey::HoldExpiry { expires_at_ms: OrderedU64(expires_at_ms), hold_id: hold_id(id) }
}

// Not split: a table of cases checked in one loop; split up, the table would be scattered.
#[test]
fn the_checker_catches_broken_holds() {
    let a = actors();
    let hold_violation = |violation: InvariantViolation| match violation {
        InvariantViolation::Hold(hold) => hold,
        other => panic!("expected a hold violation, got {other:?}"),
    };
    // The open hold without its index entry, or an index entry for a closed hold.
    let violation = broken(|e| {
        let key = expiry_key(e, 1);
        e.remove(&key);
    });
    assert!(matches!(hold_violation(violation), HoldViolation::OpenWithoutExpiry { .. }));
    let violation = broken(|e| {
        let key = expiry_key(e, 3);
        e.insert(key, StateValue::HoldExpiry(Default::default()));
    });
    assert!(matches!(hold_violation(violation), HoldViolation::StaleExpiry { .. }));
    // An index entry under another expiry than the hold's.
    let violation = broken(|e| hold_mut(e, 1).expires_at_ms += 1);
    assert!(matches!(hold_violation(violation), HoldViolation::OpenWithoutExpiry { .. }));
    // Locked must equal the open holds: closing the open hold without unlocking.
    let violation = broken(|e| {
        hold_mut(e, 1).status = HoldStatus::Voided { height: Height(1) };
        let key = expiry_key(e, 1);
        e.remove(&key);
    });
    assert!(matches!(violation, InvariantViolation::LockedMismatch { .. }), "{violation:?}");
    let violation = broken(|e| hold_mut(e, 3).amount = Amount(0));
    assert!(matches!(hold_violation(violation), HoldViolation::ZeroAmount { .. }));
    let violation = broken(|e| hold_mut(e, 3).member = member("initech"));
    assert!(matches!(hold_violation(violation), HoldViolation::UnknownMember { .. }));
    let violation = broken(|e| hold_mut(e, 3).asset = asset("NOPE@acme"));
    assert!(matches!(hold_violation(violation), HoldViolation::UnknownAsset { .. }));
    // Settlements and batch records must match both ways.
    let violation = broken(|e| {
        hold_mut(e, 2).status =
            HoldStatus::Settled { batch_id: op_id(2), amount: Amount(21), height: Height(1) };
    });
    assert!(matches!(hold_violation(violation), HoldViolation::SettledAboveAmount { .. }));
    let violation = broken(|e| {
        hold_mut(e, 2).status =
            HoldStatus::Settled { batch_id: op_id(2), amount: Amount(14), height: Height(1) };
    });
    assert!(matches!(hold_violation(violation), HoldViolation::SettlementWithoutBatch { .. }));
    let violation = broken(|e| {
        e.remove(&StateKey::BatchId { member: member("acme"), batch_id: op_id(2) });
    });
    assert!(matches!(hold_violation(violation), HoldViolation::SettlementWithoutBatch { .. }));
    let violation = broken(|e| {
        let record =
            BatchRecord { hold_id: hold_id(3), amount: Amount(0), usage_root: Hash::ZERO, height: Height(1) };
        e.insert(
            StateKey::BatchId { member: member("acme"), batch_id: op_id(9) },
            StateValue::BatchId(record),
        );
    });
    assert!(matches!(hold_violation(violation), HoldViolation::BatchWithoutSettlement { .. }));
    // Authorizations name existing members and assets.
    let authorization = StateValue::Authorization(AuthorizationState {
        cap: Amount(1),
        cap_remaining: Amount(1),
        expires_at_ms: 1,
        plan: None,
    });
    let violation = broken(|e| {
        let key = StateKey::Authorization {
            holder: a.bob.public_key(),
            provider: member("initech"),
            asset: asset("ACME@acme"),
        };
        e.insert(key, authorization.clone());
    });
    assert!(matches!(hold_violation(violation), HoldViolation::AuthorizationOfUnknownMember { .. }));
    let violation = broken(|e| {
        let key = StateKey::Authorization {
            holder: a.bob.public_key(),
            provider: member("acme"),
            asset: asset("NOPE@acme"),
        };
        e.insert(key, authorization.clone());
    });
    assert!(matches!(hold_violation(violation), HoldViolation::AuthorizationOfUnknownAsset { .. }));
}

#[test]
fn history_catches_reused_hold_and_batch_ids_and_double_resolution() {
    let a = actors();
    let success = |tx: &SignedTransaction| Receipt::success(tx.id());
    let place = signed(
        &a.acme,
        1,
        vec![hold(1, &a.alice, "ACME@acme", 5, FAR), hold(2, &a.alice, "ACME@acme", 5, FAR)],
    );
    let settle_one = signed(&a.acme2, 1, vec![settle(1, 1, 5)]);
    let mut history = History::new();
    history.observe_block(Height(1), std::slice::from_ref(&place), &[success(&place)]).expect("fine");
    history
        .observe_block(Height(2), std::slice::from_ref(&settle_one), &[success(&settle_one)])
        .expect("fine");
    let themed = |result: Result<(), HistoryViolation>| match result {
        Err(HistoryViolation::Themed { what, .. }) => what,
        other => panic!("expected a themed violation, got {other:?}"),
    };
    // A hold id placed again (by another member's issuer).
    let again = signed(&a.globex, 1, vec![hold(1, &a.bob, "ACME@acme", 5, FAR)]);
    let what =
        themed(history.clone().observe_block(Height(3), std::slice::from_ref(&again), &[success(&again)]));
    assert!(what.contains("placed before"), "{what}");
    // A settled hold voided or settled again.
    let void_again = signed(&a.acme, 2, vec![void(1)]);
    let what = themed(history.clone().observe_block(
        Height(3),
        std::slice::from_ref(&void_again),
        &[success(&void_again)],
    ));
    assert!(what.contains("resolved before"), "{what}");
    // A batch id of the member used again, by the issuer that placed the hold.
    let reuse = signed(&a.acme, 2, vec![settle(2, 1, 5)]);
    let what =
        themed(history.clone().observe_block(Height(3), std::slice::from_ref(&reuse), &[success(&reuse)]));
    assert!(what.contains("batch id"), "{what}");
    // ... which is fine when the transaction failed, and fine for another member.
    let failed = Receipt::failed(reuse.id(), 0, ErrorCode::DuplicateBatchId);
    history
        .clone()
        .observe_block(Height(3), std::slice::from_ref(&reuse), &[failed])
        .expect("failed settles use nothing");
    let other_place = signed(&a.globex, 1, vec![hold(3, &a.bob, "ACME@acme", 5, FAR), settle(3, 1, 5)]);
    history
        .clone()
        .observe_block(Height(3), std::slice::from_ref(&other_place), &[success(&other_place)])
        .expect("per member");
    // A hold that was never placed.
    let unknown = signed(&a.acme, 2, vec![void(9)]);
    let what = themed(history.observe_block(Height(3), std::slice::from_ref(&unknown), &[success(&unknown)]));
    assert!(what.contains("never placed"), "{what}");
}

// ---- Rewards ----

#[test]
fn rewards_carry_each_reason_and_only_rewards_do() {
    let a = actors();
    let mut chain = Chain::new();
    let longest = "x".repeat(limits::REWARD_REASON_BYTES_MAX);
    let reasons = [
        RewardReason::ClientLibrary,
        RewardReason::HowToGuide,
        RewardReason::ForumSupport,
        RewardReason::PublishedApplication,
        RewardReason::Other(BoundedString::new("conference talk").expect("short")),
        RewardReason::Other(BoundedString::new(longest.as_str()).expect("at the limit")),
    ];
    let mut expected = 0;
    for (index, reason) in reasons.iter().enumerate() {
        let id = 100 + index as u8;
        let amount = 10 * (index as u128 + 1);
        chain.ok(
            &a.acme,
            vec![grant_with(
                id,
                "ACME@acme",
                a.carol.public_key(),
                amount,
                GrantKind::Reward,
                Some(reason.clone()),
            )],
        );
        expected += amount;
        assert_eq!(chain.available(&a.carol, "ACME@acme"), expected);
        assert!(
            chain.state.value(&StateKey::GrantId { member: member("acme"), grant_id: op_id(id) }).is_some()
        );
        // The same reason on a purchase or a promo is refused.
        for kind in [GrantKind::Purchase, GrantKind::Promo] {
            let op = grant_with(1, "ACME@acme", a.carol.public_key(), 1, kind, Some(reason.clone()));
            chain.fails(&a.acme, vec![op], 0, ErrorCode::ReasonNotAllowed);
        }
    }
    assert_eq!(chain.supply("ACME@acme"), 1_500 + expected);
    // A reward without a reason, whichever asset and issuer.
    let op = grant_with(1, "GLX@globex", a.carol.public_key(), 1, GrantKind::Reward, None);
    chain.fails(&a.globex, vec![op], 0, ErrorCode::RewardReasonMissing);
    // Earned reward credits are spent like any others: authorized, held and settled.
    chain.ok(&a.carol, vec![authorize("acme", "ACME@acme", expected, FAR)]);
    let expires = next_time(&chain) + 5_000;
    chain.ok(&a.acme, vec![hold(1, &a.carol, "ACME@acme", expected, expires), settle(1, 1, expected)]);
    assert_eq!(chain.available(&a.carol, "ACME@acme"), 0);
    // Longer than the limit does not even make a reason.
    assert!(
        BoundedString::<{ limits::REWARD_REASON_BYTES_MAX }>::new(format!("{longest}x").as_str()).is_err()
    );
}
