//! Persist before send, equivocation evidence, restart without conflicting votes, and refusal
//! of invalid signatures and certificates. n = 4, Q = 3, leader of view v is v mod 4.

mod common;

use common::*;
use tally_consensus::BlockRef;
use tally_consensus::{
    Config, ConfigError, Core, Effect, Evidence, Input, Message, RestoreError, Scheme, Ticket, Timer,
    TimerKind, WalEntry,
};
use tally_types::codec::{BoundedBytes, BoundedVec};
use tally_types::{
    Block, ChainId, Height, Namespace, Proposal, Signature, Subject, Transaction, decode, encode,
};

/// A change that makes one configuration field invalid.
type ConfigEdit = fn(&mut Config);

fn timeout(kind: TimerKind, view: u64) -> Input {
    Input::Timeout(Timer { kind, view: v(view) })
}

// ----- persist before send -------------------------------------------------------------------

#[test]
fn own_votes_are_sent_and_counted_only_after_they_are_durable() {
    let fixture = Fixture::new(4);
    let (mut core, _) = fixture.core(0);
    let block = fixture.block(fixture.genesis, 1, 1);
    core.on_input(proposal_input(1, fixture.proposal(block.clone(), 0)));
    let effects = core.on_input(Input::BlockVerified { view: v(1), block_id: block.id(), valid: true });
    let subject = Subject::Notarize { view: v(1), block_id: block.id() };
    assert_eq!(signed_subjects(&effects), vec![subject]);
    assert!(sent(&effects).is_empty());
    let ticket = last_ticket(&effects).expect("persist");
    assert_eq!(core.stats().unsent_signed_messages, 1);
    // Two other notarizes plus this node's would be a quorum, but this node's own vote does not
    // count until durable: no certificate may carry a signature a crash could forget.
    core.on_input(vote_input(1, fixture.vote(1, subject)));
    let effects = core.on_input(vote_input(2, fixture.vote(2, subject)));
    assert!(sent(&effects).is_empty());
    assert_eq!(core.view(), v(1));
    let effects = core.on_input(Input::Persisted(ticket));
    let messages = sent(&effects);
    assert!(matches!(messages[0], Message::Vote(vote) if vote.subject == subject), "own vote first");
    assert!(
        matches!(messages[1], Message::Certificate(c) if c.subject == subject && c.signer_indices().contains(&i(0)))
    );
    assert_eq!(core.view(), v(2));
    // The finalize it now signs waits for its own ticket.
    assert_eq!(signed_subjects(&effects), vec![Subject::Finalize { view: v(1), block_id: block.id() }]);
    assert!(sent_votes(&effects).iter().all(|vote| vote.subject == subject));
}

#[test]
fn persisted_acknowledgements_are_cumulative_and_release_in_order() {
    let fixture = Fixture::new(4);
    let (mut core, _) = fixture.core(0);
    let mut tickets = Vec::new();
    // Sign a nullify in each of three views without acknowledging anything.
    for view in 1..=3 {
        let effects = core.on_input(timeout(TimerKind::Leader, view));
        tickets.push(last_ticket(&effects).expect("nullify persisted"));
        let effects = core.on_input(cert_input(1, fixture.nullification(view, &[1, 2, 3])));
        assert!(sent_votes(&effects).is_empty());
    }
    assert_eq!(core.stats().unsent_signed_messages, 3);
    // Acknowledging an older ticket again, or nothing new, releases nothing.
    let effects = core.on_input(Input::Persisted(Ticket(0)));
    assert!(sent(&effects).is_empty());
    let effects = core.on_input(Input::Persisted(tickets[1]));
    let views: Vec<_> = sent_votes(&effects).iter().map(|vote| vote.subject.view()).collect();
    assert_eq!(views, vec![v(1), v(2)]);
    let effects = core.on_input(Input::Persisted(tickets[2]));
    let views: Vec<_> = sent_votes(&effects).iter().map(|vote| vote.subject.view()).collect();
    assert_eq!(views, vec![v(3)]);
    assert_eq!(core.stats().unsent_signed_messages, 0);
}

#[test]
fn tickets_count_up_by_one_per_persist() {
    let fixture = Fixture::new(4);
    let (core, start) = fixture.core(1);
    let mut host = Host::new(core, start);
    for view in 1..=4 {
        host.input(cert_input(2, fixture.nullification(view, &[0, 2, 3])));
        host.input(timeout(TimerKind::Advance, view + 1));
    }
    let tickets: Vec<u64> = host
        .log
        .iter()
        .filter_map(|e| if let Effect::Persist { ticket, .. } = e { Some(ticket.0) } else { None })
        .collect();
    assert!(tickets.len() > 5);
    assert_eq!(tickets, (1..=tickets.len() as u64).collect::<Vec<_>>());
}

// ----- equivocation --------------------------------------------------------------------------

#[test]
fn conflicting_notarizes_yield_evidence_and_count_once() {
    let fixture = Fixture::new(4);
    let (core, start) = fixture.core(0);
    let mut host = Host::new(core, start);
    host.verify_valid = false; // keep this node's own vote out of the count
    let a = fixture.block(fixture.genesis, 1, 1);
    let b = fixture.block(fixture.genesis, 1, 2);
    let on_a = Subject::Notarize { view: v(1), block_id: a.id() };
    let on_b = Subject::Notarize { view: v(1), block_id: b.id() };
    host.input(vote_input(2, fixture.vote(2, on_a)));
    let effects = host.input(vote_input(2, fixture.vote(2, on_b)));
    let evidence: Vec<_> = effects
        .iter()
        .filter_map(|e| if let Effect::Evidence(e) = e { Some(e.clone()) } else { None })
        .collect();
    assert_eq!(evidence.len(), 1);
    let Evidence::ConflictingVotes { first, second } = &evidence[0] else { panic!("vote evidence") };
    assert_eq!((first.subject, second.subject), (on_a, on_b));
    first.verify(&fixture.chain, &fixture.validators).expect("first is signed");
    second.verify(&fixture.chain, &fixture.validators).expect("second is signed");
    // With validator 2's second vote ignored, B has two notarizes: no certificate.
    host.input(vote_input(1, fixture.vote(1, on_b)));
    let effects = host.input(vote_input(3, fixture.vote(3, on_b)));
    assert_eq!(host.core.view(), v(1));
    assert!(sent(&effects).is_empty());
    // A third copy is not reported again.
    assert!(host.input(vote_input(2, fixture.vote(2, on_b))).is_empty());
}

#[test]
fn nullify_and_finalize_by_one_signer_in_a_view_is_evidence() {
    let fixture = Fixture::new(4);
    let (core, start) = fixture.core(0);
    let mut host = Host::new(core, start);
    let block = fixture.block(fixture.genesis, 1, 1);
    host.input(cert_input(1, fixture.notarization(&block, &[1, 2, 3])));
    host.input(vote_input(3, fixture.vote(3, Subject::Nullify { view: v(1) })));
    let effects =
        host.input(vote_input(3, fixture.vote(3, Subject::Finalize { view: v(1), block_id: block.id() })));
    assert!(effects.iter().any(|e| matches!(e, Effect::Evidence(Evidence::ConflictingVotes { first, second })
        if first.subject == Subject::Nullify { view: v(1) } && matches!(second.subject, Subject::Finalize { .. }))));
}

// ----- restart -------------------------------------------------------------------------------

#[test]
fn restart_between_persist_and_send_resends_the_vote_and_never_signs_a_conflicting_one() {
    let fixture = Fixture::new(4);
    let (mut core, _) = fixture.core(0);
    let a = fixture.block(fixture.genesis, 1, 1);
    let b = fixture.block(fixture.genesis, 1, 2);
    core.on_input(proposal_input(1, fixture.proposal(a.clone(), 0)));
    let effects = core.on_input(Input::BlockVerified { view: v(1), block_id: a.id(), valid: true });
    // The host wrote the entry, then crashed before acknowledging or sending.
    let wal: Vec<WalEntry> = effects
        .iter()
        .filter_map(|e| if let Effect::Persist { entry, .. } = e { Some(entry.clone()) } else { None })
        .collect();
    drop(core);
    let mut core = Core::restore(fixture.config(0), fixture.scheme(0), wal).expect("restores");
    let start = core.start();
    assert_eq!(core.view(), v(1));
    let resent = sent_votes(&start);
    assert_eq!(
        resent.iter().map(|vote| vote.subject).collect::<Vec<_>>(),
        vec![Subject::Notarize { view: v(1), block_id: a.id() }]
    );
    // The equivocating leader's other block, and the same block again: no new notarize.
    for block in [b, a] {
        let effects = core.on_input(proposal_input(1, fixture.proposal(block.clone(), 0)));
        let effects =
            [effects, core.on_input(Input::BlockVerified { view: v(1), block_id: block.id(), valid: true })]
                .concat();
        assert!(signed_subjects(&effects).is_empty());
    }
}

#[test]
fn restart_after_nullify_neither_notarizes_nor_finalizes_that_view() {
    let fixture = Fixture::new(4);
    let (core, start) = fixture.core(0);
    let mut host = Host::new(core, start);
    host.input(timeout(TimerKind::Leader, 1));
    let mut core = Core::restore(fixture.config(0), fixture.scheme(0), host.wal.clone()).expect("restores");
    let start = core.start();
    assert_eq!(
        sent_votes(&start).iter().map(|vote| vote.subject).collect::<Vec<_>>(),
        vec![Subject::Nullify { view: v(1) }]
    );
    assert!(
        start.iter().any(|e| matches!(
            e,
            Effect::SetTimer { timer: Timer { kind: TimerKind::NullifyRetry, .. }, .. }
        ))
    );
    let mut host = Host::new(core, Vec::new());
    let block = fixture.block(fixture.genesis, 1, 1);
    assert!(signed_subjects(&host.input(proposal_input(1, fixture.proposal(block.clone(), 0)))).is_empty());
    let effects = host.input(cert_input(1, fixture.notarization(&block, &[1, 2, 3])));
    assert_eq!(host.core.view(), v(2));
    assert!(signed_subjects(&effects).is_empty(), "no finalize for a nullified view");
}

#[test]
fn restart_resumes_at_the_view_its_certificates_reached_and_recommits_nothing() {
    let fixture = Fixture::new(4);
    // Node 0 leads no view before 4, so building is off in time.
    let (mut host, b1) = after_b1(&fixture, 0, &[]);
    host.build = false;
    host.input(cert_input(1, fixture.finalization(&b1, &[1, 2, 3])));
    host.input(cert_input(1, fixture.nullification(2, &[1, 2, 3])));
    host.input(timeout(TimerKind::Leader, 3));
    assert_eq!(host.core.view(), v(3));
    // The host stored b1 (committed), so the restarted core's anchor is b1.
    let mut config = fixture.config(0);
    config.anchor = host.core.committed();
    let mut core = Core::restore(config, fixture.scheme(0), host.wal.clone()).expect("restores");
    let start = core.start();
    assert_eq!(core.view(), v(3));
    assert!(commits(&start).is_empty());
    assert_eq!(
        sent_votes(&start).iter().map(|vote| vote.subject).collect::<Vec<_>>(),
        vec![Subject::Nullify { view: v(3) }]
    );
    // With the genesis anchor instead (the host lost b1), the finalization is replayed and b1,
    // back from the WAL entry persisted before this node notarized it, is committed again.
    let mut core = Core::restore(fixture.config(0), fixture.scheme(0), host.wal.clone()).expect("restores");
    assert_eq!(commits(&core.start()), vec![b1.clone()]);
    // Without that entry, b1 is fetched, then committed.
    let wal = host.wal.iter().filter(|entry| !matches!(entry, WalEntry::Proposal(_))).cloned();
    let mut core = Core::restore(fixture.config(0), fixture.scheme(0), wal).expect("restores");
    let start = core.start();
    assert!(start.contains(&Effect::Fetch { block_id: b1.id() }));
    let effects = core.on_input(Input::BlockFetched { block: b1.clone() });
    assert_eq!(commits(&effects), vec![b1]);
}

#[test]
fn r6_restart_after_persisting_a_notarization_signs_the_finalize_it_had_not_signed() {
    let fixture = Fixture::new(4);
    // Node 0 leads no view before 4, so building is off in time.
    let (mut host, b1) = after_b1(&fixture, 0, &[]);
    host.build = false;
    let finalize = Subject::Finalize { view: v(1), block_id: b1.id() };
    // The crash fell between the notarization's WAL entry and the Finalize it led to.
    let wal: Vec<WalEntry> = host
        .wal
        .iter()
        .filter(|entry| !matches!(entry, WalEntry::Vote(vote) if vote.subject == finalize))
        .cloned()
        .collect();
    assert!(wal.iter().any(|entry| matches!(entry, WalEntry::Certificate(_))));
    let mut core = Core::restore(fixture.config(0), fixture.scheme(0), wal).expect("restores");
    let start = core.start();
    assert_eq!(core.view(), v(2));
    assert_eq!(signed_subjects(&start), vec![finalize]);
    assert!(!sent_votes(&start).iter().any(|vote| vote.subject == finalize), "persist before send");
    let effects = core.on_input(Input::Persisted(last_ticket(&start).expect("persist")));
    assert_eq!(sent_votes(&effects).iter().map(|vote| vote.subject).collect::<Vec<_>>(), vec![finalize]);
    // With the Finalize durable, a restart re-sends it and signs nothing.
    let mut core = Core::restore(fixture.config(0), fixture.scheme(0), host.wal.clone()).expect("restores");
    let start = core.start();
    assert!(signed_subjects(&start).is_empty());
    assert!(sent_votes(&start).iter().any(|vote| vote.subject == finalize));
    // A view this node nullified is never finalized, also after a restart (R5, R6).
    let nullified = vec![
        WalEntry::Vote(fixture.vote(0, Subject::Nullify { view: v(1) })),
        WalEntry::Certificate(fixture.notarization(&b1, &[1, 2, 3])),
    ];
    let mut core = Core::restore(fixture.config(0), fixture.scheme(0), nullified).expect("restores");
    assert!(signed_subjects(&core.start()).is_empty());
}

/// A node that notarizes the proposal of view 1 (by validator 1) and then crashes: its WAL.
fn notarize_b1_then_crash(fixture: &Fixture, me: u16, b1: &Block) -> Vec<WalEntry> {
    let (mut core, _) = fixture.core(me);
    let proposal = fixture.proposal(b1.clone(), 0);
    core.on_input(proposal_input(1, proposal.clone()));
    let effects = core.on_input(Input::BlockVerified { view: v(1), block_id: b1.id(), valid: true });
    let notarize = fixture.vote(me, Subject::Notarize { view: v(1), block_id: b1.id() });
    let persists: Vec<(WalEntry, Ticket)> = effects
        .iter()
        .filter_map(|e| {
            if let Effect::Persist { entry, ticket } = e { Some((entry.clone(), *ticket)) } else { None }
        })
        .collect();
    // The block is made durable before (a lower ticket than) the notarize for it...
    assert_eq!(
        persists,
        vec![(WalEntry::Proposal(proposal), Ticket(1)), (WalEntry::Vote(notarize.clone()), Ticket(2))]
    );
    // ...and the notarize leaves only once both are durable.
    assert!(sent(&effects).is_empty());
    assert!(sent(&core.on_input(Input::Persisted(Ticket(1)))).is_empty());
    assert_eq!(sent_votes(&core.on_input(Input::Persisted(Ticket(2)))), vec![notarize]);
    persists.into_iter().map(|(entry, _)| entry).collect()
}

#[test]
fn r3_a_notarized_block_survives_a_crash_of_the_nodes_that_notarized_it() {
    // Availability (found by tally-sim, seed 6909): a notarization holds Q = n − f notarizes,
    // so at least f + 1 honest nodes notarized its block. If they lost it in a crash while
    // its Byzantine leader withholds it, no honest leader could build on the notarized block
    // and no child of it could be verified: the chain would halt for good.
    let fixture = Fixture::new(4);
    let b1 = fixture.block(fixture.genesis, 1, 1);
    let notarization = fixture.notarization(&b1, &[0, 1, 2]);

    // Node 2 restarts, then the notarization reaches it: as leader of view 2 it builds on b1
    // at once, and it can serve b1 to peers that fetch it.
    let wal = notarize_b1_then_crash(&fixture, 2, &b1);
    let mut core = Core::restore(fixture.config(2), fixture.scheme(2), wal.clone()).expect("restores");
    core.start();
    assert_eq!(core.block(&b1.id()), Some(&b1), "served to peers' fetches");
    let effects = core.on_input(cert_input(0, notarization.clone()));
    assert!(effects.contains(&Effect::BuildBlock { view: v(2), parent: BlockRef::of(&b1) }));
    assert!(!effects.iter().any(|e| matches!(e, Effect::Fetch { .. })));
    // Without the block in its WAL it could only fetch it, from peers that may not have it.
    let votes_only = wal.iter().filter(|entry| !matches!(entry, WalEntry::Proposal(_))).cloned();
    let mut core = Core::restore(fixture.config(2), fixture.scheme(2), votes_only).expect("restores");
    core.start();
    let effects = core.on_input(cert_input(0, notarization.clone()));
    assert!(effects.contains(&Effect::Fetch { block_id: b1.id() }));
    assert!(!effects.iter().any(|e| matches!(e, Effect::BuildBlock { .. })));

    // Node 0 restarts with the notarization in its WAL too: it verifies b1's child at once.
    let mut wal = notarize_b1_then_crash(&fixture, 0, &b1);
    wal.push(WalEntry::Certificate(notarization));
    let mut core = Core::restore(fixture.config(0), fixture.scheme(0), wal).expect("restores");
    core.start();
    assert_eq!(core.view(), v(2));
    let b2 = fixture.block(BlockRef::of(&b1), 2, 2);
    let effects = core.on_input(proposal_input(2, fixture.proposal(b2.clone(), 1)));
    assert!(effects.contains(&Effect::VerifyBlock { view: v(2), block: b2, parent: BlockRef::of(&b1) }));
    assert!(!effects.iter().any(|e| matches!(e, Effect::Fetch { .. })));
}

#[test]
fn restart_leader_resends_its_durable_proposal() {
    let fixture = Fixture::new(4);
    let (mut core, _) = fixture.core(1);
    let block = build(&core, v(1), fixture.genesis);
    let effects = core.on_input(Input::BlockBuilt { view: v(1), block: block.clone() });
    let wal: Vec<WalEntry> = effects
        .iter()
        .filter_map(|e| if let Effect::Persist { entry, .. } = e { Some(entry.clone()) } else { None })
        .collect();
    let mut core = Core::restore(fixture.config(1), fixture.scheme(1), wal).expect("restores");
    let start = core.start();
    let messages = sent(&start);
    assert!(matches!(messages[0], Message::Proposal(p) if p.block == block));
    assert!(
        matches!(messages[1], Message::Vote(vote) if vote.subject == Subject::Notarize { view: v(1), block_id: block.id() })
    );
    assert!(!start.iter().any(|e| matches!(e, Effect::BuildBlock { .. })), "never proposes twice in a view");
}

#[test]
fn restore_refuses_foreign_conflicting_and_forged_entries() {
    let fixture = Fixture::new(4);
    let a = fixture.block(fixture.genesis, 1, 1);
    let b = fixture.block(fixture.genesis, 1, 2);
    let restore = |entries: Vec<WalEntry>| Core::restore(fixture.config(0), fixture.scheme(0), entries).err();
    let foreign = fixture.vote(2, Subject::Nullify { view: v(1) });
    assert_eq!(
        restore(vec![WalEntry::Vote(foreign)]),
        Some(RestoreError::ForeignSignature { view: v(1), signer: i(2) })
    );
    let notarize = |block: &tally_types::Block| {
        WalEntry::Vote(fixture.vote(0, Subject::Notarize { view: v(1), block_id: block.id() }))
    };
    assert_eq!(restore(vec![notarize(&a), notarize(&b)]), Some(RestoreError::ConflictingVotes(v(1))));
    let nullify = WalEntry::Vote(fixture.vote(0, Subject::Nullify { view: v(1) }));
    let finalize = WalEntry::Vote(fixture.vote(0, Subject::Finalize { view: v(1), block_id: a.id() }));
    assert_eq!(restore(vec![nullify, finalize]), Some(RestoreError::ConflictingVotes(v(1))));
    let mut forged = fixture.nullification(1, &[1, 2, 3]);
    let mut signatures = forged.signatures.clone().into_inner();
    signatures[0] = Signature([0; 64]);
    forged.signatures = tally_types::BoundedVec::new(signatures).expect("fits");
    assert_eq!(restore(vec![WalEntry::Certificate(forged)]), Some(RestoreError::BadCertificate(v(1))));
}

#[test]
fn restore_takes_a_leaders_proposal_entry_and_refuses_one_its_leader_did_not_sign() {
    let fixture = Fixture::new(4);
    let b1 = fixture.block(fixture.genesis, 1, 1);
    let restore = |entries: Vec<WalEntry>| Core::restore(fixture.config(0), fixture.scheme(0), entries);
    // The leader's (validator 1's) proposal of a block this node notarized: its block is back.
    let good = fixture.proposal(b1.clone(), 0);
    let core = restore(vec![WalEntry::Proposal(good.clone())]).expect("restores");
    assert_eq!(core.block(&b1.id()), Some(&b1));
    // A bad leader signature.
    let mut bad_signature = good.clone();
    bad_signature.signature.0[0] ^= 1;
    assert_eq!(restore(vec![WalEntry::Proposal(bad_signature)]).err(), Some(RestoreError::BadProposal(v(1))));
    // Signed, but by a validator that does not lead view 1.
    let payload = Proposal::payload(v(1), v(0), b1.id());
    let not_leader = Proposal {
        signature: fixture.keys[2].sign(Namespace::Proposal, &fixture.chain, &payload),
        ..good.clone()
    };
    assert_eq!(restore(vec![WalEntry::Proposal(not_leader)]).err(), Some(RestoreError::BadProposal(v(1))));
    // The leader's signature, but over another block (the block id does not match).
    let swapped = Proposal { block: fixture.block(fixture.genesis, 1, 2), ..good.clone() };
    assert_eq!(restore(vec![WalEntry::Proposal(swapped)]).err(), Some(RestoreError::BadProposal(v(1))));
    // The signed header, with a body that does not match its tx root.
    let tx = Transaction {
        chain_id: fixture.chain.clone(),
        signer: fixture.keys[1].public_key(),
        seq: 1,
        valid_until_height: Height(10),
        ops: BoundedVec::empty(),
        memo: BoundedBytes::empty(),
    }
    .sign(&fixture.keys[1]);
    let mut stuffed = good.clone();
    stuffed.block.txs = BoundedVec::new(vec![tx]).expect("one transaction fits");
    assert_eq!(stuffed.block.id(), b1.id(), "the id covers the header only");
    assert_eq!(restore(vec![WalEntry::Proposal(stuffed)]).err(), Some(RestoreError::BadProposal(v(1))));
    // Two different proposals of the leader in one view: this node notarizes at most one.
    let other = fixture.proposal(fixture.block(fixture.genesis, 1, 2), 0);
    assert_eq!(
        restore(vec![WalEntry::Proposal(good), WalEntry::Proposal(other)]).err(),
        Some(RestoreError::ConflictingVotes(v(1)))
    );
}

#[test]
fn wal_entries_and_messages_round_trip_through_the_bounded_codec() {
    let fixture = Fixture::new(4);
    let block = fixture.block(fixture.genesis, 1, 1);
    let entries = vec![
        WalEntry::Vote(fixture.vote(0, Subject::Nullify { view: v(1) })),
        WalEntry::Proposal(fixture.proposal(block.clone(), 0)),
        WalEntry::Certificate(fixture.notarization(&block, &[0, 1, 2])),
    ];
    for entry in entries {
        assert_eq!(decode::<WalEntry>(&encode(&entry)).expect("decodes"), entry);
    }
    let message = Message::Certificate(fixture.finalization(&block, &[1, 2, 3]));
    assert_eq!(decode::<Message>(&encode(&message)).expect("decodes"), message);
    let mut bytes = encode(&message);
    bytes.push(0);
    assert!(decode::<Message>(&bytes).is_err(), "trailing bytes refused");
}

// ----- signatures ----------------------------------------------------------------------------

#[test]
fn invalid_signatures_are_refused() {
    let fixture = Fixture::new(4);
    let (core, start) = fixture.core(0);
    let mut host = Host::new(core, start);
    let block = fixture.block(fixture.genesis, 1, 1);
    // A proposal signed by a non-leader, or with a flipped bit.
    let mut proposal = fixture.proposal(block.clone(), 0);
    proposal.signature = fixture.keys[2].sign(
        tally_types::Namespace::Proposal,
        &fixture.chain,
        &tally_types::Proposal::payload(v(1), v(0), block.id()),
    );
    assert!(host.input(proposal_input(2, proposal)).is_empty());
    let mut proposal = fixture.proposal(block.clone(), 0);
    proposal.signature.0[5] ^= 1;
    assert!(host.input(proposal_input(1, proposal)).is_empty());
    // Votes: a flipped bit, another signer's signature, another chain, another namespace.
    let subject = Subject::Nullify { view: v(1) };
    let mut flipped = fixture.vote(1, subject);
    flipped.signature.0[0] ^= 1;
    let mut stolen = fixture.vote(2, subject);
    stolen.signer = i(1);
    let other_chain = ChainId::new("tally-other").expect("valid");
    let mut wrong_chain = fixture.vote(1, subject);
    wrong_chain.signature = subject.sign(&other_chain, &fixture.keys[1]);
    let mut wrong_namespace = fixture.vote(1, subject);
    wrong_namespace.signature =
        fixture.keys[1].sign(tally_types::Namespace::Finalize, &fixture.chain, &subject.payload());
    let mut out_of_set = fixture.vote(1, subject);
    out_of_set.signer = i(9);
    for vote in [flipped, stolen, wrong_chain, wrong_namespace, out_of_set] {
        assert!(host.input(vote_input(1, vote)).is_empty());
    }
    // The same refused votes again plus two valid ones do not make a quorum of three.
    host.input(vote_input(2, fixture.vote(2, subject)));
    host.input(vote_input(3, fixture.vote(3, subject)));
    assert_eq!(host.core.view(), v(1));
    // Certificates: a bad signature, too few signers, a wrong bitmap length, a count mismatch.
    let mut bad = fixture.nullification(1, &[1, 2, 3]);
    let mut signatures = bad.signatures.clone().into_inner();
    signatures[2].0[7] ^= 1;
    bad.signatures = tally_types::BoundedVec::new(signatures).expect("fits");
    let too_few = fixture.nullification(1, &[1, 2]);
    let mut long_bitmap = fixture.nullification(1, &[1, 2, 3]);
    long_bitmap.signers = BoundedBytes::new(vec![0b1110, 0]).expect("fits");
    let mut mismatch = fixture.nullification(1, &[1, 2, 3]);
    mismatch.signers = BoundedBytes::new(vec![0b1111]).expect("fits");
    let mut beyond = fixture.nullification(1, &[1, 2, 3]);
    beyond.signers = BoundedBytes::new(vec![0b1100_0010]).expect("fits");
    for certificate in [bad, too_few, long_bitmap, mismatch, beyond] {
        assert!(host.input(cert_input(1, certificate)).is_empty());
        assert_eq!(host.core.view(), v(1));
    }
}

#[test]
fn the_cores_checks_are_the_tally_types_checks_through_its_scheme() {
    // The core verifies with `verify_with` and its scheme; for the production scheme that must
    // be exactly tally-types' own `verify`, for good and for every kind of bad message.
    let fixture = Fixture::new(4);
    let scheme = fixture.scheme(0);
    let verifier = |signer, namespace, payload: &[u8], signature: &Signature| {
        scheme.verify(signer, namespace, payload, signature)
    };
    let block = fixture.block(fixture.genesis, 1, 1);
    let good = fixture.nullification(1, &[1, 2, 3]);
    let mut bad_signature = good.clone();
    let mut signatures = bad_signature.signatures.clone().into_inner();
    signatures[1].0[3] ^= 1;
    bad_signature.signatures = tally_types::BoundedVec::new(signatures).expect("fits");
    let mut long_bitmap = good.clone();
    long_bitmap.signers = BoundedBytes::new(vec![0b1110, 0]).expect("fits");
    let mut beyond = good.clone();
    beyond.signers = BoundedBytes::new(vec![0b1100_0010]).expect("fits");
    let mut mismatch = good.clone();
    mismatch.signers = BoundedBytes::new(vec![0b1111]).expect("fits");
    let certificates = [
        good.clone(),
        fixture.notarization(&block, &[0, 2, 3]),
        bad_signature,
        fixture.nullification(1, &[1, 2]),
        long_bitmap,
        beyond,
        mismatch,
    ];
    for certificate in &certificates {
        assert_eq!(
            certificate.verify_with(&fixture.validators, verifier),
            certificate.verify(&fixture.chain, &fixture.validators),
            "{certificate:?}"
        );
    }
    let mut stolen = fixture.vote(2, Subject::Nullify { view: v(1) });
    stolen.signer = i(1);
    let mut out_of_set = fixture.vote(1, Subject::Nullify { view: v(1) });
    out_of_set.signer = i(9);
    for vote in [fixture.vote(1, Subject::Nullify { view: v(1) }), stolen, out_of_set] {
        assert_eq!(
            vote.verify_with(&fixture.validators, verifier),
            vote.verify(&fixture.chain, &fixture.validators)
        );
    }
    let mut forged = fixture.proposal(block.clone(), 0);
    forged.signature.0[0] ^= 1;
    for proposal in [fixture.proposal(block, 0), forged] {
        assert_eq!(
            proposal.verify_with(&fixture.validators, verifier),
            proposal.verify(&fixture.chain, &fixture.validators)
        );
    }
    assert!(good.verify_with(&fixture.validators, verifier).is_ok());
    assert!(certificates[2].verify_with(&fixture.validators, verifier).is_err());
}

// ----- configuration -------------------------------------------------------------------------

#[test]
fn config_validation_names_the_field() {
    let fixture = Fixture::new(4);
    let check = |edit: &dyn Fn(&mut Config)| {
        let mut config = fixture.config(0);
        edit(&mut config);
        config.validate().err().map(|error| error.to_string())
    };
    assert_eq!(check(&|_| {}), None);
    let cases: Vec<(&str, ConfigEdit)> = vec![
        ("me", |c| c.me = i(4)),
        ("leader_timeout_ms", |c| c.leader_timeout_ms = 0),
        ("advance_timeout_ms", |c| c.advance_timeout_ms = c.leader_timeout_ms),
        ("timeout_max_ms", |c| c.timeout_max_ms = c.advance_timeout_ms - 1),
        ("nullify_retry_ms", |c| c.nullify_retry_ms = 0),
        ("timeout_growth_percent", |c| c.timeout_growth_percent = 99),
        ("view_window", |c| c.view_window = 0),
        ("future_messages_max", |c| c.future_messages_max = 12),
        ("fetch_gap_blocks_max", |c| c.fetch_gap_blocks_max = 0),
    ];
    for (field, edit) in cases {
        let message = check(&edit).unwrap_or_else(|| panic!("{field} accepted"));
        assert!(message.starts_with(field), "{message} names {field}");
    }
    // A scheme signing as another validator than `me` is refused.
    let error = Core::new(fixture.config(0), fixture.scheme(1)).err();
    assert_eq!(error, Some(ConfigError::SchemeNotMe(i(0))));
}

#[test]
fn messages_for_the_last_view_cannot_overflow_the_core() {
    let fixture = Fixture::new(4);
    let (core, start) = fixture.core(0);
    let mut host = Host::new(core, start);
    let last = u64::MAX;
    let block_id = fixture.block(fixture.genesis, 1, 1).id();
    for subject in [
        Subject::Nullify { view: v(last) },
        Subject::Notarize { view: v(last), block_id },
        Subject::Finalize { view: v(last), block_id },
    ] {
        assert!(host.input(vote_input(1, fixture.vote(1, subject))).is_empty());
        assert!(host.input(cert_input(1, fixture.certificate(subject, &[1, 2, 3]))).is_empty());
    }
    assert_eq!(host.core.view(), v(1));
}
