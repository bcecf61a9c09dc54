//! The executor: builds, verifies and executes blocks on the committed state seen through the
//! write sets of uncommitted ancestors ([`Overlay`]). Everything here runs in jobs on the
//! executor lane, never on the driver's thread, and is a function of its inputs: the store
//! (read-only snapshots), the ancestors' results and the block.
//!
//! Layers and the base: a job takes one store snapshot and skips every layer at or below the
//! snapshot's height, so a block committed by the writer while the job was queued is read
//! from the store rather than twice. The driver keeps a layer until its block is durable.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail};
use tally_consensus::BlockRef;
use tally_ledger::state::{KeyRange, next_entry_layered};
use tally_ledger::tree::{Node, NodeKey, TreeBatch, TreeError, TreeStore, apply_updates};
use tally_ledger::{
    BlockContext, BlockExecutor, StateError, StateKey, StateRead, StateValue, TxError, WriteSet,
    execute_block,
};
use tally_store::{Snapshot, Store};
use tally_types::block::{receipts_root, tx_root};
use tally_types::codec::BoundedVec;
use tally_types::governance::ConsensusParams;
use tally_types::{
    Block, BlockId, ChainId, Hash, Header, Height, PublicKey, Receipt, SignedTransaction, TxId,
    ValidatorIndex, ValidatorSet, View,
};

use crate::mempool::Mempool;

/// One block's execution result, relative to its parent's state.
pub struct Executed {
    pub parent_id: BlockId,
    pub height: Height,
    pub receipts: Vec<Receipt>,
    pub writes: WriteSet,
    pub batch: TreeBatch,
    /// The batch's node writes by encoded position (`None`: deleted), for overlay reads.
    nodes: HashMap<Vec<u8>, Option<Node>>,
}

impl Executed {
    pub fn new(
        parent_id: BlockId,
        height: Height,
        receipts: Vec<Receipt>,
        writes: WriteSet,
        batch: TreeBatch,
    ) -> Self {
        let mut nodes = HashMap::with_capacity(batch.puts.len() + batch.deletes.len());
        for (key, node) in &batch.puts {
            nodes.insert(key.to_bytes().as_slice().to_vec(), Some(*node));
        }
        for key in &batch.deletes {
            nodes.insert(key.to_bytes().as_slice().to_vec(), None);
        }
        Executed { parent_id, height, receipts, writes, batch, nodes }
    }
}

/// The committed state seen through the writes of uncommitted ancestors (oldest first).
pub struct Overlay<'a> {
    base: &'a Snapshot<'a>,
    layers: Vec<&'a Executed>,
}

impl<'a> Overlay<'a> {
    /// `layers` oldest first; those at or below the snapshot's height are already in the base.
    pub fn new(base: &'a Snapshot<'a>, layers: &'a [Arc<Executed>]) -> Self {
        let committed = base.height();
        Overlay {
            base,
            layers: layers.iter().filter(|layer| layer.height > committed).map(Arc::as_ref).collect(),
        }
    }

    #[cfg(test)]
    pub fn from_refs(base: &'a Snapshot<'a>, layers: Vec<&'a Executed>) -> Self {
        Overlay { base, layers }
    }
}

impl StateRead for Overlay<'_> {
    fn get(&self, key: &StateKey) -> Result<Option<StateValue>, StateError> {
        for layer in self.layers.iter().rev() {
            if let Some(value) = layer.writes.get(key) {
                return Ok(value.clone());
            }
        }
        self.base.get(key)
    }

    fn next_entry(
        &self,
        range: &KeyRange,
        after: Option<&StateKey>,
    ) -> Result<Option<(StateKey, StateValue)>, StateError> {
        let layers: Vec<_> = self.layers.iter().map(|layer| layer.writes.as_map()).collect();
        next_entry_layered(self.base, &layers, &[], range, after)
    }
}

impl TreeStore for Overlay<'_> {
    fn get_node(&self, key: &NodeKey) -> Result<Option<Node>, TreeError> {
        let bytes = key.to_bytes();
        for layer in self.layers.iter().rev() {
            if let Some(node) = layer.nodes.get(bytes.as_slice()) {
                return Ok(*node);
            }
        }
        self.base.get_node(key)
    }
}

/// The account's seq in `state` (0 for a new account).
pub fn account_seq(state: &impl StateRead, account: &PublicKey) -> u64 {
    match state.get(&StateKey::Account { account: *account }) {
        Ok(Some(StateValue::Account(account))) => account.seq,
        // A read error here only makes the mempool pick or admit less; execution re-reads.
        _ => 0,
    }
}

/// Who validates a height, by the committed state: the epoch's number (which its views carry,
/// `View::epoch`), the hash of its validator set (which its headers carry) and its parameters
/// (docs/ARCHITECTURE.md "Governance and epochs").
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EpochRules {
    pub number: u64,
    pub start_height: Height,
    pub validators: ValidatorSet,
    pub params: ConsensusParams,
}

impl EpochRules {
    /// The epoch in force at `height` by `state`, the state after block `height − 1` (or any
    /// later one of the same chain that has not passed `height`'s epoch: a change passed in
    /// block H starts at H + 2, so the state after `height − 2` already knows it). `None` for
    /// a ledger made without governance state, which has one epoch for ever.
    pub fn at(state: &impl StateRead, height: Height) -> anyhow::Result<Option<EpochRules>> {
        let epochs = match state.get(&StateKey::Epochs)? {
            None => return Ok(None),
            Some(StateValue::Epochs(epochs)) => epochs,
            Some(_) => bail!("the state's epochs entry holds another kind of value"),
        };
        let epoch = epochs.at(height);
        let validators = ValidatorSet::new(epoch.validators.iter().copied().collect())
            .map_err(|error| anyhow!("epoch {}'s validator set: {error}", epoch.number))?;
        Ok(Some(EpochRules {
            number: epoch.number,
            start_height: epoch.start_height,
            validators,
            params: epoch.params,
        }))
    }

    /// Whether the block at `height`, whose resulting state is `state`, is the last of its
    /// epoch: the next height starts a later one.
    pub fn ends_epoch(state: &impl StateRead, height: Height) -> anyhow::Result<bool> {
        let next = height.next();
        Ok(Self::at(state, next)?.is_some_and(|epoch| epoch.number > 0 && epoch.start_height == next))
    }
}

/// The validators hash and epoch number a block at `height` must carry, by `state` (the state
/// after its parent); a ledger without epochs keeps the genesis set of `rules`.
pub fn block_epoch(
    state: &impl StateRead,
    height: Height,
    rules: &ChainRules,
) -> anyhow::Result<(Hash, u64)> {
    Ok(match EpochRules::at(state, height)? {
        Some(epoch) => (epoch.validators.hash(), epoch.number),
        None => (rules.validators_hash, 0),
    })
}

/// What every executor job knows of the chain.
#[derive(Clone)]
pub struct ChainRules {
    pub chain_id: ChainId,
    pub validators_hash: Hash,
    pub me: ValidatorIndex,
    pub block_txs_max: usize,
    pub block_bytes_max: usize,
}

impl ChainRules {
    /// These rules in `epoch`: its validators hash and its block limits (within the protocol's).
    pub fn in_epoch(self, epoch: &EpochRules) -> ChainRules {
        ChainRules {
            validators_hash: epoch.validators.hash(),
            block_txs_max: (epoch.params.block_txs_max as usize).min(tally_types::limits::BLOCK_TXS_MAX),
            // Room for the header and the length prefix of the transaction list.
            block_bytes_max: (epoch.params.block_bytes_max as usize)
                .min(tally_types::limits::BLOCK_BYTES_MAX)
                .saturating_sub(tally_types::limits::HEADER_BYTES_MAX + 4),
            ..self
        }
    }
}

/// The fewest transactions the pace lets a block hold, so that one slow block (a cold cache)
/// cannot shrink the next ones to nothing.
pub const PACE_TXS_MIN: usize = 256;
/// Blocks with fewer transactions than this say little about the cost of one (their fixed
/// costs dominate) and do not change the pace.
const PACE_SAMPLE_TXS_MIN: usize = 64;

/// Sizes the blocks this node builds by the time its recent blocks took to build (the state's
/// size, the machine and its load set that time; verifying a block costs about what building
/// it did), so that a full block is built, sent and verified within the propose timeout
/// instead of outlasting it and nullifying the view, which throws the work away. Only this
/// node's own builds are measured: another leader's block could be made costly on purpose
/// (transactions kept out of gossip, so every signature is checked) to shrink this node's
/// blocks. Node-local: the rules accept any block within the genesis limits, whatever its
/// size; the simulator runs with the pace off, so that its blocks do not depend on the wall
/// clock.
pub struct BuildPace {
    /// `None`: no time limit; blocks are limited by count and bytes only.
    budget: Option<Duration>,
    /// Moving average of the wall time per transaction of recent builds, in nanoseconds; 0
    /// before the first sample.
    nanos_per_tx: AtomicU64,
}

impl BuildPace {
    /// Aims to build each block within `budget`.
    pub fn new(budget: Duration) -> Self {
        BuildPace { budget: Some(budget).filter(|budget| !budget.is_zero()), nanos_per_tx: AtomicU64::new(0) }
    }

    /// No time limit.
    pub fn off() -> Self {
        BuildPace { budget: None, nanos_per_tx: AtomicU64::new(0) }
    }

    /// The time a build aims to take, if any.
    pub fn budget(&self) -> Option<Duration> {
        self.budget
    }

    /// How many transactions the next block may hold: what the budget buys at the measured
    /// cost per transaction, within `[PACE_TXS_MIN, txs_max]`.
    pub fn txs_cap(&self, txs_max: usize) -> usize {
        let (Some(budget), nanos) = (self.budget, self.nanos_per_tx.load(Ordering::Relaxed)) else {
            return txs_max;
        };
        if nanos == 0 {
            return txs_max;
        }
        let affordable = usize::try_from(budget.as_nanos() / u128::from(nanos)).unwrap_or(usize::MAX);
        affordable.clamp(PACE_TXS_MIN.min(txs_max), txs_max)
    }

    /// Records that a block of `txs` transactions took `elapsed` to build.
    pub fn record(&self, elapsed: Duration, txs: usize) {
        if self.budget.is_none() || txs < PACE_SAMPLE_TXS_MIN {
            return;
        }
        let sample = u64::try_from(elapsed.as_nanos() / txs as u128).unwrap_or(u64::MAX).max(1);
        let old = self.nanos_per_tx.load(Ordering::Relaxed);
        // Weight 1/4: a few blocks follow a change of load; one outlier moves it little.
        let new = if old == 0 { sample } else { old - old / 4 + sample / 4 };
        self.nanos_per_tx.store(new, Ordering::Relaxed);
    }

    /// The measured cost per transaction, in nanoseconds (0: none yet).
    pub fn nanos_per_tx(&self) -> u64 {
        self.nanos_per_tx.load(Ordering::Relaxed)
    }
}

/// Executes `block` on top of `layers` (its ancestors' results, oldest first).
pub fn execute(store: &Store, layers: &[Arc<Executed>], block: &Block) -> anyhow::Result<Executed> {
    let snapshot = store.snapshot()?;
    let overlay = Overlay::new(&snapshot, layers);
    let context = BlockContext {
        chain_id: block.header.chain_id.clone(),
        height: block.header.height,
        time_ms: block.header.time_ms,
    };
    let output = execute_block(&overlay, &context, block.txs.as_slice())?;
    let batch = apply_updates(&overlay, &output.writes.tree_updates())?;
    Ok(Executed::new(block.header.parent_id, block.header.height, output.receipts, output.writes, batch))
}

/// Executes `block` and checks that the result is what its header claims.
pub fn execute_checked(store: &Store, layers: &[Arc<Executed>], block: &Block) -> anyhow::Result<Executed> {
    let executed = execute(store, layers, block)?;
    let receipts = receipts_root(&executed.receipts);
    if receipts != block.header.receipts_root || executed.batch.root != block.header.state_root {
        bail!(
            "executing block {} at height {} gives state root {} (receipts root {}), but its header says {} ({})",
            block.id().0,
            block.header.height,
            executed.batch.root,
            receipts,
            block.header.state_root,
            block.header.receipts_root
        );
    }
    Ok(executed)
}

/// The header rules a block must meet against its parent (docs/ARCHITECTURE.md "Blocks and consensus"), in one place:
/// [`Header::check_child_of`].
pub fn check_child(
    header: &Header,
    parent: &BlockRef,
    rules: &ChainRules,
) -> Result<(), tally_types::ChildError> {
    let link = tally_types::ParentLink { id: parent.id, height: parent.height, time_ms: parent.time_ms };
    header.check_child_of(&link, &rules.chain_id, &rules.validators_hash)
}

/// Checks the form and signature of every transaction of `block` that this node has not
/// verified before (the mempool remembers the (id, signature) pairs it checked).
pub fn check_signatures(mempool: &Mutex<Mempool>, block: &Block) -> anyhow::Result<()> {
    // Usually few: transactions that reached this node by gossip or HTTP were checked then.
    let unverified: Vec<SignedTransaction> = {
        let pool = mempool.lock().map_err(|_| anyhow!("mempool lock poisoned"))?;
        block.txs.iter().filter(|tx| !pool.is_verified(tx)).cloned().collect()
    };
    for (tx, result) in unverified.iter().zip(tally_types::tx::check_batch(&unverified)) {
        result.map_err(|error| anyhow!("transaction {}: {error}", tx.id()))?;
    }
    Ok(())
}

/// Verifies a proposed block fully (header rules, signatures, tx root, execution and roots).
pub fn verify(
    store: &Store,
    mempool: &Mutex<Mempool>,
    rules: &ChainRules,
    layers: &[Arc<Executed>],
    block: &Block,
    parent: &BlockRef,
) -> anyhow::Result<Executed> {
    let (validators_hash, epoch) = {
        let snapshot = store.snapshot()?;
        block_epoch(&Overlay::new(&snapshot, layers), block.header.height, rules)?
    };
    let link = tally_types::ParentLink { id: parent.id, height: parent.height, time_ms: parent.time_ms };
    block.header.check_child_of(&link, &rules.chain_id, &validators_hash)?;
    if block.header.view.epoch() != epoch {
        bail!(
            "block at height {} was proposed in view {} of epoch {}, but the height belongs to epoch {epoch}",
            block.header.height,
            block.header.view,
            block.header.view.epoch()
        );
    }
    let ids: Vec<TxId> = block.txs.iter().map(SignedTransaction::id).collect();
    if tx_root(&ids) != block.header.tx_root {
        bail!("tx root differs");
    }
    check_signatures(mempool, block)?;
    let executed = execute(store, layers, block)?;
    if receipts_root(&executed.receipts) != block.header.receipts_root {
        bail!("receipts root differs");
    }
    if executed.batch.root != block.header.state_root {
        bail!("state root differs");
    }
    Ok(executed)
}

/// Builds a block for `view` on `parent` from the mempool: per account the consecutive seqs
/// after its seq in the parent's state; transactions that cannot be included are left out.
/// The block holds at most what `pace` allows, and stops taking transactions when their
/// execution alone has used the pace's budget.
#[allow(clippy::too_many_arguments)]
pub fn build(
    store: &Store,
    mempool: &Mutex<Mempool>,
    rules: &ChainRules,
    pace: &BuildPace,
    layers: &[Arc<Executed>],
    view: View,
    parent: &BlockRef,
    time_ms: u64,
) -> anyhow::Result<(Block, Executed)> {
    let start = Instant::now();
    let deadline = pace.budget().map(|budget| start + budget);
    let height = parent.height.next();
    let snapshot = store.snapshot()?;
    let overlay = Overlay::new(&snapshot, layers);
    let (validators_hash, _) = block_epoch(&overlay, height, rules)?;
    let candidates = {
        let pool = mempool.lock().map_err(|_| anyhow!("mempool lock poisoned"))?;
        pool.select(
            pace.txs_cap(rules.block_txs_max),
            rules.block_bytes_max,
            |account| account_seq(&overlay, account),
            parent.height,
        )
    };
    let context = BlockContext { chain_id: rules.chain_id.clone(), height, time_ms };
    let mut executor = BlockExecutor::begin(&overlay, context)?;
    let mut txs = Vec::with_capacity(candidates.len());
    for (index, tx) in candidates.into_iter().enumerate() {
        // Reading the clock costs ~25 ns; every 64 transactions it is noise.
        if index % 64 == 63 && deadline.is_some_and(|deadline| Instant::now() >= deadline) {
            tracing::debug!(txs = txs.len(), "block full by build time");
            break;
        }
        match executor.execute_tx(&tx) {
            Ok(_) => txs.push((*tx).clone()),
            Err(TxError::NotIncludable(reason)) => tracing::debug!(tx = %tx.id(), %reason, "left out"),
            Err(TxError::State(error)) => return Err(error.into()),
        }
    }
    let output = executor.finish();
    let batch = apply_updates(&overlay, &output.writes.tree_updates())?;
    let ids: Vec<TxId> = txs.iter().map(SignedTransaction::id).collect();
    let header = Header {
        chain_id: rules.chain_id.clone(),
        height,
        view,
        parent_id: parent.id,
        time_ms,
        proposer: rules.me,
        tx_root: tx_root(&ids),
        receipts_root: receipts_root(&output.receipts),
        state_root: batch.root,
        validators_hash,
    };
    let block = Block {
        header,
        txs: BoundedVec::new(txs).map_err(|_| anyhow!("selection exceeded the block's transaction limit"))?,
    };
    let executed = Executed::new(parent.id, height, output.receipts, output.writes, batch);
    pace.record(start.elapsed(), block.txs.len());
    Ok((block, executed))
}

/// Checks every ledger invariant over the whole committed state (docs/ARCHITECTURE.md "Ledger": after every
/// commit in debug builds). Costs a full state scan.
pub fn check_state_invariants(store: &Store) -> anyhow::Result<()> {
    let snapshot = store.snapshot()?;
    let mut entries = Vec::new();
    for (key, value) in snapshot.state_with_prefix(&[], usize::MAX)? {
        let key = StateKey::from_bytes(&key).map_err(|error| anyhow!("undecodable state key: {error}"))?;
        let value =
            StateValue::from_bytes(&value).map_err(|error| anyhow!("undecodable state value: {error}"))?;
        entries.push((key, value));
    }
    tally_ledger::check_invariants(entries.iter().map(|(key, value)| (key, value)))
        .map_err(|violation| anyhow!("ledger invariant broken at height {}: {violation}", snapshot.height()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tally_ledger::tree::apply_updates;
    use tally_ledger::{
        GenesisAsset, GenesisBalance, GenesisLedger, GenesisMember, MemState, genesis_writes,
    };
    use tally_store::{ChainIdentity, state_writes, tree_writes};
    use tally_types::codec::BoundedBytes;
    use tally_types::tx::{AssetFlags, Transaction, Transfer};
    use tally_types::{Amount, AssetId, Hash, MemberId, Op, SecretKey};

    fn chain() -> ChainId {
        ChainId::new("tally-engine-test").expect("valid")
    }

    fn asset() -> AssetId {
        "ACME@acme".parse().expect("valid")
    }

    fn keys() -> Vec<SecretKey> {
        (0..4u8).map(|i| SecretKey::from_seed(&[10 + i; 32])).collect()
    }

    fn transfer(from: &SecretKey, to: &SecretKey, seq: u64, amount: u128) -> SignedTransaction {
        Transaction {
            chain_id: chain(),
            signer: from.public_key(),
            seq,
            valid_until_height: Height(100),
            ops: BoundedVec::new(vec![Op::Transfer(Transfer {
                asset: asset(),
                to: to.public_key(),
                amount: Amount(amount),
            })])
            .expect("one op"),
            memo: BoundedBytes::empty(),
        }
        .sign(from)
    }

    /// The pace buys what its budget affords at the measured cost, within its bounds, and
    /// follows a change of cost over a few blocks; off, it never limits.
    #[test]
    fn pace_sizes_blocks_by_measured_time() {
        let pace = BuildPace::new(Duration::from_millis(300));
        assert_eq!(pace.txs_cap(5_000), 5_000, "no sample yet: the genesis limit");
        // 5,000 transactions in 1.5 s: 300 µs each, so 300 ms buys 1,000.
        pace.record(Duration::from_millis(1_500), 5_000);
        assert_eq!(pace.nanos_per_tx(), 300_000);
        assert_eq!(pace.txs_cap(5_000), 1_000);
        // Small blocks say nothing about the cost; from PACE_SAMPLE_TXS_MIN on they count.
        pace.record(Duration::from_secs(10), PACE_SAMPLE_TXS_MIN - 1);
        assert_eq!(pace.txs_cap(5_000), 1_000);
        let counted = BuildPace::new(Duration::from_millis(300));
        counted.record(Duration::from_millis(PACE_SAMPLE_TXS_MIN as u64), PACE_SAMPLE_TXS_MIN);
        assert_eq!(counted.nanos_per_tx(), 1_000_000, "1 ms a transaction");
        // Cheaper blocks raise the cap a quarter of the way at a time.
        pace.record(Duration::from_millis(100), 1_000);
        assert_eq!(pace.nanos_per_tx(), 300_000 - 75_000 + 25_000);
        assert_eq!(pace.txs_cap(5_000), 1_200);
        for _ in 0..40 {
            pace.record(Duration::from_millis(100), 1_000);
        }
        // The average approaches 100 µs from above: 300 ms buys just under 3,000.
        assert!((2_990..=3_000).contains(&pace.txs_cap(5_000)), "{}", pace.txs_cap(5_000));
        // Never above the genesis limit, never below the floor.
        for _ in 0..40 {
            pace.record(Duration::from_micros(1_000), 1_000);
        }
        assert_eq!(pace.txs_cap(5_000), 5_000);
        for _ in 0..40 {
            pace.record(Duration::from_secs(60), 1_000);
        }
        assert_eq!(pace.txs_cap(5_000), PACE_TXS_MIN);
        assert_eq!(pace.txs_cap(100), 100, "a genesis limit below the floor wins");

        let off = BuildPace::off();
        off.record(Duration::from_secs(60), 1_000);
        assert_eq!(off.txs_cap(5_000), 5_000);
        assert_eq!(BuildPace::new(Duration::ZERO).txs_cap(5_000), 5_000, "0 ms means off");
    }

    /// Executing a chain of uncommitted blocks through the overlay gives the receipts and
    /// state roots of executing them one after another on committed state (in memory).
    fn genesis() -> GenesisLedger {
        GenesisLedger {
            members: vec![GenesisMember {
                id: MemberId::new("acme").expect("valid"),
                name: "Acme".into(),
                issuers: vec![SecretKey::from_seed(&[1; 32]).public_key()],
            }],
            assets: vec![GenesisAsset {
                asset: asset(),
                scale: 2,
                max_supply: None,
                flags: AssetFlags::default(),
            }],
            balances: keys()
                .iter()
                .map(|key| GenesisBalance {
                    account: key.public_key(),
                    asset: asset(),
                    amount: Amount(1_000),
                })
                .collect(),
            ..Default::default()
        }
    }

    /// A store in `dir` holding the genesis state.
    fn genesis_store(dir: &std::path::Path) -> Store {
        let identity = ChainIdentity { chain_id: chain(), genesis_hash: Hash([3; 32]) };
        let store = Store::open(&dir.join("node.redb"), &identity).expect("open");
        let writes = genesis_writes(&genesis()).expect("genesis");
        let batch =
            apply_updates(&store.snapshot().expect("snapshot"), &writes.tree_updates()).expect("tree");
        store.init_genesis_state(&state_writes(&writes), &tree_writes(&batch)).expect("genesis state");
        store
    }

    /// A leader's block holds what the pace's budget buys at the measured cost, within the
    /// genesis limit, and the leader stops taking transactions once their execution has used
    /// the budget (checking the clock every 64); without a budget the pool fills the block.
    #[test]
    fn build_follows_the_pace() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = genesis_store(dir.path());
        let keys = keys();
        let mut pool = Mempool::new(crate::mempool::MempoolConfig::default(), chain()).expect("pool");
        for seq in 1..=100u64 {
            for (index, key) in keys.iter().enumerate() {
                let tx = transfer(key, &keys[(index + 1) % keys.len()], seq, 1);
                let context = crate::mempool::AdmitContext { committed_seq: 0, height: Height(0) };
                pool.admit_signed(tx, context).expect("admitted");
            }
        }
        let mempool = Mutex::new(pool);
        let rules = ChainRules {
            chain_id: chain(),
            validators_hash: Hash([0; 32]),
            me: ValidatorIndex(0),
            block_txs_max: 5_000,
            block_bytes_max: 1 << 20,
        };
        let parent = BlockRef { id: BlockId(Hash([9; 32])), height: Height(0), view: View(0), time_ms: 0 };
        let build_with = |pace: &BuildPace| {
            let (block, _) =
                build(&store, &mempool, &rules, pace, &[], View(1), &parent, 1_000).expect("builds");
            block.txs.len()
        };
        assert_eq!(build_with(&BuildPace::off()), 400, "no budget: the whole pool");
        assert_eq!(
            build_with(&BuildPace::new(Duration::from_nanos(1))),
            63,
            "budget spent: stop at the first check"
        );
        // A measured cost caps the block: at 10 ms a transaction (10 s for 1,000), 3 s buys 300
        // and 1,000 s buys 100,000 (so the pool's 400).
        let tight = BuildPace::new(Duration::from_secs(3));
        tight.record(Duration::from_secs(10), 1_000);
        assert_eq!(build_with(&tight), 300);
        let roomy = BuildPace::new(Duration::from_secs(1_000));
        roomy.record(Duration::from_secs(10), 1_000);
        assert_eq!(build_with(&roomy), 400);
        let small = ChainRules { block_txs_max: 120, ..rules.clone() };
        let (block, _) =
            build(&store, &mempool, &small, &tight, &[], View(1), &parent, 1_000).expect("builds");
        assert_eq!(block.txs.len(), 120, "the genesis limit bounds the pace's cap");
        // Building is measured: a pace that has built has a cost, which a build of 400
        // transactions in well under 1,000 s pulls down.
        let before = roomy.nanos_per_tx();
        build_with(&roomy);
        assert!(roomy.nanos_per_tx() < before);
    }

    #[test]
    fn overlay_execution_matches_sequential_execution() {
        let genesis = genesis();
        let dir = tempfile::tempdir().expect("tempdir");
        let store = genesis_store(dir.path());
        let mut memory = MemState::from_genesis(&genesis).expect("genesis");

        let keys = keys();
        // Block 2 spends what block 1 paid in, so it only succeeds on block 1's state.
        let blocks = [
            vec![transfer(&keys[0], &keys[1], 1, 900), transfer(&keys[2], &keys[3], 1, 10)],
            vec![transfer(&keys[1], &keys[2], 1, 1_800), transfer(&keys[0], &keys[3], 2, 50)],
            vec![transfer(&keys[2], &keys[0], 2, 2_000)],
        ];
        let mut executed: Vec<Executed> = Vec::new();
        for (index, txs) in blocks.iter().enumerate() {
            let height = Height(index as u64 + 1);
            let context = BlockContext { chain_id: chain(), height, time_ms: 1_000 * height.0 };
            let expected = memory.execute_and_commit(&context, txs).expect("memory executes");
            let snapshot = store.snapshot().expect("snapshot");
            let overlay = Overlay::from_refs(&snapshot, executed.iter().collect());
            let output = execute_block(&overlay, &context, txs).expect("overlay executes");
            let batch = apply_updates(&overlay, &output.writes.tree_updates()).expect("tree");
            assert_eq!(output.receipts, expected.output.receipts, "receipts of block {height}");
            assert_eq!(batch.root, expected.state_root, "state root of block {height}");
            assert!(output.receipts.iter().all(|receipt| receipt.outcome == tally_types::TxOutcome::Success));
            drop(overlay);
            drop(snapshot);
            executed.push(Executed::new(
                BlockId(Hash([index as u8; 32])),
                height,
                output.receipts,
                output.writes,
                batch,
            ));
        }
    }

    /// A state holding only an epochs entry.
    struct Epochs(tally_ledger::state::EpochsState);

    impl StateRead for Epochs {
        fn get(&self, key: &StateKey) -> Result<Option<StateValue>, StateError> {
            Ok(matches!(key, StateKey::Epochs).then(|| StateValue::Epochs(self.0.clone())))
        }

        fn next_entry(
            &self,
            _range: &KeyRange,
            _after: Option<&StateKey>,
        ) -> Result<Option<(StateKey, StateValue)>, StateError> {
            Ok(None)
        }
    }

    fn epoch(number: u64, start: u64, keys: &[SecretKey]) -> tally_ledger::state::EpochConfig {
        tally_ledger::state::EpochConfig {
            number,
            start_height: Height(start),
            validators: BoundedVec::new(keys.iter().map(SecretKey::public_key).collect()).expect("few"),
            params: ConsensusParams::default(),
        }
    }

    #[test]
    fn a_height_belongs_to_the_latest_epoch_started_by_then_and_the_block_before_a_start_ends_its_epoch() {
        let keys = keys();
        let rotated: Vec<SecretKey> =
            keys[..3].iter().cloned().chain([SecretKey::from_seed(&[99; 32])]).collect();
        // Changes passed at 8 and 9: epochs start at 10 and 11 (a one-block epoch 1).
        let state = Epochs(tally_ledger::state::EpochsState {
            current: epoch(0, 1, &keys),
            pending: BoundedVec::new(vec![epoch(1, 10, &rotated), epoch(2, 11, &keys)]).expect("two"),
        });
        let number = |height| EpochRules::at(&state, Height(height)).expect("reads").expect("epochs").number;
        assert_eq!([number(1), number(9), number(10), number(11), number(50)], [0, 0, 1, 2, 2]);
        let at_ten = EpochRules::at(&state, Height(10)).expect("reads").expect("epochs");
        assert_eq!(
            at_ten.validators.hash(),
            ValidatorSet::new(rotated.iter().map(SecretKey::public_key).collect()).expect("set").hash()
        );
        let ends = |height| EpochRules::ends_epoch(&state, Height(height)).expect("reads");
        assert_eq!([ends(0), ends(8), ends(9), ends(10), ends(11)], [false, false, true, true, false]);
        // Without an epochs entry: one epoch for ever, the genesis set of the rules.
        let rules = ChainRules {
            chain_id: chain(),
            validators_hash: Hash([7; 32]),
            me: ValidatorIndex(0),
            block_txs_max: 10,
            block_bytes_max: 1_000,
        };
        let empty = MemState::default();
        assert_eq!(block_epoch(&empty, Height(5), &rules).expect("reads"), (Hash([7; 32]), 0));
        assert_eq!(block_epoch(&state, Height(10), &rules).expect("reads").1, 1);
    }
}
