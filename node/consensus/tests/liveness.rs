//! Timeouts, memory bounds under floods, catch-up, and progress of a few cores on a lossless
//! in-order network (the seeded fault-injecting simulator lives in tests/sim).

mod common;

use std::cell::Cell;
use std::rc::Rc;

use common::*;
use tally_consensus::{
    BlockRef, Core, Ed25519Scheme, Effect, Input, Message, Recipient, Timer, TimerKind, WalEntry,
};
use tally_types::{Height, Subject};

fn timeout(kind: TimerKind, view: u64) -> Input {
    Input::Timeout(Timer { kind, view: v(view) })
}

fn timer_ms(effects: &[Effect], kind: TimerKind) -> Option<u64> {
    effects.iter().rev().find_map(|e| match e {
        Effect::SetTimer { timer, after_ms } if timer.kind == kind => Some(*after_ms),
        _ => None,
    })
}

#[test]
fn timeouts_grow_per_nullified_view_reset_on_progress_and_are_capped() {
    let fixture = Fixture::new(4);
    let mut config = fixture.config(0);
    config.leader_timeout_ms = 1_000;
    config.advance_timeout_ms = 1_500;
    config.timeout_growth_percent = 150;
    config.timeout_max_ms = 5_000;
    let (core, start) = fixture.core_with(config);
    assert_eq!(timer_ms(&start, TimerKind::Leader), Some(1_000));
    assert_eq!(timer_ms(&start, TimerKind::Advance), Some(1_500));
    let mut host = Host::new(core, start);
    host.build = false;
    let expected_leader = [1_500, 2_250, 3_375, 5_000, 5_000];
    let expected_advance = [2_250, 3_375, 5_000, 5_000, 5_000];
    for (k, view) in (1..=5).enumerate() {
        let effects = host.input(cert_input(1, fixture.nullification(view, &[1, 2, 3])));
        assert_eq!(
            timer_ms(&effects, TimerKind::Leader),
            Some(expected_leader[k]),
            "after {} nullified views",
            k + 1
        );
        assert_eq!(timer_ms(&effects, TimerKind::Advance), Some(expected_advance[k]));
    }
    // A notarization is progress: back to the base timeouts.
    let b6 = fixture.block(fixture.genesis, 6, 6);
    host.input(proposal_input(2, fixture.proposal(b6.clone(), 0)));
    let effects = host.input(cert_input(1, fixture.notarization(&b6, &[1, 2, 3])));
    assert_eq!(timer_ms(&effects, TimerKind::Leader), Some(1_000));
    assert_eq!(timer_ms(&effects, TimerKind::Advance), Some(1_500));
}

#[test]
fn a_flood_of_future_view_votes_is_bounded() {
    let fixture = Fixture::new(4);
    let mut config = fixture.config(0);
    config.view_window = 50;
    config.future_messages_max = 40;
    let (mut core, _) = fixture.core_with(config);
    // Validators 1 and 2 (fewer than a quorum, so no certificate forms) vote every kind in
    // every view ahead: many more messages than the cap.
    for view in 2..=50 {
        let block_id = fixture.block(fixture.genesis, view, 1).id();
        for signer in 1..=2 {
            for subject in [
                Subject::Notarize { view: v(view), block_id },
                Subject::Nullify { view: v(view) },
                Subject::Finalize { view: v(view), block_id },
            ] {
                core.on_input(vote_input(signer, fixture.vote(signer, subject)));
            }
        }
        assert!(core.stats().future_messages <= 40);
    }
    assert_eq!(core.stats().future_messages, 40);
    // Held future messages stop counting once the node reaches their views.
    core.on_input(cert_input(1, fixture.nullification(1, &[1, 2, 3])));
    assert!(core.stats().future_messages < 40);
}

#[test]
fn messages_beyond_the_view_window_are_dropped_before_any_signature_check() {
    let fixture = Fixture::new(4);
    let mut config = fixture.config(0);
    config.view_window = 8;
    let verifications = Rc::new(Cell::new(0));
    let scheme = Counting { inner: fixture.scheme(0), verifications: verifications.clone() };
    let mut core = Core::new(config, scheme).expect("valid");
    core.start();
    let before = verifications.get();
    for view in 10..1_010 {
        core.on_input(vote_input(1, fixture.vote(1, Subject::Nullify { view: v(view) })));
        let block = fixture.block(fixture.genesis, view, 1);
        core.on_input(proposal_input(1, fixture.proposal(block, 0)));
    }
    assert_eq!(verifications.get(), before);
    assert_eq!(core.stats().views_held, 0);
    assert_eq!(core.stats().blocks_held, 0);
    // Within the window, messages are checked and held.
    core.on_input(vote_input(1, fixture.vote(1, Subject::Nullify { view: v(9) })));
    assert!(verifications.get() > before);
    assert_eq!(core.stats().future_messages, 1);
}

#[test]
fn a_missing_finalized_chain_is_fetched_block_by_block_and_committed_in_order() {
    let fixture = Fixture::new(4);
    let (core, start) = fixture.core(0);
    let mut host = Host::new(core, start);
    let mut chain = Vec::new();
    let mut parent = fixture.genesis;
    for view in 1..=5 {
        let block = fixture.block(parent, view, view as u8);
        parent = BlockRef::of(&block);
        chain.push(block);
    }
    let effects = host.input(cert_input(1, fixture.finalization(&chain[4], &[1, 2, 3])));
    assert_eq!(host.core.view(), v(6));
    let mut fetched = effects.clone();
    let mut committed = Vec::new();
    for block in chain.iter().rev() {
        assert!(
            fetched.contains(&Effect::Fetch { block_id: block.id() }),
            "fetches height {}",
            block.header.height
        );
        fetched = host.input(Input::BlockFetched { block: block.clone() });
        committed.extend(commits(&fetched));
    }
    assert_eq!(committed, chain);
    assert_eq!(host.core.committed(), BlockRef::of(&chain[4]));
    assert_eq!(host.core.stats().fetches_outstanding, 0);
}

#[test]
fn fetches_are_reissued_on_the_retry_timer_while_still_needed() {
    let fixture = Fixture::new(4);
    let (core, start) = fixture.core(0);
    let mut host = Host::new(core, start);
    let b1 = fixture.block(fixture.genesis, 1, 1);
    let effects = host.input(cert_input(1, fixture.finalization(&b1, &[1, 2, 3])));
    assert!(effects.contains(&Effect::Fetch { block_id: b1.id() }));
    assert!(timer_ms(&effects, TimerKind::FetchRetry).is_some());
    let effects = host.input(timeout(TimerKind::FetchRetry, 2));
    assert!(effects.contains(&Effect::Fetch { block_id: b1.id() }));
    assert!(timer_ms(&effects, TimerKind::FetchRetry).is_some());
    host.input(Input::BlockFetched { block: b1 });
    let effects = host.input(timeout(TimerKind::FetchRetry, 2));
    assert!(!effects.iter().any(|e| matches!(e, Effect::Fetch { .. } | Effect::SetTimer { .. })));
}

#[test]
fn a_finalization_far_ahead_asks_the_host_to_sync_then_resumes_after_it() {
    let fixture = Fixture::new(4);
    let mut config = fixture.config(0);
    config.fetch_gap_blocks_max = 4;
    let (core, start) = fixture.core_with(config);
    let mut host = Host::new(core, start);
    let mut parent = fixture.genesis;
    let mut chain = Vec::new();
    for view in 1..=10 {
        let block = fixture.block(parent, view, view as u8);
        parent = BlockRef::of(&block);
        chain.push(block);
    }
    let tip = chain[9].clone();
    let finalization = fixture.finalization(&tip, &[1, 2, 3]);
    host.input(cert_input(1, finalization.clone()));
    let effects = host.input(Input::BlockFetched { block: tip.clone() });
    assert!(effects.contains(&Effect::Sync { finalization, height: Height(10) }));
    assert!(
        !effects.iter().any(|e| matches!(e, Effect::Fetch { .. })),
        "no block-by-block fetch over a large gap"
    );
    let effects = host.input(Input::Synced { anchor: BlockRef::of(&tip), finalization: None });
    assert!(commits(&effects).is_empty(), "synced blocks are already committed by the host");
    assert_eq!(host.core.committed(), BlockRef::of(&tip));
    assert_eq!(host.core.view(), v(11));
    // The next block extends the synced tip.
    let b11 = fixture.block(BlockRef::of(&tip), 11, 11);
    let effects = host.input(proposal_input(3, fixture.proposal(b11.clone(), 10)));
    assert!(signed_subjects(&effects).contains(&Subject::Notarize { view: v(11), block_id: b11.id() }));
}

#[test]
fn a_peer_voting_in_old_views_is_sent_the_latest_certificates_once_per_view() {
    let fixture = Fixture::new(4);
    // Node 0 leads no view before 4, so building is off in time.
    let (mut host, b1) = after_b1(&fixture, 0, &[]);
    host.build = false;
    host.input(cert_input(1, fixture.finalization(&b1, &[1, 2, 3])));
    for view in 2..=4 {
        host.input(cert_input(1, fixture.nullification(view, &[1, 2, 3])));
    }
    assert_eq!(host.core.view(), v(5));
    // Validator 3 is stuck in view 2 and keeps re-sending its nullify.
    let stuck = fixture.vote(3, Subject::Nullify { view: v(2) });
    let effects = host.input(vote_input(3, stuck.clone()));
    let replies: Vec<_> = effects
        .iter()
        .filter_map(|e| match e {
            Effect::Send { to: Recipient::One(peer), message: Message::Certificate(c) } if *peer == i(3) => {
                Some(c.subject)
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        replies,
        vec![Subject::Finalize { view: v(1), block_id: b1.id() }, Subject::Nullify { view: v(4) }]
    );
    assert!(sent(&host.input(vote_input(3, stuck))).is_empty(), "once per view of ours");
}

fn network(fixture: &Fixture) -> Network<tally_consensus::Ed25519Scheme> {
    let hosts = (0..fixture.validators.len() as u16)
        .map(|me| {
            let (core, start) = fixture.core(me);
            Host::new(core, start)
        })
        .collect();
    Network::new(hosts)
}

#[test]
fn with_no_faults_a_block_is_final_after_three_hops() {
    let fixture = Fixture::new(4);
    let mut network = network(&fixture);
    let hops =
        network.run_until(|hosts| hosts.iter().all(|h| h.core.committed().height >= Height(1)), 10_000);
    for host in &network.hosts {
        assert_eq!(host.core.committed().height, Height(1));
    }
    assert_eq!(hops, 3, "proposal → notarize → finalize");
}

#[test]
fn cores_on_a_lossless_network_commit_the_same_chain() {
    for n in [4, 7] {
        let fixture = Fixture::new(n);
        let mut network = network(&fixture);
        network.run_until(|hosts| hosts.iter().all(|h| h.core.committed().height >= Height(20)), 1_000_000);
        let chains: Vec<Vec<_>> =
            network.hosts.iter().map(|h| commits(&h.log).iter().map(|b| b.id()).collect()).collect();
        let shortest = chains.iter().map(Vec::len).min().expect("nodes");
        assert!(shortest >= 20);
        for chain in &chains {
            assert_eq!(chain[..shortest], chains[0][..shortest], "n = {n}: identical prefixes");
        }
        for host in &network.hosts {
            let heights: Vec<u64> = commits(&host.log).iter().map(|b| b.header.height.0).collect();
            assert_eq!(
                heights,
                (1..=heights.len() as u64).collect::<Vec<_>>(),
                "heights in order, once each"
            );
            // Memory stays flat as views are finalized.
            assert!(host.core.stats().views_held <= 4, "{:?}", host.core.stats());
            assert!(host.core.stats().blocks_held <= 4, "{:?}", host.core.stats());
        }
    }
}

#[test]
fn a_crashed_leader_is_skipped_by_timeouts_and_the_chain_continues() {
    let fixture = Fixture::new(4);
    let mut network = network(&fixture);
    network.run_until(|hosts| hosts.iter().all(|h| h.core.committed().height >= Height(2)), 100_000);
    // Validator 3 goes silent: drop it from the network by never delivering to or from it.
    // Its views time out on the others; they nullify and move on.
    let alive = [0u16, 1, 2];
    let mut rounds = 0;
    while network.hosts[0].core.committed().height < Height(8) {
        rounds += 1;
        assert!(rounds < 100, "no progress");
        for node in alive {
            let view = network.hosts[usize::from(node)].core.view();
            network.input(node, Input::Timeout(Timer { kind: TimerKind::Advance, view }));
        }
        network.run_until_excluding(3, 100_000);
    }
    let chains: Vec<Vec<_>> = alive
        .iter()
        .map(|n| commits(&network.hosts[usize::from(*n)].log).iter().map(|b| b.id()).collect())
        .collect();
    let shortest = chains.iter().map(Vec::len).min().expect("nodes");
    for chain in &chains {
        assert_eq!(chain[..shortest], chains[0][..shortest]);
    }
}

#[test]
fn equal_inputs_give_equal_effects() {
    let run = || {
        let fixture = Fixture::new(4);
        let mut network = network(&fixture);
        network.run_until(|hosts| hosts.iter().all(|h| h.core.committed().height >= Height(5)), 100_000);
        network.hosts.iter().map(|h| format!("{:?}", h.log)).collect::<Vec<_>>()
    };
    assert_eq!(run(), run());
}

#[test]
fn r1_r3_lost_certificates_do_not_halt_the_chain() {
    // Node 3 has crashed, so every certificate needs all of 0, 1 and 2. In view 1 node 0
    // notarizes b1, times out and nullifies, then assembles the notarization; nodes 1 and 2
    // never see that notarization and assemble the nullification, which never reaches node 0
    // the way certificates normally travel (votes and forwarding). From then on the leaders
    // disagree on the parent: without the certificates travelling with the proposals no view
    // could be notarized again.
    let fixture = Fixture::new(4);
    let mut network = network(&fixture);
    let crashed = |from: u16, to: u16| from == 3 || to == 3;
    let is_view1 = |message: &Message, kind: fn(&Subject) -> bool| match message {
        Message::Vote(vote) => vote.subject.view() == v(1) && kind(&vote.subject),
        Message::Certificate(c) => c.subject.view() == v(1) && kind(&c.subject),
        Message::Proposal(_) => false,
    };
    let notarize = |s: &Subject| matches!(s, Subject::Notarize { .. });
    let nullify = |s: &Subject| matches!(s, Subject::Nullify { .. });
    network.run_filtered(
        |from, to, message| match () {
            _ if crashed(from, to) => Fate::Drop,
            _ if is_view1(message, notarize) && to == 0 => Fate::Hold,
            _ if is_view1(message, notarize) => Fate::Drop,
            _ => Fate::Deliver,
        },
        10_000,
    );
    assert!(network.hosts.iter().take(3).all(|h| h.core.view() == v(1)));
    network.input(0, Input::Timeout(Timer { kind: TimerKind::Advance, view: v(1) }));
    network.release_held();
    // Forwarded copies of the nullification to node 0 are lost: the first from each sender.
    let mut lost = std::collections::BTreeSet::new();
    let mut route = move |from: u16, to: u16, message: &Message| match () {
        _ if crashed(from, to) => Fate::Drop,
        _ if is_view1(message, notarize) && to != 0 => Fate::Drop,
        _ if is_view1(message, nullify) && to == 0 && matches!(message, Message::Vote(_)) => Fate::Drop,
        _ if is_view1(message, nullify) && to == 0 && lost.insert(from) => Fate::Drop,
        _ => Fate::Deliver,
    };
    network.run_filtered(&mut route, 10_000);
    assert_eq!(network.hosts[0].core.view(), v(2));
    for node in [1u16, 2] {
        network.input(node, Input::Timeout(Timer { kind: TimerKind::Advance, view: v(1) }));
        network.run_filtered(&mut route, 10_000);
    }
    // From here on only the crash: views time out when the network is quiet.
    let mut rounds = 0;
    while network.hosts.iter().take(3).any(|h| h.core.committed().height < Height(4)) {
        rounds += 1;
        assert!(
            rounds < 50,
            "the chain halted: {:?}",
            network.hosts.iter().map(|h| h.core.view()).collect::<Vec<_>>()
        );
        for node in 0..3u16 {
            let view = network.hosts[usize::from(node)].core.view();
            network.input(node, Input::Timeout(Timer { kind: TimerKind::Leader, view }));
            network.input(node, Input::Timeout(Timer { kind: TimerKind::Advance, view }));
        }
        network
            .run_filtered(|from, to, _| if crashed(from, to) { Fate::Drop } else { Fate::Deliver }, 100_000);
    }
    let chains: Vec<Vec<_>> =
        (0..3).map(|n| commits(&network.hosts[n].log).iter().map(|b| b.id()).collect()).collect();
    let shortest = chains.iter().map(Vec::len).min().expect("nodes");
    for chain in &chains {
        assert_eq!(chain[..shortest], chains[0][..shortest]);
    }
}

#[test]
fn proposals_of_views_left_are_dropped_unless_certified() {
    let fixture = Fixture::new(4);
    let (core, start) = fixture.core(0);
    let mut host = Host::new(core, start);
    host.build = false;
    // View 1: this node nullifies before the proposal arrives, so never notarizes it.
    host.input(timeout(TimerKind::Leader, 1));
    let b1 = fixture.block(fixture.genesis, 1, 1);
    host.input(proposal_input(1, fixture.proposal(b1.clone(), 0)));
    assert!(host.core.block(&b1.id()).is_some());
    host.input(cert_input(1, fixture.nullification(1, &[1, 2, 3])));
    assert!(host.core.block(&b1.id()).is_none(), "left, not certified, not notarized here");
    // View 2: notarized here but nullified. Kept while no later view is known notarized (a
    // notarization for it may still surface, and peers would fetch it from its notarizers).
    let b2 = fixture.block(fixture.genesis, 2, 2);
    let effects = host.input(proposal_input(2, fixture.proposal(b2.clone(), 0)));
    assert!(signed_subjects(&effects).contains(&Subject::Notarize { view: v(2), block_id: b2.id() }));
    host.input(cert_input(1, fixture.nullification(2, &[1, 2, 3])));
    assert!(host.core.block(&b2.id()).is_some());
    // View 3 is notarized: b3 is certified and kept, b2 is no longer needed.
    let b3 = fixture.block(fixture.genesis, 3, 3);
    host.input(proposal_input(3, fixture.proposal(b3.clone(), 0)));
    host.input(cert_input(1, fixture.notarization(&b3, &[1, 2, 3])));
    assert_eq!(host.core.view(), v(4));
    assert!(host.core.block(&b2.id()).is_none());
    assert!(host.core.block(&b3.id()).is_some());
    assert_eq!(host.core.stats().blocks_held, 1);
    // A restart from the WAL (which holds b2 and b3: this node notarized both) keeps the same.
    let restored = Core::restore(fixture.config(0), fixture.scheme(0), host.wal.clone()).expect("restores");
    assert!(host.wal.iter().any(|entry| matches!(entry, WalEntry::Proposal(p) if p.block == b2)));
    assert!(restored.block(&b2.id()).is_none());
    assert!(restored.block(&b3.id()).is_some());
    assert_eq!(restored.stats().blocks_held, 1);
    // Late proposals for views left: held only if certified (for a later parent or a commit).
    for view in 4..=6 {
        host.input(cert_input(1, fixture.nullification(view, &[1, 2, 3])));
    }
    let b5 = fixture.block(BlockRef::of(&b3), 5, 5);
    host.input(proposal_input(1, fixture.proposal(b5.clone(), 3)));
    assert!(host.core.block(&b5.id()).is_none());
    let b6 = fixture.block(BlockRef::of(&b3), 6, 6);
    host.input(cert_input(1, fixture.notarization(&b6, &[1, 2, 3])));
    host.input(proposal_input(2, fixture.proposal(b6.clone(), 3)));
    assert!(host.core.block(&b6.id()).is_some());
}

#[test]
fn an_outstanding_sync_is_reissued_only_on_its_slower_retry() {
    let fixture = Fixture::new(4);
    let mut config = fixture.config(0);
    config.fetch_gap_blocks_max = 4;
    let ticks = config.timeout_max_ms.div_ceil(config.advance_timeout_ms);
    assert!(ticks > 1);
    let (core, start) = fixture.core_with(config);
    let mut host = Host::new(core, start);
    host.build = false;
    let mut parent = fixture.genesis;
    let mut chain = Vec::new();
    for view in 1..=11 {
        let block = fixture.block(parent, view, view as u8);
        parent = BlockRef::of(&block);
        chain.push(block);
    }
    let is_sync = |e: &Effect| matches!(e, Effect::Sync { .. });
    host.input(cert_input(1, fixture.finalization(&chain[9], &[1, 2, 3])));
    let effects = host.input(Input::BlockFetched { block: chain[9].clone() });
    assert_eq!(effects.iter().filter(|e| is_sync(e)).count(), 1);
    // A newer finalization while the sync is outstanding does not ask again.
    host.input(proposal_input(3, fixture.proposal(chain[10].clone(), 10)));
    let effects = host.input(cert_input(1, fixture.finalization(&chain[10], &[1, 2, 3])));
    assert!(!effects.iter().any(is_sync));
    // Nor do fetch retries, until about `timeout_max_ms` has passed; the timer stays armed.
    for _ in 1..ticks {
        let effects = host.input(timeout(TimerKind::FetchRetry, 12));
        assert!(!effects.iter().any(is_sync));
        assert!(timer_ms(&effects, TimerKind::FetchRetry).is_some());
    }
    let effects = host.input(timeout(TimerKind::FetchRetry, 12));
    let reissued: Vec<_> = effects.iter().filter(|e| is_sync(e)).collect();
    assert!(
        matches!(reissued.as_slice(), [Effect::Sync { height, .. }] if *height == Height(11)),
        "re-issued once, for the newest finalization: {reissued:?}"
    );
}

/// The gap rule counts blocks above the committed height: a gap of exactly
/// `fetch_gap_blocks_max` is fetched block by block, one more asks the host to sync, and a
/// node already past genesis measures from where it is (written where mutation testing found
/// the boundary and the subtraction untested).
#[test]
fn a_gap_of_exactly_the_fetch_limit_is_fetched_and_one_more_is_synced() {
    let fixture = Fixture::new(4);
    let mut parent = fixture.genesis;
    let mut chain = Vec::new();
    for view in 1..=7 {
        let block = fixture.block(parent, view, view as u8);
        parent = BlockRef::of(&block);
        chain.push(block);
    }
    for (tip, syncs) in [(5usize, false), (6, true)] {
        let mut config = fixture.config(0);
        config.fetch_gap_blocks_max = 3;
        let (core, start) = fixture.core_with(config);
        let mut host = Host::new(core, start);
        // Blocks 1 and 2 committed first, so the gap is measured from height 2.
        host.input(cert_input(1, fixture.finalization(&chain[1], &[1, 2, 3])));
        host.input(Input::BlockFetched { block: chain[1].clone() });
        host.input(Input::BlockFetched { block: chain[0].clone() });
        assert_eq!(host.core.committed(), BlockRef::of(&chain[1]));
        let tip_block = chain[tip - 1].clone();
        host.input(cert_input(1, fixture.finalization(&tip_block, &[1, 2, 3])));
        let effects = host.input(Input::BlockFetched { block: tip_block });
        let synced = effects.iter().any(|e| matches!(e, Effect::Sync { .. }));
        let fetched = effects.iter().any(|e| matches!(e, Effect::Fetch { .. }));
        assert_eq!((synced, fetched), (syncs, !syncs), "a gap of {} blocks", tip - 2);
    }
}

/// The certificates a node sends to every peer (`Recipient::All`), by subject.
fn broadcast_certificates(effects: &[Effect]) -> Vec<Subject> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Send { to: Recipient::All, message: Message::Certificate(c) } => Some(c.subject),
            _ => None,
        })
        .collect()
}

/// A node restarted after committing block b1 finds b1's finalization in its WAL (pruning
/// stops below the finalized view) and restores it as its anchor's finalization: it sends it
/// with its justifications, so a peer that missed it (partitioned while b1 was finalized) can
/// check R3 for a proposal on b1 and learn that it is behind. Without it, every node holding
/// b1 had restarted, no one sent b1's finalization, and the chain halted (tally-sim seed
/// 10,095,345).
#[test]
fn a_restored_core_sends_its_anchors_finalization_from_the_wal() {
    let fixture = Fixture::new(4);
    let me = 0;
    let b1 = fixture.block(fixture.genesis, 1, 1);
    let finalization = fixture.finalization(&b1, &[1, 2, 3]);
    let wal = vec![
        WalEntry::Certificate(finalization.clone()),
        WalEntry::Certificate(fixture.nullification(2, &[1, 2, 3])),
    ];
    let mut config = fixture.config(me);
    config.anchor = BlockRef::of(&b1);
    let mut core = Core::restore(config, fixture.scheme(me), wal).expect("restore");
    let start = core.start();
    assert_eq!(core.view(), v(3));
    // No proposal by the leader timeout: the node nullifies and sends its justification of
    // view 3, whose base is the anchor's finalization.
    let effects = core.on_input(timeout(TimerKind::Leader, 3));
    let sent: Vec<Subject> =
        broadcast_certificates(&start).into_iter().chain(broadcast_certificates(&effects)).collect();
    assert!(
        sent.contains(&finalization.subject),
        "the anchor's finalization goes with the justification; sent {sent:?}"
    );
}

/// The finalizations a core stuck in `view` broadcasts (its leader timed out, then its
/// nullify retry): the latest certificate it re-sends while stuck, and the base of its
/// justifications.
fn finalizations_sent(core: &mut Core<Ed25519Scheme>, start: &[Effect], view: u64) -> Vec<Subject> {
    let mut effects = start.to_vec();
    effects.extend(core.on_input(timeout(TimerKind::Leader, view)));
    effects.extend(core.on_input(timeout(TimerKind::NullifyRetry, view)));
    let mut subjects: Vec<Subject> = broadcast_certificates(&effects)
        .into_iter()
        .filter(|subject| matches!(subject, Subject::Finalize { .. }))
        .collect();
    subjects.dedup();
    subjects
}

/// A node whose WAL holds no certificate for its anchor (it reached the anchor by sync, then
/// restarted) is given the anchor's finalization from its store (`Config::anchor_finalization`)
/// and sends it with its justifications, as if its WAL had held it. A certificate that does not
/// finalize exactly the anchor, or whose signatures do not verify, is ignored.
#[test]
fn a_core_given_its_anchors_stored_finalization_sends_it_and_ignores_any_other() {
    let fixture = Fixture::new(4);
    let me = 0;
    let b1 = fixture.block(fixture.genesis, 1, 1);
    let b1_other = fixture.block(fixture.genesis, 1, 9);
    let finalization = fixture.finalization(&b1, &[1, 2, 3]);
    let mut forged = finalization.clone();
    let mut signatures = forged.signatures.to_vec();
    signatures[0].0[0] ^= 1;
    forged.signatures = tally_types::codec::BoundedVec::new(signatures).expect("as many as before");
    let cases = [
        (Some(finalization.clone()), true),
        (None, false),
        // Another block of the same view: not the anchor's.
        (Some(fixture.finalization(&b1_other, &[1, 2, 3])), false),
        // The anchor's id at another view: no such finalization is the anchor's.
        (Some(fixture.certificate(Subject::Finalize { view: v(2), block_id: b1.id() }, &[1, 2, 3])), false),
        (Some(forged), false),
        // Not a finalization.
        (Some(fixture.nullification(1, &[1, 2, 3])), false),
    ];
    for (index, (given, kept)) in cases.into_iter().enumerate() {
        let mut config = fixture.config(me);
        config.anchor = BlockRef::of(&b1);
        config.anchor_finalization = given;
        let mut core = Core::restore(config, fixture.scheme(me), Vec::new()).expect("restore");
        let start = core.start();
        assert_eq!(core.view(), v(2), "case {index}");
        let expected = if kept { vec![finalization.subject] } else { Vec::new() };
        assert_eq!(finalizations_sent(&mut core, &start, 2), expected, "case {index}");
    }
}

/// After a sync the core stands on the synced tip; given the tip's finalization with
/// `Input::Synced` it keeps it as the base of its justifications (without, it had none until
/// the next finalization).
#[test]
fn a_synced_core_keeps_the_tips_finalization_as_its_base() {
    for given in [true, false] {
        let fixture = Fixture::new(4);
        let (core, start) = fixture.core_with(fixture.config(0));
        let mut host = Host::new(core, start);
        let mut parent = fixture.genesis;
        let mut tip = None;
        for view in 1..=6 {
            let block = fixture.block(parent, view, view as u8);
            parent = BlockRef::of(&block);
            tip = Some(block);
        }
        let tip = tip.expect("six blocks");
        let finalization = fixture.finalization(&tip, &[1, 2, 3]);
        host.input(Input::Synced {
            anchor: BlockRef::of(&tip),
            finalization: given.then(|| finalization.clone()),
        });
        assert_eq!(host.core.view(), v(7));
        let expected = if given { vec![finalization.subject] } else { Vec::new() };
        assert_eq!(finalizations_sent(&mut host.core, &[], 7), expected, "given with Synced: {given}");
    }
}
