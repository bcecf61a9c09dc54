//! Proof checking shared by `tally badge verify` and `tally verify`: the finality of a block
//! against its epoch's validator set, a transaction's and its receipt's inclusion in a block,
//! and a state entry (present or absent) under a finalized header's state root.
//!
//! The evidence comes from a [`ChainSource`]: a node over HTTP ([`NodeSource`]), or an archive
//! replayed locally from the genesis file ([`ArchiveSource`]). Nothing a source says is
//! trusted: every header is tied to a finalization certificate checked against the validators
//! of its height's epoch as established from the genesis file ([`Trust`]), and every
//! transaction, receipt and state entry to a header by a Merkle proof. A source can withhold
//! evidence, never forge it (short of ≥ n − f validators of an epoch signing a forgery).
//!
//! Epochs (docs/ARCHITECTURE.md "Governance and epochs"): [`Trust::epochs`] holds the
//! validator sets the verifier has established from the genesis file alone. The archive source
//! establishes every epoch of its chain by replaying it ([`ArchiveSource::epochs`], from the
//! replayed state after each block, as the auditor does). A node source proves them step by
//! step (`GET /v1/epochs`, [`NodeSource::epochs`]): for each epoch, the last block of the one
//! before, its finalization by the set already trusted, and the next set proven under that
//! block's state root; [`Trust::follow_epochs`] walks them from the genesis set
//! ([`verify_epoch_step`]). A block of an epoch that was not established is refused with
//! [`ProofError::EpochUnknown`], naming its height and epoch. Every check of a header or a
//! certificate names the height and the epoch whose set it was checked against.
//!
//! A block's stored certificate finalizes either the block itself or a descendant finalized
//! with it (docs/ARCHITECTURE.md "Blocks and consensus"); in the second case the parent links from the certified block back
//! to this one are followed, at most [`FINALITY_WALK_MAX`] blocks.
//!
//! By job: this file holds what every check shares (trust, evidence, finality, inclusion);
//! `node.rs` fetches evidence over HTTP, `archive.rs` replays an archive into evidence, and
//! `badge.rs` runs the six steps of badge verification.

use std::collections::BTreeMap;
use std::io::BufReader;
use std::path::Path;

use serde::Deserialize;
use tally_genesis::Genesis;
use tally_ledger::state::StateValue;
use tally_ledger::{BlockContext, MemState, StateKey, verify_state_proof};
use tally_types::archive::{ArchiveError, ArchiveReader};
use tally_types::block::{ChildError, ParentLink, receipts_root, tx_root};
use tally_types::hash::merkle_leaf;
use tally_types::merkle::{MerkleProof, prove};
use tally_types::smt::SmtProof;
use tally_types::tx::Op;
use tally_types::{
    Block, BlockId, Certificate, ChainId, Hash, Header, Height, Receipt, SignedTransaction, Subject, TxId,
    decode,
};

pub use crate::epochs::Epoch;
use crate::epochs::EpochTracker;
use crate::http::{HttpError, NodeClient};

/// The most blocks followed from a certified descendant back to the block it finalizes. The
/// node's sync bounds a certificate's run the same way (`SYNC_RUN_MAX` = 256), so an honest
/// chain never needs more.
pub const FINALITY_WALK_MAX: u64 = 256;

/// What a verifier trusts: the genesis file, and nothing else.
#[derive(Clone, Debug)]
pub struct Trust {
    pub chain_id: ChainId,
    pub genesis_hash: Hash,
    /// The epochs established from the genesis file, in order, starting with epoch 0 (the
    /// genesis validators): only ever those of a replay from genesis
    /// ([`ArchiveSource::epochs`]). The last one is taken to last until the tip.
    pub epochs: Vec<Epoch>,
    /// The lowest finalized height whose state a verifier accepts for state proofs (issuer
    /// membership, non-revocation). A node chooses the header it proves against; an outdated
    /// or dishonest one could answer from a height before a revocation (withholding, not
    /// forgery). A verifier that knows the chain reached some height says so here.
    pub min_state_height: Height,
    /// The time (Unix seconds) at which a credential's validity window is checked; `None`
    /// for the verifier's clock when the check runs. Verification reads no clock of its own
    /// when this is set, so a report can be reproduced.
    pub credential_time_unix_s: Option<i64>,
}

impl Trust {
    /// The trust anchored in a genesis document.
    pub fn from_genesis(genesis: &Genesis) -> Self {
        Trust {
            chain_id: genesis.chain_id().clone(),
            genesis_hash: genesis.hash(),
            epochs: vec![Epoch::genesis(genesis)],
            min_state_height: Height(0),
            credential_time_unix_s: None,
        }
    }

    /// Establishes the epochs of `steps` (as `GET /v1/epochs` answers, in order) after the
    /// last one already trusted, each from the one before: see [`verify_epoch_step`]. Steps
    /// of epochs already established are skipped. The first step that does not check stops
    /// the walk with its epoch and height named; the epochs before it stay established.
    pub fn follow_epochs(&mut self, steps: &[EpochStep]) -> Result<(), ProofError> {
        for step in steps {
            let previous = self.epochs.last().expect("a trust always holds epoch 0");
            if step.number <= previous.number {
                continue;
            }
            let epoch = verify_epoch_step(&self.chain_id, previous, step)?;
            self.epochs.push(epoch);
        }
        Ok(())
    }

    /// The epoch of `height` among those established: the last one starting by then.
    pub fn epoch_at(&self, height: Height) -> &Epoch {
        self.epochs
            .iter()
            .rev()
            .find(|epoch| epoch.start_height <= height)
            .or(self.epochs.first())
            .expect("a trust always holds epoch 0")
    }
}

/// Why evidence could not be obtained or did not check.
#[derive(Debug, thiserror::Error)]
pub enum ProofError {
    #[error(transparent)]
    Http(#[from] HttpError),
    #[error("the archive cannot be read: {0}")]
    Archive(#[from] ArchiveError),
    #[error("{what}: expected {expected}, found {actual}")]
    Mismatch { what: String, expected: String, actual: String },
    /// A header does not extend its parent, or names another chain or validator set
    /// ([`tally_types::Header::check_child_of`]); `at` says which block.
    #[error("{at}: {error}")]
    Header { at: String, error: ChildError },
    /// The source does not have what the check needs: above its tip, not kept, or withheld.
    #[error("{0}")]
    Missing(String),
    /// The node's API has no route this check needs (an older or a different node).
    #[error("the node has no {route} endpoint")]
    Unsupported { route: &'static str },
    /// A piece of evidence does not decode; `what` names it.
    #[error("{what} {reason}")]
    Malformed { what: String, reason: String },
    /// A Merkle or sparse-Merkle proof does not check; `what` names it.
    #[error("{what}: {reason}")]
    BadProof { what: String, reason: String },
    /// A certificate is not a valid finalization by the validators of its block's epoch.
    #[error("the certificate at height {height} (epoch {epoch}): {reason}")]
    Certificate { height: Height, epoch: u64, reason: String },
    /// A block is of an epoch whose validator set the verifier has not established from the
    /// genesis file: the source did not prove it (a node without `GET /v1/epochs`, or one that
    /// recorded no proof for that epoch), or withheld it.
    #[error(
        "the block at height {height} was made in epoch {epoch}, but only epochs up to {known} are established \
         from the genesis file: the source did not prove the later validator sets (GET /v1/epochs); verify \
         with --archive (a replay from genesis) instead"
    )]
    EpochUnknown { height: Height, epoch: u64, known: u64 },
    /// A step of the chain of trust through the epochs does not check.
    #[error("the step to epoch {epoch} (the last block of epoch {} at height {height}): {reason}", epoch - 1)]
    EpochStep { epoch: u64, height: Height, reason: String },
    /// A block of an archive does not replay: its certificate, a signature or its execution.
    #[error("block {height}: {reason}")]
    Replay { height: Height, reason: String },
    /// A file cannot be opened.
    #[error("cannot open {path}: {reason}")]
    Open { path: std::path::PathBuf, reason: String },
}

impl ProofError {
    fn mismatch(what: impl Into<String>, expected: impl ToString, actual: impl ToString) -> Self {
        ProofError::Mismatch { what: what.into(), expected: expected.to_string(), actual: actual.to_string() }
    }

    /// The expected and actual values, when the error is a mismatch.
    pub fn expected_actual(&self) -> Option<(String, String)> {
        match self {
            ProofError::Mismatch { expected, actual, .. } => Some((expected.clone(), actual.clone())),
            ProofError::Header { error, .. } => Some(error.expected_and_found()),
            _ => None,
        }
    }
}

/// A state entry as a source reports it: the encoded value (or `None`) and its proof.
#[derive(Clone, Debug, Deserialize)]
pub struct EntryEvidence {
    /// Hex of the encoded [`StateValue`], or `None` for a proof of absence.
    pub value: Option<String>,
    pub proof: SmtProof,
}

impl EntryEvidence {
    /// Checks the entry under `key` against `state_root` and returns the proven value.
    pub fn verify(&self, state_root: &Hash, key: &StateKey) -> Result<Option<StateValue>, ProofError> {
        let bytes = match &self.value {
            Some(text) => Some(hex::decode(text).map_err(|error| ProofError::Malformed {
                what: "entry value".into(),
                reason: format!("is not hex: {error}"),
            })?),
            None => None,
        };
        verify_state_proof(state_root, key, bytes.as_deref(), &self.proof).map_err(|error| {
            ProofError::BadProof { what: format!("state proof for {key:?}"), reason: error.to_string() }
        })?;
        match bytes {
            Some(bytes) => StateValue::from_bytes(&bytes).map(Some).map_err(|error| ProofError::Malformed {
                what: "entry value".into(),
                reason: format!("does not decode: {error}"),
            }),
            None => Ok(None),
        }
    }
}

/// One state entry at a committed height, as `GET /v1/state/proof` answers.
#[derive(Clone, Debug, Deserialize)]
pub struct StateEvidence {
    pub height: Height,
    #[serde(flatten)]
    pub entry: EntryEvidence,
}

/// A committed transaction with its inclusion proofs, as `GET /v1/txs/{id}/receipt` answers.
#[derive(Clone, Debug, Deserialize)]
pub struct TxEvidence {
    pub tx_id: TxId,
    pub height: Height,
    pub index: u32,
    /// Hex of the encoded signed transaction.
    pub tx: String,
    pub tx_proof: MerkleProof,
    pub receipt: Receipt,
    pub receipt_proof: MerkleProof,
}

/// What a source says about one badge, as `GET /v1/badges/{hash}?root=R` answers: entries at
/// the committed `height`, and the anchor transaction when the anchor entry exists.
#[derive(Clone, Debug, Deserialize)]
pub struct BadgeEvidence {
    pub height: Height,
    pub anchor: EntryEvidence,
    pub member: Option<EntryEvidence>,
    pub issuer: Option<EntryEvidence>,
    pub revocation: Option<EntryEvidence>,
    pub anchor_tx: Option<TxEvidence>,
}

/// Where blocks, certificates and proofs come from.
pub trait ChainSource {
    /// The committed block at `height`, or `None` above the tip.
    fn block(&mut self, height: Height) -> Result<Option<Block>, ProofError>;
    /// The header of the committed block at `height`, or `None` above the tip. Walks that need
    /// only ids and parent links (finality through a descendant) use this.
    fn header(&mut self, height: Height) -> Result<Option<Header>, ProofError> {
        Ok(self.block(height)?.map(|block| block.header))
    }
    /// The certificate stored with the block at `height`.
    fn certificate(&mut self, height: Height) -> Result<Option<Certificate>, ProofError>;
    /// A committed transaction with its proofs, or `None`.
    fn tx(&mut self, id: &TxId) -> Result<Option<TxEvidence>, ProofError>;
    /// The entry under `key` at the latest committed height.
    fn state(&mut self, key: &StateKey) -> Result<StateEvidence, ProofError>;
    /// Everything about a badge hash under batch `root`.
    fn badge(&mut self, badge_hash: &Hash, root: &Hash) -> Result<BadgeEvidence, ProofError>;
}

/// A finalized header and how its finality was shown.
#[derive(Clone, Debug)]
pub struct Finalized {
    pub header: Header,
    pub block_id: BlockId,
    /// The height of the block the certificate names (this one, or a descendant).
    pub certified_height: Height,
    /// The epoch whose validators signed the certificate.
    pub epoch: u64,
    pub signers: usize,
    pub quorum: usize,
}

/// One step of the chain of trust through the epochs, as `GET /v1/epochs` answers: the last
/// block of epoch `number − 1` (its header), that block's own finalization, and the `Epochs`
/// entry after it with its proof under the header's state root.
#[derive(Clone, Debug, Deserialize)]
pub struct EpochStep {
    pub number: u64,
    pub start_height: Height,
    pub header: Header,
    pub certificate: Certificate,
    pub entry: EntryEvidence,
}

/// Checks one step of the chain of trust with `previous`, the epoch the verifier trusts last,
/// and returns the epoch it proves (docs/ARCHITECTURE.md "Governance and epochs"): the step
/// is for epoch `previous + 1`; its header is of this chain, at or after `previous`'s start,
/// names `previous`'s set and a view of `previous`; its certificate finalizes exactly this
/// block, in its view or a later one of `previous` (an epoch's last block may be
/// re-proposed, R8), with a quorum of `previous`'s validators; the entry's proof holds under
/// the header's state root, and by that state the height after the header starts the next
/// epoch, whose set is read there.
pub fn verify_epoch_step(
    chain_id: &ChainId,
    previous: &Epoch,
    step: &EpochStep,
) -> Result<Epoch, ProofError> {
    let number = previous.number + 1;
    let header = &step.header;
    let fail = |reason: String| ProofError::EpochStep { epoch: number, height: header.height, reason };
    if step.number != number {
        return Err(fail(format!(
            "the verifier knows epochs up to {}, so the next step must be for epoch {number}, not {}",
            previous.number, step.number
        )));
    }
    if header.height < previous.start_height || step.start_height != header.height.next() {
        return Err(fail(format!(
            "the block is not the last of {previous} before a start at height {}",
            step.start_height
        )));
    }
    header.check_chain(chain_id, &previous.validators_hash).map_err(|error| ProofError::Header {
        at: format!(
            "the last block of {previous}, at height {}, on the way to epoch {number}",
            header.height
        ),
        error,
    })?;
    if header.view.epoch() != previous.number {
        return Err(fail(format!(
            "its view {} is of epoch {}, not {}",
            header.view,
            header.view.epoch(),
            previous.number
        )));
    }
    let Subject::Finalize { view, block_id } = step.certificate.subject else {
        return Err(fail(format!("its certificate is a {:?}, not a finalization", step.certificate.subject)));
    };
    if block_id != header.id() {
        return Err(fail(format!(
            "its certificate finalizes block {block_id}, not this block {}",
            header.id()
        )));
    }
    if view.epoch() != previous.number || view < header.view {
        return Err(fail(format!(
            "its certificate is of view {view}, not of the block's view {} or a later one of epoch {}",
            header.view, previous.number
        )));
    }
    step.certificate.verify(chain_id, &previous.validators).map_err(|error| {
        fail(format!("its finalization does not verify against the validators of {previous}: {error}"))
    })?;
    let value =
        step.entry.verify(&header.state_root, &StateKey::Epochs).map_err(|error| fail(error.to_string()))?;
    let Some(StateValue::Epochs(epochs)) = value else {
        return Err(fail("the proof shows no epochs entry under the block's state root".to_owned()));
    };
    let config = epochs.at(step.start_height);
    if config.number != number || config.start_height != step.start_height {
        return Err(fail(format!(
            "by the state after the block, height {} is in epoch {} from height {}, not epoch {number} from there",
            step.start_height, config.number, config.start_height
        )));
    }
    Epoch::from_config(config).map_err(fail)
}

/// Checks that `block` is final: its certificate is a finalization, in a view of the block's
/// epoch, with a quorum of valid signatures from that epoch's validators ([`Trust::epoch_at`]),
/// over this block or over a descendant linked to it by parent ids (each a child of the one
/// before by [`Header::check_child_of`], so of the same set). Also checks the header's chain
/// id, its validator-set hash (its epoch's) and that its view is of its epoch.
pub fn verify_finality(
    source: &mut dyn ChainSource,
    trust: &Trust,
    block: &Block,
) -> Result<Finalized, ProofError> {
    let header = &block.header;
    let epoch = trust.epoch_at(header.height);
    let view_epoch = header.view.epoch();
    let last_known = trust.epochs.last().map_or(0, |last| last.number);
    if view_epoch > epoch.number && epoch.number == last_known {
        return Err(ProofError::EpochUnknown { height: header.height, epoch: view_epoch, known: last_known });
    }
    let validators_hash = epoch.validators_hash;
    header.check_chain(&trust.chain_id, &validators_hash).map_err(|error| ProofError::Header {
        at: format!("the block at height {} ({epoch})", header.height),
        error,
    })?;
    if view_epoch != epoch.number {
        return Err(ProofError::mismatch(
            format!("the epoch of the view of the block at height {} ({epoch})", header.height),
            epoch.number,
            view_epoch,
        ));
    }
    let certificate = source.certificate(header.height)?.ok_or_else(|| {
        ProofError::Missing(format!("no certificate for the block at height {}", header.height))
    })?;
    let certificate_error =
        |reason: String| ProofError::Certificate { height: header.height, epoch: epoch.number, reason };
    let Subject::Finalize { block_id: certified, view } = certificate.subject else {
        return Err(certificate_error(format!("it is a {:?}, not a finalization", certificate.subject)));
    };
    // An epoch's blocks are finalized by its own validators in its own views (rule R8).
    if view.epoch() != epoch.number {
        return Err(certificate_error(format!(
            "it is of view {view} of epoch {}, but the block belongs to {epoch}, whose own validators must \
             finalize it",
            view.epoch()
        )));
    }
    certificate.verify(&trust.chain_id, &epoch.validators).map_err(|error| {
        certificate_error(format!("it does not verify against the validators of {epoch}: {error}"))
    })?;
    let block_id = block.id();
    let certified_height = walk_to_certified(source, trust, header, block_id, certified, epoch)?;
    Ok(Finalized {
        header: header.clone(),
        block_id,
        certified_height,
        epoch: epoch.number,
        signers: certificate.signatures.len(),
        quorum: epoch.validators.quorum(),
    })
}

/// Walks forward from the block (`header`, `block_id`) to the block its certificate names,
/// `certified`: each next block must be the current one's child, of the same set, within
/// [`FINALITY_WALK_MAX`] descendants. Returns the certified block's height.
fn walk_to_certified(
    source: &mut dyn ChainSource,
    trust: &Trust,
    header: &Header,
    block_id: BlockId,
    certified: BlockId,
    epoch: &Epoch,
) -> Result<Height, ProofError> {
    let certificate_error =
        |reason: String| ProofError::Certificate { height: header.height, epoch: epoch.number, reason };
    let mut certified_height = header.height;
    let mut current = ParentLink { id: block_id, height: header.height, time_ms: header.time_ms };
    // Walk forward until the certified block: each next block must be the current one's child.
    while current.id != certified {
        if certified_height.0 - header.height.0 >= FINALITY_WALK_MAX {
            return Err(certificate_error(format!(
                "it names block {certified}, not found within {FINALITY_WALK_MAX} descendants"
            )));
        }
        certified_height = certified_height.next();
        let next = source.header(certified_height)?.ok_or_else(|| {
            ProofError::Missing(format!(
                "the certificate at height {} names block {certified}, but the chain ends before it",
                header.height
            ))
        })?;
        next.check_child_of(&current, &trust.chain_id, &epoch.validators_hash).map_err(|error| {
            ProofError::Header {
                at: format!("block {certified_height}, on the way to the certified block {certified}"),
                error,
            }
        })?;
        current = ParentLink::of(&next);
    }
    Ok(certified_height)
}

/// Fetches the block at `height` and checks its finality.
pub fn finalized_block(
    source: &mut dyn ChainSource,
    trust: &Trust,
    height: Height,
) -> Result<(Block, Finalized), ProofError> {
    let block = source
        .block(height)?
        .ok_or_else(|| ProofError::Missing(format!("no committed block at height {height}")))?;
    if block.header.height != height {
        return Err(ProofError::mismatch("the block's height", height, block.header.height));
    }
    let finalized = verify_finality(source, trust, &block)?;
    Ok((block, finalized))
}

/// A transaction and its receipt, checked against a header.
#[derive(Clone, Debug)]
pub struct IncludedTx {
    pub tx: SignedTransaction,
    pub receipt: Receipt,
    pub height: Height,
    pub index: u32,
}

/// Checks that `proof` leads from the leaf of `item` to `root`; `proof_name` names the proof in
/// a malformed-proof error, `root_name` the root in a mismatch.
fn check_inclusion(
    proof: &MerkleProof,
    item: &[u8],
    root: Hash,
    proof_name: &str,
    root_name: &str,
) -> Result<(), ProofError> {
    let reached = proof
        .compute_root(merkle_leaf(item))
        .map_err(|error| ProofError::BadProof { what: proof_name.into(), reason: error.to_string() })?;
    if reached != root {
        return Err(ProofError::mismatch(root_name, root, reached));
    }
    Ok(())
}

/// Checks `evidence` for transaction `id` against `header`: the transaction decodes and has
/// this id, its leaf is in the tx root, its receipt names it and is in the receipts root.
pub fn verify_tx_inclusion(
    header: &Header,
    id: &TxId,
    evidence: &TxEvidence,
) -> Result<IncludedTx, ProofError> {
    if evidence.tx_id != *id {
        return Err(ProofError::mismatch("the transaction id in the answer", id, evidence.tx_id));
    }
    if evidence.height != header.height {
        return Err(ProofError::mismatch("the transaction's height", header.height, evidence.height));
    }
    let bytes = hex::decode(&evidence.tx).map_err(|error| ProofError::Malformed {
        what: "the transaction".into(),
        reason: format!("is not hex: {error}"),
    })?;
    let tx: SignedTransaction = decode(&bytes).map_err(|error| ProofError::Malformed {
        what: "the transaction".into(),
        reason: format!("does not decode: {error}"),
    })?;
    if tx.id() != *id {
        return Err(ProofError::mismatch("the id of the transaction bytes", id, tx.id()));
    }
    if evidence.tx_proof.index != u64::from(evidence.index)
        || evidence.receipt_proof.index != u64::from(evidence.index)
    {
        return Err(ProofError::BadProof {
            what: "the inclusion proofs".into(),
            reason: format!(
                "they are for positions {} and {}, the transaction is at {}",
                evidence.tx_proof.index, evidence.receipt_proof.index, evidence.index
            ),
        });
    }
    check_inclusion(
        &evidence.tx_proof,
        id.0.as_bytes(),
        header.tx_root,
        "the tx inclusion proof",
        "the tx root the inclusion proof leads to",
    )?;
    if evidence.receipt.tx_id != *id {
        return Err(ProofError::mismatch("the receipt's transaction", id, evidence.receipt.tx_id));
    }
    check_inclusion(
        &evidence.receipt_proof,
        evidence.receipt.hash().as_bytes(),
        header.receipts_root,
        "the receipt inclusion proof",
        "the receipts root the receipt proof leads to",
    )?;
    Ok(IncludedTx { tx, receipt: evidence.receipt.clone(), height: evidence.height, index: evidence.index })
}

mod archive;
mod badge;
pub mod facts;
mod node;

pub use archive::{ArchiveSource, Interest};
pub use badge::{BADGE_STEPS, BadgeVerification, CREDENTIAL_STEPS, StepReport, verify_badge};
pub use node::NodeSource;

#[cfg(test)]
mod tests {
    use tally_types::{BoundedVec, SecretKey, ValidatorIndex, ValidatorSet, View};

    use super::*;
    use crate::test_net::GENESIS_TIME_MS;

    /// A change to one header field.
    type HeaderEdit<'a> = Box<dyn Fn(&mut Header) + 'a>;

    /// Blocks and certificates by height (index 0 is height 1); nothing else.
    struct Chain {
        blocks: Vec<Block>,
        certificates: Vec<Certificate>,
    }

    impl ChainSource for Chain {
        fn block(&mut self, height: Height) -> Result<Option<Block>, ProofError> {
            Ok(height.0.checked_sub(1).and_then(|index| self.blocks.get(index as usize)).cloned())
        }
        fn certificate(&mut self, height: Height) -> Result<Option<Certificate>, ProofError> {
            Ok(height.0.checked_sub(1).and_then(|index| self.certificates.get(index as usize)).cloned())
        }
        fn tx(&mut self, _: &TxId) -> Result<Option<TxEvidence>, ProofError> {
            Ok(None)
        }
        fn state(&mut self, _: &StateKey) -> Result<StateEvidence, ProofError> {
            Err(ProofError::Missing("no state here".to_owned()))
        }
        fn badge(&mut self, _: &Hash, _: &Hash) -> Result<BadgeEvidence, ProofError> {
            Err(ProofError::Missing("no badges here".to_owned()))
        }
    }

    fn testnet() -> (Genesis, Vec<SecretKey>) {
        let testnet = crate::test_net::testnet("proofs-unit", 27_200, None);
        let validator_keys = testnet.validator_keys.iter().map(|keys| keys.consensus.clone()).collect();
        (testnet.genesis, validator_keys)
    }

    /// Two empty blocks; block 1 stored with block 2's finalization (finalized together), so
    /// the finality of block 1 walks to block 2. `change` edits block 2's header first.
    /// An empty block's header of `view` after `parent`, naming the set hashed to `hash`.
    fn empty_header(genesis: &Genesis, parent: &ParentLink, view: View, hash: Hash) -> Header {
        Header {
            chain_id: genesis.chain_id().clone(),
            height: parent.height.next(),
            view,
            parent_id: parent.id,
            time_ms: parent.time_ms + 1_000,
            proposer: ValidatorIndex(0),
            tx_root: tx_root(&[]),
            receipts_root: receipts_root(&[]),
            state_root: Hash::plain(b"state"),
            validators_hash: hash,
        }
    }

    fn chain(genesis: &Genesis, keys: &[SecretKey], change: impl Fn(&mut Header)) -> Chain {
        let mut parent =
            ParentLink { id: genesis.parent_of_first_block(), height: Height(0), time_ms: GENESIS_TIME_MS };
        let mut blocks = Vec::new();
        for view in 1..=2 {
            let mut header = empty_header(genesis, &parent, View(view), genesis.validator_set().hash());
            if view == 2 {
                change(&mut header);
            }
            parent = ParentLink::of(&header);
            blocks.push(Block { header, txs: BoundedVec::empty() });
        }
        let subject = Subject::Finalize { view: View(2), block_id: blocks[1].id() };
        let votes: Vec<_> = keys[..3]
            .iter()
            .enumerate()
            .map(|(index, key)| (ValidatorIndex(index as u16), subject.sign(genesis.chain_id(), key)))
            .collect();
        let finalization = Certificate::from_votes(subject, &votes, keys.len()).expect("three of four");
        Chain { blocks, certificates: vec![finalization.clone(), finalization] }
    }

    #[test]
    fn finality_walks_only_through_children() {
        let (genesis, keys) = testnet();
        let trust = Trust::from_genesis(&genesis);
        let mut good = chain(&genesis, &keys, |_| {});
        let first = good.blocks[0].clone();
        let finalized = verify_finality(&mut good, &trust, &first).expect("block 1 is final through block 2");
        assert_eq!(finalized.certified_height, Height(2));

        // Block 2 breaks a child rule against block 1 (its certificate is re-signed over it).
        let cases: Vec<(&str, HeaderEdit)> = vec![
            ("parent_id", Box::new(|header| header.parent_id = BlockId(Hash([7; 32])))),
            ("time_ms", Box::new(|header| header.time_ms = GENESIS_TIME_MS + 1_000)),
            ("height", Box::new(|header| header.height = Height(3))),
            ("validators_hash", Box::new(|header| header.validators_hash = Hash([8; 32]))),
        ];
        for (field, change) in cases {
            let mut source = chain(&genesis, &keys, change);
            let error = verify_finality(&mut source, &trust, &first).expect_err(field);
            let ProofError::Header { error: child, .. } = &error else { panic!("{field}: {error:?}") };
            assert_eq!(child.field(), field, "{error}");
            assert!(error.to_string().starts_with("block 2, on the way"), "{error}");
            assert_eq!(error.expected_actual(), Some(child.expected_and_found()));
        }
    }

    #[test]
    fn a_block_of_another_chain_or_validator_set_is_not_final() {
        let (genesis, keys) = testnet();
        let trust = Trust::from_genesis(&genesis);
        let mut source = chain(&genesis, &keys, |_| {});
        let mut first = source.blocks[0].clone();
        first.header.validators_hash = Hash([8; 32]);
        let error = verify_finality(&mut source, &trust, &first).expect_err("another validator set");
        let Some((expected, actual)) = error.expected_actual() else { panic!("{error}") };
        assert_eq!(
            (expected, actual),
            (genesis.validator_set().hash().to_string(), Hash([8; 32]).to_string())
        );
        assert!(error.to_string().contains("validator set"), "{error}");
        first.header.chain_id = ChainId::new("tally-other").expect("valid chain id");
        let error = verify_finality(&mut source, &trust, &first).expect_err("another chain");
        assert!(matches!(&error, ProofError::Header { error: ChildError::ChainId { .. }, .. }), "{error}");
    }

    /// Block 1 in epoch 0 (genesis set), block 2 in epoch 1 (`keys_1`), each finalized by its
    /// own epoch's first three validators in its own view.
    fn two_epochs(genesis: &Genesis, keys_0: &[SecretKey], keys_1: &[SecretKey]) -> Chain {
        let set_1 = ValidatorSet::new(keys_1.iter().map(SecretKey::public_key).collect()).expect("four keys");
        let mut parent =
            ParentLink { id: genesis.parent_of_first_block(), height: Height(0), time_ms: GENESIS_TIME_MS };
        let mut chain = Chain { blocks: Vec::new(), certificates: Vec::new() };
        for (view, hash, keys) in [
            (View(1), genesis.validator_set().hash(), keys_0),
            (View(View::epoch_base(1).0 + 1), set_1.hash(), keys_1),
        ] {
            let header = empty_header(genesis, &parent, view, hash);
            parent = ParentLink::of(&header);
            let block = Block { header, txs: BoundedVec::empty() };
            chain.certificates.push(finalization(genesis, view, block.id(), keys));
            chain.blocks.push(block);
        }
        chain
    }

    fn finalization(genesis: &Genesis, view: View, block_id: BlockId, keys: &[SecretKey]) -> Certificate {
        let subject = Subject::Finalize { view, block_id };
        let votes: Vec<_> = keys[..3]
            .iter()
            .enumerate()
            .map(|(index, key)| (ValidatorIndex(index as u16), subject.sign(genesis.chain_id(), key)))
            .collect();
        Certificate::from_votes(subject, &votes, keys.len()).expect("three of four")
    }

    #[test]
    fn finality_is_checked_against_the_epoch_of_the_height() {
        let (genesis, keys_0) = testnet();
        let keys_1: Vec<SecretKey> = (0..4u8).map(|index| SecretKey::from_seed(&[90 + index; 32])).collect();
        let set_1 = ValidatorSet::new(keys_1.iter().map(SecretKey::public_key).collect()).expect("four keys");
        let mut trust = Trust::from_genesis(&genesis);
        trust.epochs.push(Epoch {
            number: 1,
            start_height: Height(2),
            validators_hash: set_1.hash(),
            validators: set_1,
        });
        let mut good = two_epochs(&genesis, &keys_0, &keys_1);
        for (height, epoch) in [(1, 0), (2, 1)] {
            let (_, finalized) = finalized_block(&mut good, &trust, Height(height)).expect("final");
            assert_eq!(finalized.epoch, epoch);
        }
        let second = |chain: &Chain| chain.blocks[1].clone();

        // Block 2 finalized by epoch 0's validators in its own view.
        let mut source = two_epochs(&genesis, &keys_0, &keys_1);
        source.certificates[1] =
            finalization(&genesis, source.blocks[1].header.view, source.blocks[1].id(), &keys_0);
        let block = second(&source);
        let error = verify_finality(&mut source, &trust, &block).expect_err("the old set");
        assert!(matches!(error, ProofError::Certificate { height: Height(2), epoch: 1, .. }), "{error}");
        // Block 2 finalized by its own set, but in a view of epoch 0.
        let mut source = two_epochs(&genesis, &keys_0, &keys_1);
        source.certificates[1] = finalization(&genesis, View(2), source.blocks[1].id(), &keys_1);
        let block = second(&source);
        let error = verify_finality(&mut source, &trust, &block).expect_err("another epoch's view");
        assert!(matches!(error, ProofError::Certificate { height: Height(2), epoch: 1, .. }), "{error}");
        assert!(error.to_string().contains("of epoch 0, but the block belongs to epoch 1"), "{error}");
        // Block 2 made in a view of epoch 0.
        let mut source = two_epochs(&genesis, &keys_0, &keys_1);
        let mut block = second(&source);
        block.header.view = View(2);
        let error = verify_finality(&mut source, &trust, &block).expect_err("a view of epoch 0");
        assert_eq!(error.expected_actual(), Some(("1".to_owned(), "0".to_owned())), "{error}");
        assert!(error.to_string().contains("the epoch of the view of the block at height 2"), "{error}");
        // Block 2 naming epoch 0's set.
        let mut block = second(&source);
        block.header.validators_hash = genesis.validator_set().hash();
        let error = verify_finality(&mut source, &trust, &block).expect_err("epoch 0's set");
        assert!(
            matches!(&error, ProofError::Header { error: ChildError::ValidatorsHash { .. }, .. }),
            "{error}"
        );
        assert!(error.to_string().contains("height 2 (epoch 1 (from height 2))"), "{error}");
    }
}
