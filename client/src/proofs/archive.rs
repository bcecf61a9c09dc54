//! Evidence from an archive replayed locally from the genesis file.

use super::*;
use tally_types::archive::ArchiveHeader;

/// What to keep while replaying an archive besides headers and certificates: the transactions
/// to prove (by id) and those anchoring one of these batch roots.
#[derive(Clone, Debug, Default)]
pub struct Interest {
    pub txs: Vec<TxId>,
    pub anchor_roots: Vec<Hash>,
}

/// A chain replayed from an archive and the genesis file: every certificate checked against
/// its block's epoch's validators, every transaction signature checked, every block
/// re-executed with the ledger code and its state and receipts roots compared. Proofs then
/// come from the replayed state.
///
/// Epochs: the set of each height is read from the replayed state after the block before it
/// ([`EpochTracker`], the node's rule), so the replay follows every change of validators from
/// the genesis file alone; [`ArchiveSource::epochs`] hands them to [`Trust::epochs`].
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
    /// Every epoch of the chain, as the replay established them.
    epochs: Vec<Epoch>,
}

impl ArchiveSource {
    /// Reads and replays the archive at `path`.
    pub fn load(path: &Path, genesis: &Genesis, interest: &Interest) -> Result<Self, ProofError> {
        let file = std::fs::File::open(path)
            .map_err(|error| ProofError::Open { path: path.to_path_buf(), reason: error.to_string() })?;
        let mut reader = ArchiveReader::new(BufReader::new(file))?;
        let trust = Trust::from_genesis(genesis);
        check_archive_header(reader.header(), &trust)?;
        let mut source = ArchiveSource {
            headers: Vec::new(),
            blocks: BTreeMap::new(),
            certificates: Vec::new(),
            state: genesis.initial_state(),
            txs: BTreeMap::new(),
            epochs: Vec::new(),
        };
        let mut tracker = EpochTracker::new(genesis);
        let mut parent = ParentLink {
            id: genesis.parent_of_first_block(),
            height: Height(0),
            time_ms: genesis.genesis_time_ms(),
        };
        let mut last_was_interesting = false;
        while let Some(record) = reader.next_record()? {
            let block = record.block;
            let height = Height(source.headers.len() as u64 + 1);
            // The set of this height, by the replayed state after the previous block.
            let epoch = tracker
                .advance(&source.state, height)
                .map_err(|reason| ProofError::Replay { height, reason })?
                .clone();
            check_header_and_certificate(&block, &record.certificate, &parent, &trust, &epoch, height)?;
            let ids = check_signatures_and_tx_root(&block, height)?;
            let receipts = source.replay(&block, &trust, height)?;
            let interesting = source.keep_evidence(&block, &ids, &receipts, interest, height);
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
        source.epochs = tracker.epochs().to_vec();
        Ok(source)
    }

    /// Re-executes `block` on the replayed state and compares the state and receipts roots
    /// with its header; returns the receipts.
    fn replay(&mut self, block: &Block, trust: &Trust, height: Height) -> Result<Vec<Receipt>, ProofError> {
        let at = |what: &str| format!("block {height}: {what}");
        let context =
            BlockContext { chain_id: trust.chain_id.clone(), height, time_ms: block.header.time_ms };
        let committed = self
            .state
            .execute_and_commit(&context, block.txs.as_slice())
            .map_err(|error| ProofError::Replay { height, reason: format!("re-execution: {error}") })?;
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
        Ok(receipts)
    }

    /// Keeps the evidence (inclusion proofs of the transaction and its receipt) of each
    /// transaction of `block` that is of interest: named by id, or anchoring a root of
    /// interest. Returns whether there was one.
    fn keep_evidence(
        &mut self,
        block: &Block,
        ids: &[TxId],
        receipts: &[Receipt],
        interest: &Interest,
        height: Height,
    ) -> bool {
        let mut interesting = false;
        for (index, tx) in block.txs.iter().enumerate() {
            let anchors_root = tx
                .tx
                .ops
                .iter()
                .filter_map(Op::badge_anchor)
                .any(|anchor| interest.anchor_roots.contains(&anchor.batch_root));
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
                self.txs.insert(ids[index], evidence);
                interesting = true;
            }
        }
        interesting
    }

    /// Every epoch of the replayed chain, in order from epoch 0: established from the genesis
    /// file by the replay, so a verifier may trust them ([`Trust::epochs`]).
    pub fn epochs(&self) -> &[Epoch] {
        &self.epochs
    }

    /// The height of the last block.
    pub fn tip(&self) -> Height {
        Height(self.headers.len() as u64)
    }

    fn entry(&self, key: &StateKey) -> Result<EntryEvidence, ProofError> {
        let proof = self.state.prove(key).map_err(|error| ProofError::BadProof {
            what: format!("proving {key:?} from the replayed state"),
            reason: error.to_string(),
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

/// The archive must be of the trusted chain and genesis file.
fn check_archive_header(header: &ArchiveHeader, trust: &Trust) -> Result<(), ProofError> {
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
    Ok(())
}

/// The header extends `parent` in `epoch`, and the certificate finalizes it in a view of
/// `epoch`, signed by that epoch's validators (R8).
fn check_header_and_certificate(
    block: &Block,
    certificate: &Certificate,
    parent: &ParentLink,
    trust: &Trust,
    epoch: &Epoch,
    height: Height,
) -> Result<(), ProofError> {
    block
        .header
        .check_child_of(parent, &trust.chain_id, &epoch.validators_hash)
        .map_err(|error| ProofError::Header { at: format!("block {height} ({epoch})"), error })?;
    if block.header.view.epoch() != epoch.number {
        return Err(ProofError::mismatch(
            format!("block {height}: the epoch of its view {} ({epoch})", block.header.view),
            epoch.number,
            block.header.view.epoch(),
        ));
    }
    let Subject::Finalize { view, .. } = certificate.subject else {
        return Err(ProofError::Replay { height, reason: "its certificate is not a finalization".into() });
    };
    if view.epoch() != epoch.number {
        return Err(ProofError::Replay {
            height,
            reason: format!(
                "its certificate is of view {view} of epoch {}, but the block belongs to {epoch}, whose \
                 own validators must finalize it",
                view.epoch()
            ),
        });
    }
    certificate.verify(&trust.chain_id, &epoch.validators).map_err(|error| ProofError::Replay {
        height,
        reason: format!("certificate: it does not verify against the validators of {epoch}: {error}"),
    })
}

/// Every transaction's form and signature, then the tx root over their ids; returns the ids.
fn check_signatures_and_tx_root(block: &Block, height: Height) -> Result<Vec<TxId>, ProofError> {
    for (index, tx) in block.txs.iter().enumerate() {
        tx.check_form_and_signature().map_err(|error| ProofError::Replay {
            height,
            reason: format!("transaction {index}: {error}"),
        })?;
    }
    let ids: Vec<TxId> = block.txs.iter().map(SignedTransaction::id).collect();
    if tx_root(&ids) != block.header.tx_root {
        return Err(ProofError::mismatch(
            format!("block {height}: tx root"),
            tx_root(&ids),
            block.header.tx_root,
        ));
    }
    Ok(ids)
}
