//! Proof checking shared by `tally badge verify` and `tally verify`: the finality of a block
//! against the genesis validator set, a transaction's and its receipt's inclusion in a block,
//! and a state entry (present or absent) under a finalized header's state root.
//!
//! The evidence comes from a [`ChainSource`]: a node over HTTP ([`NodeSource`]), or an archive
//! replayed locally from the genesis file ([`ArchiveSource`]). Nothing a source says is
//! trusted: every header is tied to a finalization certificate checked against the validators
//! of the genesis file ([`Trust`]), and every transaction, receipt and state entry to a header
//! by a Merkle proof. A source can withhold evidence, never forge it (short of ≥ n − f
//! validators signing a forgery).
//!
//! A block's stored certificate finalizes either the block itself or a descendant finalized
//! with it (docs/ARCHITECTURE.md "Blocks and consensus"); in the second case the parent links from the certified block back
//! to this one are followed, at most [`FINALITY_WALK_MAX`] blocks.

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
    ValidatorSet, decode,
};

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
    pub validators: ValidatorSet,
    /// The lowest finalized height whose state a verifier accepts for state proofs (issuer
    /// membership, non-revocation). A node chooses the header it proves against; an outdated
    /// or dishonest one could answer from a height before a revocation (withholding, not
    /// forgery). A verifier that knows the chain reached some height says so here.
    pub min_state_height: Height,
}

impl Trust {
    /// The trust anchored in a genesis document.
    pub fn from_genesis(genesis: &Genesis) -> Self {
        Trust {
            chain_id: genesis.chain_id().clone(),
            genesis_hash: genesis.hash(),
            validators: genesis.validator_set(),
            min_state_height: Height(0),
        }
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
    #[error("{0}")]
    Missing(String),
    #[error("{0}")]
    Invalid(String),
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
            Some(text) => Some(
                hex::decode(text)
                    .map_err(|error| ProofError::Invalid(format!("entry value is not hex: {error}")))?,
            ),
            None => None,
        };
        verify_state_proof(state_root, key, bytes.as_deref(), &self.proof)
            .map_err(|error| ProofError::Invalid(format!("state proof for {key:?}: {error}")))?;
        match bytes {
            Some(bytes) => StateValue::from_bytes(&bytes)
                .map(Some)
                .map_err(|error| ProofError::Invalid(format!("entry value does not decode: {error}"))),
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
    pub signers: usize,
    pub quorum: usize,
}

/// Checks that `block` is final: its certificate is a finalization with a quorum of valid
/// signatures from the genesis validators, over this block or over a descendant linked to it
/// by parent ids (each a child of the one before by [`Header::check_child_of`]). Also checks
/// the header's chain id and validator-set hash.
pub fn verify_finality(
    source: &mut dyn ChainSource,
    trust: &Trust,
    block: &Block,
) -> Result<Finalized, ProofError> {
    let header = &block.header;
    let validators_hash = trust.validators.hash();
    header.check_chain(&trust.chain_id, &validators_hash).map_err(|error| ProofError::Header {
        at: format!("the block at height {}", header.height),
        error,
    })?;
    let certificate = source.certificate(header.height)?.ok_or_else(|| {
        ProofError::Missing(format!("no certificate for the block at height {}", header.height))
    })?;
    let Subject::Finalize { block_id: certified, .. } = certificate.subject else {
        return Err(ProofError::Invalid(format!(
            "the certificate at height {} is a {:?}, not a finalization",
            header.height, certificate.subject
        )));
    };
    certificate.verify(&trust.chain_id, &trust.validators).map_err(|error| {
        ProofError::Invalid(format!("the finalization certificate at height {}: {error}", header.height))
    })?;
    let block_id = block.id();
    let mut certified_height = header.height;
    let mut current = ParentLink { id: block_id, height: header.height, time_ms: header.time_ms };
    // Walk forward until the certified block: each next block must be the current one's child.
    while current.id != certified {
        if certified_height.0 - header.height.0 >= FINALITY_WALK_MAX {
            return Err(ProofError::Invalid(format!(
                "the certificate at height {} names block {certified}, not found within {FINALITY_WALK_MAX} descendants",
                header.height
            )));
        }
        certified_height = certified_height.next();
        let next = source.header(certified_height)?.ok_or_else(|| {
            ProofError::Missing(format!(
                "the certificate at height {} names block {certified}, but the chain ends before it",
                header.height
            ))
        })?;
        next.check_child_of(&current, &trust.chain_id, &validators_hash).map_err(|error| {
            ProofError::Header {
                at: format!("block {certified_height}, on the way to the certified block {certified}"),
                error,
            }
        })?;
        current = ParentLink::of(&next);
    }
    Ok(Finalized {
        header: header.clone(),
        block_id,
        certified_height,
        signers: certificate.signatures.len(),
        quorum: trust.validators.quorum(),
    })
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
    let bytes = hex::decode(&evidence.tx)
        .map_err(|error| ProofError::Invalid(format!("the transaction is not hex: {error}")))?;
    let tx: SignedTransaction = decode(&bytes)
        .map_err(|error| ProofError::Invalid(format!("the transaction does not decode: {error}")))?;
    if tx.id() != *id {
        return Err(ProofError::mismatch("the id of the transaction bytes", id, tx.id()));
    }
    if evidence.tx_proof.index != u64::from(evidence.index)
        || evidence.receipt_proof.index != u64::from(evidence.index)
    {
        return Err(ProofError::Invalid(format!(
            "the proofs are for positions {} and {}, the transaction is at {}",
            evidence.tx_proof.index, evidence.receipt_proof.index, evidence.index
        )));
    }
    let reached = evidence
        .tx_proof
        .compute_root(merkle_leaf(id.0.as_bytes()))
        .map_err(|error| ProofError::Invalid(format!("the tx inclusion proof: {error}")))?;
    if reached != header.tx_root {
        return Err(ProofError::mismatch(
            "the tx root the inclusion proof leads to",
            header.tx_root,
            reached,
        ));
    }
    if evidence.receipt.tx_id != *id {
        return Err(ProofError::mismatch("the receipt's transaction", id, evidence.receipt.tx_id));
    }
    let reached = evidence
        .receipt_proof
        .compute_root(merkle_leaf(evidence.receipt.hash().as_bytes()))
        .map_err(|error| ProofError::Invalid(format!("the receipt inclusion proof: {error}")))?;
    if reached != header.receipts_root {
        return Err(ProofError::mismatch(
            "the receipts root the receipt proof leads to",
            header.receipts_root,
            reached,
        ));
    }
    Ok(IncludedTx { tx, receipt: evidence.receipt.clone(), height: evidence.height, index: evidence.index })
}

// ---- a node over HTTP ----

/// Evidence from a node's HTTP API.
pub struct NodeSource {
    client: NodeClient,
}

#[derive(Deserialize)]
struct BlockAnswer {
    block: Block,
}

#[derive(Deserialize)]
struct CertificateAnswer {
    certificate: Certificate,
}

impl NodeSource {
    pub fn new(client: NodeClient) -> Self {
        NodeSource { client }
    }

    /// `GET path`, `None` on 404.
    fn get<T: serde::de::DeserializeOwned>(&self, path: &str) -> Result<Option<T>, ProofError> {
        match self.client.get_json(path) {
            Ok(value) => serde_json::from_value(value).map(Some).map_err(|error| {
                ProofError::Invalid(format!("{}{path}: unexpected answer: {error}", self.client.base_url()))
            }),
            Err(HttpError::Problem { status: 404, .. }) => Ok(None),
            Err(error) => Err(error.into()),
        }
    }
}

impl ChainSource for NodeSource {
    fn block(&mut self, height: Height) -> Result<Option<Block>, ProofError> {
        Ok(self.get::<BlockAnswer>(&format!("/v1/blocks/{height}"))?.map(|answer| answer.block))
    }

    fn certificate(&mut self, height: Height) -> Result<Option<Certificate>, ProofError> {
        Ok(self.get::<CertificateAnswer>(&format!("/v1/blocks/{height}/certificate"))?.map(|a| a.certificate))
    }

    fn tx(&mut self, id: &TxId) -> Result<Option<TxEvidence>, ProofError> {
        self.get(&format!("/v1/txs/{id}/receipt"))
    }

    fn state(&mut self, key: &StateKey) -> Result<StateEvidence, ProofError> {
        self.get(&format!("/v1/state/proof?key={}", hex::encode(key.to_bytes())))?
            .ok_or_else(|| ProofError::Missing("the node has no state proof endpoint".to_owned()))
    }

    fn badge(&mut self, badge_hash: &Hash, root: &Hash) -> Result<BadgeEvidence, ProofError> {
        self.get(&format!("/v1/badges/{badge_hash}?root={root}"))?
            .ok_or_else(|| ProofError::Missing("the node has no badge endpoint".to_owned()))
    }
}

// ---- an archive replayed locally ----

/// What to keep while replaying an archive besides headers and certificates: the transactions
/// to prove (by id) and those anchoring one of these batch roots.
#[derive(Clone, Debug, Default)]
pub struct Interest {
    pub txs: Vec<TxId>,
    pub anchor_roots: Vec<Hash>,
}

/// A chain replayed from an archive and the genesis file: every certificate checked, every
/// transaction signature checked, every block re-executed with the ledger code and its state
/// and receipts roots compared. Proofs then come from the replayed state.
///
/// Memory: every header and certificate (the finality walk needs them), whole blocks only where
/// a transaction of interest is and at the tip, the final state, and the evidence of the
/// transactions of interest — not the archive's transactions, which can run to gigabytes.
pub struct ArchiveSource {
    headers: Vec<Header>,
    /// Whole blocks kept: those holding a transaction of interest, and the last one.
    blocks: BTreeMap<Height, Block>,
    certificates: Vec<Certificate>,
    state: MemState,
    txs: BTreeMap<TxId, TxEvidence>,
}

impl ArchiveSource {
    /// Reads and replays the archive at `path`.
    pub fn load(path: &Path, genesis: &Genesis, interest: &Interest) -> Result<Self, ProofError> {
        let file = std::fs::File::open(path)
            .map_err(|error| ProofError::Missing(format!("cannot open {}: {error}", path.display())))?;
        let mut reader = ArchiveReader::new(BufReader::new(file))?;
        let trust = Trust::from_genesis(genesis);
        let header = reader.header().clone();
        if header.chain_id != trust.chain_id {
            return Err(ProofError::mismatch("the archive's chain id", &trust.chain_id, &header.chain_id));
        }
        if header.genesis_hash != trust.genesis_hash {
            return Err(ProofError::mismatch(
                "the archive's genesis hash",
                trust.genesis_hash,
                header.genesis_hash,
            ));
        }
        let mut source = ArchiveSource {
            headers: Vec::new(),
            blocks: BTreeMap::new(),
            certificates: Vec::new(),
            state: genesis.initial_state(),
            txs: BTreeMap::new(),
        };
        let mut parent = ParentLink {
            id: genesis.parent_of_first_block(),
            height: Height(0),
            time_ms: genesis.genesis_time_ms(),
        };
        let validators_hash = trust.validators.hash();
        let mut last_was_interesting = false;
        while let Some(record) = reader.next_record()? {
            let block = record.block;
            let height = Height(source.headers.len() as u64 + 1);
            let at = |what: &str| format!("block {height}: {what}");
            block
                .header
                .check_child_of(&parent, &trust.chain_id, &validators_hash)
                .map_err(|error| ProofError::Header { at: format!("block {height}"), error })?;
            if !matches!(record.certificate.subject, Subject::Finalize { .. }) {
                return Err(ProofError::Invalid(at("its certificate is not a finalization")));
            }
            record
                .certificate
                .verify(&trust.chain_id, &trust.validators)
                .map_err(|error| ProofError::Invalid(at(&format!("certificate: {error}"))))?;
            for (index, tx) in block.txs.iter().enumerate() {
                tx.check_form_and_signature()
                    .map_err(|error| ProofError::Invalid(at(&format!("transaction {index}: {error}"))))?;
            }
            let ids: Vec<TxId> = block.txs.iter().map(SignedTransaction::id).collect();
            if tx_root(&ids) != block.header.tx_root {
                return Err(ProofError::mismatch(at("tx root"), tx_root(&ids), block.header.tx_root));
            }
            let context =
                BlockContext { chain_id: trust.chain_id.clone(), height, time_ms: block.header.time_ms };
            let committed = source
                .state
                .execute_and_commit(&context, block.txs.as_slice())
                .map_err(|error| ProofError::Invalid(at(&format!("re-execution: {error}"))))?;
            if committed.state_root != block.header.state_root {
                return Err(ProofError::mismatch(
                    at("state root after re-execution"),
                    block.header.state_root,
                    committed.state_root,
                ));
            }
            let receipts = committed.output.receipts;
            if receipts_root(&receipts) != block.header.receipts_root {
                return Err(ProofError::mismatch(
                    at("receipts root after re-execution"),
                    block.header.receipts_root,
                    receipts_root(&receipts),
                ));
            }
            let mut interesting = false;
            for (index, tx) in block.txs.iter().enumerate() {
                let anchors_root = tx.tx.ops.iter().any(|op| {
                    matches!(op, Op::AnchorBadges(anchor) if interest.anchor_roots.contains(&anchor.batch_root))
                });
                if anchors_root || interest.txs.contains(&ids[index]) {
                    let tx_leaves: Vec<Hash> = ids.iter().map(|id| merkle_leaf(id.0.as_bytes())).collect();
                    let receipt_leaves: Vec<Hash> =
                        receipts.iter().map(|receipt| merkle_leaf(receipt.hash().as_bytes())).collect();
                    let evidence = TxEvidence {
                        tx_id: ids[index],
                        height,
                        index: index as u32,
                        tx: hex::encode(tally_types::encode(tx)),
                        tx_proof: prove(&tx_leaves, index).expect("index is within the block"),
                        receipt: receipts[index].clone(),
                        receipt_proof: prove(&receipt_leaves, index).expect("one receipt per transaction"),
                    };
                    source.txs.insert(ids[index], evidence);
                    interesting = true;
                }
            }
            parent = ParentLink::of(&block.header);
            // The previous tip is no longer the tip: drop it unless it is of interest.
            if let Some(previous) = height.0.checked_sub(1).map(Height)
                && !last_was_interesting
            {
                source.blocks.remove(&previous);
            }
            last_was_interesting = interesting;
            source.headers.push(block.header.clone());
            source.blocks.insert(height, block);
            source.certificates.push(record.certificate);
        }
        Ok(source)
    }

    /// The height of the last block.
    pub fn tip(&self) -> Height {
        Height(self.headers.len() as u64)
    }

    fn entry(&self, key: &StateKey) -> Result<EntryEvidence, ProofError> {
        let proof = self.state.prove(key).map_err(|error| {
            ProofError::Invalid(format!("proving {key:?} from the replayed state: {error}"))
        })?;
        Ok(EntryEvidence { value: proof.value.as_ref().map(hex::encode), proof: proof.proof })
    }
}

impl ChainSource for ArchiveSource {
    fn block(&mut self, height: Height) -> Result<Option<Block>, ProofError> {
        if height.0 == 0 || height > self.tip() {
            return Ok(None);
        }
        match self.blocks.get(&height) {
            Some(block) => Ok(Some(block.clone())),
            None => Err(ProofError::Missing(format!(
                "block {height} was replayed but not kept: only blocks with a transaction of interest \
                 and the last block are (name the transaction when loading the archive)"
            ))),
        }
    }

    fn header(&mut self, height: Height) -> Result<Option<Header>, ProofError> {
        Ok(height.0.checked_sub(1).and_then(|index| self.headers.get(index as usize)).cloned())
    }

    fn certificate(&mut self, height: Height) -> Result<Option<Certificate>, ProofError> {
        Ok(height.0.checked_sub(1).and_then(|index| self.certificates.get(index as usize)).cloned())
    }

    fn tx(&mut self, id: &TxId) -> Result<Option<TxEvidence>, ProofError> {
        Ok(self.txs.get(id).cloned())
    }

    fn state(&mut self, key: &StateKey) -> Result<StateEvidence, ProofError> {
        Ok(StateEvidence { height: self.tip(), entry: self.entry(key)? })
    }

    fn badge(&mut self, badge_hash: &Hash, root: &Hash) -> Result<BadgeEvidence, ProofError> {
        let anchor_key = StateKey::BadgeAnchor { batch_root: *root };
        let mut evidence = BadgeEvidence {
            height: self.tip(),
            anchor: self.entry(&anchor_key)?,
            member: None,
            issuer: None,
            revocation: None,
            anchor_tx: None,
        };
        if let Some(StateValue::BadgeAnchor(anchor)) = self.state.value(&anchor_key) {
            let anchor = anchor.clone();
            evidence.member = Some(self.entry(&StateKey::Member { member: anchor.member.clone() })?);
            evidence.issuer = Some(self.entry(&StateKey::Issuer { account: anchor.issuer })?);
            evidence.revocation = Some(
                self.entry(&StateKey::BadgeRevocation { member: anchor.member, badge_hash: *badge_hash })?,
            );
            evidence.anchor_tx = self.txs.get(&anchor.tx_id).cloned();
        }
        Ok(evidence)
    }
}

// ---- badge verification (docs/ARCHITECTURE.md "Badges") ----

/// One step of `tally badge verify`, passed or failed.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct StepReport {
    /// 1 to 6, in the order the steps run.
    pub number: u8,
    pub name: &'static str,
    pub passed: bool,
    /// What was shown (passed) or what is wrong (failed).
    pub detail: String,
    /// On a failure that compares two values: what the evidence should have said.
    pub expected: Option<String>,
    /// On a failure that compares two values: what it says.
    pub actual: Option<String>,
}

/// The names of the six steps, by number − 1.
pub const BADGE_STEPS: [&str; 6] =
    ["badge hash", "Merkle path", "anchor transaction", "finality", "issuer membership", "non-revocation"];

/// The outcome of verifying one badge: the steps run, up to the first failure.
#[derive(Clone, Debug, serde::Serialize)]
pub struct BadgeVerification {
    pub badge_hash: Hash,
    pub root: Hash,
    pub steps: Vec<StepReport>,
}

impl BadgeVerification {
    /// True when all six steps passed.
    pub fn is_valid(&self) -> bool {
        self.steps.len() == BADGE_STEPS.len() && self.steps.iter().all(|step| step.passed)
    }

    /// The step that failed, if any.
    pub fn failed_step(&self) -> Option<&StepReport> {
        self.steps.iter().find(|step| !step.passed)
    }
}

/// A failed step's content.
struct StepFailure {
    detail: String,
    expected: Option<String>,
    actual: Option<String>,
}

impl StepFailure {
    fn new(detail: impl Into<String>) -> Self {
        StepFailure { detail: detail.into(), expected: None, actual: None }
    }

    fn compare(detail: impl Into<String>, expected: impl ToString, actual: impl ToString) -> Self {
        StepFailure {
            detail: detail.into(),
            expected: Some(expected.to_string()),
            actual: Some(actual.to_string()),
        }
    }
}

impl From<ProofError> for StepFailure {
    fn from(error: ProofError) -> Self {
        let (expected, actual) = match error.expected_actual() {
            Some((expected, actual)) => (Some(expected), Some(actual)),
            None => (None, None),
        };
        StepFailure { detail: error.to_string(), expected, actual }
    }
}

impl From<crate::badge::BadgeError> for StepFailure {
    fn from(error: crate::badge::BadgeError) -> Self {
        use crate::badge::BadgeError;
        match &error {
            BadgeError::BadgeHashMismatch { expected, actual }
            | BadgeError::PathMismatch { expected, actual } => {
                StepFailure::compare(error.to_string(), expected, actual)
            }
            BadgeError::AnchorMismatch { expected, actual, .. } => {
                StepFailure::compare(error.to_string(), expected, actual)
            }
            _ => StepFailure::new(error.to_string()),
        }
    }
}

/// Runs the six steps of badge verification against `source`, stopping at the first failure:
///
/// 1. the assertion's hash (with the receipt's canonicalization) equals the receipt's;
/// 2. the receipt's Merkle path leads from that hash to the receipt's root;
/// 3. the anchor transaction (the receipt's `tx_id`, else the one the ledger's anchor entry
///    names) is in its block's tx root, its receipt in the receipts root says success, and it
///    holds an AnchorBadges op for this root, batch size and canonicalization;
/// 4. that block is final: a finalization by ≥ n − f of the genesis validators;
/// 5. under the latest finalized header (its certificate checked too), the ledger's anchor
///    entry for the root names this transaction and its signer, the member lists that signer
///    as an issuer, and the issuer index agrees (state proofs);
/// 6. under the same header, no revocation of the badge hash by the anchoring member exists
///    (a non-membership proof). Revocations by other members are not looked at: they cannot
///    revoke another member's badge.
pub fn verify_badge(
    source: &mut dyn ChainSource,
    trust: &Trust,
    assertion: &[u8],
    receipt: &crate::badge::BadgeReceipt,
) -> BadgeVerification {
    let mut report =
        BadgeVerification { badge_hash: receipt.badge_hash, root: receipt.root, steps: Vec::new() };
    let mut run = |number: u8, outcome: Result<String, StepFailure>| -> bool {
        let name = BADGE_STEPS[usize::from(number - 1)];
        let step = match outcome {
            Ok(detail) => StepReport { number, name, passed: true, detail, expected: None, actual: None },
            Err(failure) => StepReport {
                number,
                name,
                passed: false,
                detail: failure.detail,
                expected: failure.expected,
                actual: failure.actual,
            },
        };
        let passed = step.passed;
        report.steps.push(step);
        passed
    };

    // Steps 1 and 2: no ledger needed.
    let hashed = crate::badge::badge_hash(assertion, receipt.canon)
        .map_err(|error| StepFailure::new(format!("the assertion cannot be hashed: {error}")))
        .and_then(|actual| {
            if actual == receipt.badge_hash {
                Ok(format!("{} of the assertion is {actual}", crate::badge::canon_name(receipt.canon)))
            } else {
                Err(StepFailure::compare(
                    "the assertion does not hash to the receipt's badge hash (the assertion was changed, or the receipt is another badge's)",
                    receipt.badge_hash,
                    actual,
                ))
            }
        });
    if !run(1, hashed) {
        return report;
    }
    let path = receipt
        .path
        .compute_root(merkle_leaf(receipt.badge_hash.as_bytes()))
        .map_err(|error| StepFailure::new(format!("the receipt's path is malformed: {error}")))
        .and_then(|reached| {
            if reached == receipt.root {
                Ok(format!(
                    "leaf {} of {} leads to root {reached} ({} siblings)",
                    receipt.path.index,
                    receipt.path.leaf_count,
                    receipt.path.siblings.len()
                ))
            } else {
                Err(StepFailure::compare(
                    "the path does not lead to the receipt's root",
                    receipt.root,
                    reached,
                ))
            }
        });
    if !run(2, path) {
        return report;
    }

    // Step 3: the anchor transaction.
    let evidence = match source.badge(&receipt.badge_hash, &receipt.root) {
        Ok(evidence) => evidence,
        Err(error) => {
            run(3, Err(StepFailure::new(format!("cannot read the anchor evidence: {error}"))));
            return report;
        }
    };
    let anchor_tx = step_anchor_tx(source, receipt, &evidence);
    let (included, anchor_block) = match anchor_tx {
        Ok((included, block, detail)) => {
            run(3, Ok(detail));
            (included, block)
        }
        Err(failure) => {
            run(3, Err(failure));
            return report;
        }
    };

    // Step 4: the anchor block is final.
    let finality = verify_finality(source, trust, &anchor_block)
        .map_err(StepFailure::from)
        .map(|finalized| describe_finality(&finalized));
    if !run(4, finality) {
        return report;
    }

    // Steps 5 and 6: state proofs under the latest finalized header, no older than required.
    let latest = if evidence.height < trust.min_state_height {
        Err(StepFailure::compare(
            format!(
                "the state proofs are against height {}, below the required minimum {}: the \
                 source's state is too old to show the badge's current status",
                evidence.height, trust.min_state_height
            ),
            format!("height ≥ {}", trust.min_state_height),
            evidence.height,
        ))
    } else {
        finalized_block(source, trust, evidence.height).map_err(|error| {
            StepFailure::new(format!(
                "the header at height {} the state proofs are against: {error}",
                evidence.height
            ))
        })
    };
    let latest = match latest {
        Ok((_, finalized)) => finalized,
        Err(failure) => {
            run(5, Err(failure));
            return report;
        }
    };
    let membership = step_membership(&latest, receipt, &evidence, &included);
    let member = match membership {
        Ok((member, detail)) => {
            run(5, Ok(detail));
            member
        }
        Err(failure) => {
            run(5, Err(failure));
            return report;
        }
    };
    let revocation = step_revocation(&latest, receipt, &evidence, &member);
    run(6, revocation);
    report
}

fn describe_finality(finalized: &Finalized) -> String {
    let via = if finalized.certified_height == finalized.header.height {
        String::new()
    } else {
        format!(
            " (through the certificate of descendant {}, parent links checked)",
            finalized.certified_height
        )
    };
    format!(
        "block {} at height {} is finalized by {} of {} required validator signatures{via}",
        finalized.block_id, finalized.header.height, finalized.signers, finalized.quorum
    )
}

fn step_anchor_tx(
    source: &mut dyn ChainSource,
    receipt: &crate::badge::BadgeReceipt,
    evidence: &BadgeEvidence,
) -> Result<(IncludedTx, Block, String), StepFailure> {
    // The anchor entry is checked against a finalized header in step 5; here it only says
    // where to look when the receipt does not.
    let entry_tx = match &evidence.anchor.value {
        Some(text) => match hex::decode(text).ok().and_then(|bytes| StateValue::from_bytes(&bytes).ok()) {
            Some(StateValue::BadgeAnchor(anchor)) => Some(anchor.tx_id),
            _ => None,
        },
        None => None,
    };
    let tx_id = match (receipt.tx_id, entry_tx) {
        (Some(id), _) | (None, Some(id)) => id,
        (None, None) => {
            return Err(StepFailure::new(format!(
                "never anchored: the ledger has no anchor for root {}, and the receipt names no transaction",
                receipt.root
            )));
        }
    };
    let tx_evidence = match &evidence.anchor_tx {
        Some(found) if found.tx_id == tx_id => found.clone(),
        _ => source.tx(&tx_id)?.ok_or_else(|| {
            let anchored =
                if entry_tx.is_some() { "" } else { "; the ledger has no anchor for this root either" };
            StepFailure::new(format!("transaction {tx_id} is not in any committed block{anchored}"))
        })?,
    };
    let block = source
        .block(tx_evidence.height)?
        .ok_or_else(|| StepFailure::new(format!("no block at height {}", tx_evidence.height)))?;
    let included = verify_tx_inclusion(&block.header, &tx_id, &tx_evidence)?;
    if let Some(height) = receipt.height
        && height != included.height
    {
        return Err(StepFailure::compare(
            "the receipt's height differs from the block holding the transaction",
            included.height,
            height,
        ));
    }
    match &included.receipt.outcome {
        tally_types::TxOutcome::Success => {}
        tally_types::TxOutcome::Failed { op_index, code } => {
            let code = serde_json::to_value(code)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default();
            return Err(StepFailure::compare(
                format!(
                    "the anchor transaction {tx_id} failed at op {op_index} ({code}); it anchored nothing"
                ),
                "success",
                format!("failed: {code}"),
            ));
        }
    }
    let op = included.tx.tx.ops.iter().find_map(|op| match op {
        Op::AnchorBadges(anchor) if anchor.batch_root == receipt.root => Some(anchor),
        _ => None,
    });
    let Some(op) = op else {
        return Err(StepFailure::new(format!(
            "transaction {tx_id} holds no AnchorBadges op for root {}",
            receipt.root
        )));
    };
    receipt.verify_anchor(op)?;
    let detail = format!(
        "transaction {tx_id} (index {} in block {}) anchors root {} with {}; it is in the tx root and its receipt (success) in the receipts root",
        included.index,
        included.height,
        receipt.root,
        if op.leaf_count == 1 { "1 badge".to_owned() } else { format!("{} badges", op.leaf_count) }
    );
    Ok((included, block, detail))
}

fn step_membership(
    latest: &Finalized,
    receipt: &crate::badge::BadgeReceipt,
    evidence: &BadgeEvidence,
    included: &IncludedTx,
) -> Result<(tally_types::MemberId, String), StepFailure> {
    let state_root = latest.header.state_root;
    let anchor_key = StateKey::BadgeAnchor { batch_root: receipt.root };
    let anchor = match evidence.anchor.verify(&state_root, &anchor_key)? {
        Some(StateValue::BadgeAnchor(anchor)) => anchor,
        Some(other) => {
            return Err(StepFailure::new(format!("the anchor entry holds a {:?} value", other.kind())));
        }
        None => {
            return Err(StepFailure::new(format!(
                "the ledger has no anchor entry for root {} at height {} (proof of absence checked)",
                receipt.root, latest.header.height
            )));
        }
    };
    let signer = included.tx.tx.signer;
    if anchor.tx_id != included.tx.id() {
        return Err(StepFailure::compare(
            "the anchor entry names another transaction",
            anchor.tx_id,
            included.tx.id(),
        ));
    }
    if anchor.issuer != signer {
        return Err(StepFailure::compare(
            "the anchor entry names another issuer than the signer",
            anchor.issuer,
            signer,
        ));
    }
    let member_key = StateKey::Member { member: anchor.member.clone() };
    let member_entry = evidence
        .member
        .as_ref()
        .ok_or_else(|| StepFailure::new(format!("no evidence for member `{}`", anchor.member)))?;
    let name = match member_entry.verify(&state_root, &member_key)? {
        Some(StateValue::Member(member)) => {
            // A removed member's issuers act for no one, and the ledger no longer vouches for
            // the badges they anchored: say so instead of "not an issuer" below.
            if let Some(height) = member.removed_at {
                return Err(StepFailure::new(format!(
                    "member `{}` was removed from the consortium at height {height}; the ledger no longer vouches for its issuers' badges",
                    anchor.member
                )));
            }
            if !member.issuers.iter().any(|issuer| *issuer == signer) {
                return Err(StepFailure::new(format!(
                    "member `{}` does not list {} among its issuers",
                    anchor.member,
                    signer.to_address()
                )));
            }
            member.name.as_str().to_owned()
        }
        _ => return Err(StepFailure::new(format!("member `{}` does not exist", anchor.member))),
    };
    let issuer_key = StateKey::Issuer { account: signer };
    let issuer_entry = evidence.issuer.as_ref().ok_or_else(|| {
        StepFailure::new(format!("no evidence for the issuer index of {}", signer.to_address()))
    })?;
    match issuer_entry.verify(&state_root, &issuer_key)? {
        Some(StateValue::Issuer(issuer)) if issuer.member == anchor.member => {}
        Some(StateValue::Issuer(issuer)) => {
            return Err(StepFailure::compare(
                "the issuer index names another member",
                &anchor.member,
                issuer.member,
            ));
        }
        _ => {
            return Err(StepFailure::new(format!("{} is not an issuer of any member", signer.to_address())));
        }
    }
    let detail = format!(
        "signer {} is an issuer of member `{}` ({name}); the anchor entry, the member and the issuer index are proven against the state root {} of finalized block {} ({} of {} signatures)",
        signer.to_address(),
        anchor.member,
        state_root,
        latest.header.height,
        latest.signers,
        latest.quorum
    );
    Ok((anchor.member, detail))
}

fn step_revocation(
    latest: &Finalized,
    receipt: &crate::badge::BadgeReceipt,
    evidence: &BadgeEvidence,
    member: &tally_types::MemberId,
) -> Result<String, StepFailure> {
    let key = StateKey::BadgeRevocation { member: member.clone(), badge_hash: receipt.badge_hash };
    let entry = evidence
        .revocation
        .as_ref()
        .ok_or_else(|| StepFailure::new(format!("no revocation evidence under member `{member}`")))?;
    match entry.verify(&latest.header.state_root, &key)? {
        None => Ok(format!(
            "member `{member}` has not revoked {}: non-membership proven against the state root of finalized block {}",
            receipt.badge_hash, latest.header.height
        )),
        Some(StateValue::BadgeRevocation(revocation)) => Err(StepFailure::compare(
            format!(
                "revoked by member `{member}` at height {} (transaction {}): \"{}\"",
                revocation.height,
                revocation.tx_id,
                revocation.reason.as_str()
            ),
            "not revoked",
            format!("revoked at height {}", revocation.height),
        )),
        Some(other) => {
            Err(StepFailure::new(format!("the revocation entry holds a {:?} value", other.kind())))
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv4Addr};

    use tally_genesis::ConsensusParams;
    use tally_genesis::init::{TestnetSpec, build_testnet};
    use tally_genesis::keys::KeySource;
    use tally_types::{BoundedVec, MemberId, SecretKey, ValidatorIndex, View};

    use super::*;

    const GENESIS_TIME_MS: u64 = 1_700_000_000_000;

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
        let chain_id = ChainId::new("tally-proofs-unit").expect("valid chain id");
        let keys = KeySource::seeded(b"proofs-unit", &chain_id).expect("valid seed");
        let spec = TestnetSpec {
            chain_id,
            validators: 4,
            members: vec![MemberId::new("acme").expect("valid member id")],
            genesis_time_ms: GENESIS_TIME_MS,
            consensus: ConsensusParams::default(),
            listen_ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
            base_port: 27_200,
            issuer_float: None,
        };
        let testnet = build_testnet(&spec, &keys).expect("valid network");
        let validator_keys = testnet.validator_keys.iter().map(|keys| keys.consensus.clone()).collect();
        (testnet.genesis, validator_keys)
    }

    /// Two empty blocks; block 1 stored with block 2's finalization (finalized together), so
    /// the finality of block 1 walks to block 2. `change` edits block 2's header first.
    fn chain(genesis: &Genesis, keys: &[SecretKey], change: impl Fn(&mut Header)) -> Chain {
        let mut parent =
            ParentLink { id: genesis.parent_of_first_block(), height: Height(0), time_ms: GENESIS_TIME_MS };
        let mut blocks = Vec::new();
        for view in 1..=2 {
            let mut header = Header {
                chain_id: genesis.chain_id().clone(),
                height: parent.height.next(),
                view: View(view),
                parent_id: parent.id,
                time_ms: parent.time_ms + 1_000,
                proposer: ValidatorIndex(0),
                tx_root: tx_root(&[]),
                receipts_root: receipts_root(&[]),
                state_root: Hash::plain(b"state"),
                validators_hash: genesis.validator_set().hash(),
            };
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
}
