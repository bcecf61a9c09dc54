//! Ingress: transactions from HTTP and gossip are decoded and signature-checked in batches on
//! the ingress lane, then admitted to the mempool there; the driver only hears that
//! something arrived (to propose early) and, for gossip, the verdict to report.
//!
//! A [`VerifiedTx`] can only be made by [`VerifiedTx::check_batch`], so the mempool (and with it
//! block building) holds only transactions whose form and signature were checked.

use std::sync::{Arc, Mutex};

use tally_store::Store;
use tally_types::tx::TxFormError;
use tally_types::wire::TxBatch;
use tally_types::{Height, SignedTransaction, TxId, decode};

use super::executor::account_seq;
use super::io::Verdict;
use crate::mempool::{AdmitContext, AdmitError, Mempool};

/// A transaction whose form and signature were checked. Only [`VerifiedTx::check_batch`]
/// makes one.
#[derive(Clone, Debug)]
pub struct VerifiedTx(Arc<SignedTransaction>);

impl VerifiedTx {
    /// Checks form and signature of each transaction (signatures in batches); one result per
    /// transaction, in order.
    pub fn check_batch(txs: Vec<SignedTransaction>) -> Vec<Result<VerifiedTx, TxFormError>> {
        let verdicts = tally_types::tx::check_batch(&txs);
        txs.into_iter()
            .zip(verdicts)
            .map(|(tx, verdict)| verdict.map(|()| VerifiedTx(Arc::new(tx))))
            .collect()
    }

    pub fn tx(&self) -> &Arc<SignedTransaction> {
        &self.0
    }

    pub fn into_inner(self) -> Arc<SignedTransaction> {
        self.0
    }
}

/// Checks and admits `txs` (one result per transaction, in order). Cheap checks (chain,
/// duplicates, seq, room) run before the signature batch, so junk costs no curve arithmetic.
/// `announce`: gossip them on (submissions); gossiped ones are forwarded by gossipsub itself.
pub fn admit(
    store: &Store,
    mempool: &Mutex<Mempool>,
    txs: Vec<SignedTransaction>,
    announce: bool,
) -> Vec<Result<TxId, AdmitError>> {
    let Ok(snapshot) = store.snapshot() else {
        return txs.iter().map(|_| Err(AdmitError::Unavailable)).collect();
    };
    let height: Height = snapshot.height();
    let contexts: Vec<AdmitContext> = txs
        .iter()
        .map(|tx| AdmitContext { committed_seq: account_seq(&snapshot, &tx.tx.signer), height })
        .collect();
    drop(snapshot);
    let signers: Vec<tally_types::PublicKey> = txs.iter().map(|tx| tx.tx.signer).collect();
    // Pre-check without the signature, then batch-check the signatures of what passed.
    let mut results: Vec<Option<Result<TxId, AdmitError>>> = Vec::with_capacity(txs.len());
    let mut to_check = Vec::new();
    let mut to_check_at = Vec::new();
    {
        let Ok(pool) = mempool.lock() else {
            return txs.iter().map(|_| Err(AdmitError::Unavailable)).collect();
        };
        for (index, (tx, context)) in txs.into_iter().zip(&contexts).enumerate() {
            if let Err(error) = pool.precheck(&tx, *context) {
                results.push(Some(Err(error)));
                continue;
            }
            results.push(None);
            to_check_at.push(index);
            to_check.push(tx);
        }
    }
    let verified = VerifiedTx::check_batch(to_check);
    let Ok(mut pool) = mempool.lock() else {
        return results.into_iter().map(|_| Err(AdmitError::Unavailable)).collect();
    };
    // A commit pruned the pool since the contexts were read: read them again (under the lock,
    // so no commit slips in between), or a transaction included meanwhile would be admitted
    // again with its old seq and look ready to leaders.
    let mut contexts = contexts;
    if pool.committed_height() > height {
        let Ok(snapshot) = store.snapshot() else {
            return results.into_iter().map(|_| Err(AdmitError::Unavailable)).collect();
        };
        let height = snapshot.height();
        for (context, index) in contexts.iter_mut().zip(0..) {
            if let Some(signer) = signers.get(index) {
                *context = AdmitContext { committed_seq: account_seq(&snapshot, signer), height };
            }
        }
    }
    for (index, verified) in to_check_at.into_iter().zip(verified) {
        results[index] = Some(match verified {
            Ok(tx) => pool.admit(tx, contexts[index], announce),
            Err(error) => Err(AdmitError::Malformed(error)),
        });
    }
    results.into_iter().map(|result| result.unwrap_or(Err(AdmitError::Unavailable))).collect()
}

/// Decodes and admits a gossiped batch; the verdict for gossipsub.
pub fn admit_gossip(store: &Store, mempool: &Mutex<Mempool>, bytes: &[u8]) -> (Verdict, usize) {
    match decode::<TxBatch>(bytes) {
        Ok(batch) if batch.0.len() <= tally_types::limits::TX_GOSSIP_BATCH_MAX => {
            let admitted =
                admit(store, mempool, batch.0, false).iter().filter(|result| result.is_ok()).count();
            (if admitted > 0 { Verdict::Accept } else { Verdict::Ignore }, admitted)
        }
        _ => (Verdict::Reject, 0),
    }
}
