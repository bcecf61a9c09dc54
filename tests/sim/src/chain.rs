//! What a simulated host does with blocks: build them as a leader and check them as a
//! validator. The blocks are real [`tally_types::Block`]s with consistent headers; they carry
//! no transactions, and their "execution" is a state root derived from the parent, so that a
//! block that claims a wrong parent or height fails verification as a real one would.

use tally_consensus::BlockRef;
use tally_types::block::{receipts_root, tx_root};
use tally_types::{
    Block, BlockId, BoundedVec, ChainId, Domain, Hash, Header, Height, ValidatorIndex, ValidatorSet, View,
};

/// The simulated chain id.
pub const CHAIN_ID: &str = "tally-sim";
/// Genesis time: 2023-11-14T22:13:20Z, in ms since the Unix epoch. Simulated clocks count
/// from here.
pub const GENESIS_TIME_MS: u64 = 1_700_000_000_000;
/// A validator refuses a block stamped more than this far ahead of its own clock (DESIGN.md §3).
pub const CLOCK_AHEAD_MAX_MS: u64 = 2_000;

/// The fixed facts of the simulated chain.
#[derive(Clone, Debug)]
pub struct ChainSpec {
    pub chain_id: ChainId,
    pub validators: ValidatorSet,
    pub genesis: BlockRef,
}

impl ChainSpec {
    /// The chain for `validators`.
    pub fn new(validators: ValidatorSet) -> Self {
        let chain_id = ChainId::new(CHAIN_ID).expect("the simulator's chain id is valid");
        let genesis_id = BlockId(Domain::Genesis.hash(&[CHAIN_ID.as_bytes(), validators.hash().as_bytes()]));
        ChainSpec { chain_id, validators, genesis: BlockRef::genesis(genesis_id, GENESIS_TIME_MS) }
    }

    /// The state root "execution" yields for a block at `height` on `parent`: a stand-in for
    /// the ledger that still makes the root depend on the block's place in the chain.
    pub fn state_root(parent: &BlockId, height: Height) -> Hash {
        Domain::StateValue.hash(&[b"tally-sim state", parent.0.as_bytes(), &height.0.to_le_bytes()])
    }

    /// The block `proposer` builds for `view` on `parent` with its clock reading `now_ms`.
    pub fn build(&self, view: View, parent: &BlockRef, proposer: ValidatorIndex, now_ms: u64) -> Block {
        let height = parent.height.next();
        Block {
            header: Header {
                chain_id: self.chain_id.clone(),
                height,
                view,
                parent_id: parent.id,
                time_ms: now_ms.max(parent.time_ms + 1),
                proposer,
                tx_root: tx_root(&[]),
                receipts_root: receipts_root(&[]),
                state_root: Self::state_root(&parent.id, height),
                validators_hash: self.validators.hash(),
            },
            txs: BoundedVec::empty(),
        }
    }

    /// Checks `block`, proposed in `view` on `parent`, as a validator whose clock reads
    /// `now_ms`: chain, parent link, height, view and proposer, time (after the parent's and
    /// at most [`CLOCK_AHEAD_MAX_MS`] ahead), roots and validator-set hash.
    pub fn verify(&self, block: &Block, view: View, parent: &BlockRef, now_ms: u64) -> Result<(), String> {
        let header = &block.header;
        if header.chain_id != self.chain_id {
            return Err(format!("chain id {}", header.chain_id));
        }
        if header.parent_id != parent.id {
            return Err(format!("parent {} but the proposal extends {}", header.parent_id, parent.id));
        }
        if header.height != parent.height.next() {
            return Err(format!("height {} on a parent at {}", header.height, parent.height));
        }
        if header.view != view || view <= parent.view {
            return Err(format!(
                "view {} proposed in view {view} on a parent of view {}",
                header.view, parent.view
            ));
        }
        if header.proposer != self.validators.leader(view) {
            return Err(format!("proposer {} is not the leader of view {view}", header.proposer));
        }
        if header.time_ms <= parent.time_ms {
            return Err(format!("time {} not after the parent's {}", header.time_ms, parent.time_ms));
        }
        if header.time_ms > now_ms.saturating_add(CLOCK_AHEAD_MAX_MS) {
            return Err(format!(
                "time {} is more than {CLOCK_AHEAD_MAX_MS} ms ahead of {now_ms}",
                header.time_ms
            ));
        }
        let tx_ids: Vec<_> = block.txs.iter().map(|tx| tx.id()).collect();
        if header.tx_root != tx_root(&tx_ids) || !block.txs.is_empty() {
            return Err("transactions do not match the tx root, or are present in a simulated block".into());
        }
        if header.receipts_root != receipts_root(&[]) {
            return Err("receipts root".into());
        }
        if header.state_root != Self::state_root(&parent.id, header.height) {
            return Err("state root is not the result of executing on the parent".into());
        }
        if header.validators_hash != self.validators.hash() {
            return Err("validator-set hash".into());
        }
        Ok(())
    }

    /// Checks that `child` extends `parent` in a committed chain (link, height, time).
    pub fn check_link(parent: &BlockRef, child: &Block) -> Result<(), String> {
        let header = &child.header;
        if header.parent_id != parent.id || header.height != parent.height.next() {
            return Err(format!(
                "block at height {} does not extend {} at {}",
                header.height, parent.id, parent.height
            ));
        }
        if header.time_ms <= parent.time_ms || header.view <= parent.view {
            return Err(format!(
                "block at height {} is not after its parent in time and view",
                header.height
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheme::{Keyring, SchemeKind};

    fn spec() -> ChainSpec {
        let keyring = Keyring::new(SchemeKind::Fast, ChainId::new(CHAIN_ID).expect("valid"), 4);
        ChainSpec::new(keyring.validators().clone())
    }

    #[test]
    fn built_blocks_verify_and_tampering_is_refused() {
        let spec = spec();
        let view = View(5);
        let leader = spec.validators.leader(view);
        let block = spec.build(view, &spec.genesis, leader, GENESIS_TIME_MS + 10);
        assert_eq!(spec.verify(&block, view, &spec.genesis, GENESIS_TIME_MS + 10), Ok(()));
        assert!(ChainSpec::check_link(&spec.genesis, &block).is_ok());
        assert!(spec.verify(&block, View(6), &spec.genesis, GENESIS_TIME_MS + 10).is_err());
        // Too far in the future for a validator whose clock lags by 2.5 s.
        assert!(spec.verify(&block, view, &spec.genesis, GENESIS_TIME_MS - 2_500).is_err());
        let mut wrong_height = block.clone();
        wrong_height.header.height = Height(2);
        assert!(spec.verify(&wrong_height, view, &spec.genesis, GENESIS_TIME_MS + 10).is_err());
        let mut wrong_proposer = block.clone();
        wrong_proposer.header.proposer = ValidatorIndex((leader.0 + 1) % 4);
        assert!(spec.verify(&wrong_proposer, view, &spec.genesis, GENESIS_TIME_MS + 10).is_err());
        let mut stale_time = block;
        stale_time.header.time_ms = GENESIS_TIME_MS;
        assert!(spec.verify(&stale_time, view, &spec.genesis, GENESIS_TIME_MS + 10).is_err());
    }
}
