//! The fixed facts of the simulated chain: its id, validators, genesis time and the block
//! every chain starts from. Blocks themselves are built, verified and executed by the real
//! engine ([`tally_node::engine::executor`]) on the real ledger.

use tally_consensus::BlockRef;
use tally_types::{Block, BlockId, ChainId, ValidatorSet};

/// The simulated chain id.
pub const CHAIN_ID: &str = "tally-sim";
/// Genesis time: 2023-11-14T22:13:20Z, in ms since the Unix epoch. Simulated clocks count
/// from here.
pub const GENESIS_TIME_MS: u64 = 1_700_000_000_000;
/// A validator refuses a block stamped more than this far ahead of its own clock (docs/ARCHITECTURE.md "Protocol basics").
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
        // The store names block 1's parent by the chain identity's genesis hash.
        let genesis_id = BlockId(crate::host::identity().genesis_hash);
        ChainSpec { chain_id, validators, genesis: BlockRef::genesis(genesis_id, GENESIS_TIME_MS) }
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
