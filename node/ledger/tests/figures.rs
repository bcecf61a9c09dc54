//! AnchorAchievements and the badge figures (docs/ARCHITECTURE.md "Badges", community
//! figures): what an anchor that names its achievements writes, every error code in its
//! documented check order, and the state and history checks that recompute the figures.
//! `Chain::block` checks every state invariant and `History::check_facts` after every block.

mod common;

use common::*;
use tally_ledger::invariants::FactViolation;
use tally_ledger::state::BadgeFiguresState;
use tally_ledger::{InvariantViolation, StateKey, StateValue, check_invariants};
use tally_types::codec::BoundedVec;
use tally_types::tx::{
    AchievementCount, AnchorAchievements, AnchorBadges, BadgeCanon, BadgeFormat, RevokeBadge,
};
use tally_types::{AchievementId, ErrorCode, Hash, Height, Op, SignedTransaction, decode, encode, limits};

const CALLS: &str = "https://badges.acme.example/achievements/api-calls-1k";
const LIBRARY: &str = "https://badges.acme.example/achievements/client-library";

fn achievement(id: &str) -> AchievementId {
    AchievementId::new(id).expect("valid achievement id")
}

fn anchor_badges(root: u8, leaf_count: u32) -> AnchorBadges {
    AnchorBadges {
        batch_root: Hash([root; 32]),
        leaf_count,
        format: BadgeFormat::OpenBadges3,
        canon: BadgeCanon::JcsBlake3,
        metadata_uri: None,
    }
}

/// An anchor of `root` naming `counts` in the order given; its leaf count is their sum unless
/// `leaf_count` says otherwise.
fn anchor_for(root: u8, leaf_count: Option<u32>, counts: &[(&str, u32)]) -> Op {
    let achievements: Vec<AchievementCount> = counts
        .iter()
        .map(|(id, count)| AchievementCount { achievement: achievement(id), count: *count })
        .collect();
    let sum = counts.iter().map(|(_, count)| *count).sum();
    Op::AnchorAchievements(Box::new(AnchorAchievements {
        anchor: anchor_badges(root, leaf_count.unwrap_or(sum)),
        achievements: BoundedVec::new(achievements).expect("at most 32 achievements"),
    }))
}

fn figures(chain: &Chain, member_id: &str, id: &str) -> Option<BadgeFiguresState> {
    let key = StateKey::BadgeFigures { member: member(member_id), achievement: achievement(id) };
    match chain.state.value(&key) {
        Some(StateValue::BadgeFigures(state)) => Some(*state),
        None => None,
        Some(other) => panic!("figures entry holds {other:?}"),
    }
}

fn state_of(anchored: u64, batches: u64, first: u64, last: u64) -> BadgeFiguresState {
    BadgeFiguresState { anchored, batches, first_height: Height(first), last_height: Height(last) }
}

#[test]
fn anchors_count_badges_and_batches_per_member_and_achievement() {
    let a = actors();
    let mut chain = Chain::new();
    chain.ok(&a.acme, vec![anchor_for(1, None, &[(CALLS, 3), (LIBRARY, 1)])]);
    // The anchor itself is recorded as AnchorBadges records it.
    match chain.state.value(&StateKey::BadgeAnchor { batch_root: Hash([1; 32]) }) {
        Some(StateValue::BadgeAnchor(anchor)) => {
            assert_eq!((&anchor.member, anchor.leaf_count), (&member("acme"), 4))
        }
        other => panic!("no anchor entry: {other:?}"),
    }
    assert_eq!(figures(&chain, "acme", CALLS), Some(state_of(3, 1, 1, 1)));
    assert_eq!(figures(&chain, "acme", LIBRARY), Some(state_of(1, 1, 1, 1)));
    // Another issuer of acme adds to acme's figures; globex's are its own.
    chain.ok(&a.acme2, vec![anchor_for(2, None, &[(CALLS, 2)])]);
    chain.ok(&a.globex, vec![anchor_for(3, None, &[(CALLS, 5)])]);
    assert_eq!(figures(&chain, "acme", CALLS), Some(state_of(5, 2, 1, 2)));
    assert_eq!(figures(&chain, "globex", CALLS), Some(state_of(5, 1, 3, 3)));
    assert_eq!(figures(&chain, "globex", LIBRARY), None);
    // A plain anchor counts nothing; a revocation does not change the figures (the ledger
    // cannot tell which achievement a badge hash is for).
    chain.ok(&a.acme, vec![Op::AnchorBadges(anchor_badges(4, 7))]);
    chain.ok(
        &a.acme,
        vec![Op::RevokeBadge(RevokeBadge {
            badge_hash: Hash([9; 32]),
            reason: tally_types::codec::BoundedString::new("").expect("short"),
        })],
    );
    assert_eq!(figures(&chain, "acme", CALLS), Some(state_of(5, 2, 1, 2)));
    // The largest list: every achievement counted once.
    let ids: Vec<String> = (0..limits::ANCHOR_ACHIEVEMENTS_MAX).map(|n| format!("urn:a:{n:02}")).collect();
    let counts: Vec<(&str, u32)> = ids.iter().map(|id| (id.as_str(), 1)).collect();
    chain.ok(&a.acme, vec![anchor_for(5, None, &counts)]);
    assert_eq!(figures(&chain, "acme", "urn:a:31"), Some(state_of(1, 1, 6, 6)));
}

#[test]
fn anchor_achievements_failures_in_check_order() {
    let a = actors();
    let mut chain = Chain::new();
    // The anchor's own checks come first, in their order.
    chain.fails(&a.alice, vec![anchor_for(1, Some(0), &[])], 0, ErrorCode::NotIssuer);
    chain.fails(&a.acme, vec![anchor_for(1, Some(0), &[])], 0, ErrorCode::BadBadgeBatch);
    chain.ok(&a.acme, vec![anchor_for(1, None, &[(CALLS, 1)])]);
    chain.fails(&a.globex, vec![anchor_for(1, Some(1), &[])], 0, ErrorCode::DuplicateBadgeRoot);
    // Then the list: not empty, strictly ascending, no zero count.
    chain.fails(&a.acme, vec![anchor_for(2, Some(1), &[])], 0, ErrorCode::BadAchievementList);
    chain.fails(
        &a.acme,
        vec![anchor_for(2, None, &[(LIBRARY, 1), (CALLS, 1)])],
        0,
        ErrorCode::BadAchievementList,
    );
    chain.fails(
        &a.acme,
        vec![anchor_for(2, None, &[(CALLS, 1), (CALLS, 1)])],
        0,
        ErrorCode::BadAchievementList,
    );
    chain.fails(
        &a.acme,
        vec![anchor_for(2, Some(1), &[(CALLS, 1), (LIBRARY, 0)])],
        0,
        ErrorCode::BadAchievementList,
    );
    // BadAchievementList comes before the sum.
    chain.fails(
        &a.acme,
        vec![anchor_for(2, Some(5), &[(LIBRARY, 1), (CALLS, 1)])],
        0,
        ErrorCode::BadAchievementList,
    );
    // Then the counts must add up to the batch, over or under.
    chain.fails(
        &a.acme,
        vec![anchor_for(2, Some(3), &[(CALLS, 1), (LIBRARY, 1)])],
        0,
        ErrorCode::AchievementCountMismatch,
    );
    chain.fails(
        &a.acme,
        vec![anchor_for(2, Some(1), &[(CALLS, 1), (LIBRARY, 1)])],
        0,
        ErrorCode::AchievementCountMismatch,
    );
    // A failing later op rolls the anchor and the figures back.
    chain.fails(
        &a.acme,
        vec![anchor_for(2, None, &[(LIBRARY, 2)]), transfer("ACME@acme", &a.bob, 0)],
        1,
        ErrorCode::ZeroAmount,
    );
    assert_eq!(figures(&chain, "acme", LIBRARY), None);
    assert_eq!(figures(&chain, "acme", CALLS), Some(state_of(1, 1, 3, 3)));
}

#[test]
fn a_malformed_or_oversized_list_does_not_decode() {
    // Ids are checked when decoded: a transaction carrying one is refused before execution.
    for bad in ["", "no-scheme", "1http://x", "https://a b", "https://x/\"q\"", "https://x/<y>", "urn:é"] {
        assert!(AchievementId::new(bad).is_err(), "{bad:?} accepted");
    }
    assert!(AchievementId::new(format!("urn:{}", "x".repeat(limits::ACHIEVEMENT_ID_BYTES_MAX - 4))).is_ok());
    assert!(AchievementId::new(format!("urn:{}", "x".repeat(limits::ACHIEVEMENT_ID_BYTES_MAX - 3))).is_err());
    let too_many: Vec<AchievementCount> = (0..=limits::ANCHOR_ACHIEVEMENTS_MAX)
        .map(|n| AchievementCount { achievement: achievement(&format!("urn:a:{n:02}")), count: 1 })
        .collect();
    assert!(BoundedVec::<AchievementCount, { limits::ANCHOR_ACHIEVEMENTS_MAX }>::new(too_many).is_err());

    // The same from bytes, as a peer or a client would send them: a transaction with a full
    // list of the most achievements decodes; one more (the list's length and an item crafted),
    // or an id that breaks the rule, does not.
    let a = actors();
    let full: Vec<(String, u32)> =
        (0..limits::ANCHOR_ACHIEVEMENTS_MAX).map(|n| (format!("urn:a:{n:02}"), 1)).collect();
    let counts: Vec<(&str, u32)> = full.iter().map(|(id, count)| (id.as_str(), *count)).collect();
    let bytes = encode(&signed(&a.acme, 1, vec![anchor_for(1, None, &counts)]));
    assert!(decode::<SignedTransaction>(&bytes).is_ok(), "the full list decodes");
    // The list's u32 length sits before the first id's own length and bytes; the list ends
    // the op, which ends the ops, followed by the empty memo (4 bytes) and the signature (64).
    let first = bytes.windows(8).position(|window| window == b"urn:a:00").expect("the first id");
    let length_at = first - 8;
    assert_eq!(bytes[length_at..length_at + 4], (limits::ANCHOR_ACHIEVEMENTS_MAX as u32).to_le_bytes());
    let list_end = bytes.len() - 64 - 4;
    let mut one_more = bytes.clone();
    one_more[length_at..length_at + 4]
        .copy_from_slice(&(limits::ANCHOR_ACHIEVEMENTS_MAX as u32 + 1).to_le_bytes());
    let item: Vec<u8> = [&8u32.to_le_bytes()[..], b"urn:a:zz", &1u32.to_le_bytes()].concat();
    one_more.splice(list_end..list_end, item);
    let error = decode::<SignedTransaction>(&one_more).expect_err("33 achievements decoded").to_string();
    assert!(error.contains("length 33 exceeds the limit of 32"), "{error}");
    let mut bad_id = bytes.clone();
    bad_id[first + 3] = b' ';
    let error = decode::<SignedTransaction>(&bad_id).expect_err("`urn a:00` decoded").to_string();
    assert!(error.contains("urn a:00"), "{error}");
}

/// The history check refuses a batch root anchored twice whichever op anchors it: an
/// AnchorAchievements reusing an AnchorBadges root (the executor refuses this; the check
/// must too, or a broken executor would count the batch twice unnoticed).
#[test]
fn the_history_refuses_a_root_anchored_twice_by_either_op() {
    let a = actors();
    let success = |tx: &tally_types::SignedTransaction| tally_types::Receipt::success(tx.id());
    let plain = |seq| signed(&a.acme, seq, vec![Op::AnchorBadges(anchor_badges(7, 2))]);
    let named = |seq| signed(&a.acme, seq, vec![anchor_for(7, None, &[(CALLS, 2)])]);
    for (first, second) in [(plain(1), named(2)), (named(1), plain(2)), (named(1), named(2))] {
        let mut history = tally_ledger::History::new();
        history.observe_block(Height(1), std::slice::from_ref(&first), &[success(&first)]).expect("first");
        let violation = history
            .observe_block(Height(2), std::slice::from_ref(&second), &[success(&second)])
            .expect_err("the root again");
        assert!(violation.to_string().contains("was anchored before"), "{violation}");
    }
    let plain = plain(1);
    let again = signed(&a.acme, 2, vec![anchor_for(8, None, &[(CALLS, 2)])]);
    let mut history = tally_ledger::History::new();
    history.observe_block(Height(1), std::slice::from_ref(&plain), &[success(&plain)]).expect("first");
    history.observe_block(Height(2), std::slice::from_ref(&again), &[success(&again)]).expect("another root");
}

/// A figures entry changed alone, added or removed breaks the state check or the history
/// check, which names it.
#[test]
fn the_checks_catch_figures_that_disagree_with_anchors_or_history() {
    let a = actors();
    let mut chain = Chain::new();
    chain.ok(&a.acme, vec![anchor_for(1, None, &[(CALLS, 3), (LIBRARY, 1)])]);
    chain.ok(&a.acme, vec![anchor_for(2, None, &[(CALLS, 2)]), Op::AnchorBadges(anchor_badges(3, 4))]);
    let entries: Vec<(StateKey, StateValue)> =
        chain.state.entries().map(|(key, value)| (key.clone(), value.clone())).collect();
    type Verdicts = (Result<(), InvariantViolation>, Result<(), FactViolation>);
    let check = |entries: &[(StateKey, StateValue)]| -> Verdicts {
        (
            check_invariants(entries.iter().map(|(key, value)| (key, value))),
            chain.history.check_facts(entries.iter().map(|(key, value)| (key, value))),
        )
    };
    let (state, history) = check(&entries);
    state.expect("the real state keeps the invariants");
    history.expect("the real figures are what the history implies");

    let edit = |change: &dyn Fn(&mut BadgeFiguresState)| -> Verdicts {
        let mut changed = entries.clone();
        for (key, value) in changed.iter_mut() {
            if let (StateKey::BadgeFigures { achievement, .. }, StateValue::BadgeFigures(figures)) =
                (key, value)
                && achievement.as_str() == CALLS
            {
                change(figures);
            }
        }
        check(&changed)
    };
    // One badge more, within the anchors' leaves (4 + 4 unattributed): only the history can tell.
    let (state, history) = edit(&|figures| figures.anchored += 1);
    state.expect("within the member's anchored badges");
    assert!(history.expect_err("one more").to_string().contains("badge figures"));
    // More badges than the member's anchors hold: the state check.
    let (state, _) = edit(&|figures| figures.anchored += 100);
    assert!(state.expect_err("too many").to_string().contains("badge anchors"), "too many");
    // No batch, or first after last: the state check.
    let (state, _) = edit(&|figures| figures.batches = 0);
    assert!(state.expect_err("no batch").to_string().contains("at least one batch"));
    let (state, _) = edit(&|figures| figures.first_height = Height(9));
    assert!(state.expect_err("heights").to_string().contains("first height"));
    // A later first height: only the history can tell.
    let (state, history) = edit(&|figures| figures.first_height = Height(2));
    state.expect("still in order");
    assert!(history.expect_err("first height").to_string().contains("badge figures"));
    // An entry removed, or one made up for another member: the history check.
    let without: Vec<_> =
        entries.iter().filter(|(key, _)| !matches!(key, StateKey::BadgeFigures { .. })).cloned().collect();
    let (state, history) = check(&without);
    state.expect("no figures is a consistent state");
    assert!(history.expect_err("removed").to_string().contains("badge figures"));
    let mut made_up = entries.clone();
    for (key, _) in made_up.iter_mut() {
        if let StateKey::BadgeFigures { member: owner, .. } = key {
            *owner = member("globex");
        }
    }
    let (state, history) = check(&made_up);
    assert!(state.expect_err("globex anchored nothing").to_string().contains("badge anchors"));
    assert!(history.expect_err("globex").to_string().contains("badge figures"));
    // An unknown member: the state check names it.
    let mut unknown = entries.clone();
    for (key, _) in unknown.iter_mut() {
        if let StateKey::BadgeFigures { member: owner, .. } = key {
            *owner = member("initech");
        }
    }
    let (state, _) = check(&unknown);
    assert!(state.expect_err("initech").to_string().contains("initech"));
    // An anchor entry gone that named achievements: the history check.
    let no_anchor: Vec<_> = entries
        .iter()
        .filter(|(key, _)| *key != StateKey::BadgeAnchor { batch_root: Hash([2; 32]) })
        .cloned()
        .collect();
    let (_, history) = check(&no_anchor);
    assert!(history.expect_err("anchor gone").to_string().contains("named achievements"));
}
