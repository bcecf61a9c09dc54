//! The mempool: verified transactions waiting for a block.
//!
//! - Bounded in count, bytes, and per account; a full pool refuses new transactions (no
//!   eviction), so what was admitted stays until it is included, expires or goes stale.
//! - Per-account seq order: a proposal takes, for each account, the consecutive run of seqs that
//!   starts right after the account's committed seq, so every selected transaction passes the
//!   ledger's seq check. Accounts are interleaved by the arrival of their next transaction.
//! - The signature is checked once, on entry, after every cheaper check; the pair (tx id,
//!   signature) is then remembered in a bounded cache that block verification consults. The tx
//!   id covers only the signed body, so the cache key must include the signature: otherwise a
//!   proposer could pair a known body with a forged signature and pass as verified.
//! - Duplicates (same tx id) and a second transaction for an (account, seq) already waiting are
//!   refused.
//! - Newly admitted transactions are handed out once, in batches, for gossip.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap, HashSet, VecDeque};
use std::sync::Arc;

use tally_types::tx::TxFormError;
use tally_types::{ChainId, Height, PublicKey, SignedTransaction, TxId, encode};

use crate::engine::VerifiedTx;

/// Mempool limits.
#[derive(Clone, Debug)]
pub struct MempoolConfig {
    /// Transactions held at once.
    pub txs_max: usize,
    /// Encoded bytes held at once.
    pub bytes_max: usize,
    /// Transactions of one account held at once.
    pub per_account_max: usize,
    /// How far ahead of its committed seq an account may queue (seq ≤ committed + this).
    pub seq_ahead_max: u64,
    /// Tx ids remembered as signature-checked.
    pub verified_cache_max: usize,
}

impl Default for MempoolConfig {
    fn default() -> Self {
        MempoolConfig {
            txs_max: 100_000,
            bytes_max: 256 * 1024 * 1024,
            per_account_max: 1_000,
            seq_ahead_max: 1_000,
            verified_cache_max: 200_000,
        }
    }
}

impl MempoolConfig {
    /// Checks the limits, naming the field at fault.
    pub fn validate(&self) -> Result<(), String> {
        for (field, value) in [
            ("txs_max", self.txs_max),
            ("bytes_max", self.bytes_max),
            ("per_account_max", self.per_account_max),
            ("verified_cache_max", self.verified_cache_max),
        ] {
            if value == 0 {
                return Err(format!("mempool.{field} must be positive"));
            }
        }
        if self.seq_ahead_max == 0 {
            return Err("mempool.seq_ahead_max must be positive".into());
        }
        if self.per_account_max > self.txs_max {
            return Err("mempool.per_account_max must not exceed mempool.txs_max".into());
        }
        if self.bytes_max < tally_types::limits::TX_BYTES_MAX {
            return Err(format!(
                "mempool.bytes_max must hold at least one transaction ({} bytes)",
                tally_types::limits::TX_BYTES_MAX
            ));
        }
        Ok(())
    }
}

/// Why a transaction was not admitted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AdmitError {
    #[error("transaction {0} is already in the mempool")]
    Duplicate(TxId),
    #[error("transaction is {len} bytes; the limit is {max}")]
    TooLarge { len: usize, max: usize },
    #[error("wrong chain id `{got}`; this node runs `{expected}`")]
    WrongChain { expected: ChainId, got: ChainId },
    #[error("transaction expired: valid until height {valid_until}, the chain is at {height}")]
    Expired { valid_until: Height, height: Height },
    #[error("seq {seq} was already used: the account's committed seq is {committed}")]
    StaleSeq { seq: u64, committed: u64 },
    #[error(
        "seq {seq} is too far ahead: the account's committed seq is {committed}, at most {ahead_max} ahead may wait"
    )]
    SeqTooFarAhead { seq: u64, committed: u64, ahead_max: u64 },
    #[error("another transaction with seq {seq} from this account is already waiting")]
    SeqTaken { seq: u64 },
    #[error("this account already has {max} transactions waiting")]
    AccountFull { max: usize },
    #[error("the mempool is full ({txs} transactions, {bytes} bytes); try again later")]
    Full { txs: usize, bytes: usize },
    #[error("{0}")]
    Malformed(TxFormError),
    #[error("the node cannot read its state right now; try again later")]
    Unavailable,
}

/// What the mempool needs to know of the ledger to admit a transaction.
#[derive(Clone, Copy, Debug)]
pub struct AdmitContext {
    /// The signer's committed seq (0 for a new account).
    pub committed_seq: u64,
    /// The committed height; the transaction must still be includable at height + 1.
    pub height: Height,
}

struct Entry {
    tx: Arc<SignedTransaction>,
    len: usize,
    arrival: u64,
}

/// One account's waiting transactions by seq, and the highest committed seq the pool saw.
#[derive(Default)]
struct AccountQueue {
    txs: BTreeMap<u64, TxId>,
    committed_seq: u64,
}

/// A verified (tx id, signature) pair.
type VerifiedKey = (TxId, [u8; 64]);

fn verified_key(tx: &SignedTransaction, id: TxId) -> VerifiedKey {
    (id, tx.signature.0)
}

/// A bounded set of (tx id, signature) pairs that verified, oldest forgotten first.
struct VerifiedCache {
    ids: HashSet<VerifiedKey>,
    order: VecDeque<VerifiedKey>,
    max: usize,
}

impl VerifiedCache {
    fn insert(&mut self, id: VerifiedKey) {
        if self.ids.insert(id) {
            self.order.push_back(id);
            while self.order.len() > self.max {
                if let Some(old) = self.order.pop_front() {
                    self.ids.remove(&old);
                }
            }
        }
    }
}

/// The mempool. Not thread-safe by itself: the node owns it in one task.
pub struct Mempool {
    config: MempoolConfig,
    chain_id: ChainId,
    entries: HashMap<TxId, Entry>,
    accounts: BTreeMap<PublicKey, AccountQueue>,
    /// (valid until, id) of every waiting transaction, to drop the expired without a scan.
    expiry: BTreeSet<(Height, TxId)>,
    /// Transactions in a built or verified block that is not committed yet, with its height.
    in_flight: HashMap<TxId, Height>,
    /// The height of the last [`Self::prune`] (the last commit the pool heard of).
    committed_height: Height,
    bytes: usize,
    next_arrival: u64,
    verified: VerifiedCache,
    fresh: VecDeque<TxId>,
}

impl Mempool {
    /// An empty mempool for `chain_id`.
    pub fn new(config: MempoolConfig, chain_id: ChainId) -> Result<Self, String> {
        config.validate()?;
        let verified =
            VerifiedCache { ids: HashSet::new(), order: VecDeque::new(), max: config.verified_cache_max };
        Ok(Mempool {
            config,
            chain_id,
            entries: HashMap::new(),
            accounts: BTreeMap::new(),
            expiry: BTreeSet::new(),
            in_flight: HashMap::new(),
            committed_height: Height(0),
            bytes: 0,
            next_arrival: 0,
            verified,
            fresh: VecDeque::new(),
        })
    }

    /// Transactions waiting.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when nothing waits.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Encoded bytes waiting.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// The height of the last commit the pool was pruned for: an admission context read at a
    /// lower height may be stale (the transaction may have been included since).
    pub fn committed_height(&self) -> Height {
        self.committed_height
    }

    /// True when `id` waits in the pool.
    pub fn contains(&self, id: &TxId) -> bool {
        self.entries.contains_key(id)
    }

    /// True when this exact signed transaction (body and signature) was verified by this
    /// mempool (it may have left the pool since).
    pub fn is_verified(&self, tx: &SignedTransaction) -> bool {
        self.verified.ids.contains(&verified_key(tx, tx.id()))
    }

    /// The checks [`Self::admit`] makes before the signature, so that a batch's signatures are
    /// only checked for transactions that could be admitted.
    pub fn precheck(&self, tx: &SignedTransaction, context: AdmitContext) -> Result<(), AdmitError> {
        let len = encode(tx).len();
        self.check(tx, tx.id(), len, context)
    }

    fn check(
        &self,
        tx: &SignedTransaction,
        id: TxId,
        len: usize,
        context: AdmitContext,
    ) -> Result<(), AdmitError> {
        if len > tally_types::limits::TX_BYTES_MAX {
            return Err(AdmitError::TooLarge { len, max: tally_types::limits::TX_BYTES_MAX });
        }
        if tx.tx.chain_id != self.chain_id {
            return Err(AdmitError::WrongChain {
                expected: self.chain_id.clone(),
                got: tx.tx.chain_id.clone(),
            });
        }
        if self.entries.contains_key(&id) {
            return Err(AdmitError::Duplicate(id));
        }
        let next_height = context.height.next();
        if tx.tx.valid_until_height < next_height {
            return Err(AdmitError::Expired {
                valid_until: tx.tx.valid_until_height,
                height: context.height,
            });
        }
        let seq = tx.tx.seq;
        if seq <= context.committed_seq {
            return Err(AdmitError::StaleSeq { seq, committed: context.committed_seq });
        }
        if seq - context.committed_seq > self.config.seq_ahead_max {
            return Err(AdmitError::SeqTooFarAhead {
                seq,
                committed: context.committed_seq,
                ahead_max: self.config.seq_ahead_max,
            });
        }
        if let Some(queue) = self.accounts.get(&tx.tx.signer) {
            if queue.txs.contains_key(&seq) {
                return Err(AdmitError::SeqTaken { seq });
            }
            if queue.txs.len() >= self.config.per_account_max {
                return Err(AdmitError::AccountFull { max: self.config.per_account_max });
            }
        }
        if self.entries.len() >= self.config.txs_max || self.bytes + len > self.config.bytes_max {
            return Err(AdmitError::Full { txs: self.entries.len(), bytes: self.bytes });
        }
        Ok(())
    }

    /// Admits a verified transaction after the cheap checks (run again: the pool may have
    /// changed since [`Self::precheck`]). `announce`: hand it out for gossip (transactions
    /// that came by gossip are not: gossipsub already forwards them).
    pub fn admit(
        &mut self,
        verified: VerifiedTx,
        context: AdmitContext,
        announce: bool,
    ) -> Result<TxId, AdmitError> {
        let tx = verified.into_inner();
        let len = encode(&*tx).len();
        let id = tx.id();
        self.check(&tx, id, len, context)?;
        self.verified.insert(verified_key(&tx, id));
        let signer = tx.tx.signer;
        let seq = tx.tx.seq;
        let queue = self.accounts.entry(signer).or_default();
        queue.txs.insert(seq, id);
        queue.committed_seq = queue.committed_seq.max(context.committed_seq);
        self.expiry.insert((tx.tx.valid_until_height, id));
        self.entries.insert(id, Entry { tx, len, arrival: self.next_arrival });
        self.next_arrival += 1;
        self.bytes += len;
        // Bounded even if nobody drains it: past txs_max, the oldest fresh ids are forgotten
        // (they are gossiped late or not at all; peers re-fetch what they miss).
        if announce {
            if self.fresh.len() >= self.config.txs_max {
                self.fresh.pop_front();
            }
            self.fresh.push_back(id);
        }
        Ok(id)
    }

    /// Verifies and admits one transaction, as the ingress lane does (tests).
    #[cfg(test)]
    pub fn admit_signed(&mut self, tx: SignedTransaction, context: AdmitContext) -> Result<TxId, AdmitError> {
        self.precheck(&tx, context)?;
        let verified = VerifiedTx::check_batch(vec![tx]).pop().expect("one result");
        self.admit(verified.map_err(AdmitError::Malformed)?, context, true)
    }

    /// True when some waiting transaction could go into the next block: its seq follows its
    /// account's committed seq and it was not already proposed in a block still in flight.
    /// Only then does a leader propose before the empty-block pause (a transaction waiting for
    /// a seq gap to close costs no blocks).
    pub fn has_ready(&self) -> bool {
        self.accounts.values().any(|queue| {
            let first = queue.committed_seq + 1;
            for (want, (&seq, id)) in (first..).zip(queue.txs.range(first..)) {
                if seq != want {
                    return false;
                }
                if !self.in_flight.contains_key(id) {
                    return true;
                }
            }
            false
        })
    }

    /// Marks the transactions of a block that was built or verified (not yet committed): they
    /// no longer make a leader hurry. Bounded: the marks are cleared at each commit.
    pub fn mark_in_flight(&mut self, height: Height, ids: impl IntoIterator<Item = TxId>) {
        for id in ids {
            if self.entries.contains_key(&id) {
                self.in_flight.insert(id, height);
            }
        }
    }

    /// Picks transactions for a block: per account the consecutive seqs after its seq in the
    /// parent's state (`committed_seq`), accounts interleaved by arrival, up to `txs_max`
    /// transactions and `bytes_max` bytes.
    ///
    /// Costs O(accounts in the pool) cheap steps plus `committed_seq` calls (state reads) only
    /// for the accounts it reaches before the block is full: an account is a candidate when
    /// its lowest waiting seq follows the committed seq the pool knows (a lower bound of the
    /// parent's), and the parent's seq is read when its turn comes. (An account whose next seq
    /// was included by a block this pool never held waits one commit: the prune then raises
    /// the seq the pool knows.)
    pub fn select(
        &self,
        txs_max: usize,
        bytes_max: usize,
        committed_seq: impl Fn(&PublicKey) -> u64,
        height: Height,
    ) -> Vec<Arc<SignedTransaction>> {
        let next_height = height.next();
        // Per candidate account: its key, its queue, and whether the parent's seq was read.
        let mut cursors: Vec<(&PublicKey, &AccountQueue, bool)> = Vec::new();
        let mut heap = BinaryHeap::new();
        for (account, queue) in &self.accounts {
            let lowest = queue.committed_seq.saturating_add(1);
            if let Some((&seq, id)) = queue.txs.range(lowest..).next()
                && seq == lowest
            {
                heap.push(Reverse((self.entries[id].arrival, cursors.len(), seq, *id)));
                cursors.push((account, queue, false));
            }
        }
        let mut selected = Vec::new();
        let mut bytes = 0usize;
        while let Some(Reverse((_, cursor, seq, id))) = heap.pop() {
            if selected.len() >= txs_max {
                break;
            }
            let (account, queue, checked) = &mut cursors[cursor];
            if !*checked {
                *checked = true;
                let want = committed_seq(account).saturating_add(1);
                if seq != want {
                    // Blocks the parent builds on included some of its seqs.
                    if let Some((&next, next_id)) = queue.txs.range(want..).next()
                        && next == want
                    {
                        heap.push(Reverse((self.entries[next_id].arrival, cursor, next, *next_id)));
                    }
                    continue;
                }
            }
            let entry = &self.entries[&id];
            // A transaction expiring before the next height is skipped, and with it the rest of
            // its account's run (their seqs would no longer be consecutive).
            if entry.tx.tx.valid_until_height < next_height {
                continue;
            }
            if bytes + entry.len > bytes_max {
                // Smaller transactions of other accounts may still fit.
                continue;
            }
            bytes += entry.len;
            selected.push(Arc::clone(&entry.tx));
            if let Some(next_id) = queue.txs.get(&(seq + 1)) {
                heap.push(Reverse((self.entries[next_id].arrival, cursor, seq + 1, *next_id)));
            }
        }
        selected
    }

    /// Removes transactions that were included in a committed block.
    pub fn remove(&mut self, ids: impl IntoIterator<Item = TxId>) {
        for id in ids {
            self.remove_one(&id);
        }
    }

    fn remove_one(&mut self, id: &TxId) {
        if let Some(entry) = self.entries.remove(id) {
            self.bytes -= entry.len;
            self.in_flight.remove(id);
            self.expiry.remove(&(entry.tx.tx.valid_until_height, *id));
            let signer = entry.tx.tx.signer;
            if let Some(queue) = self.accounts.get_mut(&signer) {
                queue.txs.remove(&entry.tx.tx.seq);
                if queue.txs.is_empty() {
                    self.accounts.remove(&signer);
                }
            }
        }
    }

    /// After the commit of `height`: `touched` gives the new committed seq of every account a
    /// committed block changed; their transactions at or below it are dropped (included, or
    /// another transaction took the seq), and so is every transaction that expired. Costs
    /// O(touched accounts + expired), not O(pool).
    pub fn prune(&mut self, touched: impl IntoIterator<Item = (PublicKey, u64)>, height: Height) {
        self.committed_height = self.committed_height.max(height);
        let next_height = height.next();
        let mut doomed = Vec::new();
        for (account, committed) in touched {
            if let Some(queue) = self.accounts.get_mut(&account) {
                queue.committed_seq = queue.committed_seq.max(committed);
                doomed.extend(queue.txs.range(..=committed).map(|(_, id)| *id));
            }
        }
        doomed
            .extend(self.expiry.range(..(next_height, TxId(tally_types::Hash([0; 32])))).map(|(_, id)| *id));
        for id in doomed {
            self.remove_one(&id);
        }
        self.in_flight.retain(|_, marked| *marked > height);
    }

    /// Transactions admitted since the last call that are still waiting, for gossip in batches
    /// of at most `batch_max`.
    pub fn take_fresh(&mut self, batch_max: usize) -> Vec<Arc<SignedTransaction>> {
        let take = self.fresh.len().min(batch_max);
        let ids: Vec<TxId> = self.fresh.drain(..take).collect();
        ids.iter().filter_map(|id| self.entries.get(id).map(|entry| Arc::clone(&entry.tx))).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tally_types::codec::{BoundedBytes, BoundedVec};
    use tally_types::tx::{Op, Transaction, Transfer};
    use tally_types::{Amount, AssetId, SecretKey};

    fn chain() -> ChainId {
        ChainId::new("tally-mempool").expect("valid")
    }

    fn tx(key: &SecretKey, seq: u64, valid_until: u64, amount: u128) -> SignedTransaction {
        Transaction {
            chain_id: chain(),
            signer: key.public_key(),
            seq,
            valid_until_height: Height(valid_until),
            ops: BoundedVec::new(vec![Op::Transfer(Transfer {
                asset: "ACME@acme".parse::<AssetId>().expect("valid"),
                to: SecretKey::from_seed(&[0xee; 32]).public_key(),
                amount: Amount(amount),
            })])
            .expect("one op"),
            memo: BoundedBytes::empty(),
        }
        .sign(key)
    }

    fn context(committed_seq: u64) -> AdmitContext {
        AdmitContext { committed_seq, height: Height(10) }
    }

    fn pool(config: MempoolConfig) -> Mempool {
        Mempool::new(config, chain()).expect("valid config")
    }

    #[test]
    fn admits_once_and_refuses_each_bad_case_distinctly() {
        let mut pool = pool(MempoolConfig { seq_ahead_max: 5, ..MempoolConfig::default() });
        let key = SecretKey::from_seed(&[1; 32]);
        let first = tx(&key, 1, 100, 1);
        let id = pool.admit_signed(first.clone(), context(0)).expect("admitted");
        assert!(pool.is_verified(&first));
        // Same body, another signature: not verified, whatever the tx id says.
        let mut resigned = first.clone();
        resigned.signature.0[5] ^= 0x40;
        assert_eq!(resigned.id(), id);
        assert!(!pool.is_verified(&resigned));
        assert_eq!(pool.admit_signed(first, context(0)), Err(AdmitError::Duplicate(id)));
        assert_eq!(pool.admit_signed(tx(&key, 1, 100, 2), context(0)), Err(AdmitError::SeqTaken { seq: 1 }));
        assert_eq!(
            pool.admit_signed(tx(&key, 1, 100, 3), context(1)),
            Err(AdmitError::StaleSeq { seq: 1, committed: 1 })
        );
        assert!(matches!(
            pool.admit_signed(tx(&key, 7, 100, 1), context(0)),
            Err(AdmitError::SeqTooFarAhead { .. })
        ));
        assert!(matches!(pool.admit_signed(tx(&key, 2, 10, 1), context(0)), Err(AdmitError::Expired { .. })));

        let mut forged = tx(&key, 2, 100, 1);
        forged.signature.0[0] ^= 1;
        assert_eq!(
            pool.admit_signed(forged, context(0)),
            Err(AdmitError::Malformed(TxFormError::BadSignature))
        );

        let mut foreign = tx(&key, 2, 100, 1);
        foreign.tx.chain_id = ChainId::new("other-chain").expect("valid");
        assert!(matches!(pool.admit_signed(foreign, context(0)), Err(AdmitError::WrongChain { .. })));
        assert_eq!(pool.len(), 1);
    }

    #[test]
    fn bounds_hold_per_account_and_in_total() {
        let mut pool = pool(MempoolConfig { txs_max: 3, per_account_max: 2, ..MempoolConfig::default() });
        let a = SecretKey::from_seed(&[1; 32]);
        let b = SecretKey::from_seed(&[2; 32]);
        pool.admit_signed(tx(&a, 1, 100, 1), context(0)).expect("admitted");
        pool.admit_signed(tx(&a, 2, 100, 1), context(0)).expect("admitted");
        assert_eq!(pool.admit_signed(tx(&a, 3, 100, 1), context(0)), Err(AdmitError::AccountFull { max: 2 }));
        pool.admit_signed(tx(&b, 1, 100, 1), context(0)).expect("admitted");
        let c = SecretKey::from_seed(&[3; 32]);
        assert!(matches!(
            pool.admit_signed(tx(&c, 1, 100, 1), context(0)),
            Err(AdmitError::Full { txs: 3, .. })
        ));
    }

    #[test]
    fn select_takes_consecutive_seqs_per_account_interleaved_by_arrival() {
        let mut pool = pool(MempoolConfig::default());
        let a = SecretKey::from_seed(&[1; 32]);
        let b = SecretKey::from_seed(&[2; 32]);
        // a: seqs 1, 2, 4 (gap at 3); b: seqs 6, 7 with committed seq 5.
        let a1 = pool.admit_signed(tx(&a, 1, 100, 1), context(0)).expect("ok");
        let b6 = pool
            .admit_signed(tx(&b, 6, 100, 1), AdmitContext { committed_seq: 5, height: Height(10) })
            .expect("ok");
        let a2 = pool.admit_signed(tx(&a, 2, 100, 1), context(0)).expect("ok");
        pool.admit_signed(tx(&a, 4, 100, 1), context(0)).expect("ok");
        let b7 = pool
            .admit_signed(tx(&b, 7, 100, 1), AdmitContext { committed_seq: 5, height: Height(10) })
            .expect("ok");
        let committed = |key: &PublicKey| if *key == b.public_key() { 5 } else { 0 };
        let ids: Vec<TxId> =
            pool.select(100, usize::MAX, committed, Height(10)).iter().map(|tx| tx.id()).collect();
        assert_eq!(ids, vec![a1, b6, a2, b7]);
        // Limits are honoured.
        assert_eq!(pool.select(2, usize::MAX, committed, Height(10)).len(), 2);
        assert!(pool.select(100, 10, committed, Height(10)).is_empty());
    }

    /// Building on blocks in flight: the parent's seq, read lazily, moves an account's run on
    /// past the seqs those blocks hold; and the parent's state is read only for the accounts
    /// reached before the block is full, not for every account in the pool.
    #[test]
    fn select_reads_the_parent_seq_only_for_accounts_it_reaches() {
        let mut pool = pool(MempoolConfig::default());
        let a = SecretKey::from_seed(&[1; 32]);
        pool.admit_signed(tx(&a, 1, 100, 1), context(0)).expect("ok");
        pool.admit_signed(tx(&a, 2, 100, 1), context(0)).expect("ok");
        let a3 = pool.admit_signed(tx(&a, 3, 100, 1), context(0)).expect("ok");
        let others: Vec<SecretKey> = (10..60u8).map(|seed| SecretKey::from_seed(&[seed; 32])).collect();
        for key in &others {
            pool.admit_signed(tx(key, 1, 100, 1), context(0)).expect("ok");
        }
        // A block in flight holds a's seqs 1 and 2: the parent's seq for a is 2.
        let reads = std::cell::Cell::new(0);
        let parent_seq = |key: &PublicKey| {
            reads.set(reads.get() + 1);
            if *key == a.public_key() { 2 } else { 0 }
        };
        let picked = pool.select(1, usize::MAX, parent_seq, Height(10));
        assert_eq!(picked.len(), 1);
        let first_reads = reads.get();
        assert!(first_reads < 5, "{first_reads} state reads for one transaction out of 51 accounts");
        let all: Vec<TxId> =
            pool.select(100, usize::MAX, parent_seq, Height(10)).iter().map(|tx| tx.id()).collect();
        assert_eq!(all.len(), 51, "a's seq 3 and one of each other account");
        assert!(all.contains(&a3));
        assert_eq!(all.iter().filter(|id| **id == a3).count(), 1);
    }

    #[test]
    fn remove_and_prune_keep_counters_exact() {
        let mut pool = pool(MempoolConfig::default());
        let a = SecretKey::from_seed(&[1; 32]);
        let first = tx(&a, 1, 100, 1);
        let one = pool.admit_signed(first.clone(), context(0)).expect("ok");
        pool.admit_signed(tx(&a, 2, 100, 1), context(0)).expect("ok");
        pool.admit_signed(tx(&a, 3, 12, 1), context(0)).expect("ok");
        assert_eq!(pool.take_fresh(2).len(), 2);
        assert_eq!(pool.take_fresh(10).len(), 1);
        assert!(pool.take_fresh(10).is_empty());
        pool.remove([one]);
        assert_eq!(pool.len(), 2);
        // Seq 2 was used by some other transaction; seq 3 expires after height 12.
        pool.prune([(a.public_key(), 2)], Height(12));
        assert!(pool.is_empty());
        assert_eq!(pool.bytes(), 0);
        assert!(pool.is_verified(&first), "the verification cache outlives the pool entry");
    }

    /// Only a transaction that can go into the next block makes a leader hurry: one waiting
    /// behind a seq gap does not, nor one already proposed in a block in flight.
    #[test]
    fn ready_means_includable_next_and_not_in_flight() {
        let mut pool = pool(MempoolConfig::default());
        let a = SecretKey::from_seed(&[1; 32]);
        assert!(!pool.has_ready());
        let third = pool.admit_signed(tx(&a, 3, 100, 1), context(1)).expect("ok");
        assert!(!pool.has_ready(), "seq 3 waits for seq 2");
        let second = pool.admit_signed(tx(&a, 2, 100, 1), context(1)).expect("ok");
        assert!(pool.has_ready());
        pool.mark_in_flight(Height(11), [second]);
        assert!(pool.has_ready(), "seq 3 follows the in-flight seq 2");
        pool.mark_in_flight(Height(12), [third]);
        assert!(!pool.has_ready(), "both are in blocks in flight");
        // Height 11 commits with seq 2: seq 3's mark (height 12) stays.
        pool.prune([(a.public_key(), 2)], Height(11));
        assert_eq!(pool.len(), 1);
        assert!(!pool.has_ready());
        // Height 12 did not commit seq 3 (another block won): its mark is cleared, it is ready.
        pool.prune([], Height(12));
        assert!(pool.has_ready());
    }

    #[test]
    fn config_is_validated_naming_the_field() {
        let error = Mempool::new(MempoolConfig { txs_max: 0, ..MempoolConfig::default() }, chain())
            .err()
            .expect("refused");
        assert!(error.contains("mempool.txs_max"), "{error}");
    }
}
