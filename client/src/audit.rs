//! The auditor (docs/ARCHITECTURE.md "Audit and export"): verifies a whole chain from its genesis file alone.
//!
//! For every block from height 1, in order: the chain id, the height sequence, the parent link
//! (the previous header's block id; the genesis hash for block 1), the validators hash (the
//! hash of the block's epoch's validator set), the view (one of the block's epoch,
//! `View::epoch`), strictly increasing time (block 1 after the genesis time), the
//! finalization certificate (≥ n − f valid `Finalize` signatures of the block's epoch's
//! validators, in a view of that epoch, over this block's id or a descendant's id), every
//! transaction's form and signature
//! (ZIP-215, `tally_types::keys`), the tx root, re-execution with the ledger code on an in-memory state
//! built from the genesis ledger, the receipts root and the state root against the header, and
//! the history invariants (each seq used once and in order, each grant id once, the themed
//! checks). The state invariants ([`tally_ledger::check_invariants`]) are checked after every
//! block by default ([`InvariantPolicy::EveryBlock`], so a broken invariant is named at the
//! first height where it holds); [`InvariantPolicy::Amortized`] checks after block 1, after the
//! last block, and in between whenever the transactions executed since the last check reach a
//! quarter of the state's entry count, so that their cost stays a fixed fraction of the work
//! however large the state grows.
//!
//! Epochs (docs/ARCHITECTURE.md "Governance and epochs"): the validator set of each height is
//! derived from the replayed state after the block before it ([`crate::epochs::EpochTracker`],
//! the rule the node follows), so a chain whose validators changed by governance is checked
//! epoch by epoch from the genesis file alone; a ledger without an epochs entry keeps the
//! genesis set for ever. A failure of the validators hash, the view or the certificate names
//! the epoch whose set was expected.
//!
//! The first failure stops the audit and names the height, the transaction (index and id) when
//! one is at fault, the check (the header field or the step), and the expected and actual
//! values.
//!
//! A certificate stored with a block may finalize a descendant (a node commits the ancestors
//! of a finalized block with that block's certificate). Such a block counts as certified once
//! the named descendant appears in the chain through parent links, within
//! [`DESCENDANT_CERTIFICATE_BLOCKS_MAX`] blocks; if it never does, the failure names the block
//! whose certificate it was.
//!
//! Speed: signatures are checked on a pool of worker threads, a few blocks ahead of execution,
//! while the calling thread executes; reading and decoding records runs on its own thread. All
//! queues between them are bounded.

use std::collections::VecDeque;
use std::fmt;
use std::ops::Range;
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;
use tally_genesis::Genesis;
use tally_ledger::{BlockContext, BlockError, BlockOutput, EntryKind, History, MemState, execute_block};
use tally_types::archive::{ArchiveError, ArchiveHeader, ArchiveRecord};
use tally_types::block::{ChildError, ParentLink, receipts_root, tx_root};
use tally_types::tx::TxFormError;
use tally_types::{
    Block, BlockId, Certificate, ChainId, Hash, Header, Height, Receipt, SignedTransaction, Subject, TxId,
    View,
};

use crate::epochs::{Epoch, EpochTracker};

/// Blocks whose signatures are checked ahead of the block being executed.
pub const LOOKAHEAD_BLOCKS: usize = 3;
/// Transactions per signature job: large enough that queueing costs nothing next to the
/// checks, small enough to spread one block over every worker.
pub const SIGNATURE_JOB_TXS: usize = 256;
/// How many blocks a certificate naming a descendant may stay unresolved. An honest node
/// commits a finalized block's ancestors with it, and those runs are short (the node's sync
/// refuses runs above 256 blocks).
pub const DESCENDANT_CERTIFICATE_BLOCKS_MAX: usize = 1_024;
/// Worker threads for signature checks, at most.
pub const SIGNATURE_THREADS_MAX: usize = 64;

/// The step or header field an audit failure is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Check {
    /// The block source (archive or node) could not deliver a record.
    Source,
    /// The archive's genesis hash is not the genesis file's.
    GenesisHash,
    ChainId,
    Height,
    ParentId,
    ValidatorsHash,
    /// The block's view is not one of its height's epoch.
    View,
    TimeMs,
    /// The finalization certificate: kind, shape, quorum, signatures, view.
    Certificate,
    /// The header does not hash to the block id its certificate (and its child's parent link)
    /// name: a header field was changed after finalization.
    BlockId,
    TxSignature,
    TxRoot,
    /// A transaction that could not have been included (seq, expiry, chain).
    TxInclusion,
    ReceiptsRoot,
    StateRoot,
    /// A history invariant (seq order, grant ids, themed checks).
    History,
    /// A state invariant.
    Invariant,
    /// The ledger state could not be read or updated (a bug, not a property of the chain).
    Internal,
}

impl Check {
    /// The snake_case name printed in reports.
    pub fn name(self) -> &'static str {
        match self {
            Check::Source => "source",
            Check::GenesisHash => "genesis_hash",
            Check::ChainId => "chain_id",
            Check::Height => "height",
            Check::ParentId => "parent_id",
            Check::ValidatorsHash => "validators_hash",
            Check::View => "view",
            Check::TimeMs => "time_ms",
            Check::Certificate => "certificate",
            Check::BlockId => "block_id",
            Check::TxSignature => "tx_signature",
            Check::TxRoot => "tx_root",
            Check::TxInclusion => "tx_inclusion",
            Check::ReceiptsRoot => "receipts_root",
            Check::StateRoot => "state_root",
            Check::History => "history",
            Check::Invariant => "invariant",
            Check::Internal => "internal",
        }
    }
}

impl fmt::Display for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The first thing that did not verify.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AuditFailure {
    /// The height of the block at fault; 0 for the archive as a whole (its genesis hash).
    pub height: Height,
    /// The transaction's index in the block, when one is at fault.
    pub tx_index: Option<usize>,
    pub tx_id: Option<TxId>,
    pub check: Check,
    /// What went wrong, in a sentence.
    pub message: String,
    pub expected: Option<String>,
    pub actual: Option<String>,
}

impl AuditFailure {
    fn new(height: Height, check: Check, message: impl Into<String>) -> Self {
        AuditFailure {
            height,
            tx_index: None,
            tx_id: None,
            check,
            message: message.into(),
            expected: None,
            actual: None,
        }
    }

    fn values(mut self, expected: impl fmt::Display, actual: impl fmt::Display) -> Self {
        self.expected = Some(expected.to_string());
        self.actual = Some(actual.to_string());
        self
    }

    fn tx(mut self, index: usize, id: TxId) -> Self {
        self.tx_index = Some(index);
        self.tx_id = Some(id);
        self
    }
}

impl fmt::Display for AuditFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "height {}", self.height)?;
        if let Some(index) = self.tx_index {
            write!(f, ", transaction {index}")?;
        }
        if let Some(id) = &self.tx_id {
            write!(f, " ({id})")?;
        }
        write!(f, ": {}: {}", self.check, self.message)?;
        if let (Some(expected), Some(actual)) = (&self.expected, &self.actual) {
            write!(f, " (expected {expected}, actual {actual})")?;
        }
        Ok(())
    }
}

impl std::error::Error for AuditFailure {}

/// Why a block source could not deliver the next record.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error(transparent)]
    Archive(#[from] ArchiveError),
    #[error("node: {0}")]
    Node(String),
}

/// When the state invariants are checked (the history invariants are checked every block).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum InvariantPolicy {
    /// After every block.
    EveryBlock,
    /// After block 1, the last block, and whenever the transactions executed since the last
    /// check reach a quarter of the state's entries.
    Amortized,
}

/// How to audit.
#[derive(Clone, Debug)]
pub struct AuditOptions {
    /// Worker threads for signature checks (at least 1).
    pub signature_threads: usize,
    pub invariants: InvariantPolicy,
}

impl Default for AuditOptions {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, |cores| cores.get());
        AuditOptions {
            signature_threads: cores.clamp(1, SIGNATURE_THREADS_MAX),
            invariants: InvariantPolicy::EveryBlock,
        }
    }
}

/// Where an audit is, reported after every verified block.
#[derive(Clone, Copy, Debug)]
pub struct Progress {
    pub height: Height,
    pub txs: u64,
    pub elapsed: Duration,
}

/// What a successful audit verified.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AuditSummary {
    pub chain_id: ChainId,
    pub genesis_hash: Hash,
    pub blocks: u64,
    pub final_height: Height,
    pub final_block_id: BlockId,
    /// The epoch of the last block (0 when the validators never changed).
    pub final_epoch: u64,
    pub state_root: Hash,
    pub txs: u64,
    /// Transactions whose ops all applied.
    pub txs_succeeded: u64,
    pub ops: u64,
    /// Accounts in the final state.
    pub accounts: u64,
    /// Entries in the final state.
    pub state_entries: u64,
    /// Transaction signatures plus certificate signatures checked.
    pub signatures: u64,
    pub invariant_policy: InvariantPolicy,
    /// Blocks after which the state invariants were checked.
    pub invariant_checks: u64,
    pub elapsed_ms: u64,
    pub txs_per_second: f64,
    /// Every epoch of the chain with its validator set, for checking evidence
    /// ([`check_evidence`]).
    #[serde(skip)]
    pub epochs: Vec<Epoch>,
}

/// What the audit concluded about one equivocation record a node served.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum EvidenceVerdict {
    /// Both messages verify under the epoch's validator set and conflict: the validator is
    /// proven faulty.
    Proven { validator: u16, key: tally_types::PublicKey },
    /// Not evidence: the node serves a false or damaged record (the reason names why).
    Invalid { reason: String },
    /// Of an epoch past the audited chain; audit again later to check it.
    Unchecked { reason: String },
}

/// One evidence record and its verdict.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EvidenceFinding {
    pub key: String,
    pub kind: String,
    pub view: u64,
    pub epoch: u64,
    #[serde(flatten)]
    pub verdict: EvidenceVerdict,
}

/// Checks each evidence record (`GET /v1/evidence`) on its own: its borsh bytes decode, the
/// fields the node printed beside them match them, and [`tally_types::consensus::Evidence::verify`]
/// holds under the validator set of the view's epoch, taken from the audited chain (`epochs`).
pub fn check_evidence(
    chain_id: &ChainId,
    epochs: &[Epoch],
    records: &[crate::http::EvidenceRecord],
) -> Vec<EvidenceFinding> {
    records
        .iter()
        .map(|record| EvidenceFinding {
            key: record.key.clone(),
            kind: record.kind.clone(),
            view: record.view,
            epoch: record.epoch,
            verdict: evidence_verdict(chain_id, epochs, record),
        })
        .collect()
}

fn evidence_verdict(
    chain_id: &ChainId,
    epochs: &[Epoch],
    record: &crate::http::EvidenceRecord,
) -> EvidenceVerdict {
    use tally_types::consensus::Evidence;
    let invalid = |reason: String| EvidenceVerdict::Invalid { reason };
    let Ok(bytes) = hex::decode(&record.record) else {
        return invalid("`record` is not hex".into());
    };
    let evidence = match tally_types::codec::decode::<Evidence>(&bytes) {
        Ok(evidence) => evidence,
        Err(error) => return invalid(format!("`record` does not decode as evidence: {error}")),
    };
    let view = evidence.view();
    let kind = match evidence {
        Evidence::ConflictingProposals { .. } => "conflicting_proposals",
        Evidence::ConflictingVotes { .. } => "conflicting_votes",
    };
    if (view.0, view.epoch(), kind) != (record.view, record.epoch, record.kind.as_str()) {
        return invalid(format!(
            "the record is {kind} in view {view} (epoch {}), but the node lists it as {} in view {} (epoch {})",
            view.epoch(),
            record.kind,
            record.view,
            record.epoch
        ));
    }
    let Some(epoch) = epochs.iter().find(|epoch| epoch.number == view.epoch()) else {
        let last = epochs.last().map_or(0, |epoch| epoch.number);
        return EvidenceVerdict::Unchecked {
            reason: format!("epoch {} is past the audited chain's last epoch {last}", view.epoch()),
        };
    };
    match evidence.verify(chain_id, &epoch.validators) {
        Ok(validator) if validator.0 != record.signer => invalid(format!(
            "the record proves validator {validator}, but the node names validator {}",
            record.signer
        )),
        Ok(validator) => match epoch.validators.key(validator) {
            Some(key) => EvidenceVerdict::Proven { validator: validator.0, key: *key },
            None => invalid(format!("validator {validator} is not in epoch {}", epoch.number)),
        },
        Err(error) => invalid(error.to_string()),
    }
}

/// One signature job: a slice of one block's transactions.
struct Job {
    /// Position of the block in the audit (0 for height 1).
    sequence: u64,
    block: Arc<Block>,
    range: Range<usize>,
}

/// What a worker found in one job: the tx ids (in order), or the first bad transaction.
struct JobResult {
    sequence: u64,
    start: usize,
    outcome: Result<Vec<TxId>, (usize, TxFormError)>,
}

/// A block read and sent to the workers, waiting for execution.
struct InFlight {
    sequence: u64,
    block: Arc<Block>,
    certificate: Certificate,
    jobs_pending: usize,
    ids: Vec<TxId>,
    bad_signature: Option<(usize, TxFormError)>,
}

fn signature_worker(jobs: Arc<Mutex<Receiver<Job>>>, results: mpsc::Sender<JobResult>) {
    loop {
        // The lock is held only to take one job; a poisoned lock means another worker
        // panicked, and this one stops too (the audit then reports the lost job).
        let job = match jobs.lock() {
            Ok(receiver) => receiver.recv(),
            Err(_) => return,
        };
        let Ok(job) = job else { return };
        let mut ids = Vec::with_capacity(job.range.len());
        let mut outcome = Ok(());
        for index in job.range.clone() {
            let tx = &job.block.txs[index];
            if let Err(error) = tx.check_form_and_signature() {
                outcome = Err((index, error));
                break;
            }
            ids.push(tx.id());
        }
        let result =
            JobResult { sequence: job.sequence, start: job.range.start, outcome: outcome.map(|()| ids) };
        if results.send(result).is_err() {
            return;
        }
    }
}

/// Per-block certificate bookkeeping: blocks certified by a descendant's finalization.
struct PendingCertificate {
    height: Height,
    view: View,
    block_id: BlockId,
}

/// The audit's running state between blocks.
struct Auditor {
    chain_id: ChainId,
    /// The epoch of the block being checked, and every one before it.
    epochs: EpochTracker,
    state: MemState,
    history: History,
    options: AuditOptions,
    previous_id: BlockId,
    previous_time_ms: u64,
    pending: VecDeque<PendingCertificate>,
    txs_since_invariants: u64,
    summary: AuditSummary,
}

impl Auditor {
    fn new(genesis: &Genesis, options: AuditOptions) -> Self {
        let state = genesis.initial_state();
        Auditor {
            chain_id: genesis.chain_id().clone(),
            epochs: EpochTracker::new(genesis),
            summary: AuditSummary {
                chain_id: genesis.chain_id().clone(),
                genesis_hash: genesis.hash(),
                blocks: 0,
                final_height: Height(0),
                final_block_id: genesis.parent_of_first_block(),
                final_epoch: 0,
                state_root: state.root(),
                txs: 0,
                txs_succeeded: 0,
                ops: 0,
                accounts: 0,
                state_entries: 0,
                signatures: 0,
                invariant_policy: options.invariants,
                invariant_checks: 0,
                elapsed_ms: 0,
                txs_per_second: 0.0,
                epochs: Vec::new(),
            },
            state,
            history: History::new(),
            options,
            previous_id: genesis.parent_of_first_block(),
            previous_time_ms: genesis.genesis_time_ms(),
            pending: VecDeque::new(),
            txs_since_invariants: 0,
        }
    }

    fn expected_height(&self) -> Height {
        Height(self.summary.final_height.0 + 1)
    }

    /// The checks that need only the header and the certificate.
    fn check_header_and_certificate(
        &mut self,
        block: &Block,
        certificate: &Certificate,
    ) -> Result<(), AuditFailure> {
        let header = &block.header;
        let expected = self.expected_height();
        let at = |check, message: &str| AuditFailure::new(expected, check, message);
        let parent = ParentLink {
            id: self.previous_id,
            height: self.summary.final_height,
            time_ms: self.previous_time_ms,
        };
        // The set of this height, by the replayed state after the previous block.
        let epoch =
            self.epochs.advance(&self.state, expected).map_err(|error| at(Check::Internal, &error))?.clone();
        if let Err(error) = header.check_child_of(&parent, &self.chain_id, &epoch.validators_hash) {
            return Err(self.child_failure(expected, &error, &epoch));
        }
        if header.view.epoch() != epoch.number {
            return Err(at(
                Check::View,
                &format!(
                    "the block was made in view {} of epoch {}, but height {expected} belongs to {epoch}",
                    header.view,
                    header.view.epoch()
                ),
            )
            .values(format!("a view of epoch {}", epoch.number), format!("epoch {}", header.view.epoch())));
        }
        let block_id = block.id();
        self.settle_pending_certificates(header, block_id, expected)?;
        let (view, named) = self.verify_finalization(certificate, &epoch, expected)?;
        self.place_finalization(header, block_id, view, named, expected)
    }

    /// This block may be the descendant that earlier blocks' certificates named: those
    /// certificates are settled when their view fits this block's.
    fn settle_pending_certificates(
        &mut self,
        header: &Header,
        block_id: BlockId,
        expected: Height,
    ) -> Result<(), AuditFailure> {
        while let Some(front) = self.pending.front() {
            if front.block_id != block_id {
                break;
            }
            // The view of the named block's finalization: its own, or a later view of its
            // epoch when the block ended its epoch and was re-proposed (R8).
            if front.view < header.view || front.view.epoch() != header.view.epoch() {
                return Err(AuditFailure::new(
                    front.height,
                    Check::Certificate,
                    format!(
                        "the certificate finalizes block {block_id} (height {expected}) in a view that is not \
                         its own or a later one of its epoch"
                    ),
                )
                .values(format!("view {} to the end of epoch {}", header.view, header.view.epoch()), front.view));
            }
            self.pending.pop_front();
        }
        Ok(())
    }

    /// Checks that `certificate` is a finalization of a view of `epoch`, signed by a quorum of
    /// its validators; returns the view and the block it finalizes.
    fn verify_finalization(
        &mut self,
        certificate: &Certificate,
        epoch: &Epoch,
        expected: Height,
    ) -> Result<(View, BlockId), AuditFailure> {
        let at = |check, message: &str| AuditFailure::new(expected, check, message);
        let Subject::Finalize { view, block_id: named } = certificate.subject else {
            return Err(at(Check::Certificate, "the certificate is not a finalization")
                .values("finalize", format!("{:?}", certificate.subject)));
        };
        // An epoch's blocks are finalized by its own validators in its own views (R8): a
        // certificate of another epoch is refused even if that epoch's set signed it.
        if view.epoch() != epoch.number {
            return Err(at(
                Check::Certificate,
                &format!(
                    "the finalization is of view {view} of epoch {}, but the block belongs to {epoch}, whose own \
                     validators must finalize it",
                    view.epoch()
                ),
            )
            .values(format!("a view of epoch {}", epoch.number), format!("epoch {}", view.epoch())));
        }
        certificate.verify(&self.chain_id, &epoch.validators).map_err(|error| {
            at(
                Check::Certificate,
                &format!("the finalization does not verify against the validators of {epoch}: {error}"),
            )
            .values(
                format!(
                    "{} of the {} validators of epoch {} (set {})",
                    epoch.validators.quorum(),
                    epoch.validators.len(),
                    epoch.number,
                    epoch.validators_hash
                ),
                format!("{} signatures: {error}", certificate.signatures.len()),
            )
        })?;
        self.summary.signatures += certificate.signatures.len() as u64;
        Ok((view, named))
    }

    /// A finalization of this block must be in its own view or a later one; one of another
    /// block waits, within a bound, for that descendant to appear.
    fn place_finalization(
        &mut self,
        header: &Header,
        block_id: BlockId,
        view: View,
        named: BlockId,
        expected: Height,
    ) -> Result<(), AuditFailure> {
        if named == block_id {
            // Its own view, or a later one of the same epoch (checked above): an epoch's last
            // block is re-proposed, keeping its header, until its own validators finalize it (R8).
            if view < header.view {
                return Err(AuditFailure::new(
                    expected,
                    Check::Certificate,
                    "the certificate finalizes this block in a view before its own",
                )
                .values(format!("view {} or later", header.view), view));
            }
        } else {
            self.pending.push_back(PendingCertificate { height: expected, view, block_id: named });
            if self.pending.len() > DESCENDANT_CERTIFICATE_BLOCKS_MAX {
                let oldest = self.pending.front().expect("the queue holds more than the limit, so not empty");
                return Err(AuditFailure::new(
                    oldest.height,
                    Check::Certificate,
                    format!(
                        "the certificate names block {} as finalized, which is not this block and not among the \
                         next {DESCENDANT_CERTIFICATE_BLOCKS_MAX} blocks",
                        oldest.block_id
                    ),
                ));
            }
        }
        Ok(())
    }

    /// The failure for a header that does not extend the previous block
    /// ([`tally_types::Header::check_child_of`]), named at `expected`, the height of the block
    /// at this position.
    fn child_failure(&self, expected: Height, error: &ChildError, epoch: &Epoch) -> AuditFailure {
        if let ChildError::ParentId { found, .. } = error
            && let Some(last) = self.pending.back()
            && last.height.0 + 1 == expected.0
            && last.block_id == *found
        {
            // A previous block certified by a descendant's certificate that names exactly this
            // block's parent: the previous header was changed after it was finalized.
            return AuditFailure::new(
                last.height,
                Check::BlockId,
                "the header does not hash to the block that was finalized: its certificate and the next block's \
                 parent link both name another block id",
            )
            .values(last.block_id, self.previous_id);
        }
        let (check, message) = match error {
            ChildError::ChainId { .. } => (Check::ChainId, "the header names another chain"),
            ChildError::Height { .. } => (Check::Height, "the block at this position has another height"),
            ChildError::ParentId { .. } if expected.0 == 1 => {
                (Check::ParentId, "block 1's parent is not the genesis hash")
            }
            ChildError::ParentId { .. } => {
                (Check::ParentId, "the parent link is not the previous block's id")
            }
            ChildError::ValidatorsHash { .. } => {
                (Check::ValidatorsHash, "the header names another validator set")
            }
            ChildError::Time { .. } => (Check::TimeMs, "time is not after the parent's"),
        };
        let mut message = message.to_owned();
        if check == Check::ValidatorsHash {
            message.push_str(&format!(" than that of {epoch}"));
        }
        let (wanted, found) = error.expected_and_found();
        AuditFailure::new(expected, check, message).values(wanted, found)
    }

    /// Everything after the header: signatures (already checked by the workers), roots,
    /// execution, invariants. Commits the block to the audit state.
    fn check_body(&mut self, flight: &InFlight, started: Instant, last: bool) -> Result<(), AuditFailure> {
        let block = &flight.block;
        let header = &block.header;
        let height = header.height;
        let txs: &[SignedTransaction] = block.txs.as_slice();
        check_signatures_and_tx_root(flight)?;
        let (output, root) = self.execute_and_check_roots(flight)?;
        self.history
            .observe_block(height, txs, &output.receipts)
            .map_err(|violation| AuditFailure::new(height, Check::History, violation.to_string()))?;
        let tx_count = txs.len() as u64;
        self.check_invariants_when_due(height, tx_count, last)?;
        self.record_block(block, root, &output.receipts, started);
        Ok(())
    }

    /// Re-executes the block on the audit state and checks the receipts root and the state
    /// root against its header; returns the execution's output and the new state root.
    fn execute_and_check_roots(&mut self, flight: &InFlight) -> Result<(BlockOutput, Hash), AuditFailure> {
        let header = &flight.block.header;
        let height = header.height;
        let txs: &[SignedTransaction] = flight.block.txs.as_slice();
        let context = BlockContext { chain_id: self.chain_id.clone(), height, time_ms: header.time_ms };
        let output = execute_block(&self.state, &context, txs).map_err(|error| match error {
            BlockError::InvalidTx { index, reason } => AuditFailure::new(
                height,
                Check::TxInclusion,
                format!("the transaction cannot be in a block: {reason}"),
            )
            .tx(index, flight.ids[index]),
            BlockError::State(error) => AuditFailure::new(height, Check::Internal, error.to_string()),
        })?;
        let computed_receipts_root = receipts_root(&output.receipts);
        if computed_receipts_root != header.receipts_root {
            let mut failure = AuditFailure::new(
                height,
                Check::ReceiptsRoot,
                "re-executing the block gives other receipts than the header commits to",
            )
            .values(computed_receipts_root, header.receipts_root);
            failure.message.push_str(&format!(" ({} receipts)", output.receipts.len()));
            return Err(failure);
        }
        let root = self
            .state
            .commit(&output.writes)
            .map_err(|error| AuditFailure::new(height, Check::Internal, format!("state tree: {error}")))?;
        if root != header.state_root {
            return Err(AuditFailure::new(
                height,
                Check::StateRoot,
                "re-executing the block gives another state root",
            )
            .values(root, header.state_root));
        }
        Ok((output, root))
    }

    /// Checks the state invariants after this block when the policy says they are due.
    fn check_invariants_when_due(
        &mut self,
        height: Height,
        tx_count: u64,
        last: bool,
    ) -> Result<(), AuditFailure> {
        self.txs_since_invariants += tx_count;
        let due = match self.options.invariants {
            InvariantPolicy::EveryBlock => true,
            InvariantPolicy::Amortized => {
                height.0 == 1
                    || last
                    || self.txs_since_invariants.saturating_mul(4) >= self.state.len() as u64
            }
        };
        if due {
            self.state
                .check_invariants()
                .map_err(|violation| AuditFailure::new(height, Check::Invariant, violation.to_string()))?;
            // The ledger facts badges are proven by must equal what the history implies.
            self.history
                .check_facts(self.state.entries())
                .map_err(|violation| AuditFailure::new(height, Check::Invariant, violation.to_string()))?;
            self.summary.invariant_checks += 1;
            self.txs_since_invariants = 0;
        }
        Ok(())
    }

    /// Counts a verified block into the summary and makes it the parent of the next.
    fn record_block(&mut self, block: &Block, root: Hash, receipts: &[Receipt], started: Instant) {
        let header = &block.header;
        let height = header.height;
        let txs: &[SignedTransaction] = block.txs.as_slice();
        let tx_count = txs.len() as u64;
        let summary = &mut self.summary;
        summary.blocks += 1;
        summary.final_height = height;
        summary.final_block_id = block.id();
        summary.final_epoch = self.epochs.current().number;
        summary.state_root = root;
        summary.txs += tx_count;
        summary.signatures += tx_count;
        summary.txs_succeeded +=
            receipts.iter().filter(|receipt| receipt.outcome == tally_types::TxOutcome::Success).count()
                as u64;
        summary.ops += txs.iter().map(|tx| tx.tx.ops.len() as u64).sum::<u64>();
        summary.elapsed_ms = started.elapsed().as_millis() as u64;
        self.previous_id = summary.final_block_id;
        self.previous_time_ms = header.time_ms;
    }

    fn finish(mut self, started: Instant) -> Result<AuditSummary, AuditFailure> {
        if let Some(oldest) = self.pending.front() {
            return Err(AuditFailure::new(
                oldest.height,
                Check::Certificate,
                format!(
                    "the certificate names block {} as finalized, which is neither this block nor any later block \
                     up to height {}",
                    oldest.block_id, self.summary.final_height
                ),
            ));
        }
        // A chain with no blocks still has a genesis state to check.
        if self.summary.blocks == 0 {
            self.state
                .check_invariants()
                .map_err(|violation| AuditFailure::new(Height(0), Check::Invariant, violation.to_string()))?;
            self.summary.invariant_checks += 1;
        }
        let elapsed = started.elapsed();
        self.summary.elapsed_ms = elapsed.as_millis() as u64;
        self.summary.txs_per_second =
            if elapsed.is_zero() { 0.0 } else { self.summary.txs as f64 / elapsed.as_secs_f64() };
        self.summary.state_entries = self.state.len() as u64;
        self.summary.accounts =
            self.state.entries().filter(|(key, _)| key.kind() == EntryKind::Account).count() as u64;
        self.summary.epochs = self.epochs.epochs().to_vec();
        Ok(self.summary)
    }
}

/// The first transaction whose signature the workers refused, then the tx root over the ids
/// they computed.
fn check_signatures_and_tx_root(flight: &InFlight) -> Result<(), AuditFailure> {
    let header = &flight.block.header;
    let height = header.height;
    if let Some((index, error)) = &flight.bad_signature {
        let id = flight.block.txs[*index].id();
        return Err(AuditFailure::new(height, Check::TxSignature, format!("transaction refused: {error}"))
            .tx(*index, id));
    }
    let computed_tx_root = tx_root(&flight.ids);
    if computed_tx_root != header.tx_root {
        return Err(AuditFailure::new(
            height,
            Check::TxRoot,
            "the tx root is not the root of the block's transactions",
        )
        .values(computed_tx_root, header.tx_root));
    }
    Ok(())
}

/// Checks an archive's header against the genesis file: same chain, same genesis hash.
pub fn check_archive_header(genesis: &Genesis, header: &ArchiveHeader) -> Result<(), AuditFailure> {
    if &header.chain_id != genesis.chain_id() {
        return Err(AuditFailure::new(
            Height(0),
            Check::ChainId,
            "the archive is of another chain than the genesis file",
        )
        .values(genesis.chain_id(), &header.chain_id));
    }
    if header.genesis_hash != genesis.hash() {
        return Err(AuditFailure::new(
            Height(0),
            Check::GenesisHash,
            "the archive was exported from a chain with another genesis file",
        )
        .values(genesis.hash(), header.genesis_hash));
    }
    Ok(())
}

/// Audits the chain `source` yields (records for heights 1, 2, ... in order) against
/// `genesis`. `progress` is called after every verified block. Returns the summary when every
/// block verifies, or the first failure.
pub fn audit<S>(
    genesis: &Genesis,
    source: S,
    options: AuditOptions,
    progress: &mut dyn FnMut(&Progress),
) -> Result<AuditSummary, AuditFailure>
where
    S: Iterator<Item = Result<ArchiveRecord, SourceError>> + Send,
{
    let started = Instant::now();
    let threads = options.signature_threads.clamp(1, SIGNATURE_THREADS_MAX);
    let mut auditor = Auditor::new(genesis, options);
    std::thread::scope(|scope| {
        // Reader: decoding runs beside execution; the bounded queue keeps at most a few
        // blocks in memory.
        let (record_sender, records) =
            mpsc::sync_channel::<Result<ArchiveRecord, SourceError>>(LOOKAHEAD_BLOCKS);
        scope.spawn(move || read_records(source, record_sender));
        let (job_sender, job_receiver) = mpsc::channel::<Job>();
        let (result_sender, results) = mpsc::channel::<JobResult>();
        let job_receiver = Arc::new(Mutex::new(job_receiver));
        for _ in 0..threads {
            let jobs = Arc::clone(&job_receiver);
            let results = result_sender.clone();
            scope.spawn(move || signature_worker(jobs, results));
        }
        drop(result_sender);
        // Dropping the senders and receivers on return stops the workers and the reader.
        let outcome = run(&mut auditor, &records, &job_sender, &results, started, progress);
        drop(job_sender);
        drop(records);
        outcome
    })?;
    auditor.finish(started)
}

fn read_records<S>(source: S, sender: SyncSender<Result<ArchiveRecord, SourceError>>)
where
    S: Iterator<Item = Result<ArchiveRecord, SourceError>>,
{
    for item in source {
        let failed = item.is_err();
        if sender.send(item).is_err() || failed {
            return;
        }
    }
}

fn run(
    auditor: &mut Auditor,
    records: &Receiver<Result<ArchiveRecord, SourceError>>,
    jobs: &mpsc::Sender<Job>,
    results: &Receiver<JobResult>,
    started: Instant,
    progress: &mut dyn FnMut(&Progress),
) -> Result<(), AuditFailure> {
    let mut in_flight: VecDeque<InFlight> = VecDeque::new();
    let mut next_sequence = 0u64;
    let mut source_done = false;
    let mut source_error: Option<AuditFailure> = None;
    loop {
        // Keep the workers fed a few blocks ahead of execution.
        while !source_done && in_flight.len() < LOOKAHEAD_BLOCKS {
            match records.recv() {
                Ok(Ok(record)) => {
                    in_flight.push_back(dispatch_signature_jobs(auditor, record, next_sequence, jobs)?);
                    next_sequence += 1;
                }
                Ok(Err(error)) => {
                    // Blocks already read are still audited first: their failures come first.
                    source_done = true;
                    let height = Height(auditor.summary.final_height.0 + in_flight.len() as u64 + 1);
                    source_error = Some(AuditFailure::new(height, Check::Source, error.to_string()));
                }
                Err(_) => source_done = true,
            }
        }
        let Some(mut flight) = in_flight.pop_front() else { break };
        auditor.check_header_and_certificate(&flight.block, &flight.certificate)?;
        await_signatures(auditor, &mut flight, &mut in_flight, results)?;
        let last = source_done && in_flight.is_empty() && source_error.is_none();
        auditor.check_body(&flight, started, last)?;
        progress(&Progress {
            height: auditor.summary.final_height,
            txs: auditor.summary.txs,
            elapsed: started.elapsed(),
        });
    }
    match source_error {
        Some(failure) => Err(failure),
        None => Ok(()),
    }
}

/// Sends a block's transactions to the signature workers in jobs of
/// [`SIGNATURE_JOB_TXS`]; returns the block in flight, waiting for their results.
fn dispatch_signature_jobs(
    auditor: &Auditor,
    record: ArchiveRecord,
    sequence: u64,
    jobs: &mpsc::Sender<Job>,
) -> Result<InFlight, AuditFailure> {
    let block = Arc::new(record.block);
    let tx_count = block.txs.len();
    let mut jobs_pending = 0;
    for start in (0..tx_count).step_by(SIGNATURE_JOB_TXS) {
        let range = start..(start + SIGNATURE_JOB_TXS).min(tx_count);
        jobs.send(Job { sequence, block: Arc::clone(&block), range }).map_err(|_| worker_gone(auditor))?;
        jobs_pending += 1;
    }
    Ok(InFlight {
        sequence,
        block,
        certificate: record.certificate,
        jobs_pending,
        ids: vec![TxId::default(); tx_count],
        bad_signature: None,
    })
}

/// Receives worker results until every job of `flight` is in. Results for blocks further
/// ahead (`in_flight`) are filed as they come; each block keeps its lowest-index refusal.
fn await_signatures(
    auditor: &Auditor,
    flight: &mut InFlight,
    in_flight: &mut VecDeque<InFlight>,
    results: &Receiver<JobResult>,
) -> Result<(), AuditFailure> {
    while flight.jobs_pending > 0 {
        let result = results.recv().map_err(|_| worker_gone(auditor))?;
        let target = if result.sequence == flight.sequence {
            &mut *flight
        } else {
            in_flight
                .iter_mut()
                .find(|other| other.sequence == result.sequence)
                .expect("results come only for blocks in flight")
        };
        target.jobs_pending -= 1;
        match result.outcome {
            Ok(ids) => target.ids[result.start..result.start + ids.len()].copy_from_slice(&ids),
            Err((index, error)) => {
                if target.bad_signature.as_ref().is_none_or(|(first, _)| index < *first) {
                    target.bad_signature = Some((index, error));
                }
            }
        }
    }
    Ok(())
}

fn worker_gone(auditor: &Auditor) -> AuditFailure {
    AuditFailure::new(auditor.expected_height(), Check::Internal, "a signature worker stopped unexpectedly")
}

/// Records from an archive, as an audit source.
pub fn archive_source<R: std::io::Read + Send>(
    reader: tally_types::archive::ArchiveReader<R>,
) -> impl Iterator<Item = Result<ArchiveRecord, SourceError>> + Send {
    reader.map(|item| item.map_err(SourceError::from))
}

/// Records fetched from a node's HTTP API, heights 1..=`up_to`.
pub fn node_source(
    client: NodeBlocks,
    up_to: Height,
) -> impl Iterator<Item = Result<ArchiveRecord, SourceError>> + Send {
    let mut failed = false;
    (1..=up_to.0).map_while(move |height| {
        if failed {
            return None;
        }
        let item = client.record(Height(height));
        failed = item.is_err();
        Some(item)
    })
}

/// Fetches blocks and certificates as canonical bytes (`?format=borsh`) from a node: JSON
/// would round-trip through the text forms, and the auditor wants exactly what was signed.
#[derive(Clone)]
pub struct NodeBlocks {
    client: crate::http::NodeClient,
}

impl NodeBlocks {
    /// A fetcher for the node at `base_url` (`http://host:port`).
    pub fn new(base_url: &str) -> Result<Self, SourceError> {
        let client =
            crate::http::NodeClient::new(base_url).map_err(|error| SourceError::Node(error.to_string()))?;
        Ok(NodeBlocks { client })
    }

    /// The canonical bytes at `path`; a missing one is an error (the audit asks only up to the tip).
    fn get_bytes(&self, path: &str) -> Result<Vec<u8>, SourceError> {
        match self.client.get_canonical(path) {
            Ok(Some(bytes)) => Ok(bytes),
            Ok(None) => Err(SourceError::Node(format!("{}{path}: not found", self.client.base_url()))),
            Err(error) => Err(SourceError::Node(error.to_string())),
        }
    }

    /// The block and certificate at `height`, decoded strictly.
    pub fn record(&self, height: Height) -> Result<ArchiveRecord, SourceError> {
        let block_bytes = self.get_bytes(&format!("/v1/blocks/{height}"))?;
        let block = tally_types::decode::<Block>(&block_bytes)
            .map_err(|error| SourceError::Node(format!("block {height}: {error}")))?;
        let certificate_bytes = self.get_bytes(&format!("/v1/blocks/{height}/certificate"))?;
        let certificate = tally_types::decode::<Certificate>(&certificate_bytes)
            .map_err(|error| SourceError::Node(format!("certificate {height}: {error}")))?;
        Ok(ArchiveRecord { block, certificate })
    }
}

#[cfg(test)]
mod tests {
    use tally_types::{Amount, BoundedBytes, BoundedVec, Header};

    use super::*;
    use crate::test_net::GENESIS_TIME_MS;

    /// A change to one header field.
    type HeaderEdit<'a> = Box<dyn Fn(&mut Header) + 'a>;

    fn genesis() -> Genesis {
        crate::test_net::testnet("audit-unit", 27_100, Some(Amount(1_000))).genesis
    }

    /// Block 1 with a header that extends the genesis, and an unsigned certificate for it.
    fn first_block(genesis: &Genesis) -> (Block, Certificate) {
        let header = Header {
            chain_id: genesis.chain_id().clone(),
            height: Height(1),
            view: View(1),
            parent_id: genesis.parent_of_first_block(),
            time_ms: GENESIS_TIME_MS + 1,
            proposer: tally_types::ValidatorIndex(1),
            tx_root: tx_root(&[]),
            receipts_root: receipts_root(&[]),
            state_root: Hash::plain(b"state"),
            validators_hash: genesis.validator_set().hash(),
        };
        let block = Block { header, txs: BoundedVec::empty() };
        let certificate = Certificate {
            subject: Subject::Finalize { view: View(1), block_id: block.id() },
            signers: BoundedBytes::empty(),
            signatures: BoundedVec::empty(),
        };
        (block, certificate)
    }

    fn check(genesis: &Genesis, change: impl Fn(&mut Header)) -> AuditFailure {
        let (mut block, certificate) = first_block(genesis);
        change(&mut block.header);
        let mut auditor =
            Auditor::new(genesis, AuditOptions { signature_threads: 1, ..AuditOptions::default() });
        auditor.check_header_and_certificate(&block, &certificate).expect_err("the certificate is unsigned")
    }

    #[test]
    fn each_header_rule_is_named_with_its_values() {
        let genesis = genesis();
        // Unchanged, the header passes every rule and the audit goes on to the certificate.
        assert_eq!(check(&genesis, |_| {}).check, Check::Certificate);
        let other_chain = ChainId::new("tally-other").expect("valid chain id");
        let other_block = BlockId(Hash([7; 32]));
        let cases: Vec<(Check, HeaderEdit, String, String)> = vec![
            (
                Check::ChainId,
                Box::new(|header| header.chain_id = other_chain.clone()),
                genesis.chain_id().to_string(),
                other_chain.to_string(),
            ),
            (Check::Height, Box::new(|header| header.height = Height(2)), "1".into(), "2".into()),
            (
                Check::ParentId,
                Box::new(|header| header.parent_id = other_block),
                genesis.parent_of_first_block().to_string(),
                other_block.to_string(),
            ),
            (
                Check::ValidatorsHash,
                Box::new(|header| header.validators_hash = Hash([8; 32])),
                genesis.validator_set().hash().to_string(),
                Hash([8; 32]).to_string(),
            ),
            (
                Check::TimeMs,
                Box::new(|header| header.time_ms = GENESIS_TIME_MS),
                format!("> {GENESIS_TIME_MS}"),
                GENESIS_TIME_MS.to_string(),
            ),
        ];
        for (check_named, change, expected, actual) in cases {
            let failure = check(&genesis, change);
            assert_eq!((failure.height, failure.check), (Height(1), check_named), "{failure}");
            assert_eq!((failure.expected, failure.actual), (Some(expected), Some(actual)), "{check_named}");
        }
        let failure = check(&genesis, |header| header.parent_id = other_block);
        assert!(failure.message.contains("genesis hash"), "{failure}");
    }
}
