//! Genesis: the state it creates, and each way it is refused.

mod common;

use common::*;
use tally_ledger::{
    AssetState, BalanceState, GenesisAsset, GenesisBalance, GenesisError, GenesisLedger, IssuerState,
    MemState, StateKey, StateValue, genesis_writes,
};
use tally_types::tx::AssetFlags;
use tally_types::{Amount, KeyError, PublicKey, limits};

fn refused(edit: impl FnOnce(&mut GenesisLedger)) -> GenesisError {
    let mut genesis = genesis();
    edit(&mut genesis);
    genesis_writes(&genesis).expect_err("genesis must be refused")
}

/// A 32-byte string that is not a valid ed25519 point encoding.
fn invalid_point() -> PublicKey {
    (0u8..=255)
        .map(|byte| PublicKey([byte; 32]))
        .find(|key| key.validate() == Err(KeyError::InvalidPoint))
        .expect("some repeated byte is not a point")
}

/// The identity point: valid encoding, small order.
fn weak_key() -> PublicKey {
    let mut bytes = [0u8; 32];
    bytes[0] = 1;
    PublicKey(bytes)
}

#[test]
fn genesis_creates_members_issuers_assets_and_balances() {
    let a = actors();
    let state = MemState::from_genesis(&genesis()).expect("valid");
    state.check_invariants().expect("invariants hold at genesis");
    let Some(StateValue::Member(acme)) = state.value(&StateKey::Member { member: member("acme") }) else {
        panic!("member acme missing");
    };
    assert_eq!(acme.name.as_str(), "Acme APIs");
    let mut issuers = vec![a.acme.public_key(), a.acme2.public_key()];
    issuers.sort();
    assert_eq!(acme.issuers.as_slice(), issuers.as_slice());
    assert_eq!(
        state.value(&StateKey::Issuer { account: a.acme2.public_key() }),
        Some(&StateValue::Issuer(IssuerState { member: member("acme") }))
    );
    assert_eq!(
        state.value(&StateKey::Asset { asset: asset("ACME@acme") }),
        Some(&StateValue::Asset(AssetState {
            scale: 2,
            max_supply: Some(Amount(1_000_000)),
            flags: AssetFlags::default(),
            supply: Amount(1_500),
            minted: Amount(1_500),
            burned: Amount(0),
        }))
    );
    assert_eq!(
        state.value(&StateKey::balance(a.bob.public_key(), asset("ACME@acme"))),
        Some(&StateValue::Balance(BalanceState { available: Amount(500), locked: Amount(0) }))
    );
    // GLX has no balances: supply zero. No account entries exist before any transaction.
    assert!(matches!(
        state.value(&StateKey::Asset { asset: asset("GLX@globex") }),
        Some(StateValue::Asset(AssetState { supply: Amount(0), .. }))
    ));
    assert_eq!(state.entries().filter(|(key, _)| matches!(key, StateKey::Account { .. })).count(), 0);
    // Members, issuers, assets, balances, one governance key per member, the governance entry.
    assert_eq!(state.len(), 2 + 3 + 3 + 3 + 2 + 1);
}

#[test]
fn genesis_does_not_depend_on_list_order() {
    let mut reversed = genesis();
    reversed.members.reverse();
    reversed.assets.reverse();
    reversed.balances.reverse();
    for member in &mut reversed.members {
        member.issuers.reverse();
    }
    assert_eq!(genesis_writes(&reversed), genesis_writes(&genesis()));
    let root = MemState::from_genesis(&genesis()).expect("valid").root();
    assert_eq!(MemState::from_genesis(&reversed).expect("valid").root(), root);
}

#[test]
fn member_errors() {
    assert_eq!(
        refused(|g| g.members.push(g.members[1].clone())),
        GenesisError::DuplicateMember { member: member("globex") }
    );
    assert_eq!(
        refused(|g| g.members[1].issuers.clear()),
        GenesisError::MemberWithoutIssuers { member: member("globex") }
    );
    let many: Vec<PublicKey> =
        (100..100 + limits::MEMBER_ISSUERS_MAX as u8 + 1).map(|s| key(s).public_key()).collect();
    assert_eq!(
        refused(|g| g.members[1].issuers = many),
        GenesisError::TooManyIssuers { member: member("globex"), count: limits::MEMBER_ISSUERS_MAX + 1 }
    );
    assert_eq!(
        refused(|g| g.members[0].name.clear()),
        GenesisError::BadMemberName { member: member("acme"), len: 0 }
    );
    let long = "x".repeat(limits::MEMBER_NAME_BYTES_MAX + 1);
    assert_eq!(
        refused(|g| g.members[0].name = long),
        GenesisError::BadMemberName { member: member("acme"), len: limits::MEMBER_NAME_BYTES_MAX + 1 }
    );
    // Exactly at the limits is fine.
    let mut at_limits = genesis();
    at_limits.members[0].name = "x".repeat(limits::MEMBER_NAME_BYTES_MAX);
    at_limits.members[1].issuers =
        (100..100 + limits::MEMBER_ISSUERS_MAX as u8).map(|s| key(s).public_key()).collect();
    MemState::from_genesis(&at_limits).expect("limits are inclusive");
}

#[test]
fn issuer_key_errors() {
    let a = actors();
    let weak = weak_key();
    assert_eq!(
        refused(|g| g.members[1].issuers.push(weak)),
        GenesisError::BadIssuerKey { member: member("globex"), key: weak, reason: KeyError::WeakKey }
    );
    let invalid = invalid_point();
    assert_eq!(
        refused(|g| g.members[0].issuers.push(invalid)),
        GenesisError::BadIssuerKey { member: member("acme"), key: invalid, reason: KeyError::InvalidPoint }
    );
    // One key twice in a member, or in two members.
    assert_eq!(
        refused(|g| g.members[0].issuers.push(a.acme.public_key())),
        GenesisError::DuplicateIssuer {
            key: a.acme.public_key(),
            member: member("acme"),
            other_member: member("acme")
        }
    );
    assert_eq!(
        refused(|g| g.members[1].issuers.push(a.acme2.public_key())),
        GenesisError::DuplicateIssuer {
            key: a.acme2.public_key(),
            member: member("acme"),
            other_member: member("globex"),
        }
    );
}

#[test]
fn asset_errors() {
    let glx = || GenesisAsset {
        asset: asset("GLX@globex"),
        scale: 6,
        max_supply: None,
        flags: AssetFlags::default(),
    };
    assert_eq!(
        refused(|g| g.assets.push(GenesisAsset { asset: asset("X1@nobody"), ..glx() })),
        GenesisError::UnknownMember { asset: asset("X1@nobody"), member: member("nobody") }
    );
    assert_eq!(
        refused(|g| g.assets.push(glx())),
        GenesisError::DuplicateAsset { asset: asset("GLX@globex") }
    );
    assert_eq!(
        refused(|g| g.assets[2].scale = limits::ASSET_SCALE_MAX + 1),
        GenesisError::BadScale { asset: asset("GLX@globex"), scale: 19 }
    );
    assert_eq!(
        refused(|g| g.assets[2].flags = AssetFlags(1 << 9)),
        GenesisError::BadFlags { asset: asset("GLX@globex"), flags: 1 << 9 }
    );
    assert_eq!(
        refused(|g| g.assets[2].max_supply = Some(Amount::ZERO)),
        GenesisError::ZeroMaxSupply { asset: asset("GLX@globex") }
    );
}

#[test]
fn balance_errors() {
    let a = actors();
    let carol = a.carol.public_key();
    let balance = |account: PublicKey, asset_id: &str, amount: u128| GenesisBalance {
        account,
        asset: asset(asset_id),
        amount: Amount(amount),
    };
    assert_eq!(
        refused(|g| g.balances.push(balance(carol, "NOPE@acme", 1))),
        GenesisError::UnknownAsset { account: carol, asset: asset("NOPE@acme") }
    );
    let invalid = invalid_point();
    assert_eq!(
        refused(|g| g.balances.push(balance(invalid, "GLX@globex", 1))),
        GenesisError::BadAccountKey { account: invalid, reason: KeyError::InvalidPoint }
    );
    assert_eq!(
        refused(|g| g.balances.push(balance(weak_key(), "GLX@globex", 1))),
        GenesisError::BadAccountKey { account: weak_key(), reason: KeyError::WeakKey }
    );
    assert_eq!(
        refused(|g| g.balances.push(balance(carol, "GLX@globex", 0))),
        GenesisError::ZeroBalance { account: carol, asset: asset("GLX@globex") }
    );
    assert_eq!(
        refused(|g| g.balances.push(balance(a.bob.public_key(), "ACME@acme", 1))),
        GenesisError::DuplicateBalance { account: a.bob.public_key(), asset: asset("ACME@acme") }
    );
    assert_eq!(
        refused(|g| {
            g.balances.push(balance(carol, "GLX@globex", u128::MAX));
            g.balances.push(balance(a.bob.public_key(), "GLX@globex", 1));
        }),
        GenesisError::SupplyOverflow { asset: asset("GLX@globex") }
    );
    // ACME: 1,500 of 1,000,000 exist; exactly the max is fine, one more is not.
    let mut at_max = genesis();
    at_max.balances.push(balance(carol, "ACME@acme", 998_500));
    MemState::from_genesis(&at_max).expect("max supply is inclusive").check_invariants().expect("holds");
    assert_eq!(
        refused(|g| g.balances.push(balance(carol, "ACME@acme", 998_501))),
        GenesisError::AboveMaxSupply {
            asset: asset("ACME@acme"),
            supply: Amount(1_000_001),
            max_supply: Amount(1_000_000),
        }
    );
}

#[test]
fn an_empty_genesis_is_the_empty_state() {
    let state = MemState::from_genesis(&GenesisLedger::default()).expect("valid");
    assert!(state.is_empty());
    assert_eq!(state.root(), tally_types::Hash::ZERO);
}
