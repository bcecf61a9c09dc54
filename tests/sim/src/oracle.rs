//! The invariant oracle: checks safety and liveness from what hosts observe, written apart
//! from the consensus core.
//!
//! It never calls into `tally-consensus` logic. Its inputs are facts the simulator sees
//! outside the cores: blocks on the wire, the votes honest hosts send under their own key,
//! finalization certificates, and the blocks each honest host commits. From those alone it
//! checks:
//! - S1: no two finalizations for different blocks in one view;
//! - S2: no two different blocks final at one height (a finalized block makes its ancestors
//!   final too);
//! - S3: every honest host commits one chain, heights 1, 2, 3, ... each extending the last,
//!   and all hosts commit the same chain (each a prefix of the longest);
//! - S4: no honest validator signs two different notarizes (a proposal counts as its
//!   leader's notarize), two different finalizes, or both nullify and finalize in one view;
//! - L1: after GST, a block of a later view is committed within a bounded number of views.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use tally_types::{Block, BlockId, Height, Subject, ValidatorIndex, View};

use crate::network::NodeId;
use crate::queue::SimTime;

/// The most violations one run records; the first few explain a failure, and a broken core
/// would otherwise fill memory with repeats.
pub const VIOLATIONS_MAX: usize = 64;

/// A broken invariant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Violation {
    /// S1.
    ConflictingFinalizations { view: View, first: BlockId, second: BlockId },
    /// S2.
    ConflictingFinalizedBlocks { height: Height, first: BlockId, second: BlockId },
    /// S3: a host committed a different block than another host at that height.
    DivergentCommit { node: NodeId, height: Height, expected: BlockId, got: BlockId },
    /// S3: a host skipped or repeated a height.
    CommitOutOfOrder { node: NodeId, expected: Height, got: Height },
    /// S3: a committed block does not extend the host's previous commit.
    CommitBreaksChain { node: NodeId, height: Height },
    /// S4.
    DoubleNotarize { signer: ValidatorIndex, view: View, first: BlockId, second: BlockId },
    /// S4.
    DoubleFinalize { signer: ValidatorIndex, view: View, first: BlockId, second: BlockId },
    /// S4.
    NullifyAndFinalize { signer: ValidatorIndex, view: View },
    /// L1: no block of a view after `view_at_gst` was committed within `bound_views` views.
    NoProgressAfterGst { view_at_gst: View, bound_views: u64, first_committed_view: Option<View> },
    /// L1: an honest host did not catch up with the chain after GST.
    HostBehind { node: NodeId, committed: Height, chain: Height },
    /// S1: a view has both a nullification and a finalization certificate.
    NullifiedAndFinalized { view: View },
    /// E1: a committed block was proposed in another epoch than the chain scheduled for its
    /// height (a change passed at H starts the next epoch at H + 2).
    WrongEpoch { height: Height, view: View, expected: u64 },
    /// L2: a change passed, but the chain never reached the first block of the epoch it
    /// scheduled (liveness after each change).
    EpochNeverStarted { epoch: u64, start: Height, chain: Height },
    /// A check performed by a host (a committed block that fails verification, a certificate
    /// that does not verify, ...).
    Host { node: NodeId, what: String },
}

impl Violation {
    /// True for a safety violation (S1–S4 and host checks), false for liveness (L1).
    pub fn is_safety(&self) -> bool {
        !matches!(
            self,
            Violation::NoProgressAfterGst { .. }
                | Violation::HostBehind { .. }
                | Violation::EpochNeverStarted { .. }
        )
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Violation::ConflictingFinalizations { view, first, second } => {
                write!(f, "S1 two finalizations in view {view}: {first} and {second}")
            }
            Violation::ConflictingFinalizedBlocks { height, first, second } => {
                write!(f, "S2 two blocks final at height {height}: {first} and {second}")
            }
            Violation::DivergentCommit { node, height, expected, got } => {
                write!(f, "S3 {node} committed {got} at height {height}, others committed {expected}")
            }
            Violation::WrongEpoch { height, view, expected } => write!(
                f,
                "E1 the block at height {height} is of view {view} (epoch {}), but the chain scheduled epoch {expected} there",
                view.epoch()
            ),
            Violation::CommitOutOfOrder { node, expected, got } => {
                write!(f, "S3 {node} committed height {got} when height {expected} was next")
            }
            Violation::CommitBreaksChain { node, height } => {
                write!(f, "S3 {node} committed a block at height {height} that does not extend its chain")
            }
            Violation::DoubleNotarize { signer, view, first, second } => {
                write!(f, "S4 honest validator {signer} notarized {first} and {second} in view {view}")
            }
            Violation::DoubleFinalize { signer, view, first, second } => {
                write!(f, "S4 honest validator {signer} finalized {first} and {second} in view {view}")
            }
            Violation::NullifyAndFinalize { signer, view } => {
                write!(f, "S4 honest validator {signer} signed both nullify and finalize in view {view}")
            }
            Violation::NoProgressAfterGst { view_at_gst, bound_views, first_committed_view } => {
                match first_committed_view {
                    Some(view) => write!(
                        f,
                        "L1 after GST (view {view_at_gst}) the first new committed block is of view {view}, beyond the bound of {bound_views} views"
                    ),
                    None => write!(
                        f,
                        "L1 after GST (view {view_at_gst}) no new block was committed (bound {bound_views} views)"
                    ),
                }
            }
            Violation::HostBehind { node, committed, chain } => {
                write!(
                    f,
                    "L1 {node} committed only to height {committed} after GST; the chain reached {chain}"
                )
            }
            Violation::NullifiedAndFinalized { view } => {
                write!(f, "S1 view {view} has both a nullification and a finalization")
            }
            Violation::EpochNeverStarted { epoch, start, chain } => write!(
                f,
                "L2 epoch {epoch} was scheduled to start at height {start}, but the chain stopped at {chain}"
            ),
            Violation::Host { node, what } => write!(f, "host {node}: {what}"),
        }
    }
}

/// What one block is, as far as the oracle needs.
#[derive(Clone, Copy, Debug)]
struct BlockFacts {
    height: Height,
    view: View,
    parent: BlockId,
}

/// What one honest validator signed in one view.
#[derive(Clone, Copy, Debug, Default)]
struct SignedInView {
    notarize: Option<BlockId>,
    nullify: bool,
    finalize: Option<BlockId>,
}

/// One commit by one honest host.
#[derive(Clone, Copy, Debug)]
pub struct CommitRecord {
    pub time: SimTime,
    pub node: NodeId,
    pub height: Height,
    pub view: View,
}

/// The oracle's state for one run.
pub struct Oracle {
    /// Validators whose key only honest code holds; S4 applies to them. Twins and Byzantine
    /// validators are left out: their double signing is the attack, not a violation.
    honest_signers: BTreeSet<ValidatorIndex>,
    blocks: BTreeMap<BlockId, BlockFacts>,
    signed: BTreeMap<(ValidatorIndex, View), SignedInView>,
    finalization_in_view: BTreeMap<View, BlockId>,
    nullified_views: BTreeSet<View>,
    final_at_height: BTreeMap<Height, BlockId>,
    /// Finalized blocks whose contents (or an ancestor's) the oracle has not seen yet; the
    /// walk down the chain resumes when the block appears.
    finalized_unknown: BTreeSet<BlockId>,
    /// The chain every honest host commits: `chain[h - 1]` is the block at height h.
    chain: Vec<BlockId>,
    /// Per host, the height of its last commit and that block.
    host_tip: BTreeMap<NodeId, (Height, BlockId)>,
    commits: Vec<CommitRecord>,
    violations: Vec<Violation>,
    dropped_violations: usize,
    genesis_parent: BlockId,
    /// Per epoch, the highest view an honest host sent a message in.
    highest_views: BTreeMap<u64, View>,
}

impl Oracle {
    /// An oracle for a chain whose first block has parent `genesis_parent`, with S4 applied
    /// to `honest_signers`.
    pub fn new(genesis_parent: BlockId, honest_signers: BTreeSet<ValidatorIndex>) -> Self {
        Oracle {
            honest_signers,
            blocks: BTreeMap::new(),
            signed: BTreeMap::new(),
            finalization_in_view: BTreeMap::new(),
            nullified_views: BTreeSet::new(),
            final_at_height: BTreeMap::new(),
            finalized_unknown: BTreeSet::new(),
            chain: Vec::new(),
            host_tip: BTreeMap::new(),
            commits: Vec::new(),
            violations: Vec::new(),
            dropped_violations: 0,
            genesis_parent,
            highest_views: BTreeMap::new(),
        }
    }

    /// Records a broken invariant.
    pub fn violate(&mut self, violation: Violation) {
        if self.violations.len() < VIOLATIONS_MAX {
            self.violations.push(violation);
        } else {
            self.dropped_violations += 1;
        }
    }

    /// The violations so far.
    pub fn violations(&self) -> &[Violation] {
        &self.violations
    }

    /// Violations beyond [`VIOLATIONS_MAX`] that were counted but not kept.
    pub fn dropped_violations(&self) -> usize {
        self.dropped_violations
    }

    /// The committed chain (block ids by height, from height 1).
    pub fn chain(&self) -> &[BlockId] {
        &self.chain
    }

    /// Every commit, in order.
    pub fn commits(&self) -> &[CommitRecord] {
        &self.commits
    }

    /// Notes a block seen anywhere (on the wire, built, committed).
    pub fn observe_block(&mut self, block: &Block) {
        let id = block.id();
        let header = &block.header;
        self.blocks.entry(id).or_insert(BlockFacts {
            height: header.height,
            view: header.view,
            parent: header.parent_id,
        });
        if self.finalized_unknown.remove(&id) {
            self.mark_final(id);
        }
    }

    /// Notes a vote that honest code sent under validator `signer`'s key (S4). Votes of
    /// validators outside the honest set are ignored.
    pub fn observe_signed(&mut self, signer: ValidatorIndex, subject: Subject) {
        if !self.honest_signers.contains(&signer) {
            return;
        }
        let view = subject.view();
        let record = self.signed.entry((signer, view)).or_default();
        let mut found = None;
        match subject {
            Subject::Notarize { block_id, .. } => match record.notarize {
                Some(first) if first != block_id => {
                    found = Some(Violation::DoubleNotarize { signer, view, first, second: block_id })
                }
                _ => record.notarize = Some(block_id),
            },
            Subject::Nullify { .. } => {
                record.nullify = true;
                if record.finalize.is_some() {
                    found = Some(Violation::NullifyAndFinalize { signer, view });
                }
            }
            Subject::Finalize { block_id, .. } => {
                match record.finalize {
                    Some(first) if first != block_id => {
                        found = Some(Violation::DoubleFinalize { signer, view, first, second: block_id })
                    }
                    _ => record.finalize = Some(block_id),
                }
                if record.nullify && found.is_none() {
                    found = Some(Violation::NullifyAndFinalize { signer, view });
                }
            }
        }
        if let Some(violation) = found {
            self.violate(violation);
        }
    }

    /// Notes a finalization certificate for `block_id` in `view` that verified (a quorum of
    /// valid finalize signatures). S1, and S2 through the block and its ancestors.
    pub fn observe_finalization(&mut self, view: View, block_id: BlockId) {
        match self.finalization_in_view.get(&view) {
            Some(&first) if first != block_id => {
                self.violate(Violation::ConflictingFinalizations { view, first, second: block_id });
            }
            Some(_) => {}
            None => {
                self.finalization_in_view.insert(view, block_id);
                if self.nullified_views.contains(&view) {
                    self.violate(Violation::NullifiedAndFinalized { view });
                }
                self.mark_final(block_id);
            }
        }
    }

    /// Notes a nullification certificate for `view` that verified.
    pub fn observe_nullification(&mut self, view: View) {
        if self.nullified_views.insert(view) && self.finalization_in_view.contains_key(&view) {
            self.violate(Violation::NullifiedAndFinalized { view });
        }
    }

    /// True when `ancestor` is `descendant` or one of its ancestors, as far as the blocks
    /// seen so far tell; `None` when a block on the way down is unknown.
    pub fn is_ancestor_or_self(&self, ancestor: BlockId, descendant: BlockId) -> Option<bool> {
        let target_height = self.blocks.get(&ancestor)?.height;
        let mut id = descendant;
        loop {
            if id == ancestor {
                return Some(true);
            }
            let facts = self.blocks.get(&id)?;
            if facts.height <= target_height {
                return Some(false);
            }
            id = facts.parent;
        }
    }

    /// The height and view of a block seen so far.
    pub fn block_position(&self, id: &BlockId) -> Option<(Height, View)> {
        self.blocks.get(id).map(|facts| (facts.height, facts.view))
    }

    /// Walks from a finalized block down its ancestors, recording each as final at its
    /// height (S2). Stops at a height already recorded with the same block (its ancestors
    /// were walked then) or at a block not seen yet (resumed by [`Self::observe_block`]).
    fn mark_final(&mut self, mut id: BlockId) {
        loop {
            if id == self.genesis_parent {
                return;
            }
            let Some(facts) = self.blocks.get(&id).copied() else {
                self.finalized_unknown.insert(id);
                return;
            };
            match self.final_at_height.get(&facts.height) {
                Some(&first) if first == id => return,
                Some(&first) => {
                    self.violate(Violation::ConflictingFinalizedBlocks {
                        height: facts.height,
                        first,
                        second: id,
                    });
                    return;
                }
                None => {
                    self.final_at_height.insert(facts.height, id);
                }
            }
            id = facts.parent;
        }
    }

    /// Notes that honest host `node` committed `block` at `time` (S3, and S2 for the block).
    pub fn observe_commit(&mut self, time: SimTime, node: NodeId, block: &Block) {
        self.observe_block(block);
        let id = block.id();
        let height = block.header.height;
        let (expected_height, expected_parent) = match self.host_tip.get(&node) {
            Some(&(tip_height, tip)) => (tip_height.next(), tip),
            None => (Height(1), self.genesis_parent),
        };
        if height != expected_height {
            self.violate(Violation::CommitOutOfOrder { node, expected: expected_height, got: height });
            return;
        }
        if block.header.parent_id != expected_parent {
            self.violate(Violation::CommitBreaksChain { node, height });
        }
        self.host_tip.insert(node, (height, id));
        let index = (height.0 - 1) as usize;
        match self.chain.get(index) {
            Some(&expected) if expected != id => {
                self.violate(Violation::DivergentCommit { node, height, expected, got: id });
            }
            Some(_) => {}
            None => {
                // Heights arrive in order per host (checked above), so the chain grows by one.
                self.chain.push(id);
            }
        }
        self.mark_final(id);
        self.commits.push(CommitRecord { time, node, height, view: block.header.view });
    }

    /// The height host `node` has committed to (zero if none).
    pub fn committed_height(&self, node: NodeId) -> Height {
        self.host_tip.get(&node).map(|&(height, _)| height).unwrap_or(Height(0))
    }

    /// L1: some honest host committed a block of a view in `(view_at_gst, view_at_gst +
    /// bound_views]`. `view_at_gst` is the highest view any honest host had entered at GST.
    pub fn check_progress_after_gst(&mut self, view_at_gst: View, bound_views: u64) {
        let first = self.commits.iter().map(|commit| commit.view).filter(|view| *view > view_at_gst).min();
        let ok = first.is_some_and(|view| self.views_between(view_at_gst, view) <= bound_views);
        if !ok {
            self.violate(Violation::NoProgressAfterGst {
                view_at_gst,
                bound_views,
                first_committed_view: first,
            });
        }
    }

    /// Views entered from `from` to `to`. Within an epoch, the difference; across epochs (each
    /// numbers its views from its base, R8), the views of `to`'s epoch up to `to` plus those of
    /// `from`'s epoch after `from` up to the highest any honest host sent a message in (so a
    /// long stall at an epoch's end counts), and none for the epochs between.
    fn views_between(&self, from: View, to: View) -> u64 {
        if from.epoch() == to.epoch() {
            return to.0.saturating_sub(from.0);
        }
        let last_of_from = self.highest_views.get(&from.epoch()).copied().unwrap_or(from);
        (to.0 - View::epoch_base(to.epoch()).0) + last_of_from.0.saturating_sub(from.0)
    }

    /// Notes that an honest host sent a message of `view` (the highest view of each epoch that
    /// honest hosts reached, for [`Oracle::views_between`]).
    pub fn observe_view(&mut self, view: View) {
        let highest = self.highest_views.entry(view.epoch()).or_insert(view);
        *highest = (*highest).max(view);
    }

    /// L1 (catch-up): every host in `hosts` has committed at least to `height`.
    pub fn check_caught_up(&mut self, hosts: &[NodeId], height: Height) {
        for &node in hosts {
            let committed = self.committed_height(node);
            if committed < height {
                self.violate(Violation::HostBehind { node, committed, chain: height });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use tally_types::{BoundedVec, ChainId, Hash, Header};

    use super::*;

    fn block(height: u64, view: u64, parent: BlockId, salt: u8) -> Block {
        Block {
            header: Header {
                chain_id: ChainId::new("sim-test").expect("valid chain id"),
                height: Height(height),
                view: View(view),
                parent_id: parent,
                time_ms: view * 10,
                proposer: ValidatorIndex(0),
                tx_root: Hash::ZERO,
                receipts_root: Hash::ZERO,
                state_root: Hash([salt; 32]),
                validators_hash: Hash::ZERO,
            },
            txs: BoundedVec::empty(),
        }
    }

    fn oracle() -> Oracle {
        Oracle::new(BlockId(Hash::ZERO), [ValidatorIndex(0), ValidatorIndex(1)].into_iter().collect())
    }

    #[test]
    fn honest_double_notarize_and_nullify_finalize_are_caught() {
        let mut oracle = oracle();
        let a = block(1, 1, BlockId(Hash::ZERO), 1).id();
        let b = block(1, 1, BlockId(Hash::ZERO), 2).id();
        oracle.observe_signed(ValidatorIndex(0), Subject::Notarize { view: View(1), block_id: a });
        oracle.observe_signed(ValidatorIndex(0), Subject::Notarize { view: View(1), block_id: a });
        assert!(oracle.violations().is_empty(), "the same vote twice is a resend, not a violation");
        oracle.observe_signed(ValidatorIndex(0), Subject::Notarize { view: View(1), block_id: b });
        oracle.observe_signed(ValidatorIndex(1), Subject::Finalize { view: View(1), block_id: a });
        oracle.observe_signed(ValidatorIndex(1), Subject::Nullify { view: View(1) });
        // Validator 2 is not honest: its equivocation is the attack, not a violation.
        oracle.observe_signed(ValidatorIndex(2), Subject::Notarize { view: View(1), block_id: a });
        oracle.observe_signed(ValidatorIndex(2), Subject::Notarize { view: View(1), block_id: b });
        assert_eq!(
            oracle.violations(),
            &[
                Violation::DoubleNotarize { signer: ValidatorIndex(0), view: View(1), first: a, second: b },
                Violation::NullifyAndFinalize { signer: ValidatorIndex(1), view: View(1) },
            ]
        );
    }

    #[test]
    fn conflicting_finalizations_are_caught_through_ancestors() {
        let mut oracle = oracle();
        let genesis = BlockId(Hash::ZERO);
        let a1 = block(1, 1, genesis, 1);
        let b1 = block(1, 2, genesis, 2);
        let b2 = block(2, 3, b1.id(), 3);
        oracle.observe_finalization(View(1), a1.id());
        // The finalization of b2 arrives before b2 or b1 are seen; the walk resumes later.
        oracle.observe_finalization(View(3), b2.id());
        assert!(oracle.violations().is_empty());
        oracle.observe_block(&b2);
        assert!(oracle.violations().is_empty());
        oracle.observe_block(&a1);
        oracle.observe_block(&b1);
        assert_eq!(
            oracle.violations(),
            &[Violation::ConflictingFinalizedBlocks { height: Height(1), first: a1.id(), second: b1.id() }]
        );
        oracle.observe_finalization(View(3), a1.id());
        assert!(matches!(oracle.violations()[1], Violation::ConflictingFinalizations { .. }));
    }

    #[test]
    fn commits_must_agree_and_be_in_order() {
        let mut oracle = oracle();
        let genesis = BlockId(Hash::ZERO);
        let a1 = block(1, 1, genesis, 1);
        let a2 = block(2, 2, a1.id(), 2);
        let b2 = block(2, 3, a1.id(), 3);
        oracle.observe_commit(SimTime(1), NodeId(0), &a1);
        oracle.observe_commit(SimTime(2), NodeId(0), &a2);
        oracle.observe_commit(SimTime(3), NodeId(1), &a1);
        assert!(oracle.violations().is_empty());
        oracle.observe_commit(SimTime(4), NodeId(1), &b2);
        oracle.observe_commit(SimTime(5), NodeId(2), &a2);
        assert!(matches!(oracle.violations()[0], Violation::DivergentCommit { height: Height(2), .. }));
        assert!(matches!(
            oracle.violations()[1],
            Violation::ConflictingFinalizedBlocks { height: Height(2), .. }
        ));
        assert!(matches!(
            oracle.violations()[2],
            Violation::CommitOutOfOrder { expected: Height(1), got: Height(2), .. }
        ));
    }

    #[test]
    fn progress_after_gst_is_bounded() {
        let mut oracle = oracle();
        let genesis = BlockId(Hash::ZERO);
        oracle.observe_commit(SimTime(1), NodeId(0), &block(1, 9, genesis, 1));
        oracle.check_progress_after_gst(View(5), 3);
        assert!(matches!(oracle.violations()[0], Violation::NoProgressAfterGst { .. }));
        oracle.check_progress_after_gst(View(5), 4);
        assert_eq!(oracle.violations().len(), 1);
        oracle.check_caught_up(&[NodeId(0), NodeId(1)], Height(1));
        assert!(matches!(oracle.violations()[1], Violation::HostBehind { node: NodeId(1), .. }));
    }
}
