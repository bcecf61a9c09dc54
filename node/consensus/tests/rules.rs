//! One or more tests per Simplex rule R1–R7 (crate docs), driving single cores by hand with
//! real ed25519 keys. n = 4, f = 1, Q = 3; the leader of view v is validator v mod 4.

mod common;

use common::*;
use tally_consensus::{BlockRef, Effect, Evidence, Input, Message, Recipient, Timer, TimerKind, WalEntry};
use tally_types::{Subject, View};

/// A change that makes a block invalid in one way.
type BlockEdit = fn(&mut tally_types::Block);

fn timeout(kind: TimerKind, view: u64) -> Input {
    Input::Timeout(Timer { kind, view: v(view) })
}

// ----- R1 ------------------------------------------------------------------------------------

#[test]
fn r1_leader_builds_on_genesis_then_sends_proposal_and_own_notarize() {
    let fixture = Fixture::new(4);
    let (mut core, start) = fixture.core(1);
    assert!(start.contains(&Effect::BuildBlock { view: v(1), parent: fixture.genesis }));
    let block = build(&core, v(1), fixture.genesis);
    let effects = core.on_input(Input::BlockBuilt { view: v(1), block: block.clone() });
    // Signed proposal and notarize go to the WAL; nothing is sent yet.
    assert!(sent(&effects).is_empty());
    let persisted: Vec<_> = effects
        .iter()
        .filter_map(|e| if let Effect::Persist { entry, .. } = e { Some(entry) } else { None })
        .collect();
    assert!(matches!(persisted[0], WalEntry::Proposal(p) if p.block == block && p.parent_view == v(0)));
    assert!(
        matches!(persisted[1], WalEntry::Vote(vote) if vote.subject == Subject::Notarize { view: v(1), block_id: block.id() })
    );
    let effects = core.on_input(Input::Persisted(last_ticket(&effects).expect("persist")));
    let messages = sent(&effects);
    assert_eq!(messages.len(), 2);
    let Message::Proposal(proposal) = messages[0] else { panic!("proposal first") };
    proposal.verify(&fixture.chain, &fixture.validators).expect("leader signature");
    let Message::Vote(vote) = messages[1] else { panic!("then the leader's notarize") };
    vote.verify(&fixture.chain, &fixture.validators).expect("vote signature");
    assert_eq!(vote.subject, Subject::Notarize { view: v(1), block_id: block.id() });
}

#[test]
fn r1_leader_extends_highest_notarized_block_only_with_nullifications_for_skipped_views() {
    let fixture = Fixture::new(4);
    let (mut host, b1) = after_b1(&fixture, 0, &[]); // node 0 leads view 4
    host.build = false;
    // View 3's nullification moves the node to view 4 (R7), but view 2 is not known to be
    // nullified: no proposal may skip it.
    let effects = host.input(cert_input(1, fixture.nullification(3, &[1, 2, 3])));
    assert_eq!(host.core.view(), v(4));
    assert!(!effects.iter().any(|e| matches!(e, Effect::BuildBlock { .. })));
    let effects = host.input(cert_input(1, fixture.nullification(2, &[1, 2, 3])));
    assert!(effects.contains(&Effect::BuildBlock { view: v(4), parent: BlockRef::of(&b1) }));
    host.build = true;
    let effects =
        host.input(Input::BlockBuilt { view: v(4), block: build(&host.core, v(4), BlockRef::of(&b1)) });
    // The proposal goes after its justification: the parent's notarization and the
    // nullifications of the skipped views.
    let messages = sent(&effects);
    let justification: Vec<Subject> = messages
        .iter()
        .take_while(|m| matches!(m, Message::Certificate(_)))
        .filter_map(|m| if let Message::Certificate(c) = m { Some(c.subject) } else { None })
        .collect();
    assert_eq!(
        justification,
        vec![
            Subject::Notarize { view: v(1), block_id: b1.id() },
            Subject::Nullify { view: v(2) },
            Subject::Nullify { view: v(3) }
        ]
    );
    let Some(Message::Proposal(proposal)) = messages.get(3).copied() else { panic!("proposal sent") };
    assert_eq!(proposal.parent_view, v(1));
    assert_eq!(proposal.block.header.parent_id, b1.id());
}

/// The messages a node sent, in order, from `log`.
fn sends(log: &[Effect]) -> Vec<Message> {
    sent(log).into_iter().cloned().collect()
}

#[test]
fn r1_leader_sends_the_certificates_justifying_its_parent_before_its_proposal() {
    let fixture = Fixture::new(4);
    let (mut leader, b1) = after_b1(&fixture, 0, &[2, 3]);
    assert_eq!(leader.core.view(), v(4));
    let burst = sends(&leader.log.split_off(0));
    let at = burst.iter().position(|m| matches!(m, Message::Proposal(_))).expect("proposal sent");
    let Message::Proposal(proposal) = &burst[at] else { unreachable!() };
    assert_eq!((proposal.view, proposal.parent_view), (v(4), v(1)));
    let justification: Vec<Option<Subject>> = burst[at - 3..at]
        .iter()
        .map(|m| if let Message::Certificate(c) = m { Some(c.subject) } else { None })
        .collect();
    assert_eq!(
        justification,
        vec![
            Some(Subject::Notarize { view: v(1), block_id: b1.id() }),
            Some(Subject::Nullify { view: v(2) }),
            Some(Subject::Nullify { view: v(3) })
        ],
        "right before the proposal"
    );
}

#[test]
fn r3_a_node_that_missed_a_skipped_views_nullification_notarizes_with_the_leaders_justification() {
    let fixture = Fixture::new(4);
    // Node 3 never received nullification(2); nullification(3) moved it to view 4 (R7).
    let (mut node, _) = after_b1(&fixture, 3, &[3]);
    assert_eq!(node.core.view(), v(4));
    let (leader, _) = after_b1(&fixture, 0, &[2, 3]);
    // What the leader sent from its build request on (the certificates it forwarded when they
    // reached it are left out: those are the copies node 3 lost).
    let built = leader.log.iter().position(|e| matches!(e, Effect::BuildBlock { .. })).expect("builds");
    let burst = sends(&leader.log[built..]);
    let at = burst.iter().position(|m| matches!(m, Message::Proposal(_))).expect("proposal sent");
    let Message::Proposal(proposal) = burst[at].clone() else { unreachable!() };
    let b4 = proposal.block.id();
    // The proposal alone cannot be notarized: view 2 is not known to be nullified (R3).
    let effects = node.input(proposal_input(0, proposal));
    assert!(verify_requests(&effects).is_empty());
    assert!(signed_subjects(&effects).is_empty());
    // The leader's burst, in order: its justification, its proposal, its notarize.
    let mut signed = Vec::new();
    for msg in burst {
        signed.extend(signed_subjects(&node.input(message(0, msg))));
    }
    assert_eq!(signed, vec![Subject::Notarize { view: v(4), block_id: b4 }]);
}

#[test]
fn r1_a_leader_that_missed_a_nullification_gets_it_from_peers_that_time_out() {
    let fixture = Fixture::new(4);
    // Node 0 leads view 4 but never received nullification(2): it cannot propose (R1).
    let (mut leader, b1) = after_b1(&fixture, 0, &[3]);
    assert_eq!(leader.core.view(), v(4));
    assert!(!leader.log.iter().any(|e| matches!(e, Effect::BuildBlock { .. })));
    // A peer that holds it times out without a proposal in view 4 and, nullifying, sends every
    // peer its justification of the view.
    let (mut peer, _) = after_b1(&fixture, 2, &[2, 3]);
    let effects = peer.input(timeout(TimerKind::Leader, 4));
    assert_eq!(signed_subjects(&effects), vec![Subject::Nullify { view: v(4) }]);
    let certificates: Vec<_> = sent(&effects)
        .into_iter()
        .filter_map(|m| if let Message::Certificate(c) = m { Some(c.clone()) } else { None })
        .collect();
    assert!(certificates.iter().any(|c| c.subject == Subject::Nullify { view: v(2) }));
    let mut effects = Vec::new();
    for certificate in certificates {
        effects.extend(leader.input(cert_input(1, certificate)));
    }
    assert!(
        effects.contains(&Effect::BuildBlock { view: v(4), parent: BlockRef::of(&b1) }),
        "the leader proposes in its view after all"
    );
}

#[test]
fn r1_a_justification_longer_than_the_view_window_is_sent_in_pages_that_come_round() {
    let fixture = Fixture::new(4);
    let mut config = fixture.config(0);
    config.view_window = 3;
    let (core, start) = fixture.core_with(config);
    let mut host = Host::new(core, start);
    host.build = false;
    for view in 1..=10 {
        host.input(cert_input(1, fixture.nullification(view, &[1, 2, 3])));
    }
    assert_eq!(host.core.view(), v(11));
    // Stuck in view 11: at the timeout, then at every nullify re-broadcast, the next page.
    let mut seen = std::collections::BTreeSet::new();
    let mut inputs = vec![timeout(TimerKind::Leader, 11)];
    inputs.extend((0..4).map(|_| timeout(TimerKind::NullifyRetry, 11)));
    for input in inputs {
        let effects = host.input(input);
        let views: Vec<u64> = sent(&effects)
            .into_iter()
            .filter_map(|m| if let Message::Certificate(c) = m { Some(c.subject.view().0) } else { None })
            .collect();
        // A page of at most `view_window` certificates, plus the latest certificate that a
        // stuck node always re-sends.
        assert!(views.len() <= 4, "{views:?}");
        seen.extend(views);
    }
    assert_eq!(seen, (1..=10).collect(), "every skipped view's nullification was sent");
}

#[test]
fn r1_only_the_leader_builds() {
    let fixture = Fixture::new(4);
    for me in [0, 2, 3] {
        let (_, start) = fixture.core(me);
        assert!(
            !start.iter().any(|e| matches!(e, Effect::BuildBlock { .. })),
            "validator {me} is not leader of view 1"
        );
    }
}

// ----- R2 ------------------------------------------------------------------------------------

#[test]
fn r2_notarizes_at_most_once_per_view() {
    let fixture = Fixture::new(4);
    let (core, start) = fixture.core(0);
    let mut host = Host::new(core, start);
    let a = fixture.block(fixture.genesis, 1, 1);
    let b = fixture.block(fixture.genesis, 1, 2);
    let effects = host.input(proposal_input(1, fixture.proposal(a.clone(), 0)));
    assert_eq!(signed_subjects(&effects), vec![Subject::Notarize { view: v(1), block_id: a.id() }]);
    // The leader equivocates: evidence, and no second notarize.
    let effects = host.input(proposal_input(1, fixture.proposal(b.clone(), 0)));
    assert!(signed_subjects(&effects).is_empty());
    assert!(verify_requests(&effects).is_empty());
    let evidence: Vec<_> = effects.iter().filter(|e| matches!(e, Effect::Evidence(_))).collect();
    assert_eq!(evidence.len(), 1);
    let Effect::Evidence(Evidence::ConflictingProposals { first, second }) = evidence[0] else { panic!() };
    assert_eq!((first.block.id(), second.block.id()), (a.id(), b.id()));
    // A replay of either proposal changes nothing and is not reported again.
    assert!(host.input(proposal_input(2, fixture.proposal(a, 0))).is_empty());
    assert!(host.input(proposal_input(2, fixture.proposal(b, 0))).is_empty());
}

// ----- R3 ------------------------------------------------------------------------------------

#[test]
fn r3_refuses_a_parent_that_skips_views_without_nullifications() {
    let fixture = Fixture::new(4);
    let (core, start) = fixture.core(0);
    let mut host = Host::new(core, start);
    // View 1 nullified, view 2 notarized (b2 extends genesis, skipping the nullified view 1).
    host.input(cert_input(1, fixture.nullification(1, &[1, 2, 3])));
    let b2 = fixture.block(fixture.genesis, 2, 2);
    host.input(proposal_input(2, fixture.proposal(b2.clone(), 0)));
    host.input(cert_input(2, fixture.notarization(&b2, &[1, 2, 3])));
    assert_eq!(host.core.view(), v(3));
    // View 3's leader extends genesis, skipping view 2, which is notarized but not nullified.
    let b3 = fixture.block(fixture.genesis, 3, 3);
    let effects = host.input(proposal_input(3, fixture.proposal(b3.clone(), 0)));
    assert!(verify_requests(&effects).is_empty());
    assert!(signed_subjects(&effects).is_empty());
    // Once view 2 also has a nullification, the proposal is acceptable.
    let effects = host.input(cert_input(1, fixture.nullification(2, &[0, 1, 3])));
    assert_eq!(verify_requests(&effects).len(), 1);
    assert!(signed_subjects(&effects).contains(&Subject::Notarize { view: v(3), block_id: b3.id() }));
}

#[test]
fn r3_refuses_wrong_height_time_proposer_parent_validators_and_chain_and_nullifies_at_once() {
    let fixture = Fixture::new(4);
    let cases: Vec<(&str, BlockEdit)> = vec![
        ("height", |b| b.header.height.0 += 1),
        ("time", |b| b.header.time_ms = 1_000),
        ("proposer", |b| b.header.proposer.0 = 2),
        ("parent", |b| b.header.parent_id = tally_types::BlockId(tally_types::Hash([9; 32]))),
        ("validators", |b| b.header.validators_hash = tally_types::Hash([9; 32])),
        ("chain", |b| b.header.chain_id = tally_types::ChainId::new("tally-other").expect("valid chain id")),
    ];
    for (name, mutate) in cases {
        let (core, start) = fixture.core(0);
        let mut host = Host::new(core, start);
        let mut block = fixture.block(fixture.genesis, 1, 1);
        mutate(&mut block);
        let effects = host.input(proposal_input(1, fixture.proposal(block, 0)));
        assert!(verify_requests(&effects).is_empty(), "{name}: must not reach the host's verification");
        assert_eq!(
            signed_subjects(&effects),
            vec![Subject::Nullify { view: v(1) }],
            "{name}: nullify at once"
        );
    }
    // A header naming another view than the proposal it is signed in.
    let (core, start) = fixture.core(0);
    let mut host = Host::new(core, start);
    let mut block = fixture.block(fixture.genesis, 1, 1);
    block.header.view = v(2);
    let payload = tally_types::Proposal::payload(v(1), v(0), block.id());
    let signature = fixture.keys[1].sign(tally_types::Namespace::Proposal, &fixture.chain, &payload);
    let proposal = tally_types::Proposal { view: v(1), parent_view: v(0), block, signature };
    let effects = host.input(proposal_input(1, proposal));
    assert!(verify_requests(&effects).is_empty());
    assert_eq!(signed_subjects(&effects), vec![Subject::Nullify { view: v(1) }]);
}

#[test]
fn r3_notarizes_only_blocks_the_host_verified() {
    let fixture = Fixture::new(4);
    let (mut core, _) = fixture.core(0);
    let block = fixture.block(fixture.genesis, 1, 1);
    let effects = core.on_input(proposal_input(1, fixture.proposal(block.clone(), 0)));
    assert_eq!(verify_requests(&effects), vec![(v(1), block.clone())]);
    assert!(signed_subjects(&effects).is_empty(), "no vote before the host answers");
    let effects = core.on_input(Input::BlockVerified { view: v(1), block_id: block.id(), valid: false });
    assert_eq!(signed_subjects(&effects), vec![Subject::Nullify { view: v(1) }]);
}

#[test]
fn r3_fetches_a_missing_notarized_parent_before_notarizing() {
    let fixture = Fixture::new(4);
    let (core, start) = fixture.core(0);
    let mut host = Host::new(core, start);
    let b1 = fixture.block(fixture.genesis, 1, 1);
    let b2 = fixture.block(BlockRef::of(&b1), 2, 2);
    host.input(cert_input(1, fixture.notarization(&b1, &[1, 2, 3])));
    let effects = host.input(proposal_input(2, fixture.proposal(b2.clone(), 1)));
    assert!(effects.contains(&Effect::Fetch { block_id: b1.id() }));
    assert!(verify_requests(&effects).is_empty());
    // A body that does not match the header's tx root is refused.
    let mut junk = b1.clone();
    junk.header.tx_root = tally_types::Hash([1; 32]);
    assert!(host.input(Input::BlockFetched { block: junk }).is_empty());
    // An unrequested block is not stored.
    let stray = fixture.block(fixture.genesis, 1, 7);
    host.input(Input::BlockFetched { block: stray.clone() });
    assert!(host.core.block(&stray.id()).is_none());
    let effects = host.input(Input::BlockFetched { block: b1 });
    assert!(signed_subjects(&effects).contains(&Subject::Notarize { view: v(2), block_id: b2.id() }));
}

// ----- R4 ------------------------------------------------------------------------------------

#[test]
fn r4_never_notarizes_a_view_it_nullified() {
    let fixture = Fixture::new(4);
    let (core, start) = fixture.core(0);
    let mut host = Host::new(core, start);
    let effects = host.input(timeout(TimerKind::Leader, 1));
    assert_eq!(signed_subjects(&effects), vec![Subject::Nullify { view: v(1) }]);
    let effects = host.input(proposal_input(1, fixture.proposal(fixture.block(fixture.genesis, 1, 1), 0)));
    assert!(signed_subjects(&effects).is_empty());
    assert!(verify_requests(&effects).is_empty());
}

// ----- R5 ------------------------------------------------------------------------------------

#[test]
fn r5_leader_timeout_nullifies_only_without_a_proposal() {
    let fixture = Fixture::new(4);
    let (core, start) = fixture.core(0);
    let mut host = Host::new(core, start);
    host.input(proposal_input(1, fixture.proposal(fixture.block(fixture.genesis, 1, 1), 0)));
    assert!(signed_subjects(&host.input(timeout(TimerKind::Leader, 1))).is_empty());

    let (mut core, _) = fixture.core(0);
    let effects = core.on_input(timeout(TimerKind::Leader, 1));
    assert_eq!(signed_subjects(&effects), vec![Subject::Nullify { view: v(1) }]);
    assert!(sent(&effects).is_empty(), "persist before send");
    let effects = core.on_input(Input::Persisted(last_ticket(&effects).expect("persist")));
    let votes = sent_votes(&effects);
    assert_eq!(votes.len(), 1);
    votes[0].verify(&fixture.chain, &fixture.validators).expect("signed");
}

#[test]
fn r5_advance_timeout_nullifies_even_after_notarizing() {
    let fixture = Fixture::new(4);
    let (core, start) = fixture.core(0);
    let mut host = Host::new(core, start);
    let block = fixture.block(fixture.genesis, 1, 1);
    let effects = host.input(proposal_input(1, fixture.proposal(block.clone(), 0)));
    assert_eq!(signed_subjects(&effects), vec![Subject::Notarize { view: v(1), block_id: block.id() }]);
    let effects = host.input(timeout(TimerKind::Advance, 1));
    assert_eq!(signed_subjects(&effects), vec![Subject::Nullify { view: v(1) }]);
    // Once nullified, a timer firing again signs nothing new.
    assert!(signed_subjects(&host.input(timeout(TimerKind::Advance, 1))).is_empty());
}

#[test]
fn r5_stale_timeouts_are_ignored() {
    let fixture = Fixture::new(4);
    let (core, start) = fixture.core(0);
    let mut host = Host::new(core, start);
    host.input(cert_input(1, fixture.nullification(1, &[1, 2, 3])));
    assert_eq!(host.core.view(), v(2));
    assert!(host.input(timeout(TimerKind::Leader, 1)).is_empty());
    assert!(host.input(timeout(TimerKind::Advance, 1)).is_empty());
    assert!(host.input(timeout(TimerKind::NullifyRetry, 1)).is_empty());
}

#[test]
fn r5_never_nullifies_a_view_it_finalized() {
    // A node that signed Finalize(v) but whose WAL lost the notarization that moved it on
    // (it is still in view v after restore) must not nullify v when the timers fire.
    let fixture = Fixture::new(4);
    let block = fixture.block(fixture.genesis, 1, 1);
    let finalize = fixture.vote(0, Subject::Finalize { view: v(1), block_id: block.id() });
    let mut core =
        tally_consensus::Core::restore(fixture.config(0), fixture.scheme(0), vec![WalEntry::Vote(finalize)])
            .expect("restores");
    core.start();
    assert_eq!(core.view(), v(1));
    assert!(signed_subjects(&core.on_input(timeout(TimerKind::Leader, 1))).is_empty());
    assert!(signed_subjects(&core.on_input(timeout(TimerKind::Advance, 1))).is_empty());
}

#[test]
fn r5_nullify_is_rebroadcast_with_growing_period_while_stuck() {
    let fixture = Fixture::new(4);
    let (core, start) = fixture.core(0);
    let mut host = Host::new(core, start);
    host.input(cert_input(1, fixture.nullification(1, &[1, 2, 3])));
    let effects = host.input(timeout(TimerKind::Advance, 2));
    let retry = |effects: &[Effect]| {
        effects.iter().find_map(|e| match e {
            Effect::SetTimer { timer: Timer { kind: TimerKind::NullifyRetry, .. }, after_ms } => {
                Some(*after_ms)
            }
            _ => None,
        })
    };
    let config = host.core.config().clone();
    assert_eq!(retry(&effects), Some(config.nullify_retry_ms));
    let mut period = config.nullify_retry_ms;
    for _ in 0..10 {
        let effects = host.input(timeout(TimerKind::NullifyRetry, 2));
        let votes = sent_votes(&effects);
        assert_eq!(
            votes.iter().map(|vote| vote.subject).collect::<Vec<_>>(),
            vec![Subject::Nullify { view: v(2) }]
        );
        // The latest certificate goes along, for peers stuck behind.
        assert!(
            sent(&effects).iter().any(
                |m| matches!(m, Message::Certificate(c) if c.subject == Subject::Nullify { view: v(1) })
            )
        );
        period = (period * 2).min(config.timeout_max_ms);
        assert_eq!(retry(&effects), Some(period));
    }
    assert_eq!(period, config.timeout_max_ms, "the period is capped");
}

// ----- R6 ------------------------------------------------------------------------------------

#[test]
fn r6_quorum_of_notarizes_forms_a_notarization_moves_on_and_finalizes() {
    let fixture = Fixture::new(4);
    let (core, start) = fixture.core(0);
    let mut host = Host::new(core, start);
    let block = fixture.block(fixture.genesis, 1, 1);
    host.input(proposal_input(1, fixture.proposal(block.clone(), 0)));
    let subject = Subject::Notarize { view: v(1), block_id: block.id() };
    assert!(
        host.input(vote_input(1, fixture.vote(1, subject)))
            .iter()
            .all(|e| !matches!(e, Effect::Send { message: Message::Certificate(_), .. }))
    );
    assert_eq!(host.core.view(), v(1));
    let effects = host.input(vote_input(2, fixture.vote(2, subject)));
    assert_eq!(host.core.view(), v(2));
    let certificate = sent(&effects)
        .into_iter()
        .find_map(|m| if let Message::Certificate(c) = m { Some(c.clone()) } else { None })
        .expect("notarization forwarded");
    assert_eq!(certificate.subject, subject);
    assert_eq!(certificate.signer_indices(), vec![i(0), i(1), i(2)]);
    certificate.verify(&fixture.chain, &fixture.validators).expect("valid certificate");
    assert_eq!(signed_subjects(&effects), vec![Subject::Finalize { view: v(1), block_id: block.id() }]);
}

#[test]
fn r6_no_finalize_for_a_view_it_nullified() {
    let fixture = Fixture::new(4);
    let (core, start) = fixture.core(0);
    let mut host = Host::new(core, start);
    let block = fixture.block(fixture.genesis, 1, 1);
    host.input(proposal_input(1, fixture.proposal(block.clone(), 0)));
    host.input(timeout(TimerKind::Advance, 1));
    let effects = host.input(cert_input(1, fixture.notarization(&block, &[1, 2, 3])));
    assert_eq!(host.core.view(), v(2));
    assert!(signed_subjects(&effects).is_empty());
}

#[test]
fn r6_nullification_moves_on_without_finalize() {
    let fixture = Fixture::new(4);
    let (core, start) = fixture.core(0);
    let mut host = Host::new(core, start);
    let effects = host.input(cert_input(1, fixture.nullification(1, &[1, 2, 3])));
    assert_eq!(host.core.view(), v(2));
    assert!(signed_subjects(&effects).is_empty());
    assert!(effects.iter().any(|e| matches!(e, Effect::Persist { entry: WalEntry::Certificate(_), .. })));
}

#[test]
fn r6_finalization_commits_the_block_and_its_ancestors_in_height_order() {
    let fixture = Fixture::new(4);
    let (core, start) = fixture.core(0);
    let mut host = Host::new(core, start);
    host.build = false; // node 0 leads view 4; keep its own block out of the count below
    let b1 = fixture.block(fixture.genesis, 1, 1);
    let b2 = fixture.block(BlockRef::of(&b1), 2, 2);
    let b3 = fixture.block(BlockRef::of(&b2), 3, 3);
    for (block, parent_view) in [(&b1, 0), (&b2, 1), (&b3, 2)] {
        host.input(proposal_input(
            fixture.leader(block.header.view.0),
            fixture.proposal(block.clone(), parent_view),
        ));
        host.input(cert_input(1, fixture.notarization(block, &[1, 2, 3])));
    }
    assert_eq!(host.core.view(), v(4));
    // Only b3's finalization arrives: it finalizes b1 and b2 too.
    let finalization = fixture.finalization(&b3, &[1, 2, 3]);
    let effects = host.input(cert_input(1, finalization.clone()));
    let committed: Vec<_> = effects
        .iter()
        .filter_map(|e| {
            if let Effect::Commit { block, finalization } = e {
                Some((block.id(), finalization.clone()))
            } else {
                None
            }
        })
        .collect();
    assert_eq!(
        committed,
        vec![(b1.id(), finalization.clone()), (b2.id(), finalization.clone()), (b3.id(), finalization)]
    );
    assert_eq!(host.core.committed(), BlockRef::of(&b3));
    let commit_at = effects.iter().rposition(|e| matches!(e, Effect::Commit { .. })).expect("commits");
    let prune_at = effects.iter().position(|e| *e == Effect::PruneWal { below: v(3) }).expect("prune");
    assert!(prune_at > commit_at, "the WAL is pruned only after the commits");
    // Everything at or below the finalized view is dropped.
    assert_eq!(host.core.stats().blocks_held, 0);
    assert!(host.core.stats().views_held <= 1);
    // A replayed finalization commits nothing twice.
    assert!(commits(&host.input(cert_input(2, fixture.finalization(&b3, &[0, 2, 3])))).is_empty());
}

#[test]
fn r6_finalize_votes_form_a_finalization_after_leaving_the_view() {
    let fixture = Fixture::new(4);
    let (mut host, b1) = after_b1(&fixture, 0, &[]);
    let subject = Subject::Finalize { view: v(1), block_id: b1.id() };
    host.input(vote_input(1, fixture.vote(1, subject)));
    let effects = host.input(vote_input(2, fixture.vote(2, subject)));
    assert_eq!(commits(&effects), vec![b1]);
}

// ----- R7 ------------------------------------------------------------------------------------

#[test]
fn r7_certificate_for_a_later_view_jumps_and_is_forwarded_once() {
    let fixture = Fixture::new(4);
    let (core, start) = fixture.core(0);
    let mut host = Host::new(core, start);
    let nullification = fixture.nullification(10, &[1, 2, 3]);
    let effects = host.input(cert_input(1, nullification.clone()));
    assert_eq!(host.core.view(), v(11));
    let forwarded: Vec<_> = effects
        .iter()
        .filter(|e| matches!(e, Effect::Send { to: Recipient::All, message: Message::Certificate(c) } if *c == nullification))
        .collect();
    assert_eq!(forwarded.len(), 1);
    assert!(effects.iter().any(|e| matches!(
        e,
        Effect::SetTimer { timer: Timer { kind: TimerKind::Leader, view: View(11) }, .. }
    )));
    // The same certificate again (another signer set) is not forwarded again.
    assert!(sent(&host.input(cert_input(2, fixture.nullification(10, &[0, 1, 2])))).is_empty());
}

#[test]
fn r7_certificates_for_earlier_views_are_kept_but_not_forwarded() {
    let fixture = Fixture::new(4);
    let (core, start) = fixture.core(0);
    let mut host = Host::new(core, start);
    host.input(cert_input(1, fixture.nullification(5, &[1, 2, 3])));
    let effects = host.input(cert_input(1, fixture.nullification(3, &[1, 2, 3])));
    assert_eq!(host.core.view(), v(6));
    assert!(sent(&effects).is_empty());
    assert!(effects.iter().any(|e| matches!(e, Effect::Persist { entry: WalEntry::Certificate(c), .. } if c.subject == Subject::Nullify { view: v(3) })));
}

// ----- R8 Epochs -----------------------------------------------------------------------------

/// A re-proposal: the leader of `view` proposes `block` again, notarized at `parent_view`.
fn reproposal(
    fixture: &Fixture,
    block: &tally_types::Block,
    view: u64,
    parent_view: u64,
) -> tally_types::Proposal {
    let leader = usize::from(fixture.leader(view));
    let payload = tally_types::Proposal::payload(v(view), v(parent_view), block.id());
    let signature = fixture.keys[leader].sign(tally_types::Namespace::Proposal, &fixture.chain, &payload);
    tally_types::Proposal { view: v(view), parent_view: v(parent_view), block: block.clone(), signature }
}

/// Node 0 holds block b1 of view 1, notarized by a quorum; its finalize for view 1 is signed.
fn b1_notarized(fixture: &Fixture) -> (Host<tally_consensus::Ed25519Scheme>, tally_types::Block) {
    let (core, start) = fixture.core(0);
    let mut host = Host::new(core, start);
    let b1 = fixture.block(fixture.genesis, 1, 1);
    host.input(proposal_input(1, fixture.proposal(b1.clone(), 0)));
    host.input(cert_input(1, fixture.notarization(&b1, &[1, 2, 3])));
    assert_eq!(host.core.view(), v(2));
    (host, b1)
}

#[test]
fn r8_messages_of_another_epoch_are_dropped_unread() {
    let fixture = Fixture::new(4);
    let (core, start) = fixture.core(0);
    let mut host = Host::new(core, start);
    // A valid nullification by the same keys, for a view of epoch 1: epoch 0's core ignores it.
    let next_epoch_view = View::epoch_base(1).0 + 3;
    host.input(cert_input(1, fixture.nullification(next_epoch_view, &[1, 2, 3])));
    assert_eq!(host.core.view(), v(1));
    // The same for epoch 0 moves the node (the drop above is the epoch's, not the signature's).
    host.input(cert_input(1, fixture.nullification(3, &[1, 2, 3])));
    assert_eq!(host.core.view(), v(4));
}

#[test]
fn r8_a_later_epochs_core_starts_at_its_base_and_builds_on_the_anchor() {
    let fixture = Fixture::new(4);
    let anchor = BlockRef { view: v(57), height: tally_types::Height(40), ..fixture.genesis };
    let base = View::epoch_base(1);
    let first = View(base.0 + 1);
    let me = fixture.validators.leader(first).0;
    let mut config = fixture.config(me);
    config.epoch = 1;
    config.anchor = anchor;
    let (core, start) = fixture.core_with(config.clone());
    assert_eq!(core.view(), first);
    assert!(start.contains(&Effect::BuildBlock { view: first, parent: anchor }), "{start:?}");
    // A core may not run an epoch before its anchor's.
    config.epoch = 0;
    config.anchor = BlockRef { view: View(base.0 + 9), ..anchor };
    assert!(matches!(
        tally_consensus::Core::new(config, fixture.scheme(me)),
        Err(tally_consensus::ConfigError::Epoch { epoch: 0, .. })
    ));
}

#[test]
fn r8_an_epochs_last_block_is_reproposed_notarized_and_finalized_in_a_later_view() {
    let fixture = Fixture::new(4);
    let (mut host, b1) = b1_notarized(&fixture);
    // View 1 is never finalized (too few finalizes); view 2's leader re-proposes b1.
    let effects = host.input(proposal_input(2, reproposal(&fixture, &b1, 2, 1)));
    // The host is asked to check the re-proposal: the block comes as its own parent.
    assert!(effects.iter().any(|e| matches!(
        e,
        Effect::VerifyBlock { view, block, parent } if *view == v(2) && *block == b1 && *parent == BlockRef::of(&b1)
    )));
    let notarize = Subject::Notarize { view: v(2), block_id: b1.id() };
    assert!(signed_subjects(&effects).contains(&notarize), "{effects:?}");
    let effects = host.input(cert_input(2, fixture.certificate(notarize, &[1, 2, 3])));
    let finalize = Subject::Finalize { view: v(2), block_id: b1.id() };
    assert!(signed_subjects(&effects).contains(&finalize));
    let effects = host.input(cert_input(2, fixture.certificate(finalize, &[1, 2, 3])));
    let committed: Vec<_> = effects
        .iter()
        .filter_map(|e| match e {
            Effect::Commit { block, finalization } => Some((block.id(), finalization.subject)),
            _ => None,
        })
        .collect();
    assert_eq!(committed, vec![(b1.id(), finalize)]);
}

#[test]
fn r8_a_reproposal_of_a_block_not_notarized_at_its_parent_view_is_refused() {
    let fixture = Fixture::new(4);
    let (mut host, _) = b1_notarized(&fixture);
    // A sibling of b1 in view 1 that no notarization names.
    let sibling = fixture.block(fixture.genesis, 1, 9);
    let effects = host.input(proposal_input(2, reproposal(&fixture, &sibling, 2, 1)));
    assert!(verify_requests(&effects).is_empty());
    assert_eq!(signed_subjects(&effects), vec![Subject::Nullify { view: v(2) }]);
}

#[test]
fn r8_a_leader_whose_host_answers_with_the_parent_reproposes_it() {
    let fixture = Fixture::new(4);
    let (core, start) = fixture.core(2);
    let mut host = Host::new(core, start);
    host.build = false;
    let b1 = fixture.block(fixture.genesis, 1, 1);
    host.input(proposal_input(1, fixture.proposal(b1.clone(), 0)));
    let effects = host.input(cert_input(1, fixture.notarization(&b1, &[0, 1, 3])));
    assert!(effects.contains(&Effect::BuildBlock { view: v(2), parent: BlockRef::of(&b1) }));
    let effects = host.input(Input::BlockBuilt { view: v(2), block: b1.clone() });
    let proposal = effects
        .iter()
        .find_map(|e| match e {
            Effect::Persist { entry: WalEntry::Proposal(p), .. } if p.view == v(2) => Some(p.clone()),
            _ => None,
        })
        .expect("re-proposal persisted");
    assert_eq!((proposal.parent_view, proposal.block.id()), (v(1), b1.id()));
    proposal.verify(&fixture.chain, &fixture.validators).expect("signed by view 2's leader");
    assert!(signed_subjects(&effects).contains(&Subject::Notarize { view: v(2), block_id: b1.id() }));
}

#[test]
fn r8_a_block_reproposed_before_can_be_reproposed_again_on_its_later_notarization() {
    let fixture = Fixture::new(4);
    let (mut host, b1) = b1_notarized(&fixture);
    // View 2 re-proposed b1 and notarized it there, but finalized nothing; view 3's leader
    // re-proposes it on that notarization (its header still names view 1).
    host.input(cert_input(
        2,
        fixture.certificate(Subject::Notarize { view: v(2), block_id: b1.id() }, &[1, 2, 3]),
    ));
    assert_eq!(host.core.view(), v(3));
    let effects = host.input(proposal_input(3, reproposal(&fixture, &b1, 3, 2)));
    assert!(
        signed_subjects(&effects).contains(&Subject::Notarize { view: v(3), block_id: b1.id() }),
        "{effects:?}"
    );
}
