//! AnchorBadges and RevokeBadge: what each writes, every error code in its documented check
//! order, atomicity, and the badge invariants.

mod common;

use common::*;
use tally_ledger::state::{BadgeAnchorState, RevocationState};
use tally_ledger::{InvariantViolation, StateKey, StateValue, check_invariants};
use tally_types::codec::BoundedString;
use tally_types::tx::{AnchorBadges, BadgeCanon, BadgeFormat, RevokeBadge};
use tally_types::{ErrorCode, Hash, Height, Op, limits};

fn anchor(root: u8, leaf_count: u32) -> Op {
    Op::AnchorBadges(AnchorBadges {
        batch_root: Hash([root; 32]),
        leaf_count,
        format: BadgeFormat::OpenBadges3,
        canon: BadgeCanon::JcsBlake3,
        metadata_uri: Some(BoundedString::new("https://acme.example/badges/batch-1").expect("short")),
    })
}

fn revoke(hash: u8, reason: &str) -> Op {
    Op::RevokeBadge(RevokeBadge {
        badge_hash: Hash([hash; 32]),
        reason: BoundedString::new(reason).expect("short"),
    })
}

fn anchor_entry(chain: &Chain, root: u8) -> Option<BadgeAnchorState> {
    match chain.state.value(&StateKey::BadgeAnchor { batch_root: Hash([root; 32]) }) {
        Some(StateValue::BadgeAnchor(state)) => Some(state.clone()),
        None => None,
        Some(other) => panic!("anchor entry holds {other:?}"),
    }
}

fn revocation_entry(chain: &Chain, member_id: &str, hash: u8) -> Option<RevocationState> {
    let key = StateKey::BadgeRevocation { member: member(member_id), badge_hash: Hash([hash; 32]) };
    match chain.state.value(&key) {
        Some(StateValue::BadgeRevocation(state)) => Some(state.clone()),
        None => None,
        Some(other) => panic!("revocation entry holds {other:?}"),
    }
}

// ---- AnchorBadges ----

#[test]
fn anchor_records_the_member_issuer_height_and_tx() {
    let a = actors();
    let mut chain = Chain::new();
    let tx = chain.tx(&a.acme2, vec![anchor(7, 3)]);
    let committed = chain.block(std::slice::from_ref(&tx)).expect("includable");
    assert_eq!(committed.output.receipts[0].outcome, tally_types::TxOutcome::Success);
    let state = anchor_entry(&chain, 7).expect("anchored");
    assert_eq!(
        state,
        BadgeAnchorState {
            member: member("acme"),
            issuer: a.acme2.public_key(),
            leaf_count: 3,
            format: BadgeFormat::OpenBadges3,
            canon: BadgeCanon::JcsBlake3,
            metadata_uri: Some(BoundedString::new("https://acme.example/badges/batch-1").expect("short")),
            height: Height(1),
            tx_id: tx.id(),
        }
    );
    // The smallest and the largest batch are accepted; several anchors fit one transaction.
    chain.ok(&a.globex, vec![anchor(8, 1), anchor(9, limits::BADGE_BATCH_LEAVES_MAX)]);
    assert_eq!(anchor_entry(&chain, 8).map(|s| (s.member, s.leaf_count)), Some((member("globex"), 1)));
    assert_eq!(anchor_entry(&chain, 9).map(|s| s.leaf_count), Some(limits::BADGE_BATCH_LEAVES_MAX));
}

#[test]
fn anchor_failures_in_check_order() {
    let a = actors();
    let mut chain = Chain::new();
    // NotIssuer comes first: a non-member with a bad batch still gets NotIssuer.
    chain.fails(&a.alice, vec![anchor(1, 1)], 0, ErrorCode::NotIssuer);
    chain.fails(&a.alice, vec![anchor(1, 0)], 0, ErrorCode::NotIssuer);
    chain.fails(&a.acme, vec![anchor(1, 0)], 0, ErrorCode::BadBadgeBatch);
    chain.fails(&a.acme, vec![anchor(1, limits::BADGE_BATCH_LEAVES_MAX + 1)], 0, ErrorCode::BadBadgeBatch);
    chain.ok(&a.acme, vec![anchor(1, 2)]);
    // The root is taken for everyone: the same member, its other issuer, another member.
    chain.fails(&a.acme, vec![anchor(1, 2)], 0, ErrorCode::DuplicateBadgeRoot);
    chain.fails(&a.acme2, vec![anchor(1, 5)], 0, ErrorCode::DuplicateBadgeRoot);
    chain.fails(&a.globex, vec![anchor(1, 2)], 0, ErrorCode::DuplicateBadgeRoot);
    // BadBadgeBatch comes before DuplicateBadgeRoot.
    chain.fails(&a.acme, vec![anchor(1, 0)], 0, ErrorCode::BadBadgeBatch);
    // Twice in one transaction: the second fails and the first leaves no trace.
    chain.fails(&a.acme, vec![anchor(2, 1), anchor(2, 1)], 1, ErrorCode::DuplicateBadgeRoot);
    assert_eq!(anchor_entry(&chain, 2), None);
    // A failing later op rolls an anchor back.
    chain.fails(&a.acme, vec![anchor(3, 1), transfer("ACME@acme", &a.bob, 0)], 1, ErrorCode::ZeroAmount);
    assert_eq!(anchor_entry(&chain, 3), None);
}

// ---- RevokeBadge ----

#[test]
fn revoke_records_the_revocation_under_the_signers_member() {
    let a = actors();
    let mut chain = Chain::new();
    chain.ok(&a.acme, vec![anchor(1, 2)]);
    let tx = chain.tx(&a.acme2, vec![revoke(9, "issued in error")]);
    chain.block(std::slice::from_ref(&tx)).expect("includable");
    assert_eq!(
        revocation_entry(&chain, "acme", 9),
        Some(RevocationState {
            reason: BoundedString::new("issued in error").expect("short"),
            issuer: a.acme2.public_key(),
            height: Height(2),
            tx_id: tx.id(),
        })
    );
    // Another member's revocation of the same hash lands under that member, not under acme's,
    // so it cannot touch acme's badge; a verifier looks up the anchoring member only.
    chain.ok(&a.globex, vec![revoke(9, "")]);
    assert!(revocation_entry(&chain, "globex", 9).is_some());
    assert_eq!(revocation_entry(&chain, "acme", 9).map(|r| r.issuer), Some(a.acme2.public_key()));
    // A member may revoke a hash it has no anchor for (the ledger cannot tell which hashes a
    // root holds); that entry simply never matches a badge anchored by someone else.
    chain.ok(&a.globex, vec![revoke(10, "")]);
    assert!(revocation_entry(&chain, "acme", 10).is_none());
}

#[test]
fn revoke_failures_in_check_order() {
    let a = actors();
    let mut chain = Chain::new();
    chain.fails(&a.alice, vec![revoke(1, "")], 0, ErrorCode::NotIssuer);
    chain.ok(&a.acme, vec![revoke(1, "first")]);
    // Once per member: again by the same or another issuer of acme fails; the entry is kept.
    chain.fails(&a.acme, vec![revoke(1, "again")], 0, ErrorCode::BadgeAlreadyRevoked);
    chain.fails(&a.acme2, vec![revoke(1, "again")], 0, ErrorCode::BadgeAlreadyRevoked);
    assert_eq!(
        revocation_entry(&chain, "acme", 1).map(|r| r.reason.as_str().to_owned()),
        Some("first".into())
    );
    // NotIssuer comes before BadgeAlreadyRevoked.
    chain.fails(&a.bob, vec![revoke(1, "")], 0, ErrorCode::NotIssuer);
    // Twice in one transaction: the second fails, the first is rolled back.
    chain.fails(&a.acme, vec![revoke(2, ""), revoke(2, "")], 1, ErrorCode::BadgeAlreadyRevoked);
    assert_eq!(revocation_entry(&chain, "acme", 2), None);
}

// ---- Invariants ----

#[test]
fn the_badge_invariants_catch_broken_entries() {
    let a = actors();
    let mut chain = Chain::new();
    chain.ok(&a.acme, vec![anchor(1, 2), revoke(5, "")]);
    let entries: Vec<(StateKey, StateValue)> =
        chain.state.entries().map(|(key, value)| (key.clone(), value.clone())).collect();
    let check = |entries: &[(StateKey, StateValue)]| check_invariants(entries.iter().map(|(k, v)| (k, v)));
    assert_eq!(check(&entries), Ok(()));

    let anchor_key = StateKey::BadgeAnchor { batch_root: Hash([1; 32]) };
    let with_anchor = |edit: &dyn Fn(&mut BadgeAnchorState)| {
        let mut changed = entries.clone();
        for (key, value) in &mut changed {
            if *key == anchor_key
                && let StateValue::BadgeAnchor(state) = value
            {
                edit(state);
            }
        }
        changed
    };
    for leaf_count in [0, limits::BADGE_BATCH_LEAVES_MAX + 1] {
        let broken = with_anchor(&|state| state.leaf_count = leaf_count);
        assert!(
            matches!(
                check(&broken),
                Err(InvariantViolation::Badge(
                    tally_ledger::invariants::BadgeViolation::LeafCountOutOfRange { .. }
                ))
            ),
            "leaf count {leaf_count}"
        );
    }
    let broken = with_anchor(&|state| state.member = member("initech"));
    assert!(matches!(
        check(&broken),
        Err(InvariantViolation::Badge(
            tally_ledger::invariants::BadgeViolation::AnchorOfUnknownMember { .. }
        ))
    ));
    let mut broken = entries.clone();
    for (key, _) in &mut broken {
        if let StateKey::BadgeRevocation { member: revoking, .. } = key {
            *revoking = member("initech");
        }
    }
    assert!(matches!(
        check(&broken),
        Err(InvariantViolation::Badge(
            tally_ledger::invariants::BadgeViolation::RevocationOfUnknownMember { .. }
        ))
    ));
}

#[test]
fn the_history_refuses_a_root_anchored_twice() {
    let a = actors();
    let mut chain = Chain::new();
    let first = chain.tx(&a.acme, vec![anchor(1, 1)]);
    chain.block(std::slice::from_ref(&first)).expect("includable");
    // Feed the history a forged block claiming a second successful anchor of the same root.
    let forged = signed(&a.acme2, 1, vec![anchor(1, 1)]);
    let receipt = tally_types::Receipt::success(forged.id());
    let result = chain.history.clone().observe_block(Height(2), &[forged], &[receipt]);
    assert!(matches!(result, Err(tally_ledger::HistoryViolation::Themed { .. })), "{result:?}");
    // And the same badge revoked twice by one issuer.
    let mut history = tally_ledger::History::new();
    let revocations = signed(&a.acme, 1, vec![revoke(3, "")]);
    let again = signed(&a.acme, 2, vec![revoke(3, "")]);
    history
        .observe_block(
            Height(1),
            std::slice::from_ref(&revocations),
            &[tally_types::Receipt::success(revocations.id())],
        )
        .expect("first revocation");
    let result = history.observe_block(
        Height(2),
        std::slice::from_ref(&again),
        &[tally_types::Receipt::success(again.id())],
    );
    assert!(matches!(result, Err(tally_ledger::HistoryViolation::Themed { .. })), "{result:?}");
}
