//! Vote counting and certificate intake, rule by rule, on single cores driven by hand with real
//! ed25519 keys: whose votes count, which duplicates are evidence, the budget for votes of
//! views ahead, help for peers that are behind, and certificates for views already settled.
//! n = 4, f = 1, Q = 3; the leader of view v is validator v mod 4. Written where mutation
//! testing (`cargo mutants` over `core.rs`) found the rules untested.

mod common;

use std::cell::Cell;
use std::rc::Rc;

use common::*;
use tally_consensus::{Core, Effect, Input, Message, Recipient};
use tally_types::{BlockId, Hash, Subject, View};

/// Whether node 0, in view 11, sends its certificates to validator 2 after a vote of `subject`.
fn helps_sender(subject: Subject) -> bool {
    let fixture = Fixture::new(4);
    let (core, start) = fixture.core(0);
    let mut host = Host::new(core, start);
    host.input(cert_input(1, fixture.nullification(10, &[1, 2, 3])));
    assert_eq!(host.core.view(), v(11));
    let effects = host.input(vote_input(2, fixture.vote(2, subject)));
    effects.iter().any(|effect| {
        matches!(effect, Effect::Send { to: Recipient::One(peer), message: Message::Certificate(_) } if *peer == i(2))
    })
}

fn some_block() -> BlockId {
    BlockId(Hash([7; 32]))
}

#[test]
fn a_peer_voting_two_views_back_or_nullifying_a_view_we_left_is_sent_our_certificates() {
    let notarize = |view| Subject::Notarize { view: v(view), block_id: some_block() };
    let finalize = |view| Subject::Finalize { view: v(view), block_id: some_block() };
    let nullify = |view| Subject::Nullify { view: v(view) };
    // One view back is the normal tail of a view: no help.
    assert!(!helps_sender(notarize(10)), "a notarize one view back");
    assert!(helps_sender(notarize(9)), "a notarize two views back");
    // Finalize votes trail by one more view.
    assert!(!helps_sender(finalize(9)), "a finalize two views back");
    assert!(helps_sender(finalize(8)), "a finalize three views back");
    // A nullify for any view we left: the sender is stuck there.
    assert!(!helps_sender(nullify(11)), "a nullify of the current view");
    assert!(helps_sender(nullify(10)), "a nullify of the view before");
}

#[test]
fn a_vote_under_this_nodes_own_index_from_the_network_never_counts() {
    let fixture = Fixture::new(4);
    let (core, start) = fixture.core(0);
    let mut host = Host::new(core, start);
    // A validly signed nullify "by node 0" that node 0 never cast (a copied key, a replay):
    // with validators 1 and 2 it would make a quorum, but only node 0 speaks for itself.
    let nullify = Subject::Nullify { view: v(1) };
    let mut effects = host.input(vote_input(1, fixture.vote(0, nullify)));
    effects.extend(host.input(vote_input(1, fixture.vote(1, nullify))));
    effects.extend(host.input(vote_input(2, fixture.vote(2, nullify))));
    assert_eq!(host.core.view(), v(1), "no nullification from two votes and a forged own one");
    assert!(!effects.iter().any(|e| matches!(e, Effect::Send { message: Message::Certificate(_), .. })));
    // The third real vote does it.
    host.input(vote_input(3, fixture.vote(3, nullify)));
    assert_eq!(host.core.view(), v(2));
}

#[test]
fn the_same_vote_twice_is_a_duplicate_not_evidence() {
    let fixture = Fixture::new(4);
    let (core, start) = fixture.core(0);
    let mut host = Host::new(core, start);
    let vote = fixture.vote(1, Subject::Notarize { view: v(1), block_id: some_block() });
    host.input(vote_input(1, vote.clone()));
    let effects = host.input(vote_input(2, vote));
    assert!(effects.is_empty(), "{effects:?}");
    // A different block from the same signer in the same view is evidence.
    let other = fixture.vote(1, Subject::Notarize { view: v(1), block_id: BlockId(Hash([8; 32])) });
    let effects = host.input(vote_input(2, other));
    assert!(effects.iter().any(|e| matches!(e, Effect::Evidence(_))), "{effects:?}");
}

/// A core whose budget for messages of views ahead is the smallest allowed (13 for n = 4).
fn tight_budget_host(fixture: &Fixture) -> Host<tally_consensus::Ed25519Scheme> {
    let mut config = fixture.config(0);
    config.future_messages_max = 13;
    let (core, start) = fixture.core_with(config);
    Host::new(core, start)
}

/// Nullify votes of validators 1 and 2 (never a quorum) for views 2, 3, ...: `count` of them.
fn future_votes(fixture: &Fixture, count: usize) -> Vec<Input> {
    (0..count)
        .map(|k| {
            let (view, signer) = (2 + (k / 2) as u64, 1 + (k % 2) as u16);
            vote_input(signer, fixture.vote(signer, Subject::Nullify { view: v(view) }))
        })
        .collect()
}

#[test]
fn a_full_budget_for_views_ahead_never_drops_votes_of_the_current_view() {
    let fixture = Fixture::new(4);
    let mut host = tight_budget_host(&fixture);
    for input in future_votes(&fixture, 14) {
        host.input(input);
    }
    for signer in 1..=3 {
        host.input(vote_input(signer, fixture.vote(signer, Subject::Nullify { view: v(1) })));
    }
    assert!(host.core.view() > v(1), "the current view's nullification formed");
}

#[test]
fn votes_of_the_current_view_do_not_use_the_budget_for_views_ahead() {
    let fixture = Fixture::new(4);
    let mut host = tight_budget_host(&fixture);
    // Eight votes of the current view, none a quorum.
    let (a, b) = (some_block(), BlockId(Hash([8; 32])));
    for (signer, subject) in [
        (1, Subject::Notarize { view: v(1), block_id: a }),
        (2, Subject::Notarize { view: v(1), block_id: a }),
        (3, Subject::Notarize { view: v(1), block_id: b }),
        (1, Subject::Nullify { view: v(1) }),
        (2, Subject::Nullify { view: v(1) }),
        (1, Subject::Finalize { view: v(1), block_id: a }),
        (2, Subject::Finalize { view: v(1), block_id: a }),
        (3, Subject::Finalize { view: v(1), block_id: b }),
    ] {
        host.input(vote_input(signer, fixture.vote(signer, subject)));
    }
    assert_eq!(host.core.view(), v(1));
    // The whole budget is still there: ten votes ahead, then a quorum for view 7.
    for input in future_votes(&fixture, 10) {
        host.input(input);
    }
    for signer in 1..=3 {
        host.input(vote_input(signer, fixture.vote(signer, Subject::Nullify { view: v(7) })));
    }
    assert_eq!(host.core.view(), v(8), "the 11th to 13th votes ahead were kept");
}

#[test]
fn a_certificate_for_a_finalized_view_is_dropped_unread() {
    let fixture = Fixture::new(4);
    let verifications = Rc::new(Cell::new(0));
    let scheme = Counting { inner: fixture.scheme(0), verifications: verifications.clone() };
    let (core, start) = {
        let mut core = Core::new(fixture.config(0), scheme).expect("valid");
        let start = core.start();
        (core, start)
    };
    let mut host = Host::new(core, start);
    let b1 = fixture.block(fixture.genesis, 1, 1);
    host.input(proposal_input(1, fixture.proposal(b1.clone(), 0)));
    host.input(cert_input(1, fixture.finalization(&b1, &[1, 2, 3])));
    assert_eq!(host.core.view(), View(2));
    let before = verifications.get();
    let effects = host.input(cert_input(2, fixture.notarization(&b1, &[1, 2, 3])));
    assert!(effects.is_empty(), "{effects:?}");
    assert_eq!(verifications.get(), before, "not even its signatures are checked");
}

#[test]
fn votes_and_certificates_for_a_certified_view_cost_no_signature_check() {
    let fixture = Fixture::new(4);
    let verifications = Rc::new(Cell::new(0));
    let scheme = Counting { inner: fixture.scheme(0), verifications: verifications.clone() };
    let mut core = Core::new(fixture.config(0), scheme).expect("valid");
    core.start();
    // View 1's nullification arrives whole; node 0 moves on.
    core.on_input(cert_input(1, fixture.nullification(1, &[1, 2, 3])));
    assert_eq!(core.view(), v(2));
    let before = verifications.get();
    // The signers' own votes, and the certificate again from another peer, arrive late:
    // nothing they could change, so no signature is checked.
    for signer in 1..=3 {
        core.on_input(vote_input(signer, fixture.vote(signer, Subject::Nullify { view: v(1) })));
    }
    core.on_input(cert_input(2, fixture.nullification(1, &[0, 1, 2])));
    assert_eq!(verifications.get(), before);
    // A vote of another kind for the same view is still read.
    core.on_input(vote_input(1, fixture.vote(1, Subject::Notarize { view: v(1), block_id: some_block() })));
    assert!(verifications.get() > before);
}
