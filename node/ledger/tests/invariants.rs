//! The invariant checkers catch each kind of broken state and history (so that a passing
//! check after every block means something).

mod common;

use std::collections::BTreeMap;

use common::*;
use tally_ledger::{
    AccountState, AssetState, BalanceState, GrantRecord, History, HistoryViolation, InvariantViolation,
    IssuerState, MemState, MemberState, StateKey, StateValue, check_invariants,
};
use tally_types::codec::{BoundedString, BoundedVec};
use tally_types::receipt::{ErrorCode, Receipt};
use tally_types::tx::{AssetFlags, TxId};
use tally_types::{Amount, Hash, Height};

type Entries = BTreeMap<StateKey, StateValue>;

fn genesis_entries() -> Entries {
    let state = MemState::from_genesis(&genesis()).expect("valid");
    state.entries().map(|(key, value)| (key.clone(), value.clone())).collect()
}

fn broken(edit: impl FnOnce(&mut Entries)) -> InvariantViolation {
    let mut entries = genesis_entries();
    edit(&mut entries);
    check_invariants(&entries).expect_err("the edit breaks an invariant")
}

fn asset_mut<'a>(entries: &'a mut Entries, id: &str) -> &'a mut AssetState {
    match entries.get_mut(&StateKey::Asset { asset: asset(id) }) {
        Some(StateValue::Asset(state)) => state,
        other => panic!("no asset {id}: {other:?}"),
    }
}

fn balance_key(holder: &tally_types::SecretKey, id: &str) -> StateKey {
    StateKey::balance(holder.public_key(), asset(id))
}

fn balance(available: u128, locked: u128) -> StateValue {
    StateValue::Balance(BalanceState { available: Amount(available), locked: Amount(locked) })
}

#[test]
fn genesis_state_passes() {
    check_invariants(&genesis_entries()).expect("genesis keeps every invariant");
}

#[test]
fn supply_must_equal_balances_and_minted_minus_burned() {
    let a = actors();
    let violation = broken(|e| {
        e.insert(balance_key(&a.carol, "ACME@acme"), balance(1, 0));
    });
    assert_eq!(
        violation,
        InvariantViolation::SupplyMismatch {
            asset: asset("ACME@acme"),
            supply: Amount(1_500),
            balances: Amount(1_501)
        }
    );
    let violation = broken(|e| asset_mut(e, "ACME@acme").burned = Amount(1));
    assert!(matches!(violation, InvariantViolation::MintedBurnedMismatch { .. }), "{violation}");
    let violation = broken(|e| {
        let state = asset_mut(e, "ACME@acme");
        state.burned = Amount(2_000);
    });
    assert!(
        matches!(violation, InvariantViolation::MintedBurnedMismatch { .. }),
        "burned above minted: {violation}"
    );
    // Supply and minted moved together, balances did not.
    let violation = broken(|e| {
        let state = asset_mut(e, "GLX@globex");
        state.supply = Amount(5);
        state.minted = Amount(5);
    });
    assert!(matches!(violation, InvariantViolation::SupplyMismatch { .. }), "{violation}");
}

#[test]
fn balances_may_not_overflow_or_exceed_max_supply() {
    let a = actors();
    let violation = broken(|e| {
        e.insert(balance_key(&a.carol, "GLX@globex"), balance(u128::MAX, 0));
        e.insert(balance_key(&a.bob, "GLX@globex"), balance(1, 0));
    });
    assert_eq!(violation, InvariantViolation::BalancesOverflow { asset: asset("GLX@globex") });
    let violation = broken(|e| asset_mut(e, "ACME@acme").max_supply = Some(Amount(1_499)));
    assert!(matches!(violation, InvariantViolation::AboveMaxSupply { .. }), "{violation}");
    let violation = broken(|e| asset_mut(e, "ACME@acme").max_supply = Some(Amount(0)));
    assert!(matches!(violation, InvariantViolation::ZeroMaxSupply { .. }), "{violation}");
}

#[test]
fn nothing_may_be_locked_without_holds_or_offers() {
    let a = actors();
    let violation = broken(|e| {
        e.insert(balance_key(&a.bob, "ACME@acme"), balance(400, 100));
    });
    assert!(matches!(violation, InvariantViolation::LockedMismatch { .. }), "{violation}");
}

#[test]
fn entries_must_be_canonical_and_of_their_keys_kind() {
    let a = actors();
    let violation = broken(|e| {
        e.insert(balance_key(&a.carol, "ACME@acme"), balance(0, 0));
    });
    assert!(matches!(violation, InvariantViolation::EmptyEntry { .. }), "{violation}");
    let violation = broken(|e| {
        e.insert(
            StateKey::Account { account: a.carol.public_key() },
            StateValue::Account(AccountState { seq: 0 }),
        );
    });
    assert!(matches!(violation, InvariantViolation::EmptyEntry { .. }), "{violation}");
    let violation = broken(|e| {
        e.insert(StateKey::Account { account: a.carol.public_key() }, balance(1, 0));
    });
    assert!(matches!(violation, InvariantViolation::KindMismatch { .. }), "{violation}");
}

#[test]
fn references_must_resolve() {
    let a = actors();
    let violation = broken(|e| {
        e.insert(balance_key(&a.carol, "NOPE@acme"), balance(1, 0));
    });
    assert!(matches!(violation, InvariantViolation::BalanceOfUnknownAsset { .. }), "{violation}");
    let violation = broken(|e| {
        let glx = e.remove(&StateKey::Asset { asset: asset("GLX@globex") }).expect("exists");
        e.insert(StateKey::Asset { asset: asset("GLX@nobody") }, glx);
    });
    assert!(matches!(violation, InvariantViolation::AssetOfUnknownMember { .. }), "{violation}");
    let violation = broken(|e| {
        e.insert(
            StateKey::GrantId { member: member("nobody"), grant_id: op_id(1) },
            StateValue::GrantId(GrantRecord { height: Height(1) }),
        );
    });
    assert!(matches!(violation, InvariantViolation::GrantIdOfUnknownMember { .. }), "{violation}");
    let violation = broken(|e| asset_mut(e, "GLX@globex").scale = 19);
    assert!(matches!(violation, InvariantViolation::BadScale { .. }), "{violation}");
    let violation = broken(|e| asset_mut(e, "GLX@globex").flags = AssetFlags(1 << 20));
    assert!(matches!(violation, InvariantViolation::BadFlags { .. }), "{violation}");
}

#[test]
fn members_and_the_issuer_index_must_agree() {
    let a = actors();
    // An index entry without the member listing the key.
    let violation = broken(|e| {
        e.insert(
            StateKey::Issuer { account: a.carol.public_key() },
            StateValue::Issuer(IssuerState { member: member("acme") }),
        );
    });
    assert!(matches!(violation, InvariantViolation::StaleIssuerIndex { .. }), "{violation}");
    // A listed key without its index entry.
    let violation = broken(|e| {
        e.remove(&StateKey::Issuer { account: a.globex.public_key() });
    });
    assert!(matches!(violation, InvariantViolation::IssuerIndexMismatch { .. }), "{violation}");
    // The index pointing at the wrong member.
    let violation = broken(|e| {
        e.insert(
            StateKey::Issuer { account: a.globex.public_key() },
            StateValue::Issuer(IssuerState { member: member("acme") }),
        );
    });
    assert!(matches!(violation, InvariantViolation::IssuerIndexMismatch { .. }), "{violation}");
    let member_value = |name: &str, issuers: Vec<tally_types::PublicKey>| {
        StateValue::Member(MemberState {
            name: BoundedString::new(name).expect("short"),
            governance_key: issuers.first().copied().unwrap_or(tally_types::PublicKey([9; 32])),
            issuers: BoundedVec::new(issuers).expect("few"),
            removed_at: None,
        })
    };
    let violation = broken(|e| {
        e.insert(
            StateKey::Member { member: member("globex") },
            member_value("", vec![a.globex.public_key()]),
        );
    });
    assert!(matches!(violation, InvariantViolation::EmptyMemberName { .. }), "{violation}");
    let violation = broken(|e| {
        e.insert(StateKey::Member { member: member("globex") }, member_value("Globex", vec![]));
    });
    assert!(matches!(violation, InvariantViolation::MemberWithoutIssuers { .. }), "{violation}");
    let violation = broken(|e| {
        let key = a.globex.public_key();
        e.insert(StateKey::Member { member: member("globex") }, member_value("Globex", vec![key, key]));
    });
    assert!(matches!(violation, InvariantViolation::UnsortedIssuers { .. }), "{violation}");
}

// ---- History ----

#[test]
fn history_accepts_a_real_chain() {
    let a = actors();
    let mut chain = Chain::new();
    // Chain::block feeds the history checker; these must all pass it.
    chain.ok(&a.acme, vec![grant(1, "ACME@acme", &a.carol, 5)]);
    chain.fails(&a.acme, vec![grant(1, "ACME@acme", &a.carol, 5)], 0, ErrorCode::DuplicateGrantId);
    chain.ok(&a.alice, vec![transfer("ACME@acme", &a.carol, 5)]);
}

#[test]
fn history_catches_seq_reuse_gaps_and_grant_id_reuse() {
    let a = actors();
    let success = |tx: &tally_types::SignedTransaction| Receipt::success(tx.id());
    let first = signed(&a.acme, 1, vec![grant(1, "ACME@acme", &a.bob, 5)]);

    let mut history = History::new();
    history.observe_block(Height(1), std::slice::from_ref(&first), &[success(&first)]).expect("fine");
    // The same seq again.
    let again = signed(&a.acme, 1, vec![transfer("ACME@acme", &a.bob, 1)]);
    let violation =
        history.clone().observe_block(Height(2), std::slice::from_ref(&again), &[success(&again)]);
    assert!(
        matches!(violation, Err(HistoryViolation::SeqOutOfOrder { previous: 1, actual: 1, .. })),
        "{violation:?}"
    );
    // A gap.
    let gap = signed(&a.acme, 3, vec![transfer("ACME@acme", &a.bob, 1)]);
    let violation = history.clone().observe_block(Height(2), std::slice::from_ref(&gap), &[success(&gap)]);
    assert!(
        matches!(violation, Err(HistoryViolation::SeqOutOfOrder { previous: 1, actual: 3, .. })),
        "{violation:?}"
    );
    // A grant id that succeeded before, succeeding again (by another issuer of the member).
    let reuse = signed(&a.acme2, 1, vec![grant(1, "PROMO@acme", &a.bob, 5)]);
    let violation =
        history.clone().observe_block(Height(2), std::slice::from_ref(&reuse), &[success(&reuse)]);
    assert!(matches!(violation, Err(HistoryViolation::GrantIdReused { .. })), "{violation:?}");
    // ... which is fine when it failed.
    let failed = Receipt::failed(reuse.id(), 0, ErrorCode::DuplicateGrantId);
    history
        .clone()
        .observe_block(Height(2), std::slice::from_ref(&reuse), &[failed])
        .expect("failed grants use no id");
    // Heights must increase; receipts must match the transactions.
    let next = signed(&a.acme, 2, vec![transfer("ACME@acme", &a.bob, 1)]);
    let violation = history.clone().observe_block(Height(1), std::slice::from_ref(&next), &[success(&next)]);
    assert!(matches!(violation, Err(HistoryViolation::HeightNotIncreasing { .. })), "{violation:?}");
    let violation = history.clone().observe_block(Height(2), std::slice::from_ref(&next), &[]);
    assert!(matches!(violation, Err(HistoryViolation::ReceiptCount { .. })), "{violation:?}");
    let wrong = Receipt::success(TxId(Hash([9; 32])));
    let violation = history.clone().observe_block(Height(2), std::slice::from_ref(&next), &[wrong]);
    assert!(matches!(violation, Err(HistoryViolation::ReceiptForOtherTx { .. })), "{violation:?}");
    history.observe_block(Height(2), std::slice::from_ref(&next), &[success(&next)]).expect("fine");
}

#[test]
fn governance_entries_must_match_the_members_and_epochs() {
    use tally_ledger::invariants::GovernanceViolation;
    use tally_ledger::state::{GovernanceState, GovernorState, ValidatorState};
    let a = actors();
    // A governance key indexed for a member whose key it is not.
    let violation = broken(|e| {
        e.insert(
            StateKey::Governor { account: a.alice.public_key() },
            StateValue::Governor(GovernorState { member: member("acme") }),
        );
    });
    assert!(
        matches!(violation, InvariantViolation::Governance(GovernanceViolation::StaleGovernor { .. })),
        "{violation}"
    );
    // An active member's governance key not indexed.
    let violation = broken(|e| {
        e.retain(|key, _| !matches!(key, StateKey::Governor { .. }));
    });
    assert!(
        matches!(violation, InvariantViolation::Governance(GovernanceViolation::GovernorMissing { .. })),
        "{violation}"
    );
    // The member count off by one.
    let violation = broken(|e| {
        let Some(StateValue::Governance(governance)) = e.get_mut(&StateKey::Governance) else {
            panic!("governance entry")
        };
        *governance = GovernanceState { active_members: governance.active_members + 1, ..governance.clone() };
    });
    assert!(
        matches!(violation, InvariantViolation::Governance(GovernanceViolation::MemberCountMismatch { .. })),
        "{violation}"
    );
    // A validator entry in no epoch.
    let violation = broken(|e| {
        e.insert(
            StateKey::Validator { consensus_key: a.bob.public_key() },
            StateValue::Validator(ValidatorState {
                member: member("acme"),
                name: BoundedString::new("acme-9").expect("short"),
                network_key: a.carol.public_key(),
                p2p_listen: BoundedString::new("/ip4/10.0.0.9/tcp/27000").expect("short"),
                http_listen: BoundedString::new("10.0.0.9:28000").expect("short"),
            }),
        );
    });
    assert!(
        matches!(violation, InvariantViolation::Governance(GovernanceViolation::StaleValidator { .. })),
        "{violation}"
    );
}
