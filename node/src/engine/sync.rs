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
use tally_types::wire::{BlockRequest, BlockResponse, CommittedBlock};
use tally_types::{BlockId, Certificate, Height, SignedTransaction, Subject, TxId, decode, encode, limits};

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
/// A catch-up to the end of this node's epoch starts at most this often.
pub const CATCH_UP_INTERVAL_MS: u64 = 2_000;
/// Certificates of one range answer checked at most (from its last block back): a peer that
/// fills a range with certificates that do not verify costs a few batch checks, not 64.
pub const SYNC_CERTIFICATES_TRIED_MAX: usize = 4;

/// One sync run toward a finalized target.
pub struct SyncRun {
    /// Numbers runs, so that answers to an earlier run's requests are not counted in this one.
    run: u64,
    target: Height,
    target_id: BlockId,
    /// The core's finalization of the target; `None` for a catch-up to the end of this
    /// node's epoch (see [`Engine::start_catch_up`]).
    finalization: Option<Certificate>,
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

impl SyncRun {
    /// A run numbered `run` toward `target`, from the block after `queued`.
    fn new(
        run: u64,
        target: Height,
        target_id: BlockId,
        finalization: Option<Certificate>,
        queued: BlockRef,
    ) -> SyncRun {
        SyncRun {
            run,
            target,
            target_id,
            finalization,
            next_from: queued.height.next(),
            inflight: 0,
            checking: 0,
            received: BTreeMap::new(),
            joined: queued,
            uncertified: Vec::new(),
            failures: 0,
            committed_any: false,
            gave_up: false,
        }
    }

    /// A catch-up to the end of this node's epoch (no finalization names its target).
    pub fn is_catch_up(&self) -> bool {
        self.finalization.is_none()
    }

    /// A catch-up learnt that its epoch ends at `last` or before: nothing after it is asked
    /// for, and the run ends once it is durable. (A peer that lies about it ends the run
    /// early; the next catch-up asks again.)
    fn end_epoch_at(&mut self, last: Height) {
        if last < self.target {
            self.target = last;
            self.next_from = self.next_from.min(last.next());
        }
    }
}

/// A range as checked by a job: consecutive, linked, tx roots right, and the index of the last
/// block whose own finalization certificate verified.
pub struct Checked {
    run: u64,
    from: Height,
    count: u32,
    result: Result<Chunk, RangeRefused>,
}

/// Checked consecutive blocks, and the index of the last one whose own finalization verified
/// (with that certificate).
pub(crate) struct Chunk {
    blocks: Vec<tally_types::Block>,
    certified: Option<(usize, Certificate)>,
    /// The answer went on into a later epoch (cut off here): the last block is the last of
    /// this node's epoch.
    epoch_ended: bool,
}

/// Why a range answer was not taken.
#[derive(Debug)]
pub(crate) enum RangeRefused {
    /// The range begins in a later epoch: this node's epoch ended before the range's first
    /// height. Not a fault of the peer for a catch-up run, which asks without knowing where
    /// its epoch ends.
    LaterEpoch { epoch: u64 },
    /// The answer does not check; the reason names what.
    Bad(String),
}

impl std::fmt::Display for RangeRefused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RangeRefused::LaterEpoch { epoch } => write!(f, "the range starts in a later epoch, {epoch}"),
            RangeRefused::Bad(reason) => f.write_str(reason),
        }
    }
}

impl From<String> for RangeRefused {
    fn from(reason: String) -> RangeRefused {
        RangeRefused::Bad(reason)
    }
}

impl Chunk {
    /// The blocks, and the index and certificate of the last one certified.
    pub(crate) fn into_parts(self) -> (Vec<tally_types::Block>, Option<(usize, Certificate)>) {
        (self.blocks, self.certified)
    }
}

impl<S: Scheme + Clone + Send + 'static, N: Network + 'static, C: Clock, W: Workers<N>> Engine<S, N, C, W> {
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
        self.sync = Some(SyncRun::new(self.next_tag, target, target_id, Some(finalization), self.queued));
        if held_whole {
            held.reverse();
            if let Some(run) = self.sync.as_mut() {
                run.next_from = target.next();
                run.received.insert(
                    self.queued.height.next(),
                    Chunk { blocks: held, certified: None, epoch_ended: false },
                );
            }
            self.sync_join()?;
            self.sync_progress();
            return Ok(());
        }
        self.sync_request_more();
        Ok(())
    }

    /// Peers sent messages of a later epoch: the rest of the network finished this node's
    /// epoch while it was away, and no core of this epoch runs any more to finalize what it
    /// lacks. It asks peers for the committed blocks after its tip, up to the end of its
    /// epoch: each range is certified by a finalization of its own epoch (the epoch's last
    /// block always has its own, R8), so the core's scheme checks them; once that last block
    /// is durable the next epoch's core takes over and follows its peers again.
    pub(super) fn start_catch_up(&mut self) {
        let now = self.clock.monotonic_ms();
        if self.sync.is_some() || now < self.catch_up_after_ms {
            return;
        }
        self.catch_up_after_ms = now + CATCH_UP_INTERVAL_MS;
        tracing::info!(
            from = self.queued.height.0,
            epoch = self.core.config().epoch,
            "peers are in a later epoch; catching up to the end of this one"
        );
        let (target, target_id) = (Height(u64::MAX >> 1), BlockId(tally_types::Hash([0; 32])));
        self.sync = Some(SyncRun::new(self.next_tag, target, target_id, None, self.queued));
        self.sync_request_more();
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
        let Some(run) = self.sync.as_mut().filter(|run| run.run == run_id) else {
            tracing::debug!(from = from.0, "answer to an earlier sync run's request; ignored");
            return;
        };
        run.inflight -= 1;
        tracing::debug!(
            from = from.0,
            count,
            bytes = bytes.as_ref().map_or(0, Vec::len),
            "sync range answered"
        );
        let Some(bytes) = bytes.filter(|bytes| !bytes.is_empty()) else {
            self.sync_retry(from, count, tried);
            self.sync_progress();
            return;
        };
        run.checking += 1;
        let rules = self.shared.rules.clone();
        let epoch = self.core.config().epoch;
        let validators = self.core.config().validators.clone();
        // Certificates are checked with the core's scheme, as the core checks them.
        let scheme = self.core.scheme().clone();
        self.workers.spawn(
            Lane::Ingress,
            Box::new(move || {
                let certificate_ok = |certificate: &Certificate| {
                    certificate
                        .verify_batch_with(&validators, |namespace, payload, signed| {
                            scheme.verify_batch(namespace, payload, signed)
                        })
                        .is_ok()
                };
                Event::SyncChecked(Checked {
                    run: run_id,
                    from,
                    count,
                    result: check_range(&rules, epoch, from, count, &bytes, certificate_ok),
                })
            }),
        );
    }

    pub(super) fn on_sync_checked(&mut self, checked: Checked) -> anyhow::Result<()> {
        let Some(run) = self.sync.as_mut().filter(|run| run.run == checked.run) else { return Ok(()) };
        run.checking -= 1;
        tracing::debug!(from = checked.from.0, ok = checked.result.is_ok(), "sync range checked");
        let Checked { from, count, result, .. } = checked;
        match result {
            // A catch-up asks past the end of its epoch without knowing where that is: the
            // answer says. Asking on (and counting it a failure) spent the run's failures on
            // ranges no peer can serve while the one range it needed waited on a silent peer,
            // round after round (found by tally-sim, seed 10073464 n=10: a validator that
            // joined never caught up).
            Err(RangeRefused::LaterEpoch { epoch }) if run.is_catch_up() => {
                tracing::debug!(from = from.0, epoch, "this node's epoch ends before the range");
                run.end_epoch_at(Height(from.0 - 1));
            }
            Err(reason) => {
                tracing::debug!(from = from.0, %reason, "a peer's sync range did not check");
                self.sync_retry(from, count, 1);
            }
            Ok(chunk) => {
                let got = chunk.blocks.len() as u32;
                if chunk.epoch_ended && run.is_catch_up() {
                    run.end_epoch_at(Height(from.0 + u64::from(got) - 1));
                }
                let rest = Height(from.0 + u64::from(got));
                if got < count && rest <= run.target {
                    // A short answer: ask for the rest.
                    run.inflight += 1;
                    let run_id = run.run;
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
                        _ if is_target => run.finalization.clone(),
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
        self.sync_restart_if_stalled();
        let Some(run) = self.sync.as_ref() else { return };
        let reached = self.durable.height >= run.target;
        let idle = run.inflight == 0 && run.checking == 0 && self.durable.height == self.queued.height;
        if reached || (run.gave_up && idle) {
            let committed_any = run.committed_any;
            self.sync = None;
            if committed_any {
                self.inputs.push_back(Input::Synced {
                    anchor: self.durable,
                    finalization: self.durable_certificate.clone(),
                });
            }
        }
    }
}

impl<S: Scheme + Clone + Send + 'static, N: Network + 'static, C: Clock, W: Workers<N>> Engine<S, N, C, W> {
    /// A run that can make no progress (nothing asked, answered or being checked, nothing in
    /// the commit pipeline, the target not reached) holds blocks no verified certificate covers
    /// and cannot ask for more past its window: the peers' ranges carried no finalization that
    /// verifies. It starts again from the durable tip (answers come from other peers), counting
    /// a failure, and gives up after [`SYNC_FAILURES_MAX`] so that the core asks again later.
    fn sync_restart_if_stalled(&mut self) {
        let (durable, queued) = (self.durable, self.queued);
        let Some(run) = self.sync.as_mut() else { return };
        let stalled = !run.gave_up
            && run.inflight == 0
            && run.checking == 0
            && durable.height == queued.height
            && durable.height < run.target;
        if !stalled {
            return;
        }
        run.failures += 1;
        tracing::warn!(
            at = durable.height.0,
            held = run.uncertified.len(),
            failures = run.failures,
            "sync made no progress: no verified finalization covers the blocks received; asking again"
        );
        run.uncertified.clear();
        run.received.clear();
        run.joined = queued;
        run.next_from = queued.height.next();
        if run.failures > SYNC_FAILURES_MAX {
            run.gave_up = true;
            return;
        }
        self.sync_request_more();
    }
}

/// Keeps the blocks of `epoch` at the start of `blocks`: only this node's epoch can be checked
/// (its set signs the certificates); blocks of a later epoch wait for that epoch's core (R8).
/// True when blocks of a later epoch followed (so the last kept block ends the epoch).
fn keep_epoch(blocks: &mut Vec<CommittedBlock>, epoch: u64) -> Result<bool, RangeRefused> {
    let in_epoch = blocks.iter().take_while(|committed| committed.block.header.view.epoch() == epoch).count();
    let first_epoch = blocks.first().map_or(epoch, |committed| committed.block.header.view.epoch());
    if in_epoch == 0 && first_epoch > epoch {
        return Err(RangeRefused::LaterEpoch { epoch: first_epoch });
    }
    if in_epoch == 0 {
        return Err(format!("the range starts in epoch {first_epoch}, this node is in epoch {epoch}").into());
    }
    let epoch_ended = in_epoch < blocks.len();
    blocks.truncate(in_epoch);
    Ok(epoch_ended)
}

/// Checks a range answer without trusting the peer: decodes within limits; heights start at
/// `from`, count at most `count`, and follow one another by parent link; header rules between
/// neighbours; tx roots; and finds the last block whose own finalization verifies (checking
/// from the end, so at most one certificate check per range on the happy path).
pub(crate) fn check_range(
    rules: &ChainRules,
    epoch: u64,
    from: Height,
    count: u32,
    bytes: &[u8],
    certificate_ok: impl Fn(&Certificate) -> bool,
) -> Result<Chunk, RangeRefused> {
    let BlockResponse::Range(mut blocks) =
        decode::<BlockResponse>(bytes).map_err(|error| error.to_string())?;
    if blocks.is_empty() || blocks.len() > count as usize {
        return Err(format!("{} blocks for a request of {count}", blocks.len()).into());
    }
    let epoch_ended = keep_epoch(&mut blocks, epoch)?;
    for (index, committed) in blocks.iter().enumerate() {
        let header = &committed.block.header;
        if header.height.0 != from.0 + index as u64 {
            return Err(format!(
                "block {index} has height {}, expected {}",
                header.height,
                from.0 + index as u64
            )
            .into());
        }
        if index > 0 {
            let parent = BlockRef::of(&blocks[index - 1].block);
            check_child(header, &parent, rules)
                .map_err(|error| format!("height {}: {error}", header.height))?;
        }
        let ids: Vec<TxId> = committed.block.txs.iter().map(SignedTransaction::id).collect();
        if tx_root(&ids) != header.tx_root {
            return Err(format!("height {}: wrong tx root", header.height).into());
        }
    }
    let certified = blocks
        .iter()
        .enumerate()
        .rev()
        .filter(|(_, committed)| {
            committed.certificate.subject.block_id() == Some(committed.block.id())
                && matches!(committed.certificate.subject, Subject::Finalize { .. })
        })
        .take(SYNC_CERTIFICATES_TRIED_MAX)
        .find(|(_, committed)| {
            let ok = certificate_ok(&committed.certificate);
            if !ok {
                tracing::debug!(
                    height = committed.block.header.height.0,
                    "a synced block's finalization does not verify"
                );
            }
            ok
        })
        .map(|(index, committed)| (index, committed.certificate.clone()));
    Ok(Chunk {
        blocks: blocks.into_iter().map(|committed| committed.block).collect(),
        certified,
        epoch_ended,
    })
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use tally_types::codec::BoundedVec;
    use tally_types::{Block, ChainId, Hash, Header, SecretKey, ValidatorIndex, ValidatorSet, View};

    use super::*;

    struct Chain {
        rules: ChainRules,
        validators: ValidatorSet,
        keys: Vec<SecretKey>,
    }

    fn chain() -> Chain {
        let keys: Vec<SecretKey> = (0..4u8).map(|i| SecretKey::from_seed(&[40 + i; 32])).collect();
        let validators = ValidatorSet::new(keys.iter().map(SecretKey::public_key).collect()).expect("set");
        let rules = ChainRules {
            chain_id: ChainId::new("tally-sync-test").expect("valid"),
            validators_hash: validators.hash(),
            me: ValidatorIndex(0),
            block_txs_max: 100,
            block_bytes_max: 1 << 20,
        };
        Chain { rules, validators, keys }
    }

    impl Chain {
        /// Empty blocks at heights `from..from + count`, linked, each with a finalization of
        /// its own signed by three of the four validators.
        fn range(&self, from: u64, count: u64) -> Vec<CommittedBlock> {
            self.range_in_views(from, &(from..from + count).collect::<Vec<_>>())
        }

        /// As [`Chain::range`], block i proposed in view `views[i]`.
        fn range_in_views(&self, from: u64, views: &[u64]) -> Vec<CommittedBlock> {
            let mut parent = BlockId(Hash([7; 32]));
            let mut out = Vec::new();
            for (height, view) in (from..).zip(views) {
                let header = Header {
                    chain_id: self.rules.chain_id.clone(),
                    height: Height(height),
                    view: View(*view),
                    parent_id: parent,
                    time_ms: 1_000 * height,
                    proposer: ValidatorIndex(0),
                    tx_root: tx_root(&[]),
                    receipts_root: Hash([0; 32]),
                    state_root: Hash([0; 32]),
                    validators_hash: self.rules.validators_hash,
                };
                let block = Block { header, txs: BoundedVec::new(Vec::new()).expect("empty") };
                parent = block.id();
                let certificate = self.finalization(&block);
                out.push(CommittedBlock { block, certificate });
            }
            out
        }

        fn finalization(&self, block: &Block) -> Certificate {
            let subject = Subject::Finalize { view: block.header.view, block_id: block.id() };
            let votes: Vec<(ValidatorIndex, tally_types::Signature)> = (0..3u16)
                .map(|i| (ValidatorIndex(i), subject.sign(&self.rules.chain_id, &self.keys[usize::from(i)])))
                .collect();
            Certificate::from_votes(subject, &votes, 4).expect("certificate")
        }

        fn check(&self, from: u64, count: u32, blocks: Vec<CommittedBlock>) -> Result<Chunk, RangeRefused> {
            let bytes = encode(&BlockResponse::Range(blocks));
            check_range(&self.rules, 0, Height(from), count, &bytes, |certificate: &Certificate| {
                certificate.verify(&self.rules.chain_id, &self.validators).is_ok()
            })
        }
    }

    #[test]
    fn a_range_is_cut_where_a_later_epoch_begins_and_refused_if_it_begins_there() {
        let chain = chain();
        let next = View::epoch_base(1).0;
        let blocks = chain.range_in_views(5, &[5, 6, 7, next + 1, next + 2]);
        let chunk = chain.check(5, 5, blocks.clone()).expect("epoch 0's part checks");
        assert!(chunk.epoch_ended, "the answer says where epoch 0 ends");
        let (kept, certified) = chunk.into_parts();
        assert_eq!(kept.len(), 3, "blocks of epoch 1 wait for epoch 1's core");
        assert_eq!(certified.map(|(index, _)| index), Some(2));
        assert!(!chain.check(5, 3, blocks[..3].to_vec()).expect("epoch 0 only").epoch_ended);
        let error = chain.check(8, 2, blocks[3..].to_vec()).err().expect("epoch 1 only");
        assert!(matches!(error, RangeRefused::LaterEpoch { epoch: 1 }), "{error}");
    }

    #[test]
    fn a_catch_up_asks_nothing_past_where_its_epoch_ends() {
        let tip = BlockRef { id: BlockId(Hash([3; 32])), height: Height(4), view: View(10), time_ms: 4_000 };
        let unknown_end = Height(u64::MAX >> 1);
        let mut run = SyncRun::new(1, unknown_end, BlockId(Hash([0; 32])), None, tip);
        assert!(run.is_catch_up());
        run.next_from = Height(261); // four ranges of 64 asked
        run.end_epoch_at(Height(68)); // the range from 69 starts in a later epoch
        assert_eq!((run.target, run.next_from), (Height(68), Height(69)));
        run.end_epoch_at(Height(132)); // a later answer claiming more does not raise it
        assert_eq!((run.target, run.next_from), (Height(68), Height(69)));
        run.end_epoch_at(Height(6)); // the range from 5 ends the epoch at 6
        assert_eq!((run.target, run.next_from), (Height(6), Height(7)));
    }

    #[test]
    fn a_good_range_is_certified_by_its_last_verifying_finalization() {
        let chain = chain();
        let chunk = chain.check(5, 8, chain.range(5, 8)).expect("a good range");
        assert_eq!(chunk.blocks.len(), 8);
        assert_eq!(chunk.certified.as_ref().map(|(index, _)| *index), Some(7));

        // The last two certificates forged (signed by a key outside the set): the last that
        // verifies is the sixth.
        let mut blocks = chain.range(5, 8);
        let outsider = SecretKey::from_seed(&[99; 32]);
        for committed in &mut blocks[6..] {
            let subject = committed.certificate.subject;
            let forged: Vec<(ValidatorIndex, tally_types::Signature)> = (0..3u16)
                .map(|i| (ValidatorIndex(i), subject.sign(&chain.rules.chain_id, &outsider)))
                .collect();
            committed.certificate = Certificate::from_votes(subject, &forged, 4).expect("certificate");
        }
        let chunk = chain.check(5, 8, blocks).expect("blocks still link");
        assert_eq!(chunk.certified.as_ref().map(|(index, _)| *index), Some(5));

        // A certificate naming another block does not certify this one.
        let mut blocks = chain.range(5, 3);
        let other = blocks[0].certificate.clone();
        blocks[2].certificate = other;
        let chunk = chain.check(5, 3, blocks).expect("links");
        assert_eq!(chunk.certified.as_ref().map(|(index, _)| *index), Some(1));
    }

    #[test]
    fn a_range_full_of_bad_certificates_costs_a_bounded_number_of_checks() {
        let chain = chain();
        let checks = Cell::new(0);
        let bytes = encode(&BlockResponse::Range(chain.range(1, 64)));
        let chunk = check_range(&chain.rules, 0, Height(1), 64, &bytes, |_: &Certificate| {
            checks.set(checks.get() + 1);
            false
        })
        .expect("blocks link");
        assert!(chunk.certified.is_none(), "no certificate verified");
        assert_eq!(checks.get(), SYNC_CERTIFICATES_TRIED_MAX);
    }

    #[test]
    fn a_peer_cannot_hand_over_blocks_that_do_not_chain() {
        let chain = chain();
        let error = |blocks: Vec<CommittedBlock>, from: u64, count: u32| {
            chain.check(from, count, blocks).err().expect("refused").to_string()
        };
        assert!(error(chain.range(5, 3), 6, 3).contains("height"), "wrong start height");
        assert!(error(chain.range(5, 4), 5, 3).contains("for a request of 3"), "more than asked");
        assert!(error(Vec::new(), 5, 3).contains("0 blocks"), "an empty answer");

        let mut unlinked = chain.range(5, 3);
        unlinked[1] = chain.range(6, 1).remove(0); // height 6, but another parent
        assert!(error(unlinked, 5, 3).contains("height 6"));

        let mut wrong_root = chain.range(5, 3);
        wrong_root[2].block.header.tx_root = Hash([1; 32]);
        let error = chain.check(5, 3, wrong_root).err().expect("refused").to_string();
        assert!(error.contains("tx root") || error.contains("height 7"), "{error}");
        assert!(chain.check(5, 3, Vec::new()).is_err());
        let garbage = check_range(&chain.rules, 0, Height(5), 3, b"not a range", |_: &Certificate| true);
        assert!(garbage.is_err());
    }
}
