//! Sync: a node far behind the finalized chain fetches committed blocks with their
//! certificates from peers in ranges ([`BlockRequest::Range`]), several ranges in flight
//! across peers, checks them off the driver's thread, and hands certified runs to the commit
//! pipeline, which executes them (each must reproduce its header's roots) and stores them.
//!
//! Backpressure: ranges are asked only within [`SYNC_WINDOW_BLOCKS`] of the durable tip, so a
//! node catching up with a long chain holds a bounded number of blocks and never outruns its
//! executor and writer. A peer that fails or answers nothing sends the range to the next peer.
//!
//! Trust: a run of blocks is committed only once a block of it is named by a verified
//! finalization (its own stored certificate, or the core's finalization of the target); the
//! blocks before it are certified through their parent links. Each block of the run is
//! stored with that one verified certificate (a peer's certificates for the others are not
//! trusted).

use std::collections::BTreeMap;

use tally_consensus::{BlockRef, Input, Scheme};
use tally_types::block::tx_root;
use tally_types::wire::{BlockRequest, BlockResponse};
use tally_types::{
    BlockId, Certificate, Height, SignedTransaction, Subject, TxId, ValidatorSet, decode, encode, limits,
};

use super::executor::{ChainRules, check_child};
use super::io::{Clock, Lane, Network, Workers};
use super::{Engine, Event, Pending};

/// Blocks beyond the durable tip that sync asks for at most.
pub const SYNC_WINDOW_BLOCKS: u64 = 256;
/// Range requests in flight at once (spread over the peers).
pub const SYNC_INFLIGHT_MAX: usize = 4;
/// Failed or empty answers (and ranges that did not check) before a sync run gives up; the
/// core asks again later.
pub const SYNC_FAILURES_MAX: usize = 16;
/// Checked blocks held before a certificate covers them.
pub const SYNC_UNCERTIFIED_MAX: usize = 1_024;

/// One sync run toward a finalized target.
pub struct SyncRun {
    /// Numbers runs, so that answers to an earlier run's requests are not counted in this one.
    run: u64,
    target: Height,
    target_id: BlockId,
    finalization: Certificate,
    /// The next height to ask for.
    next_from: Height,
    inflight: usize,
    checking: usize,
    /// Checked ranges waiting for the ones before them, by first height.
    received: BTreeMap<Height, Chunk>,
    /// The last block joined to the chain (committed, or in `uncertified`).
    joined: BlockRef,
    /// Joined blocks no verified certificate covers yet.
    uncertified: Vec<tally_types::Block>,
    failures: usize,
    committed_any: bool,
    gave_up: bool,
}

/// A range as checked by a job: consecutive, linked, tx roots right, and the index of the last
/// block whose own finalization certificate verified.
pub struct Checked {
    run: u64,
    from: Height,
    count: u32,
    result: Result<Chunk, String>,
}

/// Checked consecutive blocks, and the index of the last one whose own finalization verified
/// (with that certificate).
struct Chunk {
    blocks: Vec<tally_types::Block>,
    certified: Option<(usize, Certificate)>,
}

impl<S: Scheme, N: Network + 'static, C: Clock, W: Workers<N>> Engine<S, N, C, W> {
    pub(super) fn start_sync(&mut self, finalization: Certificate, target: Height) -> anyhow::Result<()> {
        if self.sync.is_some() || target <= self.queued.height {
            return Ok(());
        }
        let Some(target_id) = finalization.subject.block_id() else {
            tracing::warn!("sync asked with a certificate that names no block");
            return Ok(());
        };
        // The chain up to the target may be held here already (the core's blocks, fetched
        // ancestors): then it needs no peer. Peers serve committed blocks only, so when every
        // node holds the finalized chain uncommitted (all got the finalization, none
        // committed yet), asking peers would never end (found by tally-sim, seed 49 n=7).
        let mut held = Vec::new();
        let mut cursor = target_id;
        while cursor != self.queued.id && (held.len() as u64) < target.0 - self.queued.height.0 {
            let Some(block) = self.held_block(&cursor) else { break };
            cursor = block.header.parent_id;
            held.push(block.clone());
        }
        let held_whole = cursor == self.queued.id && !held.is_empty();
        tracing::info!(from = self.queued.height.0, to = target.0, "syncing committed blocks from peers");
        self.sync = Some(SyncRun {
            run: self.next_tag,
            target,
            target_id,
            finalization,
            next_from: self.queued.height.next(),
            inflight: 0,
            checking: 0,
            received: BTreeMap::new(),
            joined: self.queued,
            uncertified: Vec::new(),
            failures: 0,
            committed_any: false,
            gave_up: false,
        });
        if held_whole {
            held.reverse();
            if let Some(run) = self.sync.as_mut() {
                run.next_from = target.next();
                run.received.insert(self.queued.height.next(), Chunk { blocks: held, certified: None });
            }
            self.sync_join()?;
            self.sync_progress();
            return Ok(());
        }
        self.sync_request_more();
        Ok(())
    }

    fn sync_request_more(&mut self) {
        let durable = self.durable.height;
        loop {
            let Some(run) = self.sync.as_mut() else { return };
            if run.gave_up
                || run.inflight >= SYNC_INFLIGHT_MAX
                || run.next_from > run.target
                || run.next_from.0 > durable.0 + SYNC_WINDOW_BLOCKS
                || self.commit_queue.len() >= super::COMMIT_PIPELINE_MAX
            {
                return;
            }
            let from = run.next_from;
            let count = (run.target.0 - from.0 + 1).min(limits::SYNC_RANGE_BLOCKS_MAX as u64) as u32;
            run.next_from = Height(from.0 + u64::from(count));
            run.inflight += 1;
            let run_id = run.run;
            self.request(
                Pending::Sync { run: run_id, from, count, tried: 1 },
                encode(&BlockRequest::Range { from, count }),
            );
        }
    }

    fn sync_retry(&mut self, from: Height, count: u32, tried: usize) {
        let Some(run) = self.sync.as_mut() else { return };
        run.failures += 1;
        if run.failures > SYNC_FAILURES_MAX {
            tracing::warn!(
                failures = run.failures,
                at = from.0,
                "sync stopped: peers did not serve the blocks; the core asks again later"
            );
            run.gave_up = true;
            return;
        }
        run.inflight += 1;
        let run_id = run.run;
        self.request(
            Pending::Sync { run: run_id, from, count, tried: tried + 1 },
            encode(&BlockRequest::Range { from, count }),
        );
    }

    pub(super) fn on_sync_response(
        &mut self,
        run_id: u64,
        from: Height,
        count: u32,
        tried: usize,
        bytes: Option<Vec<u8>>,
    ) {
        // An answer to an earlier run's request: that run is over.
        let Some(run) = self.sync.as_mut().filter(|run| run.run == run_id) else { return };
        run.inflight -= 1;
        let Some(bytes) = bytes.filter(|bytes| !bytes.is_empty()) else {
            self.sync_retry(from, count, tried);
            self.sync_progress();
            return;
        };
        run.checking += 1;
        let rules = self.shared.rules.clone();
        let validators = self.core.config().validators.clone();
        self.workers.spawn(
            Lane::Ingress,
            Box::new(move || {
                Event::SyncChecked(Checked {
                    run: run_id,
                    from,
                    count,
                    result: check_range(&rules, &validators, from, count, &bytes),
                })
            }),
        );
    }

    pub(super) fn on_sync_checked(&mut self, checked: Checked) -> anyhow::Result<()> {
        let Some(run) = self.sync.as_mut().filter(|run| run.run == checked.run) else { return Ok(()) };
        run.checking -= 1;
        let Checked { from, count, result, .. } = checked;
        match result {
            Err(reason) => {
                tracing::debug!(from = from.0, %reason, "a peer's sync range did not check");
                self.sync_retry(from, count, 1);
            }
            Ok(chunk) => {
                let got = chunk.blocks.len() as u32;
                if got < count {
                    // A short answer: ask for the rest.
                    let Some(run) = self.sync.as_mut() else { return Ok(()) };
                    run.inflight += 1;
                    let run_id = run.run;
                    let rest = Height(from.0 + u64::from(got));
                    self.request(
                        Pending::Sync { run: run_id, from: rest, count: count - got, tried: 1 },
                        encode(&BlockRequest::Range { from: rest, count: count - got }),
                    );
                }
                if let Some(run) = self.sync.as_mut() {
                    run.received.insert(from, chunk);
                }
                self.sync_join()?;
            }
        }
        self.sync_request_more();
        self.sync_progress();
        Ok(())
    }

    /// Appends checked ranges that follow the joined chain and commits what a verified
    /// certificate covers.
    fn sync_join(&mut self) -> anyhow::Result<()> {
        let rules = self.shared.rules.clone();
        let queued = self.queued;
        let mut to_commit: Vec<(tally_types::Block, Certificate)> = Vec::new();
        {
            let Some(run) = self.sync.as_mut() else { return Ok(()) };
            while let Some(chunk) = run.received.remove(&run.joined.height.next()) {
                let Some(first) = chunk.blocks.first() else { break };
                if let Err(error) = check_child(&first.header, &run.joined, &rules) {
                    tracing::warn!(height = first.header.height.0, %error, "synced range does not follow the chain");
                    // Start again from the last block a verified certificate covered: the
                    // uncertified blocks joined since may be a peer's made-up chain.
                    run.failures += 1;
                    run.uncertified.clear();
                    run.received.clear();
                    run.joined = queued;
                    run.next_from = queued.height.next();
                    if run.failures > SYNC_FAILURES_MAX {
                        tracing::warn!("sync stopped: peers' ranges do not follow the chain");
                        run.gave_up = true;
                    }
                    break;
                }
                for (index, block) in chunk.blocks.into_iter().enumerate() {
                    run.joined = BlockRef::of(&block);
                    let is_target = block.header.height == run.target && block.id() == run.target_id;
                    run.uncertified.push(block);
                    let certificate = match &chunk.certified {
                        Some((certified, certificate)) if *certified == index => Some(certificate.clone()),
                        _ if is_target => Some(run.finalization.clone()),
                        _ => None,
                    };
                    if let Some(certificate) = certificate {
                        for block in run.uncertified.drain(..) {
                            to_commit.push((block, certificate.clone()));
                        }
                    }
                }
                if run.uncertified.len() > SYNC_UNCERTIFIED_MAX {
                    tracing::warn!(
                        "sync stopped: {SYNC_UNCERTIFIED_MAX} blocks without a certificate covering them"
                    );
                    run.gave_up = true;
                    run.uncertified.clear();
                    break;
                }
            }
            if !to_commit.is_empty() {
                run.committed_any = true;
            }
        }
        for (block, certificate) in to_commit {
            self.enqueue_commit(block, certificate)?;
        }
        Ok(())
    }

    /// Ends the run once its blocks are durable (or it gave up and nothing is in flight), and
    /// tells the core where the chain now stands.
    pub(super) fn sync_progress(&mut self) {
        self.sync_request_more();
        let Some(run) = self.sync.as_ref() else { return };
        let reached = self.durable.height >= run.target;
        let idle = run.inflight == 0 && run.checking == 0 && self.durable.height == self.queued.height;
        if reached || (run.gave_up && idle) {
            let committed_any = run.committed_any;
            self.sync = None;
            if committed_any {
                self.inputs.push_back(Input::Synced { anchor: self.durable });
            }
        }
    }
}

/// Checks a range answer without trusting the peer: decodes within limits; heights start at
/// `from`, count at most `count`, and follow one another by parent link; header rules between
/// neighbours; tx roots; and finds the last block whose own finalization verifies (checking
/// from the end, so at most one certificate check per range on the happy path).
fn check_range(
    rules: &ChainRules,
    validators: &ValidatorSet,
    from: Height,
    count: u32,
    bytes: &[u8],
) -> Result<Chunk, String> {
    let BlockResponse::Range(blocks) = decode::<BlockResponse>(bytes).map_err(|error| error.to_string())?;
    if blocks.is_empty() || blocks.len() > count as usize {
        return Err(format!("{} blocks for a request of {count}", blocks.len()));
    }
    for (index, committed) in blocks.iter().enumerate() {
        let header = &committed.block.header;
        if header.height.0 != from.0 + index as u64 {
            return Err(format!(
                "block {index} has height {}, expected {}",
                header.height,
                from.0 + index as u64
            ));
        }
        if index > 0 {
            let parent = BlockRef::of(&blocks[index - 1].block);
            check_child(header, &parent, rules)
                .map_err(|error| format!("height {}: {error}", header.height))?;
        }
        let ids: Vec<TxId> = committed.block.txs.iter().map(SignedTransaction::id).collect();
        if tx_root(&ids) != header.tx_root {
            return Err(format!("height {}: wrong tx root", header.height));
        }
    }
    let certified = blocks.iter().rposition(|committed| {
        committed.certificate.subject.block_id() == Some(committed.block.id())
            && matches!(committed.certificate.subject, Subject::Finalize { .. })
            && committed.certificate.verify(&rules.chain_id, validators).is_ok()
    });
    let certified = certified.map(|index| (index, blocks[index].certificate.clone()));
    Ok(Chunk { blocks: blocks.into_iter().map(|committed| committed.block).collect(), certified })
}
