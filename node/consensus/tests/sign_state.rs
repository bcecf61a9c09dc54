//! The sign state (crate `sign_state` module): the rule `SignState::check`, and a core that
//! is given the record kept beside the key. n = 4, f = 1, Q = 3; the leader of view v is
//! validator v mod 4.

mod common;

use common::*;
use tally_consensus::{Core, Effect, Input, SignKind, SignState, Signed, Timer, TimerKind, WalEntry};
use tally_types::{BlockId, Hash, Subject};

fn signed(view: u64, kind: SignKind, digest: u8) -> Signed {
    Signed { view: v(view), kind, digest: Hash([digest; 32]) }
}

fn state(last: Signed) -> SignState {
    SignState { last: Some(last) }
}

/// Proposals this node signed (persisted as its own) in `effects`, by view.
fn own_proposals(effects: &[Effect], me: u16, fixture: &Fixture) -> Vec<u64> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Persist { entry: WalEntry::Proposal(p), .. } if fixture.leader(p.view.0) == me => {
                Some(p.view.0)
            }
            _ => None,
        })
        .collect()
}

#[test]
fn sign_rule_refuses_a_second_signature_for_the_same_view_and_kind_with_another_digest() {
    let kept = state(signed(5, SignKind::Notarize, 1));
    assert!(kept.check(&signed(5, SignKind::Notarize, 2)).is_err(), "R2 across a lost WAL");
    assert!(kept.check(&signed(5, SignKind::Proposal, 1)).is_err(), "a proposal comes before the notarize");
    assert!(kept.check(&signed(4, SignKind::Finalize, 1)).is_err(), "nothing below the record");
    assert!(kept.check(&signed(5, SignKind::Nullify, 0)).is_ok(), "nullify after notarize (R5)");
    assert!(kept.check(&signed(5, SignKind::Finalize, 1)).is_ok(), "finalize after notarize (R6)");
    assert!(kept.check(&signed(6, SignKind::Proposal, 9)).is_ok());
    assert!(SignState::default().check(&signed(1, SignKind::Notarize, 1)).is_ok(), "never signed");
}

#[test]
fn sign_rule_allows_the_identical_message_again() {
    for last in
        [signed(5, SignKind::Notarize, 1), signed(5, SignKind::Nullify, 0), signed(7, SignKind::Proposal, 3)]
    {
        assert!(state(last).check(&last).is_ok(), "{last:?} re-sent");
    }
}

#[test]
fn sign_rule_never_allows_both_nullify_and_finalize_in_a_view() {
    let nullified = state(signed(5, SignKind::Nullify, 0));
    assert!(nullified.check(&signed(5, SignKind::Finalize, 1)).is_err());
    let finalized = state(signed(5, SignKind::Finalize, 1));
    assert!(finalized.check(&signed(5, SignKind::Nullify, 0)).is_err());
    assert!(finalized.check(&signed(5, SignKind::Finalize, 2)).is_err());
}

#[test]
fn every_own_signature_is_preceded_by_its_sign_state_effect() {
    let fixture = Fixture::new(4);
    // Node 0 finalizes b1, then leads view 4: it proposes and notarizes its own block.
    let (host, _) = after_b1(&fixture, 0, &[2, 3]);
    let mut kept = SignState::default();
    let (mut votes, mut proposals) = (0, 0);
    for effect in &host.log {
        match effect {
            Effect::PersistSignState(state) => kept = *state,
            Effect::Persist { entry: WalEntry::Vote(vote), .. } => {
                assert_eq!(kept.last, Some(Signed::vote(&vote.subject)), "record before the vote");
                votes += 1;
            }
            Effect::Persist { entry: WalEntry::Proposal(proposal), .. }
                if fixture.leader(proposal.view.0) == 0 =>
            {
                let signed = Signed::proposal(proposal.view, proposal.block.id());
                assert_eq!(kept.last, Some(signed), "record before the proposal");
                proposals += 1;
            }
            _ => {}
        }
    }
    assert!(votes >= 2 && proposals == 1, "{:?}", host.log);
}

#[test]
fn a_core_whose_sign_state_is_ahead_signs_nothing_until_past_it_then_votes() {
    let fixture = Fixture::new(4);
    // Node 2 signed up to a notarize in view 3, then lost its WAL and store: it restarts at
    // genesis with only the record kept beside its key.
    let me = 2;
    let kept = state(signed(3, SignKind::Notarize, 0x33));
    let mut core = Core::new(fixture.config(me), fixture.scheme(me)).expect("core").with_sign_state(kept);
    let start = core.start();
    let mut host = Host::new(core, start);
    assert_eq!(host.core.following_until(), Some(v(3)));
    let b1 = fixture.block(fixture.genesis, 1, 1);
    host.input(proposal_input(1, fixture.proposal(b1.clone(), 0)));
    // The notarization of b1 moves it to view 2, which it leads: no finalize, no proposal.
    host.input(cert_input(1, fixture.notarization(&b1, &[0, 1, 3])));
    host.input(Input::Timeout(Timer { kind: TimerKind::Leader, view: v(2) }));
    assert!(signed_subjects(&host.log).is_empty(), "{:?}", signed_subjects(&host.log));
    assert!(own_proposals(&host.log, me, &fixture).is_empty());
    assert!(!host.log.iter().any(|e| matches!(e, Effect::PersistSignState(_))));
    // In view 3 it is no longer behind the record: a nullify comes after a notarize there.
    host.input(cert_input(1, fixture.nullification(2, &[0, 1, 3])));
    assert_eq!(host.core.following_until(), None);
    host.input(Input::Timeout(Timer { kind: TimerKind::Advance, view: v(3) }));
    host.input(cert_input(1, fixture.nullification(3, &[0, 1, 3])));
    let b4 = fixture.block(tally_consensus::BlockRef::of(&b1), 4, 4);
    host.input(proposal_input(0, fixture.proposal(b4.clone(), 1)));
    assert_eq!(
        signed_subjects(&host.log),
        vec![Subject::Nullify { view: v(3) }, Subject::Notarize { view: v(4), block_id: b4.id() }]
    );
}

#[test]
fn a_restart_with_the_sign_state_ahead_of_the_wal_re_signs_only_the_recorded_message() {
    let fixture = Fixture::new(4);
    let me = 2;
    let b1 = fixture.block(fixture.genesis, 1, 1);
    let other = fixture.block(fixture.genesis, 1, 2);
    // A crash between the sign-state write and the WAL append: the record names b1's notarize,
    // the WAL is empty.
    let kept = state(Signed::vote(&Subject::Notarize { view: v(1), block_id: b1.id() }));
    let restored = |kept| {
        let core = Core::restore(fixture.config(me), fixture.scheme(me), Vec::new()).expect("restore");
        let mut core = core.with_sign_state(kept);
        let start = core.start();
        Host::new(core, start)
    };
    let mut host = restored(kept);
    host.input(proposal_input(1, fixture.proposal(b1.clone(), 0)));
    assert_eq!(signed_subjects(&host.log), vec![Subject::Notarize { view: v(1), block_id: b1.id() }]);
    // Shown another block for view 1 instead (an equivocating leader), it does not notarize
    // it; it may still nullify the view.
    let mut host = restored(kept);
    host.input(proposal_input(1, fixture.proposal(other, 0)));
    assert!(signed_subjects(&host.log).is_empty());
    host.input(Input::Timeout(Timer { kind: TimerKind::Advance, view: v(1) }));
    assert_eq!(signed_subjects(&host.log), vec![Subject::Nullify { view: v(1) }]);
}

#[test]
fn restore_keeps_the_later_of_the_wal_and_the_kept_sign_state() {
    let fixture = Fixture::new(4);
    let me = 2;
    let b1 = fixture.block(fixture.genesis, 1, 1);
    let notarize = Subject::Notarize { view: v(1), block_id: b1.id() };
    let wal =
        vec![WalEntry::Proposal(fixture.proposal(b1.clone(), 0)), WalEntry::Vote(fixture.vote(me, notarize))];
    let core = Core::restore(fixture.config(me), fixture.scheme(me), wal.clone()).expect("restore");
    assert_eq!(core.sign_state().last, Some(Signed::vote(&notarize)), "from the WAL");
    let older = state(Signed::proposal(v(1), BlockId(Hash([1; 32]))));
    assert_eq!(core.with_sign_state(older).sign_state().last, Some(Signed::vote(&notarize)));
    let later = state(signed(9, SignKind::Nullify, 0));
    let core = Core::restore(fixture.config(me), fixture.scheme(me), wal).expect("restore");
    assert_eq!(core.with_sign_state(later).sign_state(), later);
}
